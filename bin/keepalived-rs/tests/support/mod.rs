#![allow(dead_code)] // shared by several test files, each using a part
//! Helpers of the daemon's integration tests: network namespaces, temporary directories,
//! the daemon run in the foreground with its log captured, pidfiles, /proc, and datagram
//! sockets standing in for systemd's notify socket and for syslog.
//!
//! Every resource is released by a `Drop` guard, also when a test panics; every wait has a
//! deadline and panics with the daemon's captured log.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The daemon under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_keepalived-rs");

/// The child roles, as their executables and pidfiles name them.
pub const ROLES: [&str; 3] = ["vrrp", "check", "ipvs"];

/// The directory of the daemon's executable, where `cargo build --workspace` put the
/// children and the fake child too.
pub fn build_dir() -> PathBuf {
    Path::new(BIN)
        .parent()
        .expect("the daemon binary has a directory")
        .to_path_buf()
}

/// Panics with a clear message when the child executables were not built.
pub fn require_children() {
    for role in ROLES {
        let p = build_dir().join(format!("keepalived-rs-{role}"));
        assert!(
            p.is_file(),
            "{} is missing: run `cargo build --workspace` before `cargo test -p keepalived-rs` \
             (the daemon's tests run the real child processes)",
            p.display()
        );
    }
}

/// The fake child (tests/fake-child), built by `cargo build --workspace`.
pub fn fake_child() -> PathBuf {
    let p = build_dir().join("keepalived-rs-fake-child");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace` first (tests/fake-child is a workspace \
         member)",
        p.display()
    );
    p
}

/// A name unique to this test process and call: `krs-<tag>-<pid>-<n>`.
fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "krs-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command to completion; panics when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ------------------------------------------------------------------------------------------
// Users
// ------------------------------------------------------------------------------------------

/// Creates the three children's system users when missing (once per test process).
pub fn ensure_users() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for role in ROLES {
            let name = format!("keepalived-rs-{role}");
            if user_ids(&name).is_some() {
                continue;
            }
            let out = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    &name,
                ])
                .output()
                .expect("cannot run useradd");
            // Exit status 9: created meanwhile by someone else.
            assert!(
                out.status.success() || out.status.code() == Some(9),
                "useradd {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(user_ids(&name).is_some(), "user {name} still missing");
        }
    });
}

/// (uid, primary gid) of a user, from /etc/passwd.
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

// ------------------------------------------------------------------------------------------
// Network namespaces and directories
// ------------------------------------------------------------------------------------------

/// A network namespace made with `ip netns add`, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// Its name (under /run/netns).
    pub name: String,
}

impl Netns {
    /// Creates `krs-<tag>-<pid>-<n>` with its loopback up.
    pub fn new(tag: &str) -> Netns {
        let name = unique(tag);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A temporary directory (root's, mode 0755), removed with its content on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `/tmp/krs-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(tag));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file inside it.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path.join(name);
        fs::write(&p, text).expect("write temp file");
        p
    }

    /// Writes an executable (0755) script inside it.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        let p = self.write(name, text);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod script");
        p
    }

    /// A subdirectory anyone may write into (for scripts run as an unprivileged user).
    pub fn shared_dir(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        fs::create_dir_all(&p).expect("create shared dir");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).expect("chmod shared dir");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes a directory tree on drop (what a daemon made outside a [`TempDir`]).
#[derive(Debug)]
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------------------------------
// Processes
// ------------------------------------------------------------------------------------------

/// The pid in a pidfile, if the file exists and holds a number.
pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

/// argv[0] of a process.
pub fn argv0(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = raw.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(first).into_owned())
}

/// Sends a signal; panics when the process does not exist.
pub fn signal(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
}

/// Kills a process of this daemon left behind (only if it is still a keepalived-rs
/// process, so that a recycled pid is never hit).
fn kill_leftover(pid: i32) {
    if pid > 1 && argv0(pid).is_some_and(|a| a.contains("keepalived-rs")) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Polls `f` every 20 ms until it returns `Some`, at most `timeout`.
pub fn poll_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------------------
// The daemon
// ------------------------------------------------------------------------------------------

/// How a daemon is started.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Network namespace to run in.
    pub netns: String,
    /// Configuration file.
    pub config: PathBuf,
    /// Base runtime directory (`--runtime-dir`); None: the default.
    pub runtime_base: Option<PathBuf>,
    /// Pass `-G` (no syslog).
    pub no_syslog: bool,
    /// Pass `-l` (log to stderr, which the test captures).
    pub console: bool,
    /// Further arguments.
    pub args: Vec<OsString>,
    /// Environment variables added.
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// `-n -l -G -f CONFIG --runtime-dir BASE` in `netns` (see the fields for the flags).
    pub fn new(netns: &Netns, config: &Path, runtime_base: &Path) -> Launch {
        Launch {
            netns: netns.name.clone(),
            config: config.to_path_buf(),
            runtime_base: Some(runtime_base.to_path_buf()),
            no_syslog: true,
            console: true,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds arguments.
    pub fn arg(mut self, a: impl Into<OsString>) -> Launch {
        self.args.push(a.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Launch {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The runtime directory the daemon uses: `<base>/<netns>/`.
    pub fn runtime_dir(&self) -> PathBuf {
        self.runtime_base
            .clone()
            .unwrap_or_else(|| PathBuf::from("/run/keepalived-rs"))
            .join(&self.netns)
    }

    /// Starts the daemon.
    pub fn start(self) -> Daemon {
        require_children();
        ensure_users();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns, BIN, "-n"]);
        if self.console {
            cmd.arg("-l");
        }
        if self.no_syslog {
            cmd.arg("-G");
        }
        cmd.arg("-f").arg(&self.config);
        if let Some(base) = &self.runtime_base {
            cmd.arg("--runtime-dir").arg(base);
        }
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .expect("cannot start ip netns exec keepalived-rs");
        let pid = i32::try_from(child.id()).expect("pid fits i32");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        if let Ok(mut l) = sink.lock() {
                            l.push_str(&text);
                        }
                    }
                }
            }
        });
        Daemon {
            child,
            pid,
            log,
            reader: Some(reader),
            runtime: self.runtime_dir(),
            status: None,
        }
    }
}

/// A running daemon (`ip netns exec` execs it, so the pid of the command is the daemon's).
/// Dropping it kills it and every child it started.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    /// The parent's pid.
    pub pid: i32,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    /// Its runtime directory.
    pub runtime: PathBuf,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Panics with a message and the log.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n----- daemon log (pid {}) -----\n{}\n-----------------------------",
            self.pid,
            self.log()
        );
    }

    /// Asserts, with the log in the message.
    pub fn check(&self, cond: bool, what: &str) {
        if !cond {
            self.fail(what);
        }
    }

    /// Waits until `f` returns `Some`, or panics after `timeout` describing `what`.
    pub fn wait<T>(&self, what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
        match poll_until(timeout, f) {
            Some(v) => v,
            None => self.fail(&format!("timed out after {timeout:?} waiting for {what}")),
        }
    }

    /// Waits for a log line containing `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait(&format!("a log line with {needle:?}"), timeout, || {
            self.log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string)
        })
    }

    /// Waits for the `n`th log line containing `needle` (n from 1); returns that line.
    pub fn wait_for_nth_log(&self, needle: &str, n: usize, timeout: Duration) -> String {
        self.wait(&format!("{n} log line(s) with {needle:?}"), timeout, || {
            self.log()
                .lines()
                .filter(|l| l.contains(needle))
                .nth(n - 1)
                .map(str::to_string)
        })
    }

    /// Log lines containing `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Waits for `Startup complete`.
    pub fn wait_started(&self) {
        self.wait_for_log("Startup complete", Duration::from_secs(10));
    }

    /// The pidfile of a role (`vrrp`, `check`, `ipvs`) or of the parent (`keepalived-rs`)
    /// in the runtime directory.
    pub fn pidfile(&self, role: &str) -> PathBuf {
        self.runtime.join(format!("{role}.pid"))
    }

    /// Waits until the pidfile of `role` holds a live pid (other than `not`); returns it.
    pub fn wait_pid_in(&self, file: &Path, not: Option<i32>, timeout: Duration) -> i32 {
        self.wait(
            &format!(
                "{} to hold the pid of a live process{}",
                file.display(),
                not.map(|p| format!(" other than {p}")).unwrap_or_default()
            ),
            timeout,
            || read_pid(file).filter(|p| Some(*p) != not && alive(*p)),
        )
    }

    /// The live pid of a role's child, from its default pidfile.
    pub fn child_pid(&self, role: &str) -> i32 {
        self.wait_pid_in(&self.pidfile(role), None, Duration::from_secs(5))
    }

    /// Sends a signal to the parent.
    pub fn signal(&self, sig: Signal) {
        signal(self.pid, sig);
    }

    /// The exit status, once it exited (reaps it).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the daemon to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                // Let the reader take the last lines.
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return s;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("the daemon did not exit within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pids of every child the log says it started.
    pub fn started_pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for l in self.log().lines() {
            if let Some(rest) = l.split("started keepalived-rs-").nth(1) {
                if let Some(n) = rest
                    .split("(pid ")
                    .nth(1)
                    .and_then(|r| r.split([',', ')']).next())
                    .and_then(|n| n.trim().parse().ok())
                {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The pids of `started keepalived-rs-<role> (pid N` lines, in order.
    pub fn started_pids_of(&self, role: &str) -> Vec<i32> {
        let key = format!("started keepalived-rs-{role} (pid ");
        self.log()
            .lines()
            .filter_map(|l| l.split(&key).nth(1))
            .filter_map(|r| r.split([',', ')']).next())
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = self.child.wait();
        }
        for pid in self.started_pids() {
            kill_leftover(pid);
        }
        for role in ROLES {
            if let Some(pid) = read_pid(&self.pidfile(role)) {
                kill_leftover(pid);
            }
        }
    }
}

/// The process status of one child, from /proc.
pub use keepalived_sys::confine::ProcStatus;

/// Reads /proc/<pid>/status.
pub fn proc_status(pid: i32) -> ProcStatus {
    keepalived_sys::confine::proc_status(Pid::from_raw(pid))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"))
}

// ------------------------------------------------------------------------------------------
// Datagram sockets: systemd's notify socket, syslog
// ------------------------------------------------------------------------------------------

/// A bound datagram socket whose messages a thread collects; unbound and removed on drop.
#[derive(Debug)]
pub struct Collector {
    path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Binds `path` (removing a stale file first).
    pub fn bind(path: &Path) -> Collector {
        let _ = fs::remove_file(path);
        let socket = UnixDatagram::bind(path)
            .unwrap_or_else(|e| panic!("cannot bind {}: {e}", path.display()));
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (Arc::clone(&messages), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Ok(mut v) = m.lock() {
                        v.push(text);
                    }
                }
            }
        });
        Collector {
            path: path.to_path_buf(),
            messages,
            stop,
            thread: Some(thread),
        }
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The path it is bound to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}
