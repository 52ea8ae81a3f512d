//! Docker reference parsing, checked against skopeo 1.9.3 (containers/image).
//!
//! `skopeo standalone-verify MANIFEST REF FPR SIG` parses REF with
//! `ParseNormalizedNamed` before it looks at the signature, so with a
//! signature file that is not OpenPGP it fails with either the reference
//! error message or, for a valid reference, gpg's "No data". That makes it an
//! oracle for which strings parse and for the exact error messages.

use std::path::Path;
use std::process::Command;

use imprimatur::reference::Reference;

use crate::peers::{self, GpgAlgo, GpgHome};
use crate::util;

/// What skopeo says about `reference`: `Ok(())` if it parsed, else the error
/// message.
fn skopeo_parse(dir: &Path, reference: &str) -> Result<(), String> {
    let out = Command::new("skopeo")
        .arg("standalone-verify")
        .arg("--")
        .arg(dir.join("manifest.json"))
        .arg(reference)
        .arg("0000000000000000000000000000000000000000")
        .arg(dir.join("signature"))
        .output()
        .expect("run skopeo");
    assert!(
        !out.status.success(),
        "{reference:?}: skopeo accepted a garbage signature"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = "msg=\"Error verifying signature: ";
    let start = stderr
        .find(prefix)
        .unwrap_or_else(|| panic!("{reference:?}: unexpected skopeo output {stderr}"))
        + prefix.len();
    let line = stderr[start..].lines().next().unwrap_or_default();
    let msg = line.strip_suffix('"').unwrap_or(line);
    if msg == "No data" {
        Ok(())
    } else {
        Err(msg.to_owned())
    }
}

/// Small deterministic generator (no extra test dependencies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn inputs() -> Vec<String> {
    let f64 = "f".repeat(64);
    let mut v: Vec<String> = [
        "busybox",
        "busybox:latest",
        "library/busybox",
        "docker.io/busybox:latest",
        "index.docker.io/library/debian",
        "docker/docker",
        "test_com/foo",
        "test.com/foo",
        "test-com:8080/foo",
        "localhost/foo",
        "127.0.0.1:5000/library/debian",
        "xn--n3h.com:18080/foo",
        "test.com:tag",
        "foo_bar.com:8080",
        "lowercase:Uppercase",
        "docker/Docker",
        "Uppercase:tag",
        "-docker",
        "docker-/docker",
        "____/____",
        "dock..er/docker",
        "dock_.er/docker",
        "docker/",
        "docker///docker",
        "https://github.com/docker/docker",
        "",
        "my_registry.com/foo:v1",
        "Foo.Example.COM/bar:v1",
        "localhost:5000x/foo",
        "a:b:c",
        "a/b:c/d",
        "[::1]:5000/foo",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    v.extend([
        f64.clone(),
        format!("docker.io/{f64}"),
        f64.to_uppercase(),
        format!("repo@sha256:{}", "f".repeat(34)),
        format!("repo@sha256:{}", "f".repeat(31)),
        format!("repo@sha256:{}", "F".repeat(64)),
        format!("repo@SHA256:{f64}"),
        format!("repo:tag@SHA256:{f64}"),
        format!("validname@invaliddigest:{f64}"),
        format!("repo@sha512:{f64}"),
        format!("gcr.io/library/busybox:latest@sha256:{f64}"),
        format!("{}a:v", "a/".repeat(122)),
        format!("a/{}a:v", "a/".repeat(122)),
        format!("busybox:{}", "t".repeat(128)),
        format!("busybox:{}", "t".repeat(129)),
    ]);
    // Random strings over the grammar's alphabet, and mutations of valid ones.
    let alphabet: Vec<char> = "abcAB019._-:/@".chars().collect();
    let seeds = [
        "a.b:5/c_d/e--f:T.1",
        "localhost/x@sha256:0123456789abcdef0123456789abcdef",
    ];
    let mut rng = Lcg(0x5eed);
    for i in 0..250 {
        let s: String = if i % 2 == 0 {
            let len = rng.next(16);
            (0..len)
                .map(|_| alphabet[rng.next(alphabet.len())])
                .collect()
        } else {
            let mut chars: Vec<char> = seeds[rng.next(seeds.len())].chars().collect();
            for _ in 0..=rng.next(3) {
                let pos = rng.next(chars.len() + 1);
                match rng.next(3) {
                    0 if pos < chars.len() => {
                        chars.remove(pos);
                    }
                    1 if pos < chars.len() => chars[pos] = alphabet[rng.next(alphabet.len())],
                    _ => chars.insert(pos, alphabet[rng.next(alphabet.len())]),
                }
            }
            chars.into_iter().collect()
        };
        v.push(s);
    }
    v
}

#[test]
fn parse_normalized_agrees_with_skopeo() {
    if !util::require_tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("manifest.json"), "{}").expect("write manifest");
    std::fs::write(dir.path().join("signature"), "not an OpenPGP message\n").expect("write sig");
    let mut mismatches = Vec::new();
    let inputs = inputs();
    let mut accepted = 0;
    for input in &inputs {
        let ours = Reference::parse_normalized(input)
            .map(|_| ())
            .map_err(|e| e.to_string());
        accepted += usize::from(ours.is_ok());
        let theirs = skopeo_parse(dir.path(), input);
        if ours != theirs {
            mismatches.push(format!("{input:?}: ours {ours:?}, skopeo {theirs:?}"));
        }
    }
    // The inputs must exercise both outcomes for the comparison to mean much.
    assert!(
        accepted >= 40 && inputs.len() - accepted >= 40,
        "only {accepted} of {} accepted",
        inputs.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        inputs.len(),
        mismatches.join("\n")
    );
}

/// The normalized full form: `standalone-verify` accepts a signature whose
/// identity is our `to_string()` of the input iff containers/image normalizes
/// the input to that same string (it compares `String()` forms).
#[test]
fn normalized_form_agrees_with_skopeo() {
    if !peers::require_tools(&["skopeo", "gpg"]) {
        return;
    }
    let home = GpgHome::new();
    let fpr = home.gen_key(
        "Reference Test <reference@example.com>",
        GpgAlgo::Ed25519,
        None,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, "{}").expect("write manifest");
    let sig = dir.path().join("signature");
    let sign = |identity: &str| {
        peers::run_ok(
            home.command("skopeo")
                .args(["standalone-sign", "-o"])
                .arg(&sig)
                .arg("--")
                .arg(&manifest)
                .arg(identity)
                .arg(&fpr),
        );
    };
    let verify = |input: &str| {
        peers::run(
            home.command("skopeo")
                .arg("standalone-verify")
                .arg("--")
                .arg(&manifest)
                .arg(input)
                .arg(&fpr)
                .arg(&sig),
        )
    };
    let accepted: Vec<(String, Reference)> = inputs()
        .into_iter()
        .filter_map(|i| Reference::parse_normalized(&i).ok().map(|r| (i, r)))
        .take(60)
        .collect();
    assert!(accepted.len() >= 40, "only {} inputs parse", accepted.len());
    let mut mismatches = Vec::new();
    for (n, (input, r)) in accepted.iter().enumerate() {
        let full = r.to_string();
        sign(&full);
        let out = verify(input);
        if !out.status.success() {
            mismatches.push(format!(
                "{input:?} -> {full:?} rejected: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        // Negative control: a different tag must not verify.
        if n % 8 == 0 {
            let other = r.with_tag("other-tag").expect("valid tag").to_string();
            let out = verify(&other);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains("does not match"),
                "{other:?} verified against a signature for {full:?}: {stderr}"
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
