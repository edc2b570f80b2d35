//! The control socket: `control.sock` in the runtime directory, root only, served from the
//! parent's event loop without ever blocking it.
//!
//! A child module of the parent (it reads the parent's state for `status`). Connections
//! are non-blocking and bounded: at most [`MAX_CONNECTIONS`], one request frame of at most
//! [`keepalived_ctl::MAX_REQUEST`] buffered each, at most [`MAX_OUTPUT`] bytes of answers
//! queued, and at most [`SUBSCRIBER_QUEUE`] bytes of events queued for a subscriber (one
//! that falls further behind is disconnected). The protocol is in docs/control.md.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use keepalived_ctl as ctl;
use keepalived_ctl::{
    Command, Event, EventKind, FrameReader, Process, Reply, Response, Transition,
};
use keepalived_ipc::msg::{
    GroupReport, Health, InstanceReport, ParentToCheck, ParentToIpvs, ParentToVrrp, RealServerId,
};
use log::{info, warn};
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use super::{Parent, Role, Stage, role_index, state_word};

/// The listening socket's token.
pub(super) const LISTENER: Token = Token(64);
/// Connections at once.
const MAX_CONNECTIONS: usize = 16;
/// Answer bytes queued for one connection.
const MAX_OUTPUT: usize = ctl::MAX_RESPONSE;
/// Event bytes queued for one subscriber before it is disconnected.
const SUBSCRIBER_QUEUE: usize = 1024 * 1024;

/// Whether a token is the control socket's.
pub(super) fn is_control(t: Token) -> bool {
    (LISTENER.0..=LISTENER.0 + MAX_CONNECTIONS).contains(&t.0)
}

/// One client.
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    reader: FrameReader,
    out: Vec<u8>,
    subscriber: bool,
    /// Refused: close once the answer is written.
    closing: bool,
}

/// The socket, its clients and what the parent records for `status` and `events` only.
#[derive(Debug)]
pub(super) struct Control {
    listener: UnixListener,
    path: PathBuf,
    conns: HashMap<Token, Conn>,
    started: Instant,
    seq: u64,
    transitions: HashMap<String, (Transition, u64)>,
    groups: HashMap<String, (String, u64)>,
    rs_changed: HashMap<RealServerId, u64>,
    quorum: HashMap<String, bool>,
    reloads: u64,
    reload_failures: u64,
    last_failure: Option<ctl::ReloadFailure>,
    /// Refused connections, kept open a moment after their answer: closing a socket whose
    /// peer's request is still unread resets the peer, which would then lose the answer.
    refused: std::collections::VecDeque<(UnixStream, Instant)>,
}

/// How many refused connections linger, and for how long.
const REFUSED_KEPT: usize = 16;
const REFUSED_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn now_ms() -> u64 {
    ms(SystemTime::now())
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Control {
    /// Creates the socket at `path` (mode 0600, replacing a stale one) and watches it.
    pub(super) fn open(path: &Path, registry: &Registry) -> io::Result<Self> {
        // Bound under a temporary name, restricted, then renamed: never connectable with
        // wider permissions.
        let tmp = path.with_extension("sock.new");
        let _ = std::fs::remove_file(&tmp);
        let mut listener = UnixListener::bind(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Control {
            listener,
            path: path.to_path_buf(),
            conns: HashMap::new(),
            started: Instant::now(),
            seq: 0,
            transitions: HashMap::new(),
            groups: HashMap::new(),
            rs_changed: HashMap::new(),
            quorum: HashMap::new(),
            reloads: 0,
            reload_failures: 0,
            last_failure: None,
            refused: std::collections::VecDeque::new(),
        })
    }

    fn accept(&mut self, registry: &Registry) {
        let now = Instant::now();
        self.refused
            .retain(|(_, at)| now.saturating_duration_since(*at) < REFUSED_LINGER);
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!("control socket: accept failed: {e}");
                    return;
                }
            };
            let uid =
                nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                    .map(|c| c.uid());
            let refusal = match uid {
                Ok(0) => None,
                Ok(uid) => {
                    warn!("control socket: refused a client of uid {uid} (root only)");
                    Some(format!("permission denied: uid {uid} is not root"))
                }
                Err(e) => Some(format!("cannot read the peer's credentials: {e}")),
            };
            let free = (1..=MAX_CONNECTIONS)
                .map(|i| Token(LISTENER.0 + i))
                .find(|t| !self.conns.contains_key(t));
            let refusal = refusal.or_else(|| {
                free.is_none()
                    .then(|| format!("too many connections (at most {MAX_CONNECTIONS})"))
            });
            if let Some(message) = refusal {
                // Best effort: a fresh socket's buffer takes this small answer.
                if let Ok(frame) = ctl::encode(&Reply::new(Response::Error { message })) {
                    let _ = stream.write(&frame);
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
                if self.refused.len() >= REFUSED_KEPT {
                    self.refused.pop_front();
                }
                self.refused.push_back((stream, now));
                continue;
            }
            let Some(token) = free else { continue };
            if let Err(e) =
                registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            {
                warn!("control socket: cannot watch a client: {e}");
                continue;
            }
            self.conns.insert(
                token,
                Conn {
                    stream,
                    reader: FrameReader::new(ctl::MAX_REQUEST),
                    out: Vec::new(),
                    subscriber: false,
                    closing: false,
                },
            );
        }
    }

    /// Reads what a client sent: its requests, or the refusal that ends it.
    fn read(&mut self, token: Token) -> (Vec<ctl::Request>, Option<String>, bool) {
        let mut requests = Vec::new();
        let Some(c) = self.conns.get_mut(&token) else {
            return (requests, None, false);
        };
        let mut buf = vec![0u8; 4096];
        loop {
            // A subscriber's or a closing connection's input is read and dropped (to see
            // the end); otherwise never more than the rest of the current frame.
            let want = if c.subscriber || c.closing {
                buf.len()
            } else {
                c.reader.wanted().min(buf.len()).max(1)
            };
            let n = match c.stream.read(&mut buf[..want]) {
                Ok(0) => return (requests, None, true),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (requests, None, false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return (requests, None, true),
            };
            if c.subscriber || c.closing {
                continue;
            }
            match c.reader.push(&buf[..n]) {
                Ok(None) => {}
                Ok(Some(body)) => match ctl::decode_request(&body) {
                    Ok(r) => requests.push(r),
                    Err(e) => return (requests, Some(e.to_string()), false),
                },
                Err(e) => return (requests, Some(e.to_string()), false),
            }
        }
    }

    /// Queues a reply; false when the connection must go (its queue is full).
    fn queue(&mut self, token: Token, response: Response) -> bool {
        let Some(c) = self.conns.get_mut(&token) else {
            return false;
        };
        let frame = match ctl::encode(&Reply::new(response)) {
            Ok(f) => f,
            Err(e) => {
                warn!("control socket: cannot encode an answer: {e}");
                return false;
            }
        };
        let cap = if c.subscriber {
            SUBSCRIBER_QUEUE
        } else {
            MAX_OUTPUT
        };
        if c.out.len() + frame.len() > cap.max(frame.len()) && !c.out.is_empty() {
            return false;
        }
        c.out.extend_from_slice(&frame);
        true
    }

    /// Writes what is queued; false when the connection is finished (closed, failed, or
    /// refused and answered).
    fn flush(&mut self, token: Token) -> bool {
        let Some(c) = self.conns.get_mut(&token) else {
            return false;
        };
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(0) => return false,
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        !c.closing
    }

    fn close(&mut self, token: Token, registry: &Registry) {
        if let Some(mut c) = self.conns.remove(&token) {
            let _ = registry.deregister(&mut c.stream);
        }
    }

    fn event(&mut self, kind: EventKind) -> Event {
        self.seq += 1;
        Event {
            seq: self.seq,
            at_ms: now_ms(),
            kind,
        }
    }
}

/// The errors of the configuration as it is on disk now (the same load as `-t` and
/// SIGHUP); empty when it is valid.
fn validate(opts: &super::Options) -> Vec<String> {
    let mut loaded = keepalived_config::load(&opts.config_file, &opts.load);
    crate::system::check_scripts(&mut loaded, &crate::system::RealSystem::new());
    crate::system::check_runtime(&mut loaded);
    let mut errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    if errors.is_empty() && !loaded.is_ok() {
        errors.push(format!(
            "configuration {} is invalid",
            opts.config_file.display()
        ));
    }
    errors
}

fn process_of(role: Role) -> Process {
    match role {
        Role::Vrrp => Process::Vrrp,
        Role::Check => Process::Check,
        Role::Ipvs => Process::Ipvs,
    }
}

impl Parent {
    /// Creates the control socket (a daemon without one still runs: it is logged).
    pub(super) fn control_open(&mut self) {
        match Control::open(&self.paths.control_socket, self.poll.registry()) {
            Ok(c) => self.control = Some(c),
            Err(e) => warn!(
                "cannot create the control socket {}: {e}; status and reload commands will not \
                 reach this daemon",
                self.paths.control_socket.display()
            ),
        }
    }

    /// A readiness event of the control socket or one of its clients.
    pub(super) fn on_control(&mut self, token: Token) {
        let Some(control) = self.control.as_mut() else {
            return;
        };
        if token == LISTENER {
            control.accept(self.poll.registry());
            return;
        }
        if !control.flush(token) {
            control.close(token, self.poll.registry());
            return;
        }
        let (requests, refusal, eof) = control.read(token);
        for r in requests {
            let response = self.control_request(token, r.request);
            let Some(control) = self.control.as_mut() else {
                return;
            };
            if !control.queue(token, response) {
                control.close(token, self.poll.registry());
                return;
            }
        }
        let Some(control) = self.control.as_mut() else {
            return;
        };
        if let Some(message) = refusal {
            warn!("control socket: refused a request: {message}");
            let _ = control.queue(token, Response::Error { message });
            if let Some(c) = control.conns.get_mut(&token) {
                c.closing = true;
            }
        }
        if !control.flush(token) || eof {
            control.close(token, self.poll.registry());
        }
    }

    fn control_request(&mut self, token: Token, command: Command) -> Response {
        match command {
            Command::Status => Response::Status(Box::new(self.control_status())),
            Command::Reload => self.control_reload(),
            Command::LogLevel { level, process } => self.control_log_level(level, process),
            Command::Events => {
                if let Some(c) = self.control.as_mut().and_then(|c| c.conns.get_mut(&token)) {
                    c.subscriber = true;
                }
                Response::Subscribed
            }
        }
    }

    fn control_reload(&mut self) -> Response {
        if self.stop.is_some() {
            return Response::Error {
                message: "the daemon is stopping".into(),
            };
        }
        let errors = validate(&self.opts);
        if !errors.is_empty() {
            warn!(
                "reload refused (requested on the control socket): {} error(s); nothing applied",
                errors.len()
            );
            self.ctl_reload_refused(errors.clone());
            return Response::ReloadRefused { errors };
        }
        info!("reload requested on the control socket");
        let queued = self.reloading;
        let before = self.generation;
        self.reload();
        if queued {
            Response::Reloaded {
                generation: before + 1,
                queued: true,
            }
        } else if self.generation > before {
            Response::Reloaded {
                generation: self.generation,
                queued: false,
            }
        } else {
            Response::Error {
                message: "the reload failed; the running configuration is unchanged (see the \
                          log)"
                    .into(),
            }
        }
    }

    fn control_log_level(&mut self, level: ctl::LogLevel, process: Option<Process>) -> Response {
        let filter = match level {
            ctl::LogLevel::Off => log::LevelFilter::Off,
            ctl::LogLevel::Error => log::LevelFilter::Error,
            ctl::LogLevel::Warn => log::LevelFilter::Warn,
            ctl::LogLevel::Info => log::LevelFilter::Info,
            ctl::LogLevel::Debug => log::LevelFilter::Debug,
            ctl::LogLevel::Trace => log::LevelFilter::Trace,
        };
        let mut told = Vec::new();
        if process.is_none_or(|p| p == Process::Parent) {
            log::set_max_level(filter);
            told.push(Process::Parent);
        }
        let n = level.number();
        for c in &mut self.children {
            let p = process_of(c.role);
            if process.is_some_and(|want| want != p) {
                continue;
            }
            let Some(run) = c.proc.as_mut() else { continue };
            let sent = match &mut run.link {
                super::Link::Vrrp(ch) => ch.send(&ParentToVrrp::LogLevel(n)),
                super::Link::Check(ch) => ch.send(&ParentToCheck::LogLevel(n)),
                super::Link::Ipvs(ch) => ch.send(&ParentToIpvs::LogLevel(n)),
            };
            if sent.is_ok() {
                told.push(p);
            }
        }
        if told.is_empty() {
            return Response::Error {
                message: format!(
                    "no such process running: {}",
                    process.map(Process::name).unwrap_or("any")
                ),
            };
        }
        info!(
            "log level {} set on the control socket for {:?}",
            level.name(),
            told
        );
        Response::LogLevelSet {
            level,
            processes: told,
        }
    }

    /// Everything `status` shows.
    fn control_status(&self) -> ctl::Status {
        let control = self.control.as_ref();
        let now = Instant::now();
        let daemon = ctl::DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_seconds: control
                .map(|c| now.duration_since(c.started).as_secs_f64())
                .unwrap_or(0.0),
            runtime_dir: self.paths.dir.display().to_string(),
            config_file: self.opts.config_file.display().to_string(),
            config_files: self.files.clone(),
            generation: self.generation,
            loaded_at_ms: ms(self.loaded_at),
            reloading: self.reloading,
            reloads: control.map(|c| c.reloads).unwrap_or(0),
            reload_failures: control.map(|c| c.reload_failures).unwrap_or(0),
            last_reload_failure: control.and_then(|c| c.last_failure.clone()),
            stopping: self.stop.is_some(),
        };
        let processes = self
            .children
            .iter()
            .map(|c| ctl::ProcessStatus {
                process: process_of(c.role),
                pid: c.proc.as_ref().map(|p| p.pid.as_raw() as u32),
                stage: match c.proc.as_ref().map(|p| p.stage) {
                    None => "down",
                    Some(Stage::AwaitHello | Stage::AwaitAck(_)) => "starting",
                    Some(Stage::Running) => "running",
                    Some(Stage::Stopping) => "stopping",
                }
                .to_string(),
                user: self.opts.users[role_index(c.role)].user.clone(),
                uid: c.uid,
                gid: c.gid,
                capabilities: c.caps.iter().map(|c| c.to_string()).collect(),
                uptime_seconds: c
                    .proc
                    .as_ref()
                    .map(|p| now.duration_since(p.started).as_secs_f64()),
                restarts: c.restarts,
                last_exit: c.last_exit.clone(),
            })
            .collect();
        let reports = self.children.iter().find(|c| c.role == Role::Vrrp);
        let vrrp_instances = self
            .config
            .vrrp_instances
            .iter()
            .map(|i| {
                let r = reports.and_then(|c| c.instances.get(&i.name));
                let t = control.and_then(|c| c.transitions.get(&i.name));
                ctl::InstanceStatus {
                    name: i.name.clone(),
                    state: r.map(|r| state_word(r.state).to_string()),
                    interface: i.interface.clone(),
                    virtual_router_id: i.virtual_router_id,
                    base_priority: i.priority.unwrap_or(100),
                    effective_priority: r.map(|r| r.priority),
                    master: r.and_then(|r| r.master),
                    last_transition: t.map(|t| t.0.clone()),
                    trackers: r.map(|r| r.trackers.clone()).unwrap_or_default(),
                    transitions: t.map(|t| t.1).unwrap_or(0),
                }
            })
            .collect();
        let sync_groups = self
            .config
            .vrrp_sync_groups
            .iter()
            .map(|g| {
                let s = control.and_then(|c| c.groups.get(&g.name));
                ctl::SyncGroupStatus {
                    name: g.name.clone(),
                    instances: g.group.iter().map(|n| n.name.clone()).collect(),
                    state: s.map(|s| s.0.clone()),
                    changed_at_ms: s.map(|s| s.1),
                }
            })
            .collect();
        let virtual_servers = self
            .config
            .virtual_servers
            .iter()
            .map(|v| self.virtual_server_status(v))
            .collect();
        ctl::Status {
            daemon,
            processes,
            vrrp_instances,
            sync_groups,
            virtual_servers,
        }
    }

    fn virtual_server_status(
        &self,
        v: &keepalived_config::lvs::VirtualServer,
    ) -> ctl::VirtualServerStatus {
        let key = keepalived_config::project::virtual_server_key(v);
        let health = self.children.iter().find(|c| c.role == Role::Check);
        let control = self.control.as_ref();
        let real_servers: Vec<ctl::RealServerStatus> = v
            .real_servers
            .iter()
            .map(|rs| {
                let id = RealServerId {
                    virtual_server: key.clone(),
                    ip: rs.ip,
                    port: rs.port.unwrap_or(0),
                };
                let h = health.and_then(|c| c.health.get(&id));
                // Before any report the real server is what the IPVS writer takes it for:
                // up, or down with alpha (the checker reports only changes from that).
                let alpha = rs.alpha().unwrap_or(v.alpha) && !rs.checkers.is_empty();
                let (up, reason) = match h {
                    Some(h) => (h.up, h.reason.clone()),
                    None if rs.checkers.is_empty() => (true, "no checker: always up".into()),
                    None if alpha => (false, "alpha: down until its checks pass".into()),
                    None => (true, "up until a check fails".into()),
                };
                ctl::RealServerStatus {
                    ip: Some(rs.ip),
                    port: id.port,
                    up: Some(up),
                    weight: h.and_then(|h| h.weight).or(rs.weight).unwrap_or(1),
                    reason: Some(reason),
                    changed_at_ms: control.and_then(|c| c.rs_changed.get(&id).copied()),
                }
            })
            .collect();
        let live_weight = live_weight(&real_servers);
        let quorum_up = quorum_state(
            control.and_then(|c| c.quorum.get(&key).copied()),
            live_weight,
            v.quorum,
            v.hysteresis,
        );
        ctl::VirtualServerStatus {
            name: key,
            quorum: v.quorum,
            hysteresis: v.hysteresis,
            live_weight,
            quorum_up,
            real_servers,
        }
    }

    fn control_emit(&mut self, kind: EventKind) {
        let Some(control) = self.control.as_mut() else {
            return;
        };
        let event = control.event(kind);
        let subscribers: Vec<Token> = control
            .conns
            .iter()
            .filter(|(_, c)| c.subscriber)
            .map(|(t, _)| *t)
            .collect();
        for t in subscribers {
            if !control.queue(t, Response::Event(event.clone())) || !control.flush(t) {
                warn!("control socket: an event subscriber fell behind or left; disconnected");
                control.close(t, self.poll.registry());
            }
        }
    }

    /// Hook: a VRRP instance's report (result phase), with the one it replaces.
    pub(super) fn ctl_instance(&mut self, r: &InstanceReport, previous: Option<&InstanceReport>) {
        let to = state_word(r.state).to_string();
        match previous {
            Some(p) if p.state == r.state => {
                if p.priority != r.priority {
                    self.control_emit(EventKind::PriorityChange {
                        instance: r.name.clone(),
                        from: p.priority,
                        to: r.priority,
                    });
                }
            }
            _ => {
                let from = previous.map(|p| state_word(p.state).to_string());
                if let Some(c) = self.control.as_mut() {
                    let t = Transition {
                        at_ms: now_ms(),
                        from: from.clone(),
                        to: to.clone(),
                        reason: r.reason.clone(),
                    };
                    let n = c.transitions.get(&r.name).map(|x| x.1).unwrap_or(0) + 1;
                    c.transitions.insert(r.name.clone(), (t, n));
                }
                self.control_emit(EventKind::VrrpTransition {
                    instance: r.name.clone(),
                    from,
                    to,
                    priority: r.priority,
                    reason: r.reason.clone(),
                });
            }
        }
    }

    /// Hook: a sync group's transition.
    pub(super) fn ctl_group(&mut self, g: &GroupReport) {
        let state = state_word(g.state).to_string();
        if let Some(c) = self.control.as_mut() {
            c.groups.insert(g.name.clone(), (state.clone(), now_ms()));
        }
        self.control_emit(EventKind::SyncGroup {
            group: g.name.clone(),
            state,
        });
    }

    /// Hook: a real server's health changed (after the parent recorded it).
    pub(super) fn ctl_real_server(&mut self, h: &Health) {
        let id = &h.real_server;
        if let Some(c) = self.control.as_mut() {
            c.rs_changed.insert(id.clone(), now_ms());
        }
        self.control_emit(EventKind::RealServer {
            virtual_server: id.virtual_server.clone(),
            ip: id.ip,
            port: id.port,
            up: h.up,
            reason: h.reason.clone(),
        });
        let Some(vs) = self
            .config
            .virtual_servers
            .iter()
            .find(|v| keepalived_config::project::virtual_server_key(v) == id.virtual_server)
        else {
            return;
        };
        let s = self.virtual_server_status(vs);
        let before = self
            .control
            .as_mut()
            .and_then(|c| c.quorum.insert(s.name.clone(), s.quorum_up));
        if before != Some(s.quorum_up) {
            self.control_emit(EventKind::Quorum {
                virtual_server: s.name,
                up: s.quorum_up,
                live_weight: s.live_weight,
            });
        }
    }

    /// Hook: a child process was started.
    pub(super) fn ctl_process_started(&mut self, role: Role) {
        let Some(c) = self.children.iter().find(|c| c.role == role) else {
            return;
        };
        let Some(p) = c.proc.as_ref() else { return };
        let kind = EventKind::ProcessStarted {
            process: process_of(role),
            pid: p.pid.as_raw() as u32,
            restarts: c.restarts,
        };
        self.control_emit(kind);
    }

    /// Hook: a child process ended.
    pub(super) fn ctl_process_exited(&mut self, role: Role, pid: u32, cause: &str) {
        self.control_emit(EventKind::ProcessExited {
            process: process_of(role),
            pid,
            cause: cause.to_string(),
        });
    }

    /// Hook: a reload was applied (every child acknowledged it).
    pub(super) fn ctl_reloaded(&mut self) {
        if let Some(c) = self.control.as_mut() {
            c.reloads += 1;
            c.last_failure = None;
        }
        self.control_emit(EventKind::Reload {
            generation: self.generation,
            ok: true,
            errors: Vec::new(),
        });
    }

    /// Hook: a reload (SIGHUP) was refused: its errors are read again for `status`.
    pub(super) fn ctl_reload_failed(&mut self) {
        let errors = validate(&self.opts);
        self.ctl_reload_refused(errors);
    }

    fn ctl_reload_refused(&mut self, errors: Vec<String>) {
        if let Some(c) = self.control.as_mut() {
            c.reload_failures += 1;
            c.last_failure = Some(ctl::ReloadFailure {
                at_ms: now_ms(),
                errors: errors.clone(),
            });
        }
        self.control_emit(EventKind::Reload {
            generation: self.generation,
            ok: false,
            errors,
        });
    }
}

/// The sum of the weights of the real servers up.
fn live_weight(rs: &[ctl::RealServerStatus]) -> u64 {
    rs.iter()
        .filter(|r| r.up == Some(true))
        .map(|r| u64::from(r.weight))
        .sum()
}

/// keepalived's quorum rule: up when the live weight reaches quorum + hysteresis, down
/// when it falls below quorum - hysteresis, unchanged in between.
fn quorum_state(previous: Option<bool>, live: u64, quorum: u32, hysteresis: u32) -> bool {
    let up_at = u64::from(quorum) + u64::from(hysteresis);
    let down_below = u64::from(quorum).saturating_sub(u64::from(hysteresis));
    match previous {
        Some(true) => live >= down_below,
        Some(false) => live >= up_at,
        None => live >= u64::from(quorum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_has_hysteresis() {
        assert!(quorum_state(None, 3, 3, 1));
        assert!(!quorum_state(Some(false), 3, 3, 1));
        assert!(quorum_state(Some(false), 4, 3, 1));
        assert!(quorum_state(Some(true), 2, 3, 1));
        assert!(!quorum_state(Some(true), 1, 3, 1));
    }

    #[test]
    fn control_tokens_do_not_meet_the_childrens() {
        for role in [Role::Vrrp, Role::Check, Role::Ipvs] {
            assert!(!is_control(super::super::ipc_token(role)));
            assert!(!is_control(super::super::log_token(role)));
        }
        assert!(is_control(LISTENER));
    }
}
