//! Quick throughput measurement (not a benchmark suite; see the facade's
//! `benches/signing.rs`). Run with:
//! `cargo test --release -p imprimatur-signature --test perf -- --ignored --nocapture`

use std::time::Instant;

use imprimatur_reference::Digest;
use imprimatur_signature::sequoia_openpgp::crypto::Signer as _;
use imprimatur_signature::sequoia_openpgp::types::HashAlgorithm;
use imprimatur_signature::*;

fn rate(label: &str, n: u32, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let r = f64::from(n) / t.elapsed().as_secs_f64();
    println!("{label:<34} {r:>10.0}/s");
    r
}

#[test]
#[ignore = "timing; run explicitly in release mode"]
fn throughput() {
    let d = Digest::sha256_of(b"manifest");
    let payload = Payload::new("registry.example.com/namespace/app:1.0", &d, 1_795_344_597);
    for (cipher, n_sign, n_verify) in [(Cipher::Ed25519, 4000, 4000), (Cipher::Rsa3072, 200, 2000)]
    {
        let g = generate_key(KeyGenOptions::new("perf <perf@example.invalid>").cipher(cipher))
            .expect("keygen");
        let keys = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
        let signer = Signer::builder(g.secret_key()).build().expect("signer");
        let name = cipher.name();
        rate(&format!("{name} sign (payload)"), n_sign, || {
            signer.sign(&payload).expect("sign");
        });
        let mut kp = g
            .secret_key()
            .cert()
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .expect("secret")
            .into_keypair()
            .expect("keypair");
        let digest = [7u8; 32];
        rate(&format!("{name} raw sequoia keypair.sign"), n_sign, || {
            kp.sign(HashAlgorithm::SHA256, &digest).expect("raw");
        });
        // Distinct blobs: sequoia caches verification results per signature.
        let blobs: Vec<Vec<u8>> = (0..n_verify + 1)
            .map(|i| {
                let p = Payload::new("registry.example.com/namespace/app:1.0", &d, i64::from(i));
                signer.sign(&p).expect("sign")
            })
            .collect();
        let v = Verifier::new(&keys);
        let mut i = 0;
        rate(&format!("{name} verify (distinct blobs)"), n_verify, || {
            v.verify(&blobs[i]).expect("verify");
            i += 1;
        });
    }
}
