//! Reading an image where it lives, whatever the transport: resolve the
//! reference once to a digest and the exact manifest bytes, then fetch
//! everything else by digest, checked.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use imprimatur_reference::{Digest, Reference};
use tokio::io::AsyncReadExt as _;

use crate::docker::{MAX_MANIFEST_SIZE, RegistryClient};
use crate::error::{Error, Result};
use crate::image::{self, Descriptor, ImageConfig, Index, ManifestKind};
use crate::transport::ImageReference;

/// Largest image configuration read (containers/image's limit).
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;
/// Largest `index.json` of an OCI layout read.
const MAX_LAYOUT_INDEX: u64 = 4 << 20;

/// An image reference resolved: from here on the image is addressed by
/// `digest` only, so a tag that moves meanwhile changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The digest of the manifest the reference points to (an index's digest
    /// for a multi-platform image: what skopeo signs and verifies).
    pub digest: Digest,
    /// The manifest's exact bytes (they hash to `digest`).
    pub manifest: Bytes,
    /// The manifest's media type.
    pub media_type: String,
}

impl ResolvedImage {
    /// The parsed manifest.
    pub fn kind(&self) -> Result<ManifestKind> {
        image::parse_manifest(
            &self.manifest,
            &self.media_type,
            &format!("manifest {}", self.digest),
        )
    }
}

/// Where an image's bytes come from.
#[derive(Debug, Clone)]
pub struct ImageSource {
    reference: ImageReference,
    kind: SourceKind,
}

#[derive(Debug, Clone)]
enum SourceKind {
    Docker {
        client: RegistryClient,
        /// The registry's API host (`registry-1.docker.io` for docker.io).
        registry: String,
        reference: Reference,
    },
    Layout {
        dir: PathBuf,
        tag: Option<String>,
    },
    Dir {
        path: PathBuf,
    },
}

impl ImageSource {
    /// A source for `reference`; `client` serves `docker://` references.
    pub fn new(reference: &ImageReference, client: &RegistryClient) -> Self {
        let kind = match reference {
            ImageReference::Docker(r) => SourceKind::Docker {
                client: client.clone(),
                registry: api_host(r.domain()).to_owned(),
                reference: r.clone(),
            },
            ImageReference::OciLayout { dir, tag } => SourceKind::Layout {
                dir: dir.clone(),
                tag: tag.clone(),
            },
            ImageReference::Dir(path) => SourceKind::Dir { path: path.clone() },
        };
        ImageSource {
            reference: reference.clone(),
            kind,
        }
    }

    /// The reference this source reads.
    pub fn reference(&self) -> &ImageReference {
        &self.reference
    }

    /// Resolves the reference: one request (or file read) for the manifest,
    /// whose digest is computed from, or checked against, its bytes.
    pub async fn resolve(&self) -> Result<ResolvedImage> {
        match &self.kind {
            SourceKind::Docker {
                client,
                registry,
                reference,
            } => {
                let wanted = match (reference.digest(), reference.tag()) {
                    (Some(d), _) => d.to_string(),
                    (None, Some(t)) => t.to_owned(),
                    (None, None) => "latest".to_owned(),
                };
                let (manifest, media_type, digest) =
                    client.manifest(registry, reference.path(), &wanted).await?;
                Ok(ResolvedImage {
                    digest,
                    manifest,
                    media_type,
                })
            }
            SourceKind::Layout { dir, tag } => {
                let descriptor = layout_descriptor(dir, tag.as_deref()).await?;
                let manifest = self.manifest(&descriptor).await?;
                Ok(manifest)
            }
            SourceKind::Dir { path } => {
                let file = path.join("manifest.json");
                let manifest = read_limited(&file, MAX_MANIFEST_SIZE).await?;
                let what = file.display().to_string();
                let digest = image::manifest_digest(&manifest, &what)?;
                let media_type = image::media_type_of(&manifest, None);
                Ok(ResolvedImage {
                    digest,
                    manifest,
                    media_type,
                })
            }
        }
    }

    /// Fetches the manifest a descriptor points to (an index entry), checked
    /// against its digest.
    pub async fn manifest(&self, descriptor: &Descriptor) -> Result<ResolvedImage> {
        match &self.kind {
            SourceKind::Docker {
                client,
                registry,
                reference,
            } => {
                let (manifest, media_type, digest) = client
                    .manifest(registry, reference.path(), descriptor.digest.as_str())
                    .await?;
                Ok(ResolvedImage {
                    digest,
                    manifest,
                    media_type: if descriptor.media_type.is_empty() {
                        media_type
                    } else {
                        descriptor.media_type.clone()
                    },
                })
            }
            SourceKind::Layout { .. } | SourceKind::Dir { .. } => {
                let path = self.blob_path(&descriptor.digest)?;
                let manifest = read_limited(&path, MAX_MANIFEST_SIZE).await?;
                let what = path.display().to_string();
                image::verify_digest(&what, &descriptor.digest, &manifest)?;
                let media_type = if descriptor.media_type.is_empty() {
                    image::media_type_of(&manifest, None)
                } else {
                    descriptor.media_type.clone()
                };
                Ok(ResolvedImage {
                    digest: descriptor.digest.clone(),
                    manifest,
                    media_type,
                })
            }
        }
    }

    /// The image manifest for `platform`: the resolved manifest itself, or
    /// the index entry for the platform.
    pub async fn image_manifest(
        &self,
        resolved: &ResolvedImage,
        platform: &image::Platform,
    ) -> Result<(ResolvedImage, image::Manifest)> {
        let mut current = resolved.clone();
        // An index may point to an index; a few levels are plenty.
        for _ in 0..4 {
            match current.kind()? {
                ManifestKind::Image(m) => return Ok((current, m)),
                ManifestKind::Index(index) => {
                    let entry = select_entry(&index, platform)?;
                    current = self.manifest(&entry).await?;
                }
                ManifestKind::Schema1 => {
                    return Err(Error::UnsupportedMediaType {
                        what: format!(
                            "manifest {} (Docker schema 1 cannot be unpacked or inspected)",
                            current.digest
                        ),
                        media_type: current.media_type,
                    });
                }
            }
        }
        Err(Error::malformed(
            format!("manifest {}", resolved.digest),
            "indexes nested too deeply",
        ))
    }

    /// Reads an image configuration blob, checked and bounded.
    pub async fn config(&self, descriptor: &Descriptor) -> Result<ImageConfig> {
        if descriptor.size > MAX_CONFIG_SIZE {
            return Err(Error::TooLarge {
                what: format!("image configuration {}", descriptor.digest),
                limit: MAX_CONFIG_SIZE,
            });
        }
        let mut bytes = Vec::new();
        self.blob(descriptor, |chunk| {
            bytes.extend_from_slice(&chunk);
            std::future::ready(Ok(()))
        })
        .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::malformed(format!("image configuration {}", descriptor.digest), e))
    }

    /// Streams a blob into `sink`, checking its size and digest. On an error
    /// after some bytes were delivered the caller must discard them.
    pub async fn blob<Fut>(
        &self,
        descriptor: &Descriptor,
        sink: impl FnMut(Bytes) -> Fut,
    ) -> Result<u64>
    where
        Fut: std::future::Future<Output = Result<()>>,
    {
        match &self.kind {
            SourceKind::Docker {
                client,
                registry,
                reference,
            } => {
                client
                    .blob(
                        registry,
                        reference.path(),
                        &descriptor.digest,
                        Some(descriptor.size),
                        sink,
                    )
                    .await
            }
            _ => {
                let path = self.blob_path(&descriptor.digest)?;
                stream_file(&path, descriptor, sink).await
            }
        }
    }

    fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        match &self.kind {
            SourceKind::Layout { dir, .. } => Ok(dir
                .join("blobs")
                .join(digest.algorithm().as_str())
                .join(digest.hex())),
            SourceKind::Dir { path } => Ok(path.join(digest.hex())),
            SourceKind::Docker { .. } => Err(Error::Aborted("no blob path for a registry".into())),
        }
    }
}

/// The API endpoint of a registry domain: docker.io is served by
/// registry-1.docker.io, as containers/image knows.
fn api_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// The index entry for a platform, or the only entry when it carries no
/// platform at all (some layouts).
fn select_entry(index: &Index, platform: &image::Platform) -> Result<Descriptor> {
    if let [only] = index.manifests.as_slice()
        && only.platform.is_none()
    {
        return Ok(only.clone());
    }
    image::select_platform(index, platform).cloned()
}

/// Finds the manifest descriptor of `tag` in an OCI layout's `index.json`.
async fn layout_descriptor(dir: &Path, tag: Option<&str>) -> Result<Descriptor> {
    let layout_err = |message: String| Error::Layout {
        path: dir.to_owned(),
        message,
    };
    let index_path = dir.join("index.json");
    let bytes = read_limited(&index_path, MAX_LAYOUT_INDEX).await?;
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| Error::malformed(index_path.display().to_string(), e))?;
    match tag {
        Some(tag) => index
            .manifests
            .iter()
            .find(|d| {
                d.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(tag)
            })
            .cloned()
            .ok_or_else(|| {
                let tags: Vec<&str> = index
                    .manifests
                    .iter()
                    .filter_map(|d| {
                        d.annotations
                            .get("org.opencontainers.image.ref.name")
                            .map(String::as_str)
                    })
                    .collect();
                layout_err(format!(
                    "no image tagged {tag:?} (tags: {})",
                    if tags.is_empty() {
                        "none".into()
                    } else {
                        tags.join(", ")
                    }
                ))
            }),
        None => match index.manifests.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(layout_err("the layout holds no image".into())),
            many => Err(layout_err(format!(
                "the layout holds {} images: name one with oci:DIR:TAG",
                many.len()
            ))),
        },
    }
}

/// Reads a whole file of at most `limit` bytes; reading stops past the limit
/// whatever the file claims to be (FIFOs, /dev/zero).
pub(crate) async fn read_limited(path: &Path, limit: u64) -> Result<Bytes> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io("open", path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            limit,
        });
    }
    Ok(bytes.into())
}

async fn stream_file<Fut>(
    path: &Path,
    descriptor: &Descriptor,
    mut sink: impl FnMut(Bytes) -> Fut,
) -> Result<u64>
where
    Fut: std::future::Future<Output = Result<()>>,
{
    let what = path.display().to_string();
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io("open", path, e))?;
    let mut hasher = crate::digesting::DigestHasher::for_digest(&descriptor.digest);
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > descriptor.size {
            return Err(Error::TooLarge {
                what: format!("{what}: blob larger than its descriptor"),
                limit: descriptor.size,
            });
        }
        hasher.update(&buf[..n]);
        sink(Bytes::copy_from_slice(&buf[..n])).await?;
    }
    if total != descriptor.size {
        return Err(Error::malformed(
            what,
            format!("{total} bytes, the descriptor says {}", descriptor.size),
        ));
    }
    let actual = hasher.finish();
    if actual != descriptor.digest {
        return Err(Error::DigestMismatch {
            what,
            expected: descriptor.digest.clone(),
            actual,
        });
    }
    Ok(total)
}
