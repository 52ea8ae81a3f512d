//! Serializable, versioned views for machine-readable output: a trust
//! configuration ([`TrustView`], what `imprimatur trust show --json`
//! prints), a decision ([`DecisionView`], `imprimatur policy check --json`)
//! and lint findings ([`LintView`], `imprimatur policy lint --json`).
//!
//! Every view has a top-level `"version"` ([`VIEW_VERSION`]). Within a
//! version, fields are only ever added; a field is never removed, renamed
//! or given another meaning without a new version.
//!
//! # JSON schema, version 1
//!
//! `TrustView`:
//!
//! ```text
//! {
//!   "version": 1,
//!   "scopes": [                      // default first, then policy scopes
//!     {                              // sorted, then registries.d-only scopes
//!       "transport": "docker" | null,  // null for the default
//!       "scope": "quay.io/acme" | "default",
//!       "requirements": [            // null: registries.d only, no policy scope
//!         {"type": "signedBy", "keyType": "GPGKeys",
//!          "keys": ["/path.gpg" | "<keyData: N bytes>", ...],
//!          "identity": "matchRepoDigestOrExact" | "exactReference REF" | ...},
//!         {"type": "reject" | "insecureAcceptAnything" | "sigstoreSigned"
//!                  | "signedBaseLayer <identity>"}
//!       ],
//!       "registries": null | {       // the registries.d section of the scope
//!         "section": {"lookaside": URL | null, "lookasideStaging": URL | null},
//!         "file": "registries.d/x.yaml"
//!       }
//!     }
//!   ]
//! }
//! ```
//!
//! `DecisionView`:
//!
//! ```text
//! {
//!   "version": 1,
//!   "allowed": bool,
//!   "image": "docker://quay.io/acme/app:1",
//!   "scope": "default" | "transports.docker[\"quay.io/acme\"]",
//!   "reason": string | null,         // the first denial, in skopeo's words
//!   "requirements": [
//!     {"type": "signedBy", "requirement": "signedBy GPGKeys keyPath /k, ...",
//!      "allowed": bool, "message": string,
//!      "signatures": [
//!        {"index": 1, "verdict": "accepted", "signer": FPR, "identity": REF, "digest": DIGEST},
//!        {"index": 2, "verdict": "rejected", "reason": string},
//!        {"index": 3, "verdict": "unknown"}
//!      ]}
//!   ],
//!   "lookaside": null | {"url": URL, "scope": "quay.io" | "default-docker", "file": NAME}
//! }
//! ```
//!
//! `LintView`:
//!
//! ```text
//! {
//!   "version": 1,
//!   "valid": true,                   // invalid files are errors, not views
//!   "warnings": [
//!     {"kind": "relative-key-path", "severity": "info" | "warning" | "error",
//!      "location": "$.default[0]", "warning": "relative key path ..."}
//!   ]
//! }
//! ```

use serde::Serialize;

use crate::eval::{Decision, SignatureVerdict, describe_identity, describe_requirement};
use crate::lint::{Finding, FindingKind, Severity};
use crate::model::{KeySource, Policy, Requirement};
use crate::registries::{LookasideChoice, RegistriesConfig, Section};

/// The version of every view's schema.
pub const VIEW_VERSION: u32 = 1;

/// A trust configuration: every scope of a policy with the `registries.d`
/// section that applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TrustView {
    /// [`VIEW_VERSION`].
    pub version: u32,
    /// The default, the policy's scopes, then `registries.d` scopes
    /// without a policy scope.
    pub scopes: Vec<ScopeView>,
}

/// One scope of a [`TrustView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScopeView {
    /// The transport; `None` for the default.
    pub transport: Option<String>,
    /// The scope; `default` for the default.
    pub scope: String,
    /// The requirements; `None` for a `registries.d` scope that has no
    /// policy scope (the default or a wider scope applies).
    pub requirements: Option<Vec<RequirementView>>,
    /// The `registries.d` section configured for exactly this scope.
    pub registries: Option<RegistriesView>,
}

/// A requirement in a [`ScopeView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequirementView {
    /// `signedBy`, or for the others [`describe_requirement`]'s words.
    #[serde(rename = "type")]
    pub kind: String,
    /// `signedBy` only: the key type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// `signedBy` only: key files, or `<keyData: N bytes>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// `signedBy` only: the identity rule ([`describe_identity`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// A `registries.d` section and the file that defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RegistriesView {
    /// The lookaside URLs.
    pub section: SectionView,
    /// The file.
    pub file: String,
}

/// The lookaside URLs of a section (`sigstore*` spellings folded in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SectionView {
    /// Where signatures are read.
    pub lookaside: Option<String>,
    /// Where signatures are written.
    pub lookaside_staging: Option<String>,
}

impl From<&Section> for SectionView {
    fn from(s: &Section) -> SectionView {
        SectionView {
            lookaside: s.lookaside.clone().or_else(|| s.sigstore.clone()),
            lookaside_staging: s
                .lookaside_staging
                .clone()
                .or_else(|| s.sigstore_staging.clone()),
        }
    }
}

impl From<&Requirement> for RequirementView {
    fn from(r: &Requirement) -> RequirementView {
        match r {
            Requirement::SignedBy(sb) => RequirementView {
                kind: "signedBy".to_owned(),
                key_type: Some(sb.key_type.as_str().to_owned()),
                keys: Some(match &sb.keys {
                    KeySource::Path(p) => vec![p.clone()],
                    KeySource::Paths(ps) => ps.clone(),
                    KeySource::Data(d) => vec![format!("<keyData: {} bytes>", d.len())],
                }),
                identity: Some(describe_identity(sb.identity())),
            },
            other => RequirementView {
                kind: describe_requirement(other),
                key_type: None,
                keys: None,
                identity: None,
            },
        }
    }
}

impl TrustView {
    /// The view of `policy` with `registries`.
    pub fn new(policy: &Policy, registries: &RegistriesConfig) -> TrustView {
        let section_for = |transport: &str, scope: &str| -> Option<RegistriesView> {
            if transport != "docker" && transport != "atomic" {
                return None;
            }
            let l = if scope.is_empty() {
                registries.default_docker.as_ref()
            } else {
                registries.docker.get(scope)
            }?;
            Some(RegistriesView {
                section: SectionView::from(&l.section),
                file: l.file.clone(),
            })
        };
        let reqs = |list: &[Requirement]| Some(list.iter().map(RequirementView::from).collect());
        let mut scopes = vec![ScopeView {
            transport: None,
            scope: "default".to_owned(),
            requirements: reqs(&policy.default),
            registries: section_for("docker", ""),
        }];
        for (t, list) in &policy.transports {
            for (s, r) in list {
                scopes.push(ScopeView {
                    transport: Some(t.clone()),
                    scope: s.clone(),
                    requirements: reqs(r),
                    registries: section_for(t, s),
                });
            }
        }
        for (scope, l) in &registries.docker {
            if policy.scope("docker", scope).is_none() {
                scopes.push(ScopeView {
                    transport: Some("docker".to_owned()),
                    scope: scope.clone(),
                    requirements: None,
                    registries: Some(RegistriesView {
                        section: SectionView::from(&l.section),
                        file: l.file.clone(),
                    }),
                });
            }
        }
        TrustView {
            version: VIEW_VERSION,
            scopes,
        }
    }
}

/// A [`Decision`] for output, with the lookaside the image's signatures
/// are read from when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DecisionView {
    /// [`VIEW_VERSION`].
    pub version: u32,
    /// Every requirement allows.
    pub allowed: bool,
    /// `transport:reference`.
    pub image: String,
    /// The chosen scope.
    pub scope: String,
    /// The first denial, in the reference implementation's words.
    pub reason: Option<String>,
    /// Every requirement of the scope.
    pub requirements: Vec<RequirementOutcomeView>,
    /// The `registries.d` lookaside for the image, when one was looked up.
    pub lookaside: Option<LookasideView>,
}

/// One requirement's outcome in a [`DecisionView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequirementOutcomeView {
    /// The requirement type (`signedBy`, `reject`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The requirement in one line ([`describe_requirement`]).
    pub requirement: String,
    /// Whether it allows the image.
    pub allowed: bool,
    /// Why, in the reference implementation's words.
    pub message: String,
    /// The verdict on each signature.
    pub signatures: Vec<SignatureView>,
}

/// One signature's verdict in a [`DecisionView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
#[non_exhaustive]
pub enum SignatureView {
    /// Accepted.
    Accepted {
        /// 1-based position.
        index: usize,
        /// The signing key: its OpenPGP fingerprint, or for a sigstore
        /// signature `sigstore:` and the SHA-256 (hex) of its public key's
        /// DER encoding.
        signer: String,
        /// The signed identity.
        identity: String,
        /// The signed digest.
        digest: String,
    },
    /// Rejected.
    Rejected {
        /// 1-based position.
        index: usize,
        /// Why (the full cause chain).
        reason: String,
    },
    /// The requirement has no opinion on signatures.
    Unknown {
        /// 1-based position.
        index: usize,
    },
    /// A verdict this schema version does not name.
    Other {
        /// 1-based position.
        index: usize,
        /// A description.
        detail: String,
    },
}

/// Where an image's signatures are read from (`registries.d`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LookasideView {
    /// The base URL.
    pub url: String,
    /// The section: a docker scope or `default-docker`.
    pub scope: String,
    /// The file that defines it.
    pub file: String,
}

impl From<LookasideChoice> for LookasideView {
    fn from(c: LookasideChoice) -> LookasideView {
        LookasideView {
            url: c.url,
            scope: c.scope.unwrap_or_else(|| "default-docker".to_owned()),
            file: c.file,
        }
    }
}

fn requirement_kind(r: &Requirement) -> &'static str {
    match r {
        Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
        Requirement::Reject => "reject",
        Requirement::SignedBy(_) => "signedBy",
        Requirement::SignedBaseLayer { .. } => "signedBaseLayer",
        Requirement::SigstoreSigned(_) => "sigstoreSigned",
    }
}

impl DecisionView {
    /// The view of `decision` (no lookaside; see
    /// [`with_lookaside`](Self::with_lookaside)).
    pub fn new(decision: &Decision) -> DecisionView {
        DecisionView {
            version: VIEW_VERSION,
            allowed: decision.allowed,
            image: decision.image.clone(),
            scope: decision.scope.clone(),
            reason: decision.reason.clone(),
            requirements: decision
                .requirements
                .iter()
                .map(|r| RequirementOutcomeView {
                    kind: requirement_kind(&r.requirement).to_owned(),
                    requirement: describe_requirement(&r.requirement),
                    allowed: r.allowed,
                    message: r.message.clone(),
                    signatures: r
                        .signatures
                        .iter()
                        .map(|s| match &s.verdict {
                            SignatureVerdict::Accepted {
                                signer,
                                identity,
                                digest,
                            } => SignatureView::Accepted {
                                index: s.index,
                                signer: signer.as_str().to_owned(),
                                identity: identity.clone(),
                                digest: digest.clone(),
                            },
                            SignatureVerdict::AcceptedSigstore {
                                key,
                                identity,
                                digest,
                            } => SignatureView::Accepted {
                                index: s.index,
                                signer: format!("sigstore:{key}"),
                                identity: identity.clone(),
                                digest: digest.clone(),
                            },
                            SignatureVerdict::Rejected(why) => SignatureView::Rejected {
                                index: s.index,
                                reason: why.to_string(),
                            },
                            SignatureVerdict::Unknown => SignatureView::Unknown { index: s.index },
                            // Verdicts added after schema version 1 are
                            // shown by their Debug form until the view
                            // names them.
                            #[allow(unreachable_patterns)]
                            other => SignatureView::Other {
                                index: s.index,
                                detail: format!("{other:?}"),
                            },
                        })
                        .collect(),
                })
                .collect(),
            lookaside: None,
        }
    }

    /// Adds the lookaside the image's signatures are read from.
    pub fn with_lookaside(mut self, lookaside: Option<LookasideChoice>) -> DecisionView {
        self.lookaside = lookaside.map(LookasideView::from);
        self
    }
}

/// Lint findings for output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LintView {
    /// [`VIEW_VERSION`].
    pub version: u32,
    /// Always `true`: files that do not parse are errors, not views.
    pub valid: bool,
    /// The findings, in [`lint`](crate::lint) order.
    pub warnings: Vec<FindingView>,
}

/// One finding in a [`LintView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FindingView {
    /// The stable kind.
    pub kind: FindingKind,
    /// The severity.
    pub severity: Severity,
    /// Where.
    pub location: String,
    /// The message (named `warning` since the first version of the output).
    pub warning: String,
}

impl LintView {
    /// The view of `findings`.
    pub fn new(findings: &[Finding]) -> LintView {
        LintView {
            version: VIEW_VERSION,
            valid: true,
            warnings: findings
                .iter()
                .map(|f| FindingView {
                    kind: f.kind,
                    severity: f.severity,
                    location: f.location.to_string(),
                    warning: f.message.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evaluator, Image, NoKeyFiles, PolicyImage};
    use serde_json::json;

    fn policy(doc: &str) -> Policy {
        Policy::from_json(doc.as_bytes(), "p.json").expect("policy")
    }

    #[test]
    fn trust_view_json() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/acme":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a.gpg","/b.gpg"],"signedIdentity":{"type":"matchRepository"}}]},"dir":{"/x":[{"type":"insecureAcceptAnything"}]}}}"#,
        );
        let reg = RegistriesConfig::from_files([
            (
                "a.yaml",
                &b"docker:\n  quay.io/acme:\n    lookaside: https://s.example/l\n  other.example:\n    sigstore: file:///s\n"[..],
            ),
            (
                "b.yaml",
                &b"default-docker:\n  lookaside-staging: file:///stage\n"[..],
            ),
        ])
        .expect("registries");
        let v = serde_json::to_value(TrustView::new(&p, &reg)).expect("json");
        assert_eq!(
            v,
            json!({"version": 1, "scopes": [
                {"transport": null, "scope": "default", "requirements": [{"type": "reject"}],
                 "registries": {"section": {"lookaside": null, "lookasideStaging": "file:///stage"}, "file": "b.yaml"}},
                {"transport": "dir", "scope": "/x", "requirements": [{"type": "insecureAcceptAnything"}],
                 "registries": null},
                {"transport": "docker", "scope": "quay.io/acme",
                 "requirements": [{"type": "signedBy", "keyType": "GPGKeys", "keys": ["/a.gpg", "/b.gpg"],
                                   "identity": "matchRepository"}],
                 "registries": {"section": {"lookaside": "https://s.example/l", "lookasideStaging": null}, "file": "a.yaml"}},
                {"transport": "docker", "scope": "other.example", "requirements": null,
                 "registries": {"section": {"lookaside": "file:///s", "lookasideStaging": null}, "file": "a.yaml"}}
            ]})
        );
    }

    #[test]
    fn decision_view_json() {
        let p = policy(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/acme":[{"type":"insecureAcceptAnything"},{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent"}]}}}"#,
        );
        let ev = Evaluator::new(p, NoKeyFiles);
        let target = PolicyImage::parse_docker("quay.io/acme/app:1").expect("reference");
        let sig: &[u8] = &[0xa3, 0x01];
        let d = ev.evaluate(&Image::new(target, Some(b"{}"), vec![sig]));
        let reg = RegistriesConfig::from_files([(
            "a.yaml",
            &b"docker:\n  quay.io:\n    lookaside: https://s.example/l\n"[..],
        )])
        .expect("registries");
        let r = imprimatur_reference::Reference::parse_normalized("quay.io/acme/app:1")
            .expect("reference");
        let lookaside = reg.lookaside_for(&r, crate::Purpose::Read);
        let v =
            serde_json::to_value(DecisionView::new(&d).with_lookaside(lookaside)).expect("json");
        assert_eq!(v["version"], 1);
        assert_eq!(v["allowed"], false);
        assert_eq!(v["scope"], r#"transports.docker["quay.io/acme"]"#);
        assert_eq!(v["requirements"][0]["type"], "insecureAcceptAnything");
        assert_eq!(v["requirements"][0]["allowed"], true);
        assert_eq!(v["requirements"][1]["type"], "signedBy");
        assert_eq!(v["requirements"][1]["signatures"][0]["verdict"], "rejected");
        assert_eq!(v["requirements"][1]["signatures"][0]["index"], 1);
        assert!(
            v["requirements"][1]["signatures"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("/nonexistent")),
            "{v}"
        );
        assert_eq!(
            v["lookaside"],
            json!({"url": "https://s.example/l", "scope": "quay.io", "file": "a.yaml"})
        );
        // The same as Decision::to_json, plus the version (and lookaside).
        let mut plain = serde_json::to_value(DecisionView::new(&d)).expect("json");
        assert_eq!(plain["lookaside"], serde_json::Value::Null);
        let o = plain.as_object_mut().expect("object");
        o.remove("lookaside");
        o.remove("version");
        assert_eq!(d.to_json(), plain);
    }

    #[test]
    fn lint_view_json() {
        let p = policy(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#);
        let f = crate::lint(&p, &RegistriesConfig::default(), &|_| true);
        assert_eq!(
            serde_json::to_value(LintView::new(&f)).expect("json"),
            json!({"version": 1, "valid": true, "warnings": [{
                "kind": "insecure-default", "severity": "warning", "location": "$.default",
                "warning": "insecureAcceptAnything as the default: every image not covered by a scope runs unchecked"
            }]})
        );
    }
}
