//! Atomic signature throughput, one core: sign and verify for Ed25519 and
//! RSA-3072 over a realistic payload, next to the raw primitive of the same
//! backend (nettle) in the same run.
//!
//! ```text
//! cargo bench --bench signing
//! ```
//!
//! Every benchmark measures one signature (or verification) per iteration, so
//! criterion's "elem/s" is signatures per second. The raw primitives hash the
//! payload with SHA-256 and sign / verify that digest: the floor of what an
//! OpenPGP signature over the same bytes can cost.
//!
//! sequoia caches successful signature verifications process-wide, so the
//! honest verify number is "cold" (every iteration verifies a signature never
//! seen before); the "cached" one shows what re-verifying costs.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imprimatur::reference::Digest;
use imprimatur::signature::{
    Cipher, KeyGenOptions, Payload, Signer, TrustedKeys, Verifier, generate_key,
};
use nettle::hash::{Hash, Sha256};
use nettle::random::Yarrow;

/// The digest of a small manifest.
fn digest() -> Digest {
    Digest::sha256_of(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
    )
}

/// A payload like the ones a mirror signs: a registry host with a port, a
/// nested repository, a version tag and a sha256 digest.
fn payload() -> Payload {
    Payload::new(
        "registry.example.com:5000/mirror/library/postgres:16.4-bookworm",
        &digest(),
        1_764_000_000,
    )
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::default();
    h.update(bytes);
    let mut out = [0u8; 32];
    h.digest(&mut out);
    out
}

fn ours(c: &mut Criterion, name: &str, cipher: Cipher) {
    let key = generate_key(
        KeyGenOptions::new(format!("Bench {name} <bench@example.test>")).cipher(cipher),
    )
    .unwrap();
    let signer = Signer::builder(key.secret_key()).build().unwrap();
    let keys = TrustedKeys::from_bytes(&key.public_armored().unwrap()).unwrap();
    let verifier = Verifier::new(&keys);
    let payload = payload();
    let blob = signer.sign(&payload).unwrap();
    let accepted = [key.fingerprint()];

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    if cipher != Cipher::Ed25519 {
        // Every verification iteration needs a fresh RSA signature (see
        // below), which costs milliseconds: keep the iteration count small.
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(1));
    }
    g.bench_function("imprimatur sign", |b| {
        b.iter(|| signer.sign(black_box(&payload)).unwrap())
    });
    // sequoia caches successful verifications process-wide (keyed by the
    // signature's MPIs, digest and key), so verifying one blob repeatedly
    // measures a cache lookup. Each timed verification gets a signature
    // never verified before; making them is not timed.
    let mut timestamp = 1_764_000_000;
    g.bench_function("imprimatur verify (cold, distinct signatures)", |b| {
        b.iter_custom(|iters| {
            let blobs: Vec<Vec<u8>> = (0..iters)
                .map(|_| {
                    timestamp += 1;
                    let p = Payload::new(&payload.docker_reference, &digest(), timestamp);
                    signer.sign(&p).unwrap()
                })
                .collect();
            let start = Instant::now();
            for blob in &blobs {
                let v = verifier
                    .verify_accepted(black_box(blob), &accepted)
                    .unwrap();
                black_box(Payload::parse(&v.payload).unwrap());
            }
            start.elapsed()
        })
    });
    g.bench_function("imprimatur verify (same signature, cached)", |b| {
        b.iter(|| {
            let v = verifier
                .verify_accepted(black_box(&blob), &accepted)
                .unwrap();
            Payload::parse(&v.payload).unwrap()
        })
    });
    let json = payload.to_canonical_json();
    match cipher {
        Cipher::Ed25519 => raw_ed25519(&mut g, &json),
        _ => raw_rsa3072(&mut g, &json),
    }
    g.finish();
}

fn raw_ed25519(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    msg: &[u8],
) {
    let mut rng = Yarrow::default();
    let secret = nettle::ed25519::private_key(&mut rng);
    let mut public = [0u8; nettle::ed25519::ED25519_KEY_SIZE];
    nettle::ed25519::public_key(&mut public, &secret).unwrap();
    let mut sig = [0u8; nettle::ed25519::ED25519_SIGNATURE_SIZE];
    g.bench_function("nettle raw sign (sha256 + ed25519)", |b| {
        b.iter(|| {
            let d = sha256(black_box(msg));
            nettle::ed25519::sign(&public, &secret, &d, &mut sig).unwrap();
        })
    });
    let d = sha256(msg);
    nettle::ed25519::sign(&public, &secret, &d, &mut sig).unwrap();
    g.bench_function("nettle raw verify (sha256 + ed25519)", |b| {
        b.iter(|| {
            let d = sha256(black_box(msg));
            assert!(nettle::ed25519::verify(&public, &d, &sig).unwrap());
        })
    });
}

fn raw_rsa3072(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    msg: &[u8],
) {
    let mut rng = Yarrow::default();
    let (public, private) = nettle::rsa::generate_keypair(&mut rng, 3072).unwrap();
    let mut sig = vec![0u8; 384];
    g.bench_function("nettle raw sign (sha256 + rsa3072 pkcs1, CRT)", |b| {
        b.iter(|| {
            let d = sha256(black_box(msg));
            nettle::rsa::sign_digest_pkcs1(
                &public,
                &private,
                &d,
                nettle::rsa::ASN1_OID_SHA256,
                &mut rng,
                &mut sig,
            )
            .unwrap();
        })
    });
    let d = sha256(msg);
    nettle::rsa::sign_digest_pkcs1(
        &public,
        &private,
        &d,
        nettle::rsa::ASN1_OID_SHA256,
        &mut rng,
        &mut sig,
    )
    .unwrap();
    g.bench_function("nettle raw verify (sha256 + rsa3072 pkcs1)", |b| {
        b.iter(|| {
            let d = sha256(black_box(msg));
            assert!(
                nettle::rsa::verify_digest_pkcs1(&public, &d, nettle::rsa::ASN1_OID_SHA256, &sig)
                    .unwrap()
            );
        })
    });
}

fn signing(c: &mut Criterion) {
    ours(c, "ed25519", Cipher::Ed25519);
    ours(c, "rsa3072", Cipher::Rsa3072);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = signing
}
criterion_main!(benches);
