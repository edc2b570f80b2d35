//! InstanceConfig::from_config: keepalived.conf defaults and the global_defs that feed an
//! instance.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::time::Duration;

use keepalived_config::{LoadOptions, load_str};
use keepalived_vrrp::{
    Auth, ChecksumMode, ConfigError, Family, InitialState, Instance, InstanceConfig, Password,
    State, Time, TrackerStatus, Version,
};

fn load(text: &str) -> keepalived_config::Config {
    let l = load_str("test.conf", text, &LoadOptions::default());
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    l.config
}

fn instance(text: &str, name: &str) -> Result<InstanceConfig, ConfigError> {
    let c = load(text);
    let vi = c.vrrp_instances.iter().find(|v| v.name == name).unwrap();
    InstanceConfig::from_config(&c, vi)
}

#[test]
fn defaults_from_keepalived() {
    let c = instance(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n",
        "VI_1",
    )
    .unwrap();
    assert_eq!(c.vrid, 51);
    assert_eq!(c.family, Family::Ipv4);
    assert_eq!(c.version, Version::V2, "global vrrp_version defaults to 2");
    assert_eq!(c.priority, 100);
    assert_eq!(c.initial_state, InitialState::Backup);
    assert_eq!(c.advert_interval, Duration::from_secs(1));
    assert_eq!(c.down_timer_adverts, 3);
    assert_eq!(c.multicast_group, Some("224.0.0.18".parse().unwrap()));
    assert_eq!(c.garp.master_repeat, 5);
    assert_eq!(c.garp.master_delay, Duration::from_secs(5));
    assert!(c.track_primary_interface);
    assert!(!c.sync_group);
    let i = Instance::new(c).unwrap();
    assert!(i.fixups().is_empty());
}

// KR 2.7: state MASTER without a priority means 255; priority 255 without a state means
// MASTER; IPv6 VIPs make an IPv6 v3 instance.
#[test]
fn derived_state_priority_family() {
    let c = instance(
        "vrrp_instance A {\n state MASTER\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
        "A",
    )
    .unwrap();
    assert_eq!((c.priority, c.initial_state), (255, InitialState::Master));
    // owner_ignore_adverts unset, not strict: the global default (off).
    assert!(!c.owner_ignore_adverts);
    let c = instance(
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n priority 255\n virtual_ipaddress {\n  fe80::2\n  2001:db8::2\n }\n}\n",
        "B",
    )
    .unwrap();
    assert_eq!(c.initial_state, InitialState::Master);
    assert_eq!((c.family, c.version), (Family::Ipv6, Version::V3));
    assert_eq!(c.multicast_group, Some("ff02::12".parse().unwrap()));
}

#[test]
fn instance_options() {
    let text = r#"
global_defs {
    vrrp_garp_master_repeat 2
    vrrp_check_unicast_src
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 2
    version 2
    nopreempt
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2 min_ttl 250 max_ttl 255
    }
    down_timer_adverts 5
    lower_prio_no_advert
    dont_track_primary
    virtual_ipaddress {
        192.0.2.10
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 52
    version 3
    advert_int 0.5
    v3_checksum_as_v2
    virtual_ipaddress {
        192.0.2.11
    }
}
"#;
    let c = instance(text, "VI_1").unwrap();
    assert_eq!(c.priority, 150);
    assert!(c.nopreempt);
    assert_eq!(c.advert_interval, Duration::from_secs(2));
    assert_eq!(c.auth, Auth::Pass(Password::from_text("secret12")));
    assert_eq!(c.primary_address, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(c.unicast_peers.len(), 1);
    assert_eq!(c.unicast_peers[0].min_ttl, Some(250));
    assert!(c.check_unicast_src, "global vrrp_check_unicast_src");
    assert_eq!(c.down_timer_adverts, 5);
    assert!(c.lower_prio_no_advert);
    assert!(!c.track_primary_interface);
    assert_eq!(c.garp.master_repeat, 2);
    assert_eq!(c.garp.lower_prio_repeat, 2, "defaults to the master value");
    let i = Instance::new(c).unwrap();
    assert_eq!(
        i.destinations(),
        vec!["192.0.2.2".parse::<std::net::IpAddr>().unwrap()]
    );
    let c = instance(text, "VI_3").unwrap();
    assert_eq!(c.checksum, ChecksumMode::AsV2);
    assert_eq!(c.advert_interval, Duration::from_millis(500));
}

// KR 2.2/2.3/2.5: trackers resolved by name with their own weights; in a sync group
// without sync_group_tracking_weight every weight counts as 0.
#[test]
fn trackers_and_sync_groups() {
    let text = r#"
vrrp_script chk {
    script "/bin/true"
    weight -20
    init_fail
}
track_file tf {
    file /run/tf
    weight 3
    init_file 7
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_3
    }
    track_script {
        chk
    }
    sync_group_tracking_weight
}
vrrp_sync_group G2 {
    group {
        VI_2
        VI_4
    }
    track_script {
        chk
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_interface {
        eth1 weight 10
    }
    track_script {
        chk
    }
    track_file {
        tf
    }
    virtual_ipaddress {
        192.0.2.10
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        192.0.2.11
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    virtual_ipaddress {
        192.0.2.12
    }
}
vrrp_instance VI_4 {
    interface eth0
    virtual_router_id 54
    virtual_ipaddress {
        192.0.2.13
    }
}
"#;
    let c = instance(text, "VI_1").unwrap();
    assert!(c.sync_group);
    let t = &c.trackers;
    assert_eq!(t.len(), 4);
    assert_eq!((t[0].name.as_str(), t[0].weight), ("eth1", 10));
    assert_eq!(
        (t[1].name.as_str(), t[1].weight, t[1].initial),
        ("chk", -20, TrackerStatus::Down)
    );
    assert_eq!((t[2].weight, t[2].initial), (3, TrackerStatus::Value(7)));
    assert_eq!(
        (t[3].name.as_str(), t[3].weight),
        ("chk", -20),
        "group tracker, weighted"
    );
    // 100 - 20 (init_fail) + 21 (7 × 3) - 20 (the group's chk).
    let mut i = Instance::new(c).unwrap();
    assert_eq!(i.effective_priority(), 81);
    i.handle(Time::ZERO, keepalived_vrrp::Event::Start);
    assert_eq!(i.state(), State::Backup);

    // G2 has no sync_group_tracking_weight: chk counts with weight 0, and fails: FAULT.
    let c = instance(text, "VI_2").unwrap();
    assert_eq!(
        (c.trackers[0].weight, c.trackers[0].initial),
        (0, TrackerStatus::Down)
    );
    let mut i = Instance::new(c).unwrap();
    i.handle(Time::ZERO, keepalived_vrrp::Event::Start);
    assert_eq!(i.state(), State::Fault);
}

#[test]
fn unsupported_features_are_refused() {
    let ah = "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n authentication {\n  auth_type AH\n  auth_pass x\n }\n virtual_ipaddress {\n  192.0.2.5\n }\n}\n";
    // The parser refuses AH already; from_config refuses it too if it gets there.
    let l = load_str("t.conf", ah, &LoadOptions::default());
    assert!(!l.is_ok());
    let e = InstanceConfig::from_config(&l.config, &l.config.vrrp_instances[0]).unwrap_err();
    assert!(e.to_string().contains("AH"), "{e}");
    let no_vrid = "vrrp_instance V {\n interface eth0\n virtual_ipaddress {\n  192.0.2.5\n }\n}\n";
    let l = load_str("t.conf", no_vrid, &LoadOptions::default());
    let vi = &l.config.vrrp_instances[0];
    let e = InstanceConfig::from_config(&l.config, vi).unwrap_err();
    assert!(e.to_string().contains("virtual_router_id"), "{e}");
}
