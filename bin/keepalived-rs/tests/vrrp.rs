//! VRRP on the wire: keepalived-rs daemons (and Debian's keepalived as a peer) in network
//! namespaces joined by a bridge, with real adverts, real VIPs and real gratuitous ARP.
//!
//! Each test builds its own lab (`krs-<tag>-<pid>-<n>` namespaces: a LAN namespace holding a
//! bridge, one namespace per router and one client, veth pairs into the bridge), removed by
//! Drop guards even when the test fails. Addresses: 192.0.2.0/24 and 2001:db8::/64.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

const T: Duration = Duration::from_secs(15);

/// A LAN: a bridge in its own namespace, and hosts attached to it with a veth each. The
/// namespaces go on drop (hosts first: deleting a host deletes its veth pair).
struct Lab {
    hosts: Vec<Netns>,
    _lan: Netns,
}

impl Lab {
    /// A bridge and `n` hosts; host i gets 192.0.2.(i+1)/24 and 2001:db8::(i+1)/64 on
    /// `eth0`.
    fn new(tag: &str, n: usize) -> Lab {
        let lan = Netns::new(&format!("{tag}-lan"));
        run(
            "ip",
            &["-n", &lan.name, "link", "add", "br0", "type", "bridge"],
        );
        run("ip", &["-n", &lan.name, "link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        for i in 0..n {
            let h = Netns::new(&format!("{tag}-h{i}"));
            let port = format!("p{i}");
            run(
                "ip",
                &[
                    "-n", &lan.name, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &h.name,
                ],
            );
            run(
                "ip",
                &["-n", &lan.name, "link", "set", &port, "master", "br0", "up"],
            );
            let v4 = format!("192.0.2.{}/24", i + 1);
            let v6 = format!("2001:db8::{}/64", i + 1);
            run("ip", &["-n", &h.name, "addr", "add", &v4, "dev", "eth0"]);
            run(
                "ip",
                &["-n", &h.name, "addr", "add", &v6, "dev", "eth0", "nodad"],
            );
            run("ip", &["-n", &h.name, "link", "set", "eth0", "up"]);
            hosts.push(h);
        }
        Lab { hosts, _lan: lan }
    }

    fn ns(&self, i: usize) -> &Netns {
        &self.hosts[i]
    }

    /// The addresses on `eth0` of host i.
    fn addrs(&self, i: usize) -> String {
        run(
            "ip",
            &[
                "-n",
                &self.hosts[i].name,
                "-o",
                "addr",
                "show",
                "dev",
                "eth0",
            ],
        )
    }

    fn has(&self, i: usize, addr: &str) -> bool {
        self.addrs(i).contains(&format!(" {addr}/"))
    }

    /// A veth pair `a`/`b` inside host i, both up: `a` can be tracked, and setting `b`
    /// down takes `a`'s carrier away.
    fn veth_pair(&self, i: usize, a: &str, b: &str) {
        let ns = &self.hosts[i].name;
        run(
            "ip",
            &[
                "-n", ns, "link", "add", a, "type", "veth", "peer", "name", b,
            ],
        );
        run("ip", &["-n", ns, "link", "set", a, "up"]);
        run("ip", &["-n", ns, "link", "set", b, "up"]);
    }

    fn link(&self, i: usize, up: bool) {
        run(
            "ip",
            &[
                "-n",
                &self.hosts[i].name,
                "link",
                "set",
                "eth0",
                if up { "up" } else { "down" },
            ],
        );
    }
}

/// A command's output, or nothing when it fails (e.g. a device that does not exist yet).
fn try_run(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A keepalived.conf with one instance on eth0.
fn conf(state: &str, prio: u8, vrid: u8, extra: &str, vip: &str) -> String {
    format!(
        "global_defs {{\n    script_user nobody\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    \
         interface eth0\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int 1\n{extra}    \
         virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

/// A keepalived-rs daemon on host i of the lab.
fn start(lab: &Lab, i: usize, dir: &TempDir, text: &str) -> Daemon {
    let conf = dir.write(&format!("r{i}.conf"), text);
    Launch::new(lab.ns(i), &conf, &dir.join(&format!("run{i}"))).start()
}

/// Debian's keepalived on host i (foreground, logging to stderr), killed on drop.
struct Keepalived(Child);

impl Keepalived {
    fn start(lab: &Lab, i: usize, dir: &TempDir, text: &str) -> Keepalived {
        let conf = dir.write(&format!("ka{i}.conf"), text);
        let pid = dir.join(&format!("ka{i}.pid"));
        let vpid = dir.join(&format!("ka{i}-vrrp.pid"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ns(i).name,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
            ])
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(&pid)
            .arg("-r")
            .arg(&vpid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("keepalived (Debian package) must be installed");
        Keepalived(child)
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        let _ = poll_until(Duration::from_secs(5), || self.0.try_wait().ok().flatten());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_vip(lab: &Lab, i: usize, vip: &str, what: &str, d: &[&Daemon]) {
    if poll_until(T, || lab.has(i, vip).then_some(())).is_none() {
        let logs: Vec<String> = d.iter().map(|d| d.log()).collect();
        panic!(
            "{what}: {vip} never appeared on host {i}\naddresses: {}\nlogs:\n{}",
            lab.addrs(i),
            logs.join("\n-----\n")
        );
    }
}

#[test]
fn the_higher_priority_router_becomes_master_and_the_backup_takes_over_when_its_link_fails() {
    let lab = Lab::new("fo", 2);
    let dir = TempDir::new("fo");
    let vip = "192.0.2.10";
    let a = start(&lab, 0, &dir, &conf("MASTER", 150, 51, "", "192.0.2.10/24"));
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 51, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, vip, "election", &[&a, &b]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !lab.has(1, vip),
        "the backup holds the VIP too:\n{}",
        lab.addrs(1)
    );
    lab.link(0, false);
    wait_vip(
        &lab,
        1,
        vip,
        "failover after the master's link went down",
        &[&a, &b],
    );
    b.wait_for_log("VRRP instance VI_1 is now Master", T);
    a.wait_for_log("VRRP instance VI_1 is now Fault", T);
    // The link comes back: the higher priority preempts.
    lab.link(0, true);
    wait_vip(&lab, 0, vip, "preemption", &[&a, &b]);
    let gone = poll_until(T, || (!lab.has(1, vip)).then_some(()));
    assert!(
        gone.is_some(),
        "the old backup kept the VIP:\n{}",
        lab.addrs(1)
    );
}

#[test]
fn sigterm_of_the_master_hands_over_with_priority_zero() {
    let lab = Lab::new("prio0", 2);
    let dir = TempDir::new("prio0");
    let vip = "192.0.2.10";
    let mut a = start(&lab, 0, &dir, &conf("MASTER", 150, 52, "", "192.0.2.10/24"));
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 52, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, vip, "election", &[&a, &b]);
    let t0 = std::time::Instant::now();
    a.signal(Signal::SIGTERM);
    a.wait_exit(T);
    wait_vip(&lab, 1, vip, "takeover after priority 0", &[&b]);
    // Skew_Time for priority 100 at advert_int 1 is 0.61 s; far less than the 3.6 s
    // Master_Down_Interval a silent master would cost.
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "takeover took {:?}",
        t0.elapsed()
    );
    assert!(!lab.has(0, vip), "the stopped master kept its VIP");
}

#[test]
fn ipv6_vrrpv3_elects_and_fails_over() {
    let lab = Lab::new("v6", 2);
    let dir = TempDir::new("v6");
    let vip = "2001:db8::10";
    let a = start(
        &lab,
        0,
        &dir,
        &conf("MASTER", 150, 53, "", "2001:db8::10/64"),
    );
    let b = start(
        &lab,
        1,
        &dir,
        &conf("BACKUP", 100, 53, "", "2001:db8::10/64"),
    );
    wait_vip(&lab, 0, vip, "IPv6 election", &[&a, &b]);
    lab.link(0, false);
    wait_vip(&lab, 1, vip, "IPv6 failover", &[&a, &b]);
}

#[test]
fn unicast_peers_elect_and_fail_over() {
    let lab = Lab::new("uni", 2);
    let dir = TempDir::new("uni");
    let vip = "192.0.2.10";
    let peer = |p: &str| format!("    unicast_peer {{\n        {p}\n    }}\n");
    let a = start(
        &lab,
        0,
        &dir,
        &conf("MASTER", 150, 54, &peer("192.0.2.2"), "192.0.2.10/24"),
    );
    let b = start(
        &lab,
        1,
        &dir,
        &conf("BACKUP", 100, 54, &peer("192.0.2.1"), "192.0.2.10/24"),
    );
    wait_vip(&lab, 0, vip, "unicast election", &[&a, &b]);
    lab.link(0, false);
    wait_vip(&lab, 1, vip, "unicast failover", &[&a, &b]);
}

/// keepalived-rs and keepalived on one LAN, each as master in turn.
fn interop(tag: &str, extra: &str, vip_cidr: &str, vip: &str, vrid: u8) {
    let lab = Lab::new(tag, 2);
    let dir = TempDir::new(tag);
    // keepalived-rs MASTER, keepalived BACKUP.
    {
        let a = start(&lab, 0, &dir, &conf("MASTER", 150, vrid, extra, vip_cidr));
        let _k = Keepalived::start(&lab, 1, &dir, &conf("BACKUP", 100, vrid, extra, vip_cidr));
        wait_vip(&lab, 0, vip, "keepalived-rs master", &[&a]);
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !lab.has(1, vip),
            "keepalived did not accept keepalived-rs's adverts"
        );
        lab.link(0, false);
        wait_vip(&lab, 1, vip, "keepalived takes over", &[&a]);
        lab.link(0, true);
        wait_vip(&lab, 0, vip, "keepalived-rs preempts back", &[&a]);
    }
    // keepalived MASTER, keepalived-rs BACKUP.
    std::thread::sleep(Duration::from_secs(1));
    {
        let _k = Keepalived::start(&lab, 0, &dir, &conf("MASTER", 150, vrid, extra, vip_cidr));
        let poll = poll_until(T, || lab.has(0, vip).then_some(()));
        assert!(poll.is_some(), "keepalived never became master");
        let b = start(&lab, 1, &dir, &conf("BACKUP", 100, vrid, extra, vip_cidr));
        b.wait_for_log("VRRP instance VI_1 is now Backup", T);
        std::thread::sleep(Duration::from_secs(4));
        assert!(
            !lab.has(1, vip),
            "keepalived-rs did not accept keepalived's adverts:\n{}",
            b.log()
        );
        lab.link(0, false);
        wait_vip(
            &lab,
            1,
            vip,
            "keepalived-rs takes over from keepalived",
            &[&b],
        );
    }
}

#[test]
fn interop_with_keepalived_vrrpv2_pass_auth() {
    let auth = "    version 2\n    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n";
    interop("iov2", auth, "192.0.2.10/24", "192.0.2.10", 61);
}

#[test]
fn interop_with_keepalived_vrrpv3_ipv4() {
    interop("iov3", "    version 3\n", "192.0.2.10/24", "192.0.2.10", 62);
}

#[test]
fn interop_with_keepalived_vrrpv3_ipv6() {
    interop(
        "iov6",
        "    version 3\n",
        "2001:db8::10/64",
        "2001:db8::10",
        63,
    );
}

#[test]
fn a_vip_deleted_by_someone_else_is_added_back() {
    let lab = Lab::new("readd", 1);
    let dir = TempDir::new("readd");
    let a = start(&lab, 0, &dir, &conf("MASTER", 150, 55, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, "192.0.2.10", "election", &[&a]);
    run(
        "ip",
        &[
            "-n",
            &lab.ns(0).name,
            "addr",
            "del",
            "192.0.2.10/24",
            "dev",
            "eth0",
        ],
    );
    a.wait_for_log("was removed by someone else while MASTER", T);
    wait_vip(&lab, 0, "192.0.2.10", "the VIP added back", &[&a]);
}

#[test]
fn a_reload_with_the_same_file_or_one_changed_instance_causes_no_transition() {
    let lab = Lab::new("reload", 1);
    let dir = TempDir::new("reload");
    let two = |p2: u8| {
        conf("MASTER", 150, 58, "", "192.0.2.10/24")
            + &conf("MASTER", p2, 59, "", "192.0.2.11/24")
                .replace("global_defs {\n    script_user nobody\n}\n", "")
                .replace("VI_1", "VI_2")
    };
    let conf_path = dir.write("r0.conf", &two(150));
    let a = Launch::new(lab.ns(0), &conf_path, &dir.join("run0")).start();
    wait_vip(&lab, 0, "192.0.2.10", "VI_1 master", &[&a]);
    wait_vip(&lab, 0, "192.0.2.11", "VI_2 master", &[&a]);
    let transitions = a.lines_with("is now").len();
    // The same file.
    a.signal(Signal::SIGHUP);
    a.wait_for_log("Reload complete (generation 2)", T);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(a.lines_with("is now").len(), transitions, "{}", a.log());
    // VI_2's priority changes: it stays MASTER, VI_1 is untouched.
    std::fs::write(&conf_path, two(140)).expect("write");
    a.signal(Signal::SIGHUP);
    a.wait_for_log("Reload complete (generation 3)", T);
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<String> = a.lines_with("is now");
    assert!(
        after.len() == transitions
            || after[transitions..]
                .iter()
                .all(|l| l.contains("is now Master")),
        "unexpected transitions after the reload:\n{}",
        a.log()
    );
    assert!(
        lab.has(0, "192.0.2.10") && lab.has(0, "192.0.2.11"),
        "{}",
        lab.addrs(0)
    );
}

#[test]
fn track_interface_moves_mastership() {
    let lab = Lab::new("trackif", 2);
    let dir = TempDir::new("trackif");
    let vip = "192.0.2.10";
    // A second link on the master, tracked with weight 0: down means FAULT.
    let ns0 = &lab.ns(0).name;
    lab.veth_pair(0, "up0", "up1");
    let track = "    track_interface {\n        up0\n    }\n";
    let a = start(
        &lab,
        0,
        &dir,
        &conf("MASTER", 150, 60, track, "192.0.2.10/24"),
    );
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 60, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, vip, "election", &[&a, &b]);
    run("ip", &["-n", ns0, "link", "set", "up1", "down"]);
    a.wait_for_log("VRRP instance VI_1 is now Fault", T);
    wait_vip(
        &lab,
        1,
        vip,
        "takeover when the tracked interface failed",
        &[&a, &b],
    );
    run("ip", &["-n", ns0, "link", "set", "up1", "up"]);
    wait_vip(
        &lab,
        0,
        vip,
        "back when the tracked interface recovered",
        &[&a, &b],
    );
}

#[test]
fn a_sync_group_moves_together() {
    let lab = Lab::new("sync", 2);
    let dir = TempDir::new("sync");
    let ns0 = &lab.ns(0).name;
    lab.veth_pair(0, "up0", "up1");
    let node = |state: &str, prio: u8, track: &str| {
        let head = "global_defs {\n    script_user nobody\n}\nvrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n";
        let body = |name: &str, vrid: u8, vip: &str, track: &str| {
            format!(
                "vrrp_instance {name} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    \
                 priority {prio}\n    advert_int 1\n{track}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
            )
        };
        format!(
            "{head}{}{}",
            body("VI_1", 64, "192.0.2.10/24", track),
            body("VI_2", 65, "192.0.2.11/24", "")
        )
    };
    let track = "    track_interface {\n        up0\n    }\n";
    let a = start(&lab, 0, &dir, &node("MASTER", 150, track));
    let b = start(&lab, 1, &dir, &node("BACKUP", 100, ""));
    wait_vip(&lab, 0, "192.0.2.10", "VI_1 master", &[&a, &b]);
    wait_vip(&lab, 0, "192.0.2.11", "VI_2 master", &[&a, &b]);
    a.wait_for_log("VRRP sync group G is now Master", T);
    // Only VI_1 tracks up0; the group takes VI_2 along.
    run("ip", &["-n", ns0, "link", "set", "up1", "down"]);
    wait_vip(&lab, 1, "192.0.2.10", "VI_1 on the backup", &[&a, &b]);
    wait_vip(
        &lab,
        1,
        "192.0.2.11",
        "VI_2 on the backup with its group",
        &[&a, &b],
    );
    a.wait_for_log("VRRP sync group G is now Fault", T);
    let gone = poll_until(T, || {
        (!lab.has(0, "192.0.2.10") && !lab.has(0, "192.0.2.11")).then_some(())
    });
    assert!(
        gone.is_some(),
        "the old master kept a VIP:\n{}",
        lab.addrs(0)
    );
}

#[test]
fn use_vmac_gives_the_vip_the_virtual_mac_and_only_the_vmac_answers() {
    let lab = Lab::new("vmac", 3);
    let dir = TempDir::new("vmac");
    let vip = "192.0.2.10";
    let vmac = "    use_vmac\n";
    let mut a = start(
        &lab,
        0,
        &dir,
        &conf("MASTER", 150, 66, vmac, "192.0.2.10/24"),
    );
    let b = start(
        &lab,
        1,
        &dir,
        &conf("BACKUP", 100, 66, vmac, "192.0.2.10/24"),
    );
    let ns0 = &lab.ns(0).name;
    let on_vmac = || try_run("ip", &["-n", ns0, "-o", "addr", "show", "dev", "vrrp.66"]);
    let placed = poll_until(T, || on_vmac().contains(" 192.0.2.10/").then_some(()));
    assert!(
        placed.is_some(),
        "the VIP is not on vrrp.66:\n{}\n{}",
        on_vmac(),
        a.log()
    );
    let link = run("ip", &["-n", ns0, "-d", "link", "show", "dev", "vrrp.66"]);
    assert!(link.contains("00:00:5e:00:01:42"), "{link}");
    assert!(link.contains("macvlan mode private"), "{link}");
    // The client resolves the VIP to the virtual MAC (the base interface keeps quiet).
    let client = &lab.ns(2).name;
    run("ip", &["-n", client, "neigh", "flush", "dev", "eth0"]);
    let pinged = poll_until(T, || {
        Command::new("ip")
            .args(["netns", "exec", client, "ping", "-c", "1", "-W", "1", vip])
            .stdout(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
    });
    assert!(pinged.is_some(), "the client cannot reach the VIP");
    let neigh = run("ip", &["-n", client, "neigh", "show", vip]);
    assert!(
        neigh.contains("00:00:5e:00:01:42"),
        "the client's neighbour entry: {neigh}\nlinks of the routers:\n{}\n{}\naddresses of the backup:\n{}\nmaster log:\n{}\nbackup log:\n{}",
        try_run("ip", &["-n", ns0, "-o", "link"]),
        try_run("ip", &["-n", &lab.ns(1).name, "-o", "link"]),
        try_run("ip", &["-n", &lab.ns(1).name, "-o", "addr"]),
        a.log(),
        b.log()
    );
    let arp_ignore = run(
        "ip",
        &[
            "netns",
            "exec",
            ns0,
            "cat",
            "/proc/sys/net/ipv4/conf/eth0/arp_ignore",
        ],
    );
    assert_eq!(arp_ignore.trim(), "1", "arp_ignore on the base interface");
    // Failover moves the VIP to the backup's VMAC, with the same MAC.
    lab.link(0, false);
    let ns1 = &lab.ns(1).name;
    let moved = poll_until(T, || {
        try_run("ip", &["-n", ns1, "-o", "addr", "show", "dev", "vrrp.66"])
            .contains(" 192.0.2.10/")
            .then_some(())
    });
    assert!(
        moved.is_some(),
        "the VIP did not move to the backup's VMAC:\n{}",
        b.log()
    );
    lab.link(0, true);
    // A clean stop removes the VMAC and restores arp_ignore.
    a.signal(Signal::SIGTERM);
    a.wait_exit(T);
    let links = run("ip", &["-n", ns0, "-o", "link"]);
    assert!(
        !links.contains("vrrp.66"),
        "the VMAC is still there:\n{links}"
    );
    let arp_ignore = run(
        "ip",
        &[
            "netns",
            "exec",
            ns0,
            "cat",
            "/proc/sys/net/ipv4/conf/eth0/arp_ignore",
        ],
    );
    assert_eq!(
        arp_ignore.trim(),
        "0",
        "arp_ignore restored on the base interface"
    );
}

#[test]
fn virtual_routes_and_rules_follow_the_master_and_static_addresses_are_installed() {
    let lab = Lab::new("routes", 2);
    let dir = TempDir::new("routes");
    let extra = "    virtual_routes {\n        198.51.100.0/24 via 192.0.2.254 dev eth0\n    }\n    \
                 virtual_rules {\n        from 192.0.2.10 table 100\n    }\n";
    let statics = "static_ipaddress {\n    203.0.113.1/32 dev eth0\n}\n";
    let mut a = start(
        &lab,
        0,
        &dir,
        &(conf("MASTER", 150, 67, extra, "192.0.2.10/24") + statics),
    );
    let b = start(
        &lab,
        1,
        &dir,
        &conf("BACKUP", 100, 67, extra, "192.0.2.10/24"),
    );
    wait_vip(&lab, 0, "192.0.2.10", "election", &[&a, &b]);
    let ns0 = &lab.ns(0).name;
    let ns1 = &lab.ns(1).name;
    let route = |ns: &str| try_run("ip", &["-n", ns, "route", "show", "198.51.100.0/24"]);
    let rule = |ns: &str| try_run("ip", &["-n", ns, "rule", "show"]);
    let on = poll_until(T, || route(ns0).contains("via 192.0.2.254").then_some(()));
    assert!(
        on.is_some(),
        "the master has no virtual route:\n{}",
        a.log()
    );
    assert!(
        rule(ns0).contains("from 192.0.2.10 lookup 100"),
        "{}",
        rule(ns0)
    );
    assert!(route(ns1).is_empty(), "the backup has the virtual route");
    assert!(
        lab.has(0, "203.0.113.1"),
        "static_ipaddress missing:\n{}",
        lab.addrs(0)
    );
    lab.link(0, false);
    wait_vip(&lab, 1, "192.0.2.10", "failover", &[&a, &b]);
    let moved = poll_until(T, || route(ns1).contains("via 192.0.2.254").then_some(()));
    assert!(
        moved.is_some(),
        "the new master has no virtual route:\n{}",
        b.log()
    );
    assert!(
        rule(ns1).contains("from 192.0.2.10 lookup 100"),
        "{}",
        rule(ns1)
    );
    let gone = poll_until(T, || (!rule(ns0).contains("lookup 100")).then_some(()));
    assert!(
        gone.is_some(),
        "the old master kept its virtual rule:\n{}",
        rule(ns0)
    );
    lab.link(0, true);
    a.signal(Signal::SIGTERM);
    a.wait_exit(T);
    assert!(
        !lab.has(0, "203.0.113.1"),
        "static_ipaddress left after a clean stop"
    );
}

#[test]
fn nopreempt_keeps_the_current_master_and_preempt_delay_waits() {
    let lab = Lab::new("nopre", 2);
    let dir = TempDir::new("nopre");
    let vip = "192.0.2.10";
    // The higher priority starts second, with nopreempt (keepalived requires state BACKUP).
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 68, "", "192.0.2.10/24"));
    wait_vip(&lab, 1, vip, "the only router becomes master", &[&b]);
    let a = start(
        &lab,
        0,
        &dir,
        &conf("BACKUP", 150, 68, "    nopreempt\n", "192.0.2.10/24"),
    );
    a.wait_for_log("VRRP instance VI_1 is now Backup", T);
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        lab.has(1, vip) && !lab.has(0, vip),
        "nopreempt: the higher priority took over:\n{}",
        a.log()
    );
    drop(a);
    // preempt_delay 3: the higher priority waits 3 s before taking over.
    let a = start(
        &lab,
        0,
        &dir,
        &conf("BACKUP", 150, 68, "    preempt_delay 3\n", "192.0.2.10/24"),
    );
    a.wait_for_log("VRRP instance VI_1 is now Backup", T);
    let t0 = std::time::Instant::now();
    wait_vip(&lab, 0, vip, "preemption after preempt_delay", &[&a, &b]);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(2500),
        "preempt_delay 3 but the takeover came after {waited:?}"
    );
}

#[test]
fn gratuitous_arp_moves_the_clients_arp_entry_at_once() {
    let lab = Lab::new("garp", 3);
    let dir = TempDir::new("garp");
    let vip = "192.0.2.10";
    let a = start(&lab, 0, &dir, &conf("MASTER", 150, 69, "", "192.0.2.10/24"));
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 69, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, vip, "election", &[&a, &b]);
    let client = &lab.ns(2).name;
    let mac = |i: usize| {
        let l = try_run(
            "ip",
            &["-n", &lab.ns(i).name, "-br", "link", "show", "dev", "eth0"],
        );
        l.split_whitespace().nth(2).unwrap_or("").to_string()
    };
    let neigh = || try_run("ip", &["-n", client, "neigh", "show", vip]);
    let ok = Command::new("ip")
        .args(["netns", "exec", client, "ping", "-c", "1", "-W", "2", vip])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "the client cannot reach the VIP");
    assert!(
        neigh().contains(&mac(0)),
        "before: {} (master {})",
        neigh(),
        mac(0)
    );
    // The master fails; the new master's gratuitous ARP updates the client's entry without
    // the client asking.
    lab.link(0, false);
    wait_vip(&lab, 1, vip, "failover", &[&a, &b]);
    let moved = poll_until(Duration::from_secs(2), || {
        neigh().contains(&mac(1)).then_some(())
    });
    assert!(
        moved.is_some(),
        "after: {} (new master {})",
        neigh(),
        mac(1)
    );
}

#[test]
fn interop_with_keepalived_unicast() {
    let lab = Lab::new("iouni", 2);
    let dir = TempDir::new("iouni");
    let vip = "192.0.2.10";
    let peer = |p: &str| format!("    unicast_peer {{\n        {p}\n    }}\n");
    let a = start(
        &lab,
        0,
        &dir,
        &conf("MASTER", 150, 70, &peer("192.0.2.2"), "192.0.2.10/24"),
    );
    let k = Keepalived::start(
        &lab,
        1,
        &dir,
        &conf("BACKUP", 100, 70, &peer("192.0.2.1"), "192.0.2.10/24"),
    );
    wait_vip(&lab, 0, vip, "keepalived-rs master over unicast", &[&a]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !lab.has(1, vip),
        "keepalived did not accept keepalived-rs's unicast adverts"
    );
    lab.link(0, false);
    wait_vip(&lab, 1, vip, "keepalived takes over over unicast", &[&a]);
    lab.link(0, true);
    wait_vip(
        &lab,
        0,
        vip,
        "keepalived-rs preempts back over unicast",
        &[&a],
    );
    let gone = poll_until(T, || (!lab.has(1, vip)).then_some(()));
    assert!(
        gone.is_some(),
        "keepalived kept the VIP: it did not hear keepalived-rs"
    );
    drop(k);
}

#[test]
fn an_interface_that_appears_later_is_picked_up() {
    let lab = Lab::new("late", 1);
    let dir = TempDir::new("late");
    let text = conf("BACKUP", 100, 71, "", "192.0.2.20/24")
        .replace("interface eth0", "interface late0")
        .replace("global_defs {\n", "global_defs {\n    dynamic_interfaces\n");
    let a = start(&lab, 0, &dir, &text);
    a.wait_for_log("interface late0 does not exist", T);
    let ns0 = &lab.ns(0).name;
    run(
        "ip",
        &[
            "-n", ns0, "link", "add", "late0", "type", "veth", "peer", "name", "late1",
        ],
    );
    run(
        "ip",
        &["-n", ns0, "addr", "add", "192.0.2.21/24", "dev", "late0"],
    );
    run("ip", &["-n", ns0, "link", "set", "late1", "up"]);
    run("ip", &["-n", ns0, "link", "set", "late0", "up"]);
    let up = poll_until(T, || {
        try_run("ip", &["-n", ns0, "-o", "addr", "show", "dev", "late0"])
            .contains(" 192.0.2.20/")
            .then_some(())
    });
    assert!(
        up.is_some(),
        "the instance never started on late0:\n{}",
        a.log()
    );
}

#[test]
fn vrrp_garp_interval_spaces_the_gratuitous_arps_of_a_burst() {
    let lab = Lab::new("garpint", 2);
    let dir = TempDir::new("garpint");
    // Listen on the other host before the master starts: every GARP of the first burst.
    let dump = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns(1).name,
            "timeout",
            "8",
            "tcpdump",
            "-i",
            "eth0",
            "-n",
            "-tt",
            "-l",
            "arp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump (tests/run installs it)");
    std::thread::sleep(Duration::from_millis(500));
    // Two VIPs, three rounds: six GARPs, which vrrp_garp_interval 0.2 spreads over a second
    // instead of sending them back to back.
    let text = "global_defs {\n    script_user nobody\n    vrrp_garp_interval 0.2\n    \
                vrrp_garp_master_delay 0\n}\nvrrp_instance VI_1 {\n    state MASTER\n    \
                interface eth0\n    virtual_router_id 71\n    priority 150\n    advert_int 1\n    \
                garp_master_repeat 3\n    virtual_ipaddress {\n        192.0.2.10/24\n        \
                192.0.2.11/24\n    }\n}\n";
    let a = start(&lab, 0, &dir, text);
    wait_vip(&lab, 0, "192.0.2.11", "election", &[&a]);
    let out = dump.wait_with_output().expect("tcpdump output");
    let text = String::from_utf8_lossy(&out.stdout);
    // "1700000000.123456 ARP, Request who-has 192.0.2.10 (ff:ff:ff:ff:ff:ff) tell
    // 192.0.2.10, length 28": gratuitous when the asked and the asking address are one.
    let gratuitous = |l: &str| {
        let w: Vec<&str> = l.split_whitespace().collect();
        let asked = w
            .iter()
            .position(|x| *x == "who-has")
            .and_then(|i| w.get(i + 1));
        let tell = w
            .iter()
            .position(|x| *x == "tell")
            .and_then(|i| w.get(i + 1));
        matches!((asked, tell), (Some(a), Some(t)) if t.trim_end_matches(',') == *a)
    };
    let times: Vec<f64> = text
        .lines()
        .filter(|l| gratuitous(l))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        times.len() >= 6,
        "expected 6 gratuitous ARPs, saw {}:\n{text}\n{}",
        times.len(),
        a.log()
    );
    for w in times[..6].windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= 0.18,
            "GARPs {gap:.3} s apart, vrrp_garp_interval is 0.2 s:\n{text}"
        );
    }
}

/// A `sleep` with an argument no other process has, killed on drop.
struct Sleeper(Child);

impl Sleeper {
    fn start(tag: u32) -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .args(["100000", &tag.to_string()])
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn sleep"),
        )
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn vrrp_track_process_moves_mastership_when_the_process_ends_and_comes_back() {
    let lab = Lab::new("tproc", 2);
    let dir = TempDir::new("tproc");
    let vip = "192.0.2.10";
    // An argument unique to this run, so that no other sleep matches.
    let tag = 40_000 + std::process::id() % 20_000;
    let tracker = format!(
        "vrrp_track_process proc_sleep {{\n    param_match partial\n    \
         process sleep 100000 {tag}\n    weight 0\n}}\n"
    );
    let mut sleeper = Some(Sleeper::start(tag));
    let text = format!(
        "{tracker}{}",
        conf(
            "MASTER",
            150,
            72,
            "    track_process {\n        proc_sleep\n    }\n",
            "192.0.2.10/24"
        )
    );
    let a = start(&lab, 0, &dir, &text);
    let b = start(&lab, 1, &dir, &conf("BACKUP", 100, 72, "", "192.0.2.10/24"));
    wait_vip(&lab, 0, vip, "election with the process running", &[&a, &b]);
    // The process ends: weight 0 means FAULT, the backup takes over.
    drop(sleeper.take());
    wait_vip(
        &lab,
        1,
        vip,
        "takeover after the tracked process ended",
        &[&a, &b],
    );
    a.wait_for_log("VRRP instance VI_1 is now Fault", T);
    // It comes back: the higher priority preempts again.
    let _sleeper = Sleeper::start(tag);
    wait_vip(&lab, 0, vip, "mastership back with the process", &[&a, &b]);
    let gone = poll_until(T, || (!lab.has(1, vip)).then_some(()));
    assert!(gone.is_some(), "the backup kept the VIP:\n{}", lab.addrs(1));
}
