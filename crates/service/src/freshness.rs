//! Scan freshness: which earlier scan a signing request may rely on, when a
//! scanning request scans again, and what a rescan found that the run
//! before it did not. Pure decisions (no I/O, time passed in), so that the
//! controller only reads and writes the API around them.
//!
//! - [`parse_duration`]: `maxScanAge`'s format.
//! - [`ScanQuestion`]: what a signing request with `requireScan` asks of a
//!   scan (a digest, scan settings, a gate); the deterministic name and the
//!   spec of the `ImageScanningRequest` it creates to get the answer.
//! - [`decide`]: reuse a passed scan younger than `maxScanAge`, wait for
//!   the scan it made, fail with that scan's verdict, or create one.
//! - [`rescan`]: when a scanning request with `rescanIntervalSeconds` is
//!   due to scan again.
//! - [`record_run`]: a run's entry in the bounded history, and the findings
//!   that are new since the run before.
//!
//! Why a scan is reusable only when its settings and gate are the signing
//! request's own: its verdict then answers exactly the question the signing
//! request asks. A scan with other content, another profile or a laxer gate
//! says nothing about this one.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use imprimatur_arf::Gate;
use sha2::{Digest as _, Sha256};

use crate::request::{ImageScanningRequestSpec, ImageSigningRequestSpec, ScanSettings};
use crate::status::{
    ConditionStatus, ConditionType, MAX_NEW_FINDINGS, MAX_SCAN_HISTORY, Phase, RequestStatus,
    ScanRecord, parse_rfc3339, rfc3339,
};

/// `maxScanAge` when a signing request gives none: a day, as Trivy
/// Operator's default report TTL.
pub const DEFAULT_MAX_SCAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// The longest duration [`parse_duration`] accepts (about 11 years): more
/// is surely a typo, and it keeps every sum far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(100_000 * 3600);

/// A scan this signing request made itself is accepted for at least this
/// long after it ended, even with a shorter `maxScanAge` (`0s` means "never
/// reuse another scan", not "never sign"): the scan it asked for answers it.
pub const OWN_SCAN_GRACE: Duration = Duration::from_secs(3600);

/// What is wrong with a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationProblem {
    /// Nothing was given.
    Empty,
    /// A character other than digits and the units `h`, `m`, `s`.
    UnexpectedCharacter(char),
    /// A unit without a number before it.
    MissingNumber,
    /// A number without a unit after it.
    MissingUnit,
    /// Units not in the order hours, minutes, seconds, or one repeated.
    OutOfOrder,
    /// Longer than [`MAX_DURATION`].
    TooLong,
}

impl std::fmt::Display for DurationProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DurationProblem::Empty => f.write_str("it is empty"),
            DurationProblem::UnexpectedCharacter(c) => write!(f, "unexpected {c:?}"),
            DurationProblem::MissingNumber => f.write_str("a unit without a number"),
            DurationProblem::MissingUnit => f.write_str("a number without a unit"),
            DurationProblem::OutOfOrder => f.write_str("units out of order or repeated"),
            DurationProblem::TooLong => write!(
                f,
                "longer than the {} h allowed",
                MAX_DURATION.as_secs() / 3600
            ),
        }
    }
}

/// A duration that [`parse_duration`] refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "duration {text:?}: {problem} (expected hours, minutes and seconds in that order, \
     each an integer with its unit: 24h, 90m, 1h30m, 3600s)"
)]
pub struct DurationError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub problem: DurationProblem,
}

/// Parses a duration written as Kubernetes and Go write them, restricted to
/// whole hours, minutes and seconds: `24h`, `90m`, `3600s`, `1h30m`, `0s`.
///
/// Why this format rather than integer seconds: it is what users of
/// Kubernetes tools write for ages and intervals (`metav1.Duration`, Flux's
/// `interval`, cert-manager's `duration`), and `24h` reads better than
/// `86400`. It is strict (no fractions, no `ms`/`d`, no sign, units in
/// order, each once) so that a value means one thing; the CRD checks the
/// same grammar at admission.
///
/// ```
/// use std::time::Duration;
/// use imprimatur_service::freshness::parse_duration;
///
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert!(parse_duration("1d").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |problem| DurationError {
        text: text.chars().take(64).collect(),
        problem,
    };
    if text.is_empty() {
        return Err(error(DurationProblem::Empty));
    }
    let max = MAX_DURATION.as_secs();
    let (mut total, mut number, mut digits, mut last_rank) = (0u64, 0u64, false, u8::MAX);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = number
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .filter(|n| *n <= max)
                .ok_or_else(|| error(DurationProblem::TooLong))?;
            digits = true;
            continue;
        }
        let (rank, unit) = match c {
            'h' => (3, 3600),
            'm' => (2, 60),
            's' => (1, 1),
            other => return Err(error(DurationProblem::UnexpectedCharacter(other))),
        };
        if !digits {
            return Err(error(DurationProblem::MissingNumber));
        }
        if rank >= last_rank {
            return Err(error(DurationProblem::OutOfOrder));
        }
        total = number
            .checked_mul(unit)
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= max)
            .ok_or_else(|| error(DurationProblem::TooLong))?;
        (number, digits, last_rank) = (0, false, rank);
    }
    if digits {
        return Err(error(DurationProblem::MissingUnit));
    }
    Ok(Duration::from_secs(total))
}

/// A signing request's `maxScanAge`, or [`DEFAULT_MAX_SCAN_AGE`].
pub fn max_scan_age(spec: &ImageSigningRequestSpec) -> Result<Duration, DurationError> {
    spec.max_scan_age
        .as_deref()
        .map_or(Ok(DEFAULT_MAX_SCAN_AGE), parse_duration)
}

/// What a signing request with `requireScan` asks of a scan: the digest,
/// scanned with these settings, judged by this gate (the default gate when
/// it names none, as the in-process pipeline does).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanQuestion {
    /// The digest to be scanned.
    pub digest: String,
    /// The scan settings (absent ones are the defaults).
    pub scan: ScanSettings,
    /// The gate.
    pub gate: Gate,
}

impl ScanQuestion {
    /// The question of a signing request about `digest`.
    pub fn of_signing(spec: &ImageSigningRequestSpec, digest: impl Into<String>) -> Self {
        ScanQuestion {
            digest: digest.into(),
            scan: spec.scan.clone().unwrap_or_default(),
            gate: spec.gate.clone().unwrap_or_default(),
        }
    }

    /// Whether a scanning request's spec asks the same (its settings and
    /// gate; the digest is the status's).
    pub fn asked_by(&self, spec: &ImageScanningRequestSpec) -> bool {
        spec.scan.clone().unwrap_or_default() == self.scan && spec.gate.as_ref() == Some(&self.gate)
    }

    /// The spec of the scanning request that answers this question for
    /// `image` (`docker://REPO@DIGEST`: pinned, so that the scan cannot
    /// follow a moving tag). No rescans: it answers one question once.
    pub fn scanning_spec(&self, image: impl Into<String>) -> ImageScanningRequestSpec {
        ImageScanningRequestSpec {
            image: Some(image.into()),
            scan: (self.scan != ScanSettings::default()).then(|| self.scan.clone()),
            gate: Some(self.gate.clone()),
            ..ImageScanningRequestSpec::default()
        }
    }

    /// The name of the scanning request a signing request (`name`, `uid`)
    /// creates for this question: `<name>-scan-<10 hex>`, the hex from the
    /// UID, digest, settings and gate. A valid DNS-1123 label of at most 63
    /// characters, the same on every reconcile (a restarted controller finds
    /// the request it made; creating it twice is a 409), and another for
    /// another question (a new spec, a new digest).
    pub fn request_name(&self, name: &str, uid: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            uid,
            &self.digest,
            &serde_json::to_string(&self.scan).unwrap_or_default(),
            &serde_json::to_string(&self.gate).unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update(b"\n");
        }
        let hex = hex(&h.finalize()[..5]);
        let prefix = dns_label_prefix(name, 63 - "-scan-".len() - hex.len());
        format!("{prefix}-scan-{hex}")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name` as the start of a DNS-1123 label: lowercase alphanumerics and
/// `-` (other characters become `-`), at most `max` characters, starting
/// and ending with an alphanumeric (`req` when nothing is left).
fn dns_label_prefix(name: &str, max: usize) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(max)
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "req".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A name as a label value (at most 63 characters): the name itself when it
/// fits, else its first 52 characters and 10 hex digits of its SHA-256.
pub fn label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    let hex = hex(&Sha256::digest(name.as_bytes())[..5]);
    format!("{}-{hex}", dns_label_prefix(name, 52))
}

/// A scanning request as [`decide`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its generation.
    pub generation: Option<i64>,
    /// Being deleted (a deletion timestamp is set).
    pub deleting: bool,
    /// Its spec.
    pub spec: &'a ImageScanningRequestSpec,
    /// Its status.
    pub status: Option<&'a RequestStatus>,
}

/// Where a scanning request stands for its current generation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanState {
    /// Not finished (or finished for an older generation, or rescanning).
    Pending,
    /// It passed its gate; `finished` is its end time, when readable.
    Passed {
        /// The status's `endTime`.
        finished: Option<SystemTime>,
    },
    /// It did not pass its gate; the `Ready` message (the gate's reasons).
    GateFailed(String),
    /// It ended without a verdict that passes (an error, or no gate): the
    /// `Ready` reason and message.
    Failed(String, String),
}

/// Where a scanning request stands ([`ScanState`]).
pub fn scan_state(c: &Candidate<'_>) -> ScanState {
    let Some(status) = c.status else {
        return ScanState::Pending;
    };
    let Some(ready) = status
        .condition(ConditionType::Ready)
        .filter(|r| r.observed_generation == c.generation)
    else {
        return ScanState::Pending;
    };
    match status.phase {
        Some(Phase::Completed) if status.gate.as_ref().is_some_and(|g| g.passed) => {
            ScanState::Passed {
                finished: status.end_time.as_deref().and_then(parse_rfc3339),
            }
        }
        Some(Phase::Completed) => ScanState::Failed(
            "NoGate".into(),
            "it completed without a gate, so it passed nothing".into(),
        ),
        Some(Phase::Failed) if ready.reason == "GateFailed" => {
            ScanState::GateFailed(ready.message.clone())
        }
        Some(Phase::Failed) => ScanState::Failed(ready.reason.clone(), ready.message.clone()),
        _ => ScanState::Pending,
    }
}

/// What a signing request with `requireScan` does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Sign, on the evidence of this passed scanning request.
    Sign(String),
    /// Wait for this scanning request (the one it made) to finish.
    Wait(String),
    /// Fail: this scanning request's scan did not pass the gate (why).
    GateFailed(String, String),
    /// Fail: this scanning request ended without a result (its name, its
    /// `Ready` reason and message).
    ScanFailed(String, String, String),
    /// Delete this scanning request (the one it made: it passed too long
    /// ago, or its spec was changed), then create it again.
    Replace(String),
    /// Create the scanning request (it does not exist).
    Create,
}

/// The next step of a signing request asking `question`, among the
/// scanning requests of its namespace (`candidates`; the one it made is
/// named `own`), at `now`:
///
/// 1. a scanning request of the same digest, settings and gate that passed
///    for its current generation and ended at most `max_age` ago (the
///    youngest, when several): [`Decision::Sign`];
/// 2. else the one it made: still running: [`Decision::Wait`]; passed (and
///    ended within [`OWN_SCAN_GRACE`]): [`Decision::Sign`]; failed the gate
///    or failed: [`Decision::GateFailed`] / [`Decision::ScanFailed`]; too
///    old, or no longer asking the same: [`Decision::Replace`];
/// 3. else [`Decision::Create`].
pub fn decide(
    candidates: &[Candidate<'_>],
    question: &ScanQuestion,
    own: &str,
    max_age: Duration,
    now: SystemTime,
) -> Decision {
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let answers = |c: &Candidate<'_>| {
        !c.deleting
            && c.status.and_then(|s| s.image_digest.as_deref()) == Some(question.digest.as_str())
            && question.asked_by(c.spec)
    };
    let fresh = candidates
        .iter()
        .filter(|c| answers(c))
        .filter_map(|c| match scan_state(c) {
            ScanState::Passed { finished: Some(t) } if age(t) <= max_age => Some((t, c.name)),
            _ => None,
        })
        .max();
    if let Some((_, name)) = fresh {
        return Decision::Sign(name.to_owned());
    }
    let Some(mine) = candidates.iter().find(|c| c.name == own) else {
        return Decision::Create;
    };
    if mine.deleting {
        return Decision::Wait(own.to_owned());
    }
    let same_question = question.asked_by(mine.spec);
    match scan_state(mine) {
        _ if !same_question => Decision::Replace(own.to_owned()),
        ScanState::Pending => Decision::Wait(own.to_owned()),
        ScanState::Passed { finished: Some(t) }
            if answers(mine) && age(t) <= max_age.max(OWN_SCAN_GRACE) =>
        {
            Decision::Sign(own.to_owned())
        }
        ScanState::Passed { .. } => Decision::Replace(own.to_owned()),
        ScanState::GateFailed(why) => Decision::GateFailed(own.to_owned(), why),
        ScanState::Failed(reason, message) => Decision::ScanFailed(own.to_owned(), reason, message),
    }
}

/// Whether a scanning request is due to scan again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rescan {
    /// No rescans (no interval, not finished, or an invalid request that no
    /// rescan can mend).
    Never,
    /// Due now.
    Due,
    /// Due after this long.
    After(Duration),
}

/// When a finished scanning request scans again: `interval_seconds` after
/// its last run ended (a run without a readable end time is due at once).
pub fn rescan(
    status: Option<&RequestStatus>,
    interval_seconds: Option<u64>,
    now: SystemTime,
) -> Rescan {
    let (Some(status), Some(interval)) = (status, interval_seconds.filter(|s| *s > 0)) else {
        return Rescan::Never;
    };
    let finished = matches!(status.phase, Some(Phase::Completed | Phase::Failed));
    let invalid = status
        .condition(ConditionType::Ready)
        .is_some_and(|r| r.reason == "InvalidRequest");
    if !finished || invalid {
        return Rescan::Never;
    }
    let Some(ended) = status.end_time.as_deref().and_then(parse_rfc3339) else {
        return Rescan::Due;
    };
    let due = ended + Duration::from_secs(interval.min(MAX_DURATION.as_secs()));
    match due.duration_since(now) {
        Ok(wait) if !wait.is_zero() => Rescan::After(wait),
        _ => Rescan::Due,
    }
}

/// The findings of a status: failed rule ids and present CVEs.
fn findings(status: &RequestStatus) -> impl Iterator<Item = &String> {
    status.failed_rules.iter().chain(&status.present_cves)
}

/// The findings of `after` that `before` did not have, sorted: failed rule
/// ids and present CVEs. A rule id beyond the last one `before` kept (its
/// list was cut at [`crate::status::MAX_FAILED_RULES`]) is not known to be
/// new, so it is not reported.
pub fn new_findings(before: &RequestStatus, after: &RequestStatus) -> Vec<String> {
    let known: BTreeSet<&String> = findings(before).collect();
    let horizon = (before.failed_rules_omitted > 0)
        .then(|| before.failed_rules.last())
        .flatten();
    let rules = after
        .failed_rules
        .iter()
        .filter(|r| horizon.is_none_or(|h| *r < h));
    let new: BTreeSet<&String> = rules
        .chain(&after.present_cves)
        .filter(|f| !known.contains(f))
        .collect();
    new.into_iter().cloned().collect()
}

/// Records the run `status.scanRun` (1 when unset) that just ended at `now`
/// in `status` (which holds its result, or none when it gave none): its
/// entry in `scanHistory` (replacing an entry of the same run, keeping the
/// last [`MAX_SCAN_HISTORY`]) and `newFindings` against `before` (the status
/// before this run's result was written). Returns every new finding.
pub fn record_run(
    status: &mut RequestStatus,
    before: Option<&RequestStatus>,
    now: SystemTime,
) -> Vec<String> {
    let run = status.scan_run.unwrap_or(1);
    let result = status
        .condition(ConditionType::Scanned)
        .is_some_and(|c| c.status == ConditionStatus::True)
        && status.scan_result.is_some();
    let new = match before {
        Some(b) if result && b.scan_result.is_some() => new_findings(b, status),
        _ => Vec::new(),
    };
    status.new_findings = new.iter().take(MAX_NEW_FINDINGS).cloned().collect();
    let verdict = match (&status.gate, result) {
        (_, false) => "error",
        (None, true) => "none",
        (Some(g), true) if g.passed => "passed",
        (Some(_), true) => "failed",
    };
    let counts = status.scan_result.filter(|_| result);
    status.scan_history.retain(|r| r.run != run);
    status.scan_history.push(ScanRecord {
        run,
        time: rfc3339(now),
        image_digest: status.image_digest.clone(),
        verdict: verdict.to_owned(),
        passed_rules: counts.map(|c| c.passed_rules),
        failed_rules: counts.map(|c| c.failed_rules),
        new_findings: new.len() as u64,
    });
    let excess = status.scan_history.len().saturating_sub(MAX_SCAN_HISTORY);
    status.scan_history.drain(..excess);
    new
}

#[cfg(test)]
mod tests;
