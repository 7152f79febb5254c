//! What the pages show from Azure ML, read directly through the engine's ARM client (reads are
//! not commands; every change goes through the queue), as the rows the pages render.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::azureml::{ArmError, JobListFilter};
use crate::cleanup::{CleanupPlan, CleanupPolicy, PoolDecision};
use crate::domain::doctor::Checklist;
use crate::domain::{
    AttachedPool, CheckPoolSpec, Command, ComputeName, ComputeNameError, Envelope, JobResource,
    WorkspaceId,
};
use crate::engine::{CommandContext, Engine, EngineError, Outcome};
use crate::handler::AppState;

/// Why a page could not show something (rendered in place, with the cause).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("Azure ML: {0}")]
    Arm(#[from] ArmError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("pool name: {0}")]
    PoolName(#[from] ComputeNameError),
    #[error("the CheckPool reply carried no checklist")]
    NoChecklist,
}

/// The workspaces the Studio shows: the default one and those the cleanup timer looks after.
pub fn workspaces(state: &AppState) -> Vec<(WorkspaceId, CleanupPolicy)> {
    let mut out: Vec<(WorkspaceId, CleanupPolicy)> = state.inner.cleanup.clone();
    if let Some(ws) = &state.inner.engine.settings().default_workspace
        && !out
            .iter()
            .any(|(w, _)| w.arm_id().eq_ignore_ascii_case(&ws.arm_id()))
    {
        out.insert(0, (ws.clone(), CleanupPolicy::default()));
    }
    out
}

/// The allowed workspace a form or link names (by ARM id), if it is one.
pub fn workspace(state: &AppState, arm_id: Option<&str>) -> Option<(WorkspaceId, CleanupPolicy)> {
    let all = workspaces(state);
    match arm_id {
        Some(id) => all
            .into_iter()
            .find(|(w, _)| w.arm_id().eq_ignore_ascii_case(id)),
        None => all.into_iter().next(),
    }
}

/// Attached Synapse Spark pools of a workspace, in ARM's order.
pub async fn pools(engine: &Engine, ws: &WorkspaceId) -> Result<Vec<AttachedPool>, ReadError> {
    let computes = engine.arm().list_computes(ws).await?;
    Ok(computes
        .iter()
        .filter_map(|c| AttachedPool::from_resource(c).ok())
        .filter(AttachedPool::is_synapse_spark)
        .collect())
}

/// A job as the details page lists it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub name: String,
    pub display_name: Option<String>,
    /// As Azure ML reports it (Running, Completed, Failed, …).
    pub status: String,
    pub created_at: Option<OffsetDateTime>,
}

/// Fields the typed job model leaves unmodelled: display name and creation time.
fn job_row(job: &JobResource) -> Option<JobRow> {
    let properties = job.properties.as_ref();
    let extra = |key: &str| properties.and_then(|p| p.extra.get(key));
    Some(JobRow {
        name: job.name.clone()?,
        display_name: extra("displayName")
            .and_then(Value::as_str)
            .map(str::to_owned),
        status: properties
            .and_then(|p| p.status.clone())
            .unwrap_or_else(|| "Unknown".to_owned()),
        created_at: extra("creationContext")
            .and_then(|c| c.get("createdAt"))
            .and_then(Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
    })
}

/// The workspace's jobs that ran on this pool, newest first.
pub async fn jobs_on(
    engine: &Engine,
    ws: &WorkspaceId,
    pool: &str,
) -> Result<Vec<JobRow>, ReadError> {
    let filter = JobListFilter {
        compute: Some(ComputeName::parse(pool)?),
        active_only: false,
    };
    let jobs = engine.arm().list_jobs(ws, &filter).await?;
    let mut rows: Vec<JobRow> = jobs.iter().filter_map(job_row).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Ok(rows)
}

/// One line of the cleanup plan.
#[derive(Debug, Clone)]
pub struct PlannedPool {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct PlanView {
    pub to_detach: Vec<PlannedPool>,
    pub kept: Vec<PlannedPool>,
}

impl From<&CleanupPlan> for PlanView {
    fn from(plan: &CleanupPlan) -> Self {
        let row = |d: &PoolDecision| PlannedPool {
            name: d.name.clone(),
            reason: d.decision.reason(),
        };
        Self {
            to_detach: plan.to_detach().map(row).collect(),
            kept: plan.kept().map(row).collect(),
        }
    }
}

/// What the next cleanup run would do in `ws`: the engine's own cleanup, as a dry run (it lists
/// and decides, and detaches nothing).
pub async fn cleanup_plan(
    engine: &Engine,
    ws: &WorkspaceId,
    policy: &CleanupPolicy,
) -> Result<PlanView, ReadError> {
    let mut dry = policy.clone();
    dry.dry_run = true;
    let ctx = CommandContext::new(
        format!("studio-plan-{}", uuid::Uuid::new_v4().simple()),
        OffsetDateTime::now_utc(),
    );
    let report = engine.run_cleanup(ws, &dry, &ctx).await?;
    Ok(PlanView::from(&report.plan))
}

/// The `doctor` checklist of one pool: a `CheckPool` command run through [`Engine::execute`],
/// the path the queue and `poolbroker doctor` take (it only reads, so a page may run it).
pub async fn doctor(engine: &Engine, ws: &WorkspaceId, pool: &str) -> Result<Checklist, ReadError> {
    let mut envelope = Envelope::new(Command::CheckPool(CheckPoolSpec {
        name: ComputeName::parse(pool)?,
    }));
    envelope.workspace = Some(ws.clone());
    let ctx = CommandContext::new(
        format!("studio-doctor-{}", uuid::Uuid::new_v4().simple()),
        OffsetDateTime::now_utc(),
    );
    match engine.execute(&envelope, &ctx).await? {
        Outcome::Reply(reply) => reply
            .extra
            .get("checklist")
            .and_then(Checklist::from_json)
            .ok_or(ReadError::NoChecklist),
        // CheckPool starts no long-running ARM operation, so there is nothing to follow up.
        Outcome::FollowUp(_) => Err(ReadError::NoChecklist),
    }
}
