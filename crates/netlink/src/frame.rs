//! Splitting a received datagram into netlink messages, by `nlmsg_len`.
//!
//! ```text
//!  0               4       6       8               12              16
//!  +---------------+-------+-------+---------------+---------------+------------ - -
//!  | nlmsg_len u32 | type  | flags | nlmsg_seq u32 | nlmsg_pid u32 | payload, padded
//!  +---------------+-------+-------+---------------+---------------+------------ - -
//!  NLMSG_ERROR payload: | error i32 (0 = ACK, else -errno) | the request's header ... |
//! ```
//!
//! Integers are in host byte order. A message whose payload cannot be parsed is skipped by
//! its length; a header that does not fit the datagram ends the datagram (an error).

/// NLMSG_ERROR: an ACK (error 0) or a refusal.
pub(crate) const NLMSG_ERROR: u16 = 2;
/// NLMSG_DONE: the end of a dump.
pub(crate) const NLMSG_DONE: u16 = 3;
/// NLMSG_OVERRUN.
pub(crate) const NLMSG_OVERRUN: u16 = 4;
/// NLM_F_DUMP_INTR: the dump was interrupted by a change and is inconsistent.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;

const HEADER_LEN: usize = 16;

/// One netlink message of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawMsg<'a> {
    /// nlmsg_type.
    pub ty: u16,
    /// nlmsg_flags.
    pub flags: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// The payload (without the header and the final padding).
    pub payload: &'a [u8],
}

/// A datagram that is not a sequence of well-formed netlink headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    /// Fewer bytes than a header, or a length that does not fit.
    #[error("a message of {len} bytes at offset {at} in a datagram of {total}")]
    BadLength {
        /// nlmsg_len, or the bytes left when fewer than a header.
        len: usize,
        /// Offset of the message.
        at: usize,
        /// Datagram size.
        total: usize,
    },
    /// An NLMSG_ERROR shorter than its error code.
    #[error("an error message of {0} bytes")]
    ShortError(usize),
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages of a datagram, in order; after an error, nothing more.
pub(crate) fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, at: 0 }
}

/// Iterator of [`messages`].
#[derive(Debug)]
pub(crate) struct Messages<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RawMsg<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        let total = self.buf.len();
        if self.at >= total {
            return None;
        }
        let at = self.at;
        let rest = &self.buf[at..];
        if rest.len() < HEADER_LEN {
            self.at = total;
            return Some(Err(FrameError::BadLength {
                len: rest.len(),
                at,
                total,
            }));
        }
        let len = u32_at(rest, 0) as usize;
        if len < HEADER_LEN || len > rest.len() {
            self.at = total;
            return Some(Err(FrameError::BadLength { len, at, total }));
        }
        let msg = RawMsg {
            ty: u16_at(rest, 4),
            flags: u16_at(rest, 6),
            seq: u32_at(rest, 8),
            payload: &rest[HEADER_LEN..len],
        };
        // NLMSG_ALIGN; the last message may end without its padding.
        self.at = at.saturating_add((len + 3) & !3).min(total);
        Some(Ok(msg))
    }
}

/// The error code of an NLMSG_ERROR payload: 0 for an ACK, else a negative errno.
pub(crate) fn error_code(payload: &[u8]) -> Result<i32, FrameError> {
    match payload.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(FrameError::ShortError(payload.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dump answer captured from the kernel (`ip -6 -o addr show dev v0 scope global`,
    /// strace -e read=3): one RTM_NEWADDR and the NLMSG_DONE in one datagram.
    #[rustfmt::skip]
    const NEWADDR_AND_DONE: &[u8] = &[
        // nlmsghdr: len 72, RTM_NEWADDR (20), NLM_F_MULTI|NLM_F_DUMP_FILTERED, seq, pid
        0x48, 0x00, 0x00, 0x00, 0x14, 0x00, 0x22, 0x00, 0xd9, 0x62, 0x04, 0x6b, 0xf3, 0x27, 0x00, 0x00,
        // ifaddrmsg: AF_INET6, /64, IFA_F_NODAD|IFA_F_PERMANENT, scope global, ifindex 3
        0x0a, 0x40, 0x82, 0x00, 0x03, 0x00, 0x00, 0x00,
        // IFA_ADDRESS 2001:db8::10
        0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        // IFA_CACHEINFO: preferred forever, valid forever, cstamp, tstamp
        0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xba, 0x68, 0x10, 0x00, 0xba, 0x68, 0x10, 0x00,
        // IFA_FLAGS: IFA_F_NODAD|IFA_F_PERMANENT
        0x08, 0x00, 0x08, 0x00, 0x82, 0x00, 0x00, 0x00,
        // nlmsghdr: len 20, NLMSG_DONE, NLM_F_MULTI|NLM_F_DUMP_FILTERED, same seq
        0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x22, 0x00, 0xd9, 0x62, 0x04, 0x6b, 0xf3, 0x27, 0x00, 0x00,
        // the dump's status: 0
        0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn splits_a_captured_dump() {
        let msgs: Vec<_> = messages(NEWADDR_AND_DONE)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].ty, libc::RTM_NEWADDR);
        assert_eq!(msgs[0].flags, 0x22);
        assert_eq!(msgs[0].seq, 0x6b0462d9);
        assert_eq!(msgs[0].payload.len(), 72 - 16);
        assert_eq!(msgs[0].payload[0], libc::AF_INET6 as u8);
        assert_eq!(msgs[1].ty, NLMSG_DONE);
        assert_eq!(msgs[1].payload, &[0, 0, 0, 0]);
    }

    #[test]
    fn an_unpadded_last_message_ends_the_datagram() {
        // len 17: one byte of payload, no padding after it.
        let mut b = vec![17, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0xaa];
        let m: Vec<_> = messages(&b).collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].as_ref().unwrap().payload, &[0xaa]);
        // A second message after the padding.
        b.extend_from_slice(&[0, 0, 0]);
        b.extend_from_slice(&[16, 0, 0, 0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
        let m: Vec<_> = messages(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].seq, 8);
    }

    #[test]
    fn bad_lengths_are_errors_and_end_the_datagram() {
        // Shorter than a header.
        let m: Vec<_> = messages(&[1, 2, 3]).collect();
        assert_eq!(
            m,
            vec![Err(FrameError::BadLength {
                len: 3,
                at: 0,
                total: 3
            })]
        );
        // nlmsg_len below the header size (it would loop forever if believed).
        let b = [4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0];
        let m: Vec<_> = messages(&b).collect();
        assert_eq!(m.len(), 1);
        assert!(m[0].is_err());
        // nlmsg_len past the end.
        let b = [64, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(messages(&b).next().unwrap().is_err());
        assert_eq!(messages(&[]).count(), 0);
    }

    #[test]
    fn error_codes() {
        assert_eq!(error_code(&(-17i32).to_ne_bytes()), Ok(-17));
        assert_eq!(error_code(&[0, 0, 0, 0, 9, 9]), Ok(0));
        assert_eq!(error_code(&[0, 0]), Err(FrameError::ShortError(2)));
    }
}
