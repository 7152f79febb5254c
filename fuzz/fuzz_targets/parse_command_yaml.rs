//! `parse_command` on bodies declared YAML (envelopes and bare `az ml` attach documents).
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolbroker::domain::parse_command;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_command(data, Some("application/yaml")) {
        let bytes = envelope.to_bytes().expect("a parsed envelope encodes");
        let again = parse_command(&bytes, Some("application/json")).expect("its encoding parses");
        assert_eq!(again.command, envelope.command);
    }
});
