//! What the hooks core decides: answer directly, or enqueue commands and then answer.

use serde_json::{Value, json};

/// One poolbroker command produced from one event.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducedCommand {
    /// Service Bus `MessageId`: `"evt-" + hex(sha256(source + "|" + id))`, so the same event sent
    /// twice yields the same id and Service Bus duplicate detection drops the second one.
    pub message_id: String,
    /// A full poolbroker/v1 envelope (schema validation is the engine's job).
    pub body: Value,
    pub event_id: String,
    /// Name of the routing rule that produced the command.
    pub rule: String,
}

/// The hooks core's decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    /// Answer with this and enqueue nothing (handshakes and rejections). Rejections carry
    /// `{"error": {"code", "message"}}`.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// Send `commands` to the `pool-commands` output binding, then answer with
    /// [`HookOutcome::response`].
    Enqueue {
        commands: Vec<ProducedCommand>,
        /// Ids of events that no routing rule matched (nothing is produced for them).
        unmatched: Vec<String>,
    },
}

/// The HTTP answer for an outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct HookResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl HookOutcome {
    /// The HTTP answer. For `Enqueue`: 202 when at least one command was produced, 200 when none
    /// was (every event unmatched, or an empty batch): nothing was accepted for processing, and a
    /// non-2xx would make Event Grid retry an event no rule will ever route.
    pub fn response(&self) -> HookResponse {
        match self {
            HookOutcome::Respond {
                status,
                headers,
                body,
            } => HookResponse {
                status: *status,
                headers: headers.clone(),
                body: body.clone(),
            },
            HookOutcome::Enqueue {
                commands,
                unmatched,
            } => {
                let listed: Vec<Value> = commands
                    .iter()
                    .map(|command| {
                        json!({
                            "messageId": command.message_id,
                            "eventId": command.event_id,
                            "rule": command.rule,
                            "kind": command.body.get("kind").cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect();
                HookResponse {
                    status: if commands.is_empty() { 200 } else { 202 },
                    headers: Vec::new(),
                    body: json!({
                        "accepted": commands.len(),
                        "commands": listed,
                        "unmatched": unmatched,
                    }),
                }
            }
        }
    }
}

/// A request refused before anything is enqueued.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub headers: Vec<(String, String)>,
    pub details: Vec<Value>,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
            details: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(401, code, message)
    }

    pub fn into_outcome(self) -> HookOutcome {
        let mut error = json!({ "code": self.code, "message": self.message });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details);
        }
        HookOutcome::Respond {
            status: self.status,
            headers: self.headers,
            body: json!({ "error": error }),
        }
    }
}
