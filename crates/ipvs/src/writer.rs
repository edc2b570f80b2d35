//! The IPVS writer's reconciler: the desired table (from the projection and the health of
//! the real servers) against the kernel's table, written as the minimal list of operations,
//! with retries, adoption of what is already there, the connection-sync daemons and the
//! stop cleanup. The kernel is a trait, so that this logic is tested without one; the
//! writer process plugs in the generic-netlink socket.
//!
//! Rules (ARCHITECTURE 4 and 7, KEEPALIVED-REFERENCE 1):
//! - On start the kernel table is read, entries that match the configuration are adopted,
//!   and only the difference is written. A service the configuration does not hold is never
//!   touched, unless `lvs_flush` asks for a flush at start.
//! - After a successful reconcile the writer's copy of the kernel table is kept up to date
//!   from its own operations, so that a reload or a health change costs exactly the
//!   operations it needs and no dump; any failure throws the copy away, and the next attempt
//!   (after a back-off of 1 s doubling to 30 s) reads the kernel again.
//! - A clean stop removes the services this daemon manages (one DEL_SERVICE each; the
//!   kernel removes their destinations), or the whole table with `lvs_flush_on_stop`, or
//!   nothing with `-I` (`release` false).

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use keepalived_config::global::{LvsFlushOnStop, LvsSyncDaemon};

use crate::desired::{HealthMap, Planner, Projection, QuorumTransition};
use crate::diff;
use crate::model::{Daemon, DaemonState, Op, ServiceKey, Table, Timeouts};

/// Why the kernel refused an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFailure {
    /// The errno, when the kernel gave one.
    pub errno: Option<i32>,
    /// A readable reason.
    pub reason: String,
}

impl fmt::Display for KernelFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What the reconciler needs from the kernel.
pub trait Kernel {
    /// The whole table (services and their destinations).
    fn dump(&mut self) -> Result<Table, KernelFailure>;
    /// One change.
    fn apply(&mut self, op: &Op) -> Result<(), KernelFailure>;
    /// Several changes in order, one result each (the socket sends them in a few datagrams
    /// instead of one round trip per change).
    fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), KernelFailure>> {
        ops.iter().map(|op| self.apply(op)).collect()
    }
    /// FLUSH: every service and destination of the namespace.
    fn flush(&mut self) -> Result<(), KernelFailure>;
    /// The running sync daemons.
    fn daemons(&mut self) -> Result<Vec<Daemon>, KernelFailure>;
    /// Starts a sync daemon.
    fn new_daemon(&mut self, d: &Daemon) -> Result<(), KernelFailure>;
    /// Stops the sync daemon of a state.
    fn del_daemon(&mut self, state: DaemonState) -> Result<(), KernelFailure>;
    /// SET_CONFIG.
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), KernelFailure>;
}

/// What a reconcile, a state change or a stop produced, for the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A virtual server's quorum changed.
    Quorum(QuorumTransition),
    /// The kernel refused an operation (named as a log line names it).
    Failed {
        /// The operation, e.g. `add service TCP 192.0.2.1:80`.
        op: String,
        /// The kernel's reason.
        error: String,
    },
    /// A configuration problem found while planning (the rest was applied).
    Problem(String),
}

/// Operation counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Operations written to the kernel (table and daemons), successful or not.
    pub writes: u64,
    /// Operations the kernel refused.
    pub failures: u64,
    /// Table dumps read.
    pub dumps: u64,
}

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The reconciler.
#[derive(Debug)]
pub struct Writer<K: Kernel> {
    kernel: K,
    /// The configuration projection.
    pub projection: Projection,
    /// The health of the real servers.
    pub health: HealthMap,
    planner: Planner,
    /// The kernel's table as last read and since updated by our operations (None: read it).
    actual: Option<Table>,
    /// The services this daemon manages (configured, or configured before a reload and not
    /// yet removed).
    managed: BTreeSet<ServiceKey>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The VRRP state the sync daemon follows (true: MASTER), when known.
    sync_master: Option<bool>,
    /// The VRID of that instance, the default sync id.
    sync_vrid: Option<u8>,
    /// The sync daemons this writer started.
    daemons_started: BTreeSet<DaemonState>,
    timeouts_set: Option<Timeouts>,
    started: bool,
    /// Operation counters.
    pub counters: Counters,
    /// The failures of the previous attempt (reported then; not again while they repeat).
    reported: BTreeSet<String>,
    /// The failures of this attempt.
    failing: BTreeSet<String>,
}

impl<K: Kernel> Writer<K> {
    /// A writer over a kernel, with no configuration yet.
    pub fn new(kernel: K) -> Writer<K> {
        Writer {
            kernel,
            projection: Projection::new(),
            health: HealthMap::new(),
            planner: Planner::new(),
            actual: None,
            managed: BTreeSet::new(),
            retry_at: None,
            backoff: RETRY_FIRST,
            sync_master: None,
            sync_vrid: None,
            daemons_started: BTreeSet::new(),
            timeouts_set: None,
            started: false,
            counters: Counters::default(),
            reported: BTreeSet::new(),
            failing: BTreeSet::new(),
        }
    }

    /// The kernel interface.
    pub fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    /// The services this daemon manages.
    pub fn managed(&self) -> &BTreeSet<ServiceKey> {
        &self.managed
    }

    /// When a failed reconcile is tried again.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The first reconcile: `lvs_flush`, `lvs_timeouts`, the sync daemon, then the table.
    pub fn start(&mut self, now: Instant) -> Vec<Outcome> {
        let mut out = Vec::new();
        self.started = true;
        if self.projection.globals.lvs_flush {
            self.counters.writes += 1;
            match self.kernel.flush() {
                Ok(()) => self.actual = Some(Table::default()),
                Err(e) => self.failed("flush the IPVS table", &e, &mut out),
            }
        }
        out.extend(self.reconcile(now));
        out
    }

    /// Brings the kernel to the desired table (and timeouts and sync daemons). Call after a
    /// configuration or health change, and when [`Writer::retry_at`] has passed.
    pub fn reconcile(&mut self, now: Instant) -> Vec<Outcome> {
        let mut out = Vec::new();
        if !self.started {
            return out;
        }
        self.retry_at = None;
        let mut ok = true;
        ok &= self.apply_timeouts(&mut out);
        ok &= self.apply_daemons(&mut out);
        let plan = self.planner.plan(&self.projection, &self.health);
        out.extend(plan.transitions.into_iter().map(Outcome::Quorum));
        out.extend(
            plan.problems
                .iter()
                .map(|p| Outcome::Problem(p.to_string())),
        );
        let desired = plan.table;
        let actual = match self.actual.take() {
            Some(t) => t,
            None => {
                self.counters.dumps += 1;
                match self.kernel.dump() {
                    Ok(t) => t,
                    Err(e) => {
                        self.failed("read the IPVS table", &e, &mut out);
                        self.reported = std::mem::take(&mut self.failing);
                        self.schedule_retry(now);
                        return out;
                    }
                }
            }
        };
        let managed: BTreeSet<ServiceKey> = self
            .managed
            .iter()
            .copied()
            .chain(desired.services.keys().copied())
            .collect();
        let ops = diff::diff(&desired, &actual, &|k| managed.contains(k));
        let mut table = actual;
        // Written in batches; a service the kernel would not create makes its destinations
        // fail too (ESRCH), which says nothing new and is not reported.
        let results = self.kernel.apply_batch(&ops);
        self.counters.writes += ops.len() as u64;
        let mut not_created: BTreeSet<ServiceKey> = BTreeSet::new();
        for (op, result) in ops.iter().zip(results) {
            match result {
                Ok(()) => {
                    // Our copy follows what the kernel did.
                    if diff::apply(&mut table, op).is_err() {
                        ok = false;
                    }
                }
                Err(e) => {
                    ok = false;
                    match op {
                        Op::NewService(s) => {
                            not_created.insert(s.key);
                        }
                        Op::NewDest(k, _) | Op::SetDest(k, _) | Op::DelDest(k, _)
                            if not_created.contains(k) =>
                        {
                            self.counters.failures += 1;
                            continue;
                        }
                        _ => {}
                    }
                    self.failed(&op.to_string(), &e, &mut out);
                }
            }
        }
        self.reported = std::mem::take(&mut self.failing);
        if ok {
            self.managed = desired.services.keys().copied().collect();
            self.actual = Some(table);
            self.backoff = RETRY_FIRST;
        } else {
            // Keep managing what may still be there; read the kernel again next time.
            self.managed = managed;
            self.schedule_retry(now);
        }
        out
    }

    /// The state of the VRRP instance `lvs_sync_daemon` follows.
    pub fn set_sync_state(&mut self, master: bool, vrid: Option<u8>, now: Instant) -> Vec<Outcome> {
        self.sync_master = Some(master);
        self.sync_vrid = vrid;
        let mut out = Vec::new();
        if self.started && !self.apply_daemons(&mut out) {
            self.schedule_retry(now);
        }
        out
    }

    /// A clean stop: removes what this daemon manages (`release`), or flushes with
    /// `lvs_flush_on_stop`; stops the sync daemons it started.
    pub fn stop(&mut self, release: bool) -> Vec<Outcome> {
        let mut out = Vec::new();
        for s in std::mem::take(&mut self.daemons_started) {
            self.counters.writes += 1;
            if let Err(e) = self.kernel.del_daemon(s) {
                self.failed(&format!("stop the {s:?} sync daemon"), &e, &mut out);
            }
        }
        if !release {
            return out;
        }
        match self.projection.globals.lvs_flush_on_stop {
            Some(LvsFlushOnStop::Full) => {
                self.counters.writes += 1;
                if let Err(e) = self.kernel.flush() {
                    self.failed("flush the IPVS table", &e, &mut out);
                }
            }
            Some(LvsFlushOnStop::Vs) | None => {
                for k in std::mem::take(&mut self.managed) {
                    self.counters.writes += 1;
                    let op = Op::DelService(k);
                    if let Err(e) = self.kernel.apply(&op) {
                        self.failed(&op.to_string(), &e, &mut out);
                    }
                }
            }
        }
        self.actual = None;
        out
    }

    fn failed(&mut self, what: &str, e: &KernelFailure, out: &mut Vec<Outcome>) {
        self.counters.failures += 1;
        let line = format!("{what}: {e}");
        // The same failure again at each retry is reported once.
        if !self.reported.contains(&line) {
            out.push(Outcome::Failed {
                op: what.to_string(),
                error: e.to_string(),
            });
        }
        self.failing.insert(line);
        self.actual = None;
    }

    fn schedule_retry(&mut self, now: Instant) {
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(RETRY_MAX);
    }

    fn apply_timeouts(&mut self, out: &mut Vec<Outcome>) -> bool {
        let t = &self.projection.globals.lvs_timeouts;
        if t.is_empty() {
            return true;
        }
        let want = Timeouts {
            tcp: t.tcp.unwrap_or(0),
            tcp_fin: t.tcpfin.unwrap_or(0),
            udp: t.udp.unwrap_or(0),
        };
        if self.timeouts_set == Some(want) {
            return true;
        }
        self.counters.writes += 1;
        match self.kernel.set_timeouts(&want) {
            Ok(()) => {
                self.timeouts_set = Some(want);
                true
            }
            Err(e) => {
                self.failed("set the IPVS timeouts", &e, out);
                false
            }
        }
    }

    /// The daemons the configuration and the VRRP state ask for.
    fn wanted_daemons(&self) -> Vec<Daemon> {
        let Some(cfg) = &self.projection.globals.lvs_sync_daemon else {
            return Vec::new();
        };
        let states: Vec<DaemonState> = if cfg.inst.is_none() {
            vec![DaemonState::Master, DaemonState::Backup]
        } else if self.sync_master == Some(true) {
            vec![DaemonState::Master]
        } else {
            vec![DaemonState::Backup]
        };
        states
            .into_iter()
            .map(|state| daemon(cfg, state, self.sync_vrid))
            .collect()
    }

    fn apply_daemons(&mut self, out: &mut Vec<Outcome>) -> bool {
        let wanted = self.wanted_daemons();
        let wanted_states: BTreeSet<DaemonState> = wanted.iter().map(|d| d.state).collect();
        let mut ok = true;
        // Stop first: a master and a backup on one interface are allowed, but the one
        // leaving should go before its successor starts.
        for s in self.daemons_started.clone() {
            if !wanted_states.contains(&s) {
                self.counters.writes += 1;
                match self.kernel.del_daemon(s) {
                    Ok(()) => {
                        self.daemons_started.remove(&s);
                    }
                    Err(e) => {
                        self.failed(&format!("stop the {s:?} sync daemon"), &e, out);
                        ok = false;
                    }
                }
            }
        }
        if wanted.is_empty() {
            return ok;
        }
        let running = match self.kernel.daemons() {
            Ok(r) => r,
            Err(e) => {
                self.failed("read the sync daemons", &e, out);
                return false;
            }
        };
        for d in wanted {
            match running.iter().find(|r| r.state == d.state) {
                Some(r) if daemon_matches(r, &d) => {
                    self.daemons_started.insert(d.state);
                    continue;
                }
                Some(_) => {
                    // Running with other settings (a reload changed them): restart it.
                    self.counters.writes += 1;
                    if let Err(e) = self.kernel.del_daemon(d.state) {
                        self.failed(&format!("stop the {:?} sync daemon", d.state), &e, out);
                        ok = false;
                        continue;
                    }
                }
                None => {}
            }
            self.counters.writes += 1;
            match self.kernel.new_daemon(&d) {
                Ok(()) => {
                    self.daemons_started.insert(d.state);
                }
                Err(e) => {
                    self.failed(
                        &format!("start the {:?} sync daemon on {}", d.state, d.mcast_ifn),
                        &e,
                        out,
                    );
                    ok = false;
                }
            }
        }
        ok
    }
}

/// The daemon of `lvs_sync_daemon` for a state.
fn daemon(cfg: &LvsSyncDaemon, state: DaemonState, vrid: Option<u8>) -> Daemon {
    Daemon {
        state,
        mcast_ifn: cfg.interface.clone(),
        sync_id: u32::from(cfg.id.or(vrid).unwrap_or(0)),
        sync_maxlen: cfg.maxlen.unwrap_or(0),
        mcast_group: cfg.group,
        mcast_port: cfg.port.unwrap_or(0),
        mcast_ttl: cfg.ttl.unwrap_or(0),
    }
}

/// A running daemon is the wanted one: the kernel reports its defaults where we left a
/// value at 0 / None.
fn daemon_matches(running: &Daemon, want: &Daemon) -> bool {
    running.mcast_ifn == want.mcast_ifn
        && running.sync_id == want.sync_id
        && (want.sync_maxlen == 0 || running.sync_maxlen == want.sync_maxlen)
        && (want.mcast_group.is_none() || running.mcast_group == want.mcast_group)
        && (want.mcast_port == 0 || running.mcast_port == want.mcast_port)
        && (want.mcast_ttl == 0 || running.mcast_ttl == want.mcast_ttl)
}

impl From<crate::socket::KernelError> for KernelFailure {
    fn from(e: crate::socket::KernelError) -> KernelFailure {
        KernelFailure {
            errno: e.errno().map(|n| n as i32),
            reason: e.error.to_string(),
        }
    }
}

/// The real kernel: the generic-netlink socket.
impl Kernel for crate::socket::IpvsSocket {
    fn dump(&mut self) -> Result<Table, KernelFailure> {
        crate::socket::IpvsSocket::dump(self).map_err(Into::into)
    }
    fn apply(&mut self, op: &Op) -> Result<(), KernelFailure> {
        crate::socket::IpvsSocket::apply(self, op).map_err(Into::into)
    }
    fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), KernelFailure>> {
        crate::socket::IpvsSocket::apply_batch(self, ops)
            .into_iter()
            .map(|r| r.map_err(Into::into))
            .collect()
    }
    fn flush(&mut self) -> Result<(), KernelFailure> {
        crate::socket::IpvsSocket::flush(self).map_err(Into::into)
    }
    fn daemons(&mut self) -> Result<Vec<Daemon>, KernelFailure> {
        crate::socket::IpvsSocket::daemons(self).map_err(Into::into)
    }
    fn new_daemon(&mut self, d: &Daemon) -> Result<(), KernelFailure> {
        crate::socket::IpvsSocket::new_daemon(self, d).map_err(Into::into)
    }
    fn del_daemon(&mut self, state: DaemonState) -> Result<(), KernelFailure> {
        crate::socket::IpvsSocket::del_daemon(self, state).map_err(Into::into)
    }
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), KernelFailure> {
        crate::socket::IpvsSocket::set_timeouts(self, t).map_err(Into::into)
    }
}
