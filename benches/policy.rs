//! Policy evaluation throughput, one core:
//!
//! * `evaluate/fresh-signature`: a whole `Evaluator::evaluate` of a docker
//!   image with one valid signature that this process has never verified,
//!   against a realistic policy (default reject, a dozen scopes), keys
//!   already cached in the evaluator: scope selection, one OpenPGP
//!   verification, strict payload parse, manifest digest and identity match.
//!   Each iteration gets a new signature (made in untimed setup). Ed25519
//!   only: an RSA-3072 signature takes milliseconds to make, so fresh RSA
//!   signatures cannot be produced fast enough to feed criterion; RSA
//!   verification alone is measured in `benches/signing.rs`.
//! * `evaluate/repeat-signature`: the same image and signature evaluated
//!   again and again. Sequoia keeps a process-wide cache of verified
//!   signatures, so this measures re-evaluation (a node re-checking an image
//!   it has seen), not a first verification.
//! * `select`: scope selection alone for a deep reference against the same
//!   policy (identity, namespaces, wildcards).
//!
//! ```text
//! cargo bench --bench policy
//! ```

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use imprimatur_policy::{
    Evaluator, IdentityMatch, Image, KeySource, NoKeyFiles, Policy, PolicyImage, Requirement,
    SignedBy, TrustBuilder,
};
use imprimatur_signature::{Cipher, KeyGenOptions, Payload, Signer, generate_key, manifest_digest};

const REFERENCE: &str = "registry.example.com:5000/team/app/service:1.2.3";

fn manifest() -> Vec<u8> {
    let layers: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":{},"digest":"sha256:{:064x}"}}"#, 1000 + i, i))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":1234,"digest":"sha256:{:064x}"}},"layers":[{}]}}"#,
        99,
        layers.join(",")
    )
    .into_bytes()
}

/// Default reject plus a dozen scopes; the image's scope is the repository.
fn policy(public: &[u8]) -> Policy {
    let mut b = TrustBuilder::default_reject();
    for host in [
        "quay.io",
        "ghcr.io",
        "docker.io/library",
        "*.vendor.example",
        "registry.example.com:5000/other",
    ] {
        b = b
            .signed_by("docker", host, &["/etc/pki/containers/vendor.gpg"], None)
            .unwrap();
    }
    for r in [
        "registry.example.com:5000/team/app/legacy",
        "registry.example.com:5000/team/x",
    ] {
        b = b.reject("docker", r).unwrap();
    }
    b = b.insecure_accept_anything("dir", "/srv/images").unwrap();
    b = b
        .signed_by_keys(
            "docker",
            "registry.example.com:5000/team/app/service",
            KeySource::Data(public.to_vec()),
            Some(IdentityMatch::MatchRepoDigestOrExact),
        )
        .unwrap();
    let mut p = b.build().policy;
    p.set_scope(
        "docker",
        "*.example.com",
        vec![Requirement::SignedBy(SignedBy::gpg(
            KeySource::Path("/etc/pki/containers/site.gpg".into()),
            None,
        ))],
    )
    .unwrap();
    p
}

fn bench_evaluate(c: &mut Criterion) {
    let manifest = manifest();
    let digest = manifest_digest(&manifest).unwrap();
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    for cipher in [Cipher::Ed25519, Cipher::Rsa3072] {
        let key =
            generate_key(KeyGenOptions::new("Bench <bench@example.com>").cipher(cipher)).unwrap();
        let signer = Signer::builder(key.secret_key()).build().unwrap();
        let blob = signer
            .sign(&Payload::new(REFERENCE, &digest, 1_700_000_000))
            .unwrap();
        let ev = Evaluator::new(policy(&key.public_armored().unwrap()), NoKeyFiles);
        let image = Image::new(
            PolicyImage::parse_docker(REFERENCE).unwrap(),
            Some(&manifest),
            vec![&blob],
        );
        assert!(ev.evaluate(&image).allowed, "{}", ev.evaluate(&image));
        g.bench_function(format!("repeat-signature/{}", cipher.name()), |b| {
            b.iter(|| black_box(ev.evaluate(black_box(&image))).allowed)
        });
        if cipher == Cipher::Ed25519 {
            // A different timestamp makes a different payload, hence a
            // signature the verification cache has never seen.
            let mut timestamp = 1_700_000_000;
            g.bench_function(format!("fresh-signature/{}", cipher.name()), |b| {
                b.iter_batched(
                    || {
                        timestamp += 1;
                        signer
                            .sign(&Payload::new(REFERENCE, &digest, timestamp))
                            .unwrap()
                    },
                    |blob| {
                        let image = Image::new(
                            PolicyImage::parse_docker(REFERENCE).unwrap(),
                            Some(&manifest),
                            vec![&blob],
                        );
                        assert!(ev.evaluate(&image).allowed);
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

fn bench_select(c: &mut Criterion) {
    let p = policy(b"");
    let image = PolicyImage::parse_docker(REFERENCE).unwrap();
    let mut g = c.benchmark_group("select");
    g.throughput(Throughput::Elements(1));
    g.bench_function("scope", |b| {
        b.iter(|| black_box(p.select(black_box(&image))).requirements.len())
    });
    g.bench_function("scope+reference-parse", |b| {
        b.iter(|| {
            let image = PolicyImage::parse_docker(black_box(REFERENCE)).unwrap();
            black_box(p.select(&image)).requirements.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_evaluate, bench_select);
criterion_main!(benches);
