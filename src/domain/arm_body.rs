//! ARM request bodies for attach / identity update, as azure-ai-ml builds them: top-level `location`, `identity`, `tags`, and only
//! `properties.{computeType, resourceId, description}` — never `properties.properties`.

use serde_json::Value;

use super::arm_resource::{ComputeProperties, ComputeResource};

use super::identity::{IdentitySpec, IdentityType};
use super::pool::{AttachedPool, PoolIdentity};
use super::specs::attach_pool::AttachPoolSpec;
use super::tags::Tags;

/// PUT body for `Compute_CreateOrUpdate`. `location` must be the workspace's location (az ml
/// overrides any other); `extra_tags` (e.g. the TTL expiry from [`AttachPoolSpec::tags_at`])
/// are added after the user's tags and win on conflict.
pub fn compute_put_body(
    spec: &AttachPoolSpec,
    location: &str,
    extra_tags: &Tags,
) -> ComputeResource {
    let mut tags = spec.tags.clone();
    for (k, v) in extra_tags {
        tags.insert(k.clone(), v.clone());
    }
    put_body(
        Some(location),
        spec.identity.as_ref().map(IdentitySpec::to_arm),
        &tags,
        "SynapseSpark",
        Some(spec.resource_id.as_str()),
        spec.description.as_deref(),
    )
}

/// Full PUT from the current state with a new identity, as `az ml compute update` does (it starts
/// from `show`): tags, description, resource id and location are kept.
pub fn update_identity_body(current: &AttachedPool, identity: &IdentitySpec) -> ComputeResource {
    put_body(
        current.location.as_deref(),
        Some(identity.to_arm()),
        &current.tags,
        &current.compute_type,
        current.resource_id.as_deref(),
        current.description.as_deref(),
    )
}

fn put_body(
    location: Option<&str>,
    identity: Option<Value>,
    tags: &Tags,
    compute_type: &str,
    resource_id: Option<&str>,
    description: Option<&str>,
) -> ComputeResource {
    ComputeResource {
        location: location.map(str::to_owned),
        identity,
        // Always sent: PUT replaces the resource, so `{}` is how tags get cleared.
        tags: Some(tags.clone()),
        properties: Some(ComputeProperties {
            compute_type: Some(compute_type.to_owned()),
            resource_id: resource_id.map(str::to_owned),
            description: description.map(str::to_owned),
            ..ComputeProperties::default()
        }),
        ..ComputeResource::default()
    }
}

/// Does the current identity already match? Same type and the same UAIs in the same order
/// (ids compared case-insensitively); a missing identity counts as `None`.
pub fn identity_matches(desired: Option<&IdentitySpec>, current: Option<&PoolIdentity>) -> bool {
    let desired_type = desired.map_or(IdentityType::None, IdentitySpec::identity_type);
    let current_type = current.map_or(IdentityType::None, |c| c.identity_type);
    if desired_type != current_type {
        return false;
    }
    let want = desired.map(IdentitySpec::user_assigned).unwrap_or_default();
    let have = current
        .map(|c| c.user_assigned.as_slice())
        .unwrap_or_default();
    want.len() == have.len() && want.iter().zip(have).all(|(w, h)| *w == h.resource_id)
}

/// True when re-attaching would change nothing, so no PUT is needed. An attach with a `ttl`
/// is never a no-op: it moves the expiry. Tag order is not significant; tag values are compared
/// exactly, as is the description.
pub fn attach_is_noop(desired: &AttachPoolSpec, current: &AttachedPool) -> bool {
    let same_resource = current
        .resource_id
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case(desired.resource_id.as_str()));
    let same_tags = desired.tags.len() == current.tags.len()
        && desired
            .tags
            .iter()
            .all(|(k, v)| current.tags.get(k) == Some(v));
    desired.ttl.is_none()
        && same_resource
        && same_tags
        && desired.description == current.description
        && current.is_synapse_spark()
        && identity_matches(desired.identity.as_ref(), current.identity.as_ref())
}
