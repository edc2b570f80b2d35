//! Property tests of the codec: every valid advert round-trips through encode and decode,
//! and no input, however broken, makes decode or split_ipv4 panic.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepalived_vrrp::packet::{MULTICAST_V4, MULTICAST_V6, split_ipv4};
use keepalived_vrrp::{
    Advert, AdvertInterval, Auth, ChecksumMode, Family, Password, ReceiveRules, RxMeta,
    UnicastPeer, Version, decode, encode, peek_vrid,
};
use proptest::prelude::*;

fn addr(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::Ipv4 => any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed(),
        Family::Ipv6 => any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed(),
    }
}

/// A valid advert with its family and checksum mode.
fn advert() -> impl Strategy<Value = (Advert, Family, ChecksumMode)> {
    (
        prop_oneof![Just(Family::Ipv4), Just(Family::Ipv6)],
        prop_oneof![Just(Version::V2), Just(Version::V3)],
        prop_oneof![Just(ChecksumMode::PseudoHeader), Just(ChecksumMode::AsV2)],
    )
        .prop_flat_map(|(family, version, mode)| {
            let interval = match version {
                Version::V2 => any::<u8>().prop_map(AdvertInterval::Secs).boxed(),
                Version::V3 => (0u16..=4095).prop_map(AdvertInterval::Centis).boxed(),
            };
            let auth = if version == Version::V2 && family == Family::Ipv4 {
                prop_oneof![
                    Just(Auth::None),
                    any::<[u8; 8]>().prop_map(|p| Auth::Pass(Password(p)))
                ]
                .boxed()
            } else {
                Just(Auth::None).boxed()
            };
            (
                any::<u8>(),
                any::<u8>(),
                auth,
                interval,
                proptest::collection::vec(addr(family), 0..20),
            )
                .prop_map(move |(vrid, priority, auth, interval, addrs)| {
                    (
                        Advert {
                            version,
                            vrid,
                            priority,
                            auth,
                            interval,
                            addrs,
                        },
                        family,
                        mode,
                    )
                })
        })
}

fn rules_for(a: &Advert, family: Family, mode: ChecksumMode, unicast: bool) -> ReceiveRules {
    let mut r = ReceiveRules::multicast(family, a.version, a.interval);
    r.auth = a.auth;
    r.checksum = mode;
    r.unicast = unicast;
    r
}

fn ends(family: Family, unicast: bool) -> (IpAddr, IpAddr) {
    match (family, unicast) {
        (Family::Ipv4, false) => ("192.0.2.1".parse().unwrap(), IpAddr::V4(MULTICAST_V4)),
        (Family::Ipv4, true) => ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()),
        (Family::Ipv6, false) => ("fe80::1".parse().unwrap(), IpAddr::V6(MULTICAST_V6)),
        (Family::Ipv6, true) => (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        ),
    }
}

fn rules() -> impl Strategy<Value = ReceiveRules> {
    (
        prop_oneof![Just(Family::Ipv4), Just(Family::Ipv6)],
        prop_oneof![Just(Version::V2), Just(Version::V3)],
        any::<[u8; 8]>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(family, version, pw, pass, as_v2, unicast, check, ttl)| {
            let interval = match version {
                Version::V2 => AdvertInterval::Secs(1),
                Version::V3 => AdvertInterval::Centis(100),
            };
            let mut r = ReceiveRules::multicast(family, version, interval);
            if pass {
                r.auth = Auth::Pass(Password(pw));
            }
            if as_v2 {
                r.checksum = ChecksumMode::AsV2;
            }
            r.unicast = unicast;
            r.check_unicast_source = check;
            let (src, _) = ends(family, true);
            r.peers = vec![UnicastPeer {
                addr: src,
                min_ttl: Some(ttl),
                max_ttl: Some(ttl.saturating_add(10)),
            }];
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // Encode then decode gives the advert back, for both versions, both families,
    // multicast and unicast, both checksum modes.
    #[test]
    fn round_trip((a, family, mode) in advert(), unicast in any::<bool>()) {
        let (src, dst) = ends(family, unicast);
        let bytes = encode(&a, src, dst, mode).unwrap();
        prop_assert_eq!(bytes.len(), keepalived_vrrp::packet::message_len(a.version, family, a.addrs.len()));
        prop_assert_eq!(peek_vrid(&bytes), Some(a.vrid));
        let meta = RxMeta { src, dst, ttl_or_hop_limit: Some(255) };
        let back = decode(&bytes, &meta, &rules_for(&a, family, mode, unicast));
        prop_assert_eq!(back, Ok(a.clone()));
        // And encoding the decoded advert gives the same bytes.
        prop_assert_eq!(encode(&a, src, dst, mode).unwrap(), bytes);
    }

    // A single flipped bit always changes the one's-complement sum (RFC 1071), so a
    // corrupted advert is always dropped, never taken as another advert.
    #[test]
    fn bit_flip_is_dropped((a, family, mode) in advert(), bit in any::<usize>()) {
        let (src, dst) = ends(family, false);
        let mut bytes = encode(&a, src, dst, mode).unwrap();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let meta = RxMeta { src, dst, ttl_or_hop_limit: Some(255) };
        prop_assert!(decode(&bytes, &meta, &rules_for(&a, family, mode, false)).is_err());
    }

    // Any bytes with any rules: no panic, and an accepted advert is consistent.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        r in rules(),
        ttl in proptest::option::of(any::<u8>()),
        mcast in any::<bool>(),
    ) {
        let (src, dst) = ends(r.family, !mcast);
        let meta = RxMeta { src, dst, ttl_or_hop_limit: ttl };
        let _ = peek_vrid(&bytes);
        if let Ok(a) = decode(&bytes, &meta, &r) {
            prop_assert_eq!(a.addrs.len(), usize::from(bytes[3]));
            prop_assert_eq!(a.version, r.version);
        }
    }

    // Arbitrary bytes shaped like a VRRP header (right length for their count) reach the
    // later checks; still no panic.
    #[test]
    fn shaped_bytes_never_panic(
        head in any::<[u8; 8]>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        r in rules(),
    ) {
        let mut bytes = head.to_vec();
        bytes[0] = (bytes[0] & 0x0f) | (r.version.number() << 4);
        bytes.extend_from_slice(&body);
        let (src, dst) = ends(r.family, r.unicast);
        let meta = RxMeta { src, dst, ttl_or_hop_limit: Some(255) };
        let _ = decode(&bytes, &meta, &r);
    }

    // The IPv4 header splitter never panics and never returns bytes outside the packet.
    #[test]
    fn split_ipv4_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok((h, rest)) = split_ipv4(&bytes) {
            prop_assert!(h.header_len >= 20);
            prop_assert_eq!(rest.len(), h.total_len - h.header_len);
        }
    }
}
