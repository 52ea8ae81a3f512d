//! Unit tests: the examples of spec §4.3 and the RI's reference tests.

use super::*;

fn norm(s: &str) -> Reference {
    match Reference::parse_normalized(s) {
        Ok(r) => r,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn norm_err(s: &str) -> Error {
    match Reference::parse_normalized(s) {
        Ok(r) => panic!("{s:?} should fail, got {r}"),
        Err(e) => e,
    }
}

const F64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

#[test]
fn spec_examples_normalized() {
    // (input, full form, domain, path, tag)
    let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
        (
            "busybox",
            "docker.io/library/busybox",
            "docker.io",
            "library/busybox",
            None,
        ),
        (
            "busybox:latest",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            Some("latest"),
        ),
        (
            "library/busybox",
            "docker.io/library/busybox",
            "docker.io",
            "library/busybox",
            None,
        ),
        (
            "docker.io/busybox:latest",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            Some("latest"),
        ),
        (
            "index.docker.io/library/debian",
            "docker.io/library/debian",
            "docker.io",
            "library/debian",
            None,
        ),
        (
            "docker/docker",
            "docker.io/docker/docker",
            "docker.io",
            "docker/docker",
            None,
        ),
        (
            "test_com/foo",
            "docker.io/test_com/foo",
            "docker.io",
            "test_com/foo",
            None,
        ),
        ("test.com/foo", "test.com/foo", "test.com", "foo", None),
        (
            "test-com:8080/foo",
            "test-com:8080/foo",
            "test-com:8080",
            "foo",
            None,
        ),
        ("localhost/foo", "localhost/foo", "localhost", "foo", None),
        (
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000",
            "library/debian",
            None,
        ),
        (
            "xn--n3h.com:18080/foo",
            "xn--n3h.com:18080/foo",
            "xn--n3h.com:18080",
            "foo",
            None,
        ),
        (
            "test.com:tag",
            "docker.io/library/test.com:tag",
            "docker.io",
            "library/test.com",
            Some("tag"),
        ),
        (
            "foo_bar.com:8080",
            "docker.io/library/foo_bar.com:8080",
            "docker.io",
            "library/foo_bar.com",
            Some("8080"),
        ),
        (
            "lowercase:Uppercase",
            "docker.io/library/lowercase:Uppercase",
            "docker.io",
            "library/lowercase",
            Some("Uppercase"),
        ),
        (
            "Foo.Example.COM/bar:v1",
            "Foo.Example.COM/bar:v1",
            "Foo.Example.COM",
            "bar",
            Some("v1"),
        ),
    ];
    for &(input, full, domain, path, tag) in cases {
        let r = norm(input);
        assert_eq!(r.to_string(), full, "{input}");
        assert_eq!(r.domain(), domain, "{input}");
        assert_eq!(r.path(), path, "{input}");
        assert_eq!(r.name(), format!("{domain}/{path}"), "{input}");
        assert_eq!(r.tag(), tag, "{input}");
        assert_eq!(r.digest(), None, "{input}");
        assert_eq!(r.is_name_only(), tag.is_none(), "{input}");
    }
}

#[test]
fn spec_examples_errors() {
    assert_eq!(norm_err("docker/Docker"), Error::NameContainsUppercase);
    assert_eq!(norm_err("Uppercase:tag"), Error::NameContainsUppercase);
    assert_eq!(
        norm_err("docker/Docker").to_string(),
        "invalid reference format: repository name must be lowercase"
    );
    for bad in [
        "-docker",
        "docker-/docker",
        "____/____",
        "dock..er/docker",
        "dock_.er/docker",
        "docker/",
        "docker///docker",
        "https://github.com/docker/docker",
        "",
        ":",
        "@",
        "foo:",
        "foo@",
        "/foo",
        "foo/",
        "foo bar",
        "foo:bar:baz",
        "localhost:/foo",
        "localhost:5000x/foo",
        "a.-b/foo",
        "-a.com/foo",
        "a-.com/foo",
        "a..com/foo",
        "docker.io/library/busybox@sha256",
        "busybox:.tag",
        "busybox:-tag",
        "busybox:tag@",
        "busybox@sha256:abc@sha256:abc",
        "ubuntu\u{e9}",
    ] {
        assert_eq!(norm_err(bad), Error::InvalidFormat, "{bad:?}");
    }
    assert_eq!(norm_err("").to_string(), "invalid reference format");
}

#[test]
fn hex_identifier() {
    let hex = "0123456789abcdef".repeat(4);
    let e = norm_err(&hex);
    assert_eq!(e, Error::HexIdentifier(hex.clone()));
    assert!(
        e.to_string()
            .ends_with("cannot specify 64-byte hexadecimal strings")
    );
    // Prefixed with a domain, it is an ordinary repository name.
    let r = norm(&format!("docker.io/{hex}"));
    assert_eq!(r.path(), format!("library/{hex}"));
    // 63 or 65 characters, or uppercase, are not image IDs.
    assert!(Reference::parse_normalized(&hex[..63]).is_ok());
    assert!(Reference::parse_normalized(&format!("{hex}a")).is_ok());
    assert_eq!(norm_err(&hex.to_uppercase()), Error::NameContainsUppercase);
}

#[test]
fn digests_in_references() {
    let digest = format!("sha256:{}", "e6".repeat(32));
    let r = norm(&format!("gcr.io/library/busybox:latest@{digest}"));
    assert_eq!(r.domain(), "gcr.io");
    assert_eq!(r.path(), "library/busybox");
    assert_eq!(r.tag(), Some("latest"));
    assert_eq!(r.digest().map(Digest::as_str), Some(digest.as_str()));
    assert_eq!(
        r.to_string(),
        format!("gcr.io/library/busybox:latest@{digest}")
    );
    assert!(!r.is_name_only());

    let r = norm(&format!("busybox@{digest}"));
    assert_eq!(r.to_string(), format!("docker.io/library/busybox@{digest}"));
    assert_eq!(r.tag(), None);
    assert_eq!(r.with_default_tag(), r);

    let r = norm(&format!("localhost:5000/a/b:v1@{digest}"));
    assert_eq!(
        (r.domain(), r.path(), r.tag()),
        ("localhost:5000", "a/b", Some("v1"))
    );

    assert_eq!(
        norm_err(&format!("repo@sha256:{}", "f".repeat(34))),
        Error::DigestInvalidLength
    );
    assert_eq!(
        norm_err(&format!("validname@invaliddigest:{F64}")),
        Error::DigestUnsupported
    );
    assert_eq!(
        norm_err(&format!("validname@invaliddigest:{F64}")).to_string(),
        "unsupported digest algorithm"
    );
    // The reference grammar needs at least 32 hex characters.
    assert_eq!(
        norm_err(&format!("repo@sha256:{}", "f".repeat(31))),
        Error::InvalidFormat
    );
    // Uppercase hex passes the grammar, then fails digest validation.
    assert_eq!(
        norm_err(&format!("repo@sha256:{}", "F".repeat(64))),
        Error::DigestInvalidFormat
    );
    // An uppercase algorithm is part of the "repository name" check.
    assert_eq!(
        norm_err(&format!("repo@SHA256:{F64}")),
        Error::NameContainsUppercase
    );
    assert_eq!(
        norm_err(&format!("repo:tag@SHA256:{F64}")),
        Error::DigestInvalidFormat
    );
}

#[test]
fn name_length_limit() {
    // RI grammar test (no normalization): "a/"×127 + "a" is 255 bytes.
    let ok = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
    let r = parse_any(&ok).expect("255-byte name");
    assert_eq!(r.name().len(), 255);
    assert_eq!(r.domain(), "a");
    let long = format!("{}a:tag-puts-this-over-max", "a/".repeat(128));
    assert_eq!(parse_any(&long), Err(Error::NameTooLong));
    assert_eq!(parse_any(""), Err(Error::NameEmpty));

    // Normalized: the limit applies to the full name including "docker.io/".
    let path_ok = format!("{}a", "a/".repeat(122)); // 245 bytes
    let r = norm(&format!("{path_ok}:v"));
    assert_eq!(r.name().len(), 255);
    assert_eq!(norm_err(&format!("a/{path_ok}:v")), Error::NameTooLong);
    assert_eq!(
        norm_err(&format!("a/{path_ok}")).to_string(),
        "repository name must not be more than 255 characters"
    );
    // Grammar errors take precedence over the length check.
    assert_eq!(
        norm_err(&format!("A{}", "a/".repeat(200))),
        Error::NameContainsUppercase
    );
}

#[test]
fn tag_limits() {
    let t128 = format!("_{}", "a.-".repeat(42)) + "x";
    assert_eq!(t128.len(), 128);
    assert_eq!(norm(&format!("busybox:{t128}")).tag(), Some(t128.as_str()));
    assert_eq!(norm_err(&format!("busybox:{t128}x")), Error::InvalidFormat);
}

#[test]
fn underscore_domain_quirk() {
    // Contains '.', so treated as a domain by splitDockerDomain, but not a
    // valid host name: the grammar then reads the whole name as a path.
    let r = norm("my_registry.com/foo:v1");
    assert_eq!(r.domain(), "");
    assert_eq!(r.path(), "my_registry.com/foo");
    assert_eq!(r.name(), "my_registry.com/foo");
    assert_eq!(r.to_string(), "my_registry.com/foo:v1");
    assert_eq!(Reference::parse_canonical("my_registry.com/foo:v1"), Ok(r));
}

#[test]
fn canonical() {
    for s in [
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
        "example.com:5000/ns/repo:v1",
        "localhost/foo",
    ] {
        assert_eq!(
            Reference::parse_canonical(s).map(|r| r.to_string()),
            Ok(s.to_owned())
        );
    }
    for s in [
        "busybox",
        "busybox:latest",
        "docker.io/busybox",
        "index.docker.io/library/busybox",
        "library/busybox",
    ] {
        assert_eq!(
            Reference::parse_canonical(s),
            Err(Error::NameNotCanonical),
            "{s}"
        );
    }
    assert_eq!(
        Reference::parse_canonical("busybox").map_err(|e| e.to_string()),
        Err("repository name must be canonical".to_owned())
    );
    // Errors of normalization come first.
    assert_eq!(
        Reference::parse_canonical("Busybox"),
        Err(Error::NameContainsUppercase)
    );
}

#[test]
fn familiar_forms() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let cases: Vec<(String, String)> = vec![
        ("busybox".into(), "busybox".into()),
        (
            "docker.io/library/busybox:latest".into(),
            "busybox:latest".into(),
        ),
        ("docker/docker".into(), "docker/docker".into()),
        ("library/foo/bar".into(), "library/foo/bar".into()),
        (
            format!("docker.io/library/busybox@{digest}"),
            format!("busybox@{digest}"),
        ),
        (
            "example.com/library/foo:1".into(),
            "example.com/library/foo:1".into(),
        ),
        ("localhost:5000/foo".into(), "localhost:5000/foo".into()),
    ];
    for (input, want) in cases {
        assert_eq!(norm(&input).familiar(), want, "{input}");
    }
}

#[test]
fn default_tag_and_editing() {
    let r = norm("busybox");
    assert!(r.is_name_only());
    let t = r.with_default_tag();
    assert_eq!(t.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(t.with_default_tag(), t);
    let v1 = norm("busybox:v1");
    assert_eq!(v1.with_default_tag(), v1);
    assert_eq!(r.with_tag("v1"), Ok(v1.clone()));
    assert_eq!(r.with_tag("-v1"), Err(Error::TagInvalidFormat));
    assert_eq!(r.with_tag(""), Err(Error::TagInvalidFormat));
    let d = Digest::sha256_of(b"m");
    let both = v1.with_digest(d.clone());
    assert_eq!(
        both.to_string(),
        format!("docker.io/library/busybox:v1@{d}")
    );
    assert_eq!(both.without_tag_and_digest(), r);
}

#[test]
fn equality_is_normalized() {
    assert_eq!(norm("busybox"), norm("docker.io/library/busybox"));
    assert_eq!(norm("busybox"), norm("index.docker.io/busybox"));
    assert_ne!(norm("busybox"), norm("busybox:latest"));
    assert_ne!(norm("Example.com/a"), norm("example.com/a"));
}

#[test]
fn serde_as_string() {
    let r = norm("busybox:1");
    let json = serde_json::to_string(&r).expect("serialize");
    assert_eq!(json, "\"docker.io/library/busybox:1\"");
    let back: Reference = serde_json::from_str("\"busybox:1\"").expect("deserialize");
    assert_eq!(back, r);
    assert!(serde_json::from_str::<Reference>("\"Busybox\"").is_err());
}

#[test]
fn grammar_helpers() {
    for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "a-b.c_d__e", "0"] {
        assert!(is_path_component(ok), "{ok}");
    }
    for bad in [
        "", "A", "a_", "_a", "a___b", "a._b", "a.", "a..b", "a-", "-a", "a/b", "a:b",
    ] {
        assert!(!is_path_component(bad), "{bad}");
    }
    for ok in [
        "a",
        "localhost",
        "A-b.C",
        "x:1",
        "1.2.3.4:5000",
        "xn--n3h.com",
    ] {
        assert!(is_domain(ok), "{ok}");
    }
    for bad in [
        "",
        "a:",
        ":1",
        "a:b",
        "a_b",
        "a.",
        ".a",
        "-a",
        "a-",
        "a:1:2",
        "[::1]:5000",
    ] {
        assert!(!is_domain(bad), "{bad}");
    }
}

#[test]
fn namespaces_spec_example() {
    let r = norm("a.b.example.com:5000/x/y");
    let want = [
        "a.b.example.com:5000/x/y",
        "a.b.example.com:5000/x",
        "a.b.example.com:5000",
        "*.b.example.com",
        "*.example.com",
        "*.com",
    ];
    assert_eq!(r.docker_namespaces(), want);
    // Name-only: the identity is the repository name, listed once.
    assert_eq!(r.policy_scopes(), want);
}

#[test]
fn namespaces_docker_hub_and_ip() {
    let r = norm("busybox").with_default_tag();
    assert_eq!(
        r.policy_scopes(),
        [
            "docker.io/library/busybox:latest",
            "docker.io/library/busybox",
            "docker.io/library",
            "docker.io",
            "*.io",
        ]
    );
    // The port-less host is not a namespace; wildcards come from it.
    let r = norm("127.0.0.1:15731/ns/img:v1");
    let ns = r.docker_namespaces();
    assert_eq!(
        ns,
        [
            "127.0.0.1:15731/ns/img",
            "127.0.0.1:15731/ns",
            "127.0.0.1:15731",
            "*.0.0.1",
            "*.0.1",
            "*.1"
        ]
    );
    assert!(!ns.iter().any(|s| s == "127.0.0.1"));
    let r = norm("localhost/foo");
    assert_eq!(r.docker_namespaces(), ["localhost/foo", "localhost"]);
    let d = Digest::sha256_of(b"m");
    let r = norm(&format!("localhost:5000/foo@{d}"));
    assert_eq!(
        r.policy_scopes(),
        [
            format!("localhost:5000/foo@{d}"),
            "localhost:5000/foo".into(),
            "localhost:5000".into()
        ]
    );
}

/// Spec §8.8 (S01–S09): first present scope wins.
#[test]
fn scope_lookup_table() {
    let present = [
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
    let select = |image: &str| -> String {
        let r = norm(image);
        r.policy_scopes()
            .into_iter()
            .find(|s| present.contains(&s.as_str()))
            .unwrap_or_default()
    };
    let table = [
        ("deep.com/n1/n2/n3/repo:tag2", "deep.com/n1/n2/n3/repo:tag2"),
        ("deep.com/n1/n2/n3/repo:nottag2", "deep.com/n1/n2/n3/repo"),
        ("deep.com/n1/n2/n3/notrepo:tag2", "deep.com/n1/n2/n3"),
        ("deep.com/n1/n2/notn3/repo:tag2", "deep.com/n1/n2"),
        ("deep.com/n1/notn2/n3/repo:tag2", "deep.com/n1"),
        ("deep.com/notn1/n2/n3/repo:tag2", "deep.com"),
        ("very.deep.com/n1/n2/n3/repo:tag2", "*.deep.com"),
        ("not.very.deep.com/n1/n2/n3/repo:tag2", "*.very.deep.com"),
        ("this.does-not/match:anything", ""),
    ];
    for (image, want) in table {
        assert_eq!(select(image), want, "{image}");
    }
}
