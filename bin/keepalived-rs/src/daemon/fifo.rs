//! Notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`, `lvs_notify_fifo`): one line per event,
//! in keepalived's format, written by the parent without ever blocking its loop.
//!
//! # Line formats
//!
//! As keepalived writes them:
//!
//! ```text
//! INSTANCE "VI_1" MASTER 100                            vrrp_line: TYPE "NAME" STATE PRIORITY
//! GROUP "G1" BACKUP 0                                   (a sync group's priority is always 0)
//! VS [192.0.2.10]:tcp:80 UP                             lvs_line, a virtual server's quorum
//! VS FWM 7 DOWN                                           a fwmark service
//! VS [web_group]:0 UP                                     a virtual_server group
//! RS [192.0.2.1]:tcp:8080 [192.0.2.10]:tcp:80 DOWN      lvs_line, a real server of that service
//! ```
//!
//! Addresses are bracketed for both families (`[2001:db8::1]:tcp:80`); the protocol word is
//! `tcp`, `udp`, `sctp`, or `none` when the service has none. keepalived writes the LVS
//! lines with a trailing NUL byte after the newline (it passes the buffer size, not the
//! string length, to write(2)); keepalived-rs writes the line only.
//!
//! # The FIFO
//!
//! [`Fifo::create`] makes the FIFO if it is missing, with mode 0644 (less the umask) and the
//! configured owner, as keepalived does (the reader is often `script_user`, not root, and
//! 0644 lets it read without a configured owner). A path that exists and is not a FIFO
//! (a regular file, a symlink, ...) is refused, and so is a FIFO owned by anyone but the
//! daemon or the configured owner: it could have been planted to collect events.
//!
//! The write end is opened `O_WRONLY | O_NONBLOCK | O_NOFOLLOW`, lazily. keepalived opens
//! its FIFOs read-write, so that the kernel buffers events while nobody reads; keepalived-rs
//! keeps them in its own bounded backlog instead, which has the same effect (a reader that
//! comes late gets the latest events) with a bound and a drop counter it controls:
//!
//! - no reader yet (`ENXIO` on open): the line is queued, and the open is retried at every
//!   later write or [`Fifo::flush`];
//! - the reader is slow (`EAGAIN`) or took part of a long line: the rest is queued;
//! - the reader went away (`EPIPE`): the write end is closed and reopened later; a line
//!   the old reader got only part of is dropped (the next reader would see half a line);
//! - the backlog is bounded (64 KiB by default, the size of a pipe's buffer): when it is
//!   full the **oldest** whole lines are dropped and counted, the newest state survives.
//!
//! Writing to a FIFO whose reader left raises SIGPIPE: the daemon must keep SIGPIPE ignored
//! (the Rust runtime's default, and keepalived's behaviour).
//!
//! The loop calls [`Fifo::write_line`] for each event and [`Fifo::flush`] from a timer (or
//! when [`Fifo::as_fd`] is writable) while [`Fifo::pending`] is not zero.
//!
//! A FIFO the daemon created is removed when the [`Fifo`] is dropped (as keepalived does on
//! stop), so that a reader looping on reopen does not block on a FIFO nobody will write.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use keepalived_config::lvs::Protocol;
use nix::sys::stat::Mode;

/// The mode a new FIFO is created with (then less the umask), as keepalived.
pub const FIFO_MODE: u32 = 0o644;

/// The default bound of the backlog, in bytes.
pub const DEFAULT_BACKLOG: usize = 64 * 1024;

/// The object a VRRP FIFO line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoObject {
    /// A `vrrp_instance` (`INSTANCE`).
    Instance,
    /// A `vrrp_sync_group` (`GROUP`).
    Group,
}

impl FifoObject {
    /// The first word of the line.
    pub fn as_str(self) -> &'static str {
        match self {
            FifoObject::Instance => "INSTANCE",
            FifoObject::Group => "GROUP",
        }
    }
}

/// The event word of a VRRP FIFO line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoState {
    /// Entered MASTER.
    Master,
    /// Entered BACKUP.
    Backup,
    /// Entered FAULT.
    Fault,
    /// Stopped (shutdown).
    Stop,
    /// Removed by a reload.
    Deleted,
    /// A master received an advert of lower priority (`MASTER_RX_LOWER_PRI`).
    MasterRxLowerPri,
    /// A master's priority changed (`vrrp_notify_priority_changes`).
    MasterPriority,
    /// A backup's priority changed (`vrrp_notify_priority_changes`).
    BackupPriority,
}

impl FifoState {
    /// The word keepalived writes.
    pub fn as_str(self) -> &'static str {
        match self {
            FifoState::Master => "MASTER",
            FifoState::Backup => "BACKUP",
            FifoState::Fault => "FAULT",
            FifoState::Stop => "STOP",
            FifoState::Deleted => "DELETED",
            FifoState::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            FifoState::MasterPriority => "MASTER_PRIORITY",
            FifoState::BackupPriority => "BACKUP_PRIORITY",
        }
    }
}

/// How an LVS FIFO line names a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualServerName<'a> {
    /// `virtual_server IP PORT`.
    Address(SocketAddr),
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME` (keepalived prints the port of a group's unset address:
    /// always 0).
    Group(&'a str),
}

/// `TYPE "NAME" STATE PRIORITY\n`: a VRRP instance or sync group event.
///
/// The name is written as it is, except that a line break in it becomes a space, so that
/// one event stays one line.
pub fn vrrp_line(object: FifoObject, name: &str, state: FifoState, priority: u8) -> String {
    format!(
        "{} \"{}\" {} {priority}\n",
        object.as_str(),
        one_line(name),
        state.as_str()
    )
}

/// `VS SERVICE UP|DOWN\n` (virtual server quorum) when `real_server` is `None`, else
/// `RS REAL SERVICE UP|DOWN\n`, with the service's `protocol` (`None`: `none`).
pub fn lvs_line(
    virtual_server: &VirtualServerName<'_>,
    protocol: Option<Protocol>,
    real_server: Option<SocketAddr>,
    up: bool,
) -> String {
    let mut line = String::new();
    match real_server {
        None => line.push_str("VS "),
        Some(rs) => {
            line.push_str("RS ");
            push_trio(&mut line, rs.ip(), protocol, rs.port());
            line.push(' ');
        }
    }
    match virtual_server {
        VirtualServerName::Address(vs) => push_trio(&mut line, vs.ip(), protocol, vs.port()),
        VirtualServerName::Fwmark(mark) => {
            let _ = write!(line, "FWM {mark}");
        }
        VirtualServerName::Group(name) => {
            let _ = write!(line, "[{}]:0", one_line(name));
        }
    }
    line.push_str(if up { " UP\n" } else { " DOWN\n" });
    line
}

/// `[ADDR]:PROTO:PORT`.
fn push_trio(line: &mut String, addr: IpAddr, protocol: Option<Protocol>, port: u16) {
    let protocol = match protocol {
        Some(Protocol::Tcp) => "tcp",
        Some(Protocol::Udp) => "udp",
        Some(Protocol::Sctp) => "sctp",
        None => "none",
    };
    let _ = write!(line, "[{addr}]:{protocol}:{port}");
}

fn one_line(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['\n', '\r']) {
        name.replace(['\n', '\r'], " ").into()
    } else {
        name.into()
    }
}

/// Why a FIFO cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    /// mkfifo failed (other than because the path exists).
    #[error("cannot create notify fifo {path}: {source}")]
    Create {
        /// The FIFO's path.
        path: PathBuf,
        /// What mkfifo said.
        source: io::Error,
    },
    /// The path exists and is not a FIFO (a file, a directory, a symlink, ...).
    #[error("notify fifo {path} exists and is not a fifo")]
    NotAFifo {
        /// The FIFO's path.
        path: PathBuf,
    },
    /// The FIFO belongs to neither the daemon nor the configured owner.
    #[error("notify fifo {path} is owned by uid {uid}, not by keepalived-rs or the fifo user")]
    NotOurs {
        /// The FIFO's path.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// The FIFO could not be examined or opened.
    #[error("cannot open notify fifo {path}: {source}")]
    Open {
        /// The FIFO's path.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl FifoError {
    /// The log level of this error: every one of them leaves the FIFO unusable.
    pub fn level(&self) -> log::Level {
        log::Level::Error
    }
}

/// The configured owner of a FIFO (`notify_fifo FIFO [USER [GROUP]]`), resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FifoOwner {
    /// The owning user.
    pub uid: u32,
    /// The owning group.
    pub gid: u32,
}

/// Whether everything written so far has reached the FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushState {
    /// The backlog is empty.
    Flushed,
    /// Lines wait for a reader, or for a slow reader to make room.
    Pending,
}

/// One notify FIFO, written without blocking.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    owner: Option<FifoOwner>,
    /// The write end, while a reader is there.
    file: Option<File>,
    /// The (device, inode) of the FIFO the daemon created, to remove it on drop.
    created: Option<(u64, u64)>,
    /// Lines not yet written, oldest first.
    backlog: VecDeque<Box<[u8]>>,
    /// Bytes of the front line already written.
    written: usize,
    /// Bytes in `backlog`.
    backlog_bytes: usize,
    max_backlog: usize,
    dropped: u64,
}

impl Fifo {
    /// Create the FIFO at `path` if it is missing (mode [`FIFO_MODE`] less the umask, owned
    /// by `owner` if given), check an existing one, and open it if a reader is there.
    pub fn create(path: impl Into<PathBuf>, owner: Option<FifoOwner>) -> Result<Fifo, FifoError> {
        let path = path.into();
        let mut created = None;
        match nix::unistd::mkfifo(&path, Mode::from_bits_truncate(FIFO_MODE)) {
            Ok(()) => {
                let meta = std::fs::symlink_metadata(&path).map_err(|source| FifoError::Open {
                    path: path.clone(),
                    source,
                })?;
                created = Some((meta.dev(), meta.ino()));
                if let Some(owner) = owner {
                    if let Err(e) =
                        std::os::unix::fs::lchown(&path, Some(owner.uid), Some(owner.gid))
                    {
                        log::warn!(
                            "cannot give notify fifo {} to {}:{}: {e}",
                            path.display(),
                            owner.uid,
                            owner.gid
                        );
                    }
                }
            }
            Err(nix::errno::Errno::EEXIST) => {
                let meta = std::fs::symlink_metadata(&path).map_err(|source| FifoError::Open {
                    path: path.clone(),
                    source,
                })?;
                check_fifo(&path, &meta, owner)?;
            }
            Err(e) => {
                return Err(FifoError::Create {
                    path,
                    source: e.into(),
                });
            }
        }
        let mut fifo = Fifo {
            path,
            owner,
            file: None,
            created,
            backlog: VecDeque::new(),
            written: 0,
            backlog_bytes: 0,
            max_backlog: DEFAULT_BACKLOG,
            dropped: 0,
        };
        fifo.open()?;
        Ok(fifo)
    }

    /// Bound the backlog to `max_bytes` (at least one line is always kept).
    #[cfg_attr(not(test), allow(dead_code))] // for tests and the control socket
    pub fn with_backlog(mut self, max_bytes: usize) -> Self {
        self.max_backlog = max_bytes;
        self.trim();
        self
    }

    /// Queue `line` (a newline is added if it lacks one) and write what can be written.
    pub fn write_line(&mut self, line: &str) -> FlushState {
        let mut bytes = line.as_bytes().to_vec();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        self.backlog_bytes += bytes.len();
        self.backlog.push_back(bytes.into_boxed_slice());
        self.trim();
        self.flush()
    }

    /// Write as much of the backlog as the reader takes, opening the FIFO if needed.
    /// Never blocks.
    pub fn flush(&mut self) -> FlushState {
        while !self.backlog.is_empty() {
            if self.file.is_none() {
                match self.open() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        log::log!(e.level(), "{e}");
                        break;
                    }
                }
            }
            let Some(file) = self.file.as_mut() else {
                break;
            };
            let Some(front) = self.backlog.front() else {
                break;
            };
            match file.write(&front[self.written..]) {
                Ok(n) => {
                    self.written += n;
                    if self.written >= front.len() {
                        self.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        log::warn!("notify fifo {}: {e}", self.path.display());
                    }
                    self.file = None;
                    if self.written > 0 {
                        // The old reader got part of it; the next would see half a line.
                        self.pop_front();
                        self.dropped += 1;
                    }
                    // Reopen at the next write or flush, not in a loop here.
                    break;
                }
            }
        }
        if self.backlog.is_empty() {
            FlushState::Flushed
        } else {
            FlushState::Pending
        }
    }

    /// Lines waiting to be written.
    pub fn pending(&self) -> usize {
        self.backlog.len()
    }

    /// Lines dropped so far (backlog full, or cut by a reader that went away).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write end while a reader is connected, to wait for it to become writable.
    #[cfg_attr(not(test), allow(dead_code))] // for tests and the control socket
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_ref().map(|f| f.as_fd())
    }

    /// Open the write end. `Ok(false)`: no reader yet.
    fn open(&mut self) -> Result<bool, FifoError> {
        let file = match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(FifoError::NotAFifo {
                    path: self.path.clone(),
                });
            }
            Err(source) => {
                return Err(FifoError::Open {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let meta = file.metadata().map_err(|source| FifoError::Open {
            path: self.path.clone(),
            source,
        })?;
        check_fifo(&self.path, &meta, self.owner)?;
        self.file = Some(file);
        Ok(true)
    }

    fn pop_front(&mut self) {
        if let Some(line) = self.backlog.pop_front() {
            self.backlog_bytes -= line.len();
        }
        self.written = 0;
    }

    /// Drop the oldest whole lines until the backlog fits (never the line being written,
    /// never the newest one).
    fn trim(&mut self) {
        let first_droppable = usize::from(self.written > 0);
        while self.backlog_bytes > self.max_backlog && self.backlog.len() > first_droppable + 1 {
            if let Some(line) = self.backlog.remove(first_droppable) {
                self.backlog_bytes -= line.len();
                self.dropped += 1;
            }
        }
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        self.file = None;
        let Some((dev, ino)) = self.created else {
            return;
        };
        // Only the FIFO this daemon made, not whatever may have replaced it.
        if std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_fifo() && m.dev() == dev && m.ino() == ino)
        {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("cannot remove notify fifo {}: {e}", self.path.display());
            }
        }
    }
}

/// Refuse what is not a FIFO, or a FIFO neither the daemon nor the owner owns.
fn check_fifo(
    path: &Path,
    meta: &std::fs::Metadata,
    owner: Option<FifoOwner>,
) -> Result<(), FifoError> {
    if !meta.file_type().is_fifo() {
        return Err(FifoError::NotAFifo {
            path: path.to_path_buf(),
        });
    }
    let uid = meta.uid();
    if uid != nix::unistd::geteuid().as_raw() && owner.is_none_or(|o| o.uid != uid) {
        return Err(FifoError::NotOurs {
            path: path.to_path_buf(),
            uid,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    /// Bound on every wait of these tests.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("keepalived-fifo-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the temp dir");
            TempDir(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A reader thread: opens the FIFO (without blocking, before `start` returns), then
    /// reads until it has `lines` lines or PATIENCE runs out, optionally starting only
    /// when told to.
    struct Reader {
        go: mpsc::Sender<()>,
        thread: JoinHandle<Vec<String>>,
    }

    impl Reader {
        fn start(path: &Path, lines: usize) -> Reader {
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
                .expect("open the fifo for reading");
            let (go, wait) = mpsc::channel::<()>();
            let thread = std::thread::spawn(move || {
                let mut file = file;
                let _ = wait.recv_timeout(PATIENCE);
                let deadline = Instant::now() + PATIENCE;
                let mut text = Vec::new();
                let mut buf = [0u8; 4096];
                while text.iter().filter(|&&b| b == b'\n').count() < lines
                    && Instant::now() < deadline
                {
                    match file.read(&mut buf) {
                        Ok(0) => std::thread::sleep(Duration::from_millis(2)),
                        Ok(n) => text.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => panic!("read: {e}"),
                    }
                }
                String::from_utf8(text)
                    .expect("utf-8 lines")
                    .lines()
                    .map(str::to_string)
                    .collect()
            });
            Reader { go, thread }
        }

        /// Start reading now.
        fn go(&self) {
            let _ = self.go.send(());
        }

        fn lines(self) -> Vec<String> {
            self.go();
            self.thread.join().expect("the reader thread")
        }
    }

    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").expect("read status");
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .expect("Umask line");
        u32::from_str_radix(line.trim(), 8).expect("octal umask")
    }

    #[test]
    fn vrrp_lines_are_keepalived_lines() {
        assert_eq!(
            vrrp_line(FifoObject::Instance, "VI_1", FifoState::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            vrrp_line(FifoObject::Group, "G1", FifoState::Backup, 0),
            "GROUP \"G1\" BACKUP 0\n"
        );
        let words: Vec<&str> = [
            FifoState::Fault,
            FifoState::Stop,
            FifoState::Deleted,
            FifoState::MasterRxLowerPri,
            FifoState::MasterPriority,
            FifoState::BackupPriority,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(
            words,
            [
                "FAULT",
                "STOP",
                "DELETED",
                "MASTER_RX_LOWER_PRI",
                "MASTER_PRIORITY",
                "BACKUP_PRIORITY"
            ]
        );
        assert_eq!(
            vrrp_line(FifoObject::Instance, "bad\nname", FifoState::Fault, 255),
            "INSTANCE \"bad name\" FAULT 255\n"
        );
    }

    #[test]
    fn lvs_lines_are_keepalived_lines() {
        let vs = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 80);
        let rs = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 8080);
        let name = VirtualServerName::Address(vs);
        assert_eq!(
            lvs_line(&name, Some(Protocol::Tcp), None, true),
            "VS [192.0.2.10]:tcp:80 UP\n"
        );
        assert_eq!(
            lvs_line(&name, Some(Protocol::Tcp), Some(rs), false),
            "RS [192.0.2.1]:tcp:8080 [192.0.2.10]:tcp:80 DOWN\n"
        );
        let vs6 = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            53,
        );
        let rs6 = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            53,
        );
        assert_eq!(
            lvs_line(
                &VirtualServerName::Address(vs6),
                Some(Protocol::Udp),
                Some(rs6),
                true
            ),
            "RS [2001:db8::2]:udp:53 [2001:db8::1]:udp:53 UP\n"
        );
        assert_eq!(
            lvs_line(&VirtualServerName::Fwmark(7), None, None, false),
            "VS FWM 7 DOWN\n"
        );
        assert_eq!(
            lvs_line(
                &VirtualServerName::Fwmark(7),
                Some(Protocol::Sctp),
                Some(rs),
                true
            ),
            "RS [192.0.2.1]:sctp:8080 FWM 7 UP\n"
        );
        assert_eq!(
            lvs_line(
                &VirtualServerName::Group("web"),
                Some(Protocol::Tcp),
                None,
                true
            ),
            "VS [web]:0 UP\n"
        );
    }

    #[test]
    fn create_makes_a_fifo_with_keepalived_mode_and_the_owner() {
        let dir = TempDir::new("create");
        let path = dir.path("notify");
        let owner = FifoOwner {
            uid: 65534,
            gid: 65534,
        };
        let fifo = Fifo::create(&path, Some(owner)).expect("create");
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.permissions().mode() & 0o777, FIFO_MODE & !umask());
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(fifo.pending(), 0);
        assert!(fifo.as_fd().is_none(), "opened with no reader");
        drop(fifo);
        assert!(!path.exists(), "the fifo it created is removed on drop");
    }

    #[test]
    fn an_existing_fifo_is_used_and_kept() {
        let dir = TempDir::new("existing");
        let path = dir.path("notify");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        std::os::unix::fs::lchown(&path, Some(65534), Some(65534)).expect("chown");
        // Owned by the configured user: accepted.
        let owner = FifoOwner {
            uid: 65534,
            gid: 65534,
        };
        let reader = Reader::start(&path, 1);
        let mut fifo = Fifo::create(&path, Some(owner)).expect("an owned fifo");
        assert_eq!(
            fifo.write_line("INSTANCE \"VI_1\" MASTER 100\n"),
            FlushState::Flushed
        );
        assert_eq!(reader.lines(), ["INSTANCE \"VI_1\" MASTER 100"]);
        drop(fifo);
        assert!(path.exists(), "a fifo it did not create is left alone");
    }

    #[test]
    fn what_is_not_our_fifo_is_refused() {
        let dir = TempDir::new("refuse");
        let file = dir.path("file");
        std::fs::write(&file, "x").expect("write");
        assert!(matches!(
            Fifo::create(&file, None),
            Err(FifoError::NotAFifo { .. })
        ));
        assert!(matches!(
            Fifo::create(&dir.0, None),
            Err(FifoError::NotAFifo { .. })
        ));
        let fifo = dir.path("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let link = dir.path("link");
        std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
        assert!(matches!(
            Fifo::create(&link, None),
            Err(FifoError::NotAFifo { .. })
        ));
        std::os::unix::fs::lchown(&fifo, Some(4242), None).expect("chown");
        let err = Fifo::create(&fifo, None).expect_err("a stranger's fifo");
        assert!(matches!(err, FifoError::NotOurs { uid: 4242, .. }), "{err}");
        // Nothing was removed.
        assert!(file.exists() && fifo.exists() && link.exists());
        let missing_dir = dir.path("no/such/dir/fifo");
        assert!(matches!(
            Fifo::create(&missing_dir, None),
            Err(FifoError::Create { .. })
        ));
    }

    #[test]
    fn lines_wait_for_a_reader_and_arrive_in_order() {
        let dir = TempDir::new("late");
        let path = dir.path("notify");
        let mut fifo = Fifo::create(&path, None).expect("create");
        assert_eq!(fifo.write_line("one"), FlushState::Pending);
        assert_eq!(fifo.write_line("two\n"), FlushState::Pending);
        assert_eq!(fifo.pending(), 2);
        assert_eq!(fifo.flush(), FlushState::Pending);

        let reader = Reader::start(&path, 3);
        assert_eq!(fifo.flush(), FlushState::Flushed);
        assert!(fifo.as_fd().is_some());
        assert_eq!(fifo.write_line("three"), FlushState::Flushed);
        assert_eq!(reader.lines(), ["one", "two", "three"]);
        assert_eq!(fifo.dropped(), 0);
    }

    #[test]
    fn a_reader_that_leaves_loses_nothing_written_after_it() {
        let dir = TempDir::new("epipe");
        let path = dir.path("notify");
        let mut fifo = Fifo::create(&path, None).expect("create");
        let first = Reader::start(&path, 1);
        assert_eq!(fifo.write_line("before"), FlushState::Flushed);
        assert_eq!(first.lines(), ["before"]); // the reader closes its end

        // EPIPE: the line stays queued, the write end is closed.
        assert_eq!(fifo.write_line("while away"), FlushState::Pending);
        assert!(fifo.as_fd().is_none());
        assert_eq!(fifo.flush(), FlushState::Pending);

        let second = Reader::start(&path, 2);
        assert_eq!(fifo.write_line("after"), FlushState::Flushed);
        assert_eq!(second.lines(), ["while away", "after"]);
        assert_eq!(fifo.dropped(), 0);
    }

    #[test]
    fn a_full_backlog_drops_the_oldest_lines() {
        let dir = TempDir::new("bound");
        let path = dir.path("notify");
        // Room for three 9-byte lines.
        let mut fifo = Fifo::create(&path, None).expect("create").with_backlog(30);
        for n in 0..10 {
            assert_eq!(
                fifo.write_line(&format!("line {n:03}")),
                FlushState::Pending
            );
        }
        assert_eq!(fifo.pending(), 3);
        assert_eq!(fifo.dropped(), 7);
        let reader = Reader::start(&path, 3);
        assert_eq!(fifo.flush(), FlushState::Flushed);
        assert_eq!(reader.lines(), ["line 007", "line 008", "line 009"]);
    }

    #[test]
    fn a_reader_that_does_not_read_never_blocks_the_writer() {
        let dir = TempDir::new("full");
        let path = dir.path("notify");
        let mut fifo = Fifo::create(&path, None)
            .expect("create")
            .with_backlog(1024 * 1024);
        let count = 2000;
        // Connected, but not reading until told to.
        let reader = Reader::start(&path, count + 1);
        // A line longer than the pipe's buffer: part of it is written, the rest waits.
        let long = "x".repeat(200 * 1024);
        let started = Instant::now();
        assert_eq!(fifo.write_line(&long), FlushState::Pending);
        for n in 0..count {
            assert_eq!(fifo.write_line(&format!("event {n}")), FlushState::Pending);
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the writer blocked"
        );
        assert_eq!(fifo.pending(), count + 1);

        // Now the reader drains the pipe: everything arrives whole and in order.
        reader.go();
        let deadline = Instant::now() + PATIENCE;
        while fifo.flush() == FlushState::Pending {
            assert!(Instant::now() < deadline, "the backlog never drained");
            std::thread::sleep(Duration::from_millis(1));
        }
        let lines = reader.lines();
        assert_eq!(lines.len(), count + 1);
        assert!(lines[0] == long, "the long line arrived cut");
        for (n, line) in lines[1..].iter().enumerate() {
            assert_eq!(line, &format!("event {n}"));
        }
        assert_eq!(fifo.dropped(), 0);
    }
}
