//! Atomic ("simple signing") container image signatures, interoperable with
//! skopeo, podman and CRI-O (containers/image).
//!
//! - [`Payload`]: the signed JSON document; strict [`Payload::parse`] and
//!   canonical [`Payload::to_canonical_json`] (§1 of the spec).
//! - [`Signer`]: signs payloads with an OpenPGP secret key (binary signed
//!   message, one v4 signature by the primary key; §2.1).
//! - [`Verifier`] over [`TrustedKeys`]: accepts and rejects signature blobs
//!   as skopeo 1.9.3 does, except that SHA-1 (and weaker) signatures are
//!   refused (§2.2, §3.1).
//! - [`verify_standalone`] (and [`verify_standalone_digest`]): `skopeo
//!   standalone-verify` semantics (§3.2).
//! - [`manifest_digest`], [`digest_matches`]: §1.5, schema-1 JWS included.
//! - [`generate_key`], [`SecretKey`], [`Fingerprint`]: key material.
//! - [`json`]: the strict JSON reader for untrusted input (duplicate keys
//!   kept for the caller to judge, exact number text, size and depth
//!   limits, lone surrogates as U+FFFD like Go) and its pretty printer;
//!   `imprimatur-policy` parses `policy.json` with it too.
//! - [`classify_stored_blob`], [`untrusted_dump`]: storage-layer format
//!   check and the debugging dump (never for decisions).
//!
//! This crate does no I/O and never picks a sequoia crypto backend: the
//! final binary does (the `imprimatur` facade's `crypto-*` features).
//!
//! Performance: signing builds the v4 signature directly (no sequoia
//! `SignatureBuilder` salt notation, hence no per-signature RNG setup) and
//! reuses the decrypted key; verification parses the message once without
//! streaming. Measured with nettle, one loaded core: Ed25519 ≈23,000
//! signatures/s and ≈9,000 verifications/s, RSA-3072 ≈230 signatures/s
//! (= sequoia's raw RSA signing rate) and ≈16,000 verifications/s (the
//! facade's criterion bench `benches/signing.rs`, which also measures the
//! backend's raw primitives next to ours: `cargo bench --bench signing`).
//!
//! # Example
//!
//! ```
//! use imprimatur_reference::Reference;
//! use imprimatur_signature::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Keys: generate (or SecretKey::from_bytes a gpg export).
//! let key = generate_key(KeyGenOptions::new("Release <release@example.com>"))?;
//! let public = key.public_armored()?; // hand this to verifiers
//!
//! // Sign a manifest for an identity.
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
//! let digest = manifest_digest(manifest)?;
//! let image = Reference::parse_normalized("registry.example.com/app:1.0")?;
//! let payload = Payload::for_image(&image, &digest, 1_700_000_000);
//! let signer = Signer::builder(key.secret_key()).build()?;
//! let blob = signer.sign(&payload)?;
//!
//! // Verify like `skopeo standalone-verify`.
//! let keys = TrustedKeys::from_bytes(&public)?;
//! let verifier = Verifier::new(&keys);
//! let ok = verify_standalone(
//!     &verifier,
//!     manifest,
//!     "registry.example.com/app:1.0",
//!     &[key.fingerprint()],
//!     &blob,
//! )?;
//! assert_eq!(ok.digest, digest);
//! assert_eq!(ok.fingerprint, key.fingerprint());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod envelope;
mod error;
mod fingerprint;
pub mod json;
mod keys;
mod manifest;
mod passphrase;
mod payload;
mod sign;
mod standalone;
mod verified;
mod verify;

pub use clock::{Clock, SystemClock};
pub use envelope::{StoredFormat, UntrustedSignatureInfo, classify_stored_blob, untrusted_dump};
pub use error::{
    Error, ErrorChain, KeyError, KeyInvalidReason, MalformedError, ManifestError, OpenPgpError,
    PayloadError, VerifyError,
};
pub use fingerprint::Fingerprint;
pub use keys::{
    Cipher, GeneratedKey, KeyGenOptions, Keyring, MAX_KEY_BYTES, SecretKey, TrustedKeys,
    generate_key,
};
pub use manifest::{MAX_MANIFEST_BYTES, digest_matches, manifest_digest};
pub use passphrase::Passphrase;
pub use payload::{CREATOR, Payload, SIGNATURE_TYPE};
pub use sign::{HashAlgo, Signer, SignerBuilder};
pub use standalone::{StandaloneVerified, verify_standalone, verify_standalone_digest};
pub use verify::{
    MAX_PAYLOAD_BYTES, MAX_SIGNATURE_BYTES, SubkeyAttribution, VerifiedSignature, Verifier,
};

/// A buffer wiped when dropped, from the `zeroize` crate (version 1):
/// [`GeneratedKey::secret_armored`] returns secret key material in it.
///
/// Re-exported so that callers can name the type without depending on
/// `zeroize` themselves; `zeroize` 1 has kept this type stable since 2019,
/// and `imprimatur-sigstore` returns the same type for its private keys.
pub use zeroize::Zeroizing;

/// The sequoia-openpgp crate this library is built on.
///
/// Re-exported on purpose, although it ties this crate's API to sequoia's
/// major version: [`SecretKey::cert`] and [`TrustedKeys::certs`] hand out
/// sequoia certificates, and a caller who works with them needs exactly the
/// sequoia this crate was built with (two copies of sequoia's types do not
/// mix). Everything else in this crate's API is free of sequoia types.
pub use sequoia_openpgp;
