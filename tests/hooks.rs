//! `pipeline-events` end to end: real HTTP to `/api/events` on the local Functions host, which
//! runs the real `poolbroker` binary; produced commands go through `pool-commands` to the engine
//! and the ARM emulator (docs/hooks.md).

mod common;

use std::time::Duration;

use common::*;
use functions_host::{HostError, HostEvent};
use hmac::{Hmac, Mac};
use poolbroker::domain::WorkspaceId;
use poolbroker::domain::spark::derive_job_name;
use poolbroker::local::LocalWorld;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

const SECRET: &str = "s3cr3t";
const STORAGE_TOPIC: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Storage/storageAccounts/acctdemo";
/// How long a test watches for something that must NOT happen (a stray enqueue, a second PUT).
const QUIET: Duration = Duration::from_millis(400);

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/routes/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

async fn start_hooks(extra: &[(&str, &str)]) -> LocalWorld {
    let routes = fixture("hooks.yaml");
    let mut settings = vec![("POOLBROKER_ROUTES_FILE", routes.as_str())];
    settings.extend_from_slice(extra);
    let world = start_with(options_with(&settings)).await;
    // The first subscriber gets every event since start; later ones only what follows, which is
    // what tests watching for "nothing happened" need.
    drop(world.host.subscribe());
    world
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    fn message_ids(&self) -> Vec<String> {
        self.body["commands"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["messageId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One request to `/api/events` through the host, as an upstream sender makes it.
async fn call(
    world: &LocalWorld,
    method: Method,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}/api/events", world.http_addr))
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("the host answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(world: &LocalWorld, headers: &[(&str, &str)], body: &str) -> Answer {
    call(world, Method::POST, headers, body.to_owned()).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";
const CALLER_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The MessageId / idempotencyKey docs/hooks.md promises: `evt-` + hex(sha256(source|id)).
fn expected_message_id(source: &str, id: &str) -> String {
    format!(
        "evt-{}",
        hex(&Sha256::digest(format!("{source}|{id}").as_bytes()))
    )
}

fn sign(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn blob_created(id: &str, file: &str) -> (Value, String) {
    let url = format!("https://acctdemo.blob.core.windows.net/landing/sales/{file}");
    let event = json!({
        "id": id,
        "topic": STORAGE_TOPIC,
        "subject": format!("/blobServices/default/containers/landing/blobs/sales/{file}"),
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-22T10:00:00.1234567Z",
        "data": {
            "api": "PutBlob",
            "clientRequestId": "6d79dbfb-0e37-4fc4-981f-442c9ca65760",
            "requestId": "831e1650-001e-001b-66ab-eeb76e000000",
            "eTag": "0x8D4BCC2E4835CD0",
            "contentType": "text/csv",
            "contentLength": 524288,
            "blobType": "BlockBlob",
            "url": url,
            "sequencer": "00000000000004420000000000028963",
            "storageDiagnostics": {"batchId": "b68529f3-68cd-4744-baa4-3c0498ec19f0"}
        },
        "dataVersion": "",
        "metadataVersion": "1"
    });
    (event, url)
}

/// The broker's rejection of the command produced for `message_id` (it carries the original
/// envelope). Commands that reach ARM produce none.
async fn rejected_for(world: &LocalWorld, message_id: &str) -> Value {
    let found = receive_matching(world, REJECTED, WAIT, |m| {
        serde_json::from_slice::<Value>(&m.message.body).is_ok_and(|v| {
            v["originalMessage"]["body"]
                .as_str()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .is_some_and(|b| b["idempotencyKey"] == message_id)
        })
    })
    .await
    .unwrap_or_else(|| panic!("no rejection for the command of {message_id}"));
    json_body(&found)
}

fn original_envelope(rejected: &Value) -> Value {
    let body = rejected["originalMessage"]["body"]
        .as_str()
        .expect("originalMessage.body is text");
    serde_json::from_str(body).expect("the enqueued body is JSON")
}

/// Subscribes once earlier commands are settled: an invocation still finishing would otherwise be
/// seen as one caused by what the test sends next.
async fn subscribe_when_idle(world: &LocalWorld) -> broadcast::Receiver<HostEvent> {
    // A locked message is one the host is processing right now; follow-ups scheduled for later
    // are not.
    let busy = || {
        let now = world.broker.now();
        world
            .broker
            .peek_all(COMMANDS)
            .expect("pool-commands")
            .iter()
            .any(|m| m.locked_until > now)
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while busy() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Settlement follows the invocation's completion event; give the last one time to be sent.
    tokio::time::sleep(Duration::from_millis(50)).await;
    world.host.subscribe()
}

/// Watches the host for `QUIET`: no `pool-commands` invocation and nothing waiting on the queue.
async fn assert_nothing_enqueued(world: &LocalWorld, events: &mut broadcast::Receiver<HostEvent>) {
    let seen = next_event(events, QUIET, |e| match e {
        HostEvent::InvocationCompleted { function, .. } if function == COMMANDS => {
            Some(format!("{e:?}"))
        }
        HostEvent::Log { source, line, .. } if source == "pipeline-events" => {
            line.contains("enqueued").then(|| line.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(seen, None, "a rejected request enqueued a command");
    let waiting = world.broker.peek_all(COMMANDS).expect("pool-commands");
    assert!(waiting.is_empty(), "{waiting:?}");
}

fn job_puts(world: &LocalWorld, job: &str) -> Vec<Value> {
    let suffix = format!("/jobs/{job}");
    world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&suffix))
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

fn job_gets(world: &LocalWorld, job: &str) -> usize {
    let suffix = format!("/jobs/{job}");
    world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&suffix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_grid_validation_handshake_answers_the_code_and_enqueues_nothing() {
    let world = start_hooks(&[]).await;
    let mut events = subscribe_when_idle(&world).await;
    let code = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6";
    let body = json!([{
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": STORAGE_TOPIC,
        "subject": "",
        "data": {
            "validationCode": code,
            "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/sub/validate?id=512d38b6&t=2026-11-22T10:00:00Z"
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-11-22T10:00:00.9348025Z",
        "metadataVersion": "1",
        "dataVersion": "2"
    }]);
    let answer = post(
        &world,
        &[
            ("Content-Type", "application/json"),
            ("aeg-event-type", "SubscriptionValidation"),
        ],
        &body.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.body, json!({"validationResponse": code}));
    assert_nothing_enqueued(&world, &mut events).await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_created_event_becomes_one_spark_job_and_a_resend_is_deduplicated() {
    let world = start_hooks(&[]).await;
    let event_id = "831e1650-001e-001b-66ab-eeb76e069631";
    let (event, url) = blob_created(event_id, "2026-11-22.csv");
    let body = json!([event]).to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("aeg-event-type", "Notification"),
    ];
    let first = post(&world, &headers, &body).await;
    assert_eq!(first.status, 202, "{:#}", first.body);
    let message_id = expected_message_id(STORAGE_TOPIC, event_id);
    assert_eq!(first.body["accepted"], 1, "{:#}", first.body);
    assert_eq!(
        first.body["commands"],
        json!([{"messageId": message_id, "eventId": event_id, "rule": "sales-landing", "kind": "SubmitSparkJob"}])
    );
    assert_eq!(first.body["unmatched"], json!([]));

    // The engine names the job after the command's idempotencyKey, so finding the job under
    // that name proves the envelope carried the event-derived key.
    let ws = WorkspaceId::parse(WORKSPACE_ID).expect("demo workspace id");
    let job = derive_job_name(&ws, &message_id).to_string();
    let mut submitted = false;
    for _ in 0..(WAIT.as_millis() / 50) {
        if world.arm.job(WORKSPACE_ID, &job).is_some() {
            submitted = true;
            break;
        }
        if let Some(m) =
            receive_matching(&world, REJECTED, Duration::from_millis(50), |_| true).await
        {
            panic!("the produced command was rejected: {:#}", json_body(&m));
        }
    }
    assert!(submitted, "no job {job} in the emulator");
    let puts = job_puts(&world, &job);
    assert_eq!(puts.len(), 1, "{puts:#?}");
    let props = &puts[0]["properties"];
    assert_eq!(
        props["inputs"]["raw"],
        json!({"jobInputType": "uri_file", "uri": url, "mode": "Direct"}),
        "inputs.raw.path comes from the event's data.url: {props:#}"
    );
    assert_eq!(
        props["tags"]["poolbroker-idempotency-key"],
        message_id.as_str()
    );
    assert_eq!(props["tags"]["container"], "landing");
    assert_eq!(props["tags"]["event"], event_id);
    assert_eq!(props["displayName"], "sales-etl 2026-11-22.csv");

    // Event Grid redelivers the same event (at-least-once): same key, and no second job.
    let mut events = subscribe_when_idle(&world).await;
    let gets_before = job_gets(&world, &job);
    let again = post(&world, &headers, &body).await;
    assert_eq!(again.status, 202, "{:#}", again.body);
    assert_eq!(again.message_ids(), vec![message_id.clone()]);
    let done = next_event(&mut events, WAIT, |e| match e {
        HostEvent::InvocationCompleted {
            function,
            succeeded,
            ..
        } if function == COMMANDS => Some(*succeeded),
        _ => None,
    })
    .await;
    assert_eq!(done, Some(true), "the resent command was processed");
    assert!(
        job_gets(&world, &job) > gets_before,
        "the resent command looked the job up"
    );
    assert_eq!(
        job_puts(&world, &job).len(),
        1,
        "a resent event submits no second job"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_options_handshake_grants_eventgrid_and_refuses_other_origins() {
    let world = start_hooks(&[]).await;
    let granted = call(
        &world,
        Method::OPTIONS,
        &[
            ("WebHook-Request-Origin", "eventgrid.azure.net"),
            ("WebHook-Request-Rate", "120"),
        ],
        "",
    )
    .await;
    assert_eq!(granted.status, 200, "{:#}", granted.body);
    assert_eq!(
        granted.header("webhook-allowed-origin"),
        Some("eventgrid.azure.net")
    );
    assert_eq!(granted.header("webhook-allowed-rate"), Some("*"));

    let refused = call(
        &world,
        Method::OPTIONS,
        &[("WebHook-Request-Origin", "attacker.example.com")],
        "",
    )
    .await;
    assert_eq!(refused.status, 403, "{:#}", refused.body);
    assert_eq!(refused.error_code(), "OriginNotAllowed");
    assert!(
        refused.error_message().contains("attacker.example.com"),
        "{:#}",
        refused.body
    );
    assert_eq!(
        refused.header("webhook-allowed-origin"),
        None,
        "the header is the consent"
    );

    let missing = call(&world, Method::OPTIONS, &[], "").await;
    assert_eq!(missing.status, 400, "{:#}", missing.body);
    assert_eq!(missing.error_code(), "MissingOrigin");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_batch_and_binary_mode_enqueue_one_command_per_event() {
    let world = start_hooks(&[]).await;
    let source = "/pipelines/nightly";
    let batch = json!([
        {"specversion": "1.0", "id": "ce-1", "source": source, "type": "com.example.pool.check",
         "time": "2026-11-22T10:00:00Z", "datacontenttype": "application/json",
         "data": {"pool": "ghost-a"}},
        {"specversion": "1.0", "id": "ce-2", "source": source, "type": "com.example.pool.check",
         "data": {"pool": "ghost-b"}}
    ]);
    let answer = post(
        &world,
        &[
            (
                "Content-Type",
                "application/cloudevents-batch+json; charset=utf-8",
            ),
            ("traceparent", CALLER_TRACEPARENT),
        ],
        &batch.to_string(),
    )
    .await;
    assert_eq!(answer.status, 202, "{:#}", answer.body);
    let ids = answer.message_ids();
    assert_eq!(
        ids,
        vec![
            expected_message_id(source, "ce-1"),
            expected_message_id(source, "ce-2")
        ],
        "{:#}",
        answer.body
    );
    // Neither pool exists, so ShowPool is rejected, and the rejection carries what was enqueued.
    for (id, pool) in ids.iter().zip(["ghost-a", "ghost-b"]) {
        let rejected = rejected_for(&world, id).await;
        assert_eq!(rejected["error"]["code"], "PoolNotFound", "{rejected:#}");
        // Sent by the handler itself: the event-derived MessageId (Service Bus duplicate
        // detection) and the caller's trace, continued, on the message.
        let original = &rejected["originalMessage"];
        assert_eq!(original["messageId"], id.as_str(), "{original:#}");
        let traceparent = original["applicationProperties"]["traceparent"]
            .as_str()
            .unwrap_or_default();
        assert!(
            traceparent.starts_with(&format!("00-{CALLER_TRACE_ID}-"))
                && !traceparent.contains(CALLER_SPAN_ID),
            "traceparent {traceparent:?} should continue the caller's trace in a new span: {original:#}"
        );
        let envelope = original_envelope(&rejected);
        assert_eq!(envelope["kind"], "ShowPool");
        assert_eq!(envelope["workspace"], WORKSPACE_ID);
        assert_eq!(envelope["spec"], json!({"name": pool}));
    }

    // Binary content mode: attributes in ce-* headers, the body is the data.
    let binary = post(
        &world,
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "ce-3"),
            ("ce-source", source),
            ("ce-type", "com.example.pool.check"),
            ("ce-time", "2026-11-22T10:05:00Z"),
            ("Content-Type", "application/json"),
        ],
        r#"{"pool": "ghost-c"}"#,
    )
    .await;
    assert_eq!(binary.status, 202, "{:#}", binary.body);
    let ids = binary.message_ids();
    assert_eq!(ids, vec![expected_message_id(source, "ce-3")]);
    let envelope = original_envelope(&rejected_for(&world, &ids[0]).await);
    assert_eq!(envelope["spec"], json!({"name": "ghost-c"}));

    // A bad batch is refused whole, with the attribute named.
    let mut events = subscribe_when_idle(&world).await;
    let bad = json!([
        {"specversion": "1.0", "id": "ce-4", "source": source, "type": "com.example.pool.check",
         "data": {"pool": "ghost-d"}},
        {"specversion": "0.3", "id": "ce-5", "source": source, "type": "com.example.pool.check"}
    ]);
    let refused = post(
        &world,
        &[("Content-Type", "application/cloudevents-batch+json")],
        &bad.to_string(),
    )
    .await;
    assert_eq!(refused.status, 400, "{:#}", refused.body);
    assert_eq!(refused.error_code(), "InvalidEvent");
    assert!(
        refused.error_message().contains("specversion"),
        "{:#}",
        refused.body
    );
    assert_nothing_enqueued(&world, &mut events).await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_good_signature_detaches_and_every_bad_request_is_refused_with_nothing_enqueued()
 {
    let world = start_hooks(&[("POOLBROKER_WEBHOOK_SECRET", SECRET)]).await;
    let mut events = subscribe_when_idle(&world).await;
    for name in ["spark-campaign", "spark-keepme"] {
        let reply = round_trip(&world, &attach(name, POOL1, None)).await;
        assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    }
    // The reply goes out before the host records the invocation as completed.
    for _ in 0..2 {
        next_event(&mut events, WAIT, |e| match e {
            HostEvent::InvocationCompleted { function, .. } if function == COMMANDS => Some(()),
            _ => None,
        })
        .await
        .expect("the attach invocations complete");
    }
    let campaign = |pool: &str, id: &str| {
        json!({"id": id, "type": "campaign.ended",
               "data": {"workspace": WORKSPACE_ID, "pool": pool}})
        .to_string()
    };
    let json_type = ("Content-Type", "application/json");

    // Every refused request names spark-keepme: had any been enqueued, it would be detached.
    let body = campaign("spark-keepme", "w-bad");
    let now = unix_now().to_string();
    let wrong = sign(&now, b"some other body");
    let bad_signature = post(
        &world,
        &[
            json_type,
            ("X-Poolbroker-Timestamp", &now),
            ("X-Poolbroker-Signature", &wrong),
        ],
        &body,
    )
    .await;
    assert_eq!(bad_signature.status, 401, "{:#}", bad_signature.body);
    assert_eq!(bad_signature.error_code(), "InvalidSignature");
    assert!(
        bad_signature.error_message().contains("does not match"),
        "{:#}",
        bad_signature.body
    );

    let malformed = post(
        &world,
        &[
            json_type,
            ("X-Poolbroker-Timestamp", &now),
            ("X-Poolbroker-Signature", "md5=abc"),
        ],
        &body,
    )
    .await;
    assert_eq!(malformed.status, 401, "{:#}", malformed.body);
    assert_eq!(malformed.error_code(), "InvalidSignature");
    assert!(malformed.error_message().contains("64 hex digits"));

    let good_sig = sign(&now, body.as_bytes());
    let no_timestamp = post(
        &world,
        &[json_type, ("X-Poolbroker-Signature", &good_sig)],
        &body,
    )
    .await;
    assert_eq!(no_timestamp.status, 401, "{:#}", no_timestamp.body);
    assert_eq!(no_timestamp.error_code(), "MissingTimestamp");

    // A correctly signed request captured 6 minutes ago and replayed.
    let old = (unix_now() - 360).to_string();
    let replay_sig = sign(&old, body.as_bytes());
    let replay = post(
        &world,
        &[
            json_type,
            ("X-Poolbroker-Timestamp", &old),
            ("X-Poolbroker-Signature", &replay_sig),
        ],
        &body,
    )
    .await;
    assert_eq!(replay.status, 401, "{:#}", replay.body);
    assert_eq!(replay.error_code(), "StaleTimestamp");
    assert!(
        replay.error_message().contains("replayed or stale"),
        "{:#}",
        replay.body
    );

    // Over the 1 MiB limit, even when correctly signed.
    let padding = "x".repeat(1024 * 1024);
    let big = json!({"id": "w-big", "type": "campaign.ended",
                     "data": {"workspace": WORKSPACE_ID, "pool": "spark-keepme", "pad": padding}})
    .to_string();
    let big_sig = sign(&now, big.as_bytes());
    let too_large = post(
        &world,
        &[
            json_type,
            ("X-Poolbroker-Timestamp", &now),
            ("X-Poolbroker-Signature", &big_sig),
        ],
        &big,
    )
    .await;
    assert_eq!(too_large.status, 413, "{:#}", too_large.body);
    assert_eq!(too_large.error_code(), "BodyTooLarge");

    let unknown = post(&world, &[json_type], &body).await;
    assert_eq!(unknown.status, 400, "{:#}", unknown.body);
    assert_eq!(unknown.error_code(), "UnknownSchema");
    assert!(unknown.error_message().contains("X-Poolbroker-Signature"));

    assert_nothing_enqueued(&world, &mut events).await;

    // The good one, signed as docs/hooks.md shows.
    let body = campaign("spark-campaign", "w-good");
    let ts = unix_now().to_string();
    let signature = sign(&ts, body.as_bytes());
    let accepted = post(
        &world,
        &[
            json_type,
            ("X-Poolbroker-Timestamp", &ts),
            ("X-Poolbroker-Signature", &signature),
        ],
        &body,
    )
    .await;
    assert_eq!(accepted.status, 202, "{:#}", accepted.body);
    assert_eq!(
        accepted.message_ids(),
        vec![expected_message_id("poolbroker:webhook", "w-good")]
    );
    assert_eq!(accepted.body["commands"][0]["kind"], "DetachPool");
    eventually("the campaign pool to be detached", WAIT, || {
        world
            .arm
            .compute(WORKSPACE_ID, "spark-campaign")
            .is_none()
            .then_some(())
    })
    .await;
    let deletes = world.arm.delete_actions();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].compute_id, compute_id("spark-campaign"));
    assert_eq!(
        deletes[0].underlying_resource_action.as_deref(),
        Some("Detach")
    );
    assert!(world.arm.compute(WORKSPACE_ID, "spark-keepme").is_some());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_sent_as_octet_stream_is_verified_over_its_raw_bytes() {
    // The host hands binary content types to the handler base64-encoded; the signature is over
    // the bytes the sender sent, not over that encoding.
    let world = start_hooks(&[("POOLBROKER_WEBHOOK_SECRET", SECRET)]).await;
    let body =
        json!({"id": "w-bin", "type": "com.example.pool.check", "data": {"pool": "ghost-bin"}})
            .to_string();
    let ts = unix_now().to_string();
    let signature = sign(&ts, body.as_bytes());
    let answer = post(
        &world,
        &[
            ("Content-Type", "application/octet-stream"),
            ("X-Poolbroker-Timestamp", &ts),
            ("X-Poolbroker-Signature", &signature),
        ],
        &body,
    )
    .await;
    assert_eq!(answer.status, 202, "{:#}", answer.body);
    let ids = answer.message_ids();
    assert_eq!(
        ids,
        vec![expected_message_id("poolbroker:webhook", "w-bin")]
    );
    let envelope = original_envelope(&rejected_for(&world, &ids[0]).await);
    assert_eq!(envelope["spec"], json!({"name": "ghost-bin"}));
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routing_template_error_stops_the_handler_at_start_up_naming_rule_and_problem() {
    let routes = fixture("unterminated.yaml");
    let options = options_with(&[("POOLBROKER_ROUTES_FILE", routes.as_str())]);
    let error = match LocalWorld::start(options).await {
        Ok(world) => {
            world.stop().await.unwrap();
            panic!("the local world started with a broken routes file");
        }
        Err(error) => error,
    };
    // `LocalError` is not exported; its `Host` variant's source is the host's own error.
    let host_error = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<HostError>());
    let Some(HostError::HandlerRestartLimit { last_exit, stderr }) = host_error else {
        panic!("expected the host to give up on the handler, got {error:?}");
    };
    assert!(!last_exit.is_empty());
    let text = stderr.join("\n");
    for needle in [
        "unterminated.yaml",
        "rules[0] (broken-detach)",
        "command.spec.name",
        "unterminated '{{'",
    ] {
        assert!(text.contains(needle), "stderr lacks {needle:?}:\n{text}");
    }
}
