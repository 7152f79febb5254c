use std::sync::Arc;

use crate::cleanup::{CleanupPolicy, CleanupSettings};
use crate::domain::WorkspaceId;
use crate::engine::Engine;
use crate::hooks::HooksConfig;
use crate::servicebus::MessageSender;
use crate::studio::settings::StudioSettings;
use crate::telemetry::TelemetryGuard;

use super::internal_auth::InternalSigner;

/// Shared by every invocation.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub engine: Engine,
    /// Replies and follow-ups; `None` when no Service Bus is configured (replies are then only
    /// logged).
    pub sender: Option<MessageSender>,
    pub hooks: HooksConfig,
    /// Workspaces the cleanup timer looks after, with their policies.
    pub cleanup: Vec<(WorkspaceId, CleanupPolicy)>,
    /// Flushed before each response; `None` in tests that install no telemetry.
    pub telemetry: Option<Arc<TelemetryGuard>>,
    /// Signs the follow-ups the broker sends itself and checks those it receives.
    pub signer: InternalSigner,
    /// The Studio's settings, checked at start-up.
    pub studio: StudioSettings,
}

impl AppState {
    pub fn new(engine: Engine, sender: Option<MessageSender>) -> Self {
        Self::with(engine, sender, HooksConfig::default(), None)
    }

    /// `cleanup`: `None` = the default workspace (if any) with the default policy.
    pub fn with(
        engine: Engine,
        sender: Option<MessageSender>,
        hooks: HooksConfig,
        cleanup: Option<&CleanupSettings>,
    ) -> Self {
        let targets = match cleanup {
            Some(settings) => settings
                .workspaces()
                .iter()
                .map(|w| (w.workspace().clone(), w.policy().clone()))
                .collect(),
            None => engine
                .settings()
                .default_workspace
                .clone()
                .map(|ws| vec![(ws, CleanupPolicy::default())])
                .unwrap_or_default(),
        };
        let signer = InternalSigner::new(engine.settings().internal_key.as_ref());
        Self {
            inner: Arc::new(Inner {
                signer,
                engine,
                sender,
                hooks,
                cleanup: targets,
                telemetry: None,
                studio: StudioSettings::default(),
            }),
        }
    }

    /// The Studio's settings (start-up read and checked them); the default is the
    /// production-safe one.
    pub fn with_studio(self, studio: StudioSettings) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.studio = studio;
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Self { inner },
        }
    }

    /// Flush this telemetry before every response.
    pub fn with_telemetry(self, guard: Arc<TelemetryGuard>) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.telemetry = Some(guard);
                Self {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Self { inner },
        }
    }
}
