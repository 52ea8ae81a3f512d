//! `imprimatur-policy`: `policy.json` and `registries.d` for container image
//! trust, compatible with containers/image (skopeo, podman, CRI-O).
//!
//! - [`Policy`]: the typed `policy.json` model, parsed as strictly as the
//!   reference implementation ([`Policy::from_json`]: every error names the
//!   file, the JSON path and the rule) and written canonically
//!   ([`Policy::to_json`]: sorted scopes, 4-space indentation; transports
//!   this crate does not know are kept).
//! - Scope precedence ([`Policy::select`] for a [`PolicyImage`]) and
//!   `signedIdentity` matching ([`identity_matches`]).
//! - [`Evaluator`]: is an [`Image`] (transport, reference, manifest bytes,
//!   signature blobs) allowed? The [`Decision`] explains the chosen scope,
//!   every requirement and every signature. Key files are read through a
//!   [`KeyLoader`] once per evaluator (`imprimatur-registry`'s
//!   `files::FsKeyLoader` reads real files); this crate does no I/O.
//! - [`RegistriesFile`] / [`RegistriesConfig`]: `registries.d`, and
//!   [`lookaside`]: URL layout and the read/write disciplines as pure
//!   functions.
//! - [`machine_config`]: the files a node needs (policy, registries.d, key
//!   files: [`referenced_key_files`]) as an OpenShift `MachineConfig`.
//! - [`TrustBuilder`]: whole trust configurations (policy + registries.d).
//!   Reading and writing them as files (atomic writes, `registries.d`
//!   directories) is `imprimatur-registry`'s `files` module: this crate
//!   takes and returns bytes ([`RegistriesConfig::from_files`],
//!   [`Policy::from_json`], [`RegistriesFile::to_yaml`], [`Policy::to_json`]).
//!
//! ```
//! use imprimatur_policy::{Evaluator, Image, NoKeyFiles, Policy, PolicyImage};
//!
//! let policy = Policy::from_json(br#"{
//!     "default": [{"type": "reject"}],
//!     "transports": {"docker": {"quay.io/acme": [{"type": "insecureAcceptAnything"}]}}
//! }"#, "policy.json")?;
//! let ev = Evaluator::new(policy, NoKeyFiles);
//!
//! let ok = ev.evaluate(&Image::new(PolicyImage::parse_docker("quay.io/acme/app:1")?, None, vec![]));
//! assert!(ok.allowed);
//! assert_eq!(ok.scope, r#"transports.docker["quay.io/acme"]"#);
//!
//! let no = ev.evaluate(&Image::new(PolicyImage::parse_docker("busybox")?, None, vec![]));
//! assert!(!no.allowed);
//! assert_eq!(
//!     no.reason.as_deref(),
//!     Some("Running image docker://docker.io/library/busybox:latest is rejected by policy.")
//! );
//! # Ok::<(), imprimatur_policy::Error>(())
//! ```
//!
//! Strictness, as in the reference:
//!
//! ```
//! use imprimatur_policy::{Error, Policy, PolicyRule};
//!
//! let err = Policy::from_json(br#"{"default":[{"type":"reject","x":1}]}"#, "p.json").unwrap_err();
//! match err {
//!     Error::InvalidPolicy { file, path, rule } => {
//!         assert_eq!((file.as_str(), path.as_str()), ("p.json", "$.default[0]"));
//!         assert_eq!(rule, PolicyRule::UnknownKey("x".into()));
//!     }
//!     other => panic!("{other}"),
//! }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod eval;
mod identity;
mod key_loader;
mod lint;
pub mod lookaside;
mod model;
mod node_trust;
mod registries;
mod scope;
mod spec;
mod trust;
pub mod view;

pub use error::{Error, PolicyRule};
pub use eval::{
    AcceptedSignature, Decision, Evaluator, Image, KeysError, Rejection, RequirementOutcome,
    SignatureOutcome, SignatureVerdict, describe_identity, describe_requirement, evaluate,
};
pub use identity::{identity_matches, ref_matches_prefix, remap};
pub use key_loader::{KeyFileError, KeyLoader, NoKeyFiles};
pub use lint::{Finding, FindingKind, Location, Severity, lint, lint_policy, lint_registries};
pub use model::{
    IdentityMatch, KNOWN_TRANSPORTS, KeySource, KeyType, MAX_POLICY_BYTES, Policy, Requirement,
    SIGSTORE_OPTIONS_5_23, SignedBy, SigstoreKeySource, SigstoreSigned, SigstoreTrust,
    is_valid_remap_prefix, validate_scope,
};
pub use node_trust::{
    IGNITION_VERSION, MAX_NODE_FILE_BYTES, NODE_FILE_MODE, NODE_POLICY_PATH, NODE_REGISTRIES_D,
    NodeFile, NodeTrustError, decode_data_url, machine_config, referenced_key_files,
};
pub use registries::{
    Located, LookasideChoice, MAX_REGISTRIES_FILE_BYTES, Purpose, RegistriesConfig, RegistriesFile,
    Section, default_lookaside, is_config_file_name,
};
pub use scope::{PolicyImage, ScopeChoice};
pub use spec::IdentitySpecError;
pub use trust::{TrustBuilder, TrustConfig, key_source_for_paths, registries_file_name};
pub use view::{DecisionView, LintView, TrustView, VIEW_VERSION};
