//! Error types.
//!
//! [`Error`] is the crate's error; it wraps the two detailed enums that
//! callers most often match on: [`PayloadError`] (strict payload parsing,
//! §1.3) and [`VerifyError`] (verification, §2.2 and §3.1).

use crate::Fingerprint;

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signature payload is invalid.
    #[error("invalid signature payload: {0}")]
    Payload(#[from] PayloadError),
    /// A signature did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A key or keyring could not be loaded or used.
    #[error("key error: {0}")]
    Key(String),
    /// A secret key is passphrase-protected and no passphrase was given.
    #[error("the secret key is protected by a passphrase; none was given")]
    PassphraseRequired,
    /// The passphrase does not decrypt the secret key.
    #[error("wrong passphrase for the secret key")]
    WrongPassphrase,
    /// The key cannot make signatures (no signing-capable primary key).
    #[error("the primary key {0} is not signing-capable (or not valid now)")]
    NotSigningCapable(Fingerprint),
    /// Producing a signature failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// Refusing to sign empty content (§1.2, "Unexpected empty signature content").
    #[error("Unexpected empty signature content")]
    EmptyContent,
    /// The manifest digest could not be computed (§1.5).
    #[error("manifest digest: {0}")]
    Manifest(String),
    /// A fingerprint string is not 40 uppercase hex digits.
    #[error("invalid fingerprint {0:?}: expected 40 uppercase hex digits")]
    InvalidFingerprint(String),
}

/// Why a payload was rejected by [`Payload::parse`](crate::Payload::parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not valid JSON (or more than one value, or a BOM), or over the size
    /// or depth limits of the [`json`](crate::json) reader.
    #[error("{0}")]
    Syntax(#[source] crate::json::JsonError),
    /// A JSON object was expected (at `path`, `""` is the top level).
    #[error("JSON object expected at {path:?}, found {found}")]
    ObjectExpected {
        /// Dotted path of the value.
        path: String,
        /// JSON type found.
        found: &'static str,
    },
    /// A key appears twice in one object.
    #[error("Duplicate key {key:?} in {path:?}")]
    DuplicateKey {
        /// Dotted path of the object.
        path: String,
        /// The key.
        key: String,
    },
    /// A key not allowed in that object.
    #[error("Unknown key {key:?} in {path:?}")]
    UnknownKey {
        /// Dotted path of the object.
        path: String,
        /// The key.
        key: String,
    },
    /// A required key is absent.
    #[error("Key {key:?} missing in a JSON object at {path:?}")]
    MissingKey {
        /// Dotted path of the object.
        path: String,
        /// The key.
        key: String,
    },
    /// A member has the wrong JSON type.
    #[error("field {field} must be a {expected}, found {found}")]
    WrongType {
        /// Dotted path of the field.
        field: String,
        /// Expected JSON type.
        expected: &'static str,
        /// JSON type found.
        found: &'static str,
    },
    /// `critical.type` is not `atomic container signature`.
    #[error("Unrecognized signature type {0}")]
    UnrecognizedType(String),
    /// `optional.timestamp` is not exactly representable as an `i64`.
    #[error("Field optional.timestamp is not an integer: {0}")]
    TimestampNotInteger(String),
}

/// Why a signature was rejected.
///
/// The variants follow the steps of §3.1: envelope and crypto first, then key
/// identity, payload, digest and reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The blob is larger than the limit; it was not parsed.
    #[error("signature blob of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Blob size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Zero-length blob.
    #[error("empty signature blob")]
    Empty,
    /// Stored signatures must be binary OpenPGP (or the tagged `\0` format).
    #[error("unrecognized signature format, starting with binary 0x{0:02x}")]
    UnrecognizedFormat(u8),
    /// Not a parseable OpenPGP message (garbage, truncation, bad packets).
    #[error("invalid OpenPGP message: {0}")]
    Malformed(String),
    /// The message is encrypted; signatures must be plain signed messages.
    #[error("encrypted message: not a signed message (Unexpected GPG signature count 0)")]
    Encrypted,
    /// A literal message without any signature.
    #[error("unsigned message (Unexpected GPG signature count 0)")]
    NotSigned,
    /// A detached signature: no signed content.
    #[error("detached signature: the blob contains no signed data")]
    Detached,
    /// More than one signature (or more than one literal) in the message.
    #[error("Unexpected GPG signature count {0}")]
    SignatureCount(usize),
    /// The signed content exceeds the payload size limit.
    #[error("signed content exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// The signature type is not binary or text document.
    #[error("unsupported signature type {0}")]
    UnsupportedSignatureType(String),
    /// The signature uses SHA-1 or a weaker hash. Deliberately stricter than
    /// skopeo 1.9.3 (GnuPG 2.2 accepts SHA-1): SHA-1 collisions are practical.
    #[error(
        "signature uses the weak hash {0}: rejected (SHA-1 and weaker are refused, collisions are practical)"
    )]
    WeakHash(String),
    /// The signature or key uses an algorithm the policy or backend refuses.
    #[error("signature rejected by policy: {0}")]
    Policy(String),
    /// No trusted key made this signature.
    #[error("signature made by key {0}, which is not in the trusted keyring")]
    UnknownKey(String),
    /// The cryptographic check failed (corrupt or tampered).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The signature carries an expiration time that has passed.
    #[error("signature expired at {0} (Unix time)")]
    SignatureExpired(i64),
    /// The signing key (primary or subkey) is expired at the reference time.
    #[error("key {0} is expired")]
    KeyExpired(Fingerprint),
    /// The signing key, or its primary key, is revoked.
    #[error("key {0} is revoked")]
    KeyRevoked(Fingerprint),
    /// The key is not usable for signing (no valid binding, not signing-capable, …).
    #[error("key {fingerprint} cannot be used: {reason}")]
    KeyInvalid {
        /// The key.
        fingerprint: Fingerprint,
        /// Why.
        reason: String,
    },
    /// The signer is valid but not one of the accepted identities (§3.1 step 2).
    #[error("Signature by key {signer} is not accepted (expected {expected})")]
    KeyNotAccepted {
        /// The fingerprint of the key that made the signature.
        signer: Fingerprint,
        /// The accepted identities, comma separated.
        expected: String,
    },
    /// The payload failed strict parsing (§1.3).
    #[error("invalid signature payload: {0}")]
    Payload(PayloadError),
    /// The manifest digest could not be computed (§1.5).
    #[error("error computing manifest digest: {0}")]
    ManifestDigest(String),
    /// The signed digest does not match the manifest.
    #[error("Signature for docker digest {signed:?} does not match (manifest digest {actual})")]
    DigestMismatch {
        /// Digest in the payload.
        signed: String,
        /// Digest of the manifest.
        actual: String,
    },
    /// The signed docker reference does not parse.
    #[error("Invalid docker reference {0} in signature")]
    InvalidSignedReference(String),
    /// The signed reference differs from the expected one.
    #[error("Signature for identity {signed:?} is not accepted (expected {expected:?})")]
    ReferenceMismatch {
        /// Reference in the payload (normalized when it parsed).
        signed: String,
        /// Expected reference (normalized).
        expected: String,
    },
    /// The expected reference given by the caller is invalid.
    #[error("invalid expected reference {reference:?}: {reason}")]
    InvalidExpectedReference {
        /// The string given.
        reference: String,
        /// Why it is invalid.
        reason: String,
    },
}

impl From<PayloadError> for VerifyError {
    fn from(e: PayloadError) -> Self {
        VerifyError::Payload(e)
    }
}
