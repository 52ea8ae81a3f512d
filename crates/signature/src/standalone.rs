//! Standalone verification (§3.2), built on the core routine of §3.1.

use imprimatur_reference::{Algorithm, Digest, Reference};

use crate::manifest::manifest_digest;
use crate::{Fingerprint, Payload, Verifier, VerifyError};

/// The result of a successful [`verify_standalone`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StandaloneVerified {
    /// The manifest digest the signature is for (it matched the manifest).
    pub digest: Digest,
    /// The docker reference as signed (verbatim).
    pub signed_reference: String,
    /// The accepted identity that matched: the signer's fingerprint, or its
    /// primary key's when the primary was the accepted one.
    pub fingerprint: Fingerprint,
    /// The fingerprint of the key that made the signature.
    pub signer: Fingerprint,
    /// The parsed payload.
    pub payload: Payload,
}

/// Verifies `signature` for the image `manifest` expected to be
/// `expected_reference`, signed by one of `accepted` — the semantics of
/// `skopeo standalone-verify MANIFEST REF FPR SIG`:
///
/// 0. `expected_reference` must parse with normalization;
/// 1. crypto and envelope ([`Verifier::verify`]);
/// 2. key identity: the signer (or, with the default
///    [`SubkeyAttribution::Primary`](crate::SubkeyAttribution), its primary
///    key) is in `accepted` — exact uppercase comparison;
/// 3. strict payload parse;
/// 4. the signed digest equals the SHA-256 manifest digest (schema-1 JWS
///    stripped) byte for byte;
/// 5. the signed reference parses with normalization and its full
///    normalized string equals the expected one's (no default tag is added
///    on either side: signed `busybox` does not match `busybox:latest`).
///
/// Later steps run only if the earlier ones passed.
///
/// `expected_reference` is a string, not a [`Reference`], on purpose:
/// parsing it is step 0 of these semantics (an invalid one is
/// [`VerifyError::InvalidExpectedReference`], as skopeo reports it).
pub fn verify_standalone(
    verifier: &Verifier<'_>,
    manifest: &[u8],
    expected_reference: &str,
    accepted: &[Fingerprint],
    signature: &[u8],
) -> Result<StandaloneVerified, VerifyError> {
    core(
        verifier,
        Manifest::Bytes(manifest),
        expected_reference,
        accepted,
        signature,
    )
}

/// [`verify_standalone`] for a caller who knows the manifest digest but not
/// the manifest (e.g. from a registry that already checked it). Step 4
/// compares the signed digest with `digest` byte for byte; as
/// containers/image only ever compares SHA-256 digests, a `digest` of
/// another algorithm never matches.
pub fn verify_standalone_digest(
    verifier: &Verifier<'_>,
    digest: &Digest,
    expected_reference: &str,
    accepted: &[Fingerprint],
    signature: &[u8],
) -> Result<StandaloneVerified, VerifyError> {
    core(
        verifier,
        Manifest::Digest(digest),
        expected_reference,
        accepted,
        signature,
    )
}

enum Manifest<'a> {
    Bytes(&'a [u8]),
    Digest(&'a Digest),
}

fn core(
    verifier: &Verifier<'_>,
    manifest: Manifest<'_>,
    expected_reference: &str,
    accepted: &[Fingerprint],
    signature: &[u8],
) -> Result<StandaloneVerified, VerifyError> {
    let expected = Reference::parse_normalized(expected_reference).map_err(|e| {
        VerifyError::InvalidExpectedReference {
            reference: expected_reference.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let v = verifier.verify_accepted(signature, accepted)?;
    let payload = Payload::parse(&v.payload)?;
    let actual = match manifest {
        Manifest::Bytes(m) => manifest_digest(m).map_err(VerifyError::ManifestDigest)?,
        Manifest::Digest(d) => d.clone(),
    };
    if actual.algorithm() != Algorithm::Sha256 || actual.as_str() != payload.docker_manifest_digest
    {
        return Err(VerifyError::DigestMismatch {
            signed: payload.docker_manifest_digest,
            actual: actual.to_string(),
        });
    }
    let signed = Reference::parse_normalized(&payload.docker_reference)
        .map_err(|_| VerifyError::InvalidSignedReference(payload.docker_reference.clone()))?;
    if signed.to_string() != expected.to_string() {
        return Err(VerifyError::ReferenceMismatch {
            signed: signed.to_string(),
            expected: expected.to_string(),
        });
    }
    let fingerprint = if accepted.contains(&v.signer) {
        v.signer.clone()
    } else {
        v.primary.clone()
    };
    Ok(StandaloneVerified {
        digest: actual,
        signed_reference: payload.docker_reference.clone(),
        fingerprint,
        signer: v.signer,
        payload,
    })
}
