//! Signing and verifying sigstore signatures as containers/image does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::attachment::SigstoreSignature;
use crate::keys::{PrivateKey, PublicKey};
use crate::payload::SigstorePayload;
use crate::{SignatureEncodingError, VerifyError, attachment};

/// Signs `payload` with `key`: the serialized payload, its ECDSA
/// P-256/SHA-256 ASN.1 DER signature in base64, as a layer-ready
/// [`SigstoreSignature`].
pub fn sign(key: &PrivateKey, payload: &SigstorePayload) -> SigstoreSignature {
    let bytes = payload.to_json();
    let signature = key.sign(&bytes);
    SigstoreSignature::new(bytes, STANDARD.encode(signature))
}

/// A signature whose cryptography and payload checked out (digest and
/// identity not yet: see [`Verified::check_manifest`] and
/// [`Verified::check_identity`], or [`verify_for_image`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The parsed payload.
    pub payload: SigstorePayload,
    /// Which of the trusted keys verified it (index into the slice given).
    pub key_index: usize,
}

/// Verifies the cryptography of `signature` under any of `keys`, then
/// parses its payload strictly — in containers/image's order: MIME type,
/// signature annotation, base64, ECDSA (over the exact payload bytes), then
/// the payload.
pub fn verify(keys: &[PublicKey], signature: &SigstoreSignature) -> Result<Verified, VerifyError> {
    if !signature.is_signature() {
        return Err(VerifyError::NotASignature(signature.mime_type.clone()));
    }
    if keys.is_empty() {
        return Err(VerifyError::NoKeys);
    }
    let b64 = signature
        .signature_base64()
        .ok_or(VerifyError::MissingSignature)?;
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| VerifyError::SignatureEncoding(SignatureEncodingError::Base64(e.into())))?;
    let mut encoding_error = None;
    let mut key_index = None;
    for (i, key) in keys.iter().enumerate() {
        match key.verify(&signature.payload, &der) {
            Ok(true) => {
                key_index = Some(i);
                break;
            }
            Ok(false) => {}
            Err(e) => encoding_error = Some(e),
        }
    }
    let Some(key_index) = key_index else {
        return Err(match encoding_error {
            Some(e) => VerifyError::SignatureEncoding(e),
            None => VerifyError::BadSignature { keys: keys.len() },
        });
    };
    let payload = SigstorePayload::parse(&signature.payload).map_err(VerifyError::Payload)?;
    Ok(Verified { payload, key_index })
}

impl Verified {
    /// Checks that the signed digest is `manifest`'s digest (computed with
    /// the signed digest's algorithm; schema-1 signatures stripped).
    pub fn check_manifest(&self, manifest: &[u8]) -> Result<(), VerifyError> {
        match imprimatur_signature::digest_matches(manifest, &self.payload.docker_manifest_digest) {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::DigestMismatch {
                signed: self.payload.docker_manifest_digest.clone(),
            }),
            Err(e) => Err(VerifyError::ManifestDigest(e)),
        }
    }

    /// Checks that the signed identity is exactly `expected` (policy
    /// evaluation applies `signedIdentity` rules instead).
    ///
    /// A string, not a [`Reference`](imprimatur_reference::Reference), on
    /// purpose: the comparison is with the text as signed, byte for byte,
    /// and cosign signs the reference as the user wrote it
    /// (`registry.example/app:1`, `busybox`); normalizing would accept
    /// identities that were never signed in that form.
    pub fn check_identity(&self, expected: &str) -> Result<(), VerifyError> {
        if self.payload.docker_reference == expected {
            Ok(())
        } else {
            Err(VerifyError::IdentityMismatch {
                signed: self.payload.docker_reference.clone(),
                expected: expected.to_owned(),
            })
        }
    }
}

/// Verifies `signature` for an image: cryptography under one of `keys`,
/// strict payload, the manifest's digest, and exactly `identity` (the
/// signed text, see [`Verified::check_identity`] for why a string).
pub fn verify_for_image(
    keys: &[PublicKey],
    signature: &SigstoreSignature,
    manifest: &[u8],
    identity: &str,
) -> Result<Verified, VerifyError> {
    let v = verify(keys, signature)?;
    v.check_manifest(manifest)?;
    v.check_identity(identity)?;
    Ok(v)
}

/// Whether a stored blob is a sigstore signature (`\0sigstore-json\n…`).
pub fn is_sigstore_blob(blob: &[u8]) -> bool {
    blob.starts_with(b"\0")
        && blob[1..].starts_with(attachment::FORMAT_ID.as_bytes())
        && blob.get(1 + attachment::FORMAT_ID.len()) == Some(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprimatur_reference::Digest;

    const MANIFEST: &[u8] =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    const REF: &str = "registry.example/app:1";

    fn signed(key: &PrivateKey) -> SigstoreSignature {
        let d = Digest::sha256_of(MANIFEST);
        sign(key, &SigstorePayload::new(REF, &d, 1_700_000_000))
    }

    #[test]
    fn accepts_and_refuses_with_typed_errors() {
        let key = PrivateKey::generate().expect("key");
        let other = PrivateKey::generate().expect("key");
        let sig = signed(&key);
        let keys = [key.public_key()];
        let v = verify_for_image(&keys, &sig, MANIFEST, REF).expect("accepted");
        assert_eq!(v.key_index, 0);
        assert_eq!(v.payload.timestamp, Some(1_700_000_000));
        // Second of two keys.
        let v = verify(&[other.public_key(), key.public_key()], &sig).expect("accepted");
        assert_eq!(v.key_index, 1);

        assert_eq!(
            verify(&[other.public_key()], &sig),
            Err(VerifyError::BadSignature { keys: 1 })
        );
        assert_eq!(verify(&[], &sig), Err(VerifyError::NoKeys));
        let mut tampered = sig.clone();
        tampered.payload = tampered.payload.replace_all(b"app:1", b"app:2");
        assert_eq!(
            verify(&keys, &tampered),
            Err(VerifyError::BadSignature { keys: 1 })
        );
        assert!(matches!(
            verify_for_image(&keys, &sig, b"{}", REF),
            Err(VerifyError::DigestMismatch { .. })
        ));
        assert!(matches!(
            verify_for_image(&keys, &sig, MANIFEST, "registry.example/app:2"),
            Err(VerifyError::IdentityMismatch { .. })
        ));
        let mut unsigned = sig.clone();
        unsigned.annotations.clear();
        assert_eq!(verify(&keys, &unsigned), Err(VerifyError::MissingSignature));
        let mut garbage = sig.clone();
        garbage
            .annotations
            .insert(crate::SIGNATURE_ANNOTATION.into(), "!!".into());
        assert!(matches!(
            verify(&keys, &garbage),
            Err(VerifyError::SignatureEncoding(
                SignatureEncodingError::Base64(_)
            ))
        ));
        let mut not_der = sig.clone();
        not_der
            .annotations
            .insert(crate::SIGNATURE_ANNOTATION.into(), STANDARD.encode(b"0"));
        assert_eq!(
            verify(&keys, &not_der),
            Err(VerifyError::SignatureEncoding(
                SignatureEncodingError::NotDerEcdsaP256
            ))
        );
        let mut attestation = sig.clone();
        attestation.mime_type = "application/vnd.dsse.envelope.v1+json".into();
        assert!(matches!(
            verify(&keys, &attestation),
            Err(VerifyError::NotASignature(_))
        ));
        // Signed garbage: crypto passes, payload refused.
        let not_json = SigstoreSignature::new(b"nope".to_vec(), STANDARD.encode(key.sign(b"nope")));
        assert!(matches!(
            verify(&keys, &not_json),
            Err(VerifyError::Payload(_))
        ));
        assert!(is_sigstore_blob(&sig.to_blob()));
        assert!(!is_sigstore_blob(b"\0simple-signing\n"));
    }

    trait ReplaceAll {
        fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceAll for Vec<u8> {
        fn replace_all(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let s = String::from_utf8_lossy(self).replace(
                std::str::from_utf8(from).unwrap_or_default(),
                std::str::from_utf8(to).unwrap_or_default(),
            );
            s.into_bytes()
        }
    }
}
