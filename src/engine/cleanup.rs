//! The cleanup timer's work for one workspace: gather facts, let the pure policy decide, re-check
//! each pool right before acting, and detach through the same `DetachPool` path as queue
//! commands (whose own running-job check refuses a busy pool even on a stale plan).

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::azureml::JobListFilter;
use crate::cleanup::{CleanupPolicy, JobFacts, PoolFacts, plan, recheck};
use crate::domain::{
    AttachedPool, Command, ComputeName, DetachPoolSpec, Envelope, JobResource, WorkspaceId, to_json,
};

use super::{CommandContext, Engine, EngineError, Outcome};

/// What one workspace's cleanup did, in the shape of the `cleanup-reports` message.
#[derive(Debug, Clone, Default)]
pub struct CleanupReport {
    pub workspace: String,
    pub plan: Value,
    pub detached: Vec<Value>,
    pub kept_at_detach: Vec<Value>,
    pub failed: Vec<Value>,
}

impl CleanupReport {
    pub fn to_json(&self) -> Value {
        let mut report = self.plan.clone();
        if let Some(map) = report.as_object_mut() {
            map.insert("workspace".into(), json!(self.workspace));
            map.insert("detached".into(), json!(self.detached));
            map.insert("kept_at_detach".into(), json!(self.kept_at_detach));
            map.insert("failed".into(), json!(self.failed));
        }
        report
    }
}

impl Engine {
    pub async fn run_cleanup(
        &self,
        workspace: &WorkspaceId,
        policy: &CleanupPolicy,
        ctx: &CommandContext,
    ) -> Result<CleanupReport, EngineError> {
        let ws_id = workspace.arm_id();
        let arm = self.arm_for(ctx);
        let pools: Vec<AttachedPool> = arm
            .list_computes(workspace)
            .await?
            .iter()
            .filter_map(|c| AttachedPool::from_resource(c).ok())
            .filter(AttachedPool::is_synapse_spark)
            .collect();
        let jobs: Vec<JobFacts> = arm
            .list_jobs(workspace, &JobListFilter::default())
            .await?
            .iter()
            .map(job_facts)
            .collect();
        let facts: Vec<PoolFacts> = pools.iter().map(pool_facts).collect();
        let decided = plan(&facts, &jobs, policy, ctx.now);
        let mut report = CleanupReport {
            workspace: ws_id.clone(),
            plan: serde_json::to_value(&decided).unwrap_or(Value::Null),
            ..CleanupReport::default()
        };
        if decided.dry_run {
            return Ok(report);
        }
        for decision in decided.to_detach() {
            let reason = decision.decision.reason();
            let Ok(name) = ComputeName::parse(&decision.name) else {
                report
                    .failed
                    .push(json!({"name": decision.name, "reason": "not a valid compute name"}));
                continue;
            };
            // The listing may be stale: another run (another instance, a late timer) may be
            // detaching the pool, it may have gained a job or a keep tag, or a new ttl.
            match self.recheck(workspace, &name, policy, ctx).await {
                Err(why) => {
                    report
                        .failed
                        .push(json!({"name": decision.name, "reason": reason, "error": why}));
                    continue;
                }
                Ok(Recheck::Gone) => {
                    report.detached.push(json!({
                        "name": decision.name,
                        "reason": "already detached: no longer in the workspace (another run or a person detached it)",
                        "already_gone": true,
                        "found_gone": "recheck",
                    }));
                    continue;
                }
                Ok(Recheck::Keep(why)) => {
                    report
                        .kept_at_detach
                        .push(json!({"name": decision.name, "reason": why}));
                    continue;
                }
                Ok(Recheck::Detach) => {}
            }
            let mut envelope =
                Envelope::new(Command::DetachPool(DetachPoolSpec { name, force: false }));
            envelope.workspace = Some(workspace.clone());
            match self.execute(&envelope, ctx).await {
                // Nothing was there any more: another run (or a person) detached it first.
                Ok(Outcome::Reply(reply)) if reply.extra.get("alreadyDetached").is_some() => {
                    report.detached.push(json!({
                        "name": decision.name,
                        "reason": reason,
                        "already_gone": true,
                        "found_gone": "detach",
                    }));
                }
                Ok(Outcome::Reply(_)) | Ok(Outcome::FollowUp(_)) => report
                    .detached
                    .push(json!({"name": decision.name, "reason": reason})),
                Err(EngineError::Rejected(rejection)) if rejection.code == "PoolBusy" => report
                    .kept_at_detach
                    .push(json!({"name": decision.name, "reason": rejection.message})),
                // Another cleanup run (another instance, a late timer) is detaching it right now.
                Err(EngineError::Rejected(rejection))
                    if rejection.code.eq_ignore_ascii_case("Conflict")
                        || rejection.message.contains("409") =>
                {
                    report.kept_at_detach.push(json!({
                        "name": decision.name,
                        "reason": "another operation on this compute is in progress (a concurrent cleanup run)"
                    }));
                }
                Err(EngineError::Rejected(rejection)) => report.failed.push(
                    json!({"name": decision.name, "reason": reason, "error": rejection.to_json()}),
                ),
                Err(EngineError::Transient(why)) => report
                    .failed
                    .push(json!({"name": decision.name, "reason": reason, "error": why})),
            }
        }
        Ok(report)
    }

    /// The cleanup rules again, on the pool and jobs as ARM has them right now. Jobs are read
    /// first and the pool last, so the pool's state is as fresh as possible when the detach goes.
    async fn recheck(
        &self,
        workspace: &WorkspaceId,
        name: &ComputeName,
        policy: &CleanupPolicy,
        ctx: &CommandContext,
    ) -> Result<Recheck, String> {
        let arm = self.arm_for(ctx);
        let jobs: Vec<JobFacts> = arm
            .list_jobs(workspace, &JobListFilter::default())
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(job_facts)
            .collect();
        let Some(compute) = arm
            .get_compute(workspace, name)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(Recheck::Gone);
        };
        let pool = AttachedPool::from_resource(&compute).map_err(|e| e.to_string())?;
        Ok(match recheck(&pool_facts(&pool), &jobs, policy, ctx.now) {
            decision if decision.is_detach() => Recheck::Detach,
            decision => Recheck::Keep(decision.reason()),
        })
    }
}

/// What the re-read right before a detach says.
enum Recheck {
    Detach,
    Keep(String),
    Gone,
}

fn pool_facts(pool: &AttachedPool) -> PoolFacts {
    PoolFacts {
        name: pool.name.clone(),
        tags: pool.tags.clone(),
        provisioning_state: pool.provisioning_state.clone().unwrap_or_default(),
        created_on: pool.created_on,
    }
}

fn job_facts(job: &JobResource) -> JobFacts {
    let job = &to_json(job);
    let props = &job["properties"];
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
    };
    JobFacts {
        name: job["name"].as_str().unwrap_or_default().to_owned(),
        compute_name: props["computeId"].as_str().map(str::to_owned),
        status: props["status"].as_str().unwrap_or("Unknown").to_owned(),
        end_time: time(&props["endTime"]).or_else(|| time(&props["services"]["Studio"]["endTime"])),
        creation_time: time(&job["systemData"]["createdAt"]),
    }
}
