//! Docker image references and content digests, parsed and normalized exactly
//! as containers/image (skopeo, podman, CRI-O) does.
//!
//! Pure types: no I/O, no panics on any input.

#![forbid(unsafe_code)]

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
