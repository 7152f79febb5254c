//! `AttachPool`: exactly the `az ml compute attach --file` YAML for `type: synapsespark`, plus `ttl`,
//! `grant_synapse_access`, and SDK v1's `linked_service` + `pool_name` in place of `resource_id`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::compute_name;
use super::linked_services::link_name;
use crate::domain::arm_id::{ArmIdError, check_big_data_pool};
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::identity::{IdentitySpec, parse_identity};
use crate::domain::linked_service::LinkedServiceName;
use crate::domain::reader::Fields;
use crate::domain::resource_ids::{SynapsePoolId, SynapseWorkspaceId};
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
    "linked_service",
    "pool_name",
    "grant_synapse_access",
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
    /// Make sure the compute's identities hold Synapse Administrator on the pool once attached
    /// (default on; `grant_synapse_access: false` turns it off).
    pub grant_synapse_access: bool,
}

/// `AttachPool` through an SDK v1 linked service: `linked_service` + `pool_name` instead of
/// `resource_id`, resolved by the engine to `{linkedServiceResourceId}/bigDataPools/{pool_name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachLinkedPoolSpec {
    pub linked_service: LinkedServiceName,
    pub pool_name: String,
    /// Everything else; its `resource_id` is filled in by [`AttachLinkedPoolSpec::resolve`].
    pub name: ComputeName,
    pub identity: Option<IdentitySpec>,
    pub tags: Tags,
    pub description: Option<String>,
    pub ttl: Option<Ttl>,
    pub grant_synapse_access: bool,
}

impl AttachLinkedPoolSpec {
    /// The plain attach, once the link's Synapse workspace is known.
    pub fn resolve(&self, workspace: &SynapseWorkspaceId) -> Result<AttachPoolSpec, ArmIdError> {
        Ok(AttachPoolSpec {
            name: self.name.clone(),
            resource_id: workspace.pool(&self.pool_name)?,
            identity: self.identity.clone(),
            tags: self.tags.clone(),
            description: self.description.clone(),
            ttl: self.ttl,
            grant_synapse_access: self.grant_synapse_access,
        })
    }

    pub fn to_spec_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name.as_str()));
        m.insert("type".into(), json!(SYNAPSE_SPARK));
        m.insert("linked_service".into(), json!(self.linked_service.as_str()));
        m.insert("pool_name".into(), json!(self.pool_name));
        optional_fields(
            &mut m,
            self.identity.as_ref(),
            &self.tags,
            self.description.as_deref(),
            self.ttl,
            self.grant_synapse_access,
        );
        Value::Object(m)
    }
}

/// What `parse` read: a plain attach, or one through a linked service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedAttach {
    Direct(AttachPoolSpec),
    Linked(AttachLinkedPoolSpec),
}

fn optional_fields(
    m: &mut Map<String, Value>,
    identity: Option<&IdentitySpec>,
    tags: &Tags,
    description: Option<&str>,
    ttl: Option<Ttl>,
    grant: bool,
) {
    if let Some(identity) = identity {
        m.insert("identity".into(), identity.to_az_yaml());
    }
    if !tags.is_empty() {
        m.insert("tags".into(), json!(tags));
    }
    if let Some(d) = description {
        m.insert("description".into(), json!(d));
    }
    if let Some(ttl) = ttl {
        m.insert("ttl".into(), json!(ttl.to_string()));
    }
    if !grant {
        m.insert("grant_synapse_access".into(), json!(false));
    }
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
        optional_fields(
            &mut m,
            self.identity.as_ref(),
            &self.tags,
            self.description.as_deref(),
            self.ttl,
            self.grant_synapse_access,
        );
        Value::Object(m)
    }
}

pub(crate) fn parse(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
    notes: &mut Vec<String>,
) -> Option<ParsedAttach> {
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
    let source = pool_source(&f, errs);
    let grant_synapse_access = match f.get("grant_synapse_access") {
        None => Some(true),
        Some(_) => f.optional_bool("grant_synapse_access", errs),
    };
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
    let (name, identity, tags, grant_synapse_access) =
        (name?, identity?, tags?, grant_synapse_access?);
    Some(match source? {
        PoolSource::ResourceId(resource_id) => ParsedAttach::Direct(AttachPoolSpec {
            name,
            resource_id,
            identity,
            tags,
            description,
            ttl,
            grant_synapse_access,
        }),
        PoolSource::Linked {
            linked_service,
            pool_name,
        } => ParsedAttach::Linked(AttachLinkedPoolSpec {
            linked_service,
            pool_name,
            name,
            identity,
            tags,
            description,
            ttl,
            grant_synapse_access,
        }),
    })
}

enum PoolSource {
    ResourceId(SynapsePoolId),
    Linked {
        linked_service: LinkedServiceName,
        pool_name: String,
    },
}

/// `resource_id`, or `linked_service` + `pool_name` (SDK v1's `attach_configuration`), not both.
fn pool_source(f: &Fields<'_>, errs: &mut FieldErrors) -> Option<PoolSource> {
    let linked = f.contains("linked_service") || f.contains("pool_name");
    if linked && f.contains("resource_id") {
        errs.push(
            f.path("resource_id"),
            "give either resource_id or linked_service + pool_name, not both",
        );
        return None;
    }
    if !linked {
        let s = f.required_str("resource_id", errs)?;
        return SynapsePoolId::parse(s)
            .map(PoolSource::ResourceId)
            .map_err(|e| errs.push(f.path("resource_id"), e.to_string()))
            .ok();
    }
    let linked_service = link_name(f, "linked_service", errs);
    let pool_name = f.required_str("pool_name", errs).and_then(|p| {
        check_big_data_pool(p)
            .map_err(|why| {
                errs.push(
                    f.path("pool_name"),
                    format!("Spark pool name {} is invalid: {why}", quote(p)),
                )
            })
            .ok()
            .map(|()| p.to_owned())
    });
    Some(PoolSource::Linked {
        linked_service: linked_service?,
        pool_name: pool_name?,
    })
}
