//! One authenticated, retried, traced request at a time against a workspace's data plane, and
//! the role calls built on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

use super::error::SynapseError;
use super::models::{
    RoleAssignment, RoleAssignmentFilter, RoleAssignmentPage, RoleAssignmentRequest, RoleDefinition,
};
use super::options::{SYNAPSE_API_VERSION, SYNAPSE_SCOPE, SynapseOptions};
use crate::azureml::TokenSource;
use crate::retry::{
    RetryDecision, RetryPolicy, is_retryable_status, is_retryable_transport, random_jitter,
    server_hint, wait_to_retry,
};
use crate::telemetry;

const CONTINUATION: &str = "x-ms-continuation";
/// Pages followed by one list call before we assume a continuation loop.
const MAX_PAGES: usize = 1000;

/// What a create did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// 409 "role assignment already exists": someone granted the same role meanwhile.
    AlreadyExisted,
}

/// Cheap to clone; clones share the HTTP client and credential.
#[derive(Clone)]
pub struct SynapseClient {
    http: reqwest::Client,
    options: Arc<SynapseOptions>,
    credential: Arc<dyn TokenSource>,
    policy: RetryPolicy,
    /// (workspace, role name) → role id. Built-in role ids never change, so one lookup per
    /// workspace and role serves the process's lifetime.
    role_ids: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl std::fmt::Debug for SynapseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseClient")
            .field("endpoint_override", &self.options.endpoint_override)
            .finish_non_exhaustive()
    }
}

struct Response {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl SynapseClient {
    pub fn new(
        options: SynapseOptions,
        credential: Arc<dyn TokenSource>,
    ) -> Result<Self, crate::http::HttpClientError> {
        Ok(Self {
            http: crate::http::shared_client()?,
            policy: RetryPolicy::new(options.retry),
            options: Arc::new(options),
            credential,
            role_ids: Arc::default(),
        })
    }

    /// `https://{workspace}.dev.azuresynapse.net/`, or the local override.
    pub fn endpoint(&self, workspace: &str) -> Result<Url, SynapseError> {
        if let Some(url) = &self.options.endpoint_override {
            return Ok(url.clone());
        }
        // The typed pool id already allows only letters, digits and '-' here; checked again
        // because a host name is built from it.
        if workspace.is_empty()
            || !workspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(SynapseError::BadWorkspace(workspace.to_owned()));
        }
        Url::parse(&format!(
            "https://{}.dev.azuresynapse.net/",
            workspace.to_ascii_lowercase()
        ))
        .map_err(|_| SynapseError::BadWorkspace(workspace.to_owned()))
    }

    fn url(
        &self,
        workspace: &str,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Url, SynapseError> {
        let mut url = self.endpoint(workspace)?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("api-version", SYNAPSE_API_VERSION);
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    pub async fn role_definitions(
        &self,
        workspace: &str,
    ) -> Result<Vec<RoleDefinition>, SynapseError> {
        let url = self.url(workspace, &["roleDefinitions"], &[])?;
        let response = self.send(workspace, Method::GET, &url, None, None).await?;
        parse(workspace, response.body, "role definitions")
    }

    /// The id of the role called `name` (ids are looked up rather than hard-coded, once per
    /// workspace and role).
    pub async fn role_id(&self, workspace: &str, name: &str) -> Result<String, SynapseError> {
        let key = (workspace.to_ascii_lowercase(), name.to_ascii_lowercase());
        if let Some(id) = self.cached_role(&key) {
            return Ok(id);
        }
        let definitions = self.role_definitions(workspace).await?;
        let mut cache = self.role_ids.lock().unwrap_or_else(|e| e.into_inner());
        for r in &definitions {
            cache.insert((key.0.clone(), r.name.to_ascii_lowercase()), r.id.clone());
        }
        cache
            .get(&key)
            .cloned()
            .ok_or_else(|| SynapseError::UnknownRole {
                workspace: workspace.to_owned(),
                role: name.to_owned(),
            })
    }

    fn cached_role(&self, key: &(String, String)) -> Option<String> {
        self.role_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Every matching assignment, following `x-ms-continuation`.
    pub async fn role_assignments(
        &self,
        workspace: &str,
        filter: &RoleAssignmentFilter,
    ) -> Result<Vec<RoleAssignment>, SynapseError> {
        let mut query = Vec::new();
        if let Some(v) = &filter.role_id {
            query.push(("roleId", v.as_str()));
        }
        if let Some(v) = &filter.principal_id {
            query.push(("principalId", v.as_str()));
        }
        if let Some(v) = &filter.scope {
            query.push(("scope", v.as_str()));
        }
        let url = self.url(workspace, &["roleAssignments"], &query)?;
        let mut all = Vec::new();
        let mut continuation: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let response = self
                .send(workspace, Method::GET, &url, None, continuation.as_deref())
                .await?;
            let next = response
                .headers
                .get(CONTINUATION)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let page: RoleAssignmentPage = parse(workspace, response.body, "role assignment page")?;
            all.extend(page.value);
            if next.is_some() && next == continuation {
                return Err(SynapseError::InvalidResponse {
                    workspace: workspace.to_owned(),
                    what: "x-ms-continuation repeated the token it was sent".to_owned(),
                });
            }
            match next {
                Some(token) => continuation = Some(token),
                None => return Ok(all),
            }
        }
        Err(SynapseError::InvalidResponse {
            workspace: workspace.to_owned(),
            what: format!("role assignment list did not end after {MAX_PAGES} pages"),
        })
    }

    /// `PUT /roleAssignments/{id}`; a 409 "already exists" counts as done.
    pub async fn create_role_assignment(
        &self,
        workspace: &str,
        id: Uuid,
        role_id: &str,
        principal_id: &str,
        scope: &str,
    ) -> Result<Created, SynapseError> {
        let url = self.url(workspace, &["roleAssignments", &id.to_string()], &[])?;
        let body = serde_json::to_value(RoleAssignmentRequest {
            role_id,
            principal_id,
            scope,
            principal_type: "ServicePrincipal",
        })
        .unwrap_or(Value::Null);
        match self
            .send(workspace, Method::PUT, &url, Some(&body), None)
            .await
        {
            Ok(_) => Ok(Created::Created),
            Err(SynapseError::Status {
                status: 409,
                message,
                ..
            }) if message.to_ascii_lowercase().contains("already exists") => {
                Ok(Created::AlreadyExisted)
            }
            Err(e) => Err(e),
        }
    }

    /// `true` when an assignment was deleted, `false` when there was none (204).
    pub async fn delete_role_assignment(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<bool, SynapseError> {
        let url = self.url(workspace, &["roleAssignments", id], &[])?;
        let response = self
            .send(workspace, Method::DELETE, &url, None, None)
            .await?;
        Ok(response.status != 204)
    }

    /// The object id of the identity the broker runs as, read from its own Synapse token's `oid`
    /// claim (not verified: it is only printed in advice). `None` when the token is not a JWT.
    pub async fn caller_object_id(&self) -> Option<String> {
        let token = self.credential.token(SYNAPSE_SCOPE).await.ok()?;
        let payload = token.expose_secret().split('.').nth(1)?.to_owned();
        drop(token);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: Value = serde_json::from_slice(&bytes).ok()?;
        let oid = claims.get("oid")?.as_str()?;
        Uuid::parse_str(oid).ok().map(|u| u.to_string())
    }

    async fn send(
        &self,
        workspace: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        continuation: Option<&str>,
    ) -> Result<Response, SynapseError> {
        let start = Instant::now();
        let mut retries = 0u32;
        loop {
            let failure = match self
                .attempt(workspace, &method, url, body, continuation, retries)
                .await?
            {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let retryable = match &failure {
                Failure::Status { error, .. } => error.status().is_some_and(is_retryable_status),
                Failure::Transport(e) => is_retryable_transport(e),
            };
            let hint = match &failure {
                Failure::Status { hint, .. } => *hint,
                Failure::Transport(_) => None,
            };
            let decision = if retryable {
                self.policy
                    .decide(retries, start.elapsed(), hint, random_jitter(), None)
            } else {
                RetryDecision::GiveUp
            };
            match decision {
                RetryDecision::GiveUp => {
                    return Err(match failure {
                        Failure::Status { error, .. } => error,
                        Failure::Transport(source) => SynapseError::Transport {
                            workspace: workspace.to_owned(),
                            source,
                        },
                    });
                }
                RetryDecision::Retry { delay } => {
                    let status = match &failure {
                        Failure::Status { error, .. } => error.status(),
                        Failure::Transport(_) => None,
                    };
                    wait_to_retry("Synapse", &method, url, status, delay, retries + 1).await;
                    retries += 1;
                }
            }
        }
    }

    async fn attempt(
        &self,
        workspace: &str,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        continuation: Option<&str>,
        resend_count: u32,
    ) -> Result<Result<Response, Failure>, SynapseError> {
        let authorization =
            crate::credential::bearer_header(self.credential.as_ref(), SYNAPSE_SCOPE).await?;
        let span = telemetry::synapse_request_span(method.as_str(), url.as_str());
        span.record(telemetry::fields::HTTP_RESEND_COUNT, resend_count);
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .timeout(self.options.request_timeout)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .header("x-ms-client-request-id", Uuid::new_v4().to_string());
        if let Some(token) = continuation {
            request = request.header(CONTINUATION, token);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let exchange = crate::http::exchange(request, &span).await;
        let (status, headers, bytes) = match exchange {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(Failure::Transport(e))),
        };
        span.record("http.response.status_code", status);
        let json = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if (200..300).contains(&status) {
            return Ok(Ok(Response {
                status,
                headers,
                body: json,
            }));
        }
        let field = |name: &str| {
            json.pointer(&format!("/error/{name}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let error = SynapseError::Status {
            workspace: workspace.to_owned(),
            status,
            code: field("code").unwrap_or_else(|| status.to_string()),
            message: field("message").unwrap_or_else(|| match &json {
                Value::String(s) => s.clone(),
                _ => String::new(),
            }),
            body: Box::new(json),
        };
        Ok(Err(Failure::Status {
            error,
            hint: server_hint(&headers, SystemTime::now()),
        }))
    }
}

enum Failure {
    Status {
        error: SynapseError,
        hint: Option<std::time::Duration>,
    },
    Transport(reqwest::Error),
}

fn parse<T: DeserializeOwned>(workspace: &str, body: Value, what: &str) -> Result<T, SynapseError> {
    serde_json::from_value(body).map_err(|e| SynapseError::InvalidResponse {
        workspace: workspace.to_owned(),
        what: format!("{what}: {e}"),
    })
}
