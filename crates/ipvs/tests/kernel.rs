//! The codec and the socket against a real IPVS: a Debian kernel under qemu
//! (keepalived-vmtest). `ipvs_kernel` is one boot: on the host it builds the VM and checks
//! the console; inside the VM (`KARS_IN_VM=1`) it runs every check below, each on a flushed
//! table, and prints the kernel's answers as hex lines that the host turns into the byte
//! fixtures of tests/fixtures/ when `KARS_UPDATE_FIXTURES=1`.
//!
//! `open_without_ipvs` runs on the host, whose kernel has no IPVS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use keepalived_ipvs::genl::{self, Context, Reply, Request};
use keepalived_ipvs::model::{
    Daemon, DaemonState, Dest, Family, Forward, Info, Op, Protocol, Service, ServiceKey, Table,
    Timeouts,
};
use keepalived_ipvs::socket::{Error, IpvsSocket};
use keepalived_vmtest::{Vm, in_vm};
use nix::errno::Errno;

use common::*;

/// A console line carrying a fixture: `KARS-FIXTURE <name> <hex>`.
const FIXTURE: &str = "KARS-FIXTURE";
/// A console line carrying a line of `ipvsadm -Sn`, normalized.
const IPVSADM: &str = "KARS-IPVSADM";
/// The fixtures the VM must print.
const FIXTURES: &[&str] = &[
    "family",
    "services",
    "dests-nat",
    "dests-tun",
    "dests-v6",
    "daemons",
    "config",
    "info",
    "error-eexist",
    "service-one",
    "stats-service",
    "stats-dests",
];
const EXPECTED_IPVSADM: &str = include_str!("fixtures/ipvsadm-Sn.txt");

fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

#[test]
fn ipvs_kernel() {
    if in_vm() {
        return inner();
    }
    let update = std::env::var_os("KARS_UPDATE_FIXTURES").is_some_and(|v| v == "1");
    let mut b = Vm::builder().ipvsadm().init(
        "modprobe crc32c_generic\n\
             modprobe ip_vs\n\
             modprobe dummy numdummies=1\n\
             ip link set dummy0 up\n\
             ip addr add 192.0.2.250/24 dev dummy0\n\
             echo \"KARS-KERNEL $(uname -r)\"\n",
    );
    if update {
        b = b.init("export KARS_UPDATE_FIXTURES=1");
    }
    let vm = b.self_test("ipvs_kernel").build().unwrap();
    let out = vm.run(Duration::from_secs(300)).unwrap();
    println!(
        "VM: booted after {:?} s (kernel uptime), {:.1} s in all",
        out.booted_after(),
        out.elapsed.as_secs_f64()
    );
    out.assert_self_test_passed("ipvs_kernel");
    let mut printed = BTreeMap::new();
    for v in out.values(FIXTURE) {
        let (name, hex) = v.split_once(' ').unwrap();
        printed.insert(name.to_string(), hex.trim().to_string());
    }
    for name in FIXTURES {
        assert!(
            printed.contains_key(*name),
            "the VM printed no fixture {name}:\n{}",
            out.indented()
        );
    }
    if update {
        let kernel = out.values("KARS-KERNEL").next().unwrap_or("?").to_string();
        for (name, hex) in &printed {
            write_fixture(name, hex, &kernel);
        }
        let ipvsadm: String = out.values(IPVSADM).map(|l| format!("{l}\n")).collect();
        std::fs::write(fixtures_dir().join("ipvsadm-Sn.txt"), ipvsadm).unwrap();
    }
}

/// Writes a fixture file: a comment, then one netlink message per line, in hex.
fn write_fixture(name: &str, hex: &str, kernel: &str) {
    let bytes = from_hex(hex);
    let mut text = format!(
        "# {}\n# Captured from Linux {kernel} by tests/kernel.rs (KARS_UPDATE_FIXTURES=1);\n\
         # one netlink message per line, in hex.\n",
        describe_fixture(name)
    );
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = (at + ((len + 3) & !3)).min(bytes.len());
        let _ = writeln!(text, "{}", to_hex(&bytes[at..end]));
        at = end;
    }
    std::fs::write(fixtures_dir().join(format!("{name}.hex")), text).unwrap();
}

fn describe_fixture(name: &str) -> &'static str {
    match name {
        "family" => "nlctrl CTRL_CMD_NEWFAMILY answering CTRL_CMD_GETFAMILY \"IPVS\", then the ACK",
        "services" => "GET_SERVICE dump of the table of tests/common/mod.rs, then NLMSG_DONE",
        "dests-nat" => "GET_DEST dump of TCP 192.0.2.1:80 (NAT, thresholds, weight 0)",
        "dests-tun" => "GET_DEST dump of TCP 192.0.2.9:80 (TUN: ipip, gue csum/remcsum, gre)",
        "dests-v6" => "GET_DEST dump of TCP [2001:db8::1]:443 (DR v6, TUN ipip to IPv4)",
        "daemons" => {
            "GET_DAEMON dump: master on dummy0 (defaults), backup with group/port/ttl/maxlen"
        }
        "config" => "GET_CONFIG answer (SET_CONFIG) after SET_CONFIG tcp 900 tcpfin 120 udp 300",
        "info" => "GET_INFO answer (SET_INFO), then the ACK",
        "error-eexist" => "NLMSG_ERROR EEXIST answering NEW_SERVICE TCP 192.0.2.1:80",
        "service-one" => "GET_SERVICE of UDP 192.0.2.4:5060 (persistent, pe sip), then the ACK",
        "stats-service" => "GET_SERVICE of TCP 192.0.2.100:80 after 3 connections, then the ACK",
        "stats-dests" => "GET_DEST dump of TCP 192.0.2.100:80 after 3 connections",
        _ => "a kernel answer",
    }
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// On the host (no IPVS in its kernel) open() says so, with its own error.
#[test]
fn open_without_ipvs() {
    assert!(!in_vm());
    let r = IpvsSocket::open();
    // Resolving the family would have loaded ip_vs if the host kernel could.
    if Path::new("/sys/module/ip_vs").exists() {
        r.unwrap();
    } else {
        assert_eq!(r.unwrap_err(), Error::NoIpvs);
        assert_eq!(
            Error::NoIpvs.to_string(),
            "the kernel has no IPVS (generic netlink family \"IPVS\" not found)"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Inside the VM
// ------------------------------------------------------------------------------------------

/// One check inside the VM.
type Check = fn(&mut IpvsSocket);

fn inner() {
    let checks: &[(&str, Check)] = &[
        ("open and info", check_info),
        ("program the table, dump it, ipvsadm -Sn", check_table),
        ("the same table in batches", check_batch),
        ("edit and delete", check_edit_delete),
        ("errors", check_errors),
        ("sync daemons", check_daemons),
        ("timeouts", check_timeouts),
        ("counters of real traffic", check_stats),
        ("flush", check_flush),
    ];
    let t = Instant::now();
    let mut sock = IpvsSocket::open().expect("open the IPVS socket in the VM");
    sock.set_timeout(Duration::from_secs(30)).unwrap();
    println!("open: {:.2} s", t.elapsed().as_secs_f64());
    let mut failed = Vec::new();
    for (name, check) in checks {
        sock.flush().unwrap();
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| check(&mut sock)));
        let verdict = if r.is_ok() { "ok" } else { "FAILED" };
        println!(
            "check {name} ... {verdict} ({:.2} s)",
            t.elapsed().as_secs_f64()
        );
        if r.is_err() {
            failed.push(*name);
        }
    }
    if !failed.is_empty() {
        let dmesg = Command::new("dmesg").output().unwrap();
        println!("dmesg:\n{}", String::from_utf8_lossy(&dmesg.stdout));
    }
    assert!(failed.is_empty(), "failed checks: {failed:?}");
}

fn fixture(name: &str, bytes: &[u8]) {
    assert!(!bytes.is_empty(), "empty fixture {name}");
    println!("{FIXTURE} {name} {}", to_hex(bytes));
}

/// Decodes captured bytes as the socket would.
fn decode(sock: &IpvsSocket, bytes: &[u8], service_family: Option<Family>) -> Vec<Reply> {
    genl::messages(
        bytes,
        Context {
            family: sock.family(),
            service_family,
        },
    )
    .map(|m| m.unwrap().reply)
    .collect()
}

fn check_info(sock: &mut IpvsSocket) {
    let info = sock.info().unwrap();
    assert_eq!(
        info,
        Info {
            version: 0x010201,
            conn_tab_size: 4096
        }
    );
    let raw = sock.request_raw(&Request::GetInfo).unwrap();
    assert_eq!(
        decode(sock, &raw, None),
        vec![Reply::Info(info), Reply::Ack]
    );
    fixture("info", &raw);
    let raw = sock.request_raw(&Request::GetFamily("IPVS")).unwrap();
    match decode(sock, &raw, None).as_slice() {
        [Reply::Family(f), Reply::Ack] => {
            assert_eq!(f.id, sock.family());
            assert_eq!(f.version, 1);
        }
        other => panic!("GETFAMILY answered {other:?}"),
    }
    fixture("family", &raw);
    assert!(sock.traffic().messages_sent >= 4);
}

/// `ipvsadm -Sn`, normalized: the services sorted (the kernel lists them in hash order),
/// each followed by its real servers, sorted.
fn ipvsadm_sn() -> String {
    let out = Command::new("ipvsadm").arg("-Sn").output().unwrap();
    assert!(out.status.success(), "ipvsadm -Sn: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with("-A") {
            blocks.push((line.to_string(), Vec::new()));
        } else if let Some(b) = blocks.last_mut() {
            b.1.push(line.to_string());
        } else {
            panic!("ipvsadm -Sn: a line before any service: {line}");
        }
    }
    for b in &mut blocks {
        b.1.sort();
    }
    blocks.sort();
    blocks
        .into_iter()
        .flat_map(|(s, d)| std::iter::once(s).chain(d))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn check_table(sock: &mut IpvsSocket) {
    let table = table();
    let ops = ops(&table);
    let before = sock.traffic();
    for op in &ops {
        sock.apply(op).unwrap_or_else(|e| panic!("{e}"));
    }
    let after = sock.traffic();
    assert_eq!(after.messages_sent - before.messages_sent, ops.len() as u64);
    assert_eq!(
        after.datagrams_sent - before.datagrams_sent,
        ops.len() as u64
    );
    let dumped = sock.dump().unwrap();
    assert_tables_eq(&dumped, &table);

    let sn = ipvsadm_sn();
    for l in sn.lines() {
        println!("{IPVSADM} {l}");
    }
    if std::env::var_os("KARS_UPDATE_FIXTURES").is_none() {
        assert_eq!(
            sn, EXPECTED_IPVSADM,
            "ipvsadm -Sn differs from fixtures/ipvsadm-Sn.txt"
        );
    }

    // The captured dumps decode to the same table.
    let raw = sock.request_raw(&Request::GetServices).unwrap();
    let replies = decode(sock, &raw, None);
    assert_eq!(replies.last(), Some(&Reply::Done(None)));
    let services: BTreeMap<ServiceKey, _> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Service(s) => Some((s.service.key, s.service.attrs.clone())),
            _ => None,
        })
        .collect();
    let expected: BTreeMap<ServiceKey, _> = table
        .services
        .iter()
        .map(|(k, s)| (*k, s.attrs.clone()))
        .collect();
    assert_eq!(services, expected);
    fixture("services", &raw);
    for (name, key) in [
        ("dests-nat", nat_service()),
        ("dests-tun", tun_service()),
        ("dests-v6", v6_service()),
    ] {
        let raw = sock.request_raw(&Request::GetDests(&key)).unwrap();
        let dests: BTreeMap<_, _> = decode(sock, &raw, Some(key.family()))
            .into_iter()
            .filter_map(|r| match r {
                Reply::Dest(d) => Some((d.dest.key, d.dest.attrs)),
                _ => None,
            })
            .collect();
        assert_eq!(dests, table.services[&key].dests, "{name}");
        fixture(name, &raw);
    }
    let key = addr_key(Protocol::Udp, "192.0.2.4", 5060);
    let raw = sock.request_raw(&Request::GetService(&key)).unwrap();
    match decode(sock, &raw, None).as_slice() {
        [Reply::Service(s), Reply::Ack] => {
            assert_eq!(s.service.attrs, table.services[&key].attrs);
            assert_eq!(s.service.attrs.pe_name.as_deref(), Some("sip"));
        }
        other => panic!("GET_SERVICE answered {other:?}"),
    }
    fixture("service-one", &raw);
}

fn assert_tables_eq(actual: &Table, expected: &Table) {
    if actual == expected {
        return;
    }
    for (k, s) in &expected.services {
        match actual.services.get(k) {
            None => println!("missing service {k}"),
            Some(a) if a != s => println!("service {k}:\n  actual   {a:?}\n  expected {s:?}"),
            _ => {}
        }
    }
    for k in actual.services.keys() {
        if !expected.services.contains_key(k) {
            println!("extra service {k}");
        }
    }
    panic!("the dumped table differs from the applied one");
}

fn check_batch(sock: &mut IpvsSocket) {
    let table = table();
    let ops = ops(&table);
    let before = sock.traffic();
    let t = Instant::now();
    let results = sock.apply_batch(&ops);
    println!(
        "batch of {} ops: {:.3} s",
        ops.len(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(results.len(), ops.len());
    for r in &results {
        r.as_ref().unwrap();
    }
    let after = sock.traffic();
    assert_eq!(after.messages_sent - before.messages_sent, ops.len() as u64);
    assert_eq!(
        after.datagrams_sent - before.datagrams_sent,
        ops.len().div_ceil(64) as u64
    );
    assert_tables_eq(&sock.dump().unwrap(), &table);

    // A failing op in the middle of a batch fails alone, and so do the ones that need it.
    sock.flush().unwrap();
    let k1 = addr_key(Protocol::Tcp, "192.0.2.60", 80);
    let k2 = addr_key(Protocol::Tcp, "192.0.2.61", 80);
    let svc = |key, s: &str| {
        Op::NewService(Service {
            key,
            attrs: sched(Family::Inet, s),
        })
    };
    let d = |key, a: &str| {
        Op::NewDest(
            key,
            Dest {
                key: dkey(a, 80),
                attrs: dest(Forward::Route, 1),
            },
        )
    };
    let batch = vec![
        svc(k1, "rr"),
        d(k1, "198.51.100.60"),
        svc(k2, "nosuch"),
        d(k2, "198.51.100.61"),
        d(k1, "198.51.100.62"),
    ];
    let results = sock.apply_batch(&batch);
    let errnos: Vec<Option<Errno>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.errno().unwrap()))
        .collect();
    assert_eq!(
        errnos,
        vec![None, None, Some(Errno::ENOENT), Some(Errno::ESRCH), None]
    );
    assert_eq!(
        results[3].as_ref().unwrap_err().to_string(),
        "add real server 198.51.100.61:80 to TCP 192.0.2.61:80: No such process (ESRCH)"
    );
    let t = sock.dump().unwrap();
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.services[&k1].dests.len(), 2);
}

fn check_edit_delete(sock: &mut IpvsSocket) {
    let mut table = table();
    for r in sock.apply_batch(&ops(&table)) {
        r.unwrap();
    }
    // SET_DEST: a weight change.
    let key = nat_service();
    let dk = dkey("198.51.100.10", 80);
    let mut attrs = table.services[&key].dests[&dk];
    attrs.weight = 7;
    attrs.u_thresh = 20;
    sock.apply(&Op::SetDest(key, Dest { key: dk, attrs }))
        .unwrap();
    table
        .services
        .get_mut(&key)
        .unwrap()
        .dests
        .insert(dk, attrs);
    // SET_DEST: from NAT to TUN gue.
    let dk2 = dkey("198.51.100.12", 80);
    let attrs2 = dest(tun(keepalived_ipvs::model::TunnelType::Gue, 7000, 1), 9);
    sock.apply(&Op::SetDest(
        key,
        Dest {
            key: dk2,
            attrs: attrs2,
        },
    ))
    .unwrap();
    table
        .services
        .get_mut(&key)
        .unwrap()
        .dests
        .insert(dk2, attrs2);
    // SET_SERVICE: scheduler and flags (persistent), every flag replaced.
    let skey = addr_key(Protocol::Tcp, "192.0.2.7", 80);
    let sattrs = keepalived_ipvs::model::ServiceAttrs {
        flags: keepalived_ipvs::model::service_flags::PERSISTENT,
        timeout: 120,
        netmask: 0xffff_0000,
        ..sched(Family::Inet, "wlc")
    };
    sock.apply(&Op::SetService(Service {
        key: skey,
        attrs: sattrs.clone(),
    }))
    .unwrap();
    table.services.get_mut(&skey).unwrap().attrs = sattrs;
    assert_tables_eq(&sock.dump().unwrap(), &table);
    // DEL_DEST, DEL_SERVICE (with its destinations).
    let dk3 = dkey("198.51.100.11", 8080);
    sock.apply(&Op::DelDest(key, dk3)).unwrap();
    table.services.get_mut(&key).unwrap().dests.remove(&dk3);
    let v6 = v6_service();
    sock.apply(&Op::DelService(v6)).unwrap();
    table.services.remove(&v6);
    assert_tables_eq(&sock.dump().unwrap(), &table);
    assert_eq!(sock.service(&v6).unwrap(), None);
    let (dests, _) = sock.dests_with_stats(&v6).unwrap();
    assert!(dests.is_empty());
    assert!(sock.service(&key).unwrap().is_some());
    // ZERO of one service and of all.
    sock.zero(Some(&key)).unwrap();
    sock.zero(None).unwrap();
}

fn check_errors(sock: &mut IpvsSocket) {
    let key = nat_service();
    let svc = Service {
        key,
        attrs: sched(Family::Inet, "rr"),
    };
    sock.apply(&Op::NewService(svc.clone())).unwrap();
    let e = sock.apply(&Op::NewService(svc.clone())).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EEXIST));
    assert_eq!(
        e.to_string(),
        "add service TCP 192.0.2.1:80: File exists (EEXIST)"
    );
    let raw = sock.request_raw(&Request::NewService(&svc)).unwrap();
    match decode(sock, &raw, None).as_slice() {
        [Reply::Error(r)] => assert_eq!(r.errno, Errno::EEXIST as i32),
        other => panic!("NEW_SERVICE twice answered {other:?}"),
    }
    fixture("error-eexist", &raw);

    // An unknown scheduler: ENOENT (the kernel tried to load ip_vs_<name>).
    let bad = Service {
        key: addr_key(Protocol::Tcp, "192.0.2.70", 80),
        attrs: sched(Family::Inet, "nosuch"),
    };
    let e = sock.apply(&Op::NewService(bad)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT), "{e}");
    // twos came with Linux 6.2: refused the same way before, accepted after.
    let twos = Service {
        key: addr_key(Protocol::Tcp, "192.0.2.8", 80),
        attrs: sched(Family::Inet, "twos"),
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let deps =
        std::fs::read_to_string(format!("/lib/modules/{}/modules.dep", release.trim())).unwrap();
    let has_twos = deps.contains("/ip_vs_twos.ko");
    match sock.apply(&Op::NewService(twos)) {
        Ok(()) => assert!(has_twos, "twos accepted without its module"),
        Err(e) => {
            assert!(!has_twos, "twos refused with its module: {e}");
            assert_eq!(e.errno(), Some(Errno::ENOENT));
            println!("twos: not in this kernel ({e})");
        }
    }
    // A destination of a missing service: ESRCH.
    let missing = addr_key(Protocol::Udp, "192.0.2.71", 80);
    let d = Dest {
        key: dkey("198.51.100.70", 80),
        attrs: dest(Forward::Masq, 1),
    };
    let e = sock.apply(&Op::NewDest(missing, d)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ESRCH));
    let e = sock.apply(&Op::DelService(missing)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ESRCH));
    assert_eq!(
        e.to_string(),
        "delete service UDP 192.0.2.71:80: No such process (ESRCH)"
    );
    // A missing destination of a service: ENOENT.
    let e = sock.apply(&Op::DelDest(key, d.key)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
    let e = sock.apply(&Op::SetDest(key, d)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
    // A destination twice: EEXIST.
    sock.apply(&Op::NewDest(key, d)).unwrap();
    let e = sock.apply(&Op::NewDest(key, d)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EEXIST));
    // GUE without a port: EINVAL.
    let e = sock
        .apply(&Op::NewDest(
            key,
            Dest {
                key: dkey("198.51.100.71", 80),
                attrs: dest(tun(keepalived_ipvs::model::TunnelType::Gue, 0, 0), 1),
            },
        ))
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL), "{e}");
    // A scheduler name longer than 15 bytes: EINVAL (the attribute policy).
    let e = sock
        .apply(&Op::NewService(Service {
            key: addr_key(Protocol::Tcp, "192.0.2.72", 80),
            attrs: sched(Family::Inet, "a-very-long-scheduler"),
        }))
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL), "{e}");
    // An IPv6 persistence prefix of 0: EINVAL.
    let e = sock
        .apply(&Op::NewService(Service {
            key: addr_key(Protocol::Tcp, "2001:db8::70", 80),
            attrs: keepalived_ipvs::model::ServiceAttrs {
                flags: keepalived_ipvs::model::service_flags::PERSISTENT,
                timeout: 60,
                netmask: 0,
                ..sched(Family::Inet6, "rr")
            },
        }))
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL), "{e}");
    // The socket is still in step after the errors.
    assert_eq!(sock.dump().unwrap().services.len(), 1);
}

fn check_daemons(sock: &mut IpvsSocket) {
    assert_eq!(sock.daemons().unwrap(), vec![]);
    let master = Daemon {
        state: DaemonState::Master,
        mcast_ifn: "dummy0".into(),
        sync_id: 7,
        sync_maxlen: 0,
        mcast_group: None,
        mcast_port: 0,
        mcast_ttl: 0,
    };
    let backup = Daemon {
        state: DaemonState::Backup,
        mcast_ifn: "dummy0".into(),
        sync_id: 9,
        sync_maxlen: 1400,
        mcast_group: Some(ip("239.0.0.5")),
        mcast_port: 8849,
        mcast_ttl: 2,
    };
    sock.new_daemon(&master).unwrap();
    sock.new_daemon(&backup).unwrap();
    let e = sock.new_daemon(&master).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EEXIST), "{e}");
    let daemons = sock.daemons().unwrap();
    println!("daemons: {daemons:?}");
    assert_eq!(daemons.len(), 2);
    // The kernel reports its defaults for what was left at 0: group 224.0.0.81, port 8848,
    // TTL 1 and a message size from the interface's MTU.
    let m = &daemons[0];
    assert_eq!(m.state, DaemonState::Master);
    assert_eq!(
        (
            m.mcast_ifn.as_str(),
            m.sync_id,
            m.mcast_group,
            m.mcast_port,
            m.mcast_ttl
        ),
        ("dummy0", 7, Some(ip("224.0.0.81")), 8848, 1)
    );
    assert!(m.sync_maxlen > 0);
    assert_eq!(daemons[1], backup);
    let raw = sock.request_raw(&Request::GetDaemons).unwrap();
    fixture("daemons", &raw);
    sock.del_daemon(DaemonState::Master).unwrap();
    assert_eq!(sock.daemons().unwrap(), vec![backup]);
    sock.del_daemon(DaemonState::Backup).unwrap();
    assert_eq!(sock.daemons().unwrap(), vec![]);
    let e = sock.del_daemon(DaemonState::Backup).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ESRCH), "{e}");
    // A sync daemon refuses mixed-family tables.
    sock.apply(&Op::NewService(Service {
        key: v6_service(),
        attrs: sched(Family::Inet6, "rr"),
    }))
    .unwrap();
    sock.apply(&Op::NewDest(
        v6_service(),
        Dest {
            key: dkey("198.51.100.40", 443),
            attrs: dest(tun(keepalived_ipvs::model::TunnelType::Ipip, 0, 0), 1),
        },
    ))
    .unwrap();
    let e = sock.new_daemon(&master).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL), "{e}");
}

fn check_timeouts(sock: &mut IpvsSocket) {
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    sock.set_timeouts(&t).unwrap();
    assert_eq!(sock.timeouts().unwrap(), t);
    let raw = sock.request_raw(&Request::GetTimeouts).unwrap();
    assert_eq!(
        decode(sock, &raw, None),
        vec![Reply::Timeouts(t), Reply::Ack]
    );
    fixture("config", &raw);
    // A zero leaves that timeout as it is.
    sock.set_timeouts(&Timeouts {
        tcp: 0,
        tcp_fin: 60,
        udp: 0,
    })
    .unwrap();
    assert_eq!(
        sock.timeouts().unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 60,
            udp: 300
        }
    );
    // The kernel's defaults back.
    sock.set_timeouts(&Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    })
    .unwrap();
}

/// Connections from the VM itself to a virtual service on a dummy interface, forwarded to a
/// local listener: the service's and the destination's counters move.
fn check_stats(sock: &mut IpvsSocket) {
    let run = |cmd: &str| {
        let s = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
        assert!(s.success(), "{cmd}");
    };
    run("ip addr add 192.0.2.100/32 dev dummy0 && ip addr add 192.0.2.101/32 dev dummy0");
    run("mkdir -p /tmp/www && echo hello > /tmp/www/index.html && \
         httpd -p 80 -h /tmp/www");
    let key = addr_key(Protocol::Tcp, "192.0.2.100", 80);
    sock.apply(&Op::NewService(Service {
        key,
        attrs: sched(Family::Inet, "rr"),
    }))
    .unwrap();
    let dk = dkey("192.0.2.101", 80);
    sock.apply(&Op::NewDest(
        key,
        Dest {
            key: dk,
            attrs: dest(Forward::Masq, 1),
        },
    ))
    .unwrap();
    for _ in 0..3 {
        run(
            "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 192.0.2.100 80 | grep -q hello",
        );
    }
    // The kernel sums its per-CPU counters in its estimator, every 2 seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (table, stats) = loop {
        let (table, stats) = sock.dump_with_stats().unwrap();
        if stats[&key].stats.conns == 3 || Instant::now() > deadline {
            break (table, stats);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let fwd = table.services[&key].dests[&dk].forward;
    println!("a local destination is reported with forwarding {fwd:?}");
    let s = &stats[&key];
    println!("service stats {:?}, dest {:?}", s.stats, s.dests[&dk]);
    assert_eq!(s.stats.conns, 3);
    assert!(s.stats.inpkts >= 9 && s.stats.inbytes > 0, "{:?}", s.stats);
    assert!(
        s.stats.outpkts >= 3 && s.stats.outbytes > 0,
        "{:?}",
        s.stats
    );
    assert_eq!(s.dests[&dk].stats.conns, 3);
    let total = s.dests[&dk].conns.active + s.dests[&dk].conns.inactive;
    assert_eq!(total, 3, "{:?}", s.dests[&dk].conns);
    let raw = sock.request_raw(&Request::GetService(&key)).unwrap();
    match decode(sock, &raw, None).as_slice() {
        [Reply::Service(e), Reply::Ack] => assert_eq!(e.stats, s.stats),
        other => panic!("GET_SERVICE answered {other:?}"),
    }
    fixture("stats-service", &raw);
    let raw = sock.request_raw(&Request::GetDests(&key)).unwrap();
    match decode(sock, &raw, Some(Family::Inet)).as_slice() {
        [Reply::Dest(d), Reply::Done(None)] => {
            assert_eq!(d.stats, s.dests[&dk].stats);
            assert_eq!(d.conns, s.dests[&dk].conns);
        }
        other => panic!("GET_DEST answered {other:?}"),
    }
    fixture("stats-dests", &raw);
    sock.zero(Some(&key)).unwrap();
    let (_, stats) = sock.dump_with_stats().unwrap();
    assert_eq!(stats[&key].stats.conns, 0);
    run(
        "killall httpd; ip addr del 192.0.2.100/32 dev dummy0; ip addr del 192.0.2.101/32 dev dummy0",
    );
}

fn check_flush(sock: &mut IpvsSocket) {
    for r in sock.apply_batch(&ops(&table())) {
        r.unwrap();
    }
    assert!(!sock.dump().unwrap().services.is_empty());
    sock.flush().unwrap();
    assert_eq!(sock.dump().unwrap(), Table::default());
    let out = Command::new("ipvsadm").arg("-Sn").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
}
