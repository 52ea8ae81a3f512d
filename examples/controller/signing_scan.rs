//! Signing requests that `requireScan`: the scan is an
//! `ImageScanningRequest` (so a scan Job, `scanning.rs`), never a scan in
//! this process; the signature is made here once it passed.
//!
//! One step per reconcile, each decided from what the API holds
//! (`imprimatur::service::freshness::decide`), so a restart resumes:
//!
//! 1. The digest: the one recorded for this generation (a scan was asked
//!    for it), or resolved now. `maxScanAge` is read first: a bad value
//!    ends `Failed` (`InvalidRequest`) saying what is wrong.
//! 2. The scanning requests of the namespace are listed. One of the same
//!    digest, settings and gate that passed for its current generation and
//!    ended within `maxScanAge` is reused: sign.
//! 3. Else the request's own (`ScanQuestion::request_name`: from its name,
//!    UID, the digest, settings and gate): absent, it is created (owned by
//!    the signing request, labelled with its name, the image pinned by
//!    digest; 409 means a lost status write made it already) once the key
//!    Secret is known to be usable; the status says `Running` with
//!    `Scanned=Unknown/WaitingForScan` naming it. Running: wait (the
//!    `owns()` watch wakes the signing request when it changes). Passed:
//!    sign. Failed the gate or failed: `Failed` saying so and naming it.
//!    Too old by the time it is looked at, or edited: deleted, then made
//!    again.
//! 4. Signing: `Pipeline::sign_scanned`, pinned to the scanned digest (the
//!    tag may have moved since; the signature is for what was scanned),
//!    with the scan's counts copied and named in `Scanned`/`GatePassed`.
//!    Transient registry failures are retried with backoff as for any
//!    signing request.
//!
//! An image that cannot be resolved fails the request (`ImageUnavailable`),
//! unless the registry was unreachable or overloaded: then it is retried
//! with backoff, `Running` with `Ready=False/Retrying`.

use std::collections::BTreeMap;
use std::time::Duration;

use imprimatur::service::crd::{ImageScanningRequest, ImageSigningRequest};
use imprimatur::service::freshness::{self, Candidate, Decision, ScanQuestion};
use imprimatur::service::image_streams::PINNED_DIGEST_ANNOTATION;
use imprimatur::service::request::Document;
use imprimatur::service::status::{ConditionStatus, ConditionType, Phase, rfc3339};
use imprimatur::service::{PassedScan, Request, RequestStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource as _, ResourceExt as _};

use crate::events::{self, Collector, Notice};
use crate::keys::KEY_UNAVAILABLE;
use crate::reconcile::{
    Context, Error, RequestResource as _, apply_status, count_run, failed_status, retry_later,
    retry_resolving, signing_keys,
};
use crate::scanning::{Pinned, Unpinned, pin, recorded};

/// The label naming the signing request on the scanning requests it makes
/// (its value: `freshness::label_value` of the name); the signing
/// controller's `owns()` watch selects on it.
pub(crate) const SIGNING_REQUEST_LABEL: &str = "imprimatur.cop.redhat.com/signing-request";
/// The `Scanned` reason while the scan it asked for runs.
pub(crate) const WAITING: &str = "WaitingForScan";
/// How often a waiting request looks even without a watch event.
pub(crate) const WAIT_REQUEUE: Duration = Duration::from_secs(300);
/// How soon a request looks again after deleting its stale scan.
pub(crate) const REPLACE_REQUEUE: Duration = Duration::from_secs(2);

/// One step of a signing request that `requireScan` (see the module docs).
pub(crate) async fn reconcile_with_scan(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    ns: &str,
) -> Result<Action, Error> {
    let max_age = match freshness::max_scan_age(&obj.spec) {
        Ok(age) => age,
        Err(e) => {
            return fail(
                obj,
                ctx,
                api,
                "InvalidRequest",
                format!("spec.maxScanAge: {e}"),
            )
            .await;
        }
    };
    let uid = obj.metadata.uid.clone().ok_or(Error::NoUid)?;
    let pinned = match recorded(obj) {
        Some(p) => p,
        None => match resolve(obj, ctx).await {
            Ok(p) => p,
            Err((reason, message, true)) => {
                return retry_resolving(obj, ctx, api, reason, message).await;
            }
            Err((reason, message, false)) => return fail(obj, ctx, api, reason, message).await,
        },
    };
    let question = ScanQuestion::of_signing(&obj.spec, &pinned.digest);
    let own = question.request_name(&obj.name_any(), &uid);
    let scans: Api<ImageScanningRequest> = Api::namespaced(ctx.client.clone(), ns);
    let list = scans.list(&ListParams::default()).await?;
    let candidates: Vec<Candidate<'_>> = list.items.iter().map(candidate).collect();
    let status_of = |name: &str| {
        list.items
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .and_then(|s| s.status.as_ref())
    };
    match freshness::decide(&candidates, &question, &own, max_age, (ctx.now)()) {
        Decision::Sign(scan) => sign(obj, ctx, api, ns, &scan, status_of(&scan)).await,
        Decision::Wait(scan) => wait(obj, ctx, api, &pinned, &scan, None).await,
        Decision::Create => create(obj, ctx, api, &scans, &pinned, &question, &own).await,
        Decision::Replace(scan) => {
            match scans.delete(&scan, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            Ok(Action::requeue(REPLACE_REQUEUE))
        }
        Decision::GateFailed(scan, why) => {
            let mut status = failed_status(obj, ctx, "GateFailed", &format!("{scan}: {why}"));
            copy_scan(&mut status, status_of(&scan));
            status.set_condition(
                ConditionType::GatePassed,
                ConditionStatus::False,
                "GateFailed",
                format!("ImageScanningRequest {scan} did not pass the gate"),
                obj.metadata.generation,
                (ctx.now)(),
            );
            finish_failed(obj, ctx, api, status).await
        }
        Decision::ScanFailed(scan, reason, message) => {
            let message = format!("ImageScanningRequest {scan} failed: {message}");
            fail(obj, ctx, api, &reason, message).await
        }
        other => Err(Error::Decision(format!("{other:?}"))),
    }
}

/// A scanning request as the decision sees it.
fn candidate(scan: &ImageScanningRequest) -> Candidate<'_> {
    Candidate {
        name: scan.metadata.name.as_deref().unwrap_or_default(),
        generation: scan.metadata.generation,
        deleting: scan.metadata.deletion_timestamp.is_some(),
        spec: &scan.spec,
        status: scan.status.as_ref(),
    }
}

/// The pinned image, or why not. Signing on push pins the pushed digest
/// (annotation): that image is scanned, whatever the tag points to now.
async fn resolve(obj: &ImageSigningRequest, ctx: &Context) -> Result<Pinned, Unpinned> {
    let spec = &obj.spec;
    let (pinned, stream_tag) = pin(
        ctx,
        obj.namespace(),
        spec.image_stream_tag.as_deref(),
        spec.image.as_deref(),
    )
    .await?;
    let pushed = obj.annotations().get(PINNED_DIGEST_ANNOTATION);
    crate::autosign::pin_pushed(pinned, pushed.map(String::as_str), stream_tag)
        .map_err(|why| ("InvalidRequest", why, false))
}

/// `Running`, waiting for `scan` to scan the pinned digest: written only
/// when the status does not say so already (a wake-up by the watch writes
/// nothing), then published as `notice` when one is given.
async fn wait(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    pinned: &Pinned,
    scan: &str,
    notice: Option<Notice>,
) -> Result<Action, Error> {
    let message = format!(
        "waiting for ImageScanningRequest {scan} to scan {}",
        pinned.digest
    );
    let current = obj.status.as_ref();
    let said = current
        .and_then(|s| s.condition(ConditionType::Scanned))
        .is_some_and(|c| {
            c.reason == WAITING
                && c.message == message
                && c.observed_generation == obj.metadata.generation
        });
    let running = current.is_some_and(|s| s.phase == Some(Phase::Running));
    if !(said && running) {
        let now = (ctx.now)();
        let mut status = current.cloned().unwrap_or_default();
        status.phase = Some(Phase::Running);
        status.start_time = Some(rfc3339(now));
        status.end_time = None;
        status.image_digest = Some(pinned.digest.clone());
        status.unsigned_image = Some(pinned.repo_at_digest.clone());
        status.set_condition(
            ConditionType::Scanned,
            ConditionStatus::Unknown,
            WAITING,
            message,
            obj.metadata.generation,
            now,
        );
        apply_status(&ctx.metrics, api, &obj.name_any(), &status).await?;
    }
    if let Some(notice) = notice {
        events::publish(&ctx.recorder, obj, &[notice]).await;
    }
    Ok(Action::requeue(WAIT_REQUEUE))
}

/// Creates the request's own scanning request (the key Secret checked
/// first: a key that cannot be had fails now, not after a scan), then
/// waits for it.
async fn create(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    scans: &Api<ImageScanningRequest>,
    pinned: &Pinned,
    question: &ScanQuestion,
    own: &str,
) -> Result<Action, Error> {
    let ns = obj.namespace().unwrap_or_default();
    if let Err(message) = signing_keys(obj, ctx, &ns).await? {
        return fail(obj, ctx, api, KEY_UNAVAILABLE, message).await;
    }
    let scan = scanning_request(obj, pinned, question, own)?;
    match scans.create(&PostParams::default(), &scan).await {
        Ok(_) => {}
        // Made by an earlier reconcile whose status write was lost.
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let note = format!(
        "created ImageScanningRequest {own} to scan {}",
        pinned.digest
    );
    let notice = Notice::normal("ScanRequested", "Scan", note);
    wait(obj, ctx, api, pinned, own, Some(notice)).await
}

/// The scanning request that answers `question` for `obj`: named `own`,
/// owned by `obj` (garbage-collected with it; its changes wake `obj`),
/// labelled with `obj`'s name, scanning the pinned image.
fn scanning_request(
    obj: &ImageSigningRequest,
    pinned: &Pinned,
    question: &ScanQuestion,
    own: &str,
) -> Result<ImageScanningRequest, Error> {
    let name = obj.name_any();
    let owner = OwnerReference {
        api_version: ImageSigningRequest::api_version(&()).into_owned(),
        kind: ImageSigningRequest::kind(&()).into_owned(),
        name: name.clone(),
        uid: obj.metadata.uid.clone().ok_or(Error::NoUid)?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Ok(ImageScanningRequest {
        metadata: ObjectMeta {
            name: Some(own.to_owned()),
            namespace: obj.namespace(),
            labels: Some(BTreeMap::from([(
                SIGNING_REQUEST_LABEL.to_owned(),
                freshness::label_value(&name),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: question.scanning_spec(format!("docker://{}", pinned.repo_at_digest)),
        status: None,
    })
}

/// Signs on the evidence of the passed scanning request `scan`.
async fn sign(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    ns: &str,
    scan: &str,
    scan_status: Option<&RequestStatus>,
) -> Result<Action, Error> {
    let source = format!("ImageScanningRequest {scan}");
    let Some(evidence) = scan_status.and_then(|s| PassedScan::from_status(&source, s)) else {
        let message = format!("{source} passed without a digest or counts to sign on");
        return fail(obj, ctx, api, "ScanError", message).await;
    };
    let pipeline = match signing_keys(obj, ctx, ns).await? {
        Ok(p) => p,
        Err(message) => return fail(obj, ctx, api, KEY_UNAVAILABLE, message).await,
    };
    let Request::Signing(doc) = obj.to_request() else {
        return Err(Error::Decision("a signing request that is not one".into()));
    };
    let collector = Collector::default();
    let out = pipeline
        .events(collector.callback())
        .sign_scanned(&doc as &Document<_>, &evidence)
        .await;
    let (name, uid) = (obj.name_any(), obj.uid().unwrap_or_default());
    if out.transient {
        return retry_later(obj, ctx, api, (&name, &uid), out.status, "Sign").await;
    }
    ctx.clear_retries(&uid);
    apply_status(&ctx.metrics, api, &name, &out.status).await?;
    count_run(&ctx.metrics, &out);
    let notices = collector.finish(&out.status);
    events::publish(&ctx.recorder, obj, &notices).await;
    Ok(Action::await_change())
}

/// The scan's result copied into a signing request's status.
fn copy_scan(status: &mut RequestStatus, scan: Option<&RequestStatus>) {
    let Some(scan) = scan else { return };
    status.scan_result = scan.scan_result;
    status.failed_by_severity = scan.failed_by_severity.clone();
    status.present_cves = scan.present_cves.clone();
    status.failed_rules = scan.failed_rules.clone();
    status.failed_rules_omitted = scan.failed_rules_omitted;
    status.gate = scan.gate.clone();
    status.scan_limitations = scan.scan_limitations.clone();
}

/// `Failed` with `reason` and `message`, and a warning saying so.
async fn fail(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    reason: &str,
    message: impl Into<String>,
) -> Result<Action, Error> {
    let status = failed_status(obj, ctx, reason, &message.into());
    finish_failed(obj, ctx, api, status).await
}

async fn finish_failed(
    obj: &ImageSigningRequest,
    ctx: &Context,
    api: &Api<ImageSigningRequest>,
    status: RequestStatus,
) -> Result<Action, Error> {
    apply_status(&ctx.metrics, api, &obj.name_any(), &status).await?;
    if let Some(notice) = events::failure_of(&status, "Sign") {
        events::publish(&ctx.recorder, obj, &[notice]).await;
    }
    ctx.clear_retries(&obj.uid().unwrap_or_default());
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
