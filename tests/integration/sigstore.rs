//! Sigstore (cosign, key-based) signatures against real peers on loopback:
//! docker-registry, Debian's skopeo 1.9.3 (containers/image 5.23.1 with the
//! Debian patch that disables sigstore *verification* and *signing*, but
//! not attachments, policy loading or "no signature" refusals), and an
//! independent implementation in Python (`doubles/cosign_py.py`: Debian's
//! python3-cryptography and python3-nacl) that cross-checks every verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imprimatur::reference::{Digest, Reference};
use imprimatur::registry::docker::{CredentialSource, RegistryClient};
use imprimatur::registry::sigstore::Attachments;
use imprimatur::sigstore::{
    KeyError, Passphrase, PrivateKey, PublicKey, SigstorePayload, SigstoreSignature, VerifyError,
    attachment::AttachmentManifest, sign, verify_for_image,
};

use crate::peers::{OciLayout, Registry, Scratch, require_tools, run, run_ok};
use crate::util;

const PYTHON: &str = "/usr/bin/python3";

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Debian's python3 with cryptography and nacl (not the PATH one: it may be
/// a pyenv without them). Fails under CI when missing.
fn require_python() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import cryptography, nacl.secret"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !util::in_ci(),
            "{PYTHON} with python3-cryptography and python3-nacl is required (CI is set)"
        );
        eprintln!("skipping: {PYTHON} lacks cryptography or nacl");
    }
    ok
}

fn py() -> Command {
    let mut c = Command::new(PYTHON);
    c.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/doubles/cosign_py.py"));
    c
}

/// The Python verifier's verdict: accepted (true) or refused (false).
fn py_verify(
    dir: &Scratch,
    public: &Path,
    sig: &SigstoreSignature,
    identity: &str,
    digest: &str,
) -> bool {
    let payload = dir.write("py-payload", &sig.payload);
    let out = run(py()
        .arg("verify")
        .arg(public)
        .arg(&payload)
        .arg(sig.signature_base64().unwrap_or_default())
        .arg(identity)
        .arg(digest));
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        c => panic!("cosign_py verify exited {c:?}: {}", text(&out)),
    }
}

/// `imprimatur keygen --sigstore`; returns (private key, public key).
fn keygen(dir: &Scratch, name: &str, passphrase: Option<&str>) -> (PathBuf, PathBuf) {
    let private = dir.path(&format!("{name}.key"));
    let public = dir.path(&format!("{name}.pub"));
    let mut cmd = util::imprimatur();
    cmd.args(["keygen", "--sigstore", "--private-key-out"])
        .arg(&private)
        .arg("--public-key-out")
        .arg(&public);
    if let Some(p) = passphrase {
        cmd.arg("--passphrase-file")
            .arg(dir.write(&format!("{name}.pass"), format!("{p}\n")));
    }
    let out = run_ok(&mut cmd);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 64);
    (private, public)
}

fn client() -> RegistryClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    RegistryClient::builder()
        .credentials(CredentialSource::Anonymous)
        .dangerous_accept_any_certificate_and_plain_http()
        .build()
        .expect("client")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The signatures in `reference`'s attachment for `digest`, read by us.
fn attachment(reference: &str, digest: &str) -> Vec<SigstoreSignature> {
    let r = Reference::parse_normalized(reference).expect("reference");
    let d = Digest::parse(digest).expect("digest");
    block_on(Attachments::new(&client(), &r).list(&d)).expect("read attachment")
}

/// The attachment manifest's digest and layer count.
fn attachment_manifest(reference: &str, digest: &str) -> Option<(AttachmentManifest, Digest)> {
    let r = Reference::parse_normalized(reference).expect("reference");
    let d = Digest::parse(digest).expect("digest");
    block_on(Attachments::new(&client(), &r).manifest(&d)).expect("read attachment manifest")
}

fn imp_sign(regd: &Path, args: &[&str], images: &[&str]) -> Output {
    run(util::imprimatur()
        .arg("sign")
        .arg("--registries-d")
        .arg(regd)
        .arg("--tls-verify=false")
        .args(args)
        .args(images))
}

/// `imprimatur policy check`: allowed (0) / denied (1); anything else panics.
fn imp_allows(policy: &Path, regd: &Path, image: &str) -> (bool, String) {
    let out = run(util::imprimatur()
        .args(["policy", "check", "--policy"])
        .arg(policy)
        .arg("--registries-d")
        .arg(regd)
        .arg("--tls-verify=false")
        .arg(image));
    let t = text(&out);
    match out.status.code() {
        Some(0) => (true, t),
        Some(1) => (false, t),
        c => panic!("policy check {image} exited {c:?}: {t}"),
    }
}

/// `skopeo copy IMAGE dir:` under a policy: (allowed, output). A failure
/// other than a policy refusal panics (so a policy skopeo can't load fails
/// the test).
fn skopeo_allows(policy: &Path, regd: &Path, image: &str) -> (bool, String) {
    let dest = Scratch::new();
    let out = run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
        .arg(policy)
        .arg("--registries.d")
        .arg(regd)
        .arg(image)
        .arg(format!("dir:{}", s(&dest.path("out")))));
    let t = text(&out);
    if !out.status.success() {
        assert!(
            t.contains("Source image rejected"),
            "skopeo failed for another reason: {t}"
        );
    }
    (out.status.success(), t)
}

#[test]
fn sigstore_key_files_interoperate_with_python() {
    if !require_python() {
        return;
    }
    let sc = Scratch::new();
    // Ours, read by Python: same public key.
    let (private, public) = keygen(&sc, "ours", Some("correct horse"));
    let py_public = sc.path("py-view.pub");
    run_ok(
        py().arg("decrypt")
            .arg(&private)
            .arg("correct horse")
            .arg(&py_public),
    );
    let ours = PublicKey::from_pem(&std::fs::read(&public).expect("pub")).expect("our pub");
    let theirs = PublicKey::from_pem(&std::fs::read(&py_public).expect("py pub")).expect("py pub");
    assert_eq!(ours, theirs);
    let wrong = run(py()
        .arg("decrypt")
        .arg(&private)
        .arg("wrong")
        .arg(sc.path("x.pub")));
    assert!(
        !wrong.status.success(),
        "python decrypted with a wrong passphrase"
    );
    // No passphrase means the empty one, still encrypted.
    let (private_empty, _) = keygen(&sc, "empty", None);
    run_ok(
        py().arg("decrypt")
            .arg(&private_empty)
            .arg("")
            .arg(sc.path("e.pub")),
    );
    assert!(
        std::fs::read_to_string(&private_empty)
            .expect("key")
            .starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    );

    // Python's, read by us (and the SIGSTORE label newer tools write too).
    let (py_private, py_pub) = (sc.path("py.key"), sc.path("py.pub"));
    run_ok(
        py().arg("genkey")
            .arg(&py_private)
            .arg(&py_pub)
            .arg("s3cret"),
    );
    let file = std::fs::read(&py_private).expect("py key");
    let key = PrivateKey::from_encrypted_pem(&file, &Passphrase::from("s3cret"))
        .expect("ours reads python's");
    let expected = PublicKey::from_pem(&std::fs::read(&py_pub).expect("py pub")).expect("pub");
    assert_eq!(key.public_key(), expected);
    let relabeled = String::from_utf8(file.clone())
        .expect("pem")
        .replace("COSIGN", "SIGSTORE");
    assert!(
        PrivateKey::from_encrypted_pem(relabeled.as_bytes(), &Passphrase::from("s3cret")).is_ok()
    );
    assert_eq!(
        PrivateKey::from_encrypted_pem(&file, &Passphrase::from("S3cret")).err(),
        Some(KeyError::Decrypt)
    );
}

#[test]
fn sigstore_verdicts_agree_with_python() {
    if !require_python() {
        return;
    }
    let sc = Scratch::new();
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
    let digest = Digest::sha256_of(manifest);
    let identity = "registry.example/ns/app:1";
    let (private, public) = keygen(&sc, "k", Some("pw"));
    let (_, other_public) = keygen(&sc, "other", None);
    let key = PrivateKey::from_encrypted_pem(
        &std::fs::read(&private).expect("key"),
        &Passphrase::from("pw"),
    )
    .expect("key");
    let trusted = [key.public_key()];
    let other = [PublicKey::from_pem(&std::fs::read(&other_public).expect("pub")).expect("pub")];

    // What we sign, Python accepts; and both refuse the same wrongs.
    let ours = sign(
        &key,
        &SigstorePayload::new(identity, &digest, 1_700_000_000),
    );
    assert!(verify_for_image(&trusted, &ours, manifest, identity).is_ok());
    assert!(py_verify(&sc, &public, &ours, identity, digest.as_str()));
    // wrong key
    assert_eq!(
        verify_for_image(&other, &ours, manifest, identity).err(),
        Some(VerifyError::BadSignature { keys: 1 })
    );
    assert!(!py_verify(
        &sc,
        &other_public,
        &ours,
        identity,
        digest.as_str()
    ));
    // wrong identity
    assert!(matches!(
        verify_for_image(&trusted, &ours, manifest, "registry.example/ns/app:2"),
        Err(VerifyError::IdentityMismatch { .. })
    ));
    assert!(!py_verify(
        &sc,
        &public,
        &ours,
        "registry.example/ns/app:2",
        digest.as_str()
    ));
    // tampered payload
    let mut tampered = ours.clone();
    tampered.payload = String::from_utf8(tampered.payload)
        .expect("utf8")
        .replace("app:1", "app:9")
        .into_bytes();
    assert_eq!(
        verify_for_image(&trusted, &tampered, manifest, "registry.example/ns/app:9").err(),
        Some(VerifyError::BadSignature { keys: 1 })
    );
    assert!(!py_verify(
        &sc,
        &public,
        &tampered,
        "registry.example/ns/app:9",
        digest.as_str()
    ));
    // other manifest
    assert!(matches!(
        verify_for_image(&trusted, &ours, b"{}", identity),
        Err(VerifyError::DigestMismatch { .. })
    ));
    assert!(!py_verify(
        &sc,
        &public,
        &ours,
        identity,
        Digest::sha256_of(b"{}").as_str()
    ));

    // What Python signs with a key we generated, we accept (random-nonce,
    // possibly high-S signatures included: several rounds).
    let payload = SigstorePayload::new(identity, &digest, 1_700_000_001).to_json();
    let payload_file = sc.write("payload.json", &payload);
    for _ in 0..4 {
        let b64 = run_ok(py().arg("sign").arg(&private).arg("pw").arg(&payload_file));
        let sig = SigstoreSignature::new(
            payload.clone(),
            String::from_utf8_lossy(&b64.stdout).trim().to_owned(),
        );
        let v = verify_for_image(&trusted, &sig, manifest, identity)
            .expect("python's signature accepted");
        assert_eq!(v.payload.timestamp, Some(1_700_000_001));
        assert_eq!(
            verify_for_image(&other, &sig, manifest, identity).err(),
            Some(VerifyError::BadSignature { keys: 1 })
        );
    }
    // And with a key Python generated and wrote in the cosign format.
    let (py_private, py_pub) = (sc.path("py.key"), sc.path("py.pub"));
    run_ok(py().arg("genkey").arg(&py_private).arg(&py_pub).arg(""));
    let b64 = run_ok(py().arg("sign").arg(&py_private).arg("").arg(&payload_file));
    let sig = SigstoreSignature::new(
        payload.clone(),
        String::from_utf8_lossy(&b64.stdout).trim().to_owned(),
    );
    let py_key = [PublicKey::from_pem(&std::fs::read(&py_pub).expect("pub")).expect("pub")];
    assert!(verify_for_image(&py_key, &sig, manifest, identity).is_ok());
    assert_eq!(
        verify_for_image(&trusted, &sig, manifest, identity).err(),
        Some(VerifyError::BadSignature { keys: 1 })
    );
}

/// The whole registry round: our attachments read by skopeo byte-exactly,
/// kept unchanged by its docker-to-docker copy, its copies read by us;
/// trust set policies load in skopeo and refuse unsigned images there.
#[test]
fn sigstore_attachments_round_trip_with_skopeo() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) || !require_python() {
        return;
    }
    let registry = Registry::start();
    let host = registry.host();
    let layout = OciLayout::build(&["v1", "v2"]);
    let signed = layout.push("v1", &format!("{host}/ns/app:v1"));
    let unsigned = layout.push("v2", &format!("{host}/ns/app:v2"));
    let sc = Scratch::new();
    let (policy, regd) = (sc.path("policy.json"), sc.path("registries.d"));
    let (key1, pub1) = keygen(&sc, "one", Some("pw1"));
    let (key2, pub2) = keygen(&sc, "two", None);

    // Before trust set: attachments are off, so signing is refused as
    // containers/image refuses it.
    std::fs::create_dir_all(&regd).expect("registries.d");
    let out = imp_sign(
        &regd,
        &["--sigstore-key", &s(&key2)],
        &[&format!("docker://{}", signed.reference)],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("writing sigstore attachments is disabled by configuration"),
        "{}",
        text(&out)
    );

    // trust set: keyPath policy, use-sigstore-attachments for the scope.
    run_ok(
        util::imprimatur()
            .args(["trust", "set", "--policy-path"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd)
            .args(["--type", "sigstoreSigned", "--pubkeys"])
            .arg(&pub1)
            .arg(format!("{host}/ns")),
    );
    let policy_text = std::fs::read_to_string(&policy).expect("policy");
    assert!(policy_text.contains("\"keyPath\""), "{policy_text}");
    let regd_text: String = std::fs::read_dir(&regd)
        .expect("regd")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("yaml"))
        .collect();
    assert!(
        regd_text.contains("use-sigstore-attachments: true"),
        "{regd_text}"
    );

    // Sign twice (two keys): the attachment gets two layers; a repeat adds nothing.
    let image = format!("docker://{}", signed.reference);
    let pass1 = sc.write("pw1.txt", "pw1\n");
    let out = imp_sign(
        &regd,
        &["--sigstore-key", &s(&key1), "--passphrase-file", &s(&pass1)],
        &[&image],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sigstore stored"), "{}", text(&out));
    let out = imp_sign(&regd, &["--sigstore-key", &s(&key2)], &[&image]);
    assert!(out.status.success(), "{}", text(&out));
    let ours = attachment(&signed.reference, &signed.digest);
    assert_eq!(ours.len(), 2);
    let (ours_manifest, ours_manifest_digest) =
        attachment_manifest(&signed.reference, &signed.digest).expect("attachment");
    assert_eq!(ours_manifest.layers.len(), 2);

    // The independent verifier accepts both, each under its own key.
    let identity = signed.reference.clone();
    assert!(py_verify(&sc, &pub1, &ours[0], &identity, &signed.digest));
    assert!(py_verify(&sc, &pub2, &ours[1], &identity, &signed.digest));
    assert!(!py_verify(&sc, &pub2, &ours[0], &identity, &signed.digest));

    // skopeo reads them: copy to dir: yields signature-N = our stored form, byte for byte.
    let out_dir = sc.path("copied");
    run_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--src-tls-verify=false",
                "--registries.d",
            ])
            .arg(&regd)
            .arg(&image)
            .arg(format!("dir:{}", s(&out_dir))),
    );
    for (i, sig) in ours.iter().enumerate() {
        let blob = std::fs::read(out_dir.join(format!("signature-{}", i + 1)))
            .expect("skopeo wrote signature-N");
        assert_eq!(
            String::from_utf8_lossy(&blob),
            String::from_utf8_lossy(&sig.to_blob()),
            "signature-{}",
            i + 1
        );
        assert_eq!(SigstoreSignature::from_blob(&blob).expect("parse"), *sig);
    }
    assert!(!out_dir.join("signature-3").exists());
    // ... and we judge the dir: copy skopeo wrote (its signature-N files).
    let dir_policy = sc.write(
        "dir-policy.json",
        serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"dir": {"": [{
                "type": "sigstoreSigned",
                "keyPath": s(&pub2),
                "signedIdentity": {"type": "exactReference", "dockerReference": identity},
            }]}},
        })
        .to_string(),
    );
    let (ok, t) = imp_allows(&dir_policy, &regd, &format!("dir:{}", s(&out_dir)));
    assert!(ok, "{t}");

    // Our policy check accepts (key one), skopeo loads the same policy and
    // refuses only because Debian's build disables sigstore verification.
    let (ok, t) = imp_allows(&policy, &regd, &image);
    assert!(ok, "{t}");
    assert!(t.contains("accepted (sigstore key"), "{t}");
    let (ok, t) = skopeo_allows(&policy, &regd, &image);
    assert!(
        !ok && t.contains("Debian-local change: sigstore disabled"),
        "{t}"
    );
    // Unsigned: both refuse with containers/image's words.
    let unsigned_image = format!("docker://{}", unsigned.reference);
    let (ok, t) = imp_allows(&policy, &regd, &unsigned_image);
    assert!(
        !ok && t.contains("A signature was required, but no signature exists"),
        "{t}"
    );
    let (ok, t) = skopeo_allows(&policy, &regd, &unsigned_image);
    assert!(
        !ok && t.contains("A signature was required, but no signature exists"),
        "{t}"
    );
    // A policy trusting only key two accepts too; one trusting neither refuses (crypto).
    let (_, pub3) = keygen(&sc, "three", None);
    let policy3 = sc.path("policy3.json");
    run_ok(
        util::imprimatur()
            .args(["trust", "set", "--policy-path"])
            .arg(&policy3)
            .arg("--registries-d")
            .arg(&regd)
            .args(["--type", "sigstoreSigned", "--pubkeys"])
            .arg(&pub3)
            .arg(format!("{host}/ns")),
    );
    let (ok, t) = imp_allows(&policy3, &regd, &image);
    assert!(
        !ok && t.contains("None of the signatures were accepted"),
        "{t}"
    );

    // skopeo docker-to-docker copy rewrites the attachment at the
    // destination: same layers, same manifest bytes as ours.
    let copy_ref = format!("{host}/ns/copy:v1");
    run_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--insecure-policy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--registries.d",
            ])
            .arg(&regd)
            .arg(&image)
            .arg(format!("docker://{copy_ref}")),
    );
    let theirs = attachment(&copy_ref, &signed.digest);
    assert_eq!(theirs, ours, "skopeo's copy changed the signatures");
    let (theirs_manifest, theirs_manifest_digest) =
        attachment_manifest(&copy_ref, &signed.digest).expect("copied attachment");
    assert_eq!(theirs_manifest, ours_manifest);
    assert_eq!(
        theirs_manifest_digest, ours_manifest_digest,
        "skopeo serializes the attachment as we do"
    );

    // Attachments skopeo wrote are read and judged by us: the copy is signed
    // for the original name, so the default identity rule refuses and an
    // exactReference rule accepts.
    let copy_image = format!("docker://{copy_ref}");
    let (ok, t) = imp_allows(&policy, &regd, &copy_image);
    assert!(
        !ok && t.contains(&format!(
            "Signature for identity {identity} is not accepted"
        )),
        "{t}"
    );
    let policy_copy = sc.path("policy-copy.json");
    run_ok(
        util::imprimatur()
            .args(["trust", "set", "--policy-path"])
            .arg(&policy_copy)
            .arg("--registries-d")
            .arg(&regd)
            .args(["--type", "sigstoreSigned", "--pubkeys"])
            .arg(&pub2)
            .arg("--identity")
            .arg(format!("exactReference={identity}"))
            .arg(format!("{host}/ns/copy")),
    );
    let (ok, t) = imp_allows(&policy_copy, &regd, &copy_image);
    assert!(ok, "{t}");

    // signatures list shows them as sigstore.
    let out = run_ok(
        util::imprimatur()
            .args([
                "signatures",
                "list",
                "--json",
                "--tls-verify=false",
                "--registries-d",
            ])
            .arg(&regd)
            .arg(&image),
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sigs = list["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 2, "{list}");
    assert!(
        sigs.iter()
            .all(|s| s["kind"] == "sigstore"
                && s["untrusted"]["dockerReference"] == identity.as_str()),
        "{list}"
    );
}

/// One `sign` run makes both kinds; each requirement judges its own kind.
#[test]
fn sigstore_and_atomic_signatures_on_one_image() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) {
        return;
    }
    let registry = Registry::start();
    let host = registry.host();
    let layout = OciLayout::build(&["v1"]);
    let pushed = layout.push("v1", &format!("{host}/both/app:v1"));
    let image = format!("docker://{}", pushed.reference);
    let sc = Scratch::new();
    let regd = sc.path("registries.d");
    let lookaside = sc.path("lookaside");
    std::fs::create_dir_all(&regd).expect("regd");
    std::fs::write(
        regd.join("both.yaml"),
        format!("docker:\n  {host}/both:\n    lookaside: file://{}\n    use-sigstore-attachments: true\n", s(&lookaside)),
    )
    .expect("registries.d");
    let gpg_secret = sc.path("gpg.key");
    let gpg_public = sc.path("gpg.pub");
    run_ok(
        util::imprimatur()
            .args([
                "keygen",
                "--userid",
                "Both <both@example.test>",
                "--secret-key-out",
            ])
            .arg(&gpg_secret)
            .arg("--public-key-out")
            .arg(&gpg_public),
    );
    let (cosign_key, cosign_pub) = keygen(&sc, "cosign", Some("pw"));
    let cosign_pass = sc.write("cosign.pass", "pw\n");
    let out = imp_sign(
        &regd,
        &[
            "--key",
            &s(&gpg_secret),
            "--sigstore-key",
            &s(&cosign_key),
            "--sigstore-passphrase-file",
            &s(&cosign_pass),
        ],
        &[&image],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(attachment(&pushed.reference, &pushed.digest).len(), 1);

    let policy = |name: &str, reqs: &str| {
        sc.write(
            name,
            format!(
                r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}/both":[{reqs}]}}}}}}"#
            ),
        )
    };
    let signed_by = format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}"#,
        s(&gpg_public)
    );
    let sigstore = format!(
        r#"{{"type":"sigstoreSigned","keyPath":"{}"}}"#,
        s(&cosign_pub)
    );
    let (_, other_pub) = keygen(&sc, "other", None);
    let sigstore_other = format!(
        r#"{{"type":"sigstoreSigned","keyPath":"{}"}}"#,
        s(&other_pub)
    );

    // Both required: we accept; skopeo passes signedBy and stops at its
    // disabled sigstore verification.
    let both = policy("both.json", &format!("{signed_by},{sigstore}"));
    let (ok, t) = imp_allows(&both, &regd, &image);
    assert!(ok, "{t}");
    let (ok, t) = skopeo_allows(&both, &regd, &image);
    assert!(
        !ok && t.contains("Debian-local change: sigstore disabled"),
        "{t}"
    );
    // signedBy alone ignores the sigstore signature, in both tools.
    let atomic_only = policy("atomic.json", &signed_by);
    assert!(imp_allows(&atomic_only, &regd, &image).0);
    let (ok, t) = skopeo_allows(&atomic_only, &regd, &image);
    assert!(ok, "{t}");
    // A sigstore requirement for another key fails on its own kind while
    // signedBy still passes.
    let wrong = policy("wrong.json", &format!("{signed_by},{sigstore_other}"));
    let (ok, t) = imp_allows(&wrong, &regd, &image);
    assert!(
        !ok && t.contains("cryptographic signature verification failed"),
        "{t}"
    );
    assert!(
        t.contains("requirement 1: signedBy") && t.contains("-> allows"),
        "{t}"
    );
}

/// `imprimatur request run` of a signing request; returns the exit code and
/// the status as JSON.
fn request_run(keys: &Path, regd: &Path, policy: &Path, file: &Path) -> (i32, serde_json::Value) {
    let out = run(util::imprimatur()
        .args(["request", "run", "--tls-verify=false", "--key-dir"])
        .arg(keys)
        .arg("--registries-d")
        .arg(regd)
        .arg("--policy")
        .arg(policy)
        .arg(file));
    let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml)
        .unwrap_or_else(|e| panic!("status YAML ({e}):\n{}", text(&out)));
    (out.status.code().unwrap_or(-1), doc["status"].clone())
}

#[test]
fn a_signing_request_makes_both_kinds_once_and_policies_accept_them() {
    if !require_tools(&["docker-registry", "umoci", "skopeo"]) || !require_python() {
        return;
    }
    let registry = Registry::start();
    let host = registry.host();
    let layout = OciLayout::build(&["v1", "v2"]);
    let pushed = layout.push("v1", &format!("{host}/svc/app:v1"));
    let plain = layout.push("v2", &format!("{host}/noattach/app:v2"));
    let sc = Scratch::new();
    let regd = sc.path("registries.d");
    let lookaside = sc.path("lookaside");
    std::fs::create_dir_all(&regd).expect("regd");
    std::fs::write(
        regd.join("svc.yaml"),
        format!(
            "docker:\n  {host}/svc:\n    lookaside: file://{}\n    use-sigstore-attachments: true\n  \
             {host}/noattach:\n    lookaside: file://{}\n",
            s(&lookaside),
            s(&lookaside)
        ),
    )
    .expect("registries.d");
    // One key name, both kinds: keys/release (OpenPGP), keys/release.sigstore.key.
    let keys = sc.path("keys");
    std::fs::create_dir_all(&keys).expect("keys");
    let gpg_public = sc.path("release.pub");
    run_ok(
        util::imprimatur()
            .args([
                "keygen",
                "--userid",
                "Release <release@example.test>",
                "--secret-key-out",
            ])
            .arg(keys.join("release"))
            .arg("--public-key-out")
            .arg(&gpg_public),
    );
    let (cosign_key, cosign_pub) = keygen(&sc, "cosign", Some("s3cret"));
    std::fs::rename(&cosign_key, keys.join("release.sigstore.key")).expect("move key");
    std::fs::write(keys.join("release.sigstore.passphrase"), "s3cret\n").expect("passphrase");

    let policy = sc.write(
        "policy.json",
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[
                {{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}},
                {{"type":"sigstoreSigned","keyPath":"{}"}}]}}}}}}"#,
            s(&gpg_public),
            s(&cosign_pub)
        ),
    );
    let request = |name: &str, image: &str, types: &str| {
        sc.write(
            &format!("{name}.yaml"),
            format!(
                "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\nmetadata: {{name: {name}}}\n\
                 spec:\n  image: docker://{image}\n  signingKeySecretName: release\n  signatureTypes: {types}\n"
            ),
        )
    };

    // Both kinds: Completed, the policy requiring both accepts the image.
    let both = request("both", &pushed.reference, "[atomic, sigstore]");
    let (code, status) = request_run(&keys, &regd, &policy, &both);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["phase"], "Completed", "{status}");
    assert_eq!(status["signature"]["created"], true, "{status}");
    assert_eq!(status["sigstoreSignature"]["created"], true, "{status}");
    let signed = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Signed"))
        .expect("Signed condition");
    assert!(
        signed["message"]
            .as_str()
            .is_some_and(|m| m.contains("sigstore:") && m.contains("with ")),
        "both kinds named: {signed}"
    );
    let sigs = attachment(&pushed.reference, &pushed.digest);
    assert_eq!(sigs.len(), 1);
    // An independent verifier accepts what the service made.
    assert!(py_verify(
        &sc,
        &cosign_pub,
        &sigs[0],
        &pushed.reference,
        &pushed.digest
    ));
    let (ok, t) = imp_allows(&policy, &regd, &format!("docker://{}", pushed.reference));
    assert!(ok, "{t}");
    // skopeo obeys the atomic half (its sigstore verification is disabled by
    // Debian): a signedBy-only policy accepts the image.
    let atomic_only = sc.write(
        "atomic.json",
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[
                {{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}}}}}"#,
            s(&gpg_public)
        ),
    );
    let (ok, t) = skopeo_allows(
        &atomic_only,
        &regd,
        &format!("docker://{}", pushed.reference),
    );
    assert!(ok, "{t}");

    // Again: nothing new, either kind.
    let (code, status) = request_run(&keys, &regd, &policy, &both);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["signature"]["created"], false, "{status}");
    assert_eq!(status["sigstoreSignature"]["created"], false, "{status}");
    assert_eq!(attachment(&pushed.reference, &pushed.digest).len(), 1);

    // Sigstore where registries.d does not enable attachments: Failed,
    // saying so, and no attachment written.
    let no_attach = request("noattach", &plain.reference, "[sigstore]");
    let (code, status) = request_run(&keys, &regd, &policy, &no_attach);
    assert_eq!(code, 1, "{status}");
    assert_eq!(status["phase"], "Failed", "{status}");
    assert!(
        status.to_string().contains("use-sigstore-attachments"),
        "{status}"
    );
    assert!(attachment(&plain.reference, &plain.digest).is_empty());

    // A missing sigstore key fails before anything is published, the
    // atomic signature included.
    std::fs::remove_file(keys.join("release.sigstore.key")).expect("remove key");
    let v2_attach = layout.push("v2", &format!("{host}/svc/app:v2"));
    let missing = request("missing", &v2_attach.reference, "[atomic, sigstore]");
    let (code, status) = request_run(&keys, &regd, &policy, &missing);
    assert_eq!(code, 1, "{status}");
    assert!(
        status.to_string().contains("release.sigstore.key"),
        "{status}"
    );
    assert!(
        status.get("signature").is_none_or(|s| s.is_null()),
        "{status}"
    );
    let v2_dir = lookaside.join(format!("svc/app@{}", v2_attach.digest.replace(':', "=")));
    assert!(
        !v2_dir.exists(),
        "an atomic signature was published: {}",
        v2_dir.display()
    );
}
