//! The thin bridge from the parsed keepalived.conf (`keepalived-config`) to
//! [`InstanceConfig`]: defaults from `global_defs`, trackers resolved by name, sync group
//! membership. The state machine itself never sees parser types.

use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::vrrp::{self as conf, AuthType, TrackRef, VrrpInstance};

use crate::config::{GarpConfig, InitialState, InstanceConfig};
use crate::error::ConfigError;
use crate::packet::{Auth, ChecksumMode, Family, Password, UnicastPeer, Version};
use crate::priority::{Tracker, TrackerStatus};
use crate::timer::PRIORITY_OWNER;

impl InstanceConfig {
    /// The configuration of `instance` within `config`.
    ///
    /// Trackers come in this order: `track_interface`, `track_script`, `track_file`,
    /// `track_process`, then the sync group's; in a sync group without
    /// `sync_group_tracking_weight` every weight counts as 0, as in keepalived. Every tracker starts [`TrackerStatus::Unknown`]
    /// (`init_fail` scripts: down; files with `init_file`: its value): the driver reports
    /// the real statuses before [`crate::Event::Start`]. `vrrp_delay_after_boot` depends
    /// on the uptime, so the driver adds it to `startup_delay`.
    ///
    /// Refused with an error: `auth_type AH`, `old_unicast_checksum` and
    /// `timer_expired_backup` (not implemented), a missing `virtual_router_id`, an unknown
    /// tracker name.
    pub fn from_config(
        config: &Config,
        instance: &VrrpInstance,
    ) -> Result<InstanceConfig, ConfigError> {
        let g = &config.global_defs;
        let name = &instance.name;
        let err = |msg: String| ConfigError::Config(format!("vrrp_instance {name}: {msg}"));
        let vrid = instance
            .virtual_router_id
            .ok_or_else(|| err("virtual_router_id is required".into()))?;
        let vips: Vec<_> = instance
            .virtual_ipaddress
            .iter()
            .map(|a| a.address.addr)
            .collect();
        let family = if instance.native_ipv6 || vips.first().is_some_and(|a| a.is_ipv6()) {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let version = match (instance.version, family) {
            (Some(3), _) | (None, Family::Ipv6) => Version::V3,
            (Some(2), _) => Version::V2,
            (Some(n), _) => return Err(err(format!("version {n} is not 2 or 3"))),
            (None, Family::Ipv4) => Version::from_number(g.vrrp_version).unwrap_or(Version::V2),
        };
        let priority = instance.priority.unwrap_or(match instance.state {
            Some(conf::InitialState::Master) => PRIORITY_OWNER,
            _ => 100,
        });
        let initial_state = match instance.state {
            Some(conf::InitialState::Master) => InitialState::Master,
            Some(conf::InitialState::Backup) => InitialState::Backup,
            None if priority == PRIORITY_OWNER => InitialState::Master,
            None => InitialState::Backup,
        };
        let auth = match &instance.authentication {
            None => Auth::None,
            Some(a) => match a.auth_type {
                Some(AuthType::Ah) => {
                    return Err(err("auth_type AH is not supported".into()));
                }
                _ => a
                    .auth_pass
                    .as_deref()
                    .map_or(Auth::None, |p| Auth::Pass(Password::from_text(p))),
            },
        };
        if instance.old_unicast_checksum.is_some() {
            return Err(err("old_unicast_checksum is not supported".into()));
        }
        if instance.timer_expired_backup.is_some() {
            return Err(err("timer_expired_backup is not supported".into()));
        }
        let strict = instance.strict_mode.unwrap_or(g.vrrp_strict);
        let owner_ignore_adverts = match instance.owner_ignore_adverts {
            // keepalived forces it on for an owner even when set off (KR 8.8).
            Some(v) => v || priority == PRIORITY_OWNER,
            None => priority == PRIORITY_OWNER && (strict || g.vrrp_owner_ignore_adverts),
        };
        let multicast_group = instance.mcast_dst_ip.or(match family {
            Family::Ipv4 => Some(g.vrrp_mcast_group4.into()),
            Family::Ipv6 => Some(g.vrrp_mcast_group6.into()),
        });
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        let master_delay = instance
            .garp_master_delay
            .map_or(secs(g.vrrp_garp_master_delay), |t| t.duration());
        let master_repeat = instance
            .garp_master_repeat
            .unwrap_or(g.vrrp_garp_master_repeat);
        let garp = GarpConfig {
            master_delay,
            master_repeat,
            master_refresh: instance
                .garp_master_refresh
                .map_or(secs(g.vrrp_garp_master_refresh), |t| t.duration()),
            master_refresh_repeat: instance
                .garp_master_refresh_repeat
                .unwrap_or(g.vrrp_garp_master_refresh_repeat),
            lower_prio_delay: instance.garp_lower_prio_delay.map_or(
                g.vrrp_garp_lower_prio_delay.map_or(master_delay, secs),
                |t| t.duration(),
            ),
            lower_prio_repeat: instance
                .garp_lower_prio_repeat
                .or(g.vrrp_garp_lower_prio_repeat)
                .unwrap_or(master_repeat),
        };
        let down_timer_adverts = instance
            .down_timer_adverts
            .unwrap_or(u8::try_from(g.vrrp_down_timer_adverts).unwrap_or(100));

        let group = config
            .vrrp_sync_groups
            .iter()
            .find(|sg| sg.group.iter().any(|m| m.name == *name));
        // keepalived ignores the weights of a sync group member's trackers unless the
        // group has sync_group_tracking_weight: they all count as weight 0.
        let weighted = group.is_none_or(|sg| sg.sync_group_tracking_weight);
        let mut trackers = Vec::new();
        add_trackers(
            config,
            &instance.track_interface,
            &instance.track_script,
            &instance.track_file,
            &instance.track_process,
            weighted,
            &mut trackers,
        )
        .map_err(err)?;
        if let Some(sg) = group {
            add_trackers(
                config,
                &sg.track_interface,
                &sg.track_script,
                &sg.track_file,
                &sg.track_process,
                sg.sync_group_tracking_weight,
                &mut trackers,
            )
            .map_err(err)?;
        }

        Ok(InstanceConfig {
            name: name.clone(),
            vrid,
            family,
            version,
            priority,
            initial_state,
            advert_interval: instance.advert_int.duration(),
            auth,
            vips,
            no_virtual_ipaddress: instance.no_virtual_ipaddress,
            nopreempt: instance.nopreempt,
            preempt_delay: instance
                .preempt_delay
                .map_or(Duration::ZERO, |t| t.duration()),
            down_timer_adverts,
            startup_delay: g
                .vrrp_startup_delay
                .map_or(Duration::ZERO, |t| t.duration()),
            multicast_group,
            unicast_peers: instance
                .unicast_peer
                .iter()
                .map(|p| UnicastPeer {
                    addr: p.address,
                    min_ttl: p.min_ttl,
                    max_ttl: p.max_ttl,
                })
                .collect(),
            unicast_fault_no_peer: instance.unicast_fault_no_peer,
            check_unicast_src: instance.check_unicast_src || g.vrrp_check_unicast_src,
            primary_address: instance.unicast_src_ip.or(instance.mcast_src_ip),
            checksum: if instance.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2) {
                ChecksumMode::AsV2
            } else {
                ChecksumMode::PseudoHeader
            },
            lower_prio_no_advert: instance
                .lower_prio_no_advert
                .or(g.vrrp_lower_prio_no_advert)
                .unwrap_or(strict),
            higher_prio_send_advert: instance
                .higher_prio_send_advert
                .or(g.vrrp_higher_prio_send_advert)
                .unwrap_or(false),
            owner_ignore_adverts,
            strict,
            skip_check_adv_addr: instance
                .skip_check_adv_addr
                .unwrap_or(g.vrrp_skip_check_adv_addr),
            track_primary_interface: !instance.dont_track_primary,
            trackers,
            garp,
            notify_priority_changes: instance
                .notify_priority_changes
                .unwrap_or(g.vrrp_notify_priority_changes),
            sync_group: group.is_some(),
        })
    }
}

/// Resolves tracker references by name; `weighted` false gives every tracker weight 0
/// (sync group trackers without `sync_group_tracking_weight`).
fn add_trackers(
    config: &Config,
    interfaces: &[TrackRef],
    scripts: &[TrackRef],
    files: &[TrackRef],
    processes: &[TrackRef],
    weighted: bool,
    out: &mut Vec<Tracker>,
) -> Result<(), String> {
    let w = |weight: i32| if weighted { weight } else { 0 };
    for r in interfaces {
        let weight = w(r.weight.unwrap_or(0));
        let reverse = r.reverse.unwrap_or(false);
        out.push(Tracker::up_down(
            &r.name,
            weight,
            reverse,
            TrackerStatus::Unknown,
        ));
    }
    for r in scripts {
        let s = config
            .vrrp_scripts
            .iter()
            .find(|s| s.name == r.name)
            .ok_or_else(|| format!("track_script {} is not a vrrp_script", r.name))?;
        let initial = if s.init_fail {
            TrackerStatus::Down
        } else {
            TrackerStatus::Unknown
        };
        let weight = w(r.weight.unwrap_or(s.weight));
        out.push(Tracker::up_down(
            &r.name,
            weight,
            r.reverse.unwrap_or(s.reverse),
            initial,
        ));
    }
    for r in files {
        let f = config
            .track_files
            .iter()
            .find(|f| f.name == r.name)
            .ok_or_else(|| format!("track_file {} is not a track_file", r.name))?;
        let mut t = Tracker::file(
            &r.name,
            w(r.weight.unwrap_or(f.weight)),
            r.reverse.unwrap_or(f.reverse),
            0,
        );
        t.initial = f.init_file.map_or(TrackerStatus::Unknown, |i| {
            TrackerStatus::Value(i64::from(i.value))
        });
        out.push(t);
    }
    for r in processes {
        let p = config
            .vrrp_track_processes
            .iter()
            .find(|p| p.name == r.name)
            .ok_or_else(|| format!("track_process {} is not a vrrp_track_process", r.name))?;
        let weight = w(r.weight.unwrap_or(p.weight));
        out.push(Tracker::up_down(
            &r.name,
            weight,
            r.reverse.unwrap_or(p.reverse),
            TrackerStatus::Unknown,
        ));
    }
    Ok(())
}
