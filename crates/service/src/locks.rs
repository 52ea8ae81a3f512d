//! One signing at a time per image and identity, within a process.
//!
//! Signing is check-then-write: list the store, reuse a signature that is
//! already there, else sign and add. Two runs for the same digest and
//! identity at once (two requests for one image, reconciled concurrently)
//! would both find nothing and both write; with Ed25519 in the same second
//! their signatures happen to be identical, but across a second boundary (or
//! with RSA, ECDSA) the image would get two. Runs that share a [`Pipeline`]
//! (clones share it) take this lock around the check and the write.
//!
//! Entries are removed when the last holder or waiter leaves, so a
//! long-running controller keeps no memory of the images it signed.
//!
//! [`Pipeline`]: crate::Pipeline

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

type Slot = Arc<tokio::sync::Mutex<()>>;

/// Locks by key (an identity and digest), shared by clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct SigningLocks {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

/// Held while signing one image for one identity.
pub(crate) struct SigningGuard {
    locks: SigningLocks,
    key: String,
    slot: Slot,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SigningLocks {
    /// Waits until no other run holds `key`, then holds it.
    pub(crate) async fn lock(&self, key: String) -> SigningGuard {
        let slot = self.map().entry(key.clone()).or_default().clone();
        let guard = slot.clone().lock_owned().await;
        SigningGuard {
            locks: self.clone(),
            key,
            slot,
            guard: Some(guard),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for SigningGuard {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map();
        // The map's reference and ours: nobody else holds or waits.
        if Arc::strong_count(&self.slot) == 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_per_key_and_nothing_left_behind() {
        let locks = SigningLocks::default();
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _g = locks.lock("app@sha256:1".into()).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "two runs held one key at once"
        );
        assert_eq!(locks.len(), 0, "a released key stays in memory");
        // Different keys do not wait for each other.
        let _a = locks.lock("a".into()).await;
        let _b = locks.lock("b".into()).await;
        assert_eq!(locks.len(), 2);
    }
}
