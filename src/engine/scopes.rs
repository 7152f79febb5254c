//! Every ARM id a command names must lie inside `POOLBROKER_ALLOWED_SCOPES`, not just its
//! workspace: otherwise a sender could attach a pool, or grant an identity, from a subscription
//! the deployment never meant to reach.

use serde_json::Value;

use crate::domain::{Envelope, ErrorCode, FieldError, ScopeAllowList};

use super::{Engine, EngineError, Rejection};

/// `azureml:` asset references carry an ARM id after the scheme.
const ASSET_SCHEME: &str = "azureml:";

impl Engine {
    /// Refuses the command when any ARM id in its spec is outside the allowed scopes.
    pub(crate) fn check_referenced_ids(&self, envelope: &Envelope) -> Result<(), EngineError> {
        let scopes = &self.settings.allowed_scopes;
        let Ok(json) = envelope.to_json() else {
            return Ok(());
        };
        let mut outside = Vec::new();
        if let Some(spec) = json.get("spec") {
            collect_outside(spec, "spec", scopes, &mut outside);
        }
        let Some(first) = outside.first() else {
            return Ok(());
        };
        let message = format!(
            "{}: {} is outside POOLBROKER_ALLOWED_SCOPES ({}){}",
            first.path,
            first.problem,
            scopes,
            if outside.len() > 1 {
                format!(" and {} more id(s) are too", outside.len() - 1)
            } else {
                String::new()
            }
        );
        let mut rejection = Rejection::new(ErrorCode::ScopeNotAllowed, message);
        for f in &outside {
            rejection = rejection.field(&f.path, "outside the allowed scopes");
        }
        Err(rejection.into())
    }
}

/// Walks the spec; every string that is an ARM id (or an `azureml:` reference to one) is checked.
fn collect_outside(value: &Value, path: &str, scopes: &ScopeAllowList, out: &mut Vec<FieldError>) {
    match value {
        Value::String(s) => {
            let id = strip_prefix_ci(s, ASSET_SCHEME).unwrap_or(s);
            if strip_prefix_ci(id, "/subscriptions/").is_some() && !scopes.allows_referenced(id) {
                out.push(FieldError::new(path, format!("'{}'", id)));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_outside(item, &format!("{path}[{i}]"), scopes, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_outside(v, &format!("{path}.{k}"), scopes, out);
            }
        }
        _ => {}
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_anywhere_in_the_spec_are_checked_with_their_path() {
        let scopes = ScopeAllowList::parse("/subscriptions/s1/resourceGroups/rg").unwrap();
        let spec = json!({
            "resource_id": "/subscriptions/s2/resourceGroups/rg/providers/x/y/z",
            "identity": {"user_assigned_identities": [
                {"resource_id": "/subscriptions/s1/resourceGroups/rg/providers/m/u/a"},
                {"resource_id": "/SUBSCRIPTIONS/s1/resourceGroups/other/providers/m/u/b"}
            ]},
            "code": "azureml:/subscriptions/s3/resourceGroups/rg/x",
            "description": "mentions /subscriptions/s9 but is not an id"
        });
        let mut out = Vec::new();
        collect_outside(&spec, "spec", &scopes, &mut out);
        let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.resource_id",
                "spec.identity.user_assigned_identities[1].resource_id",
                "spec.code"
            ]
        );
    }
}
