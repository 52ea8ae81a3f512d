//! A directory of `signature-1`, `signature-2`, … files: the layout of a
//! `file://` lookaside (one directory per repository and digest) and of a
//! skopeo `dir:` image.

use std::io;
use std::path::{Path, PathBuf};

use imprimatur_reference::Digest;

use super::{
    Added, BoxFuture, MAX_SIGNATURE_BYTES, MAX_SIGNATURES, SignatureStore, StoreError,
    StoredSignature, blocking,
};
use crate::files::{self, FileError, Staged};

/// Mode of signature files: served to readers, 0644 like skopeo writes them.
const SIGNATURE_MODE: u32 = 0o644;

fn slot(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("signature-{index}"))
}

fn file_error(e: FileError) -> StoreError {
    match e {
        FileError::Io { path, source } => StoreError::io(path.display(), source),
        FileError::TooLarge { path, limit } => StoreError::TooLarge {
            location: path.display().to_string(),
            limit,
        },
        other => StoreError::Aborted(other.to_string()),
    }
}

/// Classifies a blob read from files or a lookaside by its first byte, as
/// containers/image does (armor, HTML and garbage are refused).
pub(super) fn check_stored_blob(blob: &[u8], location: &str) -> Result<(), StoreError> {
    imprimatur_signature::classify_stored_blob(blob)
        .map(|_| ())
        .map_err(|source| StoreError::NotASignature {
            location: location.to_owned(),
            source,
        })
}

/// Reads `signature-1`, `-2`, … up to the first missing one. A missing
/// directory is no signatures. `classify`: refuse blobs that are not
/// signatures (first-byte check).
pub(super) fn read_slots(dir: &Path, classify: bool) -> Result<Vec<StoredSignature>, StoreError> {
    let mut out = Vec::new();
    for index in 1.. {
        let path = slot(dir, index);
        let Some(blob) =
            files::read_limited_if_exists(&path, MAX_SIGNATURE_BYTES).map_err(file_error)?
        else {
            break;
        };
        if out.len() >= MAX_SIGNATURES {
            return Err(StoreError::TooMany {
                location: dir.display().to_string(),
                limit: MAX_SIGNATURES,
            });
        }
        let location = path.display().to_string();
        if classify {
            check_stored_blob(&blob, &location)?;
        }
        out.push(StoredSignature::new(blob, location));
    }
    Ok(out)
}

/// Adds `blob` at the first free `signature-N` of `dir` (created with its
/// parents, 0755 less the umask): the complete content is staged without a
/// visible name, then linked to `signature-1`, `-2`, … until a link
/// succeeds. A taken name holding the same bytes means the signature is
/// already there. `sync`: data and directory are synced.
pub(super) fn add_slot(dir: &Path, blob: &[u8], sync: bool) -> Result<Added, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir.display(), e))?;
    let mut staged: Option<Staged> = None;
    for index in 1..=MAX_SIGNATURES {
        let path = slot(dir, index);
        let location = path.display().to_string();
        // An existing slot is read first, so that an identical signature is
        // found before anything is staged (the common re-sign case).
        match files::read_limited_if_exists(&path, MAX_SIGNATURE_BYTES) {
            Ok(Some(existing)) if existing == blob => {
                return Ok(Added::AlreadyPresent { location });
            }
            Ok(Some(_)) | Err(FileError::TooLarge { .. }) => continue,
            Ok(None) => {}
            Err(e) => return Err(file_error(e)),
        }
        if staged.is_none() {
            staged = Some(
                Staged::write_in(dir, blob, SIGNATURE_MODE, sync)
                    .map_err(|e| StoreError::io(dir.display(), e))?,
            );
        }
        let Some(s) = staged.as_ref() else {
            continue;
        };
        match s.link_to(&path) {
            Ok(()) => {
                if sync {
                    files::sync_dir(dir);
                }
                return Ok(Added::Stored { location });
            }
            // Another writer took this index between our check and link:
            // look at what it wrote, then try the next one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match files::read_limited_if_exists(&path, MAX_SIGNATURE_BYTES) {
                    Ok(Some(existing)) if existing == blob => {
                        return Ok(Added::AlreadyPresent { location });
                    }
                    _ => continue,
                }
            }
            Err(e) => return Err(StoreError::io(location, e)),
        }
    }
    Err(StoreError::TooMany {
        location: dir.display().to_string(),
        limit: MAX_SIGNATURES,
    })
}

/// The signatures of a skopeo `dir:` image: `<dir>/signature-1`, `-2`, …
/// (per-instance signatures of a manifest list, `<hex>.signature-N`, are not
/// handled). The digest is not part of the layout: the caller knows that
/// the directory holds the image of that digest.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
    sync: bool,
}

impl DirStore {
    /// The signatures in the `dir:` image directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> DirStore {
        DirStore {
            dir: dir.into(),
            sync: true,
        }
    }

    /// Whether written signatures are synced to disk (default true).
    pub fn sync(mut self, sync: bool) -> DirStore {
        self.sync = sync;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Blocking [`SignatureStore::list`], for synchronous callers.
    pub fn list_blocking(&self) -> Result<Vec<StoredSignature>, StoreError> {
        read_slots(&self.dir, true)
    }

    /// Blocking [`SignatureStore::list_unclassified`], for synchronous
    /// callers (a policy evaluation of a `dir:` image).
    pub fn list_unclassified_blocking(&self) -> Result<Vec<StoredSignature>, StoreError> {
        read_slots(&self.dir, false)
    }

    /// Blocking [`SignatureStore::add`], for synchronous callers.
    pub fn add_blocking(&self, signature: &[u8]) -> Result<Added, StoreError> {
        add_slot(&self.dir, signature, self.sync)
    }
}

impl SignatureStore for DirStore {
    fn describe(&self) -> String {
        format!("dir:{}", self.dir.display())
    }

    fn list<'a>(
        &'a self,
        _digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        let dir = self.dir.clone();
        Box::pin(blocking(move || read_slots(&dir, true)))
    }

    fn list_unclassified<'a>(
        &'a self,
        _digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<StoredSignature>, StoreError>> {
        let dir = self.dir.clone();
        Box::pin(blocking(move || read_slots(&dir, false)))
    }

    fn add<'a>(
        &'a self,
        _digest: &'a Digest,
        signature: &'a [u8],
    ) -> BoxFuture<'a, Result<Added, StoreError>> {
        let dir = self.dir.clone();
        let blob = signature.to_vec();
        let sync = self.sync;
        Box::pin(blocking(move || add_slot(&dir, &blob, sync)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A blob the first-byte check accepts (OpenPGP compressed data packet).
    fn sig(s: &str) -> Vec<u8> {
        let mut v = vec![0xa3, 0x01];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn appends_at_first_free_index_skips_identical_and_leaves_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b@sha256=00");
        for i in 1..=3 {
            let a = add_slot(&dir, &sig(&format!("s{i}")), false).unwrap();
            assert_eq!(
                a,
                Added::Stored {
                    location: slot(&dir, i).display().to_string()
                }
            );
        }
        assert_eq!(
            add_slot(&dir, &sig("s2"), false).unwrap(),
            Added::AlreadyPresent {
                location: slot(&dir, 2).display().to_string()
            }
        );
        std::fs::remove_file(slot(&dir, 2)).unwrap();
        // Reading stops at the gap.
        assert_eq!(read_slots(&dir, true).unwrap().len(), 1);
        assert_eq!(
            add_slot(&dir, &sig("again"), false).unwrap().location(),
            slot(&dir, 2).display().to_string()
        );
        let read = read_slots(&dir, true).unwrap();
        assert_eq!(
            read.iter().map(|s| s.blob.clone()).collect::<Vec<_>>(),
            [sig("s1"), sig("again"), sig("s3")]
        );
        assert_eq!(names(&dir), ["signature-1", "signature-2", "signature-3"]);
    }

    #[test]
    fn a_missing_directory_has_no_signatures() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            read_slots(&tmp.path().join("nope"), true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn armored_or_html_blobs_are_refused_on_read() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(slot(tmp.path(), 1), b"-----BEGIN PGP MESSAGE-----").unwrap();
        let e = read_slots(tmp.path(), true).unwrap_err();
        assert!(matches!(e, StoreError::NotASignature { .. }), "{e}");
        // For a policy evaluation the blob is handed over as it is.
        assert_eq!(read_slots(tmp.path(), false).unwrap().len(), 1);
    }

    #[test]
    fn limit_is_the_same_for_reading_and_writing() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..MAX_SIGNATURES {
            add_slot(tmp.path(), &sig(&i.to_string()), false).unwrap();
        }
        assert_eq!(read_slots(tmp.path(), true).unwrap().len(), MAX_SIGNATURES);
        let e = add_slot(tmp.path(), &sig("one more"), false).unwrap_err();
        assert!(matches!(e, StoreError::TooMany { limit: 128, .. }), "{e}");
        // Still a duplicate check, not an error, for one already there.
        assert!(!add_slot(tmp.path(), &sig("5"), false).unwrap().is_new());
        // Someone else wrote #129: reading refuses, like containers/image.
        std::fs::write(slot(tmp.path(), MAX_SIGNATURES + 1), sig("x")).unwrap();
        let e = read_slots(tmp.path(), true).unwrap_err();
        assert!(matches!(e, StoreError::TooMany { .. }), "{e}");
    }

    #[test]
    fn oversized_blobs_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let big = vec![0xa3; MAX_SIGNATURE_BYTES as usize + 1];
        std::fs::write(slot(tmp.path(), 1), &big).unwrap();
        assert!(matches!(
            read_slots(tmp.path(), true),
            Err(StoreError::TooLarge { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn stored_signatures_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        add_slot(tmp.path(), &sig("x"), true).unwrap();
        let mode = std::fs::metadata(slot(tmp.path(), 1))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o444, 0o444, "mode {mode:o}");
        assert_eq!(mode & 0o022, 0, "mode {mode:o}");
    }

    #[test]
    fn concurrent_writers_in_threads_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo@sha256=ab");
        let threads = 8;
        let per = 12; // 96 ≤ 128
        std::thread::scope(|s| {
            for t in 0..threads {
                let dir = &dir;
                s.spawn(move || {
                    for i in 0..per {
                        let a = add_slot(dir, &sig(&format!("{t}-{i}")), false).unwrap();
                        assert!(a.is_new());
                        // Everyone also re-adds a common one: written once.
                        add_slot(dir, &sig("common"), false).unwrap();
                    }
                });
            }
        });
        let mut blobs: Vec<Vec<u8>> = read_slots(&dir, true)
            .unwrap()
            .into_iter()
            .map(|s| s.blob)
            .collect();
        assert_eq!(blobs.len(), threads * per + 1);
        blobs.sort();
        blobs.dedup();
        assert_eq!(blobs.len(), threads * per + 1, "no duplicates");
        assert_eq!(names(&dir).len(), threads * per + 1, "no stray files");
    }

    #[tokio::test]
    async fn dir_store_through_the_trait() {
        let tmp = tempfile::tempdir().unwrap();
        let store: Box<dyn SignatureStore> = Box::new(DirStore::new(tmp.path()));
        let d = Digest::sha256_of(b"m");
        assert!(store.add(&d, &sig("a")).await.unwrap().is_new());
        assert!(!store.add(&d, &sig("a")).await.unwrap().is_new());
        assert_eq!(store.list(&d).await.unwrap().len(), 1);
        assert!(store.describe().starts_with("dir:"));
    }
}
