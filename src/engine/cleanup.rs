//! The cleanup timer's work for one workspace: gather facts, let the pure policy decide, re-check
//! each pool right before acting, and detach through the same `DetachPool` path as queue
//! commands (whose own running-job check refuses a busy pool even on a stale plan).

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::azureml::JobListFilter;
use crate::cleanup::{CleanupPlan, CleanupPolicy, JobFacts, PoolFacts, plan, recheck};
use crate::domain::{
    AttachedPool, Command, ComputeName, DetachPoolSpec, Envelope, ErrorCode, JobResource,
    WorkspaceId, to_json,
};

use super::{CommandContext, Engine, EngineError, Outcome, Rejection};

/// What one workspace's cleanup did: one entry of the `cleanup-reports` message
/// (docs/cleanup.md), the plan's fields first.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupReport {
    #[serde(flatten)]
    pub plan: CleanupPlan,
    pub workspace: String,
    pub detached: Vec<DetachedPool>,
    pub kept_at_detach: Vec<KeptPool>,
    pub failed: Vec<FailedPool>,
}

impl CleanupReport {
    pub fn to_json(&self) -> Value {
        crate::domain::to_json(self)
    }
}

/// A pool detached by this run, or found already gone.
#[derive(Debug, Clone, Serialize)]
pub struct DetachedPool {
    pub name: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_gone: Option<bool>,
    /// Where it was found gone: `recheck` (the re-read) or `detach` (ARM answered 204).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_gone: Option<&'static str>,
}

/// A pool the plan would detach but the re-check (or the detach's own busy check) kept.
#[derive(Debug, Clone, Serialize)]
pub struct KeptPool {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedPool {
    pub name: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CleanupFailure>,
}

/// Why a detach failed: the rejection as replies carry it, or what went wrong on the way.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CleanupFailure {
    Rejected(Rejection),
    Text(String),
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
            plan: decided.clone(),
            workspace: ws_id.clone(),
            detached: Vec::new(),
            kept_at_detach: Vec::new(),
            failed: Vec::new(),
        };
        if decided.dry_run {
            return Ok(report);
        }
        for decision in decided.to_detach() {
            let reason = decision.decision.reason();
            let Ok(name) = ComputeName::parse(&decision.name) else {
                report.failed.push(FailedPool {
                    name: decision.name.clone(),
                    reason: "not a valid compute name".into(),
                    error: None,
                });
                continue;
            };
            // The listing may be stale: another run (another instance, a late timer) may be
            // detaching the pool, it may have gained a job or a keep tag, or a new ttl.
            match self.recheck(workspace, &name, policy, ctx).await {
                Err(why) => {
                    report.failed.push(FailedPool {
                        name: decision.name.clone(),
                        reason,
                        error: Some(CleanupFailure::Text(why)),
                    });
                    continue;
                }
                Ok(Recheck::Gone) => {
                    report.detached.push(DetachedPool {
                        name: decision.name.clone(),
                        reason: "already detached: no longer in the workspace (another run or a person detached it)".into(),
                        already_gone: Some(true),
                        found_gone: Some("recheck"),
                    });
                    continue;
                }
                Ok(Recheck::Keep(why)) => {
                    report.kept_at_detach.push(KeptPool {
                        name: decision.name.clone(),
                        reason: why,
                    });
                    continue;
                }
                Ok(Recheck::Detach) => {}
            }
            let mut envelope =
                Envelope::new(Command::DetachPool(DetachPoolSpec { name, force: false }));
            envelope.workspace = Some(workspace.clone());
            match self.execute(&envelope, ctx).await {
                // Nothing was there any more: another run (or a person) detached it first.
                Ok(Outcome::Reply(reply)) if reply.already_detached => {
                    report.detached.push(DetachedPool {
                        name: decision.name.clone(),
                        reason,
                        already_gone: Some(true),
                        found_gone: Some("detach"),
                    });
                }
                Ok(Outcome::Reply(_)) | Ok(Outcome::FollowUp(_)) => {
                    report.detached.push(DetachedPool {
                        name: decision.name.clone(),
                        reason,
                        already_gone: None,
                        found_gone: None,
                    })
                }
                Err(EngineError::Rejected(rejection)) if rejection.code == ErrorCode::PoolBusy => {
                    report.kept_at_detach.push(KeptPool {
                        name: decision.name.clone(),
                        reason: rejection.message,
                    })
                }
                // Another cleanup run (another instance, a late timer) is detaching it right now.
                Err(EngineError::Rejected(rejection))
                    if rejection.code.is_arm_conflict() || rejection.message.contains("409") =>
                {
                    report.kept_at_detach.push(KeptPool {
                        name: decision.name.clone(),
                        reason: "another operation on this compute is in progress (a concurrent cleanup run)".into(),
                    });
                }
                Err(EngineError::Rejected(rejection)) => report.failed.push(FailedPool {
                    name: decision.name.clone(),
                    reason,
                    error: Some(CleanupFailure::Rejected(*rejection)),
                }),
                Err(transient) => report.failed.push(FailedPool {
                    name: decision.name.clone(),
                    reason,
                    error: Some(CleanupFailure::Text(transient.to_string())),
                }),
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
