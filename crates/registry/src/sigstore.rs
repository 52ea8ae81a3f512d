//! Sigstore attachments in a registry, read and written as containers/image
//! does: the manifest tagged `sha256-<hex>.sig` beside the image, one
//! layer per signature (see [`imprimatur_sigstore::attachment`] for the
//! format and the append rules).
//!
//! Whether attachments are used for an image is `use-sigstore-attachments`
//! in `registries.d` ([`use_attachments`]); containers/image neither reads
//! nor writes them otherwise.
//!
//! Limits: the attachment manifest and config at most 4 MiB each, at most
//! [`attachment::MAX_LAYERS`] layers of at most 4 MiB each, and at most
//! [`MAX_TOTAL_BYTES`] of layer data per image.
//!
//! Writing is read-modify-write of one tag, as in containers/image, so two
//! writers at the same moment can lose one's signature; [`Attachments::add`]
//! re-reads the tag after writing and tries again (up to three times) when
//! a signature it added is missing.

use bytes::Bytes;
use imprimatur_policy::RegistriesConfig;
use imprimatur_reference::{Digest, Reference};
use imprimatur_sigstore::SigstoreSignature;
use imprimatur_sigstore::attachment::{
    self, AttachmentManifest, MAX_LAYER_BYTES, MAX_MANIFEST_BYTES, OCI_MANIFEST_MEDIA_TYPE,
};

use crate::docker::RegistryClient;
use crate::error::{Error, Result};

/// Most layer data read from one attachment.
pub const MAX_TOTAL_BYTES: u64 = 32 * 1024 * 1024;

/// Whether containers/image would read and write sigstore attachments for
/// `reference`: `use-sigstore-attachments` of the first `registries.d`
/// section (most specific first) that sets it; `false` by default.
pub fn use_attachments(registries: &RegistriesConfig, reference: &Reference) -> bool {
    registries.use_sigstore_attachments(reference)
}

/// The API endpoint of a registry domain (docker.io is served by
/// registry-1.docker.io).
fn api_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// The outcome of [`Attachments::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddOutcome {
    /// Signatures added as new layers.
    pub added: usize,
    /// Signatures that were there already (identical layer).
    pub already_present: usize,
    /// The attachment tag.
    pub tag: String,
    /// The digest of the attachment manifest now under the tag (`None` when
    /// nothing was written and there is no attachment).
    pub manifest_digest: Option<Digest>,
}

/// The sigstore attachments of the images of one repository.
#[derive(Debug, Clone)]
pub struct Attachments {
    client: RegistryClient,
    registry: String,
    repository: String,
    name: String,
}

/// An attachment as read: its parsed manifest, the config blob, the
/// manifest's digest.
struct Current {
    manifest: AttachmentManifest,
    config: Vec<u8>,
    digest: Digest,
}

impl Attachments {
    /// The attachments of `reference`'s repository, through `client`.
    pub fn new(client: &RegistryClient, reference: &Reference) -> Attachments {
        Attachments {
            client: client.clone(),
            registry: api_host(reference.domain()).to_owned(),
            repository: reference.path().to_owned(),
            name: reference.name(),
        }
    }

    /// Reads the attachment manifest of image `digest`, if there is one;
    /// it must be served as an OCI image manifest.
    pub async fn manifest(&self, digest: &Digest) -> Result<Option<(AttachmentManifest, Digest)>> {
        Ok(self
            .current(digest, false)
            .await?
            .map(|c| (c.manifest, c.digest)))
    }

    async fn current(&self, digest: &Digest, with_config: bool) -> Result<Option<Current>> {
        let tag = attachment::attachment_tag(digest);
        let (bytes, media_type, manifest_digest) = match self
            .client
            .manifest(&self.registry, &self.repository, &tag)
            .await
        {
            Ok(found) => found,
            Err(Error::ManifestUnknown { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let what = format!("sigstore attachment manifest {}:{tag}", self.name);
        if media_type != OCI_MANIFEST_MEDIA_TYPE {
            return Err(Error::UnsupportedMediaType { what, media_type });
        }
        let manifest = AttachmentManifest::parse(&bytes).map_err(|e| Error::malformed(&what, e))?;
        let config = if with_config {
            if manifest.config.size > MAX_MANIFEST_BYTES as u64 {
                return Err(Error::TooLarge {
                    what: format!("{what}: config"),
                    limit: MAX_MANIFEST_BYTES as u64,
                });
            }
            self.blob(&manifest.config.digest, manifest.config.size)
                .await?
        } else {
            Vec::new()
        };
        Ok(Some(Current {
            manifest,
            config,
            digest: manifest_digest,
        }))
    }

    async fn blob(&self, digest: &Digest, size: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        self.client
            .blob(
                &self.registry,
                &self.repository,
                digest,
                Some(size),
                |chunk| {
                    out.extend_from_slice(&chunk);
                    async { Ok(()) }
                },
            )
            .await?;
        Ok(out)
    }

    /// The signatures (and other attachments) of image `digest`, in layer
    /// order: media type, payload and annotations of each layer, nothing
    /// verified. No attachment: an empty list.
    pub async fn list(&self, digest: &Digest) -> Result<Vec<SigstoreSignature>> {
        let Some(current) = self.current(digest, false).await? else {
            return Ok(Vec::new());
        };
        let total: u64 = current.manifest.layers.iter().map(|l| l.size).sum();
        if total > MAX_TOTAL_BYTES {
            return Err(Error::TooLarge {
                what: format!(
                    "sigstore attachment {}:{} (all layers)",
                    self.name,
                    attachment::attachment_tag(digest)
                ),
                limit: MAX_TOTAL_BYTES,
            });
        }
        let mut out = Vec::with_capacity(current.manifest.layers.len());
        for layer in &current.manifest.layers {
            debug_assert!(layer.size <= MAX_LAYER_BYTES);
            let payload = self.blob(&layer.digest, layer.size).await?;
            let mut sig = SigstoreSignature::new(payload, String::new());
            sig.mime_type = layer.media_type.clone();
            sig.annotations = layer.annotations.clone();
            out.push(sig);
        }
        Ok(out)
    }

    /// Adds `signatures` to the attachment of image `digest` (created when
    /// missing): new ones are appended as layers, identical ones skipped,
    /// the existing ones kept.
    pub async fn add(
        &self,
        digest: &Digest,
        signatures: &[SigstoreSignature],
    ) -> Result<AddOutcome> {
        let tag = attachment::attachment_tag(digest);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.current(digest, true).await?;
            let existing = current.as_ref().map(|c| (&c.manifest, c.config.as_slice()));
            let plan = attachment::plan_append(existing, signatures).map_err(|e| {
                Error::malformed(format!("sigstore attachment {}:{tag}", self.name), e)
            })?;
            let Some(manifest) = plan.manifest else {
                return Ok(AddOutcome {
                    added: 0,
                    already_present: plan.already_present,
                    tag,
                    manifest_digest: current.map(|c| c.digest),
                });
            };
            for blob in plan.blobs {
                self.client
                    .push_blob(
                        &self.registry,
                        &self.repository,
                        &blob.digest,
                        Bytes::from(blob.bytes),
                    )
                    .await?;
            }
            let manifest_digest = self
                .client
                .push_manifest(
                    &self.registry,
                    &self.repository,
                    &tag,
                    OCI_MANIFEST_MEDIA_TYPE,
                    Bytes::from(manifest),
                )
                .await?;
            // Another writer may have replaced the tag meanwhile: check.
            let after = self.manifest(digest).await?;
            let all_there = after.as_ref().is_some_and(|(m, _)| {
                signatures
                    .iter()
                    .all(|s| m.layers.iter().any(|l| l.matches(s)))
            });
            if all_there || attempt >= 3 {
                if !all_there {
                    return Err(Error::Aborted(format!(
                        "sigstore attachment {}:{tag} was rewritten concurrently three times; signatures not stored",
                        self.name
                    )));
                }
                return Ok(AddOutcome {
                    added: plan.added,
                    already_present: plan.already_present,
                    tag,
                    manifest_digest: after.map(|(_, d)| d).or(Some(manifest_digest)),
                });
            }
        }
    }
}
