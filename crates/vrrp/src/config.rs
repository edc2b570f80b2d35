//! The configuration of one instance as plain values, and the fix-ups keepalived applies
//! to it (strict mode, KEEPALIVED-REFERENCE 6.10; incompatible options, 6.5 and 2.11).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::ConfigError;
use crate::packet::{AdvertInterval, Auth, ChecksumMode, Family, UnicastPeer, Version};
use crate::priority::Tracker;
use crate::timer::{DEFAULT_DOWN_TIMER_ADVERTS, PRIORITY_OWNER};

/// `state MASTER|BACKUP`: the state the instance wishes for at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InitialState {
    /// Wants to be master: an owner (priority 255) becomes master at once; anyone else
    /// waits one interval and the smallest skew for another master first.
    Master,
    /// Starts as backup and waits Master_Down_Interval.
    Backup,
}

/// Gratuitous ARP / unsolicited NA settings (KEEPALIVED-REFERENCE 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GarpConfig {
    /// `garp_master_delay`: the second burst after becoming master (0: none). Default 5 s.
    pub master_delay: Duration,
    /// `garp_master_repeat`: GARP rounds per burst. Default 5.
    pub master_repeat: u32,
    /// `garp_master_refresh`: periodic bursts while master (0: none). Default 0.
    pub master_refresh: Duration,
    /// `garp_master_refresh_repeat`: rounds per refresh. Default 1.
    pub master_refresh_repeat: u32,
    /// `garp_lower_prio_delay`: the delayed burst after a lower-priority advert (0: none).
    /// Defaults to `master_delay`; strict mode: 0.
    pub lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat`: rounds sent at once after a lower-priority advert (0:
    /// none). Defaults to `master_repeat`; strict mode: 0.
    pub lower_prio_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> GarpConfig {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        }
    }
}

/// One VRRP instance's configuration, as plain values (no parser types), so the state
/// machine can be built and tested without a keepalived.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// The instance name (`vrrp_instance NAME`).
    pub name: String,
    /// `virtual_router_id` 1..=255.
    pub vrid: u8,
    /// The address family of the VIPs and adverts.
    pub family: Family,
    /// `version 2|3`.
    pub version: Version,
    /// `priority` 1..=255 (the base priority; 255 = address owner).
    pub priority: u8,
    /// `state MASTER|BACKUP`.
    pub initial_state: InitialState,
    /// `advert_int`; rounded to whole seconds (v2) or centiseconds (v3).
    pub advert_interval: Duration,
    /// `authentication` (VRRPv2 over IPv4 only).
    pub auth: Auth,
    /// The `virtual_ipaddress` addresses carried in adverts (eVIPs are the driver's).
    pub vips: Vec<IpAddr>,
    /// `no_virtual_ipaddress`: run without VIPs.
    pub no_virtual_ipaddress: bool,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (0..=1000 s).
    pub preempt_delay: Duration,
    /// `down_timer_adverts` 1..=100 (default 3).
    pub down_timer_adverts: u8,
    /// `vrrp_startup_delay`: nothing happens before start + this.
    pub startup_delay: Duration,
    /// `mcast_dst_ip`: the multicast group (default 224.0.0.18 / ff02::12).
    pub multicast_group: Option<IpAddr>,
    /// `unicast_peer` addresses with their TTL bounds; non-empty = unicast.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `unicast_fault_no_peer`: unicast without peers means FAULT.
    pub unicast_fault_no_peer: bool,
    /// `check_unicast_src`.
    pub check_unicast_src: bool,
    /// Our primary address (`unicast_src_ip`/`mcast_src_ip`, or the interface's), for the
    /// equal-priority tie-break; updated by [`crate::instance::Event::PrimaryAddress`].
    pub primary_address: Option<IpAddr>,
    /// `v3_checksum_as_v2`.
    pub checksum: ChecksumMode,
    /// `lower_prio_no_advert`: a master does not answer a lower-priority advert.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master sends one more advert before yielding.
    pub higher_prio_send_advert: bool,
    /// `owner_ignore_adverts`: an owner at 255 drops every advert.
    pub owner_ignore_adverts: bool,
    /// `strict_mode` / `vrrp_strict`.
    pub strict: bool,
    /// `skip_check_adv_addr`: do not compare the VIP list of adverts from the same master.
    pub skip_check_adv_addr: bool,
    /// Not `dont_track_primary`: the instance's own interface going down is a FAULT.
    pub track_primary_interface: bool,
    /// `track_interface`, `track_script`, `track_file`, `track_process` (and the sync
    /// group's), indexed by [`crate::instance::Event::TrackerChanged`].
    pub trackers: Vec<Tracker>,
    /// GARP / NA settings.
    pub garp: GarpConfig,
    /// `notify_priority_changes`.
    pub notify_priority_changes: bool,
    /// The instance is in a `vrrp_sync_group` (see [`crate::sync::SyncGroup`]).
    pub sync_group: bool,
}

impl InstanceConfig {
    /// A configuration with keepalived's defaults: priority 100, BACKUP, 1 s interval, no
    /// VIPs (add some, or set `no_virtual_ipaddress`), multicast.
    pub fn new(name: &str, vrid: u8, family: Family, version: Version) -> InstanceConfig {
        InstanceConfig {
            name: name.to_string(),
            vrid,
            family,
            version,
            priority: 100,
            initial_state: InitialState::Backup,
            advert_interval: Duration::from_secs(1),
            auth: Auth::None,
            vips: Vec::new(),
            no_virtual_ipaddress: false,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
            startup_delay: Duration::ZERO,
            multicast_group: None,
            unicast_peers: Vec::new(),
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            primary_address: None,
            checksum: ChecksumMode::PseudoHeader,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            owner_ignore_adverts: false,
            strict: false,
            skip_check_adv_addr: false,
            track_primary_interface: true,
            trackers: Vec::new(),
            garp: GarpConfig::default(),
            notify_priority_changes: false,
            sync_group: false,
        }
    }

    /// The advert interval on the wire.
    pub fn advert_interval_wire(&self) -> AdvertInterval {
        AdvertInterval::from_duration(self.version, self.advert_interval)
    }

    /// Adverts go to unicast peers.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// Applies keepalived's fix-ups (strict mode and incompatible options) and checks what
    /// cannot be fixed. Returns what was changed, for the log.
    pub fn normalise(&mut self) -> Result<Vec<Fixup>, ConfigError> {
        let mut fixups = Vec::new();
        if self.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority);
        }
        if let Some(bad) = self.vips.iter().find(|a| Family::of(a) != self.family) {
            return Err(ConfigError::AddressFamily(*bad));
        }
        if self.vips.len() > 255 {
            return Err(ConfigError::TooManyAddresses(self.vips.len()));
        }
        let owner = self.priority == PRIORITY_OWNER;
        if self.strict {
            if self.no_virtual_ipaddress {
                self.no_virtual_ipaddress = false;
                fixups.push(Fixup::StrictNeedsVirtualAddress);
            }
            if self.is_unicast() {
                return Err(ConfigError::StrictUnicast);
            }
            if self.family == Family::Ipv6 && self.version == Version::V2 {
                self.version = Version::V3;
                fixups.push(Fixup::StrictIpv6ForcesV3);
            }
            if let Some(IpAddr::V6(first)) = self.vips.first() {
                if !first.is_unicast_link_local() {
                    fixups.push(Fixup::StrictFirstIpv6NotLinkLocal);
                }
            }
            let wants_master = self.initial_state == InitialState::Master;
            if wants_master != owner {
                self.initial_state = if owner {
                    InitialState::Master
                } else {
                    InitialState::Backup
                };
                fixups.push(Fixup::StrictStateMatchesOwner);
            }
            if self.auth != Auth::None {
                self.auth = Auth::None;
                fixups.push(Fixup::AuthIgnored);
            }
            if !self.preempt_delay.is_zero() {
                self.preempt_delay = Duration::ZERO;
                fixups.push(Fixup::PreemptDelayCleared);
            }
            if self.garp.lower_prio_repeat != 0 || !self.garp.lower_prio_delay.is_zero() {
                self.garp.lower_prio_repeat = 0;
                self.garp.lower_prio_delay = Duration::ZERO;
                fixups.push(Fixup::StrictNoLowerPriorityGarp);
            }
            if !self.lower_prio_no_advert {
                self.lower_prio_no_advert = true;
                fixups.push(Fixup::StrictLowerPrioNoAdvert);
            }
            if self.higher_prio_send_advert {
                self.higher_prio_send_advert = false;
                fixups.push(Fixup::StrictHigherPrioSendAdvert);
            }
            if self.down_timer_adverts != DEFAULT_DOWN_TIMER_ADVERTS {
                self.down_timer_adverts = DEFAULT_DOWN_TIMER_ADVERTS;
                fixups.push(Fixup::StrictDownTimerAdverts);
            }
            if owner && !self.owner_ignore_adverts {
                self.owner_ignore_adverts = true;
                fixups.push(Fixup::OwnerIgnoreAdvertsForced);
            }
        }
        if self.auth != Auth::None && (self.version == Version::V3 || self.family == Family::Ipv6) {
            self.auth = Auth::None;
            fixups.push(Fixup::AuthIgnored);
        }
        if owner && self.nopreempt {
            self.nopreempt = false;
            fixups.push(Fixup::NopreemptCleared);
        }
        if self.nopreempt && self.initial_state == InitialState::Master {
            self.nopreempt = false;
            fixups.push(Fixup::NopreemptCleared);
        }
        if !self.preempt_delay.is_zero()
            && (self.nopreempt || self.initial_state == InitialState::Master)
        {
            self.preempt_delay = Duration::ZERO;
            fixups.push(Fixup::PreemptDelayCleared);
        }
        if self.preempt_delay > Duration::from_secs(1000) {
            self.preempt_delay = Duration::from_secs(1000);
            fixups.push(Fixup::PreemptDelayCleared);
        }
        if self.owner_ignore_adverts && !owner {
            self.owner_ignore_adverts = false;
            fixups.push(Fixup::OwnerIgnoreAdvertsCleared);
        }
        if !(1..=100).contains(&self.down_timer_adverts) {
            self.down_timer_adverts = self.down_timer_adverts.clamp(1, 100);
            fixups.push(Fixup::DownTimerAdvertsRange);
        }
        let wire = self.advert_interval_wire().as_duration();
        if wire != self.advert_interval {
            fixups.push(Fixup::IntervalRounded {
                configured_micros: u64::try_from(self.advert_interval.as_micros())
                    .unwrap_or(u64::MAX),
                used_micros: u64::try_from(wire.as_micros()).unwrap_or(u64::MAX),
            });
            self.advert_interval = wire;
        }
        if self.vips.is_empty() && !self.no_virtual_ipaddress {
            return Err(ConfigError::NoVirtualAddress);
        }
        Ok(fixups)
    }
}

/// A configuration problem that keepalived fixes with a warning (its
/// `CONFIG_GENERAL_ERROR`), and that we fix the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
pub enum Fixup {
    /// Strict mode needs a VIP: `no_virtual_ipaddress` is cleared.
    #[error("strict mode needs a virtual address; no_virtual_ipaddress ignored")]
    StrictNeedsVirtualAddress,
    /// Strict mode: IPv6 uses VRRPv3.
    #[error("strict mode: IPv6 uses VRRP version 3")]
    StrictIpv6ForcesV3,
    /// Strict mode: the first IPv6 VIP should be link-local (RFC 9568 5.2.9).
    #[error("strict mode: the first IPv6 virtual address is not link-local")]
    StrictFirstIpv6NotLinkLocal,
    /// Strict mode: `state MASTER` iff priority 255.
    #[error("strict mode: state MASTER must match being address owner")]
    StrictStateMatchesOwner,
    /// Authentication ignored (strict mode, VRRPv3 or IPv6).
    #[error("authentication ignored (strict mode, VRRP version 3 or IPv6)")]
    AuthIgnored,
    /// `preempt_delay` cleared (strict mode, `nopreempt`, `state MASTER`) or capped at
    /// 1000 s.
    #[error("preempt_delay cleared or capped (strict mode, nopreempt, state MASTER, > 1000 s)")]
    PreemptDelayCleared,
    /// `nopreempt` cleared (priority 255 or `state MASTER`).
    #[error("nopreempt is incompatible with priority 255 and state MASTER; cleared")]
    NopreemptCleared,
    /// Strict mode: no lower-priority GARP.
    #[error("strict mode: garp_lower_prio_repeat/delay cleared")]
    StrictNoLowerPriorityGarp,
    /// Strict mode forces `lower_prio_no_advert`.
    #[error("strict mode: lower_prio_no_advert set")]
    StrictLowerPrioNoAdvert,
    /// Strict mode clears `higher_prio_send_advert`.
    #[error("strict mode: higher_prio_send_advert cleared")]
    StrictHigherPrioSendAdvert,
    /// Strict mode forces `down_timer_adverts 3`.
    #[error("strict mode: down_timer_adverts set to 3")]
    StrictDownTimerAdverts,
    /// `down_timer_adverts` outside 1..=100.
    #[error("down_timer_adverts must be 1..100")]
    DownTimerAdvertsRange,
    /// An owner (255) ignores adverts (strict mode, and keepalived's forced true).
    #[error("priority 255 requires owner_ignore_adverts")]
    OwnerIgnoreAdvertsForced,
    /// `owner_ignore_adverts` without priority 255.
    #[error("owner_ignore_adverts ignored since priority is not 255")]
    OwnerIgnoreAdvertsCleared,
    /// The interval was rounded to what the version can carry.
    #[error("advert_int {configured_micros} us rounded to {used_micros} us")]
    IntervalRounded {
        /// Configured, microseconds.
        configured_micros: u64,
        /// Used, microseconds.
        used_micros: u64,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::packet::Password;

    fn base() -> InstanceConfig {
        let mut c = InstanceConfig::new("VI_1", 51, Family::Ipv4, Version::V2);
        c.vips = vec!["192.0.2.10".parse().unwrap()];
        c
    }

    #[test]
    fn defaults_are_clean() {
        let mut c = base();
        assert_eq!(c.normalise(), Ok(vec![]));
    }

    #[test]
    fn unfixable() {
        let mut c = base();
        c.vrid = 0;
        assert_eq!(c.normalise(), Err(ConfigError::Vrid));
        let mut c = base();
        c.priority = 0;
        assert_eq!(c.normalise(), Err(ConfigError::Priority));
        let mut c = base();
        c.vips.push("2001:db8::1".parse().unwrap());
        assert!(matches!(c.normalise(), Err(ConfigError::AddressFamily(_))));
        let mut c = base();
        c.vips.clear();
        assert_eq!(c.normalise(), Err(ConfigError::NoVirtualAddress));
        c.no_virtual_ipaddress = true;
        assert_eq!(c.normalise(), Ok(vec![]));
    }

    // KEEPALIVED-REFERENCE 6.10: strict mode, item by item.
    #[test]
    fn strict_mode_fixups() {
        let mut c = base();
        c.strict = true;
        c.auth = Auth::Pass(Password::from_text("x"));
        c.initial_state = InitialState::Master;
        c.preempt_delay = Duration::from_secs(5);
        c.down_timer_adverts = 5;
        c.higher_prio_send_advert = true;
        let f = c.normalise().unwrap();
        assert!(f.contains(&Fixup::StrictStateMatchesOwner));
        assert!(f.contains(&Fixup::AuthIgnored));
        assert!(f.contains(&Fixup::PreemptDelayCleared));
        assert!(f.contains(&Fixup::StrictDownTimerAdverts));
        assert!(f.contains(&Fixup::StrictLowerPrioNoAdvert));
        assert!(f.contains(&Fixup::StrictHigherPrioSendAdvert));
        assert!(f.contains(&Fixup::StrictNoLowerPriorityGarp));
        assert_eq!(c.initial_state, InitialState::Backup);
        assert_eq!(c.auth, Auth::None);
        assert!(c.preempt_delay.is_zero());
        assert_eq!(c.down_timer_adverts, 3);
        assert!(c.lower_prio_no_advert && !c.higher_prio_send_advert);
        assert_eq!(c.garp.lower_prio_repeat, 0);

        // Strict: an owner is MASTER and ignores adverts.
        let mut c = base();
        c.strict = true;
        c.priority = 255;
        c.initial_state = InitialState::Backup;
        let f = c.normalise().unwrap();
        assert_eq!(c.initial_state, InitialState::Master);
        assert!(c.owner_ignore_adverts);
        assert!(f.contains(&Fixup::OwnerIgnoreAdvertsForced));

        // Strict: unicast refused, VIPs needed, IPv6 forces v3, link-local first.
        let mut c = base();
        c.strict = true;
        c.unicast_peers = vec![UnicastPeer::new("192.0.2.2".parse().unwrap())];
        assert_eq!(c.normalise(), Err(ConfigError::StrictUnicast));
        let mut c = base();
        c.strict = true;
        c.vips.clear();
        c.no_virtual_ipaddress = true;
        assert_eq!(c.normalise(), Err(ConfigError::NoVirtualAddress));
        let mut c = InstanceConfig::new("V6", 1, Family::Ipv6, Version::V2);
        c.strict = true;
        c.vips = vec!["2001:db8::1".parse().unwrap()];
        let f = c.normalise().unwrap();
        assert_eq!(c.version, Version::V3);
        assert!(f.contains(&Fixup::StrictIpv6ForcesV3));
        assert!(f.contains(&Fixup::StrictFirstIpv6NotLinkLocal));
    }

    // KEEPALIVED-REFERENCE 6.5: nopreempt is incompatible with 255 and state MASTER;
    // preempt_delay with state MASTER and nopreempt.
    #[test]
    fn preemption_option_conflicts() {
        let mut c = base();
        c.priority = 255;
        c.nopreempt = true;
        assert_eq!(c.normalise().unwrap(), vec![Fixup::NopreemptCleared]);
        let mut c = base();
        c.initial_state = InitialState::Master;
        c.preempt_delay = Duration::from_secs(10);
        assert_eq!(c.normalise().unwrap(), vec![Fixup::PreemptDelayCleared]);
        let mut c = base();
        c.nopreempt = true;
        c.preempt_delay = Duration::from_secs(10);
        assert_eq!(c.normalise().unwrap(), vec![Fixup::PreemptDelayCleared]);
        assert!(c.nopreempt);
    }

    // KEEPALIVED-REFERENCE 2.11: authentication is VRRPv2/IPv4 only; 6.4 intervals are
    // rounded; owner_ignore_adverts needs 255.
    #[test]
    fn other_fixups() {
        let mut c = base();
        c.version = Version::V3;
        c.auth = Auth::Pass(Password::from_text("x"));
        assert_eq!(c.normalise().unwrap(), vec![Fixup::AuthIgnored]);
        let mut c = base();
        c.advert_interval = Duration::from_millis(1500);
        let f = c.normalise().unwrap();
        assert_eq!(c.advert_interval, Duration::from_secs(2));
        assert!(matches!(f[0], Fixup::IntervalRounded { .. }));
        let mut c = base();
        c.owner_ignore_adverts = true;
        assert_eq!(
            c.normalise().unwrap(),
            vec![Fixup::OwnerIgnoreAdvertsCleared]
        );
        assert!(!c.owner_ignore_adverts);
        let mut c = base();
        c.down_timer_adverts = 0;
        assert_eq!(c.normalise().unwrap(), vec![Fixup::DownTimerAdvertsRange]);
        assert_eq!(c.down_timer_adverts, 1);
    }
}
