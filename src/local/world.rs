use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use azureml_emulator::{EmulatorConfig, EmulatorState};
use functions_host::{HostConfig, RunningHost};
use servicebus_emulator::{Broker, QueueConfig, RestConfig};
use synapse_emulator::{SynapseConfig, SynapseState, TokenInfo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The local namespace the SAS tokens name; the transport rewrites it to the emulator's address.
pub const LOCAL_NAMESPACE: &str = "poolbroker-local.servicebus.windows.net";
pub const LOCAL_SAS_KEY_NAME: &str = "RootManageSharedAccessKey";
/// A well-known development key, like Azurite's: it only ever opens the local emulator.
pub const LOCAL_SAS_KEY: &str = "cG9vbGJyb2tlci1sb2NhbC1kZXZlbG9wbWVudC1rZXk=";
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
    pub arm_port: u16,
    /// Port of the Synapse data-plane emulator (role assignments).
    pub synapse_port: u16,
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
            synapse_port: 7074,
            emulator,
            extra_settings: BTreeMap::new(),
        }
    }

    /// Every port chosen by the OS (tests run in parallel).
    pub fn ephemeral(mut self) -> Self {
        self.http_port = 0;
        self.servicebus_port = 0;
        self.arm_port = 0;
        self.synapse_port = 0;
        self
    }
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
}

/// Everything `poolbroker local` runs. Dropping it does not stop it: call [`LocalWorld::stop`].
pub struct LocalWorld {
    pub broker: Broker,
    pub arm: EmulatorState,
    pub synapse: SynapseState,
    pub host: RunningHost,
    pub servicebus_addr: SocketAddr,
    pub arm_addr: SocketAddr,
    pub synapse_addr: SocketAddr,
    pub http_addr: SocketAddr,
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

        let (arm_listener, arm_addr) = bind("ARM emulator", options.arm_port).await?;
        let identity_header = options.emulator.identity_header.clone();
        let arm = EmulatorState::new(options.emulator.clone());
        let seed = arm.seed_demo();
        super::demo::seed_linked_service(&arm, &seed);
        tokio::spawn(azureml_emulator::serve(
            arm_listener,
            arm.clone(),
            shutdown.clone().cancelled_owned(),
        ));

        let (synapse, synapse_addr) = start_synapse(&arm, options.synapse_port, &shutdown).await?;
        let mut app_settings = handler_settings(servicebus_addr, arm_addr, &identity_header);
        app_settings.insert(
            crate::synapse::ENV_SYNAPSE_ENDPOINT.into(),
            format!("http://{synapse_addr}"),
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
            synapse,
            host,
            servicebus_addr,
            arm_addr,
            synapse_addr,
            http_addr,
            app_settings,
            shutdown,
        })
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
            "POOLBROKER_SYNAPSE_ENDPOINT",
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
}

/// The Synapse data-plane emulator, accepting the tokens the ARM emulator's managed-identity
/// endpoint issues for `https://dev.azuresynapse.net`.
async fn start_synapse(
    arm: &EmulatorState,
    port: u16,
    shutdown: &CancellationToken,
) -> Result<(SynapseState, SocketAddr), LocalError> {
    let (listener, addr) = bind("Synapse emulator", port).await?;
    let issuer = arm.clone();
    let synapse = SynapseState::new(SynapseConfig {
        tokens: Some(Arc::new(move |token: &str| {
            issuer.inspect_token(token).map(|t| TokenInfo {
                audience: t.audience,
                expired: t.expired,
            })
        })),
        ..SynapseConfig::default()
    });
    tokio::spawn(synapse_emulator::serve(
        listener,
        synapse.clone(),
        shutdown.clone().cancelled_owned(),
    ));
    Ok((synapse, addr))
}

/// What a Function App's settings would hold in Azure, pointed at the emulators.
fn handler_settings(
    servicebus: SocketAddr,
    arm: SocketAddr,
    identity_header: &str,
) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        s.insert(k.to_owned(), v);
    };
    set("FUNCTIONS_WORKER_RUNTIME", "custom".into());
    set("POOLBROKER_ARM_ENDPOINT", format!("http://{arm}"));
    set("IDENTITY_ENDPOINT", format!("http://{arm}/msi/token"));
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
    set("POOLBROKER_CLEANUP_SCHEDULE", "0 */5 * * * *".into());
    set("POOLBROKER_LOG_FORMAT", "pretty".into());
    // Telemetry configuration of the parent passes through, as app settings would.
    for (k, v) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "POOLBROKER_LOG" {
            set(&k, v);
        }
    }
    s
}
