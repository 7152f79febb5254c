//! The pure domain of poolbroker: commands parsed from the wire, validated ids, identity specs,
//! attached-pool state, ARM request bodies and `az ml` output shapes. No I/O lives here.

mod arm_id;
mod arm_resource;
mod compute_name;
mod error_code;
mod field_error;
mod reader;
mod resource_ids;
mod scope;
mod workspace_id;

pub use arm_id::ArmIdError;
pub use arm_resource::{
    ComputeProperties, ComputeResource, JobProperties, JobResource, OperationStatus,
    TrackedResource, Unmodelled, to_json,
};
pub use compute_name::{ComputeName, ComputeNameError};
pub use error_code::ErrorCode;
pub use field_error::FieldError;
pub use resource_ids::{SynapsePoolId, SynapseWorkspaceId, UserAssignedIdentityId};
pub use scope::ScopeAllowList;
pub use workspace_id::WorkspaceId;

mod identity;
pub use identity::{IdentityError, IdentitySpec, IdentityType, UaiList};

mod tags;
mod ttl;
pub use tags::{
    EXPIRES_AT_TAG, KEEP_TAG, MANAGED_TAG, RESERVED_TAG_PREFIX, Tags, WORKLOAD_TAG, tag_is_true,
    tag_value,
};
pub use ttl::{Ttl, TtlError, format_duration, format_utc_seconds, parse_expires_at};

mod command;
mod session_key;
pub use session_key::session_id_of;
pub mod spark;
mod specs;
pub use command::{
    API_VERSION, Command, CommandError, ENVELOPE_FIELDS, Envelope, MAX_BODY_BYTES, SENDER_KINDS,
    parse_command,
};
pub use specs::attach_pool::{AttachLinkedPoolSpec, AttachPoolSpec, SYNAPSE_SPARK};
pub use specs::await_operation::{
    AwaitOperation, EncodeError, GrantAfter, OperationKind, OperationRef, PendingAction, ReplyRoute,
};
pub use specs::detach_pool::DetachPoolSpec;
pub use specs::list_pools::ListPoolsSpec;
pub use specs::show_pool::ShowPoolSpec;
pub use specs::spark_job::RawSpec;
pub use specs::track_job::TrackSparkJob;
pub use specs::update_identity::UpdatePoolIdentitySpec;

#[cfg(test)]
mod command_tests;

mod pool;
pub use pool::{
    AssignedIdentity, AttachedPool, AutoPause, AutoScale, PoolIdentity, PoolParseError,
};

pub mod doctor;
pub mod linked_service;
pub mod migration;
pub mod synapse_rbac;
pub use linked_service::{LINKED_SERVICES_API_VERSION, LinkedService, LinkedServiceName};
pub use specs::check_pool::CheckPoolSpec;
pub use specs::linked_services::{LinkedServiceRef, RegisterLinkedServiceSpec};
pub use specs::pool_access::PoolAccessSpec;

mod arm_body;
mod az_output;
pub use arm_body::{attach_is_noop, compute_put_body, identity_matches, update_identity_body};
pub use az_output::az_ml_output;

#[cfg(test)]
mod pool_tests;

#[cfg(test)]
mod examples_tests;
