//! oscap's process group: killed as a whole, and watched for a hang.
//!
//! oscap runs in a process group of its own (`process_group(0)`). Under
//! `fakeroot` it is a grandchild beside fakeroot's daemon, so killing the
//! direct child would leave both running: a timeout or a dropped scan kills
//! the group ([`KillGroupOnDrop`]).
//!
//! Why a watchdog: OpenSCAP 1.3.7's in-process probe threads can deadlock.
//! Seen here in an XCCDF scan of the Debian image: all 41 threads waiting on
//! futexes, no CPU time used for 15 minutes, until the scan's timeout (30
//! minutes by default) would have failed it. oscap reading an offline root
//! always uses some CPU, so a group that used none at all for a whole
//! window is hung ([`stalled`]); the scanner kills it and runs oscap again.

use std::time::Duration;

use rustix::process::{Pid, Signal};

/// Kills a process group when dropped, unless disarmed.
pub(crate) struct KillGroupOnDrop(Option<Pid>);

impl KillGroupOnDrop {
    /// Guards the group led by the process `id` (started with
    /// `process_group(0)`).
    pub(crate) fn new(id: Option<u32>) -> Self {
        KillGroupOnDrop(id.and_then(|id| Pid::from_raw(i32::try_from(id).ok()?)))
    }

    /// The leader was waited for: leave the group alone (its id may be
    /// reused once its members are gone).
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // ESRCH (already gone) is fine.
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
    }
}

/// The CPU time of the processes in group `pgid` (user and system, their
/// own and that of the children they waited for), in clock ticks, read from
/// `/proc/PID/stat`.
pub(crate) fn group_cpu_ticks(pgid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .as_encoded_bytes()
                .iter()
                .all(u8::is_ascii_digit)
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| group_and_ticks(&stat))
        .filter(|&(group, _)| group == pgid)
        .map(|(_, ticks)| ticks)
        .sum()
}

/// `(pgrp, utime + stime + cutime + cstime)` of one `/proc/PID/stat` line:
/// fields 5 and 14 to 17, counted after the command name (field 2, in
/// parentheses, which may itself hold spaces and parentheses).
fn group_and_ticks(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state).
    let group = fields.get(2)?.parse().ok()?;
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<i64>().map(i64::unsigned_abs))
        .sum::<Result<u64, _>>()
        .ok()?;
    Some((group, ticks))
}

/// Resolves once group `pgid` has used no CPU time at all for `window`
/// (sampled twelve times per window); never, while it keeps working.
pub(crate) async fn stalled(pgid: u32, window: Duration) {
    let every = (window / 12).max(Duration::from_millis(50));
    let mut last = group_cpu_ticks(pgid);
    let mut idle = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        let now = group_cpu_ticks(pgid);
        if now == last {
            idle += every;
            if idle >= window {
                return;
            }
        } else {
            last = now;
            idle = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_group_and_cpu_ticks() {
        // Field 2 with a space and a parenthesis, as a command may have.
        let line = "4242 (oscap (x) y) S 1 4240 4240 0 -1 4194560 100 0 0 0 \
                    7 3 2 1 20 0 41 0 100 0 0";
        assert_eq!(group_and_ticks(line), Some((4240, 13)));
        assert_eq!(group_and_ticks("garbage"), None);
        assert_eq!(group_and_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn this_process_group_uses_cpu_time() {
        let me = rustix::process::getpgrp()
            .as_raw_nonzero()
            .get()
            .unsigned_abs();
        let before = group_cpu_ticks(me);
        // Burn a little CPU: the count grows.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(group_cpu_ticks(me) > before, "{before}");
        assert_eq!(group_cpu_ticks(u32::MAX), 0, "no such group");
    }
}
