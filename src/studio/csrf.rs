//! Form tokens against cross-site request forgery: every form carries
//! `<issued unix seconds>.<hex HMAC-SHA256(key, principal id | issued)>`, checked on POST, plus a
//! same-origin check on `Origin` / `Sec-Fetch-Site` when the browser sends them. Stateless, so
//! it works on any instance that shares the key (`POOLBROKER_STUDIO_FORM_KEY`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// A form older than this is refused (reload the page for a fresh one).
const LIFETIME_SECS: i64 = 4 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("the form carries no csrf token")]
    Missing,
    #[error("the form's csrf token is malformed or was signed for someone else")]
    Invalid,
    #[error("the form is older than 4 hours: reload the page and send it again")]
    Expired,
    #[error("the request comes from another site ({0})")]
    CrossSite(String),
}

fn mac(key: &[u8], principal: &str, issued: i64) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(principal.as_bytes());
    mac.update(b"|");
    mac.update(issued.to_string().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn issue(key: &[u8], principal: &str, now: OffsetDateTime) -> String {
    let issued = now.unix_timestamp();
    format!("{issued}.{}", mac(key, principal, issued))
}

pub fn verify(
    key: &[u8],
    principal: &str,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), CsrfError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(CsrfError::Missing)?;
    let (issued, given) = token.split_once('.').ok_or(CsrfError::Invalid)?;
    let issued: i64 = issued.parse().map_err(|_| CsrfError::Invalid)?;
    let expected = mac(key, principal, issued);
    // Compare every byte so timing does not tell how much matched.
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(CsrfError::Invalid);
    }
    let age = now.unix_timestamp() - issued;
    if !(-60..=LIFETIME_SECS).contains(&age) {
        return Err(CsrfError::Expired);
    }
    Ok(())
}

/// Browsers say where a form came from; a request they mark as cross-site is refused even with a
/// valid token. `host` is the Host the request was sent to.
pub fn same_origin(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: Option<&str>,
) -> Result<(), CsrfError> {
    if let Some(site) = fetch_site
        && !matches!(site, "same-origin" | "none")
    {
        return Err(CsrfError::CrossSite(format!("Sec-Fetch-Site: {site}")));
    }
    if let (Some(origin), Some(host)) = (origin, host)
        && origin != "null"
    {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(CsrfError::CrossSite(format!("Origin: {origin}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn token_round_trips_for_the_same_user_only() {
        let now = datetime!(2026-01-01 12:00 UTC);
        let token = issue(KEY, "user-1", now);
        assert_eq!(verify(KEY, "user-1", Some(&token), now), Ok(()));
        assert_eq!(
            verify(KEY, "user-2", Some(&token), now),
            Err(CsrfError::Invalid)
        );
        assert_eq!(
            verify(
                b"another key, also 32 bytes long!",
                "user-1",
                Some(&token),
                now
            ),
            Err(CsrfError::Invalid)
        );
        assert_eq!(verify(KEY, "user-1", None, now), Err(CsrfError::Missing));
        assert_eq!(
            verify(KEY, "user-1", Some("123.abc"), now),
            Err(CsrfError::Invalid)
        );
        let later = now + time::Duration::hours(5);
        assert_eq!(
            verify(KEY, "user-1", Some(&token), later),
            Err(CsrfError::Expired)
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(same_origin(Some("http://127.0.0.1:7071"), None, Some("127.0.0.1:7071")).is_ok());
        assert!(same_origin(None, Some("same-origin"), None).is_ok());
        assert!(
            same_origin(
                Some("https://evil.example"),
                None,
                Some("app.azurewebsites.net")
            )
            .is_err()
        );
        assert!(same_origin(None, Some("cross-site"), None).is_err());
    }
}
