//! poolbroker: an Azure Functions custom handler that attaches, updates and detaches Synapse Spark
//! pools in Azure ML workspaces and submits Spark jobs, driven by Service Bus, timers and hooks.
//! See docs/architecture.md for the layout.

pub mod azureml;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod functions;
pub mod handler;
pub mod hooks;
pub mod http;
/// The local world: emulators and a local Functions host around this handler (feature `local`,
/// on by default; not in the deployed package).
#[cfg(feature = "local")]
pub mod local;
pub mod package;
pub mod retry;
pub mod servicebus;
pub mod startup;
pub mod studio;
pub mod telemetry;
