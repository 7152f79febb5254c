//! `POOLBROKER_CLEANUP_POLICY`: which workspaces the cleanup timer looks after, and how.

use std::time::Duration;

use serde_yaml_ng::{Mapping, Value as Yaml};

use crate::domain::{Ttl, WorkspaceId};

/// The setting that holds the cleanup policy (JSON or YAML).
pub const CLEANUP_POLICY_SETTING: &str = "POOLBROKER_CLEANUP_POLICY";

/// How cleanup treats one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanupPolicy {
    /// Report what would be detached, touch nothing.
    pub dry_run: bool,
    /// Detach pools with no job activity for this long; `None` disables idle detection.
    pub idle_after: Option<Duration>,
    /// Also clean pools without `poolbroker-managed=true` (attached by other tools).
    pub manage_all: bool,
}

/// One workspace's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePolicy {
    workspace: WorkspaceId,
    policy: CleanupPolicy,
}

impl WorkspacePolicy {
    /// The workspace, parsed with the same grammar as a command's `workspace`.
    pub fn workspace(&self) -> &WorkspaceId {
        &self.workspace
    }

    pub fn policy(&self) -> &CleanupPolicy {
        &self.policy
    }
}

/// The parsed setting: workspaces not listed are never cleaned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanupSettings {
    workspaces: Vec<WorkspacePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CleanupSettingsError {
    #[error("{CLEANUP_POLICY_SETTING}: not valid JSON or YAML: {0}")]
    Syntax(String),
    #[error("{CLEANUP_POLICY_SETTING}: {field}: {message}")]
    Field { field: String, message: String },
}

const ENTRY_FIELDS: [&str; 4] = ["workspace", "idle_after", "manage_all", "dry_run"];

impl CleanupSettings {
    /// Parses a list of entries, or `{"workspaces": [...]}`. JSON is accepted as YAML.
    pub fn parse(text: &str) -> Result<Self, CleanupSettingsError> {
        let document: Yaml = serde_yaml_ng::from_str(text)
            .map_err(|error| CleanupSettingsError::Syntax(error.to_string()))?;
        let (items, prefix) = match document {
            Yaml::Null => (Vec::new(), "workspaces"),
            Yaml::Sequence(items) => (items, ""),
            Yaml::Mapping(mut mapping) => {
                if let Some(key) = mapping
                    .keys()
                    .find(|key| key.as_str() != Some("workspaces"))
                {
                    return Err(field_error(
                        "(top level)",
                        format!("unknown key {}: expected only 'workspaces'", describe(key)),
                    ));
                }
                match mapping.remove("workspaces") {
                    Some(Yaml::Sequence(items)) => (items, "workspaces"),
                    Some(Yaml::Null) | None => (Vec::new(), "workspaces"),
                    Some(_) => {
                        return Err(field_error(
                            "workspaces",
                            "expected a list of workspace entries",
                        ));
                    }
                }
            }
            _ => {
                return Err(field_error(
                    "(top level)",
                    "expected a list of workspace entries or {\"workspaces\": [...]}",
                ));
            }
        };
        let mut workspaces: Vec<WorkspacePolicy> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let at = format!("{prefix}[{index}]");
            let entry = parse_entry(item, &at)?;
            if workspaces
                .iter()
                .any(|existing| existing.workspace == entry.workspace)
            {
                return Err(field_error(
                    &format!("{at}.workspace"),
                    format!("'{}' is listed twice", entry.workspace),
                ));
            }
            workspaces.push(entry);
        }
        Ok(Self { workspaces })
    }

    pub fn workspaces(&self) -> &[WorkspacePolicy] {
        &self.workspaces
    }

    /// The policy for a workspace (ids compare case-insensitively, as ARM does).
    pub fn policy_for(&self, workspace: &WorkspaceId) -> Option<&CleanupPolicy> {
        self.workspaces
            .iter()
            .find(|entry| entry.workspace == *workspace)
            .map(|entry| &entry.policy)
    }
}

fn parse_entry(item: Yaml, at: &str) -> Result<WorkspacePolicy, CleanupSettingsError> {
    let Yaml::Mapping(mut mapping) = item else {
        return Err(field_error(
            at,
            "expected an object with workspace, idle_after, manage_all, dry_run",
        ));
    };
    if let Some(key) = mapping
        .keys()
        .find(|key| !key.as_str().is_some_and(|k| ENTRY_FIELDS.contains(&k)))
    {
        return Err(field_error(
            at,
            format!(
                "unknown field {}: expected one of {}",
                describe(key),
                ENTRY_FIELDS.join(", ")
            ),
        ));
    }
    let workspace = match mapping.remove("workspace") {
        // The one ARM id grammar (`crate::domain`): an entry the commands would refuse is refused
        // here too, at start-up, instead of being skipped by every timer run.
        Some(Yaml::String(text)) => WorkspaceId::parse(text.trim().trim_end_matches('/'))
            .map_err(|e| field_error(&format!("{at}.workspace"), format!("'{text}': {e}")))?,
        Some(_) => {
            return Err(field_error(
                &format!("{at}.workspace"),
                "expected a workspace ARM id string",
            ));
        }
        None => {
            return Err(field_error(
                &format!("{at}.workspace"),
                "required field is missing",
            ));
        }
    };
    let idle_after = match mapping.remove("idle_after") {
        None | Some(Yaml::Null) => None,
        Some(Yaml::String(text)) => Some(
            Ttl::parse(text.trim())
                .map(|ttl| ttl.std_duration())
                .map_err(|error| field_error(&format!("{at}.idle_after"), error.to_string()))?,
        ),
        Some(_) => {
            return Err(field_error(
                &format!("{at}.idle_after"),
                "expected a duration string like \"2h\"",
            ));
        }
    };
    Ok(WorkspacePolicy {
        workspace,
        policy: CleanupPolicy {
            dry_run: flag(&mut mapping, "dry_run", at)?,
            idle_after,
            manage_all: flag(&mut mapping, "manage_all", at)?,
        },
    })
}

fn flag(mapping: &mut Mapping, key: &str, at: &str) -> Result<bool, CleanupSettingsError> {
    match mapping.remove(key) {
        None | Some(Yaml::Null) => Ok(false),
        Some(Yaml::Bool(value)) => Ok(value),
        Some(other) => Err(field_error(
            &format!("{at}.{key}"),
            format!("expected true or false, got {}", describe(&other)),
        )),
    }
}

fn field_error(field: &str, message: impl Into<String>) -> CleanupSettingsError {
    CleanupSettingsError::Field {
        field: field.to_string(),
        message: message.into(),
    }
}

fn describe(value: &Yaml) -> String {
    match value {
        Yaml::String(text) => format!("'{text}'"),
        Yaml::Number(number) => format!("the number {number}"),
        Yaml::Bool(flag) => format!("the boolean {flag}"),
        Yaml::Null => "null".to_string(),
        Yaml::Sequence(_) => "a list".to_string(),
        Yaml::Mapping(_) => "a mapping".to_string(),
        Yaml::Tagged(_) => "a tagged value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1";

    #[test]
    fn json_and_yaml_forms_parse() {
        let json = format!(
            r#"{{"workspaces": [{{"workspace": "{WS}", "idle_after": "2h", "manage_all": false, "dry_run": true}}]}}"#
        );
        let settings = CleanupSettings::parse(&json).unwrap();
        let policy = settings
            .policy_for(&WorkspaceId::parse(&WS.to_uppercase()).unwrap())
            .unwrap();
        assert_eq!(
            policy,
            &CleanupPolicy {
                dry_run: true,
                idle_after: Some(Duration::from_secs(7200)),
                manage_all: false
            }
        );
        let yaml = format!("- workspace: {WS}/\n  manage_all: true\n");
        let settings = CleanupSettings::parse(&yaml).unwrap();
        assert_eq!(settings.workspaces()[0].workspace().arm_id(), WS);
        assert_eq!(
            settings.workspaces()[0].policy(),
            &CleanupPolicy {
                dry_run: false,
                idle_after: None,
                manage_all: true
            }
        );
        let other = WorkspaceId::parse(&WS.replace("ws1", "other")).unwrap();
        assert_eq!(settings.policy_for(&other), None);
        assert!(CleanupSettings::parse("").unwrap().workspaces().is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let error = |text: String| CleanupSettings::parse(&text).unwrap_err().to_string();
        assert_eq!(
            error(format!(
                r#"[{{"workspace": "{WS}", "idle_after": "2 hours"}}]"#
            )),
            "POOLBROKER_CLEANUP_POLICY: [0].idle_after: expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first); got '2 hours'"
        );
        assert_eq!(
            error(format!(
                r#"{{"workspaces": [{{"workspace": "{WS}", "dry_run": "yes"}}]}}"#
            )),
            "POOLBROKER_CLEANUP_POLICY: workspaces[0].dry_run: expected true or false, got 'yes'"
        );
        assert!(
            error(format!(r#"[{{"workspace": "{WS}", "idle": "2h"}}]"#))
                .contains("[0]: unknown field 'idle'")
        );
        assert!(
            error(r#"[{"idle_after": "2h"}]"#.into())
                .contains("[0].workspace: required field is missing")
        );
        assert!(
            error(r#"[{"workspace": "/subscriptions/x/resourceGroups/rg"}]"#.into())
                .contains("[0].workspace: '/subscriptions/x/resourceGroups/rg': ")
        );
        // A well-shaped id whose subscription is not a GUID: the commands would refuse it, so
        // the policy does too (it used to be accepted here and silently dropped later).
        assert_eq!(
            error(
                r#"{"workspaces": [{"workspace": "/subscriptions/prod-sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"}]}"#
                    .into()
            ),
            "POOLBROKER_CLEANUP_POLICY: workspaces[0].workspace: '/subscriptions/prod-sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1': subscription id 'prod-sub' is invalid: must be a GUID like 00000000-0000-0000-0000-000000000000; expected an Azure ML workspace id of the form /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/{name}"
        );
        assert!(
            error(format!(
                "[{{\"workspace\": \"{WS}\"}}, {{\"workspace\": \"{}\"}}]",
                WS.to_lowercase()
            ))
            .contains("[1].workspace: '")
        );
        assert!(error("{\"pools\": []}".into()).contains("unknown key 'pools'"));
        assert!(error("{".into()).starts_with("POOLBROKER_CLEANUP_POLICY: not valid JSON or YAML"));
        assert!(
            error(format!(r#"[{{"workspace": "{WS}", "idle_after": "0m"}}]"#))
                .contains("shorter than the minimum")
        );
    }
}
