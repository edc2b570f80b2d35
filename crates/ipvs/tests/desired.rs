//! The desired table from real configuration text: every virtual_server form, weights,
//! quorum and hysteresis, sorry server, inhibit_on_failure, alpha, and health that names
//! nothing configured.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;

use keepalived_config::project::ipvs_objects;
use keepalived_config::{LoadOptions, load_str};
use keepalived_ipvs::desired::{
    Health, HealthMap, Plan, Planner, Problem, Projection, QuorumTransition, RealServerId,
};
use keepalived_ipvs::model::{
    DestAttrs, DestKey, Family, Forward, Protocol, ServiceKey, TableService, Tunnel, TunnelType,
    service_flags, tunnel_flags,
};

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn projection(text: &str) -> Projection {
    let l = load_str("test.conf", text, &LoadOptions::default());
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    Projection::from_objects(ipvs_objects(&l.config))
}

fn plan(text: &str) -> Plan {
    let p = Planner::new().plan(&projection(text), &HealthMap::new());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    p
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn dk(addr: &str, port: u16) -> DestKey {
    DestKey {
        addr: ip(addr),
        port,
    }
}

fn masq(weight: u32) -> DestAttrs {
    DestAttrs {
        forward: Forward::Masq,
        weight,
        u_thresh: 0,
        l_thresh: 0,
    }
}

fn route(weight: u32) -> DestAttrs {
    DestAttrs {
        forward: Forward::Route,
        ..masq(weight)
    }
}

fn id(vs: &str, addr: &str, port: u16) -> RealServerId {
    RealServerId {
        virtual_server: vs.into(),
        ip: ip(addr),
        port,
    }
}

fn up() -> Health {
    Health {
        up: true,
        weight: None,
    }
}

fn down() -> Health {
    Health {
        up: false,
        weight: None,
    }
}

/// The destinations of one service, as (address, port, weight).
fn dests(s: &TableService) -> Vec<(IpAddr, u16, u32)> {
    s.dests
        .iter()
        .map(|(k, a)| (k.addr, k.port, a.weight))
        .collect()
}

// ------------------------------------------------------------------------------------------
// Services
// ------------------------------------------------------------------------------------------

#[test]
fn address_service_nat() {
    let p = plan(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            lvs_sched rr
            real_server 198.51.100.1 8080 { weight 3 }
            real_server 198.51.100.2 { }
        }",
    );
    assert_eq!(p.table.services.len(), 1);
    let s = &p.table.services[&tcp("192.0.2.1", 80)];
    assert_eq!(s.attrs.scheduler, "rr");
    assert_eq!(s.attrs.flags, 0);
    assert_eq!(s.attrs.timeout, 0);
    assert_eq!(s.attrs.netmask, 0xffff_ffff);
    assert_eq!(s.attrs.pe_name, None);
    // A NAT real server without a port takes the service's.
    assert_eq!(s.dests[&dk("198.51.100.1", 8080)], masq(3));
    assert_eq!(s.dests[&dk("198.51.100.2", 80)], masq(1));
    assert_eq!(s.dests.len(), 2);
    assert!(p.transitions.is_empty());
}

#[test]
fn no_protocol_is_udp_and_default_scheduler_is_wlc() {
    let p = plan(
        "virtual_server 192.0.2.1 53 {
            real_server 198.51.100.1 53 { }
        }",
    );
    let k = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("192.0.2.1"),
        port: 53,
    };
    assert_eq!(p.table.services[&k].attrs.scheduler, "wlc");
}

#[test]
fn sctp_and_ipv6_direct_routing() {
    let p = plan(
        "virtual_server 2001:db8::1 443 {
            protocol SCTP
            lvs_method DR
            real_server 2001:db8::10 { }
            real_server 2001:db8::11 443 { weight 2 }
        }",
    );
    let k = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip("2001:db8::1"),
        port: 443,
    };
    let s = &p.table.services[&k];
    assert_eq!(s.attrs.netmask, 128, "the IPv6 default granularity");
    assert_eq!(s.dests[&dk("2001:db8::10", 443)], route(1));
    assert_eq!(s.dests[&dk("2001:db8::11", 443)], route(2));
}

#[test]
fn fwmark_services_and_their_family() {
    let p = plan(
        "virtual_server fwmark 1 {
            lvs_method DR
            real_server 198.51.100.1 { }
        }
        virtual_server fwmark 2 {
            real_server 2001:db8::10 8080 { }
            real_server 2001:db8::11 { }
        }
        virtual_server fwmark 3 {
            ip_family inet6
            lvs_method TUN
            real_server 198.51.100.3 { }
        }
        virtual_server fwmark 4 {
            lvs_method TUN
            real_server 2001:db8::4 { }
        }",
    );
    let fwm = |family, mark| ServiceKey::Fwmark { family, mark };
    let keys: Vec<ServiceKey> = p.table.services.keys().copied().collect();
    assert_eq!(
        keys,
        [
            fwm(Family::Inet, 1),
            fwm(Family::Inet6, 2),
            fwm(Family::Inet6, 3),
            fwm(Family::Inet6, 4)
        ]
    );
    // DR to a fwmark service: port 0 (the packet's port). NAT keeps the real server's
    // port, 0 when it has none.
    assert_eq!(
        dests(&p.table.services[&fwm(Family::Inet, 1)]),
        [(ip("198.51.100.1"), 0, 1)]
    );
    assert_eq!(
        dests(&p.table.services[&fwm(Family::Inet6, 2)]),
        [(ip("2001:db8::10"), 8080, 1), (ip("2001:db8::11"), 0, 1)]
    );
    // A tunnelled IPv4 real server of an IPv6 service (ip_family).
    assert_eq!(
        dests(&p.table.services[&fwm(Family::Inet6, 3)]),
        [(ip("198.51.100.3"), 0, 1)]
    );
}

#[test]
fn group_of_addresses_ranges_and_fwmarks() {
    let p = plan(
        "virtual_server_group G {
            192.0.2.1-3 80
            192.0.2.10 80
            fwmark 7
        }
        virtual_server_group G6 {
            2001:db8::1-2 443
            fwmark 8 inet6
        }
        virtual_server group G {
            protocol TCP
            real_server 198.51.100.1 8080 { }
            real_server 198.51.100.2 { lvs_method DR }
        }
        virtual_server group G6 {
            protocol TCP
            real_server 2001:db8::10 { }
        }",
    );
    let keys: Vec<String> = p.table.services.keys().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        [
            "TCP 192.0.2.1:80",
            "TCP 192.0.2.2:80",
            "TCP 192.0.2.3:80",
            "TCP 192.0.2.10:80",
            "TCP [2001:db8::1]:443",
            "TCP [2001:db8::2]:443",
            "FWM 7",
            "FWM 8 IPv6",
        ]
    );
    // In a group, a NAT real server without a port gets port 0 (as keepalived), DR the
    // entry's port (0 for a fwmark).
    for a in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.10"] {
        assert_eq!(
            dests(&p.table.services[&tcp(a, 80)]),
            [(ip("198.51.100.1"), 8080, 1), (ip("198.51.100.2"), 80, 1)]
        );
    }
    assert_eq!(
        dests(
            &p.table.services[&ServiceKey::Fwmark {
                family: Family::Inet,
                mark: 7
            }]
        ),
        [(ip("198.51.100.1"), 8080, 1), (ip("198.51.100.2"), 0, 1)]
    );
    assert_eq!(
        dests(&p.table.services[&tcp("2001:db8::2", 443)]),
        [(ip("2001:db8::10"), 0, 1)]
    );
}

#[test]
fn group_range_forms() {
    let p = plan(
        "virtual_server_group G {
            192.0.2.254-192.0.3.1 80
            198.51.100.8/30 80
        }
        virtual_server group G {
            protocol TCP
            real_server 203.0.113.1 80 { }
        }",
    );
    let keys: Vec<String> = p.table.services.keys().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        [
            "TCP 192.0.2.254:80",
            "TCP 192.0.2.255:80",
            "TCP 192.0.3.0:80",
            "TCP 192.0.3.1:80",
            "TCP 198.51.100.8:80",
            "TCP 198.51.100.9:80",
            "TCP 198.51.100.10:80",
            "TCP 198.51.100.11:80",
        ]
    );
}

#[test]
fn group_range_too_large_is_refused() {
    let proj = projection(
        "virtual_server_group G {
            2001:db8::/64 80
            2001:db8:1::1 80
        }
        virtual_server group G {
            protocol TCP
            persistence_timeout 60
            real_server 2001:db8::10 80 { }
        }",
    );
    let p = Planner::new().plan(&proj, &HealthMap::new());
    assert_eq!(p.table.services.len(), 1);
    assert!(matches!(&p.problems[..], [Problem::RangeTooLarge { .. }]));
}

#[test]
fn two_virtual_servers_on_one_group_with_two_protocols() {
    let p = plan(
        "virtual_server_group G { 192.0.2.1 53 }
        virtual_server group G {
            protocol TCP
            real_server 198.51.100.1 53 { }
        }
        virtual_server group G {
            protocol UDP
            real_server 198.51.100.2 53 { }
        }",
    );
    assert_eq!(p.table.services.len(), 2);
}

#[test]
fn persistence_granularity_and_engine() {
    let p = plan(
        "virtual_server 192.0.2.1 5060 {
            protocol UDP
            persistence_timeout 600
            persistence_granularity 255.255.255.0
            persistence_engine sip
            real_server 198.51.100.1 5060 { }
        }
        virtual_server 2001:db8::1 80 {
            protocol TCP
            persistence_granularity 64
            real_server 2001:db8::10 80 { }
        }
        virtual_server 192.0.2.2 0 {
            protocol TCP
            persistence_timeout
            real_server 198.51.100.2 { }
        }",
    );
    let udp = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: ip("192.0.2.1"),
        port: 5060,
    };
    let a = &p.table.services[&udp].attrs;
    assert_eq!(a.flags, service_flags::PERSISTENT);
    assert_eq!(a.timeout, 600);
    assert_eq!(a.netmask, 0xffff_ff00);
    assert_eq!(a.pe_name.as_deref(), Some("sip"));
    let a = &p.table.services[&tcp("2001:db8::1", 80)].attrs;
    assert_eq!(
        (a.flags, a.timeout, a.netmask),
        (service_flags::PERSISTENT, 360, 64),
        "granularity alone makes the service persistent for 360 s"
    );
    // A port-less persistent service; its NAT real server without a port gets port 0.
    let s = &p.table.services[&tcp("192.0.2.2", 0)];
    assert_eq!((s.attrs.timeout, s.attrs.netmask), (360, 0xffff_ffff));
    assert_eq!(dests(s), [(ip("198.51.100.2"), 0, 1)]);
}

#[test]
fn every_scheduler() {
    for sched in [
        "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq",
        "twos",
    ] {
        let p = plan(&format!(
            "virtual_server 192.0.2.1 80 {{
                protocol TCP
                lvs_sched {sched}
                real_server 198.51.100.1 80 {{ }}
            }}"
        ));
        assert_eq!(
            p.table.services[&tcp("192.0.2.1", 80)].attrs.scheduler,
            sched
        );
    }
}

#[test]
fn scheduler_flags() {
    let flags = |body: &str, protocol: &str| {
        let p = plan(&format!(
            "virtual_server 192.0.2.1 80 {{
                protocol {protocol}
                {body}
                real_server 198.51.100.1 80 {{ }}
            }}"
        ));
        p.table.services.values().next().unwrap().attrs.flags
    };
    use service_flags::{ONEPACKET, SCHED1, SCHED2, SCHED3};
    assert_eq!(flags("ops", "UDP"), ONEPACKET);
    assert_eq!(
        flags("flag-1\nflag-2\nflag-3", "TCP"),
        SCHED1 | SCHED2 | SCHED3
    );
    assert_eq!(flags("lvs_sched sh\nsh-port", "TCP"), SCHED2);
    assert_eq!(flags("lvs_sched sh\nsh-fallback", "TCP"), SCHED1);
    assert_eq!(flags("lvs_sched mh\nmh-port", "TCP"), SCHED2);
    assert_eq!(
        flags("lvs_sched mh\nmh-fallback\nmh-port", "TCP"),
        SCHED1 | SCHED2
    );
    // One-packet scheduling of a fwmark service (no protocol to check).
    let p = plan(
        "virtual_server fwmark 9 {
            ops
            real_server 198.51.100.1 53 { }
        }",
    );
    assert_eq!(
        p.table.services.values().next().unwrap().attrs.flags,
        ONEPACKET
    );
}

#[test]
fn tunnels_and_thresholds() {
    let p = plan(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            lvs_method TUN type gue port 6080 csum
            real_server 198.51.100.1 80 {
                uthreshold 100
                lthreshold 10
            }
            real_server 198.51.100.2 80 { lvs_method TUN type gre nocsum }
            real_server 198.51.100.3 80 { lvs_method TUN }
            real_server 2001:db8::4 80 { lvs_method TUN type gue port 7000 remcsum }
        }",
    );
    let s = &p.table.services[&tcp("192.0.2.1", 80)];
    let tun = |kind, port, flags| Forward::Tunnel(Tunnel { kind, port, flags });
    let a = s.dests[&dk("198.51.100.1", 80)];
    assert_eq!(a.forward, tun(TunnelType::Gue, 6080, tunnel_flags::CSUM));
    assert_eq!((a.u_thresh, a.l_thresh), (100, 10));
    assert_eq!(
        s.dests[&dk("198.51.100.2", 80)].forward,
        tun(TunnelType::Gre, 0, tunnel_flags::NOCSUM)
    );
    assert_eq!(
        s.dests[&dk("198.51.100.3", 80)].forward,
        tun(TunnelType::Ipip, 0, tunnel_flags::NOCSUM)
    );
    // A tunnelled destination may be of another family than its service.
    assert_eq!(
        s.dests[&dk("2001:db8::4", 80)].forward,
        tun(TunnelType::Gue, 7000, tunnel_flags::REMCSUM)
    );
}

#[test]
fn virtual_server_without_real_servers_is_skipped() {
    let l = load_str(
        "test.conf",
        "virtual_server 192.0.2.1 80 { protocol TCP }
        virtual_server 192.0.2.2 80 {
            protocol TCP
            real_server 198.51.100.1 80 { }
        }",
        &LoadOptions::default(),
    );
    let proj = Projection::from_objects(ipvs_objects(&l.config));
    let p = Planner::new().plan(&proj, &HealthMap::new());
    let keys: Vec<ServiceKey> = p.table.services.keys().copied().collect();
    assert_eq!(keys, [tcp("192.0.2.2", 80)]);
}

// ------------------------------------------------------------------------------------------
// Weights and health
// ------------------------------------------------------------------------------------------

const WEIGHTS: &str = "virtual_server 192.0.2.1 80 {
    protocol TCP
    weight 4
    real_server 198.51.100.1 80 { }
    real_server 198.51.100.2 80 { weight 0 }
    real_server 198.51.100.3 80 {
        weight 7
        inhibit_on_failure
    }
}";

#[test]
fn weights_configured_and_dynamic() {
    let proj = projection(WEIGHTS);
    let vs = "192.0.2.1:80/tcp";
    let mut health = HealthMap::new();
    let mut planner = Planner::new();
    let s = |p: &Plan| dests(&p.table.services[&tcp("192.0.2.1", 80)]);
    let p = planner.plan(&proj, &health);
    assert_eq!(
        s(&p),
        [
            (ip("198.51.100.1"), 80, 4),
            (ip("198.51.100.2"), 80, 0),
            (ip("198.51.100.3"), 80, 7)
        ]
    );
    // A dynamic weight replaces the configured one.
    health.insert(
        id(vs, "198.51.100.2", 80),
        Health {
            up: true,
            weight: Some(12),
        },
    );
    // Down: removed; down with inhibit_on_failure: weight 0.
    health.insert(id(vs, "198.51.100.1", 80), down());
    health.insert(id(vs, "198.51.100.3", 80), down());
    let p = planner.plan(&proj, &health);
    assert_eq!(
        s(&p),
        [(ip("198.51.100.2"), 80, 12), (ip("198.51.100.3"), 80, 0)]
    );
    health.insert(id(vs, "198.51.100.3", 80), up());
    let p = planner.plan(&proj, &health);
    assert_eq!(
        s(&p),
        [(ip("198.51.100.2"), 80, 12), (ip("198.51.100.3"), 80, 7)]
    );
}

#[test]
fn dynamic_weight_is_capped() {
    let proj = projection(WEIGHTS);
    let mut health = HealthMap::new();
    health.insert(
        id("192.0.2.1:80/tcp", "198.51.100.1", 80),
        Health {
            up: true,
            weight: Some(u32::MAX),
        },
    );
    let p = Planner::new().plan(&proj, &health);
    assert_eq!(
        p.table.services[&tcp("192.0.2.1", 80)].dests[&dk("198.51.100.1", 80)].weight,
        i32::MAX as u32
    );
}

#[test]
fn health_cannot_add_anything() {
    let proj = projection(WEIGHTS);
    let mut health = HealthMap::new();
    let strangers = [
        id("192.0.2.1:80/tcp", "198.51.100.99", 80),
        id("192.0.2.1:80/tcp", "198.51.100.1", 8080),
        id("192.0.2.9:80/tcp", "198.51.100.1", 80),
    ];
    for s in &strangers {
        assert!(!proj.knows(s));
        health.insert(s.clone(), up());
    }
    assert!(proj.knows(&id("192.0.2.1:80/tcp", "198.51.100.1", 80)));
    let with = Planner::new().plan(&proj, &health);
    let without = Planner::new().plan(&proj, &HealthMap::new());
    assert_eq!(with.table, without.table);
    let mut sorted = strangers.to_vec();
    sorted.sort();
    assert_eq!(with.unknown_health, sorted);
    assert_eq!(health.retain_known(&proj), sorted);
    assert!(health.is_empty());
}

#[test]
fn real_server_id_of_the_projection() {
    let proj = projection(
        "virtual_server 2001:db8::1 80 {
            protocol TCP
            real_server 2001:db8::10 { }
        }",
    );
    let vs = proj.virtual_servers.values().next().unwrap();
    let rid = RealServerId::of(vs, &vs.real_servers[0]);
    assert_eq!(rid, id("[2001:db8::1]:80/tcp", "2001:db8::10", 0));
    assert!(proj.knows(&rid));
}

#[test]
fn real_server_id_travels() {
    let rid = id("group G/udp", "198.51.100.1", 53);
    let json = serde_json::to_string(&rid).unwrap();
    assert_eq!(serde_json::from_str::<RealServerId>(&json).unwrap(), rid);
    let h = Health {
        up: false,
        weight: Some(3),
    };
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<Health>(&json).unwrap(), h);
}

// ------------------------------------------------------------------------------------------
// Quorum, hysteresis, sorry server
// ------------------------------------------------------------------------------------------

const QUORUM: &str = "virtual_server 192.0.2.1 80 {
    protocol TCP
    quorum 3
    hysteresis 1
    real_server 198.51.100.1 80 { }
    real_server 198.51.100.2 80 { }
    real_server 198.51.100.3 80 { }
    real_server 198.51.100.4 80 { }
}";

fn transition(up: bool, initial: bool, live_weight: u64, threshold: u64) -> QuorumTransition {
    QuorumTransition {
        virtual_server: "192.0.2.1:80/tcp".into(),
        up,
        initial,
        live_weight,
        threshold,
    }
}

#[test]
fn quorum_with_hysteresis() {
    let proj = projection(QUORUM);
    let vs = "192.0.2.1:80/tcp";
    let mut planner = Planner::new();
    let mut health = HealthMap::new();
    // 4 >= 3 + 1: up, and no notification at start.
    assert!(planner.plan(&proj, &health).transitions.is_empty());
    assert_eq!(planner.quorum_up(vs), Some(true));
    let mut step = |rs: &str, h: Health| {
        health.insert(id(vs, rs, 80), h);
        planner.plan(&proj, &health).transitions
    };
    // 3, then 2: not below 3 - 1, still up.
    assert!(step("198.51.100.1", down()).is_empty());
    assert!(step("198.51.100.2", down()).is_empty());
    // 1 < 2: lost.
    assert_eq!(
        step("198.51.100.3", down()),
        [transition(false, false, 1, 2)]
    );
    // 2, then 3: not yet 3 + 1.
    assert!(step("198.51.100.1", up()).is_empty());
    assert!(step("198.51.100.2", up()).is_empty());
    // 4: gained.
    assert_eq!(step("198.51.100.3", up()), [transition(true, false, 4, 4)]);
    // The same input again: nothing.
    assert!(step("198.51.100.3", up()).is_empty());
}

#[test]
fn quorum_starts_down_and_counts_dynamic_weights() {
    let proj = projection(QUORUM);
    let vs = "192.0.2.1:80/tcp";
    let mut health = HealthMap::new();
    for n in 1..=4 {
        health.insert(id(vs, &format!("198.51.100.{n}"), 80), down());
    }
    health.insert(id(vs, "198.51.100.1", 80), up());
    let mut planner = Planner::new();
    // 1 < 4 at start, no sorry server: down, not reported (as keepalived).
    assert!(planner.plan(&proj, &health).transitions.is_empty());
    assert_eq!(planner.quorum_up(vs), Some(false));
    // Without a sorry server the live real servers stay in the pool.
    let p = planner.plan(&proj, &health);
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("198.51.100.1"), 80, 1)]
    );
    health.insert(
        id(vs, "198.51.100.1", 80),
        Health {
            up: true,
            weight: Some(4),
        },
    );
    assert_eq!(
        planner.plan(&proj, &health).transitions,
        [transition(true, false, 4, 4)]
    );
}

const SORRY: &str = "virtual_server 192.0.2.1 80 {
    protocol TCP
    lvs_method DR
    quorum 2
    sorry_server 203.0.113.1 80
    sorry_server_lvs_method NAT
    real_server 198.51.100.1 80 { }
    real_server 198.51.100.2 80 { inhibit_on_failure }
    real_server 198.51.100.3 80 { weight 0 }
}";

#[test]
fn sorry_server_while_the_quorum_is_lost() {
    let proj = projection(SORRY);
    let vs = "192.0.2.1:80/tcp";
    let mut planner = Planner::new();
    let mut health = HealthMap::new();
    let s = |p: &Plan| p.table.services[&tcp("192.0.2.1", 80)].clone();
    let p = planner.plan(&proj, &health);
    assert_eq!(
        dests(&s(&p)),
        [
            (ip("198.51.100.1"), 80, 1),
            (ip("198.51.100.2"), 80, 1),
            (ip("198.51.100.3"), 80, 0)
        ]
    );
    health.insert(id(vs, "198.51.100.1", 80), down());
    let p = planner.plan(&proj, &health);
    assert_eq!(p.transitions, [transition(false, false, 1, 2)]);
    // Only the sorry server carries traffic; the inhibited real server stays at 0 although
    // it is up, the others are removed.
    let svc = s(&p);
    assert_eq!(
        dests(&svc),
        [(ip("198.51.100.2"), 80, 0), (ip("203.0.113.1"), 80, 1)]
    );
    assert_eq!(svc.dests[&dk("203.0.113.1", 80)], masq(1));
    assert_eq!(svc.dests[&dk("198.51.100.2", 80)], route(0));
    health.insert(id(vs, "198.51.100.1", 80), up());
    let p = planner.plan(&proj, &health);
    assert_eq!(p.transitions, [transition(true, false, 2, 2)]);
    assert_eq!(
        dests(&s(&p)),
        [
            (ip("198.51.100.1"), 80, 1),
            (ip("198.51.100.2"), 80, 1),
            (ip("198.51.100.3"), 80, 0)
        ]
    );
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let proj = projection(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            sorry_server 203.0.113.1
            sorry_server_inhibit
            real_server 198.51.100.1 80 { }
        }",
    );
    let vs = "192.0.2.1:80/tcp";
    let mut planner = Planner::new();
    let mut health = HealthMap::new();
    // A NAT sorry server without a port gets port 0 (as keepalived programs it).
    let p = planner.plan(&proj, &health);
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("198.51.100.1"), 80, 1), (ip("203.0.113.1"), 0, 0)]
    );
    health.insert(id(vs, "198.51.100.1", 80), down());
    let p = planner.plan(&proj, &health);
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("203.0.113.1"), 0, 1)]
    );
}

#[test]
fn alpha_starts_down_until_reported() {
    let proj = projection(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            alpha
            sorry_server 203.0.113.1 80
            real_server 198.51.100.1 80 { }
            real_server 198.51.100.2 80 { inhibit_on_failure }
            real_server 198.51.100.3 80 { alpha false }
        }",
    );
    let vs = "192.0.2.1:80/tcp";
    let mut planner = Planner::new();
    let mut health = HealthMap::new();
    // Only .3 (alpha off) counts as up: 1 >= quorum 1, the quorum is up.
    let p = planner.plan(&proj, &health);
    assert!(p.transitions.is_empty());
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("198.51.100.2"), 80, 0), (ip("198.51.100.3"), 80, 1)]
    );
    health.insert(id(vs, "198.51.100.1", 80), up());
    let p = planner.plan(&proj, &health);
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [
            (ip("198.51.100.1"), 80, 1),
            (ip("198.51.100.2"), 80, 0),
            (ip("198.51.100.3"), 80, 1)
        ]
    );
}

#[test]
fn alpha_with_a_sorry_server_starts_with_the_quorum_down() {
    let proj = projection(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            alpha
            sorry_server 203.0.113.1 80
            real_server 198.51.100.1 80 { }
        }",
    );
    let p = Planner::new().plan(&proj, &HealthMap::new());
    // keepalived notifies this one at start ("Starting with quorum down").
    assert_eq!(p.transitions, [transition(false, true, 0, 1)]);
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("203.0.113.1"), 80, 1)]
    );
}

// ------------------------------------------------------------------------------------------
// Reload
// ------------------------------------------------------------------------------------------

#[test]
fn reload_keeps_quorum_state_and_drops_removed_servers() {
    let mut proj = projection(QUORUM);
    let vs = "192.0.2.1:80/tcp";
    let mut planner = Planner::new();
    let mut health = HealthMap::new();
    for n in 1..=3 {
        health.insert(id(vs, &format!("198.51.100.{n}"), 80), down());
    }
    planner.plan(&proj, &health);
    assert_eq!(planner.quorum_up(vs), Some(false));
    // A reload with the same virtual server keeps its state: no initial transition.
    let again = projection(QUORUM);
    for o in ipvs_objects_of(&again) {
        proj.apply(o);
    }
    assert!(planner.plan(&proj, &health).transitions.is_empty());
    assert_eq!(planner.quorum_up(vs), Some(false));
    // Removed: its services go, its state and its health are forgotten.
    assert!(
        proj.remove(&keepalived_config::project::ObjectKey::VirtualServer(
            vs.into()
        ))
    );
    let p = planner.plan(&proj, &health);
    assert!(p.table.services.is_empty());
    assert_eq!(planner.quorum_up(vs), None);
    assert_eq!(p.unknown_health.len(), 3);
    assert_eq!(health.retain_known(&proj).len(), 3);
}

fn ipvs_objects_of(p: &Projection) -> Vec<keepalived_config::project::IpvsObject> {
    use keepalived_config::project::IpvsObject;
    p.virtual_servers
        .values()
        .map(|vs| IpvsObject::VirtualServer(Box::new(vs.clone())))
        .collect()
}

#[test]
fn unknown_group_is_a_problem() {
    let mut proj = projection(
        "virtual_server_group G { 192.0.2.1 80 }
        virtual_server group G {
            protocol TCP
            real_server 198.51.100.1 80 { }
        }",
    );
    proj.groups.clear();
    let p = Planner::new().plan(&proj, &HealthMap::new());
    assert!(p.table.services.is_empty());
    assert_eq!(
        p.problems,
        [Problem::UnknownGroup {
            virtual_server: "group G/tcp".into(),
            group: "G".into()
        }]
    );
}

#[test]
fn a_service_given_twice_is_kept_by_the_first() {
    let p = Planner::new().plan(
        &projection(
            "virtual_server_group G { 192.0.2.1 80 }
            virtual_server group G {
                protocol TCP
                real_server 198.51.100.1 80 { }
            }
            virtual_server 192.0.2.1 80 {
                protocol TCP
                real_server 198.51.100.2 80 { }
            }",
        ),
        &HealthMap::new(),
    );
    assert_eq!(
        dests(&p.table.services[&tcp("192.0.2.1", 80)]),
        [(ip("198.51.100.2"), 80, 1)]
    );
    assert!(matches!(
        &p.problems[..],
        [Problem::DuplicateService { owner, .. }] if owner == "192.0.2.1:80/tcp"
    ));
}

// ------------------------------------------------------------------------------------------
// Properties over sequences of health reports
// ------------------------------------------------------------------------------------------

mod sequences {
    use super::*;
    use proptest::prelude::*;

    const CONF: &str = "virtual_server_group G {
        192.0.2.1-2 80
        fwmark 3
    }
    virtual_server group G {
        protocol TCP
        quorum 4
        hysteresis 2
        sorry_server 203.0.113.1 80
        real_server 198.51.100.1 80 { weight 2 }
        real_server 198.51.100.2 80 {
            weight 3
            inhibit_on_failure
        }
        real_server 198.51.100.3 80 { alpha }
        real_server 198.51.100.4 80 { }
    }";

    /// A report for one of the four real servers, or for one that is not configured.
    fn report() -> impl Strategy<Value = (RealServerId, Health)> {
        (
            prop_oneof![
                (1u8..5).prop_map(|n| id("group G/tcp", &format!("198.51.100.{n}"), 80)),
                Just(id("group G/tcp", "198.51.100.9", 80)),
                Just(id("group G/tcp", "203.0.113.1", 80)),
                Just(id("192.0.2.1:80/tcp", "198.51.100.1", 80)),
            ],
            any::<bool>(),
            prop::option::of(0u32..6),
        )
            .prop_map(|(id, up, weight)| (id, Health { up, weight }))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        // Whatever the reports: the services are the configured ones, every destination is
        // a configured real server or the sorry server, the quorum alternates and crosses
        // the hysteresis thresholds, and the sorry server is in exactly while it is down.
        #[test]
        fn health_moves_only_configured_entries(reports in prop::collection::vec(report(), 0..40)) {
            let proj = projection(CONF);
            let mut planner = Planner::new();
            let mut health = HealthMap::new();
            let first = planner.plan(&proj, &health);
            let services: Vec<ServiceKey> = first.table.services.keys().copied().collect();
            let mut up = planner.quorum_up("group G/tcp").unwrap();
            for (rid, h) in reports {
                health.insert(rid, h);
                let p = planner.plan(&proj, &health);
                prop_assert!(p.problems.is_empty());
                prop_assert_eq!(p.table.services.keys().copied().collect::<Vec<_>>(), services.clone());
                for (k, s) in &p.table.services {
                    for (d, a) in &s.dests {
                        let octet = match d.addr { IpAddr::V4(v) => v.octets(), IpAddr::V6(_) => [0; 4] };
                        let configured = matches!(octet, [198, 51, 100, 1..=4]) || octet == [203, 0, 113, 1];
                        prop_assert!(configured, "{d} in {k}");
                        prop_assert!(a.weight <= 5);
                    }
                    let sorry = s.dests.keys().any(|d| d.addr == ip("203.0.113.1"));
                    prop_assert_eq!(sorry, !planner.quorum_up("group G/tcp").unwrap());
                }
                for t in &p.transitions {
                    prop_assert_ne!(t.up, up, "transitions alternate");
                    prop_assert!(!t.initial);
                    if t.up {
                        prop_assert!(t.live_weight >= 6);
                    } else {
                        prop_assert!(t.live_weight < 2);
                    }
                    up = t.up;
                }
                prop_assert_eq!(planner.quorum_up("group G/tcp"), Some(up));
                prop_assert!(p.unknown_health.iter().all(|u| !proj.knows(u)));
            }
        }
    }
}
