//! The VRRP process. It is started by `keepalived-rs` with its IPC socket on fd 3, drops to
//! its own user with CAP_NET_ADMIN and CAP_NET_RAW, and receives its projection of the
//! configuration.
//!
//! This build runs the instances' track scripts (through the parent, which runs them as
//! `script_user`) and reports their effect: the effective priority, and FAULT when a
//! weight-0 script fails. The VRRP protocol itself (adverts, VIPs) is driven by
//! keepalived-vrrp in the VRRP issue.

mod track;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use keepalived_config::project::{ObjectKey, VrrpObject};
use keepalived_config::vrrp::VrrpInstance;
use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

use track::ScriptTracker;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);

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
}

/// An instance's recomputed priority, fault and tracker counters.
#[derive(Debug)]
struct Update {
    name: String,
    prio: u8,
    fault: bool,
    counters: Vec<(String, i32)>,
}

#[derive(Debug)]
struct Vrrp {
    chan: Channel<ParentToVrrp, VrrpToParent>,
    objects: BTreeMap<ObjectKey, VrrpObject>,
    scripts: BTreeMap<String, ScriptRun>,
    instances: BTreeMap<String, InstanceReport>,
    started: bool,
    seq: u64,
    next_request: u64,
    exit: bool,
}

fn run(socket: std::os::unix::net::UnixStream, parent: u32) -> Result<(), String> {
    let chan = Channel::new(socket).map_err(|e| e.to_string())?;
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
    let mut v = Vrrp {
        chan,
        objects: BTreeMap::new(),
        scripts: BTreeMap::new(),
        instances: BTreeMap::new(),
        started: false,
        seq: 0,
        next_request: 1,
        exit: false,
    };
    v.chan
        .send(&VrrpToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(16);
    while !v.exit {
        let now = Instant::now();
        v.run_due_scripts(now);
        let timeout = v
            .scripts
            .values()
            .filter(|s| s.in_flight.is_none())
            .map(|s| s.next)
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        for ev in events.iter() {
            match ev.token() {
                IPC => v.on_ipc()?,
                SIGNALS => {
                    for s in signals.pending() {
                        if (s == SIGTERM || s == SIGINT)
                            && keepalived_ipc::child::parent_gone(parent)
                        {
                            // PDEATHSIG: the parent is gone (a clean stop comes as a message).
                            warn!("parent gone (signal {s}); stopping");
                            v.exit = true;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Err(e) = v.chan.flush() {
            return Err(format!("channel to the parent: {e}"));
        }
    }
    Ok(())
}

impl Vrrp {
    fn send(&mut self, m: VrrpToParent) {
        if let Err(e) = self.chan.send(&m) {
            error!("cannot send to the parent: {e}");
            self.exit = true;
        }
    }

    fn on_ipc(&mut self) -> Result<(), String> {
        let msgs = match self.chan.receive() {
            Ok(m) => m,
            Err(keepalived_ipc::ChannelError::Closed) => {
                warn!("parent gone (end of file); stopping");
                self.exit = true;
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
            ParentToVrrp::Config(Json(o)) => {
                self.objects
                    .insert(keepalived_config::project::Keyed::key(&o), o);
            }
            ParentToVrrp::Remove(k) => {
                self.objects.remove(&k);
            }
            ParentToVrrp::ConfigDone(g) => {
                self.apply();
                self.send(VrrpToParent::ConfigAck(g));
                if self.started {
                    self.evaluate_all("configuration reloaded");
                }
            }
            ParentToVrrp::Resume(reports) => self.resume(reports),
            ParentToVrrp::Start => {
                self.started = true;
                let now = Instant::now();
                for s in self.scripts.values_mut() {
                    s.next = now;
                }
                self.evaluate_all("started");
            }
            ParentToVrrp::Ping(n) => self.send(VrrpToParent::Pong(n)),
            ParentToVrrp::ScriptDone(d) => self.on_script_done(d),
            ParentToVrrp::TrackFile { name, value } => {
                debug!("track_file {name} = {value:?}");
            }
            ParentToVrrp::SendSnapshot => {
                let instances = self.instances.values().cloned().collect();
                self.send(VrrpToParent::Snapshot {
                    seq: self.seq,
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
                let names: Vec<String> = self.instances.keys().cloned().collect();
                for n in names {
                    self.set_state(&n, VrrpState::Stop, None, "stopped");
                }
                let _ = self
                    .chan
                    .flush()
                    .map_err(|e| warn!("cannot flush to the parent: {e}"));
                self.exit = true;
            }
        }
        Ok(())
    }

    fn instances_cfg(&self) -> impl Iterator<Item = &VrrpInstance> {
        self.objects.values().filter_map(|o| match o {
            VrrpObject::Instance(i) => Some(&**i),
            _ => None,
        })
    }

    /// Rebuilds script trackers and instance records from the objects, keeping the state
    /// of what did not change.
    fn apply(&mut self) {
        let now = Instant::now();
        let mut scripts = BTreeMap::new();
        for o in self.objects.values() {
            if let VrrpObject::Script(s) = o {
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
                    },
                };
                scripts.insert(s.name.clone(), run);
            }
        }
        self.scripts = scripts;
        let names: Vec<String> = self.instances_cfg().map(|i| i.name.clone()).collect();
        self.instances.retain(|n, _| names.contains(n));
        for n in names {
            self.instances.entry(n.clone()).or_insert(InstanceReport {
                name: n,
                state: VrrpState::Init,
                phase: Phase::Done,
                priority: 0,
                learned_interval_cs: None,
                preempt_deadline_us: None,
                trackers: Vec::new(),
                master: None,
                reason: "configured".into(),
            });
        }
        info!(
            "configuration applied: {} instance(s), {} script(s)",
            self.instances.len(),
            self.scripts.len()
        );
    }

    /// Takes back the last reported state after a respawn.
    fn resume(&mut self, reports: Vec<InstanceReport>) {
        for r in reports {
            for (name, v) in &r.trackers {
                if let Some(s) = self.scripts.get_mut(name) {
                    s.tracker.resume(*v);
                }
            }
            info!(
                "resumed instance {}: {:?}, priority {}, trackers {:?}",
                r.name, r.state, r.priority, r.trackers
            );
            if self.instances.contains_key(&r.name) {
                self.instances.insert(r.name.clone(), r);
            }
        }
    }

    fn run_due_scripts(&mut self, now: Instant) {
        if !self.started {
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
        let before = s.tracker.report();
        let changed = s.tracker.record(success);
        if changed {
            info!(
                "vrrp_script {name} is now {}",
                if s.tracker.ok { "OK" } else { "failing" }
            );
        }
        if before != s.tracker.report() {
            let reason = format!("vrrp_script {name} {:?}", d.outcome);
            self.evaluate_all(&reason);
        }
    }

    /// Recomputes every instance's priority and FAULT from its trackers; reports changes.
    fn evaluate_all(&mut self, reason: &str) {
        let updates: Vec<Update> = self
            .instances_cfg()
            .map(|i| {
                use keepalived_vrrp::priority::{Tracker, TrackerStatus, evaluate};
                let tracked: Vec<(&ScriptTracker, Tracker)> = i
                    .track_script
                    .iter()
                    .filter_map(|t| {
                        let s = &self.scripts.get(&t.name)?.tracker;
                        let tracker = Tracker::up_down(
                            &s.name,
                            t.weight.unwrap_or(s.weight),
                            t.reverse.unwrap_or(s.reverse),
                            TrackerStatus::Unknown,
                        );
                        Some((s, tracker))
                    })
                    .collect();
                let trackers: Vec<Tracker> = tracked.iter().map(|(_, t)| t.clone()).collect();
                let statuses: Vec<TrackerStatus> = tracked
                    .iter()
                    .map(|(s, _)| {
                        if s.ok {
                            TrackerStatus::Up
                        } else {
                            TrackerStatus::Down
                        }
                    })
                    .collect();
                let e = evaluate(i.priority.unwrap_or(100), &trackers, &statuses);
                let (prio, fault) = (e.priority, e.fault.is_some());
                let counters = tracked
                    .iter()
                    .map(|(t, _)| (t.name.clone(), t.report()))
                    .collect();
                Update {
                    name: i.name.clone(),
                    prio,
                    fault,
                    counters,
                }
            })
            .collect();
        for Update {
            name,
            prio,
            fault,
            counters,
        } in updates
        {
            let Some(cur) = self.instances.get(&name) else {
                continue;
            };
            let state = match (fault, cur.state) {
                (true, _) => VrrpState::Fault,
                // Leaving FAULT: the protocol (VRRP issue) decides BACKUP or MASTER; until
                // it runs, the instance is back to INIT.
                (false, VrrpState::Fault) => VrrpState::Init,
                (false, s) => s,
            };
            let first = !self.started || self.seq == 0;
            if first || state != cur.state || prio != cur.priority || counters != cur.trackers {
                let mut r = cur.clone();
                r.priority = prio;
                r.trackers = counters;
                self.instances.insert(name.clone(), r);
                self.set_state(&name, state, Some(prio), reason);
            }
        }
    }

    fn set_state(&mut self, name: &str, state: VrrpState, prio: Option<u8>, reason: &str) {
        let Some(r) = self.instances.get_mut(name) else {
            return;
        };
        if r.state != state {
            info!(
                "VRRP instance {name}: {:?} -> {state:?} ({reason})",
                r.state
            );
        }
        r.state = state;
        if let Some(p) = prio {
            r.priority = p;
        }
        r.phase = Phase::Done;
        r.reason = reason.to_string();
        let event = VrrpEvent::Instance(r.clone());
        self.seq += 1;
        let seq = self.seq;
        self.send(VrrpToParent::Report { seq, event });
    }

    fn dump(&self, kind: DumpKind) -> String {
        match kind {
            DumpKind::Json => {
                let mut s = String::from("[");
                for (i, r) in self.instances.values().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&format!(
                        "{{\"iname\":{:?},\"state\":{:?},\"effective_priority\":{}}}",
                        r.name,
                        format!("{:?}", r.state).to_uppercase(),
                        r.priority
                    ));
                }
                s.push_str("]\n");
                s
            }
            DumpKind::Data => {
                let mut s = String::from("------< VRRP Topology >------\n");
                for r in self.instances.values() {
                    s.push_str(&format!(
                        " VRRP Instance = {}\n   State = {}\n   Effective priority = {}\n   Last transition reason = {}\n",
                        r.name,
                        format!("{:?}", r.state).to_uppercase(),
                        r.priority,
                        r.reason
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
                for r in self.instances.values() {
                    s.push_str(&format!(
                        "VRRP Instance: {}\n  Advertisements:\n    Received: 0\n    Sent: 0\n",
                        r.name
                    ));
                }
                s
            }
        }
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
