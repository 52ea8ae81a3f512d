//! Building layer blobs (well-formed and hostile) in tests.
//!
//! Include with `#[path = "common/layers.rs"] mod layers;`.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;

use imprimatur_reference::Digest;
use tar::{EntryType, Header};

/// A tar stream under construction. Names are written raw into the header
/// (no `..` or absolute-path checks: this is how hostile layers are made).
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

pub const MTIME: u64 = 1_700_000_000;

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    /// A header with `name` and `link` copied verbatim. Names over 100 bytes
    /// get a GNU long name record first.
    pub fn raw(
        &mut self,
        kind: EntryType,
        name: &[u8],
        link: Option<&[u8]>,
        mode: u32,
        data: &[u8],
    ) -> &mut Self {
        if name.len() > 100 {
            self.gnu_long(b'L', name);
        }
        if let Some(l) = link
            && l.len() > 100
        {
            self.gnu_long(b'K', l);
        }
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        {
            let old = h.as_old_mut();
            let n = name.len().min(100);
            old.name[..n].copy_from_slice(&name[..n]);
            if let Some(l) = link {
                let n = l.len().min(100);
                old.linkname[..n].copy_from_slice(&l[..n]);
            }
        }
        h.set_cksum();
        self.b.append(&h, data).expect("append");
        self
    }

    /// A GNU long name (`L`) or long link (`K`) record.
    pub fn gnu_long(&mut self, kind: u8, value: &[u8]) -> &mut Self {
        let mut data = value.to_vec();
        data.push(0);
        self.gnu_long_sized(kind, &data)
    }

    pub fn gnu_long_sized(&mut self, kind: u8, data: &[u8]) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::new(kind));
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_mode(0o644);
        h.set_cksum();
        self.b.append(&h, data).expect("append");
        self
    }

    /// A PAX extended header (`x`) with raw records.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.b
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .expect("pax");
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        self.raw(EntryType::Regular, name.as_bytes(), None, mode, data)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(EntryType::Directory, name.as_bytes(), None, mode, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            EntryType::Symlink,
            name.as_bytes(),
            Some(target.as_bytes()),
            0o777,
            b"",
        )
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            EntryType::Link,
            name.as_bytes(),
            Some(target.as_bytes()),
            0o644,
            b"",
        )
    }

    pub fn whiteout(&mut self, name: &str) -> &mut Self {
        self.file(name, b"", 0o644)
    }

    pub fn device(&mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o666);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        self.b.append(&h, &[][..]).expect("append");
        self
    }

    /// The finished tar stream (with the end-of-archive blocks).
    pub fn tar(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().expect("finish")
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).expect("zstd")
}

pub fn sha256(data: &[u8]) -> Digest {
    Digest::sha256_of(data)
}
