//! Where a daemon keeps its runtime files, so that several daemons on one host do not
//! collide.
//!
//! ```text
//! /run/keepalived-rs/                     default
//! /run/keepalived-rs/<instance>/          `instance NAME` (or -i)
//! /run/keepalived-rs/<netns>/             started inside a network namespace
//! /run/keepalived-rs/<netns>/<instance>/  both
//!     keepalived-rs.pid  vrrp.pid  check.pid  ipvs.pid
//!     keepalived-rs.data  keepalived-rs.stats  keepalived-rs.json  control.sock
//! ```
//!
//! The namespace part comes from the configuration (`net_namespace`) or, by default, from
//! [`current_netns`]: two daemons started with `ip netns exec A` and `ip netns exec B` and
//! default options keep their files apart.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The default base directory.
pub const DEFAULT_BASE: &str = "/run/keepalived-rs";

/// The runtime files of one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimePaths {
    /// The directory holding everything below.
    pub dir: PathBuf,
    /// The parent's pidfile.
    pub pid_parent: PathBuf,
    /// The VRRP process's pidfile.
    pub pid_vrrp: PathBuf,
    /// The checker process's pidfile.
    pub pid_check: PathBuf,
    /// The IPVS writer's pidfile.
    pub pid_ipvs: PathBuf,
    /// The state dump (SIGUSR1).
    pub state_dump: PathBuf,
    /// The statistics dump (SIGUSR2).
    pub stats_dump: PathBuf,
    /// The JSON dump (SIGJSON).
    pub json_dump: PathBuf,
    /// The control socket.
    pub control_socket: PathBuf,
}

/// An instance or namespace name that cannot be a directory name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} name {name:?} {reason}")]
pub struct BadRuntimeName {
    /// `instance` or `network namespace`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// Why it is refused.
    pub reason: &'static str,
}

impl RuntimePaths {
    /// The runtime files under `base` (normally [`DEFAULT_BASE`]) for an optional instance
    /// name and an optional network namespace name. A name must be non-empty, must not
    /// contain `/` or NUL and must not start with `.`.
    pub fn new(
        base: &Path,
        instance: Option<&str>,
        netns: Option<&str>,
    ) -> Result<Self, BadRuntimeName> {
        let mut dir = base.to_path_buf();
        if let Some(netns) = netns {
            check_name("network namespace", netns)?;
            dir.push(netns);
        }
        if let Some(instance) = instance {
            check_name("instance", instance)?;
            dir.push(instance);
        }
        Ok(Self {
            pid_parent: dir.join("keepalived-rs.pid"),
            pid_vrrp: dir.join("vrrp.pid"),
            pid_check: dir.join("check.pid"),
            pid_ipvs: dir.join("ipvs.pid"),
            state_dump: dir.join("keepalived-rs.data"),
            stats_dump: dir.join("keepalived-rs.stats"),
            json_dump: dir.join("keepalived-rs.json"),
            control_socket: dir.join("control.sock"),
            dir,
        })
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), BadRuntimeName> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name.contains('/') {
        "contains '/'"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else if name.starts_with('.') {
        "starts with '.'"
    } else {
        return Ok(());
    };
    Err(BadRuntimeName {
        what,
        name: name.to_string(),
        reason,
    })
}

/// Where the named network namespaces of `ip netns` are mounted.
const NETNS_RUN_DIR: &str = "/run/netns";

/// The inode number of the initial network namespace on kernels that give it a fixed one
/// (`PROC_NET_INIT_INO`, Linux 6.x); older kernels allocate it at boot.
const PROC_NET_INIT_INO: u64 = 0xEFFF_FFF9;

/// The network namespace of the calling thread: `None` when it is the one of PID 1;
/// otherwise the name of the entry of `/run/netns` bound to it (as `ip netns identify`
/// finds it; the first in name order when several are), else `netns-<inode>`.
///
/// When PID 1's namespace cannot be read (a sandbox that hides PID 1 from root), the
/// initial namespace is recognised by its fixed inode number where the kernel has one.
pub fn current_netns() -> io::Result<Option<String>> {
    let own = std::fs::metadata("/proc/thread-self/ns/net")?;
    let init = std::fs::metadata("/proc/1/ns/net").map(|m| (m.dev(), m.ino()));
    identify((own.dev(), own.ino()), init, Path::new(NETNS_RUN_DIR))
}

/// [`current_netns`] given the namespace ids (device, inode) of this thread and of PID 1.
fn identify(
    own: (u64, u64),
    init: io::Result<(u64, u64)>,
    run_dir: &Path,
) -> io::Result<Option<String>> {
    let is_initial = match init {
        Ok(init) => own == init,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => own.1 == PROC_NET_INIT_INO,
        Err(e) => return Err(e),
    };
    if is_initial {
        return Ok(None);
    }
    let named = named_netns(run_dir, own)?;
    Ok(Some(named.unwrap_or_else(|| format!("netns-{}", own.1))))
}

/// The name under `dir` of the namespace with `id` (device, inode), if any.
fn named_netns(dir: &Path, id: (u64, u64)) -> io::Result<Option<String>> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if check_name("network namespace", &name).is_err() {
            continue;
        }
        // Follows the bind mount to the namespace itself; an entry whose namespace is gone
        // is an empty file with other numbers.
        match std::fs::metadata(entry.path()) {
            Ok(meta) if (meta.dev(), meta.ino()) == id => names.push(name),
            _ => {}
        }
    }
    names.sort();
    Ok(names.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A named network namespace, removed on drop (also when the test panics).
    struct NamedNetns(String);

    impl NamedNetns {
        fn add(tag: &str) -> Self {
            let name = format!("ka-sys-{tag}-{}", std::process::id());
            // Left over by an earlier run that was killed.
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(std::process::Stdio::null())
                .status();
            let status = Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .expect("run ip");
            assert!(status.success(), "ip netns add {name}");
            Self(name)
        }
    }

    impl Drop for NamedNetns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    /// Runs `current_netns` on a thread that first joins the namespace at `ns_path`.
    fn identify_in(ns_path: String) -> io::Result<Option<String>> {
        std::thread::spawn(move || {
            let file = std::fs::File::open(&ns_path)?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)?;
            current_netns()
        })
        .join()
        .expect("thread")
    }

    #[test]
    fn layout_for_instance_and_namespace() {
        let base = Path::new(DEFAULT_BASE);
        let plain = RuntimePaths::new(base, None, None).expect("plain");
        assert_eq!(plain.dir, Path::new("/run/keepalived-rs"));
        assert_eq!(
            plain.pid_parent,
            Path::new("/run/keepalived-rs/keepalived-rs.pid")
        );
        assert_eq!(plain.pid_vrrp, Path::new("/run/keepalived-rs/vrrp.pid"));
        assert_eq!(plain.pid_check, Path::new("/run/keepalived-rs/check.pid"));
        assert_eq!(plain.pid_ipvs, Path::new("/run/keepalived-rs/ipvs.pid"));
        assert_eq!(
            plain.state_dump,
            Path::new("/run/keepalived-rs/keepalived-rs.data")
        );
        assert_eq!(
            plain.stats_dump,
            Path::new("/run/keepalived-rs/keepalived-rs.stats")
        );
        assert_eq!(
            plain.json_dump,
            Path::new("/run/keepalived-rs/keepalived-rs.json")
        );
        assert_eq!(
            plain.control_socket,
            Path::new("/run/keepalived-rs/control.sock")
        );
        let inst = RuntimePaths::new(base, Some("lb1"), None).expect("instance");
        assert_eq!(inst.pid_vrrp, Path::new("/run/keepalived-rs/lb1/vrrp.pid"));
        let ns = RuntimePaths::new(base, None, Some("blue")).expect("netns");
        assert_eq!(ns.dir, Path::new("/run/keepalived-rs/blue"));
        let both = RuntimePaths::new(base, Some("lb1"), Some("blue")).expect("both");
        assert_eq!(
            both.control_socket,
            Path::new("/run/keepalived-rs/blue/lb1/control.sock")
        );
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        let base = Path::new(DEFAULT_BASE);
        for bad in ["", "a/b", "..", ".hidden", "a\0b"] {
            let err = RuntimePaths::new(base, Some(bad), None).expect_err(bad);
            assert_eq!(err.what, "instance");
            let err = RuntimePaths::new(base, None, Some(bad)).expect_err(bad);
            assert_eq!(err.what, "network namespace");
        }
        let err = RuntimePaths::new(base, Some("../etc"), None).expect_err("dotdot");
        assert_eq!(err.to_string(), "instance name \"../etc\" contains '/'");
    }

    #[test]
    fn the_host_namespace_has_no_name() {
        // The tests run in the host's network namespace.
        assert_eq!(current_netns().expect("identify"), None);
        let thread = identify_in("/proc/self/ns/net".into()).expect("identify");
        assert_eq!(thread, None);
    }

    #[test]
    fn identify_compares_with_pid_1_and_falls_back_to_the_fixed_inode() {
        let dir = crate::files::TestDir::new("netns-run");
        let none = dir.join("absent");
        let own = (4, 1000);
        assert_eq!(identify(own, Ok(own), &none).expect("same"), None);
        assert_eq!(
            identify(own, Ok((4, 999)), &none).expect("other"),
            Some("netns-1000".into())
        );
        let denied = || Err(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(
            identify((4, PROC_NET_INIT_INO), denied(), &none).expect("fixed"),
            None
        );
        assert_eq!(
            identify(own, denied(), &none).expect("denied"),
            Some("netns-1000".into())
        );
        let gone = || Err(io::Error::from(io::ErrorKind::NotFound));
        assert!(identify(own, gone(), &none).is_err());
        // A named entry is found by device and inode.
        std::fs::write(dir.join("blue"), "").expect("entry");
        let meta = std::fs::metadata(dir.join("blue")).expect("stat");
        std::fs::write(dir.join(".hidden"), "").expect("entry");
        let id = (meta.dev(), meta.ino());
        assert_eq!(
            identify(id, Ok(own), &dir.0).expect("named"),
            Some("blue".into())
        );
    }

    #[test]
    fn two_named_namespaces_get_two_directories() {
        let a = NamedNetns::add("a");
        let b = NamedNetns::add("b");
        let in_a = identify_in(format!("/run/netns/{}", a.0)).expect("identify a");
        let in_b = identify_in(format!("/run/netns/{}", b.0)).expect("identify b");
        assert_eq!(in_a.as_deref(), Some(a.0.as_str()));
        assert_eq!(in_b.as_deref(), Some(b.0.as_str()));
        let base = Path::new(DEFAULT_BASE);
        let paths_a = RuntimePaths::new(base, None, in_a.as_deref()).expect("a");
        let paths_b = RuntimePaths::new(base, None, in_b.as_deref()).expect("b");
        assert_ne!(paths_a.pid_parent, paths_b.pid_parent);
        assert_eq!(paths_a.dir, Path::new(DEFAULT_BASE).join(&a.0));
    }

    #[test]
    fn an_unnamed_namespace_is_named_by_inode() {
        let found = std::thread::spawn(|| -> io::Result<(Option<String>, u64)> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
            let ino = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
            Ok((current_netns()?, ino))
        })
        .join()
        .expect("thread")
        .expect("unshare");
        assert_eq!(found.0, Some(format!("netns-{}", found.1)));
    }
}
