//! Writing signatures into a lookaside directory (the layout of a `file://`
//! lookaside, spec §6.3):
//!
//! `<root>/<repository path>@<algo>=<hex>/signature-<N>`
//!
//! where the repository path is the reference's path without the domain
//! (`library/busybox`, `ns1/ns2/repo`) and `N` is the first free index ≥ 1
//! (the append discipline of the protocol document, §6.5).
//!
//! Each signature is written to a temporary file in the target directory and
//! then hard-linked to `signature-N`: `link(2)` fails if the name exists, so
//! concurrent writers (threads or processes) never overwrite each other's
//! signatures and a reader never sees a half-written file. The loser of a race
//! for `N` simply tries `N + 1`.
//!
//! TODO: move to the future `imprimatur-registry` crate, which owns signature
//! stores.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use imprimatur_reference::{Digest, Reference};

/// Most signatures we place next to one manifest. Newer containers/image
/// refuse to read more than 128 (§6.4); well past that something is wrong.
pub(crate) const MAX_SIGNATURES: u32 = 10_000;

/// A lookaside directory we write signatures into.
#[derive(Debug, Clone)]
pub(crate) struct LookasideDir {
    root: PathBuf,
}

/// Where one signature was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The full path of the `signature-N` file.
    pub(crate) path: PathBuf,
    /// `N`.
    pub(crate) index: u32,
}

impl LookasideDir {
    /// A lookaside rooted at `root` (created on first write).
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        LookasideDir { root: root.into() }
    }

    /// The root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the signatures of `digest` in the repository of
    /// `reference` (its tag or digest, if any, does not matter).
    pub(crate) fn signature_dir(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> io::Result<PathBuf> {
        self.signature_dir_raw(reference.path(), digest.algorithm().as_str(), digest.hex())
    }

    /// Like [`Self::signature_dir`] from the raw parts, validating each so
    /// that the result is always below the root.
    pub(crate) fn signature_dir_raw(
        &self,
        repo_path: &str,
        algo: &str,
        hex: &str,
    ) -> io::Result<PathBuf> {
        validate_repo_path(repo_path)?;
        if algo.is_empty()
            || !algo
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(invalid(format!("invalid digest algorithm {algo:?}")));
        }
        if hex.is_empty() || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid(format!("invalid digest hex {hex:?}")));
        }
        let dir = self.root.join(format!("{repo_path}@{algo}={hex}"));
        // Belt and braces: the validated path has only normal components.
        debug_assert!(
            dir.strip_prefix(&self.root)
                .is_ok_and(|rel| rel.components().all(|c| matches!(c, Component::Normal(_))))
        );
        Ok(dir)
    }

    /// Stores `signature` as the first free `signature-N` for (`reference`'s
    /// repository, `digest`).
    pub(crate) fn store(
        &self,
        reference: &Reference,
        digest: &Digest,
        signature: &[u8],
    ) -> io::Result<Stored> {
        let dir = self.signature_dir(reference, digest)?;
        store_in(&dir, signature)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A repository path as the reference grammar allows it: `/`-separated,
/// non-empty components of `[a-z0-9._-]`, none of them `.` or `..`, not
/// absolute. The grammar already excludes `..`; this checks again because the
/// result becomes a file system path.
fn validate_repo_path(p: &str) -> io::Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 255
        && p.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "repository path {p:?} cannot be used in a lookaside directory"
        )))
    }
}

/// Writes `signature` into `dir` and links it to the first free
/// `signature-N`, so that it is never visible half-written.
///
/// On Linux the data goes into an unnamed `O_TMPFILE` inode that is linked
/// into place: one directory entry per signature instead of a temporary name
/// created and removed again, which is what bounds bulk signing on a busy
/// file system. Elsewhere, or where the file system lacks `O_TMPFILE`, a
/// named temporary file in `dir` is linked and then removed.
fn store_in(dir: &Path, signature: &[u8]) -> io::Result<Stored> {
    fs::create_dir_all(dir)?;
    #[cfg(target_os = "linux")]
    if let Some(unnamed) = unnamed::UnnamedFile::write_in(dir, signature)? {
        return link_first_free(dir, |path| unnamed.link_to(path));
    }
    let tmp = named_temp_file(dir, signature)?;
    // `tmp` is removed when dropped; a successful link keeps the data.
    link_first_free(dir, |path| fs::hard_link(tmp.path(), path))
}

/// A named temporary file in `dir` holding `data`, mode 0644.
fn named_temp_file(dir: &Path, data: &[u8]) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".signature-").suffix(".tmp");
    #[cfg(unix)]
    {
        // Lookaside files are served to readers: 0644 like skopeo writes
        // them, set when the file is created (no extra chmod).
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(data)?;
    Ok(tmp)
}

/// Calls `link` with `signature-1`, `signature-2`, … until one does not exist
/// yet (`link(2)` never replaces a name, so concurrent writers each get their
/// own index).
fn link_first_free(
    dir: &Path,
    mut link: impl FnMut(&Path) -> io::Result<()>,
) -> io::Result<Stored> {
    for index in 1..=MAX_SIGNATURES {
        let path = dir.join(format!("signature-{index}"));
        // No exists() pre-check: a failing link costs the same syscall.
        match link(&path) {
            Ok(()) => return Ok(Stored { path, index }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{} already holds {MAX_SIGNATURES} signatures",
        dir.display()
    )))
}

/// Unnamed files (`O_TMPFILE`) linked into place through `/proc/self/fd`.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::AsRawFd;
    use std::path::{Path, PathBuf};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};

    /// An unnamed file holding one signature, not yet linked anywhere.
    pub(super) struct UnnamedFile {
        file: File,
        proc_path: PathBuf,
    }

    impl UnnamedFile {
        /// Writes `data` into a new unnamed file in `dir`; `None` when the
        /// file system (or the missing `/proc`) does not support it.
        pub(super) fn write_in(dir: &Path, data: &[u8]) -> io::Result<Option<Self>> {
            let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
            let fd = match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o644)) {
                Ok(fd) => fd,
                Err(e) if unsupported(e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let mut file = File::from(fd);
            file.write_all(data)?;
            let proc_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if !proc_path.exists() {
                return Ok(None);
            }
            Ok(Some(UnnamedFile { file, proc_path }))
        }

        /// Gives the file the name `path`; fails with `AlreadyExists` if the
        /// name is taken.
        pub(super) fn link_to(&self, path: &Path) -> io::Result<()> {
            // The descriptor must stay open while /proc/self/fd/N is used.
            let _open = &self.file;
            rustix::fs::linkat(CWD, &self.proc_path, CWD, path, AtFlags::SYMLINK_FOLLOW)
                .map_err(io::Error::from)
        }
    }

    /// Errors with which kernels and file systems say "no O_TMPFILE here".
    fn unsupported(e: rustix::io::Errno) -> bool {
        use rustix::io::Errno;
        e == Errno::OPNOTSUPP || e == Errno::ISDIR || e == Errno::INVAL || e == Errno::NOSYS
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest::sha256_of(b"manifest")
    }

    #[test]
    fn layout_uses_path_without_domain() {
        let tmp = tempfile::tempdir().unwrap();
        let l = LookasideDir::new(tmp.path());
        let r = Reference::parse_normalized("127.0.0.1:5000/ns/img:v1").unwrap();
        let d = digest();
        let s = l.store(&r, &d, b"sig").unwrap();
        let want = tmp
            .path()
            .join(format!("ns/img@sha256={}/signature-1", d.hex()));
        assert_eq!(
            s,
            Stored {
                path: want.clone(),
                index: 1
            }
        );
        assert_eq!(fs::read(&want).unwrap(), b"sig");
        let r = Reference::parse_normalized("busybox").unwrap();
        let dir = l.signature_dir(&r, &d).unwrap();
        assert_eq!(
            dir,
            tmp.path()
                .join(format!("library/busybox@sha256={}", d.hex()))
        );
    }

    #[test]
    fn appends_at_first_free_index_and_leaves_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let l = LookasideDir::new(tmp.path());
        let r = Reference::parse_normalized("example.com/a/b").unwrap();
        let d = digest();
        for i in 1..=3u32 {
            assert_eq!(
                l.store(&r, &d, format!("s{i}").as_bytes()).unwrap().index,
                i
            );
        }
        let dir = l.signature_dir(&r, &d).unwrap();
        fs::remove_file(dir.join("signature-2")).unwrap();
        assert_eq!(l.store(&r, &d, b"again").unwrap().index, 2);
        assert_eq!(fs::read(dir.join("signature-1")).unwrap(), b"s1");
        assert_eq!(fs::read(dir.join("signature-3")).unwrap(), b"s3");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["signature-1", "signature-2", "signature-3"]);
    }

    #[test]
    fn named_temp_fallback_links_and_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        for expected in 1..=2u32 {
            let named = named_temp_file(tmp.path(), b"sig").unwrap();
            let stored = link_first_free(tmp.path(), |p| fs::hard_link(named.path(), p)).unwrap();
            assert_eq!(stored.index, expected);
        }
        let mut names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["signature-1", "signature-2"]);
    }

    #[cfg(unix)]
    #[test]
    fn stored_signatures_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let l = LookasideDir::new(tmp.path());
        let r = Reference::parse_normalized("example.com/a/b").unwrap();
        let s = l.store(&r, &digest(), b"sig").unwrap();
        let mode = fs::metadata(&s.path).unwrap().permissions().mode() & 0o777;
        // 0644 less whatever the umask removes; readers need the read bits.
        assert_eq!(mode & 0o444, 0o444, "mode {mode:o}");
        assert_eq!(mode & 0o022, 0, "mode {mode:o}");
    }

    #[test]
    fn concurrent_writers_never_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let l = LookasideDir::new(tmp.path());
        let r = Reference::parse_normalized("example.com/a/b").unwrap();
        let d = digest();
        let threads = 8;
        let per = 25;
        std::thread::scope(|s| {
            for t in 0..threads {
                let (l, r, d) = (&l, &r, &d);
                s.spawn(move || {
                    for i in 0..per {
                        l.store(r, d, format!("{t}-{i}").as_bytes()).unwrap();
                    }
                });
            }
        });
        let dir = l.signature_dir(&r, &d).unwrap();
        let mut contents: Vec<String> = (1..=threads * per)
            .map(|n| fs::read_to_string(dir.join(format!("signature-{n}"))).unwrap())
            .collect();
        contents.sort();
        contents.dedup();
        assert_eq!(
            contents.len(),
            threads * per,
            "every write landed in its own file"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), threads * per);
    }

    #[test]
    fn refuses_paths_that_escape() {
        let l = LookasideDir::new("/nonexistent/root");
        for bad in [
            "../x",
            "a/../../x",
            "/abs",
            "a//b",
            "./a",
            "a/.",
            "",
            "A/b",
            "a\\b",
            "a/b\0",
        ] {
            assert!(l.signature_dir_raw(bad, "sha256", "ab").is_err(), "{bad:?}");
        }
        assert!(l.signature_dir_raw("a/b", "sha256/..", "ab").is_err());
        assert!(l.signature_dir_raw("a/b", "sha256", "../ab").is_err());
        assert!(l.signature_dir_raw("a/b", "sha256", "AB").is_err());
        assert!(l.signature_dir_raw("a/b.c_d-e", "sha256", "ab").is_ok());
    }
}
