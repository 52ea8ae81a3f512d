//! Docker image references and content digests, parsed and normalized exactly
//! as containers/image (skopeo, podman, CRI-O) does.
//!
//! Pure types: no I/O, no global state, and no panics on any input.
//!
//! # References
//!
//! [`Reference::parse_normalized`] reads what a user types (`busybox`,
//! `quay.io/ns/app:v1`, `localhost:5000/x@sha256:…`) and normalizes it:
//! the Docker Hub domain and `library/` namespace are filled in, the legacy
//! `index.docker.io` domain becomes `docker.io`. [`Reference::parse_canonical`]
//! accepts only strings that are already normalized (for signed identities
//! and `--sign-identity`). Both a tag and a digest may be present.
//!
//! | form | accessor | example |
//! |---|---|---|
//! | full ("String") | [`Display`](std::fmt::Display) | `docker.io/library/busybox:latest` |
//! | repository ("Name") | [`Reference::name`] | `docker.io/library/busybox` |
//! | domain / path | [`Reference::domain`], [`Reference::path`] | `docker.io`, `library/busybox` |
//! | familiar | [`Reference::familiar`] | `busybox:latest` |
//! | policy scopes | [`Reference::policy_scopes`], [`Reference::docker_namespaces`] | see below |
//!
//! ```
//! use imprimatur_reference::{Digest, Error, Reference};
//!
//! let r = Reference::parse_normalized("busybox")?;
//! assert_eq!(r.to_string(), "docker.io/library/busybox");
//! assert!(r.is_name_only());
//!
//! // What the docker: transport does with user input: add ":latest".
//! let r = r.with_default_tag();
//! assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
//! assert_eq!(r.familiar(), "busybox:latest");
//!
//! // Policy scopes, most specific first (the transport default "" is not listed).
//! assert_eq!(
//!     r.policy_scopes(),
//!     [
//!         "docker.io/library/busybox:latest",
//!         "docker.io/library/busybox",
//!         "docker.io/library",
//!         "docker.io",
//!         "*.io",
//!     ]
//! );
//!
//! // Signed identities must be canonical.
//! assert_eq!(Reference::parse_canonical("busybox:latest"), Err(Error::NameNotCanonical));
//!
//! // Rules fail with the messages containers/image prints.
//! let err = Reference::parse_normalized("docker/Docker").unwrap_err();
//! assert_eq!(err.to_string(), "invalid reference format: repository name must be lowercase");
//!
//! // Digests: validated, or computed.
//! let manifest = br#"{"schemaVersion":2}"#;
//! let d = Digest::sha256_of(manifest);
//! let pinned = Reference::parse_normalized(&format!("quay.io/ns/app@{d}"))?;
//! assert_eq!(pinned.digest(), Some(&d));
//! assert_eq!(pinned.path(), "ns/app");
//! # Ok::<(), Error>(())
//! ```
//!
//! # Features
//!
//! * `oci-spec` (off by default): `From<&Reference>` for
//!   `oci_spec::distribution::Reference` and `TryFrom` back (re-validated).
//!   `oci-client` (0.12 and later) re-exports that very type as
//!   `oci_client::Reference`, so the same conversions serve it.
//!
//! `serde` support is always on: [`Reference`] and [`Digest`] serialize as
//! their string forms; a [`Reference`] deserializes with
//! [`Reference::parse_normalized`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod digest;
mod error;
#[cfg(feature = "oci-spec")]
mod oci;
mod reference;

pub use digest::{Algorithm, Digest};
pub use error::Error;
pub use reference::{
    DEFAULT_DOMAIN, DEFAULT_TAG, LEGACY_DEFAULT_DOMAIN, NAME_TOTAL_LENGTH_MAX, OFFICIAL_REPO_NAME,
    Reference,
};
