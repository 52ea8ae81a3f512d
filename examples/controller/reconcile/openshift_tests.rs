//! `imageStreamTag` requests on OpenShift: resolved through the image API,
//! signed as `REGISTRY/NAMESPACE/STREAM:TAG`, published as an
//! `ImageSignature` (the exact POST), read back. kube's client over
//! tower-test's mock service answers with the recorded responses of
//! `tests/data/openshift`; the image's manifest comes from a one-route
//! registry on loopback.

use super::secret_tests::{applied, expect, finished, ready, respond, secret};
use super::*;
use base64::Engine as _;
use http::{Method, Request as HttpRequest, Response, StatusCode};
use imprimatur::reference::Digest;
use imprimatur::service::request::ImageSigningRequestSpec;
use imprimatur::signature as sig;
use kube::client::Body;
use serde_json::{Value, json};
use std::time::UNIX_EPOCH;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::openshift::ClusterImageStreams;
use crate::testing::{Handle, expect_event};

const SECRET_URI: &str = "/api/v1/namespaces/team/secrets/signer";
const STATUS_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur";
const WHO: (&str, &str) = ("team", "sign-myapp");
const ISTAG_URI: &str = "/apis/image.openshift.io/v1/namespaces/team/imagestreamtags/app:v1";
const POST_URI: &str = "/apis/image.openshift.io/v1/imagesignatures";

fn recorded(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openshift")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("recorded response")).expect("JSON")
}

/// A context whose pipeline resolves image streams through the mock API
/// server and reaches registries over plain HTTP.
fn context() -> (Arc<Context>, Handle) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let registry = imprimatur::registry::RegistryClient::builder()
        .dangerous_accept_any_certificate_and_plain_http()
        .build()
        .expect("registry client");
    let pipeline =
        Pipeline::new(registry).image_streams(Arc::new(ClusterImageStreams::new(client.clone())));
    let resolver = crate::scanning::pipeline_resolver(pipeline.clone());
    let ctx = Context {
        now: Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        openshift: true,
        ..Context::new(
            client,
            pipeline,
            ScanJobConfig::new("scanner:1"),
            resolver,
            None,
        )
    };
    (Arc::new(ctx), handle)
}

/// A registry on loopback (plain HTTP) serving one manifest by digest;
/// its host and the manifest's digest and bytes.
async fn registry() -> (String, Digest, Vec<u8>) {
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2
        },
        "layers": []
    }))
    .expect("json");
    let digest = Digest::sha256_of(&manifest);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let host = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let (served, d) = (manifest.clone(), digest.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (manifest, digest) = (served.clone(), d.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        // A TLS ClientHello (0x16): no TLS here, the client
                        // falls back to plain HTTP.
                        Ok(n) if n > 0 && chunk[0] != 0x16 && head.len() < 65536 => {
                            head.extend_from_slice(&chunk[..n]);
                        }
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut first = head.split_whitespace();
                let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
                let (status, body) = if path == "/v2/" {
                    ("200 OK", b"{}".to_vec())
                } else if path.ends_with(&format!("/team/app/manifests/{digest}")) {
                    ("200 OK", manifest)
                } else {
                    (
                        "404 Not Found",
                        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                            .to_vec(),
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                     Docker-Content-Digest: {digest}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                if method != "HEAD" {
                    let _ = socket.write_all(&body).await;
                }
            });
        }
    });
    (host, digest, manifest)
}

/// The recorded ImageStreamTag, pointing at `digest` in `host`.
fn image_stream_tag(host: &str, digest: &Digest) -> Value {
    let mut ist = recorded("imagestreamtag.json");
    ist["image"]["metadata"]["name"] = json!(digest.to_string());
    ist["image"]["dockerImageReference"] = json!(format!("{host}/team/app@{digest}"));
    ist
}

/// The recorded ImageStreamImage for `digest`, with `signatures`.
fn image_stream_image(host: &str, digest: &Digest, signatures: Value) -> Value {
    let mut isi = recorded("imagestreamimage.json");
    isi["metadata"]["name"] = json!(format!("app@{digest}"));
    isi["image"]["metadata"]["name"] = json!(digest.to_string());
    isi["image"]["dockerImageReference"] = json!(format!("{host}/team/app@{digest}"));
    isi["image"]["signatures"] = signatures;
    isi
}

fn request(tag: &str) -> ImageSigningRequest {
    let mut obj = ImageSigningRequest::new(
        "sign-myapp",
        ImageSigningRequestSpec {
            image_stream_tag: Some(tag.into()),
            signing_key_secret_name: Some("signer".into()),
            signing_key_sign_by: Some("release@example.com".into()),
            ..ImageSigningRequestSpec::default()
        },
    );
    obj.metadata.namespace = Some("team".into());
    obj.metadata.generation = Some(1);
    obj.metadata.uid = Some("0b7c-uid".into());
    obj
}

/// The predecessor's request (`imageStreamTag: app:v1`): the tag resolved
/// through the API, the image pulled by digest, signed for
/// `HOST/team/app:v1`, created as an ImageSignature (exactly the body the
/// `atomic:` transport posts) that our verifier accepts, read back, and the
/// request Completed naming the OpenShift store.
#[tokio::test]
async fn an_image_stream_tag_is_signed_into_an_image_signature() {
    let (host, digest, manifest) = registry().await;
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Release <release@example.com>")).expect("key");
    let public = key.public_armored().expect("public");
    let fingerprint = key.fingerprint();
    let data = [("key", key.secret_armored(None).expect("armored").to_vec())];
    let identity = format!("{host}/team/app:v1");
    let (ctx, mut handle) = context();
    let (h, d, id) = (host.clone(), digest.clone(), identity.clone());
    let scenario = tokio::spawn(async move {
        let isi_uri =
            format!("/apis/image.openshift.io/v1/namespaces/team/imagestreamimages/app@{d}");
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&data));
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        assert_eq!(body["status"]["phase"], "Running", "{body}");
        applied(send);
        let (_, _, send) = expect(&mut handle, Method::GET, ISTAG_URI).await;
        respond(send, StatusCode::OK, &image_stream_tag(&h, &d));
        // The store: what is on the image already (nothing), looked at by
        // the pipeline (a reusable signature?) and by the store's add (an
        // identical one?).
        for _ in 0..2 {
            let (_, _, send) = expect(&mut handle, Method::GET, &isi_uri).await;
            respond(send, StatusCode::OK, &image_stream_image(&h, &d, json!([])));
        }
        let (body, _, send) = expect(&mut handle, Method::POST, POST_URI).await;
        let name = body["metadata"]["name"].as_str().expect("name").to_owned();
        let content = body["content"].as_str().expect("content").to_owned();
        assert_eq!(
            body,
            json!({
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageSignature",
                "metadata": {"name": name},
                "type": "atomic",
                "content": content,
            })
        );
        let (image, suffix) = name.split_once('@').expect("DIGEST@NAME");
        assert_eq!(image, d.to_string());
        assert!(suffix.len() == 32 && suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        let mut created = recorded("imagesignature-created.json");
        created["metadata"]["name"] = json!(name);
        created["content"] = json!(content);
        respond(send, StatusCode::CREATED, &created);
        // Read back.
        let stored = json!([{"metadata": {"name": name}, "type": "atomic", "content": content}]);
        let (_, _, send) = expect(&mut handle, Method::GET, &isi_uri).await;
        respond(send, StatusCode::OK, &image_stream_image(&h, &d, stored));
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed", "{status}");
        assert_eq!(status["imageDigest"], d.to_string());
        assert_eq!(status["unsignedImage"], format!("{h}/team/app@{d}"));
        assert_eq!(status["signature"]["identity"], id.as_str());
        assert_eq!(
            status["signature"]["store"],
            "OpenShift image signatures of team/app"
        );
        assert_eq!(status["signature"]["location"], name.as_str());
        assert_eq!(status["signature"]["created"], true);
        applied(send);
        expect_event(&mut handle, WHO, "Normal", "Signed", &id).await;
        expect_event(&mut handle, WHO, "Normal", "Published", &name).await;
        expect_event(&mut handle, WHO, "Normal", "Verified", "").await;
        (handle, content)
    });
    let action = reconcile(Arc::new(request("app:v1")), ctx)
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    let (handle, content) = tokio::time::timeout(Duration::from_secs(30), scenario)
        .await
        .expect("in time")
        .expect("scenario passed");
    finished(tokio::spawn(async move { handle })).await;
    // The signature our verifier accepts for the image and identity.
    let blob = base64::engine::general_purpose::STANDARD
        .decode(content)
        .expect("base64");
    let trusted = sig::TrustedKeys::from_bytes(&public).expect("public key");
    sig::verify_standalone(
        &sig::Verifier::new(&trusted),
        &manifest,
        &identity,
        std::slice::from_ref(&fingerprint),
        &blob,
    )
    .expect("the ImageSignature verifies");
}

/// A tag the stream does not have: Failed with the predecessor's message,
/// a warning event, nothing signed.
#[tokio::test]
async fn a_missing_image_stream_tag_fails_with_the_predecessor_message() {
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Release <release@example.com>")).expect("key");
    let data = [("key", key.secret_armored(None).expect("armored").to_vec())];
    let (ctx, mut handle) = context();
    let message = "ImageStreamTag app:v2 Not Found in Namespace team";
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&data));
        let (_, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        applied(send);
        let (_, _, send) = expect(
            &mut handle,
            Method::GET,
            "/apis/image.openshift.io/v1/namespaces/team/imagestreamtags/app:v2",
        )
        .await;
        respond(
            send,
            StatusCode::NOT_FOUND,
            &recorded("status-404-imagestreamtag.json"),
        );
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed", "{status}");
        let ready = ready(status);
        assert_eq!(ready["reason"], "ImageStreamTagNotFound");
        assert_eq!(ready["message"], message);
        applied(send);
        expect_event(&mut handle, WHO, "Warning", "ResolveFailed", message).await;
        handle
    });
    reconcile(Arc::new(request("app:v2")), ctx)
        .await
        .expect("reconcile");
    finished(scenario).await;
}

/// A request pinned to a digest (signing on push) looks that image up in
/// the stream (not the tag, which may have moved on); one the stream does
/// not have fails saying so.
#[tokio::test]
async fn a_pinned_digest_is_looked_up_in_the_stream() {
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Release <release@example.com>")).expect("key");
    let data = [("key", key.secret_armored(None).expect("armored").to_vec())];
    let old = "sha256:1d5c7e8f0b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&data));
        let (_, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        applied(send);
        let uri =
            format!("/apis/image.openshift.io/v1/namespaces/team/imagestreamimages/app@{old}");
        let (_, _, send) = expect(&mut handle, Method::GET, &uri).await;
        respond(
            send,
            StatusCode::NOT_FOUND,
            &recorded("status-404-imagestreamimage.json"),
        );
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let ready = ready(&body["status"]);
        assert_eq!(ready["reason"], "ImageNotFound");
        assert_eq!(
            ready["message"],
            format!("Image app@{old} Not Found in Namespace team")
        );
        applied(send);
        expect_event(&mut handle, WHO, "Warning", "ResolveFailed", old).await;
        handle
    });
    let mut obj = request("app:v1");
    obj.metadata.annotations = Some(
        [(
            imprimatur::service::image_streams::PINNED_DIGEST_ANNOTATION.to_owned(),
            old.to_owned(),
        )]
        .into(),
    );
    reconcile(Arc::new(obj), ctx).await.expect("reconcile");
    finished(scenario).await;
}

/// A scanning request's `imageStreamTag` pins its scan Job to the digest
/// and pull reference the API gives.
#[tokio::test]
async fn a_scanning_request_resolves_its_image_stream_tag_through_the_api() {
    let (host, digest, _) = registry().await;
    let (ctx, mut handle) = context();
    let (h, d) = (host.clone(), digest.clone());
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, ISTAG_URI).await;
        respond(send, StatusCode::OK, &image_stream_tag(&h, &d));
        handle
    });
    let target = imprimatur::service::request::ImageTarget::ImageStreamTag {
        namespace: "team".into(),
        stream: "app".into(),
        tag: "v1".into(),
    };
    let pinned = (ctx.resolver)(target).await.expect("resolved");
    assert_eq!(pinned.repo_at_digest, format!("{host}/team/app@{digest}"));
    assert_eq!(pinned.digest, digest.to_string());
    finished(scenario).await;
}

/// A `registries.d` section for the image's registry is the site's choice
/// of store: the signature goes to its lookaside, and the image API is
/// asked only for the tag.
#[tokio::test]
async fn a_registries_d_section_for_the_registry_wins_over_the_api() {
    let (host, digest, _) = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lookaside = format!("file://{}", dir.path().display());
    let yaml = format!("docker:\n  {host}:\n    lookaside: {lookaside}\n");
    let registries =
        imprimatur::policy::RegistriesConfig::from_files([("site.yaml", yaml.as_bytes())])
            .expect("registries.d");
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Release <release@example.com>")).expect("key");
    let data = [("key", key.secret_armored(None).expect("armored").to_vec())];
    let (ctx, mut handle) = context();
    let mut ctx = Arc::into_inner(ctx).expect("one owner");
    ctx.pipeline = ctx
        .pipeline
        .clone()
        .registries(registries, "file:///nonexistent");
    let (h, d) = (host.clone(), digest.clone());
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&data));
        let (_, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        applied(send);
        let (_, _, send) = expect(&mut handle, Method::GET, ISTAG_URI).await;
        respond(send, StatusCode::OK, &image_stream_tag(&h, &d));
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed", "{status}");
        let store = status["signature"]["store"].as_str().unwrap_or_default();
        assert!(store.contains("site.yaml"), "{store}");
        applied(send);
        for reason in ["Signed", "Published", "Verified"] {
            expect_event(&mut handle, WHO, "Normal", reason, "").await;
        }
        handle
    });
    reconcile(Arc::new(request("app:v1")), Arc::new(ctx))
        .await
        .expect("reconcile");
    finished(scenario).await;
    let dir = dir
        .path()
        .join(format!("team/app@{}", digest.to_string().replace(':', "=")));
    assert!(dir.join("signature-1").is_file(), "{}", dir.display());
}
