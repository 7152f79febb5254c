//! Synapse role assignments for attached pools (`GrantPoolAccess`, `RevokePoolAccess`, and the
//! grant that follows `AttachPool` / `UpdatePoolIdentity` unless `grant_synapse_access: false`).
//! Role ids are looked up by name, each identity's existing assignments are listed first, and
//! only what is missing is created, under ids that let `RevokePoolAccess` find exactly those.

use serde_json::{Value, json};

use crate::domain::synapse_rbac::{
    BROKER_ROLE, Grant, Held, PlanError, attached_pool_id, broker_grant_command,
    linked_service_grant, made_by_poolbroker, pool_grants, pool_scope, satisfies, workspace_scope,
};
use crate::domain::{
    AttachPoolSpec, AttachedPool, AwaitOperation, Command, ComputeName, ErrorCode, GrantAfter,
    LinkedService, LinkedServiceName, PendingAction, PoolAccessSpec, UpdatePoolIdentitySpec,
};
use crate::synapse::{Created, RoleAssignmentFilter, SynapseClient, SynapseError};

use super::pools::PoolRun;
use super::{EngineError, Outcome, Rejection, Reply, ReplyStatus};

/// What happened to one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantResult {
    AlreadyHeld,
    Granted,
    /// Created by someone else between our list and our create (409).
    AlreadyExisted,
}

impl GrantResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyHeld => "already held",
            Self::Granted => "granted",
            Self::AlreadyExisted => "already granted (409)",
        }
    }
}

pub(super) struct Access<'a, 'r> {
    pub run: &'a PoolRun<'r>,
}

impl Access<'_, '_> {
    fn synapse(&self) -> Result<&SynapseClient, EngineError> {
        self.run.engine.synapse().ok_or_else(|| {
            EngineError::rejected(
                ErrorCode::SynapseNotConfigured,
                "this broker has no Synapse data-plane client; it cannot manage Synapse role assignments",
            )
        })
    }

    pub async fn attach(
        &self,
        spec: &AttachPoolSpec,
        link: Option<&LinkedServiceName>,
    ) -> Result<Outcome, EngineError> {
        let outcome = self.run.attach(spec).await?;
        self.then_grant(outcome, spec.grant_synapse_access, &spec.name, link)
            .await
    }

    pub async fn update_identity(
        &self,
        spec: &UpdatePoolIdentitySpec,
    ) -> Result<Outcome, EngineError> {
        let outcome = self.run.update_identity(spec).await?;
        self.then_grant(outcome, spec.grant_synapse_access, &spec.name, None)
            .await
    }

    pub async fn await_operation(&self, op: &AwaitOperation) -> Result<Outcome, EngineError> {
        let outcome = self.run.await_operation(op).await?;
        match (&op.grant, &op.action) {
            (
                Some(grant),
                PendingAction::Attach { name } | PendingAction::UpdateIdentity { name },
            ) => {
                self.then_grant(outcome, true, name, grant.linked_service.as_ref())
                    .await
            }
            _ => Ok(outcome),
        }
    }

    /// After an attach or identity update: grant when it succeeded, or carry the wish into the
    /// follow-up that will finish it.
    async fn then_grant(
        &self,
        outcome: Outcome,
        grant: bool,
        name: &ComputeName,
        link: Option<&LinkedServiceName>,
    ) -> Result<Outcome, EngineError> {
        if !grant {
            return Ok(outcome);
        }
        match outcome {
            Outcome::Reply(mut reply) if reply.status == ReplyStatus::Succeeded => {
                let known = reply.pool.take();
                match self.grant_for(name, link, known.map(|p| *p)).await {
                    // An attach without identity has nobody to grant to: not a failure.
                    Err(EngineError::Rejected(error))
                        if error.code == ErrorCode::PoolHasNoIdentity =>
                    {
                        reply.notes.push(format!(
                            "grant_synapse_access: nothing to grant, '{name}' has no managed identity"
                        ));
                        Ok(Outcome::Reply(reply))
                    }
                    Ok(report) => {
                        reply.extra.insert("synapseAccess".into(), report);
                        Ok(Outcome::Reply(reply))
                    }
                    // The attach happened; the grant could not: Failed, with the resource.
                    Err(EngineError::Rejected(error)) => {
                        reply.status = ReplyStatus::Failed;
                        reply.message = Some(format!(
                            "'{name}' is attached, but granting Synapse access failed: {}",
                            error.message
                        ));
                        reply.error = Some(*error);
                        Ok(Outcome::Reply(reply))
                    }
                    Err(transient) => Err(transient),
                }
            }
            Outcome::FollowUp(mut follow) => {
                if let Command::AwaitOperation(op) = &mut follow.envelope.command {
                    op.grant = Some(GrantAfter {
                        linked_service: link.cloned(),
                    });
                }
                Ok(Outcome::FollowUp(follow))
            }
            other => Ok(other),
        }
    }

    pub async fn grant(&self, spec: &PoolAccessSpec) -> Result<Outcome, EngineError> {
        let report = self
            .grant_for(&spec.name, spec.linked_service.as_ref(), None)
            .await?;
        let mut reply = Reply::succeeded(self.run.kind).with_message(format!(
            "the identities of '{}' hold the Synapse roles they need",
            spec.name
        ));
        reply.extra.insert("synapseAccess".into(), report);
        Ok(Outcome::Reply(reply))
    }

    pub async fn revoke(&self, spec: &PoolAccessSpec) -> Result<Outcome, EngineError> {
        let synapse = self.synapse()?;
        let pool = self.compute(&spec.name).await?;
        let pool_id = attached_pool_id(&pool).map_err(plan_rejection)?;
        let workspace = pool_id.synapse_workspace().to_owned();
        let mut targets = vec![(
            workspace.clone(),
            RoleAssignmentFilter {
                scope: Some(pool_scope(&pool_id)),
                ..RoleAssignmentFilter::default()
            },
        )];
        if let Some(name) = &spec.linked_service {
            let link = self.link(name).await?;
            let ws = link.synapse_workspace().name().to_owned();
            targets.push((
                ws.clone(),
                RoleAssignmentFilter {
                    scope: Some(workspace_scope(&ws)),
                    principal_id: link.principal_id().map(str::to_owned),
                    ..RoleAssignmentFilter::default()
                },
            ));
        }
        let mut removed = Vec::new();
        for (ws, filter) in targets {
            let held = self
                .check(synapse.role_assignments(&ws, &filter).await, &ws)
                .await?;
            for a in held {
                let h = Held {
                    id: a.id.clone(),
                    role_id: a.role_definition_id.clone(),
                    principal_id: a.principal_id.clone(),
                    scope: a.scope.clone(),
                };
                if !made_by_poolbroker(&h) {
                    continue;
                }
                self.check(synapse.delete_role_assignment(&ws, &a.id).await, &ws)
                    .await?;
                removed.push(json!({
                    "id": a.id, "roleDefinitionId": a.role_definition_id,
                    "principalId": a.principal_id, "scope": a.scope,
                }));
            }
        }
        let mut reply = Reply::succeeded(self.run.kind).with_message(format!(
            "removed {} Synapse role assignment(s) poolbroker had made for '{}'; assignments made by others are left alone",
            removed.len(),
            spec.name
        ));
        reply
            .extra
            .insert("removedAssignments".into(), Value::Array(removed));
        Ok(Outcome::Reply(reply))
    }

    pub(super) async fn compute(&self, name: &ComputeName) -> Result<AttachedPool, EngineError> {
        let value = self
            .run
            .arm
            .get_compute(self.run.workspace, name)
            .await?
            .ok_or_else(|| {
                EngineError::from(
                    Rejection::new(
                        ErrorCode::PoolNotFound,
                        format!(
                            "spec.name: no compute named '{name}' is attached to workspace {}",
                            self.run.workspace.arm_id()
                        ),
                    )
                    .field("spec.name", "not attached"),
                )
            })?;
        AttachedPool::from_resource(&value).map_err(|e| {
            EngineError::from(Rejection::new(
                ErrorCode::UnexpectedArmResponse,
                e.to_string(),
            ))
        })
    }

    pub(super) async fn link(
        &self,
        name: &LinkedServiceName,
    ) -> Result<LinkedService, EngineError> {
        super::linked_services::require(self.run, name, "spec.linked_service").await
    }

    /// Plans and applies every grant the compute (and the link) need; the per-grant report.
    /// `known` is the compute as the command just read or wrote it: planned from that when it
    /// is complete, else (a principal id ARM had not filled in yet) from a fresh GET.
    async fn grant_for(
        &self,
        name: &ComputeName,
        link: Option<&LinkedServiceName>,
        known: Option<AttachedPool>,
    ) -> Result<Value, EngineError> {
        let synapse = self.synapse()?;
        let planned = match known.map(|pool| pool_grants(&pool)) {
            Some(Err(PlanError::NoPrincipalId { .. })) | None => {
                pool_grants(&self.compute(name).await?)
            }
            Some(plan) => plan,
        };
        let mut grants = planned.map_err(plan_rejection)?;
        if let Some(link_name) = link {
            let link = self.link(link_name).await?;
            grants.push(
                linked_service_grant(
                    link_name.as_str(),
                    link.principal_id(),
                    link.synapse_workspace().name(),
                )
                .map_err(plan_rejection)?,
            );
        }
        let mut report = Vec::new();
        for grant in &grants {
            let ws = grant_workspace(grant);
            let result = self.ensure(synapse, &ws, grant).await?;
            report.push(json!({
                "identity": grant.who,
                "principalId": grant.principal_id.to_string(),
                "role": grant.role,
                "scope": grant.scope,
                "result": result.as_str(),
            }));
        }
        Ok(Value::Array(report))
    }

    async fn ensure(
        &self,
        synapse: &SynapseClient,
        ws: &str,
        grant: &Grant,
    ) -> Result<GrantResult, EngineError> {
        let role_id = self
            .check(synapse.role_id(ws, grant.role).await, ws)
            .await?;
        if self
            .check(holds(synapse, ws, grant, &role_id).await, ws)
            .await?
        {
            return Ok(GrantResult::AlreadyHeld);
        }
        let created = self
            .check(
                synapse
                    .create_role_assignment(
                        ws,
                        grant.assignment_id(&role_id),
                        &role_id,
                        &grant.principal_id.to_string(),
                        &grant.scope,
                    )
                    .await,
                ws,
            )
            .await?;
        Ok(match created {
            Created::Created => GrantResult::Granted,
            Created::AlreadyExisted => GrantResult::AlreadyExisted,
        })
    }

    /// Turns a data-plane failure into the engine's error; a 403 names the broker's own object
    /// id in the command that fixes it.
    pub(super) async fn check<T>(
        &self,
        result: Result<T, SynapseError>,
        workspace: &str,
    ) -> Result<T, EngineError> {
        match result {
            Ok(v) => Ok(v),
            Err(err) => {
                let oid = match (err.status(), self.run.engine.synapse()) {
                    (Some(403), Some(client)) => client.caller_object_id().await,
                    _ => None,
                };
                Err(synapse_error(err, workspace, oid.as_deref()))
            }
        }
    }
}

/// Whether `grant` is already held (at its scope or the workspace above it).
pub(super) async fn holds(
    synapse: &SynapseClient,
    ws: &str,
    grant: &Grant,
    role_id: &str,
) -> Result<bool, SynapseError> {
    let filter = RoleAssignmentFilter {
        principal_id: Some(grant.principal_id.to_string()),
        role_id: Some(role_id.to_owned()),
        scope: None,
    };
    Ok(synapse
        .role_assignments(ws, &filter)
        .await?
        .into_iter()
        .any(|a| {
            satisfies(
                &Held {
                    id: a.id,
                    role_id: a.role_definition_id,
                    principal_id: a.principal_id,
                    scope: a.scope,
                },
                grant,
                role_id,
            )
        }))
}

/// The Synapse workspace a grant's scope names (`workspaces/{ws}/…`).
pub(super) fn grant_workspace(grant: &Grant) -> String {
    grant.scope.split('/').nth(1).unwrap_or_default().to_owned()
}

fn plan_rejection(err: PlanError) -> EngineError {
    let code = match err {
        PlanError::NoIdentity(_) => ErrorCode::PoolHasNoIdentity,
        PlanError::NoPrincipalId { .. } | PlanError::BadPrincipalId { .. } => {
            ErrorCode::IdentityWithoutPrincipalId
        }
        PlanError::NoPool(_) => ErrorCode::PoolNotSynapse,
    };
    EngineError::from(Rejection::new(code, err.to_string()))
}

/// 403: the broker may not assign roles. Permanent, naming the role and the command that fixes
/// it; other refusals relay the service's error; 5xx/429/network are transient.
pub(super) fn synapse_error(
    err: SynapseError,
    workspace: &str,
    broker_object_id: Option<&str>,
) -> EngineError {
    if err.is_transient() {
        return EngineError::Synapse(Box::new(err));
    }
    let mut rejection = match &err {
        SynapseError::Status { status: 403, .. } => Rejection::new(
            ErrorCode::SynapseAccessDenied,
            format!(
                "poolbroker's identity may not manage role assignments in Synapse workspace '{workspace}': it needs the Synapse RBAC role '{BROKER_ROLE}' on the workspace (Synapse RBAC, not an Azure role). Give it once with: {}",
                broker_grant_command(workspace, broker_object_id)
            ),
        ),
        SynapseError::Status { status: 401, .. } => Rejection::new(
            ErrorCode::SynapseAuthenticationFailed,
            format!("{err}; check the broker's managed identity"),
        ),
        SynapseError::UnknownRole { .. } => {
            Rejection::new(ErrorCode::SynapseRoleNotFound, err.to_string())
        }
        _ => Rejection::new(ErrorCode::SynapseRequestFailed, err.to_string()),
    };
    if let SynapseError::Status { body, .. } = &err
        && !body.is_null()
    {
        rejection.arm_error = Some((**body).clone());
    }
    EngineError::from(rejection)
}
