//! Long-running operations. They run for `operation_duration` on the emulator's clock and then
//! complete whether or not anyone polls (ARM operations do not wait for their readers); tests
//! advance the clock instead of sleeping.

use crate::arm::{self, ArmError, json_response};
use crate::config::EmulatorConfig;
use crate::dispatch::Ctx;
use crate::jobs::JobStatus;
use crate::state::{Data, EmulatorState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::time::SystemTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Compute PUT: `Creating`/`Updating` → `Succeeded` (or `Failed`).
    ComputeProvision { compute_key: String },
    /// Compute DELETE with Detach: `Deleting` → gone (or back to `Succeeded` on failure).
    ComputeDetach { compute_key: String },
    /// Job cancel: `CancelRequested` → `Canceled` (or the previous status on failure).
    JobCancel {
        job_key: String,
        previous: JobStatus,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Compute,
    Jobs,
}

impl Family {
    fn status_segment(self) -> &'static str {
        match self {
            Self::Compute => "computeOperationsStatus",
            Self::Jobs => "mfeOperationsStatus",
        }
    }

    fn result_segment(self) -> &'static str {
        match self {
            Self::Compute => "computeOperationsResults",
            Self::Jobs => "mfeOperationResults",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Succeeded,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub name: String,
    pub subscription: String,
    pub region: String,
    pub family: Family,
    /// When the operation completes on the emulator's clock.
    pub done_at: SystemTime,
    pub status: Status,
    pub start_time: String,
    pub end_time: Option<String>,
    /// The error the operation ends with (from an `LroFailure` fault), if any.
    pub failure: Option<(String, String)>,
    pub effect: Effect,
}

/// URLs a client polls for one operation.
pub(crate) struct OperationUrls {
    pub name: String,
    pub async_operation: String,
    pub location: String,
}

impl Operation {
    fn path(&self, segment: &str) -> String {
        format!(
            "/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/{}/{segment}/{}",
            self.subscription, self.region, self.name
        )
    }

    fn urls(&self, ctx: &Ctx) -> OperationUrls {
        let url = |seg: &str| {
            format!(
                "{}{}?api-version={}",
                ctx.base_url,
                self.path(seg),
                ctx.api_version
            )
        };
        OperationUrls {
            name: self.name.clone(),
            async_operation: url(self.family.status_segment()),
            location: url(self.family.result_segment()),
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({
            "id": self.path(self.family.status_segment()),
            "name": self.name,
            "status": self.status.as_str(),
            "startTime": self.start_time,
        });
        if let Some(obj) = body.as_object_mut() {
            if let Some(end) = &self.end_time {
                obj.insert("endTime".into(), json!(end));
            }
            if let (Status::Failed, Some((code, message))) = (self.status, &self.failure) {
                obj.insert("error".into(), json!({"code": code, "message": message}));
            }
        }
        body
    }
}

/// What a request that starts an operation provides.
pub(crate) struct NewOperation<'a> {
    pub subscription: &'a str,
    pub location: &'a str,
    pub family: Family,
    pub effect: Effect,
    /// The error the operation will end with (from an `LroFailure` fault).
    pub failure: Option<(String, String)>,
}

/// Starts an operation and returns the URLs to poll. With a zero `operation_duration` it is
/// complete before anyone polls (the starting response still shows the transitional state).
pub(crate) fn start(
    state: &EmulatorState,
    data: &mut Data,
    ctx: &Ctx,
    new: NewOperation<'_>,
) -> OperationUrls {
    let now = state.clock().now();
    let duration = crate::faults::take_slow_operation(state, &ctx.method, &ctx.path_and_query)
        .unwrap_or(state.config().operation_duration);
    let op = Operation {
        name: Uuid::new_v4().to_string(),
        subscription: new.subscription.to_owned(),
        region: arm::normalize_location(new.location),
        family: new.family,
        done_at: now + duration,
        status: Status::InProgress,
        start_time: arm::rfc3339_at(now),
        end_time: None,
        failure: new.failure,
        effect: new.effect,
    };
    let urls = op.urls(ctx);
    data.operations.insert(op.name.clone(), op);
    urls
}

/// Brings operations and jobs up to `now`: every operation whose time has come completes (in
/// the order they were due), then jobs move through their statuses.
pub(crate) fn tick(data: &mut Data, now: SystemTime, config: &EmulatorConfig) {
    let mut due: Vec<(SystemTime, String)> = data
        .operations
        .values()
        .filter(|op| op.status == Status::InProgress && op.done_at <= now)
        .map(|op| (op.done_at, op.name.clone()))
        .collect();
    due.sort();
    for (_, name) in due {
        complete(data, &name);
    }
    crate::jobs::tick(data, now, config);
}

/// `Location` + `Retry-After` only (job cancel: the spec documents no `Azure-AsyncOperation`).
pub(crate) fn location_headers(resp: &mut Response, urls: &OperationUrls, retry_after: u64) {
    let headers = resp.headers_mut();
    headers.insert(header::LOCATION, arm::header_value(&urls.location));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
}

/// Adds the LRO headers every 201/200/202 of an operation-starting request carries.
pub(crate) fn lro_headers(
    resp: &mut Response,
    urls: &OperationUrls,
    location: bool,
    retry_after: u64,
) {
    let headers = resp.headers_mut();
    headers.insert(
        "azure-asyncoperation",
        arm::header_value(&urls.async_operation),
    );
    if location {
        headers.insert(header::LOCATION, arm::header_value(&urls.location));
    }
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
}

/// Ends every operation still in progress, as time would on Azure: one nobody polls any more
/// (its client crashed) otherwise stays `InProgress` here, since progress is counted in polls.
pub(crate) fn complete_all(data: &mut Data) -> usize {
    let running: Vec<String> = data
        .operations
        .iter()
        .filter(|(_, op)| op.status == Status::InProgress)
        .map(|(name, _)| name.clone())
        .collect();
    for name in &running {
        complete(data, name);
    }
    running.len()
}

fn complete(data: &mut Data, name: &str) {
    let Some(op) = data.operations.get_mut(name) else {
        return;
    };
    op.status = if op.failure.is_some() {
        Status::Failed
    } else {
        Status::Succeeded
    };
    op.end_time = Some(arm::rfc3339_at(op.done_at));
    let failure = op.failure.clone();
    let effect = op.effect.clone();
    match effect {
        Effect::ComputeProvision { compute_key } => {
            if let Some(rec) = data.computes.get_mut(&compute_key) {
                rec.pending_operation = None;
                match failure {
                    None => rec.set_provisioning_state("Succeeded"),
                    Some((code, message)) => {
                        rec.set_provisioning_state("Failed");
                        rec.set_property(
                            "provisioningErrors",
                            json!([{"error": {"code": code, "message": message}}]),
                        );
                    }
                }
            }
        }
        Effect::ComputeDetach { compute_key } => match failure {
            None => {
                data.computes.shift_remove(&compute_key);
            }
            Some(_) => {
                if let Some(rec) = data.computes.get_mut(&compute_key) {
                    rec.pending_operation = None;
                    rec.set_provisioning_state("Succeeded");
                }
            }
        },
        Effect::JobCancel { job_key, previous } => {
            if let Some(job) = data.jobs.get_mut(&job_key) {
                job.set_status(if failure.is_none() {
                    JobStatus::Canceled
                } else {
                    previous
                });
            }
        }
    }
}

/// Whether an operation for this compute is still running (ARM rejects overlapping writes).
pub(crate) fn running(data: &Data, name: Option<&str>) -> bool {
    name.and_then(|n| data.operations.get(n))
        .is_some_and(|op| op.status == Status::InProgress)
}

fn failure_status(code: &str) -> StatusCode {
    match code {
        "InternalServerError" | "ServiceError" | "ServiceUnavailable" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

pub(crate) fn poll(
    state: &EmulatorState,
    ctx: &Ctx,
    sub: &str,
    kind: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let kind = kind.to_ascii_lowercase();
    let location_mode = match kind.as_str() {
        "computeoperationsstatus" | "mfeoperationsstatus" => false,
        "computeoperationsresults" | "mfeoperationresults" => true,
        _ => return Err(not_found(name)),
    };
    let data = state.data();
    let op = data
        .operations
        .get(name)
        .filter(|op| op.subscription.eq_ignore_ascii_case(sub))
        .cloned()
        .ok_or_else(|| not_found(name))?;
    let retry_after = state.config().retry_after_secs;
    if !location_mode {
        let mut resp = json_response(StatusCode::OK, &op.body());
        if op.status == Status::InProgress {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        return Ok(resp);
    }
    match (op.status, &op.failure, &op.effect) {
        (Status::InProgress, _, _) => {
            let mut resp = arm::empty_response(StatusCode::ACCEPTED);
            let urls = op.urls(ctx);
            resp.headers_mut()
                .insert(header::LOCATION, arm::header_value(&urls.location));
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            Ok(resp)
        }
        (Status::Failed, Some((code, message)), _) => {
            Err(ArmError::new(failure_status(code), code, message.clone()))
        }
        (_, _, Effect::ComputeProvision { compute_key }) => match data.computes.get(compute_key) {
            Some(rec) => Ok(json_response(StatusCode::OK, &rec.resource)),
            None => Ok(arm::empty_response(StatusCode::NO_CONTENT)),
        },
        (_, _, Effect::ComputeDetach { .. }) => Ok(arm::empty_response(StatusCode::NO_CONTENT)),
        (_, _, Effect::JobCancel { .. }) => Ok(arm::empty_response(StatusCode::OK)),
    }
}

fn not_found(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The operation '{name}' was not found."),
    )
}
