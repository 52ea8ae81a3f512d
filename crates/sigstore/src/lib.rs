//! Key-based sigstore (cosign) container image signatures, interoperable
//! with containers/image (skopeo, podman, CRI-O) and cosign: no Fulcio, no
//! Rekor (those need the internet).
//!
//! - [`PrivateKey`], [`PublicKey`]: ECDSA P-256 keys; cosign's encrypted
//!   key file (`ENCRYPTED COSIGN PRIVATE KEY`, scrypt + NaCl secretbox over
//!   PKCS#8; `ENCRYPTED SIGSTORE PRIVATE KEY` is read too), PKIX `PUBLIC
//!   KEY` PEM.
//! - [`SigstorePayload`]: the `cosign container image signature` payload;
//!   Go-compatible serialization and strict parsing.
//! - [`sign`], [`verify`], [`verify_for_image`]: ECDSA P-256/SHA-256 ASN.1
//!   DER signatures in base64, verified in containers/image's order with
//!   typed errors ([`VerifyError`]).
//! - [`attachment`]: the registry attachment (`sha256-<hex>.sig` OCI
//!   manifest, one layer per signature), appending without losing existing
//!   signatures, and the `\0sigstore-json\n…` stored form.
//!
//! No I/O and no clock: bytes, keys and timestamps come from the caller
//! (`imprimatur-registry` reads and writes attachments). Randomness (key
//! generation, key file salt and nonce) comes from the operating system;
//! signing itself is deterministic (RFC 6979).
//!
//! Dependencies: RustCrypto's `p256`/`ecdsa` (the versions sequoia's
//! pure-Rust backend already locks), `scrypt` and `crypto_secretbox`. The
//! strict JSON reader and [`Passphrase`] come from `imprimatur-signature`,
//! which links sequoia-openpgp: a binary using this crate picks a sequoia
//! backend as for the rest of the workspace.
//!
//! # Example
//!
//! ```
//! use imprimatur_reference::{Digest, Reference};
//! use imprimatur_sigstore::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = PrivateKey::generate()?;
//! let public_pem = key.public_key().to_pem(); // cosign.pub
//! // let file = key.to_encrypted_pem(&Passphrase::from("…"))?; // cosign.key
//!
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
//! let digest = Digest::sha256_of(manifest);
//! let image = Reference::parse_normalized("registry.example.com/app:1.0")?;
//! let payload = SigstorePayload::for_image(&image, &digest, 1_700_000_000);
//! let signature = sign(&key, &payload); // a layer of the attachment
//!
//! let trusted = [PublicKey::from_pem(public_pem.as_bytes())?];
//! let ok = verify_for_image(&trusted, &signature, manifest, "registry.example.com/app:1.0")?;
//! assert_eq!(ok.payload.docker_manifest_digest, digest.to_string());
//! assert!(verify_for_image(&trusted, &signature, manifest, "registry.example.com/app:2.0").is_err());
//!
//! // The attachment manifest that holds it.
//! let update = attachment::plan_append(None, &[signature])?;
//! assert_eq!(update.added, 1);
//! assert_eq!(attachment::attachment_tag(&digest), format!("sha256-{}.sig", digest.hex()));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attachment;
mod error;
mod gojson;
mod keys;
mod payload;
mod pem;
mod verify;

pub use attachment::{SIGNATURE_ANNOTATION, SIGNATURE_MIME_TYPE, SigstoreSignature};
pub use error::{
    AttachmentError, Base64Error, KeyError, PayloadError, SignatureEncodingError, VerifyError,
};
pub use imprimatur_signature::Passphrase;
pub use keys::{
    COSIGN_PRIVATE_KEY_PEM_TYPE, MAX_KEY_FILE_BYTES, PUBLIC_KEY_PEM_TYPE, PrivateKey, PublicKey,
    SIGSTORE_PRIVATE_KEY_PEM_TYPE,
};
pub use payload::{MAX_PAYLOAD_BYTES, SIGNATURE_TYPE, SigstorePayload};
pub use verify::{Verified, is_sigstore_blob, sign, verify, verify_for_image};
