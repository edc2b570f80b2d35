//! The parent's log: its own records and the lines its children write to their log pipes,
//! sent to syslog (facility `-S`, reconnecting after a syslogd restart) unless `-G`, and to
//! the console with `-l`. Each line is tagged with the process that wrote it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use keepalived_sys::syslog::{Facility, Severity, Syslog};

/// Where the log goes.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Syslog facility (`-S`), default daemon.
    pub facility: Facility,
    /// Send to syslog (`-G` turns it off).
    pub syslog: bool,
    /// The syslog socket (default /dev/log).
    pub syslog_socket: PathBuf,
    /// Also print on stderr (`-l`).
    pub console: bool,
    /// Most verbose level of the parent's own records.
    pub level: log::LevelFilter,
}

struct Sinks {
    syslog: Option<Syslog>,
    console: bool,
}

static SINKS: OnceLock<Mutex<Sinks>> = OnceLock::new();

struct ParentLogger;

impl log::Log for ParentLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            emit(
                "keepalived-rs",
                std::process::id(),
                Severity::from_log_level(record.level()),
                &record.args().to_string(),
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: ParentLogger = ParentLogger;

/// Installs the parent's logger (once; later calls only change the level).
pub fn init(settings: &LogSettings) {
    let sinks = Sinks {
        syslog: settings
            .syslog
            .then(|| Syslog::new(settings.facility, settings.syslog_socket.clone())),
        console: settings.console,
    };
    if SINKS.set(Mutex::new(sinks)).is_ok() {
        let _ = log::set_logger(&LOGGER);
    }
    log::set_max_level(settings.level);
}

/// Sends one line, from the parent or a child (`tag[pid]`), to every sink.
pub fn emit(tag: &str, pid: u32, severity: Severity, msg: &str) {
    let Some(sinks) = SINKS.get() else {
        return;
    };
    let Ok(mut s) = sinks.lock() else {
        return;
    };
    if s.console {
        let _ = writeln!(std::io::stderr().lock(), "{tag}[{pid}]: {msg}");
    }
    if let Some(sys) = s.syslog.as_mut() {
        sys.send(severity, tag, pid, msg);
    }
}
