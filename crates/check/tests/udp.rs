//! UDP_CHECK exchanges: keepalived's payload and reply rules.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use keepalived_check::conv::Exchange;
use keepalived_check::spec::{Outcome, Probe, UdpProbe};
use keepalived_check::udp::{DEFAULT_PAYLOAD, UdpExchange};
use keepalived_config::lvs::checker::{HexPattern, parse_hex};
use proptest::prelude::*;

fn probe(payload: Option<&[u8]>, require: Option<&str>, min: u16, max: u16) -> UdpProbe {
    UdpProbe {
        payload: payload.map(<[u8]>::to_vec),
        require_reply: require.map(|s| {
            let (data, mask) = parse_hex(s, true).unwrap();
            HexPattern { data, mask }
        }),
        min_reply_length: min,
        max_reply_length: max,
    }
}

#[test]
fn default_payload_is_keepalived_s() {
    assert_eq!(DEFAULT_PAYLOAD, b"keepalived check - keepalived ch");
    let e = Exchange::new(&Probe::Udp(Box::new(probe(None, None, 0, 255))), 9, false).unwrap();
    assert_eq!(e.request(), DEFAULT_PAYLOAD);
    let e = UdpExchange::new(&probe(Some(b"\x01\x02"), None, 0, 255));
    assert_eq!(e.request(), b"\x01\x02");
}

#[test]
fn without_require_reply() {
    let mut e = Exchange::new(&Probe::Udp(Box::new(probe(None, None, 0, 255))), 9, false).unwrap();
    assert_eq!(e.timed_out(), Outcome::Up);
    assert_eq!(e.reply(b"anything at all"), Some(Outcome::Up));
    assert_eq!(
        e.refused("Connection refused"),
        Outcome::Down("ICMP error from the server: Connection refused".into())
    );
}

#[test]
fn bare_require_reply_takes_any_reply_of_any_length() {
    let e = UdpExchange::new(&probe(None, Some(""), 10, 20));
    assert_eq!(e.reply(b"x"), Outcome::Up);
    assert_eq!(
        e.timed_out(),
        Outcome::Down("no reply before the timeout (require_reply)".into())
    );
}

#[test]
fn require_reply_with_wildcards() {
    let e = UdpExchange::new(&probe(None, Some("0aXb ff"), 0, 255));
    assert_eq!(e.reply(b"\x0a\x1b\xff"), Outcome::Up);
    assert_eq!(e.reply(b"\x0a\xfb\xff\x99"), Outcome::Up);
    assert_eq!(
        e.reply(b"\x0a\x1c\xff"),
        Outcome::Down("reply does not match require_reply at byte 1: got 1c, expected xb".into())
    );
    assert_eq!(
        e.reply(b"\x0b"),
        Outcome::Down("reply does not match require_reply at byte 0: got 0b, expected 0a".into())
    );
    // As keepalived: a shorter reply is compared on its length only.
    assert_eq!(e.reply(b"\x0a"), Outcome::Up);
}

#[test]
fn reply_lengths() {
    let e = UdpExchange::new(&probe(None, Some("0a"), 2, 4));
    assert_eq!(
        e.reply(b"\x0a"),
        Outcome::Down("reply of 1 bytes, not within 2-4 bytes".into())
    );
    assert_eq!(e.reply(b"\x0a\x00"), Outcome::Up);
    assert_eq!(e.reply(b"\x0a\x00\x00\x00"), Outcome::Up);
    assert_eq!(
        e.reply(b"\x0a\x00\x00\x00\x00"),
        Outcome::Down("reply of 5 bytes, not within 2-4 bytes".into())
    );
    // Default max_reply_length 255.
    let e = UdpExchange::new(&probe(None, Some("0a"), 0, 255));
    assert!(matches!(e.reply(&[0x0a; 256]), Outcome::Down(_)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// A reply made from the pattern, wildcard nibbles anything, always matches; any
    /// reply is judged without panic.
    #[test]
    fn pattern_matches_its_instances(
        pat in proptest::collection::vec((any::<u8>(), 0u8..4), 1..40),
        noise in proptest::collection::vec(any::<u8>(), 40),
        garbage in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let data: Vec<u8> = pat.iter().map(|&(b, _)| b).collect();
        let mask: Vec<u8> = pat.iter().map(|&(_, m)| [0, 0x0f, 0xf0, 0xff][usize::from(m)]).collect();
        let p = UdpProbe {
            payload: None,
            require_reply: Some(HexPattern { data: data.clone(), mask: mask.clone() }),
            min_reply_length: 0,
            max_reply_length: 255,
        };
        let e = UdpExchange::new(&p);
        let instance: Vec<u8> = data
            .iter()
            .zip(&mask)
            .zip(&noise)
            .map(|((&d, &m), &n)| (d & !m) | (n & m))
            .collect();
        prop_assert_eq!(e.reply(&instance), Outcome::Up);
        let _ = e.reply(&garbage);
    }
}
