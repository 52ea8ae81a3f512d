//! Signing on push: the predecessor's Ansible "event controller", as a
//! controller of `ImageStream`s (`image.openshift.io/v1`, OpenShift only).
//!
//! **Opt-in** by the label [`AUTO_SIGN_LABEL`]`: "true"`, on an image
//! stream, or on a namespace for all its image streams (a stream labelled
//! `"false"` opts out of its namespace's choice). Annotations say how to
//! sign, on the stream, else on its opted-in namespace:
//!
//! | annotation | meaning |
//! |---|---|
//! | `imprimatur.io/signing-key-secret` | the key Secret, in the stream's namespace (required) |
//! | `imprimatur.io/sign-by` | `signingKeySignBy` (optional) |
//! | `imprimatur.io/require-scan` | `"true"`: `requireScan` (optional) |
//! | `imprimatur.io/signature-types` | `atomic`, `sigstore` or `atomic,sigstore` (optional) |
//!
//! To see namespaces opt in, every image stream is watched (not only
//! labelled ones) and kept in the controller's cache: on a cluster with very
//! many large streams that is memory. A stream without the label costs a
//! `GET` of its namespace when it changes; a namespace labelled later wakes
//! each of its streams (the controller also watches labelled namespaces).
//!
//! **What is signed**: each tag's newest image (`status.tags[].items[0]`).
//! A tag whose newest image has no `ImageSigningRequest` yet, made by this
//! controller for that stream, tag and digest, gets one: a new tag, or a
//! tag moved to another image (a push). The requests of a stream are
//! found by the label [`STREAM_LABEL`]; one is named after stream, tag and
//! digest ([`request_name`]), so a create answered 409 AlreadyExists was
//! made before (by an earlier replica, or a restart) and nothing is made
//! twice.
//!
//! **Pinned**: the request names `imageStreamTag: STREAM:TAG` and carries
//! the digest in the annotation `imprimatur.io/image-digest`; it is signed
//! at that digest even if the tag moves again before it runs (the next
//! push has its own request), so nothing is signed that was not pushed
//! under the tag.
//!
//! Each request created is an event on the image stream (`SigningRequested`)
//! and counted in `imprimatur_auto_sign_requests_total`; a stream opted in
//! without a key Secret gets a `Warning` event (`AutoSignMisconfigured`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use imprimatur::reference::Digest;
use imprimatur::service::crd::ImageSigningRequest;
use imprimatur::service::image_streams::PINNED_DIGEST_ANNOTATION;
use imprimatur::service::request::{ImageSigningRequestSpec, SignatureType};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource as _, ResourceExt as _};
use serde::Deserialize;

use crate::reconcile::{Context, Error};
use crate::scanning::Pinned;

/// The label opting an image stream in (value `"true"`).
pub(crate) const AUTO_SIGN_LABEL: &str = "imprimatur.io/auto-sign";
/// The annotation naming the signing key Secret.
pub(crate) const KEY_ANNOTATION: &str = "imprimatur.io/signing-key-secret";
/// The annotation giving `signingKeySignBy`.
pub(crate) const SIGN_BY_ANNOTATION: &str = "imprimatur.io/sign-by";
/// The annotation asking for `requireScan`.
pub(crate) const REQUIRE_SCAN_ANNOTATION: &str = "imprimatur.io/require-scan";
/// The annotation listing signature types.
pub(crate) const SIGNATURE_TYPES_ANNOTATION: &str = "imprimatur.io/signature-types";
/// The label on a request naming the stream it was made for.
pub(crate) const STREAM_LABEL: &str = "imprimatur.io/image-stream";

/// How often an opted-in stream is looked at again without a change (a
/// request deleted meanwhile is made again).
const RESYNC: Duration = Duration::from_secs(600);

/// `image.openshift.io/v1` `ImageStream`.
pub(crate) fn image_stream_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("image.openshift.io", "v1", "ImageStream"),
        "imagestreams",
    )
}

/// The namespaces that opt all their image streams in.
pub(crate) fn selector() -> String {
    format!("{AUTO_SIGN_LABEL}=true")
}

/// Whether a stream is opted in, and the annotations its settings come
/// from: the stream's over its namespace's when the namespace opted in (a
/// `GET` of the namespace only for a stream without the label).
async fn opted_in(
    stream: &DynamicObject,
    ns: &str,
    ctx: &Context,
) -> Result<Option<BTreeMap<String, String>>, Error> {
    let own = stream.annotations().clone();
    match stream.labels().get(AUTO_SIGN_LABEL).map(String::as_str) {
        Some("true") => return Ok(Some(own)),
        Some(_) => return Ok(None),
        None => {}
    }
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let Some(namespace) = namespaces.get_opt(ns).await? else {
        return Ok(None);
    };
    if namespace.labels().get(AUTO_SIGN_LABEL).map(String::as_str) != Some("true") {
        return Ok(None);
    }
    let mut annotations = namespace.annotations().clone();
    annotations.extend(own);
    Ok(Some(annotations))
}

/// `status.tags[]` of an image stream, as far as read here.
#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    tags: Vec<TagHistory>,
}

#[derive(Debug, Deserialize)]
struct TagHistory {
    tag: String,
    #[serde(default)]
    items: Vec<TagEvent>,
}

#[derive(Debug, Deserialize)]
struct TagEvent {
    #[serde(default)]
    image: String,
}

/// Each tag's newest image: `(tag, digest)`. Events whose image is not a
/// digest are skipped.
fn newest_images(stream: &DynamicObject) -> Vec<(String, Digest)> {
    let status: Status = stream
        .data
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    status
        .tags
        .into_iter()
        .filter_map(|t| {
            let newest = t.items.into_iter().next()?;
            Some((t.tag, Digest::parse(&newest.image).ok()?))
        })
        .collect()
}

/// The request's name for `stream:tag@digest`: readable stream and tag
/// (lowercased, anything but `a-z0-9` a `-`, each at most 100 characters)
/// and 16 hex digits of a SHA-256 of the exact triple, so that names differ
/// whenever the triples do; a DNS-1123 subdomain of at most 218 characters.
pub(crate) fn request_name(stream: &str, tag: &str, digest: &Digest) -> String {
    let clean = |s: &str| {
        let mapped: String = s
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '-',
            })
            .take(100)
            .collect();
        mapped.trim_matches('-').to_owned()
    };
    let hash = Digest::sha256_of(format!("{stream}:{tag}@{digest}").as_bytes());
    let parts = [clean(stream), clean(tag), hash.hex()[..16].to_owned()];
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// A label value for a stream name: itself when it is one (at most 63
/// characters), else a hash (the request's spec has the exact name).
fn label_value(stream: &str) -> String {
    if stream.len() <= 63 {
        stream.to_owned()
    } else {
        Digest::sha256_of(stream.as_bytes()).hex()[..40].to_owned()
    }
}

/// How a stream's annotations ask to sign, or why they cannot be used.
fn settings(annotations: &BTreeMap<String, String>) -> Result<ImageSigningRequestSpec, String> {
    let key = annotations
        .get(KEY_ANNOTATION)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            format!("the annotation {KEY_ANNOTATION} (the signing key Secret) is missing")
        })?;
    let signature_types = match annotations.get(SIGNATURE_TYPES_ANNOTATION) {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|t| {
                serde_json::from_value::<SignatureType>(serde_json::Value::String(t.trim().into()))
                    .map_err(|_| {
                        format!(
                            "{SIGNATURE_TYPES_ANNOTATION}: {t:?} is neither atomic nor sigstore"
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(ImageSigningRequestSpec {
        signing_key_secret_name: Some(key.clone()),
        signing_key_sign_by: annotations.get(SIGN_BY_ANNOTATION).cloned(),
        require_scan: annotations
            .get(REQUIRE_SCAN_ANNOTATION)
            .is_some_and(|v| v == "true"),
        signature_types,
        ..ImageSigningRequestSpec::default()
    })
}

/// The `(imageStreamTag, digest)` of the signing requests already made for
/// a stream.
fn requested(requests: &[ImageSigningRequest]) -> BTreeSet<(String, String)> {
    requests
        .iter()
        .filter_map(|r| {
            let tag = r.spec.image_stream_tag.clone()?;
            let digest = r.annotations().get(PINNED_DIGEST_ANNOTATION)?.clone();
            Some((tag, digest))
        })
        .collect()
}

/// The signing request for `stream:tag` at `digest`.
fn signing_request(
    namespace: &str,
    stream: &str,
    tag: &str,
    digest: &Digest,
    spec: &ImageSigningRequestSpec,
) -> ImageSigningRequest {
    let mut request = ImageSigningRequest::new(
        &request_name(stream, tag, digest),
        ImageSigningRequestSpec {
            image_stream_tag: Some(format!("{stream}:{tag}")),
            ..spec.clone()
        },
    );
    request.metadata.namespace = Some(namespace.to_owned());
    request.metadata.labels = Some(BTreeMap::from([(
        STREAM_LABEL.to_owned(),
        label_value(stream),
    )]));
    request.metadata.annotations = Some(BTreeMap::from([(
        PINNED_DIGEST_ANNOTATION.to_owned(),
        digest.to_string(),
    )]));
    request
}

/// The image a signing request on an image stream tag scans and signs:
/// the one `pin` (its [`PINNED_DIGEST_ANNOTATION`]) names, in the
/// repository the tag resolved to (`resolved`), whatever the tag points to
/// now (signing then looks it up in the stream, `Pipeline::sign_scanned`);
/// `resolved` itself for other requests. An annotation that is not a digest
/// is refused, saying so.
pub(crate) fn pin_pushed(
    resolved: Pinned,
    pin: Option<&str>,
    stream_tag: bool,
) -> Result<Pinned, String> {
    let Some(pin) = pin.filter(|p| stream_tag && *p != resolved.digest) else {
        return Ok(resolved);
    };
    let digest = Digest::parse(pin)
        .map_err(|e| format!("annotation {PINNED_DIGEST_ANNOTATION} {pin:?}: {e}"))?;
    let repo = resolved
        .repo_at_digest
        .split_once('@')
        .map_or(resolved.repo_at_digest.as_str(), |(repo, _)| repo);
    Ok(Pinned {
        repo_at_digest: format!("{repo}@{digest}"),
        digest: digest.to_string(),
    })
}

/// Reconciles one opted-in image stream: a signing request for each tag's
/// newest image that has none yet.
pub(crate) async fn reconcile_stream(
    stream: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let (Some(ns), name) = (stream.namespace(), stream.name_any()) else {
        return Err(Error::Unnamed);
    };
    let Some(annotations) = opted_in(&stream, &ns, &ctx).await? else {
        return Ok(Action::await_change());
    };
    let spec = match settings(&annotations) {
        Ok(spec) => spec,
        Err(why) => {
            publish(
                &ctx,
                &stream,
                EventType::Warning,
                "AutoSignMisconfigured",
                why,
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let api: Api<ImageSigningRequest> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = format!("{STREAM_LABEL}={}", label_value(&name));
    let existing = api.list(&ListParams::default().labels(&selector)).await?;
    let done = requested(&existing.items);
    for (tag, digest) in newest_images(&stream) {
        if done.contains(&(format!("{name}:{tag}"), digest.to_string())) {
            continue;
        }
        let request = signing_request(&ns, &name, &tag, &digest, &spec);
        let created = match api.create(&PostParams::default(), &request).await {
            Ok(_) => true,
            Err(kube::Error::Api(s)) if s.code == 409 => false,
            Err(e) => return Err(e.into()),
        };
        ctx.metrics.auto_sign_request(created);
        if created {
            let note = format!(
                "{name}:{tag} is {digest}: ImageSigningRequest {} created",
                request.name_any()
            );
            publish(&ctx, &stream, EventType::Normal, "SigningRequested", note).await;
        }
    }
    Ok(Action::requeue(RESYNC))
}

/// Publishes an event about the image stream; a refused one is logged.
async fn publish(
    ctx: &Context,
    stream: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = stream.object_ref(&image_stream_resource());
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "AutoSign".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        crate::log::warn(
            "event refused",
            serde_json::json!({"kind": "ImageStream", "namespace": reference.namespace,
                               "name": reference.name, "reason": reason, "error": e.to_string()}),
        );
    }
}

/// Retries with a fixed delay.
pub(crate) fn error_policy(
    stream: Arc<DynamicObject>,
    error: &Error,
    _ctx: Arc<Context>,
) -> Action {
    crate::log::warn(
        "reconcile failed; retrying in 30 s",
        serde_json::json!({"kind": "ImageStream", "namespace": stream.namespace(),
                           "name": stream.name_any(), "error": error.to_string()}),
    );
    Action::requeue(Duration::from_secs(30))
}

#[cfg(test)]
mod tests;
