//! Hashing content as it streams by, for any digest algorithm containers/image
//! accepts, so blobs are checked without being held in memory.

use imprimatur_reference::{Algorithm, Digest};
use sha2::Digest as _;

/// A running hash in the algorithm of the digest it will be compared with.
#[derive(Clone)]
pub(crate) enum DigestHasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl DigestHasher {
    /// A hasher for `expected`'s algorithm.
    pub(crate) fn for_digest(expected: &Digest) -> Self {
        match expected.algorithm() {
            Algorithm::Sha384 => DigestHasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => DigestHasher::Sha512(sha2::Sha512::new()),
            _ => DigestHasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            DigestHasher::Sha256(h) => h.update(bytes),
            DigestHasher::Sha384(h) => h.update(bytes),
            DigestHasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything hashed.
    pub(crate) fn finish(self) -> Digest {
        let (name, hex) = match self {
            DigestHasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            DigestHasher::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            DigestHasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        // A hash we just computed is always a valid digest.
        Digest::parse(&format!("{name}:{hex}")).unwrap_or_else(|_| Digest::sha256_of(b""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_shot_for_every_algorithm() {
        for alg in [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512] {
            let want = Digest::of(alg, b"hello world");
            let mut h = DigestHasher::for_digest(&want);
            h.update(b"hello ");
            h.update(b"world");
            assert_eq!(h.finish(), want);
        }
    }
}
