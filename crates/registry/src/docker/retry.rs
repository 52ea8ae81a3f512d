//! When and how long to wait before trying an idempotent request again.

use std::time::Duration;

/// Retries of idempotent requests (GET, HEAD, and writes the protocol makes
/// idempotent) after 5xx answers, 429, resets, timeouts and bodies cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles each time.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy with `max_attempts` attempts and the given first wait.
    pub fn new(max_attempts: u32, initial_backoff: Duration) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            ..RetryPolicy::default()
        }
    }

    /// No retries at all.
    pub fn never() -> Self {
        RetryPolicy::new(1, Duration::ZERO)
    }

    /// The wait after failed attempt number `attempt` (1-based), or `None`
    /// when no attempt is left.
    pub fn backoff(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        Some(
            self.initial_backoff
                .saturating_mul(factor)
                .min(self.max_backoff),
        )
    }
}

/// Whether an HTTP status is worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops() {
        let p = RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        assert_eq!(p.backoff(1), Some(Duration::from_millis(100)));
        assert_eq!(p.backoff(2), Some(Duration::from_millis(200)));
        assert_eq!(p.backoff(3), Some(Duration::from_millis(300)));
        assert_eq!(p.backoff(4), None);
        assert_eq!(RetryPolicy::never().backoff(1), None);
        let big = RetryPolicy::new(100, Duration::from_secs(1));
        assert_eq!(big.backoff(60), Some(big.max_backoff));
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable_status(503));
        assert!(is_retryable_status(429));
        assert!(!is_retryable_status(404));
        assert!(!is_retryable_status(401));
    }
}
