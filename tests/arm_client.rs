//! ArmClient over real HTTP against small scripted fakes on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use poolbroker::azureml::{
    ArmClient, ArmClientOptions, ArmError, JobListFilter, LroOptions, LroOutcome, PendingOperation,
    StaticToken,
};
use poolbroker::domain::spark::JobName;
use poolbroker::domain::{
    ComputeName, ComputeResource, JobResource, OperationKind, OperationRef, OperationStatus,
    WorkspaceId, to_json,
};
use serde_json::{Value, json};
use tokio::time::Instant;

const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-1";
const TOKEN: &str = "secret-token-do-not-leak";

fn ws() -> WorkspaceId {
    WorkspaceId::parse(WS).unwrap()
}

fn compute(name: &str) -> ComputeName {
    ComputeName::parse(name).unwrap()
}

fn job(name: &str) -> JobName {
    JobName::parse(name).unwrap()
}

fn model<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Scripted fake

#[derive(Debug, Clone)]
struct Recorded {
    base: String,
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
        }
    }
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::from_u16(self.status).unwrap(), self.body).into_response();
        for (k, v) in self.headers {
            response.headers_mut().insert(k, v.parse().unwrap());
        }
        response
    }
}

/// `(request, how many earlier requests had the same path)` → reply.
type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct FakeState {
    base: String,
    requests: Mutex<Vec<Recorded>>,
    responder: Box<Responder>,
}

struct Fake {
    base: String,
    state: Arc<FakeState>,
}

impl Fake {
    async fn start(responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(FakeState {
            base: base.clone(),
            requests: Mutex::new(Vec::new()),
            responder: Box::new(responder),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, state }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    fn client(&self) -> ArmClient {
        self.client_with(|_| {})
    }

    fn client_with(&self, tweak: impl FnOnce(&mut ArmClientOptions)) -> ArmClient {
        let mut options = ArmClientOptions::from_env(|k| {
            (k == "POOLBROKER_ARM_ENDPOINT").then(|| self.base.clone())
        })
        .unwrap();
        tweak(&mut options);
        ArmClient::new(options, Arc::new(StaticToken::new(TOKEN))).unwrap()
    }
}

async fn handle(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        base: state.base.clone(),
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let same_path = {
        let mut requests = state.requests.lock().unwrap();
        let n = requests.iter().filter(|r| r.path == recorded.path).count();
        requests.push(recorded.clone());
        n
    };
    (state.responder)(&recorded, same_path).into_response()
}

fn arm_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn compute_path(name: &str) -> String {
    format!("{WS}/computes/{name}")
}

// ---------------------------------------------------------------------------------------------
// Retry

#[tokio::test(start_paused = true)]
async fn retries_503_then_succeeds_with_the_same_correlation_id() {
    let fake = Fake::start(|_, n| {
        if n < 2 {
            Reply::json(503, arm_error("ServiceUnavailable", "try later"))
        } else {
            Reply::json(200, json!({"name": "ws-1"}))
        }
    })
    .await;
    let client = fake.client().with_correlation_id("corr-123").unwrap();

    let ws = client.get_workspace(&ws()).await.unwrap();

    assert_eq!(ws.name.as_deref(), Some("ws-1"));
    assert_eq!(to_json(&ws), json!({"name": "ws-1"}));
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.path, WS);
        assert_eq!(r.query.as_deref(), Some("api-version=2025-12-01"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("x-ms-correlation-request-id"), Some("corr-123"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("poolbroker/"));
        uuid::Uuid::parse_str(r.header("x-ms-client-request-id").unwrap()).unwrap();
    }
    let ids: std::collections::HashSet<_> = requests
        .iter()
        .map(|r| r.header("x-ms-client-request-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "each attempt gets its own client request id");
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_seconds_on_429() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            Reply::json(429, arm_error("TooManyRequests", "slow down")).header("Retry-After", "1")
        } else {
            Reply::json(200, json!({"name": "ws-1"}))
        }
    })
    .await;
    let start = Instant::now();

    fake.client().get_workspace(&ws()).await.unwrap();

    let waited = start.elapsed();
    assert_eq!(fake.count(), 2);
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    // The first backoff (200 ms + ≤256 ms jitter) is shorter, so the server's hint decides.
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
}

#[tokio::test]
async fn after_a_429_other_reads_of_the_subscription_wait_instead_of_being_throttled_too() {
    let fake = Fake::start(|req, n| {
        if n == 0 && req.path.ends_with("/workspaces/ws-1") {
            Reply::json(429, arm_error("TooManyRequests", "reads exhausted"))
                .header("Retry-After", "1")
        } else {
            Reply::json(200, json!({"name": "x"}))
        }
    })
    .await;
    let client = fake.client();
    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.get_workspace(&ws()).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fake.count(), 1, "the first read was answered 429");

    // Another command's read in the same subscription while ARM's read bucket is empty: held
    // until the Retry-After has passed, not sent to be throttled as well.
    let held_from = Instant::now();
    client.get_compute(&ws(), &compute("other")).await.unwrap();
    let held = held_from.elapsed();
    assert!(
        held >= Duration::from_millis(900),
        "a read in a throttled bucket went out after {held:?}"
    );
    first.await.unwrap().unwrap();
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn when_arm_says_the_read_bucket_is_nearly_empty_reads_are_paced_at_its_refill_rate() {
    // Every answer says 5 reads are left: below the pacing threshold.
    let fake = Fake::start(|_, _| {
        Reply::json(200, json!({"name": "x"}))
            .header("x-ms-ratelimit-remaining-subscription-reads", "5")
    })
    .await;
    let client = fake.client();
    client.get_workspace(&ws()).await.unwrap();

    let started = Instant::now();
    let reads: Vec<_> = (0..6)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .get_compute(&ws(), &compute(&format!("spark{i}x")))
                    .await
            })
        })
        .collect();
    for read in reads {
        read.await.unwrap().unwrap();
    }
    // Six reads at ARM's documented 25 per second: the last one's slot is 200 ms out. Without
    // pacing all six go out at once and come back within a few milliseconds.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "six paced reads took {took:?}"
    );
    assert_eq!(fake.count(), 7);
}

#[tokio::test(start_paused = true)]
async fn retry_after_ms_wins_over_retry_after() {
    let fake = Fake::start(|_, n| {
        if n == 0 {
            Reply::json(503, arm_error("ServiceUnavailable", "busy"))
                .header("retry-after-ms", "1500")
                .header("Retry-After", "10")
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let start = Instant::now();

    fake.client().get_workspace(&ws()).await.unwrap();

    let waited = start.elapsed();
    assert_eq!(fake.count(), 2);
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_elapsed_with_a_transient_error() {
    let fake = Fake::start(|_, _| {
        Reply::json(503, arm_error("ServiceUnavailable", "down for maintenance"))
            .header("Retry-After", "20")
    })
    .await;
    let start = Instant::now();

    let err = fake.client().get_workspace(&ws()).await.unwrap_err();

    // Attempts at 0 s, 20 s, 40 s, 60 s; a fifth would end at 80 s > max_elapsed (60 s).
    assert_eq!(fake.count(), 4);
    assert!(
        start.elapsed() <= Duration::from_secs(61),
        "{:?}",
        start.elapsed()
    );
    assert!(err.is_transient());
    match &err {
        ArmError::Status {
            status,
            code,
            attempts,
            body,
            ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(code, "ServiceUnavailable");
            assert_eq!(*attempts, 4);
            assert_eq!(
                **body,
                arm_error("ServiceUnavailable", "down for maintenance")
            );
        }
        other => panic!("expected Status, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn persistent_429_ends_throttled_with_the_servers_hint() {
    let fake = Fake::start(|_, _| {
        Reply::json(
            429,
            arm_error("TooManyRequests", "subscription reads exhausted"),
        )
        .header("Retry-After", "25")
    })
    .await;
    let client = fake.client_with(|o| o.retry.max_retries = 2);

    let err = client.get_workspace(&ws()).await.unwrap_err();

    assert_eq!(fake.count(), 3);
    assert!(err.is_transient());
    match err {
        ArmError::Throttled {
            attempts,
            retry_after,
            code,
            ..
        } => {
            assert_eq!(attempts, 3);
            assert_eq!(retry_after, Some(Duration::from_secs(25)));
            assert_eq!(code, "TooManyRequests");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn arm_400_is_surfaced_verbatim_and_not_retried() {
    let body = json!({
        "error": {
            "code": "InvalidApiVersionParameter",
            "message": "The api-version '2099-01-01' is invalid. The supported versions are '2025-12-01'.",
            "details": [{"code": "X", "message": "y"}]
        }
    });
    let reply_body = body.clone();
    let fake = Fake::start(move |_, _| {
        Reply::json(400, reply_body.clone()).header("x-ms-request-id", "req-42")
    })
    .await;

    let err = fake.client().get_workspace(&ws()).await.unwrap_err();

    assert_eq!(fake.count(), 1);
    assert!(!err.is_transient());
    assert_eq!(err.arm_code(), Some("InvalidApiVersionParameter"));
    let shown = err.to_string();
    assert!(shown.contains("InvalidApiVersionParameter"), "{shown}");
    assert!(
        shown.contains(
            "The api-version '2099-01-01' is invalid. The supported versions are '2025-12-01'."
        ),
        "{shown}"
    );
    match err {
        ArmError::Status {
            status,
            body: got,
            request_id,
            attempts,
            ..
        } => {
            assert_eq!(status, 400);
            assert_eq!(*got, body);
            assert_eq!(request_id.as_deref(), Some("req-42"));
            assert_eq!(attempts, 1);
        }
        other => panic!("expected Status, got {other:?}"),
    }
}

#[tokio::test]
async fn get_compute_maps_404_to_none_and_put_job_reports_creation() {
    let fake = Fake::start(|r, n| match (r.method.as_str(), r.path.as_str()) {
        ("GET", p) if p.ends_with("/computes/missing") => Reply::json(
            404,
            arm_error("NotFound", "The specified resource was not found."),
        ),
        ("PUT", p) if p.ends_with("/jobs/job-1") => {
            let status = if n == 0 { 201 } else { 200 };
            let sent: Value = serde_json::from_slice(&r.body).unwrap();
            Reply::json(status, json!({"name": "job-1", "echo": sent}))
        }
        _ => Reply::json(500, arm_error("Unexpected", "unscripted")),
    })
    .await;
    let client = fake.client();

    assert_eq!(
        client
            .get_compute(&ws(), &compute("missing"))
            .await
            .unwrap(),
        None
    );
    let body: JobResource = model(json!({"properties": {"jobType": "Spark"}}));
    let (put, created) = client.put_job(&ws(), &job("job-1"), &body).await.unwrap();
    assert!(created);
    assert_eq!(put.extra["echo"], to_json(&body));
    let (_, created) = client.put_job(&ws(), &job("job-1"), &body).await.unwrap();
    assert!(!created);
    let put = &fake.requests()[1];
    assert_eq!(put.header("content-type"), Some("application/json"));
}

// ---------------------------------------------------------------------------------------------
// Long-running operations

#[tokio::test(start_paused = true)]
async fn put_compute_follows_azure_async_operation_then_gets_the_resource() {
    let fake = Fake::start(|r, n| {
        let op_url = format!("{}/operations/op-1?api-version=2025-12-01", r.base);
        match (r.method.as_str(), r.path.as_str()) {
            // No resource in the answer (only a status): the final state is read with a GET.
            ("PUT", _) => Reply::json(201, json!({"status": "Accepted"}))
                .header("Azure-AsyncOperation", op_url)
                .header("Retry-After", "1"),
            ("GET", "/operations/op-1") if n == 0 => {
                Reply::json(200, json!({"status": "InProgress"})).header("Retry-After", "2")
            }
            ("GET", "/operations/op-1") => Reply::json(200, json!({"status": "Succeeded"})),
            ("GET", _) => Reply::json(
                200,
                json!({"name": "pool-a", "properties": {"provisioningState": "Succeeded"}}),
            ),
            _ => Reply::json(500, arm_error("Unexpected", "unscripted")),
        }
    })
    .await;
    let start = Instant::now();

    let outcome = fake
        .client()
        .put_compute(
            &ws(),
            &compute("pool-a"),
            &model(json!({"properties": {"computeType": "SynapseSpark"}})),
        )
        .await
        .unwrap();

    assert_eq!(
        outcome,
        LroOutcome::Done(Some(model(
            json!({"name": "pool-a", "properties": {"provisioningState": "Succeeded"}})
        )))
    );
    let seen: Vec<(String, String)> = fake
        .requests()
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("PUT".to_owned(), compute_path("pool-a")),
            ("GET".to_owned(), "/operations/op-1".to_owned()),
            ("GET".to_owned(), "/operations/op-1".to_owned()),
            ("GET".to_owned(), compute_path("pool-a")),
        ]
    );
    // Retry-After 1 s before the first poll, 2 s before the second.
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn failed_async_operation_surfaces_the_operation_error() {
    let fake = Fake::start(|r, _| match r.method.as_str() {
        "PUT" => Reply::json(201, json!({}))
            .header("Azure-AsyncOperation", format!("{}/operations/op-9", r.base)),
        _ => Reply::json(
            200,
            json!({"status": "Failed", "error": {"code": "SynapsePoolNotFound", "message": "pool p1 does not exist"}}),
        ),
    })
    .await;

    let err = fake
        .client()
        .put_compute(&ws(), &compute("pool-a"), &ComputeResource::default())
        .await
        .unwrap_err();

    assert!(!err.is_transient());
    assert_eq!(err.arm_code(), Some("SynapsePoolNotFound"));
    assert!(err.to_string().contains("pool p1 does not exist"), "{err}");
    assert!(matches!(err, ArmError::LroFailed { ref status, .. } if status == "Failed"));
}

#[tokio::test(start_paused = true)]
async fn detach_follows_location_and_always_sends_detach() {
    let fake = Fake::start(|r, n| match (r.method.as_str(), r.path.as_str()) {
        ("DELETE", _) => Reply::empty(202).header("Location", format!("{}/locations/op-2", r.base)),
        ("GET", "/locations/op-2") if n < 2 => Reply::empty(202).header("Retry-After", "1"),
        ("GET", "/locations/op-2") => Reply::empty(204),
        _ => Reply::json(500, arm_error("Unexpected", "unscripted")),
    })
    .await;

    let outcome = fake
        .client()
        .detach_compute(&ws(), &compute("pool-a"))
        .await
        .unwrap();

    assert_eq!(outcome, Some(LroOutcome::Done(None)));
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].method, Method::DELETE);
    assert_eq!(requests[0].path, compute_path("pool-a"));
    assert_eq!(
        requests[0].query.as_deref(),
        Some("api-version=2025-12-01&underlyingResourceAction=Detach")
    );
}

#[tokio::test]
async fn detach_of_a_missing_compute_says_there_was_nothing_to_detach() {
    let fake = Fake::start(|_, _| Reply::empty(204)).await;
    let outcome = fake
        .client()
        .detach_compute(&ws(), &compute("gone"))
        .await
        .unwrap();
    assert_eq!(outcome, None, "204 at once: nothing was attached");
    assert_eq!(fake.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancel_job_posts_and_returns_the_location_result() {
    let fake = Fake::start(|r, _| match r.method.as_str() {
        "POST" => Reply::empty(202)
            .header("Location", format!("{}/locations/cancel-1", r.base))
            .header("Retry-After", "10"),
        _ => Reply::json(200, json!({"status": "Canceled"})),
    })
    .await;
    let start = Instant::now();

    let outcome = fake
        .client()
        .cancel_job(&ws(), &job("job-1"))
        .await
        .unwrap();

    assert_eq!(
        outcome,
        LroOutcome::Done(Some(OperationStatus {
            status: Some("Canceled".into()),
            ..OperationStatus::default()
        }))
    );
    assert_eq!(fake.requests()[0].path, format!("{WS}/jobs/job-1/cancel"));
    assert!(start.elapsed() >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn budget_exhausted_returns_pending_and_resume_completes() {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done_in_fake = Arc::clone(&done);
    let fake = Fake::start(move |r, _| {
        let finished = done_in_fake.load(std::sync::atomic::Ordering::SeqCst);
        match (r.method.as_str(), r.path.as_str()) {
            ("PUT", _) => Reply::json(201, json!({}))
                .header(
                    "Azure-AsyncOperation",
                    format!("{}/operations/slow", r.base),
                )
                .header("Retry-After", "2"),
            ("GET", "/operations/slow") if !finished => {
                Reply::json(200, json!({"status": "InProgress"})).header("Retry-After", "2")
            }
            ("GET", "/operations/slow") => Reply::json(200, json!({"status": "Succeeded"})),
            ("GET", _) => Reply::json(200, json!({"name": "pool-a"})),
            _ => Reply::json(500, arm_error("Unexpected", "unscripted")),
        }
    })
    .await;
    let client = fake.client_with(|o| {
        o.lro = LroOptions {
            budget: Duration::from_secs(3),
            default_poll_interval: Duration::from_secs(1),
        }
    });
    let start = Instant::now();

    let outcome = client
        .put_compute(&ws(), &compute("pool-a"), &ComputeResource::default())
        .await
        .unwrap();

    let op = match outcome {
        LroOutcome::Pending(op) => op,
        other => panic!("expected Pending, got {other:?}"),
    };
    assert!(start.elapsed() <= Duration::from_secs(3));
    assert_eq!(op.operation.kind, OperationKind::AsyncOperation);
    assert_eq!(op.operation.url, format!("{}/operations/slow", fake.base));
    assert_eq!(
        op.resource_url,
        format!(
            "{}{}?api-version=2025-12-01",
            fake.base,
            compute_path("pool-a")
        )
    );
    assert_eq!(op.retry_after, Some(Duration::from_secs(2)));
    assert_eq!(fake.count(), 2, "one PUT and one poll fit in 3 s");

    // The engine carries the reference in a message; it must survive serialisation.
    // The engine carries the domain's OperationRef in a follow-up message and rebuilds the rest
    // (the resource URL from the compute's name, no stale Retry-After).
    let carried = PendingOperation {
        operation: op.operation.clone(),
        resource_url: op.resource_url.clone(),
        retry_after: None,
        fetch_resource: true,
        accepted_body: None,
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = client
        .resume(&carried, Duration::from_secs(20))
        .await
        .unwrap();

    assert_eq!(
        outcome,
        LroOutcome::Done(Some(model::<ComputeResource>(json!({"name": "pool-a"}))))
    );
    assert_eq!(fake.count(), 4);
}

// ---------------------------------------------------------------------------------------------
// Foreign URLs: our token stays on the configured endpoint

#[tokio::test]
async fn foreign_next_link_is_refused() {
    let elsewhere =
        Fake::start(|_, _| Reply::json(200, json!({"value": [{"name": "stolen"}]}))).await;
    let foreign = format!("{}/computes?$skip=2", elsewhere.base);
    let fake = Fake::start(move |_, _| {
        Reply::json(200, json!({"value": [{"name": "a"}], "nextLink": foreign}))
    })
    .await;

    let err = fake.client().list_computes(&ws()).await.unwrap_err();

    assert!(matches!(err, ArmError::ForeignUrl { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(elsewhere.count(), 0);
}

#[tokio::test]
async fn foreign_operation_urls_are_refused_at_start_and_on_resume() {
    let elsewhere = Fake::start(|_, _| Reply::json(200, json!({"status": "Succeeded"}))).await;
    let foreign_op = format!("{}/operations/op-1", elsewhere.base);
    let op_for_fake = foreign_op.clone();
    let fake = Fake::start(move |_, _| {
        Reply::json(201, json!({})).header("Azure-AsyncOperation", op_for_fake.clone())
    })
    .await;
    let client = fake.client();

    let err = client
        .put_compute(&ws(), &compute("pool-a"), &ComputeResource::default())
        .await
        .unwrap_err();
    // ARM accepted the PUT; only following it is refused.
    assert!(
        matches!(&err, ArmError::Unfollowable { source } if matches!(**source, ArmError::ForeignUrl { .. })),
        "{err:?}"
    );

    // A follow-up message is input too: a tampered reference must not redirect the token.
    let tampered = PendingOperation {
        operation: OperationRef {
            url: foreign_op,
            kind: OperationKind::AsyncOperation,
        },
        resource_url: format!("{}{}", fake.base, compute_path("pool-a")),
        retry_after: None,
        fetch_resource: true,
        accepted_body: None,
    };
    let err = client
        .resume::<ComputeResource>(&tampered, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ArmError::Unfollowable { source } if matches!(**source, ArmError::ForeignUrl { .. })),
        "{err:?}"
    );
    assert_eq!(elsewhere.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Paging

#[tokio::test]
async fn list_follows_next_link_across_three_pages() {
    let fake = Fake::start(|r, _| {
        let skip = r
            .query
            .as_deref()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("$skip=")));
        let next =
            |token: &str| format!("{}{}?api-version=2025-12-01&$skip={token}", r.base, r.path);
        match skip {
            None => Reply::json(
                200,
                json!({"value": [{"name": "c1"}, {"name": "c2"}], "nextLink": next("opaque-2")}),
            ),
            Some("opaque-2") => Reply::json(
                200,
                json!({"value": [{"name": "c3"}], "nextLink": next("opaque-3")}),
            ),
            Some("opaque-3") => {
                Reply::json(200, json!({"value": [{"name": "c4"}, {"name": "c5"}]}))
            }
            Some(_) => Reply::json(400, arm_error("BadSkip", "unknown token")),
        }
    })
    .await;

    let computes = fake.client().list_computes(&ws()).await.unwrap();

    let names: Vec<&str> = computes
        .iter()
        .map(|c| c.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["c1", "c2", "c3", "c4", "c5"]);
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap())
        .collect();
    assert_eq!(
        queries,
        [
            "api-version=2025-12-01",
            "api-version=2025-12-01&$skip=opaque-2",
            "api-version=2025-12-01&$skip=opaque-3"
        ]
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.path == format!("{WS}/computes"))
    );
}

#[tokio::test]
async fn list_jobs_filters_by_compute_and_activity() {
    // ARM echoes ids in its own casing: the filter compares case-insensitively.
    let compute_in_fake = format!("{WS}/computes/pool-a").to_uppercase();
    let fake = Fake::start(move |_, _| {
        Reply::json(
            200,
            json!({"value": [
                {"name": "j1", "properties": {"computeId": compute_in_fake, "status": "Running"}},
                {"name": "j2", "properties": {"computeId": compute_in_fake, "status": "Completed"}},
                {"name": "j3", "properties": {"computeId": "/other", "status": "Running"}}
            ]}),
        )
    })
    .await;
    let filter = JobListFilter {
        compute: Some(compute("pool-a")),
        active_only: true,
    };

    let jobs = fake.client().list_jobs(&ws(), &filter).await.unwrap();

    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["j1"]);
    assert_eq!(
        fake.requests()[0].query.as_deref(),
        Some("api-version=2025-12-01&listViewType=ActiveOnly")
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets and configuration

#[tokio::test]
async fn bearer_token_is_sent_but_never_shown_in_errors() {
    let fake = Fake::start(|r, _| {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        Reply::json(
            403,
            arm_error(
                "AuthorizationFailed",
                "The client does not have authorization",
            ),
        )
    })
    .await;
    let client = fake.client();

    let err = client.get_workspace(&ws()).await.unwrap_err();
    assert_eq!(err.arm_code(), Some("AuthorizationFailed"));
    assert!(!err.to_string().contains(TOKEN));
    assert!(!format!("{err:?}").contains(TOKEN));
    assert!(!format!("{client:?}").contains(TOKEN));

    // A transport failure (nothing listens on the port any more) must not show it either.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let options = ArmClientOptions::from_env(|k| {
        (k == "POOLBROKER_ARM_ENDPOINT").then(|| format!("http://{closed}"))
    })
    .unwrap();
    let options = ArmClientOptions {
        retry: poolbroker::azureml::RetryOptions {
            max_retries: 1,
            initial_delay: Duration::from_millis(1),
            ..Default::default()
        },
        ..options
    };
    let offline = ArmClient::new(options, Arc::new(StaticToken::new(TOKEN))).unwrap();
    let err = offline.get_workspace(&ws()).await.unwrap_err();
    assert!(
        matches!(err, ArmError::Transport { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(!err.to_string().contains(TOKEN));
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[test]
fn from_env_rejects_plain_http_off_loopback() {
    let err = ArmClientOptions::from_env(|k| {
        (k == "POOLBROKER_ARM_ENDPOINT").then(|| "http://example.com".to_owned())
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("POOLBROKER_ARM_ENDPOINT"), "{message}");
    assert!(message.contains("http://example.com"), "{message}");

    let ok = ArmClientOptions::from_env(|k| match k {
        "POOLBROKER_ARM_ENDPOINT" => Some("http://127.0.0.1:7071".to_owned()),
        "POOLBROKER_ARM_API_VERSION" => Some("2025-06-01".to_owned()),
        _ => None,
    })
    .unwrap();
    assert_eq!(ok.endpoint.as_str(), "http://127.0.0.1:7071/");
    assert_eq!(ok.api_version, "2025-06-01");
}

// ---------------------------------------------------------------------------------------------
// Telemetry

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_a_span_with_semantic_fields_and_no_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    // Global, not scoped: tracing caches callsite interest process-wide, and a scoped subscriber
    // misses callsites first hit by tests running on other threads. Lines are told apart by the
    // fake's port.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let fake = Fake::start(|r, n| {
        if r.query.as_deref().is_some_and(|q| q.contains("sig=")) {
            Reply::json(200, json!({"value": [{"name": "c2"}]}))
        } else if n == 0 {
            Reply::json(503, arm_error("ServiceUnavailable", "busy")).header("x-ms-request-id", "rid-503")
        } else {
            Reply::json(
                200,
                json!({"value": [{"name": "c1"}], "nextLink": format!("{}{}?api-version=2025-12-01&sig=s3cr3tsig", r.base, r.path)}),
            )
            .header("x-ms-request-id", "rid-200")
        }
    })
    .await;

    let computes = fake.client().list_computes(&ws()).await.unwrap();
    assert_eq!(computes.len(), 2);

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let spans: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("arm.request{") && l.contains(&fake.base))
        .collect();
    assert_eq!(spans.len(), 3, "{output}");
    let first = spans[0];
    for field in [
        "otel.kind=\"client\"",
        "http.request.method=\"GET\"",
        &format!(
            "url.full=\"{}{WS}/computes?api-version=2025-12-01\"",
            fake.base
        ),
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=503",
        "az.namespace=\"Microsoft.MachineLearningServices\"",
        "az.service_request_id=\"rid-503\"",
        "http.request.resend_count=0",
        "error.type=\"503\"",
    ] {
        assert!(first.contains(field), "missing {field} in {first}");
    }
    assert!(
        spans[1].contains("http.request.resend_count=1"),
        "{}",
        spans[1]
    );
    assert!(
        spans[1].contains("http.response.status_code=200"),
        "{}",
        spans[1]
    );
    assert!(!spans[1].contains("error.type"), "{}", spans[1]);
    assert!(
        spans[2].contains("api-version=2025-12-01") && !spans[2].contains("sig="),
        "{}",
        spans[2]
    );
    assert!(!output.contains("s3cr3tsig"), "{output}");
    assert!(!output.contains(TOKEN), "{output}");
}

/// The PUT's answer is the resource: when its operation succeeds, that body with the terminal
/// state is the result, without one more GET (a third of an attach's reads under throttling).
#[tokio::test(start_paused = true)]
async fn put_compute_answered_with_the_resource_needs_no_final_get() {
    let fake = Fake::start(|r, _| {
        let op_url = format!("{}/operations/op-1?api-version=2025-12-01", r.base);
        match (r.method.as_str(), r.path.as_str()) {
            ("PUT", _) => Reply::json(
                201,
                json!({"name": "pool-a", "properties": {"provisioningState": "Creating"}}),
            )
            .header("Azure-AsyncOperation", op_url),
            ("GET", "/operations/op-1") => Reply::json(200, json!({"status": "Succeeded"})),
            _ => Reply::json(500, arm_error("Unexpected", "unscripted")),
        }
    })
    .await;
    let outcome = fake
        .client()
        .put_compute(&ws(), &compute("pool-a"), &ComputeResource::default())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LroOutcome::Done(Some(model(
            json!({"name": "pool-a", "properties": {"provisioningState": "Succeeded"}})
        )))
    );
    let methods: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        vec![
            format!("PUT {}", compute_path("pool-a")),
            "GET /operations/op-1".to_owned()
        ]
    );
}
