//! Synapse Spark pools (`Microsoft.Synapse/workspaces/bigDataPools`): seeded, read-only.

use crate::arm::{ArmError, json_response};
use crate::config::SynapsePoolSpec;
use crate::ids::{self, PoolId};
use crate::state::Data;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

pub(crate) fn find<'a>(data: &'a Data, id: &PoolId) -> Option<&'a SynapsePoolSpec> {
    data.pools.get(&ids::key(&id.id()))
}

pub(crate) fn resource(pool: &SynapsePoolSpec) -> Value {
    json!({
        "id": pool.id(),
        "name": pool.pool_name,
        "type": "Microsoft.Synapse/workspaces/bigDataPools",
        "location": pool.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "autoScale": {
                "enabled": pool.auto_scale.enabled,
                "minNodeCount": pool.auto_scale.min_node_count,
                "maxNodeCount": pool.auto_scale.max_node_count,
            },
            "autoPause": {
                "enabled": pool.auto_pause.enabled,
                "delayInMinutes": pool.auto_pause.delay_in_minutes,
            },
            "isComputeIsolationEnabled": false,
            "sessionLevelPackagesEnabled": false,
            "dynamicExecutorAllocation": {"enabled": false},
            "nodeCount": pool.node_count,
            "nodeSize": pool.node_size,
            "nodeSizeFamily": pool.node_size_family,
            "sparkVersion": pool.spark_version,
        },
    })
}

pub(crate) fn get(data: &Data, id: &PoolId) -> Result<Response, ArmError> {
    if !data
        .resource_groups
        .contains(&ids::rg_key(&id.subscription, &id.resource_group))
    {
        return Err(ArmError::resource_group_not_found(&id.resource_group));
    }
    let pool = find(data, id).ok_or_else(|| {
        ArmError::resource_not_found(
            "Microsoft.Synapse/workspaces",
            &format!("{}/bigDataPools/{}", id.workspace, id.pool),
            &id.resource_group,
        )
    })?;
    Ok(json_response(StatusCode::OK, &resource(pool)))
}
