//! The service's errors: each names the step and what was wrong, so that a
//! `Failed` status can carry it as its message.

use std::path::PathBuf;

/// Everything that can go wrong running a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request document is not valid.
    #[error("invalid request: {0}")]
    Request(String),
    /// The image could not be resolved, pulled or unpacked.
    #[error(transparent)]
    Registry(#[from] imprimatur_registry::Error),
    /// No SCAP content fits the image, or the named content is missing.
    #[error("scan content: {0}")]
    Content(String),
    /// oscap could not run, failed (exit 1), or produced no results.
    #[error("oscap: {message}")]
    Scanner {
        /// What happened, with oscap's stderr.
        message: String,
    },
    /// The scan took longer than its limit.
    #[error("scan timed out after {seconds} s")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
    /// The scan results could not be read.
    #[error("reading the scan results: {0}")]
    Results(#[from] imprimatur_arf::Error),
    /// The signing key is missing, unreadable or does not fit.
    #[error("signing key {}: {message}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] imprimatur_signature::Error),
    /// Publishing or reading signatures failed.
    #[error("signature store: {0}")]
    Store(String),
    /// The published signature did not verify, or the policy refused the image.
    #[error("verification: {0}")]
    Verify(String),
    /// Configuration (policy, registries.d) is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// An image stream tag could not be resolved (see [`crate::image_streams`]).
    #[error(transparent)]
    ImageStream(#[from] crate::image_streams::ImageStreamError),
    /// A local file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether running the request again later may succeed without anything
    /// being changed: the registry was unreachable or overloaded (see
    /// [`imprimatur_registry::Error::is_transient`]). A controller retries
    /// these with backoff instead of ending the request `Failed` for good.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Registry(e) => e.is_transient(),
            Error::ImageStream(crate::image_streams::ImageStreamError::Unavailable {
                transient,
                ..
            }) => *transient,
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
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
