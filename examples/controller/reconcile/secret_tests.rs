//! Signing with the keys of the request's Secret: the exact requests made
//! (kube's client over tower-test's mock service), the status written, and
//! that key material appears in none of them.

use super::*;
use http::{Method, Request as HttpRequest, Response, StatusCode};
use imprimatur::service::request::{ImageSigningRequestSpec, StoreOverride};
use imprimatur::signature as sig;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::client::Body;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

pub(super) use crate::testing::{
    Handle, Responder, expect_event, expect_request_text as expect, finished, respond,
};

const SECRET_URI: &str = "/api/v1/namespaces/team/secrets/signer";
const STATUS_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur";
const WHO: (&str, &str) = ("team", "sign-myapp");
const PASSPHRASE: &str = "correct horse battery staple";

pub(super) fn context() -> (Arc<Context>, Handle) {
    // The lookaside store's HTTP client needs the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let resolver: Resolver =
        Arc::new(|_| Box::pin(async { Err("no registry in tests".to_owned().into()) }));
    let ctx = Context {
        now: Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        ..Context::new(
            Client::new(service, "default"),
            Pipeline::new(registry),
            ScanJobConfig::new("scanner:1"),
            resolver,
            None,
        )
    };
    (Arc::new(ctx), handle)
}

/// A `dir:` image (its manifest is all signing needs) and a lookaside
/// directory to publish to, both in `dir`.
pub(crate) fn image_and_lookaside(dir: &std::path::Path) -> (String, String) {
    let image = dir.join("image");
    std::fs::create_dir_all(&image).expect("image dir");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2
        },
        "layers": []
    });
    std::fs::write(
        image.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("manifest");
    let lookaside = dir.join("sigstore");
    std::fs::create_dir_all(&lookaside).expect("lookaside dir");
    (
        format!("dir:{}", image.display()),
        format!("file://{}", lookaside.display()),
    )
}

fn request(image: String, lookaside: String) -> ImageSigningRequest {
    let mut obj = ImageSigningRequest::new(
        "sign-myapp",
        ImageSigningRequestSpec {
            image: Some(image),
            identity: Some("registry.example/team/app:1".into()),
            signing_key_secret_name: Some("signer".into()),
            signing_key_sign_by: Some("release@example.com".into()),
            store: Some(StoreOverride {
                lookaside: Some(lookaside),
            }),
            ..ImageSigningRequestSpec::default()
        },
    );
    obj.metadata.namespace = Some("team".into());
    obj.metadata.generation = Some(1);
    obj.metadata.uid = Some("0b7c-uid".into());
    obj
}

fn api_error(send: Responder, code: u16, reason: &str) {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("secrets \"signer\" {reason}"), "reason": reason, "code": code
    });
    respond(send, StatusCode::from_u16(code).expect("code"), &status);
}

pub(crate) fn secret(data: &[(&str, Vec<u8>)]) -> Secret {
    let mut secret = Secret::default();
    secret.metadata.name = Some("signer".into());
    secret.metadata.namespace = Some("team".into());
    secret.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.clone())))
            .collect::<BTreeMap<_, _>>(),
    );
    secret
}

/// Answers a status apply with the request (its content does not matter to
/// reconcile).
pub(super) fn applied(send: Responder) {
    let obj = ImageSigningRequest::new("sign-myapp", ImageSigningRequestSpec::default());
    respond(send, StatusCode::OK, &obj);
}

pub(super) fn ready(status: &Value) -> &Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("a Ready condition")
}

/// The Secret is read from the request's namespace, the request goes to
/// Running, and the pipeline signs with the Secret's key: a Completed
/// status naming its fingerprint, a signature in the lookaside. Neither the
/// key nor its passphrase is in anything sent.
#[tokio::test]
async fn a_request_signs_with_the_key_of_its_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    let key = sig::generate_key(sig::KeyGenOptions::new(
        "Release Signer <release@example.com>",
    ))
    .expect("key");
    let armored = key.secret_armored(Some(PASSPHRASE)).expect("armored");
    let fingerprint = key.fingerprint().to_string();
    let data = [
        ("key", armored.to_vec()),
        ("passphrase", format!("{PASSPHRASE}\n").into_bytes()),
    ];
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&data));
        let (body, text, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        assert_eq!(body["status"]["phase"], "Running", "{body}");
        assert!(!text.contains(PASSPHRASE));
        applied(send);
        let (body, text, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed", "{status}");
        assert_eq!(status["signature"]["fingerprint"], fingerprint.as_str());
        assert_eq!(status["signature"]["created"], true);
        assert!(!text.contains(PASSPHRASE) && !text.contains("PRIVATE KEY"));
        applied(send);
        // Each step an event, naming the key by fingerprint only.
        let signed = expect_event(&mut handle, WHO, "Normal", "Signed", &fingerprint).await;
        assert!(!signed.to_string().contains(PASSPHRASE));
        expect_event(&mut handle, WHO, "Normal", "Published", "/signature-1").await;
        expect_event(&mut handle, WHO, "Normal", "Verified", "").await;
        handle
    });
    let action = reconcile(Arc::new(request(image, lookaside)), ctx.clone())
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    finished(scenario).await;
    let stored = walk(&dir.path().join("sigstore"));
    assert_eq!(stored.len(), 1, "one signature published: {stored:?}");
    let metrics = ctx.metrics.encode().expect("metrics");
    for line in [
        "imprimatur_signatures_total{result=\"created\"} 1\n",
        "imprimatur_requests_finished_total{kind=\"ImageSigningRequest\",outcome=\"completed\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

pub(crate) fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// No such Secret: the request fails at once with `KeyUnavailable` naming
/// the Secret, and is never set Running.
#[tokio::test]
async fn a_missing_secret_fails_the_request_with_key_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        api_error(send, 404, "NotFound");
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed", "{status}");
        let ready = ready(status);
        assert_eq!(ready["reason"], "KeyUnavailable");
        assert_eq!(ready["observedGeneration"], 1);
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("team/signer") && m.contains("does not exist")),
            "{ready}"
        );
        applied(send);
        expect_event(&mut handle, WHO, "Warning", "KeyUnavailable", "team/signer").await;
        handle
    });
    let action = reconcile(Arc::new(request(image, lookaside)), ctx)
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    finished(scenario).await;
    assert!(
        walk(&dir.path().join("sigstore")).is_empty(),
        "nothing signed"
    );
}

/// A namespace the controller does not serve (403): `KeyUnavailable` saying
/// so, rather than a retry loop.
#[tokio::test]
async fn a_forbidden_secret_says_the_namespace_is_not_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        api_error(send, 403, "Forbidden");
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let ready = ready(&body["status"]);
        assert_eq!(ready["reason"], "KeyUnavailable");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("namespace team is not served")),
            "{ready}"
        );
        applied(send);
        let note = "namespace team is not served";
        expect_event(&mut handle, WHO, "Warning", "KeyUnavailable", note).await;
        handle
    });
    reconcile(Arc::new(request(image, lookaside)), ctx)
        .await
        .expect("reconcile");
    finished(scenario).await;
}

/// Any other API failure is retried (an error for the error policy), with
/// nothing written.
#[tokio::test]
async fn an_unreachable_api_is_retried_without_a_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        api_error(send, 500, "InternalError");
        handle
    });
    let result = reconcile(Arc::new(request(image, lookaside)), ctx).await;
    assert!(matches!(result, Err(Error::Kube(_))), "{result:?}");
    finished(scenario).await;
}
