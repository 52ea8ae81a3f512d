//! Trust generation and proptest round trips.

use imprimatur_policy::{
    IdentityMatch, KeySource, Policy, RegistriesFile, Requirement, Section, TrustBuilder,
};
use proptest::prelude::*;

#[test]
fn several_keys_become_key_paths_not_several_requirements() {
    let t = TrustBuilder::default_reject()
        .signed_by("docker", "quay.io/acme", &["/k/a.gpg", "/k/b.gpg"], None)
        .expect("valid")
        .build();
    let reqs = t.policy.scope("docker", "quay.io/acme").expect("scope");
    assert_eq!(reqs.len(), 1);
    let Requirement::SignedBy(sb) = &reqs[0] else {
        panic!("{reqs:?}")
    };
    assert_eq!(
        sb.keys,
        KeySource::Paths(vec!["/k/a.gpg".into(), "/k/b.gpg".into()])
    );
    assert!(
        TrustBuilder::default_reject()
            .signed_by("docker", "x", &[], None)
            .is_err()
    );
}

#[test]
fn remap_identity_for_mirrors_and_other_scopes_untouched() {
    let start = Policy::from_json(
        br#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"keep.example":[{"type":"reject"}]},"nosuch":{"x":[{"type":"reject"}]}}}"#,
        "p.json",
    )
    .expect("valid");
    let remap =
        IdentityMatch::remap_identity("mirror.example/vendor", "vendor.example").expect("valid");
    let t = TrustBuilder::edit(start.clone(), RegistriesFile::default())
        .set_default_reject()
        .signed_by(
            "docker",
            "mirror.example/vendor",
            &["/k/vendor.gpg"],
            Some(remap.clone()),
        )
        .expect("valid")
        .build();
    assert_eq!(t.policy.default, vec![Requirement::Reject]);
    assert_eq!(
        t.policy.scope("docker", "keep.example"),
        start.scope("docker", "keep.example")
    );
    assert_eq!(t.policy.scope("nosuch", "x"), start.scope("nosuch", "x"));
    let text = t.policy.to_json();
    assert!(text.contains(r#""type": "remapIdentity""#), "{text}");
    assert_eq!(
        Policy::from_json(text.as_bytes(), "out").expect("reparse"),
        t.policy
    );
}

#[test]
fn invalid_scopes_and_urls_are_refused() {
    assert!(
        TrustBuilder::default_reject()
            .reject("dir", "relative/path")
            .is_err()
    );
    assert!(
        TrustBuilder::default_reject()
            .lookaside("x.example", Some(":emptyscheme"), None)
            .is_err()
    );
    assert!(
        TrustBuilder::default_reject()
            .lookaside("x.example", Some("no-scheme.example/sigs"), None)
            .is_err()
    );
}

// Atomic writes and registries.d directories: imprimatur-registry's `files`.

// ---------------------------------------------------------------------------
// Property tests: model → file → model.

fn path_strategy() -> impl Strategy<Value = String> {
    "/[a-z0-9]{1,8}(/[a-z0-9][a-z0-9._-]{0,7}){0,3}"
}

fn identity_strategy() -> impl Strategy<Value = IdentityMatch> {
    prop_oneof![
        Just(IdentityMatch::MatchExact),
        Just(IdentityMatch::MatchRepoDigestOrExact),
        Just(IdentityMatch::MatchRepository),
        "[a-z]{1,6}(\\.[a-z]{2,3})?/[a-z0-9]{1,6}:[a-z0-9]{1,5}"
            .prop_map(|r| IdentityMatch::exact_reference(&r).expect("valid by construction")),
        "[a-z]{1,6}\\.[a-z]{2,3}/[a-z0-9]{1,6}"
            .prop_map(|r| IdentityMatch::exact_repository(&r).expect("valid by construction")),
        (
            "[a-z]{1,6}\\.example",
            "[a-z]{1,6}\\.example(/[a-z0-9]{1,5})?"
        )
            .prop_map(
                |(p, s)| IdentityMatch::remap_identity(&p, &s).expect("valid by construction")
            ),
    ]
}

fn requirement_strategy() -> impl Strategy<Value = Requirement> {
    let keys = prop_oneof![
        path_strategy().prop_map(KeySource::Path),
        proptest::collection::vec(path_strategy(), 0..4).prop_map(KeySource::Paths),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(KeySource::Data),
    ];
    prop_oneof![
        Just(Requirement::InsecureAcceptAnything),
        Just(Requirement::Reject),
        (keys, proptest::option::of(identity_strategy()))
            .prop_map(|(k, id)| { Requirement::SignedBy(imprimatur_policy::SignedBy::gpg(k, id)) }),
        identity_strategy().prop_map(|id| Requirement::SignedBaseLayer {
            base_layer_identity: id
        }),
    ]
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    let reqs = || proptest::collection::vec(requirement_strategy(), 1..3);
    let docker_scopes =
        proptest::collection::btree_map("[a-z*.]{0,10}(/[a-z\"\\\\ ]{1,5})?", reqs(), 0..4);
    let dir_scopes = proptest::collection::btree_map(path_strategy(), reqs(), 0..3);
    let other_scopes = proptest::collection::btree_map(".{0,12}", reqs(), 0..3);
    (reqs(), docker_scopes, dir_scopes, other_scopes).prop_map(|(default, docker, dir, other)| {
        let mut p = Policy::with_default(default);
        for (t, scopes) in [("docker", docker), ("dir", dir), ("x-unknown", other)] {
            for (s, r) in scopes {
                p.set_scope(t, &s, r).expect("valid by construction");
            }
        }
        p
    })
}

fn section_strategy() -> impl Strategy<Value = Section> {
    let url = proptest::option::of("(https://|file:///)[a-z]{1,8}(/[a-z: #]{0,6})?");
    (
        url.clone(),
        url.clone(),
        url.clone(),
        url,
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(l, ls, s, ss, u)| {
            let mut sec = Section::default();
            sec.lookaside = l;
            sec.lookaside_staging = ls;
            sec.sigstore = s;
            sec.sigstore_staging = ss;
            sec.use_sigstore_attachments = u;
            sec
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn policy_round_trip(p in policy_strategy()) {
        let text = p.to_json();
        let again = Policy::from_json(text.as_bytes(), "prop.json").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.to_json(), text);
    }

    #[test]
    fn registries_round_trip(
        default in proptest::option::of(section_strategy()),
        docker in proptest::collection::btree_map("[a-z*.:0-9/]{1,20}", section_strategy(), 0..5),
    ) {
        let mut f = RegistriesFile::default();
        f.default_docker = default;
        f.docker = docker;
        let text = f.to_yaml();
        let again = RegistriesFile::from_yaml(text.as_bytes(), "prop.yaml").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(again, f);
    }

    #[test]
    fn policy_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Policy::from_json(&bytes, "fuzz.json");
    }

    #[test]
    fn registries_parser_never_panics(text in ".{0,200}") {
        let _ = RegistriesFile::from_yaml(text.as_bytes(), "fuzz.yaml");
    }
}
