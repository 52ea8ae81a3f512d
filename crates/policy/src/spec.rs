//! Identity specifications: the one-line form of a `signedIdentity` rule
//! that command lines take (`imprimatur trust set --identity …`).
//!
//! | spec | rule |
//! |---|---|
//! | `matchRepoDigestOrExact` | [`IdentityMatch::MatchRepoDigestOrExact`] (the default) |
//! | `matchExact` | [`IdentityMatch::MatchExact`] |
//! | `matchRepository` | [`IdentityMatch::MatchRepository`] |
//! | `exactReference=REF` | [`IdentityMatch::ExactReference`] (REF has a tag or digest) |
//! | `exactRepository=REPO` | [`IdentityMatch::ExactRepository`] |
//! | `remapIdentity=PREFIX,SIGNED_PREFIX` | [`IdentityMatch::RemapIdentity`] |
//!
//! Values are validated as `policy.json` parsing validates them;
//! [`IdentityMatch::to_spec`] is the inverse.
//!
//! ```
//! use imprimatur_policy::{IdentityMatch, IdentitySpecError};
//!
//! let rule: IdentityMatch = "remapIdentity=mirror.internal/vendor,registry.vendor.example".parse()?;
//! assert_eq!(rule.to_spec(), "remapIdentity=mirror.internal/vendor,registry.vendor.example");
//! assert!(matches!(
//!     "exactReference=busybox".parse::<IdentityMatch>(),
//!     Err(IdentitySpecError::InvalidValue { .. })
//! ));
//! # Ok::<(), IdentitySpecError>(())
//! ```

use std::str::FromStr;

use crate::error::PolicyRule;
use crate::model::IdentityMatch;

/// Why an identity specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentitySpecError {
    /// Not one of the known forms.
    #[error(
        "unknown identity rule {0:?}: expected matchRepoDigestOrExact, matchExact, matchRepository, exactReference=REF, exactRepository=REPO or remapIdentity=PREFIX,SIGNED_PREFIX"
    )]
    Unknown(String),
    /// A rule that takes a value was given none, or one that takes none was
    /// given one.
    #[error("identity rule {rule} {}", if *.takes_value { "needs a value (RULE=VALUE)" } else { "takes no value" })]
    Value {
        /// The rule name.
        rule: String,
        /// Whether the rule takes a value.
        takes_value: bool,
    },
    /// `remapIdentity` needs two comma-separated prefixes.
    #[error("remapIdentity=PREFIX,SIGNED_PREFIX expected, got {0:?}")]
    RemapArity(String),
    /// The value breaks the rule's `policy.json` validation.
    #[error("identity rule {rule}: {reason}")]
    InvalidValue {
        /// The rule name.
        rule: &'static str,
        /// What is wrong, as the policy parser says it.
        #[source]
        reason: PolicyRule,
    },
}

impl FromStr for IdentityMatch {
    type Err = IdentitySpecError;

    fn from_str(s: &str) -> Result<IdentityMatch, IdentitySpecError> {
        let (kind, value) = match s.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        let arity = |takes_value: bool| IdentitySpecError::Value {
            rule: kind.to_owned(),
            takes_value,
        };
        let invalid =
            |rule: &'static str| move |reason| IdentitySpecError::InvalidValue { rule, reason };
        match (kind, value) {
            ("matchRepoDigestOrExact", None) => Ok(IdentityMatch::MatchRepoDigestOrExact),
            ("matchExact", None) => Ok(IdentityMatch::MatchExact),
            ("matchRepository", None) => Ok(IdentityMatch::MatchRepository),
            ("matchRepoDigestOrExact" | "matchExact" | "matchRepository", Some(_)) => {
                Err(arity(false))
            }
            ("exactReference", Some(v)) => {
                IdentityMatch::exact_reference(v).map_err(invalid("exactReference"))
            }
            ("exactRepository", Some(v)) => {
                IdentityMatch::exact_repository(v).map_err(invalid("exactRepository"))
            }
            ("remapIdentity", Some(v)) => {
                let Some((p, sp)) = v.split_once(',') else {
                    return Err(IdentitySpecError::RemapArity(s.to_owned()));
                };
                IdentityMatch::remap_identity(p, sp).map_err(invalid("remapIdentity"))
            }
            ("exactReference" | "exactRepository" | "remapIdentity", None) => Err(arity(true)),
            _ => Err(IdentitySpecError::Unknown(s.to_owned())),
        }
    }
}

impl IdentityMatch {
    /// The specification [`FromStr`] reads back to this rule.
    pub fn to_spec(&self) -> String {
        match self {
            IdentityMatch::ExactReference(r) => format!("exactReference={r}"),
            IdentityMatch::ExactRepository(r) => format!("exactRepository={r}"),
            IdentityMatch::RemapIdentity {
                prefix,
                signed_prefix,
            } => format!("remapIdentity={prefix},{signed_prefix}"),
            other => other.type_name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for spec in [
            "matchRepoDigestOrExact",
            "matchExact",
            "matchRepository",
            "exactReference=quay.io/a/b:1",
            "exactRepository=quay.io/a/b",
            "remapIdentity=mirror.internal/vendor,registry.vendor.example",
        ] {
            let rule: IdentityMatch = spec.parse().expect(spec);
            assert_eq!(rule.to_spec(), spec);
        }
        assert_eq!(
            "exactReference=quay.io/a/b:1".parse::<IdentityMatch>(),
            Ok(IdentityMatch::ExactReference("quay.io/a/b:1".into()))
        );
    }

    #[test]
    fn refusals_are_typed() {
        use IdentitySpecError as E;
        let p = |s: &str| s.parse::<IdentityMatch>();
        assert!(matches!(p("matchAll"), Err(E::Unknown(_))));
        assert!(matches!(p(""), Err(E::Unknown(_))));
        assert!(matches!(
            p("matchExact=x"),
            Err(E::Value {
                takes_value: false,
                ..
            })
        ));
        assert!(matches!(
            p("exactReference"),
            Err(E::Value {
                takes_value: true,
                ..
            })
        ));
        assert!(matches!(
            p("remapIdentity=a.example"),
            Err(E::RemapArity(_))
        ));
        assert!(matches!(
            p("exactReference=busybox"),
            Err(E::InvalidValue {
                rule: "exactReference",
                reason: PolicyRule::ReferenceNameOnly(_)
            })
        ));
        assert!(matches!(
            p("remapIdentity=example.com/,x.example"),
            Err(E::InvalidValue {
                rule: "remapIdentity",
                reason: PolicyRule::InvalidPrefix(_)
            })
        ));
        let e = p("exactRepository=UPPER").expect_err("invalid");
        assert!(
            e.to_string().starts_with("identity rule exactRepository: "),
            "{e}"
        );
    }
}
