use super::*;
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn counts() -> ScanCounts {
    ScanCounts {
        total_rules: 120,
        passed_rules: 100,
        failed_rules: 20,
    }
}

fn full_result() -> ScanResult {
    let mut r = ScanResult::new(DIGEST, counts());
    r.failed_by_severity = [("high".to_owned(), 2), ("low".to_owned(), 18)].into();
    r.present_cves = vec!["CVE-2024-0001".into(), "CVE-2024-0002".into()];
    r.gate = Some(GateVerdict {
        passed: false,
        reasons: vec!["2 high failures, at most 0 allowed".into()],
        waived: vec![],
    });
    r.scan_limitations = vec!["systemd probes cannot run on an offline root".into()];
    r.content = Some("xccdf_org.ssgproject.content_profile_standard (os-release)".into());
    r.report = Some(serde_json::json!({"schemaVersion": 1, "testResults": [{"rules": 120}]}));
    r
}

/// A log and termination message for arbitrary base64 text, with a correct
/// hash and length: to reach the checks after the hash.
fn crafted(base64_text: &str) -> (String, String) {
    let t = TerminationMessage {
        version: VERSION,
        sha256: Some(sha256_hex(base64_text.as_bytes())),
        length: Some(base64_text.len() as u64),
        image_digest: None,
        verdict: None,
        counts: None,
        error: None,
    };
    (frame_text(base64_text), t.to_json().unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn round_trip_among_other_lines_and_crlf() {
    let result = full_result();
    let e = encode(&result).unwrap();
    let termination = e.termination.to_json().unwrap();
    assert!(
        e.frame
            .starts_with("-----BEGIN IMPRIMATUR SCAN RESULT v1-----\n")
    );
    assert!(
        e.frame
            .ends_with("\n-----END IMPRIMATUR SCAN RESULT-----\n")
    );
    assert!(
        e.frame
            .lines()
            .all(|l| l.len() <= 76 || l.starts_with("-----"))
    );

    let log = format!(
        "W: oscap: probe failed\n\u{1b}[Kpulling 3 MB\n{}{{\"event\":\"done\"}}\n",
        e.frame
    );
    assert_eq!(decode(log.as_bytes(), &termination).unwrap(), result);

    let crlf = log.replace('\n', "\r\n");
    assert_eq!(decode(crlf.as_bytes(), &termination).unwrap(), result);

    let summary = TerminationMessage::parse(&termination).unwrap();
    assert_eq!(summary.verdict, Some(Verdict::Failed));
    assert_eq!(summary.counts, Some(counts()));
    assert_eq!(summary.image_digest.as_deref(), Some(DIGEST));
}

#[test]
fn a_stderr_line_inside_the_frame_is_skipped() {
    let result = full_result();
    let e = encode(&result).unwrap();
    let mut lines: Vec<&str> = e.frame.lines().collect();
    lines.insert(2, "{\"event\":\"finished\",\"step\":\"scan\"}");
    let log = lines.join("\n") + "\n";
    let termination = e.termination.to_json().unwrap();
    assert_eq!(decode(log.as_bytes(), &termination).unwrap(), result);
}

#[test]
fn the_last_frame_counts() {
    let old = encode(&ScanResult::new(DIGEST, ScanCounts::default())).unwrap();
    let new = encode(&full_result()).unwrap();
    let log = format!("{}{}", old.frame, new.frame);
    let got = decode(log.as_bytes(), &new.termination.to_json().unwrap()).unwrap();
    assert_eq!(got, full_result());
}

#[test]
fn termination_messages_are_capped_at_4096_bytes() {
    // A digest long enough to overflow it is refused when written...
    let big = ScanResult::new(format!("sha256:{}", "a".repeat(5000)), counts());
    assert!(matches!(
        encode(&big),
        Err(ScanResultError::TerminationTooLarge { max: 4096, .. })
    ));
    // ...and when read.
    let text = format!("{{\"version\":1,\"error\":\"{}\"}}", "x".repeat(4100));
    assert!(matches!(
        TerminationMessage::parse(&text),
        Err(ScanResultError::TerminationTooLarge { size, max: 4096 }) if size == text.len()
    ));
    // A failure's message is cut to fit, on a character boundary.
    let long = "é".repeat(10_000);
    let json = TerminationMessage::failure(&long).to_json().unwrap();
    assert!(json.len() <= TERMINATION_MESSAGE_MAX, "{}", json.len());
    let back = TerminationMessage::parse(&json).unwrap();
    assert!(back.error.unwrap().len() <= MAX_ERROR_MESSAGE);
    // A normal summary is small.
    let e = encode(&full_result()).unwrap();
    assert!(e.termination.to_json().unwrap().len() < 512);
}

#[test]
fn termination_message_errors() {
    let e = encode(&full_result()).unwrap();
    let log = e.frame.as_bytes();
    assert!(matches!(
        decode(log, ""),
        Err(ScanResultError::BadTerminationMessage(_))
    ));
    assert!(matches!(
        decode(log, "oscap: segfault"),
        Err(ScanResultError::BadTerminationMessage(_))
    ));
    assert!(matches!(
        decode(log, "{\"version\":1}"),
        Err(ScanResultError::BadTerminationMessage(m)) if m.contains("sha256")
    ));
    let mut v2 = e.termination.clone();
    v2.version = 2;
    assert_eq!(
        decode(log, &v2.to_json().unwrap()),
        Err(ScanResultError::UnsupportedVersion {
            place: "termination message",
            found: 2
        })
    );
    let failed = TerminationMessage::failure("no SCAP content for alpine 3.20")
        .to_json()
        .unwrap();
    assert_eq!(
        decode(b"anything", &failed),
        Err(ScanResultError::ScanFailed(
            "no SCAP content for alpine 3.20".into()
        ))
    );
}

#[test]
fn frame_errors() {
    let e = encode(&full_result()).unwrap();
    let t = e.termination.to_json().unwrap();
    assert_eq!(
        decode(b"oscap noise only\n", &t),
        Err(ScanResultError::MissingFrame)
    );
    assert_eq!(decode(b"", &t), Err(ScanResultError::MissingFrame));

    // Cut by log rotation: no end line.
    let cut = &e.frame[..e.frame.len() / 2];
    assert!(matches!(
        decode(cut.as_bytes(), &t),
        Err(ScanResultError::Truncated { .. })
    ));

    let v9 = e.frame.replacen("RESULT v1-----", "RESULT v9-----", 1);
    assert_eq!(
        decode(v9.as_bytes(), &t),
        Err(ScanResultError::UnsupportedVersion {
            place: "begin line",
            found: 9
        })
    );
    let garbled = e.frame.replacen("RESULT v1-----", "RESULT vX-----", 1);
    assert_eq!(
        decode(garbled.as_bytes(), &t),
        Err(ScanResultError::BadBeginLine(
            "-----BEGIN IMPRIMATUR SCAN RESULT vX-----".into()
        ))
    );

    // A complete frame, then a second one cut short: the last one is what
    // the scanner meant, and it is cut.
    let log = format!("{}{cut}", e.frame);
    assert!(matches!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::Truncated { .. })
    ));

    // A log of empty lines costs no memory per line.
    let blank = vec![b'\n'; 4 << 20];
    assert_eq!(decode(&blank, &t), Err(ScanResultError::MissingFrame));
}

#[test]
fn size_limits() {
    let e = encode(&full_result()).unwrap();
    let t = e.termination.to_json().unwrap();
    let small_log = Limits::new(e.frame.len() - 1, 1 << 20, 1 << 20);
    assert_eq!(
        decode_with(e.frame.as_bytes(), &t, &small_log),
        Err(ScanResultError::LogTooLarge {
            max: e.frame.len() - 1
        })
    );
    let small_payload = Limits::new(1 << 20, 100, 1 << 20);
    assert_eq!(
        decode_with(e.frame.as_bytes(), &t, &small_payload),
        Err(ScanResultError::PayloadTooLarge { max: 100 })
    );
}

#[test]
fn length_and_hash_are_checked_before_decoding() {
    let e = encode(&full_result()).unwrap();
    let mut t = e.termination.clone();
    t.length = Some(t.length.unwrap() + 1);
    assert!(matches!(
        decode(e.frame.as_bytes(), &t.to_json().unwrap()),
        Err(ScanResultError::LengthMismatch { .. })
    ));

    // One base64 character changed for another: same length, other hash.
    let mut lines: Vec<String> = e.frame.lines().map(str::to_owned).collect();
    let line = &mut lines[1];
    let swapped = if line.starts_with('A') { "B" } else { "A" };
    line.replace_range(0..1, swapped);
    let log = lines.join("\n") + "\n";
    let t = e.termination.to_json().unwrap();
    match decode(log.as_bytes(), &t) {
        Err(ScanResultError::HashMismatch { expected, found }) => {
            assert_eq!(Some(expected), e.termination.sha256);
            assert_ne!(found, e.termination.sha256.clone().unwrap());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_base64_gzip_and_json_are_typed_errors() {
    let (log, t) = crafted("A");
    assert!(matches!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::BadBase64(_))
    ));

    let (log, t) = crafted(&BASE64.encode(b"plain, not gzip"));
    assert!(matches!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::BadCompression(_))
    ));

    let (log, t) = crafted(&BASE64.encode(gzip(b"{\"version\":1,")));
    assert!(matches!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::BadJson(_))
    ));

    let (log, t) = crafted(&BASE64.encode(gzip(b"{\"version\":2,\"imageDigest\":\"d\",\"scanResult\":{\"totalRules\":0,\"passedRules\":0,\"failedRules\":0}}")));
    assert_eq!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::UnsupportedVersion {
            place: "payload",
            found: 2
        })
    );
}

#[test]
fn a_gzip_bomb_is_refused_without_inflating_it() {
    // 64 MiB of zeros compresses to about 64 KiB.
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&zeros);
    drop(zeros);
    assert!(bomb.len() < 256 << 10, "{}", bomb.len());
    let (log, t) = crafted(&BASE64.encode(&bomb));
    assert_eq!(
        decode(log.as_bytes(), &t),
        Err(ScanResultError::DecompressedTooLarge {
            max: Limits::default().json
        })
    );
}

#[test]
fn payload_and_summary_must_agree() {
    let result = full_result();
    let e = encode(&result).unwrap();
    type Change = fn(&mut TerminationMessage);
    let cases: [(&'static str, Change); 3] = [
        ("counts", |t| t.counts = Some(ScanCounts::default())),
        ("verdict", |t| t.verdict = Some(Verdict::Passed)),
        ("image digest", |t| {
            t.image_digest = Some("sha256:ff".into())
        }),
    ];
    for (field, change) in cases {
        let mut t = e.termination.clone();
        change(&mut t);
        match decode(e.frame.as_bytes(), &t.to_json().unwrap()) {
            Err(ScanResultError::Inconsistent { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(result.ensure_digest(DIGEST).is_ok());
    assert_eq!(
        result.ensure_digest("sha256:ff"),
        Err(ScanResultError::DigestMismatch {
            expected: "sha256:ff".into(),
            found: DIGEST.into()
        })
    );
}

#[test]
fn an_oversized_report_is_left_out_and_the_counts_still_go() {
    let mut result = full_result();
    let noise: Vec<String> = (0..20_000)
        .map(|i| format!("{:x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    result.report = Some(serde_json::json!({ "noise": noise }));
    let limits = Limits::new(1 << 20, 64 << 10, 1 << 20);
    let e = encode_with(&result, &limits).unwrap();
    let back = decode_with(
        e.frame.as_bytes(),
        &e.termination.to_json().unwrap(),
        &limits,
    )
    .unwrap();
    assert_eq!(back.report, None);
    assert!(
        back.report_omitted
            .unwrap()
            .contains("over the 65536-byte limit")
    );
    assert_eq!(back.scan_result, counts());

    // Even without a report a result can be too large: a typed error.
    let mut huge = ScanResult::new(DIGEST, counts());
    huge.present_cves = noise;
    assert!(matches!(
        encode_with(&huge, &limits),
        Err(ScanResultError::TooLarge { .. })
    ));
}

#[test]
fn from_status_takes_the_scan_part() {
    let mut status = RequestStatus {
        image_digest: Some(DIGEST.into()),
        scan_result: Some(counts()),
        present_cves: vec!["CVE-1".into()],
        ..RequestStatus::default()
    };
    let r = ScanResult::from_status(&status, None, Some("{\"a\":1}")).unwrap();
    assert_eq!(r.report, Some(serde_json::json!({"a": 1})));
    assert_eq!(r.present_cves, ["CVE-1"]);
    assert_eq!(r.verdict(), Verdict::None);
    let r = ScanResult::from_status(&status, None, Some("{")).unwrap();
    assert!(r.report_omitted.unwrap().contains("invalid"));
    status.scan_result = None;
    assert_eq!(
        ScanResult::from_status(&status, None, None),
        Err(ScanResultError::Incomplete("the status has no scan counts"))
    );
}

#[test]
fn apply_to_writes_what_the_pipeline_would() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut status = RequestStatus::default();
    full_result().apply_to(&mut status, Some(4), now);
    assert_eq!(status.phase, Some(Phase::Failed));
    assert_eq!(status.scan_result, Some(counts()));
    assert_eq!(status.image_digest.as_deref(), Some(DIGEST));
    let ready = status.condition(ConditionType::Ready).unwrap();
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        (ConditionStatus::False, "GateFailed")
    );
    assert_eq!(ready.observed_generation, Some(4));
    let gate = status.condition(ConditionType::GatePassed).unwrap();
    assert_eq!(gate.status, ConditionStatus::False);
    let scanned = status.condition(ConditionType::Scanned).unwrap();
    assert_eq!(scanned.status, ConditionStatus::True);
    assert!(
        scanned.message.contains("120 rules, 100 passed, 20 failed"),
        "{}",
        scanned.message
    );
    assert_eq!(status.end_time.as_deref(), Some(rfc3339(now).as_str()));

    let mut status = RequestStatus::default();
    ScanResult::new(DIGEST, counts()).apply_to(&mut status, Some(4), now);
    assert_eq!(status.phase, Some(Phase::Completed));
    assert!(status.condition(ConditionType::GatePassed).is_none());
}

#[test]
fn log_tail_is_bounded_text() {
    let log = b"line one\nbad \x1b[31mred\x1b[0m \xff\nlast line\n";
    let tail = log_tail(log, 20);
    assert!(tail.len() <= 24, "{tail}");
    assert!(tail.ends_with("last line"), "{tail}");
    assert!(!tail.contains('\u{1b}'));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any single-byte change anywhere in the frame is refused: never
    /// accepted, never a panic.
    #[test]
    fn a_corrupted_frame_is_never_accepted(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let e = encode(&full_result()).unwrap();
        let t = e.termination.to_json().unwrap();
        let mut log = e.frame.into_bytes();
        let i = pos.index(log.len());
        prop_assume!(log[i] != byte);
        log[i] = byte;
        prop_assert!(decode(&log, &t).is_err());
    }

    /// Any change to the hash or length in the summary is refused.
    #[test]
    fn a_wrong_summary_is_never_accepted(pos in 0usize..64, c in "[0-9a-f]", extra in 1u64..1000) {
        let e = encode(&full_result()).unwrap();
        let mut t = e.termination.clone();
        let mut sha = t.sha256.clone().unwrap().into_bytes();
        prop_assume!(sha[pos] != c.as_bytes()[0]);
        sha[pos] = c.as_bytes()[0];
        t.sha256 = Some(String::from_utf8(sha).unwrap());
        let hash_refused = matches!(
            decode(e.frame.as_bytes(), &t.to_json().unwrap()),
            Err(ScanResultError::HashMismatch { .. })
        );
        prop_assert!(hash_refused);
        let mut t = e.termination.clone();
        t.length = t.length.map(|l| l + extra);
        let length_refused = matches!(
            decode(e.frame.as_bytes(), &t.to_json().unwrap()),
            Err(ScanResultError::LengthMismatch { .. })
        );
        prop_assert!(length_refused);
    }

    /// Arbitrary results round-trip, whatever lines surround them.
    #[test]
    fn results_round_trip(
        total in any::<u32>(), failed in any::<u32>(),
        cves in prop::collection::vec("CVE-[0-9]{4}-[0-9]{4,6}", 0..20),
        before in "[ -~]{0,200}", after in "[ -~]{0,200}",
        gate in prop::option::of(any::<bool>()),
    ) {
        let mut r = ScanResult::new(DIGEST, ScanCounts {
            total_rules: u64::from(total),
            passed_rules: u64::from(total) / 2,
            failed_rules: u64::from(failed),
        });
        r.present_cves = cves;
        r.gate = gate.map(|passed| GateVerdict { passed, reasons: vec![], waived: vec![] });
        let e = encode(&r).unwrap();
        let log = format!("{before}\n{}{after}", e.frame);
        prop_assert_eq!(decode(log.as_bytes(), &e.termination.to_json().unwrap()).unwrap(), r);
    }
}
