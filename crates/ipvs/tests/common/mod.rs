//! The table the kernel tests program and the byte fixtures were captured from: every
//! service form (TCP/UDP/SCTP over IPv4 and IPv6, fwmark v4/v6, persistence with a netmask
//! and the sip engine, port-less persistent), every scheduler of Linux 6.1 and every
//! forwarding method (NAT, DR, TUN with ipip, gue and gre, checksum flags), thresholds.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use keepalived_ipvs::model::{
    DestAttrs, DestKey, Family, Forward, Op, Protocol, Service, ServiceAttrs, ServiceKey, Table,
    TableService, Tunnel, TunnelType, service_flags, tunnel_flags,
};

/// An IP address from a literal.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("a literal address")
}

/// An address service key.
pub fn addr_key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol,
        addr: ip(addr),
        port,
    }
}

/// Plain attributes: a scheduler, no flags, not persistent, the family's default netmask.
pub fn sched(family: Family, scheduler: &str) -> ServiceAttrs {
    ServiceAttrs {
        scheduler: scheduler.to_string(),
        flags: 0,
        timeout: 0,
        netmask: ServiceAttrs::default_netmask(family),
        pe_name: None,
    }
}

/// Destination attributes.
pub fn dest(forward: Forward, weight: u32) -> DestAttrs {
    DestAttrs {
        forward,
        weight,
        u_thresh: 0,
        l_thresh: 0,
    }
}

/// A destination key.
pub fn dkey(addr: &str, port: u16) -> DestKey {
    DestKey {
        addr: ip(addr),
        port,
    }
}

/// A tunnel forwarding.
pub fn tun(kind: TunnelType, port: u16, flags: u16) -> Forward {
    Forward::Tunnel(Tunnel { kind, port, flags })
}

/// The service of the NAT destinations with thresholds (the first fixture's subject).
pub fn nat_service() -> ServiceKey {
    addr_key(Protocol::Tcp, "192.0.2.1", 80)
}

/// The service of the tunnelled destinations.
pub fn tun_service() -> ServiceKey {
    addr_key(Protocol::Tcp, "192.0.2.9", 80)
}

/// The IPv6 service with an IPv4 tunnelled destination (mixed families).
pub fn v6_service() -> ServiceKey {
    addr_key(Protocol::Tcp, "2001:db8::1", 443)
}

/// The whole table.
pub fn table() -> Table {
    use Family::{Inet, Inet6};
    use Protocol::{Sctp, Tcp, Udp};
    let mut services: BTreeMap<ServiceKey, TableService> = BTreeMap::new();
    let mut add = |key: ServiceKey, attrs: ServiceAttrs, dests: Vec<(DestKey, DestAttrs)>| {
        services.insert(
            key,
            TableService {
                attrs,
                dests: dests.into_iter().collect(),
            },
        );
    };
    add(
        nat_service(),
        sched(Inet, "rr"),
        vec![
            (dkey("198.51.100.10", 80), dest(Forward::Masq, 1)),
            (
                dkey("198.51.100.11", 8080),
                DestAttrs {
                    forward: Forward::Masq,
                    weight: 2,
                    u_thresh: 100,
                    l_thresh: 10,
                },
            ),
            (dkey("198.51.100.12", 80), dest(Forward::Masq, 0)),
        ],
    );
    add(
        addr_key(Udp, "192.0.2.1", 53),
        ServiceAttrs {
            flags: service_flags::ONEPACKET,
            ..sched(Inet, "wrr")
        },
        vec![
            (dkey("198.51.100.10", 53), dest(Forward::Route, 3)),
            (dkey("198.51.100.11", 53), dest(Forward::Route, 1)),
        ],
    );
    add(
        addr_key(Sctp, "192.0.2.2", 5060),
        sched(Inet, "lc"),
        vec![(dkey("198.51.100.13", 5060), dest(Forward::Masq, 1))],
    );
    add(
        v6_service(),
        sched(Inet6, "wlc"),
        vec![
            (dkey("2001:db8:1::10", 443), dest(Forward::Route, 1)),
            (
                dkey("198.51.100.40", 443),
                dest(tun(TunnelType::Ipip, 0, tunnel_flags::NOCSUM), 1),
            ),
        ],
    );
    add(
        addr_key(Udp, "2001:db8::2", 53),
        sched(Inet6, "lblc"),
        vec![(dkey("2001:db8:1::11", 53), dest(Forward::Masq, 1))],
    );
    add(
        addr_key(Sctp, "2001:db8::3", 3868),
        sched(Inet6, "lblcr"),
        vec![(dkey("2001:db8:1::12", 3868), dest(Forward::Route, 1))],
    );
    add(
        ServiceKey::Fwmark {
            family: Inet,
            mark: 1,
        },
        sched(Inet, "dh"),
        vec![(dkey("198.51.100.20", 0), dest(Forward::Route, 1))],
    );
    add(
        ServiceKey::Fwmark {
            family: Inet6,
            mark: 2,
        },
        ServiceAttrs {
            flags: service_flags::SCHED1 | service_flags::SCHED2,
            ..sched(Inet6, "sh")
        },
        vec![(dkey("2001:db8:1::20", 0), dest(Forward::Route, 1))],
    );
    add(
        addr_key(Tcp, "192.0.2.3", 0),
        ServiceAttrs {
            flags: service_flags::PERSISTENT,
            timeout: 300,
            netmask: 0xffff_ff00,
            ..sched(Inet, "sed")
        },
        vec![(dkey("198.51.100.21", 0), dest(Forward::Route, 1))],
    );
    add(
        addr_key(Udp, "192.0.2.4", 5060),
        ServiceAttrs {
            flags: service_flags::PERSISTENT,
            timeout: 60,
            pe_name: Some("sip".to_string()),
            ..sched(Inet, "nq")
        },
        vec![(dkey("198.51.100.22", 5060), dest(Forward::Masq, 1))],
    );
    add(
        addr_key(Tcp, "2001:db8::5", 80),
        ServiceAttrs {
            flags: service_flags::PERSISTENT,
            timeout: 1800,
            netmask: 64,
            ..sched(Inet6, "fo")
        },
        vec![
            (dkey("2001:db8:1::30", 80), dest(Forward::Masq, 1)),
            (dkey("2001:db8:1::31", 80), dest(Forward::Masq, 2)),
        ],
    );
    add(
        addr_key(Tcp, "192.0.2.6", 80),
        sched(Inet, "ovf"),
        vec![(dkey("198.51.100.23", 80), dest(Forward::Masq, 5))],
    );
    add(
        addr_key(Tcp, "192.0.2.7", 80),
        ServiceAttrs {
            flags: service_flags::SCHED1 | service_flags::SCHED2,
            ..sched(Inet, "mh")
        },
        vec![
            (dkey("198.51.100.24", 80), dest(Forward::Route, 1)),
            (dkey("198.51.100.25", 80), dest(Forward::Route, 1)),
        ],
    );
    add(
        tun_service(),
        sched(Inet, "rr"),
        vec![
            (
                dkey("198.51.100.30", 80),
                dest(tun(TunnelType::Ipip, 0, tunnel_flags::NOCSUM), 1),
            ),
            (
                dkey("198.51.100.31", 80),
                DestAttrs {
                    u_thresh: 50,
                    l_thresh: 5,
                    ..dest(tun(TunnelType::Gue, 6080, tunnel_flags::CSUM), 2)
                },
            ),
            (
                dkey("198.51.100.32", 80),
                dest(tun(TunnelType::Gue, 6081, tunnel_flags::REMCSUM), 3),
            ),
            (
                dkey("198.51.100.33", 80),
                dest(tun(TunnelType::Gre, 0, tunnel_flags::CSUM), 4),
            ),
            (
                dkey("198.51.100.34", 80),
                dest(tun(TunnelType::Gre, 0, tunnel_flags::NOCSUM), 5),
            ),
        ],
    );
    Table { services }
}

/// The operations that program `table` from an empty kernel table: each service, then its
/// destinations.
pub fn ops(table: &Table) -> Vec<Op> {
    let mut ops = Vec::new();
    for (key, s) in &table.services {
        ops.push(Op::NewService(Service {
            key: *key,
            attrs: s.attrs.clone(),
        }));
        for (dk, da) in &s.dests {
            ops.push(Op::NewDest(
                *key,
                keepalived_ipvs::model::Dest {
                    key: *dk,
                    attrs: *da,
                },
            ));
        }
    }
    ops
}
