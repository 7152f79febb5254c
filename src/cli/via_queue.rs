//! `--via-queue` and `poolbroker send --wait`: send the command to the broker's queue and wait
//! for its correlated reply.

use crate::domain::session_id_of;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::config::{COMMANDS_QUEUE, REPLIES_QUEUE};
use crate::domain::Envelope;
use crate::servicebus::{
    MessageSender, Namespace, OutboundMessage, ServiceBusAuth, ServiceBusSettings, SettingsError,
};

/// `--namespace`: Entra ID through the developer's az / azd login (namespaces deployed by
/// `infra/` have SAS disabled).
pub fn sender_for_namespace(namespace: &str) -> anyhow::Result<MessageSender> {
    let namespace = Namespace::parse(namespace).map_err(|e| anyhow::anyhow!("--namespace: {e}"))?;
    let settings = ServiceBusSettings::new(namespace, ServiceBusAuth::Identity { client_id: None });
    let provider = Arc::new(
        crate::credential::DeveloperTokens::new()
            .context("signing in with the Azure CLI / azd (run `az login`)")?,
    );
    Ok(MessageSender::with_token_provider(&settings, provider)?)
}

/// The configured Service Bus, else (with the `local` feature) the local emulator of
/// `poolbroker local` on its default port.
pub fn sender() -> anyhow::Result<MessageSender> {
    let settings = match ServiceBusSettings::from_env() {
        Ok(settings) => settings,
        Err(SettingsError::Missing) => local_emulator()?,
        Err(other) => return Err(other.into()),
    };
    Ok(MessageSender::new(&settings)?)
}

#[cfg(feature = "local")]
fn local_emulator() -> anyhow::Result<ServiceBusSettings> {
    use crate::local::{LOCAL_NAMESPACE, LOCAL_SAS_KEY, LOCAL_SAS_KEY_NAME};
    eprintln!(
        "Service Bus not configured (ServiceBusConnection…): using the local emulator at http://127.0.0.1:7072 (`poolbroker local`)"
    );
    let namespace = Namespace::parse(LOCAL_NAMESPACE).map_err(|e| anyhow::anyhow!(e))?;
    ServiceBusSettings::new(
        namespace,
        ServiceBusAuth::SharedAccessKey {
            key_name: LOCAL_SAS_KEY_NAME.into(),
            key: LOCAL_SAS_KEY.into(),
        },
    )
    .with_endpoint_override("http://127.0.0.1:7072")
    .map_err(Into::into)
}

#[cfg(not(feature = "local"))]
fn local_emulator() -> anyhow::Result<ServiceBusSettings> {
    Err(SettingsError::Missing).context(
        "set ServiceBusConnection… (or pass --namespace); this build has no local emulator to fall back to",
    )
}

pub struct Sent {
    pub correlation_id: String,
}

/// Sends `body` with a fresh correlation id and `ReplyTo`.
pub async fn send_command(
    sender: &MessageSender,
    queue: &str,
    body: String,
    content_type: &str,
    reply_queue: &str,
) -> anyhow::Result<Sent> {
    let correlation_id = uuid::Uuid::new_v4().simple().to_string();
    let message = OutboundMessage {
        session_id: Some(session_id_of(
            body.as_bytes(),
            Some(content_type),
            &correlation_id,
        )),
        body,
        content_type: Some(content_type.to_owned()),
        correlation_id: Some(correlation_id.clone()),
        reply_to: Some(reply_queue.to_owned()),
        application_properties: crate::telemetry::propagation_properties(),
        ..OutboundMessage::default()
    };
    sender
        .send(queue, message)
        .await
        .with_context(|| format!("sending to queue '{queue}'"))?;
    Ok(Sent { correlation_id })
}

pub async fn wait_for_reply(
    sender: &MessageSender,
    reply_queue: &str,
    sent: &Sent,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let progress = super::progress::Progress::start_announced(format!(
        "waiting up to {}s for the reply on '{reply_queue}' (correlation id {})",
        timeout.as_secs(),
        sent.correlation_id
    ));
    let received = sender
        .receive_reply(reply_queue, &sent.correlation_id, timeout)
        .await;
    progress.finish();
    received
        .with_context(|| format!("receiving from '{reply_queue}'"))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no reply on '{reply_queue}' within {}s for correlation id {} (is the broker running?)",
                timeout.as_secs(),
                sent.correlation_id
            )
        })
}

pub async fn execute_via_queue(envelope: &Envelope) -> anyhow::Result<Value> {
    let sender = sender()?;
    let body = String::from_utf8(envelope.to_bytes()?).context("encoding the command")?;
    let sent = send_command(
        &sender,
        COMMANDS_QUEUE,
        body,
        "application/json",
        REPLIES_QUEUE,
    )
    .await?;
    wait_for_reply(&sender, REPLIES_QUEUE, &sent, Duration::from_secs(300)).await
}
