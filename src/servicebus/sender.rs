//! `MessageSender`: replies, follow-ups and rejected messages, through `azure_messaging_servicebus`
//! over [`ReqwestTransport`], retrying transient failures with the crate's one retry policy
//! (`crate::retry`, as ARM calls do) within a small budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core_legacy::error::ErrorKind;
use azure_messaging_servicebus::service_bus::{
    QueueClient, SendMessageOptions, SettableBrokerProperties,
};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use super::settings::{ServiceBusAuth, ServiceBusSettings};
use super::token::{CredentialTokenProvider, ServiceBusTokenProvider, TokenError};
use super::transport::ReqwestTransport;
use crate::retry::{RetryDecision, RetryOptions, RetryPolicy, random_jitter};

/// A send is on the invocation's path: two retries, well inside a Functions invocation.
const SEND_RETRY: RetryOptions = RetryOptions {
    initial_delay: Duration::from_millis(200),
    max_retries: 2,
    max_elapsed: Duration::from_secs(10),
    max_delay: Duration::from_secs(2),
};
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The crate insists on a SAS policy; in bearer mode the transport discards what it signs.
const PLACEHOLDER_POLICY: &str = "bearer-token-in-use";
const PLACEHOLDER_KEY: &str = "bearer-token-in-use";
/// Headers the REST protocol owns; an application property must not shadow them.
const RESERVED_PROPERTY_NAMES: &[&str] = &[
    "authorization",
    "brokerproperties",
    "content-type",
    "content-length",
    "content-encoding",
    "host",
    "transfer-encoding",
    "connection",
];

/// A message to send. Application property values travel JSON-quoted, i.e. as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundMessage {
    pub body: String,
    pub content_type: Option<String>,
    /// Generated (uuid, simple format) when `None`, once, so retries carry the same id.
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub session_id: Option<String>,
    /// Where the receiver should answer (`ReplyTo`).
    pub reply_to: Option<String>,
    /// Service Bus `Label`.
    pub subject: Option<String>,
    pub scheduled_enqueue_time: Option<OffsetDateTime>,
    pub time_to_live: Option<Duration>,
    pub application_properties: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("Service Bus queue '{queue}': HTTP {status} ({}): {detail}", transient_word(*.status))]
    Http {
        queue: String,
        status: u16,
        detail: String,
    },
    #[error("Service Bus queue '{queue}': could not reach the namespace (transient): {detail}")]
    Connection { queue: String, detail: String },
    #[error("Service Bus queue '{queue}': (transient) {source}")]
    Token { queue: String, source: TokenError },
    #[error("Service Bus queue '{queue}': invalid message (permanent): {detail}")]
    InvalidMessage { queue: String, detail: String },
    #[error("Service Bus queue '{queue}': (permanent) {detail}")]
    Client { queue: String, detail: String },
}

fn is_transient_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

fn transient_word(status: u16) -> &'static str {
    if is_transient_status(status) {
        "transient"
    } else {
        "permanent"
    }
}

impl SendError {
    pub fn queue(&self) -> &str {
        match self {
            Self::Http { queue, .. }
            | Self::Connection { queue, .. }
            | Self::Token { queue, .. }
            | Self::InvalidMessage { queue, .. }
            | Self::Client { queue, .. } => queue,
        }
    }

    /// Worth trying again later (5xx, 408, 429, timeouts, connection, token endpoint).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status, .. } => is_transient_status(*status),
            Self::Connection { .. } | Self::Token { .. } => true,
            Self::InvalidMessage { .. } | Self::Client { .. } => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(super) fn from_azure(queue: &str, error: azure_core_legacy::Error) -> Self {
        let queue = queue.to_owned();
        match error.kind().clone() {
            ErrorKind::HttpResponse { status, error_code } => Self::Http {
                queue,
                status: u16::from(status),
                detail: error_code.unwrap_or_else(|| status.canonical_reason().to_owned()),
            },
            ErrorKind::Io => Self::Connection {
                queue,
                detail: error_chain(&error),
            },
            ErrorKind::Credential => {
                let message = error
                    .downcast_ref::<TokenError>()
                    .map_or_else(|| error_chain(&error), |t| t.message.clone());
                Self::Token {
                    queue,
                    source: TokenError { message },
                }
            }
            _ => Self::Client {
                queue,
                detail: error_chain(&error),
            },
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum SenderBuildError {
    #[error("Service Bus HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Cheap to clone; clones share the HTTP client and the per-queue clients.
#[derive(Clone, Debug)]
pub struct MessageSender {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    namespace: String,
    policy_name: String,
    key: secrecy::SecretString,
    transport: Arc<ReqwestTransport>,
    clients: Mutex<HashMap<String, QueueClient>>,
}

impl MessageSender {
    /// SAS from the connection string, or the managed identity for identity-based settings.
    pub fn new(settings: &ServiceBusSettings) -> Result<Self, SenderBuildError> {
        let provider: Option<Arc<dyn ServiceBusTokenProvider>> = match settings.auth() {
            ServiceBusAuth::SharedAccessKey { .. } => None,
            ServiceBusAuth::Identity { client_id } => Some(Arc::new(
                CredentialTokenProvider::managed_identity(client_id.clone())?,
            )),
        };
        Self::build(settings, provider)
    }

    /// Bearer tokens from `provider`, whatever the settings' auth (tests, custom credentials).
    pub fn with_token_provider(
        settings: &ServiceBusSettings,
        provider: Arc<dyn ServiceBusTokenProvider>,
    ) -> Result<Self, SenderBuildError> {
        Self::build(settings, Some(provider))
    }

    fn build(
        settings: &ServiceBusSettings,
        provider: Option<Arc<dyn ServiceBusTokenProvider>>,
    ) -> Result<Self, SenderBuildError> {
        // The shared client is HTTP/1 with title-case headers: .NET readers look up
        // `Diagnostic-Id` case-sensitively.
        let client =
            crate::http::shared_client().map_err(|e| SenderBuildError::Http(error_chain(&e)))?;
        let mut transport = ReqwestTransport::new(client, settings.endpoint_override().cloned())
            .with_timeout(REQUEST_TIMEOUT);
        let (policy_name, key) = match (&provider, settings.auth()) {
            (None, ServiceBusAuth::SharedAccessKey { key_name, key }) => {
                (key_name.clone(), key.clone())
            }
            (Some(_), _) => (
                PLACEHOLDER_POLICY.to_owned(),
                secrecy::SecretString::from(PLACEHOLDER_KEY),
            ),
            (None, ServiceBusAuth::Identity { .. }) => {
                return Err(TokenError {
                    message: "identity-based Service Bus settings need a token provider".into(),
                }
                .into());
            }
        };
        if let Some(provider) = provider {
            transport = transport.with_bearer(provider);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                namespace: settings.namespace().name().to_owned(),
                policy_name,
                key,
                transport: Arc::new(transport),
                clients: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub(super) fn client(&self, queue: &str) -> Result<QueueClient, SendError> {
        let mut clients = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(queue) {
            return Ok(client.clone());
        }
        let client = QueueClient::new(
            self.inner.transport.clone(),
            self.inner.namespace.clone(),
            queue,
            self.inner.policy_name.clone(),
            self.inner.key.expose_secret().to_owned(),
        )
        .map_err(|e| SendError::from_azure(queue, e))?;
        clients.insert(queue.to_owned(), client.clone());
        Ok(client)
    }

    pub async fn send(&self, queue: &str, message: OutboundMessage) -> Result<(), SendError> {
        validate_queue(queue)?;
        let (body, options) = to_request(queue, message)?;
        let client = self.client(queue)?;
        let policy = RetryPolicy::new(SEND_RETRY);
        let start = tokio::time::Instant::now();
        let mut retries = 0;
        loop {
            let result = client
                .send_message(&body, Some(clone_options(&options)))
                .await
                .map_err(|e| SendError::from_azure(queue, e));
            let error = match result {
                Ok(()) => return Ok(()),
                Err(error) if error.is_transient() => error,
                Err(error) => return Err(error),
            };
            // The REST crate hides response headers, so there is no server hint to honour.
            match policy.decide(retries, start.elapsed(), None, random_jitter(), None) {
                RetryDecision::Retry { delay } => {
                    tracing::warn!(queue, attempt = retries + 1, %error, "Service Bus send failed; retrying");
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                RetryDecision::GiveUp => return Err(error),
            }
        }
    }
}

/// Queue names become URL path segments: keep them to what Service Bus allows.
fn validate_queue(queue: &str) -> Result<(), SendError> {
    let valid = !queue.is_empty()
        && queue.len() <= 260
        && queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '~'))
        && !queue.starts_with(['/', '.'])
        && !queue.ends_with(['/', '.']);
    if valid {
        Ok(())
    } else {
        Err(SendError::InvalidMessage {
            queue: queue.to_owned(),
            detail:
                "queue name: expected letters, digits, '-', '_', '.', '/', '~' (not starting or \
                     ending with '/' or '.')"
                    .into(),
        })
    }
}

/// `SendMessageOptions` is not `Clone`.
fn clone_options(options: &SendMessageOptions) -> SendMessageOptions {
    SendMessageOptions {
        content_type: options.content_type.clone(),
        broker_properties: options.broker_properties.clone(),
        custom_properties: options.custom_properties.clone(),
    }
}

fn to_request(
    queue: &str,
    message: OutboundMessage,
) -> Result<(String, SendMessageOptions), SendError> {
    let invalid = |detail: String| SendError::InvalidMessage {
        queue: queue.to_owned(),
        detail,
    };
    let mut custom = HashMap::new();
    for (name, value) in message.application_properties {
        let is_token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !is_token {
            return Err(invalid(format!(
                "application property name '{name}': expected an HTTP header name (letters, digits, '-', '_', …)"
            )));
        }
        if RESERVED_PROPERTY_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(invalid(format!(
                "application property name '{name}' is reserved by the Service Bus REST protocol"
            )));
        }
        custom.insert(name, json_string_ascii(&value));
    }
    let message_id = message
        .message_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let properties = SettableBrokerProperties {
        correlation_id: message.correlation_id,
        session_id: message.session_id,
        reply_to: message.reply_to,
        message_id: Some(message_id),
        label: message.subject,
        time_to_live: message.time_to_live,
        scheduled_enqueue_time_utc: message.scheduled_enqueue_time,
        ..Default::default()
    };
    let options = SendMessageOptions {
        content_type: message.content_type,
        broker_properties: Some(properties),
        custom_properties: (!custom.is_empty()).then_some(custom),
    };
    Ok((message.body, options))
}

/// A JSON string literal with non-ASCII escaped, so that it is always a valid header value.
fn json_string_ascii(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    let mut out = String::with_capacity(quoted.len());
    for c in quoted.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_values_are_json_quoted_ascii() {
        assert_eq!(json_string_ascii("attach"), "\"attach\"");
        assert_eq!(json_string_ascii("a\"b"), "\"a\\\"b\"");
        assert_eq!(json_string_ascii("é"), "\"\\u00e9\"");
    }

    #[test]
    fn reserved_or_invalid_property_names_are_permanent_errors() {
        for name in ["Authorization", "BrokerProperties", "bad name", ""] {
            let message = OutboundMessage {
                application_properties: vec![(name.into(), "x".into())],
                ..Default::default()
            };
            let err = to_request("replies", message).unwrap_err();
            assert!(!err.is_transient());
            assert_eq!(err.queue(), "replies");
        }
    }

    #[test]
    fn missing_message_id_is_generated_once() {
        let (_, options) = to_request("q", OutboundMessage::default()).unwrap();
        let id = options.broker_properties.unwrap().message_id.unwrap();
        assert_eq!(id.len(), 32);
    }

    #[test]
    fn queue_names_are_checked() {
        assert!(validate_queue("pool-commands").is_ok());
        assert!(validate_queue("topic/subscriptions/x").is_ok());
        for bad in ["", "a b", "/lead", "trail/", "q?x=1", "q#f"] {
            assert!(validate_queue(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_classification() {
        for (status, transient) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (401, false),
            (403, false),
            (404, false),
            (400, false),
        ] {
            let err = SendError::Http {
                queue: "q".into(),
                status,
                detail: String::new(),
            };
            assert_eq!(err.is_transient(), transient, "{status}");
        }
    }
}
