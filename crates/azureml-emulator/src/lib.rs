//! A local stand-in for ARM + Azure ML (api-version 2025-12-01) computes and Spark jobs, the
//! Synapse bigDataPools GET, and the App Service managed-identity token endpoint. Same status
//! codes, headers, error bodies, LRO flow and throttling as the real services; see
//! `shared/reference/azureml-arm-api.md`.

mod arm;
mod auth;
mod computes;
mod config;
mod control;
mod dispatch;
mod faults;
mod ids;
mod jobs;
mod linked_services;
mod msi;
mod operations;
mod paging;
mod state;
mod synapse;
mod throttle;
mod token_introspection;
mod workspaces;

pub use config::{
    AutoPause, AutoScale, BucketLimit, EmulatorConfig, SynapsePoolSpec, ThrottleLimits,
};
pub use faults::{FaultKind, FaultRule, RecordedRequest};
pub use ids::{uai_client_id, uai_principal_id};
pub use jobs::JobStatus;
pub use linked_services::LINKED_SERVICES_API_VERSION;
pub use msi::system_client_id;
pub use state::{
    DeleteRecord, DemoSeed, EmulatorError, EmulatorState, TENANT_ID, UserAssignedIdentityInfo,
};
pub use token_introspection::IssuedTokenInfo;

use axum::Router;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The whole emulator as one axum router: `/msi/token`, `/_emulator/…` and every ARM path.
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .merge(control::routes())
        .route("/msi/token", get(msi::token))
        .fallback(dispatch::arm_entry)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::observe,
        ))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected Reset fault")]
struct ConnectionReset;

/// Serves the emulator until `shutdown` resolves, then lets open connections finish (up to 5 s).
/// Unlike `axum::serve(router(..))`, this honours `FaultKind::Reset` by dropping the connection.
pub async fn serve(
    listener: TcpListener,
    state: EmulatorState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Per-connection errors (EMFILE, ECONNABORTED) must not stop the server.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let resp = match app.oneshot(req.map(axum::body::Body::new)).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        if resp.extensions().get::<faults::ResetConnection>().is_some() {
                            return Err(ConnectionReset);
                        }
                        Ok(resp)
                    }
                });
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "emulator connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}
