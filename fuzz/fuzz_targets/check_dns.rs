//! Fuzzes DNS_CHECK reply handling: the first two bytes are the query id, the third picks
//! the type and whether the reply is made to look like ours (id and QR bit); the rest is
//! the datagram. Never a panic; a reply to another id or without QR is never an answer.
#![no_main]

use keepalived_check::dns::DnsExchange;
use keepalived_config::lvs::checker::DnsType;
use libfuzzer_sys::fuzz_target;

const TYPES: [DnsType; 9] = [
    DnsType::A,
    DnsType::Ns,
    DnsType::Cname,
    DnsType::Soa,
    DnsType::Mx,
    DnsType::Txt,
    DnsType::Aaaa,
    DnsType::Rrsig,
    DnsType::Dnskey,
];

fuzz_target!(|data: &[u8]| {
    let [a, b, sel, rest @ ..] = data else {
        return;
    };
    let id = u16::from_be_bytes([*a, *b]);
    let qtype = TYPES[usize::from(sel & 0x0f) % TYPES.len()];
    let e = DnsExchange::new(qtype, "www.example.com.", id);
    let mut reply = rest.to_vec();
    if sel & 0x80 != 0 && reply.len() >= 4 {
        reply[..2].copy_from_slice(&id.to_be_bytes());
        reply[2] |= 0x80;
        if sel & 0x40 != 0 {
            // Its own question, echoed.
            let q = e.request();
            let end = reply.len().min(q.len());
            reply[4..end].copy_from_slice(&q[4..end]);
        }
    }
    let verdict = e.reply(&reply);
    if reply.len() < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
        assert!(verdict.is_none());
    }
});
