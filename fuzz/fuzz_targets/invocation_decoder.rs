//! The Functions host's invocation envelope and the Service Bus trigger payload inside it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolbroker::functions::{InvocationRequest, ServiceBusDelivery};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = InvocationRequest::parse(data) {
        for binary in [false, true] {
            if let Ok(delivery) = ServiceBusDelivery::from_invocation(&request, "command", binary) {
                let _ = poolbroker::domain::parse_command(&delivery.body, delivery.content_type.as_deref());
            }
        }
    }
});
