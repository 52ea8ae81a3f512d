//! Time, passed in: [`Clock`].
//!
//! Nothing in this crate reads the system clock on its own. Every
//! time-dependent API takes a time (`sign_at`, `reference_time`,
//! `creation_time`) or a [`Clock`]; the conveniences that mean "now"
//! (`Signer::sign`, a `Verifier` without a reference time, a key generated
//! without a creation time) ask the clock they were given, [`SystemClock`]
//! unless the caller set another one. Tests pin time with a fixed
//! `SystemTime`, which is a `Clock` too.

use std::fmt::Debug;
use std::time::SystemTime;

/// A source of the current time.
pub trait Clock: Debug + Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock: the only place this crate reads the time of day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A fixed time is a clock that never moves.
impl Clock for SystemTime {
    fn now(&self) -> SystemTime {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn fixed_and_system() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(t.now(), t);
        assert!(SystemClock.now() > t);
    }
}
