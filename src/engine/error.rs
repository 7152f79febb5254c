use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::azureml::ArmError;
use crate::domain::{CommandError, ErrorCode, FieldError};

/// A command that cannot succeed as sent: never retried, reported to the rejected queue and the
/// reply with a specific code and message. Serialises as
/// `{"code", "message", "field"?, "details"?: [{"field", "problem"}], "armError"?}`
/// (docs/messages.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// The ARM error body verbatim, when ARM refused.
    pub arm_error: Option<Value>,
}

impl Rejection {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
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

    /// The serialised form, for messages assembled around it (the rejected queue's record).
    pub fn to_json(&self) -> Value {
        crate::domain::to_json(self)
    }
}

/// One `details` entry.
#[derive(serde::Serialize)]
struct Detail<'a> {
    field: &'a str,
    problem: &'a str,
}

impl Serialize for Rejection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("code", &self.code)?;
        m.serialize_entry("message", &self.message)?;
        if let Some(first) = self.fields.first() {
            m.serialize_entry("field", &first.path)?;
            let details: Vec<Detail<'_>> = self
                .fields
                .iter()
                .map(|f| Detail {
                    field: &f.path,
                    problem: &f.problem,
                })
                .collect();
            m.serialize_entry("details", &details)?;
        }
        if let Some(arm) = &self.arm_error {
            m.serialize_entry("armError", arm)?;
        }
        m.end()
    }
}

impl From<&CommandError> for Rejection {
    fn from(err: &CommandError) -> Self {
        Self {
            code: err.code(),
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
    /// ARM failed in a way that may pass (5xx, throttling, network, token endpoint down): the
    /// invocation fails so Service Bus redelivers the message.
    #[error("transient: {0}")]
    Arm(#[source] Box<ArmError>),
    /// ARM answered without something it always sends (a workspace's location, the compute after
    /// its operation succeeded); read again on redelivery.
    #[error("transient: ARM returned {what}")]
    IncompleteArmResponse { what: String },
}

impl From<Rejection> for EngineError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(Box::new(rejection))
    }
}

impl EngineError {
    pub fn rejected(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Rejected(Box::new(Rejection::new(code, message)))
    }
}

impl From<ArmError> for EngineError {
    fn from(err: ArmError) -> Self {
        if err.is_transient() {
            return Self::Arm(Box::new(err));
        }
        let arm_error = match &err {
            ArmError::Status { body, .. }
            | ArmError::Throttled { body, .. }
            | ArmError::LroFailed { body, .. } => Some(Value::clone(body)).filter(|b| !b.is_null()),
            _ => None,
        };
        Self::Rejected(Box::new(Rejection {
            code: err
                .arm_code()
                .map_or(ErrorCode::ArmRequestFailed, ErrorCode::from_name),
            message: err.to_string(),
            fields: Vec::new(),
            arm_error,
        }))
    }
}
