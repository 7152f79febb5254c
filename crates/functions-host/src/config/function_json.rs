//! function.json: one trigger plus output bindings per function folder.

use std::path::Path;

use serde_json::{Map, Value};

use super::json;
use super::settings::Settings;
use crate::error::HostError;
use crate::http::route::RouteTemplate;
use crate::timer::schedule::Schedule;

#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub name: String,
    pub trigger: Trigger,
    pub outputs: Vec<OutputBinding>,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    ServiceBus(ServiceBusTrigger),
    Timer(TimerTrigger),
    Http(HttpTrigger),
}

#[derive(Debug, Clone)]
pub struct ServiceBusTrigger {
    pub binding: String,
    pub queue: String,
    pub sessions: bool,
    pub binary: bool,
    /// `Client.FullyQualifiedNamespace` in Metadata, taken from the connection setting.
    pub namespace: String,
}

#[derive(Debug, Clone)]
pub struct TimerTrigger {
    pub binding: String,
    pub schedule_text: String,
    pub schedule: Schedule,
    pub run_on_startup: bool,
    pub use_monitor: bool,
}

#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub binding: String,
    pub route: RouteTemplate,
    /// Upper-case; `None` = every method.
    pub methods: Option<Vec<String>>,
    pub auth_level: String,
}

#[derive(Debug, Clone)]
pub struct OutputBinding {
    pub name: String,
    pub kind: OutputKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    ServiceBus { queue: String, binary: bool },
    Http,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE",
];

/// `Ok(None)` when the function is disabled.
pub fn load(dir: &Path, settings: &Settings) -> Result<Option<FunctionDef>, HostError> {
    let file = dir.join("function.json");
    let f = file.as_path();
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| HostError::config(f, "(folder)", "function folder name is not UTF-8"))?
        .to_owned();
    let root = json::read_object(f)?;

    if let Some(v) = json::get(&root, "disabled")
        && disabled_value(f, settings, v)?
    {
        return Ok(None);
    }
    if let Some(v) = settings.get(&format!("AzureWebJobs.{name}.Disabled"))
        && v.trim().eq_ignore_ascii_case("true")
    {
        return Ok(None);
    }

    let bindings = match json::get(&root, "bindings") {
        Some(Value::Array(b)) => b,
        Some(other) => {
            return Err(HostError::config(
                f,
                "bindings",
                format!("expected an array; got {other}"),
            ));
        }
        None => return Err(HostError::config(f, "bindings", "missing")),
    };

    let mut trigger = None;
    let mut outputs = Vec::new();
    for (i, b) in bindings.iter().enumerate() {
        let at = format!("bindings[{i}]");
        let b = json::object(f, &at, b)?;
        let field = |key: &str| format!("{at}.{key}");
        let text = |key: &str| -> Result<Option<String>, HostError> {
            json::get(b, key)
                .map(|v| json::string(f, &field(key), v))
                .transpose()
        };
        let required = |key: &str| -> Result<String, HostError> {
            match text(key)? {
                Some(s) if !s.trim().is_empty() => Ok(s),
                _ => Err(HostError::config(f, field(key), "missing or empty")),
            }
        };
        let kind = required("type")?;
        let binding_name = required("name")?;
        let direction = text("direction")?.unwrap_or_else(|| "in".to_owned());
        let is_trigger = kind.to_ascii_lowercase().ends_with("trigger");
        if is_trigger && trigger.is_some() {
            return Err(HostError::config(
                f,
                field("type"),
                "a function has exactly one trigger",
            ));
        }
        let resolve = |key: &str| -> Result<String, HostError> {
            settings
                .expand_strict(&required(key)?)
                .map_err(|p| HostError::config(f, field(key), p))
        };
        let binary = match text("dataType")? {
            None => false,
            Some(t) => match t.to_ascii_lowercase().as_str() {
                "binary" => true,
                "string" | "" => false,
                other => {
                    return Err(HostError::config(
                        f,
                        field("dataType"),
                        format!("expected string or binary; got {other:?}"),
                    ));
                }
            },
        };

        match (
            kind.to_ascii_lowercase().as_str(),
            direction.to_ascii_lowercase().as_str(),
        ) {
            ("servicebustrigger", _) => {
                if json::get(b, "topicName").is_some() {
                    return Err(HostError::config(
                        f,
                        field("topicName"),
                        "topics are not supported by the local host; use queueName",
                    ));
                }
                if let Some(c) = text("cardinality")?
                    && !c.eq_ignore_ascii_case("one")
                {
                    return Err(HostError::config(
                        f,
                        field("cardinality"),
                        format!("only \"one\" is supported by the local host; got {c:?}"),
                    ));
                }
                let sessions = match json::get(b, "isSessionsEnabled") {
                    Some(v) => json::boolean(f, &field("isSessionsEnabled"), v)?,
                    None => false,
                };
                let namespace = connection_namespace(f, &field("connection"), b, settings)?;
                trigger = Some(Trigger::ServiceBus(ServiceBusTrigger {
                    binding: binding_name,
                    queue: resolve("queueName")?,
                    sessions,
                    binary,
                    namespace,
                }));
            }
            ("timertrigger", _) => {
                let schedule_text = resolve("schedule")?;
                let schedule = Schedule::parse(&schedule_text)
                    .map_err(|p| HostError::config(f, field("schedule"), p))?;
                let flag = |key: &str, default: bool| -> Result<bool, HostError> {
                    json::get(b, key)
                        .map(|v| json::boolean(f, &field(key), v))
                        .transpose()
                        .map(|v| v.unwrap_or(default))
                };
                trigger = Some(Trigger::Timer(TimerTrigger {
                    binding: binding_name,
                    schedule_text,
                    schedule,
                    run_on_startup: flag("runOnStartup", false)?,
                    use_monitor: flag("useMonitor", true)?,
                }));
            }
            ("httptrigger", _) => {
                let route_text = text("route")?.unwrap_or_else(|| name.clone());
                let route = RouteTemplate::parse(&route_text)
                    .map_err(|p| HostError::config(f, field("route"), p))?;
                let methods = match json::get(b, "methods") {
                    None => None,
                    Some(Value::Array(items)) => Some(
                        items
                            .iter()
                            .enumerate()
                            .map(|(j, m)| {
                                let path = format!("{at}.methods[{j}]");
                                let m = json::string(f, &path, m)?.to_ascii_uppercase();
                                if METHODS.contains(&m.as_str()) {
                                    Ok(m)
                                } else {
                                    Err(HostError::config(
                                        f,
                                        path,
                                        format!("unknown HTTP method {m:?}"),
                                    ))
                                }
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(other) => {
                        return Err(HostError::config(
                            f,
                            field("methods"),
                            format!("expected an array of method names; got {other}"),
                        ));
                    }
                };
                let auth_level = text("authLevel")?
                    .unwrap_or_else(|| "function".to_owned())
                    .to_ascii_lowercase();
                if !["anonymous", "function", "admin"].contains(&auth_level.as_str()) {
                    return Err(HostError::config(
                        f,
                        field("authLevel"),
                        format!("expected anonymous, function or admin; got {auth_level:?}"),
                    ));
                }
                trigger = Some(Trigger::Http(HttpTrigger {
                    binding: binding_name,
                    route,
                    methods,
                    auth_level,
                }));
            }
            ("servicebus", "out") => {
                if json::get(b, "topicName").is_some() {
                    return Err(HostError::config(
                        f,
                        field("topicName"),
                        "topics are not supported by the local host; use queueName",
                    ));
                }
                connection_namespace(f, &field("connection"), b, settings)?;
                outputs.push(OutputBinding {
                    name: binding_name,
                    kind: OutputKind::ServiceBus {
                        queue: resolve("queueName")?,
                        binary,
                    },
                });
            }
            ("http", "out") => outputs.push(OutputBinding {
                name: binding_name,
                kind: OutputKind::Http,
            }),
            (other, dir) => {
                return Err(HostError::config(
                    f,
                    field("type"),
                    format!(
                        "binding type {other:?} (direction {dir:?}) is not supported by the local host"
                    ),
                ));
            }
        }
    }
    let trigger = trigger.ok_or_else(|| {
        HostError::config(f, "bindings", "no trigger binding (a function needs one)")
    })?;
    Ok(Some(FunctionDef {
        name,
        trigger,
        outputs,
    }))
}

fn disabled_value(f: &Path, settings: &Settings, v: &Value) -> Result<bool, HostError> {
    match v {
        // "disabled": "%SETTING%" or a setting name.
        Value::String(s) => {
            let resolved = settings.expand_lenient(s);
            let resolved = settings.get(&resolved).unwrap_or(resolved);
            Ok(resolved.trim().eq_ignore_ascii_case("true") || resolved.trim() == "1")
        }
        other => json::boolean(f, "disabled", other),
    }
}

/// The real host fails indexing when the connection setting is missing: it needs either
/// `<connection>` (a connection string) or `<connection>__fullyQualifiedNamespace`.
fn connection_namespace(
    f: &Path,
    path: &str,
    binding: &Map<String, Value>,
    settings: &Settings,
) -> Result<String, HostError> {
    let name = match json::get(binding, "connection") {
        Some(v) => json::string(f, path, v)?,
        None => "AzureWebJobsServiceBus".to_owned(),
    };
    if let Some(conn) = settings.get(&name).filter(|c| !c.trim().is_empty()) {
        let endpoint = conn
            .split(';')
            .filter_map(|part| part.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("Endpoint"))
            .map(|(_, v)| v.trim().to_owned())
            .ok_or_else(|| {
                HostError::config(
                    f,
                    path,
                    format!("app setting '{name}' is not a Service Bus connection string: no Endpoint=sb://…"),
                )
            })?;
        let host = url::Url::parse(&endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| {
                HostError::config(
                    f,
                    path,
                    format!("app setting '{name}': Endpoint is not a URL"),
                )
            })?;
        return Ok(host);
    }
    if let Some(ns) = settings
        .get(&format!("{name}__fullyQualifiedNamespace"))
        .filter(|n| !n.trim().is_empty())
    {
        return Ok(ns.trim().to_owned());
    }
    Err(HostError::config(
        f,
        path,
        format!(
            "Service Bus account connection string '{name}' does not exist. Make sure that it is a defined App Setting \
             (or set '{name}__fullyQualifiedNamespace')."
        ),
    ))
}
