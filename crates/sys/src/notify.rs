//! systemd's notify protocol (`sd_notify`), without a crate.
//!
//! The parent builds its [`Notifier`] first thing in `main` ([`Notifier::from_env`]), which
//! takes `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` out of the environment, so no
//! child or script ever sees them (with the default `NotifyAccess=main` systemd would
//! ignore them anyway, but a child must not be able to speak for the service).
//!
//! ```text
//! start:   READY=1
//! SIGHUP:  RELOADING=1 + MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>, then READY=1
//! stop:    STOPPING=1
//! loop:    WATCHDOG=1 at least every watchdog_interval() (half of WATCHDOG_USEC)
//! ```
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The environment variables systemd passes to a notify service.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// Sends state changes to systemd; does nothing when not started by systemd.
#[derive(Debug)]
pub struct Notifier {
    /// The socket and systemd's address, when `NOTIFY_SOCKET` was usable.
    target: Option<(UnixDatagram, SocketAddr)>,
    /// Half of `WATCHDOG_USEC`, when the watchdog is meant for this process.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and removes them from the
    /// environment.
    ///
    /// Call it first thing in `main`, before any thread exists: the environment is only
    /// changed while the process has a single thread (otherwise it is left as it is, which
    /// is still safe for children, spawned with an empty environment).
    pub fn from_env() -> Self {
        let socket = std::env::var_os(NOTIFY_SOCKET);
        let usec = std::env::var(WATCHDOG_USEC).ok();
        let pid = std::env::var(WATCHDOG_PID).ok();
        if crate::confine::thread_count() == Ok(1) {
            for name in [NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID] {
                remove_env(name);
            }
        }
        Self::from_values(socket.as_deref(), usec.as_deref(), pid.as_deref())
    }

    /// Builds a notifier from the values of `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
    /// `WATCHDOG_PID`. A socket that is neither an absolute path nor an abstract name
    /// (`@name`) disables notification; the watchdog is enabled only when `WATCHDOG_USEC`
    /// is a positive number and `WATCHDOG_PID` is absent or this process's pid.
    pub fn from_values(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
    ) -> Self {
        let target = notify_socket.and_then(|s| {
            let bytes = s.as_bytes();
            let addr = match bytes.first() {
                Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]).ok()?,
                Some(b'/') => SocketAddr::from_pathname(s).ok()?,
                _ => return None,
            };
            let socket = UnixDatagram::unbound().ok()?;
            socket
                .set_write_timeout(Some(Duration::from_secs(1)))
                .ok()?;
            Some((socket, addr))
        });
        let ours = watchdog_pid.is_none_or(|pid| pid.trim().parse() == Ok(std::process::id()));
        let watchdog = watchdog_usec
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|&usec| usec > 0 && ours)
            .map(|usec| Duration::from_micros(usec / 2));
        Self { target, watchdog }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Self {
        Self {
            target: None,
            watchdog: None,
        }
    }

    /// Whether notifications go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one notification (`KEY=value` lines); succeeds without sending when disabled.
    pub fn send(&self, state: &str) -> io::Result<()> {
        match &self.target {
            Some((socket, addr)) => socket.send_to_addr(state.as_bytes(), addr).map(drop),
            None => Ok(()),
        }
    }

    /// How often to send [`watchdog`](Self::watchdog): half of `WATCHDOG_USEC`, when
    /// systemd watches this process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// `READY=1`: start-up or reload finished.
    pub fn ready(&self) -> io::Result<()> {
        self.send("READY=1")
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (required by `Type=notify-reload`).
    pub fn reloading(&self) -> io::Result<()> {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
        let usec = now.tv_sec() as u64 * 1_000_000 + now.tv_nsec() as u64 / 1_000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"))
    }

    /// `STOPPING=1`: shutdown began.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// `WATCHDOG=1`: the main loop is alive.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// `STATUS=<text>` (newlines become spaces).
    pub fn status(&self, text: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", text.replace('\n', " ")))
    }
}

/// Removes one variable from the environment.
fn remove_env(name: &str) {
    // SAFETY: only called by `from_env` after checking that the process has one thread, so
    // nothing reads the environment concurrently.
    unsafe { std::env::remove_var(name) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::TestDir;
    use crate::spawn::testing::in_child;

    fn receiver(dir: &TestDir) -> (UnixDatagram, std::path::PathBuf) {
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        (socket, path)
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn states_reach_the_socket() {
        let dir = TestDir::new("notify");
        let (socket, path) = receiver(&dir);
        let n = Notifier::from_values(Some(path.as_os_str()), None, None);
        assert!(n.is_enabled());
        n.ready().expect("ready");
        assert_eq!(recv(&socket), "READY=1");
        n.stopping().expect("stopping");
        assert_eq!(recv(&socket), "STOPPING=1");
        n.watchdog().expect("watchdog");
        assert_eq!(recv(&socket), "WATCHDOG=1");
        n.status("two\nlines").expect("status");
        assert_eq!(recv(&socket), "STATUS=two lines");
        let before = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
        n.reloading().expect("reloading");
        let got = recv(&socket);
        let usec: u64 = got
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .expect("format")
            .parse()
            .expect("number");
        let before_usec = before.tv_sec() as u64 * 1_000_000 + before.tv_nsec() as u64 / 1000;
        assert!(
            usec >= before_usec && usec < before_usec + 5_000_000,
            "{usec} vs {before_usec}"
        );
    }

    #[test]
    fn abstract_socket_names_work() {
        let name = format!("ka-sys-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let socket = UnixDatagram::bind_addr(&addr).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let n = Notifier::from_values(Some(OsStr::new(&format!("@{name}"))), None, None);
        n.ready().expect("ready");
        assert_eq!(recv(&socket), "READY=1");
    }

    #[test]
    fn disabled_without_a_usable_socket() {
        for socket in [None, Some(""), Some("relative/path"), Some("vsock:2:1")] {
            let n = Notifier::from_values(socket.map(OsStr::new), None, None);
            assert!(!n.is_enabled(), "{socket:?}");
            n.ready().expect("no-op");
        }
        assert!(!Notifier::disabled().is_enabled());
    }

    #[test]
    fn watchdog_only_for_this_process() {
        let me = std::process::id().to_string();
        let half = Some(Duration::from_secs(15));
        assert_eq!(
            Notifier::from_values(None, Some("30000000"), None).watchdog_interval(),
            half
        );
        assert_eq!(
            Notifier::from_values(None, Some("30000000"), Some(&me)).watchdog_interval(),
            half
        );
        assert_eq!(
            Notifier::from_values(None, Some("30000000"), Some("1")).watchdog_interval(),
            None
        );
        assert_eq!(
            Notifier::from_values(None, Some("0"), None).watchdog_interval(),
            None
        );
        assert_eq!(
            Notifier::from_values(None, Some("soon"), None).watchdog_interval(),
            None
        );
        assert_eq!(
            Notifier::from_values(None, None, None).watchdog_interval(),
            None
        );
    }

    #[test]
    fn from_env_takes_the_variables_out_of_the_environment() {
        let dir = TestDir::new("notify-env");
        let (socket, path) = receiver(&dir);
        let result = in_child(Duration::from_secs(20), move || {
            let pid = std::process::id().to_string();
            set_env(NOTIFY_SOCKET, path.as_os_str());
            set_env(WATCHDOG_USEC, OsStr::new("4000000"));
            set_env(WATCHDOG_PID, OsStr::new(&pid));
            let n = Notifier::from_env();
            for name in [NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID] {
                if std::env::var_os(name).is_some() {
                    return Err(format!("{name} still set"));
                }
            }
            if n.watchdog_interval() != Some(Duration::from_secs(2)) {
                return Err(format!("watchdog {:?}", n.watchdog_interval()));
            }
            n.ready().map_err(|e| e.to_string())
        });
        assert_eq!(result, Ok(()));
        assert_eq!(recv(&socket), "READY=1");
    }

    /// Sets a variable (in a forked, single-threaded child only).
    fn set_env(name: &str, value: &OsStr) {
        // SAFETY: called in a forked child that has a single thread.
        unsafe { std::env::set_var(name, value) }
    }
}
