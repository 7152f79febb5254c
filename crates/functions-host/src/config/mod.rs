//! Host configuration: what the caller passes ([`HostConfig`]) plus host.json and function.json.

pub(crate) mod function_json;
pub(crate) mod host_json;
mod json;
pub(crate) mod settings;
pub(crate) mod timespan;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::HostError;
pub(crate) use function_json::{FunctionDef, OutputKind, Trigger};
pub(crate) use host_json::ServiceBusOptions;
use settings::Settings;

/// What `start` needs besides the files in `app_root`.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The function app root: the folder holding host.json.
    pub app_root: PathBuf,
    /// Folder of function folders; default `<app_root>/function-definitions` if it exists, else
    /// `<app_root>` (Azure's layout).
    pub functions_dir: Option<PathBuf>,
    /// Overrides `customHandler.description.defaultExecutablePath` (the arguments still apply).
    pub handler_executable: Option<PathBuf>,
    /// App settings: passed to the handler's environment and used for `%NAME%` and connections.
    pub app_settings: BTreeMap<String, String>,
    /// Where HTTP triggers are served; port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// How long the handler has to answer `GET /` after it starts.
    pub initialization_timeout: Duration,
    /// Where timer schedule status is persisted (`timer-status.json`); `None` = memory only.
    pub state_dir: Option<PathBuf>,
    /// Sent as `X-Azure-Functions-HostVersion` and in `User-Agent`.
    pub host_version: String,
}

impl HostConfig {
    pub fn new(app_root: impl Into<PathBuf>) -> Self {
        Self {
            app_root: app_root.into(),
            functions_dir: None,
            handler_executable: None,
            app_settings: BTreeMap::new(),
            http_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7071)),
            initialization_timeout: Duration::from_secs(30),
            state_dir: None,
            host_version: "4.1036.1.1".to_owned(),
        }
    }
}

/// How the handler process is started.
#[derive(Debug, Clone)]
pub(crate) struct HandlerCommand {
    pub executable: PathBuf,
    pub arguments: Vec<String>,
    pub working_dir: PathBuf,
}

/// Everything the running host acts on, resolved and validated.
#[derive(Debug, Clone)]
pub(crate) struct AppDefinition {
    pub app_root: PathBuf,
    pub settings: Settings,
    pub handler: HandlerCommand,
    pub function_timeout: Option<Duration>,
    pub service_bus: ServiceBusOptions,
    pub route_prefix: String,
    pub functions: Vec<FunctionDef>,
}

pub(crate) fn load(config: &HostConfig) -> Result<AppDefinition, HostError> {
    let app_root = &config.app_root;
    let settings = Settings::new(config.app_settings.clone());
    let host = host_json::load(app_root)?;

    let executable = match &config.handler_executable {
        Some(p) => p.clone(),
        None => {
            // Relative paths count against the app root only when that file exists; otherwise
            // the value is looked up on PATH.
            let given = PathBuf::from(&host.handler.default_executable_path);
            let candidate = app_root.join(&given);
            if given.is_relative() && candidate.is_file() {
                candidate
            } else {
                given
            }
        }
    };
    let arguments = host
        .handler
        .arguments
        .iter()
        .map(|a| settings.expand_lenient(a))
        .collect();
    let working_dir = match host.handler.working_directory.trim() {
        "" => app_root.clone(),
        dir => app_root.join(dir),
    };

    let functions_dir = match &config.functions_dir {
        Some(d) => d.clone(),
        None => {
            let conventional = app_root.join("function-definitions");
            if conventional.is_dir() {
                conventional
            } else {
                app_root.clone()
            }
        }
    };
    let functions = load_functions(&functions_dir, &settings)?;

    Ok(AppDefinition {
        app_root: app_root.clone(),
        settings,
        handler: HandlerCommand {
            executable,
            arguments,
            working_dir,
        },
        function_timeout: host.function_timeout,
        service_bus: host.service_bus,
        route_prefix: host.route_prefix,
        functions,
    })
}

fn load_functions(dir: &Path, settings: &Settings) -> Result<Vec<FunctionDef>, HostError> {
    let entries = std::fs::read_dir(dir).map_err(|source| HostError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("function.json").is_file())
        .collect();
    folders.sort();
    let mut functions = Vec::new();
    for folder in folders {
        if let Some(def) = function_json::load(&folder, settings)? {
            functions.push(def);
        }
    }
    Ok(functions)
}
