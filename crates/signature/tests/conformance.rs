//! Conformance tables of the spec (containers-signing.md §8.2–§8.4) over the
//! containers/image fixtures and gpg-made variants in
//! `tests/data/containers-image/` (expected outcomes observed with skopeo
//! 1.9.3 / GnuPG 2.2, as recorded in the spec).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use imprimatur_reference::{Algorithm, Digest};
use imprimatur_signature::*;

const K: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";
const KP: &str = "F2B501009F78B0B340221A12A3CD242DA6028093";
const SUB_PRIMARY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
const SUB: &str = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF";
const REVSUB_PRIMARY: &str = "6D88C5A1993648A17B2BB0DC6B8499AF63388D63";
const REVSUB: &str = "4D33404E00B470050709F3233EF0F93A1F602997";
const D: &str = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

fn data(name: &str) -> Vec<u8> {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../tests/data/containers-image",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fp(s: &str) -> Fingerprint {
    s.parse().expect("fingerprint")
}

fn keys(files: &[&str]) -> TrustedKeys {
    let mut k = TrustedKeys::new();
    for f in files {
        k.add_bytes(&data(f)).expect("load keys");
    }
    k
}

fn pubring() -> TrustedKeys {
    keys(&["pubring.gpg"])
}

fn verify(keys: &TrustedKeys, sig: &str) -> Result<VerifiedSignature, VerifyError> {
    Verifier::new(keys).verify(&data(sig))
}

// ---------------------------------------------------------------- §8.3

#[test]
fn e01_image_signature() {
    let v = verify(&keys(&["public-key.gpg"]), "image.signature").expect("valid");
    assert_eq!(v.signer, fp(K));
    assert_eq!(v.primary, fp(K));
    let p = Payload::parse(&v.payload).expect("payload");
    assert_eq!(p.docker_reference, "testing/manifest");
    assert_eq!(p.docker_manifest_digest, D);
    assert_eq!(p.creator.as_deref(), Some("atomic "));
    assert_eq!(p.timestamp, Some(1_458_239_713));
}

#[test]
fn e02_invalid_blob_crypto_ok() {
    for f in ["invalid-blob.signature", "invalid-blob.signature-v3"] {
        let v = verify(&pubring(), f).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(v.payload, b"This is not JSON\n", "{f}");
        assert_eq!(v.signer, fp(K), "{f}");
    }
}

#[test]
fn e03_expired_signature() {
    assert!(matches!(
        verify(&pubring(), "expired.signature"),
        Err(VerifyError::SignatureExpired(_))
    ));
}

#[test]
fn e04_corrupt() {
    for f in ["corrupt.signature", "corrupt.signature-v3"] {
        let r = verify(&pubring(), f);
        assert!(matches!(r, Err(VerifyError::BadSignature(_))), "{f}: {r:?}");
        // sequoia's reason is the source, below the fixed message.
        let Err(e) = r else { continue };
        let chain = ErrorChain(&e).to_string();
        assert!(
            chain.starts_with("bad signature: ") && chain.len() > "bad signature: ".len(),
            "{f}: {chain}"
        );
        assert!(std::error::Error::source(&e).is_some(), "{f}: {e:?}");
    }
}

#[test]
fn e05_unknown_key() {
    for f in ["unknown-key.signature", "unknown-key.signature-v3"] {
        let r = verify(&pubring(), f);
        assert!(
            matches!(&r, Err(VerifyError::UnknownKey(id)) if id.ends_with("5F9470E3BC6C3B55")),
            "{f}: {r:?}"
        );
    }
}

#[test]
fn e06_e07_unsigned() {
    assert_eq!(
        verify(&pubring(), "unsigned-literal.signature"),
        Err(VerifyError::NotSigned)
    );
    assert_eq!(
        verify(&pubring(), "unsigned-encrypted.signature"),
        Err(VerifyError::Encrypted)
    );
    assert_eq!(
        verify(&pubring(), "variants/signed-encrypted.signature"),
        Err(VerifyError::Encrypted)
    );
}

#[test]
fn e08_empty_and_garbage() {
    let k = pubring();
    let v = Verifier::new(&k);
    assert_eq!(v.verify(b""), Err(VerifyError::Empty));
    assert!(matches!(
        v.verify(b"invalid signature"),
        Err(VerifyError::Malformed(_))
    ));
    let r = v.verify(&[0xa3, 0x01, 0xff, 0x00]);
    assert!(matches!(r, Err(VerifyError::Malformed(_))), "{r:?}");
}

#[test]
fn e09_subkey() {
    let k = keys(&["public-key-with-subkey.gpg"]);
    for f in ["subkey.signature", "subkey.signature-v3"] {
        let v = verify(&k, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(v.signer, fp(SUB), "{f}");
        assert_eq!(v.primary, fp(SUB_PRIMARY), "{f}");
        assert_eq!(v.identity(SubkeyAttribution::Primary), &fp(SUB_PRIMARY));
        assert_eq!(v.identity(SubkeyAttribution::Strict), &fp(SUB));
        // Strict (1.9.3 signedBy) rejects it for the primary; default accepts.
        let strict = Verifier::new(&k).subkey_attribution(SubkeyAttribution::Strict);
        assert!(matches!(
            strict.verify_accepted(&data(f), &[fp(SUB_PRIMARY)]),
            Err(VerifyError::KeyNotAccepted { .. })
        ));
        assert!(
            Verifier::new(&k)
                .verify_accepted(&data(f), &[fp(SUB_PRIMARY)])
                .is_ok()
        );
    }
}

#[test]
fn e10_revoked_subkey() {
    let k = keys(&["public-key-with-revoked-subkey.gpg"]);
    for f in ["subkey-revoked.signature", "subkey-revoked.signature-v3"] {
        let r = verify(&k, f);
        assert_eq!(r, Err(VerifyError::KeyRevoked(fp(REVSUB))), "{f}");
    }
}

#[test]
fn e11_two_signatures() {
    assert_eq!(
        verify(&pubring(), "variants/two-signatures.signature"),
        Err(VerifyError::SignatureCount(2))
    );
}

#[test]
fn e12_detached() {
    assert_eq!(
        verify(&pubring(), "variants/detached.signature"),
        Err(VerifyError::Detached)
    );
}

#[test]
fn e13_accepted_variants() {
    let payload = data("variants/payload.json");
    for f in [
        "variants/uncompressed.signature",
        "variants/zlib.signature",
        "variants/bzip2.signature",
        "variants/textmode.signature",
        "variants/sha512.signature",
        "variants/armored.signature",
        "subkey.signature-v3",
    ] {
        let k = if f.starts_with("subkey") {
            keys(&["public-key-with-subkey.gpg"])
        } else {
            pubring()
        };
        let v = verify(&k, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        if !f.starts_with("subkey") {
            assert_eq!(v.payload, payload, "{f}");
            assert_eq!(v.signer, fp(K));
        }
    }
}

#[test]
fn e14_armor_and_cleartext() {
    // Through storage: rejected by the first-byte check.
    for f in ["variants/armored.signature", "variants/cleartext.signature"] {
        assert_eq!(
            classify_stored_blob(&data(f)),
            Err(VerifyError::UnrecognizedFormat(0x2d))
        );
        let strict = pubring();
        assert_eq!(
            Verifier::new(&strict).allow_armor(false).verify(&data(f)),
            Err(VerifyError::UnrecognizedFormat(0x2d))
        );
    }
    // Raw verification (standalone-verify through gpgme) accepts armor.
    assert!(verify(&pubring(), "variants/armored.signature").is_ok());
    // ... and the cleartext signature framework (gpgme does; untrusted dump
    // and storage do not).
    let v = verify(&pubring(), "variants/cleartext.signature").expect("cleartext");
    assert_eq!(v.payload, data("variants/payload.json"));
    assert_eq!(v.signer, fp(K));
    let r = untrusted_dump(&data("variants/cleartext.signature"));
    assert!(
        matches!(r, Err(Error::Verify(VerifyError::UnrecognizedFormat(b'-')))),
        "{r:?}"
    );
    // Classification of the binary fixtures.
    for f in ["image.signature", "variants/uncompressed.signature"] {
        assert_eq!(
            classify_stored_blob(&data(f)),
            Ok(StoredFormat::SimpleSigning)
        );
    }
}

#[test]
fn e15_key_expired() {
    let k = keys(&["variants/key-expired.gpg"]);
    let expired = String::from_utf8(data("variants/key-expired.fingerprint")).expect("utf8");
    let r = verify(&k, "variants/key-expired.signature");
    assert_eq!(r, Err(VerifyError::KeyExpired(fp(expired.trim()))));
    // At a time when the key was valid, it verifies.
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_844_000); // 2020-01-01T02:00Z
    assert!(
        Verifier::new(&k)
            .reference_time(then)
            .verify(&data("variants/key-expired.signature"))
            .is_ok()
    );
}

#[test]
fn e16_key_revoked() {
    let k = keys(&["variants/key-revoked.gpg"]);
    let rev = String::from_utf8(data("variants/key-revoked.fingerprint")).expect("utf8");
    assert_eq!(
        verify(&k, "variants/key-revoked.signature"),
        Err(VerifyError::KeyRevoked(fp(rev.trim())))
    );
}

#[test]
fn sha1_rejected_deliberately() {
    let r = verify(&pubring(), "variants/sha1.signature");
    assert!(matches!(r, Err(VerifyError::WeakHash(_))), "{r:?}");
    let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("SHA1") || msg.contains("SHA-1"), "{msg}");
}

#[test]
fn e17_to_e21_keyrings() {
    assert_eq!(keys(&["public-key.gpg"]).primary_fingerprints(), [fp(K)]);
    assert_eq!(
        keys(&["public-key-with-subkey.gpg"]).primary_fingerprints(),
        [fp(SUB_PRIMARY)]
    );
    assert_eq!(
        keys(&["public-key-with-revoked-subkey.gpg"]).primary_fingerprints(),
        [fp(REVSUB_PRIMARY)]
    );
    let ring = [fp(KP), fp(K), fp(SUB_PRIMARY), fp(REVSUB_PRIMARY)];
    let mut twice = data("pubring.gpg");
    twice.extend_from_slice(&data("pubring.gpg"));
    let k = TrustedKeys::from_bytes(&twice).expect("load");
    assert_eq!(k.primary_fingerprints(), [ring.clone(), ring].concat());
    assert_eq!(
        keys(&["public-key-1.gpg", "public-key-2.gpg"]).primary_fingerprints(),
        [fp(K), fp(KP)]
    );
    // Several armored blocks in one input.
    let mut armored = data("public-key-1.gpg");
    armored.extend_from_slice(&data("public-key-2.gpg"));
    assert_eq!(
        TrustedKeys::from_bytes(&armored)
            .expect("load")
            .primary_fingerprints(),
        [fp(K), fp(KP)]
    );
    for garbage in [&b""[..], b"This is invalid"] {
        let k = TrustedKeys::from_bytes(garbage).expect("no error");
        assert!(k.primary_fingerprints().is_empty());
    }
}

#[test]
fn e22_to_e26_untrusted_dump() {
    let i = untrusted_dump(&data("image.signature")).expect("dump");
    assert_eq!(i.docker_manifest_digest, D);
    assert_eq!(i.docker_reference, "testing/manifest");
    assert_eq!(i.creator.as_deref(), Some("atomic "));
    assert_eq!(
        i.timestamp_rfc3339().as_deref(),
        Some("2016-03-17T18:35:13Z")
    );
    assert_eq!(i.short_key_id, "E932F44B23E8DD43");

    let i = untrusted_dump(&data("no-optional-fields.signature")).expect("dump");
    assert_eq!(i.creator, None);
    assert_eq!(i.timestamp, None);

    let i = untrusted_dump(&data("unknown-key.signature")).expect("dump");
    assert_eq!(i.short_key_id, "5F9470E3BC6C3B55");
    assert_eq!(i.creator.as_deref(), Some("atomic 0.1.13-dev"));

    // No verification: a corrupt signature still dumps.
    assert!(untrusted_dump(&data("corrupt.signature")).is_ok());
    // expired.signature's content is not JSON ("This signature is expired.\n"),
    // so its dump fails at the payload, not at the envelope.
    assert!(matches!(
        untrusted_dump(&data("expired.signature")),
        Err(Error::Payload(_))
    ));
    let r = untrusted_dump(&data("variants/armored.signature"));
    assert!(
        matches!(r, Err(Error::Verify(VerifyError::UnrecognizedFormat(b'-')))),
        "{r:?}"
    );
    let r = untrusted_dump(&data("variants/two-signatures.signature"));
    assert!(
        matches!(r, Err(Error::Verify(VerifyError::SignatureCount(2)))),
        "{r:?}"
    );
}

// ---------------------------------------------------------------- §8.4

fn standalone(
    manifest: &str,
    reference: &str,
    fpr: &str,
    sig: &str,
) -> Result<Digest, VerifyError> {
    let k = pubring();
    let v = Verifier::new(&k).subkey_attribution(SubkeyAttribution::Strict);
    let accepted: Vec<Fingerprint> = Fingerprint::parse(fpr).into_iter().collect();
    verify_standalone(&v, &data(manifest), reference, &accepted, &data(sig)).map(|r| r.digest)
}

#[test]
fn v01_to_v13_fixtures() {
    let m = "image.manifest.json";
    let d = Digest::parse(D).expect("digest");
    assert_eq!(
        standalone(m, "testing/manifest", K, "image.signature"),
        Ok(d.clone())
    );
    assert_eq!(
        standalone(m, "docker.io/testing/manifest", K, "image.signature"),
        Ok(d.clone())
    );
    let r = standalone(m, "docker.io/testing/manifest:latest", K, "image.signature");
    assert!(
        matches!(r, Err(VerifyError::ReferenceMismatch { .. })),
        "{r:?}"
    );
    // Lowercase or short fingerprints are not identities: nothing accepted.
    for fpr in [K.to_lowercase(), "E932F44B23E8DD43".to_owned()] {
        let r = standalone(m, "testing/manifest", &fpr, "image.signature");
        assert!(
            matches!(r, Err(VerifyError::KeyNotAccepted { .. })),
            "{r:?}"
        );
    }
    for r in [
        "testing/manifest:latest",
        "docker.io/testing/manifest:latest",
        "index.docker.io/testing/manifest:latest",
    ] {
        assert_eq!(
            standalone(m, r, K, "dir-img-valid/signature-1"),
            Ok(d.clone()),
            "V06 {r}"
        );
    }
    let r = standalone(m, "testing/manifest", K, "dir-img-valid/signature-1");
    assert!(
        matches!(r, Err(VerifyError::ReferenceMismatch { .. })),
        "{r:?}"
    );
    let v08 = standalone(
        "dir-img-modified-manifest/manifest.json",
        "testing/manifest:latest",
        K,
        "dir-img-modified-manifest/signature-1",
    );
    assert!(
        matches!(&v08, Err(e @ VerifyError::DigestMismatch { .. })
            if e.to_string().contains("Signature for docker digest")),
        "{v08:?}"
    );
    let v09 = standalone(
        "v2s1-invalid-signatures.manifest.json",
        "testing/manifest",
        K,
        "image.signature",
    );
    assert!(
        matches!(
            &v09,
            Err(VerifyError::ManifestDigest(
                ManifestError::Schema1Signatures { .. }
            ))
        ),
        "{v09:?}"
    );
    let shown = ErrorChain(v09.as_ref().expect_err("v09")).to_string();
    assert!(
        shown.starts_with("error computing manifest digest: error unmarshalling signatures"),
        "{shown}"
    );
    let v10 = standalone(m, "testing/manifest", K, "invalid-reference.signature");
    assert!(
        matches!(&v10, Err(e @ VerifyError::InvalidSignedReference(_))
            if e.to_string().contains("Invalid docker reference UPPERCASEISINVALID")),
        "{v10:?}"
    );
    // V11: anchor (strict) rejects the primary for a subkey signature...
    let r = standalone(
        m,
        "testing/manifest:latest",
        SUB_PRIMARY,
        "subkey.signature",
    );
    assert!(
        matches!(r, Err(VerifyError::KeyNotAccepted { .. })),
        "{r:?}"
    );
    // ...newer behaviour (our default) accepts it.
    let k = pubring();
    assert!(
        verify_standalone(
            &Verifier::new(&k),
            &data(m),
            "testing/manifest:latest",
            &[fp(SUB_PRIMARY)],
            &data("subkey.signature"),
        )
        .is_ok()
    );
    // V12.
    assert_eq!(
        standalone(m, "testing/manifest:latest", SUB, "subkey.signature"),
        Ok(d.clone())
    );
    // V13.
    assert_eq!(
        standalone(m, "testing/manifest", K, "no-optional-fields.signature"),
        Ok(d)
    );
}

/// A fresh Ed25519 key, its keyring and a signer (outcomes still come from
/// the spec tables, not from this code).
fn test_key() -> (TrustedKeys, Signer, Fingerprint) {
    let g = generate_key(KeyGenOptions::new("Test <test@example.invalid>")).expect("keygen");
    let keys = TrustedKeys::from_bytes(&g.public_armored().expect("public")).expect("keys");
    let signer = Signer::builder(g.secret_key()).build().expect("signer");
    (keys, signer, g.fingerprint())
}

#[test]
fn v14_to_v16_busybox() {
    let (keys, signer, f) = test_key();
    let manifest = data("image.manifest.json");
    let check = |signed: String| {
        let blob = signer.sign_bytes(signed.as_bytes()).expect("sign");
        verify_standalone(
            &Verifier::new(&keys),
            &manifest,
            "docker.io/library/busybox:latest",
            std::slice::from_ref(&f),
            &blob,
        )
    };
    let d = Digest::parse(D).expect("digest");
    let p = |r: &str| String::from_utf8(Payload::new(r, &d, 1).to_canonical_json()).expect("utf8");
    assert!(check(p("busybox:latest")).is_ok());
    assert!(check(p("index.docker.io/library/busybox:latest")).is_ok());
    assert!(matches!(
        check(p("busybox")),
        Err(VerifyError::ReferenceMismatch { .. })
    ));
    assert!(matches!(
        check(p(&format!("busybox@{D}"))),
        Err(VerifyError::ReferenceMismatch { .. })
    ));
}

// ---------------------------------------------------------------- §8.2

const R: &str = "docker.io/library/busybox:latest";

fn crit(typ: &str, image: &str, identity: &str) -> String {
    format!(r#"{{"identity":{identity},"image":{image},"type":{typ}}}"#)
}
fn image(d: &str) -> String {
    format!(r#"{{"docker-manifest-digest":{d}}}"#)
}
fn ident(r: &str) -> String {
    format!(r#"{{"docker-reference":{r}}}"#)
}
fn q(s: &str) -> String {
    format!("\"{s}\"")
}
fn doc(critical: &str, optional: &str) -> String {
    format!(r#"{{"critical":{critical},"optional":{optional}}}"#)
}
fn good_crit() -> String {
    crit(&q(SIGNATURE_TYPE), &image(&q(D)), &ident(&q(R)))
}
fn good_opt() -> String {
    r#"{"creator":"atomic 5.23.1","timestamp":1795344597}"#.to_owned()
}

#[test]
fn p01_to_p41_payload_table() {
    let (keys, signer, f) = test_key();
    let manifest = data("image.manifest.json");
    let check = |payload: &[u8]| {
        let blob = signer.sign_bytes(payload).expect("sign");
        verify_standalone(
            &Verifier::new(&keys),
            &manifest,
            R,
            std::slice::from_ref(&f),
            &blob,
        )
    };
    let gc = good_crit();
    let go = good_opt();
    let sha512 = Digest::of(Algorithm::Sha512, &manifest).to_string();
    let sha384 = Digest::of(Algorithm::Sha384, &manifest).to_string();
    let upper = format!("sha256:{}", D["sha256:".len()..].to_uppercase());
    let canonical = doc(&gc, &go);
    let cases: Vec<(&str, String, bool)> = vec![
        ("P01", canonical.clone(), true),
        (
            "P02",
            format!(
                r#"{{"optional":{{"creator":"x"}},"critical":{{"type":"{SIGNATURE_TYPE}","image":{},"identity":{}}}}}"#,
                image(&q(D)),
                ident(&q(R))
            ),
            true,
        ),
        (
            "P03",
            format!(
                " \n{{ \"critical\" :\t{} ,\r\n \"optional\" : {} }}\n",
                gc.replace(',', " , "),
                go
            ),
            true,
        ),
        ("P04", format!("{canonical}{{}}"), false),
        ("P05", format!("\u{feff}{canonical}"), false),
        ("P06", format!("[{canonical}]"), false),
        (
            "P07",
            format!(r#"{{"critical":{gc},"critical":{gc},"optional":{go}}}"#),
            false,
        ),
        (
            "P08",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &image(&q(D)),
                    &format!(r#"{{"docker-reference":"{R}","docker-reference":"{R}"}}"#),
                ),
                &go,
            ),
            false,
        ),
        ("P09", doc(&gc, r#"{"creator":"a","creator":"a"}"#), false),
        ("P10", doc(&gc, r#"{"x":1,"x":2}"#), false),
        ("P11", doc(&gc, r#"{"x":{"y":1,"y":2}}"#), true),
        (
            "P12",
            doc(
                &format!(
                    r#"{{"identity":{},"image":{},"type":"{SIGNATURE_TYPE}","foo":1}}"#,
                    ident(&q(R)),
                    image(&q(D))
                ),
                &go,
            ),
            false,
        ),
        (
            "P13",
            format!(r#"{{"critical":{gc},"optional":{go},"foo":1}}"#),
            false,
        ),
        (
            "P14a",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &format!(r#"{{"docker-manifest-digest":"{D}","x":1}}"#),
                    &ident(&q(R)),
                ),
                &go,
            ),
            false,
        ),
        (
            "P14b",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &image(&q(D)),
                    &format!(r#"{{"docker-reference":"{R}","x":1}}"#),
                ),
                &go,
            ),
            false,
        ),
        (
            "P15",
            doc(&gc, r#"{"x":[1,{"a":null},"s",true],"y":{"z":-1.5e3}}"#),
            true,
        ),
        ("P16", format!(r#"{{"critical":{gc}}}"#), false),
        ("P17a", format!(r#"{{"optional":{go}}}"#), false),
        (
            "P17b",
            doc(
                &format!(
                    r#"{{"identity":{},"image":{}}}"#,
                    ident(&q(R)),
                    image(&q(D))
                ),
                &go,
            ),
            false,
        ),
        (
            "P17c",
            doc(
                &format!(
                    r#"{{"identity":{},"type":"{SIGNATURE_TYPE}"}}"#,
                    ident(&q(R))
                ),
                &go,
            ),
            false,
        ),
        (
            "P17d",
            doc(
                &format!(r#"{{"image":{},"type":"{SIGNATURE_TYPE}"}}"#, image(&q(D))),
                &go,
            ),
            false,
        ),
        (
            "P18a",
            doc(&crit(&q(SIGNATURE_TYPE), "{}", &ident(&q(R))), &go),
            false,
        ),
        (
            "P18b",
            doc(&crit(&q(SIGNATURE_TYPE), &image(&q(D)), "{}"), &go),
            false,
        ),
        ("P19", doc(&gc, "null"), false),
        ("P20a", doc("[]", &go), false),
        ("P20b", doc("1", &go), false),
        ("P21", doc(&gc, r#"{"creator":null}"#), true),
        ("P22", doc(&gc, r#"{"creator":1}"#), false),
        ("P23", doc(&gc, r#"{"timestamp":1.5}"#), false),
        ("P24", doc(&gc, r#"{"timestamp":1.4e9}"#), true),
        ("P25", doc(&gc, r#"{"timestamp":1400000000.0}"#), true),
        ("P26", doc(&gc, r#"{"timestamp":-5}"#), true),
        ("P27", doc(&gc, r#"{"timestamp":"1"}"#), false),
        ("P28", doc(&gc, r#"{"timestamp":null}"#), true),
        ("P29", doc(&gc, r#"{"timestamp":1e300}"#), false),
        (
            "P30",
            doc(
                &crit(
                    &q("Atomic container signature"),
                    &image(&q(D)),
                    &ident(&q(R)),
                ),
                &go,
            ),
            false,
        ),
        (
            "P31a",
            doc(&crit("null", &image(&q(D)), &ident(&q(R))), &go),
            false,
        ),
        (
            "P31b",
            doc(&crit("1", &image(&q(D)), &ident(&q(R))), &go),
            false,
        ),
        (
            "P32",
            doc(
                &crit(&q(SIGNATURE_TYPE), &image(&q(D)), &ident("null")),
                &go,
            ),
            false,
        ),
        (
            "P33",
            doc(
                &format!(
                    r#"{{"Identity":{},"image":{},"type":"{SIGNATURE_TYPE}"}}"#,
                    ident(&q(R)),
                    image(&q(D))
                ),
                &go,
            ),
            false,
        ),
        (
            "P34",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &image(&q(D)),
                    &format!(r#"{{"docker-r\u0065ference":"{R}"}}"#),
                ),
                &go,
            ),
            true,
        ),
        (
            "P35",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &image(&q(D)),
                    &ident(r#""docker.io/library/busybox:l\u0061test""#),
                ),
                &go,
            ),
            true,
        ),
        (
            "P36",
            doc(
                &crit(&q(SIGNATURE_TYPE), &image(&q(&upper)), &ident(&q(R))),
                &go,
            ),
            false,
        ),
        (
            "P37",
            doc(
                &crit(
                    &q(SIGNATURE_TYPE),
                    &image(&q("sha256:../..")),
                    &ident(&q(R)),
                ),
                &go,
            ),
            false,
        ),
        (
            "P38a",
            doc(
                &crit(&q(SIGNATURE_TYPE), &image(&q(&sha512)), &ident(&q(R))),
                &go,
            ),
            false,
        ),
        (
            "P38b",
            doc(
                &crit(&q(SIGNATURE_TYPE), &image(&q(&sha384)), &ident(&q(R))),
                &go,
            ),
            false,
        ),
        (
            "P39",
            doc(&crit(&q(SIGNATURE_TYPE), &image("1"), &ident(&q(R))), &go),
            false,
        ),
        (
            "P40",
            doc(&crit(&q(SIGNATURE_TYPE), &image(&q(D)), &ident("1")), &go),
            false,
        ),
    ];
    for (id, payload, accept) in &cases {
        let r = check(payload.as_bytes());
        assert_eq!(r.is_ok(), *accept, "{id}: {payload}\n -> {r:?}");
        // The parser alone agrees with the JSON-level expectations.
        if *accept {
            assert!(Payload::parse(payload.as_bytes()).is_ok(), "{id}");
        }
    }
    // Specific errors.
    let err = |p: &str| check(p.as_bytes()).err();
    assert!(matches!(
        err(&cases[6].1),
        Some(VerifyError::Payload(PayloadError::DuplicateKey { .. }))
    ));
    assert!(matches!(
        err(&cases[11].1),
        Some(VerifyError::Payload(PayloadError::UnknownKey { .. }))
    ));
    assert!(matches!(
        err(&format!(r#"{{"critical":{gc}}}"#)),
        Some(VerifyError::Payload(PayloadError::MissingKey { .. }))
    ));
    assert!(matches!(
        err(&doc(
            &crit(
                &q("Atomic container signature"),
                &image(&q(D)),
                &ident(&q(R))
            ),
            &go
        )),
        Some(VerifyError::Payload(PayloadError::UnrecognizedType(_)))
    ));

    // P41: a non-JSON payload signed by K (fixture).
    let k = pubring();
    let r = verify_standalone(
        &Verifier::new(&k),
        &manifest,
        "testing/manifest",
        &[fp(K)],
        &data("invalid-blob.signature"),
    );
    assert!(
        matches!(&r, Err(VerifyError::Payload(PayloadError::Syntax { .. }))),
        "P41: {r:?}"
    );
    assert!(r.err().is_some_and(
        |e| e.to_string().contains("invalid character") && e.to_string().contains("'T'")
    ));
}

#[test]
fn order_of_checks() {
    // Wrong key identity is reported before anything about the payload.
    let k = pubring();
    let r = verify_standalone(
        &Verifier::new(&k),
        &data("image.manifest.json"),
        "testing/manifest",
        &[fp(KP)],
        &data("invalid-blob.signature"),
    );
    assert!(
        matches!(r, Err(VerifyError::KeyNotAccepted { .. })),
        "{r:?}"
    );
    // Digest is checked before the reference.
    let r = verify_standalone(
        &Verifier::new(&k),
        &data("dir-img-modified-manifest/manifest.json"),
        "other/name",
        &[fp(K)],
        &data("image.signature"),
    );
    assert!(
        matches!(r, Err(VerifyError::DigestMismatch { .. })),
        "{r:?}"
    );
}

#[test]
fn own_signatures_roundtrip_and_layout() {
    let (keys, signer, f) = test_key();
    let d = Digest::parse(D).expect("digest");
    let payload = Payload::new("docker.io/library/busybox:latest", &d, 1_795_344_597);
    for compressed in [false, true] {
        for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
            let g = generate_key(KeyGenOptions::new("x <x@example.invalid>")).expect("keygen");
            let k = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
            let s = Signer::builder(g.secret_key())
                .hash(hash)
                .compressed(compressed)
                .build()
                .expect("signer");
            let blob = s.sign(&payload).expect("sign");
            // First byte: 0xC4 (new-format one-pass) or 0xC8 (compressed).
            assert_eq!(
                blob[0],
                if compressed { 0xC8 } else { 0xC4 },
                "{compressed} {hash:?}"
            );
            assert_eq!(classify_stored_blob(&blob), Ok(StoredFormat::SimpleSigning));
            let v = Verifier::new(&k).verify(&blob).expect("verify");
            assert_eq!(v.payload, payload.to_canonical_json());
            assert_eq!(v.signer, g.fingerprint());
            let dump = untrusted_dump(&blob).expect("dump");
            assert_eq!(dump.short_key_id, g.fingerprint().key_id());
        }
    }
    // Our own key can't verify a fixture, and vice versa.
    let blob = signer.sign(&payload).expect("sign");
    assert!(matches!(
        verify(&keys, "image.signature"),
        Err(VerifyError::UnknownKey(_))
    ));
    assert!(matches!(
        Verifier::new(&pubring()).verify(&blob),
        Err(VerifyError::UnknownKey(_))
    ));
    // Tampering with any byte of the literal breaks it.
    let mut bad = blob.clone();
    let pos = bad
        .windows(7)
        .position(|w| w == b"busybox")
        .expect("payload inside");
    bad[pos] ^= 0x20;
    let r = Verifier::new(&keys).verify(&bad);
    assert!(matches!(r, Err(VerifyError::BadSignature(_))), "{r:?}");
    assert!(Verifier::new(&keys).verify_accepted(&blob, &[f]).is_ok());
    // Empty content is refused.
    let mut empty = payload.clone();
    empty.docker_reference.clear();
    assert!(matches!(signer.sign(&empty), Err(Error::EmptyContent)));
}

#[test]
fn secret_keys_from_gpg_and_passphrases() {
    // secring.gpg (gpg 1.x export): KP is passphrase-protected, K is not.
    let ring = data("secring.gpg");
    let sk = SecretKey::from_bytes(&ring).expect("secret key");
    let signer = if sk.is_encrypted() {
        assert!(matches!(
            Signer::builder(&sk).build(),
            Err(Error::PassphraseRequired)
        ));
        assert!(matches!(
            Signer::builder(&sk).passphrase("wrong").build(),
            Err(Error::WrongPassphrase)
        ));
        Signer::builder(&sk)
            .passphrase("WithPassphrase123")
            .build()
            .expect("signer")
    } else {
        Signer::builder(&sk).build().expect("signer")
    };
    let blob = signer.sign_bytes(b"hello").expect("sign");
    let v = Verifier::new(&pubring()).verify(&blob).expect("verify");
    assert_eq!(&v.signer, signer.fingerprint());
    assert!(v.signer == fp(K) || v.signer == fp(KP));

    // Our own passphrase-protected export.
    let g = generate_key(KeyGenOptions::new("p <p@example.invalid>").cipher(Cipher::Rsa2048))
        .expect("keygen");
    let enc =
        SecretKey::from_bytes(&g.secret_armored(Some("s3cret")).expect("export")).expect("load");
    assert!(enc.is_encrypted());
    assert!(matches!(
        Signer::builder(&enc).passphrase("nope").build(),
        Err(Error::WrongPassphrase)
    ));
    let s = Signer::builder(&enc)
        .passphrase("s3cret")
        .build()
        .expect("signer");
    let k = TrustedKeys::from_bytes(&g.public_armored().expect("pub")).expect("keys");
    assert!(
        Verifier::new(&k)
            .verify(&s.sign_bytes(b"x").expect("sign"))
            .is_ok()
    );
}

#[test]
fn standalone_with_digest_only() {
    let k = pubring();
    let v = Verifier::new(&k);
    let d = Digest::parse(D).expect("digest");
    let ok = verify_standalone_digest(
        &v,
        &d,
        "testing/manifest",
        &[fp(K)],
        &data("image.signature"),
    )
    .expect("verified");
    assert_eq!(ok.digest, d);
    assert_eq!(ok.signed_reference, "testing/manifest");
    assert_eq!(ok.fingerprint, fp(K));
    let other = Digest::sha256_of(b"other");
    assert!(matches!(
        verify_standalone_digest(
            &v,
            &other,
            "testing/manifest",
            &[fp(K)],
            &data("image.signature")
        ),
        Err(VerifyError::DigestMismatch { .. })
    ));
    assert!(matches!(
        verify_standalone_digest(&v, &d, "testing/other", &[fp(K)], &data("image.signature")),
        Err(VerifyError::ReferenceMismatch { .. })
    ));
    assert!(matches!(
        verify_standalone_digest(&v, &d, "Invalid//", &[fp(K)], &data("image.signature")),
        Err(VerifyError::InvalidExpectedReference { .. })
    ));
}

#[test]
fn gpg22_exported_secret_keys() {
    for (who, pass) in [("ed25519", Some("gpg pass phrase")), ("rsa", None)] {
        let sk = SecretKey::from_bytes(&data(&format!("variants/gpg-{who}-secret.asc")))
            .expect("load gpg secret key");
        let expected =
            String::from_utf8(data(&format!("variants/gpg-{who}.fingerprint"))).expect("utf8");
        assert_eq!(sk.fingerprint(), fp(expected.trim()), "{who}");
        assert_eq!(sk.is_encrypted(), pass.is_some(), "{who}");
        if pass.is_some() {
            assert!(matches!(
                Signer::builder(&sk).build(),
                Err(Error::PassphraseRequired)
            ));
        }
        let signer = Signer::builder(&sk)
            .passphrase_opt(pass)
            .build()
            .expect("signer");
        let keys = keys(&[&format!("variants/gpg-{who}-public.asc")]);
        let d = Digest::parse(D).expect("digest");
        let blob = signer
            .sign(&Payload::new("testing/manifest", &d, 1))
            .expect("sign");
        let ok = verify_standalone(
            &Verifier::new(&keys),
            &data("image.manifest.json"),
            "testing/manifest",
            &[fp(expected.trim())],
            &blob,
        )
        .expect("verify");
        assert_eq!(ok.signer, fp(expected.trim()));
    }
}
