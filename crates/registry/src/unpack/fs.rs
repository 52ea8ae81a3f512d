//! Filesystem primitives relative to the root's directory fd.
//!
//! Parents are always resolved with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` from the root fd, so `..`, absolute symlinks and
//! `/proc` magic links can never lead outside the root, even if the tree
//! changes between two calls. The final component of every operation is a
//! single name handed to an `*at` call on that parent fd, with no-follow
//! semantics, so symlinks in the root are created but never written through.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::UnpackError;

/// How many times a resolution is retried when the kernel reports a
/// concurrent rename (`EAGAIN` from `RESOLVE_IN_ROOT`).
const EAGAIN_RETRIES: usize = 16;

/// Deepest directory nesting [`remove_tree_at`] descends into.
pub(crate) const MAX_REMOVE_DEPTH: usize = 1024;

/// The resolve flags of every path lookup in the root.
pub(crate) fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

pub(crate) fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// Opens a directory at `path` (components, already cleaned) beneath `root`,
/// following symlinks only within the root. `Ok(None)` if something on the
/// way does not exist.
pub(crate) fn open_dir_in_root(
    root: BorrowedFd<'_>,
    path: &[u8],
    err_path: &[u8],
) -> Result<Option<OwnedFd>, UnpackError> {
    let p: &[u8] = if path.is_empty() { b"." } else { path };
    let mut tries = 0;
    loop {
        match rfs::openat2(
            root,
            os(p),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            in_root(),
        ) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
            Err(Errno::INTR) => {}
            Err(e) => return Err(UnpackError::io(err_path, "openat2", e)),
        }
    }
}

/// Like [`open_dir_in_root`], creating missing directories (mode 0755, as
/// tar does for implied parents). `created` receives the index (number of
/// components) of each directory made, for the caller's bookkeeping.
pub(crate) fn ensure_dir_in_root(
    root: BorrowedFd<'_>,
    comps: &[Vec<u8>],
    err_path: &[u8],
    created: &mut Vec<usize>,
) -> Result<OwnedFd, UnpackError> {
    let full = comps.join(&b'/');
    if let Some(fd) = open_dir_in_root(root, &full, err_path)? {
        return Ok(fd);
    }
    let mut parent = match open_dir_in_root(root, b"", err_path)? {
        Some(fd) => fd,
        None => {
            return Err(UnpackError::invalid(
                err_path,
                "the root directory vanished",
            ));
        }
    };
    for i in 0..comps.len() {
        let prefix = comps.get(..=i).unwrap_or_default().join(&b'/');
        if let Some(fd) = open_dir_in_root(root, &prefix, err_path)? {
            parent = fd;
            continue;
        }
        let name = comps.get(i).map(Vec::as_slice).unwrap_or_default();
        match rfs::mkdirat(&parent, os(name), Mode::from_raw_mode(0o755)) {
            Ok(()) => created.push(i + 1),
            Err(Errno::EXIST) => {}
            Err(e) => return Err(UnpackError::io(err_path, "mkdirat", e)),
        }
        parent = match open_dir_in_root(root, &prefix, err_path)? {
            Some(fd) => fd,
            None => {
                return Err(UnpackError::invalid(
                    err_path,
                    "a parent is a dangling symlink",
                ));
            }
        };
    }
    Ok(parent)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`'s file type, `None` if absent.
pub(crate) fn lstat_type(
    dir: BorrowedFd<'_>,
    name: &[u8],
    err_path: &[u8],
) -> Result<Option<FileType>, UnpackError> {
    match rfs::statat(dir, os(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(UnpackError::io(err_path, "fstatat", e)),
    }
}

/// Lists the names in a directory (without `.` and `..`).
pub(crate) fn list_dir(dir: BorrowedFd<'_>, err_path: &[u8]) -> Result<Vec<Vec<u8>>, UnpackError> {
    let mut d = rfs::Dir::read_from(dir).map_err(|e| UnpackError::io(err_path, "opendir", e))?;
    let mut names = Vec::new();
    while let Some(ent) = d.read() {
        let ent = ent.map_err(|e| UnpackError::io(err_path, "readdir", e))?;
        let name = ent.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Removes `name` in `dir`, recursively if it is a directory, without ever
/// following a symlink: every step is an `*at` call on a directory fd opened
/// with `O_NOFOLLOW`. A missing `name` is not an error.
pub(crate) fn remove_tree_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    err_path: &[u8],
) -> Result<(), UnpackError> {
    remove_tree_depth(dir, name, err_path, 0)
}

fn remove_tree_depth(
    dir: BorrowedFd<'_>,
    name: &[u8],
    err_path: &[u8],
    depth: usize,
) -> Result<(), UnpackError> {
    match lstat_type(dir, name, err_path)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            if depth >= MAX_REMOVE_DEPTH {
                return Err(UnpackError::limit(
                    super::LimitKind::PathDepth,
                    MAX_REMOVE_DEPTH as u64,
                    Some(err_path),
                ));
            }
            let sub = match open_subdir_nofollow(dir, name, err_path)? {
                Some(fd) => fd,
                None => return Ok(()),
            };
            for child in list_dir(sub.as_fd(), err_path)? {
                remove_tree_depth(sub.as_fd(), &child, err_path, depth + 1)?;
            }
            match rfs::unlinkat(dir, os(name), AtFlags::REMOVEDIR) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(UnpackError::io(err_path, "unlinkat", e)),
            }
        }
        Some(_) => match rfs::unlinkat(dir, os(name), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(UnpackError::io(err_path, "unlinkat", e)),
        },
    }
}

/// Opens the directory `name` in `dir` without following a symlink there.
/// `None` if it does not exist or is not a directory.
pub(crate) fn open_subdir_nofollow(
    dir: BorrowedFd<'_>,
    name: &[u8],
    err_path: &[u8],
) -> Result<Option<OwnedFd>, UnpackError> {
    match rfs::openat(
        dir,
        os(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(None),
        Err(e) => Err(UnpackError::io(err_path, "openat", e)),
    }
}
