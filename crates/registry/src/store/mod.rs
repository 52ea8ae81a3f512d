//! Signature stores: where the atomic signatures of an image live, read and
//! written race-free.
//!
//! One interface, [`SignatureStore`], bound to one repository: list the
//! signature blobs of a manifest digest, add one. Implementations:
//!
//! - [`LookasideStore`]: a lookaside (containers-registries.d(5)): `file://`
//!   read and write, `http(s)://` read (GET, 404 ends the list) and write by
//!   PUT to a `lookaside-staging` server that accepts it.
//! - [`ExtensionStore`]: the registry signature extension API
//!   (`/extensions/v2/<repo>/signatures/<digest>`, OpenShift's integrated
//!   registry).
//! - [`DirStore`]: the `signature-N` files of a skopeo `dir:` image.
//!
//! [`choose`] picks the store for an image exactly as containers/image does:
//! the extension API when the registry answers `/v2/` with
//! `X-Registry-Supports-Signatures: 1`, else the lookaside of the matching
//! `registries.d` section (through `imprimatur-policy`).
//!
//! Disciplines, everywhere:
//! - reading stops at the first gap (`signature-1`, `-2`, `-4` → two), and
//!   more than [`MAX_SIGNATURES`] (128, newer containers/image's read limit)
//!   is an error; each blob is at most [`MAX_SIGNATURE_BYTES`] (4 MiB);
//! - adding takes the first free `signature-N` by exclusive creation (a
//!   complete, unnamed file linked to its name; `link(2)` never replaces),
//!   so concurrent writers — threads or processes — never overwrite each
//!   other and a killed writer leaves no partial file; the same limit of
//!   128 applies to writing, so we never write what the reference refuses
//!   to read;
//! - a byte-identical signature already there is not written again
//!   ([`Added::AlreadyPresent`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use imprimatur_reference::{Digest, Reference};
//! use imprimatur_registry::store::{LookasideStore, SignatureStore};
//!
//! let repo = Reference::parse_normalized("quay.io/acme/app:1")?;
//! let store = LookasideStore::file("/srv/lookaside", &repo);
//! let digest = Digest::sha256_of(b"manifest");
//! let added = store.add(&digest, b"\xa3...").await?;
//! println!("stored at {}", added.location());
//! for s in store.list(&digest).await? {
//!     println!("{} ({} bytes)", s.location, s.blob.len());
//! }
//! # Ok(()) }
//! ```

mod choose;
mod extension;
mod http;
mod lookaside;
mod slots;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use imprimatur_reference::Digest;

pub use choose::{StoreChoice, StoreOptions, choose, supports_signature_extension};
pub use extension::{ExtensionSignature, ExtensionStore};
pub use http::{HttpMethod, HttpRequest, HttpResponse, HttpSend, PlainHttp, RegistryHttp};
pub use lookaside::{LookasideEndpoint, LookasideStore};
pub use slots::DirStore;

/// Most signatures of one image read or written (containers/image ≥ 5.24
/// refuses to read more: "server provided 128 signatures, assuming that's
/// unreasonable and a server error").
pub const MAX_SIGNATURES: usize = imprimatur_policy::lookaside::MAX_SIGNATURES;

/// Largest signature blob read (the signature crate's limit, 4 MiB, as
/// containers/image's lookaside reader).
pub const MAX_SIGNATURE_BYTES: u64 = imprimatur_signature::MAX_SIGNATURE_BYTES as u64;

/// A future returned by [`SignatureStore`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One signature blob and where it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredSignature {
    /// The raw blob (a binary OpenPGP message for simple signing).
    pub blob: Vec<u8>,
    /// Where it is: a path, a URL, or an extension-API signature name.
    pub location: String,
}

impl StoredSignature {
    /// A blob at a location.
    pub fn new(blob: Vec<u8>, location: impl Into<String>) -> StoredSignature {
        StoredSignature {
            blob,
            location: location.into(),
        }
    }
}

/// The outcome of [`SignatureStore::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Added {
    /// The signature was stored here.
    Stored {
        /// Path, URL or signature name.
        location: String,
    },
    /// A byte-identical signature was already stored here; nothing written.
    AlreadyPresent {
        /// Path, URL or signature name of the existing copy.
        location: String,
    },
}

impl Added {
    /// Where the signature is.
    pub fn location(&self) -> &str {
        match self {
            Added::Stored { location } | Added::AlreadyPresent { location } => location,
        }
    }

    /// Whether something was written.
    pub fn is_new(&self) -> bool {
        matches!(self, Added::Stored { .. })
    }
}

/// Where the signatures of one repository are kept.
///
/// Object safe (`Box<dyn SignatureStore>`, as [`choose`] returns), `Send` and
/// `Sync`: one store can serve many tasks at once.
pub trait SignatureStore: Send + Sync + fmt::Debug {
    /// The store, for messages: `lookaside file:///srv/sigs`,
    /// `registry extension API at quay.io/acme/app`, ….
    fn describe(&self) -> String;

    /// The signature blobs of `digest`, in store order, up to the first gap.
    fn list<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>>;

    /// Like [`SignatureStore::list`], without refusing blobs that are not
    /// signatures (armored, HTML, empty): for a policy evaluation, which
    /// judges (and rejects) each blob itself, as containers/image's policy
    /// does when a requirement needs signatures. Stores whose blobs are
    /// not classified (the extension API) list the same either way.
    fn list_unclassified<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        self.list(digest)
    }

    /// Adds one signature of `digest`, race-free; an identical blob already
    /// there is not written twice.
    fn add<'a>(
        &'a self,
        digest: &'a Digest,
        signature: &'a [u8],
    ) -> BoxFuture<'a, Result<Added, StoreError>>;
}

/// What went wrong reading or writing signatures. Every variant names the
/// location (path, URL, or registry and repository).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A local file operation failed.
    #[error("{location}: {source}")]
    Io {
        /// The file or directory.
        location: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A signature blob (or a listing) is larger than its limit.
    #[error("{location}: larger than {limit} bytes")]
    TooLarge {
        /// What was read.
        location: String,
        /// The limit.
        limit: u64,
    },
    /// More than [`MAX_SIGNATURES`] signatures: reading refuses them (like
    /// containers/image), writing refuses to add one more.
    #[error(
        "{location}: more than {limit} signatures (server provided {limit} signatures, assuming that's unreasonable and a server error)"
    )]
    TooMany {
        /// The store location.
        location: String,
        /// The limit.
        limit: usize,
    },
    /// A stored blob is not a signature (first-byte classification of
    /// containers/image, e.g. an armored or HTML file).
    #[error("{location}: {source}")]
    NotASignature {
        /// The blob's location.
        location: String,
        /// Why.
        #[source]
        source: imprimatur_signature::VerifyError,
    },
    /// The server answered with a status the operation does not expect.
    #[error("{location}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Http {
        /// The URL or registry location.
        location: String,
        /// The status code.
        status: u16,
        /// The server's words, if any.
        message: String,
    },
    /// The extension API refused the signature (400 `SIGNATURE_INVALID`).
    #[error("{location}: signature refused: {message}")]
    Rejected {
        /// The registry location.
        location: String,
        /// The server's words.
        message: String,
    },
    /// The registry does not know the image (extension API 404).
    #[error("{location}: image not found")]
    ImageNotFound {
        /// The registry location.
        location: String,
    },
    /// The connection failed (refused, reset, timed out, body cut short).
    #[error("{location}: {message}")]
    Connection {
        /// The URL.
        location: String,
        /// What happened.
        message: String,
    },
    /// A response is not what the protocol says.
    #[error("{location}: {message}")]
    Malformed {
        /// The URL or registry location.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The store cannot be written (an `http(s)` lookaside without
    /// `lookaside-staging`, an unsupported scheme, …).
    #[error("{location}: {message}")]
    NotWritable {
        /// The store location.
        location: String,
        /// Why.
        message: String,
    },
    /// `registries.d` or a lookaside URL is invalid.
    #[error(transparent)]
    Config(#[from] imprimatur_policy::Error),
    /// A registry request failed (authentication, TLS, connection).
    #[error(transparent)]
    Registry(#[from] crate::Error),
    /// A blocking task failed or was cancelled.
    #[error("{0}")]
    Aborted(String),
}

impl StoreError {
    pub(crate) fn io(location: impl fmt::Display, source: std::io::Error) -> StoreError {
        StoreError::Io {
            location: location.to_string(),
            source,
        }
    }
}

/// Runs blocking file work off the async runtime.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Aborted(format!("file task failed: {e}")))?
}
