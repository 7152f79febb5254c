use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use azureml_emulator::{EmulatorConfig, EmulatorState, LocalTls, TlsError};
use functions_host::{HostConfig, RunningHost};
use servicebus_emulator::{Broker, QueueConfig, RestConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The local namespace the SAS tokens name; the transport rewrites it to the emulator's address.
pub const LOCAL_NAMESPACE: &str = "poolbroker-local.servicebus.windows.net";
pub const LOCAL_SAS_KEY_NAME: &str = "RootManageSharedAccessKey";
/// A well-known development key, like Azurite's: it only ever opens the local emulator.
pub const LOCAL_SAS_KEY: &str = "cG9vbGJyb2tlci1sb2NhbC1kZXZlbG9wbWVudC1rZXk=";
/// Signs the local broker's follow-ups; a development key like [`LOCAL_SAS_KEY`].
pub const LOCAL_INTERNAL_KEY: &str = "poolbroker-local-internal-development-key";
const LOCAL_IDENTITY_HEADER: &str = "poolbroker-local-identity-header";
/// Event routing rules for the demo workspace, relative to the app root.
const LOCAL_ROUTES_FILE: &str = "examples/routes.local.yaml";

#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Folder holding host.json and function-definitions/.
    pub app_root: PathBuf,
    /// The handler binary the host starts (`poolbroker`, with `serve` from host.json).
    pub handler_executable: PathBuf,
    pub http_port: u16,
    pub servicebus_port: u16,
    /// HTTPS port of the ARM / Azure ML emulator (and its blob endpoint).
    pub arm_port: u16,
    /// Plain-http loopback port of the managed-identity endpoint (as App Service's is).
    pub identity_port: u16,
    /// Where the local CA and server certificate live (generated on first use, then reused).
    pub tls_dir: PathBuf,
    /// Emulator knobs (tests shorten LRO waits, inject faults).
    pub emulator: EmulatorConfig,
    /// Extra app settings for the handler (win over the defaults).
    pub extra_settings: BTreeMap<String, String>,
}

impl LocalOptions {
    pub fn new(app_root: impl Into<PathBuf>, handler_executable: impl Into<PathBuf>) -> Self {
        let emulator = EmulatorConfig {
            identity_header: LOCAL_IDENTITY_HEADER.into(),
            ..EmulatorConfig::default()
        };
        Self {
            app_root: app_root.into(),
            handler_executable: handler_executable.into(),
            http_port: 7071,
            servicebus_port: 7072,
            arm_port: 7073,
            identity_port: 7074,
            tls_dir: default_tls_dir(),
            emulator,
            extra_settings: BTreeMap::new(),
        }
    }

    /// Every port chosen by the OS (tests run in parallel).
    pub fn ephemeral(mut self) -> Self {
        self.http_port = 0;
        self.servicebus_port = 0;
        self.arm_port = 0;
        self.identity_port = 0;
        self
    }
}

/// The setting that moves the local world's state (its CA) elsewhere.
pub const STATE_DIR_ENV: &str = "POOLBROKER_LOCAL_STATE_DIR";

/// `$POOLBROKER_LOCAL_STATE_DIR/tls`, else `$XDG_STATE_HOME/poolbroker/local/tls`, else
/// `~/.local/state/poolbroker/local/tls`, else a folder under the temp dir.
pub fn default_tls_dir() -> PathBuf {
    let env_dir = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = env_dir(STATE_DIR_ENV)
        .or_else(|| env_dir("XDG_STATE_HOME").map(|d| d.join("poolbroker/local")))
        .or_else(|| env_dir("HOME").map(|d| d.join(".local/state/poolbroker/local")))
        .unwrap_or_else(|| std::env::temp_dir().join("poolbroker-local"));
    base.join("tls")
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "could not listen on {addr} for the {what}: {source} (is another `poolbroker local` running? choose another port)"
    )]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the local Functions host did not start: {0}")]
    Host(#[from] functions_host::HostError),
    #[error("the local CA for the ARM emulator's HTTPS is not usable: {0}")]
    Tls(#[from] TlsError),
}

/// Everything `poolbroker local` runs. Dropping it does not stop it: call [`LocalWorld::stop`].
pub struct LocalWorld {
    pub broker: Broker,
    pub arm: EmulatorState,
    pub host: RunningHost,
    pub servicebus_addr: SocketAddr,
    /// HTTPS: ARM, Azure ML and the blob endpoint.
    pub arm_addr: SocketAddr,
    /// Plain http: the managed-identity endpoint and the emulator's control API.
    pub identity_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The local CA clients must trust to reach `arm_addr`.
    pub tls: LocalTls,
    /// The app settings the handler got (what a Function App's settings would hold).
    pub app_settings: BTreeMap<String, String>,
    shutdown: CancellationToken,
}

async fn bind(what: &'static str, port: u16) -> Result<(TcpListener, SocketAddr), LocalError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| LocalError::Bind { what, addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| LocalError::Bind { what, addr, source })?;
    Ok((listener, bound))
}

impl LocalWorld {
    pub async fn start(options: LocalOptions) -> Result<Self, LocalError> {
        let shutdown = CancellationToken::new();
        let broker = Broker::new();
        // The reply queue is no binding's, so the host would not create it (infra does in Azure).
        broker.create_queue(crate::config::REPLIES_QUEUE, QueueConfig::default());
        // Queues the Studio reads by peek-lock + unlock (each look is a delivery): as infra/
        // creates them, with room for many looks.
        for (queue, ttl_days) in [
            (crate::studio::STUDIO_REPLIES_QUEUE, 1),
            (crate::config::REJECTED_QUEUE, 14),
        ] {
            broker.create_queue(queue, crate::studio::peeked_queue_config(ttl_days));
        }

        let (sb_listener, servicebus_addr) =
            bind("Service Bus emulator", options.servicebus_port).await?;
        let rest = RestConfig {
            namespace: LOCAL_NAMESPACE.into(),
            sas_keys: vec![(LOCAL_SAS_KEY_NAME.into(), LOCAL_SAS_KEY.into())],
            bearer_validator: None,
        };
        tokio::spawn(servicebus_emulator::serve(
            sb_listener,
            broker.clone(),
            rest,
            shutdown.clone().cancelled_owned(),
        ));

        let tls = LocalTls::load_or_create(&options.tls_dir)?;
        let (arm_listener, arm_addr) = bind("ARM emulator (HTTPS)", options.arm_port).await?;
        let (identity_listener, identity_addr) =
            bind("managed-identity endpoint", options.identity_port).await?;
        let identity_header = options.emulator.identity_header.clone();
        let arm = EmulatorState::new(options.emulator.clone());
        arm.seed_demo();
        tokio::spawn(azureml_emulator::serve_tls(
            arm_listener,
            arm.clone(),
            tls.clone(),
            shutdown.clone().cancelled_owned(),
        ));
        tokio::spawn(azureml_emulator::serve_router(
            identity_listener,
            azureml_emulator::identity_router(arm.clone()),
            None,
            shutdown.clone().cancelled_owned(),
        ));

        let mut app_settings = handler_settings(
            servicebus_addr,
            arm_addr,
            identity_addr,
            &identity_header,
            tls.ca_cert_path(),
        );
        let routes = options.app_root.join(LOCAL_ROUTES_FILE);
        if routes.is_file() {
            app_settings.insert(
                "POOLBROKER_ROUTES_FILE".into(),
                routes.to_string_lossy().into_owned(),
            );
        }
        app_settings.extend(options.extra_settings.clone());
        let mut host_config = HostConfig::new(&options.app_root);
        host_config.handler_executable = Some(options.handler_executable.clone());
        host_config.app_settings = app_settings.clone();
        host_config.http_addr = SocketAddr::from(([127, 0, 0, 1], options.http_port));
        let host = functions_host::start(host_config, broker.clone(), shutdown.clone()).await?;
        let http_addr = host.http_addr();
        Ok(Self {
            broker,
            arm,
            host,
            servicebus_addr,
            arm_addr,
            identity_addr,
            http_addr,
            tls,
            app_settings,
            shutdown,
        })
    }

    /// `https://127.0.0.1:port`, the `resource_manager` endpoint of this world.
    pub fn arm_url(&self) -> String {
        format!("https://{}", self.arm_addr)
    }

    /// A client that trusts this world's CA (as the handler does through
    /// `POOLBROKER_EXTRA_CA_CERTS`); verification stays on.
    pub fn arm_client(&self) -> Result<reqwest::Client, crate::http::HttpClientError> {
        let cas = crate::http::load_extra_cas(self.tls.ca_cert_path())?;
        reqwest::Client::builder()
            .tls_certs_merge(cas)
            .build()
            .map_err(crate::http::HttpClientError::Build)
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the host (and its handler process) and the emulators.
    pub async fn stop(self) -> Result<(), functions_host::HostError> {
        self.shutdown.cancel();
        self.host.stopped().await
    }

    /// Environment a second terminal needs to use the CLI against this world.
    pub fn cli_environment(&self) -> Vec<(String, String)> {
        [
            "POOLBROKER_ARM_ENDPOINT",
            crate::http::EXTRA_CA_CERTS,
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "ServiceBusConnection",
            "POOLBROKER_SERVICEBUS_ENDPOINT",
            "POOLBROKER_DEFAULT_WORKSPACE",
        ]
        .iter()
        .filter_map(|k| {
            self.app_settings
                .get(*k)
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect()
    }

    /// What a second shell needs so Python (azure-identity, azure-ai-ml, requests) and other
    /// OpenSSL-based tools trust the local CA.
    pub fn trust_environment(&self) -> Vec<(String, String)> {
        let ca = self.tls.ca_cert_path().to_string_lossy().into_owned();
        vec![
            ("SSL_CERT_FILE".to_owned(), ca.clone()),
            ("REQUESTS_CA_BUNDLE".to_owned(), ca),
        ]
    }
}

/// What a Function App's settings would hold in Azure, pointed at the emulators.
fn handler_settings(
    servicebus: SocketAddr,
    arm: SocketAddr,
    identity: SocketAddr,
    identity_header: &str,
    ca: &std::path::Path,
) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        s.insert(k.to_owned(), v);
    };
    set("FUNCTIONS_WORKER_RUNTIME", "custom".into());
    set("POOLBROKER_ARM_ENDPOINT", format!("https://{arm}"));
    set(
        crate::http::EXTRA_CA_CERTS,
        ca.to_string_lossy().into_owned(),
    );
    set("IDENTITY_ENDPOINT", format!("http://{identity}/msi/token"));
    set("IDENTITY_HEADER", identity_header.into());
    set(
        "ServiceBusConnection",
        format!(
            "Endpoint=sb://{LOCAL_NAMESPACE}/;SharedAccessKeyName={LOCAL_SAS_KEY_NAME};SharedAccessKey={LOCAL_SAS_KEY}"
        ),
    );
    set(
        "POOLBROKER_SERVICEBUS_ENDPOINT",
        format!("http://{servicebus}"),
    );
    set(
        "POOLBROKER_DEFAULT_WORKSPACE",
        super::demo::DEMO_WORKSPACE.into(),
    );
    set("POOLBROKER_INTERNAL_KEY", LOCAL_INTERNAL_KEY.into());
    set("POOLBROKER_CLEANUP_SCHEDULE", "0 */5 * * * *".into());
    set("POOLBROKER_LOG_FORMAT", "pretty".into());
    // Locally the Studio is open (no App Service Authentication in front of it).
    set(crate::studio::settings::STUDIO_MODE_SETTING, "open".into());
    // Telemetry configuration of the parent passes through, as app settings would.
    for (k, v) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "POOLBROKER_LOG" {
            set(&k, v);
        }
    }
    s
}
