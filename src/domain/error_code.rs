//! `error.code` of replies and rejections (docs/messages.md): poolbroker's own codes, each
//! defined once here, or ARM's code verbatim when ARM refused a request.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A stable, machine-readable reason. Serialises as its name (`"PoolBusy"`).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// The code ARM answered with (`Conflict`, `AuthorizationFailed`, …).
            Arm(String),
        }

        impl ErrorCode {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    Self::Arm(code) => code,
                }
            }

            /// poolbroker's code of that name, else ARM's.
            pub fn from_name(name: &str) -> Self {
                match name {
                    $(stringify!($name) => Self::$name,)*
                    other => Self::Arm(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// Empty, too large, not UTF-8, not JSON/YAML.
    InvalidMessage,
    /// Field errors; `field` names the first.
    ValidationFailed,
    WorkspaceMissing,
    ScopeNotAllowed,
    PoolNotFound,
    /// A detach without `force` while jobs still run on the pool.
    PoolBusy,
    PoolNotReady,
    ComputeTypeMismatch,
    ComputeNotSparkPool,
    RuntimeMismatch,
    NoEligiblePool,
    IdentityNotAttached,
    UnsupportedRuntime,
    IdempotencyKeyMissing,
    NotASparkJob,
    InvalidJobName,
    JobNotFound,
    JobFailed,
    JobCanceled,
    JobDeadlineExceeded,
    OperationDeadlineExceeded,
    /// A follow-up whose operation URL is not on the configured ARM endpoint.
    OperationUrlNotAllowed,
    /// ARM accepted a write whose operation cannot be followed.
    OperationNotFollowed,
    /// A broker-internal kind (a follow-up) arrived without the broker's own signature.
    InternalCommandNotAuthenticated,
    /// ARM sent something that is not the resource asked for.
    UnexpectedArmResponse,
    /// ARM refused without a code of its own.
    ArmRequestFailed,
}

impl ErrorCode {
    /// ARM's `Conflict`: another operation on the resource is in progress.
    pub fn is_arm_conflict(&self) -> bool {
        matches!(self, Self::Arm(code) if code.eq_ignore_ascii_case("Conflict"))
    }
}

/// Compares with a code's name (`code == "PoolBusy"`), as it appears on the wire.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_arm_codes_pass_through() {
        assert_eq!(ErrorCode::PoolBusy.to_string(), "PoolBusy");
        assert_eq!(ErrorCode::from_name("PoolBusy"), ErrorCode::PoolBusy);
        let arm = ErrorCode::from_name("Conflict");
        assert_eq!(arm, ErrorCode::Arm("Conflict".into()));
        assert!(arm.is_arm_conflict());
        assert_eq!(serde_json::to_string(&arm).unwrap(), "\"Conflict\"");
        let back: ErrorCode = serde_json::from_str("\"JobFailed\"").unwrap();
        assert_eq!(back, ErrorCode::JobFailed);
    }
}
