//! CloudEvents in structured and batched mode through the hooks core.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolbroker::hooks::{HookRequest, HooksConfig, handle};

fuzz_target!(|data: &[u8]| {
    let media = if data.first().is_some_and(|b| b % 2 == 0) {
        "application/cloudevents+json"
    } else {
        "application/cloudevents-batch+json"
    };
    let request = HookRequest {
        method: "POST".into(),
        headers: vec![("content-type".into(), media.into())],
        body: bytes::Bytes::copy_from_slice(data),
        query: Vec::new(),
    };
    let _ = handle(&request, &HooksConfig::default(), time::OffsetDateTime::UNIX_EPOCH);
});
