//! The ARM front door: authentication, throttling and api-version checks, then routing by
//! case-insensitive path segments (ARM paths are case-insensitive: `resourcegroups` works too).

use crate::api_versions::{self, VersionSet};
use crate::arm::{self, ArmError};
use crate::assets::{self, AssetKind};
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
    /// `scheme://host:port` as the client reached us; nextLink and operation URLs are built on it.
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
    /// `codes` / `environments` (containers list).
    Assets {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        kind: AssetKind,
    },
    Asset {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        kind: AssetKind,
        name: &'a str,
    },
    AssetVersions {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        kind: AssetKind,
        name: &'a str,
    },
    AssetVersion {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        kind: AssetKind,
        name: &'a str,
        version: &'a str,
    },
    StartPendingUpload {
        sub: &'a str,
        rg: &'a str,
        ws: &'a str,
        name: &'a str,
        version: &'a str,
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
            [coll] => Self::Assets {
                sub,
                rg,
                ws,
                kind: AssetKind::parse(coll)?,
            },
            [coll, _] => Self::Asset {
                sub,
                rg,
                ws,
                kind: AssetKind::parse(coll)?,
                name: rest[1],
            },
            [coll, _, "versions"] => Self::AssetVersions {
                sub,
                rg,
                ws,
                kind: AssetKind::parse(coll)?,
                name: rest[1],
            },
            [coll, _, "versions", _] => Self::AssetVersion {
                sub,
                rg,
                ws,
                kind: AssetKind::parse(coll)?,
                name: rest[1],
                version: rest[3],
            },
            ["codes", _, "versions", _, "startpendingupload"] => Self::StartPendingUpload {
                sub,
                rg,
                ws,
                name: rest[1],
                version: rest[3],
            },
            _ => return None,
        })
    }

    fn version_set(&self) -> VersionSet {
        match self {
            Self::Pool(_) => VersionSet::Synapse,
            Self::Jobs { .. }
            | Self::Job { .. }
            | Self::JobCancel { .. }
            | Self::Assets { .. }
            | Self::Asset { .. }
            | Self::AssetVersions { .. }
            | Self::AssetVersion { .. }
            | Self::StartPendingUpload { .. } => VersionSet::Assets,
            _ => VersionSet::MachineLearning,
        }
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
            | Self::Assets { sub, .. }
            | Self::Asset { sub, .. }
            | Self::AssetVersions { sub, .. }
            | Self::AssetVersion { sub, .. }
            | Self::StartPendingUpload { sub, .. }
            | Self::Operation { sub, .. } => sub,
        }
    }
}

/// Which scheme the connection used; `serve_tls` marks its requests, plain listeners do not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Https;

pub(crate) async fn arm_entry(
    State(state): State<EmulatorState>,
    https: Option<axum::Extension<Https>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scheme = if https.is_some() { "https" } else { "http" };
    let mut resp = match handle(&state, scheme, method, &uri, &headers, &body) {
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
    scheme: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ArmError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| String::from("127.0.0.1"));
    let base_url = format!("{scheme}://{host}");
    let caller = auth::authenticate(state, headers, &base_url)?;
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
    let set = route.version_set();
    let versions: Vec<String> = match (&state.config().api_versions, set) {
        (Some(narrowed), VersionSet::MachineLearning | VersionSet::Assets) => narrowed.clone(),
        _ => api_versions::supported(set)
            .into_iter()
            .map(String::from)
            .collect(),
    };
    let api_version = check_api_version(&query, &versions)?;
    let ctx = Ctx {
        method: method.clone(),
        path: path.to_owned(),
        path_and_query: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        query,
        base_url,
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
        (Route::Assets { sub, rg, ws, kind }, &Method::GET) => {
            assets::list_containers(state, &ctx, (sub, rg, ws), *kind)
        }
        (
            Route::Asset {
                sub,
                rg,
                ws,
                kind,
                name,
            },
            m,
        ) if m == Method::GET || m == Method::PUT => {
            if m == Method::GET {
                assets::get_container(state, (sub, rg, ws), *kind, name)
            } else {
                assets::put_container(state, (sub, rg, ws), *kind, name, body)
            }
        }
        (
            Route::AssetVersions {
                sub,
                rg,
                ws,
                kind,
                name,
            },
            &Method::GET,
        ) => assets::list_versions(state, &ctx, (sub, rg, ws), *kind, name),
        (
            Route::AssetVersion {
                sub,
                rg,
                ws,
                kind,
                name,
                version,
            },
            m,
        ) if m == Method::GET || m == Method::PUT => {
            if m == Method::GET {
                assets::get_version(state, (sub, rg, ws), *kind, name, version)
            } else {
                assets::put_version(state, (sub, rg, ws), *kind, name, version, body)
            }
        }
        (
            Route::StartPendingUpload {
                sub,
                rg,
                ws,
                name,
                version,
            },
            &Method::POST,
        ) => assets::start_pending_upload(state, &ctx, (sub, rg, ws), name, version, body),
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
    // ARM prints the list newest first.
    let mut listed: Vec<&str> = supported.iter().map(String::as_str).collect();
    listed.sort_unstable_by(|a, b| b.cmp(a));
    Err(ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidApiVersionParameter",
        format!(
            "The api-version '{v}' is invalid. The supported versions are '{}'. The supported locations are 'eastus,eastus2,westus,westus2,westeurope,northeurope'.",
            listed.join(",")
        ),
    ))
}
