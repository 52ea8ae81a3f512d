//! The crate's error type.

use std::fmt;

/// Everything that can go wrong in `imprimatur-policy`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `policy.json` is invalid: names the file, the JSON path of the
    /// offending value and the rule it breaks.
    #[error("invalid policy in {file}: at {path}: {rule}")]
    InvalidPolicy {
        /// The file name given to the parser (or `<input>`).
        file: String,
        /// JSON path of the offending value, e.g. `$.transports.docker["x"][0].keyType`.
        path: String,
        /// The broken rule.
        rule: PolicyRule,
    },
    /// A `registries.d` file could not be parsed.
    #[error("invalid registries.d file {file}: {message}")]
    InvalidRegistriesFile {
        /// The file name.
        file: String,
        /// What was wrong, with position when known.
        message: String,
    },
    /// The same `docker` scope appears in two files.
    #[error(
        "Error parsing signature storage configuration: \"docker\" namespace \"{scope}\" defined both in \"{first}\" and \"{second}\""
    )]
    RegistriesConflict {
        /// The scope.
        scope: String,
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
    /// `default-docker` appears in two files.
    #[error(
        "Error parsing signature storage configuration: \"default-docker\" defined both in \"{first}\" and \"{second}\""
    )]
    RegistriesDefaultConflict {
        /// The file that defined it first.
        first: String,
        /// The file that defined it again.
        second: String,
    },
    /// A lookaside base URL is not a valid URL.
    #[error("invalid lookaside URL {url:?}: {reason}")]
    InvalidLookasideUrl {
        /// The configured string.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Writing to this lookaside is not supported (only `file:` is writable).
    #[error(
        "Writing directly to a {scheme} lookaside {url} is not supported. Configure a lookaside-staging: location"
    )]
    LookasideNotWritable {
        /// The URL scheme.
        scheme: String,
        /// The base URL.
        url: String,
    },
    /// Reading from this lookaside scheme is not supported.
    #[error("Unsupported scheme when reading signature from {url}")]
    LookasideUnsupportedScheme {
        /// The URL that was to be read.
        url: String,
    },
    /// A digest used in a lookaside path is not a valid `algo:hex` digest.
    #[error("invalid manifest digest {0:?}")]
    InvalidDigest(String),
    /// A docker reference given to a builder or the evaluator does not parse.
    #[error("invalid docker reference {reference:?}: {reason}")]
    InvalidReference {
        /// The string.
        reference: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A trust configuration request is invalid (e.g. `signedBy` without keys).
    #[error("invalid trust configuration: {0}")]
    InvalidTrust(String),
    /// A store callback (reading or writing signatures) failed.
    #[error("signature store error at {location}: {message}")]
    Store {
        /// Where (URL or path).
        location: String,
        /// What happened.
        message: String,
    },
    /// File I/O in the `fs` helpers failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error (shown in the message, so not also a `source()`).
        cause: std::io::Error,
    },
}

/// The rule a `policy.json` document breaks. Its `Display` is the message the
/// reference implementation gives (after `invalid policy in <file>: `), so
/// messages can be compared with skopeo's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyRule {
    /// Not JSON at all (syntax error, trailing data, comment, too large,
    /// too deep), as the shared strict reader reports it.
    Syntax(imprimatur_signature::json::JsonError),
    /// A value has the wrong JSON type.
    WrongType {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// `default` is absent.
    DefaultMissing,
    /// An empty (or `null`) requirement list.
    EmptyRequirements,
    /// A key the reference implementation does not know.
    UnknownKey(String),
    /// A key appears twice in one object (compared after unescaping).
    DuplicateKey(String),
    /// A required key is absent.
    MissingKey(String),
    /// A scope that the transport rejects (reported as an unknown key, like the RI).
    InvalidScope {
        /// The scope.
        scope: String,
        /// Why the transport rejects it.
        reason: String,
    },
    /// An unknown requirement `type`.
    UnknownRequirementType(String),
    /// An unknown reference match `type`.
    UnknownMatchType(String),
    /// `keyType` missing or not a valid value after parsing.
    InvalidKeyType(String),
    /// `keyType` is a string but not one of the known values.
    UnrecognizedKeyType(String),
    /// More than one of `keyPath`/`keyPaths`/`keyData`.
    KeySourcesMoreThanOne,
    /// None of `keyPath`/`keyPaths`/`keyData`.
    KeySourcesNone,
    /// A key source is present but empty (`keyPath: ""`, `keyPaths: null`).
    KeySourcesNotExactlyOne,
    /// `keyData` is not standard base64.
    IllegalBase64(usize),
    /// `dockerReference` does not parse.
    InvalidDockerReference {
        /// The value.
        value: String,
        /// The parser's message.
        reason: String,
    },
    /// `dockerReference` is name-only.
    ReferenceNameOnly(String),
    /// `dockerRepository` does not parse.
    InvalidDockerRepository {
        /// The value.
        value: String,
        /// The parser's message.
        reason: String,
    },
    /// `prefix` of `remapIdentity` is invalid.
    InvalidPrefix(String),
    /// `signedPrefix` of `remapIdentity` is invalid.
    InvalidSignedPrefix(String),
    /// A `sigstoreSigned` key configuration is inconsistent.
    Sigstore(String),
}

/// A rule is an error on its own too (e.g. the source of
/// [`IdentitySpecError::InvalidValue`](crate::IdentitySpecError::InvalidValue)).
impl std::error::Error for PolicyRule {}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyRule::Syntax(m) => write!(f, "{m}"),
            PolicyRule::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            PolicyRule::DefaultMissing => f.write_str("Default policy is missing"),
            PolicyRule::EmptyRequirements => {
                f.write_str("List of verification policy requirements must not be empty")
            }
            PolicyRule::UnknownKey(k) => write!(f, "Unknown key {k:?}"),
            PolicyRule::DuplicateKey(k) => write!(f, "Duplicate key {k:?}"),
            PolicyRule::MissingKey(k) => write!(f, "Key {k:?} missing in a JSON object"),
            PolicyRule::InvalidScope { scope, reason } => {
                write!(f, "Unknown key {scope:?} (invalid scope: {reason})")
            }
            PolicyRule::UnknownRequirementType(t) => {
                write!(f, "Unknown policy requirement type {t:?}")
            }
            PolicyRule::UnknownMatchType(t) => {
                write!(f, "Unknown policy reference match type {t:?}")
            }
            PolicyRule::InvalidKeyType(t) => write!(f, "invalid keyType {t:?}"),
            PolicyRule::UnrecognizedKeyType(t) => write!(f, "Unrecognized keyType value {t:?}"),
            PolicyRule::KeySourcesMoreThanOne => f.write_str(
                "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present",
            ),
            PolicyRule::KeySourcesNone => f.write_str(
                "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present",
            ),
            PolicyRule::KeySourcesNotExactlyOne => {
                f.write_str("exactly one of keyPath, keyPaths and keyData must be specified")
            }
            PolicyRule::IllegalBase64(n) => write!(f, "illegal base64 data at input byte {n}"),
            PolicyRule::InvalidDockerReference { value, reason } => {
                write!(f, "Invalid format of dockerReference {value}: {reason}")
            }
            PolicyRule::ReferenceNameOnly(v) => {
                write!(f, "dockerReference {v} contains neither a tag nor digest")
            }
            PolicyRule::InvalidDockerRepository { value, reason } => {
                write!(f, "Invalid format of dockerRepository {value}: {reason}")
            }
            PolicyRule::InvalidPrefix(p) => write!(f, "prefix {p:?} is not valid"),
            PolicyRule::InvalidSignedPrefix(p) => write!(f, "signedPrefix {p:?} is not valid"),
            PolicyRule::Sigstore(m) => write!(f, "{m}"),
        }
    }
}
