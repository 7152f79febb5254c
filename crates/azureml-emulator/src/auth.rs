//! Bearer tokens: the MI endpoint issues opaque tokens that this store remembers with their
//! audience and expiry; ARM routes accept only live tokens for the ARM audience.

use crate::arm::ArmError;
use crate::state::{EmulatorState, lock};
use axum::http::{HeaderMap, StatusCode, header};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use uuid::Uuid;

/// Audiences ARM accepts (the same list its `InvalidAuthenticationTokenAudience` error prints).
const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub resource: String,
    pub client_id: Uuid,
    /// Checked against tokio time, so paused-time tests can expire tokens.
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub access_token: String,
    pub expires_on: u64,
}

#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, TokenInfo>,
}

impl TokenStore {
    pub fn issue(&mut self, resource: &str, lifetime: Duration, client_id: Uuid) -> IssuedToken {
        let access_token = format!(
            "emu.{}.{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        );
        let epoch_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.tokens.insert(
            access_token.clone(),
            TokenInfo {
                resource: resource.to_owned(),
                client_id,
                expires_at: Instant::now() + lifetime,
            },
        );
        IssuedToken {
            access_token,
            expires_on: epoch_now + lifetime.as_secs(),
        }
    }

    pub fn get(&self, token: &str) -> Option<&TokenInfo> {
        self.tokens.get(token)
    }
}

fn unauthorized(code: &str, message: String, description: &str) -> ArmError {
    ArmError::new(StatusCode::UNAUTHORIZED, code, message).with_www_authenticate(format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/{}\", error=\"invalid_token\", error_description=\"{description}\"",
        crate::state::TENANT_ID
    ))
}

/// Checks the `Authorization` header; returns the caller's client id (the throttling "actor").
pub(crate) fn authenticate(state: &EmulatorState, headers: &HeaderMap) -> Result<String, ArmError> {
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
    let info = lock(&state.inner.tokens).get(token).cloned();
    let Some(info) = info else {
        return Err(unauthorized(
            "InvalidAuthenticationToken",
            String::from("The access token is invalid."),
            "The access token is invalid.",
        ));
    };
    if !ARM_AUDIENCES.contains(&info.resource.as_str()) {
        return Err(unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences '{}'.",
                info.resource,
                ARM_AUDIENCES.join("','")
            ),
            "The access token has been obtained for wrong audience or resource.",
        ));
    }
    if Instant::now() >= info.expires_at {
        return Err(unauthorized(
            "ExpiredAuthenticationToken",
            String::from("The access token expiry UTC time is earlier than current UTC time."),
            "The access token expired.",
        ));
    }
    Ok(info.client_id.to_string())
}
