//! `imprimatur keygen / sign / verify` against the real peers: signatures made
//! by skopeo 1.9.3 (gpgme + GnuPG) verify with imprimatur, signatures made by
//! imprimatur verify with skopeo (`standalone-verify`, and `skopeo copy` under
//! a `signedBy` policy reading a `file://` lookaside written by
//! `sign --batch`), and both sides reject the same forgeries.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::peers::{
    GpgAlgo, GpgHome, OciLayout, Registry, Scratch, manifest_digest, require_tools, run, run_ok,
};
use crate::util;

/// A realistic OCI image manifest; `nonce` makes distinct digests.
fn manifest(nonce: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":1469}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":3370706}}],"annotations":{{"org.opencontainers.image.title":"imprimatur interop {nonce}"}}}}"#,
        "a".repeat(64),
        "b".repeat(64)
    )
}

const REF: &str = "registry.example.test/interop/app:v1";

/// Runs imprimatur and expects success.
fn imp_ok(args: &[&dyn AsRefOs]) -> Output {
    run_ok(util::imprimatur().args(args.iter().map(|a| a.os())))
}

/// Runs imprimatur and expects exit status 1 with a one-line reason on stderr;
/// returns that line.
fn imp_fails(args: &[&dyn AsRefOs]) -> String {
    let mut cmd = util::imprimatur();
    cmd.args(args.iter().map(|a| a.os()));
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{cmd:?} should fail with 1; stdout: {}; stderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr.trim_end().to_owned()
}

/// `&str`, `String`, `PathBuf` … as command arguments in one slice.
trait AsRefOs {
    fn os(&self) -> &std::ffi::OsStr;
}
impl<T: AsRef<std::ffi::OsStr>> AsRefOs for T {
    fn os(&self) -> &std::ffi::OsStr {
        self.as_ref()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A flipped bit in the middle of the signature (inside the signed data or
/// the MPIs, never a no-op).
fn tamper(sig: &[u8]) -> Vec<u8> {
    let mut t = sig.to_vec();
    let i = t.len() / 2;
    t[i] ^= 0x01;
    t
}

/// `skopeo standalone-verify MANIFEST REF FPR SIG` in `home`.
fn skopeo_verify(
    home: &GpgHome,
    manifest: &Path,
    reference: &str,
    fpr: &str,
    sig: &Path,
) -> Output {
    run(home
        .command("skopeo")
        .arg("standalone-verify")
        .arg(manifest)
        .arg(reference)
        .arg(fpr)
        .arg(sig))
}

fn assert_skopeo_accepts(home: &GpgHome, manifest: &Path, reference: &str, fpr: &str, sig: &Path) {
    let out = skopeo_verify(home, manifest, reference, fpr, sig);
    let digest = manifest_digest(manifest);
    assert!(
        out.status.success(),
        "skopeo rejected {}: {}",
        sig.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out).trim(),
        format!("Signature verified, digest {digest}")
    );
}

fn assert_skopeo_rejects(
    home: &GpgHome,
    manifest: &Path,
    reference: &str,
    fpr: &str,
    sig: &Path,
    why: &str,
) {
    let out = skopeo_verify(home, manifest, reference, fpr, sig);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "skopeo accepted {} ({why})",
        sig.display()
    );
    assert!(err.contains("Error verifying signature"), "{why}: {err}");
}

// ---------------------------------------------------------------------------
// skopeo signs, imprimatur verifies

fn skopeo_signs_imprimatur_verifies(algo: GpgAlgo) {
    if !require_tools(&["gpg", "skopeo"]) {
        return;
    }
    let home = GpgHome::new();
    let s = Scratch::new();
    let fpr = home.gen_key("Skopeo Signer <signer@example.test>", algo, None);
    let other = home.gen_key("Other Key <other@example.test>", GpgAlgo::Ed25519, None);
    let m = s.write("manifest.json", manifest("skopeo"));
    let digest = manifest_digest(&m);
    let sig = s.path("skopeo.sig");
    run_ok(
        home.command("skopeo")
            .args(["standalone-sign"])
            .arg(&m)
            .args([REF, &fpr, "-o"])
            .arg(&sig),
    );
    let public = s.write("signer.asc", home.export_public_armored(&fpr));
    let public_bin = s.write("signer.gpg", home.export_public(&fpr));
    let other_pub = s.write("other.gpg", home.export_public(&other));
    let want = format!("Signature verified using fingerprint {fpr}, digest {digest}\n");

    // Accepted: armored or binary key, with or without --fingerprint, by
    // manifest or by digest, with a keyring holding both keys.
    for (key, fp) in [(&public, Some(&fpr)), (&public_bin, None)] {
        let mut args: Vec<&dyn AsRefOs> =
            vec![&"verify", &"--public-key", key, &"--reference", &REF];
        if let Some(fp) = fp {
            args.extend([&"--fingerprint" as &dyn AsRefOs, fp]);
        }
        args.extend([&"--manifest" as &dyn AsRefOs, &m, &sig]);
        assert_eq!(stdout(&imp_ok(&args)), want);
    }
    let out = imp_ok(&[
        &"verify",
        &"--public-key",
        &other_pub,
        &"--public-key",
        &public,
        &"--reference",
        &REF,
        &"--digest",
        &digest,
        &sig,
    ]);
    assert_eq!(stdout(&out), want);

    // Rejected: wrong key, wrong fingerprint, wrong digest, wrong reference,
    // tampered bytes.
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &other_pub,
        &"--reference",
        &REF,
        &"--manifest",
        &m,
        &sig,
    ]);
    assert!(
        e.contains(&fpr[24..]) || e.to_lowercase().contains("key"),
        "wrong key: {e}"
    );
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &other_pub,
        &"--public-key",
        &public,
        &"--fingerprint",
        &other,
        &"--reference",
        &REF,
        &"--manifest",
        &m,
        &sig,
    ]);
    assert!(e.contains(&fpr), "wrong fingerprint: {e}");
    let m2 = s.write("other-manifest.json", manifest("another"));
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &REF,
        &"--manifest",
        &m2,
        &sig,
    ]);
    assert!(e.contains(&digest), "wrong digest: {e}");
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &"registry.example.test/interop/app:v2",
        &"--manifest",
        &m,
        &sig,
    ]);
    assert!(
        e.contains("registry.example.test/interop/app:v1"),
        "wrong reference: {e}"
    );
    let bad = s.write("tampered.sig", tamper(&std::fs::read(&sig).unwrap()));
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &REF,
        &"--manifest",
        &m,
        &bad,
    ]);
    // A flipped bit: gpg compresses the message, so the bit lands either in
    // the deflate stream (VerifyError::Malformed) or in the signed data
    // (VerifyError::BadSignature); never another kind of error. One line.
    let tampered = |e: &str| e.contains("bad signature") || e.contains("invalid OpenPGP message");
    assert!(tampered(&e) && !e.contains('\n'), "tampered: {e}");
    // The same checks when the digest is given instead of the manifest.
    let other_digest = manifest_digest(&m2);
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &REF,
        &"--digest",
        &other_digest,
        &sig,
    ]);
    assert!(e.contains(&digest), "wrong --digest: {e}");
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &"registry.example.test/interop/app:v2",
        &"--digest",
        &digest,
        &sig,
    ]);
    assert!(e.contains("app:v1"), "wrong reference with --digest: {e}");
    let e = imp_fails(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &REF,
        &"--digest",
        &digest,
        &bad,
    ]);
    assert!(tampered(&e), "tampered with --digest: {e}");
}

#[test]
fn skopeo_rsa3072_signature_verifies_with_imprimatur() {
    skopeo_signs_imprimatur_verifies(GpgAlgo::Rsa3072);
}

#[test]
fn skopeo_ed25519_signature_verifies_with_imprimatur() {
    skopeo_signs_imprimatur_verifies(GpgAlgo::Ed25519);
}

#[test]
fn reference_matching_follows_standalone_verify() {
    // §3.2: the normalized strings must be equal, no default tag is added.
    if !require_tools(&["gpg", "skopeo"]) {
        return;
    }
    let home = GpgHome::new();
    let s = Scratch::new();
    let fpr = home.gen_key(
        "Skopeo Signer <signer@example.test>",
        GpgAlgo::Ed25519,
        None,
    );
    let public = s.write("signer.gpg", home.export_public(&fpr));
    let m = s.write("manifest.json", manifest("refs"));
    for (signed, expected, ok) in [
        ("busybox:latest", "docker.io/library/busybox:latest", true),
        (
            "busybox:latest",
            "index.docker.io/library/busybox:latest",
            true,
        ),
        ("busybox", "docker.io/library/busybox", true),
        ("busybox", "docker.io/library/busybox:latest", false),
        ("busybox:latest", "busybox", false),
    ] {
        let sig = s.path(&format!("{}.sig", signed.replace([':', '/'], "_")));
        if !sig.exists() {
            run_ok(
                home.command("skopeo")
                    .arg("standalone-sign")
                    .arg(&m)
                    .args([signed, &fpr, "-o"])
                    .arg(&sig),
            );
        }
        // skopeo itself is the oracle for each case.
        let skopeo_ok = skopeo_verify(&home, &m, expected, &fpr, &sig)
            .status
            .success();
        assert_eq!(
            skopeo_ok, ok,
            "skopeo: signed {signed}, expected {expected}"
        );
        let mut cmd = util::imprimatur();
        cmd.args(["verify", "--public-key"])
            .arg(&public)
            .args(["--reference", expected, "--manifest"])
            .arg(&m)
            .arg(&sig);
        let out = run(&mut cmd);
        assert_eq!(
            out.status.success(),
            ok,
            "imprimatur: signed {signed}, expected {expected}: {out:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// imprimatur signs, skopeo verifies

/// Signs with `key` (and optional passphrase) and checks skopeo accepts it in
/// `verifier` (which holds the public key), then the negative cases.
fn imprimatur_sign_then_skopeo(
    verifier: &GpgHome,
    s: &Scratch,
    key: &Path,
    passphrase: Option<&str>,
    fpr: &str,
    other_fpr: &str,
    extra: &[&str],
) {
    let m = s.write("manifest.json", manifest(&format!("ours {fpr}")));
    let sig = s.path(&format!("{fpr}{}.sig", extra.join("")));
    let mut cmd = util::imprimatur();
    cmd.args(["sign", "--key"])
        .arg(key)
        .args(["--reference", REF, "--manifest"])
        .arg(&m);
    cmd.arg("--output").arg(&sig).args(extra);
    if let Some(p) = passphrase {
        cmd.arg("--passphrase-file")
            .arg(s.write("pass.txt", format!("{p}\nignored second line\n")));
    }
    run_ok(&mut cmd);
    assert_skopeo_accepts(verifier, &m, REF, fpr, &sig);
    // The same blob signed by digest is equivalent for skopeo.
    let by_digest = s.path("by-digest.sig");
    let digest = manifest_digest(&m);
    let mut cmd = util::imprimatur();
    cmd.args(["sign", "--key"])
        .arg(key)
        .args(["--reference", REF, "--digest", &digest]);
    cmd.arg("--output").arg(&by_digest);
    if let Some(p) = passphrase {
        cmd.arg("--passphrase-file").arg(s.write("pass.txt", p));
    }
    run_ok(&mut cmd);
    assert_skopeo_accepts(verifier, &m, REF, fpr, &by_digest);

    // skopeo rejects: another expected key, another manifest, another
    // reference, tampered bytes.
    assert_skopeo_rejects(verifier, &m, REF, other_fpr, &sig, "wrong key");
    let m2 = s.write("other.json", manifest("other"));
    assert_skopeo_rejects(verifier, &m2, REF, fpr, &sig, "wrong digest");
    assert_skopeo_rejects(
        verifier,
        &m,
        "registry.example.test/interop/app:v2",
        fpr,
        &sig,
        "wrong reference",
    );
    let bad = s.write("tampered.sig", tamper(&std::fs::read(&sig).unwrap()));
    assert_skopeo_rejects(verifier, &m, REF, fpr, &bad, "tampered");
}

/// A GnuPG home that only holds public keys, like a verifying host.
fn verifier_with(s: &Scratch, publics: &[(&str, Vec<u8>)]) -> GpgHome {
    let v = GpgHome::new();
    for (name, bytes) in publics {
        v.import(&s.write(name, bytes));
    }
    v
}

fn gpg_key_signs_for_skopeo(algo: GpgAlgo, passphrase: Option<&str>) {
    if !require_tools(&["gpg", "skopeo"]) {
        return;
    }
    let home = GpgHome::new();
    let s = Scratch::new();
    let fpr = home.gen_key("Gpg Made <gpg@example.test>", algo, passphrase);
    let other = home.gen_key("Other Key <other@example.test>", GpgAlgo::Ed25519, None);
    let key = s.write("secret.asc", home.export_secret_armored(&fpr, passphrase));
    let verifier = verifier_with(
        &s,
        &[
            ("a.gpg", home.export_public(&fpr)),
            ("b.gpg", home.export_public(&other)),
        ],
    );
    imprimatur_sign_then_skopeo(&verifier, &s, &key, passphrase, &fpr, &other, &[]);
}

#[test]
fn gpg_rsa3072_key_signs_for_skopeo() {
    gpg_key_signs_for_skopeo(GpgAlgo::Rsa3072, None);
}

#[test]
fn gpg_ed25519_key_with_passphrase_signs_for_skopeo() {
    gpg_key_signs_for_skopeo(GpgAlgo::Ed25519, Some("correct horse"));
}

#[test]
fn gpg_rsa3072_key_with_passphrase_signs_for_skopeo() {
    gpg_key_signs_for_skopeo(GpgAlgo::Rsa3072, Some("battery staple"));
}

/// `keygen` then fingerprint, secret and public file paths.
fn keygen(
    s: &Scratch,
    name: &str,
    cipher: &str,
    passphrase: Option<&str>,
) -> (String, PathBuf, PathBuf) {
    let secret = s.path(&format!("{name}.key"));
    let public = s.path(&format!("{name}.pub"));
    let mut cmd = util::imprimatur();
    cmd.args([
        "keygen",
        "--userid",
        &format!("{name} <{name}@example.test>"),
        "--cipher",
        cipher,
    ])
    .arg("--secret-key-out")
    .arg(&secret)
    .arg("--public-key-out")
    .arg(&public);
    if let Some(p) = passphrase {
        cmd.arg("--passphrase-file")
            .arg(s.write(&format!("{name}.pass"), p));
    }
    let fpr = stdout(&run_ok(&mut cmd)).trim().to_owned();
    assert_eq!(fpr.len(), 40, "fingerprint {fpr:?}");
    assert!(
        fpr.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{fpr}"
    );
    (fpr, secret, public)
}

fn imprimatur_key_signs_for_skopeo(cipher: &str, passphrase: Option<&str>, extra: &[&str]) {
    if !require_tools(&["gpg", "skopeo"]) {
        return;
    }
    let s = Scratch::new();
    let (fpr, secret, public) = keygen(&s, "signer", cipher, passphrase);
    let (other, _, other_pub) = keygen(&s, "other", "ed25519", None);
    let verifier = verifier_with(
        &s,
        &[
            ("a.asc", std::fs::read(&public).unwrap()),
            ("b.asc", std::fs::read(&other_pub).unwrap()),
        ],
    );
    // gpg sees the same fingerprint that keygen printed.
    assert_eq!(verifier.fingerprint_of("signer@example.test"), fpr);
    imprimatur_sign_then_skopeo(&verifier, &s, &secret, passphrase, &fpr, &other, extra);
}

#[test]
fn imprimatur_ed25519_key_signs_for_skopeo() {
    imprimatur_key_signs_for_skopeo("ed25519", Some("pass phrase"), &[]);
}

#[test]
fn imprimatur_rsa3072_key_signs_for_skopeo() {
    imprimatur_key_signs_for_skopeo("rsa3072", None, &[]);
}

#[test]
fn compressed_sha512_signatures_verify_with_skopeo() {
    imprimatur_key_signs_for_skopeo("ed25519", None, &["--compress", "--hash", "sha512"]);
}

// ---------------------------------------------------------------------------
// CLI behaviour

#[test]
fn keygen_writes_private_secret_key_and_refuses_to_overwrite() {
    let s = Scratch::new();
    let (fpr, secret, public) = keygen(&s, "k", "ed25519", None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "secret key mode {mode:o}");
    }
    let text = std::fs::read_to_string(&secret).unwrap();
    assert!(
        text.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"),
        "{text}"
    );
    let before = std::fs::read(&secret).unwrap();
    let e = imp_fails(&[
        &"keygen",
        &"--userid",
        &"x <x@x>",
        &"--secret-key-out",
        &secret,
        &"--public-key-out",
        &s.path("new.pub"),
    ]);
    assert!(e.contains("exists"), "{e}");
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        before,
        "secret key untouched"
    );
    // sign + verify round trip with our own verify.
    let m = s.write("m.json", manifest("k"));
    let sig = s.path("k.sig");
    imp_ok(&[
        &"sign",
        &"--key",
        &secret,
        &"--reference",
        &"quay.io/org/app:1",
        &"--manifest",
        &m,
        &"--output",
        &sig,
    ]);
    let out = imp_ok(&[
        &"verify",
        &"--public-key",
        &public,
        &"--reference",
        &"quay.io/org/app:1",
        &"--manifest",
        &m,
        &sig,
    ]);
    assert!(stdout(&out).starts_with(&format!(
        "Signature verified using fingerprint {fpr}, digest sha256:"
    )));
}

#[test]
fn wrong_or_missing_passphrase_is_one_clear_error() {
    let s = Scratch::new();
    let (_, secret, _) = keygen(&s, "p", "ed25519", Some("right"));
    let m = s.write("m.json", manifest("p"));
    let sig = s.path("p.sig");
    let wrong = s.write("wrong.pass", "wrong\n");
    let e = imp_fails(&[
        &"sign",
        &"--key",
        &secret,
        &"--passphrase-file",
        &wrong,
        &"--reference",
        &"a.example/b:1",
        &"--manifest",
        &m,
        &"--output",
        &sig,
    ]);
    assert!(e.to_lowercase().contains("passphrase"), "{e}");
    let e = imp_fails(&[
        &"sign",
        &"--key",
        &secret,
        &"--reference",
        &"a.example/b:1",
        &"--manifest",
        &m,
        &"--output",
        &sig,
    ]);
    assert!(e.to_lowercase().contains("passphrase"), "{e}");
    assert!(!sig.exists(), "no signature written");
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["keygen", "sign", "verify"] {
        let out = imp_ok(&[&cmd, &"--help"]);
        let text = stdout(&out);
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
        assert!(
            text.contains(&format!("imprimatur {cmd}")),
            "{cmd} --help: {text}"
        );
    }
}

#[test]
fn verify_accepts_the_containers_image_fixture() {
    // V01 of §8.4: a signature made by containers/image's own test key.
    let d = util::data_dir().join("containers-image");
    if !d.join("image.signature").exists() {
        eprintln!("skipping: fixtures not copied yet");
        return;
    }
    let out = imp_ok(&[
        &"verify",
        &"--public-key",
        &d.join("public-key.gpg"),
        &"--reference",
        &"testing/manifest",
        &"--manifest",
        &d.join("image.manifest.json"),
        &d.join("image.signature"),
    ]);
    let digest = manifest_digest(&d.join("image.manifest.json"));
    assert!(
        stdout(&out).ends_with(&format!(", digest {digest}\n")),
        "{}",
        stdout(&out)
    );
    // V03: the signed reference has no tag.
    imp_fails(&[
        &"verify",
        &"--public-key",
        &d.join("public-key.gpg"),
        &"--reference",
        &"docker.io/testing/manifest:latest",
        &"--manifest",
        &d.join("image.manifest.json"),
        &d.join("image.signature"),
    ]);
}

#[test]
fn subkey_signatures_count_for_the_primary_unless_exact_signer() {
    // V11 / V12 of §8.4: subkey.signature is made by subkey 57D1… of primary
    // B9F4…; skopeo 1.9.3 only accepts the subkey's fingerprint, newer
    // containers/image (and our default) the primary's too.
    let d = util::data_dir().join("containers-image");
    if !d.join("subkey.signature").exists() {
        eprintln!("skipping: fixtures not copied yet");
        return;
    }
    const PRIMARY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
    const SUBKEY: &str = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF";
    let verify = |fpr: &str, exact: bool| {
        let mut cmd = util::imprimatur();
        cmd.args(["verify", "--public-key"])
            .arg(d.join("public-key-with-subkey.gpg"))
            .args([
                "--fingerprint",
                fpr,
                "--reference",
                "testing/manifest:latest",
            ])
            .arg("--manifest")
            .arg(d.join("image.manifest.json"))
            .arg(d.join("subkey.signature"));
        if exact {
            cmd.arg("--exact-signer");
        }
        run(&mut cmd)
    };
    let out = verify(PRIMARY, false);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("fingerprint {PRIMARY},")),
        "{out:?}"
    );
    let out = verify(PRIMARY, true);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(SUBKEY),
        "{out:?}"
    );
    let out = verify(SUBKEY, true);
    assert!(
        stdout(&out).contains(&format!("fingerprint {SUBKEY},")),
        "{out:?}"
    );
}

#[test]
fn batch_list_errors_name_their_lines_and_sign_nothing() {
    let s = Scratch::new();
    let (_, secret, _) = keygen(&s, "b", "ed25519", None);
    let d = format!("sha256:{}", "c".repeat(64));
    let list = s.write(
        "list",
        format!("# comment\n\nquay.io/a/b:1 {d}\nNOT/Valid {d}\nquay.io/a/c:1 sha256:123\n"),
    );
    let out_dir = s.path("look");
    let e = imp_fails(&[
        &"sign",
        &"--key",
        &secret,
        &"--batch",
        &list,
        &"--output-dir",
        &out_dir,
    ]);
    assert!(
        e.contains(":4:") && e.contains(":5:") && !e.contains(":3:"),
        "{e}"
    );
    assert!(!out_dir.join("a").exists(), "nothing signed");
}

// ---------------------------------------------------------------------------
// sign --batch into a lookaside, read by skopeo copy under a signedBy policy

fn write_policy(s: &Scratch, host: &str, key: &Path, look: &Path) -> (PathBuf, PathBuf) {
    let policy = s.write(
        "policy.json",
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}}}}}"#,
            key.display()
        ),
    );
    s.write(
        "registries.d/local.yaml",
        format!(
            "docker:\n  {host}:\n    lookaside: file://{}\n",
            look.display()
        ),
    );
    (policy, s.path("registries.d"))
}

fn skopeo_pull(policy: &Path, regd: &Path, image: &str, dest: &Path) -> Output {
    run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--policy"])
        .arg(policy)
        .arg("--registries.d")
        .arg(regd)
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", dest.display())))
}

#[test]
fn batch_lookaside_is_accepted_by_skopeo_copy() {
    if !require_tools(&["gpg", "skopeo", "docker-registry", "umoci"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1", "v2", "v3", "v4"]);
    let app1 = layout.push("v1", &format!("{host}/interop/app:v1"));
    let app2 = layout.push("v2", &format!("{host}/interop/app:v2"));
    let deep = layout.push("v3", &format!("{host}/interop/ns/deep:v3"));
    let other = layout.push("v4", &format!("{host}/interop/other:v4"));

    let s = Scratch::new();
    let (_, secret, public) = keygen(&s, "mirror", "ed25519", None);
    let (_, other_secret, _) = keygen(&s, "intruder", "ed25519", None);
    let look = s.path("lookaside");
    let (policy, regd) = write_policy(&s, &host, &public, &look);

    // app:v1 and ns/deep:v3 signed by the mirror key; other:v4 by another key.
    let list = s.write(
        "list",
        format!(
            "# mirror batch\n{} {}\n\n   {} {}  \n",
            app1.reference, app1.digest, deep.reference, deep.digest
        ),
    );
    let out = imp_ok(&[
        &"sign",
        &"--key",
        &secret,
        &"--batch",
        &list,
        &"--output-dir",
        &look,
    ]);
    assert!(
        stdout(&out).starts_with("signed 2 of 2"),
        "{}",
        stdout(&out)
    );
    for img in [&app1, &deep] {
        let repo = img
            .reference
            .split_once('/')
            .unwrap()
            .1
            .rsplit_once(':')
            .unwrap()
            .0;
        let f = look.join(format!(
            "{repo}@{}/signature-1",
            img.digest.replace(':', "=")
        ));
        assert!(f.is_file(), "{} missing", f.display());
    }
    let list2 = s.write("list2", format!("{} {}\n", other.reference, other.digest));
    imp_ok(&[
        &"sign",
        &"--key",
        &other_secret,
        &"--batch",
        &list2,
        &"--output-dir",
        &look,
    ]);

    // Accepted: signed images, by tag and by digest.
    for image in [
        app1.reference.clone(),
        deep.reference.clone(),
        format!("{host}/interop/app@{}", app1.digest),
    ] {
        let out = skopeo_pull(
            &policy,
            &regd,
            &image,
            &s.path(&format!("pull-{}", image.len())),
        );
        assert!(
            out.status.success(),
            "skopeo copy {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Rejected: unsigned, signed by a key the policy does not trust.
    let out = skopeo_pull(&policy, &regd, &app2.reference, &s.path("pull-unsigned"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("A signature was required, but no signature exists")
    );
    let out = skopeo_pull(&policy, &regd, &other.reference, &s.path("pull-other"));
    assert!(
        !out.status.success(),
        "signature by an untrusted key accepted"
    );

    // Rejected: a valid signature of app:v2's digest for another identity,
    // placed where skopeo looks for app:v2's signatures.
    let wrong = look.join(format!(
        "interop/app@{}/signature-1",
        app2.digest.replace(':', "=")
    ));
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    imp_ok(&[
        &"sign",
        &"--key",
        &secret,
        &"--reference",
        &format!("{host}/interop/elsewhere:v2"),
        &"--digest",
        &app2.digest,
        &"--output",
        &wrong,
    ]);
    let out = skopeo_pull(&policy, &regd, &app2.reference, &s.path("pull-wrongid"));
    assert!(
        !out.status.success(),
        "signature for another identity accepted"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not accepted"),
        "{out:?}"
    );

    // A tampered signature-1 (the only one) makes skopeo reject.
    let f1 = look.join(format!(
        "interop/app@{}/signature-1",
        app1.digest.replace(':', "=")
    ));
    let good = std::fs::read(&f1).unwrap();
    std::fs::write(&f1, tamper(&good)).unwrap();
    let out = skopeo_pull(&policy, &regd, &app1.reference, &s.path("pull-tampered"));
    assert!(!out.status.success(), "tampered signature accepted");
    std::fs::write(&f1, &good).unwrap();

    // Re-signing appends signature-2; skopeo still accepts. The payload's
    // timestamp has one-second resolution and Ed25519 is deterministic, so a
    // re-sign within the same second is byte-identical and (rightly) stored
    // once: wait for the next second so this re-sign is a new signature.
    wait_for_next_unix_second();
    imp_ok(&[
        &"sign",
        &"--key",
        &secret,
        &"--batch",
        &list,
        &"--output-dir",
        &look,
    ]);
    assert!(f1.with_file_name("signature-2").is_file());
    let out = skopeo_pull(&policy, &regd, &app1.reference, &s.path("pull-two"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sleeps until the Unix time in whole seconds has moved on (the signature
/// payload's timestamp resolution).
fn wait_for_next_unix_second() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let start = now();
    while now() == start {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn concurrent_batches_never_overwrite_each_other() {
    let s = Scratch::new();
    let (_, secret, public) = keygen(&s, "c", "ed25519", None);
    let n = 40;
    let mut list = String::from("# many\n");
    let manifests: Vec<PathBuf> = (0..n)
        .map(|i| {
            let m = s.write(&format!("m{i}.json"), manifest(&format!("c{i}")));
            let d = format!("sha256:{}", sha256_hex(&std::fs::read(&m).unwrap()));
            list.push_str(&format!("quay.io/org/img{}:v{i} {d}\n", i % 3));
            m
        })
        .collect();
    let list = s.write("list", list);
    let look = s.path("look");
    let runs = 3;
    let children: Vec<_> = (0..runs)
        .map(|_| {
            util::imprimatur()
                .args(["sign", "--quiet", "--jobs", "4", "--key"])
                .arg(&secret)
                .arg("--batch")
                .arg(&list)
                .arg("--output-dir")
                .arg(&look)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    for (i, m) in manifests.iter().enumerate() {
        let d = sha256_hex(&std::fs::read(m).unwrap());
        let dir = look.join(format!("org/img{}@sha256={d}", i % 3));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        // Runs that signed within the same second with a deterministic
        // (Ed25519) key produce byte-identical signatures, stored once: 1
        // to `runs` files, contiguous, all distinct, none lost or torn.
        let k = names.len();
        assert!((1..=runs).contains(&k), "{}: {names:?}", dir.display());
        let want: Vec<String> = (1..=k).map(|k| format!("signature-{k}")).collect();
        assert_eq!(names, want, "{}", dir.display());
        let mut blobs: Vec<Vec<u8>> = names
            .iter()
            .map(|n| std::fs::read(dir.join(n)).unwrap())
            .collect();
        blobs.sort();
        blobs.dedup();
        assert_eq!(blobs.len(), k, "{}: duplicate signatures", dir.display());
        for name in &names {
            let out = imp_ok(&[
                &"verify",
                &"--public-key",
                &public,
                &"--reference",
                &format!("quay.io/org/img{}:v{i}", i % 3),
                &"--manifest",
                m,
                &dir.join(name),
            ]);
            assert!(stdout(&out).starts_with("Signature verified"));
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    imprimatur::reference::Digest::sha256_of(bytes)
        .hex()
        .to_owned()
}
