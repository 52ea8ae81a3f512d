//! Applying the entries of one layer.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use imprimatur_reference::Digest;
use rustix::fs::{self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use super::error::{LimitKind, UnpackError, lossy};
use super::fs::{
    MAX_REMOVE_DEPTH, ensure_dir_in_root, list_dir, lstat_type, open_dir_in_root,
    open_subdir_nofollow, os, remove_tree_at,
};
use super::stream::{CountingReader, Flags, HashingReader, decoder};
use super::{Compression, LayerSummary, Unpacker};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";

/// Copy buffer size for file contents.
const COPY_BUF: usize = 128 * 1024;

pub(super) fn unpack<R: Read>(
    u: &Unpacker,
    root: BorrowedFd<'_>,
    blob: R,
    compression: Compression,
    expected: &Digest,
) -> Result<LayerSummary, UnpackError> {
    let flags = Flags::default();
    let mut src = HashingReader::new(blob, expected, u.limits.max_compressed_bytes, &flags)?;
    let mut layer = Layer {
        u,
        root,
        upper: Upper::default(),
        dirs: Vec::new(),
        entries: 0,
        whiteouts: 0,
        skipped_devices: 0,
        buf: Vec::new(),
    };
    let outcome = apply_stream(&mut layer, &mut src, compression, &flags);
    match outcome {
        Ok((used, uncompressed_bytes)) => {
            src.drain().map_err(|e| flags.classify(e, used, None))?;
            let compressed_bytes = src.bytes_read();
            let actual = src.finish()?;
            if actual != *expected {
                return Err(UnpackError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
            Ok(LayerSummary {
                digest: actual,
                compression: used,
                compressed_bytes,
                uncompressed_bytes,
                entries: layer.entries,
                whiteouts: layer.whiteouts,
                skipped_devices: layer.skipped_devices,
            })
        }
        Err(e @ (UnpackError::MalformedTar { .. } | UnpackError::Decompression { .. })) => {
            // Corrupt content: if the blob is not what the manifest named,
            // say so, it is the better explanation.
            if src.drain().is_ok()
                && let Ok(actual) = src.finish()
                && actual != *expected
            {
                return Err(UnpackError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Decompresses and applies the tar stream; reads the decompressed stream to
/// its end (which checks gzip's trailer). Returns the compression used and
/// the decompressed size.
fn apply_stream<R: Read>(
    layer: &mut Layer<'_, '_>,
    src: &mut HashingReader<'_, R>,
    compression: Compression,
    flags: &Flags,
) -> Result<(Compression, u64), UnpackError> {
    let (dec, used) = decoder(src, compression, flags)?;
    let mut counted = CountingReader::new(dec, layer.u.limits.max_total_bytes, flags);
    {
        let mut archive = tar::Archive::new(&mut counted);
        layer.apply_all(&mut archive, used, flags)?;
    }
    let mut sink = [0u8; 8192];
    loop {
        match counted.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(flags.classify(e, used, None)),
        }
    }
    layer.finish_dirs()?;
    Ok((used, counted.bytes_read()))
}

/// An entry's path, link target and metadata.
type Fields = (Vec<u8>, Option<Vec<u8>>, Meta);

/// Metadata of an entry, after PAX overrides.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
}

/// A directory whose metadata is applied when the layer ends (so that a
/// read-only directory can still be filled, and its mtime is final).
struct DeferredDir {
    comps: Vec<Vec<u8>>,
    meta: Meta,
}

struct Layer<'u, 'r> {
    u: &'u Unpacker,
    root: BorrowedFd<'r>,
    /// Every path this layer wrote, and all their parents: what whiteouts
    /// must not remove.
    upper: Upper,
    dirs: Vec<DeferredDir>,
    entries: u64,
    whiteouts: u64,
    skipped_devices: u64,
    buf: Vec<u8>,
}

/// The paths one layer wrote (with their parents), as a tree of names: the
/// memory it takes is linear in the bytes of the names read.
#[derive(Default)]
struct Upper {
    children: HashMap<Vec<u8>, Upper>,
}

impl Upper {
    fn insert(&mut self, comps: &[Vec<u8>]) {
        let mut node = self;
        for c in comps {
            if !node.children.contains_key(c) {
                node.children.insert(c.clone(), Upper::default());
            }
            let Some(next) = node.children.get_mut(c) else {
                return;
            };
            node = next;
        }
    }

    /// The node of `comps`, if this layer wrote that path or below it.
    fn get(&self, comps: &[Vec<u8>]) -> Option<&Upper> {
        let mut node = self;
        for c in comps {
            node = node.children.get(c)?;
        }
        Some(node)
    }
}

/// Extension records waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

fn malformed(path: Option<&[u8]>, reason: impl Into<String>) -> UnpackError {
    UnpackError::MalformedTar {
        path: path.map(lossy),
        reason: reason.into(),
    }
}

fn strip_nuls(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// Cleans an archive path lexically as if rooted at `/`: empty and `.`
/// components dropped, `..` removes the previous component and never climbs
/// above the root.
pub(crate) fn clean(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c.to_vec()),
        }
    }
    out
}

/// `parsed`, or 0 if the raw field is empty (only NULs and spaces).
fn lenient<T: Default>(parsed: io::Result<T>, raw: &[u8]) -> io::Result<T> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(T::default()),
        other => other,
    }
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A PAX `mtime` value (`SECONDS[.FRACTION]`), `None` if unparsable.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let tv_sec: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    if tv_sec >= 0 && !secs.starts_with('-') {
        let digits: String = frac.chars().take(9).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{digits:0<9}");
        nanos = padded.parse().ok()?;
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: nanos as _,
    })
}

impl Layer<'_, '_> {
    fn apply_all<T: Read>(
        &mut self,
        archive: &mut tar::Archive<T>,
        compression: Compression,
        flags: &Flags,
    ) -> Result<(), UnpackError> {
        let limits = self.u.limits.clone();
        let entries = archive
            .entries()
            .map_err(|e| flags.classify(e, compression, None))?;
        let mut entries = entries.raw(true);
        let mut pending = Pending::default();
        let mut headers: u64 = 0;
        let mut last: Option<Vec<u8>> = None;
        loop {
            let mut entry = match entries.next() {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(e)) => return Err(flags.classify(e, compression, last.as_deref())),
            };
            headers += 1;
            if headers > limits.max_entries {
                return Err(UnpackError::limit(
                    LimitKind::Entries,
                    limits.max_entries,
                    None,
                ));
            }
            let kind = entry.header().entry_type().as_byte();
            if matches!(kind, b'L' | b'K' | b'x' | b'g') {
                let size = entry.size();
                if size > limits.max_header_bytes {
                    return Err(UnpackError::limit(
                        LimitKind::HeaderBytes,
                        limits.max_header_bytes,
                        last.as_deref(),
                    ));
                }
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut data)
                    .map_err(|e| flags.classify(e, compression, last.as_deref()))?;
                if (data.len() as u64) != size {
                    return Err(malformed(last.as_deref(), "truncated extended header"));
                }
                let slot = match kind {
                    b'L' => &mut pending.long_name,
                    b'K' => &mut pending.long_link,
                    b'x' => &mut pending.pax,
                    _ => continue, // global PAX headers: nothing we apply
                };
                if slot.is_some() {
                    return Err(malformed(
                        last.as_deref(),
                        "two extended headers of one kind for one entry",
                    ));
                }
                *slot = Some(data);
                continue;
            }
            let p = std::mem::take(&mut pending);
            let (path, link, meta) = self.fields(&entry, p, &limits)?;
            last = Some(path.clone());
            self.entries += 1;
            self.apply_entry(
                &mut entry,
                kind,
                &path,
                link.as_deref(),
                meta,
                compression,
                flags,
            )?;
        }
        if pending.long_name.is_some() || pending.long_link.is_some() || pending.pax.is_some() {
            return Err(malformed(
                last.as_deref(),
                "extended header at the end of the archive, with no entry",
            ));
        }
        Ok(())
    }

    /// The entry's path, link target and metadata, with GNU long names and
    /// PAX records applied.
    fn fields<T: Read>(
        &self,
        entry: &tar::Entry<'_, T>,
        p: Pending,
        limits: &super::Limits,
    ) -> Result<Fields, UnpackError> {
        let h = entry.header();
        let mut path = match p.long_name {
            Some(n) => strip_nuls(n),
            None => h.path_bytes().into_owned(),
        };
        let mut link = match p.long_link {
            Some(n) => Some(strip_nuls(n)),
            None => h.link_name_bytes().map(|c| c.into_owned()),
        };
        let err =
            |path: &[u8], what: &str, e: io::Error| malformed(Some(path), format!("{what}: {e}"));
        // An all-NUL or all-space number field is 0, as Go's archive/tar
        // (and so umoci) reads it.
        let old = h.as_old();
        let mut uid = lenient(h.uid(), &old.uid).map_err(|e| err(&path, "uid", e))?;
        let mut gid = lenient(h.gid(), &old.gid).map_err(|e| err(&path, "gid", e))?;
        let mode = lenient(h.mode(), &old.mode).map_err(|e| err(&path, "mode", e))? & 0o7777;
        let hmtime = lenient(h.mtime(), &old.mtime).map_err(|e| err(&path, "mtime", e))?;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(hmtime).unwrap_or(i64::MAX),
            tv_nsec: 0,
        };
        if let Some(pax) = p.pax {
            for ext in tar::PaxExtensions::new(&pax) {
                let ext = ext.map_err(|e| err(&path, "PAX header", e))?;
                let v = ext.value_bytes();
                match ext.key_bytes() {
                    b"path" => path = v.to_vec(),
                    b"linkpath" => link = Some(v.to_vec()),
                    b"uid" => {
                        uid = parse_u64(v).ok_or_else(|| malformed(Some(&path), "bad PAX uid"))?;
                    }
                    b"gid" => {
                        gid = parse_u64(v).ok_or_else(|| malformed(Some(&path), "bad PAX gid"))?;
                    }
                    b"size" => {
                        let size =
                            parse_u64(v).ok_or_else(|| malformed(Some(&path), "bad PAX size"))?;
                        if size != entry.size() {
                            return Err(malformed(
                                Some(&path),
                                "PAX size differs from the header's size (unsupported)",
                            ));
                        }
                    }
                    b"mtime" => {
                        if let Some(t) = parse_pax_time(v) {
                            mtime = t;
                        }
                    }
                    _ => {}
                }
            }
        }
        if path.len() > limits.max_name_bytes {
            return Err(UnpackError::limit(
                LimitKind::NameBytes,
                limits.max_name_bytes as u64,
                Some(&path[..path.len().min(256)]),
            ));
        }
        if let Some(l) = &link
            && l.len() > limits.max_name_bytes
        {
            return Err(UnpackError::limit(
                LimitKind::NameBytes,
                limits.max_name_bytes as u64,
                Some(&path),
            ));
        }
        let uid = u32::try_from(uid).map_err(|_| malformed(Some(&path), "uid out of range"))?;
        let gid = u32::try_from(gid).map_err(|_| malformed(Some(&path), "gid out of range"))?;
        Ok((
            path,
            link,
            Meta {
                mode,
                uid,
                gid,
                mtime,
            },
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_entry<T: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, T>,
        kind: u8,
        path: &[u8],
        link: Option<&[u8]>,
        meta: Meta,
        compression: Compression,
        flags: &Flags,
    ) -> Result<(), UnpackError> {
        if path.contains(&0) || link.is_some_and(|l| l.contains(&0)) {
            return Err(UnpackError::invalid(path, "NUL byte in a name"));
        }
        let comps = clean(path);
        if comps.len() > self.u.limits.max_path_depth {
            return Err(UnpackError::limit(
                LimitKind::PathDepth,
                self.u.limits.max_path_depth as u64,
                Some(path),
            ));
        }
        let is_dir =
            kind == b'5' || (matches!(kind, b'0' | b'\0' | b'7') && path.last() == Some(&b'/'));

        // Whiteouts.
        if let Some((name, parent)) = comps.split_last()
            && name.starts_with(WHITEOUT_PREFIX)
        {
            self.whiteouts += 1;
            if name.as_slice() == WHITEOUT_OPAQUE {
                return self.opaque(parent, path);
            }
            if name.starts_with(WHITEOUT_META_PREFIX) {
                // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): ignored.
                return Ok(());
            }
            let target = name.get(WHITEOUT_PREFIX.len()..).unwrap_or_default();
            if matches!(target, b"" | b"." | b"..") {
                return Err(UnpackError::invalid(
                    path,
                    "whiteout of an empty name, . or ..",
                ));
            }
            return self.whiteout(parent, target, path);
        }

        let Some((name, parent_comps)) = comps.split_last() else {
            if is_dir {
                self.dirs.push(DeferredDir { comps, meta });
                return Ok(());
            }
            return Err(UnpackError::invalid(
                path,
                "a non-directory entry names the root",
            ));
        };

        match kind {
            b'3' | b'4' if !(self.u.allow_devices && self.u.is_root) => {
                self.skipped_devices += 1;
                return Ok(());
            }
            b'0' | b'\0' | b'7' | b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => {}
            b'S' => {
                return Err(UnpackError::UnsupportedEntry {
                    path: lossy(path),
                    kind: 'S',
                });
            }
            other => {
                return Err(UnpackError::UnsupportedEntry {
                    path: lossy(path),
                    kind: char::from(other),
                });
            }
        }

        let mut created = Vec::new();
        let parent = ensure_dir_in_root(self.root, parent_comps, path, &mut created)?;
        self.record_implicit_dirs(parent_comps, &created, path)?;
        self.upper.insert(&comps);
        let parent = parent.as_fd();
        let name = name.as_slice();

        if is_dir {
            self.prepare_slot(parent, name, true, path)?;
            match rfs::mkdirat(parent, os(name), Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(UnpackError::io(path, "mkdirat", e)),
            }
            self.dirs.push(DeferredDir { comps, meta });
            return Ok(());
        }
        match kind {
            b'1' => {
                let Some(target) = link else {
                    return Err(UnpackError::invalid(path, "hardlink without a target"));
                };
                self.hardlink(parent, name, &comps, target, path)
            }
            b'2' => {
                let Some(target) = link else {
                    return Err(UnpackError::invalid(path, "symlink without a target"));
                };
                self.prepare_slot(parent, name, false, path)?;
                rfs::symlinkat(os(target), parent, os(name))
                    .map_err(|e| UnpackError::io(path, "symlinkat", e))?;
                self.meta_at(parent, name, &meta, false, path)
            }
            b'3' | b'4' | b'6' => {
                let (ft, dev) = match kind {
                    b'3' | b'4' => {
                        let h = entry.header();
                        let major = h
                            .device_major()
                            .map_err(|e| malformed(Some(path), format!("device major: {e}")))?
                            .unwrap_or(0);
                        let minor = h
                            .device_minor()
                            .map_err(|e| malformed(Some(path), format!("device minor: {e}")))?
                            .unwrap_or(0);
                        let ft = if kind == b'3' {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rfs::makedev(major, minor))
                    }
                    _ => (FileType::Fifo, 0),
                };
                self.prepare_slot(parent, name, false, path)?;
                rfs::mknodat(parent, os(name), ft, Mode::from_raw_mode(0o600), dev)
                    .map_err(|e| UnpackError::io(path, "mknodat", e))?;
                self.meta_at(parent, name, &meta, true, path)
            }
            _ => self.regular(entry, parent, name, &meta, path, compression, flags),
        }
    }

    /// Makes room for a new entry `name`: removes what is there, except a
    /// directory when the new entry is a directory too. Returns whether a
    /// directory was kept.
    fn prepare_slot(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        is_dir: bool,
        path: &[u8],
    ) -> Result<bool, UnpackError> {
        match lstat_type(parent, name, path)? {
            None => Ok(false),
            Some(FileType::Directory) if is_dir => Ok(true),
            Some(FileType::Directory) => {
                remove_tree_at(parent, name, path)?;
                Ok(false)
            }
            Some(_) => match rfs::unlinkat(parent, os(name), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(false),
                Err(e) => Err(UnpackError::io(path, "unlinkat", e)),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn regular<T: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, T>,
        parent: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        path: &[u8],
        compression: Compression,
        flags: &Flags,
    ) -> Result<(), UnpackError> {
        self.prepare_slot(parent, name, false, path)?;
        let fd: OwnedFd = rfs::openat(
            parent,
            os(name),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| UnpackError::io(path, "openat", e))?;
        let mut file = std::fs::File::from(fd);
        if self.buf.len() < COPY_BUF {
            self.buf.resize(COPY_BUF, 0);
        }
        let mut left = entry.size();
        while left > 0 {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Err(malformed(Some(path), "entry data truncated")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(flags.classify(e, compression, Some(path))),
            };
            let chunk = self.buf.get(..n).unwrap_or_default();
            file.write_all(chunk)
                .map_err(|e| UnpackError::io(path, "write", e))?;
            left = left.saturating_sub(n as u64);
        }
        let fd = file.as_fd();
        if self.u.keep_ownership {
            rfs::fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(|e| UnpackError::io(path, "fchown", e))?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode))
            .map_err(|e| UnpackError::io(path, "fchmod", e))?;
        rfs::futimens(fd, &times(meta.mtime)).map_err(|e| UnpackError::io(path, "futimens", e))?;
        self.record_fd(fd, meta, path)
    }

    /// Records `fd`'s inode as `meta`'s owner, when owners are recorded.
    fn record_fd(&self, fd: BorrowedFd<'_>, meta: &Meta, path: &[u8]) -> Result<(), UnpackError> {
        if let Some(ledger) = &self.u.owners {
            let st = rfs::fstat(fd).map_err(|e| UnpackError::io(path, "fstat", e))?;
            ledger.record(&st, meta.uid, meta.gid);
        }
        Ok(())
    }

    /// Records the parent directories [`ensure_dir_in_root`] just created
    /// (`created`: their lengths in components) as root's, when owners are
    /// recorded.
    fn record_implicit_dirs(
        &self,
        parent_comps: &[Vec<u8>],
        created: &[usize],
        path: &[u8],
    ) -> Result<(), UnpackError> {
        let Some(ledger) = &self.u.owners else {
            return Ok(());
        };
        for &len in created {
            let prefix = parent_comps.get(..len).unwrap_or_default().join(&b'/');
            if let Some(dir) = open_dir_in_root(self.root, &prefix, path)? {
                let st = rfs::fstat(&dir).map_err(|e| UnpackError::io(path, "fstat", e))?;
                ledger.record(&st, 0, 0);
            }
        }
        Ok(())
    }

    /// Owner, mode (unless a symlink) and times of `name` in `parent`,
    /// without following a symlink there.
    fn meta_at(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        chmod: bool,
        path: &[u8],
    ) -> Result<(), UnpackError> {
        if self.u.keep_ownership {
            rfs::chownat(
                parent,
                os(name),
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| UnpackError::io(path, "fchownat", e))?;
        }
        if chmod {
            // Linux's fchmodat cannot refuse to follow a symlink; `name` was
            // just created by mknodat in a directory only we write to.
            rfs::chmodat(
                parent,
                os(name),
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .map_err(|e| UnpackError::io(path, "fchmodat", e))?;
        }
        rfs::utimensat(
            parent,
            os(name),
            &times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| UnpackError::io(path, "utimensat", e))?;
        if let Some(ledger) = &self.u.owners {
            let st = rfs::statat(parent, os(name), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| UnpackError::io(path, "fstatat", e))?;
            ledger.record(&st, meta.uid, meta.gid);
        }
        Ok(())
    }

    fn hardlink(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        comps: &[Vec<u8>],
        target: &[u8],
        path: &[u8],
    ) -> Result<(), UnpackError> {
        let tcomps = clean(target);
        let Some((tname, tparent_comps)) = tcomps.split_last() else {
            return Err(UnpackError::invalid(path, "hardlink to the root"));
        };
        if tcomps.len() > self.u.limits.max_path_depth {
            return Err(UnpackError::limit(
                LimitKind::PathDepth,
                self.u.limits.max_path_depth as u64,
                Some(path),
            ));
        }
        if tcomps == comps {
            return Ok(());
        }
        let Some(tparent) = open_dir_in_root(self.root, &tparent_comps.join(&b'/'), path)? else {
            return Err(UnpackError::invalid(path, "hardlink target does not exist"));
        };
        let tstat = match rfs::statat(&tparent, os(tname), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => {
                return Err(UnpackError::invalid(path, "hardlink target does not exist"));
            }
            Err(e) => return Err(UnpackError::io(path, "fstatat", e)),
        };
        if FileType::from_raw_mode(tstat.st_mode) == FileType::Directory {
            return Err(UnpackError::invalid(path, "hardlink to a directory"));
        }
        if let Ok(dst) = rfs::statat(parent, os(name), AtFlags::SYMLINK_NOFOLLOW)
            && dst.st_dev == tstat.st_dev
            && dst.st_ino == tstat.st_ino
        {
            return Ok(());
        }
        self.prepare_slot(parent, name, false, path)?;
        rfs::linkat(&tparent, os(tname), parent, os(name), AtFlags::empty())
            .map_err(|e| UnpackError::io(path, "linkat", e))
    }

    /// `.wh.NAME` in `parent`: remove `NAME` from the lower layers.
    fn whiteout(
        &mut self,
        parent: &[Vec<u8>],
        target: &[u8],
        path: &[u8],
    ) -> Result<(), UnpackError> {
        let parent_path = parent.join(&b'/');
        let Some(dir) = open_dir_in_root(self.root, &parent_path, path)? else {
            return Ok(());
        };
        let mut tpath = parent_path;
        if !tpath.is_empty() {
            tpath.push(b'/');
        }
        tpath.extend_from_slice(target);
        let node = self.upper.get(parent).and_then(|n| n.children.get(target));
        self.remove_lower(dir.as_fd(), target, node, &tpath, 0)
    }

    /// `.wh..wh..opq` in `parent`: remove everything the lower layers put
    /// in it.
    fn opaque(&mut self, parent: &[Vec<u8>], path: &[u8]) -> Result<(), UnpackError> {
        let parent_path = parent.join(&b'/');
        let Some(dir) = open_dir_in_root(self.root, &parent_path, path)? else {
            return Ok(());
        };
        let pnode = self.upper.get(parent);
        for child in list_dir(dir.as_fd(), path)? {
            let mut cpath = parent_path.clone();
            if !cpath.is_empty() {
                cpath.push(b'/');
            }
            cpath.extend_from_slice(&child);
            let node = pnode.and_then(|n| n.children.get(&child));
            self.remove_lower(dir.as_fd(), &child, node, &cpath, 0)?;
        }
        Ok(())
    }

    /// Removes `name` (at archive path `path`) in `dir`, except what this
    /// layer wrote (`node`, its place in [`Upper`]): a path of this layer that
    /// is a directory is descended into, anything else of this layer is kept.
    fn remove_lower(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        node: Option<&Upper>,
        path: &[u8],
        depth: usize,
    ) -> Result<(), UnpackError> {
        let Some(node) = node else {
            return remove_tree_at(dir, name, path);
        };
        if depth >= MAX_REMOVE_DEPTH {
            return Err(UnpackError::limit(
                LimitKind::PathDepth,
                MAX_REMOVE_DEPTH as u64,
                Some(path),
            ));
        }
        let Some(sub) = open_subdir_nofollow(dir, name, path)? else {
            return Ok(());
        };
        for child in list_dir(sub.as_fd(), path)? {
            let mut cpath = path.to_vec();
            cpath.push(b'/');
            cpath.extend_from_slice(&child);
            let cnode = node.children.get(&child);
            self.remove_lower(sub.as_fd(), &child, cnode, &cpath, depth + 1)?;
        }
        Ok(())
    }

    /// Applies the directories' metadata, now that their contents are final.
    fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in &dirs {
            let path = d.comps.join(&b'/');
            let fd = match d.comps.split_last() {
                None => open_dir_in_root(self.root, b"", b"/")?,
                Some((name, parent)) => {
                    match open_dir_in_root(self.root, &parent.join(&b'/'), &path)? {
                        Some(p) => open_subdir_nofollow(p.as_fd(), name, &path)?,
                        None => None,
                    }
                }
            };
            // Replaced by a non-directory later in the layer: nothing to do.
            let Some(fd) = fd else { continue };
            if self.u.keep_ownership {
                rfs::fchown(
                    &fd,
                    Some(Uid::from_raw(d.meta.uid)),
                    Some(Gid::from_raw(d.meta.gid)),
                )
                .map_err(|e| UnpackError::io(&path, "fchown", e))?;
            }
            rfs::fchmod(&fd, Mode::from_raw_mode(d.meta.mode))
                .map_err(|e| UnpackError::io(&path, "fchmod", e))?;
            rfs::futimens(&fd, &times(d.meta.mtime))
                .map_err(|e| UnpackError::io(&path, "futimens", e))?;
            self.record_fd(fd.as_fd(), &d.meta, &path)?;
        }
        Ok(())
    }
}

fn times(t: Timespec) -> Timestamps {
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}
