//! Service Bus emulator: an in-memory broker plus the Service Bus REST API on top of it.
pub mod broker;

pub use broker::{
    Broker, BrokerError, OutgoingMessage, QueueConfig, ReceivedMessage, SessionReceiver, SubQueue,
};
