//! Unit tests of the unpacker's pieces; hostile layers are in
//! `tests/unpack_hostile.rs`.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;

use imprimatur_reference::Digest;

use super::apply::clean;
use super::*;

fn comps(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn clean_is_rooted_at_slash() {
    assert_eq!(clean(b"a/b/c"), comps(&["a", "b", "c"]));
    assert_eq!(clean(b"/a//./b/"), comps(&["a", "b"]));
    assert_eq!(clean(b"../../a"), comps(&["a"]));
    assert_eq!(clean(b"a/../../b/.."), comps(&[]));
    assert_eq!(clean(b"./"), comps(&[]));
    assert_eq!(clean(b"a/.../b"), comps(&["a", "...", "b"]));
}

#[test]
fn media_types() {
    use Compression::*;
    for (mt, c) in [
        ("application/vnd.oci.image.layer.v1.tar", None),
        ("application/vnd.oci.image.layer.v1.tar+gzip", Gzip),
        ("application/vnd.oci.image.layer.v1.tar+zstd", Zstd),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar",
            None,
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            Gzip,
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
            Zstd,
        ),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", Detect),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            Detect,
        ),
        ("Application/VND.OCI.image.layer.v1.tar+gzip; x=y", Gzip),
    ] {
        assert_eq!(Compression::from_media_type(mt).unwrap(), c, "{mt}");
    }
    assert!(matches!(
        Compression::from_media_type("application/octet-stream"),
        Err(UnpackError::UnsupportedCompression { .. })
    ));
}

fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn detects_compression_from_magic() {
    let tar = layer(&[("a", b"a")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::stream::encode_all(&tar[..], 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = open_root(dir.path()).unwrap();
    for (blob, want) in [
        (&tar, Compression::None),
        (&gz, Compression::Gzip),
        (&zst, Compression::Zstd),
    ] {
        let s = Unpacker::default()
            .unpack_layer(
                &root,
                &blob[..],
                Compression::Detect,
                &Digest::sha256_of(blob),
            )
            .unwrap();
        assert_eq!(s.compression, want);
        assert_eq!(s.compressed_bytes, blob.len() as u64);
        assert_eq!(s.uncompressed_bytes, tar.len() as u64);
        assert_eq!(s.entries, 1);
    }
    // A one-byte blob is not a tar, and not a panic.
    let err = Unpacker::default()
        .unpack_layer(
            &root,
            &b"x"[..],
            Compression::Detect,
            &Digest::sha256_of(b"x"),
        )
        .unwrap_err();
    assert!(matches!(err, UnpackError::MalformedTar { .. }), "{err:?}");
    // The empty blob is an empty layer.
    Unpacker::default()
        .unpack_layer(
            &root,
            &b""[..],
            Compression::Detect,
            &Digest::sha256_of(b""),
        )
        .unwrap();
}

#[test]
fn whiteout_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), b"lower").unwrap();
    fs::write(dir.path().join("b"), b"lower").unwrap();
    let root = open_root(dir.path()).unwrap();
    let tar = layer(&[
        (".wh.a", b""),
        ("a", b"upper"),
        ("b", b"upper"),
        (".wh.b", b""),
    ]);
    let s = Unpacker::default()
        .unpack_layer(&root, &tar[..], Compression::None, &Digest::sha256_of(&tar))
        .unwrap();
    assert_eq!(s.whiteouts, 2);
    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"upper");
    assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"upper");
}

#[test]
fn builder_sets_limits() {
    let u = Unpacker::builder()
        .max_entries(1)
        .max_total_bytes(2)
        .max_compressed_bytes(3)
        .max_path_depth(4)
        .max_name_bytes(5)
        .max_header_bytes(6)
        .build();
    let l = u.limits();
    assert_eq!(
        (l.max_entries, l.max_total_bytes, l.max_compressed_bytes),
        (1, 2, 3)
    );
    assert_eq!(
        (l.max_path_depth, l.max_name_bytes, l.max_header_bytes),
        (4, 5, 6)
    );
    assert_eq!(
        Unpacker::builder()
            .limits(Limits::default())
            .build()
            .limits(),
        &Limits::default()
    );
}

#[test]
fn types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Unpacker>();
    send_sync::<UnpackError>();
    send_sync::<LayerSummary>();
}

/// A tar of owned entries: (path, kind, uid, gid, mode, link target).
fn owned_layer(entries: &[(&str, tar::EntryType, u64, u64, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, uid, gid, mode, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(0);
        h.set_uid(*uid);
        h.set_gid(*gid);
        h.set_mode(*mode);
        h.set_path(name).unwrap();
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn lstat(p: &std::path::Path) -> rustix::fs::Stat {
    rustix::fs::lstat(p).unwrap()
}

#[test]
fn recorded_owners_follow_inodes_through_links_parents_and_replacements() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let dir = tempfile::tempdir().unwrap();
    let root = open_root(dir.path()).unwrap();
    let ledger = OwnerLedger::new();
    let unpacker = Unpacker::builder()
        .keep_ownership(false)
        .record_owners(ledger.clone())
        .build();
    let apply = |tar: Vec<u8>| {
        unpacker
            .unpack_layer(&root, &tar[..], Compression::None, &Digest::sha256_of(&tar))
            .unwrap();
    };
    apply(owned_layer(&[
        ("etc/", Directory, 0, 0, 0o755, ""),
        ("etc/shadow", Regular, 0, 42, 0o640, ""),
        ("etc/shadow-", Link, 0, 0, 0o600, "etc/shadow"),
        ("etc/motd", Symlink, 3, 4, 0o777, "issue"),
        // var/ and var/mail/ are implied, never named.
        ("var/mail/root", Regular, 0, 8, 0o660, ""),
    ]));
    let p = |rel: &str| dir.path().join(rel);
    let owner = |rel: &str| {
        let st = lstat(&p(rel));
        ledger
            .get(st.st_dev, st.st_ino)
            .unwrap_or_else(|| panic!("{rel} not recorded"))
    };
    let shadow = owner("etc/shadow");
    assert_eq!((shadow.uid, shadow.gid, shadow.mode), (0, 42, 0o100_640));
    // One inode, one record: the hardlink is the same file.
    assert_eq!(owner("etc/shadow-"), shadow);
    let motd = owner("etc/motd");
    assert_eq!(
        (motd.uid, motd.gid, motd.mode & 0o170_000),
        (3, 4, 0o120_000)
    );
    for implied in ["var", "var/mail"] {
        let o = owner(implied);
        assert_eq!((o.uid, o.gid, o.mode), (0, 0, 0o40_755), "{implied}");
    }
    assert_eq!(owner("var/mail/root").gid, 8);
    // Records were made whatever the real owner is (here, this process's).
    assert_eq!(ledger.len(), 6, "{:?}", ledger.entries());

    // A later layer replaces the shadow file: its new inode carries the new
    // owner, and the old name's record follows the inode, not the path.
    apply(owned_layer(&[("etc/shadow", Regular, 0, 15, 0o600, "")]));
    let replaced = owner("etc/shadow");
    assert_eq!((replaced.gid, replaced.mode), (15, 0o100_600));
    assert_eq!(
        owner("etc/shadow-").gid,
        42,
        "the hardlink kept the old inode"
    );

    // The fakeroot database: one line per inode, in faked's format.
    let mut db = Vec::new();
    ledger.write_fakeroot_db(&mut db).unwrap();
    let db = String::from_utf8(db).unwrap();
    assert_eq!(db.lines().count(), ledger.len());
    let st = lstat(&p("etc/shadow"));
    let line = format!(
        "dev={:x},ino={},mode=100600,uid=0,gid=15,nlink=1,rdev=0",
        st.st_dev, st.st_ino
    );
    assert!(db.lines().any(|l| l == line), "{line} not in\n{db}");
}

#[test]
fn a_ledger_is_shared_by_the_unpackers_clones() {
    let ledger = OwnerLedger::new();
    let unpacker = Unpacker::builder().record_owners(ledger.clone()).build();
    let dir = tempfile::tempdir().unwrap();
    let root = open_root(dir.path()).unwrap();
    let tar = layer(&[("a", b"a")]);
    unpacker
        .clone()
        .unpack_layer(&root, &tar[..], Compression::None, &Digest::sha256_of(&tar))
        .unwrap();
    assert_eq!(ledger.len(), 1);
    assert!(format!("{ledger:?}").contains("inodes: 1"));
}
