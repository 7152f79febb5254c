//! The Synapse data-plane access-control client (`https://{workspace}.dev.azuresynapse.net`,
//! api-version 2020-12-01): role definitions and role assignments. It shares the process's HTTP
//! client, the broker's credential (asking for the `https://dev.azuresynapse.net` audience) and
//! ARM's retry policy; typed models in, typed models out.

mod client;
mod error;
mod models;
mod options;

pub use client::{Created, SynapseClient};
pub use error::SynapseError;
pub use models::{RoleAssignment, RoleAssignmentFilter, RoleDefinition};
pub use options::{
    ENV_SYNAPSE_ENDPOINT, SYNAPSE_API_VERSION, SYNAPSE_SCOPE, SynapseOptions, SynapseOptionsError,
};
