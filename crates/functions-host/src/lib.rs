//! A local stand-in for the Azure Functions host running a custom handler.
//!
//! It starts the handler as Azure does (free port, `FUNCTIONS_CUSTOMHANDLER_PORT`, readiness on
//! `GET /`, restart rules) and delivers Service Bus, timer and HTTP invocations with the host's
//! payloads (Newtonsoft double encoding included) and settlement semantics.
//!
//! Function keys are not enforced on HTTP triggers (`authLevel` is parsed, not checked), as
//! under Core Tools.
//!
//! Not reproduced (config errors where they would change behaviour silently):
//! `enableForwardingHttpRequest` / proxying, Service Bus topics, `cardinality: many`, input
//! bindings other than the trigger, Event Grid, retry policies, `WEBSITE_TIME_ZONE` (always
//! UTC), session-lock renewal, a cross-process timer lease (one runner per host instance).
//! `HostConfig::initialization_timeout` wins over host.json's `initializationTimeout`.

mod config;
pub mod encoding;
mod error;
mod events;
mod host;
mod http;
mod invoke;
mod outputs;
mod servicebus;
mod supervisor;
mod timer;

pub use config::HostConfig;
pub use error::HostError;
pub use events::{HostEvent, LogLevel, Settlement};
pub use host::{FunctionInfo, RunningHost, TriggerInfo, start};
