//! Behaviour of `handle` over whole requests.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;
use time::macros::datetime;

use super::event::hex_encode;
use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);
const SECRET: &str = "s3cr3t-for-tests";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const EXAMPLE_ROUTES: &str = include_str!("../../routes.example.yaml");

fn config() -> HooksConfig {
    let mut config = HooksConfig::new(RoutingRules::parse(EXAMPLE_ROUTES).unwrap());
    config.webhook_secret = Some(SecretString::from(SECRET.to_string()));
    config
}

fn post(headers: &[(&str, &str)], body: impl Into<Bytes>) -> HookRequest {
    HookRequest {
        method: "POST".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.into(),
        query: Vec::new(),
    }
}

fn json_body(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap())
}

fn blob_created(id: &str, path: &str) -> Value {
    json!({
        "topic": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": format!("/blobServices/default/containers/landing/blobs/{path}"),
        "eventType": "Microsoft.Storage.BlobCreated",
        "id": id,
        "data": {
            "api": "PutBlob",
            "blobType": "BlockBlob",
            "contentType": "text/csv",
            "url": format!("https://acct.blob.core.windows.net/landing/{path}"),
        },
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": "2026-11-22T11:59:58.123Z"
    })
}

fn campaign_ended(id: &str, pool: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/pipelines/campaigns",
        "type": "campaign.ended",
        "time": "2026-11-22T11:59:00Z",
        "data": {"workspace": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws", "pool": pool}
    })
}

fn respond(outcome: &HookOutcome) -> (u16, &Vec<(String, String)>, &Value) {
    match outcome {
        HookOutcome::Respond {
            status,
            headers,
            body,
        } => (*status, headers, body),
        other => panic!("expected Respond, got {other:?}"),
    }
}

fn error_of(outcome: &HookOutcome) -> (u16, String, String) {
    let (status, _, body) = respond(outcome);
    (
        status,
        body["error"]["code"].as_str().unwrap().to_string(),
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

fn enqueued(outcome: HookOutcome) -> (Vec<ProducedCommand>, Vec<String>) {
    match outcome {
        HookOutcome::Enqueue {
            commands,
            unmatched,
        } => (commands, unmatched),
        other => panic!("expected Enqueue, got {other:?}"),
    }
}

fn sign(timestamp: &str, body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex_encode(&mac.finalize().into_bytes()))
}

fn signed(body: &Value, timestamp: i64, secret: &str) -> HookRequest {
    let body = json_body(body);
    let timestamp = timestamp.to_string();
    let signature = sign(&timestamp, &body, secret);
    post(
        &[
            ("Content-Type", "application/json"),
            ("X-Poolbroker-Timestamp", &timestamp),
            ("X-Poolbroker-Signature", &signature),
        ],
        body,
    )
}

// ---- Event Grid ----

#[test]
fn event_grid_validation_handshake_answers_200_with_the_code() {
    let body = json!([{
        "id": "2d1781af", "topic": "/subscriptions/x", "subject": "",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://rp/validate"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-11-22T11:00:00Z", "metadataVersion": "1", "dataVersion": "1"
    }]);
    let request = post(
        &[("aeg-event-type", "SubscriptionValidation")],
        json_body(&body),
    );
    let outcome = handle(&request, &config(), NOW);
    let (status, _, body) = respond(&outcome);
    assert_eq!(status, 200);
    assert_eq!(
        body,
        &json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
}

#[test]
fn cloud_event_shaped_validation_with_double_encoded_data_is_understood() {
    let body = json!([{
        "specversion": "1.0", "id": "v1", "source": "/x",
        "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "data": "{\"validationCode\":\"abc\"}"
    }]);
    let request = post(
        &[("AEG-EVENT-TYPE", "subscriptionvalidation")],
        json_body(&body),
    );
    let outcome = handle(&request, &config(), NOW);
    assert_eq!(respond(&outcome).2, &json!({"validationResponse": "abc"}));
}

#[test]
fn validation_without_the_validation_event_is_refused() {
    let request = post(
        &[("aeg-event-type", "SubscriptionValidation")],
        json_body(&json!([blob_created("1", "sales/a.csv")])),
    );
    let (status, code, message) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (400, "InvalidEventGridRequest"));
    assert!(
        message.contains(
            "events[0].eventType: expected Microsoft.EventGrid.SubscriptionValidationEvent"
        ),
        "{message}"
    );

    let no_code =
        json!([{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {}}]);
    let request = post(
        &[("aeg-event-type", "SubscriptionValidation")],
        json_body(&no_code),
    );
    let (_, _, message) = error_of(&handle(&request, &config(), NOW));
    assert!(
        message.contains("data.validationCode: required"),
        "{message}"
    );
}

#[test]
fn unsubscribe_is_acknowledged_and_unknown_event_types_refused() {
    let outcome = handle(
        &post(&[("aeg-event-type", "Unsubscribe")], ""),
        &config(),
        NOW,
    );
    assert_eq!(respond(&outcome).0, 200);
    let (status, _, message) = error_of(&handle(
        &post(&[("aeg-event-type", "Bogus")], "[]"),
        &config(),
        NOW,
    ));
    assert_eq!(status, 400);
    assert!(message.contains("got 'Bogus'"), "{message}");
}

#[test]
fn blob_created_under_landing_sales_becomes_a_spark_job() {
    let body = json!([blob_created("evt-1", "sales/2026/11/orders \"q\".csv")]);
    let request = post(
        &[
            ("aeg-event-type", "Notification"),
            ("traceparent", TRACEPARENT),
        ],
        json_body(&body),
    );
    let (commands, unmatched) = enqueued(handle(&request, &config(), NOW));
    assert!(unmatched.is_empty());
    assert_eq!(commands.len(), 1);
    let command = &commands[0];
    assert_eq!(command.rule, "sales-landing");
    assert_eq!(command.event_id, "evt-1");
    assert!(command.message_id.starts_with("evt-") && command.message_id.len() == 68);
    assert_eq!(command.body["apiVersion"], "poolbroker/v1");
    assert_eq!(command.body["kind"], "SubmitSparkJob");
    assert_eq!(
        command.body["idempotencyKey"],
        Value::String(command.message_id.clone())
    );
    let spec = &command.body["spec"];
    assert_eq!(
        spec["inputs"]["raw"],
        json!({"type": "uri_file", "path": "https://acct.blob.core.windows.net/landing/sales/2026/11/orders \"q\".csv", "mode": "direct"})
    );
    assert_eq!(spec["display_name"], "sales-etl orders \"q\".csv");
    assert_eq!(
        spec["tags"],
        json!({"container": "landing", "event": "evt-1"})
    );
    assert_eq!(spec["compute"], "auto");
    // The quote survived as data: the serialised command is valid JSON that reads back equal.
    let wire = serde_json::to_string(&command.body).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&wire).unwrap(), command.body);

    let response = HookOutcome::Enqueue {
        commands: commands.clone(),
        unmatched,
    }
    .response();
    assert_eq!(response.status, 202);
    assert_eq!(response.body["accepted"], 1);
    assert_eq!(
        response.body["commands"][0]["messageId"],
        Value::String(command.message_id.clone())
    );
    assert_eq!(response.body["commands"][0]["kind"], "SubmitSparkJob");
}

#[test]
fn a_resent_event_gets_the_same_message_id_and_a_repeat_in_one_batch_one_command() {
    let one = post(
        &[("aeg-event-type", "Notification")],
        json_body(&json!(blob_created("e", "sales/a.csv"))),
    );
    let first = enqueued(handle(&one, &config(), NOW)).0;
    let again = enqueued(handle(&one, &config(), NOW)).0;
    assert_eq!(first[0].message_id, again[0].message_id);

    let twice = json!([
        blob_created("e", "sales/a.csv"),
        blob_created("e", "sales/a.csv"),
        blob_created("f", "sales/a.csv")
    ]);
    let (commands, _) = enqueued(handle(
        &post(&[("aeg-event-type", "Notification")], json_body(&twice)),
        &config(),
        NOW,
    ));
    assert_eq!(commands.len(), 2);
    assert_ne!(commands[0].message_id, commands[1].message_id);
}

#[test]
fn events_outside_landing_sales_are_unmatched_and_answered_200() {
    let body = json!([
        blob_created("x1", "marketing/a.csv"),
        blob_created("x2", "sales-old/a.csv")
    ]);
    let outcome = handle(
        &post(&[("aeg-event-type", "Notification")], json_body(&body)),
        &config(),
        NOW,
    );
    assert_eq!(outcome.response().status, 200);
    assert_eq!(outcome.response().body["unmatched"], json!(["x1", "x2"]));
    let (commands, unmatched) = enqueued(outcome);
    assert!(commands.is_empty());
    assert_eq!(unmatched, vec!["x1", "x2"]);
}

#[test]
fn a_batch_with_matched_and_unmatched_events_is_202_listing_the_unmatched() {
    let body = json!([
        blob_created("a", "sales/a.csv"),
        blob_created("b", "other/b.csv")
    ]);
    let outcome = handle(
        &post(&[("aeg-event-type", "Notification")], json_body(&body)),
        &config(),
        NOW,
    );
    assert_eq!(outcome.response().status, 202);
    let (commands, unmatched) = enqueued(outcome);
    assert_eq!(commands.len(), 1);
    assert_eq!(unmatched, vec!["b"]);
}

#[test]
fn a_routed_event_missing_a_template_path_rejects_the_whole_request() {
    let mut broken = blob_created("bad", "sales/b.csv");
    broken["data"].as_object_mut().unwrap().remove("url");
    let body = json!([blob_created("good", "sales/a.csv"), broken]);
    let outcome = handle(
        &post(&[("aeg-event-type", "Notification")], json_body(&body)),
        &config(),
        NOW,
    );
    let (status, code, message) = error_of(&outcome);
    assert_eq!((status, code.as_str()), (400, "EventRejected"));
    assert_eq!(
        message,
        "event bad matched rule 'sales-landing' but its command could not be built: \
         command.spec.inputs.raw.path: {{ data.url }}: data.url is missing in the event"
    );
    let details = &respond(&outcome).2["error"]["details"];
    assert_eq!(details[0]["eventId"], "bad");
    assert_eq!(details.as_array().unwrap().len(), 1);
}

#[test]
fn event_grid_events_need_their_attributes() {
    let mut event = blob_created("a", "sales/a.csv");
    event.as_object_mut().unwrap().remove("eventType");
    let (status, code, message) = error_of(&handle(
        &post(
            &[("aeg-event-type", "Notification")],
            json_body(&json!([event])),
        ),
        &config(),
        NOW,
    ));
    assert_eq!((status, code.as_str()), (400, "InvalidEvent"));
    assert_eq!(
        message,
        "events[0].eventType: required attribute is missing"
    );
    let (_, _, message) = error_of(&handle(
        &post(&[("aeg-event-type", "Notification")], "[1]"),
        &config(),
        NOW,
    ));
    assert_eq!(message, "events[0]: expected an object, got a number");
}

// ---- CloudEvents ----

#[test]
fn cloudevents_options_handshake_grants_the_allowed_origin() {
    let request = HookRequest {
        method: "OPTIONS".into(),
        headers: vec![(
            "WebHook-Request-Origin".into(),
            "eventgrid.azure.net".into(),
        )],
        ..HookRequest::default()
    };
    let outcome = handle(&request, &config(), NOW);
    let (status, headers, _) = respond(&outcome);
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("WebHook-Allowed-Origin"),
        Some("eventgrid.azure.net")
    );
    assert_eq!(header("WebHook-Allowed-Rate"), Some("*"));
    assert_eq!(header("Allow"), Some("POST, OPTIONS"));
}

#[test]
fn cloudevents_options_refuses_other_origins_and_needs_the_header() {
    let mut request = HookRequest {
        method: "options".into(),
        headers: vec![("webhook-request-origin".into(), "evil.example".into())],
        ..HookRequest::default()
    };
    let outcome = handle(&request, &config(), NOW);
    let (status, code, message) = error_of(&outcome);
    assert_eq!((status, code.as_str()), (403, "OriginNotAllowed"));
    assert!(message.contains("'evil.example'"), "{message}");
    assert!(
        respond(&outcome)
            .1
            .iter()
            .all(|(k, _)| !k.eq_ignore_ascii_case("WebHook-Allowed-Origin"))
    );

    let mut open = config();
    open.allowed_origins = vec!["*".into()];
    assert_eq!(respond(&handle(&request, &open, NOW)).0, 200);

    request.headers.clear();
    let (status, code, _) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (400, "MissingOrigin"));
}

#[test]
fn structured_cloud_event_keeps_its_traceparent() {
    let mut event = campaign_ended("c1", "sparkpool1");
    event["traceparent"] = json!(TRACEPARENT);
    let request = post(
        &[
            (
                "Content-Type",
                "application/cloudevents+json; charset=utf-8",
            ),
            (
                "traceparent",
                "00-11111111111111111111111111111111-2222222222222222-01",
            ),
        ],
        json_body(&event),
    );
    let (commands, _) = enqueued(handle(&request, &config(), NOW));
    assert_eq!(commands[0].rule, "campaign-ended");
    assert_eq!(
        commands[0].body,
        json!({
            "apiVersion": "poolbroker/v1",
            "kind": "DetachPool",
            "workspace": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
            "spec": {"name": "sparkpool1"},
            "idempotencyKey": commands[0].message_id,
        })
    );
}

#[test]
fn cloudevents_batch_produces_one_command_per_matched_event() {
    let body = json!([campaign_ended("c1", "p1"), campaign_ended("c2", "p2"), {"specversion": "1.0", "id": "o", "source": "/s", "type": "other"}]);
    let request = post(
        &[("content-type", "application/cloudevents-batch+json")],
        json_body(&body),
    );
    let (commands, unmatched) = enqueued(handle(&request, &config(), NOW));
    let pools: Vec<&Value> = commands.iter().map(|c| &c.body["spec"]["name"]).collect();
    assert_eq!(pools, vec!["p1", "p2"]);
    assert_eq!(unmatched, vec!["o"]);

    let not_array = post(
        &[("content-type", "application/cloudevents-batch+json")],
        json_body(&campaign_ended("c", "p")),
    );
    let (status, _, message) = error_of(&handle(&not_array, &config(), NOW));
    assert_eq!(status, 400);
    assert!(
        message.contains("holds an array of events, got an object"),
        "{message}"
    );
}

#[test]
fn binary_mode_reads_attributes_from_headers() {
    let request = post(
        &[
            ("ce-specversion", "1.0"),
            ("ce-type", "campaign.ended"),
            ("ce-source", "/pipelines/campaigns"),
            ("ce-id", "b1"),
            ("ce-time", "2026-11-22T11:00:00Z"),
            ("ce-subject", "campaigns/42"),
            ("ce-traceparent", TRACEPARENT),
            ("content-type", "application/json"),
        ],
        json_body(&json!({"workspace": "/w", "pool": "pool-b"})),
    );
    let (commands, _) = enqueued(handle(&request, &config(), NOW));
    assert_eq!(commands[0].body["spec"]["name"], "pool-b");
    assert_eq!(commands[0].body["workspace"], "/w");
    assert_eq!(commands[0].event_id, "b1");
}

#[test]
fn cloudevents_attributes_are_validated_with_specific_errors() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"specversion": "0.3", "id": "1", "source": "/s", "type": "t"}),
            "event.specversion: expected \"1.0\", got \"0.3\" (only CloudEvents 1.0 is supported)",
        ),
        (
            json!({"specversion": 1.0, "id": "1", "source": "/s", "type": "t"}),
            "event.specversion: expected the string \"1.0\", got a number",
        ),
        (
            json!({"id": "1", "source": "/s", "type": "t"}),
            "event.specversion: required attribute is missing",
        ),
        (
            json!({"specversion": "1.0", "source": "/s", "type": "t"}),
            "event.id: required attribute is missing",
        ),
        (
            json!({"specversion": "1.0", "id": "1", "type": "t"}),
            "event.source: required attribute is missing",
        ),
        (
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": ""}),
            "event.type: must not be empty",
        ),
        (
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "time": "yesterday"}),
            "event.time: expected an RFC 3339 timestamp, got 'yesterday'",
        ),
        (
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": 1, "data_base64": "AA=="}),
            "event: data and data_base64 are mutually exclusive",
        ),
    ];
    for (event, expected) in cases {
        let request = post(
            &[("content-type", "application/cloudevents+json")],
            json_body(&event),
        );
        let (status, code, message) = error_of(&handle(&request, &config(), NOW));
        assert_eq!(
            (status, code.as_str(), message.as_str()),
            (400, "InvalidEvent", expected)
        );
    }
    let request = post(
        &[("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-type", "t")],
        "",
    );
    let (_, _, message) = error_of(&handle(&request, &config(), NOW));
    assert_eq!(
        message,
        "ce-source: header is required in binary content mode"
    );
}

#[test]
fn data_base64_json_is_decoded() {
    let event = json!({
        "specversion": "1.0", "id": "d", "source": "/s", "type": "campaign.ended",
        "datacontenttype": "application/json",
        "data_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, br#"{"workspace":"/w","pool":"p64"}"#),
    });
    let request = post(
        &[("content-type", "application/cloudevents+json")],
        json_body(&event),
    );
    let (commands, _) = enqueued(handle(&request, &config(), NOW));
    assert_eq!(commands[0].body["spec"]["name"], "p64");
}

// ---- signed webhook ----

fn webhook_event() -> Value {
    json!({"id": "w1", "type": "campaign.ended", "data": {"workspace": "/w", "pool": "pw"}})
}

#[test]
fn a_correctly_signed_webhook_is_routed() {
    let request = signed(&webhook_event(), NOW.unix_timestamp() - 10, SECRET);
    let (commands, _) = enqueued(handle(&request, &config(), NOW));
    assert_eq!(commands[0].body["spec"]["name"], "pw");
    assert_eq!(commands[0].event_id, "w1");
}

#[test]
fn a_wrong_signature_or_tampered_body_is_401() {
    let request = signed(&webhook_event(), NOW.unix_timestamp(), "not-the-secret");
    let (status, code, _) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (401, "InvalidSignature"));

    let mut tampered = signed(&webhook_event(), NOW.unix_timestamp(), SECRET);
    tampered.body = json_body(
        &json!({"id": "w1", "type": "campaign.ended", "data": {"workspace": "/w", "pool": "other"}}),
    );
    let (status, code, _) = error_of(&handle(&tampered, &config(), NOW));
    assert_eq!((status, code.as_str()), (401, "InvalidSignature"));

    let mut malformed = signed(&webhook_event(), NOW.unix_timestamp(), SECRET);
    malformed
        .headers
        .retain(|(k, _)| k != "X-Poolbroker-Signature");
    malformed
        .headers
        .push(("x-poolbroker-signature".into(), "md5=abcd".into()));
    let (status, _, message) = error_of(&handle(&malformed, &config(), NOW));
    assert_eq!(status, 401);
    assert!(message.contains("64 hex digits"), "{message}");
}

#[test]
fn missing_signature_or_timestamp_is_401() {
    let mut request = signed(&webhook_event(), NOW.unix_timestamp(), SECRET);
    request
        .headers
        .retain(|(k, _)| k != "X-Poolbroker-Signature");
    let (status, code, _) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (401, "MissingSignature"));

    let mut request = signed(&webhook_event(), NOW.unix_timestamp(), SECRET);
    request
        .headers
        .retain(|(k, _)| k != "X-Poolbroker-Timestamp");
    let (status, code, _) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (401, "MissingTimestamp"));
}

#[test]
fn replays_and_far_future_timestamps_are_401_and_the_window_edge_is_accepted() {
    let window = i64::try_from(HooksConfig::DEFAULT_REPLAY_WINDOW.as_secs()).unwrap();
    let stale = signed(&webhook_event(), NOW.unix_timestamp() - window - 1, SECRET);
    let (status, code, message) = error_of(&handle(&stale, &config(), NOW));
    assert_eq!((status, code.as_str()), (401, "StaleTimestamp"));
    assert!(message.starts_with("replayed or stale"), "{message}");

    let edge = signed(&webhook_event(), NOW.unix_timestamp() - window, SECRET);
    assert_eq!(enqueued(handle(&edge, &config(), NOW)).0.len(), 1);

    let future = signed(&webhook_event(), NOW.unix_timestamp() + 301, SECRET);
    let (status, _, message) = error_of(&handle(&future, &config(), NOW));
    assert_eq!(status, 401);
    assert!(message.contains("after now"), "{message}");
    let near_future = signed(&webhook_event(), NOW.unix_timestamp() + 300, SECRET);
    assert_eq!(enqueued(handle(&near_future, &config(), NOW)).0.len(), 1);
}

#[test]
fn signed_webhooks_are_refused_without_a_configured_secret() {
    let mut unconfigured = config();
    unconfigured.webhook_secret = None;
    let request = signed(&webhook_event(), NOW.unix_timestamp(), SECRET);
    let (status, code, message) = error_of(&handle(&request, &unconfigured, NOW));
    assert_eq!((status, code.as_str()), (401, "WebhookSecretNotConfigured"));
    assert!(message.contains("POOLBROKER_WEBHOOK_SECRET"), "{message}");
    assert!(!message.contains(SECRET));
}

// ---- transport-level rejections ----

#[test]
fn bodies_over_the_limit_are_413_and_the_limit_itself_is_fine() {
    let mut small = config();
    let body = json_body(&json!([blob_created("a", "sales/a.csv")]));
    small.max_body_bytes = body.len();
    let at_limit = post(&[("aeg-event-type", "Notification")], body.clone());
    assert_eq!(enqueued(handle(&at_limit, &small, NOW)).0.len(), 1);
    small.max_body_bytes = body.len() - 1;
    let (status, code, message) = error_of(&handle(&at_limit, &small, NOW));
    assert_eq!((status, code.as_str()), (413, "BodyTooLarge"));
    assert_eq!(
        message,
        format!(
            "body is {} bytes; the limit is {} bytes",
            body.len(),
            body.len() - 1
        )
    );
}

#[test]
fn invalid_json_is_400_naming_line_and_column() {
    let request = post(&[("aeg-event-type", "Notification")], "[\n  {\"id\": }\n]");
    let (status, code, message) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (400, "InvalidJson"));
    assert!(message.contains("line 2 column 10"), "{message}");
}

#[test]
fn requests_without_schema_hints_are_400() {
    let request = post(
        &[("content-type", "application/json")],
        json_body(&webhook_event()),
    );
    let (status, code, message) = error_of(&handle(&request, &config(), NOW));
    assert_eq!((status, code.as_str()), (400, "UnknownSchema"));
    assert!(message.starts_with(
        "could not tell the event schema: expected Event Grid (aeg-event-type header)"
    ));
}

#[test]
fn other_methods_are_405_with_allow() {
    let request = HookRequest {
        method: "GET".into(),
        ..HookRequest::default()
    };
    let outcome = handle(&request, &config(), NOW);
    let (status, headers, body) = respond(&outcome);
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "MethodNotAllowed");
    assert!(headers.contains(&("Allow".to_string(), "POST, OPTIONS".to_string())));
}

#[test]
fn the_documented_openssl_recipe_verifies() {
    // Vector from docs/hooks.md, computed with `openssl dgst -sha256 -hmac s3cr3t`.
    let body = r#"{"id":"w1","type":"campaign.ended","data":{"workspace":"/w","pool":"pw"}}"#;
    let request = post(
        &[
            ("X-Poolbroker-Timestamp", "1795521600"),
            (
                "X-Poolbroker-Signature",
                "sha256=c32795854779879eddc478ab73e349ef992d0a01e908957505cd64e881a0782a",
            ),
        ],
        body,
    );
    let mut config = config();
    config.webhook_secret = Some(SecretString::from("s3cr3t".to_string()));
    let now = OffsetDateTime::from_unix_timestamp(1_795_521_600).unwrap();
    assert_eq!(
        enqueued(handle(&request, &config, now)).0[0].body["spec"]["name"],
        "pw"
    );
}
