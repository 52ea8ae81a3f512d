//! The unpacker's error type.

use std::fmt;
use std::io;

use imprimatur_reference::Digest;

/// Which limit of [`Limits`](super::Limits) a layer exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_total_bytes`](super::Limits::max_total_bytes): bytes of
    /// the decompressed tar stream.
    TotalBytes,
    /// [`Limits::max_compressed_bytes`](super::Limits::max_compressed_bytes):
    /// bytes of the blob as read.
    CompressedBytes,
    /// [`Limits::max_entries`](super::Limits::max_entries): tar headers.
    Entries,
    /// [`Limits::max_path_depth`](super::Limits::max_path_depth): components
    /// of a cleaned entry path.
    PathDepth,
    /// [`Limits::max_name_bytes`](super::Limits::max_name_bytes): bytes of an
    /// entry's path or link target.
    NameBytes,
    /// [`Limits::max_header_bytes`](super::Limits::max_header_bytes): bytes
    /// of one PAX extended header or GNU long name/link record.
    HeaderBytes,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::TotalBytes => "decompressed layer size",
            LimitKind::CompressedBytes => "compressed layer size",
            LimitKind::Entries => "number of tar entries",
            LimitKind::PathDepth => "path depth",
            LimitKind::NameBytes => "name length",
            LimitKind::HeaderBytes => "extended header size",
        })
    }
}

/// Everything that can go wrong while unpacking a layer.
///
/// **Any error leaves the root filesystem partly written: the caller must
/// discard the whole root** (including after [`UnpackError::DigestMismatch`],
/// which is only known once the whole stream has been applied). Nothing
/// outside the root is ever written, whatever the error.
///
/// Paths in errors are the entry's path as it appears in the archive (lossy
/// UTF-8), so that they can be matched against the layer's listing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The blob's bytes do not hash to the digest the manifest gave.
    #[error(
        "layer digest mismatch: expected {expected}, computed {actual} (the root must be discarded)"
    )]
    DigestMismatch {
        /// The digest the caller expected (from the manifest).
        expected: Digest,
        /// The digest of the bytes actually read.
        actual: Digest,
    },
    /// The expected digest uses an algorithm the unpacker cannot compute.
    #[error("unsupported digest algorithm in {0}")]
    UnsupportedDigest(Digest),
    /// A limit was exceeded.
    #[error("{what} exceeds the limit of {limit}{}", at(path))]
    LimitExceeded {
        /// Which limit.
        what: LimitKind,
        /// The limit's value.
        limit: u64,
        /// The entry being read, when the limit is about one entry.
        path: Option<String>,
    },
    /// The media type names no layer format the unpacker knows.
    #[error("unsupported layer media type {media_type:?}")]
    UnsupportedCompression {
        /// The media type as given.
        media_type: String,
    },
    /// The decompressor rejected the stream (bad magic, corrupt or truncated
    /// gzip or zstd data).
    #[error("{compression} decompression failed{}: {source}", at(path))]
    Decompression {
        /// The compression in use (detected, for [`super::Compression::Detect`]).
        compression: super::Compression,
        /// The entry being read, if any.
        path: Option<String>,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
    /// The tar stream is malformed (bad checksum, bad number field, truncated
    /// entry, a PAX record that cannot be parsed, ...).
    #[error("malformed tar stream{}: {reason}", at(path))]
    MalformedTar {
        /// The entry being read, if known.
        path: Option<String>,
        /// What was wrong.
        reason: String,
    },
    /// A tar entry type the unpacker does not apply (GNU sparse files, volume
    /// labels, unknown type flags).
    #[error("unsupported tar entry type {kind:?} at {path}")]
    UnsupportedEntry {
        /// The entry's path.
        path: String,
        /// The type flag byte, as a character.
        kind: char,
    },
    /// An entry that is well-formed tar but cannot be applied safely or
    /// meaningfully: a non-directory at the root itself, a whiteout of `.` or
    /// `..`, a hardlink whose target is missing, a directory or outside the
    /// root, a name containing a NUL byte.
    #[error("invalid entry {path}: {reason}")]
    InvalidEntry {
        /// The entry's path.
        path: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// Reading the layer's bytes from the caller's reader failed.
    #[error("reading the layer blob: {0}")]
    Read(#[source] io::Error),
    /// A filesystem operation in the root failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The entry's path (or the path being removed by a whiteout).
        path: String,
        /// The operation (`openat2`, `mkdirat`, `write`, ...).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

fn at(path: &Option<String>) -> String {
    match path {
        Some(p) => format!(" at {p}"),
        None => String::new(),
    }
}

impl UnpackError {
    pub(crate) fn io(path: &[u8], op: &'static str, source: impl Into<io::Error>) -> UnpackError {
        UnpackError::Io {
            path: lossy(path),
            op,
            source: source.into(),
        }
    }

    pub(crate) fn invalid(path: &[u8], reason: &'static str) -> UnpackError {
        UnpackError::InvalidEntry {
            path: lossy(path),
            reason,
        }
    }

    pub(crate) fn limit(what: LimitKind, limit: u64, path: Option<&[u8]>) -> UnpackError {
        UnpackError::LimitExceeded {
            what,
            limit,
            path: path.map(lossy),
        }
    }
}

/// An archive path for messages.
pub(crate) fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}
