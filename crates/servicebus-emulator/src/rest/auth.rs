//! Authorization as Service Bus checks it: a SAS token signed with a shared access key, or an
//! Entra ID bearer token (validated by an injected check, since there is no Entra ID here).

use std::borrow::Cow;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;
use time::OffsetDateTime;

use super::error::RestError;
use super::wire::format_date;

/// Decides whether a bearer token (the text after `Bearer `) is acceptable.
pub type BearerValidator = Box<dyn Fn(&str) -> bool + Send + Sync>;

pub(crate) struct AuthConfig<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) sas_keys: &'a [(String, String)],
    pub(crate) bearer_validator: Option<&'a BearerValidator>,
}

/// Builds `SharedAccessSignature sr=…&sig=…&se=…&skn=…` for `resource` (a URL or
/// `host/path`) the way Service Bus SDKs do: HMAC-SHA256 over `urlencode(resource) + "\n" + se`
/// keyed with the key string's UTF-8 bytes.
pub fn sas_token(resource: &str, key_name: &str, key: &str, expiry: OffsetDateTime) -> String {
    let sr = utf8_percent_encode(resource, NON_ALPHANUMERIC).to_string();
    let se = expiry.unix_timestamp();
    let sig = STANDARD.encode(sign(key, &format!("{sr}\n{se}")));
    let sig = utf8_percent_encode(&sig, NON_ALPHANUMERIC);
    format!("SharedAccessSignature sr={sr}&sig={sig}&se={se}&skn={key_name}")
}

fn mac(key: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!())
}

fn sign(key: &str, text: &str) -> Vec<u8> {
    let mut mac = mac(key);
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Checks the `Authorization` header of a request for `path` (as addressed, e.g.
/// `/queue/messages/head`) that arrived with `Host: request_host`.
pub(crate) fn authorize(
    config: &AuthConfig<'_>,
    headers: &HeaderMap,
    request_host: Option<&str>,
    path: &str,
    now: OffsetDateTime,
) -> Result<(), RestError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        RestError::unauthorized("MissingToken: The request has no Authorization header.")
    })?;
    let value = value.to_str().map_err(|_| {
        RestError::unauthorized("MalformedToken: The Authorization header is not ASCII.")
    })?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return match config.bearer_validator {
            Some(validate) if validate(token.trim()) => Ok(()),
            Some(_) => Err(RestError::unauthorized(
                "InvalidToken: The bearer token is not valid for this namespace.",
            )),
            None => Err(RestError::unauthorized(
                "InvalidToken: Bearer tokens are not accepted by this namespace.",
            )),
        };
    }
    let token = value.strip_prefix("SharedAccessSignature ").ok_or_else(|| {
        RestError::unauthorized(
            "MalformedToken: The Authorization header is neither 'SharedAccessSignature …' nor 'Bearer …'.",
        )
    })?;
    verify_sas(config, token, request_host, path, now)
}

struct SasFields<'a> {
    sr: &'a str,
    sig: &'a str,
    se: &'a str,
    skn: &'a str,
}

fn parse_sas(token: &str) -> Result<SasFields<'_>, RestError> {
    let malformed =
        |what: &str| RestError::unauthorized(format!("MalformedToken: The SAS token {what}."));
    let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
    for pair in token.trim().split('&') {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| malformed(&format!("has a part without '=': '{pair}'")))?;
        let slot = match key {
            "sr" => &mut sr,
            "sig" => &mut sig,
            "se" => &mut se,
            "skn" => &mut skn,
            _ => return Err(malformed(&format!("has an unknown field '{key}'"))),
        };
        if slot.replace(value).is_some() {
            return Err(malformed(&format!("has field '{key}' twice")));
        }
    }
    Ok(SasFields {
        sr: sr.ok_or_else(|| malformed("has no 'sr' field"))?,
        sig: sig.ok_or_else(|| malformed("has no 'sig' field"))?,
        se: se.ok_or_else(|| malformed("has no 'se' field"))?,
        skn: skn.ok_or_else(|| malformed("has no 'skn' field"))?,
    })
}

fn decode(text: &str) -> Cow<'_, str> {
    percent_decode_str(text).decode_utf8_lossy()
}

fn verify_sas(
    config: &AuthConfig<'_>,
    token: &str,
    request_host: Option<&str>,
    path: &str,
    now: OffsetDateTime,
) -> Result<(), RestError> {
    let fields = parse_sas(token)?;
    let expiry = fields
        .se
        .parse::<i64>()
        .ok()
        .and_then(|se| OffsetDateTime::from_unix_timestamp(se).ok())
        .ok_or_else(|| {
            RestError::unauthorized(format!(
                "MalformedToken: The SAS token field 'se' is not a Unix time: '{}'.",
                fields.se
            ))
        })?;
    if expiry < now {
        return Err(RestError::unauthorized(format!(
            "ExpiredToken: The token is expired. Expiration time: '{}'.",
            format_date(expiry)
        )));
    }
    let key_name = decode(fields.skn);
    let key = config
        .sas_keys
        .iter()
        .find(|(name, _)| *name == key_name)
        .map(|(_, key)| key)
        .ok_or_else(|| {
            RestError::unauthorized(format!(
                "InvalidSignature: The token has an invalid signature: there is no shared access \
                 policy named '{key_name}'."
            ))
        })?;
    let signature = STANDARD
        .decode(decode(fields.sig).as_bytes())
        .map_err(|_| {
            RestError::unauthorized("MalformedToken: The SAS token field 'sig' is not base64.")
        })?;
    // The signed text is the token's own (still encoded) `sr`, as every SDK signs it.
    let mut mac = mac(key);
    mac.update(format!("{}\n{}", fields.sr, fields.se).as_bytes());
    mac.verify_slice(&signature).map_err(|_| {
        RestError::unauthorized("InvalidSignature: The token has an invalid signature.")
    })?;
    check_audience(config.namespace, &decode(fields.sr), request_host, path)
}

/// `sr` must name this namespace (or the host the request was addressed to, which is what a
/// client signs when it follows a `Location` URL), and a path prefix of the requested entity.
fn check_audience(
    namespace: &str,
    sr: &str,
    request_host: Option<&str>,
    path: &str,
) -> Result<(), RestError> {
    let invalid = || {
        RestError::unauthorized(format!(
            "InvalidAudience: The token audience '{sr}' does not grant access to \
             'sb://{namespace}{path}'."
        ))
    };
    let without_scheme = sr.split_once("://").map_or(sr, |(_, rest)| rest);
    let without_query = without_scheme.split(['?', '#']).next().unwrap_or_default();
    let (host, sr_path) = without_query.split_once('/').unwrap_or((without_query, ""));
    let host_ok = host.eq_ignore_ascii_case(namespace)
        || request_host.is_some_and(|h| host.eq_ignore_ascii_case(h));
    if !host_ok {
        return Err(invalid());
    }
    let wanted = segments(sr_path);
    let decoded_path = decode(path);
    let actual = segments(&decoded_path);
    let prefix = wanted.len() <= actual.len()
        && wanted
            .iter()
            .zip(&actual)
            .all(|(w, a)| w.eq_ignore_ascii_case(a));
    if prefix { Ok(()) } else { Err(invalid()) }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const NS: &str = "poolbroker-local.servicebus.windows.net";

    fn keys() -> Vec<(String, String)> {
        vec![("send".into(), "s3cret".into())]
    }

    fn check(token: &str, path: &str, now: OffsetDateTime) -> Result<(), RestError> {
        let keys = keys();
        let config = AuthConfig {
            namespace: NS,
            sas_keys: &keys,
            bearer_validator: None,
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(token).unwrap());
        authorize(&config, &headers, Some("127.0.0.1:9"), path, now)
    }

    #[test]
    fn audience_must_be_a_prefix_of_the_entity_path() {
        let now = OffsetDateTime::now_utc();
        let later = now + time::Duration::hours(1);
        let url = format!("https://{NS}/work/messages/head?timeout=5");
        assert!(
            check(
                &sas_token(&url, "send", "s3cret", later),
                "/work/messages/head",
                now
            )
            .is_ok()
        );
        let root = format!("https://{}/", NS.to_uppercase());
        assert!(
            check(
                &sas_token(&root, "send", "s3cret", later),
                "/WORK/messages",
                now
            )
            .is_ok()
        );
        let other = format!("https://{NS}/other");
        assert!(
            check(
                &sas_token(&other, "send", "s3cret", later),
                "/work/messages",
                now
            )
            .is_err()
        );
        let partial = format!("https://{NS}/wo");
        assert!(
            check(
                &sas_token(&partial, "send", "s3cret", later),
                "/work/messages",
                now
            )
            .is_err()
        );
        let foreign = "https://elsewhere.servicebus.windows.net/work";
        assert!(
            check(
                &sas_token(foreign, "send", "s3cret", later),
                "/work/messages",
                now
            )
            .is_err()
        );
        let followed = "http://127.0.0.1:9/work/messages/1/abc";
        assert!(
            check(
                &sas_token(followed, "send", "s3cret", later),
                "/work/messages/1/abc",
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let now = OffsetDateTime::now_utc();
        for token in [
            "SharedAccessSignature sr=a&sig=b",
            "SharedAccessSignature sr=a&sig=b&se=x&skn=send",
            "SharedAccessSignature garbage",
            "Basic dXNlcjpwYXNz",
        ] {
            assert_eq!(
                check(token, "/work/messages", now).unwrap_err().to_string()[..3].to_owned(),
                "401",
                "{token}"
            );
        }
    }
}
