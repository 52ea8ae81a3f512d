//! Regression: a long-running verifier must not grow with every distinct
//! signature it sees. sequoia keeps a process-wide cache of verified
//! signatures that is never evicted; `Verifier` verifies without it.
//!
//! Alone in its own test binary: the cache is process-wide, so any other
//! test verifying in parallel would move the counter.

use imprimatur_reference::Digest;
use imprimatur_signature::sequoia_openpgp::packet::signature::cache::SignatureVerificationCache;
use imprimatur_signature::*;

#[test]
fn distinct_signatures_are_not_remembered_by_sequoias_global_cache() {
    let key = generate_key(KeyGenOptions::new("Cache <cache@example.com>")).expect("key");
    let keys = TrustedKeys::from_bytes(&key.public_armored().expect("public")).expect("keys");
    let signer = Signer::builder(key.secret_key()).build().expect("signer");
    let verifier = Verifier::new(&keys);
    let digest = Digest::sha256_of(b"manifest");
    let blobs: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let payload = Payload::new(&format!("example.com/app:{i}"), &digest, 1_700_000_000);
            signer.sign(&payload).expect("sign")
        })
        .collect();
    // The first verification validates the certificate's own binding
    // signatures (a bounded set, one per trusted key): let it warm up.
    verifier.verify(&blobs[0]).expect("verifies");
    let before = SignatureVerificationCache::insertions();
    for blob in &blobs[1..] {
        verifier.verify(blob).expect("verifies");
    }
    let added = SignatureVerificationCache::insertions() - before;
    assert_eq!(
        added, 0,
        "{added} of 199 distinct verified signatures were added to sequoia's global cache"
    );
    // And a tampered one still fails (the uncached path really verifies).
    let mut bad = blobs[1].clone();
    let n = bad.len();
    bad[n - 3] ^= 0x40;
    assert!(verifier.verify(&bad).is_err());
}
