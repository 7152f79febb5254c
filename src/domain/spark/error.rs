use crate::domain::{ErrorCode, FieldError};

/// Why a Spark job cannot be submitted as asked. Permanent: retrying the same command gives the
/// same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparkJobError {
    /// The spec itself is wrong; every problem, with its field path.
    #[error("invalid Spark job: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The spec is well formed but cannot run here (no such pool, identity not attached, …).
    #[error("{field}: {message}")]
    Refused {
        code: ErrorCode,
        field: String,
        message: String,
    },
}

impl SparkJobError {
    pub(crate) fn refused(code: ErrorCode, field: &str, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// Stable code for the reply's `error.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::ValidationFailed,
            Self::Refused { code, .. } => code.clone(),
        }
    }

    /// The offending fields, first one first.
    pub fn fields(&self) -> Vec<FieldError> {
        match self {
            Self::Invalid(errs) => errs.clone(),
            Self::Refused { field, message, .. } => vec![FieldError::new(field, message)],
        }
    }
}
