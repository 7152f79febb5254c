//! Everything decided before anything is sent: the job's name, compute, identity and body. The
//! CLI prints a plan before submitting; the engine submits it.

use super::body::{BodyTags, job_put_body};
use super::compute::{ComputeDecision, decide_compute};
use super::error::SparkJobError;
use super::identity::{IdentityChoice, choose_identity};
use super::naming::{JobKeySource, JobName, derive_job_name};
use super::settings::SparkDefaults;
use super::spec::SparkJobSpec;
use crate::domain::ErrorCode;
use crate::domain::{AttachedPool, JobResource, WorkspaceId};

/// What a plan is made from. `pools` are the workspace's attached computes as ARM lists them.
pub struct PlanInput<'a> {
    pub workspace: &'a WorkspaceId,
    pub pools: &'a [AttachedPool],
    pub defaults: &'a SparkDefaults,
    /// The envelope's `idempotencyKey`.
    pub idempotency_key: Option<&'a str>,
    /// The Service Bus MessageId.
    pub message_id: Option<&'a str>,
    pub correlation_id: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    pub job_name: JobName,
    pub key_source: JobKeySource,
    pub compute: ComputeDecision,
    pub identity: IdentityChoice,
    /// The PUT body.
    pub body: JobResource,
}

/// The job's name: `spec.name`, else derived from the idempotency key, else from the MessageId.
pub fn job_name_for(
    spec: &SparkJobSpec,
    workspace: &WorkspaceId,
    idempotency_key: Option<&str>,
    message_id: Option<&str>,
) -> Result<(JobName, JobKeySource), SparkJobError> {
    if let Some(name) = &spec.name {
        return Ok((name.clone(), JobKeySource::SpecName));
    }
    if let Some(key) = idempotency_key {
        return Ok((
            derive_job_name(workspace, key),
            JobKeySource::IdempotencyKey(key.to_owned()),
        ));
    }
    if let Some(id) = message_id.filter(|id| !id.is_empty()) {
        return Ok((
            derive_job_name(workspace, id),
            JobKeySource::MessageId(id.to_owned()),
        ));
    }
    Err(SparkJobError::refused(
        ErrorCode::IdempotencyKeyMissing,
        "idempotencyKey",
        "a Spark job needs an idempotencyKey (or a Service Bus MessageId, or spec.name) so that a redelivered command finds its job instead of submitting another",
    ))
}

pub fn plan_job(spec: &SparkJobSpec, input: &PlanInput<'_>) -> Result<JobPlan, SparkJobError> {
    let (job_name, key_source) = job_name_for(
        spec,
        input.workspace,
        input.idempotency_key,
        input.message_id,
    )?;
    let compute = decide_compute(spec, input.pools, input.defaults)?;
    let identity = choose_identity(
        spec.identity.as_ref(),
        &compute.target,
        input.pools,
        &input.defaults.serverless_identity,
    )?;
    let body = job_put_body(
        spec,
        input.workspace,
        &compute,
        &identity,
        &BodyTags {
            idempotency_key: key_source.key(),
            correlation_id: input.correlation_id,
        },
    );
    Ok(JobPlan {
        job_name,
        key_source,
        compute,
        identity,
        body,
    })
}
