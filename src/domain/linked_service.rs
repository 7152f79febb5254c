//! SDK v1 linked services (`Microsoft.MachineLearningServices/workspaces/linkedServices`,
//! api-version 2020-09-01-preview): the name rule, the ARM model, and the reply shape.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::resource_ids::SynapseWorkspaceId;

/// The ARM api-version of the linked-service resource (the newest that has it).
pub const LINKED_SERVICES_API_VERSION: &str = "2020-09-01-preview";

/// A linked service's name. The service's own rule is not documented; poolbroker accepts what ARM
/// accepts as a child resource name in practice: 1 to 128 letters, digits, `-` and `_`, starting
/// with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkedServiceName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("linked service name '{name}' is invalid: {problem}")]
pub struct LinkedServiceNameError {
    pub name: String,
    pub problem: &'static str,
}

impl LinkedServiceName {
    pub fn parse(s: &str) -> Result<Self, LinkedServiceNameError> {
        let err = |problem| LinkedServiceNameError {
            name: s.to_owned(),
            problem,
        };
        if s.is_empty() || s.len() > 128 {
            return Err(err("must be 1 to 128 characters long"));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(err("must start with a letter or digit"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err("may contain only letters, digits, '-' and '_'"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LinkedServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A linked service as ARM returns it (`LinkedServiceResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LinkedService {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub identity: Option<LinkedServiceIdentity>,
    pub properties: LinkedServiceProps,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedServiceIdentity {
    #[serde(rename = "type")]
    pub identity_type: String,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedServiceProps {
    pub linked_service_resource_id: SynapseWorkspaceId,
    #[serde(default)]
    pub link_type: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub modified_time: Option<String>,
}

impl LinkedService {
    /// The linked service's own managed identity (`system_assigned_identity_principal_id` in v1).
    pub fn principal_id(&self) -> Option<&str> {
        self.identity.as_ref()?.principal_id.as_deref()
    }

    pub fn synapse_workspace(&self) -> &SynapseWorkspaceId {
        &self.properties.linked_service_resource_id
    }

    /// What replies carry: the SDK v1 attribute names, so v1 users recognise them.
    pub fn to_output(&self) -> Value {
        json!({
            "name": self.name,
            "id": self.id,
            "type": self.properties.link_type.as_deref().unwrap_or("Synapse"),
            "linked_service_resource_id": self.properties.linked_service_resource_id.as_str(),
            "system_assigned_identity_principal_id": self.principal_id(),
            "created_time": self.properties.created_time,
            "modified_time": self.properties.modified_time,
        })
    }
}

/// The PUT body: the spec's `createLinkedService.json` example, minus what ARM fills in.
pub fn register_body(
    name: &LinkedServiceName,
    location: &str,
    synapse: &SynapseWorkspaceId,
) -> Value {
    json!({
        "name": name.as_str(),
        "location": location,
        "identity": {"type": "SystemAssigned"},
        "properties": {"linkedServiceResourceId": synapse.as_str()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn-1";

    #[test]
    fn names() {
        assert!(LinkedServiceName::parse("synapselink1").is_ok());
        assert!(LinkedServiceName::parse("link_1-a").is_ok());
        let e = LinkedServiceName::parse("-x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "linked service name '-x' is invalid: must start with a letter or digit"
        );
        assert!(LinkedServiceName::parse("a/b").is_err());
        assert!(LinkedServiceName::parse("").is_err());
        assert!(LinkedServiceName::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn reads_the_spec_example_and_prints_v1_names() {
        let arm = json!({
            "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/linkedServices/link-1",
            "name": "link-1",
            "type": "Microsoft.MachineLearningServices/workspaces/linkedServices",
            "location": "westus",
            "identity": {"type": "SystemAssigned", "principalId": "b3a1c2d4-0000-0000-0000-000000000001", "tenantId": "t"},
            "properties": {"linkedServiceResourceId": SYN, "linkType": "Synapse", "createdTime": "2020-04-01T00:00:00Z", "modifiedTime": "2020-04-01T00:00:00Z"}
        });
        let link: LinkedService = serde_json::from_value(arm).unwrap();
        assert_eq!(link.synapse_workspace().name(), "syn-1");
        let out = link.to_output();
        assert_eq!(
            out["system_assigned_identity_principal_id"],
            "b3a1c2d4-0000-0000-0000-000000000001"
        );
        assert_eq!(out["linked_service_resource_id"], SYN);
        let body = register_body(
            &LinkedServiceName::parse("link-1").unwrap(),
            "westus",
            link.synapse_workspace(),
        );
        assert_eq!(body["identity"]["type"], "SystemAssigned");
        assert_eq!(body["properties"]["linkedServiceResourceId"], SYN);
    }
}
