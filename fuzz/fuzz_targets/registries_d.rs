//! Fuzz the `registries.d` YAML parser: no panics, every accepted file
//! round-trips through its YAML output, and lookaside lookup works on it.

#![no_main]

use imprimatur::policy::{Purpose, RegistriesConfig, RegistriesFile};
use imprimatur::reference::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = RegistriesFile::from_yaml(data, "fuzz.yaml") {
        let text = f.to_yaml();
        let again = RegistriesFile::from_yaml(text.as_bytes(), "out.yaml").expect("own output parses");
        assert_eq!(again, f);
        if let (Ok(c), Ok(r)) = (
            RegistriesConfig::merge([("fuzz.yaml", f)]),
            Reference::parse_normalized("registry.example.com:5000/ns/app:1"),
        ) {
            let _ = c.lookaside_for(&r, Purpose::Read);
            let _ = c.lookaside_for(&r, Purpose::Write);
            let _ = c.use_sigstore_attachments(&r);
        }
    }
});
