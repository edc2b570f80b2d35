//! Small value types shared by the whole model.

use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::diag::Loc;

/// A duration in microseconds, written in seconds (decimals allowed) in both formats.
///
/// Stored as µs + 1 in a `NonZeroU64`, so that `Option<Timer>` is as small as `Timer`
/// (8 bytes). The largest duration is therefore `u64::MAX - 1` µs (about 584,000 years).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timer(NonZeroU64);

impl Timer {
    /// The largest duration a `Timer` holds, in microseconds.
    pub const MAX_MICROS: u64 = u64::MAX - 1;

    /// Microseconds; values above `MAX_MICROS` are clamped to it.
    pub const fn from_micros(us: u64) -> Timer {
        let v = if us > Timer::MAX_MICROS {
            u64::MAX
        } else {
            us + 1
        };
        match NonZeroU64::new(v) {
            Some(n) => Timer(n),
            None => Timer(NonZeroU64::MAX),
        }
    }

    /// Whole seconds.
    pub const fn secs(s: u64) -> Timer {
        Timer::from_micros(s * 1_000_000)
    }

    /// Milliseconds.
    pub const fn millis(ms: u64) -> Timer {
        Timer::from_micros(ms * 1_000)
    }

    /// Microseconds.
    pub const fn micros(self) -> u64 {
        self.0.get() - 1
    }

    /// As a `std::time::Duration`.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.micros())
    }

    /// Parses keepalived's timer syntax: decimal seconds, at most 6 decimals (µs resolution).
    pub fn parse(s: &str) -> Option<Timer> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut micros: u64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            if i < 6 {
                micros = micros * 10 + u64::from(b - b'0');
            }
        }
        for _ in frac.len().min(6)..6 {
            micros *= 10;
        }
        let us = whole.checked_mul(1_000_000)?.checked_add(micros)?;
        (us <= Timer::MAX_MICROS).then(|| Timer::from_micros(us))
    }
}

impl Default for Timer {
    fn default() -> Timer {
        Timer::from_micros(0)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timer").field(&self.micros()).finish()
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.micros() / 1_000_000;
        let us = self.micros() % 1_000_000;
        if us == 0 {
            write!(f, "{s}")
        } else {
            let frac = format!("{us:06}");
            write!(f, "{s}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Timer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Seconds as a float: exact for every µs value below 2^53 µs.
        #[allow(clippy::cast_precision_loss)]
        s.serialize_f64(self.micros() as f64 / 1e6)
    }
}

impl<'de> Deserialize<'de> for Timer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !v.is_finite() || !(0.0..=1e12).contains(&v) {
            return Err(serde::de::Error::custom(
                "a timer is a number of seconds, 0 or more",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Timer::from_micros((v * 1e6).round() as u64))
    }
}

/// Where an object was defined, for diagnostics found after parsing. Not part of the model:
/// it compares equal to every other `Pos` and is not serialised.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pos(pub Loc);

impl PartialEq for Pos {
    fn eq(&self, _: &Pos) -> bool {
        true
    }
}

impl Eq for Pos {}

impl Serialize for Pos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for Pos {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Pos::default())
    }
}

/// True for a `Pos`, so that `#[serde(skip_serializing_if = "is_pos")]` can hide it.
pub fn is_pos(_: &Pos) -> bool {
    true
}

/// Gives a type that reads from and displays as one string (`fn parse(&str) -> Result<Self,
/// String>` and `Display`) the conversions that `#[serde(try_from = "String", into =
/// "String")]` needs.
macro_rules! string_form {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                <$t>::parse(&s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}
pub(crate) use string_form;

/// Where each keyword of a block was given, for checks made after parsing. Keyword names are
/// the keyword table's own strings, so recording one allocates nothing. Not part of the model:
/// it compares equal to every other `KeywordPositions` and is not serialised.
#[derive(Debug, Clone, Default)]
pub struct KeywordPositions(Vec<(&'static str, Pos)>);

impl PartialEq for KeywordPositions {
    fn eq(&self, _: &KeywordPositions) -> bool {
        true
    }
}

impl Eq for KeywordPositions {}

impl KeywordPositions {
    /// Records where keyword `kw` was (the last one wins); names not in the keyword table are
    /// not recorded.
    pub fn set(&mut self, kw: &str, pos: Pos) {
        if let Some(k) = crate::keywords::intern(kw) {
            self.insert(k, pos);
        }
    }

    /// Records where `kw` was and returns where it was before, if it was given already.
    pub fn insert(&mut self, kw: &'static str, pos: Pos) -> Option<Pos> {
        match self.0.iter_mut().find(|(k, _)| *k == kw) {
            Some(slot) => Some(std::mem::replace(&mut slot.1, pos)),
            None => {
                self.0.push((kw, pos));
                None
            }
        }
    }

    /// Where `kw` was last given.
    pub fn get(&self, kw: &str) -> Option<Pos> {
        self.0.iter().find(|(k, _)| *k == kw).map(|(_, p)| *p)
    }

    /// Where `kw` was last given, or a position with no line.
    pub fn pos(&self, kw: &str) -> Pos {
        self.get(kw).unwrap_or_default()
    }

    /// True when `kw` was given.
    pub fn has(&self, kw: &str) -> bool {
        self.get(kw).is_some()
    }

    /// Where the first of `kws` that was given is, else `or`.
    pub fn at(&self, kws: &[&str], or: Pos) -> Pos {
        kws.iter().find_map(|k| self.get(k)).unwrap_or(or)
    }
}

/// A script to run: the command as written, its argv, and the user and group to run it as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The command string as written (after unquoting).
    pub command: String,
    /// The command split shell-style into argv (argv[0] is the program).
    pub argv: Vec<String>,
    /// Run as this user instead of `script_user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Run with this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where the script was configured.
    #[serde(default, skip_serializing_if = "is_pos")]
    pub pos: Pos,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_parses_seconds_with_microsecond_resolution() {
        assert_eq!(Timer::parse("1"), Some(Timer::secs(1)));
        assert_eq!(Timer::parse("0.01"), Some(Timer::millis(10)));
        assert_eq!(Timer::parse(".5"), Some(Timer::millis(500)));
        assert_eq!(
            Timer::parse("1.0000019"),
            Some(Timer::from_micros(1_000_001))
        );
        assert_eq!(Timer::parse("abc"), None);
        assert_eq!(Timer::parse("-1"), None);
        assert_eq!(Timer::parse(""), None);
        assert_eq!(Timer::parse("."), None);
        assert_eq!(Timer::parse("99999999999999999999"), None);
        assert_eq!(Timer::parse("0"), Some(Timer::default()));
        assert_eq!(Timer::default().micros(), 0);
        assert_eq!(Timer::from_micros(u64::MAX).micros(), Timer::MAX_MICROS);
        assert_eq!(std::mem::size_of::<Option<Timer>>(), 8);
    }

    #[test]
    fn timer_displays_as_seconds() {
        assert_eq!(Timer::millis(100).to_string(), "0.1");
        assert_eq!(Timer::secs(3).to_string(), "3");
        assert_eq!(Timer::from_micros(1_000_001).to_string(), "1.000001");
    }
}
