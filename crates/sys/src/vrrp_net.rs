//! The VRRP process's sockets (KERNEL-INTERFACES 3): a raw IP socket for adverts per
//! (interface, family), and a packet socket that sends gratuitous ARP and unsolicited NA
//! frames built by `keepalived_vrrp::garp`.
//!
//! ```text
//!            VRRP process (single thread, mio; CAP_NET_RAW)
//!   ┌──────────────────────────────────────────────────────────┐
//!   │  VrrpSocket (eth0, V4)   VrrpSocket (eth0, V6)   ...     │  adverts in and out
//!   │  raw IPPROTO_VRRP (112), bound to eth0, joined to        │  (224.0.0.18 / ff02::12
//!   │  224.0.0.18 / ff02::12 on eth0 only                      │   and unicast peers)
//!   │                                                          │
//!   │  PacketSocket (eth0)   AF_PACKET, protocol 0: send only  │  GARP / unsolicited NA
//!   └──────────────────────────────────────────────────────────┘
//! ```
//!
//! Every socket is non-blocking and close-on-exec, and exposes its fd ([`AsFd`],
//! [`AsRawFd`]) for registration with mio (`mio::unix::SourceFd`). Receive and send
//! return `Ok(None)` / an [`io::ErrorKind::WouldBlock`] error when the socket is not
//! ready.
//!
//! What the kernel does and does not do here:
//! - IPv4: no `IP_HDRINCL`; the kernel writes the IP header (TOS 0xc0, TTL 255, DF clear,
//!   protocol 112: what keepalived writes in its own header). A received datagram
//!   **includes** its IPv4 header (raw socket semantics); [`VrrpSocket::recv`] returns it
//!   whole, and the caller splits it with `keepalived_vrrp::packet::split_ipv4`, which also
//!   checks Total Length and the protocol.
//! - IPv6: the kernel never includes the header; [`VrrpSocket::recv`] returns the VRRP
//!   message itself. `IPV6_MULTICAST_ALL 0` is set, but the kernel consults it for a raw
//!   IPv6 socket only when the socket is bound to an address (`raw_v6_match`), and ours
//!   is not (it sends from several sources): an IPv6 socket gets every VRRP multicast that
//!   reaches the interface. [`VrrpSocket::recv`] therefore drops datagrams sent to a group
//!   the socket has not joined itself, which gives both families the same behaviour. `IPV6_CHECKSUM` is **not** set (keepalived sets it): the VRRP codec
//!   computes the v3 checksum over the pseudo-header when encoding and verifies it when
//!   decoding, so the kernel neither fills nor checks it. The source address used for the
//!   checksum must therefore be the one the packet leaves with: pass it to
//!   [`VrrpSocket::send`].
//!
//! Each `unsafe` is in one small function with a `SAFETY:` comment; everything else goes
//! through nix.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, LinkAddr, MsgFlags, SockFlag, SockType,
    SockaddrIn, SockaddrIn6, SockaddrLike, SockaddrStorage, bind, recvmsg, sendmsg, sendto,
    setsockopt, socket, sockopt,
};

/// The IP protocol number of VRRP.
pub const IPPROTO_VRRP: libc::c_int = 112;

/// The TTL / hop limit VRRP sends with (RFC 9568 5.1.1.3, 5.1.2.3).
pub const VRRP_TTL: u8 = 255;

/// TOS / traffic class of adverts: DSCP CS6 "network control", as keepalived sends.
pub const VRRP_TOS: u8 = 0xc0;

/// `IPV6_MULTICAST_ALL` (linux/in6.h, Linux 4.20); the libc crate only has it for some
/// targets.
const IPV6_MULTICAST_ALL: libc::c_int = 29;

/// An IP version, for [`VrrpSocket::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
}

impl IpFamily {
    /// The family of `addr`.
    pub const fn of(addr: &IpAddr) -> IpFamily {
        match addr {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }
}

/// One received advert (or any protocol-112 datagram for this socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// How many bytes of the caller's buffer hold the datagram: for IPv4 the whole IP
    /// packet (header included, give it to `split_ipv4`), for IPv6 the VRRP message.
    pub len: usize,
    /// The datagram was longer than the buffer and was cut to `len`.
    pub truncated: bool,
    /// The IP source address (a link-local IPv6 source has no scope here; it arrived on
    /// [`Received::ifindex`]).
    pub src: IpAddr,
    /// The IP destination address (the header's, from `IP_PKTINFO` `ipi_addr` /
    /// `IPV6_PKTINFO` `ipi6_addr`): the multicast group, or our unicast address.
    pub dst: IpAddr,
    /// The IPv4 TTL (`IP_RECVTTL`) or IPv6 hop limit (`IPV6_RECVHOPLIMIT`), `None` if the
    /// kernel gave none.
    pub ttl_or_hop_limit: Option<u8>,
    /// The interface it arrived on.
    pub ifindex: u32,
}

/// A raw `IPPROTO_VRRP` socket for one interface and one family, receiving the
/// multicast groups it joined (only those: `IP_MULTICAST_ALL` off, and the same enforced
/// in user space for IPv6) and unicast adverts addressed to the interface, and sending
/// adverts with TTL / hop limit 255.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: OwnedFd,
    family: IpFamily,
    ifindex: u32,
    /// The groups joined through this socket, for the receive filter.
    groups: RefCell<Vec<IpAddr>>,
}

impl VrrpSocket {
    /// Opens the socket for `ifname` (index `ifindex`) and joins each of `groups`
    /// (normally the VRRP group 224.0.0.18 or ff02::12; empty for a unicast-only socket)
    /// on that interface.
    ///
    /// Options set: `SO_BINDTODEVICE ifname`; IPv4: `IP_MULTICAST_ALL 0`,
    /// `IP_MULTICAST_LOOP 0`, `IP_MULTICAST_IF ifindex`, `IP_MULTICAST_TTL 255`,
    /// `IP_TTL 255`, `IP_TOS 0xc0`, `IP_MTU_DISCOVER DONT` (DF clear), `IP_PKTINFO`,
    /// `IP_RECVTTL`; IPv6: `IPV6_MULTICAST_ALL 0`, `IPV6_MULTICAST_LOOP 0`,
    /// `IPV6_MULTICAST_IF ifindex`, `IPV6_MULTICAST_HOPS 255`, `IPV6_UNICAST_HOPS 255`,
    /// `IPV6_TCLASS 0xc0`, `IPV6_RECVPKTINFO`, `IPV6_RECVHOPLIMIT`. Needs CAP_NET_RAW.
    ///
    /// A group of the other family or not multicast gives
    /// [`io::ErrorKind::InvalidInput`].
    pub fn open(
        family: IpFamily,
        ifindex: u32,
        ifname: &str,
        groups: &[IpAddr],
    ) -> io::Result<VrrpSocket> {
        let fd = raw_vrrp_socket(family)?;
        setsockopt(&fd, sockopt::BindToDevice, &OsString::from(ifname))?;
        let socket = VrrpSocket {
            fd,
            family,
            ifindex,
            groups: RefCell::new(Vec::new()),
        };
        let fd = socket.fd.as_fd();
        let index = libc::c_int::try_from(ifindex).map_err(|_| invalid("ifindex out of range"))?;
        match family {
            IpFamily::V4 => {
                set_option(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, &0)?;
                setsockopt(&fd, sockopt::IpMulticastLoop, &false)?;
                set_option(
                    fd,
                    libc::IPPROTO_IP,
                    libc::IP_MULTICAST_IF,
                    &mreqn(Ipv4Addr::UNSPECIFIED, index),
                )?;
                setsockopt(&fd, sockopt::IpMulticastTtl, &VRRP_TTL)?;
                setsockopt(&fd, sockopt::Ipv4Ttl, &libc::c_int::from(VRRP_TTL))?;
                setsockopt(&fd, sockopt::Ipv4Tos, &libc::c_int::from(VRRP_TOS))?;
                set_option(
                    fd,
                    libc::IPPROTO_IP,
                    libc::IP_MTU_DISCOVER,
                    &libc::IP_PMTUDISC_DONT,
                )?;
                setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?;
                setsockopt(&fd, sockopt::Ipv4RecvTtl, &true)?;
            }
            IpFamily::V6 => {
                set_option(fd, libc::IPPROTO_IPV6, IPV6_MULTICAST_ALL, &0)?;
                set_option(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &0)?;
                set_option(fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &index)?;
                setsockopt(
                    &fd,
                    sockopt::Ipv6MulticastHops,
                    &libc::c_int::from(VRRP_TTL),
                )?;
                setsockopt(&fd, sockopt::Ipv6Ttl, &libc::c_int::from(VRRP_TTL))?;
                setsockopt(&fd, sockopt::Ipv6TClass, &libc::c_int::from(VRRP_TOS))?;
                setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?;
                setsockopt(&fd, sockopt::Ipv6RecvHopLimit, &true)?;
            }
        }
        for group in groups {
            socket.join(*group)?;
        }
        Ok(socket)
    }

    /// The socket's family.
    pub fn family(&self) -> IpFamily {
        self.family
    }

    /// The interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The multicast groups the socket has joined.
    pub fn groups(&self) -> Vec<IpAddr> {
        self.groups.borrow().clone()
    }

    /// Joins the multicast `group` on the socket's interface (`IP_ADD_MEMBERSHIP` with an
    /// `ip_mreqn` / `IPV6_ADD_MEMBERSHIP` with an `ipv6_mreq`, both by interface index).
    /// Joining a group twice gives the kernel's `EADDRINUSE`.
    pub fn join(&self, group: IpAddr) -> io::Result<()> {
        self.membership(group, true)?;
        self.groups.borrow_mut().push(group);
        Ok(())
    }

    /// Leaves the multicast `group` on the socket's interface (`EADDRNOTAVAIL` if it was
    /// not joined).
    pub fn leave(&self, group: IpAddr) -> io::Result<()> {
        self.membership(group, false)?;
        self.groups.borrow_mut().retain(|g| *g != group);
        Ok(())
    }

    fn membership(&self, group: IpAddr, join: bool) -> io::Result<()> {
        if IpFamily::of(&group) != self.family || !group.is_multicast() {
            return Err(invalid("not a multicast group of the socket's family"));
        }
        let fd = self.fd.as_fd();
        let index = libc::c_int::try_from(self.ifindex).map_err(|_| invalid("ifindex"))?;
        match group {
            IpAddr::V4(group) => {
                let name = if join {
                    libc::IP_ADD_MEMBERSHIP
                } else {
                    libc::IP_DROP_MEMBERSHIP
                };
                set_option(fd, libc::IPPROTO_IP, name, &mreqn(group, index))
            }
            IpAddr::V6(group) => {
                let name = if join {
                    libc::IPV6_ADD_MEMBERSHIP
                } else {
                    libc::IPV6_DROP_MEMBERSHIP
                };
                let request = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: group.octets(),
                    },
                    ipv6mr_interface: self.ifindex,
                };
                set_option(fd, libc::IPPROTO_IPV6, name, &request)
            }
        }
    }

    /// Sets the TTL / hop limit of unicast adverts (keepalived's `unicast_ttl`; 255 from
    /// [`VrrpSocket::open`]).
    pub fn set_unicast_ttl(&self, ttl: u8) -> io::Result<()> {
        let ttl = libc::c_int::from(ttl);
        match self.family {
            IpFamily::V4 => setsockopt(&self.fd, sockopt::Ipv4Ttl, &ttl)?,
            IpFamily::V6 => setsockopt(&self.fd, sockopt::Ipv6Ttl, &ttl)?,
        }
        Ok(())
    }

    /// Receives one datagram into `buf`; `Ok(None)` when nothing is waiting. Datagrams
    /// sent to a multicast group this socket has not joined are read and dropped (see the
    /// module documentation).
    ///
    /// IPv4: `buf[..len]` is the whole IP packet, header included. IPv6: it is the VRRP
    /// message. A buffer of 1500 bytes holds any advert (the largest, VRRPv3 with 255
    /// IPv6 addresses, is 4088 bytes, and needs jumbo frames); a longer datagram comes
    /// back with `truncated`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut control = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        loop {
            let msg = match recvmsg::<SockaddrStorage>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::empty(),
            ) {
                Ok(msg) => msg,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let src = msg.address.as_ref().and_then(|a| {
                a.as_sockaddr_in()
                    .map(|a| IpAddr::V4(a.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
            });
            let mut dst = None;
            let mut ifindex = 0;
            let mut ttl = None;
            for cmsg in msg.cmsgs()? {
                match cmsg {
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            info.ipi_addr.s_addr,
                        ))));
                        ifindex = u32::try_from(info.ipi_ifindex).unwrap_or(0);
                    }
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                        ifindex = info.ipi6_ifindex;
                    }
                    ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                        ttl = u8::try_from(t).ok();
                    }
                    _ => {}
                }
            }
            let (Some(src), Some(dst)) = (src, dst) else {
                // The kernel always gives both for a raw socket with IP_PKTINFO /
                // IPV6_RECVPKTINFO on.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "datagram without a source address or packet info",
                ));
            };
            if dst.is_multicast() && !self.groups.borrow().contains(&dst) {
                continue;
            }
            return Ok(Some(Received {
                len: msg.bytes,
                truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                src,
                dst,
                ttl_or_hop_limit: ttl,
                ifindex,
            }));
        }
    }

    /// Sends `payload` (the encoded VRRP message, without IP header) to `dst` (the group
    /// or a unicast peer) out of the socket's interface.
    ///
    /// `src` picks the source address through `IP_PKTINFO` `ipi_spec_dst` /
    /// `IPV6_PKTINFO` `ipi6_addr` (an address of this host: the instance's primary
    /// address or `unicast_src_ip`), so one socket serves every instance on the
    /// interface; `None` lets the kernel choose (do not use it for VRRPv3, whose checksum
    /// covers the source). An [`io::ErrorKind::WouldBlock`] error means the send buffer
    /// is full: the advert is lost, as a dropped packet would be.
    pub fn send(&self, payload: &[u8], src: Option<IpAddr>, dst: IpAddr) -> io::Result<()> {
        if IpFamily::of(&dst) != self.family || src.is_some_and(|s| IpFamily::of(&s) != self.family)
        {
            return Err(invalid("address of the wrong family"));
        }
        let iov = [IoSlice::new(payload)];
        let sent = loop {
            let result = match dst {
                IpAddr::V4(dst) => {
                    let src = match src {
                        Some(IpAddr::V4(s)) => s,
                        _ => Ipv4Addr::UNSPECIFIED,
                    };
                    let info = libc::in_pktinfo {
                        ipi_ifindex: libc::c_int::try_from(self.ifindex)
                            .map_err(|_| invalid("ifindex"))?,
                        ipi_spec_dst: libc::in_addr {
                            s_addr: u32::from(src).to_be(),
                        },
                        ipi_addr: libc::in_addr { s_addr: 0 },
                    };
                    let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                    sendmsg(
                        self.fd.as_raw_fd(),
                        &iov,
                        &[ControlMessage::Ipv4PacketInfo(&info)],
                        MsgFlags::empty(),
                        Some(&to),
                    )
                }
                IpAddr::V6(dst) => {
                    let src = match src {
                        Some(IpAddr::V6(s)) => s,
                        _ => Ipv6Addr::UNSPECIFIED,
                    };
                    let info = libc::in6_pktinfo {
                        ipi6_addr: libc::in6_addr {
                            s6_addr: src.octets(),
                        },
                        ipi6_ifindex: self.ifindex,
                    };
                    // The scope matters for link-local and ff02:: destinations only.
                    let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
                    sendmsg(
                        self.fd.as_raw_fd(),
                        &iov,
                        &[ControlMessage::Ipv6PacketInfo(&info)],
                        MsgFlags::empty(),
                        Some(&to),
                    )
                }
            };
            match result {
                Err(Errno::EINTR) => continue,
                other => break other?,
            }
        };
        if sent != payload.len() {
            return Err(io::Error::other("advert sent in part"));
        }
        Ok(())
    }
}

impl AsFd for VrrpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An `AF_PACKET`/`SOCK_RAW` socket that sends whole Ethernet frames out of one
/// interface: gratuitous ARP and unsolicited NA. Created and bound with protocol 0, so
/// the kernel delivers nothing to it (it never needs reading).
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Opens the socket on the interface `ifindex`. Needs CAP_NET_RAW.
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        let sll = sockaddr_ll(ifindex, 0, None)?;
        bind(fd.as_raw_fd(), &link_addr(&sll)?)?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// The interface frames go out of.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one complete Ethernet frame (destination, source, EtherType, payload), as
    /// built by `keepalived_vrrp::garp`. The kernel does not touch it; the EtherType and
    /// destination are repeated in the `sockaddr_ll` it is sent to. A frame shorter than
    /// an Ethernet header gives [`io::ErrorKind::InvalidInput`];
    /// [`io::ErrorKind::WouldBlock`] means the queue is full.
    pub fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let (Some(dst), Some(ethertype)) = (frame.get(0..6), frame.get(12..14)) else {
            return Err(invalid("frame shorter than an Ethernet header"));
        };
        let mut mac = [0u8; 6];
        mac.copy_from_slice(dst);
        let protocol = u16::from_be_bytes([ethertype[0], ethertype[1]]);
        let to = link_addr(&sockaddr_ll(self.ifindex, protocol, Some(mac))?)?;
        let sent = loop {
            match sendto(self.fd.as_raw_fd(), frame, &to, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                other => break other?,
            }
        };
        if sent != frame.len() {
            return Err(io::Error::other("frame sent in part"));
        }
        Ok(())
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// An `ip_mreqn` for `group` on interface `index` (the interface by index, not by
/// address, so that it works before the interface has an IPv4 address).
fn mreqn(group: Ipv4Addr, index: libc::c_int) -> libc::ip_mreqn {
    libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from(group).to_be(),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index,
    }
}

/// A `sockaddr_ll` for interface `ifindex`, EtherType `protocol` (host order) and, when
/// sending, the destination MAC.
fn sockaddr_ll(ifindex: u32, protocol: u16, dst: Option<[u8; 6]>) -> io::Result<libc::sockaddr_ll> {
    let mut addr = [0u8; 8];
    let halen = match dst {
        Some(mac) => {
            addr[..6].copy_from_slice(&mac);
            6
        }
        None => 0,
    };
    Ok(libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: protocol.to_be(),
        sll_ifindex: libc::c_int::try_from(ifindex).map_err(|_| invalid("ifindex"))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: halen,
        sll_addr: addr,
    })
}

/// The values `set_option` may pass: plain C data without pointers, whose size is the
/// option length the kernel expects.
trait PlainOption: Copy {}
impl PlainOption for libc::c_int {}
impl PlainOption for libc::ip_mreqn {}
impl PlainOption for libc::ipv6_mreq {}

/// `setsockopt(fd, level, name, value)` for the options nix does not cover (multicast
/// interface and membership by index, `*_MULTICAST_ALL`, `IPV6_MULTICAST_LOOP`,
/// `IP_MTU_DISCOVER`).
fn set_option<T: PlainOption>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>()).map_err(|_| invalid("option size"))?;
    // SAFETY: `fd` is an open socket for the borrow's lifetime; `value` points to a live,
    // initialised `T` of `len` bytes, which the kernel only reads; `PlainOption` limits `T`
    // to the plain C types these options take.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    Errno::result(rc)?;
    Ok(())
}

/// `socket(AF_INET|AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 112)` (nix's
/// `SockProtocol` has no VRRP).
fn raw_vrrp_socket(family: IpFamily) -> io::Result<OwnedFd> {
    let domain = match family {
        IpFamily::V4 => libc::AF_INET,
        IpFamily::V6 => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes only integers.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            IPPROTO_VRRP,
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Wraps a `sockaddr_ll` for nix's `bind`/`sendto`.
fn link_addr(sll: &libc::sockaddr_ll) -> io::Result<LinkAddr> {
    let len = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>())
        .map_err(|_| invalid("sockaddr_ll size"))?;
    // SAFETY: `sll` is a live, initialised `sockaddr_ll` of `len` bytes with
    // `sll_family == AF_PACKET`; `from_raw` copies it and checks the family and length.
    let addr = unsafe { LinkAddr::from_raw((sll as *const libc::sockaddr_ll).cast(), Some(len)) };
    addr.ok_or_else(|| invalid("not a link-layer address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mreqn_is_in_network_byte_order_with_the_index() {
        let m = mreqn(Ipv4Addr::new(224, 0, 0, 18), 7);
        assert_eq!(m.imr_multiaddr.s_addr.to_ne_bytes(), [224, 0, 0, 18]);
        assert_eq!(m.imr_address.s_addr, 0);
        assert_eq!(m.imr_ifindex, 7);
    }

    #[test]
    fn sockaddr_ll_carries_ethertype_in_network_order_and_the_destination() {
        let sll = sockaddr_ll(3, 0x0806, Some([0xff; 6])).unwrap();
        assert_eq!(i32::from(sll.sll_family), libc::AF_PACKET);
        assert_eq!(sll.sll_protocol.to_ne_bytes(), [0x08, 0x06]);
        assert_eq!(sll.sll_ifindex, 3);
        assert_eq!(sll.sll_halen, 6);
        assert_eq!(sll.sll_addr, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        let bound = sockaddr_ll(3, 0, None).unwrap();
        assert_eq!((bound.sll_protocol, bound.sll_halen), (0, 0));
        assert!(sockaddr_ll(u32::MAX, 0, None).is_err());
        assert!(link_addr(&sll).is_ok());
    }

    #[test]
    fn family_of_an_address() {
        assert_eq!(IpFamily::of(&"192.0.2.1".parse().unwrap()), IpFamily::V4);
        assert_eq!(IpFamily::of(&"2001:db8::1".parse().unwrap()), IpFamily::V6);
    }
}
