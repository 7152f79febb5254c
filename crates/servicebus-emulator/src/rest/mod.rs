//! The Service Bus REST API (the protocol `azure_messaging_servicebus` 0.21 speaks) on the broker:
//! send, peek-lock, receive-and-delete, complete/unlock/renew on the lock URL, the
//! `$DeadLetterQueue` sub-queue, and SAS / bearer authorization.

mod auth;
mod error;
mod handlers;
mod wire;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};

pub use auth::{BearerValidator, sas_token};

use crate::broker::{Broker, BrokerError};
use error::RestError;

/// How the REST front end authorizes callers.
pub struct RestConfig {
    /// The fully-qualified namespace SAS tokens must name, e.g. `poolbroker-local.servicebus.windows.net`.
    pub namespace: String,
    /// Shared access policies: (key name, key).
    pub sas_keys: Vec<(String, String)>,
    /// Accepts `Authorization: Bearer …` when set (managed identity in production).
    pub bearer_validator: Option<BearerValidator>,
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_names: Vec<&str> = self
            .sas_keys
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("RestConfig")
            .field("namespace", &self.namespace)
            .field("sas_key_names", &key_names)
            .field("bearer_validator", &self.bearer_validator.is_some())
            .finish()
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    broker: Broker,
    config: Arc<RestConfig>,
    /// Scheme of the lock URLs handed out; this server speaks plain HTTP.
    scheme: &'static str,
}

impl AppState {
    fn broker_error(&self, error: BrokerError) -> RestError {
        RestError::from_broker(error, &self.config.namespace)
    }
}

/// The REST API as an axum router (state applied).
pub fn router(broker: Broker, config: RestConfig) -> Router {
    let state = AppState {
        broker,
        config: Arc::new(config),
        scheme: "http",
    };
    let lock_ops = || {
        delete(handlers::complete)
            .put(handlers::unlock)
            .post(handlers::renew)
    };
    Router::new()
        .route("/{queue}/messages", post(handlers::send))
        .route(
            "/{queue}/messages/head",
            post(handlers::peek_lock).delete(handlers::receive_and_delete),
        )
        .route("/{queue}/messages/{message}/{lock}", lock_ops())
        .route(
            "/{queue}/$DeadLetterQueue/messages/head",
            post(handlers::peek_lock_dead_letter).delete(handlers::receive_and_delete_dead_letter),
        )
        .route(
            "/{queue}/$DeadLetterQueue/messages/{message}/{lock}",
            lock_ops(),
        )
        .layer(middleware::from_fn_with_state(state.clone(), require_auth))
        .with_state(state)
}

async fn require_auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let config = auth::AuthConfig {
        namespace: &state.config.namespace,
        sas_keys: &state.config.sas_keys,
        bearer_validator: state.config.bearer_validator.as_ref(),
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    match auth::authorize(
        &config,
        request.headers(),
        host,
        request.uri().path(),
        state.broker.now(),
    ) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::debug!(path = request.uri().path(), %error, "servicebus emulator: request rejected");
            error.into_response()
        }
    }
}

/// Serves the REST API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    broker: Broker,
    config: RestConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(broker, config))
        .with_graceful_shutdown(shutdown)
        .await
}
