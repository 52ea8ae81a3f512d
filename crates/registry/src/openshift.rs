//! OpenShift image streams and image signatures (`image.openshift.io/v1`),
//! through a `kube` client (feature `openshift`):
//!
//! - resolve an `ImageStreamTag` (`namespace/stream:tag`) to the image's
//!   digest and `dockerImageReference`
//!   (`GET /apis/image.openshift.io/v1/namespaces/NS/imagestreamtags/STREAM:TAG`);
//! - look up an image of a stream by digest, and list its signatures
//!   (`GET …/namespaces/NS/imagestreamimages/STREAM@DIGEST` → `.image`);
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
        resolved(what, ist.image)
    }

    /// The image `digest` of `namespace/stream` (any image in the stream's
    /// history, not only a tag's newest): NotFound unless the stream has it.
    pub async fn resolve_image(
        &self,
        namespace: &str,
        stream: &str,
        digest: &Digest,
    ) -> Result<ResolvedImageStreamTag, OpenShiftError> {
        let what = format!("imagestreamimage {namespace}/{stream}@{digest}");
        let uri = format!(
            "{API}/namespaces/{}/imagestreamimages/{}@{}",
            seg(namespace),
            seg(stream),
            digest
        );
        let isi: WithImage = self.send(&what, get(&uri, &what)?).await?;
        let found = resolved(what.clone(), isi.image)?;
        if found.digest != *digest {
            return Err(OpenShiftError::Malformed {
                what,
                message: format!("the API answered with image {}", found.digest),
            });
        }
        Ok(found)
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
            match self.images.create_signature(digest, signature).await {
                Ok(name) => Ok(Added::Stored { location: name }),
                // openshift-apiserver also answers 409 when the same type and
                // content are already on the image: another writer was first.
                Err(e @ OpenShiftError::Api { code: 409, .. }) => {
                    match self
                        .list(digest)
                        .await?
                        .into_iter()
                        .find(|s| s.blob == signature)
                    {
                        Some(same) => Ok(Added::AlreadyPresent {
                            location: same.location,
                        }),
                        None => Err(store_error(e)),
                    }
                }
                Err(e) => Err(store_error(e)),
            }
        })
    }
}

/// The digest and pull reference of an Image object.
fn resolved(what: String, image: ImageJson) -> Result<ResolvedImageStreamTag, OpenShiftError> {
    let digest = Digest::parse(&image.metadata.name).map_err(|e| OpenShiftError::Malformed {
        what: what.clone(),
        message: format!("image name {:?} is not a digest: {e}", image.metadata.name),
    })?;
    if image.docker_image_reference.is_empty() {
        return Err(OpenShiftError::Malformed {
            what,
            message: "the image has no dockerImageReference".into(),
        });
    }
    Ok(ResolvedImageStreamTag {
        digest,
        docker_image_reference: image.docker_image_reference,
    })
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

    /// A response recorded from openshift-apiserver (tests/data/openshift,
    /// whose README says where each shape comes from).
    fn recorded(name: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/openshift")
            .join(name);
        serde_json::from_slice(&std::fs::read(&path).expect("recorded response"))
            .expect("recorded JSON")
    }

    fn image_stream_tag() -> serde_json::Value {
        recorded("imagestreamtag.json")
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
        assert_eq!(
            r.docker_image_reference,
            format!("image-registry.openshift-image-registry.svc:5000/team/app@{DIGEST}")
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
                recorded("status-404-imagestreamtag.json"),
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
                recorded("imagesignature-created.json"),
            )
            .await;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let name = body["metadata"]["name"].as_str().unwrap().to_owned();
            // Exactly what containers/image's atomic: transport posts.
            assert_eq!(
                body,
                serde_json::json!({
                    "apiVersion": "image.openshift.io/v1",
                    "kind": "ImageSignature",
                    "metadata": {"name": name},
                    "type": "atomic",
                    "content": b64(&new2),
                })
            );
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

    #[tokio::test]
    async fn resolves_an_image_of_a_stream_by_digest() {
        let (images, mut handle) = client();
        let old = "sha256:1d5c7e8f0b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";
        let server = tokio::spawn(async move {
            let base = "/apis/image.openshift.io/v1/namespaces/team/imagestreamimages";
            answer(
                &mut handle,
                "GET",
                &format!("{base}/app@{DIGEST}"),
                200,
                recorded("imagestreamimage.json"),
            )
            .await;
            answer(
                &mut handle,
                "GET",
                &format!("{base}/app@{old}"),
                404,
                recorded("status-404-imagestreamimage.json"),
            )
            .await;
        });
        let digest = Digest::parse(DIGEST).unwrap();
        let r = images.resolve_image("team", "app", &digest).await.unwrap();
        assert_eq!(r.digest, digest);
        assert_eq!(
            r.docker_image_reference,
            format!("image-registry.openshift-image-registry.svc:5000/team/app@{DIGEST}")
        );
        let e = images
            .resolve_image("team", "app", &Digest::parse(old).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(e, OpenShiftError::NotFound { .. }), "{e}");
        server.await.unwrap();
    }

    /// The recorded ImageStreamImage's signature is listed with its name and
    /// decoded content.
    #[tokio::test]
    async fn lists_the_recorded_signatures() {
        let (images, mut handle) = client();
        let server = tokio::spawn(async move {
            answer(
                &mut handle,
                "GET",
                &format!(
                    "/apis/image.openshift.io/v1/namespaces/team/imagestreamimages/app@{DIGEST}"
                ),
                200,
                recorded("imagestreamimage.json"),
            )
            .await;
        });
        let sigs = images
            .signatures("team", "app", &Digest::parse(DIGEST).unwrap())
            .await
            .unwrap();
        server.await.unwrap();
        let want = base64::engine::general_purpose::STANDARD
            .decode("owGbwMvMwMGYuz7/")
            .unwrap();
        assert_eq!(
            sigs,
            [ImageSignatureInfo {
                name: format!("{DIGEST}@4f7a3c1e9b2d4e6f8a0b1c2d3e4f5a6b"),
                kind: "atomic".into(),
                content: want,
            }]
        );
    }

    /// A refused create (403) is typed, and a 409 for the same content
    /// already on the image (another writer was first) is not an error.
    #[tokio::test]
    async fn forbidden_create_and_a_lost_race_for_the_same_content() {
        let (images, mut handle) = client();
        let store = OpenShiftStore::new(images.clone(), "team", "app");
        let digest = Digest::parse(DIGEST).unwrap();
        let blob = b"\xa3\x01same".to_vec();
        let blob2 = blob.clone();
        let server = tokio::spawn(async move {
            let post = "/apis/image.openshift.io/v1/imagesignatures";
            answer(
                &mut handle,
                "POST",
                post,
                403,
                recorded("status-403-imagesignature.json"),
            )
            .await;
            let uri = format!(
                "/apis/image.openshift.io/v1/namespaces/team/imagestreamimages/app@{DIGEST}"
            );
            let mut isi = recorded("imagestreamimage.json");
            isi["image"]["signatures"] = serde_json::json!([]);
            answer(&mut handle, "GET", &uri, 200, isi.clone()).await;
            for _ in 0..3 {
                answer(
                    &mut handle,
                    "POST",
                    post,
                    409,
                    recorded("status-409-imagesignature.json"),
                )
                .await;
            }
            let b64 = base64::engine::general_purpose::STANDARD.encode(&blob2);
            isi["image"]["signatures"] = serde_json::json!([{
                "metadata": {"name": format!("{DIGEST}@00000000000000000000000000000000")},
                "type": "atomic", "content": b64,
            }]);
            answer(&mut handle, "GET", &uri, 200, isi).await;
        });
        let e = images.create_signature(&digest, &blob).await.unwrap_err();
        assert!(
            matches!(&e, OpenShiftError::Forbidden { message, .. } if message.contains("cannot create resource \"imagesignatures\"")),
            "{e}"
        );
        let added = store.add(&digest, &blob).await.unwrap();
        assert_eq!(
            added,
            Added::AlreadyPresent {
                location: format!("{DIGEST}@00000000000000000000000000000000")
            }
        );
        server.await.unwrap();
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(seg("app"), "app");
        assert_eq!(seg("../x"), "..%2Fx");
        assert_eq!(seg("a?b"), "a%3Fb");
    }
}
