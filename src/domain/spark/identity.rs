//! As whom a job runs (docs/jobs.md, "Identity"). On an attached pool with user-assigned
//! identities the first one, in the pool's order, submits the job unless the command names
//! another (docs/jobs.md); the broker sends it explicitly rather than trusting a
//! service default the docs disagree about.

use serde_json::{Value, json};

use super::compute::ComputeTarget;
use super::error::SparkJobError;
use super::settings::ServerlessIdentityDefault;
use super::spec::RequestedIdentity;
use crate::domain::ErrorCode;
use crate::domain::{AssignedIdentity, AttachedPool, UserAssignedIdentityId};

/// `IdentityConfiguration` as the job body carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobIdentity {
    UserIdentity,
    AmlToken,
    /// No ids: the compute's system-assigned identity.
    Managed {
        resource_id: Option<String>,
        client_id: Option<String>,
    },
}

impl JobIdentity {
    pub fn to_arm(&self) -> Value {
        match self {
            Self::UserIdentity => json!({"identityType": "UserIdentity"}),
            // The service spells it AMLToken, not AmlToken.
            Self::AmlToken => json!({"identityType": "AMLToken"}),
            Self::Managed {
                resource_id,
                client_id,
            } => {
                let mut m = serde_json::Map::new();
                m.insert("identityType".into(), json!("Managed"));
                if let Some(id) = resource_id {
                    m.insert("resourceId".into(), json!(id));
                }
                if let Some(id) = client_id {
                    m.insert("clientId".into(), json!(id));
                }
                Value::Object(m)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityChoice {
    pub identity: JobIdentity,
    /// e.g. "managed uai-etl (first user-assigned identity of spark-a)".
    pub description: String,
}

/// Picks the identity for a job on `target`; `pools` are the workspace's attached computes.
pub fn choose_identity(
    requested: Option<&RequestedIdentity>,
    target: &ComputeTarget,
    pools: &[AttachedPool],
    serverless_default: &ServerlessIdentityDefault,
) -> Result<IdentityChoice, SparkJobError> {
    // user_identity and aml_token are taken as asked, whatever the compute.
    let requested = match requested {
        Some(RequestedIdentity::UserIdentity) => {
            return as_requested(JobIdentity::UserIdentity, "user identity");
        }
        Some(RequestedIdentity::AmlToken) => {
            return as_requested(JobIdentity::AmlToken, "AML token");
        }
        Some(RequestedIdentity::Managed {
            resource_id,
            client_id,
        }) => Some(ManagedRequest {
            resource_id,
            client_id,
        }),
        None => None,
    };
    match target {
        ComputeTarget::Pool { name, .. } => {
            let pool = pools.iter().find(|p| p.name.eq_ignore_ascii_case(name));
            on_pool(requested, name, pool)
        }
        ComputeTarget::Serverless { .. } => on_serverless(requested, serverless_default),
    }
}

/// A requested managed identity: which one (neither id = the compute's own).
#[derive(Clone, Copy)]
struct ManagedRequest<'a> {
    resource_id: &'a Option<UserAssignedIdentityId>,
    client_id: &'a Option<String>,
}

fn choice(identity: JobIdentity, description: String) -> Result<IdentityChoice, SparkJobError> {
    Ok(IdentityChoice {
        identity,
        description,
    })
}

fn managed(uai: &AssignedIdentity) -> JobIdentity {
    JobIdentity::Managed {
        resource_id: Some(uai.resource_id.to_string()),
        client_id: uai.client_id.clone(),
    }
}

fn on_pool(
    requested: Option<ManagedRequest<'_>>,
    name: &str,
    pool: Option<&AttachedPool>,
) -> Result<IdentityChoice, SparkJobError> {
    let identity = pool.and_then(|p| p.identity.as_ref());
    let uais: &[AssignedIdentity] = identity.map_or(&[], |i| &i.user_assigned[..]);
    let has_system = identity.is_some_and(|i| {
        matches!(
            i.identity_type,
            crate::domain::IdentityType::SystemAssigned
                | crate::domain::IdentityType::SystemAndUserAssigned
        )
    });
    match requested {
        Some(ManagedRequest {
            resource_id: None,
            client_id: None,
        }) => {
            if has_system {
                choice(
                    JobIdentity::Managed {
                        resource_id: None,
                        client_id: None,
                    },
                    format!("managed system-assigned identity of {name} (requested)"),
                )
            } else if let Some(first) = uais.first() {
                choice(
                    managed(first),
                    format!(
                        "managed {} (first user-assigned identity of {name}; it has no system-assigned identity)",
                        first.resource_id.name()
                    ),
                )
            } else {
                Err(SparkJobError::refused(
                    ErrorCode::IdentityNotAttached,
                    "spec.identity",
                    format!(
                        "compute {name} has no managed identity; attach one, or use type user_identity"
                    ),
                ))
            }
        }
        Some(ManagedRequest {
            resource_id,
            client_id,
        }) => {
            let found = uais.iter().find(|u| {
                resource_id.as_ref().is_none_or(|r| *r == u.resource_id)
                    && client_id.as_ref().is_none_or(|c| {
                        u.client_id
                            .as_deref()
                            .is_some_and(|uc| uc.eq_ignore_ascii_case(c))
                    })
            });
            match found {
                Some(uai) => choice(
                    managed(uai),
                    format!(
                        "managed {} (requested; attached to {name})",
                        uai.resource_id.name()
                    ),
                ),
                None => {
                    let named = resource_id
                        .as_ref()
                        .map(ToString::to_string)
                        .or_else(|| client_id.as_ref().map(|c| format!("client id {c}")))
                        .unwrap_or_default();
                    let field = if resource_id.is_some() {
                        "spec.identity.resource_id"
                    } else {
                        "spec.identity.client_id"
                    };
                    Err(SparkJobError::refused(
                        ErrorCode::IdentityNotAttached,
                        field,
                        format!(
                            "the user-assigned identity {named} is not attached to compute {name}; attached: {}",
                            attached(uais)
                        ),
                    ))
                }
            }
        }
        None => match uais.first() {
            Some(first) => choice(
                managed(first),
                format!(
                    "managed {} (first user-assigned identity of {name})",
                    first.resource_id.name()
                ),
            ),
            None if has_system => choice(
                JobIdentity::Managed {
                    resource_id: None,
                    client_id: None,
                },
                format!("managed system-assigned identity of {name}"),
            ),
            None => choice(
                JobIdentity::UserIdentity,
                format!("user identity ({name} has no managed identity)"),
            ),
        },
    }
}

fn attached(uais: &[AssignedIdentity]) -> String {
    if uais.is_empty() {
        return "none".to_owned();
    }
    uais.iter()
        .map(|u| match &u.client_id {
            Some(c) => format!("{} (client id {c})", u.resource_id),
            None => u.resource_id.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An identity the command names outright: the same wherever the job runs.
fn as_requested(identity: JobIdentity, what: &str) -> Result<IdentityChoice, SparkJobError> {
    choice(identity, format!("{what} (requested)"))
}

fn on_serverless(
    requested: Option<ManagedRequest<'_>>,
    default: &ServerlessIdentityDefault,
) -> Result<IdentityChoice, SparkJobError> {
    match requested {
        Some(ManagedRequest {
            resource_id: None,
            client_id: None,
        }) => Err(SparkJobError::refused(
            ErrorCode::IdentityNotAttached,
            "spec.identity",
            "serverless Spark has no system-assigned identity: name a user-assigned identity attached to the workspace (resource_id), or use type user_identity",
        )),
        Some(ManagedRequest {
            resource_id,
            client_id,
        }) => {
            let shown = resource_id
                .as_ref()
                .map(|r| r.name().to_owned())
                .or_else(|| client_id.as_ref().map(|c| format!("client id {c}")))
                .unwrap_or_default();
            choice(
                JobIdentity::Managed {
                    resource_id: resource_id.as_ref().map(ToString::to_string),
                    client_id: client_id.clone(),
                },
                format!("managed {shown} (requested)"),
            )
        }
        None => match default {
            ServerlessIdentityDefault::UserIdentity => choice(
                JobIdentity::UserIdentity,
                "user identity (serverless default)".into(),
            ),
            ServerlessIdentityDefault::AmlToken => choice(
                JobIdentity::AmlToken,
                "AML token (serverless default from POOLBROKER_SERVERLESS_IDENTITY)".into(),
            ),
            ServerlessIdentityDefault::Managed(id) => choice(
                JobIdentity::Managed {
                    resource_id: Some(id.to_string()),
                    client_id: None,
                },
                format!(
                    "managed {} (serverless default from POOLBROKER_SERVERLESS_IDENTITY)",
                    id.name()
                ),
            ),
        },
    }
}
