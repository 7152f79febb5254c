use serde::Deserialize;
use serde_json::{Map, Value};

use super::decode::decode_string;

/// `POST /{function}` body from the Functions host.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct InvocationRequest {
    #[serde(default, alias = "data")]
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
    #[serde(default, alias = "metadata")]
    #[serde(rename = "Metadata")]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvocationError {
    #[error("invocation body is not valid JSON at line {line}, column {column}: {message}")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "invocation Data has no binding named '{binding}' (bindings present: {present}); check function.json"
    )]
    MissingBinding { binding: String, present: String },
    #[error("invocation Data.{binding} is not a {expected}")]
    WrongShape {
        binding: String,
        expected: &'static str,
    },
}

/// The `sys` object the host adds to every invocation's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysMetadata {
    pub method_name: Option<String>,
    pub utc_now: Option<String>,
    pub rand_guid: Option<String>,
}

impl InvocationRequest {
    pub fn parse(body: &[u8]) -> Result<Self, InvocationError> {
        serde_json::from_slice(body).map_err(|e| InvocationError::NotJson {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    pub fn binding(&self, name: &str) -> Result<&Value, InvocationError> {
        lookup(&self.data, name).ok_or_else(|| InvocationError::MissingBinding {
            binding: name.to_owned(),
            present: self.data.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Metadata value by key, case-insensitively (the host's JSON is read case-insensitively too).
    pub fn metadata_value(&self, key: &str) -> Option<&Value> {
        lookup(&self.metadata, key)
    }

    pub fn metadata_string(&self, key: &str) -> Option<String> {
        self.metadata_value(key).and_then(decode_string)
    }

    pub fn sys(&self) -> SysMetadata {
        let Some(Value::Object(sys)) = self.metadata_value("sys") else {
            return SysMetadata::default();
        };
        let get = |k: &str| lookup(sys, k).and_then(decode_string);
        SysMetadata {
            method_name: get("MethodName"),
            utc_now: get("UtcNow"),
            rand_guid: get("RandGuid"),
        }
    }
}

pub(crate) fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}
