//! A local OTLP/HTTP (protobuf) receiver for integration tests.
//!
//! Include it with `#[path = "support/otlp_receiver.rs"] mod otlp_receiver;`. It serves on
//! 127.0.0.1 from its own thread and runtime, so it keeps answering while a test blocks in a
//! flush or runs on paused time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

/// One exported span, flattened for assertions. Ids are lower-case hex; a root span has an
/// empty `parent_span_id_hex`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    pub trace_id_hex: String,
    pub span_id_hex: String,
    pub parent_span_id_hex: String,
    pub name: String,
    /// `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    pub attributes: BTreeMap<String, String>,
    /// `(trace_id_hex, span_id_hex)` of each linked span.
    pub links: Vec<(String, String)>,
    pub events: Vec<ReceivedEvent>,
    /// `unset`, `ok` or `error`.
    pub status_code: String,
    pub status_message: String,
    /// Resource attributes of the exporting process (`service.name`, …).
    pub resource: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
}

/// One metric data point. `value` is the number for sums and gauges and the count for
/// histograms (whose sum is in `histogram_sum`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetricPoint {
    pub name: String,
    pub unit: String,
    pub attributes: BTreeMap<String, String>,
    pub value: f64,
    pub histogram_sum: Option<f64>,
}

/// One export request as it arrived.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body_len: usize,
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ReceivedMetricPoint>,
    raw: Vec<u8>,
    requests: Vec<ReceivedRequest>,
    decode_errors: Vec<String>,
}

type Shared = Arc<Mutex<Received>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Received> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// `wait_for` gave up; carries what had arrived.
pub struct WaitTimeout {
    pub spans: Vec<ReceivedSpan>,
}

impl fmt::Debug for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "timed out; {} spans received:", self.spans.len())?;
        for s in &self.spans {
            writeln!(
                f,
                "  {} trace={} span={} parent={} kind={}",
                s.name, s.trace_id_hex, s.span_id_hex, s.parent_span_id_hex, s.kind
            )?;
        }
        Ok(())
    }
}

impl OtlpReceiver {
    /// Binds 127.0.0.1:0 and serves `POST /v1/traces`, `/v1/metrics` and `/v1/logs`.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let received: Shared = Arc::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .route("/v1/logs", post(logs))
            .with_state(received.clone());
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("receiver runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await
                        .expect("receiver serve");
                });
            })
            .expect("spawn receiver thread");
        Self {
            addr,
            received,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.received).spans.clone()
    }

    pub fn spans_in_trace(&self, trace_id_hex: &str) -> Vec<ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.trace_id_hex == trace_id_hex)
            .collect()
    }

    pub fn metric_points(&self) -> Vec<ReceivedMetricPoint> {
        lock(&self.received).metrics.clone()
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.received).requests.clone()
    }

    /// Bodies that failed to decode (each a description); a correct exporter leaves this empty.
    pub fn decode_errors(&self) -> Vec<String> {
        lock(&self.received).decode_errors.clone()
    }

    /// Every request body received, concatenated (traces, metrics and logs).
    pub fn raw_bytes(&self) -> Vec<u8> {
        lock(&self.received).raw.clone()
    }

    /// All exported payloads as text, for grepping: protobuf keeps strings as plain UTF-8, so
    /// every attribute, event, name and status message appears verbatim.
    pub fn exported_text(&self) -> String {
        String::from_utf8_lossy(&self.raw_bytes()).into_owned()
    }

    /// Polls every millisecond (real time, also under paused tokio time) until `pred` holds for
    /// the spans received so far.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if pred(&spans) {
                return Ok(spans);
            }
            if Instant::now() >= deadline {
                return Err(WaitTimeout { spans });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Like [`OtlpReceiver::wait_for`], for metric points.
    pub async fn wait_for_metrics(
        &self,
        pred: impl Fn(&[ReceivedMetricPoint]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetricPoint>, Vec<ReceivedMetricPoint>> {
        let deadline = Instant::now() + timeout;
        loop {
            let points = self.metric_points();
            if pred(&points) {
                return Ok(points);
            }
            if Instant::now() >= deadline {
                return Err(points);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn record_request(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    let mut r = lock(shared);
    r.raw.extend_from_slice(body);
    r.requests.push(ReceivedRequest {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_len: body.len(),
    });
}

fn protobuf_ok() -> ([(&'static str, &'static str); 1], Vec<u8>) {
    // An empty Export*ServiceResponse encodes to zero bytes.
    ([("content-type", "application/x-protobuf")], Vec::new())
}

async fn traces(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<([(&'static str, &'static str); 1], Vec<u8>), StatusCode> {
    record_request(&shared, &uri, &headers, &body);
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(r) => r,
        Err(e) => {
            lock(&shared).decode_errors.push(format!("traces: {e}"));
            return Err(StatusCode::BAD_REQUEST);
        }
    };
    let mut spans = Vec::new();
    for rs in request.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                let (status_code, status_message) = match s.status {
                    Some(st) => (status_name(st.code), st.message),
                    None => ("unset".to_owned(), String::new()),
                };
                spans.push(ReceivedSpan {
                    trace_id_hex: hex(&s.trace_id),
                    span_id_hex: hex(&s.span_id),
                    parent_span_id_hex: hex(&s.parent_span_id),
                    name: s.name,
                    kind: kind_name(s.kind),
                    attributes: attributes(&s.attributes),
                    links: s
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                        .collect(),
                    events: s
                        .events
                        .iter()
                        .map(|e| ReceivedEvent {
                            name: e.name.clone(),
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                    status_code,
                    status_message,
                    resource: resource.clone(),
                });
            }
        }
    }
    lock(&shared).spans.extend(spans);
    Ok(protobuf_ok())
}

async fn metrics(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<([(&'static str, &'static str); 1], Vec<u8>), StatusCode> {
    record_request(&shared, &uri, &headers, &body);
    let request = match ExportMetricsServiceRequest::decode(body) {
        Ok(r) => r,
        Err(e) => {
            lock(&shared).decode_errors.push(format!("metrics: {e}"));
            return Err(StatusCode::BAD_REQUEST);
        }
    };
    let mut points = Vec::new();
    for rm in request.resource_metrics {
        for sm in rm.scope_metrics {
            for m in sm.metrics {
                let point = |attrs: &[KeyValue], value: f64, histogram_sum: Option<f64>| {
                    ReceivedMetricPoint {
                        name: m.name.clone(),
                        unit: m.unit.clone(),
                        attributes: attributes(attrs),
                        value,
                        histogram_sum,
                    }
                };
                match &m.data {
                    Some(metric::Data::Sum(sum)) => {
                        for dp in &sum.data_points {
                            points.push(point(&dp.attributes, number(dp.value), None));
                        }
                    }
                    Some(metric::Data::Gauge(g)) => {
                        for dp in &g.data_points {
                            points.push(point(&dp.attributes, number(dp.value), None));
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for dp in &h.data_points {
                            points.push(point(&dp.attributes, dp.count as f64, dp.sum));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    lock(&shared).metrics.extend(points);
    Ok(protobuf_ok())
}

async fn logs(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    record_request(&shared, &uri, &headers, &body);
    protobuf_ok()
}

fn number(v: Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => f64::NAN,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind_name(kind: i32) -> String {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
    .to_owned()
}

fn status_name(code: i32) -> String {
    match code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    }
    .to_owned()
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_value_text(kv.value.as_ref())))
        .collect()
}

fn any_value_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| any_value_text(Some(v))).collect();
            format!("[{}]", items.join(","))
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, any_value_text(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Some(any_value::Value::BytesValue(b)) => hex(b),
        _ => String::new(),
    }
}
