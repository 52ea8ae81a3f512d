//! Where the controller may publish: a requester's `spec.store.lookaside`
//! only under the allowed prefixes, and never the built-in default lookaside
//! (a directory in the controller's container that no node reads).

use super::secret_tests::{applied, expect, finished, image_and_lookaside, ready, secret, walk};
use super::*;
use http::{Method, Request as HttpRequest, Response, StatusCode};
use imprimatur::service::request::{ImageSigningRequestSpec, StoreOverride};
use imprimatur::signature as sig;
use kube::client::Body;
use std::time::UNIX_EPOCH;

use crate::testing::{Handle, expect_event, respond};

const SECRET_URI: &str = "/api/v1/namespaces/team/secrets/signer";
const STATUS_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur";
const WHO: (&str, &str) = ("team", "sign-myapp");

/// A context configured as the controller's: overrides only under
/// `allowed`, no built-in default store.
fn context(allowed: &str) -> (Arc<Context>, Handle) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let pipeline = Pipeline::new(registry)
        .require_configured_store(true)
        .allowed_store_overrides(vec![url::Url::parse(allowed).expect("URL")]);
    let resolver: crate::scanning::Resolver =
        Arc::new(|_| Box::pin(async { Err("no registry in tests".to_owned().into()) }));
    let ctx = Context {
        now: Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        ..Context::new(
            Client::new(service, "default"),
            pipeline,
            ScanJobConfig::new("scanner:1"),
            resolver,
            None,
        )
    };
    (Arc::new(ctx), handle)
}

fn request(image: String, lookaside: Option<String>) -> ImageSigningRequest {
    let mut obj = ImageSigningRequest::new(
        "sign-myapp",
        ImageSigningRequestSpec {
            image: Some(image),
            identity: Some("registry.example/team/app:1".into()),
            signing_key_secret_name: Some("signer".into()),
            store: lookaside.map(|l| StoreOverride { lookaside: Some(l) }),
            ..ImageSigningRequestSpec::default()
        },
    );
    obj.metadata.namespace = Some("team".into());
    obj.metadata.generation = Some(1);
    obj.metadata.uid = Some("0b7c-uid".into());
    obj
}

/// Runs `obj` to its end with a usable key, expecting `Failed` with
/// `reason` and a message containing `says`; nothing is published.
async fn fails(
    ctx: Arc<Context>,
    mut handle: Handle,
    obj: ImageSigningRequest,
    reason: &str,
    says: &str,
) {
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Signer <release@example.com>")).expect("key");
    let armored = key.secret_armored(None).expect("armored");
    let (reason, says) = (reason.to_owned(), says.to_owned());
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&[("key", armored.to_vec())]));
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        assert_eq!(body["status"]["phase"], "Running", "{body}");
        applied(send);
        let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        assert_eq!(body["status"]["phase"], "Failed", "{body}");
        let ready = ready(&body["status"]);
        assert_eq!(ready["reason"], reason.as_str(), "{ready}");
        let message = ready["message"].as_str().unwrap_or_default();
        assert!(message.contains(&says), "{message:?} lacks {says:?}");
        applied(send);
        expect_event(&mut handle, WHO, "Warning", &reason, &says).await;
        handle
    });
    let action = reconcile(Arc::new(obj), ctx).await.expect("reconcile");
    assert_eq!(action, Action::await_change());
    finished(scenario).await;
}

#[tokio::test]
async fn a_store_override_outside_the_allowed_prefixes_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    // Allowed: a sibling whose name the requested one only starts with, and
    // a parent reached back through `..` do not count.
    let allowed = format!("{lookaside}-allowed/");
    let sneaky = format!("{lookaside}-allowed/../sigstore");
    for (i, asked) in [lookaside.clone(), sneaky].into_iter().enumerate() {
        let (ctx, handle) = context(&allowed);
        let obj = request(image.clone(), Some(asked.clone()));
        fails(ctx, handle, obj, "InvalidRequest", "is not allowed here").await;
        assert!(
            walk(&dir.path().join("sigstore")).is_empty(),
            "case {i}: {asked}"
        );
    }
}

#[tokio::test]
async fn a_store_override_under_an_allowed_prefix_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside) = image_and_lookaside(dir.path());
    let (ctx, mut handle) = context(&format!("file://{}/", dir.path().display()));
    let key =
        sig::generate_key(sig::KeyGenOptions::new("Signer <release@example.com>")).expect("key");
    let armored = key.secret_armored(None).expect("armored");
    let scenario = tokio::spawn(async move {
        let (_, _, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond(send, StatusCode::OK, &secret(&[("key", armored.to_vec())]));
        for phase in ["Running", "Completed"] {
            let (body, _, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
            assert_eq!(body["status"]["phase"], phase, "{body}");
            applied(send);
        }
        for reason in ["Signed", "Published", "Verified"] {
            expect_event(&mut handle, WHO, "Normal", reason, "").await;
        }
        handle
    });
    let obj = request(image, Some(lookaside));
    reconcile(Arc::new(obj), ctx).await.expect("reconcile");
    finished(scenario).await;
    assert_eq!(walk(&dir.path().join("sigstore")).len(), 1);
}

#[tokio::test]
async fn no_configured_store_fails_instead_of_the_builtin_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, _) = image_and_lookaside(dir.path());
    let (ctx, handle) = context("https://sigs.example.com/");
    let obj = request(image, None);
    fails(
        ctx,
        handle,
        obj,
        "StoreError",
        "no signature store is configured for registry.example/team/app:1",
    )
    .await;
}
