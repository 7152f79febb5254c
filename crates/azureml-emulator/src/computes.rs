//! Computes (`…/workspaces/{ws}/computes/{name}`): SynapseSpark attach, update, show, list, detach.

use crate::arm::{self, ArmError, json_response};
use crate::dispatch::Ctx;
use crate::ids::{self, PoolId};
use crate::operations::{self, Effect, Family, NewOperation};
use crate::state::{Data, DeleteRecord, EmulatorState, TENANT_ID};
use crate::{faults, paging, synapse, workspaces};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub(crate) struct ComputeRecord {
    /// The resource exactly as GET returns it (key order as the caller sent it).
    pub resource: Value,
    pub pending_operation: Option<String>,
}

impl ComputeRecord {
    pub fn set_property(&mut self, name: &str, value: Value) {
        if let Some(props) = self
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            props.insert(name.to_owned(), value);
        }
    }

    pub fn set_provisioning_state(&mut self, state: &str) {
        self.set_property("provisioningState", json!(state));
    }

    fn property(&self, name: &str) -> Option<&Value> {
        self.resource.get("properties").and_then(|p| p.get(name))
    }
}

pub(crate) fn compute_key(workspace_id: &str, name: &str) -> String {
    ids::key(&format!(
        "{}/computes/{name}",
        workspace_id.trim_end_matches('/')
    ))
}

const COMPUTE_TYPES: [&str; 10] = [
    "AKS",
    "Kubernetes",
    "AmlCompute",
    "ComputeInstance",
    "DataFactory",
    "VirtualMachine",
    "HDInsight",
    "Databricks",
    "DataLakeAnalytics",
    "SynapseSpark",
];

const IDENTITY_TYPES: [&str; 4] = [
    "None",
    "SystemAssigned",
    "UserAssigned",
    "SystemAssigned,UserAssigned",
];

fn not_found(name: &str, ws: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("Compute '{name}' was not found in workspace '{ws}'."),
    )
    .with_inner("ResourceNotFound")
}

fn conflict(name: &str, state: &str) -> ArmError {
    ArmError::new(
        StatusCode::CONFLICT,
        "Conflict",
        format!(
            "Compute '{name}' is in provisioning state '{state}'; retry after the running operation completes."
        ),
    )
}

pub(crate) fn get(
    state: &EmulatorState,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?;
    let rec = data
        .computes
        .get(&compute_key(&workspace.id, name))
        .ok_or_else(|| not_found(name, ws))?;
    Ok(json_response(StatusCode::OK, &rec.resource))
}

pub(crate) fn list(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?;
    let prefix = compute_key(&workspace.id, "");
    let items: Vec<Value> = data
        .computes
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, c)| c.resource.clone())
        .collect();
    let body = paging::page(ctx, items, state.config().page_size)?;
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) fn patch(
    state: &EmulatorState,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Response, ArmError> {
    workspaces::find(&state.data(), sub, rg, ws)?;
    Err(ArmError::user(
        "properties",
        "PATCH (Compute_Update) only changes AmlCompute scale settings; update the identity, tags or description of a SynapseSpark compute with PUT.",
    ))
}

/// Validated parts of a compute PUT body.
struct ComputeSpec {
    location: Option<String>,
    tags: Value,
    identity: Option<Map<String, Value>>,
    resource_id: String,
    pool: PoolId,
    description: Value,
    disable_local_auth: bool,
}

fn parse_spec(body: &Value) -> Result<ComputeSpec, ArmError> {
    let Some(obj) = body.as_object() else {
        return Err(ArmError::invalid_request_content(
            "the request body must be a JSON object",
        ));
    };
    let location = match obj.get("location") {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) => Some(l.clone()),
        Some(_) => return Err(ArmError::user("location", "location: expected a string")),
    };
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(t)) => {
            if let Some((k, _)) = t.iter().find(|(_, v)| !v.is_string()) {
                return Err(ArmError::user(
                    &format!("tags.{k}"),
                    format!("tags.{k}: tag values must be strings"),
                ));
            }
            // ARM itself refuses these before the resource provider sees the request.
            let reserved: Vec<&str> = t
                .keys()
                .filter(|k| k.chars().any(|c| "<>%&\\?/".contains(c) || c.is_control()))
                .map(String::as_str)
                .collect();
            if !reserved.is_empty() {
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidTagNameCharacters",
                    format!(
                        "The tag names '{}' have reserved characters '<,>,%,&,\\,?,/' or control characters.",
                        reserved.join(",")
                    ),
                ));
            }
            Value::Object(t.clone())
        }
        Some(_) => {
            return Err(ArmError::user(
                "tags",
                "tags: expected an object of string values",
            ));
        }
    };
    let identity = parse_identity(obj.get("identity"))?;
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return Err(ArmError::user(
            "properties",
            "properties: required object is missing",
        ));
    };
    let compute_type = match props.get("computeType") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            return Err(ArmError::user(
                "properties.computeType",
                "properties.computeType: expected a string",
            ));
        }
        None => {
            return Err(ArmError::user(
                "properties.computeType",
                "properties.computeType: required field is missing",
            ));
        }
    };
    if !COMPUTE_TYPES.contains(&compute_type) {
        return Err(ArmError::user(
            "properties.computeType",
            format!(
                "properties.computeType: unknown compute type '{compute_type}'; expected one of {}",
                COMPUTE_TYPES.join(", ")
            ),
        ));
    }
    let resource_id = match props.get("resourceId") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        _ => {
            return Err(ArmError::user(
                "properties.resourceId",
                format!(
                    "properties.resourceId: required for computeType '{compute_type}' (the ARM id of the Synapse Spark pool to attach)"
                ),
            ));
        }
    };
    if compute_type != "SynapseSpark" {
        let why = if ids::looks_like_pool(&resource_id) {
            format!(
                "properties.computeType: a Synapse bigDataPools resource id must be attached with computeType 'SynapseSpark', got '{compute_type}'"
            )
        } else {
            format!(
                "properties.computeType: '{compute_type}' is not supported by this emulator; only 'SynapseSpark' is"
            )
        };
        return Err(ArmError::user("properties.computeType", why));
    }
    let pool = PoolId::parse(&resource_id).ok_or_else(|| {
        ArmError::user(
            "properties.resourceId",
            format!("properties.resourceId: '{resource_id}' is not a Synapse Spark pool id (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Synapse/workspaces/{{ws}}/bigDataPools/{{pool}})"),
        )
    })?;
    let description = match props.get("description") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(d)) => json!(d),
        Some(_) => {
            return Err(ArmError::user(
                "properties.description",
                "properties.description: expected a string",
            ));
        }
    };
    let disable_local_auth = props
        .get("disableLocalAuth")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ComputeSpec {
        location,
        tags,
        identity,
        resource_id,
        pool,
        description,
        disable_local_auth,
    })
}

/// Validates `identity` against the common-types ManagedServiceIdentity schema. Returns the
/// request's object (keys in the caller's order) or `None` when absent.
fn parse_identity(raw: Option<&Value>) -> Result<Option<Map<String, Value>>, ArmError> {
    let obj = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ArmError::user("identity", "identity: expected an object")),
    };
    let ty = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            return Err(ArmError::user(
                "identity.type",
                "identity.type: required string is missing",
            ));
        }
    };
    // ARM compares enum values ignoring case: azure-ai-ml itself sends `Systemassigned`.
    let canonical = IDENTITY_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(&ty.replace(' ', "")))
        .copied();
    let Some(ty) = canonical else {
        return Err(ArmError::user(
            "identity.type",
            format!(
                "identity.type: expected one of None, SystemAssigned, UserAssigned, 'SystemAssigned,UserAssigned'; got '{ty}'"
            ),
        ));
    };
    let uais = match obj.get("userAssignedIdentities") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ArmError::user(
                "identity.userAssignedIdentities",
                "identity.userAssignedIdentities: expected an object keyed by identity resource id",
            ));
        }
    };
    let wants_uai = ty.contains("UserAssigned");
    if wants_uai && uais.is_empty() {
        return Err(ArmError::user(
            "identity.userAssignedIdentities",
            format!(
                "identity.userAssignedIdentities: at least one user-assigned identity is required when identity.type is '{ty}'"
            ),
        ));
    }
    if !wants_uai && !uais.is_empty() {
        return Err(ArmError::user(
            "identity.userAssignedIdentities",
            format!("identity.userAssignedIdentities: must be empty when identity.type is '{ty}'"),
        ));
    }
    let mut seen = Vec::new();
    for (id, value) in &uais {
        let target = format!("identity.userAssignedIdentities['{id}']");
        if ids::parse_uai(id).is_none() {
            return Err(ArmError::user(
                &target,
                format!(
                    "{target}: not a user-assigned identity id (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{{name}})"
                ),
            ));
        }
        if seen.contains(&ids::key(id)) {
            return Err(ArmError::user(
                &target,
                format!("{target}: listed twice (ids compare case-insensitively)"),
            ));
        }
        seen.push(ids::key(id));
        // Requests carry `{}`; echoing back read-only principalId/clientId (as a GET-modify-PUT does) is tolerated.
        let ok = value
            .as_object()
            .is_some_and(|m| m.keys().all(|k| k == "principalId" || k == "clientId"));
        if !ok {
            return Err(ArmError::user(
                &target,
                format!("{target}: expected an empty object {{}}"),
            ));
        }
    }
    let mut out = obj.clone();
    out.insert("type".into(), json!(ty));
    out.insert("userAssignedIdentities".into(), Value::Object(uais));
    Ok(Some(out))
}

/// The identity as the service echoes it: ids filled in, UAI keys in the caller's order.
fn identity_output(req: &Map<String, Value>, previous: Option<&Value>) -> Value {
    let ty = req.get("type").and_then(Value::as_str).unwrap_or("None");
    let mut out = Map::new();
    out.insert("type".into(), json!(ty));
    if ty.starts_with("SystemAssigned") {
        // The system-assigned principal lives as long as the compute keeps a system identity.
        let principal = previous
            .and_then(|p| p.get("principalId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        out.insert("principalId".into(), json!(principal));
        out.insert("tenantId".into(), json!(TENANT_ID));
    }
    if ty.contains("UserAssigned") {
        let uais: Map<String, Value> = req
            .get("userAssignedIdentities")
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .map(|id| {
                        (
                            id.clone(),
                            json!({
                                "principalId": ids::uai_principal_id(id).to_string(),
                                "clientId": ids::uai_client_id(id).to_string(),
                            }),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert("userAssignedIdentities".into(), Value::Object(uais));
    }
    Value::Object(out)
}

fn pool_properties(data: &Data, pool: &PoolId) -> Result<Value, ArmError> {
    let spec = synapse::find(data, pool).ok_or_else(|| {
        ArmError::user(
            "properties.resourceId",
            format!(
                "properties.resourceId: the Synapse Spark pool '{}' was not found.",
                pool.id()
            ),
        )
        .with_inner("NotFound")
    })?;
    Ok(json!({
        "autoScaleProperties": {
            "minNodeCount": spec.auto_scale.min_node_count,
            "enabled": spec.auto_scale.enabled,
            "maxNodeCount": spec.auto_scale.max_node_count,
        },
        "autoPauseProperties": {
            "delayInMinutes": spec.auto_pause.delay_in_minutes,
            "enabled": spec.auto_pause.enabled,
        },
        "sparkVersion": spec.spark_version,
        "nodeCount": spec.node_count,
        "nodeSize": spec.node_size,
        "nodeSizeFamily": spec.node_size_family,
        "subscriptionId": spec.subscription_id,
        "resourceGroup": spec.resource_group,
        "workspaceName": spec.workspace_name,
        "poolName": spec.pool_name,
    }))
}

pub(crate) fn put(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let mut data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?.clone();
    if !ids::valid_compute_name(name) {
        return Err(ArmError::user(
            "computeName",
            format!(
                "Compute name '{name}' is invalid: it must be 3 to 24 characters long, start with a letter, contain only letters, digits and '-', and must not end with '-' followed by digits."
            ),
        ));
    }
    let spec = parse_spec(&Ctx::json(body)?)?;
    if let Some(loc) = &spec.location
        && !arm::same_location(loc, &workspace.location)
    {
        return Err(ArmError::user(
            "location",
            format!(
                "location: the compute location '{loc}' must match the workspace location '{}'",
                workspace.location
            ),
        ));
    }
    let key = compute_key(&workspace.id, name);
    let existing = data.computes.get(&key).cloned();
    if let Some(rec) = &existing {
        if operations::running(&data, rec.pending_operation.as_deref()) {
            let st = rec
                .property("provisioningState")
                .and_then(Value::as_str)
                .unwrap_or("Unknown");
            return Err(conflict(name, st));
        }
        let old = rec
            .property("resourceId")
            .and_then(Value::as_str)
            .unwrap_or("");
        if ids::key(old) != ids::key(&spec.resource_id) {
            return Err(ArmError::user(
                "properties.resourceId",
                format!(
                    "properties.resourceId: compute '{name}' is attached to '{old}'; the underlying resource of an attached compute cannot be changed (detach it and attach again)"
                ),
            ));
        }
    }
    let pool_props = pool_properties(&data, &spec.pool)?;
    let now = arm::timestamp();
    let created_on = existing
        .as_ref()
        .and_then(|r| r.property("createdOn").cloned())
        .unwrap_or_else(|| json!(now));
    let disable_local_auth = existing
        .as_ref()
        .and_then(|r| r.property("disableLocalAuth").cloned())
        .unwrap_or(json!(spec.disable_local_auth));
    let provisioning = if existing.is_some() {
        "Updating"
    } else {
        "Creating"
    };
    let mut resource = Map::new();
    resource.insert(
        "id".into(),
        json!(format!("{}/computes/{name}", workspace.id)),
    );
    resource.insert("name".into(), json!(name));
    resource.insert(
        "type".into(),
        json!("Microsoft.MachineLearningServices/workspaces/computes"),
    );
    resource.insert(
        "location".into(),
        json!(
            spec.location
                .clone()
                .unwrap_or_else(|| workspace.location.clone())
        ),
    );
    resource.insert("tags".into(), spec.tags);
    if let Some(identity) = &spec.identity {
        let previous = existing.as_ref().and_then(|r| r.resource.get("identity"));
        resource.insert("identity".into(), identity_output(identity, previous));
    }
    resource.insert(
        "properties".into(),
        json!({
            "computeType": "SynapseSpark",
            "computeLocation": workspace.location,
            "description": spec.description,
            "createdOn": created_on,
            "modifiedOn": now,
            "resourceId": spec.resource_id,
            "provisioningState": provisioning,
            "provisioningErrors": null,
            "isAttachedCompute": true,
            "disableLocalAuth": disable_local_auth,
            "properties": pool_props,
        }),
    );
    let resource = Value::Object(resource);
    data.computes.insert(
        key.clone(),
        ComputeRecord {
            resource: resource.clone(),
            pending_operation: None,
        },
    );
    let failure = faults::take_lro_failure(state, &ctx.method, &ctx.path_and_query);
    let urls = operations::start(
        state,
        &mut data,
        ctx,
        NewOperation {
            subscription: sub,
            location: &workspace.location,
            family: Family::Compute,
            effect: Effect::ComputeProvision {
                compute_key: key.clone(),
            },
            failure,
        },
    );
    if operations::running(&data, Some(&urls.name))
        && let Some(rec) = data.computes.get_mut(&key)
    {
        rec.pending_operation = Some(urls.name.clone());
    }
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = json_response(status, &resource);
    operations::lro_headers(&mut resp, &urls, false, state.config().retry_after_secs);
    Ok(resp)
}

pub(crate) fn delete(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let mut data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?.clone();
    let action = ctx.query("underlyingResourceAction").map(str::to_owned);
    data.delete_actions.push(DeleteRecord {
        compute_id: format!("{}/computes/{name}", workspace.id),
        underlying_resource_action: action.clone(),
    });
    let detach = match action.as_deref() {
        Some(a) if a.eq_ignore_ascii_case("Detach") => true,
        Some(a) if a.eq_ignore_ascii_case("Delete") => false,
        Some(other) => {
            return Err(ArmError::user(
                "underlyingResourceAction",
                format!("underlyingResourceAction: expected 'Delete' or 'Detach', got '{other}'"),
            ));
        }
        None => {
            return Err(ArmError::user(
                "underlyingResourceAction",
                "underlyingResourceAction: the query parameter is required ('Delete' deletes the underlying compute, 'Detach' only removes it from the workspace)",
            ));
        }
    };
    let key = compute_key(&workspace.id, name);
    let Some(rec) = data.computes.get(&key).cloned() else {
        return Ok(arm::empty_response(StatusCode::NO_CONTENT));
    };
    if operations::running(&data, rec.pending_operation.as_deref()) {
        let st = rec
            .property("provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        return Err(conflict(name, st));
    }
    if !detach {
        return Err(ArmError::user(
            "underlyingResourceAction",
            format!(
                "underlyingResourceAction=Delete is not supported for SynapseSpark compute '{name}': Azure ML does not own the Synapse Spark pool and will not delete it. Use underlyingResourceAction=Detach."
            ),
        ));
    }
    if let Some(r) = data.computes.get_mut(&key) {
        r.set_provisioning_state("Deleting");
    }
    let failure = faults::take_lro_failure(state, &ctx.method, &ctx.path_and_query);
    let urls = operations::start(
        state,
        &mut data,
        ctx,
        NewOperation {
            subscription: sub,
            location: &workspace.location,
            family: Family::Compute,
            effect: Effect::ComputeDetach {
                compute_key: key.clone(),
            },
            failure,
        },
    );
    if operations::running(&data, Some(&urls.name))
        && let Some(r) = data.computes.get_mut(&key)
    {
        r.pending_operation = Some(urls.name.clone());
    }
    let mut resp = arm::empty_response(StatusCode::ACCEPTED);
    operations::lro_headers(&mut resp, &urls, true, state.config().retry_after_secs);
    Ok(resp)
}
