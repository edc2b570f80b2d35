//! IPVS benchmark: keepalived-rs against keepalived's checker process on a real IPVS, in
//! one qemu VM (keepalived-vmtest), on the same configuration.
//!
//! ```text
//!  host: ipvs-bench [--runs N]                VM (one boot, 2 GiB, TCG)
//!  ┌──────────────────────────────┐ initramfs ┌──────────────────────────────────────────┐
//!  │ configs: V virtual servers   │──────────▶│ ipvs-bench --in-vm: run by run, the two  │
//!  │   x R real servers, and the  │ + release │ daemons in turn (alternating who starts):│
//!  │   same with one weight       │ binaries, │  start  -> table complete                │
//!  │   changed                    │ keepalived│  SIGHUP -> the changed weight visible    │
//!  │ summary: median, min-max,    │◀──────────│  SIGTERM-> table empty, daemon gone      │
//!  │ ratios, one JSON line        │ KARS-BENCH│ then one run of each under strace -f:    │
//!  └──────────────────────────────┘ lines     │  netlink messages per phase              │
//!                                             └──────────────────────────────────────────┘
//! ```
//!
//! The table is watched cheaply so that the watching does not slow the daemons down on the
//! VM's single CPU: the number of services is the reference count of the `ip_vs_rr` module
//! (each rr service holds one), and both daemons add a service's destinations right after
//! it, in configuration order, which is also keepalived-rs's key order; so the table is
//! complete when every service exists and the last one has all its destinations. That is
//! then checked on a full dump (not timed). The reload is seen on the changed destination,
//! the stop when no service is left.
//!
//! keepalived-rs reports its netlink writes, messages and datagrams itself (its IPVS
//! writer's log lines); keepalived's are counted under `strace -f`, in a separate run
//! (ptrace slows a process down), and keepalived-rs is counted there too, as a cross-check.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use keepalived_ipvs::model::{DestKey, Protocol, ServiceKey};
use keepalived_ipvs::socket::IpvsSocket;
use keepalived_vmtest::{Vm, in_vm};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// A console line carrying one result as JSON.
const RESULT: &str = "KARS-BENCH";
/// Where the daemons' executables go in the VM.
const OPT: &str = "/opt/kars";
/// The configurations in the VM.
const START_CONF: &str = "/etc/bench/start.conf";
const RELOAD_CONF: &str = "/etc/bench/reload.conf";
/// The file each daemon reads (the start configuration, then the reload one).
const WORK_CONF: &str = "/tmp/bench.conf";
/// The scheduler of every service (its module's reference count is the service count).
const SCHED_REFCNT: &str = "/sys/module/ip_vs_rr/refcnt";
/// The port of every real server.
const RS_PORT: u16 = 8080;

/// The users the daemons run their processes as.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
keepalived-rs-vrrp:x:990:990::/nonexistent:/sbin/nologin\n\
keepalived-rs-check:x:991:991::/nonexistent:/sbin/nologin\n\
keepalived-rs-ipvs:x:992:992::/nonexistent:/sbin/nologin\n\
keepalived_script:x:993:993::/nonexistent:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nkeepalived-rs-vrrp:x:990:\nkeepalived-rs-check:x:991:\n\
keepalived-rs-ipvs:x:992:\nkeepalived_script:x:993:\nnogroup:x:65534:\n";

/// IPVS benchmark: V virtual servers x R real servers programmed from an empty table, a
/// reload with one weight changed, a stop; keepalived-rs and keepalived in one qemu VM.
#[derive(Debug, Clone, Parser)]
#[command(name = "ipvs-bench")]
struct Args {
    /// Measured runs of each daemon.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Virtual servers.
    #[arg(long, default_value_t = 2000)]
    virtual_servers: usize,
    /// Real servers per virtual server.
    #[arg(long, default_value_t = 20)]
    real_servers: usize,
    /// How many of keepalived's runs measure its stop (the others end it with SIGKILL and
    /// a flush, to save time); default: all.
    #[arg(long)]
    keepalived_stop_runs: Option<usize>,
    /// Only keepalived-rs.
    #[arg(long)]
    no_keepalived: bool,
    /// No counting run under strace.
    #[arg(long)]
    no_strace: bool,
    /// The directory of the release executables (default: this program's).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The VM's memory, MiB.
    #[arg(long, default_value_t = 2048)]
    memory: u32,
    /// Each phase's time limit, seconds.
    #[arg(long, default_value_t = 900)]
    phase_limit: u64,
    /// The whole VM's time limit, seconds.
    #[arg(long, default_value_t = 7200)]
    timeout: u64,
    /// Saves the VM's console here.
    #[arg(long)]
    console: Option<PathBuf>,
    /// (Inside the VM.)
    #[arg(long, hide = true)]
    in_vm: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.in_vm || in_vm() {
        inside(&args)
    } else {
        host(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipvs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ------------------------------------------------------------------------------------------
// The configuration
// ------------------------------------------------------------------------------------------

/// The address and port of virtual server `i` (0-based): 203.0.113.1.. with consecutive
/// ports from 80, so that the configuration's order is the keys' order.
fn vs_addr(i: usize, total: usize) -> (String, u16) {
    let per_addr = total.div_ceil(250).max(1);
    (
        format!("203.0.113.{}", 1 + i / per_addr),
        80 + (i % per_addr) as u16,
    )
}

/// The address of real server `j` (0-based).
fn rs_addr(j: usize) -> String {
    format!("192.0.2.{}", 1 + j)
}

/// The (virtual server, real server) whose weight the reload changes from 1 to 2.
fn changed(args: &Args) -> (usize, usize) {
    (args.virtual_servers / 2, args.real_servers / 2)
}

/// The configuration, with the changed weight or not. `child_wait_time` lets keepalived's
/// parent wait for its checker's cleanup on stop (its default, 5 s, is too short for this
/// table under emulation: the checker is killed with most of the table still there).
fn config(args: &Args, reload: bool) -> String {
    let mut s =
        String::from("child_wait_time 1000\n\nglobal_defs {\n    router_id ipvs_bench\n}\n\n");
    let (cv, cr) = changed(args);
    for i in 0..args.virtual_servers {
        let (addr, port) = vs_addr(i, args.virtual_servers);
        s.push_str(&format!(
            "virtual_server {addr} {port} {{\n    lvs_sched rr\n    lvs_method NAT\n    \
             protocol TCP\n"
        ));
        for j in 0..args.real_servers {
            let w = if reload && (i, j) == (cv, cr) { 2 } else { 1 };
            s.push_str(&format!(
                "    real_server {} {RS_PORT} {{\n        weight {w}\n    }}\n",
                rs_addr(j)
            ));
        }
        s.push_str("}\n");
    }
    s
}

fn service_key(i: usize, total: usize) -> ServiceKey {
    let (addr, port) = vs_addr(i, total);
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: addr.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        port,
    }
}

fn dest_key(j: usize) -> DestKey {
    DestKey {
        addr: rs_addr(j)
            .parse()
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        port: RS_PORT,
    }
}

// ------------------------------------------------------------------------------------------
// The host: build the VM, run it, summarise
// ------------------------------------------------------------------------------------------

fn host(args: &Args) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => me
            .parent()
            .ok_or("this program has no directory")?
            .to_path_buf(),
    };
    let staging = Staging::new()?;
    let mut b = Vm::builder()
        .memory(args.memory)
        .ipvsadm()
        .binary("/usr/sbin/keepalived", "/usr/sbin/keepalived")
        .data("/etc/passwd", PASSWD, 0o644)
        .data("/etc/group", GROUP, 0o644)
        .data(START_CONF, config(args, false), 0o644)
        .data(RELOAD_CONF, config(args, true), 0o644);
    if !args.no_strace {
        b = b.binary("/usr/bin/strace", "/usr/bin/strace");
    }
    for exe in [
        "keepalived-rs",
        "keepalived-rs-vrrp",
        "keepalived-rs-check",
        "keepalived-rs-ipvs",
    ] {
        let from = bin_dir.join(exe);
        if !from.is_file() {
            return Err(format!(
                "{} is missing: build the release executables first (bench/ipvs/run does)",
                from.display()
            ));
        }
        let stripped = staging.0.join(exe);
        let out = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&stripped)
            .arg(&from)
            .output()
            .map_err(|e| format!("strip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "strip {}: {}",
                from.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        b = b.binary(&stripped, &format!("{OPT}/{exe}"));
    }
    let mut inner = vec![
        format!("--runs {}", args.runs),
        format!("--virtual-servers {}", args.virtual_servers),
        format!("--real-servers {}", args.real_servers),
        format!("--phase-limit {}", args.phase_limit),
    ];
    if let Some(k) = args.keepalived_stop_runs {
        inner.push(format!("--keepalived-stop-runs {k}"));
    }
    if args.no_keepalived {
        inner.push("--no-keepalived".into());
    }
    if args.no_strace {
        inner.push("--no-strace".into());
    }
    let b = b.binary(&me, "/bin/ipvs-bench").init(&format!(
        "modprobe crc32c_generic && modprobe ip_vs && modprobe ip_vs_rr\n\
         cd /tmp && KARS_IN_VM=1 /bin/ipvs-bench --in-vm {}\n\
         echo \"KARS-BENCH-EXIT $?\"\n",
        inner.join(" ")
    ));
    let vm = b.build().map_err(|e| e.to_string())?;
    eprintln!(
        "ipvs-bench: booting the VM ({} virtual servers x {} real servers, {} run(s) each)",
        args.virtual_servers, args.real_servers, args.runs
    );
    let out = vm
        .run(Duration::from_secs(args.timeout))
        .map_err(|e| e.to_string())?;
    if let Some(p) = &args.console {
        fs::write(p, &out.console).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let status = out.values("KARS-BENCH-EXIT").next().map(str::trim);
    if out.timed_out || status != Some("0") {
        return Err(format!(
            "the VM run failed (timed out: {}, status {status:?}); console:\n{}",
            out.timed_out,
            out.indented()
        ));
    }
    let results: Vec<Value> = out
        .values(RESULT)
        .filter_map(|v| serde_json::from_str(v).ok())
        .collect();
    summarise(args, &results);
    Ok(())
}

/// A host folder removed on drop.
struct Staging(PathBuf);

impl Staging {
    fn new() -> Result<Staging, String> {
        let p = std::env::temp_dir().join(format!("ipvs-bench-{}", std::process::id()));
        fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(Staging(p))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Median, min and max.
fn stats(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some((median, s[0], s[n - 1]))
}

fn summarise(args: &Args, results: &[Value]) {
    let runs = |imp: &str| -> Vec<&Value> {
        results
            .iter()
            .filter(|r| r["kind"] == "run" && r["impl"] == imp)
            .collect()
    };
    let ours = runs("keepalived-rs");
    let theirs = runs("keepalived");
    println!(
        "\nIPVS benchmark: {} virtual servers x {} real servers ({} entries), {} run(s) each",
        args.virtual_servers,
        args.real_servers,
        args.virtual_servers * (args.real_servers + 1),
        args.runs
    );
    let metrics: &[(&str, &str, &str)] = &[
        ("start_s", "start: table complete", "s"),
        ("reload_s", "reload: change visible", "s"),
        ("stop_s", "stop: table empty", "s"),
        ("exit_s", "stop: daemon exited", "s"),
        ("rss_kib", "RSS after start (all processes)", "KiB"),
        ("rss_reload_kib", "RSS after reload", "KiB"),
        ("hwm_kib", "peak RSS (VmHWM, all processes)", "KiB"),
    ];
    let mut summary = serde_json::Map::new();
    println!(
        "{:<34} {:>24} {:>24} {:>8}",
        "", "keepalived-rs", "keepalived", "ratio"
    );
    for (key, label, unit) in metrics {
        let pick =
            |v: &[&Value]| -> Vec<f64> { v.iter().filter_map(|r| r[*key].as_f64()).collect() };
        let a = stats(&pick(&ours));
        let b = stats(&pick(&theirs));
        let show = |s: Option<(f64, f64, f64)>, n: usize| match s {
            Some((m, lo, hi)) => format!("{m:.2} ({lo:.2}-{hi:.2}) n={n}"),
            None => "-".to_string(),
        };
        let ratio = match (a, b) {
            (Some((x, ..)), Some((y, ..))) if y > 0.0 => Some(x / y),
            _ => None,
        };
        println!(
            "{:<34} {:>24} {:>24} {:>8}",
            format!("{label} ({unit})"),
            show(a, pick(&ours).len()),
            show(b, pick(&theirs).len()),
            ratio
                .map(|r| format!("{r:.3}"))
                .unwrap_or_else(|| "-".into())
        );
        summary.insert(
            key.to_string(),
            json!({
                "keepalived-rs": a.map(|(m, lo, hi)| json!({"median": m, "min": lo, "max": hi})),
                "keepalived": b.map(|(m, lo, hi)| json!({"median": m, "min": lo, "max": hi})),
                "ratio": ratio,
            }),
        );
    }
    // Entries left behind by a stop.
    for (name, v) in [("keepalived-rs", &ours), ("keepalived", &theirs)] {
        let left: Vec<u64> = v
            .iter()
            .filter_map(|r| r["left_entries"].as_u64())
            .collect();
        if left.iter().any(|n| *n > 0) {
            println!("{name}: entries left in the table after its stop: {left:?}");
        }
    }
    // keepalived-rs's own counters, per phase (the same every run: show the first).
    if let Some(r) = ours.first() {
        println!("\nkeepalived-rs's IPVS writer, per phase (its own counters):");
        for phase in ["start", "reload", "stop"] {
            let c = &r["counters"][phase];
            println!(
                "  {phase:<6} {} write(s), {} failure(s), {} netlink message(s) in {} datagram(s)",
                c["writes"], c["failures"], c["messages"], c["datagrams"]
            );
        }
        summary.insert("keepalived-rs_counters".into(), r["counters"].clone());
    }
    for r in results.iter().filter(|r| r["kind"] == "strace") {
        println!(
            "\n{} under strace -f (netlink messages to the IPVS family, per phase):",
            r["impl"].as_str().unwrap_or("?")
        );
        for phase in ["start", "reload", "stop"] {
            let p = &r["phases"][phase];
            println!(
                "  {phase:<6} {} operation(s), {} IPVS message(s) ({} to generic netlink) in {} \
                 datagram(s); {}",
                p["operations"], p["ipvs_messages"], p["messages"], p["datagrams"], p["commands"]
            );
        }
        summary.insert(
            format!("strace_{}", r["impl"].as_str().unwrap_or("?")),
            r["phases"].clone(),
        );
    }
    for r in results.iter().filter(|r| r["kind"] == "processes") {
        println!(
            "\n{}: {}",
            r["impl"].as_str().unwrap_or("?"),
            r["processes"]
        );
    }
    let all = json!({
        "benchmark": "ipvs",
        "virtual_servers": args.virtual_servers,
        "real_servers": args.real_servers,
        "runs": args.runs,
        "summary": summary,
        "results": results,
    });
    println!("\n{all}");
}

// ------------------------------------------------------------------------------------------
// Inside the VM
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Rs,
    Ka,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Rs => "keepalived-rs",
            Impl::Ka => "keepalived",
        }
    }

    /// The daemon's command line (after an optional strace prefix).
    fn command(self) -> Vec<String> {
        let v: Vec<&str> = match self {
            Impl::Rs => vec![
                "/opt/kars/keepalived-rs",
                "-n",
                "-l",
                "-G",
                "-f",
                WORK_CONF,
                "--runtime-dir",
                "/run/kars",
                "--libexec-dir",
                OPT,
            ],
            Impl::Ka => vec![
                "/usr/sbin/keepalived",
                "-C",
                "-n",
                "-l",
                "-D",
                "-G",
                "-f",
                WORK_CONF,
                "-p",
                "/run/keepalived.pid",
                "-c",
                "/run/keepalived-checkers.pid",
            ],
        };
        v.into_iter().map(String::from).collect()
    }
}

/// A running daemon: its process, and its log (stderr) as it arrives.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Running {
    fn start(imp: Impl, strace: Option<&str>) -> Result<Running, String> {
        let mut argv: Vec<String> = Vec::new();
        if let Some(out) = strace {
            argv.extend(
                [
                    "/usr/bin/strace",
                    "-f",
                    "--seccomp-bpf",
                    "-yy",
                    "-ttt",
                    // Also the most array elements shown: every message of a datagram
                    // (the writer sends at most 64 per datagram).
                    "-s",
                    "80",
                    "-e",
                    "trace=sendmsg,sendto",
                    "-o",
                    out,
                ]
                .map(String::from),
            );
        }
        argv.extend(imp.command());
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", argv[0]))?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = Arc::clone(&log);
            let t0 = Instant::now();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = sink.lock() {
                        // When it arrived, for the milestones of a run.
                        l.push_str(&format!("[{:.3}] ", t0.elapsed().as_secs_f64()));
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        Ok(Running { child, log })
    }

    /// Whether it exited (not reaped: a later wait still sees it).
    fn exited(&self) -> bool {
        fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .map(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.trim_start().chars().next())
                    .is_some_and(|c| c == 'Z' || c == 'X')
            })
            .unwrap_or(true)
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The daemon's processes: the one started and its descendants (under strace, the
    /// daemon is strace's child: strace itself is left out).
    fn processes(&self, strace: bool) -> Vec<i32> {
        let parents = ppids();
        let mut out = vec![self.pid()];
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(parents.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
            i += 1;
        }
        if strace {
            out.remove(0);
        }
        out
    }

    fn signal(&self, s: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), s);
    }

    /// Waits for the exit; false at the limit.
    fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Kills it and everything it started.
    fn kill_all(&mut self) {
        for p in self.processes(false) {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// pid -> parent pid, from /proc.
fn ppids() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The fields after the command name (in parentheses): state, ppid, ...
            if let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
            {
                map.insert(pid, ppid);
            }
        }
    }
    map
}

/// (name, VmRSS KiB, VmHWM KiB) of a process.
fn memory(pid: i32) -> Option<(String, u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(k))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let name = status
        .lines()
        .find(|l| l.starts_with("Name:"))?
        .split_whitespace()
        .nth(1)?
        .to_string();
    Some((
        name,
        field("VmRSS:").unwrap_or(0),
        field("VmHWM:").unwrap_or(0),
    ))
}

fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The number of services (each holds a reference on its scheduler's module).
fn services() -> usize {
    fs::read_to_string(SCHED_REFCNT)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `f` every 5 ms until it is true; the time it took, or None at the limit.
fn until(since: Instant, limit: Duration, mut f: impl FnMut() -> bool) -> Option<f64> {
    loop {
        if f() {
            return Some(since.elapsed().as_secs_f64());
        }
        if since.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The weights of a service's destinations (empty when it does not exist).
fn weights(sock: &mut IpvsSocket, key: &ServiceKey) -> BTreeMap<DestKey, u32> {
    sock.dests_with_stats(key)
        .map(|(d, _)| d.into_iter().map(|(k, a)| (k, a.weight)).collect())
        .unwrap_or_default()
}

/// (services, destinations, destinations with weight 2) of the whole table.
fn census(sock: &mut IpvsSocket) -> Result<(usize, usize, usize), String> {
    let t = sock.dump().map_err(|e| format!("dump: {e}"))?;
    let dests = t.services.values().map(|s| s.dests.len()).sum();
    let heavy = t
        .services
        .values()
        .flat_map(|s| s.dests.values())
        .filter(|d| d.weight == 2)
        .count();
    Ok((t.services.len(), dests, heavy))
}

/// A fresh network namespace for this thread (and the processes it starts), and an IPVS
/// socket in it. Each run gets its own: the kernel keeps deleted destinations in a
/// per-namespace trash for up to two minutes and scans it on every NEW_DEST, so a run
/// right after another one's stop would pay for that one's 40,000 deletions.
fn fresh_namespace() -> Result<IpvsSocket, String> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
    // With no address at all the namespace has no local routing table, and the kernel
    // refuses every NAT destination (EINVAL): loopback up gives it one.
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .map_err(|e| format!("ip link set lo up: {e}"))?;
    if !up.success() {
        return Err(format!("ip link set lo up: {up}"));
    }
    IpvsSocket::open().map_err(|e| format!("IPVS: {e}"))
}

fn inside(args: &Args) -> Result<(), String> {
    println!();
    let start_conf = fs::read_to_string(START_CONF).map_err(|e| e.to_string())?;
    let ka_stop_runs = args.keepalived_stop_runs.unwrap_or(args.runs);
    for run in 0..args.runs {
        let order = if run % 2 == 0 {
            [Impl::Rs, Impl::Ka]
        } else {
            [Impl::Ka, Impl::Rs]
        };
        for imp in order {
            if imp == Impl::Ka && args.no_keepalived {
                continue;
            }
            fs::write(WORK_CONF, &start_conf).map_err(|e| e.to_string())?;
            let measure_stop = imp == Impl::Rs || run < ka_stop_runs;
            let r = measure(args, imp, run, measure_stop)?;
            println!("{RESULT} {r}");
        }
    }
    if !args.no_strace {
        for imp in [Impl::Rs, Impl::Ka] {
            if imp == Impl::Ka && args.no_keepalived {
                continue;
            }
            fs::write(WORK_CONF, &start_conf).map_err(|e| e.to_string())?;
            let r = count(args, imp)?;
            println!("{RESULT} {r}");
        }
    }
    Ok(())
}

/// One timed run of a daemon: start, reload, stop.
fn measure(args: &Args, imp: Impl, run: usize, measure_stop: bool) -> Result<Value, String> {
    let phase_limit = Duration::from_secs(args.phase_limit);
    let mut sock = fresh_namespace()?;
    let sock = &mut sock;
    let v = args.virtual_servers;
    let r = args.real_servers;
    let last = service_key(v - 1, v);
    let (cv, cr) = changed(args);
    let changed_service = service_key(cv, v);
    let changed_dest = dest_key(cr);

    let t0 = Instant::now();
    let mut d = Running::start(imp, None)?;
    let mut services_s = None;
    let start_s = until(t0, phase_limit, || {
        if services_s.is_none() && services() == v {
            services_s = Some(t0.elapsed().as_secs_f64());
        }
        d.exited() || (services() == v && weights(sock, &last).len() == r)
    })
    .filter(|_| !d.exited())
    .ok_or_else(|| {
        format!(
            "{}: the table was not complete in time ({} service(s)); its log:\n{}",
            imp.name(),
            services(),
            d.log()
        )
    })?;
    let (s, n, _) = census(sock)?;
    let verified = s == v && n == v * r;
    let start_s = if verified {
        start_s
    } else {
        // The order assumption failed: fall back to full dumps (coarser).
        until(t0, phase_limit, || {
            census(sock).is_ok_and(|(s, n, _)| s == v && n == v * r)
        })
        .ok_or_else(|| format!("{}: the table was not complete in time", imp.name()))?
    };
    std::thread::sleep(Duration::from_secs(2));
    let (rss_kib, _, procs) = sum_memory(&d, false);

    fs::copy(RELOAD_CONF, WORK_CONF).map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    d.signal(Signal::SIGHUP);
    let reload_s = until(t1, phase_limit, || {
        weights(sock, &changed_service).get(&changed_dest) == Some(&2)
    })
    .ok_or_else(|| {
        format!(
            "{}: the reload was not seen in time; its log:\n{}",
            imp.name(),
            d.log()
        )
    })?;
    std::thread::sleep(Duration::from_secs(2));
    let after_reload = census(sock)?;
    let (rss_reload_kib, hwm_kib, _) = sum_memory(&d, false);

    let (stop_s, exit_s, left) = if measure_stop {
        let t2 = Instant::now();
        d.signal(Signal::SIGTERM);
        let stop_s = until(t2, phase_limit, || services() == 0);
        let exited = d.wait_exit(phase_limit);
        let exit_s = exited.then(|| t2.elapsed().as_secs_f64());
        if !exited {
            d.kill_all();
        }
        let (s, n, _) = census(sock)?;
        (stop_s, exit_s, Some(s + n))
    } else {
        d.kill_all();
        (None, None, None)
    };
    // Nothing left for the next run (its namespace is a new one; this one goes away with
    // its last socket, and the kernel cleans it up later).
    sock.flush().map_err(|e| format!("flush: {e}"))?;
    let log = d.log();
    let counters = if imp == Impl::Rs {
        json!({
            "start": counter_line(&log, "IPVS table programmed: "),
            "reload": counter_line(&log, "IPVS: "),
            "stop": counter_line(&log, "IPVS stop: "),
        })
    } else {
        Value::Null
    };
    Ok(json!({
        "kind": "run",
        "impl": imp.name(),
        "run": run,
        "start_s": start_s,
        "start_verified_at_once": verified,
        "services_s": services_s,
        "milestones": milestones(&log),
        "reload_s": reload_s,
        "after_reload": {"services": after_reload.0, "dests": after_reload.1, "weight_2": after_reload.2},
        "stop_s": stop_s,
        "exit_s": exit_s,
        "left_entries": left,
        "rss_kib": rss_kib,
        "rss_reload_kib": rss_reload_kib,
        "hwm_kib": hwm_kib,
        "processes": procs,
        "counters": counters,
    }))
}

/// The daemon's log lines that mark its phases, with the time they arrived (from its
/// start), at most 30.
fn milestones(log: &str) -> Value {
    const MARKS: &[&str] = &[
        "Initializing ipvs",
        "Startup complete",
        "Reload",
        "reload",
        "Stopping",
        "Stopped",
        "stopping",
        "IPVS",
        "configuration applied",
        "exited",
        "killed",
        "failed",
    ];
    Value::Array(
        log.lines()
            .filter(|l| !l.contains("IPVS write:") && MARKS.iter().any(|m| l.contains(m)))
            .take(30)
            .map(|l| Value::String(l.to_string()))
            .collect(),
    )
}

/// Sum of VmRSS and of VmHWM over the daemon's processes, and each process.
fn sum_memory(d: &Running, strace: bool) -> (u64, u64, Value) {
    let mut rss = 0;
    let mut hwm = 0;
    let mut each = Vec::new();
    for p in d.processes(strace) {
        if let Some((name, r, h)) = memory(p) {
            rss += r;
            hwm += h;
            each.push(json!({"pid": p, "name": name, "rss_kib": r, "hwm_kib": h}));
        }
    }
    (rss, hwm, Value::Array(each))
}

/// The numbers of keepalived-rs's writer line that follows `prefix` (the last such line):
/// `N write(s), F failure(s), ... M netlink message(s) ... D datagram(s)`.
fn counter_line(log: &str, prefix: &str) -> Value {
    let Some(line) = log
        .lines()
        .filter_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
        .rfind(|rest| rest.contains(" write(s)"))
    else {
        return Value::Null;
    };
    let num_before = |word: &str| -> Option<u64> {
        let at = line.find(word)?;
        line[..at].split_whitespace().last()?.parse().ok()
    };
    json!({
        "writes": num_before(" write(s)"),
        "failures": num_before(" failure(s)"),
        "messages": num_before(" netlink message(s)"),
        "datagrams": num_before(" datagram(s)"),
    })
}

/// The IPVS commands that change something.
fn is_write(cmd: u8) -> bool {
    matches!(cmd, 1 | 2 | 3 | 5 | 6 | 7 | 9 | 10 | 12 | 16 | 17)
}

fn command_name(cmd: u8) -> &'static str {
    match cmd {
        1 => "NEW_SERVICE",
        2 => "SET_SERVICE",
        3 => "DEL_SERVICE",
        4 => "GET_SERVICE",
        5 => "NEW_DEST",
        6 => "SET_DEST",
        7 => "DEL_DEST",
        8 => "GET_DEST",
        9 => "NEW_DAEMON",
        10 => "DEL_DAEMON",
        11 => "GET_DAEMON",
        12 => "SET_CONFIG",
        13 => "GET_CONFIG",
        14 => "SET_INFO",
        15 => "GET_INFO",
        16 => "ZERO",
        17 => "FLUSH",
        _ => "other",
    }
}

/// One run under `strace -f`: the generic-netlink messages of each phase.
fn count(args: &Args, imp: Impl) -> Result<Value, String> {
    let phase_limit = Duration::from_secs(args.phase_limit);
    let mut sock = fresh_namespace()?;
    let sock = &mut sock;
    let out = format!("/tmp/strace-{}.txt", imp.name());
    let v = args.virtual_servers;
    let r = args.real_servers;
    let last = service_key(v - 1, v);
    let (cv, cr) = changed(args);
    let changed_service = service_key(cv, v);
    let changed_dest = dest_key(cr);
    let t0 = Instant::now();
    let mut d = Running::start(imp, Some(&out))?;
    until(t0, phase_limit, || {
        services() == v && weights(sock, &last).len() == r
    })
    .ok_or_else(|| format!("{} under strace: no complete table", imp.name()))?;
    std::thread::sleep(Duration::from_secs(2));
    let (_, _, procs) = sum_memory(&d, true);
    fs::copy(RELOAD_CONF, WORK_CONF).map_err(|e| e.to_string())?;
    let e1 = epoch();
    let t1 = Instant::now();
    if let Some(p) = d.processes(true).first() {
        let _ = kill(Pid::from_raw(*p), Signal::SIGHUP);
    }
    until(t1, phase_limit, || {
        weights(sock, &changed_service).get(&changed_dest) == Some(&2)
    })
    .ok_or_else(|| format!("{} under strace: no reload", imp.name()))?;
    std::thread::sleep(Duration::from_secs(3));
    let e2 = epoch();
    if let Some(p) = d.processes(true).first() {
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let exited = d.wait_exit(phase_limit);
    if !exited {
        d.kill_all();
    }
    sock.flush().map_err(|e| format!("flush: {e}"))?;
    let text = fs::read_to_string(&out).map_err(|e| format!("{out}: {e}"))?;
    let _ = fs::remove_file(&out);
    let mut phases = [Phase::default(), Phase::default(), Phase::default()];
    for line in text.lines() {
        if !line.contains("NETLINK:[GENERIC")
            || !(line.contains("sendmsg(") || line.contains("sendto("))
        {
            continue;
        }
        let Some(t) = line
            .split_whitespace()
            .nth(1)
            .and_then(|t| t.parse::<f64>().ok())
        else {
            continue;
        };
        let i = if t < e1 {
            0
        } else if t < e2 {
            1
        } else {
            2
        };
        phases[i].add(line);
    }
    Ok(json!({
        "kind": "strace",
        "impl": imp.name(),
        "exited": exited,
        "processes": procs,
        "phases": {
            "start": phases[0].json(),
            "reload": phases[1].json(),
            "stop": phases[2].json(),
        },
    }))
}

/// The generic-netlink traffic of one phase.
#[derive(Debug, Default)]
struct Phase {
    datagrams: u64,
    messages: u64,
    ipvs_messages: u64,
    operations: u64,
    commands: BTreeMap<&'static str, u64>,
}

impl Phase {
    /// One traced sendmsg/sendto: each netlink header in it is a message; an IPVS one is
    /// followed by its payload, whose first byte is the command.
    fn add(&mut self, line: &str) {
        self.datagrams += 1;
        self.messages += line.matches("nlmsg_len=").count() as u64;
        let mut rest = line;
        while let Some(at) = rest.find("nlmsg_type=IPVS") {
            rest = &rest[at + 15..];
            self.ipvs_messages += 1;
            let cmd = rest
                .find("\"\\x")
                .and_then(|q| rest.get(q + 3..q + 5))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(c) = cmd {
                *self.commands.entry(command_name(c)).or_default() += 1;
                if is_write(c) {
                    self.operations += 1;
                }
            }
        }
    }

    fn json(&self) -> Value {
        json!({
            "datagrams": self.datagrams,
            "messages": self.messages,
            "ipvs_messages": self.ipvs_messages,
            "operations": self.operations,
            "commands": self.commands,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: usize, r: usize) -> Args {
        Args::parse_from([
            "ipvs-bench",
            "--virtual-servers",
            &v.to_string(),
            "--real-servers",
            &r.to_string(),
        ])
    }

    #[test]
    fn configuration_order_is_key_order() {
        let a = args(2000, 20);
        let keys: Vec<ServiceKey> = (0..2000).map(|i| service_key(i, 2000)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted);
        let c = config(&a, true);
        assert_eq!(c.matches("virtual_server ").count(), 2000);
        assert_eq!(c.matches("real_server ").count(), 40000);
        assert_eq!(c.matches("weight 2").count(), 1);
        assert_eq!(config(&a, false).matches("weight 2").count(), 0);
    }

    #[test]
    fn strace_lines_are_counted() {
        let mut p = Phase::default();
        p.add(
            "106 1.5 sendmsg(8<NETLINK:[GENERIC:1]>, {msg_iov=[{iov_base=[{nlmsg_len=176, \
             nlmsg_type=IPVS, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK}, \"\\x05\\x01\"...]}]}, 0) = 176",
        );
        p.add(
            "106 1.6 sendmsg(8<NETLINK:[GENERIC:1]>, {msg_iov=[{iov_base=[{nlmsg_len=32, \
             nlmsg_type=nlctrl}, \"\\x03\\x01\"...]}]}, 0) = 32",
        );
        assert_eq!(
            (p.datagrams, p.messages, p.ipvs_messages, p.operations),
            (2, 2, 1, 1)
        );
        assert_eq!(p.commands.get("NEW_DEST"), Some(&1));
    }

    #[test]
    fn counters_are_read_from_the_writer_lines() {
        let log = "x: IPVS table programmed: 2000 service(s) managed, 42000 write(s), 0 failure(s), \
                   1 dump(s); 42003 netlink message(s) sent in 42003 datagram(s)\n\
                   y: IPVS: 1 write(s), 0 failure(s), 1 netlink message(s) in 1 datagram(s)\n";
        let s = counter_line(log, "IPVS table programmed: ");
        assert_eq!(s["writes"], 42000);
        assert_eq!(s["messages"], 42003);
        let r = counter_line(log, "IPVS: ");
        assert_eq!(r["writes"], 1);
        assert_eq!(r["datagrams"], 1);
        assert!(counter_line(log, "IPVS stop: ").is_null());
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(stats(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn paths_are_absolute() {
        use std::path::Path;
        assert!(Path::new(START_CONF).is_absolute() && Path::new(WORK_CONF).is_absolute());
    }
}
