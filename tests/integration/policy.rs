//! `imprimatur trust` / `imprimatur policy` against skopeo 1.9.3: generated
//! `policy.json` + `registries.d` obeyed by `skopeo copy`, and decision
//! parity between `imprimatur policy check` and skopeo on a matrix of
//! (policy, image, signatures) cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::{GpgAlgo, GpgHome, OciLayout, Registry, Scratch, require_tools, run, run_ok};
use crate::util;

fn fixtures() -> PathBuf {
    util::data_dir().join("containers-image")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `imprimatur keygen`; returns (secret key file, public key file).
fn keygen(dir: &Scratch, name: &str) -> (PathBuf, PathBuf) {
    let secret = dir.path(&format!("{name}.key"));
    let public = dir.path(&format!("{name}.pub"));
    run_ok(
        util::imprimatur()
            .args(["keygen", "--userid"])
            .arg(format!("{name} <{name}@example.test>"))
            .arg("--secret-key-out")
            .arg(&secret)
            .arg("--public-key-out")
            .arg(&public),
    );
    (secret, public)
}

/// `imprimatur sign` of a manifest for an identity into `out`.
fn imprimatur_sign(key: &Path, reference: &str, manifest: &Path, out: &Path) {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    run_ok(
        util::imprimatur()
            .arg("sign")
            .arg("--key")
            .arg(key)
            .args(["--reference", reference])
            .arg("--manifest")
            .arg(manifest)
            .arg("--output")
            .arg(out),
    );
}

fn trust_set(policy: &Path, registries_d: &Path, args: &[&str]) {
    run_ok(
        util::imprimatur()
            .args(["trust", "set", "--policy-path"])
            .arg(policy)
            .arg("--registries-d")
            .arg(registries_d)
            .args(args),
    );
}

/// skopeo's verdict on the source image of `skopeo copy`: `true` allowed,
/// `false` denied by the policy.
fn skopeo_allows(
    policy: &Path,
    registries_d: Option<&Path>,
    src: &str,
    extra: &[&str],
) -> (bool, String) {
    let dest = Scratch::new();
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--policy"]).arg(policy);
    if let Some(r) = registries_d {
        cmd.arg("--registries.d").arg(r);
    }
    cmd.args(extra)
        .arg(src)
        .arg(format!("dir:{}", s(&dest.path("out"))));
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        return (true, stderr);
    }
    if stderr.contains("Source image rejected") {
        return (false, stderr);
    }
    // The policy is checked before any blob is copied: a later failure (the
    // conformance fixtures have no layer blobs, one has an unparseable manifest)
    // means the policy allowed it.
    assert!(
        stdout.contains("Copying blob")
            || stderr.contains("reading blob")
            || stderr.contains("initializing image from source"),
        "unclassifiable skopeo result for {src}:\n{stdout}\n{stderr}"
    );
    (true, stderr)
}

/// `imprimatur policy check`: (allowed, output); exit 2 is a test failure.
fn imprimatur_allows(args: &[String]) -> (bool, String) {
    let out = run(util::imprimatur()
        .args(["policy", "check", "--strict-subkeys"])
        .args(args));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        other => panic!("imprimatur policy check {args:?} exited {other:?}:\n{text}"),
    }
}

#[test]
fn generated_trust_config_is_obeyed_by_skopeo() {
    if !require_tools(&["skopeo", "docker-registry", "umoci"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1", "v2"]);
    let work = Scratch::new();
    let (site_key, site_pub) = keygen(&work, "site");
    let (other_key, _) = keygen(&work, "other");
    let look = work.path("lookaside");
    std::fs::create_dir_all(&look).expect("lookaside dir");
    let policy = work.path("etc/policy.json");
    let regd = work.path("etc/registries.d");
    let look_url = format!("file://{}", s(&look));
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&site_pub),
            "--lookaside",
            &look_url,
            "--lookaside-staging",
            &look_url,
            &host,
        ],
    );
    // The files exist and lint cleanly.
    let lint = run_ok(
        util::imprimatur()
            .args(["policy", "lint", "--deny-warnings", "--policy"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd),
    );
    assert!(lint.status.success());

    let signed = layout.push("v1", &format!("{host}/ns/signed:v1"));
    let unsigned = layout.push("v2", &format!("{host}/ns/unsigned:v2"));
    let otherkey = layout.push("v1", &format!("{host}/ns/otherkey:v1"));
    let wrongid = layout.push("v2", &format!("{host}/ns/wrongid:v2"));
    let sig_path = |img: &crate::peers::PushedImage| {
        let repo = img
            .reference
            .split_once('/')
            .map(|(_, r)| r)
            .unwrap_or_default();
        let repo = repo.rsplit_once(':').map(|(r, _)| r).unwrap_or(repo);
        look.join(format!("{repo}@{}", img.digest.replacen(':', "=", 1)))
            .join("signature-1")
    };
    imprimatur_sign(
        &site_key,
        &signed.reference,
        &signed.manifest_path,
        &sig_path(&signed),
    );
    imprimatur_sign(
        &other_key,
        &otherkey.reference,
        &otherkey.manifest_path,
        &sig_path(&otherkey),
    );
    imprimatur_sign(
        &site_key,
        &format!("{host}/ns/elsewhere:v2"),
        &wrongid.manifest_path,
        &sig_path(&wrongid),
    );

    let tls = ["--src-tls-verify=false"];
    let cases = [
        (&signed, true, ""),
        (
            &unsigned,
            false,
            "A signature was required, but no signature exists",
        ),
        (&otherkey, false, "Invalid GPG signature"),
        (&wrongid, false, "is not accepted"),
    ];
    for (img, want, needle) in cases {
        let (got, stderr) = skopeo_allows(
            &policy,
            Some(&regd),
            &format!("docker://{}", img.reference),
            &tls,
        );
        assert_eq!(got, want, "skopeo on {}: {stderr}", img.reference);
        assert!(
            stderr.contains(needle),
            "skopeo on {}: {stderr:?} lacks {needle:?}",
            img.reference
        );
        // Same decision from imprimatur, given the same files.
        let mut args = vec![
            "--policy".to_owned(),
            s(&policy),
            "--registries-d".to_owned(),
            s(&regd),
            "--reference".to_owned(),
            img.reference.clone(),
            "--manifest".to_owned(),
            s(&img.manifest_path),
        ];
        if sig_path(img).exists() {
            args.extend(["--signature".to_owned(), s(&sig_path(img))]);
        }
        let (ours, text) = imprimatur_allows(&args);
        assert_eq!(ours, want, "imprimatur on {}:\n{text}", img.reference);
        assert!(
            text.contains(&look_url),
            "the explanation names the lookaside:\n{text}"
        );
    }
    // By digest too (matchRepoDigestOrExact).
    let by_digest = format!("docker://{host}/ns/signed@{}", signed.digest);
    assert!(skopeo_allows(&policy, Some(&regd), &by_digest, &tls).0);
}

/// A `dir:` copy of an OCI image with full blobs (so skopeo can copy it).
fn dir_image(layout: &OciLayout, tag: &str, dest: &Path) {
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--insecure-policy"])
            .arg(layout.image(tag))
            .arg(format!("dir:{}", s(dest))),
    );
}

fn write_policy(dir: &Scratch, name: &str, doc: &str) -> PathBuf {
    let p = dir.write(&format!("{name}.json"), doc);
    // Every generated policy must be one that imprimatur itself accepts.
    run_ok(
        util::imprimatur()
            .args([
                "policy",
                "lint",
                "--registries-d",
                "/nonexistent",
                "--policy",
            ])
            .arg(&p),
    );
    p
}

fn signed_by(key: &str, identity: &str) -> String {
    let id = if identity.is_empty() {
        String::new()
    } else {
        format!(r#","signedIdentity":{identity}"#)
    };
    format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}{id}}}"#,
        serde_json::to_string(key).expect("json")
    )
}

#[test]
fn decision_parity_with_skopeo() {
    if !require_tools(&["skopeo", "gpg", "gpgconf", "umoci"]) {
        return;
    }
    let work = Scratch::new();
    let fx = fixtures();
    let k = |n: &str| s(&fx.join(n));

    // Images: the conformance fixtures, and images signed here by gpg via
    // skopeo (standalone-sign) and by imprimatur.
    let mut images: Vec<(String, PathBuf)> = [
        "dir-img-valid",
        "dir-img-valid-2",
        "dir-img-mixed",
        "dir-img-unsigned",
        "dir-img-modified-manifest",
        "dir-img-manifest-digest-error",
        "dir-img-valid-subkey",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), fx.join(n)))
    .collect();
    let gpg = GpgHome::new();
    let fpr = gpg.gen_key("Parity <parity@example.test>", GpgAlgo::Ed25519, None);
    let gpg_pub = work.write("gpg.pub", gpg.export_public(&fpr));
    let (imp_key, imp_pub) = keygen(&work, "imp");
    let layout = OciLayout::build(&["v1"]);
    let reference = "registry.example.test/parity/img:v1";
    let skopeo_sign = |dir: &Path, identity: &str, n: usize| {
        run_ok(
            gpg.command("skopeo")
                .arg("standalone-sign")
                .arg(dir.join("manifest.json"))
                .arg(identity)
                .arg(&fpr)
                .arg("-o")
                .arg(dir.join(format!("signature-{n}"))),
        );
    };
    for (name, sigs) in [
        ("sk-gpg", vec![("gpg", reference)]),
        (
            "sk-gpg-wrongid",
            vec![("gpg", "registry.example.test/parity/other:v1")],
        ),
        (
            "sk-imp-then-gpg",
            vec![("imp", reference), ("gpg", reference)],
        ),
        ("sk-unsigned", vec![]),
    ] {
        let dir = work.path(name);
        dir_image(&layout, "v1", &dir);
        for (i, (who, identity)) in sigs.iter().enumerate() {
            match *who {
                "gpg" => skopeo_sign(&dir, identity, i + 1),
                _ => imprimatur_sign(
                    &imp_key,
                    identity,
                    &dir.join("manifest.json"),
                    &dir.join(format!("signature-{}", i + 1)),
                ),
            }
        }
        images.push((name.to_owned(), dir));
    }

    let exact_fixture = r#"{"type":"exactReference","dockerReference":"testing/manifest:latest"}"#;
    let exact_ours = format!(r#"{{"type":"exactReference","dockerReference":"{reference}"}}"#);
    let repo_ours =
        r#"{"type":"exactRepository","dockerRepository":"registry.example.test/parity/img"}"#;
    let parent_of_ours = s(work.path("x").parent().expect("parent"));
    let policies: Vec<(&str, String)> = vec![
        ("fixture-key exactReference", format!(r#"{{"default":[{}]}}"#, signed_by(&k("public-key.gpg"), exact_fixture))),
        ("fixture-key default identity", format!(r#"{{"default":[{}]}}"#, signed_by(&k("public-key.gpg"), ""))),
        (
            "fixture-key exactRepository",
            format!(r#"{{"default":[{}]}}"#, signed_by(&k("public-key.gpg"), r#"{"type":"exactRepository","dockerRepository":"docker.io/testing/manifest"}"#)),
        ),
        (
            "keyPaths fixture keys",
            format!(
                r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPaths":[{},{}],"signedIdentity":{exact_fixture}}}]}}"#,
                serde_json::to_string(&k("public-key-2.gpg")).expect("json"),
                serde_json::to_string(&k("public-key-1.gpg")).expect("json")
            ),
        ),
        ("keyData fixture key", {
            use imprimatur_policy::{IdentityMatch, KeySource, Policy, Requirement, SignedBy};
            let keys = KeySource::Data(std::fs::read(fx.join("public-key.gpg")).expect("key"));
            let id = IdentityMatch::exact_reference("testing/manifest:latest").expect("valid");
            Policy::with_default(vec![Requirement::SignedBy(SignedBy::gpg(keys, Some(id)))]).to_json()
        }),
        ("subkey keyring", format!(r#"{{"default":[{}]}}"#, signed_by(&k("public-key-with-subkey.gpg"), r#"{"type":"exactRepository","dockerRepository":"testing/manifest"}"#))),
        ("reject", r#"{"default":[{"type":"reject"}]}"#.to_owned()),
        ("accept", r#"{"default":[{"type":"insecureAcceptAnything"}]}"#.to_owned()),
        ("accept+reject", r#"{"default":[{"type":"insecureAcceptAnything"},{"type":"reject"}]}"#.to_owned()),
        ("signedBaseLayer", r#"{"default":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}]}"#.to_owned()),
        ("gpg key exactReference", format!(r#"{{"default":[{}]}}"#, signed_by(&s(&gpg_pub), &exact_ours))),
        ("imp key exactReference", format!(r#"{{"default":[{}]}}"#, signed_by(&s(&imp_pub), &exact_ours))),
        (
            "both keys keyPaths exactRepository",
            format!(
                r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPaths":[{},{}],"signedIdentity":{repo_ours}}}]}}"#,
                serde_json::to_string(&s(&gpg_pub)).expect("json"),
                serde_json::to_string(&s(&imp_pub)).expect("json")
            ),
        ),
        ("gpg and imp both required", format!(r#"{{"default":[{},{}]}}"#, signed_by(&s(&gpg_pub), &exact_ours), signed_by(&s(&imp_pub), &exact_ours))),
        ("gpg key matchExact", format!(r#"{{"default":[{}]}}"#, signed_by(&s(&gpg_pub), r#"{"type":"matchExact"}"#))),
        (
            "dir scope for our images only",
            format!(r#"{{"default":[{{"type":"reject"}}],"transports":{{"dir":{{{}:[{{"type":"insecureAcceptAnything"}}]}}}}}}"#, serde_json::to_string(&parent_of_ours).expect("json")),
        ),
    ];

    let mut cases = 0;
    let mut allowed = 0;
    let mut mismatches = Vec::new();
    for (pname, doc) in &policies {
        let policy = write_policy(&work, &pname.replace(' ', "_"), doc);
        for (iname, dir) in &images {
            let fixture = iname.starts_with("dir-img");
            let ours_only =
                pname.starts_with("gpg") || pname.starts_with("imp") || pname.starts_with("both");
            // Keep the matrix meaningful: our keys against our images, the
            // fixture keys against the fixtures, generic policies against all.
            if (fixture && ours_only)
                || (!fixture
                    && (pname.starts_with("fixture")
                        || pname.starts_with("key")
                        || pname.starts_with("subkey")))
            {
                continue;
            }
            let (sk, sk_err) = skopeo_allows(&policy, None, &format!("dir:{}", s(dir)), &[]);
            let (ours, text) =
                imprimatur_allows(&["--policy".to_owned(), s(&policy), format!("dir:{}", s(dir))]);
            cases += 1;
            allowed += usize::from(sk);
            if sk != ours {
                mismatches.push(format!(
                    "{pname} × {iname}: skopeo {sk} ({}) vs imprimatur {ours}:\n{text}",
                    sk_err.trim()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases disagree:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(cases >= 30, "only {cases} cases");
    assert!(
        allowed >= 8 && allowed + 8 <= cases,
        "the matrix needs both outcomes: {allowed} of {cases} allowed"
    );
    eprintln!("decision parity: {cases} cases, {allowed} allowed, all agree");
}

#[test]
fn trust_set_edits_in_place_and_show_lists_it() {
    let work = Scratch::new();
    let policy = work.write(
        "etc/policy.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"atomic":{"keep.example:5000":[{"type":"reject"}]},"x-future":{"anything goes":[{"type":"reject"}]}}}"#,
    );
    let regd = work.path("etc/registries.d");
    work.write(
        "etc/registries.d/other.yaml",
        "docker:\n  other.example:\n    lookaside: https://other.example/sigs\n",
    );
    let key = fixtures().join("public-key.gpg");
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            &s(&key),
            "--identity",
            "matchRepository",
            "--lookaside",
            "https://sigs.example/look",
            "quay.io/acme",
        ],
    );
    trust_set(&policy, &regd, &["-t", "reject", "default"]);
    let text = std::fs::read_to_string(&policy).expect("policy");
    let parsed = imprimatur_policy::Policy::from_json(text.as_bytes(), "p").expect("valid");
    assert!(
        parsed.scope("atomic", "keep.example:5000").is_some(),
        "{text}"
    );
    assert!(
        parsed.scope("x-future", "anything goes").is_some(),
        "unknown transport kept: {text}"
    );
    assert!(
        text.contains("    \"default\": [\n        {\n            \"type\": \"reject\""),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(regd.join("other.yaml")).expect("other"),
        "docker:\n  other.example:\n    lookaside: https://other.example/sigs\n"
    );
    let show = run_ok(
        util::imprimatur()
            .args(["trust", "show", "--json", "--policy-path"])
            .arg(&policy)
            .arg("--registries-d")
            .arg(&regd),
    );
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(view["version"], 1, "versioned view (TrustView)");
    let acme = view["scopes"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["scope"] == "quay.io/acme")
        .expect("acme row");
    assert_eq!(
        acme["registries"]["section"]["lookaside"],
        "https://sigs.example/look"
    );
    assert_eq!(acme["requirements"][0]["identity"], "matchRepository");
    assert_eq!(acme["requirements"][0]["keys"][0], s(&key));
    // Invalid input changes nothing.
    let before = std::fs::read(&policy).expect("policy");
    let out = run(util::imprimatur()
        .args([
            "trust",
            "set",
            "-t",
            "signedBy",
            "--lookaside",
            "no-scheme/x",
            "--pubkeys",
        ])
        .arg(&key)
        .arg("--policy-path")
        .arg(&policy)
        .arg("--registries-d")
        .arg(&regd)
        .arg("quay.io/other"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&policy).expect("policy"), before);
}

#[test]
fn policy_check_and_lint_exit_codes() {
    let work = Scratch::new();
    let bad = work.write(
        "bad.json",
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#,
    );
    let img = format!("dir:{}", s(&fixtures().join("dir-img-valid")));
    let out = run(util::imprimatur()
        .args(["policy", "check", "--policy"])
        .arg(&bad)
        .arg(&img));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json")
            && err.contains("$.default[0]")
            && err.contains("none of them present"),
        "{err}"
    );
    let reject = work.write("reject.json", r#"{"default":[{"type":"reject"}]}"#);
    let out = run(util::imprimatur()
        .args(["policy", "check", "--json", "--policy"])
        .arg(&reject)
        .arg(&img));
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["allowed"], false);
    assert_eq!(j["scope"], "default");
    let footguns = work.write("footguns.json", r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"docker.io/busybox":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"relative.gpg"}]}}}"#);
    let regd = work.path("r.d");
    work.write(
        "r.d/a.yaml",
        "docker:\n  example.com:\n    lookaside: example.com/sigs\n",
    );
    let out = run(util::imprimatur()
        .args(["policy", "lint", "--deny-warnings", "--json", "--policy"])
        .arg(&footguns)
        .arg("--registries-d")
        .arg(&regd));
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let warnings: Vec<String> = j["warnings"]
        .as_array()
        .expect("list")
        .iter()
        .map(|w| w["warning"].as_str().unwrap_or_default().to_owned())
        .collect();
    for needle in [
        "insecureAcceptAnything as the default",
        "relative key path",
        "docker.io/library/busybox",
        "crashes skopeo 1.9.3",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "no warning about {needle:?}: {warnings:?}"
        );
    }
    let out = run(util::imprimatur()
        .args(["policy", "lint", "--policy"])
        .arg(&footguns)
        .arg("--registries-d")
        .arg(&regd));
    assert_eq!(out.status.code(), Some(0));
}

/// Decision parity for the docker transport: one image pulled by tag, by
/// digest, by another tag and through a mirror repository, signed by gpg
/// (skopeo standalone-sign) and by imprimatur for one identity, against
/// every `signedIdentity` rule. skopeo reads the signatures from the
/// registries.d lookaside; imprimatur gets the same files.
#[test]
fn docker_identity_parity_with_skopeo() {
    if !require_tools(&["skopeo", "gpg", "gpgconf", "docker-registry", "umoci"]) {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let layout = OciLayout::build(&["v1"]);
    let work = Scratch::new();
    let gpg = GpgHome::new();
    let fpr = gpg.gen_key("Docker Parity <dp@example.test>", GpgAlgo::Ed25519, None);
    let gpg_pub = work.write("gpg.pub", gpg.export_public(&fpr));
    let (imp_key, imp_pub) = keygen(&work, "imp");
    let signed_identity = format!("{host}/ns/img:v1");
    let img = layout.push("v1", &signed_identity);
    layout.push("v1", &format!("{host}/ns/img:latest"));
    layout.push("v1", &format!("{host}/mirror/img:v1"));
    let look = work.path("lookaside");
    let regd = work.path("registries.d");
    work.write(
        "registries.d/l.yaml",
        format!("docker:\n  {host}:\n    lookaside: file://{}\n", s(&look)),
    );
    let hex = img.digest.replacen(':', "=", 1);
    let mut sigs = Vec::new();
    for repo in ["ns/img", "mirror/img"] {
        let dir = look.join(format!("{repo}@{hex}"));
        std::fs::create_dir_all(&dir).expect("lookaside dir");
        run_ok(
            gpg.command("skopeo")
                .arg("standalone-sign")
                .arg(&img.manifest_path)
                .arg(&signed_identity)
                .arg(&fpr)
                .arg("-o")
                .arg(dir.join("signature-1")),
        );
        imprimatur_sign(
            &imp_key,
            &signed_identity,
            &img.manifest_path,
            &dir.join("signature-2"),
        );
        sigs.push((repo, [dir.join("signature-1"), dir.join("signature-2")]));
    }
    let pulls = [
        format!("{host}/ns/img:v1"),
        format!("{host}/ns/img@{}", img.digest),
        format!("{host}/ns/img:latest"),
        format!("{host}/mirror/img:v1"),
    ];
    let rules = [
        String::new(),
        r#"{"type":"matchExact"}"#.to_owned(),
        r#"{"type":"matchRepository"}"#.to_owned(),
        format!(r#"{{"type":"exactReference","dockerReference":"{signed_identity}"}}"#),
        format!(r#"{{"type":"exactRepository","dockerRepository":"{host}/ns/img"}}"#),
        format!(
            r#"{{"type":"remapIdentity","prefix":"{host}/mirror","signedPrefix":"{host}/ns"}}"#
        ),
    ];
    let mut cases = 0;
    let mut allowed = 0;
    let mut mismatches = Vec::new();
    for (ki, key) in [&gpg_pub, &imp_pub].into_iter().enumerate() {
        for (ri, rule) in rules.iter().enumerate() {
            let policy = write_policy(
                &work,
                &format!("docker-{ki}-{ri}"),
                &format!(
                    r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[{}]}}}}}}"#,
                    signed_by(&s(key), rule)
                ),
            );
            for pull in &pulls {
                let (sk, sk_err) = skopeo_allows(
                    &policy,
                    Some(&regd),
                    &format!("docker://{pull}"),
                    &["--src-tls-verify=false"],
                );
                let repo = if pull.contains("/mirror/") {
                    "mirror/img"
                } else {
                    "ns/img"
                };
                let files = &sigs.iter().find(|(r, _)| *r == repo).expect("sigs").1;
                let mut args = vec![
                    "--policy".to_owned(),
                    s(&policy),
                    "--reference".to_owned(),
                    pull.clone(),
                    "--manifest".to_owned(),
                    s(&img.manifest_path),
                ];
                for f in files {
                    args.extend(["--signature".to_owned(), s(f)]);
                }
                let (ours, text) = imprimatur_allows(&args);
                cases += 1;
                allowed += usize::from(sk);
                if sk != ours {
                    mismatches.push(format!("key {ki} rule {rule:?} pull {pull}: skopeo {sk} ({}) vs imprimatur {ours}:\n{text}", sk_err.trim()));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases disagree:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        allowed >= 10 && allowed + 10 <= cases,
        "the matrix needs both outcomes: {allowed} of {cases} allowed"
    );
    eprintln!("docker decision parity: {cases} cases, {allowed} allowed, all agree");
}

/// The predecessors' node configuration (`atomic trust`, spec predecessors
/// §4) made with `imprimatur trust set`, loaded by skopeo 1.9.3 (which does
/// not know the `atomic` transport and must keep accepting the file).
#[test]
fn predecessors_node_configuration_loads_in_skopeo() {
    if !require_tools(&["skopeo"]) {
        return;
    }
    let work = Scratch::new();
    let policy = work.path("etc/containers/policy.json");
    let regd = work.path("etc/containers/registries.d");
    let vendor_key = "/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release";
    let site_key = "/etc/pki/containers/openshift@example.com";
    trust_set(&policy, &regd, &["--type", "reject", "default"]);
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            vendor_key,
            "--lookaside",
            "https://access.redhat.com/webassets/docker/content/sigstore",
            "registry.access.redhat.com",
        ],
    );
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            site_key,
            "docker-registry.default.svc:5000",
        ],
    );
    trust_set(
        &policy,
        &regd,
        &[
            "--type",
            "signedBy",
            "--pubkeys",
            site_key,
            "--transport",
            "atomic",
            "docker-registry.default.svc:5000",
        ],
    );
    let p = imprimatur_registry::files::load_policy(&policy).expect("policy");
    assert_eq!(p.default, vec![imprimatur_policy::Requirement::Reject]);
    for t in ["docker", "atomic"] {
        assert!(
            p.scope(t, "docker-registry.default.svc:5000").is_some(),
            "{t}"
        );
    }
    let reg = imprimatur_registry::files::load_registries_dir(&regd).expect("registries.d");
    let r = imprimatur_reference::Reference::parse_normalized(
        "registry.access.redhat.com/rhel7/rhel:latest",
    )
    .expect("ref");
    assert_eq!(
        reg.lookaside_for(&r, imprimatur_policy::Purpose::Read)
            .map(|c| c.url)
            .as_deref(),
        Some("https://access.redhat.com/webassets/docker/content/sigstore")
    );
    // skopeo parses it: a dir: image falls to the default and is rejected by
    // policy (not "invalid policy").
    let (allowed, stderr) = skopeo_allows(
        &policy,
        Some(&regd),
        &format!("dir:{}", s(&fixtures().join("dir-img-valid"))),
        &[],
    );
    assert!(
        !allowed && stderr.contains("is rejected by policy"),
        "{stderr}"
    );
}

/// A lone UTF-16 surrogate escape in `policy.json`: Go's encoding/json (and
/// so skopeo 1.9.3) decodes it to U+FFFD instead of rejecting the file, and
/// the scope then matches a path containing U+FFFD. The shared strict JSON
/// reader (`imprimatur_signature::json`) must do the same.
#[test]
fn lone_surrogate_policy_like_skopeo() {
    if !require_tools(&["skopeo"]) {
        return;
    }
    let work = Scratch::new();
    let root = std::fs::canonicalize(work.path("")).expect("canonical scratch dir");
    let img = root.join("img\u{FFFD}");
    std::fs::create_dir_all(&img).expect("mkdir");
    let src = fixtures().join("dir-img-unsigned");
    for entry in std::fs::read_dir(&src).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), img.join(entry.file_name())).expect("copy");
    }
    // The scope is written with the escape; the image path holds U+FFFD.
    let escaped = format!("{}/img\\ud800", s(&root));
    let rejecting = work.write(
        "reject-surrogate.json",
        format!(
            r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"dir":{{"{escaped}":[{{"type":"reject"}}]}}}}}}"#
        ),
    );
    let image = format!("dir:{}", s(&img));
    let (allowed, stderr) = skopeo_allows(&rejecting, None, &image, &[]);
    assert!(
        !allowed && stderr.contains("rejected by policy"),
        "skopeo must load the policy and apply the U+FFFD scope: {stderr}"
    );
    let (ours, text) = imprimatur_allows(&["--policy".to_owned(), s(&rejecting), image.clone()]);
    assert!(!ours, "{text}");
    assert!(text.contains('\u{FFFD}'), "scope shown with U+FFFD: {text}");

    // An unknown key with a lone surrogate: both refuse it as an unknown
    // key (not as a JSON syntax error), naming it with U+FFFD.
    let unknown = work.write(
        "unknown-surrogate.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}],"x\ud800":1}"#,
    );
    let out = run(Command::new("skopeo")
        .args(["copy", "--policy"])
        .arg(&unknown)
        .arg(&image)
        .arg(format!("dir:{}", s(&work.path("out")))));
    let sk = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && sk.contains("Unknown key \\\"x\u{FFFD}\\\""),
        "{sk}"
    );
    let out = run(util::imprimatur()
        .args(["policy", "check", "--policy"])
        .arg(&unknown)
        .arg(&image));
    let ours = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{ours}");
    assert!(ours.contains("Unknown key \"x\u{FFFD}\""), "{ours}");
}
