//! How the Functions host writes values into `Data` and `Metadata` (Newtonsoft.Json quirks).
//!
//! The host converts each value with `JObject.FromObject(v)` and, when that throws (strings,
//! numbers, booleans, arrays), falls back to `JsonConvert.SerializeObject(v)`, whose result is a
//! *string*. Hence strings arrive JSON-encoded a second time and numbers arrive as strings.
//! Top-level dates go through `DateTime.Parse(v.ToString())` and lose sub-seconds (and, for
//! `DateTime`, the zone); dates inside objects keep Newtonsoft's ISO form.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// A string value: `hello` → `"\"hello\""`.
pub fn string(s: &str) -> Value {
    Value::String(Value::String(s.to_owned()).to_string())
}

/// An integer value: `42` → `"42"`.
pub fn integer(i: i64) -> Value {
    Value::String(i.to_string())
}

/// A .NET `DateTime` at top level: whole seconds, no zone (`2024-10-24T14:32:17`).
pub fn date_time(t: OffsetDateTime) -> Value {
    Value::String(whole_seconds(t))
}

/// A .NET `DateTimeOffset` at top level: whole seconds plus offset (`2024-10-24T14:32:17+00:00`).
pub fn date_time_offset(t: OffsetDateTime) -> Value {
    Value::String(format!("{}+00:00", whole_seconds(t)))
}

/// A `byte[]` value (`dataType: binary`): plain base64, not encoded again.
pub fn bytes(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

/// A JSON token taken from a request body (HTTP trigger binding data). `None` when the value is
/// null, because the host drops null binding data.
pub fn json_token(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => Some(string(s)),
        // `JObject.FromObject` throws for these; `SerializeObject` yields their JSON text.
        Value::Number(_) | Value::Bool(_) | Value::Array(_) => Some(Value::String(v.to_string())),
    }
}

/// A UTC `DateTime` inside an object, as Newtonsoft writes it: up to 7 fractional digits with
/// trailing zeros trimmed (none at all on a whole second), then `Z`.
pub fn iso_utc(t: OffsetDateTime) -> String {
    format!("{}{}Z", whole_seconds(t), fraction(t))
}

/// A local-kind `DateTime` inside an object on a UTC machine: like [`iso_utc`] but `+00:00`.
pub fn iso_local(t: OffsetDateTime) -> String {
    format!("{}{}+00:00", whole_seconds(t), fraction(t))
}

/// The `sys` entry every invocation's Metadata carries.
pub fn sys(method_name: &str, utc_now: OffsetDateTime) -> Value {
    json!({
        "MethodName": method_name,
        "UtcNow": iso_utc(utc_now),
        "RandGuid": Uuid::new_v4().to_string(),
    })
}

/// Metadata built from binding data: adds `sys` last, as the host does.
pub fn metadata_with_sys(
    mut entries: Map<String, Value>,
    method_name: &str,
    now: OffsetDateTime,
) -> Value {
    entries.insert("sys".to_owned(), sys(method_name, now));
    Value::Object(entries)
}

fn whole_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// .NET ticks are 100 ns; Newtonsoft prints them with trailing zeros removed.
fn fraction(t: OffsetDateTime) -> String {
    let ticks = t.nanosecond() / 100;
    if ticks == 0 {
        return String::new();
    }
    let digits = format!("{ticks:07}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// The output-binding quirk: a string output on a non-binary binding that `Convert.FromBase64String`
/// accepts is replaced by the decoded bytes. .NET ignores whitespace, needs a length that is a
/// multiple of 4, and does not check the unused trailing bits.
pub fn dotnet_base64_decode(s: &str) -> Option<Vec<u8>> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect();
    if !compact.len().is_multiple_of(4) {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
    );
    engine.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn strings_are_encoded_twice() {
        assert_eq!(string("hello"), Value::String("\"hello\"".into()));
        assert_eq!(string(r#"{"a":1}"#), Value::String(r#""{\"a\":1}""#.into()));
        let payload = json!({ "msg": string(r#"{"a":1}"#) }).to_string();
        assert_eq!(payload, r#"{"msg":"\"{\\\"a\\\":1}\""}"#);
    }

    #[test]
    fn numbers_and_bools_become_their_literal_text() {
        assert_eq!(integer(4), Value::String("4".into()));
        assert_eq!(json_token(&json!(1005)), Some(Value::String("1005".into())));
        assert_eq!(json_token(&json!(true)), Some(Value::String("true".into())));
        assert_eq!(
            json_token(&json!(["a", 1])),
            Some(Value::String(r#"["a",1]"#.into()))
        );
        assert_eq!(json_token(&json!({"x": 1})), Some(json!({"x": 1})));
        assert_eq!(json_token(&Value::Null), None);
    }

    #[test]
    fn top_level_dates_lose_sub_seconds() {
        let t = datetime!(2024-10-24 14:32:17.4410394 UTC);
        assert_eq!(date_time(t), json!("2024-10-24T14:32:17"));
        assert_eq!(date_time_offset(t), json!("2024-10-24T14:32:17+00:00"));
        let shifted = datetime!(2024-10-24 16:32:17 +2);
        assert_eq!(date_time(shifted), json!("2024-10-24T14:32:17"));
    }

    #[test]
    fn dates_in_objects_keep_ticks_with_trailing_zeros_trimmed() {
        assert_eq!(
            iso_utc(datetime!(2024-10-24 14:32:17.4410394 UTC)),
            "2024-10-24T14:32:17.4410394Z"
        );
        assert_eq!(
            iso_utc(datetime!(2024-10-24 14:32:17.44 UTC)),
            "2024-10-24T14:32:17.44Z"
        );
        assert_eq!(
            iso_utc(datetime!(2024-10-24 14:32:17.123456789 UTC)),
            "2024-10-24T14:32:17.1234567Z"
        );
        assert_eq!(
            iso_utc(datetime!(2024-10-24 14:30:00 UTC)),
            "2024-10-24T14:30:00Z"
        );
        assert_eq!(
            iso_local(datetime!(2024-10-24 14:25:00.0019522 UTC)),
            "2024-10-24T14:25:00.0019522+00:00"
        );
    }

    #[test]
    fn sys_has_method_time_and_guid() {
        let v = sys("ProcessCommand", datetime!(2024-10-24 14:32:17.4410394 UTC));
        assert_eq!(v["MethodName"], "ProcessCommand");
        assert_eq!(v["UtcNow"], "2024-10-24T14:32:17.4410394Z");
        let guid = v["RandGuid"].as_str().unwrap_or_default();
        assert!(Uuid::parse_str(guid).is_ok(), "{guid}");
    }

    #[test]
    fn bytes_are_plain_base64() {
        assert_eq!(bytes(&[1, 2, 3]), json!("AQID"));
    }

    #[test]
    fn base64_quirk_matches_dotnet() {
        assert_eq!(dotnet_base64_decode("abcd"), Some(vec![0x69, 0xb7, 0x1d]));
        assert_eq!(dotnet_base64_decode("ab cd"), Some(vec![0x69, 0xb7, 0x1d]));
        assert_eq!(dotnet_base64_decode(""), Some(vec![]));
        assert_eq!(dotnet_base64_decode("hello"), None);
        assert_eq!(dotnet_base64_decode("hello world"), None);
        assert_eq!(dotnet_base64_decode("{\"a\":1}"), None);
        // .NET does not reject non-zero unused bits ("QQ==" canonical, "QR==" also accepted).
        assert_eq!(dotnet_base64_decode("QR=="), Some(vec![b'A']));
    }
}
