//! Image streams (OpenShift's `image.openshift.io/v1`), as the pipeline sees
//! them: a pluggable [`ImageStreams`] resolves an `imageStreamTag` request's
//! `NAME:TAG` (in the request's namespace) to the image's digest and pull
//! reference, and may offer the store the stream's signatures go to (the
//! image signature API).
//!
//! The pipeline knows no Kubernetes client: the controller supplies an
//! implementation over the cluster's API (`imprimatur-registry`'s
//! `OpenShiftImages`, feature `openshift`), a test a fixed one. Without one,
//! the pipeline falls back to [`crate::Pipeline::image_stream_registry`]
//! (pull `HOST/NAMESPACE/STREAM:TAG` from a registry; no cluster needed).
//!
//! **The signing identity** of an image-stream image is its
//! `dockerImageReference`'s repository with the request's tag
//! (`REGISTRY/NAMESPACE/STREAM:TAG`), as the predecessor's `atomic push`
//! signed it. The image is pulled by digest (`REGISTRY/NAMESPACE/STREAM@DIGEST`),
//! so the signed digest is the resolved one, and skopeo's default
//! `matchRepoDigestOrExact` accepts the signature both for a pull by that
//! tag and for a pull by digest from the registry the reference names (the
//! integrated registry's service name, which nodes pull through). A request's
//! `spec.identity` overrides it (another route to the same registry).
//!
//! **Pinned digests**: a request annotated [`PINNED_DIGEST_ANNOTATION`]
//! (`sha256:…`, set by the controller's signing on push) is signed at that
//! digest, looked up in the stream's history (`imagestreamimages`), whatever
//! the tag points to when the request runs: a tag moved again meanwhile gets
//! its own request, and nothing is signed that was not pushed under the tag.
//!
//! An implementation that knows one image (a test's, or a site's own
//! catalogue):
//!
//! ```
//! use std::sync::Arc;
//! use imprimatur_reference::Digest;
//! use imprimatur_registry::store::{BoxFuture, SignatureStore};
//! use imprimatur_service::Pipeline;
//! use imprimatur_service::image_streams::{ImageStreamError, ImageStreams, StreamImage};
//!
//! #[derive(Debug)]
//! struct OneImage(StreamImage);
//!
//! impl ImageStreams for OneImage {
//!     fn resolve_tag<'a>(&'a self, namespace: &'a str, stream: &'a str, tag: &'a str)
//!         -> BoxFuture<'a, Result<StreamImage, ImageStreamError>> {
//!         Box::pin(async move {
//!             match (namespace, stream, tag) {
//!                 ("team", "app", "v1") => Ok(self.0.clone()),
//!                 _ => Err(ImageStreamError::TagNotFound {
//!                     tag: format!("{stream}:{tag}"),
//!                     namespace: namespace.to_owned(),
//!                 }),
//!             }
//!         })
//!     }
//!     fn resolve_image<'a>(&'a self, namespace: &'a str, stream: &'a str, digest: &'a Digest)
//!         -> BoxFuture<'a, Result<StreamImage, ImageStreamError>> {
//!         Box::pin(async move {
//!             if *digest == self.0.digest { return Ok(self.0.clone()); }
//!             Err(ImageStreamError::ImageNotFound {
//!                 image: format!("{stream}@{digest}"),
//!                 namespace: namespace.to_owned(),
//!             })
//!         })
//!     }
//!     /// No store of its own: signatures go where registries.d says.
//!     fn signature_store(&self, _: &str, _: &str) -> Option<Arc<dyn SignatureStore>> {
//!         None
//!     }
//! }
//!
//! let digest = Digest::sha256_of(b"{}");
//! let image = StreamImage::new(digest.clone(), format!("registry.example/team/app@{digest}"));
//! let client = imprimatur_registry::RegistryClient::builder().build().unwrap();
//! // `imageStreamTag: app:v1` requests in `team` now pull
//! // registry.example/team/app@sha256:… and sign it as registry.example/team/app:v1.
//! let pipeline = Pipeline::new(client).image_streams(Arc::new(OneImage(image)));
//! # let _ = pipeline;
//! ```

use std::fmt;
use std::sync::Arc;

use imprimatur_reference::Digest;
use imprimatur_registry::store::{BoxFuture, SignatureStore};

/// The annotation pinning a signing request on an image stream tag to one
/// digest (see the module docs).
pub const PINNED_DIGEST_ANNOTATION: &str = "imprimatur.io/image-digest";

/// An image of an image stream, as the image API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamImage {
    /// The image's manifest digest (the Image object's name).
    pub digest: Digest,
    /// Where it is pulled from: `REGISTRY/NAMESPACE/STREAM@DIGEST`.
    pub docker_image_reference: String,
}

impl StreamImage {
    /// An image at `digest`, pulled from `docker_image_reference`.
    pub fn new(digest: Digest, docker_image_reference: impl Into<String>) -> Self {
        StreamImage {
            digest,
            docker_image_reference: docker_image_reference.into(),
        }
    }
}

/// Why an image stream lookup failed. The messages of a missing tag follow
/// the predecessor's (`ImageStreamTag %s Not Found in Namespace %s`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageStreamError {
    /// The tag (or the stream) does not exist.
    #[error("ImageStreamTag {tag} Not Found in Namespace {namespace}")]
    TagNotFound {
        /// `STREAM:TAG`.
        tag: String,
        /// The namespace.
        namespace: String,
    },
    /// The pinned image is not in the stream.
    #[error("Image {image} Not Found in Namespace {namespace}")]
    ImageNotFound {
        /// `STREAM@DIGEST`.
        image: String,
        /// The namespace.
        namespace: String,
    },
    /// Anything else (forbidden, malformed, unreachable).
    #[error("Error retrieving ImageStreamTag: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
        /// Whether it may pass by itself (the API server unreachable).
        transient: bool,
    },
}

/// Resolves image stream tags and publishes their signatures (see the
/// module docs). Implementations must be cheap to call concurrently.
pub trait ImageStreams: Send + Sync + fmt::Debug {
    /// The image `namespace/stream:tag` points to now.
    fn resolve_tag<'a>(
        &'a self,
        namespace: &'a str,
        stream: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<StreamImage, ImageStreamError>>;

    /// The image `digest` of `namespace/stream` (in the stream's history).
    fn resolve_image<'a>(
        &'a self,
        namespace: &'a str,
        stream: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<StreamImage, ImageStreamError>>;

    /// The store of `namespace/stream`'s signatures (OpenShift's image
    /// signature API), or `None` to publish where `registries.d` says.
    fn signature_store(&self, namespace: &str, stream: &str) -> Option<Arc<dyn SignatureStore>>;
}
