//! Supervision policy, without I/O: when to respawn a dead child, which deaths are
//! permanent, and how often to ping.

use std::time::Duration;

/// keepalived's permanent exit codes: a child that exits with one of these would fail the
/// same way again, so the daemon stops instead of respawning it.
pub const EXIT_FATAL: i32 = 1;
/// The configuration cannot be applied.
pub const EXIT_CONFIG: i32 = 2;
/// A permission the child needs is missing (user, capability, SELinux).
pub const EXIT_MISSING_PERMISSION: i32 = 4;

/// A run longer than this resets the back-off.
pub const STABLE_RUN: Duration = Duration::from_secs(60);

/// The name of a permanent exit code, or None when the child may be respawned.
pub fn permanent(code: i32) -> Option<&'static str> {
    match code {
        EXIT_FATAL => Some("FATAL"),
        EXIT_CONFIG => Some("CONFIG"),
        EXIT_MISSING_PERMISSION => Some("missing permission"),
        _ => None,
    }
}

/// Respawn back-off of one child: immediate the first two times, then 1, 2, 4, 8, 16, 32,
/// 60, 60... seconds while it keeps dying within [`STABLE_RUN`] of its start, reset by a
/// stable run. keepalived (KEEPALIVED-REFERENCE 1.3) waits 1 s already at the second quick
/// death; at advert_int 0.1 that second second would cost the VIP, so keepalived-rs
/// allows one more immediate respawn before backing off.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    quick_deaths: u32,
}

impl Backoff {
    /// Records a death after `ran` and returns how long to wait before the respawn.
    pub fn on_death(&mut self, ran: Duration) -> Duration {
        if ran >= STABLE_RUN {
            self.quick_deaths = 0;
        }
        let delay = match self.quick_deaths {
            0 | 1 => 0,
            n => {
                let d = 1u64 << (n - 2).min(6);
                if d > 32 { 60 } else { d }
            }
        };
        self.quick_deaths = self.quick_deaths.saturating_add(1);
        Duration::from_secs(delay)
    }
}

/// Heartbeat timing for a child that serves timers as short as `shortest` (the smallest
/// advert_int or delay_loop): ping every half of it (50 ms to 1 s) and declare the child
/// hung when a ping stays unanswered for twice it (1 s to 10 s). At advert_int 1 a hung VRRP
/// process is replaced inside its peer's Master_Down_Interval; at shorter intervals no
/// heartbeat could be (the interval is shorter than a loaded scheduler's stalls), and a floor
/// of 0.5 s killed a healthy VRRP process serving 1,000 instances at advert_int 0.1 once in
/// five benchmark runs, which cost more than the hang it guards against.
pub fn heartbeat(shortest: Option<Duration>) -> (Duration, Duration) {
    let s = shortest.unwrap_or(Duration::from_secs(2));
    let period = (s / 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let deadline = (s * 2).clamp(Duration::from_secs(1), Duration::from_secs(10));
    (period, deadline.max(period * 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_immediate_twice_then_doubles_to_sixty_and_resets_after_a_stable_run() {
        // keepalived (KEEPALIVED-REFERENCE 1.3): 0, 1, 2, 4, 8, 16, 32, 60, 60 s; one more
        // immediate respawn here, so a second crash within a minute costs no VIP.
        let mut b = Backoff::default();
        let quick = Duration::from_secs(1);
        let got: Vec<u64> = (0..10).map(|_| b.on_death(quick).as_secs()).collect();
        assert_eq!(got, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.on_death(Duration::from_secs(61)), Duration::ZERO);
        assert_eq!(b.on_death(quick), Duration::ZERO);
        assert_eq!(b.on_death(quick), Duration::from_secs(1));
    }

    #[test]
    fn permanent_exit_codes_are_keepalived_ones() {
        assert_eq!(permanent(1), Some("FATAL"));
        assert_eq!(permanent(2), Some("CONFIG"));
        assert_eq!(permanent(4), Some("missing permission"));
        assert_eq!(permanent(0), None);
        assert_eq!(permanent(3), None);
    }

    #[test]
    fn heartbeat_follows_the_shortest_timer_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(heartbeat(Some(ms(1000))), (ms(500), ms(2000)));
        assert_eq!(heartbeat(Some(ms(100))), (ms(50), ms(1000)));
        assert_eq!(heartbeat(Some(ms(10))), (ms(50), ms(1000)));
        assert_eq!(
            heartbeat(Some(Duration::from_secs(60))),
            (ms(1000), ms(10000))
        );
        assert_eq!(heartbeat(None), (ms(1000), ms(4000)));
    }
}
