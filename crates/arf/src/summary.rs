//! Summaries: counts per result and severity, and the two named views.
//!
//! # The views, exactly
//!
//! Every count is over `rule-result` *elements* of one `TestResult` (so the extra
//! results of a multi-check rule count individually, as in oscap's HTML report
//! and exit code).
//!
//! **`scanResult`** (the predecessor's view, defined to equal the numbers of
//! oscap's own HTML report, "Compliance and Scoring"):
//! * `passedRules` = `pass` + `fixed`
//! * `failedRules` = `fail`
//! * `totalRules` = all rule results − `notselected` − `notapplicable`
//!   (so `error`, `unknown`, `notchecked` and `informational` are in the total but
//!   neither passed nor failed).
//!
//! **`oscap`** (what `oscap xccdf eval` shows at the end of an evaluation): oscap
//! prints one `Result` block per rule result that is not `notselected` (no numeric
//! summary; with `--remediate` it prints the failed ones a second time, which this
//! view does not repeat) and exits 2 when any result is `fail`, `error` or `unknown`:
//! * `evaluated` = all − `notselected` (the number of printed result blocks)
//! * `passed` = `pass` + `fixed`, `failed` = `fail`, `uncertain` = `error` + `unknown`
//! * `other` = `evaluated` − `notapplicable` − `passed` − `failed` (the HTML
//!   report's "other": error, unknown, notchecked, informational)
//! * `ignored` = `notselected` + `notapplicable`
//! * `exitCode` = 2 if `fail` + `error` + `unknown` > 0, else 0.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::model::*;

/// The predecessor's `scanResult` numbers, defined to equal the "Rule results" of
/// oscap's own HTML report. Counted over `rule-result` elements of one TestResult
/// (the extra results of a multi-check rule count individually, as in oscap):
/// `passedRules` = pass + fixed, `failedRules` = fail, `totalRules` = all −
/// notselected − notapplicable (so error, unknown, notchecked and informational are
/// in the total but neither passed nor failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScanResult {
    /// `pass` + `fixed`.
    pub passed_rules: u64,
    /// `fail`.
    pub failed_rules: u64,
    /// All − `notselected` − `notapplicable`.
    pub total_rules: u64,
}

/// What `oscap xccdf eval` reports. oscap prints one `Result` block per rule result
/// that is not `notselected` and no numeric summary (with `--remediate` it prints the
/// failed ones a second time, which this view does not repeat), and exits 2 when
/// any result is fail, error or unknown. Counted over `rule-result` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OscapView {
    /// Rule results oscap prints (all but `notselected`).
    pub evaluated: u64,
    /// `pass` + `fixed`.
    pub passed: u64,
    /// `fail`.
    pub failed: u64,
    /// `error` + `unknown`.
    pub uncertain: u64,
    /// `evaluated` − `notapplicable` − `passed` − `failed`.
    pub other: u64,
    /// `notselected` + `notapplicable`.
    pub ignored: u64,
    /// oscap's exit code for this result: 2 if any `fail`/`error`/`unknown`, else 0.
    pub exit_code: u8,
}

impl ResultCounts {
    /// The predecessor's `scanResult` view.
    pub fn scan_result(&self) -> ScanResult {
        let g = |v| self.get(v);
        ScanResult {
            passed_rules: g(ResultValue::Pass) + g(ResultValue::Fixed),
            failed_rules: g(ResultValue::Fail),
            total_rules: self
                .total()
                .saturating_sub(g(ResultValue::NotSelected) + g(ResultValue::NotApplicable)),
        }
    }

    /// What oscap prints / exits with.
    pub fn oscap_view(&self) -> OscapView {
        let g = |v| self.get(v);
        let evaluated = self.total().saturating_sub(g(ResultValue::NotSelected));
        let passed = g(ResultValue::Pass) + g(ResultValue::Fixed);
        let failed = g(ResultValue::Fail);
        let uncertain = g(ResultValue::Error) + g(ResultValue::Unknown);
        OscapView {
            evaluated,
            passed,
            failed,
            uncertain,
            other: evaluated.saturating_sub(g(ResultValue::NotApplicable) + passed + failed),
            ignored: g(ResultValue::NotSelected) + g(ResultValue::NotApplicable),
            exit_code: if failed + uncertain > 0 { 2 } else { 0 },
        }
    }
}

impl Serialize for ResultCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(9))?;
        for (v, n) in self.iter() {
            m.serialize_entry(v.as_str(), &n)?;
        }
        m.end()
    }
}

impl Serialize for OvalCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6))?;
        for (v, n) in self.iter() {
            m.serialize_entry(v.as_str(), &n)?;
        }
        m.end()
    }
}

/// Counts per severity (`high`, `medium`, `low`, `info`, `unknown`), each with all nine results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityBreakdown(pub [ResultCounts; 5]);

impl SeverityBreakdown {
    /// Counts for one severity.
    pub fn get(&self, s: Severity) -> ResultCounts {
        self.0[s.index()]
    }
}

impl Serialize for SeverityBreakdown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        for sev in Severity::ALL {
            m.serialize_entry(sev.as_str(), &self.get(sev))?;
        }
        m.end()
    }
}

/// The version of the JSON schema written by this crate (`schemaVersion`).
pub const SCHEMA_VERSION: u32 = 1;

/// A summary of a whole document (the `imprimatur arf summary --format json` output).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Summary {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The document kind.
    pub kind: DocumentKind,
    /// One entry per `TestResult` in document order (for ARF only those under `arf:reports`).
    pub test_results: Vec<TestResultSummary>,
    /// One entry per OVAL results report in document order.
    pub oval_results: Vec<OvalSummary>,
}

/// The summary of one `TestResult`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TestResultSummary {
    /// `TestResult@id`.
    pub id: String,
    /// The `arf:report@id`, for ARF.
    pub report_id: Option<String>,
    /// `1.1` or `1.2`.
    pub xccdf_version: XccdfVersion,
    /// `benchmark@id`.
    pub benchmark: Option<String>,
    /// `profile@idref`.
    pub profile: Option<String>,
    /// `@start-time`.
    pub start_time: Option<String>,
    /// `@end-time`.
    pub end_time: Option<String>,
    /// The scan target: the `urn:xccdf:fact:identifier` fact if present (it names the
    /// image or chroot), else `target`.
    pub target: Option<String>,
    /// Every rule result counted, keyed by the nine XCCDF result names.
    pub results: ResultCounts,
    /// Results per rule-result severity.
    pub by_severity: SeverityBreakdown,
    /// The predecessor's view.
    pub scan_result: ScanResult,
    /// oscap's view.
    pub oscap: OscapView,
    /// Scores as written by oscap.
    pub scores: Vec<Score>,
}

/// The summary of one OVAL results report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OvalSummary {
    /// The `arf:report@id`, for ARF.
    pub report_id: Option<String>,
    /// Definition results keyed by OVAL's result strings.
    pub definitions: OvalCounts,
}

impl TestResult {
    /// This test result's summary.
    pub fn summary(&self) -> TestResultSummary {
        TestResultSummary {
            id: self.id.clone(),
            report_id: self.report_id.clone(),
            xccdf_version: self.version,
            benchmark: self.benchmark_id.clone(),
            profile: self.profile.clone(),
            start_time: self.start_time.clone(),
            end_time: self.end_time.clone(),
            target: self
                .target
                .fact("urn:xccdf:fact:identifier")
                .map(str::to_string)
                .or_else(|| self.target.name.clone()),
            results: self.counts,
            by_severity: SeverityBreakdown(self.severity_counts),
            scan_result: self.counts.scan_result(),
            oscap: self.counts.oscap_view(),
            scores: self.scores.clone(),
        }
    }
}

impl Report {
    /// The summary of the whole document.
    pub fn summary(&self) -> Summary {
        Summary {
            schema_version: SCHEMA_VERSION,
            kind: self.kind,
            test_results: self.test_results.iter().map(TestResult::summary).collect(),
            oval_results: self
                .oval_reports
                .iter()
                .map(|o| OvalSummary {
                    report_id: o.report_id.clone(),
                    definitions: o.counts,
                })
                .collect(),
        }
    }

    /// The OVAL definition a check refers to (`href="#ovalN"` + `name`), if present.
    pub fn oval_definition(&self, check: &CheckRef) -> Option<&OvalDefinition> {
        let name = check.name.as_deref()?;
        let href = check.href.as_deref().unwrap_or("");
        let report = href.strip_prefix('#');
        self.oval_reports
            .iter()
            .filter(|o| report.is_none() || o.report_id.as_deref() == report)
            .find_map(|o| o.definition(name))
    }

    /// CVE ids of a rule result: its CVE idents plus the CVEs of the OVAL
    /// definitions it checked (multi-check CVE content carries them only there).
    pub fn cves(&self, rr: &RuleResult) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for i in rr.idents.iter().filter(|i| i.is_cve()) {
            if !out.contains(&i.id) {
                out.push(i.id.clone());
            }
        }
        for c in &rr.checks {
            if let Some(d) = self.oval_definition(c) {
                for cve in &d.cves {
                    if !out.contains(cve) {
                        out.push(cve.clone());
                    }
                }
            }
        }
        out
    }

    /// The CVEs found present on the target, sorted and deduplicated: those of
    /// `fail` rule results (idents and checked OVAL definitions), and of OVAL
    /// vulnerability/patch definitions that evaluated `true` (vulnerable).
    pub fn present_cves(&self) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        for tr in &self.test_results {
            for rr in tr
                .rule_results
                .iter()
                .filter(|r| r.result == ResultValue::Fail)
            {
                out.extend(self.cves(rr));
            }
        }
        for o in &self.oval_reports {
            for d in &o.definitions {
                if d.is_vulnerability() && d.result == Some(OvalResult::True) {
                    out.extend(d.cves.iter().cloned());
                }
            }
        }
        out.into_iter().collect()
    }

    /// The benchmark title of a rule, if the report request carried the benchmark.
    pub fn rule_title(&self, idref: &str) -> Option<&str> {
        self.rules.get(idref).and_then(|r| r.title.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(list: &[(ResultValue, u64)]) -> ResultCounts {
        let mut c = ResultCounts::default();
        for (v, n) in list {
            for _ in 0..*n {
                c.add(*v);
            }
        }
        c
    }

    #[test]
    fn scan_result_and_oscap_view_arithmetic() {
        use ResultValue as R;
        let c = counts(&[
            (R::Pass, 3),
            (R::Fixed, 1),
            (R::Fail, 2),
            (R::Error, 1),
            (R::Unknown, 1),
            (R::NotApplicable, 4),
            (R::NotChecked, 1),
            (R::NotSelected, 5),
            (R::Informational, 1),
        ]);
        assert_eq!(c.total(), 19);
        let s = c.scan_result();
        assert_eq!((s.passed_rules, s.failed_rules, s.total_rules), (4, 2, 10));
        let o = c.oscap_view();
        assert_eq!(o.evaluated, 14);
        assert_eq!((o.passed, o.failed, o.uncertain), (4, 2, 2));
        // evaluated − notapplicable − passed − failed
        assert_eq!(o.other, 4);
        assert_eq!(o.ignored, 9);
        assert_eq!(o.exit_code, 2);
        let clean = counts(&[(R::Pass, 2), (R::NotSelected, 1)]).oscap_view();
        assert_eq!(clean.exit_code, 0);
        let empty = ResultCounts::default();
        assert_eq!(empty.scan_result().total_rules, 0);
        assert_eq!(empty.oscap_view().other, 0);
    }

    #[test]
    fn counts_serialize_with_every_result_name() {
        let c = counts(&[(ResultValue::Fail, 2)]);
        let v = serde_json::to_value(c).expect("json");
        let m = v.as_object().expect("object");
        assert_eq!(m.len(), 9);
        assert_eq!(v["fail"], 2);
        assert_eq!(v["notselected"], 0);
    }
}
