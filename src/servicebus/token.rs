//! Entra ID tokens for Service Bus (identity-based connections). The REST crate only knows SAS, so
//! the transport swaps its `Authorization` header for one of these.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use secrecy::{ExposeSecret, SecretString};

/// The audience of Service Bus data-plane tokens.
pub const SERVICE_BUS_SCOPE: &str = "https://servicebus.azure.net/.default";

/// Why no token could be had. Messages never include a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("no Service Bus token: {message}")]
pub struct TokenError {
    pub message: String,
}

#[async_trait]
pub trait ServiceBusTokenProvider: Send + Sync + fmt::Debug {
    /// A bearer token for [`SERVICE_BUS_SCOPE`]; implementations cache as they see fit.
    async fn token(&self) -> Result<SecretString, TokenError>;
}

/// Production provider: any azure_core credential (managed identity on Functions).
pub struct CredentialTokenProvider {
    credential: Arc<dyn TokenCredential>,
}

impl CredentialTokenProvider {
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self { credential }
    }

    /// The Function App's managed identity; user-assigned when `client_id` is set.
    pub fn managed_identity(client_id: Option<String>) -> Result<Self, TokenError> {
        let client_options =
            crate::azureml::shared_transport_options().map_err(|e| TokenError {
                message: format!("managed identity credential: {e}"),
            })?;
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(UserAssignedId::ClientId),
            client_options,
        };
        let credential = ManagedIdentityCredential::new(Some(options)).map_err(|e| TokenError {
            message: format!("managed identity credential: {e}"),
        })?;
        Ok(Self::new(credential))
    }
}

impl fmt::Debug for CredentialTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialTokenProvider")
            .field("credential", &self.credential)
            .finish()
    }
}

#[async_trait]
impl ServiceBusTokenProvider for CredentialTokenProvider {
    async fn token(&self) -> Result<SecretString, TokenError> {
        // azure_identity caches tokens until shortly before they expire.
        let access = self
            .credential
            .get_token(&[SERVICE_BUS_SCOPE], None)
            .await
            .map_err(|e| TokenError {
                message: e.to_string(),
            })?;
        Ok(SecretString::from(access.token.secret().to_owned()))
    }
}

/// A fixed token, for local runs and tests.
pub struct StaticTokenProvider(SecretString);

impl StaticTokenProvider {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }
}

impl fmt::Debug for StaticTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticTokenProvider([REDACTED])")
    }
}

#[async_trait]
impl ServiceBusTokenProvider for StaticTokenProvider {
    async fn token(&self) -> Result<SecretString, TokenError> {
        Ok(SecretString::from(self.0.expose_secret().to_owned()))
    }
}
