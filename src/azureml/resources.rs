//! Typed calls for the resources poolbroker touches. ARM ids come in as strings (the domain
//! validates them); every URL is built here.

use http::Method;
use serde_json::Value;
use url::Url;

use super::client::ArmClient;
use super::error::ArmError;
use super::lro::LroOutcome;

const WORKSPACE_ID: &[Option<&str>] = &[
    Some("subscriptions"),
    None,
    Some("resourceGroups"),
    None,
    Some("providers"),
    Some("Microsoft.MachineLearningServices"),
    Some("workspaces"),
    None,
];
const SYNAPSE_POOL_ID: &[Option<&str>] = &[
    Some("subscriptions"),
    None,
    Some("resourceGroups"),
    None,
    Some("providers"),
    Some("Microsoft.Synapse"),
    Some("workspaces"),
    None,
    Some("bigDataPools"),
    None,
];

/// Which jobs `list_jobs` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobListFilter {
    /// Only jobs whose `properties.computeId` is this ARM id (compared case-insensitively).
    pub compute_id: Option<String>,
    /// Only jobs not archived and not in a terminal status (Completed, Failed, Canceled).
    pub active_only: bool,
}

const TERMINAL_JOB_STATUSES: &[&str] = &["completed", "failed", "canceled"];

impl JobListFilter {
    fn matches(&self, job: &Value) -> bool {
        let properties = job.get("properties");
        if let Some(wanted) = &self.compute_id {
            let compute = properties
                .and_then(|p| p.get("computeId"))
                .and_then(Value::as_str);
            if !compute.is_some_and(|c| c.eq_ignore_ascii_case(wanted)) {
                return false;
            }
        }
        if self.active_only {
            let status = properties
                .and_then(|p| p.get("status"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            if TERMINAL_JOB_STATUSES.contains(&status.as_str()) {
                return false;
            }
        }
        true
    }
}

/// Splits an ARM id into path segments, refusing anything that would change the URL's meaning.
fn id_segments<'a>(what: &'static str, id: &'a str) -> Result<Vec<&'a str>, ArmError> {
    let invalid = |problem| ArmError::InvalidArgument {
        what,
        problem,
        value: id.to_owned(),
    };
    let rest = id
        .strip_prefix("/subscriptions/")
        .ok_or_else(|| invalid("must start with /subscriptions/"))?;
    let segments: Vec<&str> = std::iter::once("subscriptions")
        .chain(rest.trim_end_matches('/').split('/'))
        .collect();
    for segment in &segments {
        check_segment(segment).map_err(invalid)?;
    }
    Ok(segments)
}

fn check_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("has an empty path segment");
    }
    if segment == "." || segment == ".." {
        return Err("has a '.' or '..' path segment");
    }
    if segment
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '%' | '\\'))
    {
        return Err("contains whitespace, control characters or one of ? # % \\");
    }
    Ok(())
}

/// Matches id segments against a pattern where `None` stands for a name.
fn check_shape(
    what: &'static str,
    id: &str,
    segments: &[&str],
    pattern: &[Option<&str>],
) -> Result<(), ArmError> {
    let shape_ok = segments.len() == pattern.len()
        && segments
            .iter()
            .zip(pattern)
            .all(|(seg, pat)| pat.is_none_or(|p| seg.eq_ignore_ascii_case(p)));
    if shape_ok {
        Ok(())
    } else {
        Err(ArmError::InvalidArgument {
            what,
            problem: "is not an ARM id of the expected resource type",
            value: id.to_owned(),
        })
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), ArmError> {
    let invalid = |problem| ArmError::InvalidArgument {
        what,
        problem,
        value: name.to_owned(),
    };
    if name.contains('/') {
        return Err(invalid("must not contain '/'"));
    }
    check_segment(name).map_err(invalid)
}

impl ArmClient {
    /// `{endpoint}{id}/{children…}?api-version=…`
    fn url_for(&self, segments: &[&str], children: &[&str], api_version: &str) -> Url {
        let mut url = self.options().endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments).extend(children);
        }
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        url
    }

    fn workspace_url(&self, ws_id: &str, children: &[&str]) -> Result<Url, ArmError> {
        let segments = id_segments("workspace id", ws_id)?;
        check_shape("workspace id", ws_id, &segments, WORKSPACE_ID)?;
        Ok(self.url_for(&segments, children, &self.options().api_version))
    }

    fn compute_url(&self, ws_id: &str, name: &str) -> Result<Url, ArmError> {
        check_name("compute name", name)?;
        self.workspace_url(ws_id, &["computes", name])
    }

    fn job_url(&self, ws_id: &str, name: &str, action: &[&str]) -> Result<Url, ArmError> {
        check_name("job name", name)?;
        let children: Vec<&str> = ["jobs", name]
            .into_iter()
            .chain(action.iter().copied())
            .collect();
        self.workspace_url(ws_id, &children)
    }

    /// The compute's resource URL (with api-version), e.g. to resume an operation on it later.
    pub fn compute_resource_url(&self, ws_id: &str, name: &str) -> Result<String, ArmError> {
        Ok(self.compute_url(ws_id, name)?.to_string())
    }

    pub async fn get_workspace(&self, ws_id: &str) -> Result<Value, ArmError> {
        let url = self.workspace_url(ws_id, &[])?;
        Ok(self.get(&url).await?.body)
    }

    /// `None` when the compute does not exist (404).
    pub async fn get_compute(&self, ws_id: &str, name: &str) -> Result<Option<Value>, ArmError> {
        let url = self.compute_url(ws_id, name)?;
        not_found_as_none(self.get(&url).await.map(|r| r.body))
    }

    /// Attach or update (full PUT; ARM has no PATCH for identity or tags).
    pub async fn put_compute(
        &self,
        ws_id: &str,
        name: &str,
        body: &Value,
    ) -> Result<LroOutcome, ArmError> {
        let url = self.compute_url(ws_id, name)?;
        self.begin(Method::PUT, &url, Some(body)).await
    }

    /// Always `underlyingResourceAction=Detach`: poolbroker never deletes a Synapse pool.
    /// `Ok(None)`: ARM answered 204 at once, there was nothing to detach (already gone, e.g.
    /// detached by a concurrent run); otherwise the operation this request started.
    pub async fn detach_compute(
        &self,
        ws_id: &str,
        name: &str,
    ) -> Result<Option<LroOutcome>, ArmError> {
        let mut url = self.compute_url(ws_id, name)?;
        url.query_pairs_mut()
            .append_pair("underlyingResourceAction", "Detach");
        let ctx = self.call_context();
        let initial = self.send(&ctx, Method::DELETE, &url, None, None).await?;
        if initial.status == 204 {
            return Ok(None);
        }
        self.follow(
            &ctx,
            &Method::DELETE,
            &url,
            initial,
            self.options().lro.budget,
        )
        .await
        .map(Some)
    }

    pub async fn list_computes(&self, ws_id: &str) -> Result<Vec<Value>, ArmError> {
        let url = self.workspace_url(ws_id, &["computes"])?;
        self.list(&url).await
    }

    /// The Synapse big data pool, `None` when it does not exist (404).
    pub async fn get_synapse_pool(&self, pool_id: &str) -> Result<Option<Value>, ArmError> {
        let what = "synapse pool id";
        let segments = id_segments(what, pool_id)?;
        check_shape(what, pool_id, &segments, SYNAPSE_POOL_ID)?;
        let url = self.url_for(&segments, &[], &self.options().synapse_api_version);
        not_found_as_none(self.get(&url).await.map(|r| r.body))
    }

    /// Creates or updates a job (synchronous in ARM). Returns the resource and whether it was
    /// created (201) rather than updated (200).
    pub async fn put_job(
        &self,
        ws_id: &str,
        job_name: &str,
        body: &Value,
    ) -> Result<(Value, bool), ArmError> {
        let url = self.job_url(ws_id, job_name, &[])?;
        let response = self.put(&url, body).await?;
        Ok((response.body, response.status == 201))
    }

    pub async fn get_job(&self, ws_id: &str, name: &str) -> Result<Option<Value>, ArmError> {
        let url = self.job_url(ws_id, name, &[])?;
        not_found_as_none(self.get(&url).await.map(|r| r.body))
    }

    /// Jobs of the workspace, filtered client-side by compute and status (ARM cannot filter on
    /// either); `active_only` also asks ARM to leave archived jobs out.
    pub async fn list_jobs(
        &self,
        ws_id: &str,
        filter: &JobListFilter,
    ) -> Result<Vec<Value>, ArmError> {
        let mut url = self.workspace_url(ws_id, &["jobs"])?;
        let view = if filter.active_only {
            "ActiveOnly"
        } else {
            "All"
        };
        url.query_pairs_mut().append_pair("listViewType", view);
        let jobs = self.list(&url).await?;
        Ok(jobs.into_iter().filter(|job| filter.matches(job)).collect())
    }

    pub async fn cancel_job(&self, ws_id: &str, name: &str) -> Result<LroOutcome, ArmError> {
        let url = self.job_url(ws_id, name, &["cancel"])?;
        self.begin(Method::POST, &url, None).await
    }
}

fn not_found_as_none(result: Result<Value, ArmError>) -> Result<Option<Value>, ArmError> {
    match result {
        Ok(body) => Ok(Some(body)),
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

    const WS: &str = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1";

    fn client(endpoint: &str) -> ArmClient {
        let options = ArmClientOptions {
            endpoint: Url::parse(endpoint).unwrap(),
            ..Default::default()
        };
        ArmClient::new(options, Arc::new(StaticToken::new("t"))).unwrap()
    }

    #[test]
    fn builds_compute_urls_under_the_endpoint() {
        let c = client("https://management.azure.com");
        assert_eq!(
            c.compute_url(WS, "pool-a").unwrap().as_str(),
            format!("https://management.azure.com{WS}/computes/pool-a?api-version=2025-12-01")
        );
        // An emulator mounted under a path prefix keeps the prefix.
        let c = client("http://127.0.0.1:9/arm/");
        assert_eq!(
            c.compute_url(WS, "pool-a").unwrap().as_str(),
            format!("http://127.0.0.1:9/arm{WS}/computes/pool-a?api-version=2025-12-01")
        );
    }

    #[test]
    fn synapse_urls_use_the_synapse_api_version() {
        let c = client("https://management.azure.com");
        let pool = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Synapse/workspaces/syn/bigDataPools/p1";
        let segments = id_segments("x", pool).unwrap();
        check_shape("x", pool, &segments, SYNAPSE_POOL_ID).unwrap();
        assert_eq!(
            c.url_for(&segments, &[], "2021-06-01").as_str(),
            format!("https://management.azure.com{pool}?api-version=2021-06-01")
        );
        assert!(check_shape("x", WS, &id_segments("x", WS).unwrap(), SYNAPSE_POOL_ID).is_err());
    }

    #[test]
    fn refuses_ids_and_names_that_would_escape_the_path() {
        let c = client("https://management.azure.com");
        for bad in [
            "subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/..",
            "/subscriptions/s//resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w?x=1",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c",
        ] {
            assert!(
                matches!(
                    c.workspace_url(bad, &[]),
                    Err(ArmError::InvalidArgument { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["a/b", "..", "", "x y", "a%2f"] {
            assert!(c.compute_url(WS, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_filter() {
        let job = |compute: &str, status: &str| json!({"properties": {"computeId": compute, "status": status}});
        let f = JobListFilter {
            compute_id: Some("/SUBSCRIPTIONS/s/x/computes/c1".into()),
            active_only: true,
        };
        assert!(f.matches(&job("/subscriptions/s/x/computes/c1", "Running")));
        assert!(!f.matches(&job("/subscriptions/s/x/computes/c1", "Completed")));
        assert!(!f.matches(&job("/subscriptions/s/x/computes/c2", "Running")));
        assert!(JobListFilter::default().matches(&job("/any", "Failed")));
    }
}
