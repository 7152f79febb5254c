//! The message operations of the Service Bus REST API, on the broker.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::RestError;
use super::wire::{BROKER_PROPERTIES, broker_properties, outgoing_message, property_headers};
use crate::broker::{ReceivedMessage, SubQueue};

/// Standard tier message size limit.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The service's default wait when `timeout` is absent.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEAD_LETTER_SEGMENT: &str = "$DeadLetterQueue";

#[derive(Debug, Deserialize)]
pub(crate) struct ReceiveQuery {
    timeout: Option<String>,
}

impl ReceiveQuery {
    fn wait(&self) -> Result<Duration, RestError> {
        match &self.timeout {
            None => Ok(DEFAULT_TIMEOUT),
            Some(text) => text
                .parse::<u32>()
                .map(|s| Duration::from_secs(s.into()))
                .map_err(|_| {
                    RestError::bad_request(format!(
                        "query parameter timeout: expected whole seconds, got '{text}'"
                    ))
                }),
        }
    }
}

pub(crate) async fn send(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, RestError> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(RestError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The message body is {} bytes; the maximum message size is {MAX_MESSAGE_BYTES} bytes.",
                body.len()
            ),
        ));
    }
    let message = outgoing_message(&headers, body)?;
    state
        .broker
        .send(&queue, message)
        .map_err(|e| state.broker_error(e))?;
    Ok(StatusCode::CREATED)
}

pub(crate) async fn peek_lock(
    state: State<AppState>,
    path: Path<String>,
    query: Query<ReceiveQuery>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    receive(state, path, query, headers, SubQueue::Active, false).await
}

pub(crate) async fn receive_and_delete(
    state: State<AppState>,
    path: Path<String>,
    query: Query<ReceiveQuery>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    receive(state, path, query, headers, SubQueue::Active, true).await
}

pub(crate) async fn peek_lock_dead_letter(
    state: State<AppState>,
    path: Path<String>,
    query: Query<ReceiveQuery>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    receive(state, path, query, headers, SubQueue::DeadLetter, false).await
}

pub(crate) async fn receive_and_delete_dead_letter(
    state: State<AppState>,
    path: Path<String>,
    query: Query<ReceiveQuery>,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    receive(state, path, query, headers, SubQueue::DeadLetter, true).await
}

async fn receive(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(query): Query<ReceiveQuery>,
    headers: HeaderMap,
    sub: SubQueue,
    delete: bool,
) -> Result<Response, RestError> {
    let wait = query.wait()?;
    let received = state
        .broker
        .receive_from(&queue, sub, delete, wait)
        .await
        .map_err(|e| state.broker_error(e))?;
    let Some(message) = received else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let status = if delete {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, message.message.body.clone()).into_response();
    let out = response.headers_mut();
    if let Some(ct) = message
        .message
        .content_type
        .as_deref()
        .and_then(|ct| HeaderValue::from_str(ct).ok())
    {
        out.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(props) = HeaderValue::from_str(&broker_properties(&message, !delete)) {
        out.insert(BROKER_PROPERTIES, props);
    }
    for (name, value) in property_headers(&message) {
        out.append(name, value);
    }
    if !delete
        && let Ok(location) =
            HeaderValue::from_str(&lock_location(&state, &headers, &queue, sub, &message))
    {
        out.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The lock URL on the host the client addressed, as the service builds it.
fn lock_location(
    state: &AppState,
    headers: &HeaderMap,
    queue: &str,
    sub: SubQueue,
    message: &ReceivedMessage,
) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(&state.config.namespace);
    let sub_segment = match sub {
        SubQueue::Active => String::new(),
        SubQueue::DeadLetter => format!("/{DEAD_LETTER_SEGMENT}"),
    };
    format!(
        "{}://{host}/{queue}{sub_segment}/messages/{}/{}",
        state.scheme, message.sequence_number, message.lock_token
    )
}

fn lock_token(text: &str) -> Result<Uuid, RestError> {
    Uuid::parse_str(text)
        .map_err(|_| RestError::bad_request(format!("lock token: expected a GUID, got '{text}'")))
}

/// Settles by lock token; the `{messageId|sequenceNumber}` segment only has to be present.
pub(crate) async fn complete(
    State(state): State<AppState>,
    Path((queue, _message, token)): Path<(String, String, String)>,
) -> Result<StatusCode, RestError> {
    state
        .broker
        .complete(&queue, lock_token(&token)?)
        .map_err(|e| state.broker_error(e))?;
    Ok(StatusCode::OK)
}

pub(crate) async fn unlock(
    State(state): State<AppState>,
    Path((queue, _message, token)): Path<(String, String, String)>,
) -> Result<StatusCode, RestError> {
    state
        .broker
        .abandon(&queue, lock_token(&token)?)
        .map_err(|e| state.broker_error(e))?;
    Ok(StatusCode::OK)
}

pub(crate) async fn renew(
    State(state): State<AppState>,
    Path((queue, _message, token)): Path<(String, String, String)>,
) -> Result<StatusCode, RestError> {
    state
        .broker
        .renew_lock(&queue, lock_token(&token)?)
        .map_err(|e| state.broker_error(e))?;
    Ok(StatusCode::OK)
}
