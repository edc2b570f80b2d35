//! `keepalived-rs demo`: VRRP failover in a throwaway lab, with nothing to configure.
//!
//! As root it builds two routers, a client and a LAN in network namespaces
//! ([`lab`]), writes a keepalived.conf for each router ([`conf`]), starts one daemon per
//! router, waits until r1 holds the virtual IP, pings it from the client every 10 ms
//! ([`ping`]), fails r1 (link down, or its daemon stopped), waits until r2 holds the VIP,
//! and prints what the client saw ([`report`]). Then it removes everything, also on an
//! error and on Ctrl-C (SIGINT, SIGTERM, SIGHUP).
//!
//! Exit status: 0 when the failover was seen, 1 on any failure (with the reason and the
//! daemons' last log lines), 130 when interrupted.

mod conf;
mod lab;
mod ping;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use conf::{AdvertInt, parse_advert_int};
use conf::{Settings, router_config};
use lab::{DaemonLaunch, Lab, Node, Router, VIP};
use ping::Pinger;
use report::{Clock, Outcome};

use crate::cli::DemoArgs;

/// Where a packaged install keeps the child executables (the daemon looks beside its own
/// executable first, then here).
const LIBEXEC: &str = "/usr/libexec/keepalived-rs";

/// The VRRP process's default user (the daemon's `--vrrp-user` default).
const VRRP_USER: &str = "keepalived-rs-vrrp";

/// The user the VRRP process runs as when [`VRRP_USER`] does not exist (no package
/// installed the users): it keeps only CAP_NET_ADMIN and CAP_NET_RAW either way.
const FALLBACK_USER: &str = "nobody";

/// How long the client pings before the master fails.
const STEADY: Duration = Duration::from_secs(1);

/// How long the client pings after its replies came back.
const AFTER: Duration = Duration::from_millis(500);

/// Exit status after SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// How the master fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// Its LAN interface goes down: the backup takes over after Master_Down_Interval.
    Link,
    /// Its daemon stops: it sends priority 0, the backup takes over after Skew_Time.
    Stop,
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Not run as root.
    #[error(
        "the demo must run as root: it creates network namespaces and runs the daemon (try: sudo keepalived-rs demo)"
    )]
    NotRoot,
    /// A tool the demo runs is missing.
    #[error(
        "the command `{tool}` is missing: install the Debian package {package} (apt-get install {package})"
    )]
    MissingTool {
        /// The command.
        tool: &'static str,
        /// Its Debian package.
        package: &'static str,
    },
    /// The VRRP child executable is nowhere the daemon looks.
    #[error(
        "the VRRP process executable keepalived-rs-vrrp is neither beside {} nor in {LIBEXEC}: build the whole workspace (cargo build --workspace) or install the package",
        exe.display()
    )]
    MissingChild {
        /// The keepalived-rs executable.
        exe: PathBuf,
    },
    /// Neither the VRRP user nor the fallback exists.
    #[error(
        "neither the user {VRRP_USER} nor {FALLBACK_USER} exists: create {VRRP_USER} (useradd --system {VRRP_USER})"
    )]
    NoUser,
    /// A generated configuration does not load.
    #[error("the configuration of {router} does not load:\n{errors}")]
    Config {
        /// r1 or r2.
        router: &'static str,
        /// The parser's errors.
        errors: String,
    },
    /// An `ip` command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output.
        detail: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The pinger could not start.
    #[error("the client's pinger: {0}")]
    Ping(String),
    /// A daemon exited by itself.
    #[error("the daemon on {router} exited ({status})")]
    DaemonExited {
        /// r1 or r2.
        router: &'static str,
        /// How it ended.
        status: String,
    },
    /// r1 never got the VIP.
    #[error("the VIP {VIP} never appeared on r1 within {secs} s")]
    NoVipOnR1 {
        /// The bound waited.
        secs: u64,
    },
    /// The client never got a reply from r1.
    #[error("the client got no reply from the VIP {VIP} on r1 within {secs} s")]
    NoReplies {
        /// The bound waited.
        secs: u64,
    },
    /// r2 never took the VIP.
    #[error("r2 did not take the VIP {VIP} within {secs} s after r1 failed")]
    NoVipOnR2 {
        /// The bound waited.
        secs: u64,
    },
    /// The client's replies never came back.
    #[error("the client got no reply from the VIP {VIP} within {secs} s after r2 took it")]
    NoResume {
        /// The bound waited.
        secs: u64,
    },
    /// SIGINT, SIGTERM or SIGHUP.
    #[error("interrupted")]
    Interrupted,
}

impl DemoError {
    /// True when the daemons' logs explain the error.
    fn wants_logs(&self) -> bool {
        matches!(
            self,
            DemoError::DaemonExited { .. }
                | DemoError::NoVipOnR1 { .. }
                | DemoError::NoReplies { .. }
                | DemoError::NoVipOnR2 { .. }
                | DemoError::NoResume { .. }
        )
    }
}

/// Runs the demo and returns its exit status.
pub fn run(args: &DemoArgs) -> ExitCode {
    // The first SIGINT, SIGTERM or SIGHUP sets the flag and the demo removes its lab; a
    // second SIGINT or SIGTERM ends it at once (a later run removes what it left).
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let registered = if sig == signal_hook::consts::SIGHUP {
            Ok(())
        } else {
            signal_hook::flag::register_conditional_shutdown(
                sig,
                i32::from(EXIT_INTERRUPTED),
                interrupted.clone(),
            )
            .map(drop)
        }
        .and_then(|()| signal_hook::flag::register(sig, interrupted.clone()).map(drop));
        if let Err(e) = registered {
            eprintln!("keepalived-rs demo: cannot handle signal {sig}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let settings = Settings {
        version: args.vrrp_version,
        advert_int: args.advert_int,
    };
    let launch = match preflight(settings) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("keepalived-rs demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lab::remove_stale_labs() {
        Ok(stale) if !stale.is_empty() => println!(
            "(removed namespaces left by an earlier demo that did not finish: {})",
            stale.join(", ")
        ),
        Ok(_) => {}
        Err(e) => eprintln!("keepalived-rs demo: cannot look for leftover namespaces: {e}"),
    }
    let clock = Clock::new();
    let mut lab = match Lab::create() {
        Ok(lab) => lab,
        Err(e) => return failure(&e, &interrupted),
    };
    print!(
        "{}",
        report::plan(lab.suffix(), settings, args.fail, lab.dir())
    );
    println!();
    clock.say("lab ready");
    let result = scenario(&mut lab, settings, args.fail, &launch, &clock, &interrupted);
    let code = match &result {
        Ok(outcome) => {
            println!();
            print!("{}", report::result(outcome));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = failure(e, &interrupted);
            if e.wants_logs() && !interrupted.load(Ordering::Relaxed) {
                for r in Router::ALL {
                    eprintln!(
                        "--- the last lines of {}'s daemon log ({}):",
                        r.node().name(),
                        lab.log_path(r).display()
                    );
                    for l in lab.log_tail(r, 15) {
                        eprintln!("    {l}");
                    }
                }
            }
            code
        }
    };
    let dir = lab.dir().to_path_buf();
    let suffix = lab.suffix().to_string();
    let problems = lab.close();
    println!();
    if problems.is_empty() {
        println!(
            "Cleaned up: daemons stopped, namespaces krs-demo-*-{suffix} deleted, {} removed.",
            dir.display()
        );
        code
    } else {
        for p in &problems {
            eprintln!("keepalived-rs demo: cleanup: {p}");
        }
        ExitCode::FAILURE
    }
}

/// Prints an error and returns the exit status for it.
fn failure(e: &DemoError, interrupted: &AtomicBool) -> ExitCode {
    if interrupted.load(Ordering::Relaxed) || matches!(e, DemoError::Interrupted) {
        eprintln!("keepalived-rs demo: interrupted; removing the lab");
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        eprintln!("keepalived-rs demo: {e}");
        ExitCode::FAILURE
    }
}

/// Checks what the demo needs before creating anything: root, `ip`, the child executable,
/// a user for the VRRP process, and configurations that load.
fn preflight(settings: Settings) -> Result<DaemonLaunch, DemoError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(DemoError::NotRoot);
    }
    match std::process::Command::new("ip")
        .arg("-V")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DemoError::MissingTool {
                tool: "ip",
                package: "iproute2",
            });
        }
        Err(e) => {
            return Err(DemoError::Io {
                what: "cannot run ip".into(),
                source: e,
            });
        }
    }
    let exe = std::env::current_exe().map_err(|e| DemoError::Io {
        what: "cannot find this program's executable".into(),
        source: e,
    })?;
    let beside = exe.parent().map(|d| d.join("keepalived-rs-vrrp"));
    if !beside.as_deref().is_some_and(Path::is_file)
        && !Path::new(LIBEXEC).join("keepalived-rs-vrrp").is_file()
    {
        return Err(DemoError::MissingChild { exe });
    }
    let exists = |u: &str| matches!(nix::unistd::User::from_name(u), Ok(Some(_)));
    let vrrp_user = if exists(VRRP_USER) {
        None
    } else if exists(FALLBACK_USER) {
        Some(FALLBACK_USER.to_string())
    } else {
        return Err(DemoError::NoUser);
    };
    for r in Router::ALL {
        let name = r.node().name();
        conf::check(&format!("{name}.conf"), &router_config(r, settings)).map_err(|errors| {
            DemoError::Config {
                router: name,
                errors,
            }
        })?;
    }
    Ok(DaemonLaunch { exe, vrrp_user })
}

/// Polls `done` every 20 ms until it is true, `bound` passes (`Ok(false)`), a daemon exits
/// or a signal arrives.
fn wait_for(
    lab: &mut Lab,
    interrupted: &AtomicBool,
    bound: Duration,
    mut done: impl FnMut(&mut Lab) -> Result<bool, DemoError>,
) -> Result<bool, DemoError> {
    let deadline = Instant::now() + bound;
    loop {
        if interrupted.load(Ordering::Relaxed) {
            return Err(DemoError::Interrupted);
        }
        lab.check_daemons()?;
        if done(lab)? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The demo proper, in a built lab.
fn scenario(
    lab: &mut Lab,
    settings: Settings,
    fail: FailMode,
    launch: &DaemonLaunch,
    clock: &Clock,
    interrupted: &AtomicBool,
) -> Result<Outcome, DemoError> {
    let adv = settings.advert_int.duration();
    for r in Router::ALL {
        lab.start_daemon(r, &router_config(r, settings), launch)?;
    }
    let started = Instant::now();
    clock.say(&format!(
        "started keepalived-rs on r1 and r2{}",
        match &launch.vrrp_user {
            Some(u) => format!(" (VRRP process as user {u}: {VRRP_USER} does not exist)"),
            None => String::new(),
        }
    ));

    // r1 (MASTER, priority 150) takes the VIP, r2 stays BACKUP.
    let bound = (adv * 4 + Duration::from_secs(2)).max(Duration::from_secs(10));
    let r1_ok = wait_for(lab, interrupted, bound, |lab| {
        Ok(lab.holds_vip(Node::R1)? && !lab.holds_vip(Node::R2)?)
    })?;
    if !r1_ok {
        return Err(DemoError::NoVipOnR1 {
            secs: bound.as_secs(),
        });
    }
    let r1_took = started.elapsed();
    clock.say(&format!("r1 holds the VIP {VIP} (r2 is its backup)"));

    // The client pings the VIP and gets replies.
    let pinger = Pinger::start(&lab.ns(Node::Client), VIP).map_err(DemoError::Ping)?;
    let bound = Duration::from_secs(5);
    if !wait_for(lab, interrupted, bound, |_| {
        Ok(pinger.snapshot().replies() > 0)
    })? {
        return Err(DemoError::NoReplies {
            secs: bound.as_secs(),
        });
    }
    clock.say(&format!(
        "the client gets replies from {VIP}, pinging every {} ms",
        ping::INTERVAL.as_millis()
    ));
    wait_for(lab, interrupted, STEADY, |_| Ok(false))?;

    // The master fails.
    let failed = Instant::now();
    match fail {
        FailMode::Link => {
            lab.link_down(Node::R1)?;
            clock.say("r1 fails: its link eth0 is set down");
        }
        FailMode::Stop => {
            lab.request_stop(Router::R1);
            clock.say("r1 fails: its daemon is stopped (SIGTERM)");
        }
    }

    // r2 takes the VIP.
    let bound = adv * 4 + Duration::from_secs(10);
    if !wait_for(lab, interrupted, bound, |lab| lab.holds_vip(Node::R2))? {
        return Err(DemoError::NoVipOnR2 {
            secs: bound.as_secs(),
        });
    }
    let r2_took = failed.elapsed();
    let r2_at = Instant::now();
    clock.say(&format!(
        "r2 holds the VIP {VIP} ({:.2} s after the failure)",
        r2_took.as_secs_f64()
    ));

    // The client's replies come back.
    let bound = Duration::from_secs(10);
    let resumed = wait_for(lab, interrupted, bound, |_| {
        Ok(pinger.snapshot().answered_since(failed).is_some())
    })?;
    if !resumed {
        return Err(DemoError::NoResume {
            secs: bound.as_secs(),
        });
    }
    clock.say(&format!(
        "the client gets replies again ({:.2} s after r2 took the VIP)",
        r2_at.elapsed().as_secs_f64()
    ));
    wait_for(lab, interrupted, AFTER, |_| Ok(false))?;
    if fail == FailMode::Stop {
        // r1's daemon stops within its own bound (child_wait_time); the lab's cleanup
        // kills it otherwise.
        let _ = wait_for(lab, interrupted, Duration::from_secs(6), |lab| {
            Ok(lab.daemon_exited(Router::R1))
        })?;
    }
    let log = pinger.stop();
    let (sent, answered) = log.timeline();
    let outage = ping::measure(&sent, &answered).ok_or(DemoError::NoResume {
        secs: bound.as_secs(),
    })?;
    Ok(Outcome {
        settings,
        fail,
        r1_took,
        r2_took,
        outage,
        duplicates: log.duplicates,
    })
}

#[cfg(test)]
mod tests {
    //! The lab and the pinger against the kernel (as root, in namespaces of their own).

    use super::*;

    /// The namespaces of a lab that exist now.
    fn remaining(suffix: &str) -> Vec<String> {
        lab::namespaces()
            .expect("ip netns list")
            .into_iter()
            .filter(|n| n.starts_with(lab::NS_PREFIX) && n.ends_with(&format!("-{suffix}")))
            .collect()
    }

    /// The keepalived-rs binary beside the test executable (target/debug/deps/..).
    fn daemon_exe() -> PathBuf {
        let exe = std::env::current_exe().expect("test executable");
        let dir = exe.parent().and_then(Path::parent).expect("target/debug");
        for name in ["keepalived-rs", "keepalived-rs-vrrp"] {
            assert!(
                dir.join(name).is_file(),
                "{} is missing: run `cargo build --workspace` first",
                dir.join(name).display()
            );
        }
        dir.join("keepalived-rs")
    }

    fn launch() -> DaemonLaunch {
        let exists = |u: &str| matches!(nix::unistd::User::from_name(u), Ok(Some(_)));
        DaemonLaunch {
            exe: daemon_exe(),
            vrrp_user: (!exists(VRRP_USER)).then(|| FALLBACK_USER.to_string()),
        }
    }

    fn settings() -> Settings {
        Settings {
            version: 2,
            advert_int: AdvertInt(100),
        }
    }

    #[test]
    fn a_lab_is_built_as_planned_and_removed_on_close() {
        let mut lab = Lab::create().expect("lab");
        let suffix = lab.suffix().to_string();
        let mut names = remaining(&suffix);
        names.sort();
        assert_eq!(
            names,
            ["client", "lan", "r1", "r2"].map(|n| format!("krs-demo-{n}-{suffix}"))
        );
        assert!(lab.dir().is_dir());
        let r1 = lab::ip(&[
            "-n",
            &lab.ns(Node::R1),
            "-o",
            "-4",
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .expect("ip addr");
        assert!(r1.contains("inet 192.0.2.1/24"), "{r1}");
        let ports = lab::ip(&[
            "-n",
            &lab.ns(Node::Lan),
            "-o",
            "link",
            "show",
            "master",
            "br0",
        ])
        .expect("ip link");
        for p in ["r1@", "r2@", "client@"] {
            assert!(ports.contains(p), "{p} in {ports}");
        }
        assert!(!lab.holds_vip(Node::R1).expect("ip addr"));
        let dir = lab.dir().to_path_buf();
        assert_eq!(lab.close(), Vec::<String>::new());
        assert_eq!(remaining(&suffix), Vec::<String>::new());
        assert!(!dir.exists());
        // A second close (and the drop) has nothing left to do.
        assert_eq!(lab.close(), Vec::<String>::new());
    }

    #[test]
    fn an_error_in_the_middle_leaves_nothing_behind() {
        // The lab is dropped by `?` while its daemons run.
        fn broken(suffix: &mut String, pids: &mut Vec<i32>) -> Result<(), DemoError> {
            let mut lab = Lab::create()?;
            *suffix = lab.suffix().to_string();
            for r in Router::ALL {
                lab.start_daemon(r, &router_config(r, settings()), &launch())?;
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while pids.len() < 2 && Instant::now() < deadline {
                for r in Router::ALL {
                    pids.extend(
                        lab::ip(&["netns", "pids", &lab.ns(r.node())])?
                            .lines()
                            .filter_map(|l| l.trim().parse::<i32>().ok()),
                    );
                }
                pids.sort();
                pids.dedup();
                std::thread::sleep(Duration::from_millis(50));
            }
            lab.check_daemons()?;
            lab::ip(&["-n", &lab.ns(Node::R1), "link", "set", "no-such-link", "up"])?;
            unreachable!("the command above fails");
        }
        let (mut suffix, mut pids) = (String::new(), Vec::new());
        let err = broken(&mut suffix, &mut pids).expect_err("the broken scenario fails");
        assert!(
            matches!(&err, DemoError::Command { command, .. } if command.contains("no-such-link")),
            "{err}"
        );
        assert!(pids.len() >= 2, "the daemons ran: {pids:?}");
        assert!(!suffix.is_empty());
        assert_eq!(remaining(&suffix), Vec::<String>::new());
        for pid in pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists()
                    || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| !s.contains("keepalived")),
                "process {pid} of the lab survived"
            );
        }
        assert!(
            !std::env::temp_dir()
                .join(format!("krs-demo-{suffix}"))
                .exists()
        );
    }

    #[test]
    fn a_failing_lab_creation_removes_what_it_made() {
        // An address the kernel refuses makes creation fail half-way, through the same
        // path as any `ip` error.
        let lab = Lab::create().expect("lab");
        let suffix = lab.suffix().to_string();
        let err = lab::ip(&[
            "-n",
            &lab.ns(Node::Client),
            "addr",
            "add",
            "300.0.0.1/24",
            "dev",
            "eth0",
        ])
        .expect_err("a bad address");
        assert!(err.to_string().contains("300.0.0.1"), "{err}");
        drop(lab);
        assert_eq!(remaining(&suffix), Vec::<String>::new());
    }

    #[test]
    fn the_pinger_measures_a_link_outage() {
        let lab = Lab::create().expect("lab");
        let pinger =
            Pinger::start(&lab.ns(Node::Client), Node::R1.address().expect("r1")).expect("pinger");
        let deadline = Instant::now() + Duration::from_secs(5);
        while pinger.snapshot().replies() < 20 {
            assert!(Instant::now() < deadline, "no replies from r1");
            std::thread::sleep(Duration::from_millis(10));
        }
        let down = Instant::now();
        lab.link_down(Node::R1).expect("link down");
        std::thread::sleep(Duration::from_millis(300));
        lab::ip(&["-n", &lab.ns(Node::R1), "link", "set", "eth0", "up"]).expect("link up");
        let deadline = Instant::now() + Duration::from_secs(10);
        while pinger
            .snapshot()
            .answered_since(down + Duration::from_millis(300))
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "no replies after the link came back"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(200));
        let log = pinger.stop();
        let (sent, answered) = log.timeline();
        let o = ping::measure(&sent, &answered).expect("replies");
        let ms = o.longest_gap.as_millis();
        eprintln!("link down 300 ms: gap {ms} ms, {o:?}");
        assert!((300..3_000).contains(&ms), "gap {ms} ms: {o:?}");
        assert!(o.lost >= 25, "{o:?}");
        assert_eq!(log.duplicates, 0);
        // Requests keep their 10 ms rhythm.
        let span = (sent[sent.len() - 1] - sent[0]).as_millis() as usize;
        assert!(
            sent.len() * 10 >= span * 9 / 10,
            "{} requests in {span} ms",
            sent.len()
        );
    }

    #[test]
    fn stale_labs_of_dead_runs_are_removed() {
        // A namespace named as a lab of a pid that cannot exist (above pid_max).
        // Its process and directory go with it.
        let name = "krs-demo-r1-4999999";
        let dir = std::env::temp_dir().join("krs-demo-4999999");
        let _ = lab::ip(&["netns", "del", name]);
        lab::ip(&["netns", "add", name]).expect("netns add");
        std::fs::create_dir_all(dir.join("run-r1")).expect("stale dir");
        let mut sleeper = std::process::Command::new("ip")
            .args(["netns", "exec", name, "sleep", "60"])
            .spawn()
            .expect("a process in the stale namespace");
        let deadline = Instant::now() + Duration::from_secs(5);
        while lab::ip(&["netns", "pids", name])
            .expect("pids")
            .trim()
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "sleep never entered the namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let lab = Lab::create().expect("lab");
        let removed = lab::remove_stale_labs().expect("removal");
        assert!(removed.contains(&name.to_string()), "{removed:?}");
        assert!(!lab::namespaces().expect("list").contains(&name.to_string()));
        assert!(!dir.exists());
        let status = sleeper.wait().expect("reaped");
        assert!(!status.success(), "killed: {status}");
        // A live run's lab stays.
        assert_eq!(remaining(lab.suffix()).len(), 4);
        assert!(lab.dir().is_dir());

        // A demo killed and not yet reaped (a zombie) is dead too.
        let mut zombie = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let pid = zombie.id();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .expect("a zombie keeps its /proc entry")
            .contains(") Z")
        {
            assert!(Instant::now() < deadline, "{pid} never became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        let name = format!("krs-demo-lan-{pid}");
        lab::ip(&["netns", "add", &name]).expect("netns add");
        let removed = lab::remove_stale_labs().expect("removal");
        let _ = zombie.wait();
        assert!(removed.contains(&name), "{removed:?}");
    }
}
