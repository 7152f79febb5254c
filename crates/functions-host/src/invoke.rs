//! One invocation: `POST /{FunctionName}` with `{Data, Metadata}`, response checks, `Logs` and
//! Service Bus outputs.

use std::time::Duration;

use serde_json::{Map, Value, json};
use servicebus_emulator::{Broker, OutgoingMessage};
use tokio::time::Instant;
use uuid::Uuid;

use crate::config::{FunctionDef, OutputKind};
use crate::events::{Events, HostEvent, LogLevel};
use crate::http::response::HttpOutput;
use crate::outputs::service_bus_bodies;
use crate::supervisor::HandlerLink;

/// How long a failed request waits for the supervisor to see a dead handler.
const TRANSPORT_ERROR_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) struct Invoker {
    client: reqwest::Client,
    link: HandlerLink,
    host_version: String,
    function_timeout: Option<Duration>,
    events: Events,
    broker: Broker,
}

/// A successful invocation's values the trigger still needs.
#[derive(Debug, Default)]
pub(crate) struct Invoked {
    /// The `http` output binding's response, if the handler set one.
    pub http_response: Option<HttpOutput>,
}

impl Invoker {
    pub fn new(
        link: HandlerLink,
        host_version: String,
        function_timeout: Option<Duration>,
        events: Events,
        broker: Broker,
    ) -> Self {
        // The host's HttpClient: no cookies, redirects followed; its timeout is
        // functionTimeout + 1 minute so the function timeout (restart) fires first.
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(t) = function_timeout {
            builder = builder.timeout(t + Duration::from_secs(60));
        }
        let client = builder.build().unwrap_or_else(|_| reqwest::Client::new());
        Self {
            client,
            link,
            host_version,
            function_timeout,
            events,
            broker,
        }
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Runs the invocation, applies its outputs and reports it. `Err` carries the failure text.
    pub async fn invoke(
        &self,
        function: &FunctionDef,
        data: Map<String, Value>,
        metadata: Value,
    ) -> Result<Invoked, String> {
        let invocation_id = Uuid::new_v4().to_string();
        let started = Instant::now();
        let result = self.run(function, &invocation_id, data, metadata).await;
        let duration = started.elapsed();
        let (succeeded, detail) = match &result {
            Ok(_) => (true, "Succeeded".to_owned()),
            Err(e) => (false, e.clone()),
        };
        if succeeded {
            tracing::info!(
                function = %function.name,
                %invocation_id,
                duration_ms = duration.as_millis() as u64,
                "Executed 'Functions.{}' (Succeeded, Id={invocation_id}, Duration={}ms)",
                function.name,
                duration.as_millis()
            );
        } else {
            tracing::warn!(
                function = %function.name,
                %invocation_id,
                duration_ms = duration.as_millis() as u64,
                "Executed 'Functions.{}' (Failed, Id={invocation_id}, Duration={}ms): {detail}",
                function.name,
                duration.as_millis()
            );
        }
        self.events.emit(HostEvent::InvocationCompleted {
            function: function.name.clone(),
            invocation_id,
            succeeded,
            detail,
            duration,
        });
        result
    }

    async fn run(
        &self,
        function: &FunctionDef,
        invocation_id: &str,
        data: Map<String, Value>,
        metadata: Value,
    ) -> Result<Invoked, String> {
        let (port, generation) = self.link.ready().await?;
        let body = json!({ "Data": Value::Object(data), "Metadata": metadata });
        let request = self
            .client
            .post(format!("http://127.0.0.1:{port}/{}", function.name))
            .header("X-Azure-Functions-HostVersion", &self.host_version)
            .header("X-Azure-Functions-InvocationId", invocation_id)
            .header(
                http::header::USER_AGENT,
                format!("Azure-Functions-Host/{}", self.host_version),
            )
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body.to_string());
        let call = async {
            let response = request
                .send()
                .await
                .map_err(|e| format!("the request to the handler failed: {}", error_chain(&e)))?;
            let status = response.status();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = response.text().await.map_err(|e| {
                format!("reading the handler's response failed: {}", error_chain(&e))
            })?;
            Ok::<_, String>((status, content_type, text))
        };
        let outcome = match self.function_timeout {
            None => call.await,
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => {
                    self.link.restart(generation);
                    // Redeliveries must reach the new process, not the one being killed.
                    self.link
                        .wait_out_of_service(generation, TRANSPORT_ERROR_GRACE)
                        .await;
                    return Err(format!(
                        "Timeout value of {} was exceeded by function: Functions.{}",
                        timespan_text(limit),
                        function.name
                    ));
                }
            },
        };
        let (status, content_type, text) = match outcome {
            Ok(parts) => parts,
            Err(e) => {
                self.link
                    .wait_out_of_service(generation, TRANSPORT_ERROR_GRACE)
                    .await;
                return Err(e);
            }
        };
        let result = parse_response(status, content_type.as_deref(), &text)?;

        for line in logs(&result) {
            self.events.log(&function.name, LogLevel::Information, line);
        }
        let mut invoked = Invoked::default();
        for binding in &function.outputs {
            let value = if binding.name == "$return" {
                field(&result, "ReturnValue")
            } else {
                field(&result, "Outputs")
                    .and_then(Value::as_object)
                    .and_then(|o| lookup(o, &binding.name))
            };
            let Some(value) = value else { continue };
            match &binding.kind {
                OutputKind::Http => {
                    invoked.http_response = Some(crate::http::response::parse(value)?)
                }
                OutputKind::ServiceBus { queue, .. } => {
                    for body in service_bus_bodies(value) {
                        self.broker
                            .send(
                                queue,
                                OutgoingMessage {
                                    body,
                                    ..OutgoingMessage::default()
                                },
                            )
                            .map_err(|e| {
                                format!("output binding '{}' (queue '{queue}'): {e}", binding.name)
                            })?;
                    }
                }
            }
        }
        Ok(invoked)
    }
}

/// The host's checks: 2xx (EnsureSuccessStatusCode), a JSON media type (ReadAsAsync with the
/// JSON formatter), parseable JSON, and a non-null object.
fn parse_response(
    status: reqwest::StatusCode,
    content_type: Option<&str>,
    text: &str,
) -> Result<Map<String, Value>, String> {
    if !status.is_success() {
        return Err(format!(
            "Response status code does not indicate success: {} ({}).",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ));
    }
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/json") | Some("text/json") => {}
        other => {
            return Err(format!(
                "No MediaTypeFormatter is available to read an object of type 'HttpScriptInvocationResult' from content with media type '{}'.",
                other.unwrap_or("application/octet-stream")
            ));
        }
    }
    if text.trim().is_empty() {
        return Err("the handler returned an empty JSON body: in Azure the invocation never completes and runs into functionTimeout".to_owned());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("Invalid HttpResponseMessage: {e}: {}", truncate(text, 200)))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err("the handler returned a null JSON body: in Azure the invocation never completes and runs into functionTimeout".to_owned()),
        other => Err(format!(
            "Invalid HttpResponseMessage: cannot deserialize {} into HttpScriptInvocationResult",
            truncate(&other.to_string(), 200)
        )),
    }
}

/// Newtonsoft matches property names case-insensitively.
fn lookup<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    lookup(obj, key).filter(|v| !v.is_null())
}

fn logs(result: &Map<String, Value>) -> Vec<String> {
    match field(result, "Logs") {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn timespan_text(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn accepts_json_objects_only() {
        let ok = parse_response(
            StatusCode::OK,
            Some("application/json; charset=utf-8"),
            r#"{"Outputs":{}}"#,
        );
        assert!(ok.is_ok());
        assert!(parse_response(StatusCode::OK, Some("text/json"), "{}").is_ok());
        let e = parse_response(StatusCode::OK, Some("text/plain"), "{}").unwrap_err();
        assert!(e.contains("text/plain"), "{e}");
        assert!(parse_response(StatusCode::OK, None, "{}").is_err());
        assert!(parse_response(StatusCode::OK, Some("application/json"), "null").is_err());
        assert!(parse_response(StatusCode::OK, Some("application/json"), "").is_err());
        assert!(parse_response(StatusCode::OK, Some("application/json"), "{nope").is_err());
        let e = parse_response(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("application/json"),
            "{}",
        )
        .unwrap_err();
        assert!(e.contains("503"), "{e}");
    }

    #[test]
    fn logs_and_outputs_match_case_insensitively() {
        let r = parse_response(
            StatusCode::OK,
            Some("application/json"),
            r#"{"logs":["a",null,3],"outputs":{"Res":{"statusCode":201}}}"#,
        )
        .unwrap();
        assert_eq!(logs(&r), vec!["a", "3"]);
        let outputs = field(&r, "Outputs").and_then(Value::as_object).unwrap();
        assert!(lookup(outputs, "res").is_some());
    }
}
