//! The Azure Functions custom-handler protocol, as the host speaks it (see
//! Microsoft's "Azure Functions custom handlers" documentation): invocation requests with `Data` and `Metadata`,
//! responses with `Outputs`, `Logs` and `ReturnValue`.
//!
//! The host double-encodes strings and stringifies numbers in `Data`/`Metadata`; the decoders here
//! accept both the encoded and the plain forms so a handler that works locally works in Azure.

mod decode;
mod http_trigger;
mod invocation;
mod response;
mod service_bus;

pub use decode::{decode_bytes, decode_string, decode_u32};
pub use http_trigger::HttpTriggerRequest;
pub use invocation::{InvocationError, InvocationRequest, SysMetadata};
pub use response::InvocationResponse;
pub use service_bus::ServiceBusDelivery;
