//! ARM conventions shared by every resource route: the error envelope, the response headers ARM adds
//! to every answer, JSON responses and timestamps.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

pub const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";

/// An ARM error answer: `{"error": {"code", "message", "target", "details"}}` plus the status and
/// the extra headers some errors carry. Boxed: it travels in every handler's `Result`.
#[derive(Debug, Clone)]
pub struct ArmError(Box<Detail>);

#[derive(Debug, Clone)]
struct Detail {
    status: StatusCode,
    code: String,
    message: String,
    target: Option<String>,
    /// AML RP errors nest a more specific code (`UserError` → `BadArgument`, `QuotaExceeded`…).
    inner_code: Option<String>,
    retry_after: Option<u64>,
    www_authenticate: Option<String>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(Box::new(Detail {
            status,
            code: code.to_owned(),
            message: message.into(),
            target: None,
            inner_code: None,
            retry_after: None,
            www_authenticate: None,
        }))
    }

    /// A 400 from the Azure ML resource provider: it reports caller mistakes as `UserError`.
    pub fn user(target: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "UserError", message)
            .with_target(target)
            .with_inner("BadArgument")
    }

    pub fn with_target(mut self, target: &str) -> Self {
        self.0.target = Some(target.to_owned());
        self
    }

    pub fn with_inner(mut self, code: &str) -> Self {
        self.0.inner_code = Some(code.to_owned());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.0.retry_after = Some(secs);
        self
    }

    pub fn with_www_authenticate(mut self, challenge: String) -> Self {
        self.0.www_authenticate = Some(challenge);
        self
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.0.code,
            "message": self.0.message,
            "target": self.0.target,
            "details": [],
        });
        if let (Some(inner), Some(obj)) = (&self.0.inner_code, error.as_object_mut()) {
            obj.insert("innerError".into(), json!({ "code": inner }));
        }
        json!({ "error": error })
    }

    pub fn resource_group_not_found(rg: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    /// ARM's own 404 for a resource it routes to a provider that does not know it.
    pub fn resource_not_found(resource_type: &str, name: &str, rg: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. \
                 For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    pub fn invalid_request_content(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.0.status, &self.body());
        let headers = resp.headers_mut();
        if let Some(secs) = self.0.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = self
            .0
            .www_authenticate
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_JSON),
    );
    resp
}

pub fn empty_response(status: StatusCode) -> Response {
    status.into_response()
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");
const ROUTING_ID: HeaderName = HeaderName::from_static("x-ms-routing-request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// Adds the headers ARM puts on every response, echoing the client's correlation and client
/// request ids so callers can join their logs with ours.
pub fn decorate(resp: &mut Response, request: &HeaderMap) {
    let request_id = Uuid::new_v4().to_string();
    let correlation = request
        .get(&CORRELATION_ID)
        .cloned()
        .unwrap_or_else(|| header_value(&Uuid::new_v4().to_string()));
    let stamp = OffsetDateTime::now_utc();
    let routing = format!(
        "EASTUS2:{:04}{:02}{:02}T{:02}{:02}{:02}Z:{}",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second(),
        Uuid::new_v4()
    );
    let headers = resp.headers_mut();
    headers.insert(REQUEST_ID, header_value(&request_id));
    headers.insert(CORRELATION_ID, correlation);
    headers.insert(ROUTING_ID, header_value(&routing));
    if let Some(client) = request.get(&CLIENT_REQUEST_ID) {
        headers.insert(CLIENT_REQUEST_ID, client.clone());
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// Values built from uuids, numbers and our own URLs are always valid header values; anything
/// else degrades to an empty value instead of failing the response.
pub fn header_value(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `2025-12-01T10:00:00.0000000+00:00`, the 7-digit form the AML RP uses for createdOn/modifiedOn.
pub fn timestamp() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}+00:00",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond() / 100
    )
}

/// RFC 3339 (`…Z`) of a point on the emulator's clock: operation start/end times, systemData.
pub fn rfc3339_at(t: std::time::SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// Locations are compared the way ARM normalises them: case and spaces do not matter
/// ("East US 2" == "eastus2").
pub fn same_location(a: &str, b: &str) -> bool {
    normalize_location(a) == normalize_location(b)
}

pub fn normalize_location(loc: &str) -> String {
    loc.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}
