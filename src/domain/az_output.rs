//! What `az ml compute show` prints for a Synapse Spark compute: the
//! azure-ai-ml entity dumped with snake_case keys, `None`s omitted, plus the CLI's
//! `resourceGroup`, with keys sorted as `json.dumps(sort_keys=True)` does.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::pool::{AttachedPool, PoolIdentity};

pub fn az_ml_output(pool: &AttachedPool) -> Value {
    let mut out: BTreeMap<&str, Value> = BTreeMap::new();
    let mut put = |k: &'static str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k, v);
        }
    };
    put("name", Some(json!(pool.name)));
    put("id", Some(json!(pool.id)));
    put("type", Some(json!(pool.compute_type.to_ascii_lowercase())));
    put("location", pool.location.as_ref().map(|l| json!(l)));
    put(
        "resourceGroup",
        pool.workspace_resource_group().map(|r| json!(r)),
    );
    put("description", pool.description.as_ref().map(|d| json!(d)));
    put("resource_id", pool.resource_id.as_ref().map(|r| json!(r)));
    put(
        "provisioning_state",
        pool.provisioning_state.as_ref().map(|s| json!(s)),
    );
    put(
        "provisioning_errors",
        pool.provisioning_error.as_ref().map(|s| json!(s)),
    );
    put(
        "created_on",
        pool.created_on.map(|t| json!(python_datetime(t))),
    );
    put("node_count", pool.node_count.map(|n| json!(n)));
    put("node_size", pool.node_size.as_ref().map(|s| json!(s)));
    put(
        "node_family",
        pool.node_size_family.as_ref().map(|s| json!(s)),
    );
    put(
        "spark_version",
        pool.spark_version.as_ref().map(|s| json!(s)),
    );
    put("tags", (!pool.tags.is_empty()).then(|| json!(pool.tags)));
    put("identity", pool.identity.as_ref().map(identity_output));
    put(
        "scale_settings",
        pool.auto_scale.map(|s| {
            object([
                ("auto_scale_enabled", s.enabled.map(|b| json!(b))),
                ("max_node_count", s.max_node_count.map(|n| json!(n))),
                ("min_node_count", s.min_node_count.map(|n| json!(n))),
            ])
        }),
    );
    put(
        "auto_pause_settings",
        pool.auto_pause.map(|p| {
            object([
                ("auto_pause_enabled", p.enabled.map(|b| json!(b))),
                ("delay_in_minutes", p.delay_in_minutes.map(|n| json!(n))),
            ])
        }),
    );
    sort_keys(Value::Object(
        out.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

fn identity_output(identity: &PoolIdentity) -> Value {
    let uais = (!identity.user_assigned.is_empty()).then(|| {
        Value::Array(
            identity
                .user_assigned
                .iter()
                .map(|u| {
                    object([
                        ("client_id", u.client_id.as_ref().map(|s| json!(s))),
                        ("principal_id", u.principal_id.as_ref().map(|s| json!(s))),
                        ("resource_id", Some(json!(u.resource_id.as_str()))),
                    ])
                })
                .collect(),
        )
    });
    object([
        (
            "principal_id",
            identity.principal_id.as_ref().map(|s| json!(s)),
        ),
        ("tenant_id", identity.tenant_id.as_ref().map(|s| json!(s))),
        ("type", Some(json!(identity.identity_type.az_str()))),
        ("user_assigned_identities", uais),
    ])
}

/// Python `str(datetime)`: `2022-09-13 19:01:05.109840+00:00` (no fraction when it is zero).
fn python_datetime(t: OffsetDateTime) -> String {
    let offset = t.offset();
    let (oh, om, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    let micros = t.microsecond();
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{fraction}{sign}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        oh.unsigned_abs(),
        om.unsigned_abs()
    )
}

/// `json.dumps(sort_keys=True)` sorts every object, nested ones (like `tags`) included.
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}
