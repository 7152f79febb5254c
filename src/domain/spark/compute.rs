//! Where a job runs: an attached Synapse pool or serverless Spark, and why (docs/jobs.md).

use super::error::SparkJobError;
use super::serverless::{InstanceType, RuntimeVersion};
use super::settings::SparkDefaults;
use super::spec::{ComputeRequest, Fallback, SparkJobSpec};
use crate::domain::AttachedPool;
use crate::domain::ErrorCode;

/// Pool tag matched against a job's `workload` (a hyphen: ARM refuses `/` in tag names).
pub use crate::domain::tags::WORKLOAD_TAG;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputeTarget {
    Pool {
        name: String,
        compute_id: String,
    },
    Serverless {
        instance_type: InstanceType,
        runtime_version: RuntimeVersion,
    },
}

impl ComputeTarget {
    /// `pool NAME` / `serverless (TYPE, Spark X.Y)`, for span attributes and logs.
    pub fn summary(&self) -> String {
        match self {
            Self::Pool { name, .. } => format!("pool {name}"),
            Self::Serverless {
                instance_type,
                runtime_version,
            } => format!("serverless ({instance_type}, Spark {runtime_version})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeDecision {
    pub target: ComputeTarget,
    /// Why, in words: goes into the reply, the job's tags and the trace.
    pub reason: String,
}

/// Decides where `spec` runs given the workspace's attached computes (in ARM's order).
pub fn decide_compute(
    spec: &SparkJobSpec,
    pools: &[AttachedPool],
    defaults: &SparkDefaults,
) -> Result<ComputeDecision, SparkJobError> {
    let wanted = spec.resources.runtime_version;
    match &spec.compute {
        ComputeRequest::Named(name) => {
            let name = name.as_str();
            let pool = pools.iter().find(|p| p.name.eq_ignore_ascii_case(name));
            let problem = match pool {
                None => Unfit {
                    code: ErrorCode::PoolNotFound,
                    text: format!("pool {name} is not attached"),
                },
                Some(pool) => match unfit(pool, wanted) {
                    Some(u) => u,
                    None => {
                        return Ok(ComputeDecision {
                            target: pool_target(pool),
                            reason: format!("pool {} as requested{}", pool.name, runs(pool)),
                        });
                    }
                },
            };
            match spec.fallback {
                Fallback::Serverless => serverless(
                    spec,
                    defaults,
                    format!("{}; fell back to serverless", problem.text),
                ),
                Fallback::None => Err(SparkJobError::refused(
                    problem.code.clone(),
                    "spec.compute",
                    format!(
                        "{}{}; choose another compute, or set fallback: serverless",
                        problem.text,
                        match problem.code {
                            ErrorCode::PoolNotFound => attached_list(pools),
                            _ => String::new(),
                        }
                    ),
                )),
            }
        }
        ComputeRequest::Auto => {
            let (candidates, source) = candidates(spec, pools);
            let mut skipped = Vec::new();
            for candidate in &candidates {
                match candidate {
                    Candidate::Missing(name) => {
                        skipped.push(format!("pool {name} is not attached"))
                    }
                    Candidate::Pool(pool) => match unfit(pool, wanted) {
                        Some(u) => skipped.push(u.text),
                        None => {
                            let mut reason = format!(
                                "pool {}: first eligible pool {source}{}",
                                pool.name,
                                runs(pool)
                            );
                            if !skipped.is_empty() {
                                reason.push_str(&format!(" (skipped: {})", skipped.join("; ")));
                            }
                            return Ok(ComputeDecision {
                                target: pool_target(pool),
                                reason,
                            });
                        }
                    },
                }
            }
            let why = match (
                &spec.workload,
                spec.pool_preference.is_empty(),
                skipped.is_empty(),
            ) {
                (_, _, false) => format!("no eligible pool ({})", skipped.join("; ")),
                (Some(w), true, true) => format!("no pool tagged {WORKLOAD_TAG}={w}"),
                (None, true, true) => "no pool_preference or workload given".to_owned(),
                // A non-empty preference always yields candidates, so skipped is not empty.
                (_, false, true) => "no eligible pool".to_owned(),
            };
            match spec.fallback {
                Fallback::Serverless => {
                    serverless(spec, defaults, format!("{why}; fell back to serverless"))
                }
                Fallback::None => Err(SparkJobError::refused(
                    ErrorCode::NoEligiblePool,
                    "spec.compute",
                    format!("{why}, and fallback is none"),
                )),
            }
        }
    }
}

struct Unfit {
    code: ErrorCode,
    text: String,
}

enum Candidate<'a> {
    Pool(&'a AttachedPool),
    Missing(&'a str),
}

/// The pools `compute: auto` may use, in the order they are tried, and how they were found.
fn candidates<'a>(
    spec: &'a SparkJobSpec,
    pools: &'a [AttachedPool],
) -> (Vec<Candidate<'a>>, String) {
    if !spec.pool_preference.is_empty() {
        let list = spec
            .pool_preference
            .iter()
            .map(|name| {
                pools
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(name.as_str()))
                    .map_or(Candidate::Missing(name.as_str()), Candidate::Pool)
            })
            .collect();
        return (list, "in pool_preference".to_owned());
    }
    let Some(workload) = &spec.workload else {
        return (Vec::new(), String::new());
    };
    // ARM's list order is not meaningful; by name makes the choice reproducible.
    let mut tagged: Vec<&AttachedPool> = pools
        .iter()
        .filter(|p| p.is_synapse_spark())
        .filter(|p| {
            p.tags.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case(WORKLOAD_TAG) && v.eq_ignore_ascii_case(workload)
            })
        })
        .collect();
    tagged.sort_by_key(|p| p.name.to_ascii_lowercase());
    (
        tagged.into_iter().map(Candidate::Pool).collect(),
        format!("tagged {WORKLOAD_TAG}={workload}"),
    )
}

/// Why `pool` cannot take the job now; `None` when it can.
fn unfit(pool: &AttachedPool, wanted: Option<RuntimeVersion>) -> Option<Unfit> {
    let name = &pool.name;
    if !pool.is_synapse_spark() {
        return Some(Unfit {
            code: ErrorCode::ComputeNotSparkPool,
            text: format!(
                "{name} is a {} compute, not a Synapse Spark pool",
                pool.compute_type
            ),
        });
    }
    match pool.provisioning_state.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("Succeeded") => {}
        Some(s) => {
            return Some(Unfit {
                code: ErrorCode::PoolNotReady,
                text: format!("pool {name} is {s}"),
            });
        }
        None => {
            return Some(Unfit {
                code: ErrorCode::PoolNotReady,
                text: format!("pool {name} reports no provisioning state"),
            });
        }
    }
    let wanted = wanted?;
    match pool.spark_version.as_deref() {
        Some(v) if RuntimeVersion::of_pool(v) == Some(wanted) => None,
        Some(v) => Some(Unfit {
            code: ErrorCode::RuntimeMismatch,
            text: format!("pool {name} runs Spark {v}, the job needs {wanted}"),
        }),
        None => Some(Unfit {
            code: ErrorCode::RuntimeMismatch,
            text: format!("pool {name} does not report its Spark version, the job needs {wanted}"),
        }),
    }
}

fn runs(pool: &AttachedPool) -> String {
    pool.spark_version
        .as_deref()
        .map(|v| format!(" (Spark {v})"))
        .unwrap_or_default()
}

fn pool_target(pool: &AttachedPool) -> ComputeTarget {
    ComputeTarget::Pool {
        name: pool.name.clone(),
        compute_id: pool.id.clone(),
    }
}

fn attached_list(pools: &[AttachedPool]) -> String {
    let names: Vec<&str> = pools
        .iter()
        .filter(|p| p.is_synapse_spark())
        .map(|p| p.name.as_str())
        .collect();
    if names.is_empty() {
        " (no Synapse Spark pool is attached to the workspace)".to_owned()
    } else {
        format!(" (attached Spark pools: {})", names.join(", "))
    }
}

fn serverless(
    spec: &SparkJobSpec,
    defaults: &SparkDefaults,
    why: String,
) -> Result<ComputeDecision, SparkJobError> {
    let instance_type = spec
        .resources
        .instance_type
        .clone()
        .unwrap_or_else(|| defaults.instance_type.clone());
    let runtime_version = spec
        .resources
        .runtime_version
        .unwrap_or(defaults.runtime_version);
    if !runtime_version.is_serverless_supported() {
        return Err(SparkJobError::refused(
            ErrorCode::UnsupportedRuntime,
            "spec.resources.runtime_version",
            format!("{why}, but serverless Spark runs 3.3 or 3.4, not {runtime_version}"),
        ));
    }
    Ok(ComputeDecision {
        reason: format!("{why} ({instance_type}, Spark {runtime_version})"),
        target: ComputeTarget::Serverless {
            instance_type,
            runtime_version,
        },
    })
}
