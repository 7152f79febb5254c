//! SDK v1 linked services (`…/workspaces/{ws}/linkedServices/{name}`, api-version
//! 2020-09-01-preview): list, get, create (system-assigned identity) and delete, in the shapes of
//! the spec's `createLinkedService.json` example. New registrations can be made to fail the way
//! Azure now refuses them (the v1 Synapse integration is deprecated); existing links keep working.
//!
//! Verified: paths, api-version, request/response fields (spec and its example), Delete 200 or 204
//! when absent. Not verified: the code and wording Azure uses to refuse a new registration, and the
//! 404 body for a missing link (the AML RP's `NotFound` shape is used).

use crate::arm::{ArmError, empty_response, json_response, rfc3339_at};
use crate::ids::{self, capture};
use crate::state::EmulatorState;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use indexmap::IndexMap;
use serde_json::{Value, json};
use uuid::Uuid;

pub const LINKED_SERVICES_API_VERSION: &str = "2020-09-01-preview";
const RESOURCE_TYPE: &str = "Microsoft.MachineLearningServices/workspaces/linkedServices";

/// The linked services of every workspace, and the deprecation switch.
#[derive(Debug, Default)]
pub(crate) struct LinkedServices {
    /// Lower-cased link id → resource.
    links: IndexMap<String, Value>,
    registration_closed: bool,
}

fn link_id(workspace_id: &str, name: &str) -> String {
    format!("{workspace_id}/linkedServices/{name}")
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Synapse/workspaces/{name}`.
fn synapse_workspace(id: &str) -> Option<(String, String, String)> {
    let segs = ids::segments(id);
    let c = capture(
        &segs,
        &[
            Some("subscriptions"),
            None,
            Some("resourceGroups"),
            None,
            Some("providers"),
            Some("Microsoft.Synapse"),
            Some("workspaces"),
            None,
        ],
    )?;
    Some((c[0].to_owned(), c[1].to_owned(), c[2].to_owned()))
}

fn principal_id(id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("{}#linkedService#principalId", ids::key(id)).as_bytes(),
    )
}

fn resource(id: &str, name: &str, location: &str, synapse_id: &str, created: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": RESOURCE_TYPE,
        "location": location,
        "identity": {
            "type": "SystemAssigned",
            "principalId": principal_id(id).to_string(),
            "tenantId": crate::state::TENANT_ID,
        },
        "properties": {
            "linkedServiceResourceId": synapse_id,
            "linkType": "Synapse",
            "createdTime": created,
            "modifiedTime": created,
        },
    })
}

impl EmulatorState {
    /// Seeds an existing link (one registered before registrations were closed); returns its id.
    pub fn add_linked_service(
        &self,
        workspace_id: &str,
        name: &str,
        synapse_workspace_id: &str,
    ) -> Result<String, crate::EmulatorError> {
        let now = rfc3339_at(self.clock().now());
        let mut data = self.data();
        let location = data
            .workspaces
            .get(&ids::key(workspace_id))
            .map(|w| w.location.clone())
            .ok_or_else(|| crate::EmulatorError::UnknownWorkspace(workspace_id.to_owned()))?;
        let id = link_id(workspace_id, name);
        let body = resource(&id, name, &location, synapse_workspace_id, &now);
        data.linked_services.links.insert(ids::key(&id), body);
        Ok(id)
    }

    /// Shows the link's identity without a `principalId`, as while Azure is still creating it
    /// (or after the identity was removed). `false` when there is no such link.
    pub fn hide_linked_service_principal(&self, workspace_id: &str, name: &str) -> bool {
        let mut data = self.data();
        let Some(link) = data
            .linked_services
            .links
            .get_mut(&ids::key(&link_id(workspace_id, name)))
        else {
            return false;
        };
        if let Some(identity) = link.get_mut("identity").and_then(Value::as_object_mut) {
            identity.remove("principalId");
        }
        true
    }

    /// `true`: a PUT of a link that does not exist yet fails as Azure's deprecation does.
    pub fn close_linked_service_registration(&self, closed: bool) {
        self.data().linked_services.registration_closed = closed;
    }
}

/// Handles the request when its path is a linked-service path; `None` otherwise.
pub(crate) fn dispatch(
    state: &EmulatorState,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Option<Result<Response, ArmError>> {
    let segs = ids::segments(uri.path());
    let (ws_segs, rest) = segs.split_at_checked(8)?;
    let name = match rest {
        [kind] if kind.eq_ignore_ascii_case("linkedServices") => None,
        [kind, name] if kind.eq_ignore_ascii_case("linkedServices") => Some(*name),
        _ => return None,
    };
    let c = capture(
        ws_segs,
        &[
            Some("subscriptions"),
            None,
            Some("resourceGroups"),
            None,
            Some("providers"),
            Some("Microsoft.MachineLearningServices"),
            Some("workspaces"),
            None,
        ],
    )?;
    let ws_id = ids::workspace_id(c[0], c[1], c[2]);
    Some(handle(state, method, uri, &ws_id, c[1], c[2], name, body))
}

#[allow(clippy::too_many_arguments)]
fn handle(
    state: &EmulatorState,
    method: &Method,
    uri: &Uri,
    ws_id: &str,
    rg: &str,
    ws_name: &str,
    name: Option<&str>,
    body: &[u8],
) -> Result<Response, ArmError> {
    check_api_version(uri)?;
    let location = {
        let data = state.data();
        match data.workspaces.get(&ids::key(ws_id)) {
            Some(w) => w.location.clone(),
            None => {
                return Err(ArmError::resource_not_found(
                    "Microsoft.MachineLearningServices/workspaces",
                    ws_name,
                    rg,
                ));
            }
        }
    };
    let prefix = format!("{}/linkedservices/", ids::key(ws_id));
    match (method, name) {
        (&Method::GET, None) => {
            let data = state.data();
            let value: Vec<Value> = data
                .linked_services
                .links
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.clone())
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        (&Method::GET, Some(name)) => state
            .data()
            .linked_services
            .links
            .get(&ids::key(&link_id(ws_id, name)))
            .map(|v| json_response(StatusCode::OK, v))
            .ok_or_else(|| not_found(name)),
        (&Method::PUT, Some(name)) => put(state, ws_id, name, &location, body),
        (&Method::DELETE, Some(name)) => {
            let removed = state
                .data()
                .linked_services
                .links
                .shift_remove(&ids::key(&link_id(ws_id, name)));
            Ok(match removed {
                Some(_) => empty_response(StatusCode::OK),
                None => empty_response(StatusCode::NO_CONTENT),
            })
        }
        _ => Err(ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HttpMethodNotAllowed",
            format!("The HTTP method '{method}' is not supported for this resource."),
        )),
    }
}

fn not_found(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("Linked service '{name}' was not found."),
    )
}

fn check_api_version(uri: &Uri) -> Result<(), ArmError> {
    let version = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.into_owned());
    match version {
        Some(v) if v.eq_ignore_ascii_case(LINKED_SERVICES_API_VERSION) => Ok(()),
        Some(v) => Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{LINKED_SERVICES_API_VERSION}'."
            ),
        )),
        None => Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
    }
}

fn put(
    state: &EmulatorState,
    ws_id: &str,
    name: &str,
    location: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let body = crate::dispatch::Ctx::json(body)?;
    let synapse_id = body
        .pointer("/properties/linkedServiceResourceId")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ArmError::user(
                "properties.linkedServiceResourceId",
                "properties.linkedServiceResourceId is required.",
            )
        })?;
    let Some((sub, rg, syn)) = synapse_workspace(synapse_id) else {
        return Err(ArmError::user(
            "properties.linkedServiceResourceId",
            format!(
                "'{synapse_id}' is not a Synapse workspace id (/subscriptions/…/providers/Microsoft.Synapse/workspaces/{{name}})."
            ),
        ));
    };
    match body.pointer("/identity/type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("SystemAssigned") => {}
        other => {
            return Err(ArmError::user(
                "identity.type",
                format!(
                    "A linked service needs identity.type 'SystemAssigned'; got {}.",
                    other.map_or_else(|| "none".to_owned(), |t| format!("'{t}'"))
                ),
            ));
        }
    }
    let id = link_id(ws_id, name);
    let now = rfc3339_at(state.clock().now());
    let mut data = state.data();
    let known_synapse = data.pools.values().any(|p| {
        p.subscription_id.eq_ignore_ascii_case(&sub)
            && p.resource_group.eq_ignore_ascii_case(&rg)
            && p.workspace_name.eq_ignore_ascii_case(&syn)
    });
    if !known_synapse {
        return Err(ArmError::resource_not_found(
            "Microsoft.Synapse/workspaces",
            &syn,
            &rg,
        ));
    }
    let existing = data.linked_services.links.get(&ids::key(&id)).cloned();
    if existing.is_none() && data.linked_services.registration_closed {
        return Err(ArmError::user(
            "linkedServices",
            "A new Synapse workspace can no longer be registered with Azure Machine Learning as a linked service: the Azure Synapse Analytics integration in Python SDK v1 is deprecated. Existing linked services keep working; attach Synapse Spark pools directly instead (https://aka.ms/aml-spark).",
        ));
    }
    let created = existing
        .as_ref()
        .and_then(|v| v.pointer("/properties/createdTime"))
        .and_then(Value::as_str)
        .map_or_else(|| now.clone(), str::to_owned);
    let mut link = resource(&id, name, location, synapse_id, &created);
    if let Some(props) = link.get_mut("properties") {
        props["modifiedTime"] = json!(now);
    }
    data.linked_services
        .links
        .insert(ids::key(&id), link.clone());
    Ok(json_response(StatusCode::OK, &link))
}
