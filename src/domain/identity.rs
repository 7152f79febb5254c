//! Managed identity of an attached pool, as users write it (`az ml` YAML / CLI flags) and as ARM
//! carries it. UAI order matters: the first one is used to submit jobs by default (docs/jobs.md).

use std::ops::Deref;

use serde_json::{Map, Value, json};

use super::field_error::{FieldError, FieldErrors, index, quote};
use super::reader::{Fields, as_array, type_name};
use super::resource_ids::UserAssignedIdentityId;

/// The identity type, in any of its spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityType {
    None,
    SystemAssigned,
    UserAssigned,
    SystemAndUserAssigned,
}

const TYPE_CHOICES: &str = "system_assigned, user_assigned, none, system_assigned,user_assigned (or SystemAssigned, UserAssigned, None, SystemAssigned,UserAssigned)";

impl IdentityType {
    /// Accepts the ARM (`SystemAssigned,UserAssigned`), az-ml (`system_assigned,user_assigned`) and
    /// CLI spellings, case-insensitively, with or without a space after the comma.
    pub fn parse(s: &str) -> Option<Self> {
        let mut system = false;
        let mut user = false;
        let mut none = false;
        for part in s.split(',') {
            let norm: String = part
                .trim()
                .chars()
                .filter(|c| *c != '_')
                .collect::<String>()
                .to_ascii_lowercase();
            match norm.as_str() {
                "systemassigned" if !system => system = true,
                "userassigned" if !user => user = true,
                "none" if !none => none = true,
                _ => return None,
            }
        }
        match (none, system, user) {
            (true, false, false) => Some(Self::None),
            (false, true, false) => Some(Self::SystemAssigned),
            (false, false, true) => Some(Self::UserAssigned),
            (false, true, true) => Some(Self::SystemAndUserAssigned),
            _ => None,
        }
    }

    /// The ManagedServiceIdentity `type` string (common-types v3).
    pub fn arm_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::SystemAssigned => "SystemAssigned",
            Self::UserAssigned => "UserAssigned",
            Self::SystemAndUserAssigned => "SystemAssigned,UserAssigned",
        }
    }

    /// The az-ml / YAML spelling (`camel_to_snake` per comma part, as azure-ai-ml does).
    pub fn az_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SystemAssigned => "system_assigned",
            Self::UserAssigned => "user_assigned",
            Self::SystemAndUserAssigned => "system_assigned,user_assigned",
        }
    }

    pub fn has_user_assigned(self) -> bool {
        matches!(self, Self::UserAssigned | Self::SystemAndUserAssigned)
    }
}

/// A non-empty list of distinct (case-insensitively) user-assigned identities, in the user's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaiList(Vec<UserAssignedIdentityId>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("user-assigned identity {duplicate} is listed twice (positions {first} and {second})")]
    Duplicate {
        duplicate: String,
        first: usize,
        second: usize,
    },
    #[error("identity type {identity_type} needs at least one user-assigned identity")]
    MissingUserAssigned { identity_type: &'static str },
    #[error("identity type {identity_type} does not take user-assigned identities")]
    UnexpectedUserAssigned { identity_type: &'static str },
}

impl UaiList {
    pub fn new(ids: Vec<UserAssignedIdentityId>) -> Result<Self, IdentityError> {
        if ids.is_empty() {
            return Err(IdentityError::MissingUserAssigned {
                identity_type: IdentityType::UserAssigned.az_str(),
            });
        }
        for (second, id) in ids.iter().enumerate() {
            if let Some(first) = ids[..second].iter().position(|earlier| earlier == id) {
                return Err(IdentityError::Duplicate {
                    duplicate: id.to_string(),
                    first,
                    second,
                });
            }
        }
        Ok(Self(ids))
    }

    pub fn as_slice(&self) -> &[UserAssignedIdentityId] {
        &self.0
    }

    /// The identity jobs use by default.
    pub fn first(&self) -> &UserAssignedIdentityId {
        // Non-empty by construction.
        &self.0[0]
    }
}

impl Deref for UaiList {
    type Target = [UserAssignedIdentityId];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// What identity a pool should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySpec {
    None,
    SystemAssigned,
    UserAssigned(UaiList),
    SystemAndUserAssigned(UaiList),
}

impl IdentitySpec {
    pub fn build(
        identity_type: IdentityType,
        uais: Vec<UserAssignedIdentityId>,
    ) -> Result<Self, IdentityError> {
        match identity_type {
            IdentityType::None | IdentityType::SystemAssigned if !uais.is_empty() => {
                Err(IdentityError::UnexpectedUserAssigned {
                    identity_type: identity_type.az_str(),
                })
            }
            IdentityType::None => Ok(Self::None),
            IdentityType::SystemAssigned => Ok(Self::SystemAssigned),
            IdentityType::UserAssigned | IdentityType::SystemAndUserAssigned if uais.is_empty() => {
                Err(IdentityError::MissingUserAssigned {
                    identity_type: identity_type.az_str(),
                })
            }
            IdentityType::UserAssigned => UaiList::new(uais).map(Self::UserAssigned),
            IdentityType::SystemAndUserAssigned => {
                UaiList::new(uais).map(Self::SystemAndUserAssigned)
            }
        }
    }

    /// The CLI form: `--identity UserAssigned --user-assigned-identities id1 id2` (each value may
    /// also be a comma-separated list, as `az ml compute update` accepts).
    pub fn from_cli(
        identity_type: &str,
        user_assigned_identities: &[String],
    ) -> Result<Self, Vec<FieldError>> {
        let mut errs = FieldErrors::default();
        let ty = IdentityType::parse(identity_type);
        if ty.is_none() {
            errs.push(
                "--identity",
                format!(
                    "expected one of {TYPE_CHOICES}; got {}",
                    quote(identity_type)
                ),
            );
        }
        let mut ids = Vec::new();
        let mut where_ = Vec::new();
        for raw in user_assigned_identities
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let path = index("--user-assigned-identities", where_.len());
            where_.push(path.clone());
            match UserAssignedIdentityId::parse(raw) {
                Ok(id) => ids.push(id),
                Err(e) => errs.push(path, e.to_string()),
            }
        }
        let spec = ty.and_then(|ty| finish(ty, ids, "--identity", &where_, &mut errs));
        match spec {
            Some(spec) if errs.is_empty() => Ok(spec),
            _ => Err(errs.into_vec()),
        }
    }

    pub fn identity_type(&self) -> IdentityType {
        match self {
            Self::None => IdentityType::None,
            Self::SystemAssigned => IdentityType::SystemAssigned,
            Self::UserAssigned(_) => IdentityType::UserAssigned,
            Self::SystemAndUserAssigned(_) => IdentityType::SystemAndUserAssigned,
        }
    }

    /// The user-assigned identities in order (empty for none/system).
    pub fn user_assigned(&self) -> &[UserAssignedIdentityId] {
        match self {
            Self::UserAssigned(l) | Self::SystemAndUserAssigned(l) => l,
            Self::None | Self::SystemAssigned => &[],
        }
    }

    /// ARM `identity` body: `{}` values for each UAI, keys in the user's order.
    pub fn to_arm(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), json!(self.identity_type().arm_str()));
        if self.identity_type().has_user_assigned() {
            let uais: Map<String, Value> = self
                .user_assigned()
                .iter()
                .map(|id| (id.to_string(), json!({})))
                .collect();
            obj.insert("userAssignedIdentities".into(), Value::Object(uais));
        }
        Value::Object(obj)
    }

    /// The az-ml YAML form (`{type: user_assigned, user_assigned_identities: [{resource_id}]}`).
    pub fn to_az_yaml(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), json!(self.identity_type().az_str()));
        if self.identity_type().has_user_assigned() {
            let list: Vec<Value> = self
                .user_assigned()
                .iter()
                .map(|id| json!({"resource_id": id.to_string()}))
                .collect();
            obj.insert("user_assigned_identities".into(), Value::Array(list));
        }
        Value::Object(obj)
    }
}

/// Combine a type and ids, reporting errors at the right paths.
fn finish(
    ty: IdentityType,
    ids: Vec<UserAssignedIdentityId>,
    type_path: &str,
    id_paths: &[String],
    errs: &mut FieldErrors,
) -> Option<IdentitySpec> {
    match IdentitySpec::build(ty, ids) {
        Ok(spec) => Some(spec),
        Err(e @ IdentityError::Duplicate { second, .. }) => {
            let path = id_paths.get(second).map_or(type_path, String::as_str);
            errs.push(path, e.to_string());
            None
        }
        Err(e @ IdentityError::UnexpectedUserAssigned { .. }) => {
            let path = id_paths
                .first()
                .map_or(type_path, |p| p.split('[').next().unwrap_or(p));
            errs.push(path, e.to_string());
            None
        }
        Err(e @ IdentityError::MissingUserAssigned { .. }) => {
            errs.push(type_path, e.to_string());
            None
        }
    }
}

/// `identity: {type, user_assigned_identities: [{resource_id} | "id"], principal_id?, tenant_id?}`.
/// `principal_id`/`tenant_id` are output-only in az-ml and accepted so that `az ml compute show`
/// output can be pasted back; they are ignored.
pub(crate) fn parse_identity(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<IdentitySpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(
        &[
            "type",
            "user_assigned_identities",
            "principal_id",
            "tenant_id",
        ],
        errs,
    );
    let type_path = f.path("type");
    let ty = match f.required_str("type", errs) {
        Some(s) => match IdentityType::parse(s) {
            Some(t) => Some(t),
            None => {
                errs.push(
                    &type_path,
                    format!("expected one of {TYPE_CHOICES}; got {}", quote(s)),
                );
                None
            }
        },
        None => None,
    };
    let list_path = f.path("user_assigned_identities");
    let mut ids = Vec::new();
    let mut id_paths = Vec::new();
    let mut ids_ok = true;
    if let Some(items) = f
        .get("user_assigned_identities")
        .and_then(|v| as_array(v, &list_path, errs))
    {
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&list_path, i);
            let (raw, raw_path) = match item {
                Value::String(s) => (Some(s.as_str()), item_path.clone()),
                Value::Object(_) => {
                    let Some(it) = Fields::of(item, &item_path, errs) else {
                        continue;
                    };
                    it.deny_unknown(&["resource_id", "principal_id", "client_id"], errs);
                    (it.required_str("resource_id", errs), it.path("resource_id"))
                }
                other => {
                    errs.push(
                        &item_path,
                        format!(
                            "expected {{resource_id: <id>}} or an id string, got {}",
                            type_name(other)
                        ),
                    );
                    (None, item_path.clone())
                }
            };
            match raw.map(UserAssignedIdentityId::parse) {
                Some(Ok(id)) => {
                    ids.push(id);
                    id_paths.push(raw_path);
                }
                Some(Err(e)) => {
                    errs.push(raw_path, e.to_string());
                    ids_ok = false;
                }
                None => ids_ok = false,
            }
        }
    } else if f.contains("user_assigned_identities") {
        ids_ok = false;
    }
    let ty = ty?;
    if !ids_ok {
        return None;
    }
    // Point "not allowed" at the list, not at one element.
    if !ty.has_user_assigned() && !ids.is_empty() {
        errs.push(
            &list_path,
            IdentityError::UnexpectedUserAssigned {
                identity_type: ty.az_str(),
            }
            .to_string(),
        );
        return None;
    }
    finish(ty, ids, &type_path, &id_paths, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl";
    const READER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-reader";

    fn parse(v: Value) -> Result<IdentitySpec, Vec<FieldError>> {
        let mut errs = FieldErrors::default();
        match parse_identity(&v, "spec.identity", &mut errs) {
            Some(s) if errs.is_empty() => Ok(s),
            _ => Err(errs.into_vec()),
        }
    }

    #[test]
    fn type_spellings() {
        for (s, t) in [
            ("system_assigned", IdentityType::SystemAssigned),
            ("SystemAssigned", IdentityType::SystemAssigned),
            ("user_assigned", IdentityType::UserAssigned),
            ("UserAssigned", IdentityType::UserAssigned),
            ("none", IdentityType::None),
            ("None", IdentityType::None),
            (
                "system_assigned,user_assigned",
                IdentityType::SystemAndUserAssigned,
            ),
            (
                "SystemAssigned, UserAssigned",
                IdentityType::SystemAndUserAssigned,
            ),
            (
                "user_assigned,system_assigned",
                IdentityType::SystemAndUserAssigned,
            ),
        ] {
            assert_eq!(IdentityType::parse(s), Some(t), "{s}");
        }
        for bad in [
            "",
            "managed",
            "none,system_assigned",
            "user_assigned,user_assigned",
            "system assigned",
        ] {
            assert_eq!(IdentityType::parse(bad), None, "{bad}");
        }
        assert_eq!(
            IdentityType::SystemAndUserAssigned.arm_str(),
            "SystemAssigned,UserAssigned"
        );
        assert_eq!(
            IdentityType::SystemAndUserAssigned.az_str(),
            "system_assigned,user_assigned"
        );
    }

    #[test]
    fn yaml_form_keeps_order() {
        let spec = parse(json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": READER}, {"resource_id": ETL}]})).unwrap();
        let ids: Vec<String> = spec
            .user_assigned()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(ids, vec![READER, ETL]);
        assert_eq!(
            serde_json::to_string(&spec.to_arm()).unwrap(),
            format!(
                r#"{{"type":"UserAssigned","userAssignedIdentities":{{"{READER}":{{}},"{ETL}":{{}}}}}}"#
            )
        );
        assert_eq!(
            spec.to_az_yaml(),
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": READER}, {"resource_id": ETL}]})
        );
        assert_eq!(
            parse(json!({"type": "system_assigned"})).unwrap(),
            IdentitySpec::SystemAssigned
        );
        assert_eq!(
            parse(json!({"type": "none"})).unwrap().to_arm(),
            json!({"type": "None"})
        );
        // Strings are accepted as list items too, and show-output fields are tolerated.
        let both = parse(json!({"type": "SystemAssigned,UserAssigned", "principal_id": "p", "user_assigned_identities": [ETL]})).unwrap();
        assert_eq!(both.to_arm()["type"], "SystemAssigned,UserAssigned");
    }

    #[test]
    fn duplicate_is_named_case_insensitively() {
        let errs = parse(json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": ETL}, {"resource_id": READER}, {"resource_id": ETL.to_lowercase()}]})).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].path,
            "spec.identity.user_assigned_identities[2].resource_id"
        );
        assert!(
            errs[0]
                .problem
                .contains("uai-etl is listed twice (positions 0 and 2)"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn empty_user_assigned_and_uais_with_system_are_rejected() {
        let errs = parse(json!({"type": "user_assigned"})).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.identity.type: identity type user_assigned needs at least one user-assigned identity"
        );
        let errs =
            parse(json!({"type": "user_assigned", "user_assigned_identities": []})).unwrap_err();
        assert_eq!(errs[0].path, "spec.identity.type");
        let errs = parse(
            json!({"type": "system_assigned", "user_assigned_identities": [{"resource_id": ETL}]}),
        )
        .unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.identity.user_assigned_identities: identity type system_assigned does not take user-assigned identities"
        );
        let errs = parse(json!({"type": "none", "user_assigned_identities": [ETL]})).unwrap_err();
        assert!(errs[0].problem.contains("none does not take"));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let errs = parse(json!({"type": "managed", "kind": 1, "user_assigned_identities": [{"resource_id": "/nope"}, 7, {"id": ETL}]})).unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.identity.kind",
                "spec.identity.type",
                "spec.identity.user_assigned_identities[0].resource_id",
                "spec.identity.user_assigned_identities[1]",
                "spec.identity.user_assigned_identities[2].id",
                "spec.identity.user_assigned_identities[2].resource_id",
            ]
        );
        assert!(
            errs[1]
                .problem
                .starts_with("expected one of system_assigned")
        );
        assert_eq!(
            parse(json!("system_assigned")).unwrap_err()[0].problem,
            "expected an object, got a string"
        );
    }

    #[test]
    fn cli_form() {
        let spec = IdentitySpec::from_cli("UserAssigned", &[format!("{ETL},{READER}")]).unwrap();
        assert_eq!(spec.user_assigned().len(), 2);
        let spec = IdentitySpec::from_cli("UserAssigned", &[READER.into(), ETL.into()]).unwrap();
        assert_eq!(spec.user_assigned()[0].name(), "uai-reader");
        assert_eq!(
            IdentitySpec::from_cli("SystemAssigned", &[]).unwrap(),
            IdentitySpec::SystemAssigned
        );
        let errs = IdentitySpec::from_cli("UserAssigned", &[]).unwrap_err();
        assert_eq!(errs[0].path, "--identity");
        let errs = IdentitySpec::from_cli("SystemAssigned", &[ETL.into()]).unwrap_err();
        assert_eq!(errs[0].path, "--user-assigned-identities");
        let errs = IdentitySpec::from_cli(
            "UserAssigned",
            &[
                ETL.into(),
                ETL.to_uppercase()
                    .replace("/SUBSCRIPTIONS/", "/subscriptions/"),
            ],
        )
        .unwrap_err();
        assert_eq!(errs[0].path, "--user-assigned-identities[1]");
        let errs = IdentitySpec::from_cli("Bogus", &["x".into()]).unwrap_err();
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn uai_list_invariants() {
        let a = UserAssignedIdentityId::parse(ETL).unwrap();
        assert!(UaiList::new(vec![]).is_err());
        assert!(UaiList::new(vec![a.clone(), a.clone()]).is_err());
        assert_eq!(UaiList::new(vec![a.clone()]).unwrap().first(), &a);
    }
}
