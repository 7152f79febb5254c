//! azure_core 0.21's `HttpClient` over our reqwest 0.13 client: the seam that keeps reqwest 0.12
//! out of the build, lets tests point the REST crate at a local emulator, and adds bearer auth.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core_legacy::error::ErrorKind;
use azure_core_legacy::headers::{HeaderName, HeaderValue, Headers};
use azure_core_legacy::{Body, BytesStream, Request, Response, StatusCode};
use secrecy::ExposeSecret;
use url::Url;

use super::token::SERVICE_BUS_SCOPE;
use crate::credential::TokenSource;

const PUBLIC_CLOUD_SUFFIX: &str = ".servicebus.windows.net";

#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    endpoint_override: Option<Url>,
    bearer: Option<Arc<dyn TokenSource>>,
    /// Per request: the client is shared with callers that want other timeouts.
    timeout: Option<std::time::Duration>,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field(
                "endpoint_override",
                &self.endpoint_override.as_ref().map(Url::as_str),
            )
            .field("bearer", &self.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl ReqwestTransport {
    /// `endpoint_override` replaces scheme, host and port of `*.servicebus.windows.net` URLs.
    pub fn new(client: reqwest::Client, endpoint_override: Option<Url>) -> Self {
        Self {
            client,
            endpoint_override,
            bearer: None,
            timeout: None,
        }
    }

    /// Gives up on a request after `timeout` (the crate itself has none).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Replaces the crate's SAS `Authorization` header with `Bearer <token>` from `provider`.
    pub fn with_bearer(mut self, provider: Arc<dyn TokenSource>) -> Self {
        self.bearer = Some(provider);
        self
    }

    /// The URL the request really goes to.
    pub fn target_url(&self, url: &Url) -> Url {
        let Some(base) = &self.endpoint_override else {
            return url.clone();
        };
        let is_service_bus = url
            .host_str()
            .is_some_and(|h| h.to_ascii_lowercase().ends_with(PUBLIC_CLOUD_SUFFIX));
        if !is_service_bus {
            return url.clone();
        }
        let mut target = base.clone();
        target.set_path(url.path());
        target.set_query(url.query());
        target
    }
}

fn io_error(
    error: impl std::error::Error + Send + Sync + 'static,
    what: &str,
) -> azure_core_legacy::Error {
    azure_core_legacy::Error::full(ErrorKind::Io, error, what.to_owned())
}

#[async_trait]
impl azure_core_legacy::HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core_legacy::Result<Response> {
        let method =
            reqwest::Method::from_bytes(request.method().as_ref().as_bytes()).map_err(|e| {
                azure_core_legacy::Error::full(ErrorKind::DataConversion, e, "HTTP method")
            })?;
        let url = self.target_url(request.url());
        let mut builder = self.client.request(method, url.as_str());
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        for (name, value) in request.headers().iter() {
            if self.bearer.is_some() && name.as_str() == "authorization" {
                continue;
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(provider) = &self.bearer {
            let token = provider.token(SERVICE_BUS_SCOPE).await.map_err(|e| {
                azure_core_legacy::Error::full(ErrorKind::Credential, e, "Service Bus bearer token")
            })?;
            builder = builder.header(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", token.expose_secret()),
            );
        }
        builder = match request.body() {
            Body::Bytes(bytes) => builder.body(bytes.clone()),
            // The Service Bus crate only ever sends byte bodies.
            Body::SeekableStream(_) => {
                return Err(azure_core_legacy::Error::message(
                    ErrorKind::Other,
                    "streaming request bodies are not supported by this transport",
                ));
            }
        };
        let response = builder
            .send()
            .await
            .map_err(|e| io_error(e.without_url(), "Service Bus request failed"))?;
        let status = StatusCode::try_from(response.status().as_u16()).map_err(|_| {
            azure_core_legacy::Error::message(ErrorKind::DataConversion, "invalid HTTP status")
        })?;
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                headers.insert(
                    HeaderName::from(name.as_str().to_owned()),
                    HeaderValue::from(value.to_owned()),
                );
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| io_error(e.without_url(), "reading the Service Bus response"))?;
        Ok(Response::new(
            status,
            headers,
            Box::pin(BytesStream::new(body)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_bus_urls_are_rewritten() {
        let transport = ReqwestTransport::new(
            reqwest::Client::new(),
            Some(Url::parse("http://127.0.0.1:8099").unwrap()),
        );
        let rewritten = transport.target_url(
            &Url::parse("https://ns-x.ServiceBus.windows.net/q/messages/head?timeout=5").unwrap(),
        );
        assert_eq!(
            rewritten.as_str(),
            "http://127.0.0.1:8099/q/messages/head?timeout=5"
        );
        let lock = Url::parse("http://127.0.0.1:8099/q/messages/1/abc").unwrap();
        assert_eq!(transport.target_url(&lock), lock);
        let plain = ReqwestTransport::new(reqwest::Client::new(), None);
        let real = Url::parse("https://ns-x.servicebus.windows.net/q/messages").unwrap();
        assert_eq!(plain.target_url(&real), real);
    }
}
