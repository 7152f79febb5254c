//! The broker's Spark settings, read from app settings through a lookup function (no I/O here).

use std::time::Duration;

use super::serverless::{InstanceType, RuntimeVersion};
use crate::domain::UserAssignedIdentityId;

/// Serverless instance type used when a job does not name one.
pub const ENV_SPARK_INSTANCE_TYPE: &str = "POOLBROKER_SPARK_INSTANCE_TYPE";
/// Serverless runtime used when a job does not name one.
pub const ENV_SPARK_RUNTIME_VERSION: &str = "POOLBROKER_SPARK_RUNTIME_VERSION";
/// Identity of serverless jobs that name none: `user_identity`, `aml_token`, or a UAI id.
pub const ENV_SERVERLESS_IDENTITY: &str = "POOLBROKER_SERVERLESS_IDENTITY";
/// Seconds between two status reads of a submitted job.
pub const ENV_JOB_POLL_SECS: &str = "POOLBROKER_JOB_POLL_SECS";

const DEFAULT_INSTANCE_TYPE: &str = "standard_e4s_v3";
/// The newest runtime serverless Spark accepts.
const DEFAULT_RUNTIME: RuntimeVersion = RuntimeVersion { major: 3, minor: 4 };
const DEFAULT_POLL: Duration = Duration::from_secs(30);

/// Who serverless jobs run as when the command does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerlessIdentityDefault {
    /// The service's documented default for serverless Spark.
    UserIdentity,
    AmlToken,
    /// A user-assigned identity attached to the workspace.
    Managed(UserAssignedIdentityId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkDefaults {
    pub instance_type: InstanceType,
    pub runtime_version: RuntimeVersion,
    pub serverless_identity: ServerlessIdentityDefault,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}='{value}' is invalid: {problem}")]
pub struct SparkSettingsError {
    pub name: &'static str,
    pub value: String,
    pub problem: String,
}

impl Default for SparkDefaults {
    fn default() -> Self {
        Self {
            instance_type: InstanceType(DEFAULT_INSTANCE_TYPE.to_owned()),
            runtime_version: DEFAULT_RUNTIME,
            serverless_identity: ServerlessIdentityDefault::UserIdentity,
            poll_interval: DEFAULT_POLL,
        }
    }
}

impl SparkDefaults {
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SparkSettingsError> {
        let mut out = Self::default();
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |name: &'static str, value: &str, problem: String| SparkSettingsError {
            name,
            value: value.to_owned(),
            problem,
        };
        if let Some(v) = get(ENV_SPARK_INSTANCE_TYPE) {
            out.instance_type =
                InstanceType::parse(&v).map_err(|p| invalid(ENV_SPARK_INSTANCE_TYPE, &v, p))?;
        }
        if let Some(v) = get(ENV_SPARK_RUNTIME_VERSION) {
            let runtime =
                RuntimeVersion::parse(&v).map_err(|p| invalid(ENV_SPARK_RUNTIME_VERSION, &v, p))?;
            if !runtime.is_serverless_supported() {
                return Err(invalid(
                    ENV_SPARK_RUNTIME_VERSION,
                    &v,
                    "serverless Spark runs 3.3 or 3.4".into(),
                ));
            }
            out.runtime_version = runtime;
        }
        if let Some(v) = get(ENV_SERVERLESS_IDENTITY) {
            out.serverless_identity = match v.to_ascii_lowercase().as_str() {
                "user_identity" | "useridentity" => ServerlessIdentityDefault::UserIdentity,
                "aml_token" | "amltoken" => ServerlessIdentityDefault::AmlToken,
                _ => ServerlessIdentityDefault::Managed(
                    UserAssignedIdentityId::parse(&v).map_err(|e| {
                        invalid(
                            ENV_SERVERLESS_IDENTITY,
                            &v,
                            format!("expected user_identity, aml_token or a user-assigned identity id: {e}"),
                        )
                    })?,
                ),
            };
        }
        if let Some(v) = get(ENV_JOB_POLL_SECS) {
            let secs = v.parse::<u64>().ok().filter(|s| *s >= 1).ok_or_else(|| {
                invalid(
                    ENV_JOB_POLL_SECS,
                    &v,
                    "expected a whole number of seconds, at least 1".into(),
                )
            })?;
            out.poll_interval = Duration::from_secs(secs);
        }
        Ok(out)
    }
}
