//! An attached compute as ARM returns it (`ComputeResource`, reference §1.2), read tolerantly:
//! only `name`, `id` and `properties.computeType` are required.

use serde_json::Value;
use time::{
    OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::well_known::Rfc3339,
    macros::format_description,
};

use super::field_error::{FieldError, FieldErrors, index, join, quote};
use super::identity::IdentityType;
use super::reader::{Fields, type_name};
use super::resource_ids::UserAssignedIdentityId;
use super::tags::{EXPIRES_AT_TAG, Tags};
use super::ttl::parse_expires_at;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedIdentity {
    pub resource_id: UserAssignedIdentityId,
    pub client_id: Option<String>,
    pub principal_id: Option<String>,
}

/// The identity a compute has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolIdentity {
    pub identity_type: IdentityType,
    /// System-assigned identity, when there is one.
    pub principal_id: Option<String>,
    pub tenant_id: Option<String>,
    /// In the order the service returned them (the first one submits jobs by default).
    pub user_assigned: Vec<AssignedIdentity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoScale {
    pub enabled: Option<bool>,
    pub min_node_count: Option<i64>,
    pub max_node_count: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoPause {
    pub enabled: Option<bool>,
    pub delay_in_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPool {
    pub name: String,
    pub id: String,
    pub location: Option<String>,
    pub tags: Tags,
    pub description: Option<String>,
    /// `properties.resourceId` as returned (ARM ids compare case-insensitively).
    pub resource_id: Option<String>,
    pub provisioning_state: Option<String>,
    /// `properties.provisioningErrors[0].error.code`, as azure-ai-ml reports it.
    pub provisioning_error: Option<String>,
    pub identity: Option<PoolIdentity>,
    pub created_on: Option<OffsetDateTime>,
    pub node_count: Option<i64>,
    pub node_size: Option<String>,
    pub node_size_family: Option<String>,
    pub spark_version: Option<String>,
    pub auto_scale: Option<AutoScale>,
    pub auto_pause: Option<AutoPause>,
    /// ARM spelling, e.g. `SynapseSpark`.
    pub compute_type: String,
}

/// The ARM JSON did not have the shape of a compute resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected compute resource from ARM: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PoolParseError(pub Vec<FieldError>);

impl AttachedPool {
    /// The compute as the ARM client returned it, read field by field with the rules below.
    pub fn from_resource(resource: &super::ComputeResource) -> Result<Self, PoolParseError> {
        Self::from_arm(&super::to_json(resource))
    }

    pub fn from_arm(value: &Value) -> Result<Self, PoolParseError> {
        let mut errs = FieldErrors::default();
        match parse(value, &mut errs) {
            Some(p) if errs.is_empty() => Ok(p),
            _ => Err(PoolParseError(errs.into_vec())),
        }
    }

    pub fn is_synapse_spark(&self) -> bool {
        self.compute_type.eq_ignore_ascii_case("SynapseSpark")
    }

    /// The resource group of the workspace, from `id` (what `az` prints as `resourceGroup`).
    pub fn workspace_resource_group(&self) -> Option<&str> {
        let mut segs = self.id.split('/');
        segs.by_ref()
            .find(|s| s.eq_ignore_ascii_case("resourceGroups"))?;
        segs.next().filter(|s| !s.is_empty())
    }

    /// The TTL expiry written by poolbroker, if present and readable.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.tags
            .get(EXPIRES_AT_TAG)
            .and_then(|v| parse_expires_at(v))
    }
}

fn opt_string(f: &Fields<'_>, key: &str, errs: &mut FieldErrors) -> Option<String> {
    f.optional_str(key, errs).map(str::to_owned)
}

fn opt_int(f: &Fields<'_>, key: &str, errs: &mut FieldErrors) -> Option<i64> {
    let v = f.get(key)?;
    let n = v.as_i64();
    if n.is_none() {
        errs.push(
            f.path(key),
            format!("expected a whole number, got {}", type_name(v)),
        );
    }
    n
}

fn parse(value: &Value, errs: &mut FieldErrors) -> Option<AttachedPool> {
    let f = Fields::of(value, "", errs)?;
    let name = f.required_str("name", errs).map(str::to_owned);
    let id = f.required_str("id", errs).map(str::to_owned);
    let location = opt_string(&f, "location", errs);
    let tags = match f.get("tags") {
        None => Tags::new(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                other => {
                    errs.push(
                        join("tags", k),
                        format!("expected a string, got {}", type_name(other)),
                    );
                    None
                }
            })
            .collect(),
        Some(other) => {
            errs.push(
                "tags",
                format!("expected an object, got {}", type_name(other)),
            );
            Tags::new()
        }
    };
    let identity = f.get("identity").and_then(|v| parse_identity(v, errs));
    let props = f
        .required("properties", errs)
        .and_then(|v| Fields::of(v, "properties", errs));
    // Read everything before bailing out so that every problem is reported.
    let details = props.as_ref().and_then(|p| parse_properties(p, errs));
    let (compute_type, mut pool) = details?;
    pool.name = name?;
    pool.id = id?;
    pool.location = location;
    pool.tags = tags;
    pool.identity = identity;
    pool.compute_type = compute_type;
    Some(pool)
}

fn parse_properties(props: &Fields<'_>, errs: &mut FieldErrors) -> Option<(String, AttachedPool)> {
    let compute_type = props.required_str("computeType", errs).map(str::to_owned);
    let mut pool = AttachedPool {
        name: String::new(),
        id: String::new(),
        location: None,
        tags: Tags::new(),
        description: opt_string(props, "description", errs),
        resource_id: opt_string(props, "resourceId", errs),
        provisioning_state: opt_string(props, "provisioningState", errs),
        provisioning_error: props
            .get("provisioningErrors")
            .and_then(|v| v.pointer("/0/error/code"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        identity: None,
        created_on: props.optional_str("createdOn", errs).and_then(|s| {
            let t = parse_arm_datetime(s);
            if t.is_none() {
                errs.push(
                    "properties.createdOn",
                    format!("expected an ISO 8601 date-time, got {}", quote(s)),
                );
            }
            t
        }),
        node_count: None,
        node_size: None,
        node_size_family: None,
        spark_version: None,
        auto_scale: None,
        auto_pause: None,
        compute_type: String::new(),
    };
    if let Some(inner) = props
        .get("properties")
        .and_then(|v| Fields::of(v, "properties.properties", errs))
    {
        pool.node_count = opt_int(&inner, "nodeCount", errs);
        pool.node_size = opt_string(&inner, "nodeSize", errs);
        pool.node_size_family = opt_string(&inner, "nodeSizeFamily", errs);
        pool.spark_version = opt_string(&inner, "sparkVersion", errs);
        pool.auto_scale = inner.get("autoScaleProperties").and_then(|v| {
            let s = Fields::of(v, &inner.path("autoScaleProperties"), errs)?;
            Some(AutoScale {
                enabled: s.optional_bool("enabled", errs),
                min_node_count: opt_int(&s, "minNodeCount", errs),
                max_node_count: opt_int(&s, "maxNodeCount", errs),
            })
        });
        pool.auto_pause = inner.get("autoPauseProperties").and_then(|v| {
            let s = Fields::of(v, &inner.path("autoPauseProperties"), errs)?;
            Some(AutoPause {
                enabled: s.optional_bool("enabled", errs),
                delay_in_minutes: opt_int(&s, "delayInMinutes", errs),
            })
        });
    }
    Some((compute_type?, pool))
}

fn parse_identity(value: &Value, errs: &mut FieldErrors) -> Option<PoolIdentity> {
    let f = Fields::of(value, "identity", errs)?;
    let ty_str = f.required_str("type", errs)?;
    let Some(identity_type) = IdentityType::parse(ty_str) else {
        errs.push(
            "identity.type",
            format!("unknown identity type {}", quote(ty_str)),
        );
        return None;
    };
    let mut user_assigned = Vec::new();
    match f.get("userAssignedIdentities") {
        None => {}
        Some(Value::Object(map)) => {
            for (i, (key, v)) in map.iter().enumerate() {
                let path = index("identity.userAssignedIdentities", i);
                let resource_id = match UserAssignedIdentityId::parse(key) {
                    Ok(id) => id,
                    Err(e) => {
                        errs.push(path, e.to_string());
                        continue;
                    }
                };
                let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
                user_assigned.push(AssignedIdentity {
                    resource_id,
                    client_id: field("clientId"),
                    principal_id: field("principalId"),
                });
            }
        }
        Some(other) => errs.push(
            "identity.userAssignedIdentities",
            format!(
                "expected an object keyed by identity id, got {}",
                type_name(other)
            ),
        ),
    }
    Some(PoolIdentity {
        identity_type,
        principal_id: opt_string(&f, "principalId", errs),
        tenant_id: opt_string(&f, "tenantId", errs),
        user_assigned,
    })
}

/// ARM writes `2025-12-01T10:00:00.0000000+00:00` (7 fraction digits) and sometimes no offset.
pub(crate) fn parse_arm_datetime(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(s, naive)
        .ok()
        .map(|p| p.assume_offset(UtcOffset::UTC))
}
