//! Access tokens as Entra ID issues them: JWTs with `aud`, `iss`, `exp`, `nbf`, `tid`, `oid`,
//! `appid` (and `xms_mirid` for a user-assigned identity). Like Azurite's `--oauth basic`, the
//! emulator checks the claims but not the signature: there is no Entra signing key locally, and
//! the signature it writes is random bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims the emulator writes and reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default)]
    pub tid: Option<String>,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xms_mirid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JwtError {
    #[error("the token is not a JWT (three base64url parts separated by dots)")]
    Shape,
    #[error("the token's {0} is not base64url-encoded JSON")]
    Encoding(&'static str),
    #[error("the token's claims are incomplete: {0}")]
    Claims(String),
}

pub(crate) fn encode(claims: &Claims) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": "poolbroker-emulator"});
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signature: Vec<u8> = Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub(crate) fn decode(token: &str) -> Result<Claims, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(JwtError::Shape);
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(JwtError::Shape);
    }
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Encoding("header"))?;
    if !header.is_object() {
        return Err(JwtError::Encoding("header"));
    }
    let raw = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| JwtError::Encoding("payload"))?;
    serde_json::from_slice(&raw).map_err(|e| JwtError::Claims(e.to_string()))
}

/// The issuers Entra ID writes for a tenant (v1 and v2 tokens).
pub(crate) fn issuers(tenant: &str) -> [String; 2] {
    [
        format!("https://sts.windows.net/{tenant}/"),
        format!("https://login.microsoftonline.com/{tenant}/v2.0"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let claims = Claims {
            aud: "https://management.azure.com/".into(),
            iss: issuers("t")[0].clone(),
            iat: 1,
            nbf: 1,
            exp: 2,
            tid: Some("t".into()),
            oid: Some("o".into()),
            appid: Some("a".into()),
            sub: Some("o".into()),
            xms_mirid: None,
            idtyp: Some("app".into()),
        };
        assert_eq!(decode(&encode(&claims)), Ok(claims));
        assert_eq!(decode("emu.abc"), Err(JwtError::Shape));
        assert_eq!(decode("a.b.c"), Err(JwtError::Encoding("header")));
        assert!(matches!(
            decode(&format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode("{}"),
                URL_SAFE_NO_PAD.encode("{\"aud\":1}")
            )),
            Err(JwtError::Claims(_))
        ));
    }
}
