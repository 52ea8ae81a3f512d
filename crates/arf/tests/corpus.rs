//! The real files made by OpenSCAP (tests/data/arf, copied from the shared corpus):
//! parsed counts must equal what oscap printed and what the corpus manifest recorded
//! (manifest.json and MANIFEST.md were produced by oscap and the corpus scripts,
//! not by this crate).

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use imprimatur_arf::*;
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/arf")
}

fn read(name: &str) -> Vec<u8> {
    let p = data_dir().join(name);
    let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    }
}

/// Manifest entries for the files present in tests/data/arf (stored there with `.gz`).
fn entries() -> Vec<(String, Value)> {
    let m: Value =
        serde_json::from_slice(&std::fs::read(data_dir().join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let mut out = Vec::new();
    for e in m.as_array().expect("array") {
        let name = e["name"].as_str().expect("name").to_string();
        let stored = if name.ends_with(".gz") {
            name.clone()
        } else {
            format!("{name}.gz")
        };
        if data_dir().join(&stored).exists() {
            out.push((stored, e.clone()));
        }
    }
    out
}

fn nonzero(c: &ResultCounts) -> BTreeMap<String, u64> {
    c.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| (v.as_str().to_string(), n))
        .collect()
}

fn nonzero_oval(c: &OvalCounts) -> BTreeMap<String, u64> {
    c.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| (v.as_str().to_string(), n))
        .collect()
}

fn map(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
        .collect()
}

/// `| # | file | … | HTML passed/failed/other | …` from MANIFEST.md, by file name.
fn html_summaries() -> BTreeMap<String, Vec<(u64, u64, u64)>> {
    let md = include_str!("../../../tests/data/arf/MANIFEST.md");
    let mut out = BTreeMap::new();
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 11 || !cols[1].chars().all(|c| c.is_ascii_digit()) || cols[1].is_empty() {
            continue;
        }
        let name = cols[2].trim_matches('`').to_string();
        let html = cols[9];
        if html == "—" {
            continue;
        }
        let triples = html
            .split(";;")
            .map(|t| {
                let n: Vec<u64> = t
                    .trim()
                    .split('/')
                    .map(|x| x.parse().expect("num"))
                    .collect();
                (n[0], n[1], n[2])
            })
            .collect();
        out.insert(name, triples);
    }
    out
}

#[test]
fn corpus_counts_match_oscap_and_manifest() {
    let entries = entries();
    assert!(
        entries.len() >= 15,
        "only {} corpus files found",
        entries.len()
    );
    let html = html_summaries();
    for (file, e) in &entries {
        let bytes = read(file);
        let full = parse_report(&bytes[..]).unwrap_or_else(|err| panic!("{file}: {err}"));
        let summary = parse_summary(BufReader::with_capacity(4096, &bytes[..]))
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(
            full.summary(),
            summary,
            "{file}: summary mode differs from full mode"
        );

        let a = &e["analysis"];
        // Kind from the root element.
        let root = a["root"].as_str().expect("root");
        let kind = match root.rsplit('}').next().expect("local") {
            "asset-report-collection" => DocumentKind::Arf,
            "Benchmark" => DocumentKind::XccdfResults,
            "TestResult" => DocumentKind::XccdfTestResult,
            "oval_results" => DocumentKind::OvalResults,
            other => panic!("{file}: root {other}"),
        };
        assert_eq!(full.kind, kind, "{file}");

        let trs: Vec<&Value> = a["testresults"]
            .as_array()
            .expect("testresults")
            .iter()
            .filter(|t| !t["in_report_request"].as_bool().expect("bool"))
            .collect();
        let stale = a["testresults"].as_array().expect("tr").len() - trs.len();
        assert_eq!(
            full.ignored_test_results, stale as u64,
            "{file}: stale TestResults"
        );
        assert_eq!(
            full.test_results.len(),
            trs.len(),
            "{file}: TestResult count"
        );
        for (got, want) in full.test_results.iter().zip(&trs) {
            assert_eq!(got.id, want["id"].as_str().expect("id"), "{file}");
            assert_eq!(got.profile.as_deref(), want["profile"].as_str(), "{file}");
            assert_eq!(nonzero(&got.counts), map(&want["counts"]), "{file}: counts");
            assert_eq!(
                got.rule_results.len() as u64,
                want["rule_results"].as_u64().expect("n"),
                "{file}"
            );
            let distinct: std::collections::BTreeSet<&str> =
                got.rule_results.iter().map(|r| r.idref.as_str()).collect();
            assert_eq!(
                distinct.len() as u64,
                want["distinct_idrefs"].as_u64().expect("n")
            );
            let mut systems: BTreeMap<String, u64> = BTreeMap::new();
            for rr in &got.rule_results {
                for i in &rr.idents {
                    *systems.entry(i.system.clone()).or_default() += 1;
                }
            }
            assert_eq!(systems, map(&want["ident_systems"]), "{file}: idents");
            let multi = got
                .rule_results
                .iter()
                .filter(|r| r.checks.iter().any(|c| c.multi_check))
                .count();
            assert_eq!(
                multi as u64,
                want["multi_check"].as_u64().expect("n"),
                "{file}"
            );
            let messages: usize = got.rule_results.iter().map(|r| r.messages.len()).sum();
            assert_eq!(
                messages as u64,
                want["messages"].as_u64().expect("n"),
                "{file}"
            );
            let scores: Vec<Vec<String>> = got
                .scores
                .iter()
                .map(|s| {
                    vec![
                        s.system.clone().unwrap_or_default(),
                        s.maximum.clone().unwrap_or_default(),
                        s.value.clone(),
                    ]
                })
                .collect();
            let want_scores: Vec<Vec<String>> =
                serde_json::from_value(want["scores"].clone()).expect("scores");
            assert_eq!(scores, want_scores, "{file}: scores");
            assert_eq!(got.start_time.as_deref(), want["start"].as_str(), "{file}");
            assert_eq!(got.end_time.as_deref(), want["end"].as_str(), "{file}");
        }

        let ovals: Vec<&Value> = a["oval_reports"]
            .as_array()
            .expect("oval")
            .iter()
            .filter(|t| !t["in_report_request"].as_bool().expect("bool"))
            .collect();
        assert_eq!(full.oval_reports.len(), ovals.len(), "{file}: OVAL reports");
        for (got, want) in full.oval_reports.iter().zip(&ovals) {
            assert_eq!(
                nonzero_oval(&got.counts),
                map(&want["def_results"]),
                "{file}"
            );
            let mut classes: BTreeMap<String, u64> = BTreeMap::new();
            for d in &got.definitions {
                *classes
                    .entry(d.class.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            assert_eq!(classes, map(&want["classes"]), "{file}: classes");
        }

        // What oscap printed on stdout (tallied by the corpus script).
        let printed = map(&e["summary"]);
        let cmd = e["cmd"].as_str().expect("cmd");
        if kind == DocumentKind::OvalResults && cmd.contains("oval eval") {
            assert_eq!(
                nonzero_oval(&full.oval_reports[0].counts),
                printed,
                "{file}"
            );
        } else if kind != DocumentKind::OvalResults
            && !cmd.contains("--remediate")
            && full.test_results.iter().any(|t| t.counts.total() > 0)
        {
            // oscap prints the evaluated (not notselected) results of the TestResult it made:
            // the last one.
            let last = full.test_results.last().expect("tr");
            let mut mine = nonzero(&last.counts);
            mine.remove("notselected");
            assert_eq!(mine, printed, "{file}: oscap stdout tally");
            assert_eq!(
                last.counts.oscap_view().evaluated,
                printed.values().sum::<u64>(),
                "{file}"
            );
            let rc: u8 = e["rc"].as_str().expect("rc").parse().expect("rc");
            assert_eq!(
                last.counts.oscap_view().exit_code,
                rc,
                "{file}: oscap exit code"
            );
        }

        // The numbers of oscap's HTML report.
        let name = file.trim_end_matches(".gz");
        let key = if html.contains_key(file) {
            file.as_str()
        } else {
            name
        };
        if let Some(triples) = html.get(key) {
            let with_results: Vec<&TestResult> = full.test_results.iter().collect();
            if triples.len() == with_results.len() {
                for (tr, (p, f, o)) in with_results.iter().zip(triples) {
                    let sr = tr.counts.scan_result();
                    assert_eq!((sr.passed_rules, sr.failed_rules), (*p, *f), "{file}: HTML");
                    assert_eq!(
                        sr.total_rules - sr.passed_rules - sr.failed_rules,
                        *o,
                        "{file}"
                    );
                }
            }
        }
    }
}

#[test]
fn cve_content_lists_cves() {
    let r = parse_report(&read("host-cve-generated-xccdf-arf.xml.gz")[..]).expect("parse");
    let tr = &r.test_results[0];
    let failing: Vec<&RuleResult> = tr
        .rule_results
        .iter()
        .filter(|r| r.result == ResultValue::Fail)
        .collect();
    assert_eq!(failing.len(), 14);
    // CVEs of a failing rule: its CVE idents (oval-to-xccdf copies them) and the CVEs
    // of the OVAL definition it checked, which must agree.
    let mut with_cves = 0;
    for rr in &failing {
        let cves: std::collections::BTreeSet<String> = r.cves(rr).into_iter().collect();
        let idents: std::collections::BTreeSet<String> = rr
            .idents
            .iter()
            .filter(|i| i.is_cve())
            .map(|i| i.id.clone())
            .collect();
        let def = rr
            .checks
            .iter()
            .find_map(|c| r.oval_definition(c))
            .expect("def");
        let def_cves: std::collections::BTreeSet<String> = def.cves.iter().cloned().collect();
        assert_eq!(cves, idents, "{}", rr.idref);
        assert_eq!(cves, def_cves, "{}", rr.idref);
        assert!(cves.iter().all(|c| c.starts_with("CVE-")));
        assert_eq!(def.result, Some(OvalResult::True), "{}", rr.idref);
        assert!(def.is_vulnerability());
        with_cves += usize::from(!cves.is_empty());
    }
    assert!(with_cves >= 10, "{with_cves}");
    // The CVEs present = those of the failing rules = those of the true OVAL definitions.
    let mut from_defs: Vec<String> = r.oval_reports[0]
        .definitions
        .iter()
        .filter(|d| d.result == Some(OvalResult::True))
        .flat_map(|d| d.cves.clone())
        .collect();
    from_defs.sort();
    from_defs.dedup();
    assert!(!from_defs.is_empty());
    assert_eq!(r.present_cves(), from_defs);
    // Rule titles come from the benchmark in the report request.
    assert!(r.rule_title(&failing[0].idref).is_some());

    let o = parse_report(&read("host-cve-oval-results.xml.gz")[..]).expect("parse");
    let vulnerable: Vec<&OvalDefinition> = o.oval_reports[0]
        .definitions
        .iter()
        .filter(|d| d.result == Some(OvalResult::True) && d.is_vulnerability())
        .collect();
    assert_eq!(vulnerable.len(), 14);
    assert!(vulnerable.iter().all(|d| d.advisory_severity.is_some()));
    assert!(vulnerable.iter().filter(|d| !d.cves.is_empty()).count() >= 10);
    assert!(
        vulnerable
            .iter()
            .flat_map(|d| &d.cves)
            .all(|c| c.starts_with("CVE-"))
    );
}

#[test]
fn rule_metadata_from_report_request() {
    let r = parse_report(&read("host-deb12-standard-arf.xml.gz")[..]).expect("parse");
    assert_eq!(r.rules.len(), 355, "every Rule of SSG Debian 11");
    let tr = &r.test_results[0];
    let failed = tr
        .rule_results
        .iter()
        .find(|r| r.result == ResultValue::Fail)
        .expect("one fail");
    let info = &r.rules[&failed.idref];
    assert!(info.title.as_deref().is_some_and(|t| !t.is_empty()));
    assert!(info.description.as_deref().is_some_and(|t| !t.is_empty()));
    assert!(!info.references.is_empty());
    // Summary mode skips the report request entirely.
    let s = parse(
        &read("host-deb12-standard-arf.xml.gz")[..],
        &ParseOptions::summary(),
    )
    .expect("p");
    assert!(s.rules.is_empty());
    assert!(s.test_results[0].rule_results.is_empty());
}

#[test]
fn rerun_file_ignores_the_stale_copy() {
    let r = parse_report(&read("edge-rerun-multiple-testresults-arf.xml.gz")[..]).expect("parse");
    assert_eq!(r.ignored_test_results, 1);
    let ids: Vec<&str> = r.test_results.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[1].ends_with("001"));
    assert_eq!(r.test_results[0].report_id.as_deref(), Some("xccdf1"));
    assert_eq!(r.test_results[1].report_id.as_deref(), Some("xccdf2"));
    // Gates see both results, or only the last one. (manifest: fail 8, error 3,
    // unknown 1 in each.)
    let all = Gate::from_yaml("errorAsFailed: false\nunknownAsFailed: false").expect("gate");
    assert_eq!(all.evaluate(&r).findings.len(), 16);
    let last = Gate::from_yaml("errorAsFailed: false\nunknownAsFailed: false\ntestResults: last")
        .expect("gate");
    let out = last.evaluate(&r);
    assert_eq!(out.findings.len(), 8);
    assert!(out.findings.iter().all(|f| f.source.ends_with("001")));
}
