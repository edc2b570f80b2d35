//! PING_CHECK exchanges: the echo request, bytes for bytes, and reply matching for ping
//! sockets (identifier rewritten) and raw sockets (IPv4 header included, foreign traffic).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use keepalived_check::conv::Exchange;
use keepalived_check::icmp::{PAYLOAD_LEN, PingExchange, checksum, payload};
use keepalived_check::spec::{Outcome, Probe};
use proptest::prelude::*;

/// The reply a host makes to `req` (type changed, checksum redone for IPv4).
fn echo(req: &[u8], v6: bool, ident: Option<u16>) -> Vec<u8> {
    let mut r = req.to_vec();
    r[0] = if v6 { 129 } else { 0 };
    if let Some(i) = ident {
        r[4..6].copy_from_slice(&i.to_be_bytes());
    }
    r[2] = 0;
    r[3] = 0;
    if !v6 {
        let c = checksum(&r);
        r[2..4].copy_from_slice(&c.to_be_bytes());
    }
    r
}

fn ipv4(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let len = (p.len() + payload.len()) as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn request_v4() {
    let e = Exchange::new(&Probe::Ping, 0xbeef, false).unwrap();
    let r = e.request();
    assert_eq!(r.len(), 8 + PAYLOAD_LEN);
    assert_eq!(&r[..2], &[8, 0]);
    assert_eq!(&r[4..8], &[0xbe, 0xef, 0xbe, 0xef]);
    assert_eq!(&r[8..27], b"keepalived check - ");
    assert_eq!(&r[8..], &payload()[..]);
    assert_eq!(checksum(&r), 0, "the checksum covers the message");
}

#[test]
fn request_v6_leaves_the_checksum_to_the_kernel() {
    let r = PingExchange::new(7, true).request();
    assert_eq!(&r[..8], &[128, 0, 0, 0, 0, 7, 0, 7]);
}

#[test]
fn replies_v4() {
    let e = PingExchange::new(0x1111, false);
    let req = e.request();
    // Ping socket: the kernel rewrote the identifier.
    assert_eq!(e.reply(&echo(&req, false, Some(0x4242))), Some(Outcome::Up));
    // Raw socket: with the IPv4 header.
    assert_eq!(e.reply(&ipv4(&echo(&req, false, None))), Some(Outcome::Up));
    // Our own request seen on a raw socket, another sequence, another payload, a bad
    // checksum: not ours.
    assert_eq!(e.reply(&ipv4(&req)), None);
    let other = PingExchange::new(0x1112, false).request();
    assert_eq!(e.reply(&echo(&other, false, None)), None);
    let mut bad = echo(&req, false, None);
    bad[20] ^= 1;
    assert_eq!(e.reply(&bad), None);
    let mut short = echo(&req, false, None);
    short.truncate(60);
    assert_eq!(e.reply(&short), None);
    assert_eq!(e.reply(&[]), None);
    assert_eq!(e.reply(&[0]), None);
}

#[test]
fn unreachable_quoting_our_request_fails() {
    let e = PingExchange::new(0x2222, false);
    let req = e.request();
    let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&ipv4(&req[..8]));
    let c = checksum(&err);
    err[2..4].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        e.reply(&ipv4(&err)),
        Some(Outcome::Down(
            "destination unreachable (ICMP type 3 code 1)".into()
        ))
    );
    // Quoting someone else's request: ignored.
    let other = PingExchange::new(0x2223, false).request();
    let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&ipv4(&other[..8]));
    assert_eq!(e.reply(&err), None);
}

#[test]
fn replies_v6() {
    let e = PingExchange::new(0x3333, true);
    let req = e.request();
    assert_eq!(e.reply(&echo(&req, true, Some(9))), Some(Outcome::Up));
    assert_eq!(e.reply(&req), None);
    // Time exceeded quoting our request (IPv6 header, next header 58).
    let mut err = vec![3, 0, 0, 0, 0, 0, 0, 0];
    let mut ip6 = vec![0x60, 0, 0, 0, 0, 136, 58, 64];
    ip6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    err.extend_from_slice(&ip6);
    err.extend_from_slice(&req);
    assert_eq!(
        e.reply(&err),
        Some(Outcome::Down("time exceeded (ICMPv6 type 3 code 0)".into()))
    );
    assert_eq!(
        e.timed_out(),
        Outcome::Down("no echo reply before the timeout".into())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), v6 in any::<bool>(), id in any::<u16>()) {
        let e = PingExchange::new(id, v6);
        let _ = e.reply(&data);
        let _ = e.reply(&ipv4(&data));
    }

    #[test]
    fn every_echo_of_ours_matches(id in any::<u16>(), ident in any::<u16>(), v6 in any::<bool>()) {
        let e = PingExchange::new(id, v6);
        prop_assert_eq!(e.reply(&echo(&e.request(), v6, Some(ident))), Some(Outcome::Up));
    }
}
