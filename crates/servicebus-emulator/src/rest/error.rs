//! Errors as Service Bus returns them over REST: a status code and an
//! `<Error><Code>…</Code><Detail>…</Detail></Error>` body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::broker::BrokerError;

#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub(crate) struct RestError {
    status: StatusCode,
    detail: String,
}

impl RestError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// Maps a broker error for the entity `sb://{namespace}/{queue}`.
    pub(crate) fn from_broker(error: BrokerError, namespace: &str) -> Self {
        match error {
            BrokerError::QueueNotFound(queue) => Self::new(
                StatusCode::NOT_FOUND,
                format!(
                    "The messaging entity 'sb://{namespace}/{queue}' could not be found. \
                     To know more visit https://aka.ms/sbResourceMgrExceptions."
                ),
            ),
            // Service Bus reports MessageLockLost / SessionLockLost as 410 Gone.
            BrokerError::LockLost => Self::new(
                StatusCode::GONE,
                "The lock supplied is invalid. Either the lock expired, or the message has \
                 already been removed from the queue.",
            ),
            BrokerError::SessionLockLost => Self::new(
                StatusCode::GONE,
                "The session lock has expired on the MessageSession. Accept a new MessageSession.",
            ),
            BrokerError::SessionRequired(queue) => Self::bad_request(format!(
                "The entity 'sb://{namespace}/{queue}' requires sessions: messages must carry a \
                 SessionId, and it cannot be read by a non-sessionful receiver (the REST API has \
                 no session receivers)."
            )),
            BrokerError::SessionsNotSupported(queue) => Self::bad_request(format!(
                "The entity 'sb://{namespace}/{queue}' does not support sessions."
            )),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let timestamp = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let body = format!(
            "<Error><Code>{}</Code><Detail>{} TrackingId:{}, Timestamp:{}</Detail></Error>",
            self.status.as_u16(),
            xml_escape(&self.detail),
            Uuid::new_v4(),
            timestamp,
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// Element content only needs `&`, `<` and `>` escaped; quotes stay readable as the service sends them.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_xml_escaped() {
        assert_eq!(xml_escape("a<b>&'"), "a&lt;b&gt;&amp;'");
    }
}
