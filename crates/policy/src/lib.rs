//! `imprimatur-policy`: `policy.json` and `registries.d` for container image
//! trust, compatible with containers/image (skopeo, podman, CRI-O).
//!
//! - [`Policy`]: the typed `policy.json` model, parsed as strictly as the
//!   reference implementation ([`Policy::from_json`]: every error names the
//!   file, the JSON path and the rule) and written canonically
//!   ([`Policy::to_json`]: sorted scopes, 4-space indentation).
//!
//! ```
//! use imprimatur_policy::{Policy, Requirement};
//!
//! let p = Policy::from_json(br#"{"default":[{"type":"reject"}]}"#, "policy.json")?;
//! assert_eq!(p.default, vec![Requirement::Reject]);
//! assert!(Policy::from_json(br#"{"default":[]}"#, "policy.json").is_err());
//! # Ok::<(), imprimatur_policy::Error>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod eval;
pub mod fs;
mod identity;
mod json;
pub mod lookaside;
mod model;
mod registries;
mod scope;
mod trust;

pub use error::{Error, PolicyRule};
pub use eval::{
    AcceptedSignature, Decision, Evaluator, Image, KeyLoader, NoKeyFiles, Rejection,
    RequirementOutcome, SignatureOutcome, SignatureVerdict, describe_identity,
    describe_requirement, evaluate,
};
pub use identity::{identity_matches, ref_matches_prefix, remap};
pub use model::{
    IdentityMatch, KNOWN_TRANSPORTS, KeySource, KeyType, Policy, Requirement, SignedBy,
    SigstoreSigned, is_valid_remap_prefix, validate_scope,
};
pub use registries::{
    Located, LookasideChoice, MAX_REGISTRIES_FILE_BYTES, Purpose, RegistriesConfig, RegistriesFile,
    Section, default_lookaside, is_config_file_name,
};
pub use scope::{PolicyImage, ScopeChoice};
pub use trust::{TrustBuilder, TrustConfig, key_source_for_paths, registries_file_name};
