//! The HTTP core: one authenticated, retried, traced request at a time, plus paging.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::error::{ArmError, error_code_and_message};
use super::options::ArmClientOptions;
use super::throttle_gate::ThrottleGate;
use crate::credential::{ARM_SCOPE, TokenSource};
use crate::retry::{
    RetryDecision, RetryPolicy, is_retryable_status, may_resend, random_jitter, server_hint,
    wait_to_retry,
};
use crate::telemetry::{self, fields};

/// URLs in errors and logs go through the one redaction telemetry uses.
fn redacted_url(url: &Url) -> String {
    telemetry::redact_url(url.as_str())
}

/// Pages followed by one `list` call before we assume a nextLink loop.
const MAX_PAGES: usize = 1000;

const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";
const CORRELATION_REQUEST_ID: &str = "x-ms-correlation-request-id";
const REQUEST_ID: &str = "x-ms-request-id";

/// A successful (2xx) ARM response, body already read.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// `Value::Null` for an empty body.
    pub body: Value,
}

impl ArmResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One client for ARM. Cheap to clone; clones share the connection pool and credential.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
    correlation_id: Option<HeaderValue>,
}

struct Inner {
    http: reqwest::Client,
    options: ArmClientOptions,
    credential: Arc<dyn TokenSource>,
    policy: RetryPolicy,
    gate: ThrottleGate,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.inner.options.endpoint.as_str())
            .field("api_version", &self.inner.options.api_version)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

/// Per logical operation (a call and all its retries, pages and polls).
pub(crate) struct CallContext {
    correlation_id: HeaderValue,
}

impl ArmClient {
    pub fn new(
        options: ArmClientOptions,
        credential: Arc<dyn TokenSource>,
    ) -> Result<Self, ArmError> {
        // Shared with Service Bus and the token endpoint; it never follows redirects, which
        // could carry the request (and our token) off the ARM endpoint.
        let http = crate::http::shared_client().map_err(|e| ArmError::InvalidArgument {
            what: "http client",
            problem: "could not be built",
            value: e.to_string(),
        })?;
        let policy = RetryPolicy::new(options.retry);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                options,
                credential,
                policy,
                gate: ThrottleGate::default(),
            }),
            correlation_id: None,
        })
    }

    /// A client whose requests all carry this `x-ms-correlation-request-id` (e.g. the Service Bus
    /// message's correlation id), so ARM logs can be joined with ours.
    pub fn with_correlation_id(&self, id: &str) -> Result<Self, ArmError> {
        let invalid = |problem| ArmError::InvalidArgument {
            what: "correlation id",
            problem,
            value: id.to_owned(),
        };
        if id.is_empty() || id.len() > 128 {
            return Err(invalid("must be 1 to 128 characters"));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("must be visible ASCII without spaces"));
        }
        let value = HeaderValue::from_str(id).map_err(|_| invalid("not a valid header value"))?;
        Ok(Self {
            inner: Arc::clone(&self.inner),
            correlation_id: Some(value),
        })
    }

    pub fn options(&self) -> &ArmClientOptions {
        &self.inner.options
    }

    pub(crate) fn call_context(&self) -> CallContext {
        let correlation_id = self.correlation_id.clone().unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("poolbroker"))
        });
        CallContext { correlation_id }
    }

    /// Fails unless `url` has the configured endpoint's scheme, host and port.
    pub(crate) fn ensure_on_endpoint(&self, url: &Url) -> Result<(), ArmError> {
        if url.origin() == self.inner.options.endpoint.origin() {
            Ok(())
        } else {
            Err(ArmError::ForeignUrl {
                url: redacted_url(url),
                endpoint: self.inner.options.endpoint.origin().ascii_serialization(),
            })
        }
    }

    /// Parses a URL handed to us by ARM (nextLink, operation URLs) and checks its host.
    pub(crate) fn followable_url(&self, raw: &str, what: &str) -> Result<Url, ArmError> {
        let url = Url::parse(raw).map_err(|e| ArmError::InvalidResponse {
            what: format!("{what} is not an absolute URL ({e})"),
        })?;
        self.ensure_on_endpoint(&url)?;
        Ok(url)
    }

    pub(crate) async fn get(&self, url: &Url) -> Result<ArmResponse, ArmError> {
        self.send(&self.call_context(), Method::GET, url, None, None)
            .await
    }

    pub(crate) async fn put(&self, url: &Url, body: &Value) -> Result<ArmResponse, ArmError> {
        self.send(&self.call_context(), Method::PUT, url, Some(body), None)
            .await
    }

    /// All items of a pageable list, following `nextLink` verbatim (on our endpoint only).
    pub(crate) async fn list(&self, url: &Url) -> Result<Vec<Value>, ArmError> {
        self.list_with(&self.call_context(), url).await
    }

    pub(crate) async fn list_with(
        &self,
        ctx: &CallContext,
        url: &Url,
    ) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut next = Some(url.clone());
        let mut pages = 0usize;
        while let Some(page_url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(ArmError::InvalidResponse {
                    what: format!("list did not end after {MAX_PAGES} pages"),
                });
            }
            let response = self.send(ctx, Method::GET, &page_url, None, None).await?;
            let Value::Object(mut page) = response.body else {
                return Err(ArmError::InvalidResponse {
                    what: "list page is not a JSON object".to_owned(),
                });
            };
            match page.remove("value") {
                Some(Value::Array(values)) => items.extend(values),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse {
                        what: "list page 'value' is not an array".to_owned(),
                    });
                }
            }
            match page.remove("nextLink") {
                Some(Value::String(link)) if !link.is_empty() => {
                    let link = self.followable_url(&link, "nextLink")?;
                    if link == page_url {
                        return Err(ArmError::InvalidResponse {
                            what: "nextLink points at the page it came from".to_owned(),
                        });
                    }
                    next = Some(link);
                }
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse {
                        what: "list page 'nextLink' is not a string".to_owned(),
                    });
                }
            }
        }
        Ok(items)
    }

    /// One logical request with retries. 2xx → `Ok`; anything else → `Err`. `deadline` further
    /// limits how long retries may go on (LRO polls must fit the invocation budget).
    pub(crate) async fn send(
        &self,
        ctx: &CallContext,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        deadline: Option<Instant>,
    ) -> Result<ArmResponse, ArmError> {
        self.ensure_on_endpoint(url)?;
        let body = match body {
            Some(value) => Some(Bytes::from(serde_json::to_vec(value).map_err(|e| {
                ArmError::InvalidArgument {
                    what: "request body",
                    problem: "cannot be serialised",
                    value: e.to_string(),
                }
            })?)),
            None => None,
        };
        let start = Instant::now();
        let result = self
            .send_with_retries(ctx, &method, url, body, deadline, start)
            .await;
        crate::telemetry::add_arm_wait(start.elapsed());
        result
    }

    async fn send_with_retries(
        &self,
        ctx: &CallContext,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
        deadline: Option<Instant>,
        start: Instant,
    ) -> Result<ArmResponse, ArmError> {
        let mut retries = 0u32;
        loop {
            let attempt = self
                .attempt(ctx, method, url, body.clone(), retries)
                .await?;
            let (failure, hint) = match attempt {
                Attempt::Done(response) => return Ok(response),
                Attempt::Failed(failure) => {
                    let hint = failure.hint;
                    (failure, hint)
                }
            };
            if !failure.retryable {
                return Err(failure.into_error(retries + 1));
            }
            let decision = self.inner.policy.decide(
                retries,
                start.elapsed(),
                hint,
                random_jitter(),
                deadline.map(|d| d.saturating_duration_since(start)),
            );
            match decision {
                RetryDecision::GiveUp => return Err(failure.into_error(retries + 1)),
                RetryDecision::Retry { delay } => {
                    let attempt = retries + 1;
                    wait_to_retry("ARM", method, url, failure.status, delay, attempt).await;
                    retries += 1;
                }
            }
        }
    }

    async fn attempt(
        &self,
        ctx: &CallContext,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
        resend_count: u32,
    ) -> Result<Attempt, ArmError> {
        let held = self.inner.gate.wait(
            method,
            url,
            Instant::now(),
            self.inner.options.retry.max_delay,
            random_jitter(),
        );
        if !held.is_zero() {
            tokio::time::sleep(held).await;
            crate::telemetry::add_arm_wait(held);
        }
        let authorization =
            crate::credential::bearer_header(self.inner.credential.as_ref(), ARM_SCOPE).await?;

        let span = telemetry::arm_request_span(method.as_str(), url.as_str());
        span.record(fields::HTTP_RESEND_COUNT, resend_count);
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(self.inner.options.request_timeout)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .header(CLIENT_REQUEST_ID, client_request_id)
            .header(CORRELATION_REQUEST_ID, ctx.correlation_id.clone());
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }

        let exchange = crate::http::exchange(request, &span).await;

        let (status, headers, bytes) = match exchange {
            Ok(parts) => parts,
            Err(source) => {
                span.record(fields::ERROR_TYPE, transport_error_type(&source));
                return Ok(Attempt::Failed(Failure {
                    retryable: may_resend(method, &source),
                    status: None,
                    hint: None,
                    kind: FailureKind::Transport(source),
                }));
            }
        };
        span.record(fields::HTTP_RESPONSE_STATUS_CODE, status);
        self.inner
            .gate
            .observe(method, url, Instant::now(), &headers);
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(id) = &request_id {
            span.record(fields::AZ_SERVICE_REQUEST_ID, id.as_str());
        }
        if (200..300).contains(&status) {
            let body = parse_success_body(&bytes).map_err(|e| ArmError::InvalidResponse {
                what: format!(
                    "HTTP {status} from {method} {} has a body that is not JSON ({e})",
                    redacted_url(url)
                ),
            })?;
            return Ok(Attempt::Done(ArmResponse {
                status,
                headers,
                body,
            }));
        }
        span.record(fields::ERROR_TYPE, status.to_string().as_str());
        let hint = server_hint(&headers, SystemTime::now());
        if status == 429 {
            self.inner.gate.throttled(
                method,
                url,
                Instant::now(),
                hint.unwrap_or(self.inner.options.retry.initial_delay),
            );
        }
        Ok(Attempt::Failed(Failure {
            retryable: is_retryable_status(status),
            status: Some(status),
            hint,
            kind: FailureKind::Status {
                body: error_body(&bytes),
                request_id,
            },
        }))
    }
}

enum Attempt {
    Done(ArmResponse),
    Failed(Failure),
}

struct Failure {
    retryable: bool,
    status: Option<u16>,
    hint: Option<Duration>,
    kind: FailureKind,
}

enum FailureKind {
    Status {
        body: Value,
        request_id: Option<String>,
    },
    Transport(reqwest::Error),
}

impl Failure {
    fn into_error(self, attempts: u32) -> ArmError {
        match self.kind {
            FailureKind::Transport(source) => ArmError::Transport { source, attempts },
            FailureKind::Status { body, request_id } => {
                let (code, message) = error_code_and_message(&body);
                let status = self.status.unwrap_or_default();
                let body = Box::new(body);
                if status == 429 {
                    ArmError::Throttled {
                        attempts,
                        retry_after: self.hint,
                        code,
                        message,
                        body,
                        request_id,
                    }
                } else {
                    ArmError::Status {
                        status,
                        code,
                        message,
                        body,
                        request_id,
                        attempts,
                    }
                }
            }
        }
    }
}

fn parse_success_body(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(bytes)
    }
}

/// Error bodies are kept verbatim: JSON when they are JSON, else the text.
fn error_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn transport_error_type(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "transport"
    }
}
