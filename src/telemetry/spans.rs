//! Span constructors with OpenTelemetry semantic-convention field names, so every module records
//! the same attributes under the same names.
//!
//! `tracing` only records fields a span declared when it was created, so the constructors declare
//! every attribute the handler, engine and clients fill in later with `span.record(..)`.

use opentelemetry::trace::Status;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::redact::{redact_text, redact_url};

/// What started an invocation (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Service Bus queue trigger.
    PubSub,
    Timer,
    Http,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::PubSub => "pubsub",
            Trigger::Timer => "timer",
            Trigger::Http => "http",
        }
    }

    /// A message is consumed; timers and HTTP hooks are served.
    fn span_kind(self) -> &'static str {
        match self {
            Trigger::PubSub => "consumer",
            Trigger::Timer | Trigger::Http => "server",
        }
    }
}

/// Fields of [`invocation_span`], for `span.record(fields::X, value)`.
pub mod fields {
    pub const MESSAGING_SYSTEM: &str = "messaging.system";
    pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
    pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";
    pub const MESSAGING_CONVERSATION_ID: &str = "messaging.message.conversation_id";
    pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
    pub const MESSAGING_DELIVERY_COUNT: &str = "messaging.servicebus.message.delivery_count";
    pub const COMMAND_KIND: &str = "poolbroker.command.kind";
    pub const COMPUTE_CHOICE: &str = "poolbroker.compute.choice";
    pub const COMPUTE_REASON: &str = "poolbroker.compute.reason";
    pub const IDENTITY_SELECTED: &str = "poolbroker.identity.selected";
    pub const OUTCOME: &str = "poolbroker.outcome";
    pub const ERROR_TYPE: &str = "error.type";
    /// `"ok"` or `"error"`.
    pub const STATUS_CODE: &str = "otel.status_code";
    /// Recording it sets the span status to error with this description (tracing-opentelemetry
    /// 0.34 renamed `otel.status_message` to this).
    pub const STATUS_DESCRIPTION: &str = "otel.status_description";
    // ARM / HTTP client spans.
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    pub const URL_FULL: &str = "url.full";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    pub const AZ_NAMESPACE: &str = "az.namespace";
    pub const AZ_SERVICE_REQUEST_ID: &str = "az.service_request_id";
    pub const HTTP_RESEND_COUNT: &str = "http.request.resend_count";
}

/// The one span per Functions invocation: `CONSUMER` for Service Bus, `SERVER` for timer and
/// HTTP. Named after the function. For Service Bus, `messaging.system=servicebus` and
/// `messaging.operation.type=process` are set; the rest of [`fields`] start empty.
///
/// Attach the remote parent with [`super::set_parent`] (or a link with [`super::add_link`])
/// before entering it.
pub fn invocation_span(trigger: Trigger, function: &str, invocation_id: &str) -> tracing::Span {
    let messaging = matches!(trigger, Trigger::PubSub);
    tracing::info_span!(
        "invocation",
        otel.name = function,
        otel.kind = trigger.span_kind(),
        faas.trigger = trigger.as_str(),
        faas.invocation_id = invocation_id,
        faas.name = function,
        messaging.system = messaging.then_some("servicebus"),
        messaging.operation.type = messaging.then_some("process"),
        messaging.message.id = Empty,
        messaging.message.conversation_id = Empty,
        messaging.destination.name = Empty,
        messaging.servicebus.message.delivery_count = Empty,
        poolbroker.command.kind = Empty,
        poolbroker.compute.choice = Empty,
        poolbroker.compute.reason = Empty,
        poolbroker.identity.selected = Empty,
        poolbroker.outcome = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// The one builder of outbound HTTP `CLIENT` spans. A macro rather than a function because the
/// span's name (what logs and exporters show) must be a literal in `tracing`.
macro_rules! http_client_span {
    ($name:literal, $method:expr, $url:expr) => {{
        let url: &str = $url;
        let parsed = url::Url::parse(url).ok();
        let server = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned));
        let namespace = parsed.as_ref().and_then(|u| provider_namespace(u.path()));
        tracing::info_span!(
            $name,
            otel.kind = "client",
            http.request.method = $method,
            url.full = redact_url(url),
            server.address = server.as_deref(),
            http.response.status_code = Empty,
            az.namespace = namespace.as_deref(),
            az.service_request_id = Empty,
            http.request.resend_count = Empty,
            error.type = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        )
    }};
}

/// A `CLIENT` span for one ARM HTTP request attempt, named `arm.request`. `url` is recorded
/// through [`redact_url`]; `server.address` and `az.namespace` (the resource provider in the
/// path, e.g. `Microsoft.MachineLearningServices`) are derived from it. Record
/// `http.response.status_code`, `az.service_request_id` (`x-ms-request-id`),
/// `http.request.resend_count` and `error.type` as they become known.
pub fn arm_request_span(method: &str, url: &str) -> tracing::Span {
    http_client_span!("arm.request", method, url)
}

/// A `CLIENT` span for one Synapse data-plane request attempt (role definitions and
/// assignments), named `synapse.request`; recorded like [`arm_request_span`]. The data plane's
/// paths name no provider, so `az.namespace` is set here.
pub fn synapse_request_span(method: &str, url: &str) -> tracing::Span {
    let span = http_client_span!("synapse.request", method, url);
    span.record("az.namespace", "Microsoft.Synapse");
    span
}

/// A `CLIENT` span for one request to the token endpoint (managed identity, IMDS), named
/// `token.request`. Only the redacted URL and the status are recorded: never a header (the
/// endpoint's `X-IDENTITY-HEADER` is a secret) nor the body (it carries the token).
pub fn token_request_span(method: &str, url: &str) -> tracing::Span {
    http_client_span!("token.request", method, url)
}

/// A `PRODUCER` span for sending one Service Bus message to `queue`.
pub fn servicebus_send_span(queue: &str, message_id: Option<&str>) -> tracing::Span {
    tracing::info_span!(
        "servicebus.send",
        otel.name = format!("send {queue}"),
        otel.kind = "producer",
        messaging.system = "servicebus",
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = queue,
        messaging.message.id = message_id,
        server.address = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// `/subscriptions/…/providers/Microsoft.X/…` → `Microsoft.X` (the last provider segment, so
/// nested resources report the innermost provider).
fn provider_namespace(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .windows(2)
        .rfind(|w| w[0].eq_ignore_ascii_case("providers") && !w[1].is_empty())
        .map(|w| w[1].to_owned())
}

/// Marks `span` failed: `error.type = code` (an ARM error code, `timeout`, an HTTP status…) and
/// status ERROR with `message` as the description, scrubbed of URLs' secrets and tokens.
pub fn record_error(span: &tracing::Span, code: &str, message: &str) {
    if span.has_field(fields::ERROR_TYPE) {
        span.record(fields::ERROR_TYPE, code);
    } else {
        span.set_attribute(fields::ERROR_TYPE, code.to_owned());
    }
    span.set_status(Status::error(redact_text(message)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_namespace_from_arm_paths() {
        assert_eq!(
            provider_namespace(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c"
            )
            .as_deref(),
            Some("Microsoft.MachineLearningServices")
        );
        assert_eq!(
            provider_namespace("/subscriptions/s/resourcegroups/rg"),
            None
        );
    }

    #[test]
    fn trigger_names() {
        assert_eq!(Trigger::PubSub.as_str(), "pubsub");
        assert_eq!(Trigger::PubSub.span_kind(), "consumer");
        assert_eq!(Trigger::Http.span_kind(), "server");
    }
}
