//! Spark jobs: submit exactly once, follow the job with scheduled follow-ups until it ends, cancel.

use serde_json::Value;

use crate::azureml::{ArmClient, ArmError, LroOutcome};
// The invocation span declares these fields; the engine fills them in.
use crate::domain::spark::{
    JobName, JobPlan, PlanInput, SparkDefaults, SparkJobError, SparkJobSpec, SparkJobView,
    job_name_for, plan_job,
};
use crate::domain::{
    AttachedPool, Command, Envelope, ErrorCode, JobResource, RawSpec, ReplyRoute, TrackSparkJob,
    WorkspaceId,
};
use crate::telemetry::fields;

use super::{CommandContext, Engine, EngineError, FollowUp, Outcome, Rejection, Reply};

const SUBMIT: &str = "SubmitSparkJob";
const CANCEL: &str = "CancelSparkJob";

pub(super) struct JobRun<'a> {
    pub engine: &'a Engine,
    pub arm: &'a ArmClient,
    pub workspace: &'a WorkspaceId,
    pub ctx: &'a CommandContext,
}

impl From<SparkJobError> for EngineError {
    fn from(err: SparkJobError) -> Self {
        let mut rejection = Rejection::new(err.code(), err.to_string());
        rejection.fields = err.fields();
        EngineError::from(rejection)
    }
}

impl Engine {
    /// Spark settings, read and checked once at start-up with the other settings.
    pub fn spark_defaults(&self) -> Result<SparkDefaults, EngineError> {
        Ok(self.settings.spark.clone())
    }

    /// What `SubmitSparkJob` would do, without submitting: reads the workspace's computes (one
    /// ARM call) and plans the job. For the CLI to print before it submits.
    pub async fn plan_spark_job(
        &self,
        envelope: &Envelope,
        ctx: &CommandContext,
    ) -> Result<JobPlan, EngineError> {
        let Command::SubmitSparkJob(raw) = &envelope.command else {
            return Err(EngineError::rejected(
                ErrorCode::NotASparkJob,
                format!(
                    "kind: expected SubmitSparkJob, got {}",
                    envelope.command.kind()
                ),
            ));
        };
        let workspace = self.resolve_workspace(envelope)?;
        let arm = self.arm_for(ctx);
        let run = JobRun {
            engine: self,
            arm: &arm,
            workspace: &workspace,
            ctx,
        };
        let spec = SparkJobSpec::parse(&raw.0, "spec")?;
        run.plan(&spec, envelope.idempotency_key.as_deref()).await
    }

    /// The job as ARM has it now (`None`: no such job). Reading a job does not change it.
    pub async fn show_spark_job(
        &self,
        workspace: &WorkspaceId,
        name: &str,
        ctx: &CommandContext,
    ) -> Result<Option<SparkJobView>, EngineError> {
        let name = JobName::parse(name).map_err(|e| {
            EngineError::from(
                Rejection::new(ErrorCode::InvalidJobName, e.to_string())
                    .field("name", "not a job name"),
            )
        })?;
        let arm = self.arm_for(ctx);
        match arm.get_job(workspace, &name).await? {
            Some(resource) => Ok(Some(read_view(&resource)?)),
            None => Ok(None),
        }
    }
}

impl JobRun<'_> {
    pub async fn submit(
        &self,
        raw: &RawSpec,
        idempotency_key: Option<&str>,
    ) -> Result<Outcome, EngineError> {
        let spec = SparkJobSpec::parse(&raw.0, "spec")?;
        let (name, _) = job_name_for(
            &spec,
            self.workspace,
            idempotency_key,
            self.ctx.message_id.as_deref(),
        )?;
        // A redelivery (or a resend with the same key) finds the job of the first delivery and
        // reports it: no second PUT, whatever the pools look like now.
        if let Some(existing) = self.arm.get_job(self.workspace, &name).await? {
            let view = read_view(&existing)?;
            record_on_span(
                &view.compute_summary(),
                view.compute_reason()
                    .unwrap_or("recorded on the existing job"),
                &view.identity_description(),
            );
            tracing::info!(job = %name, status = %view.status, "job already submitted; not submitting again");
            return self.report(view, None);
        }
        let plan = self.plan(&spec, idempotency_key).await?;
        record_on_span(
            &plan.compute.target.summary(),
            &plan.compute.reason,
            &plan.identity.description,
        );
        let resource = match self
            .arm
            .put_job(self.workspace, &plan.job_name, &plan.body)
            .await
        {
            Ok((resource, _created)) => resource,
            // Another delivery of this command got there first with a definition that differs
            // (the pools changed in between): that job is the one to report.
            Err(err) if !err.is_transient() => {
                match self.arm.get_job(self.workspace, &plan.job_name).await? {
                    Some(existing) => existing,
                    None => return Err(err.into()),
                }
            }
            Err(err) => return Err(err.into()),
        };
        self.report(read_view(&resource)?, None)
    }

    async fn plan(
        &self,
        spec: &SparkJobSpec,
        idempotency_key: Option<&str>,
    ) -> Result<JobPlan, EngineError> {
        let defaults = self.engine.spark_defaults()?;
        let pools = self.pools().await?;
        Ok(plan_job(
            spec,
            &PlanInput {
                workspace: self.workspace,
                pools: &pools,
                defaults: &defaults,
                idempotency_key,
                message_id: self.ctx.message_id.as_deref(),
                correlation_id: &self.ctx.correlation_id,
            },
        )?)
    }

    /// The workspace's computes, one list call. A compute ARM describes oddly is left out rather
    /// than failing the job: it cannot be chosen anyway.
    async fn pools(&self) -> Result<Vec<AttachedPool>, EngineError> {
        let computes = self.arm.list_computes(self.workspace).await?;
        Ok(computes
            .iter()
            .filter_map(|c| match AttachedPool::from_resource(c) {
                Ok(pool) => Some(pool),
                Err(e) => {
                    tracing::warn!("ignoring a compute ARM listed: {e}");
                    None
                }
            })
            .collect())
    }

    pub async fn track(&self, track: &TrackSparkJob) -> Result<Outcome, EngineError> {
        let name = &track.job;
        let Some(resource) = self.arm.get_job(self.workspace, name).await? else {
            return Ok(Outcome::Reply(Reply::failed(
                SUBMIT,
                Rejection::new(
                    ErrorCode::JobNotFound,
                    format!(
                        "job {name} no longer exists in workspace {}",
                        self.workspace.arm_id()
                    ),
                ),
            )));
        };
        let view = read_view(&resource)?;
        if !view.is_terminal() && self.ctx.now > track.deadline {
            let mut reply = Reply::failed(
                SUBMIT,
                Rejection::new(
                    ErrorCode::JobDeadlineExceeded,
                    format!(
                        "stopped following job {name} after {} status read(s): the deadline passed while it was {}; the job itself keeps running (CancelSparkJob stops it)",
                        track.attempt, view.status
                    ),
                ),
            );
            reply.extra = view.reply_fields();
            return Ok(Outcome::Reply(reply));
        }
        self.report(view, Some(track))
    }

    pub async fn cancel(&self, name: &JobName) -> Result<Outcome, EngineError> {
        let outcome = match self.arm.cancel_job(self.workspace, name).await {
            Ok(outcome) => outcome,
            Err(ArmError::Status { status: 404, .. }) => {
                return Err(EngineError::from(
                    Rejection::new(
                        ErrorCode::JobNotFound,
                        format!(
                            "spec.name: no job named '{name}' in workspace {}",
                            self.workspace.arm_id()
                        ),
                    )
                    .field("spec.name", "no such job"),
                ));
            }
            Err(err @ ArmError::LroFailed { .. }) => {
                return match EngineError::from(err) {
                    EngineError::Rejected(error) => {
                        Ok(Outcome::Reply(Reply::failed(CANCEL, *error)))
                    }
                    transient => Err(transient),
                };
            }
            Err(err) => return Err(err.into()),
        };
        let mut reply = Reply::succeeded(CANCEL);
        match outcome {
            LroOutcome::Done(_) => {
                if let Some(resource) = self.arm.get_job(self.workspace, name).await? {
                    let view = read_view(&resource)?;
                    reply.message = Some(format!("job {name} canceled; it is {}", view.status));
                    reply.extra = view.reply_fields();
                }
            }
            // Canceling can take minutes; the sender is told it is under way rather than
            // holding this invocation.
            LroOutcome::Pending(_) => {
                reply.message = Some(format!(
                    "cancel of job {name} requested; the service is still canceling it"
                ));
                reply
                    .extra
                    .insert("jobName".into(), Value::String(name.to_string()));
                reply
                    .extra
                    .insert("jobStatus".into(), Value::String("CancelRequested".into()));
            }
        }
        Ok(Outcome::Reply(reply))
    }

    /// The terminal reply, or a follow-up that reads the job again after the poll interval.
    fn report(
        &self,
        view: SparkJobView,
        previous: Option<&TrackSparkJob>,
    ) -> Result<Outcome, EngineError> {
        if view.is_terminal() {
            return Ok(Outcome::Reply(terminal_reply(view)));
        }
        let defaults = self.engine.spark_defaults()?;
        let (deadline, attempt, reply) = match previous {
            Some(prev) => (
                prev.deadline,
                prev.attempt.saturating_add(1),
                prev.reply.clone(),
            ),
            None => (
                self.ctx.now + self.engine.settings().operation_deadline,
                1,
                ReplyRoute {
                    reply_to: self.ctx.reply_to.clone(),
                    correlation_id: self.ctx.correlation_id.clone(),
                },
            ),
        };
        let job = crate::domain::spark::JobName::parse(&view.name).map_err(|e| {
            EngineError::from(Rejection::new(
                ErrorCode::UnexpectedArmResponse,
                e.to_string(),
            ))
        })?;
        let mut envelope = Envelope::new(Command::TrackSparkJob(TrackSparkJob {
            job,
            reply,
            deadline,
            attempt,
            last_status: Some(view.status),
        }));
        envelope.workspace = Some(self.workspace.clone());
        Ok(Outcome::FollowUp(FollowUp {
            envelope,
            delay: defaults.poll_interval,
            kind: SUBMIT.to_owned(),
            deferred_since: None,
        }))
    }
}

fn read_view(resource: &JobResource) -> Result<SparkJobView, EngineError> {
    SparkJobView::from_resource(resource).ok_or_else(|| {
        EngineError::from(Rejection::new(
            ErrorCode::UnexpectedArmResponse,
            "ARM returned a job without a name",
        ))
    })
}

fn terminal_reply(view: SparkJobView) -> Reply {
    let name = &view.name;
    let place = view.compute_summary();
    let mut reply = if view.is_completed() {
        Reply::succeeded(SUBMIT).with_message(format!("job {name} Completed on {place}"))
    } else {
        let code = if view.status.eq_ignore_ascii_case("Canceled") {
            ErrorCode::JobCanceled
        } else {
            ErrorCode::JobFailed
        };
        let detail = view
            .error
            .as_ref()
            .map(|(c, m)| format!(": {c}: {m}"))
            .unwrap_or_default();
        Reply::failed(
            SUBMIT,
            Rejection::new(
                code,
                format!("job {name} ended {} on {place}{detail}", view.status),
            ),
        )
    };
    reply.extra = view.reply_fields();
    reply
}

fn record_on_span(choice: &str, reason: &str, identity: &str) {
    let span = tracing::Span::current();
    span.record(fields::COMPUTE_CHOICE, choice);
    span.record(fields::COMPUTE_REASON, reason);
    span.record(fields::IDENTITY_SELECTED, identity);
}

impl<'a> super::pools::PoolRun<'a> {
    /// The same invocation's context, for the job commands.
    pub(super) fn jobs(&self) -> JobRun<'a> {
        JobRun {
            engine: self.engine,
            arm: self.arm,
            workspace: self.workspace,
            ctx: self.ctx,
        }
    }
}
