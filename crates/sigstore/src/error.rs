//! The error types of this crate: one enum per concern, each variant one
//! thing a caller can match on.

use imprimatur_signature::json::JsonError;

/// Why a key file or key material was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The input is larger than the key size limit.
    #[error("key file is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No PEM block, or a malformed one.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A PEM block of another type than expected.
    #[error("unsupported PEM type {found:?} (expected {expected})")]
    PemType {
        /// The type found (`-----BEGIN <type>-----`).
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The encrypted key document is not as cosign writes it.
    #[error("invalid encrypted private key: {0}")]
    Format(String),
    /// scrypt parameters other than the ones containers/image accepts.
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p} (containers/image accepts N=32768 r=8 p=1)"
    )]
    ScryptParams {
        /// `N`.
        n: u64,
        /// `r`.
        r: u64,
        /// `p`.
        p: u64,
    },
    /// Authenticated decryption failed: a wrong passphrase, or a damaged file.
    #[error("decrypting the private key failed: wrong passphrase or damaged key file")]
    Decrypt,
    /// The decrypted (or given) private key is not a PKCS#8 ECDSA P-256 key.
    #[error("invalid private key: {0}")]
    PrivateKey(String),
    /// The public key is not a PKIX ECDSA P-256 key.
    #[error("invalid public key: {0}")]
    PublicKey(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// Why a payload is not a valid cosign simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Larger than [`crate::MAX_PAYLOAD_BYTES`].
    #[error("payload is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Not JSON.
    #[error("{0}")]
    Syntax(JsonError),
    /// A JSON object was expected at `path`.
    #[error("{path}: JSON object expected, got {found}")]
    NotObject {
        /// Where (`critical.image`, `` for the top level).
        path: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// A key appears twice in one object.
    #[error("{path}: duplicate key {key:?}")]
    DuplicateKey {
        /// Where.
        path: String,
        /// The key.
        key: String,
    },
    /// A key that is not allowed there.
    #[error("{path}: unknown key {key:?}")]
    UnknownKey {
        /// Where.
        path: String,
        /// The key.
        key: String,
    },
    /// A required key is missing.
    #[error("{path}: key {key:?} missing")]
    MissingKey {
        /// Where.
        path: String,
        /// The key.
        key: String,
    },
    /// A value of the wrong JSON type.
    #[error("{path}: {expected} expected, got {found}")]
    WrongType {
        /// Where.
        path: String,
        /// The expected type.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// `critical.type` is not `cosign container image signature`.
    #[error("Unrecognized signature type {0}")]
    UnrecognizedType(String),
    /// `optional.timestamp` is not an integer that fits in 64 bits.
    #[error("Field optional.timestamp is not an integer: {0}")]
    Timestamp(String),
}

/// Why the bytes of a sigstore signature could not be decoded (before any
/// cryptography).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureEncodingError {
    /// The annotation is not standard base64.
    #[error("base64 decoding")]
    Base64(#[source] Base64Error),
    /// The decoded bytes are not an ASN.1 DER ECDSA P-256 signature (the
    /// ECDSA crate says no more than that).
    #[error("not an ASN.1 DER ECDSA P-256 signature")]
    NotDerEcdsaP256,
}

/// The base64 decoder's error, kept as a source without putting the
/// `base64` crate's type (and so its version) in this crate's API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Base64Error(base64::DecodeError);

impl From<base64::DecodeError> for Base64Error {
    fn from(e: base64::DecodeError) -> Self {
        Base64Error(e)
    }
}

/// Why a sigstore signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The attachment is not a simple-signing signature (another MIME type:
    /// an attestation, an SBOM, ...).
    #[error("not a sigstore signature: MIME type {0:?}")]
    NotASignature(String),
    /// No trusted key was given.
    #[error("No public keys imported")]
    NoKeys,
    /// The `dev.cosignproject.cosign/signature` annotation is missing.
    #[error("missing {} annotation", crate::SIGNATURE_ANNOTATION)]
    MissingSignature,
    /// The annotation is not base64 of an ASN.1 DER ECDSA signature.
    #[error("invalid signature encoding")]
    SignatureEncoding(#[source] SignatureEncodingError),
    /// The signature does not verify with any trusted key: signed by
    /// another key, or the payload or signature was altered (ECDSA cannot
    /// tell these apart).
    #[error(
        "cryptographic signature verification failed: the signature does not match the payload under {} trusted key{}",
        if *keys == 1 { "the".to_owned() } else { format!("any of the {keys}") },
        if *keys == 1 { "" } else { "s" }
    )]
    BadSignature {
        /// How many keys were tried.
        keys: usize,
    },
    /// The signed payload is not a valid payload (checked after the
    /// signature, like containers/image).
    #[error("invalid signature payload: {0}")]
    Payload(PayloadError),
    /// The manifest's digest could not be computed.
    #[error("error computing manifest digest")]
    ManifestDigest(#[source] imprimatur_signature::ManifestError),
    /// The signed digest is not the manifest's.
    #[error("Signature for digest {signed} does not match")]
    DigestMismatch {
        /// The digest in the payload.
        signed: String,
    },
    /// The signed identity is not the expected one.
    #[error("Signature for identity {signed} is not accepted (expected {expected})")]
    IdentityMismatch {
        /// The identity in the payload.
        signed: String,
        /// What was expected.
        expected: String,
    },
}

/// Why an attachment manifest, config or stored signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// Input larger than its limit.
    #[error("{what} is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// What was read.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON.
    #[error("{what}: {error}")]
    Syntax {
        /// What was read.
        what: &'static str,
        /// The JSON error.
        error: JsonError,
    },
    /// Valid JSON with invalid contents.
    #[error("{what}: {path}: {reason}")]
    Invalid {
        /// What was read.
        what: &'static str,
        /// The member (`layers[2].digest`).
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// More layers than [`crate::attachment::MAX_LAYERS`].
    #[error("attachment manifest has {count} layers, more than the limit of {limit}")]
    TooManyLayers {
        /// Layers present.
        count: usize,
        /// The limit.
        limit: usize,
    },
}
