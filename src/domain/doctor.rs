//! `poolbroker doctor NAME` / `CheckPool`: the checklist for one attached pool, built from facts
//! the engine gathered (compute, Synapse pool, role assignments). Pure, so the same list is
//! printed by the CLI, carried in replies and shown by Studio.

use serde_json::{Value, json};

use super::pool::AttachedPool;
use super::spark::{RuntimeVersion, SERVERLESS_RUNTIMES};
use super::synapse_rbac::Grant;

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub label: String,
    pub detail: String,
    /// What to do when `ok` is false.
    pub fix: Option<String>,
}

impl Check {
    fn pass(label: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            ok: true,
            label: label.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(label: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            ok: false,
            label: label.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What the engine found out about the Synapse pool the compute points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynapsePoolFact {
    Found {
        spark_version: Option<String>,
    },
    Missing {
        id: String,
    },
    /// The compute names no Synapse pool.
    Unknown,
}

/// Whether one identity holds its role, or why that could not be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleFact {
    Holds(Grant),
    Lacks(Grant),
    Unchecked { grant: Grant, why: String },
}

/// Facts about the compute's identities: either the grants it needs with whether each is held,
/// or why no grant could be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityFacts {
    Roles(Vec<RoleFact>),
    Unplannable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub name: String,
    pub workspace: String,
    pub compute: Option<AttachedPool>,
    pub synapse_pool: SynapsePoolFact,
    pub identities: IdentityFacts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checklist {
    pub name: String,
    pub checks: Vec<Check>,
}

impl Checklist {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// ✓/✗ lines, each ✗ followed by what to do.
    pub fn render(&self) -> String {
        let mut out = format!("doctor: {}\n", self.name);
        for c in &self.checks {
            let mark = if c.ok { '✓' } else { '✗' };
            out.push_str(&format!("  {mark} {}: {}\n", c.label, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      → {fix}\n"));
            }
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            out.push_str("  all checks passed\n");
        } else {
            out.push_str(&format!("  {failed} check(s) failed\n"));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "ok": self.ok(),
            "checks": self.checks.iter().map(|c| json!({
                "ok": c.ok, "check": c.label, "detail": c.detail, "fix": c.fix,
            })).collect::<Vec<_>>(),
        })
    }

    /// Reads back what [`Checklist::to_json`] wrote (the `checklist` of a `CheckPool` reply), so
    /// a page can show the reply's list without re-judging the facts. `None` if it is not one.
    pub fn from_json(value: &Value) -> Option<Self> {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let checks = value
            .get("checks")?
            .as_array()?
            .iter()
            .map(|c| {
                Some(Check {
                    ok: c.get("ok")?.as_bool()?,
                    label: text(c, "check")?,
                    detail: text(c, "detail")?,
                    fix: text(c, "fix"),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            name: text(value, "name")?,
            checks,
        })
    }
}

pub fn checklist(facts: &Facts) -> Checklist {
    let name = &facts.name;
    let mut checks = Vec::new();
    let Some(compute) = &facts.compute else {
        checks.push(Check::fail(
            "compute attached",
            format!("no compute named '{name}' in workspace {}", facts.workspace),
            format!("attach it: poolbroker compute attach --name {name} --resource-id <pool id> (or --linked-service L --pool-name P)"),
        ));
        return Checklist {
            name: name.clone(),
            checks,
        };
    };
    let state = compute.provisioning_state.as_deref().unwrap_or("unknown");
    checks.push(if state.eq_ignore_ascii_case("Succeeded") {
        Check::pass("compute attached", format!("{} is {state}", compute.compute_type))
    } else {
        Check::fail(
            "compute attached",
            format!(
                "{} is {state}{}",
                compute.compute_type,
                compute
                    .provisioning_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            format!("attach it again: poolbroker compute attach --name {name} … (a failed attach is retried by attaching again)"),
        )
    });
    match &facts.synapse_pool {
        SynapsePoolFact::Found { spark_version } => {
            checks.push(Check::pass(
                "Synapse pool exists",
                compute.resource_id.clone().unwrap_or_default(),
            ));
            let version = spark_version.as_deref().unwrap_or("unknown");
            let supported = RuntimeVersion::of_pool(version)
                .is_some_and(RuntimeVersion::is_serverless_supported);
            checks.push(if supported {
                Check::pass("Spark version", format!("{version} is supported"))
            } else {
                Check::fail(
                    "Spark version",
                    format!(
                        "{version} is not one of the supported runtimes ({})",
                        SERVERLESS_RUNTIMES.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    ),
                    "upgrade the Synapse pool's Apache Spark version in the Azure portal, or attach a pool that runs a supported version",
                )
            });
        }
        SynapsePoolFact::Missing { id } => checks.push(Check::fail(
            "Synapse pool exists",
            format!("{id} does not exist (deleted or renamed after the attach)"),
            format!(
                "detach it (poolbroker compute detach --name {name}) and attach an existing pool"
            ),
        )),
        SynapsePoolFact::Unknown => checks.push(Check::fail(
            "Synapse pool exists",
            "the compute names no Synapse pool (properties.resourceId)",
            "detach it and attach again with a resource id",
        )),
    }
    match &facts.identities {
        IdentityFacts::Unplannable(why) => checks.push(Check::fail(
            "identity",
            why.clone(),
            format!("give it an identity: poolbroker compute update --name {name} --identity-type system_assigned"),
        )),
        IdentityFacts::Roles(roles) => {
            for role in roles {
                checks.push(match role {
                    RoleFact::Holds(g) => Check::pass(
                        format!("{} role", g.role),
                        format!("{} ({}) holds it at {}", g.who, g.principal_id, g.scope),
                    ),
                    RoleFact::Lacks(g) => Check::fail(
                        format!("{} role", g.role),
                        format!("{} ({}) does not hold it at {}", g.who, g.principal_id, g.scope),
                        format!("poolbroker access grant --name {name} (or send GrantPoolAccess)"),
                    ),
                    RoleFact::Unchecked { grant, why } => Check::fail(
                        format!("{} role", grant.role),
                        format!("could not check {}: {why}", grant.who),
                        "give the broker Synapse Administrator on the Synapse workspace (docs/deploy.md), then run doctor again",
                    ),
                });
            }
            if let Some(submitter) = roles.iter().map(|r| match r {
                RoleFact::Holds(g) | RoleFact::Lacks(g) | RoleFact::Unchecked { grant: g, .. } => g,
            }).find(|g| g.who.contains("submits jobs")) {
                checks.push(Check::pass(
                    "submits jobs",
                    format!("{} ({}), unless a job names another identity", submitter.who.replace(" (submits jobs)", ""), submitter.principal_id),
                ));
            }
        }
    }
    Checklist {
        name: name.clone(),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::synapse_rbac::pool_grants;

    const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn/bigDataPools/pool1";

    fn compute(state: &str) -> AttachedPool {
        AttachedPool::from_arm(&json!({
            "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1",
            "name": "c1",
            "identity": {"type": "SystemAssigned", "principalId": "11111111-1111-1111-1111-111111111111"},
            "properties": {"computeType": "SynapseSpark", "resourceId": POOL, "provisioningState": state}
        }))
        .unwrap()
    }

    /// Facts for compute `c1` in `state` on a found Synapse pool running Spark `version`, each
    /// role grant the pool needs held or lacked as `role` says.
    fn found_pool(state: &str, version: &str, role: fn(Grant) -> RoleFact) -> Facts {
        let c = compute(state);
        let grants = pool_grants(&c).unwrap();
        Facts {
            name: "c1".into(),
            workspace: "ws".into(),
            compute: Some(c),
            synapse_pool: SynapsePoolFact::Found {
                spark_version: Some(version.into()),
            },
            identities: IdentityFacts::Roles(grants.into_iter().map(role).collect()),
        }
    }

    #[test]
    fn a_healthy_pool_passes_every_check() {
        let list = checklist(&found_pool("Succeeded", "3.4", RoleFact::Holds));
        assert!(list.ok(), "{}", list.render());
        let text = list.render();
        assert!(text.contains("✓ Synapse Administrator role"), "{text}");
        assert!(
            text.contains("✓ submits jobs: system-assigned identity of c1"),
            "{text}"
        );
    }

    #[test]
    fn each_failure_says_what_to_do() {
        let list = checklist(&found_pool("Failed", "2.4", RoleFact::Lacks));
        assert!(!list.ok());
        let failed: Vec<_> = list
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "compute attached",
                "Spark version",
                "Synapse Administrator role"
            ]
        );
        assert!(
            list.render()
                .contains("→ poolbroker access grant --name c1")
        );
        let missing = checklist(&Facts {
            name: "nope".into(),
            workspace: "ws".into(),
            compute: None,
            synapse_pool: SynapsePoolFact::Unknown,
            identities: IdentityFacts::Unplannable(String::new()),
        });
        assert_eq!(missing.checks.len(), 1);
        assert_eq!(missing.to_json()["ok"], false);
        assert_eq!(Checklist::from_json(&list.to_json()), Some(list));
        assert_eq!(Checklist::from_json(&json!({"name": "c1"})), None);
    }
}
