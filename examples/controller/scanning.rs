//! Reconciling an `ImageScanningRequest` with a scan Job, and again on
//! schedule when it has `rescanIntervalSeconds`.
//!
//! Each reconcile takes one step and returns, so a restart at any point
//! resumes from what the API holds:
//!
//! 0. Finished: nothing, unless it rescans (`freshness::rescan`): then it is
//!    requeued for `rescanIntervalSeconds` after its last run ended, and when
//!    due it resolves the image again and starts the next run (its number,
//!    `status.scanRun`, is in the Job's name: one Job per run, the same on
//!    every reconcile).
//!
//! 1. The digest: the one recorded in the status for this generation (a Job
//!    was made for it), or resolved now. An image that cannot be resolved or
//!    cannot be pulled by a pod ends `Failed` with the reason; a registry
//!    that is unreachable or overloaded is retried with backoff instead.
//! 2. The Job for (request UID, digest, run) (`scan_job::run_job_name`):
//!    absent, it is created and the status says `Running`,
//!    `Scanned=Unknown/JobCreated` and the run.
//! 3. Running: requeue, no writes (the `owns()` watch wakes us when it ends).
//! 4. Finished: the pod's termination message and log are read, decoded and
//!    verified (`scan_result`); a verified result becomes the status, and
//!    the Job is deleted. Each run (with or without a result) is recorded
//!    in the bounded `status.scanHistory`; failed rules and CVEs that the
//!    run before did not have are `status.newFindings`, a `NewFindings`
//!    warning and the `imprimatur_new_findings_total` counter. A result
//!    that does not verify, or a Job that failed without one, ends `Failed`
//!    saying why; the Job is then kept (until its TTL) for whoever
//!    investigates. A finished Job made for an older generation of the
//!    request is deleted instead, and the request looked at again. A
//!    request that rescans is then requeued for its next run.
//!
//! Every status write is followed by its events (`events.rs`): a Job
//! created, Scanned, GatePassed, NewFindings, or a warning with the
//! failure's reason.

use std::sync::Arc;
use std::time::Duration;

use futures_util::AsyncReadExt as _;
use futures_util::future::BoxFuture;
use imprimatur::service::crd::ImageScanningRequest;
use imprimatur::service::freshness::{self, Rescan};
use imprimatur::service::request::{ImageTarget, target_of};
use imprimatur::service::scan_job::{self, JobOutcome, SCAN_JOB_LABEL};
use imprimatur::service::scan_result::{self, Limits, ScanResult, ScanResultError};
use imprimatur::service::status::{ConditionStatus, ConditionType, Phase, rfc3339};
use imprimatur::service::{Pipeline, RequestStatus};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::controller::Action;

use crate::events::{self, Notice};
use crate::reconcile::{
    Context, Error, RETRYING, RequestResource, apply_status, failed_status as failed, is_done,
    retry_resolving as retry_unresolved,
};

/// How often a running scan is looked at even without a Job event.
const RUNNING_REQUEUE: Duration = Duration::from_secs(60);
/// How soon a request looks again after deleting a stale Job.
const STALE_JOB_REQUEUE: Duration = Duration::from_secs(5);
/// The most of a log quoted in a `Failed` message.
const LOG_TAIL: usize = 1024;

/// An image pinned to its digest, as a scan Job pulls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pinned {
    /// `REPO@DIGEST` (the status's `unsignedImage`).
    pub(crate) repo_at_digest: String,
    /// The digest.
    pub(crate) digest: String,
}

impl Pinned {
    fn image(&self) -> String {
        format!("docker://{}", self.repo_at_digest)
    }
}

/// Why an image could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unresolved {
    /// What went wrong.
    pub(crate) message: String,
    /// The registry was unreachable or overloaded: worth trying again later
    /// (`imprimatur::registry::Error::is_transient`).
    pub(crate) transient: bool,
}

impl From<String> for Unresolved {
    /// A failure that stays until something is changed.
    fn from(message: String) -> Self {
        Unresolved {
            message,
            transient: false,
        }
    }
}

/// Resolves a request's image to a [`Pinned`] one, or says why not.
pub(crate) type Resolver =
    Arc<dyn Fn(ImageTarget) -> BoxFuture<'static, Result<Pinned, Unresolved>> + Send + Sync>;

/// The resolver of a pipeline (its registry client and image stream
/// registry). Images that are not in a registry are refused: a pod cannot
/// reach the controller's files.
pub(crate) fn pipeline_resolver(pipeline: Pipeline) -> Resolver {
    Arc::new(move |target| {
        let pipeline = pipeline.clone();
        Box::pin(async move {
            let (image, resolved) = pipeline.resolve(&target).await.map_err(|e| Unresolved {
                transient: e.is_transient(),
                message: e.to_string(),
            })?;
            match image {
                imprimatur::registry::ImageReference::Docker(r) => Ok(Pinned {
                    repo_at_digest: format!("{}@{}", r.name(), resolved.digest),
                    digest: resolved.digest.to_string(),
                }),
                other => Err(format!(
                    "{other} is not in a registry: a scan Job can only pull docker:// images"
                )
                .into()),
            }
        })
    })
}

/// Reconciles one `ImageScanningRequest`.
pub(crate) async fn reconcile_scanning(
    obj: Arc<ImageScanningRequest>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let done = is_done(obj.as_ref());
    if done && let Some(action) = rescan_due(&obj, &ctx) {
        return Ok(action);
    }
    let (Some(ns), name) = (obj.namespace(), obj.name_any()) else {
        return Err(Error::Unnamed);
    };
    let uid = obj.metadata.uid.clone().ok_or(Error::NoUid)?;
    let requests: Api<ImageScanningRequest> = Api::namespaced(ctx.client.clone(), &ns);
    let last_run = obj.status.as_ref().and_then(|s| s.scan_run);
    let recorded = if done { None } else { recorded(obj.as_ref()) };
    let (pinned, run) = match recorded {
        Some(p) => (p, last_run.unwrap_or(1)),
        None => match resolve(&obj, &ctx).await {
            Ok(p) => (p, last_run.map_or(1, |r| r + 1)),
            Err((reason, message, true)) => {
                return retry_resolving(&obj, &ctx, &requests, done, reason, message).await;
            }
            Err((reason, message, false)) => {
                let mut status = failed(obj.as_ref(), &ctx, reason, &message);
                if done {
                    // A rescan that could not resolve: a run without a result.
                    status.scan_run = Some(last_run.unwrap_or(1) + 1);
                    freshness::record_run(&mut status, obj.status.as_ref(), (ctx.now)());
                }
                apply_status(&ctx.metrics, &requests, &name, &status).await?;
                let notice = Notice::warning(reason, "Resolve", message);
                events::publish(&ctx.recorder, obj.as_ref(), &[notice]).await;
                return Ok(next_rescan(&obj, &ctx, &status));
            }
        },
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let job_name = scan_job::run_job_name(&uid, &pinned.digest, run);
    let Some(job) = jobs.get_opt(&job_name).await? else {
        return create_job(&obj, &ctx, &jobs, &requests, &pinned, run).await;
    };
    match scan_job::job_outcome(&job) {
        JobOutcome::Running => Ok(Action::requeue(RUNNING_REQUEUE)),
        _ if scan_job::job_generation(&job) != obj.metadata.generation => {
            // Scanned for an older spec (another gate, other content): not
            // this generation's result. Deleted; the next pass makes a new one.
            jobs.delete(&job_name, &DeleteParams::background()).await?;
            Ok(Action::requeue(STALE_JOB_REQUEUE))
        }
        outcome => {
            let result = read_result(&ctx, &ns, &job_name, &pinned).await?;
            let job = (job_name.as_str(), run);
            finish(&obj, &ctx, &requests, &jobs, job, outcome, result).await
        }
    }
}

/// `None` when a finished request is due to scan again now; otherwise the
/// action after its last run (a requeue when the next rescan is due, or
/// none).
fn rescan_due(obj: &ImageScanningRequest, ctx: &Context) -> Option<Action> {
    let rescan = freshness::rescan(
        obj.status.as_ref(),
        obj.spec.rescan_interval_seconds,
        (ctx.now)(),
    );
    match rescan {
        Rescan::Due => None,
        Rescan::After(wait) => Some(Action::requeue(wait)),
        _ => Some(Action::await_change()),
    }
}

/// The action after a run ended with `status`: requeued for its rescan
/// (`rescanIntervalSeconds` after it ended), or nothing more.
fn next_rescan(obj: &ImageScanningRequest, ctx: &Context, status: &RequestStatus) -> Action {
    let now = (ctx.now)();
    match freshness::rescan(Some(status), obj.spec.rescan_interval_seconds, now) {
        Rescan::After(wait) => Action::requeue(wait),
        // Due already: never sooner than a second (no busy loop).
        Rescan::Due => Action::requeue(Duration::from_secs(1)),
        _ => Action::await_change(),
    }
}

/// The digest recorded for this generation of a request of either kind
/// (its `Scanned` condition observed this generation: a Job, or a scanning
/// request, was made for it), so a tag moving meanwhile is not resolved
/// again mid-scan.
pub(crate) fn recorded<K: RequestResource>(obj: &K) -> Option<Pinned> {
    let status = obj.status()?;
    let scanned = status.condition(ConditionType::Scanned)?;
    if scanned.observed_generation != obj.meta().generation {
        return None;
    }
    Some(Pinned {
        repo_at_digest: status.unsigned_image.clone()?,
        digest: status.image_digest.clone()?,
    })
}

/// Why an image could not be pinned: the `Ready` reason
/// (`InvalidRequest`, `ImageUnavailable`), the message, and whether it may
/// pass by itself (the registry unreachable or overloaded).
pub(crate) type Unpinned = (&'static str, String, bool);

/// Pins the image a request names (`imageStreamTag`, in the request's
/// namespace, or `image`), saying also whether it was an image stream tag.
pub(crate) async fn pin(
    ctx: &Context,
    namespace: Option<String>,
    image_stream_tag: Option<&str>,
    image: Option<&str>,
) -> Result<(Pinned, bool), Unpinned> {
    let meta = imprimatur::service::request::RequestMeta {
        namespace,
        ..Default::default()
    };
    let target = target_of(image_stream_tag, image, &meta)
        .map_err(|e| ("InvalidRequest", e.to_string(), false))?;
    let stream_tag = matches!(target, ImageTarget::ImageStreamTag { .. });
    let pinned = (ctx.resolver)(target)
        .await
        .map_err(|u| ("ImageUnavailable", u.message, u.transient))?;
    Ok((pinned, stream_tag))
}

/// The pinned image of a scanning request, or why not.
async fn resolve(obj: &ImageScanningRequest, ctx: &Context) -> Result<Pinned, Unpinned> {
    let spec = &obj.spec;
    let (pinned, _) = pin(
        ctx,
        obj.namespace(),
        spec.image_stream_tag.as_deref(),
        spec.image.as_deref(),
    )
    .await?;
    Ok(pinned)
}

/// The registry could not be reached to resolve the image: retried with
/// backoff (5 s doubling to 5 minutes). A first scan is `Running` with
/// `Ready=False/Retrying` meanwhile; a due rescan keeps the last run's
/// status (it is still the current result) and says so in a warning only.
async fn retry_resolving(
    obj: &ImageScanningRequest,
    ctx: &Context,
    requests: &Api<ImageScanningRequest>,
    done: bool,
    reason: &str,
    message: String,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    if done {
        let (attempt, delay) = ctx.next_retry(&uid);
        let note = format!(
            "rescan postponed: {message}; attempt {attempt} failed, retrying in {} s",
            delay.as_secs()
        );
        let notice = Notice::warning(RETRYING, "Resolve", note);
        events::publish(&ctx.recorder, obj, &[notice]).await;
        return Ok(Action::requeue(delay));
    }
    retry_unresolved(obj, ctx, requests, reason, message).await
}

async fn create_job(
    obj: &ImageScanningRequest,
    ctx: &Context,
    jobs: &Api<Job>,
    requests: &Api<ImageScanningRequest>,
    pinned: &Pinned,
    run: u64,
) -> Result<Action, Error> {
    let job =
        match scan_job::scan_job_for_run(&ctx.scan_jobs, obj, &pinned.image(), &pinned.digest, run)
        {
            Ok(job) => job,
            Err(e) => {
                let status = failed(obj, ctx, "InvalidRequest", &e.to_string());
                apply_status(&ctx.metrics, requests, &obj.name_any(), &status).await?;
                let notice = Notice::warning("InvalidRequest", "CreateJob", e.to_string());
                events::publish(&ctx.recorder, obj, &[notice]).await;
                return Ok(Action::await_change());
            }
        };
    let job_name = job.name_any();
    match jobs.create(&PostParams::default(), &job).await {
        Ok(_) => {}
        // Made by an earlier reconcile whose status write was lost.
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    // Resolved and under way: a later transient failure backs off afresh.
    ctx.clear_retries(&obj.uid().unwrap_or_default());
    let now = (ctx.now)();
    let mut status = obj.status.clone().unwrap_or_default();
    status.phase = Some(Phase::Running);
    status.start_time = Some(rfc3339(now));
    status.end_time = None;
    status.image_digest = Some(pinned.digest.clone());
    status.unsigned_image = Some(pinned.repo_at_digest.clone());
    status.scan_run = Some(run);
    let mut message = format!("scan Job {job_name} created for {}", pinned.digest);
    if run > 1 {
        message.push_str(&format!(" (run {run})"));
    }
    status.set_condition(
        ConditionType::Scanned,
        ConditionStatus::Unknown,
        "JobCreated",
        message.clone(),
        obj.metadata.generation,
        now,
    );
    apply_status(&ctx.metrics, requests, &obj.name_any(), &status).await?;
    let notice = Notice::normal("ScanJobCreated", "CreateJob", message);
    events::publish(&ctx.recorder, obj, &[notice]).await;
    Ok(Action::requeue(RUNNING_REQUEUE))
}

/// What the finished Job's pod left: its termination message and log,
/// bounded. A missing pod or log is an empty one (the decoder says what is
/// missing).
struct PodOutput {
    termination: String,
    log: Vec<u8>,
}

async fn read_result(
    ctx: &Context,
    ns: &str,
    job_name: &str,
    pinned: &Pinned,
) -> Result<(PodOutput, Result<ScanResult, ScanResultError>), Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&format!("{SCAN_JOB_LABEL}={job_name}")))
        .await?;
    let newest = list
        .items
        .into_iter()
        .max_by(|a, b| a.creation_timestamp().cmp(&b.creation_timestamp()));
    let Some(pod) = newest else {
        let out = PodOutput {
            termination: String::new(),
            log: Vec::new(),
        };
        return Ok((out, Err(ScanResultError::MissingFrame)));
    };
    let termination = scan_job::termination_message(&pod)
        .unwrap_or_default()
        .to_owned();
    let log = read_log(&pods, &pod.name_any()).await?;
    let result = scan_result::decode(&log, &termination)
        .and_then(|r| r.ensure_digest(&pinned.digest).map(|()| r));
    Ok((PodOutput { termination, log }, result))
}

/// The scan container's log, at most the decoder's limit plus one byte (so
/// that a longer log is reported as too large, not silently cut).
async fn read_log(pods: &Api<Pod>, pod: &str) -> Result<Vec<u8>, Error> {
    let max = Limits::default().log;
    let params = LogParams {
        container: Some(scan_job::CONTAINER.into()),
        limit_bytes: Some(max as i64 + 1),
        ..LogParams::default()
    };
    let stream = match pods.log_stream(pod, &params).await {
        Ok(s) => s,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut log = Vec::new();
    stream
        .take(max as u64 + 1)
        .read_to_end(&mut log)
        .await
        .map_err(Error::Log)?;
    Ok(log)
}

/// Writes what the finished Job gave: the verified result (then deletes the
/// Job, which has nothing more to give), or `Failed` with why there is none
/// (the Job is kept until its TTL for whoever investigates).
async fn finish(
    obj: &ImageScanningRequest,
    ctx: &Context,
    requests: &Api<ImageScanningRequest>,
    jobs: &Api<Job>,
    (job_name, run): (&str, u64),
    outcome: JobOutcome,
    (pod, result): (PodOutput, Result<ScanResult, ScanResultError>),
) -> Result<Action, Error> {
    let name = obj.name_any();
    let now = (ctx.now)();
    let status = match result {
        Ok(result) => {
            let mut status = obj.status.clone().unwrap_or_default();
            result.apply_to(&mut status, obj.metadata.generation, now);
            // The run of this Job (a status write that recorded it may
            // have been lost before a restart).
            status.scan_run = Some(run);
            let new = freshness::record_run(&mut status, obj.status.as_ref(), now);
            apply_status(&ctx.metrics, requests, &name, &status).await?;
            ctx.metrics.scan(ImageScanningRequest::KIND, Some(&status));
            ctx.metrics
                .new_findings(ImageScanningRequest::KIND, new.len());
            let mut notices = scan_notices(&status);
            notices.extend(new_findings_notice(&status, &new));
            events::publish(&ctx.recorder, obj, &notices).await;
            jobs.delete(job_name, &DeleteParams::background()).await?;
            status
        }
        Err(error) => {
            let (reason, message) = failure(&outcome, &error, &pod);
            let mut status = failed(obj, ctx, reason, &message);
            status.set_condition(
                ConditionType::Scanned,
                ConditionStatus::False,
                reason,
                message.clone(),
                obj.metadata.generation,
                (ctx.now)(),
            );
            status.scan_run = Some(run);
            freshness::record_run(&mut status, obj.status.as_ref(), now);
            apply_status(&ctx.metrics, requests, &name, &status).await?;
            ctx.metrics.scan(ImageScanningRequest::KIND, None);
            let notice = Notice::warning(reason, "Scan", message);
            events::publish(&ctx.recorder, obj, &[notice]).await;
            status
        }
    };
    Ok(next_rescan(obj, ctx, &status))
}

/// The most new findings an event names.
const NOTICE_FINDINGS: usize = 10;

/// A `NewFindings` warning when the run found what the run before did not
/// (`new`: all of them; the event names the first [`NOTICE_FINDINGS`]).
fn new_findings_notice(status: &RequestStatus, new: &[String]) -> Option<Notice> {
    if new.is_empty() {
        return None;
    }
    let run = status.scan_run.unwrap_or(1);
    let named = new[..new.len().min(NOTICE_FINDINGS)].join(", ");
    let more = new.len().saturating_sub(NOTICE_FINDINGS);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let note = format!(
        "run {run} found {} new since the run before: {named}{tail}",
        new.len()
    );
    Some(Notice::warning("NewFindings", "Scan", note))
}

/// The events of a verified result: `Scanned`, and `GatePassed` or a
/// `GateFailed` warning when there was a gate.
fn scan_notices(status: &RequestStatus) -> Vec<Notice> {
    let mut notices = Vec::new();
    if let Some(scanned) = status.condition(ConditionType::Scanned) {
        notices.push(Notice::normal("Scanned", "Scan", scanned.message.clone()));
    }
    if let Some(gate) = status.condition(ConditionType::GatePassed) {
        notices.push(match gate.status {
            ConditionStatus::True => Notice::normal("GatePassed", "Gate", gate.message.clone()),
            _ => Notice::warning("GateFailed", "Gate", gate.message.clone()),
        });
    }
    notices
}

/// The reason and message of a scan that gave no accepted result: the
/// scan's own error; a failed Job that left no whole frame (its reason and
/// the log's tail); or a result refused by the checks (hash, length, ...).
fn failure(
    outcome: &JobOutcome,
    error: &ScanResultError,
    pod: &PodOutput,
) -> (&'static str, String) {
    use ScanResultError::{BadTerminationMessage, MissingFrame, ScanFailed, Truncated};
    match (outcome, error) {
        (_, ScanFailed(m)) => ("ScanFailed", format!("the scan failed: {m}")),
        (
            JobOutcome::Failed { reason, message },
            MissingFrame | Truncated { .. } | BadTerminationMessage(_),
        ) => {
            let tail = scan_result::log_tail(&pod.log, LOG_TAIL);
            let said = if pod.termination.is_empty() {
                "no termination message".to_owned()
            } else {
                let t = scan_result::log_tail(pod.termination.as_bytes(), LOG_TAIL);
                format!("termination message {t:?}")
            };
            (
                "ScanJobFailed",
                format!(
                    "the scan Job failed ({reason}: {message}) without a result ({error}); \
                     {said}; log tail: {tail:?}"
                ),
            )
        }
        (_, e) => (
            "ScanResultRejected",
            format!("the scan Job's result was refused: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests;
