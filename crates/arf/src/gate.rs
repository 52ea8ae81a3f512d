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

use crate::error::{Error, GateError, Result};

use crate::model::*;

/// Largest gate definition [`Gate::from_yaml`] and [`Gate::from_json`]
/// accept (real gates are a few hundred bytes).
pub const MAX_GATE_BYTES: usize = 4 << 20;

fn check_size(s: &str) -> Result<()> {
    if s.len() > MAX_GATE_BYTES {
        return Err(Error::Gate(GateError::TooLarge {
            size: s.len(),
            limit: MAX_GATE_BYTES,
        }));
    }
    Ok(())
}

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
    /// Who granted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it stops applying: `YYYY-MM-DD` (the start of that day, UTC) or
    /// an RFC 3339 time. Only [`Gate::evaluate_at`] checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Waiver {
    /// A waiver for a rule id.
    pub fn rule(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Waiver {
            rule: Some(id.into()),
            cve: None,
            reason: reason.into(),
            author: None,
            expires: None,
        }
    }

    /// A waiver for a CVE id.
    pub fn cve(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Waiver {
            rule: None,
            cve: Some(id.into()),
            reason: reason.into(),
            author: None,
            expires: None,
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
    /// Parses a gate from YAML (see the module docs for the format); at
    /// most [`MAX_GATE_BYTES`].
    pub fn from_yaml(s: &str) -> Result<Gate> {
        check_size(s)?;
        let g: Gate = serde_saphyr::from_str(s).map_err(|e| {
            Error::Gate(GateError::Syntax {
                format: "YAML",
                source: Box::new(e),
            })
        })?;
        g.validate()?;
        Ok(g)
    }

    /// Parses a gate from JSON; at most [`MAX_GATE_BYTES`].
    pub fn from_json(s: &str) -> Result<Gate> {
        check_size(s)?;
        let g: Gate = serde_json::from_str(s).map_err(|e| {
            Error::Gate(GateError::Syntax {
                format: "JSON",
                source: Box::new(e),
            })
        })?;
        g.validate()?;
        Ok(g)
    }

    /// Checks that every waiver names a rule or a CVE and gives a reason.
    pub fn validate(&self) -> Result<()> {
        for (i, w) in self.waivers.iter().enumerate() {
            let index = i + 1;
            if w.rule.is_none() && w.cve.is_none() {
                return Err(Error::Gate(GateError::WaiverWithoutTarget { index }));
            }
            if w.reason.trim().is_empty() {
                return Err(Error::Gate(GateError::WaiverWithoutReason { index }));
            }
            if let Some(e) = &w.expires
                && expiry_seconds(e).is_none()
            {
                return Err(Error::Gate(GateError::BadExpiry {
                    index,
                    value: e.clone(),
                }));
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

    /// Evaluates the gate at time `now`: waivers whose `expires` has passed
    /// no longer apply (their findings count, and a reason says which
    /// waiver expired).
    pub fn evaluate_at(&self, report: &Report, now: std::time::SystemTime) -> GateOutcome {
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let (live, expired): (Vec<Waiver>, Vec<Waiver>) =
            self.waivers.iter().cloned().partition(|w| {
                w.expires
                    .as_deref()
                    .and_then(expiry_seconds)
                    .is_none_or(|t| t > now)
            });
        if expired.is_empty() {
            return self.evaluate(report);
        }
        let gate = Gate {
            waivers: live,
            ..self.clone()
        };
        let mut outcome = gate.evaluate(report);
        if !outcome.passed {
            for w in &expired {
                let what = w.rule.as_deref().or(w.cve.as_deref()).unwrap_or("?");
                outcome.reasons.push(format!(
                    "the waiver for {what} expired on {}",
                    w.expires.as_deref().unwrap_or_default()
                ));
            }
        }
        outcome
    }

    /// Evaluates the gate on a fully parsed report, every waiver applying
    /// whatever its `expires` (see [`Gate::evaluate_at`]).
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

/// Seconds since the epoch of a waiver's `expires`: `YYYY-MM-DD` (midnight
/// UTC) or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn expiry_seconds(text: &str) -> Option<i64> {
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (date, time) = match text.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || date.len() != 10 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let mut secs = days * 86_400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let at = t.rfind(['+', '-'])?;
            let (c, off) = t.split_at(at);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        };
        let clock = clock.split('.').next()?;
        let mut hms = clock.splitn(3, ':');
        let (h, mi, s) = (num(hms.next()?)?, num(hms.next()?)?, num(hms.next()?)?);
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + s - offset;
    }
    Some(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        assert_eq!(expiry_seconds("1970-01-02"), Some(86_400));
        assert_eq!(expiry_seconds("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            expiry_seconds("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(
            expiry_seconds("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000)
        );
        for bad in [
            "",
            "2023-13-01",
            "2023-1-1",
            "tomorrow",
            "2023-11-14T25:00:00Z",
            "2023-11-14T10:00:00",
        ] {
            assert_eq!(expiry_seconds(bad), None, "{bad}");
        }
        let gate =
            Gate::from_yaml("waivers: [{rule: r, reason: x, author: me, expires: 2024-02-30x}]");
        assert!(gate.is_err());
        let gate =
            Gate::from_yaml("waivers: [{rule: r, reason: x, author: me, expires: 2024-03-01}]")
                .unwrap();
        assert_eq!(gate.waivers[0].author.as_deref(), Some("me"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_report;
    use std::time::{Duration, UNIX_EPOCH};

    const X12: &str = "http://checklists.nist.gov/xccdf/1.2";

    /// Two TestResults (a stale first run, then the current one).
    fn report() -> Report {
        let xml = format!(
            r#"<Benchmark xmlns="{X12}" id="b">
  <Rule id="r-cve" severity="high"><title>CVE rule</title></Rule>
  <TestResult id="old">
    <rule-result idref="r-stale" severity="high"><result>fail</result></rule-result>
  </TestResult>
  <TestResult id="new">
    <rule-result idref="r-cve" severity="high"><result>fail</result>
      <ident system="http://cve.mitre.org">CVE-1</ident><ident system="http://cve.mitre.org">CVE-2</ident></rule-result>
    <rule-result idref="r-med" severity="medium"><result>fail</result></rule-result>
    <rule-result idref="r-err" severity="low"><result>error</result></rule-result>
    <rule-result idref="r-unk"><result>unknown</result></rule-result>
    <rule-result idref="r-ok" severity="high"><result>pass</result></rule-result>
  </TestResult>
</Benchmark>"#
        );
        parse_report(xml.as_bytes()).expect("report")
    }

    fn rules(o: &GateOutcome) -> Vec<&str> {
        o.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn default_gate_counts_fail_error_unknown_of_every_test_result() {
        let o = Gate::default().evaluate(&report());
        assert!(!o.passed);
        assert_eq!(rules(&o), ["r-stale", "r-cve", "r-med", "r-err", "r-unk"]);
        // One reason per severity that has findings (high, medium, low, unknown).
        assert_eq!(o.reasons.len(), 4, "{:?}", o.reasons);
        assert!(
            o.reasons[0]
                .starts_with("2 failed (fail/error/unknown) rule results with severity high")
        );
        let f = &o.findings[1];
        assert_eq!(f.title.as_deref(), Some("CVE rule"));
        assert_eq!(f.cves, ["CVE-1", "CVE-2"]);
        assert_eq!(f.source, "new");
    }

    #[test]
    fn scope_and_result_options() {
        let g = Gate::from_yaml("testResults: last\nerrorAsFailed: false\nunknownAsFailed: false")
            .expect("gate");
        let o = g.evaluate(&report());
        assert_eq!(rules(&o), ["r-cve", "r-med"]);
        assert!(
            o.reasons
                .iter()
                .all(|r| r.contains("failed rule results with")),
            "{:?}",
            o.reasons
        );
    }

    #[test]
    fn limits_per_severity_and_total() {
        let r = report();
        // With any limit set, severities without a limit are not limited.
        let g = Gate::from_yaml("testResults: last\nmaxFailed: {high: 1}").expect("gate");
        assert!(g.evaluate(&r).passed);
        let g = Gate::from_yaml("testResults: last\nmaxFailed: {high: 0}").expect("gate");
        let o = g.evaluate(&r);
        assert_eq!(o.reasons.len(), 1, "{:?}", o.reasons);
        assert!(
            o.reasons[0].contains("(at most 0 allowed): r-cve"),
            "{:?}",
            o.reasons
        );
        let g = Gate::from_yaml("testResults: last\nmaxFailedTotal: 3").expect("gate");
        let o = g.evaluate(&r);
        assert!(!o.passed);
        assert!(o.reasons[0].starts_with("4 failed"), "{:?}", o.reasons);
        let g = Gate::from_yaml("testResults: last\nmaxFailedTotal: 4").expect("gate");
        assert!(g.evaluate(&r).passed);
    }

    #[test]
    fn waivers_by_rule_and_by_every_cve() {
        let r = report();
        let base = "testResults: last\nmaxFailed: {high: 0}\n";
        // One of two CVEs waived: the finding still counts.
        let g = Gate::from_yaml(&format!(
            "{base}waivers: [{{cve: CVE-1, reason: fixed upstream}}]"
        ))
        .expect("gate");
        assert!(!g.evaluate(&r).passed);
        let g = Gate::from_yaml(&format!(
            "{base}waivers: [{{cve: CVE-1, reason: a}}, {{cve: CVE-2, reason: b}}]"
        ))
        .expect("gate");
        let o = g.evaluate(&r);
        assert!(o.passed, "{:?}", o.reasons);
        assert_eq!(o.findings[0].waived.as_deref(), Some("CVE-1: a; CVE-2: b"));
        let g = Gate::from_yaml(&format!(
            "{base}waivers: [{{rule: r-cve, reason: accepted risk}}]"
        ))
        .expect("gate");
        let o = g.evaluate(&r);
        assert!(o.passed);
        assert_eq!(
            o.findings[0].waived.as_deref(),
            Some("rule r-cve: accepted risk")
        );
    }

    #[test]
    fn expired_waivers_stop_applying_at_the_given_time() {
        let g = Gate::from_yaml(
            "testResults: last\nmaxFailed: {high: 0}\nwaivers: [{rule: r-cve, reason: r, expires: 2024-01-01}]",
        )
        .expect("gate");
        let r = report();
        let before = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14
        let after = UNIX_EPOCH + Duration::from_secs(1_710_000_000); // 2024-03-09
        assert!(g.evaluate_at(&r, before).passed);
        let o = g.evaluate_at(&r, after);
        assert!(!o.passed);
        assert_eq!(
            o.reasons.last().map(String::as_str),
            Some("the waiver for r-cve expired on 2024-01-01")
        );
        // evaluate() has no clock: every waiver applies.
        assert!(g.evaluate(&r).passed);
    }

    #[test]
    fn empty_documents_and_oval_only_findings() {
        let empty = parse_report(format!(r#"<Benchmark xmlns="{X12}" id="b"/>"#).as_bytes())
            .expect("empty");
        // requireResults defaults to true: a document without results fails.
        let o = Gate::default().evaluate(&empty);
        assert_eq!(
            o.reasons,
            ["the document holds no TestResult and no OVAL results"]
        );
        let g = Gate::from_yaml("requireResults: false").expect("gate");
        assert!(g.evaluate(&empty).passed);

        let oval = r#"<oval_results xmlns="http://oval.mitre.org/XMLSchema/oval-results-5" xmlns:d="http://oval.mitre.org/XMLSchema/oval-definitions-5">
  <d:oval_definitions><d:definitions>
    <d:definition id="oval:x:def:1" class="vulnerability"><d:metadata><d:title>CVE-9 in x</d:title>
      <d:reference source="CVE" ref_id="CVE-9"/><d:advisory><d:severity>Important</d:severity></d:advisory></d:metadata></d:definition>
    <d:definition id="oval:x:def:2" class="inventory"><d:metadata><d:title>x installed</d:title></d:metadata></d:definition>
  </d:definitions></d:oval_definitions>
  <results><system><definitions>
    <definition definition_id="oval:x:def:1" result="true"/>
    <definition definition_id="oval:x:def:2" result="true"/>
  </definitions></system></results>
</oval_results>"#;
        let r = parse_report(oval.as_bytes()).expect("oval");
        let o = Gate::default().evaluate(&r);
        assert_eq!(
            rules(&o),
            ["oval:x:def:1"],
            "inventory definitions are not findings"
        );
        assert_eq!(o.findings[0].severity, Severity::High);
        assert_eq!(o.findings[0].cves, ["CVE-9"]);
        assert!(!o.passed);
    }
}
