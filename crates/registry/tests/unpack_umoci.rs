//! Our unpacker against `umoci unpack` on a real multi-layer OCI image built
//! with umoci itself (files, directories, symlinks, hardlinks, FIFOs, owners,
//! setuid/setgid/sticky and private modes, deletions turned into whiteouts
//! by `umoci repack`) plus a hand-made layer added with `umoci raw add-layer`
//! (opaque directories and whiteouts, before and after this layer's own
//! entries). The two root filesystems are compared entry by entry.
//!
//! Needs `umoci` and root. Without them the test is skipped, except when the
//! `CI` environment variable is set: then it fails.

#![allow(clippy::unwrap_used)]

#[path = "common/layers.rs"]
mod layers;
#[path = "common/tree.rs"]
mod tree;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use imprimatur_reference::Digest;
use imprimatur_registry::unpack::{Compression, OwnerLedger, Unpacker, open_root};
use layers::Layer;

const UMOCI: &str = "umoci";

/// `Ok(())` when the test can run; otherwise the reason, which fails the
/// test under CI.
fn prerequisites() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not running as root (umoci keeps owners only as root)".into());
    }
    match Command::new(UMOCI).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("umoci --version failed: {o:?}")),
        Err(e) => Err(format!("umoci not found: {e}")),
    }
}

/// Whether to skip: the prerequisites are missing and `CI` is not set
/// (with `CI` set, a missing prerequisite panics).
fn cannot_run() -> bool {
    let Err(why) = prerequisites() else {
        return false;
    };
    if std::env::var_os("CI").is_some() {
        panic!("CI is set and this test cannot run: {why}");
    }
    eprintln!("skipping: {why}");
    true
}

fn umoci(args: &[&str], cwd: &Path) {
    let out = Command::new(UMOCI)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// Layer 1: a small system.
fn layer1(r: &Path) {
    for d in [
        "etc",
        "usr/bin",
        "usr/lib",
        "var/tmp",
        "home/user",
        "opq1",
        "opq2",
        "gone_dir/sub",
    ] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(r.join("etc/shadow"), "root:*:1::::::\n").unwrap();
    chmod(&r.join("etc/shadow"), 0o600);
    fs::write(r.join("usr/bin/su"), vec![0x7f; 5000]).unwrap();
    chmod(&r.join("usr/bin/su"), 0o4755);
    fs::write(r.join("usr/bin/wall"), b"wall").unwrap();
    // chown clears setgid: owner first.
    chown(&r.join("usr/bin/wall"), 0, 5);
    chmod(&r.join("usr/bin/wall"), 0o2755);
    chmod(&r.join("var/tmp"), 0o1777);
    fs::write(r.join("home/user/notes"), b"mine").unwrap();
    chown(&r.join("home/user"), 1000, 1000);
    chown(&r.join("home/user/notes"), 1000, 1000);
    fs::write(r.join("usr/lib/libx.so.1"), vec![1u8; 100_000]).unwrap();
    symlink("libx.so.1", r.join("usr/lib/libx.so")).unwrap();
    chown(&r.join("usr/lib/libx.so"), 7, 8);
    symlink("usr/bin", r.join("bin")).unwrap();
    symlink("/etc/passwd", r.join("abs_link")).unwrap();
    symlink("../../nowhere", r.join("usr/dangling")).unwrap();
    fs::write(r.join("usr/bin/busybox"), b"busybox binary").unwrap();
    chmod(&r.join("usr/bin/busybox"), 0o755);
    fs::hard_link(r.join("usr/bin/busybox"), r.join("usr/bin/ls")).unwrap();
    fs::hard_link(r.join("usr/bin/busybox"), r.join("usr/bin/cat")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    chmod(&r.join("fifo"), 0o640);
    for d in ["opq1", "opq2"] {
        fs::write(r.join(d).join("old"), b"lower").unwrap();
    }
    fs::write(r.join("gone_dir/sub/f"), b"x").unwrap();
    fs::write(r.join("gone_file"), b"x").unwrap();
    fs::write(r.join("replaced"), b"a file in layer 1").unwrap();
    fs::create_dir(r.join("private")).unwrap();
    chmod(&r.join("private"), 0o700);
}

/// Layer 2: changes, deletions (whiteouts made by umoci repack), a file
/// replaced by a symlink, a new hardlink, a mode change.
fn layer2(r: &Path) {
    fs::remove_dir_all(r.join("gone_dir")).unwrap();
    fs::remove_file(r.join("gone_file")).unwrap();
    fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
    )
    .unwrap();
    fs::remove_file(r.join("replaced")).unwrap();
    symlink("etc/passwd", r.join("replaced")).unwrap();
    fs::hard_link(r.join("usr/bin/su"), r.join("usr/bin/su2")).unwrap();
    chmod(&r.join("usr/lib/libx.so.1"), 0o555);
    fs::write(r.join("private/key"), b"secret").unwrap();
    chmod(&r.join("private/key"), 0o400);
}

/// Layer 3, hand-made: opaque markers before and after this layer's
/// entries, a whiteout before re-creating the path, a whiteout of a lower
/// directory.
fn layer3() -> Vec<u8> {
    Layer::new()
        .dir("opq1/", 0o755)
        .whiteout("opq1/.wh..wh..opq")
        .file("opq1/new", b"upper", 0o644)
        .dir("opq2/", 0o750)
        .file("opq2/new", b"upper", 0o644)
        .whiteout("opq2/.wh..wh..opq")
        .whiteout("etc/.wh.shadow")
        .file("etc/shadow", b"root:!:1::::::\n", 0o640)
        .whiteout("home/.wh.user")
        .tar()
}

/// Builds the three-layer image in `t/img` (layers 1 and 2 by `umoci
/// repack`, layer 3 by `umoci raw add-layer`), unpacks it with umoci into
/// `t/reference`, and returns its layers (digest, compression, blob file).
fn build_image(t: &Path) -> Vec<(Digest, Compression, std::path::PathBuf)> {
    umoci(&["init", "--layout", "img"], t);
    umoci(&["new", "--image", "img:t"], t);
    umoci(&["unpack", "--image", "img:t", "work"], t);
    layer1(&t.join("work/rootfs"));
    umoci(
        &["repack", "--refresh-bundle", "--image", "img:t", "work"],
        t,
    );
    layer2(&t.join("work/rootfs"));
    umoci(
        &["repack", "--refresh-bundle", "--image", "img:t", "work"],
        t,
    );
    fs::write(t.join("layer3.tar"), layer3()).unwrap();
    umoci(&["raw", "add-layer", "--image", "img:t", "layer3.tar"], t);
    umoci(&["unpack", "--image", "img:t", "reference"], t);

    // Our side: read the layout directly (index.json -> manifest -> layers).
    let img = t.join("img");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(img.join("index.json")).unwrap()).unwrap();
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "t")
        .unwrap();
    let blob = |d: &str| img.join("blobs").join(d.replace(':', "/"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blob(desc["digest"].as_str().unwrap())).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{manifest}");
    layers
        .iter()
        .map(|l| {
            let digest: Digest = l["digest"].as_str().unwrap().parse().unwrap();
            let c = Compression::from_media_type(l["mediaType"].as_str().unwrap()).unwrap();
            let path = blob(digest.as_str());
            (digest, c, path)
        })
        .collect()
}

/// Applies `layers` with `unpacker` into a new directory `t/ours`.
fn unpack_ours(
    t: &Path,
    layers: &[(Digest, Compression, std::path::PathBuf)],
    unpacker: &Unpacker,
) -> std::path::PathBuf {
    let ours = t.join("ours");
    fs::create_dir(&ours).unwrap();
    let root = open_root(&ours).unwrap();
    for (digest, c, path) in layers {
        let f = fs::File::open(path).unwrap();
        let s = unpacker.unpack_layer(&root, f, *c, digest).unwrap();
        assert_eq!(&s.digest, digest);
    }
    ours
}

#[test]
fn unpack_matches_umoci() {
    if cannot_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let layers = build_image(t);
    let ours = unpack_ours(t, &layers, &Unpacker::default());
    tree::assert_same(
        &t.join("reference/rootfs"),
        &ours,
        tree::DiffOptions {
            mtime: true,
            root: true,
        },
    );
    // The comparison does see differences.
    let reference = tree::snapshot(&t.join("reference/rootfs")).unwrap();
    chmod(&ours.join("usr/bin/su"), 0o755);
    fs::remove_file(ours.join("usr/bin/cat")).unwrap();
    let d = tree::diff(
        &reference,
        &tree::snapshot(&ours).unwrap(),
        tree::DiffOptions::default(),
    );
    // su and su2 (one inode): mode; cat: gone; ls and busybox: links.
    assert_eq!(d.len(), 5, "{d:#?}");
    fs::hard_link(ours.join("usr/bin/ls"), ours.join("usr/bin/cat")).unwrap();
    chmod(&ours.join("usr/bin/su"), 0o4755);
    // And the tree says what the layers said.
    let snap = tree::snapshot(&ours).unwrap();
    let e = |p: &str| {
        snap.entries
            .get(Path::new(p))
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    assert_eq!(e("usr/bin/su").mode, 0o4755);
    assert_eq!(e("usr/bin/wall").mode, 0o2755);
    assert_eq!(e("var/tmp").mode, 0o1777);
    assert_eq!(e("etc/shadow").mode, 0o640);
    assert_eq!(e("private/key").mode, 0o400);
    assert_eq!(e("usr/bin/ls").links.len(), 2);
    assert!(e("usr/bin/su").links.contains(Path::new("usr/bin/su2")));
    assert_eq!(e("replaced").kind, tree::Kind::Symlink);
    assert_eq!(e("fifo").kind, tree::Kind::Fifo);
    for gone in ["gone_dir", "gone_file", "home/user", "opq1/old", "opq2/old"] {
        assert!(
            !snap.entries.contains_key(Path::new(gone)),
            "{gone} still there"
        );
    }
    assert!(snap.entries.contains_key(Path::new("opq1/new")));
    assert!(snap.entries.contains_key(Path::new("opq2/new")));
}

/// Edge cases in hand-made layers, where umoci's behaviour is the reference:
/// whiteouts after this layer re-created the path, implied parents, entries
/// replacing entries of another type, writes through directory symlinks.
#[test]
fn edge_cases_match_umoci() {
    if cannot_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let l1 = Layer::new()
        .dir("w", 0o755)
        .file("w/old", b"x", 0o644)
        .dir("d", 0o755)
        .file("d/keep", b"x", 0o644)
        .dir("usr/bin", 0o755)
        .symlink("bin", "usr/bin")
        .symlink("dirlink", "usr")
        .dir("t", 0o755)
        .file("t/f", b"x", 0o644)
        .file("f", b"x", 0o644)
        .file("target", b"t", 0o600)
        .symlink("sym", "target")
        .tar();
    let l2 = Layer::new()
        .dir("w", 0o700)
        .file("w/new", b"y", 0o644)
        .whiteout(".wh.w")
        .file("d/sub/new", b"z", 0o644)
        .whiteout(".wh.d")
        .file("bin/extra", b"through a dir symlink", 0o755)
        .dir("dirlink", 0o750)
        .file("t", b"file over dir", 0o644)
        .dir("f", 0o711)
        .hardlink("symhard", "sym")
        .file("../../escaped", b"e", 0o644)
        .tar();
    umoci(&["init", "--layout", "img"], t);
    umoci(&["new", "--image", "img:t"], t);
    for (i, l) in [&l1, &l2].into_iter().enumerate() {
        let name = format!("l{i}.tar");
        fs::write(t.join(&name), l).unwrap();
        umoci(&["raw", "add-layer", "--image", "img:t", &name], t);
    }
    umoci(&["unpack", "--image", "img:t", "reference"], t);
    let ours = t.join("ours");
    fs::create_dir(&ours).unwrap();
    let root = open_root(&ours).unwrap();
    for l in [&l1, &l2] {
        Unpacker::default()
            .unpack_layer(&root, &l[..], Compression::None, &layers::sha256(l))
            .unwrap();
    }
    tree::assert_same(
        &t.join("reference/rootfs"),
        &ours,
        tree::DiffOptions {
            mtime: true,
            root: false,
        },
    );
}

/// What `find` prints of every entry below `dir`: path, owner, group, mode
/// (with setuid, setgid and sticky) and type, sorted. Run under `fakeroot -i
/// DB` when `fakeroot_db` is given, so owners and modes come from it.
fn find_listing(dir: &Path, fakeroot_db: Option<&Path>) -> Vec<String> {
    let mut cmd = match fakeroot_db {
        Some(db) => {
            let mut c = Command::new("fakeroot");
            c.arg("-i").arg(db).arg("--").arg("find");
            c
        }
        None => Command::new("find"),
    };
    let out = cmd
        .arg(".")
        .args(["-mindepth", "1", "-printf", "%P %U:%G %#m %y\\n"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// An unpacker that does not apply owners (as when it does not run as
/// root) records them, and `fakeroot -i` loading that record shows the tree
/// exactly as umoci unpacked it as root: owners, groups, modes and types of
/// every entry, after three layers of replacements, whiteouts and
/// hardlinks. This is how a scan Job, which runs as non-root, presents an
/// image's owners to oscap.
#[test]
fn recorded_owners_seen_through_fakeroot_match_umoci() {
    if cannot_run() {
        return;
    }
    if Command::new("fakeroot").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and fakeroot is missing"
        );
        eprintln!("skipping: fakeroot not found");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let layers = build_image(t);
    let ledger = OwnerLedger::new();
    let unpacker = Unpacker::builder()
        .keep_ownership(false)
        .record_owners(ledger.clone())
        .build();
    let ours = unpack_ours(t, &layers, &unpacker);
    let db = t.join("owners.db");
    ledger
        .write_fakeroot_db(fs::File::create(&db).unwrap())
        .unwrap();

    let reference = find_listing(&t.join("reference/rootfs"), None);
    for owned in ["usr/bin/wall 0:5 02755 f", "usr/lib/libx.so 7:8 0777 l"] {
        assert!(
            reference.iter().any(|l| l == owned),
            "{owned}: {reference:#?}"
        );
    }
    // Without the record the owners are not the image's (the comparison
    // can fail)...
    assert_ne!(find_listing(&ours, None), reference);
    // ...with it they are.
    assert_eq!(find_listing(&ours, Some(&db)), reference);
}
