//! Building the broker from its environment: the same wiring for `serve`, `local` and the CLI.

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use crate::azureml::{ArmClient, ArmClientOptions, credential_from_env};
use crate::cleanup::{CLEANUP_POLICY_SETTING, CleanupSettings};
use crate::config::BrokerSettings;
use crate::engine::Engine;
use crate::handler::AppState;
use crate::hooks::{HooksConfig, RoutingRules, WEBHOOK_SECRET_SETTING};
use crate::servicebus::{MessageSender, ServiceBusSettings, SettingsError};
use crate::studio::settings::StudioSettings;
use crate::synapse::{SynapseClient, SynapseOptions};

/// Path of the event routing rules (`routes.yaml`, see docs/hooks.md).
pub const ROUTES_FILE_SETTING: &str = "POOLBROKER_ROUTES_FILE";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration")]
    Config(#[from] crate::config::ConfigError),
    #[error("ARM configuration")]
    ArmOptions(#[from] crate::azureml::OptionsError),
    #[error("credentials")]
    Credential(#[from] crate::azureml::AuthError),
    #[error("ARM client: {0}")]
    Arm(Box<crate::azureml::ArmError>),
    #[error("Synapse configuration")]
    Synapse(#[from] crate::synapse::SynapseOptionsError),
    #[error("Synapse client: {0}")]
    SynapseClient(String),
    #[error("Service Bus configuration")]
    ServiceBus(#[from] SettingsError),
    #[error("Service Bus client")]
    Sender(#[from] crate::servicebus::SenderBuildError),
    #[error("event routing rules")]
    Routes(#[from] crate::hooks::RoutesError),
    /// Its message already names the setting and the entry.
    #[error(transparent)]
    Cleanup(#[from] crate::cleanup::CleanupSettingsError),
    /// Its message already names the setting.
    #[error(transparent)]
    Studio(#[from] crate::studio::settings::StudioSettingsError),
}

/// The engine, with ARM endpoint, api-version, credential and budgets from the environment.
pub fn engine_from_env() -> Result<Engine, StartupError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings = BrokerSettings::from_lookup(lookup)?;
    let mut options = ArmClientOptions::from_env(lookup)?;
    options.lro.budget = settings.lro_budget;
    let credential = credential_from_env(lookup)?;
    let synapse_options =
        SynapseOptions::new(options.retry, options.request_timeout).with_env(lookup)?;
    let arm = ArmClient::new(options, Arc::clone(&credential))
        .map_err(|e| StartupError::Arm(Box::new(e)))?;
    let synapse = SynapseClient::new(synapse_options, Arc::clone(&credential))
        .map_err(|e| StartupError::SynapseClient(e.to_string()))?;
    Ok(Engine::new(arm, settings).with_synapse(synapse))
}

/// The Service Bus sender, or `None` when no Service Bus is configured at all.
pub fn sender_from_env() -> Result<Option<MessageSender>, StartupError> {
    match ServiceBusSettings::from_env() {
        Ok(settings) => Ok(Some(MessageSender::new(&settings)?)),
        Err(SettingsError::Missing) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

pub fn app_state_from_env() -> Result<AppState, StartupError> {
    let cleanup = match std::env::var(CLEANUP_POLICY_SETTING) {
        Ok(text) if !text.trim().is_empty() => Some(CleanupSettings::parse(&text)?),
        _ => None,
    };
    // Checked now, so a bad value stops start-up instead of failing every Studio request.
    let studio = StudioSettings::from_lookup(|name| std::env::var(name).ok())?;
    Ok(AppState::with(
        engine_from_env()?,
        sender_from_env()?,
        hooks_from_env()?,
        cleanup.as_ref(),
    )
    .with_studio(studio))
}

/// Routing rules from `POOLBROKER_ROUTES_FILE`, else `routes.yaml` in the app root if present;
/// validated now, so a template error stops the handler at start-up instead of at the first event.
pub fn hooks_from_env() -> Result<HooksConfig, StartupError> {
    let explicit = std::env::var(ROUTES_FILE_SETTING)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let default = std::env::var("FUNCTIONS_APP_ROOT_PATH")
        .map(PathBuf::from)
        .or_else(|_| std::env::current_dir())
        .map(|root| root.join("routes.yaml"))
        .ok()
        .filter(|path| path.is_file());
    let rules = match explicit.map(PathBuf::from).or(default) {
        Some(path) => RoutingRules::load_from_path(&path)?,
        None => RoutingRules::default(),
    };
    let mut config = HooksConfig::new(rules);
    config.webhook_secret = std::env::var(WEBHOOK_SECRET_SETTING)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from);
    Ok(config)
}
