//! Each request against the bytes `ip` (iproute2 6.1) sent for the same command, captured
//! with `strace -e trace=sendmsg -e write=3 ip ...` in a network namespace where `v0` is
//! ifindex 3 (`vrrp.51` ifindex 4), the sequence number replaced by 1. Each line of a
//! fixture is one field or attribute, with what it is. Host byte order is little endian.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::model::{RouteType, RuleAction};

const SEQ: u32 = 1;

/// The bytes of an annotated fixture.
fn bytes(fixture: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, hex) in fixture {
        let digits: String = hex.split_whitespace().collect();
        assert!(digits.len() % 2 == 0, "odd hex in {hex}");
        for i in (0..digits.len()).step_by(2) {
            out.push(u8::from_str_radix(&digits[i..i + 2], 16).unwrap());
        }
    }
    out
}

/// Compares field by field, so that a mismatch names the field.
fn check(got: &[u8], fixture: &[(&str, &str)]) {
    let want = bytes(fixture);
    let mut at = 0;
    for (what, hex) in fixture {
        let n = hex.split_whitespace().collect::<String>().len() / 2;
        let g = got.get(at..at + n);
        assert_eq!(
            g,
            Some(&want[at..at + n]),
            "field '{what}' at offset {at}: got {:02x?}, want {:02x?}",
            got.get(at..(at + n).min(got.len())),
            &want[at..at + n]
        );
        at += n;
    }
    assert_eq!(got.len(), want.len(), "extra bytes: {:02x?}", &got[at..]);
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v0_addr(a: &str, len: u8) -> AddrSpec {
    AddrSpec::new(3, ip(a), len)
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// `ip addr add 192.0.2.10/24 brd + label v0:vip dev v0`
const ADD_V4_BRD_LABEL: &[(&str, &str)] = &[
    ("nlmsg_len 60", "3c000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    (
        "ifa_family AF_INET, prefixlen 24, flags 0, scope global",
        "02 18 00 00",
    ),
    ("ifa_index 3", "03000000"),
    ("IFA_LOCAL 192.0.2.10", "0800 0200 c000020a"),
    (
        "IFA_LABEL \"v0:vip\\0\" + 1 pad",
        "0b00 0300 76303a76697000 00",
    ),
    ("IFA_ADDRESS 192.0.2.10", "0800 0100 c000020a"),
    ("IFA_BROADCAST 192.0.2.255", "0800 0400 c00002ff"),
];

#[test]
fn add_ipv4_address_with_broadcast_and_label() {
    let mut spec = v0_addr("192.0.2.10", 24);
    spec.broadcast = Some(crate::model::ipv4_broadcast(
        Ipv4Addr::new(192, 0, 2, 10),
        24,
        true,
    ));
    spec.label = Some("v0:vip".into());
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V4_BRD_LABEL);
}

/// `ip addr del 192.0.2.10/24 dev v0`
const DEL_V4: &[(&str, &str)] = &[
    ("nlmsg_len 40", "28000000"),
    ("RTM_DELADDR", "1500"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, /24, flags 0, scope global", "02 18 00 00"),
    ("ifa_index 3", "03000000"),
    ("IFA_LOCAL 192.0.2.10", "0800 0200 c000020a"),
    ("IFA_ADDRESS 192.0.2.10", "0800 0100 c000020a"),
];

#[test]
fn delete_ipv4_address() {
    check(&del_addr(&v0_addr("192.0.2.10", 24), SEQ).unwrap(), DEL_V4);
}

/// `ip addr add 2001:db8::10/64 dev v0 nodad`: NODAD fits the header's 8 bits, so `ip`
/// sends no IFA_FLAGS (the kernel reads IFA_FLAGS when present, the header otherwise).
const ADD_V6_NODAD: &[(&str, &str)] = &[
    ("nlmsg_len 64", "40000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, /64, IFA_F_NODAD, scope global", "0a 40 02 00"),
    ("ifa_index 3", "03000000"),
    (
        "IFA_LOCAL 2001:db8::10",
        "1400 0200 20010db8000000000000000000000010",
    ),
    (
        "IFA_ADDRESS 2001:db8::10",
        "1400 0100 20010db8000000000000000000000010",
    ),
];

#[test]
fn add_ipv6_address_is_nodad() {
    let spec = v0_addr("2001:db8::10", 64);
    assert!(spec.nodad, "AddrSpec::new sets nodad for IPv6");
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V6_NODAD);
}

/// `ip addr add 2001:db8::11/64 dev v0 nodad noprefixroute`: a flag above 0xff sends them
/// all in IFA_FLAGS and none in the header.
const ADD_V6_NOPREFIXROUTE: &[(&str, &str)] = &[
    ("nlmsg_len 72", "48000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, /64, flags 0, scope global", "0a 40 00 00"),
    ("ifa_index 3", "03000000"),
    (
        "IFA_LOCAL 2001:db8::11",
        "1400 0200 20010db8000000000000000000000011",
    ),
    ("IFA_FLAGS NODAD|NOPREFIXROUTE", "0800 0800 02020000"),
    (
        "IFA_ADDRESS 2001:db8::11",
        "1400 0100 20010db8000000000000000000000011",
    ),
];

#[test]
fn add_ipv6_address_with_a_flag_above_8_bits() {
    let mut spec = v0_addr("2001:db8::11", 64);
    spec.noprefixroute = true;
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V6_NOPREFIXROUTE);
}

/// `ip addr add 2001:db8::12/128 dev v0 nodad preferred_lft 0`
const ADD_V6_DEPRECATED: &[(&str, &str)] = &[
    ("nlmsg_len 84", "54000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, /128, IFA_F_NODAD, scope global", "0a 80 02 00"),
    ("ifa_index 3", "03000000"),
    (
        "IFA_LOCAL 2001:db8::12",
        "1400 0200 20010db8000000000000000000000012",
    ),
    (
        "IFA_ADDRESS 2001:db8::12",
        "1400 0100 20010db8000000000000000000000012",
    ),
    (
        "IFA_CACHEINFO preferred 0, valid forever, cstamp 0, tstamp 0",
        "1400 0600 00000000 ffffffff 00000000 00000000",
    ),
];

#[test]
fn add_ipv6_host_address_deprecated() {
    let mut spec = v0_addr("2001:db8::12", 128);
    spec.preferred_lft = Some(0);
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V6_DEPRECATED);
}

/// `ip addr add 192.0.2.1 peer 192.0.2.2 dev v0 scope link`
const ADD_V4_PEER: &[(&str, &str)] = &[
    ("nlmsg_len 40", "28000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, /32, flags 0, scope link", "02 20 00 fd"),
    ("ifa_index 3", "03000000"),
    ("IFA_LOCAL 192.0.2.1", "0800 0200 c0000201"),
    ("IFA_ADDRESS (the peer) 192.0.2.2", "0800 0100 c0000202"),
];

#[test]
fn add_ipv4_address_with_peer_and_scope() {
    let mut spec = v0_addr("192.0.2.1", 32);
    spec.peer = Some(ip("192.0.2.2"));
    spec.scope = names::SCOPE_LINK;
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V4_PEER);
}

/// `ip addr add 192.0.2.20/24 dev v0 label v0:x noprefixroute brd + preferred_lft 30`
const ADD_V4_ALL: &[(&str, &str)] = &[
    ("nlmsg_len 88", "58000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, /24, flags 0, scope global", "02 18 00 00"),
    ("ifa_index 3", "03000000"),
    ("IFA_LOCAL 192.0.2.20", "0800 0200 c0000214"),
    (
        "IFA_LABEL \"v0:x\\0\" + 3 pad",
        "0900 0300 76303a7800 000000",
    ),
    ("IFA_FLAGS NOPREFIXROUTE", "0800 0800 00020000"),
    ("IFA_ADDRESS 192.0.2.20", "0800 0100 c0000214"),
    ("IFA_BROADCAST 192.0.2.255", "0800 0400 c00002ff"),
    (
        "IFA_CACHEINFO preferred 30, valid forever",
        "1400 0600 1e000000 ffffffff 00000000 00000000",
    ),
];

#[test]
fn add_ipv4_address_with_every_option() {
    let mut spec = v0_addr("192.0.2.20", 24);
    spec.label = Some("v0:x".into());
    spec.noprefixroute = true;
    spec.broadcast = Some(Ipv4Addr::new(192, 0, 2, 255));
    spec.preferred_lft = Some(30);
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V4_ALL);
}

/// `ip addr add 192.0.2.21 peer 192.0.2.22/32 dev v0 label v0:p`: with a peer, IFA_ADDRESS
/// comes right after IFA_LOCAL.
const ADD_V4_PEER_LABEL: &[(&str, &str)] = &[
    ("nlmsg_len 52", "34000000"),
    ("RTM_NEWADDR", "1400"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, /32, flags 0, scope global", "02 20 00 00"),
    ("ifa_index 3", "03000000"),
    ("IFA_LOCAL 192.0.2.21", "0800 0200 c0000215"),
    ("IFA_ADDRESS (the peer) 192.0.2.22", "0800 0100 c0000216"),
    (
        "IFA_LABEL \"v0:p\\0\" + 3 pad",
        "0900 0300 76303a7000 000000",
    ),
];

#[test]
fn add_ipv4_address_with_peer_and_label() {
    let mut spec = v0_addr("192.0.2.21", 32);
    spec.peer = Some(ip("192.0.2.22"));
    spec.label = Some("v0:p".into());
    check(&new_addr(&spec, SEQ).unwrap(), ADD_V4_PEER_LABEL);
}

/// `ip addr del 2001:db8::10/64 dev v0`: no flags on a delete.
const DEL_V6: &[(&str, &str)] = &[
    ("nlmsg_len 64", "40000000"),
    ("RTM_DELADDR", "1500"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, /64, flags 0, scope global", "0a 40 00 00"),
    ("ifa_index 3", "03000000"),
    (
        "IFA_LOCAL 2001:db8::10",
        "1400 0200 20010db8000000000000000000000010",
    ),
    (
        "IFA_ADDRESS 2001:db8::10",
        "1400 0100 20010db8000000000000000000000010",
    ),
];

#[test]
fn delete_ipv6_address() {
    let mut spec = v0_addr("2001:db8::10", 64);
    spec.noprefixroute = true;
    check(&del_addr(&spec, SEQ).unwrap(), DEL_V6);
}

#[test]
fn impossible_addresses_are_refused() {
    let refused = |spec: &AddrSpec| new_addr(spec, SEQ).unwrap_err().0;
    assert_eq!(
        refused(&v0_addr("192.0.2.1", 33)),
        "the address's prefix length 33 is longer than 32"
    );
    let mut s = v0_addr("2001:db8::1", 64);
    s.label = Some("v0:x".into());
    assert_eq!(refused(&s), "a label is for IPv4 addresses only");
    let mut s = v0_addr("2001:db8::1", 64);
    s.broadcast = Some(Ipv4Addr::BROADCAST);
    assert_eq!(
        refused(&s),
        "a broadcast address is for IPv4 addresses only"
    );
    let mut s = v0_addr("192.0.2.1", 32);
    s.peer = Some(ip("2001:db8::2"));
    assert_eq!(
        refused(&s),
        "the peer 2001:db8::2 is not of the family of the rest (IPv4)"
    );
    let mut s = v0_addr("192.0.2.1", 24);
    s.label = Some("a-label-too-long".into());
    assert_eq!(
        refused(&s),
        "the label 'a-label-too-long' is not 1 to 15 bytes long"
    );
    let s = AddrSpec::new(0, ip("192.0.2.1"), 24);
    assert_eq!(refused(&s), "0 is not an interface index");
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

fn route(dst: &str, len: u8) -> RouteSpec {
    RouteSpec::new(Prefix::new(ip(dst), len))
}

/// `ip route add 198.51.100.0/24 via 192.0.2.2 dev v0 src 192.0.2.1 table 100 metric 10
/// proto 18`
const ADD_ROUTE_V4: &[(&str, &str)] = &[
    ("nlmsg_len 68", "44000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table 100, protocol 18, scope global, RTN_UNICAST",
        "64 12 00 01",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("RTA_GATEWAY 192.0.2.2", "0800 0500 c0000202"),
    ("RTA_PREFSRC 192.0.2.1", "0800 0700 c0000201"),
    ("RTA_PRIORITY 10", "0800 0600 0a000000"),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn add_ipv4_route() {
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("192.0.2.2"));
    r.dev = Some(3);
    r.src = Some(ip("192.0.2.1"));
    r.table = 100;
    r.metric = Some(10);
    r.protocol = Some(names::PROTO_KEEPALIVED);
    check(&new_route(&r, SEQ).unwrap(), ADD_ROUTE_V4);
}

/// `ip route del unicast 198.51.100.0/24 via 192.0.2.2 dev v0 table 100`
const DEL_ROUTE_V4: &[(&str, &str)] = &[
    ("nlmsg_len 52", "34000000"),
    ("RTM_DELROUTE", "1900"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table 100, protocol any, scope nowhere (any), RTN_UNICAST",
        "64 00 ff 01",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("RTA_GATEWAY 192.0.2.2", "0800 0500 c0000202"),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn delete_ipv4_route() {
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("192.0.2.2"));
    r.dev = Some(3);
    r.table = 100;
    check(&del_route(&r, SEQ).unwrap(), DEL_ROUTE_V4);
}

/// `ip route add blackhole 203.0.113.0/24 table 1000`: a table above 255 goes in RTA_TABLE.
const ADD_BLACKHOLE: &[(&str, &str)] = &[
    ("nlmsg_len 44", "2c000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table unspec, protocol boot, scope global, RTN_BLACKHOLE",
        "00 03 00 06",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 203.0.113.0", "0800 0100 cb007100"),
    ("RTA_TABLE 1000", "0800 0f00 e8030000"),
];

/// `ip route del blackhole 203.0.113.0/24 table 1000`
const DEL_BLACKHOLE: &[(&str, &str)] = &[
    ("nlmsg_len 44", "2c000000"),
    ("RTM_DELROUTE", "1900"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table unspec, protocol any, scope nowhere, RTN_BLACKHOLE",
        "00 00 ff 06",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 203.0.113.0", "0800 0100 cb007100"),
    ("RTA_TABLE 1000", "0800 0f00 e8030000"),
];

#[test]
fn blackhole_route_in_a_big_table() {
    let mut r = route("203.0.113.0", 24);
    r.route_type = RouteType::Blackhole;
    r.table = 1000;
    check(&new_route(&r, SEQ).unwrap(), ADD_BLACKHOLE);
    check(&del_route(&r, SEQ).unwrap(), DEL_BLACKHOLE);
}

/// `ip route add 203.0.113.0/24 dev v0` (scope link is `ip`'s default without a gateway)
const ADD_DEV_ROUTE: &[(&str, &str)] = &[
    ("nlmsg_len 44", "2c000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table main, protocol boot, scope link, RTN_UNICAST",
        "fe 03 fd 01",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 203.0.113.0", "0800 0100 cb007100"),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn device_route_defaults_to_scope_link() {
    let mut r = route("203.0.113.0", 24);
    r.dev = Some(3);
    check(&new_route(&r, SEQ).unwrap(), ADD_DEV_ROUTE);
}

/// `ip -6 route add 2001:db8:1::/48 via 2001:db8::2 dev v0`
const ADD_ROUTE_V6: &[(&str, &str)] = &[
    ("nlmsg_len 76", "4c000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, dst_len 48, src_len 0, tos 0", "0a 30 00 00"),
    (
        "table main, protocol boot, scope global, RTN_UNICAST",
        "fe 03 00 01",
    ),
    ("rtm_flags", "00000000"),
    (
        "RTA_DST 2001:db8:1::",
        "1400 0100 20010db8000100000000000000000000",
    ),
    (
        "RTA_GATEWAY 2001:db8::2",
        "1400 0500 20010db8000000000000000000000002",
    ),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn add_ipv6_route() {
    let mut r = route("2001:db8:1::", 48);
    r.via = Some(ip("2001:db8::2"));
    r.dev = Some(3);
    check(&new_route(&r, SEQ).unwrap(), ADD_ROUTE_V6);
}

/// `ip route add unreachable default table 200 metric 5`: no RTA_DST for a default route.
const ADD_UNREACHABLE_DEFAULT: &[(&str, &str)] = &[
    ("nlmsg_len 36", "24000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 0, src_len 0, tos 0", "02 00 00 00"),
    (
        "table 200, protocol boot, scope global, RTN_UNREACHABLE",
        "c8 03 00 07",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_PRIORITY 5", "0800 0600 05000000"),
];

#[test]
fn unreachable_default_route() {
    let mut r = RouteSpec::new(Prefix::default_route(Family::Inet));
    r.route_type = RouteType::Unreachable;
    r.table = 200;
    r.metric = Some(5);
    check(&new_route(&r, SEQ).unwrap(), ADD_UNREACHABLE_DEFAULT);
}

/// `ip route add 198.51.100.0/24 via 192.0.2.2 src 192.0.2.1 table 1000 metric 10 dev v0`
const ADD_ROUTE_BIG_TABLE: &[(&str, &str)] = &[
    ("nlmsg_len 76", "4c000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table unspec, protocol boot, scope global, RTN_UNICAST",
        "00 03 00 01",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("RTA_GATEWAY 192.0.2.2", "0800 0500 c0000202"),
    ("RTA_PREFSRC 192.0.2.1", "0800 0700 c0000201"),
    ("RTA_TABLE 1000", "0800 0f00 e8030000"),
    ("RTA_PRIORITY 10", "0800 0600 0a000000"),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn route_attributes_in_order() {
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("192.0.2.2"));
    r.src = Some(ip("192.0.2.1"));
    r.table = 1000;
    r.metric = Some(10);
    r.dev = Some(3);
    check(&new_route(&r, SEQ).unwrap(), ADD_ROUTE_BIG_TABLE);
}

/// `ip route append 198.51.100.0/24 via 192.0.2.2 dev v0 table 100`
const APPEND_ROUTE: &[(&str, &str)] = &[
    ("nlmsg_len 52", "34000000"),
    ("RTM_NEWROUTE", "1800"),
    ("REQUEST|ACK|CREATE|APPEND", "050c"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 0, tos 0", "02 18 00 00"),
    (
        "table 100, protocol boot, scope global, RTN_UNICAST",
        "64 03 00 01",
    ),
    ("rtm_flags", "00000000"),
    ("RTA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("RTA_GATEWAY 192.0.2.2", "0800 0500 c0000202"),
    ("RTA_OIF 3", "0800 0400 03000000"),
];

#[test]
fn route_modes() {
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("192.0.2.2"));
    r.dev = Some(3);
    r.table = 100;
    r.mode = RouteMode::Append;
    check(&new_route(&r, SEQ).unwrap(), APPEND_ROUTE);
    // The other modes change only the flags (bytes 6-7).
    for (mode, flags) in [
        (RouteMode::Add, [0x05, 0x06]),
        (RouteMode::Prepend, [0x05, 0x04]),
        (RouteMode::Replace, [0x05, 0x05]),
    ] {
        r.mode = mode;
        assert_eq!(new_route(&r, SEQ).unwrap()[6..8], flags, "{mode:?}");
    }
}

#[test]
fn impossible_routes_are_refused() {
    let refused = |r: &RouteSpec| new_route(r, SEQ).unwrap_err().0;
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("2001:db8::1"));
    assert_eq!(
        refused(&r),
        "the gateway 2001:db8::1 is not of the family of the rest (IPv4)"
    );
    let mut r = route("2001:db8::", 129);
    r.dev = Some(3);
    assert_eq!(
        refused(&r),
        "the destination's prefix length 129 is longer than 128"
    );
    let mut r = route("203.0.113.0", 24);
    r.route_type = RouteType::Prohibit;
    r.dev = Some(3);
    assert_eq!(refused(&r), "a prohibit route has no gateway and no device");
    let mut r = route("203.0.113.0", 24);
    r.table = 0;
    assert_eq!(refused(&r), "table 0 is not a routing table");
    let mut r = route("203.0.113.0", 24);
    r.src = Some(ip("2001:db8::1"));
    assert!(refused(&r).starts_with("the source address 2001:db8::1"));
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

fn rule_all_selectors(table: u32) -> RuleSpec {
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Table(table));
    r.from = Some(Prefix::new(ip("192.0.2.0"), 24));
    r.to = Some(Prefix::new(ip("198.51.100.0"), 24));
    r.iif = Some("v0".into());
    r.oif = Some("v1".into());
    r.priority = Some(100);
    r.fwmark = Some(0x10);
    r.fwmask = Some(0xff);
    r
}

/// `ip rule add from 192.0.2.0/24 to 198.51.100.0/24 iif v0 oif v1 table 100 priority 100
/// fwmark 0x10/0xff`
const ADD_RULE: &[(&str, &str)] = &[
    ("nlmsg_len 84", "54000000"),
    ("RTM_NEWRULE", "2000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 24, tos 0", "02 18 18 00"),
    ("table 100, res1, res2, FR_ACT_TO_TBL", "64 00 00 01"),
    ("flags", "00000000"),
    ("FRA_SRC 192.0.2.0", "0800 0200 c0000200"),
    ("FRA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("FRA_IIFNAME \"v0\\0\" + 1 pad", "0700 0300 763000 00"),
    ("FRA_OIFNAME \"v1\\0\" + 1 pad", "0700 1100 763100 00"),
    ("FRA_PRIORITY 100", "0800 0600 64000000"),
    ("FRA_FWMARK 0x10", "0800 0a00 10000000"),
    ("FRA_FWMASK 0xff", "0800 1000 ff000000"),
];

/// `ip rule del` of the same: action unspec.
const DEL_RULE: &[(&str, &str)] = &[
    ("nlmsg_len 84", "54000000"),
    ("RTM_DELRULE", "2100"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 24, tos 0", "02 18 18 00"),
    ("table 100, res1, res2, FR_ACT_UNSPEC", "64 00 00 00"),
    ("flags", "00000000"),
    ("FRA_SRC 192.0.2.0", "0800 0200 c0000200"),
    ("FRA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("FRA_IIFNAME \"v0\\0\" + 1 pad", "0700 0300 763000 00"),
    ("FRA_OIFNAME \"v1\\0\" + 1 pad", "0700 1100 763100 00"),
    ("FRA_PRIORITY 100", "0800 0600 64000000"),
    ("FRA_FWMARK 0x10", "0800 0a00 10000000"),
    ("FRA_FWMASK 0xff", "0800 1000 ff000000"),
];

#[test]
fn add_and_delete_rule() {
    let r = rule_all_selectors(100);
    check(&new_rule(&r, SEQ).unwrap(), ADD_RULE);
    check(&del_rule(&r, SEQ).unwrap(), DEL_RULE);
}

/// `ip rule add from 192.0.2.0/24 to 198.51.100.0/24 iif v0 oif v1 table 1000 priority 100
/// fwmark 0x10/0xff protocol 18`
const ADD_RULE_BIG_TABLE: &[(&str, &str)] = &[
    ("nlmsg_len 100", "64000000"),
    ("RTM_NEWRULE", "2000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 24, src_len 24, tos 0", "02 18 18 00"),
    ("table unspec, res1, res2, FR_ACT_TO_TBL", "00 00 00 01"),
    ("flags", "00000000"),
    ("FRA_SRC 192.0.2.0", "0800 0200 c0000200"),
    ("FRA_DST 198.51.100.0", "0800 0100 c6336400"),
    ("FRA_IIFNAME \"v0\\0\" + 1 pad", "0700 0300 763000 00"),
    ("FRA_OIFNAME \"v1\\0\" + 1 pad", "0700 1100 763100 00"),
    ("FRA_TABLE 1000", "0800 0f00 e8030000"),
    ("FRA_PRIORITY 100", "0800 0600 64000000"),
    ("FRA_FWMARK 0x10", "0800 0a00 10000000"),
    ("FRA_FWMASK 0xff", "0800 1000 ff000000"),
    ("FRA_PROTOCOL 18 + 3 pad", "0500 1500 12 000000"),
];

#[test]
fn rule_in_a_big_table_with_protocol() {
    let mut r = rule_all_selectors(1000);
    r.protocol = Some(names::PROTO_KEEPALIVED);
    check(&new_rule(&r, SEQ).unwrap(), ADD_RULE_BIG_TABLE);
}

/// `ip -6 rule add from 2001:db8::/32 table 100 priority 300`
const ADD_RULE_V6: &[(&str, &str)] = &[
    ("nlmsg_len 56", "38000000"),
    ("RTM_NEWRULE", "2000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET6, dst_len 0, src_len 32, tos 0", "0a 00 20 00"),
    ("table 100, res1, res2, FR_ACT_TO_TBL", "64 00 00 01"),
    ("flags", "00000000"),
    (
        "FRA_SRC 2001:db8::",
        "1400 0200 20010db8000000000000000000000000",
    ),
    ("FRA_PRIORITY 300", "0800 0600 2c010000"),
];

#[test]
fn ipv6_rule() {
    let mut r = RuleSpec::new(Family::Inet6, RuleAction::Table(100));
    r.from = Some(Prefix::new(ip("2001:db8::"), 32));
    r.priority = Some(300);
    check(&new_rule(&r, SEQ).unwrap(), ADD_RULE_V6);
}

/// `ip rule add not from 192.0.2.0/24 priority 101 goto 200`
const ADD_RULE_GOTO: &[(&str, &str)] = &[
    ("nlmsg_len 52", "34000000"),
    ("RTM_NEWRULE", "2000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 0, src_len 24, tos 0", "02 00 18 00"),
    ("table unspec, res1, res2, FR_ACT_GOTO", "00 00 00 02"),
    ("flags FIB_RULE_INVERT", "02000000"),
    ("FRA_SRC 192.0.2.0", "0800 0200 c0000200"),
    ("FRA_PRIORITY 101", "0800 0600 65000000"),
    ("FRA_GOTO 200", "0800 0400 c8000000"),
];

#[test]
fn inverted_goto_rule() {
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Goto(200));
    r.invert = true;
    r.from = Some(Prefix::new(ip("192.0.2.0"), 24));
    r.priority = Some(101);
    check(&new_rule(&r, SEQ).unwrap(), ADD_RULE_GOTO);
}

/// `ip rule add from all priority 500 blackhole`, less the empty FRA_SRC `ip` sends for
/// "from all" (a rule without a source prefix means the same).
const ADD_RULE_BLACKHOLE: &[(&str, &str)] = &[
    ("nlmsg_len 36", "24000000"),
    ("RTM_NEWRULE", "2000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    ("AF_INET, dst_len 0, src_len 0, tos 0", "02 00 00 00"),
    ("table unspec, res1, res2, FR_ACT_BLACKHOLE", "00 00 00 06"),
    ("flags", "00000000"),
    ("FRA_PRIORITY 500", "0800 0600 f4010000"),
];

#[test]
fn blackhole_rule_from_all() {
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Blackhole);
    r.from = Some(Prefix::default_route(Family::Inet));
    r.priority = Some(500);
    check(&new_rule(&r, SEQ).unwrap(), ADD_RULE_BLACKHOLE);
    // Deleting keeps the action (only a table action becomes "any").
    assert_eq!(
        del_rule(&r, SEQ).unwrap()[16..24],
        bytes(ADD_RULE_BLACKHOLE)[16..24]
    );
}

#[test]
fn impossible_rules_are_refused() {
    let refused = |r: &RuleSpec| new_rule(r, SEQ).unwrap_err().0;
    let mut r = RuleSpec::new(Family::Inet6, RuleAction::Table(100));
    r.from = Some(Prefix::new(ip("192.0.2.0"), 24));
    assert_eq!(
        refused(&r),
        "the 'from' prefix 192.0.2.0 is not of the family of the rest (IPv6)"
    );
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Table(100));
    r.to = Some(Prefix::new(ip("192.0.2.0"), 40));
    assert_eq!(refused(&r), "the 'to' prefix length 40 is longer than 32");
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Table(100));
    r.fwmask = Some(0xff);
    assert_eq!(refused(&r), "a fwmark mask needs a fwmark");
    let mut r = RuleSpec::new(Family::Inet, RuleAction::Table(100));
    r.iif = Some("bad name".into());
    assert_eq!(refused(&r), "iif 'bad name' is not an interface name");
    let r = RuleSpec::new(Family::Inet, RuleAction::Table(0));
    assert_eq!(refused(&r), "table 0 is not a routing table");
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

const IFINFOMSG_0: (&str, &str) = (
    "ifinfomsg: AF_UNSPEC, pad, type 0, index 0, flags 0, change 0",
    "00 00 0000 00000000 00000000 00000000",
);

/// `ip link add link v0 name vrrp.51 address 00:00:5e:00:01:33 type macvlan mode private`
const NEW_VMAC: &[(&str, &str)] = &[
    ("nlmsg_len 92", "5c000000"),
    ("RTM_NEWLINK", "1000"),
    ("REQUEST|ACK|EXCL|CREATE", "0506"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    IFINFOMSG_0,
    (
        "IFLA_ADDRESS 00:00:5e:00:01:33 + 2 pad",
        "0a00 0100 00005e000133 0000",
    ),
    ("IFLA_LINK 3", "0800 0500 03000000"),
    ("IFLA_IFNAME \"vrrp.51\\0\"", "0c00 0300 767272702e353100"),
    ("IFLA_LINKINFO", "1c00 1200"),
    (
        "  IFLA_INFO_KIND \"macvlan\" (no NUL) + 1 pad",
        "0b00 0100 6d6163766c616e 00",
    ),
    ("  IFLA_INFO_DATA", "0c00 0200"),
    (
        "    IFLA_MACVLAN_MODE MACVLAN_MODE_PRIVATE",
        "0800 0100 01000000",
    ),
];

#[test]
fn create_vmac() {
    let mac = crate::vmac::vmac_mac(Family::Inet, 51);
    check(&new_vmac(3, "vrrp.51", &mac, SEQ).unwrap(), NEW_VMAC);
    assert_eq!(
        new_vmac(3, "vrrp.51:1", &mac, SEQ).unwrap_err().0,
        "'vrrp.51:1' is not an interface name"
    );
    assert_eq!(
        new_vmac(0, "vrrp.51", &mac, SEQ).unwrap_err().0,
        "0 is not an interface index"
    );
}

/// `ip link set dev vrrp.51 addrgenmode none`
const ADDR_GEN_MODE_NONE_MSG: &[(&str, &str)] = &[
    ("nlmsg_len 48", "30000000"),
    ("RTM_NEWLINK", "1000"),
    ("REQUEST|ACK", "0500"),
    ("seq", "01000000"),
    ("pid", "00000000"),
    (
        "ifinfomsg: AF_UNSPEC, index 4",
        "00 00 0000 04000000 00000000 00000000",
    ),
    ("IFLA_AF_SPEC", "1000 1a00"),
    ("  AF_INET6", "0c00 0a00"),
    (
        "    IFLA_INET6_ADDR_GEN_MODE none + 3 pad",
        "0500 0800 01 000000",
    ),
];

#[test]
fn addrgenmode_none() {
    check(
        &set_addr_gen_mode(4, ADDR_GEN_MODE_NONE, SEQ).unwrap(),
        ADDR_GEN_MODE_NONE_MSG,
    );
}

/// `ip link set dev vrrp.51 up` / `down` / `ip link del dev vrrp.51`
#[test]
fn link_up_down_delete() {
    let header = |ty: &'static str| {
        [
            ("nlmsg_len 32", "20000000"),
            ("type", ty),
            ("REQUEST|ACK", "0500"),
            ("seq", "01000000"),
            ("pid", "00000000"),
        ]
    };
    let up: Vec<_> = header("1000")
        .into_iter()
        .chain([(
            "ifinfomsg: index 4, flags IFF_UP, change IFF_UP",
            "00 00 0000 04000000 01000000 01000000",
        )])
        .collect();
    check(&set_link_up(4, true, SEQ).unwrap(), &up);
    let down: Vec<_> = header("1000")
        .into_iter()
        .chain([(
            "ifinfomsg: index 4, flags 0, change IFF_UP",
            "00 00 0000 04000000 00000000 01000000",
        )])
        .collect();
    check(&set_link_up(4, false, SEQ).unwrap(), &down);
    let del: Vec<_> = header("1100")
        .into_iter()
        .chain([(
            "ifinfomsg: index 4",
            "00 00 0000 04000000 00000000 00000000",
        )])
        .collect();
    check(&del_link(4, SEQ).unwrap(), &del);
}

/// From the struct layouts (`ip` asks the same, with RTEXT_FILTER_VF as well).
#[test]
fn queries_and_dumps() {
    check(
        &get_link(LinkKey::Name("v0"), SEQ).unwrap(),
        &[
            ("nlmsg_len 48", "30000000"),
            ("RTM_GETLINK", "1200"),
            ("REQUEST", "0100"),
            ("seq", "01000000"),
            ("pid", "00000000"),
            IFINFOMSG_0,
            (
                "IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS",
                "0800 1d00 08000000",
            ),
            ("IFLA_IFNAME \"v0\\0\" + 1 pad", "0700 0300 763000 00"),
        ],
    );
    check(
        &get_link(LinkKey::Index(7), SEQ).unwrap(),
        &[
            ("nlmsg_len 40", "28000000"),
            ("RTM_GETLINK", "1200"),
            ("REQUEST", "0100"),
            ("seq", "01000000"),
            ("pid", "00000000"),
            (
                "ifinfomsg: index 7",
                "00 00 0000 07000000 00000000 00000000",
            ),
            (
                "IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS",
                "0800 1d00 08000000",
            ),
        ],
    );
    check(
        &get_links(SEQ).unwrap(),
        &[
            ("nlmsg_len 40", "28000000"),
            ("RTM_GETLINK", "1200"),
            ("REQUEST|DUMP", "0103"),
            ("seq", "01000000"),
            ("pid", "00000000"),
            IFINFOMSG_0,
            (
                "IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS",
                "0800 1d00 08000000",
            ),
        ],
    );
    check(
        &get_addrs(Some(Family::Inet), SEQ).unwrap(),
        &[
            ("nlmsg_len 24", "18000000"),
            ("RTM_GETADDR", "1600"),
            ("REQUEST|DUMP", "0103"),
            ("seq", "01000000"),
            ("pid", "00000000"),
            ("ifaddrmsg: AF_INET, all zero", "02 00 00 00 00000000"),
        ],
    );
    assert_eq!(get_addrs(None, SEQ).unwrap()[16], 0, "AF_UNSPEC: both");
    assert!(get_link(LinkKey::Name("no/slash"), SEQ).is_err());
}

#[test]
fn the_sequence_number_is_the_one_given() {
    let b = del_link(4, 0xdead_beef).unwrap();
    assert_eq!(b[8..12], 0xdead_beefu32.to_ne_bytes());
}
