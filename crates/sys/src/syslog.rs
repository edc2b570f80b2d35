//! A syslog client for the parent that survives a syslogd (or journald) restart and never
//! blocks.
//!
//! Each message is one datagram to `/dev/log`:
//!
//! ```text
//! <PRI>tag[pid]: message          PRI = facility * 8 + severity
//! ```
//!
//! There is no timestamp: writing local time needs the time zone rules, and both rsyslog
//! and journald stamp a message without one with its time of arrival. Newlines in a
//! message become spaces; a datagram is capped at [`MAX_DATAGRAM`] bytes.
//!
//! The socket is non-blocking: when the daemon's queue is full the message is dropped and
//! counted ([`Syslog::dropped`]). Any other send error (the daemon restarted: `ECONNREFUSED`,
//! `ENOENT`, `ENOTCONN`) makes the client reconnect once and retry, then drop the message.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where the system logger listens.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// Longest datagram sent (the default message size limit of rsyslog).
pub const MAX_DATAGRAM: usize = 8192;

/// A syslog facility, as chosen with keepalived's `-S` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facility {
    /// `user` (1).
    User,
    /// `daemon` (3), the default.
    Daemon,
    /// `local0` .. `local7` (16 .. 23), given as the number 0 .. 7.
    Local(u8),
}

impl Facility {
    /// The facility's number (the PRI value is `number * 8 + severity`).
    pub fn number(self) -> u8 {
        match self {
            Self::User => 1,
            Self::Daemon => 3,
            Self::Local(n) => 16 + n.min(7),
        }
    }
}

/// A facility name that `-S` does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown syslog facility {0:?} (expected 0-7, local0-local7, user or daemon)")]
pub struct UnknownFacility(pub String);

impl FromStr for Facility {
    type Err = UnknownFacility;

    /// `0`..`7` (keepalived's `-S N`, meaning local0..local7), `local0`..`local7`, `user`,
    /// `daemon`; case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let local = |digits: &str| match digits.parse::<u8>() {
            Ok(n) if n <= 7 && digits.len() == 1 => Some(Self::Local(n)),
            _ => None,
        };
        match lower.as_str() {
            "user" => Ok(Self::User),
            "daemon" => Ok(Self::Daemon),
            other => other
                .strip_prefix("local")
                .map_or_else(|| local(other), local)
                .ok_or_else(|| UnknownFacility(s.to_string())),
        }
    }
}

/// A syslog severity; the discriminant is the syslog number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 0: the system is unusable.
    Emergency = 0,
    /// 1: act immediately.
    Alert = 1,
    /// 2: critical condition.
    Critical = 2,
    /// 3: error.
    Error = 3,
    /// 4: warning.
    Warning = 4,
    /// 5: normal but significant.
    Notice = 5,
    /// 6: informational.
    Info = 6,
    /// 7: debugging.
    Debug = 7,
}

impl Severity {
    /// The severity a `log` record of this level is sent with.
    pub fn from_log_level(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::Error,
            log::Level::Warn => Self::Warning,
            log::Level::Info => Self::Info,
            log::Level::Debug | log::Level::Trace => Self::Debug,
        }
    }

    /// The severity of a syslog number (0..=7).
    pub fn from_number(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Emergency,
            1 => Self::Alert,
            2 => Self::Critical,
            3 => Self::Error,
            4 => Self::Warning,
            5 => Self::Notice,
            6 => Self::Info,
            7 => Self::Debug,
            _ => return None,
        })
    }

    /// The syslog number (0..=7).
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// A connection to the system logger.
#[derive(Debug)]
pub struct Syslog {
    facility: Facility,
    path: PathBuf,
    socket: Option<UnixDatagram>,
    dropped: u64,
}

impl Syslog {
    /// A client for `socket` (normally [`DEFAULT_SOCKET`]). Connecting may fail now (no
    /// logger yet): it is retried at each message.
    pub fn new(facility: Facility, socket: PathBuf) -> Self {
        let mut syslog = Self {
            facility,
            path: socket,
            socket: None,
            dropped: 0,
        };
        syslog.socket = connect(&syslog.path).ok();
        syslog
    }

    /// Sends one message; never blocks and never fails (an undeliverable message is counted
    /// in [`dropped`](Self::dropped)).
    pub fn send(&mut self, severity: Severity, tag: &str, pid: u32, msg: &str) {
        let datagram = format_message(self.facility, severity, tag, pid, msg);
        let first = match &self.socket {
            Some(socket) => socket.send(&datagram).map(drop),
            None => Err(io::ErrorKind::NotConnected.into()),
        };
        let result = match first {
            Ok(()) => Ok(()),
            // The logger is alive but its queue is full: never wait for it.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            // Restarted or not there: reconnect once and retry.
            Err(_) => match connect(&self.path) {
                Ok(socket) => {
                    let retried = socket.send(&datagram).map(drop);
                    self.socket = Some(socket);
                    retried
                }
                Err(e) => {
                    self.socket = None;
                    Err(e)
                }
            },
        };
        if result.is_err() {
            self.dropped += 1;
        }
    }

    /// Number of messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The facility messages are sent with.
    pub fn facility(&self) -> Facility {
        self.facility
    }
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    socket.connect(path)?;
    Ok(socket)
}

/// `<PRI>tag[pid]: msg`, newlines replaced, capped at [`MAX_DATAGRAM`] bytes.
fn format_message(
    facility: Facility,
    severity: Severity,
    tag: &str,
    pid: u32,
    msg: &str,
) -> Vec<u8> {
    let pri = u32::from(facility.number()) * 8 + u32::from(severity.number());
    let mut line = format!("<{pri}>{tag}[{pid}]: {msg}");
    line = line.replace(['\n', '\r'], " ");
    if line.len() > MAX_DATAGRAM {
        let mut cut = MAX_DATAGRAM;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::TestDir;
    use std::time::{Duration, Instant};

    fn bind(path: &Path) -> UnixDatagram {
        let socket = UnixDatagram::bind(path).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        socket
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = vec![0u8; 2 * MAX_DATAGRAM];
        let n = socket.recv(&mut buf).expect("recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn message_survives_a_syslogd_restart() {
        let dir = TestDir::new("syslog");
        let path = dir.join("log");
        let first = bind(&path);
        let mut syslog = Syslog::new(Facility::Daemon, path.clone());
        syslog.send(
            Severity::Info,
            "Keepalived_vrrp",
            42,
            "VRRP_Instance(VI_1) MASTER",
        );
        assert_eq!(
            recv(&first),
            "<30>Keepalived_vrrp[42]: VRRP_Instance(VI_1) MASTER"
        );
        // The logger restarts: its socket is removed and bound again.
        drop(first);
        std::fs::remove_file(&path).expect("remove");
        let second = bind(&path);
        syslog.send(Severity::Error, "Keepalived", 7, "after restart");
        assert_eq!(recv(&second), "<27>Keepalived[7]: after restart");
        assert_eq!(syslog.dropped(), 0);
    }

    #[test]
    fn missing_logger_drops_and_counts_then_recovers() {
        let dir = TestDir::new("syslog-missing");
        let path = dir.join("log");
        let mut syslog = Syslog::new(Facility::Local(3), path.clone());
        syslog.send(Severity::Warning, "t", 1, "lost");
        syslog.send(Severity::Warning, "t", 1, "lost too");
        assert_eq!(syslog.dropped(), 2);
        let receiver = bind(&path);
        syslog.send(Severity::Debug, "t", 1, "found");
        // local3 = 19: 19 * 8 + 7
        assert_eq!(recv(&receiver), "<159>t[1]: found");
        assert_eq!(syslog.dropped(), 2);
    }

    #[test]
    fn a_full_logger_never_blocks_the_sender() {
        let dir = TestDir::new("syslog-full");
        let path = dir.join("log");
        let receiver = bind(&path);
        let mut syslog = Syslog::new(Facility::Daemon, path);
        let started = Instant::now();
        let message = "x".repeat(1000);
        for _ in 0..5000 {
            syslog.send(Severity::Info, "flood", 1, &message);
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(syslog.dropped() > 0, "queue never filled");
        assert!(recv(&receiver).starts_with("<30>flood[1]: x"));
    }

    #[test]
    fn messages_are_one_line_and_capped() {
        let line = format_message(Facility::User, Severity::Notice, "tag", 5, "a\nb\r\nc");
        assert_eq!(line, b"<13>tag[5]: a b  c");
        let long = "é".repeat(MAX_DATAGRAM);
        let capped = format_message(Facility::Daemon, Severity::Info, "tag", 5, &long);
        assert!(capped.len() <= MAX_DATAGRAM && capped.len() > MAX_DATAGRAM - 2);
        assert!(String::from_utf8(capped).is_ok());
    }

    #[test]
    fn facilities_parse_like_keepalived_s_option() {
        assert_eq!("0".parse(), Ok(Facility::Local(0)));
        assert_eq!("7".parse(), Ok(Facility::Local(7)));
        assert_eq!("local5".parse(), Ok(Facility::Local(5)));
        assert_eq!("LOCAL1".parse(), Ok(Facility::Local(1)));
        assert_eq!("daemon".parse(), Ok(Facility::Daemon));
        assert_eq!("user".parse(), Ok(Facility::User));
        for bad in ["8", "local8", "local", "07", "kern", "", "-1"] {
            assert_eq!(
                bad.parse::<Facility>(),
                Err(UnknownFacility(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(Facility::Local(0).number(), 16);
        assert_eq!(Facility::Local(7).number(), 23);
    }

    #[test]
    fn severities_map_from_log_levels() {
        assert_eq!(Severity::from_log_level(log::Level::Error), Severity::Error);
        assert_eq!(
            Severity::from_log_level(log::Level::Warn),
            Severity::Warning
        );
        assert_eq!(Severity::from_log_level(log::Level::Info), Severity::Info);
        assert_eq!(Severity::from_log_level(log::Level::Trace), Severity::Debug);
        for n in 0..8 {
            assert_eq!(Severity::from_number(n).map(Severity::number), Some(n));
        }
        assert_eq!(Severity::from_number(8), None);
    }
}
