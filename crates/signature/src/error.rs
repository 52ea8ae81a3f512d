//! Error types.
//!
//! [`Error`] is the crate's error; it wraps the two detailed enums that
//! callers most often match on: [`PayloadError`] (strict payload parsing,
//! §1.3) and [`VerifyError`] (verification, §2.2 and §3.1).

use crate::Fingerprint;

/// The crate's error type.
///
/// Wrapped errors are reachable through [`std::error::Error::source`] and
/// are not repeated in the message: print the chain (e.g. `anyhow`'s
/// `{:#}`, or [`ErrorChain`]) to see every level.
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
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A secret key is passphrase-protected and no passphrase was given.
    #[error("the secret key is protected by a passphrase; none was given")]
    PassphraseRequired,
    /// The passphrase does not decrypt the secret key.
    #[error("wrong passphrase for the secret key")]
    WrongPassphrase,
    /// The key cannot make signatures (no signing-capable primary key).
    #[error("the primary key {0} is not signing-capable (or not valid now)")]
    NotSigningCapable(Fingerprint),
    /// Producing a signature failed in the OpenPGP implementation.
    #[error("signing failed")]
    Sign(#[source] OpenPgpError),
    /// Refusing to sign empty content (§1.2, "Unexpected empty signature content").
    #[error("Unexpected empty signature content")]
    EmptyContent,
    /// The manifest digest could not be computed (§1.5).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A fingerprint string is not 40 uppercase hex digits.
    #[error("invalid fingerprint {0:?}: expected 40 uppercase hex digits")]
    InvalidFingerprint(String),
}

/// An error reported by the OpenPGP implementation (sequoia-openpgp),
/// kept as a source without exposing sequoia's error types (and so its
/// version) in this crate's API.
///
/// `Clone` and `PartialEq` (by message) so that the error enums holding it
/// stay comparable in tests; [`source`](std::error::Error::source) is the
/// cause sequoia gave, if any.
#[derive(Clone)]
pub struct OpenPgpError(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl OpenPgpError {
    pub(crate) fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        OpenPgpError(std::sync::Arc::from(e.into()))
    }

    /// A message-only error (for conditions sequoia reports without an
    /// error value).
    pub(crate) fn msg(m: impl std::fmt::Display) -> Self {
        OpenPgpError::new(m.to_string())
    }
}

impl From<sequoia_openpgp::anyhow::Error> for OpenPgpError {
    fn from(e: sequoia_openpgp::anyhow::Error) -> Self {
        OpenPgpError::new(e)
    }
}

impl std::fmt::Debug for OpenPgpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for OpenPgpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for OpenPgpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for OpenPgpError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for OpenPgpError {}

/// Displays an error and every source below it, joined by `": "`.
///
/// ```
/// use imprimatur_signature::{ErrorChain, SecretKey};
/// let e = SecretKey::from_bytes(b"not a key").unwrap_err();
/// assert_eq!(ErrorChain(&e).to_string(), "no OpenPGP key found");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

impl std::fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Why key material could not be loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key data is larger than [`MAX_KEY_BYTES`](crate::MAX_KEY_BYTES).
    #[error("key data of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No OpenPGP certificate in the input.
    #[error("no OpenPGP key found")]
    NoKey,
    /// Certificates, but none with a secret primary key.
    #[error("no secret primary key found (a public key was given?)")]
    NoSecretKey,
    /// Only v4 keys have the fingerprints atomic signatures use.
    #[error("only OpenPGP v4 keys are supported for atomic signatures")]
    NotV4,
    /// The key is not valid under the standard policy at the reference time.
    #[error("key {fingerprint} is not valid")]
    NotValid {
        /// The primary key.
        fingerprint: Fingerprint,
        /// Why, as sequoia says it.
        #[source]
        source: OpenPgpError,
    },
    /// The key is expired or not yet valid at the reference time.
    #[error("key {fingerprint} is not alive")]
    NotAlive {
        /// The primary key.
        fingerprint: Fingerprint,
        /// Why, as sequoia says it.
        #[source]
        source: OpenPgpError,
    },
    /// An OpenPGP operation on the key failed.
    #[error("{operation} failed")]
    OpenPgp {
        /// What was being done (`exporting the public key`, …).
        operation: &'static str,
        /// The error.
        #[source]
        source: OpenPgpError,
    },
}

impl KeyError {
    pub(crate) fn op(
        operation: &'static str,
    ) -> impl FnOnce(sequoia_openpgp::anyhow::Error) -> Error {
        move |e| {
            Error::Key(KeyError::OpenPgp {
                operation,
                source: e.into(),
            })
        }
    }
}

/// Why a manifest digest could not be computed (§1.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest is larger than [`MAX_MANIFEST_BYTES`](crate::MAX_MANIFEST_BYTES).
    #[error("manifest of {size} bytes exceeds {limit} bytes")]
    TooLarge {
        /// Manifest size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A signed schema-1 manifest whose `signatures` cannot be decoded (the
    /// JWS payload, hence the digest, is unknown).
    #[error("error unmarshalling signatures: {problem}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Schema1Signatures {
        /// What is wrong (`missing protected header`, …).
        problem: &'static str,
        /// The decoder's message, when a decoder failed.
        detail: Option<String>,
    },
}

/// Why a blob is not a well-formed signed OpenPGP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedError {
    /// The OpenPGP parser refused the data.
    #[error("unparseable OpenPGP data")]
    Parse(#[source] OpenPgpError),
    /// More packets than a signed message can have.
    #[error("more than {0} packets")]
    TooManyPackets(usize),
    /// A packet sequoia could not parse (unknown tag, unsupported version,
    /// corrupt body).
    #[error("unsupported or corrupt {tag} packet")]
    CorruptPacket {
        /// The packet tag, as sequoia names it.
        tag: String,
        /// Why it could not be parsed.
        #[source]
        source: OpenPgpError,
    },
    /// A packet that has no place in a signed message.
    #[error("not a signed message: unexpected {0} packet")]
    UnexpectedPacket(String),
    /// More than one literal data packet.
    #[error("more than one literal data packet")]
    SeveralLiterals,
    /// No packets at all.
    #[error("no OpenPGP packets")]
    NoPackets,
    /// The packet sequence is not an OpenPGP message (RFC 4880 §11.3).
    #[error("not a well-formed signed message")]
    Grammar(#[source] OpenPgpError),
    /// The tagged (`\0format\n`) storage format has no newline.
    #[error("tagged signature format without a newline")]
    TaggedWithoutNewline,
    /// The tagged storage format's id is empty or not printable ASCII.
    #[error("tagged signature format id is not printable ASCII")]
    TaggedBadId,
    /// The signature names no issuer.
    #[error("signature without issuer")]
    NoIssuer,
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
    #[error("invalid OpenPGP message")]
    Malformed(#[source] MalformedError),
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
    /// The signature or key uses an algorithm the policy or backend
    /// refuses (sequoia's standard policy; its reason is the source).
    #[error("signature rejected by the OpenPGP policy")]
    Policy(#[source] OpenPgpError),
    /// No trusted key made this signature.
    #[error("signature made by key {0}, which is not in the trusted keyring")]
    UnknownKey(String),
    /// The cryptographic check failed (corrupt or tampered; sequoia's
    /// reason is the source).
    #[error("bad signature")]
    BadSignature(#[source] OpenPgpError),
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
        reason: KeyInvalidReason,
        /// Sequoia's error, when sequoia reported one.
        #[source]
        source: Option<OpenPgpError>,
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
    #[error("error computing manifest digest")]
    ManifestDigest(#[source] ManifestError),
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

/// Why a key cannot be used to verify a signature
/// ([`VerifyError::KeyInvalid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyInvalidReason {
    /// The certificate is not valid under the standard policy at the
    /// reference time (no valid self-signature, a refused algorithm, …).
    #[error("the certificate is not valid under the OpenPGP policy at the reference time")]
    CertificateNotValid,
    /// The key that signed has no valid binding signature at the reference
    /// time, or the policy rejects it.
    #[error("no valid binding signature (or rejected by policy) at the reference time")]
    NoValidBinding,
    /// The key that signed is not flagged for signing.
    #[error("the key is not signing-capable")]
    NotSigningCapable,
}

impl From<PayloadError> for VerifyError {
    fn from(e: PayloadError) -> Self {
        VerifyError::Payload(e)
    }
}
