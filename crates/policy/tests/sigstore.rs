//! `sigstoreSigned` evaluation: keys through the caller's loader, the
//! containers/image wording of every outcome, both kinds of signature on
//! one image each judged by its own requirement.

use std::collections::HashMap;
use std::io;

use base64::Engine as _;
use imprimatur_policy::{
    Decision, Evaluator, IdentityMatch, Image, KeyFileError, Policy, PolicyImage, Rejection,
    Requirement, SignatureVerdict, SigstoreSigned,
};
use imprimatur_reference::Digest;
use imprimatur_signature::{KeyGenOptions, Payload, Signer, generate_key};
use imprimatur_sigstore::{PrivateKey, SigstorePayload, SigstoreSignature, sign};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{}}"#;
const REF: &str = "registry.example/ns/app:1";

struct Fixture {
    key: PrivateKey,
    other: PrivateKey,
    files: HashMap<String, Vec<u8>>,
}

impl Fixture {
    fn new() -> Fixture {
        let key = PrivateKey::generate().expect("key");
        let other = PrivateKey::generate().expect("key");
        let files = HashMap::from([
            (
                "/k/key.pub".to_owned(),
                key.public_key().to_pem().into_bytes(),
            ),
            (
                "/k/other.pub".to_owned(),
                other.public_key().to_pem().into_bytes(),
            ),
            ("/k/garbage.pub".to_owned(), b"not a key".to_vec()),
        ]);
        Fixture { key, other, files }
    }

    fn decide(&self, policy: &Policy, reference: &str, sigs: &[Vec<u8>]) -> Decision {
        let files = self.files.clone();
        let loader = move |p: &str| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| KeyFileError::new(p, io::ErrorKind::NotFound.into()))
        };
        let image = Image::new(
            PolicyImage::parse_docker(reference).expect("reference"),
            Some(MANIFEST),
            sigs.iter().map(Vec::as_slice).collect(),
        );
        Evaluator::new(policy.clone(), loader).evaluate(&image)
    }
}

fn signed(key: &PrivateKey, reference: &str, manifest: &[u8]) -> SigstoreSignature {
    let payload = SigstorePayload::new(reference, &Digest::sha256_of(manifest), 1_700_000_000);
    sign(key, &payload)
}

fn policy(requirement: &str) -> Policy {
    let doc = format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"registry.example":[{requirement}]}}}}}}"#
    );
    Policy::from_json(doc.as_bytes(), "p.json").unwrap_or_else(|e| panic!("{e}\n{doc}"))
}

fn reason(d: &Decision) -> &str {
    d.reason.as_deref().unwrap_or_default()
}

#[test]
fn key_path_accepts_and_explains_refusals() {
    let f = Fixture::new();
    let p = policy(r#"{"type":"sigstoreSigned","keyPath":"/k/key.pub"}"#);
    let good = signed(&f.key, REF, MANIFEST).to_blob();
    let d = f.decide(&p, REF, std::slice::from_ref(&good));
    assert!(d.allowed, "{d}");
    assert!(matches!(
        &d.requirements[0].signatures[0].verdict,
        SignatureVerdict::AcceptedSigstore { key, identity, .. }
            if *key == f.key.public_key().key_id() && identity == REF
    ));
    assert!(d.to_string().contains("accepted (sigstore key"), "{d}");

    // No signatures at all: the plain message.
    let d = f.decide(&p, REF, &[]);
    assert_eq!(
        reason(&d),
        "A signature was required, but no signature exists"
    );

    // Wrong key.
    let by_other = signed(&f.other, REF, MANIFEST).to_blob();
    let d = f.decide(&p, REF, std::slice::from_ref(&by_other));
    assert!(
        reason(&d).starts_with("cryptographic signature verification failed"),
        "{d}"
    );
    assert!(matches!(
        &d.requirements[0].signatures[0].verdict,
        SignatureVerdict::Rejected(Rejection::SigstoreCrypto(_))
    ));

    // Wrong identity (default matchRepoDigestOrExact).
    let other_tag = signed(&f.key, "registry.example/ns/app:2", MANIFEST).to_blob();
    let d = f.decide(&p, REF, std::slice::from_ref(&other_tag));
    assert!(
        reason(&d).starts_with("Signature for identity registry.example/ns/app:2 is not accepted"),
        "{d}"
    );

    // Other manifest.
    let other_digest = signed(&f.key, REF, b"{}").to_blob();
    let d = f.decide(&p, REF, std::slice::from_ref(&other_digest));
    assert_eq!(
        reason(&d),
        format!(
            "Signature for digest {} does not match",
            Digest::sha256_of(b"{}")
        )
    );

    // Tampered payload.
    let mut tampered = signed(&f.key, REF, MANIFEST);
    tampered.payload = String::from_utf8(tampered.payload)
        .expect("utf8")
        .replace("1700000000", "1700000001")
        .into_bytes();
    let d = f.decide(&p, REF, &[tampered.to_blob()]);
    assert!(
        reason(&d).starts_with("cryptographic signature verification failed"),
        "{d}"
    );

    // Several rejections are listed; one good one among them allows.
    let d = f.decide(&p, REF, &[by_other.clone(), other_tag.clone()]);
    assert!(
        reason(&d).starts_with("None of the signatures were accepted, reasons: "),
        "{d}"
    );
    let d = f.decide(&p, REF, &[by_other, good.clone(), other_tag]);
    assert!(d.allowed, "{d}");
    assert_eq!(d.requirements[0].message, "signature 2 accepted");
}

#[test]
fn identity_rules_key_sources_and_key_errors() {
    let f = Fixture::new();
    let repo_signed = signed(&f.key, "registry.example/ns/app:other", MANIFEST).to_blob();
    let p = policy(
        r#"{"type":"sigstoreSigned","keyPath":"/k/key.pub","signedIdentity":{"type":"matchRepository"}}"#,
    );
    assert!(
        f.decide(&p, REF, std::slice::from_ref(&repo_signed))
            .allowed
    );

    let b64 =
        |k: &PrivateKey| base64::engine::general_purpose::STANDARD.encode(k.public_key().to_pem());
    let good = signed(&f.key, REF, MANIFEST).to_blob();
    for (req, allowed) in [
        (
            format!(r#"{{"type":"sigstoreSigned","keyData":"{}"}}"#, b64(&f.key)),
            true,
        ),
        (
            format!(
                r#"{{"type":"sigstoreSigned","keyData":"{}"}}"#,
                b64(&f.other)
            ),
            false,
        ),
        (
            r#"{"type":"sigstoreSigned","keyPaths":["/k/other.pub","/k/key.pub"]}"#.to_owned(),
            true,
        ),
        (
            r#"{"type":"sigstoreSigned","keyPaths":["/k/other.pub"]}"#.to_owned(),
            false,
        ),
        (
            format!(
                r#"{{"type":"sigstoreSigned","keyDatas":["{}","{}"]}}"#,
                b64(&f.other),
                b64(&f.key)
            ),
            true,
        ),
    ] {
        let d = f.decide(&policy(&req), REF, std::slice::from_ref(&good));
        assert_eq!(d.allowed, allowed, "{req}\n{d}");
    }

    let d = f.decide(
        &policy(r#"{"type":"sigstoreSigned","keyPath":"/k/missing.pub"}"#),
        REF,
        std::slice::from_ref(&good),
    );
    assert_eq!(reason(&d), "open /k/missing.pub: no such file or directory");
    let d = f.decide(
        &policy(r#"{"type":"sigstoreSigned","keyPath":"/k/garbage.pub"}"#),
        REF,
        std::slice::from_ref(&good),
    );
    assert!(reason(&d).starts_with("parsing public key: "), "{d}");
    let d = f.decide(
        &policy(r#"{"type":"sigstoreSigned","keyPaths":[]}"#),
        REF,
        std::slice::from_ref(&good),
    );
    assert_eq!(reason(&d), "No public keys imported");
}

#[test]
fn fulcio_and_rekor_are_never_accepted() {
    let f = Fixture::new();
    let good = signed(&f.key, REF, MANIFEST).to_blob();
    for req in [
        r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/x","oidcIssuer":"https://o","subjectEmail":"a@b"},"rekorPublicKeyPath":"/r"}"#,
        r#"{"type":"sigstoreSigned","keyPath":"/k/key.pub","rekorPublicKeyPath":"/r"}"#,
        r#"{"type":"sigstoreSigned","pki":{"caRootsPath":"/x"}}"#,
    ] {
        let p = policy(req);
        let Requirement::SigstoreSigned(ss) = &p.transports["docker"]["registry.example"][0] else {
            panic!("not sigstoreSigned")
        };
        assert!(!ss.options_newer_than_5_23().is_empty(), "{req}");
        let d = f.decide(&p, REF, std::slice::from_ref(&good));
        assert!(!d.allowed, "{req}");
        assert!(
            reason(&d).contains("not verifiable offline, never accepted"),
            "{d}"
        );
    }
}

#[test]
fn both_kinds_on_one_image_each_judged_by_its_own_requirement() {
    let f = Fixture::new();
    let gpg = generate_key(KeyGenOptions::new("Atomic <a@example.com>")).expect("gpg key");
    let atomic = Signer::builder(gpg.secret_key())
        .build()
        .expect("signer")
        .sign(&Payload::new(
            REF,
            &Digest::sha256_of(MANIFEST),
            1_700_000_000,
        ))
        .expect("sign");
    let mut files = f.files.clone();
    files.insert(
        "/k/atomic.gpg".to_owned(),
        gpg.public_armored().expect("armored"),
    );
    let f = Fixture { files, ..f };
    let sigstore = signed(&f.key, REF, MANIFEST).to_blob();
    let both = policy(
        r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k/atomic.gpg"},{"type":"sigstoreSigned","keyPath":"/k/key.pub"}"#,
    );
    let d = f.decide(&both, REF, &[atomic.clone(), sigstore.clone()]);
    assert!(d.allowed, "{d}");
    // Each requirement saw only its own kind.
    assert_eq!(d.requirements[0].signatures.len(), 1);
    assert_eq!(d.requirements[0].signatures[0].index, 1);
    assert_eq!(d.requirements[1].signatures[0].index, 2);

    // Only the atomic one: the sigstore requirement counts what it skipped.
    let d = f.decide(&both, REF, std::slice::from_ref(&atomic));
    assert_eq!(
        reason(&d),
        "A signature was required, but no signature exists (1 non-sigstore signatures, 0 sigstore non-signature attachments)"
    );
    // Only the sigstore one: signedBy finds nothing.
    let d = f.decide(&both, REF, std::slice::from_ref(&sigstore));
    assert_eq!(
        reason(&d),
        "A signature was required, but no signature exists"
    );

    // A non-signature attachment (an attestation) is counted, not verified.
    let mut attestation = signed(&f.key, REF, MANIFEST);
    attestation.mime_type = "application/vnd.dsse.envelope.v1+json".to_owned();
    let only_sigstore = policy(r#"{"type":"sigstoreSigned","keyPath":"/k/key.pub"}"#);
    let d = f.decide(&only_sigstore, REF, &[attestation.to_blob()]);
    assert_eq!(
        reason(&d),
        "A signature was required, but no signature exists (0 non-sigstore signatures, 1 sigstore non-signature attachments)"
    );
    // A stored sigstore blob that does not parse is a read error.
    let d = f.decide(&only_sigstore, REF, &[b"\0sigstore-json\n{".to_vec()]);
    assert!(
        reason(&d).starts_with("error reading signatures: signature-1"),
        "{d}"
    );
}

#[test]
fn generated_requirement_loads_in_5_23_form() {
    let one =
        SigstoreSigned::with_key_path("/etc/pki/cosign.pub", Some(IdentityMatch::MatchRepository));
    assert!(one.options_newer_than_5_23().is_empty());
    let mut p = Policy::with_default(vec![Requirement::Reject]);
    p.set_scope(
        "docker",
        "registry.example",
        vec![Requirement::SigstoreSigned(one)],
    )
    .expect("scope");
    let json = p.to_json();
    assert!(
        json.contains(r#""keyPath": "/etc/pki/cosign.pub""#),
        "{json}"
    );
    assert!(!json.contains("keyPaths"), "{json}");
    assert_eq!(
        Policy::from_json(json.as_bytes(), "p.json").expect("reparse"),
        p
    );
    let two = SigstoreSigned::with_key_paths(&["/a.pub".to_owned(), "/b.pub".to_owned()], None);
    assert_eq!(two.options_newer_than_5_23(), vec!["keyPaths"]);
}

#[test]
fn trust_builder_sigstore_scope_and_attachments() {
    use imprimatur_policy::{RegistriesFile, TrustBuilder};
    let trust = TrustBuilder::default_reject()
        .lookaside("registry.example", Some("https://l.example/sigs"), None)
        .expect("lookaside")
        .sigstore_signed("docker", "registry.example", &["/etc/pki/cosign.pub"], None)
        .expect("sigstore")
        .use_sigstore_attachments("registry.example", true)
        .build();
    let json = trust.policy.to_json();
    assert!(
        json.contains(r#""keyPath": "/etc/pki/cosign.pub""#),
        "{json}"
    );
    let yaml = trust.registries.to_yaml();
    assert!(yaml.contains("use-sigstore-attachments: true"), "{yaml}");
    assert!(
        yaml.contains(r#"lookaside: "https://l.example/sigs""#),
        "{yaml}"
    );
    assert_eq!(
        RegistriesFile::from_yaml(yaml.as_bytes(), "r.yaml").expect("reparse"),
        trust.registries
    );
    assert!(
        TrustBuilder::default_reject()
            .sigstore_signed("docker", "x.example", &[], None)
            .is_err()
    );
}

#[test]
fn lint_warns_about_options_skopeo_1_9_3_refuses() {
    use imprimatur_policy::{FindingKind, lint_policy};
    for (req, warned) in [
        (r#"{"type":"sigstoreSigned","keyPath":"/k.pub"}"#, false),
        (r#"{"type":"sigstoreSigned","keyData":"AAAA"}"#, false),
        (
            r#"{"type":"sigstoreSigned","keyPaths":["/a.pub","/b.pub"]}"#,
            true,
        ),
        (r#"{"type":"sigstoreSigned","keyDatas":["AAAA"]}"#, true),
        (
            r#"{"type":"sigstoreSigned","keyPath":"/k.pub","rekorPublicKeyPath":"/r.pub"}"#,
            true,
        ),
        (
            r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/c"},"rekorPublicKeyData":"AAAA"}"#,
            true,
        ),
    ] {
        let findings = lint_policy(&policy(req), &|_: &str| true);
        let hit = findings
            .iter()
            .find(|f| f.kind == FindingKind::SigstoreOptionUnknownToSkopeo);
        assert_eq!(hit.is_some(), warned, "{req}: {findings:?}");
        if req.contains("fulcio") || req.contains("rekor") {
            let m = &hit.expect("finding").message;
            assert!(m.contains("imprimatur never accepts it"), "{m}");
        }
    }
}

#[test]
fn decision_view_shows_sigstore_acceptance() {
    let f = Fixture::new();
    let p = policy(r#"{"type":"sigstoreSigned","keyPath":"/k/key.pub"}"#);
    let d = f.decide(&p, REF, &[signed(&f.key, REF, MANIFEST).to_blob()]);
    let v = serde_json::to_value(imprimatur_policy::DecisionView::new(&d)).expect("json");
    let sig = &v["requirements"][0]["signatures"][0];
    assert_eq!(sig["verdict"], "accepted", "{v}");
    assert_eq!(
        sig["signer"],
        format!("sigstore:{}", f.key.public_key().key_id()),
        "{v}"
    );
    assert_eq!(sig["identity"], REF, "{v}");
}
