//! One VRRP instance: its state and the state machine (RFC 9568 6.4, RFC 3768 6.4, as
//! keepalived implements them, KEEPALIVED-REFERENCE 6.4-6.11).
//!
//! ```text
//!            Start (fault)                      Start (owner, state MASTER)
//!   INIT ---------------------> FAULT <-----.  ---------------------------.
//!     |                          |  ^       |                             |
//!     | Start                    |  | fault | fault (priority 0 sent)     v
//!     v          cleared         |  |       |                          MASTER
//!   BACKUP <---------------------'  '-------+---------------------------' ^ |
//!     |  ^                                                                | |
//!     |  '--- higher priority advert (or equal, higher address) ----------' |
//!     '------ Master_Down_Timer expired ------------------------------------'
//!   any --Stop--> STOP (a master sends priority 0 first)
//! ```
//!
//! [`Instance::handle`] takes the time and one [`Event`] and returns [`Action`]s; entry
//! actions of a state live in [`Instance`]'s `become_master`, `leave_master`,
//! `enter_fault` and `enter_backup`.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Fixup, InitialState, InstanceConfig};
use crate::error::{ConfigError, Drop, DropCounters, EncodeError};
use crate::packet::{self, Advert, AdvertInterval, ReceiveRules, Version};
use crate::priority::{self, TrackerStatus};
use crate::time::Time;
use crate::timer::{self, PRIORITY_OWNER, PRIORITY_STOP, TimerKind};

/// The state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Not started yet.
    Init,
    /// Backup: watches the master's adverts, takes over when they stop.
    Backup,
    /// Master: owns the VIPs and advertises.
    Master,
    /// Fault: a tracked interface or script failed; no adverts, no VIPs.
    Fault,
    /// Stopped (shutdown or deleted by a reload).
    Stop,
}

impl State {
    /// The word of notify scripts and FIFO lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

/// Why an instance is in FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FaultReason {
    /// The instance's own interface is down.
    InterfaceDown,
    /// Tracker number N (index in [`InstanceConfig::trackers`]) fails with weight 0, a
    /// file's value is at or below -254, or a weight-0 script has no result yet.
    Tracker(usize),
    /// `unicast_fault_no_peer` with no unicast peer.
    NoUnicastPeer,
    /// Another member of the sync group is in FAULT.
    SyncGroup,
}

/// Why a state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// Start-up: INIT to BACKUP.
    Startup,
    /// The address owner with `state MASTER` takes over at once (6.4).
    Owner,
    /// Master_Down_Timer expired: no advert from a master.
    MasterNoResponse,
    /// Master_Down_Timer expired Skew_Time after a priority-0 advert (6.6).
    PriorityZero,
    /// Master_Down_Timer expired while lower-priority adverts were discarded (preemption).
    Preempted,
    /// A master saw a higher priority, or an equal one from a higher address.
    HigherPriority,
    /// Entered FAULT.
    Fault(FaultReason),
    /// Every fault cleared.
    FaultCleared,
    /// Moved by the sync group.
    Sync,
    /// Stopped.
    Stop,
}

/// A notification for the notify scripts and FIFO (KEEPALIVED-REFERENCE 2.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Notify {
    /// The instance entered `state` (`notify_master`, `notify_backup`, `notify_fault`,
    /// `notify_stop`, `notify`).
    State {
        /// The new state.
        state: State,
        /// The effective priority.
        priority: u8,
    },
    /// A master received a lower-priority advert (`notify_master_rx_lower_pri`).
    MasterRxLowerPriority {
        /// The priority in the advert.
        priority: u8,
    },
    /// The effective priority changed (`notify_priority_changes`: `MASTER_PRIORITY`,
    /// `BACKUP_PRIORITY` FIFO lines).
    Priority {
        /// The current state.
        state: State,
        /// The new effective priority.
        priority: u8,
    },
}

/// A sync group's order to one member (see [`crate::sync::SyncGroup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SyncCommand {
    /// Every member wants MASTER: a backup becomes master now.
    Master,
    /// The group is BACKUP: a master yields (without priority 0), a member held in FAULT
    /// by the group leaves it.
    Backup,
    /// A member is in FAULT: every member goes to FAULT.
    Fault,
}

/// An input to [`Instance::handle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Start the instance (a fresh start: leftover VIPs are removed first).
    Start,
    /// An advert for this VRID, decoded with [`Instance::receive_rules`], or why it was
    /// dropped.
    Received {
        /// The IP source address.
        src: IpAddr,
        /// The decoded advert or the drop reason.
        advert: Result<Advert, Drop>,
    },
    /// A timer armed by [`Action::ArmTimer`] expired.
    TimerExpired(TimerKind),
    /// Tracker N (index in [`InstanceConfig::trackers`]) reports a status.
    TrackerChanged {
        /// The tracker's index.
        tracker: usize,
        /// Its status.
        status: TrackerStatus,
    },
    /// The base priority changed (a reload that changes only `priority`).
    PriorityChanged(u8),
    /// The instance's interface is up.
    InterfaceUp,
    /// The instance's interface is down.
    InterfaceDown,
    /// The instance's primary address (for the equal-priority tie-break) changed.
    PrimaryAddress(Option<IpAddr>),
    /// Stop: a master sends priority 0 and removes its VIPs.
    Stop,
    /// Start from the state a previous VRRP process saved instead of fresh: a MASTER stays
    /// MASTER and advertises at once.
    Resume(Saved),
    /// An order from the instance's sync group.
    Sync(SyncCommand),
}

/// An output of [`Instance::handle`], for the driver to carry out in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send this advert to every destination ([`Instance::destinations`]), encoded with
    /// [`Instance::encode`].
    SendAdvert(Advert),
    /// Arm (or move) a timer; deliver [`Event::TimerExpired`] at or after `at`.
    ArmTimer {
        /// Which timer.
        timer: TimerKind,
        /// When it expires.
        at: Time,
    },
    /// Cancel a timer.
    CancelTimer(TimerKind),
    /// Add the instance's VIPs, eVIPs, virtual routes and rules (idempotent).
    AddVips,
    /// Remove them (idempotent).
    RemoveVips,
    /// Send gratuitous ARPs / unsolicited NAs for every VIP and eVIP, `repeat` rounds.
    SendGarp {
        /// Rounds.
        repeat: u32,
    },
    /// The state changed (report it; the parent saves it for [`Event::Resume`]).
    StateChanged {
        /// The old state.
        from: State,
        /// The new state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Run the notify scripts / write the FIFO.
    Notify(Notify),
    /// For the sync group: the state this member would be in on its own (MASTER: its
    /// Master_Down_Timer expired, or it is master; FAULT: its own fault; BACKUP otherwise).
    SyncWish(State),
}

/// The learned master of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MasterPeer {
    /// Its address.
    pub addr: IpAddr,
    /// Its last priority.
    pub priority: u8,
}

/// What an instance saves so that a new VRRP process can resume it (ARCHITECTURE 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The state.
    pub state: State,
    /// The effective priority (recomputed from `trackers` on resume; kept for reports).
    pub effective_priority: u8,
    /// The learned (v3) Master_Adver_Interval.
    pub master_adver_int: AdvertInterval,
    /// The running preempt_delay deadline.
    pub preempt_deadline: Option<Time>,
    /// The trackers' statuses.
    pub trackers: Vec<TrackerStatus>,
    /// The instance's interface was up.
    pub interface_up: bool,
    /// The sync group held the instance in FAULT.
    pub sync_fault: bool,
    /// The master a backup was following.
    pub master: Option<MasterPeer>,
}

/// Counters of an instance (keepalived's `vrrp_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Adverts that passed every check.
    pub adverts_received: u64,
    /// Adverts sent (priority 0 included).
    pub adverts_sent: u64,
    /// Transitions to MASTER.
    pub became_master: u64,
    /// Transitions out of MASTER.
    pub released_master: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Priority-0 adverts sent.
    pub priority_zero_sent: u64,
    /// Adverts whose address count or list differs from ours (accepted anyway, 6.3).
    pub address_list_errors: u64,
    /// Adverts for another VRID (the driver should not deliver them).
    pub other_vrid: u64,
    /// Dropped packets by reason.
    pub drops: DropCounters,
}

/// How the running Master_Down_Timer was set, so a priority change can recompute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum DownKind {
    /// Master_Down_Interval.
    Full,
    /// Skew_Time, after a priority-0 advert (RFC 9568 6.4.2).
    Skew,
    /// One interval and the smallest skew: a non-owner with `state MASTER` at start.
    FirstCycle,
    /// At once (1 µs): the owner with `state MASTER` held by `vrrp_startup_delay`.
    Immediate,
}

/// One VRRP instance. See the module documentation.
#[derive(Debug, Clone)]
pub struct Instance {
    cfg: InstanceConfig,
    fixups: Vec<Fixup>,
    adver_int: AdvertInterval,
    master_adver_int: AdvertInterval,
    state: State,
    effective_priority: u8,
    trackers: Vec<TrackerStatus>,
    interface_up: bool,
    sync_fault: bool,
    wish: Option<State>,
    timers: [Option<Time>; TimerKind::ALL.len()],
    down_base: Time,
    down_kind: DownKind,
    hold_until: Time,
    preempt_deadline: Option<Time>,
    master: Option<MasterPeer>,
    next_master_reason: Reason,
    stats: Stats,
}

impl Instance {
    /// An instance in INIT. The configuration is normalised first
    /// ([`InstanceConfig::normalise`]); its fix-ups are in [`Instance::fixups`].
    pub fn new(mut cfg: InstanceConfig) -> Result<Instance, ConfigError> {
        let fixups = cfg.normalise()?;
        let adver_int = cfg.advert_interval_wire();
        let trackers = cfg.trackers.iter().map(|t| t.initial).collect();
        let mut inst = Instance {
            fixups,
            adver_int,
            master_adver_int: adver_int,
            state: State::Init,
            effective_priority: cfg.priority,
            trackers,
            interface_up: true,
            sync_fault: false,
            wish: None,
            timers: [None; TimerKind::ALL.len()],
            down_base: Time::ZERO,
            down_kind: DownKind::Full,
            hold_until: Time::ZERO,
            preempt_deadline: None,
            master: None,
            next_master_reason: Reason::MasterNoResponse,
            stats: Stats::default(),
            cfg,
        };
        inst.effective_priority = inst.evaluate().priority;
        Ok(inst)
    }

    /// The (normalised) configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// What [`InstanceConfig::normalise`] changed.
    pub fn fixups(&self) -> &[Fixup] {
        &self.fixups
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority.
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The configured advert interval.
    pub fn adver_int(&self) -> AdvertInterval {
        self.adver_int
    }

    /// Master_Adver_Interval: ours, or the master's (VRRPv3 backup).
    pub fn master_adver_int(&self) -> AdvertInterval {
        self.master_adver_int
    }

    /// The master a backup follows.
    pub fn master(&self) -> Option<MasterPeer> {
        self.master
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// When `timer` expires, if it is armed.
    pub fn deadline(&self, timer: TimerKind) -> Option<Time> {
        self.timers[timer.index()]
    }

    /// The earliest armed timer.
    pub fn next_deadline(&self) -> Option<(TimerKind, Time)> {
        TimerKind::ALL
            .iter()
            .filter_map(|k| self.deadline(*k).map(|t| (*k, t)))
            .min_by_key(|(_, t)| *t)
    }

    /// Where adverts go: each unicast peer, or the multicast group.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.cfg.is_unicast() {
            self.cfg.unicast_peers.iter().map(|p| p.addr).collect()
        } else {
            vec![
                self.cfg
                    .multicast_group
                    .unwrap_or(self.cfg.family.multicast_group()),
            ]
        }
    }

    /// The rules [`packet::decode`] checks received packets with, for the current state.
    pub fn receive_rules(&self) -> ReceiveRules {
        ReceiveRules {
            family: self.cfg.family,
            version: self.cfg.version,
            auth: self.cfg.auth,
            interval: self.adver_int,
            checksum: self.cfg.checksum,
            unicast: self.cfg.is_unicast() || self.cfg.unicast_fault_no_peer,
            check_unicast_source: self.cfg.check_unicast_src,
            peers: self.cfg.unicast_peers.clone(),
            owner_ignore_adverts: self.cfg.owner_ignore_adverts
                && self.effective_priority == PRIORITY_OWNER,
        }
    }

    /// Our advert with `priority`.
    pub fn advert(&self, priority: u8) -> Advert {
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            auth: self.cfg.auth,
            interval: self.adver_int,
            addrs: self.cfg.vips.clone(),
        }
    }

    /// Encodes an advert from `src` to one destination with the instance's checksum mode.
    pub fn encode(
        &self,
        advert: &Advert,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<Vec<u8>, EncodeError> {
        packet::encode(advert, src, dst, self.cfg.checksum)
    }

    /// What a new process needs to resume this instance.
    pub fn saved(&self) -> Saved {
        Saved {
            state: self.state,
            effective_priority: self.effective_priority,
            master_adver_int: self.master_adver_int,
            preempt_deadline: self.preempt_deadline,
            trackers: self.trackers.clone(),
            interface_up: self.interface_up,
            sync_fault: self.sync_fault,
            master: self.master,
        }
    }

    /// Handles one event at `now` and returns what to do, in order.
    pub fn handle(&mut self, now: Time, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => {
                if matches!(self.state, State::Init | State::Stop) {
                    self.start(now, &mut out);
                }
            }
            Event::Received { src, advert } => self.received(now, src, advert, &mut out),
            Event::TimerExpired(kind) => self.timer_expired(now, kind, &mut out),
            Event::TrackerChanged { tracker, status } => {
                if let Some(slot) = self.trackers.get_mut(tracker) {
                    *slot = status;
                    self.reevaluate(now, &mut out);
                }
            }
            Event::PriorityChanged(p) => {
                if p != 0 {
                    self.cfg.priority = p;
                    self.reevaluate(now, &mut out);
                }
            }
            Event::InterfaceUp => {
                self.interface_up = true;
                self.reevaluate(now, &mut out);
            }
            Event::InterfaceDown => {
                self.interface_up = false;
                self.reevaluate(now, &mut out);
            }
            Event::PrimaryAddress(addr) => self.cfg.primary_address = addr,
            Event::Stop => self.stop(now, &mut out),
            Event::Resume(saved) => {
                if self.state == State::Init {
                    self.resume(now, saved, &mut out);
                }
            }
            Event::Sync(cmd) => self.sync(now, cmd, &mut out),
        }
        out
    }

    // ----- helpers -------------------------------------------------------------------

    fn owner(&self) -> bool {
        self.cfg.priority == PRIORITY_OWNER
    }

    fn wants_master(&self) -> bool {
        self.cfg.initial_state == InitialState::Master
    }

    fn evaluate(&self) -> priority::Evaluation {
        priority::evaluate(self.cfg.priority, &self.cfg.trackers, &self.trackers)
    }

    /// The instance's own fault, if any (not the sync group's).
    fn own_fault(&self) -> Option<FaultReason> {
        if self.cfg.unicast_fault_no_peer && !self.cfg.is_unicast() {
            return Some(FaultReason::NoUnicastPeer);
        }
        if self.cfg.track_primary_interface && !self.interface_up {
            return Some(FaultReason::InterfaceDown);
        }
        self.evaluate().fault.map(FaultReason::Tracker)
    }

    fn fault(&self) -> Option<FaultReason> {
        self.own_fault()
            .or(self.sync_fault.then_some(FaultReason::SyncGroup))
    }

    /// The priority Skew_Time uses: 255 for an owner, else the effective priority (6.4).
    fn skew_priority(&self) -> u8 {
        if self.owner() {
            PRIORITY_OWNER
        } else {
            self.effective_priority
        }
    }

    fn down_duration(&self, kind: DownKind) -> Duration {
        let v = self.cfg.version;
        let p = self.skew_priority();
        let mai = self.master_adver_int;
        match kind {
            DownKind::Full => timer::master_down_interval(v, p, mai, self.cfg.down_timer_adverts),
            DownKind::Skew => timer::skew_time(v, p, mai),
            DownKind::FirstCycle => mai.as_duration() + timer::skew_min(v, mai),
            DownKind::Immediate => Duration::from_micros(1),
        }
    }

    fn set_timer(&mut self, kind: TimerKind, at: Time, out: &mut Vec<Action>) {
        self.timers[kind.index()] = Some(at);
        out.push(Action::ArmTimer { timer: kind, at });
    }

    fn cancel_timer(&mut self, kind: TimerKind, out: &mut Vec<Action>) {
        if self.timers[kind.index()].take().is_some() {
            out.push(Action::CancelTimer(kind));
        }
    }

    /// (Re)starts Master_Down_Timer; a `vrrp_startup_delay` hold moves its start.
    fn arm_down(&mut self, now: Time, kind: DownKind, out: &mut Vec<Action>) {
        self.down_kind = kind;
        self.down_base = now.max(self.hold_until);
        let at = self.down_base + self.down_duration(kind);
        self.set_timer(TimerKind::MasterDown, at, out);
    }

    fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        out.push(Action::StateChanged { from, to, reason });
    }

    fn notify_state(&self, out: &mut Vec<Action>) {
        out.push(Action::Notify(Notify::State {
            state: self.state,
            priority: self.effective_priority,
        }));
    }

    fn set_wish(&mut self, wish: State, out: &mut Vec<Action>) {
        if self.cfg.sync_group && self.wish != Some(wish) {
            self.wish = Some(wish);
            out.push(Action::SyncWish(wish));
        }
    }

    /// Sends an advert with the effective priority and restarts Adver_Timer.
    fn send_advert(&mut self, now: Time, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert(self.advert(self.effective_priority)));
        self.stats.adverts_sent += 1;
        let at = now.max(self.hold_until) + self.adver_int.as_duration();
        self.set_timer(TimerKind::Advert, at, out);
    }

    fn send_priority_zero(&mut self, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert(self.advert(PRIORITY_STOP)));
        self.stats.adverts_sent += 1;
        self.stats.priority_zero_sent += 1;
    }

    fn cancel_master_timers(&mut self, out: &mut Vec<Action>) {
        for k in [
            TimerKind::Advert,
            TimerKind::GarpDelay,
            TimerKind::GarpRefresh,
            TimerKind::GarpLowerPriority,
        ] {
            self.cancel_timer(k, out);
        }
    }

    // ----- state entry ---------------------------------------------------------------

    /// Enters MASTER (RFC 9568 6.4.1/6.4.2 "transition to the Master state"): the first
    /// advert goes out before the GARPs (KEEPALIVED-REFERENCE 6.1, 6.7).
    fn become_master(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        self.cancel_timer(TimerKind::MasterDown, out);
        self.master_adver_int = self.adver_int;
        self.master = None;
        self.preempt_deadline = None;
        self.transition(State::Master, reason, out);
        self.send_advert(now, out);
        out.push(Action::AddVips);
        let garp = self.cfg.garp;
        if garp.master_repeat > 0 {
            out.push(Action::SendGarp {
                repeat: garp.master_repeat,
            });
        }
        if !garp.master_delay.is_zero() {
            self.set_timer(TimerKind::GarpDelay, now + garp.master_delay, out);
        }
        if !garp.master_refresh.is_zero() {
            let at = now + garp.master_delay + garp.master_refresh;
            self.set_timer(TimerKind::GarpRefresh, at, out);
        }
        self.stats.became_master += 1;
        self.notify_state(out);
        self.set_wish(State::Master, out);
    }

    /// The Master_Down_Timer expired (or the owner starts): become master, unless the sync
    /// group holds the instance (it then wishes MASTER and waits another interval).
    fn goto_master(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        if self.cfg.sync_group {
            self.next_master_reason = reason;
            self.set_wish(State::Master, out);
            self.arm_down(now, DownKind::Full, out);
            return;
        }
        self.become_master(now, reason, out);
    }

    /// Leaves MASTER for BACKUP, FAULT or STOP. FAULT and STOP send priority 0 first
    /// (KEEPALIVED-REFERENCE 6.6: "An instance leaving MASTER for FAULT also sends
    /// priority 0").
    fn leave_master(&mut self, now: Time, to: State, reason: Reason, out: &mut Vec<Action>) {
        self.transition(to, reason, out);
        if to != State::Backup {
            self.send_priority_zero(out);
        }
        self.cancel_master_timers(out);
        out.push(Action::RemoveVips);
        self.stats.released_master += 1;
        self.master_adver_int = self.adver_int;
        if to == State::Backup {
            self.preempt_deadline = None;
            self.arm_down(now, DownKind::Full, out);
        }
        self.notify_state(out);
    }

    fn enter_backup(&mut self, now: Time, reason: Reason, kind: DownKind, out: &mut Vec<Action>) {
        self.transition(State::Backup, reason, out);
        self.master_adver_int = self.adver_int;
        self.preempt_deadline = None;
        self.arm_down(now, kind, out);
        self.notify_state(out);
    }

    fn enter_fault(&mut self, now: Time, why: FaultReason, out: &mut Vec<Action>) {
        match self.state {
            State::Master => self.leave_master(now, State::Fault, Reason::Fault(why), out),
            State::Backup | State::Init => {
                self.cancel_timer(TimerKind::MasterDown, out);
                self.transition(State::Fault, Reason::Fault(why), out);
                self.notify_state(out);
            }
            State::Fault | State::Stop => return,
        }
        self.master = None;
        if why != FaultReason::SyncGroup {
            self.set_wish(State::Fault, out);
        }
    }

    /// Every fault cleared: an owner with `state MASTER` becomes master at once, anyone
    /// else becomes backup and waits Master_Down_Interval (keepalived
    /// `try_up_instance`/`vrrp_state_leave_fault`).
    fn leave_fault(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        self.master_adver_int = self.adver_int;
        if self.owner() && self.wants_master() {
            if self.cfg.sync_group {
                self.enter_backup(now, reason, DownKind::Full, out);
            }
            self.goto_master(now, Reason::Owner, out);
        } else {
            self.enter_backup(now, reason, DownKind::Full, out);
            self.set_wish(State::Backup, out);
        }
    }

    // ----- event handlers ------------------------------------------------------------

    /// Start (RFC 9568 6.4.1 Initialize; KEEPALIVED-REFERENCE 6.4 and 6.13).
    fn start(&mut self, now: Time, out: &mut Vec<Action>) {
        self.state = State::Init;
        self.hold_until = now + self.cfg.startup_delay;
        self.master_adver_int = self.adver_int;
        self.effective_priority = self.evaluate().priority;
        // A fresh start removes VIPs left over from an earlier run (6.13).
        out.push(Action::RemoveVips);
        if let Some(why) = self.fault() {
            self.enter_fault(now, why, out);
            return;
        }
        if self.owner() && self.wants_master() {
            if self.hold_until > now || self.cfg.sync_group {
                // Held by vrrp_startup_delay (or waiting for the group): the owner takes
                // over as soon as the hold ends.
                self.next_master_reason = Reason::Owner;
                self.enter_backup(now, Reason::Startup, DownKind::Immediate, out);
                if self.cfg.sync_group {
                    self.set_wish(State::Master, out);
                }
            } else {
                // RFC 9568 6.4.1: "If the Priority = 255 ... transition to the Master state".
                self.become_master(now, Reason::Owner, out);
            }
            return;
        }
        self.next_master_reason = Reason::MasterNoResponse;
        let kind = if self.wants_master() {
            // keepalived: a non-owner that wants MASTER waits one interval and the smallest
            // skew for another master's advert.
            DownKind::FirstCycle
        } else {
            DownKind::Full
        };
        self.enter_backup(now, Reason::Startup, kind, out);
        self.set_wish(State::Backup, out);
    }

    fn resume(&mut self, now: Time, saved: Saved, out: &mut Vec<Action>) {
        if saved.trackers.len() == self.trackers.len() {
            self.trackers = saved.trackers;
        }
        self.interface_up = saved.interface_up;
        self.sync_fault = saved.sync_fault && self.cfg.sync_group;
        self.hold_until = now;
        self.effective_priority = self.evaluate().priority;
        let learned = saved.master_adver_int.version() == self.cfg.version;
        match saved.state {
            State::Master => {
                self.state = State::Master;
                if let Some(why) = self.fault() {
                    self.enter_fault(now, why, out);
                    return;
                }
                // Stay MASTER, no transition: advertise at once, make sure the VIPs are
                // there (ARCHITECTURE 4: "the new one resumes MASTER ... and sends an
                // advert at once").
                self.send_advert(now, out);
                out.push(Action::AddVips);
                let garp = self.cfg.garp;
                if !garp.master_refresh.is_zero() {
                    self.set_timer(TimerKind::GarpRefresh, now + garp.master_refresh, out);
                }
                self.wish = None;
                self.set_wish(State::Master, out);
            }
            State::Backup => {
                self.state = State::Backup;
                out.push(Action::RemoveVips);
                if let Some(why) = self.fault() {
                    self.enter_fault(now, why, out);
                    return;
                }
                if learned {
                    self.master_adver_int = saved.master_adver_int;
                }
                self.master = saved.master;
                self.preempt_deadline = saved.preempt_deadline;
                self.arm_down(now, DownKind::Full, out);
                self.wish = None;
                self.set_wish(State::Backup, out);
            }
            State::Fault => {
                self.state = State::Fault;
                out.push(Action::RemoveVips);
                match self.fault() {
                    None => self.leave_fault(now, Reason::FaultCleared, out),
                    Some(why) => {
                        if why != FaultReason::SyncGroup {
                            self.wish = None;
                            self.set_wish(State::Fault, out);
                        }
                    }
                }
            }
            State::Init | State::Stop => self.start(now, out),
        }
    }

    fn received(
        &mut self,
        now: Time,
        src: IpAddr,
        advert: Result<Advert, Drop>,
        out: &mut Vec<Action>,
    ) {
        let advert = match advert {
            Ok(a) => a,
            Err(drop) => {
                self.stats.drops.record(&drop);
                return;
            }
        };
        if advert.vrid != self.cfg.vrid {
            self.stats.other_vrid += 1;
            return;
        }
        self.stats.adverts_received += 1;
        if advert.priority == PRIORITY_STOP {
            self.stats.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_received(now, src, &advert, out),
            State::Master => self.master_received(now, src, &advert, out),
            State::Init | State::Fault | State::Stop => {}
        }
    }

    /// Counts an advert whose address list differs from ours (KEEPALIVED-REFERENCE 6.3:
    /// counted and logged only, never a reason to drop).
    fn check_address_list(&mut self, advert: &Advert, check_list: bool) {
        let vips = &self.cfg.vips;
        if advert.addrs.len() != vips.len()
            || (check_list && vips.iter().any(|v| !advert.addrs.contains(v)))
        {
            self.stats.address_list_errors += 1;
        }
    }

    /// A v3 backup adopts the master's interval (RFC 9568 6.4.2 "Set Master_Adver_Interval
    /// to Adver Interval contained in the ADVERTISEMENT"); 0 is taken as 1 cs.
    fn adopt_interval(&mut self, advert: &Advert) {
        if self.cfg.version == Version::V3 {
            if let AdvertInterval::Centis(cs) = advert.interval {
                self.master_adver_int = AdvertInterval::Centis(cs.max(1));
            }
        }
    }

    /// RFC 9568 6.4.2 / RFC 3768 6.4.2 "If an ADVERTISEMENT is received" in BACKUP, with
    /// keepalived's preempt_delay (KEEPALIVED-REFERENCE 6.5).
    fn backup_received(&mut self, now: Time, src: IpAddr, advert: &Advert, out: &mut Vec<Action>) {
        let master_change = self.master.map(|m| m.addr) != Some(src);
        self.check_address_list(advert, master_change || !self.cfg.skip_check_adv_addr);
        let prio = advert.priority;
        let eff = self.effective_priority;
        let preempt_delay = self.cfg.preempt_delay;
        let in_preempt_delay =
            !preempt_delay.is_zero() && self.preempt_deadline.is_none_or(|deadline| deadline > now);
        if prio == PRIORITY_STOP {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time".
            self.next_master_reason = Reason::PriorityZero;
            self.arm_down(now, DownKind::Skew, out);
        } else if self.cfg.nopreempt || prio >= eff || in_preempt_delay {
            // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
            // than or equal to the local Priority": adopt the interval, reset the timer.
            self.adopt_interval(advert);
            self.master = Some(MasterPeer {
                addr: src,
                priority: prio,
            });
            self.next_master_reason = Reason::MasterNoResponse;
            self.arm_down(now, DownKind::Full, out);
            if !preempt_delay.is_zero() {
                if prio >= eff {
                    self.preempt_deadline = None;
                } else if self.preempt_deadline.is_none() {
                    self.preempt_deadline = Some(now + preempt_delay);
                }
            }
            self.set_wish(State::Backup, out);
        } else {
            // "Otherwise: Discard the ADVERTISEMENT"; the Master_Down_Timer keeps counting,
            // so a higher-priority backup preempts when it expires (6.5).
            self.next_master_reason = Reason::Preempted;
            self.master = Some(MasterPeer {
                addr: src,
                priority: prio,
            });
        }
    }

    /// RFC 9568 6.4.3 "If an ADVERTISEMENT is received" in MASTER, with keepalived's
    /// extras (KEEPALIVED-REFERENCE 6.5).
    fn master_received(&mut self, now: Time, src: IpAddr, advert: &Advert, out: &mut Vec<Action>) {
        self.check_address_list(advert, true);
        let prio = advert.priority;
        let eff = self.effective_priority;
        // The tie-break compares the sender's address with our primary address; an
        // unknown primary address compares equal (keepalived `vrrp_saddr_cmp`).
        let cmp = self
            .cfg
            .primary_address
            .filter(|ours| packet::Family::of(ours) == packet::Family::of(&src))
            .map_or(Ordering::Equal, |ours| src.cmp(&ours));
        let higher = prio > eff || (prio == eff && cmp == Ordering::Greater);
        if prio == PRIORITY_STOP || (self.cfg.higher_prio_send_advert && higher) {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT,
            // Reset the Adver_Timer to Advertisement_Interval".
            self.send_advert(now, out);
            if prio == PRIORITY_STOP {
                return;
            }
        }
        if prio < eff || (prio == eff && cmp == Ordering::Less) {
            // A lower-priority master: answer at once so it yields (unless
            // lower_prio_no_advert), refresh ARP caches, notify.
            if !self.cfg.lower_prio_no_advert {
                self.send_advert(now, out);
            }
            let garp = self.cfg.garp;
            if garp.lower_prio_repeat > 0 {
                out.push(Action::SendGarp {
                    repeat: garp.lower_prio_repeat,
                });
                if !garp.lower_prio_delay.is_zero() {
                    self.set_timer(
                        TimerKind::GarpLowerPriority,
                        now + garp.lower_prio_delay,
                        out,
                    );
                }
            }
            out.push(Action::Notify(Notify::MasterRxLowerPriority {
                priority: prio,
            }));
            return;
        }
        if higher {
            // "If the Priority in the ADVERTISEMENT is greater than the local Priority or
            // the Priority ... is equal to the local Priority and the primary IPvX Address
            // of the sender is greater than the local primary IPvX Address": Backup.
            self.adopt_interval(advert);
            let mai = self.master_adver_int;
            self.master = Some(MasterPeer {
                addr: src,
                priority: prio,
            });
            self.next_master_reason = Reason::MasterNoResponse;
            self.transition(State::Backup, Reason::HigherPriority, out);
            self.cancel_master_timers(out);
            out.push(Action::RemoveVips);
            self.stats.released_master += 1;
            self.preempt_deadline = None;
            self.master_adver_int = mai;
            self.arm_down(now, DownKind::Full, out);
            self.notify_state(out);
            self.set_wish(State::Backup, out);
        }
        // Equal priority from our own address: ignored.
    }

    fn timer_expired(&mut self, now: Time, kind: TimerKind, out: &mut Vec<Action>) {
        match self.timers[kind.index()] {
            Some(at) if at <= now => self.timers[kind.index()] = None,
            // Not armed, or not due: a stale or early expiry.
            _ => return,
        }
        let garp = self.cfg.garp;
        match (kind, self.state) {
            // RFC 9568 6.4.3 "If the Adver_Timer fires": send an advert, reset the timer.
            (TimerKind::Advert, State::Master) => self.send_advert(now, out),
            // RFC 9568 6.4.2 "If the Master_Down_Timer fires": transition to Master.
            (TimerKind::MasterDown, State::Backup) => {
                self.goto_master(now, self.next_master_reason, out)
            }
            (TimerKind::GarpDelay, State::Master) if garp.master_repeat > 0 => {
                out.push(Action::SendGarp {
                    repeat: garp.master_repeat,
                });
            }
            (TimerKind::GarpRefresh, State::Master) => {
                out.push(Action::SendGarp {
                    repeat: garp.master_refresh_repeat,
                });
                if !garp.master_refresh.is_zero() {
                    self.set_timer(TimerKind::GarpRefresh, now + garp.master_refresh, out);
                }
            }
            (TimerKind::GarpLowerPriority, State::Master) => out.push(Action::SendGarp {
                repeat: garp.lower_prio_repeat,
            }),
            _ => {}
        }
    }

    /// A tracker, the interface, the base priority or the sync group changed: recompute
    /// the effective priority and the fault state.
    fn reevaluate(&mut self, now: Time, out: &mut Vec<Action>) {
        let eval = self.evaluate();
        if eval.priority != self.effective_priority {
            self.effective_priority = eval.priority;
            if matches!(self.state, State::Backup | State::Master) {
                if self.cfg.notify_priority_changes {
                    out.push(Action::Notify(Notify::Priority {
                        state: self.state,
                        priority: eval.priority,
                    }));
                }
                // keepalived vrrp_set_effective_priority: a backup's running down timer
                // moves by the change of Master_Down_Interval.
                // A deadline that moves into the past expires now.
                if self.state == State::Backup && self.deadline(TimerKind::MasterDown).is_some() {
                    let at = (self.down_base + self.down_duration(self.down_kind)).max(now);
                    self.set_timer(TimerKind::MasterDown, at, out);
                }
            }
        }
        match (self.state, self.fault()) {
            (State::Backup | State::Master, Some(why)) => self.enter_fault(now, why, out),
            (State::Fault, None) => self.leave_fault(now, Reason::FaultCleared, out),
            // Held in FAULT: wish FAULT while faulty on our own, BACKUP once only the sync
            // group holds us.
            (State::Fault, Some(_)) => {
                let wish = if self.own_fault().is_some() {
                    State::Fault
                } else {
                    State::Backup
                };
                self.set_wish(wish, out)
            }
            _ => {}
        }
    }

    /// Stop (KEEPALIVED-REFERENCE 6.6): a master sends priority 0, then removes its VIPs.
    fn stop(&mut self, now: Time, out: &mut Vec<Action>) {
        match self.state {
            State::Stop => {}
            State::Master => self.leave_master(now, State::Stop, Reason::Stop, out),
            State::Init | State::Backup | State::Fault => {
                for k in TimerKind::ALL {
                    self.cancel_timer(k, out);
                }
                self.transition(State::Stop, Reason::Stop, out);
                self.notify_state(out);
            }
        }
        self.wish = None;
    }

    fn sync(&mut self, now: Time, cmd: SyncCommand, out: &mut Vec<Action>) {
        if !self.cfg.sync_group {
            return;
        }
        match cmd {
            SyncCommand::Master => {
                if self.state == State::Backup && self.fault().is_none() {
                    let reason = if self.wish == Some(State::Master) {
                        self.next_master_reason
                    } else {
                        Reason::Sync
                    };
                    self.become_master(now, reason, out);
                }
            }
            SyncCommand::Backup => {
                self.sync_fault = false;
                match self.state {
                    State::Master => {
                        // keepalived vrrp_sync_backup: leave master without priority 0.
                        self.leave_master(now, State::Backup, Reason::Sync, out);
                        self.set_wish(State::Backup, out);
                    }
                    State::Fault if self.own_fault().is_none() => {
                        self.leave_fault(now, Reason::Sync, out)
                    }
                    _ => {}
                }
            }
            SyncCommand::Fault => {
                self.sync_fault = true;
                if matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault(now, FaultReason::SyncGroup, out);
                }
            }
        }
    }
}
