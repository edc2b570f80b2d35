//! The outcomes of the checks the parent runs for the checker: MISC_CHECK (a script) and
//! FILE_CHECK (a number in a file), with keepalived's semantics.

use keepalived_check::spec::Outcome;
use keepalived_ipc::msg::ScriptOutcome;

/// IPVS's largest weight.
const IPVS_WEIGHT_MAX: i64 = 65535;

/// MISC_CHECK: exit status 0 is up, 1 down; with `misc_dynamic`, 2 to 255 is up with the
/// weight status - 2 (without it, any status but 0 is down); a signal, the timeout or a
/// refusal is down.
pub fn misc_outcome(o: &ScriptOutcome, dynamic: bool) -> Outcome {
    match o {
        ScriptOutcome::Exited(0) => Outcome::Up,
        ScriptOutcome::Exited(s) if dynamic && (2..=255).contains(s) => {
            Outcome::Weight(*s as u32 - 2)
        }
        ScriptOutcome::Exited(s) => {
            Outcome::Down(format!("MISC_CHECK: the script exited with status {s}"))
        }
        ScriptOutcome::Signaled(sig) => {
            Outcome::Down(format!("MISC_CHECK: the script was killed by signal {sig}"))
        }
        ScriptOutcome::TimedOut => {
            Outcome::Down("MISC_CHECK: the script ran past misc_timeout and was killed".into())
        }
        ScriptOutcome::Refused(why) => Outcome::Down(format!("MISC_CHECK: not run: {why}")),
        ScriptOutcome::Failed(why) => Outcome::Down(format!("MISC_CHECK: cannot run: {why}")),
    }
}

/// FILE_CHECK, as keepalived's track_file: a missing or unreadable file counts as 0.
/// Without a weight (0), a non-zero value is down (`reverse`: a zero value is). With one,
/// value × weight (negated with `reverse`) is added to the real server's configured weight
/// `base` (the result kept within 0..=65535); a product at or below the smallest 32-bit
/// integer is down.
pub fn file_outcome(value: Option<i64>, weight: i64, reverse: bool, base: u32) -> Outcome {
    let v = value.unwrap_or(0);
    if weight == 0 {
        let fault = (v != 0) != reverse;
        return if fault {
            Outcome::Down(format!("FILE_CHECK: the file holds {v}"))
        } else {
            Outcome::Up
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let product = i128::from(v) * i128::from(weight) * sign;
    if product <= i128::from(i32::MIN) {
        return Outcome::Down(format!(
            "FILE_CHECK: the file holds {v}, times weight {} is a fault",
            weight * sign as i64
        ));
    }
    let status = product.min(i128::from(i32::MAX));
    let w = (i128::from(base) + status).clamp(0, i128::from(IPVS_WEIGHT_MAX));
    Outcome::Weight(w as u32)
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

    #[test]
    fn file_values_without_weight() {
        assert_eq!(file_outcome(Some(0), 0, false, 1), Outcome::Up);
        assert_eq!(file_outcome(None, 0, false, 1), Outcome::Up);
        assert!(matches!(file_outcome(Some(3), 0, false, 1), Outcome::Down(r) if r.contains('3')));
        assert!(matches!(
            file_outcome(Some(0), 0, true, 1),
            Outcome::Down(_)
        ));
        assert_eq!(file_outcome(Some(-1), 0, true, 1), Outcome::Up);
    }

    #[test]
    fn file_values_with_weight() {
        assert_eq!(file_outcome(Some(5), 10, false, 100), Outcome::Weight(150));
        assert_eq!(file_outcome(Some(5), 10, true, 100), Outcome::Weight(50));
        assert_eq!(file_outcome(Some(-50), 10, false, 100), Outcome::Weight(0));
        assert_eq!(file_outcome(None, 10, false, 7), Outcome::Weight(7));
        assert_eq!(
            file_outcome(Some(1 << 40), 1, false, 1),
            Outcome::Weight(65535)
        );
        assert!(matches!(
            file_outcome(Some(-(1 << 40)), 1, false, 1),
            Outcome::Down(_)
        ));
        assert!(matches!(
            file_outcome(Some(1 << 40), 1, true, 1),
            Outcome::Down(_)
        ));
    }
}
