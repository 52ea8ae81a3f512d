//! L01–L24 (§8.9): registries.d parsing and merging, section lookup with
//! fall-through, URL layout, read and write disciplines.

use std::collections::BTreeMap;

use imprimatur_policy::lookaside::{
    self, Fetched, MAX_SIGNATURES, SignatureSlots, classify_http_status, read_signatures,
    replace_all, signature_url, writable_path,
};
use imprimatur_policy::{
    Error, Purpose, RegistriesConfig, RegistriesFile, Section, default_lookaside,
};
use imprimatur_reference::Reference;

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn r(s: &str) -> Reference {
    Reference::parse_normalized(s).expect("reference")
}

fn config(files: &[(&str, &str)]) -> Result<RegistriesConfig, Error> {
    RegistriesConfig::from_files(files.iter().map(|(n, b)| (*n, b.as_bytes())))
}

fn read_url(c: &RegistriesConfig, image: &str) -> Option<String> {
    c.lookaside_for(&r(image), Purpose::Read).map(|l| l.url)
}

#[test]
fn l01_url_layout() {
    let base = "https://localhost:5555/root";
    let img = r("docker.io/library/busybox:latest");
    for (i, want) in [(1, "signature-1"), (2, "signature-2")] {
        let u = signature_url(base, &img, D, i).expect("url");
        assert_eq!(
            u.as_str(),
            format!(
                "https://localhost:5555/root/library/busybox@sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/{want}"
            )
        );
    }
    let u = signature_url(
        "https://example.com/lookaside?x=1",
        &r("ns1/ns2/repo"),
        D,
        3,
    )
    .expect("url");
    assert!(
        u.as_str()
            .starts_with("https://example.com/lookaside/ns1/ns2/repo@sha256="),
        "{u}"
    );
    assert!(u.as_str().ends_with("/signature-3?x=1"), "{u}");
}

#[test]
fn l02_fixture_directory() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/containers-image/registries.d"
    );
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).expect("fixture dir") {
        let e = e.expect("entry");
        files.push((
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).expect("read"),
        ));
    }
    let c = RegistriesConfig::from_files(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())))
        .expect("fixture config");
    let base = read_url(&c, "example.com/my/project").expect("a section matches");
    let repo = lookaside::repository_base(&base, &r("example.com/my/project")).expect("url");
    assert_eq!(repo.as_str(), "https://lookaside.example.com/my/project");
    // The .yml file with garbage in the same directory is ignored (L18).
    assert!(files.iter().any(|(n, _)| n.ends_with(".yml")));
}

#[test]
fn l03_l04_builtin_defaults() {
    let c = config(&[]).expect("empty");
    assert_eq!(read_url(&c, "this/is/not/in/the:config"), None);
    let home = default_lookaside(false, "/home/u");
    let u = lookaside::repository_base(&home, &r("this/is/not/in/the:config")).expect("url");
    assert_eq!(
        u.as_str(),
        "file:///home/u/.local/share/containers/sigstore/this/is/not/in/the"
    );
    let root = default_lookaside(true, "/root");
    let u = lookaside::repository_base(&root, &r("busybox")).expect("url");
    assert_eq!(
        u.as_str(),
        "file:///var/lib/containers/sigstore/library/busybox"
    );
}

#[test]
fn l05_l06_invalid_url_and_digest() {
    assert!(matches!(
        signature_url(":emptyscheme", &r("busybox"), D, 1),
        Err(Error::InvalidLookasideUrl { .. })
    ));
    assert!(matches!(
        signature_url("https://x.example", &r("busybox"), "sha256:../hello", 1),
        Err(Error::InvalidDigest(_))
    ));
}

#[test]
fn l07_scope_table() {
    let yaml = r#"
docker:
  localhost:
    lookaside: https://localhost
  localhost:5000:
    lookaside: https://localhost5000
  example.com:
    lookaside: https://example.com
  example.com/ns1:
    lookaside: https://ns1
  example.com/ns1/ns2:
    lookaside: https://ns2
  example.com/ns1/ns2/repo:
    lookaside: https://repo
  example.com/ns1/ns2/repo:notlatest:
    lookaside: https://notlatest
default-docker:
  lookaside: https://default
"#;
    let c = config(&[("a.yaml", yaml)]).expect("config");
    assert_eq!(
        read_url(&c, "example.com/ns1/ns2/repo:unmatched").as_deref(),
        Some("https://repo")
    );
    assert_eq!(
        read_url(&c, "example.com/ns1/ns2/repo:notlatest").as_deref(),
        Some("https://notlatest")
    );
    assert_eq!(
        read_url(&c, "example.com/ns1/other:1").as_deref(),
        Some("https://ns1")
    );
    assert_eq!(
        read_url(&c, "localhost:5000/busybox").as_deref(),
        Some("https://localhost5000")
    );
    assert_eq!(
        read_url(&c, "localhost:9999/busybox").as_deref(),
        Some("https://default")
    );
    assert_eq!(
        read_url(&c, "unknown.example.com/busybox").as_deref(),
        Some("https://default")
    );
}

#[test]
fn l08_l09_purposes() {
    let s = |yaml: &str| -> Section {
        let f = RegistriesFile::from_yaml(format!("default-docker:\n{yaml}").as_bytes(), "t.yaml")
            .expect("yaml");
        f.default_docker.expect("section")
    };
    let a = s("  lookaside-staging: a\n  lookaside: b\n");
    assert_eq!(
        (a.url_for(Purpose::Write), a.url_for(Purpose::Read)),
        (Some("a"), Some("b"))
    );
    let b = s("  lookaside: b\n");
    assert_eq!(b.url_for(Purpose::Write), Some("b"));
    let st = s("  lookaside-staging: a\n");
    assert_eq!(st.url_for(Purpose::Read), None);
    let c = s("  lookaside: b\n  sigstore-staging: c\n  sigstore: d\n");
    assert_eq!(
        (c.url_for(Purpose::Write), c.url_for(Purpose::Read)),
        (Some("c"), Some("b"))
    );
    let d = s("  sigstore: d\n");
    assert_eq!(
        (d.url_for(Purpose::Write), d.url_for(Purpose::Read)),
        (Some("d"), Some("d"))
    );
}

#[test]
fn l10_read_stops_at_gap() {
    let present = [1usize, 2, 4];
    let got = read_signatures(MAX_SIGNATURES, |i| {
        Ok(if present.contains(&i) {
            Fetched::Found(vec![i as u8])
        } else {
            Fetched::Missing
        })
    })
    .expect("read");
    assert_eq!(got, vec![vec![1], vec![2]]);
    // Too many signatures is an error, not unbounded growth.
    let err = read_signatures(3, |i| Ok(Fetched::Found(vec![i as u8]))).expect_err("limit");
    assert!(err.to_string().contains("unreasonable"), "{err}");
}

#[test]
fn l11_l14_fall_through_specific_wildcard_default() {
    let c = config(&[(
        "a.yaml",
        r#"
docker:
  127.0.0.1:15731/ns/img:
    use-sigstore-attachments: false
  127.0.0.1:15731:
    lookaside: file:///host
  127.0.0.1:15731/ns/other:
    lookaside: file:///other-empty
"#,
    )])
    .expect("config");
    // L11: the repo section has no URL: fall through to the host section.
    let choice = c
        .lookaside_for(&r("127.0.0.1:15731/ns/img:v1"), Purpose::Read)
        .expect("choice");
    assert_eq!(choice.url, "file:///host");
    assert_eq!(choice.scope.as_deref(), Some("127.0.0.1:15731"));
    assert!(!c.use_sigstore_attachments(&r("127.0.0.1:15731/ns/img:v1")));
    // L12: a more specific section with a URL wins even if its store is empty.
    assert_eq!(
        read_url(&c, "127.0.0.1:15731/ns/other:v1").as_deref(),
        Some("file:///other-empty")
    );
    // L13: wildcards work in registries.d too.
    let c = config(&[(
        "w.yaml",
        "docker:\n  \"*.0.0.1\":\n    lookaside: file:///wild\n",
    )])
    .expect("config");
    assert_eq!(
        read_url(&c, "127.0.0.1:15731/ns/img:v1").as_deref(),
        Some("file:///wild")
    );
    // L14: default-docker only.
    let c = config(&[("d.yaml", "default-docker:\n  lookaside: file:///dflt\n")]).expect("config");
    assert_eq!(
        read_url(&c, "quay.io/x/y:1").as_deref(),
        Some("file:///dflt")
    );
}

#[test]
fn l15_l16_key_case_and_legacy_sigstore() {
    // Newer behaviour: keys are case-sensitive; `Lookaside:` is an unknown key (ignored).
    let c = config(&[("c.yaml", "default-docker:\n  Lookaside: file:///caps\n")]).expect("config");
    assert_eq!(read_url(&c, "busybox"), None);
    let c = config(&[("s.yaml", "default-docker:\n  sigstore: file:///legacy\n")]).expect("config");
    assert_eq!(read_url(&c, "busybox").as_deref(), Some("file:///legacy"));
}

#[test]
fn l17_conflicts_name_both_files() {
    let err = config(&[
        (
            "b.yaml",
            "docker:\n  example.com:\n    lookaside: https://b\n",
        ),
        (
            "a.yaml",
            "docker:\n  example.com:\n    lookaside: https://a\n",
        ),
    ])
    .expect_err("conflict");
    match &err {
        Error::RegistriesConflict {
            scope,
            first,
            second,
        } => {
            assert_eq!(
                (scope.as_str(), first.as_str(), second.as_str()),
                ("example.com", "a.yaml", "b.yaml")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains(r#""docker" namespace "example.com" defined both in "a.yaml" and "b.yaml""#)
    );
    let err = config(&[
        ("a.yaml", "default-docker: {}\n"),
        ("b.yaml", "default-docker:\n  lookaside: x\n"),
    ])
    .expect_err("two defaults");
    assert!(
        matches!(err, Error::RegistriesDefaultConflict { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(r#""default-docker" defined both in "a.yaml" and "b.yaml""#),
        "{err}"
    );
}

#[test]
fn l18_unknown_keys_and_other_files_ignored() {
    let c = config(&[
        (
            "a.yaml",
            "something: 1\ndocker:\n  example.com:\n    lookaside: https://a\n    other: [1, 2]\n",
        ),
        ("garbage.yml", "{{{{ not yaml"),
        ("README", "not yaml either: ["),
    ])
    .expect("config");
    assert_eq!(read_url(&c, "example.com/x").as_deref(), Some("https://a"));
}

#[test]
fn l19_duplicates_in_one_file_rejected() {
    let err = config(&[(
        "a.yaml",
        "docker:\n  example.com:\n    lookaside: https://a\n  example.com:\n    lookaside: https://b\n",
    )])
    .expect_err("duplicate scope");
    assert!(
        matches!(err, Error::InvalidRegistriesFile { .. }),
        "{err:?}"
    );
    let err = config(&[(
        "a.yaml",
        "default-docker:\n  lookaside: a\n  lookaside: b\n",
    )])
    .expect_err("duplicate key");
    assert!(err.to_string().contains("a.yaml"), "{err}");
}

#[derive(Default)]
struct MemStore(BTreeMap<usize, Vec<u8>>);

impl SignatureSlots for MemStore {
    fn put(&mut self, index: usize, blob: &[u8]) -> Result<(), Error> {
        self.0.insert(index, blob.to_vec());
        Ok(())
    }
    fn delete(&mut self, index: usize) -> Result<bool, Error> {
        Ok(self.0.remove(&index).is_some())
    }
    fn exists(&self, index: usize) -> Result<bool, Error> {
        Ok(self.0.contains_key(&index))
    }
}

#[test]
fn l20_replace_all_deletes_stale_tail() {
    let mut s = MemStore::default();
    for i in 3..=5 {
        s.put(i, b"stale").expect("put");
    }
    let sigs = vec![b"a".to_vec(), b"b".to_vec(), b"new".to_vec()];
    replace_all(&mut s, &sigs).expect("write");
    assert_eq!(s.0.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(s.0[&3], b"new");
    // An empty list leaves everything alone.
    replace_all(&mut s, &[]).expect("noop");
    assert_eq!(s.0.len(), 3);
    // Append discipline: first free index.
    s.0.remove(&2);
    assert_eq!(lookaside::append(&mut s, b"x").expect("append"), 2);
    assert_eq!(lookaside::append(&mut s, b"y").expect("append"), 4);
}

#[test]
fn l21_only_file_is_writable() {
    assert_eq!(
        writable_path("file:///srv/look").expect("file"),
        "/srv/look"
    );
    let err = writable_path("https://lookaside.example/x").expect_err("https");
    assert!(
        err.to_string()
            .contains("Writing directly to a https lookaside")
            && err.to_string().contains("lookaside-staging"),
        "{err}"
    );
}

#[test]
fn l22_l23_http_statuses() {
    assert!(classify_http_status(200, "u").expect("200"));
    assert!(!classify_http_status(404, "u").expect("404"));
    assert!(classify_http_status(500, "u").is_err());
    assert!(classify_http_status(403, "u").is_err());
    // L23 shape: 200, 200, 404 → 2 signatures.
    let statuses = [200u16, 200, 404, 200];
    let got = read_signatures(MAX_SIGNATURES, |i| {
        let found = classify_http_status(statuses[i - 1], "u")?;
        Ok(if found {
            Fetched::Found(vec![])
        } else {
            Fetched::Missing
        })
    })
    .expect("read");
    assert_eq!(got.len(), 2);
}

#[test]
fn l24_trailing_slash_doubles() {
    let u = signature_url(
        "http://127.0.0.1:15733/",
        &r("127.0.0.1:15731/ns/img:v1"),
        D,
        1,
    )
    .expect("url");
    assert!(u.path().starts_with("//ns/img@sha256="), "{u}");
    let u = signature_url("https://lookaside.centos.org", &r("centos/x"), D, 1).expect("url");
    assert!(u.path().starts_with("/centos/x@"), "{u}");
    let m = lookaside::read_method(
        &signature_url("file:///srv/look", &r("127.0.0.1:15731/ns/img:v1"), D, 1).expect("url"),
    )
    .expect("method");
    assert_eq!(
        m,
        lookaside::ReadMethod::File(format!("/srv/look/ns/img@sha256={}/signature-1", &D[7..]))
    );
    assert!(lookaside::read_method(&url::Url::parse("ftp://x/y").expect("url")).is_err());
}

#[test]
fn registries_file_round_trip() {
    let mut f = RegistriesFile::default();
    f.docker.insert(
        "*.example.com".into(),
        Section::lookaside("https://l.example/a b"),
    );
    f.docker
        .insert("registry.example:5000/ns".into(), Section::default());
    f.default_docker = Some(Section::lookaside("file:///var/lib/containers/sigstore"));
    let text = f.to_yaml();
    let again = RegistriesFile::from_yaml(text.as_bytes(), "rt.yaml").expect("parses");
    assert_eq!(f, again, "{text}");
}

#[test]
fn empty_and_comment_only_files_are_empty_config() {
    for doc in ["", "# nothing\n", "---\n"] {
        let f = RegistriesFile::from_yaml(doc.as_bytes(), "e.yaml").expect("empty ok");
        assert_eq!(f, RegistriesFile::default());
    }
    assert!(RegistriesFile::from_yaml(b"docker: 3\n", "bad.yaml").is_err());
    assert!(RegistriesFile::from_yaml(b"default-docker:\n  lookaside: [1]\n", "bad.yaml").is_err());
}
