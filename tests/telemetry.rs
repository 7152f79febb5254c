//! End-to-end telemetry: spans, links, logs and metrics exported over real OTLP/HTTP to a local
//! receiver, and the secret grep over everything that left the process.
//!
//! Telemetry is process-global, so every test shares one `init` (with the receiver's endpoint)
//! and tells its spans apart by a fresh trace id.

#[path = "support/otlp_receiver.rs"]
mod otlp_receiver;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use otlp_receiver::{OtlpReceiver, ReceivedSpan};
use poolbroker::telemetry::{
    self, InvocationLogs, TelemetryConfig, TelemetryGuard, Trigger, fields,
};
use secrecy::SecretString;
use tracing::Instrument;

const WAIT: Duration = Duration::from_secs(10);
/// Sent as an exporter header; must reach the receiver and appear nowhere else.
const HEADER_SECRET: &str = "hdr-s3cr3t-0a1b2c";

/// Log lines written by the subscriber (instead of stdout).
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl LogSink {
    fn lines(&self) -> Vec<String> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct World {
    receiver: OtlpReceiver,
    guard: TelemetryGuard,
    logs: LogSink,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let receiver = OtlpReceiver::start();
        // What the OTEL_* variables would say, set in code: the SDK reads the variables from
        // the process environment, which tests running in parallel must not change.
        let endpoint = url::Url::parse(&receiver.endpoint()).expect("receiver URL");
        let config =
            TelemetryConfig::from_lookup(|k| (k == "POOLBROKER_LOG").then(|| "info".into()))
                .expect("config")
                .with_otlp_endpoint(&endpoint)
                .with_header(
                    "x-collector-auth",
                    SecretString::from(format!("Bearer {HEADER_SECRET}")),
                )
                .with_service_name("poolbroker-test")
                .with_resource_attribute("deployment.environment.name", "test");
        let logs = LogSink::default();
        let sink = logs.clone();
        let guard = telemetry::init_with_writer(&config, move || sink.clone()).expect("init");
        assert!(!guard.is_reused());
        World {
            receiver,
            guard,
            logs,
        }
    })
}

fn random_hex(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

/// A fresh upstream context: (traceparent, trace id, parent span id).
fn upstream() -> (String, String, String) {
    let trace_id = random_hex(32);
    let span_id = random_hex(16);
    (format!("00-{trace_id}-{span_id}-01"), trace_id, span_id)
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span named {name} in {spans:#?}"))
}

fn attr<'a>(span: &'a ReceivedSpan, key: &str) -> &'a str {
    span.attributes
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("span {} has no {key}: {:#?}", span.name, span.attributes))
}

#[tokio::test]
async fn invocation_continues_the_message_trace_and_arm_spans_are_its_children() {
    let w = world();
    let (traceparent, trace_id, upstream_span_id) = upstream();
    // The Functions host delivers ApplicationProperties values double-encoded.
    let props = HashMap::from([("TraceParent".to_owned(), format!("\"{traceparent}\""))]);
    let parent = telemetry::parent_from_properties(|name| {
        props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    })
    .expect("valid traceparent");

    let span = telemetry::invocation_span(Trigger::PubSub, "ProcessCommand", "inv-0001");
    telemetry::set_parent(&span, parent);
    span.record(fields::MESSAGING_MESSAGE_ID, "msg-42");
    span.record(fields::MESSAGING_DESTINATION_NAME, "pool-commands");
    span.record(fields::MESSAGING_DELIVERY_COUNT, 2);
    span.record(fields::COMMAND_KIND, "attach");
    let captured = InvocationLogs::new();
    assert!(captured.scope(&span));

    let (inner_traceparent, props_out) = async {
        tracing::info!(compute = "synapse-a", "attach started");
        // As the ARM client engineer creates them.
        let manual = tracing::info_span!(
            "arm.request",
            otel.kind = "client",
            http.request.method = "GET",
            url.full = telemetry::redact_url(
                "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1?api-version=2024-10-01"
            ),
            server.address = "management.azure.com",
            http.response.status_code = tracing::field::Empty,
            az.namespace = "Microsoft.MachineLearningServices",
            az.service_request_id = tracing::field::Empty,
            http.request.resend_count = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        async {
            tracing::Span::current().record(fields::HTTP_RESPONSE_STATUS_CODE, 200);
            tracing::Span::current().record(fields::AZ_SERVICE_REQUEST_ID, "req-abc");
            tracing::info!("workspace read");
        }
        .instrument(manual)
        .await;

        let put = telemetry::arm_request_span(
            "PUT",
            "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1/computes/pool1?api-version=2024-10-01",
        );
        async {
            let current = tracing::Span::current();
            current.record(fields::HTTP_RESPONSE_STATUS_CODE, 409);
            current.record(fields::HTTP_RESEND_COUNT, 1);
            telemetry::record_error(&current, "Conflict", "compute pool1 is being deleted");
            (
                telemetry::current_traceparent(),
                telemetry::propagation_properties(),
            )
        }
        .instrument(put)
        .await
    }
    .instrument(span.clone())
    .await;
    span.record(fields::OUTCOME, "permanent_failure");
    drop(span);
    tracing::info!("outside the invocation");

    w.guard.flush().await.expect("flush");
    let spans = w
        .receiver
        .wait_for(
            |s| s.iter().filter(|s| s.trace_id_hex == trace_id).count() >= 3,
            WAIT,
        )
        .await
        .expect("spans exported");
    let spans: Vec<ReceivedSpan> = spans
        .into_iter()
        .filter(|s| s.trace_id_hex == trace_id)
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");

    let inv = by_name(&spans, "ProcessCommand");
    assert_eq!(inv.parent_span_id_hex, upstream_span_id);
    assert_eq!(inv.kind, "consumer");
    assert_eq!(attr(inv, "faas.trigger"), "pubsub");
    assert_eq!(attr(inv, "faas.invocation_id"), "inv-0001");
    assert_eq!(attr(inv, "faas.name"), "ProcessCommand");
    assert_eq!(attr(inv, "messaging.system"), "servicebus");
    assert_eq!(attr(inv, "messaging.operation.type"), "process");
    assert_eq!(attr(inv, "messaging.message.id"), "msg-42");
    assert_eq!(attr(inv, "messaging.destination.name"), "pool-commands");
    assert_eq!(
        attr(inv, "messaging.servicebus.message.delivery_count"),
        "2"
    );
    assert_eq!(attr(inv, "poolbroker.command.kind"), "attach");
    assert_eq!(attr(inv, "poolbroker.outcome"), "permanent_failure");
    assert!(
        !inv.attributes.contains_key("poolbroker.compute.choice"),
        "unrecorded stays absent"
    );
    assert_eq!(
        inv.resource.get("service.name").map(String::as_str),
        Some("poolbroker-test")
    );
    assert_eq!(
        inv.resource
            .get("deployment.environment.name")
            .map(String::as_str),
        Some("test")
    );

    let arm: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == "arm.request").collect();
    assert_eq!(arm.len(), 2, "{spans:#?}");
    for a in &arm {
        assert_eq!(
            a.parent_span_id_hex, inv.span_id_hex,
            "ARM span is a child of the invocation"
        );
        assert_eq!(a.kind, "client");
        assert_eq!(attr(a, "server.address"), "management.azure.com");
        assert_eq!(attr(a, "az.namespace"), "Microsoft.MachineLearningServices");
    }
    let get = arm
        .iter()
        .find(|a| attr(a, "http.request.method") == "GET")
        .unwrap();
    assert_eq!(attr(get, "http.response.status_code"), "200");
    assert_eq!(attr(get, "az.service_request_id"), "req-abc");
    assert_eq!(get.status_code, "unset");
    let put = arm
        .iter()
        .find(|a| attr(a, "http.request.method") == "PUT")
        .unwrap();
    assert_eq!(
        attr(put, "url.full"),
        "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1/computes/pool1?api-version=2024-10-01"
    );
    assert_eq!(attr(put, "http.response.status_code"), "409");
    assert_eq!(attr(put, "http.request.resend_count"), "1");
    assert_eq!(attr(put, "error.type"), "Conflict");
    assert_eq!(put.status_code, "error");
    assert_eq!(put.status_message, "compute pool1 is being deleted");

    // What the broker would put on its reply: same trace, the PUT span as parent.
    let expected = format!("00-{trace_id}-{}-01", put.span_id_hex);
    assert_eq!(inner_traceparent.as_deref(), Some(expected.as_str()));
    let props_out: HashMap<String, String> = props_out.into_iter().collect();
    assert_eq!(props_out.get("traceparent"), Some(&expected));
    assert_eq!(props_out.get("Diagnostic-Id"), Some(&expected));
    assert!(
        !props_out.contains_key("tracestate"),
        "empty tracestate is not sent"
    );

    // stdout JSON lines carry the ids of the span they were logged in.
    let line = w
        .logs
        .lines()
        .into_iter()
        .find(|l| l.contains("attach started"))
        .expect("log line");
    let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
    assert_eq!(json["level"], "INFO");
    assert_eq!(json["message"], "attach started");
    assert_eq!(json["fields"]["compute"], "synapse-a");
    assert_eq!(json["trace_id"], trace_id.as_str());
    assert_eq!(json["span_id"], inv.span_id_hex.as_str());
    assert_eq!(json["spans"][0]["faas.invocation_id"], "inv-0001");

    // The invocation's own log lines, for the response's `Logs`.
    let captured = captured.take();
    assert_eq!(
        captured,
        vec![
            "INFO attach started compute=synapse-a".to_owned(),
            "INFO workspace read".to_owned(),
        ]
    );
}

#[tokio::test]
async fn follow_up_invocation_links_back_to_the_original() {
    let w = world();
    let (traceparent, trace_id, original_span_id) = upstream();
    let original = telemetry::parent_from_properties(|name| {
        (name.eq_ignore_ascii_case("diagnostic-id")).then(|| traceparent.clone())
    })
    .expect("Diagnostic-Id fallback");

    let span = telemetry::invocation_span(Trigger::PubSub, "ProcessFollowUp", "inv-follow");
    telemetry::add_link(&span, &original);
    async { tracing::info!("polling the long operation") }
        .instrument(span.clone())
        .await;
    drop(span);

    w.guard.flush().await.expect("flush");
    let spans = w
        .receiver
        .wait_for(
            |s| {
                s.iter().any(|s| {
                    s.attributes.get("faas.invocation_id").map(String::as_str) == Some("inv-follow")
                })
            },
            WAIT,
        )
        .await
        .expect("follow-up span exported");
    let follow = spans
        .iter()
        .find(|s| s.attributes.get("faas.invocation_id").map(String::as_str) == Some("inv-follow"))
        .unwrap();
    assert_eq!(follow.links, vec![(trace_id.clone(), original_span_id)]);
    assert_ne!(follow.trace_id_hex, trace_id, "a link, not a parent");
    assert_eq!(follow.parent_span_id_hex, "");
}

#[tokio::test]
async fn http_and_timer_invocations_are_server_spans() {
    let w = world();
    for (trigger, function) in [
        (Trigger::Http, "PipelineEvents"),
        (Trigger::Timer, "WorkspaceCleanup"),
    ] {
        let span = telemetry::invocation_span(trigger, function, &format!("inv-{function}"));
        async { tracing::info!("tick") }.instrument(span).await;
    }
    w.guard.flush().await.expect("flush");
    let spans = w
        .receiver
        .wait_for(
            |s| {
                ["PipelineEvents", "WorkspaceCleanup"]
                    .iter()
                    .all(|n| s.iter().any(|s| s.name == *n))
            },
            WAIT,
        )
        .await
        .expect("spans exported");
    let http = by_name(&spans, "PipelineEvents");
    assert_eq!(http.kind, "server");
    assert_eq!(attr(http, "faas.trigger"), "http");
    assert!(!http.attributes.contains_key("messaging.system"));
    let timer = by_name(&spans, "WorkspaceCleanup");
    assert_eq!(timer.kind, "server");
    assert_eq!(attr(timer, "faas.trigger"), "timer");
}

#[tokio::test]
async fn metrics_go_through_the_same_exporter() {
    let w = world();
    let m = telemetry::metrics();
    assert!(m.is_enabled());
    m.record_command("attach", "success");
    m.record_command("attach", "success");
    m.record_command("detach", "transient_failure");
    m.record_arm_request("PUT", Some(201), Duration::from_millis(250));
    m.record_arm_request("GET", None, Duration::from_millis(5));
    m.record_arm_retry();
    w.guard.flush().await.expect("flush");

    let points = w
        .receiver
        .wait_for_metrics(
            |p| {
                [
                    "poolbroker.commands",
                    "poolbroker.arm.request.duration",
                    "poolbroker.arm.retries",
                ]
                .iter()
                .all(|n| p.iter().any(|p| p.name == *n))
            },
            WAIT,
        )
        .await
        .expect("metrics exported");
    let attach = points
        .iter()
        .rev()
        .find(|p| {
            p.name == "poolbroker.commands"
                && p.attributes
                    .get("poolbroker.command.kind")
                    .map(String::as_str)
                    == Some("attach")
        })
        .unwrap();
    assert_eq!(attach.value, 2.0);
    assert_eq!(attach.attributes["poolbroker.outcome"], "success");
    let put = points
        .iter()
        .rev()
        .find(|p| {
            p.name == "poolbroker.arm.request.duration"
                && p.attributes.get("http.request.method").map(String::as_str) == Some("PUT")
        })
        .unwrap();
    assert_eq!(put.unit, "s");
    assert_eq!(put.attributes["http.response.status_code"], "201");
    assert_eq!(put.value, 1.0);
    assert!((put.histogram_sum.unwrap() - 0.25).abs() < 1e-9);
    let get = points
        .iter()
        .rev()
        .find(|p| {
            p.name == "poolbroker.arm.request.duration"
                && p.attributes.get("http.request.method").map(String::as_str) == Some("GET")
        })
        .unwrap();
    assert!(!get.attributes.contains_key("http.response.status_code"));
    let retries = points
        .iter()
        .rev()
        .find(|p| p.name == "poolbroker.arm.retries")
        .unwrap();
    assert!(retries.value >= 1.0);
}

#[tokio::test]
async fn secrets_never_leave_the_process() {
    let w = world();
    let sig = "SIGs3cr3tAAAA";
    let fn_key = "FNKEYs3cr3tBBBB";
    let password = "PWs3cr3tCCCC";
    let bearer = "eyJBEARERs3cr3tDDDD";
    let account_key = "ACCTKEYs3cr3tEEEE";
    let identity_header = "IDHs3cr3tFFFF";
    let secrets = [
        sig,
        fn_key,
        password,
        bearer,
        account_key,
        identity_header,
        HEADER_SECRET,
    ];
    let marker = random_hex(12);

    let sas_url = format!(
        "https://acct.blob.core.windows.net/pkg/app.zip?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig={sig}"
    );
    let hook_url =
        format!("https://user:{password}@broker.example/api/events?code={fn_key}&marker={marker}");

    let span =
        telemetry::invocation_span(Trigger::Http, "PipelineEvents", &format!("inv-{marker}"));
    let captured = InvocationLogs::new();
    assert!(captured.scope(&span));
    async {
        // Through the helpers: url.full is redacted.
        let arm = telemetry::arm_request_span("GET", &sas_url);
        async {
            tracing::info!(
                authorization = %format!("Bearer {bearer}"),
                x_identity_header = identity_header,
                marker = %marker,
                "calling storage"
            );
            telemetry::record_error(
                &tracing::Span::current(),
                "AuthenticationFailed",
                &format!("GET {sas_url} failed with Authorization: Bearer {bearer}"),
            );
        }
        .instrument(arm)
        .await;
        // Careless calls: secrets in messages and in fields with secret names.
        tracing::warn!("hook called at {hook_url}");
        tracing::info!(password, "login for {marker}");
        tracing::error!(
            error = %format!("storage: DefaultEndpointsProtocol=https;AccountName=a;AccountKey={account_key};EndpointSuffix=core.windows.net"),
            "upload failed {marker}"
        );
        tracing::info!(token = ?secrecy::SecretString::from(bearer.to_owned()), "token acquired {marker}");
    }
    .instrument(span)
    .await;

    w.guard.flush().await.expect("flush");
    w.receiver
        .wait_for(
            |s| {
                s.iter().any(|s| {
                    s.attributes.get("faas.invocation_id") == Some(&format!("inv-{marker}"))
                })
            },
            WAIT,
        )
        .await
        .expect("spans exported");

    let exported = w.receiver.exported_text();
    let logs = w.logs.lines().join("\n");
    let captured = captured.take().join("\n");
    // The grep sees the data: the non-secret marker made it everywhere.
    assert!(exported.contains(&marker), "marker missing from exports");
    assert!(logs.contains(&marker), "marker missing from logs");
    assert!(
        captured.contains(&marker),
        "marker missing from captured lines"
    );
    assert!(exported.contains("https://acct.blob.core.windows.net/pkg/app.zip"));
    for secret in secrets {
        assert!(!exported.contains(secret), "{secret} exported over OTLP");
        assert!(!logs.contains(secret), "{secret} written to the log");
        assert!(
            !captured.contains(secret),
            "{secret} in the invocation Logs"
        );
    }
    // The exporter header was used (the collector saw it) without leaking anywhere above.
    let header_seen = w.receiver.requests().iter().any(|r| {
        r.headers.get("x-collector-auth").map(String::as_str)
            == Some(&format!("Bearer {HEADER_SECRET}"))
    });
    assert!(header_seen, "OTEL_EXPORTER_OTLP_HEADERS not sent");
    assert!(
        w.receiver.decode_errors().is_empty(),
        "{:?}",
        w.receiver.decode_errors()
    );
}

#[tokio::test]
async fn second_init_reuses_the_first_installation() {
    let w = world();
    let again = telemetry::init(&TelemetryConfig::default()).expect("second init");
    assert!(again.is_reused());
    // The first config (with an endpoint) stays in force.
    assert!(again.exports_traces() && again.exports_metrics());
    assert!(w.guard.exports_traces());
}

#[test]
fn without_an_endpoint_nothing_would_be_exported() {
    let config =
        TelemetryConfig::from_lookup(|k| (k == "OTEL_SERVICE_NAME").then(|| "quiet".to_owned()))
            .expect("config")
            .with_header("ignored", SecretString::from("without an endpoint"));
    assert!(!config.exports_traces());
    assert!(!config.exports_metrics());
    assert!(!TelemetryConfig::default().exports_traces());
}
