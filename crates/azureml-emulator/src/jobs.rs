//! Spark jobs (`…/workspaces/{ws}/jobs/{id}`): synchronous PUT, statuses that advance on the
//! emulator's clock (reading a job never changes it), list with filters, and cancel as a
//! long-running operation.

use crate::arm::{self, ArmError, json_response};
use crate::config::EmulatorConfig;
use crate::dispatch::Ctx;
use crate::ids::{self, ComputeId};
use crate::operations::{self, Effect, Family, NewOperation};
use crate::state::{Data, EmulatorState, TENANT_ID, Workspace};
use crate::{faults, paging, workspaces};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime};

/// `JobStatus` of the 2025-12-01 spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    NotStarted,
    Starting,
    Provisioning,
    Preparing,
    Queued,
    Running,
    Finalizing,
    CancelRequested,
    Completed,
    Failed,
    Canceled,
    NotResponding,
    Paused,
    Unknown,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NotStarted",
            Self::Starting => "Starting",
            Self::Provisioning => "Provisioning",
            Self::Preparing => "Preparing",
            Self::Queued => "Queued",
            Self::Running => "Running",
            Self::Finalizing => "Finalizing",
            Self::CancelRequested => "CancelRequested",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
            Self::NotResponding => "NotResponding",
            Self::Paused => "Paused",
            Self::Unknown => "Unknown",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }

    /// The service's lifecycle: NotStarted → Starting → Preparing → Queued → Running →
    /// Finalizing → Completed. Statuses outside it (CancelRequested waits for its operation,
    /// Paused, NotResponding, Unknown, terminal ones) do not move on their own.
    fn next(self) -> Option<Self> {
        Some(match self {
            Self::NotStarted => Self::Starting,
            Self::Starting | Self::Provisioning => Self::Preparing,
            Self::Preparing => Self::Queued,
            Self::Queued => Self::Running,
            Self::Running => Self::Finalizing,
            Self::Finalizing => Self::Completed,
            _ => return None,
        })
    }

    /// How long the job stays in this status before the next one.
    fn dwell(self, config: &EmulatorConfig) -> Duration {
        if self == Self::Running {
            config.job_run_duration
        } else {
            config.job_step_duration
        }
    }

    fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct JobRecord {
    pub resource: Value,
    /// The submitted definition without the updatable fields, to detect conflicting re-PUTs.
    pub definition: Value,
    /// When set, the next status step is `Failed` with this error.
    pub failure: Option<(String, String)>,
    /// vCores a serverless job holds while active (0 for attached pools).
    pub serverless_vcores: u32,
    /// When the job entered its current status (emulator clock).
    pub status_since: SystemTime,
}

impl JobRecord {
    pub fn status(&self) -> JobStatus {
        self.resource
            .pointer("/properties/status")
            .and_then(Value::as_str)
            .and_then(JobStatus::parse)
            .unwrap_or(JobStatus::Unknown)
    }

    pub fn set_status(&mut self, status: JobStatus) {
        if let Some(props) = self
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            props.insert("status".into(), json!(status.as_str()));
        }
    }

    /// Moves the job through every status whose time has passed by `now`; an injected
    /// failure replaces the next step with `Failed`.
    fn advance_to(&mut self, now: SystemTime, config: &EmulatorConfig) {
        loop {
            let status = self.status();
            let Some(next) = status.next() else { return };
            let due = self.status_since + status.dwell(config);
            if due > now {
                return;
            }
            self.status_since = due;
            if let Some((code, message)) = self.failure.take() {
                self.set_status(JobStatus::Failed);
                if let Some(props) = self
                    .resource
                    .get_mut("properties")
                    .and_then(Value::as_object_mut)
                {
                    props.insert("error".into(), json!({"code": code, "message": message}));
                }
                return;
            }
            self.set_status(next);
        }
    }
}

/// Advances every job to `now` (called whenever the world is read).
pub(crate) fn tick(data: &mut Data, now: SystemTime, config: &EmulatorConfig) {
    for job in data.jobs.values_mut() {
        job.advance_to(now, config);
    }
}

pub(crate) fn job_key(workspace_id: &str, name: &str) -> String {
    ids::key(&format!(
        "{}/jobs/{name}",
        workspace_id.trim_end_matches('/')
    ))
}

const INSTANCE_TYPES: [&str; 5] = [
    "standard_e4s_v3",
    "standard_e8s_v3",
    "standard_e16s_v3",
    "standard_e32s_v3",
    "standard_e64s_v3",
];

/// Fields a PUT on an existing job may change.
const UPDATABLE: [&str; 3] = ["tags", "description", "isArchived"];
const READ_ONLY: [&str; 3] = ["status", "services", "error"];

fn not_found(name: &str, ws: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("Job '{name}' was not found in workspace '{ws}'."),
    )
    .with_inner("ResourceNotFound")
}

fn conf_int(conf: &Map<String, Value>, key: &str) -> Result<Option<u32>, ArmError> {
    let target = format!("properties.conf.{key}");
    match conf.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ArmError::user(
                    &target,
                    format!("{target}: expected a non-negative integer"),
                )
            }),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ArmError::user(&target, format!("{target}: expected an integer, got '{s}'"))
        }),
        Some(_) => Err(ArmError::user(
            &target,
            format!("{target}: expected an integer"),
        )),
    }
}

fn conf_bool(conf: &Map<String, Value>, key: &str) -> bool {
    match conf.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// vCores the job asks for: driver cores + executor cores × executors (max executors with
/// dynamic allocation). Enforces the conf keys azure-ai-ml requires.
fn requested_vcores(props: &Map<String, Value>) -> Result<u32, ArmError> {
    let empty = Map::new();
    let conf = match props.get("conf") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(c)) => c,
        Some(_) => {
            return Err(ArmError::user(
                "properties.conf",
                "properties.conf: expected an object",
            ));
        }
    };
    for key in ["spark.driver.memory", "spark.executor.memory"] {
        if conf.get(key).is_none_or(Value::is_null) {
            return Err(ArmError::user(
                &format!("properties.conf.{key}"),
                format!("properties.conf.{key}: required field is missing"),
            ));
        }
    }
    let required = |key: &str| -> Result<u32, ArmError> {
        conf_int(conf, key)?.ok_or_else(|| {
            ArmError::user(
                &format!("properties.conf.{key}"),
                format!("properties.conf.{key}: required field is missing"),
            )
        })
    };
    let driver = required("spark.driver.cores")?;
    let executor = required("spark.executor.cores")?;
    let executors = if conf_bool(conf, "spark.dynamicAllocation.enabled") {
        let min = required("spark.dynamicAllocation.minExecutors")?;
        let max = required("spark.dynamicAllocation.maxExecutors")?;
        if min == 0 || min > max {
            return Err(ArmError::user(
                "properties.conf.spark.dynamicAllocation.minExecutors",
                format!(
                    "properties.conf: dynamic allocation needs 0 < minExecutors <= maxExecutors, got {min} and {max}"
                ),
            ));
        }
        if let Some(n) = conf_int(conf, "spark.executor.instances")?
            && !(min..=max).contains(&n)
        {
            return Err(ArmError::user(
                "properties.conf.spark.executor.instances",
                format!(
                    "properties.conf.spark.executor.instances: {n} must be between minExecutors {min} and maxExecutors {max}"
                ),
            ));
        }
        max
    } else {
        required("spark.executor.instances")?
    };
    Ok(driver.saturating_add(executor.saturating_mul(executors)))
}

fn str_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    target: &str,
) -> Result<&'a str, ArmError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(ArmError::user(
            target,
            format!("{target}: required non-empty string is missing"),
        )),
    }
}

fn validate_entry(props: &Map<String, Value>) -> Result<(), ArmError> {
    let Some(entry) = props.get("entry").and_then(Value::as_object) else {
        return Err(ArmError::user(
            "properties.entry",
            "properties.entry: required object is missing",
        ));
    };
    match entry.get("sparkJobEntryType").and_then(Value::as_str) {
        Some("SparkJobPythonEntry") => str_field(entry, "file", "properties.entry.file").map(drop),
        Some("SparkJobScalaEntry") => {
            str_field(entry, "className", "properties.entry.className").map(drop)
        }
        other => Err(ArmError::user(
            "properties.entry.sparkJobEntryType",
            format!(
                "properties.entry.sparkJobEntryType: expected 'SparkJobPythonEntry' or 'SparkJobScalaEntry', got {}",
                other.map_or_else(|| String::from("nothing"), |o| format!("'{o}'"))
            ),
        )),
    }
}

/// The job's `identity`, parsed.
enum JobIdentity {
    Default,
    AmlToken,
    UserIdentity,
    Managed {
        resource_id: Option<String>,
        client_id: Option<String>,
    },
}

fn parse_identity(props: &Map<String, Value>) -> Result<JobIdentity, ArmError> {
    let obj = match props.get("identity") {
        None | Some(Value::Null) => return Ok(JobIdentity::Default),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(ArmError::user(
                "properties.identity",
                "properties.identity: expected an object",
            ));
        }
    };
    match obj.get("identityType").and_then(Value::as_str) {
        Some("AMLToken") => Ok(JobIdentity::AmlToken),
        Some("UserIdentity") => Ok(JobIdentity::UserIdentity),
        Some("Managed") => {
            let resource_id = obj
                .get("resourceId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let client_id = obj
                .get("clientId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(rid) = &resource_id
                && ids::parse_uai(rid).is_none()
            {
                return Err(ArmError::user(
                    "properties.identity.resourceId",
                    format!(
                        "properties.identity.resourceId: '{rid}' is not a user-assigned identity id"
                    ),
                ));
            }
            for key in ["clientId", "objectId"] {
                if let Some(v) = obj.get(key).filter(|v| !v.is_null())
                    && v.as_str()
                        .and_then(|s| uuid::Uuid::parse_str(s).ok())
                        .is_none()
                {
                    return Err(ArmError::user(
                        &format!("properties.identity.{key}"),
                        format!("properties.identity.{key}: expected a GUID"),
                    ));
                }
            }
            if let (Some(rid), Some(cid)) = (&resource_id, &client_id)
                && !ids::uai_client_id(rid)
                    .to_string()
                    .eq_ignore_ascii_case(cid)
            {
                return Err(ArmError::user(
                    "properties.identity.clientId",
                    format!(
                        "properties.identity.clientId: '{cid}' is not the client id of '{rid}'"
                    ),
                ));
            }
            Ok(JobIdentity::Managed {
                resource_id,
                client_id,
            })
        }
        other => Err(ArmError::user(
            "properties.identity.identityType",
            format!(
                "properties.identity.identityType: expected one of Managed, AMLToken, UserIdentity; got {}",
                other.map_or_else(|| String::from("nothing"), |o| format!("'{o}'"))
            ),
        )),
    }
}

/// Whether the managed identity the job asks for is one of `uais` (ids compared case-insensitively).
fn uai_listed(uais: &[String], resource_id: &Option<String>, client_id: &Option<String>) -> bool {
    uais.iter().any(|id| match (resource_id, client_id) {
        (Some(rid), _) => ids::key(rid) == ids::key(id),
        (None, Some(cid)) => ids::uai_client_id(id).to_string().eq_ignore_ascii_case(cid),
        (None, None) => false,
    })
}

fn validate_attached(
    data: &Data,
    compute_id: &str,
    identity: &JobIdentity,
) -> Result<(), ArmError> {
    let target = "properties.computeId";
    let parsed = ComputeId::parse(compute_id).ok_or_else(|| {
        ArmError::user(target, format!("{target}: '{compute_id}' is not a compute id (…/workspaces/{{ws}}/computes/{{name}})"))
    })?;
    let rec = data
        .computes
        .get(&crate::computes::compute_key(
            &parsed.workspace_id(),
            &parsed.name,
        ))
        .ok_or_else(|| {
            ArmError::user(
                target,
                format!("{target}: compute '{}' was not found", parsed.name),
            )
            .with_inner("NotFound")
        })?;
    let props = rec.resource.get("properties");
    let ty = props
        .and_then(|p| p.get("computeType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if ty != "SynapseSpark" {
        return Err(ArmError::user(
            target,
            format!(
                "{target}: compute '{}' is of type '{ty}'; Spark jobs need a SynapseSpark compute",
                parsed.name
            ),
        ));
    }
    let state = props
        .and_then(|p| p.get("provisioningState"))
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    if state != "Succeeded" {
        return Err(ArmError::user(
            target,
            format!(
                "{target}: compute '{}' is in provisioning state '{state}', not 'Succeeded'",
                parsed.name
            ),
        ));
    }
    let compute_identity = rec.resource.get("identity");
    let id_type = compute_identity
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("None");
    if let JobIdentity::Managed {
        resource_id,
        client_id,
    } = identity
    {
        let uais: Vec<String> = compute_identity
            .and_then(|i| i.get("userAssignedIdentities"))
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if resource_id.is_none() && client_id.is_none() {
            // azure-ai-ml sends this for ManagedIdentityConfiguration(); the compute's own
            // identity (system or user-assigned) is used (unverified: chosen as the SDK expects).
            if id_type.eq_ignore_ascii_case("None") {
                return Err(ArmError::user(
                    "properties.identity",
                    format!(
                        "properties.identity: compute '{}' has no managed identity; attach one (system- or user-assigned) or name a user-assigned identity attached to it",
                        parsed.name
                    ),
                ));
            }
        } else if !uai_listed(&uais, resource_id, client_id) {
            let named = resource_id
                .clone()
                .or_else(|| client_id.clone())
                .unwrap_or_default();
            return Err(ArmError::user(
                "properties.identity",
                format!(
                    "properties.identity: the user-assigned identity '{named}' is not attached to compute '{}'",
                    parsed.name
                ),
            ));
        }
    }
    Ok(())
}

fn validate_serverless(
    props: &Map<String, Value>,
    workspace: &Workspace,
    identity: &JobIdentity,
) -> Result<(), ArmError> {
    let Some(resources) = props.get("resources").and_then(Value::as_object) else {
        return Err(ArmError::user(
            "properties.resources",
            "properties.resources: expected an object",
        ));
    };
    let instance = str_field(
        resources,
        "instanceType",
        "properties.resources.instanceType",
    )?;
    if !INSTANCE_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(instance))
    {
        return Err(ArmError::user(
            "properties.resources.instanceType",
            format!(
                "properties.resources.instanceType: '{instance}' is not supported for serverless Spark; expected one of {}",
                INSTANCE_TYPES.join(", ")
            ),
        ));
    }
    let runtime = match resources.get("runtimeVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if runtime != "3.3" && runtime != "3.4" {
        return Err(ArmError::user(
            "properties.resources.runtimeVersion",
            format!(
                "properties.resources.runtimeVersion: runtime version should be either 3.3 or 3.4, got '{runtime}'"
            ),
        ));
    }
    if let JobIdentity::Managed {
        resource_id,
        client_id,
    } = identity
        // No id: the workspace's system-assigned identity (unverified, as the SDK expects).
        && (resource_id.is_some() || client_id.is_some())
        && !uai_listed(&workspace.identities, resource_id, client_id)
    {
        let named = resource_id
            .clone()
            .or_else(|| client_id.clone())
            .unwrap_or_else(|| String::from("system-assigned"));
        return Err(ArmError::user(
            "properties.identity",
            format!(
                "properties.identity: '{named}' is not attached to workspace '{}'; serverless Spark runs as the user identity or a user-assigned identity attached to the workspace",
                workspace.name
            ),
        ));
    }
    Ok(())
}

/// Validates a Spark job definition; returns the vCores it holds on serverless Spark (0 when
/// it runs on an attached pool).
fn validate(
    data: &Data,
    workspace: &Workspace,
    props: &Map<String, Value>,
) -> Result<u32, ArmError> {
    match props.get("jobType").and_then(Value::as_str) {
        Some("Spark") => {}
        Some(t @ ("AutoML" | "Command" | "Sweep" | "Pipeline")) => {
            return Err(ArmError::user(
                "properties.jobType",
                format!(
                    "properties.jobType: '{t}' jobs are not supported by this emulator; only 'Spark' is"
                ),
            ));
        }
        other => {
            return Err(ArmError::user(
                "properties.jobType",
                format!(
                    "properties.jobType: expected one of AutoML, Command, Sweep, Pipeline, Spark; got {}",
                    other.map_or_else(|| String::from("nothing"), |o| format!("'{o}'"))
                ),
            ));
        }
    }
    let code_id = str_field(props, "codeId", "properties.codeId")?;
    validate_entry(props)?;
    let vcores = requested_vcores(props)?;
    let identity = parse_identity(props)?;
    // References are resolved after the body is known to be well-formed.
    if !crate::assets::reference_exists(data, code_id) {
        return Err(ArmError::user(
            "properties.codeId",
            format!("properties.codeId: the code version '{code_id}' was not found in workspace '{}'; register it (PUT …/codes/{{name}}/versions/{{version}}) first.", workspace.name),
        )
        .with_inner("NotFound"));
    }
    match props.get("environmentId") {
        None | Some(Value::Null) => {}
        Some(Value::String(env)) if crate::assets::reference_exists(data, env) => {}
        Some(Value::String(env)) => {
            return Err(ArmError::user(
                "properties.environmentId",
                format!("properties.environmentId: the environment version '{env}' was not found in workspace '{}'.", workspace.name),
            )
            .with_inner("NotFound"));
        }
        Some(_) => {
            return Err(ArmError::user(
                "properties.environmentId",
                "properties.environmentId: expected a string",
            ));
        }
    }
    let compute_id = props.get("computeId").filter(|v| !v.is_null());
    let resources = props.get("resources").filter(|v| !v.is_null());
    match (compute_id, resources) {
        (Some(_), Some(_)) => Err(ArmError::user(
            "properties.computeId",
            "Only one of either computeId or resources may be specified for Spark job.",
        )),
        (None, None) => Err(ArmError::user(
            "properties.computeId",
            "One of either computeId or resources must be specified for Spark job.",
        )),
        (Some(cid), None) => {
            let cid = cid.as_str().ok_or_else(|| {
                ArmError::user(
                    "properties.computeId",
                    "properties.computeId: expected a string",
                )
            })?;
            validate_attached(data, cid, &identity)?;
            Ok(0)
        }
        (None, Some(_)) => {
            validate_serverless(props, workspace, &identity)?;
            Ok(vcores)
        }
    }
}

/// The definition with updatable/read-only fields dropped and service defaults applied, so a
/// re-sent identical job compares equal to the stored one.
fn definition(props: &Map<String, Value>) -> Value {
    let mut def: Map<String, Value> = props
        .iter()
        .filter(|(k, v)| {
            !v.is_null() && !UPDATABLE.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    def.entry("experimentName")
        .or_insert_with(|| json!("Default"));
    Value::Object(def)
}

fn quota_check(
    data: &Data,
    state: &EmulatorState,
    workspace: &Workspace,
    requested: u32,
) -> Result<(), ArmError> {
    if requested == 0 {
        return Ok(());
    }
    let ws_key = ids::key(&workspace.id);
    let prefix = job_key(&workspace.id, "");
    let in_use: u32 = data
        .jobs
        .iter()
        .filter(|(k, j)| k.starts_with(&prefix) && !j.status().is_terminal())
        .map(|(_, j)| j.serverless_vcores)
        .sum();
    let quota = data
        .vcore_quotas
        .get(&ws_key)
        .copied()
        .unwrap_or(state.config().serverless_vcore_quota);
    let available = quota.saturating_sub(in_use);
    if requested > available {
        return Err(ArmError::user(
            "properties.resources",
            format!(
                "Your Spark job requested {requested} vcores. However, the workspace has a {available} core limit. Try reducing the numbers of vcores requested or increasing your vcore quota."
            ),
        )
        .with_inner("QuotaExceeded"));
    }
    Ok(())
}

pub(crate) fn put(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    body: &[u8],
) -> Result<Response, ArmError> {
    let mut data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?.clone();
    if !ids::valid_job_name(name) {
        return Err(ArmError::user(
            "id",
            format!(
                "Job name '{name}' is invalid: it must start with a letter or digit and contain at most 255 letters, digits, '-' or '_'."
            ),
        ));
    }
    let body = Ctx::json(body)?;
    let Some(props) = body.get("properties").and_then(Value::as_object) else {
        return Err(ArmError::user(
            "properties",
            "properties: required object is missing",
        ));
    };
    let key = job_key(&workspace.id, name);
    if let Some(existing) = data.jobs.get_mut(&key) {
        if existing.definition != definition(props) {
            return Err(ArmError::user(
                "properties",
                format!("A job named '{name}' already exists with a different definition; only tags, description and isArchived can be updated."),
            )
            .with_inner("Conflict"));
        }
        if let Some(stored) = existing
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            for field in UPDATABLE {
                if let Some(v) = props.get(field) {
                    stored.insert(field.to_owned(), v.clone());
                }
            }
        }
        return Ok(json_response(StatusCode::OK, &existing.resource));
    }
    let vcores = validate(&data, &workspace, props)?;
    quota_check(&data, state, &workspace, vcores)?;
    let mut stored = props.clone();
    stored
        .entry("experimentName")
        .or_insert_with(|| json!("Default"));
    stored.entry("displayName").or_insert_with(|| json!(name));
    stored.entry("isArchived").or_insert_with(|| json!(false));
    stored.entry("tags").or_insert_with(|| json!({}));
    stored.insert("status".into(), json!(JobStatus::NotStarted.as_str()));
    let location = arm::normalize_location(&workspace.location);
    stored.insert(
        "services".into(),
        json!({
            "Tracking": {
                "jobServiceType": "Tracking",
                "endpoint": format!("azureml://{location}.api.azureml.ms/mlflow/v1.0{}?", workspace.id),
            },
            "Studio": {
                "jobServiceType": "Studio",
                "endpoint": format!("https://ml.azure.com/runs/{name}?wsid={}&tid={TENANT_ID}", workspace.id),
            },
        }),
    );
    let now = arm::rfc3339_at(state.clock().now());
    let resource = json!({
        "id": format!("{}/jobs/{name}", workspace.id),
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/jobs",
        "systemData": {
            "createdAt": now,
            "createdBy": "poolbroker-emulator",
            "createdByType": "Application",
            "lastModifiedAt": now,
        },
        "properties": Value::Object(stored),
    });
    let failure = faults::take_lro_failure(state, &ctx.method, &ctx.path_and_query);
    data.jobs.insert(
        key,
        JobRecord {
            resource: resource.clone(),
            definition: definition(props),
            failure,
            serverless_vcores: vcores,
            status_since: state.clock().now(),
        },
    );
    Ok(json_response(StatusCode::CREATED, &resource))
}

pub(crate) fn get(
    state: &EmulatorState,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?;
    let job = data
        .jobs
        .get(&job_key(&workspace.id, name))
        .ok_or_else(|| not_found(name, ws))?;
    Ok(json_response(StatusCode::OK, &job.resource))
}

pub(crate) fn list(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Response, ArmError> {
    let data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?;
    let view = ctx.query("listViewType").unwrap_or("ActiveOnly");
    let archived_filter = match view.to_ascii_lowercase().as_str() {
        "activeonly" => Some(false),
        "archivedonly" => Some(true),
        "all" => None,
        _ => {
            return Err(ArmError::user(
                "listViewType",
                format!("listViewType: expected ActiveOnly, ArchivedOnly or All, got '{view}'"),
            ));
        }
    };
    let job_type = ctx.query("jobType");
    let tag = ctx.query("tag");
    let prefix = job_key(&workspace.id, "");
    let items: Vec<Value> = data
        .jobs
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, j)| &j.resource)
        .filter(|r| {
            let p = r.get("properties");
            let archived = p
                .and_then(|p| p.get("isArchived"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let ty = p
                .and_then(|p| p.get("jobType"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let has_tag = |t: &str| {
                p.and_then(|p| p.get("tags"))
                    .and_then(|t| t.as_object())
                    .is_some_and(|m| m.contains_key(t))
            };
            archived_filter.is_none_or(|a| a == archived)
                && job_type.is_none_or(|t| t.eq_ignore_ascii_case(ty))
                && tag.is_none_or(has_tag)
        })
        .cloned()
        .collect();
    let body = paging::page(ctx, items, state.config().page_size)?;
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) fn cancel(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let mut data = state.data();
    let workspace = workspaces::find(&data, sub, rg, ws)?.clone();
    let key = job_key(&workspace.id, name);
    let job = data.jobs.get_mut(&key).ok_or_else(|| not_found(name, ws))?;
    let previous = job.status();
    if matches!(previous, JobStatus::Completed | JobStatus::Failed) {
        return Err(ArmError::user(
            "id",
            format!(
                "Job '{name}' is in terminal state '{}' and cannot be canceled.",
                previous.as_str()
            ),
        ));
    }
    if previous != JobStatus::Canceled {
        job.set_status(JobStatus::CancelRequested);
    }
    let failure = faults::take_lro_failure(state, &ctx.method, &ctx.path_and_query);
    let urls = operations::start(
        state,
        &mut data,
        ctx,
        NewOperation {
            subscription: sub,
            location: &workspace.location,
            family: Family::Jobs,
            effect: Effect::JobCancel {
                job_key: key,
                previous,
            },
            failure,
        },
    );
    let mut resp = arm::empty_response(StatusCode::ACCEPTED);
    operations::location_headers(&mut resp, &urls, state.config().retry_after_secs);
    Ok(resp)
}
