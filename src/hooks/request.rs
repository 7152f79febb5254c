//! The transport-neutral HTTP request the hooks core works on.

use bytes::Bytes;

/// An HTTP request as the handler received it (from the Functions host's `Data.req`, or axum).
#[derive(Debug, Clone, Default)]
pub struct HookRequest {
    pub method: String,
    /// Header names compare case-insensitively (HTTP semantics); values as received.
    pub headers: Vec<(String, String)>,
    /// The raw body: signatures are computed over these exact bytes.
    pub body: Bytes,
    pub query: Vec<(String, String)>,
}

impl HookRequest {
    /// The first value of a header, looked up case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The media type of `Content-Type`, lower-cased and without parameters (`; charset=…`).
    pub(crate) fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }
}
