//! The status of a request: the predecessor's fields (`phase`, `conditions`,
//! `startTime`, `endTime`, `unsignedImage`, `signedImage`, `scanResult`) and
//! what the pipeline adds (the scanned digest, the gate's verdict, counts per
//! severity, where the report and the signature went).
//!
//! Conditions are typed and merged by type, as Kubernetes conventions want
//! (the predecessor appended a history): each carries the generation it
//! observed, a reason and a message.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The phase of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum Phase {
    /// Work is under way.
    Running,
    /// Everything asked for was done.
    Completed,
    /// Something failed; the conditions say what.
    Failed,
}

/// The condition types, one per pipeline step and `Ready` for the whole.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[non_exhaustive]
pub enum ConditionType {
    /// The image was scanned.
    Scanned,
    /// The scan passed the gate.
    GatePassed,
    /// A signature was made.
    Signed,
    /// The signature is in its store.
    Published,
    /// The signature was read back and the image accepted by the policy.
    Verified,
    /// The request is done and succeeded.
    Ready,
}

/// `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// It holds.
    True,
    /// It does not.
    False,
    /// Not known (yet).
    Unknown,
}

/// One condition (Kubernetes `metav1.Condition` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Which condition.
    #[serde(rename = "type")]
    pub kind: ConditionType,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// The request generation this was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// A CamelCase reason (`GateFailed`, `ScanError`, ...).
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}

/// The predecessor's `scanResult`: passed = pass + fixed, failed = fail,
/// total = all − notselected − notapplicable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanCounts {
    /// All rule results but notselected and notapplicable.
    pub total_rules: u64,
    /// pass + fixed.
    pub passed_rules: u64,
    /// fail.
    pub failed_rules: u64,
}

/// The gate's decision, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateVerdict {
    /// Whether the scan passed.
    pub passed: bool,
    /// Why it failed (empty when it passed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Findings waived by the gate's waivers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<String>,
}

/// Where a signature went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignatureRecord {
    /// The identity signed for.
    pub identity: String,
    /// The signing key's fingerprint.
    pub fingerprint: String,
    /// The store (a lookaside URL, the registry extension, ...).
    pub store: String,
    /// The signature's own location in the store.
    pub location: String,
    /// False when an equivalent signature was already there.
    pub created: bool,
}

/// The status of either kind of request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    /// Running, Completed, Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// One per type, merged by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Vec<Condition>,
    /// When the run started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The image as requested, resolved: `REPO@DIGEST` (predecessor field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned_image: Option<String>,
    /// The image signed: the same `REPO@DIGEST`, since nothing is re-pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_image: Option<String>,
    /// The digest scanned and signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// The predecessor's rule counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_result: Option<ScanCounts>,
    /// Failed rule results per severity (`high`, `medium`, `low`, `info`, `unknown`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_by_severity: BTreeMap<String, u64>,
    /// CVEs found present (failing rules and vulnerable OVAL definitions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present_cves: Vec<String>,
    /// The gate's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateVerdict>,
    /// Known limits of this scan (probes that cannot run on an offline root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_limitations: Vec<String>,
    /// Where the scan report was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// The atomic signature made (or found) and where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureRecord>,
    /// The sigstore signature made (or found) and where it is (its
    /// `fingerprint` is the public key's SHA-256 key ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore_signature: Option<SignatureRecord>,
    /// The ids of the rules that failed, sorted, at most
    /// [`MAX_FAILED_RULES`] (the first in sort order): what a later scan's
    /// failures are compared with to find new ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_rules: Vec<String>,
    /// How many failed rule ids were left out of `failedRules`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_rules_omitted: u64,
    /// The number of the current (or last) scan run of a scanning request
    /// that rescans on a schedule, counting from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_run: Option<u64>,
    /// The last runs of a scanning request, oldest first, at most
    /// [`MAX_SCAN_HISTORY`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_history: Vec<ScanRecord>,
    /// Findings (failed rule ids, present CVEs) of the last run that the run
    /// before it did not have, sorted, at most [`MAX_NEW_FINDINGS`] (the
    /// history's entry has their count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_findings: Vec<String>,
}

/// The most failed rule ids a status keeps.
pub const MAX_FAILED_RULES: usize = 256;
/// The most runs a status's `scanHistory` keeps.
pub const MAX_SCAN_HISTORY: usize = 10;
/// The most new findings a status names.
pub const MAX_NEW_FINDINGS: usize = 20;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One scan run of a scanning request, as its history keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanRecord {
    /// The run's number (from 1).
    pub run: u64,
    /// When it ended (RFC 3339).
    pub time: String,
    /// The digest scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// `passed`, `failed` (the gate), `none` (no gate) or `error` (no result).
    pub verdict: String,
    /// pass + fixed (absent without a result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_rules: Option<u64>,
    /// fail (absent without a result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_rules: Option<u64>,
    /// How many findings were new since the run before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub new_findings: u64,
}

/// Failed rule ids as a status keeps them: sorted, deduplicated, the first
/// [`MAX_FAILED_RULES`]; and how many were left out.
pub fn bounded_failed_rules(ids: impl IntoIterator<Item = String>) -> (Vec<String>, u64) {
    let all: std::collections::BTreeSet<String> = ids.into_iter().collect();
    let omitted = all.len().saturating_sub(MAX_FAILED_RULES) as u64;
    (all.into_iter().take(MAX_FAILED_RULES).collect(), omitted)
}

impl RequestStatus {
    /// Sets a condition, merging by type: the transition time changes only
    /// when the status does.
    pub fn set_condition(
        &mut self,
        kind: ConditionType,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        generation: Option<i64>,
        now: SystemTime,
    ) {
        let message = message.into();
        if let Some(c) = self.conditions.iter_mut().find(|c| c.kind == kind) {
            if c.status != status {
                c.last_transition_time = rfc3339(now);
            }
            c.status = status;
            c.reason = reason.to_owned();
            c.message = message;
            c.observed_generation = generation;
        } else {
            self.conditions.push(Condition {
                kind,
                status,
                observed_generation: generation,
                last_transition_time: rfc3339(now),
                reason: reason.to_owned(),
                message,
            });
            self.conditions.sort_by_key(|c| c.kind);
        }
    }

    /// The condition of a type, if set.
    pub fn condition(&self, kind: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Whether the request succeeded.
    pub fn succeeded(&self) -> bool {
        self.phase == Some(Phase::Completed)
    }

    /// Whether this status already answers a request at `generation`: it
    /// ended (`Completed` or `Failed`) and its `Ready` condition observed
    /// that generation. A controller leaves such a request alone; an edited
    /// spec (a new generation) is worked on again.
    pub fn answers(&self, generation: Option<i64>) -> bool {
        matches!(self.phase, Some(Phase::Completed | Phase::Failed))
            && self
                .condition(ConditionType::Ready)
                .is_some_and(|c| c.observed_generation == generation)
    }
}

/// A time as RFC 3339 in UTC, to the second (`2026-11-29T08:00:00Z`), as
/// Kubernetes writes `metav1.Time`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses an RFC 3339 time in UTC as Kubernetes writes `metav1.Time`
/// (`2026-11-29T08:00:00Z`, fractional seconds allowed and ignored); `None`
/// for anything else, offsets included (a time this cannot read is treated
/// as unknown by its callers, never as now).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 40 || !text.is_ascii() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = &text[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|(i, c)| b[*i] != *c) {
        return None;
    }
    let rest = &text[19..];
    let frac = rest.strip_suffix('Z')?;
    let fraction_ok = frac.is_empty()
        || (frac.len() > 1
            && frac.starts_with('.')
            && frac[1..].bytes().all(|c| c.is_ascii_digit()));
    if !fraction_ok {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + s;
    Some(UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's civil-to-days algorithm (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_status_answers_a_generation_only_when_ended_and_observed_at_it() {
        let with = |phase, observed| {
            let mut status = RequestStatus {
                phase: Some(phase),
                ..RequestStatus::default()
            };
            let t = ConditionStatus::True;
            status.set_condition(ConditionType::Ready, t, "Done", "", observed, UNIX_EPOCH);
            status
        };
        assert!(with(Phase::Completed, Some(2)).answers(Some(2)));
        assert!(with(Phase::Failed, Some(2)).answers(Some(2)));
        assert!(!with(Phase::Completed, Some(1)).answers(Some(2)));
        assert!(!with(Phase::Running, Some(2)).answers(Some(2)));
        assert!(!RequestStatus::default().answers(None));
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn rfc3339_parses_what_it_writes_and_refuses_the_rest() {
        for secs in [
            0u64,
            951_782_400,
            1_700_000_000,
            1_800_000_000,
            4_102_444_800,
        ] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t), "{secs}");
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        for bad in [
            "",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20+01:00",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "+023-11-14T22:13:20Z",
            "２023-11-14T22:13:20Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn failed_rules_are_sorted_deduplicated_and_bounded() {
        let (kept, omitted) =
            bounded_failed_rules(["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!((kept, omitted), (vec!["a".to_owned(), "b".to_owned()], 0));
        let many = (0..MAX_FAILED_RULES + 5).map(|i| format!("rule-{i:04}"));
        let (kept, omitted) = bounded_failed_rules(many);
        assert_eq!(kept.len(), MAX_FAILED_RULES);
        assert_eq!(omitted, 5);
        assert_eq!(kept[0], "rule-0000");
    }

    #[test]
    fn conditions_merge_by_type_and_keep_transition_times() {
        let t0 = UNIX_EPOCH + Duration::from_secs(100);
        let t1 = UNIX_EPOCH + Duration::from_secs(200);
        let mut s = RequestStatus::default();
        s.set_condition(
            ConditionType::Signed,
            ConditionStatus::False,
            "Pending",
            "a",
            Some(1),
            t0,
        );
        s.set_condition(
            ConditionType::Scanned,
            ConditionStatus::True,
            "Scanned",
            "b",
            Some(1),
            t0,
        );
        s.set_condition(
            ConditionType::Signed,
            ConditionStatus::False,
            "Still",
            "c",
            Some(2),
            t1,
        );
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(
            s.conditions[0].kind,
            ConditionType::Scanned,
            "sorted by type"
        );
        let signed = s.condition(ConditionType::Signed).unwrap();
        assert_eq!(
            signed.last_transition_time,
            rfc3339(t0),
            "same status: time kept"
        );
        assert_eq!(
            (signed.reason.as_str(), signed.observed_generation),
            ("Still", Some(2))
        );
        s.set_condition(
            ConditionType::Signed,
            ConditionStatus::True,
            "Signed",
            "d",
            Some(2),
            t1,
        );
        assert_eq!(
            s.condition(ConditionType::Signed)
                .unwrap()
                .last_transition_time,
            rfc3339(t1)
        );
    }
}
