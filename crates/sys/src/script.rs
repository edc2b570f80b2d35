//! Running a configured script as another user, in its own process group.
//!
//! The parent of keepalived-rs is the only process that runs scripts (notify scripts,
//! `vrrp_script`, `MISC_CHECK`, FIFO readers). [`spawn_script`] starts one with
//! `std::process::Command` and prepares the child the way keepalived does, and a little
//! more:
//!
//! - **Credentials**: supplementary groups, gid then uid are set in the child, in that
//!   order, before exec. (`CommandExt::uid` cannot be used: the standard library clears the
//!   supplementary groups and switches the uid *before* running `pre_exec` closures, after
//!   which `setgroups` is no longer permitted.) A parent that is not root can only run
//!   scripts as itself; asking for another identity then makes the spawn fail with `EPERM`.
//! - **Process group**: the script leads a new process group whose id is its pid, so a
//!   timed-out script is killed together with everything it started ([`kill_group`]).
//! - **Parent death**: `PR_SET_PDEATHSIG` = `SIGTERM`, set *after* the uid change (a
//!   credential change clears it); if the parent is already gone at that point, the spawn
//!   fails instead of leaving an orphan running.
//! - **Signals**: an empty signal mask (done by the standard library) and the default
//!   disposition for every signal, so a signal the daemon ignores (`SIGPIPE`, or any other)
//!   is not ignored by the script.
//! - **Scheduling**: back to `SCHED_OTHER`, so a daemon running with a realtime priority
//!   does not hand it to its scripts (keepalived resets its priorities in the same place).
//! - **Descriptors**: stdin, stdout and stderr are `/dev/null` (as in keepalived: a script's
//!   output is not logged, it is the exit status that counts); every other descriptor is
//!   marked close-on-exec (`close_range`, where the kernel has it) even if the daemon
//!   forgot the flag somewhere.
//! - **Environment**: cleared, then `PATH=`[`SCRIPT_PATH`], then the caller's variables
//!   (which may override `PATH`). keepalived passes its own environment minus `IFS`,
//!   `LD_PRELOAD` and `LD_LIBRARY_PATH`; keepalived-rs passes nothing it did not choose.
//! - **Working directory**: `/`.
//! - **umask**: inherited from the daemon, as in keepalived, so the `umask` keyword and
//!   `-u/--umask` apply to files scripts create.
//!
//! A program name without a `/` is looked up in `PATH` (the script's `PATH`, not the
//! daemon's), as keepalived does for bare names.
//!
//! Nothing here waits for a child: the parent reaps every child with `waitpid(-1)` in its
//! event loop and matches the pid itself. Dropping the returned [`Child`] neither kills nor
//! reaps it.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid, getegid, geteuid, getgid, getpid, getppid, getuid};

/// The `PATH` every script gets unless its caller passes another one.
pub const SCRIPT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// One script to run: what to execute, as whom, and with which environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    /// The program and its arguments; `argv[0]` is the program path (a bare name is looked
    /// up in the script's `PATH`).
    pub argv: Vec<String>,
    /// The user id the script runs as.
    pub uid: u32,
    /// The primary group id the script runs as.
    pub gid: u32,
    /// The supplementary groups of the script (empty: none).
    pub groups: Vec<u32>,
    /// Environment variables added after `PATH=`[`SCRIPT_PATH`]; a later entry overrides an
    /// earlier one with the same name.
    pub env: Vec<(String, String)>,
}

impl ScriptCommand {
    /// A command run as root with no supplementary group and no extra environment.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScriptCommand {
            argv: argv.into_iter().map(Into::into).collect(),
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The program to execute (`argv[0]`), if there is one.
    pub fn program(&self) -> Option<&str> {
        self.argv.first().map(String::as_str)
    }
}

/// Start `cmd` as described in the module documentation and return at once.
///
/// The child's pid is also its process group id. The caller owns reaping it (the parent's
/// `waitpid(-1)` loop). Fails with `InvalidInput` for an empty `argv`, and with the
/// error of the first step that failed in the child (`EPERM` for a credential change
/// the daemon may not make, `ENOENT` for a missing program, ...).
pub fn spawn_script(cmd: &ScriptCommand) -> io::Result<Child> {
    let Some(program) = cmd.program() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a script needs at least a program",
        ));
    };

    let mut command = Command::new(program);
    command
        .args(&cmd.argv[1..])
        .env_clear()
        .env("PATH", SCRIPT_PATH)
        .envs(cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);

    let setup = ChildSetup::prepare(cmd);
    install_child_setup(&mut command, setup);
    command.spawn()
}

/// Send `signal` to every process of the process group `pgid`.
///
/// Returns `Ok(false)` when the group no longer exists (`ESRCH`). A `pgid` of 0 or 1 (the
/// caller's own group, init) is refused with `InvalidInput`: a script's group id is its
/// pid, never one of those.
pub fn kill_group(pgid: Pid, signal: Signal) -> io::Result<bool> {
    if pgid.as_raw() <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal process group {pgid}"),
        ));
    }
    match killpg(pgid, signal) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The kernel's `sizeof(sigset_t)` (`_NSIG / 8`), which rt_sigaction insists on.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const KERNEL_SIGSET_SIZE: usize = 16;
/// The kernel's `sizeof(sigset_t)` (`_NSIG / 8`), which rt_sigaction insists on.
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const KERNEL_SIGSET_SIZE: usize = 8;

/// Everything the child needs between fork and exec, computed before the fork so that
/// nothing after it allocates.
#[derive(Debug)]
struct ChildSetup {
    /// Whether to call setgroups/setgid/setuid at all (a non-root parent running a script
    /// as itself must not try).
    change_credentials: bool,
    groups: Vec<Gid>,
    gid: Gid,
    uid: Uid,
    /// The parent's pid, to detect that it died before PDEATHSIG was armed.
    parent: Pid,
    /// The highest signal number (SIGRTMAX is a libc call; ask it before the fork).
    max_signal: i32,
}

impl ChildSetup {
    fn prepare(cmd: &ScriptCommand) -> Self {
        let uid = Uid::from_raw(cmd.uid);
        let gid = Gid::from_raw(cmd.gid);
        let already = getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid;
        ChildSetup {
            change_credentials: geteuid().is_root() || !already,
            groups: cmd.groups.iter().copied().map(Gid::from_raw).collect(),
            gid,
            uid,
            parent: getpid(),
            max_signal: libc::SIGRTMAX(),
        }
    }
}

/// Install the pre-exec steps of [`ChildSetup`] on `command`.
fn install_child_setup(command: &mut Command, setup: ChildSetup) {
    // SAFETY: the closure runs in the child between fork and exec, where the parent may have
    // had other threads, so it must only make async-signal-safe calls: it calls raw system
    // call wrappers (sched_setscheduler, setgroups, setgid, setuid, prctl, getppid,
    // rt_sigaction, close_range) that neither allocate nor take locks, reads `setup` (built
    // before the fork) and builds errors with `from_raw_os_error`, which does not allocate.
    // rt_sigaction is given a zeroed (SIG_DFL) action it only reads, larger than the
    // kernel's struct, and no old-action pointer.
    unsafe {
        command.pre_exec(move || {
            let policy = libc::sched_param { sched_priority: 0 };
            // Failure is harmless: the script then keeps the daemon's ordinary policy.
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &policy);

            if setup.change_credentials {
                nix::unistd::setgroups(&setup.groups)?;
                nix::unistd::setgid(setup.gid)?;
                nix::unistd::setuid(setup.uid)?;
            }

            // After the uid change, which clears it.
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            if getppid() != setup.parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }

            // The raw system call, because glibc refuses to touch its two internal realtime
            // signals, which may still be inherited as ignored. An all-zero kernel
            // `struct sigaction` is SIG_DFL, no flags, an empty mask, whatever the field
            // order of the architecture; 64 bytes cover its size everywhere.
            let default_action = [0u64; 8];
            for signal in 1..=setup.max_signal {
                if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        signal,
                        default_action.as_ptr(),
                        std::ptr::null_mut::<u64>(),
                        KERNEL_SIGSET_SIZE,
                    );
                }
            }

            // Kernels before 5.11 lack close_range: the descriptors then rely on their own
            // close-on-exec flags, which the standard library and mio always set.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// A temporary directory that anybody can write to, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            use std::os::unix::fs::PermissionsExt;
            let dir = std::env::temp_dir().join(format!(
                "keepalived-sys-script-{tag}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the temp dir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .expect("open the temp dir to every user");
            TempDir(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Spawn `cmd` and return its pid; the test reaps it with [`wait_for`].
    #[allow(clippy::zombie_processes)] // reaped by pid with waitpid
    fn start(cmd: &ScriptCommand) -> Pid {
        let child = spawn_script(cmd).expect("spawn the script");
        Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"))
    }

    /// Wait for `pid` (at most 10 s) and return how it ended.
    fn wait_for(pid: Pid) -> WaitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                WaitStatus::StillAlive => {
                    if Instant::now() > deadline {
                        let _ = kill_group(pid, Signal::SIGKILL);
                        panic!("{pid} did not exit");
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                status => return status,
            }
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Make the test process ignore `signal`, as a daemon may, to show the script does not
    /// inherit that.
    fn ignore_in_test_process(signal: Signal) {
        use nix::sys::signal::{SigHandler, signal as set_handler};
        // SAFETY: SIG_IGN installs no handler code; the test process never relies on
        // receiving the signal ignored here (SIGUSR2, sent by nobody).
        unsafe { set_handler(signal, SigHandler::SigIgn) }.expect("ignore the signal");
    }

    fn sh(script: &str) -> ScriptCommand {
        ScriptCommand::new(["/bin/sh", "-c", script])
    }

    #[test]
    fn runs_as_the_given_user_with_the_given_groups() {
        let dir = TempDir::new("creds");
        let out = dir.file("id");
        let mut cmd = sh(&format!(
            "echo $(id -u) $(id -g) $(id -G) > {}",
            out.display()
        ));
        cmd.uid = 65534;
        cmd.gid = 65534;
        cmd.groups = vec![65534, 4242];
        let pid = start(&cmd);
        assert_eq!(wait_for(pid), WaitStatus::Exited(pid, 0));
        let text = read(&out);
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words[..2], ["65534", "65534"], "{text}");
        let mut groups: Vec<&str> = words[2..].to_vec();
        groups.sort_unstable();
        assert_eq!(groups, ["4242", "65534"], "{text}");
    }

    #[test]
    fn environment_is_scrubbed_and_signals_are_default() {
        let dir = TempDir::new("env");
        let out = dir.file("env");
        let status = dir.file("status");
        // The test process has HOME, USER, ... set: none of it may reach the script.
        let mut cmd = sh(&format!(
            "env > {out}; pwd > {status}; cut -d' ' -f5 /proc/$$/stat >> {status}; \
             exec grep -E '^Sig(Blk|Ign)' /proc/self/status >> {status}",
            out = out.display(),
            status = status.display()
        ));
        cmd.env.push(("KEEPALIVED_TEST".into(), "yes".into()));
        ignore_in_test_process(Signal::SIGUSR2);
        let pid = start(&cmd);
        assert_eq!(wait_for(pid), WaitStatus::Exited(pid, 0));

        let env = read(&out);
        let mut names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split('=').next())
            .filter(|n| !["PWD", "SHLVL", "_"].contains(n)) // set by sh itself
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["KEEPALIVED_TEST", "PATH"], "{env}");
        assert!(env.contains(&format!("PATH={SCRIPT_PATH}\n")), "{env}");

        let status = read(&status);
        let lines: Vec<&str> = status.lines().map(str::trim).collect();
        assert_eq!(lines[0], "/");
        // The shell leads its own process group.
        assert_eq!(lines[1], pid.to_string());
        // Read by grep exec'd in place of the shell (a forked child could see a mask the
        // shell holds only while forking).
        assert_eq!(lines[2], "SigBlk:\t0000000000000000", "{status}");
        assert_eq!(lines[3], "SigIgn:\t0000000000000000", "{status}");
    }

    /// PR_GET_PDEATHSIG through perl's raw syscall (157 is prctl on x86_64).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn parent_death_signal_is_sigterm_for_an_unprivileged_script() {
        let dir = TempDir::new("pdeathsig");
        let out = dir.file("sig");
        let mut cmd = ScriptCommand::new([
            "/usr/bin/perl".to_string(),
            "-e".to_string(),
            format!(
                "$b = pack('i', 0); syscall(157, 2, $b) == 0 or die; \
                 open(my $f, '>', '{}') or die; print $f unpack('i', $b)",
                out.display()
            ),
        ]);
        cmd.uid = 65534;
        cmd.gid = 65534;
        let pid = start(&cmd);
        assert_eq!(wait_for(pid), WaitStatus::Exited(pid, 0));
        assert_eq!(read(&out), (Signal::SIGTERM as i32).to_string());
    }

    #[test]
    fn a_bare_name_is_found_in_the_script_path() {
        let pid = start(&ScriptCommand::new(["true"]));
        assert_eq!(wait_for(pid), WaitStatus::Exited(pid, 0));
    }

    #[test]
    fn exit_status_comes_back_through_waitpid() {
        let pid = start(&sh("exit 3"));
        assert_eq!(wait_for(pid), WaitStatus::Exited(pid, 3));
    }

    #[test]
    fn missing_program_and_empty_argv_fail_to_spawn() {
        let err = spawn_script(&ScriptCommand::new(["/nonexistent/keepalived-script"]))
            .expect_err("a missing program");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err =
            spawn_script(&ScriptCommand::new(Vec::<String>::new())).expect_err("an empty argv");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn kill_group_reaches_the_whole_group() {
        let dir = TempDir::new("group");
        let pidfile = dir.file("bg");
        let pid = start(&sh(&format!(
            "sleep 30 & echo $! > {}; wait",
            pidfile.display()
        )));
        let deadline = Instant::now() + Duration::from_secs(10);
        let background = loop {
            if let Some(n) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                break Pid::from_raw(n);
            }
            if Instant::now() > deadline {
                let _ = kill_group(pid, Signal::SIGKILL);
                panic!("background pid not written");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(kill_group(pid, Signal::SIGKILL).expect("killpg"));
        assert_eq!(
            wait_for(pid),
            WaitStatus::Signaled(pid, Signal::SIGKILL, false)
        );
        // The background sleep was in the group too: it is gone, or a zombie waiting for
        // whoever adopted it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let gone = match std::fs::read_to_string(format!("/proc/{background}/stat")) {
                Err(_) => true,
                Ok(stat) => stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
            };
            if gone {
                break;
            }
            assert!(Instant::now() < deadline, "background sleep survived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn kill_group_refuses_special_groups() {
        for pgid in [-1, 0, 1] {
            let err = kill_group(Pid::from_raw(pgid), Signal::SIGTERM)
                .expect_err("a special process group");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }
}
