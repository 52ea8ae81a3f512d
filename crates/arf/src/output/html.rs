//! A self-contained HTML report: no external assets (inline CSS and SVG), a
//! results-by-severity chart and a table of failed rules with titles and idents.

use std::fmt::Write;

use super::esc;
use crate::model::*;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:7em}\
.card b{display:block;font-size:1.6em}.pass{color:#2e7d32}.fail{color:#c62828}.other{color:#ef6c00}\
.sev-high{background:#ffebee}.sev-medium{background:#fff3e0}.sev-low{background:#fffde7}\
code{font-size:.9em}.meta td:first-child{font-weight:bold}";

fn other(c: &ResultCounts) -> u64 {
    c.get(ResultValue::Error)
        + c.get(ResultValue::Unknown)
        + c.get(ResultValue::NotChecked)
        + c.get(ResultValue::Informational)
}

/// An SVG chart: one stacked horizontal bar per severity (passed, failed, other),
/// each segment labelled with its count.
fn chart(tr: &TestResult) -> String {
    let rows: Vec<(Severity, u64, u64, u64)> = Severity::ALL
        .iter()
        .map(|s| {
            let c = tr.severity_counts(*s);
            (
                *s,
                c.get(ResultValue::Pass) + c.get(ResultValue::Fixed),
                c.get(ResultValue::Fail),
                other(&c),
            )
        })
        .collect();
    let max = rows
        .iter()
        .map(|(_, p, f, o)| p + f + o)
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, label_w, bar_h, gap) = (420.0f64, 80.0f64, 22.0f64, 8.0f64);
    let h = (rows.len() as f64) * (bar_h + gap) + 40.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Results by severity\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\">\n<title>Results by severity</title>\n",
        label_w + w + 240.0,
        label_w + w + 240.0
    );
    for (i, (sev, p, f, o)) in rows.iter().enumerate() {
        let y = (i as f64) * (bar_h + gap);
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>",
            y + bar_h * 0.75,
            sev
        );
        let mut x = label_w;
        for (n, color, class) in [
            (*p, "#43a047", "passed"),
            (*f, "#e53935", "failed"),
            (*o, "#fb8c00", "other"),
        ] {
            if n == 0 {
                continue;
            }
            let bw = (n as f64) / (max as f64) * w;
            let _ = writeln!(
                s,
                "<rect class=\"bar-{class}\" data-severity=\"{sev}\" data-count=\"{n}\" x=\"{x:.1}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{bar_h}\" fill=\"{color}\"><title>{sev} {class}: {n}</title></rect>"
            );
            x += bw;
        }
        let total = p + f + o;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 4.0,
            y + bar_h * 0.75,
            if total == 0 {
                "0".to_string()
            } else {
                format!("{p} passed, {f} failed, {o} other")
            }
        );
    }
    let ly = (rows.len() as f64) * (bar_h + gap) + 14.0;
    for (i, (color, name)) in [
        ("#43a047", "passed"),
        ("#e53935", "failed"),
        ("#fb8c00", "other"),
    ]
    .iter()
    .enumerate()
    {
        let lx = label_w + (i as f64) * 110.0;
        let _ = writeln!(
            s,
            "<rect x=\"{lx}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{name}</text>",
            ly - 10.0,
            lx + 16.0,
            ly
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Renders the HTML report.
pub fn html_report(report: &Report) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>OpenSCAP results report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>OpenSCAP results report</h1>\n<p>Document: <code>{}</code>, {} test result(s), {} OVAL report(s).</p>\n",
        report.kind.as_str(),
        report.test_results.len(),
        report.oval_reports.len()
    );
    let cves = report.present_cves();
    if !cves.is_empty() {
        let _ = writeln!(
            b,
            "<p class=\"cves\" id=\"present-cves\">CVEs present ({}): {}</p>",
            cves.len(),
            cves.iter().map(|c| esc(c)).collect::<Vec<_>>().join(", ")
        );
    }
    for (n, tr) in report.test_results.iter().enumerate() {
        let sr = tr.counts.scan_result();
        let ov = tr.counts.oscap_view();
        let _ = write!(
            b,
            "<section class=\"test-result\" id=\"tr{n}\">\n<h2>Test result <code>{}</code></h2>\n<table class=\"meta\">\n",
            esc(&tr.id)
        );
        let mut row = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                let _ = writeln!(b, "<tr><td>{k}</td><td>{}</td></tr>", esc(v));
            }
        };
        row("Profile", tr.profile.as_deref());
        row("Benchmark", tr.benchmark_id.as_deref());
        row("Target", tr.target.name.as_deref());
        row("Identifier", tr.target.fact("urn:xccdf:fact:identifier"));
        row("Started", tr.start_time.as_deref());
        row("Finished", tr.end_time.as_deref());
        for sc in &tr.scores {
            let _ = writeln!(
                b,
                "<tr><td>Score</td><td>{} / {} <small>({})</small></td></tr>",
                esc(&sc.value),
                esc(sc.maximum.as_deref().unwrap_or("?")),
                esc(sc.system.as_deref().unwrap_or(""))
            );
        }
        let _ = write!(
            b,
            "</table>\n<div class=\"cards\">\n<div class=\"card pass\" id=\"passed-{n}\">Passed<b>{}</b></div>\n<div class=\"card fail\" id=\"failed-{n}\">Failed<b>{}</b></div>\n<div class=\"card other\" id=\"other-{n}\">Other<b>{}</b></div>\n<div class=\"card\" id=\"total-{n}\">Total rules<b>{}</b></div>\n<div class=\"card\" id=\"ignored-{n}\">Not selected / not applicable<b>{}</b></div>\n</div>\n",
            sr.passed_rules, sr.failed_rules, ov.other, sr.total_rules, ov.ignored
        );
        b.push_str("<h3>Results by severity</h3>\n");
        b.push_str(&chart(tr));
        let _ = writeln!(
            b,
            "<table class=\"counts\"><tr><th>Result</th><th>Count</th></tr>"
        );
        for (v, c) in tr.counts.iter() {
            let _ = writeln!(b, "<tr><td>{v}</td><td>{c}</td></tr>");
        }
        b.push_str("</table>\n");
        let failed: Vec<&RuleResult> = tr
            .rule_results
            .iter()
            .filter(|r| {
                matches!(
                    r.result,
                    ResultValue::Fail | ResultValue::Error | ResultValue::Unknown
                )
            })
            .collect();
        let _ = write!(
            b,
            "<h3>Failed rules ({})</h3>\n<table class=\"failed-rules\" id=\"failed-rules-{n}\">\n<tr><th>Severity</th><th>Result</th><th>Rule</th><th>Title</th><th>Idents</th></tr>\n",
            failed.len()
        );
        let mut sorted = failed;
        sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.result.cmp(&b.result)));
        for rr in sorted {
            let mut idents: Vec<String> = rr.idents.iter().map(|i| esc(&i.id)).collect();
            for c in report.cves(rr) {
                let e = esc(&c);
                if !idents.contains(&e) {
                    idents.push(e);
                }
            }
            let _ = writeln!(
                b,
                "<tr class=\"sev-{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                rr.severity,
                rr.severity,
                rr.result,
                esc(&rr.idref),
                esc(report.rule_title(&rr.idref).unwrap_or("")),
                idents.join(", ")
            );
        }
        b.push_str("</table>\n</section>\n");
    }
    for (i, o) in report.oval_reports.iter().enumerate() {
        let name = o.report_id.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let _ = write!(
            b,
            "<section class=\"oval\">\n<h2>OVAL results <code>{}</code></h2>\n<table><tr>",
            esc(&name)
        );
        for (v, _) in o.counts.iter() {
            let _ = write!(b, "<th>{v}</th>");
        }
        b.push_str("</tr><tr>");
        for (_, c) in o.counts.iter() {
            let _ = write!(b, "<td>{c}</td>");
        }
        b.push_str("</tr></table>\n");
        let vulns: Vec<&OvalDefinition> = o
            .definitions
            .iter()
            .filter(|d| d.is_vulnerability() && d.result == Some(OvalResult::True))
            .collect();
        if !vulns.is_empty() {
            let _ = write!(
                b,
                "<h3>Vulnerable ({})</h3>\n<table class=\"vulnerable\"><tr><th>Definition</th><th>Title</th><th>Severity</th><th>CVEs</th></tr>\n",
                vulns.len()
            );
            for d in vulns {
                let _ = writeln!(
                    b,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.id),
                    esc(d.title.as_deref().unwrap_or("")),
                    esc(d.advisory_severity.as_deref().unwrap_or("")),
                    esc(&d.cves.join(", "))
                );
            }
            b.push_str("</table>\n");
        }
        b.push_str("</section>\n");
    }
    b.push_str(
        "<footer><p><small>Generated by imprimatur-arf.</small></p></footer>\n</body>\n</html>\n",
    );
    b
}
