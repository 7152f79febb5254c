//! Spark jobs: the `az ml job create` Spark spec as poolbroker accepts it, where a job runs
//! (attached pool or serverless) and as whom, its deterministic name, the ARM body, and reading a
//! job back. Pure: the engine supplies the workspace's pools and settings.

mod body;
mod compute;
mod error;
mod identity;
mod naming;
mod plan;
mod serverless;
mod settings;
mod spec;
mod view;

pub use body::{
    BodyTags, TAG_COMPUTE_DECISION, TAG_CORRELATION_ID, TAG_IDEMPOTENCY_KEY, TAG_IDENTITY,
    job_put_body,
};
pub use compute::{ComputeDecision, ComputeTarget, WORKLOAD_TAG, decide_compute};
pub use error::SparkJobError;
pub use identity::{IdentityChoice, JobIdentity, choose_identity};
pub use naming::{JobKeySource, JobName, JobNameError, derive_job_name};
pub use plan::{JobPlan, PlanInput, job_name_for, plan_job};
pub use serverless::{INSTANCE_TYPES, InstanceType, RuntimeVersion, SERVERLESS_RUNTIMES};
pub use settings::{
    ENV_JOB_POLL_SECS, ENV_SERVERLESS_IDENTITY, ENV_SPARK_INSTANCE_TYPE, ENV_SPARK_RUNTIME_VERSION,
    ServerlessIdentityDefault, SparkDefaults, SparkSettingsError,
};
pub use spec::{
    AssetRef, ComputeRequest, Entry, Fallback, JobInput, JobOutput, RequestedIdentity,
    SparkJobSpec, SparkResources,
};
pub use view::{JobCompute, SparkJobView};

#[cfg(test)]
mod tests;
