//! The throwaway lab: four network namespaces (two routers, a client and the LAN with its
//! bridge) joined by veth pairs, a temporary directory for configurations, logs and runtime
//! files, and one daemon per router.
//!
//! ```text
//!   krs-demo-r1-S        krs-demo-r2-S        krs-demo-client-S
//!   eth0 192.0.2.1/24    eth0 192.0.2.2/24    eth0 192.0.2.100/24
//!        |                    |                    |
//!        r1 ---------------- br0 ---------------- client      krs-demo-lan-S
//!                             |
//!                             r2
//! ```
//!
//! `S` is a per-run suffix (the demo's pid, plus a counter for a second lab in one process),
//! so two runs never collide. A [`Lab`] owns everything it created and removes it when it
//! is closed or dropped: daemons stopped (SIGTERM, then SIGKILL after a bound), any process
//! left in a namespace killed, namespaces deleted, the directory removed.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::DemoError;

/// Every namespace of a demo lab starts with this.
pub const NS_PREFIX: &str = "krs-demo-";

/// The interface of each node on the LAN (inside the node's namespace).
pub const LAN_IF: &str = "eth0";

/// The bridge in the LAN namespace.
pub const BRIDGE: &str = "br0";

/// The virtual IP address.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// How long a daemon may take to stop after SIGTERM before it is killed (the daemon's own
/// child_wait_time is 5 s).
const STOP_WAIT: Duration = Duration::from_secs(7);

/// A node of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The first router (MASTER at start).
    R1,
    /// The second router (BACKUP at start).
    R2,
    /// The client that pings the VIP.
    Client,
    /// The LAN: the bridge joining the others.
    Lan,
}

impl Node {
    /// Every node, in creation order.
    pub const ALL: [Node; 4] = [Node::Lan, Node::R1, Node::R2, Node::Client];

    /// Its short name: r1, r2, client, lan.
    pub fn name(self) -> &'static str {
        match self {
            Node::R1 => "r1",
            Node::R2 => "r2",
            Node::Client => "client",
            Node::Lan => "lan",
        }
    }

    /// Its address on the LAN (none for the LAN itself).
    pub fn address(self) -> Option<Ipv4Addr> {
        match self {
            Node::R1 => Some(Ipv4Addr::new(192, 0, 2, 1)),
            Node::R2 => Some(Ipv4Addr::new(192, 0, 2, 2)),
            Node::Client => Some(Ipv4Addr::new(192, 0, 2, 100)),
            Node::Lan => None,
        }
    }
}

/// A router of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Router {
    /// r1: priority 150, MASTER at start.
    R1,
    /// r2: priority 100, BACKUP at start.
    R2,
}

impl Router {
    /// Both routers.
    pub const ALL: [Router; 2] = [Router::R1, Router::R2];

    /// The node it is.
    pub fn node(self) -> Node {
        match self {
            Router::R1 => Node::R1,
            Router::R2 => Node::R2,
        }
    }

    /// Its VRRP priority.
    pub fn priority(self) -> u8 {
        match self {
            Router::R1 => 150,
            Router::R2 => 100,
        }
    }

    /// The `state` its configuration starts in.
    pub fn initial_state(self) -> &'static str {
        match self {
            Router::R1 => "MASTER",
            Router::R2 => "BACKUP",
        }
    }
}

/// How the daemons are started.
#[derive(Debug, Clone)]
pub struct DaemonLaunch {
    /// The keepalived-rs executable.
    pub exe: PathBuf,
    /// `--vrrp-user`, when the default user does not exist.
    pub vrrp_user: Option<String>,
}

/// A daemon running in a router's namespace.
#[derive(Debug)]
struct Daemon {
    router: Router,
    child: Child,
    exited: Option<ExitStatus>,
    /// Asked to stop: its exit is no error.
    stopping: bool,
}

/// The lab. Dropping it removes everything it created.
#[derive(Debug)]
pub struct Lab {
    suffix: String,
    dir: PathBuf,
    dir_created: bool,
    namespaces: Vec<String>,
    daemons: Vec<Daemon>,
    closed: bool,
}

/// A suffix unique to this process and call: the pid, then `-N` from the second lab on.
fn unique_suffix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    match N.fetch_add(1, Ordering::Relaxed) {
        0 => std::process::id().to_string(),
        n => format!("{}-{n}", std::process::id()),
    }
}

/// The namespace name of a node for a suffix.
pub fn ns_name(node: Node, suffix: &str) -> String {
    format!("{NS_PREFIX}{}-{suffix}", node.name())
}

/// Runs `ip ARGS`; its stdout on success, [`DemoError::Command`] with its stderr otherwise.
pub fn ip(args: &[&str]) -> Result<String, DemoError> {
    // In its own process group: a Ctrl-C at the terminal reaches the demo only, and the
    // cleanup's own commands are not cut short by it.
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(|e| DemoError::Command {
            command: format!("ip {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(DemoError::Command {
            command: format!("ip {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The network namespaces that exist (`ip netns list`), names only.
pub fn namespaces() -> Result<Vec<String>, DemoError> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// The pid of the demo that made a namespace, from its name (`krs-demo-NODE-PID[-N]`).
fn owner_pid(ns: &str) -> Option<u32> {
    let rest = ns.strip_prefix(NS_PREFIX)?;
    let (node, suffix) = rest.split_once('-')?;
    if !Node::ALL.iter().any(|n| n.name() == node) {
        return None;
    }
    let pid = suffix.split('-').next()?;
    pid.parse().ok()
}

/// True while process `pid` exists and is not a zombie (a killed demo whose parent has
/// not reaped it is dead).
fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}

/// Deletes the namespaces (and kills their processes) and the directories of demo runs
/// whose process is gone, e.g. one killed with SIGKILL. Returns the namespaces removed.
pub fn remove_stale_labs() -> Result<Vec<String>, DemoError> {
    let stale: Vec<String> = namespaces()?
        .into_iter()
        .filter(|ns| owner_pid(ns).is_some_and(|pid| !alive(pid)))
        .collect();
    for ns in &stale {
        kill_namespace_processes(ns);
        ip(&["netns", "del", ns])?;
    }
    // Their directories too.
    if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dead = name
                .strip_prefix("krs-demo-")
                .and_then(|s| s.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|pid| !alive(pid));
            if dead && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(stale)
}

/// Kills every process in a namespace: SIGTERM, then SIGKILL for those still there after
/// a bound.
fn kill_namespace_processes(ns: &str) {
    let pids = |_: ()| -> Vec<Pid> {
        ip(&["netns", "pids", ns])
            .map(|out| {
                out.lines()
                    .filter_map(|l| l.trim().parse::<i32>().ok())
                    .map(Pid::from_raw)
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = pids(());
    if first.is_empty() {
        return;
    }
    for &p in &first {
        let _ = kill(p, Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_WAIT;
    while Instant::now() < deadline && !pids(()).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in pids(()) {
        let _ = kill(p, Signal::SIGKILL);
    }
}

impl Lab {
    /// Builds the lab: the directory, the four namespaces, the bridge, the veth pairs and
    /// the addresses. On error, whatever was created is removed before returning.
    pub fn create() -> Result<Lab, DemoError> {
        let suffix = unique_suffix();
        let dir = std::env::temp_dir().join(format!("krs-demo-{suffix}"));
        let mut lab = Lab {
            suffix,
            dir,
            dir_created: false,
            namespaces: Vec::new(),
            daemons: Vec::new(),
            closed: false,
        };
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&lab.dir)
            .map_err(|e| DemoError::Io {
                what: format!("cannot create {}", lab.dir.display()),
                source: e,
            })?;
        lab.dir_created = true;
        for node in Node::ALL {
            let ns = lab.ns(node);
            ip(&["netns", "add", &ns])?;
            lab.namespaces.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let lan = lab.ns(Node::Lan);
        ip(&["-n", &lan, "link", "add", BRIDGE, "type", "bridge"])?;
        ip(&["-n", &lan, "link", "set", BRIDGE, "up"])?;
        for node in [Node::R1, Node::R2, Node::Client] {
            let ns = lab.ns(node);
            let port = node.name();
            ip(&[
                "-n", &lan, "link", "add", port, "type", "veth", "peer", "name", LAN_IF, "netns",
                &ns,
            ])?;
            ip(&["-n", &lan, "link", "set", port, "master", BRIDGE])?;
            ip(&["-n", &lan, "link", "set", port, "up"])?;
            if let Some(a) = node.address() {
                ip(&["-n", &ns, "addr", "add", &format!("{a}/24"), "dev", LAN_IF])?;
            }
            ip(&["-n", &ns, "link", "set", LAN_IF, "up"])?;
        }
        Ok(lab)
    }

    /// The per-run suffix of this lab's names.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The namespace of a node.
    pub fn ns(&self, node: Node) -> String {
        ns_name(node, &self.suffix)
    }

    /// The temporary directory (configurations, logs, runtime directories).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of a router's daemon.
    pub fn log_path(&self, router: Router) -> PathBuf {
        self.dir.join(format!("{}.log", router.node().name()))
    }

    /// Writes a router's configuration and starts its daemon in its namespace:
    /// `ip netns exec NS keepalived-rs -n -l -G -P -f CONF --runtime-dir DIR/run-NODE`, in
    /// its own process group (a Ctrl-C reaches the demo only, which stops the daemons in
    /// order), with stdout and stderr in `DIR/NODE.log`.
    pub fn start_daemon(
        &mut self,
        router: Router,
        config: &str,
        launch: &DaemonLaunch,
    ) -> Result<(), DemoError> {
        let name = router.node().name();
        let conf = self.dir.join(format!("{name}.conf"));
        let io_err = |what: String| move |e| DemoError::Io { what, source: e };
        fs::write(&conf, config).map_err(io_err(format!("cannot write {}", conf.display())))?;
        let log_path = self.log_path(router);
        let log = fs::File::create(&log_path)
            .map_err(io_err(format!("cannot create {}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io_err(format!("cannot use {}", log_path.display())))?;
        let runtime = self.dir.join(format!("run-{name}"));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(router.node())])
            .arg(&launch.exe)
            .args(["-n", "-l", "-G", "-P", "-f"])
            .arg(&conf)
            .arg("--runtime-dir")
            .arg(&runtime);
        if let Some(u) = &launch.vrrp_user {
            cmd.args(["--vrrp-user", u]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(io_err(format!("cannot start {}", launch.exe.display())))?;
        self.daemons.push(Daemon {
            router,
            child,
            exited: None,
            stopping: false,
        });
        Ok(())
    }

    /// An error when a started daemon has exited.
    pub fn check_daemons(&mut self) -> Result<(), DemoError> {
        for d in &mut self.daemons {
            if d.exited.is_none() && !d.stopping {
                if let Ok(Some(status)) = d.child.try_wait() {
                    d.exited = Some(status);
                    return Err(DemoError::DaemonExited {
                        router: d.router.node().name(),
                        status: status.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Asks a router's daemon to stop (SIGTERM: as MASTER it sends priority 0 and releases
    /// its VIP); its exit is then expected, not an error.
    pub fn request_stop(&mut self, router: Router) {
        for d in self.daemons.iter_mut().filter(|d| d.router == router) {
            d.stopping = true;
            if d.exited.is_none() {
                signal_daemon(d, Signal::SIGTERM);
            }
        }
    }

    /// True when a router's daemon has exited (or was never started).
    pub fn daemon_exited(&mut self, router: Router) -> bool {
        self.daemons
            .iter_mut()
            .filter(|d| d.router == router)
            .all(|d| {
                if d.exited.is_none() {
                    if let Ok(Some(s)) = d.child.try_wait() {
                        d.exited = Some(s);
                    }
                }
                d.exited.is_some()
            })
    }

    /// Sets a node's LAN interface down.
    pub fn link_down(&self, node: Node) -> Result<(), DemoError> {
        ip(&["-n", &self.ns(node), "link", "set", LAN_IF, "down"]).map(drop)
    }

    /// True when the VIP is on the node's LAN interface.
    pub fn holds_vip(&self, node: Node) -> Result<bool, DemoError> {
        let out = ip(&[
            "-n",
            &self.ns(node),
            "-o",
            "-4",
            "addr",
            "show",
            "dev",
            LAN_IF,
        ])?;
        Ok(holds(&out, VIP))
    }

    /// The last `n` lines of a router's daemon log.
    pub fn log_tail(&self, router: Router, n: usize) -> Vec<String> {
        let text = fs::read_to_string(self.log_path(router)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    /// Removes everything: daemons stopped (all sent SIGTERM at once, then waited for),
    /// leftover processes in the namespaces killed, namespaces deleted, the directory
    /// removed. Returns the problems met (empty when everything went).
    pub fn close(&mut self) -> Vec<String> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        let mut problems = Vec::new();
        let deadline = Instant::now() + STOP_WAIT;
        for d in &mut self.daemons {
            if d.exited.is_none() {
                signal_daemon(d, Signal::SIGTERM);
            }
        }
        for d in &mut self.daemons {
            if d.exited.is_none() && !wait_daemon(d, deadline) {
                problems.push(format!(
                    "the daemon on {} did not stop within {} s: killed",
                    d.router.node().name(),
                    STOP_WAIT.as_secs()
                ));
                signal_daemon(d, Signal::SIGKILL);
                if let Ok(s) = d.child.wait() {
                    d.exited = Some(s);
                }
            }
        }
        for ns in self.namespaces.drain(..).rev() {
            kill_namespace_processes(&ns);
            if let Err(e) = ip(&["netns", "del", &ns]) {
                problems.push(e.to_string());
            }
        }
        if self.dir_created {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                problems.push(format!("cannot remove {}: {e}", self.dir.display()));
            }
        }
        problems
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in self.close() {
            eprintln!("keepalived-rs demo: cleanup: {p}");
        }
    }
}

/// Sends a signal to a daemon (the `ip netns exec` child, which became the daemon).
fn signal_daemon(d: &Daemon, signal: Signal) {
    if let Ok(pid) = i32::try_from(d.child.id()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Waits for a daemon to exit until `deadline`; true when it did.
fn wait_daemon(d: &mut Daemon, deadline: Instant) -> bool {
    loop {
        match d.child.try_wait() {
            Ok(Some(s)) => {
                d.exited = Some(s);
                return true;
            }
            Ok(None) => {}
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when `ip -o -4 addr` output lists `addr`.
fn holds(ip_output: &str, addr: Ipv4Addr) -> bool {
    ip_output.lines().any(|l| {
        let mut words = l.split_whitespace();
        words.any(|w| w == "inet")
            && words
                .next()
                .and_then(|a| a.split('/').next())
                .is_some_and(|a| a.parse::<Ipv4Addr>() == Ok(addr))
    })
}

/// The file of a named network namespace (what `setns` enters).
pub fn netns_path(ns: &str) -> PathBuf {
    Path::new("/run/netns").join(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_output() {
        let out = "2: eth0    inet 192.0.2.1/24 scope global eth0\\       valid_lft forever preferred_lft forever\n\
                   2: eth0    inet 192.0.2.10/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n";
        assert!(holds(out, VIP));
        assert!(holds(out, Ipv4Addr::new(192, 0, 2, 1)));
        assert!(!holds(out, Ipv4Addr::new(192, 0, 2, 2)));
        assert!(!holds(
            "2: eth0    inet 192.0.2.100/24 scope global eth0",
            VIP
        ));
        assert!(!holds("", VIP));
    }

    #[test]
    fn owners_are_read_from_namespace_names() {
        assert_eq!(owner_pid("krs-demo-r1-4242"), Some(4242));
        assert_eq!(owner_pid("krs-demo-client-4242-3"), Some(4242));
        assert_eq!(owner_pid("krs-demo-lan-17"), Some(17));
        assert_eq!(owner_pid("krs-demo-x-17"), None);
        assert_eq!(owner_pid("krs-other-r1-17"), None);
        assert_eq!(owner_pid("krs-demo-r1-abc"), None);
        assert_eq!(ns_name(Node::Client, "9-1"), "krs-demo-client-9-1");
    }
}
