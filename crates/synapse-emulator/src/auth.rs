//! Bearer tokens and api-version, checked on every data-plane request.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};

use crate::API_VERSION;
use crate::error::ApiError;

/// The only audience the Synapse data plane accepts (`https://dev.azuresynapse.net/.default`).
pub const SYNAPSE_AUDIENCE: &str = "https://dev.azuresynapse.net";

/// What the token issuer knows about a token it handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub audience: String,
    pub expired: bool,
}

/// Looks tokens up where they were issued (in `poolbroker local`, the ARM emulator's
/// managed-identity endpoint); `None` = never issued.
pub trait TokenAuthority: Send + Sync {
    fn inspect(&self, token: &str) -> Option<TokenInfo>;
}

impl<F> TokenAuthority for F
where
    F: Fn(&str) -> Option<TokenInfo> + Send + Sync,
{
    fn inspect(&self, token: &str) -> Option<TokenInfo> {
        self(token)
    }
}

/// Entra ID access tokens as the local managed-identity endpoint issues them: JWTs whose claims
/// are checked (`iss` of the tenant, `aud`, `nbf`, `exp` on the given clock) but, as in the ARM
/// emulator, not their signature (there is no Entra signing key locally).
pub struct JwtAuthority {
    issuers: [String; 2],
    now: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl JwtAuthority {
    /// `now`: Unix seconds on the issuer's clock.
    pub fn new(tenant: &str, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self {
            issuers: [
                format!("https://sts.windows.net/{tenant}/"),
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            ],
            now: Box::new(now),
        }
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    aud: String,
    iss: String,
    nbf: i64,
    exp: i64,
}

/// Entra tolerates this much clock skew on `nbf`.
const NBF_SKEW_SECS: i64 = 300;

impl TokenAuthority for JwtAuthority {
    fn inspect(&self, token: &str) -> Option<TokenInfo> {
        use base64::Engine as _;
        let mut parts = token.split('.');
        let (_, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || signature.is_empty() {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: Claims = serde_json::from_slice(&bytes).ok()?;
        if !self
            .issuers
            .iter()
            .any(|i| i.eq_ignore_ascii_case(&claims.iss))
        {
            return None;
        }
        let now = (self.now)();
        Some(TokenInfo {
            audience: claims.aud,
            expired: now >= claims.exp || now + NBF_SKEW_SECS < claims.nbf,
        })
    }
}

pub(crate) fn check(
    authority: Option<&Arc<dyn TokenAuthority>>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(authority) = authority else {
        return Ok(());
    };
    let unauthorized =
        |message: String| ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("The request is missing a bearer token.".to_owned()))?;
    let info = authority
        .inspect(token)
        .ok_or_else(|| unauthorized("The access token is invalid.".to_owned()))?;
    if info.audience.trim_end_matches('/') != SYNAPSE_AUDIENCE {
        return Err(unauthorized(format!(
            "Token Authentication failed - The access token has been obtained for wrong audience '{}'; it must be '{SYNAPSE_AUDIENCE}'.",
            info.audience
        )));
    }
    if info.expired {
        return Err(unauthorized(
            "Token Authentication failed - The access token has expired.".to_owned(),
        ));
    }
    Ok(())
}

pub(crate) fn api_version(query: &[(String, String)]) -> Result<(), ApiError> {
    match query.iter().find(|(k, _)| k == "api-version") {
        Some((_, v)) if v == API_VERSION => Ok(()),
        Some((_, v)) => Err(ApiError::bad_request(format!(
            "The api-version '{v}' is not supported; use '{API_VERSION}'."
        ))),
        None => Err(ApiError::bad_request(
            "The api-version query parameter is required.",
        )),
    }
}
