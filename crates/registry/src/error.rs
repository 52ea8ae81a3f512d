//! The crate's error type: every failure names where it happened (registry,
//! repository, file) and what was being done, so a message alone is enough to
//! act on.

use std::path::PathBuf;

use imprimatur_reference::Digest;

/// Where a registry request went: enough to say "pulling manifest latest of
/// quay.io/org/app" in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The registry host (and port), as in the reference: `quay.io`, `localhost:5000`.
    pub registry: String,
    /// The repository path inside the registry: `org/app`.
    pub repository: String,
    /// What was being done: `GET manifest latest`, `GET blob sha256:…`.
    pub operation: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.repository.is_empty() {
            write!(f, "{} ({})", self.registry, self.operation)
        } else {
            write!(
                f,
                "{}/{} ({})",
                self.registry, self.repository, self.operation
            )
        }
    }
}

/// Everything that can go wrong reaching, reading or unpacking an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image reference could not be parsed (`docker://…`, `oci:…`, `dir:…`).
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidImageReference {
        /// What was given.
        input: String,
        /// Why it is not valid.
        reason: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error("{at}: unauthorized{}{}", realm.as_ref().map(|r| format!(" (realm {r})")).unwrap_or_default(), if message.is_empty() { String::new() } else { format!(": {message}") })]
    Unauthorized {
        /// The request.
        at: Location,
        /// The authentication realm the registry named, if any.
        realm: Option<String>,
        /// The registry's own words, if it sent any.
        message: String,
    },
    /// The registry has no such manifest (tag or digest).
    #[error("{at}: manifest unknown{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    ManifestUnknown {
        /// The request.
        at: Location,
        /// The registry's own words, if it sent any.
        message: String,
    },
    /// The registry has no such blob.
    #[error("{at}: blob unknown{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    BlobUnknown {
        /// The request.
        at: Location,
        /// The registry's own words, if it sent any.
        message: String,
    },
    /// Content did not hash to the digest that addresses it.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which content (a request or a file).
        what: String,
        /// The digest it was fetched by.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Content was larger than its limit (or than its descriptor said).
    #[error("{what}: larger than {limit} bytes")]
    TooLarge {
        /// Which content.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The TLS connection could not be established or verified.
    #[error("{registry}: TLS failure: {message}")]
    Tls {
        /// The registry host.
        registry: String,
        /// What failed (certificate unknown, handshake, ...).
        message: String,
    },
    /// TLS set-up from files (`--cert-dir`) failed.
    #[error("TLS configuration {}: {message}", path.display())]
    TlsConfig {
        /// The file or directory.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// No rustls crypto provider is installed in the process.
    #[error(
        "no rustls crypto provider is installed: the binary must call \
         rustls::crypto::ring::default_provider().install_default() (or aws-lc-rs) at start"
    )]
    NoCryptoProvider,
    /// The registry answered with an HTTP status the operation does not expect.
    #[error("{at}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Http {
        /// The request.
        at: Location,
        /// The HTTP status code.
        status: u16,
        /// The registry's error message(s), if any.
        message: String,
    },
    /// The connection failed (refused, reset, timed out, body cut short) after
    /// every retry.
    #[error("{at}: {message}")]
    Connection {
        /// The request.
        at: Location,
        /// What happened, with its causes.
        message: String,
    },
    /// A manifest, index, config or `index.json` is not what it should be.
    #[error("{what}: {message}")]
    Malformed {
        /// Which document.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// The manifest's media type is one this operation does not handle.
    #[error("{what}: unsupported manifest media type {media_type:?}")]
    UnsupportedMediaType {
        /// Which manifest.
        what: String,
        /// Its media type.
        media_type: String,
    },
    /// An image index has no image for the requested platform.
    #[error("no image for platform {wanted} in the index (it has: {available})")]
    NoMatchingPlatform {
        /// The requested platform.
        wanted: String,
        /// The platforms the index lists.
        available: String,
    },
    /// An OCI layout has no image for the requested tag.
    #[error("{}: {message}", path.display())]
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A credentials file (`auth.json`, `~/.docker/config.json`) is unreadable or malformed.
    #[error("credentials file {}: {message}", path.display())]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A local file or directory operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `create directory`, ...).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Unpacking a layer failed.
    #[error("layer {layer}: {source}")]
    Unpack {
        /// The layer's digest.
        layer: Digest,
        /// The cause.
        #[source]
        source: crate::unpack::UnpackError,
    },
    /// The operation was cancelled or a worker task failed.
    #[error("{0}")]
    Aborted(String),
}

impl Error {
    /// Whether trying again later may succeed: the registry could not be
    /// reached or answered 5xx / 429 even after the client's own retries.
    /// (Unauthorized, unknown manifests, bad references and malformed data
    /// stay wrong until something is changed.)
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Malformed {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
