//! `VrrpSocket` and `PacketSocket` on a veth pair between two network namespaces (needs
//! root). Namespace A sends, namespace B receives; each test makes its own pair and a
//! guard deletes both namespaces (and with them the veth pair) even when the test fails.
//!
//! ```text
//!   netns A                                         netns B
//!   va 02:00:5e:00:00:0a  <------- veth ------->   vb 02:00:5e:00:00:0b
//!   192.0.2.1/24, 192.0.2.11/24                    192.0.2.2/24
//!   fe80::a/64, 2001:db8::a/64                     fe80::b/64, 2001:db8::b/64
//! ```
//!
//! Sockets belong to the namespace of the thread that creates them, so each socket is
//! opened on a short-lived thread that first enters its namespace (`setns`); the test then
//! uses them from its own thread.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_sys::vrrp_net::{IpFamily, PacketSocket, Received, VrrpSocket};
use keepalived_vrrp::garp::{gratuitous_arp, unsolicited_na};
use keepalived_vrrp::packet::{
    Advert, AdvertInterval, Auth, ChecksumMode, Family, ReceiveRules, RxMeta, UnicastPeer, Version,
    decode, encode, split_ipv4,
};
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sched::{CloneFlags, setns};
use std::os::fd::AsFd;

const MAC_A: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a];
const MAC_A_TEXT: &str = "02:00:5e:00:00:0a";
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const A_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const A_V4_SECONDARY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const A_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
const A_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xa);
const B_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xb);
/// How long a test waits for something that should happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long a test waits to be sure something does not happen.
const QUIET: Duration = Duration::from_millis(300);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `ip` with `args`, panicking with its stderr on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stdout of `ip` with `args`.
fn ip_output(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces joined by a veth pair; deleted on drop.
struct Pair {
    a: String,
    b: String,
}

impl Pair {
    fn new() -> Pair {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // The guard exists before anything is created, so a failure half-way cleans up.
        let pair = Pair {
            a: format!("krs-vn-{pid}-{n}-a"),
            b: format!("krs-vn-{pid}-{n}-b"),
        };
        let (a, b) = (pair.a.as_str(), pair.b.as_str());
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        #[rustfmt::skip]
        ip(&["-n", a, "link", "add", "va", "address", MAC_A_TEXT, "type", "veth",
             "peer", "name", "vb", "address", "02:00:5e:00:00:0b", "netns", b]);
        // No automatic link-local address (and its DAD delay): the tests add their own.
        ip(&["-n", a, "link", "set", "va", "addrgenmode", "none"]);
        ip(&["-n", b, "link", "set", "vb", "addrgenmode", "none"]);
        for (ns, dev, addrs) in [
            (
                a,
                "va",
                [
                    "192.0.2.1/24",
                    "192.0.2.11/24",
                    "fe80::a/64",
                    "2001:db8::a/64",
                ]
                .as_slice(),
            ),
            (
                b,
                "vb",
                ["192.0.2.2/24", "fe80::b/64", "2001:db8::b/64"].as_slice(),
            ),
        ] {
            for addr in addrs {
                let mut args = vec!["-n", ns, "addr", "add", addr, "dev", dev];
                if addr.contains(':') {
                    args.push("nodad");
                }
                ip(&args);
            }
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        for (ns, dev) in [(a, "va"), (b, "vb")] {
            wait_for(|| ip_output(&["-n", ns, "link", "show", dev]).contains("state UP"))
                .unwrap_or_else(|| panic!("{dev} in {ns} never came up"));
        }
        pair
    }

    /// Runs `f` on a thread inside namespace `ns` and returns its result.
    fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{ns}");
        thread::spawn(move || {
            let file = File::open(&path).expect("open the namespace");
            setns(file, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread panicked")
    }

    /// A VRRP socket on `va` in namespace A.
    fn socket_a(&self, family: IpFamily, groups: &[IpAddr]) -> VrrpSocket {
        let groups = groups.to_vec();
        Pair::run_in(&self.a, move || open(family, "va", &groups))
    }

    /// A VRRP socket on `vb` in namespace B.
    fn socket_b(&self, family: IpFamily, groups: &[IpAddr]) -> VrrpSocket {
        let groups = groups.to_vec();
        Pair::run_in(&self.b, move || open(family, "vb", &groups))
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn ifindex(name: &str) -> u32 {
    nix::net::if_::if_nametoindex(name).expect("if_nametoindex")
}

fn open(family: IpFamily, ifname: &str, groups: &[IpAddr]) -> VrrpSocket {
    VrrpSocket::open(family, ifindex(ifname), ifname, groups).expect("open VrrpSocket")
}

/// Polls `f` until it gives `Some` or [`WAIT`] has passed.
fn poll_for<T>(wait: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for(mut f: impl FnMut() -> bool) -> Option<()> {
    poll_for(WAIT, || f().then_some(()))
}

/// The next datagram on `socket` within `wait`, and its bytes.
fn recv_within(socket: &VrrpSocket, wait: Duration) -> Option<(Received, Vec<u8>)> {
    let mut buf = [0u8; 1500];
    poll_for(wait, || socket.recv(&mut buf).expect("recv")).map(|r| (r, buf[..r.len].to_vec()))
}

fn v3_advert(vrid: u8, addrs: Vec<IpAddr>) -> Advert {
    Advert {
        version: Version::V3,
        vrid,
        priority: 100,
        auth: Auth::None,
        interval: AdvertInterval::Centis(100),
        addrs,
    }
}

fn meta(r: &Received) -> RxMeta {
    RxMeta {
        src: r.src,
        dst: r.dst,
        ttl_or_hop_limit: r.ttl_or_hop_limit,
    }
}

#[test]
fn ipv4_multicast_advert_arrives_with_ttl_255_and_decodes() {
    let pair = Pair::new();
    let group = IpAddr::V4(GROUP_V4);
    let a = pair.socket_a(IpFamily::V4, &[group]);
    let b = pair.socket_b(IpFamily::V4, &[group]);
    let vb = Pair::run_in(&pair.b, || ifindex("vb"));

    let advert = v3_advert(51, vec!["192.0.2.10".parse().unwrap()]);
    let payload = encode(&advert, A_V4.into(), group, ChecksumMode::PseudoHeader).unwrap();
    a.send(&payload, Some(A_V4.into()), group).unwrap();

    let (r, bytes) = recv_within(&b, WAIT).expect("advert in B");
    assert_eq!(r.src, IpAddr::V4(A_V4));
    assert_eq!(r.dst, group);
    assert_eq!(r.ttl_or_hop_limit, Some(255));
    assert_eq!(r.ifindex, vb);
    assert!(!r.truncated);

    // IPv4: the datagram starts with the header the kernel wrote.
    let (header, message) = split_ipv4(&bytes).unwrap();
    assert_eq!(header.rx_meta(), meta(&r));
    assert_eq!(bytes[1], 0xc0, "TOS");
    assert_eq!(bytes[6] & 0x40, 0, "DF must be clear");
    assert_eq!(message, payload.as_slice());
    let rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100));
    assert_eq!(decode(message, &meta(&r), &rules).unwrap(), advert);

    // IP_MULTICAST_LOOP is off: the sender does not hear itself.
    assert!(recv_within(&a, QUIET).is_none());
}

#[test]
fn ipv6_multicast_advert_from_link_local_arrives_with_hop_limit_255_and_decodes() {
    let pair = Pair::new();
    let group = IpAddr::V6(GROUP_V6);
    let a = pair.socket_a(IpFamily::V6, &[group]);
    let b = pair.socket_b(IpFamily::V6, &[group]);
    let vb = Pair::run_in(&pair.b, || ifindex("vb"));

    let advert = v3_advert(
        52,
        vec!["fe80::10".parse().unwrap(), "2001:db8::10".parse().unwrap()],
    );
    let payload = encode(&advert, A_LL.into(), group, ChecksumMode::PseudoHeader).unwrap();
    a.send(&payload, Some(A_LL.into()), group).unwrap();

    let (r, bytes) = recv_within(&b, WAIT).expect("advert in B");
    assert_eq!(r.src, IpAddr::V6(A_LL));
    assert_eq!(r.dst, group);
    assert_eq!(r.ttl_or_hop_limit, Some(255));
    assert_eq!(r.ifindex, vb);
    // IPv6: no header, and the checksum is ours, untouched by the kernel.
    assert_eq!(bytes, payload);
    let rules = ReceiveRules::multicast(Family::Ipv6, Version::V3, AdvertInterval::Centis(100));
    assert_eq!(decode(&bytes, &meta(&r), &rules).unwrap(), advert);

    // Without a source the kernel picks the link-local one for ff02::12 (RFC 9568 5.1.2.1).
    a.send(&payload, None, group).unwrap();
    let (r, _) = recv_within(&b, WAIT).expect("second advert in B");
    assert_eq!(r.src, IpAddr::V6(A_LL));
    assert!(
        recv_within(&a, QUIET).is_none(),
        "IPV6_MULTICAST_LOOP is off"
    );
}

#[test]
fn ipv4_unicast_advert_leaves_from_the_chosen_source() {
    let pair = Pair::new();
    let a = pair.socket_a(IpFamily::V4, &[]);
    let b = pair.socket_b(IpFamily::V4, &[]);

    let advert = v3_advert(53, vec!["192.0.2.10".parse().unwrap()]);
    let (src, dst) = (IpAddr::V4(A_V4_SECONDARY), IpAddr::V4(B_V4));
    let payload = encode(&advert, src, dst, ChecksumMode::PseudoHeader).unwrap();
    a.send(&payload, Some(src), dst).unwrap();

    let (r, bytes) = recv_within(&b, WAIT).expect("unicast advert in B");
    assert_eq!((r.src, r.dst, r.ttl_or_hop_limit), (src, dst, Some(255)));
    let (header, message) = split_ipv4(&bytes).unwrap();
    assert_eq!(header.rx_meta(), meta(&r));
    let rules = ReceiveRules {
        unicast: true,
        check_unicast_source: true,
        peers: vec![UnicastPeer::new(src)],
        ..ReceiveRules::multicast(Family::Ipv4, Version::V3, AdvertInterval::Centis(100))
    };
    assert_eq!(decode(message, &meta(&r), &rules).unwrap(), advert);

    // Without a source: the interface's primary address. unicast_ttl is honoured.
    a.set_unicast_ttl(64).unwrap();
    a.send(&payload, None, dst).unwrap();
    let (r, _) = recv_within(&b, WAIT).expect("second unicast advert in B");
    assert_eq!(r.src, IpAddr::V4(A_V4));
    assert_eq!(r.ttl_or_hop_limit, Some(64));
}

#[test]
fn ipv6_unicast_advert_leaves_from_the_chosen_source() {
    let pair = Pair::new();
    let a = pair.socket_a(IpFamily::V6, &[]);
    let b = pair.socket_b(IpFamily::V6, &[]);

    let advert = v3_advert(54, vec!["2001:db8::10".parse().unwrap()]);
    let (src, dst) = (IpAddr::V6(A_V6), IpAddr::V6(B_V6));
    let payload = encode(&advert, src, dst, ChecksumMode::PseudoHeader).unwrap();
    a.send(&payload, Some(src), dst).unwrap();

    let (r, bytes) = recv_within(&b, WAIT).expect("unicast advert in B");
    assert_eq!((r.src, r.dst, r.ttl_or_hop_limit), (src, dst, Some(255)));
    let rules = ReceiveRules {
        unicast: true,
        peers: vec![UnicastPeer::new(src)],
        ..ReceiveRules::multicast(Family::Ipv6, Version::V3, AdvertInterval::Centis(100))
    };
    assert_eq!(decode(&bytes, &meta(&r), &rules).unwrap(), advert);
}

#[test]
fn a_socket_that_did_not_join_the_group_receives_no_multicast() {
    let pair = Pair::new();
    for (family, group, src) in [
        (IpFamily::V4, IpAddr::V4(GROUP_V4), IpAddr::V4(A_V4)),
        (IpFamily::V6, IpAddr::V6(GROUP_V6), IpAddr::V6(A_LL)),
    ] {
        let a = pair.socket_a(family, &[]);
        let joined = pair.socket_b(family, &[group]);
        let unicast_only = pair.socket_b(family, &[]);
        let advert = v3_advert(55, vec![]);
        let payload = encode(&advert, src, group, ChecksumMode::PseudoHeader).unwrap();
        a.send(&payload, Some(src), group).unwrap();
        // The interface is in the group (through `joined`), so the packet reached B ...
        assert!(
            recv_within(&joined, WAIT).is_some(),
            "{family:?}: joined socket"
        );
        // ... but IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off keep it from the other socket.
        assert!(
            recv_within(&unicast_only, QUIET).is_none(),
            "{family:?}: unjoined socket"
        );
    }
}

#[test]
fn leave_and_join_again() {
    let pair = Pair::new();
    for (family, group, src) in [
        (IpFamily::V4, IpAddr::V4(GROUP_V4), IpAddr::V4(A_V4)),
        (IpFamily::V6, IpAddr::V6(GROUP_V6), IpAddr::V6(A_LL)),
    ] {
        let a = pair.socket_a(family, &[]);
        let b = pair.socket_b(family, &[group]);
        let payload = encode(
            &v3_advert(56, vec![]),
            src,
            group,
            ChecksumMode::PseudoHeader,
        )
        .unwrap();
        let send = || a.send(&payload, Some(src), group).unwrap();

        send();
        assert!(recv_within(&b, WAIT).is_some(), "{family:?}: joined");
        b.leave(group).unwrap();
        send();
        assert!(recv_within(&b, QUIET).is_none(), "{family:?}: after leave");
        b.join(group).unwrap();
        send();
        assert!(recv_within(&b, WAIT).is_some(), "{family:?}: joined again");
    }
}

#[test]
fn wrong_family_and_non_multicast_groups_are_refused() {
    let pair = Pair::new();
    let a = pair.socket_a(IpFamily::V4, &[]);
    assert_eq!(a.family(), IpFamily::V4);
    for group in [IpAddr::V6(GROUP_V6), IpAddr::V4(B_V4)] {
        let err = a.join(group).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{group}");
    }
    let err = a.send(&[0; 8], None, IpAddr::V6(B_V6)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let groups = [IpAddr::V4(GROUP_V4)];
    let err = Pair::run_in(&pair.a, move || {
        VrrpSocket::open(IpFamily::V6, ifindex("va"), "va", &groups).unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// The link-layer address `ip neigh` in `ns` has for `addr` on `dev`.
fn neighbour(ns: &str, addr: &str, dev: &str) -> String {
    ip_output(&["-n", ns, "neigh", "show", addr, "dev", dev])
}

#[test]
fn gratuitous_arp_updates_the_neighbour_entry_in_b() {
    let pair = Pair::new();
    // B knows 192.0.2.10 at some other MAC; the GARP from A must move it to A's MAC.
    #[rustfmt::skip]
    ip(&["-n", &pair.b, "neigh", "replace", "192.0.2.10", "lladdr", "02:00:5e:00:00:99",
         "dev", "vb", "nud", "stale"]);
    assert!(neighbour(&pair.b, "192.0.2.10", "vb").contains("02:00:5e:00:00:99"));

    let packet = Pair::run_in(&pair.a, || PacketSocket::open(ifindex("va")).unwrap());
    packet
        .send_frame(&gratuitous_arp(MAC_A, "192.0.2.10".parse().unwrap()))
        .unwrap();

    wait_for(|| neighbour(&pair.b, "192.0.2.10", "vb").contains(MAC_A_TEXT))
        .unwrap_or_else(|| panic!("B: {}", neighbour(&pair.b, "192.0.2.10", "vb")));
}

#[test]
fn unsolicited_na_updates_the_neighbour_entry_in_b_and_a_bad_checksum_does_not() {
    let pair = Pair::new();
    #[rustfmt::skip]
    ip(&["-n", &pair.b, "neigh", "replace", "2001:db8::10", "lladdr", "02:00:5e:00:00:99",
         "dev", "vb", "nud", "stale"]);
    let packet = Pair::run_in(&pair.a, || PacketSocket::open(ifindex("va")).unwrap());
    let frame = unsolicited_na(MAC_A, "2001:db8::10".parse().unwrap(), false);

    // The kernel checks the ICMPv6 checksum: a corrupted one changes nothing.
    let mut corrupt = frame.clone();
    corrupt[57] ^= 0x01;
    packet.send_frame(&corrupt).unwrap();
    thread::sleep(QUIET);
    assert!(neighbour(&pair.b, "2001:db8::10", "vb").contains("02:00:5e:00:00:99"));

    packet.send_frame(&frame).unwrap();
    wait_for(|| neighbour(&pair.b, "2001:db8::10", "vb").contains(MAC_A_TEXT))
        .unwrap_or_else(|| panic!("B: {}", neighbour(&pair.b, "2001:db8::10", "vb")));
}

#[test]
fn a_frame_shorter_than_an_ethernet_header_is_refused() {
    let pair = Pair::new();
    let packet = Pair::run_in(&pair.a, || PacketSocket::open(ifindex("va")).unwrap());
    let err = packet.send_frame(&[0xff; 13]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// Whether `fd` is non-blocking and close-on-exec.
fn nonblocking_cloexec(fd: impl AsFd) -> (bool, bool) {
    let fl = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).unwrap());
    let fd_flags = FdFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFD).unwrap());
    (
        fl.contains(OFlag::O_NONBLOCK),
        fd_flags.contains(FdFlag::FD_CLOEXEC),
    )
}

#[test]
fn sockets_are_nonblocking_and_close_on_exec() {
    let pair = Pair::new();
    let v4 = pair.socket_a(IpFamily::V4, &[]);
    let v6 = pair.socket_a(IpFamily::V6, &[]);
    let packet = Pair::run_in(&pair.a, || PacketSocket::open(ifindex("va")).unwrap());
    assert_eq!(nonblocking_cloexec(&v4), (true, true));
    assert_eq!(nonblocking_cloexec(&v6), (true, true));
    assert_eq!(nonblocking_cloexec(&packet), (true, true));
    // Nothing waiting: Ok(None), not an error.
    assert_eq!(v4.recv(&mut [0; 64]).unwrap(), None);
    assert_eq!(v6.recv(&mut [0; 64]).unwrap(), None);
}
