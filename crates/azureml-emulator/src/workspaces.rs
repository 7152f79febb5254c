//! Azure ML workspaces (`Microsoft.MachineLearningServices/workspaces`): seeded, read-only.

use crate::arm::{ArmError, json_response};
use crate::ids;
use crate::state::{Data, TENANT_ID, Workspace};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Resolves a workspace the way ARM does: a missing resource group first, then the workspace.
pub(crate) fn find<'a>(
    data: &'a Data,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<&'a Workspace, ArmError> {
    if !data.resource_groups.contains(&ids::rg_key(sub, rg)) {
        return Err(ArmError::resource_group_not_found(rg));
    }
    data.workspaces
        .get(&ids::key(&ids::workspace_id(sub, rg, ws)))
        .ok_or_else(|| {
            ArmError::resource_not_found("Microsoft.MachineLearningServices/workspaces", ws, rg)
        })
}

pub(crate) fn resource(ws: &Workspace) -> Value {
    let mut identity = json!({
        "type": if ws.identities.is_empty() { "SystemAssigned" } else { "SystemAssigned,UserAssigned" },
        "principalId": ws.principal_id.to_string(),
        "tenantId": TENANT_ID,
    });
    if !ws.identities.is_empty() {
        let uais: Map<String, Value> = ws
            .identities
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    json!({
                        "principalId": ids::uai_principal_id(id).to_string(),
                        "clientId": ids::uai_client_id(id).to_string(),
                    }),
                )
            })
            .collect();
        if let Some(obj) = identity.as_object_mut() {
            obj.insert("userAssignedIdentities".into(), Value::Object(uais));
        }
    }
    let workspace_guid = Uuid::new_v5(&Uuid::NAMESPACE_URL, ids::key(&ws.id).as_bytes());
    let location = crate::arm::normalize_location(&ws.location);
    json!({
        "id": ws.id,
        "name": ws.name,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": ws.location,
        "tags": {},
        "kind": "Default",
        "sku": {"name": "Basic", "tier": "Basic"},
        "identity": identity,
        "properties": {
            "friendlyName": ws.name,
            "workspaceId": workspace_guid.to_string(),
            "provisioningState": "Succeeded",
            "discoveryUrl": format!("https://{location}.api.azureml.ms/discovery"),
            "mlFlowTrackingUri": format!("azureml://{location}.api.azureml.ms/mlflow/v1.0{}", ws.id),
            "publicNetworkAccess": "Enabled",
            "hbiWorkspace": false,
            "v1LegacyMode": false,
        },
    })
}

pub(crate) fn get(data: &Data, sub: &str, rg: &str, ws: &str) -> Result<Response, ArmError> {
    let ws = find(data, sub, rg, ws)?;
    Ok(json_response(StatusCode::OK, &resource(ws)))
}
