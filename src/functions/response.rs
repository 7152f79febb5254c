use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::telemetry::ServerTiming;

/// What the handler answers the host. Always `application/json`: the host fails any other type.
/// Output values are JSON objects or arrays, never bare strings, because the host base64-decodes
/// string outputs that happen to look like base64.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
    /// Answered as a `Server-Timing` header, not in the body.
    #[serde(skip)]
    pub timing: Option<ServerTiming>,
}

impl InvocationResponse {
    pub fn with_output(mut self, binding: &str, value: Value) -> Self {
        self.outputs.insert(binding.to_owned(), value);
        self
    }

    pub fn with_logs(mut self, logs: Vec<String>) -> Self {
        self.logs = logs;
        self
    }

    /// Serialise with an explicit status (2xx completes a queue message, anything else abandons it).
    pub fn into_response_with(self, status: StatusCode) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(timing) = &self.timing {
            response
                .headers_mut()
                .insert("server-timing", timing.header_value());
        }
        response
    }
}

impl IntoResponse for InvocationResponse {
    fn into_response(self) -> Response {
        self.into_response_with(StatusCode::OK)
    }
}
