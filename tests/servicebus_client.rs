//! poolbroker's Service Bus sender (the real `azure_messaging_servicebus` crate over our transport)
//! against the Service Bus emulator's REST API on 127.0.0.1.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azure_messaging_servicebus::service_bus::QueueClient;
use poolbroker::credential::StaticToken;
use poolbroker::servicebus::{
    MessageSender, OutboundMessage, ReqwestTransport, ServiceBusSettings,
};
use servicebus_emulator::{Broker, QueueConfig, RestConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const NS: &str = "poolbroker-local.servicebus.windows.net";
const KEY_NAME: &str = "RootManageSharedAccessKey";
const KEY: &str = "bG9jYWwtZGV2LWtleQ==";
const QUEUE: &str = "pool-replies";

struct Emulator {
    endpoint: String,
    broker: Broker,
    _shutdown: oneshot::Sender<()>,
}

async fn start_emulator(bearer: Option<&'static str>) -> Emulator {
    let broker = Broker::new();
    broker.create_queue(QUEUE, QueueConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let config = RestConfig {
        namespace: NS.into(),
        sas_keys: vec![(KEY_NAME.into(), KEY.into())],
        bearer_validator: bearer.map(|good| {
            Box::new(move |token: &str| token == good) as servicebus_emulator::BearerValidator
        }),
    };
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(servicebus_emulator::serve(
        listener,
        broker.clone(),
        config,
        async move {
            let _ = rx.await;
        },
    ));
    Emulator {
        endpoint,
        broker,
        _shutdown: tx,
    }
}

fn settings(vars: &[(&str, String)]) -> ServiceBusSettings {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    ServiceBusSettings::from_lookup(move |name| map.get(name).cloned()).unwrap()
}

fn sas_settings(endpoint: &str, key: &str) -> ServiceBusSettings {
    settings(&[
        (
            "ServiceBusConnection",
            format!("Endpoint=sb://{NS}/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={key}"),
        ),
        ("POOLBROKER_SERVICEBUS_ENDPOINT", endpoint.to_owned()),
    ])
}

fn identity_settings(endpoint: &str) -> ServiceBusSettings {
    settings(&[
        (
            "ServiceBusConnection__fullyQualifiedNamespace",
            NS.to_owned(),
        ),
        ("POOLBROKER_SERVICEBUS_ENDPOINT", endpoint.to_owned()),
    ])
}

#[tokio::test]
async fn sas_send_reaches_the_broker_with_every_property() {
    let emu = start_emulator(None).await;
    let sender = MessageSender::new(&sas_settings(&emu.endpoint, KEY)).unwrap();
    let scheduled = time::macros::datetime!(2031-05-04 03:02:01 UTC);
    sender
        .send(
            QUEUE,
            OutboundMessage {
                body: r#"{"status":"attached"}"#.into(),
                content_type: Some("application/json".into()),
                message_id: Some("reply-1".into()),
                correlation_id: Some("cmd-42".into()),
                subject: Some("attach-result".into()),
                scheduled_enqueue_time: Some(scheduled),
                time_to_live: Some(Duration::from_secs(600)),
                application_properties: vec![
                    ("Diagnostic-Id".into(), "00-abc-def-01".into()),
                    ("command".into(), "attach".into()),
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The clone shares the cached queue client and still works.
    sender
        .clone()
        .send(
            QUEUE,
            OutboundMessage {
                body: "second".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let stored = emu.broker.peek_all(QUEUE).unwrap();
    assert_eq!(stored.len(), 2);
    let m = &stored[0].message;
    assert_eq!(m.body, bytes::Bytes::from(r#"{"status":"attached"}"#));
    assert_eq!(stored[0].message_id, "reply-1");
    assert_eq!(m.correlation_id.as_deref(), Some("cmd-42"));
    assert_eq!(m.subject.as_deref(), Some("attach-result"));
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    assert_eq!(m.scheduled_enqueue_time, Some(scheduled));
    assert_eq!(m.time_to_live, Some(Duration::from_secs(600)));
    // HTTP/1 servers see header names case-insensitively; the emulator records them lower-cased.
    assert_eq!(m.application_properties["diagnostic-id"], "00-abc-def-01");
    assert_eq!(m.application_properties["command"], "attach");
    assert_eq!(m.application_properties.len(), 2);
    // A generated message id, the same on every retry.
    assert_eq!(stored[1].message_id.len(), 32);
}

#[tokio::test]
async fn wrong_key_is_a_permanent_401_naming_the_queue() {
    let emu = start_emulator(None).await;
    let sender = MessageSender::new(&sas_settings(&emu.endpoint, "not-the-key")).unwrap();
    let err = sender
        .send(
            QUEUE,
            OutboundMessage {
                body: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    assert_eq!(err.queue(), QUEUE);
    let text = err.to_string();
    assert!(
        text.contains("'pool-replies'") && text.contains("401") && text.contains("permanent"),
        "{text}"
    );
    assert!(!text.contains("not-the-key"), "{text}");
    assert!(emu.broker.peek_all(QUEUE).unwrap().is_empty());
}

#[tokio::test]
async fn unknown_queue_is_a_permanent_404() {
    let emu = start_emulator(None).await;
    let sender = MessageSender::new(&sas_settings(&emu.endpoint, KEY)).unwrap();
    let err = sender
        .send("no-such-queue", OutboundMessage::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_transient());
    assert_eq!(err.queue(), "no-such-queue");
}

#[tokio::test]
async fn bearer_mode_sends_the_provider_token() {
    let emu = start_emulator(Some("entra-token")).await;
    let settings = identity_settings(&emu.endpoint);
    let good =
        MessageSender::with_token_provider(&settings, Arc::new(StaticToken::new("entra-token")))
            .unwrap();
    good.send(
        QUEUE,
        OutboundMessage {
            body: "via identity".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        emu.broker.peek_all(QUEUE).unwrap()[0].message.body,
        bytes::Bytes::from("via identity")
    );

    let bad = MessageSender::with_token_provider(&settings, Arc::new(StaticToken::new("stolen")))
        .unwrap();
    let err = bad
        .send(QUEUE, OutboundMessage::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    assert_eq!(emu.broker.peek_all(QUEUE).unwrap().len(), 1);
}

#[tokio::test]
async fn transient_failures_are_retried_three_times_at_most() {
    let calls = Arc::new(AtomicUsize::new(0));
    let failures_before_success = Arc::new(AtomicUsize::new(2));
    let app = {
        let calls = calls.clone();
        let failures = failures_before_success.clone();
        axum::Router::new().route(
            "/{queue}/messages",
            axum::routing::post(move || {
                let calls = calls.clone();
                let failures = failures.clone();
                async move {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    if n < failures.load(Ordering::SeqCst) {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::CREATED
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sender = MessageSender::new(&sas_settings(&endpoint, KEY)).unwrap();

    sender
        .send(QUEUE, OutboundMessage::default())
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    calls.store(0, Ordering::SeqCst);
    failures_before_success.store(usize::MAX, Ordering::SeqCst);
    let err = sender
        .send(QUEUE, OutboundMessage::default())
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Bind and drop to get a loopback port with nothing listening.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sender =
        MessageSender::new(&sas_settings(&format!("http://127.0.0.1:{port}"), KEY)).unwrap();
    let err = sender
        .send(QUEUE, OutboundMessage::default())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.status(), None);
    assert!(err.to_string().contains("'pool-replies'"), "{err}");
}

#[tokio::test]
async fn header_names_keep_title_case_on_the_wire() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let capture = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the headers ended");
            raw.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    });
    let sender = MessageSender::new(&sas_settings(&endpoint, KEY)).unwrap();
    sender
        .send(
            QUEUE,
            OutboundMessage {
                application_properties: vec![("Diagnostic-Id".into(), "00-abc".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let head = capture.await.unwrap();
    assert!(
        head.starts_with("POST /pool-replies/messages HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nDiagnostic-Id: \"00-abc\"\r\n"), "{head}");
    assert!(head.contains("\r\nAuthorization: SharedAccessSignature sr=https%3A%2F%2Fpoolbroker-local.servicebus.windows.net%2Fpool-replies%2Fmessages&"), "{head}");
}

/// The emulator speaks the protocol the real crate parses: BrokerProperties (incl. the required
/// LockedUntilUtc), custom properties and the Location-driven lock operations.
#[tokio::test]
async fn real_crate_peek_lock_renew_and_complete_against_the_emulator() {
    let emu = start_emulator(None).await;
    let sender = MessageSender::new(&sas_settings(&emu.endpoint, KEY)).unwrap();
    sender
        .send(
            QUEUE,
            OutboundMessage {
                body: "work".into(),
                message_id: Some("m-7".into()),
                application_properties: vec![("command".into(), "attach".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let transport =
        ReqwestTransport::new(reqwest::Client::new(), Some(emu.endpoint.parse().unwrap()));
    let client = QueueClient::new(
        Arc::new(transport),
        "poolbroker-local",
        QUEUE,
        KEY_NAME,
        KEY,
    )
    .unwrap();
    let locked = client
        .peek_lock_message2(Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(u16::from(*locked.status()), 201);
    assert_eq!(locked.body(), "work");
    let props = locked
        .broker_properties()
        .expect("BrokerProperties parsed by the crate");
    assert_eq!(props.message_id, "m-7");
    assert_eq!(props.delivery_count, 1);
    assert_eq!(props.sequence_number, 1);
    assert!(props.locked_until_utc > emu.broker.now());
    let custom: azure_core_legacy::headers::Headers = locked.custom_properties().unwrap();
    assert_eq!(
        custom.get_optional_str(&"command".into()),
        Some("\"attach\"")
    );

    locked.renew_message_lock().await.unwrap();
    locked.delete_message().await.unwrap();
    assert!(emu.broker.peek_all(QUEUE).unwrap().is_empty());
    let err = locked.delete_message().await.unwrap_err();
    assert!(err.to_string().contains("410"), "{err}");

    let empty = client
        .peek_lock_message2(Some(Duration::from_secs(0)))
        .await
        .unwrap();
    assert_eq!(u16::from(*empty.status()), 204);
}
