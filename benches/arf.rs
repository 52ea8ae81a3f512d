//! ARF parsing throughput (MB/s of uncompressed XML), one core, input in memory:
//! summary-only and full parse on the largest corpus files, next to quick-xml's raw
//! event throughput on the same bytes (the ceiling for any quick-xml based parser).
//!
//! ```text
//! cargo bench --bench arf
//! ```
//!
//! * `raw-reader`: `quick_xml::Reader`, every event read, nothing done with it.
//! * `raw-nsreader`: `quick_xml::NsReader`, every event read (namespace scopes kept,
//!   nothing resolved).
//! * `summary`: `imprimatur_arf::parse_summary` (counts only).
//! * `full`: `imprimatur_arf::parse_report` (rule results, rule metadata, OVAL definitions).
//!
//! Whole-process comparisons with oscap, xmllint and lxml: `scripts/bench-arf.sh`.
//!
//! Measured 2026-11-25 (2 vCPUs, two nice-19 fuzzers running; MiB/s, criterion medians):
//!
//! | file | raw Reader | raw NsReader | summary | full | full / raw |
//! |---|---|---|---|---|---|
//! | host-big-syschar (17.6 MB) | 608 | 503 | 452 | 445 | 73 % |
//! | chroot-bullseye (8.3 MB) | 853 | 642 | 622 | 440 | 52 % |
//!
//! Paired rounds (below), the parser before and after its own namespace resolver:
//! bullseye full 331 -> 447 MiB/s (38 % -> 51 % of raw Reader), summary 447 -> 620.
//!
//! On a loaded machine the groups above drift between functions; for the ratios
//! against the raw reader, `ARF_PAIRED=1 cargo bench --bench arf` first runs
//! interleaved rounds (raw reader, summary, full, order rotated per round) and
//! prints the median per-round ratios.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;

fn load(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/arf")
        .join(name);
    let gz = std::fs::read(&p).unwrap();
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn raw_reader(bytes: &[u8]) -> u64 {
    let mut r = quick_xml::Reader::from_reader(bytes);
    r.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(8192);
    let mut n = 0u64;
    loop {
        match r.read_event_into(&mut buf).unwrap() {
            Event::Eof => break,
            _ => n += 1,
        }
        buf.clear();
    }
    n
}

fn raw_nsreader(bytes: &[u8]) -> u64 {
    let mut r = quick_xml::NsReader::from_reader(bytes);
    r.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(8192);
    let mut n = 0u64;
    loop {
        match r.read_event_into(&mut buf).unwrap() {
            Event::Eof => break,
            _ => n += 1,
        }
        buf.clear();
    }
    n
}

/// Interleaved rounds: MiB/s medians and the median of per-round ratios to the raw
/// reader (robust to load that changes between criterion's sequential groups).
fn paired(label: &str, bytes: &[u8]) {
    const ROUNDS: usize = 31;
    let mib = bytes.len() as f64 / (1024.0 * 1024.0);
    let kinds: [(&str, &dyn Fn()); 3] = [
        ("raw-reader", &|| {
            black_box(raw_reader(black_box(bytes)));
        }),
        ("summary", &|| {
            black_box(imprimatur::arf::parse_summary(black_box(bytes)).unwrap());
        }),
        ("full", &|| {
            black_box(imprimatur::arf::parse_report(black_box(bytes)).unwrap());
        }),
    ];
    let mut secs = vec![Vec::new(); kinds.len()];
    for round in 0..ROUNDS + 2 {
        for k in 0..kinds.len() {
            let k = (k + round) % kinds.len();
            let t = std::time::Instant::now();
            (kinds[k].1)();
            if round >= 2 {
                secs[k].push(t.elapsed().as_secs_f64());
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (k, (name, _)) in kinds.iter().enumerate() {
        let ratio = median(secs[0].iter().zip(&secs[k]).map(|(r, x)| r / x).collect());
        println!(
            "paired {label} {name:<10} {:7.1} MiB/s  {:5.1} % of raw-reader",
            mib / median(secs[k].clone()),
            ratio * 100.0
        );
    }
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("ARF_PAIRED").is_some() {
        for name in [
            "host-big-syschar-arf.xml.gz",
            "chroot-bullseye-standard-arf.xml.gz",
        ] {
            paired(name.trim_end_matches(".xml.gz"), &load(name));
        }
    }
    for name in [
        "host-big-syschar-arf.xml.gz",
        "chroot-bullseye-standard-arf.xml.gz",
    ] {
        let bytes = load(name);
        let label = name.trim_end_matches(".xml.gz");
        let mut g = c.benchmark_group(format!("arf/{label}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(6));
        g.bench_function("raw-reader", |b| b.iter(|| raw_reader(black_box(&bytes))));
        g.bench_function("raw-nsreader", |b| {
            b.iter(|| raw_nsreader(black_box(&bytes)))
        });
        g.bench_function("summary", |b| {
            b.iter(|| imprimatur::arf::parse_summary(black_box(&bytes[..])).unwrap())
        });
        g.bench_function("full", |b| {
            b.iter(|| imprimatur::arf::parse_report(black_box(&bytes[..])).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
