//! The IPVS writer. It is started by `keepalived-rs` with its IPC socket on fd 3 and runs
//! as its own user with CAP_NET_ADMIN only; a seccomp filter refuses it any IP socket, so
//! all it can do is talk generic netlink to the kernel and to the parent.
//!
//! It holds its configuration projection and the health of the real servers, and keeps the
//! kernel's IPVS table equal to the desired one through the reconciler of
//! `keepalived_ipvs::writer` (adopt, minimal writes, retries, stop cleanup, sync daemon).
//! Health changes that arrive together are applied in one reconcile.
//!
//! Every reconcile that wrote something logs one line with its count (`IPVS: 1 write(s),
//! 0 failure(s), 1 netlink message(s) in 1 datagram(s)`), and with `-D` each operation is
//! logged as it is written (`IPVS write: edit real server ...`): the VM tests count them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use keepalived_ipvs::desired::{self, HealthMap};
use keepalived_ipvs::model::{Daemon, DaemonState, Op, Table, Timeouts};
use keepalived_ipvs::socket::{Error as SocketError, IpvsSocket, Traffic};
use keepalived_ipvs::writer::{Counters, Kernel, KernelFailure, Outcome, Writer};
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);
/// How long the loop sleeps with nothing to do (the parent's pings wake it anyway).
const IDLE: Duration = Duration::from_secs(5);
/// The most operations written between two looks at the parent's messages: a large table
/// (42,000 operations for 2,000 virtual servers of 20 real servers) is written in steps,
/// and the parent's pings are answered in between.
const STEP_OPS: usize = 1000;

fn main() -> ExitCode {
    let started = match keepalived_ipc::child::startup("keepalived-rs-ipvs") {
        Ok(s) => s,
        Err(code) => return ExitCode::from(code),
    };
    match run(started.socket, started.args.parent) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::from(3)
        }
    }
}

fn rs_id(r: &RealServerId) -> desired::RealServerId {
    desired::RealServerId {
        virtual_server: r.virtual_server.clone(),
        ip: r.ip,
        port: r.port,
    }
}

fn health_of(h: &Health) -> desired::Health {
    desired::Health {
        up: h.up,
        weight: h.weight,
    }
}

#[derive(Debug, Default)]
struct Pending {
    projection: desired::Projection,
    health: HealthMap,
    sync: Option<(bool, Option<u8>)>,
}

struct Ipvs {
    chan: Channel<ParentToIpvs, IpvsToParent>,
    /// None until Start, and when the kernel has no IPVS.
    writer: Option<Writer<LoggedSocket>>,
    /// The projection, health and sync daemon state received before Start (or kept when
    /// the kernel has no IPVS).
    pending: Pending,
    seq: u64,
    /// The first parts of a health table being received.
    snapshot_parts: Vec<Health>,
    started: bool,
    /// A reconcile is owed (configuration or health changed in this batch).
    dirty: bool,
    /// The first reconcile is still being written (in steps).
    programming: bool,
    /// A later reconcile is being written: the counters when it began.
    reconciling: Option<Usage>,
}

fn run(socket: std::os::unix::net::UnixStream, parent: u32) -> Result<(), String> {
    let chan: Channel<ParentToIpvs, IpvsToParent> =
        Channel::new(socket).map_err(|e| e.to_string())?;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]).map_err(|e| e.to_string())?;
    poll.registry()
        .register(
            &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&chan)),
            IPC,
            Interest::READABLE,
        )
        .and_then(|_| {
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)
        })
        .map_err(|e| e.to_string())?;
    let mut w = Ipvs {
        chan,
        writer: None,
        pending: Pending::default(),
        seq: 0,
        snapshot_parts: Vec::new(),
        started: false,
        dirty: false,
        programming: false,
        reconciling: None,
    };
    w.chan
        .send(&IpvsToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(16);
    loop {
        let timeout = match w.writer.as_ref() {
            // More of a reconcile to write: only look at what arrived meanwhile.
            Some(x) if x.unfinished() => Duration::ZERO,
            Some(x) => x
                .retry_at()
                .map_or(IDLE, |at| at.saturating_duration_since(Instant::now())),
            None => IDLE,
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        for ev in events.iter() {
            if ev.token() == SIGNALS {
                for s in signals.pending() {
                    if (s == SIGTERM || s == SIGINT) && keepalived_ipc::child::parent_gone(parent) {
                        // Parent death: leave the kernel table for the next start to adopt.
                        warn!("parent gone (signal {s}); exiting, IPVS table left as it is");
                        return Ok(());
                    }
                }
                continue;
            }
            let msgs = match w.chan.receive() {
                Ok(m) => m,
                Err(keepalived_ipc::ChannelError::Closed) => {
                    warn!("parent gone (end of file); exiting, IPVS table left as it is");
                    return Ok(());
                }
                Err(e) => return Err(format!("protocol error from the parent: {e}")),
            };
            for m in msgs {
                if w.on_message(m)? {
                    let _ = w.chan.flush();
                    return Ok(());
                }
            }
        }
        let now = Instant::now();
        let retry_due = w
            .writer
            .as_ref()
            .and_then(|x| x.retry_at())
            .is_some_and(|at| now >= at);
        let reconcile = w.dirty || retry_due;
        w.dirty = false;
        w.step(reconcile, now);
        if let Err(e) = w.chan.flush() {
            return Err(format!("channel to the parent: {e}"));
        }
    }
}

impl Ipvs {
    fn send(&mut self, m: IpvsToParent) -> Result<(), String> {
        self.chan.send(&m).map_err(|e| e.to_string())
    }

    fn projection(&mut self) -> &mut desired::Projection {
        match self.writer.as_mut() {
            Some(x) => &mut x.projection,
            None => &mut self.pending.projection,
        }
    }

    fn health(&mut self) -> &mut HealthMap {
        match self.writer.as_mut() {
            Some(x) => &mut x.health,
            None => &mut self.pending.health,
        }
    }

    /// One message; true when the writer must exit.
    fn on_message(&mut self, m: ParentToIpvs) -> Result<bool, String> {
        match m {
            ParentToIpvs::Hello(h) => {
                if h.version != keepalived_ipc::PROTOCOL_VERSION {
                    return Err(format!("parent speaks IPC version {}", h.version));
                }
            }
            ParentToIpvs::Config(Json(o)) => self.projection().apply(o),
            ParentToIpvs::Remove(k) => {
                self.projection().remove(&k);
            }
            ParentToIpvs::ConfigDone(g) => {
                let n = self.projection().virtual_servers.len();
                info!("configuration applied: {n} virtual server(s)");
                // A reload: reconciled at the end of this batch.
                self.dirty = self.started;
                self.send(IpvsToParent::ConfigAck(g))?;
            }
            ParentToIpvs::Start => self.start(),
            ParentToIpvs::Ping(n) => self.send(IpvsToParent::Pong(n))?,
            ParentToIpvs::Health { seq, health } => {
                if seq != self.seq + 1 {
                    self.send(IpvsToParent::HealthGap { have: self.seq })?;
                }
                self.seq = seq;
                self.health()
                    .insert(rs_id(&health.real_server), health_of(&health));
                self.dirty = self.started;
            }
            ParentToIpvs::HealthSnapshotPart(part) => {
                // Bounded by the parent's own cap on the table it keeps.
                self.snapshot_parts.extend(part);
            }
            ParentToIpvs::HealthSnapshot { seq, health } => {
                self.seq = seq;
                let parts = std::mem::take(&mut self.snapshot_parts);
                let map = self.health();
                *map = HealthMap::new();
                for h in parts.iter().chain(&health) {
                    map.insert(rs_id(&h.real_server), health_of(h));
                }
                self.dirty = self.started;
            }
            ParentToIpvs::SyncDaemonState {
                instance,
                state,
                vrid,
            } => {
                info!("lvs_sync_daemon: instance {instance} is {state:?}");
                let master = state == VrrpState::Master;
                match self.writer.as_mut() {
                    Some(x) => {
                        let before = Usage::of(x);
                        let out = x.set_sync_state(master, vrid, Instant::now());
                        before.log_writes(x, "IPVS sync daemon");
                        self.report(out);
                    }
                    None => self.pending.sync = Some((master, vrid)),
                }
            }
            ParentToIpvs::Dump(kind) => {
                let text = self.dump();
                self.send(IpvsToParent::Dump(DumpText { kind, text }))?;
            }
            ParentToIpvs::LogLevel(_) => {}
            ParentToIpvs::Shutdown(s) => {
                info!("stopping (release: {})", s.release);
                let out = match self.writer.as_mut() {
                    Some(x) => {
                        let before = Usage::of(x);
                        let out = x.stop(s.release);
                        before.log_writes(x, "IPVS stop");
                        out
                    }
                    None => Vec::new(),
                };
                self.report(out);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A reconcile (when `reconcile`) or the next step of an unfinished one; logs the
    /// counters of each reconcile once it is written.
    fn step(&mut self, reconcile: bool, now: Instant) {
        let Some(x) = self.writer.as_mut() else {
            return;
        };
        let out = if reconcile {
            if !self.programming && self.reconciling.is_none() {
                self.reconciling = Some(Usage::of(x));
            }
            x.reconcile(now)
        } else if x.unfinished() {
            x.resume(now)
        } else {
            return;
        };
        if !x.unfinished() {
            if self.programming {
                self.programming = false;
                log_programmed(x);
            } else if let Some(before) = self.reconciling.take() {
                before.log_writes(x, "IPVS");
            }
        }
        self.report(out);
    }

    /// Opens the IPVS family and programs the table. Without IPVS in the kernel: one
    /// line, and the writer keeps answering the parent (the rest of the daemon runs).
    fn start(&mut self) {
        self.started = true;
        let socket = match IpvsSocket::open() {
            Ok(s) => s,
            Err(SocketError::NoIpvs) => {
                error!(
                    "the kernel has no IPVS (generic netlink family \"IPVS\" not found, \
                     modprobe ip_vs failed or is not allowed): virtual servers are not \
                     installed; VRRP and the checkers go on"
                );
                return;
            }
            Err(e) => {
                error!("cannot open the IPVS generic netlink family: {e}");
                return;
            }
        };
        let mut x = Writer::new(LoggedSocket(socket));
        x.projection = std::mem::take(&mut self.pending.projection);
        x.health = std::mem::take(&mut self.pending.health);
        if let Some((master, vrid)) = self.pending.sync.take() {
            x.set_sync_state(master, vrid, Instant::now());
        }
        x.step_limit = Some(STEP_OPS);
        let out = x.start(Instant::now());
        if x.unfinished() {
            self.programming = true;
        } else {
            log_programmed(&mut x);
        }
        self.writer = Some(x);
        self.report(out);
    }

    fn report(&mut self, out: Vec<Outcome>) {
        for o in out {
            let m = match o {
                Outcome::Quorum(q) => {
                    info!(
                        "virtual server {}: quorum {} (live weight {}, threshold {})",
                        q.virtual_server,
                        if q.up { "up" } else { "down" },
                        q.live_weight,
                        q.threshold
                    );
                    IpvsToParent::Quorum {
                        virtual_server: q.virtual_server,
                        up: q.up,
                    }
                }
                Outcome::Failed { op, error } => {
                    warn!("{op}: {error}");
                    IpvsToParent::KernelError { op, error }
                }
                Outcome::Problem(p) => {
                    warn!("{p}");
                    continue;
                }
            };
            if let Err(e) = self.send(m) {
                warn!("cannot report to the parent: {e}");
            }
        }
    }

    fn dump(&mut self) -> String {
        let mut text = String::from("------< IPVS writer >------\n");
        match &mut self.writer {
            Some(x) => {
                let traffic = x.kernel().0.traffic();
                text.push_str(&format!(
                    " Managed services = {}\n Writes = {}\n Failures = {}\n Dumps = {}\n \
                     Netlink messages sent = {}\n Netlink datagrams sent = {}\n \
                     Netlink messages received = {}\n",
                    x.managed().len(),
                    x.counters.writes,
                    x.counters.failures,
                    x.counters.dumps,
                    traffic.messages_sent,
                    traffic.datagrams_sent,
                    traffic.messages_received
                ));
                for k in x.managed() {
                    text.push_str(&format!("  {k}\n"));
                }
            }
            None if self.started => text.push_str(" No IPVS in the kernel\n"),
            None => text.push_str(" Not started\n"),
        }
        text.push_str(&format!(" Health sequence = {}\n", self.seq));
        text
    }
}

/// The line that says the first reconcile is written, with the writer's counters.
fn log_programmed(x: &mut Writer<LoggedSocket>) {
    let traffic = x.kernel().0.traffic();
    info!(
        "IPVS table programmed: {} service(s) managed, {} write(s), {} failure(s), {} \
         dump(s); {} netlink message(s) sent in {} datagram(s)",
        x.managed().len(),
        x.counters.writes,
        x.counters.failures,
        x.counters.dumps,
        traffic.messages_sent,
        traffic.datagrams_sent
    );
}

/// The kernel's IPVS socket, with each write logged at debug level (`-D`).
#[derive(Debug)]
struct LoggedSocket(IpvsSocket);

impl Kernel for LoggedSocket {
    fn dump(&mut self) -> Result<Table, KernelFailure> {
        Kernel::dump(&mut self.0)
    }
    fn apply(&mut self, op: &Op) -> Result<(), KernelFailure> {
        debug!("IPVS write: {op}");
        Kernel::apply(&mut self.0, op)
    }
    fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), KernelFailure>> {
        if log::log_enabled!(log::Level::Debug) {
            for op in ops {
                debug!("IPVS write: {op}");
            }
        }
        Kernel::apply_batch(&mut self.0, ops)
    }
    fn flush(&mut self) -> Result<(), KernelFailure> {
        debug!("IPVS write: flush");
        Kernel::flush(&mut self.0)
    }
    fn daemons(&mut self) -> Result<Vec<Daemon>, KernelFailure> {
        Kernel::daemons(&mut self.0)
    }
    fn new_daemon(&mut self, d: &Daemon) -> Result<(), KernelFailure> {
        debug!(
            "IPVS write: start the {:?} sync daemon on {}",
            d.state, d.mcast_ifn
        );
        Kernel::new_daemon(&mut self.0, d)
    }
    fn del_daemon(&mut self, state: DaemonState) -> Result<(), KernelFailure> {
        debug!("IPVS write: stop the {state:?} sync daemon");
        Kernel::del_daemon(&mut self.0, state)
    }
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), KernelFailure> {
        debug!("IPVS write: set the timeouts {t:?}");
        Kernel::set_timeouts(&mut self.0, t)
    }
}

/// The writer's counters and socket traffic before a step, to log what the step wrote.
#[derive(Debug, Clone, Copy)]
struct Usage {
    counters: Counters,
    traffic: Traffic,
}

impl Usage {
    fn of(x: &mut Writer<LoggedSocket>) -> Usage {
        Usage {
            counters: x.counters,
            traffic: x.kernel().0.traffic(),
        }
    }

    /// One line when the step wrote something: the operations, the failures and the
    /// netlink messages and datagrams sent (reads included).
    fn log_writes(self, x: &mut Writer<LoggedSocket>, what: &str) {
        let writes = x.counters.writes - self.counters.writes;
        if writes == 0 {
            return;
        }
        let traffic = x.kernel().0.traffic();
        info!(
            "{what}: {writes} write(s), {} failure(s), {} netlink message(s) in {} datagram(s)",
            x.counters.failures - self.counters.failures,
            traffic.messages_sent - self.traffic.messages_sent,
            traffic.datagrams_sent - self.traffic.datagrams_sent
        );
    }
}
