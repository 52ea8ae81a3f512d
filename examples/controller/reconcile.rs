//! Reconciling `ImageSigningRequest` (and what both kinds share): a request
//! whose status already answers its current generation is left alone;
//! otherwise its status goes to `Running`, the service pipeline runs, and the
//! result is written. One that `requireScan` gets its scan from an
//! `ImageScanningRequest` first (`signing_scan.rs`). `ImageScanningRequest`s scan through Jobs instead
//! (`scanning.rs`). Every status write is a server-side apply of the status
//! subresource with one field manager ([`FIELD_MANAGER`]), so conditions merge
//! by type (the CRD declares them a list map).
//!
//! Each step is also an event (`events.rs`), published after the status
//! write it describes.
//!
//! No finalizer: deleting a request needs no cleanup by the controller. Its
//! scan Jobs carry an owner reference to it, so the garbage collector
//! deletes them with it; a signature it made is the point of the request
//! and must outlive it (it is what nodes verify); its keys were never
//! copied anywhere; its events expire on their own. A finalizer would only
//! add a write per request and a way for deletion to hang while the
//! controller is down.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use imprimatur::service::crd::{ImageScanningRequest, ImageSigningRequest};
use imprimatur::service::request::{Document, RequestMeta};
use imprimatur::service::scan_job::ScanJobConfig;
use imprimatur::service::status::{ConditionStatus, ConditionType, Phase, rfc3339};
use imprimatur::service::{Pipeline, Request, RequestStatus, RunOutput};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::events::{self, Collector, Notice};
use crate::keys::{self, KEY_UNAVAILABLE, NoSecretNamed};
use crate::metrics::Metrics;
use crate::scanning::Resolver;

/// The field manager of every status write.
pub(crate) const FIELD_MANAGER: &str = "imprimatur";

/// What reconcile needs.
pub(crate) struct Context {
    /// The API client.
    pub(crate) client: Client,
    /// The service pipeline, configured once.
    pub(crate) pipeline: Pipeline,
    /// The time source (fixed in tests).
    pub(crate) now: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    /// How scan Jobs are made.
    pub(crate) scan_jobs: ScanJobConfig,
    /// Resolves a scanning request's image to its digest (the pipeline's
    /// registry client; a fixed answer in tests).
    pub(crate) resolver: Resolver,
    /// Publishes the events of each step (`events.rs`).
    pub(crate) recorder: Recorder,
    /// The process's metrics (`metrics.rs`).
    pub(crate) metrics: Arc<Metrics>,
    /// Consecutive transient failures per request UID, for the backoff
    /// (in memory: a restarted controller starts again from the shortest).
    pub(crate) retries: Retries,
    /// How many requests of one kind are reconciled at once
    /// (`IMPRIMATUR_CONCURRENCY`, default [`DEFAULT_CONCURRENCY`]).
    pub(crate) concurrency: u16,
    /// Whether OpenShift's image API is used (`openshift.rs`): image
    /// streams are then also signed on push (`autosign.rs`).
    pub(crate) openshift: bool,
}

/// How many requests of one kind are reconciled at once by default. Each
/// holds a connection or two to the API server and to a registry while it
/// runs: without a bound, a backlog of a thousand requests (after an outage,
/// at a first start) opens a thousand connections at once, which the API
/// server's priority and fairness then throttles, or a registry refuses.
pub(crate) const DEFAULT_CONCURRENCY: u16 = 64;

/// Consecutive transient failures per request UID.
pub(crate) type Retries = Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>;

/// The delay before the `attempt`-th retry (1-based): 5 s doubling to at
/// most 5 minutes — never a busy loop, never a long outage forgotten.
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs((5u64 << attempt.saturating_sub(1).min(6)).min(300))
}

impl Context {
    /// A context on the system clock, whose events name `instance` (this
    /// replica's pod) as their reporting instance.
    pub(crate) fn new(
        client: Client,
        pipeline: Pipeline,
        scan_jobs: ScanJobConfig,
        resolver: Resolver,
        instance: Option<String>,
    ) -> Self {
        Context {
            recorder: events::recorder(client.clone(), instance),
            client,
            pipeline,
            now: Arc::new(SystemTime::now),
            scan_jobs,
            resolver,
            metrics: Arc::new(Metrics::new()),
            retries: Retries::default(),
            concurrency: DEFAULT_CONCURRENCY,
            openshift: false,
        }
    }

    /// Counts one more transient failure of `uid`; the delay before retrying.
    pub(crate) fn next_retry(&self, uid: &str) -> (u32, Duration) {
        let mut retries = self
            .retries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let attempt = retries.entry(uid.to_owned()).or_insert(0);
        *attempt += 1;
        (*attempt, retry_delay(*attempt))
    }

    /// Forgets `uid`'s transient failures (it finished, one way or another).
    pub(crate) fn clear_retries(&self, uid: &str) {
        self.retries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }
}

/// Why a reconcile failed (retried by the error policy).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The API server refused or could not be reached.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The object has no namespace or name.
    #[error("request without namespace or name")]
    Unnamed,
    /// The object has no UID (the scan Job's name needs it).
    #[error("request without a UID")]
    NoUid,
    /// Reading a scan pod's log failed midway.
    #[error("reading the scan pod's log: {0}")]
    Log(#[source] std::io::Error),
    /// A decision this controller does not know how to carry out (a newer
    /// library than the controller).
    #[error("unhandled decision: {0}")]
    Decision(String),
}

/// The two kinds, as reconcile sees them.
pub(crate) trait RequestResource:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind's name (a metrics label).
    const KIND: &'static str;
    /// The current status, if any.
    fn status(&self) -> Option<&RequestStatus>;
    /// The request as the pipeline takes it.
    fn to_request(&self) -> Request;
}

fn meta_of(obj: &impl Resource) -> RequestMeta {
    let m = obj.meta();
    RequestMeta {
        name: m.name.clone().unwrap_or_default(),
        namespace: m.namespace.clone(),
        generation: m.generation,
        uid: m.uid.clone(),
        // A pinned digest (imprimatur::service::image_streams) is one.
        annotations: m.annotations.clone().unwrap_or_default(),
        ..RequestMeta::default()
    }
}

impl RequestResource for ImageScanningRequest {
    const KIND: &'static str = "ImageScanningRequest";
    fn status(&self) -> Option<&RequestStatus> {
        self.status.as_ref()
    }
    fn to_request(&self) -> Request {
        Request::Scanning(Document {
            api_version: Self::api_version(&()).into_owned(),
            kind: Self::kind(&()).into_owned(),
            metadata: meta_of(self),
            spec: self.spec.clone(),
            status: self.status.clone(),
        })
    }
}

impl RequestResource for ImageSigningRequest {
    const KIND: &'static str = "ImageSigningRequest";
    fn status(&self) -> Option<&RequestStatus> {
        self.status.as_ref()
    }
    fn to_request(&self) -> Request {
        Request::Signing(Document {
            api_version: Self::api_version(&()).into_owned(),
            kind: Self::kind(&()).into_owned(),
            metadata: meta_of(self),
            spec: self.spec.clone(),
            status: self.status.clone(),
        })
    }
}

/// Whether the status already answers the object's generation: finished,
/// and its `Ready` condition observed this generation.
pub(crate) fn is_done<K: RequestResource>(obj: &K) -> bool {
    obj.status()
        .is_some_and(|status| status.answers(obj.meta().generation))
}

/// Writes `status` through the status subresource (server-side apply,
/// forced, field manager [`FIELD_MANAGER`]), and counts it in `metrics`
/// when it ends the request.
pub(crate) async fn apply_status<K: RequestResource>(
    metrics: &Metrics,
    api: &Api<K>,
    name: &str,
    status: &RequestStatus,
) -> Result<(), Error> {
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    metrics.status_written(K::KIND, status);
    log_status::<K>(api.namespace(), name, status);
    Ok(())
}

/// Logs a status that ends a request, or that puts it off to retry.
fn log_status<K: RequestResource>(namespace: Option<&str>, name: &str, status: &RequestStatus) {
    let ready = status.condition(ConditionType::Ready);
    let fields = json!({
        "kind": K::KIND, "namespace": namespace, "name": name,
        "phase": status.phase, "digest": status.image_digest,
        "reason": ready.map(|c| &c.reason), "message": ready.map(|c| &c.message),
    });
    match status.phase {
        Some(Phase::Completed | Phase::Failed) => crate::log::info("request finished", fields),
        _ if ready.is_some_and(|c| c.reason == RETRYING) => {
            crate::log::warn("request retrying", fields);
        }
        _ => {}
    }
}

/// Reconciles one `ImageSigningRequest`: its key Secret is read first (a
/// missing one fails the request before anything else is written), then the
/// status goes to `Running`, the pipeline runs with that Secret's keys, and
/// its status is written.
pub(crate) async fn reconcile(
    obj: Arc<ImageSigningRequest>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if is_done(obj.as_ref()) {
        return Ok(Action::await_change());
    }
    let (Some(ns), name) = (obj.namespace(), obj.name_any()) else {
        return Err(Error::Unnamed);
    };
    if name.is_empty() {
        return Err(Error::Unnamed);
    }
    let api: Api<ImageSigningRequest> = Api::namespaced(ctx.client.clone(), &ns);
    if obj.spec.require_scan {
        // Scanned by a Job, through an ImageScanningRequest (signing_scan.rs).
        return crate::signing_scan::reconcile_with_scan(&obj, &ctx, &api, &ns).await;
    }
    let pipeline = match signing_keys(&obj, &ctx, &ns).await? {
        Ok(pipeline) => pipeline,
        Err(message) => {
            let status = failed_status(obj.as_ref(), &ctx, KEY_UNAVAILABLE, &message);
            apply_status(&ctx.metrics, &api, &name, &status).await?;
            let notice = Notice::warning(KEY_UNAVAILABLE, "Sign", message);
            events::publish(&ctx.recorder, obj.as_ref(), &[notice]).await;
            return Ok(Action::await_change());
        }
    };

    // Running first: a restart sees the request was started (the pipeline is
    // idempotent: running it again leaves one signature).
    let running = RequestStatus {
        phase: Some(Phase::Running),
        start_time: Some(rfc3339((ctx.now)())),
        ..obj.status().cloned().unwrap_or_default()
    };
    apply_status(&ctx.metrics, &api, &name, &running).await?;

    let collector = Collector::default();
    let out = pipeline
        .events(collector.callback())
        .run(&obj.to_request())
        .await;
    let uid = obj.uid().unwrap_or_default();
    if out.transient {
        let who = (name.as_str(), uid.as_str());
        return retry_later(obj.as_ref(), &ctx, &api, who, out.status, "Sign").await;
    }
    ctx.clear_retries(&uid);
    apply_status(&ctx.metrics, &api, &name, &out.status).await?;
    count_run(&ctx.metrics, &out);
    let notices = collector.finish(&out.status);
    events::publish(&ctx.recorder, obj.as_ref(), &notices).await;
    Ok(Action::await_change())
}

/// A run that failed for a reason that may pass by itself (the registry
/// unreachable or overloaded): the request stays `Running` with
/// `Ready=False`, reason `Retrying` and when, and is reconciled again after
/// a growing delay instead of ending `Failed` for good.
pub(crate) async fn retry_later<K: RequestResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    (name, uid): (&str, &str),
    mut status: RequestStatus,
    action: &'static str,
) -> Result<Action, Error> {
    let (attempt, delay) = ctx.next_retry(uid);
    let why = status
        .condition(ConditionType::Ready)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    let message = format!(
        "{why}; attempt {attempt} failed, retrying in {} s",
        delay.as_secs()
    );
    status.phase = Some(Phase::Running);
    status.end_time = None;
    status.set_condition(
        ConditionType::Ready,
        ConditionStatus::False,
        RETRYING,
        &message,
        obj.meta().generation,
        (ctx.now)(),
    );
    apply_status(&ctx.metrics, api, name, &status).await?;
    events::publish(
        &ctx.recorder,
        obj,
        &[Notice::warning(RETRYING, action, message)],
    )
    .await;
    Ok(Action::requeue(delay))
}

/// The image could not be resolved for a reason that may pass (the
/// registry unreachable or overloaded): `Ready=False` with `reason` and
/// `message`, then [`retry_later`] (`Running`, retried with backoff).
pub(crate) async fn retry_resolving<K: RequestResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    reason: &str,
    message: String,
) -> Result<Action, Error> {
    let mut status = obj.status().cloned().unwrap_or_default();
    status.set_condition(
        ConditionType::Ready,
        ConditionStatus::False,
        reason,
        message,
        obj.meta().generation,
        (ctx.now)(),
    );
    let (name, uid) = (obj.name_any(), obj.uid().unwrap_or_default());
    retry_later(obj, ctx, api, (&name, &uid), status, "Resolve").await
}

/// The `Ready` reason of a request waiting to retry a transient failure.
pub(crate) const RETRYING: &str = "Retrying";

/// Counts what a signing run made: its signatures (atomic, sigstore), its
/// scan.
pub(crate) fn count_run(metrics: &Metrics, out: &RunOutput) {
    let made = [&out.status.signature, &out.status.sigstore_signature];
    for signature in made.into_iter().flatten() {
        metrics.signature(signature.created);
    }
    if out.scan.is_some() {
        metrics.scan(ImageSigningRequest::KIND, Some(&out.status));
    }
}

/// The pipeline with the keys of the request's Secret, or why they cannot
/// be had (see `keys.rs`). A request naming no Secret gets a provider that
/// lets the pipeline say that the name is required.
pub(crate) async fn signing_keys(
    obj: &ImageSigningRequest,
    ctx: &Context,
    ns: &str,
) -> Result<Result<Pipeline, String>, Error> {
    let Some(secret) = obj.spec.signing_key_secret_name.as_deref() else {
        return Ok(Ok(ctx.pipeline.clone().keys(Arc::new(NoSecretNamed))));
    };
    Ok(keys::secret_keys(&ctx.client, ns, secret)
        .await?
        .map(|keys| ctx.pipeline.clone().keys(Arc::new(keys))))
}

/// A `Failed` status for this generation: `Ready=False` with the reason.
pub(crate) fn failed_status<K: RequestResource>(
    obj: &K,
    ctx: &Context,
    reason: &str,
    message: &str,
) -> RequestStatus {
    let now = (ctx.now)();
    let mut status = obj.status().cloned().unwrap_or_default();
    status.phase = Some(Phase::Failed);
    status.set_condition(
        ConditionType::Ready,
        ConditionStatus::False,
        reason,
        message,
        obj.meta().generation,
        now,
    );
    status.end_time = Some(rfc3339(now));
    status
}

/// Retries with a fixed delay (the runtime's queue spreads them).
pub(crate) fn error_policy<K: RequestResource>(
    obj: Arc<K>,
    error: &Error,
    _ctx: Arc<Context>,
) -> Action {
    crate::log::warn(
        "reconcile failed; retrying in 30 s",
        json!({"kind": K::KIND, "namespace": obj.namespace(), "name": obj.name_any(),
               "error": error.to_string()}),
    );
    Action::requeue(Duration::from_secs(30))
}

#[cfg(test)]
pub(crate) mod secret_tests;

#[cfg(test)]
mod openshift_tests;
#[cfg(test)]
mod store_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_from_5_seconds_to_at_most_5_minutes() {
        let delays: Vec<u64> = (1..=9).map(|a| super::retry_delay(a).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(super::retry_delay(u32::MAX).as_secs(), 300);
    }

    use super::*;
    use http::{Request as HttpRequest, Response};
    use imprimatur::service::crd::ImageSigningRequest;
    use imprimatur::service::request::ImageSigningRequestSpec;
    use kube::client::Body;
    use std::time::UNIX_EPOCH;

    use crate::testing::{Handle, expect_event};

    fn context() -> (Arc<Context>, Handle) {
        let (service, handle) = tower_test::mock::pair::<HttpRequest<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        let registry = imprimatur::registry::RegistryClient::builder()
            .build()
            .expect("registry client");
        let resolver: Resolver =
            Arc::new(|_| Box::pin(async { Err("no registry in tests".to_owned().into()) }));
        let ctx = Context {
            now: Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            ..Context::new(
                client,
                Pipeline::new(registry),
                ScanJobConfig::new("scanner:1"),
                resolver,
                None,
            )
        };
        (Arc::new(ctx), handle)
    }

    fn signing(
        spec: ImageSigningRequestSpec,
        status: Option<RequestStatus>,
    ) -> ImageSigningRequest {
        let mut obj = ImageSigningRequest::new("sign-myapp", spec);
        obj.metadata.namespace = Some("team".into());
        obj.metadata.generation = Some(3);
        obj.status = status;
        obj
    }

    /// Expects one status apply and answers it with the object.
    async fn expect_status_apply(handle: &mut Handle, check: impl FnOnce(&serde_json::Value)) {
        let (request, send) = handle.next_request().await.expect("a request");
        assert_eq!(request.method(), http::Method::PATCH);
        assert_eq!(
            request.uri().to_string(),
            "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur"
        );
        assert_eq!(
            request.headers()["content-type"],
            "application/apply-patch+yaml"
        );
        let body = request.into_body().collect_bytes().await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(body["apiVersion"], "cop.redhat.com/v1alpha2");
        assert_eq!(body["kind"], "ImageSigningRequest");
        check(&body["status"]);
        let answer = signing(ImageSigningRequestSpec::default(), None);
        send.send_response(
            Response::builder()
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("response"),
        );
    }

    #[tokio::test]
    async fn a_finished_request_of_this_generation_makes_no_call() {
        let (ctx, mut handle) = context();
        let mut status = RequestStatus {
            phase: Some(Phase::Completed),
            ..RequestStatus::default()
        };
        status.set_condition(
            ConditionType::Ready,
            imprimatur::service::status::ConditionStatus::True,
            "Done",
            "done",
            Some(3),
            UNIX_EPOCH,
        );
        let obj = signing(ImageSigningRequestSpec::default(), Some(status));
        let action = reconcile(Arc::new(obj), ctx).await.expect("reconcile");
        assert_eq!(action, Action::await_change());
        // The client was dropped with the context: no request was ever made.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), handle.next_request())
                .await
                .ok()
                .flatten()
                .is_none()
        );
    }

    /// A request that names no image: Running is applied, then Failed with
    /// the reason, both through the status subresource with SSA.
    #[tokio::test]
    async fn an_invalid_request_is_running_then_failed_by_server_side_apply() {
        let (ctx, mut handle) = context();
        let verifier = tokio::spawn(async move {
            expect_status_apply(&mut handle, |status| {
                assert_eq!(status["phase"], "Running");
                assert_eq!(status["startTime"], "2027-01-15T08:00:00Z");
            })
            .await;
            expect_status_apply(&mut handle, |status| {
                assert_eq!(status["phase"], "Failed");
                let ready = status["conditions"]
                    .as_array()
                    .expect("conditions")
                    .iter()
                    .find(|c| c["type"] == "Ready")
                    .expect("a Ready condition");
                assert_eq!(ready["status"], "False");
                assert_eq!(ready["observedGeneration"], 3);
                assert!(
                    ready["message"].as_str().is_some_and(
                        |m| m.contains("spec.imageStreamTag or spec.image is required")
                    ),
                    "{ready}"
                );
            })
            .await;
            // No step ran: the warning is the Ready condition's reason.
            let who = ("team", "sign-myapp");
            let note = "spec.imageStreamTag or spec.image is required";
            expect_event(&mut handle, who, "Warning", "InvalidRequest", note).await;
            handle
        });
        let obj = signing(ImageSigningRequestSpec::default(), None);
        let action = reconcile(Arc::new(obj), ctx).await.expect("reconcile");
        assert_eq!(action, Action::await_change());
        let mut handle = tokio::time::timeout(Duration::from_secs(1), verifier)
            .await
            .expect("scenario finished in time")
            .expect("scenario passed");
        // Nothing more was asked.
        crate::testing::assert_no_more_requests(&mut handle).await;
    }

    /// The predecessor's ImageSigningRequest (imageStreamTag) reaches the
    /// pipeline unchanged; without an image stream registry it fails saying
    /// why, written to the signing kind's status subresource.
    #[tokio::test]
    async fn a_predecessor_signing_request_is_applied_to_its_own_kind() {
        let (ctx, mut handle) = context();
        let verifier = tokio::spawn(async move {
            // The key Secret first (never used: the tag cannot be resolved).
            let (request, send) = handle.next_request().await.expect("a request");
            assert_eq!(request.method(), http::Method::GET);
            assert_eq!(
                request.uri().to_string(),
                "/api/v1/namespaces/team/secrets/mygpgkey"
            );
            let secret = k8s_openapi::api::core::v1::Secret::default();
            send.send_response(
                Response::builder()
                    .body(Body::from(serde_json::to_vec(&secret).expect("json")))
                    .expect("response"),
            );
            for want in ["Running", "Failed"] {
                let (request, send) = handle.next_request().await.expect("a request");
                assert_eq!(request.method(), http::Method::PATCH);
                assert_eq!(
                    request.uri().to_string(),
                    "/apis/cop.redhat.com/v1alpha2/namespaces/team/imagesigningrequests/sign-myapp/status?&force=true&fieldManager=imprimatur"
                );
                let body = request.into_body().collect_bytes().await.expect("body");
                let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(body["kind"], "ImageSigningRequest");
                assert_eq!(body["status"]["phase"], want);
                if want == "Failed" {
                    assert!(
                        body["status"].to_string().contains("myapp:latest"),
                        "{body}"
                    );
                }
                let mut answer =
                    ImageSigningRequest::new("sign-myapp", ImageSigningRequestSpec::default());
                answer.metadata.namespace = Some("team".into());
                send.send_response(
                    Response::builder()
                        .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                        .expect("response"),
                );
            }
            let who = ("team", "sign-myapp");
            expect_event(
                &mut handle,
                who,
                "Warning",
                "InvalidRequest",
                "myapp:latest",
            )
            .await;
        });
        let mut obj = ImageSigningRequest::new(
            "sign-myapp",
            ImageSigningRequestSpec {
                image_stream_tag: Some("myapp:latest".into()),
                signing_key_secret_name: Some("mygpgkey".into()),
                signing_key_sign_by: Some("openshift@example.com".into()),
                ..ImageSigningRequestSpec::default()
            },
        );
        obj.metadata.namespace = Some("team".into());
        obj.metadata.generation = Some(1);
        reconcile(Arc::new(obj), ctx).await.expect("reconcile");
        tokio::time::timeout(Duration::from_secs(1), verifier)
            .await
            .expect("scenario finished in time")
            .expect("scenario passed");
    }

    #[tokio::test]
    async fn a_new_generation_is_reconciled_again() {
        let mut status = RequestStatus {
            phase: Some(Phase::Completed),
            ..RequestStatus::default()
        };
        status.set_condition(
            ConditionType::Ready,
            imprimatur::service::status::ConditionStatus::True,
            "Done",
            "done",
            Some(2),
            UNIX_EPOCH,
        );
        let obj = signing(ImageSigningRequestSpec::default(), Some(status));
        assert!(!is_done(&obj), "generation 3 observed as 2");
    }
}
