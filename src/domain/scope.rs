//! Which workspaces the broker may touch, from a settings string such as
//! `/subscriptions/S1,/subscriptions/S2/resourceGroups/rg-ml`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::arm_id::ArmIdError;
use super::field_error::quote;
use super::workspace_id::WorkspaceId;

const WHAT: &str = "a scope allow-list entry";
const SHAPE: &str = "/subscriptions/{subscriptionId}[/resourceGroups/{resourceGroup}[/providers/Microsoft.MachineLearningServices/workspaces/{name}]] or *";

/// `subscriptions/{id}/resourceGroups/{name}`.
const RESOURCE_GROUP_SEGMENTS: usize = 4;

/// ARM id prefixes, matched case-insensitively on whole segments (`/subscriptions/S/resourceGroups/rg`
/// allows `rg` but not `rg2`). An empty list allows nothing; `*` allows everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeAllowList {
    raw: Vec<String>,
    any: bool,
    prefixes: Vec<Vec<String>>,
}

impl ScopeAllowList {
    pub fn parse(s: &str) -> Result<Self, ArmIdError> {
        let mut list = Self {
            raw: Vec::new(),
            any: false,
            prefixes: Vec::new(),
        };
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                list.any = true;
                list.raw.push(entry.to_owned());
                continue;
            }
            let err = |problem: String| ArmIdError {
                what: WHAT,
                shape: SHAPE,
                problem,
            };
            let Some(rest) = entry.strip_prefix('/') else {
                return Err(err(format!("{} does not start with '/'", quote(entry))));
            };
            let segs: Vec<String> = rest
                .trim_end_matches('/')
                .split('/')
                .map(str::to_ascii_lowercase)
                .collect();
            if segs.iter().any(String::is_empty) {
                return Err(err(format!("{} has an empty segment", quote(entry))));
            }
            if segs[0] != "subscriptions" || segs.len() < 2 {
                return Err(err(format!(
                    "{} must start with /subscriptions/{{id}}",
                    quote(entry)
                )));
            }
            list.raw.push(entry.to_owned());
            list.prefixes.push(segs);
        }
        Ok(list)
    }

    pub fn allows(&self, ws: &WorkspaceId) -> bool {
        self.allows_id(&ws.arm_id(), usize::MAX)
    }

    /// Whether a resource a command *refers to* (a Synapse pool, a user-assigned identity, an
    /// asset) lies inside the allowed scopes. Such resources live beside the workspace, not in
    /// it, so an entry naming a workspace counts here for the workspace's resource group; an id
    /// in another resource group or subscription is refused.
    pub fn allows_referenced(&self, arm_id: &str) -> bool {
        self.allows_id(arm_id, RESOURCE_GROUP_SEGMENTS)
    }

    /// Segment-prefix match of `arm_id` against every entry cut to at most `depth` segments.
    fn allows_id(&self, arm_id: &str, depth: usize) -> bool {
        if self.any {
            return true;
        }
        let id = arm_id.to_ascii_lowercase();
        let segs: Vec<&str> = id.trim_start_matches('/').split('/').collect();
        if segs.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
            return false;
        }
        self.prefixes.iter().any(|p| {
            let p = &p[..p.len().min(depth)];
            p.len() <= segs.len() && p.iter().zip(&segs).all(|(a, b)| a == b)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn entries(&self) -> &[String] {
        &self.raw
    }
}

impl fmt::Display for ScopeAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw.join(","))
    }
}

impl FromStr for ScopeAllowList {
    type Err = ArmIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ScopeAllowList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ScopeAllowList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    fn ws(rg: &str, name: &str) -> WorkspaceId {
        WorkspaceId::new(SUB, rg, name).unwrap()
    }

    #[test]
    fn prefix_matches_on_segment_boundaries_case_insensitively() {
        let list = ScopeAllowList::parse(&format!(
            " /subscriptions/{SUB}/resourcegroups/POOLBROKER-demo/ , /subscriptions/00000000-0000-0000-0000-0000000000ff"
        ))
        .unwrap();
        assert!(list.allows(&ws("poolbroker-demo", "mlw")));
        assert!(list.allows(&ws("PoolBroker-Demo", "mlw2")));
        assert!(
            !list.allows(&ws("poolbroker-demo2", "mlw")),
            "rg prefix must not match a longer rg name"
        );
        assert!(!list.allows(&ws("other", "mlw")));
        let other_sub =
            WorkspaceId::new("00000000-0000-0000-0000-0000000000FF", "any", "mlw").unwrap();
        assert!(list.allows(&other_sub));
    }

    #[test]
    fn whole_workspace_entry_and_star_and_empty() {
        let exact = ScopeAllowList::parse(&ws("rg", "mlw").arm_id()).unwrap();
        assert!(exact.allows(&ws("rg", "mlw")));
        assert!(!exact.allows(&ws("rg", "mlw2")));
        assert!(ScopeAllowList::parse("*").unwrap().allows(&ws("rg", "mlw")));
        let empty = ScopeAllowList::parse(" , ").unwrap();
        assert!(empty.is_empty());
        assert!(!empty.allows(&ws("rg", "mlw")));
    }

    #[test]
    fn referenced_ids_must_be_in_an_allowed_resource_group() {
        let ws_entry = ScopeAllowList::parse(&ws("rg", "mlw").arm_id()).unwrap();
        let pool = format!(
            "/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Synapse/workspaces/s/bigDataPools/p"
        );
        assert!(ws_entry.allows_referenced(&pool), "same resource group");
        assert!(!ws_entry.allows_referenced(&pool.replace("/RG/", "/rg2/")));
        assert!(
            !ws_entry.allows_referenced(&pool.replace(SUB, "00000000-0000-0000-0000-000000000009"))
        );
        assert!(
            !ws_entry
                .allows_referenced(&format!("/subscriptions/{SUB}/resourceGroups/rg/../other"))
        );
        assert!(
            !ws_entry.allows(&ws("rg", "mlw2")),
            "workspaces still match whole entries"
        );
        let sub_entry = ScopeAllowList::parse(&format!("/subscriptions/{SUB}")).unwrap();
        assert!(sub_entry.allows_referenced(&pool.replace("/RG/", "/rg2/")));
        assert!(
            ScopeAllowList::parse("*")
                .unwrap()
                .allows_referenced("/subscriptions/x")
        );
    }

    #[test]
    fn bad_entries_are_rejected_with_shape() {
        let e = ScopeAllowList::parse("subscriptions/x").unwrap_err();
        assert!(e.to_string().contains("does not start with '/'"), "{e}");
        assert!(
            ScopeAllowList::parse("/resourceGroups/rg")
                .unwrap_err()
                .problem
                .contains("must start with /subscriptions")
        );
        assert!(ScopeAllowList::parse("/subscriptions").is_err());
        assert!(
            ScopeAllowList::parse("/subscriptions//x")
                .unwrap_err()
                .problem
                .contains("empty segment")
        );
    }
}
