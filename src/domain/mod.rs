//! The pure domain of poolbroker: commands parsed from the wire, validated ids, identity specs,
//! attached-pool state, ARM request bodies and `az ml` output shapes. No I/O lives here.

mod arm_id;
mod compute_name;
mod field_error;
mod reader;
mod resource_ids;
mod scope;
mod workspace_id;

pub use arm_id::ArmIdError;
pub use compute_name::{ComputeName, ComputeNameError};
pub use field_error::FieldError;
pub use resource_ids::{SynapsePoolId, UserAssignedIdentityId};
pub use scope::ScopeAllowList;
pub use workspace_id::WorkspaceId;
