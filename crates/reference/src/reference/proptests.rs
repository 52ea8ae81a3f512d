//! Property tests: round trips, idempotent normalization, and the hand-written
//! grammar checked against the containers/image regular expressions.

use proptest::prelude::*;
use std::sync::LazyLock;

use regex::Regex;

use super::*;

// containers/image `docker/reference/regexp.go`, with Go's ASCII `\w` spelled
// out (Rust's `\w` is Unicode-aware).
const DOMAIN_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*";
const TAG: &str = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";

fn domain_re() -> String {
    format!(r"{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*(?::[0-9]+)?")
}

fn reference_regex() -> Regex {
    let name = format!(
        r"(?:{}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*",
        domain_re()
    );
    Regex::new(&format!(r"^({name})(?::({TAG}))?(?:@({DIGEST}))?$")).expect("regex")
}

fn anchored_name_regex() -> Regex {
    Regex::new(&format!(
        r"^(?:({})/)?({PATH_COMPONENT}(?:/{PATH_COMPONENT})*)$",
        domain_re()
    ))
    .expect("regex")
}

/// What the regexes say about `s`: (domain, path, tag, digest).
fn oracle(
    re: &Regex,
    name_re: &Regex,
    s: &str,
) -> Option<(String, String, Option<String>, Option<String>)> {
    let c = re.captures(s)?;
    let name = c.get(1)?.as_str();
    let n = name_re.captures(name)?;
    Some((
        n.get(1).map_or("", |m| m.as_str()).to_owned(),
        n.get(2)?.as_str().to_owned(),
        c.get(2).map(|m| m.as_str().to_owned()),
        c.get(3).map(|m| m.as_str().to_owned()),
    ))
}

/// Strings over the alphabet that matters to the grammar.
fn grammar_soup() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-cA-C0-9._:/@-]{0,24}").expect("strategy")
}

fn path_component() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9]{1,4}(([._]|__|-{1,3})[a-z0-9]{1,4}){0,2}")
        .expect("strategy")
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("docker.io".to_owned()),
        Just("index.docker.io".to_owned()),
        Just("localhost".to_owned()),
        proptest::string::string_regex(
            "[a-zA-Z0-9]{1,5}(\\.[a-z0-9]{1,4}(-[a-z0-9]{1,3})?){0,3}(:[0-9]{1,5})?"
        )
        .expect("strategy"),
    ]
}

/// Mostly-valid references in familiar or full form.
fn reference_like() -> impl Strategy<Value = String> {
    (
        domain(),
        proptest::collection::vec(path_component(), 1..4),
        proptest::option::of(
            proptest::string::string_regex("[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}").expect("strategy"),
        ),
        proptest::option::of(prop_oneof![
            proptest::string::string_regex("sha256:[0-9a-f]{64}").expect("strategy"),
            proptest::string::string_regex("sha512:[0-9a-f]{128}").expect("strategy"),
            proptest::string::string_regex("[a-z]{2,6}:[0-9a-fA-F]{30,70}").expect("strategy"),
        ]),
    )
        .prop_map(|(domain, path, tag, digest)| {
            let mut s = String::new();
            if !domain.is_empty() {
                s.push_str(&domain);
                s.push('/');
            }
            s.push_str(&path.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push('@');
                s.push_str(&d);
            }
            s
        })
}

static REFERENCE_RE: LazyLock<Regex> = LazyLock::new(reference_regex);
static NAME_RE: LazyLock<Regex> = LazyLock::new(anchored_name_regex);

fn check_against_oracle(s: &str) -> Result<(), TestCaseError> {
    let want = oracle(&REFERENCE_RE, &NAME_RE, s);
    let got = match_reference(s).map(|p| {
        (
            p.domain.to_owned(),
            p.path.to_owned(),
            p.tag.map(str::to_owned),
            p.digest.map(str::to_owned),
        )
    });
    prop_assert_eq!(got, want, "input {:?}", s);
    Ok(())
}

fn check_round_trip(s: &str) -> Result<(), TestCaseError> {
    if let Ok(r) = Reference::parse_normalized(s) {
        let full = r.to_string();
        prop_assert_eq!(
            Reference::parse_normalized(&full),
            Ok(r.clone()),
            "{:?} -> {:?}",
            s,
            full
        );
        prop_assert_eq!(
            Reference::parse_canonical(&full),
            Ok(r.clone()),
            "{:?} -> {:?}",
            s,
            full
        );
        prop_assert_eq!(full.parse::<Reference>(), Ok(r.clone()));
        prop_assert!(r.name().len() <= NAME_TOTAL_LENGTH_MAX);
        prop_assert_eq!(r.with_default_tag().is_name_only(), false);
        let ns = r.docker_namespaces();
        prop_assert_eq!(ns.first(), Some(&r.name()));
        // Canonical parsing accepts exactly the strings that are their own
        // normalized form.
        prop_assert_eq!(Reference::parse_canonical(s).is_ok(), full == s);
    } else {
        prop_assert!(Reference::parse_canonical(s).is_err());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn grammar_matches_regex_soup(s in grammar_soup()) {
        check_against_oracle(&s)?;
    }

    #[test]
    fn grammar_matches_regex_structured(s in reference_like()) {
        check_against_oracle(&s)?;
        check_against_oracle(&s.to_lowercase())?;
    }

    #[test]
    fn round_trip_structured(s in reference_like()) {
        check_round_trip(&s)?;
    }

    #[test]
    fn round_trip_soup(s in grammar_soup()) {
        check_round_trip(&s)?;
    }

    #[test]
    fn never_panics(s in "\\PC{0,64}") {
        let _ = Reference::parse_normalized(&s);
        let _ = Reference::parse_canonical(&s);
        let _ = Digest::parse(&s);
    }

    #[test]
    fn digest_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let d = Digest::sha256_of(&bytes);
        prop_assert_eq!(Digest::parse(d.as_str()), Ok(d.clone()));
        prop_assert!(d.matches(&bytes));
    }
}

#[test]
fn oracle_regression_cases() {
    for s in [
        "a_b.com/foo",
        "a/b/c:d",
        "A.b/c",
        "a:1/b:c",
        "a:1/b",
        "a:b/c",
        "a--b/c",
        "a__b/c",
        "a___b/c",
        "localhost:5000",
        "x@sha256:0123456789abcdef0123456789abcdef",
    ] {
        if let Err(e) = check_against_oracle(s) {
            panic!("{e}");
        }
    }
}
