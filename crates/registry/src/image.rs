//! Manifests, indexes and image configurations: just the fields Imprimatur
//! reads, parsed tolerantly (unknown fields ignored) but checked where it
//! matters (digests through `imprimatur-reference`, sizes, media types).
//!
//! Docker schema 2 and OCI documents share a shape, so one set of types
//! serves both; schema 1 manifests are recognised (their digest is computed
//! without the JWS signature, as containers/image does) but cannot be
//! unpacked.

use std::collections::BTreeMap;

use imprimatur_reference::Digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 manifest, signed.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker schema 1 manifest.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";

/// A content descriptor: what a manifest says about a blob or a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// For index entries: the platform of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name` in a layout's index).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An operating system and architecture an image is built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, ... (Go's names).
    pub architecture: String,
    /// `linux`, `windows`, ...
    pub os: String,
    /// `v7`, `v8`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this process, in Go's names (`linux/amd64`).
    pub fn current() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            other => other,
        };
        Platform {
            architecture: architecture.to_owned(),
            os: std::env::consts::OS.to_owned(),
            variant: None,
        }
    }

    /// Whether an index entry's platform is this one (a variant we do not
    /// ask for matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Platform {
    type Err = Error;

    /// `OS/ARCH[/VARIANT]`, as `--platform` takes it.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: parts.get(2).map(|v| (*v).to_owned()),
            }),
            _ => Err(Error::malformed(
                format!("platform {s:?}"),
                "expected OS/ARCH[/VARIANT], e.g. linux/amd64",
            )),
        }
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The media type the document declares (may be absent in OCI).
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image configuration blob.
    pub config: Descriptor,
    /// The layers, lowest first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An image index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The media type the document declares.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The images (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// The fields of an image configuration that `inspect` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    /// When the image was built (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
    /// `amd64`, ...
    #[serde(default)]
    pub architecture: String,
    /// `linux`, ...
    #[serde(default)]
    pub os: String,
    /// `v8`, ...
    #[serde(default)]
    pub variant: Option<String>,
    /// The runtime configuration.
    #[serde(default)]
    pub config: Option<RuntimeConfig>,
    /// The uncompressed layer digests.
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

/// The runtime part of an image configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Environment.
    #[serde(default)]
    pub env: Option<Vec<String>>,
}

/// The layer chain of an image configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The digests of the uncompressed layers.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// What a manifest document is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestKind {
    /// One image.
    Image(Manifest),
    /// Several images, one per platform.
    Index(Index),
    /// A Docker schema 1 manifest (read-only: digest and signatures).
    Schema1,
}

/// Parses a manifest document of the given media type.
pub fn parse_manifest(bytes: &[u8], media_type: &str, what: &str) -> Result<ManifestKind> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let m: Manifest =
                serde_json::from_slice(bytes).map_err(|e| Error::malformed(what, e))?;
            if m.schema_version != 2 {
                return Err(Error::malformed(
                    what,
                    format!("schemaVersion {} (expected 2)", m.schema_version),
                ));
            }
            Ok(ManifestKind::Image(m))
        }
        OCI_INDEX | DOCKER_LIST => {
            let i: Index = serde_json::from_slice(bytes).map_err(|e| Error::malformed(what, e))?;
            if i.schema_version != 2 {
                return Err(Error::malformed(
                    what,
                    format!("schemaVersion {} (expected 2)", i.schema_version),
                ));
            }
            Ok(ManifestKind::Index(i))
        }
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Ok(ManifestKind::Schema1),
        other => Err(Error::UnsupportedMediaType {
            what: what.to_owned(),
            media_type: other.to_owned(),
        }),
    }
}

/// The media type of a manifest: the one the server declared, else the
/// document's own `mediaType`, else what its shape says (containers/image's
/// `GuessMIMEType`).
pub fn media_type_of(bytes: &[u8], declared: Option<&str>) -> String {
    if let Some(d) = declared.filter(|d| {
        !d.is_empty()
            && *d != "application/json"
            && *d != "text/plain"
            && *d != "application/octet-stream"
    }) {
        return d.to_owned();
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
        #[serde(default)]
        signatures: Option<serde_json::Value>,
        #[serde(default)]
        config: Option<serde_json::Value>,
    }
    let Ok(p) = serde_json::from_slice::<Probe>(bytes) else {
        return String::new();
    };
    if let Some(mt) = p.media_type {
        return mt;
    }
    match (p.schema_version, p.manifests.is_some(), p.config.is_some()) {
        (Some(1), _, _) if p.signatures.is_some() => DOCKER_SCHEMA1_SIGNED.into(),
        (Some(1), _, _) => DOCKER_SCHEMA1.into(),
        (_, true, _) => OCI_INDEX.into(),
        (_, _, true) => OCI_MANIFEST.into(),
        _ => String::new(),
    }
}

/// The digest of a manifest as containers/image computes it (schema 1 JWS
/// signatures stripped).
pub fn manifest_digest(bytes: &[u8], what: &str) -> Result<Digest> {
    imprimatur_signature::manifest_digest(bytes).map_err(|e| Error::malformed(what, e))
}

/// Checks that `bytes` hash to `expected` (for manifests, as containers/image
/// does: the digest of the bytes, schema 1 signatures stripped).
pub fn verify_digest(what: &str, expected: &Digest, bytes: &[u8]) -> Result<()> {
    if expected.matches(bytes) {
        return Ok(());
    }
    let actual = manifest_digest(bytes, what)?;
    if &actual == expected {
        return Ok(());
    }
    Err(Error::DigestMismatch {
        what: what.to_owned(),
        expected: expected.clone(),
        actual,
    })
}

/// Chooses the entry of an index for `platform`: the first one that matches,
/// as containers/image does.
pub fn select_platform<'a>(index: &'a Index, platform: &Platform) -> Result<&'a Descriptor> {
    index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .ok_or_else(|| Error::NoMatchingPlatform {
            wanted: platform.to_string(),
            available: index
                .manifests
                .iter()
                .map(|d| {
                    d.platform
                        .as_ref()
                        .map_or_else(|| "unknown".to_owned(), Platform::to_string)
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    fn index(platforms: &[&str]) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: platforms
                .iter()
                .map(|p| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: Digest::parse(D).unwrap(),
                    size: 1,
                    platform: Some(p.parse().unwrap()),
                    annotations: BTreeMap::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn platform_selection() {
        let i = index(&["linux/arm/v7", "linux/arm64/v8", "linux/amd64"]);
        let want: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(
            select_platform(&i, &want)
                .unwrap()
                .platform
                .as_ref()
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        let e = select_platform(&i, &"linux/s390x".parse().unwrap()).unwrap_err();
        assert!(matches!(e, Error::NoMatchingPlatform { .. }));
        assert!(
            e.to_string()
                .contains("linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{e}"
        );
        assert!("linux".parse::<Platform>().is_err());
    }

    #[test]
    fn media_types_are_guessed_like_containers_image() {
        assert_eq!(
            media_type_of(br#"{"schemaVersion":2,"manifests":[]}"#, None),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(
                br#"{"schemaVersion":2,"config":{}}"#,
                Some("application/json")
            ),
            OCI_MANIFEST
        );
        assert_eq!(
            media_type_of(br#"{"schemaVersion":1,"signatures":[]}"#, None),
            DOCKER_SCHEMA1_SIGNED
        );
        assert_eq!(media_type_of(b"{}", Some(DOCKER_MANIFEST)), DOCKER_MANIFEST);
        assert_eq!(media_type_of(b"garbage", None), "");
    }

    #[test]
    fn manifests_parse_and_bad_ones_are_named() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"x","digest":"{D}","size":3}},"layers":[{{"mediaType":"l","digest":"{D}","size":5}}]}}"#
        );
        let ManifestKind::Image(parsed) =
            parse_manifest(m.as_bytes(), DOCKER_MANIFEST, "m").unwrap()
        else {
            panic!("not an image")
        };
        assert_eq!(parsed.layers[0].size, 5);
        let e = parse_manifest(
            br#"{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1}}"#,
            OCI_MANIFEST,
            "the manifest",
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::Malformed { .. }) && e.to_string().starts_with("the manifest"),
            "{e}"
        );
        assert!(matches!(
            parse_manifest(b"{}", "text/html", "m"),
            Err(Error::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn digest_verification() {
        let bytes = b"{\"a\":1}";
        let good = Digest::sha256_of(bytes);
        verify_digest("x", &good, bytes).unwrap();
        let e = verify_digest("x", &Digest::parse(D).unwrap(), bytes).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }));
    }
}
