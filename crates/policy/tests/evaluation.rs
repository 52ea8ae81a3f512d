//! G01–G27 (§8.7): policy evaluation, the "accepted author" query and key
//! caching.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use imprimatur_policy::{
    Decision, Evaluator, Image, KeyFileError, KeyLoader, Policy, PolicyImage, Rejection,
    SignatureVerdict,
};
use imprimatur_signature::{
    KeyGenOptions, Payload, Signer, SubkeyAttribution, generate_key, manifest_digest,
};

/// Reads key files for these tests (the crate does no I/O; real callers use
/// `imprimatur_registry::files::FsKeyLoader`), with Go-like messages.
#[derive(Debug, Clone, Copy)]
struct FsKeyLoader;

impl KeyLoader for FsKeyLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, KeyFileError> {
        std::fs::read(path).map_err(|e| KeyFileError::new(path, e))
    }
}

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/containers-image")
}

fn key(name: &str) -> String {
    data().join(name).to_string_lossy().into_owned()
}

struct DirImage {
    path: String,
    manifest: Option<Vec<u8>>,
    signatures: Vec<Vec<u8>>,
}

fn dir_image(name: &str) -> DirImage {
    let dir = data().join(name).canonicalize().expect("fixture dir");
    let manifest = std::fs::read(dir.join("manifest.json")).ok();
    let mut signatures = Vec::new();
    for i in 1.. {
        match std::fs::read(dir.join(format!("signature-{i}"))) {
            Ok(b) => signatures.push(b),
            Err(_) => break,
        }
    }
    DirImage {
        path: dir.to_string_lossy().into_owned(),
        manifest,
        signatures,
    }
}

impl DirImage {
    fn image(&self) -> Image<'_> {
        Image::new(
            PolicyImage::dir(&self.path),
            self.manifest.as_deref(),
            self.signatures.iter().map(Vec::as_slice).collect(),
        )
    }
}

fn policy(doc: &str) -> Policy {
    Policy::from_json(doc.as_bytes(), "g.json").unwrap_or_else(|e| panic!("{e}\n{doc}"))
}

fn sb(extra: &str) -> String {
    format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{},"signedIdentity":{{"type":"exactReference","dockerReference":"testing/manifest:latest"}}{extra}}}"#,
        serde_json::to_string(&key("public-key.gpg")).expect("json")
    )
}

fn default_policy(reqs: &str) -> Policy {
    policy(&format!(r#"{{"default":[{reqs}]}}"#))
}

fn decide(p: &Policy, img: &str) -> Decision {
    let d = dir_image(img);
    Evaluator::new(p.clone(), FsKeyLoader).evaluate(&d.image())
}

fn assert_denied(id: &str, d: &Decision, needle: &str) {
    assert!(!d.allowed, "{id}: expected denial\n{d}");
    let reason = d.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains(needle),
        "{id}: reason {reason:?} lacks {needle:?}\n{d}"
    );
}

#[test]
fn g01_g06_dir_images() {
    let p = default_policy(&sb(""));
    for (id, img) in [
        ("G01", "dir-img-valid"),
        ("G02", "dir-img-valid-2"),
        ("G03", "dir-img-mixed"),
    ] {
        let d = decide(&p, img);
        assert!(d.allowed, "{id}: {d}");
    }
    // G03: the first signature is rejected, the second accepted; both explained.
    let d = decide(&p, "dir-img-mixed");
    let sigs = &d.requirements[0].signatures;
    assert!(
        matches!(
            sigs[0].verdict,
            SignatureVerdict::Rejected(Rejection::Payload(_))
        ),
        "{d}"
    );
    assert!(
        matches!(sigs[1].verdict, SignatureVerdict::Accepted { .. }),
        "{d}"
    );
    assert_denied(
        "G04",
        &decide(&p, "dir-img-unsigned"),
        "A signature was required, but no signature exists",
    );
    assert_denied(
        "G05",
        &decide(&p, "dir-img-modified-manifest"),
        "Signature for digest sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55 does not match",
    );
    assert_denied(
        "G06",
        &decide(&p, "dir-img-manifest-digest-error"),
        "manifest digest",
    );
    assert_denied(
        "no manifest",
        &decide(&p, "dir-img-no-manifest"),
        "manifest",
    );
}

#[test]
fn g07_g09_identities() {
    for id in [r#""#, r#","signedIdentity":{"type":"matchExact"}"#] {
        let p = default_policy(&format!(
            r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}{id}}}"#,
            serde_json::to_string(&key("public-key.gpg")).expect("json")
        ));
        let d = decide(&p, "dir-img-valid");
        assert_denied(
            "G07",
            &d,
            "Signature for identity testing/manifest:latest is not accepted",
        );
    }
    let p = default_policy(&format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{},"signedIdentity":{{"type":"exactRepository","dockerRepository":"docker.io/testing/manifest"}}}}"#,
        serde_json::to_string(&key("public-key.gpg")).expect("json")
    ));
    assert!(decide(&p, "dir-img-valid").allowed, "G08");
    let p = default_policy(&sb("").replace("manifest:latest", "manifest:notlatest"));
    assert_denied("G09", &decide(&p, "dir-img-valid"), "is not accepted");
}

#[test]
fn g10_g13_key_sources() {
    let data_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(key("public-key.gpg")).expect("key"))
    };
    let ident =
        r#""signedIdentity":{"type":"exactReference","dockerReference":"testing/manifest:latest"}"#;
    let p = default_policy(&format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyData":"{data_b64}",{ident}}}"#
    ));
    assert!(decide(&p, "dir-img-valid").allowed, "G10");
    let p = default_policy(&format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPaths":[{},{}],{ident}}}"#,
        serde_json::to_string(&key("public-key-2.gpg")).expect("json"),
        serde_json::to_string(&key("public-key-1.gpg")).expect("json"),
    ));
    assert!(decide(&p, "dir-img-valid").allowed, "G11");
    // G12: subkey signature; newer (primary attribution) allows, anchor denies.
    let p = default_policy(&format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{},"signedIdentity":{{"type":"matchRepository"}}}}"#,
        serde_json::to_string(&key("public-key-with-subkey.gpg")).expect("json")
    ));
    let p = policy(&p.to_json().replace(
        "matchRepository",
        "exactRepository\", \"dockerRepository\": \"testing/manifest",
    ));
    let d = dir_image("dir-img-valid-subkey");
    let newer = Evaluator::new(p.clone(), FsKeyLoader).evaluate(&d.image());
    assert!(newer.allowed, "G12 newer: {newer}");
    let anchor = Evaluator::new(p, FsKeyLoader)
        .subkey_attribution(SubkeyAttribution::Strict)
        .evaluate(&d.image());
    assert_denied("G12 anchor", &anchor, "is not accepted");
    // G13: a different key.
    let p = default_policy(&sb("").replace("public-key.gpg", "public-key-with-subkey.gpg"));
    assert!(!decide(&p, "dir-img-valid").allowed, "G13");
    // C18/C20/C34 at evaluation time.
    let p = default_policy(r#"{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}"#);
    assert_denied(
        "C18",
        &decide(&p, "dir-img-valid"),
        "No public keys imported",
    );
    let p = default_policy(r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent"}"#);
    assert_denied(
        "C20",
        &decide(&p, "dir-img-valid"),
        "open /nonexistent: no such file or directory",
    );
    let p = default_policy(r#"{"type":"signedBy","keyType":"GPGKeys","keyData":""}"#);
    assert_denied(
        "C34",
        &decide(&p, "dir-img-valid"),
        "No public keys imported",
    );
}

#[test]
fn g14_g20_requirement_types_and_lists() {
    let d = decide(&default_policy(r#"{"type":"reject"}"#), "dir-img-valid");
    let path = dir_image("dir-img-valid").path;
    assert_denied(
        "G14",
        &d,
        &format!("Running image dir:{path} is rejected by policy."),
    );
    assert_denied(
        "G15",
        &decide(
            &default_policy(r#"{"type":"insecureAcceptAnything"},{"type":"reject"}"#),
            "dir-img-valid",
        ),
        "rejected by policy",
    );
    let other = sb("").replace("public-key.gpg", "public-key-with-subkey.gpg");
    let d = decide(
        &default_policy(&format!("{},{other}", sb(""))),
        "dir-img-valid",
    );
    assert!(
        !d.allowed && d.requirements[0].allowed && !d.requirements[1].allowed,
        "G16: {d}"
    );
    let p = default_policy(&sb("").replace(r#""GPGKeys""#, r#""signedByGPGKeys""#));
    assert_denied(
        "G17",
        &decide(&p, "dir-img-valid"),
        r#"Unimplemented "keyType" value "signedByGPGKeys""#,
    );
    let p = default_policy(
        r#"{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}"#,
    );
    assert_denied(
        "G18",
        &decide(&p, "dir-img-valid"),
        "signedBaseLayer not implemented yet!",
    );
    let parent = std::path::Path::new(&path)
        .parent()
        .expect("parent")
        .to_string_lossy()
        .into_owned();
    let p = policy(&format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"dir":{{{}:[{{"type":"insecureAcceptAnything"}}]}}}}}}"#,
        serde_json::to_string(&parent).expect("json")
    ));
    let d = decide(&p, "dir-img-valid");
    assert!(d.allowed, "G19: {d}");
    assert!(d.scope.contains(&parent), "G19 scope: {}", d.scope);
    let p = default_policy(&format!(
        r#"{{"type":"sigstoreSigned","keyPath":{}}}"#,
        serde_json::to_string(&key("public-key.gpg")).expect("json")
    ));
    assert_denied(
        "G20",
        &decide(&p, "dir-img-valid"),
        "A signature was required, but no signature exists (1 non-sigstore signatures, 0 sigstore non-signature attachments)",
    );
    // Several rejected signatures: the combined message.
    let p = default_policy(&sb("").replace("manifest:latest", "manifest:other"));
    assert_denied(
        "several",
        &decide(&p, "dir-img-valid-2"),
        "None of the signatures were accepted, reasons: ",
    );
}

#[test]
fn accepted_author_query() {
    let ev = |reqs: &str, img: &str| -> usize {
        let d = dir_image(img);
        Evaluator::new(default_policy(reqs), FsKeyLoader)
            .accepted_signatures(&d.image())
            .len()
    };
    let base = r#"{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}"#;
    assert_eq!(ev(&sb(""), "dir-img-valid-2"), 2);
    assert_eq!(ev(&sb(""), "dir-img-unsigned"), 0);
    assert_eq!(ev(&sb(""), "dir-img-modified-manifest"), 0);
    assert_eq!(ev(&sb(""), "dir-img-mixed"), 1);
    assert_eq!(ev(&format!("{},{}", sb(""), sb("")), "dir-img-valid"), 1);
    assert_eq!(
        ev(
            &format!(r#"{},{{"type":"reject"}}"#, sb("")),
            "dir-img-valid"
        ),
        0
    );
    assert_eq!(ev(&format!("{},{base}", sb("")), "dir-img-valid"), 1);
    assert_eq!(
        ev(&format!(r#"{{"type":"reject"}},{base}"#), "dir-img-valid"),
        0
    );
    assert_eq!(ev(base, "dir-img-valid"), 0);
    assert_eq!(
        ev(r#"{"type":"insecureAcceptAnything"}"#, "dir-img-valid"),
        0
    );
    let d = dir_image("dir-img-valid");
    let got = Evaluator::new(default_policy(&sb("")), FsKeyLoader).accepted_signatures(&d.image());
    assert_eq!(got[0].payload.docker_reference, "testing/manifest:latest");
}

#[test]
fn keys_are_loaded_once_per_evaluator() {
    let reads = AtomicUsize::new(0);
    let loader = |path: &str| -> Result<Vec<u8>, KeyFileError> {
        reads.fetch_add(1, Ordering::SeqCst);
        std::fs::read(path).map_err(|e| KeyFileError::new(path, e))
    };
    let p = default_policy(&sb(""));
    let d = dir_image("dir-img-valid-2");
    let ev = Evaluator::new(p, &loader);
    for _ in 0..5 {
        assert!(ev.evaluate(&d.image()).allowed);
    }
    assert_eq!(ev.key_loads(), 1);
    std::thread::scope(|s| {
        s.spawn(|| assert!(ev.evaluate(&d.image()).allowed))
            .join()
            .expect("thread");
    });
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------
// G21–G27: docker identities with signatures made here.

struct Signed {
    manifest: Vec<u8>,
    digest: String,
    public: Vec<u8>,
    blob: Vec<u8>,
}

fn signed_for(identity: &str) -> Signed {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#.to_vec();
    let digest = manifest_digest(&manifest).expect("digest");
    let k = generate_key(KeyGenOptions::new("Test <test@example.com>")).expect("keygen");
    let signer = Signer::builder(k.secret_key()).build().expect("signer");
    let blob = signer
        .sign(&Payload::new(identity, &digest, 1_700_000_000))
        .expect("sign");
    Signed {
        manifest,
        digest: digest.as_str().to_owned(),
        public: k.public_armored().expect("public"),
        blob,
    }
}

fn docker_policy(s: &Signed, identity: &str) -> Policy {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(&s.public);
    let id = if identity.is_empty() {
        String::new()
    } else {
        format!(r#","signedIdentity":{identity}"#)
    };
    policy(&format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"127.0.0.1:15731/ns":[{{"type":"signedBy","keyType":"GPGKeys","keyData":"{data}"{id}}}]}}}}}}"#
    ))
}

#[test]
fn g21_g27_docker_identities() {
    let s = signed_for("127.0.0.1:15731/ns/img:v1");
    let by_tag = "127.0.0.1:15731/ns/img:v1".to_owned();
    let by_digest = format!("127.0.0.1:15731/ns/img@{}", s.digest);
    let latest = "127.0.0.1:15731/ns/img:latest".to_owned();
    let check = |id: &str, identity: &str, pull: &str, want: bool| {
        let ev = Evaluator::new(docker_policy(&s, identity), imprimatur_policy::NoKeyFiles);
        let img = Image::new(
            PolicyImage::parse_docker(pull).expect("ref"),
            Some(&s.manifest),
            vec![&s.blob],
        );
        let d = ev.evaluate(&img);
        assert_eq!(d.allowed, want, "{id}: {pull}\n{d}");
        d
    };
    check("G21", "", &by_tag, true);
    check("G22", "", &by_digest, true);
    let d = check("G23", "", &latest, false);
    assert!(
        d.reason
            .as_deref()
            .unwrap_or_default()
            .contains("Signature for identity 127.0.0.1:15731/ns/img:v1 is not accepted"),
        "{d}"
    );
    assert!(
        d.to_string().contains("127.0.0.1:15731/ns/img:latest"),
        "both identities shown: {d}"
    );
    check("G24", r#"{"type":"matchRepository"}"#, &latest, true);
    check("G25", r#"{"type":"matchExact"}"#, &by_digest, false);
    check("G26", r#"{"type":"matchExact"}"#, &by_tag, true);
    check(
        "G27",
        r#"{"type":"exactReference","dockerReference":"127.0.0.1:15731/ns/img:v1"}"#,
        &latest,
        true,
    );
    // JSON explanation carries the same decision.
    let ev = Evaluator::new(docker_policy(&s, ""), imprimatur_policy::NoKeyFiles);
    let img = Image::new(
        PolicyImage::parse_docker(&latest).expect("ref"),
        Some(&s.manifest),
        vec![&s.blob],
    );
    let j = ev.evaluate(&img).to_json();
    assert_eq!(j["allowed"], false);
    assert_eq!(j["scope"], r#"transports.docker["127.0.0.1:15731/ns"]"#);
    assert_eq!(j["requirements"][0]["signatures"][0]["verdict"], "rejected");
    // A signature by an untrusted key.
    let other = signed_for("127.0.0.1:15731/ns/img:v1");
    let ev = Evaluator::new(docker_policy(&s, ""), imprimatur_policy::NoKeyFiles);
    let img = Image::new(
        PolicyImage::parse_docker(&by_tag).expect("ref"),
        Some(&other.manifest),
        vec![&other.blob],
    );
    assert!(!ev.evaluate(&img).allowed);
}

/// Rejections carry typed causes (not strings): the caller can match the
/// variant and walk the sources; the rendered reason stays the same text.
#[test]
fn rejections_are_typed() {
    use imprimatur_policy::KeysError;
    use imprimatur_signature::{ManifestError, PayloadError};
    let verdict = |d: &Decision| d.requirements[0].signatures[0].verdict.clone();

    // A key file that does not exist: the loader's message and the path.
    let missing = default_policy(
        r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/key.gpg"}"#,
    );
    let d = decide(&missing, "dir-img-valid");
    match verdict(&d) {
        SignatureVerdict::Rejected(Rejection::Keys(KeysError::Load(e))) => {
            assert_eq!(e.path(), "/nonexistent/key.gpg");
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
            let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
            assert!(io.is_some(), "the I/O error is the source: {e:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_denied("missing key", &d, "open /nonexistent/key.gpg");

    // keyData without any key in it.
    let empty = default_policy(r#"{"type":"signedBy","keyType":"GPGKeys","keyData":"eA=="}"#);
    let d = decide(&empty, "dir-img-valid");
    assert!(
        matches!(
            verdict(&d),
            SignatureVerdict::Rejected(Rejection::Keys(KeysError::NoKeys))
        ),
        "{d}"
    );
    assert_denied("no keys", &d, "No public keys imported");

    // G03's first signature: a payload that is not JSON, matched by variant.
    let p = default_policy(&sb(""));
    let d = decide(&p, "dir-img-mixed");
    match verdict(&d) {
        SignatureVerdict::Rejected(r @ Rejection::Payload(_)) => {
            let Rejection::Payload(e) = &r else {
                unreachable!()
            };
            assert!(
                matches!(
                    e,
                    PayloadError::Syntax(imprimatur_signature::json::JsonError::Syntax {
                        offset: 0,
                        ..
                    })
                ),
                "the fixture's payload is not JSON: {e:?}"
            );
            assert!(
                r.to_string().starts_with("invalid signature payload: "),
                "{r}"
            );
        }
        other => panic!("{other:?}"),
    }

    // No manifest, and a manifest whose schema-1 signatures are broken.
    let mut img = dir_image("dir-img-valid");
    img.manifest = None;
    let d = Evaluator::new(p.clone(), FsKeyLoader).evaluate(&img.image());
    assert!(
        matches!(
            d.requirements[0].signatures[0].verdict,
            SignatureVerdict::Rejected(Rejection::ManifestMissing)
        ),
        "{d}"
    );
    img.manifest = Some(br#"{"schemaVersion":1,"signatures":[{"protected":"!"}]}"#.to_vec());
    let d = Evaluator::new(p, FsKeyLoader).evaluate(&img.image());
    match &d.requirements[0].signatures[0].verdict {
        SignatureVerdict::Rejected(r @ Rejection::ManifestDigest(e)) => {
            assert!(
                matches!(e, ManifestError::Schema1Signatures { .. }),
                "{e:?}"
            );
            assert!(
                r.to_string()
                    .starts_with("error computing manifest digest: error unmarshalling signatures"),
                "{r}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Time comes from the evaluator's clock: at the epoch the fixture's key
/// does not exist yet, so the same image is denied for a crypto reason.
#[test]
fn evaluation_time_comes_from_the_clock() {
    let p = default_policy(&sb(""));
    let d = dir_image("dir-img-valid");
    let now = Evaluator::new(p.clone(), FsKeyLoader).evaluate(&d.image());
    assert!(now.allowed, "{now}");
    let epoch = Evaluator::new(p, FsKeyLoader)
        .clock(std::time::UNIX_EPOCH)
        .evaluate(&d.image());
    assert!(!epoch.allowed, "{epoch}");
    assert!(
        matches!(
            epoch.requirements[0].signatures[0].verdict,
            SignatureVerdict::Rejected(Rejection::Crypto(_))
        ),
        "{epoch}"
    );
}
