//! The ARM emulator served for the benchmark: `azureml_emulator::router` behind a timing layer
//! (how long the emulated service spent on each request) and, for TLS, a layer that turns the
//! `http://` URLs the emulator builds (operation monitors, `nextLink`) into `https://` — what a
//! TLS-terminating front end in front of it would do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use azureml_emulator::EmulatorState;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// One request as the emulated service saw it.
#[derive(Debug, Clone)]
pub struct Timed {
    pub took: Duration,
}

/// Server-side durations of every request, oldest first.
#[derive(Clone, Default)]
pub struct ArmTimings(Arc<Mutex<Vec<Timed>>>);

impl ArmTimings {
    pub fn take(&self) -> Vec<Timed> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    fn push(&self, t: Timed) {
        if let Ok(mut v) = self.0.lock() {
            v.push(t);
        }
    }
}

pub struct ArmServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port` or `https://127.0.0.1:port`, no trailing slash.
    pub base_url: String,
    pub state: EmulatorState,
    pub timings: ArmTimings,
}

async fn time_request(State(timings): State<ArmTimings>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(req).await;
    // The body is already built in memory by the emulator: the time to here is the service's.
    timings.push(Timed {
        took: started.elapsed(),
    });
    response
}

async fn https_urls(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let (mut parts, body) = response.into_parts();
    for name in ["location", "azure-asyncoperation"] {
        let rewritten = parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("http://"))
            .and_then(|rest| http::HeaderValue::from_str(&format!("https://{rest}")).ok());
        if let Some(v) = rewritten {
            parts.headers.insert(name, v);
        }
    }
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("\"nextLink\":\"http://") {
        let fixed = text.replace("\"nextLink\":\"http://", "\"nextLink\":\"https://");
        parts.headers.remove(http::header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(fixed));
    }
    Response::from_parts(parts, Body::from(bytes))
}

impl ArmServer {
    /// Serves until `shutdown` is cancelled. `tls: None` = plain http (what `poolbroker local`
    /// uses).
    pub async fn start(
        state: EmulatorState,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let timings = ArmTimings::default();
        let mut app = azureml_emulator::router(state.clone()).layer(
            axum::middleware::from_fn_with_state(timings.clone(), time_request),
        );
        if tls.is_some() {
            app = app.layer(axum::middleware::from_fn(https_urls));
        }
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        }
                    },
                    () = shutdown.cancelled() => break,
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            app.clone().oneshot(req.map(Body::new))
                        },
                    );
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            base_url: format!("{scheme}://{addr}"),
            state,
            timings,
        })
    }
}
