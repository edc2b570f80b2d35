//! The VRRP timer formulas (RFC 3768 6.1, RFC 9568 6.1, as keepalived computes them,
//! KEEPALIVED-REFERENCE 6.4), and the names of an instance's timers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::packet::{AdvertInterval, Version};

/// The priority of the address owner.
pub const PRIORITY_OWNER: u8 = 255;
/// The priority a stopping master advertises.
pub const PRIORITY_STOP: u8 = 0;
/// The default `down_timer_adverts`: Master_Down_Interval is 3 intervals + skew.
pub const DEFAULT_DOWN_TIMER_ADVERTS: u8 = 3;

/// One of an instance's timers. Each has at most one deadline; an expiry for a timer that
/// is not armed, or before its deadline, is ignored (so a late or duplicate expiry from the
/// driver is harmless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// Adver_Timer: the master sends an advert when it expires (RFC 9568 6.4.3).
    Advert,
    /// Master_Down_Timer: the backup takes over when it expires (RFC 9568 6.4.2).
    MasterDown,
    /// The second GARP/NA burst `garp_master_delay` after becoming master.
    GarpDelay,
    /// The periodic `garp_master_refresh` burst.
    GarpRefresh,
    /// The delayed GARP/NA burst `garp_lower_prio_delay` after a lower-priority advert.
    GarpLowerPriority,
}

impl TimerKind {
    /// Every timer.
    pub const ALL: [TimerKind; 5] = [
        TimerKind::Advert,
        TimerKind::MasterDown,
        TimerKind::GarpDelay,
        TimerKind::GarpRefresh,
        TimerKind::GarpLowerPriority,
    ];

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Skew_Time for `priority` (use 255 for an owner, else the effective priority).
///
/// * VRRPv2 (RFC 3768 6.1): `(256 - Priority) / 256` seconds.
/// * VRRPv3 (RFC 9568 6.1): `((256 - Priority) * Master_Adver_Interval) / 256`, computed
///   in microseconds as keepalived does: `(256 - prio) * centiseconds * 625 / 16`.
pub fn skew_time(version: Version, priority: u8, master_adver_int: AdvertInterval) -> Duration {
    skew_units(version, 256 - u64::from(priority), master_adver_int)
}

/// The smallest skew (`256 - priority` = 1), keepalived's `VRRP_TIMER_SKEW_MIN`.
pub fn skew_min(version: Version, master_adver_int: AdvertInterval) -> Duration {
    skew_units(version, 1, master_adver_int)
}

fn skew_units(version: Version, units: u64, master_adver_int: AdvertInterval) -> Duration {
    match version {
        Version::V2 => Duration::from_micros(units * 1_000_000 / 256),
        Version::V3 => {
            let cs = master_adver_int.as_micros() / 10_000;
            Duration::from_micros(units * cs * 625 / 16)
        }
    }
}

/// Master_Down_Interval: `down_timer_adverts × Master_Adver_Interval + Skew_Time`
/// (RFC 9568 6.1 with 3 intervals; keepalived's `down_timer_adverts` makes it 1..100).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_int: AdvertInterval,
    down_timer_adverts: u8,
) -> Duration {
    master_adver_int.as_duration() * u32::from(down_timer_adverts)
        + skew_time(version, priority, master_adver_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3768 6.1: Skew_Time = (256 - Priority) / 256 seconds.
    #[test]
    fn v2_skew_and_down_interval() {
        let one = AdvertInterval::Secs(1);
        assert_eq!(
            skew_time(Version::V2, 150, one),
            Duration::from_micros(414_062)
        );
        // KEEPALIVED-REFERENCE 6.4: prio 150 became master 3.405 s after the join,
        // predicted 3 + 106/256 = 3.414 s.
        assert_eq!(
            master_down_interval(Version::V2, 150, one, 3),
            Duration::from_micros(3_414_062)
        );
        // The v2 skew does not depend on the interval.
        assert_eq!(
            skew_time(Version::V2, 100, AdvertInterval::Secs(5)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 255, one),
            Duration::from_micros(3_906)
        );
        assert_eq!(skew_min(Version::V2, one), Duration::from_micros(3_906));
    }

    // RFC 9568 6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256.
    #[test]
    fn v3_skew_and_down_interval() {
        let half = AdvertInterval::Centis(50);
        // KEEPALIVED-REFERENCE 6.4: VI_3 (v3, 0.5 s, prio 120): 1.5 + 0.266 = 1.766 s.
        assert_eq!(
            skew_time(Version::V3, 120, half),
            Duration::from_micros(265_625)
        );
        assert_eq!(
            master_down_interval(Version::V3, 120, half, 3),
            Duration::from_micros(1_765_625)
        );
        let one = AdvertInterval::Centis(100);
        assert_eq!(
            skew_time(Version::V3, 100, one),
            Duration::from_micros(609_375)
        );
        assert_eq!(skew_min(Version::V3, one), Duration::from_micros(3_906));
        // down_timer_adverts 1..100.
        assert_eq!(
            master_down_interval(Version::V3, 100, one, 1),
            Duration::from_micros(1_609_375)
        );
        // The largest values do not overflow.
        let max = AdvertInterval::Centis(4095);
        assert_eq!(
            master_down_interval(Version::V3, 1, max, 100),
            Duration::from_micros(4_095_000_000 + 255 * 4095 * 625 / 16)
        );
    }
}
