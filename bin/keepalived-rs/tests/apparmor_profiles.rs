//! The AppArmor profiles (`apparmor/`): compiled with Debian's apparmor_parser for two
//! kernels' feature sets, and their rules, with every include expanded, checked for the
//! privilege separation of the four processes. Nothing is loaded into a kernel (`-Q -K`):
//! the host need not run AppArmor; loading and exercising them is the VM test's part.
//!
//! ```text
//!  apparmor/*  ──copied into a copy of /etc/apparmor.d──┬─ apparmor_parser -Q -K -S -M FEATURES
//!                                                      │    mainline (/usr/share/apparmor-features):
//!                                                      │      only the known "not enforced" warnings
//!                                                      │    ABI 3.0 (Ubuntu's kernels): no warning
//!                                                      └─ apparmor_parser -p (includes expanded)
//!                                                           capabilities, network rules and exec
//!                                                           transitions of each profile
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The profile files and the profile each holds.
const PROFILES: [(&str, &str); 5] = [
    ("usr.sbin.keepalived-rs", "keepalived-rs"),
    (
        "usr.libexec.keepalived-rs.keepalived-rs-vrrp",
        "keepalived-rs-vrrp",
    ),
    (
        "usr.libexec.keepalived-rs.keepalived-rs-check",
        "keepalived-rs-check",
    ),
    (
        "usr.libexec.keepalived-rs.keepalived-rs-ipvs",
        "keepalived-rs-ipvs",
    ),
    ("keepalived-rs-script", "keepalived-rs-script"),
];

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of /etc/apparmor.d with the repository's profiles and abstraction in it.
fn profile_tree(dir: &Path) -> PathBuf {
    let out = Command::new("cp")
        .args(["-a", "/etc/apparmor.d"])
        .arg(dir)
        .output()
        .expect("cp");
    assert!(
        out.status.success(),
        "cannot copy /etc/apparmor.d (is apparmor installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = dir.join("apparmor.d");
    for (file, _) in PROFILES {
        std::fs::copy(repo().join("apparmor").join(file), tree.join(file)).unwrap();
    }
    std::fs::copy(
        repo().join("apparmor/abstractions/keepalived-rs-scripts"),
        tree.join("abstractions/keepalived-rs-scripts"),
    )
    .unwrap();
    tree
}

/// Runs apparmor_parser: (success, stdout bytes, stderr).
fn parser(tree: &Path, args: &[&str], file: &str) -> (bool, Vec<u8>, String) {
    let out = Command::new("apparmor_parser")
        .args(["-I"])
        .arg(tree)
        .args(args)
        .arg(tree.join(file))
        .stdin(Stdio::null())
        .output()
        .expect("apparmor_parser (apparmor package)");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The grants of one profile, read from its preprocessed text.
#[derive(Debug, Default)]
struct Grants {
    capabilities: BTreeSet<String>,
    /// (family, type); "*" for a rule without one.
    network: BTreeSet<(String, String)>,
    /// (path, permissions, target) of every rule with an exec permission.
    exec: Vec<(String, String, Option<String>)>,
}

/// Reads `apparmor_parser -p` output (every include expanded): allow rules only.
fn grants(text: &str) -> Grants {
    let mut g = Grants::default();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rule) = line.strip_suffix(',') else {
            continue;
        };
        let words: Vec<&str> = rule.split_whitespace().collect();
        let words: &[&str] = match words.first() {
            Some(&"audit") => &words[1..],
            Some(&"deny") => continue,
            _ => &words,
        };
        match words.first().copied() {
            Some("capability") => {
                if words.len() == 1 {
                    g.capabilities.insert("*".into());
                }
                g.capabilities
                    .extend(words[1..].iter().map(|w| w.to_string()));
            }
            Some("network") => {
                let family = words.get(1).copied().unwrap_or("*");
                let kind = words.get(2).copied().unwrap_or("*");
                g.network.insert((family.into(), kind.into()));
            }
            Some(w) if w.starts_with('/') || w.starts_with('@') || w == "owner" => {
                let words = if w == "owner" { &words[1..] } else { words };
                let (Some(path), Some(perms)) = (words.first(), words.get(1)) else {
                    continue;
                };
                let is_perms = perms.chars().all(|c| "rwaklmixpPuUcCIM".contains(c));
                if is_perms && perms.contains('x') {
                    let target = match (words.get(2), words.get(3)) {
                        (Some(&"->"), Some(t)) => Some(t.to_string()),
                        _ => None,
                    };
                    g.exec.push((path.to_string(), perms.to_string(), target));
                }
            }
            _ => {}
        }
    }
    g
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn net(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

#[test]
fn apparmor_profiles_compile_and_separate_the_processes() {
    let dir = support::TempDir::new("apparmor");
    let tree = profile_tree(dir.path());
    let mut failures = Vec::new();

    // Compiled for Debian's kernels (mainline features: network rules by family and type,
    // no AF_UNIX or D-Bus mediation) and for Ubuntu's (the 3.0 ABI, with both).
    let mainline = "/usr/share/apparmor-features/features";
    let abi3 = "/etc/apparmor.d/abi/3.0";
    for (file, _) in PROFILES {
        for features in [mainline, abi3] {
            let (ok, binary, err) = parser(
                &tree,
                &["-Q", "-K", "-S", "--warn=all", "-M", features],
                file,
            );
            if !ok || binary.is_empty() {
                failures.push(format!("{file} ({features}) does not compile:\n{err}"));
                continue;
            }
            let unexpected: Vec<&str> = err
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter(|l| {
                    features != mainline
                        || !(l.ends_with(
                            "downgrading extended network unix socket rule to generic network rule",
                        ) || l.ends_with("dbus rules not enforced"))
                })
                .collect();
            if !unexpected.is_empty() {
                failures.push(format!(
                    "{file} ({features}) warns:\n{}",
                    unexpected.join("\n")
                ));
            }
        }
    }

    // The grants of each profile, every include expanded.
    let mut all = BTreeMap::new();
    for (file, name) in PROFILES {
        let (ok, text, err) = parser(&tree, &["-p"], file);
        assert!(ok, "{file}: apparmor_parser -p failed: {err}");
        let text = String::from_utf8_lossy(&text).into_owned();
        assert!(
            text.contains(&format!("profile {name} ")),
            "{file} does not hold profile {name}"
        );
        all.insert(name, grants(&text));
    }
    let parent = &all["keepalived-rs"];
    let vrrp = &all["keepalived-rs-vrrp"];
    let check = &all["keepalived-rs-check"];
    let ipvs = &all["keepalived-rs-ipvs"];
    let script = &all["keepalived-rs-script"];

    // Capabilities, exactly. The children: the drop to their user (setuid, setgid,
    // setpcap), *_no_swap (ipc_lock), then their own.
    let expected_caps = [
        (
            "keepalived-rs-vrrp",
            set(&[
                "setuid",
                "setgid",
                "setpcap",
                "ipc_lock",
                "net_admin",
                "net_raw",
            ]),
        ),
        (
            "keepalived-rs-check",
            set(&["setuid", "setgid", "setpcap", "ipc_lock"]),
        ),
        (
            "keepalived-rs-ipvs",
            set(&["setuid", "setgid", "setpcap", "ipc_lock", "net_admin"]),
        ),
        // net_bind_service comes with abstractions/nameservice (NIS's bindresvport).
        ("keepalived-rs-script", set(&["kill", "net_bind_service"])),
        (
            "keepalived-rs",
            set(&[
                "chown",
                "kill",
                "setuid",
                "setgid",
                "sys_nice",
                "sys_resource",
                "setpcap",
                "ipc_lock",
                "net_admin",
                "net_raw",
                "net_bind_service",
            ]),
        ),
    ];
    for (name, caps) in expected_caps {
        if all[name].capabilities != caps {
            failures.push(format!(
                "{name}: capabilities {:?}, expected {caps:?}",
                all[name].capabilities
            ));
        }
    }

    // Network rules, exactly for the children.
    let expected_net = [
        (
            "keepalived-rs-vrrp",
            net(&[
                ("inet", "raw"),
                ("inet6", "raw"),
                ("packet", "raw"),
                ("netlink", "raw"),
                ("unix", "stream"),
            ]),
        ),
        (
            "keepalived-rs-check",
            net(&[
                ("inet", "stream"),
                ("inet6", "stream"),
                ("inet", "dgram"),
                ("inet6", "dgram"),
                ("netlink", "raw"),
                ("unix", "stream"),
                ("unix", "dgram"),
            ]),
        ),
        (
            "keepalived-rs-ipvs",
            net(&[("netlink", "raw"), ("unix", "stream")]),
        ),
    ];
    for (name, rules) in expected_net {
        if all[name].network != rules {
            failures.push(format!(
                "{name}: network {:?}, expected {rules:?}",
                all[name].network
            ));
        }
    }
    // Raw and packet sockets: VRRP only (and the parent, the ceiling of its stack).
    for (name, g) in [
        ("keepalived-rs-check", check),
        ("keepalived-rs-ipvs", ipvs),
        ("keepalived-rs-script", script),
    ] {
        for bad in [
            ("inet", "raw"),
            ("inet6", "raw"),
            ("packet", "raw"),
            ("packet", "dgram"),
            ("*", "*"),
        ] {
            if g.network.contains(&(bad.0.to_string(), bad.1.to_string())) {
                failures.push(format!("{name}: network {bad:?}"));
            }
        }
    }
    // No TCP or UDP for VRRP and the IPVS writer.
    for (name, g) in [("keepalived-rs-vrrp", vrrp), ("keepalived-rs-ipvs", ipvs)] {
        if g.network
            .iter()
            .any(|(f, t)| (f == "inet" || f == "inet6") && (t == "stream" || t == "dgram"))
        {
            failures.push(format!("{name}: TCP or UDP sockets: {:?}", g.network));
        }
    }

    // Each child runs stacked on the parent: it can use only what the parent's profile
    // grants too.
    for (name, g) in &all {
        if *name == "keepalived-rs" {
            continue;
        }
        let caps: Vec<_> = g.capabilities.difference(&parent.capabilities).collect();
        let nets: Vec<_> = g.network.difference(&parent.network).collect();
        if !caps.is_empty() || !nets.is_empty() {
            failures.push(format!(
                "{name} needs what the parent's profile lacks (a stack would deny it): {caps:?} {nets:?}"
            ));
        }
    }

    // Entering the profiles: each child from its own executable, scripts from programs,
    // always as a stack (`-> &`), never unconfined.
    let transitions: BTreeMap<&str, &str> = parent
        .exec
        .iter()
        .filter_map(|(path, _, t)| t.as_deref().map(|t| (path.as_str(), t)))
        .collect();
    for (path, target) in [
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-vrrp",
            "&keepalived-rs-vrrp",
        ),
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-check",
            "&keepalived-rs-check",
        ),
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-ipvs",
            "&keepalived-rs-ipvs",
        ),
        ("/{,usr/}{,s}bin/*", "&keepalived-rs-script"),
        ("/usr/local/{,s}bin/*", "&keepalived-rs-script"),
        ("/etc/keepalived-rs/**", "&keepalived-rs-script"),
        (
            "/usr/libexec/keepalived-rs/scripts/**",
            "&keepalived-rs-script",
        ),
    ] {
        if transitions.get(path) != Some(&target) {
            failures.push(format!(
                "keepalived-rs: exec of {path} should go to {target}, got {:?}",
                transitions.get(path)
            ));
        }
    }
    for (path, perms, target) in &parent.exec {
        let stacked = perms == "Px" && target.as_deref().is_some_and(|t| t.starts_with('&'));
        // abstractions/base's ecryptfs home rules and nameservice's nscd databases are
        // inherits (ix) the parent never uses.
        let inherited = perms.contains('i');
        if !stacked && !inherited {
            failures.push(format!(
                "keepalived-rs: exec rule {path} {perms} {target:?}"
            ));
        }
    }
    for (name, g) in &all {
        for (path, perms, _) in &g.exec {
            if perms.contains('u') || perms.contains('U') {
                failures.push(format!("{name}: unconfined exec {path} {perms}"));
            }
        }
    }
    // The children run no program (base's ecryptfs home rules aside).
    for (name, g) in [
        ("keepalived-rs-vrrp", vrrp),
        ("keepalived-rs-check", check),
        ("keepalived-rs-ipvs", ipvs),
    ] {
        let programs: Vec<_> = g
            .exec
            .iter()
            .filter(|(path, _, _)| !path.starts_with("@{HOME}") && !path.starts_with("@{HOMEDIRS}"))
            .collect();
        if !programs.is_empty() {
            failures.push(format!("{name} may execute: {programs:?}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
