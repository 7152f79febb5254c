//! The cleanup decision for every pool of a workspace.

use serde::ser::{Serialize, SerializeMap, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::decision::{Decision, DetachReason, KeepReason};
use super::facts::{JobFacts, PoolFacts};
use super::settings::CleanupPolicy;
use crate::domain::{EXPIRES_AT_TAG, KEEP_TAG, MANAGED_TAG, tag_is_true, tag_value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDecision {
    pub name: String,
    pub decision: Decision,
}

/// Decisions in the order the pools were listed. Serializes to the report shape
/// `{examined, kept: [{name, reason}], to_detach: [{name, reason}], dry_run}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupPlan {
    pub dry_run: bool,
    pub decisions: Vec<PoolDecision>,
}

impl CleanupPlan {
    pub fn kept(&self) -> impl Iterator<Item = &PoolDecision> {
        self.decisions.iter().filter(|d| !d.decision.is_detach())
    }

    pub fn to_detach(&self) -> impl Iterator<Item = &PoolDecision> {
        self.decisions.iter().filter(|d| d.decision.is_detach())
    }
}

pub fn plan(
    pools: &[PoolFacts],
    jobs: &[JobFacts],
    policy: &CleanupPolicy,
    now: OffsetDateTime,
) -> CleanupPlan {
    CleanupPlan {
        dry_run: policy.dry_run,
        decisions: pools
            .iter()
            .map(|pool| PoolDecision {
                name: pool.name.clone(),
                decision: decide(pool, jobs, policy, now),
            })
            .collect(),
    }
}

/// The same rules, for one pool, on facts re-read right before detaching: a pool that gained a
/// running job (or a keep tag) since the listing is kept.
pub fn recheck(
    pool: &PoolFacts,
    jobs: &[JobFacts],
    policy: &CleanupPolicy,
    now: OffsetDateTime,
) -> Decision {
    decide(pool, jobs, policy, now)
}

/// Protections first, then the detach triggers; any doubt keeps the pool.
fn decide(
    pool: &PoolFacts,
    jobs: &[JobFacts],
    policy: &CleanupPolicy,
    now: OffsetDateTime,
) -> Decision {
    if tag_is_true(tag_value(&pool.tags, KEEP_TAG)) {
        return Decision::Keep(KeepReason::KeepTag);
    }
    if !policy.manage_all && !tag_is_true(tag_value(&pool.tags, MANAGED_TAG)) {
        return Decision::Keep(KeepReason::NotManaged);
    }
    if !pool
        .provisioning_state
        .trim()
        .eq_ignore_ascii_case("Succeeded")
    {
        return Decision::Keep(KeepReason::NotSucceeded {
            state: pool.provisioning_state.clone(),
        });
    }
    let pool_jobs: Vec<&JobFacts> = jobs.iter().filter(|job| job.runs_on(&pool.name)).collect();
    if let Some(running) = pool_jobs.iter().find(|job| !job.is_terminal()) {
        return Decision::Keep(KeepReason::RunningJob {
            job: running.name.clone(),
            status: running.status.clone(),
        });
    }
    let expires_at = match tag_value(&pool.tags, EXPIRES_AT_TAG) {
        None => None,
        Some(value) => match OffsetDateTime::parse(value.trim(), &Rfc3339) {
            Ok(at) => Some(at),
            Err(_) => {
                return Decision::Keep(KeepReason::InvalidExpiresAt {
                    value: value.to_string(),
                });
            }
        },
    };
    // At the exact instant of expiry the pool counts as expired.
    if let Some(at) = expires_at.filter(|at| *at <= now) {
        return Decision::Detach(DetachReason::Expired { at });
    }
    let last_activity = pool_jobs
        .iter()
        .filter_map(|job| job.last_activity())
        .chain(pool.created_on)
        .max();
    if let Some(idle_after) = policy.idle_after {
        let Some(since) = last_activity else {
            return Decision::Keep(KeepReason::IdleUnknown);
        };
        // Idle for exactly `idle_after` counts as idle; an overflowing window never elapses.
        let elapsed = time::Duration::try_from(idle_after)
            .ok()
            .and_then(|window| since.checked_add(window))
            .is_some_and(|deadline| deadline <= now);
        if elapsed {
            return Decision::Detach(DetachReason::Idle { since, idle_after });
        }
    }
    Decision::Keep(KeepReason::NotDue {
        expires_at,
        last_activity,
        idle_after: policy.idle_after,
    })
}

fn listed<'a>(decisions: impl Iterator<Item = &'a PoolDecision>) -> Vec<serde_json::Value> {
    decisions
        .map(|d| serde_json::json!({ "name": d.name, "reason": d.decision.reason() }))
        .collect()
}

impl Serialize for CleanupPlan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("examined", &self.decisions.len())?;
        map.serialize_entry("kept", &listed(self.kept()))?;
        map.serialize_entry("to_detach", &listed(self.to_detach()))?;
        map.serialize_entry("dry_run", &self.dry_run)?;
        map.end()
    }
}
