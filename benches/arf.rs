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

fn bench(c: &mut Criterion) {
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
