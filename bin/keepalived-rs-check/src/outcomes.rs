//! The outcome of a MISC_CHECK, which the parent runs for the checker, with keepalived's
//! semantics.

use keepalived_check::spec::Outcome;
use keepalived_ipc::msg::ScriptOutcome;

/// MISC_CHECK: exit status 0 is up, 1 down; with `misc_dynamic`, 2 to 255 is up with the
/// weight status - 2 (without it, any status but 0 is down); a signal, the timeout or a
/// refusal is down.
pub fn misc_outcome(o: &ScriptOutcome, dynamic: bool) -> Outcome {
    match o {
        ScriptOutcome::Exited(0) => Outcome::Up,
        ScriptOutcome::Exited(s) if dynamic && (2..=255).contains(s) => {
            Outcome::Weight(*s as u32 - 2)
        }
        ScriptOutcome::Exited(s) => Outcome::Down(format!("the script exited with status {s}")),
        ScriptOutcome::Signaled(sig) => {
            Outcome::Down(format!("the script was killed by signal {sig}"))
        }
        ScriptOutcome::TimedOut => {
            Outcome::Down("the script ran past misc_timeout and was killed".into())
        }
        ScriptOutcome::Refused(why) => Outcome::Down(format!("not run: {why}")),
        ScriptOutcome::Failed(why) => Outcome::Down(format!("cannot run: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misc_statuses() {
        use ScriptOutcome::*;
        assert_eq!(misc_outcome(&Exited(0), false), Outcome::Up);
        assert_eq!(misc_outcome(&Exited(0), true), Outcome::Up);
        assert!(matches!(misc_outcome(&Exited(1), true), Outcome::Down(_)));
        assert!(matches!(misc_outcome(&Exited(7), false), Outcome::Down(_)));
        assert_eq!(misc_outcome(&Exited(2), true), Outcome::Weight(0));
        assert_eq!(misc_outcome(&Exited(255), true), Outcome::Weight(253));
        assert!(
            matches!(misc_outcome(&Signaled(9), true), Outcome::Down(r) if r.contains("signal 9"))
        );
        assert!(
            matches!(misc_outcome(&TimedOut, true), Outcome::Down(r) if r.contains("misc_timeout"))
        );
        assert!(
            matches!(misc_outcome(&Refused("busy".into()), false), Outcome::Down(r) if r.contains("busy"))
        );
    }
}
