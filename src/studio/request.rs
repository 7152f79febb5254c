//! The page request as the Functions host hands it over (`Data.req` of the JSON envelope: the
//! one path both the local host and Azure honour without `enableForwardingHttpRequest`), and
//! the page response as `Outputs.res`.

use serde_json::{Map, Value, json};

use crate::functions::{HttpTriggerRequest, InvocationError, InvocationRequest};

pub const REQUEST_BINDING: &str = "req";
pub const RESPONSE_BINDING: &str = "res";

#[derive(Debug, Clone, Default)]
pub struct StudioRequest {
    pub method: String,
    /// Path below `/api/studio/`, split on `/`, empty segments dropped.
    pub path: Vec<String>,
    pub query: Vec<(String, String)>,
    /// `application/x-www-form-urlencoded` fields of a POST.
    pub form: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
}

impl StudioRequest {
    pub fn from_invocation(invocation: &InvocationRequest) -> Result<Self, InvocationError> {
        let req =
            HttpTriggerRequest::decode(invocation.binding(REQUEST_BINDING)?, REQUEST_BINDING)?;
        // The route is `studio/{*path}`; the catch-all value is the rest of the path.
        let path = req
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("path"))
            .map(|(_, v)| {
                v.split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let form = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let method = req.method.to_ascii_uppercase();
        let (query, headers) = (req.query, req.headers);
        Ok(Self {
            method,
            path,
            query,
            form,
            headers,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a page answers: status, HTML and (for a redirect) a location.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub html: String,
    pub location: Option<String>,
}

impl Page {
    pub fn ok(html: String) -> Self {
        Self {
            status: 200,
            html,
            location: None,
        }
    }

    pub fn status(status: u16, html: String) -> Self {
        Self {
            status,
            html,
            location: None,
        }
    }

    /// 303 See Other: after a POST the browser GETs the result page (reloading it resends
    /// nothing).
    pub fn see_other(location: String) -> Self {
        Self {
            status: 303,
            html: String::new(),
            location: Some(location),
        }
    }

    /// `Outputs.res`, with headers that keep the page out of caches and frames.
    pub fn to_output(&self) -> Value {
        let mut headers = Map::new();
        let mut set = |k: &str, v: &str| {
            headers.insert(k.to_owned(), json!(v));
        };
        set("Content-Type", "text/html; charset=utf-8");
        set("Cache-Control", "no-store");
        set(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        );
        set("X-Content-Type-Options", "nosniff");
        set("Referrer-Policy", "same-origin");
        if let Some(location) = &self.location {
            set("Location", location);
        }
        json!({"statusCode": self.status, "headers": headers, "body": self.html})
    }
}
