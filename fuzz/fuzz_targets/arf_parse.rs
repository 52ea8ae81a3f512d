//! Fuzz the ARF / XCCDF / OVAL results parser: no panics on any input, in summary
//! and full mode, through a whole-slice reader and a tiny-buffer streaming reader;
//! when both modes accept a document they agree on the counts; full mode gives the
//! same outcome and report through both readers; every output format and a gate
//! run on whatever full mode accepted.

#![no_main]

use std::io::BufReader;

use imprimatur::arf::{Gate, Limits, ParseOptions, output, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default()
        .with_max_depth(64)
        .with_max_items(10_000)
        .with_max_text_bytes(64 * 1024)
        .with_max_event_bytes(1 << 20);
    let summary = ParseOptions::summary().with_limits(limits);
    let full = ParseOptions::full().with_limits(limits);
    let small = data.first().is_some_and(|b| b & 1 == 1);
    let s = if small {
        parse(BufReader::with_capacity(7, data), &summary)
    } else {
        parse(data, &summary)
    };
    let f = parse(data, &full);
    if let (Ok(s), Ok(f)) = (&s, &f) {
        assert_eq!(s.summary(), f.summary());
    }
    if small {
        // Full mode streamed through a tiny buffer: same outcome, same report.
        match (&f, parse(BufReader::with_capacity(7, data), &full)) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("reader-dependent outcome: {:?} vs {:?}", a.is_ok(), b.is_ok()),
        }
    }
    if let Ok(r) = f {
        let sum = r.summary();
        let _ = output::summary_json(&sum);
        let _ = output::summary_text(&sum);
        let _ = output::report_json(&r);
        let _ = output::junit_report(&r);
        let _ = output::html_report(&r);
        let _ = Gate::default().evaluate(&r);
    }
});
