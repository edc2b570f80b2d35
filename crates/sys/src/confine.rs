//! Confinement of a child process: what each child calls first thing in `main`.
//!
//! [`confine`] turns a freshly spawned child (root, fds 0-3, empty environment) into an
//! unprivileged process that keeps only the capabilities its job needs:
//!
//! ```text
//!  1. refuse to run with more than one thread (capabilities and prctl are per thread)
//!  2. close every descriptor >= 4
//!  3. clear the environment
//!  4. setgroups([]), setresgid(gid)
//!  5. PR_SET_KEEPCAPS 1, drop every capability not kept from the bounding set (still root)
//!  6. setresuid(uid)
//!  7. effective = permitted = inheritable = kept capabilities; ambient set cleared
//!  8. PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, PR_SET_PDEATHSIG SIGTERM (after the uid
//!     change, which resets it)
//!  9. getppid() must still be the parent that spawned us (it may have died before step 8)
//! 10. optionally a seccomp filter: socket()/socketpair() of AF_INET/AF_INET6 and
//!     io_uring_setup() fail with EACCES (for a process that needs netlink only)
//! ```
//!
//! The parent passes the capabilities on the child's command line ([`caps_arg`] /
//! [`parse_caps`]). [`proc_status`] reads back what the kernel says about a process, and the
//! `try_*` functions are probes a child runs in its diagnostic mode.
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};

pub use caps::Capability;

/// What a child keeps: its uid/gid, its capabilities, whether it may create IP sockets, and
/// the pid of the parent that spawned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// User id to run as (real, effective and saved).
    pub uid: u32,
    /// Group id to run as (real, effective and saved); supplementary groups are cleared.
    pub gid: u32,
    /// Capabilities kept in the effective, permitted, inheritable and bounding sets.
    pub caps: Vec<Capability>,
    /// Install a seccomp filter that refuses AF_INET/AF_INET6 sockets.
    pub deny_inet_sockets: bool,
    /// The parent's pid (passed on the command line); the child refuses to run under
    /// another parent.
    pub parent: i32,
}

/// Which step of [`confine`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfineError {
    /// More than one thread exists: capabilities and prctl settings are per thread.
    #[error("confine must run before any thread is started ({0} threads)")]
    Threaded(usize),
    /// Reading the thread count or closing inherited descriptors failed.
    #[error("closing inherited descriptors: {0}")]
    CloseFds(Errno),
    /// `setgroups([])` failed.
    #[error("clearing supplementary groups: {0}")]
    SetGroups(Errno),
    /// `setresgid` failed.
    #[error("setresgid({gid}): {errno}")]
    SetGid {
        /// The group id asked for.
        gid: u32,
        /// The error.
        errno: Errno,
    },
    /// `PR_SET_KEEPCAPS` failed.
    #[error("PR_SET_KEEPCAPS: {0}")]
    KeepCaps(Errno),
    /// Dropping a capability from the bounding set failed.
    #[error("dropping capability {cap} from the bounding set: {errno}")]
    Bounding {
        /// The capability number.
        cap: u8,
        /// The error.
        errno: Errno,
    },
    /// `setresuid` failed.
    #[error("setresuid({uid}): {errno}")]
    SetUid {
        /// The user id asked for.
        uid: u32,
        /// The error.
        errno: Errno,
    },
    /// `capset` (effective, permitted, inheritable) failed.
    #[error("setting capabilities: {0}")]
    Capabilities(Errno),
    /// Clearing the ambient set failed.
    #[error("clearing ambient capabilities: {0}")]
    Ambient(Errno),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("PR_SET_NO_NEW_PRIVS: {0}")]
    NoNewPrivs(Errno),
    /// `PR_SET_DUMPABLE` failed.
    #[error("PR_SET_DUMPABLE: {0}")]
    Dumpable(Errno),
    /// `PR_SET_PDEATHSIG` failed.
    #[error("PR_SET_PDEATHSIG: {0}")]
    DeathSignal(Errno),
    /// The parent that spawned us is gone (we were re-parented).
    #[error("parent {expected} is gone (parent is now {actual})")]
    ParentGone {
        /// The pid given in [`Confinement::parent`].
        expected: i32,
        /// What `getppid()` returned.
        actual: i32,
    },
    /// Installing the seccomp filter failed.
    #[error("installing the seccomp filter: {0}")]
    Seccomp(Errno),
    /// The seccomp filter is written for x86_64 and aarch64 only; refusing elsewhere.
    #[error("the socket filter is not available on this architecture")]
    UnsupportedArch,
}

impl ConfineError {
    /// keepalived's permanent exit code for this failure: 4 (missing permission) when the
    /// kernel refused a privileged step, 1 (fatal) otherwise. The parent does not respawn
    /// a child that exits with either.
    pub fn exit_code(&self) -> u8 {
        let errno = match self {
            Self::SetGroups(e)
            | Self::KeepCaps(e)
            | Self::Capabilities(e)
            | Self::Ambient(e)
            | Self::Seccomp(e) => *e,
            Self::SetGid { errno, .. }
            | Self::SetUid { errno, .. }
            | Self::Bounding { errno, .. } => *errno,
            _ => return 1,
        };
        if matches!(errno, Errno::EPERM | Errno::EACCES) {
            4
        } else {
            1
        }
    }
}

/// Confines the calling process as described in the module documentation.
///
/// Call it first thing in a child's `main`, before any thread exists and before opening
/// anything (it closes every descriptor >= 4). Stops at the first failing step.
pub fn confine(c: &Confinement) -> Result<(), ConfineError> {
    let threads = thread_count().map_err(ConfineError::CloseFds)?;
    if threads != 1 {
        return Err(ConfineError::Threaded(threads));
    }
    close_from(4).map_err(ConfineError::CloseFds)?;
    clear_environment();
    nix::unistd::setgroups(&[]).map_err(ConfineError::SetGroups)?;
    let gid = Gid::from_raw(c.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|errno| ConfineError::SetGid { gid: c.gid, errno })?;
    prctl::set_keepcaps(true).map_err(ConfineError::KeepCaps)?;
    let keep = cap_mask(&c.caps);
    for cap in 0..64u8 {
        if keep & (1 << cap) != 0 {
            continue;
        }
        match prctl_raw(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0) {
            Ok(_) => {}
            // Past the kernel's last capability.
            Err(Errno::EINVAL) => break,
            Err(errno) => return Err(ConfineError::Bounding { cap, errno }),
        }
    }
    let uid = Uid::from_raw(c.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|errno| ConfineError::SetUid { uid: c.uid, errno })?;
    capset(keep).map_err(ConfineError::Capabilities)?;
    prctl_raw(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )
    .map_err(ConfineError::Ambient)?;
    prctl::set_keepcaps(false).map_err(ConfineError::KeepCaps)?;
    prctl::set_no_new_privs().map_err(ConfineError::NoNewPrivs)?;
    prctl::set_dumpable(false).map_err(ConfineError::Dumpable)?;
    prctl::set_pdeathsig(Signal::SIGTERM).map_err(ConfineError::DeathSignal)?;
    let actual = nix::unistd::getppid().as_raw();
    if actual != c.parent {
        return Err(ConfineError::ParentGone {
            expected: c.parent,
            actual,
        });
    }
    if c.deny_inet_sockets {
        let arch = AUDIT_ARCH.ok_or(ConfineError::UnsupportedArch)?;
        install_filter(&inet_socket_filter(arch)).map_err(ConfineError::Seccomp)?;
    }
    Ok(())
}

/// Number of threads of this process (`/proc/self/stat`, field 20).
pub(crate) fn thread_count() -> Result<usize, Errno> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or(Errno::EIO)?;
    // After ')': field 3 (state) is index 0, so field 20 is index 17.
    rest.split_whitespace()
        .nth(17)
        .and_then(|n| n.parse().ok())
        .ok_or(Errno::EIO)
}

/// Closes every descriptor >= `first`.
fn close_from(first: u32) -> Result<(), Errno> {
    // SAFETY: closes descriptors only; `confine` runs before the program owns any
    // descriptor >= 4, so no live Rust object refers to one of them.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    Errno::result(r).map(drop)
}

/// Empties the environment.
fn clear_environment() {
    // SAFETY: `confine` has checked that this process has a single thread, so no other
    // thread can read the environment concurrently.
    unsafe {
        libc::clearenv();
    }
}

/// A `prctl` with two integer arguments.
fn prctl_raw(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Result<i32, Errno> {
    // SAFETY: the options used here take integer arguments only.
    let r = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    Errno::result(r)
}

/// Sets the effective, permitted and inheritable sets of this thread to `mask`.
fn capset(mask: u64) -> Result<(), Errno> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |m: u32| Data {
        effective: m,
        permitted: m,
        inheritable: m,
    };
    let data = [half(mask as u32), half((mask >> 32) as u32)];
    // SAFETY: version 3 of capset reads one header and two data structs, which live on the
    // stack for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    Errno::result(r).map(drop)
}

/// `AUDIT_ARCH_*` of the architecture the seccomp filter is written for.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E); // EM_X86_64 | 64BIT | LE
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7); // EM_AARCH64 | 64BIT | LE
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// The seccomp program: refuse IP sockets and io_uring (which can create sockets without
/// `socket()`), kill the process for a foreign architecture or x32 system call, allow the
/// rest.
fn inet_socket_filter(arch: u32) -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    // struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (low 32 bits first: both
    // architectures are little-endian; the domain is an int).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG0_LOW: u32 = 16;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        /* 0 */ op(LD_W_ABS, 0, 0, ARCH),
        /* 1 */ op(JEQ_K, 0, 10, arch), // else -> 12 kill
        /* 2 */ op(LD_W_ABS, 0, 0, NR),
        /* 3 */ op(JSET_K, 8, 0, X32_SYSCALL_BIT), // -> 12 kill
        /* 4 */ op(JEQ_K, 2, 0, libc::SYS_socket as u32), // -> 7
        /* 5 */ op(JEQ_K, 1, 0, libc::SYS_socketpair as u32), // -> 7
        /* 6 */
        op(JEQ_K, 4, 3, libc::SYS_io_uring_setup as u32), // -> 11 deny, 10 allow
        /* 7 */ op(LD_W_ABS, 0, 0, ARG0_LOW),
        /* 8 */ op(JEQ_K, 2, 0, libc::AF_INET as u32), // -> 11 deny
        /* 9 */ op(JEQ_K, 1, 0, libc::AF_INET6 as u32), // -> 11 deny, 10 allow
        /* 10 */ op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        /* 11 */ op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        /* 12 */ op(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

/// Installs a seccomp filter on this thread (no_new_privs must be set).
fn install_filter(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies the program during the call; `prog` and `program` outlive it.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(r).map(drop)
}

/// The bit mask of a list of capabilities (as in `/proc/<pid>/status`).
pub fn cap_mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |mask, cap| mask | cap.bitmask())
}

/// A capability name in a `--caps` list that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability {0:?}")]
pub struct UnknownCapability(pub String);

/// Parses a comma-separated capability list as written by [`caps_arg`]: `net_admin,net_raw`
/// (case-insensitive, `cap_` prefix optional); `none` or an empty string is the empty list.
pub fn parse_caps(list: &str) -> Result<Vec<Capability>, UnknownCapability> {
    let list = list.trim();
    if list.is_empty() || list.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut caps = Vec::new();
    for name in list.split(',') {
        let name = name.trim();
        let bare = name
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("cap_"))
            .map_or(name, |_| &name[4..]);
        let cap: Capability = format!("CAP_{}", bare.to_ascii_uppercase())
            .parse()
            .map_err(|_| UnknownCapability(name.to_string()))?;
        if !caps.contains(&cap) {
            caps.push(cap);
        }
    }
    Ok(caps)
}

/// Writes a capability list for a child's command line (`net_admin,net_raw`, or `none`).
pub fn caps_arg(caps: &[Capability]) -> String {
    if caps.is_empty() {
        return "none".to_string();
    }
    caps.iter()
        .map(|c| {
            let name = c.to_string().to_ascii_lowercase();
            name.strip_prefix("cap_")
                .map(str::to_string)
                .unwrap_or(name)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The credentials and confinement of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcStatus {
    /// Real, effective, saved and filesystem uid.
    pub uid: [u32; 4],
    /// Real, effective, saved and filesystem gid.
    pub gid: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Inheritable capabilities.
    pub cap_inh: u64,
    /// Permitted capabilities.
    pub cap_prm: u64,
    /// Effective capabilities.
    pub cap_eff: u64,
    /// Bounding set.
    pub cap_bnd: u64,
    /// Ambient capabilities.
    pub cap_amb: u64,
    /// `NoNewPrivs` is set.
    pub no_new_privs: bool,
    /// Seccomp mode: 0 none, 1 strict, 2 filter.
    pub seccomp: u32,
}

impl ProcStatus {
    /// Parses the text of a `/proc/<pid>/status` file; every field of [`ProcStatus`] must be
    /// present.
    pub fn parse(text: &str) -> io::Result<Self> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let mut status = ProcStatus::default();
        let mut seen = 0u16;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let hex = |v: &str| u64::from_str_radix(v, 16).map_err(|_| bad(key));
            let ids = |v: &str| -> io::Result<[u32; 4]> {
                let list: Vec<u32> = v
                    .split_whitespace()
                    .map(|n| n.parse().map_err(|_| bad(key)))
                    .collect::<io::Result<_>>()?;
                list.try_into().map_err(|_| bad(key))
            };
            let bit = match key {
                "Uid" => {
                    status.uid = ids(value)?;
                    1
                }
                "Gid" => {
                    status.gid = ids(value)?;
                    2
                }
                "Groups" => {
                    status.groups = value
                        .split_whitespace()
                        .map(|n| n.parse().map_err(|_| bad(key)))
                        .collect::<io::Result<_>>()?;
                    4
                }
                "CapInh" => {
                    status.cap_inh = hex(value)?;
                    8
                }
                "CapPrm" => {
                    status.cap_prm = hex(value)?;
                    16
                }
                "CapEff" => {
                    status.cap_eff = hex(value)?;
                    32
                }
                "CapBnd" => {
                    status.cap_bnd = hex(value)?;
                    64
                }
                "CapAmb" => {
                    status.cap_amb = hex(value)?;
                    128
                }
                "NoNewPrivs" => {
                    status.no_new_privs = value == "1";
                    256
                }
                "Seccomp" => {
                    status.seccomp = value.parse().map_err(|_| bad(key))?;
                    512
                }
                _ => 0,
            };
            seen |= bit;
        }
        if seen != 1023 {
            return Err(bad("missing fields in /proc/<pid>/status"));
        }
        Ok(status)
    }
}

/// Reads `/proc/<pid>/status`.
pub fn proc_status(pid: Pid) -> io::Result<ProcStatus> {
    ProcStatus::parse(&std::fs::read_to_string(format!(
        "/proc/{}/status",
        pid.as_raw()
    ))?)
}

/// The root-owned, mode 0644 file that [`try_write_root_file`] opens: it exists on every
/// Linux system with users.
pub const ROOT_OWNED_FILE: &str = "/etc/passwd";

/// Probe: can this process open [`ROOT_OWNED_FILE`] for writing? It is opened in append
/// mode without truncation and closed at once; no byte is ever written. A uid-0 process
/// succeeds even without capabilities (it owns the file); an unprivileged uid gets
/// `EACCES`.
pub fn try_write_root_file() -> io::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(ROOT_OWNED_FILE)
        .map(drop)
}

/// Probe: can this process create a raw ICMP socket (`CAP_NET_RAW`, not refused by the
/// seccomp filter)?
pub fn try_raw_socket() -> io::Result<()> {
    try_socket(
        nix::sys::socket::SockType::Raw,
        Some(nix::sys::socket::SockProtocol::Icmp),
    )
}

/// Probe: can this process create a TCP socket (not refused by the seccomp filter)?
pub fn try_tcp_socket() -> io::Result<()> {
    try_socket(nix::sys::socket::SockType::Stream, None)
}

fn try_socket(
    ty: nix::sys::socket::SockType,
    protocol: Option<nix::sys::socket::SockProtocol>,
) -> io::Result<()> {
    nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        ty,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        protocol,
    )
    .map(drop)
    .map_err(io::Error::from)
}

impl fmt::Display for Confinement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "uid {} gid {} caps {}{}",
            self.uid,
            self.gid,
            caps_arg(&self.caps),
            if self.deny_inet_sockets {
                " no-inet-sockets"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::testing::in_child;
    use std::os::fd::IntoRawFd;
    use std::time::Duration;

    const NOBODY: u32 = 65534;

    fn check(ok: bool, what: &str) -> Result<(), String> {
        if ok { Ok(()) } else { Err(what.to_string()) }
    }

    fn errno_of(r: io::Result<()>) -> Option<i32> {
        r.err().and_then(|e| e.raw_os_error())
    }

    /// Runs `confine(c)` in a forked child, then `after` there.
    fn confined(
        c: Confinement,
        after: impl FnOnce(ProcStatus) -> Result<(), String>,
    ) -> Result<(), String> {
        in_child(Duration::from_secs(20), move || {
            confine(&c).map_err(|e| format!("confine: {e}"))?;
            let status = proc_status(nix::unistd::getpid()).map_err(|e| e.to_string())?;
            after(status)
        })
    }

    #[test]
    fn unprivileged_child_keeps_only_net_raw() {
        let parent = nix::unistd::getpid().as_raw();
        let result = in_child(Duration::from_secs(20), move || {
            // Something to be closed, and an environment to be cleared.
            let leaked = std::fs::File::open("/dev/null")
                .map_err(|e| e.to_string())?
                .into_raw_fd();
            check(leaked >= 4, "leaked fd below 4")?;
            check(std::env::vars_os().count() > 0, "test environment empty")?;
            confine(&Confinement {
                uid: NOBODY,
                gid: NOBODY,
                caps: vec![Capability::CAP_NET_RAW],
                deny_inet_sockets: false,
                parent,
            })
            .map_err(|e| format!("confine: {e}"))?;
            let s = proc_status(nix::unistd::getpid()).map_err(|e| e.to_string())?;
            let raw = Capability::CAP_NET_RAW.bitmask();
            check(s.uid == [NOBODY; 4], &format!("uid {:?}", s.uid))?;
            check(s.gid == [NOBODY; 4], &format!("gid {:?}", s.gid))?;
            check(s.groups.is_empty(), "groups")?;
            check(s.cap_eff == raw, &format!("CapEff {:x}", s.cap_eff))?;
            check(s.cap_prm == raw, &format!("CapPrm {:x}", s.cap_prm))?;
            check(s.cap_inh == raw, &format!("CapInh {:x}", s.cap_inh))?;
            check(s.cap_bnd == raw, &format!("CapBnd {:x}", s.cap_bnd))?;
            check(s.cap_amb == 0, &format!("CapAmb {:x}", s.cap_amb))?;
            check(s.no_new_privs, "NoNewPrivs")?;
            check(s.seccomp == 0, "Seccomp")?;
            check(
                prctl::get_pdeathsig() == Ok(Some(Signal::SIGTERM)),
                "pdeathsig",
            )?;
            check(prctl::get_dumpable() == Ok(false), "dumpable")?;
            check(prctl::get_keepcaps() == Ok(false), "keepcaps")?;
            check(std::env::vars_os().count() == 0, "environment not cleared")?;
            check(
                !std::path::Path::new(&format!("/proc/self/fd/{leaked}")).exists(),
                "fd >= 4 still open",
            )?;
            check(try_raw_socket().is_ok(), "raw socket refused")?;
            check(try_tcp_socket().is_ok(), "tcp socket refused")?;
            check(
                errno_of(try_write_root_file()) == Some(libc::EACCES),
                "root file writable",
            )?;
            Ok(())
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn child_without_caps_cannot_open_a_raw_socket() {
        let parent = nix::unistd::getpid().as_raw();
        let c = Confinement {
            uid: NOBODY,
            gid: NOBODY,
            caps: vec![],
            deny_inet_sockets: false,
            parent,
        };
        let result = confined(c, |s| {
            check(
                s.cap_eff == 0 && s.cap_prm == 0 && s.cap_bnd == 0,
                "caps left",
            )?;
            check(
                errno_of(try_raw_socket()) == Some(libc::EPERM),
                "raw socket without CAP_NET_RAW",
            )?;
            check(try_tcp_socket().is_ok(), "tcp socket refused")
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn socket_filter_refuses_ip_sockets_only() {
        let parent = nix::unistd::getpid().as_raw();
        // uid 0 without capabilities: still owns root's files (why children get own uids).
        let c = Confinement {
            uid: 0,
            gid: 0,
            caps: vec![Capability::CAP_NET_RAW],
            deny_inet_sockets: true,
            parent,
        };
        let result = confined(c, |s| {
            use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
            check(s.seccomp == 2, "Seccomp not in filter mode")?;
            check(
                errno_of(try_raw_socket()) == Some(libc::EACCES),
                "raw socket allowed",
            )?;
            check(
                errno_of(try_tcp_socket()) == Some(libc::EACCES),
                "tcp socket allowed",
            )?;
            let v6 = socket(
                AddressFamily::Inet6,
                SockType::Datagram,
                SockFlag::empty(),
                None,
            );
            check(v6.err() == Some(Errno::EACCES), "inet6 socket allowed")?;
            let pair = nix::sys::socket::socketpair(
                AddressFamily::Inet,
                SockType::Stream,
                None,
                SockFlag::empty(),
            );
            check(pair.err() == Some(Errno::EACCES), "inet socketpair allowed")?;
            let unix = socket(
                AddressFamily::Unix,
                SockType::Datagram,
                SockFlag::empty(),
                None,
            );
            check(unix.is_ok(), "unix socket refused")?;
            let netlink = socket(
                AddressFamily::Netlink,
                SockType::Raw,
                SockFlag::empty(),
                SockProtocol::NetlinkRoute,
            );
            check(netlink.is_ok(), "netlink socket refused")?;
            check(
                try_write_root_file().is_ok(),
                "uid 0 without caps can still open root's file",
            )
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn a_different_parent_is_refused() {
        let result = in_child(Duration::from_secs(20), || {
            let err = confine(&Confinement {
                uid: NOBODY,
                gid: NOBODY,
                caps: vec![],
                deny_inet_sockets: false,
                parent: 1,
            })
            .err();
            match err {
                Some(e @ ConfineError::ParentGone { expected: 1, .. }) if e.exit_code() == 1 => {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn an_unprivileged_process_fails_with_missing_permission() {
        let parent = nix::unistd::getpid().as_raw();
        let result = in_child(Duration::from_secs(20), move || {
            let mut c = Confinement {
                uid: NOBODY,
                gid: NOBODY,
                caps: vec![],
                deny_inet_sockets: false,
                parent,
            };
            confine(&c).map_err(|e| e.to_string())?;
            c.uid = 0;
            c.gid = 0;
            match confine(&c) {
                Err(e @ ConfineError::SetGroups(Errno::EPERM)) if e.exit_code() == 4 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn a_threaded_process_is_refused_before_any_change() {
        let result = in_child(Duration::from_secs(20), || {
            let _thread = std::thread::spawn(|| std::thread::sleep(Duration::from_secs(30)));
            let uid_before = nix::unistd::getuid();
            match confine(&Confinement {
                uid: NOBODY,
                gid: NOBODY,
                caps: vec![],
                deny_inet_sockets: false,
                parent: nix::unistd::getppid().as_raw(),
            }) {
                Err(ConfineError::Threaded(2)) => {}
                other => return Err(format!("{other:?}")),
            }
            check(nix::unistd::getuid() == uid_before, "uid changed")?;
            check(std::env::vars_os().count() > 0, "environment cleared")
        });
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn caps_round_trip_through_the_command_line() {
        let caps = vec![Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW];
        assert_eq!(caps_arg(&caps), "net_admin,net_raw");
        assert_eq!(parse_caps("net_admin,net_raw"), Ok(caps.clone()));
        assert_eq!(parse_caps(" CAP_NET_ADMIN , net_raw,net_raw"), Ok(caps));
        assert_eq!(caps_arg(&[]), "none");
        assert_eq!(parse_caps("none"), Ok(vec![]));
        assert_eq!(parse_caps(""), Ok(vec![]));
        assert_eq!(
            parse_caps("net_admin,net_rw"),
            Err(UnknownCapability("net_rw".into()))
        );
        assert_eq!(
            parse_caps("net_admin,"),
            Err(UnknownCapability(String::new()))
        );
        assert_eq!(
            cap_mask(&[Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW]),
            (1 << 12) | (1 << 13)
        );
    }

    #[test]
    fn exit_codes_follow_keepalived() {
        assert_eq!(ConfineError::SetGroups(Errno::EPERM).exit_code(), 4);
        assert_eq!(
            ConfineError::SetUid {
                uid: 1,
                errno: Errno::EPERM
            }
            .exit_code(),
            4
        );
        assert_eq!(ConfineError::Seccomp(Errno::EINVAL).exit_code(), 1);
        assert_eq!(ConfineError::Threaded(3).exit_code(), 1);
        assert_eq!(ConfineError::UnsupportedArch.exit_code(), 1);
    }

    #[test]
    fn proc_status_parses_the_fields() {
        let text = "Name:\tx\nUid:\t0\t1\t2\t3\nGid:\t4\t5\t6\t7\nGroups:\t10 20 \n\
                    CapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n\
                    CapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\n\
                    CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n";
        let s = ProcStatus::parse(text).expect("parse");
        assert_eq!(s.uid, [0, 1, 2, 3]);
        assert_eq!(s.gid, [4, 5, 6, 7]);
        assert_eq!(s.groups, [10, 20]);
        assert_eq!(
            (s.cap_prm, s.cap_eff, s.cap_bnd),
            (0x3000, 0x2000, 0x1ff_ffff_ffff)
        );
        assert!(s.no_new_privs);
        assert_eq!(s.seccomp, 2);
        assert!(ProcStatus::parse("Uid:\t0\t0\t0\t0\n").is_err());
        let own = proc_status(nix::unistd::getpid()).expect("own status");
        assert_eq!(own.uid[1], nix::unistd::geteuid().as_raw());
    }
}
