//! Versioned assets of a workspace: code (`codes/{name}[/versions/{v}]`, with `?hash=` lookup and
//! `startPendingUpload`) and environments (`environments/{name}[/versions/{v}]`). Jobs must name
//! versions that exist here, as Azure ML requires.

use crate::arm::{self, ArmError, json_response};
use crate::dispatch::Ctx;
use crate::state::{Data, EmulatorState, Workspace};
use crate::{blob, ids, paging, workspaces};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssetKind {
    Code,
    Environment,
}

impl AssetKind {
    pub fn parse(collection: &str) -> Option<Self> {
        match collection.to_ascii_lowercase().as_str() {
            "codes" => Some(Self::Code),
            "environments" => Some(Self::Environment),
            _ => None,
        }
    }

    fn collection(self) -> &'static str {
        match self {
            Self::Code => "codes",
            Self::Environment => "environments",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Code => "Code",
            Self::Environment => "Environment",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AssetRecord {
    pub resource: Value,
}

fn container_id(ws: &Workspace, kind: AssetKind, name: &str) -> String {
    format!("{}/{}/{name}", ws.id, kind.collection())
}

fn version_id(ws: &Workspace, kind: AssetKind, name: &str, version: &str) -> String {
    format!("{}/versions/{version}", container_id(ws, kind, name))
}

fn not_found(kind: AssetKind, what: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "UserError",
        format!("{} {what} was not found.", kind.noun()),
    )
    .with_inner("NotFound")
}

fn system_data(state: &EmulatorState) -> Value {
    let now = arm::rfc3339_at(state.clock().now());
    json!({
        "createdAt": now,
        "createdBy": "poolbroker-emulator",
        "createdByType": "Application",
        "lastModifiedAt": now,
    })
}

/// The versions stored under one container, oldest first.
fn versions<'a>(data: &'a Data, container: &str) -> Vec<&'a Value> {
    let prefix = format!("{}/versions/", ids::key(container));
    data.assets
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
        .map(|(_, r)| &r.resource)
        .collect()
}

/// Keeps a container's `latestVersion` / `nextVersion` in step with its versions (creating the
/// container on the first version, as Azure ML does).
fn touch_container(state: &EmulatorState, data: &mut Data, id: &str, name: &str, kind: AssetKind) {
    let latest = versions(data, id)
        .last()
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let next = latest
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or_else(|| String::from("1"), |n| (n + 1).to_string());
    let rec = data
        .assets
        .entry(ids::key(id))
        .or_insert_with(|| AssetRecord {
            resource: json!({
                "id": id,
                "name": name,
                "type": format!("Microsoft.MachineLearningServices/workspaces/{}", kind.collection()),
                "systemData": system_data(state),
                "properties": {"description": null, "tags": {}, "properties": {}, "isArchived": false},
            }),
        });
    if let Some(p) = rec
        .resource
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        p.insert("latestVersion".into(), json!(latest));
        p.insert("nextVersion".into(), json!(next));
    }
}

pub(crate) fn list_containers(
    state: &EmulatorState,
    ctx: &Ctx,
    ws: (&str, &str, &str),
    kind: AssetKind,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?;
    let prefix = format!(
        "{}/",
        ids::key(&container_id(workspace, kind, "")).trim_end_matches('/')
    );
    let items: Vec<Value> = data
        .assets
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
        .map(|(_, r)| r.resource.clone())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &paging::page(ctx, items, state.config().page_size)?,
    ))
}

pub(crate) fn get_container(
    state: &EmulatorState,
    ws: (&str, &str, &str),
    kind: AssetKind,
    name: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?;
    let id = container_id(workspace, kind, name);
    data.assets
        .get(&ids::key(&id))
        .map(|r| json_response(StatusCode::OK, &r.resource))
        .ok_or_else(|| not_found(kind, &format!("container '{name}'")))
}

pub(crate) fn put_container(
    state: &EmulatorState,
    ws: (&str, &str, &str),
    kind: AssetKind,
    name: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let body = Ctx::json(body)?;
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?.clone();
    if !ids::valid_asset_name(name) {
        return Err(invalid_name(name));
    }
    let id = container_id(&workspace, kind, name);
    let existed = data.assets.contains_key(&ids::key(&id));
    touch_container(state, &mut data, &id, name, kind);
    let rec = data
        .assets
        .get_mut(&ids::key(&id))
        .ok_or_else(|| not_found(kind, &format!("container '{name}'")))?;
    if let Some(stored) = rec
        .resource
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        for field in ["description", "tags", "properties", "isArchived"] {
            if let Some(v) = props.get(field) {
                stored.insert(field.to_owned(), v.clone());
            }
        }
    }
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(status, &rec.resource))
}

fn invalid_name(name: &str) -> ArmError {
    ArmError::user(
        "name",
        format!(
            "Asset name '{name}' is invalid: it must start with a letter, digit or '_' and contain at most 255 letters, digits, '-', '_' or '.'."
        ),
    )
}

pub(crate) fn list_versions(
    state: &EmulatorState,
    ctx: &Ctx,
    ws: (&str, &str, &str),
    kind: AssetKind,
    name: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?;
    let id = container_id(workspace, kind, name);
    let hash = ctx.query("hash");
    let hash_version = ctx.query("hashVersion");
    // A name without versions lists nothing (azure-ai-ml looks an upload up by hash this way
    // before the container exists).
    let items: Vec<Value> = versions(&data, &id)
        .into_iter()
        .filter(|v| {
            let p = v.pointer("/properties/properties");
            let field = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_str);
            hash.is_none_or(|h| field("hash_sha256").is_some_and(|x| x.eq_ignore_ascii_case(h)))
                && hash_version.is_none_or(|h| field("hash_version") == Some(h))
        })
        .rev()
        .cloned()
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &paging::page(ctx, items, state.config().page_size)?,
    ))
}

pub(crate) fn get_version(
    state: &EmulatorState,
    ws: (&str, &str, &str),
    kind: AssetKind,
    name: &str,
    version: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?;
    let id = version_id(workspace, kind, name, version);
    data.assets
        .get(&ids::key(&id))
        .map(|r| json_response(StatusCode::OK, &r.resource))
        .ok_or_else(|| not_found(kind, &format!("version '{name}:{version}'")))
}

/// Fields of a version that are fixed once it exists (what azure-ai-ml calls the asset path).
fn immutable(kind: AssetKind, props: &Map<String, Value>) -> Value {
    let keys: &[&str] = match kind {
        AssetKind::Code => &["codeUri"],
        AssetKind::Environment => &["image", "build", "condaFile", "osType"],
    };
    Value::Object(
        keys.iter()
            .filter_map(|k| props.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    )
}

fn validate_version(kind: AssetKind, props: &Map<String, Value>) -> Result<(), ArmError> {
    match kind {
        AssetKind::Code => match props.get("codeUri") {
            Some(Value::String(u)) if !u.trim().is_empty() => Ok(()),
            _ => Err(ArmError::user(
                "properties.codeUri",
                "properties.codeUri: required non-empty string is missing",
            )),
        },
        AssetKind::Environment => {
            let has = |k: &str| props.get(k).is_some_and(|v| !v.is_null());
            if has("image") || has("build") {
                Ok(())
            } else {
                Err(ArmError::user(
                    "properties.image",
                    "properties: an environment needs 'image' or 'build'",
                ))
            }
        }
    }
}

pub(crate) fn put_version(
    state: &EmulatorState,
    ws: (&str, &str, &str),
    kind: AssetKind,
    name: &str,
    version: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let body = Ctx::json(body)?;
    let Some(props) = body.get("properties").and_then(Value::as_object).cloned() else {
        return Err(ArmError::user(
            "properties",
            "properties: required object is missing",
        ));
    };
    let mut data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?.clone();
    if !ids::valid_asset_name(name) {
        return Err(invalid_name(name));
    }
    validate_version(kind, &props)?;
    let id = version_id(&workspace, kind, name, version);
    if let Some(existing) = data.assets.get_mut(&ids::key(&id)) {
        let stored_props = existing
            .resource
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if immutable(kind, &stored_props) != immutable(kind, &props) {
            // The text azure-ai-ml matches to raise AssetPathException.
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "UserError",
                "Asset paths cannot be updated.",
            )
            .with_target("properties")
            .with_inner("Immutable"));
        }
        if let Some(stored) = existing
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            for field in ["description", "tags", "isArchived", "stage"] {
                if let Some(v) = props.get(field) {
                    stored.insert(field.to_owned(), v.clone());
                }
            }
        }
        return Ok(json_response(StatusCode::OK, &existing.resource));
    }
    let mut stored = props;
    // `properties` is a string map in the spec; azure-ai-ml sends hash_version as a number.
    if let Some(Value::Object(bag)) = stored.get_mut("properties") {
        for v in bag.values_mut() {
            if !v.is_string() && !v.is_null() {
                *v = Value::String(v.to_string());
            }
        }
    }
    stored.entry("isAnonymous").or_insert(json!(false));
    stored.entry("isArchived").or_insert(json!(false));
    stored.entry("tags").or_insert(json!({}));
    stored.entry("properties").or_insert(json!({}));
    stored.insert("provisioningState".into(), json!("Succeeded"));
    let resource = json!({
        "id": id,
        "name": version,
        "type": format!("Microsoft.MachineLearningServices/workspaces/{}/versions", kind.collection()),
        "systemData": system_data(state),
        "properties": Value::Object(stored),
    });
    data.assets.insert(
        ids::key(&id),
        AssetRecord {
            resource: resource.clone(),
        },
    );
    let container = container_id(&workspace, kind, name);
    touch_container(state, &mut data, &container, name, kind);
    Ok(json_response(StatusCode::CREATED, &resource))
}

/// Registers a code version directly (seeding; `EmulatorState::add_code_version`).
pub(crate) fn insert_code_version(
    state: &EmulatorState,
    workspace: &Workspace,
    name: &str,
    version: &str,
    code_uri: &str,
) {
    let id = version_id(workspace, AssetKind::Code, name, version);
    let resource = json!({
        "id": id,
        "name": version,
        "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
        "systemData": system_data(state),
        "properties": {
            "codeUri": code_uri,
            "isAnonymous": false,
            "isArchived": false,
            "tags": {},
            "properties": {},
            "provisioningState": "Succeeded",
        },
    });
    let mut data = state.data();
    data.assets.insert(ids::key(&id), AssetRecord { resource });
    let container = container_id(workspace, AssetKind::Code, name);
    touch_container(state, &mut data, &container, name, AssetKind::Code);
}

/// `POST codes/{name}/versions/{v}/startPendingUpload`: a SAS URL for a fresh container on the
/// emulator's blob endpoint, where azure-storage-blob uploads the snapshot.
pub(crate) fn start_pending_upload(
    state: &EmulatorState,
    ctx: &Ctx,
    ws: (&str, &str, &str),
    name: &str,
    version: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let request = if body.is_empty() {
        json!({})
    } else {
        Ctx::json(body)?
    };
    let upload_type = request
        .get("pendingUploadType")
        .and_then(Value::as_str)
        .unwrap_or("TemporaryBlobReference");
    if upload_type != "TemporaryBlobReference" && upload_type != "None" {
        return Err(ArmError::user(
            "pendingUploadType",
            format!(
                "pendingUploadType: expected 'None' or 'TemporaryBlobReference', got '{upload_type}'"
            ),
        ));
    }
    let mut data = state.data();
    let workspace = workspaces::find(&data, ws.0, ws.1, ws.2)?.clone();
    if !ids::valid_asset_name(name) || version.is_empty() {
        return Err(invalid_name(name));
    }
    let upload_id = request
        .get("pendingUploadId")
        .and_then(Value::as_str)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let expiry = state.clock().now() + std::time::Duration::from_secs(3600);
    let grant = data.blobs.grant_container(&upload_id, expiry);
    let container_url = format!("{}/{}/{upload_id}", ctx.base_url, blob::ACCOUNT);
    let storage_account = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        ws.0,
        ws.1,
        blob::ACCOUNT
    );
    let _ = workspace;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "blobReferenceForConsumption": {
                "blobUri": container_url,
                "storageAccountArmId": storage_account,
                "credential": {
                    "credentialType": "SAS",
                    "sasUri": format!("{container_url}?{grant}"),
                },
            },
            "pendingUploadId": upload_id,
            "pendingUploadType": "TemporaryBlobReference",
        }),
    ))
}

/// Whether `id` (`codeId` / `environmentId` of a job) names an existing version. Registry ids
/// (`azureml://registries/…`) are not in this emulator and pass unchecked.
pub(crate) fn reference_exists(data: &Data, id: &str) -> bool {
    let id = id.strip_prefix("azureml:").unwrap_or(id);
    if id.starts_with("//registries/") || id.starts_with("azureml://registries/") {
        return true;
    }
    data.assets.contains_key(&ids::key(id))
}
