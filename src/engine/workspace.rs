use crate::azureml::ArmClient;
use crate::domain::{Envelope, ErrorCode, WorkspaceId};

use super::{Engine, EngineError, Rejection};

impl Engine {
    /// The command's workspace, else the default from settings; then the allow-list.
    pub(crate) fn resolve_workspace(
        &self,
        envelope: &Envelope,
    ) -> Result<WorkspaceId, EngineError> {
        let workspace = envelope
            .workspace
            .clone()
            .or_else(|| self.settings.default_workspace.clone())
            .ok_or_else(|| {
                EngineError::from(
                    Rejection::new(
                        ErrorCode::WorkspaceMissing,
                        "workspace: the command names no workspace and POOLBROKER_DEFAULT_WORKSPACE is not set",
                    )
                    .field("workspace", "required (no default workspace is configured)"),
                )
            })?;
        if !self.settings.allowed_scopes.allows(&workspace) {
            return Err(EngineError::from(
                Rejection::new(
                    ErrorCode::ScopeNotAllowed,
                    format!(
                        "workspace: {} is outside POOLBROKER_ALLOWED_SCOPES ({})",
                        workspace.arm_id(),
                        self.settings.allowed_scopes
                    ),
                )
                .field("workspace", "outside the allowed scopes"),
            ));
        }
        Ok(workspace)
    }

    /// The workspace's location (attached computes must be created there, as az ml does).
    pub(crate) async fn workspace_location(
        &self,
        arm: &ArmClient,
        workspace: &WorkspaceId,
    ) -> Result<String, EngineError> {
        let key = workspace.arm_id().to_ascii_lowercase();
        if let Some(location) = self.cached_location(&key) {
            return Ok(location);
        }
        let body = arm.get_workspace(workspace).await?;
        let location = body
            .location
            .ok_or_else(|| EngineError::IncompleteArmResponse {
                what: format!("workspace {} without a location", workspace.arm_id()),
            })?;
        if let Ok(mut cache) = self.locations.lock() {
            cache.insert(key, location.clone());
        }
        Ok(location)
    }

    fn cached_location(&self, key: &str) -> Option<String> {
        self.locations.lock().ok()?.get(key).cloned()
    }
}
