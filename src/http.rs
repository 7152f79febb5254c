//! One HTTP client for the whole process. Building a client loads and parses the system trust
//! store; ARM, Service Bus and the managed-identity endpoint sharing one client parse it once,
//! which is most of the handler's cold start (docs/benchmarks.md).

use std::sync::OnceLock;
use std::time::Duration;

const USER_AGENT: &str = concat!("poolbroker/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// The shared client (cheap to clone). Per-request timeouts are set by each caller.
///
/// - HTTP/1.1 with title-case header names: .NET readers look up Service Bus application
///   properties such as `Diagnostic-Id` case-sensitively.
/// - No redirects: a redirect could carry a request, and its bearer token, to another host.
pub fn shared_client() -> Result<reqwest::Client, reqwest::Error> {
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .http1_title_case_headers()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()?;
    Ok(CLIENT.get_or_init(|| client).clone())
}
