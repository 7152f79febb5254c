//! host.json: the parts the local host acts on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{json, timespan};
use crate::error::HostError;

/// `customHandler.description`, before paths are resolved.
#[derive(Debug, Clone)]
pub struct HandlerDescription {
    pub default_executable_path: String,
    pub arguments: Vec<String>,
    pub working_directory: String,
}

#[derive(Debug, Clone)]
pub struct ServiceBusOptions {
    pub max_concurrent_calls: usize,
    pub max_concurrent_sessions: usize,
    pub max_auto_lock_renewal_duration: Duration,
    pub session_idle_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct HostJson {
    pub handler: HandlerDescription,
    /// `None` = unbounded (`-1`).
    pub function_timeout: Option<Duration>,
    pub service_bus: ServiceBusOptions,
    pub route_prefix: String,
}

/// Not documented for Consumption; the App Service default, and what Core Tools uses.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub fn load(app_root: &Path) -> Result<HostJson, HostError> {
    let file: PathBuf = app_root.join("host.json");
    let root = json::read_object(&file)?;
    let f = file.as_path();

    let handler_section = json::get(&root, "customHandler")
        .or_else(|| json::get(&root, "httpWorker"))
        .ok_or_else(|| {
            HostError::config(
                f,
                "customHandler",
                "missing: this host only runs custom handlers",
            )
        })?;
    let handler_section = json::object(f, "customHandler", handler_section)?;
    if let Some(v) = json::get(handler_section, "enableForwardingHttpRequest")
        && json::boolean(f, "customHandler.enableForwardingHttpRequest", v)?
    {
        return Err(HostError::config(
            f,
            "customHandler.enableForwardingHttpRequest",
            "true is not supported by the local host (it only implements the JSON envelope)",
        ));
    }
    let description = json::get(handler_section, "description").ok_or_else(|| {
        HostError::config(
            f,
            "customHandler.description",
            "Missing worker Description.",
        )
    })?;
    let description = json::object(f, "customHandler.description", description)?;
    let default_executable_path = match json::get(description, "defaultExecutablePath") {
        Some(v) => json::string(f, "customHandler.description.defaultExecutablePath", v)?,
        None => String::new(),
    };
    if default_executable_path.trim().is_empty() {
        return Err(HostError::config(
            f,
            "customHandler.description.defaultExecutablePath",
            "must not be empty",
        ));
    }
    let arguments = match json::get(description, "arguments") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| json::string(f, &format!("customHandler.description.arguments[{i}]"), v))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(HostError::config(
                f,
                "customHandler.description.arguments",
                format!("expected an array of strings; got {other}"),
            ));
        }
    };
    let working_directory = match json::get(description, "workingDirectory") {
        Some(v) => json::string(f, "customHandler.description.workingDirectory", v)?,
        None => String::new(),
    };

    let function_timeout = match json::get(&root, "functionTimeout") {
        None => Some(DEFAULT_FUNCTION_TIMEOUT),
        Some(v) => {
            let text = json::string(f, "functionTimeout", v)?;
            if text.trim() == "-1" {
                None
            } else {
                let d = timespan::parse(&text)
                    .map_err(|p| HostError::config(f, "functionTimeout", p))?;
                if d.is_zero() {
                    return Err(HostError::config(
                        f,
                        "functionTimeout",
                        "must be greater than zero",
                    ));
                }
                Some(d)
            }
        }
    };

    let extensions = match json::get(&root, "extensions") {
        Some(v) => Some(json::object(f, "extensions", v)?),
        None => None,
    };
    let section = |name: &str| -> Result<Option<&serde_json::Map<String, Value>>, HostError> {
        match extensions.and_then(|e| json::get(e, name)) {
            Some(v) => json::object(f, &format!("extensions.{name}"), v).map(Some),
            None => Ok(None),
        }
    };
    let service_bus = service_bus_options(f, section("serviceBus")?)?;
    let route_prefix = match section("http")?.and_then(|h| json::get(h, "routePrefix")) {
        Some(v) => json::string(f, "extensions.http.routePrefix", v)?
            .trim_matches('/')
            .to_owned(),
        None => "api".to_owned(),
    };

    Ok(HostJson {
        handler: HandlerDescription {
            default_executable_path,
            arguments,
            working_directory,
        },
        function_timeout,
        service_bus,
        route_prefix,
    })
}

fn service_bus_options(
    f: &Path,
    sb: Option<&serde_json::Map<String, Value>>,
) -> Result<ServiceBusOptions, HostError> {
    // ServiceBusOptions.cs: MaxConcurrentCalls = Utility.GetProcessorCount() * 16 (the docs say 16).
    let processors = std::thread::available_parallelism().map_or(1, usize::from);
    let mut options = ServiceBusOptions {
        max_concurrent_calls: 16 * processors,
        max_concurrent_sessions: 8,
        max_auto_lock_renewal_duration: Duration::from_secs(5 * 60),
        session_idle_timeout: Duration::from_secs(60),
    };
    let Some(sb) = sb else {
        return Ok(options);
    };
    if let Some(v) = json::get(sb, "maxConcurrentCalls") {
        options.max_concurrent_calls =
            json::positive_int(f, "extensions.serviceBus.maxConcurrentCalls", v)?;
    }
    if let Some(v) = json::get(sb, "maxConcurrentSessions") {
        options.max_concurrent_sessions =
            json::positive_int(f, "extensions.serviceBus.maxConcurrentSessions", v)?;
    }
    let span = |field: &str, v: &Value| -> Result<Duration, HostError> {
        let path = format!("extensions.serviceBus.{field}");
        let text = json::string(f, &path, v)?;
        timespan::parse(&text).map_err(|p| HostError::config(f, path, p))
    };
    if let Some(v) = json::get(sb, "maxAutoLockRenewalDuration") {
        options.max_auto_lock_renewal_duration = span("maxAutoLockRenewalDuration", v)?;
    }
    // sessionIdleTimeout defaults to the client's TryTimeout.
    if let Some(retry) = json::get(sb, "clientRetryOptions") {
        let retry = json::object(f, "extensions.serviceBus.clientRetryOptions", retry)?;
        if let Some(v) = json::get(retry, "tryTimeout") {
            let text = json::string(f, "extensions.serviceBus.clientRetryOptions.tryTimeout", v)?;
            options.session_idle_timeout = timespan::parse(&text).map_err(|p| {
                HostError::config(f, "extensions.serviceBus.clientRetryOptions.tryTimeout", p)
            })?;
        }
    }
    if let Some(v) = json::get(sb, "sessionIdleTimeout") {
        options.session_idle_timeout = span("sessionIdleTimeout", v)?;
    }
    Ok(options)
}
