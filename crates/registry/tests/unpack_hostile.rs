//! Hostile layers: every test checks that nothing outside the root changed
//! (a sibling `outside` directory with a sentinel file, and the whole
//! temporary directory around the root, are snapshotted before and after),
//! and the specific error or safe outcome.

#![allow(clippy::unwrap_used)]

#[path = "common/layers.rs"]
mod layers;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use imprimatur_reference::Digest;
use imprimatur_registry::unpack::{
    Compression, LayerSummary, LimitKind, UnpackError, Unpacker, open_root,
};
use layers::{Layer, gzip, sha256, zstd};
use tar::EntryType;

const SENTINEL: &[u8] = b"precious, must not change";

/// A temporary directory with `root/` (the target) and `outside/sentinel`.
struct Fixture {
    tmp: tempfile::TempDir,
    before: BTreeMap<PathBuf, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("root")).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/sentinel"), SENTINEL).unwrap();
        fs::write(tmp.path().join("x"), b"sibling of root").unwrap();
        let before = snapshot_outside(tmp.path());
        Fixture { tmp, before }
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// The absolute path of `outside`, as a string for archive names.
    fn outside_abs(&self) -> String {
        self.outside().to_str().unwrap().to_owned()
    }

    fn apply_with(
        &self,
        u: &Unpacker,
        blob: &[u8],
        c: Compression,
    ) -> Result<LayerSummary, UnpackError> {
        let root = open_root(&self.root()).unwrap();
        u.unpack_layer(&root, blob, c, &sha256(blob))
    }

    fn apply(&self, tar: &[u8]) -> Result<LayerSummary, UnpackError> {
        self.apply_with(&Unpacker::default(), tar, Compression::None)
    }

    /// Nothing outside `root` changed, and /etc/passwd is what it was.
    fn check_outside(&self) {
        let after = snapshot_outside(self.tmp.path());
        assert_eq!(self.before, after, "something outside the root changed");
        assert_eq!(fs::read(self.outside().join("sentinel")).unwrap(), SENTINEL);
    }
}

/// Everything under `tmp` except `root/`: path -> type, mode, size, content
/// hash, mtime, link target.
fn snapshot_outside(tmp: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            if rel == Path::new("root") {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let mut desc = format!(
                "{:?} {:o} {} {} {}",
                m.file_type(),
                m.mode(),
                m.len(),
                m.mtime(),
                m.nlink()
            );
            if m.is_file() {
                desc.push_str(&format!(" {}", sha256(&fs::read(&p).unwrap())));
            }
            if m.is_symlink() {
                desc.push_str(&format!(" -> {:?}", fs::read_link(&p).unwrap()));
            }
            out.insert(rel, desc);
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let m = fs::symlink_metadata(tmp).unwrap();
    out.insert(PathBuf::from("."), format!("{:o} {}", m.mode(), m.mtime()));
    walk(tmp, tmp, &mut out);
    out
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    fs::read(p).unwrap()
}

fn exists(p: impl AsRef<Path>) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn dotdot_names_stay_inside() {
    let f = Fixture::new();
    let tar = Layer::new()
        .file("../escaped", b"a", 0o644)
        .file("../outside/sentinel", b"pwned", 0o644)
        .file("../../escaped2", b"b", 0o644)
        .file("a/../../../x", b"inside", 0o644)
        .tar();
    f.apply(&tar).unwrap();
    assert_eq!(read(f.root().join("escaped")), b"a");
    assert_eq!(read(f.root().join("outside/sentinel")), b"pwned");
    assert_eq!(read(f.root().join("x")), b"inside");
    assert_eq!(read(f.root().join("escaped2")), b"b");
    assert!(!exists(f.tmp.path().join("escaped")));
    assert!(!exists(f.tmp.path().parent().unwrap().join("escaped2")));
    f.check_outside();
}

#[test]
fn absolute_names_are_inside_the_root() {
    let f = Fixture::new();
    let abs = format!("{}/sentinel", f.outside_abs());
    let tar = Layer::new().file(&abs, b"pwned", 0o644).tar();
    f.apply(&tar).unwrap();
    let inside = f.root().join(abs.trim_start_matches('/'));
    assert_eq!(read(inside), b"pwned");
    f.check_outside();
}

#[test]
fn file_through_symlink_to_outside_is_refused() {
    let f = Fixture::new();
    let tar = Layer::new()
        .symlink("evil", &f.outside_abs())
        .file("evil/sentinel", b"pwned", 0o644)
        .tar();
    let err = f.apply(&tar).unwrap_err();
    assert!(
        matches!(err, UnpackError::InvalidEntry { ref path, .. } if path == "evil/sentinel"),
        "{err:?}"
    );
    f.check_outside();
}

#[test]
fn symlink_to_slash_or_dotdot_resolves_to_the_root() {
    let f = Fixture::new();
    let tar = Layer::new()
        .symlink("up", "../../")
        .symlink("up1", "..")
        .symlink("slash", "/")
        .file("up/outside/sentinel", b"pwned", 0o644)
        .file("slash/x", b"through slash", 0o644)
        .file("up1/up1/x2", b"through ..", 0o644)
        .tar();
    f.apply(&tar).unwrap();
    assert_eq!(read(f.root().join("outside/sentinel")), b"pwned");
    assert_eq!(read(f.root().join("x")), b"through slash");
    assert_eq!(read(f.root().join("x2")), b"through ..");
    assert!(!exists(f.tmp.path().join("x2")));
    // The links themselves are kept verbatim.
    assert_eq!(
        fs::read_link(f.root().join("up")).unwrap(),
        Path::new("../../")
    );
    f.check_outside();
}

#[test]
fn symlink_then_hardlink_through_it() {
    let f = Fixture::new();
    let tar = Layer::new()
        .symlink("lnk", &f.outside_abs())
        .hardlink("h", "lnk/sentinel")
        .tar();
    let err = f.apply(&tar).unwrap_err();
    assert!(
        matches!(err, UnpackError::InvalidEntry { ref path, reason } if path == "h" && reason.contains("does not exist")),
        "{err:?}"
    );
    f.check_outside();

    // Same with a relative symlink that climbs out.
    let f = Fixture::new();
    let tar = Layer::new()
        .symlink("lnk", "../../outside")
        .hardlink("h", "lnk/sentinel")
        .tar();
    let err = f.apply(&tar).unwrap_err();
    assert!(matches!(err, UnpackError::InvalidEntry { .. }), "{err:?}");
    f.check_outside();
}

#[test]
fn hardlink_to_etc_passwd_links_inside_or_fails() {
    let passwd = fs::metadata("/etc/passwd").ok();
    let f = Fixture::new();
    let tar = Layer::new().hardlink("p", "/etc/passwd").tar();
    let err = f.apply(&tar).unwrap_err();
    assert!(matches!(err, UnpackError::InvalidEntry { .. }), "{err:?}");
    assert!(!exists(f.root().join("p")));

    // With an etc/passwd of the layer's own, the link is to that one.
    let tar = Layer::new()
        .file("etc/passwd", b"root:x:0:0::/:/bin/sh\n", 0o644)
        .hardlink("p", "/etc/passwd")
        .hardlink("q", "../../../etc/passwd")
        .tar();
    f.apply(&tar).unwrap();
    let p = fs::metadata(f.root().join("p")).unwrap();
    let own = fs::metadata(f.root().join("etc/passwd")).unwrap();
    assert_eq!(p.ino(), own.ino());
    assert_eq!(p.nlink(), 3);
    if let Some(real) = passwd {
        assert_ne!(p.ino(), real.ino());
        assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), real.nlink());
    }
    f.check_outside();
}

#[test]
fn hardlink_to_the_outside_sentinel_is_refused() {
    let f = Fixture::new();
    let abs = format!("{}/sentinel", f.outside_abs());
    for target in [
        abs.as_str(),
        "../outside/sentinel",
        "../../../outside/sentinel",
    ] {
        let err = f
            .apply(&Layer::new().hardlink("h", target).tar())
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::InvalidEntry { ref path, .. } if path == "h"),
            "{target}: {err:?}"
        );
        assert!(!exists(f.root().join("h")));
    }
    assert_eq!(
        fs::metadata(f.outside().join("sentinel")).unwrap().nlink(),
        1
    );
    f.check_outside();
}

#[test]
fn hardlink_to_a_directory_is_refused() {
    let f = Fixture::new();
    let tar = Layer::new().dir("d", 0o755).hardlink("h", "d").tar();
    let err = f.apply(&tar).unwrap_err();
    assert!(
        matches!(err, UnpackError::InvalidEntry { reason, .. } if reason.contains("directory")),
        "{err:?}"
    );
    f.check_outside();
}

#[test]
fn writing_over_a_symlink_replaces_it() {
    let f = Fixture::new();
    let target = format!("{}/sentinel", f.outside_abs());
    let tar = Layer::new()
        .symlink("s", &target)
        .symlink("d", &f.outside_abs())
        .tar();
    f.apply(&tar).unwrap();
    // A second layer writes a file, a directory and a FIFO where the links are.
    let tar = Layer::new()
        .file("s", b"pwned", 0o600)
        .dir("d", 0o777)
        .raw(EntryType::Fifo, b"d2", None, 0o644, b"")
        .tar();
    f.apply(&tar).unwrap();
    assert_eq!(read(f.root().join("s")), b"pwned");
    let d = fs::symlink_metadata(f.root().join("d")).unwrap();
    assert!(d.is_dir());
    assert_eq!(d.mode() & 0o7777, 0o777);
    assert!(
        fs::symlink_metadata(f.root().join("d2"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    f.check_outside();
}

#[test]
fn chmod_and_chown_never_follow_symlinks() {
    let f = Fixture::new();
    // Same name twice in one layer: symlink, then directory and file entries.
    let tar = Layer::new()
        .symlink("d", &f.outside_abs())
        .dir("d/", 0o777)
        .symlink("f", &format!("{}/sentinel", f.outside_abs()))
        .hardlink("g", "f")
        .tar();
    f.apply(&tar).unwrap();
    assert!(fs::symlink_metadata(f.root().join("d")).unwrap().is_dir());
    // g is a hardlink to the symlink itself, not to what it points at.
    assert!(
        fs::symlink_metadata(f.root().join("g"))
            .unwrap()
            .is_symlink()
    );
    f.check_outside();
}

#[test]
fn hardlink_then_rewrite_does_not_modify_the_target() {
    let f = Fixture::new();
    let tar = Layer::new()
        .file("orig", b"original", 0o644)
        .hardlink("h", "orig")
        .file("h", b"new content", 0o644)
        .tar();
    f.apply(&tar).unwrap();
    assert_eq!(read(f.root().join("orig")), b"original");
    assert_eq!(read(f.root().join("h")), b"new content");
    f.check_outside();
}

#[test]
fn whiteouts_are_confined_to_the_root() {
    let f = Fixture::new();
    fs::write(f.root().join("x"), b"inside x").unwrap();
    let tar = Layer::new()
        .whiteout("../.wh.x")
        .whiteout("../../outside/.wh.sentinel")
        .whiteout("../outside/.wh.sentinel")
        .whiteout("../.wh.outside")
        .tar();
    let s = f.apply(&tar).unwrap();
    assert_eq!(s.whiteouts, 4);
    assert!(!exists(f.root().join("x")), "../.wh.x means ROOT/x");
    f.check_outside();

    // A whiteout through a symlink that points outside deletes nothing there.
    let f = Fixture::new();
    let tar = Layer::new()
        .symlink("s", &f.outside_abs())
        .whiteout("s/.wh.sentinel")
        .symlink("t", "../../outside")
        .whiteout("t/.wh..wh..opq")
        .tar();
    f.apply(&tar).unwrap();
    f.check_outside();

    // `.wh...` would name the parent: refused.
    let f = Fixture::new();
    fs::create_dir(f.root().join("a")).unwrap();
    let err = f
        .apply(&Layer::new().whiteout("a/.wh...").tar())
        .unwrap_err();
    assert!(
        matches!(err, UnpackError::InvalidEntry { ref path, .. } if path == "a/.wh..."),
        "{err:?}"
    );
    assert!(exists(f.root().join("a")));
    f.check_outside();
}

#[test]
fn opaque_at_the_root_only_clears_the_root() {
    let f = Fixture::new();
    f.apply(
        &Layer::new()
            .file("old", b"1", 0o644)
            .dir("olddir", 0o755)
            .file("olddir/f", b"2", 0o644)
            .tar(),
    )
    .unwrap();
    let tar = Layer::new()
        .file("new", b"3", 0o644)
        .whiteout(".wh..wh..opq")
        .whiteout("../../.wh..wh..opq")
        .tar();
    f.apply(&tar).unwrap();
    let names: Vec<_> = fs::read_dir(f.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["new"]);
    f.check_outside();
}

#[test]
fn whiteouts_in_either_order_spare_this_layers_entries() {
    let f = Fixture::new();
    let lower = Layer::new()
        .dir("d", 0o755)
        .file("d/a", b"lower a", 0o644)
        .file("d/b", b"lower b", 0o644)
        .file("d/c", b"lower c", 0o644)
        .dir("o1", 0o755)
        .file("o1/old", b"", 0o644)
        .dir("o2", 0o755)
        .file("o2/old", b"", 0o644)
        .dir("w", 0o755)
        .file("w/old", b"", 0o644)
        .tar();
    f.apply(&lower).unwrap();
    let upper = Layer::new()
        // whiteout before the new entry
        .whiteout("d/.wh.a")
        .file("d/a", b"upper a", 0o644)
        // whiteout after the new entry
        .file("d/b", b"upper b", 0o644)
        .whiteout("d/.wh.b")
        // plain deletion
        .whiteout("d/.wh.c")
        // opaque before and after
        .whiteout("o1/.wh..wh..opq")
        .file("o1/new", b"", 0o644)
        .file("o2/new", b"", 0o644)
        .whiteout("o2/.wh..wh..opq")
        // a directory re-created by this layer, whited out afterwards:
        // the lower contents go, this layer's stay
        .dir("w", 0o700)
        .file("w/new", b"", 0o644)
        .whiteout(".wh.w")
        .tar();
    f.apply(&upper).unwrap();
    assert_eq!(read(f.root().join("d/a")), b"upper a");
    assert_eq!(read(f.root().join("d/b")), b"upper b");
    assert!(!exists(f.root().join("d/c")));
    for d in ["o1", "o2", "w"] {
        let names: Vec<_> = fs::read_dir(f.root().join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["new"], "{d}");
    }
    assert_eq!(
        fs::metadata(f.root().join("w")).unwrap().mode() & 0o7777,
        0o700
    );
    assert!(!exists(f.root().join("d/.wh.a")));
    f.check_outside();
}

#[test]
fn file_over_directory_removes_the_tree_without_following_links() {
    let f = Fixture::new();
    let lower = Layer::new()
        .dir("t", 0o755)
        .symlink("t/out", &f.outside_abs())
        .symlink("t/rel", "../../outside")
        .dir("t/sub", 0o755)
        .file("t/sub/f", b"x", 0o644)
        .tar();
    f.apply(&lower).unwrap();
    f.apply(&Layer::new().file("t", b"now a file", 0o644).tar())
        .unwrap();
    assert_eq!(read(f.root().join("t")), b"now a file");
    f.check_outside();
    // And a whiteout of a tree with such links.
    f.apply(&lower).unwrap();
    f.apply(&Layer::new().whiteout(".wh.t").tar()).unwrap();
    assert!(!exists(f.root().join("t")));
    f.check_outside();
}

#[test]
fn device_nodes_are_skipped_unless_allowed_as_root() {
    let f = Fixture::new();
    let tar = Layer::new()
        .device("null", EntryType::Char, 1, 3)
        .device("sda", EntryType::Block, 8, 0)
        .raw(EntryType::Fifo, b"fifo", None, 0o640, b"")
        .tar();
    let s = f.apply(&tar).unwrap();
    assert_eq!(s.skipped_devices, 2);
    assert!(!exists(f.root().join("null")));
    assert!(!exists(f.root().join("sda")));
    let fifo = fs::symlink_metadata(f.root().join("fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o640);
    f.check_outside();

    let f = Fixture::new();
    let u = Unpacker::builder().allow_devices(true).build();
    let s = f.apply_with(&u, &tar, Compression::None).unwrap();
    if is_root() {
        assert_eq!(s.skipped_devices, 0);
        let m = fs::symlink_metadata(f.root().join("null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
        assert!(
            fs::symlink_metadata(f.root().join("sda"))
                .unwrap()
                .file_type()
                .is_block_device()
        );
    } else {
        assert_eq!(s.skipped_devices, 2);
    }
    f.check_outside();
}

#[test]
fn huge_extended_headers_are_refused_before_reading() {
    let f = Fixture::new();
    let u = Unpacker::builder().max_header_bytes(64 * 1024).build();
    let big = vec![b'a'; 128 * 1024];
    let tar = Layer::new()
        .gnu_long_sized(b'L', &big)
        .file("x", b"", 0o644)
        .tar();
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::HeaderBytes,
                limit: 65536,
                ..
            }
        ),
        "{err:?}"
    );
    let big = String::from_utf8(vec![b'b'; 128 * 1024]).unwrap();
    let tar = Layer::new()
        .pax(&[("comment", big.as_bytes())])
        .file("x", b"", 0o644)
        .tar();
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::HeaderBytes,
                ..
            }
        ),
        "{err:?}"
    );
    // A header claiming an enormous size, with no data behind it.
    let mut tar = Layer::new().tar();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::new(b'x'));
    h.set_size(1 << 40);
    h.set_cksum();
    tar.splice(0..0, h.as_bytes().iter().copied());
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::HeaderBytes,
                ..
            }
        ),
        "{err:?}"
    );
    f.check_outside();
}

#[test]
fn long_names_and_deep_paths_hit_their_limits() {
    let f = Fixture::new();
    let u = Unpacker::builder()
        .max_name_bytes(1000)
        .max_path_depth(20)
        .build();
    let long = "n".repeat(1001);
    let err = f
        .apply_with(
            &u,
            &Layer::new().file(&long, b"", 0o644).tar(),
            Compression::None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::NameBytes,
                limit: 1000,
                ..
            }
        ),
        "{err:?}"
    );
    let err = f
        .apply_with(
            &u,
            &Layer::new().symlink("s", &long).tar(),
            Compression::None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::NameBytes,
                ..
            }
        ),
        "{err:?}"
    );
    let deep = "d/".repeat(21) + "f";
    let err = f
        .apply_with(
            &u,
            &Layer::new().file(&deep, b"", 0o644).tar(),
            Compression::None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::PathDepth,
                limit: 20,
                ..
            }
        ),
        "{err:?}"
    );
    // `..` is resolved before the depth is counted.
    let ok = "d/..//".repeat(30) + "f";
    f.apply_with(
        &u,
        &Layer::new().file(&ok, b"ok", 0o644).tar(),
        Compression::None,
    )
    .unwrap();
    assert_eq!(read(f.root().join("f")), b"ok");
    // A long name within the limits works, through a GNU long name record.
    let name = "l".repeat(200);
    f.apply(&Layer::new().file(&name, b"long", 0o644).tar())
        .unwrap();
    assert_eq!(read(f.root().join(&name)), b"long");
    f.check_outside();
}

#[test]
fn entry_count_and_size_limits() {
    let f = Fixture::new();
    let mut l = Layer::new();
    for i in 0..100 {
        l.file(&format!("f{i}"), b"", 0o644);
    }
    let tar = l.tar();
    let u = Unpacker::builder().max_entries(50).build();
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::Entries,
                limit: 50,
                ..
            }
        ),
        "{err:?}"
    );

    let tar = Layer::new().file("big", &vec![7u8; 2 << 20], 0o644).tar();
    let u = Unpacker::builder().max_total_bytes(1 << 20).build();
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::TotalBytes,
                limit: 1048576,
                ..
            }
        ),
        "{err:?}"
    );
    let u = Unpacker::builder().max_compressed_bytes(1 << 20).build();
    let err = f.apply_with(&u, &tar, Compression::None).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::CompressedBytes,
                ..
            }
        ),
        "{err:?}"
    );
    f.check_outside();
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    let f = Fixture::new();
    let u = Unpacker::builder().max_total_bytes(4 << 20).build();
    // A file entry of 64 MiB of zeros: the gzip is ~64 KiB.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(64 << 20);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.as_old_mut().name[..4].copy_from_slice(b"bomb");
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    tar.resize(tar.len() + (64 << 20) + 1024, 0);
    for (blob, c) in [
        (gzip(&tar), Compression::Gzip),
        (zstd(&tar), Compression::Zstd),
    ] {
        assert!(blob.len() < 1 << 20);
        let err = f.apply_with(&u, &blob, c).unwrap_err();
        assert!(
            matches!(
                err,
                UnpackError::LimitExceeded {
                    what: LimitKind::TotalBytes,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // Zeros after the end of the archive count too (the stream is read to
    // its end to check gzip's trailer).
    let mut tar = Layer::new().file("small", b"x", 0o644).tar();
    tar.resize(tar.len() + (64 << 20), 0);
    let err = f
        .apply_with(&u, &gzip(&tar), Compression::Detect)
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::LimitExceeded {
                what: LimitKind::TotalBytes,
                ..
            }
        ),
        "{err:?}"
    );
    let file = fs::metadata(f.root().join("bomb"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(file <= 4 << 20);
    f.check_outside();
}

#[test]
fn truncated_gzip() {
    let f = Fixture::new();
    let tar = Layer::new()
        .file("a", &vec![1u8; 300_000], 0o644)
        .file("b", b"b", 0o644)
        .tar();
    let gz = gzip(&tar);
    let cut = &gz[..gz.len() / 2];
    // The registry served the truncated bytes with a matching digest: the
    // decompressor reports it.
    let root = open_root(&f.root()).unwrap();
    let err = Unpacker::default()
        .unpack_layer(&root, cut, Compression::Gzip, &sha256(cut))
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::Decompression {
                compression: Compression::Gzip,
                ..
            }
        ),
        "{err:?}"
    );
    // The manifest's digest is of the full blob: the mismatch is reported.
    let err = Unpacker::default()
        .unpack_layer(&root, cut, Compression::Gzip, &sha256(&gz))
        .unwrap_err();
    assert!(
        matches!(err, UnpackError::DigestMismatch { ref actual, .. } if *actual == sha256(cut)),
        "{err:?}"
    );
    // Only the trailer missing.
    let cut = &gz[..gz.len() - 4];
    let err = Unpacker::default()
        .unpack_layer(&root, cut, Compression::Gzip, &sha256(cut))
        .unwrap_err();
    assert!(matches!(err, UnpackError::Decompression { .. }), "{err:?}");
    // A truncated plain tar.
    let cut = &tar[..tar.len() / 2];
    let err = Unpacker::default()
        .unpack_layer(&root, cut, Compression::None, &sha256(cut))
        .unwrap_err();
    assert!(matches!(err, UnpackError::MalformedTar { .. }), "{err:?}");
    f.check_outside();
}

#[test]
fn wrong_digest_is_reported_after_streaming() {
    let f = Fixture::new();
    let tar = Layer::new().file("a", b"a", 0o644).tar();
    let gz = gzip(&tar);
    let wrong: Digest = sha256(b"something else");
    let root = open_root(&f.root()).unwrap();
    let err = Unpacker::default()
        .unpack_layer(&root, &gz[..], Compression::Gzip, &wrong)
        .unwrap_err();
    match err {
        UnpackError::DigestMismatch { expected, actual } => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, sha256(&gz));
        }
        other => panic!("{other:?}"),
    }
    // Trailing bytes after the gzip stream are part of the blob's digest.
    let mut longer = gz.clone();
    longer.extend_from_slice(b"trailing");
    let err = Unpacker::default()
        .unpack_layer(&root, &longer[..], Compression::Gzip, &sha256(&gz))
        .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::DigestMismatch { .. } | UnpackError::Decompression { .. }
        ),
        "{err:?}"
    );
    // sha512 digests work too.
    let d = Digest::of(imprimatur_reference::Algorithm::Sha512, &gz);
    let s = Unpacker::default()
        .unpack_layer(&root, &gz[..], Compression::Gzip, &d)
        .unwrap();
    assert_eq!(s.digest, d);
    f.check_outside();
}

#[test]
fn malformed_entries() {
    let f = Fixture::new();
    // A non-directory naming the root.
    let err = f.apply(&Layer::new().file("./", b"", 0o644).tar());
    // "./" with a trailing slash is an old-style directory: fine.
    assert!(err.is_ok(), "{err:?}");
    let err = f.apply(&Layer::new().symlink("..", "/").tar()).unwrap_err();
    assert!(matches!(err, UnpackError::InvalidEntry { .. }), "{err:?}");
    // NUL in a PAX path.
    let err = f
        .apply(
            &Layer::new()
                .pax(&[("path", b"a\0b")])
                .file("x", b"", 0o644)
                .tar(),
        )
        .unwrap_err();
    assert!(matches!(err, UnpackError::InvalidEntry { .. }), "{err:?}");
    // PAX size disagreeing with the header.
    let err = f
        .apply(
            &Layer::new()
                .pax(&[("size", b"5")])
                .file("x", b"", 0o644)
                .tar(),
        )
        .unwrap_err();
    assert!(matches!(err, UnpackError::MalformedTar { .. }), "{err:?}");
    // A bad checksum.
    let mut tar = Layer::new().file("x", b"", 0o644).tar();
    tar[0] ^= 1;
    let err = f.apply(&tar).unwrap_err();
    assert!(matches!(err, UnpackError::MalformedTar { .. }), "{err:?}");
    // Sparse files are refused.
    let err = f
        .apply(
            &Layer::new()
                .raw(EntryType::GNUSparse, b"sp", None, 0o644, b"")
                .tar(),
        )
        .unwrap_err();
    assert!(
        matches!(err, UnpackError::UnsupportedEntry { kind: 'S', .. }),
        "{err:?}"
    );
    // An unknown media type.
    let err =
        Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+bzip2").unwrap_err();
    assert!(matches!(err, UnpackError::UnsupportedCompression { .. }));
    f.check_outside();
}

#[test]
fn pax_overrides_apply() {
    let f = Fixture::new();
    let tar = Layer::new()
        .pax(&[
            ("path", "pax/name".as_bytes()),
            ("mtime", b"1234567890.5"),
            ("uid", b"1234"),
            ("gid", b"4321"),
        ])
        .file("short", b"data", 0o4755)
        .pax(&[("linkpath", "pax/name".as_bytes())])
        .symlink("lnk", "ignored")
        .tar();
    f.apply(&tar).unwrap();
    let m = fs::symlink_metadata(f.root().join("pax/name")).unwrap();
    assert_eq!(m.mtime(), 1_234_567_890);
    assert_eq!(m.mtime_nsec(), 500_000_000);
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (1234, 4321));
    }
    assert!(!exists(f.root().join("short")));
    assert_eq!(
        fs::read_link(f.root().join("lnk")).unwrap(),
        Path::new("pax/name")
    );
    f.check_outside();
}

#[test]
fn multi_layer_application() {
    let f = Fixture::new();
    let l1 = Layer::new()
        .dir("etc", 0o755)
        .file("etc/conf", b"v1", 0o644)
        .file("etc/gone", b"", 0o644)
        .dir("usr/bin", 0o755)
        .file("usr/bin/tool", b"tool v1", 0o755)
        .symlink("bin", "usr/bin")
        .tar();
    let l2 = Layer::new()
        .file("etc/conf", b"v2", 0o600)
        .whiteout("etc/.wh.gone")
        .file("bin/extra", b"through the dir symlink", 0o755)
        .tar();
    let l3 = Layer::new().whiteout(".wh.bin").dir("bin", 0o700).tar();
    for (tar, c) in [
        (gzip(&l1), Compression::Gzip),
        (
            zstd(&l2),
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd").unwrap(),
        ),
        (
            l3,
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip")
                .unwrap(),
        ),
    ] {
        let s = f.apply_with(&Unpacker::default(), &tar, c).unwrap();
        assert_ne!(s.compression, Compression::Detect);
    }
    assert_eq!(read(f.root().join("etc/conf")), b"v2");
    assert_eq!(
        fs::metadata(f.root().join("etc/conf")).unwrap().mode() & 0o7777,
        0o600
    );
    assert!(!exists(f.root().join("etc/gone")));
    assert_eq!(
        read(f.root().join("usr/bin/extra")),
        b"through the dir symlink"
    );
    assert!(fs::symlink_metadata(f.root().join("bin")).unwrap().is_dir());
    assert_eq!(fs::read_dir(f.root().join("bin")).unwrap().count(), 0);
    f.check_outside();
}

#[test]
fn arbitrary_bytes_never_panic_or_escape() {
    let f = Fixture::new();
    let base = Layer::new()
        .dir("d", 0o755)
        .file("d/f", b"hello", 0o644)
        .symlink("s", "../../outside")
        .hardlink("h", "d/f")
        .whiteout("d/.wh.f")
        .pax(&[("path", b"p/x"), ("mtime", b"1.5")])
        .file("short", b"data", 0o4755)
        .file(&"l".repeat(150), b"long", 0o644)
        .raw(EntryType::Fifo, b"d/fifo", None, 0o600, b"")
        .whiteout("d/.wh..wh..opq")
        .tar();
    // Header offsets, so that mutated headers can get a valid checksum
    // (otherwise nearly every mutation stops at the first checksum).
    let mut headers = Vec::new();
    let mut off = 0;
    while off + 512 <= base.len() && base[off..off + 512].iter().any(|&b| b != 0) {
        headers.push(off);
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&base[off..off + 512]);
        let size = h.entry_size().unwrap() as usize;
        off += 512 + size.div_ceil(512) * 512;
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // UNPACK_MUTATIONS=100000 for a longer run.
    let rounds: usize = std::env::var("UNPACK_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for _ in 0..rounds {
        let mut t = base.clone();
        for _ in 0..(next() % 8 + 1) {
            let i = (next() as usize) % t.len();
            t[i] = next() as u8;
        }
        if next() % 4 != 0 {
            for &h in &headers {
                let mut hdr = tar::Header::new_old();
                hdr.as_mut_bytes().copy_from_slice(&t[h..h + 512]);
                hdr.set_cksum();
                t[h..h + 512].copy_from_slice(hdr.as_bytes());
            }
        }
        let _ = f.apply(&t);
        let _ = f.apply_with(&Unpacker::default(), &t, Compression::Detect);
    }
    f.check_outside();
}
