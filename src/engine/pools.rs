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
    /// The command as received, for putting it off while its compute is busy.
    pub envelope: &'a Envelope,
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
            Some(pool) => match self.settled(name, pool).await? {
                Settled::Ready(pool) => pool.map(|p| *p),
                Settled::Busy(state) => return self.defer(name, &state),
            },
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
                        .with_pool(current)
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
        let current = match self.settled(name, current).await? {
            Settled::Ready(Some(pool)) => *pool,
            Settled::Ready(None) => return Err(not_attached(name, self.workspace)),
            Settled::Busy(state) => return self.defer(name, &state),
        };
        if identity_matches(Some(&spec.identity), current.identity.as_ref())
            && provisioned(&current)
        {
            return Ok(Outcome::Reply(
                Reply::succeeded(self.kind)
                    .with_pool(current)
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
        if self.ctx.redelivered {
            // An earlier delivery may have sent the DELETE already: look before writing again.
            let Some(pool) = self.current(name).await? else {
                return Ok(Outcome::Reply(self.nothing_to_detach(name)));
            };
            match self.settled(name, pool).await? {
                Settled::Ready(None) => return Ok(Outcome::Reply(self.detached_reply(name))),
                Settled::Ready(Some(_)) => {}
                Settled::Busy(state) => return self.defer(name, &state),
            }
        }
        let mut outcome = self.arm.detach_compute(self.workspace, name).await;
        // 409: an operation is running on the compute. Wait for it like attach does, then
        // detach only if the compute is still there.
        if matches!(&outcome, Err(e) if e.status() == Some(409)) {
            // Not ours (a redelivery looked first): another operation, e.g. a concurrent
            // cleanup run, holds the compute.
            let Some(pool) = self.current(name).await? else {
                return Ok(Outcome::Reply(self.nothing_to_detach(name)));
            };
            match self.settled(name, pool).await? {
                Settled::Ready(None) => return Ok(Outcome::Reply(self.nothing_to_detach(name))),
                Settled::Ready(Some(_)) => {
                    outcome = self.arm.detach_compute(self.workspace, name).await;
                }
                Settled::Busy(state) => return self.defer(name, &state),
            }
        }
        let outcome = match outcome {
            Ok(None) => return Ok(Outcome::Reply(self.nothing_to_detach(name))),
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
        Ok(Outcome::Reply(Reply::succeeded(self.kind).with_pool(pool)))
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
        self.check_operation_url(&op.operation.url)?;
        let operation = PendingOperation {
            operation: op.operation.clone(),
            resource_url: self.arm.compute_resource_url(self.workspace, name),
            retry_after: None,
            fetch_resource: !matches!(op.action, PendingAction::Detach { .. }),
            accepted_body: None,
        };
        let outcome = self
            .arm
            .resume(&operation, self.arm.options().lro.budget)
            .await;
        self.finish(op.action.clone(), outcome, Some(op))
    }

    /// A follow-up's operation URL must be an ARM operation of the workspace's subscription on
    /// the configured ARM endpoint: the broker polls it with its own token.
    fn check_operation_url(&self, raw: &str) -> Result<(), EngineError> {
        let endpoint = &self.arm.options().endpoint;
        let inside =
            format!("/subscriptions/{}/", self.workspace.subscription_id()).to_ascii_lowercase();
        let ok = url::Url::parse(raw).is_ok_and(|u| {
            u.origin() == endpoint.origin()
                && u.path().to_ascii_lowercase().starts_with(&inside)
                && !u.path().split('/').any(|seg| seg == "..")
        });
        if ok {
            return Ok(());
        }
        Err(Rejection::new(
            ErrorCode::OperationUrlNotAllowed,
            format!(
                "spec.operation.url: the broker follows only ARM operations of subscription {} on {}",
                self.workspace.subscription_id(),
                endpoint.origin().ascii_serialization()
            ),
        )
        .field("spec.operation.url", "not an ARM operation inside the allowed scopes")
        .into())
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
            // ARM accepted the write, but where it said to watch the operation is not somewhere
            // the broker will send its token: the change may well be happening, so this is not
            // a rejection ("nothing changed") but a failure to follow it.
            Err(err @ ArmError::Unfollowable { .. }) => {
                return Ok(Outcome::Reply(Reply::failed(
                    kind,
                    Rejection::new(
                        ErrorCode::OperationNotFollowed,
                        format!(
                            "'{}': {err}; check the compute with ShowPool",
                            action.name().as_str()
                        ),
                    ),
                )));
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
                        Reply::succeeded(kind).with_pool(parse_pool(&resource)?)
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
                let delay = follow_up_delay(
                    op.retry_after,
                    self.arm.options().lro.default_poll_interval,
                    deadline - self.ctx.now,
                );
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
                    deferred_since: None,
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

    fn nothing_to_detach(&self, name: &ComputeName) -> Reply {
        let mut reply = Reply::succeeded(self.kind).with_message(format!(
            "'{name}' is not attached to workspace {}: nothing to detach",
            self.workspace.name()
        ));
        reply.already_detached = true;
        reply
    }

    fn detached_reply(&self, name: &ComputeName) -> Reply {
        Reply::succeeded(self.kind).with_message(format!(
            "detached '{name}' from workspace {}; the Synapse pool itself is untouched",
            self.workspace.name()
        ))
    }

    /// Puts the command off while an earlier operation on its compute runs: the same command is
    /// scheduled again and this delivery completes, so a long operation neither burns the
    /// message's deliveries nor holds an invocation for a whole budget. Past the operation
    /// deadline (counted from the first deferral) it is given up with a `Failed` reply.
    fn defer(&self, name: &ComputeName, state: &str) -> Result<Outcome, EngineError> {
        let since = self.ctx.deferred_since.unwrap_or(self.ctx.now);
        let deadline = since + self.engine.settings.operation_deadline;
        if self.ctx.now > deadline {
            return Ok(Outcome::Reply(Reply::failed(
                self.kind,
                Rejection::new(
                    ErrorCode::OperationDeadlineExceeded,
                    format!(
                        "compute '{name}' stayed {state} (an earlier operation on it) until the operation deadline; nothing was sent; check it with ShowPool and send the command again"
                    ),
                ),
            )));
        }
        let mut envelope = self.envelope.clone();
        envelope.workspace = Some(self.workspace.clone());
        Ok(Outcome::FollowUp(FollowUp {
            envelope,
            delay: follow_up_delay(
                None,
                self.arm.options().lro.default_poll_interval,
                deadline - self.ctx.now,
            ),
            kind: self.kind.to_owned(),
            deferred_since: Some(since),
        }))
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
    ) -> Result<Settled, EngineError> {
        let lro = self.arm.options().lro;
        let window = lro.budget.min(SETTLE_WINDOW);
        let started = tokio::time::Instant::now();
        let mut wait = FIRST_SETTLE_POLL;
        while let Some(state) = running_operation(&pool) {
            if started.elapsed().saturating_add(wait) > window {
                return Ok(Settled::Busy(state.to_owned()));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(lro.default_poll_interval.max(FIRST_SETTLE_POLL));
            match self.current(name).await? {
                Some(next) => pool = next,
                None => return Ok(Settled::Ready(None)),
            }
        }
        Ok(Settled::Ready(Some(Box::new(pool))))
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

/// The longest a follow-up is put off, whatever `Retry-After` says: ARM asks for seconds to a
/// minute; a larger value is a fault (or a hostile answer) that must not park an operation for days.
pub(super) const MAX_FOLLOW_UP_DELAY: Duration = Duration::from_secs(10 * 60);

/// When to look at a running operation again: ARM's hint (else the default), at least a second,
/// at most [`MAX_FOLLOW_UP_DELAY`] and never past the deadline (so that follow-up can report it).
pub(super) fn follow_up_delay(
    hint: Option<Duration>,
    default: Duration,
    until_deadline: time::Duration,
) -> Duration {
    let left = Duration::try_from(until_deadline).unwrap_or(Duration::ZERO);
    hint.unwrap_or(default)
        .min(MAX_FOLLOW_UP_DELAY)
        .min(left + Duration::from_secs(1))
        .max(Duration::from_secs(1))
}

/// What a compute with an earlier operation came to within [`SETTLE_WINDOW`].
enum Settled {
    /// No operation running (`None`: the compute went away meanwhile).
    Ready(Option<Box<AttachedPool>>),
    /// Still running, in this provisioning state: put the command off.
    Busy(String),
}

/// How long one invocation watches a busy compute before putting the command off. Short: on
/// Azure an operation takes minutes, and a deferral costs one read where waiting costs polls.
const SETTLE_WINDOW: Duration = Duration::from_secs(4);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_up_delay_is_bounded_by_the_cap_and_the_deadline() {
        let s = Duration::from_secs;
        let hours = time::Duration::hours(6);
        assert_eq!(
            follow_up_delay(Some(s(999_999)), s(5), hours),
            MAX_FOLLOW_UP_DELAY
        );
        assert_eq!(follow_up_delay(None, s(5), hours), s(5));
        assert_eq!(follow_up_delay(Some(s(0)), s(5), hours), s(1));
        assert_eq!(
            follow_up_delay(Some(s(300)), s(5), time::Duration::seconds(30)),
            s(31)
        );
        assert_eq!(
            follow_up_delay(Some(s(300)), s(5), time::Duration::seconds(-30)),
            s(1)
        );
    }
}
