//! The VRRP process. It is started by `keepalived-rs` with its IPC socket on fd 3, drops to
//! its own user with CAP_NET_ADMIN and CAP_NET_RAW, and receives its projection of the
//! configuration.
//!
//! One mio loop: the IPC socket, one raw VRRP socket per interface and family, the
//! rtnetlink monitor, and the timers of keepalived-vrrp's instances. Track scripts run in
//! the parent (which runs them as `script_user`); their results come back here, counted
//! with rise/fall, and move the instances' priorities.

mod engine;
mod procwatch;
mod track;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use keepalived_config::Config;
use keepalived_config::project::{ObjectKey, VrrpObject};
use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use keepalived_netlink::{Event as LinkEvent, Monitor, MonitorError};
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

use engine::{Engine, Output};
use track::ScriptTracker;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);
const MONITOR: Token = Token(2);
const PROCS: Token = Token(3);
/// VRRP sockets use tokens from here, one per (interface, family).
const FIRST_SOCKET: usize = 16;

fn main() -> ExitCode {
    let started = match keepalived_ipc::child::startup("keepalived-rs-vrrp") {
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

/// One vrrp_script's schedule and state.
#[derive(Debug)]
struct ScriptRun {
    tracker: ScriptTracker,
    interval: Duration,
    next: Instant,
    in_flight: Option<u64>,
    /// A result exists (a run finished, or the parent handed back a resumed state); until
    /// then the instances see the script as unknown.
    known: bool,
}

/// The channel to the parent and the report sequence, shared with the engine's intent hook
/// so that an intent leaves before the engine acts on it.
#[derive(Debug)]
struct Outbox {
    chan: Channel<ParentToVrrp, VrrpToParent>,
    seq: u64,
}

impl Outbox {
    /// Queues a sequenced report.
    fn report(&mut self, event: VrrpEvent) -> Result<(), keepalived_ipc::ChannelError> {
        self.seq += 1;
        let seq = self.seq;
        self.chan.send(&VrrpToParent::Report { seq, event })
    }
}

#[derive(Debug)]
struct Vrrp {
    outbox: Rc<RefCell<Outbox>>,
    /// The configuration objects received, except the instances.
    objects: BTreeMap<ObjectKey, VrrpObject>,
    /// Instances received (new or changed) or removed since the last ConfigDone; the
    /// others live only in the engine's slots.
    instances_in: BTreeMap<String, Option<keepalived_config::vrrp::VrrpInstance>>,
    scripts: BTreeMap<String, ScriptRun>,
    engine: Option<Engine>,
    /// Saved states handed back by the parent after a respawn.
    resume: BTreeMap<String, keepalived_vrrp::Saved>,
    /// Tracker counters handed back by the parent.
    started: bool,
    next_request: u64,
    exit: bool,
    /// Socket tokens: token -> (ifindex, IPv6).
    tokens: BTreeMap<usize, (u32, bool)>,
    /// The sockets need (re-)registering with the poll.
    sockets_dirty: bool,
    /// Link and address changes.
    monitor: Monitor,
    /// The static addresses, routes and rules installed (removed on a releasing stop).
    statics: Option<Config>,
    /// `vrrp_track_process` trackers.
    procs: procwatch::ProcWatch,
}

fn run(socket: std::os::unix::net::UnixStream, parent: u32) -> Result<(), String> {
    let chan = Channel::new(socket).map_err(|e| e.to_string())?;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    // Not SIGPIPE: it stays ignored, so a write to a closed pipe is an error, never a loop
    // of SIGPIPEs raised from signal-hook's own handler.
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]).map_err(|e| e.to_string())?;
    let monitor = Monitor::open(1 << 20).map_err(|e| format!("rtnetlink monitor: {e}"))?;
    poll.registry()
        .register(&mut SourceFd(&chan.as_raw_fd()), IPC, Interest::READABLE)
        .and_then(|_| {
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)
        })
        .and_then(|_| {
            poll.registry().register(
                &mut SourceFd(&monitor.as_raw_fd()),
                MONITOR,
                Interest::READABLE,
            )
        })
        .map_err(|e| e.to_string())?;
    let mut v = Vrrp {
        outbox: Rc::new(RefCell::new(Outbox { chan, seq: 0 })),
        objects: BTreeMap::new(),
        instances_in: BTreeMap::new(),
        scripts: BTreeMap::new(),
        engine: None,
        resume: BTreeMap::new(),
        started: false,
        next_request: 1,
        exit: false,
        tokens: BTreeMap::new(),
        sockets_dirty: false,
        monitor,
        statics: None,
        procs: procwatch::ProcWatch::default(),
    };
    v.outbox
        .borrow_mut()
        .chan
        .send(&VrrpToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(64);
    while !v.exit {
        v.run_due_scripts(Instant::now());
        if v.started
            && let Some(fd) = v.procs.open()
        {
            poll.registry()
                .register(&mut SourceFd(&fd), PROCS, Interest::READABLE)
                .map_err(|e| format!("process events: {e}"))?;
        }
        let changes = v.procs.tick(engine::now());
        v.on_process_changes(changes);
        let mut out = Vec::new();
        if let Some(e) = v.engine.as_mut() {
            e.on_timers(&mut out);
        }
        v.report(out);
        if v.sockets_dirty {
            v.register_sockets(&poll)?;
        }
        let timeout = v.timeout();
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        for ev in events.iter() {
            match ev.token() {
                IPC => v.on_ipc()?,
                PROCS => {
                    let changes = v.procs.on_events(engine::now());
                    v.on_process_changes(changes);
                }
                SIGNALS => {
                    for s in signals.pending() {
                        if (s == SIGTERM || s == SIGINT)
                            && keepalived_ipc::child::parent_gone(parent)
                        {
                            // PDEATHSIG: the parent is gone. Hand over (priority 0) and
                            // release the VIPs so the peer takes over within Skew_Time.
                            warn!("parent gone (signal {s}); releasing and stopping");
                            v.stop(true);
                        }
                    }
                }
                MONITOR => v.on_monitor(),
                Token(t) => {
                    if let Some(key) = v.tokens.get(&t).copied() {
                        let mut out = Vec::new();
                        if let Some(e) = v.engine.as_mut() {
                            e.on_readable(key, &mut out);
                        }
                        v.report(out);
                    }
                }
            }
        }
        let flushed = v.outbox.borrow_mut().chan.flush();
        if let Err(e) = flushed {
            if v.exit {
                break;
            }
            return Err(format!("channel to the parent: {e}"));
        }
    }
    let _ = v.outbox.borrow_mut().chan.flush();
    Ok(())
}

/// The engine's intent hook: an intent report is queued and flushed at once, before the
/// engine goes on to act (remove VIPs, send priority 0, ...).
fn intent_hook(outbox: &Rc<RefCell<Outbox>>) -> engine::IntentHook {
    let outbox = Rc::clone(outbox);
    engine::IntentHook(Some(Box::new(move |i: engine::Intent| {
        let Ok(mut o) = outbox.try_borrow_mut() else {
            warn!("{}: intent not sent (channel busy)", i.name);
            return;
        };
        let report = InstanceReport {
            name: i.name,
            state: vrrp_state(i.to),
            phase: Phase::Intent,
            priority: i.priority,
            learned_interval_cs: None,
            preempt_deadline_us: None,
            trackers: Vec::new(),
            master: i.master,
            reason: i.reason,
            saved: None,
        };
        if let Err(e) = o
            .report(VrrpEvent::Instance(report))
            .and_then(|_| o.chan.flush())
        {
            warn!("intent not delivered: {e}");
        }
    })))
}

impl Vrrp {
    fn send(&mut self, m: VrrpToParent) {
        let sent = self.outbox.borrow_mut().chan.send(&m);
        if let Err(e) = sent {
            error!("cannot send to the parent: {e}");
            self.stop(true);
        }
    }

    /// Tells the instances what their process trackers now say.
    fn on_process_changes(&mut self, changes: Vec<(String, bool)>) {
        if changes.is_empty() {
            return;
        }
        let mut out = Vec::new();
        if let Some(e) = self.engine.as_mut() {
            for (name, up) in changes {
                e.on_process(&name, up, &mut out);
            }
        }
        self.report(out);
    }

    /// How long the loop may sleep: until the next VRRP timer, script run or process
    /// tracker deadline.
    fn timeout(&mut self) -> Duration {
        let mut t = engine::IDLE;
        let deadlines = [
            self.engine.as_mut().and_then(|e| e.next_deadline()),
            if self.started {
                self.procs.next_deadline()
            } else {
                None
            },
        ];
        for d in deadlines.into_iter().flatten() {
            let now = engine::now();
            t = t.min(Duration::from_micros(d.0.saturating_sub(now.0)));
        }
        if let Some(n) = self
            .scripts
            .values()
            .filter(|s| s.in_flight.is_none())
            .map(|s| s.next)
            .min()
        {
            t = t.min(n.saturating_duration_since(Instant::now()));
        }
        t
    }

    fn register_sockets(&mut self, poll: &Poll) -> Result<(), String> {
        for t in self.tokens.keys() {
            let _ = t;
        }
        // Sockets that were closed are deregistered by the kernel on close; register the
        // current ones afresh.
        let Some(e) = &self.engine else {
            return Ok(());
        };
        let mut tokens = BTreeMap::new();
        for (i, (key, s)) in e.sockets.iter().enumerate() {
            let token = FIRST_SOCKET + i;
            let fd = s.vrrp.as_raw_fd();
            let src = &mut SourceFd(&fd);
            if poll
                .registry()
                .reregister(src, Token(token), Interest::READABLE)
                .is_err()
            {
                poll.registry()
                    .register(src, Token(token), Interest::READABLE)
                    .map_err(|e| format!("cannot watch a VRRP socket: {e}"))?;
            }
            tokens.insert(token, *key);
        }
        self.tokens = tokens;
        self.sockets_dirty = false;
        Ok(())
    }

    fn on_ipc(&mut self) -> Result<(), String> {
        let received = self.outbox.borrow_mut().chan.receive();
        let msgs = match received {
            Ok(m) => m,
            Err(keepalived_ipc::ChannelError::Closed) => {
                warn!("parent gone (end of file); releasing and stopping");
                self.stop(true);
                return Ok(());
            }
            Err(e) => return Err(format!("protocol error from the parent: {e}")),
        };
        for m in msgs {
            self.on_message(m)?;
        }
        Ok(())
    }

    fn on_message(&mut self, m: ParentToVrrp) -> Result<(), String> {
        match m {
            ParentToVrrp::Hello(h) => {
                if h.version != keepalived_ipc::PROTOCOL_VERSION {
                    return Err(format!("parent speaks IPC version {}", h.version));
                }
            }
            ParentToVrrp::Config(Json(VrrpObject::Instance(i))) => {
                self.instances_in.insert(i.name.clone(), Some(*i));
            }
            ParentToVrrp::Config(Json(o)) => {
                self.objects
                    .insert(keepalived_config::project::Keyed::key(&o), o);
            }
            ParentToVrrp::Remove(ObjectKey::Instance(name)) => {
                self.instances_in.insert(name, None);
            }
            ParentToVrrp::Remove(k) => {
                self.objects.remove(&k);
            }
            ParentToVrrp::ConfigDone(g) => {
                let new = self.apply()?;
                self.send(VrrpToParent::ConfigAck(g));
                if self.started {
                    self.start_instances(&new);
                }
            }
            ParentToVrrp::Resume(reports) => {
                for r in reports {
                    for (name, v) in &r.trackers {
                        // 0: no result yet when the report was made.
                        if let Some(s) = self.scripts.get_mut(name).filter(|_| *v != 0) {
                            s.tracker.resume(*v);
                            s.known = true;
                        }
                    }
                    if let Some(saved) = r.saved {
                        info!(
                            "resumed instance {}: {:?}, priority {}, trackers {:?}",
                            r.name, saved.state, saved.effective_priority, r.trackers
                        );
                        self.resume.insert(r.name, saved);
                    }
                }
            }
            ParentToVrrp::Start => {
                self.started = true;
                let now = Instant::now();
                for s in self.scripts.values_mut() {
                    s.next = now;
                }
                let names: Vec<String> = self
                    .engine
                    .as_ref()
                    .map(|e| e.slots.keys().cloned().collect())
                    .unwrap_or_default();
                self.start_instances(&names);
            }
            ParentToVrrp::Ping(n) => self.send(VrrpToParent::Pong(n)),
            ParentToVrrp::ScriptDone(d) => self.on_script_done(d),
            ParentToVrrp::TrackFile { name, value } => {
                debug!("track_file {name} = {value:?}");
                let mut out = Vec::new();
                if let Some(e) = self.engine.as_mut() {
                    e.on_file(&name, value, &mut out);
                }
                self.report(out);
            }
            ParentToVrrp::SendSnapshot => {
                let names: Vec<String> = self
                    .engine
                    .as_ref()
                    .map(|e| e.slots.keys().cloned().collect())
                    .unwrap_or_default();
                let instances = names
                    .iter()
                    .filter_map(|n| self.instance_report(n, Phase::Done))
                    .collect();
                let seq = self.outbox.borrow().seq;
                self.send(VrrpToParent::Snapshot {
                    seq,
                    instances,
                    groups: Vec::new(),
                });
            }
            ParentToVrrp::Dump(kind) => {
                let text = self.dump(kind);
                self.send(VrrpToParent::Dump(DumpText { kind, text }));
            }
            ParentToVrrp::LogLevel(l) => log::set_max_level(level(l)),
            ParentToVrrp::Shutdown(s) => {
                info!("stopping (release: {})", s.release);
                self.stop(s.release);
            }
        }
        Ok(())
    }

    /// Stops every instance (priority 0 from masters; VIPs removed when `release`) and
    /// ends the loop.
    fn stop(&mut self, release: bool) {
        if self.exit {
            return;
        }
        self.exit = true;
        let mut out = Vec::new();
        if let Some(e) = self.engine.as_mut() {
            e.release = release;
            e.stop_all(&mut out);
            if release {
                if let Some(st) = self.statics.take() {
                    e.statics(&st, false);
                }
            }
        }
        self.report(out);
    }

    /// Applies the configuration objects: script trackers, then the engine.
    fn apply(&mut self) -> Result<Vec<String>, String> {
        let now = Instant::now();
        let mut config = Config::default();
        for o in self.objects.values() {
            match o {
                VrrpObject::Globals(g) => config.global_defs = (**g).clone(),
                VrrpObject::Script(s) => config.vrrp_scripts.push((**s).clone()),
                VrrpObject::TrackFile(t) => config.track_files.push((**t).clone()),
                VrrpObject::TrackProcess(t) => config.vrrp_track_processes.push((**t).clone()),
                VrrpObject::GarpGroup(_, g) => config.garp_groups.push((**g).clone()),
                VrrpObject::SyncGroup(g) => config.vrrp_sync_groups.push((**g).clone()),
                // Instances are not kept here (see `instances_in`).
                VrrpObject::Instance(_) => {}
                VrrpObject::Statics(s) => {
                    config.static_ipaddress = s.addresses.clone();
                    config.static_routes = s.routes.clone();
                    config.static_rules = s.rules.clone();
                }
            }
        }
        // The instances: the new and changed ones just received, the others as the engine
        // holds them (one copy of each instance lives in the process, in its slot).
        let mut unchanged: std::collections::BTreeSet<String> = self
            .engine
            .as_ref()
            .map(|e| e.slots.keys().cloned().collect())
            .unwrap_or_default();
        for (name, block) in std::mem::take(&mut self.instances_in) {
            unchanged.remove(&name);
            if let Some(b) = block {
                config.vrrp_instances.push(b);
            }
        }
        if let Some(e) = &self.engine {
            config.vrrp_instances.extend(
                unchanged
                    .iter()
                    .filter_map(|n| e.slots.get(n).map(|s| s.block.clone())),
            );
        }
        config.vrrp_instances.sort_by(|a, b| a.name.cmp(&b.name));
        let mut scripts = BTreeMap::new();
        for s in &config.vrrp_scripts {
            let interval = Duration::from_micros(s.interval.micros());
            let run = match self.scripts.remove(&s.name) {
                Some(mut old) => {
                    let mut t = ScriptTracker::new(s);
                    t.ok = old.tracker.ok;
                    t.count = old.tracker.count;
                    old.tracker = t;
                    old.interval = interval;
                    old
                }
                None => ScriptRun {
                    tracker: ScriptTracker::new(s),
                    interval,
                    next: now,
                    in_flight: None,
                    known: false,
                },
            };
            scripts.insert(s.name.clone(), run);
        }
        self.scripts = scripts;
        self.procs.configure(&config.vrrp_track_processes);
        if self.engine.is_none() {
            let mut engine = Engine::new()?;
            engine.intent = intent_hook(&self.outbox);
            self.engine = Some(engine);
        }
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Vec::new());
        };
        let new = engine.configure(&config)?;
        // static_*: installed once, replaced when a reload changes them.
        let statics_changed = self.statics.as_ref().is_none_or(|old| {
            old.static_ipaddress != config.static_ipaddress
                || old.static_routes != config.static_routes
                || old.static_rules != config.static_rules
        });
        if statics_changed {
            if let Some(old) = self.statics.take() {
                engine.statics(&old, false);
            }
            engine.statics(&config, true);
            // Only the static parts: a copy of the whole configuration would double the
            // memory of a thousand instances.
            self.statics = Some(Config {
                static_ipaddress: config.static_ipaddress.clone(),
                static_routes: config.static_routes.clone(),
                static_rules: config.static_rules.clone(),
                ..Config::default()
            });
        }
        // The monitor reports up/down as transitions from the table it holds.
        let mut pending = std::mem::take(&mut engine.pending);
        match engine.rtnl.links() {
            Ok(links) => {
                self.monitor.sync_links(&links);
                engine.refresh_links(&links, self.started, &mut pending);
            }
            Err(e) => warn!("cannot read the links: {e}"),
        }
        self.sockets_dirty = true;
        self.report(pending);
        let Some(engine) = self.engine.as_ref() else {
            return Ok(new);
        };
        info!(
            "configuration applied: {} instance(s), {} script(s)",
            engine.slots.len(),
            self.scripts.len()
        );
        keepalived_sys::sched::trim_heap();
        Ok(new)
    }

    fn start_instances(&mut self, names: &[String]) {
        let mut out = Vec::new();
        if let Some(e) = self.engine.as_mut() {
            let resume = std::mem::take(&mut self.resume);
            e.start(names, &resume, &mut out);
            // Scripts already known: tell the instances their current result.
            for (name, s) in self.scripts.iter().filter(|(_, s)| s.known) {
                e.on_script(name, s.tracker.ok, &mut out);
            }
            for (name, up) in self.procs.statuses() {
                e.on_process(&name, up, &mut out);
            }
        }
        self.report(out);
    }

    fn on_monitor(&mut self) {
        let events = match self.monitor.read() {
            Ok(ev) => ev,
            Err(MonitorError::Overrun) | Err(MonitorError::Resync(_)) => {
                warn!("rtnetlink monitor overrun; resynchronising from a dump");
                self.resync();
                return;
            }
            Err(e) => {
                warn!("rtnetlink monitor: {e}");
                return;
            }
        };
        let mut out = Vec::new();
        // An interface an instance waits for appeared: configure again (the instance is
        // rebuilt on it and started).
        let waited_for = events.iter().any(|ev| match ev {
            LinkEvent::LinkNew { name, .. } => self.engine.as_ref().is_some_and(|e| {
                e.slots
                    .values()
                    .any(|s| s.ifindex == 0 && s.ifname == *name)
            }),
            _ => false,
        });
        if waited_for {
            match self.apply() {
                Ok(new) if self.started => self.start_instances(&new),
                Ok(_) => {}
                Err(e) => warn!("cannot configure the new interface: {e}"),
            }
        }
        if let Some(e) = self.engine.as_mut() {
            for ev in events {
                match ev {
                    LinkEvent::LinkUp { index, .. } => e.on_link(index, true, &mut out),
                    LinkEvent::LinkDown { index, .. } => e.on_link(index, false, &mut out),
                    LinkEvent::AddrRemoved { ifindex, addr, .. } => {
                        e.on_address_removed(ifindex, addr)
                    }
                    _ => {}
                }
            }
        }
        self.report(out);
    }

    /// After a monitor overrun: read every link again and tell the instances its state.
    fn resync(&mut self) {
        let mut out = Vec::new();
        if let Some(e) = self.engine.as_mut() {
            match e.rtnl.links() {
                Ok(links) => {
                    self.monitor.sync_links(&links);
                    for l in links {
                        e.on_link(l.index, l.up(), &mut out);
                    }
                }
                Err(err) => warn!("resync: {err}"),
            }
        }
        self.report(out);
    }

    /// Sends a sequenced report.
    fn send_report(&mut self, event: VrrpEvent) {
        let sent = self.outbox.borrow_mut().report(event);
        if let Err(e) = sent {
            error!("cannot send to the parent: {e}");
            self.stop(true);
        }
    }

    /// Sends the reports the engine produced.
    fn report(&mut self, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Report { name, intent } => {
                    let phase = if intent { Phase::Intent } else { Phase::Done };
                    if let Some(r) = self.instance_report(&name, phase) {
                        self.send_report(VrrpEvent::Instance(r));
                    }
                }
                Output::Sysctl {
                    interface,
                    key,
                    value,
                } => self.send(VrrpToParent::Sysctl {
                    interface,
                    key,
                    value,
                }),
                Output::Group { name, state } => {
                    let state = vrrp_state(state);
                    self.send_report(VrrpEvent::Group(GroupReport { name, state }));
                }
                Output::LowerPriority { name, from } => {
                    self.send_report(VrrpEvent::MasterRxLowerPri {
                        instance: name,
                        from,
                    });
                }
            }
        }
    }

    fn instance_report(&self, name: &str, phase: Phase) -> Option<InstanceReport> {
        let slot = self.engine.as_ref()?.slots.get(name)?;
        let i = &slot.inst;
        let trackers = i
            .config()
            .trackers
            .iter()
            .filter_map(|t| {
                self.scripts
                    .get(&t.name)
                    .map(|s| (t.name.clone(), if s.known { s.tracker.report() } else { 0 }))
            })
            .collect();
        Some(InstanceReport {
            name: name.to_string(),
            state: vrrp_state(i.state()),
            phase,
            priority: i.effective_priority(),
            learned_interval_cs: None,
            preempt_deadline_us: None,
            trackers,
            master: i.master().map(|m| m.addr),
            reason: slot.reason.clone(),
            saved: Some(i.saved()),
        })
    }

    fn run_due_scripts(&mut self, now: Instant) {
        if !self.started || self.exit {
            return;
        }
        let due: Vec<String> = self
            .scripts
            .iter()
            .filter(|(_, s)| s.in_flight.is_none() && now >= s.next)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let id = self.next_request;
            self.next_request += 1;
            if let Some(s) = self.scripts.get_mut(&name) {
                s.in_flight = Some(id);
                s.next = now + s.interval;
            }
            self.send(VrrpToParent::RunScript(ScriptRequest {
                id,
                script: ScriptRef::VrrpScript(name),
            }));
        }
    }

    fn on_script_done(&mut self, d: ScriptDone) {
        let Some((name, s)) = self
            .scripts
            .iter_mut()
            .find(|(_, s)| s.in_flight == Some(d.id))
        else {
            return;
        };
        s.in_flight = None;
        let success = matches!(d.outcome, ScriptOutcome::Exited(0));
        if !success {
            debug!("vrrp_script {name}: {:?}", d.outcome);
        }
        let first = !s.known;
        s.known = true;
        let before = s.tracker.report();
        let flipped = s.tracker.record(success);
        let counters_moved = first || before != s.tracker.report();
        let (name, ok) = (name.clone(), s.tracker.ok);
        let mut out = Vec::new();
        if flipped || first {
            info!(
                "vrrp_script {name} is now {}",
                if ok { "OK" } else { "failing" }
            );
            if let Some(e) = self.engine.as_mut() {
                e.on_script(&name, ok, &mut out);
            }
        }
        if counters_moved && out.is_empty() {
            // The parent keeps the counters for a respawn: report every instance tracking
            // this script even when its state did not change.
            if let Some(e) = self.engine.as_ref() {
                out.extend(
                    e.slots
                        .iter()
                        .filter(|(_, sl)| sl.inst.config().trackers.iter().any(|t| t.name == name))
                        .map(|(n, _)| Output::Report {
                            name: n.clone(),
                            intent: false,
                        }),
                );
            }
        }
        self.report(out);
    }

    fn dump(&self, kind: DumpKind) -> String {
        let Some(e) = &self.engine else {
            return String::new();
        };
        match kind {
            DumpKind::Json => {
                let mut s = String::from("[");
                for (i, (name, slot)) in e.slots.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&format!(
                        "{{\"iname\":{name:?},\"state\":\"{}\",\"effective_priority\":{},\"vrid\":{},\"ifp_ifname\":{:?}}}",
                        format!("{:?}", slot.inst.state()).to_uppercase(),
                        slot.inst.effective_priority(),
                        slot.inst.config().vrid,
                        slot.ifname
                    ));
                }
                s.push_str("]\n");
                s
            }
            DumpKind::Data => {
                let mut s = String::from("------< VRRP Topology >------\n");
                for (name, slot) in &e.slots {
                    let i = &slot.inst;
                    s.push_str(&format!(
                        " VRRP Instance = {name}\n   State = {}\n   Interface = {}\n   Virtual Router ID = {}\n   Priority = {}\n   Effective priority = {}\n   Advert interval = {:?}\n   Master = {}\n   Last transition reason = {}\n",
                        format!("{:?}", i.state()).to_uppercase(),
                        slot.ifname,
                        i.config().vrid,
                        i.config().priority,
                        i.effective_priority(),
                        i.config().advert_interval,
                        i.master().map(|m| m.addr.to_string()).unwrap_or_else(|| "-".into()),
                        slot.reason
                    ));
                }
                s.push_str("------< VRRP Scripts >------\n");
                for (n, sc) in &self.scripts {
                    s.push_str(&format!(
                        " VRRP Script = {n}\n   Status = {}\n   Weight = {}\n   Rise = {}\n   Fall = {}\n",
                        if sc.tracker.ok { "GOOD" } else { "BAD" },
                        sc.tracker.weight,
                        sc.tracker.rise,
                        sc.tracker.fall
                    ));
                }
                s
            }
            DumpKind::Stats | DumpKind::StatsClear => {
                let mut s = String::new();
                for (name, slot) in &e.slots {
                    s.push_str(&format!(
                        "VRRP Instance: {name}\n  {:?}\n",
                        slot.inst.stats()
                    ));
                }
                s.push_str(&format!(
                    "Adverts for an unknown VRID: {}\n",
                    e.unknown_vrid
                ));
                s
            }
        }
    }
}

fn vrrp_state(s: keepalived_vrrp::State) -> VrrpState {
    match s {
        keepalived_vrrp::State::Init => VrrpState::Init,
        keepalived_vrrp::State::Backup => VrrpState::Backup,
        keepalived_vrrp::State::Master => VrrpState::Master,
        keepalived_vrrp::State::Fault => VrrpState::Fault,
        keepalived_vrrp::State::Stop => VrrpState::Stop,
    }
}

fn level(l: u8) -> log::LevelFilter {
    match l {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}
