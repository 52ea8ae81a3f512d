//! Output formats: stable JSON, compact text, JUnit XML and a self-contained HTML report.
//!
//! All functions return `String`s; writing them anywhere is the caller's business.
//!
//! # JSON schema (`schemaVersion` 1)
//!
//! [`summary_json`] writes a [`crate::Summary`]:
//!
//! ```text
//! { "schemaVersion": 1,
//!   "kind": "arf" | "xccdf-results" | "xccdf-test-result" | "oval-results",
//!   "testResults": [                       // document order; ARF: only under arf:reports
//!     { "id", "reportId", "xccdfVersion": "1.1"|"1.2", "benchmark", "profile",
//!       "startTime", "endTime", "target",  // urn:xccdf:fact:identifier, else <target>
//!       "results":    { "pass", "fail", "error", "unknown", "notapplicable",
//!                       "notchecked", "notselected", "informational", "fixed" },
//!       "bySeverity": { "high"|"medium"|"low"|"info"|"unknown": { …nine results… } },
//!       "scanResult": { "passedRules", "failedRules", "totalRules" },
//!       "oscap":      { "evaluated", "passed", "failed", "uncertain", "other",
//!                       "ignored", "exitCode" },
//!       "scores":     [ { "system", "maximum", "value" } ] } ],
//!   "ovalResults": [                       // document order
//!     { "reportId",
//!       "definitions": { "true", "false", "error", "unknown",
//!                        "not evaluated", "not applicable" } } ] }
//! ```
//!
//! [`report_json`] writes the same fields plus, per test result, `benchmarkHref`,
//! `testSystem`, `targetInfo` (`name`, `addresses`, `facts`) and `ruleResults`
//! (`idref`, `title`, `result`, `severity`, `weight`, `time`, `role`, `idents`,
//! `cves`, `checks`, `messages`, `overrides`); per OVAL report `definitionResults`
//! (`id`, `class`, `title`, `result`, `references`, `cves`, `advisorySeverity`); and
//! `rules` (benchmark metadata), `ignoredTestResults` and `presentCves` (see
//! [`crate::Report::present_cves`]). Within a schema version
//! fields are only added, never renamed or removed. The meaning of `scanResult` and
//! `oscap` is documented on [`crate::ScanResult`] and [`crate::OscapView`].

mod html;
mod json;
mod junit;
mod text;

pub use html::html_report;
pub use json::{report_json, summary_json};
pub use junit::junit_report;
pub use text::{gate_text, summary_text};

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters not allowed in XML 1.0 are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Gate, parse_report};

    #[test]
    fn esc_escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
        assert_eq!(esc("nul\u{0}bel\u{7}\u{FFFE}\u{FFFF}é"), "nulbelé");
    }

    fn report() -> crate::Report {
        let xml = r#"<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="b">
  <Rule id="r1" severity="high"><title>Rule &lt;one&gt;</title></Rule>
  <TestResult id="t">
    <rule-result idref="r1" severity="high"><result>fail</result></rule-result>
    <rule-result idref="r2" severity="low"><result>pass</result></rule-result>
  </TestResult>
</Benchmark>"#;
        parse_report(xml.as_bytes()).expect("report")
    }

    #[test]
    fn gate_text_lists_reasons_and_waived_findings() {
        let r = report();
        let fail = Gate::default().evaluate(&r);
        let t = gate_text(&fail);
        assert!(t.starts_with("gate: FAIL\n  - 1 failed"), "{t}");
        assert!(!t.contains("waived"), "{t}");
        let waived = Gate::from_yaml("waivers: [{rule: r1, reason: accepted}]")
            .expect("gate")
            .evaluate(&r);
        assert_eq!(
            gate_text(&waived),
            "gate: PASS\nwaived (1):\n  - r1 [high fail]: rule r1: accepted\n"
        );
    }

    #[test]
    fn junit_and_html_escape_titles() {
        let r = report();
        let junit = junit_report(&r);
        assert!(junit.contains("Rule &lt;one&gt;"), "{junit}");
        assert!(!junit.contains("Rule <one>"), "{junit}");
        assert!(junit.contains(r#"tests="2" failures="1""#), "{junit}");
        let html = html_report(&r);
        assert!(html.contains("Rule &lt;one&gt;"));
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn summary_outputs_agree() {
        let s = report().summary();
        let text = summary_text(&s);
        assert!(
            text.contains("passedRules 1, failedRules 1, totalRules 2"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&summary_json(&s).expect("json")).expect("valid");
        assert_eq!(json["schemaVersion"], crate::SCHEMA_VERSION);
        assert_eq!(json["testResults"][0]["scanResult"]["failedRules"], 1);
    }
}
