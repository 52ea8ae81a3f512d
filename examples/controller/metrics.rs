//! The controller's Prometheus metrics (served on `/metrics` by
//! `health.rs`, OpenMetrics text), all prefixed `imprimatur_`:
//!
//! - `reconciles_total{kind,result}`: reconciles run, `result` `ok` or
//!   `error` (an error is retried by the error policy);
//! - `reconcile_duration_seconds{kind}`: how long each took (histogram);
//! - `reconciles_in_flight{kind}`: reconciles running now (at most
//!   `IMPRIMATUR_CONCURRENCY`);
//! - `requests_pending{kind}`: the queue depth: requests in the
//!   controller's cache whose status does not yet answer their generation
//!   (waiting, running, or retrying), counted every few seconds (the
//!   runtime's own queue is not observable);
//! - `requests_finished_total{kind,outcome}`: statuses written as
//!   `Completed` or `Failed`;
//! - `signatures_total{result}`: signatures `created`, or `reused` (a valid
//!   one was already in the store);
//! - `scans_total{kind,verdict}`: scans ended, `verdict` `passed` or
//!   `failed` (the gate), `ungated`, or `error` (no result);
//! - `new_findings_total{kind}`: failed rules and CVEs a scan run found
//!   that the run before it (a rescan's predecessor) did not have;
//! - `auto_sign_requests_total{result}`: signing requests for a pushed image
//!   stream tag (`autosign.rs`), `created`, or `existing` (made before, e.g.
//!   by an earlier replica: the create answered 409).
//!
//! One [`Metrics`] per process, shared by the controllers through the
//! context.

use std::future::Future;
use std::time::Instant;

use imprimatur::service::{Phase, RequestStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignatureLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    kind: &'static str,
    verdict: &'static str,
}

/// Reconcile durations, 10 ms to about 80 s (a signing run pulls, maybe
/// scans, signs and publishes).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// The metrics and the registry that exposes them.
pub(crate) struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<KindLabels, Gauge>,
    pending: Family<KindLabels, Gauge>,
    finished: Family<OutcomeLabels, Counter>,
    signatures: Family<SignatureLabels, Counter>,
    scans: Family<VerdictLabels, Counter>,
    new_findings: Family<KindLabels, Counter>,
    auto_sign: Family<SignatureLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero, registered.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("imprimatur");
        let reconciles = Family::default();
        let durations = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let in_flight = Family::default();
        let pending = Family::default();
        let finished = Family::default();
        let signatures = Family::default();
        let scans = Family::default();
        let new_findings = Family::default();
        let auto_sign = Family::default();
        registry.register(
            "reconciles",
            "Reconciles run, by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long reconciles took, by kind",
            durations.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now, by kind",
            in_flight.clone(),
        );
        registry.register(
            "requests_pending",
            "Requests not yet answered for their generation (the queue), by kind",
            pending.clone(),
        );
        registry.register(
            "requests_finished",
            "Request statuses written Completed or Failed, by kind",
            finished.clone(),
        );
        registry.register(
            "signatures",
            "Signatures created or reused",
            signatures.clone(),
        );
        registry.register("scans", "Scans ended, by kind and verdict", scans.clone());
        registry.register(
            "new_findings",
            "Failed rules and CVEs found that the scan run before did not have, by kind",
            new_findings.clone(),
        );
        registry.register(
            "auto_sign_requests",
            "Signing requests for pushed image stream tags, created or existing",
            auto_sign.clone(),
        );
        Metrics {
            registry,
            reconciles,
            durations,
            in_flight,
            pending,
            finished,
            signatures,
            scans,
            new_findings,
            auto_sign,
        }
    }

    /// Counts a signing request for a pushed tag: `created`, or found
    /// `existing`.
    pub(crate) fn auto_sign_request(&self, created: bool) {
        let result = if created { "created" } else { "existing" };
        self.auto_sign
            .get_or_create(&SignatureLabels { result })
            .inc();
    }

    /// Sets how many requests of `kind` are pending (the queue depth).
    pub(crate) fn set_pending(&self, kind: &'static str, pending: usize) {
        let value = i64::try_from(pending).unwrap_or(i64::MAX);
        self.pending.get_or_create(&KindLabels { kind }).set(value);
    }

    /// The OpenMetrics text of every metric.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Runs one reconcile of `kind`, counting it, timing it and holding it
    /// in flight meanwhile (also when it is cancelled: a drop guard).
    pub(crate) async fn measure<T, E>(
        &self,
        kind: &'static str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let labels = KindLabels { kind };
        let _in_flight = InFlight::enter(self.in_flight.get_or_create(&labels).clone());
        let start = Instant::now();
        let result = work.await;
        self.durations
            .get_or_create(&labels)
            .observe(start.elapsed().as_secs_f64());
        let result_label = if result.is_ok() { "ok" } else { "error" };
        self.reconciles
            .get_or_create(&ResultLabels {
                kind,
                result: result_label,
            })
            .inc();
        result
    }

    /// Counts a status written for `kind`, when it ends the request.
    pub(crate) fn status_written(&self, kind: &'static str, status: &RequestStatus) {
        let outcome = match status.phase {
            Some(Phase::Completed) => "completed",
            Some(Phase::Failed) => "failed",
            _ => return,
        };
        self.finished
            .get_or_create(&OutcomeLabels { kind, outcome })
            .inc();
    }

    /// Counts a signature made (`created`) or found in its store.
    pub(crate) fn signature(&self, created: bool) {
        let result = if created { "created" } else { "reused" };
        self.signatures
            .get_or_create(&SignatureLabels { result })
            .inc();
    }

    /// Counts a scan of `kind`'s request that ended: with `status` (its
    /// gate's verdict), or without a result (`None`).
    pub(crate) fn scan(&self, kind: &'static str, status: Option<&RequestStatus>) {
        let verdict = match status.map(|s| s.gate.as_ref().map(|g| g.passed)) {
            None => "error",
            Some(None) => "ungated",
            Some(Some(true)) => "passed",
            Some(Some(false)) => "failed",
        };
        self.scans
            .get_or_create(&VerdictLabels { kind, verdict })
            .inc();
    }
}

impl Metrics {
    /// Counts the findings a scan run found that the run before did not.
    pub(crate) fn new_findings(&self, kind: &'static str, count: usize) {
        self.new_findings
            .get_or_create(&KindLabels { kind })
            .inc_by(count as u64);
    }
}

/// Holds one reconcile in the in-flight gauge until dropped.
struct InFlight(Gauge);

impl InFlight {
    fn enter(gauge: Gauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[tokio::test]
    async fn a_reconcile_is_counted_timed_and_out_of_flight_after() {
        let metrics = Metrics::new();
        let ok: Result<(), ()> = metrics
            .measure("ImageSigningRequest", async { Ok(()) })
            .await;
        assert!(ok.is_ok());
        let err: Result<(), ()> = metrics
            .measure("ImageSigningRequest", async { Err(()) })
            .await;
        assert!(err.is_err());
        let text = metrics.encode().expect("encode");
        assert_eq!(
            line(
                &text,
                "imprimatur_reconciles_total{kind=\"ImageSigningRequest\",result=\"ok\"}"
            ),
            Some("imprimatur_reconciles_total{kind=\"ImageSigningRequest\",result=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "imprimatur_reconcile_duration_seconds_count{kind=\"ImageSigningRequest\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("imprimatur_reconciles_in_flight{kind=\"ImageSigningRequest\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn only_final_statuses_count_as_finished() {
        let metrics = Metrics::new();
        let mut status = RequestStatus {
            phase: Some(Phase::Running),
            ..RequestStatus::default()
        };
        metrics.status_written("ImageScanningRequest", &status);
        status.phase = Some(Phase::Failed);
        metrics.status_written("ImageScanningRequest", &status);
        metrics.scan("ImageScanningRequest", None);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(
                "imprimatur_requests_finished_total{kind=\"ImageScanningRequest\",outcome=\"failed\"} 1"
            ),
            "{text}"
        );
        assert!(!text.contains("outcome=\"running\""), "{text}");
        assert!(
            text.contains(
                "imprimatur_scans_total{kind=\"ImageScanningRequest\",verdict=\"error\"} 1"
            ),
            "{text}"
        );
    }
}
