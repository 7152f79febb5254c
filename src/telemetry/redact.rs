//! Secret scrubbing for everything telemetry emits.
//!
//! Callers are expected to pass clean values (`url.full` through [`redact_url`], tokens inside
//! `SecretString`). These functions are the second line of defence: the JSON log formatter, the
//! per-invocation log capture and the span processor run every string through [`redact_text`] and
//! blank fields whose *name* says they hold a secret, so one careless `info!(authorization = ..)`
//! does not leak a bearer token to stdout or to the collector.

use url::Url;

/// Replacement for a removed secret.
pub const REDACTED: &str = "[REDACTED]";

/// Query parameters that survive [`redact_url`]: the ones poolbroker itself puts on ARM URLs
/// (`api-version` to make sense of a URL, the detach action, the job list view) and ARM's paging
/// token; none carries a secret. Everything else (SAS `sig`, `code`, tokens a proxy might add)
/// is dropped, because operation URLs are opaque to us.
const KEPT_QUERY_PARAMS: &[&str] = &[
    "api-version",
    "underlyingResourceAction",
    "listViewType",
    "$skip",
];

/// Names whose value is a secret both as a field / attribute / header name and as a `key=value`
/// pair in text. Compared case-insensitively against the last dot-separated segment of a field
/// name and against `key=` prefixes in text.
const TEXT_SENSITIVE_KEYS: &[&str] = &[
    "sig",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "secret",
    "password",
    "pwd",
    "sharedaccesskey",
    "accountkey",
    "apikey",
    "api_key",
    "api-key",
    "key",
];

/// Names whose value is a secret as a field / attribute / header name only: in text they are too
/// common in prose to blank. (`code` and `se` are secrets only as URL query parameters, which
/// [`redact_url`] drops; as field names they are ordinary, e.g. `error.code`.)
const FIELD_SENSITIVE_KEYS: &[&str] = &[
    "skn",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-functions-key",
    "x-identity-header",
    "identity_header",
    "x-ms-authorization-auxiliary",
    "sharedaccesssignature",
    "connection_string",
    "connectionstring",
    "webhook_secret",
];

/// Does a field, attribute or header with this name carry a secret?
///
/// Looks at the last `.`-separated segment, case-insensitively and with `-` read as `_`: it
/// matches when it equals a secret name (`authorization`, `sig`, `IDENTITY_HEADER`) or ends in
/// `_<name>` for names of five letters or more (`sas_token`, `x_identity_header`, `x_api_key`).
pub fn is_sensitive_key(name: &str) -> bool {
    let last = name
        .rsplit('.')
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace('-', "_");
    let mut keys = TEXT_SENSITIVE_KEYS.iter().chain(FIELD_SENSITIVE_KEYS);
    keys.any(|k| {
        let k = k.replace('-', "_");
        last == k || (k.len() >= 5 && last.ends_with(&format!("_{k}")))
    })
}

/// A URL safe to record as `url.full`: no userinfo, no fragment, and no query parameter except
/// `api-version`. SAS `sig`/`se`/`skn`, Functions `code`, `token`, `key` and everything else in
/// the query are dropped. Input that does not parse as a URL keeps only its path part.
pub fn redact_url(url: &str) -> String {
    // `user:pw@host/x` parses as scheme `user` with an opaque path: treat host-less URLs as text.
    let Some(mut parsed) = Url::parse(url.trim()).ok().filter(Url::has_host) else {
        return redact_unparseable_url(url);
    };
    // Setting the username fails only for URLs that cannot have one (`mailto:`…), which have
    // no userinfo to remove either.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_fragment(None);
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| KEPT_QUERY_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

fn redact_unparseable_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    // `user:pass@host/...` without a scheme: drop the userinfo before the first `/`.
    let authority_end = without_query.find('/').unwrap_or(without_query.len());
    match without_query[..authority_end].rfind('@') {
        Some(at) => without_query[at + 1..].to_owned(),
        None => without_query.to_owned(),
    }
}

/// Scrubs secrets out of free text (error messages, log values): every `http(s)://` URL goes
/// through [`redact_url`], `Bearer`/`SharedAccessSignature` credentials and `key=value` pairs
/// for secret keys (`sig=`, `password=`, `AccountKey=`, `SharedAccessKey=`…) lose their value.
pub fn redact_text(text: &str) -> String {
    if !might_hold_secret(text) {
        return text.to_owned();
    }
    let text = redact_urls_in_text(text);
    let text = redact_auth_schemes(&text);
    redact_key_values(&text)
}

fn might_hold_secret(text: &str) -> bool {
    text.contains('=')
        || text.contains("://")
        || text.contains("earer")
        || text.contains("SharedAccessSignature")
}

fn is_url_end(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '<' | '>' | '`' | '\\' | '|' | '^' | '{' | '}'
        )
}

fn redact_urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate.find(is_url_end).unwrap_or(candidate.len());
        out.push_str(&redact_url(&candidate[..end]));
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

fn find_url_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("https://"), lower.find("http://")]
        .into_iter()
        .flatten()
        .min()
}

/// `Bearer <token>`, `Basic <creds>`, `SharedAccessSignature <sas>`: the value runs to the end of
/// the word (SAS tokens contain no whitespace).
fn redact_auth_schemes(text: &str) -> String {
    const SCHEMES: &[&str] = &["bearer ", "basic ", "sharedaccesssignature "];
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = SCHEMES.iter().find(|s| {
            lower[i..].starts_with(*s) && (i == 0 || !is_word_char(byte_before(&lower, i)))
        });
        match hit {
            Some(scheme) => {
                let value_start = i + scheme.len();
                let value_len = text[value_start..]
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
                    .unwrap_or(text.len() - value_start);
                out.push_str(&text[i..value_start]);
                if value_len > 0 {
                    out.push_str(REDACTED);
                }
                i = value_start + value_len;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

fn byte_before(s: &str, i: usize) -> char {
    s[..i].chars().next_back().unwrap_or(' ')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `name=value` for a secret name (case-insensitive, `name` must start a word): the value runs to
/// the next `&`, `;`, `,`, whitespace or quote.
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        let name_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !is_word_char(*c))
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        let name = &before[name_start..];
        out.push_str(before);
        out.push('=');
        let value = &after[1..];
        if TEXT_SENSITIVE_KEYS
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k))
        {
            let end = value
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | ',' | '"' | '\''))
                .unwrap_or(value.len());
            if end > 0 {
                out.push_str(REDACTED);
            }
            rest = &value[end..];
        } else {
            rest = value;
        }
    }
    out.push_str(rest);
    out
}

/// The value to emit for a field called `name`: blanked if the name says it is a secret, else
/// scrubbed with [`redact_text`].
pub fn redact_field(name: &str, value: &str) -> String {
    if is_sensitive_key(name) {
        REDACTED.to_owned()
    } else {
        redact_text(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_keeps_only_api_version() {
        let url = "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&skn=owner&sig=AbCdSecretSig%3D&api-version=2024-10-01";
        let out = redact_url(url);
        assert_eq!(
            out,
            "https://acct.blob.core.windows.net/c/b?api-version=2024-10-01"
        );
    }

    #[test]
    fn redact_url_drops_userinfo_fragment_and_function_keys() {
        let out =
            redact_url("https://user:hunter2@example.com/api/events?code=fnkey123&token=t0k#frag");
        assert_eq!(out, "https://example.com/api/events");
        assert!(!out.contains("hunter2") && !out.contains("fnkey123") && !out.contains("t0k"));
    }

    #[test]
    fn redact_url_handles_unparseable_input() {
        assert_eq!(redact_url("/relative/path?sig=abc"), "/relative/path");
        assert_eq!(redact_url("u:p@host/path?key=k"), "host/path");
    }

    #[test]
    fn redact_text_scrubs_urls_bearer_and_pairs() {
        let msg = "GET https://h/x?sig=S1G&api-version=1 failed: Authorization: Bearer eyJ.tok.en; \
                   conn Endpoint=sb://ns/;SharedAccessKeyName=root;SharedAccessKey=K3Y= error code=Conflict";
        let out = redact_text(msg);
        for secret in ["S1G", "eyJ.tok.en", "K3Y"] {
            assert!(!out.contains(secret), "{secret} survived in {out}");
        }
        assert!(out.contains("https://h/x?api-version=1"), "{out}");
        assert!(out.contains("code=Conflict"), "{out}");
        assert!(out.contains("SharedAccessKeyName=root"), "{out}");
    }

    #[test]
    fn sensitive_key_matches_last_segment() {
        assert!(is_sensitive_key("http.request.header.authorization"));
        assert!(is_sensitive_key("IDENTITY_HEADER"));
        assert!(is_sensitive_key("x_identity_header"));
        assert!(is_sensitive_key("sas-token"));
        assert!(!is_sensitive_key("partition_key"));
        assert!(!is_sensitive_key("url.full"));
        assert!(!is_sensitive_key("poolbroker.command.kind"));
        assert!(!is_sensitive_key("error.code"));
        assert_eq!(redact_field("token", "abc"), REDACTED);
        assert_eq!(redact_field("message", "plain"), "plain");
    }
}
