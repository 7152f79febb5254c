//! The one command path. The queue trigger, the CLI, the cleanup timer and the event hooks all
//! call [`Engine::execute`]: one set of checks (workspace resolution, allow-list, validation),
//! one way to talk to ARM, one reply shape.

mod cleanup;
mod context;
mod error;
mod jobs;
mod outcome;
mod pools;
mod scopes;
mod workspace;

pub use cleanup::{CleanupFailure, CleanupReport, DetachedPool, FailedPool, KeptPool};
pub use context::CommandContext;
pub use error::{EngineError, Rejection};
pub use outcome::{DEFERRED_SINCE_PROPERTY, FollowUp, Outcome, Reply, ReplyBody, ReplyStatus};

use std::collections::HashMap;
use std::sync::Mutex;

use crate::azureml::ArmClient;
use crate::config::BrokerSettings;
use crate::domain::{Command, Envelope};

pub struct Engine {
    arm: ArmClient,
    settings: BrokerSettings,
    /// Workspace locations never change; caching them saves one ARM read per attach.
    locations: Mutex<HashMap<String, String>>,
}

impl Engine {
    pub fn new(arm: ArmClient, settings: BrokerSettings) -> Self {
        Self {
            arm,
            settings,
            locations: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &BrokerSettings {
        &self.settings
    }

    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    /// Runs one command. `Ok(Outcome::FollowUp)` means an ARM operation outlived this
    /// invocation's budget and must be continued by the returned follow-up message.
    pub async fn execute(
        &self,
        envelope: &Envelope,
        ctx: &CommandContext,
    ) -> Result<Outcome, EngineError> {
        let workspace = self.resolve_workspace(envelope)?;
        self.check_referenced_ids(envelope)?;
        let arm = self.arm_for(ctx);
        let kind = envelope.command.kind();
        let run = pools::PoolRun {
            engine: self,
            envelope,
            arm: &arm,
            workspace: &workspace,
            ctx,
            kind,
        };
        let outcome = match &envelope.command {
            Command::AttachPool(spec) => run.attach(spec).await,
            Command::UpdatePoolIdentity(spec) => run.update_identity(spec).await,
            Command::DetachPool(spec) => run.detach(spec).await,
            Command::ShowPool(spec) => run.show(spec).await,
            Command::ListPools(spec) => run.list(spec).await,
            Command::AwaitOperation(op) => run.await_operation(op).await,
            Command::SubmitSparkJob(spec) => {
                run.jobs()
                    .submit(spec, envelope.idempotency_key.as_deref())
                    .await
            }
            Command::CancelSparkJob { name } => run.jobs().cancel(name).await,
            Command::TrackSparkJob(track) => run.jobs().track(track).await,
        }?;
        Ok(outcome.with_notes(&envelope.notes))
    }

    pub(crate) fn arm_for(&self, ctx: &CommandContext) -> ArmClient {
        // An id ARM would refuse as a header is not worth failing the command over.
        self.arm
            .with_correlation_id(&ctx.correlation_id)
            .unwrap_or_else(|_| self.arm.clone())
    }
}
