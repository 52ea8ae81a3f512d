//! Imprimatur's layer that touches the outside world: images where they live
//! (OCI distribution registries, OCI image layouts, skopeo's `dir:` format),
//! safe unpacking of their layers into a root filesystem, and the signature
//! stores that nodes read.
//!
//! The crates below this one take bytes and return bytes; this crate fetches
//! those bytes and writes the results, with limits on everything it reads.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod digesting;
pub mod docker;
pub mod error;
pub mod files;
pub mod image;
pub mod inspect;
#[cfg(feature = "openshift")]
pub mod openshift;
pub mod pull;
pub mod sigstore;
pub mod source;
pub mod store;
pub mod transport;
pub mod unpack;

pub use docker::{
    CredentialSource, Credentials, RegistryClient, RegistryClientBuilder, RetryPolicy,
};
pub use error::{Error, Location, Result};
pub use image::{Descriptor, ImageConfig, Manifest, ManifestKind, Platform};
pub use inspect::{ImageInfo, inspect};
pub use pull::{PullEvent, UnpackedImage, unpack_image, unpack_manifest};
pub use source::{ImageSource, ResolvedImage};
pub use transport::ImageReference;
