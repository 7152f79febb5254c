//! Typed calls for the resources poolbroker touches. Ids arrive parsed (`crate::domain` holds the
//! one ARM id grammar), so every URL built here is made of checked segments; bodies go out and
//! come back as the domain's resource models.

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::client::ArmClient;
use super::error::ArmError;
use super::lro::LroOutcome;
use crate::domain::spark::JobName;
use crate::domain::{
    ComputeName, ComputeResource, JobResource, OperationStatus, SynapsePoolId, TrackedResource,
    WorkspaceId,
};

/// Which jobs `list_jobs` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobListFilter {
    /// Only jobs that run on this compute of the listed workspace (`properties.computeId`,
    /// compared case-insensitively).
    pub compute: Option<ComputeName>,
    /// Only jobs not archived and not in a terminal status (Completed, Failed, Canceled).
    pub active_only: bool,
}

const TERMINAL_JOB_STATUSES: &[&str] = &["completed", "failed", "canceled"];

impl JobListFilter {
    fn matches(&self, workspace: &WorkspaceId, job: &JobResource) -> bool {
        if let Some(wanted) = &self.compute {
            let wanted = workspace.compute_id(wanted);
            if !job
                .compute_id()
                .is_some_and(|c| c.eq_ignore_ascii_case(&wanted))
            {
                return false;
            }
        }
        if self.active_only {
            let status = job.status().unwrap_or_default().to_ascii_lowercase();
            if TERMINAL_JOB_STATUSES.contains(&status.as_str()) {
                return false;
            }
        }
        true
    }
}

/// The URL path segments of a parsed workspace id.
fn workspace_segments(ws: &WorkspaceId) -> [&str; 8] {
    [
        "subscriptions",
        ws.subscription_id(),
        "resourceGroups",
        ws.resource_group(),
        "providers",
        "Microsoft.MachineLearningServices",
        "workspaces",
        ws.name(),
    ]
}

/// A JSON body as the model the caller expects; a shape ARM should never send is an
/// `InvalidResponse`, with serde's reason as its source.
pub(crate) fn decode<T: DeserializeOwned>(what: &'static str, body: Value) -> Result<T, ArmError> {
    serde_json::from_value(body).map_err(|source| ArmError::Decode { what, source })
}

fn decode_all<T: DeserializeOwned>(
    what: &'static str,
    items: Vec<Value>,
) -> Result<Vec<T>, ArmError> {
    items.into_iter().map(|item| decode(what, item)).collect()
}

fn encode<T: serde::Serialize>(body: &T) -> Result<Value, ArmError> {
    serde_json::to_value(body).map_err(|e| ArmError::InvalidArgument {
        what: "request body",
        problem: "cannot be serialised",
        value: e.to_string(),
    })
}

impl ArmClient {
    /// `{endpoint}{segments…}?api-version=…`
    fn url_for(&self, segments: &[&str], api_version: &str) -> Url {
        let mut url = self.options().endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        url
    }

    fn workspace_url(&self, ws: &WorkspaceId, children: &[&str]) -> Url {
        let segments: Vec<&str> = workspace_segments(ws)
            .into_iter()
            .chain(children.iter().copied())
            .collect();
        self.url_for(&segments, &self.options().api_version)
    }

    fn compute_url(&self, ws: &WorkspaceId, name: &ComputeName) -> Url {
        self.workspace_url(ws, &["computes", name.as_str()])
    }

    fn job_url(&self, ws: &WorkspaceId, name: &JobName, action: &[&str]) -> Url {
        let children: Vec<&str> = ["jobs", name.as_str()]
            .into_iter()
            .chain(action.iter().copied())
            .collect();
        self.workspace_url(ws, &children)
    }

    /// The compute's resource URL (with api-version), e.g. to resume an operation on it later.
    pub fn compute_resource_url(&self, ws: &WorkspaceId, name: &ComputeName) -> String {
        self.compute_url(ws, name).to_string()
    }

    pub async fn get_workspace(&self, ws: &WorkspaceId) -> Result<TrackedResource, ArmError> {
        let url = self.workspace_url(ws, &[]);
        decode("workspace", self.get(&url).await?.body)
    }

    /// `None` when the compute does not exist (404).
    pub async fn get_compute(
        &self,
        ws: &WorkspaceId,
        name: &ComputeName,
    ) -> Result<Option<ComputeResource>, ArmError> {
        let url = self.compute_url(ws, name);
        not_found_as_none("compute", self.get(&url).await.map(|r| r.body))
    }

    /// Attach or update (full PUT; ARM has no PATCH for identity or tags).
    pub async fn put_compute(
        &self,
        ws: &WorkspaceId,
        name: &ComputeName,
        body: &ComputeResource,
    ) -> Result<LroOutcome<ComputeResource>, ArmError> {
        let url = self.compute_url(ws, name);
        let outcome = self.begin(Method::PUT, &url, Some(&encode(body)?)).await?;
        outcome.decode("compute")
    }

    /// Always `underlyingResourceAction=Detach`: poolbroker never deletes a Synapse pool.
    /// `Ok(None)`: ARM answered 204 at once, there was nothing to detach (already gone, e.g.
    /// detached by a concurrent run); otherwise the operation this request started.
    pub async fn detach_compute(
        &self,
        ws: &WorkspaceId,
        name: &ComputeName,
    ) -> Result<Option<LroOutcome<ComputeResource>>, ArmError> {
        let mut url = self.compute_url(ws, name);
        url.query_pairs_mut()
            .append_pair("underlyingResourceAction", "Detach");
        let ctx = self.call_context();
        let initial = self.send(&ctx, Method::DELETE, &url, None, None).await?;
        if initial.status == 204 {
            return Ok(None);
        }
        let outcome = self
            .follow(
                &ctx,
                &Method::DELETE,
                &url,
                initial,
                self.options().lro.budget,
            )
            .await?;
        outcome.decode("compute").map(Some)
    }

    pub async fn list_computes(&self, ws: &WorkspaceId) -> Result<Vec<ComputeResource>, ArmError> {
        let url = self.workspace_url(ws, &["computes"]);
        decode_all("compute", self.list(&url).await?)
    }

    /// The Synapse big data pool, `None` when it does not exist (404).
    pub async fn get_synapse_pool(
        &self,
        pool: &SynapsePoolId,
    ) -> Result<Option<TrackedResource>, ArmError> {
        let segments = [
            "subscriptions",
            pool.subscription_id(),
            "resourceGroups",
            pool.resource_group(),
            "providers",
            "Microsoft.Synapse",
            "workspaces",
            pool.synapse_workspace(),
            "bigDataPools",
            pool.pool_name(),
        ];
        let url = self.url_for(&segments, &self.options().synapse_api_version);
        not_found_as_none("Synapse pool", self.get(&url).await.map(|r| r.body))
    }

    /// Creates or updates a job (synchronous in ARM). Returns the resource and whether it was
    /// created (201) rather than updated (200).
    pub async fn put_job(
        &self,
        ws: &WorkspaceId,
        name: &JobName,
        body: &JobResource,
    ) -> Result<(JobResource, bool), ArmError> {
        let url = self.job_url(ws, name, &[]);
        let response = self.put(&url, &encode(body)?).await?;
        Ok((decode("job", response.body)?, response.status == 201))
    }

    pub async fn get_job(
        &self,
        ws: &WorkspaceId,
        name: &JobName,
    ) -> Result<Option<JobResource>, ArmError> {
        let url = self.job_url(ws, name, &[]);
        not_found_as_none("job", self.get(&url).await.map(|r| r.body))
    }

    /// Jobs of the workspace, filtered client-side by compute and status (ARM cannot filter on
    /// either); `active_only` also asks ARM to leave archived jobs out.
    pub async fn list_jobs(
        &self,
        ws: &WorkspaceId,
        filter: &JobListFilter,
    ) -> Result<Vec<JobResource>, ArmError> {
        let mut url = self.workspace_url(ws, &["jobs"]);
        let view = if filter.active_only {
            "ActiveOnly"
        } else {
            "All"
        };
        url.query_pairs_mut().append_pair("listViewType", view);
        let jobs: Vec<JobResource> = decode_all("job", self.list(&url).await?)?;
        Ok(jobs
            .into_iter()
            .filter(|job| filter.matches(ws, job))
            .collect())
    }

    /// Requests cancellation; `Done` carries the operation's final status body, when ARM sends one.
    pub async fn cancel_job(
        &self,
        ws: &WorkspaceId,
        name: &JobName,
    ) -> Result<LroOutcome<OperationStatus>, ArmError> {
        let url = self.job_url(ws, name, &["cancel"]);
        self.begin(Method::POST, &url, None)
            .await?
            .decode("operation status")
    }
}

fn not_found_as_none<T: DeserializeOwned>(
    what: &'static str,
    result: Result<Value, ArmError>,
) -> Result<Option<T>, ArmError> {
    match result {
        Ok(body) => decode(what, body).map(Some),
        Err(ArmError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azureml::{ArmClientOptions, StaticToken};
    use serde_json::json;
    use std::sync::Arc;

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1";

    fn client(endpoint: &str) -> ArmClient {
        let options = ArmClientOptions {
            endpoint: Url::parse(endpoint).unwrap(),
            ..Default::default()
        };
        ArmClient::new(options, Arc::new(StaticToken::new("t"))).unwrap()
    }

    fn ws() -> WorkspaceId {
        WorkspaceId::parse(WS).unwrap()
    }

    fn pool_a() -> ComputeName {
        ComputeName::parse("pool-a").unwrap()
    }

    #[test]
    fn builds_compute_urls_under_the_endpoint() {
        let c = client("https://management.azure.com");
        assert_eq!(
            c.compute_url(&ws(), &pool_a()).as_str(),
            format!("https://management.azure.com{WS}/computes/pool-a?api-version=2025-12-01")
        );
        // An emulator mounted under a path prefix keeps the prefix.
        let c = client("http://127.0.0.1:9/arm/");
        assert_eq!(
            c.compute_url(&ws(), &pool_a()).as_str(),
            format!("http://127.0.0.1:9/arm{WS}/computes/pool-a?api-version=2025-12-01")
        );
    }

    #[test]
    fn job_urls_carry_the_action() {
        let c = client("https://management.azure.com");
        let job = JobName::parse("job_1").unwrap();
        assert_eq!(
            c.job_url(&ws(), &job, &["cancel"]).as_str(),
            format!("https://management.azure.com{WS}/jobs/job_1/cancel?api-version=2025-12-01")
        );
    }

    /// URLs are built from parsed ids only; these are the inputs that could change a URL's
    /// meaning, and none of them parses.
    #[test]
    fn ids_that_would_escape_the_path_do_not_parse() {
        for bad in [
            "subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/wsx",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/../providers/Microsoft.MachineLearningServices/workspaces/wsx",
            "/subscriptions/00000000-0000-0000-0000-000000000001//resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/wsx",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w?x=1",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/wsx/computes/c",
        ] {
            assert!(WorkspaceId::parse(bad).is_err(), "{bad}");
        }
        for bad in ["a/b", "..", "", "x y", "a%2f", "a?b"] {
            assert!(ComputeName::parse(bad).is_err(), "{bad}");
            assert!(JobName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_filter() {
        let job = |compute: &str, status: &str| -> JobResource {
            serde_json::from_value(json!({"properties": {"computeId": compute, "status": status}}))
                .unwrap()
        };
        let on_pool = format!("{}/computes/pool-a", WS.to_uppercase());
        let f = JobListFilter {
            compute: Some(pool_a()),
            active_only: true,
        };
        assert!(f.matches(&ws(), &job(&on_pool, "Running")));
        assert!(!f.matches(&ws(), &job(&on_pool, "Completed")));
        assert!(!f.matches(&ws(), &job(&format!("{WS}/computes/pool-b"), "Running")));
        assert!(JobListFilter::default().matches(&ws(), &job("/any", "Failed")));
    }
}
