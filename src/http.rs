//! One HTTP client for the whole process. Building a client loads and parses the system trust
//! store; ARM, Service Bus and the managed-identity endpoint sharing one client parse it once,
//! which is most of the handler's cold start (docs/benchmarks.md).
//!
//! Extra trust: `POOLBROKER_EXTRA_CA_CERTS` names a PEM file of CA certificates trusted *in
//! addition to* the system store (the local world's CA, a corporate proxy's). Certificate
//! verification itself is never switched off.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const USER_AGENT: &str = concat!("poolbroker/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The setting naming a PEM file of extra CA certificates to trust.
pub const EXTRA_CA_CERTS: &str = "POOLBROKER_EXTRA_CA_CERTS";

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("{EXTRA_CA_CERTS}: could not read {path}: {source}")]
    ReadExtraCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{EXTRA_CA_CERTS}: {path} holds no PEM certificate ({source})")]
    ParseExtraCa {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("{EXTRA_CA_CERTS}: {path} holds no PEM certificate")]
    EmptyExtraCa { path: PathBuf },
    #[error("the HTTP client could not be built: {0}")]
    Build(#[source] reqwest::Error),
}

/// The CA certificates in a PEM file (one or more `BEGIN CERTIFICATE` blocks).
pub fn load_extra_cas(path: &Path) -> Result<Vec<reqwest::Certificate>, HttpClientError> {
    let pem = std::fs::read(path).map_err(|source| HttpClientError::ReadExtraCa {
        path: path.to_owned(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
        HttpClientError::ParseExtraCa {
            path: path.to_owned(),
            source,
        }
    })?;
    if certs.is_empty() {
        return Err(HttpClientError::EmptyExtraCa {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The shared client (cheap to clone). Per-request timeouts are set by each caller.
///
/// - HTTP/1.1 with title-case header names: .NET readers look up Service Bus application
///   properties such as `Diagnostic-Id` case-sensitively.
/// - No redirects: a redirect could carry a request, and its bearer token, to another host.
/// - Trusts the system store plus `POOLBROKER_EXTRA_CA_CERTS`, if set.
pub fn shared_client() -> Result<reqwest::Client, HttpClientError> {
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let extra = match std::env::var_os(EXTRA_CA_CERTS).filter(|v| !v.is_empty()) {
        Some(path) => load_extra_cas(Path::new(&path))?,
        None => Vec::new(),
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .http1_title_case_headers()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT);
    if !extra.is_empty() {
        builder = builder.tls_certs_merge(extra);
    }
    let client = builder.build().map_err(HttpClientError::Build)?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// Sends `request` inside `span` and reads the whole answer: status, headers and body. The one
/// request/response step of the ARM and Synapse clients (they classify the outcome themselves).
pub async fn exchange(
    request: reqwest::RequestBuilder,
    span: &tracing::Span,
) -> Result<(u16, http::HeaderMap, bytes::Bytes), reqwest::Error> {
    use tracing::Instrument as _;
    async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok((status, headers, bytes))
    }
    .instrument(span.clone())
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_ca_errors_name_the_setting_and_the_file() {
        let missing = std::env::temp_dir().join("poolbroker-no-such-ca.pem");
        let err = load_extra_cas(&missing).expect_err("missing file");
        let text = err.to_string();
        assert!(
            text.starts_with(EXTRA_CA_CERTS) && text.contains("poolbroker-no-such-ca.pem"),
            "{text}"
        );

        let not_pem =
            std::env::temp_dir().join(format!("poolbroker-not-pem-{}.pem", std::process::id()));
        std::fs::write(&not_pem, "this is not a certificate").unwrap();
        let err = load_extra_cas(&not_pem).expect_err("no certificate");
        assert!(
            matches!(
                err,
                HttpClientError::EmptyExtraCa { .. } | HttpClientError::ParseExtraCa { .. }
            ),
            "{err}"
        );
        std::fs::remove_file(&not_pem).unwrap();
    }
}
