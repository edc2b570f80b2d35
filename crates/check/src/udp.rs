//! UDP_CHECK: one datagram to a connected UDP socket, sans-IO.
//!
//! As keepalived (`check_udp.c`, `layer4.c`):
//! - The payload is `payload`, else keepalived's 32 bytes, `"keepalived check - "`
//!   repeated ([`DEFAULT_PAYLOAD`]).
//! - Without `require_reply`, any reply passes, an ICMP error (the socket reports
//!   ECONNREFUSED: see [`crate::conv::Exchange::refused`]) fails, and no reply by the deadline
//!   passes.
//! - With `require_reply`, no reply by the deadline fails. A bare `require_reply` takes
//!   any reply. With data, the reply's length must be within `min_reply_length` and
//!   `max_reply_length`, and its first bytes (as many as both have) must match the data,
//!   wildcard nibbles ignored. As in keepalived, the lengths are only checked when
//!   `require_reply` has data.

use keepalived_config::lvs::checker::HexPattern;

use crate::spec::{Outcome, UdpProbe};

/// keepalived's default payload (`set_buf` over 32 bytes).
pub const DEFAULT_PAYLOAD: &[u8; 32] = b"keepalived check - keepalived ch";

/// One UDP_CHECK datagram and the judgement of the reply.
#[derive(Debug, Clone)]
pub struct UdpExchange {
    /// The datagram.
    payload: Vec<u8>,
    /// `require_reply`.
    require: Option<HexPattern>,
    /// `min_reply_length`.
    min_len: u16,
    /// `max_reply_length`.
    max_len: u16,
}

impl UdpExchange {
    /// The exchange for `probe`.
    pub fn new(probe: &UdpProbe) -> UdpExchange {
        UdpExchange {
            payload: probe
                .payload
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_PAYLOAD.to_vec()),
            require: probe.require_reply.clone(),
            min_len: probe.min_reply_length,
            max_len: probe.max_reply_length,
        }
    }

    /// The datagram to send.
    pub fn request(&self) -> Vec<u8> {
        self.payload.clone()
    }

    /// Judges the reply (every datagram on the connected socket is one).
    pub fn reply(&self, data: &[u8]) -> Outcome {
        let Some(p) = &self.require else {
            return Outcome::Up;
        };
        if p.data.is_empty() {
            return Outcome::Up;
        }
        let len = data.len();
        if len < usize::from(self.min_len) || len > usize::from(self.max_len) {
            return Outcome::Down(format!(
                "reply of {len} bytes, not within {}-{} bytes",
                self.min_len, self.max_len
            ));
        }
        for (i, (&got, &want)) in data.iter().zip(&p.data).enumerate() {
            let mask = p.mask.get(i).copied().unwrap_or(0);
            if (got ^ want) & !mask != 0 {
                return Outcome::Down(format!(
                    "reply does not match require_reply at byte {i}: got {got:02x}, expected {}",
                    pattern_byte(want, mask)
                ));
            }
        }
        Outcome::Up
    }

    /// The outcome when no reply came before the deadline.
    pub fn timed_out(&self) -> Outcome {
        if self.require.is_some() {
            Outcome::Down("no reply before the timeout (require_reply)".into())
        } else {
            Outcome::Up
        }
    }
}

/// A pattern byte as configured (`x` for a wildcard nibble).
fn pattern_byte(b: u8, mask: u8) -> String {
    [(4u8, 0xf0u8), (0, 0x0f)]
        .iter()
        .map(|&(shift, m)| {
            if mask & m != 0 {
                'x'
            } else {
                char::from_digit(u32::from((b >> shift) & 0x0f), 16).unwrap_or('?')
            }
        })
        .collect()
}
