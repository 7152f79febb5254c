//! Service Bus trigger: peek-lock receive, invoke, complete on success / abandon on failure,
//! lock renewal while the handler runs, sessions processed one message at a time.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use servicebus_emulator::{BrokerError, ReceivedMessage, SessionReceiver};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::function_json::ServiceBusTrigger;
use crate::config::{FunctionDef, ServiceBusOptions};
use crate::encoding;
use crate::events::{HostEvent, LogLevel, Settlement};
use crate::invoke::Invoker;

/// How long one receive call waits before checking for shutdown again.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct Listener {
    pub function: Arc<FunctionDef>,
    pub trigger: ServiceBusTrigger,
    pub options: ServiceBusOptions,
    pub invoker: Invoker,
    /// `Client.Identifier`: one client per listener, as the extension creates.
    pub client_id: String,
}

impl Listener {
    pub fn new(
        function: Arc<FunctionDef>,
        trigger: ServiceBusTrigger,
        options: ServiceBusOptions,
        invoker: Invoker,
    ) -> Arc<Self> {
        let client_id = format!("{}-{}", trigger.namespace, Uuid::new_v4());
        Arc::new(Self {
            function,
            trigger,
            options,
            invoker,
            client_id,
        })
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        if self.trigger.sessions {
            let mut workers = JoinSet::new();
            for _ in 0..self.options.max_concurrent_sessions {
                workers.spawn(self.clone().session_worker(shutdown.clone()));
            }
            while workers.join_next().await.is_some() {}
        } else {
            self.run_unsessioned(shutdown).await;
        }
    }

    async fn run_unsessioned(self: Arc<Self>, shutdown: CancellationToken) {
        let queue = self.trigger.queue.clone();
        let permits = Arc::new(Semaphore::new(self.options.max_concurrent_calls));
        let mut in_flight = JoinSet::new();
        loop {
            while in_flight.try_join_next().is_some() {}
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                () = shutdown.cancelled() => break,
            };
            let received = tokio::select! {
                r = self.invoker.broker().receive(&queue, RECEIVE_WAIT) => r,
                () = shutdown.cancelled() => break,
            };
            match received {
                Ok(Some(message)) => {
                    let me = self.clone();
                    in_flight.spawn(async move {
                        me.process(message, None).await;
                        drop(permit);
                    });
                }
                Ok(None) => {}
                Err(e) => self.receive_error(&e, &shutdown).await,
            }
        }
        // Unsettled messages are left locked; the broker makes them available when the lock
        // expires, as after a host crash.
        in_flight.abort_all();
    }

    async fn session_worker(self: Arc<Self>, shutdown: CancellationToken) {
        let queue = self.trigger.queue.clone();
        loop {
            let accepted = tokio::select! {
                s = self.invoker.broker().accept_next_session(&queue, RECEIVE_WAIT) => s,
                () = shutdown.cancelled() => return,
            };
            let session = match accepted {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    self.receive_error(&e, &shutdown).await;
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    m = session.receive(self.options.session_idle_timeout) => m,
                    () = shutdown.cancelled() => return,
                };
                match next {
                    Ok(Some(message)) => self.process(message, Some(&session)).await,
                    // Idle: release the session so another one can be accepted.
                    Ok(None) => break,
                    Err(e) => {
                        self.invoker.events().log(
                            "host",
                            LogLevel::Warning,
                            format!(
                                "Service Bus session '{}' on queue '{queue}' ({}): {e}",
                                session.session_id(),
                                self.function.name
                            ),
                        );
                        break;
                    }
                }
            }
        }
    }

    async fn receive_error(&self, e: &BrokerError, shutdown: &CancellationToken) {
        self.invoker.events().log(
            "host",
            LogLevel::Error,
            format!(
                "Service Bus receive on queue '{}' for function '{}' failed: {e}",
                self.trigger.queue, self.function.name
            ),
        );
        tokio::select! {
            () = tokio::time::sleep(ERROR_BACKOFF) => {}
            () = shutdown.cancelled() => {}
        }
    }

    async fn process(&self, message: ReceivedMessage, session: Option<&SessionReceiver>) {
        let broker = self.invoker.broker();
        let (data, metadata) = payload(
            &self.function.name,
            &self.trigger,
            &self.client_id,
            &message,
            broker.now(),
        );
        // Session locks have no renewal in the broker API; only peek-locked messages of
        // unsessioned queues are renewed.
        let renewing = CancellationToken::new();
        if session.is_none() {
            tokio::spawn(self.renew_lock(
                message.lock_token,
                message.locked_until,
                renewing.clone(),
            ));
        }
        let outcome = self.invoker.invoke(&self.function, data, metadata).await;
        renewing.cancel();

        let queue = &self.trigger.queue;
        let token = message.lock_token;
        let (settled, mut action) = match (&outcome, session) {
            (Ok(_), Some(s)) => (s.complete(token), Settlement::Completed),
            (Ok(_), None) => (broker.complete(queue, token), Settlement::Completed),
            (Err(_), Some(s)) => (s.abandon(token), Settlement::Abandoned),
            (Err(_), None) => (broker.abandon(queue, token), Settlement::Abandoned),
        };
        if let Err(e) = settled {
            action = Settlement::LockLost;
            self.invoker.events().log(
                "host",
                LogLevel::Warning,
                format!(
                    "Message '{}' on queue '{queue}' could not be settled after function '{}' ran: {e}. \
                     The handler outlived the lock; Service Bus has already made the message available again.",
                    message.message_id, self.function.name
                ),
            );
        }
        self.invoker.events().emit(HostEvent::MessageSettled {
            queue: queue.clone(),
            message_id: message.message_id.clone(),
            delivery_count: message.delivery_count,
            action,
        });
    }

    /// Renews shortly before the lock expires, until `maxAutoLockRenewalDuration` has passed.
    fn renew_lock(
        &self,
        token: Uuid,
        mut locked_until: OffsetDateTime,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let broker = self.invoker.broker().clone();
        let events = self.invoker.events().clone();
        let queue = self.trigger.queue.clone();
        let max = self.options.max_auto_lock_renewal_duration;
        async move {
            let lock_duration = broker
                .queue_config(&queue)
                .map(|c| c.lock_duration)
                .unwrap_or(Duration::from_secs(60));
            let buffer = (lock_duration / 2).min(Duration::from_secs(10));
            let deadline = Instant::now() + max;
            loop {
                let remaining = Duration::try_from(locked_until - broker.now()).unwrap_or_default();
                let wait = remaining.saturating_sub(buffer);
                if Instant::now() + wait >= deadline {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => return,
                }
                match broker.renew_lock(&queue, token) {
                    Ok(until) => locked_until = until,
                    Err(e) => {
                        events.log(
                            "host",
                            LogLevel::Warning,
                            format!("Lock renewal for a message on queue '{queue}' failed: {e}"),
                        );
                        return;
                    }
                }
            }
        }
    }
}

/// `Data` and `Metadata` for one message, as ServiceBusTriggerBindingStrategy and the
/// custom-handler serializer produce them.
pub(crate) fn payload(
    function_name: &str,
    trigger: &ServiceBusTrigger,
    client_id: &str,
    m: &ReceivedMessage,
    now: OffsetDateTime,
) -> (Map<String, Value>, Value) {
    let body = &m.message.body;
    let mut data = Map::new();
    data.insert(
        trigger.binding.clone(),
        if trigger.binary {
            encoding::bytes(body)
        } else {
            encoding::string(&String::from_utf8_lossy(body))
        },
    );

    let mut md = Map::new();
    let mut put = |k: &str, v: Value| {
        md.insert(k.to_owned(), v);
    };
    let opt = |s: &Option<String>| s.as_deref().map(encoding::string);
    put(
        "DeliveryCount",
        encoding::integer(i64::from(m.delivery_count)),
    );
    if let Some(v) = opt(&m.dead_letter_source) {
        put("DeadLetterSource", v);
    }
    put("LockToken", encoding::string(&m.lock_token.to_string()));
    if let Some(exp) = m.expires_at {
        put("ExpiresAtUtc", encoding::date_time(exp));
        put("ExpiresAt", encoding::date_time_offset(exp));
    }
    put("EnqueuedTimeUtc", encoding::date_time(m.enqueued_time));
    put("EnqueuedTime", encoding::date_time_offset(m.enqueued_time));
    put("MessageId", encoding::string(&m.message_id));
    let msg = &m.message;
    if let Some(v) = opt(&msg.content_type) {
        put("ContentType", v);
    }
    if let Some(v) = opt(&msg.reply_to) {
        put("ReplyTo", v);
    }
    put("SequenceNumber", encoding::integer(m.sequence_number));
    if let Some(v) = opt(&msg.to) {
        put("To", v);
    }
    if let Some(v) = opt(&msg.subject) {
        put("Subject", v.clone());
        put("Label", v);
    }
    if let Some(v) = opt(&msg.correlation_id) {
        put("CorrelationId", v);
    }
    let props: Map<String, Value> = msg
        .application_properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    put("ApplicationProperties", Value::Object(props.clone()));
    put("UserProperties", Value::Object(props));
    if let Some(v) = opt(&msg.session_id) {
        put("SessionId", v);
    }
    if let Some(v) = opt(&msg.reply_to_session_id) {
        put("ReplyToSessionId", v);
    }
    if let Some(v) = opt(&msg.partition_key) {
        put("PartitionKey", v);
    }
    put(
        "Client",
        json!({
            "FullyQualifiedNamespace": trigger.namespace,
            "IsClosed": false,
            "TransportType": 0,
            "Identifier": client_id,
        }),
    );
    (data, encoding::metadata_with_sys(md, function_name, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use servicebus_emulator::OutgoingMessage;
    use time::macros::datetime;

    fn trigger(binary: bool) -> ServiceBusTrigger {
        ServiceBusTrigger {
            binding: "msg".into(),
            queue: "q".into(),
            sessions: false,
            binary,
            namespace: "myns.servicebus.windows.net".into(),
        }
    }

    fn message() -> ReceivedMessage {
        let mut props = indexmap::IndexMap::new();
        props.insert("traceparent".to_owned(), json!("00-abc-def-01"));
        ReceivedMessage {
            message: OutgoingMessage {
                body: Bytes::from_static(br#"{"op":"attach"}"#),
                content_type: Some("application/json".into()),
                correlation_id: Some("req-123".into()),
                subject: Some("attach".into()),
                application_properties: props,
                ..OutgoingMessage::default()
            },
            message_id: "m1".into(),
            sequence_number: 42,
            delivery_count: 1,
            enqueued_time: datetime!(2024-10-24 14:32:17.123 UTC),
            expires_at: None,
            lock_token: Uuid::nil(),
            locked_until: datetime!(2024-10-24 14:33:17 UTC),
            dead_letter_reason: None,
            dead_letter_error_description: None,
            dead_letter_source: None,
        }
    }

    #[test]
    fn metadata_follows_the_host() {
        let (data, md) = payload(
            "ProcessCommand",
            &trigger(false),
            "id-1",
            &message(),
            datetime!(2024-10-24 14:32:18 UTC),
        );
        assert_eq!(data["msg"], json!(r#""{\"op\":\"attach\"}""#));
        assert_eq!(md["DeliveryCount"], json!("1"));
        assert_eq!(md["SequenceNumber"], json!("42"));
        assert_eq!(md["MessageId"], json!("\"m1\""));
        assert_eq!(md["LockToken"], json!(format!("\"{}\"", Uuid::nil())));
        assert_eq!(md["EnqueuedTimeUtc"], json!("2024-10-24T14:32:17"));
        assert_eq!(md["EnqueuedTime"], json!("2024-10-24T14:32:17+00:00"));
        assert_eq!(md["ContentType"], json!("\"application/json\""));
        assert_eq!(md["Subject"], md["Label"]);
        assert_eq!(
            md["ApplicationProperties"]["traceparent"],
            json!("00-abc-def-01")
        );
        assert_eq!(md["UserProperties"], md["ApplicationProperties"]);
        assert_eq!(
            md["Client"]["FullyQualifiedNamespace"],
            json!("myns.servicebus.windows.net")
        );
        assert_eq!(md["sys"]["MethodName"], json!("ProcessCommand"));
        for absent in [
            "ExpiresAtUtc",
            "ExpiresAt",
            "SessionId",
            "ReplyTo",
            "To",
            "PartitionKey",
        ] {
            assert!(md.get(absent).is_none(), "{absent} should be omitted");
        }
    }

    #[test]
    fn binary_data_is_base64() {
        let (data, _) = payload(
            "F",
            &trigger(true),
            "id",
            &message(),
            datetime!(2024-10-24 0:00 UTC),
        );
        assert_eq!(data["msg"], json!("eyJvcCI6ImF0dGFjaCJ9"));
    }
}
