//! Memory of a long-running verifier: verifies N distinct signatures (one
//! key) with `Verifier` and, for comparison, with sequoia's own
//! `Signature::verify_message` (which remembers every verified signature in
//! a process-wide cache), printing the resident set size as it goes.
//!
//! `cargo run --release -p imprimatur-signature --features sequoia-openpgp/crypto-nettle --example verify_memory -- 200000`
//! (scripts/bench-verify-memory.sh runs it).

use imprimatur_reference::Digest;
use imprimatur_signature::sequoia_openpgp as openpgp;
use imprimatur_signature::*;
use openpgp::parse::Parse as _;

/// VmRSS from /proc/self/status, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The signature packet and literal data of an inline-signed blob.
fn parts(blob: &[u8]) -> (openpgp::packet::Signature, Vec<u8>) {
    let message = openpgp::PacketPile::from_bytes(blob).expect("packets");
    let mut sig = None;
    let mut body = Vec::new();
    for p in message.descendants() {
        match p {
            openpgp::Packet::Signature(s) => sig = Some(s.clone()),
            openpgp::Packet::Literal(l) => body = l.body().to_vec(),
            _ => {}
        }
    }
    (sig.expect("signature"), body)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let key = generate_key(KeyGenOptions::new("Mem <mem@example.com>")).expect("key");
    let keys = TrustedKeys::from_bytes(&key.public_armored().expect("public")).expect("keys");
    let signer = Signer::builder(key.secret_key()).build().expect("signer");
    let verifier = Verifier::new(&keys);
    let cert = key.secret_key().cert().clone();
    let signing_key = cert
        .keys()
        .next()
        .expect("primary")
        .key()
        .clone()
        .parts_into_public();
    let digest = Digest::sha256_of(b"manifest");
    let step = (n / 4).max(1);
    for (label, sequoia_cache) in [
        ("imprimatur Verifier", false),
        ("sequoia verify_message (cached)", true),
    ] {
        let start = rss_kib();
        println!("{label}: RSS {start} KiB at start");
        for i in 0..n {
            // Distinct payloads, so distinct signatures.
            let payload = Payload::new(
                &format!("example.com/{label:.1}/app:{i}"),
                &digest,
                1_700_000_000,
            );
            let blob = signer.sign(&payload).expect("sign");
            if sequoia_cache {
                let (sig, body) = parts(&blob);
                sig.verify_message(&signing_key, &body).expect("verifies");
            } else {
                verifier.verify(&blob).expect("verifies");
            }
            if (i + 1) % step == 0 {
                println!(
                    "  after {:>7}: RSS {} KiB (+{} KiB)",
                    i + 1,
                    rss_kib(),
                    rss_kib().saturating_sub(start)
                );
            }
        }
    }
}
