//! OpenShift image streams and image signatures (`image.openshift.io/v1`),
//! through a `kube` client (feature `openshift`):
//!
//! - resolve an `ImageStreamTag` (`namespace/stream:tag`) to the image's
//!   digest and `dockerImageReference`
//!   (`GET /apis/image.openshift.io/v1/namespaces/NS/imagestreamtags/STREAM:TAG`);
//! - list an image's signatures
//!   (`GET …/namespaces/NS/imagestreamimages/STREAM@DIGEST` → `.image.signatures`);
//! - create an `ImageSignature` (`POST /apis/image.openshift.io/v1/imagesignatures`,
//!   cluster-scoped, named `DIGEST@<32 hex>`, `type: atomic`, `content` base64),
//!   as `atomic push` and containers/image's `atomic:` transport do. Creating
//!   needs the `system:image-signer` permissions (get images and image
//!   streams, create image signatures).
//!
//! [`OpenShiftStore`] makes the API a [`SignatureStore`]: an identical
//! signature already on the image is not created again, and a 409 on create
//! (the name taken) is retried with a new name.

use std::fmt;

use base64::Engine as _;
use imprimatur_reference::Digest;
use serde::Deserialize;

use crate::store::{Added, BoxFuture, SignatureStore, StoreError, StoredSignature};

const API: &str = "/apis/image.openshift.io/v1";
/// Largest image stream object read (images can carry many signatures).
const MAX_SIGNATURES_PER_IMAGE: usize = crate::store::MAX_SIGNATURES;

/// Errors of the OpenShift image API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenShiftError {
    /// The object does not exist (404).
    #[error("{what} not found")]
    NotFound {
        /// `imagestreamtag team/app:1`, ….
        what: String,
    },
    /// The caller may not do this (403): the message names the missing permission.
    #[error("{what}: forbidden: {message}")]
    Forbidden {
        /// The request.
        what: String,
        /// The API server's message.
        message: String,
    },
    /// Another status from the API server.
    #[error("{what}: HTTP {code} {reason}: {message}")]
    Api {
        /// The request.
        what: String,
        /// HTTP status.
        code: u16,
        /// The Status reason (`AlreadyExists`, `Invalid`, …).
        reason: String,
        /// The API server's message.
        message: String,
    },
    /// The response is not what the API returns.
    #[error("{what}: {message}")]
    Malformed {
        /// The request.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// The request did not get an answer.
    #[error("{what}: {message}")]
    Connection {
        /// The request.
        what: String,
        /// The cause.
        message: String,
    },
}

/// What an `ImageStreamTag` points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImageStreamTag {
    /// The image's manifest digest (the Image object's name).
    pub digest: Digest,
    /// Where it can be pulled: `REGISTRY/NS/STREAM@DIGEST`.
    pub docker_image_reference: String,
}

/// A signature as the Image object lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSignatureInfo {
    /// `DIGEST@NAME`.
    pub name: String,
    /// `atomic` for simple signing (other types are skipped by readers).
    pub kind: String,
    /// The signature blob.
    pub content: Vec<u8>,
}

/// Whether a signature was created or was already there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Created {
    /// Created under this name.
    New(String),
    /// An identical signature was already on the image, under this name.
    Existing(String),
}

/// A client of OpenShift's image API.
#[derive(Clone)]
pub struct OpenShiftImages {
    client: kube::Client,
}

impl fmt::Debug for OpenShiftImages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenShiftImages").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageJson {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    docker_image_reference: String,
    #[serde(default)]
    signatures: Vec<SignatureJson>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct SignatureJson {
    #[serde(default)]
    metadata: Meta,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct WithImage {
    image: ImageJson,
}

impl OpenShiftImages {
    /// A client over `client` (its credentials decide what is allowed).
    pub fn new(client: kube::Client) -> Self {
        OpenShiftImages { client }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        request: http::Request<Vec<u8>>,
    ) -> Result<T, OpenShiftError> {
        self.client
            .request::<T>(request)
            .await
            .map_err(|e| api_error(what, e))
    }

    /// Resolves `namespace/stream:tag` to its image.
    pub async fn resolve_tag(
        &self,
        namespace: &str,
        stream: &str,
        tag: &str,
    ) -> Result<ResolvedImageStreamTag, OpenShiftError> {
        let what = format!("imagestreamtag {namespace}/{stream}:{tag}");
        let uri = format!(
            "{API}/namespaces/{}/imagestreamtags/{}:{}",
            seg(namespace),
            seg(stream),
            seg(tag)
        );
        let ist: WithImage = self.send(&what, get(&uri, &what)?).await?;
        let digest =
            Digest::parse(&ist.image.metadata.name).map_err(|e| OpenShiftError::Malformed {
                what: what.clone(),
                message: format!(
                    "image name {:?} is not a digest: {e}",
                    ist.image.metadata.name
                ),
            })?;
        Ok(ResolvedImageStreamTag {
            digest,
            docker_image_reference: ist.image.docker_image_reference,
        })
    }

    /// The signatures of the image `digest` of `namespace/stream`.
    pub async fn signatures(
        &self,
        namespace: &str,
        stream: &str,
        digest: &Digest,
    ) -> Result<Vec<ImageSignatureInfo>, OpenShiftError> {
        let what = format!("imagestreamimage {namespace}/{stream}@{digest}");
        let uri = format!(
            "{API}/namespaces/{}/imagestreamimages/{}@{}",
            seg(namespace),
            seg(stream),
            digest
        );
        let isi: WithImage = self.send(&what, get(&uri, &what)?).await?;
        if isi.image.signatures.len() > MAX_SIGNATURES_PER_IMAGE {
            return Err(OpenShiftError::Malformed {
                what,
                message: format!(
                    "{} signatures, more than {MAX_SIGNATURES_PER_IMAGE}",
                    isi.image.signatures.len()
                ),
            });
        }
        isi.image
            .signatures
            .into_iter()
            .map(|s| {
                let content = base64::engine::general_purpose::STANDARD
                    .decode(s.content.as_bytes())
                    .map_err(|e| OpenShiftError::Malformed {
                        what: what.clone(),
                        message: format!(
                            "signature {}: content is not base64: {e}",
                            s.metadata.name
                        ),
                    })?;
                Ok(ImageSignatureInfo {
                    name: s.metadata.name,
                    kind: s.kind,
                    content,
                })
            })
            .collect()
    }

    /// Creates an `ImageSignature` for `digest` with a random name; a name
    /// collision (409) is retried with another name.
    pub async fn create_signature(
        &self,
        digest: &Digest,
        content: &[u8],
    ) -> Result<String, OpenShiftError> {
        let mut last = None;
        for _ in 0..3 {
            let name = format!("{digest}@{}", random_hex32());
            let what = format!("imagesignature {name}");
            let body = serde_json::json!({
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageSignature",
                "metadata": {"name": name},
                "type": "atomic",
                "content": base64::engine::general_purpose::STANDARD.encode(content),
            });
            let request = http::Request::post(format!("{API}/imagesignatures"))
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default())
                .map_err(|e| OpenShiftError::Malformed {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
            match self.send::<serde_json::Value>(&what, request).await {
                Ok(_) => return Ok(name),
                Err(OpenShiftError::Api { code: 409, .. }) => last = Some(what),
                Err(e) => return Err(e),
            }
        }
        Err(OpenShiftError::Api {
            what: last.unwrap_or_default(),
            code: 409,
            reason: "AlreadyExists".into(),
            message: "three random names were taken".into(),
        })
    }
}

/// The signatures of one image stream, stored through the OpenShift API.
#[derive(Debug, Clone)]
pub struct OpenShiftStore {
    images: OpenShiftImages,
    namespace: String,
    stream: String,
}

impl OpenShiftStore {
    /// The store of `namespace/stream`'s images.
    pub fn new(
        images: OpenShiftImages,
        namespace: impl Into<String>,
        stream: impl Into<String>,
    ) -> Self {
        OpenShiftStore {
            images,
            namespace: namespace.into(),
            stream: stream.into(),
        }
    }
}

fn store_error(e: OpenShiftError) -> StoreError {
    StoreError::Connection {
        location: "OpenShift image API".to_owned(),
        message: e.to_string(),
    }
}

impl SignatureStore for OpenShiftStore {
    fn describe(&self) -> String {
        format!(
            "OpenShift image signatures of {}/{}",
            self.namespace, self.stream
        )
    }

    fn list<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        Box::pin(async move {
            let sigs = match self
                .images
                .signatures(&self.namespace, &self.stream, digest)
                .await
            {
                Ok(s) => s,
                Err(OpenShiftError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(store_error(e)),
            };
            Ok(sigs
                .into_iter()
                .filter(|s| s.kind == "atomic")
                .map(|s| StoredSignature::new(s.content, s.name))
                .collect())
        })
    }

    fn add<'a>(
        &'a self,
        digest: &'a Digest,
        signature: &'a [u8],
    ) -> BoxFuture<'a, Result<Added, StoreError>> {
        Box::pin(async move {
            if let Some(same) = self
                .list(digest)
                .await?
                .into_iter()
                .find(|s| s.blob == signature)
            {
                return Ok(Added::AlreadyPresent {
                    location: same.location,
                });
            }
            let name = self
                .images
                .create_signature(digest, signature)
                .await
                .map_err(store_error)?;
            Ok(Added::Stored { location: name })
        })
    }
}

fn get(uri: &str, what: &str) -> Result<http::Request<Vec<u8>>, OpenShiftError> {
    http::Request::get(uri)
        .body(Vec::new())
        .map_err(|e| OpenShiftError::Malformed {
            what: what.to_owned(),
            message: e.to_string(),
        })
}

/// A path segment: names in the API are DNS labels and tags; anything that
/// could change the path is percent-encoded.
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn api_error(what: &str, e: kube::Error) -> OpenShiftError {
    match e {
        kube::Error::Api(status) => match status.code {
            404 => OpenShiftError::NotFound {
                what: what.to_owned(),
            },
            403 => OpenShiftError::Forbidden {
                what: what.to_owned(),
                message: status.message.clone(),
            },
            code => OpenShiftError::Api {
                what: what.to_owned(),
                code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
        },
        kube::Error::SerdeError(e) => OpenShiftError::Malformed {
            what: what.to_owned(),
            message: e.to_string(),
        },
        other => OpenShiftError::Connection {
            what: what.to_owned(),
            message: other.to_string(),
        },
    }
}

/// 32 random hex digits, as containers/image names signatures.
fn random_hex32() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Fall back to the clock and a counter: names only need to be unique.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_le_bytes();
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use tower_test::mock;

    type Handle = mock::Handle<Request<kube::client::Body>, Response<kube::client::Body>>;

    fn client() -> (OpenShiftImages, Handle) {
        let (service, handle) =
            mock::pair::<Request<kube::client::Body>, Response<kube::client::Body>>();
        (
            OpenShiftImages::new(kube::Client::new(service, "default")),
            handle,
        )
    }

    const DIGEST: &str = "sha256:8cce872f6bf22d635833132b93fe58d14488db8c6e7916a6e7ce85f6bcc6632d";

    /// openshift-apiserver's answer for an ImageStreamTag (trimmed, real shape).
    fn image_stream_tag() -> serde_json::Value {
        serde_json::json!({
            "kind": "ImageStreamTag", "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": "app:1.0", "namespace": "team", "uid": "5d0c", "resourceVersion": "91", "creationTimestamp": "2026-11-29T08:00:00Z"},
            "tag": {"name": "1.0", "from": {"kind": "DockerImage", "name": "image-registry.openshift-image-registry.svc:5000/team/app:1.0"}, "generation": 2, "importPolicy": {}, "referencePolicy": {"type": "Source"}},
            "generation": 2,
            "lookupPolicy": {"local": false},
            "image": {
                "metadata": {"name": DIGEST, "uid": "b1a2", "resourceVersion": "90", "creationTimestamp": "2026-11-29T08:00:00Z",
                             "annotations": {"image.openshift.io/dockerLayersOrder": "ascending"}},
                "dockerImageReference": format!("image-registry.openshift-image-registry.svc:5000/team/app@{DIGEST}"),
                "dockerImageMetadata": {"kind": "DockerImage", "apiVersion": "image.openshift.io/1.0", "Id": "sha256:0f", "Architecture": "amd64", "Size": 1234},
                "dockerImageMetadataVersion": "1.0",
                "dockerImageLayers": [{"name": "sha256:7f80166bf7be04fdd8167e0ad9da69bb25b25f60e7b578b1929cc77563aae469", "size": 215, "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
                "dockerImageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"
            }
        })
    }

    fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "code": code})
    }

    async fn answer(
        handle: &mut Handle,
        method: &str,
        uri: &str,
        code: u16,
        body: serde_json::Value,
    ) -> Vec<u8> {
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!(request.method().as_str(), method);
        assert_eq!(request.uri().to_string(), uri);
        let sent = http_body_util::BodyExt::collect(request.into_body())
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        send.send_response(
            Response::builder()
                .status(code)
                .body(kube::client::Body::from(
                    serde_json::to_vec(&body).expect("json"),
                ))
                .expect("response"),
        );
        sent
    }

    #[tokio::test]
    async fn resolves_an_image_stream_tag() {
        let (images, mut handle) = client();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                "GET",
                "/apis/image.openshift.io/v1/namespaces/team/imagestreamtags/app:1.0",
                200,
                image_stream_tag(),
            )
            .await;
        });
        let r = images.resolve_tag("team", "app", "1.0").await.unwrap();
        server.await.unwrap();
        assert_eq!(r.digest.as_str(), DIGEST);
        assert!(
            r.docker_image_reference
                .ends_with(&format!("/team/app@{DIGEST}"))
        );
    }

    #[tokio::test]
    async fn missing_and_forbidden_are_typed() {
        let (images, mut handle) = client();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                "GET",
                "/apis/image.openshift.io/v1/namespaces/team/imagestreamtags/app:2.0",
                404,
                status(
                    404,
                    "NotFound",
                    "imagestreamtags.image.openshift.io \"app:2.0\" not found",
                ),
            )
            .await;
            answer(&mut handle, "GET", "/apis/image.openshift.io/v1/namespaces/other/imagestreamtags/app:1.0", 403,
                   status(403, "Forbidden", "imagestreamtags.image.openshift.io \"app:1.0\" is forbidden: User \"system:serviceaccount:imprimatur:controller\" cannot get resource \"imagestreamtags\" in API group \"image.openshift.io\" in the namespace \"other\"")).await;
        });
        let e = images.resolve_tag("team", "app", "2.0").await.unwrap_err();
        assert!(matches!(e, OpenShiftError::NotFound { .. }), "{e}");
        let e = images.resolve_tag("other", "app", "1.0").await.unwrap_err();
        assert!(
            matches!(&e, OpenShiftError::Forbidden { message, .. } if message.contains("cannot get resource")),
            "{e}"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn the_store_lists_atomic_signatures_and_creates_once() {
        let (images, mut handle) = client();
        let store = OpenShiftStore::new(images, "team", "app");
        let digest = Digest::parse(DIGEST).unwrap();
        let existing = b"\xa3\x01existing".to_vec();
        let new_sig = b"\xa3\x01new".to_vec();
        let isi = |sigs: serde_json::Value| {
            serde_json::json!({
                "kind": "ImageStreamImage", "apiVersion": "image.openshift.io/v1",
                "metadata": {"name": format!("app@{DIGEST}"), "namespace": "team"},
                "image": {"metadata": {"name": DIGEST}, "dockerImageReference": "x", "signatures": sigs}
            })
        };
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let sigs = serde_json::json!([
            {"metadata": {"name": format!("{DIGEST}@0123456789abcdef0123456789abcdef")}, "type": "atomic", "content": b64(&existing)},
            {"metadata": {"name": format!("{DIGEST}@ffffffffffffffffffffffffffffffff")}, "type": "other", "content": b64(b"skip")}
        ]);
        let uri =
            format!("/apis/image.openshift.io/v1/namespaces/team/imagestreamimages/app@{DIGEST}");
        let (existing2, new2, sigs2) = (existing.clone(), new_sig.clone(), sigs.clone());
        let server = tokio::spawn(async move {
            // list
            answer(&mut handle, "GET", &uri, 200, isi(sigs2.clone())).await;
            // add(existing): listed, found, nothing created
            answer(&mut handle, "GET", &uri, 200, isi(sigs2.clone())).await;
            // add(new): listed, a name collision (409), then created
            answer(&mut handle, "GET", &uri, 200, isi(sigs2.clone())).await;
            answer(
                &mut handle,
                "POST",
                "/apis/image.openshift.io/v1/imagesignatures",
                409,
                status(
                    409,
                    "AlreadyExists",
                    "imagesignatures.image.openshift.io already exists",
                ),
            )
            .await;
            let body = answer(
                &mut handle,
                "POST",
                "/apis/image.openshift.io/v1/imagesignatures",
                201,
                serde_json::json!({"kind": "ImageSignature"}),
            )
            .await;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["type"], "atomic");
            assert_eq!(body["kind"], "ImageSignature");
            assert_eq!(body["content"], b64(&new2));
            let name = body["metadata"]["name"].as_str().unwrap().to_owned();
            let (d, suffix) = name.split_once('@').unwrap();
            assert_eq!(d, DIGEST);
            assert!(
                suffix.len() == 32 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}"
            );
            let _ = existing2;
        });
        let listed = store.list(&digest).await.unwrap();
        assert_eq!(listed.len(), 1, "only atomic signatures");
        assert_eq!(listed[0].blob, existing);
        assert!(!store.add(&digest, &existing).await.unwrap().is_new());
        assert!(store.add(&digest, &new_sig).await.unwrap().is_new());
        server.await.unwrap();
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(seg("app"), "app");
        assert_eq!(seg("../x"), "..%2Fx");
        assert_eq!(seg("a?b"), "a%3Fb");
    }
}
