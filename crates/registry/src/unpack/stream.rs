//! The byte pipeline under the tar reader: hash the blob as it is read,
//! decompress, count the decompressed bytes. Each stage records in [`Flags`]
//! that it failed, so that an `io::Error` surfacing from the tar reader can be
//! attributed to the right stage (source, decompressor, limit, tar itself).

use std::cell::Cell;
use std::io::{self, Read};

use imprimatur_reference::{Algorithm, Digest};
use sha2::Digest as _;

use super::Compression;
use super::error::{LimitKind, UnpackError};

/// Which stage of the pipeline failed first.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    pub(crate) source_failed: Cell<bool>,
    pub(crate) decode_failed: Cell<bool>,
    pub(crate) limit_hit: Cell<Option<(LimitKind, u64)>>,
}

impl Flags {
    /// Turns an error that came out of the decompressed stream into the
    /// matching typed error.
    pub(crate) fn classify(
        &self,
        err: io::Error,
        compression: Compression,
        path: Option<&[u8]>,
    ) -> UnpackError {
        let path = path.map(super::error::lossy);
        if let Some((what, limit)) = self.limit_hit.get() {
            UnpackError::LimitExceeded { what, limit, path }
        } else if self.source_failed.get() {
            UnpackError::Read(err)
        } else if self.decode_failed.get() {
            UnpackError::Decompression {
                compression,
                path,
                source: err,
            }
        } else {
            UnpackError::MalformedTar {
                path,
                reason: err.to_string(),
            }
        }
    }
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// Hashes every byte read from the caller's reader, and counts them against
/// [`Limits::max_compressed_bytes`](super::Limits::max_compressed_bytes).
pub(crate) struct HashingReader<'f, R> {
    inner: R,
    hasher: Hasher,
    algorithm: Algorithm,
    read: u64,
    limit: u64,
    flags: &'f Flags,
}

impl<'f, R: Read> HashingReader<'f, R> {
    pub(crate) fn new(
        inner: R,
        expected: &Digest,
        limit: u64,
        flags: &'f Flags,
    ) -> Result<Self, UnpackError> {
        let algorithm = expected.algorithm();
        let hasher = match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            _ => return Err(UnpackError::UnsupportedDigest(expected.clone())),
        };
        Ok(HashingReader {
            inner,
            hasher,
            algorithm,
            read: 0,
            limit,
            flags,
        })
    }

    /// Bytes read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads the rest of the blob (so that the digest covers all of it).
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.read(&mut buf)? != 0 {}
        Ok(())
    }

    /// The digest of everything read.
    pub(crate) fn finish(self) -> Result<Digest, UnpackError> {
        let hex = match self.hasher {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha384(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        };
        Digest::parse(&format!("{}:{hex}", self.algorithm)).map_err(|e| UnpackError::MalformedTar {
            path: None,
            reason: format!("internal: computed digest does not parse: {e}"),
        })
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.flags.source_failed.get() || self.flags.limit_hit.get().is_some() {
            return Err(io::Error::other("layer stream already failed"));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.flags.source_failed.set(true);
                return Err(e);
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(chunk),
            Hasher::Sha384(h) => h.update(chunk),
            Hasher::Sha512(h) => h.update(chunk),
        }
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.limit {
            self.flags
                .limit_hit
                .set(Some((LimitKind::CompressedBytes, self.limit)));
            return Err(io::Error::other("compressed layer size limit exceeded"));
        }
        Ok(n)
    }
}

/// Counts decompressed bytes against
/// [`Limits::max_total_bytes`](super::Limits::max_total_bytes) and records
/// decompressor failures.
pub(crate) struct CountingReader<'f, R> {
    inner: R,
    read: u64,
    limit: u64,
    flags: &'f Flags,
}

impl<'f, R: Read> CountingReader<'f, R> {
    pub(crate) fn new(inner: R, limit: u64, flags: &'f Flags) -> Self {
        CountingReader {
            inner,
            read: 0,
            limit,
            flags,
        }
    }

    pub(crate) fn bytes_read(&self) -> u64 {
        self.read
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.flags.limit_hit.get().is_some() {
            return Err(io::Error::other("layer size limit exceeded"));
        }
        // Never hand out more than one byte beyond the limit.
        let room = self.limit.saturating_sub(self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                if !self.flags.source_failed.get() && self.flags.limit_hit.get().is_none() {
                    self.flags.decode_failed.set(true);
                }
                return Err(e);
            }
        };
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.limit {
            self.flags
                .limit_hit
                .set(Some((LimitKind::TotalBytes, self.limit)));
            return Err(io::Error::other("decompressed layer size limit exceeded"));
        }
        Ok(n)
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Wraps `src` in the decompressor for `compression`, sniffing the magic
/// bytes for [`Compression::Detect`]. Returns the compression actually used.
pub(crate) fn decoder<'a, R: Read + 'a>(
    mut src: R,
    compression: Compression,
    flags: &Flags,
) -> Result<(Box<dyn Read + 'a>, Compression), UnpackError> {
    let mut magic = [0u8; 4];
    let mut have = 0;
    if compression == Compression::Detect {
        while have < magic.len() {
            let Some(rest) = magic.get_mut(have..) else {
                break;
            };
            match src.read(rest) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(flags.classify(e, compression, None)),
            }
        }
    }
    let prefix = magic.get(..have).unwrap_or_default().to_vec();
    let compression = match compression {
        Compression::Detect if prefix.starts_with(&GZIP_MAGIC) => Compression::Gzip,
        Compression::Detect if prefix.starts_with(&ZSTD_MAGIC) => Compression::Zstd,
        Compression::Detect => Compression::None,
        other => other,
    };
    let src = io::Cursor::new(prefix).chain(src);
    let reader: Box<dyn Read + 'a> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Zstd => match zstd::stream::read::Decoder::new(src) {
            Ok(d) => Box::new(d),
            Err(e) => {
                return Err(UnpackError::Decompression {
                    compression,
                    path: None,
                    source: e,
                });
            }
        },
        _ => Box::new(src),
    };
    Ok((reader, compression))
}
