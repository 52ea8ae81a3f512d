//! JUnit XML: one `testsuite` per TestResult, one `testcase` per rule result that
//! oscap evaluated (`notselected` results are left out). `fail` is a `failure`,
//! `error`/`unknown` an `error`, `notapplicable`/`notchecked`/`informational` are
//! `skipped`, `pass`/`fixed` pass. OVAL-only files: one suite per OVAL report, one
//! case per definition (a true vulnerability/patch definition is a failure).

use std::fmt::Write;

use super::esc;
use crate::model::*;

/// Renders JUnit XML (the format Jenkins and GitLab read).
pub fn junit_report(report: &Report) -> String {
    let mut suites = String::new();
    let (mut t_all, mut f_all, mut e_all, mut s_all) = (0u64, 0u64, 0u64, 0u64);
    for tr in &report.test_results {
        let (mut t, mut f, mut e, mut s) = (0u64, 0u64, 0u64, 0u64);
        let mut cases = String::new();
        let class = tr
            .profile
            .as_deref()
            .or(tr.benchmark_id.as_deref())
            .unwrap_or(&tr.id);
        for rr in &tr.rule_results {
            if rr.result == ResultValue::NotSelected {
                continue;
            }
            t += 1;
            let title = report.rule_title(&rr.idref);
            let name = match title {
                Some(ti) => format!("{} ({})", rr.idref, ti),
                None => rr.idref.clone(),
            };
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\"",
                esc(class),
                esc(&name)
            );
            let detail = || {
                let mut d = format!("severity: {}\nresult: {}\n", rr.severity, rr.result);
                for i in &rr.idents {
                    let _ = writeln!(d, "ident: {} ({})", i.id, i.system);
                }
                let cves = report.cves(rr);
                if !cves.is_empty() {
                    let _ = writeln!(d, "CVEs: {}", cves.join(", "));
                }
                for m in &rr.messages {
                    let _ = writeln!(d, "message: {}", m.text);
                }
                d
            };
            let msg = title.unwrap_or(&rr.idref);
            match rr.result {
                ResultValue::Fail => {
                    f += 1;
                    let _ = write!(
                        cases,
                        ">\n      <failure type=\"fail\" message=\"{}\">{}</failure>\n    </testcase>\n",
                        esc(msg),
                        esc(&detail())
                    );
                }
                ResultValue::Error | ResultValue::Unknown => {
                    e += 1;
                    let _ = write!(
                        cases,
                        ">\n      <error type=\"{}\" message=\"{}\">{}</error>\n    </testcase>\n",
                        rr.result,
                        esc(msg),
                        esc(&detail())
                    );
                }
                ResultValue::NotApplicable
                | ResultValue::NotChecked
                | ResultValue::Informational => {
                    s += 1;
                    let _ = write!(
                        cases,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        rr.result
                    );
                }
                _ => cases.push_str("/>\n"),
            }
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\"",
            esc(&tr.id)
        );
        if let Some(ts) = &tr.start_time {
            let _ = write!(suites, " timestamp=\"{}\"", esc(ts));
        }
        suites.push_str(">\n    <properties>\n");
        let mut prop = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                let _ = writeln!(
                    suites,
                    "      <property name=\"{k}\" value=\"{}\"/>",
                    esc(v)
                );
            }
        };
        prop("profile", tr.profile.as_deref());
        prop("benchmark", tr.benchmark_id.as_deref());
        prop("target", tr.target.name.as_deref());
        prop("identifier", tr.target.fact("urn:xccdf:fact:identifier"));
        suites.push_str("    </properties>\n");
        suites.push_str(&cases);
        suites.push_str("  </testsuite>\n");
        t_all += t;
        f_all += f;
        e_all += e;
        s_all += s;
    }
    if report.test_results.is_empty() {
        for (i, o) in report.oval_reports.iter().enumerate() {
            let (mut t, mut f, mut e, mut s) = (0u64, 0u64, 0u64, 0u64);
            let mut cases = String::new();
            let sname = o.report_id.clone().unwrap_or_else(|| format!("oval{i}"));
            for d in &o.definitions {
                t += 1;
                let name = match &d.title {
                    Some(ti) => format!("{} ({})", d.id, ti),
                    None => d.id.clone(),
                };
                let class = d.class.as_deref().unwrap_or("definition");
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    esc(class),
                    esc(&name)
                );
                match d.result {
                    Some(OvalResult::True) if d.is_vulnerability() => {
                        f += 1;
                        let _ = write!(
                            cases,
                            ">\n      <failure type=\"vulnerable\" message=\"{}\">CVEs: {}</failure>\n    </testcase>\n",
                            esc(d.title.as_deref().unwrap_or(&d.id)),
                            esc(&d.cves.join(", "))
                        );
                    }
                    Some(OvalResult::Error | OvalResult::Unknown) => {
                        e += 1;
                        let _ = write!(
                            cases,
                            ">\n      <error type=\"{}\"/>\n    </testcase>\n",
                            d.result.map(|r| r.as_str()).unwrap_or("")
                        );
                    }
                    Some(OvalResult::NotEvaluated | OvalResult::NotApplicable) | None => {
                        s += 1;
                        let _ = write!(
                            cases,
                            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                            d.result.map(|r| r.as_str()).unwrap_or("no result")
                        );
                    }
                    _ => cases.push_str("/>\n"),
                }
            }
            let _ = write!(
                suites,
                "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\">\n{cases}  </testsuite>\n",
                esc(&sname)
            );
            t_all += t;
            f_all += f;
            e_all += e;
            s_all += s;
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"imprimatur arf\" tests=\"{t_all}\" failures=\"{f_all}\" errors=\"{e_all}\" skipped=\"{s_all}\">\n{suites}</testsuites>\n"
    )
}
