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
