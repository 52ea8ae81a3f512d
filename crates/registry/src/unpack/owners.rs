//! The owners an image gives its files, kept aside for when the unpacker
//! cannot apply them.
//!
//! Why: a scan of an unpacked root judges rules such as "`/etc/shadow` is
//! owned by root, group `shadow`". An unprivileged process (a scan Job runs
//! as non-root with every capability dropped) cannot `chown`, so every file
//! it unpacks is owned by its own uid, and such rules fail however the image
//! was built. An [`OwnerLedger`] given to the unpacker
//! ([`super::UnpackerBuilder::record_owners`]) records, per inode, the owner,
//! group and mode the image gives each entry it creates, so a consumer can
//! present them: [`OwnerLedger::write_fakeroot_db`] writes them in the format
//! `fakeroot -i` loads, and a scanner run under `fakeroot` then sees the
//! image's owners (`stat` returns them) without any privilege.
//!
//! Keyed by inode, not path: what `fakeroot` matches on, and what survives
//! hardlinks (one inode, one owner) and later layers (a replaced file is a
//! new inode, recorded again; a removed file's record matches nothing unless
//! its inode number is reused, and then the new file's record replaces it,
//! since every entry the unpacker creates is recorded, implicit parent
//! directories included).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::fs::Stat;

/// The owner, group and mode the image gives one inode of the unpacked
/// root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct RecordedOwner {
    /// The device of the filesystem the root is on (`st_dev`).
    pub dev: u64,
    /// The inode (`st_ino`).
    pub ino: u64,
    /// The full mode, file type bits included (`st_mode`), as the layer set
    /// it.
    pub mode: u32,
    /// The owner the layer names.
    pub uid: u32,
    /// The group the layer names.
    pub gid: u32,
    /// The device number of a device node, else 0.
    pub rdev: u64,
}

/// A shared, growing record of [`RecordedOwner`]s, one per inode; cheap to
/// clone (clones share the record). Give one to
/// [`super::UnpackerBuilder::record_owners`], keep a clone, read it after
/// the last layer. Its size is linear in the entries unpacked, which
/// [`super::Limits::max_entries`] bounds per layer.
#[derive(Clone, Default)]
pub struct OwnerLedger {
    inner: Arc<Mutex<HashMap<(u64, u64), RecordedOwner>>>,
}

impl fmt::Debug for OwnerLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerLedger")
            .field("inodes", &self.len())
            .finish()
    }
}

impl OwnerLedger {
    /// An empty ledger.
    pub fn new() -> OwnerLedger {
        OwnerLedger::default()
    }

    /// Records that the inode `st` describes belongs to `uid:gid` in the
    /// image (its mode and type are taken from `st`, read after the
    /// unpacker set them). A later record of the same inode replaces it.
    pub(crate) fn record(&self, st: &Stat, uid: u32, gid: u32) {
        let owner = RecordedOwner {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            uid,
            gid,
            rdev: st.st_rdev,
        };
        self.map().insert((owner.dev, owner.ino), owner);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, u64), RecordedOwner>> {
        // A panic elsewhere while holding the lock leaves a map that is
        // still consistent (inserts are single operations).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many inodes are recorded.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record of one inode.
    pub fn get(&self, dev: u64, ino: u64) -> Option<RecordedOwner> {
        self.map().get(&(dev, ino)).copied()
    }

    /// Every record, ordered by device and inode.
    pub fn entries(&self) -> Vec<RecordedOwner> {
        let mut all: Vec<RecordedOwner> = self.map().values().copied().collect();
        all.sort_unstable();
        all
    }

    /// Writes the records as a `fakeroot` database, the text `faked
    /// --load` (and so `fakeroot -i FILE`) reads: one line per inode,
    /// `dev=HEX,ino=DEC,mode=OCTAL,uid=DEC,gid=DEC,nlink=DEC,rdev=DEC`.
    /// `fakeroot` takes mode, owner, group and device number from it and the
    /// link count from the filesystem, so `nlink` is written as 1.
    pub fn write_fakeroot_db(&self, mut out: impl Write) -> io::Result<()> {
        for o in self.entries() {
            writeln!(
                out,
                "dev={:x},ino={},mode={:o},uid={},gid={},nlink=1,rdev={}",
                o.dev, o.ino, o.mode, o.uid, o.gid, o.rdev
            )?;
        }
        out.flush()
    }
}
