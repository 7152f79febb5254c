//! Every cleanup rule, its precedence, the boundary instants and the report shape.

use std::time::Duration;

use indexmap::IndexMap;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::domain::{EXPIRES_AT_TAG, KEEP_TAG, MANAGED_TAG};

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);
const HOUR: Duration = Duration::from_secs(3600);

fn pool(name: &str, tags: &[(&str, &str)]) -> PoolFacts {
    PoolFacts {
        name: name.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<IndexMap<_, _>>(),
        provisioning_state: "Succeeded".into(),
        created_on: Some(datetime!(2026-11-01 00:00:00 UTC)),
    }
}

fn managed(name: &str, extra: &[(&str, &str)]) -> PoolFacts {
    let mut tags = vec![(MANAGED_TAG, "true")];
    tags.extend_from_slice(extra);
    pool(name, &tags)
}

fn job(
    name: &str,
    compute: &str,
    status: &str,
    created: OffsetDateTime,
    ended: Option<OffsetDateTime>,
) -> JobFacts {
    JobFacts {
        name: name.into(),
        compute_name: Some(compute.into()),
        status: status.into(),
        end_time: ended,
        creation_time: Some(created),
    }
}

fn policy() -> CleanupPolicy {
    CleanupPolicy::default()
}

fn idle(hours: u64) -> CleanupPolicy {
    CleanupPolicy {
        idle_after: Some(HOUR * hours as u32),
        ..CleanupPolicy::default()
    }
}

fn decide(pool: &PoolFacts, jobs: &[JobFacts], policy: &CleanupPolicy) -> Decision {
    recheck(pool, jobs, policy, NOW)
}

#[test]
fn keep_tag_wins_over_everything() {
    let p = managed(
        "p",
        &[(KEEP_TAG, "TRUE"), (EXPIRES_AT_TAG, "2000-01-01T00:00:00Z")],
    );
    let decision = decide(&p, &[], &idle(1));
    assert_eq!(decision, Decision::Keep(KeepReason::KeepTag));
    assert_eq!(decision.reason(), "kept: poolbroker-keep=true");
    // keep=false is not a keep.
    let p = managed(
        "p",
        &[
            (KEEP_TAG, "false"),
            (EXPIRES_AT_TAG, "2000-01-01T00:00:00Z"),
        ],
    );
    assert!(decide(&p, &[], &policy()).is_detach());
}

#[test]
fn unmanaged_pools_are_kept_unless_manage_all() {
    let p = pool("foreign", &[(EXPIRES_AT_TAG, "2000-01-01T00:00:00Z")]);
    let decision = decide(&p, &[], &policy());
    assert_eq!(decision, Decision::Keep(KeepReason::NotManaged));
    assert_eq!(
        decision.reason(),
        "not attached by poolbroker (no poolbroker-managed=true tag) and manage_all is false"
    );
    let all = CleanupPolicy {
        manage_all: true,
        ..policy()
    };
    assert_eq!(
        decide(&p, &[], &all).reason(),
        "expired at 2000-01-01T00:00:00Z"
    );
    // Tag names compare case-insensitively, as in ARM.
    let p = pool(
        "p",
        &[
            ("Poolbroker-Managed", "true"),
            ("POOLBROKER-EXPIRES-AT", "2000-01-01T00:00:00Z"),
        ],
    );
    assert!(decide(&p, &[], &policy()).is_detach());
}

#[test]
fn pools_not_succeeded_are_kept() {
    for state in ["Creating", "Updating", "Deleting", "Failed"] {
        let mut p = managed("p", &[(EXPIRES_AT_TAG, "2000-01-01T00:00:00Z")]);
        p.provisioning_state = state.into();
        let decision = decide(&p, &[], &policy());
        assert_eq!(
            decision.reason(),
            format!("provisioning state is {state}, not Succeeded")
        );
    }
}

#[test]
fn a_running_job_keeps_an_expired_pool() {
    let p = managed("sparkpool1", &[(EXPIRES_AT_TAG, "2026-11-22T11:00:00Z")]);
    let compute = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/SparkPool1";
    let jobs = [
        job(
            "old",
            compute,
            "Completed",
            datetime!(2026-11-20 00:00 UTC),
            Some(datetime!(2026-11-20 01:00 UTC)),
        ),
        job(
            "etl-42",
            compute,
            "Running",
            datetime!(2026-11-22 11:30 UTC),
            None,
        ),
        job("elsewhere", "otherpool", "Running", NOW, None),
    ];
    let decision = decide(&p, &jobs, &idle(1));
    assert_eq!(
        decision,
        Decision::Keep(KeepReason::RunningJob {
            job: "etl-42".into(),
            status: "Running".into()
        })
    );
    assert_eq!(decision.reason(), "has running job etl-42 (status Running)");
    // Unknown or unfamiliar statuses count as running.
    for status in ["Queued", "NotStarted", "Unknown", "Paused", "SomethingNew"] {
        let jobs = [job("j", "sparkpool1", status, NOW, None)];
        assert!(!decide(&p, &jobs, &policy()).is_detach(), "{status}");
    }
    for status in ["Completed", "Failed", "Canceled", "cancelled"] {
        let jobs = [job(
            "j",
            "sparkpool1",
            status,
            datetime!(2026-11-01 00:00 UTC),
            None,
        )];
        assert!(decide(&p, &jobs, &policy()).is_detach(), "{status}");
    }
}

#[test]
fn jobs_on_other_pools_or_serverless_do_not_count() {
    let p = managed("p1", &[(EXPIRES_AT_TAG, "2026-11-22T11:00:00Z")]);
    let mut serverless = job("s", "x", "Running", NOW, None);
    serverless.compute_name = None;
    let jobs = [
        serverless,
        job("other", ".../computes/p10", "Running", NOW, None),
    ];
    assert!(decide(&p, &jobs, &policy()).is_detach());
}

#[test]
fn expiry_boundary_is_inclusive() {
    let at_now = managed("p", &[(EXPIRES_AT_TAG, "2026-11-22T12:00:00Z")]);
    assert_eq!(
        decide(&at_now, &[], &policy()),
        Decision::Detach(DetachReason::Expired { at: NOW })
    );
    let just_after = managed("p", &[(EXPIRES_AT_TAG, "2026-11-22T12:00:00.001Z")]);
    let decision = decide(&just_after, &[], &policy());
    assert!(!decision.is_detach());
    assert_eq!(decision.reason(), "expires at 2026-11-22T12:00:00.001Z");
    // Offsets are honoured: 13:00+01:00 is 12:00Z.
    let offset = managed("p", &[(EXPIRES_AT_TAG, "2026-11-22T13:00:00+01:00")]);
    assert_eq!(
        decide(&offset, &[], &policy()).reason(),
        "expired at 2026-11-22T12:00:00Z"
    );
}

#[test]
fn an_unparseable_expiry_keeps_the_pool_and_names_the_value() {
    let p = managed("p", &[(EXPIRES_AT_TAG, "next tuesday")]);
    let decision = decide(&p, &[], &idle(1));
    assert_eq!(
        decision,
        Decision::Keep(KeepReason::InvalidExpiresAt {
            value: "next tuesday".into()
        })
    );
    assert!(
        decision.reason().contains("'next tuesday'"),
        "{}",
        decision.reason()
    );
}

#[test]
fn idle_pools_are_detached_at_the_window_edge() {
    let p = managed("p", &[]);
    let ended = datetime!(2026-11-22 10:00:00 UTC);
    let jobs = [job(
        "j",
        "p",
        "Completed",
        datetime!(2026-11-22 09:00 UTC),
        Some(ended),
    )];
    let decision = decide(&p, &jobs, &idle(2));
    assert_eq!(
        decision,
        Decision::Detach(DetachReason::Idle {
            since: ended,
            idle_after: 2 * HOUR
        })
    );
    assert_eq!(
        decision.reason(),
        "idle since 2026-11-22T10:00:00Z (idle_after 2h)"
    );
    let one_second_later = [job(
        "j",
        "p",
        "Completed",
        datetime!(2026-11-22 09:00 UTC),
        Some(datetime!(2026-11-22 10:00:01 UTC)),
    )];
    let kept = decide(&p, &one_second_later, &idle(2));
    assert_eq!(
        kept.reason(),
        "last active at 2026-11-22T10:00:01Z, within idle_after 2h"
    );
}

#[test]
fn a_job_created_within_the_window_counts_as_activity() {
    let p = managed("p", &[]);
    let jobs = [job(
        "j",
        "p",
        "Failed",
        datetime!(2026-11-22 11:00 UTC),
        None,
    )];
    assert!(!decide(&p, &jobs, &idle(2)).is_detach());
}

#[test]
fn a_pool_without_jobs_is_idle_from_its_creation() {
    let mut p = managed("p", &[]);
    p.created_on = Some(datetime!(2026-11-22 11:30 UTC));
    assert!(!decide(&p, &[], &idle(1)).is_detach());
    p.created_on = Some(datetime!(2026-11-22 10:00 UTC));
    assert_eq!(
        decide(&p, &[], &idle(1)).reason(),
        "idle since 2026-11-22T10:00:00Z (idle_after 1h)"
    );
    p.created_on = None;
    assert_eq!(
        decide(&p, &[], &idle(1)),
        Decision::Keep(KeepReason::IdleUnknown)
    );
}

#[test]
fn without_expiry_or_idle_policy_nothing_is_due() {
    let decision = decide(&managed("p", &[]), &[], &policy());
    assert_eq!(
        decision.reason(),
        "no poolbroker-expires-at tag and no idle_after policy"
    );
}

#[test]
fn plan_reports_in_the_report_shape() {
    let pools = [
        managed("expired", &[(EXPIRES_AT_TAG, "2026-11-22T11:00:00Z")]),
        managed("kept", &[(KEEP_TAG, "true")]),
        managed("busy", &[(EXPIRES_AT_TAG, "2026-11-22T11:00:00Z")]),
        pool("foreign", &[]),
    ];
    let jobs = [job("run-1", "busy", "Running", NOW, None)];
    let policy = CleanupPolicy {
        dry_run: true,
        ..policy()
    };
    let plan = plan(&pools, &jobs, &policy, NOW);
    assert_eq!(
        plan.to_detach()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["expired"]
    );
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        json!({
            "examined": 4,
            "kept": [
                {"name": "kept", "reason": "kept: poolbroker-keep=true"},
                {"name": "busy", "reason": "has running job run-1 (status Running)"},
                {"name": "foreign", "reason": "not attached by poolbroker (no poolbroker-managed=true tag) and manage_all is false"}
            ],
            "to_detach": [{"name": "expired", "reason": "expired at 2026-11-22T11:00:00Z"}],
            "dry_run": true
        })
    );
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.starts_with("{\"examined\":4,\"kept\":"), "{text}");
}

#[test]
fn recheck_keeps_a_pool_that_gained_a_running_job() {
    let p = managed("p", &[(EXPIRES_AT_TAG, "2026-11-22T11:00:00Z")]);
    let listed = plan(std::slice::from_ref(&p), &[], &policy(), NOW);
    assert!(listed.decisions[0].decision.is_detach());
    let later = NOW + time::Duration::seconds(5);
    let jobs = [job("late", "p", "Queued", later, None)];
    assert_eq!(
        recheck(&p, &jobs, &policy(), later).reason(),
        "has running job late (status Queued)"
    );
}

#[test]
fn plan_of_nothing_is_empty() {
    let plan = plan(&[], &[], &policy(), NOW);
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        json!({"examined": 0, "kept": [], "to_detach": [], "dry_run": false})
    );
}
