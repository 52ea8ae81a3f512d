//! Linting a trust configuration: foot-guns that parse fine but do not do
//! what their author meant (relative key paths, missing key files, scopes
//! that never match, lookasides skopeo 1.9.3 cannot use, …).
//!
//! [`lint`] returns typed [`Finding`]s: a stable [`FindingKind`] (its
//! [`as_str`](FindingKind::as_str) is the identifier in JSON output and never
//! changes for a kind), a [`Severity`], a [`Location`] and a message. No
//! I/O: whether a key file exists is asked through a caller-supplied
//! function.
//!
//! ```
//! use imprimatur_policy::{FindingKind, Policy, RegistriesConfig, Severity, lint};
//!
//! let policy = Policy::from_json(br#"{"default":[{"type":"insecureAcceptAnything"}],
//!     "transports":{"docker":{"busybox":[{"type":"reject"}]}}}"#, "policy.json")?;
//! let findings = lint(&policy, &RegistriesConfig::default(), &|_| true);
//! let kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
//! assert_eq!(kinds, [FindingKind::InsecureDefault, FindingKind::ScopeNeverMatches]);
//! assert_eq!(findings[1].location.to_string(), r#"$.transports.docker["busybox"]"#);
//! assert_eq!(findings[1].severity, Severity::Warning);
//! # Ok::<(), imprimatur_policy::Error>(())
//! ```

use std::fmt;

use imprimatur_reference::Reference;
use serde::Serialize;

use crate::lookaside::parse_base;
use crate::model::{KNOWN_TRANSPORTS, KeySource, KeyType, Policy, Requirement};
use crate::registries::{Located, RegistriesConfig};

/// What a finding is about. Stable: the [`as_str`](Self::as_str) names are
/// part of the JSON output and are never reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingKind {
    /// `insecureAcceptAnything` is the whole default: unscoped images run
    /// unchecked.
    InsecureDefault,
    /// A `keyType` containers/image does not implement: every image is denied.
    UnimplementedKeyType,
    /// `keyPaths: []`: "No public keys imported", every image is denied.
    EmptyKeyPaths,
    /// `keyData` holds no public key: every image is denied.
    NoKeyInKeyData,
    /// A relative key path, resolved against each tool's working directory.
    RelativeKeyPath,
    /// An absolute key path that does not exist: every image is denied.
    MissingKeyFile,
    /// `signedBaseLayer` is not implemented by containers/image.
    SignedBaseLayerUnimplemented,
    /// `sigstoreSigned` options skopeo 1.9.3 does not know (it rejects the
    /// whole policy).
    SigstoreOptionUnknownToSkopeo,
    /// A transport this crate does not know; its scopes are not validated.
    UnknownTransport,
    /// A docker scope that can never match an image.
    ScopeNeverMatches,
    /// A lookaside URL that does not parse (no scheme: skopeo 1.9.3 crashes).
    InvalidLookasideUrl,
    /// A lookaside URL scheme signatures cannot be read from.
    UnsupportedLookasideScheme,
    /// A staging lookaside that is not `file:` (only those are writable).
    LookasideStagingNotWritable,
    /// `sigstore` / `sigstore-staging`: deprecated names of the lookaside keys.
    DeprecatedSigstoreKey,
}

impl FindingKind {
    /// The stable identifier (kebab-case), as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::InsecureDefault => "insecure-default",
            FindingKind::UnimplementedKeyType => "unimplemented-key-type",
            FindingKind::EmptyKeyPaths => "empty-key-paths",
            FindingKind::NoKeyInKeyData => "no-key-in-key-data",
            FindingKind::RelativeKeyPath => "relative-key-path",
            FindingKind::MissingKeyFile => "missing-key-file",
            FindingKind::SignedBaseLayerUnimplemented => "signed-base-layer-unimplemented",
            FindingKind::SigstoreOptionUnknownToSkopeo => "sigstore-option-unknown-to-skopeo",
            FindingKind::UnknownTransport => "unknown-transport",
            FindingKind::ScopeNeverMatches => "scope-never-matches",
            FindingKind::InvalidLookasideUrl => "invalid-lookaside-url",
            FindingKind::UnsupportedLookasideScheme => "unsupported-lookaside-scheme",
            FindingKind::LookasideStagingNotWritable => "lookaside-staging-not-writable",
            FindingKind::DeprecatedSigstoreKey => "deprecated-sigstore-key",
        }
    }

    /// The severity of this kind of finding.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::UnimplementedKeyType
            | FindingKind::EmptyKeyPaths
            | FindingKind::NoKeyInKeyData
            | FindingKind::MissingKeyFile
            | FindingKind::SignedBaseLayerUnimplemented
            | FindingKind::SigstoreOptionUnknownToSkopeo
            | FindingKind::InvalidLookasideUrl => Severity::Error,
            FindingKind::DeprecatedSigstoreKey => Severity::Info,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is. The file is valid either way (invalid files are
/// parse errors, not findings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing (deprecated spelling).
    Info,
    /// Probably not what was meant.
    Warning,
    /// Certainly broken: every image under it is denied, or a tool fails.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// In `policy.json`, at a JSON path (`$.default[0]`,
    /// `$.transports.docker["quay.io"]`).
    Policy {
        /// The JSON path.
        path: String,
    },
    /// In `registries.d`: a file (when one section is meant) and the
    /// section's key path (`docker["quay.io"].lookaside`).
    Registries {
        /// The file that defines the section.
        file: Option<String>,
        /// The key path inside it.
        path: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Policy { path } => f.write_str(path),
            Location::Registries {
                file: Some(file),
                path,
            } => write!(f, "{file}: {path}"),
            Location::Registries { file: None, path } => write!(f, "registries.d {path}"),
        }
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One finding of [`lint`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// How bad ([`FindingKind::severity`]).
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// A sentence for humans.
    pub message: String,
}

impl Finding {
    fn new(kind: FindingKind, location: Location, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            severity: kind.severity(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.severity, self.location, self.message)
    }
}

fn at(path: impl Into<String>) -> Location {
    Location::Policy { path: path.into() }
}

/// Lints a policy and a `registries.d` configuration. `key_file_exists` is
/// asked about every absolute `keyPath`/`keyPaths` entry (the crate does no
/// I/O; pass `&|p| std::path::Path::new(p).exists()` for the local files,
/// or `&|_| true` to skip the check). Findings come in document order:
/// policy first, then registries.d.
pub fn lint(
    policy: &Policy,
    registries: &RegistriesConfig,
    key_file_exists: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let mut out = lint_policy(policy, key_file_exists);
    out.extend(lint_registries(registries));
    out
}

/// The policy half of [`lint`].
pub fn lint_policy(policy: &Policy, key_file_exists: &dyn Fn(&str) -> bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if policy
        .default
        .iter()
        .any(|r| matches!(r, Requirement::InsecureAcceptAnything))
        && !policy
            .default
            .iter()
            .any(|r| !matches!(r, Requirement::InsecureAcceptAnything))
    {
        out.push(Finding::new(
            FindingKind::InsecureDefault,
            at("$.default"),
            "insecureAcceptAnything as the default: every image not covered by a scope runs unchecked",
        ));
    }
    lint_requirements("$.default", &policy.default, key_file_exists, &mut out);
    for (t, scopes) in &policy.transports {
        if !KNOWN_TRANSPORTS.contains(&t.as_str()) {
            out.push(Finding::new(
                FindingKind::UnknownTransport,
                at(format!("$.transports.{t}")),
                format!("transport {t:?} is unknown here; its scopes are not validated"),
            ));
        }
        for (s, reqs) in scopes {
            let loc = format!("$.transports.{t}[{s:?}]");
            if (t == "docker" || t == "atomic")
                && let Some(p) = docker_scope_problem(s)
            {
                out.push(Finding::new(
                    FindingKind::ScopeNeverMatches,
                    at(loc.clone()),
                    p,
                ));
            }
            lint_requirements(&loc, reqs, key_file_exists, &mut out);
        }
    }
    out
}

fn lint_requirements(
    loc: &str,
    reqs: &[Requirement],
    key_file_exists: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) {
    for (i, r) in reqs.iter().enumerate() {
        let here = format!("{loc}[{i}]");
        match r {
            Requirement::SignedBy(sb) => {
                if sb.key_type != KeyType::GpgKeys {
                    out.push(Finding::new(
                        FindingKind::UnimplementedKeyType,
                        at(here.clone()),
                        format!(
                            "keyType {} is not implemented: every image is denied",
                            sb.key_type.as_str()
                        ),
                    ));
                }
                let paths: Vec<&String> = match &sb.keys {
                    KeySource::Path(p) => vec![p],
                    KeySource::Paths(ps) => {
                        if ps.is_empty() {
                            out.push(Finding::new(
                                FindingKind::EmptyKeyPaths,
                                at(here.clone()),
                                "keyPaths is empty: \"No public keys imported\", every image is denied",
                            ));
                        }
                        ps.iter().collect()
                    }
                    KeySource::Data(d) => {
                        if imprimatur_signature::TrustedKeys::from_bytes(d)
                            .map(|k| k.is_empty())
                            .unwrap_or(true)
                        {
                            out.push(Finding::new(
                                FindingKind::NoKeyInKeyData,
                                at(here.clone()),
                                "keyData contains no public key: every image is denied",
                            ));
                        }
                        vec![]
                    }
                };
                for p in paths {
                    if !p.starts_with('/') {
                        out.push(Finding::new(
                            FindingKind::RelativeKeyPath,
                            at(here.clone()),
                            format!(
                                "relative key path {p:?} is resolved against the working directory of each tool"
                            ),
                        ));
                    } else if !key_file_exists(p) {
                        out.push(Finding::new(
                            FindingKind::MissingKeyFile,
                            at(here.clone()),
                            format!("key file {p} does not exist: every image is denied"),
                        ));
                    }
                }
            }
            Requirement::SignedBaseLayer { .. } => out.push(Finding::new(
                FindingKind::SignedBaseLayerUnimplemented,
                at(here),
                "signedBaseLayer is not implemented by containers/image: every image is denied",
            )),
            Requirement::SigstoreSigned(ss) => {
                // containers/image 5.23.1 knows keyPath, keyData and
                // signedIdentity only (rekor*/fulcio came in 5.24, keyPaths
                // and keyDatas in 5.33, pki in 5.35).
                let newer = ss.options_newer_than_5_23();
                if !newer.is_empty() {
                    let offline = match ss.trust() {
                        crate::model::SigstoreTrust::Unverifiable(why) => {
                            format!("; {why}: imprimatur never accepts it")
                        }
                        _ => String::new(),
                    };
                    out.push(Finding::new(
                        FindingKind::SigstoreOptionUnknownToSkopeo,
                        at(here),
                        format!(
                            "{} not understood by skopeo 1.9.3 (the whole policy is rejected there){offline}",
                            newer.join(", ")
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The `registries.d` half of [`lint`].
pub fn lint_registries(reg: &RegistriesConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut sections: Vec<(String, &Located)> = reg
        .docker
        .iter()
        .map(|(s, l)| (format!("docker[{s:?}]"), l))
        .collect();
    if let Some(d) = &reg.default_docker {
        sections.push(("default-docker".to_owned(), d));
    }
    for (name, l) in sections {
        let s = &l.section;
        for (key, v) in [
            ("lookaside", &s.lookaside),
            ("lookaside-staging", &s.lookaside_staging),
            ("sigstore", &s.sigstore),
            ("sigstore-staging", &s.sigstore_staging),
        ] {
            let Some(url) = v.as_deref().filter(|u| !u.is_empty()) else {
                continue;
            };
            let loc = || Location::Registries {
                file: Some(l.file.clone()),
                path: format!("{name}.{key}"),
            };
            match parse_base(url) {
                Err(e) => out.push(Finding::new(
                    FindingKind::InvalidLookasideUrl,
                    loc(),
                    format!("{e}; a lookaside without a scheme crashes skopeo 1.9.3"),
                )),
                Ok(u) if !matches!(u.scheme(), "file" | "http" | "https") => {
                    out.push(Finding::new(
                        FindingKind::UnsupportedLookasideScheme,
                        loc(),
                        format!("scheme {:?} is not supported for signatures", u.scheme()),
                    ))
                }
                Ok(u) if key.ends_with("staging") && u.scheme() != "file" => {
                    out.push(Finding::new(
                        FindingKind::LookasideStagingNotWritable,
                        loc(),
                        "only file: lookasides are writable",
                    ))
                }
                Ok(_) => {}
            }
            if key.starts_with("sigstore") {
                out.push(Finding::new(
                    FindingKind::DeprecatedSigstoreKey,
                    loc(),
                    format!(
                        "{key} is deprecated; use {}",
                        key.replace("sigstore", "lookaside")
                    ),
                ));
            }
        }
    }
    for scope in reg.docker.keys() {
        if let Some(p) = docker_scope_problem(scope) {
            out.push(Finding::new(
                FindingKind::ScopeNeverMatches,
                Location::Registries {
                    file: None,
                    path: format!("docker[{scope:?}]"),
                },
                p,
            ));
        }
    }
    out
}

/// Why a docker scope can never match, if it can't.
fn docker_scope_problem(scope: &str) -> Option<String> {
    if scope.is_empty() {
        return None;
    }
    if let Some(rest) = scope.strip_prefix("*.") {
        if rest.contains(':') || rest.contains('/') {
            return Some("wildcard scopes are matched against the host without port or path; this one never matches".to_owned());
        }
        return if rest.split('.').all(|l| !l.is_empty()) {
            None
        } else {
            Some("malformed wildcard scope".to_owned())
        };
    }
    if !scope.contains('/') {
        // A registry host (with optional port) is a namespace of its images.
        let host_ok = scope.split(':').next().is_some_and(|h| {
            h.split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        });
        if host_ok {
            if !scope.contains('.') && !scope.contains(':') && scope != "localhost" {
                return Some(format!(
                    "matches only images on a registry host named {scope:?}; for the Docker Hub repository use \"docker.io/library/{scope}\""
                ));
            }
            return None;
        }
    }
    match Reference::parse_normalized(scope) {
        Err(e) => Some(format!("not a docker reference ({e}); never matches")),
        Ok(r) => {
            let canonical = if r.is_name_only() {
                r.name()
            } else {
                r.to_string()
            };
            if canonical == scope {
                None
            } else {
                Some(format!(
                    "scopes are compared with fully-qualified names; this never matches, use {canonical:?}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(doc: &str) -> Policy {
        Policy::from_json(doc.as_bytes(), "p.json").expect("valid policy")
    }

    fn kinds(f: &[Finding]) -> Vec<FindingKind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn clean_policy_has_no_findings() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/acme":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}],"*.example.com":[{"type":"reject"}],"localhost":[{"type":"reject"}]}}}"#,
        );
        assert_eq!(lint(&p, &RegistriesConfig::default(), &|_| true), []);
    }

    #[test]
    fn policy_findings_with_kind_severity_location() {
        let p = policy(
            r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{
                "docker":{
                    "busybox":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"rel.gpg"}],
                    "docker.io/library/busybox:latest":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/missing.gpg","/here.gpg"]}],
                    "*.example.com:5000":[{"type":"signedBy","keyType":"signedByGPGKeys","keyPaths":[]}],
                    "quay.io/x":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}],
                    "quay.io/y":[{"type":"signedBy","keyType":"GPGKeys","keyData":"eA=="}],
                    "quay.io/z":[{"type":"sigstoreSigned","signedIdentity":{"type":"matchRepository"},"pki":{}}]
                },
                "x-future":{"a":[{"type":"reject"}]}}}"#,
        );
        let f = lint_policy(&p, &|path| path == "/here.gpg");
        let got: Vec<(FindingKind, Severity, String)> = f
            .iter()
            .map(|f| (f.kind, f.severity, f.location.to_string()))
            .collect();
        use FindingKind as K;
        use Severity as S;
        let want = [
            (K::InsecureDefault, S::Warning, "$.default"),
            (
                K::ScopeNeverMatches,
                S::Warning,
                r#"$.transports.docker["*.example.com:5000"]"#,
            ),
            (
                K::UnimplementedKeyType,
                S::Error,
                r#"$.transports.docker["*.example.com:5000"][0]"#,
            ),
            (
                K::EmptyKeyPaths,
                S::Error,
                r#"$.transports.docker["*.example.com:5000"][0]"#,
            ),
            (
                K::ScopeNeverMatches,
                S::Warning,
                r#"$.transports.docker["busybox"]"#,
            ),
            (
                K::RelativeKeyPath,
                S::Warning,
                r#"$.transports.docker["busybox"][0]"#,
            ),
            (
                K::MissingKeyFile,
                S::Error,
                r#"$.transports.docker["docker.io/library/busybox:latest"][0]"#,
            ),
            (
                K::SignedBaseLayerUnimplemented,
                S::Error,
                r#"$.transports.docker["quay.io/x"][0]"#,
            ),
            (
                K::NoKeyInKeyData,
                S::Error,
                r#"$.transports.docker["quay.io/y"][0]"#,
            ),
            (
                K::SigstoreOptionUnknownToSkopeo,
                S::Error,
                r#"$.transports.docker["quay.io/z"][0]"#,
            ),
            (K::UnknownTransport, S::Warning, "$.transports.x-future"),
        ];
        let want: Vec<(FindingKind, Severity, String)> = want
            .iter()
            .map(|(k, s, l)| (*k, *s, (*l).to_owned()))
            .collect();
        assert_eq!(got, want, "{f:#?}");
        assert!(
            f[4].message.contains("docker.io/library/busybox"),
            "{}",
            f[4]
        );
        assert!(f[9].message.starts_with("pki not understood"), "{}", f[9]);
    }

    #[test]
    fn scope_problems() {
        for ok in [
            "",
            "quay.io",
            "quay.io:5000",
            "localhost",
            "*.example.com",
            "quay.io/a/b",
            "docker.io/library/busybox:1",
            "quay.io/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(docker_scope_problem(ok), None, "{ok}");
        }
        for bad in [
            "busybox",
            "*.a:1",
            "*.a/b",
            "*..a",
            "quay.io/A",
            "library/busybox",
        ] {
            assert!(docker_scope_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn registries_findings() {
        let a = "docker:\n  example.com:\n    lookaside: example.com/sigs\n  quay.io:\n    lookaside: ftp://x/y\n    lookaside-staging: https://x/y\n";
        let b = "default-docker:\n  sigstore: file:///var/sigs\n  sigstore-staging: file:///var/sigs\ndocker:\n  busybox:\n    lookaside: https://ok.example/s\n";
        let reg =
            RegistriesConfig::from_files([("a.yaml", a.as_bytes()), ("b.yaml", b.as_bytes())])
                .expect("merge");
        let f = lint_registries(&reg);
        let got: Vec<(FindingKind, Severity, String)> = f
            .iter()
            .map(|f| (f.kind, f.severity, f.location.to_string()))
            .collect();
        use FindingKind as K;
        use Severity as S;
        let want = [
            (
                K::InvalidLookasideUrl,
                S::Error,
                r#"a.yaml: docker["example.com"].lookaside"#,
            ),
            (
                K::UnsupportedLookasideScheme,
                S::Warning,
                r#"a.yaml: docker["quay.io"].lookaside"#,
            ),
            (
                K::LookasideStagingNotWritable,
                S::Warning,
                r#"a.yaml: docker["quay.io"].lookaside-staging"#,
            ),
            (
                K::DeprecatedSigstoreKey,
                S::Info,
                "b.yaml: default-docker.sigstore",
            ),
            (
                K::DeprecatedSigstoreKey,
                S::Info,
                "b.yaml: default-docker.sigstore-staging",
            ),
            (
                K::ScopeNeverMatches,
                S::Warning,
                r#"registries.d docker["busybox"]"#,
            ),
        ];
        let want: Vec<(FindingKind, Severity, String)> = want
            .iter()
            .map(|(k, s, l)| (*k, *s, (*l).to_owned()))
            .collect();
        assert_eq!(got, want, "{f:#?}");
        assert!(f[0].message.contains("crashes skopeo 1.9.3"), "{}", f[0]);
        assert_eq!(kinds(&lint_registries(&RegistriesConfig::default())), []);
    }

    #[test]
    fn kinds_serialize_as_their_stable_names() {
        for k in [
            FindingKind::InsecureDefault,
            FindingKind::SigstoreOptionUnknownToSkopeo,
            FindingKind::DeprecatedSigstoreKey,
        ] {
            assert_eq!(
                serde_json::to_value(k).expect("json"),
                serde_json::Value::String(k.as_str().to_owned())
            );
        }
        assert_eq!(
            serde_json::to_value(Severity::Error).expect("json"),
            serde_json::json!("error")
        );
    }
}
