//! Where Service Bus is and how to authenticate, from the Functions app settings poolbroker shares
//! with its trigger: `ServiceBusConnection` (connection string) or
//! `ServiceBusConnection__fullyQualifiedNamespace` (identity-based), plus
//! `POOLBROKER_SERVICEBUS_ENDPOINT` to point the client at a local emulator.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use crate::endpoint::is_loopback;

pub const ENV_CONNECTION: &str = "ServiceBusConnection";
pub const ENV_FULLY_QUALIFIED_NAMESPACE: &str = "ServiceBusConnection__fullyQualifiedNamespace";
/// Client id of a user-assigned identity for identity-based connections (Functions convention).
pub const ENV_CLIENT_ID: &str = "ServiceBusConnection__clientId";
pub const ENV_ENDPOINT: &str = "POOLBROKER_SERVICEBUS_ENDPOINT";

/// The only cloud the REST client can address: it hard-codes `https://{name}.servicebus.windows.net`.
const PUBLIC_CLOUD_SUFFIX: &str = ".servicebus.windows.net";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error(
        "Service Bus is not configured: set {ENV_CONNECTION} (connection string) or \
         {ENV_FULLY_QUALIFIED_NAMESPACE} (managed identity)"
    )]
    Missing,
    /// Never carries the connection string itself: it holds a key.
    #[error("{ENV_CONNECTION}: {problem}")]
    ConnectionString { problem: String },
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: String },
}

/// A Service Bus namespace in the public cloud, e.g. `poolbroker-local` for
/// `poolbroker-local.servicebus.windows.net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Accepts `name`, `name.servicebus.windows.net`, optionally with a scheme and trailing `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let host = text.split_once("://").map_or(text, |(_, rest)| rest);
        let host = host.trim_end_matches('/').to_ascii_lowercase();
        let name = match host.strip_suffix(PUBLIC_CLOUD_SUFFIX) {
            Some(name) => name.to_owned(),
            None if host.contains('.') => {
                return Err(format!(
                    "expected '<name>{PUBLIC_CLOUD_SUFFIX}' (the REST client only reaches the \
                     public cloud), got '{host}'"
                ));
            }
            None => host,
        };
        // Service Bus namespace names: 6-50 letters, digits and hyphens, starting with a letter.
        let valid = (6..=50).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(Self(name))
        } else {
            Err(format!(
                "namespace name '{name}' is invalid: expected 6-50 letters, digits or hyphens, \
                 starting with a letter and not ending with a hyphen"
            ))
        }
    }

    /// The short name the REST client wants.
    pub fn name(&self) -> &str {
        &self.0
    }

    pub fn fully_qualified(&self) -> String {
        format!("{}{PUBLIC_CLOUD_SUFFIX}", self.0)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fully_qualified())
    }
}

/// How requests are authorized.
#[derive(Debug, Clone)]
pub enum ServiceBusAuth {
    /// A shared access policy (from the connection string). The key is redacted in Debug output.
    SharedAccessKey { key_name: String, key: SecretString },
    /// Entra ID bearer tokens (managed identity), user-assigned when `client_id` is set.
    Identity { client_id: Option<String> },
}

#[derive(Debug, Clone)]
pub struct ServiceBusSettings {
    namespace: Namespace,
    auth: ServiceBusAuth,
    endpoint_override: Option<Url>,
}

impl ServiceBusSettings {
    pub fn new(namespace: Namespace, auth: ServiceBusAuth) -> Self {
        Self {
            namespace,
            auth,
            endpoint_override: None,
        }
    }

    /// Sends requests meant for `*.servicebus.windows.net` to `endpoint` instead (plain HTTP is
    /// accepted for loopback addresses only).
    pub fn with_endpoint_override(mut self, endpoint: &str) -> Result<Self, SettingsError> {
        self.endpoint_override =
            Some(
                parse_endpoint(endpoint).map_err(|problem| SettingsError::Invalid {
                    name: ENV_ENDPOINT,
                    problem,
                })?,
            );
        Ok(self)
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        // A connection string wins over an identity-based setting, as in the Functions extension.
        let settings = if let Some(connection) = non_empty(ENV_CONNECTION) {
            let (namespace, auth) = parse_connection_string(&connection)?;
            Self::new(namespace, auth)
        } else if let Some(fqns) = non_empty(ENV_FULLY_QUALIFIED_NAMESPACE) {
            let namespace = Namespace::parse(&fqns).map_err(|problem| SettingsError::Invalid {
                name: ENV_FULLY_QUALIFIED_NAMESPACE,
                problem,
            })?;
            let client_id = non_empty(ENV_CLIENT_ID).map(|v| v.trim().to_owned());
            Self::new(namespace, ServiceBusAuth::Identity { client_id })
        } else {
            return Err(SettingsError::Missing);
        };
        match non_empty(ENV_ENDPOINT) {
            Some(endpoint) => settings.with_endpoint_override(&endpoint),
            None => Ok(settings),
        }
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn auth(&self) -> &ServiceBusAuth {
        &self.auth
    }

    pub fn endpoint_override(&self) -> Option<&Url> {
        self.endpoint_override.as_ref()
    }
}

/// `Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=K;SharedAccessKey=V[;EntityPath=…]`.
fn parse_connection_string(text: &str) -> Result<(Namespace, ServiceBusAuth), SettingsError> {
    let problem = |problem: String| SettingsError::ConnectionString { problem };
    let (mut endpoint, mut key_name, mut key) = (None, None, None);
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        // Keys are base64 and may end in '=': split at the first '=' only.
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| problem("expected 'Name=value' parts separated by ';'".into()))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("Endpoint") {
            endpoint = Some(value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("SharedAccessKeyName") {
            key_name = Some(value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("SharedAccessKey") {
            key = Some(SecretString::from(value.trim().to_owned()));
        } else if name.eq_ignore_ascii_case("SharedAccessSignature") {
            return Err(problem(
                "SharedAccessSignature connection strings are not supported; use \
                 SharedAccessKeyName and SharedAccessKey"
                    .into(),
            ));
        }
        // EntityPath and anything else do not change how messages are sent to named queues.
    }
    let endpoint = endpoint.ok_or_else(|| {
        problem("missing Endpoint=sb://<namespace>.servicebus.windows.net/".into())
    })?;
    if !endpoint.to_ascii_lowercase().starts_with("sb://") {
        return Err(problem(format!(
            "Endpoint: expected 'sb://<namespace>{PUBLIC_CLOUD_SUFFIX}/', got '{endpoint}'"
        )));
    }
    let namespace = Namespace::parse(&endpoint).map_err(|e| problem(format!("Endpoint: {e}")))?;
    let key_name = key_name
        .filter(|k| !k.is_empty())
        .ok_or_else(|| problem("missing SharedAccessKeyName".into()))?;
    let key = key.ok_or_else(|| problem("missing SharedAccessKey".into()))?;
    Ok((namespace, ServiceBusAuth::SharedAccessKey { key_name, key }))
}

fn parse_endpoint(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim())
        .map_err(|e| format!("expected an absolute URL, got '{text}': {e}"))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "expected scheme, host and port only (no path or query), got '{url}'"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "plain http is only allowed for loopback addresses (127.0.0.1, ::1, localhost), got '{url}'; use https"
        )),
        other => Err(format!(
            "expected an http or https URL, got scheme '{other}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const CONN: &str = "Endpoint=sb://poolbroker-prod.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc+def/ghi=";

    #[test]
    fn connection_string_gives_namespace_and_key() {
        let s = ServiceBusSettings::from_lookup(lookup(&[(ENV_CONNECTION, CONN)])).unwrap();
        assert_eq!(s.namespace().name(), "poolbroker-prod");
        assert_eq!(
            s.namespace().to_string(),
            "poolbroker-prod.servicebus.windows.net"
        );
        match s.auth() {
            ServiceBusAuth::SharedAccessKey { key_name, key } => {
                assert_eq!(key_name, "send");
                assert_eq!(key.expose_secret(), "abc+def/ghi=");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(s.endpoint_override().is_none());
        let debug = format!("{s:?}");
        assert!(!debug.contains("abc+def"), "{debug}");
    }

    #[test]
    fn identity_based_connection_with_client_id() {
        let s = ServiceBusSettings::from_lookup(lookup(&[
            (
                ENV_FULLY_QUALIFIED_NAMESPACE,
                "poolbroker-prod.servicebus.windows.net",
            ),
            (ENV_CLIENT_ID, "11111111-2222-3333-4444-555555555555"),
        ]))
        .unwrap();
        assert_eq!(s.namespace().name(), "poolbroker-prod");
        assert!(matches!(
            s.auth(),
            ServiceBusAuth::Identity { client_id: Some(id) } if id == "11111111-2222-3333-4444-555555555555"
        ));
    }

    #[test]
    fn endpoint_override_allows_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://[::1]:9000/",
            "http://localhost:1",
            "https://sb.example.com",
        ] {
            let s = ServiceBusSettings::from_lookup(lookup(&[
                (ENV_CONNECTION, CONN),
                (ENV_ENDPOINT, ok),
            ]));
            assert!(s.is_ok(), "{ok}: {s:?}");
        }
        let err = ServiceBusSettings::from_lookup(lookup(&[
            (ENV_CONNECTION, CONN),
            (ENV_ENDPOINT, "http://10.0.0.5:80"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "POOLBROKER_SERVICEBUS_ENDPOINT: plain http is only allowed for loopback"
            ),
            "{err}"
        );
        let err = ServiceBusSettings::from_lookup(lookup(&[
            (ENV_CONNECTION, CONN),
            (ENV_ENDPOINT, "http://127.0.0.1:1/sub"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("no path"), "{err}");
    }

    #[test]
    fn bad_connection_strings_never_echo_the_key() {
        let cases = [
            (
                "Endpoint=sb://poolbroker-prod.servicebus.windows.net/;SharedAccessKey=topsecret",
                "missing SharedAccessKeyName",
            ),
            (
                "Endpoint=sb://poolbroker-prod.servicebus.windows.net/;SharedAccessKeyName=k",
                "missing SharedAccessKey",
            ),
            (
                "SharedAccessKeyName=k;SharedAccessKey=topsecret",
                "missing Endpoint",
            ),
            (
                "Endpoint=sb://bus.example.com/;SharedAccessKeyName=k;SharedAccessKey=topsecret",
                "public cloud",
            ),
            (
                "Endpoint=https://poolbroker-prod.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=topsecret",
                "expected 'sb://",
            ),
            ("topsecret", "expected 'Name=value'"),
        ];
        for (conn, expected) in cases {
            let err =
                ServiceBusSettings::from_lookup(lookup(&[(ENV_CONNECTION, conn)])).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("ServiceBusConnection: "), "{text}");
            assert!(text.contains(expected), "{conn}: {text}");
            assert!(!text.contains("topsecret"), "{text}");
        }
    }

    #[test]
    fn nothing_configured_says_what_to_set() {
        let err = ServiceBusSettings::from_lookup(lookup(&[(ENV_CONNECTION, "  ")])).unwrap_err();
        assert_eq!(err, SettingsError::Missing);
        assert!(
            err.to_string()
                .contains("ServiceBusConnection__fullyQualifiedNamespace")
        );
    }

    #[test]
    fn namespace_names_are_validated() {
        assert_eq!(
            Namespace::parse("PoolBroker-Local").unwrap().name(),
            "poolbroker-local"
        );
        assert!(Namespace::parse("ab").is_err());
        assert!(Namespace::parse("1abcdef").is_err());
        assert!(Namespace::parse("abcdef-").is_err());
        assert!(Namespace::parse("abc_def.servicebus.windows.net").is_err());
    }
}
