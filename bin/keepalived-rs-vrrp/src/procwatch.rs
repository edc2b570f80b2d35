//! `vrrp_track_process` in the VRRP process: the trackers of crates/vrrp fed with the
//! kernel's process events where the proc connector is available (the initial network
//! namespace), else with a scan of /proc every second.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use keepalived_config::vrrp::TrackProcess;
use keepalived_sys::procs::{self, ProcConnector, ProcEvent};
use keepalived_vrrp::Time;
use keepalived_vrrp::process::{ProcessInfo, ProcessSpec, ProcessTracker};
use log::{info, warn};

/// How often /proc is scanned when there are no process events.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(1);

/// The process trackers and their source of events.
#[derive(Debug, Default)]
pub struct ProcWatch {
    trackers: BTreeMap<String, ProcessTracker>,
    connector: Option<ProcConnector>,
    tried_connector: bool,
    /// When /proc is scanned next (None: not started, or events make scans unneeded).
    next_scan: Option<Time>,
    /// A scan is needed at the next tick (start, reload, lost events).
    scan_now: bool,
}

fn info_of(pid: u32) -> Option<ProcessInfo> {
    procs::comm_and_argv(pid).map(|(comm, argv)| ProcessInfo { pid, comm, argv })
}

fn table() -> Vec<ProcessInfo> {
    match procs::pids() {
        Ok(pids) => pids.into_iter().filter_map(info_of).collect(),
        Err(e) => {
            warn!("cannot read /proc: {e}");
            Vec::new()
        }
    }
}

impl ProcWatch {
    /// The trackers of a (re)loaded configuration: an unchanged one keeps its state.
    pub fn configure(&mut self, blocks: &[TrackProcess]) {
        let mut next = BTreeMap::new();
        for b in blocks {
            let spec = ProcessSpec::from_config(b);
            let t = match self.trackers.remove(&b.name) {
                Some(old) if *old.spec() == spec => old,
                _ => {
                    self.scan_now = true;
                    ProcessTracker::new(spec)
                }
            };
            next.insert(b.name.clone(), t);
        }
        self.trackers = next;
    }

    /// Whether any tracker is configured.
    pub fn active(&self) -> bool {
        !self.trackers.is_empty()
    }

    /// Subscribes to process events once (when trackers exist); returns the descriptor to
    /// poll for when the subscription is new.
    pub fn open(&mut self) -> Option<RawFd> {
        if !self.active() || self.tried_connector {
            return None;
        }
        self.tried_connector = true;
        self.scan_now = true;
        match ProcConnector::open() {
            Ok(c) => {
                let fd = c.as_raw_fd();
                info!("track_process: following the kernel's process events");
                self.connector = Some(c);
                Some(fd)
            }
            Err(e) => {
                info!(
                    "track_process: no process events here ({e}; the proc connector exists \
                     only in the initial network namespace); scanning /proc every {} s",
                    SCAN_INTERVAL.as_secs()
                );
                None
            }
        }
    }

    /// The statuses known so far (after the first scan), for instances that start.
    pub fn statuses(&self) -> Vec<(String, bool)> {
        self.trackers
            .iter()
            .filter_map(|(n, t)| t.status().map(|s| (n.clone(), s)))
            .collect()
    }

    /// When [`ProcWatch::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Time> {
        if !self.active() {
            return None;
        }
        if self.scan_now {
            return Some(Time(0));
        }
        self.trackers
            .values()
            .filter_map(ProcessTracker::next_deadline)
            .chain(self.next_scan)
            .min()
    }

    /// Scans when due and reports delayed changes whose time has come.
    pub fn tick(&mut self, now: Time) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        if !self.active() || !self.tried_connector {
            return out;
        }
        if self.scan_now || self.next_scan.is_some_and(|t| now >= t) {
            self.scan_now = false;
            let table = table();
            for (name, t) in &mut self.trackers {
                if let Some(up) = t.snapshot(now, &table) {
                    out.push((name.clone(), up));
                }
            }
            self.next_scan = if self.connector.is_some() {
                None
            } else {
                Some(now.saturating_add(SCAN_INTERVAL))
            };
        }
        for (name, t) in &mut self.trackers {
            if let Some(up) = t.poll(now) {
                out.push((name.clone(), up));
            }
        }
        out
    }

    /// Reads the queued process events.
    pub fn on_events(&mut self, now: Time) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let Some(c) = self.connector.as_mut() else {
            return out;
        };
        let events = match c.events() {
            Ok(ev) => ev,
            Err(e) => {
                warn!("track_process: {e}; rescanning /proc");
                self.scan_now = true;
                return out;
            }
        };
        for ev in events {
            match ev {
                ProcEvent::Exec(pid) | ProcEvent::Comm(pid) => {
                    let Some(p) = info_of(pid) else { continue };
                    for (name, t) in &mut self.trackers {
                        if let Some(up) = t.process_changed(now, &p) {
                            out.push((name.clone(), up));
                        }
                    }
                }
                ProcEvent::Exit(pid) => {
                    for (name, t) in &mut self.trackers {
                        if let Some(up) = t.process_exited(now, pid) {
                            out.push((name.clone(), up));
                        }
                    }
                }
            }
        }
        out
    }
}
