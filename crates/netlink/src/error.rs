//! The errors of requests, grouped by where they happen: before sending (the request cannot
//! be expressed), in the socket, in the kernel's answer, or in the kernel's refusal.

use std::time::Duration;

use nix::errno::Errno;

/// Why a request to the kernel failed.
///
/// `what` names the request in words (`add address 192.0.2.10/24 on ifindex 3`), so the
/// message is enough for a log line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be expressed (a prefix too long, a label on an IPv6 address, a
    /// gateway on a blackhole route, ...); nothing was sent.
    #[error("{what}: {reason}")]
    Invalid {
        /// The request.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A socket call failed (socket, bind, setsockopt, send, recvmsg).
    #[error("netlink socket: {call}: {errno}")]
    Socket {
        /// The call that failed.
        call: &'static str,
        /// Its error.
        errno: Errno,
    },
    /// The kernel refused the request.
    #[error("{what}: {errno}")]
    Kernel {
        /// The request.
        what: String,
        /// The kernel's error.
        errno: Errno,
    },
    /// No answer came within the timeout; the socket was reopened so that a late answer
    /// cannot be taken for the answer to a later request.
    #[error("{what}: no answer from the kernel within {} ms", timeout.as_millis())]
    Timeout {
        /// The request.
        what: String,
        /// The time waited.
        timeout: Duration,
    },
    /// The kernel's answer could not be read (truncated or malformed); the socket was
    /// reopened.
    #[error("{what}: unreadable answer from the kernel: {detail}")]
    Decode {
        /// The request.
        what: String,
        /// What was wrong with the answer.
        detail: String,
    },
}

impl Error {
    /// The errno the kernel answered, if it refused the request.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Kernel { errno, .. } | Error::Socket { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The level to log this error at: a link that vanished under a request (ENODEV) is a
    /// warning, the rest are errors.
    pub fn level(&self) -> log::Level {
        match self {
            Error::Kernel {
                errno: Errno::ENODEV,
                ..
            } => log::Level::Warn,
            _ => log::Level::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_request_and_the_errno() {
        let e = Error::Kernel {
            what: "add address 192.0.2.10/24 on ifindex 3".into(),
            errno: Errno::EPERM,
        };
        assert_eq!(
            e.to_string(),
            "add address 192.0.2.10/24 on ifindex 3: EPERM: Operation not permitted"
        );
        assert_eq!(e.errno(), Some(Errno::EPERM));
        assert_eq!(e.level(), log::Level::Error);
        let e = Error::Timeout {
            what: "dump links".into(),
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(
            e.to_string(),
            "dump links: no answer from the kernel within 1500 ms"
        );
        assert_eq!(e.errno(), None);
        let e = Error::Kernel {
            what: "set link 7 up".into(),
            errno: Errno::ENODEV,
        };
        assert_eq!(e.level(), log::Level::Warn);
    }
}
