//! DNS_CHECK exchanges: keepalived's query, byte for byte, and the judgement of replies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use keepalived_check::conv::Exchange;
use keepalived_check::dns::{DnsExchange, check_name, type_code};
use keepalived_check::spec::{Outcome, Probe};
use keepalived_config::lvs::checker::DnsType;
use proptest::prelude::*;

const QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
\x07example\x03com\x00\x00\x06\x00\x01";

fn reply(flags: u16, question: &[u8]) -> Vec<u8> {
    let mut r = vec![0x12, 0x34];
    r.extend_from_slice(&flags.to_be_bytes());
    r.extend_from_slice(&[0, u8::from(!question.is_empty()), 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(question);
    // An answer: a pointer to the question name, SOA IN, TTL, a short rdata.
    r.extend_from_slice(b"\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x04abcd");
    r
}

#[test]
fn the_query_is_keepalived_s() {
    let probe = Probe::Dns {
        qtype: DnsType::Soa,
        name: "example.com.".into(),
    };
    let e = Exchange::new(&probe, 0x1234, false).unwrap();
    assert_eq!(e.request(), QUERY);
    // Without the trailing dot, the same query.
    assert_eq!(
        DnsExchange::new(DnsType::Soa, "example.com", 0x1234).request(),
        QUERY
    );
    // The root.
    assert_eq!(
        DnsExchange::new(DnsType::Ns, ".", 7).request(),
        b"\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01"
    );
    let codes: Vec<u16> = [
        DnsType::A,
        DnsType::Ns,
        DnsType::Cname,
        DnsType::Soa,
        DnsType::Mx,
        DnsType::Txt,
        DnsType::Aaaa,
        DnsType::Rrsig,
        DnsType::Dnskey,
    ]
    .into_iter()
    .map(type_code)
    .collect();
    assert_eq!(codes, [1, 2, 5, 6, 15, 16, 28, 46, 48]);
}

#[test]
fn replies() {
    let e = DnsExchange::new(DnsType::Soa, "example.com.", 0x1234);
    let q = &QUERY[12..];
    assert_eq!(e.reply(&reply(0x8180, q)), Some(Outcome::Up));
    // NODATA (no answer) with NOERROR passes, as in keepalived.
    let mut nodata = reply(0x8180, q);
    nodata[7] = 0;
    nodata.truncate(12 + q.len());
    assert_eq!(e.reply(&nodata), Some(Outcome::Up));
    assert_eq!(
        e.reply(&reply(0x8183, q)),
        Some(Outcome::Down(
            "the server answered rcode 3 (NXDOMAIN)".into()
        ))
    );
    assert_eq!(
        e.reply(&reply(0x8185, q)),
        Some(Outcome::Down(
            "the server answered rcode 5 (REFUSED)".into()
        ))
    );
    // A FORMERR without question section is judged too.
    assert_eq!(
        e.reply(&reply(0x8181, b"")),
        Some(Outcome::Down(
            "the server answered rcode 1 (FORMERR)".into()
        ))
    );
    // The question echoed with another case (DNS 0x20) is ours.
    let upper = b"\x07EXAMPLE\x03Com\x00\x00\x06\x00\x01";
    assert_eq!(e.reply(&reply(0x8180, upper)), Some(Outcome::Up));
}

#[test]
fn not_ours() {
    let e = DnsExchange::new(DnsType::Soa, "example.com.", 0x1234);
    let q = &QUERY[12..];
    // Too short, another id, a query (no QR), another question.
    assert_eq!(e.reply(&reply(0x8180, q)[..11]), None);
    let mut other = reply(0x8180, q);
    other[1] = 0x35;
    assert_eq!(e.reply(&other), None);
    assert_eq!(e.reply(&reply(0x0100, q)), None);
    assert_eq!(
        e.reply(&reply(0x8180, b"\x07example\x03org\x00\x00\x06\x00\x01")),
        None
    );
    assert_eq!(
        e.reply(&reply(0x8180, b"\x07example\x03com\x00\x00\x01\x00\x01")),
        None
    );
    assert_eq!(
        e.timed_out(),
        Outcome::Down("no DNS reply before the timeout".into())
    );
}

#[test]
fn names() {
    assert!(check_name("example.com.").is_ok());
    assert!(check_name(".").is_ok());
    assert!(check_name("a..b").is_err());
    assert!(check_name(&format!("{}.com", "a".repeat(64))).is_err());
    assert!(check_name(&"abcdefghi.".repeat(26)).is_err());
    // An over-long label is cut, never a panic.
    let q = DnsExchange::new(DnsType::A, &"a".repeat(100), 1).request();
    assert_eq!(q[12], 63);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn garbage_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..600), ours in any::<bool>()) {
        let e = DnsExchange::new(DnsType::A, "www.example.com.", 0x1234);
        if ours && data.len() >= 4 {
            data[0] = 0x12;
            data[1] = 0x34;
            data[2] |= 0x80;
        }
        let _ = e.reply(&data);
    }

    #[test]
    fn query_round_trip(labels in proptest::collection::vec("[a-z0-9-]{1,20}", 0..6), id in any::<u16>()) {
        let name = format!("{}.", labels.join("."));
        let e = DnsExchange::new(DnsType::Aaaa, &name, id);
        let q = e.request();
        // Its own question echoed back with QR set is an answer.
        let mut r = q.clone();
        r[2] |= 0x80;
        prop_assert_eq!(e.reply(&r), Some(Outcome::Up));
    }
}
