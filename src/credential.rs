//! Bearer tokens for ARM and the Entra ID plumbing Service Bus shares (the token endpoint's
//! transport). azure_identity does the work (and the caching); this module only picks a
//! credential and keeps tokens inside `SecretString`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use secrecy::{ExposeSecret, SecretString};

/// The one scope poolbroker asks for.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// Set by App Service / Functions when the app has a managed identity.
pub const ENV_IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// Client id of the user-assigned identity to use instead of the system-assigned one.
pub const ENV_AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";

/// Why no token could be had. Messages come from azure_identity, which never includes the token or
/// `IDENTITY_HEADER`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The token endpoint could not be reached or answered 5xx/429/408: worth retrying later.
    #[error("token endpoint unavailable: {message}")]
    Unavailable { message: String },
    /// The identity platform refused (identity not assigned, bad request, CLI not logged in).
    #[error("token request refused: {message}")]
    Rejected { message: String },
    /// The credential could not be built from the configuration.
    #[error("credential configuration: {message}")]
    Config { message: String },
}

impl AuthError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    fn from_azure(err: &azure_core::Error) -> Self {
        let message = err.to_string();
        if is_unavailable(err) {
            Self::Unavailable { message }
        } else {
            Self::Rejected { message }
        }
    }
}

/// azure_identity wraps the transport/HTTP error in a `Credential` error, so look down the chain.
fn is_unavailable(err: &azure_core::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(az) = e.downcast_ref::<azure_core::Error>() {
            match az.kind() {
                ErrorKind::Io | ErrorKind::Connection => return true,
                ErrorKind::HttpResponse { status, .. } => {
                    let code = u16::from(*status);
                    return code >= 500 || code == 429 || code == 408;
                }
                _ => {}
            }
        }
        if e.downcast_ref::<reqwest::Error>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Something that hands out bearer tokens for a scope.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self, scope: &str) -> Result<SecretString, AuthError>;
}

/// A token for `scope` as a sensitive `Authorization: Bearer …` value: the one place a token is
/// turned into a header (ARM and Synapse), so it is marked sensitive (hidden from `Debug`) and the
/// `SecretString` is dropped as soon as the header exists.
pub async fn bearer_header(
    tokens: &dyn TokenSource,
    scope: &str,
) -> Result<http::HeaderValue, AuthError> {
    let token = tokens.token(scope).await?;
    let mut value = http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| AuthError::Rejected {
            message: "token contains characters not allowed in a header".to_owned(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

async fn token_from(
    credential: &dyn TokenCredential,
    scope: &str,
) -> Result<SecretString, AuthError> {
    let access = credential
        .get_token(&[scope], None)
        .await
        .map_err(|e| AuthError::from_azure(&e))?;
    Ok(SecretString::from(access.token.secret().to_owned()))
}

/// Managed identity of the Function App (App Service protocol: `IDENTITY_ENDPOINT` +
/// `IDENTITY_HEADER`, read by azure_identity from the process environment), or IMDS elsewhere.
pub struct ManagedIdentityTokens {
    credential: Arc<ManagedIdentityCredential>,
    user_assigned_client_id: Option<String>,
}

impl ManagedIdentityTokens {
    /// System-assigned when `client_id` is `None`; otherwise the user-assigned identity with that
    /// client id (resource ids are not usable with App Service, azure-sdk-for-rust#2407).
    pub fn new(client_id: Option<String>) -> Result<Self, AuthError> {
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
            client_options: shared_transport_options()?,
        };
        let credential =
            ManagedIdentityCredential::new(Some(options)).map_err(|e| AuthError::Config {
                message: e.to_string(),
            })?;
        Ok(Self {
            credential,
            user_assigned_client_id: client_id,
        })
    }
}

impl fmt::Debug for ManagedIdentityTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityTokens")
            .field("user_assigned_client_id", &self.user_assigned_client_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for ManagedIdentityTokens {
    async fn token(&self, scope: &str) -> Result<SecretString, AuthError> {
        token_from(self.credential.as_ref(), scope).await
    }
}

/// Azure CLI, then azd: for running the CLI against real Azure from a laptop.
pub struct DeveloperTokens {
    credential: Arc<DeveloperToolsCredential>,
}

impl DeveloperTokens {
    pub fn new() -> Result<Self, AuthError> {
        let credential = DeveloperToolsCredential::new(None).map_err(|e| AuthError::Config {
            message: e.to_string(),
        })?;
        Ok(Self { credential })
    }
}

impl fmt::Debug for DeveloperTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeveloperTokens").finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for DeveloperTokens {
    async fn token(&self, scope: &str) -> Result<SecretString, AuthError> {
        token_from(self.credential.as_ref(), scope).await
    }
}

/// A fixed token, for tests and fakes.
#[derive(Debug, Clone)]
pub struct StaticToken(SecretString);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self, _scope: &str) -> Result<SecretString, AuthError> {
        Ok(self.0.clone())
    }
}

/// `IDENTITY_ENDPOINT` set → managed identity (user-assigned if `AZURE_CLIENT_ID` is set);
/// otherwise developer tools.
pub fn credential_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn TokenSource>, AuthError> {
    let non_empty = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
    if non_empty(ENV_IDENTITY_ENDPOINT).is_some() {
        // azure_identity reads the process environment itself; a lookup that disagrees with it
        // would silently fall back to IMDS, which does not exist on Functions.
        if std::env::var_os(ENV_IDENTITY_ENDPOINT).is_none() {
            return Err(AuthError::Config {
                message: format!(
                    "{ENV_IDENTITY_ENDPOINT} is configured but not in the process environment, where azure_identity reads it"
                ),
            });
        }
        let client_id = non_empty(ENV_AZURE_CLIENT_ID).map(|v| v.trim().to_owned());
        Ok(Arc::new(ManagedIdentityTokens::new(client_id)?))
    } else {
        Ok(Arc::new(DeveloperTokens::new()?))
    }
}

/// Client options whose transport is the process-wide HTTP client, so the token endpoint does not
/// load the trust store a second time.
pub fn shared_transport_options() -> Result<azure_core::http::ClientOptions, AuthError> {
    let http = crate::http::shared_client().map_err(|e| AuthError::Config {
        message: format!("http client: {e}"),
    })?;
    Ok(azure_core::http::ClientOptions {
        transport: Some(azure_core::http::Transport::new(Arc::new(
            TracedTokenTransport(http),
        ))),
        ..Default::default()
    })
}

/// The token endpoint's transport: the shared client, each request in a
/// [`crate::telemetry::token_request_span`] (redacted URL and status only; the response body,
/// which holds the token, is never looked at here).
#[derive(Debug)]
struct TracedTokenTransport(reqwest::Client);

#[async_trait]
impl azure_core::http::HttpClient for TracedTokenTransport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        use tracing::Instrument as _;
        let span =
            crate::telemetry::token_request_span(request.method().as_str(), request.url().as_str());
        let result = self
            .0
            .execute_request(request)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(response) => {
                let status = u16::from(response.status());
                span.record(crate::telemetry::fields::HTTP_RESPONSE_STATUS_CODE, status);
                if status >= 400 {
                    crate::telemetry::record_error(
                        &span,
                        &status.to_string(),
                        "token endpoint answered with an error status",
                    );
                }
            }
            Err(error) => {
                crate::telemetry::record_error(&span, "transport", &error.to_string());
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// A token-endpoint exchange over a real socket: the span is `token.request` with the
    /// redacted URL and the status, and neither the token in the body nor the identity header
    /// reaches the trace.
    #[tokio::test]
    async fn token_endpoint_call_is_traced_without_the_token() {
        use std::io::Write;
        use std::sync::Mutex;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await.unwrap();
            let body = r#"{"access_token":"tok-SECRET-123","expires_on":"1900000000"}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
        });

        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let url = azure_core::http::Url::parse(&format!(
            "http://{addr}/msi/token?api-version=2019-08-01&resource=https://management.azure.com&sig=hush"
        ))
        .unwrap();
        let mut request = azure_core::http::Request::new(url, azure_core::http::Method::Get);
        request.insert_header("x-identity-header", "HEADER-SECRET-456");
        let transport = TracedTokenTransport(reqwest::Client::new());
        let response = azure_core::http::HttpClient::execute_request(&transport, &request)
            .await
            .unwrap();
        assert_eq!(u16::from(response.status()), 200);
        let body = response.try_into_raw_response().await.unwrap();
        assert!(String::from_utf8_lossy(body.body()).contains("tok-SECRET-123"));
        server.await.unwrap();

        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("token.request{"), "{out}");
        assert!(out.contains("http.response.status_code=200"), "{out}");
        assert!(out.contains("/msi/token"), "{out}");
        assert!(!out.contains("hush"), "query secret recorded: {out}");
        assert!(!out.contains("tok-SECRET-123"), "token recorded: {out}");
        assert!(
            !out.contains("HEADER-SECRET-456"),
            "identity header recorded: {out}"
        );
    }

    #[tokio::test]
    async fn static_token_is_hidden_in_debug() {
        let source = StaticToken::new("very-secret-token");
        assert!(!format!("{source:?}").contains("very-secret-token"));
        let token = source.token(ARM_SCOPE).await.unwrap();
        assert_eq!(token.expose_secret(), "very-secret-token");
    }

    #[test]
    fn classifies_http_and_io_errors() {
        let status_err = |status: u16| {
            azure_core::Error::with_message(
                ErrorKind::HttpResponse {
                    status: status.into(),
                    error_code: None,
                    raw_response: None,
                },
                "x",
            )
        };
        let wrapped = |inner: azure_core::Error| {
            azure_core::Error::with_error(ErrorKind::Credential, inner, "wrapped")
        };
        assert!(AuthError::from_azure(&wrapped(status_err(503))).is_transient());
        assert!(AuthError::from_azure(&wrapped(status_err(429))).is_transient());
        assert!(!AuthError::from_azure(&wrapped(status_err(400))).is_transient());
        assert!(!AuthError::from_azure(&wrapped(status_err(401))).is_transient());
        let io = azure_core::Error::with_message(ErrorKind::Io, "connection refused");
        assert!(AuthError::from_azure(&wrapped(io)).is_transient());
        let other = azure_core::Error::with_message(ErrorKind::Credential, "az not logged in");
        assert!(!AuthError::from_azure(&other).is_transient());
    }
}
