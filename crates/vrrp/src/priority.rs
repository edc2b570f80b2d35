//! Trackers and the effective priority (keepalived `vrrp_track.c`,
//! KEEPALIVED-REFERENCE 2.2-2.4).
//!
//! The effective priority is computed from scratch on every change (keepalived adds and
//! subtracts weights as events come; the result is the same):
//!
//! * a tracker with weight 0 puts the instance in FAULT while it fails;
//! * a weighted up/down tracker (`track_interface`, `track_script`, `track_process`,
//!   `track_bfd`) adds its weight while up if the weight is positive, and adds its
//!   (negative) weight while down if it is negative; `reverse` negates the weight;
//! * a `track_file` adds `value × weight` (× -1 with `reverse`), at most 253; a result of
//!   -254 or less means FAULT; with weight 0 a non-zero value (zero with `reverse`) means
//!   FAULT;
//! * the effective priority is `base + sum`, kept in 1..=254, except that an address owner
//!   (base 255) always keeps 255.

use serde::{Deserialize, Serialize};

use crate::timer::PRIORITY_OWNER;

/// What a tracker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrackerStatus {
    /// No result yet (a script that has not finished its first run). A weight-0 tracker in
    /// this state holds the instance in FAULT, as keepalived holds it in init.
    Unknown,
    /// Up: the interface is up, the script succeeded `rise` times, the process runs.
    Up,
    /// Down: the interface is down, the script failed `fall` times, the process is gone.
    Down,
    /// The value read from a tracked file.
    Value(i64),
}

/// How a tracker's status counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrackerKind {
    /// An up/down tracker: interface, script, process, BFD.
    UpDown,
    /// A `track_file`: the value read from the file is multiplied by the weight.
    File,
}

/// One tracked object of an instance (or of its sync group).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tracker {
    /// The tracked object's name (interface, script, file, process), for logs.
    pub name: String,
    /// How its status counts.
    pub kind: TrackerKind,
    /// `weight N` (0: FAULT on failure).
    pub weight: i32,
    /// `reverse`: the weight counts the other way.
    pub reverse: bool,
    /// The status before the first report.
    pub initial: TrackerStatus,
}

impl Tracker {
    /// An up/down tracker.
    pub fn up_down(name: &str, weight: i32, reverse: bool, initial: TrackerStatus) -> Tracker {
        Tracker {
            name: name.to_string(),
            kind: TrackerKind::UpDown,
            weight,
            reverse,
            initial,
        }
    }

    /// A `track_file` tracker.
    pub fn file(name: &str, weight: i32, reverse: bool, initial: i64) -> Tracker {
        Tracker {
            name: name.to_string(),
            kind: TrackerKind::File,
            weight,
            reverse,
            initial: TrackerStatus::Value(initial),
        }
    }

    /// What this tracker contributes in `status`.
    pub fn contribution(&self, status: TrackerStatus) -> Contribution {
        let multiplier: i64 = if self.reverse { -1 } else { 1 };
        let weight = i64::from(self.weight);
        match (self.kind, status) {
            (_, TrackerStatus::Unknown) => {
                if weight == 0 {
                    Contribution::Fault
                } else {
                    Contribution::Weight(0)
                }
            }
            (TrackerKind::UpDown, TrackerStatus::Up | TrackerStatus::Down) => {
                let up = status == TrackerStatus::Up;
                if weight == 0 {
                    // Fault when down, or when up with `reverse`.
                    if up == self.reverse {
                        Contribution::Fault
                    } else {
                        Contribution::Weight(0)
                    }
                } else if up == (weight > 0) {
                    Contribution::Weight(weight * multiplier)
                } else {
                    Contribution::Weight(0)
                }
            }
            (TrackerKind::UpDown, TrackerStatus::Value(v)) => {
                let status = if v != 0 {
                    TrackerStatus::Up
                } else {
                    TrackerStatus::Down
                };
                self.contribution(status)
            }
            (TrackerKind::File, status) => {
                let value = match status {
                    TrackerStatus::Value(v) => v,
                    TrackerStatus::Up => 1,
                    _ => 0,
                };
                if weight == 0 {
                    if (value != 0) == (multiplier == 1) {
                        Contribution::Fault
                    } else {
                        Contribution::Weight(0)
                    }
                } else {
                    let total = value.saturating_mul(weight).saturating_mul(multiplier);
                    if total <= -254 {
                        Contribution::Fault
                    } else {
                        Contribution::Weight(total.min(253))
                    }
                }
            }
        }
    }
}

/// What one tracker does to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Contribution {
    /// Adds this much to the priority.
    Weight(i64),
    /// Puts the instance in FAULT.
    Fault,
}

/// The effective priority from the base priority and the sum of the weights: an owner
/// keeps 255, anyone else is kept in 1..=254.
pub fn effective_priority(base: u8, sum: i64) -> u8 {
    if base == PRIORITY_OWNER {
        return PRIORITY_OWNER;
    }
    let total = i64::from(base).saturating_add(sum);
    total.clamp(1, i64::from(PRIORITY_OWNER - 1)) as u8
}

/// The priority and fault state of a set of trackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Evaluation {
    /// The effective priority.
    pub priority: u8,
    /// The first tracker (by index) that puts the instance in FAULT.
    pub fault: Option<usize>,
}

/// Evaluates `trackers` with their `statuses` (the same length; missing statuses count as
/// the tracker's initial status).
pub fn evaluate(base: u8, trackers: &[Tracker], statuses: &[TrackerStatus]) -> Evaluation {
    let mut sum: i64 = 0;
    let mut fault = None;
    for (i, t) in trackers.iter().enumerate() {
        let status = statuses.get(i).copied().unwrap_or(t.initial);
        match t.contribution(status) {
            Contribution::Weight(w) => sum = sum.saturating_add(w),
            Contribution::Fault => {
                if fault.is_none() {
                    fault = Some(i);
                }
            }
        }
    }
    Evaluation {
        priority: effective_priority(base, sum),
        fault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackerStatus::{Down, Unknown, Up, Value};

    // keepalived vrrp_track.c: weight > 0 adds while up, weight < 0 subtracts while down.
    #[test]
    fn up_down_weights() {
        let plus = Tracker::up_down("chk", 20, false, Unknown);
        assert_eq!(plus.contribution(Up), Contribution::Weight(20));
        assert_eq!(plus.contribution(Down), Contribution::Weight(0));
        let minus = Tracker::up_down("chk", -30, false, Unknown);
        assert_eq!(minus.contribution(Up), Contribution::Weight(0));
        assert_eq!(minus.contribution(Down), Contribution::Weight(-30));
        // `reverse` negates the weight: +20 reverse subtracts while up.
        let rplus = Tracker::up_down("chk", 20, true, Unknown);
        assert_eq!(rplus.contribution(Up), Contribution::Weight(-20));
        assert_eq!(rplus.contribution(Down), Contribution::Weight(0));
        let rminus = Tracker::up_down("chk", -30, true, Unknown);
        assert_eq!(rminus.contribution(Down), Contribution::Weight(30));
        // No result yet: no weight.
        assert_eq!(plus.contribution(Unknown), Contribution::Weight(0));
    }

    // KEEPALIVED-REFERENCE 2.2: weight 0 (the default) = go to FAULT on failure.
    #[test]
    fn weight_zero_is_fault() {
        let t = Tracker::up_down("eth1", 0, false, Up);
        assert_eq!(t.contribution(Down), Contribution::Fault);
        assert_eq!(t.contribution(Up), Contribution::Weight(0));
        assert_eq!(t.contribution(Unknown), Contribution::Fault);
        let r = Tracker::up_down("eth1", 0, true, Up);
        assert_eq!(r.contribution(Up), Contribution::Fault);
        assert_eq!(r.contribution(Down), Contribution::Weight(0));
    }

    // KEEPALIVED-REFERENCE 2.3: value × weight is added; weight 0 means non-zero = fault;
    // below -253 means FAULT.
    #[test]
    fn track_file() {
        let t = Tracker::file("f", 10, false, 0);
        assert_eq!(t.contribution(Value(3)), Contribution::Weight(30));
        assert_eq!(t.contribution(Value(-25)), Contribution::Weight(-250));
        assert_eq!(t.contribution(Value(-26)), Contribution::Fault);
        assert_eq!(t.contribution(Value(100)), Contribution::Weight(253));
        let z = Tracker::file("f", 0, false, 0);
        assert_eq!(z.contribution(Value(0)), Contribution::Weight(0));
        assert_eq!(z.contribution(Value(7)), Contribution::Fault);
        let zr = Tracker::file("f", 0, true, 0);
        assert_eq!(zr.contribution(Value(0)), Contribution::Fault);
        let r = Tracker::file("f", 10, true, 0);
        assert_eq!(r.contribution(Value(3)), Contribution::Weight(-30));
        assert_eq!(
            Tracker::file("f", i32::MAX, false, 0).contribution(Value(i64::MAX)),
            Contribution::Weight(253)
        );
    }

    // keepalived vrrp_set_effective_priority: 1..254, the owner is not changed by weights.
    #[test]
    fn effective_priority_bounds() {
        assert_eq!(effective_priority(100, 50), 150);
        assert_eq!(effective_priority(100, 200), 254);
        assert_eq!(effective_priority(100, -500), 1);
        assert_eq!(effective_priority(255, -100), 255);
        assert_eq!(effective_priority(254, 10), 254);
        assert_eq!(effective_priority(1, i64::MIN), 1);
    }

    #[test]
    fn evaluate_sums_and_finds_faults() {
        let ts = vec![
            Tracker::up_down("a", 10, false, Up),
            Tracker::up_down("b", -20, false, Up),
            Tracker::up_down("c", 0, false, Up),
        ];
        assert_eq!(
            evaluate(100, &ts, &[Up, Down, Up]),
            Evaluation {
                priority: 90,
                fault: None
            }
        );
        assert_eq!(evaluate(100, &ts, &[Up, Up, Down]).fault, Some(2));
        // Missing statuses use the initial ones.
        assert_eq!(evaluate(100, &ts, &[]).priority, 110);
    }
}
