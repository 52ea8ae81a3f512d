//! Sigstore (cosign, key-based) signature throughput, one core: sign and
//! verify an ECDSA P-256/SHA-256 signature over a realistic cosign payload
//! (RustCrypto `p256`), beside what the atomic benches measure
//! (`benches/signing.rs`), plus the parts around them: payload
//! serialization, strict parsing, attachment planning, and the cosign key
//! file (scrypt N=32768 dominates: it is meant to be slow).
//!
//! ```text
//! cargo bench --bench sigstore
//! ```
//!
//! Each benchmark is one operation per iteration ("elem/s" = operations per
//! second). Verification includes the strict payload parse, as policy
//! evaluation does it.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imprimatur::reference::Digest;
use imprimatur::sigstore::attachment::plan_append;
use imprimatur::sigstore::{
    Passphrase, PrivateKey, SigstorePayload, sign, verify, verify_for_image,
};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
const REFERENCE: &str = "registry.example.com:5000/mirror/library/postgres:16.4-bookworm";

fn payload(timestamp: i64) -> SigstorePayload {
    SigstorePayload::new(REFERENCE, &Digest::sha256_of(MANIFEST), timestamp)
}

fn bench(c: &mut Criterion) {
    let key = PrivateKey::generate().unwrap();
    let trusted = [key.public_key()];
    let mut g = c.benchmark_group("sigstore");
    g.throughput(Throughput::Elements(1));

    let mut ts = 1_700_000_000;
    g.bench_function("sign (payload + ECDSA P-256)", |b| {
        b.iter(|| {
            ts += 1;
            black_box(sign(&key, &payload(ts)))
        })
    });

    // Distinct signatures, so nothing could be served from a cache.
    let sigs: Vec<_> = (0..256).map(|i| sign(&key, &payload(i))).collect();
    let mut i = 0;
    g.bench_function("verify (ECDSA + strict payload)", |b| {
        b.iter(|| {
            i = (i + 1) % sigs.len();
            black_box(verify(&trusted, &sigs[i]).unwrap())
        })
    });
    g.bench_function("verify for image (+ digest, identity)", |b| {
        b.iter(|| {
            i = (i + 1) % sigs.len();
            black_box(verify_for_image(&trusted, &sigs[i], MANIFEST, REFERENCE).unwrap())
        })
    });
    let json = payload(1).to_json();
    g.bench_function("payload parse", |b| {
        b.iter(|| black_box(SigstorePayload::parse(&json).unwrap()))
    });
    g.bench_function("attachment plan (16 existing layers)", |b| {
        let first = plan_append(None, &sigs[..16]).unwrap();
        let manifest = imprimatur::sigstore::attachment::AttachmentManifest::parse(
            first.manifest.as_deref().unwrap(),
        )
        .unwrap();
        let config = first.blobs.last().unwrap().bytes.clone();
        b.iter(|| black_box(plan_append(Some((&manifest, &config)), &sigs[16..17]).unwrap()))
    });
    g.finish();

    let mut slow = c.benchmark_group("sigstore key file");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(5));
    slow.throughput(Throughput::Elements(1));
    let pass = Passphrase::from("bench");
    let pem = key.to_encrypted_pem(&pass).unwrap();
    slow.bench_function("decrypt (scrypt N=32768)", |b| {
        b.iter(|| black_box(PrivateKey::from_encrypted_pem(pem.as_bytes(), &pass).unwrap()))
    });
    slow.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
