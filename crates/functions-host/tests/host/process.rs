use std::time::Duration;

use bytes::Bytes;
use poolbroker_functions_host::{HostError, HostEvent, Settlement};
use serde_json::json;
use servicebus_emulator::{Broker, OutgoingMessage};
use tokio_util::sync::CancellationToken;

use crate::common::{TestApp, eventually, next_event, sb_trigger, start};

const T: Duration = Duration::from_secs(10);

fn send(broker: &Broker, queue: &str, body: serde_json::Value) {
    broker
        .send(
            queue,
            OutgoingMessage {
                body: Bytes::from(body.to_string()),
                ..OutgoingMessage::default()
            },
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_gets_azure_environment_arguments_and_cwd() {
    let app = TestApp::new(json!({}));
    app.function("Env", json!([sb_trigger("msg", "env")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    let ready = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::HandlerReady { .. })
    })
    .await;
    send(&broker, "env", json!({}));
    let r = eventually("invocation", T, || app.invocations().pop()).await;
    let env = &r["env"];
    let port = env["FUNCTIONS_CUSTOMHANDLER_PORT"].as_str().unwrap();
    assert!(matches!(ready, HostEvent::HandlerReady { port: p, .. } if p.to_string() == port));
    assert_eq!(env["FUNCTIONS_HTTPWORKER_PORT"], port);
    assert_eq!(
        env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"],
        env["FUNCTIONS_HTTPWORKER_ID"]
    );
    assert!(uuid::Uuid::parse_str(env["FUNCTIONS_HTTPWORKER_ID"].as_str().unwrap()).is_ok());
    assert_eq!(
        env["FUNCTIONS_APP_ROOT_PATH"],
        app.root.display().to_string()
    );
    assert_eq!(env["args"], json!(["--from-host-json", "expanded"]));
    let cwd = std::fs::canonicalize(env["cwd"].as_str().unwrap()).unwrap();
    assert_eq!(cwd, std::fs::canonicalize(&app.root).unwrap());
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_invocation_restarts_the_handler_and_the_message_is_redelivered() {
    let app = TestApp::new(json!({}));
    app.function("Crashy", json!([sb_trigger("msg", "crashy")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    send(
        &broker,
        "crashy",
        json!({"crash": true, "when_delivery": 1}),
    );

    let exited = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::HandlerExited { .. })
    })
    .await;
    assert!(matches!(exited, HostEvent::HandlerExited { code: Some(1) }));
    let stderr = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::Log { line, .. } if line.contains("Language Worker Process exited"))
    })
    .await;
    assert!(
        format!("{stderr:?}").contains("crashing as instructed"),
        "{stderr:?}"
    );
    next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::HandlerReady { .. })
    })
    .await;
    let settled = next_event(&mut host.events, T, |e| {
        matches!(
            e,
            HostEvent::MessageSettled {
                action: Settlement::Completed,
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        settled,
        HostEvent::MessageSettled {
            delivery_count: 2,
            ..
        }
    ));

    let requests = app.invocations();
    assert_eq!(requests.len(), 2);
    assert_ne!(
        requests[0]["pid"], requests[1]["pid"],
        "a new process served the redelivery"
    );
    assert!(broker.peek_all("crashy").unwrap().is_empty());
    assert!(broker.dead_letters("crashy").unwrap().is_empty());
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_timeout_kills_and_restarts_the_handler() {
    let app = TestApp::new(json!({ "functionTimeout": "00:00:01" }));
    app.function("Slow", json!([sb_trigger("msg", "slow")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    send(
        &broker,
        "slow",
        json!({"sleep_ms": 5000, "when_delivery": 1}),
    );

    // The kill and the failed invocation race each other: accept them in either order.
    let (mut failed, mut exited) = (None, false);
    while failed.is_none() || !exited {
        let event = next_event(&mut host.events, T, |e| {
            matches!(
                e,
                HostEvent::InvocationCompleted { .. } | HostEvent::HandlerExited { code: None }
            )
        })
        .await;
        match event {
            HostEvent::HandlerExited { .. } => exited = true,
            other => failed = Some(other),
        }
    }
    let failed = failed.unwrap();
    assert!(
        matches!(&failed, HostEvent::InvocationCompleted { succeeded: false, detail, .. }
            if detail.contains("Timeout value of 00:00:01")),
        "{failed:?}"
    );
    next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::HandlerReady { .. })
    })
    .await;
    let done = next_event(&mut host.events, T, |e| {
        matches!(
            e,
            HostEvent::MessageSettled {
                action: Settlement::Completed,
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        done,
        HostEvent::MessageSettled {
            delivery_count: 2,
            ..
        }
    ));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_error_exits_stop_the_host() {
    let app = TestApp::new(json!({}));
    app.function("Never", json!([sb_trigger("msg", "never")]));
    let mut config = app.config();
    config
        .app_settings
        .insert("TEST_HANDLER_EXIT_AT_START".into(), "3".into());
    let err = poolbroker_functions_host::start(config, Broker::new(), CancellationToken::new())
        .await
        .err()
        .expect("the host gives up");
    match &err {
        HostError::HandlerRestartLimit { last_exit, stderr } => {
            assert_eq!(last_exit, "exit code 3");
            assert!(
                stderr.iter().any(|l| l.contains("exiting at start")),
                "{stderr:?}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_200_is_an_intentional_restart_that_does_not_count() {
    let app = TestApp::new(json!({}));
    app.function("Restarter", json!([sb_trigger("msg", "restarter")]));
    let broker = Broker::new();
    let mut host = start(app.config(), broker.clone()).await;
    // Four intentional restarts: more than the error threshold of three.
    send(
        &broker,
        "restarter",
        json!({"exit_code": 200, "until_delivery": 5}),
    );
    let mut exits = 0;
    let done = loop {
        let e = next_event(&mut host.events, T, |_| true).await;
        match e {
            HostEvent::HandlerExited { code } => {
                assert_eq!(code, Some(200));
                exits += 1;
            }
            HostEvent::MessageSettled {
                action: Settlement::Completed,
                delivery_count,
                ..
            } => break delivery_count,
            _ => {}
        }
    };
    assert_eq!(exits, 4);
    assert_eq!(done, 5);
    host.stop().await;
}
