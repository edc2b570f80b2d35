//! PING_CHECK exchanges: the echo request, bytes for bytes, and reply matching for ping
//! sockets (identifier rewritten) and raw sockets (IPv4 header included, foreign traffic);
//! then against the kernel, in a network namespace the test creates (needs root): ping
//! sockets and raw sockets, IPv4 and IPv6, to addresses on the namespace's loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_check::conv::Exchange;
use keepalived_check::icmp::{PAYLOAD_LEN, PingExchange, checksum, payload};
use keepalived_check::spec::{Outcome, Probe};
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage, recv, sendto,
    socket,
};
use proptest::prelude::*;

/// The reply a host makes to `req` (type changed, checksum redone for IPv4).
fn echo(req: &[u8], v6: bool, ident: Option<u16>) -> Vec<u8> {
    let mut r = req.to_vec();
    r[0] = if v6 { 129 } else { 0 };
    if let Some(i) = ident {
        r[4..6].copy_from_slice(&i.to_be_bytes());
    }
    r[2] = 0;
    r[3] = 0;
    if !v6 {
        let c = checksum(&r);
        r[2..4].copy_from_slice(&c.to_be_bytes());
    }
    r
}

fn ipv4(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let len = (p.len() + payload.len()) as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn request_v4() {
    let e = Exchange::new(&Probe::Ping, 0xbeef, false).unwrap();
    let r = e.request();
    assert_eq!(r.len(), 8 + PAYLOAD_LEN);
    assert_eq!(&r[..2], &[8, 0]);
    assert_eq!(&r[4..8], &[0xbe, 0xef, 0xbe, 0xef]);
    assert_eq!(&r[8..27], b"keepalived check - ");
    assert_eq!(&r[8..], &payload()[..]);
    assert_eq!(checksum(&r), 0, "the checksum covers the message");
}

#[test]
fn request_v6_leaves_the_checksum_to_the_kernel() {
    let r = PingExchange::new(7, true).request();
    assert_eq!(&r[..8], &[128, 0, 0, 0, 0, 7, 0, 7]);
}

#[test]
fn replies_v4() {
    let e = PingExchange::new(0x1111, false);
    let req = e.request();
    // Ping socket: the kernel rewrote the identifier.
    assert_eq!(e.reply(&echo(&req, false, Some(0x4242))), Some(Outcome::Up));
    // Raw socket: with the IPv4 header.
    assert_eq!(e.reply(&ipv4(&echo(&req, false, None))), Some(Outcome::Up));
    // Our own request seen on a raw socket, another sequence, another payload, a bad
    // checksum: not ours.
    assert_eq!(e.reply(&ipv4(&req)), None);
    let other = PingExchange::new(0x1112, false).request();
    assert_eq!(e.reply(&echo(&other, false, None)), None);
    let mut bad = echo(&req, false, None);
    bad[20] ^= 1;
    assert_eq!(e.reply(&bad), None);
    let mut short = echo(&req, false, None);
    short.truncate(60);
    assert_eq!(e.reply(&short), None);
    assert_eq!(e.reply(&[]), None);
    assert_eq!(e.reply(&[0]), None);
}

#[test]
fn unreachable_quoting_our_request_fails() {
    let e = PingExchange::new(0x2222, false);
    let req = e.request();
    let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&ipv4(&req[..8]));
    let c = checksum(&err);
    err[2..4].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        e.reply(&ipv4(&err)),
        Some(Outcome::Down(
            "destination unreachable (ICMP type 3 code 1)".into()
        ))
    );
    // Quoting someone else's request: ignored.
    let other = PingExchange::new(0x2223, false).request();
    let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&ipv4(&other[..8]));
    assert_eq!(e.reply(&err), None);
}

#[test]
fn replies_v6() {
    let e = PingExchange::new(0x3333, true);
    let req = e.request();
    assert_eq!(e.reply(&echo(&req, true, Some(9))), Some(Outcome::Up));
    assert_eq!(e.reply(&req), None);
    // Time exceeded quoting our request (IPv6 header, next header 58).
    let mut err = vec![3, 0, 0, 0, 0, 0, 0, 0];
    let mut ip6 = vec![0x60, 0, 0, 0, 0, 136, 58, 64];
    ip6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    err.extend_from_slice(&ip6);
    err.extend_from_slice(&req);
    assert_eq!(
        e.reply(&err),
        Some(Outcome::Down("time exceeded (ICMPv6 type 3 code 0)".into()))
    );
    assert_eq!(
        e.timed_out(),
        Outcome::Down("no echo reply before the timeout".into())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), v6 in any::<bool>(), id in any::<u16>()) {
        let e = PingExchange::new(id, v6);
        let _ = e.reply(&data);
        let _ = e.reply(&ipv4(&data));
    }

    #[test]
    fn every_echo_of_ours_matches(id in any::<u16>(), ident in any::<u16>(), v6 in any::<bool>()) {
        let e = PingExchange::new(id, v6);
        prop_assert_eq!(e.reply(&echo(&e.request(), v6, Some(ident))), Some(Outcome::Up));
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with 192.0.2.1/24 and 2001:db8::1/64 on its loopback and ping
/// sockets allowed for every group (its own sysctl); deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "kcping-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        run(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        run(&[
            "ip",
            "-n",
            &ns.name,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            "lo",
        ]);
        run(&[
            "ip",
            "-n",
            &ns.name,
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "lo",
            "nodad",
        ]);
        run(&[
            "ip",
            "netns",
            "exec",
            &ns.name,
            "sysctl",
            "-qw",
            "net.ipv4.ping_group_range=0 2147483647",
        ]);
        ns
    }

    /// Runs `f` in a thread inside the namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        thread::scope(|s| {
            let h = s.spawn(move || {
                let ns = File::open(&path).expect("open the namespace");
                setns(&ns, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            });
            match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends the exchange's request to `to` on a new socket of type `ty` and feeds what comes
/// back to the exchange until it answers (3 s at most); the outcome and the number of
/// messages ignored on the way.
fn ping(to: IpAddr, ty: SockType, id: u16) -> (Option<Outcome>, usize) {
    let v6 = to.is_ipv6();
    let (family, proto) = if v6 {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    } else {
        (AddressFamily::Inet, SockProtocol::Icmp)
    };
    let fd: OwnedFd = socket(family, ty, SockFlag::SOCK_NONBLOCK, proto).expect("socket");
    let mut e = Exchange::new(&Probe::Ping, id, v6).unwrap();
    let dest = SockaddrStorage::from(SocketAddr::new(to, 0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut ignored = 0;
    let mut buf = [0u8; 2048];
    // The same request again every 500 ms: a fresh namespace occasionally lost the first
    // IPv6 echo (seen once in a full run under load).
    let mut next_send = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_send {
            sendto(fd.as_raw_fd(), &e.request(), &dest, MsgFlags::empty()).expect("sendto");
            next_send += Duration::from_millis(500);
        }
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => match e.reply(&buf[..n]) {
                Some(o) => return (Some(o), ignored),
                None => ignored += 1,
            },
            Err(nix::errno::Errno::EAGAIN) => thread::sleep(Duration::from_millis(5)),
            Err(err) => panic!("recv: {err}"),
        }
    }
    (None, ignored)
}

#[test]
fn against_the_kernel() {
    let ns = Netns::new();
    ns.run(|| {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        // Ping sockets: the kernel rewrites the identifier, matching goes by sequence
        // number and payload.
        assert_eq!(ping(v4, SockType::Datagram, 0x0101).0, Some(Outcome::Up));
        assert_eq!(ping(v6, SockType::Datagram, 0x0202).0, Some(Outcome::Up));
        // Raw sockets: our own request comes back too (on the loopback) and is ignored.
        let (o, ignored) = ping(v4, SockType::Raw, 0x0303);
        assert_eq!(o, Some(Outcome::Up));
        assert!(
            ignored >= 1,
            "the request seen on the raw socket was not ignored"
        );
        let (o, _) = ping(v6, SockType::Raw, 0x0404);
        assert_eq!(o, Some(Outcome::Up));
        // Another address of the loopback's prefix answers too (it is local).
        assert_eq!(
            ping("192.0.2.77".parse().unwrap(), SockType::Datagram, 9).0,
            Some(Outcome::Up)
        );
    });
}
