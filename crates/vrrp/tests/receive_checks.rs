//! The receive checks of KEEPALIVED-REFERENCE 6.3, one by one and in their order: a
//! packet that breaks several rules is dropped for the first one keepalived checks.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;

use keepalived_vrrp::{
    Advert, AdvertInterval, Auth, ChecksumMode, Drop, Family, Password, ReceiveRules, RxMeta,
    UnicastPeer, Version, decode, encode,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const SRC: &str = "192.0.2.1";
const GROUP: &str = "224.0.0.18";

fn v2_advert() -> Advert {
    Advert {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        auth: Auth::Pass(Password::from_text("secret")),
        interval: AdvertInterval::Secs(1),
        addrs: vec![ip("192.0.2.7")],
    }
}

fn v2_rules() -> ReceiveRules {
    let mut r = ReceiveRules::multicast(Family::Ipv4, Version::V2, AdvertInterval::Secs(1));
    r.auth = Auth::Pass(Password::from_text("secret"));
    r
}

fn meta(ttl: u8) -> RxMeta {
    RxMeta {
        src: ip(SRC),
        dst: ip(GROUP),
        ttl_or_hop_limit: Some(ttl),
    }
}

fn bytes(a: &Advert) -> Vec<u8> {
    encode(a, ip(SRC), ip(GROUP), ChecksumMode::PseudoHeader).unwrap()
}

/// Recomputes the v2 checksum after a mutation.
fn fix_v2_checksum(b: &mut [u8]) {
    b[6] = 0;
    b[7] = 0;
    let sum = keepalived_vrrp::packet::internet_checksum(&[b]);
    b[6..8].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn valid_v2_advert_is_accepted() {
    let a = v2_advert();
    assert_eq!(decode(&bytes(&a), &meta(255), &v2_rules()), Ok(a));
}

// RFC 9568 7.1 "MUST verify that the received packet contains the complete VRRP packet".
#[test]
fn length_is_checked_first() {
    let mut b = bytes(&v2_advert());
    b.push(0);
    // Also a bad TTL and a bad checksum: the length comes first.
    assert_eq!(
        decode(&b, &meta(1), &v2_rules()),
        Err(Drop::Length {
            received: 21,
            expected: 20
        })
    );
    assert_eq!(
        decode(&[0x21, 7, 100], &meta(255), &v2_rules()),
        Err(Drop::Length {
            received: 3,
            expected: 8
        })
    );
    assert!(matches!(
        decode(&[], &meta(255), &v2_rules()),
        Err(Drop::Length { .. })
    ));
    // The expected length follows the packet's own version: a v3 packet (no auth data)
    // of the right length reaches the version check.
    let v3 = Advert {
        version: Version::V3,
        interval: AdvertInterval::Centis(100),
        auth: Auth::None,
        ..v2_advert()
    };
    assert_eq!(
        decode(&bytes(&v3), &meta(255), &v2_rules()),
        Err(Drop::Version { received: 3 })
    );
}

// RFC 9568 7.1 "MUST verify that the IPv4 TTL or IPv6 Hop Limit is 255"; keepalived skips
// it for unicast instances (KEEPALIVED-REFERENCE 6.11) and when the TTL is unknown.
#[test]
fn ttl_255_unless_unicast() {
    let b = bytes(&v2_advert());
    // A bad TTL comes before the version check (a v2 packet to a v3 instance).
    let v3_rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100));
    assert_eq!(
        decode(&b, &meta(64), &v3_rules),
        Err(Drop::Ttl { received: 64 })
    );
    assert_eq!(
        decode(&b, &meta(255), &v3_rules),
        Err(Drop::Version { received: 2 })
    );
    let mut unknown = meta(0);
    unknown.ttl_or_hop_limit = None;
    assert!(decode(&b, &unknown, &v2_rules()).is_ok());
    // Unicast: no TTL rule (the destination must then be unicast).
    let mut r = v2_rules();
    r.unicast = true;
    let uni = RxMeta {
        src: ip(SRC),
        dst: ip("192.0.2.2"),
        ttl_or_hop_limit: Some(3),
    };
    let b = encode(
        &v2_advert(),
        ip(SRC),
        ip("192.0.2.2"),
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    assert!(decode(&b, &uni, &r).is_ok());
}

// RFC 9568 7.1 "MUST verify the VRRP version field".
#[test]
fn version_before_auth() {
    // Version 1 has no auth data in keepalived's length rule: 8 + 4 bytes.
    let b = [0x11, 7, 100, 1, 9, 1, 0, 0, 192, 0, 2, 7];
    assert_eq!(
        decode(&b, &meta(255), &v2_rules()),
        Err(Drop::Version { received: 1 })
    );
}

// RFC 2338 7.1: auth type valid, equal to ours, then the password.
#[test]
fn v2_auth_checks_in_order() {
    let mut b = bytes(&v2_advert());
    b[4] = 9;
    b[5] = 2; // a wrong interval too: auth comes first
    assert_eq!(
        decode(&b, &meta(255), &v2_rules()),
        Err(Drop::InvalidAuthType { received: 9 })
    );
    b[4] = 2; // AH: known, but not ours
    assert_eq!(
        decode(&b, &meta(255), &v2_rules()),
        Err(Drop::AuthTypeMismatch { received: 2 })
    );
    let mut b = bytes(&v2_advert());
    b[19] ^= 1; // last password byte
    b[5] = 2;
    assert_eq!(decode(&b, &meta(255), &v2_rules()), Err(Drop::AuthFailure));
}

// RFC 3768 7.1 "MUST verify that the Adver Interval in the packet is the same as the
// locally configured": keepalived drops a v2 mismatch (before the type check).
#[test]
fn v2_interval_mismatch_is_dropped() {
    let mut b = bytes(&v2_advert());
    b[5] = 3;
    b[0] = 0x22; // type 2 too
    fix_v2_checksum(&mut b);
    assert_eq!(
        decode(&b, &meta(255), &v2_rules()),
        Err(Drop::IntervalMismatch { received: 3 })
    );
}

// RFC 9568 6.4.2: a v3 backup takes the master's interval, so a mismatch is accepted.
#[test]
fn v3_interval_mismatch_is_accepted() {
    let a = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 100,
        auth: Auth::None,
        interval: AdvertInterval::Centis(250),
        addrs: vec![ip("192.0.2.7")],
    };
    let r = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100));
    assert_eq!(decode(&bytes(&a), &meta(255), &r), Ok(a));
}

// RFC 9568 7.1 "MUST verify that the Type field is 1" - after the v2 interval, before
// the checksum.
#[test]
fn type_before_checksum() {
    let mut b = bytes(&v2_advert());
    b[0] = 0x22;
    b[7] ^= 0xff;
    assert_eq!(
        decode(&b, &meta(255), &v2_rules()),
        Err(Drop::Type { received: 2 })
    );
}

// RFC 9568 7.1 "MUST verify the VRRP checksum".
#[test]
fn checksum_before_destination() {
    let mut b = bytes(&v2_advert());
    b[2] = 101; // priority changed, checksum not
    let mut m = meta(255);
    m.dst = ip("192.0.2.2"); // unicast destination to a multicast instance too
    assert_eq!(decode(&b, &m, &v2_rules()), Err(Drop::Checksum));
    fix_v2_checksum(&mut b);
    assert_eq!(
        decode(&b, &m, &v2_rules()),
        Err(Drop::DestinationMode {
            expected_unicast: false
        })
    );
}

// KEEPALIVED-REFERENCE 6.3 "multicast vs unicast destination must match the mode".
#[test]
fn unicast_instance_refuses_multicast() {
    let mut r = v2_rules();
    r.unicast = true;
    assert_eq!(
        decode(&bytes(&v2_advert()), &meta(255), &r),
        Err(Drop::DestinationMode {
            expected_unicast: true
        })
    );
}

// KEEPALIVED-REFERENCE 6.3 "owner_ignore_adverts with effective priority 255 -> drop".
#[test]
fn owner_ignores_adverts() {
    let mut r = v2_rules();
    r.owner_ignore_adverts = true;
    assert_eq!(
        decode(&bytes(&v2_advert()), &meta(255), &r),
        Err(Drop::OwnerIgnoresAdverts)
    );
}

// KEEPALIVED-REFERENCE 6.3/2.11: the unicast source must be a peer with
// check_unicast_src or a min/max_ttl, and its TTL within the range.
#[test]
fn unicast_source_and_ttl_range() {
    let peer_dst = ip("192.0.2.2");
    let b = encode(&v2_advert(), ip(SRC), peer_dst, ChecksumMode::PseudoHeader).unwrap();
    let m = |ttl| RxMeta {
        src: ip(SRC),
        dst: peer_dst,
        ttl_or_hop_limit: Some(ttl),
    };
    let mut r = v2_rules();
    r.unicast = true;
    r.peers = vec![UnicastPeer::new(ip("192.0.2.3"))];
    // Without check_unicast_src any source is accepted.
    assert!(decode(&b, &m(64), &r).is_ok());
    r.check_unicast_source = true;
    assert_eq!(decode(&b, &m(64), &r), Err(Drop::UnknownUnicastSource));
    // A TTL bound turns the source check on by itself.
    r.check_unicast_source = false;
    r.peers = vec![
        UnicastPeer::new(ip("192.0.2.3")),
        UnicastPeer {
            addr: ip(SRC),
            min_ttl: Some(60),
            max_ttl: Some(64),
        },
    ];
    assert!(decode(&b, &m(64), &r).is_ok());
    assert_eq!(
        decode(&b, &m(59), &r),
        Err(Drop::UnicastTtl { received: 59 })
    );
    assert_eq!(
        decode(&b, &m(65), &r),
        Err(Drop::UnicastTtl { received: 65 })
    );
    r.peers[0].max_ttl = Some(255);
    r.peers.remove(1);
    assert_eq!(decode(&b, &m(64), &r), Err(Drop::UnknownUnicastSource));
}

#[test]
fn family_must_match() {
    let mut m = meta(255);
    m.src = ip("2001:db8::1");
    assert_eq!(
        decode(&bytes(&v2_advert()), &m, &v2_rules()),
        Err(Drop::Family)
    );
}

// The address list is not checked by decode: a mismatch is only counted by the instance.
#[test]
fn address_list_is_not_a_drop() {
    let mut a = v2_advert();
    a.addrs = vec![ip("192.0.2.99"), ip("192.0.2.98")];
    assert_eq!(decode(&bytes(&a), &meta(255), &v2_rules()), Ok(a));
}
