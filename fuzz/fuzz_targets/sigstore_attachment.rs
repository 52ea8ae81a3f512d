//! Fuzz the sigstore attachment parsers: the attachment manifest, the
//! stored `\0sigstore-json\n…` form and the config append. No panics;
//! accepted input round-trips.

#![no_main]

use imprimatur::sigstore::SigstoreSignature;
use imprimatur::sigstore::attachment::{AttachmentManifest, append_to_config, plan_append};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = AttachmentManifest::parse(data) {
        let json = m.to_json();
        let again = AttachmentManifest::parse(&json).expect("serialized manifest parses");
        assert_eq!(again, m);
        // Appending to it, with the input as config, never panics.
        let sig = SigstoreSignature::new(data.to_vec(), "c2ln".to_owned());
        let _ = plan_append(Some((&m, data)), &[sig]);
    }
    let mut blob = b"\0sigstore-json\n".to_vec();
    blob.extend_from_slice(data);
    if let Ok(s) = SigstoreSignature::from_blob(&blob) {
        let again = SigstoreSignature::from_blob(&s.to_blob()).expect("stored form parses");
        assert_eq!(again, s);
    }
    let _ = append_to_config(data, &[]);
});
