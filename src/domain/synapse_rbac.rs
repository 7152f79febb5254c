//! Synapse RBAC for attached pools (seed 001 "Add role assignments", reference §10): which
//! principal needs which role at which scope, which of those are missing, and the ids poolbroker
//! gives the assignments it creates, so that it can later revoke exactly those. Pure: the Synapse
//! data-plane client lives in `crate::synapse`.

use uuid::Uuid;

use super::identity::IdentityType;
use super::pool::AttachedPool;
use super::resource_ids::SynapsePoolId;

/// What an attached pool's identities need, at the pool's scope ("Workspace item → Apache Spark
/// pool").
pub const SYNAPSE_ADMINISTRATOR: &str = "Synapse Administrator";
/// What an SDK v1 linked service's identity needs, at the Synapse workspace's scope.
pub const SPARK_ADMINISTRATOR: &str = "Synapse Apache Spark Administrator";
/// What the broker's own identity needs to create role assignments: only Synapse Administrator
/// holds `Microsoft.Synapse/workspaces/roleAssignments/write`.
pub const BROKER_ROLE: &str = SYNAPSE_ADMINISTRATOR;

/// Namespace of poolbroker's deterministic role-assignment ids (a fixed random UUID).
const ASSIGNMENT_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_4b7e_2f0a_4d59_9a61_3e8d_b0c7_a412);

pub fn workspace_scope(workspace: &str) -> String {
    format!("workspaces/{workspace}")
}

pub fn pool_scope(pool: &SynapsePoolId) -> String {
    format!(
        "workspaces/{}/bigDataPools/{}",
        pool.synapse_workspace(),
        pool.pool_name()
    )
}

/// One identity that should hold one role at one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: &'static str,
    pub principal_id: Uuid,
    pub scope: String,
    /// Which identity this is, in words ("system-assigned identity of sparkpool1").
    pub who: String,
}

impl Grant {
    /// The id poolbroker gives this assignment: the same grant always gets the same id, so a
    /// retried PUT is idempotent and revoking can tell poolbroker's assignments from others'.
    pub fn assignment_id(&self, role_id: &str) -> Uuid {
        assignment_id(role_id, &self.principal_id.to_string(), &self.scope)
    }
}

pub fn assignment_id(role_id: &str, principal_id: &str, scope: &str) -> Uuid {
    let key = format!(
        "{}|{}|{}",
        role_id.to_ascii_lowercase(),
        principal_id.to_ascii_lowercase(),
        scope.to_ascii_lowercase()
    );
    Uuid::new_v5(&ASSIGNMENT_NAMESPACE, key.as_bytes())
}

/// Why no grant can be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "compute '{0}' has no managed identity, so there is nobody to grant Synapse access to; give it one with UpdatePoolIdentity"
    )]
    NoIdentity(String),
    #[error(
        "{who} has no principal id in the compute's identity; Azure has not finished creating it, or the identity was deleted; show the compute again later, or re-attach it"
    )]
    NoPrincipalId { who: String },
    #[error("principal id '{id}' of {who} is not a GUID")]
    BadPrincipalId { who: String, id: String },
    #[error("compute '{0}' is not attached to a Synapse Spark pool (properties.resourceId)")]
    NoPool(String),
}

fn principal(who: String, id: Option<&str>) -> Result<(String, Uuid), PlanError> {
    let id = id.ok_or_else(|| PlanError::NoPrincipalId { who: who.clone() })?;
    let uuid = Uuid::parse_str(id).map_err(|_| PlanError::BadPrincipalId {
        who: who.clone(),
        id: id.to_owned(),
    })?;
    Ok((who, uuid))
}

/// The Synapse pool an attached compute points at.
pub fn attached_pool_id(pool: &AttachedPool) -> Result<SynapsePoolId, PlanError> {
    pool.resource_id
        .as_deref()
        .and_then(|r| SynapsePoolId::parse(r).ok())
        .ok_or_else(|| PlanError::NoPool(pool.name.clone()))
}

/// Every identity of the compute, in job-submission order (user-assigned first, as the service
/// picks the first one; then the system-assigned one), each needing Synapse Administrator on
/// the pool.
pub fn pool_grants(pool: &AttachedPool) -> Result<Vec<Grant>, PlanError> {
    let pool_id = attached_pool_id(pool)?;
    let scope = pool_scope(&pool_id);
    let identity = pool
        .identity
        .as_ref()
        .filter(|i| i.identity_type != IdentityType::None)
        .ok_or_else(|| PlanError::NoIdentity(pool.name.clone()))?;
    let mut grants = Vec::new();
    for (i, uai) in identity.user_assigned.iter().enumerate() {
        let who = if i == 0 {
            format!(
                "user-assigned identity {} (submits jobs)",
                uai.resource_id.name()
            )
        } else {
            format!("user-assigned identity {}", uai.resource_id.name())
        };
        let (who, id) = principal(who, uai.principal_id.as_deref())?;
        grants.push(Grant {
            role: SYNAPSE_ADMINISTRATOR,
            principal_id: id,
            scope: scope.clone(),
            who,
        });
    }
    if matches!(
        identity.identity_type,
        IdentityType::SystemAssigned | IdentityType::SystemAndUserAssigned
    ) {
        let who = if identity.user_assigned.is_empty() {
            format!("system-assigned identity of {} (submits jobs)", pool.name)
        } else {
            format!("system-assigned identity of {}", pool.name)
        };
        let (who, id) = principal(who, identity.principal_id.as_deref())?;
        grants.push(Grant {
            role: SYNAPSE_ADMINISTRATOR,
            principal_id: id,
            scope,
            who,
        });
    }
    Ok(grants)
}

/// The linked service's identity needs Synapse Apache Spark Administrator on the workspace.
pub fn linked_service_grant(
    link_name: &str,
    principal_id: Option<&str>,
    synapse_workspace: &str,
) -> Result<Grant, PlanError> {
    let (who, id) = principal(
        format!("identity of linked service {link_name}"),
        principal_id,
    )?;
    Ok(Grant {
        role: SPARK_ADMINISTRATOR,
        principal_id: id,
        scope: workspace_scope(synapse_workspace),
        who,
    })
}

/// An existing role assignment, as far as the plan cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: String,
    pub role_id: String,
    pub principal_id: String,
    pub scope: String,
}

/// Whether `held` already gives `grant`: same principal and role, at the same scope or at the
/// workspace scope above it (Synapse RBAC inherits downwards).
pub fn satisfies(held: &Held, grant: &Grant, role_id: &str) -> bool {
    let workspace = grant.scope.split('/').take(2).collect::<Vec<_>>().join("/");
    held.role_id.eq_ignore_ascii_case(role_id)
        && held
            .principal_id
            .eq_ignore_ascii_case(&grant.principal_id.to_string())
        && (held.scope.eq_ignore_ascii_case(&grant.scope)
            || held.scope.eq_ignore_ascii_case(&workspace))
}

/// Assignments poolbroker created: their id is the one it would give them.
pub fn made_by_poolbroker(held: &Held) -> bool {
    Uuid::parse_str(&held.id)
        .is_ok_and(|id| id == assignment_id(&held.role_id, &held.principal_id, &held.scope))
}

/// The command that gives the broker's identity what it needs (printed in 403 errors and in
/// docs/deploy.md), for the Synapse workspace `workspace`.
pub fn broker_grant_command(workspace: &str, broker_object_id: Option<&str>) -> String {
    format!(
        "az synapse role assignment create --workspace-name {workspace} --role \"{BROKER_ROLE}\" --assignee-object-id {} --assignee-principal-type ServicePrincipal",
        broker_object_id.unwrap_or("<object id of poolbroker's managed identity>")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn/bigDataPools/pool1";
    const UAI: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl";
    const P1: &str = "11111111-1111-1111-1111-111111111111";
    const P2: &str = "22222222-2222-2222-2222-222222222222";

    fn compute(identity: serde_json::Value) -> AttachedPool {
        AttachedPool::from_arm(&json!({
            "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1",
            "name": "c1",
            "identity": identity,
            "properties": {"computeType": "SynapseSpark", "resourceId": POOL, "provisioningState": "Succeeded"}
        }))
        .unwrap()
    }

    #[test]
    fn every_identity_needs_synapse_administrator_on_the_pool_first_uai_submits() {
        let pool = compute(json!({
            "type": "SystemAssigned,UserAssigned", "principalId": P1,
            "userAssignedIdentities": {UAI: {"principalId": P2, "clientId": P2}}
        }));
        let grants = pool_grants(&pool).unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0].principal_id.to_string(), P2);
        assert!(grants[0].who.contains("submits jobs"), "{}", grants[0].who);
        assert_eq!(grants[1].principal_id.to_string(), P1);
        assert!(
            grants
                .iter()
                .all(|g| g.scope == "workspaces/syn/bigDataPools/pool1"
                    && g.role == SYNAPSE_ADMINISTRATOR)
        );
    }

    #[test]
    fn identity_problems_are_named() {
        assert!(matches!(
            pool_grants(&compute(json!({"type": "None"}))),
            Err(PlanError::NoIdentity(_))
        ));
        let e = pool_grants(&compute(
            json!({"type": "UserAssigned", "userAssignedIdentities": {UAI: {}}}),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("uai-etl"), "{e}");
        let e = pool_grants(&compute(json!({"type": "SystemAssigned"}))).unwrap_err();
        assert!(
            e.to_string().starts_with("system-assigned identity of c1"),
            "{e}"
        );
    }

    #[test]
    fn workspace_scope_satisfies_pool_scope_and_ids_are_recognised() {
        let grant = pool_grants(&compute(
            json!({"type": "SystemAssigned", "principalId": P1}),
        ))
        .unwrap()
        .remove(0);
        let role = "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78";
        let held = |scope: &str, id: String| Held {
            id,
            role_id: role.into(),
            principal_id: P1.into(),
            scope: scope.into(),
        };
        assert!(satisfies(&held("workspaces/syn", "x".into()), &grant, role));
        assert!(satisfies(
            &held("workspaces/SYN/bigDataPools/pool1", "x".into()),
            &grant,
            role
        ));
        assert!(!satisfies(
            &held("workspaces/syn/bigDataPools/pool2", "x".into()),
            &grant,
            role
        ));
        let ours = held(&grant.scope, grant.assignment_id(role).to_string());
        assert!(made_by_poolbroker(&ours));
        assert!(!made_by_poolbroker(&held(
            &grant.scope,
            Uuid::new_v4().to_string()
        )));
    }

    #[test]
    fn broker_command_is_complete() {
        assert_eq!(
            broker_grant_command("syn", Some(P1)),
            format!(
                "az synapse role assignment create --workspace-name syn --role \"Synapse Administrator\" --assignee-object-id {P1} --assignee-principal-type ServicePrincipal"
            )
        );
    }
}
