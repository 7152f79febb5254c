//! The emulator's world: role assignments per workspace, and switches tests use to make the
//! service refuse the way Azure does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;
use indexmap::IndexMap;
use serde::Serialize;

use crate::auth::{self, TokenAuthority};
use crate::error::ApiError;

/// Knobs for one emulator.
#[derive(Clone)]
pub struct SynapseConfig {
    /// Role assignments per list page; the rest is reached through `x-ms-continuation`.
    pub page_size: usize,
    /// `None`: any caller is accepted (unit tests of the emulator itself).
    pub tokens: Option<Arc<dyn TokenAuthority>>,
}

impl Default for SynapseConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            tokens: None,
        }
    }
}

/// One role assignment, as `RoleAssignmentDetails` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Data {
    /// Lower-cased id → assignment, in creation order.
    pub assignments: IndexMap<String, RoleAssignment>,
    /// Workspaces (lower-cased) where the caller may not assign roles: Azure answers 403.
    pub writes_forbidden: HashSet<String>,
}

/// Cheap to clone; clones share one world.
#[derive(Clone)]
pub struct SynapseState {
    pub(crate) config: SynapseConfig,
    pub(crate) data: Arc<Mutex<Data>>,
}

impl SynapseState {
    pub fn new(config: SynapseConfig) -> Self {
        Self {
            config,
            data: Arc::new(Mutex::new(Data::default())),
        }
    }

    /// A poisoned lock only means a handler panicked; every handler re-establishes the data.
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        query: &[(String, String)],
    ) -> Result<(), ApiError> {
        auth::check(self.config.tokens.as_ref(), headers)?;
        auth::api_version(query)
    }

    /// Every assignment, oldest first.
    pub fn assignments(&self) -> Vec<RoleAssignment> {
        self.data().assignments.values().cloned().collect()
    }

    /// Adds an assignment directly (a grant made by someone else, e.g. in Synapse Studio).
    pub fn add_assignment(&self, role_id: &str, principal_id: &str, scope: &str) -> RoleAssignment {
        let a = RoleAssignment {
            id: uuid::Uuid::new_v4().to_string(),
            role_definition_id: role_id.to_owned(),
            principal_id: principal_id.to_owned(),
            scope: scope.to_owned(),
            principal_type: Some("ServicePrincipal".to_owned()),
        };
        self.data()
            .assignments
            .insert(a.id.to_ascii_lowercase(), a.clone());
        a
    }

    /// When `true`, creating or deleting assignments in `workspace` answers 403, as Azure does
    /// when the caller does not hold Synapse Administrator (or Synapse Access Administrator).
    pub fn forbid_role_writes(&self, workspace: &str, forbidden: bool) {
        let key = workspace.to_ascii_lowercase();
        let mut data = self.data();
        if forbidden {
            data.writes_forbidden.insert(key);
        } else {
            data.writes_forbidden.remove(&key);
        }
    }

    pub fn reset(&self) {
        *self.data() = Data::default();
    }
}
