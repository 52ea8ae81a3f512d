//! Signing on push over kube's mock service: every request asserted, the
//! stream from `tests/data/openshift/imagestream.json` (opted in, tag `v1`
//! at `sha256:8cce87…`).

use super::*;
use http::{Method, Request as HttpRequest, Response, StatusCode};
use imprimatur::service::Pipeline;
use imprimatur::service::scan_job::ScanJobConfig;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use crate::scanning::Resolver;
use crate::testing::{Handle, expect_event, expect_request as next, respond};

const D1: &str = "sha256:8cce872f6bf22d635833132b93fe58d14488db8c6e7916a6e7ce85f6bcc6632d";
const D2: &str = "sha256:2b6f1b8c3a5d4e7f9081a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
const LIST_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests?&labelSelector=imprimatur.io%2Fimage-stream%3Dapp";
const CREATE_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests?";

fn context() -> (Arc<Context>, Handle) {
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let resolver: Resolver = Arc::new(|_| Box::pin(async { Err("unused".to_owned().into()) }));
    let ctx = Context::new(
        Client::new(service, "default"),
        Pipeline::new(registry),
        ScanJobConfig::new("scanner:1"),
        resolver,
        None,
    );
    (Arc::new(ctx), handle)
}

/// The recorded stream, its tag `v1` at `digest`.
fn stream(digest: &str) -> DynamicObject {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openshift/imagestream.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(path).expect("recorded")).expect("JSON");
    v["status"]["tags"][0]["items"][0]["image"] = json!(digest);
    serde_json::from_value(v).expect("an ImageStream")
}

/// A signing request made earlier for `app:v1` at `digest`.
fn made(digest: &str) -> Value {
    json!({
        "apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageSigningRequest",
        "metadata": {"name": request_name("app", "v1", &Digest::parse(digest).expect("digest")),
                     "namespace": "team", "labels": {STREAM_LABEL: "app"},
                     "annotations": {PINNED_DIGEST_ANNOTATION: digest}},
        "spec": {"imageStreamTag": "app:v1", "signingKeySecretName": "release"}
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageSigningRequestList",
           "metadata": {"resourceVersion": "7"}, "items": items})
}

async fn no_more(mut handle: Handle) {
    crate::testing::assert_no_more_requests(&mut handle).await;
}

async fn run(
    obj: DynamicObject,
    ctx: Arc<Context>,
    scenario: tokio::task::JoinHandle<Handle>,
) -> Action {
    let action = reconcile_stream(Arc::new(obj), ctx)
        .await
        .expect("reconcile");
    let handle = tokio::time::timeout(Duration::from_secs(5), scenario)
        .await
        .expect("in time")
        .expect("scenario passed");
    no_more(handle).await;
    action
}

/// The exact request created for `app:v1` at `digest`.
async fn expect_created(handle: &mut Handle, digest: &str) {
    let name = request_name("app", "v1", &Digest::parse(digest).expect("digest"));
    let (body, send) = next(handle, Method::POST, CREATE_URI).await;
    assert_eq!(
        body,
        json!({
            "apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageSigningRequest",
            "metadata": {"name": name, "namespace": "team",
                         "labels": {"imprimatur.io/image-stream": "app"},
                         "annotations": {"imprimatur.io/image-digest": digest}},
            "spec": {"imageStreamTag": "app:v1", "signingKeySecretName": "release"}
        })
    );
    respond(send, StatusCode::CREATED, &body);
    expect_event(handle, ("team", "app"), "Normal", "SigningRequested", &name).await;
}

#[tokio::test]
async fn a_new_tag_gets_a_pinned_signing_request() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, LIST_URI).await;
        respond(send, StatusCode::OK, &list(vec![]));
        expect_created(&mut handle, D1).await;
        handle
    });
    let action = run(stream(D1), ctx.clone(), scenario).await;
    assert_eq!(action, Action::requeue(RESYNC));
    let metrics = ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("imprimatur_auto_sign_requests_total{result=\"created\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_same_tag_and_digest_makes_no_request() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, LIST_URI).await;
        respond(send, StatusCode::OK, &list(vec![made(D1)]));
        handle
    });
    run(stream(D1), ctx, scenario).await;
}

#[tokio::test]
async fn a_moved_tag_gets_a_new_request() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, LIST_URI).await;
        respond(send, StatusCode::OK, &list(vec![made(D1)]));
        expect_created(&mut handle, D2).await;
        handle
    });
    run(stream(D2), ctx, scenario).await;
}

/// Made meanwhile (another replica, a list that missed it): 409 is
/// "already requested", counted, no event.
#[tokio::test]
async fn a_request_already_there_is_not_an_error() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, LIST_URI).await;
        respond(send, StatusCode::OK, &list(vec![]));
        let (_, send) = next(&mut handle, Method::POST, CREATE_URI).await;
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "imagesigningrequests.cop.redhat.com \"x\" already exists",
            "reason": "AlreadyExists", "code": 409});
        respond(send, StatusCode::CONFLICT, &status);
        handle
    });
    run(stream(D1), ctx.clone(), scenario).await;
    let metrics = ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("imprimatur_auto_sign_requests_total{result=\"existing\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_stream_not_opted_in_is_left_alone() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, NAMESPACE_URI).await;
        respond(send, StatusCode::OK, &namespace(json!({}), json!({})));
        handle
    });
    let mut obj = stream(D1);
    obj.metadata.labels = None;
    let action = run(obj, ctx, scenario).await;
    assert_eq!(action, Action::await_change());
}

const NAMESPACE_URI: &str = "/api/v1/namespaces/team";

/// The namespace `team` with `labels` and `annotations`.
fn namespace(labels: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "team", "labels": labels, "annotations": annotations}})
}

/// A namespace labelled for signing on push opts in its streams without
/// the label, with the namespace's annotations as defaults under the
/// stream's own.
#[tokio::test]
async fn a_namespace_opts_its_streams_in() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = next(&mut handle, Method::GET, NAMESPACE_URI).await;
        let ns = namespace(
            json!({AUTO_SIGN_LABEL: "true"}),
            json!({KEY_ANNOTATION: "team-key", SIGN_BY_ANNOTATION: "team@example.com"}),
        );
        respond(send, StatusCode::OK, &ns);
        let (_, send) = next(&mut handle, Method::GET, LIST_URI).await;
        respond(send, StatusCode::OK, &list(vec![]));
        let (body, send) = next(&mut handle, Method::POST, CREATE_URI).await;
        // The stream's key wins; the namespace's sign-by fills in.
        assert_eq!(
            body["spec"],
            json!({"imageStreamTag": "app:v1", "signingKeySecretName": "release",
                   "signingKeySignBy": "team@example.com"})
        );
        respond(send, StatusCode::CREATED, &body);
        expect_event(
            &mut handle,
            ("team", "app"),
            "Normal",
            "SigningRequested",
            "app:v1",
        )
        .await;
        handle
    });
    let mut obj = stream(D1);
    obj.metadata.labels = None;
    run(obj, ctx, scenario).await;
}

/// `imprimatur.io/auto-sign: "false"` on a stream opts it out (its
/// namespace is not even looked at).
#[tokio::test]
async fn a_stream_can_opt_out_of_its_namespace() {
    let (ctx, handle) = context();
    let mut obj = stream(D1);
    obj.metadata.labels = Some([(AUTO_SIGN_LABEL.to_owned(), "false".to_owned())].into());
    let action = reconcile_stream(Arc::new(obj), ctx)
        .await
        .expect("reconcile");
    assert_eq!(action, Action::await_change());
    no_more(handle).await;
}

#[tokio::test]
async fn an_opted_in_stream_without_a_key_gets_a_warning() {
    let (ctx, mut handle) = context();
    let scenario = tokio::spawn(async move {
        let note = "imprimatur.io/signing-key-secret";
        expect_event(
            &mut handle,
            ("team", "app"),
            "Warning",
            "AutoSignMisconfigured",
            note,
        )
        .await;
        handle
    });
    let mut obj = stream(D1);
    obj.metadata.annotations = None;
    run(obj, ctx, scenario).await;
}

#[test]
fn the_settings_come_from_the_annotations() {
    let mut annotations = stream(D1).annotations().clone();
    annotations.insert(SIGN_BY_ANNOTATION.into(), "release@example.com".into());
    annotations.insert(REQUIRE_SCAN_ANNOTATION.into(), "true".into());
    annotations.insert(SIGNATURE_TYPES_ANNOTATION.into(), "atomic, sigstore".into());
    let spec = settings(&annotations).expect("settings");
    assert_eq!(spec.signing_key_secret_name.as_deref(), Some("release"));
    assert_eq!(
        spec.signing_key_sign_by.as_deref(),
        Some("release@example.com")
    );
    assert!(spec.require_scan);
    assert_eq!(
        spec.signature_types,
        [SignatureType::Atomic, SignatureType::Sigstore]
    );
    annotations.insert(SIGNATURE_TYPES_ANNOTATION.into(), "gpg".into());
    assert!(settings(&annotations).unwrap_err().contains("\"gpg\""));
}

#[test]
fn request_names_are_dns_subdomains_unique_per_stream_tag_and_digest() {
    let d = Digest::parse(D1).expect("digest");
    let name = request_name("app", "v1", &d);
    assert!(
        name.starts_with("app-v1-") && name.len() == "app-v1-".len() + 16,
        "{name}"
    );
    assert_ne!(name, request_name("app", "V1", &d));
    assert_ne!(
        name,
        request_name("app", "v1", &Digest::parse(D2).expect("digest"))
    );
    let long = request_name(&"s".repeat(253), &format!("_{}", "T".repeat(128)), &d);
    assert!(long.len() <= 253, "{}", long.len());
    let valid = |n: &str| {
        n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-')
    };
    assert!(valid(&long) && valid(&name), "{long}");
}

/// With `requireScan`, the scan is of the pinned (pushed) digest in the
/// repository the tag resolved to, not of what the tag points to now.
#[test]
fn a_pinned_request_scans_the_pushed_digest() {
    let now = Pinned {
        repo_at_digest: format!("registry.example/team/app@{D2}"),
        digest: D2.into(),
    };
    let pinned = pin_pushed(now.clone(), Some(D1), true).expect("pinned");
    assert_eq!(
        pinned,
        Pinned {
            repo_at_digest: format!("registry.example/team/app@{D1}"),
            digest: D1.into(),
        }
    );
    assert_eq!(pin_pushed(now.clone(), Some(D2), true).expect("same"), now);
    assert_eq!(pin_pushed(now.clone(), None, true).expect("none"), now);
    assert_eq!(
        pin_pushed(now.clone(), Some(D1), false).expect("not a stream"),
        now,
        "only image stream tags are pinned"
    );
    let e = pin_pushed(now, Some("latest"), true).unwrap_err();
    assert!(e.contains("imprimatur.io/image-digest"), "{e}");
}
