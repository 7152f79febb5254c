//! The Azure ML workspace a command targets.

use std::{fmt, hash::Hash, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use super::arm_id::{
    ArmIdError, Seg, Shape, check_ml_workspace, check_resource_group, check_subscription,
};
use super::field_error::{FieldErrors, quote};
use super::reader::{Fields, type_name};

const SHAPE: Shape = Shape {
    what: "an Azure ML workspace id",
    shape: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/{name}",
    provider: "Microsoft.MachineLearningServices",
    segs: &[
        Seg::Lit("workspaces"),
        Seg::Val("workspace name", check_ml_workspace),
    ],
};

/// `{subscriptionId, resourceGroup, name}` of an Azure ML workspace. Equality ignores ASCII case.
#[derive(Debug, Clone)]
pub struct WorkspaceId {
    subscription_id: String,
    resource_group: String,
    name: String,
}

impl WorkspaceId {
    pub fn new(
        subscription_id: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Self, ArmIdError> {
        let bad = |label: &str, v: &str, why: String| ArmIdError {
            what: SHAPE.what,
            shape: SHAPE.shape,
            problem: format!("{label} {} is invalid: {why}", quote(v)),
        };
        check_subscription(subscription_id)
            .map_err(|w| bad("subscription id", subscription_id, w))?;
        check_resource_group(resource_group)
            .map_err(|w| bad("resource group", resource_group, w))?;
        check_ml_workspace(name).map_err(|w| bad("workspace name", name, w))?;
        Ok(Self {
            subscription_id: subscription_id.to_owned(),
            resource_group: resource_group.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Parse the ARM id form.
    pub fn parse(arm_id: &str) -> Result<Self, ArmIdError> {
        let v = SHAPE.parse(arm_id)?;
        Ok(Self {
            subscription_id: v[0].to_owned(),
            resource_group: v[1].to_owned(),
            name: v[2].to_owned(),
        })
    }

    /// Parse either the ARM id string or `{subscriptionId, resourceGroup, name}`.
    pub fn from_json(value: &Value) -> Result<Self, Vec<super::FieldError>> {
        let mut errs = FieldErrors::default();
        match parse_workspace(value, "", &mut errs) {
            Some(ws) if errs.is_empty() => Ok(ws),
            _ => Err(errs.into_vec()),
        }
    }

    pub fn subscription_id(&self) -> &str {
        &self.subscription_id
    }

    pub fn resource_group(&self) -> &str {
        &self.resource_group
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arm_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }

    /// ARM id of a compute in this workspace (what jobs carry as `properties.computeId`).
    pub fn compute_id(&self, name: &super::ComputeName) -> String {
        format!("{}/computes/{name}", self.arm_id())
    }

    /// The envelope's object form.
    pub fn to_json(&self) -> Value {
        json!({
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "name": self.name,
        })
    }

    fn key(&self) -> (String, String, String) {
        (
            self.subscription_id.to_ascii_lowercase(),
            self.resource_group.to_ascii_lowercase(),
            self.name.to_ascii_lowercase(),
        )
    }
}

/// Envelope `workspace` field, either form; errors land under `path`.
pub(crate) fn parse_workspace(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<WorkspaceId> {
    match value {
        Value::String(s) => match WorkspaceId::parse(s) {
            Ok(ws) => Some(ws),
            Err(e) => {
                errs.push(path, e.to_string());
                None
            }
        },
        Value::Object(_) => {
            let f = Fields::of(value, path, errs)?;
            f.deny_unknown(&["subscriptionId", "resourceGroup", "name"], errs);
            let mut field = |key: &str, check: fn(&str) -> Result<(), String>| {
                let s = f.required_str(key, errs)?;
                match check(s) {
                    Ok(()) => Some(s),
                    Err(why) => {
                        errs.push(f.path(key), format!("{} is invalid: {why}", quote(s)));
                        None
                    }
                }
            };
            let sub = field("subscriptionId", check_subscription);
            let rg = field("resourceGroup", check_resource_group);
            let name = field("name", check_ml_workspace);
            Some(WorkspaceId {
                subscription_id: sub?.to_owned(),
                resource_group: rg?.to_owned(),
                name: name?.to_owned(),
            })
        }
        other => {
            errs.push(
                path,
                format!(
                    "expected an ARM workspace id string or {{subscriptionId, resourceGroup, name}}, got {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

impl PartialEq for WorkspaceId {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for WorkspaceId {}

impl Hash for WorkspaceId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arm_id())
    }
}

impl FromStr for WorkspaceId {
    type Err = ArmIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for WorkspaceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for WorkspaceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_json(&v).map_err(|errs| {
            let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
            serde::de::Error::custom(msgs.join("; "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/mlw-demo";

    #[test]
    fn arm_id_round_trip_and_case_insensitive_keywords() {
        let ws = WorkspaceId::parse(WS).unwrap();
        assert_eq!(ws.subscription_id(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(ws.resource_group(), "poolbroker-demo");
        assert_eq!(ws.name(), "mlw-demo");
        assert_eq!(ws.arm_id(), WS);
        let lower = WorkspaceId::parse(&WS.to_lowercase()).unwrap();
        assert_eq!(ws, lower);
        assert_eq!(
            WorkspaceId::new(
                "00000000-0000-0000-0000-000000000001",
                "POOLBROKER-DEMO",
                "MLW-demo"
            )
            .unwrap(),
            ws
        );
    }

    #[test]
    fn object_form_and_errors_per_field() {
        let ws = WorkspaceId::from_json(&json!({"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "poolbroker-demo", "name": "mlw-demo"})).unwrap();
        assert_eq!(ws.arm_id(), WS);
        let errs = WorkspaceId::from_json(
            &json!({"subscriptionId": "x", "resourceGroup": "rg.", "name": "m", "region": 1}),
        )
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["region", "subscriptionId", "resourceGroup", "name"]
        );
        let errs = WorkspaceId::from_json(&json!(42)).unwrap_err();
        assert!(errs[0].problem.contains("got a number"));
        let errs = WorkspaceId::from_json(&json!(WS.replace("MachineLearningServices", "Synapse")))
            .unwrap_err();
        assert!(
            errs[0]
                .problem
                .contains("where 'Microsoft.MachineLearningServices' was expected"),
            "{errs:?}"
        );
    }

    #[test]
    fn serde_both_forms() {
        let ws: WorkspaceId = serde_json::from_value(json!(WS)).unwrap();
        let obj = serde_json::to_value(&ws).unwrap();
        assert_eq!(obj["name"], "mlw-demo");
        let back: WorkspaceId = serde_json::from_value(obj).unwrap();
        assert_eq!(back, ws);
        assert!(serde_json::from_value::<WorkspaceId>(json!({"name": "mlw"})).is_err());
    }
}
