//! The health checkers end to end against a real IPVS: a Debian kernel under qemu
//! (keepalived-vmtest), the whole daemon inside (stripped copies of the debug executables at
//! their host paths), real servers in their own network namespaces served by busybox httpd.
//!
//! ```text
//!   lvs ns (keepalived-rs -D)              rs1 ns 192.0.2.2   busybox httpd :80 (TCP_CHECK)
//!   198.51.100.10:80  rr NAT  ─── r1 ────  eth0
//!   198.51.100.10:81  inhibit_on_failure   rs2 ns 192.0.2.18  busybox httpd :80 (HTTP_GET)
//!   198.51.100.10:82  quorum 2, sorry ─ r2 ─ eth0
//!                     server rs3 ── r3 ──  rs3 ns 192.0.2.34  busybox httpd :80 (sorry)
//! ```
//!
//! One boot, in order: the table once every check passed (and stays so); the checker killed
//! with SIGKILL while everything is up; rs1's httpd killed (connection refused): :80 drops
//! it, :81 keeps it with weight 0, :82 loses its quorum and gets the sorry server instead
//! (quorum_down and notify_down run), then httpd back and everything restored (quorum_up,
//! notify_up); rs2's link down (the checks time out): the same, and the checker killed with
//! SIGKILL while rs2 is down; rs2's link up, seen by the respawned checker; a clean stop.
//!
//! Around each SIGKILL the table is watched from the moment of the kill until the respawned
//! checker had time for a full round with retries: it must not change at all (no write in
//! the IPVS writer's log, `IPVS write: ...` lines with `-D`, no script run), so a restart of
//! the checker never flaps a real server. Each detection time, from the failure to the
//! change in the kernel, is checked against what delay_loop, retry, delay_before_retry and
//! connect_timeout allow (and not below what retry forces), and the exact writes of each
//! change are checked. The table is polled from `/proc/<daemon>/net/ip_vs` (a file read: no
//! process started, so the polling costs the single emulated CPU little).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keepalived_vmtest::{Vm, VmBuilder, in_vm};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use support::{Daemon, Launch, Netns, TempDir, build_dir};

/// How long the VM may run.
const VM_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a step inside the VM may wait (emulation is slow).
const STEP: Duration = Duration::from_secs(30);

/// The checkers' timing, the same for every checker of the configuration.
const DELAY_LOOP: f64 = 1.0;
const RETRY: u32 = 1;
const DELAY_BEFORE_RETRY: f64 = 1.0;
const CONNECT_TIMEOUT: f64 = 1.0;
/// What a detection may take beyond the checkers' timing: the checker's report through the
/// parent to the IPVS writer, its netlink write, and this test's 20 ms polling, on one
/// emulated CPU.
const SLACK: f64 = 1.5;
/// What a detection may be shorter than the retries force: timer granularity.
const EARLY: f64 = 0.1;

/// The virtual address and the three services.
const VIP: &str = "198.51.100.10";
const PLAIN: u16 = 80;
const INHIBIT: u16 = 81;
const QUORUM: u16 = 82;

/// The real servers: (name, lvs side address, real server address).
const RS: [(&str, &str, &str); 3] = [
    ("rs1", "192.0.2.1", "192.0.2.2"),
    ("rs2", "192.0.2.17", "192.0.2.18"),
    ("rs3", "192.0.2.33", "192.0.2.34"),
];
const RS1: &str = "192.0.2.2:80";
const RS2: &str = "192.0.2.18:80";
const SORRY: &str = "192.0.2.34:80";

// ------------------------------------------------------------------------------------------
// The VM
// ------------------------------------------------------------------------------------------

/// /etc/passwd and /etc/group with the children's users and the script user.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
keepalived-rs-vrrp:x:990:990::/nonexistent:/sbin/nologin\n\
keepalived-rs-check:x:991:991::/nonexistent:/sbin/nologin\n\
keepalived-rs-ipvs:x:992:992::/nonexistent:/sbin/nologin\n\
keepalived_script:x:993:993::/nonexistent:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\n\
keepalived-rs-vrrp:x:990:\n\
keepalived-rs-check:x:991:\n\
keepalived-rs-ipvs:x:992:\n\
keepalived_script:x:993:\n\
nogroup:x:65534:\n";

/// The VM: the daemon's four executables (stripped of their debug information, into
/// `staging`) at their host paths, `ip`, ipvsadm, the users, IPVS and veth loaded.
fn base_vm(staging: &TempDir) -> VmBuilder {
    let mut b = Vm::builder()
        .ipvsadm()
        .binary("/usr/sbin/ip", "/sbin/ip")
        .data("/etc/passwd", PASSWD, 0o644)
        .data("/etc/group", GROUP, 0o644);
    for exe in [
        "keepalived-rs",
        "keepalived-rs-vrrp",
        "keepalived-rs-check",
        "keepalived-rs-ipvs",
    ] {
        let host = build_dir().join(exe);
        assert!(
            host.is_file(),
            "{} is missing: run `cargo build --workspace` first",
            host.display()
        );
        let stripped = staging.join(exe);
        let out = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&stripped)
            .arg(&host)
            .output()
            .expect("cannot run strip (binutils)");
        assert!(
            out.status.success(),
            "strip {}: {}",
            host.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        b = b.binary(&stripped, host.to_str().unwrap());
    }
    let mut init = String::new();
    for m in ["crc32c_generic", "ip_vs", "ip_vs_rr", "veth"] {
        init.push_str(&format!("modprobe {m} || echo \"modprobe {m} failed\"\n"));
    }
    b.init(&init)
}

#[test]
fn check_vm() {
    if in_vm() {
        return check_in_vm();
    }
    let staging = TempDir::new("checkvm");
    let vm = base_vm(&staging).self_test("check_vm").build().unwrap();
    let out = vm.run(VM_TIMEOUT).unwrap();
    println!(
        "VM: booted after {:?} s (kernel uptime), {:.1} s in all",
        out.booted_after(),
        out.elapsed.as_secs_f64()
    );
    for l in out
        .console
        .lines()
        .filter(|l| l.starts_with("KARS-STEP") || l.starts_with("KARS-INFO"))
    {
        println!("{l}");
    }
    out.assert_self_test_passed("check_vm");
}

// ------------------------------------------------------------------------------------------
// Helpers inside the VM
// ------------------------------------------------------------------------------------------

/// Runs a shell command; panics with its output when it fails. busybox's sh runs its own
/// applets before anything in PATH: iproute2's `ip` must be named by its path, `/sbin/ip`.
fn sh(cmd: &str) -> String {
    let out = Command::new("/bin/sh")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Prints how long a step took (the host shows these lines).
fn step(name: &str, since: Instant) {
    println!("KARS-STEP {name}: {:.1} s", since.elapsed().as_secs_f64());
}

/// A service's destinations and their weights, by `address:port`.
type Dests = BTreeMap<String, u32>;
/// The IPVS table: services (`TCP 198.51.100.10:80`) and their destinations.
type Table = BTreeMap<String, Dests>;

/// The IPVS table of the namespace of `pid`, from `/proc/<pid>/net/ip_vs` (IPv4 only,
/// which is all this test configures).
fn proc_table(pid: i32) -> Table {
    let text = fs::read_to_string(format!("/proc/{pid}/net/ip_vs"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/net/ip_vs: {e}"));
    parse_proc_table(&text)
}

/// `C633640A:0050` -> `198.51.100.10:80`.
fn hex_endpoint(s: &str) -> String {
    let (a, p) = s.split_once(':').unwrap_or((s, "0"));
    let a = u32::from_str_radix(a, 16).unwrap_or(0);
    let p = u16::from_str_radix(p, 16).unwrap_or(0);
    format!("{}:{p}", Ipv4Addr::from(a))
}

fn parse_proc_table(text: &str) -> Table {
    let mut t = Table::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["->", "RemoteAddress:Port", ..] => {}
            ["->", addr, _fwd, weight, ..] => {
                if let Some(s) = &current {
                    t.get_mut(s)
                        .unwrap()
                        .insert(hex_endpoint(addr), weight.parse().unwrap_or(u32::MAX));
                }
            }
            [proto @ ("TCP" | "UDP" | "SCTP"), addr, ..] => {
                let s = format!("{proto} {}", hex_endpoint(addr));
                t.insert(s.clone(), Dests::new());
                current = Some(s);
            }
            _ => {}
        }
    }
    t
}

/// The table from a short description: (service port, [(destination, weight)]).
fn table(services: &[(u16, &[(&str, u32)])]) -> Table {
    services
        .iter()
        .map(|(port, dests)| {
            (
                format!("TCP {VIP}:{port}"),
                dests.iter().map(|(d, w)| (d.to_string(), *w)).collect(),
            )
        })
        .collect()
}

fn show(t: &Table) -> String {
    let mut s = String::new();
    for (svc, dests) in t {
        s.push_str(&format!("  {svc}\n"));
        for (d, w) in dests {
            s.push_str(&format!("    -> {d} weight {w}\n"));
        }
    }
    if s.is_empty() {
        s.push_str("  (empty)\n");
    }
    s
}

/// Every check passes.
fn all_up() -> Table {
    table(&[
        (PLAIN, &[(RS1, 1), (RS2, 1)]),
        (INHIBIT, &[(RS1, 1), (RS2, 1)]),
        (QUORUM, &[(RS1, 1), (RS2, 1)]),
    ])
}

/// One real server down (`down`, the other is `up`).
fn one_down(down: &str, up: &str) -> Table {
    table(&[
        (PLAIN, &[(up, 1)]),
        (INHIBIT, &[(down, 0), (up, 1)]),
        (QUORUM, &[(SORRY, 1)]),
    ])
}

/// The `IPVS write:` lines of the log from the `from`th on, sorted.
fn writes_since(d: &Daemon, from: usize) -> Vec<String> {
    let mut w: Vec<String> = d
        .lines_with("IPVS write: ")
        .into_iter()
        .skip(from)
        .map(|l| {
            l.split("IPVS write: ")
                .nth(1)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    w.sort();
    w
}

/// The writer's per-reconcile counter lines (`IPVS: N write(s), ...`).
fn reconciles(d: &Daemon) -> Vec<String> {
    d.lines_with("IPVS: ")
        .into_iter()
        .filter(|l| l.contains(" write(s)"))
        .collect()
}

/// Asserts the writes since `mark` are exactly `want` (each written line starts with one).
/// The kernel changes before the writer's log line reaches the test: waits for the lines.
fn assert_writes(d: &Daemon, mark: usize, want: &[String], what: &str) {
    let mut want = want.to_vec();
    want.sort();
    support::poll_until(STEP, || {
        (writes_since(d, mark).len() >= want.len()).then_some(())
    });
    // Any write more would come with the others.
    std::thread::sleep(Duration::from_millis(300));
    let got = writes_since(d, mark);
    d.check(
        got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| g.starts_with(w)),
        &format!("{what}: the writes were {got:#?}, expected {want:#?}"),
    );
}

/// The operations that take `down` out (and `up` stays): :80 deletes it, :81 sets its weight
/// to 0, :82 loses its quorum: both real servers out, the sorry server in.
fn writes_down(down: &str, up: &str) -> Vec<String> {
    vec![
        format!("delete real server {down} from TCP {VIP}:{PLAIN}"),
        format!("edit real server {down} of TCP {VIP}:{INHIBIT}"),
        format!("delete real server {down} from TCP {VIP}:{QUORUM}"),
        format!("delete real server {up} from TCP {VIP}:{QUORUM}"),
        format!("add real server {SORRY} to TCP {VIP}:{QUORUM}"),
    ]
}

/// The operations that bring `down` back.
fn writes_up(down: &str, up: &str) -> Vec<String> {
    vec![
        format!("add real server {down} to TCP {VIP}:{PLAIN}"),
        format!("edit real server {down} of TCP {VIP}:{INHIBIT}"),
        format!("add real server {down} to TCP {VIP}:{QUORUM}"),
        format!("add real server {up} to TCP {VIP}:{QUORUM}"),
        format!("delete real server {SORRY} from TCP {VIP}:{QUORUM}"),
    ]
}

// ------------------------------------------------------------------------------------------
// The lab
// ------------------------------------------------------------------------------------------

/// One real server: its namespace and its HTTP server.
struct RealServer {
    ns: Netns,
    addr: &'static str,
    www: PathBuf,
    httpd: Option<Child>,
}

impl RealServer {
    fn start_httpd(&mut self) {
        assert!(self.httpd.is_none());
        self.httpd = Some(
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.ns.name,
                    "busybox",
                    "httpd",
                    "-f",
                    "-p",
                    "80",
                    "-h",
                ])
                .arg(&self.www)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }

    fn kill_httpd(&mut self) {
        if let Some(mut c) = self.httpd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn link(&self, up: bool) {
        sh(&format!(
            "/sbin/ip -n {} link set eth0 {}",
            self.ns.name,
            if up { "up" } else { "down" }
        ));
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.kill_httpd();
    }
}

struct Lab {
    lvs: Netns,
    rs: Vec<RealServer>,
    _www: TempDir,
}

/// lvs r<n> <gw>/28 --- rs<n> eth0 <addr>/28, each real server answering HTTP with its name.
fn lab() -> Lab {
    let lvs = Netns::new("lvs");
    let www = TempDir::new("www");
    let mut rs = Vec::new();
    for (i, (name, gw, addr)) in RS.iter().enumerate() {
        let ns = Netns::new(name);
        let n = i + 1;
        sh(&format!(
            "/sbin/ip link add r{n} netns {l} type veth peer name eth0 netns {r} && \
             /sbin/ip -n {l} addr add {gw}/28 dev r{n} && /sbin/ip -n {l} link set r{n} up && \
             /sbin/ip -n {r} addr add {addr}/28 dev eth0 && /sbin/ip -n {r} link set eth0 up && \
             /sbin/ip -n {r} route add default via {gw}",
            l = lvs.name,
            r = ns.name
        ));
        let dir = www.join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.html"), format!("{name}\n")).unwrap();
        let mut server = RealServer {
            ns,
            addr,
            www: dir,
            httpd: None,
        };
        server.start_httpd();
        rs.push(server);
    }
    sh(&format!(
        "/sbin/ip netns exec {} sysctl -qw net.ipv4.ip_forward=1",
        lvs.name
    ));
    // Each server answers (directly, from the daemon's namespace).
    for s in &rs {
        let ok = support::poll_until(STEP, || {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!(
                    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /sbin/ip netns exec {} nc -w 2 {} 80",
                    lvs.name, s.addr
                ))
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains(" 200 ")
                .then_some(())
        });
        assert!(ok.is_some(), "{} does not answer HTTP", s.addr);
    }
    Lab { lvs, rs, _www: www }
}

/// The configuration: three services over rs1 (TCP_CHECK) and rs2 (HTTP_GET).
fn config(scripts: &Path) -> String {
    let checks = format!(
        "connect_timeout {CONNECT_TIMEOUT}\n            retry {RETRY}\n            \
         delay_before_retry {DELAY_BEFORE_RETRY}"
    );
    let real_servers = |notify: bool| {
        let notify_for = |name: &str| {
            if notify {
                format!(
                    "        notify_up {d}/{name}-up.sh\n        notify_down {d}/{name}-down.sh\n",
                    d = scripts.display()
                )
            } else {
                String::new()
            }
        };
        format!(
            "    real_server 192.0.2.2 80 {{\n        weight 1\n{}        TCP_CHECK {{\n            \
             {checks}\n        }}\n    }}\n    \
             real_server 192.0.2.18 80 {{\n        weight 1\n{}        HTTP_GET {{\n            \
             url {{\n                path /\n                status_code 200\n            }}\n            \
             {checks}\n        }}\n    }}\n",
            notify_for("rs1"),
            notify_for("rs2"),
        )
    };
    let service = |port: u16, extra: &str, notify: bool| {
        format!(
            "virtual_server {VIP} {port} {{\n    delay_loop {DELAY_LOOP}\n    lvs_sched rr\n    \
             lvs_method NAT\n    protocol TCP\n{extra}{}}}\n\n",
            real_servers(notify)
        )
    };
    format!(
        "global_defs {{\n    router_id checkvm\n    enable_script_security\n}}\n\n{}{}{}",
        service(PLAIN, "", true),
        service(INHIBIT, "    inhibit_on_failure\n", false),
        service(
            QUORUM,
            &format!(
                "    quorum 2\n    hysteresis 0\n    quorum_up {d}/quorum-up.sh\n    \
                 quorum_down {d}/quorum-down.sh\n    sorry_server 192.0.2.34 80\n",
                d = scripts.display()
            ),
            false
        ),
    )
}

/// The scripts: each appends its name to `events/log`.
fn scripts(rt: &TempDir) -> (PathBuf, PathBuf) {
    let events = rt.shared_dir("events");
    let log = events.join("log");
    let dir = rt.path().join("scripts");
    fs::create_dir_all(&dir).unwrap();
    for name in [
        "quorum-up",
        "quorum-down",
        "rs1-up",
        "rs1-down",
        "rs2-up",
        "rs2-down",
    ] {
        let p = dir.join(format!("{name}.sh"));
        fs::write(&p, format!("#!/bin/sh\necho {name} >> {}\n", log.display())).unwrap();
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    (dir, log)
}

fn events(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until the script lines after the first `from` are `want` (in any order).
fn wait_events(d: &Daemon, log: &Path, from: usize, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let mut last = Vec::new();
    let ok = support::poll_until(STEP, || {
        let mut got: Vec<String> = events(log).into_iter().skip(from).collect();
        got.sort();
        last = got.clone();
        (got == want).then_some(())
    });
    if ok.is_none() {
        d.fail(&format!("scripts run: {last:?}, expected {want:?}"));
    }
    // None more (a script run twice would show now).
    std::thread::sleep(Duration::from_millis(300));
    let n = events(log).len() - from;
    d.check(
        n == want.len(),
        &format!("scripts run: {:?}", &events(log)[from..]),
    );
}

/// A named condition on the table.
type Goal<'a> = (&'a str, &'a dyn Fn(&Table) -> bool);

/// Polls the table every 20 ms until each of `goals` held once; the time each first held
/// (from `since`), or a failure with the table after `limit`.
fn wait_tables(d: &Daemon, since: Instant, limit: Duration, goals: &[Goal]) -> Vec<f64> {
    let mut at: Vec<Option<f64>> = vec![None; goals.len()];
    loop {
        let t = proc_table(d.pid);
        let now = since.elapsed().as_secs_f64();
        for (i, (_, g)) in goals.iter().enumerate() {
            if at[i].is_none() && g(&t) {
                at[i] = Some(now);
            }
        }
        if at.iter().all(Option::is_some) {
            return at.into_iter().map(Option::unwrap_or_default).collect();
        }
        if since.elapsed() >= limit {
            let missing: Vec<&str> = goals
                .iter()
                .zip(&at)
                .filter(|(_, a)| a.is_none())
                .map(|((n, _), _)| *n)
                .collect();
            d.fail(&format!(
                "after {limit:?}: not reached: {missing:?}; the table:\n{}",
                show(&t)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The service of `port` in `t`.
fn svc(t: &Table, port: u16) -> Option<&Dests> {
    t.get(&format!("TCP {VIP}:{port}"))
}

/// Takes real server `down` out (`fail` does it), checks each service's change against the
/// checkers' timing (`timeouts`: the failed checks end at connect_timeout instead of at
/// once), the writes and the scripts; then brings it back (`recover`) and checks the same.
#[allow(clippy::too_many_arguments)]
fn failure_and_recovery(
    d: &Daemon,
    lab: &mut Lab,
    events_log: &Path,
    which: usize,
    timeouts: bool,
    what: &str,
    fail: &dyn Fn(&mut Lab),
    kill_checker_while_down: bool,
    recover: &dyn Fn(&mut Lab),
) {
    let (down, up, name) = if which == 0 {
        (RS1, RS2, "rs1")
    } else {
        (RS2, RS1, "rs2")
    };
    // Detection: the next check comes within delay_loop; the down needs retry + 1 failures
    // delay_before_retry apart; each failure takes connect_timeout when it times out.
    let attempts = f64::from(RETRY + 1);
    let per_attempt = if timeouts { CONNECT_TIMEOUT } else { 0.0 };
    let upper = DELAY_LOOP + f64::from(RETRY) * DELAY_BEFORE_RETRY + attempts * per_attempt + SLACK;
    let lower = f64::from(RETRY) * (DELAY_BEFORE_RETRY + per_attempt) - EARLY;

    let t = Instant::now();
    let mark = d.lines_with("IPVS write: ").len();
    let ev = events(events_log).len();
    let before = Instant::now();
    fail(lab);
    let after = Instant::now();
    let dn = down.to_string();
    let gone = |t: &Table| svc(t, PLAIN).is_some_and(|s| !s.contains_key(&dn));
    let zero = |t: &Table| svc(t, INHIBIT).is_some_and(|s| s.get(&dn) == Some(&0));
    let sorry = |t: &Table| svc(t, QUORUM).is_some_and(|s| s.contains_key(SORRY));
    let times = wait_tables(
        d,
        before,
        Duration::from_secs_f64(upper + 10.0),
        &[
            ("removed from :80", &gone),
            ("weight 0 in :81", &zero),
            ("sorry server in :82", &sorry),
        ],
    );
    let since_after = after.duration_since(before).as_secs_f64();
    for (t, svc_name) in times
        .iter()
        .zip([":80 removal", ":81 weight 0", ":82 sorry server"])
    {
        println!("KARS-INFO {what}: {svc_name} after {t:.2} s (bounds {lower:.2}-{upper:.2} s)");
        d.check(
            *t <= upper,
            &format!("{what}: {svc_name} after {t:.2} s, more than {upper:.2} s"),
        );
        d.check(
            t - since_after >= lower,
            &format!(
                "{what}: {svc_name} after {:.2} s, less than the {lower:.2} s the retries take",
                t - since_after
            ),
        );
    }
    // Settled: exactly that table, those writes, those scripts.
    let want = one_down(down, up);
    wait_tables(d, before, STEP, &[("the table", &|t: &Table| *t == want)]);
    assert_writes(d, mark, &writes_down(down, up), what);
    wait_events(d, events_log, ev, &["quorum-down", &format!("{name}-down")]);
    step(&format!("{what}: detected"), t);

    if kill_checker_while_down {
        kill_checker(
            d,
            events_log,
            &format!("{what}: SIGKILL of the checker while down"),
        );
    }

    // Recovery: one success is enough; the check in flight may still have to time out.
    let t = Instant::now();
    let mark = d.lines_with("IPVS write: ").len();
    let ev = events(events_log).len();
    let upper = DELAY_LOOP + per_attempt + SLACK;
    let before = Instant::now();
    recover(lab);
    let all = all_up();
    let times = wait_tables(
        d,
        before,
        Duration::from_secs_f64(upper + 10.0),
        &[("every real server back", &|t: &Table| *t == all)],
    );
    println!(
        "KARS-INFO {what}: restored after {:.2} s (bound {upper:.2} s)",
        times[0]
    );
    d.check(
        times[0] <= upper,
        &format!(
            "{what}: restored after {:.2} s, more than {upper:.2} s",
            times[0]
        ),
    );
    assert_writes(d, mark, &writes_up(down, up), &format!("{what}, recovery"));
    wait_events(d, events_log, ev, &["quorum-up", &format!("{name}-up")]);
    step(&format!("{what}: recovered"), t);
}

/// SIGKILL of the checker: respawned, and from the kill until it had time for a full round
/// with its retries, the table never changes, the IPVS writer writes nothing and no script
/// runs.
fn kill_checker(d: &Daemon, events_log: &Path, what: &str) {
    let t = Instant::now();
    let table0 = proc_table(d.pid);
    let ipvsadm0 = sh(&format!("/sbin/ip netns exec {} ipvsadm -Ln", netns_of(d)));
    let writes0 = d.lines_with("IPVS write: ").len();
    let reconciles0 = reconciles(d).len();
    let events0 = events(events_log);
    let started0 = d.started_pids_of("check").len();
    let old = d.child_pid("check");
    let _ = kill(Pid::from_raw(old), Signal::SIGKILL);
    let new = d.wait_pid_in(&d.pidfile("check"), Some(old), STEP);
    // Every check of the respawned checker ran at least once, with its retries.
    let watch = Duration::from_secs_f64(
        2.0 * DELAY_LOOP
            + f64::from(RETRY) * DELAY_BEFORE_RETRY
            + f64::from(RETRY + 1) * CONNECT_TIMEOUT
            + SLACK,
    );
    let from = Instant::now();
    while from.elapsed() < watch {
        let now = proc_table(d.pid);
        if now != table0 {
            d.fail(&format!(
                "{what}: the table changed {:.2} s after the respawn:\n{}instead of\n{}",
                from.elapsed().as_secs_f64(),
                show(&now),
                show(&table0)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    d.check(
        support::alive(new),
        &format!("{what}: the respawned checker (pid {new}) died"),
    );
    d.check(
        d.started_pids_of("check").len() == started0 + 1,
        &format!("{what}: the checker was not started exactly once more"),
    );
    let ipvsadm1 = sh(&format!("/sbin/ip netns exec {} ipvsadm -Ln", netns_of(d)));
    d.check(
        ipvsadm0 == ipvsadm1,
        &format!("{what}: ipvsadm -Ln before:\n{ipvsadm0}after:\n{ipvsadm1}"),
    );
    d.check(
        d.lines_with("IPVS write: ").len() == writes0 && reconciles(d).len() == reconciles0,
        &format!(
            "{what}: the IPVS writer wrote: {:?} {:?}",
            writes_since(d, writes0),
            &reconciles(d)[reconciles0..]
        ),
    );
    d.check(
        events(events_log) == events0,
        &format!(
            "{what}: scripts ran: {:?}",
            &events(events_log)[events0.len()..]
        ),
    );
    println!(
        "KARS-INFO {what}: pid {old} -> {new}, the table unchanged for {:.1} s, 0 writes",
        watch.as_secs_f64()
    );
    step(what, t);
}

/// The network namespace the daemon runs in (its runtime directory is named after it).
fn netns_of(d: &Daemon) -> String {
    d.runtime
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap()
}

fn check_in_vm() {
    // libtest printed `test check_vm ... ` without a line end.
    println!();
    let t0 = Instant::now();
    let mut lab = lab();
    step("lab", t0);
    let rt = TempDir::new("rt");
    let (script_dir, events_log) = scripts(&rt);
    let conf = rt.write("check.conf", &config(&script_dir));

    // Start: the whole table, then every check passes and nothing changes.
    let t = Instant::now();
    let mut d = Launch::new(&lab.lvs, &conf, rt.path()).arg("-D").start();
    let deadline = Instant::now() + STEP;
    while d.lines_with("IPVS table programmed").is_empty() {
        if let Some(status) = d.try_status() {
            d.fail(&format!(
                "the daemon exited ({status}) before programming the table"
            ));
        }
        if Instant::now() >= deadline {
            d.fail("no `IPVS table programmed` line");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = all_up();
    wait_tables(
        &d,
        t,
        STEP,
        &[("every real server up", &|t: &Table| *t == all)],
    );
    let mark = d.lines_with("IPVS write: ").len();
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs_f64(2.0 * DELAY_LOOP + CONNECT_TIMEOUT) {
        let now = proc_table(d.pid);
        d.check(
            now == all,
            &format!(
                "a real server changed with every server up:\n{}",
                show(&now)
            ),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.check(
        writes_since(&d, mark).is_empty() && events(&events_log).is_empty(),
        &format!(
            "writes or scripts with every server up: {:?} {:?}",
            writes_since(&d, mark),
            events(&events_log)
        ),
    );
    step("start", t);

    // The checker killed with every server up.
    kill_checker(&d, &events_log, "SIGKILL of the checker, every server up");

    // rs1's httpd killed: refused at once.
    failure_and_recovery(
        &d,
        &mut lab,
        &events_log,
        0,
        false,
        "rs1 httpd killed",
        &|lab| lab.rs[0].kill_httpd(),
        false,
        &|lab| lab.rs[0].start_httpd(),
    );

    // rs2's link down: the checks time out. The checker killed while it is down.
    failure_and_recovery(
        &d,
        &mut lab,
        &events_log,
        1,
        true,
        "rs2 link down",
        &|lab| lab.rs[1].link(false),
        true,
        &|lab| lab.rs[1].link(true),
    );

    // A clean stop empties the table.
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    d.wait_exit(STEP);
    let left = sh(&format!("/sbin/ip netns exec {} ipvsadm -Sn", lab.lvs.name));
    d.check(
        left.trim().is_empty(),
        &format!("left after the stop:\n{left}"),
    );
    step("stop", t);
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_proc_table_is_parsed() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)\n\
                    Prot LocalAddress:Port Scheduler Flags\n  \
                    -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
                    TCP  C633640A:0050 rr\n  \
                    -> C0000212:0050      Masq    1      0          0\n  \
                    -> C0000202:0050      Masq    0      0          0\n\
                    TCP  C633640A:0052 rr\n";
        assert_eq!(
            parse_proc_table(text),
            table(&[(PLAIN, &[(RS2, 1), (RS1, 0)]), (QUORUM, &[])])
        );
    }

    /// The configuration passes keepalived-rs's check (`-t`), scripts included.
    #[test]
    fn the_configuration_is_accepted() {
        let rt = TempDir::new("checkvm-conf");
        let (dir, _) = scripts(&rt);
        let conf = rt.write("check.conf", &config(&dir));
        let out = Command::new(support::BIN)
            .arg("--config-test")
            .arg("-f")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}{}",
            fs::read_to_string(&conf).unwrap(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
