//! Spawning a child process from an executable opened once, and reaping children.
//!
//! The parent opens each child executable at start ([`Executable::open`]) and spawns every
//! instance of that child from the descriptor ([`spawn`], `execveat(fd, "", ..,
//! AT_EMPTY_PATH)`), so a package upgrade on disk never mixes versions in a running daemon.
//!
//! A spawned child starts with exactly four descriptors and an empty environment:
//!
//! ```text
//!   fd 0  /dev/null (read-write)
//!   fd 1  /dev/null (read-write)
//!   fd 2  write end of its log pipe   (see `log_pipe`, read by the parent)
//!   fd 3  its end of the IPC socketpair (see `ipc_pair`)
//!   every other descriptor closed, signal mask empty, every signal at its default action
//! ```
//!
//! Between `fork` and `exec` the child performs only async-signal-safe system calls on
//! values prepared before the fork (the parent may have threads). A failed `exec` is reported
//! back to the parent through a close-on-exec pipe, so [`spawn`] returns the `exec` error
//! instead of a pid that dies at once.
//!
//! [`reap`] collects every exited child without blocking; the parent also runs scripts, so
//! the caller matches the returned pids against its own tables.
#![allow(unsafe_code)]

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;

/// An executable file opened once (`O_PATH | O_CLOEXEC`), from which children are spawned.
///
/// The descriptor pins the file that was opened: replacing the file on disk (a package
/// upgrade) does not change what [`spawn`] runs. The file must be an ELF binary: a `#!`
/// script cannot be run from a close-on-exec descriptor (its interpreter would need to open
/// `/proc/self/fd/N` after the exec has closed it).
#[derive(Debug)]
pub struct Executable {
    fd: OwnedFd,
    path: PathBuf,
}

impl Executable {
    /// Opens `path` for execution later. Fails when it is not a regular file or has no
    /// execute bit.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)?;
        let meta = file.metadata()?;
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{}: not executable", path.display()),
            ));
        }
        Ok(Self {
            fd: OwnedFd::from(file),
            path: path.to_path_buf(),
        })
    }

    /// The path the executable was opened from (for log messages; never reopened).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsFd for Executable {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What to spawn: the executable, its command line and the two descriptors it inherits.
///
/// The descriptors are borrowed: after [`spawn`] returns, the caller closes its copies of
/// the child's ends (`ipc` and `log`), so that the parent sees end-of-file when the child
/// dies.
#[derive(Debug, Clone, Copy)]
pub struct ChildSpec<'a> {
    /// The executable to run.
    pub exe: &'a Executable,
    /// `argv[0]` of the child (its name in `ps`).
    pub argv0: &'a str,
    /// The remaining arguments.
    pub args: &'a [OsString],
    /// The child's end of the IPC socketpair, placed on fd 3.
    pub ipc: BorrowedFd<'a>,
    /// The write end of the child's log pipe, placed on fd 2.
    pub log: BorrowedFd<'a>,
}

/// The fd numbers the child sees.
const FD_DEVNULL_IN: RawFd = 0;
const FD_DEVNULL_OUT: RawFd = 1;
const FD_LOG: RawFd = 2;
const FD_IPC: RawFd = 3;
/// Where the child parks the executable and the exec-error pipe (both close-on-exec).
const FD_EXE: RawFd = 4;
const FD_EXEC_ERROR: RawFd = 5;
/// First descriptor the child closes before exec.
const FD_FIRST_CLOSED: RawFd = 6;

/// Everything the child needs after `fork`, prepared before it.
struct Prepared<'a> {
    /// Pointers into `_argv`, null-terminated.
    argv: Vec<*const libc::c_char>,
    _argv: Vec<CString>,
    /// The empty environment: one null pointer.
    envp: [*const libc::c_char; 1],
    /// Source descriptors, in the order devnull, log, ipc, exe, exec-error.
    devnull: RawFd,
    log: RawFd,
    ipc: RawFd,
    exe: RawFd,
    exec_error: RawFd,
    /// Keeps the descriptors above alive until the fork is done.
    _borrow: std::marker::PhantomData<BorrowedFd<'a>>,
}

/// Spawns a child as described by `spec` and returns its pid once the `exec` succeeded.
///
/// An `exec` failure (e.g. `ENOEXEC`) is returned as the error, and that child is already
/// reaped.
pub fn spawn(spec: &ChildSpec<'_>) -> io::Result<Pid> {
    let mut argv = Vec::with_capacity(spec.args.len() + 1);
    argv.push(c_string(spec.argv0.as_bytes())?);
    for arg in spec.args {
        argv.push(c_string(arg.as_bytes())?);
    }
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/null")?;
    let (error_read, error_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let prepared = Prepared {
        argv: argv_ptrs,
        _argv: argv,
        envp: [std::ptr::null()],
        devnull: devnull.as_raw_fd(),
        log: spec.log.as_raw_fd(),
        ipc: spec.ipc.as_raw_fd(),
        exe: spec.exe.fd.as_raw_fd(),
        exec_error: error_write.as_raw_fd(),
        _borrow: std::marker::PhantomData,
    };
    let pid = fork_and_exec(&prepared)?;
    drop(error_write);
    drop(devnull);
    // The pipe's write end closes on a successful exec (end-of-file here) or carries the
    // exec errno.
    let mut report = File::from(error_read);
    let mut buf = [0u8; 4];
    let mut got = 0;
    loop {
        use std::io::Read;
        match report.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if got == buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if got == 0 {
        return Ok(pid);
    }
    // The child exits at once after reporting: reap it so that it is not left a zombie.
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
    if got == buf.len() {
        Err(io::Error::from_raw_os_error(i32::from_ne_bytes(buf)))
    } else {
        Err(io::Error::other("child reported a truncated exec error"))
    }
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte"))
}

/// Forks; the child places its descriptors and execs, the parent gets the child's pid.
fn fork_and_exec(p: &Prepared<'_>) -> io::Result<Pid> {
    // SAFETY: fork has no memory-safety preconditions by itself; the child branch only calls
    // `child_exec`, which performs async-signal-safe system calls on data prepared before
    // the fork and never returns, so no lock held by another thread is ever needed there.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; `p` was fully built before the fork.
        unsafe { child_exec(p) }
    }
    Ok(Pid::from_raw(pid))
}

/// The child between fork and exec. Only raw, async-signal-safe system calls; never
/// returns (exec or `_exit(127)` after reporting errno through `FD_EXEC_ERROR`).
///
/// # Safety
/// Must be called only in the child right after `fork`, with `p` built before the fork.
unsafe fn child_exec(p: &Prepared<'_>) -> ! {
    // SAFETY (whole body): plain system calls on integers and on pointers into `p`, which
    // stays alive because this function never returns.
    unsafe {
        // 1. Move every source above the target range, so no placement clobbers another.
        let sources = [p.devnull, p.log, p.ipc, p.exe, p.exec_error];
        let mut high = [-1; 5];
        for (i, fd) in sources.iter().enumerate() {
            high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, FD_FIRST_CLOSED);
            if high[i] < 0 {
                // Nowhere to report yet: the parent sees end-of-file and a child exiting 127.
                libc::_exit(127);
            }
        }
        let [devnull, log, ipc, exe, exec_error] = high;
        // 2. The exec-error pipe first, so later failures can be reported.
        if libc::dup3(exec_error, FD_EXEC_ERROR, libc::O_CLOEXEC) < 0 {
            libc::_exit(127);
        }
        let placements = [
            (devnull, FD_DEVNULL_IN, 0),
            (devnull, FD_DEVNULL_OUT, 0),
            (log, FD_LOG, 0),
            (ipc, FD_IPC, 0),
            (exe, FD_EXE, libc::O_CLOEXEC),
        ];
        for (from, to, flags) in placements {
            if libc::dup3(from, to, flags) < 0 {
                report_and_exit();
            }
        }
        // 3. Close everything else.
        if libc::syscall(
            libc::SYS_close_range,
            FD_FIRST_CLOSED as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        ) < 0
        {
            report_and_exit();
        }
        // 4. Default signal actions (an ignored signal stays ignored across exec; Rust's
        //    runtime ignores SIGPIPE), then an empty signal mask. The raw system call also
        //    reaches the signals glibc reserves (32, 33). An all-zero kernel `sigaction`
        //    (handler, flags, restorer, mask: 32 bytes on x86_64 and aarch64) is SIG_DFL.
        let default_action = [0u64; 4];
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    default_action.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // 5. Exec from the descriptor.
        libc::syscall(
            libc::SYS_execveat,
            FD_EXE,
            c"".as_ptr(),
            p.argv.as_ptr(),
            p.envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        report_and_exit()
    }
}

/// Child side: writes errno to the exec-error pipe and exits 127.
///
/// # Safety
/// Only in the forked child, where `FD_EXEC_ERROR` is the pipe's write end.
unsafe fn report_and_exit() -> ! {
    // SAFETY: reading errno and writing 4 bytes from a stack buffer are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let bytes = errno.to_ne_bytes();
        libc::write(FD_EXEC_ERROR, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

/// Creates a child's log pipe: `(read end, write end)`, both close-on-exec, the read end
/// non-blocking (the parent polls it).
pub fn log_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((read, write))
}

/// Creates a child's IPC channel: `(parent end, child end)` of an `AF_UNIX` `SOCK_STREAM`
/// socketpair, both close-on-exec (the child end reaches fd 3 through [`spawn`]).
pub fn ipc_pair() -> io::Result<(UnixStream, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    let (parent, child) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((UnixStream::from(parent), child))
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCause {
    /// It called `exit` with this status.
    Exited(i32),
    /// A signal killed it; `core` says whether it dumped core.
    Signaled(Signal, bool),
}

impl std::fmt::Display for ExitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exited with status {code}"),
            Self::Signaled(sig, true) => write!(f, "killed by {sig} (core dumped)"),
            Self::Signaled(sig, false) => write!(f, "killed by {sig}"),
        }
    }
}

/// Reaps every child that has ended, without blocking (`waitpid(-1, WNOHANG)` until none
/// is left). The parent also runs scripts: the caller matches the pids.
pub fn reap() -> Vec<(Pid, ExitCause)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => ended.push((pid, ExitCause::Exited(code))),
            Ok(WaitStatus::Signaled(pid, sig, core)) => {
                ended.push((pid, ExitCause::Signaled(sig, core)))
            }
            Ok(WaitStatus::StillAlive) => break,
            // Stopped/continued are not reported without WUNTRACED/WCONTINUED.
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            // ECHILD: no children at all.
            Err(_) => break,
        }
    }
    ended
}

/// Takes ownership of a raw descriptor (test helpers only).
#[cfg(test)]
fn owned(fd: RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: only called on a descriptor just returned by a system call and owned by no one.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Test support: running a closure in a forked child, bounded in time.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::io::Read;
    use std::time::{Duration, Instant};

    /// Runs `body` in a forked child (single-threaded there) and returns its verdict.
    ///
    /// In the child, fd 3 is the write end of a report pipe (kept through `confine`); the
    /// child writes `Err` text there. The parent kills the child after `timeout`.
    pub(crate) fn in_child(
        timeout: Duration,
        body: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let pid = fork_for_test().map_err(|e| e.to_string())?;
        if pid.as_raw() == 0 {
            child_side(&write, body);
        }
        drop(write);
        let deadline = Instant::now() + timeout;
        let status = loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    if Instant::now() > deadline {
                        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                        let _ = waitpid(pid, None);
                        return Err(format!("child still running after {timeout:?}"));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(status) => break status,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(format!("waitpid: {e}")),
            }
        };
        let mut report = String::new();
        let _ = File::from(read).read_to_string(&mut report);
        match status {
            WaitStatus::Exited(_, 0) if report.is_empty() => Ok(()),
            other => Err(format!("child {other:?}: {report}")),
        }
    }

    fn child_side(write: &OwnedFd, body: impl FnOnce() -> Result<(), String>) -> ! {
        use std::io::Write;
        // Put the report pipe on fd 3, out of reach of "close every fd >= 4".
        let mut fd3 = owned(3);
        let code = match nix::unistd::dup2(write, &mut fd3) {
            Err(e) => Err(format!("dup2: {e}")),
            Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(
                |panic| {
                    let text = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(format!("panic: {text}"))
                },
            ),
        };
        let mut report = File::from(fd3);
        let status = match code {
            Ok(()) => 0,
            Err(text) => {
                let _ = report.write_all(text.as_bytes());
                1
            }
        };
        std::mem::forget(report);
        exit_now(status)
    }

    fn fork_for_test() -> nix::Result<Pid> {
        // SAFETY: the child only runs the test body (glibc's malloc is fork-safe) and leaves
        // with `_exit`, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Errno::last());
        }
        Ok(Pid::from_raw(pid))
    }

    fn exit_now(status: i32) -> ! {
        // SAFETY: `_exit` ends the process without running the harness's destructors.
        unsafe { libc::_exit(status) }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::in_child;
    use super::*;
    use std::io::Read;
    use std::time::{Duration, Instant};

    /// Reads the log pipe until end-of-file, bounded in time.
    fn read_all(read: OwnedFd, timeout: Duration) -> String {
        let mut file = File::from(read);
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "log pipe not closed in time");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("read: {e}"),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn wait_exit(pid: Pid, timeout: Duration) -> WaitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                WaitStatus::StillAlive => {
                    if Instant::now() > deadline {
                        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                        panic!("child did not exit in time");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                status => return status,
            }
        }
    }

    /// Lists the shell's descriptors with builtins only (before anything opens another),
    /// then reports on the log pipe.
    const FD_FACTS: &str = r#"
        fds=""
        for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 30 40 50 63 64 100 255 256 1000; do
            if [ -e /proc/$$/fd/$n ]; then fds="$fds $n"; fi
        done
        exec 1>&2
        while read -r key value; do
            case $key in SigIgn:|SigBlk:) echo "$key $value";; esac
        done < /proc/$$/status
        echo "fds$fds"
        echo "stdin $(readlink /proc/$$/fd/0)"
        echo "ipc $(readlink /proc/$$/fd/3)"
        echo "environ $(wc -c < /proc/$$/environ)"
        echo "argv0 $0 arg1 $1"
        echo hello >&3
    "#;

    #[test]
    fn spawned_child_has_fds_0_to_3_and_an_empty_environment() {
        let exe = Executable::open("/bin/sh").expect("open /bin/sh");
        assert_eq!(exe.path(), Path::new("/bin/sh"));
        let (log_read, log_write) = log_pipe().expect("log pipe");
        let (mut parent, child) = ipc_pair().expect("ipc pair");
        // A stray inheritable descriptor in the parent must not reach the child.
        let stray = nix::fcntl::open("/dev/null", OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
            .expect("stray fd");
        let args = [
            OsString::from("-c"),
            OsString::from(FD_FACTS),
            OsString::from("child-name"),
            OsString::from("first"),
        ];
        let spec = ChildSpec {
            exe: &exe,
            argv0: "sh",
            args: &args,
            ipc: child.as_fd(),
            log: log_write.as_fd(),
        };
        // A signal blocked in the spawning thread must not stay blocked in the child.
        let mut usr2 = nix::sys::signal::SigSet::empty();
        usr2.add(Signal::SIGUSR2);
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&usr2),
            None,
        )
        .expect("block");
        let spawned = spawn(&spec);
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
            Some(&usr2),
            None,
        )
        .expect("unblock");
        let pid = spawned.expect("spawn");
        drop(child);
        drop(log_write);
        let out = read_all(log_read, Duration::from_secs(10));
        let status = wait_exit(pid, Duration::from_secs(10));
        drop(stray);
        assert_eq!(status, WaitStatus::Exited(pid, 0), "output: {out}");
        assert!(out.contains("fds 0 1 2 3\n"), "{out}");
        assert!(out.contains("stdin /dev/null\n"), "{out}");
        assert!(out.contains("ipc socket:["), "{out}");
        assert!(out.contains("environ 0\n"), "{out}");
        assert!(out.contains("argv0 child-name arg1 first\n"), "{out}");
        assert!(out.contains("SigIgn: 0000000000000000\n"), "{out}");
        assert!(out.contains("SigBlk: 0000000000000000\n"), "{out}");
        let mut hello = [0u8; 6];
        parent.read_exact(&mut hello).expect("read ipc");
        assert_eq!(&hello, b"hello\n");
    }

    #[test]
    fn exec_failure_is_returned_and_the_child_reaped() {
        // A text file with the execute bit but no `#!` line cannot be exec'd (ENOEXEC).
        let dir = std::env::temp_dir().join(format!("ka-sys-spawn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("not-elf");
        std::fs::write(&path, b"\x01\x02 not a program\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let exe = Executable::open(&path).expect("open");
        let (_log_read, log_write) = log_pipe().expect("log pipe");
        let (_parent, child) = ipc_pair().expect("ipc pair");
        let spec = ChildSpec {
            exe: &exe,
            argv0: "x",
            args: &[],
            ipc: child.as_fd(),
            log: log_write.as_fd(),
        };
        let err = spawn(&spec).expect_err("exec must fail");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(err.raw_os_error(), Some(libc::ENOEXEC), "{err}");
    }

    #[test]
    fn the_opened_file_runs_even_after_it_is_replaced_on_disk() {
        let dir = std::env::temp_dir().join(format!("ka-sys-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("child");
        std::fs::copy("/bin/sh", &path).expect("copy sh");
        let exe = Executable::open(&path).expect("open");
        // A package upgrade: a new file renamed over the old path.
        let staged = dir.join("child.new");
        std::fs::write(&staged, b"garbage").expect("write");
        std::fs::rename(&staged, &path).expect("rename");
        let (_log_read, log_write) = log_pipe().expect("log pipe");
        let (_parent, child) = ipc_pair().expect("ipc pair");
        let args = [OsString::from("-c"), OsString::from("exit 3")];
        let spec = ChildSpec {
            exe: &exe,
            argv0: "child",
            args: &args,
            ipc: child.as_fd(),
            log: log_write.as_fd(),
        };
        let spawned = spawn(&spec);
        let _ = std::fs::remove_dir_all(&dir);
        let pid = spawned.expect("spawn from the pinned file");
        assert_eq!(
            wait_exit(pid, Duration::from_secs(10)),
            WaitStatus::Exited(pid, 3)
        );
    }

    #[test]
    fn open_refuses_a_directory_and_a_non_executable_file() {
        assert!(Executable::open("/").is_err());
        assert!(Executable::open("/etc/passwd").is_err());
        assert!(Executable::open("/nonexistent/keepalived-rs").is_err());
    }

    #[test]
    fn argument_with_nul_is_refused() {
        let exe = Executable::open("/bin/sh").expect("open");
        let (_r, w) = log_pipe().expect("pipe");
        let (_p, c) = ipc_pair().expect("pair");
        let args = [OsString::from("a\0b")];
        let spec = ChildSpec {
            exe: &exe,
            argv0: "sh",
            args: &args,
            ipc: c.as_fd(),
            log: w.as_fd(),
        };
        let err = spawn(&spec).expect_err("NUL");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn log_pipe_read_end_is_nonblocking_and_both_ends_cloexec() {
        let (read, write) = log_pipe().expect("pipe");
        let fl = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
        assert!(OFlag::from_bits_truncate(fl).contains(OFlag::O_NONBLOCK));
        let fl = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
        assert!(!OFlag::from_bits_truncate(fl).contains(OFlag::O_NONBLOCK));
        for fd in [&read, &write] {
            let fd_flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).expect("getfd");
            assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        let mut file = File::from(read);
        let err = file.read(&mut [0u8; 8]).expect_err("empty pipe");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn reap_reports_exit_status_and_signal() {
        // Run in a forked child so that waitpid(-1) sees only our own grandchildren.
        in_child(Duration::from_secs(20), || {
            let exe = Executable::open("/bin/sh").map_err(|e| e.to_string())?;
            let (_r, w) = log_pipe().map_err(|e| e.to_string())?;
            let (_p, c) = ipc_pair().map_err(|e| e.to_string())?;
            let run = |script: &str| {
                let args = [OsString::from("-c"), OsString::from(script)];
                spawn(&ChildSpec {
                    exe: &exe,
                    argv0: "sh",
                    args: &args,
                    ipc: c.as_fd(),
                    log: w.as_fd(),
                })
                .map_err(|e| e.to_string())
            };
            let exited = run("exit 7")?;
            let killed = run("kill -USR1 $$; sleep 5")?;
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.len() < 2 && Instant::now() < deadline {
                seen.extend(reap());
                std::thread::sleep(Duration::from_millis(5));
            }
            seen.sort_by_key(|(pid, _)| pid.as_raw());
            let mut expected = vec![
                (exited, ExitCause::Exited(7)),
                (killed, ExitCause::Signaled(Signal::SIGUSR1, false)),
            ];
            expected.sort_by_key(|(pid, _)| pid.as_raw());
            if seen != expected {
                return Err(format!("reaped {seen:?}, expected {expected:?}"));
            }
            if !reap().is_empty() {
                return Err("second reap not empty".into());
            }
            Ok(())
        })
        .expect("child verdict");
    }

    #[test]
    fn in_child_reports_failure_panic_and_timeout() {
        let failure = in_child(Duration::from_secs(5), || Err("bad".into())).expect_err("fails");
        assert!(failure.ends_with(": bad"), "{failure}");
        let panic = in_child(Duration::from_secs(5), || panic!("boom")).expect_err("panics");
        assert!(panic.contains("panic: boom"), "{panic}");
        let slow = in_child(Duration::from_millis(200), || {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        })
        .expect_err("times out");
        assert!(slow.contains("still running"), "{slow}");
        assert_eq!(in_child(Duration::from_secs(5), || Ok(())), Ok(()));
    }
}

/// The child's side of fd 3: takes ownership of the IPC socket the parent placed there.
///
/// Call once, at start, in a process spawned by [`spawn`]. Fails when fd 3 is not open or
/// not a stream socket (the program was started by hand).
pub fn take_ipc_socket() -> io::Result<UnixStream> {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor number; it touches no memory.
    if unsafe { libc::fcntl(FD_IPC, libc::F_GETFD) } < 0 {
        return Err(not_ipc());
    }
    // SAFETY: fd 3 is open (checked above) and this function, called once at start, is the
    // only code that claims it.
    let fd = unsafe { OwnedFd::from_raw_fd(FD_IPC) };
    let stream = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::SockType)
        .is_ok_and(|t| t == nix::sys::socket::SockType::Stream);
    if !stream {
        // Not ours to close.
        let _ = fd.into_raw_fd();
        return Err(not_ipc());
    }
    Ok(UnixStream::from(fd))
}

fn not_ipc() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "fd 3 is not the IPC socket: this program is started by keepalived-rs",
    )
}
