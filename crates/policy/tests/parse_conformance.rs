//! C01–C34 of the spec (§8.6): policy.json parsing, one row per case.

use imprimatur_policy::{Error, IdentityMatch, KeySource, Policy, PolicyRule, Requirement};

fn wrap_default(req: &str) -> String {
    format!(r#"{{"default":[{req}]}}"#)
}

fn parse(doc: &str) -> Result<Policy, Error> {
    Policy::from_json(doc.as_bytes(), "test-policy.json")
}

/// Asserts a parse error whose rendered message contains `needle`, and
/// returns the rule for further matching.
fn fails(id: &str, doc: &str, needle: &str) -> PolicyRule {
    match parse(doc) {
        Ok(p) => panic!("{id}: expected an error containing {needle:?}, got {p:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(needle),
                "{id}: {msg:?} does not contain {needle:?}"
            );
            assert!(
                msg.contains("test-policy.json"),
                "{id}: file name missing in {msg:?}"
            );
            match e {
                Error::InvalidPolicy { rule, .. } => rule,
                other => panic!("{id}: unexpected error kind {other:?}"),
            }
        }
    }
}

fn loads(id: &str, doc: &str) -> Policy {
    parse(doc).unwrap_or_else(|e| panic!("{id}: expected to load, got {e}"))
}

#[test]
fn c01_default_missing() {
    let r = fails("C01", r#"{"transports":{}}"#, "Default policy is missing");
    assert_eq!(r, PolicyRule::DefaultMissing);
}

#[test]
fn c02_default_empty_or_null() {
    for doc in [r#"{"default":[]}"#, r#"{"default":null}"#] {
        let r = fails(
            "C02",
            doc,
            "List of verification policy requirements must not be empty",
        );
        assert_eq!(r, PolicyRule::EmptyRequirements);
    }
}

#[test]
fn c03_unknown_top_level_key() {
    let r = fails(
        "C03",
        r#"{"default":[{"type":"reject"}],"x":1}"#,
        r#"Unknown key "x""#,
    );
    assert_eq!(r, PolicyRule::UnknownKey("x".into()));
}

#[test]
fn c04_duplicate_default_also_after_unescaping() {
    fails(
        "C04",
        r#"{"default":[{"type":"reject"}],"default":[{"type":"reject"}]}"#,
        r#"Duplicate key "default""#,
    );
    fails(
        "C04b",
        r#"{"default":[{"type":"reject"}],"d\u0065fault":[{"type":"reject"}]}"#,
        r#"Duplicate key "default""#,
    );
}

#[test]
fn c05_transports_null() {
    let r = fails(
        "C05",
        r#"{"default":[{"type":"reject"}],"transports":null}"#,
        "expected an object",
    );
    assert!(matches!(r, PolicyRule::WrongType { .. }));
}

#[test]
fn c06_unknown_transport_accepted_and_preserved() {
    let p = loads(
        "C06",
        r#"{"default":[{"type":"reject"}],"transports":{"nosuch":{"any thing //":[{"type":"reject"}]}}}"#,
    );
    let again = loads("C06 round trip", &p.to_json());
    assert_eq!(p, again);
    assert!(p.scope("nosuch", "any thing //").is_some());
}

#[test]
fn c07_invalid_dir_scopes() {
    for scope in ["relative", "/", "/tmp/", "/tmp//x", "/tmp/./x", "/tmp/.."] {
        let doc = format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"dir":{{"{scope}":[{{"type":"reject"}}]}}}}}}"#
        );
        fails("C07", &doc, &format!("Unknown key \"{scope}\""));
    }
    loads(
        "C07 valid",
        r#"{"default":[{"type":"reject"}],"transports":{"dir":{"/tmp/x":[{"type":"reject"}]}}}"#,
    );
}

#[test]
fn c08_duplicate_scope_and_transport() {
    fails(
        "C08 scope",
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a":[{"type":"reject"}],"a":[{"type":"reject"}]}}}"#,
        r#"Duplicate key "a""#,
    );
    fails(
        "C08 transport",
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{},"docker":{}}}"#,
        r#"Duplicate key "docker""#,
    );
}

#[test]
fn c09_empty_scope_list() {
    fails(
        "C09",
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a":[]}}}"#,
        "must not be empty",
    );
}

#[test]
fn c10_c12_requirement_keys_and_types() {
    fails(
        "C10",
        &wrap_default(r#"{"type":"insecureAcceptAnything","x":1}"#),
        r#"Unknown key "x""#,
    );
    for t in ["whatever", "Reject"] {
        let r = fails(
            "C11",
            &wrap_default(&format!(r#"{{"type":"{t}"}}"#)),
            "Unknown policy requirement type",
        );
        assert_eq!(r, PolicyRule::UnknownRequirementType(t.into()));
    }
    fails(
        "C12",
        &wrap_default(r#"{"TYPE":"reject"}"#),
        r#"Unknown key "TYPE""#,
    );
}

#[test]
fn c13_c17_signed_by_key_sources() {
    fails(
        "C13",
        &wrap_default(r#"{"type":"signedBy","keyPath":"/k"}"#),
        r#"invalid keyType """#,
    );
    fails(
        "C14",
        &wrap_default(r#"{"type":"signedBy","keyType":"gpgkeys","keyPath":"/k"}"#),
        r#"Unrecognized keyType value "gpgkeys""#,
    );
    fails(
        "C15",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyData":""}"#),
        "more than one present",
    );
    fails(
        "C16",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys"}"#),
        "none of them present",
    );
    for src in [r#""keyPath":"""#, r#""keyPaths":null"#] {
        let doc = wrap_default(&format!(
            r#"{{"type":"signedBy","keyType":"GPGKeys",{src}}}"#
        ));
        let r = fails(
            "C17",
            &doc,
            "exactly one of keyPath, keyPaths and keyData must be specified",
        );
        assert_eq!(r, PolicyRule::KeySourcesNotExactlyOne);
    }
}

#[test]
fn c18_c20_c34_load_and_fail_later() {
    let p = loads(
        "C18",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}"#),
    );
    assert!(
        matches!(&p.default[0], Requirement::SignedBy(sb) if sb.keys == KeySource::Paths(vec![]))
    );
    fails(
        "C19",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyData":"!!!"}"#),
        "illegal base64 data at input byte 0",
    );
    loads(
        "C20",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent"}"#),
    );
    let p = loads(
        "C34",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyData":""}"#),
    );
    assert!(
        matches!(&p.default[0], Requirement::SignedBy(sb) if sb.keys == KeySource::Data(vec![]))
    );
}

#[test]
fn c21_signed_by_extra_key() {
    fails(
        "C21",
        &wrap_default(r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","extra":1}"#),
        r#"Unknown key "extra""#,
    );
}

fn with_identity(id: &str) -> String {
    wrap_default(&format!(
        r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{id}}}"#
    ))
}

#[test]
fn c22_c31_identities() {
    fails(
        "C22",
        &with_identity(r#"{"type":"nope"}"#),
        r#"Unknown policy reference match type "nope""#,
    );
    fails(
        "C23",
        &with_identity("null"),
        r#"Unknown policy reference match type """#,
    );
    fails(
        "C24",
        &with_identity(r#"{"type":"exactReference","dockerReference":"busybox"}"#),
        "dockerReference busybox contains neither a tag nor digest",
    );
    fails(
        "C25",
        &with_identity(r#"{"type":"exactReference","dockerReference":"UPPER:1"}"#),
        "Invalid format of dockerReference UPPER:1",
    );
    let p = loads(
        "C26",
        &with_identity(r#"{"type":"exactRepository","dockerRepository":"busybox:latest"}"#),
    );
    assert!(matches!(
        &p.default[0],
        Requirement::SignedBy(sb) if sb.signed_identity == Some(IdentityMatch::ExactRepository("busybox:latest".into()))
    ));
    fails(
        "C27",
        &with_identity(
            r#"{"type":"remapIdentity","prefix":"example.com/","signedPrefix":"x.example"}"#,
        ),
        r#"prefix "example.com/" is not valid"#,
    );
    fails(
        "C28",
        &with_identity(r#"{"type":"remapIdentity","prefix":"example.com"}"#),
        r#"Key "signedPrefix" missing in a JSON object"#,
    );
    fails(
        "C29",
        &with_identity(r#"{"type":"matchExact","x":1}"#),
        r#"Unknown key "x""#,
    );
    fails(
        "C31",
        &wrap_default(
            r#"{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","SignedIdentity":{"type":"matchExact"}}"#,
        ),
        r#"Unknown key "SignedIdentity""#,
    );
}

#[test]
fn c30_sigstore_newer_options_accepted() {
    for src in [
        r#""keyDatas":["bm9uc2Vuc2U="]"#,
        r#""fulcio":{"caPath":"/x","oidcIssuer":"https://o","subjectEmail":"a@b"}"#,
        r#""pki":{"caRootsPath":"/r","subjectEmail":"a@b"}"#,
    ] {
        let doc = wrap_default(&format!(r#"{{"type":"sigstoreSigned",{src}}}"#));
        let p = loads("C30", &doc);
        assert_eq!(p, loads("C30 round trip", &p.to_json()));
    }
    fails(
        "C30 unknown",
        &wrap_default(r#"{"type":"sigstoreSigned","keyPath":"/k","bogus":1}"#),
        "Unknown key",
    );
}

#[test]
fn c32_syntax_errors() {
    fails(
        "C32 trailing",
        r#"{"default":[{"type":"reject"}]} x"#,
        "test-policy.json",
    );
    fails(
        "C32 comment",
        "{\"default\":[{\"type\":\"reject\"}]} // c",
        "test-policy.json",
    );
    fails(
        "C32 comment first",
        "// c\n{\"default\":[{\"type\":\"reject\"}]}",
        "test-policy.json",
    );
}

#[test]
fn c33_fixture_policy_loads_and_round_trips() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/containers-image/policy.json"
    );
    let bytes = std::fs::read(path).expect("fixture policy.json");
    let p = Policy::from_json(&bytes, path).expect("C33 fixture loads");
    assert_eq!(p.default, vec![Requirement::Reject]);
    assert_eq!(p.transports["docker"].len(), 14);
    let text = p.to_json();
    let again = Policy::from_json(text.as_bytes(), "rewritten").expect("rewritten loads");
    assert_eq!(p, again);
    // Stable: writing twice gives the same bytes.
    assert_eq!(text, again.to_json());
}

#[test]
fn errors_name_the_json_path() {
    let err = parse(r#"{"default":[{"type":"reject"}],"transports":{"docker":{"a.b/c":[{"type":"reject"},{"type":"signedBy","keyType":"nope","keyPath":"/k"}]}}}"#)
        .expect_err("invalid keyType");
    match err {
        Error::InvalidPolicy { path, .. } => {
            assert_eq!(path, r#"$.transports.docker["a.b/c"][1].keyType"#)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_types_are_rejected() {
    for doc in [
        r#"{"default":{"type":"reject"}}"#,
        r#"{"default":["reject"]}"#,
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":1}]}"#,
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a",2]}]}"#,
        r#"{"default":[{"type":1}]}"#,
        r#"[]"#,
    ] {
        assert!(parse(doc).is_err(), "{doc} should fail");
    }
}

#[test]
fn output_is_sorted_with_four_space_indent() {
    let p = loads(
        "sorted",
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"z.example":[{"type":"reject"}],"a.example":[{"type":"insecureAcceptAnything"}]}}}"#,
    );
    let text = p.to_json();
    let a = text.find("a.example").expect("a");
    let z = text.find("z.example").expect("z");
    assert!(a < z, "{text}");
    assert!(
        text.starts_with("{\n    \"default\": [\n        {\n            \"type\": \"reject\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
}

/// One JSON reader for payloads and policies: syntax errors carry the
/// reader's typed error, and a lone surrogate escape decodes to U+FFFD as
/// Go's encoding/json does (skopeo accepts such a policy; the integration
/// test `lone_surrogate_policy_like_skopeo` pins it against skopeo).
#[test]
fn shared_strict_reader() {
    use imprimatur_signature::json::JsonError;
    for (doc, offset) in [
        ("", 0),
        ("{} x", 3),
        ("// c\n{}", 0),
        (r#"{"default":[{"type":"reject"}],}"#, 31),
        ("\u{feff}{}", 0),
    ] {
        let rule = fails("syntax", doc, "invalid JSON at byte");
        assert!(
            matches!(&rule, PolicyRule::Syntax(e @ JsonError::Syntax { .. }) if e.offset() == offset),
            "{doc:?}: {rule:?}"
        );
    }
    let deep = format!(r#"{{"default":{}1{}}}"#, "[".repeat(600), "]".repeat(600));
    let rule = fails("deep", &deep, "nesting deeper than");
    assert!(
        matches!(rule, PolicyRule::Syntax(JsonError::TooDeep { .. })),
        "{rule:?}"
    );
    let big = format!(
        r#"{{"default":[{{"type":"reject"}}],"x":"{}"}}"#,
        "a".repeat(4 << 20)
    );
    let rule = fails("big", &big, "more than the limit");
    assert!(
        matches!(rule, PolicyRule::Syntax(JsonError::TooLarge { .. })),
        "{rule:?}"
    );

    let p = loads(
        "surrogate",
        r#"{"default":[{"type":"reject"}],"transports":{"dir":{"/tmp/a\ud800":[{"type":"insecureAcceptAnything"}]}}}"#,
    );
    assert!(p.scope("dir", "/tmp/a\u{FFFD}").is_some(), "{p:?}");
    // Duplicates are found after unescaping, U+FFFD included.
    fails(
        "dup",
        r#"{"default":[{"type":"reject"}],"transports":{"dir":{"/a\ud800":[{"type":"reject"}],"/a\udc00":[{"type":"reject"}]}}}"#,
        "Duplicate key",
    );
    // Number text is kept through a round trip (sigstoreSigned members).
    let p = loads(
        "numbers",
        r#"{"default":[{"type":"sigstoreSigned","pki":{"n":1.50}}]}"#,
    );
    let again = Policy::from_json(p.to_json().as_bytes(), "again").expect("reparses");
    assert_eq!(p, again);
    // A number serde_json cannot hold is refused, not silently changed.
    fails(
        "range",
        r#"{"default":[{"type":"sigstoreSigned","pki":{"n":1e400}}]}"#,
        "number 1e400 is out of range",
    );
}
