//! `CheckPool` (`poolbroker doctor NAME`): gathers the facts and lets the pure checklist judge.

use serde_json::Value;

use crate::domain::doctor::{Facts, IdentityFacts, RoleFact, SynapsePoolFact, checklist};
use crate::domain::synapse_rbac::{attached_pool_id, pool_grants};
use crate::domain::{AttachedPool, CheckPoolSpec, ErrorCode};

use super::access::{Access, grant_workspace, holds};
use super::pools::PoolRun;
use super::{EngineError, Outcome, Reply};

pub(super) async fn check(run: &PoolRun<'_>, spec: &CheckPoolSpec) -> Result<Outcome, EngineError> {
    let compute =
        match run.arm.get_compute(run.workspace, &spec.name).await? {
            Some(v) => Some(AttachedPool::from_resource(&v).map_err(|e| {
                EngineError::rejected(ErrorCode::UnexpectedArmResponse, e.to_string())
            })?),
            None => None,
        };
    let mut facts = Facts {
        name: spec.name.as_str().to_owned(),
        workspace: run.workspace.arm_id(),
        compute: compute.clone(),
        synapse_pool: SynapsePoolFact::Unknown,
        identities: IdentityFacts::Roles(Vec::new()),
    };
    if let Some(pool) = &compute {
        if let Ok(pool_id) = attached_pool_id(pool) {
            facts.synapse_pool = match run.arm.get_synapse_pool(&pool_id).await? {
                Some(body) => SynapsePoolFact::Found {
                    spark_version: body
                        .extra
                        .get("properties")
                        .and_then(|p| p.get("sparkVersion"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                },
                None => SynapsePoolFact::Missing {
                    id: pool_id.to_string(),
                },
            };
        }
        facts.identities = identity_facts(run, pool).await?;
    }
    let list = checklist(&facts);
    let mut reply = Reply::succeeded(run.kind).with_message(list.render());
    reply.extra.insert("checklist".into(), list.to_json());
    Ok(Outcome::Reply(reply))
}

async fn identity_facts(
    run: &PoolRun<'_>,
    pool: &AttachedPool,
) -> Result<IdentityFacts, EngineError> {
    let grants = match pool_grants(pool) {
        Ok(g) => g,
        Err(e) => return Ok(IdentityFacts::Unplannable(e.to_string())),
    };
    let Some(synapse) = run.engine.synapse() else {
        return Ok(IdentityFacts::Roles(
            grants
                .into_iter()
                .map(|grant| RoleFact::Unchecked {
                    grant,
                    why: "no Synapse client configured".into(),
                })
                .collect(),
        ));
    };
    let mut roles = Vec::new();
    for grant in grants {
        let ws = grant_workspace(&grant);
        let held = match synapse.role_id(&ws, grant.role).await {
            Ok(role_id) => holds(synapse, &ws, &grant, &role_id).await,
            Err(e) => Err(e),
        };
        roles.push(match held {
            Ok(true) => RoleFact::Holds(grant),
            Ok(false) => RoleFact::Lacks(grant),
            Err(e) if e.is_transient() => return Err(EngineError::Synapse(Box::new(e))),
            Err(e) => {
                let access = Access { run };
                let why = match access.check::<()>(Err(e), &ws).await {
                    Err(EngineError::Rejected(r)) => r.message,
                    Err(other) => other.to_string(),
                    Ok(()) => String::new(),
                };
                RoleFact::Unchecked { grant, why }
            }
        });
    }
    Ok(IdentityFacts::Roles(roles))
}
