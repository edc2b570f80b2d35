//! The control commands: `status`, `reload`, `log-level`, `events`. Each talks to a running
//! daemon over its control socket (docs/control.md); root only.

use std::fmt::Write as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use keepalived_ctl::{self as ctl, Command, EventKind, Reply, Request, Response};

/// Exit status: the daemon cannot be reached or failed the request.
const EXIT_FAILURE: u8 = 1;
/// How long a request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Which daemon: its socket, or the runtime directory it uses.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base of the runtime directories (the daemon's --runtime-dir).
    #[arg(
        long = "runtime-dir",
        value_name = "DIR",
        default_value = keepalived_sys::runtime::DEFAULT_BASE
    )]
    pub runtime_dir: PathBuf,
    /// The daemon's `instance NAME` (or -i).
    #[arg(long = "instance", value_name = "NAME")]
    pub instance: Option<String>,
    /// The daemon's network namespace name (default: the one this command runs in, as the
    /// daemon names it).
    #[arg(long = "netns", value_name = "NAME")]
    pub netns: Option<String>,
    /// The control socket itself (overrides the three options above).
    #[arg(long = "socket", value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// `keepalived-rs status` options.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Print Prometheus text exposition (for the node exporter's textfile collector).
    #[arg(long)]
    pub prometheus: bool,
    /// Which daemon.
    #[command(flatten)]
    pub target: Target,
}

/// `keepalived-rs log-level` options.
#[derive(Debug, Clone, Args)]
pub struct LogLevelArgs {
    /// off, error, warn, info, debug or trace.
    #[arg(value_name = "LEVEL")]
    pub level: ctl::LogLevel,
    /// parent, vrrp, check or ipvs (default: all).
    #[arg(value_name = "PROCESS")]
    pub process: Option<ctl::Process>,
    /// Which daemon.
    #[command(flatten)]
    pub target: Target,
}

/// `keepalived-rs events` options.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Which daemon.
    #[command(flatten)]
    pub target: Target,
}

/// `keepalived-rs reload` options.
#[derive(Debug, Clone, Args)]
pub struct ReloadArgs {
    /// Which daemon.
    #[command(flatten)]
    pub target: Target,
}

impl Target {
    /// The control socket's path.
    pub fn socket(&self) -> Result<PathBuf, String> {
        if let Some(s) = &self.socket {
            return Ok(s.clone());
        }
        let netns = match &self.netns {
            Some(n) => Some(n.clone()),
            None => keepalived_sys::runtime::current_netns()
                .map_err(|e| format!("cannot tell this network namespace: {e}"))?,
        };
        keepalived_sys::runtime::RuntimePaths::new(
            &self.runtime_dir,
            self.instance.as_deref(),
            netns.as_deref(),
        )
        .map(|p| p.control_socket)
        .map_err(|e| e.to_string())
    }

    fn connect(&self) -> Result<UnixStream, String> {
        let path = self.socket()?;
        UnixStream::connect(&path).map_err(|e| {
            format!(
                "cannot reach the daemon at {}: {e} (is it running? another instance: \
                 --instance, --netns or --runtime-dir)",
                path.display()
            )
        })
    }
}

/// Sends one request and reads its answer.
fn ask(target: &Target, command: Command) -> Result<Response, String> {
    let mut s = target.connect()?;
    let _ = s.set_read_timeout(Some(ANSWER_TIMEOUT));
    // A daemon that refuses the connection answers and closes at once, maybe before the
    // request is written: its answer is read even when the write failed.
    let sent = ctl::write_frame(&mut s, &Request::new(command));
    match (receive(&mut s), sent) {
        (Err(_), Err(e)) => Err(e.to_string()),
        (r, _) => r,
    }
}

fn receive(s: &mut UnixStream) -> Result<Response, String> {
    let body = ctl::read_frame(s, ctl::MAX_RESPONSE).map_err(|e| e.to_string())?;
    let Reply { response, .. } = ctl::decode_reply(&body).map_err(|e| e.to_string())?;
    match response {
        Response::Error { message } => Err(message),
        r => Ok(r),
    }
}

fn fail(e: &str) -> ExitCode {
    eprintln!("keepalived-rs: {e}");
    ExitCode::from(EXIT_FAILURE)
}

/// `keepalived-rs status`.
pub fn status(args: &StatusArgs) -> ExitCode {
    let s = match ask(&args.target, Command::Status) {
        Ok(Response::Status(s)) => s,
        Ok(other) => return fail(&format!("unexpected answer {other:?}")),
        Err(e) => return fail(&e),
    };
    if args.prometheus {
        print!("{}", ctl::prometheus::render(&s));
    } else if args.json {
        match serde_json::to_string_pretty(&s) {
            Ok(t) => println!("{t}"),
            Err(e) => return fail(&e.to_string()),
        }
    } else {
        print!("{}", render_status(&s));
    }
    ExitCode::SUCCESS
}

/// `keepalived-rs reload`: exit 0 when applied, 4 (as `-t`) when the configuration is
/// invalid, 1 when the daemon cannot be reached.
pub fn reload(args: &ReloadArgs) -> ExitCode {
    match ask(&args.target, Command::Reload) {
        Ok(Response::Reloaded { generation, queued }) => {
            println!(
                "reloading: configuration generation {generation}{}",
                if queued {
                    " (after the reload in progress)"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Ok(Response::ReloadRefused { errors }) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "keepalived-rs: the configuration has {} error(s); nothing applied",
                errors.len()
            );
            ExitCode::from(crate::config_cmd::EXIT_CONFIG)
        }
        Ok(other) => fail(&format!("unexpected answer {other:?}")),
        Err(e) => fail(&e),
    }
}

/// `keepalived-rs log-level LEVEL [PROCESS]`.
pub fn log_level(args: &LogLevelArgs) -> ExitCode {
    let cmd = Command::LogLevel {
        level: args.level,
        process: args.process,
    };
    match ask(&args.target, cmd) {
        Ok(Response::LogLevelSet { level, processes }) => {
            let names: Vec<&str> = processes.iter().map(|p| p.name()).collect();
            println!("log level {}: {}", level.name(), names.join(", "));
            ExitCode::SUCCESS
        }
        Ok(other) => fail(&format!("unexpected answer {other:?}")),
        Err(e) => fail(&e),
    }
}

/// `keepalived-rs events`: follows the daemon's events until it closes the connection.
pub fn events(args: &EventsArgs) -> ExitCode {
    let mut s = match args.target.connect() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let sent = ctl::write_frame(&mut s, &Request::new(Command::Events));
    let _ = s.set_read_timeout(Some(ANSWER_TIMEOUT));
    match (receive(&mut s), sent) {
        (Ok(Response::Subscribed), _) => {}
        (Ok(other), _) => return fail(&format!("unexpected answer {other:?}")),
        (Err(_), Err(e)) => return fail(&e.to_string()),
        (Err(e), Ok(())) => return fail(&e),
    }
    let _ = s.set_read_timeout(None);
    loop {
        let event = match receive(&mut s) {
            Ok(Response::Event(e)) => e,
            Ok(_) => continue,
            Err(e) => return fail(&format!("event stream ended: {e}")),
        };
        if args.json {
            match serde_json::to_string(&event) {
                Ok(t) => println!("{t}"),
                Err(e) => return fail(&e.to_string()),
            }
        } else {
            println!("{}", render_event(&event));
        }
    }
}

/// An event as one line of text.
pub fn render_event(e: &ctl::Event) -> String {
    let what = match &e.kind {
        EventKind::VrrpTransition {
            instance,
            from,
            to,
            priority,
            reason,
        } => format!(
            "vrrp_instance {instance}: {} -> {to} (priority {priority}): {reason}",
            from.as_deref().unwrap_or("-")
        ),
        EventKind::PriorityChange { instance, from, to } => {
            format!("vrrp_instance {instance}: priority {from} -> {to}")
        }
        EventKind::SyncGroup { group, state } => format!("vrrp_sync_group {group}: {state}"),
        EventKind::RealServer {
            virtual_server,
            ip,
            port,
            up,
            reason,
        } => format!(
            "real_server {} of {virtual_server}: {}: {reason}",
            std::net::SocketAddr::new(*ip, *port),
            if *up { "UP" } else { "DOWN" }
        ),
        EventKind::Quorum {
            virtual_server,
            up,
            live_weight,
        } => format!(
            "virtual_server {virtual_server}: quorum {} (live weight {live_weight})",
            if *up { "UP" } else { "DOWN" }
        ),
        EventKind::ProcessStarted {
            process,
            pid,
            restarts,
        } => format!(
            "process {}: started, pid {pid} (restarts {restarts})",
            process.name()
        ),
        EventKind::ProcessExited {
            process,
            pid,
            cause,
        } => format!("process {} (pid {pid}): {cause}", process.name()),
        EventKind::Reload {
            generation,
            ok,
            errors,
        } => {
            if *ok {
                format!("reload: applied, generation {generation}")
            } else {
                format!(
                    "reload: refused ({} error(s)): {}",
                    errors.len(),
                    errors.join("; ")
                )
            }
        }
    };
    format!("{} #{} {what}", time(e.at_ms), e.seq)
}

/// Milliseconds since the epoch as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The status as text.
pub fn render_status(s: &ctl::Status) -> String {
    let mut o = String::new();
    let d = &s.daemon;
    let _ = writeln!(
        o,
        "keepalived-rs {} (pid {}), up {:.0} s, runtime directory {}",
        d.version, d.pid, d.uptime_seconds, d.runtime_dir
    );
    let _ = writeln!(
        o,
        "configuration {} (generation {}, loaded {}){}",
        d.config_file,
        d.generation,
        time(d.loaded_at_ms),
        if d.reloading { ", reloading" } else { "" }
    );
    if let Some(f) = &d.last_reload_failure {
        let _ = writeln!(o, "last reload REFUSED at {}:", time(f.at_ms));
        for e in &f.errors {
            let _ = writeln!(o, "  {e}");
        }
    }
    if d.stopping {
        let _ = writeln!(o, "stopping");
    }
    if !s.processes.is_empty() {
        let _ = writeln!(o, "\nprocesses:");
    }
    for p in &s.processes {
        let _ = write!(
            o,
            "  {:<6} {:<8} pid {:<7} user {} ({}:{})",
            p.process.name(),
            p.stage,
            p.pid.map(|p| p.to_string()).unwrap_or("-".into()),
            p.user,
            p.uid,
            p.gid
        );
        if let Some(u) = p.uptime_seconds {
            let _ = write!(o, ", up {u:.0} s");
        }
        let _ = writeln!(o, ", restarts {}", p.restarts);
        let _ = writeln!(o, "         capabilities [{}]", p.capabilities.join(", "));
        if let Some(x) = &p.last_exit {
            let _ = writeln!(o, "         last exit: {x}");
        }
    }
    if !s.vrrp_instances.is_empty() {
        let _ = writeln!(o, "\nvrrp instances:");
    }
    for i in &s.vrrp_instances {
        let _ = writeln!(
            o,
            "  {} [{} vrid {}]: {}, priority {} (base {}){}",
            i.name,
            i.interface.as_deref().unwrap_or("-"),
            i.virtual_router_id
                .map(|v| v.to_string())
                .unwrap_or("-".into()),
            i.state.as_deref().unwrap_or("unknown"),
            i.effective_priority
                .map(|p| p.to_string())
                .unwrap_or("-".into()),
            i.base_priority,
            i.master
                .map(|m| format!(", master {m}"))
                .unwrap_or_default()
        );
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                o,
                "    since {} ({} -> {}): {}; {} transition(s)",
                time(t.at_ms),
                t.from.as_deref().unwrap_or("-"),
                t.to,
                t.reason,
                i.transitions
            );
        }
    }
    if !s.sync_groups.is_empty() {
        let _ = writeln!(o, "\nsync groups:");
    }
    for g in &s.sync_groups {
        let _ = writeln!(
            o,
            "  {} ({}): {}",
            g.name,
            g.instances.join(", "),
            g.state.as_deref().unwrap_or("unknown")
        );
    }
    if !s.virtual_servers.is_empty() {
        let _ = writeln!(o, "\nvirtual servers:");
    }
    for v in &s.virtual_servers {
        let _ = writeln!(
            o,
            "  {}: quorum {} (live weight {} of quorum {}, hysteresis {})",
            v.name,
            if v.quorum_up { "UP" } else { "DOWN" },
            v.live_weight,
            v.quorum,
            v.hysteresis
        );
        for r in &v.real_servers {
            let addr =
                r.ip.map(|ip| std::net::SocketAddr::new(ip, r.port).to_string())
                    .unwrap_or_default();
            let _ = writeln!(
                o,
                "    {addr}: {}, weight {}{}{}",
                match r.up {
                    Some(true) => "UP",
                    Some(false) => "DOWN",
                    None => "unknown",
                },
                r.weight,
                r.reason
                    .as_ref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default(),
                r.changed_at_ms
                    .map(|t| format!(" (since {})", time(t)))
                    .unwrap_or_default()
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(time(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn the_socket_follows_the_runtime_layout() {
        let t = Target {
            runtime_dir: "/run/k".into(),
            instance: Some("lb1".into()),
            netns: Some("blue".into()),
            socket: None,
        };
        assert_eq!(
            t.socket().unwrap(),
            PathBuf::from("/run/k/blue/lb1/control.sock")
        );
    }
}
