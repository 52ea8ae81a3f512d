//! Fuzz the layer unpacker with arbitrary bytes as a layer blob (plain tar,
//! or sniffed gzip/zstd when the first byte is odd): no panics, and nothing
//! outside the target root is ever created, changed or removed. Each input
//! gets a fresh temporary directory holding `root/` and `outside/sentinel`
//! (and `root` cannot be escaped into `outside` whatever the archive says).

#![no_main]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use imprimatur::reference::Digest;
use imprimatur_registry::unpack::{Compression, Unpacker, open_root};
use libfuzzer_sys::fuzz_target;

const SENTINEL: &[u8] = b"must not change";

/// Names, types, modes, sizes and mtimes of everything under `dir` (not
/// following symlinks).
fn listing(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(m) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        out.push(format!(
            "{:?} {:?} {:o} {} {} {}",
            e.path(),
            m.file_type(),
            m.mode(),
            m.len(),
            m.mtime(),
            m.nlink()
        ));
        if m.is_dir() {
            listing(&e.path(), out);
        }
    }
}

fn outside_state(tmp: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let m = fs::symlink_metadata(tmp).expect("tmp");
    out.push(format!("{:o} {}", m.mode(), m.nlink()));
    let rd = fs::read_dir(tmp).expect("read tmp");
    let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
    names.sort();
    out.push(format!("{names:?}"));
    listing(&tmp.join("outside"), &mut out);
    out.push(format!("{:?}", fs::read(tmp.join("outside/sentinel")).ok()));
    out
}

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir(tmp.path().join("root")).expect("root");
    fs::create_dir(tmp.path().join("outside")).expect("outside");
    fs::write(tmp.path().join("outside/sentinel"), SENTINEL).expect("sentinel");
    let before = outside_state(tmp.path());

    let unpacker = Unpacker::builder()
        .max_total_bytes(16 << 20)
        .max_compressed_bytes(16 << 20)
        .max_entries(4096)
        .max_header_bytes(64 << 10)
        .build();
    let compression = if data.first().is_some_and(|b| b & 1 == 1) {
        Compression::Detect
    } else {
        Compression::None
    };
    let root = open_root(&tmp.path().join("root")).expect("open root");
    let digest = Digest::sha256_of(data);
    let result = unpacker.unpack_layer(&root, data, compression, &digest);
    // Applying the same bytes twice exercises replacement of existing entries.
    if result.is_ok() {
        let _ = unpacker.unpack_layer(&root, data, compression, &digest);
    }

    assert_eq!(
        before,
        outside_state(tmp.path()),
        "something outside the root changed"
    );
});
