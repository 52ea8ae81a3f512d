//! Kubernetes events for each step of a request (`events.k8s.io/v1`,
//! reporter [`REPORTER`]): `Normal` for Scanned, GatePassed, Signed,
//! Published, Verified (and a scan Job, or a signing request's scanning
//! request, created), `Warning` for every failure and for a rescan's new
//! findings, so that `kubectl describe` tells the story the status sums up.
//!
//! Events are published after the status write they describe, and are best
//! effort: a refused event is logged and the reconcile goes on (failing it
//! would redo work that succeeded, for a message). Notes are the pipeline's
//! and the controller's own messages (image, digest, fingerprint, store,
//! reason), which never hold key material; they are cut at the API's 1 KiB.

use std::sync::{Arc, Mutex};

use imprimatur::service::pipeline::EventFn;
use imprimatur::service::status::{ConditionStatus, ConditionType};
use imprimatur::service::{PipelineEvent, RequestStatus, Step};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

/// The `reportingController` of every event.
pub(crate) const REPORTER: &str = "imprimatur-controller";

/// The API's limit on an event's note.
const MAX_NOTE: usize = 1024;

/// The recorder of this replica (`instance`: its pod name, when given).
pub(crate) fn recorder(client: Client, instance: Option<String>) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: REPORTER.into(),
            instance,
        },
    )
}

/// One event to publish about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// `Warning` when something failed.
    pub(crate) warning: bool,
    /// `Scanned`, `GateFailed`, `KeyUnavailable`, ...
    pub(crate) reason: String,
    /// The step: `Scan`, `Gate`, `Sign`, ...
    pub(crate) action: &'static str,
    /// What happened, in a sentence.
    pub(crate) note: String,
}

impl Notice {
    /// A `Normal` event.
    pub(crate) fn normal(reason: &str, action: &'static str, note: impl Into<String>) -> Self {
        Notice {
            warning: false,
            reason: reason.into(),
            action,
            note: note.into(),
        }
    }

    /// A `Warning` event.
    pub(crate) fn warning(reason: &str, action: &'static str, note: impl Into<String>) -> Self {
        Notice {
            warning: true,
            ..Notice::normal(reason, action, note)
        }
    }

    fn to_event(&self) -> Event {
        Event {
            type_: if self.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: self.reason.clone(),
            note: Some(truncate(&self.note, MAX_NOTE)),
            action: self.action.into(),
            secondary: None,
        }
    }
}

/// The event of a pipeline event, for the steps worth one: resolving, step
/// starts and pull progress are left to the status and the logs.
pub(crate) fn of_pipeline(event: &PipelineEvent) -> Option<Notice> {
    let (step, message, failed) = match event {
        PipelineEvent::Finished(step, m) => (*step, m, false),
        PipelineEvent::Failed(step, m) => (*step, m, true),
        _ => return None,
    };
    let (action, done, failure) = match step {
        Step::Resolve if failed => ("Resolve", "", "ResolveFailed"),
        Step::Scan => ("Scan", "Scanned", "ScanFailed"),
        Step::Gate => ("Gate", "GatePassed", "GateFailed"),
        Step::Sign => ("Sign", "Signed", "SigningFailed"),
        Step::Publish => ("Publish", "Published", "PublishFailed"),
        Step::Verify => ("Verify", "Verified", "VerificationFailed"),
        _ => return None,
    };
    Some(if failed {
        Notice::warning(failure, action, message.clone())
    } else {
        Notice::normal(done, action, message.clone())
    })
}

/// Gathers a pipeline run's events (the pipeline reports through a
/// synchronous callback; they are published once the run is over).
#[derive(Clone, Default)]
pub(crate) struct Collector(Arc<Mutex<Vec<Notice>>>);

impl Collector {
    /// The callback to give the pipeline.
    pub(crate) fn callback(&self) -> EventFn {
        let notices = self.0.clone();
        Arc::new(move |event| {
            if let Some(notice) = of_pipeline(&event) {
                notices
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(notice);
            }
        })
    }

    /// What was gathered, and, when the run failed without a failure event
    /// (a request refused before its first step), a `Warning` with the
    /// `Ready` condition's reason and message.
    pub(crate) fn finish(&self, status: &RequestStatus) -> Vec<Notice> {
        let mut notices = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if !notices.iter().any(|n| n.warning) {
            notices.extend(failure_of(status, "Reconcile"));
        }
        notices
    }
}

/// A `Warning` from a status whose `Ready` condition is `False`.
pub(crate) fn failure_of(status: &RequestStatus, action: &'static str) -> Option<Notice> {
    let ready = status.condition(ConditionType::Ready)?;
    (ready.status == ConditionStatus::False)
        .then(|| Notice::warning(&ready.reason, action, ready.message.clone()))
}

/// Publishes `notices` about `obj`, in order; a refused one is logged.
pub(crate) async fn publish<K>(recorder: &Recorder, obj: &K, notices: &[Notice])
where
    K: Resource<DynamicType = ()>,
{
    let reference = obj.object_ref(&());
    for notice in notices {
        if let Err(e) = recorder.publish(&notice.to_event(), &reference).await {
            crate::log::warn(
                "event refused",
                serde_json::json!({"kind": reference.kind, "namespace": reference.namespace,
                                   "name": reference.name, "reason": notice.reason,
                                   "error": e.to_string()}),
            );
        }
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_map_to_normal_and_warning_events() {
        let signed = of_pipeline(&PipelineEvent::Finished(Step::Sign, "x with FP".into()));
        assert_eq!(signed, Some(Notice::normal("Signed", "Sign", "x with FP")));
        let gate = of_pipeline(&PipelineEvent::Failed(Step::Gate, "2 high".into()));
        assert_eq!(gate, Some(Notice::warning("GateFailed", "Gate", "2 high")));
        assert_eq!(
            of_pipeline(&PipelineEvent::Started(Step::Scan)),
            None,
            "starts are not events"
        );
        assert_eq!(
            of_pipeline(&PipelineEvent::Finished(Step::Resolve, "d".into())),
            None
        );
    }

    #[test]
    fn notes_are_cut_at_the_limit_on_a_character_boundary() {
        let long = "é".repeat(MAX_NOTE);
        let cut = truncate(&long, MAX_NOTE);
        assert!(
            cut.len() <= MAX_NOTE && cut.ends_with("..."),
            "{}",
            cut.len()
        );
        assert_eq!(truncate("short", MAX_NOTE), "short");
    }
}
