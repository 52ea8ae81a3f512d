//! Stable JSON (schema in the parent module docs).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::*;
use crate::summary::{OvalSummary, SCHEMA_VERSION, Summary, TestResultSummary};

/// The summary as pretty-printed JSON.
pub fn summary_json(summary: &Summary) -> Result<String> {
    serde_json::to_string_pretty(summary).map_err(|e| Error::Output {
        format: "JSON",
        source: Box::new(e),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson<'a> {
    schema_version: u32,
    kind: DocumentKind,
    test_results: Vec<TestResultJson<'a>>,
    oval_results: Vec<OvalJson<'a>>,
    ignored_test_results: u64,
    present_cves: Vec<String>,
    rules: Vec<&'a RuleInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestResultJson<'a> {
    #[serde(flatten)]
    summary: TestResultSummary,
    benchmark_href: Option<&'a str>,
    test_system: Option<&'a str>,
    target_info: &'a Target,
    rule_results: Vec<RuleResultJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleResultJson<'a> {
    idref: &'a str,
    title: Option<&'a str>,
    result: ResultValue,
    severity: Severity,
    weight: Option<&'a str>,
    time: Option<&'a str>,
    role: Option<&'a str>,
    idents: &'a [Ident],
    cves: Vec<String>,
    checks: &'a [CheckRef],
    messages: &'a [Message],
    overrides: &'a [Override],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OvalJson<'a> {
    #[serde(flatten)]
    summary: OvalSummary,
    definition_results: &'a [OvalDefinition],
}

/// The full report as pretty-printed JSON.
pub fn report_json(report: &Report) -> Result<String> {
    let j = ReportJson {
        schema_version: SCHEMA_VERSION,
        kind: report.kind,
        test_results: report
            .test_results
            .iter()
            .map(|tr| TestResultJson {
                summary: tr.summary(),
                benchmark_href: tr.benchmark_href.as_deref(),
                test_system: tr.test_system.as_deref(),
                target_info: &tr.target,
                rule_results: tr
                    .rule_results
                    .iter()
                    .map(|rr| RuleResultJson {
                        idref: &rr.idref,
                        title: report.rule_title(&rr.idref),
                        result: rr.result,
                        severity: rr.severity,
                        weight: rr.weight.as_deref(),
                        time: rr.time.as_deref(),
                        role: rr.role.as_deref(),
                        idents: &rr.idents,
                        cves: report.cves(rr),
                        checks: &rr.checks,
                        messages: &rr.messages,
                        overrides: &rr.overrides,
                    })
                    .collect(),
            })
            .collect(),
        oval_results: report
            .oval_reports
            .iter()
            .map(|o| OvalJson {
                summary: OvalSummary {
                    report_id: o.report_id.clone(),
                    definitions: o.counts,
                },
                definition_results: &o.definitions,
            })
            .collect(),
        ignored_test_results: report.ignored_test_results,
        present_cves: report.present_cves(),
        rules: report.rules.values().collect(),
    };
    serde_json::to_string_pretty(&j).map_err(|e| Error::Output {
        format: "JSON",
        source: Box::new(e),
    })
}
