//! The NETLINK_ROUTE socket: created, configured and read through nix, so that every
//! option is set on an owned descriptor without `unsafe`.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, getsockopt,
    recvmsg, send, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use crate::error::Error;

/// RTNLGRP_LINK.
pub(crate) const RTNLGRP_LINK: u32 = 1;
/// RTNLGRP_IPV4_IFADDR.
pub(crate) const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// RTNLGRP_IPV6_IFADDR.
pub(crate) const RTNLGRP_IPV6_IFADDR: u32 = 9;

/// The bind() bitmask of groups 1 to 32.
pub(crate) fn group_mask(groups: &[u32]) -> u32 {
    groups
        .iter()
        .filter(|g| (1..=32).contains(*g))
        .fold(0, |m, g| m | 1 << (g - 1))
}

fn sock_err(call: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Socket { call, errno }
}

/// Why a receive gave no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// recvmsg failed: EAGAIN (nothing queued, or SO_RCVTIMEO elapsed), ENOBUFS (the
    /// kernel dropped messages), ...
    Os(Errno),
    /// The datagram was larger than the buffer (its size); it is lost.
    Truncated(usize),
}

/// A bound NETLINK_ROUTE socket.
#[derive(Debug)]
pub(crate) struct NlSocket {
    fd: OwnedFd,
}

impl NlSocket {
    /// socket() and bind() to a kernel-chosen port id, joining the groups of `groups`
    /// (a [`group_mask`]).
    pub(crate) fn open(groups: u32) -> Result<NlSocket, Error> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(sock_err("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(sock_err("bind"))?;
        Ok(NlSocket { fd })
    }

    /// O_NONBLOCK.
    pub(crate) fn set_nonblocking(&self) -> Result<(), Error> {
        let flags = fcntl(&self.fd, FcntlArg::F_GETFL).map_err(sock_err("fcntl(F_GETFL)"))?;
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        fcntl(&self.fd, FcntlArg::F_SETFL(flags)).map_err(sock_err("fcntl(F_SETFL)"))?;
        Ok(())
    }

    /// SO_RCVTIMEO: a blocking receive gives EAGAIN after `timeout` (at least 1 ms: zero
    /// would mean forever).
    pub(crate) fn set_recv_timeout(&self, timeout: Duration) -> Result<(), Error> {
        let t = timeout.max(Duration::from_millis(1));
        let tv = TimeVal::new(
            libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
            libc::suseconds_t::from(t.subsec_micros()),
        );
        setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv)
            .map_err(sock_err("setsockopt(SO_RCVTIMEO)"))
    }

    /// SO_RCVBUFFORCE (needs CAP_NET_ADMIN, passes net.core.rmem_max), else SO_RCVBUF;
    /// returns the size the kernel granted (twice the request, for its bookkeeping).
    pub(crate) fn set_recv_buffer(&self, bytes: usize) -> Result<usize, Error> {
        match setsockopt(&self.fd, sockopt::RcvBufForce, &bytes) {
            Ok(()) => {}
            Err(Errno::EPERM) => setsockopt(&self.fd, sockopt::RcvBuf, &bytes)
                .map_err(sock_err("setsockopt(SO_RCVBUF)"))?,
            Err(e) => return Err(sock_err("setsockopt(SO_RCVBUFFORCE)")(e)),
        }
        self.recv_buffer()
    }

    /// SO_RCVBUF as the kernel reports it.
    pub(crate) fn recv_buffer(&self) -> Result<usize, Error> {
        getsockopt(&self.fd, sockopt::RcvBuf).map_err(sock_err("getsockopt(SO_RCVBUF)"))
    }

    /// Sends one request to the kernel.
    pub(crate) fn send(&self, bytes: &[u8]) -> Result<(), Error> {
        loop {
            match send(self.fd.as_raw_fd(), bytes, MsgFlags::empty()) {
                Ok(n) if n == bytes.len() => return Ok(()),
                Ok(_) => return Err(sock_err("send")(Errno::EMSGSIZE)),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sock_err("send")(e)),
            }
        }
    }

    /// Receives one datagram from the kernel into `buf`. Datagrams from other senders
    /// (another process can unicast to our port id) are dropped.
    pub(crate) fn recv<'a>(&self, buf: &'a mut [u8]) -> Result<&'a [u8], RecvError> {
        loop {
            let (len, flags, sender) = {
                let mut iov = [IoSliceMut::new(&mut buf[..])];
                match recvmsg::<NetlinkAddr>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    None,
                    MsgFlags::MSG_TRUNC,
                ) {
                    Ok(m) => (m.bytes, m.flags, m.address.map(|a| a.pid())),
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(RecvError::Os(e)),
                }
            };
            if sender != Some(0) {
                log::warn!(
                    "netlink: dropped a datagram of {len} bytes from port {sender:?}, not the kernel"
                );
                continue;
            }
            if flags.contains(MsgFlags::MSG_TRUNC) || len > buf.len() {
                return Err(RecvError::Truncated(len));
            }
            return Ok(&buf[..len]);
        }
    }
}

impl AsFd for NlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NlSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_to_bind_mask() {
        assert_eq!(
            group_mask(&[RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR]),
            0b1_0001_0001
        );
        assert_eq!(group_mask(&[]), 0);
        assert_eq!(group_mask(&[0, 33]), 0);
        assert_eq!(group_mask(&[32]), 1 << 31);
    }
}
