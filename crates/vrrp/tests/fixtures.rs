//! Adverts captured from keepalived 2.2.7 (see tests/fixtures/README.md), annotated field
//! by field, decoded with the receive checks and re-encoded byte for byte.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use keepalived_vrrp::packet::{self, split_ipv4};
use keepalived_vrrp::{
    Advert, AdvertInterval, Auth, ChecksumMode, Drop, Family, Password, ReceiveRules, RxMeta,
    UnicastPeer, Version, decode, encode, peek_vrid,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    hex(&std::fs::read_to_string(path).unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Splits a captured IPv6 packet: {src, dst, hop limit} and the VRRP payload.
fn split_ipv6(p: &[u8]) -> (RxMeta, &[u8]) {
    assert_eq!(p[0] >> 4, 6);
    assert_eq!(p[6], 112, "next header VRRP");
    let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let src: [u8; 16] = p[8..24].try_into().unwrap();
    let dst: [u8; 16] = p[24..40].try_into().unwrap();
    let meta = RxMeta {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ttl_or_hop_limit: Some(p[7]),
    };
    (meta, &p[40..40 + len])
}

/// The VRRPv2 PASS advert of `vrid 51, priority 150, advert_int 1, auth_pass kapass`.
/// KEEPALIVED-REFERENCE 6.1: "v2 IPv4 length 40 (20+8+4+8)".
const V2_PASS: &str = "
    45 c0 00 28  00 01 00 00  ff 70 18 91  c0 00 02 01  e0 00 00 12
    21           version 2, type 1 (ADVERTISEMENT)
    33           VRID 51
    96           priority 150
    01           count 1
    01           auth type 1 (PASS)
    01           adver int 1 s
    36 60        checksum (RFC 1071 over the VRRP message, no pseudo-header)
    c0 00 02 33  192.0.2.51
    6b 61 70 61 73 73 00 00   'kapass' zero padded
";

#[test]
fn v2_pass_ipv4_captured() {
    let annotated: Vec<u8> = V2_PASS
        .lines()
        .flat_map(|l| {
            l.split_whitespace()
                .take_while(|w| w.len() == 2 && u8::from_str_radix(w, 16).is_ok())
                .map(|w| u8::from_str_radix(w, 16).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let captured = fixture("vrid51-master.hex");
    assert_eq!(annotated, captured);

    let (h, vrrp) = split_ipv4(&captured).unwrap();
    assert_eq!((h.ttl, h.protocol, h.header_len), (255, 112, 20));
    assert_eq!(peek_vrid(vrrp), Some(51));
    let mut rules = ReceiveRules::multicast(Family::Ipv4, Version::V2, AdvertInterval::Secs(1));
    rules.auth = Auth::Pass(Password::from_text("kapass"));
    let expected = Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        auth: Auth::Pass(Password::from_text("kapass")),
        interval: AdvertInterval::Secs(1),
        addrs: vec![ip("192.0.2.51")],
    };
    let advert = decode(vrrp, &h.rx_meta(), &rules).unwrap();
    assert_eq!(advert, expected);
    let again = encode(
        &advert,
        h.rx_meta().src,
        h.rx_meta().dst,
        ChecksumMode::PseudoHeader,
    );
    assert_eq!(again.unwrap(), vrrp);

    // The wrong password, or none, is refused (RFC 2338 7.1).
    rules.auth = Auth::Pass(Password::from_text("kapasz"));
    assert_eq!(decode(vrrp, &h.rx_meta(), &rules), Err(Drop::AuthFailure));
    rules.auth = Auth::None;
    assert_eq!(
        decode(vrrp, &h.rx_meta(), &rules),
        Err(Drop::AuthTypeMismatch { received: 1 })
    );
}

/// `vrid 52, priority 120, advert_int 0.5, version 3` with two VIPs.
/// KEEPALIVED-REFERENCE 6.1: "v3 IPv4 with 2 VIPs length 36".
#[test]
fn v3_ipv4_captured() {
    let captured = fixture("vrid52-master.hex");
    let (h, vrrp) = split_ipv4(&captured).unwrap();
    assert_eq!(h.total_len, 36);
    assert_eq!(
        vrrp,
        hex("31 34 78 02 \
             0032 2f35 \
             c0000234 c0000298") // version 3 type 1, VRID 52, priority 120, count 2,
                                 // rsvd + max adver int 0x032 = 50 cs, checksum over the IPv4 pseudo-header,
                                 // 192.0.2.52, 192.0.2.152
    );
    let rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(50));
    let advert = decode(vrrp, &h.rx_meta(), &rules).unwrap();
    assert_eq!(
        advert,
        Advert {
            version: Version::V3,
            vrid: 52,
            priority: 120,
            auth: Auth::None,
            interval: AdvertInterval::Centis(50),
            addrs: vec![ip("192.0.2.52"), ip("192.0.2.152")],
        }
    );
    let m = h.rx_meta();
    assert_eq!(
        encode(&advert, m.src, m.dst, ChecksumMode::PseudoHeader).unwrap(),
        vrrp
    );
    // The same packet checked as v3_checksum_as_v2 is still accepted (both forms).
    let mut lax = rules.clone();
    lax.checksum = ChecksumMode::AsV2;
    assert!(decode(vrrp, &m, &lax).is_ok());
}

/// `vrid 53, priority 100, version 3` over IPv6 from fe80::a to ff02::12.
/// KEEPALIVED-REFERENCE 6.1: "v3 IPv6 with 2 VIPs payload 40", traffic class 0xc0, hop
/// limit 255; the checksum was filled by the kernel (IPV6_CHECKSUM).
#[test]
fn v3_ipv6_captured() {
    let captured = fixture("vrid53-master.hex");
    assert_eq!(
        &captured[..4],
        &hex("6c 03 2e 74")[..],
        "version 6, traffic class 0xc0"
    );
    let (meta, vrrp) = split_ipv6(&captured);
    assert_eq!(meta.src, ip("fe80::a"));
    assert_eq!(meta.dst, ip("ff02::12"));
    assert_eq!(meta.ttl_or_hop_limit, Some(255));
    assert_eq!(
        vrrp,
        hex("31 35 64 02  0064 3f4c \
             fe80000000000000 0000000000000053 \
             20010db800000000 0000000000000053") // v3 type 1, VRID 53, priority 100, count 2, 100 cs, checksum,
                                                 // fe80::53, 2001:db8::53 (no auth data over IPv6)
    );
    let rules = ReceiveRules::multicast(Family::Ipv6, Version::V3, AdvertInterval::Centis(100));
    let advert = decode(vrrp, &meta, &rules).unwrap();
    assert_eq!(advert.addrs, vec![ip("fe80::53"), ip("2001:db8::53")]);
    assert_eq!((advert.vrid, advert.priority), (53, 100));
    assert_eq!(
        encode(&advert, meta.src, meta.dst, ChecksumMode::PseudoHeader).unwrap(),
        vrrp
    );
    // The hop limit must be 255 (RFC 9568 7.1).
    let mut hl = meta;
    hl.ttl_or_hop_limit = Some(64);
    assert_eq!(decode(vrrp, &hl, &rules), Err(Drop::Ttl { received: 64 }));
}

/// `vrid 54, priority 200`, unicast from 192.0.2.1 to the peer 192.0.2.2.
/// KEEPALIVED-REFERENCE 6.2: the pseudo-header carries the peer, not 224.0.0.18.
#[test]
fn v3_unicast_captured() {
    let captured = fixture("vrid54-master.hex");
    let (h, vrrp) = split_ipv4(&captured).unwrap();
    assert_eq!(vrrp, hex("31 36 c8 01 0064 bfac c0000236"));
    let mut rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100));
    // Multicast rules refuse a unicast destination.
    assert_eq!(
        decode(vrrp, &h.rx_meta(), &rules),
        Err(Drop::DestinationMode {
            expected_unicast: false
        })
    );
    rules.unicast = true;
    rules.check_unicast_source = true;
    rules.peers = vec![UnicastPeer::new(ip("192.0.2.1"))];
    let advert = decode(vrrp, &h.rx_meta(), &rules).unwrap();
    assert_eq!((advert.vrid, advert.priority), (54, 200));
    let m = h.rx_meta();
    assert_eq!(
        encode(&advert, m.src, m.dst, ChecksumMode::PseudoHeader).unwrap(),
        vrrp
    );
    // Checked against the multicast group instead, the checksum fails.
    let mut mcast = m;
    mcast.dst = ip("224.0.0.18");
    rules.unicast = false;
    assert_eq!(decode(vrrp, &mcast, &rules), Err(Drop::Checksum));
}

/// KEEPALIVED-REFERENCE 6.6: a stopping master sends priority 0 (captured for each kind).
#[test]
fn priority_zero_captured() {
    for (file, family, version, interval, auth) in [
        (
            "vrid51-prio0.hex",
            Family::Ipv4,
            Version::V2,
            AdvertInterval::Secs(1),
            Auth::Pass(Password::from_text("kapass")),
        ),
        (
            "vrid52-prio0.hex",
            Family::Ipv4,
            Version::V3,
            AdvertInterval::Centis(50),
            Auth::None,
        ),
        (
            "vrid53-prio0.hex",
            Family::Ipv6,
            Version::V3,
            AdvertInterval::Centis(100),
            Auth::None,
        ),
    ] {
        let captured = fixture(file);
        let (meta, vrrp) = match family {
            Family::Ipv4 => {
                let (h, v) = split_ipv4(&captured).unwrap();
                (h.rx_meta(), v)
            }
            Family::Ipv6 => split_ipv6(&captured),
        };
        let mut rules = ReceiveRules::multicast(family, version, interval);
        rules.auth = auth;
        let advert = decode(vrrp, &meta, &rules).unwrap();
        assert_eq!(advert.priority, 0, "{file}");
        assert_eq!(
            encode(&advert, meta.src, meta.dst, ChecksumMode::PseudoHeader).unwrap(),
            vrrp
        );
    }
    let captured = fixture("vrid54-prio0.hex");
    let (h, vrrp) = split_ipv4(&captured).unwrap();
    let mut rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100));
    rules.unicast = true;
    assert_eq!(decode(vrrp, &h.rx_meta(), &rules).unwrap().priority, 0);
}

/// The message length helper agrees with the captures.
#[test]
fn message_lengths() {
    assert_eq!(packet::message_len(Version::V2, Family::Ipv4, 1), 20);
    assert_eq!(packet::message_len(Version::V3, Family::Ipv4, 2), 16);
    assert_eq!(packet::message_len(Version::V3, Family::Ipv6, 2), 40);
    // keepalived's VRRPv2 over IPv6 has no auth data.
    assert_eq!(packet::message_len(Version::V2, Family::Ipv6, 1), 24);
}
