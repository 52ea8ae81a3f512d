//! Safe unpacking of image layers into a root filesystem.
//!
//! [`Unpacker::unpack_layer`] applies one layer blob (a tar stream, gzip- or
//! zstd-compressed or not) on top of a root directory, the way `umoci unpack`
//! and containers/storage do: regular files, directories, symlinks,
//! hardlinks, FIFOs, optionally device nodes, and the OCI whiteouts
//! (`.wh.NAME` deletes `NAME` from the lower layers, `.wh..wh..opq` makes a
//! directory opaque). The blob's digest is verified while it streams.
//! The work is synchronous; an async caller runs it in
//! `tokio::task::spawn_blocking`.
//!
//! ```no_run
//! use imprimatur_reference::Digest;
//! use imprimatur_registry::unpack::{open_root, Compression, Unpacker};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let unpacker = Unpacker::builder().max_entries(500_000).build();
//! let root = open_root(std::path::Path::new("/var/tmp/rootfs"))?;
//! let digest: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse()?;
//! let blob = std::fs::File::open("/var/tmp/layer.tar.gz")?;
//! let compression = Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+gzip")?;
//! match unpacker.unpack_layer(&root, blob, compression, &digest) {
//!     Ok(summary) => println!("{} entries", summary.entries),
//!     // Any error: the root is partly written and must be thrown away.
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! # Threat model
//!
//! The layer is hostile: its author wants to write, truncate, chmod, chown or
//! delete something outside the root (through `../` names, absolute names,
//! symlinks planted by an earlier entry or an earlier layer, hardlinks to
//! outside files, whiteouts of `../x`), to make the unpacker use unbounded
//! memory, disk or time (decompression bombs, endless entries, giant PAX
//! headers), or to make it panic. The promise is: **whatever the bytes, no
//! filesystem object outside the root is created, modified or removed**, and
//! every resource is bounded by [`Limits`]. Within the root anything goes:
//! a layer decides what the image contains.
//!
//! "Anything goes" includes setuid-root executables and, when
//! [`UnpackerBuilder::allow_devices`] is set, device nodes: whoever uses the
//! root afterwards (a scanner) must not execute from it, and should see it
//! through a `nosuid,nodev` mount if it runs anything there.
//!
//! Not in the model: other processes racing the unpacker *inside* the root
//! while it runs (they cannot make it escape either, see below, but they can
//! make the result differ), and what later *consumers* of the root do with
//! its symlinks (a scanner must itself resolve paths inside the root).
//!
//! # Why `openat2(RESOLVE_IN_ROOT)` rather than path checks
//!
//! The classic defence (the `tar` crate's `unpack_in`, or
//! `filepath-securejoin` in Go) resolves a path in user space, checks that the
//! result is inside the root, and then hands the *string* to the kernel,
//! which resolves it again. Between the check and the use, the tree can
//! change (time-of-check to time-of-use): a symlink replaced, a directory
//! renamed. Here, nothing ever resolves a path in user space. Every parent
//! directory is opened from the root's directory fd with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so the kernel itself
//! treats the root as `/` for that lookup: `..` stops at the root, absolute
//! symlinks are resolved relative to it, and `/proc/self/...` magic links are
//! refused. The entry itself is then created with an `*at` call on that
//! parent fd with one plain name (`openat(O_CREAT|O_EXCL|O_NOFOLLOW)`,
//! `mkdirat`, `symlinkat`, `linkat`, `mknodat`, `unlinkat`), so a symlink in
//! the final position is replaced, never followed. Metadata goes through the
//! opened fd (`fchmod`, `fchown`, `futimens`) or with `AT_SYMLINK_NOFOLLOW`.
//! Deleting a directory tree (whiteouts, a file replacing a directory) walks
//! it with directory fds opened `O_NOFOLLOW`.
//!
//! Names are also cleaned lexically first, as umoci does: each archive path
//! is interpreted as if rooted at `/`, `..` never climbing above it, so
//! `../../etc/passwd` and `/etc/passwd` both mean `ROOT/etc/passwd`.
//!
//! # Semantics
//!
//! - A file, symlink or other non-directory over an existing entry replaces
//!   it (a directory there is removed with its contents first); a directory
//!   over an existing directory keeps it and updates its metadata.
//! - Hardlinks must point at an existing non-directory inside the root
//!   (resolved like every other path: inside the root).
//! - Whiteouts apply to the lower layers only, in any order within the layer:
//!   the unpacker remembers every path this layer wrote (and their parents),
//!   and a whiteout or opaque marker removes everything at that place except
//!   what this layer wrote, whether it comes before or after.
//! - Device nodes are skipped unless [`UnpackerBuilder::allow_devices`] is set
//!   *and* the process runs as root; FIFOs are created.
//! - Owners are applied when the process runs as root (see
//!   [`UnpackerBuilder::keep_ownership`]); when it does not, they can be
//!   recorded instead ([`UnpackerBuilder::record_owners`], for a scanner run
//!   under `fakeroot`); modes are applied exactly
//!   (setuid, setgid and sticky included); modification times are applied,
//!   directories' at the end of the layer. Extended attributes are not
//!   applied.
//! - Not running as root, the unpacker writes with the permissions it has:
//!   directories of one layer are created writable and get their final mode
//!   when the layer ends, but a read-only directory left by an *earlier*
//!   layer cannot be written into or cleaned by a later one (`EACCES`,
//!   reported as [`UnpackError::Io`]).
//! - GNU sparse entries are refused ([`UnpackError::UnsupportedEntry`]); a PAX
//!   `size` record that disagrees with the header's size is refused
//!   ([`UnpackError::MalformedTar`]) rather than guessed at.

mod apply;
mod error;
mod fs;
mod owners;
mod stream;

use std::fmt;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use imprimatur_reference::Digest;
use rustix::fs::{Mode, OFlags};

pub use error::{LimitKind, UnpackError};
pub use owners::{OwnerLedger, RecordedOwner};

/// Limits on what one layer may make the unpacker do.
///
/// The defaults fit real images (the largest public base images are a few
/// GB and a few hundred thousand entries) with a wide margin; a service that
/// knows its images should lower them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of the decompressed tar stream (headers, data and padding).
    /// This is what bounds a decompression bomb and the disk space one layer
    /// can use. Default 32 GiB.
    pub max_total_bytes: u64,
    /// Bytes of the blob as read from the caller's reader. Default 16 GiB.
    pub max_compressed_bytes: u64,
    /// Tar headers, counting PAX and GNU long-name records. Default 2,000,000.
    pub max_entries: u64,
    /// Components of an entry's cleaned path. Default 256.
    pub max_path_depth: usize,
    /// Bytes of an entry's path or link target. Default 16 KiB.
    pub max_name_bytes: usize,
    /// Bytes of one PAX extended header or GNU long name / long link record,
    /// checked before it is read into memory. Default 1 MiB.
    pub max_header_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_total_bytes: 32 << 30,
            max_compressed_bytes: 16 << 30,
            max_entries: 2_000_000,
            max_path_depth: 256,
            max_name_bytes: 16 << 10,
            max_header_bytes: 1 << 20,
        }
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (any number of concatenated members).
    Gzip,
    /// zstd (any number of frames).
    Zstd,
    /// Look at the first bytes: gzip or zstd magic, else plain tar. Used for
    /// Docker media types, whose `.tar.gzip` name is not always true.
    Detect,
}

impl Compression {
    /// The compression of a layer media type.
    ///
    /// OCI types (`application/vnd.oci.image.layer.v1.tar`, `+gzip`, `+zstd`,
    /// and the `nondistributable` variants) say exactly what they hold.
    /// Docker's `application/vnd.docker.image.rootfs.diff.tar.gzip` (and the
    /// `foreign` variant) give [`Compression::Detect`]. Anything else is
    /// [`UnpackError::UnsupportedCompression`]. Media type parameters
    /// (`; foo=bar`) are ignored.
    pub fn from_media_type(media_type: &str) -> Result<Compression, UnpackError> {
        let base = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        Ok(match base.as_str() {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Compression::None,
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => Compression::Gzip,
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Compression::Zstd,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.diff.tar" => Compression::Detect,
            _ => {
                return Err(UnpackError::UnsupportedCompression {
                    media_type: media_type.to_owned(),
                });
            }
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Detect => "detected",
        })
    }
}

/// What one successful [`Unpacker::unpack_layer`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerSummary {
    /// The verified digest of the blob.
    pub digest: Digest,
    /// The compression actually found (never [`Compression::Detect`]).
    pub compression: Compression,
    /// Bytes of the blob.
    pub compressed_bytes: u64,
    /// Bytes of the decompressed tar stream.
    pub uncompressed_bytes: u64,
    /// Tar entries applied (files, directories, links, whiteouts, ...; not
    /// counting PAX and GNU extension records).
    pub entries: u64,
    /// Whiteout and opaque markers applied.
    pub whiteouts: u64,
    /// Character and block devices skipped (see
    /// [`UnpackerBuilder::allow_devices`]).
    pub skipped_devices: u64,
}

/// Applies layers to a root directory safely. Cheap to clone and share.
///
/// Build with [`Unpacker::builder`]; [`Unpacker::default`] has the default
/// [`Limits`], no device nodes and ownership kept when running as root.
#[derive(Debug, Clone)]
pub struct Unpacker {
    limits: Limits,
    allow_devices: bool,
    keep_ownership: bool,
    is_root: bool,
    owners: Option<OwnerLedger>,
}

impl Default for Unpacker {
    fn default() -> Unpacker {
        Unpacker::builder().build()
    }
}

/// Options for an [`Unpacker`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnpackerBuilder {
    limits: Limits,
    allow_devices: bool,
    keep_ownership: Option<bool>,
    owners: Option<OwnerLedger>,
}

impl UnpackerBuilder {
    /// Replaces all limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// See [`Limits::max_total_bytes`].
    pub fn max_total_bytes(mut self, n: u64) -> Self {
        self.limits.max_total_bytes = n;
        self
    }

    /// See [`Limits::max_compressed_bytes`].
    pub fn max_compressed_bytes(mut self, n: u64) -> Self {
        self.limits.max_compressed_bytes = n;
        self
    }

    /// See [`Limits::max_entries`].
    pub fn max_entries(mut self, n: u64) -> Self {
        self.limits.max_entries = n;
        self
    }

    /// See [`Limits::max_path_depth`].
    pub fn max_path_depth(mut self, n: usize) -> Self {
        self.limits.max_path_depth = n;
        self
    }

    /// See [`Limits::max_name_bytes`].
    pub fn max_name_bytes(mut self, n: usize) -> Self {
        self.limits.max_name_bytes = n;
        self
    }

    /// See [`Limits::max_header_bytes`].
    pub fn max_header_bytes(mut self, n: u64) -> Self {
        self.limits.max_header_bytes = n;
        self
    }

    /// Create character and block device nodes. Only has an effect when the
    /// process runs as root (effective uid 0); otherwise, and by default,
    /// device entries are skipped and counted in
    /// [`LayerSummary::skipped_devices`].
    pub fn allow_devices(mut self, allow: bool) -> Self {
        self.allow_devices = allow;
        self
    }

    /// Apply the archive's uid and gid. Default: when the effective uid is
    /// 0. Forcing `true` as non-root makes `fchown` fail on most entries.
    pub fn keep_ownership(mut self, keep: bool) -> Self {
        self.keep_ownership = Some(keep);
        self
    }

    /// Record the owner, group and mode the layers give every entry
    /// created, by inode, in `ledger` (whether or not they are applied):
    /// for a process that cannot `chown` and wants a scanner to see the
    /// image's owners anyway (see [`OwnerLedger`]). Entries the unpacker
    /// creates implicitly (a parent directory no entry names) are recorded
    /// as `0:0`, what they get when root unpacks.
    pub fn record_owners(mut self, ledger: OwnerLedger) -> Self {
        self.owners = Some(ledger);
        self
    }

    /// The unpacker. Reads the process's effective uid.
    pub fn build(self) -> Unpacker {
        let is_root = rustix::process::geteuid().is_root();
        Unpacker {
            limits: self.limits,
            allow_devices: self.allow_devices,
            keep_ownership: self.keep_ownership.unwrap_or(is_root),
            is_root,
            owners: self.owners,
        }
    }
}

impl Unpacker {
    /// Starts from the defaults.
    pub fn builder() -> UnpackerBuilder {
        UnpackerBuilder {
            limits: Limits::default(),
            allow_devices: false,
            keep_ownership: None,
            owners: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Applies one layer blob to `root` (a directory fd, see [`open_root`]).
    ///
    /// `blob` yields the layer's bytes exactly as stored (compressed); they
    /// are hashed as they are read with `expected`'s algorithm, and after the
    /// tar stream ends the rest of the blob is read to EOF so the digest
    /// covers all of it. Layers of one image are applied in manifest order,
    /// each with its own call, on the same root.
    ///
    /// # Errors
    ///
    /// Any error, [`UnpackError::DigestMismatch`] included, means the root
    /// is partly written and **must be discarded as a whole** (the digest can
    /// only be checked once everything has been applied). When the tar
    /// stream or the decompression fails and the blob's digest turns out to
    /// be wrong too, the error is [`UnpackError::DigestMismatch`], since the
    /// corruption is the more useful explanation. Nothing outside the root
    /// is touched in any case.
    pub fn unpack_layer<R: Read>(
        &self,
        root: &impl AsFd,
        blob: R,
        compression: Compression,
        expected: &Digest,
    ) -> Result<LayerSummary, UnpackError> {
        apply::unpack(self, root.as_fd(), blob, compression, expected)
    }
}

/// Opens an existing directory to unpack into (`O_DIRECTORY | O_NOFOLLOW`:
/// the root itself must not be a symlink).
pub fn open_root(path: &Path) -> Result<OwnedFd, UnpackError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::io(path.as_os_str().as_encoded_bytes(), "open", e))
}

#[cfg(test)]
mod tests;
