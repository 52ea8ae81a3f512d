//! The decisions of [`super`], each branch with pinned times.

use super::*;
use crate::status::{GateVerdict, ScanCounts};
use std::time::UNIX_EPOCH;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

#[test]
fn durations_parse_strictly() {
    for (text, secs) in [
        ("24h", 86_400),
        ("90m", 5400),
        ("3600s", 3600),
        ("1h30m", 5400),
        ("1h0m5s", 3605),
        ("0s", 0),
        ("100000h", 360_000_000),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_secs(secs)),
            "{text}"
        );
    }
    for (text, problem) in [
        ("", DurationProblem::Empty),
        ("1d", DurationProblem::UnexpectedCharacter('d')),
        ("-1h", DurationProblem::UnexpectedCharacter('-')),
        ("1.5h", DurationProblem::UnexpectedCharacter('.')),
        (" 1h", DurationProblem::UnexpectedCharacter(' ')),
        ("h", DurationProblem::MissingNumber),
        ("10ms", DurationProblem::MissingNumber),
        ("90", DurationProblem::MissingUnit),
        ("1h30", DurationProblem::MissingUnit),
        ("30m1h", DurationProblem::OutOfOrder),
        ("1h1h", DurationProblem::OutOfOrder),
        ("100001h", DurationProblem::TooLong),
        ("99999999999999999999999s", DurationProblem::TooLong),
        ("99999h99999999m", DurationProblem::TooLong),
    ] {
        let e = parse_duration(text).expect_err(text);
        assert_eq!(e.problem, problem, "{text}");
        assert!(e.to_string().contains("24h, 90m"), "{e}");
    }
    let spec = |age: Option<&str>| ImageSigningRequestSpec {
        max_scan_age: age.map(str::to_owned),
        ..ImageSigningRequestSpec::default()
    };
    assert_eq!(max_scan_age(&spec(None)), Ok(DEFAULT_MAX_SCAN_AGE));
    assert_eq!(
        max_scan_age(&spec(Some("2h"))),
        Ok(Duration::from_secs(7200))
    );
    assert!(max_scan_age(&spec(Some("2 hours"))).is_err());
}

fn gate_with_total(total: u64) -> Gate {
    let mut gate = Gate::default();
    gate.max_failed_total = Some(total);
    gate
}

fn question() -> ScanQuestion {
    ScanQuestion::of_signing(&ImageSigningRequestSpec::default(), DIGEST)
}

/// A finished scanning request of `digest` at generation 1, its gate
/// `passed`, ended at `ended`.
fn finished(digest: &str, passed: bool, ended: SystemTime) -> RequestStatus {
    let mut s = RequestStatus {
        phase: Some(if passed {
            Phase::Completed
        } else {
            Phase::Failed
        }),
        image_digest: Some(digest.into()),
        end_time: Some(rfc3339(ended)),
        scan_result: Some(ScanCounts::default()),
        gate: Some(GateVerdict {
            passed,
            reasons: if passed {
                vec![]
            } else {
                vec!["1 high".into()]
            },
            waived: vec![],
        }),
        ..RequestStatus::default()
    };
    let (status, reason, message) = if passed {
        (ConditionStatus::True, "Completed", "done")
    } else {
        (
            ConditionStatus::False,
            "GateFailed",
            "the scan did not pass the gate: 1 high",
        )
    };
    s.set_condition(
        ConditionType::Ready,
        status,
        reason,
        message,
        Some(1),
        ended,
    );
    s
}

fn spec_for(q: &ScanQuestion) -> ImageScanningRequestSpec {
    q.scanning_spec(format!("docker://r.example/app@{DIGEST}"))
}

fn candidate<'a>(
    name: &'a str,
    spec: &'a ImageScanningRequestSpec,
    status: Option<&'a RequestStatus>,
) -> Candidate<'a> {
    Candidate {
        name,
        generation: Some(1),
        deleting: false,
        spec,
        status,
    }
}

#[test]
fn a_fresh_passed_scan_of_the_same_question_is_reused_the_youngest_first() {
    let q = question();
    let spec = spec_for(&q);
    let old = finished(DIGEST, true, at(0));
    let young = finished(DIGEST, true, at(3000));
    let cands = [
        candidate("old", &spec, Some(&old)),
        candidate("young", &spec, Some(&young)),
    ];
    let now = at(3600);
    assert_eq!(
        decide(&cands, &q, "mine", Duration::from_secs(3600), now),
        Decision::Sign("young".into())
    );
    // Exactly max_age old still counts; one second more does not.
    assert_eq!(
        decide(&cands[..1], &q, "mine", Duration::from_secs(3600), now),
        Decision::Sign("old".into())
    );
    assert_eq!(
        decide(&cands[..1], &q, "mine", Duration::from_secs(3599), now),
        Decision::Create
    );
}

#[test]
fn scans_of_another_digest_settings_gate_or_generation_or_failed_are_not_reused() {
    let q = question();
    let spec = spec_for(&q);
    let mut other_gate = spec.clone();
    other_gate.gate = Some(gate_with_total(100));
    let mut other_scan = spec.clone();
    other_scan.scan = Some(ScanSettings {
        profile: Some("standard".into()),
        ..ScanSettings::default()
    });
    let mut no_gate = spec.clone();
    no_gate.gate = None;
    let passed = finished(DIGEST, true, at(0));
    let other_digest = finished(OTHER, true, at(0));
    let failed = finished(DIGEST, false, at(0));
    let mut running = passed.clone();
    running.phase = Some(Phase::Running);
    let cands = [
        candidate("gate", &other_gate, Some(&passed)),
        candidate("scan", &other_scan, Some(&passed)),
        candidate("nogate", &no_gate, Some(&passed)),
        candidate("digest", &spec, Some(&other_digest)),
        candidate("failed", &spec, Some(&failed)),
        candidate("running", &spec, Some(&running)),
        candidate("new", &spec, None),
        Candidate {
            generation: Some(2),
            ..candidate("gen2", &spec, Some(&passed))
        },
        Candidate {
            deleting: true,
            ..candidate("deleting", &spec, Some(&passed))
        },
    ];
    assert_eq!(
        decide(&cands, &q, "mine", DEFAULT_MAX_SCAN_AGE, at(10)),
        Decision::Create
    );
}

#[test]
fn the_own_scan_is_waited_for_then_decides() {
    let q = question();
    let spec = spec_for(&q);
    let age = Duration::ZERO;
    let wait = [candidate("mine", &spec, None)];
    assert_eq!(
        decide(&wait, &q, "mine", age, at(0)),
        Decision::Wait("mine".into())
    );
    // maxScanAge 0s: the scan it asked for still answers it (within the grace).
    let passed = finished(DIGEST, true, at(0));
    let done = [candidate("mine", &spec, Some(&passed))];
    assert_eq!(
        decide(&done, &q, "mine", age, at(60)),
        Decision::Sign("mine".into())
    );
    assert_eq!(
        decide(&done, &q, "mine", age, at(3601)),
        Decision::Replace("mine".into()),
        "too old even for its own request"
    );
    let failed = finished(DIGEST, false, at(0));
    let done = [candidate("mine", &spec, Some(&failed))];
    assert_eq!(
        decide(&done, &q, "mine", age, at(60)),
        Decision::GateFailed(
            "mine".into(),
            "the scan did not pass the gate: 1 high".into()
        )
    );
    let mut errored = failed.clone();
    errored.set_condition(
        ConditionType::Ready,
        ConditionStatus::False,
        "ScanJobFailed",
        "deadline",
        Some(1),
        at(0),
    );
    let done = [candidate("mine", &spec, Some(&errored))];
    assert_eq!(
        decide(&done, &q, "mine", age, at(60)),
        Decision::ScanFailed("mine".into(), "ScanJobFailed".into(), "deadline".into())
    );
    let mut edited = spec.clone();
    edited.gate = None;
    let done = [candidate("mine", &edited, None)];
    assert_eq!(
        decide(&done, &q, "mine", age, at(60)),
        Decision::Replace("mine".into())
    );
    let gone = [Candidate {
        deleting: true,
        ..candidate("mine", &spec, None)
    }];
    assert_eq!(
        decide(&gone, &q, "mine", age, at(60)),
        Decision::Wait("mine".into())
    );
}

#[test]
fn request_names_are_deterministic_dns_labels_per_question() {
    let q = question();
    let name = q.request_name("sign-app", "uid-1");
    assert_eq!(name, q.request_name("sign-app", "uid-1"));
    assert!(
        name.starts_with("sign-app-scan-") && name.len() == 24,
        "{name}"
    );
    assert_ne!(name, q.request_name("sign-app", "uid-2"));
    assert_ne!(
        name,
        ScanQuestion::of_signing(&ImageSigningRequestSpec::default(), OTHER)
            .request_name("sign-app", "uid-1")
    );
    let strict = ScanQuestion::of_signing(
        &ImageSigningRequestSpec {
            gate: Some(gate_with_total(1)),
            ..ImageSigningRequestSpec::default()
        },
        DIGEST,
    );
    assert_ne!(name, strict.request_name("sign-app", "uid-1"));
    let long = format!("{}.x-", "a".repeat(300));
    for n in [long.as_str(), "app.v1.2", "-.-", "A"] {
        let made = q.request_name(n, "u");
        assert!(made.len() <= 63, "{made}");
        assert!(
            made.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{made}"
        );
        assert!(made.as_bytes()[0].is_ascii_alphanumeric(), "{made}");
    }
    assert_eq!(q.request_name("app.v1", "u")[..7], *"app-v1-");
    assert_eq!(label_value("short"), "short");
    let label = label_value(&long);
    assert!(label.len() <= 63 && label.starts_with("aaaa"), "{label}");
    assert_ne!(label, label_value(&format!("{long}b")));
}

#[test]
fn the_scanning_spec_pins_the_image_and_carries_settings_and_gate() {
    let spec = ImageSigningRequestSpec {
        scan: Some(ScanSettings {
            profile: Some("standard".into()),
            ..ScanSettings::default()
        }),
        ..ImageSigningRequestSpec::default()
    };
    let q = ScanQuestion::of_signing(&spec, DIGEST);
    let scanning = q.scanning_spec(format!("docker://r.example/app@{DIGEST}"));
    assert_eq!(
        scanning.image.as_deref(),
        Some(format!("docker://r.example/app@{DIGEST}").as_str())
    );
    assert_eq!(scanning.scan, spec.scan);
    assert_eq!(scanning.gate, Some(Gate::default()));
    assert_eq!(scanning.rescan_interval_seconds, None);
    assert!(q.asked_by(&scanning));
    assert_eq!(
        question().scanning_spec("x").scan,
        None,
        "defaults left out"
    );
}

#[test]
fn rescans_are_due_an_interval_after_the_last_run_ended() {
    let done = finished(DIGEST, true, at(0));
    assert_eq!(rescan(Some(&done), None, at(10)), Rescan::Never);
    assert_eq!(rescan(Some(&done), Some(0), at(10)), Rescan::Never);
    assert_eq!(rescan(None, Some(60), at(10)), Rescan::Never);
    assert_eq!(
        rescan(Some(&done), Some(60), at(10)),
        Rescan::After(Duration::from_secs(50))
    );
    assert_eq!(rescan(Some(&done), Some(60), at(60)), Rescan::Due);
    let failed = finished(DIGEST, false, at(0));
    assert_eq!(rescan(Some(&failed), Some(60), at(61)), Rescan::Due);
    let mut running = done.clone();
    running.phase = Some(Phase::Running);
    assert_eq!(rescan(Some(&running), Some(60), at(61)), Rescan::Never);
    let mut invalid = failed.clone();
    invalid.set_condition(
        ConditionType::Ready,
        ConditionStatus::False,
        "InvalidRequest",
        "no image",
        Some(1),
        at(0),
    );
    assert_eq!(rescan(Some(&invalid), Some(60), at(61)), Rescan::Never);
    let mut no_time = done.clone();
    no_time.end_time = Some("yesterday".into());
    assert_eq!(rescan(Some(&no_time), Some(60), at(0)), Rescan::Due);
}

fn result(rules: &[&str], cves: &[&str]) -> RequestStatus {
    let mut s = finished(DIGEST, true, at(0));
    s.failed_rules = rules.iter().map(|r| r.to_string()).collect();
    s.present_cves = cves.iter().map(|r| r.to_string()).collect();
    s.set_condition(
        ConditionType::Scanned,
        ConditionStatus::True,
        "Scanned",
        "x",
        Some(1),
        at(0),
    );
    s
}

#[test]
fn new_findings_are_what_the_run_before_did_not_have() {
    let before = result(&["rule_a", "rule_b"], &["CVE-2024-1"]);
    let after = result(&["rule_b", "rule_c"], &["CVE-2024-1", "CVE-2026-9"]);
    assert_eq!(
        new_findings(&before, &after),
        ["CVE-2026-9".to_owned(), "rule_c".to_owned()]
    );
    assert!(new_findings(&after, &after).is_empty());
    // The list before was cut after rule_m: rule_z is not known to be new.
    let mut cut = result(&["rule_a", "rule_m"], &[]);
    cut.failed_rules_omitted = 3;
    let later = result(&["rule_b", "rule_z"], &[]);
    assert_eq!(new_findings(&cut, &later), ["rule_b".to_owned()]);
}

#[test]
fn runs_are_recorded_bounded_and_once_each() {
    let before = result(&["rule_a"], &[]);
    let mut status = result(&["rule_a", "rule_b"], &["CVE-1"]);
    status.scan_history = before.scan_history.clone();
    status.scan_run = Some(2);
    status.scan_result = Some(ScanCounts {
        total_rules: 10,
        passed_rules: 8,
        failed_rules: 2,
    });
    let new = record_run(&mut status, Some(&before), at(100));
    assert_eq!(new, ["CVE-1".to_owned(), "rule_b".to_owned()]);
    assert_eq!(status.new_findings, new);
    assert_eq!(
        status.scan_history,
        [ScanRecord {
            run: 2,
            time: rfc3339(at(100)),
            image_digest: Some(DIGEST.into()),
            verdict: "passed".into(),
            passed_rules: Some(8),
            failed_rules: Some(2),
            new_findings: 2,
        }]
    );
    // The same run recorded again (a retried write) replaces its entry.
    record_run(&mut status, Some(&before), at(101));
    assert_eq!(status.scan_history.len(), 1);
    assert_eq!(status.scan_history[0].time, rfc3339(at(101)));
    // The first run has nothing to compare with.
    let mut first = result(&["rule_a"], &[]);
    assert!(record_run(&mut first, None, at(0)).is_empty());
    assert_eq!(first.scan_history[0].run, 1);
    // Bounded: the oldest go.
    for run in 3..20 {
        status.scan_run = Some(run);
        record_run(&mut status, Some(&before), at(run));
    }
    assert_eq!(status.scan_history.len(), MAX_SCAN_HISTORY);
    assert_eq!(status.scan_history[0].run, 10);
    // A run without a result: verdict error, no counts, no findings.
    let mut errored = result(&["rule_z"], &[]);
    errored.set_condition(
        ConditionType::Scanned,
        ConditionStatus::False,
        "ScanJobFailed",
        "x",
        Some(1),
        at(0),
    );
    errored.scan_run = Some(4);
    assert!(record_run(&mut errored, Some(&before), at(5)).is_empty());
    let entry = &errored.scan_history[0];
    assert_eq!(
        (entry.verdict.as_str(), entry.failed_rules),
        ("error", None)
    );
    // More new findings than a status names: all returned, the first kept.
    let many: Vec<String> = (0..30).map(|i| format!("rule_{i:02}")).collect();
    let mut lots = result(&[], &[]);
    lots.failed_rules = many.clone();
    let new = record_run(&mut lots, Some(&before), at(0));
    assert_eq!(new.len(), 30);
    assert_eq!(lots.new_findings, many[..MAX_NEW_FINDINGS]);
    assert_eq!(lots.scan_history[0].new_findings, 30);
}
