//! The Studio: a server-rendered page for attached pools, served by the handler through the
//! `studio` HTTP trigger (`GET/POST /api/studio/…`, function-definitions/studio) in Azure and by
//! `poolbroker local`. Its forms enqueue the same commands the queue and the CLI use and show
//! the broker's reply; it lists what the broker did, refused and dead-lettered, and what the
//! cleanup timer would detach next. See docs/studio.md.

pub mod auth;
pub mod csrf;
mod data;
pub mod forms;
mod reading;
pub mod request;
mod routes;
pub mod settings;
mod views;

use bytes::Bytes;

use crate::functions::{InvocationRequest, InvocationResponse};
use crate::handler::{AppState, HandlerError};
use auth::AccessError;
use request::{Page, RESPONSE_BINDING, StudioRequest};
use settings::StudioMode;

pub use settings::STUDIO_REPLIES_QUEUE;

/// Queue settings for what the Studio peeks (`studio-replies`, `pool-commands-rejected`),
/// matching infra/modules/servicebus.bicep: each look is one delivery, so the delivery limit is
/// Azure's maximum rather than 10; `ttl` as infra sets it.
#[cfg(feature = "local")]
pub fn peeked_queue_config(ttl: std::time::Duration) -> servicebus_emulator::QueueConfig {
    servicebus_emulator::QueueConfig {
        max_delivery_count: PEEKED_MAX_DELIVERY_COUNT,
        default_ttl: Some(ttl),
        dead_lettering_on_expiration: false,
        ..servicebus_emulator::QueueConfig::default()
    }
}

/// How long a reply to a Studio command stays (infra: `PT1H`): long enough to be read, short
/// enough that the queue stays small, since every look reads it from its head.
pub const STUDIO_REPLIES_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// How long a rejected command stays for people to read (infra: `P14D`).
pub const REJECTED_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// The highest `maxDeliveryCount` Service Bus accepts.
pub const PEEKED_MAX_DELIVERY_COUNT: u32 = 2000;

/// Where the page lives: the host's route prefix (`api`, host.json) + the function's route.
pub const BASE: &str = "/api/studio";

/// The `studio` function (invocation `POST /studio` from the host, JSON envelope); the handler
/// runs it inside the invocation's span.
pub async fn handle(state: &AppState, body: Bytes) -> Result<InvocationResponse, HandlerError> {
    let invocation = InvocationRequest::parse(&body)?;
    let req = StudioRequest::from_invocation(&invocation)?;
    let page = respond(state, &req).await;
    let log = format!(
        "studio {} /{} -> {}",
        req.method,
        req.path.join("/"),
        page.status
    );
    Ok(InvocationResponse::default()
        .with_output(RESPONSE_BINDING, page.to_output())
        .with_logs(vec![log]))
}

async fn respond(state: &AppState, req: &StudioRequest) -> Page {
    // Read and checked at start-up (startup::app_state_from_env).
    let settings = &state.inner.studio;
    if settings.mode == StudioMode::Off {
        return Page::status(
            404,
            views::refused(
                "Not found",
                "The Studio is turned off (POOLBROKER_STUDIO=off).",
            ),
        );
    }
    let principal =
        match auth::authorize(&settings.mode, |name| req.header(name).map(str::to_owned)) {
            Ok(p) => p,
            Err(e) => {
                let status = match e {
                    AccessError::NoPrincipal | AccessError::BadPrincipal(_) => 401,
                    AccessError::PlatformAuthOff
                    | AccessError::NobodyAllowed
                    | AccessError::NotAllowed(_) => 403,
                };
                tracing::warn!(status, "studio request refused: {e}");
                return Page::status(status, views::refused("Access refused", &e.to_string()));
            }
        };
    routes::dispatch(state, settings, &principal, req).await
}
