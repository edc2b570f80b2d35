//! The script broker: the parent runs every script of the daemon through it.
//!
//! The parent's event loop drives it; the broker reads no clock and waits for nothing:
//!
//! ```text
//!   submit(now, job)            a child or the parent wants a script run
//!   waitpid(-1, WNOHANG) loop   the parent reaps every child and offers each status to
//!     on_child_exit(now, st)      the broker first (None: not a script of the broker's)
//!   tick(now)                   timeouts, kill escalation, queued reports
//!   next_deadline()             how long the loop may sleep
//! ```
//!
//! Its only side effects are starting scripts and signalling their process groups
//! through [`keepalived_sys::script`].
//!
//! # Order and concurrency
//!
//! Every job names an [`OrderKey`], the object whose events must stay in order (one VRRP
//! instance, one sync group, one `vrrp_script`, one real server's checker, one FIFO).
//!
//! - The jobs of one key run one at a time, in submission order: the notify scripts of an
//!   instance never overlap and never reorder (keepalived starts each notify script at once
//!   and lets them race; keepalived-rs delivers them in order on purpose).
//! - Different keys run concurrently, at most `max_concurrent` scripts at a time, started
//!   oldest submission first. FIFO readers are long-running by design and do not count
//!   against that bound (three FIFO scripts would otherwise eat three slots forever).
//! - [`JobKind::Track`] and [`JobKind::FifoReader`] jobs are never queued behind one of
//!   their own key: while one runs (or is queued, or is being killed after a timeout), a
//!   new request for the same key is *coalesced* (dropped and counted), as keepalived skips
//!   a check script that is still running ("already running, expect idle").
//!
//! # Bounds
//!
//! Queues are bounded per key and in total ([`Limits`]); `submit` never blocks. When a
//! key's queue is full, the **oldest** queued job of that key is dropped: for notify
//! scripts the latest event is the one that tells the current state, so losing an old
//! transition costs less than losing the newest. When the total bound is hit, the oldest
//! job of the longest queue is dropped (the most backed-up object pays, the others keep
//! their events). A dropped job ends with [`Outcome::Dropped`] and is counted.
//!
//! # Timeouts
//!
//! A job that outlives its timeout is reported at once as [`Outcome::TimedOut`], and its
//! whole process group gets SIGTERM; if the group leader has not been reaped
//! [`Limits::kill_grace`] later (2 s, keepalived's value), the group gets SIGKILL, repeated
//! every 10 s while it survives. When the leader of a timed-out job is reaped, the group
//! gets a last SIGKILL so no background process it started survives. Until then the job
//! still holds its key and its slot, so the next job of that key never overlaps it.
//! FIFO readers have no timeout; `Duration::MAX` means none for other jobs.
//!
//! # Reporting
//!
//! Every accepted job ends in exactly one [`Finished`]: from `on_child_exit` (exit or
//! signal), from `tick` (timeout, spawn failure, dropped from a full queue) or from
//! `shutdown` (cancelled before it ran). A reaped job that was already reported as
//! timed out returns `None` from `on_child_exit`.
//!
//! # Environment
//!
//! Scripts get the environment [`keepalived_sys::script`] builds: nothing but
//! `PATH=/usr/sbin:/usr/bin:/sbin:/bin` plus what the job's [`ScriptCommand::env`] adds.
//!
//! # Zombies
//!
//! The broker never waits: the parent's `waitpid(-1)` loop reaps every child and offers
//! each pid here. Scripts that a timed-out script left behind are killed with its group;
//! their exits reach the parent only if it is a child subreaper, and are then not the
//! broker's (`on_child_exit` returns `None`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use keepalived_sys::script::{ScriptCommand, kill_group, spawn_script};
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// How long a timed-out group has between SIGTERM and SIGKILL unless [`Limits`] says
/// otherwise (keepalived waits 2 s).
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How often SIGKILL is sent again to a group that survived it (keepalived's 10 s).
pub const KILL_RETRY: Duration = Duration::from_secs(10);

/// The object whose scripts must run one at a time and in order, e.g.
/// `vrrp_instance VI_1`, `vrrp_script chk_nginx`, `notify_fifo /run/keepalived.fifo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderKey(String);

impl OrderKey {
    /// A key for the object named `name` (any text; equal texts are the same object).
    pub fn new(name: impl Into<String>) -> Self {
        OrderKey(name.into())
    }

    /// The text of the key.
    #[cfg_attr(not(test), allow(dead_code))] // for tests and the control socket
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for OrderKey {
    fn from(name: &str) -> Self {
        OrderKey::new(name)
    }
}

impl From<String> for OrderKey {
    fn from(name: String) -> Self {
        OrderKey(name)
    }
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a job is for, which decides how it is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A notify script (`notify_master`, `notify`, `notify_up`, ...): fire and forget,
    /// every one runs, in order per key.
    Notify,
    /// A tracking script whose result is wanted (`vrrp_script`, `MISC_CHECK`): at most one
    /// per key in flight; a request while one is in flight is coalesced.
    Track,
    /// A long-running reader of a notify FIFO (`*_fifo_script`): no timeout, no slot, at
    /// most one per key.
    FifoReader,
}

/// One script to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The caller's id for this job, handed back in its [`Finished`].
    pub id: u64,
    /// The object whose jobs stay in order.
    pub key: OrderKey,
    /// What to run, as whom.
    pub command: ScriptCommand,
    /// How long the script may run before its group is killed (ignored for
    /// [`JobKind::FifoReader`]; `Duration::MAX`: no limit).
    pub timeout: Duration,
    /// How the job is queued.
    pub kind: JobKind,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The script exited with this status.
    Exited(i32),
    /// The script was killed by this signal: by someone else, or by the broker at
    /// shutdown (a timeout is reported as `TimedOut` instead).
    Signaled(i32),
    /// The script outlived its timeout; its process group is being killed.
    TimedOut,
    /// The script could not be started (the reason, e.g. "No such file or directory").
    SpawnFailed(String),
    /// The job was dropped from a full queue before it ran.
    Dropped,
    /// The job was still queued at shutdown and never ran.
    Cancelled,
}

/// The end of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The job's id.
    pub id: u64,
    /// The job's key.
    pub key: OrderKey,
    /// The job's kind.
    pub kind: JobKind,
    /// How it ended.
    pub outcome: Outcome,
    /// From start to exit (or to the timeout); zero for a job that never started.
    pub runtime: Duration,
}

/// What `submit` did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Queued or started; a [`Finished`] will follow.
    Accepted,
    /// Not queued: a job of the same key and kind (track or FIFO reader) is already in
    /// flight. No [`Finished`] follows.
    Coalesced,
    /// Not queued: the broker is shutting down. No [`Finished`] follows.
    Refused,
}

/// The broker's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Scripts running at once, FIFO readers not counted (at least 1).
    pub max_concurrent: usize,
    /// Queued jobs per key (at least 1).
    pub max_queued_per_key: usize,
    /// Queued jobs in total (at least 1).
    pub max_queued: usize,
    /// Time between SIGTERM and SIGKILL for a timed-out group.
    pub kill_grace: Duration,
}

impl Limits {
    /// The default bounds with `max_concurrent` running scripts: 64 queued per key, 1024
    /// in total, a 2 s kill grace.
    pub fn new(max_concurrent: usize) -> Self {
        Limits {
            max_concurrent: max_concurrent.max(1),
            max_queued_per_key: 64,
            max_queued: 1024,
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }
}

/// Counts of what the broker had to refuse or enforce, for stats and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Scripts started.
    pub started: u64,
    /// Requests coalesced into one already in flight.
    pub coalesced: u64,
    /// Jobs dropped from a full queue.
    pub dropped: u64,
    /// Jobs that outlived their timeout.
    pub timed_out: u64,
    /// Jobs whose script could not be started.
    pub spawn_failed: u64,
}

/// A job waiting for its key or for a slot.
#[derive(Debug)]
struct Queued {
    /// Submission order across all keys.
    seq: u64,
    job: Job,
}

/// The queue of one key.
#[derive(Debug, Default)]
struct KeyQueue {
    jobs: VecDeque<Queued>,
    /// The pid and kind of the key's job that runs (or is being killed).
    active: Option<(Pid, JobKind)>,
    /// The head's `seq` while the key is in `Broker::ready`.
    ready_seq: Option<u64>,
}

/// Where a running script is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running within its timeout.
    Running,
    /// Being killed: after a timeout (`reported`) or at shutdown.
    Terminating {
        /// A TimedOut was already reported for it.
        reported: bool,
        /// SIGKILL was already sent.
        killed: bool,
    },
}

/// A started script.
#[derive(Debug)]
struct Running {
    id: u64,
    key: OrderKey,
    kind: JobKind,
    started: Instant,
    /// When `tick` must act next (timeout, SIGKILL); None for a FIFO reader.
    deadline: Option<Instant>,
    phase: Phase,
}

/// The script broker of the parent process.
#[derive(Debug)]
pub struct Broker {
    limits: Limits,
    keys: HashMap<OrderKey, KeyQueue>,
    /// Keys that can start their head job, by the head's submission order.
    ready: BTreeMap<u64, OrderKey>,
    running: HashMap<Pid, Running>,
    /// Running scripts that hold a slot (FIFO readers do not).
    slots_used: usize,
    queued: usize,
    next_seq: u64,
    /// Reports made outside `on_child_exit`, handed out by `tick`.
    pending: Vec<Finished>,
    /// When the oldest pending report was made.
    pending_since: Option<Instant>,
    counters: Counters,
    shutting_down: bool,
}

impl Broker {
    /// A broker running at most `max_concurrent` scripts at once, with the default
    /// [`Limits`].
    pub fn new(max_concurrent: usize) -> Self {
        Broker::with_limits(Limits::new(max_concurrent))
    }

    /// A broker with the given bounds (each count at least 1).
    pub fn with_limits(limits: Limits) -> Self {
        let limits = Limits {
            max_concurrent: limits.max_concurrent.max(1),
            max_queued_per_key: limits.max_queued_per_key.max(1),
            max_queued: limits.max_queued.max(1),
            kill_grace: limits.kill_grace,
        };
        Broker {
            limits,
            keys: HashMap::new(),
            ready: BTreeMap::new(),
            running: HashMap::new(),
            slots_used: 0,
            queued: 0,
            next_seq: 0,
            pending: Vec::new(),
            pending_since: None,
            counters: Counters::default(),
            shutting_down: false,
        }
    }

    /// Queue `job`, and start it at once if its key is idle and a slot is free.
    ///
    /// Never blocks. A spawn failure is reported by the next `tick`.
    pub fn submit(&mut self, now: Instant, job: Job) -> Admission {
        if self.shutting_down {
            log::debug!("script for {} refused: shutting down", job.key);
            return Admission::Refused;
        }
        if matches!(job.kind, JobKind::Track | JobKind::FifoReader) {
            if let Some(q) = self.keys.get(&job.key) {
                let busy = q.active.is_some_and(|(_, kind)| kind == job.kind)
                    || q.jobs.iter().any(|queued| queued.job.kind == job.kind);
                if busy {
                    self.counters.coalesced += 1;
                    log::info!("script for {} is still running, skipping this run", job.key);
                    return Admission::Coalesced;
                }
            }
        }

        let key = job.key.clone();
        let seq = self.next_seq;
        self.next_seq += 1;
        let q = self.keys.entry(key.clone()).or_default();
        let key_full = q.jobs.len() >= self.limits.max_queued_per_key;
        q.jobs.push_back(Queued { seq, job });
        self.queued += 1;
        if key_full {
            self.drop_oldest(now, &key);
        } else if self.queued > self.limits.max_queued {
            if let Some(victim) = self.longest_queue() {
                self.drop_oldest(now, &victim);
            }
        }
        self.sync_ready(&key);
        self.start_ready(now);
        Admission::Accepted
    }

    /// Match a child's exit (from the parent's `waitpid`) with the script it ran.
    ///
    /// Returns the job's [`Finished`], or `None` when the pid is not a script of this
    /// broker, when the status is not an exit (stopped, continued), or when the job was
    /// already reported as timed out. Either way, the next jobs that can start are started.
    pub fn on_child_exit(&mut self, now: Instant, status: WaitStatus) -> Option<Finished> {
        let (pid, outcome) = match status {
            WaitStatus::Exited(pid, code) => (pid, Outcome::Exited(code)),
            WaitStatus::Signaled(pid, signal, _) => (pid, Outcome::Signaled(signal as i32)),
            _ => return None,
        };
        let running = self.running.remove(&pid)?;
        self.release(pid, &running);

        let report = match running.phase {
            Phase::Running => true,
            Phase::Terminating { reported, .. } => {
                // Whatever the leader left in its group goes with it.
                if let Err(e) = kill_group(pid, Signal::SIGKILL) {
                    log::warn!("cannot kill what is left of script group {pid}: {e}");
                }
                !reported
            }
        };
        let finished = report.then(|| Finished {
            id: running.id,
            key: running.key,
            kind: running.kind,
            outcome,
            runtime: now.saturating_duration_since(running.started),
        });
        self.start_ready(now);
        finished
    }

    /// Enforce timeouts (SIGTERM to the group, then SIGKILL), start what can start, and
    /// return every report made since the last call that `on_child_exit` did not return:
    /// timeouts, spawn failures, jobs dropped from a full queue.
    pub fn tick(&mut self, now: Instant) -> Vec<Finished> {
        let due: Vec<Pid> = self
            .running
            .iter()
            .filter(|(_, r)| r.deadline.is_some_and(|d| d <= now))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in due {
            self.enforce(now, pid);
        }
        self.start_ready(now);
        self.pending_since = None;
        std::mem::take(&mut self.pending)
    }

    /// When the loop must call `tick` next: the earliest timeout or kill escalation, or a
    /// time already past when reports are waiting. `None`: nothing to do until a child
    /// exits or a job is submitted.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.running
            .values()
            .filter_map(|r| r.deadline)
            .chain(self.pending_since)
            .min()
    }

    /// Scripts started and not yet reaped (FIFO readers and groups being killed included).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Jobs waiting for their key or a slot.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// The pids (also the process group ids) of the scripts not yet reaped.
    #[cfg_attr(not(test), allow(dead_code))] // for tests and the control socket
    pub fn running_pids(&self) -> impl Iterator<Item = Pid> + '_ {
        self.running.keys().copied()
    }

    /// Whether `pid` is a script of this broker not yet reaped (to tell, before reaping
    /// or logging, a script's exit from a child process's).
    pub fn is_script(&self, pid: Pid) -> bool {
        self.running.contains_key(&pid)
    }

    /// What the broker has refused or enforced so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// True when no script is left to reap: after `shutdown`, the parent may exit.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Stop: refuse new jobs, cancel the queued ones, and kill every running script's
    /// group (SIGTERM now, SIGKILL after the grace, driven by `tick`; their exits still
    /// come through `on_child_exit`). Returns the cancelled jobs and any report not yet
    /// handed out.
    pub fn shutdown(&mut self, now: Instant) -> Vec<Finished> {
        self.shutting_down = true;
        let mut finished = std::mem::take(&mut self.pending);
        self.pending_since = None;
        self.ready.clear();
        for (_, mut q) in self.keys.drain() {
            finished.extend(q.jobs.drain(..).map(|queued| Finished {
                id: queued.job.id,
                key: queued.job.key,
                kind: queued.job.kind,
                outcome: Outcome::Cancelled,
                runtime: Duration::ZERO,
            }));
        }
        self.queued = 0;
        // Keys of running scripts are needed again when they are reaped.
        for (pid, r) in &self.running {
            self.keys.entry(r.key.clone()).or_default().active = Some((*pid, r.kind));
        }
        let pids: Vec<Pid> = self.running.keys().copied().collect();
        for pid in pids {
            if let Some(r) = self.running.get_mut(&pid) {
                if r.phase == Phase::Running {
                    r.phase = Phase::Terminating {
                        reported: false,
                        killed: false,
                    };
                    r.deadline = Some(now + self.limits.kill_grace);
                    signal_group(pid, Signal::SIGTERM);
                }
            }
        }
        finished
    }

    /// Act on a running script whose deadline has passed.
    fn enforce(&mut self, now: Instant, pid: Pid) {
        let grace = self.limits.kill_grace;
        let Some(r) = self.running.get_mut(&pid) else {
            return;
        };
        let (signal, next) = match r.phase {
            Phase::Running => {
                log::warn!(
                    "script for {} (pid {pid}) timed out after {:?}, terminating it",
                    r.key,
                    now.saturating_duration_since(r.started)
                );
                self.counters.timed_out += 1;
                let finished = Finished {
                    id: r.id,
                    key: r.key.clone(),
                    kind: r.kind,
                    outcome: Outcome::TimedOut,
                    runtime: now.saturating_duration_since(r.started),
                };
                r.phase = Phase::Terminating {
                    reported: true,
                    killed: false,
                };
                self.pending.push(finished);
                self.pending_since.get_or_insert(now);
                (Signal::SIGTERM, grace)
            }
            Phase::Terminating { reported, killed } => {
                if killed {
                    log::warn!(
                        "script for {} (pid {pid}) failed to die after SIGKILL",
                        r.key
                    );
                }
                r.phase = Phase::Terminating {
                    reported,
                    killed: true,
                };
                (Signal::SIGKILL, KILL_RETRY)
            }
        };
        r.deadline = now.checked_add(next);
        if !signal_group(pid, signal) {
            // The group is gone without its leader being reaped here: someone else reaped
            // it. Free the key rather than wait for an exit that will never be offered.
            log::warn!("script group {pid} lost");
            if let Some(r) = self.running.remove(&pid) {
                self.release(pid, &r);
                if r.phase
                    == (Phase::Terminating {
                        reported: false,
                        killed: true,
                    })
                {
                    // Killed at shutdown and never seen exiting: it ran, it is gone.
                    self.report(
                        now,
                        Finished {
                            id: r.id,
                            key: r.key,
                            kind: r.kind,
                            outcome: Outcome::Cancelled,
                            runtime: now.saturating_duration_since(r.started),
                        },
                    );
                }
            }
        }
    }

    /// Start the ready jobs that have a slot, oldest submission first. FIFO readers need
    /// no slot.
    fn start_ready(&mut self, now: Instant) {
        let mut skipped: Vec<u64> = Vec::new();
        loop {
            let slot_free = self.slots_used < self.limits.max_concurrent;
            let next = self
                .ready
                .iter()
                .find(|(seq, key)| {
                    !skipped.contains(seq)
                        && (slot_free
                            || self.keys.get(*key).is_some_and(|q| {
                                q.jobs
                                    .front()
                                    .is_some_and(|j| j.job.kind == JobKind::FifoReader)
                            }))
                })
                .map(|(seq, key)| (*seq, key.clone()));
            let Some((seq, key)) = next else {
                break;
            };
            let Some(queued) = self.keys.get_mut(&key).and_then(|q| q.jobs.pop_front()) else {
                // Cannot happen (a ready key has a head); never loop on it.
                skipped.push(seq);
                continue;
            };
            self.queued -= 1;
            self.start(now, queued.job);
            self.sync_ready(&key);
        }
    }

    /// Spawn one job whose key is idle.
    fn start(&mut self, now: Instant, job: Job) {
        match spawn_script(&job.command) {
            Ok(child) => {
                let Ok(raw) = i32::try_from(child.id()) else {
                    // A pid always fits; if not, the child cannot be tracked: kill nothing,
                    // report the failure.
                    self.spawn_failed(now, job, "pid out of range".into());
                    return;
                };
                let pid = Pid::from_raw(raw);
                self.counters.started += 1;
                log::debug!("started script for {} as pid {pid}", job.key);
                let deadline = match job.kind {
                    JobKind::FifoReader => None,
                    JobKind::Notify | JobKind::Track => now.checked_add(job.timeout),
                };
                if job.kind != JobKind::FifoReader {
                    self.slots_used += 1;
                }
                if let Some(q) = self.keys.get_mut(&job.key) {
                    q.active = Some((pid, job.kind));
                }
                self.running.insert(
                    pid,
                    Running {
                        id: job.id,
                        key: job.key,
                        kind: job.kind,
                        started: now,
                        deadline,
                        phase: Phase::Running,
                    },
                );
            }
            Err(e) => self.spawn_failed(now, job, e.to_string()),
        }
    }

    fn spawn_failed(&mut self, now: Instant, job: Job, reason: String) {
        log::warn!(
            "cannot run script {:?} for {}: {reason}",
            job.command.program().unwrap_or(""),
            job.key
        );
        self.counters.spawn_failed += 1;
        self.report(
            now,
            Finished {
                id: job.id,
                key: job.key,
                kind: job.kind,
                outcome: Outcome::SpawnFailed(reason),
                runtime: Duration::ZERO,
            },
        );
    }

    /// Free the key and slot of a script that is gone.
    fn release(&mut self, pid: Pid, running: &Running) {
        if running.kind != JobKind::FifoReader {
            self.slots_used = self.slots_used.saturating_sub(1);
        }
        if let Some(q) = self.keys.get_mut(&running.key) {
            if q.active.is_some_and(|(active, _)| active == pid) {
                q.active = None;
            }
        }
        let key = running.key.clone();
        self.sync_ready(&key);
    }

    /// Drop the oldest queued job of `key`.
    fn drop_oldest(&mut self, now: Instant, key: &OrderKey) {
        let Some(queued) = self.keys.get_mut(key).and_then(|q| q.jobs.pop_front()) else {
            return;
        };
        self.queued -= 1;
        self.counters.dropped += 1;
        log::warn!(
            "script queue of {key} is full, dropping its oldest job ({:?})",
            queued.job.kind
        );
        self.report(
            now,
            Finished {
                id: queued.job.id,
                key: queued.job.key,
                kind: queued.job.kind,
                outcome: Outcome::Dropped,
                runtime: Duration::ZERO,
            },
        );
        self.sync_ready(key);
    }

    /// The key with the most queued jobs (the oldest head among equals).
    fn longest_queue(&self) -> Option<OrderKey> {
        self.keys
            .iter()
            .filter(|(_, q)| !q.jobs.is_empty())
            .max_by(|(_, a), (_, b)| {
                a.jobs.len().cmp(&b.jobs.len()).then_with(|| {
                    let head = |q: &KeyQueue| q.jobs.front().map(|j| j.seq);
                    head(b).cmp(&head(a))
                })
            })
            .map(|(key, _)| key.clone())
    }

    /// Queue a report for the next `tick`.
    fn report(&mut self, now: Instant, finished: Finished) {
        self.pending.push(finished);
        self.pending_since.get_or_insert(now);
    }

    /// Keep `ready` equal to "idle keys with a queued job", and forget empty idle keys.
    fn sync_ready(&mut self, key: &OrderKey) {
        let Some(q) = self.keys.get_mut(key) else {
            return;
        };
        let want = match q.active {
            None => q.jobs.front().map(|j| j.seq),
            Some(_) => None,
        };
        if q.ready_seq != want {
            if let Some(old) = q.ready_seq.take() {
                self.ready.remove(&old);
            }
            if let Some(seq) = want {
                self.ready.insert(seq, key.clone());
            }
            q.ready_seq = want;
        }
        if q.active.is_none() && q.jobs.is_empty() {
            self.keys.remove(key);
        }
    }
}

/// Signal a script's group; false when the group no longer exists.
fn signal_group(pgid: Pid, signal: Signal) -> bool {
    match kill_group(pgid, signal) {
        Ok(exists) => exists,
        Err(e) => {
            log::warn!("cannot send {signal} to script group {pgid}: {e}");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitPidFlag, waitpid};
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Bound on every wait of these tests.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// A broker, the temp dir its scripts write into, and what it reported: the tests'
    /// stand-in for the parent's loop. Kills and reaps whatever is left when dropped.
    struct Lab {
        dir: PathBuf,
        broker: Broker,
        finished: Vec<Finished>,
        /// Every pid the broker started.
        seen: BTreeSet<i32>,
        next_id: u64,
    }

    impl Lab {
        fn new(tag: &str, limits: Limits) -> Self {
            use std::os::unix::fs::PermissionsExt;
            let dir = std::env::temp_dir()
                .join(format!("keepalived-broker-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the temp dir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .expect("open the temp dir to every user");
            Lab {
                dir,
                broker: Broker::with_limits(limits),
                finished: Vec::new(),
                seen: BTreeSet::new(),
                next_id: 1,
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.join(name)
        }

        fn job(&mut self, key: &str, kind: JobKind, script: &str) -> Job {
            let id = self.next_id;
            self.next_id += 1;
            Job {
                id,
                key: OrderKey::from(key),
                command: ScriptCommand::new(["/bin/sh", "-c", script]),
                timeout: Duration::from_secs(15),
                kind,
            }
        }

        fn submit(&mut self, job: Job) -> Admission {
            let admission = self.broker.submit(Instant::now(), job);
            self.note_pids();
            admission
        }

        fn note_pids(&mut self) {
            self.seen
                .extend(self.broker.running_pids().map(Pid::as_raw));
        }

        /// One round of the parent's loop: reap the broker's children, tick.
        fn turn(&mut self) {
            let pids: Vec<Pid> = self.broker.running_pids().collect();
            for pid in pids {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => {}
                    Ok(status) => {
                        let finished = self.broker.on_child_exit(Instant::now(), status);
                        self.finished.extend(finished);
                        self.note_pids();
                    }
                }
            }
            let reports = self.broker.tick(Instant::now());
            self.finished.extend(reports);
            self.note_pids();
        }

        /// Run the loop until `done` holds (checked after each round), at most PATIENCE.
        fn run_until(&mut self, what: &str, mut done: impl FnMut(&Lab) -> bool) {
            let deadline = Instant::now() + PATIENCE;
            loop {
                self.turn();
                if done(self) {
                    return;
                }
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn run_until_finished(&mut self, count: usize) {
            self.run_until(&format!("{count} finished jobs"), |lab| {
                lab.finished.len() >= count
            });
        }

        fn outcome(&self, id: u64) -> &Outcome {
            &self
                .finished
                .iter()
                .find(|f| f.id == id)
                .unwrap_or_else(|| panic!("job {id} not finished: {:?}", self.finished))
                .outcome
        }

        /// None of the scripts started here is left as a child of the test process.
        fn assert_no_children_left(&self) {
            let me = std::process::id().to_string();
            for pid in &self.seen {
                if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    let fields: Vec<&str> = stat
                        .rsplit(')')
                        .next()
                        .unwrap_or("")
                        .split_whitespace()
                        .collect();
                    assert_ne!(
                        fields.get(1).copied(),
                        Some(me.as_str()),
                        "script {pid} is still a child of the test (state {:?})",
                        fields.first()
                    );
                }
            }
        }
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            for pid in self.broker.running_pids().collect::<Vec<_>>() {
                let _ = kill_group(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Whether `pid` is gone or a zombie (of whoever adopted it).
    fn dead(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
        }
    }

    /// The pid a script wrote into `path`, waiting for it at most PATIENCE.
    fn pid_in(path: &Path) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(pid) = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "{} not written", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn notify_jobs_of_one_key_run_in_order_and_never_overlap() {
        let mut lab = Lab::new("order", Limits::new(4));
        let log = lab.path("log");
        for n in 1..=3 {
            let job = lab.job(
                "vrrp_instance VI_1",
                JobKind::Notify,
                &format!(
                    "echo start {n} >> {log}; sleep 0.1; echo end {n} >> {log}",
                    log = log.display()
                ),
            );
            assert_eq!(lab.submit(job), Admission::Accepted);
            assert!(lab.broker.running() <= 1);
        }
        assert_eq!(lab.broker.running(), 1);
        assert_eq!(lab.broker.queued(), 2);
        lab.run_until("three notifies", |lab| {
            assert!(lab.broker.running() <= 1, "two notifies of one key overlap");
            lab.finished.len() == 3
        });
        assert_eq!(
            read(&log),
            "start 1\nend 1\nstart 2\nend 2\nstart 3\nend 3\n"
        );
        let ids: Vec<u64> = lab.finished.iter().map(|f| f.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        for f in &lab.finished {
            assert_eq!(f.outcome, Outcome::Exited(0));
            assert_eq!(f.kind, JobKind::Notify);
            assert_eq!(f.key.as_str(), "vrrp_instance VI_1");
            assert!(f.runtime >= Duration::from_millis(100), "{f:?}");
        }
        assert_eq!(lab.broker.queued(), 0);
        assert!(lab.broker.is_idle());
        assert_eq!(lab.broker.next_deadline(), None);
        lab.assert_no_children_left();
    }

    #[test]
    fn different_keys_run_concurrently_up_to_the_bound() {
        let mut lab = Lab::new("concurrency", Limits::new(2));
        let log = lab.path("log");
        for n in 0..5 {
            let job = lab.job(
                &format!("vrrp_instance VI_{n}"),
                JobKind::Notify,
                &format!(
                    "echo start >> {log}; sleep 0.3; echo end >> {log}",
                    log = log.display()
                ),
            );
            lab.submit(job);
        }
        assert_eq!(lab.broker.running(), 2);
        assert_eq!(lab.broker.queued(), 3);
        let mut most = 0;
        lab.run_until("five notifies", |lab| {
            most = most.max(lab.broker.running());
            lab.finished.len() == 5
        });
        assert_eq!(
            most, 2,
            "the broker ran more or fewer scripts at once than allowed"
        );
        // The scripts' own view: never more than two between a start and an end.
        let mut inside = 0;
        let mut peak = 0;
        for line in read(&log).lines() {
            inside += if line == "start" { 1 } else { -1 };
            peak = peak.max(inside);
        }
        assert_eq!(peak, 2);
        // Started oldest first.
        let ids: Vec<u64> = lab.finished.iter().map(|f| f.id).collect();
        assert_eq!(
            ids[..2].iter().collect::<BTreeSet<_>>(),
            [1, 2].iter().collect()
        );
        lab.assert_no_children_left();
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let mut lab = Lab::new("timeout", Limits::new(2));
        let bg = lab.path("bg");
        let mut job = lab.job(
            "vrrp_script chk_slow",
            JobKind::Track,
            &format!("sleep 30 & echo $! > {}; wait", bg.display()),
        );
        job.timeout = Duration::from_millis(300);
        let started = Instant::now();
        lab.submit(job);
        let leader = lab.broker.running_pids().next().expect("started");
        assert!(lab.broker.is_script(leader));
        let deadline = lab.broker.next_deadline().expect("a timeout is armed");
        assert!(deadline > started + Duration::from_millis(250));
        assert!(deadline <= Instant::now() + Duration::from_millis(300));
        let background = pid_in(&bg);

        lab.run_until("the timeout", |lab| !lab.finished.is_empty());
        assert_eq!(lab.outcome(1), &Outcome::TimedOut);
        assert!(lab.finished[0].runtime >= Duration::from_millis(300));
        assert_eq!(lab.broker.counters().timed_out, 1);

        // The leader is reaped without a second report, and its background child dies too.
        lab.run_until("the group to be reaped", |lab| lab.broker.is_idle());
        assert_eq!(lab.finished.len(), 1);
        let deadline = Instant::now() + PATIENCE;
        while !dead(background) {
            assert!(Instant::now() < deadline, "background sleep survived");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(dead(leader.as_raw()));
        assert!(!lab.broker.is_script(leader));
        lab.assert_no_children_left();
    }

    #[test]
    fn a_group_that_ignores_sigterm_gets_sigkill_and_holds_its_key_until_then() {
        let mut limits = Limits::new(2);
        limits.kill_grace = Duration::from_secs(1);
        let mut lab = Lab::new("sigkill", limits);
        let bg = lab.path("bg");
        let second = lab.path("second");
        let mut job = lab.job(
            "vrrp_instance VI_1",
            JobKind::Notify,
            &format!("trap '' TERM; sleep 30 & echo $! > {}; wait", bg.display()),
        );
        // Long enough for the shell to set its trap (the pid file says it has) first.
        job.timeout = Duration::from_secs(1);
        lab.submit(job);
        let next = lab.job(
            "vrrp_instance VI_1",
            JobKind::Notify,
            &format!("touch {}", second.display()),
        );
        lab.submit(next);
        let background = pid_in(&bg);

        lab.run_until("the timeout", |lab| !lab.finished.is_empty());
        assert_eq!(lab.outcome(1), &Outcome::TimedOut);
        // SIGTERM is ignored: the group lives on, and the next job of the key waits.
        std::thread::sleep(Duration::from_millis(100));
        lab.turn();
        assert!(!dead(background));
        assert_eq!(lab.broker.running(), 1);
        assert_eq!(lab.broker.queued(), 1);
        assert!(!second.exists(), "the next job overlapped a dying one");

        lab.run_until("the second job", |lab| lab.finished.len() == 2);
        assert_eq!(lab.outcome(2), &Outcome::Exited(0));
        assert!(second.exists());
        assert!(dead(background));
        lab.assert_no_children_left();
    }

    #[test]
    fn scripts_run_as_the_given_user_with_a_scrubbed_environment() {
        let mut lab = Lab::new("user", Limits::new(2));
        let id = lab.path("id");
        let env = lab.path("env");
        let mut job = lab.job(
            "vrrp_instance VI_1",
            JobKind::Notify,
            &format!(
                "echo $(id -u) $(id -g) > {}; env > {}",
                id.display(),
                env.display()
            ),
        );
        job.command.uid = 65534;
        job.command.gid = 65534;
        job.command.groups = vec![65534];
        job.command
            .env
            .push(("KEEPALIVED_STATE".into(), "MASTER".into()));
        lab.submit(job);
        lab.run_until_finished(1);
        assert_eq!(lab.outcome(1), &Outcome::Exited(0));
        assert_eq!(read(&id), "65534 65534\n");
        let env = read(&env);
        let mut vars: Vec<&str> = env
            .lines()
            .filter(|l| !["PWD=", "SHLVL=", "_="].iter().any(|p| l.starts_with(p)))
            .collect();
        vars.sort_unstable();
        assert_eq!(
            vars,
            [
                "KEEPALIVED_STATE=MASTER",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
            ],
            "{env}"
        );
        lab.assert_no_children_left();
    }

    #[test]
    fn a_track_request_while_one_is_in_flight_is_coalesced() {
        let mut lab = Lab::new("coalesce", Limits::new(2));
        let first = lab.job("vrrp_script chk", JobKind::Track, "sleep 0.3; exit 1");
        assert_eq!(lab.submit(first), Admission::Accepted);
        let again = lab.job("vrrp_script chk", JobKind::Track, "exit 0");
        assert_eq!(lab.submit(again), Admission::Coalesced);
        assert_eq!(lab.broker.queued(), 0);
        assert_eq!(lab.broker.counters().coalesced, 1);
        // Another key is not affected.
        let other = lab.job("vrrp_script chk_other", JobKind::Track, "exit 0");
        assert_eq!(lab.submit(other), Admission::Accepted);

        lab.run_until_finished(2);
        assert_eq!(lab.outcome(1), &Outcome::Exited(1));
        assert_eq!(lab.outcome(3), &Outcome::Exited(0));
        assert!(lab.finished.iter().all(|f| f.id != 2));
        // Once it is done, the next request runs.
        let later = lab.job("vrrp_script chk", JobKind::Track, "exit 0");
        assert_eq!(lab.submit(later), Admission::Accepted);
        lab.run_until_finished(3);
        assert_eq!(lab.outcome(4), &Outcome::Exited(0));
        lab.assert_no_children_left();
    }

    #[test]
    fn a_spawn_failure_is_reported_and_the_key_moves_on() {
        let mut lab = Lab::new("spawnfail", Limits::new(2));
        let mut job = lab.job("real_server 192.0.2.1:80", JobKind::Notify, "");
        job.command = ScriptCommand::new(["/nonexistent/notify_up"]);
        let now = Instant::now();
        assert_eq!(lab.broker.submit(now, job), Admission::Accepted);
        // The report waits for the next tick, and the loop is told to come at once.
        assert!(lab.broker.next_deadline().is_some_and(|d| d <= now));
        let next = lab.job("real_server 192.0.2.1:80", JobKind::Notify, "exit 0");
        lab.submit(next);
        lab.run_until_finished(2);
        assert!(
            matches!(lab.outcome(1), Outcome::SpawnFailed(reason) if reason.contains("No such file")),
            "{:?}",
            lab.outcome(1)
        );
        assert_eq!(lab.outcome(2), &Outcome::Exited(0));
        assert_eq!(lab.broker.counters().spawn_failed, 1);
        assert_eq!(lab.broker.next_deadline(), None);
        lab.assert_no_children_left();
    }

    #[test]
    fn a_full_queue_drops_the_oldest_queued_job() {
        let limits = Limits {
            max_concurrent: 1,
            max_queued_per_key: 2,
            max_queued: 3,
            kill_grace: DEFAULT_KILL_GRACE,
        };
        let mut lab = Lab::new("bounds", limits);
        let blocker = lab.job("blocker", JobKind::Notify, "sleep 0.3");
        lab.submit(blocker); // 1 runs, holding the only slot
        for _ in 0..3 {
            let job = lab.job("vrrp_instance VI_1", JobKind::Notify, "exit 0");
            assert_eq!(lab.submit(job), Admission::Accepted); // 2, 3, 4: 2 is dropped
        }
        assert_eq!(lab.broker.queued(), 2);
        assert_eq!(lab.broker.counters().dropped, 1);
        let job = lab.job("vrrp_instance VI_2", JobKind::Notify, "exit 0");
        lab.submit(job); // 5: three queued in total now
        let job = lab.job("vrrp_instance VI_3", JobKind::Notify, "exit 0");
        lab.submit(job); // 6: over the total, VI_1 (the longest queue) loses 3
        assert_eq!(lab.broker.queued(), 3);
        assert_eq!(lab.broker.counters().dropped, 2);

        lab.run_until_finished(6);
        assert_eq!(lab.outcome(2), &Outcome::Dropped);
        assert_eq!(lab.outcome(3), &Outcome::Dropped);
        for id in [1, 4, 5, 6] {
            assert_eq!(lab.outcome(id), &Outcome::Exited(0), "job {id}");
        }
        // The survivors ran oldest first.
        let ran: Vec<u64> = lab
            .finished
            .iter()
            .filter(|f| f.outcome == Outcome::Exited(0))
            .map(|f| f.id)
            .collect();
        assert_eq!(ran, [1, 4, 5, 6]);
        lab.assert_no_children_left();
    }

    #[test]
    fn fifo_readers_take_no_slot_and_are_not_started_twice() {
        let mut lab = Lab::new("fifo", Limits::new(1));
        let reader = lab.job("notify_fifo /run/k.fifo", JobKind::FifoReader, "sleep 30");
        assert_eq!(lab.submit(reader), Admission::Accepted);
        let twice = lab.job("notify_fifo /run/k.fifo", JobKind::FifoReader, "sleep 30");
        assert_eq!(lab.submit(twice), Admission::Coalesced);
        let notify = lab.job("vrrp_instance VI_1", JobKind::Notify, "exit 0");
        lab.submit(notify);
        assert_eq!(
            lab.broker.running(),
            2,
            "the FIFO reader took the only slot"
        );
        lab.run_until_finished(1);
        assert_eq!(lab.outcome(3), &Outcome::Exited(0));
        // The reader runs on with no timeout.
        assert_eq!(lab.broker.running(), 1);
        assert_eq!(lab.broker.next_deadline(), None);

        assert!(lab.broker.shutdown(Instant::now()).is_empty());
        lab.run_until("the reader to stop", |lab| lab.broker.is_idle());
        assert_eq!(lab.outcome(1), &Outcome::Signaled(Signal::SIGTERM as i32));
        lab.assert_no_children_left();
    }

    #[test]
    fn shutdown_cancels_the_queue_and_kills_what_runs() {
        let mut limits = Limits::new(1);
        limits.kill_grace = Duration::from_millis(300);
        let mut lab = Lab::new("shutdown", limits);
        let ready = lab.path("ready");
        let stubborn = lab.job(
            "vrrp_instance VI_1",
            JobKind::Notify,
            &format!("trap '' TERM; echo $$ > {}; sleep 30", ready.display()),
        );
        lab.submit(stubborn);
        pid_in(&ready); // the trap is set
        let queued = lab.job("vrrp_instance VI_1", JobKind::Notify, "exit 0");
        lab.submit(queued);
        let other = lab.job("vrrp_instance VI_2", JobKind::Notify, "exit 0");
        lab.submit(other);

        let cancelled = lab.broker.shutdown(Instant::now());
        let mut ids: Vec<u64> = cancelled.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [2, 3]);
        assert!(cancelled.iter().all(|f| f.outcome == Outcome::Cancelled));
        assert_eq!(lab.broker.queued(), 0);
        let refused = lab.job("vrrp_instance VI_1", JobKind::Notify, "exit 0");
        assert_eq!(lab.submit(refused), Admission::Refused);

        // SIGTERM is ignored: SIGKILL follows after the grace.
        lab.run_until("the stubborn script to die", |lab| lab.broker.is_idle());
        assert_eq!(lab.outcome(1), &Outcome::Signaled(Signal::SIGKILL as i32));
        lab.assert_no_children_left();
    }

    #[test]
    fn exits_of_other_children_are_not_the_brokers() {
        let mut broker = Broker::new(1);
        let stranger = Pid::from_raw(i32::MAX - 1);
        assert_eq!(
            broker.on_child_exit(Instant::now(), WaitStatus::Exited(stranger, 0)),
            None
        );
        assert_eq!(
            broker.on_child_exit(Instant::now(), WaitStatus::StillAlive),
            None
        );
        assert!(broker.tick(Instant::now()).is_empty());
        assert!(broker.is_idle());
    }
}
