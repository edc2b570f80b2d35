//! The health of every configured real server: when each checker runs, what its outcomes
//! mean (keepalived's retry and alpha semantics), and the transitions to report.
//!
//! Sans-IO: the checker process asks [`Engine::next_due`] when to wake up, takes the checks
//! to start with [`Engine::pop_due`], runs them (the protocol conversations, or the parent
//! for MISC_CHECK) and gives each outcome back with [`Engine::finished`]; FILE_CHECK values
//! come with [`Engine::file_value`]. What the parent must hear leaves through
//! [`Engine::take_transitions`]. Time is passed in.
//!
//! # keepalived's semantics, per checker (`tcp_epilog` in `check_tcp.c`, the same in the
//! # UDP, PING, DNS and MISC checkers)
//!
//! - A success resets the retry counter and brings the checker up (at once: one success is
//!   enough). The next check follows `delay_loop` later.
//! - A failure of a checker that is up and has run consumes one retry: the next check is
//!   `delay_before_retry` later. When no retry is left (`retry` failures already), the
//!   failure brings it down. So an up checker goes down after `retry + 1` failures in a row.
//! - A checker that has never run has no retry left (keepalived starts `retry_it` at
//!   `retry`): its first failure brings it down at once.
//! - A down checker that fails again stays down and is checked every `delay_loop`
//!   (HTTP_GET/SSL_GET: at least `delay_before_retry` after the failure, as keepalived's
//!   `max(delay_before_retry, delay_loop)`).
//! - `alpha`: the checker starts down and comes up with its first success; without alpha
//!   it starts up.
//! - `warmup`: the first check waits a random time in `[0, warmup)`; keepalived's default
//!   `warmup` is the checker's `delay_loop`, so by default first checks are spread over one
//!   `delay_loop`.
//! - A real server is up when every checker is up (one without checkers is always up).
//! - MISC_CHECK with `misc_dynamic`: exit status 2 to 255 is a success that sets the real
//!   server's weight to `status - 2` ([`Outcome::Weight`]); a plain success or a final
//!   failure gives the configured weight back (`cur_weight` in `check_misc.c`). A reload
//!   keeps the weight a kept MISC_CHECK set.
//! - FILE_CHECK (`track_file.c`): the file's number `v` times `weight` (times -1 with
//!   `reverse`), clamped to 32 bits, is added to the configured weight; when it reaches
//!   `i32::MIN` the checker is down. With weight 0, a non-zero number is down (with
//!   `reverse`, zero is down). A missing or unreadable file reads 0. No timer, no retry, no
//!   alpha: it is up until its file says otherwise.
//! - `log_all_failures` (or the global `checker_log_all_failures`): every failed check of an
//!   up checker is logged, not only the one that brings it down.
//!
//! # Differences with keepalived
//!
//! - keepalived schedules a checker's next check `delay_loop` after the previous one
//!   *ended*, so the starts drift with response times. Here every checker keeps its phase:
//!   its checks are due on a grid `anchor + k * delay_loop`, on the first slot at least
//!   `delay_loop` after the previous check was due and not before it ended (a check that
//!   overran `delay_loop` skips the slots it missed; a check started late by the process
//!   does not move the grid). Retries are off the grid (`delay_before_retry` after the
//!   failure), and the checker goes back on it afterwards. So two checks are never due less
//!   than `delay_loop` apart but for retries, and the starts of 10,000 checks stay evenly
//!   spread at every loop.
//! - The first checks are spread with a low-discrepancy sequence (a Weyl sequence seeded
//!   with [`Engine::new`]'s seed) rather than `random()`, so that few checks are spread as
//!   evenly as many. The same fraction `u` places the first check at `u * warmup` and the
//!   grid at `u * delay_loop`: with keepalived's default warmup (`delay_loop`) the first
//!   check is on the grid; with `warmup 0` the first checks all start at once, as
//!   keepalived's, and the following ones are spread (the second check of a checker comes
//!   between one and two `delay_loop` after the first).
//! - HTTP_GET/SSL_GET: one run checks every url (the process fetches them in turn) and its
//!   outcome is the checker's; keepalived fetches one url per timer tick and retries a
//!   failed url. `fast_recovery` is then what always happens.
//! - SMTP_CHECK retries like the others (keepalived's SMTP checker also retries while
//!   down).
//! - `ha_suspend` is not handled here (the checkers always run).
//!
//! # Transitions
//!
//! A transition is reported when a real server's `up` or dynamic weight changes, or when
//! one of its checkers goes up or down (so that the parent's copy of the counters, which
//! [`Engine::resume`] restores after a respawn, is never stale about which checker failed).
//! Sequence numbers count from 1 without gaps. Before the IPVS writer hears of a real
//! server it counts it up (down with the real server's `alpha`,
//! [`RealServerPlan::alpha`]); a new real server whose first state differs is reported.
//! Nothing is reported before checking starts ([`Engine::start`], or the first
//! [`Engine::pop_due`]), so that a respawned checker's [`Engine::resume`] comes first.
//!
//! # Reload
//!
//! [`Engine::configure`] keeps the state, phase and pending or running check of every
//! checker that is unchanged (same real server, same index, equal [`CheckSpec`]); their
//! [`CheckId`]s stay valid. New checkers of a new real server start as at start-up. New
//! checkers of a kept real server follow keepalived's `migrate_checkers`: when the real
//! server has a failed checker (or is down and none has run), an alpha one starts down
//! and fails at its first failure; otherwise it starts up with its retries. Removed
//! checkers vanish and their ids are ignored.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use keepalived_ipc::msg::{Health, RealServerId};

use crate::plan::{NO_PORT, needs_port};
use crate::spec::{CheckSpec, Outcome, Probe, RealServerPlan};

/// The version tag of [`Health::counters`].
const COUNTERS_VERSION: u32 = 1;
/// Words per checker in [`Health::counters`]: position, index, flags, retry counter,
/// current weight.
const COUNTER_WORDS: usize = 5;
/// Flag: the checker is up.
const FLAG_UP: u32 = 1;
/// Flag: the checker has run.
const FLAG_HAS_RUN: u32 = 2;
/// Flag: the weight word is a MISC_CHECK weight, not a FILE_CHECK delta.
const FLAG_WEIGHT: u32 = 4;
/// The reason of a real server whose checkers all pass.
pub const ALL_PASSED: &str = "all checks passed";

/// One checker of the current configuration. Copyable; an id of a checker that a
/// reconfiguration removed or changed is stale and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckId {
    slot: u32,
    generation: u32,
}

/// Where a checker is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sched {
    /// FILE_CHECK: follows its file, never scheduled.
    Idle,
    /// Due at this time (its heap entry carries the token).
    Waiting { at: Instant, token: u64 },
    /// Handed out by `pop_due`, not finished yet.
    Running,
}

/// One checker and its state (keepalived's `checker_t`).
#[derive(Debug)]
struct Check {
    /// Index of its real server in `Engine::servers`.
    server: u32,
    spec: CheckSpec,
    is_up: bool,
    has_run: bool,
    /// keepalived's `retry_it`: failures counted since the last success.
    retry_it: u32,
    /// What it does to the real server's weight (keepalived's `cur_weight`).
    dynamic: Dynamic,
    /// Why it last failed.
    reason: Option<String>,
    /// The start of its phase grid.
    anchor: Instant,
    /// When its running or last check was due.
    last_due: Option<Instant>,
    sched: Sched,
}

/// What a checker does to its real server's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dynamic {
    /// Nothing: the configured weight.
    None,
    /// MISC_CHECK `misc_dynamic`: this weight (keepalived's `cur_weight` is this minus the
    /// configured weight, kept here as the weight so that a reload changing the configured
    /// weight does not shift it).
    Weight(u32),
    /// FILE_CHECK: added to the configured weight.
    Delta(i64),
}

impl Dynamic {
    /// The weight's change from the configured `base`.
    fn delta(self, base: u32) -> i64 {
        match self {
            Dynamic::None => 0,
            Dynamic::Weight(w) => i64::from(w) - i64::from(base),
            Dynamic::Delta(d) => d,
        }
    }

    /// In the counters: the flag and the 32-bit word.
    fn encode(self) -> (u32, u32) {
        match self {
            Dynamic::None => (0, 0),
            Dynamic::Weight(w) => (FLAG_WEIGHT, w),
            Dynamic::Delta(d) => (
                0,
                i32::try_from(d.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
                    as u32,
            ),
        }
    }

    /// From the counters.
    fn decode(flags: u32, word: u32) -> Dynamic {
        if flags & FLAG_WEIGHT != 0 {
            Dynamic::Weight(word)
        } else if word == 0 {
            Dynamic::None
        } else {
            Dynamic::Delta(i64::from(word as i32))
        }
    }
}

/// A slot of the checker table.
#[derive(Debug)]
struct Slot {
    generation: u32,
    check: Option<Check>,
}

/// What the parent knows of a real server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reported {
    up: bool,
    weight: Option<u32>,
    /// The checkers' up states, when known.
    checks_up: Option<Vec<bool>>,
    /// Never reported nor resumed: the IPVS writer's assumption from the real server's
    /// alpha.
    assumed: bool,
}

/// One real server.
#[derive(Debug)]
struct Server {
    id: RealServerId,
    /// The configured weight.
    weight: u32,
    /// The real server's alpha (what the IPVS writer assumes before a report).
    alpha: bool,
    /// Its checkers' slots, in configuration order.
    checks: Vec<u32>,
    reported: Reported,
    /// Changed before checking started; evaluated at the start.
    dirty: bool,
}

/// The health engine: every configured real server, its checkers' timers and states.
#[derive(Debug)]
pub struct Engine {
    /// The Weyl sequence of first-start offsets.
    spread: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    servers: Vec<Server>,
    by_id: HashMap<RealServerId, u32>,
    heap: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    next_token: u64,
    /// Checkers in the `Waiting` state (the heap's live entries).
    waiting: usize,
    seq: u64,
    transitions: Vec<(u64, Health)>,
    started: bool,
    /// The latest time passed in, for the dump.
    last_now: Option<Instant>,
}

/// The golden ratio's fractional part in 64-bit fixed point: consecutive multiples are as
/// evenly spread over [0, 1) as a sequence can be.
const WEYL: u64 = 0x9E37_79B9_7F4A_7C15;

impl Engine {
    /// An engine without configuration; `seed` places the first checks' starts.
    pub fn new(seed: u64) -> Engine {
        Engine {
            spread: seed.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (seed >> 31),
            slots: Vec::new(),
            free: Vec::new(),
            servers: Vec::new(),
            by_id: HashMap::new(),
            heap: BinaryHeap::new(),
            next_token: 0,
            waiting: 0,
            seq: 0,
            transitions: Vec::new(),
            started: false,
            last_now: None,
        }
    }

    /// Applies a configuration (the first one, or a reload): unchanged checkers keep their
    /// state, phase and ids; new ones start after their warmup; removed ones vanish.
    pub fn configure(&mut self, plans: Vec<RealServerPlan>, now: Instant) {
        self.saw(now);
        let mut old_servers: Vec<Option<Server>> = std::mem::take(&mut self.servers)
            .into_iter()
            .map(Some)
            .collect();
        let mut old_by_id = std::mem::take(&mut self.by_id);
        let mut servers: Vec<Server> = Vec::with_capacity(plans.len());
        for plan in plans {
            if self.by_id.contains_key(&plan.id) {
                log::warn!(
                    "real server {} is planned twice: only the first is checked",
                    label(&plan.id)
                );
                continue;
            }
            let si = u32::try_from(servers.len()).unwrap_or(u32::MAX);
            let old = old_by_id
                .remove(&plan.id)
                .and_then(|i| old_servers.get_mut(i as usize).and_then(Option::take));
            let server = match old {
                Some(old) => self.migrate(old, plan, si, now),
                None => self.fresh(plan, si, now),
            };
            self.by_id.insert(server.id.clone(), si);
            servers.push(server);
        }
        for old in old_servers.into_iter().flatten() {
            for slot in old.checks {
                self.release(slot);
            }
        }
        self.servers = servers;
        for si in 0..self.servers.len() {
            self.servers[si].dirty = false;
            self.touch(si);
        }
        self.compact();
        self.clean_top();
    }

    /// Restores the health the parent last knew (after this process was respawned): the
    /// checkers' states and retry counters, so that nothing flaps and alpha is not run
    /// again. Real servers not configured are ignored. Call it after
    /// [`Engine::configure`] and before checking starts.
    pub fn resume(&mut self, health: &[Health]) {
        for h in health {
            let Some(&si) = self.by_id.get(&h.real_server) else {
                continue;
            };
            let si = si as usize;
            let slots = self.servers[si].checks.clone();
            let decoded = decode_counters(&h.counters);
            let mut restored = false;
            if let Some(entries) = &decoded {
                for e in entries {
                    let Some(&slot) = slots.get(e.position) else {
                        continue;
                    };
                    let Some(c) = self.check_mut(slot) else {
                        continue;
                    };
                    if c.spec.index != e.index {
                        continue;
                    }
                    if matches!(c.spec.probe, Probe::File { .. }) && !e.has_run {
                        continue;
                    }
                    c.is_up = e.up;
                    c.has_run = e.has_run;
                    c.retry_it = e.retry_it.min(c.spec.retry);
                    c.dynamic = e.dynamic;
                    c.reason = (!e.up).then(|| "down before the checker restarted".into());
                    restored = true;
                }
            }
            if !restored {
                // No usable counters: every checker takes the real server's state.
                for &slot in &slots {
                    if let Some(c) = self.check_mut(slot) {
                        c.is_up = h.up;
                        c.has_run = true;
                        c.retry_it = 0;
                        c.reason = (!h.up).then(|| "down before the checker restarted".into());
                    }
                }
            }
            let checks_up = restored.then(|| self.checks_up(si));
            self.servers[si].reported = Reported {
                up: h.up,
                weight: h.weight,
                checks_up,
                assumed: false,
            };
            self.touch(si);
        }
    }

    /// When the next check is due (`None`: nothing is scheduled).
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Starts checking (on the parent's `Start`, after [`Engine::resume`]): from now on
    /// transitions are reported, first those of the real servers whose state differs from
    /// what the parent knows. The first [`Engine::pop_due`] calls it; calling it again does
    /// nothing.
    pub fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for si in 0..self.servers.len() {
            if self.servers[si].dirty {
                self.servers[si].dirty = false;
                self.evaluate(si);
            }
        }
    }

    /// A check to start now, if one is due. Call it until it returns `None`. The first call
    /// starts checking ([`Engine::start`]).
    pub fn pop_due(&mut self, now: Instant) -> Option<CheckId> {
        self.saw(now);
        self.start();
        loop {
            self.clean_top();
            let Reverse((at, token, slot)) = *self.heap.peek()?;
            if at > now {
                return None;
            }
            self.heap.pop();
            let generation = self.slots[slot as usize].generation;
            let Some(c) = self.check_mut(slot) else {
                continue;
            };
            if c.sched != (Sched::Waiting { at, token }) {
                continue;
            }
            c.sched = Sched::Running;
            c.last_due = Some(at);
            let portless = needs_port(&c.spec.probe)
                && c.spec
                    .target
                    .as_ref()
                    .is_some_and(|t| t.connect.port() == 0);
            self.waiting = self.waiting.saturating_sub(1);
            let id = CheckId { slot, generation };
            if portless {
                self.finished(id, now, Outcome::Down(NO_PORT.into()));
                continue;
            }
            self.clean_top();
            return Some(id);
        }
    }

    /// The real server and the spec of a check (`None` for a stale id).
    pub fn spec(&self, id: CheckId) -> Option<(&RealServerId, &CheckSpec)> {
        let c = self.check(id)?;
        let s = self.servers.get(c.server as usize)?;
        Some((&s.id, &c.spec))
    }

    /// When a check is next due (`None` while it runs, for a FILE_CHECK, or a stale id).
    pub fn due_at(&self, id: CheckId) -> Option<Instant> {
        match self.check(id)?.sched {
            Sched::Waiting { at, .. } => Some(at),
            Sched::Running | Sched::Idle => None,
        }
    }

    /// The id of checker `index` of a real server (the first check of that index for an
    /// SMTP_CHECK with `host` blocks).
    pub fn check_id(&self, real_server: &RealServerId, index: u16) -> Option<CheckId> {
        let &si = self.by_id.get(real_server)?;
        let s = self.servers.get(si as usize)?;
        s.checks.iter().find_map(|&slot| {
            let sl = self.slots.get(slot as usize)?;
            let c = sl.check.as_ref()?;
            (c.spec.index == index).then_some(CheckId {
                slot,
                generation: sl.generation,
            })
        })
    }

    /// A check handed out by [`Engine::pop_due`] ended. Ignored for a stale id or a check
    /// that is not running.
    pub fn finished(&mut self, id: CheckId, now: Instant, outcome: Outcome) {
        self.saw(now);
        if self.check(id).is_none() {
            return;
        }
        let token = self.next_token;
        let Engine { slots, servers, .. } = self;
        let Some(c) = slots
            .get_mut(id.slot as usize)
            .and_then(|sl| sl.check.as_mut())
        else {
            return;
        };
        let server = c.server as usize;
        let Some(s) = servers.get(server) else {
            return;
        };
        if c.sched != Sched::Running {
            return;
        }
        let next = apply(c, &s.id, now, outcome);
        c.sched = Sched::Waiting { at: next, token };
        self.next_token += 1;
        self.heap.push(Reverse((next, token, id.slot)));
        self.waiting += 1;
        self.touch(server);
    }

    /// The number read from a FILE_CHECK's file (`None`: missing or unreadable, which
    /// keepalived reads as 0). Ignored for anything but a configured FILE_CHECK.
    pub fn file_value(&mut self, real_server: &RealServerId, index: u16, value: Option<i64>) {
        let Some(&si) = self.by_id.get(real_server) else {
            return;
        };
        let si = si as usize;
        let label = label(&self.servers[si].id);
        let slots = self.servers[si].checks.clone();
        for slot in slots {
            let Some(c) = self.check_mut(slot) else {
                continue;
            };
            let Probe::File { weight, reverse } = c.spec.probe else {
                continue;
            };
            if c.spec.index != index {
                continue;
            }
            let v = value.unwrap_or(0);
            let was_up = c.is_up;
            match file_status(weight, reverse, v) {
                Some(delta) => {
                    c.is_up = true;
                    c.dynamic = if delta == 0 {
                        Dynamic::None
                    } else {
                        Dynamic::Delta(delta)
                    };
                    c.reason = None;
                    if !was_up {
                        log::info!("FILE_CHECK of {label}: the file reads {v}, up");
                    }
                }
                None => {
                    c.is_up = false;
                    c.dynamic = Dynamic::None;
                    c.reason = Some(format!("the tracked file reads {v}"));
                    if was_up {
                        log::info!("FILE_CHECK of {label}: the file reads {v}, down");
                    }
                }
            }
            c.has_run = true;
        }
        self.touch(si);
    }

    /// The transitions since the last call, in sequence order.
    pub fn take_transitions(&mut self) -> Vec<(u64, Health)> {
        std::mem::take(&mut self.transitions)
    }

    /// The last sequence number reported and the health of every configured real server.
    pub fn snapshot(&self) -> (u64, Vec<Health>) {
        (
            self.seq,
            (0..self.servers.len()).map(|si| self.health(si)).collect(),
        )
    }

    /// The SIGUSR1 text: every checker with its settings and state, as keepalived's
    /// `dump_checkers`.
    pub fn dump(&self) -> String {
        let mut out = String::from("------< Health checkers >------\n");
        for (si, s) in self.servers.iter().enumerate() {
            let h = self.health(si);
            let _ = writeln!(
                out,
                " Real server {} of VS {}{}: {}{}, {}",
                addr_port(s.id.ip, s.id.port),
                s.id.virtual_server,
                if s.alpha { " (alpha)" } else { "" },
                if h.up { "up" } else { "down" },
                h.weight
                    .map(|w| format!(", weight {w}"))
                    .unwrap_or_default(),
                h.reason
            );
            for &slot in &s.checks {
                let Some(c) = self
                    .slots
                    .get(slot as usize)
                    .and_then(|sl| sl.check.as_ref())
                else {
                    continue;
                };
                dump_check(&mut out, c, self.last_now);
            }
        }
        out
    }

    /// The number of configured real servers.
    pub fn real_servers(&self) -> usize {
        self.servers.len()
    }

    // -----------------------------------------------------------------------------------

    fn saw(&mut self, now: Instant) {
        if self.last_now.is_none_or(|t| now > t) {
            self.last_now = Some(now);
        }
    }

    fn check(&self, id: CheckId) -> Option<&Check> {
        let sl = self.slots.get(id.slot as usize)?;
        if sl.generation != id.generation {
            return None;
        }
        sl.check.as_ref()
    }

    fn check_mut(&mut self, slot: u32) -> Option<&mut Check> {
        self.slots.get_mut(slot as usize)?.check.as_mut()
    }

    /// The next fraction in [0, 1) of the spreading sequence.
    fn spread_fraction(&mut self) -> f64 {
        self.spread = self.spread.wrapping_add(WEYL);
        (self.spread >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Puts a new checker in a free slot and schedules its first check.
    fn insert(&mut self, mut c: Check, now: Instant) -> u32 {
        if matches!(c.spec.probe, Probe::File { .. }) {
            c.sched = Sched::Idle;
        } else {
            // One offset in [0, 1) places the first start within the warmup and the phase
            // within delay_loop (the same instant with keepalived's default warmup, which
            // is delay_loop): even with warmup 0 the later checks are spread.
            let u = self.spread_fraction();
            let at = now.checked_add(c.spec.warmup.mul_f64(u)).unwrap_or(now);
            let token = self.next_token;
            self.next_token += 1;
            c.anchor = now.checked_add(c.spec.delay_loop.mul_f64(u)).unwrap_or(now);
            c.sched = Sched::Waiting { at, token };
            self.waiting += 1;
        }
        let sched = c.sched;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize].check = Some(c);
                slot
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    check: Some(c),
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if let Sched::Waiting { at, token } = sched {
            self.heap.push(Reverse((at, token, slot)));
        }
        slot
    }

    /// Frees a slot: its id and heap entry become stale.
    fn release(&mut self, slot: u32) {
        if let Some(sl) = self.slots.get_mut(slot as usize) {
            if let Some(c) = sl.check.take() {
                if matches!(c.sched, Sched::Waiting { .. }) {
                    self.waiting = self.waiting.saturating_sub(1);
                }
                sl.generation = sl.generation.wrapping_add(1);
                self.free.push(slot);
            }
        }
    }

    /// A real server seen for the first time.
    fn fresh(&mut self, plan: RealServerPlan, si: u32, now: Instant) -> Server {
        let mut checks = Vec::with_capacity(plan.checks.len());
        for spec in plan.checks {
            let file = matches!(spec.probe, Probe::File { .. });
            let c = Check {
                server: si,
                is_up: file || !spec.alpha,
                has_run: file,
                retry_it: spec.retry,
                dynamic: Dynamic::None,
                reason: (!file && spec.alpha).then(|| "not checked yet (alpha)".into()),
                anchor: now,
                last_due: None,
                sched: Sched::Idle,
                spec,
            };
            checks.push(self.insert(c, now));
        }
        Server {
            id: plan.id,
            weight: plan.weight,
            alpha: plan.alpha,
            checks,
            reported: Reported {
                up: !plan.alpha,
                weight: None,
                checks_up: None,
                assumed: true,
            },
            dirty: false,
        }
    }

    /// A real server of the previous configuration: keeps its unchanged checkers.
    fn migrate(&mut self, old: Server, plan: RealServerPlan, si: u32, now: Instant) -> Server {
        let mut old_checks: Vec<Option<u32>> = old.checks.iter().copied().map(Some).collect();
        let mut kept: Vec<Option<u32>> = Vec::with_capacity(plan.checks.len());
        for spec in &plan.checks {
            let found = old_checks.iter_mut().find(|o| {
                o.and_then(|slot| self.slots.get(slot as usize))
                    .and_then(|sl| sl.check.as_ref())
                    .is_some_and(|c| c.spec.index == spec.index && c.spec == *spec)
            });
            kept.push(found.and_then(Option::take));
        }
        for slot in old_checks.into_iter().flatten() {
            self.release(slot);
        }
        // keepalived's migrate_checkers: with a failed checker (or down with none run), new
        // alpha checkers start down and one failure is enough.
        let mut any_failed = false;
        let mut any_run = false;
        for &slot in kept.iter().flatten() {
            if let Some(c) = self.check_mut(slot) {
                c.server = si;
                any_failed |= c.has_run && !c.is_up;
                any_run |= c.has_run;
            }
        }
        let strict = any_failed || (!old.reported.up && !any_run);
        let mut checks = Vec::with_capacity(plan.checks.len());
        for (spec, kept) in plan.checks.into_iter().zip(kept) {
            if let Some(slot) = kept {
                checks.push(slot);
                continue;
            }
            let file = matches!(spec.probe, Probe::File { .. });
            let down = !file && strict && spec.alpha;
            let c = Check {
                server: si,
                is_up: !down,
                has_run: file,
                retry_it: if strict { spec.retry } else { 0 },
                dynamic: Dynamic::None,
                reason: down.then(|| "not checked yet (alpha)".into()),
                anchor: now,
                last_due: None,
                sched: Sched::Idle,
                spec,
            };
            checks.push(self.insert(c, now));
        }
        let mut reported = old.reported;
        if reported.assumed {
            // Never reported: the IPVS writer assumes from the new alpha.
            reported.up = !plan.alpha;
        }
        Server {
            id: plan.id,
            weight: plan.weight,
            alpha: plan.alpha,
            checks,
            reported,
            dirty: false,
        }
    }

    /// A real server's state changed: report it (or remember it before checking starts).
    fn touch(&mut self, si: usize) {
        if self.started {
            self.evaluate(si);
        } else if let Some(s) = self.servers.get_mut(si) {
            s.dirty = true;
        }
    }

    fn checks_up(&self, si: usize) -> Vec<bool> {
        self.servers[si]
            .checks
            .iter()
            .map(|&slot| {
                self.slots
                    .get(slot as usize)
                    .and_then(|sl| sl.check.as_ref())
                    .is_some_and(|c| c.is_up)
            })
            .collect()
    }

    /// Reports real server `si` if what the parent knows differs.
    fn evaluate(&mut self, si: usize) {
        let (up, weight) = self.state(si);
        let s = &self.servers[si];
        let known = &s.reported;
        let same_checks = match &known.checks_up {
            Some(k) if k.len() == s.checks.len() => k.iter().zip(&s.checks).all(|(&was, &slot)| {
                self.slots
                    .get(slot as usize)
                    .and_then(|sl| sl.check.as_ref())
                    .is_some_and(|c| c.is_up)
                    == was
            }),
            _ => true,
        };
        if known.up == up && known.weight == weight && same_checks {
            return;
        }
        let h = self.health(si);
        let checks_up = self.checks_up(si);
        let s = &mut self.servers[si];
        if s.reported.up != up {
            log::info!(
                "real server {} of VS {} is {}: {}",
                addr_port(s.id.ip, s.id.port),
                s.id.virtual_server,
                if up { "up" } else { "down" },
                h.reason
            );
        } else if s.reported.weight != weight {
            log::info!(
                "real server {} of VS {}: weight {}",
                addr_port(s.id.ip, s.id.port),
                s.id.virtual_server,
                weight.unwrap_or(s.weight)
            );
        }
        s.reported = Reported {
            up,
            weight,
            checks_up: Some(checks_up),
            assumed: false,
        };
        self.seq += 1;
        self.transitions.push((self.seq, h));
    }

    /// Whether real server `si` is up, and its dynamic weight.
    fn state(&self, si: usize) -> (bool, Option<u32>) {
        let s = &self.servers[si];
        let mut up = true;
        let mut delta: i64 = 0;
        let mut dynamic = false;
        for &slot in &s.checks {
            let Some(c) = self
                .slots
                .get(slot as usize)
                .and_then(|sl| sl.check.as_ref())
            else {
                continue;
            };
            if !c.is_up {
                up = false;
            } else if c.dynamic != Dynamic::None {
                dynamic = true;
                delta = delta.saturating_add(c.dynamic.delta(s.weight));
            }
        }
        let weight = dynamic.then(|| {
            let w = i64::from(s.weight).saturating_add(delta);
            u32::try_from(w.clamp(0, i64::from(i32::MAX))).unwrap_or(0)
        });
        (up, weight)
    }

    /// The health of real server `si` now.
    fn health(&self, si: usize) -> Health {
        let s = &self.servers[si];
        let (up, weight) = self.state(si);
        let mut reason = None;
        let mut counters = Vec::with_capacity(1 + COUNTER_WORDS * s.checks.len());
        counters.push(COUNTERS_VERSION);
        for (pos, &slot) in s.checks.iter().enumerate() {
            let Some(c) = self
                .slots
                .get(slot as usize)
                .and_then(|sl| sl.check.as_ref())
            else {
                continue;
            };
            if !c.is_up && reason.is_none() {
                reason = Some(format!(
                    "{} #{}{}: {}",
                    c.spec.kind,
                    c.spec.index,
                    c.spec
                        .target
                        .as_ref()
                        .map(|t| format!(" to {}", t.connect))
                        .unwrap_or_default(),
                    c.reason.as_deref().unwrap_or("failed")
                ));
            }
            let (flag, word) = c.dynamic.encode();
            counters.extend([
                u32::try_from(pos).unwrap_or(u32::MAX),
                u32::from(c.spec.index),
                u32::from(c.is_up) * FLAG_UP + u32::from(c.has_run) * FLAG_HAS_RUN + flag,
                c.retry_it,
                word,
            ]);
        }
        Health {
            real_server: s.id.clone(),
            up,
            weight,
            reason: reason.unwrap_or_else(|| {
                if s.checks.is_empty() {
                    "no checker".into()
                } else {
                    ALL_PASSED.into()
                }
            }),
            counters,
        }
    }

    /// Drops stale entries from the top of the heap, so that `next_due` is exact.
    fn clean_top(&mut self) {
        while let Some(&Reverse((at, token, slot))) = self.heap.peek() {
            let live = self
                .slots
                .get(slot as usize)
                .and_then(|sl| sl.check.as_ref())
                .is_some_and(|c| c.sched == Sched::Waiting { at, token });
            if live {
                return;
            }
            self.heap.pop();
        }
    }

    /// Rebuilds the heap when stale entries outnumber the live ones.
    fn compact(&mut self) {
        if self.heap.len() <= 2 * self.waiting + 64 {
            return;
        }
        let live: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, sl)| match sl.check.as_ref()?.sched {
                Sched::Waiting { at, token } => {
                    Some(Reverse((at, token, u32::try_from(i).unwrap_or(u32::MAX))))
                }
                _ => None,
            })
            .collect();
        self.heap = BinaryHeap::from(live);
    }
}

/// Applies one outcome to a checker (keepalived's epilogs); returns when it runs next.
fn apply(c: &mut Check, id: &RealServerId, now: Instant, outcome: Outcome) -> Instant {
    let kind = c.spec.kind;
    let who = || label(id);
    let http = matches!(c.spec.probe, Probe::Http(_));
    let regular = next_slot(c, now);
    match outcome {
        Outcome::Up | Outcome::Weight(_) => {
            c.dynamic = match outcome {
                Outcome::Weight(w) => Dynamic::Weight(w),
                _ => Dynamic::None,
            };
            if !c.is_up || !c.has_run {
                log::info!("{kind} #{} on {} succeeded", c.spec.index, who());
            }
            c.retry_it = 0;
            c.is_up = true;
            c.has_run = true;
            c.reason = None;
            regular
        }
        Outcome::Down(reason) => {
            let logged = c.spec.log_all_failures && c.is_up;
            let next = if (c.is_up || !c.has_run) && c.retry_it >= c.spec.retry {
                // No retry left: down.
                if c.is_up || !c.has_run {
                    if c.has_run && c.spec.retry > 0 {
                        log::info!(
                            "{kind} #{} on {} failed after {} retries: {reason}",
                            c.spec.index,
                            who(),
                            c.spec.retry
                        );
                    } else {
                        log::info!("{kind} #{} on {} failed: {reason}", c.spec.index, who());
                    }
                }
                c.retry_it = 0;
                c.is_up = false;
                c.dynamic = Dynamic::None;
                regular
            } else if c.is_up {
                c.retry_it += 1;
                if logged {
                    log::info!(
                        "{kind} #{} on {} failed, retry {}/{}: {reason}",
                        c.spec.index,
                        who(),
                        c.retry_it,
                        c.spec.retry
                    );
                }
                now.checked_add(c.spec.delay_before_retry).unwrap_or(now)
            } else {
                // Down already: checked again at its next slot.
                if http && c.spec.delay_before_retry > c.spec.delay_loop {
                    let earliest = now.checked_add(c.spec.delay_before_retry).unwrap_or(now);
                    slot_at_or_after(c.anchor, c.spec.delay_loop, earliest).max(regular)
                } else {
                    regular
                }
            };
            c.has_run = true;
            c.reason = Some(reason);
            next
        }
    }
}

/// The next slot of the checker's grid: the first one at least `delay_loop` after the
/// previous check was due, and not before `now` (the previous check's end).
fn next_slot(c: &Check, now: Instant) -> Instant {
    let earliest = c
        .last_due
        .and_then(|d| d.checked_add(c.spec.delay_loop))
        .map_or(now, |d| d.max(now));
    slot_at_or_after(c.anchor, c.spec.delay_loop, earliest)
}

/// The first `anchor + k * period` (k >= 0) at or after `t`.
fn slot_at_or_after(anchor: Instant, period: Duration, t: Instant) -> Instant {
    if t <= anchor {
        return anchor;
    }
    let period_ns = period.as_nanos().max(1);
    let since = (t - anchor).as_nanos();
    let k = since.div_ceil(period_ns);
    let offset = k.saturating_mul(period_ns);
    u64::try_from(offset)
        .ok()
        .and_then(|ns| anchor.checked_add(Duration::from_nanos(ns)))
        .unwrap_or(t)
}

/// keepalived's FILE_CHECK arithmetic (`update_track_file_status`): the weight delta the
/// file's number `value` gives, or `None` when the checker is down.
pub fn file_status(weight: i64, reverse: bool, value: i64) -> Option<i64> {
    if weight == 0 {
        // A non-zero value is a fault (with reverse, zero is).
        return ((value != 0) == reverse).then_some(0);
    }
    let mult = if reverse { -1 } else { 1 };
    let status = i128::from(value) * i128::from(weight) * mult;
    let status = status.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let status = i64::try_from(status).unwrap_or(i64::from(i32::MIN));
    (status > i64::from(i32::MIN)).then_some(status)
}

/// One checker's entry of [`Health::counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CounterEntry {
    position: usize,
    index: u16,
    up: bool,
    has_run: bool,
    retry_it: u32,
    dynamic: Dynamic,
}

/// Reads [`Health::counters`] (`None` when absent or not understood).
fn decode_counters(c: &[u32]) -> Option<Vec<CounterEntry>> {
    let (&version, rest) = c.split_first()?;
    if version != COUNTERS_VERSION || rest.len() % COUNTER_WORDS != 0 {
        return None;
    }
    rest.chunks_exact(COUNTER_WORDS)
        .map(|w| {
            Some(CounterEntry {
                position: usize::try_from(w[0]).ok()?,
                index: u16::try_from(w[1]).ok()?,
                up: w[2] & FLAG_UP != 0,
                has_run: w[2] & FLAG_HAS_RUN != 0,
                retry_it: w[3],
                dynamic: Dynamic::decode(w[2], w[4]),
            })
        })
        .collect()
}

/// `IP:PORT` (`[IP]:PORT` for IPv6).
fn addr_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    }
}

/// A real server in messages.
fn label(id: &RealServerId) -> String {
    format!("{} of VS {}", addr_port(id.ip, id.port), id.virtual_server)
}

/// One checker in the dump, as keepalived's `dump_checker`.
fn dump_check(out: &mut String, c: &Check, now: Option<Instant>) {
    let yn = |b: bool| if b { "yes" } else { "no" };
    let s = &c.spec;
    let _ = writeln!(out, "  {} #{}", s.kind, s.index);
    let _ = writeln!(out, "   Up = {}", yn(c.is_up));
    let _ = writeln!(out, "   Has run = {}", yn(c.has_run));
    let _ = writeln!(
        out,
        "   Current weight = {}",
        match c.dynamic {
            Dynamic::None => "unchanged".to_string(),
            Dynamic::Weight(w) => format!("{w}"),
            Dynamic::Delta(d) => format!("{d:+}"),
        }
    );
    if !matches!(s.probe, Probe::File { .. }) {
        let _ = writeln!(out, "   Alpha = {}", yn(s.alpha));
        let _ = writeln!(out, "   Delay loop = {} us", s.delay_loop.as_micros());
        let _ = writeln!(out, "   Warmup = {} us", s.warmup.as_micros());
        let _ = writeln!(out, "   Retries = {}", s.retry);
        if s.retry > 0 {
            let _ = writeln!(
                out,
                "   Delay before retry = {} us",
                s.delay_before_retry.as_micros()
            );
            let _ = writeln!(out, "   Retries iterations = {}", c.retry_it);
        }
    }
    let _ = writeln!(out, "   Log all failures = {}", yn(s.log_all_failures));
    if let Some(t) = &s.target {
        let _ = writeln!(out, "   Connection");
        let _ = writeln!(out, "     Dest = {}", t.connect);
        if let Some(b) = t.bindto {
            let _ = writeln!(
                out,
                "     Bind to = {}",
                addr_port(b, t.bind_port.unwrap_or(0))
            );
        }
        if let Some(i) = &t.bind_if {
            let _ = writeln!(out, "     Bind i/f = {i}");
        }
        if let Some(m) = t.fwmark {
            let _ = writeln!(out, "     Mark = {m}");
        }
        let _ = writeln!(out, "     Timeout = {:.6}", t.timeout.as_secs_f64());
    }
    match &s.probe {
        Probe::Http(h) => {
            for u in &h.urls {
                let _ = writeln!(out, "   Url {} (Host {})", u.path, u.host);
            }
        }
        Probe::Smtp { helo } => {
            let _ = writeln!(out, "   helo = {helo}");
        }
        Probe::Dns { qtype, name } => {
            let _ = writeln!(out, "   Type = {qtype:?}");
            let _ = writeln!(out, "   Name = {name}");
        }
        Probe::Misc { dynamic } => {
            let _ = writeln!(out, "   Dynamic = {}", yn(*dynamic));
        }
        Probe::File { weight, reverse } => {
            let _ = writeln!(
                out,
                "   Weight = {weight}{}",
                if *reverse { " reverse" } else { "" }
            );
        }
        Probe::Tcp | Probe::Ping | Probe::Udp(_) => {}
    }
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "   Last failure = {r}");
    }
    match (c.sched, now) {
        (Sched::Running, _) => {
            let _ = writeln!(out, "   State = running");
        }
        (Sched::Waiting { at, .. }, Some(now)) => {
            let _ = writeln!(
                out,
                "   Next check in = {:.3} s",
                at.saturating_duration_since(now).as_secs_f64()
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_status_follows_keepalived() {
        // weight 0: non-zero is a fault; reverse: zero is.
        assert_eq!(file_status(0, false, 0), Some(0));
        assert_eq!(file_status(0, false, 3), None);
        assert_eq!(file_status(0, true, 0), None);
        assert_eq!(file_status(0, true, 3), Some(0));
        // weight N: value * N added, reverse negates; at i32::MIN it is a fault.
        assert_eq!(file_status(5, false, 3), Some(15));
        assert_eq!(file_status(5, true, 3), Some(-15));
        assert_eq!(file_status(1, false, i64::from(i32::MIN)), None);
        assert_eq!(file_status(2, false, i64::from(i32::MIN) / 2 - 1), None);
        assert_eq!(
            file_status(2, false, i64::from(i32::MAX)),
            Some(i64::from(i32::MAX))
        );
    }

    #[test]
    fn slots_keep_the_phase() {
        let t0 = Instant::now();
        let p = Duration::from_secs(1);
        assert_eq!(slot_at_or_after(t0, p, t0), t0);
        assert_eq!(
            slot_at_or_after(t0, p, t0 + Duration::from_millis(1)),
            t0 + p
        );
        assert_eq!(slot_at_or_after(t0, p, t0 + p), t0 + p);
        assert_eq!(
            slot_at_or_after(t0, p, t0 + Duration::from_millis(3500)),
            t0 + 4 * p
        );
    }

    #[test]
    fn counters_round_trip() {
        let c = [
            COUNTERS_VERSION,
            0,
            3,
            FLAG_HAS_RUN,
            2,
            (-7i32) as u32,
            1,
            4,
            FLAG_UP | FLAG_WEIGHT,
            0,
            12,
        ];
        assert_eq!(
            decode_counters(&c),
            Some(vec![
                CounterEntry {
                    position: 0,
                    index: 3,
                    up: false,
                    has_run: true,
                    retry_it: 2,
                    dynamic: Dynamic::Delta(-7)
                },
                CounterEntry {
                    position: 1,
                    index: 4,
                    up: true,
                    has_run: false,
                    retry_it: 0,
                    dynamic: Dynamic::Weight(12)
                }
            ])
        );
        assert_eq!(decode_counters(&[]), None);
        assert_eq!(decode_counters(&[9]), None);
        assert_eq!(decode_counters(&[COUNTERS_VERSION, 1, 2]), None);
    }
}
