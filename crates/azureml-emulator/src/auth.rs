//! Bearer tokens, checked as ARM checks them: any Entra ID JWT of this tenant whose `aud` is an
//! ARM audience (or the emulator's own origin, which is what a client asks for under a custom
//! cloud: `<resource_manager>/.default`) and whose `nbf`/`exp` bracket the emulator's clock.
//! Signatures are not verified (see `jwt`).

use crate::arm::ArmError;
use crate::jwt::{self, Claims};
use crate::state::{EmulatorState, TENANT_ID};
use axum::http::{HeaderMap, StatusCode, header};
use std::time::Duration;
use uuid::Uuid;

/// Audiences ARM accepts (the same list its `InvalidAuthenticationTokenAudience` error prints).
const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

/// Clock skew ARM tolerates on `nbf` (Entra's own tokens start 5 minutes in the past).
const NBF_SKEW_SECS: i64 = 300;

/// Who a token is for: the app's system identity or one user-assigned identity.
#[derive(Debug, Clone)]
pub(crate) struct TokenSubject {
    pub client_id: Uuid,
    pub principal_id: Uuid,
    /// The UAI's resource id (`xms_mirid`), none for the system identity.
    pub resource_id: Option<String>,
}

/// Mints a token for `resource` that lives `lifetime` on the emulator's clock.
pub(crate) fn issue(
    state: &EmulatorState,
    resource: &str,
    lifetime: Duration,
    subject: &TokenSubject,
) -> (String, i64) {
    let now = state.clock().unix_secs();
    let exp = now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let principal = subject.principal_id.to_string();
    let claims = Claims {
        aud: resource.to_owned(),
        iss: jwt::issuers(TENANT_ID)[0].clone(),
        iat: now,
        nbf: now - NBF_SKEW_SECS,
        exp,
        tid: Some(TENANT_ID.to_owned()),
        oid: Some(principal.clone()),
        appid: Some(subject.client_id.to_string()),
        sub: Some(principal),
        xms_mirid: subject.resource_id.clone(),
        idtyp: Some(String::from("app")),
    };
    (jwt::encode(&claims), exp)
}

fn unauthorized(code: &str, message: String, description: &str) -> ArmError {
    ArmError::new(StatusCode::UNAUTHORIZED, code, message).with_www_authenticate(format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/{TENANT_ID}\", error=\"invalid_token\", error_description=\"{description}\""
    ))
}

fn same_audience(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Checks the `Authorization` header; returns the caller's app id (the throttling "actor").
/// `origin` is `scheme://host:port` as the client reached the emulator.
pub(crate) fn authenticate(
    state: &EmulatorState,
    headers: &HeaderMap,
    origin: &str,
) -> Result<String, ArmError> {
    if !state.config().require_auth {
        return Ok(String::from("anonymous"));
    }
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            String::from("Authentication failed. The 'Authorization' header is missing."),
            "The authentication failed because of missing 'Authorization' header.",
        ));
    };
    let token = raw
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(
            "AuthenticationFailed",
            String::from(
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ),
            "The authentication failed because of invalid 'Authorization' header.",
        ));
    };
    let claims = jwt::decode(token).map_err(|e| {
        unauthorized(
            "InvalidAuthenticationToken",
            format!("The access token is invalid: {e}."),
            "The access token is invalid.",
        )
    })?;
    let issuers = jwt::issuers(TENANT_ID);
    if !issuers.iter().any(|i| i.eq_ignore_ascii_case(&claims.iss)) {
        return Err(unauthorized(
            "InvalidAuthenticationTokenTenant",
            format!(
                "The access token is from the wrong issuer '{}'. It must match the tenant '{}' associated with this subscription. Please use the authority (URL) 'https://login.microsoftonline.com/{TENANT_ID}' to get the token.",
                claims.iss, issuers[0]
            ),
            "The access token is from the wrong issuer.",
        ));
    }
    let audience_ok = ARM_AUDIENCES.iter().any(|a| same_audience(a, &claims.aud))
        || same_audience(origin, &claims.aud);
    if !audience_ok {
        return Err(unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences '{}','{origin}','{origin}/'.",
                claims.aud,
                ARM_AUDIENCES.join("','")
            ),
            "The access token has been obtained for wrong audience or resource.",
        ));
    }
    let now = state.clock().unix_secs();
    if now >= claims.exp {
        return Err(unauthorized(
            "ExpiredAuthenticationToken",
            String::from("The access token expiry UTC time is earlier than current UTC time."),
            "The access token expired.",
        ));
    }
    if claims.nbf > now + NBF_SKEW_SECS {
        return Err(unauthorized(
            "InvalidAuthenticationToken",
            String::from("The access token is not yet valid (its 'nbf' is in the future)."),
            "The access token is not yet valid.",
        ));
    }
    Ok(claims
        .appid
        .or(claims.oid)
        .unwrap_or_else(|| String::from("unknown")))
}
