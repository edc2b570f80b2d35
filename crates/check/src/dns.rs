//! DNS_CHECK: one query over UDP, sans-IO.
//!
//! The query is keepalived's (`check_dns.c`): a random id (the caller's), flags with only
//! RD (recursion desired) set, one question `name type IN`, no other record.
//!
//! A reply, as keepalived judges it: shorter than a DNS header, with another id, or
//! without the QR bit, it is not an answer to the query and is ignored; otherwise an
//! rcode other than 0 (NOERROR) fails the check and 0 passes it, whatever the answer
//! count (a NODATA answer passes, as in keepalived). In addition, a reply whose question
//! section can be read and names another question is ignored as not ours (a stray or
//! spoofed datagram); names compare case-insensitively.

use std::fmt::Write as _;

use keepalived_config::lvs::checker::DnsType;

use crate::spec::Outcome;

/// The size of a DNS header.
pub const HEADER_LEN: usize = 12;

/// The RD bit of the flags.
const FLAG_RD: u16 = 0x0100;

/// The QR bit of the flags.
const FLAG_QR: u16 = 0x8000;

/// Class IN.
const CLASS_IN: u16 = 1;

/// The numeric type of `t`.
pub fn type_code(t: DnsType) -> u16 {
    match t {
        DnsType::A => 1,
        DnsType::Ns => 2,
        DnsType::Cname => 5,
        DnsType::Soa => 6,
        DnsType::Mx => 15,
        DnsType::Txt => 16,
        DnsType::Aaaa => 28,
        DnsType::Rrsig => 46,
        DnsType::Dnskey => 48,
    }
}

/// The name of an rcode, for messages.
fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "unknown",
    }
}

/// Checks that `name` can be sent: labels of 1 to 63 bytes, 255 bytes in all once encoded.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut total = 1;
    for label in labels(name) {
        if label.is_empty() {
            return Err(format!("the DNS name '{name}' has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!(
                "the DNS name '{name}' has a label longer than 63 bytes"
            ));
        }
        total += 1 + label.len();
    }
    if total > 255 {
        return Err(format!("the DNS name '{name}' is longer than 255 bytes"));
    }
    Ok(())
}

/// The labels of `name` (`.` and the empty name are the root, a trailing dot is ignored).
fn labels(name: &str) -> impl Iterator<Item = &[u8]> {
    let body = name.strip_suffix('.').unwrap_or(name);
    body.split('.')
        .filter(move |_| !body.is_empty())
        .map(str::as_bytes)
}

/// The wire form of `name`: labels of at most 63 bytes (longer ones are cut, see
/// [`check_name`]), empty labels skipped, the root label last.
fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in labels(name).filter(|l| !l.is_empty()) {
        let label = &label[..label.len().min(63)];
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// One DNS_CHECK query and the judgement of its replies.
#[derive(Debug, Clone)]
pub struct DnsExchange {
    /// The query.
    query: Vec<u8>,
    /// Its id.
    id: u16,
}

impl DnsExchange {
    /// The query for `name` of type `qtype`, with id `id`.
    pub fn new(qtype: DnsType, name: &str, id: u16) -> DnsExchange {
        let mut q = Vec::with_capacity(HEADER_LEN + name.len() + 6);
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&FLAG_RD.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes()); // qdcount
        q.extend_from_slice(&[0; 6]); // ancount, nscount, arcount
        encode_name(name, &mut q);
        q.extend_from_slice(&type_code(qtype).to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        DnsExchange { query: q, id }
    }

    /// The datagram to send.
    pub fn request(&self) -> Vec<u8> {
        self.query.clone()
    }

    /// Judges a datagram from the server; `None` when it is not an answer to the query.
    pub fn reply(&self, data: &[u8]) -> Option<Outcome> {
        let header = data.get(..HEADER_LEN)?;
        let id = u16::from_be_bytes([header[0], header[1]]);
        let flags = u16::from_be_bytes([header[2], header[3]]);
        let qdcount = u16::from_be_bytes([header[4], header[5]]);
        if id != self.id || flags & FLAG_QR == 0 {
            return None;
        }
        if qdcount >= 1
            && let Some(q) = question(data)
            && !same_question(q, self.query.get(HEADER_LEN..).unwrap_or_default())
        {
            return None;
        }
        let rcode = flags & 0x000f;
        if rcode != 0 {
            let mut s = String::new();
            let _ = write!(
                s,
                "the server answered rcode {rcode} ({})",
                rcode_name(rcode)
            );
            return Some(Outcome::Down(s));
        }
        Some(Outcome::Up)
    }

    /// The outcome when no reply came before the deadline.
    pub fn timed_out(&self) -> Outcome {
        Outcome::Down("no DNS reply before the timeout".into())
    }
}

/// The first question of a message (its name, type and class, uncompressed), or `None`
/// when it cannot be read.
fn question(data: &[u8]) -> Option<&[u8]> {
    let rest = data.get(HEADER_LEN..)?;
    let mut i = 0;
    loop {
        let len = usize::from(*rest.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len > 63 {
            // A compression pointer or a reserved label type.
            return None;
        }
        i += 1 + len;
    }
    rest.get(..i + 4)
}

/// Whether two encoded questions are the same, names compared case-insensitively.
fn same_question(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b)
}
