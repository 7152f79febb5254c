//! Case-insensitive field access over JSON objects (.NET configuration binding ignores case),
//! with errors that name the file and the field path.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::HostError;

pub fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

pub fn object<'a>(
    file: &Path,
    path: &str,
    value: &'a Value,
) -> Result<&'a Map<String, Value>, HostError> {
    value
        .as_object()
        .ok_or_else(|| HostError::config(file, path, format!("expected an object; got {value}")))
}

pub fn string(file: &Path, path: &str, value: &Value) -> Result<String, HostError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| HostError::config(file, path, format!("expected a string; got {value}")))
}

/// Booleans and the string forms "true"/"false" (configuration values are strings in .NET).
pub fn boolean(file: &Path, path: &str, value: &Value) -> Result<bool, HostError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(HostError::config(
            file,
            path,
            format!("expected true or false; got {other}"),
        )),
    }
}

pub fn positive_int(file: &Path, path: &str, value: &Value) -> Result<usize, HostError> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(HostError::config(
            file,
            path,
            format!("expected a positive integer; got {value}"),
        )),
    }
}

pub fn read_object(file: &Path) -> Result<Map<String, Value>, HostError> {
    let text = std::fs::read_to_string(file).map_err(|source| HostError::Io {
        path: file.to_owned(),
        source,
    })?;
    // The host tolerates a UTF-8 BOM, as Visual Studio writes one.
    let text = text.trim_start_matches('\u{feff}');
    let value: Value = serde_json::from_str(text)
        .map_err(|e| HostError::config(file, "(document)", format!("invalid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(HostError::config(
            file,
            "(document)",
            format!("expected a JSON object; got {other}"),
        )),
    }
}
