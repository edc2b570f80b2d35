//! The parent's state and its event loop.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use keepalived_config::project::Role;
use keepalived_config::{Config, LoadOptions, Loaded, Script};
use keepalived_ipc::child::ChildArgs;
use keepalived_ipc::msg::*;
use keepalived_sys::notify::Notifier;
use keepalived_sys::runtime::RuntimePaths;
use keepalived_sys::script::ScriptCommand;
use keepalived_sys::spawn::{ChildSpec, Executable};
use keepalived_sys::syslog::Severity;
use log::{error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

use keepalived_check::smtp_alert::{AlertSender, InstanceState};

use super::broker::{Broker, Finished, Job, JobKind, OrderKey, Outcome};
use super::child::{Child, Inbound, Link, Projection, Running, Stage};
use super::logging::{self, LogSettings};
use super::supervise;

#[path = "control.rs"]
mod control;

/// Exit status when the configuration cannot be loaded or applied.
const EXIT_CONFIG: u8 = 2;
/// Exit status for a fatal error.
const EXIT_FATAL: u8 = 1;
/// Exit status for a missing permission (a child's user, a capability).
const EXIT_PERMISSION: u8 = 4;

/// How long a child may take from spawn to its first hello or config ack.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the parent waits for children's dumps.
const DUMP_DEADLINE: Duration = Duration::from_secs(2);
/// How long a notify script may run. keepalived gives them no limit, but here a hung notify
/// script would hold back every later notify of its object.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the parent reads the track files.
const TRACK_FILE_PERIOD: Duration = Duration::from_secs(1);
/// Alerts kept while the checker is not running (the oldest is dropped beyond).
const MAX_PENDING_ALERTS: usize = 64;
/// The most real servers a checker snapshot may hold (a bound on what the parent buffers).
const MAX_SNAPSHOT_ENTRIES: usize = 1_000_000;
/// Scripts that may run at once.
const MAX_SCRIPTS: usize = 32;

const SIGNALS: Token = Token(0);

fn ipc_token(role: Role) -> Token {
    Token(1 + 2 * role_index(role))
}

fn log_token(role: Role) -> Token {
    Token(2 + 2 * role_index(role))
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Vrrp => 0,
        Role::Check => 1,
        Role::Ipvs => 2,
    }
}

fn token_role(t: Token) -> Option<(Role, bool)> {
    let n = t.0.checked_sub(1)?;
    let role = [Role::Vrrp, Role::Check, Role::Ipvs].get(n / 2).copied()?;
    Some((role, n % 2 == 0))
}

/// The user and group a child runs as (`--vrrp-user USER[:GROUP]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// A user name or number.
    pub user: String,
    /// A group name or number (default: the user's primary group).
    pub group: Option<String>,
}

impl std::str::FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g.to_string()).filter(|g| !g.is_empty())),
            None => (s, None),
        };
        if u.is_empty() {
            return Err("expected USER[:GROUP]".into());
        }
        Ok(UserSpec {
            user: u.to_string(),
            group: g,
        })
    }
}

/// Everything the daemon takes from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration file.
    pub config_file: PathBuf,
    /// How to read it.
    pub load: LoadOptions,
    /// `-P`: only the VRRP process.
    pub only_vrrp: bool,
    /// `-C`: only the checker and IPVS writer.
    pub only_check: bool,
    /// `--all`: start every child even without configuration for it.
    pub all: bool,
    /// `-R`: exit when a child dies.
    pub dont_respawn: bool,
    /// Not `-V`: release VIPs and VMACs on stop.
    pub release_vrrp: bool,
    /// Not `-I`: remove IPVS entries on stop.
    pub release_ipvs: bool,
    /// `-n`: stay in the foreground.
    pub foreground: bool,
    /// Log destinations.
    pub log: LogSettings,
    /// `-p`, `-r`, `-c` and `--ipvs-pid`.
    pub pidfiles: [Option<PathBuf>; 4],
    /// Where runtime directories are made (default /run/keepalived-rs).
    pub runtime_base: PathBuf,
    /// `-s`: the network namespace to run in.
    pub namespace: Option<String>,
    /// Users of the VRRP process, the checker and the IPVS writer.
    pub users: [UserSpec; 3],
    /// Where the child executables are (default: beside this program in a build tree,
    /// else /usr/libexec/keepalived-rs).
    pub libexec: Option<PathBuf>,
    /// Children test their confinement at start.
    pub verify_confinement: bool,
    /// `-u`: the umask.
    pub umask: Option<u32>,
    /// `-d`: log the configuration as understood (JSON) at start and after each reload.
    pub dump_conf: bool,
}

/// The directory of installed child executables.
pub const LIBEXEC: &str = "/usr/libexec/keepalived-rs";

/// Runs the daemon until it is stopped.
pub fn run(opts: Options) -> ExitCode {
    // First: NOTIFY_SOCKET and WATCHDOG_* leave the environment, so no child or script
    // ever sees them.
    let notifier = Notifier::from_env();
    logging::init(&opts.log);
    if let Some(mask) = opts.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let (loaded, tls) = match load(&opts) {
        Ok(l) => l,
        Err(code) => return ExitCode::from(code),
    };
    if !opts.foreground {
        if let Err(e) = nix::unistd::daemon(false, false) {
            error!("cannot detach: {e}");
            return ExitCode::from(EXIT_FATAL);
        }
    }
    match Parent::new(opts, loaded, tls, notifier) {
        Ok(mut p) => {
            let code = p.run();
            p.cleanup();
            ExitCode::from(code)
        }
        Err(code) => ExitCode::from(code),
    }
}

/// Loads and validates the configuration; logs every diagnostic. Returns it with the TLS
/// material of the `SSL { }` block, read here (children open no files).
fn load(opts: &Options) -> Result<(Loaded, TlsFiles), u8> {
    let mut loaded = keepalived_config::load(&opts.config_file, &opts.load);
    crate::system::check_scripts(&mut loaded, &crate::system::RealSystem::new());
    crate::system::check_runtime(&mut loaded);
    let tls = crate::system::check_ssl(&mut loaded);
    for d in &loaded.diagnostics {
        if d.is_error() {
            error!("{d}");
        } else {
            warn!("{d}");
        }
    }
    if loaded.is_ok() && opts.dump_conf {
        match serde_json::to_string_pretty(&loaded.config) {
            Ok(text) => text.lines().for_each(|l| info!("config: {l}")),
            Err(e) => warn!("cannot dump the configuration: {e}"),
        }
    }
    if !loaded.is_ok() {
        let n = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        error!(
            "configuration {} has {n} error(s); nothing applied",
            opts.config_file.display()
        );
        return Err(EXIT_CONFIG);
    }
    // Checked: the keyword positions served the diagnostics above and nothing else.
    loaded.config.forget_keyword_positions();
    Ok((loaded, tls))
}

/// Which children a configuration needs.
fn roles_needed(config: &Config, opts: &Options) -> BTreeSet<Role> {
    let mut out = BTreeSet::new();
    let vrrp = opts.all || !config.vrrp_instances.is_empty();
    let ipvs = opts.all || !config.virtual_servers.is_empty();
    let alerts = config.global_defs.smtp_server.is_some()
        && !config.global_defs.notification_email.is_empty();
    let check = opts.all
        || alerts
        || config
            .virtual_servers
            .iter()
            .any(|vs| vs.real_servers.iter().any(|rs| !rs.checkers.is_empty()));
    if vrrp && !opts.only_check {
        out.insert(Role::Vrrp);
    }
    if !opts.only_vrrp {
        if ipvs {
            out.insert(Role::Ipvs);
        }
        if check {
            out.insert(Role::Check);
        }
    } else if alerts {
        // -P still needs someone to send the VRRP alerts.
        out.insert(Role::Check);
    }
    out
}

/// The capabilities a child needs for this configuration.
pub fn caps_for(role: Role, config: &Config, check_gid: u32) -> Vec<caps::Capability> {
    use caps::Capability::*;
    let g = &config.global_defs;
    let no_swap = match role {
        Role::Vrrp => g.vrrp_no_swap,
        Role::Check | Role::Ipvs => g.checker_no_swap,
    };
    let mut caps = caps_for_job(role, config, check_gid);
    if no_swap {
        // `*_no_swap`: the child locks its own memory at start.
        caps.push(CAP_IPC_LOCK);
    }
    caps
}

fn caps_for_job(role: Role, config: &Config, check_gid: u32) -> Vec<caps::Capability> {
    use caps::Capability::*;
    match role {
        Role::Vrrp => vec![CAP_NET_ADMIN, CAP_NET_RAW],
        Role::Ipvs => vec![CAP_NET_ADMIN],
        Role::Check => {
            let mut v = Vec::new();
            let checkers = || {
                config
                    .virtual_servers
                    .iter()
                    .flat_map(|vs| vs.real_servers.iter())
                    .flat_map(|rs| rs.checkers.iter())
            };
            let ping =
                checkers().any(|c| matches!(c, keepalived_config::lvs::Checker::PingCheck(_)));
            if ping && !ping_sockets_allowed(check_gid) {
                v.push(CAP_NET_RAW);
            }
            if checkers().any(|c| c.connection().is_some_and(|c| c.fwmark.is_some())) {
                v.push(CAP_NET_ADMIN);
            }
            if checkers().any(|c| {
                c.connection()
                    .is_some_and(|c| c.bind_port.is_some_and(|p| p < 1024))
            }) {
                v.push(CAP_NET_BIND_SERVICE);
            }
            // SO_BINDTODEVICE needs CAP_NET_RAW before Linux 5.7.
            if checkers().any(|c| c.connection().is_some_and(|c| c.bind_if.is_some()))
                && !kernel_at_least(5, 7)
                && !v.contains(&CAP_NET_RAW)
            {
                v.push(CAP_NET_RAW);
            }
            v
        }
    }
}

/// Open files the checker may need besides its checks (IPC, log, epoll, alerts).
const CHECKER_SPARE_FILES: u64 = 1024;

/// Raises this process's limit of open files (inherited by the checker, which raises its
/// soft limit to the hard one) so that every checker can have its socket open at once, as
/// keepalived does for its checker process. Never lowers it.
fn raise_nofile_for_checks(config: &Config) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let checks = config
        .virtual_servers
        .iter()
        .flat_map(|vs| vs.real_servers.iter())
        .map(|rs| rs.checkers.len() as u64)
        .sum::<u64>();
    let want = checks + CHECKER_SPARE_FILES;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if hard >= want {
        return;
    }
    let max = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let hard_new = want.min(max);
    match setrlimit(Resource::RLIMIT_NOFILE, soft.min(hard_new), hard_new) {
        Ok(()) => {
            info!("open files limit raised to {hard_new} for {checks} checker(s) (was {hard})")
        }
        Err(e) => warn!(
            "{checks} checker(s) may need {want} open files, the limit is {hard} and cannot              be raised: {e}; checks beyond it wait for a free socket"
        ),
    }
}

/// The running kernel is `major.minor` or newer (unknown: no).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| {
            let mut it = r.trim().split(['.', '-']).map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .is_some_and(|v| v >= (major, minor))
}

/// Unprivileged ICMP sockets are open to `gid` (net.ipv4.ping_group_range).
fn ping_sockets_allowed(gid: u32) -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((it.next()??, it.next()??))
        })
        .is_some_and(|(lo, hi)| lo <= u64::from(gid) && u64::from(gid) <= hi)
}

/// The shortest timer a child serves, for its heartbeat.
fn shortest_timer(role: Role, config: &Config) -> Option<Duration> {
    let vrrp = config
        .vrrp_instances
        .iter()
        .map(|i| Duration::from_micros(i.advert_int.micros()))
        .min();
    let checks = config
        .virtual_servers
        .iter()
        .map(|vs| Duration::from_micros(vs.delay_loop.micros()))
        .min();
    match role {
        Role::Vrrp => vrrp,
        Role::Check | Role::Ipvs => checks,
    }
}

/// Resolves a user spec to (uid, gid).
fn resolve_user(spec: &UserSpec) -> Result<(u32, u32), String> {
    use nix::unistd::{Group, User};
    let user = match spec.user.parse::<u32>() {
        Ok(n) => User::from_uid(n.into()),
        Err(_) => User::from_name(&spec.user),
    }
    .map_err(|e| format!("cannot look up user '{}': {e}", spec.user))?
    .ok_or_else(|| format!("user '{}' does not exist", spec.user))?;
    let gid = match &spec.group {
        None => user.gid.as_raw(),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => Group::from_name(g)
                .map_err(|e| format!("cannot look up group '{g}': {e}"))?
                .ok_or_else(|| format!("group '{g}' does not exist"))?
                .gid
                .as_raw(),
        },
    };
    Ok((user.uid.as_raw(), gid))
}

/// Finds the directory of the child executables.
fn libexec_dir(opts: &Options) -> PathBuf {
    if let Some(d) = &opts.libexec {
        return d.clone();
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        if dir.join("keepalived-rs-vrrp").is_file() {
            return dir;
        }
    }
    PathBuf::from(LIBEXEC)
}

/// What a script job answers to.
#[derive(Debug, Clone)]
enum JobOrigin {
    /// A child's request: answer with ScriptDone.
    Request(Role, u64),
    /// A notify script: log failures only.
    Notify(String),
}

/// Dumps being collected.
#[derive(Debug)]
struct PendingDump {
    kind: DumpKind,
    waiting: BTreeSet<Role>,
    parts: Vec<(Role, String)>,
    deadline: Instant,
}

/// The stop sequence: one role at a time, VRRP first.
#[derive(Debug)]
struct Stopping {
    remaining: Vec<Role>,
    current: Option<(Role, Instant)>,
    wait: Duration,
}

struct Parent {
    /// Operations the kernel refused to the IPVS writer.
    ipvs_errors: u64,
    opts: Options,
    config: Config,
    files: Vec<String>,
    generation: Generation,
    loaded_at: SystemTime,
    paths: RuntimePaths,
    notifier: Notifier,
    poll: Poll,
    signals: Signals,
    exes: HashMap<Role, Executable>,
    children: Vec<Child>,
    broker: Broker,
    next_job: u64,
    jobs: HashMap<u64, JobOrigin>,
    pending_acks: BTreeSet<Role>,
    reloading: bool,
    reload_queued: bool,
    ready: bool,
    stop: Option<Stopping>,
    exit_code: u8,
    dump: Option<PendingDump>,
    watchdog: Option<(Duration, Instant)>,
    ping_seq: u64,
    users: HashMap<Role, (u32, u32)>,
    pidfiles_written: Vec<PathBuf>,
    fifos: Vec<(FifoKind, super::fifo::Fifo)>,
    next_alert: u64,
    /// Alerts waiting for the checker to (re)start.
    pending_alerts: std::collections::VecDeque<AlertRequest>,
    /// Interface settings changed for the VRRP process, with their old values.
    sysctls: std::collections::BTreeMap<(String, Sysctl), String>,
    /// The last value of each track_file sent to the VRRP process.
    track_values: HashMap<String, Option<i64>>,
    /// When the track files are read next.
    next_track_read: Instant,
    /// The last value of each FILE_CHECK's file sent to the checker.
    check_file_values: HashMap<(RealServerId, u16), Option<i64>>,
    /// The TLS material of SSL_GET, read at load.
    tls: TlsFiles,
    /// The TLS material the running checker holds.
    tls_sent: Option<TlsFiles>,
    /// The control socket (control.rs).
    control: Option<control::Control>,
}

/// Which notify FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FifoKind {
    /// `notify_fifo`: every event.
    Global,
    /// `vrrp_notify_fifo`: VRRP events.
    Vrrp,
    /// `lvs_notify_fifo`: real server and virtual server events.
    Lvs,
}

impl std::fmt::Debug for Parent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parent")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Parent {
    fn new(opts: Options, loaded: Loaded, tls: TlsFiles, notifier: Notifier) -> Result<Self, u8> {
        let config = loaded.config;
        // The network namespace: -s, else the configuration's net_namespace.
        let ns = opts.namespace.clone().or(config.root.net_namespace.clone());
        if let Some(name) = &ns {
            if let Err(e) = enter_netns(name) {
                error!("cannot enter network namespace '{name}': {e}");
                return Err(EXIT_FATAL);
            }
        }
        let ns_name = match ns {
            Some(n) => Some(n),
            None => keepalived_sys::runtime::current_netns().unwrap_or(None),
        };
        let paths = RuntimePaths::new(
            &opts.runtime_base,
            config.root.instance.as_deref(),
            ns_name.as_deref(),
        )
        .map_err(|e| {
            error!("{e}");
            EXIT_CONFIG
        })?;
        if let Err(e) = keepalived_sys::files::ensure_runtime_dir(&paths.dir) {
            error!("cannot use runtime directory {}: {e}", paths.dir.display());
            return Err(EXIT_FATAL);
        }
        let parent_pid = opts.pidfiles[0].clone().unwrap_or(paths.pid_parent.clone());
        if let Some(pid) = running_pid(&parent_pid) {
            error!(
                "a daemon is already running with pid {pid} (pidfile {}); use 'instance NAME' \
                 or another network namespace to run a second one",
                parent_pid.display()
            );
            return Err(EXIT_FATAL);
        }
        let mut pidfiles_written = Vec::new();
        if let Err(e) = keepalived_sys::files::write_pidfile(&parent_pid, std::process::id()) {
            error!("cannot write pidfile {}: {e}", parent_pid.display());
            return Err(EXIT_FATAL);
        }
        pidfiles_written.push(parent_pid);

        let poll = Poll::new().map_err(|e| {
            error!("cannot create the event loop: {e}");
            EXIT_FATAL
        })?;
        let mut signals = Signals::new([
            SIGHUP,
            SIGTERM,
            SIGINT,
            SIGUSR1,
            SIGUSR2,
            SIGCHLD,
            // Not SIGPIPE: it stays ignored (Rust's default), so a write to a closed pipe is
            // an EPIPE error. Registered with signal-hook, a signal arriving while the
            // handler's own pipe is being closed would raise SIGPIPE from the handler, which
            // would raise it again, forever.
            stats_clear_signal(),
            json_signal(),
        ])
        .map_err(|e| {
            error!("cannot install signal handlers: {e}");
            EXIT_FATAL
        })?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| {
                error!("cannot watch signals: {e}");
                EXIT_FATAL
            })?;
        let watchdog = notifier.watchdog_interval().map(|d| (d, Instant::now()));
        Ok(Parent {
            ipvs_errors: 0,
            opts,
            config,
            files: loaded.files,
            generation: 1,
            loaded_at: SystemTime::now(),
            paths,
            notifier,
            poll,
            signals,
            exes: HashMap::new(),
            children: Vec::new(),
            broker: Broker::new(MAX_SCRIPTS),
            next_job: 1,
            jobs: HashMap::new(),
            pending_acks: BTreeSet::new(),
            reloading: false,
            reload_queued: false,
            ready: false,
            stop: None,
            exit_code: 0,
            dump: None,
            watchdog,
            ping_seq: 0,
            users: HashMap::new(),
            pidfiles_written,
            fifos: Vec::new(),
            next_alert: 1,
            pending_alerts: std::collections::VecDeque::new(),
            sysctls: std::collections::BTreeMap::new(),
            track_values: HashMap::new(),
            next_track_read: Instant::now(),
            check_file_values: HashMap::new(),
            tls,
            tls_sent: None,
            control: None,
        })
    }

    fn run(&mut self) -> u8 {
        info!(
            "keepalived-rs {} starting (configuration {})",
            env!("CARGO_PKG_VERSION"),
            self.opts.config_file.display()
        );
        if let Some(s) = self.config.global_defs.startup_script.clone() {
            let timeout = self.config.global_defs.startup_script_timeout;
            let timeout = Duration::from_secs(u64::from(timeout));
            self.run_blocking_script("startup_script", &s, timeout);
        }
        self.open_fifos();
        self.control_open();
        let needed = roles_needed(&self.config, &self.opts);
        if needed.is_empty() {
            warn!(
                "keepalived-rs has no configuration to run (no vrrp_instance, no virtual_server)"
            );
        }
        if let Err(code) = self.prepare_children(&needed) {
            return code;
        }
        for role in needed {
            self.spawn(role);
        }
        self.check_ready();
        let mut events = Events::with_capacity(64);
        loop {
            let now = Instant::now();
            self.on_timers(now);
            if self.finished() {
                break;
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    error!("event loop failed: {e}");
                    return EXIT_FATAL;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    SIGNALS => self.on_signals(),
                    t if control::is_control(t) => self.on_control(t),
                    t => {
                        if let Some((role, ipc)) = token_role(t) {
                            if ipc {
                                self.on_ipc(role, ev.is_writable());
                            } else {
                                self.on_log(role);
                            }
                        }
                    }
                }
            }
            self.flush_all();
        }
        self.exit_code
    }

    /// Resolves users, capabilities and executables for the roles; a failure is permanent.
    fn prepare_children(&mut self, roles: &BTreeSet<Role>) -> Result<(), u8> {
        let dir = libexec_dir(&self.opts);
        for &role in roles {
            if self.children.iter().any(|c| c.role == role) {
                continue;
            }
            let spec = &self.opts.users[role_index(role)];
            let (uid, gid) = match self.users.get(&role) {
                Some(ids) => *ids,
                None => resolve_user(spec).map_err(|e| {
                    error!(
                        "the {} process cannot run: {e}; create the user (the package does) \
                         or choose one with --{}-user USER[:GROUP]",
                        role.name(),
                        role.name()
                    );
                    EXIT_PERMISSION
                })?,
            };
            if uid == 0 || gid == 0 {
                error!(
                    "the {} process must not run as root (user '{}'): choose an unprivileged \
                     user with --{}-user",
                    role.name(),
                    spec.user,
                    role.name()
                );
                return Err(EXIT_PERMISSION);
            }
            self.users.insert(role, (uid, gid));
            if let std::collections::hash_map::Entry::Vacant(slot) = self.exes.entry(role) {
                let path = dir.join(format!("keepalived-rs-{}", role.name()));
                let exe = Executable::open(&path).map_err(|e| {
                    error!("cannot open {}: {e}", path.display());
                    EXIT_FATAL
                })?;
                slot.insert(exe);
            }
            let caps = caps_for(role, &self.config, gid);
            let mut child = Child::new(role, uid, gid, caps);
            child.heartbeat = supervise::heartbeat(shortest_timer(role, &self.config));
            self.children.push(child);
        }
        Ok(())
    }

    fn child_mut(&mut self, role: Role) -> Option<&mut Child> {
        self.children.iter_mut().find(|c| c.role == role)
    }

    fn pidfile(&self, role: Role) -> PathBuf {
        let (i, default) = match role {
            Role::Vrrp => (1, &self.paths.pid_vrrp),
            Role::Check => (2, &self.paths.pid_check),
            Role::Ipvs => (3, &self.paths.pid_ipvs),
        };
        self.opts.pidfiles[i].clone().unwrap_or(default.clone())
    }

    /// Starts the process of a slot.
    fn spawn(&mut self, role: Role) {
        if role == Role::Check {
            raise_nofile_for_checks(&self.config);
        }
        let Some(exe) = self.exes.get(&role) else {
            return;
        };
        let level = match log::max_level() {
            log::LevelFilter::Off => 0,
            log::LevelFilter::Error => 1,
            log::LevelFilter::Warn => 2,
            log::LevelFilter::Info => 3,
            log::LevelFilter::Debug => 4,
            log::LevelFilter::Trace => 5,
        };
        let Some(child) = self.children.iter().find(|c| c.role == role) else {
            return;
        };
        let args = ChildArgs {
            uid: child.uid,
            gid: child.gid,
            caps: keepalived_sys::confine::caps_arg(&child.caps),
            parent: std::process::id(),
            deny_inet: role == Role::Ipvs,
            log_level: level,
            verify_confinement: self.opts.verify_confinement,
        };
        let name = child.name();
        let result = (|| -> io::Result<(Pid, std::os::unix::net::UnixStream, File)> {
            let (parent_end, child_end) = keepalived_sys::spawn::ipc_pair()?;
            let (log_r, log_w) = keepalived_sys::spawn::log_pipe()?;
            let argv: Vec<OsString> = args.to_args().into_iter().map(Into::into).collect();
            let pid = keepalived_sys::spawn::spawn(&ChildSpec {
                exe,
                argv0: &name,
                args: &argv,
                ipc: child_end.as_fd(),
                log: log_w.as_fd(),
            })?;
            Ok((pid, parent_end, File::from(log_r)))
        })();
        let now = Instant::now();
        let (pid, stream, log) = match result {
            Ok(v) => v,
            Err(e) => {
                error!("cannot start {name}: {e}");
                if let Some(c) = self.child_mut(role) {
                    let delay = c
                        .backoff
                        .on_death(Duration::ZERO)
                        .max(Duration::from_secs(1));
                    c.respawn_at = Some(now + delay);
                }
                return;
            }
        };
        let link = match Link::new(role, stream) {
            Ok(l) => l,
            Err(e) => {
                error!("cannot use the channel to {name}: {e}");
                let _ = kill(pid, Signal::SIGKILL);
                return;
            }
        };
        let reg = self.poll.registry();
        let ipc_fd = link.stream().as_raw_fd();
        let log_fd = log.as_raw_fd();
        if let Err(e) = reg
            .register(
                &mut SourceFd(&ipc_fd),
                ipc_token(role),
                Interest::READABLE | Interest::WRITABLE,
            )
            .and_then(|_| reg.register(&mut SourceFd(&log_fd), log_token(role), Interest::READABLE))
        {
            error!("cannot watch {name}: {e}");
        }
        self.schedule(role, pid);
        let pidfile = self.pidfile(role);
        if let Err(e) = keepalived_sys::files::write_pidfile(&pidfile, pid.as_raw() as u32) {
            warn!("cannot write pidfile {}: {e}", pidfile.display());
        }
        let Some(c) = self.child_mut(role) else {
            return;
        };
        info!(
            "started {name} (pid {pid}, uid {}, gid {}, capabilities [{}])",
            c.uid,
            c.gid,
            keepalived_sys::confine::caps_arg(&c.caps)
        );
        c.respawn_at = None;
        // A new VRRP process numbers its reports from 1 again; a checker continues from the
        // last number received (ParentToCheck::Sequence), so that the IPVS writer, which
        // applied every number up to it, sees no gap.
        if role != Role::Check {
            c.seq = 0;
        }
        c.snapshot_parts = Vec::new();
        c.proc = Some(Running {
            pid,
            link,
            log,
            lines: keepalived_sys::logpipe::LineSplitter::new(Severity::Info),
            started: now,
            stage: Stage::AwaitHello,
            acked: 0,
            sent: None,
            ping_out: None,
            next_ping: now + c.heartbeat.0,
            stop_sent: None,
            closed: false,
        });
        self.ctl_process_started(role);
    }

    /// Applies `vrrp_priority`, `vrrp_rt_priority` (+ `vrrp_rlimit_rttime`) and
    /// `vrrp_cpu_affinity` to the VRRP process, the `checker_` ones to the checker and the
    /// IPVS writer (keepalived's checker process did both jobs).
    fn schedule(&self, role: Role, pid: Pid) {
        use keepalived_sys::sched;
        let g = &self.config.global_defs;
        let (nice, rt, rttime, cpus) = match role {
            Role::Vrrp => (
                g.vrrp_priority,
                g.vrrp_rt_priority,
                g.vrrp_rlimit_rttime,
                &g.vrrp_cpu_affinity,
            ),
            Role::Check | Role::Ipvs => (
                g.checker_priority,
                g.checker_rt_priority,
                g.checker_rlimit_rttime,
                &g.checker_cpu_affinity,
            ),
        };
        let name = format!("keepalived-rs-{}", role.name());
        if nice != 0 {
            if let Err(e) = sched::set_nice(pid, nice) {
                warn!("{name}: cannot set priority {nice}: {e}");
            }
        }
        if let Some(rt) = rt {
            if let Err(e) = sched::set_rttime(pid, rttime) {
                warn!("{name}: cannot set rlimit_rttime {rttime}: {e}");
            }
            if let Err(e) = sched::set_rt_priority(pid, rt) {
                warn!("{name}: cannot set real-time priority {rt}: {e}");
            }
        }
        if !cpus.is_empty() {
            if let Err(e) = sched::set_affinity(pid, cpus) {
                warn!("{name}: cannot set CPU affinity {cpus:?}: {e}");
            }
        }
    }

    fn on_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGCHLD => self.reap(),
                SIGHUP => self.reload(),
                SIGTERM | SIGINT => self.begin_stop(0, "stop requested by signal"),
                SIGUSR1 => self.request_dump(DumpKind::Data),
                SIGUSR2 => self.request_dump(DumpKind::Stats),
                s if s == stats_clear_signal() => self.request_dump(DumpKind::StatsClear),
                s if s == json_signal() => self.request_dump(DumpKind::Json),
                _ => {}
            }
        }
    }

    /// Reaps every exited process: scripts go to the broker, children to supervision.
    fn reap(&mut self) {
        let now = Instant::now();
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(s) => s,
            };
            let Some(pid) = status.pid() else { break };
            if self.broker.is_script(pid) {
                if let Some(f) = self.broker.on_child_exit(now, status) {
                    self.on_script_finished(f);
                }
                continue;
            }
            if let Some(f) = self.broker.on_child_exit(now, status) {
                self.on_script_finished(f);
                continue;
            }
            let Some(role) = self
                .children
                .iter()
                .find(|c| c.proc.as_ref().is_some_and(|p| p.pid == pid))
                .map(|c| c.role)
            else {
                continue;
            };
            self.on_child_exit(role, status, now);
        }
    }

    fn on_child_exit(&mut self, role: Role, status: WaitStatus, now: Instant) {
        let pidfile = self.pidfile(role);
        let Some(c) = self.child_mut(role) else {
            return;
        };
        let Some(mut proc) = c.proc.take() else {
            return;
        };
        let name = c.name();
        for l in proc.read_log() {
            logging::emit(&name, proc.pid.as_raw() as u32, l.severity, &l.text);
        }
        let reg = self.poll.registry();
        let _ = reg.deregister(&mut SourceFd(&proc.link.stream().as_raw_fd()));
        let _ = reg.deregister(&mut SourceFd(&proc.log.as_raw_fd()));
        let _ = keepalived_sys::files::remove_pidfile(&pidfile);
        let cause = match status {
            WaitStatus::Exited(_, code) => format!("exited with status {code}"),
            WaitStatus::Signaled(_, sig, core) => {
                let hint = if sig == Signal::SIGKILL {
                    " (killed: by the parent after a missed heartbeat or protocol error, by \
                     an operator, or rlimit_rttime exceeded)"
                } else {
                    ""
                };
                format!(
                    "killed by signal {sig}{}{hint}",
                    if core { " (core dumped)" } else { "" }
                )
            }
            other => format!("{other:?}"),
        };
        let Some(c) = self.child_mut(role) else {
            return;
        };
        c.last_exit = Some(cause.clone());
        self.pending_acks.remove(&role);
        self.ctl_process_exited(role, proc.pid.as_raw() as u32, &cause);
        if self.stop.is_some() {
            info!("{name} (pid {}) {cause}", proc.pid);
            return;
        }
        if let WaitStatus::Exited(_, code) = status {
            if let Some(kind) = supervise::permanent(code) {
                error!(
                    "{name} (pid {}) exited with permanent error {kind}; stopping keepalived-rs \
                     (see its log lines above)",
                    proc.pid
                );
                self.begin_stop(EXIT_FATAL, "a child failed permanently");
                return;
            }
        }
        if self.opts.dont_respawn {
            error!("{name} (pid {}) {cause}: exiting (-R)", proc.pid);
            self.begin_stop(EXIT_FATAL, "a child died and -R is set");
            return;
        }
        let Some(c) = self.child_mut(role) else {
            return;
        };
        let delay = c.backoff.on_death(now - proc.started);
        c.restarts += 1;
        c.respawn_at = Some(now + delay);
        warn!(
            "{name} (pid {}) {cause}; respawning {}",
            proc.pid,
            if delay.is_zero() {
                "now".to_string()
            } else {
                format!("in {} s to limit the respawn rate", delay.as_secs())
            }
        );
    }

    fn on_log(&mut self, role: Role) {
        let Some(c) = self.child_mut(role) else {
            return;
        };
        let name = c.name();
        let Some(p) = c.proc.as_mut() else {
            return;
        };
        let pid = p.pid.as_raw() as u32;
        for l in p.read_log() {
            logging::emit(&name, pid, l.severity, &l.text);
        }
    }

    /// The child closed its channel: it is exiting, and SIGCHLD follows. Stop watching the
    /// socket (the log pipe stays, for its last words).
    fn channel_closed(&mut self, role: Role) {
        let Some(p) = self.child_mut(role).and_then(|c| c.proc.as_mut()) else {
            return;
        };
        if !p.closed {
            p.closed = true;
            let fd = p.link.stream().as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }

    /// Kills a child that broke the protocol or hung; supervision respawns it.
    fn kill_child(&mut self, role: Role, why: &str) {
        let Some(c) = self.child_mut(role) else {
            return;
        };
        let name = c.name();
        if let Some(p) = c.proc.as_mut() {
            error!("{name} (pid {}): {why}; killing it", p.pid);
            let _ = kill(p.pid, Signal::SIGKILL);
            p.stage = Stage::Stopping;
        }
    }

    fn on_ipc(&mut self, role: Role, writable: bool) {
        let Some(c) = self.child_mut(role) else {
            return;
        };
        let Some(p) = c.proc.as_mut() else {
            return;
        };
        if p.closed {
            return;
        }
        if writable {
            match p.link.flush() {
                Ok(_) => {}
                Err(keepalived_ipc::ChannelError::Closed) => {
                    self.channel_closed(role);
                    return;
                }
                Err(e) => {
                    let why = format!("channel failed: {e}");
                    self.kill_child(role, &why);
                    return;
                }
            }
        }
        if p.stage == Stage::Stopping && p.stop_sent.is_none() {
            return;
        }
        let msgs = match p.link.receive() {
            Ok(m) => m,
            Err(keepalived_ipc::ChannelError::Closed) => {
                self.channel_closed(role);
                return;
            }
            Err(e) => {
                let why = format!("protocol error: {e}");
                self.kill_child(role, &why);
                return;
            }
        };
        for m in msgs {
            if let Err(why) = self.on_message(role, m) {
                self.kill_child(role, &why);
                return;
            }
        }
    }

    fn on_message(&mut self, role: Role, m: Inbound) -> Result<(), String> {
        let now = Instant::now();
        let generation = self.generation;
        // The projection is built only for a hello (it is the whole configuration).
        let projection = matches!(m, Inbound::Hello(_)).then(|| Projection::of(&self.config, role));
        // The IPVS writer gets the health table and the sync daemon's VRRP state before
        // Start, so that its first reconcile already has them (a respawn then writes
        // nothing when nothing changed).
        let ipvs_handover = (role == Role::Ipvs && matches!(m, Inbound::ConfigAck(_)))
            .then(|| self.ipvs_handover());
        // The checker gets the TLS material with its configuration, and the FILE_CHECK
        // values before it starts.
        let check_tls =
            (role == Role::Check && matches!(m, Inbound::Hello(_))).then(|| self.tls.clone());
        let check_files = (role == Role::Check
            && matches!(m, Inbound::ConfigAck(_))
            && self.children.iter().any(|c| {
                c.role == Role::Check
                    && c.proc
                        .as_ref()
                        .is_some_and(|p| matches!(p.stage, Stage::AwaitAck(_)))
            }))
        .then(|| self.check_file_readings());
        let Some(c) = self.children.iter_mut().find(|c| c.role == role) else {
            return Ok(());
        };
        let name = c.name();
        let Some(p) = c.proc.as_mut() else {
            return Ok(());
        };
        match (p.stage, m) {
            (Stage::AwaitHello, Inbound::Hello(h)) => {
                let Some(projection) = projection else {
                    return Ok(());
                };
                if h.version != keepalived_ipc::PROTOCOL_VERSION {
                    return Err(format!(
                        "speaks IPC version {} (build {}), this parent {}",
                        h.version,
                        h.build,
                        keepalived_ipc::PROTOCOL_VERSION
                    ));
                }
                p.link.hello().map_err(|e| e.to_string())?;
                p.link
                    .configure(None, &projection, generation)
                    .map_err(|e| e.to_string())?;
                if let (Some(tls), Some(ch)) = (check_tls, p.link.check()) {
                    ch.send(&ParentToCheck::Tls(Box::new(tls.clone())))
                        .map_err(|e| e.to_string())?;
                    self.tls_sent = Some(tls);
                }
                p.sent = Some(projection.fingerprint());
                p.stage = Stage::AwaitAck(generation);
            }
            (Stage::AwaitAck(g), Inbound::ConfigAck(a)) if a == g => {
                p.acked = a;
                if let Some(ch) = p.link.check() {
                    ch.send(&ParentToCheck::Sequence(c.seq))
                        .map_err(|e| e.to_string())?;
                    let files = check_files.unwrap_or_default();
                    for ((real_server, checker), value) in &files {
                        ch.send(&ParentToCheck::File {
                            real_server: real_server.clone(),
                            checker: *checker,
                            value: *value,
                        })
                        .map_err(|e| e.to_string())?;
                    }
                    self.check_file_values = files.into_iter().collect();
                }
                if c.started_once {
                    let resume = match role {
                        Role::Vrrp => p.link.vrrp().map(|ch| {
                            ch.send(&ParentToVrrp::Resume(
                                c.instances.values().cloned().collect(),
                            ))
                        }),
                        Role::Check => p.link.check().map(|ch| {
                            health_chunks(c.health.values().cloned().collect())
                                .into_iter()
                                .try_for_each(|part| ch.send(&ParentToCheck::Resume(part)))
                        }),
                        Role::Ipvs => None,
                    };
                    if let Some(Err(e)) = resume {
                        return Err(e.to_string());
                    }
                    info!(
                        "{name} (pid {}) resumed from its last reported state",
                        p.pid
                    );
                }
                if let (Some(msgs), Some(ch)) = (ipvs_handover, p.link.ipvs()) {
                    for msg in msgs {
                        ch.send(&msg).map_err(|e| e.to_string())?;
                    }
                }
                p.link.start().map_err(|e| e.to_string())?;
                p.stage = Stage::Running;
                c.started_once = true;
                p.next_ping = now + c.heartbeat.0;
                // A (re)started checker gets the alerts that waited for it.
                if role == Role::Check {
                    self.send_alerts();
                }
                if role == Role::Vrrp {
                    self.track_values.clear();
                    self.next_track_read = now;
                }
                self.check_ready();
            }
            (Stage::Running, Inbound::ConfigAck(a)) if a == generation && a > p.acked => {
                p.acked = a;
                if a == generation {
                    self.pending_acks.remove(&role);
                    self.check_reload_done();
                }
            }
            (_, Inbound::Pong(n)) => {
                if p.ping_out.is_some_and(|(seq, _)| seq == n) {
                    p.ping_out = None;
                }
            }
            (Stage::Running, Inbound::Dump(d)) => self.on_dump(role, d),
            (Stage::Running, Inbound::RunScript(r)) => self.on_script_request(role, r),
            (Stage::Running, Inbound::Vrrp(m)) => self.on_vrrp(m),
            // Interface settings come while the VRRP process applies its configuration
            // (VMAC set-up), before its ack.
            (Stage::AwaitAck(_), Inbound::Vrrp(m @ VrrpToParent::Sysctl { .. })) => self.on_vrrp(m),
            (Stage::Running, Inbound::Check(m)) => self.on_check(m),
            (Stage::Running, Inbound::Ipvs(m)) => self.on_ipvs(m),
            (Stage::Stopping, _) => {}
            (stage, m) => {
                return Err(format!(
                    "protocol error: unexpected message {m:?} in stage {stage:?}"
                ));
            }
        }
        Ok(())
    }

    fn on_vrrp(&mut self, m: VrrpToParent) {
        match m {
            VrrpToParent::Report { seq, event } => {
                let Some(c) = self.child_mut(Role::Vrrp) else {
                    return;
                };
                let gap = seq != c.seq + 1;
                let mut sync_state = None;
                c.seq = seq;
                // An intent ("leaving MASTER, removing VIPs") is logged; the parent's
                // record and the notifications follow the result.
                let previous = match &event {
                    VrrpEvent::Instance(r) if r.phase == Phase::Intent => {
                        log::debug!("VRRP instance {}: about to enter {:?}", r.name, r.state);
                        c.instances.get(&r.name).cloned()
                    }
                    VrrpEvent::Instance(r) => {
                        sync_state = Some(r.clone());
                        c.instances.insert(r.name.clone(), r.clone())
                    }
                    _ => None,
                };
                if gap {
                    warn!("VRRP report sequence jumped to {seq}; asking for a snapshot");
                    if let Some(ch) = c.proc.as_mut().and_then(|p| p.link.vrrp()) {
                        let _ = ch.send(&ParentToVrrp::SendSnapshot);
                    }
                }
                if let Some(m) = sync_state.and_then(|r| self.sync_daemon_state(Some(&r))) {
                    self.forward_ipvs(m);
                }
                self.on_vrrp_event(&event, previous.as_ref());
            }
            VrrpToParent::Snapshot {
                seq,
                instances,
                groups: _,
            } => {
                if let Some(c) = self.child_mut(Role::Vrrp) {
                    c.seq = seq;
                    c.instances = instances.into_iter().map(|r| (r.name.clone(), r)).collect();
                }
            }
            VrrpToParent::Sysctl {
                interface,
                key,
                value,
            } => self.set_sysctl(&interface, key, value),
            other => warn!("unexpected message from the VRRP process: {other:?}"),
        }
    }

    /// Notify scripts, FIFO lines and alerts for one VRRP event, in order per instance.
    fn on_vrrp_event(&mut self, event: &VrrpEvent, previous: Option<&InstanceReport>) {
        let r = match event {
            VrrpEvent::Instance(r) => r,
            VrrpEvent::Group(g) => {
                self.on_group_event(g);
                return;
            }
            VrrpEvent::MasterRxLowerPri { instance, from } => {
                info!("VRRP instance {instance}: lower-priority advert from {from} while MASTER");
                let script = self
                    .config
                    .vrrp_instances
                    .iter()
                    .find(|i| &i.name == instance)
                    .and_then(|i| i.notify_master_rx_lower_pri.clone());
                if let Some(s) = script {
                    self.notify(&format!("vrrp_instance {instance}"), &s, &[]);
                }
                let prio = self
                    .children
                    .iter()
                    .find(|c| c.role == Role::Vrrp)
                    .and_then(|c| c.instances.get(instance))
                    .map(|r| r.priority)
                    .unwrap_or(0);
                let line = super::fifo::vrrp_line(
                    super::fifo::FifoObject::Instance,
                    instance,
                    super::fifo::FifoState::MasterRxLowerPri,
                    prio,
                );
                self.fifo_write(Role::Vrrp, &line);
                return;
            }
        };
        if r.phase != Phase::Done {
            return;
        }
        self.ctl_instance(r, previous);
        if let Some(p) = previous.filter(|p| p.state == r.state) {
            if p.priority != r.priority {
                self.on_priority_change(r);
            }
            return;
        }
        info!(
            "VRRP instance {} is now {:?} (priority {}): {}",
            r.name, r.state, r.priority, r.reason
        );
        let Some(inst) = self
            .config
            .vrrp_instances
            .iter()
            .find(|i| i.name == r.name)
            .cloned()
        else {
            return;
        };
        let specific = match r.state {
            VrrpState::Master => inst.notify_master.clone(),
            VrrpState::Backup => inst.notify_backup.clone(),
            VrrpState::Fault => inst.notify_fault.clone(),
            VrrpState::Stop => inst.notify_stop.clone(),
            VrrpState::Init => None,
        };
        let state = state_word(r.state);
        let key = format!("vrrp_instance {}", r.name);
        if let Some(s) = specific {
            self.notify(&key, &s, &[]);
        }
        if let Some(s) = inst.notify.clone() {
            let prio = r.priority.to_string();
            self.notify(&key, &s, &["INSTANCE", &r.name, state, &prio]);
        }
        use super::fifo::{FifoObject, FifoState, vrrp_line};
        let fifo_state = match r.state {
            VrrpState::Master => Some(FifoState::Master),
            VrrpState::Backup => Some(FifoState::Backup),
            VrrpState::Fault => Some(FifoState::Fault),
            VrrpState::Stop => Some(FifoState::Stop),
            VrrpState::Init => None,
        };
        if let Some(fs) = fifo_state {
            let line = vrrp_line(FifoObject::Instance, &r.name, fs, r.priority);
            self.fifo_write(Role::Vrrp, &line);
        }
        let g = &self.config.global_defs;
        let wanted = inst
            .smtp_alert
            .or(g.smtp_alert_vrrp)
            .or(g.smtp_alert)
            .unwrap_or(false);
        let alert_state = match r.state {
            VrrpState::Master => Some(InstanceState::Master),
            VrrpState::Backup => Some(InstanceState::Backup),
            VrrpState::Fault if !g.no_email_faults => Some(InstanceState::Fault),
            VrrpState::Stop => Some(InstanceState::Stop),
            _ => None,
        };
        if let (true, Some(st)) = (wanted, alert_state) {
            let name = r.name.clone();
            self.alert(|s| keepalived_check::smtp_alert::Alert::vrrp_instance(s, &name, st));
        }
    }

    /// Writes an interface setting for the VRRP process (VMAC set-up), keeping the first
    /// old value for the restore at stop. Only the four settings of [`Sysctl`], only
    /// interface names (or `all` for rp_filter), only values 0..2.
    fn set_sysctl(&mut self, interface: &str, key: Sysctl, value: u8) {
        let valid_name = !interface.is_empty()
            && interface.len() < 16
            && !interface.contains('/')
            && !interface.starts_with('.')
            && (interface != "all" || key == Sysctl::RpFilter)
            && interface != "default";
        // Only the configured instances' interfaces and VMACs, or `all`.
        let configured = interface == "all"
            || self.config.vrrp_instances.iter().any(|i| {
                i.interface.as_deref() == Some(interface)
                    || i.use_vmac.as_ref().is_some_and(|v| {
                        let default = format!(
                            "{}.{}",
                            self.config.global_defs.vmac_prefix,
                            i.virtual_router_id.unwrap_or(0)
                        );
                        v.name.as_deref().unwrap_or(&default) == interface
                    })
            });
        if !valid_name || !configured || value > 2 {
            warn!(
                "refused: the VRRP process asked to set {}={value} on '{interface}'",
                key.key()
            );
            return;
        }
        let path = format!("/proc/sys/net/ipv4/conf/{interface}/{}", key.key());
        let old = match std::fs::read_to_string(&path) {
            Ok(v) => v.trim().to_string(),
            Err(e) => {
                warn!("cannot read {path}: {e}");
                return;
            }
        };
        if let Err(e) = std::fs::write(&path, format!("{value}\n")) {
            warn!("cannot write {path}: {e}");
            return;
        }
        log::debug!("{path}: {old} -> {value}");
        self.sysctls
            .entry((interface.to_string(), key))
            .or_insert(old);
    }

    /// Puts back every interface setting changed for the VRRP process (interfaces that
    /// are gone, such as deleted VMACs, are skipped).
    fn restore_sysctls(&mut self) {
        for ((interface, key), old) in std::mem::take(&mut self.sysctls) {
            let path = format!("/proc/sys/net/ipv4/conf/{interface}/{}", key.key());
            if std::path::Path::new(&path).exists() {
                if let Err(e) = std::fs::write(&path, format!("{old}\n")) {
                    warn!("cannot restore {path}: {e}");
                }
            }
        }
    }

    /// A sync group's transition: its notify scripts, FIFO line and alert.
    fn on_group_event(&mut self, g: &GroupReport) {
        self.ctl_group(g);
        let Some(group) = self
            .config
            .vrrp_sync_groups
            .iter()
            .find(|x| x.name == g.name)
            .cloned()
        else {
            return;
        };
        info!("VRRP sync group {} is now {:?}", g.name, g.state);
        let key = format!("vrrp_sync_group {}", g.name);
        let specific = match g.state {
            VrrpState::Master => group.notify_master.clone(),
            VrrpState::Backup => group.notify_backup.clone(),
            VrrpState::Fault => group.notify_fault.clone(),
            VrrpState::Stop => group.notify_stop.clone(),
            VrrpState::Init => None,
        };
        if let Some(s) = specific {
            self.notify(&key, &s, &[]);
        }
        let state = state_word(g.state);
        if let Some(s) = group.notify.clone() {
            self.notify(&key, &s, &["GROUP", &g.name, state, "0"]);
        }
        use super::fifo::{FifoObject, FifoState, vrrp_line};
        let fs = match g.state {
            VrrpState::Master => Some(FifoState::Master),
            VrrpState::Backup => Some(FifoState::Backup),
            VrrpState::Fault => Some(FifoState::Fault),
            VrrpState::Stop => Some(FifoState::Stop),
            VrrpState::Init => None,
        };
        if let Some(fs) = fs {
            let line = vrrp_line(FifoObject::Group, &g.name, fs, 0);
            self.fifo_write(Role::Vrrp, &line);
        }
        let gd = &self.config.global_defs;
        let wanted = group
            .smtp_alert
            .or(gd.smtp_alert_vrrp)
            .or(gd.smtp_alert)
            .unwrap_or(false);
        let st = match g.state {
            VrrpState::Master => Some(keepalived_check::smtp_alert::GroupState::Master),
            VrrpState::Backup => Some(keepalived_check::smtp_alert::GroupState::Backup),
            VrrpState::Fault if !gd.no_email_faults => {
                Some(keepalived_check::smtp_alert::GroupState::Fault)
            }
            VrrpState::Stop => Some(keepalived_check::smtp_alert::GroupState::Stop),
            _ => None,
        };
        if let (true, Some(st)) = (wanted, st) {
            let name = g.name.clone();
            self.alert(|s| keepalived_check::smtp_alert::Alert::sync_group(s, &name, st));
        }
    }

    /// `notify_priority_changes`: a FIFO line when the effective priority of a MASTER or
    /// BACKUP instance changes.
    fn on_priority_change(&mut self, r: &InstanceReport) {
        let wanted = self
            .config
            .vrrp_instances
            .iter()
            .find(|i| i.name == r.name)
            .and_then(|i| i.notify_priority_changes)
            .unwrap_or(self.config.global_defs.vrrp_notify_priority_changes);
        let state = match r.state {
            VrrpState::Master => super::fifo::FifoState::MasterPriority,
            VrrpState::Backup => super::fifo::FifoState::BackupPriority,
            _ => return,
        };
        if wanted {
            let line = super::fifo::vrrp_line(
                super::fifo::FifoObject::Instance,
                &r.name,
                state,
                r.priority,
            );
            self.fifo_write(Role::Vrrp, &line);
        }
    }

    fn on_check(&mut self, m: CheckToParent) {
        match m {
            CheckToParent::Health { seq, health } => {
                let Some(c) = self.child_mut(Role::Check) else {
                    return;
                };
                let gap = seq != c.seq + 1;
                c.seq = seq;
                let previous = c.health.insert(health.real_server.clone(), health.clone());
                if gap {
                    if let Some(ch) = c.proc.as_mut().and_then(|p| p.link.check()) {
                        let _ = ch.send(&ParentToCheck::SendSnapshot);
                    }
                }
                if previous.as_ref().is_none_or(|p| p.up != health.up) {
                    self.on_real_server_transition(&health);
                }
                self.forward_ipvs(ParentToIpvs::Health { seq, health });
            }
            CheckToParent::SnapshotPart(part) => {
                let limit = MAX_SNAPSHOT_ENTRIES;
                if let Some(c) = self.child_mut(Role::Check) {
                    if c.snapshot_parts.len() + part.len() > limit {
                        c.snapshot_parts = Vec::new();
                        self.kill_child(
                            Role::Check,
                            &format!("protocol error: a snapshot of more than {limit} entries"),
                        );
                        return;
                    }
                    c.snapshot_parts.extend(part);
                }
            }
            CheckToParent::Snapshot { seq, mut health } => {
                if let Some(c) = self.child_mut(Role::Check) {
                    let mut all = std::mem::take(&mut c.snapshot_parts);
                    all.append(&mut health);
                    health = all;
                    c.seq = seq;
                    c.health = health
                        .iter()
                        .map(|h| (h.real_server.clone(), h.clone()))
                        .collect();
                }
                for m in keepalived_ipc::msg::ipvs_health_snapshot(seq, health) {
                    self.forward_ipvs(m);
                }
            }
            CheckToParent::AlertSent { id, error } => match error {
                None => info!("alert {id} sent"),
                Some(e) => warn!("alert {id} not sent: {e}"),
            },
            other => warn!("unexpected message from the checker: {other:?}"),
        }
    }

    /// notify_up / notify_down, the LVS FIFO line and the alert for a real server that
    /// changed health, in order per real server.
    fn on_real_server_transition(&mut self, h: &Health) {
        self.ctl_real_server(h);
        let rs_id = &h.real_server;
        info!(
            "real server {}:{} of {} is {}: {}",
            rs_id.ip,
            rs_id.port,
            rs_id.virtual_server,
            if h.up { "UP" } else { "DOWN" },
            h.reason
        );
        let Some(vs) = self
            .config
            .virtual_servers
            .iter()
            .find(|v| keepalived_config::project::virtual_server_key(v) == rs_id.virtual_server)
            .cloned()
        else {
            return;
        };
        let Some(rs) = vs
            .real_servers
            .iter()
            .find(|r| r.ip == rs_id.ip && r.port.unwrap_or(0) == rs_id.port)
            .cloned()
        else {
            return;
        };
        let key = format!(
            "real_server {}:{} of {}",
            rs_id.ip, rs_id.port, rs_id.virtual_server
        );
        let script = if h.up {
            rs.notify_up.clone()
        } else {
            rs.notify_down.clone()
        };
        if let Some(s) = script {
            self.notify(&key, &s, &[]);
        }
        let addr = std::net::SocketAddr::new(rs_id.ip, rs_id.port);
        let vs_name = match (vs.fwmark, vs.group.as_deref(), vs.ip) {
            (Some(m), _, _) => super::fifo::VirtualServerName::Fwmark(m),
            (None, Some(g), _) => super::fifo::VirtualServerName::Group(g),
            (None, None, Some(ip)) => super::fifo::VirtualServerName::Address(
                std::net::SocketAddr::new(ip, vs.port.unwrap_or(0)),
            ),
            (None, None, None) => return,
        };
        let line = super::fifo::lvs_line(&vs_name, vs.protocol, Some(addr), h.up);
        self.fifo_write(Role::Check, &line);
        let g = &self.config.global_defs;
        let wanted = rs
            .extra
            .as_ref()
            .and_then(|x| x.smtp_alert)
            .or(vs.smtp_alert)
            .or(g.smtp_alert_checker)
            .or(g.smtp_alert)
            .unwrap_or(false);
        if wanted && !g.no_checker_emails {
            use keepalived_check::smtp_alert::{ServiceType, VirtualServerKind, VirtualServerRef};
            let kind = match vs_name {
                super::fifo::VirtualServerName::Fwmark(m) => VirtualServerKind::Fwmark(m),
                super::fifo::VirtualServerName::Group(g) => VirtualServerKind::Group {
                    name: g.to_string(),
                    port: vs.port.unwrap_or(0),
                },
                super::fifo::VirtualServerName::Address(a) => VirtualServerKind::Address(a),
            };
            let protocol = vs.protocol.map(|p| match p {
                keepalived_config::lvs::Protocol::Udp => ServiceType::Udp,
                keepalived_config::lvs::Protocol::Sctp => ServiceType::Sctp,
                _ => ServiceType::Tcp,
            });
            let vsr = VirtualServerRef { kind, protocol };
            let (up, reason) = (h.up, h.reason.clone());
            self.alert(|s| {
                keepalived_check::smtp_alert::Alert::real_server(s, &vsr, addr, up, &reason)
            });
        }
    }

    fn on_ipvs(&mut self, m: IpvsToParent) {
        match m {
            IpvsToParent::HealthGap { have } => {
                info!("the IPVS writer lost health updates after {have}; sending the table");
                self.send_health_snapshot();
            }
            IpvsToParent::Quorum { virtual_server, up } => {
                let vs =
                    self.config.virtual_servers.iter().find(|v| {
                        keepalived_config::project::virtual_server_key(v) == virtual_server
                    });
                let script = vs.and_then(|v| {
                    if up {
                        v.quorum_up.clone()
                    } else {
                        v.quorum_down.clone()
                    }
                });
                if let Some(s) = script {
                    self.notify(&format!("virtual_server {virtual_server}"), &s, &[]);
                }
            }
            IpvsToParent::KernelError { op, error } => {
                self.ipvs_errors += 1;
                warn!("IPVS: {op}: {error}");
            }
            other => warn!("unexpected message from the IPVS writer: {other:?}"),
        }
    }

    fn forward_ipvs(&mut self, m: ParentToIpvs) {
        if let Some(ch) = self
            .child_mut(Role::Ipvs)
            .and_then(|c| c.proc.as_mut())
            .filter(|p| p.stage == Stage::Running)
            .and_then(|p| p.link.ipvs())
        {
            if let Err(e) = ch.send(&m) {
                warn!("cannot forward health to the IPVS writer: {e}");
            }
        }
    }

    /// What the IPVS writer needs before it starts: the checker's health table and the
    /// state of the VRRP instance `lvs_sync_daemon` follows.
    fn ipvs_handover(&self) -> Vec<ParentToIpvs> {
        let (seq, health) = match self.children.iter().find(|c| c.role == Role::Check) {
            Some(c) => (c.seq, c.health.values().cloned().collect()),
            None => (0, Vec::new()),
        };
        let mut out = keepalived_ipc::msg::ipvs_health_snapshot(seq, health);
        out.extend(self.sync_daemon_state(None));
        out
    }

    /// The `lvs_sync_daemon` message for its VRRP instance's last reported state (or for
    /// `report`, when it is that instance's).
    fn sync_daemon_state(&self, report: Option<&InstanceReport>) -> Option<ParentToIpvs> {
        let inst = self
            .config
            .global_defs
            .lvs_sync_daemon
            .as_ref()?
            .inst
            .clone()?;
        let state = match report {
            Some(r) if r.name == inst => r.state,
            Some(_) => return None,
            None => {
                self.children
                    .iter()
                    .find(|c| c.role == Role::Vrrp)?
                    .instances
                    .get(&inst)?
                    .state
            }
        };
        let vrid = self
            .config
            .vrrp_instances
            .iter()
            .find(|i| i.name == inst)
            .and_then(|i| i.virtual_router_id);
        Some(ParentToIpvs::SyncDaemonState {
            instance: inst,
            state,
            vrid,
        })
    }

    fn send_health_snapshot(&mut self) {
        let (seq, health) = match self.children.iter().find(|c| c.role == Role::Check) {
            Some(c) => (c.seq, c.health.values().cloned().collect()),
            None => (0, Vec::new()),
        };
        for m in keepalived_ipc::msg::ipvs_health_snapshot(seq, health) {
            self.forward_ipvs(m);
        }
    }

    /// A child asks for a script: only one of the configuration, named by object.
    fn on_script_request(&mut self, role: Role, r: ScriptRequest) {
        let found: Option<(Script, Duration, String)> = match (&r.script, role) {
            (ScriptRef::VrrpScript(name), Role::Vrrp) => self
                .config
                .vrrp_scripts
                .iter()
                .find(|s| &s.name == name)
                .and_then(|s| {
                    let t = s.timeout.unwrap_or(s.interval);
                    s.script.clone().map(|sc| {
                        (
                            sc,
                            Duration::from_micros(t.micros()),
                            format!("vrrp_script {name}"),
                        )
                    })
                }),
            (
                ScriptRef::MiscCheck {
                    real_server,
                    checker,
                },
                Role::Check,
            ) => self.find_misc_check(real_server, *checker),
            _ => None,
        };
        let Some((script, timeout, key)) = found else {
            warn!(
                "refused: the {} process asked to run {:?}, which is not in the configuration",
                role.name(),
                r.script
            );
            self.answer_script(
                role,
                r.id,
                ScriptOutcome::Refused("not in the configuration".into()),
            );
            return;
        };
        match self.script_command(&script, &[]) {
            Ok(cmd) => {
                let id = self.next_job;
                self.next_job += 1;
                let job = Job {
                    id,
                    key: OrderKey::new(key),
                    command: cmd,
                    timeout,
                    kind: JobKind::Track,
                };
                match self.broker.submit(Instant::now(), job) {
                    super::broker::Admission::Accepted => {
                        self.jobs.insert(id, JobOrigin::Request(role, r.id));
                    }
                    other => {
                        self.answer_script(role, r.id, ScriptOutcome::Refused(format!("{other:?}")))
                    }
                }
            }
            Err(e) => self.answer_script(role, r.id, ScriptOutcome::Failed(e)),
        }
    }

    fn find_misc_check(
        &self,
        rs: &RealServerId,
        checker: u16,
    ) -> Option<(Script, Duration, String)> {
        let vs = self
            .config
            .virtual_servers
            .iter()
            .find(|v| keepalived_config::project::virtual_server_key(v) == rs.virtual_server)?;
        let real = vs
            .real_servers
            .iter()
            .find(|r| r.ip == rs.ip && r.port.unwrap_or(0) == rs.port)?;
        match real.checkers.get(usize::from(checker))? {
            keepalived_config::lvs::Checker::MiscCheck(m) => {
                let timeout = m
                    .misc_timeout
                    .map(|t| Duration::from_micros(t.micros()))
                    .unwrap_or(Duration::from_micros(vs.delay_loop.micros()));
                Some((
                    m.misc_path.clone()?,
                    timeout,
                    format!(
                        "MISC_CHECK {} {}:{} #{checker}",
                        rs.virtual_server, rs.ip, rs.port
                    ),
                ))
            }
            _ => None,
        }
    }

    fn answer_script(&mut self, role: Role, id: u64, outcome: ScriptOutcome) {
        if let Some(p) = self.child_mut(role).and_then(|c| c.proc.as_mut()) {
            let _ = p.link.script_done(ScriptDone { id, outcome });
        }
    }

    /// Builds the command of a configured script: its argv (plus `extra` arguments), run as
    /// its own user or `script_user`.
    fn script_command(&self, s: &Script, extra: &[&str]) -> Result<ScriptCommand, String> {
        let g = &self.config.global_defs;
        let (user, group) = match (&s.user, &g.script_user) {
            (Some(u), _) => (u.clone(), s.group.clone()),
            (None, Some(su)) => (su.user.clone(), su.group.clone()),
            (None, None) => {
                // keepalived's default: keepalived_script if it exists, else root.
                match nix::unistd::User::from_name("keepalived_script") {
                    Ok(Some(_)) => ("keepalived_script".to_string(), None),
                    _ => ("root".to_string(), None),
                }
            }
        };
        let (uid, gid) = resolve_user(&UserSpec {
            user: user.clone(),
            group,
        })?;
        let supplementary = g.set_supplementary_groups
            || g.script_user
                .as_ref()
                .is_some_and(|su| su.supplementary_groups);
        let groups = if supplementary {
            std::ffi::CString::new(user)
                .ok()
                .and_then(|u| nix::unistd::getgrouplist(&u, gid.into()).ok())
                .map(|v| v.into_iter().map(|g| g.as_raw()).collect())
                .unwrap_or_else(|| vec![gid])
        } else {
            Vec::new()
        };
        let mut argv = s.argv.clone();
        argv.extend(extra.iter().map(|a| a.to_string()));
        Ok(ScriptCommand {
            argv,
            uid,
            gid,
            groups,
            env: Vec::new(),
        })
    }

    /// Runs a notify script for an object, in order with the object's other scripts.
    fn notify(&mut self, key: &str, s: &Script, extra: &[&str]) {
        match self.script_command(s, extra) {
            Ok(cmd) => {
                let id = self.next_job;
                self.next_job += 1;
                self.jobs.insert(id, JobOrigin::Notify(key.to_string()));
                let job = Job {
                    id,
                    key: OrderKey::new(key),
                    command: cmd,
                    timeout: NOTIFY_TIMEOUT,
                    kind: JobKind::Notify,
                };
                let _ = self.broker.submit(Instant::now(), job);
            }
            Err(e) => warn!("cannot run the notify script of {key}: {e}"),
        }
    }

    fn on_script_finished(&mut self, f: Finished) {
        match self.jobs.remove(&f.id) {
            Some(JobOrigin::Request(role, id)) => {
                let outcome = match f.outcome {
                    Outcome::Exited(c) => ScriptOutcome::Exited(c),
                    Outcome::Signaled(s) => ScriptOutcome::Signaled(s),
                    Outcome::TimedOut => {
                        warn!("{} timed out after {:?}; killed", f.key, f.runtime);
                        ScriptOutcome::TimedOut
                    }
                    Outcome::SpawnFailed(e) => ScriptOutcome::Failed(e),
                    other => ScriptOutcome::Refused(format!("{other:?}")),
                };
                self.answer_script(role, id, outcome);
            }
            Some(JobOrigin::Notify(key)) => match f.outcome {
                Outcome::Exited(0) => {}
                other => warn!("notify script of {key} ended: {other:?}"),
            },
            None => {}
        }
    }

    /// Creates the configured notify FIFOs and starts their reader scripts.
    fn open_fifos(&mut self) {
        let g = self.config.global_defs.clone();
        let wanted = [
            (FifoKind::Global, g.notify_fifo, g.notify_fifo_script),
            (
                FifoKind::Vrrp,
                g.vrrp_notify_fifo,
                g.vrrp_notify_fifo_script,
            ),
            (FifoKind::Lvs, g.lvs_notify_fifo, g.lvs_notify_fifo_script),
        ];
        for (kind, fifo, script) in wanted {
            let Some(f) = fifo else { continue };
            if self
                .fifos
                .iter()
                .any(|(k, x)| *k == kind && x.path() == Path::new(&f.path))
            {
                continue;
            }
            self.fifos.retain(|(k, _)| *k != kind);
            let owner = match &f.user {
                Some(u) => resolve_user(&UserSpec {
                    user: u.clone(),
                    group: f.group.clone(),
                })
                .map(|(uid, gid)| Some(super::fifo::FifoOwner { uid, gid })),
                None => Ok(None),
            };
            let fifo = owner
                .map_err(|e| e.to_string())
                .and_then(|o| super::fifo::Fifo::create(&f.path, o).map_err(|e| e.to_string()));
            match fifo {
                Ok(fifo) => {
                    info!("notify FIFO {} ready", f.path);
                    self.fifos.push((kind, fifo));
                }
                Err(e) => {
                    error!("cannot use notify FIFO {}: {e}", f.path);
                    continue;
                }
            }
            if let Some(s) = script {
                // The reader script gets the FIFO's path as its last argument.
                match self.script_command(&s, &[&f.path]) {
                    Ok(cmd) => {
                        let id = self.next_job;
                        self.next_job += 1;
                        self.jobs
                            .insert(id, JobOrigin::Notify(format!("FIFO reader {}", f.path)));
                        let _ = self.broker.submit(
                            Instant::now(),
                            Job {
                                id,
                                key: OrderKey::new(format!("fifo {}", f.path)),
                                command: cmd,
                                timeout: Duration::MAX,
                                kind: JobKind::FifoReader,
                            },
                        );
                    }
                    Err(e) => error!("cannot run the reader script of FIFO {}: {e}", f.path),
                }
            }
        }
    }

    /// Writes a line to the notify FIFO of a role and to the global one.
    fn fifo_write(&mut self, role: Role, line: &str) {
        let kind = if role == Role::Vrrp {
            FifoKind::Vrrp
        } else {
            FifoKind::Lvs
        };
        for (k, f) in &mut self.fifos {
            if *k == kind || *k == FifoKind::Global {
                f.write_line(line);
            }
        }
    }

    /// Sends an e-mail alert through the checker, when alerts are configured.
    fn alert(
        &mut self,
        subject_body: impl FnOnce(&AlertSender) -> keepalived_check::smtp_alert::Alert,
    ) {
        let g = &self.config.global_defs;
        let Some(server) = g.smtp_server.clone() else {
            return;
        };
        if g.notification_email.is_empty() {
            return;
        }
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        let sender = AlertSender {
            router_id: g.router_id.clone().unwrap_or_else(|| host.clone()),
            from: g
                .notification_email_from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host}")),
            to: g.notification_email.clone(),
            helo: g.smtp_helo_name.clone().unwrap_or(host),
        };
        let a = subject_body(&sender);
        let id = self.next_alert;
        self.next_alert += 1;
        let req = AlertRequest {
            id,
            server: server.host,
            port: server.port,
            helo: a.helo,
            from: a.from,
            to: a.to,
            subject: a.subject,
            body: a.body,
            date: rfc5322_date(SystemTime::now()),
            timeout_ms: g.smtp_connect_timeout.saturating_mul(1000),
        };
        info!("alert {id}: {}", req.subject);
        if self.pending_alerts.len() >= MAX_PENDING_ALERTS {
            if let Some(old) = self.pending_alerts.pop_front() {
                warn!(
                    "alert {} dropped: too many alerts wait for the checker",
                    old.id
                );
            }
        }
        self.pending_alerts.push_back(req);
        self.send_alerts();
    }

    /// Hands the waiting alerts to the checker once it runs.
    fn send_alerts(&mut self) {
        while let Some(req) = self.pending_alerts.pop_front() {
            let id = req.id;
            let sent = self
                .child_mut(Role::Check)
                .and_then(|c| c.proc.as_mut())
                .filter(|p| p.stage == Stage::Running)
                .and_then(|p| p.link.check())
                .map(|ch| ch.send(&ParentToCheck::SendAlert(Box::new(req.clone()))));
            match sent {
                Some(Ok(())) => {}
                Some(Err(e)) => warn!("alert {id} not sent: {e}"),
                None => {
                    // Not running yet (starting, or being respawned): keep it.
                    self.pending_alerts.push_front(req);
                    return;
                }
            }
        }
    }

    fn request_dump(&mut self, kind: DumpKind) {
        if self.dump.is_some() {
            warn!("a dump is already being written; signal ignored");
            return;
        }
        // keepalived sends DATA to every child, the others to the VRRP process only.
        let targets: Vec<Role> = self
            .children
            .iter()
            .filter(|c| kind == DumpKind::Data || c.role == Role::Vrrp)
            .filter(|c| c.proc.as_ref().is_some_and(|p| p.stage == Stage::Running))
            .map(|c| c.role)
            .collect();
        let mut waiting = BTreeSet::new();
        for role in targets {
            if let Some(p) = self.child_mut(role).and_then(|c| c.proc.as_mut()) {
                if p.link.dump(kind).is_ok() {
                    waiting.insert(role);
                }
            }
        }
        self.dump = Some(PendingDump {
            kind,
            waiting,
            parts: Vec::new(),
            deadline: Instant::now() + DUMP_DEADLINE,
        });
        self.finish_dump(false);
    }

    fn on_dump(&mut self, role: Role, d: DumpText) {
        if let Some(p) = self.dump.as_mut().filter(|p| p.kind == d.kind) {
            if p.waiting.remove(&role) {
                p.parts.push((role, d.text));
            }
        }
        self.finish_dump(false);
    }

    /// Writes the dump file once every child answered (or at the deadline).
    fn finish_dump(&mut self, force: bool) {
        let Some(p) = self.dump.as_ref() else {
            return;
        };
        if !p.waiting.is_empty() && !force {
            return;
        }
        let Some(p) = self.dump.take() else {
            return;
        };
        let g = &self.config.global_defs;
        let path = match p.kind {
            DumpKind::Data => g.state_dump_file.clone().map(PathBuf::from),
            DumpKind::Stats | DumpKind::StatsClear => g.stats_dump_file.clone().map(PathBuf::from),
            DumpKind::Json => g.json_dump_file.clone().map(PathBuf::from),
        }
        .unwrap_or_else(|| match p.kind {
            DumpKind::Data => self.paths.state_dump.clone(),
            DumpKind::Stats | DumpKind::StatsClear => self.paths.stats_dump.clone(),
            DumpKind::Json => self.paths.json_dump.clone(),
        });
        let mut text = String::new();
        if p.kind == DumpKind::Data {
            text.push_str(&self.parent_dump());
        }
        for (role, part) in &p.parts {
            if p.kind != DumpKind::Json {
                text.push_str(&format!("------< {} process >------\n", role.name()));
            }
            text.push_str(part);
            if !part.ends_with('\n') {
                text.push('\n');
            }
        }
        for role in &p.waiting {
            if p.kind != DumpKind::Json {
                text.push_str(&format!(
                    "------< {} process >------\n (no answer within {:?})\n",
                    role.name(),
                    DUMP_DEADLINE
                ));
            }
        }
        match keepalived_sys::files::create_private(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
        {
            Ok(()) => info!("wrote {}", path.display()),
            Err(e) => error!("cannot write {}: {e}", path.display()),
        }
    }

    fn parent_dump(&self) -> String {
        let mut s = String::new();
        s.push_str("------< Parent >------\n");
        s.push_str(&format!(
            " Configuration file = {}\n Files read = {}\n Generation = {}\n Loaded = {}\n",
            self.opts.config_file.display(),
            self.files.join(", "),
            self.generation,
            self.loaded_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ));
        s.push_str(&format!(
            " Runtime directory = {}\n",
            self.paths.dir.display()
        ));
        let b = self.broker.counters();
        s.push_str(&format!(
            " Scripts running = {} queued = {} started = {} coalesced = {} dropped = {} timed out = {} failed to start = {}\n",
            self.broker.running(),
            self.broker.queued(),
            b.started,
            b.coalesced,
            b.dropped,
            b.timed_out,
            b.spawn_failed
        ));
        for (kind, f) in &self.fifos {
            s.push_str(&format!(
                " Notify FIFO {:?} {} pending bytes = {} lines dropped = {}\n",
                kind,
                f.path().display(),
                f.pending(),
                f.dropped()
            ));
        }
        for c in &self.children {
            s.push_str(&format!(
                " Process {} pid = {} uid = {} gid = {} capabilities = [{}] restarts = {} last exit = {}\n",
                c.role.name(),
                c.proc.as_ref().map(|p| p.pid.as_raw()).unwrap_or(0),
                c.uid,
                c.gid,
                keepalived_sys::confine::caps_arg(&c.caps),
                c.restarts,
                c.last_exit.as_deref().unwrap_or("-")
            ));
        }
        for r in self
            .children
            .iter()
            .filter(|c| c.role == Role::Vrrp)
            .flat_map(|c| c.instances.values())
        {
            s.push_str(&format!(
                " VRRP instance {} state = {:?} priority = {} trackers = {:?}\n",
                r.name, r.state, r.priority, r.trackers
            ));
        }
        s
    }

    /// SIGHUP: validate first; apply only when valid; queue a reload that arrives during one.
    fn reload(&mut self) {
        if self.stop.is_some() {
            return;
        }
        if self.reloading {
            info!("reload requested while one is in progress; queued");
            self.reload_queued = true;
            return;
        }
        let _ = self.notifier.reloading();
        info!("reloading {}", self.opts.config_file.display());
        let (loaded, tls) = match load(&self.opts) {
            Ok(l) => l,
            Err(_) => {
                error!("reload failed: the running configuration is unchanged");
                self.ctl_reload_failed();
                let _ = self
                    .notifier
                    .status("reload failed: configuration errors, see the log");
                let _ = self.notifier.ready();
                return;
            }
        };
        let old_needed = roles_needed(&self.config, &self.opts);
        let old_config = std::mem::replace(&mut self.config, loaded.config);
        let old_tls = std::mem::replace(&mut self.tls, tls);
        let deleted: Vec<String> = old_config
            .vrrp_instances
            .iter()
            .filter(|o| !self.config.vrrp_instances.iter().any(|n| n.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        for name in deleted {
            let line = super::fifo::vrrp_line(
                super::fifo::FifoObject::Instance,
                &name,
                super::fifo::FifoState::Deleted,
                0,
            );
            self.fifo_write(Role::Vrrp, &line);
            if let Some(c) = self.child_mut(Role::Vrrp) {
                c.instances.remove(&name);
            }
        }
        self.files = loaded.files;
        self.generation += 1;
        self.loaded_at = SystemTime::now();
        let needed = roles_needed(&self.config, &self.opts);
        if let Err(code) = self.prepare_children(&needed) {
            error!("reload failed: a needed process cannot start; restoring the old configuration");
            self.config = old_config;
            self.tls = old_tls;
            self.exit_code = code;
            let _ = self.notifier.ready();
            return;
        }
        self.open_fifos();
        self.reloading = true;
        let generation = self.generation;
        // The health of real servers no longer configured is forgotten (a respawned checker
        // resumes from this table); FILE_CHECK values are sent again.
        let configured = configured_real_servers(&self.config);
        if let Some(c) = self.child_mut(Role::Check) {
            c.health.retain(|id, _| configured.contains(id));
        }
        self.check_file_values.clear();
        let tls = (self.tls_sent.as_ref() != Some(&self.tls)).then(|| self.tls.clone());
        let mut tls_sent = None;
        let roles: Vec<Role> = self.children.iter().map(|c| c.role).collect();
        for role in roles {
            let projection = Projection::of(&self.config, role);
            let new_caps = {
                let gid = self.users.get(&role).map(|u| u.1).unwrap_or(0);
                caps_for(role, &self.config, gid)
            };
            let heartbeat = supervise::heartbeat(shortest_timer(role, &self.config));
            let Some(c) = self.child_mut(role) else {
                continue;
            };
            c.heartbeat = heartbeat;
            let name = c.name();
            if !needed.contains(&role) {
                if let Some(p) = c.proc.as_mut() {
                    info!("{name} is no longer needed; stopping it");
                    let _ = p.link.shutdown(Shutdown { release: true });
                    p.stage = Stage::Stopping;
                    p.stop_sent = Some(Instant::now());
                }
                continue;
            }
            if new_caps != c.caps {
                c.caps = new_caps;
                if let Some(p) = c.proc.as_mut() {
                    info!(
                        "{name} needs capabilities [{}] now; respawning it",
                        keepalived_sys::confine::caps_arg(&c.caps)
                    );
                    let _ = kill(p.pid, Signal::SIGKILL);
                    p.stage = Stage::Stopping;
                    c.backoff = Default::default();
                }
                continue;
            }
            match c.proc.as_mut() {
                Some(p) if p.stage == Stage::Running => {
                    // New TLS material first: the checks of the new configuration use it.
                    let mut r = Ok(());
                    if let (Some(tls), Some(ch)) = (&tls, p.link.check()) {
                        r = ch.send(&ParentToCheck::Tls(Box::new(tls.clone())));
                        tls_sent = Some(tls.clone());
                    }
                    if r.is_ok() {
                        r = p.link.configure(p.sent.as_ref(), &projection, generation);
                    }
                    p.sent = Some(projection.fingerprint());
                    if let Err(e) = r {
                        let why = format!("cannot send the new configuration: {e}");
                        self.kill_child(role, &why);
                    } else {
                        self.pending_acks.insert(role);
                    }
                }
                Some(_) => {}
                None => {
                    if c.respawn_at.is_none() && !old_needed.contains(&role) {
                        c.respawn_at = Some(Instant::now());
                    }
                }
            }
        }
        if tls_sent.is_some() {
            self.tls_sent = tls_sent;
        }
        self.children
            .retain(|c| needed.contains(&c.role) || c.proc.is_some());
        self.check_reload_done();
    }

    fn check_reload_done(&mut self) {
        if self.reloading && self.pending_acks.is_empty() {
            self.reloading = false;
            info!("Reload complete (generation {})", self.generation);
            self.ctl_reloaded();
            // The old configuration and the projections sent are freed: give the pages back.
            keepalived_sys::sched::trim_heap();
            let _ = self.notifier.status("running");
            let _ = self.notifier.ready();
            if std::mem::take(&mut self.reload_queued) {
                self.reload();
            }
        }
    }

    fn check_ready(&mut self) {
        if self.ready || self.stop.is_some() {
            return;
        }
        let all = self.children.iter().all(|c| c.started_once);
        if all {
            self.ready = true;
            info!("Startup complete");
            keepalived_sys::sched::trim_heap();
            let _ = self.notifier.status("running");
            let _ = self.notifier.ready();
        }
    }

    fn begin_stop(&mut self, code: u8, why: &str) {
        if self.stop.is_some() {
            return;
        }
        info!("stopping: {why}");
        let _ = self.notifier.stopping();
        self.exit_code = code;
        let wait = self
            .config
            .root
            .child_wait_time
            .map(|t| Duration::from_micros(t.micros()))
            .unwrap_or(Duration::from_secs(5));
        self.stop = Some(Stopping {
            remaining: vec![Role::Vrrp, Role::Ipvs, Role::Check],
            current: None,
            wait,
        });
        self.advance_stop(Instant::now());
    }

    /// Stops the next child once the previous one is gone (or killed at the deadline).
    fn advance_stop(&mut self, now: Instant) {
        loop {
            let Some(stop) = self.stop.as_mut() else {
                return;
            };
            if let Some((role, deadline)) = stop.current {
                let alive = self
                    .children
                    .iter()
                    .any(|c| c.role == role && c.proc.is_some());
                if alive {
                    if now >= deadline {
                        if let Some(p) = self.child_mut(role).and_then(|c| c.proc.as_mut()) {
                            error!("{} process failed to stop in time; killing it", role.name());
                            let _ = kill(p.pid, Signal::SIGKILL);
                        }
                        if let Some(s) = self.stop.as_mut() {
                            s.current = Some((role, now + Duration::from_secs(2)));
                        }
                    }
                    return;
                }
                stop.current = None;
            }
            let Some(role) = (!stop.remaining.is_empty()).then(|| stop.remaining.remove(0)) else {
                return;
            };
            let wait = stop.wait;
            let release = match role {
                Role::Vrrp => self.opts.release_vrrp,
                Role::Ipvs => self.opts.release_ipvs,
                Role::Check => true,
            };
            let Some(c) = self.child_mut(role) else {
                continue;
            };
            c.respawn_at = None;
            let Some(p) = c.proc.as_mut() else {
                continue;
            };
            if p.link.shutdown(Shutdown { release }).is_err() {
                let _ = kill(p.pid, Signal::SIGTERM);
            }
            let _ = p.link.flush();
            p.stage = Stage::Stopping;
            p.stop_sent = Some(now);
            if let Some(s) = self.stop.as_mut() {
                s.current = Some((role, now + wait));
            }
            return;
        }
    }

    fn finished(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| {
            s.remaining.is_empty()
                && s.current.is_none()
                && self.children.iter().all(|c| c.proc.is_none())
        })
    }

    fn on_timers(&mut self, now: Instant) {
        // Scripts past their timeout.
        for f in self.broker.tick(now) {
            self.on_script_finished(f);
        }
        // systemd watchdog: from this loop, whatever the children do.
        if let Some((period, next)) = self.watchdog {
            if now >= next {
                let _ = self.notifier.watchdog();
                self.watchdog = Some((period, now + period));
            }
        }
        if self.dump.as_ref().is_some_and(|d| now >= d.deadline) {
            self.finish_dump(true);
        }
        if now >= self.next_track_read {
            self.next_track_read = now + TRACK_FILE_PERIOD;
            self.read_track_files();
            self.send_check_files();
        }
        if self.stop.is_some() {
            self.advance_stop(now);
            return;
        }
        let mut to_spawn = Vec::new();
        let mut to_kill = Vec::new();
        for c in &mut self.children {
            match c.proc.as_mut() {
                None => {
                    if c.respawn_at.is_some_and(|t| now >= t) {
                        to_spawn.push(c.role);
                    }
                }
                Some(p) => match p.stage {
                    Stage::AwaitHello | Stage::AwaitAck(_) => {
                        if now - p.started > HANDSHAKE_DEADLINE {
                            to_kill.push((c.role, "no configuration ack within 10 s".to_string()));
                        }
                    }
                    Stage::Running => {
                        if let Some((seq, at)) = p.ping_out {
                            if now - at > c.heartbeat.1 {
                                to_kill.push((
                                    c.role,
                                    format!("heartbeat {seq} unanswered for {:?}", c.heartbeat.1),
                                ));
                            }
                        } else if now >= p.next_ping {
                            self.ping_seq += 1;
                            if p.link.ping(self.ping_seq).is_ok() {
                                p.ping_out = Some((self.ping_seq, now));
                            }
                            p.next_ping = now + c.heartbeat.0;
                        }
                    }
                    Stage::Stopping => {
                        if p.stop_sent
                            .is_some_and(|t| now - t > Duration::from_secs(10))
                        {
                            to_kill.push((c.role, "did not stop within 10 s".to_string()));
                        }
                    }
                },
            }
        }
        for (role, why) in to_kill {
            self.kill_child(role, &why);
        }
        for role in to_spawn {
            self.spawn(role);
        }
    }

    /// Reads every track_file and sends the values that changed to the VRRP process
    /// (children open no configuration files).
    fn read_track_files(&mut self) {
        if self.config.track_files.is_empty() {
            return;
        }
        let running = self.children.iter().any(|c| {
            c.role == Role::Vrrp && c.proc.as_ref().is_some_and(|p| p.stage == Stage::Running)
        });
        if !running {
            return;
        }
        let files: Vec<(String, String)> = self
            .config
            .track_files
            .iter()
            .filter_map(|f| Some((f.name.clone(), f.file.clone()?)))
            .collect();
        for (name, path) in files {
            let value = read_track_value(&path);
            if self.track_values.get(&name) == Some(&value) {
                continue;
            }
            self.track_values.insert(name.clone(), value);
            if let Some(ch) = self
                .child_mut(Role::Vrrp)
                .and_then(|c| c.proc.as_mut())
                .and_then(|p| p.link.vrrp())
            {
                let _ = ch.send(&ParentToVrrp::TrackFile { name, value });
            }
        }
    }

    /// The value of the file of every FILE_CHECK (a file read once however many checkers
    /// follow it).
    fn check_file_readings(&self) -> Vec<((RealServerId, u16), Option<i64>)> {
        let mut out = Vec::new();
        if self.config.track_files.is_empty() {
            return out;
        }
        let mut read: HashMap<&str, Option<i64>> = HashMap::new();
        for vs in &self.config.virtual_servers {
            let mut key = None;
            for rs in &vs.real_servers {
                for (i, c) in rs.checkers.iter().enumerate() {
                    let keepalived_config::lvs::Checker::FileCheck(f) = c else {
                        continue;
                    };
                    let Some(path) = self
                        .config
                        .track_files
                        .iter()
                        .find(|t| t.name == f.track_file)
                        .and_then(|t| t.file.as_deref())
                    else {
                        continue;
                    };
                    let value = *read.entry(path).or_insert_with(|| read_track_value(path));
                    let virtual_server = key
                        .get_or_insert_with(|| keepalived_config::project::virtual_server_key(vs))
                        .clone();
                    let id = RealServerId {
                        virtual_server,
                        ip: rs.ip,
                        port: rs.port.unwrap_or(0),
                    };
                    out.push(((id, i as u16), value));
                }
            }
        }
        out
    }

    /// Reads the FILE_CHECK files and sends the values that changed to the checker.
    fn send_check_files(&mut self) {
        if self.config.track_files.is_empty() {
            return;
        }
        let running = self.children.iter().any(|c| {
            c.role == Role::Check && c.proc.as_ref().is_some_and(|p| p.stage == Stage::Running)
        });
        if !running {
            return;
        }
        for (key, value) in self.check_file_readings() {
            if self.check_file_values.get(&key) == Some(&value) {
                continue;
            }
            self.check_file_values.insert(key.clone(), value);
            if let Some(ch) = self
                .child_mut(Role::Check)
                .and_then(|c| c.proc.as_mut())
                .and_then(|p| p.link.check())
            {
                let _ = ch.send(&ParentToCheck::File {
                    real_server: key.0,
                    checker: key.1,
                    value,
                });
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut d: Vec<Instant> = Vec::new();
        if !self.config.track_files.is_empty() {
            d.push(self.next_track_read);
        }
        d.extend(self.broker.next_deadline());
        d.extend(self.watchdog.map(|w| w.1));
        d.extend(self.dump.as_ref().map(|p| p.deadline));
        if let Some(s) = &self.stop {
            d.extend(s.current.map(|c| c.1));
        }
        for c in &self.children {
            d.extend(c.respawn_at);
            if let Some(p) = &c.proc {
                match p.stage {
                    Stage::Running => match p.ping_out {
                        Some((_, at)) => d.push(at + c.heartbeat.1),
                        None => d.push(p.next_ping),
                    },
                    Stage::AwaitHello | Stage::AwaitAck(_) => {
                        d.push(p.started + HANDSHAKE_DEADLINE)
                    }
                    Stage::Stopping => d.extend(p.stop_sent.map(|t| t + Duration::from_secs(10))),
                }
            }
        }
        // A bound, so a missed wakeup never stalls the loop for long.
        d.push(Instant::now() + Duration::from_secs(1));
        d.into_iter().min()
    }

    fn flush_all(&mut self) {
        for (_, f) in &mut self.fifos {
            if f.pending() > 0 {
                f.flush();
            }
        }
        let mut failed = Vec::new();
        let mut closed = Vec::new();
        for c in &mut self.children {
            if let Some(p) = c.proc.as_mut().filter(|p| !p.closed) {
                if p.link.wants_write() {
                    match p.link.flush() {
                        Ok(_) => {}
                        Err(keepalived_ipc::ChannelError::Closed) => closed.push(c.role),
                        Err(e) => failed.push((c.role, format!("channel failed: {e}"))),
                    }
                }
            }
        }
        for role in closed {
            self.channel_closed(role);
        }
        for (role, why) in failed {
            self.kill_child(role, &why);
        }
    }

    /// Runs a script and waits for it (start-up and shut-down scripts only).
    fn run_blocking_script(&mut self, what: &str, s: &Script, timeout: Duration) {
        let cmd = match self.script_command(s, &[]) {
            Ok(c) => c,
            Err(e) => {
                error!("cannot run {what}: {e}");
                return;
            }
        };
        let mut child = match keepalived_sys::script::spawn_script(&cmd) {
            Ok(c) => c,
            Err(e) => {
                error!("cannot run {what} ({}): {e}", s.command);
                return;
            }
        };
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    if !st.success() {
                        warn!("{what} ended with {st}");
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    warn!("{what} did not finish within {timeout:?}; killing it");
                    let _ = keepalived_sys::script::kill_group(
                        Pid::from_raw(child.id() as i32),
                        Signal::SIGKILL,
                    );
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    fn cleanup(&mut self) {
        if self.stop.is_some() {
            // Cancel queued scripts, stop running ones (SIGTERM, then SIGKILL) and reap
            // them, for at most a few seconds.
            let _ = self.broker.shutdown(Instant::now());
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.broker.is_idle() && Instant::now() < deadline {
                let now = Instant::now();
                while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    if status == WaitStatus::StillAlive {
                        break;
                    }
                    let _ = self.broker.on_child_exit(now, status);
                }
                let _ = self.broker.tick(now);
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(s) = self.config.global_defs.shutdown_script.clone() {
                let timeout = self.config.global_defs.shutdown_script_timeout;
                let timeout = Duration::from_secs(u64::from(timeout));
                self.run_blocking_script("shutdown_script", &s, timeout);
            }
        }
        self.restore_sysctls();
        for p in &self.pidfiles_written {
            let _ = keepalived_sys::files::remove_pidfile(p);
        }
        info!("stopped");
    }
}

/// The number a track file holds (its first word), `None` when it is missing, unreadable
/// or holds no number.
fn read_track_value(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok().and_then(|t| {
        t.split_whitespace()
            .next()
            .and_then(|w| w.parse::<i64>().ok())
    })
}

/// Every real server of the configuration, as the checker names them.
fn configured_real_servers(config: &Config) -> std::collections::HashSet<RealServerId> {
    let mut out = std::collections::HashSet::new();
    for vs in &config.virtual_servers {
        let key = keepalived_config::project::virtual_server_key(vs);
        for rs in &vs.real_servers {
            out.insert(RealServerId {
                virtual_server: key.clone(),
                ip: rs.ip,
                port: rs.port.unwrap_or(0),
            });
        }
    }
    out
}

fn state_word(s: VrrpState) -> &'static str {
    match s {
        VrrpState::Init => "INIT",
        VrrpState::Backup => "BACKUP",
        VrrpState::Master => "MASTER",
        VrrpState::Fault => "FAULT",
        VrrpState::Stop => "STOP",
    }
}

/// keepalived's STATS_CLEAR signal: SIGRTMAX-1.
pub fn stats_clear_signal() -> i32 {
    libc::SIGRTMAX() - 1
}

/// keepalived's JSON signal: SIGRTMIN+2.
pub fn json_signal() -> i32 {
    libc::SIGRTMIN() + 2
}

/// The pid in a pidfile, when that process is alive.
fn running_pid(path: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    if pid <= 0 || pid as u32 == std::process::id() {
        return None;
    }
    kill(Pid::from_raw(pid), None).ok().map(|_| pid)
}

/// Moves this process into the named network namespace (/run/netns/NAME).
fn enter_netns(name: &str) -> io::Result<()> {
    let f = File::open(Path::new("/run/netns").join(name))?;
    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// Logs a severity-tagged line as the parent (used by tests of the log path).
#[allow(dead_code)]
fn log_line(sev: Severity, msg: &str) {
    logging::emit("keepalived-rs", std::process::id(), sev, msg);
}

/// An RFC 5322 date in UTC (`Mon, 23 Nov 2026 15:30:00 +0000`), for alert headers.
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {mon} {year} {h:02}:{m:02}:{s:02} +0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker_caps(checker: &str, gid: u32) -> Vec<caps::Capability> {
        let text = format!(
            "virtual_server 192.0.2.1 80 {{\n real_server 192.0.2.2 80 {{\n  {checker}\n }}\n}}\n"
        );
        let l = keepalived_config::load_str("t.conf", &text, &LoadOptions::default());
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        caps_for_job(Role::Check, &l.config, gid)
    }

    #[test]
    fn the_checker_gets_only_the_capabilities_its_checks_need() {
        use caps::Capability::*;
        assert!(checker_caps("TCP_CHECK {\n }", 1000).is_empty());
        assert!(checker_caps("TCP_CHECK {\n bind_port 8080\n }", 1000).is_empty());
        assert_eq!(
            checker_caps("TCP_CHECK {\n bind_port 80\n }", 1000),
            vec![CAP_NET_BIND_SERVICE]
        );
        assert_eq!(
            checker_caps("TCP_CHECK {\n fwmark 7\n }", 1000),
            vec![CAP_NET_ADMIN]
        );
        // SO_BINDTODEVICE is open to every process since Linux 5.7.
        let bind_if = checker_caps("TCP_CHECK {\n bind_if eth0\n }", 1000);
        assert_eq!(bind_if.is_empty(), kernel_at_least(5, 7), "{bind_if:?}");
        // PING_CHECK: raw sockets only when ping sockets are closed to the group.
        for gid in [0, 1000, 65534] {
            let want: Vec<caps::Capability> = if ping_sockets_allowed(gid) {
                vec![]
            } else {
                vec![CAP_NET_RAW]
            };
            assert_eq!(checker_caps("PING_CHECK {\n }", gid), want, "gid {gid}");
        }
        assert!(kernel_at_least(2, 6) && !kernel_at_least(999, 0));
    }

    #[test]
    fn rfc5322_dates() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc5322_date(t(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(t(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(t(1_795_444_200)),
            "Mon, 23 Nov 2026 14:30:00 +0000"
        );
    }

    #[test]
    fn user_specs() {
        assert_eq!(
            "u:g".parse::<UserSpec>(),
            Ok(UserSpec {
                user: "u".into(),
                group: Some("g".into())
            })
        );
        assert_eq!(
            "u".parse::<UserSpec>(),
            Ok(UserSpec {
                user: "u".into(),
                group: None
            })
        );
        assert!(":g".parse::<UserSpec>().is_err());
    }

    #[test]
    fn tokens_map_back_to_roles() {
        for r in Role::ALL {
            assert_eq!(token_role(ipc_token(r)), Some((r, true)));
            assert_eq!(token_role(log_token(r)), Some((r, false)));
        }
        assert_eq!(token_role(SIGNALS), None);
    }
}
