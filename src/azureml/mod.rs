//! The ARM client: Azure ML computes and jobs, workspace and Synapse pool reads.
//!
//! Built the way the Azure SDK for Rust builds clients: options with defaults, a retry policy that
//! honours `Retry-After`, long-running operations as pollers with a time budget, and time taken
//! from tokio so tests can pause it. Its public calls take the domain's parsed ids and move the
//! domain's resource models (`crate::domain::ComputeResource`, …); JSON stays inside.

mod client;
mod error;
mod linked_services;
mod lro;
mod options;
mod resources;
mod throttle_gate;

pub use crate::credential::{
    ARM_SCOPE, AuthError, DeveloperTokens, ManagedIdentityTokens, StaticToken, TokenSource,
    credential_from_env,
};
pub use crate::retry::RetryOptions;
pub use client::ArmClient;
pub use error::ArmError;
pub use lro::{LroOutcome, PendingOperation};
pub use options::{ArmClientOptions, LroOptions, OptionsError, parse_endpoint};
pub use resources::JobListFilter;
