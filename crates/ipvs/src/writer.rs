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
//! - Operations go to the kernel in batches ([`Kernel::apply_batch`]: several netlink
//!   messages per datagram), each batch ending at a NEW_SERVICE, so that the destinations
//!   of a service the kernel refused are never sent.
//! - With a [`Writer::step_limit`], a reconcile writes at most that many operations and
//!   leaves the rest for [`Writer::resume`] ([`Writer::unfinished`] says so): the process
//!   answers its parent between steps, however large the table (2,000 virtual servers of
//!   20 real servers are 42,000 operations).

use std::collections::{BTreeSet, VecDeque};
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
    /// Several changes in order, the result of each; the kernel handles every one even
    /// after one fails. By default one [`Kernel::apply`] after the other.
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

/// The most operations sent in one batch (the socket splits a batch into datagrams).
const BATCH_MAX: usize = 256;

/// A reconcile in progress: the operations not yet written and what it decided.
#[derive(Debug)]
struct Step {
    /// The operations left, in order.
    ops: VecDeque<Op>,
    /// The kernel's table as the writes so far left it.
    table: Table,
    /// The services of the desired table (managed once the reconcile is done).
    desired: BTreeSet<ServiceKey>,
    /// The services managed while it runs (the old ones and the desired ones).
    managed: BTreeSet<ServiceKey>,
    /// Services the kernel would not create: their destinations are not sent.
    not_created: BTreeSet<ServiceKey>,
    /// No write failed so far.
    ok: bool,
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
    /// The most operations one call writes (None: no limit); see [`Writer::resume`].
    pub step_limit: Option<usize>,
    /// The reconcile in progress, when a step limit stopped it.
    step: Option<Step>,
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
            step_limit: None,
            step: None,
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

    /// A reconcile stopped at the step limit: call [`Writer::resume`] (or
    /// [`Writer::reconcile`], which plans again from where the writes got) soon.
    pub fn unfinished(&self) -> bool {
        self.step.is_some()
    }

    /// Writes the next step of an unfinished reconcile (nothing when there is none).
    pub fn resume(&mut self, now: Instant) -> Vec<Outcome> {
        let mut out = Vec::new();
        if let Some(step) = self.step.take() {
            self.write(step, now, &mut out);
        }
        out
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
        // An unfinished reconcile gives way to this one, from where its writes got.
        let leftover = self.step.take();
        let known = match leftover {
            Some(step) if step.ok => Some(step.table),
            Some(_) => None,
            None => self.actual.take(),
        };
        let actual = match known {
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
        // While the operations are written, the old services and the new ones are ours.
        self.managed = managed.clone();
        let step = Step {
            ops: ops.into(),
            table: actual,
            desired: desired.services.keys().copied().collect(),
            managed,
            not_created: BTreeSet::new(),
            ok,
        };
        self.write(step, now, &mut out);
        out
    }

    /// Writes the operations of a reconcile, at most [`Writer::step_limit`] of them, in
    /// batches that end at each NEW_SERVICE; finishes the reconcile when none is left.
    fn write(&mut self, mut step: Step, now: Instant, out: &mut Vec<Outcome>) {
        let mut budget = self.step_limit.unwrap_or(usize::MAX).max(1);
        let mut batch: Vec<Op> = Vec::new();
        while budget > 0 {
            let Some(op) = step.ops.pop_front() else {
                break;
            };
            match &op {
                Op::NewDest(k, _) | Op::SetDest(k, _) | Op::DelDest(k, _)
                    if step.not_created.contains(k) =>
                {
                    continue;
                }
                _ => {}
            }
            budget -= 1;
            let ends = matches!(op, Op::NewService(_));
            batch.push(op);
            if ends || batch.len() >= BATCH_MAX {
                self.write_batch(&mut batch, &mut step, out);
            }
        }
        self.write_batch(&mut batch, &mut step, out);
        if !step.ops.is_empty() {
            self.step = Some(step);
            return;
        }
        self.reported = std::mem::take(&mut self.failing);
        if step.ok {
            self.managed = step.desired;
            self.actual = Some(step.table);
            self.backoff = RETRY_FIRST;
        } else {
            // Keep managing what may still be there; read the kernel again next time.
            self.managed = step.managed;
            self.actual = None;
            self.schedule_retry(now);
        }
    }

    fn write_batch(&mut self, batch: &mut Vec<Op>, step: &mut Step, out: &mut Vec<Outcome>) {
        if batch.is_empty() {
            return;
        }
        let results = self.kernel.apply_batch(batch);
        let mut results = results.into_iter();
        for op in batch.drain(..) {
            self.counters.writes += 1;
            let r = results.next().unwrap_or_else(|| {
                Err(KernelFailure {
                    errno: None,
                    reason: "no answer".into(),
                })
            });
            match r {
                Ok(()) => {
                    // Our copy follows what the kernel did.
                    if diff::apply(&mut step.table, &op).is_err() {
                        step.ok = false;
                    }
                }
                Err(e) => {
                    if let Op::NewService(s) = &op {
                        step.not_created.insert(s.key);
                    }
                    self.failed(&op.to_string(), &e, out);
                    step.ok = false;
                }
            }
        }
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
        // An unfinished reconcile is dropped; what it managed is in `managed`.
        self.step = None;
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
