//! Attach, update identity, detach, show and list Synapse Spark pools, and finishing their
//! long-running operations in follow-up invocations.

use std::time::Duration;

use crate::azureml::{ArmClient, ArmError, JobListFilter, LroOutcome, PendingOperation};
use crate::domain::{
    AttachPoolSpec, AttachedPool, AwaitOperation, Command, ComputeName, ComputeResource,
    DetachPoolSpec, Envelope, ErrorCode, ListPoolsSpec, MANAGED_TAG, PendingAction, ReplyRoute,
    ShowPoolSpec, Tags, UpdatePoolIdentitySpec, WorkspaceId, attach_is_noop, az_ml_output,
    compute_put_body, identity_matches, update_identity_body,
};

use super::{CommandContext, Engine, EngineError, FollowUp, Outcome, Rejection, Reply};

/// Bytes of pool resources a `ListPools` reply may carry (Service Bus Standard allows 256 KB).
const LIST_REPLY_BUDGET: usize = 200 * 1024;

pub(super) struct PoolRun<'a> {
    pub engine: &'a Engine,
    pub arm: &'a ArmClient,
    pub workspace: &'a WorkspaceId,
    pub ctx: &'a CommandContext,
    pub kind: &'static str,
}

impl PoolRun<'_> {
    pub async fn attach(&self, spec: &AttachPoolSpec) -> Result<Outcome, EngineError> {
        let mut desired = spec.clone();
        desired.tags.insert(MANAGED_TAG.into(), "true".into());
        let name = &desired.name;
        let current = match self.current(name).await? {
            Some(pool) => self.settled(name, pool).await?,
            None => None,
        };
        if let Some(current) = current {
            if !current.is_synapse_spark() {
                return Err(EngineError::rejected(
                    ErrorCode::ComputeTypeMismatch,
                    format!(
                        "spec.name: compute '{name}' already exists in workspace {} as {}, not SynapseSpark; choose another name",
                        self.workspace.name(),
                        current.compute_type
                    ),
                ));
            }
            // A pool whose last operation failed is attached again, as `az ml compute attach`
            // would: only a provisioned pool can be left alone.
            if attach_is_noop(&desired, &current) && provisioned(&current) {
                return Ok(Outcome::Reply(
                    Reply::succeeded(self.kind)
                        .with_resource(az_ml_output(&current))
                        .with_message(format!(
                            "no change: '{name}' is already attached with this resource, identity, tags and description"
                        )),
                ));
            }
        }
        let location = self
            .engine
            .workspace_location(self.arm, self.workspace)
            .await?;
        let mut expiry = Tags::new();
        if let Some(ttl) = desired.ttl {
            let (key, value) = ttl.expiry_tag(self.ctx.now);
            expiry.insert(key, value);
        }
        let body = compute_put_body(&desired, &location, &expiry);
        let outcome = self.arm.put_compute(self.workspace, name, &body).await;
        self.finish(
            PendingAction::Attach {
                name: desired.name.clone(),
            },
            outcome,
            None,
        )
    }

    pub async fn update_identity(
        &self,
        spec: &UpdatePoolIdentitySpec,
    ) -> Result<Outcome, EngineError> {
        let name = &spec.name;
        let current = self.require(name).await?;
        let Some(current) = self.settled(name, current).await? else {
            return Err(not_attached(name, self.workspace));
        };
        if identity_matches(Some(&spec.identity), current.identity.as_ref())
            && provisioned(&current)
        {
            return Ok(Outcome::Reply(
                Reply::succeeded(self.kind)
                    .with_resource(az_ml_output(&current))
                    .with_message(format!("no change: '{name}' already has this identity")),
            ));
        }
        let body = update_identity_body(&current, &spec.identity);
        let outcome = self.arm.put_compute(self.workspace, name, &body).await;
        self.finish(
            PendingAction::UpdateIdentity {
                name: spec.name.clone(),
            },
            outcome,
            None,
        )
    }

    pub async fn detach(&self, spec: &DetachPoolSpec) -> Result<Outcome, EngineError> {
        let name = &spec.name;
        if !spec.force {
            let running = self.running_jobs(name).await?;
            if !running.is_empty() {
                return Err(EngineError::from(Rejection::new(
                    ErrorCode::PoolBusy,
                    format!(
                        "spec.force: pool '{name}' has {} job(s) not yet finished ({}); wait for them, cancel them, or send force: true to detach anyway",
                        running.len(),
                        running.join(", ")
                    ),
                )));
            }
        }
        let outcome = match self.arm.detach_compute(self.workspace, name).await {
            Ok(None) => {
                let mut reply = Reply::succeeded(self.kind).with_message(format!(
                    "'{name}' is not attached to workspace {}: nothing to detach",
                    self.workspace.name()
                ));
                reply.already_detached = true;
                return Ok(Outcome::Reply(reply));
            }
            Ok(Some(outcome)) => Ok(outcome),
            Err(err) => Err(err),
        };
        self.finish(
            PendingAction::Detach {
                name: spec.name.clone(),
            },
            outcome,
            None,
        )
    }

    pub async fn show(&self, spec: &ShowPoolSpec) -> Result<Outcome, EngineError> {
        let pool = self.require(&spec.name).await?;
        Ok(Outcome::Reply(
            Reply::succeeded(self.kind).with_resource(az_ml_output(&pool)),
        ))
    }

    pub async fn list(&self, spec: &ListPoolsSpec) -> Result<Outcome, EngineError> {
        let computes = self.arm.list_computes(self.workspace).await?;
        let mut resources = Vec::new();
        let mut total = 0usize;
        let mut bytes = 0usize;
        for compute in &computes {
            let pool = parse_pool(compute)?;
            if spec.matches(&pool.compute_type) {
                total += 1;
                let resource = az_ml_output(&pool);
                bytes += resource.to_string().len();
                // A reply is one Service Bus message (256 KB on Standard): keep room for the rest.
                if bytes <= LIST_REPLY_BUDGET {
                    resources.push(resource);
                }
            }
        }
        let mut reply = Reply::succeeded(self.kind);
        if resources.len() < total {
            reply = reply.with_message(format!(
                "{} of {total} pools listed: the rest would not fit in one Service Bus message; use `poolbroker compute list` for all",
                resources.len()
            ));
            reply.truncated_total = Some(total);
        }
        reply.resources = Some(resources);
        Ok(Outcome::Reply(reply))
    }

    pub async fn await_operation(&self, op: &AwaitOperation) -> Result<Outcome, EngineError> {
        let kind = op.action.command_kind();
        let name = op.action.name();
        if self.ctx.now > op.deadline {
            return Ok(Outcome::Reply(Reply::failed(
                kind,
                Rejection::new(
                    ErrorCode::OperationDeadlineExceeded,
                    format!(
                        "gave up following the ARM operation on '{name}' after {} follow-up(s): its deadline passed; check the compute with ShowPool",
                        op.attempt
                    ),
                ),
            )));
        }
        let operation = PendingOperation {
            operation: op.operation.clone(),
            resource_url: self.arm.compute_resource_url(self.workspace, name),
            retry_after: None,
            fetch_resource: !matches!(op.action, PendingAction::Detach { .. }),
        };
        let outcome = self
            .arm
            .resume(&operation, self.arm.options().lro.budget)
            .await;
        self.finish(op.action.clone(), outcome, Some(op))
    }

    /// Turns an operation's state into the reply, or into a follow-up when it is still running.
    fn finish(
        &self,
        action: PendingAction,
        outcome: Result<LroOutcome<ComputeResource>, ArmError>,
        previous: Option<&AwaitOperation>,
    ) -> Result<Outcome, EngineError> {
        let kind = action.command_kind();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            // ARM accepted the command and then its operation ended Failed/Canceled: something
            // changed (the compute may now be `Failed`), so this is a `Failed` reply, not a
            // rejection (docs/messages.md), with ARM's error body verbatim.
            Err(err @ ArmError::LroFailed { .. }) => {
                return match EngineError::from(err) {
                    EngineError::Rejected(error) => Ok(Outcome::Reply(Reply::failed(kind, *error))),
                    transient => Err(transient),
                };
            }
            Err(err) => return Err(err.into()),
        };
        match outcome {
            LroOutcome::Done(resource) => {
                let name = action.name();
                let reply = match (&action, resource) {
                    (PendingAction::Detach { .. }, _) => Reply::succeeded(kind).with_message(
                        format!(
                            "detached '{name}' from workspace {}; the Synapse pool itself is untouched",
                            self.workspace.name()
                        ),
                    ),
                    (_, Some(resource)) => {
                        Reply::succeeded(kind).with_resource(az_ml_output(&parse_pool(&resource)?))
                    }
                    (_, None) => {
                        return Err(EngineError::IncompleteArmResponse {
                            what: format!("no compute after finishing the operation on '{name}'"),
                        });
                    }
                };
                Ok(Outcome::Reply(reply))
            }
            LroOutcome::Pending(op) => {
                let (deadline, attempt, reply) = match previous {
                    Some(prev) => (prev.deadline, prev.attempt + 1, prev.reply.clone()),
                    None => (
                        self.ctx.now + self.engine.settings.operation_deadline,
                        1,
                        ReplyRoute {
                            reply_to: self.ctx.reply_to.clone(),
                            correlation_id: self.ctx.correlation_id.clone(),
                        },
                    ),
                };
                let delay = op
                    .retry_after
                    .unwrap_or(self.arm.options().lro.default_poll_interval)
                    .max(Duration::from_secs(1));
                let follow = AwaitOperation {
                    operation: op.operation,
                    action,
                    reply,
                    deadline,
                    attempt,
                    grant: previous.and_then(|p| p.grant.clone()),
                };
                let mut envelope = Envelope::new(Command::AwaitOperation(follow));
                envelope.workspace = Some(self.workspace.clone());
                Ok(Outcome::FollowUp(FollowUp {
                    envelope,
                    delay,
                    kind: kind.to_owned(),
                }))
            }
        }
    }

    async fn current(&self, name: &ComputeName) -> Result<Option<AttachedPool>, EngineError> {
        match self.arm.get_compute(self.workspace, name).await? {
            Some(compute) => Ok(Some(parse_pool(&compute)?)),
            None => Ok(None),
        }
    }

    async fn require(&self, name: &ComputeName) -> Result<AttachedPool, EngineError> {
        self.current(name)
            .await?
            .ok_or_else(|| not_attached(name, self.workspace))
    }

    /// Waits, within the invocation's LRO budget, for an operation already running on the
    /// compute to end. Its URL is lost when the invocation that started it died (a crash, a lost
    /// lock), so the resource itself is watched. `None`: the compute went away meanwhile.
    /// Still running when the budget is spent: transient, so the message is redelivered later
    /// instead of answering "no change" for a pool that is not attached yet (or sending a PUT
    /// that ARM would refuse with 409 Conflict).
    async fn settled(
        &self,
        name: &ComputeName,
        mut pool: AttachedPool,
    ) -> Result<Option<AttachedPool>, EngineError> {
        let lro = self.arm.options().lro;
        let started = tokio::time::Instant::now();
        let mut wait = FIRST_SETTLE_POLL;
        while let Some(state) = running_operation(&pool) {
            if started.elapsed().saturating_add(wait) > lro.budget {
                return Err(EngineError::OperationInProgress {
                    compute: name.to_string(),
                    workspace: self.workspace.name().to_owned(),
                    state: state.to_owned(),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(lro.default_poll_interval.max(FIRST_SETTLE_POLL));
            match self.current(name).await? {
                Some(next) => pool = next,
                None => return Ok(None),
            }
        }
        Ok(Some(pool))
    }

    async fn running_jobs(&self, name: &ComputeName) -> Result<Vec<String>, EngineError> {
        let filter = JobListFilter {
            compute: Some(name.clone()),
            active_only: true,
        };
        let jobs = self.arm.list_jobs(self.workspace, &filter).await?;
        Ok(jobs
            .iter()
            .map(|job| job.name.clone().unwrap_or_else(|| "(unnamed)".to_owned()))
            .collect())
    }
}

/// First wait before re-reading a compute whose operation is running; ARM sends no
/// `Retry-After` on a resource GET.
const FIRST_SETTLE_POLL: Duration = Duration::from_secs(1);

/// The provisioning state, when it says ARM is still working on the compute.
fn running_operation(pool: &AttachedPool) -> Option<&str> {
    pool.provisioning_state.as_deref().filter(|s| {
        ["Creating", "Updating", "Deleting"]
            .iter()
            .any(|r| s.eq_ignore_ascii_case(r))
    })
}

/// Provisioned (or ARM does not say): nothing left to do for an identical request.
fn provisioned(pool: &AttachedPool) -> bool {
    pool.provisioning_state
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case("Succeeded"))
}

fn not_attached(name: &ComputeName, workspace: &WorkspaceId) -> EngineError {
    EngineError::from(
        Rejection::new(
            ErrorCode::PoolNotFound,
            format!(
                "spec.name: no compute named '{name}' is attached to workspace {}",
                workspace.arm_id()
            ),
        )
        .field("spec.name", "not attached"),
    )
}

fn parse_pool(compute: &ComputeResource) -> Result<AttachedPool, EngineError> {
    // ARM sent something that is not a compute: retrying won't fix it, and it's not the sender's fault.
    AttachedPool::from_resource(compute).map_err(|e| {
        EngineError::from(Rejection::new(
            ErrorCode::UnexpectedArmResponse,
            e.to_string(),
        ))
    })
}
