//! The REST API over real HTTP on 127.0.0.1.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use poolbroker_servicebus_emulator::{
    Broker, OutgoingMessage, QueueConfig, RestConfig, sas_token, serve,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::oneshot;

const NS: &str = "poolbroker-local.servicebus.windows.net";
const KEY_NAME: &str = "RootManageSharedAccessKey";
const KEY: &str = "bG9jYWwtZGV2LWtleQ==";

struct Emulator {
    base: String,
    broker: Broker,
    client: reqwest::Client,
    _shutdown: oneshot::Sender<()>,
}

async fn start(bearer: Option<&'static str>) -> Emulator {
    let broker = Broker::new();
    broker.create_queue("work", QueueConfig::default());
    broker.create_queue(
        "fragile",
        QueueConfig {
            max_delivery_count: 1,
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let config = RestConfig {
        namespace: NS.into(),
        sas_keys: vec![(KEY_NAME.into(), KEY.into())],
        bearer_validator: bearer.map(|good| {
            Box::new(move |token: &str| token == good)
                as poolbroker_servicebus_emulator::BearerValidator
        }),
    };
    tokio::spawn(serve(listener, broker.clone(), config, async move {
        let _ = rx.await;
    }));
    Emulator {
        base,
        broker,
        client: reqwest::Client::new(),
        _shutdown: tx,
    }
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

impl Emulator {
    /// Signs like the Rust crate: `sr` is the real namespace URL of the request.
    fn sas(&self, path_and_query: &str) -> String {
        sas_token(
            &format!("https://{NS}{path_and_query}"),
            KEY_NAME,
            KEY,
            in_an_hour(),
        )
    }

    fn request(&self, method: Method, path_and_query: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path_and_query}", self.base))
            .header("Authorization", self.sas(path_and_query))
    }

    /// Follows a `Location` lock URL, signing it as the crate does (sr = that URL).
    fn lock_request(&self, method: Method, location: &str) -> reqwest::RequestBuilder {
        self.client.request(method, location).header(
            "Authorization",
            sas_token(location, KEY_NAME, KEY, in_an_hour()),
        )
    }

    async fn send(&self, queue: &str, body: &str, broker_properties: &str) -> StatusCode {
        self.request(Method::POST, &format!("/{queue}/messages"))
            .header("BrokerProperties", broker_properties)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn peek_lock(&self, path: &str) -> reqwest::Response {
        self.request(Method::POST, path).send().await.unwrap()
    }
}

fn broker_properties(response: &reqwest::Response) -> Value {
    let raw = response.headers()["brokerproperties"].to_str().unwrap();
    serde_json::from_str(raw).unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn assert_service_bus_error(response: reqwest::Response, status: StatusCode, detail: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/xml; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with(&format!("<Error><Code>{}</Code><Detail>", status.as_u16())),
        "{body}"
    );
    assert!(body.contains(detail), "expected '{detail}' in {body}");
}

#[tokio::test]
async fn send_peek_lock_complete_round_trip() {
    let emu = start(None).await;
    let response = emu
        .request(Method::POST, "/work/messages")
        .header("Content-Type", "application/json")
        .header(
            "BrokerProperties",
            r#"{"MessageId":"m-1","CorrelationId":"corr-9","Label":"attach-result","ReplyTo":"replies","TimeToLive":600.0,"ScheduledEnqueueTimeUtc":"Sun, 22 Nov 2020 22:09:59 +0000"}"#,
        )
        .header("Command", "\"attach\"")
        .header("Priority", "5")
        .body(r#"{"op":"attach"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let stored = emu.broker.peek_all("work").unwrap();
    assert_eq!(stored.len(), 1);
    let m = &stored[0].message;
    assert_eq!(m.body, bytes::Bytes::from(r#"{"op":"attach"}"#));
    assert_eq!(m.message_id.as_deref(), Some("m-1"));
    assert_eq!(m.correlation_id.as_deref(), Some("corr-9"));
    assert_eq!(m.subject.as_deref(), Some("attach-result"));
    assert_eq!(m.reply_to.as_deref(), Some("replies"));
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    assert_eq!(m.time_to_live, Some(Duration::from_secs(600)));
    assert_eq!(
        m.scheduled_enqueue_time,
        Some(time::macros::datetime!(2020-11-22 22:09:59 UTC))
    );
    assert_eq!(m.application_properties["command"], Value::from("attach"));
    assert_eq!(m.application_properties["priority"], Value::from(5));

    let response = emu.peek_lock("/work/messages/head?timeout=5").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let props = broker_properties(&response);
    assert_eq!(props["DeliveryCount"], 1);
    assert_eq!(props["MessageId"], "m-1");
    assert_eq!(props["CorrelationId"], "corr-9");
    assert_eq!(props["SequenceNumber"], 1);
    assert_eq!(props["State"], "Active");
    assert_eq!(props["TimeToLive"], 600.0);
    assert!(props["LockedUntilUtc"].as_str().unwrap().ends_with(" GMT"));
    let lock_token = props["LockToken"].as_str().unwrap().to_owned();
    let loc = location(&response);
    assert_eq!(loc, format!("{}/work/messages/1/{lock_token}", emu.base));
    assert_eq!(response.headers()["command"], "\"attach\"");
    assert_eq!(response.headers()["priority"], "5");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), r#"{"op":"attach"}"#);

    let completed = emu.lock_request(Method::DELETE, &loc).send().await.unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    assert!(emu.broker.peek_all("work").unwrap().is_empty());
    let again = emu.lock_request(Method::DELETE, &loc).send().await.unwrap();
    assert_service_bus_error(again, StatusCode::GONE, "The lock supplied is invalid").await;
}

#[tokio::test]
async fn independently_computed_signature_is_accepted() {
    let emu = start(None).await;
    // As azure_messaging_servicebus 0.21 builds it: form-urlencoded sr incl. the query string.
    let url = format!("https://{NS}/work/messages");
    let sr: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let se = in_an_hour().unix_timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{sr}\n{se}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    let token = format!("SharedAccessSignature sr={sr}&sig={sig}&se={se}&skn={KEY_NAME}");
    let response = emu
        .client
        .post(format!("{}/work/messages", emu.base))
        .header("Authorization", token)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(emu.broker.peek_all("work").unwrap().len(), 1);
}

#[tokio::test]
async fn bad_credentials_are_rejected_with_401() {
    let emu = start(None).await;
    let url = format!("https://{NS}/work/messages");
    let cases = [
        (
            sas_token(&url, KEY_NAME, "wrong-key", in_an_hour()),
            "InvalidSignature",
        ),
        (
            sas_token(
                &url,
                KEY_NAME,
                KEY,
                OffsetDateTime::now_utc() - time::Duration::minutes(1),
            ),
            "ExpiredToken",
        ),
        (
            sas_token(&url, "NoSuchPolicy", KEY, in_an_hour()),
            "NoSuchPolicy",
        ),
        (
            sas_token(
                "https://other.servicebus.windows.net/work",
                KEY_NAME,
                KEY,
                in_an_hour(),
            ),
            "InvalidAudience",
        ),
        (
            sas_token(
                &format!("https://{NS}/fragile"),
                KEY_NAME,
                KEY,
                in_an_hour(),
            ),
            "InvalidAudience",
        ),
        (
            "SharedAccessSignature sr=x&sig=y".to_owned(),
            "MalformedToken",
        ),
        ("Bearer some-token".to_owned(), "InvalidToken"),
    ];
    for (token, detail) in cases {
        let response = emu
            .client
            .post(format!("{}/work/messages", emu.base))
            .header("Authorization", token)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_service_bus_error(response, StatusCode::UNAUTHORIZED, detail).await;
    }
    let missing = emu
        .client
        .post(format!("{}/work/messages", emu.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_service_bus_error(missing, StatusCode::UNAUTHORIZED, "MissingToken").await;
    assert!(emu.broker.peek_all("work").unwrap().is_empty());
}

#[tokio::test]
async fn bearer_tokens_go_through_the_validator() {
    let emu = start(Some("good-token")).await;
    for (token, status) in [
        ("good-token", StatusCode::CREATED),
        ("bad-token", StatusCode::UNAUTHORIZED),
    ] {
        let response = emu
            .client
            .post(format!("{}/work/messages", emu.base))
            .bearer_auth(token)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{token}");
    }
    assert_eq!(emu.broker.peek_all("work").unwrap().len(), 1);
}

#[tokio::test]
async fn unlock_redelivers_and_renew_extends_the_lock() {
    let emu = start(None).await;
    assert_eq!(emu.send("work", "a", "{}").await, StatusCode::CREATED);
    let first = emu.peek_lock("/work/messages/head?timeout=0").await;
    let loc = location(&first);
    let first_until = emu.broker.peek_all("work").unwrap()[0].locked_until;

    tokio::time::sleep(Duration::from_millis(20)).await;
    let renewed = emu.lock_request(Method::POST, &loc).send().await.unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    assert!(emu.broker.peek_all("work").unwrap()[0].locked_until > first_until);

    let unlocked = emu.lock_request(Method::PUT, &loc).send().await.unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    let second = emu.peek_lock("/work/messages/head?timeout=0").await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(broker_properties(&second)["DeliveryCount"], 2);

    let stale = emu.lock_request(Method::POST, &loc).send().await.unwrap();
    assert_service_bus_error(stale, StatusCode::GONE, "lock").await;
}

#[tokio::test]
async fn receive_and_delete_and_empty_queue() {
    let emu = start(None).await;
    assert_eq!(emu.send("work", "gone", "{}").await, StatusCode::CREATED);
    let taken = emu
        .request(Method::DELETE, "/work/messages/head?timeout=0")
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::OK);
    assert!(taken.headers().get("location").is_none());
    assert_eq!(taken.text().await.unwrap(), "gone");
    let empty = emu
        .request(Method::DELETE, "/work/messages/head?timeout=0")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    let empty = emu.peek_lock("/work/messages/head?timeout=0").await;
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn peek_lock_waits_for_a_send() {
    let emu = start(None).await;
    let broker = emu.broker.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        broker
            .send(
                "work",
                OutgoingMessage {
                    body: "late".into(),
                    ..Default::default()
                },
            )
            .unwrap();
    });
    let response = emu.peek_lock("/work/messages/head?timeout=5").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.text().await.unwrap(), "late");
}

#[tokio::test]
async fn dead_letter_queue_round_trip() {
    let emu = start(None).await;
    assert_eq!(
        emu.send("fragile", "poison", r#"{"MessageId":"p"}"#).await,
        StatusCode::CREATED
    );
    let locked = emu.peek_lock("/fragile/messages/head?timeout=0").await;
    let unlocked = emu
        .lock_request(Method::PUT, &location(&locked))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(
        emu.peek_lock("/fragile/messages/head?timeout=0")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let dead = emu
        .peek_lock("/fragile/$DeadLetterQueue/messages/head?timeout=0")
        .await;
    assert_eq!(dead.status(), StatusCode::CREATED);
    assert_eq!(
        dead.headers()["deadletterreason"],
        "\"MaxDeliveryCountExceeded\""
    );
    assert_eq!(
        dead.headers()["deadlettererrordescription"],
        "\"Message could not be consumed after 1 delivery attempts.\""
    );
    let loc = location(&dead);
    assert!(
        loc.contains("/fragile/$DeadLetterQueue/messages/1/"),
        "{loc}"
    );
    assert_eq!(broker_properties(&dead)["MessageId"], "p");
    let unlocked = emu.lock_request(Method::PUT, &loc).send().await.unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);

    let taken = emu
        .request(
            Method::DELETE,
            "/fragile/$DeadLetterQueue/messages/head?timeout=0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::OK);
    assert_eq!(taken.text().await.unwrap(), "poison");
    assert!(emu.broker.dead_letters("fragile").unwrap().is_empty());
}

#[tokio::test]
async fn unknown_queue_and_bad_input() {
    let emu = start(None).await;
    let response = emu
        .request(Method::POST, "/nope/messages")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_service_bus_error(
        response,
        StatusCode::NOT_FOUND,
        "'sb://poolbroker-local.servicebus.windows.net/nope' could not be found",
    )
    .await;

    let response = emu
        .request(Method::POST, "/work/messages")
        .header(
            "BrokerProperties",
            r#"{"ScheduledEnqueueTimeUtc":"tomorrow"}"#,
        )
        .body("x")
        .send()
        .await
        .unwrap();
    assert_service_bus_error(
        response,
        StatusCode::BAD_REQUEST,
        "BrokerProperties.ScheduledEnqueueTimeUtc",
    )
    .await;

    let response = emu
        .request(Method::DELETE, "/work/messages/1/not-a-guid")
        .send()
        .await
        .unwrap();
    assert_service_bus_error(response, StatusCode::BAD_REQUEST, "lock token").await;
}

#[tokio::test(start_paused = true)]
async fn scheduled_message_is_invisible_until_due() {
    let emu = start(None).await;
    let due = emu.broker.now() + Duration::from_secs(90);
    let props = format!(
        r#"{{"ScheduledEnqueueTimeUtc":"{}"}}"#,
        due.format(&time::format_description::well_known::Rfc2822)
            .unwrap()
    );
    assert_eq!(emu.send("work", "later", &props).await, StatusCode::CREATED);
    assert_eq!(
        emu.peek_lock("/work/messages/head?timeout=0")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let start = tokio::time::Instant::now();
    let response = emu.peek_lock("/work/messages/head?timeout=120").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let waited = start.elapsed();
    // RFC 2822 carries whole seconds, so the due time may be up to 1 s earlier.
    assert!(
        waited > Duration::from_secs(88) && waited <= Duration::from_secs(90),
        "{waited:?}"
    );
    assert_eq!(response.text().await.unwrap(), "later");
}
