//! The host's HTTP endpoint: `/{routePrefix}/{route}` for HTTP-triggered functions.
//! Function keys (`authLevel`) are not enforced, as under Core Tools.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::Map;
use tokio_util::sync::CancellationToken;

use super::request::{IncomingRequest, data_value, metadata_entries};
use super::route::split_path;
use crate::config::{FunctionDef, Trigger};
use crate::encoding;
use crate::invoke::Invoker;

/// Azure's request size limit (100 MB).
const MAX_BODY: usize = 100 * 1024 * 1024;

pub(crate) struct HttpFunctions {
    pub route_prefix: Vec<String>,
    pub functions: Vec<Arc<FunctionDef>>,
    pub invoker: Invoker,
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: HttpFunctions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::new(app));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn handle(State(app): State<Arc<HttpFunctions>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let segments = split_path(parts.uri.path());
    let prefix_len = app.route_prefix.len();
    let prefixed = segments.len() >= prefix_len
        && segments
            .iter()
            .zip(&app.route_prefix)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if segments.is_empty() && parts.method == http::Method::GET {
        return (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Your Functions 4.0 app is up and running (local poolbroker functions host)",
        )
            .into_response();
    }
    if !prefixed {
        return StatusCode::NOT_FOUND.into_response();
    }
    let rest = &segments[prefix_len..];
    let method = parts.method.as_str().to_ascii_uppercase();
    let matched = app.functions.iter().find_map(|f| {
        let Trigger::Http(t) = &f.trigger else {
            return None;
        };
        if let Some(methods) = &t.methods
            && !methods.contains(&method)
        {
            return None;
        }
        t.route
            .matches(rest)
            .map(|values| (f.clone(), t.binding.clone(), values))
    });
    let Some((function, binding, route_values)) = matched else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let incoming = IncomingRequest {
        url: format!("http://{host}{path_and_query}"),
        method: parts.method.as_str(),
        query: parts.uri.query(),
        headers: &parts.headers,
        route_values: &route_values,
        body: &body,
    };
    let mut data = Map::new();
    data.insert(binding, data_value(&incoming));
    let metadata = encoding::metadata_with_sys(
        metadata_entries(&incoming),
        &function.name,
        app.invoker.broker().now(),
    );
    match app.invoker.invoke(&function, data, metadata).await {
        Ok(invoked) => {
            let output = invoked.http_response.unwrap_or_default();
            let mut response = Response::new(Body::from(output.body));
            *response.status_mut() = output.status;
            for (name, value) in output.headers {
                response.headers_mut().append(name, value);
            }
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, crate::HostError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| crate::HostError::HttpBind { addr, source })
}
