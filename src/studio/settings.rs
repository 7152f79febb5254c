//! The Studio's app settings. The default is the production-safe one: a request must carry the
//! principal App Service Authentication adds, and that principal must hold an allowed group or
//! role. Only `poolbroker local` (and whoever sets it on purpose) opens the page.

/// `POOLBROKER_STUDIO`: `entra` (default), `open` (no sign-in; local only) or `off`.
pub const STUDIO_MODE_SETTING: &str = "POOLBROKER_STUDIO";
/// `POOLBROKER_STUDIO_ALLOWED`: comma-separated group object ids and/or app role values.
pub const STUDIO_ALLOWED_SETTING: &str = "POOLBROKER_STUDIO_ALLOWED";
/// `POOLBROKER_STUDIO_FORM_KEY`: HMAC key for form tokens (CSRF), shared by all instances.
pub const STUDIO_FORM_KEY_SETTING: &str = "POOLBROKER_STUDIO_FORM_KEY";
/// Set to `True` by App Service when App Service Authentication is on for the app.
pub const PLATFORM_AUTH_SETTING: &str = "WEBSITE_AUTH_ENABLED";
/// Where the broker sends replies to commands the Studio enqueued (`ReplyTo`).
pub const STUDIO_REPLIES_QUEUE: &str = "studio-replies";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudioMode {
    /// No page at all (404).
    Off,
    /// Everyone who reaches the handler may use it: `poolbroker local`.
    Open,
    /// App Service Authentication (Entra ID) principal required, with an allowed group or role.
    /// `platform_auth`: App Service Authentication is on (`WEBSITE_AUTH_ENABLED`); without it
    /// anyone could send the principal header, so every request is refused.
    Entra {
        allowed: Vec<String>,
        platform_auth: bool,
    },
}

#[derive(Debug, Clone)]
pub struct StudioSettings {
    pub mode: StudioMode,
    /// Signs form tokens; random per process unless configured (then one key for every
    /// instance of a scaled-out app).
    pub form_key: Vec<u8>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StudioSettingsError {
    #[error("{STUDIO_MODE_SETTING}='{0}' is invalid: expected entra, open or off")]
    Mode(String),
    #[error("{STUDIO_FORM_KEY_SETTING} is too short: use at least 32 characters")]
    FormKey,
    #[error(
        "{STUDIO_FORM_KEY_SETTING} is an unresolved Key Vault reference: set the secret in the vault (docs/studio.md) and restart the app"
    )]
    FormKeyUnresolved,
}

impl StudioSettings {
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StudioSettingsError> {
        let allowed: Vec<String> = lookup(STUDIO_ALLOWED_SETTING)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let mode = match lookup(STUDIO_MODE_SETTING)
            .map(|m| m.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("entra") => StudioMode::Entra {
                allowed,
                platform_auth: lookup(PLATFORM_AUTH_SETTING)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            },
            Some("open") => StudioMode::Open,
            Some("off") => StudioMode::Off,
            Some(other) => return Err(StudioSettingsError::Mode(other.to_owned())),
        };
        let form_key = match lookup(STUDIO_FORM_KEY_SETTING).filter(|k| !k.is_empty()) {
            // App Service leaves a reference it cannot resolve as the literal text, which is
            // public (it is in the template): never sign with it.
            Some(key) if key.starts_with("@Microsoft.KeyVault(") => {
                return Err(StudioSettingsError::FormKeyUnresolved);
            }
            Some(key) if key.len() < 32 => return Err(StudioSettingsError::FormKey),
            Some(key) => key.into_bytes(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        Ok(Self { mode, form_key })
    }
}

impl Default for StudioSettings {
    /// What no setting at all means: Entra ID required, nobody allowed yet, a random form key.
    fn default() -> Self {
        Self {
            mode: StudioMode::Entra {
                allowed: Vec::new(),
                platform_auth: false,
            },
            form_key: rand::random::<[u8; 32]>().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<StudioSettings, StudioSettingsError> {
        StudioSettings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn default_is_entra_with_nobody_allowed() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.mode,
            StudioMode::Entra {
                allowed: vec![],
                platform_auth: false
            }
        );
        assert_eq!(s.form_key.len(), 32);
        assert_eq!(StudioSettings::default().mode, s.mode);
    }

    #[test]
    fn reads_mode_allowed_and_key() {
        let s = settings(&[
            (STUDIO_MODE_SETTING, "Entra"),
            (STUDIO_ALLOWED_SETTING, " g-1, Studio.Operator ,"),
            (PLATFORM_AUTH_SETTING, "True"),
        ])
        .unwrap();
        assert_eq!(
            s.mode,
            StudioMode::Entra {
                allowed: vec!["g-1".into(), "Studio.Operator".into()],
                platform_auth: true
            }
        );
        assert_eq!(
            settings(&[(STUDIO_MODE_SETTING, "open")]).unwrap().mode,
            StudioMode::Open
        );
        assert_eq!(
            settings(&[(STUDIO_MODE_SETTING, "public")]).unwrap_err(),
            StudioSettingsError::Mode("public".into())
        );
        assert_eq!(
            settings(&[(STUDIO_FORM_KEY_SETTING, "short")]).unwrap_err(),
            StudioSettingsError::FormKey
        );
        assert_eq!(
            settings(&[(
                STUDIO_FORM_KEY_SETTING,
                "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/studio-form-key)"
            )])
            .unwrap_err(),
            StudioSettingsError::FormKeyUnresolved
        );
    }
}
