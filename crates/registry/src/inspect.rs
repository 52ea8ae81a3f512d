//! What `imprimatur inspect` shows of an image: the digest it resolves to,
//! its platform(s), layers and labels, with `skopeo inspect`'s field names
//! where the two overlap so scripts can switch.

use std::collections::BTreeMap;

use imprimatur_reference::Digest;
use serde::Serialize;

use crate::error::Result;
use crate::image::{ManifestKind, Platform};
use crate::source::{ImageSource, ResolvedImage};
use crate::transport::ImageReference;

/// An image, described. Serialized with `skopeo inspect`'s names (`Name`,
/// `Digest`, `Created`, `Labels`, `Architecture`, `Os`, `Layers`) plus
/// Imprimatur's own (`MediaType`, `ImageDigest`, `Platforms`, `LayersData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ImageInfo {
    /// The repository without tag or digest, for `docker://` images (as
    /// skopeo prints it); empty for local layouts.
    pub name: String,
    /// The digest the reference resolves to: what is signed and verified
    /// (the index's digest for a multi-platform image).
    pub digest: Digest,
    /// The media type of that manifest.
    pub media_type: String,
    /// The digest of the platform image described below (the same as
    /// `Digest` unless the reference points to an index).
    pub image_digest: Digest,
    /// The platforms an index offers (empty for a single image).
    pub platforms: Vec<String>,
    /// When the image was built.
    pub created: Option<String>,
    /// Labels of the image configuration.
    pub labels: BTreeMap<String, String>,
    /// The image's architecture.
    pub architecture: String,
    /// The image's operating system.
    pub os: String,
    /// The architecture variant, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The layers' digests, lowest first.
    pub layers: Vec<Digest>,
    /// The layers with media type and size.
    pub layers_data: Vec<LayerData>,
    /// The environment of the image configuration.
    pub env: Vec<String>,
}

/// One layer, as skopeo's `LayersData` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerData {
    /// The layer's media type.
    #[serde(rename = "MIMEType")]
    pub mime_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its compressed size.
    pub size: u64,
}

/// Resolves and describes an image: the manifest, the platform image
/// (chosen by `platform` in an index) and its configuration.
pub async fn inspect(
    source: &ImageSource,
    platform: &Platform,
) -> Result<(ResolvedImage, ImageInfo)> {
    let resolved = source.resolve().await?;
    let platforms = match resolved.kind()? {
        ManifestKind::Index(index) => index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let (image, manifest) = source.image_manifest(&resolved, platform).await?;
    let config = source.config(&manifest.config).await?;
    let runtime = config.config.unwrap_or_default();
    let name = match source.reference() {
        ImageReference::Docker(r) => r.name(),
        _ => String::new(),
    };
    let info = ImageInfo {
        name,
        digest: resolved.digest.clone(),
        media_type: resolved.media_type.clone(),
        image_digest: image.digest,
        platforms,
        created: config.created,
        labels: runtime.labels.unwrap_or_default(),
        architecture: config.architecture,
        os: config.os,
        variant: config.variant,
        layers: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
        layers_data: manifest
            .layers
            .iter()
            .map(|l| LayerData {
                mime_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
            })
            .collect(),
        env: runtime.env.unwrap_or_default(),
    };
    Ok((resolved, info))
}
