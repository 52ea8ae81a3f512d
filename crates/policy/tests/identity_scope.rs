//! M01–M40 (§8.5 identity matching) and S01–S18 (§8.8 scope lookup).

use imprimatur_policy::{
    IdentityMatch, Policy, PolicyImage, Requirement, identity_matches, is_valid_remap_prefix,
    ref_matches_prefix, remap,
};
use imprimatur_reference::Reference;

const X: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const Y: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn r(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn m(rule: &IdentityMatch, image: &str, signed: &str) -> bool {
    identity_matches(rule, Some(&r(image)), signed)
}

/// Symmetric rules are checked in both directions.
fn sym(id: &str, rule: &IdentityMatch, a: &str, b: &str, want: bool) {
    assert_eq!(m(rule, a, b), want, "{id}: {a} vs {b}");
    assert_eq!(m(rule, b, a), want, "{id} (reversed): {b} vs {a}");
}

#[test]
fn m01_m10_match_exact() {
    let e = IdentityMatch::MatchExact;
    sym("M01", &e, "busybox:latest", "busybox:latest", true);
    sym("M02", &e, "library/busybox:latest", "busybox:latest", true);
    sym(
        "M02b",
        &e,
        "docker.io/library/busybox:latest",
        "busybox:latest",
        true,
    );
    sym(
        "M03",
        &e,
        &format!("busybox@{X}"),
        &format!("busybox@{X}"),
        true,
    );
    sym("M04", &e, "busybox:latest", "busybox:notlatest", false);
    sym(
        "M05",
        &e,
        "busybox:latest",
        "hostname/library/busybox:notlatest",
        false,
    );
    sym("M06", &e, "busybox:latest", &format!("busybox@{X}"), false);
    sym("M07", &e, "busybox", "busybox:latest", false);
    sym(
        "M08",
        &e,
        &format!("busybox:latest@{X}"),
        &format!("busybox:latest@{X}"),
        true,
    );
    sym(
        "M09",
        &e,
        &format!("busybox:latest@{X}"),
        "busybox:latest",
        false,
    );
    for bad in ["INVALID", ""] {
        assert!(!m(&e, "busybox:latest", bad), "M10 {bad:?}");
    }
    // exactReference uses the same table with the configured value as I.
    let er = |c: &str| IdentityMatch::exact_reference(c).expect("valid");
    assert!(identity_matches(
        &er("busybox:latest"),
        None,
        "docker.io/library/busybox:latest"
    ));
    assert!(!identity_matches(
        &er("busybox:latest"),
        None,
        "busybox:notlatest"
    ));
    assert!(!identity_matches(
        &er(&format!("busybox:latest@{X}")),
        None,
        "busybox:latest"
    ));
}

#[test]
fn m11_m15_match_repository() {
    let e = IdentityMatch::MatchRepository;
    sym("M11", &e, "busybox:latest", "busybox:notlatest", true);
    sym("M12", &e, "busybox", "busybox:notlatest", true);
    sym(
        "M13",
        &e,
        &format!("busybox@{X}"),
        &format!("busybox@{Y}"),
        true,
    );
    sym("M14", &e, "busybox:latest", "notbusybox:latest", false);
    sym(
        "M15",
        &e,
        "hostname/library/busybox:latest",
        "busybox:notlatest",
        false,
    );
    let er = IdentityMatch::exact_repository("busybox:latest").expect("valid");
    assert!(identity_matches(&er, None, "busybox:notlatest"));
    assert!(!identity_matches(&er, None, "notbusybox:latest"));
}

#[test]
fn m16_m23_match_repo_digest_or_exact() {
    let e = IdentityMatch::MatchRepoDigestOrExact;
    let cases = [
        (
            "M16",
            "busybox:latest".to_owned(),
            "busybox:notlatest".to_owned(),
            false,
        ),
        (
            "M17",
            "busybox:latest".into(),
            format!("busybox@{X}"),
            false,
        ),
        ("M18", format!("busybox@{X}"), "busybox:latest".into(), true),
        ("M19", format!("busybox@{X}"), format!("busybox@{Y}"), true),
        ("M20", format!("busybox@{X}"), "busybox".into(), false),
        ("M21", "busybox:latest".into(), "busybox".into(), false),
        (
            "M22",
            format!("busybox:latest@{X}"),
            "busybox:latest".into(),
            false,
        ),
        (
            "M23",
            "busybox:latest".into(),
            format!("busybox:latest@{X}"),
            false,
        ),
    ];
    for (id, i, s, want) in cases {
        assert_eq!(m(&e, &i, &s), want, "{id}: {i} vs {s}");
    }
    assert!(m(&e, "busybox:latest", "busybox:latest"));
}

#[test]
fn rules_needing_an_image_identity_fail_without_one() {
    for rule in [
        IdentityMatch::MatchExact,
        IdentityMatch::MatchRepoDigestOrExact,
        IdentityMatch::MatchRepository,
        IdentityMatch::remap_identity("docker.io", "example.com").expect("valid"),
    ] {
        assert!(!identity_matches(&rule, None, "busybox:latest"), "{rule:?}");
    }
}

#[test]
fn m24_m30_prefix_match() {
    let cases = [
        ("M24", "docker.io/image", "docker.io", true),
        ("M25", "example.com:5000/image", "example.com", false),
        ("M26", "example.com:50000/image", "example.com:5000", false),
        (
            "M27",
            "docker.io/libraryy/image",
            "docker.io/library",
            false,
        ),
        (
            "M28",
            "docker.io/library/busybox",
            "docker.io/library",
            true,
        ),
        (
            "M29",
            &format!("example.com/ns/image:tag@{X}"),
            "example.com/ns/image",
            true,
        ),
        (
            "M30",
            "example.com/ns/imagee",
            "example.com/ns/image",
            false,
        ),
    ];
    for (id, reference, prefix, want) in cases {
        assert_eq!(ref_matches_prefix(&r(reference), prefix), want, "{id}");
    }
}

#[test]
fn m31_m36_remap_rewrite() {
    let ok = |p: &str, sp: &str, i: &str| -> Option<Result<String, ()>> {
        remap(&r(i), p, sp).map(|res| res.map(|x| x.to_string()))
    };
    assert_eq!(
        ok(
            "mirror.example",
            "vendor.example",
            "mirror.example/ns/image:tag"
        ),
        Some(Ok("vendor.example/ns/image:tag".into())),
        "M31"
    );
    assert_eq!(
        ok("docker.io", "not-docker-signed.example", "busybox"),
        Some(Ok("not-docker-signed.example/library/busybox".into())),
        "M32"
    );
    assert_eq!(
        ok(
            "docker.io/library",
            "not-docker-signed.example/ns",
            "busybox"
        ),
        Some(Ok("not-docker-signed.example/ns/busybox".into())),
        "M33"
    );
    assert_eq!(
        ok(
            "mirror.example",
            "vendor.example",
            "prefixmirror.example/ns/image:tag"
        ),
        None,
        "M34"
    );
    assert_eq!(
        ok(
            "mirror.example/ns/image",
            "vendor.example:5000",
            "mirror.example/ns/image:tag"
        ),
        Some(Err(())),
        "M35"
    );
    assert_eq!(
        ok(
            "mirror.example/ns/image",
            "notlocalhost",
            "mirror.example/ns/image:tag"
        ),
        Some(Err(())),
        "M36"
    );
    // M35/M36 as matches: an invalid rewrite never matches.
    let rule =
        IdentityMatch::remap_identity("mirror.example/ns/image", "notlocalhost").expect("valid");
    assert!(!m(&rule, "mirror.example/ns/image:tag", "notlocalhost:tag"));
}

#[test]
fn m37_m40_remap_match() {
    let rm = |p: &str, sp: &str| IdentityMatch::remap_identity(p, sp).expect("valid prefixes");
    assert!(
        m(
            &rm("mirror.example", "docker.io/library"),
            "mirror.example/busybox:latest",
            "busybox:latest"
        ),
        "M37"
    );
    assert!(
        m(
            &rm("docker.io/library", "original.com"),
            "copied:latest",
            "original.com/copied:latest"
        ),
        "M38"
    );
    assert!(
        !m(
            &rm("docker.io/library", "original.com"),
            "copied:latest",
            "original.com/ns/copied:latest"
        ),
        "M39"
    );
    let rule = rm("127.0.0.1:15731/other", "127.0.0.1:15731/ns");
    assert!(
        m(
            &rule,
            "127.0.0.1:15731/other/img:v1",
            "127.0.0.1:15731/ns/img:v1"
        ),
        "M40 tag"
    );
    assert!(
        m(
            &rule,
            &format!("127.0.0.1:15731/other/img@{X}"),
            "127.0.0.1:15731/ns/img:v1"
        ),
        "M40 digest"
    );
    // Prefix not applying: the image is used unchanged.
    assert!(m(
        &rule,
        "127.0.0.1:15731/ns/img:v1",
        "127.0.0.1:15731/ns/img:v1"
    ));
}

#[test]
fn remap_prefix_validation() {
    for ok in [
        "localhost",
        "example.com:80",
        "example.com/ns1/ns2/ns3/repo.with.dots-dashes_underscores",
        "shortname",
        "ns/shortname",
    ] {
        assert!(is_valid_remap_prefix(ok), "{ok} should be valid");
    }
    for bad in [
        "",
        "repo_with_underscores",
        "example.com/",
        "example.com/UPPERCASEISINVALID",
        "example.com/repo/",
        "example.com/repo:tag",
        &format!("example.com/repo@{X}"),
    ] {
        assert!(!is_valid_remap_prefix(bad), "{bad} should be invalid");
    }
}

// ---------------------------------------------------------------------------
// Scope lookup

fn policy(doc: &str) -> Policy {
    Policy::from_json(doc.as_bytes(), "scopes.json").expect("valid policy")
}

/// A policy whose every scope is `signedBy` with keyPath = the scope name, so
/// the selected scope can be read back from the requirement itself.
fn labelled(transport: &str, scopes: &[&str], default_label: &str) -> Policy {
    let req = |label: &str| {
        format!(r#"[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/{label}"}}]"#)
    };
    let entries: Vec<String> = scopes
        .iter()
        .map(|s| format!(r#""{s}":{}"#, req(&format!("scope={s}"))))
        .collect();
    policy(&format!(
        r#"{{"default":{},"transports":{{"{transport}":{{{}}}}}}}"#,
        req(default_label),
        entries.join(",")
    ))
}

fn selected(p: &Policy, image: &PolicyImage) -> String {
    match &p.select(image).requirements[0] {
        Requirement::SignedBy(sb) => match &sb.keys {
            imprimatur_policy::KeySource::Path(path) => path.trim_start_matches('/').to_owned(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn s01_s11_docker_scope_lookup() {
    let scopes = [
        "",
        "unmatched",
        "deep.com",
        "*.very.deep.com",
        "*.deep.com",
        "deep.com/n1",
        "deep.com/n1/n2",
        "deep.com/n1/n2/n3",
        "deep.com/n1/n2/n3/repo",
        "deep.com/n1/n2/n3/repo:tag2",
    ];
    let p = labelled("docker", &scopes, "global");
    let cases = [
        (
            "S01",
            "deep.com/n1/n2/n3/repo:tag2",
            "deep.com/n1/n2/n3/repo:tag2",
        ),
        (
            "S02",
            "deep.com/n1/n2/n3/repo:nottag2",
            "deep.com/n1/n2/n3/repo",
        ),
        ("S03", "deep.com/n1/n2/n3/notrepo:tag2", "deep.com/n1/n2/n3"),
        ("S04", "deep.com/n1/n2/notn3/repo:tag2", "deep.com/n1/n2"),
        ("S05", "deep.com/n1/notn2/n3/repo:tag2", "deep.com/n1"),
        ("S06", "deep.com/notn1/n2/n3/repo:tag2", "deep.com"),
        ("S07", "very.deep.com/n1/n2/n3/repo:tag2", "*.deep.com"),
        (
            "S08",
            "not.very.deep.com/n1/n2/n3/repo:tag2",
            "*.very.deep.com",
        ),
        ("S09", "this.does-not/match:anything", ""),
    ];
    for (id, image, want) in cases {
        let img = PolicyImage::parse_docker(image).expect("reference");
        assert_eq!(selected(&p, &img), format!("scope={want}"), "{id}: {image}");
    }
    // S10: transport section without "" and no match → global default.
    let p = labelled("docker", &["deep.com"], "global");
    let img = PolicyImage::parse_docker("other.com/x:1").expect("reference");
    assert_eq!(selected(&p, &img), "global", "S10");
    assert_eq!(p.select(&img).scope, None, "S10");
    // S11: transport absent from the policy.
    let p = labelled("atomic", &[""], "global");
    assert_eq!(selected(&p, &img), "global", "S11");
}

#[test]
fn s12_s18_observed_with_skopeo() {
    let d = "sha256:3486ab1f2c4a3f0c21a8a4c1a0ef1bb44b6b7e59fe8e1e4ae4a0ab9f2d4cbe11";
    let p = labelled(
        "docker",
        &[
            "127.0.0.1:15731/ns/img:v1",
            "127.0.0.1:15731/ns/img",
            "127.0.0.1:15731",
        ],
        "global",
    );
    let sel = |img: &str| selected(&p, &PolicyImage::parse_docker(img).expect("ref"));
    assert_eq!(
        sel("127.0.0.1:15731/ns/img:v1"),
        "scope=127.0.0.1:15731/ns/img:v1",
        "S12"
    );
    assert_eq!(
        sel("127.0.0.1:15731/ns/img:latest"),
        "scope=127.0.0.1:15731/ns/img",
        "S13"
    );
    assert_eq!(
        sel("127.0.0.1:15731/ns/other:v1"),
        "scope=127.0.0.1:15731",
        "S14"
    );
    let p = labelled("docker", &["*.0.0.1"], "global");
    assert_eq!(
        selected(
            &p,
            &PolicyImage::parse_docker("127.0.0.1:15731/ns/img:v1").expect("ref")
        ),
        "scope=*.0.0.1",
        "S15"
    );
    let p = labelled("docker", &["127.0.0.1"], "global");
    assert_eq!(
        selected(
            &p,
            &PolicyImage::parse_docker("127.0.0.1:15731/ns/img:v1").expect("ref")
        ),
        "global",
        "S16"
    );
    let p = labelled("docker", &["", "example.com"], "global");
    assert_eq!(
        selected(
            &p,
            &PolicyImage::parse_docker("127.0.0.1:15731/ns/img:v1").expect("ref")
        ),
        "scope=",
        "S17"
    );
    let scope = format!("127.0.0.1:15731/ns/img@{d}");
    let p = labelled("docker", &[&scope, "127.0.0.1:15731/ns/img"], "global");
    assert_eq!(
        selected(&p, &PolicyImage::parse_docker(&scope).expect("ref")),
        format!("scope={scope}"),
        "S18"
    );
}

#[test]
fn docker_defaults_and_wildcards() {
    let img = PolicyImage::parse_docker("busybox").expect("ref");
    assert_eq!(img.identity, "docker.io/library/busybox:latest");
    assert_eq!(img.within_transport, "//docker.io/library/busybox:latest");
    let p = labelled("docker", &["*.io"], "global");
    assert_eq!(selected(&p, &img), "scope=*.io");
    // Wildcards need at least one whole label.
    let p = labelled("docker", &["*.example.com"], "global");
    let sel = |i: &str| selected(&p, &PolicyImage::parse_docker(i).expect("ref"));
    assert_eq!(sel("foo.example.com/x:1"), "scope=*.example.com");
    assert_eq!(sel("a.foo.example.com/x:1"), "scope=*.example.com");
    assert_eq!(sel("example.com/x:1"), "global");
}

#[test]
fn dir_parent_directory_scopes() {
    let p = labelled("dir", &["/srv/images", "/srv"], "global");
    let img = PolicyImage::dir("/srv/images/a/b");
    assert_eq!(img.namespaces, ["/srv/images/a", "/srv/images", "/srv"]);
    assert_eq!(selected(&p, &img), "scope=/srv/images");
    assert_eq!(selected(&p, &PolicyImage::dir("/other/x")), "global");
    assert_eq!(img.display_name(), "dir:/srv/images/a/b");
}
