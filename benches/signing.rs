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
//! payload with SHA-256 and sign / verify that digest with nettle directly
//! (RSA: PKCS#1 v1.5 with CRT and blinding, what sequoia's nettle backend
//! calls): the floor of what an OpenPGP signature over the same bytes costs.
//!
//! sequoia caches successful signature verifications process-wide (never
//! evicted); `Verifier` does not use that cache, so verifying a signature
//! never seen before ("cold") and the same one again cost the same: both are
//! measured to show it.
//!
//! After criterion, a paired summary alternates short rounds of ours and raw
//! and reports medians: on a shared machine whose load changes during the run,
//! that ratio is more trustworthy than two criterion numbers measured minutes
//! apart.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use imprimatur::reference::Digest;
use imprimatur::signature::{
    Cipher, Fingerprint, KeyGenOptions, Payload, Signer, TrustedKeys, Verifier, generate_key,
};
use nettle::hash::{Hash, Sha256};
use nettle::random::Yarrow;

/// The digest of a small manifest.
fn digest() -> Digest {
    Digest::sha256_of(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
    )
}

const REFERENCE: &str = "registry.example.com:5000/mirror/library/postgres:16.4-bookworm";

/// A payload like the ones a mirror signs: a registry host with a port, a
/// nested repository, a version tag and a sha256 digest.
fn payload(timestamp: i64) -> Payload {
    Payload::new(REFERENCE, &digest(), timestamp)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::default();
    h.update(bytes);
    let mut out = [0u8; 32];
    h.digest(&mut out);
    out
}

/// Our signer and verifier for one key type.
struct Ours {
    signer: Signer,
    keys: TrustedKeys,
    accepted: [Fingerprint; 1],
    payload: Payload,
    next_timestamp: i64,
}

impl Ours {
    fn new(name: &str, cipher: Cipher) -> Self {
        let key = generate_key(
            KeyGenOptions::new(format!("Bench {name} <bench@example.test>")).cipher(cipher),
        )
        .unwrap();
        Ours {
            signer: Signer::builder(key.secret_key()).build().unwrap(),
            keys: TrustedKeys::from_bytes(&key.public_armored().unwrap()).unwrap(),
            accepted: [key.fingerprint()],
            payload: payload(1_764_000_000),
            next_timestamp: 1_764_000_000,
        }
    }

    fn sign(&self) -> Vec<u8> {
        self.signer.sign(black_box(&self.payload)).unwrap()
    }

    /// `n` signatures never verified before (distinct payloads).
    fn fresh(&mut self, n: u64) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                self.next_timestamp += 1;
                self.signer.sign(&payload(self.next_timestamp)).unwrap()
            })
            .collect()
    }

    fn verify(&self, verifier: &Verifier<'_>, blob: &[u8]) {
        let v = verifier
            .verify_accepted(black_box(blob), &self.accepted)
            .unwrap();
        black_box(Payload::parse(&v.payload).unwrap());
    }
}

/// The same backend's raw primitive for one key type.
#[allow(clippy::large_enum_variant)] // one of each, made once
enum Raw {
    Ed25519 {
        public: [u8; nettle::ed25519::ED25519_KEY_SIZE],
        secret: Box<[u8]>,
    },
    Rsa {
        public: nettle::rsa::PublicKey,
        private: nettle::rsa::PrivateKey,
        rng: Yarrow,
    },
}

impl Raw {
    fn new(cipher: Cipher) -> Self {
        let mut rng = Yarrow::default();
        if cipher == Cipher::Ed25519 {
            let secret = nettle::ed25519::private_key(&mut rng);
            let mut public = [0u8; nettle::ed25519::ED25519_KEY_SIZE];
            nettle::ed25519::public_key(&mut public, &secret).unwrap();
            Raw::Ed25519 { public, secret }
        } else {
            let (public, private) = nettle::rsa::generate_keypair(&mut rng, 3072).unwrap();
            Raw::Rsa {
                public,
                private,
                rng,
            }
        }
    }

    fn sign(&mut self, msg: &[u8]) -> Vec<u8> {
        let d = sha256(black_box(msg));
        match self {
            Raw::Ed25519 { public, secret } => {
                let mut sig = vec![0u8; nettle::ed25519::ED25519_SIGNATURE_SIZE];
                nettle::ed25519::sign(public, secret, &d, &mut sig).unwrap();
                sig
            }
            Raw::Rsa {
                public,
                private,
                rng,
            } => {
                let mut sig = vec![0u8; 384];
                nettle::rsa::sign_digest_pkcs1(
                    public,
                    private,
                    &d,
                    nettle::rsa::ASN1_OID_SHA256,
                    rng,
                    &mut sig,
                )
                .unwrap();
                sig
            }
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) {
        let d = sha256(black_box(msg));
        let ok = match self {
            Raw::Ed25519 { public, .. } => nettle::ed25519::verify(public, &d, sig).unwrap(),
            Raw::Rsa { public, .. } => {
                nettle::rsa::verify_digest_pkcs1(public, &d, nettle::rsa::ASN1_OID_SHA256, sig)
                    .unwrap()
            }
        };
        assert!(ok);
    }
}

fn group(c: &mut Criterion, name: &str, cipher: Cipher) {
    let mut ours = Ours::new(name, cipher);
    let mut raw = Raw::new(cipher);
    let json = ours.payload.to_canonical_json();
    let raw_sig = raw.sign(&json);
    let blob = ours.sign();

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    if cipher != Cipher::Ed25519 {
        // Every cold verification needs a fresh RSA signature, which costs
        // milliseconds to make: keep the iteration count small.
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(2));
    }
    g.bench_function("imprimatur sign", |b| b.iter(|| ours.sign()));
    g.bench_function("nettle raw sign", |b| b.iter(|| raw.sign(&json)));
    g.bench_function("imprimatur verify (cold, distinct signatures)", |b| {
        b.iter_custom(|iters| {
            let blobs = ours.fresh(iters);
            let verifier = Verifier::new(&ours.keys);
            let start = Instant::now();
            for blob in &blobs {
                ours.verify(&verifier, blob);
            }
            start.elapsed()
        })
    });
    let verifier = Verifier::new(&ours.keys);
    g.bench_function("imprimatur verify (same signature again)", |b| {
        b.iter(|| ours.verify(&verifier, &blob))
    });
    g.bench_function("nettle raw verify", |b| {
        b.iter(|| raw.verify(&json, &raw_sig))
    });
    g.finish();
}

fn signing(c: &mut Criterion) {
    group(c, "ed25519", Cipher::Ed25519);
    group(c, "rsa3072", Cipher::Rsa3072);
}

/// Median of per-operation times, as operations per second.
fn median_rate(mut per_op: Vec<Duration>) -> f64 {
    per_op.sort();
    1.0 / per_op[per_op.len() / 2].as_secs_f64()
}

/// Alternates short rounds of ours and raw; prints median rates and ratios.
fn paired_summary() {
    println!("\npaired summary (interleaved rounds, median of 21; one core):");
    println!("| key | op | imprimatur (/s) | nettle raw (/s) | imprimatur / raw |");
    println!("|---|---|---:|---:|---:|");
    for (name, cipher, per) in [
        ("ed25519", Cipher::Ed25519, 200u32),
        ("rsa3072", Cipher::Rsa3072, 8u32),
    ] {
        let mut ours = Ours::new(name, cipher);
        let mut raw = Raw::new(cipher);
        let json = ours.payload.to_canonical_json();
        let raw_sig = raw.sign(&json);
        let (mut os, mut rs, mut ov, mut rv) = (vec![], vec![], vec![], vec![]);
        for _ in 0..21 {
            let t = Instant::now();
            for _ in 0..per {
                black_box(ours.sign());
            }
            os.push(t.elapsed() / per);
            let t = Instant::now();
            for _ in 0..per {
                black_box(raw.sign(&json));
            }
            rs.push(t.elapsed() / per);
            let verify_per = per * 4;
            let blobs = ours.fresh(u64::from(verify_per));
            let verifier = Verifier::new(&ours.keys);
            let t = Instant::now();
            for blob in &blobs {
                ours.verify(&verifier, blob);
            }
            ov.push(t.elapsed() / verify_per);
            let t = Instant::now();
            for _ in 0..verify_per {
                raw.verify(&json, &raw_sig);
            }
            rv.push(t.elapsed() / verify_per);
        }
        for (op, o, r) in [("sign", os, rs), ("verify (cold)", ov, rv)] {
            let (o, r) = (median_rate(o), median_rate(r));
            println!(
                "| {name} | {op} | {o:.0} | {r:.0} | {:.0}% |",
                100.0 * o / r
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = signing
}

fn main() {
    // What criterion_main! does, then the paired summary.
    benches();
    Criterion::default().configure_from_args().final_summary();
    paired_summary();
}
