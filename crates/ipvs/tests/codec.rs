//! The codec on the host: the kernel's answers captured in the VM (tests/fixtures/*.hex,
//! see tests/kernel.rs) decode to the table that was programmed; requests encode to the
//! bytes the kernel parses and decode back to what was encoded; decoding random or
//! damaged bytes gives errors, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use keepalived_ipvs::genl::{
    self, Context, DecodeError, FamilyId, GENL_ID_CTRL, Message, Refusal, Reply, Request, cmd,
};
use keepalived_ipvs::model::{
    Daemon, DaemonState, Dest, DestAttrs, DestConns, DestKey, Family, Forward, Info, Protocol,
    Service, ServiceAttrs, ServiceKey, Stats, Timeouts, Tunnel, TunnelType, service_flags,
};
use proptest::prelude::*;

use common::*;

/// The IPVS family id in the captures (the kernel gives it out dynamically).
const FAMILY: u16 = 0x20;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.trim().chars())
        .collect();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn ctx(service_family: Option<Family>) -> Context {
    Context {
        family: FAMILY,
        service_family,
    }
}

fn replies(bytes: &[u8], service_family: Option<Family>) -> Vec<Reply> {
    genl::messages(bytes, ctx(service_family))
        .map(|m| m.unwrap().reply)
        .collect()
}

// ------------------------------------------------------------------------------------------
// Captured answers
// ------------------------------------------------------------------------------------------

#[test]
fn the_family_lookup_names_the_ipvs_id() {
    let r = replies(&fixture("family"), None);
    assert_eq!(
        r,
        vec![
            Reply::Family(FamilyId {
                id: FAMILY,
                version: 1
            }),
            Reply::Ack
        ]
    );
}

#[test]
fn a_service_dump_decodes_to_the_programmed_services() {
    let bytes = fixture("services");
    let msgs: Vec<Message> = genl::messages(&bytes, ctx(None))
        .collect::<Result<_, _>>()
        .unwrap();
    // Every entry is part of a multipart answer to one request, ended by NLMSG_DONE.
    assert!(msgs.iter().all(|m| m.seq == msgs[0].seq));
    assert!(msgs.iter().all(|m| m.flags & genl::NLM_F_MULTI != 0));
    assert_eq!(msgs.last().unwrap().reply, Reply::Done(None));
    let mut services = BTreeMap::new();
    for m in &msgs[..msgs.len() - 1] {
        let Reply::Service(e) = &m.reply else {
            panic!("{m:?}")
        };
        // Nothing went through these services.
        assert_eq!(e.stats, Stats::default());
        services.insert(e.service.key, e.service.attrs.clone());
    }
    let expected: BTreeMap<ServiceKey, ServiceAttrs> = table()
        .services
        .into_iter()
        .map(|(k, s)| (k, s.attrs))
        .collect();
    assert_eq!(services, expected);
}

fn dests_of(name: &str, family: Family) -> BTreeMap<DestKey, DestAttrs> {
    let r = replies(&fixture(name), Some(family));
    assert_eq!(r.last(), Some(&Reply::Done(None)));
    r[..r.len() - 1]
        .iter()
        .map(|r| match r {
            Reply::Dest(d) => {
                assert_eq!(d.conns, DestConns::default());
                assert_eq!(d.stats, Stats::default());
                (d.dest.key, d.dest.attrs)
            }
            r => panic!("{r:?}"),
        })
        .collect()
}

#[test]
fn destination_dumps_decode_to_the_programmed_destinations() {
    let t = table();
    assert_eq!(
        dests_of("dests-nat", Family::Inet),
        t.services[&nat_service()].dests
    );
    assert_eq!(
        dests_of("dests-tun", Family::Inet),
        t.services[&tun_service()].dests
    );
    assert_eq!(
        dests_of("dests-v6", Family::Inet6),
        t.services[&v6_service()].dests
    );
    // The kernel sends IPVS_DEST_ATTR_ADDR_FAMILY: the service's family is not needed.
    let r = replies(&fixture("dests-v6"), None);
    assert!(matches!(r[0], Reply::Dest(_)));
}

#[test]
fn one_service_is_answered_then_acked() {
    let key = addr_key(Protocol::Udp, "192.0.2.4", 5060);
    match replies(&fixture("service-one"), None).as_slice() {
        [Reply::Service(e), Reply::Ack] => {
            assert_eq!(e.service.key, key);
            assert_eq!(e.service.attrs, table().services[&key].attrs);
            assert_eq!(e.service.attrs.pe_name.as_deref(), Some("sip"));
            assert_eq!(
                e.service.attrs.flags,
                service_flags::PERSISTENT,
                "HASHED is removed"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn counters_after_three_connections() {
    // The values of this capture (tests/kernel.rs check_stats): 3 HTTP/1.0 requests.
    let expected = Stats {
        conns: 3,
        inpkts: 21,
        outpkts: 15,
        inbytes: 1200,
        outbytes: 1443,
        cps: 0,
        inpps: 3,
        outpps: 2,
        inbps: 150,
        outbps: 180,
    };
    match replies(&fixture("stats-service"), None).as_slice() {
        [Reply::Service(e), Reply::Ack] => {
            assert_eq!(e.service.key, addr_key(Protocol::Tcp, "192.0.2.100", 80));
            assert_eq!(e.stats, expected);
        }
        other => panic!("{other:?}"),
    }
    match replies(&fixture("stats-dests"), Some(Family::Inet)).as_slice() {
        [Reply::Dest(d), Reply::Done(None)] => {
            assert_eq!(d.dest.key, dkey("192.0.2.101", 80));
            assert_eq!(d.dest.attrs, dest(Forward::Masq, 1));
            assert_eq!(
                d.conns,
                DestConns {
                    active: 0,
                    inactive: 3,
                    persistent: 0
                }
            );
            assert_eq!(d.stats, expected);
        }
        other => panic!("{other:?}"),
    }
}

/// The same counters from the older 32-bit STATS attribute, when STATS64 is absent (its
/// type renamed to one the decoder ignores).
#[test]
fn counters_from_stats_when_stats64_is_absent() {
    let mut bytes = fixture("stats-service");
    let with64 = match &replies(&bytes, None)[0] {
        Reply::Service(e) => e.stats,
        r => panic!("{r:?}"),
    };
    // Find the STATS64 attribute (type 12) inside the service nest and retype it 13.
    let nest = 16 + 4; // nlmsghdr + genlmsghdr
    let mut at = nest + 4;
    let end = nest + usize::from(u16::from_ne_bytes([bytes[nest], bytes[nest + 1]]));
    let mut found = false;
    while at < end {
        let len = usize::from(u16::from_ne_bytes([bytes[at], bytes[at + 1]]));
        if u16::from_ne_bytes([bytes[at + 2], bytes[at + 3]]) == 12 {
            bytes[at + 2..at + 4].copy_from_slice(&13u16.to_ne_bytes());
            found = true;
        }
        at += (len + 3) & !3;
    }
    assert!(found);
    match &replies(&bytes, None)[0] {
        Reply::Service(e) => assert_eq!(e.stats, with64),
        r => panic!("{r:?}"),
    }
}

#[test]
fn daemons_are_reported_with_the_kernel_defaults() {
    let r = replies(&fixture("daemons"), None);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        r,
        vec![
            Reply::Daemon(Daemon {
                state: DaemonState::Master,
                mcast_ifn: "dummy0".into(),
                sync_id: 7,
                sync_maxlen: 1472,
                mcast_group: Some(ip("224.0.0.81")),
                mcast_port: 8848,
                mcast_ttl: 1,
            }),
            Reply::Daemon(Daemon {
                state: DaemonState::Backup,
                mcast_ifn: "dummy0".into(),
                sync_id: 9,
                sync_maxlen: 1400,
                mcast_group: Some(ip("239.0.0.5")),
                mcast_port: 8849,
                mcast_ttl: 2,
            }),
            Reply::Done(None),
        ]
    );
}

#[test]
fn timeouts_and_info() {
    assert_eq!(
        replies(&fixture("config"), None),
        vec![
            Reply::Timeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
            Reply::Ack
        ]
    );
    assert_eq!(
        replies(&fixture("info"), None),
        vec![
            Reply::Info(Info {
                version: 0x010201,
                conn_tab_size: 4096
            }),
            Reply::Ack
        ]
    );
}

#[test]
fn a_refusal_carries_the_errno_and_echoes_the_request() {
    let bytes = fixture("error-eexist");
    assert_eq!(
        replies(&bytes, None),
        vec![Reply::Error(Refusal {
            errno: 17,
            message: None
        })]
    );
    // The echoed request is ours: NEW_SERVICE of TCP 192.0.2.1:80, byte for byte.
    let svc = Service {
        key: nat_service(),
        attrs: sched(Family::Inet, "rr"),
    };
    let mut req = Vec::new();
    let seq = u32::from_ne_bytes(bytes[8..12].try_into().unwrap());
    Request::NewService(&svc).encode(FAMILY, seq, &mut req);
    let echoed = &bytes[20..20 + req.len()];
    assert_eq!(&echoed[..12], &req[..12]);
    assert_eq!(&echoed[16..], &req[16..], "the pid is the kernel's to fill");
}

// ------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------

#[test]
#[rustfmt::skip]
fn a_new_service_request_byte_for_byte() {
    let svc = Service {
        key: addr_key(Protocol::Tcp, "192.0.2.1", 80),
        attrs: ServiceAttrs {
            flags: service_flags::PERSISTENT,
            timeout: 300,
            netmask: 0xffff_ff00,
            pe_name: Some("sip".into()),
            ..sched(Family::Inet, "wlc")
        },
    };
    let mut b = Vec::new();
    Request::NewService(&svc).encode(0x20, 7, &mut b);
    let ne16 = |v: u16| v.to_ne_bytes();
    let ne32 = |v: u32| v.to_ne_bytes();
    let mut expected = Vec::new();
    // nlmsghdr: length, type = family, NLM_F_REQUEST|NLM_F_ACK, seq 7, pid 0
    expected.extend(ne32(100)); expected.extend(ne16(0x20)); expected.extend(ne16(0x5));
    expected.extend(ne32(7)); expected.extend(ne32(0));
    // genlmsghdr: NEW_SERVICE, version 1
    expected.extend([1, 1, 0, 0]);
    // IPVS_CMD_ATTR_SERVICE (1), nested, 80 bytes
    expected.extend(ne16(80)); expected.extend(ne16(1));
    // AF = AF_INET, PROTOCOL = TCP
    expected.extend(ne16(6)); expected.extend(ne16(1)); expected.extend(ne16(2)); expected.extend([0, 0]);
    expected.extend(ne16(6)); expected.extend(ne16(2)); expected.extend(ne16(6)); expected.extend([0, 0]);
    // ADDR 192.0.2.1, PORT 80 big-endian
    expected.extend(ne16(8)); expected.extend(ne16(3)); expected.extend([192, 0, 2, 1]);
    expected.extend(ne16(6)); expected.extend(ne16(4)); expected.extend([0, 80, 0, 0]);
    // SCHED_NAME "wlc\0", PE_NAME "sip\0"
    expected.extend(ne16(8)); expected.extend(ne16(6)); expected.extend(*b"wlc\0");
    expected.extend(ne16(8)); expected.extend(ne16(11)); expected.extend(*b"sip\0");
    // FLAGS { PERSISTENT, mask ~0 }
    expected.extend(ne16(12)); expected.extend(ne16(7)); expected.extend(ne32(1)); expected.extend(ne32(!0));
    // TIMEOUT 300, NETMASK 255.255.255.0 as a be32
    expected.extend(ne16(8)); expected.extend(ne16(8)); expected.extend(ne32(300));
    expected.extend(ne16(8)); expected.extend(ne16(9)); expected.extend([255, 255, 255, 0]);
    assert_eq!(b, expected);
}

#[test]
#[rustfmt::skip]
fn a_tunnel_destination_request_byte_for_byte() {
    let key = ServiceKey::Fwmark { family: Family::Inet6, mark: 5 };
    let d = Dest {
        key: dkey("198.51.100.30", 0),
        attrs: DestAttrs {
            forward: Forward::Tunnel(Tunnel { kind: TunnelType::Gue, port: 6080, flags: 1 }),
            weight: 3,
            u_thresh: 100,
            l_thresh: 10,
        },
    };
    let mut b = Vec::new();
    Request::SetDest(&key, &d).encode(0x20, 1, &mut b);
    let ne16 = |v: u16| v.to_ne_bytes();
    let ne32 = |v: u32| v.to_ne_bytes();
    let mut expected = Vec::new();
    expected.extend(ne32(124)); expected.extend(ne16(0x20)); expected.extend(ne16(0x5));
    expected.extend(ne32(1)); expected.extend(ne32(0));
    expected.extend([6, 1, 0, 0]); // SET_DEST
    // SERVICE { AF_INET6, FWMARK 5 }
    expected.extend(ne16(20)); expected.extend(ne16(1));
    expected.extend(ne16(6)); expected.extend(ne16(1)); expected.extend(ne16(10)); expected.extend([0, 0]);
    expected.extend(ne16(8)); expected.extend(ne16(5)); expected.extend(ne32(5));
    // DEST { ADDR_FAMILY AF_INET, ADDR, PORT 0, FWD_METHOD TUNNEL, WEIGHT 3,
    //        TUN_TYPE GUE, TUN_PORT 6080 be16, TUN_FLAGS CSUM, U_THRESH 100, L_THRESH 10 }
    expected.extend(ne16(84)); expected.extend(ne16(2));
    expected.extend(ne16(6)); expected.extend(ne16(11)); expected.extend(ne16(2)); expected.extend([0, 0]);
    expected.extend(ne16(8)); expected.extend(ne16(1)); expected.extend([198, 51, 100, 30]);
    expected.extend(ne16(6)); expected.extend(ne16(2)); expected.extend([0, 0, 0, 0]);
    expected.extend(ne16(8)); expected.extend(ne16(3)); expected.extend(ne32(2));
    expected.extend(ne16(8)); expected.extend(ne16(4)); expected.extend(ne32(3));
    expected.extend(ne16(5)); expected.extend(ne16(13)); expected.extend([1, 0, 0, 0]);
    expected.extend(ne16(6)); expected.extend(ne16(14)); expected.extend([0x17, 0xc0, 0, 0]);
    expected.extend(ne16(6)); expected.extend(ne16(15)); expected.extend(ne16(1)); expected.extend([0, 0]);
    expected.extend(ne16(8)); expected.extend(ne16(5)); expected.extend(ne32(100));
    expected.extend(ne16(8)); expected.extend(ne16(6)); expected.extend(ne32(10));
    assert_eq!(b, expected);
}

#[test]
fn every_command_encodes_with_its_number_and_flags() {
    let key = nat_service();
    let svc = Service {
        key,
        attrs: sched(Family::Inet, "rr"),
    };
    let d = Dest {
        key: dkey("198.51.100.10", 80),
        attrs: dest(Forward::Route, 1),
    };
    let daemon = Daemon {
        state: DaemonState::Master,
        mcast_ifn: "eth0".into(),
        sync_id: 1,
        sync_maxlen: 0,
        mcast_group: None,
        mcast_port: 0,
        mcast_ttl: 0,
    };
    let t = Timeouts::default();
    let cases: Vec<(Request, u8, bool, &str)> = vec![
        (
            Request::NewService(&svc),
            cmd::NEW_SERVICE,
            false,
            "add service TCP 192.0.2.1:80",
        ),
        (
            Request::SetService(&svc),
            cmd::SET_SERVICE,
            false,
            "edit service TCP 192.0.2.1:80",
        ),
        (
            Request::DelService(&key),
            cmd::DEL_SERVICE,
            false,
            "delete service TCP 192.0.2.1:80",
        ),
        (
            Request::NewDest(&key, &d),
            cmd::NEW_DEST,
            false,
            "add real server 198.51.100.10:80 to TCP 192.0.2.1:80",
        ),
        (
            Request::SetDest(&key, &d),
            cmd::SET_DEST,
            false,
            "edit real server 198.51.100.10:80 of TCP 192.0.2.1:80",
        ),
        (
            Request::DelDest(&key, &d.key),
            cmd::DEL_DEST,
            false,
            "delete real server 198.51.100.10:80 from TCP 192.0.2.1:80",
        ),
        (
            Request::GetService(&key),
            cmd::GET_SERVICE,
            false,
            "get service TCP 192.0.2.1:80",
        ),
        (
            Request::GetServices,
            cmd::GET_SERVICE,
            true,
            "dump services",
        ),
        (
            Request::GetDests(&key),
            cmd::GET_DEST,
            true,
            "dump real servers of TCP 192.0.2.1:80",
        ),
        (
            Request::NewDaemon(&daemon),
            cmd::NEW_DAEMON,
            false,
            "start master sync daemon on eth0 (sync id 1)",
        ),
        (
            Request::DelDaemon(DaemonState::Backup),
            cmd::DEL_DAEMON,
            false,
            "stop backup sync daemon",
        ),
        (
            Request::GetDaemons,
            cmd::GET_DAEMON,
            true,
            "dump sync daemons",
        ),
        (
            Request::SetTimeouts(&t),
            cmd::SET_CONFIG,
            false,
            "set timeouts tcp 0 tcpfin 0 udp 0",
        ),
        (Request::GetTimeouts, cmd::GET_CONFIG, false, "get timeouts"),
        (Request::GetInfo, cmd::GET_INFO, false, "get IPVS info"),
        (
            Request::Zero(Some(&key)),
            cmd::ZERO,
            false,
            "zero counters of TCP 192.0.2.1:80",
        ),
        (Request::Zero(None), cmd::ZERO, false, "zero all counters"),
        (Request::Flush, cmd::FLUSH, false, "flush the IPVS table"),
    ];
    for (req, command, dump, what) in cases {
        let mut b = Vec::new();
        req.encode(FAMILY, 42, &mut b);
        assert_eq!(
            b.len(),
            u32::from_ne_bytes(b[..4].try_into().unwrap()) as usize
        );
        assert_eq!(b.len() % 4, 0);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), FAMILY);
        let flags = u16::from_ne_bytes([b[6], b[7]]);
        assert_eq!(flags, if dump { 0x301 } else { 0x5 }, "{what}");
        assert_eq!(req.is_dump(), dump);
        assert_eq!((b[16], b[17]), (command, 1), "{what}");
        assert_eq!(req.describe(), what);
    }
    // The family lookup goes to nlctrl, with the name NUL-terminated.
    let mut b = Vec::new();
    Request::GetFamily("IPVS").encode(FAMILY, 1, &mut b);
    assert_eq!(u16::from_ne_bytes([b[4], b[5]]), GENL_ID_CTRL);
    assert_eq!(b[16], 3);
    assert_eq!(&b[20..], &[9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0]);
    // Zero of everything and flush carry no attribute.
    for req in [Request::Zero(None), Request::Flush, Request::GetServices] {
        let mut b = Vec::new();
        req.encode(FAMILY, 1, &mut b);
        assert_eq!(b.len(), 20);
    }
}

// ------------------------------------------------------------------------------------------
// Round trips: a request's attributes have the layout of the kernel's answer
// ------------------------------------------------------------------------------------------

/// Encodes a request, then decodes it as if the kernel had answered with the same
/// attributes (NEW_SERVICE, NEW_DEST, NEW_DAEMON and SET_CONFIG are also answer commands).
fn echo(req: Request<'_>, service_family: Option<Family>) -> Reply {
    let mut b = Vec::new();
    req.encode(FAMILY, 1, &mut b);
    let mut m = genl::messages(&b, ctx(service_family));
    let r = m.next().unwrap().unwrap().reply;
    assert!(m.next().is_none());
    r
}

fn arb_addr(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::Inet => any::<[u8; 4]>().prop_map(IpAddr::from).boxed(),
        Family::Inet6 => any::<[u8; 16]>().prop_map(IpAddr::from).boxed(),
    }
}

fn arb_family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::Inet), Just(Family::Inet6)]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    arb_family().prop_flat_map(|f| {
        prop_oneof![
            (
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
                arb_addr(f),
                any::<u16>()
            )
                .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                    protocol,
                    addr,
                    port
                }),
            any::<u32>().prop_map(move |mark| ServiceKey::Fwmark { family: f, mark }),
        ]
    })
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        "[a-z]{1,15}",
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of("[a-z]{1,15}"),
    )
        .prop_map(
            |(key, scheduler, flags, timeout, netmask, pe_name)| Service {
                key,
                attrs: ServiceAttrs {
                    scheduler,
                    flags: flags & !service_flags::HASHED,
                    timeout,
                    netmask,
                    pe_name,
                },
            },
        )
}

fn arb_forward() -> impl Strategy<Value = Forward> {
    prop_oneof![
        Just(Forward::Masq),
        Just(Forward::Local),
        Just(Forward::Route),
        Just(Forward::Bypass),
        (
            prop_oneof![
                Just(TunnelType::Ipip),
                Just(TunnelType::Gue),
                Just(TunnelType::Gre)
            ],
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(kind, port, flags)| Forward::Tunnel(Tunnel { kind, port, flags })),
    ]
}

fn arb_dest() -> impl Strategy<Value = Dest> {
    (
        arb_family().prop_flat_map(arb_addr),
        any::<u16>(),
        arb_forward(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(addr, port, forward, weight, u_thresh, l_thresh)| Dest {
            key: DestKey { addr, port },
            attrs: DestAttrs {
                forward,
                weight,
                u_thresh,
                l_thresh,
            },
        })
}

proptest! {
    #[test]
    fn services_round_trip(s in arb_service()) {
        match echo(Request::NewService(&s), None) {
            Reply::Service(e) => {
                prop_assert_eq!(&e.service, &s);
                prop_assert_eq!(e.stats, Stats::default());
            }
            r => prop_assert!(false, "{:?}", r),
        }
    }

    #[test]
    fn destinations_round_trip(key in arb_key(), d in arb_dest()) {
        match echo(Request::NewDest(&key, &d), None) {
            Reply::Dest(e) => {
                prop_assert_eq!(e.dest, d);
                prop_assert_eq!(e.conns, DestConns::default());
            }
            r => prop_assert!(false, "{:?}", r),
        }
    }

    #[test]
    fn daemons_round_trip(
        backup in any::<bool>(),
        ifn in "[a-z0-9.]{1,15}",
        sync_id in any::<u32>(),
        sync_maxlen in any::<u16>(),
        group in proptest::option::of(arb_family().prop_flat_map(arb_addr)),
        mcast_port in any::<u16>(),
        mcast_ttl in any::<u8>(),
    ) {
        let d = Daemon {
            state: if backup { DaemonState::Backup } else { DaemonState::Master },
            mcast_ifn: ifn,
            sync_id,
            sync_maxlen,
            mcast_group: group,
            mcast_port,
            mcast_ttl,
        };
        prop_assert_eq!(echo(Request::NewDaemon(&d), None), Reply::Daemon(d));
    }

    #[test]
    fn timeouts_round_trip(tcp in any::<u32>(), tcp_fin in any::<u32>(), udp in any::<u32>()) {
        let t = Timeouts { tcp, tcp_fin, udp };
        prop_assert_eq!(echo(Request::SetTimeouts(&t), None), Reply::Timeouts(t));
    }

    /// Random bytes: decoded or refused, never a panic.
    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        family in prop_oneof![Just(FAMILY), Just(0u16), any::<u16>()],
    ) {
        let c = Context { family, service_family: None };
        for m in genl::messages(&bytes, c) {
            let _ = m;
        }
    }

    /// A plausible header over random attributes, so that the attribute decoders run.
    #[test]
    fn random_attributes_never_panic(
        command in 0u8..20,
        ty in prop_oneof![Just(FAMILY), Just(GENL_ID_CTRL), Just(2u16), Just(3u16)],
        flags in any::<u16>(),
        attrs in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut b = Vec::new();
        b.extend(((20 + attrs.len()) as u32).to_ne_bytes());
        b.extend(ty.to_ne_bytes());
        b.extend(flags.to_ne_bytes());
        b.extend([0u8; 8]);
        b.extend([command, 1, 0, 0]);
        b.extend(&attrs);
        for m in genl::messages(&b, ctx(Some(Family::Inet))) {
            let _ = m;
        }
    }

    /// Every captured answer, damaged in one byte or cut short: never a panic.
    #[test]
    fn damaged_captures_never_panic(
        which in 0usize..12,
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let names = [
            "family", "services", "dests-nat", "dests-tun", "dests-v6", "daemons", "config",
            "info", "error-eexist", "service-one", "stats-service", "stats-dests",
        ];
        let mut bytes = fixture(names[which]);
        let i = at.index(bytes.len());
        bytes[i] = value;
        for m in genl::messages(&bytes, ctx(None)) {
            let _ = m;
        }
        let n = cut.index(bytes.len());
        for m in genl::messages(&bytes[..n], ctx(None)) {
            let _ = m;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Errors, extended acks, malformed input
// ------------------------------------------------------------------------------------------

fn message(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(((16 + payload.len()) as u32).to_ne_bytes());
    b.extend(ty.to_ne_bytes());
    b.extend(flags.to_ne_bytes());
    b.extend(9u32.to_ne_bytes());
    b.extend(0u32.to_ne_bytes());
    b.extend(payload);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

#[test]
fn an_extended_ack_message_is_kept() {
    // NLMSG_ERROR -EINVAL, CAPPED | ACK_TLVS: the request's header only, then
    // NLMSGERR_ATTR_MSG "missing attribute" and NLMSGERR_ATTR_OFFS 20.
    let mut p = Vec::new();
    p.extend((-22i32).to_ne_bytes());
    p.extend([0u8; 16]);
    let text = b"missing attribute\0";
    p.extend(((4 + text.len()) as u16).to_ne_bytes());
    p.extend(1u16.to_ne_bytes());
    p.extend(text);
    while p.len() % 4 != 0 {
        p.push(0);
    }
    p.extend(8u16.to_ne_bytes());
    p.extend(2u16.to_ne_bytes());
    p.extend(20u32.to_ne_bytes());
    let b = message(2, 0x300, &p);
    assert_eq!(
        replies(&b, None),
        vec![Reply::Error(Refusal {
            errno: 22,
            message: Some("missing attribute".into())
        })]
    );
    // Not capped: the whole request (here 24 bytes) is echoed before the attributes.
    let mut p = Vec::new();
    p.extend((-1i32).to_ne_bytes());
    p.extend(24u32.to_ne_bytes());
    p.extend([0u8; 20]);
    p.extend(8u16.to_ne_bytes());
    p.extend(1u16.to_ne_bytes());
    p.extend(*b"why\0");
    let b = message(2, 0x200, &p);
    assert_eq!(
        replies(&b, None),
        vec![Reply::Error(Refusal {
            errno: 1,
            message: Some("why".into())
        })]
    );
}

#[test]
fn a_dump_can_end_with_an_error() {
    let b = message(3, 0x2, &(-16i32).to_ne_bytes());
    assert_eq!(
        replies(&b, None),
        vec![Reply::Done(Some(Refusal {
            errno: 16,
            message: None
        }))]
    );
    assert_eq!(
        replies(&message(3, 0x2, &[]), None),
        vec![Reply::Done(None)]
    );
}

#[test]
fn malformed_input_gives_typed_errors() {
    let first = |b: &[u8]| genl::messages(b, ctx(None)).next().unwrap();
    // Shorter than a header; a length below the header's; a length past the end.
    assert_eq!(
        first(&[1, 2, 3]),
        Err(DecodeError::Frame {
            len: 3,
            at: 0,
            total: 3
        })
    );
    let mut b = message(3, 0, &[0, 0, 0, 0]);
    b[0] = 8;
    assert!(matches!(first(&b), Err(DecodeError::Frame { len: 8, .. })));
    let mut b = message(3, 0, &[0, 0, 0, 0]);
    b[0] = 200;
    assert!(matches!(
        first(&b),
        Err(DecodeError::Frame { len: 200, .. })
    ));
    // An error message without its code.
    assert_eq!(
        first(&message(2, 0, &[1, 2])),
        Err(DecodeError::Short {
            what: "NLMSG_ERROR",
            len: 2
        })
    );
    // A generic-netlink message without its header.
    assert!(matches!(
        first(&message(FAMILY, 0, &[1, 1])),
        Err(DecodeError::Short { .. })
    ));
    // A message of another family, and an answer command no request has.
    assert_eq!(
        first(&message(0x33, 0, &[1, 1, 0, 0])),
        Err(DecodeError::Unexpected { ty: 0x33, cmd: 0 })
    );
    assert_eq!(
        first(&message(FAMILY, 0, &[cmd::FLUSH, 1, 0, 0])),
        Err(DecodeError::Unexpected {
            ty: FAMILY,
            cmd: cmd::FLUSH
        })
    );
    // An attribute whose length runs past its container.
    assert!(matches!(
        first(&message(
            FAMILY,
            0,
            &[cmd::NEW_SERVICE, 1, 0, 0, 40, 0, 1, 0]
        )),
        Err(DecodeError::AttrFrame { len: 40, .. })
    ));
    // A service without its nest, and one with a bad family.
    assert_eq!(
        first(&message(FAMILY, 0, &[cmd::NEW_SERVICE, 1, 0, 0])),
        Err(DecodeError::Missing("IPVS_CMD_ATTR_SERVICE"))
    );
    let mut p = vec![cmd::NEW_SERVICE, 1, 0, 0];
    p.extend(12u16.to_ne_bytes());
    p.extend(1u16.to_ne_bytes());
    p.extend(6u16.to_ne_bytes());
    p.extend(1u16.to_ne_bytes());
    p.extend(7u16.to_ne_bytes());
    p.extend([0, 0]);
    assert_eq!(
        first(&message(FAMILY, 0, &p)),
        Err(DecodeError::Value {
            attr: "IPVS_SVC_ATTR_AF",
            value: 7
        })
    );
    // A destination whose family is known from nowhere.
    let mut p = vec![cmd::NEW_DEST, 1, 0, 0];
    p.extend(12u16.to_ne_bytes());
    p.extend(2u16.to_ne_bytes());
    p.extend(8u16.to_ne_bytes());
    p.extend(1u16.to_ne_bytes());
    p.extend([198, 51, 100, 1]);
    assert_eq!(
        first(&message(FAMILY, 0, &p)),
        Err(DecodeError::Missing("IPVS_DEST_ATTR_ADDR_FAMILY"))
    );
    // Until the family is resolved, no IPVS message is expected.
    let c = Context {
        family: 0,
        service_family: None,
    };
    assert!(
        genl::messages(&message(0, 0, &[1, 1, 0, 0]), c)
            .next()
            .unwrap()
            .is_err()
    );
}

#[test]
fn errors_display_the_attribute() {
    assert_eq!(
        DecodeError::Size {
            attr: "IPVS_SVC_ATTR_PORT",
            len: 3
        }
        .to_string(),
        "IPVS_SVC_ATTR_PORT has 3 bytes"
    );
    assert_eq!(
        DecodeError::Missing("IPVS_SVC_ATTR_AF").to_string(),
        "IPVS_SVC_ATTR_AF is missing"
    );
}
