//! A local stand-in for ARM + Azure ML computes, Spark jobs and code/environment assets, the
//! Synapse bigDataPools GET, the App Service managed-identity token endpoint and enough of Blob
//! storage for code uploads. Same status codes, headers, error bodies, LRO flow, token checks,
//! api-versions and throttling as the real services, over HTTPS with a local CA, so Microsoft's
//! own SDKs run against it unchanged; see the crate README and `docs/local-world.md`.

mod api_versions;
mod arm;
mod assets;
mod auth;
mod blob;
mod clock;
mod computes;
mod config;
mod control;
mod dispatch;
mod faults;
mod ids;
mod jobs;
mod jwt;
mod msi;
mod operations;
mod paging;
mod state;
mod synapse;
mod throttle;
mod tls;
mod workspaces;

pub use config::{
    AutoPause, AutoScale, BucketLimit, EmulatorConfig, SynapsePoolSpec, ThrottleLimits,
};
pub use faults::{FaultKind, FaultRule, RecordedRequest};
pub use ids::{uai_client_id, uai_principal_id};
pub use jobs::JobStatus;
pub use msi::{system_client_id, system_principal_id};
pub use state::{
    DeleteRecord, DemoSeed, EmulatorError, EmulatorState, TENANT_ID, UserAssignedIdentityInfo,
};
pub use tls::{CA_CERT_FILE, LocalTls, TlsError};

use axum::Router;
use axum::routing::{any, get};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The whole emulator as one axum router: `/msi/token`, `/_emulator/…`, the blob endpoint
/// (`/poolbrokerlocal/…`) and every ARM path.
pub fn router(state: EmulatorState) -> Router {
    Router::new()
        .merge(control::routes())
        .route("/msi/token", get(msi::token))
        .route(&format!("/{}/{{*rest}}", blob::ACCOUNT), any(blob::entry))
        .fallback(dispatch::arm_entry)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::observe,
        ))
        .with_state(state)
}

/// What the plain-http listener next to an HTTPS ARM endpoint serves: the managed-identity
/// endpoint (plain http on loopback, as App Service's is) and the control API. ARM paths answer
/// 404 here: they are only on HTTPS, as in Azure.
pub fn identity_router(state: EmulatorState) -> Router {
    Router::new()
        .merge(control::routes())
        .route("/msi/token", get(msi::token))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::observe,
        ))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected Reset fault")]
struct ConnectionReset;

/// Serves the emulator over plain http until `shutdown` resolves, then lets open connections
/// finish (up to 5 s). Unlike `axum::serve(router(..))`, this honours `FaultKind::Reset` by
/// dropping the connection.
pub async fn serve(
    listener: TcpListener,
    state: EmulatorState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), None, shutdown).await
}

/// Serves the whole emulator over HTTPS with the local CA's server certificate: operation
/// URLs and `nextLink`s then say `https://`, as ARM's do.
pub async fn serve_tls(
    listener: TcpListener,
    state: EmulatorState,
    tls: LocalTls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), Some(tls.acceptor()), shutdown).await
}

/// Serves any of this crate's routers, over TLS when an acceptor is given.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    let https = tls.is_some();
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
                        let mut req = req.map(axum::body::Body::new);
                        if https {
                            req.extensions_mut().insert(dispatch::Https);
                        }
                        let resp = match app.oneshot(req).await {
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
                let tls = tls.clone();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let result = match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls_stream) => {
                                let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                                watcher.watch(conn).await
                            }
                            Err(e) => {
                                // A client that does not trust the local CA ends here.
                                tracing::debug!(error = %e, "TLS handshake with the emulator failed");
                                return;
                            }
                        },
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            watcher.watch(conn).await
                        }
                    };
                    if let Err(e) = result {
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
