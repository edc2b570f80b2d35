//! Health-checker benchmark: keepalived-rs's checker against keepalived's (`keepalived -C`)
//! on the same configuration, in one qemu VM with a real IPVS (keepalived-vmtest).
//!
//! ```text
//!  host: check-bench [--runs N]            VM (one boot, TCG, one CPU)
//!  ┌─────────────────────────────┐ initrd  ┌──────────────────────────────────────────────┐
//!  │ configs: N real servers,    │────────▶│ check-bench --in-vm: per scenario (checker,  │
//!  │   20 per virtual server,    │ release │ size), run by run, the two daemons in turn   │
//!  │   TCP_CHECK or HTTP_GET,    │ binaries│ (who starts alternates), each in a fresh     │
//!  │   delay_loop 1              │ keepalv.│ network namespace with its local servers:    │
//!  │ summary: median, min-max,   │◀────────│  start -> table complete -> warm-up ->       │
//!  │   ratios, one JSON line     │ lines   │  window: CPU, memory, checks served ->       │
//!  └─────────────────────────────┘         │  failures: one server's socket closed ->     │
//!                                          │  its destination gone (detection time)       │
//!                                          └──────────────────────────────────────────────┘
//! ```
//!
//! The real servers are local: every address of 192.0.2.0/24 and 198.51.100.0/24 is local
//! in the namespace (one `/24` on `lo` each), and `check-bench --serve N` (serve.rs) listens
//! on each real server's own `address:port`, so that one of them fails alone when its
//! socket is closed (connection refused). The detection time is polled cheaply: GET_DEST of
//! that real server's one service every 10 ms.

mod serve;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use keepalived_ipvs::model::{DestKey, Protocol, ServiceKey};
use keepalived_ipvs::socket::IpvsSocket;
use keepalived_vmtest::{Vm, in_vm};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// A console line carrying one result as JSON.
const RESULT: &str = "KARS-CHECK-BENCH";
/// A console line saying what the VM is doing (shown on the host as it goes).
const PROGRESS: &str = "KARS-CHECK-PROGRESS";
/// Where the daemons' executables go in the VM.
const OPT: &str = "/opt/kars";
/// The configurations in the VM: `<checker>-<size>.conf`.
const CONF_DIR: &str = "/etc/bench";
/// The file each daemon reads.
const WORK_CONF: &str = "/tmp/bench.conf";
/// The scheduler of every service (its module's reference count is the service count).
const SCHED_REFCNT: &str = "/sys/module/ip_vs_rr/refcnt";
/// Real servers per virtual server (and ports per real-server address).
const PER_VS: usize = 20;
/// The port of a virtual server's first real server.
const BASE_PORT: u16 = 8000;
/// The checkers' timing (both daemons, every real server).
const DELAY_LOOP: u32 = 1;
const RETRY: u32 = 1;
const DELAY_BEFORE_RETRY: u32 = 1;
const CONNECT_TIMEOUT: u32 = 5;

/// The users the daemons run their processes as.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
keepalived-rs-vrrp:x:990:990::/nonexistent:/sbin/nologin\n\
keepalived-rs-check:x:991:991::/nonexistent:/sbin/nologin\n\
keepalived-rs-ipvs:x:992:992::/nonexistent:/sbin/nologin\n\
keepalived_script:x:993:993::/nonexistent:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nkeepalived-rs-vrrp:x:990:\nkeepalived-rs-check:x:991:\n\
keepalived-rs-ipvs:x:992:\nkeepalived_script:x:993:\nnogroup:x:65534:\n";

/// The checker every real server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// TCP_CHECK.
    Tcp,
    /// HTTP_GET of `/`, status 200.
    Http,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Http => "http",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Kind::Tcp => "TCP_CHECK",
            Kind::Http => "HTTP_GET",
        }
    }
}

/// Health-checker benchmark: N real servers checked every second, keepalived-rs and
/// keepalived in one qemu VM.
#[derive(Debug, Clone, Parser)]
#[command(name = "check-bench")]
struct Args {
    /// Measured runs of each daemon, per scenario.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Numbers of real servers (one scenario each, with each checker). At most 10,160.
    #[arg(long, value_delimiter = ',', default_value = "10000,2000,200")]
    sizes: Vec<usize>,
    /// Checkers (one scenario each, with each size).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "tcp,http")]
    checkers: Vec<Kind>,
    /// Seconds between the complete table and the measuring window.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// The measuring window (CPU, checks served), seconds.
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Server failures per run (each a different real server, brought back after).
    #[arg(long, default_value_t = 3)]
    failures: usize,
    /// How long a detection may take before it counts as missed, seconds.
    #[arg(long, default_value_t = 20)]
    detect_limit: u64,
    /// After the measured runs, one more run of each daemon per scenario with `strace -c`
    /// attached to its checker during the window: system calls per check served (ptrace
    /// slows the process down: that run's other figures are not used).
    #[arg(long)]
    syscalls: bool,
    /// Only this daemon (`keepalived` or `keepalived-rs`).
    #[arg(long)]
    only: Option<String>,
    /// The directory of the release executables (default: this program's).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The VM's memory, MiB.
    #[arg(long, default_value_t = 2048)]
    memory: u32,
    /// How long the daemon may take to program the table, seconds.
    #[arg(long, default_value_t = 300)]
    phase_limit: u64,
    /// The whole VM's time limit, seconds.
    #[arg(long, default_value_t = 14400)]
    timeout: u64,
    /// Saves the VM's console here.
    #[arg(long)]
    console: Option<PathBuf>,
    /// (Inside the VM.)
    #[arg(long, hide = true)]
    in_vm: bool,
    /// (Inside the VM: serve N real servers.)
    #[arg(long, hide = true)]
    serve: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if let Some(n) = args.serve {
        serve::serve_stdio(&real_server_addrs(n))
    } else if args.in_vm || in_vm() {
        inside(&args)
    } else {
        host(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("check-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ------------------------------------------------------------------------------------------
// The configuration
// ------------------------------------------------------------------------------------------

/// The address and port of virtual server `i` of `total`: 203.0.113.1.. with consecutive
/// ports from 80.
fn vs_addr(i: usize, total: usize) -> (Ipv4Addr, u16) {
    let per_addr = total.div_ceil(250).max(1);
    (
        Ipv4Addr::new(203, 0, 113, (1 + i / per_addr) as u8),
        80 + (i % per_addr) as u16,
    )
}

/// The address of the real servers of virtual server `i`: 192.0.2.1-254, then
/// 198.51.100.1-254 (so at most 508 virtual servers, 10,160 real servers).
fn rs_ip(i: usize) -> Ipv4Addr {
    if i < 254 {
        Ipv4Addr::new(192, 0, 2, (1 + i) as u8)
    } else {
        Ipv4Addr::new(198, 51, 100, (1 + i - 254) as u8)
    }
}

/// The number of virtual servers for `n` real servers.
fn virtual_servers(n: usize) -> usize {
    n.div_ceil(PER_VS)
}

/// Every real server's `address:port`, real server `r` is port `BASE_PORT + r % 20` of the
/// address of virtual server `r / 20`.
fn real_server_addrs(n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|r| {
            SocketAddr::new(
                IpAddr::V4(rs_ip(r / PER_VS)),
                BASE_PORT + (r % PER_VS) as u16,
            )
        })
        .collect()
}

fn config(kind: Kind, n: usize) -> String {
    let mut s = String::from("global_defs {\n    router_id check_bench\n}\n\n");
    let v = virtual_servers(n);
    let check = match kind {
        Kind::Tcp => "        TCP_CHECK {\n        }\n".to_string(),
        Kind::Http => {
            "        HTTP_GET {\n            url {\n                path /\n                \
                       status_code 200\n            }\n        }\n"
                .to_string()
        }
    };
    for i in 0..v {
        let (addr, port) = vs_addr(i, v);
        s.push_str(&format!(
            "virtual_server {addr} {port} {{\n    delay_loop {DELAY_LOOP}\n    \
             connect_timeout {CONNECT_TIMEOUT}\n    retry {RETRY}\n    \
             delay_before_retry {DELAY_BEFORE_RETRY}\n    lvs_sched rr\n    lvs_method NAT\n    \
             protocol TCP\n"
        ));
        for j in 0..PER_VS.min(n - i * PER_VS) {
            s.push_str(&format!(
                "    real_server {} {} {{\n        weight 1\n{check}    }}\n",
                rs_ip(i),
                BASE_PORT + j as u16
            ));
        }
        s.push_str("}\n");
    }
    s
}

fn conf_path(kind: Kind, n: usize) -> String {
    format!("{CONF_DIR}/{}-{n}.conf", kind.name())
}

/// The service and destination of real server `r` of `n`.
fn keys(r: usize, n: usize) -> (ServiceKey, DestKey) {
    let (addr, port) = vs_addr(r / PER_VS, virtual_servers(n));
    let a = real_server_addrs(n)[r];
    (
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(addr),
            port,
        },
        DestKey {
            addr: a.ip(),
            port: a.port(),
        },
    )
}

/// The real server that fails the `k`th time in every run (spread over the configuration).
fn victim(k: usize, failures: usize, n: usize) -> usize {
    ((k + 1) * n / (failures + 1) + 7 * k + 3) % n
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
    for n in &args.sizes {
        if *n == 0 || virtual_servers(*n) > 508 {
            return Err(format!("--sizes: {n} is not within 1-10160"));
        }
    }
    let staging = Staging::new()?;
    let mut b = Vm::builder()
        .memory(args.memory)
        .ipvsadm()
        .binary("/usr/sbin/keepalived", "/usr/sbin/keepalived")
        .binary("/usr/sbin/ip", "/sbin/ip")
        .data("/etc/passwd", PASSWD, 0o644)
        .data("/etc/group", GROUP, 0o644);
    for kind in &args.checkers {
        for n in &args.sizes {
            b = b.data(&conf_path(*kind, *n), config(*kind, *n), 0o644);
        }
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
                "{} is missing: build the release executables first (bench/check/run does)",
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
    let sizes: Vec<String> = args.sizes.iter().map(|n| n.to_string()).collect();
    let checkers: Vec<&str> = args.checkers.iter().map(|k| k.name()).collect();
    let mut inner = vec![
        format!("--runs {}", args.runs),
        format!("--sizes {}", sizes.join(",")),
        format!("--checkers {}", checkers.join(",")),
        format!("--warmup {}", args.warmup),
        format!("--window {}", args.window),
        format!("--failures {}", args.failures),
        format!("--detect-limit {}", args.detect_limit),
        format!("--phase-limit {}", args.phase_limit),
    ];
    if let Some(o) = &args.only {
        inner.push(format!("--only {o}"));
    }
    if args.syscalls {
        inner.push("--syscalls".into());
        b = b.binary("/usr/bin/strace", "/usr/bin/strace");
    }
    let b = b.binary(&me, "/bin/check-bench").init(&format!(
        "modprobe crc32c_generic && modprobe ip_vs && modprobe ip_vs_rr\n\
         cd /tmp && KARS_IN_VM=1 /bin/check-bench --in-vm {}\n\
         echo \"KARS-CHECK-BENCH-EXIT $?\"\n",
        inner.join(" ")
    ));
    let vm = b.build().map_err(|e| e.to_string())?;
    eprintln!(
        "check-bench: booting the VM (sizes {:?}, checkers {checkers:?}, {} run(s) each)",
        args.sizes, args.runs
    );
    let out = vm
        .run(Duration::from_secs(args.timeout))
        .map_err(|e| e.to_string())?;
    if let Some(p) = &args.console {
        fs::write(p, &out.console).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    for l in out.values(PROGRESS) {
        eprintln!("  {l}");
    }
    let status = out.values("KARS-CHECK-BENCH-EXIT").next().map(str::trim);
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
        let p = std::env::temp_dir().join(format!("check-bench-{}", std::process::id()));
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

/// The metrics of the summary: (key in a run's JSON, label, unit, decimals).
const METRICS: &[(&str, &str, &str, usize)] = &[
    ("cpu_checker_pct", "CPU, checker process", "%", 1),
    ("cpu_checker_user_pct", "  of which in user space", "%", 1),
    ("cpu_all_pct", "CPU, all the daemon's processes", "%", 1),
    ("rss_checker_kib", "VmRSS, checker process", "KiB", 0),
    ("rss_all_kib", "VmRSS, all the daemon's processes", "KiB", 0),
    ("hwm_checker_kib", "VmHWM, checker process", "KiB", 0),
    (
        "detect_median_s",
        "detection: failure -> IPVS change",
        "s",
        2,
    ),
    ("recover_median_s", "recovery: server back -> IPVS", "s", 2),
    ("served_per_s", "checks served per second", "/s", 0),
    (
        "checker_ms_per_check",
        "checker CPU per check served",
        "ms",
        3,
    ),
    (
        "all_ms_per_check",
        "all processes' CPU per check served",
        "ms",
        3,
    ),
    ("vm_busy_pct", "VM CPU busy (all processes)", "%", 1),
    ("cpu_server_pct", "CPU, the local servers", "%", 1),
    (
        "checker_per_server",
        "checker CPU / servers' CPU (host speed cancels)",
        "",
        2,
    ),
    (
        "dests_min",
        "destinations in the table (fewest seen)",
        "",
        0,
    ),
    ("start_s", "start: table complete", "s", 2),
    ("checker_restarts", "checker restarts during the run", "", 0),
];

fn summarise(args: &Args, results: &[Value]) {
    let mut summary = Vec::new();
    for kind in &args.checkers {
        for n in &args.sizes {
            let runs = |imp: &str| -> Vec<&Value> {
                results
                    .iter()
                    .filter(|r| {
                        r["kind"] == "run"
                            && r["impl"] == imp
                            && r["checker"] == kind.name()
                            && r["size"] == *n as u64
                    })
                    .collect()
            };
            let ours = runs("keepalived-rs");
            let theirs = runs("keepalived");
            println!(
                "\n{} x {n} real servers ({} virtual servers), delay_loop {DELAY_LOOP}, \
                 retry {RETRY}, delay_before_retry {DELAY_BEFORE_RETRY}, {} run(s) each; \
                 median (min-max)",
                kind.keyword(),
                virtual_servers(*n),
                args.runs
            );
            println!(
                "{:<44} {:>28} {:>28} {:>7}",
                "", "keepalived-rs", "keepalived", "ratio"
            );
            let mut scenario = serde_json::Map::new();
            for (key, label, unit, decimals) in METRICS {
                let pick = |v: &[&Value]| -> Vec<f64> {
                    v.iter().filter_map(|r| r[*key].as_f64()).collect()
                };
                let a = stats(&pick(&ours));
                let b = stats(&pick(&theirs));
                let show = |s: Option<(f64, f64, f64)>, count: usize| match s {
                    Some((m, lo, hi)) => {
                        format!("{m:.decimals$} ({lo:.decimals$}-{hi:.decimals$}) n={count}")
                    }
                    None => "-".to_string(),
                };
                let ratio = match (a, b) {
                    (Some((x, ..)), Some((y, ..))) if y > 0.0 => Some(x / y),
                    _ => None,
                };
                println!(
                    "{:<44} {:>28} {:>28} {:>7}",
                    if unit.is_empty() {
                        label.to_string()
                    } else {
                        format!("{label} ({unit})")
                    },
                    show(a, pick(&ours).len()),
                    show(b, pick(&theirs).len()),
                    ratio
                        .map(|r| format!("{r:.2}"))
                        .unwrap_or_else(|| "-".into())
                );
                scenario.insert(
                    key.to_string(),
                    json!({
                        "keepalived-rs": a.map(|(m, lo, hi)| json!({"median": m, "min": lo, "max": hi})),
                        "keepalived": b.map(|(m, lo, hi)| json!({"median": m, "min": lo, "max": hi})),
                        "ratio": ratio,
                    }),
                );
            }
            for (name, v) in [("keepalived-rs", &ours), ("keepalived", &theirs)] {
                let all: Vec<f64> = v
                    .iter()
                    .flat_map(|r| {
                        r["detect_s"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                    })
                    .map(|x| x.as_f64().unwrap_or(f64::NAN))
                    .collect();
                let missed = all.iter().filter(|x| x.is_nan()).count();
                let seen: Vec<f64> = all.iter().copied().filter(|x| !x.is_nan()).collect();
                if let Some((m, lo, hi)) = stats(&seen) {
                    println!(
                        "  {name}: every detection: median {m:.2} s, {lo:.2}-{hi:.2} s, {} seen, \
                         {missed} missed (limit {} s)",
                        seen.len(),
                        args.detect_limit
                    );
                } else if missed > 0 {
                    println!(
                        "  {name}: no detection within {} s ({missed})",
                        args.detect_limit
                    );
                }
                let problems: Vec<&Value> = v
                    .iter()
                    .filter_map(|r| r.get("problems"))
                    .filter(|p| p.as_array().is_some_and(|a| !a.is_empty()))
                    .collect();
                for p in problems {
                    println!("  {name}: {p}");
                }
            }
            for r in results.iter().filter(|r| {
                r["kind"] == "error" && r["checker"] == kind.name() && r["size"] == *n as u64
            }) {
                println!(
                    "  {} run {}: not measured: {}",
                    r["impl"].as_str().unwrap_or("?"),
                    r["run"],
                    r["error"].as_str().unwrap_or("?")
                );
            }
            for r in results.iter().filter(|r| {
                r["kind"] == "strace" && r["checker"] == kind.name() && r["size"] == *n as u64
            }) {
                let per: Vec<String> = r["syscalls_per_check"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .take(12)
                            .filter_map(|x| {
                                Some(format!("{} {:.2}", x[0].as_str()?, x[1].as_f64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let total: f64 = r["syscalls_per_check"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|x| x[1].as_f64()).sum())
                    .unwrap_or(0.0);
                println!(
                    "  {} under strace -c: {total:.1} system calls per check served: {}",
                    r["impl"].as_str().unwrap_or("?"),
                    per.join(", ")
                );
            }
            summary.push(json!({
                "checker": kind.name(),
                "size": n,
                "metrics": scenario,
            }));
        }
    }
    let all = json!({
        "benchmark": "check",
        "runs": args.runs,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "failures": args.failures,
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

    /// Whether `pid` (a descendant of the daemon) is its checker process.
    fn is_checker(self, pid: i32, main: i32) -> bool {
        match self {
            // keepalived -C: the parent and one child, the checker.
            Impl::Ka => pid != main,
            Impl::Rs => fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let argv0 = c.split(|b| *b == 0).next().unwrap_or_default();
                    String::from_utf8_lossy(argv0).ends_with("keepalived-rs-check")
                })
                .unwrap_or(false),
        }
    }
}

/// A running daemon: its process, and its log (stderr) as it arrives.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(imp: Impl) -> Result<Running, String> {
        let argv = imp.command();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", argv[0]))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = Arc::clone(&log);
            let t0 = Instant::now();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = sink.lock() {
                        l.push(format!("[{:.3}] {line}", t0.elapsed().as_secs_f64()));
                    }
                }
            });
        }
        Ok(Running { child, log })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn exited(&self) -> bool {
        !alive(self.pid())
    }

    /// The number of log lines, and the last `n` of them.
    fn log_tail(&self, n: usize) -> (usize, Vec<String>) {
        self.log
            .lock()
            .map(|l| (l.len(), l[l.len().saturating_sub(n)..].to_vec()))
            .unwrap_or_default()
    }

    /// The log lines that contain `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .map(|l| l.iter().filter(|x| x.contains(needle)).count())
            .unwrap_or(0)
    }

    /// The daemon's processes: the one started and its descendants.
    fn processes(&self) -> Vec<i32> {
        let parents = ppids();
        let mut out = vec![self.pid()];
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(parents.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
            i += 1;
        }
        out
    }

    /// Kills it and everything it started.
    fn kill_all(&mut self) {
        for p in self.processes() {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// The local servers' process and its control channel.
struct Servers {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Servers {
    fn start(n: usize) -> Result<Servers, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(me)
            .args(["--serve", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("the servers: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut s = Servers {
            child,
            stdin,
            stdout,
        };
        let ready = s.line()?;
        if ready.trim() != format!("ready {n}") {
            return Err(format!("the servers said {ready:?}"));
        }
        Ok(s)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut l = String::new();
        match self.stdout.read_line(&mut l) {
            Ok(0) => Err("the servers exited".into()),
            Ok(_) => Ok(l),
            Err(e) => Err(format!("the servers: {e}")),
        }
    }

    fn command(&mut self, c: &str) -> Result<String, String> {
        writeln!(self.stdin, "{c}").map_err(|e| format!("the servers: {e}"))?;
        self.stdin
            .flush()
            .map_err(|e| format!("the servers: {e}"))?;
        let answer = self.line()?;
        if answer.starts_with("error") {
            return Err(format!("the servers: {c}: {}", answer.trim()));
        }
        Ok(answer.trim().to_string())
    }

    fn accepted(&mut self) -> Result<u64, String> {
        let a = self.command("count")?;
        a.strip_prefix("count ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("the servers answered {a:?}"))
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next())
                .is_some_and(|c| c != 'Z' && c != 'X')
        })
        .unwrap_or(false)
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

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    cpu_split(pid).map(|(u, s)| u + s)
}

/// (utime, stime) of a process, in clock ticks.
fn cpu_split(pid: i32) -> Option<(u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    Some((f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?))
}

/// (busy, total) jiffies of the whole VM, from /proc/stat.
fn vm_ticks() -> (u64, u64) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// (VmRSS, VmHWM) of a process, KiB.
fn memory(pid: i32) -> Option<(u64, u64)> {
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
    Some((field("VmRSS:").unwrap_or(0), field("VmHWM:").unwrap_or(0)))
}

fn clock_ticks_per_s() -> f64 {
    // USER_HZ: 100 on Linux (sysconf(_SC_CLK_TCK)).
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map(|t| t as f64)
        .unwrap_or(100.0)
}

/// The number of services (each holds a reference on its scheduler's module).
fn services() -> usize {
    fs::read_to_string(SCHED_REFCNT)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `f` every `every` until it is true; the time it took from `since`, or None at
/// the limit.
fn until(
    since: Instant,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> bool,
) -> Option<f64> {
    loop {
        if f() {
            return Some(since.elapsed().as_secs_f64());
        }
        if since.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Whether real server `dest` of service `svc` is in the table with a weight.
fn present(sock: &mut IpvsSocket, svc: &ServiceKey, dest: &DestKey) -> bool {
    sock.dests_with_stats(svc)
        .map(|(d, _)| d.get(dest).is_some_and(|a| a.weight > 0))
        .unwrap_or(false)
}

/// The destinations of the whole table.
fn dests(sock: &mut IpvsSocket) -> usize {
    sock.dump()
        .map(|t| t.services.values().map(|s| s.dests.len()).sum())
        .unwrap_or(0)
}

/// A fresh network namespace for this thread and the processes it starts, with every
/// address of 192.0.2.0/24 and 198.51.100.0/24 local, and an IPVS socket in it.
fn fresh_namespace() -> Result<IpvsSocket, String> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
    for cmd in [
        "/sbin/ip link set lo up",
        "/sbin/ip addr add 192.0.2.1/24 dev lo",
        "/sbin/ip addr add 198.51.100.1/24 dev lo",
    ] {
        let argv: Vec<&str> = cmd.split(' ').collect();
        let st = Command::new(argv[0])
            .args(&argv[1..])
            .status()
            .map_err(|e| format!("{cmd}: {e}"))?;
        if !st.success() {
            return Err(format!("{cmd}: {st}"));
        }
    }
    IpvsSocket::open().map_err(|e| format!("IPVS: {e}"))
}

fn inside(args: &Args) -> Result<(), String> {
    println!();
    for kind in &args.checkers {
        for n in &args.sizes {
            let conf = fs::read_to_string(conf_path(*kind, *n)).map_err(|e| e.to_string())?;
            for run in 0..args.runs {
                let order = if run % 2 == 0 {
                    [Impl::Rs, Impl::Ka]
                } else {
                    [Impl::Ka, Impl::Rs]
                };
                for imp in order {
                    if args.only.as_deref().is_some_and(|o| o != imp.name()) {
                        continue;
                    }
                    fs::write(WORK_CONF, &conf).map_err(|e| e.to_string())?;
                    println!(
                        "{PROGRESS} {} x {n}, run {}: {}",
                        kind.keyword(),
                        run + 1,
                        imp.name()
                    );
                    let r = measure(args, *kind, *n, imp, run, false)
                        .unwrap_or_else(|e| failed_run(*kind, *n, imp, run, &e));
                    println!("{RESULT} {r}");
                }
            }
            if args.syscalls {
                for imp in [Impl::Rs, Impl::Ka] {
                    if args.only.as_deref().is_some_and(|o| o != imp.name()) {
                        continue;
                    }
                    fs::write(WORK_CONF, &conf).map_err(|e| e.to_string())?;
                    println!(
                        "{PROGRESS} {} x {n}, under strace -c: {}",
                        kind.keyword(),
                        imp.name()
                    );
                    let r = measure(args, *kind, *n, imp, args.runs, true)
                        .unwrap_or_else(|e| failed_run(*kind, *n, imp, args.runs, &e));
                    println!("{RESULT} {r}");
                }
            }
        }
    }
    Ok(())
}

/// The result of a run that could not be measured (the others go on).
fn failed_run(kind: Kind, n: usize, imp: Impl, run: usize, error: &str) -> Value {
    // What it left behind goes with its namespace; its processes are killed here.
    for (pid, _) in ppids() {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        let exe = exe.to_string_lossy();
        if exe.starts_with(OPT) || exe == "/usr/sbin/keepalived" {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    json!({
        "kind": "error",
        "impl": imp.name(),
        "checker": kind.name(),
        "size": n,
        "run": run,
        "error": error,
    })
}

/// CPU and memory counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    checker: u64,
    checker_user: u64,
    all: u64,
    server: u64,
    vm: (u64, u64),
    accepted: u64,
}

fn sample(d: &Running, checker: i32, servers: &mut Servers) -> Result<Sample, String> {
    let procs = d.processes();
    Ok(Sample {
        at: Instant::now(),
        checker: cpu_ticks(checker).unwrap_or(0),
        checker_user: cpu_split(checker).map_or(0, |(u, _)| u),
        all: procs.iter().filter_map(|p| cpu_ticks(*p)).sum(),
        server: cpu_ticks(servers.child.id() as i32).unwrap_or(0),
        vm: vm_ticks(),
        accepted: servers.accepted()?,
    })
}

/// `strace -c -f` attached to a process.
struct Strace {
    child: Child,
    out: String,
}

impl Strace {
    fn attach(pid: i32) -> Result<Strace, String> {
        let out = format!("/tmp/strace-{pid}.txt");
        let child = Command::new("/usr/bin/strace")
            .args(["-c", "-f", "-o", &out, "-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("strace: {e}"))?;
        // Attached once the process shows a tracer.
        let attached = until(
            Instant::now(),
            Duration::from_secs(10),
            Duration::from_millis(10),
            || {
                fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                    s.lines()
                        .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
                })
            },
        );
        if attached.is_none() {
            return Err(format!("strace did not attach to {pid}"));
        }
        Ok(Strace { child, out })
    }

    /// Detaches; the calls of each system call.
    fn finish(mut self) -> Result<Value, String> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
        let _ = self.child.wait();
        let text = fs::read_to_string(&self.out).map_err(|e| format!("{}: {e}", self.out))?;
        let _ = fs::remove_file(&self.out);
        Ok(Value::Object(parse_strace_summary(&text)))
    }
}

/// The `calls` column of `strace -c`'s table, by system call.
fn parse_strace_summary(text: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] syscall.
        if f.len() < 5 || f[0].parse::<f64>().is_err() || f.last() == Some(&"total") {
            continue;
        }
        let Ok(calls) = f[3].parse::<u64>() else {
            continue;
        };
        if let Some(name) = f.last() {
            out.insert(name.to_string(), json!(calls));
        }
    }
    out
}

/// One run of a daemon on one scenario.
fn measure(
    args: &Args,
    kind: Kind,
    n: usize,
    imp: Impl,
    run: usize,
    strace: bool,
) -> Result<Value, String> {
    let mut problems: Vec<String> = Vec::new();
    let mut sock = fresh_namespace()?;
    let sock = &mut sock;
    for p in [
        "/run/kars",
        "/run/keepalived.pid",
        "/run/keepalived-checkers.pid",
    ] {
        let _ = fs::remove_dir_all(p);
        let _ = fs::remove_file(p);
    }
    let mut servers = Servers::start(n)?;
    let v = virtual_servers(n);
    let (last, _) = keys(n - 1, n);
    let last_count = n - (v - 1) * PER_VS;

    // Start: until the table is complete.
    let t0 = Instant::now();
    let mut d = Running::start(imp)?;
    let start_s = until(
        t0,
        Duration::from_secs(args.phase_limit),
        Duration::from_millis(20),
        || {
            d.exited()
                || (services() == v
                    && sock
                        .dests_with_stats(&last)
                        .map(|(x, _)| x.len() == last_count)
                        .unwrap_or(false))
        },
    )
    .filter(|_| !d.exited())
    .ok_or_else(|| {
        format!(
            "{}: no complete table ({} service(s)); its log:\n{}",
            imp.name(),
            services(),
            d.log_tail(40).1.join("\n")
        )
    })?;

    // Warm-up, then the window.
    std::thread::sleep(Duration::from_secs(args.warmup));
    let main = d.pid();
    // (A checker being respawned is waited for a while.)
    let mut checker = None;
    until(
        Instant::now(),
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            checker = d.processes().into_iter().find(|p| imp.is_checker(*p, main));
            checker.is_some()
        },
    );
    if checker.is_none() {
        problems.push("no checker process at the start of the window".to_string());
    }
    let checker = checker.unwrap_or(0);
    let dests_start = dests(sock);
    let log_before = d.log_tail(0).0;
    let tracer = if strace && checker > 0 {
        Some(Strace::attach(checker)?)
    } else {
        None
    };
    let a = sample(&d, checker, &mut servers)?;
    std::thread::sleep(Duration::from_secs(args.window));
    let b = sample(&d, checker, &mut servers)?;
    let syscalls = match tracer {
        Some(t) => t.finish()?,
        None => Value::Null,
    };
    let (log_after, window_log) = d.log_tail(5);
    let log_window_lines = log_after - log_before;
    let dests_end = dests(sock);
    let wall = b.at.duration_since(a.at).as_secs_f64();
    let hz = clock_ticks_per_s();
    // The same checker process over the whole window, or no CPU figure.
    let valid = checker > 0 && alive(checker);
    if checker > 0 && !valid {
        problems.push(format!(
            "the checker process {checker} ended during the window"
        ));
    }
    let pct = |x: u64, y: u64| valid.then(|| 100.0 * (y.saturating_sub(x)) as f64 / hz / wall);
    let (rss_checker, hwm_checker) = memory(checker).unwrap_or((0, 0));
    let procs = d.processes();
    let mut each = Vec::new();
    let mut rss_all = 0;
    for p in &procs {
        if let Some((r, h)) = memory(*p) {
            rss_all += r;
            let name = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            each.push(json!({"pid": p, "name": name.trim(), "rss_kib": r, "hwm_kib": h}));
        }
    }
    // CPU per check: what the load costs when the VM cannot serve it all.
    let served = b.accepted.saturating_sub(a.accepted);
    let per_check = |x: u64, y: u64| {
        (valid && served > 0).then(|| 1000.0 * (y.saturating_sub(x)) as f64 / hz / served as f64)
    };
    let vm_busy = {
        let busy = b.vm.0.saturating_sub(a.vm.0) as f64;
        let total = b.vm.1.saturating_sub(a.vm.1) as f64;
        if total > 0.0 {
            100.0 * busy / total
        } else {
            0.0
        }
    };

    // Failures: one server's socket closed at t0, until its destination leaves the table;
    // then opened again, until it is back.
    let mut detect: Vec<Option<f64>> = Vec::new();
    let mut recover: Vec<Option<f64>> = Vec::new();
    let limit = Duration::from_secs(args.detect_limit);
    let poll = Duration::from_millis(10);
    for k in 0..args.failures {
        let r = victim(k, args.failures, n);
        let (svc, dest) = keys(r, n);
        if until(Instant::now(), limit, poll, || present(sock, &svc, &dest)).is_none() {
            problems.push(format!(
                "real server {r} ({dest}) not up before its failure"
            ));
            detect.push(None);
            recover.push(None);
            continue;
        }
        let t = Instant::now();
        servers.command(&format!("close {r}"))?;
        let seen = until(t, limit, poll, || !present(sock, &svc, &dest));
        detect.push(seen);
        let t = Instant::now();
        servers.command(&format!("open {r}"))?;
        let back = until(t, limit, poll, || present(sock, &svc, &dest));
        // A recovery only means something after a detection.
        recover.push(back.filter(|_| seen.is_some()));
        std::thread::sleep(Duration::from_millis(500));
    }
    if valid && !alive(checker) {
        problems.push(format!(
            "the checker process {checker} ended after the window"
        ));
    }
    let checker_restarts = match imp {
        Impl::Rs => d.count("started keepalived-rs-check").saturating_sub(1),
        Impl::Ka => d.count("Respawning"),
    };
    let heartbeat_kills = d.count("unanswered");
    let (log_lines, log_tail) = d.log_tail(20);
    let med = |v: &[Option<f64>]| {
        stats(&v.iter().flatten().copied().collect::<Vec<_>>()).map(|(m, ..)| m)
    };
    let syscalls_per_check = syscalls.as_object().filter(|_| served > 0).map(|m| {
        let mut v: Vec<(String, f64)> = m
            .iter()
            .map(|(k, c)| (k.clone(), c.as_f64().unwrap_or(0.0) / served as f64))
            .collect();
        v.sort_by(|x, y| y.1.total_cmp(&x.1));
        v
    });
    let result = json!({
        "kind": if strace { "strace" } else { "run" },
        "syscalls": syscalls,
        "syscalls_per_check": syscalls_per_check,
        "impl": imp.name(),
        "checker": kind.name(),
        "size": n,
        "run": run,
        "start_s": start_s,
        "window_s": wall,
        "cpu_checker_pct": pct(a.checker, b.checker),
        "cpu_checker_user_pct": pct(a.checker_user, b.checker_user),
        "cpu_all_pct": pct(a.all, b.all),
        "cpu_server_pct": 100.0 * (b.server.saturating_sub(a.server)) as f64 / hz / wall,
        // The servers do the same work per check for both daemons: a slower host (TCG on
        // shared cores) inflates both alike.
        "checker_per_server": (valid && b.server > a.server)
            .then(|| (b.checker.saturating_sub(a.checker)) as f64 / (b.server - a.server) as f64),
        "vm_busy_pct": vm_busy,
        "served_per_s": served as f64 / wall,
        "checker_ms_per_check": per_check(a.checker, b.checker),
        "all_ms_per_check": per_check(a.all, b.all),
        "dests_start": dests_start,
        "dests_end": dests_end,
        "dests_min": dests_start.min(dests_end),
        "rss_checker_kib": valid.then_some(rss_checker),
        "hwm_checker_kib": valid.then_some(hwm_checker),
        "rss_all_kib": rss_all,
        "processes": each,
        "detect_s": detect,
        "detect_median_s": med(&detect),
        "recover_s": recover,
        "recover_median_s": med(&recover),
        "checker_restarts": checker_restarts,
        "heartbeat_kills": heartbeat_kills,
        "log_lines": log_lines,
        "log_window_lines": log_window_lines,
        "log_window_sample": window_log,
        "log_down_lines": d.count("DOWN") + d.count("Removing service"),
        "log_tail": if problems.is_empty() { Value::Null } else { json!(log_tail) },
        "problems": problems,
    });
    d.kill_all();
    drop(servers);
    sock.flush().map_err(|e| format!("flush: {e}"))?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_has_every_real_server_once() {
        for (kind, n) in [(Kind::Tcp, 10_000), (Kind::Http, 2_000), (Kind::Tcp, 30)] {
            let c = config(kind, n);
            assert_eq!(c.matches("real_server ").count(), n);
            assert_eq!(c.matches(kind.keyword()).count(), n);
            assert_eq!(c.matches("virtual_server ").count(), virtual_servers(n));
            let addrs = real_server_addrs(n);
            let mut unique = addrs.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), n);
            for r in [0, n / 2, n - 1] {
                let (_, d) = keys(r, n);
                assert!(c.contains(&format!("real_server {} {} ", d.addr, d.port)));
            }
        }
        // Virtual servers are distinct.
        let v: Vec<(Ipv4Addr, u16)> = (0..500).map(|i| vs_addr(i, 500)).collect();
        let mut u = v.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 500);
    }

    #[test]
    fn victims_are_distinct_and_in_range() {
        let v: Vec<usize> = (0..3).map(|k| victim(k, 3, 10_000)).collect();
        assert!(v.iter().all(|r| *r < 10_000));
        assert!(v[0] != v[1] && v[1] != v[2]);
    }

    #[test]
    fn strace_summaries_are_read() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    \x20 40.00    0.004000           2      2000      2000 connect\n\
                    \x20 30.00    0.003000           1      2000           close\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    100.00    0.010000           2      4000      2000 total\n";
        let m = parse_strace_summary(text);
        assert_eq!(m.get("connect"), Some(&json!(2000)));
        assert_eq!(m.get("close"), Some(&json!(2000)));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(stats(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&[]), None);
    }

    /// The servers: a check connects, an HTTP request gets 200, a closed server refuses,
    /// an opened one answers again, the count follows.
    #[test]
    fn the_servers_answer_and_fail_one_at_a_time() {
        use std::io::Read;
        use std::net::TcpStream;
        use std::os::unix::net::UnixStream;
        // Free ports of 127.0.0.1 (taken and given back at once).
        let addrs: Vec<SocketAddr> = (0..3)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
            })
            .collect();
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let list = addrs.clone();
        let server = std::thread::spawn(move || {
            let mut control = theirs.try_clone().unwrap();
            control.set_nonblocking(true).unwrap();
            let mut out = theirs;
            serve::serve(&list, &mut control, &mut out)
        });
        let mut answers = BufReader::new(ours.try_clone().unwrap());
        let mut line = || {
            let mut l = String::new();
            answers.read_line(&mut l).unwrap();
            l.trim().to_string()
        };
        assert_eq!(line(), "ready 3");
        let mut command = |c: &str| {
            writeln!(ours, "{c}").unwrap();
            line()
        };
        let get = |a: SocketAddr| -> std::io::Result<String> {
            let mut c = TcpStream::connect(a)?;
            c.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut out = String::new();
            c.read_to_string(&mut out)?;
            Ok(out)
        };
        assert!(get(addrs[1]).unwrap().starts_with("HTTP/1.0 200 OK\r\n"));
        drop(TcpStream::connect(addrs[0]).unwrap());
        assert_eq!(command("close 1"), "ok");
        assert_eq!(
            TcpStream::connect(addrs[1]).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
        assert!(get(addrs[2]).unwrap().ends_with("ok\n"));
        assert_eq!(command("open 1"), "ok");
        assert!(get(addrs[1]).unwrap().contains(" 200 "));
        // Two connections and two requests so far (the refused one is not counted).
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut count = command("count");
        while count != "count 4" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            count = command("count");
        }
        assert_eq!(count, "count 4");
        assert!(command("nonsense").starts_with("error"));
        ours.shutdown(std::net::Shutdown::Write).unwrap();
        server.join().unwrap().unwrap();
    }
}
