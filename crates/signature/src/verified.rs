//! A small, bounded memory of signatures whose cryptography already checked
//! out, held by a [`TrustedKeys`](crate::TrustedKeys): re-evaluating an image
//! (a policy decision repeated, a controller's resync) costs a hash instead
//! of a public-key operation, and memory stays flat however many distinct
//! signatures pass by (sequoia's own process-wide cache is never evicted,
//! so it is not used at all).
//!
//! Only the cryptographic result is remembered, keyed by the SHA-256 of the
//! whole blob (the signature and the signed content) and the fingerprint of
//! the key that made it; everything that depends on time or trust (expiry,
//! revocation, binding, accepted identities) is checked on every call.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use sequoia_openpgp::types::HashAlgorithm;

use crate::Fingerprint;

/// How many verified signatures are remembered (about 100 bytes each).
pub(crate) const CAPACITY: usize = 4096;

type Entry = ([u8; 32], Fingerprint);

/// The memory: first in, first out, at most [`CAPACITY`] entries. Clones
/// share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct VerifiedSignatures {
    inner: Arc<Mutex<Fifo>>,
}

#[derive(Debug, Default)]
struct Fifo {
    set: HashSet<Entry>,
    order: VecDeque<Entry>,
}

impl VerifiedSignatures {
    /// The key a blob and signer are remembered under (None only if the
    /// backend cannot hash, in which case nothing is remembered).
    pub(crate) fn key(blob: &[u8], signer: &Fingerprint) -> Option<Entry> {
        let mut context = HashAlgorithm::SHA256.context().ok()?.for_digest();
        context.update(blob);
        let digest = context.into_digest().ok()?;
        Some((digest.try_into().ok()?, signer.clone()))
    }

    /// Whether this blob's signature by `signer` verified before.
    pub(crate) fn contains(&self, entry: &Entry) -> bool {
        self.lock().set.contains(entry)
    }

    /// Remembers a verified signature, forgetting the oldest past capacity.
    pub(crate) fn insert(&self, entry: Entry) {
        let mut fifo = self.lock();
        if !fifo.set.insert(entry.clone()) {
            return;
        }
        fifo.order.push_back(entry);
        while fifo.order.len() > CAPACITY {
            if let Some(old) = fifo.order.pop_front() {
                fifo.set.remove(&old);
            }
        }
    }

    /// How many are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().order.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fifo> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_bounded_first_in_first_out() {
        let fp = Fingerprint::parse("0123456789ABCDEF0123456789ABCDEF01234567").unwrap();
        let v = VerifiedSignatures::default();
        let key = |blob: &[u8], fp: &Fingerprint| VerifiedSignatures::key(blob, fp).unwrap();
        let first = key(b"blob 0", &fp);
        v.insert(first.clone());
        v.insert(first.clone());
        assert_eq!(v.len(), 1);
        for i in 1..=CAPACITY {
            v.insert(key(format!("blob {i}").as_bytes(), &fp));
        }
        assert_eq!(v.len(), CAPACITY);
        assert!(!v.contains(&first), "the oldest was forgotten");
        assert!(v.contains(&key(b"blob 1", &fp)));
        let other = Fingerprint::parse("1123456789ABCDEF0123456789ABCDEF01234567").unwrap();
        assert!(!v.contains(&key(b"blob 1", &other)));
    }
}
