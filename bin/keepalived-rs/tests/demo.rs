//! End-to-end tests of `keepalived-rs demo` (as root): the failover it shows, the report it
//! prints, and that nothing of its lab is left afterwards, also after Ctrl-C.
//!
//! The demo runs the real daemons, so the child executables must be built
//! (`cargo build --workspace`, as tests/run does). Runs are serialised: each measures a
//! failover, which two runs sharing the CPUs would distort.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_keepalived-rs");

/// The longest a demo may run before the test kills it.
const RUN_BOUND: Duration = Duration::from_secs(90);

/// One demo at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn require_children() {
    let dir = Path::new(BIN).parent().expect("target dir");
    let vrrp = dir.join("keepalived-rs-vrrp");
    assert!(
        vrrp.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests",
        vrrp.display()
    );
}

/// A running demo, its output collected line by line. Killed (with its lab's
/// namespaces deleted) on drop if a test fails half-way.
struct Demo {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    lines: Receiver<String>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn collect(
    pipe: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
    tx: Option<std::sync::mpsc::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut s) = into.lock() {
                s.push_str(&line);
                s.push('\n');
            }
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    })
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .arg("demo")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start keepalived-rs demo");
        let (tx, lines) = channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(
                child.stdout.take().expect("stdout"),
                stdout.clone(),
                Some(tx),
            ),
            collect(child.stderr.take().expect("stderr"), stderr.clone(), None),
        ];
        Demo {
            child,
            stdout,
            stderr,
            lines,
            readers,
        }
    }

    fn output(&self) -> String {
        format!(
            "--- stdout:\n{}--- stderr:\n{}",
            self.stdout.lock().map(|s| s.clone()).unwrap_or_default(),
            self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
        )
    }

    /// Waits for a stdout line containing `text`.
    fn wait_line(&self, text: &str, bound: Duration) -> String {
        let deadline = Instant::now() + bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(text) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line with {text:?} within {bound:?}\n{}", self.output()),
            }
        }
    }

    /// Waits for the exit (bounded); returns the status, stdout and stderr.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + RUN_BOUND;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the demo ran longer than {RUN_BOUND:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out = self.stdout.lock().map(|s| s.clone()).unwrap_or_default();
        let err = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        (status, out, err)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            // What the killed demo could not remove (its next run would).
            let out = self.stdout.lock().map(|s| s.clone()).unwrap_or_default();
            if let Some(suffix) = suffix(&out) {
                for ns in lab_namespaces(&suffix) {
                    for pid in namespace_pids(&ns) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
                }
                let _ = std::fs::remove_dir_all(lab_dir(&suffix));
            }
        }
    }
}

/// The lab's suffix, from the plan's line `... namespace krs-demo-NODE-SUFFIX, ...`.
fn suffix(out: &str) -> Option<String> {
    let rest = out.split("namespace krs-demo-NODE-").nth(1)?;
    Some(rest.split([',', ' ', '\n']).next()?.to_string())
}

fn lab_dir(suffix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("krs-demo-{suffix}"))
}

/// The namespaces of the lab with this suffix that exist.
fn lab_namespaces(suffix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("krs-demo-") && n.ends_with(&format!("-{suffix}")))
        .map(str::to_string)
        .collect()
}

fn namespace_pids(ns: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The seconds on a report line `LABEL   N.NN s ...`.
fn seconds(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in\n{out}"));
    line[line.find(label).expect("label") + label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number on {line:?}"))
}

/// Asserts that nothing of the lab is left: namespaces, directory.
fn assert_removed(out: &str) {
    let suffix = suffix(out).unwrap_or_else(|| panic!("no lab suffix in\n{out}"));
    assert_eq!(lab_namespaces(&suffix), Vec::<String>::new(), "{out}");
    assert!(
        !lab_dir(&suffix).exists(),
        "{} is left",
        lab_dir(&suffix).display()
    );
}

/// Runs a demo to the end and checks its report; returns (failover, lost) as reported.
fn failover(args: &[&str], how: &str) -> (f64, u64) {
    require_children();
    let _serial = serial();
    let demo = Demo::start(args);
    let (status, out, err) = demo.finish();
    let all = format!("--- stdout:\n{out}--- stderr:\n{err}");
    assert!(status.success(), "{status}\n{all}");
    for want in [
        "r1 holds the VIP 192.0.2.10",
        "the client gets replies from 192.0.2.10",
        how,
        "r2 holds the VIP 192.0.2.10",
        "the client gets replies again",
        "the VIP was held by:         r1, then r2",
        "Cleaned up: daemons stopped",
    ] {
        assert!(out.contains(want), "{want:?} missing\n{all}");
    }
    let gap = seconds(&out, "failover seen by the client:");
    let r2 = seconds(&out, "r2 took the VIP:");
    let lost_line = out
        .lines()
        .find(|l| l.contains("pings lost:"))
        .unwrap_or_else(|| panic!("no 'pings lost:'\n{all}"));
    let lost: u64 = lost_line
        .split("pings lost:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count on {lost_line:?}"));
    assert!(gap > 0.0 && r2 > 0.0, "{all}");
    // 10 ms per lost ping, give or take the pinger's jitter.
    assert!(
        (lost as f64 * 0.010) <= gap + 0.05,
        "{lost} pings lost in a gap of {gap} s\n{all}"
    );
    assert_removed(&out);
    (gap, lost)
}

#[test]
fn the_demo_shows_a_link_failover_and_removes_its_lab() {
    let (gap, lost) = failover(&[], "r1 fails: its link eth0 is set down");
    // Master_Down_Interval is 3.61 s with advert_int 1, counted from the last advert r2
    // received from r1, up to one interval before the link went down: the client's
    // outage is 2.61 to 3.61 s, plus the time for its ARP entry to follow the VIP.
    assert!((2.5..8.0).contains(&gap), "failover {gap} s");
    assert!(lost >= 200, "{lost} pings lost");
}

#[test]
fn a_stopped_master_hands_over_within_skew_time() {
    let (gap, _) = failover(
        &["--fail", "stop"],
        "r1 fails: its daemon is stopped (SIGTERM)",
    );
    // Priority 0: r2 takes over after Skew_Time (0.61 s), far sooner than
    // Master_Down_Interval (3.61 s).
    assert!(gap < 2.5, "failover {gap} s");
}

#[test]
fn ctrl_c_stops_the_daemons_and_removes_the_lab() {
    require_children();
    let _serial = serial();
    let demo = Demo::start(&[]);
    demo.wait_line(
        "started keepalived-rs on r1 and r2",
        Duration::from_secs(20),
    );
    let out = demo.stdout.lock().map(|s| s.clone()).unwrap_or_default();
    let suffix = suffix(&out).expect("suffix");
    let pids: Vec<i32> = lab_namespaces(&suffix)
        .iter()
        .flat_map(|ns| namespace_pids(ns))
        .collect();
    let pid = Pid::from_raw(i32::try_from(demo.child.id()).expect("pid"));
    kill(pid, Signal::SIGINT).expect("SIGINT");
    let (status, out, err) = demo.finish();
    assert_eq!(status.code(), Some(130), "{status}\n{out}\n{err}");
    assert!(err.contains("interrupted; removing the lab"), "{err}");
    assert!(out.contains("Cleaned up"), "{out}");
    assert_removed(&out);
    for p in pids {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists(),
            "process {p} of the lab is still running"
        );
    }
}

#[test]
fn the_demo_refuses_to_run_without_root() {
    use std::os::unix::process::CommandExt;
    let out = Command::new(BIN)
        .arg("demo")
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run as nobody");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the demo must run as root"), "{err}");
    assert!(out.stdout.is_empty(), "nothing built");
}

#[test]
fn a_configuration_that_does_not_load_stops_the_demo_before_the_lab() {
    // VRRPv2 carries whole seconds only.
    require_children();
    let out = Command::new(BIN)
        .args(["demo", "--advert-int", "0.5"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the configuration of r1 does not load"),
        "{err}"
    );
    assert!(err.contains("advert_int"), "{err}");
    assert!(out.stdout.is_empty(), "nothing built");
    // An option out of range is a usage error.
    let out = Command::new(BIN)
        .args(["demo", "--advert-int", "0.5", "--vrrp-version", "4"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}
