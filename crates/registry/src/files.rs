//! The one place where Imprimatur reads and writes local files: atomic
//! writes, bounded reads, `policy.json` and `registries.d` loading, and the
//! file-system [`KeyLoader`](imprimatur_policy::KeyLoader).
//!
//! The crates below this one take bytes and return bytes; callers that work
//! with real files come here.
//!
//! - [`write_atomic`]: readers see the old content or the new one, never a
//!   partial file; a process killed midway leaves nothing behind (on Linux
//!   the data is written into an unnamed `O_TMPFILE` inode that only gets a
//!   name once complete and synced). [`WriteOptions`] choose the mode (0600
//!   for secret keys, set at creation so a secret never exists with wider
//!   permissions) and whether an existing file may be replaced.
//! - [`read_limited`]: reads at most `limit` bytes through `take(limit + 1)`,
//!   never trusting `metadata().len()`, so FIFOs, `/dev/zero` and files that
//!   grow while being read are bounded too.
//!
//! ```
//! use imprimatur_registry::files::{read_limited, write_atomic, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let key = dir.path().join("keys/signer.key");
//! write_atomic(&key, b"secret", &WriteOptions::secret().no_clobber())?;
//! assert_eq!(read_limited(&key, 1024)?, b"secret");
//! // No clobbering: the second write fails and the first content stays.
//! assert!(write_atomic(&key, b"other", &WriteOptions::secret().no_clobber()).is_err());
//! assert!(read_limited(&key, 3).is_err()); // larger than 3 bytes
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use imprimatur_policy::{KeyFileError, Policy, RegistriesConfig, RegistriesFile, Section};

/// Largest `policy.json` read (the policy crate's own limit).
pub const MAX_POLICY_BYTES: u64 = 4 * 1024 * 1024;

/// Errors of local file access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// An I/O error on `path`.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `path` holds more than `limit` bytes.
    #[error("{}: larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// A configuration file was read but is invalid.
    #[error(transparent)]
    Policy(#[from] imprimatur_policy::Error),
}

impl FileError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> FileError {
        FileError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is an I/O error of kind `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// Whether this is an I/O error of kind `AlreadyExists` (a
    /// [`WriteOptions::no_clobber`] write found the file there).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists)
    }
}

/// Reads the whole file, failing with [`FileError::TooLarge`] beyond
/// `limit` bytes. The size is never taken from metadata: the read itself is
/// bounded (`take(limit + 1)`).
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    read_limited_from(file, path, limit)
}

/// Like [`read_limited`], with `Ok(None)` when the file does not exist.
pub fn read_limited_if_exists(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
    match File::open(path) {
        Ok(f) => read_limited_from(f, path, limit).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::io(path, e)),
    }
}

/// Reads at most `limit` bytes from `reader` (named `path` in errors).
pub fn read_limited_from(reader: impl Read, path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut buf = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| FileError::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

/// How [`write_atomic`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Permission bits of the new file (less the umask), set when it is
    /// created. Default 0644.
    pub mode: u32,
    /// Replace an existing file (default) or fail with `AlreadyExists`.
    pub overwrite: bool,
    /// Create missing parent directories (mode 0755 less the umask).
    /// Default true.
    pub create_dirs: bool,
    /// `fsync` the file before it gets its name, and its directory after.
    /// Default true.
    pub sync: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            mode: 0o644,
            overwrite: true,
            create_dirs: true,
            sync: true,
        }
    }
}

impl WriteOptions {
    /// Mode 0644, overwrite, create parents, sync.
    pub fn new() -> WriteOptions {
        WriteOptions::default()
    }

    /// Like [`WriteOptions::new`] with mode 0600: for secret keys.
    pub fn secret() -> WriteOptions {
        WriteOptions::default().mode(0o600)
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: u32) -> WriteOptions {
        self.mode = mode;
        self
    }

    /// Never replace an existing file (exclusive create of the final name).
    pub fn no_clobber(mut self) -> WriteOptions {
        self.overwrite = false;
        self
    }

    /// Sets whether an existing file is replaced.
    pub fn overwrite(mut self, overwrite: bool) -> WriteOptions {
        self.overwrite = overwrite;
        self
    }

    /// Sets whether missing parent directories are created.
    pub fn create_dirs(mut self, create: bool) -> WriteOptions {
        self.create_dirs = create;
        self
    }

    /// Sets whether data and directory are synced to disk.
    pub fn sync(mut self, sync: bool) -> WriteOptions {
        self.sync = sync;
        self
    }
}

/// The directory `path` lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically: the data goes into a file in the
/// same directory that has no name yet (Linux `O_TMPFILE`) or a temporary
/// name, is synced, and then gets the final name: by `rename(2)` when
/// overwriting, by `link(2)` (which never replaces a name) otherwise.
pub fn write_atomic(path: &Path, bytes: &[u8], options: &WriteOptions) -> Result<(), FileError> {
    let dir = parent_dir(path);
    if options.create_dirs {
        fs::create_dir_all(&dir).map_err(|e| FileError::io(&dir, e))?;
    }
    let staged = Staged::write_in(&dir, bytes, options.mode, options.sync)
        .map_err(|e| FileError::io(&dir, e))?;
    let result = if options.overwrite {
        staged.replace(path)
    } else {
        staged.link_to(path)
    };
    result.map_err(|e| FileError::io(path, e))?;
    if options.sync {
        sync_dir(&dir);
    }
    Ok(())
}

/// Flushes the whole file system holding `path` to disk (Linux `syncfs(2)`;
/// elsewhere `path` itself is synced): one call that makes a batch of
/// unsynced writes ([`WriteOptions::sync`] false) durable.
pub fn sync_filesystem(path: &Path) -> Result<(), FileError> {
    let f = File::open(path).map_err(|e| FileError::io(path, e))?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&f).map_err(|e| FileError::io(path, e.into()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        f.sync_all().map_err(|e| FileError::io(path, e))
    }
}

/// Syncs a directory's entries (best effort: not every file system allows
/// opening a directory for it).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Complete file content in `dir` that is not visible under its final name
/// yet: an unnamed `O_TMPFILE` inode on Linux, else a named temporary file
/// (removed on drop).
pub(crate) struct Staged {
    inner: StagedInner,
    dir: PathBuf,
}

enum StagedInner {
    #[cfg(target_os = "linux")]
    Unnamed(unnamed::UnnamedFile),
    Named(tempfile::TempPath),
}

impl Staged {
    /// Writes `data` into a new, nameless (or temporarily named) file in
    /// `dir` with `mode`, synced if `sync`.
    pub(crate) fn write_in(dir: &Path, data: &[u8], mode: u32, sync: bool) -> io::Result<Staged> {
        #[cfg(target_os = "linux")]
        if let Some(u) = unnamed::UnnamedFile::write_in(dir, data, mode, sync)? {
            return Ok(Staged {
                inner: StagedInner::Unnamed(u),
                dir: dir.to_owned(),
            });
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(".imprimatur-").suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(mode));
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut tmp = builder.tempfile_in(dir)?;
        tmp.write_all(data)?;
        if sync {
            tmp.as_file().sync_all()?;
        }
        Ok(Staged {
            inner: StagedInner::Named(tmp.into_temp_path()),
            dir: dir.to_owned(),
        })
    }

    /// Gives the content the name `path` (in the same directory); fails with
    /// `AlreadyExists` if the name is taken. May be called again with another
    /// name after that failure.
    pub(crate) fn link_to(&self, path: &Path) -> io::Result<()> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            StagedInner::Unnamed(u) => u.link_to(path),
            StagedInner::Named(t) => fs::hard_link(t, path),
        }
    }

    /// Gives the content the name `path`, replacing whatever is there.
    pub(crate) fn replace(self, path: &Path) -> io::Result<()> {
        match self.inner {
            #[cfg(target_os = "linux")]
            StagedInner::Unnamed(u) => {
                // An unnamed file cannot be renamed: link it under a fresh
                // temporary name, then rename that over the target.
                for attempt in 0u32..100 {
                    let tmp = self.dir.join(format!(
                        ".imprimatur-{}-{}-{attempt}.tmp",
                        std::process::id(),
                        random_suffix()
                    ));
                    match u.link_to(&tmp) {
                        Ok(()) => {
                            return fs::rename(&tmp, path).inspect_err(|_| {
                                let _ = fs::remove_file(&tmp);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "no free temporary name",
                ))
            }
            StagedInner::Named(t) => t.persist(path).map_err(|e| e.error),
        }
    }
}

/// A few random-ish hex digits for temporary names (uniqueness only; the
/// names are created exclusively anyway).
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default(),
    );
    format!("{:08x}", h.finish() as u32)
}

/// Unnamed files (`O_TMPFILE`) linked into place through `/proc/self/fd`.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::AsRawFd;
    use std::path::{Path, PathBuf};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};

    /// An unnamed file holding complete content, not yet linked anywhere.
    pub(super) struct UnnamedFile {
        file: File,
        proc_path: PathBuf,
    }

    impl UnnamedFile {
        /// Writes `data` into a new unnamed file in `dir`; `None` when the
        /// file system (or the missing `/proc`) does not support it.
        pub(super) fn write_in(
            dir: &Path,
            data: &[u8],
            mode: u32,
            sync: bool,
        ) -> io::Result<Option<Self>> {
            let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
            let fd = match rustix::fs::open(dir, flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => fd,
                Err(e) if unsupported(e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let mut file = File::from(fd);
            let proc_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if !proc_path.exists() {
                return Ok(None);
            }
            file.write_all(data)?;
            if sync {
                file.sync_all()?;
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

// ---------------------------------------------------------------------------
// policy.json, registries.d, key files

/// Reads and parses a `policy.json` (at most [`MAX_POLICY_BYTES`]).
pub fn load_policy(path: &Path) -> Result<Policy, FileError> {
    let bytes = read_limited(path, MAX_POLICY_BYTES)?;
    Ok(Policy::from_json(&bytes, &path.display().to_string())?)
}

/// The `*.yaml` files of a `registries.d` directory, parsed, sorted by
/// name, each with its path as shown in messages. A missing directory is
/// an empty configuration.
pub fn read_registries_files(dir: &Path) -> Result<Vec<(String, RegistriesFile)>, FileError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FileError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FileError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if imprimatur_policy::is_config_file_name(&name) {
            names.push(name);
        }
    }
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let shown = path.display().to_string();
        let bytes = match read_limited(&path, imprimatur_policy::MAX_REGISTRIES_FILE_BYTES as u64) {
            Ok(b) => b,
            Err(FileError::TooLarge { .. }) => {
                return Err(imprimatur_policy::Error::InvalidRegistriesFile {
                    file: shown,
                    message: format!(
                        "file too large (limit {} bytes)",
                        imprimatur_policy::MAX_REGISTRIES_FILE_BYTES
                    ),
                }
                .into());
            }
            Err(e) => return Err(e),
        };
        let file = RegistriesFile::from_yaml(&bytes, &shown)?;
        out.push((shown, file));
    }
    Ok(out)
}

/// Loads and merges a `registries.d` directory (missing = empty).
pub fn load_registries_dir(dir: &Path) -> Result<RegistriesConfig, FileError> {
    let files = read_registries_files(dir)?;
    Ok(RegistriesConfig::merge(
        files.iter().map(|(n, f)| (n.as_str(), f.clone())),
    )?)
}

/// Sets (or with `None` removes) the section of one docker scope (`""` =
/// `default-docker`) in a `registries.d` directory, editing the file that
/// already defines it, else creating `<scope>.yaml`
/// ([`imprimatur_policy::registries_file_name`]). The file is written
/// atomically; other files and scopes are untouched. Returns the file
/// written (if any). A directory that is already inconsistent (a scope in
/// two files) is refused.
pub fn set_registries_section(
    dir: &Path,
    scope: &str,
    section: Option<Section>,
) -> Result<Option<PathBuf>, FileError> {
    let files = read_registries_files(dir)?;
    RegistriesConfig::merge(files.iter().map(|(n, f)| (n.as_str(), f.clone())))?;
    let default = scope.is_empty();
    let existing = files.into_iter().find(|(_, f)| {
        if default {
            f.default_docker.is_some()
        } else {
            f.docker.contains_key(scope)
        }
    });
    let (path, mut file) = match existing {
        Some((p, f)) => (PathBuf::from(p), f),
        None => {
            if section.is_none() {
                return Ok(None);
            }
            (
                dir.join(imprimatur_policy::registries_file_name(scope)),
                RegistriesFile::default(),
            )
        }
    };
    match (default, section) {
        (true, s) => file.default_docker = s,
        (false, Some(s)) => {
            file.docker.insert(scope.to_owned(), s);
        }
        (false, None) => {
            file.docker.remove(scope);
        }
    }
    write_atomic(&path, file.to_yaml().as_bytes(), &WriteOptions::new())?;
    Ok(Some(path))
}

/// A [`imprimatur_policy::KeyLoader`] reading key files from the file
/// system, bounded by the signature crate's
/// [`MAX_KEY_BYTES`](imprimatur_signature::MAX_KEY_BYTES) (counted while
/// reading, so a FIFO or `/dev/zero` cannot grow the buffer). Errors read
/// like Go's (`open /x: no such file or directory`): see
/// [`KeyFileError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FsKeyLoader;

impl imprimatur_policy::KeyLoader for FsKeyLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, KeyFileError> {
        match read_limited(Path::new(path), imprimatur_signature::MAX_KEY_BYTES as u64) {
            Ok(b) => Ok(b),
            Err(FileError::TooLarge { limit, .. }) => Err(KeyFileError::too_large(path, limit)),
            Err(FileError::Io { source, .. }) => Err(KeyFileError::new(path, source)),
            // read_limited only reads; keep whatever it says all the same.
            Err(e @ FileError::Policy(_)) => Err(KeyFileError::new(path, io::Error::other(e))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use imprimatur_policy::KeyLoader as _;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/policy.json");
        write_atomic(&path, b"first", &WriteOptions::new()).unwrap();
        write_atomic(&path, b"second", &WriteOptions::new()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names(path.parent().unwrap()), ["policy.json"]);
    }

    #[test]
    fn write_sets_mode_and_no_clobber_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        write_atomic(&p, b"one", &WriteOptions::secret().no_clobber()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let err = write_atomic(&p, b"two", &WriteOptions::secret().no_clobber()).unwrap_err();
        assert!(err.is_already_exists(), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"three", &WriteOptions::secret()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        assert_eq!(names(dir.path()), ["secret.key"]);
    }

    #[cfg(unix)]
    #[test]
    fn replacing_a_world_readable_file_with_a_secret_narrows_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_atomic(&p, b"pub", &WriteOptions::new()).unwrap();
        write_atomic(&p, b"secret", &WriteOptions::secret()).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn named_fallback_links_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        // Force the named path by building it directly.
        let mut tmp = tempfile::Builder::new()
            .prefix(".imprimatur-")
            .tempfile_in(dir.path())
            .unwrap();
        tmp.write_all(b"x").unwrap();
        let s = Staged {
            inner: StagedInner::Named(tmp.into_temp_path()),
            dir: dir.path().to_owned(),
        };
        s.link_to(&dir.path().join("a")).unwrap();
        let e = s.link_to(&dir.path().join("a")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        s.replace(&dir.path().join("b")).unwrap();
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn sync_filesystem_of_a_directory_and_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        sync_filesystem(dir.path()).unwrap();
        assert!(
            sync_filesystem(&dir.path().join("nope"))
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn read_limited_bounds_files_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"12345").unwrap();
        assert_eq!(read_limited(&p, 5).unwrap(), b"12345");
        assert!(matches!(
            read_limited(&p, 4),
            Err(FileError::TooLarge { limit: 4, .. })
        ));
        // An endless device: metadata says 0 bytes, the read is still bounded.
        if Path::new("/dev/zero").exists() {
            assert!(matches!(
                read_limited(Path::new("/dev/zero"), 1 << 16),
                Err(FileError::TooLarge { .. })
            ));
        }
        assert!(
            read_limited(&dir.path().join("nope"), 1)
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(
            read_limited_if_exists(&dir.path().join("nope"), 1).unwrap(),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn read_limited_bounds_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return;
        }
        let writer_path = p.clone();
        let writer = std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            // Write until the reader goes away (EPIPE).
            let chunk = [b'a'; 4096];
            while f.write_all(&chunk).is_ok() {}
        });
        assert!(matches!(
            read_limited(&p, 10_000),
            Err(FileError::TooLarge { limit: 10_000, .. })
        ));
        writer.join().unwrap();
    }

    #[test]
    fn registries_section_edits_the_defining_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("site.yaml"),
            "docker:\n  a.example:\n    lookaside: https://a\n  b.example:\n    lookaside: https://b\n",
        )
        .unwrap();
        let written = set_registries_section(
            dir.path(),
            "a.example",
            Some(Section::lookaside("https://a2")),
        )
        .unwrap()
        .unwrap();
        assert!(written.ends_with("site.yaml"));
        let written = set_registries_section(
            dir.path(),
            "c.example:5000/ns",
            Some(Section::lookaside("file:///c")),
        )
        .unwrap()
        .unwrap();
        assert!(written.ends_with("c.example_5000_ns.yaml"), "{written:?}");
        let c = load_registries_dir(dir.path()).unwrap();
        assert_eq!(
            c.docker["a.example"].section.lookaside.as_deref(),
            Some("https://a2")
        );
        assert_eq!(
            c.docker["b.example"].section.lookaside.as_deref(),
            Some("https://b")
        );
        assert_eq!(
            c.docker["c.example:5000/ns"].section.lookaside.as_deref(),
            Some("file:///c")
        );
        assert_eq!(
            set_registries_section(dir.path(), "b.example", None).unwrap(),
            Some(dir.path().join("site.yaml"))
        );
        assert_eq!(
            set_registries_section(dir.path(), "none.example", None).unwrap(),
            None
        );
        // Missing directory = empty configuration.
        assert_eq!(
            load_registries_dir(&dir.path().join("nope")).unwrap(),
            RegistriesConfig::default()
        );
    }

    #[test]
    fn registries_dir_rejects_oversized_and_conflicting_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.yaml"), "docker:\n  x.example: {}\n").unwrap();
        fs::write(dir.path().join("b.yaml"), "docker:\n  x.example: {}\n").unwrap();
        fs::write(dir.path().join("ignored.yml"), "garbage: [").unwrap();
        let e = load_registries_dir(dir.path()).unwrap_err();
        assert!(e.to_string().contains("defined both"), "{e}");
        fs::remove_file(dir.path().join("b.yaml")).unwrap();
        let big = "#".repeat(imprimatur_policy::MAX_REGISTRIES_FILE_BYTES + 1);
        fs::write(dir.path().join("c.yaml"), big).unwrap();
        let e = load_registries_dir(dir.path()).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
    }

    #[test]
    fn policy_loading_is_bounded_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        fs::write(&p, br#"{"default":[{"type":"reject"}]}"#).unwrap();
        load_policy(&p).unwrap();
        fs::write(&p, br#"{"default":[{"type":"nope"}]}"#).unwrap();
        assert!(
            load_policy(&p)
                .unwrap_err()
                .to_string()
                .contains("policy.json")
        );
    }

    #[test]
    fn key_loader_reads_like_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.gpg");
        fs::write(&p, b"key").unwrap();
        assert_eq!(FsKeyLoader.load(p.to_str().unwrap()).unwrap(), b"key");
        let missing = dir.path().join("missing");
        let m = missing.to_str().unwrap();
        let e = FsKeyLoader.load(m).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.path(), m);
        assert_eq!(
            imprimatur_signature::ErrorChain(&e).to_string(),
            format!("open {m}: no such file or directory")
        );
        let big = dir.path().join("big");
        fs::write(&big, vec![0u8; imprimatur_signature::MAX_KEY_BYTES + 1]).unwrap();
        let e = FsKeyLoader.load(big.to_str().unwrap()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
    }
}
