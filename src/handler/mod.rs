//! The custom handler: an axum app the Functions host starts (`poolbroker serve`) and invokes with
//! `POST /{function}`. One route per function in `function-definitions/`.

mod app;
mod cleanup;
mod error;
mod events;
mod internal_auth;
mod pool_commands;
mod state;
mod traced;

pub use app::{Application, StartupError, handler_port_from_env, router, run};
pub use error::HandlerError;
pub use internal_auth::SIGNATURE_PROPERTY;
pub use state::AppState;
