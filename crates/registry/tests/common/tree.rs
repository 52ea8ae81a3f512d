//! Entry-by-entry comparison of two directory trees (for example our unpack
//! of an image against `umoci unpack`'s `rootfs/`).
//!
//! Include with `#[path = "common/tree.rs"] mod tree;` (or from a
//! `common/mod.rs`). Compared per entry: type, permission bits (with setuid,
//! setgid, sticky), uid, gid, size and SHA-256 of regular files, symlink
//! targets, device numbers, and which paths share an inode (hardlinks, within
//! the tree). Optionally the mtime of non-directories.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// The type of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Char,
    Block,
    Socket,
}

/// What is compared about one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Size of regular files (0 otherwise).
    pub size: u64,
    /// Hex SHA-256 of regular files' contents.
    pub sha256: Option<String>,
    /// Symlink target.
    pub target: Option<PathBuf>,
    /// Device number of character and block devices.
    pub rdev: Option<u64>,
    /// mtime (seconds) of non-directories.
    pub mtime: i64,
    /// Other paths in the tree with the same inode (hardlinks), if any.
    pub links: BTreeSet<PathBuf>,
}

/// A snapshot of a tree: relative path (`.` for the root) to entry.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub entries: BTreeMap<PathBuf, Entry>,
}

/// What [`diff`] compares besides the always-compared fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions {
    /// Compare the mtime of non-directories.
    pub mtime: bool,
    /// Compare the root directory's own metadata.
    pub root: bool,
}

/// Reads the tree under `root` (symlinks are not followed).
pub fn snapshot(root: &Path) -> io::Result<Tree> {
    let mut entries = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), Vec<PathBuf>> = HashMap::new();
    let mut stack = vec![PathBuf::from(".")];
    while let Some(rel) = stack.pop() {
        let abs = root.join(&rel);
        let m = fs::symlink_metadata(&abs)?;
        let ft = m.file_type();
        let kind = if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else {
            Kind::Socket
        };
        let sha256 = if kind == Kind::File {
            let mut h = Sha256::new();
            let mut f = fs::File::open(&abs)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Some(hex::encode(h.finalize()))
        } else {
            None
        };
        if kind != Kind::Dir && m.nlink() > 1 {
            inodes
                .entry((m.dev(), m.ino()))
                .or_default()
                .push(rel.clone());
        }
        entries.insert(
            rel.clone(),
            Entry {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                size: if kind == Kind::File { m.len() } else { 0 },
                sha256,
                target: if kind == Kind::Symlink {
                    Some(fs::read_link(&abs)?)
                } else {
                    None
                },
                rdev: matches!(kind, Kind::Char | Kind::Block).then(|| m.rdev()),
                mtime: if kind == Kind::Dir { 0 } else { m.mtime() },
                links: BTreeSet::new(),
            },
        );
        if kind == Kind::Dir {
            for e in fs::read_dir(&abs)? {
                let e = e?;
                let child = if rel == Path::new(".") {
                    PathBuf::from(e.file_name())
                } else {
                    rel.join(e.file_name())
                };
                stack.push(child);
            }
        }
    }
    for paths in inodes.values() {
        if paths.len() < 2 {
            continue;
        }
        for p in paths {
            let others: BTreeSet<PathBuf> = paths.iter().filter(|o| *o != p).cloned().collect();
            if let Some(e) = entries.get_mut(p) {
                e.links = others;
            }
        }
    }
    Ok(Tree { entries })
}

/// Human-readable differences between `a` and `b` (empty if the same).
pub fn diff(a: &Tree, b: &Tree, opts: DiffOptions) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&PathBuf> = a.entries.keys().chain(b.entries.keys()).collect();
    for k in keys {
        if !opts.root && k == Path::new(".") {
            continue;
        }
        match (a.entries.get(k), b.entries.get(k)) {
            (Some(_), None) => out.push(format!("{}: only in the first tree", k.display())),
            (None, Some(_)) => out.push(format!("{}: only in the second tree", k.display())),
            (Some(x), Some(y)) => {
                let mut d = Vec::new();
                if x.kind != y.kind {
                    d.push(format!("type {:?} != {:?}", x.kind, y.kind));
                }
                if x.mode != y.mode && x.kind != Kind::Symlink {
                    d.push(format!("mode {:o} != {:o}", x.mode, y.mode));
                }
                if (x.uid, x.gid) != (y.uid, y.gid) {
                    d.push(format!("owner {}:{} != {}:{}", x.uid, x.gid, y.uid, y.gid));
                }
                if x.size != y.size {
                    d.push(format!("size {} != {}", x.size, y.size));
                }
                if x.sha256 != y.sha256 {
                    d.push("content differs".to_owned());
                }
                if x.target != y.target {
                    d.push(format!("link target {:?} != {:?}", x.target, y.target));
                }
                if x.rdev != y.rdev {
                    d.push(format!("device {:?} != {:?}", x.rdev, y.rdev));
                }
                if x.links != y.links {
                    d.push(format!("hardlinks {:?} != {:?}", x.links, y.links));
                }
                if opts.mtime && x.mtime != y.mtime {
                    d.push(format!("mtime {} != {}", x.mtime, y.mtime));
                }
                if !d.is_empty() {
                    out.push(format!("{}: {}", k.display(), d.join(", ")));
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Panics with the differences (at most 50 listed) if the trees differ.
pub fn assert_same(a: &Path, b: &Path, opts: DiffOptions) {
    let ta = snapshot(a).unwrap_or_else(|e| panic!("reading {}: {e}", a.display()));
    let tb = snapshot(b).unwrap_or_else(|e| panic!("reading {}: {e}", b.display()));
    let d = diff(&ta, &tb, opts);
    assert!(
        d.is_empty(),
        "{} and {} differ in {} entries ({} vs {} entries):\n{}",
        a.display(),
        b.display(),
        d.len(),
        ta.entries.len(),
        tb.entries.len(),
        d.iter().take(50).cloned().collect::<Vec<_>>().join("\n")
    );
}
