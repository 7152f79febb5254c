//! Serverless Spark sizes and runtimes, as azure-ai-ml validates them
//! (azure-ai-ml's `spark_resource_configuration.py`).

use std::fmt;

/// Instance types serverless Spark accepts (lower case, as azure-ai-ml compares them).
pub const INSTANCE_TYPES: [&str; 5] = [
    "standard_e4s_v3",
    "standard_e8s_v3",
    "standard_e16s_v3",
    "standard_e32s_v3",
    "standard_e64s_v3",
];

/// Runtimes the newest azure-ai-ml accepts for serverless Spark ("should be either 3.3 or 3.4").
pub const SERVERLESS_RUNTIMES: [RuntimeVersion; 2] = [
    RuntimeVersion { major: 3, minor: 3 },
    RuntimeVersion { major: 3, minor: 4 },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType(pub(super) String);

impl InstanceType {
    /// Case-insensitive; kept in the lower-case spelling the service documents.
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        if INSTANCE_TYPES.contains(&lower.as_str()) {
            Ok(Self(lower))
        } else {
            Err(format!(
                "'{s}' is not a serverless Spark instance type; expected one of {}",
                INSTANCE_TYPES.join(", ")
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Spark `major.minor` version (`3.4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuntimeVersion {
    pub major: u32,
    pub minor: u32,
}

impl RuntimeVersion {
    /// Exactly `MAJOR.MINOR` (what a job asks for).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a Spark version like 3.4 (major.minor); got '{s}'");
        let (major, minor) = s.trim().split_once('.').ok_or_else(bad)?;
        let num = |p: &str| {
            (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        };
        match (num(major), num(minor)) {
            (Some(major), Some(minor)) => Ok(Self { major, minor }),
            _ => Err(bad()),
        }
    }

    /// The first two components of a version a pool reports (`3.4`, `3.4.1`).
    pub fn of_pool(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Self { major, minor })
    }

    pub fn is_serverless_supported(self) -> bool {
        SERVERLESS_RUNTIMES.contains(&self)
    }
}

impl fmt::Display for RuntimeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
