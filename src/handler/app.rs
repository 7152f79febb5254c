use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use super::error::HandlerError;
use super::state::AppState;
use super::{cleanup, events, pool_commands, traced};
use crate::functions::InvocationResponse;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "FUNCTIONS_CUSTOMHANDLER_PORT is not set: `poolbroker serve` is started by the Azure Functions host (or `poolbroker local`), which sets it"
    )]
    PortMissing,
    #[error("FUNCTIONS_CUSTOMHANDLER_PORT='{0}' is not a TCP port number (1-65535)")]
    PortInvalid(String),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

/// The port the host chose, from `FUNCTIONS_CUSTOMHANDLER_PORT` (or the legacy
/// `FUNCTIONS_HTTPWORKER_PORT`).
pub fn handler_port_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<u16, StartupError> {
    let raw = lookup("FUNCTIONS_CUSTOMHANDLER_PORT")
        .or_else(|| lookup("FUNCTIONS_HTTPWORKER_PORT"))
        .ok_or(StartupError::PortMissing)?;
    match raw.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(StartupError::PortInvalid(raw)),
    }
}

/// The handler, bound and ready to run. Tests build it on port 0 and read the real port.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(port: u16, state: AppState) -> Result<Self, StartupError> {
        // The host always calls http://127.0.0.1:<port>; nothing else should reach the handler.
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        run(self.listener, self.state, shutdown).await
    }
}

/// Serve until `shutdown` resolves; in-flight invocations finish first.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        // The host polls GET / until it gets any answer, then pings it for health: keep it cheap.
        .route("/", get(|| async { "poolbroker ready" }))
        .route("/pool-commands", post(pool_commands::handle))
        .route("/workspace-cleanup", post(cleanup::handle))
        .route("/pipeline-events", post(events::handle))
        .route("/studio", post(studio))
        // Invocations wrap the event body (escaped) in JSON; the hooks core enforces its own,
        // smaller limit with a 413, so this one only has to let such envelopes through.
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}

/// `studio` (HTTP trigger, docs/studio.md): one traced invocation per page request.
async fn studio(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let span = traced::span(crate::telemetry::Trigger::Http, "studio", &headers);
    traced::run(&state, span, crate::studio::handle(&state, body)).await
}
