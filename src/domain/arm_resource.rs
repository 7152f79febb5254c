//! ARM resources as the client moves them. The fields poolbroker reads or writes are typed; every
//! other field is kept verbatim in `extra` (`#[serde(flatten)]`), so a read-modify-PUT sends back
//! what it got and nothing the service added is lost.
//!
//! These are transport shapes, read leniently (every field optional): what a field *means* is
//! decided by the domain readers ([`super::AttachedPool`], [`super::spark::SparkJobView`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tags::Tags;

/// Fields of a resource that poolbroker does not model, kept as ARM sent them.
pub type Unmodelled = Map<String, Value>;

/// A tracked resource read for its identity and location only: an Azure ML workspace
/// (`Microsoft.MachineLearningServices/workspaces`) or a Synapse Spark pool
/// (`Microsoft.Synapse/workspaces/bigDataPools`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackedResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

/// `ComputeResource` (Compute_Get / Compute_CreateOrUpdate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComputeResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// ARM's `ManagedServiceIdentity`, as [`super::IdentitySpec::to_arm`] writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
    /// Always sent on a PUT: PUT replaces the resource, so `{}` is how tags get cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ComputeProperties>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

/// `JobBaseResource` (Jobs_Get / Jobs_CreateOrUpdate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<JobProperties>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProperties {
    /// ARM id of the attached compute; absent for serverless Spark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

/// An ARM operation's status or result body (`Azure-AsyncOperation` / `Location`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Unmodelled,
}

impl JobResource {
    /// A job whose properties are `properties` (string values of the typed keys taken out of
    /// the map; anything else under those keys stays in `extra`, verbatim).
    pub fn with_properties(mut properties: Unmodelled) -> Self {
        let mut take = |key: &str| match properties.get(key) {
            Some(Value::String(_)) => properties.shift_remove(key).and_then(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            }),
            _ => None,
        };
        let compute_id = take("computeId");
        let status = take("status");
        Self {
            properties: Some(JobProperties {
                compute_id,
                status,
                extra: properties,
            }),
            ..Self::default()
        }
    }

    pub fn status(&self) -> Option<&str> {
        self.properties.as_ref()?.status.as_deref()
    }

    pub fn compute_id(&self) -> Option<&str> {
        self.properties.as_ref()?.compute_id.as_deref()
    }
}

/// The resource as JSON, for the domain's field-by-field readers and for display. Cannot fail:
/// every field is a string-keyed map or a plain value.
pub fn to_json<T: Serialize>(resource: &T) -> Value {
    serde_json::to_value(resource).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unmodelled_fields_survive_a_round_trip() {
        let arm = json!({
            "id": "/subscriptions/s/x/computes/pool-a",
            "name": "pool-a",
            "location": "eastus2",
            "systemData": {"createdAt": "2026-01-01T00:00:00Z"},
            "tags": {"team": "etl"},
            "properties": {
                "computeType": "SynapseSpark",
                "provisioningState": "Succeeded",
                "properties": {"nodeCount": 3},
                "isAttachedCompute": true
            }
        });
        let compute: ComputeResource = serde_json::from_value(arm.clone()).unwrap();
        assert_eq!(compute.name.as_deref(), Some("pool-a"));
        let props = compute.properties.as_ref().unwrap();
        assert_eq!(props.compute_type.as_deref(), Some("SynapseSpark"));
        assert_eq!(props.extra["isAttachedCompute"], json!(true));
        assert_eq!(
            compute.extra["systemData"]["createdAt"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(to_json(&compute), arm);
    }

    #[test]
    fn job_typed_fields_come_out_of_the_properties_map() {
        let mut p = Unmodelled::new();
        p.insert("jobType".into(), json!("Spark"));
        p.insert("computeId".into(), json!("/c"));
        let job = JobResource::with_properties(p);
        assert_eq!(job.compute_id(), Some("/c"));
        assert_eq!(
            to_json(&job),
            json!({"properties": {"computeId": "/c", "jobType": "Spark"}})
        );
    }
}
