//! `AttachPool`: exactly the `az ml compute attach --file` YAML for `type: synapsespark`, plus `ttl`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::identity::{IdentitySpec, parse_identity};
use crate::domain::reader::Fields;
use crate::domain::resource_ids::SynapsePoolId;
use crate::domain::tags::{Tags, parse_tags};
use crate::domain::ttl::Ttl;

/// The az-ml compute type this spec describes.
pub const SYNAPSE_SPARK: &str = "synapsespark";

const FIELDS: &[&str] = &[
    "$schema",
    "name",
    "type",
    "resource_id",
    "identity",
    "tags",
    "description",
    "location",
    "ttl",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachPoolSpec {
    pub name: ComputeName,
    pub resource_id: SynapsePoolId,
    /// `None` = no `identity` key: azure-ai-ml then sends no identity at all.
    pub identity: Option<IdentitySpec>,
    pub tags: Tags,
    pub description: Option<String>,
    pub ttl: Option<Ttl>,
}

impl AttachPoolSpec {
    /// The tags to PUT: the user's, then the expiry tag when a `ttl` is set.
    pub fn tags_at(&self, now: OffsetDateTime) -> Tags {
        let mut tags = self.tags.clone();
        if let Some(ttl) = self.ttl {
            let (k, v) = ttl.expiry_tag(now);
            tags.insert(k, v);
        }
        tags
    }

    /// The az-ml YAML shape (as JSON), the inverse of parsing.
    pub fn to_spec_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name.as_str()));
        m.insert("type".into(), json!(SYNAPSE_SPARK));
        m.insert("resource_id".into(), json!(self.resource_id.as_str()));
        if let Some(identity) = &self.identity {
            m.insert("identity".into(), identity.to_az_yaml());
        }
        if !self.tags.is_empty() {
            m.insert("tags".into(), json!(self.tags));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(ttl) = self.ttl {
            m.insert("ttl".into(), json!(ttl.to_string()));
        }
        Value::Object(m)
    }
}

pub(crate) fn parse(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
    notes: &mut Vec<String>,
) -> Option<AttachPoolSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(FIELDS, errs);
    let name = compute_name(&f, "name", errs);
    let type_ok = match f.required_str("type", errs) {
        Some(t) if t.eq_ignore_ascii_case(SYNAPSE_SPARK) => true,
        Some(t) => {
            errs.push(
                f.path("type"),
                format!(
                    "poolbroker attaches only Synapse Spark pools: expected 'synapsespark', got {}",
                    quote(t)
                ),
            );
            false
        }
        None => false,
    };
    let resource_id =
        f.required_str("resource_id", errs)
            .and_then(|s| match SynapsePoolId::parse(s) {
                Ok(id) => Some(id),
                Err(e) => {
                    errs.push(f.path("resource_id"), e.to_string());
                    None
                }
            });
    // Outer None = invalid (already reported); inner None = no identity key.
    let identity = match f.get("identity") {
        Some(v) => parse_identity(v, &f.path("identity"), errs).map(Some),
        None => Some(None),
    };
    let tags = match f.get("tags") {
        Some(v) => parse_tags(v, &f.path("tags"), errs),
        None => Some(Tags::new()),
    };
    let description = f.optional_str("description", errs).map(str::to_owned);
    let ttl = f
        .optional_str("ttl", errs)
        .and_then(|s| match Ttl::parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                errs.push(f.path("ttl"), e.to_string());
                None
            }
        });
    if let Some(loc) = f.optional_str("location", errs) {
        notes.push(format!(
            "{}: {} ignored; az ml attaches computes in the workspace's location",
            f.path("location"),
            quote(loc)
        ));
    }
    let invalid_optional = (f.contains("ttl") && ttl.is_none())
        || (f.contains("description") && description.is_none());
    if invalid_optional || !type_ok {
        return None;
    }
    Some(AttachPoolSpec {
        name: name?,
        resource_id: resource_id?,
        identity: identity?,
        tags: tags?,
        description,
        ttl,
    })
}
