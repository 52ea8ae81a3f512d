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
