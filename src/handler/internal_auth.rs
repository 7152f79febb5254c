//! Proof that a follow-up (`AwaitOperation`, `TrackSparkJob`) was sent by the broker itself.
//! Those kinds make the broker act with its own identity and answer to the reply route they
//! carry, so an outsider must not be able to send one: every follow-up carries an HMAC-SHA256,
//! with a key from the app settings, over its whole body (command, workspace and reply route).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

/// The application property that carries the signature.
pub const SIGNATURE_PROPERTY: &str = "poolbroker-signature";
/// Versioned, so the scheme can change without accepting old signatures by accident.
const SCHEME: &str = "v1=";
/// Keeps these MACs apart from any other use of the same key.
const DOMAIN: &[u8] = b"poolbroker internal command v1\n";

pub struct InternalSigner {
    key: SecretSlice<u8>,
}

impl InternalSigner {
    /// With no configured key, a random one: follow-ups then verify only in this process.
    pub fn new(configured: Option<&secrecy::SecretString>) -> Self {
        let key: Vec<u8> = match configured {
            Some(k) => k.expose_secret().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "POOLBROKER_INTERNAL_KEY is not set: follow-ups are signed with a key of this process only, so those pending at a restart or taken by another instance are refused"
                );
                let mut k = vec![0u8; 32];
                rand::rng().fill_bytes(&mut k);
                k
            }
        };
        Self { key: key.into() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(DOMAIN);
        mac
    }

    /// The property value for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        format!("{SCHEME}{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Constant-time check of `signature` (the property value, if any) over `body`.
    pub fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<(), Unverified> {
        let value = signature.ok_or(Unverified::Missing)?;
        let encoded = value.strip_prefix(SCHEME).ok_or(Unverified::Malformed)?;
        let tag = STANDARD
            .decode(encoded.trim())
            .map_err(|_| Unverified::Malformed)?;
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&tag).map_err(|_| Unverified::Mismatch)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("it carries no {SIGNATURE_PROPERTY} property")]
    Missing,
    #[error("its {SIGNATURE_PROPERTY} property is not of the form v1=<base64>")]
    Malformed,
    #[error("its {SIGNATURE_PROPERTY} does not match its body")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_body_and_the_key() {
        let key = secrecy::SecretString::from("k".repeat(32));
        let signer = InternalSigner::new(Some(&key));
        let sig = signer.sign(b"body");
        assert!(signer.verify(b"body", Some(&sig)).is_ok());
        assert_eq!(
            signer.verify(b"bodY", Some(&sig)),
            Err(Unverified::Mismatch)
        );
        assert_eq!(signer.verify(b"body", None), Err(Unverified::Missing));
        assert_eq!(
            signer.verify(b"body", Some("v1=%%")),
            Err(Unverified::Malformed)
        );
        assert_eq!(
            signer.verify(b"body", Some(&sig.replace("v1=", "v2="))),
            Err(Unverified::Malformed)
        );
        let other = InternalSigner::new(Some(&secrecy::SecretString::from("x".repeat(32))));
        assert_eq!(other.verify(b"body", Some(&sig)), Err(Unverified::Mismatch));
    }
}
