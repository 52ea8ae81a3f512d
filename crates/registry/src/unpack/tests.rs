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
