//! One test per branch of [`reconcile_scanning`], each asserting the exact
//! requests made (kube's client over tower-test's mock service) and the
//! status written.

use super::*;
use http::{Method, Request as HttpRequest, Response, StatusCode};
use imprimatur::service::request::ImageScanningRequestSpec;
use imprimatur::service::scan_job::ScanJobConfig;
use imprimatur::service::status::ScanCounts;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use crate::testing::{
    Handle, Responder, expect_event, expect_request as expect, respond_ok as respond_json,
};

const UID: &str = "6f1c1f5e-2b7a-4c55-9d0e-1a2b3c4d5e6f";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const REQUEST_STATUS: &str = "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagescanningrequests/scan-myapp/status?&force=true&fieldManager=imprimatur";

fn job_name() -> String {
    scan_job::job_name(UID, DIGEST)
}

fn job_uri() -> String {
    format!("/apis/batch/v1/namespaces/team/jobs/{}", job_name())
}

/// A context whose resolver answers `registry.example/team/app@DIGEST` and
/// counts its calls.
fn context() -> (Arc<Context>, Handle, Arc<AtomicUsize>) {
    context_with(|| {
        Ok(Pinned {
            repo_at_digest: format!("registry.example/team/app@{DIGEST}"),
            digest: DIGEST.into(),
        })
    })
}

/// A context whose resolver answers `answer()` for the request's image and
/// counts its calls.
fn context_with(
    answer: impl Fn() -> Result<Pinned, Unresolved> + Send + Sync + 'static,
) -> (Arc<Context>, Handle, Arc<AtomicUsize>) {
    let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
    let resolutions = Arc::new(AtomicUsize::new(0));
    let counter = resolutions.clone();
    let resolver: Resolver = Arc::new(move |target| {
        counter.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            target,
            ImageTarget::Image("registry.example/team/app:1".into())
        );
        let answer = answer();
        Box::pin(async move { answer })
    });
    let registry = imprimatur::registry::RegistryClient::builder()
        .build()
        .expect("registry client");
    let ctx = Context {
        now: Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        ..Context::new(
            Client::new(service, "default"),
            Pipeline::new(registry),
            ScanJobConfig::new("quay.io/imprimatur/imprimatur:1"),
            resolver,
            None,
        )
    };
    (Arc::new(ctx), handle, resolutions)
}

fn request(status: Option<RequestStatus>) -> ImageScanningRequest {
    let mut obj = ImageScanningRequest::new(
        "scan-myapp",
        ImageScanningRequestSpec {
            image: Some("registry.example/team/app:1".into()),
            ..ImageScanningRequestSpec::default()
        },
    );
    obj.metadata.namespace = Some("team".into());
    obj.metadata.uid = Some(UID.into());
    obj.metadata.generation = Some(2);
    obj.status = status;
    obj
}

/// The status after the Job was created for generation 2.
fn job_created_status() -> RequestStatus {
    let mut status = RequestStatus {
        phase: Some(Phase::Running),
        image_digest: Some(DIGEST.into()),
        unsigned_image: Some(format!("registry.example/team/app@{DIGEST}")),
        ..RequestStatus::default()
    };
    status.set_condition(
        ConditionType::Scanned,
        ConditionStatus::Unknown,
        "JobCreated",
        "created",
        Some(2),
        UNIX_EPOCH,
    );
    status
}

/// Answers with `code` and raw `body` bytes (a pod's log).
fn respond(send: Responder, code: StatusCode, body: Vec<u8>) {
    send.send_response(
        Response::builder()
            .status(code)
            .body(Body::from(body))
            .expect("response"),
    );
}

fn not_found(send: Responder) {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "jobs.batch \"x\" not found", "reason": "NotFound", "code": 404
    });
    respond(
        send,
        StatusCode::NOT_FOUND,
        serde_json::to_vec(&status).expect("json"),
    );
}

fn job_with(status: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job_name(), "namespace": "team",
            "annotations": {"imprimatur.cop.redhat.com/request-generation": "2"},
        },
        "status": status,
    })
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} condition in {status}"))
}

/// Nothing more was asked.
async fn no_more_requests(mut handle: Handle) {
    crate::testing::assert_no_more_requests(&mut handle).await;
}

async fn run_scenario(
    obj: ImageScanningRequest,
    ctx: Arc<Context>,
    scenario: tokio::task::JoinHandle<Handle>,
) -> (Action, Handle) {
    let action = reconcile_scanning(Arc::new(obj), ctx)
        .await
        .expect("reconcile");
    let handle = tokio::time::timeout(Duration::from_secs(1), scenario)
        .await
        .expect("scenario finished in time")
        .expect("scenario passed");
    (action, handle)
}

#[tokio::test]
async fn without_a_job_the_job_is_created_and_the_status_says_running() {
    let (ctx, mut handle, resolutions) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, Method::GET, &job_uri()).await;
        not_found(send);
        let (job, send) = expect(
            &mut handle,
            Method::POST,
            "/apis/batch/v1/namespaces/team/jobs?",
        )
        .await;
        assert_eq!(job["metadata"]["name"], job_name());
        assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], UID);
        assert_eq!(job["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(job["spec"]["backoffLimit"], 0);
        let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(
            args[1],
            format!("docker://registry.example/team/app@{DIGEST}")
        );
        respond_json(send, &job);
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["imageDigest"], DIGEST);
        assert_eq!(
            status["unsignedImage"],
            format!("registry.example/team/app@{DIGEST}")
        );
        let scanned = condition(status, "Scanned");
        assert_eq!(scanned["status"], "Unknown");
        assert_eq!(scanned["reason"], "JobCreated");
        assert_eq!(scanned["observedGeneration"], 2);
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Normal",
            "ScanJobCreated",
            &format!("scan Job {} created for {DIGEST}", job_name()),
        )
        .await;
        handle
    });
    let (action, handle) = run_scenario(request(None), ctx, scenario).await;
    assert_eq!(action, Action::requeue(RUNNING_REQUEUE));
    assert_eq!(resolutions.load(Ordering::SeqCst), 1);
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_running_job_is_requeued_without_writes_or_resolution() {
    let (ctx, mut handle, resolutions) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, Method::GET, &job_uri()).await;
        respond_json(send, &job_with(json!({"active": 1})));
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::requeue(RUNNING_REQUEUE));
    assert_eq!(
        resolutions.load(Ordering::SeqCst),
        0,
        "the recorded digest is used"
    );
    no_more_requests(handle).await;
}

fn counts() -> ScanCounts {
    ScanCounts {
        total_rules: 120,
        passed_rules: 100,
        failed_rules: 20,
    }
}

/// The log and termination message of a real encoded result.
fn scanner_output() -> (String, String) {
    let result = ScanResult::new(DIGEST, counts());
    let encoded = scan_result::encode(&result).expect("encode");
    let log = format!(
        "{{\"event\":\"started\",\"step\":\"scan\"}}\n{}",
        encoded.frame
    );
    (log, encoded.termination.to_json().expect("termination"))
}

fn pod_list(termination: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {},
        "items": [{
            "metadata": {"name": "scan-pod-1", "namespace": "team", "creationTimestamp": "2027-01-15T08:00:00Z"},
            "status": {"containerStatuses": [{
                "name": "scan", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "message": termination}}
            }]}
        }]
    })
}

const PODS_URI: &str =
    "/api/v1/namespaces/team/pods?&labelSelector=imprimatur.cop.redhat.com%2Fscan-job%3D";
const LOG_QUERY: &str = "/log?&container=scan&limitBytes=8388609";

/// GET job (finished), list its pod, read the log.
async fn finished_job_reads(handle: &mut Handle, job_status: Value, termination: &str, log: &str) {
    let (_, send) = expect(handle, Method::GET, &job_uri()).await;
    respond_json(send, &job_with(job_status));
    let (_, send) = expect(handle, Method::GET, &format!("{PODS_URI}{}", job_name())).await;
    respond_json(send, &pod_list(termination));
    let (_, send) = expect(
        handle,
        Method::GET,
        &format!("/api/v1/namespaces/team/pods/scan-pod-1{LOG_QUERY}"),
    )
    .await;
    respond(send, StatusCode::OK, log.as_bytes().to_vec());
}

fn complete() -> Value {
    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
}

#[tokio::test]
async fn a_succeeded_job_with_a_good_log_becomes_the_status_and_is_deleted() {
    let (ctx, mut handle, _) = context();
    let (log, termination) = scanner_output();
    let scenario = tokio::spawn(async move {
        finished_job_reads(&mut handle, complete(), &termination, &log).await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed");
        assert_eq!(
            status["scanResult"],
            json!({"totalRules": 120, "passedRules": 100, "failedRules": 20})
        );
        assert_eq!(condition(status, "Scanned")["status"], "True");
        assert_eq!(condition(status, "Ready")["status"], "True");
        assert_eq!(condition(status, "Ready")["observedGeneration"], 2);
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Normal",
            "Scanned",
            "120 rules, 100 passed, 20 failed",
        )
        .await;
        let (body, send) = expect(&mut handle, Method::DELETE, &format!("{}?", job_uri())).await;
        assert_eq!(body["propagationPolicy"], "Background");
        respond_json(send, &job_with(json!({})));
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::await_change());
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_log_whose_hash_does_not_match_fails_the_request_and_keeps_the_job() {
    let (ctx, mut handle, _) = context();
    let (log, termination) = scanner_output();
    // One payload character changed: same length, another SHA-256.
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let first_payload = &mut lines[2];
    let swapped = if first_payload.starts_with('A') {
        "B"
    } else {
        "A"
    };
    first_payload.replace_range(0..1, swapped);
    let tampered = lines.join("\n") + "\n";
    let scenario = tokio::spawn(async move {
        finished_job_reads(&mut handle, complete(), &termination, &tampered).await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed");
        assert!(
            status.get("scanResult").is_none(),
            "no counts believed: {status}"
        );
        let ready = condition(status, "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ScanResultRejected");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("SHA-256")),
            "{ready}"
        );
        assert_eq!(condition(status, "Scanned")["status"], "False");
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "ScanResultRejected",
            "SHA-256",
        )
        .await;
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::await_change());
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_failed_job_without_a_frame_fails_with_its_reason_and_log_tail() {
    let (ctx, mut handle, _) = context();
    let failed = json!({"failed": 1, "conditions": [{
        "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
        "message": "Job was active longer than specified deadline"
    }]});
    let scenario = tokio::spawn(async move {
        finished_job_reads(&mut handle, failed, "", "pulling 3 MB\noscap: killed\n").await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed");
        let ready = condition(status, "Ready");
        assert_eq!(ready["reason"], "ScanJobFailed");
        let message = ready["message"].as_str().expect("message");
        assert!(message.contains("DeadlineExceeded"), "{message}");
        assert!(message.contains("oscap: killed"), "{message}");
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "ScanJobFailed",
            "DeadlineExceeded",
        )
        .await;
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::await_change());
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_scan_that_reported_its_error_fails_with_that_error() {
    let (ctx, mut handle, _) = context();
    let termination = scan_result::TerminationMessage::failure("no SCAP content for alpine 3.20")
        .to_json()
        .expect("json");
    let failed = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
    let scenario = tokio::spawn(async move {
        finished_job_reads(
            &mut handle,
            failed,
            &termination,
            "error: no SCAP content\n",
        )
        .await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let ready = condition(&body["status"], "Ready");
        assert_eq!(ready["reason"], "ScanFailed");
        assert_eq!(
            ready["message"],
            "the scan failed: no SCAP content for alpine 3.20"
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "ScanFailed",
            "no SCAP content for alpine 3.20",
        )
        .await;
        handle
    });
    let (_, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_request_without_an_image_fails_without_a_job() {
    let (ctx, mut handle, resolutions) = context();
    let scenario = tokio::spawn(async move {
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let ready = condition(&body["status"], "Ready");
        assert_eq!(body["status"]["phase"], "Failed");
        assert_eq!(ready["reason"], "InvalidRequest");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("spec.imageStreamTag or spec.image is required")),
            "{ready}"
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "InvalidRequest",
            "spec.imageStreamTag or spec.image is required",
        )
        .await;
        handle
    });
    let mut obj = request(None);
    obj.spec.image = None;
    let (action, handle) = run_scenario(obj, ctx, scenario).await;
    assert_eq!(action, Action::await_change());
    assert_eq!(resolutions.load(Ordering::SeqCst), 0);
    no_more_requests(handle).await;
}

#[tokio::test]
async fn a_finished_job_of_an_older_generation_is_deleted_not_read() {
    let (ctx, mut handle, _) = context();
    let scenario = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, Method::GET, &job_uri()).await;
        let mut job = job_with(complete());
        job["metadata"]["annotations"]["imprimatur.cop.redhat.com/request-generation"] = json!("1");
        respond_json(send, &job);
        let (body, send) = expect(&mut handle, Method::DELETE, &format!("{}?", job_uri())).await;
        assert_eq!(body["propagationPolicy"], "Background");
        respond_json(send, &job);
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::requeue(STALE_JOB_REQUEUE));
    no_more_requests(handle).await;
}

/// A failed gate exits 1, so the Job fails; its verified frame still is the
/// result: the request fails with the gate's reasons, counts recorded.
#[tokio::test]
async fn a_job_failed_by_the_gate_still_delivers_its_verified_result() {
    use imprimatur::service::status::GateVerdict;
    let (ctx, mut handle, _) = context();
    let mut result = scan_result::ScanResult::new(DIGEST, counts());
    result.gate = Some(GateVerdict {
        passed: false,
        reasons: vec!["2 high failures, at most 0 allowed".into()],
        waived: vec![],
    });
    let encoded = scan_result::encode(&result).expect("encode");
    let termination = encoded.termination.to_json().expect("json");
    let failed = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
    let scenario = tokio::spawn(async move {
        finished_job_reads(&mut handle, failed, &termination, &encoded.frame).await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Failed");
        assert_eq!(status["scanResult"]["failedRules"], 20);
        assert_eq!(condition(status, "Scanned")["status"], "True");
        assert_eq!(condition(status, "GatePassed")["status"], "False");
        let ready = condition(status, "Ready");
        assert_eq!(ready["reason"], "GateFailed");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("2 high failures")),
            "{ready}"
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Normal",
            "Scanned",
            "120 rules",
        )
        .await;
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "GateFailed",
            "2 high failures",
        )
        .await;
        let (_, send) = expect(&mut handle, Method::DELETE, &format!("{}?", job_uri())).await;
        respond_json(send, &job_with(json!({})));
        handle
    });
    let (action, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    assert_eq!(action, Action::await_change());
    no_more_requests(handle).await;
}

/// A Job failed by its gate whose log was tampered with: the hash mismatch
/// is the reason, not the Job's failure.
#[tokio::test]
async fn a_failed_job_with_a_tampered_frame_is_rejected_for_its_hash() {
    let (ctx, mut handle, _) = context();
    let (log, termination) = scanner_output();
    let tampered = log.replacen("\nH4sI", "\nH4sJ", 1);
    assert_ne!(tampered, log, "the gzip magic starts the payload");
    let failed = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
    let scenario = tokio::spawn(async move {
        finished_job_reads(&mut handle, failed, &termination, &tampered).await;
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let ready = condition(&body["status"], "Ready");
        assert_eq!(ready["reason"], "ScanResultRejected");
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("SHA-256")),
            "{ready}"
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "ScanResultRejected",
            "SHA-256",
        )
        .await;
        handle
    });
    let (_, handle) = run_scenario(request(Some(job_created_status())), ctx, scenario).await;
    no_more_requests(handle).await;
}

/// A finished request (run 1 ended 10 s ago) that rescans every 60 s: no
/// call at all, requeued for the remaining 50 s.
#[tokio::test]
async fn a_finished_request_waits_for_its_rescan_without_calls() {
    let (ctx, handle, resolutions) = context();
    let mut obj = request(Some(finished_status(10)));
    obj.spec.rescan_interval_seconds = Some(60);
    let action = reconcile_scanning(Arc::new(obj), ctx)
        .await
        .expect("reconcile");
    assert_eq!(action, Action::requeue(Duration::from_secs(50)));
    assert_eq!(resolutions.load(Ordering::SeqCst), 0);
    no_more_requests(handle).await;
}

/// Run 1 of generation 2, Completed `ago` seconds before the context's now,
/// its failed rules and CVEs recorded.
fn finished_status(ago: u64) -> RequestStatus {
    let ended = UNIX_EPOCH + Duration::from_secs(1_800_000_000 - ago);
    let mut status = job_created_status();
    let mut result = ScanResult::new(DIGEST, counts());
    result.failed_rules = vec!["rule_a".into()];
    result.present_cves = vec!["CVE-2024-1".into()];
    result.apply_to(&mut status, Some(2), ended);
    status.scan_run = Some(1);
    imprimatur::service::freshness::record_run(&mut status, None, ended);
    status
}

fn run_job_uri(run: u64) -> String {
    format!(
        "/apis/batch/v1/namespaces/team/jobs/{}",
        scan_job::run_job_name(UID, DIGEST, run)
    )
}

/// Due (run 1 ended 61 s ago, every 60 s): the image is resolved again and
/// run 2's own Job created; the status says Running, run 2, and keeps run
/// 1's result and history until run 2 has one.
#[tokio::test]
async fn a_due_rescan_resolves_again_and_runs_a_new_job() {
    let (ctx, mut handle, resolutions) = context();
    let second = scan_job::run_job_name(UID, DIGEST, 2);
    assert_ne!(second, job_name());
    let scenario = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, Method::GET, &run_job_uri(2)).await;
        not_found(send);
        let (job, send) = expect(
            &mut handle,
            Method::POST,
            "/apis/batch/v1/namespaces/team/jobs?",
        )
        .await;
        assert_eq!(job["metadata"]["name"], second);
        assert_eq!(
            job["metadata"]["annotations"]["imprimatur.cop.redhat.com/scan-run"],
            "2"
        );
        respond_json(send, &job);
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["scanRun"], 2);
        assert!(status.get("endTime").is_none(), "{status}");
        assert_eq!(
            status["scanResult"]["failedRules"], 20,
            "run 1's result kept"
        );
        assert_eq!(status["scanHistory"].as_array().map(Vec::len), Some(1));
        let scanned = condition(status, "Scanned");
        assert_eq!(
            (scanned["status"].as_str(), scanned["reason"].as_str()),
            (Some("Unknown"), Some("JobCreated"))
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        let note = format!("scan Job {second} created for {DIGEST} (run 2)");
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Normal",
            "ScanJobCreated",
            &note,
        )
        .await;
        handle
    });
    let mut obj = request(Some(finished_status(61)));
    obj.spec.rescan_interval_seconds = Some(60);
    let (action, handle) = run_scenario(obj, ctx, scenario).await;
    assert_eq!(action, Action::requeue(RUNNING_REQUEUE));
    assert_eq!(resolutions.load(Ordering::SeqCst), 1, "resolved again");
    no_more_requests(handle).await;
}

/// Run 2 finished with a rule and a CVE that run 1 did not have: both are
/// `newFindings` and in a `NewFindings` warning, the history has both runs,
/// the counter counts them, and the request is requeued for run 3.
#[tokio::test]
async fn a_rescan_with_new_findings_records_them_and_warns() {
    let (ctx, mut handle, _) = context();
    let mut status = finished_status(120);
    // Run 2's Job was created (as the previous test's status write says).
    status.phase = Some(Phase::Running);
    status.end_time = None;
    status.scan_run = Some(2);
    status.set_condition(
        ConditionType::Scanned,
        ConditionStatus::Unknown,
        "JobCreated",
        "created",
        Some(2),
        UNIX_EPOCH,
    );
    let mut result = ScanResult::new(DIGEST, counts());
    result.failed_rules = vec!["rule_a".into(), "rule_b".into()];
    result.present_cves = vec!["CVE-2024-1".into(), "CVE-2026-7".into()];
    let encoded = scan_result::encode(&result).expect("encode");
    let termination = encoded.termination.to_json().expect("json");
    let second = scan_job::run_job_name(UID, DIGEST, 2);
    let metrics = ctx.metrics.clone();
    let scenario = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, Method::GET, &run_job_uri(2)).await;
        let mut job = job_with(complete());
        job["metadata"]["name"] = json!(second);
        respond_json(send, &job);
        let (_, send) = expect(&mut handle, Method::GET, &format!("{PODS_URI}{second}")).await;
        respond_json(send, &pod_list(&termination));
        let (_, send) = expect(
            &mut handle,
            Method::GET,
            &format!("/api/v1/namespaces/team/pods/scan-pod-1{LOG_QUERY}"),
        )
        .await;
        respond(send, StatusCode::OK, encoded.frame.into_bytes());
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Completed");
        assert_eq!(status["scanRun"], 2);
        assert_eq!(status["failedRules"], json!(["rule_a", "rule_b"]));
        assert_eq!(status["newFindings"], json!(["CVE-2026-7", "rule_b"]));
        assert_eq!(
            status["scanHistory"],
            json!([
                {"run": 1, "time": "2027-01-15T07:58:00Z", "imageDigest": DIGEST, "verdict": "none",
                 "passedRules": 100, "failedRules": 20},
                {"run": 2, "time": "2027-01-15T08:00:00Z", "imageDigest": DIGEST, "verdict": "none",
                 "passedRules": 100, "failedRules": 20, "newFindings": 2},
            ])
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        let who = ("team", "scan-myapp");
        expect_event(&mut handle, who, "Normal", "Scanned", "120 rules").await;
        expect_event(
            &mut handle,
            who,
            "Warning",
            "NewFindings",
            "run 2 found 2 new since the run before: CVE-2026-7, rule_b",
        )
        .await;
        let (_, send) = expect(&mut handle, Method::DELETE, &format!("{}?", run_job_uri(2))).await;
        respond_json(send, &job);
        handle
    });
    let mut obj = request(Some(status));
    obj.spec.rescan_interval_seconds = Some(3600);
    let (action, handle) = run_scenario(obj, ctx, scenario).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(3600)));
    no_more_requests(handle).await;
    let text = metrics.encode().expect("metrics");
    assert!(
        text.contains("imprimatur_new_findings_total{kind=\"ImageScanningRequest\"} 2\n"),
        "{text}"
    );
}

fn unreachable() -> Result<Pinned, Unresolved> {
    Err(Unresolved {
        message: "registry.example: connection refused".into(),
        transient: true,
    })
}

/// The registry unreachable for a first scan: `Running`, `Ready=False`
/// reason `Retrying` saying why and when, a warning, and a requeue after
/// the first backoff delay; no Job.
#[tokio::test]
async fn an_unreachable_registry_is_retried_with_backoff() {
    let (ctx, mut handle, resolutions) = context_with(unreachable);
    let scenario = tokio::spawn(async move {
        let (body, send) = expect(&mut handle, Method::PATCH, REQUEST_STATUS).await;
        let status = &body["status"];
        assert_eq!(status["phase"], "Running");
        let ready = condition(status, "Ready");
        assert_eq!(ready["reason"], "Retrying");
        assert_eq!(
            ready["message"],
            "registry.example: connection refused; attempt 1 failed, retrying in 5 s"
        );
        respond_json(send, &serde_json::to_value(request(None)).expect("json"));
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "Retrying",
            "connection refused",
        )
        .await;
        handle
    });
    let (action, handle) = run_scenario(request(None), ctx, scenario).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(5)));
    assert_eq!(resolutions.load(Ordering::SeqCst), 1);
    no_more_requests(handle).await;
}

/// The registry unreachable when a rescan is due: the last run's status
/// stays (it is still the current result; no write), a warning says the
/// rescan is postponed, and the delay grows with each attempt.
#[tokio::test]
async fn a_rescan_that_cannot_reach_the_registry_is_postponed_with_backoff() {
    let (ctx, mut handle, _) = context_with(unreachable);
    let scenario = tokio::spawn(async move {
        expect_event(
            &mut handle,
            ("team", "scan-myapp"),
            "Warning",
            "Retrying",
            "rescan postponed: registry.example: connection refused; attempt 1 failed, retrying in 5 s",
        )
        .await;
        // The same warning again: the recorder makes it a series (a PATCH).
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!(request.method(), Method::PATCH);
        assert!(
            request
                .uri()
                .path()
                .starts_with("/apis/events.k8s.io/v1/namespaces/team/events/scan-myapp."),
            "{}",
            request.uri()
        );
        let body = request.into_body().collect_bytes().await.expect("body");
        respond(send, StatusCode::OK, body.to_vec());
        handle
    });
    let mut obj = request(Some(finished_status(61)));
    obj.spec.rescan_interval_seconds = Some(60);
    let obj = Arc::new(obj);
    for delay in [5, 10] {
        let action = reconcile_scanning(obj.clone(), ctx.clone())
            .await
            .expect("reconcile");
        assert_eq!(action, Action::requeue(Duration::from_secs(delay)));
    }
    let handle = tokio::time::timeout(Duration::from_secs(1), scenario)
        .await
        .expect("scenario finished in time")
        .expect("scenario passed");
    no_more_requests(handle).await;
}
