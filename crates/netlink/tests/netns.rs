//! The API against the kernel, each test in its own network namespace (needs root).
//!
//! A test creates `ip netns add kanl-<pid>-<n>` with a veth pair v0/v1 (up), runs its body
//! in a thread that has entered the namespace with setns (sockets belong to the namespace
//! of the thread that creates them; `setns` moves only the calling thread), and checks the
//! kernel's state with `ip -n <ns> ...`. The namespace is deleted by a guard, also when the
//! test fails. Addresses come from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
//! 2001:db8::/32 only.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_netlink::{
    AddrSpec, Error, Event, Family, Monitor, MonitorError, Outcome, Prefix, RouteSpec, RouteType,
    Rtnl, RuleAction, RuleSpec, format_mac, ipv4_broadcast, names, vmac_mac, vmac_name,
};
use nix::sched::{CloneFlags, setns};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with a veth pair v0 <-> v1, both up; deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "kanl-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns { name };
        ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        ns.ip(&["link", "set", "dev", "v0", "up"]);
        ns.ip(&["link", "set", "dev", "v1", "up"]);
        ns
    }

    /// `ip -n <ns> ARGS`, which must succeed; its output.
    fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f` in a thread inside the namespace; a panic there fails the test (after the
    /// guard has deleted the namespace).
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

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

fn index_of(rtnl: &mut Rtnl, name: &str) -> u32 {
    rtnl.link_by_name(name)
        .expect("get link")
        .unwrap_or_else(|| panic!("no link {name}"))
        .index
}

/// Reads the monitor until `want` has been seen (failing after 5 s); every event read.
fn wait_for(m: &mut Monitor, want: impl Fn(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    loop {
        let evs = m.read().expect("monitor read");
        let found = evs.iter().any(&want);
        seen.extend(evs);
        if found {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "event not seen within 5 s; saw {seen:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn links_of_the_namespace_only() {
    let ns = Netns::new();
    let out = ns.ip(&["-o", "link", "show"]);
    let links = ns.run(|| Rtnl::open().unwrap().links().unwrap());
    let mut names: Vec<_> = links.iter().map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["lo", "v0", "v1"], "{out}");
    let v0 = links.iter().find(|l| l.name == "v0").unwrap();
    let v1 = links.iter().find(|l| l.name == "v1").unwrap();
    assert_eq!(v0.kind.as_deref(), Some("veth"));
    assert_eq!(v0.parent, Some(v1.index));
    assert_eq!(v0.mtu, Some(1500));
    assert!(v0.up(), "{v0:?}");
    // `ip` agrees on the index and the MAC.
    let line = out
        .lines()
        .find(|l| l.contains(" v0@v1:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with(&format!("{}: v0@v1:", v0.index)), "{line}");
    assert!(
        line.contains(&format!("link/ether {}", format_mac(&v0.mac.unwrap()))),
        "{line}"
    );
    let lo = links.iter().find(|l| l.name == "lo").unwrap();
    assert!(!lo.admin_up);
    // By name and by index; a missing link is None.
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let by_name = rtnl.link_by_name("v0").unwrap().unwrap();
        assert_eq!(by_name.index, v0.index);
        assert_eq!(rtnl.link(v0.index).unwrap().unwrap().name, "v0");
        assert_eq!(rtnl.link_by_name("nosuch0").unwrap(), None);
        assert_eq!(rtnl.link(9999).unwrap(), None);
    });
}

#[test]
fn a_timeout_is_reported_and_the_next_call_is_not_confused() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::with_timeout(Duration::ZERO).unwrap();
        let e = rtnl.links().unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "dump links: no answer from the kernel within 0 ms"
        );
        // The dump the kernel did answer is never read: the socket was replaced.
        rtnl.set_timeout(Rtnl::DEFAULT_TIMEOUT);
        let v0 = index_of(&mut rtnl, "v0");
        let a = AddrSpec::new(v0, ip("192.0.2.30"), 24);
        assert_eq!(rtnl.add_address(&a).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.links().unwrap().len(), 3);
    });
}

#[test]
fn ipv4_and_ipv6_addresses_added_and_deleted_idempotently() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let v0 = index_of(&mut rtnl, "v0");

        let mut a4 = AddrSpec::new(v0, ip("192.0.2.10"), 24);
        a4.broadcast = Some(ipv4_broadcast("192.0.2.10".parse().unwrap(), 24, true));
        a4.label = Some("v0:vip".into());
        assert_eq!(rtnl.add_address(&a4).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.add_address(&a4).unwrap(), Outcome::AlreadyPresent);

        let a6 = AddrSpec::new(v0, ip("2001:db8::10"), 64);
        assert!(a6.nodad);
        assert_eq!(rtnl.add_address(&a6).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.add_address(&a6).unwrap(), Outcome::AlreadyPresent);

        let mut host6 = AddrSpec::new(v0, ip("2001:db8::12"), 128);
        host6.preferred_lft = Some(0);
        assert_eq!(rtnl.add_address(&host6).unwrap(), Outcome::Changed);

        let out = ns.ip(&["-o", "addr", "show", "dev", "v0"]);
        assert!(
            out.contains("inet 192.0.2.10/24 brd 192.0.2.255 scope global v0:vip"),
            "{out}"
        );
        assert!(
            out.contains("inet6 2001:db8::10/64 scope global nodad"),
            "{out}"
        );
        assert!(
            out.contains("inet6 2001:db8::12/128 scope global nodad deprecated"),
            "{out}"
        );

        // The dump reads them back.
        let v4 = rtnl.addresses(Some(Family::Inet)).unwrap();
        let got = v4.iter().find(|a| a.addr == ip("192.0.2.10")).unwrap();
        assert_eq!(got.ifindex, v0);
        assert_eq!(got.prefix_len, 24);
        assert_eq!(got.label.as_deref(), Some("v0:vip"));
        assert_eq!(got.broadcast, Some("192.0.2.255".parse().unwrap()));
        assert!(v4.iter().all(|a| a.family() == Family::Inet));
        let v6 = rtnl.addresses(Some(Family::Inet6)).unwrap();
        let got = v6.iter().find(|a| a.addr == ip("2001:db8::10")).unwrap();
        assert!(got.nodad(), "{got:?}");
        assert_eq!(got.prefix_len, 64);
        let all = rtnl.addresses(None).unwrap();
        assert_eq!(all.len(), v4.len() + v6.len());

        assert_eq!(rtnl.del_address(&a4).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.del_address(&a4).unwrap(), Outcome::AlreadyAbsent);
        assert_eq!(rtnl.del_address(&a6).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.del_address(&a6).unwrap(), Outcome::AlreadyAbsent);
        assert_eq!(rtnl.del_address(&host6).unwrap(), Outcome::Changed);
        let out = ns.ip(&["-o", "addr", "show", "dev", "v0"]);
        assert!(!out.contains("192.0.2.10"), "{out}");
        assert!(!out.contains("2001:db8::"), "{out}");

        // A refusal names the request and the errno.
        let gone = AddrSpec::new(9999, ip("192.0.2.11"), 24);
        let e = rtnl.add_address(&gone).unwrap_err();
        assert!(matches!(e, Error::Kernel { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "add address 192.0.2.11/24 on ifindex 9999: ENODEV: No such device"
        );
        // An impossible request is refused before it is sent.
        let mut bad = AddrSpec::new(v0, ip("2001:db8::13"), 64);
        bad.label = Some("v0:x".into());
        assert_eq!(
            rtnl.add_address(&bad).unwrap_err().to_string(),
            "add address 2001:db8::13/64 on ifindex 3: a label is for IPv4 addresses only"
                .replace("ifindex 3", &format!("ifindex {v0}"))
        );
        // The socket still works after the refusals.
        assert_eq!(rtnl.add_address(&a4).unwrap(), Outcome::Changed);
    });
}

#[test]
fn vmac_created_private_without_link_local_and_deleted() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let v0 = index_of(&mut rtnl, "v0");
        let name = vmac_name(None, 51).unwrap();
        let mac = vmac_mac(Family::Inet, 51);
        assert_eq!(rtnl.create_vmac(v0, &name, mac).unwrap(), Outcome::Changed);
        assert_eq!(
            rtnl.create_vmac(v0, &name, mac).unwrap(),
            Outcome::AlreadyPresent
        );
        let link = rtnl.link_by_name(&name).unwrap().unwrap();
        assert!(!link.admin_up, "created down");
        rtnl.set_addr_gen_mode_none(link.index).unwrap();
        rtnl.set_link_up(link.index).unwrap();

        let out = ns.ip(&["-d", "link", "show", "dev", "vrrp.51"]);
        assert!(out.contains("vrrp.51@v0:"), "{out}");
        assert!(out.contains("link/ether 00:00:5e:00:01:33"), "{out}");
        assert!(out.contains("macvlan mode private"), "{out}");
        assert!(out.contains("addrgenmode none"), "{out}");
        assert!(out.contains(",UP,"), "{out}");

        let link = rtnl.link_by_name(&name).unwrap().unwrap();
        assert_eq!(link.kind.as_deref(), Some("macvlan"));
        assert_eq!(link.parent, Some(v0));
        assert_eq!(link.mac, Some(mac));
        assert_eq!(link.macvlan_mode, Some(1));
        assert_eq!(link.addr_gen_mode, Some(1));
        assert!(link.up(), "{link:?}");
        // addrgenmode none: no IPv6 link-local address appeared.
        let out = ns.ip(&["-6", "-o", "addr", "show", "dev", "vrrp.51"]);
        assert!(!out.contains("fe80:"), "{out}");

        // An IPv6 VMAC on the same base.
        let name6 = vmac_name(Some("vmac6.52"), 52).unwrap();
        let mac6 = vmac_mac(Family::Inet6, 52);
        assert_eq!(
            rtnl.create_vmac(v0, &name6, mac6).unwrap(),
            Outcome::Changed
        );
        let out = ns.ip(&["link", "show", "dev", "vmac6.52"]);
        assert!(out.contains("link/ether 00:00:5e:00:02:34"), "{out}");

        assert_eq!(rtnl.delete_link(link.index).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.link_by_name(&name).unwrap(), None);
        assert_eq!(
            rtnl.delete_link(link.index).unwrap(),
            Outcome::AlreadyAbsent
        );
        let six = index_of(&mut rtnl, "vmac6.52");
        assert_eq!(rtnl.delete_link(six).unwrap(), Outcome::Changed);
        let out = ns.ip(&["-o", "link", "show"]);
        assert!(
            !out.contains("vrrp.51") && !out.contains("vmac6.52"),
            "{out}"
        );
    });
}

#[test]
fn routes_added_and_deleted_idempotently() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let v0 = index_of(&mut rtnl, "v0");
        rtnl.add_address(&AddrSpec::new(v0, ip("192.0.2.1"), 24))
            .unwrap();
        rtnl.add_address(&AddrSpec::new(v0, ip("2001:db8::1"), 64))
            .unwrap();

        let mut r4 = RouteSpec::new(Prefix::new(ip("198.51.100.0"), 24));
        r4.via = Some(ip("192.0.2.2"));
        r4.dev = Some(v0);
        r4.src = Some(ip("192.0.2.1"));
        r4.table = 100;
        r4.metric = Some(10);
        r4.protocol = Some(names::PROTO_KEEPALIVED);
        assert_eq!(rtnl.add_route(&r4).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.add_route(&r4).unwrap(), Outcome::AlreadyPresent);

        let mut bh = RouteSpec::new(Prefix::new(ip("203.0.113.0"), 24));
        bh.route_type = RouteType::Blackhole;
        bh.table = 1000;
        assert_eq!(rtnl.add_route(&bh).unwrap(), Outcome::Changed);

        let mut unreach = RouteSpec::new(Prefix::default_route(Family::Inet));
        unreach.route_type = RouteType::Unreachable;
        unreach.table = 100;
        unreach.metric = Some(500);
        assert_eq!(rtnl.add_route(&unreach).unwrap(), Outcome::Changed);

        let mut r6 = RouteSpec::new(Prefix::new(ip("2001:db8:1::"), 48));
        r6.via = Some(ip("2001:db8::2"));
        r6.dev = Some(v0);
        assert_eq!(rtnl.add_route(&r6).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.add_route(&r6).unwrap(), Outcome::AlreadyPresent);

        let t100 = ns.ip(&["route", "show", "table", "100"]);
        assert!(
            t100.contains(
                "198.51.100.0/24 via 192.0.2.2 dev v0 proto keepalived src 192.0.2.1 metric 10"
            ),
            "{t100}"
        );
        assert!(t100.contains("unreachable default metric 500"), "{t100}");
        let t1000 = ns.ip(&["route", "show", "table", "1000"]);
        assert!(t1000.contains("blackhole 203.0.113.0/24"), "{t1000}");
        let main6 = ns.ip(&["-6", "route", "show"]);
        assert!(
            main6.contains("2001:db8:1::/48 via 2001:db8::2 dev v0 metric 1024"),
            "{main6}"
        );

        for r in [&r4, &bh, &unreach, &r6] {
            assert_eq!(rtnl.del_route(r).unwrap(), Outcome::Changed, "{r}");
            assert_eq!(rtnl.del_route(r).unwrap(), Outcome::AlreadyAbsent, "{r}");
        }
        assert_eq!(ns.ip(&["route", "show", "table", "100"]), "");
        assert_eq!(ns.ip(&["route", "show", "table", "1000"]), "");
        let main6 = ns.ip(&["-6", "route", "show"]);
        assert!(!main6.contains("2001:db8:1::"), "{main6}");

        // Refused before sending.
        let mut bad = RouteSpec::new(Prefix::new(ip("198.51.100.0"), 24));
        bad.via = Some(ip("2001:db8::2"));
        let e = rtnl.add_route(&bad).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        // Refused by the kernel: a gateway that is not on a connected network.
        let mut far = RouteSpec::new(Prefix::new(ip("198.51.100.0"), 24));
        far.via = Some(ip("203.0.113.1"));
        let e = rtnl.add_route(&far).unwrap_err();
        assert!(matches!(e, Error::Kernel { .. }), "{e:?}");
    });
}

#[test]
fn rules_added_and_deleted_idempotently() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let mut r = RuleSpec::new(Family::Inet, RuleAction::Table(100));
        r.from = Some(Prefix::new(ip("192.0.2.0"), 24));
        r.to = Some(Prefix::new(ip("198.51.100.0"), 24));
        r.iif = Some("v0".into());
        r.oif = Some("v1".into());
        r.priority = Some(100);
        r.fwmark = Some(0x10);
        r.fwmask = Some(0xff);
        r.protocol = Some(names::PROTO_KEEPALIVED);
        assert_eq!(rtnl.add_rule(&r).unwrap(), Outcome::Changed);
        assert_eq!(rtnl.add_rule(&r).unwrap(), Outcome::AlreadyPresent);

        let mut r6 = RuleSpec::new(Family::Inet6, RuleAction::Table(1000));
        r6.from = Some(Prefix::new(ip("2001:db8::"), 32));
        r6.priority = Some(300);
        assert_eq!(rtnl.add_rule(&r6).unwrap(), Outcome::Changed);

        let mut bh = RuleSpec::new(Family::Inet, RuleAction::Blackhole);
        bh.invert = true;
        bh.from = Some(Prefix::new(ip("203.0.113.0"), 24));
        bh.priority = Some(500);
        assert_eq!(rtnl.add_rule(&bh).unwrap(), Outcome::Changed);

        let rules = ns.ip(&["rule", "show"]);
        assert!(
            rules.contains(
                "100:\tfrom 192.0.2.0/24 to 198.51.100.0/24 fwmark 0x10/0xff iif v0 oif v1 \
                 lookup 100 proto keepalived"
            ),
            "{rules}"
        );
        assert!(
            rules.contains("500:\tnot from 203.0.113.0/24 blackhole"),
            "{rules}"
        );
        let rules6 = ns.ip(&["-6", "rule", "show"]);
        assert!(
            rules6.contains("300:\tfrom 2001:db8::/32 lookup 1000"),
            "{rules6}"
        );

        for x in [&r, &r6, &bh] {
            assert_eq!(rtnl.del_rule(x).unwrap(), Outcome::Changed, "{x}");
            assert_eq!(rtnl.del_rule(x).unwrap(), Outcome::AlreadyAbsent, "{x}");
        }
        let rules = ns.ip(&["rule", "show"]);
        assert!(
            !rules.contains("100:") && !rules.contains("500:"),
            "{rules}"
        );
        assert!(!ns.ip(&["-6", "rule", "show"]).contains("300:"));
    });
}

#[test]
fn monitor_sees_links_and_addresses_change() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        let mut m = Monitor::open(1 << 20).unwrap();
        m.sync_links(&rtnl.links().unwrap());
        let v0 = index_of(&mut rtnl, "v0");
        assert_eq!(m.read().unwrap(), vec![], "nothing happened yet");

        ns.ip(&["link", "set", "dev", "v0", "down"]);
        let seen = wait_for(&mut m, |e| {
            *e == Event::LinkDown {
                index: v0,
                name: "v0".into(),
            }
        });
        assert!(
            !seen.iter().any(|e| matches!(e, Event::LinkUp { .. })),
            "{seen:?}"
        );
        ns.ip(&["link", "set", "dev", "v0", "up"]);
        wait_for(&mut m, |e| {
            *e == Event::LinkUp {
                index: v0,
                name: "v0".into(),
            }
        });

        ns.ip(&["addr", "add", "192.0.2.50/24", "dev", "v0"]);
        wait_for(&mut m, |e| {
            *e == Event::AddrAdded {
                ifindex: v0,
                addr: ip("192.0.2.50"),
                prefix: 24,
            }
        });
        ns.ip(&["addr", "del", "192.0.2.50/24", "dev", "v0"]);
        wait_for(&mut m, |e| {
            *e == Event::AddrRemoved {
                ifindex: v0,
                addr: ip("192.0.2.50"),
                prefix: 24,
            }
        });
        ns.ip(&["addr", "add", "2001:db8::50/64", "dev", "v0", "nodad"]);
        ns.ip(&["addr", "del", "2001:db8::50/64", "dev", "v0"]);
        wait_for(&mut m, |e| {
            *e == Event::AddrRemoved {
                ifindex: v0,
                addr: ip("2001:db8::50"),
                prefix: 64,
            }
        });

        ns.ip(&["link", "add", "v2", "type", "veth", "peer", "name", "v3"]);
        let seen = wait_for(
            &mut m,
            |e| matches!(e, Event::LinkNew { name, .. } if name == "v2"),
        );
        let v2 = seen
            .iter()
            .find_map(|e| match e {
                Event::LinkNew { index, name, up } if name == "v2" => {
                    assert!(!up);
                    Some(*index)
                }
                _ => None,
            })
            .unwrap();
        ns.ip(&["link", "set", "dev", "v2", "name", "lan2"]);
        wait_for(&mut m, |e| {
            *e == Event::LinkRenamed {
                index: v2,
                old: "v2".into(),
                new: "lan2".into(),
            }
        });
        ns.ip(&["link", "del", "dev", "lan2"]);
        wait_for(&mut m, |e| {
            *e == Event::LinkDel {
                index: v2,
                name: "lan2".into(),
            }
        });
    });
}

#[test]
fn monitor_reports_an_overrun_and_stays_usable() {
    let ns = Netns::new();
    ns.run(|| {
        let mut rtnl = Rtnl::open().unwrap();
        // The smallest buffer the kernel grants.
        let mut m = Monitor::open(1).unwrap();
        let fd = m.as_raw_fd();
        let granted = m.recv_buffer().unwrap();
        assert!(granted < 16 * 1024, "granted {granted}");
        m.sync_links(&rtnl.links().unwrap());
        let v0 = index_of(&mut rtnl, "v0");

        // 500 addresses added and deleted while the monitor is not read: about 1000
        // notifications for a buffer of a few.
        let specs: Vec<_> = (1..=500u32)
            .map(|i| AddrSpec::new(v0, ip(&format!("2001:db8:1::{i:x}")), 128))
            .collect();
        for s in &specs {
            assert_eq!(rtnl.add_address(s).unwrap(), Outcome::Changed);
        }
        for s in &specs {
            assert_eq!(rtnl.del_address(s).unwrap(), Outcome::Changed);
        }
        match m.read() {
            Err(MonitorError::Overrun) => {}
            other => panic!("expected an overrun, got {other:?}"),
        }
        // The queue was discarded: nothing stale comes after the overrun; the descriptor
        // registered with mio is the same.
        assert_eq!(m.read().unwrap(), vec![]);
        assert_eq!(m.as_raw_fd(), fd);

        // Grow the buffer (a few notifications overflow the smallest one), resynchronise,
        // and carry on with the same socket.
        assert!(m.set_recv_buffer(1 << 20).unwrap() >= 1 << 20);
        m.sync_links(&rtnl.links().unwrap());
        ns.ip(&["link", "set", "dev", "v0", "down"]);
        wait_for(&mut m, |e| {
            *e == Event::LinkDown {
                index: v0,
                name: "v0".into(),
            }
        });
    });
}
