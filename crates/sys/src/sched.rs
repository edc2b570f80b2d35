//! Scheduling of a child, set by the parent right after the spawn (keepalived's
//! `vrrp_priority`, `vrrp_rt_priority`, `vrrp_rlimit_rttime`, `vrrp_cpu_affinity`,
//! `vrrp_no_swap` and their `checker_` twins). The parent is root with CAP_SYS_NICE; the
//! child keeps none of that (for `*_no_swap` it gets CAP_IPC_LOCK and locks itself).
#![allow(unsafe_code)]

use std::io;

use nix::unistd::Pid;

/// Sets the nice value of `pid` (-20..19).
pub fn set_nice(pid: Pid, nice: i8) -> io::Result<()> {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let r = unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS,
            pid.as_raw() as libc::id_t,
            i32::from(nice),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Puts `pid` in SCHED_RR at `priority` (1..99), with SCHED_RESET_ON_FORK so that what it
/// starts does not inherit real-time scheduling.
pub fn set_rt_priority(pid: Pid, priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: `param` is a valid sched_param that outlives the call.
    let r = unsafe {
        libc::sched_setscheduler(
            pid.as_raw(),
            libc::SCHED_RR | libc::SCHED_RESET_ON_FORK,
            &param,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets a resource limit of `pid` (both soft and hard).
fn prlimit(pid: Pid, resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let lim = libc::rlimit64 {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `lim` is valid for the call; the old-limit pointer is null (not wanted).
    let r = unsafe { libc::prlimit64(pid.as_raw(), resource, &lim, std::ptr::null_mut()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// RLIMIT_RTTIME of `pid` in microseconds: a real-time process that spins that long
/// without sleeping gets SIGXCPU, then SIGKILL (keepalived's `*_rlimit_rttime`).
pub fn set_rttime(pid: Pid, usecs: u32) -> io::Result<()> {
    prlimit(pid, libc::RLIMIT_RTTIME, u64::from(usecs))
}

/// Pins `pid` to the given CPUs.
pub fn set_affinity(pid: Pid, cpus: &[u16]) -> io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(usize::from(c)).map_err(io::Error::from)?;
    }
    nix::sched::sched_setaffinity(pid, &set).map_err(io::Error::from)
}

/// Locks this process's memory, now and in the future (`*_no_swap`; the process needs
/// CAP_IPC_LOCK, which the parent grants it for that).
pub fn lock_memory() -> io::Result<()> {
    use nix::sys::mman::{MlockAllFlags, mlockall};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(io::Error::from)
}

/// Gives the heap's free memory back to the kernel (glibc `malloc_trim`). After a
/// configuration is built and its temporaries dropped, the freed pages would otherwise stay
/// resident for the life of the process.
pub fn trim_heap() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_nice_rt_priority_limits_and_affinity() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let pid = Pid::from_raw(child.id() as i32);
        set_nice(pid, 5).expect("nice");
        set_rt_priority(pid, 10).expect("rt");
        set_rttime(pid, 10_000).expect("rttime");
        set_affinity(pid, &[0]).expect("affinity");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        // Fields after the name: state(0) ... priority(15) nice(16) ... rt_priority(37) policy(38).
        assert_eq!(fields[16], "5", "nice");
        assert_eq!(fields[37], "10", "rt_priority");
        assert_eq!(fields[38], "2", "SCHED_RR");
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
        assert!(
            limits
                .lines()
                .any(|l| l.starts_with("Max realtime timeout") && l.contains("10000"))
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}
