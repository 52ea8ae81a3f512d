//! One test per branch of [`reconcile_with_scan`], through the signing
//! controller's `reconcile`: the exact requests made (kube's client over
//! tower-test's mock service), the statuses and scanning requests written.

use super::*;
use crate::reconcile::reconcile;
use crate::reconcile::secret_tests::{image_and_lookaside, secret, walk};
use crate::scanning::Resolver;
use crate::testing::{Handle, Responder, expect_event, expect_request as expect, respond_ok};
use http::{Method, Request as HttpRequest, Response};
use imprimatur::service::Pipeline;
use imprimatur::service::request::{ImageSigningRequestSpec, StoreOverride};
use imprimatur::service::scan_job::ScanJobConfig;
use imprimatur::service::status::{GateVerdict, ScanCounts};
use imprimatur::signature as sig;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const UID: &str = "0b7c-uid";
const NOW: u64 = 1_800_000_000;
const SCANS_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagescanningrequests";
const STATUS_URI: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur";
const SECRET_URI: &str = "/api/v1/namespaces/team/secrets/signer";
const WHO: (&str, &str) = ("team", "sign-myapp");

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A `dir:` image, its digest, and a lookaside in `dir`.
fn image(dir: &std::path::Path) -> (String, String, String) {
    let (image, lookaside) = image_and_lookaside(dir);
    let manifest = std::fs::read(dir.join("image/manifest.json")).expect("manifest");
    let digest = sig::manifest_digest(&manifest).expect("digest").to_string();
    (image, lookaside, digest)
}

/// A context whose resolver pins any image to `registry.example/team/app@DIGEST`
/// and counts its calls.
fn context(digest: &str) -> (Arc<Context>, Handle, Arc<AtomicUsize>) {
    let digest = digest.to_owned();
    context_with(move || {
        Ok(Pinned {
            repo_at_digest: format!("registry.example/team/app@{digest}"),
            digest: digest.clone(),
        })
    })
}

/// A context whose resolver answers `answer()` and counts its calls.
fn context_with(
    answer: impl Fn() -> Result<Pinned, crate::scanning::Unresolved>
    + std::marker::Send
    + Sync
    + 'static,
) -> (Arc<Context>, Handle, Arc<AtomicUsize>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let resolver: Resolver = Arc::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        let answer = answer();
        Box::pin(async move { answer })
    });
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let ctx = Context {
        now: Arc::new(now),
        ..Context::new(
            Client::new(service, "default"),
            Pipeline::new(registry),
            ScanJobConfig::new("scanner:1"),
            resolver,
            None,
        )
    };
    (Arc::new(ctx), handle, calls)
}

fn request(image: &str, lookaside: &str, status: Option<RequestStatus>) -> ImageSigningRequest {
    let mut obj = ImageSigningRequest::new(
        "sign-myapp",
        ImageSigningRequestSpec {
            image: Some(image.to_owned()),
            identity: Some("registry.example/team/app:1".into()),
            signing_key_secret_name: Some("signer".into()),
            require_scan: true,
            store: Some(StoreOverride {
                lookaside: Some(lookaside.to_owned()),
            }),
            ..ImageSigningRequestSpec::default()
        },
    );
    obj.metadata.namespace = Some("team".into());
    obj.metadata.generation = Some(1);
    obj.metadata.uid = Some(UID.into());
    obj.status = status;
    obj
}

fn question(obj: &ImageSigningRequest, digest: &str) -> ScanQuestion {
    ScanQuestion::of_signing(&obj.spec, digest)
}

fn own_name(obj: &ImageSigningRequest, digest: &str) -> String {
    question(obj, digest).request_name("sign-myapp", UID)
}

/// A scanning request `name` for the signing request's question, finished
/// at `ended` with the gate `passed` (or `None`: still running).
fn scan(
    obj: &ImageSigningRequest,
    digest: &str,
    name: &str,
    ended: Option<(SystemTime, bool)>,
) -> ImageScanningRequest {
    let q = question(obj, digest);
    let mut scan = ImageScanningRequest::new(
        name,
        q.scanning_spec(format!("docker://registry.example/team/app@{digest}")),
    );
    scan.metadata.namespace = Some("team".into());
    scan.metadata.generation = Some(1);
    let mut status = RequestStatus {
        phase: Some(Phase::Running),
        image_digest: Some(digest.into()),
        ..RequestStatus::default()
    };
    if let Some((t, passed)) = ended {
        status.phase = Some(if passed {
            Phase::Completed
        } else {
            Phase::Failed
        });
        status.end_time = Some(rfc3339(t));
        status.scan_result = Some(ScanCounts {
            total_rules: 120,
            passed_rules: 100,
            failed_rules: 20,
        });
        status.gate = Some(GateVerdict {
            passed,
            reasons: if passed {
                vec![]
            } else {
                vec!["2 high failures, at most 0 allowed".into()]
            },
            waived: vec![],
        });
        let (s, reason, message) = if passed {
            (ConditionStatus::True, "Completed", "done".to_owned())
        } else {
            (
                ConditionStatus::False,
                "GateFailed",
                "the scan did not pass the gate: 2 high failures, at most 0 allowed".to_owned(),
            )
        };
        status.set_condition(ConditionType::Ready, s, reason, message, Some(1), t);
    }
    scan.status = Some(status);
    scan
}

/// Answers the list of the namespace's scanning requests.
async fn expect_list(handle: &mut Handle, items: Vec<ImageScanningRequest>) {
    let (_, send) = expect(handle, Method::GET, &format!("{SCANS_URI}?")).await;
    respond_ok(
        send,
        &json!({"apiVersion": "cop.redhat.com/v1alpha2", "kind": "ImageScanningRequestList",
                "metadata": {"resourceVersion": "7"}, "items": items}),
    );
}

fn applied(send: Responder) {
    respond_ok(
        send,
        &ImageSigningRequest::new("sign-myapp", ImageSigningRequestSpec::default()),
    );
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {status}"))
}

fn key_secret() -> (sig::GeneratedKey, k8s_openapi::api::core::v1::Secret) {
    let key = sig::generate_key(sig::KeyGenOptions::new(
        "Release Signer <release@example.com>",
    ))
    .expect("key");
    let armored = key.secret_armored(None).expect("armored");
    let secret = secret(&[("key", armored.to_vec())]);
    (key, secret)
}

async fn run(
    obj: ImageSigningRequest,
    ctx: Arc<Context>,
    scenario: tokio::task::JoinHandle<Handle>,
) -> Action {
    let action = reconcile(Arc::new(obj), ctx).await.expect("reconcile");
    crate::testing::finished(scenario).await;
    action
}

/// A passed scan of the same digest, settings and gate, an hour old (under
/// the default 24 h): reused, no scanning request made; the scanned digest
/// is signed, the scan's counts copied and the scan named.
#[tokio::test]
async fn a_fresh_passed_scan_is_reused_and_its_digest_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, resolutions) = context(&digest);
    let obj = request(&image, &lookaside, None);
    let fresh = scan(
        &obj,
        &digest,
        "earlier-scan",
        Some((now() - Duration::from_secs(3600), true)),
    );
    let (key, secret) = key_secret();
    let fingerprint = key.fingerprint().to_string();
    let want_digest = digest.clone();
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![fresh]).await;
        let (_, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond_ok(send, &secret);
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed", "{status}");
        assert_eq!(status["imageDigest"], want_digest.as_str());
        assert_eq!(
            status["scanResult"],
            json!({"totalRules": 120, "passedRules": 100, "failedRules": 20})
        );
        assert_eq!(status["gate"]["passed"], true);
        assert_eq!(
            condition(status, "Scanned")["message"],
            format!(
                "{want_digest} by ImageScanningRequest earlier-scan: 120 rules, 100 passed, 20 failed"
            )
        );
        assert_eq!(
            condition(status, "GatePassed")["message"],
            "ImageScanningRequest earlier-scan passed the gate"
        );
        assert_eq!(condition(status, "Ready")["status"], "True");
        assert_eq!(status["signature"]["fingerprint"], fingerprint.as_str());
        applied(send);
        expect_event(&mut handle, WHO, "Normal", "Signed", &fingerprint).await;
        expect_event(&mut handle, WHO, "Normal", "Published", "/signature-1").await;
        expect_event(&mut handle, WHO, "Normal", "Verified", "").await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::await_change());
    assert_eq!(resolutions.load(Ordering::SeqCst), 1);
    assert_eq!(walk(&dir.path().join("sigstore")).len(), 1, "one signature");
}

/// The same scan 25 hours old (over the default 24 h) is not reused: the
/// key Secret is checked, the request's own scanning request created
/// (owned, labelled, pinned by digest, the gate spelled out), and the
/// status says it waits for it.
#[tokio::test]
async fn a_stale_scan_is_not_reused_and_a_scanning_request_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, _) = context(&digest);
    let obj = request(&image, &lookaside, None);
    let stale = scan(
        &obj,
        &digest,
        "earlier-scan",
        Some((now() - Duration::from_secs(25 * 3600), true)),
    );
    let own = own_name(&obj, &digest);
    let (_, secret) = key_secret();
    let want_digest = digest.clone();
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![stale]).await;
        let (_, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond_ok(send, &secret);
        let (body, send) = expect(&mut handle, Method::POST, &format!("{SCANS_URI}?")).await;
        assert_eq!(
            body,
            json!({
                "apiVersion": "cop.redhat.com/v1alpha2",
                "kind": "ImageScanningRequest",
                "metadata": {
                    "name": own,
                    "namespace": "team",
                    "labels": {"imprimatur.cop.redhat.com/signing-request": "sign-myapp"},
                    "ownerReferences": [{
                        "apiVersion": "cop.redhat.com/v1alpha2",
                        "kind": "ImageSigningRequest",
                        "name": "sign-myapp",
                        "uid": UID,
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": {
                    "image": format!("docker://registry.example/team/app@{want_digest}"),
                    "gate": serde_json::to_value(imprimatur::arf::Gate::default()).expect("gate"),
                },
            })
        );
        respond_ok(send, &body);
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["imageDigest"], want_digest.as_str());
        assert_eq!(
            status["unsignedImage"],
            format!("registry.example/team/app@{want_digest}")
        );
        let scanned = condition(status, "Scanned");
        assert_eq!(scanned["status"], "Unknown");
        assert_eq!(scanned["reason"], "WaitingForScan");
        assert_eq!(
            scanned["message"],
            format!("waiting for ImageScanningRequest {own} to scan {want_digest}")
        );
        applied(send);
        let note = format!("created ImageScanningRequest {own} to scan {want_digest}");
        expect_event(&mut handle, WHO, "Normal", "ScanRequested", &note).await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::requeue(WAIT_REQUEUE));
    assert!(
        walk(&dir.path().join("sigstore")).is_empty(),
        "nothing signed"
    );
}

/// The status after the scanning request `own` was made for `digest`.
fn waiting_status(own: &str, digest: &str) -> RequestStatus {
    let mut status = RequestStatus {
        phase: Some(Phase::Running),
        image_digest: Some(digest.into()),
        unsigned_image: Some(format!("registry.example/team/app@{digest}")),
        ..RequestStatus::default()
    };
    status.set_condition(
        ConditionType::Scanned,
        ConditionStatus::Unknown,
        WAITING,
        format!("waiting for ImageScanningRequest {own} to scan {digest}"),
        Some(1),
        now(),
    );
    status
}

/// Its scan still running: nothing written, nothing resolved, a long
/// requeue (the watch on its scanning requests wakes it).
#[tokio::test]
async fn while_its_scan_runs_it_waits_without_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, resolutions) = context(&digest);
    let probe = request(&image, &lookaside, None);
    let own = own_name(&probe, &digest);
    let running = scan(&probe, &digest, &own, None);
    let obj = request(&image, &lookaside, Some(waiting_status(&own, &digest)));
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![running]).await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::requeue(WAIT_REQUEUE));
    assert_eq!(resolutions.load(Ordering::SeqCst), 0, "the recorded digest");
}

/// Its scan passed: signed at once on it (however short `maxScanAge`).
#[tokio::test]
async fn its_own_passed_scan_is_signed_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, _) = context(&digest);
    let probe = request(&image, &lookaside, None);
    let own = own_name(&probe, &digest);
    let passed = scan(
        &probe,
        &digest,
        &own,
        Some((now() - Duration::from_secs(5), true)),
    );
    let mut obj = request(&image, &lookaside, Some(waiting_status(&own, &digest)));
    obj.spec.max_scan_age = Some("0s".into());
    let (_, secret) = key_secret();
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![passed]).await;
        let (_, send) = expect(&mut handle, Method::GET, SECRET_URI).await;
        respond_ok(send, &secret);
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        assert_eq!(body["status"]["phase"], "Completed", "{body}");
        assert!(
            condition(&body["status"], "Scanned")["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("by ImageScanningRequest {own}:"))),
            "{body}"
        );
        applied(send);
        for reason in ["Signed", "Published", "Verified"] {
            expect_event(&mut handle, WHO, "Normal", reason, "").await;
        }
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::await_change());
    assert_eq!(walk(&dir.path().join("sigstore")).len(), 1);
}

/// Its scan failed the gate: `Failed`, reason `GateFailed`, naming the scan
/// and its reasons, its counts copied; nothing signed.
#[tokio::test]
async fn a_scan_that_failed_the_gate_fails_the_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, _) = context(&digest);
    let probe = request(&image, &lookaside, None);
    let own = own_name(&probe, &digest);
    let failed = scan(&probe, &digest, &own, Some((now(), false)));
    let obj = request(&image, &lookaside, Some(waiting_status(&own, &digest)));
    let name = own.clone();
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![failed]).await;
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed");
        assert_eq!(status["scanResult"]["failedRules"], 20);
        assert_eq!(status["gate"]["passed"], false);
        let ready = condition(status, "Ready");
        assert_eq!(ready["reason"], "GateFailed");
        assert_eq!(
            ready["message"],
            format!("{name}: the scan did not pass the gate: 2 high failures, at most 0 allowed")
        );
        assert_eq!(condition(status, "GatePassed")["status"], "False");
        applied(send);
        expect_event(&mut handle, WHO, "Warning", "GateFailed", &name).await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::await_change());
    assert!(walk(&dir.path().join("sigstore")).is_empty());
}

/// Its scan failed for another reason: `Failed` with that reason.
#[tokio::test]
async fn a_scan_that_failed_fails_the_request_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, _) = context(&digest);
    let probe = request(&image, &lookaside, None);
    let own = own_name(&probe, &digest);
    let mut failed = scan(&probe, &digest, &own, Some((now(), false)));
    if let Some(status) = failed.status.as_mut() {
        status.gate = None;
        status.set_condition(
            ConditionType::Ready,
            ConditionStatus::False,
            "ScanJobFailed",
            "the scan Job failed (DeadlineExceeded)",
            Some(1),
            now(),
        );
    }
    let obj = request(&image, &lookaside, Some(waiting_status(&own, &digest)));
    let name = own.clone();
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![failed]).await;
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let ready = condition(&body["status"], "Ready");
        assert_eq!(body["status"]["phase"], "Failed");
        assert_eq!(ready["reason"], "ScanJobFailed");
        assert_eq!(
            ready["message"],
            format!("ImageScanningRequest {name} failed: the scan Job failed (DeadlineExceeded)")
        );
        applied(send);
        expect_event(
            &mut handle,
            WHO,
            "Warning",
            "ScanJobFailed",
            "DeadlineExceeded",
        )
        .await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::await_change());
}

/// A `maxScanAge` that is not a duration: `Failed`, `InvalidRequest`,
/// saying what is wrong, before anything is resolved or listed.
#[tokio::test]
async fn a_bad_max_scan_age_fails_the_request_saying_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, resolutions) = context(&digest);
    let mut obj = request(&image, &lookaside, None);
    obj.spec.max_scan_age = Some("1d".into());
    let scenario = tokio::spawn(async move {
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let ready = condition(&body["status"], "Ready");
        assert_eq!(body["status"]["phase"], "Failed");
        assert_eq!(ready["reason"], "InvalidRequest");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("spec.maxScanAge: duration \"1d\": unexpected 'd'")),
            "{ready}"
        );
        applied(send);
        expect_event(&mut handle, WHO, "Warning", "InvalidRequest", "maxScanAge").await;
        handle
    });
    assert_eq!(run(obj, ctx, scenario).await, Action::await_change());
    assert_eq!(resolutions.load(Ordering::SeqCst), 0);
}

/// Its own scan passed too long ago (a signing that kept failing for more
/// than a day): deleted, to be made again on the next pass.
#[tokio::test]
async fn its_own_scan_grown_stale_is_deleted_to_be_made_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, digest) = image(dir.path());
    let (ctx, mut handle, _) = context(&digest);
    let probe = request(&image, &lookaside, None);
    let own = own_name(&probe, &digest);
    let old = scan(
        &probe,
        &digest,
        &own,
        Some((now() - Duration::from_secs(25 * 3600), true)),
    );
    let obj = request(&image, &lookaside, Some(waiting_status(&own, &digest)));
    let scenario = tokio::spawn(async move {
        expect_list(&mut handle, vec![old.clone()]).await;
        let (body, send) =
            expect(&mut handle, Method::DELETE, &format!("{SCANS_URI}/{own}?")).await;
        assert_eq!(body["propagationPolicy"], "Background");
        respond_ok(send, &old);
        handle
    });
    assert_eq!(
        run(obj, ctx, scenario).await,
        Action::requeue(REPLACE_REQUEUE)
    );
}

/// The registry unreachable while resolving: `Running`, `Ready=False`
/// reason `Retrying` saying why and when, a warning, and a requeue after
/// the first backoff delay (5 s); nothing listed or created.
#[tokio::test]
async fn an_unreachable_registry_is_retried_with_backoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, lookaside, _) = image(dir.path());
    let (ctx, mut handle, resolutions) = context_with(|| {
        Err(crate::scanning::Unresolved {
            message: "registry.example: connection refused".into(),
            transient: true,
        })
    });
    let scenario = tokio::spawn(async move {
        let (body, send) = expect(&mut handle, Method::PATCH, STATUS_URI).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Running");
        let ready = condition(status, "Ready");
        assert_eq!(ready["reason"], "Retrying");
        assert_eq!(
            ready["message"],
            "registry.example: connection refused; attempt 1 failed, retrying in 5 s"
        );
        applied(send);
        expect_event(
            &mut handle,
            WHO,
            "Warning",
            "Retrying",
            "connection refused",
        )
        .await;
        handle
    });
    let obj = request(&image, &lookaside, None);
    assert_eq!(
        run(obj, ctx, scenario).await,
        Action::requeue(Duration::from_secs(5))
    );
    assert_eq!(resolutions.load(Ordering::SeqCst), 1);
}
