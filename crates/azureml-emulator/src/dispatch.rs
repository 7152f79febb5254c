//! The ARM front door: authentication, throttling and api-version checks, then routing by
//! case-insensitive path segments (ARM paths are case-insensitive: `resourcegroups` works too).

use crate::arm::{self, ArmError};
use crate::ids::{self, PoolId, capture};
use crate::state::{EmulatorState, lock};
use crate::throttle::{Admission, Category};
use crate::{auth, computes, jobs, operations, synapse, workspaces};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

/// What every handler needs to know about the request.
pub(crate) struct Ctx {
    pub method: Method,
    pub path: String,
    pub path_and_query: String,
    pub query: Vec<(String, String)>,
    /// `http://host:port` as the client reached us; nextLink and operation URLs are built on it.
    pub base_url: String,
    pub api_version: String,
}

impl Ctx {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses the request body as JSON (ARM's `InvalidRequestContent` otherwise).
    pub fn json(body: &[u8]) -> Result<Value, ArmError> {
        if body.is_empty() {
            return Err(ArmError::invalid_request_content(
                "the request body is empty",
            ));
        }
        serde_json::from_slice(body).map_err(ArmError::invalid_request_content)
    }
}

enum Route<'a> {
    Workspace {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
    },
    Computes {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
    },
    Compute {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        name: &'a str,
    },
    Jobs {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
    },
    Job {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        name: &'a str,
    },
    JobCancel {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        name: &'a str,
    },
    Pool(PoolId),
    Operation {
        sub: &'a str,
        kind: &'a str,
        id: &'a str,
    },
}

const WS_PREFIX: [Option<&str>; 8] = [
    Some("subscriptions"),
    None,
    Some("resourceGroups"),
    None,
    Some("providers"),
    Some("Microsoft.MachineLearningServices"),
    Some("workspaces"),
    None,
];

impl<'a> Route<'a> {
    fn parse(segs: &[&'a str]) -> Option<Self> {
        if let Some(pool) = PoolId::parse(&segs.join("/")) {
            return Some(Self::Pool(pool));
        }
        if let Some(c) = capture(
            segs,
            &[
                Some("subscriptions"),
                None,
                Some("providers"),
                Some("Microsoft.MachineLearningServices"),
                Some("locations"),
                None,
                None,
                None,
            ],
        ) {
            return Some(Self::Operation {
                sub: c[0],
                kind: c[2],
                id: c[3],
            });
        }
        if segs.len() < WS_PREFIX.len() {
            return None;
        }
        let (head, rest) = segs.split_at(WS_PREFIX.len());
        let c = capture(head, &WS_PREFIX)?;
        let (sub, rg, ws) = (c[0], c[1], c[2]);
        let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        Some(match lower.as_slice() {
            [] => Self::Workspace { sub, rg, ws },
            ["computes"] => Self::Computes { sub, rg, ws },
            ["computes", _] => Self::Compute {
                sub,
                rg,
                ws,
                name: rest[1],
            },
            ["jobs"] => Self::Jobs { sub, rg, ws },
            ["jobs", _] => Self::Job {
                sub,
                rg,
                ws,
                name: rest[1],
            },
            ["jobs", _, "cancel"] => Self::JobCancel {
                sub,
                rg,
                ws,
                name: rest[1],
            },
            _ => return None,
        })
    }

    fn subscription(&self) -> &str {
        match self {
            Self::Pool(p) => &p.subscription,
            Self::Workspace { sub, .. }
            | Self::Computes { sub, .. }
            | Self::Compute { sub, .. }
            | Self::Jobs { sub, .. }
            | Self::Job { sub, .. }
            | Self::JobCancel { sub, .. }
            | Self::Operation { sub, .. } => sub,
        }
    }
}

pub(crate) async fn arm_entry(
    State(state): State<EmulatorState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut resp = match handle(&state, method, &uri, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    arm::decorate(&mut resp, &headers);
    resp
}

fn method_not_allowed(method: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HttpMethodNotAllowed",
        format!("The HTTP method '{method}' is not supported for this resource."),
    )
}

fn handle(
    state: &EmulatorState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ArmError> {
    let caller = auth::authenticate(state, headers)?;
    if let Some(result) = crate::linked_services::dispatch(state, &method, uri, body) {
        return result;
    }
    let path = uri.path();
    let segs = ids::segments(path);
    let route = Route::parse(&segs).ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No route for '{path}' in the Azure ML / ARM emulator."),
        )
    })?;
    let category = Category::of(&method);
    let remaining = if state.config().throttling {
        match lock(&state.inner.throttle).take(route.subscription(), category) {
            Admission::Allowed(n) => Some(n),
            Admission::Throttled(secs) => {
                return Err(ArmError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SubscriptionRequestsThrottled",
                    format!(
                        "Number of '{}' requests for subscription '{}' actor '{caller}' exceeded. Please try again after '{secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                        category.word(),
                        route.subscription()
                    ),
                )
                .with_retry_after(secs));
            }
        }
    } else {
        None
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let versions = match route {
        Route::Pool(_) => &state.config().synapse_api_versions,
        _ => &state.config().api_versions,
    };
    let api_version = check_api_version(&query, versions)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| String::from("127.0.0.1"));
    let ctx = Ctx {
        method: method.clone(),
        path: path.to_owned(),
        path_and_query: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        query,
        base_url: format!("http://{host}"),
        api_version,
    };
    let result = match (&route, &method) {
        (Route::Workspace { sub, rg, ws }, &Method::GET) => {
            workspaces::get(&state.data(), sub, rg, ws)
        }
        (Route::Pool(id), &Method::GET) => synapse::get(&state.data(), id),
        (Route::Computes { sub, rg, ws }, &Method::GET) => computes::list(state, &ctx, sub, rg, ws),
        (Route::Compute { sub, rg, ws, name }, &Method::GET) => {
            computes::get(state, sub, rg, ws, name)
        }
        (Route::Compute { sub, rg, ws, name }, &Method::PUT) => {
            computes::put(state, &ctx, sub, rg, ws, name, body)
        }
        (Route::Compute { sub, rg, ws, name }, &Method::DELETE) => {
            computes::delete(state, &ctx, sub, rg, ws, name)
        }
        (Route::Compute { sub, rg, ws, .. }, &Method::PATCH) => computes::patch(state, sub, rg, ws),
        (Route::Jobs { sub, rg, ws }, &Method::GET) => jobs::list(state, &ctx, sub, rg, ws),
        (Route::Job { sub, rg, ws, name }, &Method::GET) => jobs::get(state, sub, rg, ws, name),
        (Route::Job { sub, rg, ws, name }, &Method::PUT) => {
            jobs::put(state, &ctx, sub, rg, ws, name, body)
        }
        (Route::JobCancel { sub, rg, ws, name }, &Method::POST) => {
            jobs::cancel(state, &ctx, sub, rg, ws, name)
        }
        (Route::Operation { sub, kind, id }, &Method::GET) => {
            operations::poll(state, &ctx, sub, kind, id)
        }
        _ => Err(method_not_allowed(&method)),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(n) = remaining {
        let name = format!(
            "x-ms-ratelimit-remaining-subscription-{}",
            category.header_suffix()
        );
        if let Ok(name) = HeaderName::try_from(name) {
            resp.headers_mut()
                .insert(name, arm::header_value(&n.to_string()));
        }
    }
    Ok(resp)
}

fn check_api_version(query: &[(String, String)], supported: &[String]) -> Result<String, ArmError> {
    let Some((_, v)) = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
    else {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if supported.iter().any(|s| s.eq_ignore_ascii_case(v)) {
        return Ok(v.clone());
    }
    Err(ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidApiVersionParameter",
        format!(
            "The api-version '{v}' is invalid. The supported versions are '{}'. The supported locations are 'eastus,eastus2,westus,westus2,westeurope,northeurope'.",
            supported.join(",")
        ),
    ))
}
