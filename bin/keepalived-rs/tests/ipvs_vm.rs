//! The whole daemon against a real IPVS: a Debian kernel under qemu (keepalived-vmtest),
//! with keepalived-rs and its three children (stripped copies of the debug executables,
//! at the paths they have on the host), iproute2's `ip`, ipvsadm and busybox inside.
//!
//! ```text
//!  ipvs_vm_tables (one boot)                 ipvs_vm_daemon (one boot)
//!  for each sample and reference.conf:       client ns ──veth── lvs ns (the daemon) ──veth── rs1 ns
//!    netns, start, `ipvsadm -Sn`,            198.51.100.2      VIP 198.51.100.10   └─veth── rs2 ns
//!    SIGTERM, table empty again                                                     (busybox httpd)
//!  the host compares the tables with         traffic in rr order, kill -9 of the writer (with and
//!  tests/ipvs_expected/<name>.txt            without hand changes), reload, kill -9 of the parent,
//!  (KARS_UPDATE_EXPECTED=1 rewrites them)    stop, -I, lvs_flush_on_stop, foreign entries kept,
//!                                            lvs_sync_daemon following its VRRP instance
//! ```
//!
//! Each test is both sides (keepalived-vmtest's pattern): on the host it builds and boots the
//! VM and checks the console; inside (`KARS_IN_VM=1`) it runs the checks. The writer logs one
//! line per reconcile that wrote something (`IPVS: N write(s), ...`) and, with `-D`, each
//! operation (`IPVS write: ...`): the tests count those.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keepalived_vmtest::{Vm, VmBuilder, in_vm};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use support::{Daemon, Launch, Netns, TempDir, build_dir};

/// A console line carrying one line of a table: `KARS-TABLE <name> [<line>]`.
const TABLE: &str = "KARS-TABLE";
/// The same for the table keepalived programs from the configuration
/// (`KARS_COMPARE_KEEPALIVED=1`).
const KEEPALIVED_TABLE: &str = "KARS-KTABLE";
/// Set (to 1) to also run Debian's keepalived on each configuration of the table test and
/// print how its table differs from ours (a check by hand, not an assertion).
const COMPARE_ENV: &str = "KARS_COMPARE_KEEPALIVED";
/// Where the configurations are in the VM.
const CONF_DIR: &str = "/etc/kars";
/// How long a VM may run.
const VM_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a step inside the VM may take (emulation is slow).
const STEP: Duration = Duration::from_secs(60);

/// The samples that hold virtual servers, and what has to change for keepalived-rs to load
/// them (each edit is the smallest that makes the configuration check pass).
const SAMPLES: &[(&str, Edit)] = &[
    ("HTTP_GET.port", Edit::None),
    ("IPv6", Edit::None),
    ("PING_CHECK", Edit::None),
    ("SMTP_CHECK", Edit::None),
    // `auth_type AH` is not supported: the VRRP instance goes, the virtual servers stay.
    ("SSL_GET", Edit::RemoveBlock("vrrp_instance VI_1")),
    ("UDP_CHECK", Edit::None),
    // keepalived ignores `protocol` in a fwmark service with a warning; keepalived-rs
    // refuses it.
    ("fwmark", Edit::RemoveLine("protocol TCP")),
    ("inhibit", Edit::None),
    // The scripts they name are put into the VM.
    ("misc_check", Edit::None),
    ("misc_check_arg", Edit::None),
    ("quorum", Edit::None),
    ("sample", Edit::None),
    ("status_code", Edit::None),
    ("virtual_server_group", Edit::None),
    ("virtualhost", Edit::None),
    // The sync group lists its members outside `group { }`: keepalived drops it with errors,
    // keepalived-rs refuses it.
    ("vrrp.lvs_syncd", Edit::RemoveBlock("vrrp_sync_group VG1")),
];

/// A change to a sample.
#[derive(Debug, Clone, Copy)]
enum Edit {
    None,
    /// Removes the block that starts on the line beginning with this text.
    RemoveBlock(&'static str),
    /// Removes the lines equal (trimmed) to this text.
    RemoveLine(&'static str),
}

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keepalived-samples")
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ipvs_expected")
}

fn edit(text: &str, e: Edit) -> String {
    match e {
        Edit::None => text.to_string(),
        Edit::RemoveLine(l) => text
            .lines()
            .filter(|x| x.trim() != l)
            .map(|x| format!("{x}\n"))
            .collect(),
        Edit::RemoveBlock(head) => {
            let mut out = String::new();
            let mut depth = 0i32;
            // Before the block, inside it, after it.
            let mut state = 0;
            for line in text.lines() {
                if state == 0 && line.trim_start().starts_with(head) {
                    state = 1;
                }
                if state == 1 {
                    depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
                    if depth <= 0 && line.contains('}') {
                        state = 2;
                    }
                    continue;
                }
                out.push_str(line);
                out.push('\n');
            }
            assert_eq!(state, 2, "no complete block {head:?} in the sample");
            out
        }
    }
}

/// The checker blocks, by their keyword.
const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

/// The configuration with every checker block removed. The table test is about the forms
/// of virtual servers: the real servers of the samples do not exist in the VM, and their
/// checks would take them out of the table while it is read (the checkers end to end are
/// check_vm.rs's). Without checkers every real server counts as up.
fn without_checkers(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if depth == 0 && CHECKERS.contains(&first) {
            depth = line.matches('{').count() as i32 - line.matches('}').count() as i32;
            continue;
        }
        if depth > 0 {
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn checker_blocks_are_removed_whole() {
    let text = "real_server 192.0.2.1 80 {\n    weight 2\n    HTTP_GET {\n        url {\n            path /\n        }\n    }\n    TCP_CHECK { connect_timeout 3 }\n}\n";
    assert_eq!(
        without_checkers(text),
        "real_server 192.0.2.1 80 {\n    weight 2\n}\n"
    );
}

// ------------------------------------------------------------------------------------------
// The VM
// ------------------------------------------------------------------------------------------

/// /etc/passwd and /etc/group with the children's users.
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

/// The modules the tests need, loaded before the test starts (the kernel would load the
/// schedulers on demand too).
const MODULES: &[&str] = &[
    "crc32c_generic",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "ip_vs_pe_sip",
    "veth",
];

/// The VM every test of this file boots: the daemon's four executables (stripped of their
/// debug information, into `staging`) at their host paths, `ip`, ipvsadm, the users, the
/// modules loaded.
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
    for m in MODULES {
        init.push_str(&format!("modprobe {m} || echo \"modprobe {m} failed\"\n"));
    }
    b.init(&init)
}

/// Boots a VM running the test `name` inside, and returns its console once it passed.
fn boot(b: VmBuilder, name: &str) -> keepalived_vmtest::Output {
    let vm = b.self_test(name).build().unwrap();
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
    out.assert_self_test_passed(name);
    out
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

/// A shell command in a network namespace.
fn nsh(ns: &Netns, cmd: &str) -> String {
    sh(&format!("/sbin/ip netns exec {} sh -c '{cmd}'", ns.name))
}

/// `ipvsadm -Sn` of a namespace, normalized: services sorted, each followed by its
/// destinations sorted (the kernel's order depends on its hash and on insertion).
fn table(ns: &Netns) -> String {
    normalize(&nsh(ns, "ipvsadm -Sn"))
}

fn normalize(text: &str) -> String {
    let mut services: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("-A ") {
            services.push((line.to_string(), Vec::new()));
        } else {
            services
                .last_mut()
                .unwrap_or_else(|| panic!("a destination before any service: {line}"))
                .1
                .push(line.to_string());
        }
    }
    for s in &mut services {
        s.1.sort();
    }
    services.sort();
    services
        .into_iter()
        .flat_map(|(s, d)| std::iter::once(s).chain(d))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Prints how long a step took (the host shows these lines).
fn step(name: &str, since: Instant) {
    println!("KARS-STEP {name}: {:.1} s", since.elapsed().as_secs_f64());
}

/// Sends a signal if the process still exists.
fn signal_if_alive(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

/// Waits for the writer's first (or `n`th) `IPVS table programmed` line; fails at once
/// when the daemon exits instead (a configuration it refuses).
fn wait_programmed(d: &mut Daemon, n: usize) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(l) = d.lines_with("IPVS table programmed").into_iter().nth(n - 1) {
            return l;
        }
        if let Some(status) = d.try_status() {
            d.fail(&format!(
                "the daemon exited ({status}) before programming the table"
            ));
        }
        if Instant::now() >= deadline {
            d.fail(&format!(
                "no IPVS table programmed line #{n} within {STEP:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `pid` is gone.
fn wait_gone(d: &Daemon, pid: i32, what: &str) {
    d.wait(what, STEP, || (!support::alive(pid)).then_some(()));
}

// ------------------------------------------------------------------------------------------
// a. Every virtual_server form of the samples and of the reference
// ------------------------------------------------------------------------------------------

/// The configurations of the table test: `sample-<suffix>` for each sample, `reference`.
fn table_configs() -> Vec<(String, String)> {
    let dir = samples_dir();
    let mut listed = Vec::new();
    let mut configs = Vec::new();
    for (suffix, e) in SAMPLES {
        let path = dir.join(format!("keepalived.conf.{suffix}"));
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (../shared/ beside the repository)", path.display())
        });
        configs.push((
            format!("sample-{suffix}"),
            without_checkers(&edit(&text, *e)),
        ));
        listed.push(format!("keepalived.conf.{suffix}"));
    }
    // Every sample with a virtual server is in SAMPLES.
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        let has_vs = text
            .lines()
            .any(|l| l.trim_start().starts_with("virtual_server "));
        if name.starts_with("keepalived.conf") && has_vs {
            assert!(
                listed.contains(&name),
                "{name} has virtual servers: add it to SAMPLES"
            );
        }
    }
    configs.push((
        "reference".to_string(),
        fs::read_to_string(expected_dir().join("reference.conf")).unwrap(),
    ));
    configs
}

#[test]
fn ipvs_vm_tables() {
    if in_vm() {
        return tables_in_vm();
    }
    let staging = TempDir::new("ipvsvm");
    let mut b = base_vm(&staging)
        // The scripts the samples name (the configuration check wants them to exist).
        .data("/usr/local/bin/script.sh", "#!/bin/sh\nexit 0\n", 0o755)
        .data("/usr/local/sbin/quorum-up.sh", "#!/bin/sh\nexit 0\n", 0o755)
        .data(
            "/usr/local/sbin/quorum-down.sh",
            "#!/bin/sh\nexit 0\n",
            0o755,
        );
    let compare = std::env::var_os(COMPARE_ENV).is_some_and(|v| v == "1");
    if compare {
        b = b
            .binary("/usr/sbin/keepalived", "/usr/sbin/keepalived")
            .init(&format!("export {COMPARE_ENV}=1"));
    }
    let configs = table_configs();
    for (name, text) in &configs {
        b = b.data(&format!("{CONF_DIR}/{name}.conf"), text.as_bytes(), 0o644);
    }
    let out = boot(b, "ipvs_vm_tables");
    let mut tables: BTreeMap<String, String> = BTreeMap::new();
    for v in out.values(TABLE) {
        let (name, line) = v.split_once(' ').unwrap_or((v, ""));
        let t = tables.entry(name.to_string()).or_default();
        if !line.is_empty() {
            t.push_str(line);
            t.push('\n');
        }
    }
    if compare {
        let mut theirs: BTreeMap<String, String> = BTreeMap::new();
        for v in out.values(KEEPALIVED_TABLE) {
            let (name, line) = v.split_once(' ').unwrap_or((v, ""));
            let t = theirs.entry(name.to_string()).or_default();
            if !line.is_empty() {
                t.push_str(line);
                t.push('\n');
            }
        }
        for (name, ours) in &tables {
            let k = theirs.get(name).map(String::as_str).unwrap_or("(none)\n");
            if k == ours {
                println!("keepalived: {name}: the same table");
            } else {
                println!(
                    "keepalived: {name}: differs\n--- keepalived-rs\n{ours}--- keepalived\n{k}"
                );
            }
        }
    }
    let update = std::env::var_os("KARS_UPDATE_EXPECTED").is_some_and(|v| v == "1");
    let mut wrong = Vec::new();
    for (name, _) in &configs {
        let got = tables
            .get(name)
            .unwrap_or_else(|| panic!("the VM printed no table for {name}:\n{}", out.indented()));
        let path = expected_dir().join(format!("{name}.txt"));
        if update {
            fs::write(&path, got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (KARS_UPDATE_EXPECTED=1 writes it)", path.display())
        });
        if normalize(&want) != *got {
            wrong.push(format!(
                "{name}: expected ({}):\n{want}got:\n{got}",
                path.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "tables differ:\n{}", wrong.join("\n"));
}

fn tables_in_vm() {
    // libtest printed `test ipvs_vm_tables ... ` without a line end.
    println!();
    let rt = TempDir::new("rt");
    let mut names: Vec<String> = fs::read_dir(CONF_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".conf").map(str::to_string))
        .collect();
    names.sort();
    for name in names {
        let t0 = Instant::now();
        let conf = PathBuf::from(format!("{CONF_DIR}/{name}.conf"));
        let text = fs::read_to_string(&conf).unwrap();
        let ns = Netns::new("t");
        if text.contains("vrrp_instance") {
            // The interfaces the samples' VRRP instances name.
            for i in ["eth0", "eth1"] {
                sh(&format!(
                    "/sbin/ip -n {n} link add {i} type veth peer name {i}p && \
                     /sbin/ip -n {n} link set {i} up && /sbin/ip -n {n} link set {i}p up",
                    n = ns.name
                ));
            }
        }
        let mut d = Launch::new(&ns, &conf, rt.path()).arg("-D").start();
        let programmed = wait_programmed(&mut d, 1);
        let t = table(&ns);
        if t.is_empty() {
            println!("{TABLE} {name}");
        }
        for l in t.lines() {
            println!("{TABLE} {name} {l}");
        }
        if name == "reference" {
            // Linux 6.1 has no twos scheduler: the failure names the service, the rest is
            // in place.
            d.check(
                d.log().contains("add service TCP 192.0.2.30:80: "),
                "no error line for the twos service",
            );
            // Thresholds are not in `ipvsadm -Sn`.
            let th = nsh(&ns, "ipvsadm -Ln --thresholds -t 192.0.2.60:80");
            d.check(
                th.lines().any(|l| {
                    l.contains("198.51.100.60:80") && l.contains("100") && l.contains("10")
                }),
                &format!("thresholds of 192.0.2.60:80 missing:\n{th}"),
            );
        }
        d.signal(Signal::SIGTERM);
        d.wait_exit(STEP);
        let after = table(&ns);
        d.check(
            after.is_empty(),
            &format!("{name}: the table is not empty after a clean stop:\n{after}"),
        );
        println!("KARS-INFO {name}: {programmed}");
        if std::env::var_os(COMPARE_ENV).is_some() {
            keepalived_table(&ns, &name, &conf);
        }
        step(&name, t0);
    }
}

/// Runs keepalived's checker process on a configuration until its table stops changing,
/// prints that table, and stops it.
fn keepalived_table(ns: &Netns, name: &str, conf: &Path) {
    let mut k = Command::new("/sbin/ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "/usr/sbin/keepalived",
            "-C",
            "-n",
            "-l",
            "-f",
        ])
        .arg(conf)
        .args([
            "-p",
            &format!("/tmp/ka-{name}.pid"),
            "-c",
            &format!("/tmp/kc-{name}.pid"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = String::new();
    let mut stable = 0;
    let deadline = Instant::now() + STEP;
    while stable < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let t = table(ns);
        if t == last && !t.is_empty() {
            stable += 1;
        } else {
            stable = 0;
        }
        last = t;
    }
    if last.is_empty() {
        println!("{KEEPALIVED_TABLE} {name}");
    }
    for l in last.lines() {
        println!("{KEEPALIVED_TABLE} {name} {l}");
    }
    let _ = kill(Pid::from_raw(k.id() as i32), Signal::SIGTERM);
    let _ = k.wait();
    // keepalived leaves nothing when it stops cleanly; flush in case it did not.
    let _ = nsh(ns, "ipvsadm -C");
}

// ------------------------------------------------------------------------------------------
// b-d. Traffic, crashes, reload, stop, the sync daemon
// ------------------------------------------------------------------------------------------

/// The lab's configuration: the web service the client reaches, and two more.
const LAB_CONF: &str = "global_defs {
    router_id lab
    @FLUSH@
}

virtual_server 198.51.100.10 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 192.0.2.2 80 {
        weight 1
    }
    real_server 192.0.2.18 80 {
        weight @WEIGHT@
    }
}

virtual_server 198.51.100.10 443 {
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    real_server 192.0.2.2 443 {
        weight 2
    }
    real_server 192.0.2.18 443 {
        weight 3
    }
}

virtual_server fwmark 5 {
    lvs_sched sh
    lvs_method DR
    real_server 192.0.2.3 {
        weight 1
    }
}
";

/// What LAB_CONF programs (weight 1).
const LAB_TABLE: &str = "-A -f 5 -s sh
-a -f 5 -r 192.0.2.3:0 -g -w 1
-A -t 198.51.100.10:80 -s rr
-a -t 198.51.100.10:80 -r 192.0.2.18:80 -m -w 1
-a -t 198.51.100.10:80 -r 192.0.2.2:80 -m -w 1
-A -t 198.51.100.10:443 -s wlc
-a -t 198.51.100.10:443 -r 192.0.2.18:443 -m -w 3
-a -t 198.51.100.10:443 -r 192.0.2.2:443 -m -w 2
";

/// The entries added by hand, which the daemon must leave alone.
const FOREIGN: &[&str] = &[
    "ipvsadm -A -t 198.51.100.20:80 -s rr",
    "ipvsadm -a -t 198.51.100.20:80 -r 192.0.2.9:80 -m -w 7",
    "ipvsadm -A -f 99 -s wrr",
];
const FOREIGN_TABLE: &str = "-A -f 99 -s wrr
-A -t 198.51.100.20:80 -s rr
-a -t 198.51.100.20:80 -r 192.0.2.9:80 -m -w 7
";

/// The lvs_sync_daemon configuration: a VRRP instance on the client side.
const SYNC_CONF: &str = "global_defs {
    router_id sync
    lvs_sync_daemon c1 VI_1
}

vrrp_instance VI_1 {
    state MASTER
    interface c1
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.51.100.11/24
    }
}

virtual_server 198.51.100.11 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 192.0.2.2 80 {
        weight 1
    }
}
";

fn lab_conf(weight: u32, flush_on_stop: bool) -> String {
    LAB_CONF.replace("@WEIGHT@", &weight.to_string()).replace(
        "@FLUSH@",
        if flush_on_stop {
            "lvs_flush_on_stop"
        } else {
            ""
        },
    )
}

/// The namespaces of the lab, and the HTTP servers (killed on drop).
struct Lab {
    lvs: Netns,
    client: Netns,
    _rs: Vec<Netns>,
    httpd: Vec<Child>,
    _www: TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.httpd {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// client 198.51.100.2 --- c1 198.51.100.1 (+ VIP .10) [lvs] r1 192.0.2.1/28 --- rs1
/// 192.0.2.2, r2 192.0.2.17/28 --- rs2 192.0.2.18; each real server answers HTTP with its
/// name.
fn lab() -> Lab {
    let lvs = Netns::new("lvs");
    let client = Netns::new("cl");
    let rs = vec![Netns::new("rs1"), Netns::new("rs2")];
    let www = TempDir::new("www");
    sh(&format!(
        "/sbin/ip link add c1 netns {l} type veth peer name c0 netns {c} && \
         /sbin/ip -n {l} addr add 198.51.100.1/24 dev c1 && \
         /sbin/ip -n {l} addr add 198.51.100.10/24 dev c1 && /sbin/ip -n {l} link set c1 up && \
         /sbin/ip -n {c} addr add 198.51.100.2/24 dev c0 && /sbin/ip -n {c} link set c0 up && \
         /sbin/ip netns exec {l} sysctl -qw net.ipv4.ip_forward=1",
        l = lvs.name,
        c = client.name
    ));
    let mut httpd = Vec::new();
    for (i, (ns, (gw, addr))) in rs
        .iter()
        .zip([("192.0.2.1", "192.0.2.2"), ("192.0.2.17", "192.0.2.18")])
        .enumerate()
    {
        let n = i + 1;
        sh(&format!(
            "/sbin/ip link add r{n} netns {l} type veth peer name eth0 netns {r} && \
             /sbin/ip -n {l} addr add {gw}/28 dev r{n} && /sbin/ip -n {l} link set r{n} up && \
             /sbin/ip -n {r} addr add {addr}/28 dev eth0 && /sbin/ip -n {r} link set eth0 up && \
             /sbin/ip -n {r} route add default via {gw}",
            l = lvs.name,
            r = ns.name
        ));
        let dir = www.join(&format!("rs{n}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.html"), format!("rs{n}\n")).unwrap();
        httpd.push(
            Command::new("ip")
                .args([
                    "netns", "exec", &ns.name, "busybox", "httpd", "-f", "-p", "80", "-h",
                ])
                .arg(&dir)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    // The servers answer (directly, not through IPVS).
    for (n, addr) in [(1, "192.0.2.2"), (2, "192.0.2.18")] {
        let mut last = String::new();
        let ok = support::poll_until(STEP, || {
            let answer = http_get(&lvs, addr);
            let ok = answer.as_deref() == Ok(format!("rs{n}").as_str());
            last = format!("{answer:?}");
            ok.then_some(())
        });
        assert!(
            ok.is_some(),
            "rs{n} does not answer HTTP: {last}\n{}",
            sh(&format!(
                "/sbin/ip -n {l} addr; /sbin/ip -n {r} addr; /sbin/ip netns exec {r} netstat -ltn",
                l = lvs.name,
                r = rs[n - 1].name
            ))
        );
    }
    Lab {
        lvs,
        client,
        _rs: rs,
        httpd,
        _www: www,
    }
}

/// An HTTP GET of `/` from a namespace (busybox's nc: its static wget crashes in the VM);
/// the body, trimmed, or what went wrong.
fn http_get(ns: &Netns, addr: &str) -> Result<String, String> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /sbin/ip netns exec {} nc -w 5 {addr} 80",
            ns.name
        ))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    match text.split_once("\n\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.trim().to_string())
        }
        _ => Err(format!(
            "{}: {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The client's answers to `n` requests for the VIP.
fn requests(lab: &Lab, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| http_get(&lab.client, "198.51.100.10").unwrap_or_else(|e| format!("error: {e}")))
        .collect()
}

/// The `IPVS write:` lines of the log from the `from`th on.
fn writes_since(d: &Daemon, from: usize) -> Vec<String> {
    d.lines_with("IPVS write: ")
        .into_iter()
        .skip(from)
        .map(|l| {
            l.split("IPVS write: ")
                .nth(1)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn assert_table(d: &Daemon, ns: &Netns, want: &str, what: &str) {
    let got = table(ns);
    let want = normalize(want);
    d.check(
        got == want,
        &format!("{what}: the table is\n{got}instead of\n{want}"),
    );
}

#[test]
fn ipvs_vm_daemon() {
    if in_vm() {
        return daemon_in_vm();
    }
    let staging = TempDir::new("ipvsvm");
    let b = base_vm(&staging)
        .data(&format!("{CONF_DIR}/lab.conf"), lab_conf(1, false), 0o644)
        .data(&format!("{CONF_DIR}/sync.conf"), SYNC_CONF, 0o644);
    boot(b, "ipvs_vm_daemon");
}

fn daemon_in_vm() {
    println!();
    let t0 = Instant::now();
    let lab = lab();
    step("lab", t0);
    let rt = TempDir::new("rt");
    let conf = rt.write("lab.conf", &lab_conf(1, false));
    let ours_and_foreign = format!("{LAB_TABLE}{FOREIGN_TABLE}");
    for c in FOREIGN {
        nsh(&lab.lvs, c);
    }

    // Start: the whole table in one write per entry, foreign entries untouched.
    let t = Instant::now();
    let mut d = Launch::new(&lab.lvs, &conf, rt.path()).arg("-D").start();
    let line = wait_programmed(&mut d, 1);
    d.check(
        line.contains(" 3 service(s) managed, 8 write(s), 0 failure(s)"),
        &format!("start: {line}"),
    );
    assert_table(&d, &lab.lvs, &ours_and_foreign, "after start");
    step("start", t);

    // b. Traffic through the VIP, round robin: the two servers alternate.
    let t = Instant::now();
    let answers = requests(&lab, 4);
    d.check(
        answers[0] != answers[1]
            && answers[0] == answers[2]
            && answers[1] == answers[3]
            && answers.iter().all(|a| a == "rs1" || a == "rs2"),
        &format!("rr answers: {answers:?}"),
    );
    step("traffic", t);

    // c1. kill -9 of the writer, nothing changed: respawned, zero writes.
    let t = Instant::now();
    let writer = d.child_pid("ipvs");
    let mark = d.lines_with("IPVS write: ").len();
    signal_if_alive(writer, Signal::SIGKILL);
    let writer2 = d.wait_pid_in(&d.pidfile("ipvs"), Some(writer), STEP);
    let line = wait_programmed(&mut d, 2);
    d.check(
        line.contains(" 0 write(s), 0 failure(s)"),
        &format!("respawn without change: {line}"),
    );
    d.check(
        writes_since(&d, mark).is_empty(),
        &format!("writes after the respawn: {:?}", writes_since(&d, mark)),
    );
    assert_table(&d, &lab.lvs, &ours_and_foreign, "after a respawn");
    step("writer kill -9, no change", t);

    // c2. Changed by hand while the writer is stopped, then kill -9: exactly the repairs.
    let t = Instant::now();
    let mark = d.lines_with("IPVS write: ").len();
    signal_if_alive(writer2, Signal::SIGSTOP);
    nsh(
        &lab.lvs,
        "ipvsadm -e -t 198.51.100.10:80 -r 192.0.2.2:80 -m -w 5 && \
         ipvsadm -d -t 198.51.100.10:443 -r 192.0.2.18:443 && ipvsadm -D -f 5",
    );
    signal_if_alive(writer2, Signal::SIGKILL);
    d.wait_pid_in(&d.pidfile("ipvs"), Some(writer2), STEP);
    let line = wait_programmed(&mut d, 3);
    d.check(
        line.contains(" 4 write(s), 0 failure(s)"),
        &format!("respawn after hand changes: {line}"),
    );
    let mut repairs = writes_since(&d, mark);
    repairs.sort();
    let want = [
        "add real server 192.0.2.18:443 to TCP 198.51.100.10:443",
        "add real server 192.0.2.3:0 to FWM 5",
        "add service FWM 5",
        "edit real server 192.0.2.2:80 of TCP 198.51.100.10:80",
    ];
    d.check(
        repairs.len() == want.len() && repairs.iter().zip(want).all(|(got, w)| got.starts_with(w)),
        &format!("repairs: {repairs:?}, expected {want:?}"),
    );
    assert_table(&d, &lab.lvs, &ours_and_foreign, "after the repairs");
    step("writer kill -9 after hand changes", t);

    // c3. Reload with one real server's weight changed: one operation. Then a reload with
    // nothing changed: none.
    let t = Instant::now();
    let mark = d.lines_with("IPVS write: ").len();
    fs::write(&conf, lab_conf(2, false)).unwrap();
    d.signal(Signal::SIGHUP);
    let line = d.wait_for_log("IPVS: 1 write(s)", STEP);
    d.check(line.contains("0 failure(s)"), &line);
    let ops = writes_since(&d, mark);
    d.check(
        ops.len() == 1
            && ops[0].starts_with("edit real server 192.0.2.18:80 of TCP 198.51.100.10:80"),
        &format!("reload: {ops:?}"),
    );
    let reweighted = format!("{LAB_TABLE}{FOREIGN_TABLE}")
        .replace("-r 192.0.2.18:80 -m -w 1", "-r 192.0.2.18:80 -m -w 2");
    assert_table(&d, &lab.lvs, &reweighted, "after the reload");
    let applied = d.lines_with("configuration applied").len();
    d.signal(Signal::SIGHUP);
    d.wait_for_nth_log("configuration applied", applied + 1, STEP);
    // The reconcile runs in the same batch as the configuration: give it a moment.
    std::thread::sleep(Duration::from_millis(500));
    d.check(
        writes_since(&d, mark).len() == 1,
        &format!(
            "a reload without change wrote: {:?}",
            writes_since(&d, mark)
        ),
    );
    let answers = requests(&lab, 2);
    d.check(
        answers[0] != answers[1],
        &format!("rr answers: {answers:?}"),
    );
    step("reload", t);

    // c4. kill -9 of the parent: the children go, the table stays; the next start adopts it
    // with zero writes.
    let t = Instant::now();
    let writer = d.child_pid("ipvs");
    d.signal(Signal::SIGKILL);
    d.wait_exit(STEP);
    // (Its last words went to the parent's log pipe, closed with the parent.)
    wait_gone(&d, writer, "the writer to exit after its parent");
    assert_table(&d, &lab.lvs, &reweighted, "after the parent's death");
    drop(d);
    let mut d = Launch::new(&lab.lvs, &conf, rt.path()).arg("-D").start();
    let line = wait_programmed(&mut d, 1);
    d.check(
        line.contains(" 3 service(s) managed, 0 write(s), 0 failure(s)"),
        &format!("start after the parent's death: {line}"),
    );
    assert_table(&d, &lab.lvs, &reweighted, "after the adoption");
    step("parent kill -9, restart", t);

    // c5. Clean stop: exactly ours removed (one DEL_SERVICE each).
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    d.wait_exit(STEP);
    d.check(
        d.log().contains("IPVS stop: 3 write(s), 0 failure(s)"),
        "the stop did not write 3 operations",
    );
    assert_table(&d, &lab.lvs, FOREIGN_TABLE, "after a clean stop");
    drop(d);
    step("stop", t);

    // c6. -I: the table stays after the stop.
    let t = Instant::now();
    fs::write(&conf, lab_conf(1, false)).unwrap();
    let mut d = Launch::new(&lab.lvs, &conf, rt.path())
        .arg("-D")
        .arg("-I")
        .start();
    let line = wait_programmed(&mut d, 1);
    d.check(line.contains(" 8 write(s)"), &line);
    d.signal(Signal::SIGTERM);
    d.wait_exit(STEP);
    assert_table(&d, &lab.lvs, &ours_and_foreign, "after a stop with -I");
    drop(d);
    step("stop -I", t);

    // c7. lvs_flush_on_stop: adopted with zero writes, then everything flushed, foreign
    // entries included.
    let t = Instant::now();
    fs::write(&conf, lab_conf(1, true)).unwrap();
    let mut d = Launch::new(&lab.lvs, &conf, rt.path()).arg("-D").start();
    let line = wait_programmed(&mut d, 1);
    d.check(line.contains(" 0 write(s)"), &line);
    d.signal(Signal::SIGTERM);
    d.wait_exit(STEP);
    d.check(
        writes_since(&d, 0) == ["flush"],
        &format!("stop with lvs_flush_on_stop: {:?}", writes_since(&d, 0)),
    );
    assert_table(&d, &lab.lvs, "", "after a stop with lvs_flush_on_stop");
    drop(d);
    step("lvs_flush_on_stop", t);

    // d. lvs_sync_daemon follows VI_1: the master sync daemon once it is MASTER, none after
    // the stop.
    let t = Instant::now();
    let sync = rt.write("sync.conf", SYNC_CONF);
    let mut d = Launch::new(&lab.lvs, &sync, rt.path()).arg("-D").start();
    wait_programmed(&mut d, 1);
    let daemons = d.wait("the master sync daemon", STEP, || {
        let out = nsh(&lab.lvs, "ipvsadm -L --daemon");
        (out.contains("master sync daemon (mcast=c1, syncid=51") && !out.contains("backup"))
            .then_some(out)
    });
    for l in daemons.lines() {
        println!("KARS-INFO {l}");
    }
    d.signal(Signal::SIGTERM);
    d.wait_exit(STEP);
    let out = nsh(&lab.lvs, "ipvsadm -L --daemon");
    d.check(
        out.trim().is_empty(),
        &format!("sync daemons after the stop: {out}"),
    );
    assert_table(&d, &lab.lvs, "", "after the sync test");
    step("lvs_sync_daemon", t);
}
