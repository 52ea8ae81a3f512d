//! Gates: pass/fail decisions over a [`Report`], as plain serde data.
//!
//! ```yaml
//! # gate.yaml
//! maxFailed:          # failed rule results allowed per severity (absent = no limit)
//!   high: 0           # "no failed high"
//!   medium: 5         # "at most 5 failed medium"
//! maxFailedTotal: 20  # optional limit over all severities
//! errorAsFailed: true     # `error` results count as failed (default true)
//! unknownAsFailed: false  # `unknown` results count as failed (default true)
//! testResults: last       # `all` (default) or `last` TestResult of the file
//! waivers:
//!   - rule: xccdf_org.ssgproject.content_rule_package_telnet_removed
//!     reason: "telnet client needed by the legacy job, ticket OPS-12"
//!   - cve: CVE-2024-45490
//!     reason: "not reachable: expat is only used by the build stage"
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::*;

/// Allowed failed rule results per severity (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SeverityLimits {
    /// `high`.
    pub high: Option<u64>,
    /// `medium`.
    pub medium: Option<u64>,
    /// `low`.
    pub low: Option<u64>,
    /// `info`.
    pub info: Option<u64>,
    /// `unknown` (rule results without a severity).
    pub unknown: Option<u64>,
}

impl SeverityLimits {
    /// The limit for one severity.
    pub fn get(&self, s: Severity) -> Option<u64> {
        match s {
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
            Severity::Unknown => self.unknown,
        }
    }
}

/// A waiver: failed results of this rule, or carrying only waived CVEs, do not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Waiver {
    /// A rule id (`rule-result@idref`), or an OVAL definition id for OVAL-only files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A CVE id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// Why (required, shown in the outcome).
    pub reason: String,
}

impl Waiver {
    /// A waiver for a rule id.
    pub fn rule(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Waiver {
            rule: Some(id.into()),
            cve: None,
            reason: reason.into(),
        }
    }

    /// A waiver for a CVE id.
    pub fn cve(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Waiver {
            rule: None,
            cve: Some(id.into()),
            reason: reason.into(),
        }
    }
}

/// Which TestResults a gate looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TestResultScope {
    /// Every TestResult under `arf:reports` (an ARF from re-evaluating a results file
    /// carries the old result as well).
    #[default]
    All,
    /// Only the last one in document order (the one oscap wrote last, and what
    /// `oscap xccdf generate report` shows).
    Last,
}

/// A gate. `Gate::default()` fails on any failed, error or unknown result of any severity
/// (like oscap's exit code 2) — set [`Gate::max_failed`] to be more lenient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Gate {
    /// Failed results allowed per severity. When neither this nor `maxFailedTotal`
    /// sets any limit, no failed result is allowed at all.
    pub max_failed: SeverityLimits,
    /// Failed results allowed over all severities.
    pub max_failed_total: Option<u64>,
    /// Whether `error` results count as failed (default `true`).
    pub error_as_failed: bool,
    /// Whether `unknown` results count as failed (default `true`).
    pub unknown_as_failed: bool,
    /// Fail a document that holds no TestResult and no OVAL results (default `true`).
    pub require_results: bool,
    /// Which TestResults count (default `all`).
    pub test_results: TestResultScope,
    /// Waivers.
    pub waivers: Vec<Waiver>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            max_failed: SeverityLimits::default(),
            max_failed_total: None,
            error_as_failed: true,
            unknown_as_failed: true,
            require_results: true,
            test_results: TestResultScope::All,
            waivers: Vec::new(),
        }
    }
}

/// A failed result that the gate counted (or would have, but for a waiver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Finding {
    /// The `TestResult@id` (or OVAL report id) it comes from.
    pub source: String,
    /// The rule id (or OVAL definition id).
    pub rule: String,
    /// Title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `fail`, `error` or `unknown` (OVAL-only files: `fail` = vulnerable).
    pub result: ResultValue,
    /// Severity.
    pub severity: Severity,
    /// CVE ids.
    pub cves: Vec<String>,
    /// The waiver reason(s), if waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GateOutcome {
    /// Pass or fail.
    pub passed: bool,
    /// Every reason for failing (empty when passed).
    pub reasons: Vec<String>,
    /// Every counted finding, waived ones included (marked).
    pub findings: Vec<Finding>,
}

impl Gate {
    /// Parses a gate from YAML (see the module docs for the format).
    pub fn from_yaml(s: &str) -> Result<Gate> {
        if s.len() > 4 << 20 {
            return Err(Error::Gate("gate file larger than 4 MiB".into()));
        }
        let g: Gate = serde_saphyr::from_str(s).map_err(|e| Error::Gate(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Parses a gate from JSON.
    pub fn from_json(s: &str) -> Result<Gate> {
        let g: Gate = serde_json::from_str(s).map_err(|e| Error::Gate(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Checks that every waiver names a rule or a CVE and gives a reason.
    pub fn validate(&self) -> Result<()> {
        for (i, w) in self.waivers.iter().enumerate() {
            if w.rule.is_none() && w.cve.is_none() {
                return Err(Error::Gate(format!(
                    "waiver {}: needs `rule` or `cve`",
                    i + 1
                )));
            }
            if w.reason.trim().is_empty() {
                return Err(Error::Gate(format!("waiver {}: `reason` is empty", i + 1)));
            }
        }
        Ok(())
    }

    fn counts_as_failed(&self, v: ResultValue) -> bool {
        match v {
            ResultValue::Fail => true,
            ResultValue::Error => self.error_as_failed,
            ResultValue::Unknown => self.unknown_as_failed,
            _ => false,
        }
    }

    fn waiver_for(&self, rule: &str, cves: &[String]) -> Option<String> {
        if let Some(w) = self
            .waivers
            .iter()
            .find(|w| w.rule.as_deref() == Some(rule))
        {
            return Some(format!("rule {rule}: {}", w.reason));
        }
        if cves.is_empty() {
            return None;
        }
        let mut reasons = Vec::new();
        for c in cves {
            let w = self.waivers.iter().find(|w| w.cve.as_deref() == Some(c))?;
            reasons.push(format!("{c}: {}", w.reason));
        }
        Some(reasons.join("; "))
    }

    /// Evaluates the gate on a fully parsed report.
    pub fn evaluate(&self, report: &Report) -> GateOutcome {
        let mut findings = Vec::new();
        let skip = match self.test_results {
            TestResultScope::All => 0,
            TestResultScope::Last => report.test_results.len().saturating_sub(1),
        };
        for tr in report.test_results.iter().skip(skip) {
            for rr in &tr.rule_results {
                if !self.counts_as_failed(rr.result) {
                    continue;
                }
                let cves = report.cves(rr);
                let waived = self.waiver_for(&rr.idref, &cves);
                findings.push(Finding {
                    source: tr.id.clone(),
                    rule: rr.idref.clone(),
                    title: report.rule_title(&rr.idref).map(str::to_string),
                    result: rr.result,
                    severity: rr.severity,
                    cves,
                    waived,
                });
            }
        }
        if report.test_results.is_empty() {
            // OVAL-only documents: vulnerable definitions are the findings.
            for o in &report.oval_reports {
                for d in &o.definitions {
                    let counted = match d.result {
                        Some(OvalResult::True) => d.is_vulnerability(),
                        Some(OvalResult::Error) => self.error_as_failed && d.is_vulnerability(),
                        Some(OvalResult::Unknown) => self.unknown_as_failed && d.is_vulnerability(),
                        _ => false,
                    };
                    if !counted {
                        continue;
                    }
                    let result = match d.result {
                        Some(OvalResult::Error) => ResultValue::Error,
                        Some(OvalResult::Unknown) => ResultValue::Unknown,
                        _ => ResultValue::Fail,
                    };
                    findings.push(Finding {
                        source: o.report_id.clone().unwrap_or_else(|| "oval".into()),
                        rule: d.id.clone(),
                        title: d.title.clone(),
                        result,
                        severity: d
                            .advisory_severity
                            .as_deref()
                            .map(Severity::from_advisory)
                            .unwrap_or_default(),
                        cves: d.cves.clone(),
                        waived: self.waiver_for(&d.id, &d.cves),
                    });
                }
            }
        }

        let mut reasons = Vec::new();
        if self.require_results && report.test_results.is_empty() && report.oval_reports.is_empty()
        {
            reasons.push("the document holds no TestResult and no OVAL results".to_string());
        }
        let counted: Vec<&Finding> = findings.iter().filter(|f| f.waived.is_none()).collect();
        let any_limit = Severity::ALL
            .iter()
            .any(|s| self.max_failed.get(*s).is_some())
            || self.max_failed_total.is_some();
        let what = self.what();
        for sev in Severity::ALL {
            let of_sev: Vec<&&Finding> = counted.iter().filter(|f| f.severity == sev).collect();
            let limit = match self.max_failed.get(sev) {
                Some(l) => l,
                None if any_limit => continue,
                None => 0,
            };
            if of_sev.len() as u64 > limit {
                reasons.push(format!(
                    "{} {what} with severity {sev} (at most {limit} allowed): {}",
                    of_sev.len(),
                    list(of_sev.iter().map(|f| f.rule.as_str()))
                ));
            }
        }
        if let Some(limit) = self.max_failed_total
            && counted.len() as u64 > limit
        {
            reasons.push(format!(
                "{} {what} in total (at most {limit} allowed): {}",
                counted.len(),
                list(counted.iter().map(|f| f.rule.as_str()))
            ));
        }
        GateOutcome {
            passed: reasons.is_empty(),
            reasons,
            findings,
        }
    }

    fn what(&self) -> &'static str {
        match (self.error_as_failed, self.unknown_as_failed) {
            (true, true) => "failed (fail/error/unknown) rule results",
            (true, false) => "failed (fail/error) rule results",
            (false, true) => "failed (fail/unknown) rule results",
            (false, false) => "failed rule results",
        }
    }
}

fn list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = Vec::new();
    let mut more = 0usize;
    for id in ids {
        if v.contains(&id) {
            continue;
        }
        if v.len() < 10 {
            v.push(id);
        } else {
            more += 1;
        }
    }
    let mut s = v.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}
