//! Layer unpacking throughput, one core: a generated gzip layer of about
//! 50 MB uncompressed (about 2,400 files of 1 KB to 64 KB of text-like,
//! compressible content in 120 directories, plus symlinks and hardlinks),
//! unpacked into a fresh temporary directory per iteration:
//!
//! * `unpack/imprimatur`: [`Unpacker::unpack_layer`]: SHA-256 of the blob,
//!   gzip, `openat2(RESOLVE_IN_ROOT)` per entry, `*at` calls, metadata,
//!   whiteout bookkeeping.
//! * `unpack/tar-crate`: the `tar` crate's `Archive::unpack` of the same
//!   blob through the same gzip decoder (no digest, path checks only).
//!
//! The temporary directory is created in untimed setup and removed after
//! the timing. Throughput is in uncompressed tar bytes.
//!
//! ```text
//! cargo bench -p imprimatur-registry --bench unpack
//! TMPDIR=/dev/shm cargo bench -p imprimatur-registry --bench unpack   # tmpfs
//! ```
//!
//! On the 2-core development VM (shared with other builds, so noisy), as
//! root (so the unpacker also `fchown`s every entry, which the tar crate
//! does not by default): on the ext4 root filesystem both take about 1.1 s
//! (about 42 MiB/s; the disk is the limit); on tmpfs the unpacker takes
//! 187 ms (258 MiB/s) and the tar crate 219 ms (220 MiB/s).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use imprimatur_reference::Digest;
use imprimatur_registry::unpack::{Compression, Unpacker, open_root};

const WORDS: &[&str] = &[
    "layer", "image", "digest", "manifest", "config", "root", "usr", "lib", "share", "locale",
    "the", "and", "of", "static", "void", "int", "return", "0x7f", "ELF", "\n", "{", "}", ";",
];

/// The tar stream of the generated layer.
fn layer() -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut b = tar::Builder::new(Vec::new());
    let mut total = 0usize;
    let mut dir = 0;
    let mut file = 0;
    let header = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    while total < 50_000_000 {
        if file % 20 == 0 {
            dir += 1;
            let mut h = header(tar::EntryType::Directory, 0, 0o755);
            b.append_data(&mut h, format!("usr/share/d{dir}/"), &[][..])
                .unwrap();
        }
        file += 1;
        let size = 1024 + (next() % (63 * 1024)) as usize;
        let mut data = Vec::with_capacity(size + 16);
        while data.len() < size {
            let w = WORDS[(next() % WORDS.len() as u64) as usize];
            data.extend_from_slice(w.as_bytes());
            data.push(b' ');
        }
        data.truncate(size);
        total += size + 512;
        let path = format!("usr/share/d{dir}/f{file}");
        let mut h = header(tar::EntryType::Regular, size as u64, 0o644);
        b.append_data(&mut h, &path, &data[..]).unwrap();
        if file % 50 == 0 {
            let mut h = header(tar::EntryType::Symlink, 0, 0o777);
            b.append_link(
                &mut h,
                format!("usr/share/d{dir}/s{file}"),
                format!("f{file}"),
            )
            .unwrap();
            let mut h = header(tar::EntryType::Link, 0, 0o644);
            b.append_link(&mut h, format!("usr/share/d{dir}/h{file}"), &path)
                .unwrap();
        }
    }
    b.into_inner().unwrap()
}

fn bench(c: &mut Criterion) {
    let tar = layer();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let digest = Digest::sha256_of(&gz);
    eprintln!("layer: {} bytes of tar, {} bytes gzip", tar.len(), gz.len());
    let unpacker = Unpacker::default();

    let mut g = c.benchmark_group("unpack");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Bytes(tar.len() as u64));
    g.bench_function("imprimatur", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let root = open_root(dir.path()).unwrap();
                let s = unpacker
                    .unpack_layer(&root, &gz[..], Compression::Gzip, &digest)
                    .unwrap();
                black_box(s);
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("tar-crate", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let mut a = tar::Archive::new(flate2::read::MultiGzDecoder::new(&gz[..]));
                a.set_preserve_permissions(true);
                a.set_preserve_mtime(true);
                a.unpack(dir.path()).unwrap();
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
