//! `poolbroker migrate linked-services`: which computes were attached through each SDK v1 linked
//! service, and the `az ml compute attach` document that re-attaches each as a v2 attached pool
//! (its own identity, granted Synapse Administrator on the pool). Pure: the CLI lists and applies.

use serde::Deserialize;
use serde_json::{Value, json};

use super::resource_ids::{SynapsePoolId, SynapseWorkspaceId};

/// A link as `ListLinkedServices` replies.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkRow {
    pub name: String,
    pub linked_service_resource_id: SynapseWorkspaceId,
}

/// A compute as `ListPools` replies (the az-ml output shape).
#[derive(Debug, Clone, Deserialize)]
pub struct ComputeRow {
    pub name: String,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub identity: Option<Value>,
}

/// One compute to re-attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub compute: String,
    /// The `AttachPool` spec (the az-ml YAML document as JSON).
    pub spec: Value,
    /// Why the spec differs from the compute as it is, if it does.
    pub change: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub link: String,
    pub synapse_workspace: String,
    pub steps: Vec<Step>,
}

/// The identity to keep: the compute's own, in the attach document's shape. SDK v1 computes
/// often have none (jobs ran as the link's identity); v2 needs one, so they get a
/// system-assigned identity.
fn attach_identity(identity: Option<&Value>) -> (Value, Option<String>) {
    let kind = identity
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("none");
    if kind.eq_ignore_ascii_case("none") {
        return (
            json!({"type": "system_assigned"}),
            Some("gets a system-assigned identity (it had none; SDK v1 jobs ran as the linked service's identity)".to_owned()),
        );
    }
    let mut out = json!({"type": kind});
    let uais: Vec<Value> = identity
        .and_then(|i| i.get("user_assigned_identities"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|u| u.get("resource_id").cloned())
                .map(|id| json!({"resource_id": id}))
                .collect()
        })
        .unwrap_or_default();
    if !uais.is_empty() {
        out["user_assigned_identities"] = Value::Array(uais);
    }
    (out, None)
}

pub fn plan(links: &[LinkRow], computes: &[ComputeRow]) -> Vec<LinkPlan> {
    links
        .iter()
        .map(|link| {
            let ws = &link.linked_service_resource_id;
            let steps = computes
                .iter()
                .filter_map(|c| {
                    let pool = SynapsePoolId::parse(c.resource_id.as_deref()?).ok()?;
                    pool.is_in(ws).then_some((c, pool))
                })
                .map(|(c, pool)| {
                    let (identity, change) = attach_identity(c.identity.as_ref());
                    Step {
                        compute: c.name.clone(),
                        spec: json!({
                            "$schema": "https://azuremlschemas.azureedge.net/latest/synapsespark.schema.json",
                            "name": c.name,
                            "type": "synapsespark",
                            "resource_id": pool.as_str(),
                            "identity": identity,
                        }),
                        change,
                    }
                })
                .collect();
            LinkPlan {
                link: link.name.clone(),
                synapse_workspace: ws.name().to_owned(),
                steps,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn";

    #[test]
    fn groups_computes_by_link_and_keeps_or_adds_identities() {
        let links: Vec<LinkRow> = serde_json::from_value(json!([
            {"name": "l1", "linked_service_resource_id": WS},
            {"name": "l2", "linked_service_resource_id": WS.replace("/syn", "/other")},
        ]))
        .unwrap();
        let uai = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1";
        let computes: Vec<ComputeRow> = serde_json::from_value(json!([
            {"name": "v1pool", "resource_id": format!("{WS}/bigDataPools/p1")},
            {"name": "uaipool", "resource_id": format!("{WS}/bigDataPools/p2"),
             "identity": {"type": "user_assigned", "user_assigned_identities": [{"resource_id": uai, "principal_id": "x"}]}},
            {"name": "elsewhere", "resource_id": format!("{WS}x/bigDataPools/p1")},
            {"name": "aml", "resource_id": null},
        ]))
        .unwrap();
        let plans = plan(&links, &computes);
        assert_eq!(plans.len(), 2);
        let names: Vec<_> = plans[0].steps.iter().map(|s| s.compute.as_str()).collect();
        assert_eq!(names, ["v1pool", "uaipool"]);
        assert_eq!(
            plans[0].steps[0].spec["identity"],
            json!({"type": "system_assigned"})
        );
        assert!(plans[0].steps[0].change.is_some());
        assert_eq!(
            plans[0].steps[1].spec["identity"]["user_assigned_identities"],
            json!([{"resource_id": uai}])
        );
        assert!(plans[0].steps[1].change.is_none());
        assert!(plans[1].steps.is_empty());
    }
}
