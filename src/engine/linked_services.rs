//! SDK v1 linked services on the command path, and `AttachPool` through one.

use serde_json::json;

use crate::azureml::ArmError;
use crate::domain::{
    AttachLinkedPoolSpec, ErrorCode, LinkedService, LinkedServiceName, LinkedServiceRef,
    RegisterLinkedServiceSpec,
};

use super::access::Access;
use super::pools::PoolRun;
use super::{EngineError, Outcome, Rejection, Reply};

/// The link, or a rejection naming `field`.
pub(super) async fn require(
    run: &PoolRun<'_>,
    name: &LinkedServiceName,
    field: &str,
) -> Result<LinkedService, EngineError> {
    run.arm
        .get_linked_service(run.workspace, name)
        .await?
        .ok_or_else(|| {
            EngineError::from(
                Rejection::new(
                    ErrorCode::LinkedServiceNotFound,
                    format!(
                        "{field}: workspace {} has no linked service named '{name}' (ListLinkedServices shows the existing ones)",
                        run.workspace.arm_id()
                    ),
                )
                .field(field, "no such linked service"),
            )
        })
}

pub(super) async fn list(run: &PoolRun<'_>) -> Result<Outcome, EngineError> {
    let links = run.arm.list_linked_services(run.workspace).await?;
    let mut reply = Reply::succeeded(run.kind);
    reply.resources = Some(links.iter().map(LinkedService::to_output).collect());
    Ok(Outcome::Reply(reply))
}

pub(super) async fn show(
    run: &PoolRun<'_>,
    spec: &LinkedServiceRef,
) -> Result<Outcome, EngineError> {
    let link = require(run, &spec.name, "spec.name").await?;
    Ok(Outcome::Reply(
        Reply::succeeded(run.kind).with_resource(link.to_output()),
    ))
}

pub(super) async fn register(
    run: &PoolRun<'_>,
    spec: &RegisterLinkedServiceSpec,
) -> Result<Outcome, EngineError> {
    let location = run
        .engine
        .workspace_location(run.arm, run.workspace)
        .await?;
    let registered = run
        .arm
        .register_linked_service(
            run.workspace,
            &spec.name,
            &location,
            &spec.synapse_workspace_id,
        )
        .await;
    let link = match registered {
        Ok(link) => link,
        // Azure refuses new SDK v1 registrations (deprecated); relay its words and say what works.
        Err(
            err @ ArmError::Status {
                status: 400..=499, ..
            },
        ) => {
            let EngineError::Rejected(mut rejection) = EngineError::from(err) else {
                unreachable!("4xx ARM errors are permanent")
            };
            rejection.message = format!(
                "Azure refused to register linked service '{}': {}. New SDK v1 linked services are deprecated; existing ones keep working. Attach the pool directly instead: AttachPool with resource_id {}/bigDataPools/<pool> (poolbroker compute attach --resource-id …)",
                spec.name,
                rejection
                    .arm_error
                    .as_ref()
                    .and_then(|b| b.pointer("/error/message"))
                    .and_then(|m| m.as_str())
                    .unwrap_or(&rejection.message),
                spec.synapse_workspace_id
            );
            rejection.code = ErrorCode::LinkedServiceRegistrationRefused;
            return Err(EngineError::Rejected(rejection));
        }
        Err(err) => return Err(err.into()),
    };
    let mut reply = Reply::succeeded(run.kind)
        .with_resource(link.to_output())
        .with_message(format!(
            "registered linked service '{}'; its identity ({}) needs Synapse Apache Spark Administrator on {}: attach a pool through it (grants by default) or send GrantPoolAccess with linked_service",
            spec.name,
            link.principal_id().unwrap_or("no principal id yet"),
            link.synapse_workspace().name()
        ));
    reply.extra.insert("deprecated".into(), json!(true));
    Ok(Outcome::Reply(reply))
}

pub(super) async fn unregister(
    run: &PoolRun<'_>,
    spec: &LinkedServiceRef,
) -> Result<Outcome, EngineError> {
    let deleted = run
        .arm
        .unregister_linked_service(run.workspace, &spec.name)
        .await?;
    let message = if deleted {
        format!(
            "unregistered linked service '{}'; pools attached through it stay attached",
            spec.name
        )
    } else {
        format!(
            "workspace has no linked service '{}': nothing to unregister",
            spec.name
        )
    };
    Ok(Outcome::Reply(
        Reply::succeeded(run.kind).with_message(message),
    ))
}

/// `AttachPool` with `linked_service` + `pool_name`: the pool id is the link's Synapse workspace
/// plus `/bigDataPools/{pool_name}`, and the pool must exist there.
pub(super) async fn attach(
    run: &PoolRun<'_>,
    spec: &AttachLinkedPoolSpec,
) -> Result<Outcome, EngineError> {
    let link = require(run, &spec.linked_service, "spec.linked_service").await?;
    let synapse = link.synapse_workspace();
    let resolved = spec.resolve(synapse).map_err(|e| {
        EngineError::from(
            Rejection::new(ErrorCode::InvalidPoolName, format!("spec.pool_name: {e}"))
                .field("spec.pool_name", "not a Spark pool name"),
        )
    })?;
    if run
        .arm
        .get_synapse_pool(&resolved.resource_id)
        .await?
        .is_none()
    {
        return Err(EngineError::from(
            Rejection::new(
                ErrorCode::PoolNotInLinkedWorkspace,
                format!(
                    "spec.pool_name: Synapse workspace {} (linked service '{}') has no Spark pool named '{}'",
                    synapse.name(),
                    spec.linked_service,
                    spec.pool_name
                ),
            )
            .field("spec.pool_name", "no such pool in the linked Synapse workspace"),
        ));
    }
    Access { run }
        .attach(&resolved, Some(&spec.linked_service))
        .await
}
