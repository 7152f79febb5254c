//! Enough of the Azure Blob REST API for azure-storage-blob to upload a code snapshot to the SAS
//! URL `startPendingUpload` hands out: Put Blob, Put Block, Put Block List, Set Blob Metadata,
//! Get Blob / Get Blob Properties, and List Blobs. Path-style URLs as Azurite uses them
//! (`/{account}/{container}/{blob}`), authorised by the container SAS only: its `sig` is an
//! HMAC of the container, permissions and expiry under a key this emulator keeps.

use crate::clock::datetime;
use crate::state::EmulatorState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// The storage account name in path-style URLs.
pub const ACCOUNT: &str = "poolbrokerlocal";
/// The service version the emulator answers as.
const SERVICE_VERSION: &str = "2025-01-05";
/// Permissions a pending-upload SAS grants: read, add, create, write, list.
const PERMISSIONS: &str = "racwl";
const MAX_BODY: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Blob {
    data: Bytes,
    content_type: String,
    metadata: BTreeMap<String, String>,
    content_md5: Option<String>,
    etag: String,
    created: SystemTime,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct Container {
    blobs: BTreeMap<String, Blob>,
    /// Uncommitted blocks: (blob, block id) → bytes.
    blocks: HashMap<(String, String), Bytes>,
}

#[derive(Debug)]
pub(crate) struct BlobStore {
    key: [u8; 32],
    containers: HashMap<String, Container>,
}

impl Default for BlobStore {
    fn default() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            key,
            containers: HashMap::new(),
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    datetime(t)
        .replace_nanosecond(0)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl BlobStore {
    fn sign(&self, container: &str, permissions: &str, expiry: &str) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(format!("{ACCOUNT}\n{container}\n{permissions}\n{expiry}").as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Creates the container and returns the SAS query string that opens it until `expiry`.
    pub fn grant_container(&mut self, container: &str, expiry: SystemTime) -> String {
        self.containers.entry(container.to_owned()).or_default();
        let se = rfc3339(expiry);
        let sig = self.sign(container, PERMISSIONS, &se);
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        format!(
            "sv={SERVICE_VERSION}&sr=c&sp={PERMISSIONS}&se={}&sig={}",
            enc(&se),
            enc(&sig)
        )
    }
}

struct StorageError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> StorageError {
    StorageError {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let body = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert("x-ms-error-code", HeaderValue::from_static(self.code));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        resp
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Entry point for `/{ACCOUNT}/…`.
pub(crate) async fn entry(State(state): State<EmulatorState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                format!("could not read the request body: {e}"),
            )
            .into_response();
        }
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let mut resp = match handle(
        &state,
        &parts.method,
        parts.uri.path(),
        &query,
        &parts.headers,
        body,
    ) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let h = resp.headers_mut();
    h.insert("x-ms-version", HeaderValue::from_static(SERVICE_VERSION));
    h.insert(
        "x-ms-request-id",
        crate::arm::header_value(&uuid::Uuid::new_v4().to_string()),
    );
    if let Some(id) = parts.headers.get("x-ms-client-request-id") {
        h.insert("x-ms-client-request-id", id.clone());
    }
    resp
}

fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn authorize(
    state: &EmulatorState,
    store: &BlobStore,
    container: &str,
    query: &[(String, String)],
    needed: char,
) -> Result<(), StorageError> {
    let (Some(sig), Some(se), Some(sp)) = (q(query, "sig"), q(query, "se"), q(query, "sp")) else {
        return Err(err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The specified resource does not exist (the request carries no SAS; containers here are private).",
        ));
    };
    let forbidden = |why: &str| {
        err(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            format!(
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. {why}"
            ),
        )
    };
    if store.sign(container, sp, se) != sig {
        return Err(forbidden("Signature did not match."));
    }
    let expiry = time::OffsetDateTime::parse(se, &Rfc3339)
        .map_err(|_| forbidden("se is not an ISO 8601 time."))?;
    if datetime(state.clock().now()) > expiry {
        return Err(forbidden("Signed expiry time has passed."));
    }
    if !sp.contains(needed) {
        return Err(err(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ));
    }
    Ok(())
}

fn metadata(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-ms-meta-")?;
            Some((name.to_owned(), v.to_str().ok()?.to_owned()))
        })
        .collect()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn etag() -> String {
    format!(
        "\"0x{}\"",
        uuid::Uuid::new_v4().simple().to_string()[..15].to_ascii_uppercase()
    )
}

fn http_date(t: SystemTime) -> String {
    // RFC 1123 with GMT, as Storage writes Last-Modified.
    datetime(t)
        .format(&Rfc2822)
        .map(|s| s.replace("+0000", "GMT"))
        .unwrap_or_default()
}

fn write_headers(resp: &mut Response, blob: &Blob) {
    let h = resp.headers_mut();
    h.insert(header::ETAG, crate::arm::header_value(&blob.etag));
    h.insert(
        header::LAST_MODIFIED,
        crate::arm::header_value(&http_date(blob.modified)),
    );
    h.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("true"),
    );
}

fn handle(
    state: &EmulatorState,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, StorageError> {
    let rest = path
        .trim_start_matches('/')
        .strip_prefix(ACCOUNT)
        .unwrap_or("")
        .trim_start_matches('/');
    let (container, blob_name) = match rest.split_once('/') {
        Some((c, b)) => (c.to_owned(), percent_decode(b)),
        None => (rest.to_owned(), String::new()),
    };
    let now = state.clock().now();
    let mut data = state.data();
    let store = &mut data.blobs;
    let needed = match *method {
        Method::GET | Method::HEAD if blob_name.is_empty() => 'l',
        Method::GET | Method::HEAD => 'r',
        _ => 'w',
    };
    authorize(state, store, &container, query, needed)?;
    let Some(c) = store.containers.get_mut(&container) else {
        return Err(err(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            "The specified container does not exist.",
        ));
    };
    let comp = q(query, "comp");
    if blob_name.is_empty() {
        return match (method, comp) {
            (&Method::GET, Some("list")) => Ok(list_blobs(c, &container, q(query, "prefix"))),
            _ => Err(err(
                StatusCode::BAD_REQUEST,
                "UnsupportedHttpVerb",
                format!(
                    "{method} with comp={} is not supported on a container by this emulator.",
                    comp.unwrap_or("")
                ),
            )),
        };
    }
    match (method, comp) {
        (&Method::PUT, None) => {
            if header_str(headers, "x-ms-blob-type") != Some("BlockBlob") {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "InvalidHeaderValue",
                    "x-ms-blob-type: only BlockBlob is supported by this emulator.",
                ));
            }
            if header_str(headers, "if-none-match") == Some("*") && c.blobs.contains_key(&blob_name)
            {
                return Err(err(
                    StatusCode::CONFLICT,
                    "BlobAlreadyExists",
                    "The specified blob already exists.",
                ));
            }
            let blob = put(c.blobs.get(&blob_name), body, headers, now);
            let mut resp = StatusCode::CREATED.into_response();
            write_headers(&mut resp, &blob);
            c.blobs.insert(blob_name, blob);
            Ok(resp)
        }
        (&Method::PUT, Some("block")) => {
            let Some(id) = q(query, "blockid") else {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "MissingRequiredQueryParameter",
                    "blockid is required.",
                ));
            };
            c.blocks.insert((blob_name, id.to_owned()), body);
            let mut resp = StatusCode::CREATED.into_response();
            resp.headers_mut().insert(
                "x-ms-request-server-encrypted",
                HeaderValue::from_static("true"),
            );
            Ok(resp)
        }
        (&Method::PUT, Some("blocklist")) => {
            let text = String::from_utf8_lossy(&body);
            let mut assembled = Vec::new();
            for id in block_ids(&text) {
                let Some(bytes) = c.blocks.get(&(blob_name.clone(), id.clone())) else {
                    return Err(err(
                        StatusCode::BAD_REQUEST,
                        "InvalidBlockList",
                        format!(
                            "The specified block list is invalid: block '{id}' was not uploaded."
                        ),
                    ));
                };
                assembled.extend_from_slice(bytes);
            }
            c.blocks.retain(|(b, _), _| b != &blob_name);
            let mut blob = put(
                c.blobs.get(&blob_name),
                Bytes::from(assembled),
                headers,
                now,
            );
            if let Some(ct) = header_str(headers, "x-ms-blob-content-type") {
                blob.content_type = ct.to_owned();
            }
            blob.content_md5 = header_str(headers, "x-ms-blob-content-md5").map(str::to_owned);
            let mut resp = StatusCode::CREATED.into_response();
            write_headers(&mut resp, &blob);
            c.blobs.insert(blob_name, blob);
            Ok(resp)
        }
        (&Method::PUT, Some("metadata")) => {
            let Some(blob) = c.blobs.get_mut(&blob_name) else {
                return Err(blob_not_found());
            };
            blob.metadata = metadata(headers);
            blob.etag = etag();
            blob.modified = now;
            let mut resp = StatusCode::OK.into_response();
            write_headers(&mut resp, blob);
            Ok(resp)
        }
        (&Method::HEAD | &Method::GET, None) => {
            let Some(blob) = c.blobs.get(&blob_name) else {
                return Err(blob_not_found());
            };
            Ok(read(blob, method, headers))
        }
        _ => Err(err(
            StatusCode::BAD_REQUEST,
            "UnsupportedHttpVerb",
            format!(
                "{method} with comp={} is not supported on a blob by this emulator.",
                comp.unwrap_or("")
            ),
        )),
    }
}

fn blob_not_found() -> StorageError {
    err(
        StatusCode::NOT_FOUND,
        "BlobNotFound",
        "The specified blob does not exist.",
    )
}

fn put(previous: Option<&Blob>, data: Bytes, headers: &HeaderMap, now: SystemTime) -> Blob {
    Blob {
        data,
        content_type: header_str(headers, "x-ms-blob-content-type")
            .or_else(|| header_str(headers, "content-type"))
            .unwrap_or("application/octet-stream")
            .to_owned(),
        metadata: metadata(headers),
        content_md5: header_str(headers, "content-md5").map(str::to_owned),
        etag: etag(),
        created: previous.map_or(now, |p| p.created),
        modified: now,
    }
}

/// Block ids of a `<BlockList>` body, in order (`Latest`, `Committed` and `Uncommitted` alike).
fn block_ids(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let tag = &after[..end];
        rest = &after[end + 1..];
        if matches!(tag, "Latest" | "Committed" | "Uncommitted")
            && let Some(close) = rest.find("</")
        {
            out.push(rest[..close].trim().to_owned());
        }
    }
    out
}

fn range(headers: &HeaderMap, len: usize) -> Option<(usize, usize)> {
    let spec = header_str(headers, "x-ms-range").or_else(|| header_str(headers, "range"))?;
    let (a, b) = spec.strip_prefix("bytes=")?.split_once('-')?;
    let start: usize = a.parse().ok()?;
    let end = b
        .parse::<usize>()
        .map_or(len.saturating_sub(1), |e| e.min(len.saturating_sub(1)));
    Some((start, end))
}

fn read(blob: &Blob, method: &Method, headers: &HeaderMap) -> Response {
    let len = blob.data.len();
    let (status, slice, content_range) = match range(headers, len) {
        Some((start, end)) if len > 0 && start <= end && start < len => (
            StatusCode::PARTIAL_CONTENT,
            blob.data.slice(start..=end),
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        _ => (StatusCode::OK, blob.data.clone(), None),
    };
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(slice.clone())
    };
    let mut resp = (status, body).into_response();
    write_headers(&mut resp, blob);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(slice.len()));
    h.insert(
        header::CONTENT_TYPE,
        crate::arm::header_value(&blob.content_type),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    h.insert("x-ms-lease-state", HeaderValue::from_static("available"));
    h.insert("x-ms-lease-status", HeaderValue::from_static("unlocked"));
    h.insert("x-ms-server-encrypted", HeaderValue::from_static("true"));
    h.insert(
        "x-ms-creation-time",
        crate::arm::header_value(&http_date(blob.created)),
    );
    if let Some(cr) = content_range {
        h.insert(header::CONTENT_RANGE, crate::arm::header_value(&cr));
    }
    if let Some(md5) = &blob.content_md5 {
        h.insert("content-md5", crate::arm::header_value(md5));
    }
    for (k, v) in &blob.metadata {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(format!("x-ms-meta-{k}")),
            HeaderValue::from_str(v),
        ) {
            h.insert(name, value);
        }
    }
    resp
}

fn list_blobs(c: &Container, container: &str, prefix: Option<&str>) -> Response {
    let mut xml = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"/{ACCOUNT}\" ContainerName=\"{}\"><Blobs>",
        xml_escape(container)
    );
    for (name, blob) in c
        .blobs
        .iter()
        .filter(|(n, _)| prefix.is_none_or(|p| n.starts_with(p)))
    {
        xml.push_str(&format!(
            "<Blob><Name>{}</Name><Properties><Last-Modified>{}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>{}</Content-Type><BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState></Properties>",
            xml_escape(name),
            http_date(blob.modified),
            xml_escape(&blob.etag),
            blob.data.len(),
            xml_escape(&blob.content_type)
        ));
        if !blob.metadata.is_empty() {
            xml.push_str("<Metadata>");
            for (k, v) in &blob.metadata {
                xml.push_str(&format!("<{k}>{}</{k}>", xml_escape(v)));
            }
            xml.push_str("</Metadata>");
        }
        xml.push_str("</Blob>");
    }
    xml.push_str("</Blobs><NextMarker /></EnumerationResults>");
    let mut resp = (StatusCode::OK, xml).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl EmulatorState {
    /// Names of the blobs in a container of the emulator's blob endpoint (tests).
    pub fn blob_names(&self, container: &str) -> Vec<String> {
        self.data()
            .blobs
            .containers
            .get(container)
            .map(|c| c.blobs.keys().cloned().collect())
            .unwrap_or_default()
    }
}
