//! Fuzz the strict `policy.json` parser: no panics, every accepted policy
//! round-trips through its canonical output, and scope selection works on it.

#![no_main]

use imprimatur::policy::{Policy, PolicyImage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Policy::from_json(data, "fuzz.json") {
        let text = p.to_json();
        let again = Policy::from_json(text.as_bytes(), "canonical.json").expect("canonical output parses");
        assert_eq!(again, p);
        assert_eq!(again.to_json(), text);
        if let Ok(img) = PolicyImage::parse_docker("registry.example.com:5000/ns/app:1") {
            let _ = p.select(&img);
        }
        let _ = p.select(&PolicyImage::dir("/srv/images/app"));
    }
});
