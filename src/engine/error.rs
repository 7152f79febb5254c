use serde_json::{Map, Value, json};

use crate::azureml::ArmError;
use crate::domain::{CommandError, FieldError};

/// A command that cannot succeed as sent: never retried, reported to the rejected queue and the
/// reply with a specific code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// The ARM error body verbatim, when ARM refused.
    pub arm_error: Option<Value>,
}

impl Rejection {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
            arm_error: None,
        }
    }

    pub fn field(mut self, path: &str, problem: &str) -> Self {
        self.fields.push(FieldError {
            path: path.to_owned(),
            problem: problem.to_owned(),
        });
        self
    }

    /// `{"code", "message", "field"?, "details"?, "armError"?}` for replies and the rejected queue.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(first) = self.fields.first() {
            m.insert("field".into(), json!(first.path));
        }
        if !self.fields.is_empty() {
            let details: Vec<Value> = self
                .fields
                .iter()
                .map(|f| json!({"field": f.path, "problem": f.problem}))
                .collect();
            m.insert("details".into(), Value::Array(details));
        }
        if let Some(arm) = &self.arm_error {
            m.insert("armError".into(), arm.clone());
        }
        Value::Object(m)
    }
}

impl From<&CommandError> for Rejection {
    fn from(err: &CommandError) -> Self {
        Self {
            code: err.code().to_owned(),
            message: err.to_string(),
            fields: err.field_errors().to_vec(),
            arm_error: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Permanent: completes the message, goes to the rejected queue and the reply.
    #[error("rejected ({}): {}", .0.code, .0.message)]
    Rejected(Box<Rejection>),
    /// May succeed later: the invocation fails so Service Bus redelivers the message.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<Rejection> for EngineError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(Box::new(rejection))
    }
}

impl EngineError {
    pub fn rejected(code: &str, message: impl Into<String>) -> Self {
        Self::Rejected(Box::new(Rejection::new(code, message)))
    }
}

impl From<ArmError> for EngineError {
    fn from(err: ArmError) -> Self {
        if err.is_transient() {
            return Self::Transient(err.to_string());
        }
        let arm_error = match &err {
            ArmError::Status { body, .. }
            | ArmError::Throttled { body, .. }
            | ArmError::LroFailed { body, .. } => Some(Value::clone(body)).filter(|b| !b.is_null()),
            _ => None,
        };
        Self::Rejected(Box::new(Rejection {
            code: err.arm_code().unwrap_or("ArmRequestFailed").to_owned(),
            message: err.to_string(),
            fields: Vec::new(),
            arm_error,
        }))
    }
}
