//! Who is asking: the principal App Service Authentication (Easy Auth) puts in
//! `X-MS-CLIENT-PRINCIPAL` (base64 JSON with the token's claims) after signing the user in with
//! Entra ID. Easy Auth strips any such header a client sends, so with it turned on (infra/) the
//! header is trustworthy; without it, production mode refuses every request.

use base64::Engine as _;
use serde::Deserialize;

use super::settings::StudioMode;

pub const PRINCIPAL_HEADER: &str = "x-ms-client-principal";
const PRINCIPAL_NAME_HEADER: &str = "x-ms-client-principal-name";
const ROLE_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
const GROUPS_CLAIM: &str = "groups";
const OBJECT_ID_CLAIM: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

#[derive(Debug, Deserialize)]
struct ClientPrincipal {
    #[serde(default)]
    claims: Vec<Claim>,
    #[serde(default)]
    role_typ: Option<String>,
    #[serde(default)]
    name_typ: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claim {
    typ: String,
    val: String,
}

/// The signed-in user, as far as the page needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Shown in the header; `None` locally.
    pub name: Option<String>,
    /// Binds form tokens to the user (object id, else name).
    pub id: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error(
        "App Service Authentication is not turned on for this app (WEBSITE_AUTH_ENABLED is not True): without it anyone could claim to be anyone, so the Studio refuses every request (see docs/studio.md)"
    )]
    PlatformAuthOff,
    #[error(
        "sign-in required: no X-MS-CLIENT-PRINCIPAL header (turn on App Service Authentication with Entra ID for this app; see docs/studio.md)"
    )]
    NoPrincipal,
    #[error("X-MS-CLIENT-PRINCIPAL is not base64-encoded JSON with claims: {0}")]
    BadPrincipal(String),
    #[error(
        "no group or role is allowed to use the Studio: set POOLBROKER_STUDIO_ALLOWED to group object ids or app role values"
    )]
    NobodyAllowed,
    #[error("{0} is signed in but holds none of the groups or roles allowed to use the Studio")]
    NotAllowed(String),
}

/// The principal allowed to use the page, or why not.
pub fn authorize(
    mode: &StudioMode,
    header: impl Fn(&str) -> Option<String>,
) -> Result<Principal, AccessError> {
    let allowed = match mode {
        StudioMode::Open | StudioMode::Off => {
            return Ok(Principal {
                name: None,
                id: "local".into(),
                roles: Vec::new(),
                groups: Vec::new(),
            });
        }
        StudioMode::Entra {
            allowed,
            platform_auth,
        } => {
            if !platform_auth {
                return Err(AccessError::PlatformAuthOff);
            }
            allowed
        }
    };
    let raw = header(PRINCIPAL_HEADER).ok_or(AccessError::NoPrincipal)?;
    let principal = parse_principal(&raw, header(PRINCIPAL_NAME_HEADER))?;
    if allowed.is_empty() {
        return Err(AccessError::NobodyAllowed);
    }
    let holds = |want: &String| {
        principal.roles.iter().any(|r| r == want)
            || principal
                .groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(want))
    };
    if allowed.iter().any(holds) {
        Ok(principal)
    } else {
        Err(AccessError::NotAllowed(
            principal
                .name
                .clone()
                .unwrap_or_else(|| principal.id.clone()),
        ))
    }
}

fn parse_principal(raw: &str, name_header: Option<String>) -> Result<Principal, AccessError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|e| AccessError::BadPrincipal(e.to_string()))?;
    let parsed: ClientPrincipal =
        serde_json::from_slice(&bytes).map_err(|e| AccessError::BadPrincipal(e.to_string()))?;
    let role_typ = parsed.role_typ.as_deref().unwrap_or(ROLE_CLAIM);
    let of = |typ: &str| -> Vec<String> {
        parsed
            .claims
            .iter()
            .filter(|c| c.typ == typ || (typ == ROLE_CLAIM && c.typ == "roles"))
            .map(|c| c.val.clone())
            .collect()
    };
    let name = name_header.or_else(|| {
        let typ = parsed.name_typ.as_deref()?;
        parsed
            .claims
            .iter()
            .find(|c| c.typ == typ)
            .map(|c| c.val.clone())
    });
    let id = of(OBJECT_ID_CLAIM)
        .into_iter()
        .chain(of("oid"))
        .next()
        .or_else(|| name.clone())
        .ok_or_else(|| AccessError::BadPrincipal("no object id or name claim".into()))?;
    Ok(Principal {
        name,
        id,
        roles: of(role_typ),
        groups: of(GROUPS_CLAIM),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encoded(claims: serde_json::Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(
            json!({"auth_typ": "aad", "claims": claims,
                   "name_typ": "name", "role_typ": ROLE_CLAIM})
            .to_string(),
        )
    }

    fn entra(allowed: &[&str]) -> StudioMode {
        StudioMode::Entra {
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
            platform_auth: true,
        }
    }

    #[test]
    fn production_refuses_everything_without_app_service_authentication() {
        let header = encoded(json!([{"typ": "oid", "val": "u1"}, {"typ": ROLE_CLAIM, "val": "r"}]));
        let mode = StudioMode::Entra {
            allowed: vec!["r".into()],
            platform_auth: false,
        };
        assert_eq!(
            authorize(&mode, |n| (n == PRINCIPAL_HEADER).then(|| header.clone())),
            Err(AccessError::PlatformAuthOff)
        );
    }

    #[test]
    fn production_refuses_without_the_header_and_with_nobody_allowed() {
        assert_eq!(
            authorize(&entra(&["g1"]), |_| None),
            Err(AccessError::NoPrincipal)
        );
        let header = encoded(json!([{"typ": "oid", "val": "u1"}]));
        assert_eq!(
            authorize(&entra(&[]), |n| (n == PRINCIPAL_HEADER)
                .then(|| header.clone())),
            Err(AccessError::NobodyAllowed)
        );
        assert!(matches!(
            authorize(&entra(&["g1"]), |n| (n == PRINCIPAL_HEADER)
                .then(|| "not base64!".to_owned())),
            Err(AccessError::BadPrincipal(_))
        ));
    }

    #[test]
    fn allows_a_group_or_a_role_and_names_who_was_refused() {
        let header = encoded(json!([
            {"typ": "name", "val": "Ada"},
            {"typ": OBJECT_ID_CLAIM, "val": "oid-1"},
            {"typ": "groups", "val": "G-OPS"},
            {"typ": ROLE_CLAIM, "val": "Studio.Operator"}
        ]));
        let get = |n: &str| (n == PRINCIPAL_HEADER).then(|| header.clone());
        let p = authorize(&entra(&["g-ops"]), get).unwrap();
        assert_eq!(p.id, "oid-1");
        assert_eq!(p.name.as_deref(), Some("Ada"));
        assert!(authorize(&entra(&["Studio.Operator"]), get).is_ok());
        assert_eq!(
            authorize(&entra(&["Studio.Admin"]), get),
            Err(AccessError::NotAllowed("Ada".into()))
        );
    }

    #[test]
    fn open_mode_needs_no_header() {
        assert_eq!(authorize(&StudioMode::Open, |_| None).unwrap().id, "local");
    }
}
