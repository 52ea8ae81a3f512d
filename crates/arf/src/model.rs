//! The typed report: what the parser extracts from an ARF, XCCDF or OVAL results file.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of document was parsed (from its root element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DocumentKind {
    /// An ARF 1.1 `asset-report-collection` (`oscap xccdf eval --results-arf`).
    Arf,
    /// An XCCDF `Benchmark` carrying `TestResult`s (`oscap xccdf eval --results`).
    XccdfResults,
    /// A bare XCCDF `TestResult` root (for example `--stig-viewer` output).
    XccdfTestResult,
    /// An OVAL `oval_results` document (`oscap oval eval --results`).
    OvalResults,
}

impl DocumentKind {
    /// The stable lowercase name used in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Arf => "arf",
            DocumentKind::XccdfResults => "xccdf-results",
            DocumentKind::XccdfTestResult => "xccdf-test-result",
            DocumentKind::OvalResults => "oval-results",
        }
    }
}

/// The XCCDF version of a `TestResult` (from its namespace URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum XccdfVersion {
    /// `http://checklists.nist.gov/xccdf/1.1`
    #[serde(rename = "1.1")]
    V1_1,
    /// `http://checklists.nist.gov/xccdf/1.2`
    #[serde(rename = "1.2")]
    V1_2,
}

/// An XCCDF rule result value (the nine values of XCCDF 1.2 `resultEnumType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResultValue {
    /// The target complied with the rule.
    Pass,
    /// The target did not comply.
    Fail,
    /// The checking engine failed.
    Error,
    /// The result could not be determined.
    Unknown,
    /// The rule does not apply to the target's platform.
    NotApplicable,
    /// The rule was not evaluated by the checking engine.
    NotChecked,
    /// The rule was not selected in the benchmark/profile.
    NotSelected,
    /// The rule was checked but is informational only.
    Informational,
    /// The rule failed but was fixed by remediation.
    Fixed,
}

impl ResultValue {
    /// All nine values, in the order used for counts and output.
    pub const ALL: [ResultValue; 9] = [
        ResultValue::Pass,
        ResultValue::Fail,
        ResultValue::Error,
        ResultValue::Unknown,
        ResultValue::NotApplicable,
        ResultValue::NotChecked,
        ResultValue::NotSelected,
        ResultValue::Informational,
        ResultValue::Fixed,
    ];

    /// The XCCDF spelling (`pass`, `notapplicable`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultValue::Pass => "pass",
            ResultValue::Fail => "fail",
            ResultValue::Error => "error",
            ResultValue::Unknown => "unknown",
            ResultValue::NotApplicable => "notapplicable",
            ResultValue::NotChecked => "notchecked",
            ResultValue::NotSelected => "notselected",
            ResultValue::Informational => "informational",
            ResultValue::Fixed => "fixed",
        }
    }

    /// Parses the XCCDF spelling (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<ResultValue> {
        let s = s.trim();
        ResultValue::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ResultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An XCCDF severity (`severityEnumType`). Absent severities are [`Severity::Unknown`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// `unknown`, or no severity given.
    #[default]
    Unknown,
    /// `info`
    Info,
    /// `low`
    Low,
    /// `medium`
    Medium,
    /// `high`
    High,
}

impl Severity {
    /// All severities, highest first (the order used in output).
    pub const ALL: [Severity; 5] = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
        Severity::Unknown,
    ];

    /// The XCCDF spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses the XCCDF spelling; anything else is `Unknown`.
    pub fn parse(s: &str) -> Severity {
        match s.trim() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            _ => Severity::Unknown,
        }
    }

    /// Maps a vendor advisory severity (Red Hat `Low`/`Moderate`/`Important`/`Critical`,
    /// Debian/Ubuntu style `low`/`medium`/`high`) to XCCDF, as `oval-to-xccdf.xsl` does.
    pub fn from_advisory(s: &str) -> Severity {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "important" | "high" => Severity::High,
            "moderate" | "medium" => Severity::Medium,
            "low" => Severity::Low,
            "info" | "none" | "negligible" => Severity::Info,
            _ => Severity::Unknown,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OVAL definition result (`ResultEnumeration` of OVAL results 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OvalResult {
    /// `true`
    #[serde(rename = "true")]
    True,
    /// `false`
    #[serde(rename = "false")]
    False,
    /// `error`
    #[serde(rename = "error")]
    Error,
    /// `unknown`
    #[serde(rename = "unknown")]
    Unknown,
    /// `not evaluated`
    #[serde(rename = "not evaluated")]
    NotEvaluated,
    /// `not applicable`
    #[serde(rename = "not applicable")]
    NotApplicable,
}

impl OvalResult {
    /// All six values, in output order.
    pub const ALL: [OvalResult; 6] = [
        OvalResult::True,
        OvalResult::False,
        OvalResult::Error,
        OvalResult::Unknown,
        OvalResult::NotEvaluated,
        OvalResult::NotApplicable,
    ];

    /// The OVAL spelling (note the spaces in `not evaluated`, `not applicable`).
    pub fn as_str(self) -> &'static str {
        match self {
            OvalResult::True => "true",
            OvalResult::False => "false",
            OvalResult::Error => "error",
            OvalResult::Unknown => "unknown",
            OvalResult::NotEvaluated => "not evaluated",
            OvalResult::NotApplicable => "not applicable",
        }
    }

    /// Parses the OVAL spelling.
    pub fn parse(s: &str) -> Option<OvalResult> {
        let s = s.trim();
        OvalResult::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OvalResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of rule results per [`ResultValue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResultCounts(pub(crate) [u64; 9]);

impl ResultCounts {
    /// The count for one value.
    pub fn get(&self, v: ResultValue) -> u64 {
        self.0[v.index()]
    }

    /// Adds one result.
    pub fn add(&mut self, v: ResultValue) {
        self.0[v.index()] = self.0[v.index()].saturating_add(1);
    }

    /// Every rule result counted (all nine values).
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(value, count)` for all nine values, in [`ResultValue::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (ResultValue, u64)> + '_ {
        ResultValue::ALL.into_iter().map(|v| (v, self.get(v)))
    }
}

/// Counts of OVAL definition results per [`OvalResult`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OvalCounts(pub(crate) [u64; 6]);

impl OvalCounts {
    /// The count for one value.
    pub fn get(&self, v: OvalResult) -> u64 {
        self.0[v.index()]
    }

    /// Adds one definition result.
    pub fn add(&mut self, v: OvalResult) {
        self.0[v.index()] = self.0[v.index()].saturating_add(1);
    }

    /// All definition results.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(value, count)` for all six values, in [`OvalResult::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (OvalResult, u64)> + '_ {
        OvalResult::ALL.into_iter().map(|v| (v, self.get(v)))
    }
}

/// The parsed document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// What the root element was.
    pub kind: DocumentKind,
    /// The `TestResult`s in document order. For ARF only those under `arf:reports`,
    /// never the stale copies inside the report request.
    pub test_results: Vec<TestResult>,
    /// The OVAL results reports in document order.
    pub oval_reports: Vec<OvalReport>,
    /// Rule metadata from the benchmark (in the ARF report request, or the results
    /// file's own Benchmark), keyed by rule id. Empty in summary mode.
    pub rules: BTreeMap<String, RuleInfo>,
    /// `TestResult`s seen inside the ARF report request and ignored (stale copies).
    pub ignored_test_results: u64,
}

/// The scan target of a test result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Target {
    /// `target` (oscap writes the scanning host's hostname, even for chroot/podman scans).
    pub name: Option<String>,
    /// `target-address` elements.
    pub addresses: Vec<String>,
    /// `target-facts/fact` elements as (name, value).
    pub facts: Vec<Fact>,
}

impl Target {
    /// The value of the fact `name`, if present.
    pub fn fact(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

/// One target fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Fact {
    /// `@name`, e.g. `urn:xccdf:fact:identifier`.
    pub name: String,
    /// The text value.
    pub value: String,
}

/// One `score` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Score {
    /// `@system`, e.g. `urn:xccdf:scoring:default`.
    pub system: Option<String>,
    /// `@maximum`, as written.
    pub maximum: Option<String>,
    /// The score, as written (e.g. `66.666664`).
    pub value: String,
}

/// One XCCDF `TestResult`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TestResult {
    /// The `arf:report@id` holding it (`xccdf1`, …), for ARF.
    pub report_id: Option<String>,
    /// `@id`.
    pub id: String,
    /// XCCDF 1.1 or 1.2.
    pub version: XccdfVersion,
    /// `benchmark@id` (absent in XCCDF 1.1).
    pub benchmark_id: Option<String>,
    /// `benchmark@href`.
    pub benchmark_href: Option<String>,
    /// `profile@idref` (absent when evaluated without a profile).
    pub profile: Option<String>,
    /// `@start-time`.
    pub start_time: Option<String>,
    /// `@end-time`.
    pub end_time: Option<String>,
    /// `@test-system`.
    pub test_system: Option<String>,
    /// The target.
    pub target: Target,
    /// Scores.
    pub scores: Vec<Score>,
    /// Counts per result value (every rule-result element).
    pub counts: ResultCounts,
    /// Counts per severity and result value, indexed like [`Severity`].
    pub severity_counts: [ResultCounts; 5],
    /// The rule results in document order (empty in summary mode).
    pub rule_results: Vec<RuleResult>,
}

impl TestResult {
    /// Counts for one severity.
    pub fn severity_counts(&self, s: Severity) -> ResultCounts {
        self.severity_counts[s.index()]
    }
}

/// An `ident` (CVE, CCE, RHSA, … with its system URI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Ident {
    /// `@system`, e.g. `http://cve.mitre.org`.
    pub system: String,
    /// The identifier, e.g. `CVE-2024-1234`.
    pub id: String,
}

impl Ident {
    /// Whether this is a CVE identifier (by system URI or `CVE-` prefix).
    pub fn is_cve(&self) -> bool {
        self.system.contains("cve.mitre.org") || self.id.starts_with("CVE-")
    }
}

/// A `check` of a rule result, with its content reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CheckRef {
    /// `check@system` (e.g. the OVAL definitions namespace, or SCE).
    pub system: Option<String>,
    /// `check-content-ref@name` (the OVAL definition id).
    pub name: Option<String>,
    /// `check-content-ref@href` (`#oval0` in ARF).
    pub href: Option<String>,
    /// `check@multi-check="true"`.
    pub multi_check: bool,
    /// `check@negate="true"`.
    pub negate: bool,
}

/// A `message` of a rule result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Message {
    /// `@severity` (`info`, `warning`, `error`).
    pub severity: Option<String>,
    /// The text.
    pub text: String,
}

/// An `override` of a rule result (never written by oscap, allowed by the schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Override {
    /// `@authority`.
    pub authority: Option<String>,
    /// `@time`/`@date`.
    pub time: Option<String>,
    /// `old-result`.
    pub old_result: Option<String>,
    /// `new-result`.
    pub new_result: Option<String>,
    /// `remark`.
    pub remark: Option<String>,
}

/// One `rule-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleResult {
    /// `@idref`: the rule id (not unique: multi-check repeats it).
    pub idref: String,
    /// The result.
    pub result: ResultValue,
    /// `@severity` (effective, after profile refinement).
    pub severity: Severity,
    /// `@weight`, as written.
    pub weight: Option<String>,
    /// `@time`.
    pub time: Option<String>,
    /// `@role`.
    pub role: Option<String>,
    /// Idents.
    pub idents: Vec<Ident>,
    /// Checks (a `complex-check` is flattened).
    pub checks: Vec<CheckRef>,
    /// Messages.
    pub messages: Vec<Message>,
    /// Overrides.
    pub overrides: Vec<Override>,
}

/// A `reference` of a benchmark rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RuleReference {
    /// `@href`.
    pub href: Option<String>,
    /// The text.
    pub text: String,
}

/// Rule metadata from the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RuleInfo {
    /// `Rule@id`.
    pub id: String,
    /// `title` text.
    pub title: Option<String>,
    /// The first characters of `description` (markup stripped, whitespace collapsed).
    pub description: Option<String>,
    /// `Rule@severity`.
    pub severity: Severity,
    /// `Rule@weight`, as written.
    pub weight: Option<String>,
    /// Idents of the rule.
    pub idents: Vec<Ident>,
    /// References (NIST, CIS, STIG, …).
    pub references: Vec<RuleReference>,
}

/// One OVAL results report (an `arf:report` holding `oval_results`, or a whole file).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct OvalReport {
    /// The `arf:report@id` (`oval0`, …), for ARF.
    pub report_id: Option<String>,
    /// Counts of definition results (`results/system/definitions/definition@result`).
    pub counts: OvalCounts,
    /// Definitions with metadata and result, in the order of the definitions
    /// document (empty in summary mode).
    pub definitions: Vec<OvalDefinition>,
}

impl OvalReport {
    /// The definition with this id.
    pub fn definition(&self, id: &str) -> Option<&OvalDefinition> {
        self.definitions.iter().find(|d| d.id == id)
    }
}

/// An OVAL reference from definition metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OvalReference {
    /// `@source` (`CVE`, `RHSA`, `DSA`, `CCE`, …).
    pub source: String,
    /// `@ref_id`.
    pub ref_id: String,
    /// `@ref_url`.
    pub ref_url: Option<String>,
}

/// An OVAL definition with its metadata and result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OvalDefinition {
    /// `@id`.
    pub id: String,
    /// `@class` (`compliance`, `inventory`, `patch`, `vulnerability`, `miscellaneous`).
    pub class: Option<String>,
    /// `metadata/title`.
    pub title: Option<String>,
    /// The result in `results/system/definitions` (first system).
    pub result: Option<OvalResult>,
    /// `metadata/reference` elements.
    pub references: Vec<OvalReference>,
    /// CVE ids: `reference[@source="CVE"]/@ref_id` and `advisory/cve` text, deduplicated.
    pub cves: Vec<String>,
    /// `advisory/severity` text (Red Hat style), if any.
    pub advisory_severity: Option<String>,
}

impl OvalDefinition {
    /// Whether the definition is a vulnerability or patch definition (true = vulnerable).
    pub fn is_vulnerability(&self) -> bool {
        matches!(self.class.as_deref(), Some("vulnerability" | "patch"))
    }
}
