//! Compact text.

use std::fmt::Write;

use crate::gate::GateOutcome;
use crate::model::*;
use crate::summary::Summary;

/// A compact, human-readable summary (both views, per result and per severity).
pub fn summary_text(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} test result(s), {} OVAL report(s)",
        s.kind.as_str(),
        s.test_results.len(),
        s.oval_results.len()
    );
    for tr in &s.test_results {
        let _ = write!(o, "TestResult {}", tr.id);
        if let Some(r) = &tr.report_id {
            let _ = write!(o, " [{r}]");
        }
        o.push('\n');
        let field = |o: &mut String, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(o, "  {k:<10} {v}");
            }
        };
        field(&mut o, "profile", &tr.profile);
        field(&mut o, "benchmark", &tr.benchmark);
        field(&mut o, "target", &tr.target);
        if let (Some(a), Some(b)) = (&tr.start_time, &tr.end_time) {
            let _ = writeln!(o, "  {:<10} {a} .. {b}", "time");
        }
        let nz: Vec<String> = tr
            .results
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "  {:<10} {} (total {})",
            "results",
            if nz.is_empty() {
                "none".to_string()
            } else {
                nz.join(", ")
            },
            tr.results.total()
        );
        let sev: Vec<String> = Severity::ALL
            .iter()
            .map(|s| (s, tr.by_severity.get(*s).get(ResultValue::Fail)))
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "  {:<10} {}",
            "failed",
            if sev.is_empty() {
                "none".to_string()
            } else {
                sev.join(", ")
            }
        );
        let sr = tr.scan_result;
        let _ = writeln!(
            o,
            "  {:<10} passedRules {}, failedRules {}, totalRules {}",
            "scanResult", sr.passed_rules, sr.failed_rules, sr.total_rules
        );
        let v = tr.oscap;
        let _ = writeln!(
            o,
            "  {:<10} evaluated {}: passed {}, failed {}, other {} (uncertain {}), ignored {}; exit code {}",
            "oscap", v.evaluated, v.passed, v.failed, v.other, v.uncertain, v.ignored, v.exit_code
        );
        for sc in &tr.scores {
            let _ = writeln!(
                o,
                "  {:<10} {} / {} ({})",
                "score",
                sc.value,
                sc.maximum.as_deref().unwrap_or("?"),
                sc.system.as_deref().unwrap_or("?")
            );
        }
    }
    for (i, ov) in s.oval_results.iter().enumerate() {
        let nz: Vec<String> = ov
            .definitions
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        let name = ov
            .report_id
            .clone()
            .unwrap_or_else(|| format!("#{}", i + 1));
        let _ = writeln!(
            o,
            "OVAL {name}: {} (total {})",
            if nz.is_empty() {
                "none".to_string()
            } else {
                nz.join(", ")
            },
            ov.definitions.total()
        );
    }
    o
}

/// The gate outcome as text: `PASS`/`FAIL`, every reason, and the waived findings.
pub fn gate_text(g: &GateOutcome) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "gate: {}", if g.passed { "PASS" } else { "FAIL" });
    for r in &g.reasons {
        let _ = writeln!(o, "  - {r}");
    }
    let waived: Vec<_> = g.findings.iter().filter(|f| f.waived.is_some()).collect();
    if !waived.is_empty() {
        let _ = writeln!(o, "waived ({}):", waived.len());
        for f in waived {
            let _ = writeln!(
                o,
                "  - {} [{} {}]: {}",
                f.rule,
                f.severity,
                f.result,
                f.waived.as_deref().unwrap_or("")
            );
        }
    }
    o
}
