//! The packages and the systemd unit (issue 7): the .deb installs, works and goes away again
//! on this machine, lintian finds no error in it, the .rpm's files, scripts, users and
//! dependencies are what they should be, the binaries need no glibc newer than RHEL 9's, and
//! the unit passes `systemd-analyze` with the privileges the daemon really needs.
//!
//! The packages are built once per run by `packaging/build-deb` and `packaging/build-rpm`,
//! which build the release binaries first (several minutes the first time; cargo reuses
//! them afterwards). The .deb test installs the package on this machine and purges it
//! again, also when it fails; it refuses to run where keepalived-rs is installed already.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Netns, poll_until, run};

/// The repository.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The systemd unit in the repository.
fn unit() -> PathBuf {
    repo().join("systemd/keepalived-rs.service")
}

/// RHEL 9's glibc: the binaries may need nothing newer.
const GLIBC_MAX: (u32, u32) = (2, 34);

/// The capabilities the unit must grant: what each process needs (bin/keepalived-rs
/// caps_for_job, ARCHITECTURE section 2), nothing more.
const CAPABILITIES: [&str; 11] = [
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_KILL",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_IPC_LOCK",
    "CAP_CHOWN",
];

/// Runs a command, returning its output whatever the status.
fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs a command that must succeed; its stdout.
fn ok(program: &str, args: &[&str]) -> String {
    let out = output(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs one of the build scripts; the package paths it prints.
fn build(script: &str) -> Vec<PathBuf> {
    let started = Instant::now();
    let out = Command::new(repo().join("packaging").join(script))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run packaging/{script}: {e}"));
    assert!(out.status.success(), "packaging/{script} failed");
    eprintln!(
        "packaging/{script}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// The .deb of keepalived-rs, built once for every test of this file.
fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        build("build-deb")
            .into_iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("keepalived-rs_"))
            })
            .expect("build-deb names the keepalived-rs .deb")
    })
}

/// The .rpm of keepalived-rs, built once.
fn rpm() -> &'static Path {
    static RPM: OnceLock<PathBuf> = OnceLock::new();
    RPM.get_or_init(|| {
        build("build-rpm")
            .into_iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("keepalived-rs-0"))
            })
            .expect("build-rpm names the keepalived-rs .rpm")
    })
}

/// "2.34" -> (2, 34).
fn version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// The highest GLIBC_x.y in `text` (objdump -T output, rpm requirements).
fn highest_glibc(text: &str) -> (u32, u32) {
    text.match_indices("GLIBC_")
        .map(|(i, _)| {
            let rest = &text[i + 6..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            version(rest[..end].trim_end_matches('.'))
        })
        .max()
        .expect("some GLIBC_ symbol version")
}

/// The value of every `Key=` line of the unit.
fn unit_values(key: &str) -> Vec<String> {
    let text = fs::read_to_string(unit()).expect("read the unit");
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_binaries_need_no_glibc_newer_than_2_34() {
    let pkg = deb();
    let dir = support::TempDir::new("pkg-glibc");
    ok(
        "dpkg-deb",
        &["-x", &pkg.to_string_lossy(), &dir.path().to_string_lossy()],
    );
    let mut all = String::new();
    let mut files = vec![dir.join("usr/sbin/keepalived-rs")];
    for c in ["vrrp", "check", "ipvs"] {
        files.push(dir.join(&format!("usr/libexec/keepalived-rs/keepalived-rs-{c}")));
    }
    for f in &files {
        let text = ok("objdump", &["-T", &f.to_string_lossy()]);
        assert!(
            text.contains("GLIBC_"),
            "{} has no glibc symbols",
            f.display()
        );
        all.push_str(&text);
    }
    let (major, minor) = highest_glibc(&all);
    eprintln!("highest GLIBC_ symbol version needed: {major}.{minor}");
    assert!(
        (major, minor) <= GLIBC_MAX,
        "the binaries need GLIBC_{major}.{minor}, newer than RHEL 9's 2.{}",
        GLIBC_MAX.1
    );
    // The package's dependency says the same.
    let control = ok("dpkg-deb", &["-f", &pkg.to_string_lossy(), "Depends"]);
    assert!(
        control.contains(&format!("libc6 (>= {major}.{minor})")),
        "Depends: {control}"
    );
}

#[test]
fn the_unit_grants_exactly_the_capabilities_and_scores_ok() {
    let granted: BTreeSet<String> = unit_values("CapabilityBoundingSet")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let wanted: BTreeSet<String> = CAPABILITIES.iter().map(|c| c.to_string()).collect();
    assert_eq!(granted, wanted, "CapabilityBoundingSet");
    assert_eq!(unit_values("Type"), ["notify"]);
    assert_eq!(unit_values("KillMode"), ["mixed"]);
    assert_eq!(unit_values("RuntimeDirectory"), ["keepalived-rs"]);
    assert_eq!(unit_values("Conflicts"), ["keepalived.service"]);
    assert!(!unit_values("WatchdogSec").is_empty());
    assert!(!unit_values("OOMScoreAdjust").is_empty());
    // The reload goes through the control path that reports a broken configuration: never
    // a bare kill -HUP.
    let reload = unit_values("ExecReload");
    assert_eq!(reload, ["/usr/sbin/keepalived-rs reload"]);
    // Every directive carries its justification: the first line above it (and above the
    // directives grouped with it) is a comment. Description= and Documentation= describe
    // themselves.
    let text = fs::read_to_string(unit()).expect("read the unit");
    let lines: Vec<&str> = text.lines().collect();
    let is_directive = |l: &str| !l.starts_with('#') && !l.starts_with('[') && l.contains('=');
    for (i, l) in lines.iter().enumerate() {
        if !is_directive(l) || l.starts_with("Description=") || l.starts_with("Documentation=") {
            continue;
        }
        let above = lines[..i].iter().rev().find(|p| !is_directive(p));
        assert!(
            above.is_some_and(|p| p.starts_with('#')),
            "line {}: {l} has no comment above it",
            i + 1
        );
    }
    let out = output(
        "systemd-analyze",
        &["security", "--offline=yes", &unit().to_string_lossy()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line}"));
    eprintln!("{}", line.trim());
    assert!(score <= 4.0, "{line}");
}

/// Removes the package (purge) when dropped, so that a failing test leaves nothing installed.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = output("dpkg", &["--purge", "keepalived-rs"]);
    }
}

/// Whether dpkg knows the package (installed, or its configuration files left).
fn dpkg_status(package: &str) -> Option<String> {
    let out = output("dpkg-query", &["-W", "-f=${Status}", package]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter(|s| !s.contains("not-installed"))
}

/// The pids whose executable is `exe`.
fn pids_of(exe: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(e.path().join("exe"))
            .is_ok_and(|p| p.to_string_lossy().trim_end_matches(" (deleted)") == exe)
        {
            out.push(pid);
        }
    }
    out
}

/// Whether systemd is this machine's init (then it must not have started the service).
fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

const INSTALLED: [&str; 11] = [
    "/usr/sbin/keepalived-rs",
    "/usr/libexec/keepalived-rs/keepalived-rs-vrrp",
    "/usr/libexec/keepalived-rs/keepalived-rs-check",
    "/usr/libexec/keepalived-rs/keepalived-rs-ipvs",
    "/lib/systemd/system/keepalived-rs.service",
    "/usr/lib/modules-load.d/keepalived-rs.conf",
    "/usr/lib/sysusers.d/keepalived-rs.conf",
    "/usr/share/man/man8/keepalived-rs.8.gz",
    "/usr/share/man/man5/keepalived-rs.conf.5.gz",
    "/usr/share/doc/keepalived-rs/operate.md",
    "/usr/share/doc/keepalived-rs/examples/keepalived.conf",
];

const CONFFILES: [&str; 2] = [
    "/etc/keepalived-rs/keepalived.conf",
    "/etc/default/keepalived-rs",
];

const USERS: [&str; 3] = [
    "keepalived-rs-vrrp",
    "keepalived-rs-check",
    "keepalived-rs-ipvs",
];

#[test]
fn the_deb_installs_works_and_is_removed_and_purged() {
    assert!(
        dpkg_status("keepalived-rs").is_none(),
        "keepalived-rs is installed on this machine: this test would replace and purge it; \
         remove it first (dpkg --purge keepalived-rs)"
    );
    let pkg = deb().to_string_lossy().into_owned();
    let before: BTreeSet<i32> = pids_of("/usr/sbin/keepalived-rs").into_iter().collect();
    let _purge = Purge;
    let started = Instant::now();
    ok("dpkg", &["-i", &pkg]);
    eprintln!("dpkg -i: {:.1} s", started.elapsed().as_secs_f64());
    for f in INSTALLED.iter().chain(CONFFILES.iter()) {
        assert!(Path::new(f).is_file(), "{f} not installed");
    }
    let mode = fs::metadata(CONFFILES[0])
        .expect("conf")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640, "mode of {}", CONFFILES[0]);
    for u in USERS {
        let entry = ok("getent", &["passwd", u]);
        let fields: Vec<&str> = entry.trim().split(':').collect();
        assert_ne!(fields[2], "0", "{u} has uid 0");
        assert!(fields[6].ends_with("nologin"), "{u}: {entry}");
        ok("getent", &["group", u]);
    }
    // Installed, not started (nor enabled, where systemd runs).
    std::thread::sleep(Duration::from_millis(500));
    let after: BTreeSet<i32> = pids_of("/usr/sbin/keepalived-rs").into_iter().collect();
    assert!(
        after.is_subset(&before),
        "the package started keepalived-rs: {after:?}"
    );
    if systemd_runs() {
        let active = output("systemctl", &["is-active", "keepalived-rs.service"]);
        assert_eq!(String::from_utf8_lossy(&active.stdout).trim(), "inactive");
        let enabled = output("systemctl", &["is-enabled", "keepalived-rs.service"]);
        assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "disabled");
    }
    // The installed command checks the installed example (the default -f).
    let check = output("/usr/sbin/keepalived-rs", &["-t"]);
    assert!(
        check.status.success(),
        "keepalived-rs -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stderr).contains("0 errors"));
    // The example, uncommented, is the documented example and is valid too.
    let example = output(
        "/usr/sbin/keepalived-rs",
        &[
            "-t",
            "-f",
            "/usr/share/doc/keepalived-rs/examples/keepalived.conf",
        ],
    );
    assert!(example.status.success(), "{example:?}");
    // The manual pages render without warnings.
    for page in &INSTALLED[7..9] {
        let out = Command::new("man")
            .args(["--warnings", "-l", page])
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("man");
        assert!(out.status.success(), "man {page}");
        assert!(
            out.stderr.is_empty(),
            "man {page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("SEE ALSO"));
    }
    // The unit, as installed, with its binary and manual pages present.
    let verify = output(
        "systemd-analyze",
        &["verify", "/lib/systemd/system/keepalived-rs.service"],
    );
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    installed_daemon_runs_with_the_units_privileges();

    // A changed configuration survives a reinstall (a conffile is never overwritten).
    let mine = "# mine\n";
    fs::write(CONFFILES[0], mine).expect("write conf");
    ok("dpkg", &["-i", &pkg]);
    assert_eq!(fs::read_to_string(CONFFILES[0]).expect("conf"), mine);

    // Remove: everything but the configuration files; the users stay.
    ok("dpkg", &["-r", "keepalived-rs"]);
    for f in INSTALLED {
        assert!(!Path::new(f).exists(), "{f} left after dpkg -r");
    }
    assert!(!Path::new("/usr/libexec/keepalived-rs").exists());
    for f in CONFFILES {
        assert!(Path::new(f).is_file(), "{f} removed by dpkg -r");
    }
    assert!(
        dpkg_status("keepalived-rs").is_some_and(|s| s.contains("config-files")),
        "{:?}",
        dpkg_status("keepalived-rs")
    );
    // Purge: the configuration too, and the runtime directory when it is empty (a daemon
    // started by hand, or another test, may be using it).
    let runtime = Path::new("/run/keepalived-rs");
    let made_runtime = !runtime.exists() && fs::create_dir(runtime).is_ok();
    ok("dpkg", &["--purge", "keepalived-rs"]);
    if made_runtime {
        assert!(!runtime.exists(), "purge left the empty runtime directory");
    }
    for f in CONFFILES {
        assert!(!Path::new(f).exists(), "{f} left after purge");
    }
    assert!(!Path::new("/etc/keepalived-rs").exists());
    assert!(dpkg_status("keepalived-rs").is_none());
    for u in USERS {
        ok("getent", &["passwd", u]);
    }
}

/// The system calls systemd's `@system-service` set allows, less the groups the unit
/// refuses (`SystemCallFilter=~...`).
fn allowed_syscalls() -> BTreeSet<String> {
    fn expand(group: &str, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
        let text = ok("systemd-analyze", &["syscall-filter", group]);
        let mut out = BTreeSet::new();
        for l in text.lines().skip(1).map(str::trim) {
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if l.starts_with('@') {
                if seen.insert(l.to_string()) {
                    out.extend(expand(l, seen));
                }
            } else {
                out.insert(l.to_string());
            }
        }
        out
    }
    let filters = unit_values("SystemCallFilter");
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for f in filters {
        let (deny, list) = match f.strip_prefix('~') {
            Some(rest) => (true, rest.to_string()),
            None => (false, f),
        };
        for g in list.split_whitespace() {
            let set = if g.starts_with('@') {
                expand(g, &mut BTreeSet::new())
            } else {
                BTreeSet::from([g.to_string()])
            };
            if deny {
                denied.extend(set);
            } else {
                allowed.extend(set);
            }
        }
    }
    allowed.difference(&denied).cloned().collect()
}

/// The installed daemon, in a network namespace, under the unit's capability bounding set
/// and no_new_privs, traced by strace: it becomes VRRP MASTER with its VIP, runs a track
/// script (`killall -0`) and a notify script as root, logs no failure, stops cleanly, and
/// every system call any of its processes and scripts made is one the unit's
/// SystemCallFilter allows.
fn installed_daemon_runs_with_the_units_privileges() {
    let ns = Netns::new("pkg");
    run(
        "ip",
        &[
            "-n", &ns.name, "link", "add", "vr0", "type", "veth", "peer", "name", "vr1",
        ],
    );
    run("ip", &["-n", &ns.name, "link", "set", "vr1", "up"]);
    run(
        "ip",
        &["-n", &ns.name, "addr", "add", "192.0.2.1/24", "dev", "vr0"],
    );
    run("ip", &["-n", &ns.name, "link", "set", "vr0", "up"]);
    // Scripts must live where only root can write (enable_script_security): not /tmp.
    let dir = PathBuf::from(format!("/run/keepalived-rs-pkgtest-{}", std::process::id()));
    let _clean = support::RemoveOnDrop(dir.clone());
    fs::create_dir_all(&dir).expect("test dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = |name: &str, body: &str| -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("script");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    };
    let track = script(
        "track.sh",
        &format!(
            "/usr/bin/killall -0 keepalived-rs || exit 1\necho ok > {}/track.out",
            dir.display()
        ),
    );
    let notify = script(
        "notify.sh",
        &format!("echo \"$3\" > {}/state.out", dir.display()),
    );
    let conf = dir.join("keepalived.conf");
    fs::write(
        &conf,
        format!(
            "global_defs {{\n    enable_script_security\n    script_user root\n}}\n\
             vrrp_script chk {{\n    script \"{}\"\n    interval 1\n}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface vr0\n    \
             virtual_router_id 51\n    priority 100\n    advert_int 1\n    \
             virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n    \
             track_script {{\n        chk\n    }}\n    notify \"{}\"\n}}\n",
            track.display(),
            notify.display()
        ),
    )
    .expect("conf");
    let keep: Vec<String> = CAPABILITIES
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let bounding = format!("-all,{}", keep.join(","));
    let trace = dir.join("strace.out");
    let runtime = dir.join("run");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "setpriv",
            "--bounding-set",
            &bounding,
        ])
        .args(["--no-new-privs", "strace", "-f", "-qq", "-o"])
        .arg(&trace)
        .args(["/usr/sbin/keepalived-rs", "-n", "-l", "-G", "-f"])
        .arg(&conf)
        .arg("--runtime-dir")
        .arg(&runtime)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the installed daemon");
    let log_path = dir.join("daemon.log");
    let mut stderr = child.stderr.take().expect("stderr");
    let log_file = fs::File::create(&log_path).expect("log file");
    let copier = std::thread::spawn(move || {
        let mut log_file = log_file;
        let _ = std::io::copy(&mut stderr, &mut log_file);
    });
    let log = || fs::read_to_string(&log_path).unwrap_or_default();
    let state = poll_until(Duration::from_secs(20), || {
        fs::read_to_string(dir.join("state.out"))
            .ok()
            .filter(|s| s.trim() == "MASTER")
    });
    let vip = ok("ip", &["-n", &ns.name, "-4", "addr", "show", "dev", "vr0"]);
    let tracked = dir.join("track.out").is_file();
    // SIGTERM to the daemon (strace's child): pkill by parent would be too broad; the
    // pidfile names it.
    let pid = fs::read_to_string(runtime.join(&ns.name).join("keepalived-rs.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        support::signal(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let status = poll_until(Duration::from_secs(20), || child.try_wait().ok().flatten());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = copier.join();
    let log = log();
    assert!(
        state.is_some(),
        "never MASTER under the unit's privileges:\n{log}"
    );
    assert!(vip.contains("192.0.2.100/24"), "no VIP: {vip}\n{log}");
    assert!(tracked, "the track script (killall -0) did not run:\n{log}");
    assert!(
        status.is_some_and(|s| s.success()),
        "stop: {status:?}\n{log}"
    );
    for bad in ["cannot", "not permitted", "refused", "denied", "error"] {
        assert!(
            !log.to_lowercase().contains(bad),
            "'{bad}' in the log under the unit's privileges:\n{log}"
        );
    }
    // Every system call made by the parent, the VRRP process and the scripts.
    let traced = fs::read_to_string(&trace).expect("strace output");
    let mut used = BTreeSet::new();
    for l in traced.lines() {
        let rest = l.split_once(' ').map(|(_, r)| r.trim_start()).unwrap_or("");
        if rest.starts_with("<...") || rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        if let Some((name, _)) = rest.split_once('(') {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                used.insert(name.to_string());
            }
        }
    }
    assert!(used.contains("execveat"), "strace saw no child start");
    let allowed = allowed_syscalls();
    let refused: Vec<&String> = used.difference(&allowed).collect();
    eprintln!("{} distinct system calls, all checked", used.len());
    assert!(
        refused.is_empty(),
        "system calls the unit's SystemCallFilter refuses: {refused:?}"
    );
}

#[test]
fn lintian_finds_no_error_in_the_deb() {
    let pkg = deb().to_string_lossy().into_owned();
    let started = Instant::now();
    let out = output(
        "lintian",
        &[
            "--fail-on",
            "error",
            "--allow-root",
            "--tag-display-limit",
            "0",
            &pkg,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "lintian ({:.1} s):\n{text}{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{text}"
    );
    assert!(out.status.success(), "lintian failed: {out:?}");
}

#[test]
fn the_rpm_has_its_files_scripts_users_and_dependencies() {
    let pkg = rpm().to_string_lossy().into_owned();
    let q = |args: &[&str]| -> String {
        let mut all = vec!["-qp"];
        all.extend_from_slice(args);
        all.push(&pkg);
        ok("rpm", &all)
    };
    // Files.
    let files: BTreeSet<String> = q(&["-l"]).lines().map(str::to_string).collect();
    for f in [
        "/usr/sbin/keepalived-rs",
        "/usr/libexec/keepalived-rs",
        "/usr/libexec/keepalived-rs/keepalived-rs-vrrp",
        "/usr/libexec/keepalived-rs/keepalived-rs-check",
        "/usr/libexec/keepalived-rs/keepalived-rs-ipvs",
        "/usr/lib/systemd/system/keepalived-rs.service",
        "/usr/lib/modules-load.d/keepalived-rs.conf",
        "/usr/lib/sysusers.d/keepalived-rs.conf",
        "/etc/keepalived-rs",
        "/etc/keepalived-rs/keepalived.conf",
        "/etc/sysconfig/keepalived-rs",
        "/usr/share/man/man8/keepalived-rs.8.gz",
        "/usr/share/man/man5/keepalived-rs.conf.5.gz",
        "/usr/share/doc/keepalived-rs/install.md",
        "/usr/share/doc/keepalived-rs/migrate.md",
        "/usr/share/doc/keepalived-rs/operate.md",
        "/usr/share/doc/keepalived-rs/troubleshooting.md",
        "/usr/share/doc/keepalived-rs/examples/keepalived.conf",
    ] {
        assert!(files.contains(f), "{f} not in the rpm: {files:#?}");
    }
    assert!(
        !files.iter().any(|f| f.starts_with("/etc/default")
            || f.starts_with("/lib/")
            || f.contains("/.build-id")),
        "{files:#?}"
    );
    // Configuration files: never replaced, the main one readable by root only.
    let flags = q(&[
        "--qf",
        "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\n]",
    ]);
    let line = |name: &str| {
        flags
            .lines()
            .find(|l| l.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in {flags}"))
            .to_string()
    };
    assert!(
        line("/etc/keepalived-rs/keepalived.conf").ends_with(" cn -rw-r-----"),
        "{flags}"
    );
    assert!(
        line("/etc/sysconfig/keepalived-rs").contains(" cn "),
        "{flags}"
    );
    assert!(
        line("/usr/sbin/keepalived-rs").ends_with("-rwxr-xr-x"),
        "{flags}"
    );
    // Scripts: the three users created before the files; no restart on upgrade; stop and
    // disable on erase only.
    let scripts = q(&["--scripts"]);
    let section = |name: &str| -> String {
        let start = scripts
            .find(&format!("{name} scriptlet"))
            .unwrap_or_else(|| panic!("no {name} scriptlet in:\n{scripts}"));
        let rest = &scripts[start..];
        let body = rest.find('\n').map(|n| n + 1).unwrap_or(rest.len());
        let end = rest[body..]
            .find(" scriptlet (using")
            .and_then(|e| rest[..body + e].rfind('\n').map(|n| n.max(body)))
            .unwrap_or(rest.len());
        // The commands, without the comments that explain them.
        rest[body..end]
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pre = section("preinstall");
    for u in USERS {
        assert!(pre.contains(u), "{u} not created in %pre:\n{pre}");
    }
    assert!(pre.contains("useradd --system"), "{pre}");
    assert!(pre.contains("/usr/sbin/nologin"), "{pre}");
    let postun = section("postuninstall");
    assert!(
        !postun.contains("restart") && !postun.contains("try-restart"),
        "%postun restarts the service:\n{postun}"
    );
    let post = section("postinstall");
    assert!(
        !post.contains("enable") && !post.contains("start"),
        "%post enables or starts the service:\n{post}"
    );
    let preun = section("preuninstall");
    assert!(
        preun.contains("$1 -eq 0") && preun.contains("disable --now"),
        "{preun}"
    );
    // Dependencies: glibc no newer than 2.34 (found in the binaries by rpm itself), the
    // tools of the scripts.
    let requires = q(&["--requires"]);
    assert!(requires.contains("libc.so.6(GLIBC_"), "{requires}");
    let (major, minor) = highest_glibc(&requires);
    assert!(
        (major, minor) <= GLIBC_MAX,
        "requires GLIBC_{major}.{minor}"
    );
    for r in ["shadow-utils", "systemd", "/bin/sh"] {
        assert!(
            requires.lines().any(|l| l.trim() == r),
            "{r} not required:\n{requires}"
        );
    }
    let arch = q(&["--qf", "%{ARCH} %{VERSION} %{LICENSE}"]);
    assert!(arch.starts_with("x86_64 "), "{arch}");
    assert!(arch.ends_with("GPL-2.0-or-later"), "{arch}");
}

#[test]
fn the_selinux_packages_carry_the_module_and_load_and_relabel() {
    // Any file stands for the policy module: the packages carry it as it is.
    let dir = support::TempDir::new("pkg-selinux");
    let pp = dir.write("keepalived_rs.pp", "stand-in for the policy module\n");
    let out = dir.join("out");
    let run_build = |script: &str| {
        let status = Command::new(repo().join("packaging").join(script))
            .env("SELINUX_PP", &pp)
            .env("PACKAGES_DIR", &out)
            .env("WORK_DIR", dir.join(&format!("work-{script}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("run the build script");
        assert!(status.success(), "{script} with SELINUX_PP");
    };
    run_build("build-deb");
    run_build("build-rpm");
    let version = ok("dpkg-deb", &["-f", &deb().to_string_lossy(), "Version"]);
    let version = version.trim();

    let sdeb = out.join(format!("keepalived-rs-selinux_{version}_all.deb"));
    let sdeb = sdeb.to_string_lossy();
    let depends = ok("dpkg-deb", &["-f", &sdeb, "Depends"]);
    assert!(
        depends.contains(&format!("keepalived-rs (= {version})")),
        "{depends}"
    );
    assert!(depends.contains("policycoreutils"), "{depends}");
    let x = dir.join("x");
    ok("dpkg-deb", &["-x", &sdeb, &x.to_string_lossy()]);
    assert_eq!(
        fs::read(x.join("usr/share/selinux/packages/keepalived_rs.pp")).expect("the module"),
        fs::read(&pp).expect("pp")
    );
    let control = dir.join("control");
    ok("dpkg-deb", &["-e", &sdeb, &control.to_string_lossy()]);
    let postinst = fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(
        postinst.contains("semodule -X 200 -i /usr/share/selinux/packages/keepalived_rs.pp"),
        "{postinst}"
    );
    assert!(
        postinst.contains("restorecon -R /usr/sbin/keepalived-rs"),
        "{postinst}"
    );
    let postrm = fs::read_to_string(control.join("postrm")).expect("postrm");
    assert!(
        postrm.contains("semodule -X 200 -r keepalived_rs"),
        "{postrm}"
    );
    let lint = output(
        "lintian",
        &[
            "--fail-on",
            "error",
            "--allow-root",
            "--tag-display-limit",
            "0",
            &sdeb,
        ],
    );
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(
        lint.status.success() && !text.lines().any(|l| l.starts_with("E:")),
        "lintian on {sdeb}:\n{text}"
    );

    let srpm = out.join(format!("keepalived-rs-selinux-{version}-1.noarch.rpm"));
    let srpm = srpm.to_string_lossy();
    let files = ok("rpm", &["-qpl", &srpm]);
    assert_eq!(files.trim(), "/usr/share/selinux/packages/keepalived_rs.pp");
    let scripts = ok("rpm", &["-qp", "--scripts", &srpm]);
    for needle in [
        "semodule -X 200 -i /usr/share/selinux/packages/keepalived_rs.pp",
        "restorecon -R /usr/sbin/keepalived-rs",
        "semodule -X 200 -r keepalived_rs",
    ] {
        assert!(scripts.contains(needle), "{needle} not in:\n{scripts}");
    }
    let requires = ok("rpm", &["-qp", "--requires", &srpm]);
    for r in [
        format!("keepalived-rs = {version}-1"),
        "policycoreutils".to_string(),
        "selinux-policy-targeted".to_string(),
    ] {
        assert!(
            requires.lines().any(|l| l.trim() == r),
            "{r} not in:\n{requires}"
        );
    }
}
