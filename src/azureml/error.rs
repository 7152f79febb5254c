//! What can go wrong talking to ARM, classified for the settlement contract (transient vs not).

use std::time::Duration;

use serde_json::Value;

use super::credential::AuthError;

/// Bodies are boxed: `serde_json::Value` with `preserve_order` is large, and this error travels
/// in every `Result` of the client.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// ARM answered with an error status that is not (or no longer) worth retrying here.
    #[error("ARM returned HTTP {status} {code}: {message} (request id {rid}, after {attempts} attempt(s))", rid = .request_id.as_deref().unwrap_or("none"))]
    Status {
        status: u16,
        code: String,
        message: String,
        /// The ARM error body verbatim (`Value::Null` when there was none, a string when not JSON).
        body: Box<Value>,
        /// `x-ms-request-id` of the last response.
        request_id: Option<String>,
        attempts: u32,
    },
    /// 429 until the retry budget ran out; `retry_after` is the server's last hint.
    #[error(
        "ARM throttled the request (HTTP 429 {code}: {message}) after {attempts} attempt(s); server asked to retry after {retry_after:?}"
    )]
    Throttled {
        attempts: u32,
        retry_after: Option<Duration>,
        code: String,
        message: String,
        body: Box<Value>,
        request_id: Option<String>,
    },
    #[error("could not reach ARM after {attempts} attempt(s): {source}")]
    Transport {
        #[source]
        source: reqwest::Error,
        attempts: u32,
    },
    #[error("could not get an ARM token: {0}")]
    Auth(#[from] AuthError),
    /// A nextLink or operation URL pointed away from the configured endpoint; following it would
    /// hand our bearer token to someone else.
    #[error("refusing to follow '{url}': it is not on the configured ARM endpoint {endpoint}")]
    ForeignUrl { url: String, endpoint: String },
    /// The long-running operation ended `Failed` or `Canceled`.
    #[error("ARM operation {status}: {code}: {message}")]
    LroFailed {
        status: String,
        code: String,
        message: String,
        /// The operation status body (or final resource) verbatim.
        body: Box<Value>,
    },
    #[error("unexpected ARM response: {what}")]
    InvalidResponse { what: String },
    /// ARM accepted a write, but the operation it started could not be followed (its URL was
    /// foreign, a redirect, or unreadable): the change may be happening all the same.
    #[error("ARM accepted the change, but its operation could not be followed: {source}")]
    Unfollowable {
        #[source]
        source: Box<ArmError>,
    },
    /// A 2xx body that is not the resource model poolbroker expects.
    #[error("unexpected ARM response: the {what} body does not have the expected shape: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// An ARM id or name handed to the client cannot be put in a URL.
    #[error("{what}: {problem}; got '{value}'")]
    InvalidArgument {
        what: &'static str,
        problem: &'static str,
        value: String,
    },
}

impl ArmError {
    /// True when the same request may succeed later: 5xx, 408, 429, network, token endpoint down.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Throttled { .. } | Self::Transport { .. } => true,
            Self::Auth(e) => e.is_transient(),
            Self::ForeignUrl { .. }
            | Self::Unfollowable { .. }
            | Self::LroFailed { .. }
            | Self::InvalidResponse { .. }
            | Self::Decode { .. }
            | Self::InvalidArgument { .. } => false,
        }
    }

    /// The ARM error code (`error.code`), when ARM sent one.
    pub fn arm_code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. }
            | Self::Throttled { code, .. }
            | Self::LroFailed { code, .. }
                if !code.is_empty() =>
            {
                Some(code)
            }
            _ => None,
        }
    }

    /// HTTP status of the last response, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Throttled { .. } => Some(429),
            _ => None,
        }
    }
}

/// `error.code` / `error.message` of an ARM error body (common-types `ErrorResponse`); some RPs
/// answer without the `error` wrapper, so accept both.
pub(crate) fn error_code_and_message(body: &Value) -> (String, String) {
    let inner = body.get("error").unwrap_or(body);
    let field = |name: &str| {
        inner
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field("code"), field("message"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(code: u16) -> ArmError {
        ArmError::Status {
            status: code,
            code: "Code".into(),
            message: "msg".into(),
            body: Box::new(Value::Null),
            request_id: None,
            attempts: 1,
        }
    }

    #[test]
    fn transient_classification() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(status(s).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 409] {
            assert!(!status(s).is_transient(), "{s}");
        }
        assert!(
            ArmError::Auth(AuthError::Unavailable {
                message: "down".into()
            })
            .is_transient()
        );
        assert!(
            !ArmError::Auth(AuthError::Rejected {
                message: "no".into()
            })
            .is_transient()
        );
    }

    #[test]
    fn reads_arm_error_bodies() {
        let body = json!({"error": {"code": "ResourceNotFound", "message": "gone"}});
        assert_eq!(
            error_code_and_message(&body),
            ("ResourceNotFound".to_owned(), "gone".to_owned())
        );
        assert_eq!(
            error_code_and_message(&json!({"code": "C", "message": "m"})),
            ("C".to_owned(), "m".to_owned())
        );
        assert_eq!(
            error_code_and_message(&Value::Null),
            (String::new(), String::new())
        );
    }
}
