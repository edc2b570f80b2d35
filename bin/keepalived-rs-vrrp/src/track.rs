//! Track-script state: keepalived's rise/fall counting for `vrrp_script` results. What a
//! script's state does to an instance (weights, FAULT) is keepalived-vrrp's
//! `priority::evaluate`.

use keepalived_config::vrrp::VrrpScript;

/// One `vrrp_script`'s result as the instances see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptTracker {
    /// The script's name.
    pub name: String,
    /// Consecutive successes needed to become OK.
    pub rise: u32,
    /// Consecutive failures needed to become failed.
    pub fall: u32,
    /// The weight applied to instances tracking it (0: failure means FAULT).
    pub weight: i32,
    /// `weight N reverse`: the weight counts the other way.
    pub reverse: bool,
    /// Currently OK.
    pub ok: bool,
    /// Progress towards the other state: successes while failed, failures while OK.
    pub count: u32,
}

impl ScriptTracker {
    /// A tracker in keepalived's initial state: failed when `init_fail`, else OK... except
    /// that keepalived starts a script with rise > 1 as failed until it has risen.
    pub fn new(s: &VrrpScript) -> Self {
        ScriptTracker {
            name: s.name.clone(),
            rise: s.rise.max(1),
            fall: s.fall.max(1),
            weight: s.weight,
            reverse: s.reverse,
            ok: !s.init_fail,
            count: 0,
        }
    }

    /// Records one run (`success`: exit status 0). Returns true when OK/failed changed.
    pub fn record(&mut self, success: bool) -> bool {
        if success == self.ok {
            self.count = 0;
            return false;
        }
        self.count += 1;
        let needed = if self.ok { self.fall } else { self.rise };
        if self.count >= needed {
            self.ok = success;
            self.count = 0;
            true
        } else {
            false
        }
    }

    /// The counter value reported to the parent (and resumed): positive while OK.
    pub fn report(&self) -> i32 {
        let c = i32::try_from(self.count).unwrap_or(i32::MAX);
        if self.ok { 1 + c } else { -1 - c }
    }

    /// Restores from a reported value.
    pub fn resume(&mut self, v: i32) {
        self.ok = v > 0;
        self.count = v.unsigned_abs().saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(rise: u32, fall: u32, weight: i32) -> ScriptTracker {
        ScriptTracker::new(&VrrpScript {
            name: "chk".into(),
            rise,
            fall,
            weight,
            ..Default::default()
        })
    }

    #[test]
    fn fall_and_rise_count_consecutive_results() {
        let mut t = script(2, 3, 0);
        assert!(t.ok);
        assert!(!t.record(false));
        assert!(!t.record(false));
        assert!(!t.record(true), "a success resets the fall count");
        assert!(!t.record(false));
        assert!(!t.record(false));
        assert!(t.record(false), "three consecutive failures");
        assert!(!t.ok);
        assert!(!t.record(true));
        assert!(t.record(true), "two consecutive successes");
        assert!(t.ok);
    }

    #[test]
    fn reported_counters_resume_the_same_state() {
        let mut t = script(3, 3, 0);
        t.record(false);
        t.record(false);
        let mut u = script(3, 3, 0);
        u.resume(t.report());
        assert_eq!(u, t);
        assert!(
            u.record(false),
            "the third failure after the resume flips it"
        );
    }
}
