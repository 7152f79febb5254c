//! The page request as the Functions host hands it over (`Data.req` of the JSON envelope: the
//! one path both the local host and Azure honour without `enableForwardingHttpRequest`), and
//! the page response as `Outputs.res`.

use serde_json::{Map, Value, json};

use crate::functions::{InvocationError, InvocationRequest, decode_string};

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
        let req = invocation.binding(REQUEST_BINDING)?;
        let object = req.as_object().ok_or_else(|| InvocationError::WrongShape {
            binding: REQUEST_BINDING.into(),
            expected: "HTTP request object",
        })?;
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let method = field("Method")
            .and_then(decode_string)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let mut headers = Vec::new();
        if let Some(Value::Object(map)) = field("Headers") {
            for (name, values) in map {
                match values {
                    Value::Array(items) => headers.extend(
                        items
                            .iter()
                            .filter_map(decode_string)
                            .map(|v| (name.clone(), v)),
                    ),
                    other => headers.extend(decode_string(other).map(|v| (name.clone(), v))),
                }
            }
        }
        let query = match field("Query") {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| decode_string(v).map(|v| (k.clone(), v)))
                .collect(),
            _ => Vec::new(),
        };
        // The route is `studio/{*path}`; the catch-all value is the rest of the path.
        let raw_path = match field("Params") {
            Some(Value::Object(params)) => params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, v)| decode_string(v))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let path = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let body = field("Body").and_then(decode_string).unwrap_or_default();
        let form = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
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
