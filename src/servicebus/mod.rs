//! Service Bus sending: `azure_messaging_servicebus` 0.21 (REST) over our reqwest 0.13 client.
//! See shared/reference/rust-deps.md §2 for the crate's wire behaviour.

mod bounded;
mod peek;
mod receive;
mod sender;
mod settings;
mod token;
mod transport;

pub use bounded::{MAX_BODY_BYTES, MAX_MESSAGE_BYTES, TRUNCATED_FIELD, bounded_json};
pub use peek::{PeekedMessage, dead_letter_path};
pub use sender::{MessageSender, OutboundMessage, SendError, SenderBuildError};
pub use settings::{
    ENV_CLIENT_ID, ENV_CONNECTION, ENV_ENDPOINT, ENV_FULLY_QUALIFIED_NAMESPACE, Namespace,
    ServiceBusAuth, ServiceBusSettings, SettingsError,
};
pub use token::{
    CredentialTokenProvider, SERVICE_BUS_SCOPE, ServiceBusTokenProvider, StaticTokenProvider,
    TokenError,
};
pub use transport::ReqwestTransport;
