//! Service Bus emulator: an in-memory broker plus the Service Bus REST API on top of it.
pub mod broker;
pub mod rest;

pub use broker::{
    Broker, BrokerError, OutgoingMessage, QueueConfig, ReceivedMessage, SessionReceiver, SubQueue,
};
pub use rest::{BearerValidator, RestConfig, router, sas_token, serve};
