//! Fuzz what a registry sends when it refuses: `WWW-Authenticate` challenges
//! and distribution error bodies. No panics; every parsed challenge has a
//! lower-case scheme, and a message only comes from a JSON document.

#![no_main]

use imprimatur_registry::docker::{error_messages, parse_challenges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for c in parse_challenges(text) {
            assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
            let _ = c.realm();
        }
    }
    let (codes, message) = error_messages(data);
    // No error document, no message.
    if codes.is_empty() && !message.is_empty() {
        assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
    }
});
