//! Fault injection and request recording, applied to every emulated route (not `/_emulator`).

use crate::arm::{self, ArmError};
use crate::state::{EmulatorState, lock};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// One injected fault. It fires on requests whose method matches (any when `None`) and whose
/// path-and-query contains `path_contains`, `times` times (0 = until cleared). Rules are tried in
/// insertion order; the first live match wins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    #[serde(default, with = "method_opt")]
    pub method: Option<Method>,
    #[serde(default)]
    pub path_contains: String,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum FaultKind {
    /// 429 `SubscriptionRequestsThrottled` with this `Retry-After`.
    Throttle { retry_after_secs: u64 },
    /// An ARM error answer with this status, code and message.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// Waits, then serves the request normally.
    Delay { ms: u64 },
    /// The request succeeds but the long-running operation it starts (compute PUT/DELETE, job
    /// cancel) ends `Failed` with this error; on a job PUT the job later ends `Failed`.
    LroFailure { code: String, message: String },
    /// The request succeeds but the long-running operation it starts runs for `secs` on the
    /// emulator's clock instead of `operation_duration` (a compute left `Updating`).
    SlowOperation { secs: u64 },
    /// Drops the connection without an answer (only under [`crate::serve`]).
    Reset,
    /// Serves the request (its change happens), then waits before answering: a client whose
    /// timeout is shorter gives up on a write ARM has already taken.
    SlowAnswer { ms: u64 },
    /// Serves the request (its change happens), then drops the connection without the answer.
    ResetAfterServing,
    /// Serves the request, then points its `Azure-AsyncOperation` and `Location` headers at
    /// `origin` (e.g. `http://127.0.0.1:9`): a hostile or broken ARM front end.
    ForeignOperationUrl { origin: String },
    /// Serves the request, then removes every `principalId` from the answer's `identity`: an
    /// answer written before the service had assigned the identities (whether Azure ML's 201 for
    /// an attach carries them is unverified).
    WithoutPrincipalIds,
}

impl FaultRule {
    fn matches(&self, method: &Method, path_and_query: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && path_and_query.contains(&self.path_contains)
    }
}

mod method_opt {
    use axum::http::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Option<Method>, s: S) -> Result<S::Ok, S::Error> {
        match m {
            Some(m) => s.serialize_some(m.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Method>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        raw.map(|m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                serde::de::Error::custom(format!("method: '{m}' is not an HTTP method"))
            })
        })
        .transpose()
    }
}

/// A request as the emulator received it. `Authorization` and `x-identity-header` are redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-cased names; repeated headers joined with ", ".
    pub headers: IndexMap<String, String>,
    /// JSON bodies parsed; other non-empty bodies as a JSON string.
    pub body: Option<Value>,
    /// The status the emulator answered with; `None` while in flight or when the connection was
    /// dropped before the request was served ([`FaultKind::Reset`]). A write whose status is
    /// 2xx took effect, even when its answer was then lost ([`FaultKind::ResetAfterServing`]).
    pub status: Option<u16>,
}

pub(crate) const REDACTED: &str = "REDACTED";

/// Records the request; returns its index for [`answered`].
fn record(
    state: &EmulatorState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> usize {
    let mut recorded: IndexMap<String, String> = IndexMap::new();
    for (name, value) in headers {
        let name = name.as_str().to_owned();
        let value = if name == "authorization" || name == "x-identity-header" {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        recorded
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
        )
    };
    let mut requests = lock(&state.inner.requests);
    requests.push(RecordedRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(redact_sas),
        headers: recorded,
        body,
        status: None,
    });
    requests.len() - 1
}

fn answered(state: &EmulatorState, index: usize, status: StatusCode) {
    if let Some(r) = lock(&state.inner.requests).get_mut(index) {
        r.status = Some(status.as_u16());
    }
}

/// The query with a SAS signature (`sig=`) replaced: recorded requests never hold a credential.
fn redact_sas(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            if pair.starts_with("sig=") {
                format!("sig={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Takes the first live rule of the wanted kinds matching the request, consuming one of its
/// `times`.
fn take(
    state: &EmulatorState,
    method: &Method,
    path_and_query: &str,
    wanted: impl Fn(&FaultKind) -> bool,
) -> Option<FaultKind> {
    let mut rules = lock(&state.inner.faults);
    let idx = rules
        .iter()
        .position(|r| wanted(&r.kind) && r.matches(method, path_and_query))?;
    let kind = rules[idx].kind.clone();
    match rules[idx].times {
        0 => {}
        1 => {
            rules.remove(idx);
        }
        _ => rules[idx].times -= 1,
    }
    Some(kind)
}

/// The `LroFailure` rule for this request, if any (consumed).
pub(crate) fn take_lro_failure(
    state: &EmulatorState,
    method: &Method,
    path_and_query: &str,
) -> Option<(String, String)> {
    match take(state, method, path_and_query, |k| {
        matches!(k, FaultKind::LroFailure { .. })
    }) {
        Some(FaultKind::LroFailure { code, message }) => Some((code, message)),
        _ => None,
    }
}

/// The `SlowOperation` duration for this request, if any (consumed).
pub(crate) fn take_slow_operation(
    state: &EmulatorState,
    method: &Method,
    path_and_query: &str,
) -> Option<std::time::Duration> {
    match take(state, method, path_and_query, |k| {
        matches!(k, FaultKind::SlowOperation { .. })
    }) {
        Some(FaultKind::SlowOperation { secs }) => Some(std::time::Duration::from_secs(secs)),
        _ => None,
    }
}

/// Faults the handlers apply themselves (they shape the operation a request starts).
fn shapes_operation(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::LroFailure { .. } | FaultKind::SlowOperation { .. }
    )
}

/// Marker on a response that [`crate::serve`] turns into a dropped connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

const MAX_BODY: usize = 16 * 1024 * 1024;

pub(crate) async fn observe(
    State(state): State<EmulatorState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ArmError::invalid_request_content(e).into_response(),
    };
    let index = record(&state, &parts.method, &parts.uri, &parts.headers, &bytes);
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let fault = take(&state, &parts.method, path_and_query, |k| {
        !shapes_operation(k)
    });
    let after = match &fault {
        Some(
            k @ (FaultKind::SlowAnswer { .. }
            | FaultKind::ResetAfterServing
            | FaultKind::ForeignOperationUrl { .. }
            | FaultKind::WithoutPrincipalIds),
        ) => Some(k.clone()),
        _ => None,
    };
    let injected = match fault {
        Some(FaultKind::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(FaultKind::Throttle { retry_after_secs }) => Some(
            ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!(
                    "Number of requests exceeded the limit. Please try again after '{retry_after_secs}' seconds. \
                     Refer to https://aka.ms/arm-throttling for additional information."
                ),
            )
            .with_retry_after(retry_after_secs)
            .into_response(),
        ),
        Some(FaultKind::Status { status, code, message }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(ArmError::new(status, &code, message).into_response())
        }
        Some(FaultKind::Reset) => {
            let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            resp.extensions_mut().insert(ResetConnection);
            return resp;
        }
        Some(
            FaultKind::LroFailure { .. }
            | FaultKind::SlowOperation { .. }
            | FaultKind::SlowAnswer { .. }
            | FaultKind::ResetAfterServing
            | FaultKind::ForeignOperationUrl { .. }
            | FaultKind::WithoutPrincipalIds,
        )
        | None => None,
    };
    if let Some(mut resp) = injected {
        arm::decorate(&mut resp, &parts.headers);
        answered(&state, index, resp.status());
        return resp;
    }
    let mut resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    answered(&state, index, resp.status());
    match after {
        Some(FaultKind::SlowAnswer { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::ResetAfterServing) => {
            resp.extensions_mut().insert(ResetConnection);
        }
        Some(FaultKind::ForeignOperationUrl { origin }) => {
            for name in ["azure-asyncoperation", "location"] {
                let moved = resp
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| url::Url::parse(v).ok())
                    .map(|u| format!("{origin}{}?{}", u.path(), u.query().unwrap_or_default()))
                    .and_then(|v| axum::http::HeaderValue::from_str(&v).ok());
                if let Some(value) = moved {
                    resp.headers_mut().insert(name, value);
                }
            }
        }
        Some(FaultKind::WithoutPrincipalIds) => return without_principal_ids(resp).await,
        _ => {}
    }
    resp
}

async fn without_principal_ids(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ArmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the answer could not be read back",
        )
        .into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(identity) = value.get_mut("identity") {
        strip_principal_ids(identity);
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

fn strip_principal_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("principalId");
            map.values_mut().for_each(strip_principal_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_principal_ids),
        _ => {}
    }
}
