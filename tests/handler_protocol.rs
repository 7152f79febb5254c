//! The custom-handler protocol end to end: the real `poolbroker` binary started by the local
//! Functions host, fed by the Service Bus emulator, a timer and an HTTP trigger, talking to the
//! ARM emulator. What is checked is what Azure would do with the handler's answers.

mod common;

use std::time::Duration;

use azureml_emulator::{FaultKind, FaultRule};
use common::*;
use functions_host::{HostEvent, Settlement};
use serde_json::{Value, json};
use tokio::sync::broadcast;

type Settled = (String, u32, Settlement);

/// Settlements of messages on `pool-commands`, as `(message id, delivery count, action)`.
fn settled_on_commands(e: &HostEvent) -> Option<Settled> {
    match e {
        HostEvent::MessageSettled {
            queue,
            message_id,
            delivery_count,
            action,
        } if queue == COMMANDS => Some((message_id.clone(), *delivery_count, *action)),
        _ => None,
    }
}

async fn next_settlement(events: &mut broadcast::Receiver<HostEvent>) -> Settled {
    next_event(events, WAIT, settled_on_commands)
        .await
        .expect("a settlement on pool-commands")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_bus_properties_survive_the_hosts_double_encoding() {
    let world = start().await;
    // A reply queue of the sender's choosing, and ids that only survive correct decoding of the
    // host's JSON-in-JSON strings (quotes, backslashes, non-ASCII, a number-looking id).
    world
        .broker
        .create_queue("team-a-replies", Default::default());
    let correlation_id = r#"order "42" \ päivä"#;
    let body = envelope("ListPools", json!({})).to_string();
    send_with(&world, &body, |m| {
        m.correlation_id = Some(correlation_id.into());
        m.reply_to = Some("team-a-replies".into());
    });
    let reply = receive_matching(&world, "team-a-replies", WAIT, |_| true)
        .await
        .expect("a reply on the sender's ReplyTo queue");
    assert_eq!(
        reply.message.correlation_id.as_deref(),
        Some(correlation_id)
    );
    let reply = json_body(&reply);
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert_eq!(reply["correlationId"], correlation_id);

    // No CorrelationId: the reply is correlated by the MessageId instead.
    let numeric_id = "12345678901234567890";
    send_with(&world, &body, |m| {
        m.correlation_id = None;
        m.message_id = Some(numeric_id.into());
    });
    let reply = common::reply(&world, numeric_id).await;
    assert_eq!(reply["correlationId"], numeric_id, "{reply:#}");

    // Everything the host passed reaches the rejected entry of a permanent failure intact.
    let show = envelope("ShowPool", json!({"name": "spark-none"})).to_string();
    let id = send_with(&world, &show, |m| {
        m.content_type = Some("application/json; charset=utf-8".into());
        m.application_properties
            .insert("tenant".into(), json!("contoso \"west\""));
        m.application_properties.insert("attempt".into(), json!(3));
    });
    let rejected = rejected(&world, &id).await;
    let original = &rejected["originalMessage"];
    assert_eq!(original["body"], show);
    assert_eq!(original["correlationId"], id.as_str());
    assert_eq!(original["replyTo"], REPLIES);
    assert_eq!(original["contentType"], "application/json; charset=utf-8");
    assert_eq!(original["deliveryCount"], 1);
    assert!(
        original["messageId"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        original["applicationProperties"]["tenant"], "contoso \"west\"",
        "{rejected:#}"
    );
    assert_eq!(original["applicationProperties"]["attempt"], "3");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_answer_completes_the_message() {
    let world = start().await;
    let mut events = world.host.subscribe();
    let id = send_json(&world, &attach("spark-done", POOL1, None));
    let reply = common::reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    // The host reports the invocation (HTTP 2xx from the handler), then completes the message.
    let invocation = next_event(&mut events, WAIT, |e| match e {
        HostEvent::InvocationCompleted {
            function,
            succeeded,
            detail,
            ..
        } if function == COMMANDS => Some((*succeeded, detail.clone())),
        _ => None,
    })
    .await;
    assert_eq!(invocation, Some((true, "Succeeded".to_owned())));
    let (_, count, action) = next_settlement(&mut events).await;
    assert_eq!((count, action), (1, Settlement::Completed));
    assert!(pending_commands(&world, &id).is_empty(), "message is gone");
    assert!(world.broker.dead_letters(COMMANDS).unwrap().is_empty());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_redelivered_then_dead_lettered_after_max_delivery_count() {
    let world = start().await;
    let mut events = world.host.subscribe();
    // Every ARM call fails with a 5xx the ARM client does not retry in-process (501), so each
    // delivery fails fast and the broker's redelivery does the retrying.
    world.arm.inject(FaultRule {
        method: None,
        path_contains: "/workspaces/ml-demo".into(),
        kind: FaultKind::Status {
            status: 501,
            code: "NotImplemented".into(),
            message: "injected".into(),
        },
        times: 0,
    });
    let id = send_json(&world, &attach("spark-flaky", POOL1, None));
    let max = world
        .broker
        .queue_config(COMMANDS)
        .unwrap()
        .max_delivery_count;
    let mut counts = Vec::new();
    while counts.len() < max as usize {
        let (_, count, action) = next_settlement(&mut events).await;
        assert_eq!(action, Settlement::Abandoned, "after {counts:?}");
        counts.push(count);
    }
    assert_eq!(counts, (1..=max).collect::<Vec<_>>());
    let dead = eventually("the message in the dead-letter queue", WAIT, || {
        world
            .broker
            .dead_letters(COMMANDS)
            .unwrap()
            .into_iter()
            .find(|m| m.message.correlation_id.as_deref() == Some(id.as_str()))
    })
    .await;
    assert_eq!(
        dead.dead_letter_reason.as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
    assert_eq!(dead.delivery_count, max);
    assert!(pending_commands(&world, &id).is_empty());
    assert!(
        reply_within(&world, &id, Duration::from_millis(100))
            .await
            .is_none(),
        "a transient failure is not answered: a redelivery may still succeed"
    );
    assert!(world.broker.peek_all(REJECTED).unwrap().is_empty());
    world.stop().await.unwrap();
}

/// The brief's variant: 503 on every ARM call. The ARM client retries 503 itself; the retry
/// budget settings keep each delivery short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_storm_answers_503_and_the_message_is_redelivered() {
    let world = start_with(options_with(&[
        ("POOLBROKER_ARM_MAX_RETRIES", "1"),
        ("POOLBROKER_ARM_RETRY_MAX_ELAPSED_SECS", "1"),
    ]))
    .await;
    let mut events = world.host.subscribe();
    world.arm.inject(FaultRule {
        method: None,
        path_contains: "/workspaces/ml-demo".into(),
        kind: FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "injected".into(),
        },
        times: 0,
    });
    let id = send_json(&world, &attach("spark-unavailable", POOL1, None));
    let failed = next_event(&mut events, Duration::from_secs(10), |e| match e {
        HostEvent::InvocationCompleted {
            function,
            succeeded: false,
            detail,
            ..
        } if function == COMMANDS => Some(detail.clone()),
        _ => None,
    })
    .await
    .expect("a failed invocation within 10 s");
    assert!(failed.contains("503"), "{failed}");
    let (_, count, action) = next_settlement(&mut events).await;
    assert_eq!((count, action), (1, Settlement::Abandoned));
    let (_, count, _) = next_settlement(&mut events).await;
    assert_eq!(count, 2);
    assert!(pending_commands(&world, &id).len() <= 1);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_answers_2xx_and_goes_to_the_rejected_queue() {
    let world = start().await;
    let mut events = world.host.subscribe();
    // ARM answers 404 for a pool that is not attached: retrying cannot help.
    let body = envelope("ShowPool", json!({"name": "spark-missing"})).to_string();
    let id = send(&world, &body);
    let reply = common::reply(&world, &id).await;
    assert_eq!(reply["status"], "Rejected", "{reply:#}");
    assert_eq!(reply["error"]["code"], "PoolNotFound");
    assert_eq!(reply["error"]["field"], "spec.name");
    let rejected = rejected(&world, &id).await;
    assert_eq!(rejected["kind"], "ShowPool");
    assert_eq!(rejected["error"], reply["error"]);
    assert_eq!(rejected["originalMessage"]["body"], body);
    let (_, count, action) = next_settlement(&mut events).await;
    assert_eq!((count, action), (1, Settlement::Completed));
    assert!(world.broker.dead_letters(COMMANDS).unwrap().is_empty());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_timer_fires_on_schedule_and_reports() {
    let world = start_with(options_with(&[(
        "POOLBROKER_CLEANUP_SCHEDULE",
        "*/1 * * * * *",
    )]))
    .await;
    let mut events = world.host.subscribe();
    let fired = next_event(&mut events, Duration::from_secs(5), |e| match e {
        HostEvent::TimerFired { function, past_due } if function == "workspace-cleanup" => {
            Some(*past_due)
        }
        _ => None,
    })
    .await;
    assert_eq!(fired, Some(false), "the timer fires within a few seconds");
    let report = receive_matching(&world, CLEANUP_REPORTS, Duration::from_secs(5), |_| true)
        .await
        .expect("a report on cleanup-reports");
    let report = json_body(&report);
    assert!(
        report["runId"].as_str().is_some_and(|r| !r.is_empty()),
        "{report:#}"
    );
    assert_eq!(report["isPastDue"], false);
    let workspaces = report["workspaces"].as_array().expect("workspaces");
    assert_eq!(workspaces.len(), 1, "{report:#}");
    assert!(
        workspaces[0].get("error").is_none(),
        "the default workspace was examined: {report:#}"
    );
    // A second firing a second later: it is a schedule, not a one-off.
    let again = receive_matching(&world, CLEANUP_REPORTS, Duration::from_secs(5), |m| {
        serde_json::from_slice::<Value>(&m.message.body)
            .is_ok_and(|v| v["runId"] != report["runId"])
    })
    .await;
    assert!(again.is_some(), "a second report within 5 s");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_trigger_round_trip_answers_the_event_grid_handshake() {
    let world = start().await;
    let code = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6";
    let event = json!([{
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.EventGrid/topics/pipelines",
        "subject": "",
        "data": {
            "validationCode": code,
            "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/poolbroker/validate?id=512d38b6&t=2025-12-01T00:00:00.0000000Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2025-12-01T00:00:00.0000000Z",
        "metadataVersion": "1",
        "dataVersion": "2"
    }]);
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/events", world.http_addr))
        .header("aeg-event-type", "SubscriptionValidation")
        .json(&event)
        .send()
        .await
        .expect("the host answers");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("JSON answer");
    assert_eq!(body, json!({"validationResponse": code}));
    assert!(
        world.broker.peek_all(COMMANDS).unwrap().is_empty(),
        "a handshake enqueues no command"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_crash_mid_invocation_is_restarted_and_the_message_redelivered() {
    let world = start().await;
    let mut events = world.host.subscribe();
    let first_pid = started_handler_pid(&mut events).await;
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/computes/spark-crash".into(),
        kind: FaultKind::Delay { ms: 1500 },
        times: 1,
    });
    let id = send_json(&world, &attach("spark-crash", POOL1, None));
    eventually("the compute PUT in flight", WAIT, || {
        (!compute_requests(&world, "PUT", "spark-crash").is_empty()).then_some(())
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let reply = common::reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert_eq!(reply["resource"]["name"], "spark-crash");
    assert_eq!(reply["resource"]["provisioning_state"], "Succeeded");

    // Everything the host did since the kill, up to the final settlement.
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|e| matches!(settled_on_commands(e), Some((_, _, Settlement::Completed))))
    {
        let event = next_event(&mut events, WAIT, |e| Some(e.clone()))
            .await
            .expect("the redelivery is settled");
        seen.push(event);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, HostEvent::HandlerExited { code: None })),
        "the handler ended by the signal: {seen:#?}"
    );
    let restarted: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            HostEvent::HandlerStarted { pid, .. } => Some(*pid),
            _ => None,
        })
        .collect();
    assert_eq!(restarted.len(), 1, "restarted once: {seen:#?}");
    assert_ne!(restarted[0], first_pid);
    let settlements: Vec<Settled> = seen.iter().filter_map(settled_on_commands).collect();
    assert_eq!(settlements.len(), 2, "{seen:#?}");
    assert_eq!(
        settlements[0].0, settlements[1].0,
        "the same message both times"
    );
    assert_eq!(
        (settlements[0].1, settlements[0].2),
        (1, Settlement::Abandoned)
    );
    assert_eq!(
        (settlements[1].1, settlements[1].2),
        (2, Settlement::Completed),
        "redelivered with DeliveryCount 2 and completed"
    );
    assert!(pending_commands(&world, &id).is_empty());
    assert!(world.broker.dead_letters(COMMANDS).unwrap().is_empty());
    world.stop().await.unwrap();
}

/// A crash after ARM accepted the PUT, while the handler follows the operation: the redelivery
/// finds the compute still `Creating` (the operation URL died with the process). The sender must
/// still get the final state, not "Succeeded, no change" for a pool that is not attached yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_following_the_operation_still_ends_with_the_final_state() {
    let mut options = options();
    // The operation runs until the test moves the emulator's clock.
    options.emulator.operation_duration = std::time::Duration::from_secs(3600);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;
    let mut events = world.host.subscribe();
    let first_pid = started_handler_pid(&mut events).await;
    let id = send_json(&world, &attach("spark-midop", POOL1, None));
    let operation = eventually("the first operation poll", WAIT, || {
        world
            .arm
            .requests()
            .into_iter()
            .find(|r| r.path.contains("computeOperationsStatus"))
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    // The redelivery reads the compute and finds it still Creating.
    eventually("the redelivered attach reading the compute", WAIT, || {
        (compute_requests(&world, "GET", "spark-midop").len() >= 2).then_some(())
    })
    .await;
    assert_eq!(
        world.arm.compute(WORKSPACE_ID, "spark-midop").unwrap()["properties"]["provisioningState"],
        "Creating"
    );
    // Azure finishes an operation whether anyone watches it or not: the old operation URL
    // died with the process, and the compute finishes on the clock.
    let _ = operation;
    world
        .arm
        .advance_clock(std::time::Duration::from_secs(3600));

    let reply = common::reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert_eq!(
        reply["resource"]["provisioning_state"], "Succeeded",
        "the reply must describe the finished attach: {reply:#}"
    );
    assert_eq!(
        compute_requests(&world, "PUT", "spark-midop").len(),
        1,
        "the accepted PUT is not repeated"
    );
    world.stop().await.unwrap();
}
