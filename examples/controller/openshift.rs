//! OpenShift's image API (`image.openshift.io/v1`) in the controller.
//!
//! `IMPRIMATUR_OPENSHIFT` switches it: `auto` (the default) asks the API
//! server's discovery whether `image.openshift.io/v1` is served, `on`
//! requires it, `off` never uses it. With it:
//!
//! - `imageStreamTag: NAME:TAG` requests (both kinds) resolve through the
//!   API (`imagestreamtags`, or `imagestreamimages` for a pinned digest) to
//!   the image's digest and `dockerImageReference`; the image is pulled by
//!   that digest, signed as `REGISTRY/NAMESPACE/NAME:TAG` (see
//!   `imprimatur::service::image_streams`);
//! - their signatures are created as `ImageSignature`s
//!   ([`OpenShiftStore`]) unless `spec.store` or a `registries.d` section
//!   for that registry names another store;
//! - opted-in image streams are signed on push (`autosign.rs`).
//!
//! Without it, an `imageStreamTag` request fails saying it needs a cluster
//! with the image API.

use std::sync::Arc;

use imprimatur::reference::Digest;
use imprimatur::registry::openshift::{
    OpenShiftError, OpenShiftImages, OpenShiftStore, ResolvedImageStreamTag,
};
use imprimatur::registry::store::{BoxFuture, SignatureStore};
use imprimatur::service::image_streams::{ImageStreamError, ImageStreams, StreamImage};
use kube::Client;

/// The group and version of the image API.
pub(crate) const IMAGE_API: &str = "image.openshift.io/v1";

/// `IMPRIMATUR_OPENSHIFT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Use the image API when discovery finds it.
    Auto,
    /// Use it; fail at start when it is not served.
    On,
    /// Never use it.
    Off,
}

impl Mode {
    /// The mode `IMPRIMATUR_OPENSHIFT` names (unset: `auto`).
    pub(crate) fn parse(value: Option<&str>) -> anyhow::Result<Mode> {
        match value.unwrap_or("auto") {
            "auto" => Ok(Mode::Auto),
            "on" => Ok(Mode::On),
            "off" => Ok(Mode::Off),
            other => anyhow::bail!("IMPRIMATUR_OPENSHIFT={other:?}: expected auto, on or off"),
        }
    }
}

/// Whether to use the image API: `auto` asks discovery
/// (`GET /apis/image.openshift.io/v1`); `on` fails when it is not served.
pub(crate) async fn enabled(client: &Client, mode: Mode) -> anyhow::Result<bool> {
    if mode == Mode::Off {
        return Ok(false);
    }
    let served = match client.list_api_group_resources(IMAGE_API).await {
        Ok(list) => list.resources.iter().any(|r| r.name == "imagestreamtags"),
        Err(kube::Error::Api(s)) if s.code == 404 => false,
        Err(e) if mode == Mode::Auto => {
            anyhow::bail!("discovering {IMAGE_API} (IMPRIMATUR_OPENSHIFT=auto): {e}")
        }
        Err(e) => return Err(e.into()),
    };
    if mode == Mode::On && !served {
        anyhow::bail!("IMPRIMATUR_OPENSHIFT=on but the API server does not serve {IMAGE_API}");
    }
    Ok(served)
}

/// [`ImageStreams`] over the cluster's image API, with the controller's
/// credentials (`deploy/openshift/image-signer.yaml`).
#[derive(Debug, Clone)]
pub(crate) struct ClusterImageStreams {
    images: OpenShiftImages,
}

impl ClusterImageStreams {
    pub(crate) fn new(client: Client) -> Self {
        ClusterImageStreams {
            images: OpenShiftImages::new(client),
        }
    }
}

/// The pipeline's error for an API error; `missing` is what a 404 means.
fn stream_error(e: OpenShiftError, missing: ImageStreamError) -> ImageStreamError {
    let transient = match &e {
        OpenShiftError::NotFound { .. } => return missing,
        OpenShiftError::Connection { .. } => true,
        OpenShiftError::Api { code, .. } => *code == 429 || *code >= 500,
        _ => false,
    };
    ImageStreamError::Unavailable {
        message: e.to_string(),
        transient,
    }
}

fn stream_image(r: ResolvedImageStreamTag) -> StreamImage {
    StreamImage::new(r.digest, r.docker_image_reference)
}

impl ImageStreams for ClusterImageStreams {
    fn resolve_tag<'a>(
        &'a self,
        namespace: &'a str,
        stream: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<StreamImage, ImageStreamError>> {
        Box::pin(async move {
            self.images
                .resolve_tag(namespace, stream, tag)
                .await
                .map(stream_image)
                .map_err(|e| {
                    let missing = ImageStreamError::TagNotFound {
                        tag: format!("{stream}:{tag}"),
                        namespace: namespace.to_owned(),
                    };
                    stream_error(e, missing)
                })
        })
    }

    fn resolve_image<'a>(
        &'a self,
        namespace: &'a str,
        stream: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<StreamImage, ImageStreamError>> {
        Box::pin(async move {
            self.images
                .resolve_image(namespace, stream, digest)
                .await
                .map(stream_image)
                .map_err(|e| {
                    let missing = ImageStreamError::ImageNotFound {
                        image: format!("{stream}@{digest}"),
                        namespace: namespace.to_owned(),
                    };
                    stream_error(e, missing)
                })
        })
    }

    fn signature_store(&self, namespace: &str, stream: &str) -> Option<Arc<dyn SignatureStore>> {
        Some(Arc::new(OpenShiftStore::new(
            self.images.clone(),
            namespace,
            stream,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn the_mode_is_auto_on_or_off() {
        assert_eq!(Mode::parse(None).unwrap(), Mode::Auto);
        assert_eq!(Mode::parse(Some("on")).unwrap(), Mode::On);
        assert_eq!(Mode::parse(Some("off")).unwrap(), Mode::Off);
        assert!(Mode::parse(Some("yes")).is_err());
    }
}
