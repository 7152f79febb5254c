//! A local stand-in for the Synapse data-plane access-control API
//! (`https://{workspace}.dev.azuresynapse.net`, api-version 2020-12-01): built-in role
//! definitions, role assignments (PUT with a client-chosen id, GET, DELETE, list with
//! `x-ms-continuation` paging) and its `{"error": {code, message}}` shape.
//!
//! One emulator serves every Synapse workspace: the workspace is the first part of each
//! assignment's `scope` (`workspaces/{name}/…`), where Azure would take it from the host name.
//! Bearer tokens are checked by a [`TokenAuthority`] the embedder supplies (the process that
//! issues them), and only the `https://dev.azuresynapse.net` audience is accepted.
//!
//! Verified against Azure's spec and recorded answers (Azure SDK for JS test recordings, the
//! 2020-12-01 `roleAssignments.json`): paths and api-version, `PUT /roleAssignments/{id}` with
//! `{roleId, principalId, scope, principalType?}` answering the assignment, the list shape
//! `{count, value}` with an empty `x-ms-continuation` on the last page, `GET /roleDefinitions` as a
//! bare array, the built-in ids of Synapse Administrator, Contributor, Compute Operator and User,
//! the `{"error": {code, message}}` shape. Not verified (written as the Azure CLI expects, or
//! guessed): the Spark Administrator role id, the exact code and wording of the 409 for a duplicate
//! (the CLI looks for "role assignment already exists"), of the 403 for a caller without
//! permission, and of 400s; real continuation tokens are opaque, here they are `page-{n}`; and the
//! service decides 403 by the caller's own Synapse roles, where the emulator has a per-workspace
//! switch (`forbid_role_writes`).

mod assignments;
mod auth;
mod control;
mod error;
mod roles;
mod state;

pub use auth::{JwtAuthority, SYNAPSE_AUDIENCE, TokenAuthority, TokenInfo};
pub use roles::{BUILT_IN_ROLES, BuiltInRole, SYNAPSE_ADMINISTRATOR, SYNAPSE_SPARK_ADMINISTRATOR};
pub use state::{RoleAssignment, SynapseConfig, SynapseState};

use std::future::Future;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

/// The api-version this emulator speaks (the stable access-control version).
pub const API_VERSION: &str = "2020-12-01";

/// The whole emulator as one router: the data-plane routes and `/_emulator/…` control routes.
pub fn router(state: SynapseState) -> Router {
    Router::new()
        .route("/roleDefinitions", get(roles::list))
        .route("/roleAssignments", get(assignments::list))
        .route(
            "/roleAssignments/{id}",
            get(assignments::get)
                .put(assignments::put)
                .delete(assignments::delete),
        )
        .merge(control::routes())
        .fallback(error::no_route)
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: SynapseState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
