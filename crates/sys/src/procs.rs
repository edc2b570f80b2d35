//! The process table for `vrrp_track_process`: a scan of /proc, and the kernel's process
//! events (the netlink proc connector, `CN_IDX_PROC`).
//!
//! The proc connector exists only in the initial network namespace (a subscription sent
//! from any other fails with ECONNREFUSED) and needs CAP_NET_ADMIN; where it is missing the
//! VRRP process rescans /proc on a timer instead (keepalived's track_process does not work
//! in a network namespace at all).
#![allow(unsafe_code)]

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{MsgFlags, NetlinkAddr, bind, recv, send};

/// The processes now running (thread-group leaders: the numeric entries of /proc).
pub fn pids() -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc")? {
        let Ok(e) = e else { continue };
        if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
            out.push(pid);
        }
    }
    Ok(out)
}

/// A process's name (`comm`) and command line, or None when it has gone (or cannot be
/// read). A kernel thread has an empty command line.
pub fn comm_and_argv(pid: u32) -> Option<(String, Vec<String>)> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>();
    // The command line ends with a NUL, which leaves one empty piece.
    let argv = match argv.split_last() {
        Some((last, rest)) if last.is_empty() => rest.to_vec(),
        _ => argv,
    };
    Some((comm.trim_end_matches('\n').to_string(), argv))
}

/// A process event that can change what a tracker matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// A process ran exec(): its name and command line changed.
    Exec(u32),
    /// A process changed its name (prctl PR_SET_NAME).
    Comm(u32),
    /// A process (a thread-group leader) ended.
    Exit(u32),
}

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_DONE: u16 = 3;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDR: usize = 16;
const CN_MSG_HDR: usize = 20;

/// A subscription to the kernel's process events.
#[derive(Debug)]
pub struct ProcConnector {
    fd: OwnedFd,
    /// Events lost because the socket's buffer overflowed (ENOBUFS): the caller rescans.
    pub overruns: u64,
}

fn connector_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes plain integers; a non-negative result is a new descriptor
    // that nothing else owns.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl ProcConnector {
    /// Subscribes (needs CAP_NET_ADMIN and the initial network namespace).
    pub fn open() -> io::Result<ProcConnector> {
        let fd = connector_socket()?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, CN_IDX_PROC)).map_err(io::Error::from)?;
        let op = PROC_CN_MCAST_LISTEN.to_ne_bytes();
        let mut msg = Vec::with_capacity(NLMSG_HDR + CN_MSG_HDR + op.len());
        let len = (NLMSG_HDR + CN_MSG_HDR + op.len()) as u32;
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
        msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
        msg.extend_from_slice(&std::process::id().to_ne_bytes());
        msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
        msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
        msg.extend_from_slice(&(op.len() as u16).to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
        msg.extend_from_slice(&op);
        send(fd.as_raw_fd(), &msg, MsgFlags::empty()).map_err(io::Error::from)?;
        Ok(ProcConnector { fd, overruns: 0 })
    }

    /// Every event queued now (non-blocking). An overflow is counted in `overruns` and
    /// reported as an error of kind `OutOfMemory` so that the caller rescans /proc.
    pub fn events(&mut self) -> io::Result<Vec<ProcEvent>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        for _ in 0..4096 {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => break,
                Ok(n) => out.extend(parse(&buf[..n])),
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ENOBUFS) => {
                    self.overruns += 1;
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "process events lost (ENOBUFS)",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

impl AsRawFd for ProcConnector {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
}

/// The events of one datagram (netlink messages, each a cn_msg holding a proc_event);
/// anything short or unknown is skipped.
pub fn parse(mut b: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    while b.len() >= NLMSG_HDR {
        let Some(len) = u32_at(b, 0).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDR || len > b.len() {
            break;
        }
        let msg = &b[NLMSG_HDR..len];
        // cn_msg: idx, val, seq, ack, len u16, flags u16; then proc_event: what u32,
        // cpu u32, timestamp u64, then the event's pid and tgid.
        let ev = &msg.get(CN_MSG_HDR..).unwrap_or(&[]);
        if let (Some(what), Some(pid), Some(tgid)) = (u32_at(ev, 0), u32_at(ev, 16), u32_at(ev, 20))
            && pid == tgid
        {
            match what {
                PROC_EVENT_EXEC => out.push(ProcEvent::Exec(pid)),
                PROC_EVENT_COMM => out.push(ProcEvent::Comm(pid)),
                PROC_EVENT_EXIT => out.push(ProcEvent::Exit(pid)),
                _ => {}
            }
        }
        let step = (len + 3) & !3;
        if step >= b.len() {
            break;
        }
        b = &b[step..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(what: u32, pid: u32, tgid: u32) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes());
        ev.extend_from_slice(&0u64.to_ne_bytes());
        ev.extend_from_slice(&pid.to_ne_bytes());
        ev.extend_from_slice(&tgid.to_ne_bytes());
        ev.extend_from_slice(&[0u8; 16]);
        let mut m = Vec::new();
        let len = (NLMSG_HDR + CN_MSG_HDR + ev.len()) as u32;
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&[0u8; 12]);
        m.extend_from_slice(&[0u8; 16]);
        m.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&ev);
        m
    }

    #[test]
    fn events_of_processes_are_read_and_threads_and_garbage_skipped() {
        let mut b = event(PROC_EVENT_EXEC, 10, 10);
        b.extend(event(PROC_EVENT_EXIT, 11, 10)); // a thread of 10
        b.extend(event(PROC_EVENT_EXIT, 12, 12));
        b.extend(event(PROC_EVENT_COMM, 13, 13));
        b.extend(event(0x1, 14, 14)); // fork: not needed
        assert_eq!(
            parse(&b),
            vec![
                ProcEvent::Exec(10),
                ProcEvent::Exit(12),
                ProcEvent::Comm(13)
            ]
        );
        assert!(parse(&b[..20]).is_empty());
        assert!(parse(&[0xff; 64]).is_empty());
        assert!(parse(&[]).is_empty());
    }

    #[test]
    fn this_process_is_in_the_table_with_its_command_line() {
        let me = std::process::id();
        assert!(pids().expect("read /proc").contains(&me));
        let (comm, argv) = comm_and_argv(me).expect("our own entry");
        assert!(!comm.is_empty() && !comm.ends_with('\n'));
        assert!(!argv.is_empty(), "a test binary has a command line");
        assert!(argv.iter().all(|a| !a.contains('\0')));
    }

    #[test]
    fn the_proc_connector_reports_the_exec_and_exit_of_a_process() {
        // The test runs as root in the initial network namespace (tests/run).
        let mut c = ProcConnector::open().expect("subscribe to process events");
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("0.05")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        child.wait().expect("wait");
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen.extend(
                c.events()
                    .expect("events")
                    .into_iter()
                    .filter(|e| matches!(e, ProcEvent::Exec(p) | ProcEvent::Exit(p) if *p == pid)),
            );
            if seen.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(seen, vec![ProcEvent::Exec(pid), ProcEvent::Exit(pid)]);
    }
}
