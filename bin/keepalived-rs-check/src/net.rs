//! The sockets of the checks, with every option of a checker's [`Target`] applied before
//! the connect: `bind_if` (SO_BINDTODEVICE), `fwmark` (SO_MARK), `bindto`/`bind_port`
//! (SO_REUSEADDR and bind). Every socket is non-blocking and close-on-exec; a connect in
//! progress is the normal result.

use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use keepalived_check::spec::Target;
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockProtocol, SockType, SockaddrStorage, bind, connect, getsockname,
    setsockopt, socket, sockopt,
};

/// How a PING_CHECK socket talks ICMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingMode {
    /// An unprivileged ICMP datagram socket (`net.ipv4.ping_group_range`): the kernel
    /// chooses the echo identifier and fills the checksum.
    Datagram,
    /// A raw ICMP socket (CAP_NET_RAW): the identifier is ours, and IPv4 replies arrive
    /// with their IP header.
    Raw,
}

/// An ICMP socket for one PING_CHECK.
#[derive(Debug)]
pub struct PingSocket {
    /// The socket, connected to the target.
    pub socket: mio::net::UdpSocket,
    /// The echo identifier the replies carry.
    pub ident: u16,
}

fn family(addr: &SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// The address to connect to: a link-local IPv6 address gets the scope of `bind_if`.
fn destination(t: &Target) -> io::Result<SocketAddr> {
    let mut dest = t.connect;
    if let (SocketAddr::V6(v6), Some(ifname)) = (&mut dest, &t.bind_if) {
        if v6.scope_id() == 0 && (v6.ip().segments()[0] & 0xffc0) == 0xfe80 {
            let index = nix::net::if_::if_nametoindex(ifname.as_str())
                .map_err(|e| io::Error::other(format!("interface {ifname}: {}", errno(e))))?;
            v6.set_scope_id(index);
        }
    }
    Ok(dest)
}

/// Creates a socket of `ty` for `t` and applies its options and its bind.
fn prepared(
    t: &Target,
    ty: SockType,
    proto: Option<SockProtocol>,
    port: u16,
) -> io::Result<OwnedFd> {
    let dest = t.connect;
    let fd = socket(
        family(&dest),
        ty,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        proto,
    )
    .map_err(errno)?;
    if let Some(ifname) = &t.bind_if {
        setsockopt(&fd, sockopt::BindToDevice, &OsString::from(ifname)).map_err(|e| {
            io::Error::other(format!("bind_if {ifname} (SO_BINDTODEVICE): {}", errno(e)))
        })?;
    }
    if let Some(mark) = t.fwmark {
        setsockopt(&fd, sockopt::Mark, &mark)
            .map_err(|e| io::Error::other(format!("fwmark {mark} (SO_MARK): {}", errno(e))))?;
    }
    let port = t.bind_port.unwrap_or(port);
    if t.bindto.is_some() || port != 0 {
        let ip = match (t.bindto, dest) {
            (Some(ip), _) => ip,
            (None, SocketAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (None, SocketAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        if ip.is_ipv4() != dest.is_ipv4() {
            return Err(io::Error::other(format!(
                "bindto {ip} and {} are not of the same family",
                dest.ip()
            )));
        }
        // Several checkers may share bindto/bind_port, and a port in TIME_WAIT is reused.
        setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(errno)?;
        let local = SocketAddr::new(ip, port);
        bind(fd.as_raw_fd(), &SockaddrStorage::from(local))
            .map_err(|e| io::Error::other(format!("bind {local}: {}", errno(e))))?;
    }
    Ok(fd)
}

/// Starts a connect; "in progress" is success.
fn start_connect(fd: &OwnedFd, dest: SocketAddr) -> io::Result<()> {
    match connect(fd.as_raw_fd(), &SockaddrStorage::from(dest)) {
        Ok(()) | Err(Errno::EINPROGRESS) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

/// A TCP connection to `t` in progress. Its end is seen as writability: then
/// [`connect_result`] says how it went.
pub fn tcp_connect(t: &Target) -> io::Result<mio::net::TcpStream> {
    let dest = destination(t)?;
    let fd = prepared(t, SockType::Stream, None, 0)?;
    start_connect(&fd, dest)?;
    Ok(mio::net::TcpStream::from_std(std::net::TcpStream::from(fd)))
}

/// Whether a connect started by [`tcp_connect`] has finished: `Ok(true)` connected,
/// `Ok(false)` still in progress, `Err` refused, unreachable, ...
pub fn connect_result(s: &mio::net::TcpStream) -> io::Result<bool> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A UDP socket connected to `t` (DNS_CHECK, UDP_CHECK): only its replies arrive, and an
/// ICMP port unreachable comes back as ECONNREFUSED.
pub fn udp_connect(t: &Target) -> io::Result<mio::net::UdpSocket> {
    let dest = destination(t)?;
    let fd = prepared(t, SockType::Datagram, None, 0)?;
    start_connect(&fd, dest)?;
    Ok(mio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)))
}

/// An ICMP socket connected to `t`'s address. `Datagram` needs the process's group in
/// `net.ipv4.ping_group_range` (it serves ICMPv6 too); `Raw` needs CAP_NET_RAW. `raw_ident`
/// is the identifier a raw socket uses (a datagram socket gets one from the kernel).
pub fn ping_connect(t: &Target, mode: PingMode, raw_ident: u16) -> io::Result<PingSocket> {
    let mut dest = destination(t)?;
    dest.set_port(0);
    let proto = if dest.is_ipv4() {
        SockProtocol::Icmp
    } else {
        SockProtocol::IcmpV6
    };
    let ty = match mode {
        PingMode::Datagram => SockType::Datagram,
        PingMode::Raw => SockType::Raw,
    };
    let target = Target {
        bind_port: None,
        ..t.clone()
    };
    let fd = prepared(&target, ty, Some(proto), 0)?;
    start_connect(&fd, dest)?;
    let ident = match mode {
        PingMode::Raw => raw_ident,
        // The connect bound the socket: its "port" is the echo identifier.
        PingMode::Datagram => {
            let local: SockaddrStorage = getsockname(fd.as_raw_fd()).map_err(errno)?;
            local
                .as_sockaddr_in()
                .map(|a| a.port())
                .or_else(|| local.as_sockaddr_in6().map(|a| a.port()))
                .ok_or_else(|| io::Error::other("ICMP socket without a local address"))?
        }
    };
    Ok(PingSocket {
        socket: mio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)),
        ident,
    })
}

/// Whether an error says the socket kind is not allowed to this process (ping sockets
/// outside `ping_group_range`, raw sockets without CAP_NET_RAW).
pub fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

/// Raises the soft limit of open files to the hard limit (no capability needed): every
/// check in flight holds a socket.
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

#[cfg(test)]
mod tests {
    //! Run as root: each test makes its own network namespace (for its thread only) and
    //! loses it when the thread ends, whatever happens.

    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    use crate::testns::{in_netns, sh};

    const TWO_ADDRESSES: &str = "
        ip link add d0 type veth peer name d0p
        ip link set d0p up
        ip addr add 192.0.2.1/24 dev d0
        ip addr add 192.0.2.2/24 dev d0
        ip link set d0 up
    ";

    fn target(connect: &str) -> Target {
        Target {
            connect: connect.parse().unwrap(),
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            timeout: Duration::from_secs(2),
        }
    }

    /// Waits for the connect of `s` to end.
    fn connected(s: &mio::net::TcpStream) -> io::Result<()> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match connect_result(s) {
                Ok(true) => return Ok(()),
                Ok(false) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                Ok(false) => panic!("connect still in progress after 5 s"),
                Err(e) => return Err(e),
            }
        }
    }

    #[test]
    fn tcp_connect_binds_to_bindto_and_bind_port() {
        in_netns(TWO_ADDRESSES, || {
            let l = TcpListener::bind("192.0.2.1:8080").unwrap();
            let t = Target {
                bindto: Some("192.0.2.2".parse().unwrap()),
                bind_port: Some(40000),
                ..target("192.0.2.1:8080")
            };
            let mut s = tcp_connect(&t).unwrap();
            connected(&s).unwrap();
            let (mut peer, from) = l.accept().unwrap();
            assert_eq!(from, "192.0.2.2:40000".parse().unwrap());
            // SO_REUSEADDR: a second checker with the same bind settings works while the
            // first connection is in TIME_WAIT.
            peer.write_all(b"x").unwrap();
            drop(peer);
            let mut b = [0u8; 4];
            let end = Instant::now() + Duration::from_secs(2);
            loop {
                match s.read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            drop(s);
            let s2 = tcp_connect(&Target {
                connect: "192.0.2.1:8080".parse().unwrap(),
                ..t
            })
            .unwrap();
            connected(&s2).unwrap();
            assert_eq!(l.accept().unwrap().1, "192.0.2.2:40000".parse().unwrap());
        });
    }

    #[test]
    fn a_refused_connect_is_an_error_and_ipv6_works() {
        in_netns("", || {
            let s = tcp_connect(&target("127.0.0.1:9")).unwrap();
            let e = connected(&s).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
            let l = TcpListener::bind("[::1]:8081").unwrap();
            let s = tcp_connect(&target("[::1]:8081")).unwrap();
            connected(&s).unwrap();
            assert!(l.accept().unwrap().1.is_ipv6());
        });
    }

    #[test]
    fn bindto_of_the_other_family_is_refused() {
        let t = Target {
            bindto: Some("2001:db8::1".parse().unwrap()),
            ..target("192.0.2.1:80")
        };
        let e = tcp_connect(&t).unwrap_err();
        assert!(e.to_string().contains("same family"), "{e}");
    }

    #[test]
    fn fwmark_marks_the_socket_and_routes_by_it() {
        in_netns(
            "
            ip link add d0 type veth peer name d0p
        ip link set d0p up
            ip addr add 198.51.100.1/24 dev d0
            ip link set d0 up
            ip route add 203.0.113.0/24 via 198.51.100.2
            ip rule add fwmark 7 prohibit
            ",
            || {
                let t = Target {
                    fwmark: Some(7),
                    ..target("203.0.113.5:80")
                };
                // The mark is on the socket, and the route lookup of the connect used it.
                let e = tcp_connect(&t).unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
                let s = tcp_connect(&target("203.0.113.5:80")).unwrap();
                assert_eq!(
                    nix::sys::socket::getsockopt(&s.as_fd(), sockopt::Mark).unwrap(),
                    0
                );
                let t = Target {
                    fwmark: Some(8),
                    ..target("203.0.113.5:80")
                };
                let s = tcp_connect(&t).unwrap();
                assert_eq!(
                    nix::sys::socket::getsockopt(&s.as_fd(), sockopt::Mark).unwrap(),
                    8
                );
            },
        );
    }

    #[test]
    fn bind_if_binds_the_device() {
        in_netns(
            "
            ip link add d0 type veth peer name d0p
        ip link set d0p up
            ip addr add 192.0.2.1/24 dev d0
            ip link set d0 up
            ip link add d1 type veth peer name d1p
            ip link set d1p up
            ip addr add 198.51.100.1/24 dev d1
            ip link set d1 up
            ",
            || {
                let t = Target {
                    bind_if: Some("d1".into()),
                    ..target("198.51.100.9:80")
                };
                let s = tcp_connect(&t).unwrap();
                let dev = nix::sys::socket::getsockopt(&s.as_fd(), sockopt::BindToDevice).unwrap();
                assert_eq!(dev, "d1");
                // Bound to d1, a destination routed through d0 goes out of d1 (assumed
                // on its link), from d1's address.
                let t = Target {
                    bind_if: Some("d1".into()),
                    ..target("192.0.2.9:80")
                };
                let s = tcp_connect(&t).unwrap();
                assert_eq!(s.local_addr().unwrap().ip().to_string(), "198.51.100.1");
                let s = tcp_connect(&target("192.0.2.9:80")).unwrap();
                assert_eq!(s.local_addr().unwrap().ip().to_string(), "192.0.2.1");
                let t = Target {
                    bind_if: Some("nosuch0".into()),
                    ..target("192.0.2.9:80")
                };
                let e = tcp_connect(&t).unwrap_err();
                assert!(e.to_string().contains("bind_if nosuch0"), "{e}");
            },
        );
    }

    #[test]
    fn a_link_local_destination_gets_the_scope_of_bind_if() {
        let t = Target {
            bind_if: Some("lo".into()),
            ..target("[fe80::1]:80")
        };
        match destination(&t).unwrap() {
            SocketAddr::V6(a) => assert_eq!(a.scope_id(), 1),
            a => panic!("{a}"),
        }
        let t = Target {
            bind_if: Some("lo".into()),
            ..target("[2001:db8::1]:80")
        };
        match destination(&t).unwrap() {
            SocketAddr::V6(a) => assert_eq!(a.scope_id(), 0),
            a => panic!("{a}"),
        }
    }

    /// Receives on a non-blocking socket within 2 s.
    fn recv(s: &mio::net::UdpSocket, buf: &mut [u8]) -> io::Result<usize> {
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            match s.recv(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                r => return r,
            }
        }
    }

    #[test]
    fn udp_sees_only_its_server_and_port_unreachable() {
        in_netns(TWO_ADDRESSES, || {
            let server = UdpSocket::bind("192.0.2.1:5353").unwrap();
            let other = UdpSocket::bind("192.0.2.2:5353").unwrap();
            let t = Target {
                bindto: Some("192.0.2.2".parse().unwrap()),
                ..target("192.0.2.1:5353")
            };
            let s = udp_connect(&t).unwrap();
            s.send(b"question").unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"question");
            assert_eq!(from.ip(), "192.0.2.2".parse::<IpAddr>().unwrap());
            // A datagram from another address does not reach a connected socket.
            other.send_to(b"intruder", s.local_addr().unwrap()).unwrap();
            server.send_to(b"answer", from).unwrap();
            let n = recv(&s, &mut buf).unwrap();
            assert_eq!(&buf[..n], b"answer");
            // Nobody on the port: ICMP port unreachable comes back as ECONNREFUSED.
            let s = udp_connect(&target("192.0.2.1:5354")).unwrap();
            s.send(b"anyone?").unwrap();
            let e = recv(&s, &mut buf).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "{e}");
        });
    }

    /// An ICMP echo request with identifier `ident`; the checksum is filled for IPv4 (the
    /// kernel fills it for ICMPv6 and for ping sockets).
    fn echo(v6: bool, ident: u16) -> Vec<u8> {
        let mut m = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
        m.extend(ident.to_be_bytes());
        m.extend([0, 7]);
        m.extend(b"payload!");
        let mut sum: u32 = m
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        m
    }

    fn ping(to: &str, mode: PingMode) -> io::Result<(u16, Vec<u8>)> {
        let ip: IpAddr = to.parse().unwrap();
        let t = Target {
            connect: SocketAddr::new(ip, 0),
            ..target("192.0.2.1:0")
        };
        let v6 = t.connect.is_ipv6();
        let p = ping_connect(&t, mode, 0x4b52)?;
        p.socket.send(&echo(v6, p.ident))?;
        let mut buf = [0u8; 1500];
        let n = recv(&p.socket, &mut buf)?;
        // A raw IPv4 socket delivers the IP header too.
        let skip = if mode == PingMode::Raw && !v6 {
            usize::from(buf[0] & 0x0f) * 4
        } else {
            0
        };
        Ok((p.ident, buf[skip..n].to_vec()))
    }

    #[test]
    fn ping_sockets_where_the_group_range_allows_else_raw() {
        in_netns("", || {
            // A new namespace starts with ping sockets closed to every group.
            let e = ping("127.0.0.1", PingMode::Datagram).unwrap_err();
            assert!(is_permission(&e), "{e}");
            let e = ping("::1", PingMode::Datagram).unwrap_err();
            assert!(is_permission(&e), "{e}");
            // Raw (root here): the IPv4 header is taken off the reply.
            for (to, reply) in [("127.0.0.1", 0u8), ("::1", 129)] {
                let (ident, m) = ping(to, PingMode::Raw).unwrap();
                assert_eq!(ident, 0x4b52);
                // On the loopback a raw socket also sees its own request; skip it.
                assert!(m[0] == reply || m[0] == 8 || m[0] == 128, "{m:?}");
            }
            sh("echo 0 0 > /proc/sys/net/ipv4/ping_group_range");
            for (to, reply) in [("127.0.0.1", 0u8), ("::1", 129)] {
                let (ident, m) = ping(to, PingMode::Datagram).unwrap();
                assert_eq!(m[0], reply, "{to}: {m:?}");
                assert_eq!(u16::from_be_bytes([m[4], m[5]]), ident, "{to}");
                assert_eq!(&m[8..], b"payload!");
            }
        });
    }
}
