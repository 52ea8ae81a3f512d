//! `imprimatur arf …` against real OpenSCAP output: the corpus (numbers recorded from
//! oscap in tests/data/arf/manifest.json), a live `oscap xccdf eval`, and the HTML
//! report rendered by headless Chromium.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::util::{data_dir, imprimatur, require_tool};

fn arf_dir() -> PathBuf {
    data_dir().join("arf")
}

fn run(args: &[&str]) -> Output {
    imprimatur().args(args).output().expect("run imprimatur")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn manifest() -> Vec<Value> {
    let m: Value =
        serde_json::from_slice(&std::fs::read(arf_dir().join("manifest.json")).expect("read"))
            .expect("manifest");
    m.as_array().expect("array").clone()
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .expect("object")
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_u64().expect("count")))
        .collect()
}

const XCCDF_RESULTS: [&str; 9] = [
    "pass",
    "fail",
    "error",
    "unknown",
    "notapplicable",
    "notchecked",
    "notselected",
    "informational",
    "fixed",
];

#[test]
fn summary_json_matches_the_corpus() {
    let mut checked = 0;
    for e in manifest() {
        let name = e["name"].as_str().expect("name");
        let stored = if name.ends_with(".gz") {
            name.to_string()
        } else {
            format!("{name}.gz")
        };
        let path = arf_dir().join(&stored);
        if !path.exists() {
            continue;
        }
        let j = json_of(&run(&[
            "arf",
            "summary",
            "--format",
            "json",
            path.to_str().expect("utf8"),
        ]));
        assert_eq!(j["schemaVersion"], 1);
        let want: Vec<&Value> = e["analysis"]["testresults"]
            .as_array()
            .expect("trs")
            .iter()
            .filter(|t| t["in_report_request"] == false)
            .collect();
        let got = j["testResults"].as_array().expect("testResults");
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["id"], w["id"], "{name}");
            assert_eq!(g["profile"], w["profile"], "{name}");
            // Every one of the nine result names is present.
            let results = g["results"].as_object().expect("results");
            assert_eq!(results.len(), 9, "{name}");
            for r in XCCDF_RESULTS {
                assert!(results.contains_key(r), "{name}: {r}");
            }
            let wc = counts(&w["counts"]);
            assert_eq!(counts(&g["results"]), wc, "{name}");
            let n = |k: &str| wc.get(k).copied().unwrap_or(0);
            let all: u64 = wc.values().sum();
            assert_eq!(
                g["scanResult"]["passedRules"],
                n("pass") + n("fixed"),
                "{name}"
            );
            assert_eq!(g["scanResult"]["failedRules"], n("fail"), "{name}");
            assert_eq!(
                g["scanResult"]["totalRules"],
                all - n("notselected") - n("notapplicable"),
                "{name}"
            );
        }
        let want: Vec<&Value> = e["analysis"]["oval_reports"]
            .as_array()
            .expect("ovals")
            .iter()
            .filter(|t| t["in_report_request"] == false)
            .collect();
        let got = j["ovalResults"].as_array().expect("ovalResults");
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["definitions"].as_object().expect("defs").len(), 6);
            assert_eq!(
                counts(&g["definitions"]),
                counts(&w["def_results"]),
                "{name}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
}

#[test]
fn stdin_gzip_and_bzip2_are_transparent() {
    let gz = arf_dir().join("edge-xccdf12-arf.xml.gz");
    let mut xml = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("open"))
        .read_to_end(&mut xml)
        .expect("gunzip");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("edge-arf.xml");
    std::fs::write(&plain, &xml).expect("write");
    let bz = dir.path().join("edge-arf.xml.bz2");
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(&xml).expect("bzip2");
    std::fs::write(&bz, enc.finish().expect("bzip2")).expect("write");

    let reference = run(&[
        "arf",
        "summary",
        "--format",
        "json",
        plain.to_str().expect("p"),
    ]);
    assert!(reference.status.success());
    for p in [&gz, &bz] {
        let out = run(&["arf", "summary", "--format", "json", p.to_str().expect("p")]);
        assert_eq!(out.stdout, reference.stdout, "{}", p.display());
    }
    for input in [xml.clone(), std::fs::read(&gz).expect("gz")] {
        let mut child = imprimatur()
            .args(["arf", "summary", "--format", "json", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.stdout, reference.stdout);
    }
}

/// Runs `oscap xccdf eval` on the edge-case benchmark (all nine result kinds) in a
/// temporary copy of tests/data/arf/inputs/edge. Returns the directory, oscap's
/// exit code and stdout.
fn oscap_eval_edge() -> (tempfile::TempDir, i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = arf_dir().join("inputs/edge");
    std::fs::create_dir(dir.path().join("sce")).expect("mkdir");
    for f in ["edge-xccdf-1.2.xml", "edge-oval.xml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    for f in ["pass.sh", "fail.sh", "error.sh", "unknown.sh"] {
        std::fs::copy(src.join("sce").join(f), dir.path().join("sce").join(f)).expect("copy");
    }
    let out = Command::new("oscap")
        .current_dir(dir.path())
        .args([
            "xccdf",
            "eval",
            "--profile",
            "xccdf_org.research.edge_profile_default_plus",
            "--results-arf",
            "arf.xml",
            "--results",
            "xccdf-results.xml",
            "--report",
            "report.html",
            "edge-xccdf-1.2.xml",
        ])
        .output()
        .expect("run oscap");
    let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    (dir, out.status.code().expect("exit code"), stdout)
}

/// One `Title`/`Rule`/`Result` block of oscap's stdout.
type Block = (String, String, String);

/// Tallies oscap's `Result\t<value>` lines, and collects (title, rule id, result) blocks.
fn oscap_stdout(stdout: &str) -> (BTreeMap<String, u64>, Vec<Block>) {
    let mut tally = BTreeMap::new();
    let mut blocks = Vec::new();
    let (mut title, mut rule) = (String::new(), String::new());
    for line in stdout.lines() {
        if let Some(t) = line.strip_prefix("Title\t") {
            title = t.trim().to_string();
        } else if let Some(r) = line.strip_prefix("Rule\t") {
            rule = r.trim().to_string();
        } else if let Some(v) = line.strip_prefix("Result\t") {
            *tally.entry(v.trim().to_string()).or_insert(0) += 1;
            blocks.push((title.clone(), rule.clone(), v.trim().to_string()));
        }
    }
    (tally, blocks)
}

#[test]
fn live_oscap_eval_counts_match_oscap_output() {
    if !require_tool("oscap") {
        return;
    }
    let (dir, code, stdout) = oscap_eval_edge();
    let (tally, _) = oscap_stdout(&stdout);
    assert!(tally.len() >= 6, "oscap printed {tally:?}");
    for file in ["arf.xml", "xccdf-results.xml"] {
        let p = dir.path().join(file);
        let j = json_of(&run(&[
            "arf",
            "summary",
            "--format",
            "json",
            p.to_str().expect("p"),
        ]));
        let tr = &j["testResults"][0];
        let mut mine = counts(&tr["results"]);
        mine.remove("notselected");
        assert_eq!(
            mine, tally,
            "{file}: parsed counts vs oscap's printed results"
        );
        assert_eq!(tr["oscap"]["evaluated"], tally.values().sum::<u64>());
        assert_eq!(tr["oscap"]["exitCode"], code, "{file}: oscap's exit code");
    }
    // The HTML report oscap wrote is refused with a clear message.
    let html = dir.path().join("report.html");
    let out = run(&["arf", "summary", html.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an ARF") && err.contains("HTML"), "{err}");
}

#[test]
fn live_oscap_eval_ssg_rules() {
    if !require_tool("oscap") {
        return;
    }
    let ds = Path::new("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml");
    if !ds.exists() {
        assert!(!crate::util::in_ci(), "ssg-debian is not installed");
        eprintln!("skipping: ssg-debian is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let arf = dir.path().join("ssg-arf.xml");
    let out = Command::new("oscap")
        .args([
            "xccdf",
            "eval",
            "--profile",
            "xccdf_org.ssgproject.content_profile_standard",
            "--rule",
            "xccdf_org.ssgproject.content_rule_sshd_disable_root_login",
            "--rule",
            "xccdf_org.ssgproject.content_rule_file_owner_etc_passwd",
            "--results-arf",
        ])
        .arg(&arf)
        .arg(ds)
        .output()
        .expect("oscap");
    let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let (tally, blocks) = oscap_stdout(&stdout);
    assert!(!blocks.is_empty(), "oscap printed nothing: {stdout}");
    let j = json_of(&run(&[
        "arf",
        "summary",
        "--format",
        "json",
        arf.to_str().expect("p"),
    ]));
    let tr = &j["testResults"][0];
    let mut mine = counts(&tr["results"]);
    let notselected = mine.remove("notselected").unwrap_or(0);
    assert_eq!(mine, tally);
    assert!(
        notselected > 300,
        "SSG Debian 11 has 355 rules; {notselected} not selected"
    );
    assert_eq!(tr["oscap"]["exitCode"], out.status.code().expect("code"));
    assert_eq!(j["ovalResults"].as_array().expect("oval").len(), 2);
}

fn dump_dom(html: &Path) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(html)
        .output()
        .expect("chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 DOM")
}

#[test]
fn html_report_renders_in_chromium() {
    if !require_tool("chromium") || !require_tool("oscap") {
        return;
    }
    let (dir, _, stdout) = oscap_eval_edge();
    let (tally, blocks) = oscap_stdout(&stdout);
    let html = dir.path().join("imprimatur.html");
    let out = run(&[
        "arf",
        "report",
        dir.path().join("arf.xml").to_str().expect("p"),
        "--format",
        "html",
        "--output",
        html.to_str().expect("p"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("read");
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="));
    let dom = dump_dom(&html);
    let failed: Vec<&Block> = blocks
        .iter()
        .filter(|b| ["fail", "error", "unknown"].contains(&b.2.as_str()))
        .collect();
    let n = |k: &str| tally.get(k).copied().unwrap_or(0);
    assert!(
        dom.contains(&format!("Failed rules ({})", failed.len())),
        "{dom}"
    );
    for (title, rule, _) in &failed {
        assert!(dom.contains(&html_escape(title)), "title {title:?} missing");
        assert!(dom.contains(rule.as_str()), "rule {rule} missing");
    }
    // The cards show oscap's HTML numbers: passed = pass + fixed, failed = fail.
    assert!(
        dom.contains(&format!("Passed<b>{}</b>", n("pass") + n("fixed"))),
        "{dom}"
    );
    assert!(dom.contains(&format!("Failed<b>{}</b>", n("fail"))));
    // The chart is there, with one bar segment per non-empty (severity, kind).
    assert!(dom.contains("<svg") && dom.contains("Results by severity"));
    let segments: u64 = dom.matches("class=\"bar-failed\"").count() as u64;
    assert!(segments >= 1);
    let failed_in_bars: u64 = dom
        .split("class=\"bar-failed\"")
        .skip(1)
        .map(|s| {
            let c = s.split("data-count=\"").nth(1).expect("count");
            c[..c.find('"').expect("quote")].parse::<u64>().expect("n")
        })
        .sum();
    assert_eq!(failed_in_bars, n("fail"));
    // The CVE ident of the edge benchmark shows up in the failed rules table.
    assert!(dom.contains("CVE-"), "no CVE ident in the page");
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn gate_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = arf_dir().join("chroot-bullseye-standard-arf.xml.gz");
    let f = file.to_str().expect("p");
    let gate = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    // chroot-bullseye: 21 failed rule results (manifest), severities from the file.
    let lenient = gate(
        "lenient.yaml",
        "maxFailedTotal: 21\nmaxFailed: {high: 5, medium: 50, low: 50, info: 50, unknown: 50}\n",
    );
    let out = run(&["arf", "gate", f, "--gate", lenient.to_str().expect("p")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));

    let strict = gate("strict.yaml", "maxFailedTotal: 20\n");
    let out = run(&["arf", "gate", f, "--gate", strict.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("21 failed"),
        "{text}"
    );

    let empty = gate("empty.yaml", "{}\n");
    let out = run(&[
        "arf",
        "gate",
        f,
        "--gate",
        empty.to_str().expect("p"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["passed"], false);
    assert_eq!(j["findings"].as_array().expect("findings").len(), 21);

    // All notapplicable: nothing failed, passes.
    let na = arf_dir().join("host-deb12-unpatched-deb11ds-all-notapplicable-arf.xml.gz");
    let out = run(&[
        "arf",
        "gate",
        na.to_str().expect("p"),
        "--gate",
        empty.to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(0));

    // Unreadable input, bad gate: 2.
    let missing = dir.path().join("missing.xml");
    let out = run(&[
        "arf",
        "gate",
        missing.to_str().expect("p"),
        "--gate",
        empty.to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let notxml = gate("not.xml", "<html><body>oops</body></html>");
    let out = run(&[
        "arf",
        "gate",
        notxml.to_str().expect("p"),
        "--gate",
        empty.to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let bad = gate("bad.yaml", "maxFailed: {critical: 0}\n");
    let out = run(&["arf", "gate", f, "--gate", bad.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("critical"));
}

#[test]
fn report_formats() {
    let file = arf_dir().join("host-cve-generated-xccdf-arf.xml.gz");
    let f = file.to_str().expect("p");
    let j = json_of(&run(&["arf", "report", f, "--format", "json"]));
    let rrs = j["testResults"][0]["ruleResults"].as_array().expect("rrs");
    assert_eq!(rrs.len(), 30);
    let failed: Vec<&Value> = rrs.iter().filter(|r| r["result"] == "fail").collect();
    assert_eq!(failed.len(), 14, "manifest: fail 14");
    assert!(failed.iter().all(|r| r["title"].is_string()));
    let junit = run(&["arf", "report", f, "--format", "junit"]);
    let junit = String::from_utf8(junit.stdout).expect("utf8");
    assert!(
        junit.contains("tests=\"30\" failures=\"14\""),
        "{}",
        &junit[..300.min(junit.len())]
    );
    // Help teaches, with examples.
    for cmd in ["summary", "report", "gate"] {
        let out = run(&["arf", cmd, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:") && help.contains("imprimatur arf"),
            "{cmd}: {help}"
        );
    }
}
