//! PING_CHECK: one ICMP or ICMPv6 echo request, sans-IO.
//!
//! keepalived (`check_ping.c`) sends an echo request with sequence number `++seq` and
//! 128 bytes of payload (`"keepalived check - "` repeated) on an unprivileged ping socket
//! (`SOCK_DGRAM`, `IPPROTO_ICMP`/`IPPROTO_ICMPV6`), and passes on an echo reply with that
//! sequence number.
//!
//! Here the request carries the caller's `id` as identifier and as sequence number, and
//! keepalived's payload. A reply matches when it is an echo reply with that sequence
//! number and the same payload; its identifier is not compared, since on a ping socket
//! the kernel rewrites it (it is the socket's "port"); on a raw socket the caller filters
//! by source address. The same function reads what both kinds of socket return: an ICMP
//! message, or (raw IPv4 sockets) an IPv4 packet, whose header is skipped.
//!
//! IPv4 checksums are computed on the request (a ping socket recomputes it anyway) and
//! checked on replies; ICMPv6 checksums cover a pseudo-header the kernel computes, so the
//! request leaves the field zero and replies are not checked (the kernel has).
//!
//! A destination-unreachable or time-exceeded error quoting our request fails the check
//! (raw sockets see them; ping sockets report them as socket errors instead). Anything
//! else is ignored.

use crate::spec::Outcome;

/// keepalived's payload length.
pub const PAYLOAD_LEN: usize = 128;

/// ICMP echo request.
const ECHO_REQUEST_V4: u8 = 8;
/// ICMP echo reply.
const ECHO_REPLY_V4: u8 = 0;
/// ICMP destination unreachable.
const UNREACHABLE_V4: u8 = 3;
/// ICMP time exceeded.
const TIME_EXCEEDED_V4: u8 = 11;
/// ICMPv6 echo request.
const ECHO_REQUEST_V6: u8 = 128;
/// ICMPv6 echo reply.
const ECHO_REPLY_V6: u8 = 129;
/// ICMPv6 destination unreachable.
const UNREACHABLE_V6: u8 = 1;
/// ICMPv6 time exceeded.
const TIME_EXCEEDED_V6: u8 = 3;

/// keepalived's payload.
pub fn payload() -> [u8; PAYLOAD_LEN] {
    let pattern = b"keepalived check - ";
    let mut p = [0u8; PAYLOAD_LEN];
    for (i, b) in p.iter_mut().enumerate() {
        *b = pattern[i % pattern.len()];
    }
    p
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One echo request and the judgement of what comes back.
#[derive(Debug, Clone)]
pub struct PingExchange {
    /// ICMPv6.
    v6: bool,
    /// Identifier and sequence number.
    id: u16,
}

impl PingExchange {
    /// The exchange with identifier and sequence number `id`, ICMPv6 when `v6`.
    pub fn new(id: u16, v6: bool) -> PingExchange {
        PingExchange { v6, id }
    }

    /// The ICMP message to send (no IP header).
    pub fn request(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(8 + PAYLOAD_LEN);
        m.push(if self.v6 {
            ECHO_REQUEST_V6
        } else {
            ECHO_REQUEST_V4
        });
        m.push(0);
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&payload());
        if !self.v6 {
            let c = checksum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
        }
        m
    }

    /// Judges a received message; `None` when it is not about our request.
    pub fn reply(&self, data: &[u8]) -> Option<Outcome> {
        let msg = if !self.v6 && data.first().is_some_and(|b| b >> 4 == 4) {
            strip_ipv4(data)?
        } else {
            data
        };
        let (&kind, rest) = msg.split_first()?;
        let code = *rest.first()?;
        if msg.len() < 8 {
            return None;
        }
        let seq = u16::from_be_bytes([msg[6], msg[7]]);
        let (reply, unreachable, exceeded) = if self.v6 {
            (ECHO_REPLY_V6, UNREACHABLE_V6, TIME_EXCEEDED_V6)
        } else {
            (ECHO_REPLY_V4, UNREACHABLE_V4, TIME_EXCEEDED_V4)
        };
        if kind == reply {
            if seq != self.id || msg[8..] != payload()[..] {
                return None;
            }
            if !self.v6 && checksum(msg) != 0 {
                return None;
            }
            return Some(Outcome::Up);
        }
        if kind == unreachable || kind == exceeded {
            let quoted = msg.get(8..)?;
            let inner = if self.v6 {
                // The IPv6 header of the request; its next header must be ICMPv6.
                if quoted.get(6) != Some(&58) {
                    return None;
                }
                quoted.get(40..)?
            } else {
                strip_ipv4(quoted)?
            };
            let req_kind = if self.v6 {
                ECHO_REQUEST_V6
            } else {
                ECHO_REQUEST_V4
            };
            if inner.first() != Some(&req_kind) || inner.get(6..8) != Some(&self.id.to_be_bytes()) {
                return None;
            }
            let what = if kind == unreachable {
                "destination unreachable"
            } else {
                "time exceeded"
            };
            return Some(Outcome::Down(format!(
                "{what} (ICMP{} type {kind} code {code})",
                if self.v6 { "v6" } else { "" }
            )));
        }
        None
    }

    /// The outcome when no reply came before the deadline.
    pub fn timed_out(&self) -> Outcome {
        Outcome::Down("no echo reply before the timeout".into())
    }
}

/// The payload of an IPv4 packet carrying ICMP, or `None`.
fn strip_ipv4(p: &[u8]) -> Option<&[u8]> {
    let first = *p.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || *p.get(9)? != 1 {
        return None;
    }
    p.get(ihl..)
}
