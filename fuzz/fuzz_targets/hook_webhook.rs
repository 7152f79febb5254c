//! Signed webhooks: the target signs each input, so the fuzzer reaches the body parser behind
//! the signature check (and also sends it unsigned).
#![no_main]
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use poolbroker::hooks::{HookRequest, HooksConfig, handle};
use sha2::Sha256;

const SECRET: &str = "fuzzing-secret-fuzzing-secret-32";
const TIMESTAMP: &str = "1000000000";

fuzz_target!(|data: &[u8]| {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(TIMESTAMP.as_bytes());
    mac.update(b".");
    mac.update(data);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut config = HooksConfig::default();
    config.webhook_secret = Some(secrecy::SecretString::from(SECRET));
    let now = time::OffsetDateTime::from_unix_timestamp(1_000_000_010).expect("valid time");
    for signature in [format!("sha256={hex}"), "sha256=00".into()] {
        let request = HookRequest {
            method: "POST".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-poolbroker-signature".into(), signature),
                ("x-poolbroker-timestamp".into(), TIMESTAMP.into()),
            ],
            body: bytes::Bytes::copy_from_slice(data),
            query: Vec::new(),
        };
        let _ = handle(&request, &config, now);
    }
});
