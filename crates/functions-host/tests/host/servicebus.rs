use std::time::Duration;

use bytes::Bytes;
use poolbroker_functions_host::{HostEvent, Settlement};
use serde_json::{Value, json};
use servicebus_emulator::{Broker, OutgoingMessage, QueueConfig};

use crate::common::{TestApp, eventually, next_event, sb_trigger, start};

const T: Duration = Duration::from_secs(10);

fn message(body: Value) -> OutgoingMessage {
    OutgoingMessage {
        body: Bytes::from(body.to_string()),
        ..OutgoingMessage::default()
    }
}

fn settled(e: &HostEvent) -> Option<(u32, Settlement)> {
    match e {
        HostEvent::MessageSettled {
            delivery_count,
            action,
            ..
        } => Some((*delivery_count, *action)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_the_documented_payload_and_completes_on_2xx() {
    let app = TestApp::new(json!({}));
    app.function("ProcessCommand", json!([sb_trigger("msg", "commands")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;

    let mut props = indexmap::IndexMap::new();
    props.insert(
        "traceparent".to_owned(),
        json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    broker
        .send(
            "commands",
            OutgoingMessage {
                body: Bytes::from_static(br#"{"op":"attach"}"#),
                message_id: Some("c0ffee".into()),
                content_type: Some("application/json".into()),
                correlation_id: Some("req-123".into()),
                subject: Some("attach".into()),
                reply_to: Some("replies".into()),
                application_properties: props,
                ..OutgoingMessage::default()
            },
        )
        .unwrap();

    let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    assert_eq!(settled(&e), Some((1, Settlement::Completed)));
    assert!(
        host.broker.peek_all("commands").unwrap().is_empty(),
        "completed message is gone"
    );

    let requests = app.invocations();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r["path"], "/ProcessCommand");
    assert_eq!(
        r["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(r["headers"]["x-azure-functions-hostversion"], "4.1036.1.1");
    assert_eq!(
        r["headers"]["user-agent"],
        "Azure-Functions-Host/4.1036.1.1"
    );
    let id = r["headers"]["x-azure-functions-invocationid"]
        .as_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let body = &r["body"];
    assert_eq!(body["Data"]["msg"], json!(r#""{\"op\":\"attach\"}""#));
    let md = &body["Metadata"];
    assert_eq!(md["DeliveryCount"], "1");
    assert_eq!(md["MessageId"], "\"c0ffee\"");
    assert_eq!(md["ContentType"], "\"application/json\"");
    assert_eq!(md["CorrelationId"], "\"req-123\"");
    assert_eq!(md["ReplyTo"], "\"replies\"");
    assert_eq!(md["Subject"], "\"attach\"");
    assert_eq!(md["Label"], "\"attach\"");
    assert!(
        md["SequenceNumber"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    let lock = md["LockToken"].as_str().unwrap();
    assert!(lock.starts_with('"') && uuid::Uuid::parse_str(lock.trim_matches('"')).is_ok());
    let enq = md["EnqueuedTimeUtc"].as_str().unwrap();
    assert_eq!(enq.len(), 19, "seconds precision, no zone: {enq}");
    assert_eq!(md["EnqueuedTime"].as_str().unwrap(), format!("{enq}+00:00"));
    assert_eq!(
        md["ApplicationProperties"]["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(md["UserProperties"], md["ApplicationProperties"]);
    assert_eq!(
        md["Client"]["FullyQualifiedNamespace"],
        "local-test.servicebus.windows.net"
    );
    assert_eq!(md["Client"]["IsClosed"], false);
    for absent in ["SessionId", "ExpiresAtUtc", "To", "PartitionKey"] {
        assert!(
            md.get(absent).is_none(),
            "{absent} must be omitted when null"
        );
    }
    assert_eq!(md["sys"]["MethodName"], "ProcessCommand");
    assert!(md["sys"]["UtcNow"].as_str().unwrap().ends_with('Z'));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_redelivered_then_dead_lettered() {
    let app = TestApp::new(json!({}));
    app.function("Poison", json!([sb_trigger("msg", "poison")]));
    let broker = Broker::new();
    broker.create_queue(
        "poison",
        QueueConfig {
            max_delivery_count: 3,
            ..QueueConfig::default()
        },
    );
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send("poison", message(json!({"respond": 503})))
        .unwrap();

    for expected in 1..=3 {
        let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
        assert_eq!(settled(&e), Some((expected, Settlement::Abandoned)));
    }
    let dead = eventually("dead-lettered message", T, || {
        broker.dead_letters("poison").ok().filter(|d| !d.is_empty())
    })
    .await;
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
    let counts: Vec<Value> = app
        .invocations()
        .iter()
        .map(|r| r["body"]["Metadata"]["DeliveryCount"].clone())
        .collect();
    assert_eq!(counts, vec![json!("1"), json!("2"), json!("3")]);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_response_fails_the_invocation() {
    let app = TestApp::new(json!({}));
    app.function("Plain", json!([sb_trigger("msg", "plain")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send(
            "plain",
            message(json!({"content_type": "text/plain", "until_delivery": 2})),
        )
        .unwrap();

    let failed = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::InvocationCompleted { .. })
    })
    .await;
    match failed {
        HostEvent::InvocationCompleted {
            succeeded, detail, ..
        } => {
            assert!(!succeeded);
            assert!(detail.contains("text/plain"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    assert_eq!(settled(&e), Some((1, Settlement::Abandoned)));
    let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    assert_eq!(settled(&e), Some((2, Settlement::Completed)));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_messages_arrive_one_at_a_time_in_order() {
    let app = TestApp::new(json!({}));
    let mut trigger = sb_trigger("msg", "orders");
    trigger["isSessionsEnabled"] = json!(true);
    app.function("Ordered", json!([trigger]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    assert!(broker.queue_config("orders").unwrap().requires_session);

    for i in 0..4 {
        for session in ["a", "b"] {
            broker
                .send(
                    "orders",
                    OutgoingMessage {
                        body: Bytes::from(json!({"sleep_ms": 40, "n": i}).to_string()),
                        session_id: Some(session.into()),
                        ..OutgoingMessage::default()
                    },
                )
                .unwrap();
        }
    }
    for _ in 0..8 {
        next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    }
    let requests = app.invocations();
    for session in ["a", "b"] {
        let mine: Vec<&Value> = requests
            .iter()
            .filter(|r| r["body"]["Metadata"]["SessionId"] == json!(format!("\"{session}\"")))
            .collect();
        let order: Vec<u64> = mine
            .iter()
            .map(|r| {
                let text: String =
                    serde_json::from_str(r["body"]["Data"]["msg"].as_str().unwrap()).unwrap();
                serde_json::from_str::<Value>(&text).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(order, vec![0, 1, 2, 3], "session {session} in order");
        // One at a time: each starts after the previous one's 40 ms of work.
        for pair in mine.windows(2) {
            let gap = pair[1]["at_ms"].as_u64().unwrap() - pair[0]["at_ms"].as_u64().unwrap();
            assert!(
                gap >= 40,
                "session {session}: overlapping invocations ({gap} ms apart)"
            );
        }
    }
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_fan_out_to_the_output_queue_and_logs_become_events() {
    let app = TestApp::new(json!({}));
    app.function(
        "Fan",
        json!([
            sb_trigger("msg", "fan-in"),
            { "type": "serviceBus", "direction": "out", "name": "results",
              "queueName": "fan-out", "connection": "ServiceBusConnection" }
        ]),
    );
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send(
            "fan-in",
            message(json!({
                "outputs": { "results": [ {"op": "attached"}, {"op": "updated"}, "plain text!" ] },
                "logs": ["hello from the handler"]
            })),
        )
        .unwrap();
    let log = next_event(
        &mut host.events,
        T,
        |e| matches!(e, HostEvent::Log { source, .. } if source == "Fan"),
    )
    .await;
    match log {
        HostEvent::Log { line, .. } => assert_eq!(line, "hello from the handler"),
        other => panic!("{other:?}"),
    }
    let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    assert_eq!(settled(&e), Some((1, Settlement::Completed)));

    let out = broker.peek_all("fan-out").unwrap();
    let bodies: Vec<String> = out
        .iter()
        .map(|m| String::from_utf8_lossy(&m.message.body).into_owned())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&bodies[0]).unwrap(),
        json!({"op": "attached"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&bodies[1]).unwrap(),
        json!({"op": "updated"})
    );
    assert_eq!(bodies[2], "plain text!");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_base64_string_output_is_sent_as_decoded_bytes() {
    let app = TestApp::new(json!({}));
    app.function(
        "Quirk",
        json!([
            sb_trigger("msg", "quirk-in"),
            { "type": "serviceBus", "direction": "out", "name": "out",
              "queueName": "quirk-out", "connection": "ServiceBusConnection" }
        ]),
    );
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send("quirk-in", message(json!({"outputs": {"out": "abcd"}})))
        .unwrap();
    next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    let out = broker.peek_all("quirk-out").unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message.body.as_ref(), &[0x69, 0xb7, 0x1d]);
    host.stop().await;
}

fn short_lock_app(renewal: &str) -> (TestApp, Broker) {
    let app = TestApp::new(json!({
        "extensions": { "serviceBus": { "maxConcurrentCalls": 4, "maxAutoLockRenewalDuration": renewal } }
    }));
    app.function("Long", json!([sb_trigger("msg", "long")]));
    let broker = Broker::new();
    broker.create_queue(
        "long",
        QueueConfig {
            lock_duration: Duration::from_millis(300),
            ..QueueConfig::default()
        },
    );
    (app, broker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_is_renewed_while_the_handler_runs() {
    let (app, broker) = short_lock_app("00:05:00");
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send("long", message(json!({"sleep_ms": 900})))
        .unwrap();
    let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
    assert_eq!(settled(&e), Some((1, Settlement::Completed)));
    assert_eq!(
        app.invocations().len(),
        1,
        "no redelivery while the lock was renewed"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_outliving_the_lock_reports_lock_lost_and_the_message_runs_again() {
    // Zero renewal: the 300 ms lock expires while the handler works for 900 ms.
    let (app, broker) = short_lock_app("00:00:00");
    let mut host = start(app.config(), broker.clone()).await;
    broker
        .send(
            "long",
            message(json!({"sleep_ms": 900, "when_delivery": 1})),
        )
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = next_event(&mut host.events, T, |e| settled(e).is_some()).await;
        seen.push(settled(&e).unwrap());
    }
    seen.sort_by_key(|(count, _)| *count);
    assert_eq!(
        seen,
        vec![(1, Settlement::LockLost), (2, Settlement::Completed)]
    );
    host.stop().await;
}
