//! What the pages show from Azure ML, read directly through the engine's ARM client (reads are
//! not commands; every change goes through the queue). ARM JSON becomes typed rows here.

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::azureml::JobListFilter;
use crate::cleanup::CleanupPolicy;
use crate::domain::{AttachedPool, WorkspaceId};
use crate::engine::{CommandContext, Engine};
use crate::handler::AppState;

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
pub async fn pools(engine: &Engine, ws: &WorkspaceId) -> Result<Vec<AttachedPool>, String> {
    let computes = engine
        .arm()
        .list_computes(&ws.arm_id())
        .await
        .map_err(|e| e.to_string())?;
    Ok(computes
        .iter()
        .filter_map(|c| AttachedPool::from_arm(c).ok())
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

#[derive(Deserialize)]
struct ArmJob {
    name: String,
    #[serde(default)]
    properties: ArmJobProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ArmJobProperties {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    creation_context: Option<CreationContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreationContext {
    #[serde(default)]
    created_at: Option<String>,
}

fn job_row(value: &Value) -> Option<JobRow> {
    let job: ArmJob = serde_json::from_value(value.clone()).ok()?;
    Some(JobRow {
        name: job.name,
        display_name: job.properties.display_name,
        status: job
            .properties
            .status
            .unwrap_or_else(|| "Unknown".to_owned()),
        created_at: job
            .properties
            .creation_context
            .and_then(|c| c.created_at)
            .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok()),
    })
}

/// The workspace's jobs that ran on this pool, newest first.
pub async fn jobs_on(
    engine: &Engine,
    ws: &WorkspaceId,
    pool_id: &str,
) -> Result<Vec<JobRow>, String> {
    let filter = JobListFilter {
        compute_id: Some(pool_id.to_owned()),
        active_only: false,
    };
    let jobs = engine
        .arm()
        .list_jobs(&ws.arm_id(), &filter)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows: Vec<JobRow> = jobs.iter().filter_map(job_row).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Ok(rows)
}

/// One line of the cleanup plan.
#[derive(Debug, Clone, Deserialize)]
pub struct PlannedPool {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct PlanView {
    #[serde(default)]
    pub to_detach: Vec<PlannedPool>,
    #[serde(default)]
    pub kept: Vec<PlannedPool>,
}

/// What the next cleanup run would do in `ws`: the engine's own cleanup, as a dry run (it lists
/// and decides, and detaches nothing).
pub async fn cleanup_plan(
    engine: &Engine,
    ws: &WorkspaceId,
    policy: &CleanupPolicy,
) -> Result<PlanView, String> {
    let mut dry = policy.clone();
    dry.dry_run = true;
    let ctx = CommandContext::new(
        format!("studio-plan-{}", uuid::Uuid::new_v4().simple()),
        OffsetDateTime::now_utc(),
    );
    let report = engine
        .run_cleanup(ws, &dry, &ctx)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(report.plan).map_err(|e| format!("unexpected plan shape: {e}"))
}
