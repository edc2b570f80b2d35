//! `vrrp_track_process`: which running processes match a tracker, and when the tracker
//! counts as up (KEEPALIVED-REFERENCE 2.4). No I/O: the VRRP process feeds the process
//! table (a scan of /proc, or the kernel's process events) and the time.
//!
//! - A process matches as keepalived matches it: by its name (`comm`; the kernel keeps 15
//!   bytes of it, so a longer configured name is compared on its first 15 bytes, where
//!   keepalived would never match) or, with `full_command` (implied by parameters on the
//!   `process` line or by `param_match`), by its argv\[0\], exactly. Parameters, when
//!   checked, compare the process's arguments as keepalived does, on their NUL-separated
//!   bytes: `exact` (the default with parameters) all of them; `partial` the configured
//!   ones are the first whole arguments; `initial` the same, except that the last
//!   configured one need only begin its argument.
//! - The tracker is up while `quorum <= matching processes <= quorum_max`.
//! - A change caused by a new process waits `fork_delay`, one caused by a process ending
//!   waits `terminate_delay` (`delay` sets both); if the count goes back during the wait,
//!   nothing is reported. The first snapshot is reported at once.

use std::collections::BTreeSet;
use std::time::Duration;

use keepalived_config::vrrp::{ParamMatch, TrackProcess};

use crate::Time;

/// The kernel's limit on a process name (`TASK_COMM_LEN` - 1).
pub const COMM_LEN: usize = 15;

/// What the tracker needs to know about one running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process id.
    pub pid: u32,
    /// Its name (`/proc/PID/comm`).
    pub comm: String,
    /// Its command line (`/proc/PID/cmdline`), argv\[0\] first; empty for a kernel thread.
    pub argv: Vec<String>,
}

/// How a tracker recognises its processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The tracker's name.
    pub name: String,
    /// The process name (or argv\[0\] with `full_command`).
    pub process: String,
    /// The parameters that must match.
    pub params: Vec<String>,
    /// How the parameters match (None: they are not looked at).
    pub param_match: Option<ParamMatch>,
    /// Match argv\[0\] rather than the name.
    pub full_command: bool,
    /// The least number of processes for up.
    pub quorum: u32,
    /// The most (None: no limit).
    pub quorum_max: Option<u32>,
    /// Wait after a new process changes the status.
    pub fork_delay: Duration,
    /// Wait after a process ending changes the status.
    pub terminate_delay: Duration,
}

impl ProcessSpec {
    /// The spec of a `vrrp_track_process` block.
    pub fn from_config(t: &TrackProcess) -> ProcessSpec {
        let delay = t.delay.map(|d| d.duration());
        ProcessSpec {
            name: t.name.clone(),
            process: t.process.clone().unwrap_or_default(),
            params: t.params.clone(),
            param_match: t
                .param_match
                .or((!t.params.is_empty()).then_some(ParamMatch::Exact)),
            full_command: t.full_command,
            quorum: t.quorum,
            quorum_max: t.quorum_max,
            fork_delay: t
                .fork_delay
                .map(|d| d.duration())
                .or(delay)
                .unwrap_or_default(),
            terminate_delay: t
                .terminate_delay
                .map(|d| d.duration())
                .or(delay)
                .unwrap_or_default(),
        }
    }

    /// Whether a process is one of this tracker's.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        if p.argv.is_empty() {
            // A kernel thread or a zombie: no command line to run anything from.
            return false;
        }
        let named = if self.full_command {
            p.argv[0] == self.process
        } else {
            let want = truncate(&self.process, COMM_LEN);
            p.comm == want
        };
        if !named {
            return false;
        }
        let Some(how) = self.param_match else {
            return true;
        };
        // keepalived compares the bytes of the arguments, each ended by its NUL.
        let joined = |a: &[String]| -> Vec<u8> {
            a.iter()
                .flat_map(|x| x.bytes().chain(std::iter::once(0)))
                .collect()
        };
        let have = joined(&p.argv[1..]);
        let want = joined(&self.params);
        match how {
            ParamMatch::Exact => have == want,
            ParamMatch::Partial => have.starts_with(&want),
            ParamMatch::Initial => want.is_empty() || have.starts_with(&want[..want.len() - 1]),
        }
    }

    fn in_quorum(&self, n: usize) -> bool {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        n >= self.quorum && self.quorum_max.is_none_or(|m| n <= m)
    }
}

/// The first `n` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One tracker's matching processes and its reported status.
#[derive(Debug, Clone)]
pub struct ProcessTracker {
    spec: ProcessSpec,
    pids: BTreeSet<u32>,
    reported: Option<bool>,
    /// A status waiting for its delay: (status, when it may be reported).
    pending: Option<(bool, Time)>,
}

impl ProcessTracker {
    /// A tracker that has seen no process table yet.
    pub fn new(spec: ProcessSpec) -> ProcessTracker {
        ProcessTracker {
            spec,
            pids: BTreeSet::new(),
            reported: None,
            pending: None,
        }
    }

    /// Its spec.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// The matching processes.
    pub fn count(&self) -> usize {
        self.pids.len()
    }

    /// The status last reported (None before the first snapshot).
    pub fn status(&self) -> Option<bool> {
        self.reported
    }

    /// A whole process table (a scan of /proc). The first one is reported at once; later
    /// ones count as the processes that appeared and ended since the previous one.
    pub fn snapshot<'a>(
        &mut self,
        now: Time,
        table: impl IntoIterator<Item = &'a ProcessInfo>,
    ) -> Option<bool> {
        let pids: BTreeSet<u32> = table
            .into_iter()
            .filter(|p| self.spec.matches(p))
            .map(|p| p.pid)
            .collect();
        let grew = pids.difference(&self.pids).next().is_some();
        self.pids = pids;
        if self.reported.is_none() {
            let up = self.spec.in_quorum(self.pids.len());
            self.reported = Some(up);
            return Some(up);
        }
        self.settle(now, grew)
    }

    /// A process started or changed its name or command line (an exec or comm event).
    pub fn process_changed(&mut self, now: Time, p: &ProcessInfo) -> Option<bool> {
        if self.spec.matches(p) {
            if self.pids.insert(p.pid) {
                return self.settle(now, true);
            }
            None
        } else if self.pids.remove(&p.pid) {
            self.settle(now, false)
        } else {
            None
        }
    }

    /// A process ended.
    pub fn process_exited(&mut self, now: Time, pid: u32) -> Option<bool> {
        if self.pids.remove(&pid) {
            self.settle(now, false)
        } else {
            None
        }
    }

    /// When a pending status is due.
    pub fn next_deadline(&self) -> Option<Time> {
        self.pending.map(|(_, at)| at)
    }

    /// Reports a pending status whose delay has passed.
    pub fn poll(&mut self, now: Time) -> Option<bool> {
        match self.pending {
            Some((up, at)) if now >= at => {
                self.pending = None;
                self.reported = Some(up);
                Some(up)
            }
            _ => None,
        }
    }

    /// After the count changed (`grew`: because of a new process): report at once, wait
    /// for the delay, or cancel a wait the change undid.
    fn settle(&mut self, now: Time, grew: bool) -> Option<bool> {
        let reported = self.reported?;
        let up = self.spec.in_quorum(self.pids.len());
        if up == reported {
            self.pending = None;
            return None;
        }
        if matches!(self.pending, Some((p, _)) if p == up) {
            return None;
        }
        let delay = if grew {
            self.spec.fork_delay
        } else {
            self.spec.terminate_delay
        };
        if delay.is_zero() {
            self.pending = None;
            self.reported = Some(up);
            return Some(up);
        }
        self.pending = Some((up, now.saturating_add(delay)));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: &str) -> ProcessSpec {
        ProcessSpec {
            name: "p".into(),
            process: process.into(),
            params: Vec::new(),
            param_match: None,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    fn proc_(pid: u32, comm: &str, argv: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid,
            comm: comm.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn s(n: u64) -> Time {
        Time(n * 1_000_000)
    }

    #[test]
    fn the_name_is_the_comm_truncated_to_15_bytes() {
        let p = proc_(1, "haproxy", &["/usr/sbin/haproxy", "-f", "x"]);
        assert!(spec("haproxy").matches(&p));
        assert!(!spec("nginx").matches(&p));
        // The kernel keeps 15 bytes of a name; keepalived compares that much.
        let long = proc_(2, "averylongproces", &["/opt/averylongprocessname"]);
        assert!(spec("averylongprocessname").matches(&long));
        // A kernel thread has no command line.
        assert!(!spec("kworker").matches(&proc_(3, "kworker", &[])));
    }

    #[test]
    fn full_command_matches_argv0() {
        let p = proc_(1, "haproxy", &["/usr/sbin/haproxy", "-f", "x"]);
        let mut sp = spec("/usr/sbin/haproxy");
        assert!(!sp.matches(&p), "without full_command the name is compared");
        sp.full_command = true;
        assert!(sp.matches(&p));
    }

    #[test]
    fn parameters_match_exactly_partially_or_initially_as_keepalived() {
        let p = proc_(1, "sleep", &["sleep", "100", "200", "300"]);
        let mut sp = spec("sleep");
        sp.full_command = true;
        sp.params = vec!["100".into(), "200".into()];
        sp.param_match = Some(ParamMatch::Exact);
        assert!(!sp.matches(&p), "exact: every argument");
        sp.param_match = Some(ParamMatch::Partial);
        assert!(sp.matches(&p), "partial: the first whole arguments");
        sp.params = vec!["200".into(), "300".into()];
        assert!(!sp.matches(&p), "partial: from the first argument on");
        sp.params = vec!["100".into(), "2".into()];
        assert!(!sp.matches(&p), "partial: whole arguments");
        sp.param_match = Some(ParamMatch::Initial);
        assert!(sp.matches(&p), "initial: the last one may be a beginning");
        sp.params = vec!["10".into(), "200".into()];
        assert!(!sp.matches(&p), "initial: only the last one");
        sp.param_match = Some(ParamMatch::Exact);
        sp.params = vec!["100".into(), "200".into(), "300".into()];
        assert!(sp.matches(&p));
        // param_match without parameters: exact means none at all.
        sp.params.clear();
        assert!(!sp.matches(&p));
        assert!(sp.matches(&proc_(2, "sleep", &["sleep"])));
        sp.param_match = None;
        assert!(
            sp.matches(&p),
            "no param_match: arguments are not looked at"
        );
    }

    #[test]
    fn parameters_on_the_process_line_imply_exact_matching_of_argv0() {
        let cfg = TrackProcess {
            name: "t".into(),
            process: Some("/usr/sbin/haproxy".into()),
            params: vec!["-f".into(), "x".into()],
            full_command: true,
            ..TrackProcess::default()
        };
        let sp = ProcessSpec::from_config(&cfg);
        assert_eq!(sp.param_match, Some(ParamMatch::Exact));
        assert!(sp.matches(&proc_(1, "haproxy", &["/usr/sbin/haproxy", "-f", "x"])));
        assert!(!sp.matches(&proc_(1, "haproxy", &["haproxy", "-f", "x"])));
        assert!(!sp.matches(&proc_(1, "haproxy", &["/usr/sbin/haproxy", "-f", "y"])));
    }

    #[test]
    fn the_first_snapshot_is_reported_at_once_and_quorum_bounds_the_count() {
        let mut sp = spec("worker");
        sp.quorum = 2;
        sp.quorum_max = Some(3);
        let mut t = ProcessTracker::new(sp);
        let one = [proc_(1, "worker", &["worker"])];
        assert_eq!(t.snapshot(s(0), &one), Some(false), "1 < quorum 2");
        let w = |pid| proc_(pid, "worker", &["worker"]);
        assert_eq!(t.process_changed(s(1), &w(2)), Some(true));
        assert_eq!(t.process_changed(s(1), &w(3)), None, "3 is still in quorum");
        assert_eq!(
            t.process_changed(s(1), &w(4)),
            Some(false),
            "4 > quorum_max"
        );
        assert_eq!(t.process_exited(s(2), 4), Some(true));
        assert_eq!(t.process_exited(s(2), 99), None, "not one of ours");
        assert_eq!(t.count(), 3);
    }

    #[test]
    fn terminate_delay_waits_and_a_restart_within_it_reports_nothing() {
        let mut sp = spec("haproxy");
        sp.terminate_delay = Duration::from_secs(2);
        sp.fork_delay = Duration::from_secs(1);
        let mut t = ProcessTracker::new(sp);
        let h = |pid| proc_(pid, "haproxy", &["haproxy"]);
        assert_eq!(t.snapshot(s(0), &[h(10)]), Some(true));
        assert_eq!(t.process_exited(s(5), 10), None, "waits terminate_delay");
        assert_eq!(t.next_deadline(), Some(s(7)));
        assert_eq!(t.poll(s(6)), None);
        // Restarted within the delay: nothing to report, the wait is cancelled.
        assert_eq!(t.process_changed(s(6), &h(11)), None);
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.poll(s(8)), None);
        assert_eq!(t.status(), Some(true));
        // Gone for good: reported after the delay.
        assert_eq!(t.process_exited(s(10), 11), None);
        assert_eq!(t.poll(s(12)), Some(false));
        // Back: fork_delay.
        assert_eq!(t.process_changed(s(20), &h(12)), None);
        assert_eq!(t.poll(s(21)), Some(true));
    }

    #[test]
    fn a_later_snapshot_counts_as_processes_starting_and_ending() {
        let mut sp = spec("haproxy");
        sp.fork_delay = Duration::from_secs(1);
        let mut t = ProcessTracker::new(sp);
        assert_eq!(t.snapshot(s(0), &[]), Some(false));
        let table = [proc_(7, "haproxy", &["haproxy"])];
        assert_eq!(t.snapshot(s(3), &table), None, "a new process: fork_delay");
        assert_eq!(t.poll(s(4)), Some(true));
        assert_eq!(t.snapshot(s(5), &[]), Some(false), "no terminate_delay");
    }

    #[test]
    fn an_exec_that_renames_a_process_removes_it() {
        let mut t = ProcessTracker::new(spec("haproxy"));
        assert_eq!(
            t.snapshot(s(0), &[proc_(5, "haproxy", &["haproxy"])]),
            Some(true)
        );
        assert_eq!(
            t.process_changed(s(1), &proc_(5, "sh", &["/bin/sh"])),
            Some(false)
        );
    }
}
