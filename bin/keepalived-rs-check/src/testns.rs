//! Test support: a network namespace for one test thread.
#![cfg(test)]

/// Runs a shell line; panics when it fails.
pub fn sh(cmd: &str) {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `f` on a thread of its own in a new network namespace where `setup` (shell
/// lines) ran after the loopback was brought up.
pub fn in_netns<T: Send + 'static>(
    setup: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET): the tests run as root");
        sh("ip link set lo up");
        for line in setup.lines().map(str::trim).filter(|l| !l.is_empty()) {
            sh(line);
        }
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
