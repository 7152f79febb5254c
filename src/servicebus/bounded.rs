//! Keeping every message the broker sends under the Standard tier's 256 KB. A reply that echoes
//! a sender's oversized input (a 200 KB unknown key, 20,000 of them) or describes a very large
//! resource would otherwise be refused by Service Bus with 413 and never reach the sender: it is
//! cut instead, largest part first, with a marker saying what was cut.

use serde_json::{Map, Value};

/// Service Bus Standard: 256 KB for the whole message, headers and properties included.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// What a JSON body may use, leaving room for the broker properties and the trace context.
pub const MAX_BODY_BYTES: usize = MAX_MESSAGE_BYTES - 16 * 1024;
/// Set at the top of a body that had to be cut.
pub const TRUNCATED_FIELD: &str = "truncated";

/// `value` as it may be sent: unchanged when it fits in `limit` bytes of JSON, else cut (and
/// `"truncated": true` added when it is an object). The flag says whether anything was cut.
pub fn bounded_json(mut value: Value, limit: usize) -> (Value, bool) {
    let mut cut = false;
    // Each pass removes at least the marker's worth of bytes from the largest part, so this
    // ends; the bound on passes only guards against a mistake turning into a hang.
    for _ in 0..64 {
        let size = json_len(&value);
        if size <= limit {
            break;
        }
        if !cut {
            cut = true;
            if let Value::Object(m) = &mut value {
                m.insert(TRUNCATED_FIELD.into(), Value::Bool(true));
            }
        }
        shrink(&mut value, size.saturating_sub(limit) + 1);
    }
    if json_len(&value) > limit {
        value = Value::String(marker(json_len(&value)));
    }
    (value, cut)
}

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn marker(removed: usize) -> String {
    format!("…[{removed} bytes cut: the message would exceed the Service Bus limit]")
}

/// Removes at least `excess` bytes from the largest part of `v`.
fn shrink(v: &mut Value, excess: usize) {
    match v {
        Value::String(s) => truncate_string(s, excess),
        Value::Array(items) => shrink_array(items, excess),
        Value::Object(map) => shrink_object(map, excess),
        other => *other = Value::String(marker(excess)),
    }
}

fn truncate_string(s: &mut String, excess: usize) {
    let m = marker(excess);
    let keep = s.len().saturating_sub(excess + m.len());
    let mut at = keep;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    // Escapes make the JSON longer than the text; cutting by text length is still progress.
    s.truncate(at);
    s.push_str(&m);
}

fn shrink_array(items: &mut Vec<Value>, excess: usize) {
    let largest = items
        .iter()
        .enumerate()
        .map(|(i, x)| (json_len(x), i))
        .max();
    let Some((biggest, at)) = largest else {
        return;
    };
    if biggest > excess + 200 {
        return shrink(&mut items[at], excess);
    }
    // Many small items: drop from the end and say how many.
    let (mut freed, mut dropped) = (0usize, 0usize);
    while freed < excess + 100 && !items.is_empty() {
        freed += items.pop().map_or(0, |x| json_len(&x) + 1);
        dropped += 1;
    }
    items.push(Value::String(format!(
        "…[{dropped} more item(s) cut: the message would exceed the Service Bus limit]"
    )));
}

fn shrink_object(map: &mut Map<String, Value>, excess: usize) {
    let largest = map
        .iter()
        .filter(|(k, _)| k.as_str() != TRUNCATED_FIELD)
        .map(|(k, x)| (json_len(x), k.clone()))
        .max();
    let Some((size, key)) = largest else {
        return;
    };
    let Some(member) = map.get_mut(&key) else {
        return;
    };
    if size > excess + 200 {
        shrink(member, excess);
    } else {
        *member = Value::String(marker(size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_values_pass_unchanged() {
        let v = json!({"status": "Succeeded", "kind": "ShowPool"});
        assert_eq!(bounded_json(v.clone(), 1000), (v, false));
    }

    #[test]
    fn a_huge_echoed_string_is_cut_with_a_marker_and_the_rest_kept() {
        let v = json!({"status": "Rejected", "error": {"code": "ValidationFailed",
            "message": format!("unknown field '{}'", "k".repeat(300_000))}});
        let (out, cut) = bounded_json(v, MAX_BODY_BYTES);
        assert!(cut);
        assert!(json_len(&out) <= MAX_BODY_BYTES);
        assert_eq!(out["status"], "Rejected");
        assert_eq!(out["error"]["code"], "ValidationFailed");
        assert_eq!(out[TRUNCATED_FIELD], true);
        let message = out["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("unknown field 'kkk"),
            "{}",
            &message[..40]
        );
        assert!(message.ends_with("would exceed the Service Bus limit]"));
    }

    #[test]
    fn many_small_items_are_dropped_from_the_end_with_a_count() {
        let ids: Vec<Value> = (0..5000)
            .map(|i| json!({"resource_id": format!("/subscriptions/s/x/{i:0>100}")}))
            .collect();
        let v = json!({"status": "Succeeded", "resource": {"identity": {"user_assigned_identities": ids}}});
        let (out, cut) = bounded_json(v, 64 * 1024);
        assert!(cut && json_len(&out) <= 64 * 1024);
        let list = out["resource"]["identity"]["user_assigned_identities"]
            .as_array()
            .unwrap();
        assert_eq!(
            list[0]["resource_id"],
            format!("/subscriptions/s/x/{:0>100}", 0)
        );
        assert!(
            list.last()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("more item(s) cut")
        );
    }

    #[test]
    fn multibyte_text_and_escapes_still_end_under_the_limit() {
        let v = json!({"a": "é\"\n".repeat(100_000), "b": vec!["\u{1}"; 10_000]});
        let (out, cut) = bounded_json(v, 10_000);
        assert!(cut);
        assert!(json_len(&out) <= 10_000, "{}", json_len(&out));
    }
}
