//! ARM resource ids. ARM compares ids case-insensitively, so every map in the emulator is keyed by
//! the lower-cased id while responses keep the caller's spelling.

use uuid::Uuid;

/// Splits an id or path into its non-empty segments.
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Matches `segments` against a pattern: `Some(lit)` must equal (ignoring case), `None` captures.
pub fn capture<'a>(segs: &[&'a str], pattern: &[Option<&str>]) -> Option<Vec<&'a str>> {
    if segs.len() != pattern.len() {
        return None;
    }
    let mut out = Vec::new();
    for (seg, pat) in segs.iter().zip(pattern) {
        match pat {
            Some(lit) if !seg.eq_ignore_ascii_case(lit) => return None,
            Some(_) => {}
            None => out.push(*seg),
        }
    }
    Some(out)
}

pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

pub fn workspace_id(sub: &str, rg: &str, ws: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
    )
}

pub fn rg_key(sub: &str, rg: &str) -> String {
    format!("{}/{}", sub.to_ascii_lowercase(), rg.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolId {
    pub subscription: String,
    pub resource_group: String,
    pub workspace: String,
    pub pool: String,
}

impl PoolId {
    pub fn parse(id: &str) -> Option<Self> {
        let segs = segments(id);
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
                Some("bigDataPools"),
                None,
            ],
        )?;
        Some(Self {
            subscription: c[0].to_owned(),
            resource_group: c[1].to_owned(),
            workspace: c[2].to_owned(),
            pool: c[3].to_owned(),
        })
    }

    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Synapse/workspaces/{}/bigDataPools/{}",
            self.subscription, self.resource_group, self.workspace, self.pool
        )
    }
}

/// Whether an id names a Synapse big-data pool at all, whatever its shape otherwise.
pub fn looks_like_pool(id: &str) -> bool {
    id.to_ascii_lowercase().contains("/bigdatapools/")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeId {
    pub subscription: String,
    pub resource_group: String,
    pub workspace: String,
    pub name: String,
}

impl ComputeId {
    pub fn parse(id: &str) -> Option<Self> {
        let segs = segments(id);
        let c = capture(
            &segs,
            &[
                Some("subscriptions"),
                None,
                Some("resourceGroups"),
                None,
                Some("providers"),
                Some("Microsoft.MachineLearningServices"),
                Some("workspaces"),
                None,
                Some("computes"),
                None,
            ],
        )?;
        Some(Self {
            subscription: c[0].to_owned(),
            resource_group: c[1].to_owned(),
            workspace: c[2].to_owned(),
            name: c[3].to_owned(),
        })
    }

    pub fn workspace_id(&self) -> String {
        workspace_id(&self.subscription, &self.resource_group, &self.workspace)
    }
}

/// Parses a user-assigned identity id; returns `None` unless it has the exact ARM shape.
pub fn parse_uai(id: &str) -> Option<(String, String, String)> {
    let segs = segments(id);
    if !id.starts_with('/') {
        return None;
    }
    let c = capture(
        &segs,
        &[
            Some("subscriptions"),
            None,
            Some("resourceGroups"),
            None,
            Some("providers"),
            Some("Microsoft.ManagedIdentity"),
            Some("userAssignedIdentities"),
            None,
        ],
    )?;
    Some((c[0].to_owned(), c[1].to_owned(), c[2].to_owned()))
}

pub fn uai_id(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

/// The principal (object) id of a user-assigned identity. A UAI is one real directory object, so
/// the same id yields the same principal everywhere: uuid v5 (URL namespace) of
/// `"<lower-cased id>#principalId"`.
pub fn uai_principal_id(uai_id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("{}#principalId", key(uai_id)).as_bytes(),
    )
}

/// The client (application) id of a user-assigned identity: uuid v5 (URL namespace) of
/// `"<lower-cased id>#clientId"`.
pub fn uai_client_id(uai_id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("{}#clientId", key(uai_id)).as_bytes(),
    )
}

/// The REST spec's compute name rule: 3–24 chars, starts with a letter, letters/digits/hyphens,
/// and must not end in `-<digits>`.
pub fn valid_compute_name(name: &str) -> bool {
    let len = name.chars().count();
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let charset_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let without_digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let dash_digits_tail = without_digits.len() < name.len() && without_digits.ends_with('-');
    (3..=24).contains(&len) && starts_with_letter && charset_ok && !dash_digits_tail
}

/// Job names: `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$`.
pub fn valid_job_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Asset (code, environment) names: `^[a-zA-Z0-9_][a-zA-Z0-9\-_.]{0,254}$`.
pub fn valid_asset_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_names_follow_the_spec_pattern() {
        for ok in ["abc", "spark-pool", "pool1", "a-b-c1", "Abc-12x"] {
            assert!(valid_compute_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "1abc",
            "pool-1",
            "spark_pool",
            "a23456789012345678901234x",
            "x-",
        ] {
            assert!(!valid_compute_name(bad), "{bad}");
        }
        assert!(
            valid_compute_name("abc-"),
            "trailing dash without digits is allowed by the pattern"
        );
    }

    #[test]
    fn uai_ids_are_stable_and_case_insensitive() {
        let a = uai_id("S", "RG", "uai1");
        let b = a.to_ascii_lowercase();
        assert_eq!(uai_client_id(&a), uai_client_id(&b));
        assert_ne!(uai_client_id(&a), uai_principal_id(&a));
        assert!(parse_uai(&b).is_some());
        assert!(
            parse_uai("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Other/x/y").is_none()
        );
    }
}
