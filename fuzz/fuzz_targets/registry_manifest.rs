//! Fuzz manifest and index parsing as the registry client meets them: media
//! type guessing, parsing under every media type, digest computation and
//! platform selection. No panics, and a guessed type that parses stays
//! consistent.

#![no_main]

use imprimatur_registry::image::{self, ManifestKind, Platform};
use libfuzzer_sys::fuzz_target;

const TYPES: &[&str] = &[
    image::OCI_MANIFEST,
    image::OCI_INDEX,
    image::DOCKER_MANIFEST,
    image::DOCKER_LIST,
    image::DOCKER_SCHEMA1,
    image::DOCKER_SCHEMA1_SIGNED,
    "application/json",
];

fuzz_target!(|data: &[u8]| {
    let guessed = image::media_type_of(data, None);
    for media_type in TYPES.iter().copied().chain(std::iter::once(guessed.as_str())) {
        if let Ok(ManifestKind::Index(index)) = image::parse_manifest(data, media_type, "fuzz") {
            let _ = image::select_platform(&index, &Platform::current());
            let _ = image::select_platform(&index, &"linux/arm64/v8".parse().expect("platform"));
        }
    }
    if let Ok(d) = image::manifest_digest(data, "fuzz") {
        image::verify_digest("fuzz", &d, data).expect("a manifest verifies against its own digest");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<Platform>();
    }
});
