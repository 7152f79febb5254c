//! `parse_command` on bodies declared JSON; what parses must survive its own round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolbroker::domain::parse_command;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_command(data, Some("application/json")) {
        let bytes = envelope.to_bytes().expect("a parsed envelope encodes");
        let again = parse_command(&bytes, Some("application/json")).expect("its encoding parses");
        assert_eq!(again.command, envelope.command);
    }
    let _ = parse_command(data, None);
});
