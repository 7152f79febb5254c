//! Issue 5's proof: one trace from the producer's traceparent through the handler to ARM, the
//! reply carrying it on, a follow-up invocation linking back, and no secret in anything exported.

mod common;
#[path = "support/otlp_receiver.rs"]
mod otlp_receiver;

use std::time::Duration;

use common::*;
use otlp_receiver::{OtlpReceiver, ReceivedSpan};
use poolbroker::local::{LOCAL_SAS_KEY, LocalWorld};
use serde_json::{Value, json};
use servicebus_emulator::ReceivedMessage;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

fn attach_body(name: &str) -> String {
    json!({"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": {
        "name": name, "type": "synapsespark", "resource_id": POOL1,
        "identity": {"type": "user_assigned", "user_assigned_identities": [{"resource_id":
          "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl"}]}}})
    .to_string()
}

async fn traced_world(receiver: &OtlpReceiver, lro_budget_secs: &str) -> LocalWorld {
    let mut options = options();
    // Operations outlive the first poll by a second, so the trace shows the handler polling.
    options.emulator.operation_duration = Duration::from_secs(1);
    options.emulator.retry_after_secs = 1;
    for (k, v) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_SERVICE_NAME", "poolbroker-test".to_owned()),
        ("POOLBROKER_LRO_BUDGET_SECS", lro_budget_secs.to_owned()),
    ] {
        options.extra_settings.insert(k.into(), v);
    }
    start_with(options).await
}

async fn reply_message(world: &LocalWorld, correlation_id: &str) -> ReceivedMessage {
    receive_matching(world, REPLIES, Duration::from_secs(30), |m| {
        m.message.correlation_id.as_deref() == Some(correlation_id)
    })
    .await
    .expect("a reply")
}

fn property<'a>(message: &'a ReceivedMessage, name: &str) -> Option<&'a str> {
    message
        .message
        .application_properties
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn invocation_spans(spans: &[ReceivedSpan]) -> Vec<&ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.attributes.get("faas.trigger").map(String::as_str) == Some("pubsub"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_producer_to_arm_and_on_to_the_reply() {
    let receiver = OtlpReceiver::start();
    let world = traced_world(&receiver, "20").await;
    let id = send_with(&world, &attach_body("spark-traced"), |m| {
        m.application_properties.insert(
            "traceparent".into(),
            Value::String(format!("00-{TRACE_ID}-{PARENT_SPAN}-01")),
        );
    });
    let reply = reply_message(&world, &id).await;
    let body: Value = serde_json::from_slice(&reply.message.body).unwrap();
    assert_eq!(body["status"], "Succeeded", "{body:#}");

    let spans = receiver
        .wait_for(
            |spans| {
                spans
                    .iter()
                    .any(|s| s.trace_id_hex == TRACE_ID && s.parent_span_id_hex == PARENT_SPAN)
                    && spans.iter().filter(|s| s.name == "arm.request").count() >= 3
                    && spans.iter().any(|s| s.name == "synapse.request")
            },
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|t| panic!("spans never arrived: {:#?}", t.spans));

    let consumer = spans
        .iter()
        .find(|s| s.trace_id_hex == TRACE_ID && s.parent_span_id_hex == PARENT_SPAN)
        .unwrap();
    assert_eq!(consumer.kind, "consumer");
    assert_eq!(consumer.attributes["messaging.system"], "servicebus");
    assert_eq!(
        consumer.attributes["messaging.destination.name"],
        "pool-commands"
    );
    assert_eq!(consumer.attributes["poolbroker.command.kind"], "AttachPool");
    assert_eq!(consumer.attributes["poolbroker.outcome"], "succeeded");
    assert!(consumer.attributes.contains_key("faas.invocation_id"));
    assert!(consumer.attributes.contains_key("messaging.message.id"));

    let arm: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name == "arm.request" && s.trace_id_hex == TRACE_ID)
        .collect();
    assert!(
        arm.len() >= 3,
        "GET compute, GET workspace, PUT, polls: {arm:#?}"
    );
    for span in &arm {
        assert_eq!(span.kind, "client");
        assert_eq!(
            span.parent_span_id_hex, consumer.span_id_hex,
            "ARM spans are children of the invocation"
        );
        for key in [
            "http.request.method",
            "url.full",
            "server.address",
            "http.response.status_code",
            "az.namespace",
        ] {
            assert!(
                span.attributes.contains_key(key),
                "{key} missing on {span:#?}"
            );
        }
        assert!(span.attributes["url.full"].contains("api-version="));
    }
    assert!(
        arm.iter()
            .any(|s| s.attributes["http.request.method"] == "PUT")
    );
    // The Synapse grant after the attach: the same span builder, in the same trace.
    let synapse: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name == "synapse.request" && s.trace_id_hex == TRACE_ID)
        .collect();
    assert!(!synapse.is_empty(), "{spans:#?}");
    for span in &synapse {
        assert_eq!(span.kind, "client");
        assert_eq!(span.parent_span_id_hex, consumer.span_id_hex);
        assert_eq!(span.attributes["az.namespace"], "Microsoft.Synapse");
        assert!(span.attributes.contains_key("http.response.status_code"));
        assert!(span.attributes["url.full"].contains("api-version=2020-12-01"));
    }

    let reply_traceparent = property(&reply, "traceparent").expect("reply carries traceparent");
    assert!(reply_traceparent.contains(TRACE_ID), "{reply_traceparent}");
    assert_eq!(property(&reply, "Diagnostic-Id"), Some(reply_traceparent));
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_invocation_links_back_and_nothing_secret_is_exported() {
    let receiver = OtlpReceiver::start();
    let world = traced_world(&receiver, "0").await;
    let id = send_with(&world, &attach_body("spark-follow"), |m| {
        m.application_properties.insert(
            "traceparent".into(),
            Value::String(format!("00-{TRACE_ID}-{PARENT_SPAN}-01")),
        );
    });
    let reply = reply_message(&world, &id).await;
    let body: Value = serde_json::from_slice(&reply.message.body).unwrap();
    assert_eq!(body["status"], "Succeeded", "{body:#}");

    let spans = receiver
        .wait_for(
            |spans| invocation_spans(spans).len() >= 2,
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|t| panic!("spans never arrived: {:#?}", t.spans));
    let first = invocation_spans(&spans)
        .into_iter()
        .find(|s| s.trace_id_hex == TRACE_ID && s.parent_span_id_hex == PARENT_SPAN)
        .expect("the first invocation continues the producer's trace");
    let in_first_trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id_hex == TRACE_ID)
        .collect();
    let follow_up = invocation_spans(&spans)
        .into_iter()
        .find(|s| s.span_id_hex != first.span_id_hex)
        .unwrap();
    assert!(
        follow_up.links.iter().any(|(trace, span)| trace == TRACE_ID
            && in_first_trace.iter().any(|s| &s.span_id_hex == span)),
        "the follow-up links to the scheduling invocation's trace: {follow_up:#?}"
    );
    assert!(follow_up.parent_span_id_hex.is_empty() || follow_up.trace_id_hex != TRACE_ID);

    // Everything the handler exported, grepped for secrets.
    let exported = receiver.exported_text();
    assert!(!exported.is_empty());
    let identity_header = &world.app_settings["IDENTITY_HEADER"];
    for secret in [
        LOCAL_SAS_KEY,
        identity_header.as_str(),
        "SharedAccessSignature",
        "sig=",
    ] {
        assert!(
            !exported.contains(secret),
            "exported telemetry contains {secret}"
        );
    }
    let token_like = regex_like_token(&exported);
    assert!(
        token_like.is_none(),
        "an emulator bearer token was exported: {token_like:?}"
    );
    world.stop().await.unwrap();
}

/// Emulator tokens look like `emu.<32 hex>.<32 hex>`.
fn regex_like_token(text: &str) -> Option<String> {
    text.match_indices("emu.").find_map(|(i, _)| {
        let candidate: String = text[i + 4..].chars().take(32).collect();
        (candidate.len() == 32 && candidate.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| text[i..(i + 40).min(text.len())].to_owned())
    })
}
