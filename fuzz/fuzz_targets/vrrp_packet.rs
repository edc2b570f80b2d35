//! Fuzzes the VRRP codec: the first byte picks the receive rules, the rest is a packet.
//! Bit 0 of the selector: an IPv4 packet with its header through `split_ipv4`, or a bare
//! VRRP message; the other bits pick family, version, auth, checksum mode, unicast and
//! the unicast source check. Whatever `decode` accepts must encode again.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use keepalived_vrrp::packet::{MULTICAST_V4, MULTICAST_V6, split_ipv4};
use keepalived_vrrp::{
    AdvertInterval, Auth, ChecksumMode, Family, Password, ReceiveRules, RxMeta, UnicastPeer,
    Version, decode, encode, peek_vrid,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, packet)) = data.split_first() else {
        return;
    };
    let family = if sel & 2 == 0 {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    let version = if sel & 4 == 0 {
        Version::V2
    } else {
        Version::V3
    };
    let interval = match version {
        Version::V2 => AdvertInterval::Secs(1),
        Version::V3 => AdvertInterval::Centis(100),
    };
    let mut rules = ReceiveRules::multicast(family, version, interval);
    if sel & 8 != 0 {
        rules.auth = Auth::Pass(Password::from_text("fuzzpass"));
    }
    if sel & 16 != 0 {
        rules.checksum = ChecksumMode::AsV2;
    }
    rules.unicast = sel & 32 != 0;
    rules.check_unicast_source = sel & 64 != 0;
    let (src, dst): (IpAddr, IpAddr) = match (family, rules.unicast) {
        (Family::Ipv4, false) => ([192, 0, 2, 1].into(), MULTICAST_V4.into()),
        (Family::Ipv4, true) => ([192, 0, 2, 1].into(), [192, 0, 2, 2].into()),
        (Family::Ipv6, false) => (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).into(),
            MULTICAST_V6.into(),
        ),
        (Family::Ipv6, true) => (
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
        ),
    };
    rules.peers = vec![UnicastPeer {
        addr: src,
        min_ttl: Some(1),
        max_ttl: Some(200),
    }];

    let (meta, vrrp) = if sel & 1 != 0 && family == Family::Ipv4 {
        match split_ipv4(packet) {
            Ok((h, v)) => (h.rx_meta(), v),
            Err(_) => return,
        }
    } else {
        (
            RxMeta {
                src,
                dst,
                ttl_or_hop_limit: Some(255),
            },
            packet,
        )
    };
    let _ = peek_vrid(vrrp);
    if let Ok(advert) = decode(vrrp, &meta, &rules) {
        // An accepted advert is well formed: it encodes again.
        assert!(encode(&advert, meta.src, meta.dst, rules.checksum).is_ok());
    }
});
