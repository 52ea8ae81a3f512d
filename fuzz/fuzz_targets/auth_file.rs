//! Fuzz auth file parsing (`auth.json`, `~/.docker/config.json`) and
//! credential lookup. No panics; `Debug` never shows a password.

#![no_main]

use std::path::Path;

use imprimatur_registry::docker::{AuthFile, Credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = AuthFile::parse(data, Path::new("auth.json")) {
        for (registry, repo) in [("docker.io", "library/busybox"), ("quay.io", "a/b/c"), ("", "")] {
            if let Some(c) = file.lookup(registry, repo) {
                assert!(format!("{c:?}").contains("<redacted>"));
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Credentials::from_creds_flag(text);
    }
});
