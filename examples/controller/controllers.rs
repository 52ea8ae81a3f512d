//! Running the controllers (the two request kinds, and on OpenShift the
//! image streams signed on push, `autosign.rs`), and only while this
//! replica leads.
//!
//! [`lead`] is the replica's life: a follower (ready: it can take over)
//! until it acquires the Lease; then the leader, running both controllers
//! (ready once their caches have synced) until either
//!
//! - a shutdown is asked (SIGTERM, SIGINT): the controllers stop taking
//!   work, finish the reconciles in flight, and the Lease is released so a
//!   follower takes over at once; or
//! - the leadership is lost: the controllers are dropped at once, mid-
//!   reconcile (fail-stop; every reconcile is a step that a later one
//!   resumes from the API), and the caller exits.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use imprimatur::service::crd::{ImageScanningRequest, ImageSigningRequest};
use imprimatur::service::scan_job::{MANAGED_BY, MANAGED_BY_LABEL};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::ResourceExt as _;
use kube::api::DynamicObject;
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, watcher};
use tokio::sync::watch;

use crate::autosign;
use crate::health::Health;
use crate::leader::{LeaderError, Leadership};
use crate::reconcile::{Context, Error, RequestResource, error_policy, is_done, reconcile};
use crate::scanning::reconcile_scanning;
use crate::signing_scan::SIGNING_REQUEST_LABEL;

/// How long releasing the Lease may take at shutdown.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Follows, then leads until shutdown (`Ok`) or until the leadership is
/// lost (`Err`); the Lease is released either way.
pub(crate) async fn lead(
    ctx: Arc<Context>,
    health: Arc<Health>,
    mut leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) -> Result<(), LeaderError> {
    health.set_ready(true);
    let acquired = tokio::select! {
        acquired = leadership.acquired() => Some(acquired),
        _ = stop.wait_for(|stop| *stop) => None,
    };
    match acquired {
        None => {
            health.set_ready(false);
            leadership.release(RELEASE_TIMEOUT).await;
            return Ok(());
        }
        Some(Err(e)) => return Err(e),
        Some(Ok(())) => {}
    }
    crate::log::info("leading: starting the controllers", serde_json::json!({}));
    health.set_ready(false);
    let outcome = tokio::select! {
        () = run(ctx, health.clone(), stop) => Ok(()),
        lost = leadership.lost() => Err(lost),
    };
    health.set_ready(false);
    leadership.release(RELEASE_TIMEOUT).await;
    outcome
}

/// Runs both controllers until `stop` says so, then lets them finish what
/// is in flight. `health` turns ready when both caches have synced.
pub(crate) async fn run(ctx: Arc<Context>, health: Arc<Health>, stop: watch::Receiver<bool>) {
    let client = ctx.client.clone();
    let config = controller::Config::default().concurrency(ctx.concurrency);
    let jobs = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    let scans = Controller::new(
        Api::<ImageScanningRequest>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(config.clone())
    .owns(Api::<Job>::all(client.clone()), jobs)
    .graceful_shutdown_on(stopped(stop.clone()));
    // A signing request that requireScan waits for the scanning request it
    // made (owned by it, labelled with its name): woken when that changes.
    let own_scans = watcher::Config::default().labels(SIGNING_REQUEST_LABEL);
    let signs = Controller::new(
        Api::<ImageSigningRequest>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(config)
    .owns(Api::<ImageScanningRequest>::all(client), own_scans)
    .graceful_shutdown_on(stopped(stop.clone()));
    let (scan_cache, sign_cache) = (scans.store(), signs.store());
    let queue = count_pending(
        scan_cache.clone(),
        sign_cache.clone(),
        ctx.metrics.clone(),
        stop.clone(),
    );
    let synced = async move {
        let scans = scan_cache.wait_until_ready().await;
        let signs = sign_cache.wait_until_ready().await;
        if scans.is_ok() && signs.is_ok() {
            health.set_ready(true);
        }
    };
    let streams = image_streams(ctx.clone(), stop);
    let scans = scans
        .run(measured_scanning, error_policy, ctx.clone())
        .for_each(log_result::<ImageScanningRequest, _>);
    let signs = signs
        .run(measured_signing, error_policy, ctx)
        .for_each(log_result::<ImageSigningRequest, _>);
    tokio::join!(scans, signs, synced, streams, queue);
}

/// How often the queue depth (`requests_pending`) is counted.
const PENDING_INTERVAL: Duration = Duration::from_secs(5);

/// Sets `requests_pending` of both kinds from the caches every
/// [`PENDING_INTERVAL`], until `stop` says so.
async fn count_pending(
    scans: Store<ImageScanningRequest>,
    signs: Store<ImageSigningRequest>,
    metrics: Arc<crate::metrics::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        metrics.set_pending(ImageScanningRequest::KIND, pending(&scans));
        metrics.set_pending(ImageSigningRequest::KIND, pending(&signs));
        tokio::select! {
            () = tokio::time::sleep(PENDING_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// The requests in `cache` whose status does not yet answer their
/// generation: waiting, running or retrying.
fn pending<K: RequestResource>(cache: &Store<K>) -> usize {
    cache
        .state()
        .iter()
        .filter(|obj| !is_done(obj.as_ref()))
        .count()
}

/// On OpenShift, the controller of image streams (signing on push,
/// `autosign.rs`): every stream, and the namespaces labelled to opt theirs
/// in; otherwise nothing.
async fn image_streams(ctx: Arc<Context>, stop: watch::Receiver<bool>) {
    if !ctx.openshift {
        return;
    }
    let resource = autosign::image_stream_resource();
    let api = Api::<DynamicObject>::all_with(ctx.client.clone(), &resource);
    let streams = Controller::new_with(api, watcher::Config::default(), resource.clone());
    // A namespace labelled for signing on push: each of its streams is
    // looked at again.
    let cache = streams.store();
    let opted = watcher::Config::default().labels(&autosign::selector());
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    streams
        .watches(namespaces, opted, move |ns| {
            let name = ns.name_any();
            cache
                .state()
                .into_iter()
                .filter(|s| s.namespace().as_deref() == Some(name.as_str()))
                .map(|s| ObjectRef::from_obj_with(s.as_ref(), resource.clone()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(stopped(stop))
        .run(autosign::reconcile_stream, autosign::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                crate::log::warn(
                    "controller error",
                    serde_json::json!({"kind": "ImageStream", "error": e.to_string()}),
                );
            }
        })
        .await;
}

/// Resolves once `stop` says true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn measured_scanning(
    obj: Arc<ImageScanningRequest>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let metrics = ctx.metrics.clone();
    metrics
        .measure(ImageScanningRequest::KIND, reconcile_scanning(obj, ctx))
        .await
}

async fn measured_signing(
    obj: Arc<ImageSigningRequest>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let metrics = ctx.metrics.clone();
    metrics
        .measure(ImageSigningRequest::KIND, reconcile(obj, ctx))
        .await
}

async fn log_result<K: RequestResource, T>(
    result: Result<T, kube::runtime::controller::Error<Error, watcher::Error>>,
) {
    if let Err(e) = result {
        crate::log::warn(
            "controller error",
            serde_json::json!({"kind": K::KIND, "error": e.to_string()}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imprimatur::service::RequestStatus;
    use imprimatur::service::request::ImageSigningRequestSpec;
    use imprimatur::service::status::{ConditionStatus, ConditionType, Phase};
    use kube::runtime::reflector;
    use std::time::UNIX_EPOCH;

    fn request(name: &str, generation: i64, answered: Option<(Phase, i64)>) -> ImageSigningRequest {
        let mut obj = ImageSigningRequest::new(name, ImageSigningRequestSpec::default());
        obj.metadata.namespace = Some("team".into());
        obj.metadata.generation = Some(generation);
        obj.status = answered.map(|(phase, observed)| {
            let mut status = RequestStatus {
                phase: Some(phase),
                ..RequestStatus::default()
            };
            let ok = ConditionStatus::True;
            status.set_condition(
                ConditionType::Ready,
                ok,
                "Done",
                "",
                Some(observed),
                UNIX_EPOCH,
            );
            status
        });
        obj
    }

    #[test]
    fn pending_counts_requests_not_answered_for_their_generation() {
        let (cache, mut writer) = reflector::store::<ImageSigningRequest>();
        for obj in [
            request("new", 1, None),
            request("running", 1, Some((Phase::Running, 1))),
            request("done", 1, Some((Phase::Completed, 1))),
            request("failed", 2, Some((Phase::Failed, 2))),
            request("edited", 3, Some((Phase::Completed, 2))),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(obj));
        }
        assert_eq!(pending(&cache), 3);
        let metrics = crate::metrics::Metrics::new();
        metrics.set_pending(ImageSigningRequest::KIND, pending(&cache));
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains("imprimatur_requests_pending{kind=\"ImageSigningRequest\"} 3"),
            "{text}"
        );
    }
}
