//! Fuzz the docker reference and digest parsers: no panics, and every
//! accepted reference round-trips through its normalized string form.

#![no_main]

use imprimatur::reference::{Digest, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Digest::parse(s);
    let canonical = Reference::parse_canonical(s);
    match Reference::parse_normalized(s) {
        Ok(r) => {
            let full = r.to_string();
            assert_eq!(Reference::parse_normalized(&full).as_ref(), Ok(&r));
            assert_eq!(Reference::parse_canonical(&full).as_ref(), Ok(&r));
            assert_eq!(canonical.is_ok(), full == s);
            assert!(r.name().len() <= 255);
            let _ = r.familiar();
            let scopes = r.policy_scopes();
            assert!(!scopes.is_empty());
        }
        Err(_) => assert!(canonical.is_err()),
    }
});
