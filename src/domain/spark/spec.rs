//! `SubmitSparkJob.spec`: the `az ml job create` Spark YAML (`type: spark`), plus poolbroker's
//! `compute: auto`, `pool_preference`, `workload` and `fallback`. Every problem is reported with
//! its field path; unknown fields are refused by name.

use indexmap::IndexMap;
use serde_json::Value;

use super::error::SparkJobError;
use super::naming::JobName;
use super::serverless::{InstanceType, RuntimeVersion};
use crate::domain::field_error::{FieldErrors, index, join, quote};
use crate::domain::reader::{Fields, as_array, as_str, type_name};
use crate::domain::tags::parse_tags;
use crate::domain::{ComputeName, Tags, UserAssignedIdentityId, WorkspaceId};

const FIELDS: &[&str] = &[
    "$schema",
    "type",
    "name",
    "code",
    "entry",
    "py_files",
    "jars",
    "files",
    "archives",
    "args",
    "conf",
    "driver_cores",
    "driver_memory",
    "executor_cores",
    "executor_memory",
    "executor_instances",
    "dynamic_allocation_enabled",
    "dynamic_allocation_min_executors",
    "dynamic_allocation_max_executors",
    "inputs",
    "outputs",
    "environment",
    "environment_variables",
    "resources",
    "compute",
    "identity",
    "display_name",
    "experiment_name",
    "description",
    "tags",
    "pool_preference",
    "workload",
    "fallback",
];

/// Data types Spark jobs read and write (azure-ai-ml accepts these three for Spark).
const DATA_TYPES: &[&str] = &["uri_file", "uri_folder", "mltable"];

const LOCAL_CODE: &str = "the broker does not upload local folders: register the code as an asset (az ml code create) and reference it as azureml:NAME:VERSION";
const LOCAL_ENVIRONMENT: &str = "the broker does not build environments: register it (az ml environment create) and reference it as azureml:NAME:VERSION";

/// A registered asset: `azureml:NAME:VERSION`, or an id/URI sent as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetRef {
    Versioned {
        name: String,
        version: String,
    },
    /// An ARM id (`…/codes/NAME/versions/V`) or a remote URI (`https://…`, `azureml://…`).
    Id(String),
}

impl AssetRef {
    /// The id ARM expects (`codeId`, `environmentId`); `collection` is `codes` or `environments`.
    pub fn arm_id(&self, workspace: &WorkspaceId, collection: &str) -> String {
        match self {
            Self::Versioned { name, version } => {
                format!(
                    "{}/{collection}/{name}/versions/{version}",
                    workspace.arm_id()
                )
            }
            Self::Id(id) => id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Python { file: String },
    Scala { class_name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// A scalar input (`${{inputs.x}}` expands to it).
    Literal(String),
    /// `{type, path, mode: direct}`.
    Data { kind: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    pub kind: String,
    /// `None`: the service picks the default datastore location.
    pub path: Option<String>,
}

/// `resources`: serverless size and the Spark runtime the job needs (also used to pick a pool).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparkResources {
    pub instance_type: Option<InstanceType>,
    pub runtime_version: Option<RuntimeVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputeRequest {
    /// Pick a pool by `pool_preference` / `workload`, else serverless.
    Auto,
    Named(ComputeName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Serverless,
    None,
}

/// `identity` as the YAML states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedIdentity {
    UserIdentity,
    AmlToken,
    /// Neither id: the compute's own managed identity.
    Managed {
        resource_id: Option<UserAssignedIdentityId>,
        client_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkJobSpec {
    /// An explicit job name; otherwise it is derived from the idempotency key.
    pub name: Option<JobName>,
    pub code: AssetRef,
    pub entry: Entry,
    pub py_files: Vec<String>,
    pub jars: Vec<String>,
    pub files: Vec<String>,
    pub archives: Vec<String>,
    pub args: Option<String>,
    /// `conf` with `driver_cores` … folded in as `spark.driver.cores` …, values as strings.
    pub conf: IndexMap<String, String>,
    pub inputs: IndexMap<String, JobInput>,
    pub outputs: IndexMap<String, JobOutput>,
    pub environment: Option<AssetRef>,
    pub environment_variables: IndexMap<String, String>,
    pub resources: SparkResources,
    pub compute: ComputeRequest,
    pub identity: Option<RequestedIdentity>,
    pub display_name: Option<String>,
    pub experiment_name: Option<String>,
    pub description: Option<String>,
    pub tags: Tags,
    pub pool_preference: Vec<ComputeName>,
    pub workload: Option<String>,
    pub fallback: Fallback,
}

impl SparkJobSpec {
    /// Parses a spec found at `path` (`spec` inside an envelope, `""` for a bare YAML file).
    pub fn parse(value: &Value, path: &str) -> Result<Self, SparkJobError> {
        let mut errs = FieldErrors::default();
        match parse(value, path, &mut errs) {
            Some(spec) if errs.is_empty() => Ok(spec),
            _ => Err(SparkJobError::Invalid(errs.into_vec())),
        }
    }
}

fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<SparkJobSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(FIELDS, errs);
    if let Some(t) = f.optional_str("type", errs)
        && !t.eq_ignore_ascii_case("spark")
    {
        errs.push(f.path("type"), format!("expected spark; got {}", quote(t)));
    }
    let name = f.optional_str("name", errs).and_then(|s| {
        JobName::parse(s)
            .map_err(|e| errs.push(f.path("name"), e.to_string()))
            .ok()
    });
    let code = f.required_str("code", errs).and_then(|s| {
        parse_asset(s, "codes", LOCAL_CODE)
            .map_err(|e| errs.push(f.path("code"), e))
            .ok()
    });
    let entry = f
        .required("entry", errs)
        .and_then(|v| parse_entry(v, &f.path("entry"), errs));
    let lists: Vec<Vec<String>> = ["py_files", "jars", "files", "archives"]
        .iter()
        .map(|k| string_list(&f, k, errs))
        .collect();
    let args = f.optional_str("args", errs).map(str::to_owned);
    let conf = conf(&f, errs);
    let inputs = f
        .get("inputs")
        .map(|v| parse_inputs(v, &f.path("inputs"), errs))
        .unwrap_or_default();
    let outputs = f
        .get("outputs")
        .map(|v| parse_outputs(v, &f.path("outputs"), errs))
        .unwrap_or_default();
    let environment = f.optional_str("environment", errs).and_then(|s| {
        parse_asset(s, "environments", LOCAL_ENVIRONMENT)
            .map_err(|e| errs.push(f.path("environment"), e))
            .ok()
    });
    let environment_variables = f
        .get("environment_variables")
        .map(|v| scalar_map(v, &f.path("environment_variables"), errs))
        .unwrap_or_default();
    let resources = f
        .get("resources")
        .map(|v| parse_resources(v, &f.path("resources"), errs))
        .unwrap_or_default();
    let compute = match f.optional_str("compute", errs) {
        None => ComputeRequest::Auto,
        Some(s) if s.eq_ignore_ascii_case("auto") => ComputeRequest::Auto,
        Some(s) => {
            // `az ml job` YAML writes `compute: azureml:NAME`.
            let bare = strip_prefix_ci(s, "azureml:").unwrap_or(s);
            match ComputeName::parse(bare) {
                Ok(n) => ComputeRequest::Named(n),
                Err(e) => {
                    errs.push(
                        f.path("compute"),
                        format!("expected auto or an attached compute name: {e}"),
                    );
                    ComputeRequest::Auto
                }
            }
        }
    };
    let identity = f
        .get("identity")
        .and_then(|v| parse_identity(v, &f.path("identity"), errs));
    let display_name = bounded_str(&f, "display_name", 256, errs);
    let experiment_name = f.optional_str("experiment_name", errs).and_then(|s| {
        check_asset_name(s)
            .map_err(|e| errs.push(f.path("experiment_name"), e))
            .ok()
            .map(|()| s.to_owned())
    });
    let description = f.optional_str("description", errs).map(str::to_owned);
    let tags = f
        .get("tags")
        .and_then(|v| parse_tags(v, &f.path("tags"), errs))
        .unwrap_or_default();
    let pool_preference = f
        .get("pool_preference")
        .and_then(|v| as_array(v, &f.path("pool_preference"), errs))
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let p = index(&f.path("pool_preference"), i);
                    let s = as_str(v, &p, errs)?;
                    let bare = strip_prefix_ci(s, "azureml:").unwrap_or(s);
                    ComputeName::parse(bare)
                        .map_err(|e| errs.push(p, e.to_string()))
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    let workload = bounded_str(&f, "workload", 256, errs);
    let fallback = match f.optional_str("fallback", errs) {
        None if compute == ComputeRequest::Auto => Fallback::Serverless,
        None => Fallback::None,
        Some(s) if s.eq_ignore_ascii_case("serverless") => Fallback::Serverless,
        Some(s) if s.eq_ignore_ascii_case("none") => Fallback::None,
        Some(s) => {
            errs.push(
                f.path("fallback"),
                format!("expected serverless or none; got {}", quote(s)),
            );
            Fallback::None
        }
    };
    let [py_files, jars, files, archives]: [Vec<String>; 4] = lists.try_into().ok()?;
    Some(SparkJobSpec {
        name,
        code: code?,
        entry: entry?,
        py_files,
        jars,
        files,
        archives,
        args,
        conf,
        inputs,
        outputs,
        environment,
        environment_variables,
        resources,
        compute,
        identity,
        display_name,
        experiment_name,
        description,
        tags,
        pool_preference,
        workload,
        fallback,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

fn bounded_str(f: &Fields<'_>, key: &str, max: usize, errs: &mut FieldErrors) -> Option<String> {
    let s = f.optional_str(key, errs)?;
    if s.trim().is_empty() || s.chars().count() > max {
        errs.push(f.path(key), format!("must be 1 to {max} characters long"));
        return None;
    }
    Some(s.to_owned())
}

/// Asset names and versions: letters, digits, `-`, `_`, `.`; up to 255 characters.
fn check_asset_name(s: &str) -> Result<(), String> {
    let ok = (1..=255).contains(&s.chars().count())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} must be 1 to 255 letters, digits, '-', '_' or '.', starting with a letter, digit or '_'",
            quote(s)
        ))
    }
}

/// `/subscriptions/S/resourceGroups/R/providers/Microsoft.MachineLearningServices/workspaces/W/{collection}/N/versions/V`
fn check_asset_arm_id(id: &str, collection: &str) -> Result<(), String> {
    let literals: [(usize, &str); 6] = [
        (0, "subscriptions"),
        (2, "resourceGroups"),
        (4, "providers"),
        (5, "Microsoft.MachineLearningServices"),
        (6, "workspaces"),
        (10, "versions"),
    ];
    let segs: Vec<&str> = id.strip_prefix('/').unwrap_or("").split('/').collect();
    let shape_ok = segs.len() == 12
        && segs.iter().all(|s| !s.is_empty())
        && literals
            .iter()
            .all(|(i, lit)| segs[*i].eq_ignore_ascii_case(lit))
        && segs[8].eq_ignore_ascii_case(collection);
    if shape_ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not an asset version id of the form /subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.MachineLearningServices/workspaces/{{ws}}/{collection}/{{name}}/versions/{{version}}",
            quote(id)
        ))
    }
}

fn parse_asset(s: &str, collection: &str, local_hint: &str) -> Result<AssetRef, String> {
    if s.trim() != s || s.is_empty() {
        return Err("must not be empty or have surrounding whitespace".into());
    }
    let has_scheme = |scheme: &str| strip_prefix_ci(s, scheme).is_some_and(|r| !r.is_empty());
    if has_scheme("https://") || has_scheme("azureml://") {
        return Ok(AssetRef::Id(s.to_owned()));
    }
    if let Some(rest) = strip_prefix_ci(s, "azureml:") {
        if rest.starts_with('/') {
            check_asset_arm_id(rest, collection)?;
            return Ok(AssetRef::Id(rest.to_owned()));
        }
        if let Some((name, label)) = rest.split_once('@') {
            return Err(format!(
                "{} names a label, which the broker does not resolve: a redelivered command must submit the same definition, so pin a version: azureml:{name}:VERSION (label {})",
                quote(s),
                quote(label)
            ));
        }
        let Some((name, version)) = rest.split_once(':') else {
            return Err(format!(
                "{} has no version; write azureml:{rest}:VERSION",
                quote(s)
            ));
        };
        check_asset_name(name).map_err(|e| format!("asset name {e}"))?;
        check_asset_name(version).map_err(|e| format!("asset version {e}"))?;
        return Ok(AssetRef::Versioned {
            name: name.to_owned(),
            version: version.to_owned(),
        });
    }
    if strip_prefix_ci(s, "/subscriptions/").is_some() {
        check_asset_arm_id(s, collection)?;
        return Ok(AssetRef::Id(s.to_owned()));
    }
    Err(format!(
        "{} looks like a local path: {local_hint}",
        quote(s)
    ))
}

fn parse_entry(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<Entry> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["file", "class_name"], errs);
    let file = f.optional_str("file", errs);
    let class = f.optional_str("class_name", errs);
    let non_empty = |key: &str, s: &str, errs: &mut FieldErrors| {
        if s.trim().is_empty() {
            errs.push(f.path(key), "must not be empty");
            None
        } else {
            Some(s.to_owned())
        }
    };
    match (file, class) {
        (Some(file), None) => Some(Entry::Python {
            file: non_empty("file", file, errs)?,
        }),
        (None, Some(class)) => Some(Entry::Scala {
            class_name: non_empty("class_name", class, errs)?,
        }),
        (Some(_), Some(_)) => {
            errs.push(path, "set exactly one of file or class_name, not both");
            None
        }
        (None, None) if f.contains("file") || f.contains("class_name") => None,
        (None, None) => {
            errs.push(
                path,
                "set exactly one of file (Python) or class_name (Scala/Java)",
            );
            None
        }
    }
}

fn string_list(f: &Fields<'_>, key: &str, errs: &mut FieldErrors) -> Vec<String> {
    let Some(items) = f.get(key).and_then(|v| as_array(v, &f.path(key), errs)) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let p = index(&f.path(key), i);
            match as_str(v, &p, errs) {
                Some(s) if !s.trim().is_empty() => Some(s.to_owned()),
                Some(_) => {
                    errs.push(p, "must not be empty");
                    None
                }
                None => None,
            }
        })
        .collect()
}

/// A scalar as the string Spark sees.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_map(value: &Value, path: &str, errs: &mut FieldErrors) -> IndexMap<String, String> {
    let Value::Object(map) = value else {
        errs.push(
            path,
            format!(
                "expected a map of names to values, got {}",
                type_name(value)
            ),
        );
        return IndexMap::new();
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(k, v)| {
            let p = join(path, k);
            if k.trim().is_empty() {
                errs.push(p, "names must not be empty");
                return None;
            }
            match scalar(v) {
                Some(s) => Some((k.clone(), s)),
                None => {
                    errs.push(
                        p,
                        format!("expected a string, number or boolean, got {}", type_name(v)),
                    );
                    None
                }
            }
        })
        .collect()
}

fn count(f: &Fields<'_>, key: &str, min: u64, errs: &mut FieldErrors) -> Option<u64> {
    let v = f.get(key)?;
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= u64::from(u32::MAX) => Some(n),
        _ => {
            errs.push(
                f.path(key),
                format!(
                    "expected a whole number of at least {min}, got {}",
                    shown(v)
                ),
            );
            None
        }
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_owned(),
    }
}

/// `2g`, `512m`: Spark memory sizes (a bare number would mean bytes).
fn memory(f: &Fields<'_>, key: &str, errs: &mut FieldErrors) -> Option<String> {
    let v = f.get(key)?;
    let ok = v.as_str().filter(|s| {
        let Some(unit) = s.chars().last() else {
            return false;
        };
        let digits = &s[..s.len() - unit.len_utf8()];
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && matches!(unit.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't')
    });
    if ok.is_none() {
        errs.push(
            f.path(key),
            format!(
                "expected a size with a unit like 2g or 512m (k, m, g or t), got {}",
                shown(v)
            ),
        );
    }
    ok.map(str::to_owned)
}

/// Top-level sizing fields and the conf keys azure-ai-ml folds them into.
const SIZING: [(&str, &str); 8] = [
    ("driver_cores", "spark.driver.cores"),
    ("driver_memory", "spark.driver.memory"),
    ("executor_cores", "spark.executor.cores"),
    ("executor_memory", "spark.executor.memory"),
    ("executor_instances", "spark.executor.instances"),
    (
        "dynamic_allocation_enabled",
        "spark.dynamicAllocation.enabled",
    ),
    (
        "dynamic_allocation_min_executors",
        "spark.dynamicAllocation.minExecutors",
    ),
    (
        "dynamic_allocation_max_executors",
        "spark.dynamicAllocation.maxExecutors",
    ),
];

/// `conf` merged with the sizing fields, then checked as azure-ai-ml's `spark_helpers` does.
fn conf(f: &Fields<'_>, errs: &mut FieldErrors) -> IndexMap<String, String> {
    let mut conf = f
        .get("conf")
        .map(|v| scalar_map(v, &f.path("conf"), errs))
        .unwrap_or_default();
    for (field, key) in SIZING {
        let value = match field {
            "driver_memory" | "executor_memory" => memory(f, field, errs),
            "dynamic_allocation_enabled" => f.optional_bool(field, errs).map(|b| b.to_string()),
            "executor_instances" => count(f, field, 0, errs).map(|n| n.to_string()),
            _ => count(f, field, 1, errs).map(|n| n.to_string()),
        };
        let Some(value) = value else { continue };
        match conf.get(key) {
            Some(existing) if !existing.eq_ignore_ascii_case(&value) => errs.push(
                f.path(field),
                format!(
                    "{value} conflicts with {} = {}; set it in one place",
                    join(&f.path("conf"), key),
                    quote(existing)
                ),
            ),
            Some(_) => {}
            None => {
                conf.insert(key.to_owned(), value);
            }
        }
    }
    check_sizing(f, &conf, errs);
    conf
}

fn check_sizing(f: &Fields<'_>, conf: &IndexMap<String, String>, errs: &mut FieldErrors) {
    let field_of = |key: &str| {
        SIZING
            .iter()
            .find(|(_, k)| *k == key)
            .map_or_else(|| f.path("conf"), |(field, _)| f.path(field))
    };
    let int = |key: &str, errs: &mut FieldErrors| -> Option<u64> {
        let raw = conf.get(key)?;
        let n = raw.trim().parse::<u64>().ok();
        if n.is_none() {
            errs.push(
                join(&f.path("conf"), key),
                format!("expected a whole number, got {}", quote(raw)),
            );
        }
        n
    };
    let dynamic = conf
        .get("spark.dynamicAllocation.enabled")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut required = vec![
        "spark.driver.cores",
        "spark.driver.memory",
        "spark.executor.cores",
        "spark.executor.memory",
    ];
    if dynamic {
        required.extend([
            "spark.dynamicAllocation.minExecutors",
            "spark.dynamicAllocation.maxExecutors",
        ]);
    } else {
        required.push("spark.executor.instances");
    }
    // A sizing field that was given but invalid has its own error already.
    let given = |key: &str| {
        SIZING
            .iter()
            .any(|(field, k)| *k == key && f.contains(field))
    };
    for key in required {
        if !conf.contains_key(key) && !given(key) {
            let why = if dynamic {
                "is required with dynamic allocation"
            } else {
                "is required (Spark jobs need driver_cores, driver_memory, executor_cores, executor_memory and executor_instances, or dynamic allocation with min/max executors)"
            };
            errs.push(field_of(key), format!("{why}; or set conf {key}"));
        }
    }
    for key in ["spark.driver.cores", "spark.executor.cores"] {
        int(key, errs);
    }
    let instances = int("spark.executor.instances", errs);
    if dynamic {
        let min = int("spark.dynamicAllocation.minExecutors", errs);
        let max = int("spark.dynamicAllocation.maxExecutors", errs);
        if let (Some(min), Some(max)) = (min, max) {
            if min == 0 || min > max {
                errs.push(
                    field_of("spark.dynamicAllocation.minExecutors"),
                    format!("dynamic allocation needs 0 < min_executors <= max_executors; got {min} and {max}"),
                );
            } else if let Some(n) = instances.filter(|n| !(min..=max).contains(n)) {
                errs.push(
                    field_of("spark.executor.instances"),
                    format!("{n} must be between min_executors {min} and max_executors {max}"),
                );
            }
        }
    }
}

fn data_type(f: &Fields<'_>, errs: &mut FieldErrors) -> Option<String> {
    let t = f.required_str("type", errs)?;
    let lower = t.to_ascii_lowercase();
    if DATA_TYPES.contains(&lower.as_str()) {
        Some(lower)
    } else {
        errs.push(
            f.path("type"),
            format!(
                "Spark jobs read and write {}; got {}",
                DATA_TYPES.join(", "),
                quote(t)
            ),
        );
        None
    }
}

fn check_mode(f: &Fields<'_>, errs: &mut FieldErrors) {
    if let Some(mode) = f.optional_str("mode", errs)
        && !mode.eq_ignore_ascii_case("direct")
    {
        errs.push(
            f.path("mode"),
            format!("Spark jobs only accept mode direct; got {}", quote(mode)),
        );
    }
}

/// Input and output names become `${{inputs.NAME}}` in `args`.
fn check_binding_name(name: &str, path: &str, errs: &mut FieldErrors) -> bool {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 255;
    if !ok {
        errs.push(
            path,
            "names are letters, digits and '_', starting with a letter or '_'",
        );
    }
    ok
}

fn object_entries<'a>(
    value: &'a Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Vec<(&'a String, &'a Value, String)> {
    let Value::Object(map) = value else {
        errs.push(path, format!("expected a map, got {}", type_name(value)));
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| (k, v, join(path, k)))
        .filter(|(k, _, p)| check_binding_name(k, p, errs))
        .collect()
}

fn parse_inputs(value: &Value, path: &str, errs: &mut FieldErrors) -> IndexMap<String, JobInput> {
    object_entries(value, path, errs)
        .into_iter()
        .filter_map(|(name, v, p)| {
            let input = match v {
                Value::Object(_) => {
                    let f = Fields::of(v, &p, errs)?;
                    f.deny_unknown(&["type", "path", "mode"], errs);
                    check_mode(&f, errs);
                    let kind = data_type(&f, errs);
                    let path = f.required_str("path", errs).map(str::to_owned);
                    JobInput::Data {
                        kind: kind?,
                        path: path?,
                    }
                }
                other => match scalar(other) {
                    Some(s) => JobInput::Literal(s),
                    None => {
                        errs.push(
                            p,
                            format!(
                                "expected {{type, path, mode}} or a literal value, got {}",
                                type_name(other)
                            ),
                        );
                        return None;
                    }
                },
            };
            Some((name.clone(), input))
        })
        .collect()
}

fn parse_outputs(value: &Value, path: &str, errs: &mut FieldErrors) -> IndexMap<String, JobOutput> {
    object_entries(value, path, errs)
        .into_iter()
        .filter_map(|(name, v, p)| {
            let f = Fields::of(v, &p, errs)?;
            f.deny_unknown(&["type", "path", "mode"], errs);
            check_mode(&f, errs);
            let kind = data_type(&f, errs);
            let path = f.optional_str("path", errs).map(str::to_owned);
            Some((name.clone(), JobOutput { kind: kind?, path }))
        })
        .collect()
}

fn parse_resources(value: &Value, path: &str, errs: &mut FieldErrors) -> SparkResources {
    let Some(f) = Fields::of(value, path, errs) else {
        return SparkResources::default();
    };
    f.deny_unknown(&["instance_type", "runtime_version"], errs);
    let instance_type = f.optional_str("instance_type", errs).and_then(|s| {
        InstanceType::parse(s)
            .map_err(|e| errs.push(f.path("instance_type"), e))
            .ok()
    });
    // YAML reads `runtime_version: 3.4` as a number.
    let runtime_version = f.get("runtime_version").and_then(|v| {
        let text = match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match text.map(|t| RuntimeVersion::parse(&t)) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                errs.push(f.path("runtime_version"), e);
                None
            }
            None => {
                errs.push(
                    f.path("runtime_version"),
                    format!("expected a version like 3.4, got {}", type_name(v)),
                );
                None
            }
        }
    });
    SparkResources {
        instance_type,
        runtime_version,
    }
}

fn parse_identity(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<RequestedIdentity> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["type", "client_id", "resource_id"], errs);
    let ty = f.required_str("type", errs)?;
    let has_ids = f.contains("client_id") || f.contains("resource_id");
    match ty.to_ascii_lowercase().as_str() {
        "managed" | "managed_identity" => {
            let resource_id = f.optional_str("resource_id", errs).and_then(|s| {
                UserAssignedIdentityId::parse(s)
                    .map_err(|e| errs.push(f.path("resource_id"), e.to_string()))
                    .ok()
            });
            let client_id = f.optional_str("client_id", errs).and_then(|s| {
                uuid::Uuid::parse_str(s)
                    .map(|_| s.to_ascii_lowercase())
                    .map_err(|_| {
                        errs.push(
                            f.path("client_id"),
                            format!("expected a GUID, got {}", quote(s)),
                        );
                    })
                    .ok()
            });
            Some(RequestedIdentity::Managed {
                resource_id,
                client_id,
            })
        }
        "user_identity" | "aml_token" if has_ids => {
            errs.push(
                path,
                format!("client_id and resource_id only go with type managed, not {ty}"),
            );
            None
        }
        "user_identity" => Some(RequestedIdentity::UserIdentity),
        "aml_token" => Some(RequestedIdentity::AmlToken),
        _ => {
            errs.push(
                f.path("type"),
                format!(
                    "expected one of user_identity, managed, aml_token; got {}",
                    quote(ty)
                ),
            );
            None
        }
    }
}
