//! The crate's error type.

/// Why a reference or digest string was rejected.
///
/// The messages are the ones containers/image (and go-digest) print, so that
/// diagnostics read the same as skopeo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The string does not match the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat,
    /// The repository name contains uppercase letters (the string would be
    /// valid if it were lowercase). Domains and tags may contain uppercase.
    #[error("invalid reference format: repository name must be lowercase")]
    NameContainsUppercase,
    /// The repository name is empty.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// The repository name (domain, `/` and path) is longer than 255 bytes.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// [`Reference::parse_canonical`](crate::Reference::parse_canonical): the
    /// input parses, but is not already in its normalized full form.
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// The input is exactly 64 lowercase hexadecimal characters (an image
    /// ID), which is refused as a repository name.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    /// A tag does not match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid tag format")]
    TagInvalidFormat,
    /// The digest is not `algorithm:encoded` with a well-formed algorithm and
    /// lowercase hexadecimal encoding.
    #[error("invalid checksum digest format")]
    DigestInvalidFormat,
    /// The digest's algorithm is known, but its hexadecimal part has the
    /// wrong length.
    #[error("invalid checksum digest length")]
    DigestInvalidLength,
    /// The digest's algorithm is well-formed but not one of `sha256`,
    /// `sha384`, `sha512`.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
}
