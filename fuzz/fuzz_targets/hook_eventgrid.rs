//! Event Grid deliveries (validation handshake and events) through the hooks core.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolbroker::hooks::{HookRequest, HooksConfig, handle};

fuzz_target!(|data: &[u8]| {
    let kind = if data.first().is_some_and(|b| b % 2 == 0) { "Notification" } else { "SubscriptionValidation" };
    let request = HookRequest {
        method: "POST".into(),
        headers: vec![
            ("aeg-event-type".into(), kind.into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: bytes::Bytes::copy_from_slice(data),
        query: Vec::new(),
    };
    let _ = handle(&request, &HooksConfig::default(), time::OffsetDateTime::UNIX_EPOCH);
});
