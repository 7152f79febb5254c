//! Building the broker from its environment: the same wiring for `serve`, `local` and the CLI.

use std::sync::Arc;

use crate::azureml::{ArmClient, ArmClientOptions, credential_from_env};
use crate::config::BrokerSettings;
use crate::engine::Engine;
use crate::handler::AppState;
use crate::servicebus::{MessageSender, ServiceBusSettings, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("ARM configuration: {0}")]
    ArmOptions(#[from] crate::azureml::OptionsError),
    #[error("credentials: {0}")]
    Credential(#[from] crate::azureml::AuthError),
    #[error("ARM client: {0}")]
    Arm(Box<crate::azureml::ArmError>),
    #[error("Service Bus configuration: {0}")]
    ServiceBus(#[from] SettingsError),
    #[error("Service Bus client: {0}")]
    Sender(#[from] crate::servicebus::SenderBuildError),
}

/// The engine, with ARM endpoint, api-version, credential and budgets from the environment.
pub fn engine_from_env() -> Result<Engine, StartupError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings = BrokerSettings::from_lookup(lookup)?;
    let mut options = ArmClientOptions::from_env(lookup)?;
    options.lro.budget = settings.lro_budget;
    let credential = credential_from_env(lookup)?;
    let arm = ArmClient::new(options, Arc::clone(&credential))
        .map_err(|e| StartupError::Arm(Box::new(e)))?;
    Ok(Engine::new(arm, settings))
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
    Ok(AppState::new(engine_from_env()?, sender_from_env()?))
}
