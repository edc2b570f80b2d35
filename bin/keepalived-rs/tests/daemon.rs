//! Integration tests of the daemon's process model, with the real binaries: the parent
//! (`keepalived-rs -n -l`), its three children (target/debug/keepalived-rs-{vrrp,check,ipvs})
//! and, for protocol abuse, tests/fake-child.
//!
//! Each test runs its daemon in a network namespace of its own (`ip netns exec`) with its
//! runtime files in a temporary directory, and kills it in a `Drop` guard. They need root
//! and the children built: run `cargo build --workspace` before
//! `cargo test -p keepalived-rs --test daemon`.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use support::*;

/// CAP_NET_ADMIN and CAP_NET_RAW as bits of /proc/<pid>/status masks.
const NET_ADMIN: u64 = 1 << 12;
const NET_RAW: u64 = 1 << 13;

/// Start-up, reload and stop bounds.
const T: Duration = Duration::from_secs(10);

/// `global_defs` with scripts run as `nobody`, plus `extra` lines.
fn global_defs(extra: &str) -> String {
    format!("global_defs {{\n    script_user nobody\n{extra}}}\n")
}

/// A `vrrp_script`.
fn vrrp_script(name: &str, script: &str, extra: &str) -> String {
    format!(
        "vrrp_script {name} {{\n    script \"{script}\"\n    interval 1\n    rise 1\n    fall 1\n{extra}}}\n"
    )
}

/// A BACKUP instance on lo with advert_int 1, tracking `tracks`.
fn instance(name: &str, vrid: u8, tracks: &[&str], extra: &str) -> String {
    let track = if tracks.is_empty() {
        String::new()
    } else {
        format!(
            "    track_script {{\n        {}\n    }}\n",
            tracks.join("\n        ")
        )
    };
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface lo\n    virtual_router_id {vrid}\n    \
         priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        192.0.2.{vrid}/32\n    }}\n\
         {track}{extra}}}\n"
    )
}

/// A virtual server with one TCP_CHECK real server (needs the checker and the IPVS writer).
const VIRTUAL_SERVER: &str = "virtual_server 192.0.2.100 80 {
    delay_loop 2
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 192.0.2.1 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
";

/// The configuration of most tests: VI_1 tracking `tracks` among `scripts`, and the
/// virtual server.
fn config(global_extra: &str, scripts: &str, tracks: &[&str]) -> String {
    format!(
        "{}{scripts}{}{VIRTUAL_SERVER}",
        global_defs(global_extra),
        instance("VI_1", 51, tracks, "")
    )
}

/// A daemon with `config` in a fresh namespace and directory.
struct Setup {
    dir: TempDir,
    ns: Netns,
}

impl Setup {
    fn new(tag: &str, config: &str) -> Setup {
        let ns = Netns::new(tag);
        let dir = TempDir::new(tag);
        dir.write("keepalived.conf", config);
        Setup { dir, ns }
    }

    fn conf(&self) -> std::path::PathBuf {
        self.dir.join("keepalived.conf")
    }

    fn launch(&self) -> Launch {
        Launch::new(&self.ns, &self.conf(), &self.dir.join("run"))
    }
}

macro_rules! check_eq {
    ($d:expr, $left:expr, $right:expr, $($what:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            $d.fail(&format!("{}: {:?} != {:?}", format!($($what)+), l, r));
        }
    }};
}

/// Waits until the last `started keepalived-rs-<role> (pid N` line of the log names `pid`
/// (the parent writes the pidfile just before it logs that line).
fn wait_last_started(d: &Daemon, role: &str, pid: i32) {
    d.wait(
        &format!("the last start of keepalived-rs-{role} to be pid {pid} (its pidfile's)"),
        T,
        || (d.started_pids_of(role).last() == Some(&pid)).then_some(()),
    );
}

fn fd_target(pid: i32, fd: u32) -> String {
    fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}

// ------------------------------------------------------------------------------------------
// 1. Confinement as seen from /proc
// ------------------------------------------------------------------------------------------

#[test]
fn children_run_as_their_users_with_only_their_capabilities() {
    let s = Setup::new("caps", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    check_eq!(
        d,
        read_pid(&d.pidfile("keepalived-rs")),
        Some(d.pid),
        "the parent's pidfile"
    );
    for (role, mask) in [
        ("vrrp", NET_ADMIN | NET_RAW),
        ("check", 0),
        ("ipvs", NET_ADMIN),
    ] {
        let pid = d.child_pid(role);
        let user = format!("keepalived-rs-{role}");
        let (uid, gid) = user_ids(&user).expect("the user exists");
        let st = proc_status(pid);
        check_eq!(d, st.uid, [uid; 4], "{user} (pid {pid}): Uid");
        check_eq!(d, st.gid, [gid; 4], "{user} (pid {pid}): Gid");
        check_eq!(d, st.groups, Vec::<u32>::new(), "{user}: Groups");
        check_eq!(d, st.cap_eff, mask, "{user}: CapEff");
        check_eq!(d, st.cap_prm, mask, "{user}: CapPrm");
        check_eq!(d, st.cap_bnd, mask, "{user}: CapBnd");
        // confine() sets the inheritable set to the kept capabilities: never more.
        check_eq!(
            d,
            st.cap_inh & !mask,
            0,
            "{user}: CapInh beyond its capabilities"
        );
        check_eq!(d, st.cap_amb, 0, "{user}: CapAmb");
        check_eq!(d, st.no_new_privs, true, "{user}: NoNewPrivs");
        if role == "ipvs" {
            check_eq!(d, st.seccomp, 2, "{user}: Seccomp (filter mode)");
        }
        let environ = fs::read(format!("/proc/{pid}/environ")).expect("environ");
        check_eq!(
            d,
            String::from_utf8_lossy(&environ),
            "",
            "{user}: environment"
        );
        check_eq!(d, fd_target(pid, 0), "/dev/null", "{user}: fd 0");
        check_eq!(d, fd_target(pid, 1), "/dev/null", "{user}: fd 1");
        let log = fd_target(pid, 2);
        d.check(log.starts_with("pipe:"), &format!("{user}: fd 2 is {log}"));
        let ipc = fd_target(pid, 3);
        d.check(
            ipc.starts_with("socket:"),
            &format!("{user}: fd 3 is {ipc}"),
        );
    }
}

// ------------------------------------------------------------------------------------------
// 2. --verify-confinement
// ------------------------------------------------------------------------------------------

#[test]
fn each_child_fails_what_it_must_not_do() {
    let s = Setup::new("verify", &config("", "", &[]));
    let d = s.launch().arg("--verify-confinement").start();
    d.wait_started();
    let expected: [(&str, &[&str]); 3] = [
        ("vrrp", &["open a root-owned file for writing"]),
        (
            "check",
            &["open a root-owned file for writing", "open a raw socket"],
        ),
        (
            "ipvs",
            &[
                "open a root-owned file for writing",
                "open a raw socket",
                "open a TCP socket",
            ],
        ),
    ];
    for (role, probes) in expected {
        let tag = format!("keepalived-rs-{role}[");
        d.wait_for_log(
            &format!("confinement check of keepalived-rs-{role} passed"),
            T,
        );
        for probe in probes {
            let ok = d
                .lines_with(&tag)
                .iter()
                .any(|l| l.contains(&format!("confinement check: {probe}: refused (")));
            d.check(
                ok,
                &format!("no 'confinement check: {probe}: refused' line from {tag}"),
            );
        }
    }
    d.check(
        !d.log().contains("ALLOWED"),
        "a confinement check was ALLOWED",
    );
}

// ------------------------------------------------------------------------------------------
// 3-5. Supervision: kill -9, a hung child, the parent's death
// ------------------------------------------------------------------------------------------

#[test]
fn kill_9_of_each_child_respawns_it_and_vrrp_resumes_its_state() {
    let s = Setup::new(
        "kill9",
        &config(
            "",
            &vrrp_script("chk", "/bin/false", "    weight 0\n"),
            &["chk"],
        ),
    );
    let d = s.launch().start();
    d.wait_started();
    d.wait_for_log("VRRP instance VI_1 is now Fault (priority 100)", T);
    for role in ["check", "ipvs", "vrrp"] {
        let old = d.child_pid(role);
        let mark = d.log().len();
        signal(old, Signal::SIGKILL);
        let new = d.wait_pid_in(&d.pidfile(role), Some(old), Duration::from_secs(5));
        d.wait_for_log(
            &format!("keepalived-rs-{role} (pid {old}) killed by signal SIGKILL"),
            T,
        );
        wait_last_started(&d, role, new);
        if role == "vrrp" {
            d.wait_for_log(
                "resumed instance VI_1: Fault, priority 100, trackers [(\"chk\", -1)]",
                T,
            );
            // Let the resumed process run its script a few times.
            std::thread::sleep(Duration::from_millis(2500));
            let after = d.log()[mark..].to_string();
            d.check(
                !after.contains("VRRP instance VI_1 is now"),
                "the parent reported a new transition after the VRRP process resumed",
            );
            check_eq!(
                d,
                d.lines_with("VRRP instance VI_1 is now Fault").len(),
                1,
                "transitions to FAULT"
            );
        }
    }
    d.check(alive(d.pid), "the parent died");
}

#[test]
fn a_hung_child_is_killed_and_respawned() {
    let s = Setup::new("hung", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let old = d.child_pid("vrrp");
    let t0 = Instant::now();
    signal(old, Signal::SIGSTOP);
    d.wait(
        "the parent to log an unanswered heartbeat of the stopped VRRP process",
        Duration::from_secs(4),
        || {
            d.log()
                .lines()
                .find(|l| {
                    l.contains(&format!("keepalived-rs-vrrp (pid {old})"))
                        && l.contains("heartbeat")
                        && l.contains("unanswered")
                })
                .map(str::to_string)
        },
    );
    let new = d.wait_pid_in(&d.pidfile("vrrp"), Some(old), Duration::from_secs(2));
    let took = t0.elapsed();
    d.check(
        took < Duration::from_secs(4),
        &format!("the hung VRRP process was replaced after {took:?}"),
    );
    d.check(!alive(old), "the hung process is still there");
    d.check(new != old, "same pid");
    d.wait_for_log(
        &format!("keepalived-rs-vrrp (pid {old}) killed by signal SIGKILL"),
        T,
    );
}

#[test]
fn parent_sigkill_stops_every_child() {
    let s = Setup::new("pdeath", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let pids: Vec<i32> = ROLES.iter().map(|r| d.child_pid(r)).collect();
    d.signal(Signal::SIGKILL);
    let left = poll_until(Duration::from_secs(3), || {
        let left: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        left.is_empty().then_some(())
    });
    if left.is_none() {
        let still: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        d.fail(&format!(
            "children {still:?} of {pids:?} still run 3 s after the parent was killed"
        ));
    }
}

/// The same while signals keep arriving at the children (an operator's `kill -USR2`, a
/// burst of anything): a child must still exit, also when a signal lands while it tears
/// down its signal handling on the way out.
#[test]
fn parent_sigkill_stops_every_child_while_signals_arrive() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Setup::new("pdeathsig", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let pids: Vec<i32> = ROLES.iter().map(|r| d.child_pid(r)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (stop, mut targets) = (Arc::clone(&stop), pids.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && !targets.is_empty() {
                // Only while it is still one of ours: a zombie's pid is not reused, and the
                // check runs between short bursts.
                targets.retain(|&p| {
                    alive(p) && argv0(p).is_some_and(|a| a.starts_with("keepalived-rs-"))
                });
                for _ in 0..20 {
                    for &p in &targets {
                        let _ =
                            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGUSR2);
                    }
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    d.signal(Signal::SIGKILL);
    let gone = poll_until(Duration::from_secs(3), || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let _ = flood.join();
    if gone.is_none() {
        let still: Vec<String> = pids
            .iter()
            .copied()
            .filter(|p| alive(*p))
            .map(|p| format!("{p} ({})", argv0(p).unwrap_or_default()))
            .collect();
        d.fail(&format!(
            "children {still:?} still run 3 s after the parent was killed while signals \
             arrived"
        ));
    }
}

// ------------------------------------------------------------------------------------------
// 6. Reload
// ------------------------------------------------------------------------------------------

fn all_pids(d: &Daemon) -> Vec<i32> {
    ROLES.iter().map(|r| d.child_pid(r)).collect()
}

#[test]
fn reload_with_a_broken_file_changes_nothing() {
    let s = Setup::new("badreload", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let before = all_pids(&d);
    let broken = config("", "", &[]).replacen("    priority 100\n", "    priorty 100\n", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("priorty"))
        .expect("the broken line")
        + 1;
    fs::write(s.conf(), &broken).expect("write");
    d.signal(Signal::SIGHUP);
    d.wait_for_log("reload failed: the running configuration is unchanged", T);
    let place = format!("{}:{line}:", s.conf().display());
    d.check(
        d.log()
            .lines()
            .any(|l| l.contains(&place) && l.contains("priorty")),
        &format!("no error line naming {place}"),
    );
    d.check(
        !d.log().contains("Reload complete"),
        "a broken reload completed",
    );
    check_eq!(d, all_pids(&d), before, "child pids after a failed reload");
    // Still generation 1.
    d.signal(Signal::SIGUSR1);
    let dump = d.runtime.join("keepalived-rs.data");
    d.wait_for_log(&format!("wrote {}", dump.display()), T);
    let text = fs::read_to_string(&dump).expect("dump");
    d.check(
        text.contains(" Generation = 1\n"),
        &format!("the dump after a failed reload:\n{text}"),
    );
    d.check(alive(d.pid), "the parent died");
}

#[test]
fn reload_with_a_good_file_is_applied() {
    let s = Setup::new("reload", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    d.wait_for_log("configuration applied: 1 instance(s)", T);
    let before = all_pids(&d);
    let two = format!(
        "{}{}{}{VIRTUAL_SERVER}",
        global_defs(""),
        instance("VI_1", 51, &[], ""),
        instance("VI_2", 52, &[], "")
    );
    fs::write(s.conf(), two).expect("write");
    d.signal(Signal::SIGHUP);
    d.wait_for_log("Reload complete (generation 2)", T);
    let applied = d.wait_for_log("configuration applied: 2 instance(s)", T);
    let vrrp = before[0];
    d.check(
        applied.contains(&format!("keepalived-rs-vrrp[{vrrp}]")),
        &format!("'{applied}' is not from the VRRP process {vrrp}"),
    );
    check_eq!(d, all_pids(&d), before, "child pids after a reload");
}

// ------------------------------------------------------------------------------------------
// 7-8. Stop order, scripts, pidfiles
// ------------------------------------------------------------------------------------------

#[test]
fn sigterm_stops_vrrp_then_ipvs_then_checker_and_removes_pidfiles() {
    let ns = Netns::new("stop");
    let dir = TempDir::new("stop");
    let out = dir.shared_dir("out");
    let extra = format!(
        "    startup_script \"/bin/sh -c 'sleep 1; echo started > {o}/startup'\"\n    \
         shutdown_script \"/bin/sh -c 'echo stopped > {o}/shutdown'\"\n",
        o = out.display()
    );
    let conf = dir.write("keepalived.conf", &config(&extra, "", &[]));
    let mut d = Launch::new(&ns, &conf, &dir.join("run")).start();
    d.wait_started();
    check_eq!(
        d,
        fs::read_to_string(out.join("startup")).ok(),
        Some("started\n".to_string()),
        "startup_script's marker when 'Startup complete' is logged"
    );
    let pids = all_pids(&d);
    let files: Vec<_> = ["keepalived-rs", "vrrp", "check", "ipvs"]
        .iter()
        .map(|r| d.pidfile(r))
        .collect();
    for f in &files {
        d.check(f.exists(), &format!("{} missing", f.display()));
    }
    d.signal(Signal::SIGTERM);
    let status = d.wait_exit(Duration::from_secs(15));
    check_eq!(d, status.code(), Some(0), "exit status after SIGTERM");
    let log = d.log();
    let at = |role: &str, pid: i32| -> usize {
        let key = format!("keepalived-rs-{role} (pid {pid}) exited with status 0");
        log.find(&key)
            .unwrap_or_else(|| d.fail(&format!("no line '{key}'")))
    };
    let (v, c, i) = (
        at("vrrp", pids[0]),
        at("check", pids[1]),
        at("ipvs", pids[2]),
    );
    d.check(
        v < i && i < c,
        "the children did not stop in the order VRRP, IPVS writer, checker",
    );
    for f in &files {
        d.check(!f.exists(), &format!("{} left behind", f.display()));
    }
    check_eq!(
        d,
        fs::read_to_string(out.join("shutdown")).ok(),
        Some("stopped\n".to_string()),
        "shutdown_script's marker"
    );
}

/// The parent stops too while signals keep arriving (here SIGCHLD, which it takes as "reap
/// what exited" and which is harmless to repeat).
#[test]
fn sigterm_stops_the_daemon_while_signals_arrive() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Setup::new("stopsig", &config("", "", &[]));
    let mut d = s.launch().start();
    d.wait_started();
    let stop = Arc::new(AtomicBool::new(false));
    let pid = d.pid;
    let flood = {
        let stop = Arc::clone(&stop);
        // The daemon is this process's child and is reaped only after the flood stops, so
        // its pid cannot be recycled meanwhile.
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGCHLD);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    d.signal(Signal::SIGTERM);
    let exited = poll_until(T, || (!alive(pid)).then_some(()));
    stop.store(true, Ordering::Relaxed);
    let _ = flood.join();
    if exited.is_none() {
        d.fail("the daemon did not exit within 10 s of SIGTERM while SIGCHLDs arrived");
    }
    check_eq!(d, d.wait_exit(T).code(), Some(0), "exit status");
}

#[test]
fn pidfiles_follow_respawns() {
    let s = Setup::new("pidf", &config("", "", &[]));
    let pids_dir = s.dir.join("pids");
    fs::create_dir(&pids_dir).expect("mkdir");
    let file = |n: &str| pids_dir.join(format!("{n}.pid"));
    let mut d = s
        .launch()
        .arg("-p")
        .arg(file("parent"))
        .arg("-r")
        .arg(file("vrrp"))
        .arg("-c")
        .arg(file("check"))
        .arg("--ipvs_pid")
        .arg(file("ipvs"))
        .start();
    d.wait_started();
    check_eq!(d, read_pid(&file("parent")), Some(d.pid), "-p pidfile");
    for role in ROLES {
        let pid = d.wait_pid_in(&file(role), None, T);
        wait_last_started(&d, role, pid);
        d.check(
            !d.pidfile(role).exists(),
            &format!(
                "{} written although {} was given",
                d.pidfile(role).display(),
                file(role).display()
            ),
        );
        signal(pid, Signal::SIGKILL);
        let new = d.wait_pid_in(&file(role), Some(pid), T);
        wait_last_started(&d, role, new);
    }
    d.check(
        !d.pidfile("keepalived-rs").exists(),
        "the default parent pidfile was written although -p was given",
    );
    d.signal(Signal::SIGTERM);
    check_eq!(d, d.wait_exit(T).code(), Some(0), "exit status");
    for n in ["parent", "vrrp", "check", "ipvs"] {
        d.check(
            !file(n).exists(),
            &format!("{} left behind", file(n).display()),
        );
    }
}

// ------------------------------------------------------------------------------------------
// 9. Data dump
// ------------------------------------------------------------------------------------------

#[test]
fn data_dump_is_private_and_complete() {
    let s = Setup::new("dump", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let vrrp = d.child_pid("vrrp");
    let dump = d.runtime.join("keepalived-rs.data");
    d.signal(Signal::SIGUSR1);
    d.wait_for_log(&format!("wrote {}", dump.display()), T);
    let meta = fs::symlink_metadata(&dump).expect("dump file");
    check_eq!(
        d,
        meta.permissions().mode() & 0o7777,
        0o600,
        "dump file mode"
    );
    let text = fs::read_to_string(&dump).expect("read dump");
    for needle in [
        "------< Parent >------".to_string(),
        format!(" Process vrrp pid = {vrrp} "),
        "------< vrrp process >------".to_string(),
        " VRRP Instance = VI_1".to_string(),
        "------< check process >------".to_string(),
        "------< ipvs process >------".to_string(),
    ] {
        d.check(
            text.contains(&needle),
            &format!("the dump lacks {needle:?}:\n{text}"),
        );
    }
    // A symbolic link planted at the dump's path is not followed.
    let target = s.dir.write("target", "untouched\n");
    fs::remove_file(&dump).expect("remove dump");
    std::os::unix::fs::symlink(&target, &dump).expect("plant symlink");
    d.signal(Signal::SIGUSR1);
    d.wait_for_log(&format!("cannot write {}", dump.display()), T);
    check_eq!(
        d,
        fs::read_to_string(&target).ok(),
        Some("untouched\n".to_string()),
        "the symlink's target"
    );
    d.check(
        fs::symlink_metadata(&dump).is_ok_and(|m| m.file_type().is_symlink()),
        "the planted symlink was replaced",
    );
}

// ------------------------------------------------------------------------------------------
// 10-11. Scripts
// ------------------------------------------------------------------------------------------

#[test]
fn scripts_run_as_script_user_with_a_scrubbed_environment_and_timeout() {
    let ns = Netns::new("scripts");
    let dir = TempDir::new("scripts");
    let out = dir.shared_dir("out");
    let o = out.display();
    let sleeper = dir.script(
        "sleeper.sh",
        &format!("#!/bin/sh\necho $$ > {o}/sleep.pid\nexec sleep 30\n"),
    );
    let scripts = format!(
        "{}{}",
        vrrp_script(
            "ident",
            &format!("/bin/sh -c 'id -u > {o}/uid; id -G > {o}/groups; env > {o}/env'"),
            "    weight 0\n"
        ),
        vrrp_script(
            "sleeper",
            &sleeper.display().to_string(),
            "    timeout 1\n    weight -10\n"
        )
        .replace("interval 1", "interval 20")
    );
    let conf = dir.write(
        "keepalived.conf",
        &config("", &scripts, &["ident", "sleeper"]),
    );
    let d = Launch::new(&ns, &conf, &dir.join("run"))
        .env("KRS_TEST_SECRET", "do-not-leak")
        .start();
    d.wait_started();
    let read = |name: &str| {
        fs::read_to_string(out.join(name))
            .ok()
            .filter(|s| !s.is_empty())
    };
    let uid = d.wait("the ident script's uid file", T, || read("uid"));
    check_eq!(
        d,
        uid.trim(),
        "65534",
        "uid of a script run as script_user nobody"
    );
    let groups = d.wait("the ident script's groups file", T, || read("groups"));
    check_eq!(d, groups.trim(), "65534", "groups of the script");
    let env = d.wait("the ident script's env file", T, || read("env"));
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    d.check(
        env.lines()
            .any(|l| l == "PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
        &format!("the script's PATH:\n{env}"),
    );
    for n in &names {
        d.check(
            ["PATH", "PWD", "SHLVL", "_", "OLDPWD"].contains(n),
            &format!("the script's environment has {n}:\n{env}"),
        );
    }
    // The sleeper: killed at its timeout, with nothing left behind.
    d.wait_for_log("vrrp_script sleeper timed out", T);
    let pid: i32 = d.wait("the sleeper's pid file", T, || {
        read("sleep.pid").and_then(|s| s.trim().parse().ok())
    });
    d.wait(
        &format!("the timed-out script (pid {pid}) to be gone"),
        Duration::from_secs(2),
        || (!alive(pid)).then_some(()),
    );
}

#[test]
fn notify_scripts_see_transitions_in_order() {
    let ns = Netns::new("notify");
    let dir = TempDir::new("notify");
    let out = dir.shared_dir("out");
    let o = out.display();
    let notify = dir.script(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$3\" >> {o}/notify.log\n"),
    );
    let flag = out.join("fail");
    let conf = format!(
        "{}{}{}{VIRTUAL_SERVER}",
        global_defs(""),
        vrrp_script(
            "chk",
            &format!("/bin/sh -c 'test ! -e {}'", flag.display()),
            "    weight 0\n"
        ),
        instance(
            "VI_1",
            51,
            &["chk"],
            &format!("    notify {}\n", notify.display())
        )
    );
    let conf = dir.write("keepalived.conf", &conf);
    // -D: the parent logs each intent ("about to enter") at debug level.
    let d = Launch::new(&ns, &conf, &dir.join("run")).arg("-D").start();
    d.wait_started();
    let key = "VRRP instance VI_1 is now ";
    d.wait_for_nth_log(key, 1, T);
    let states = |d: &Daemon| -> Vec<String> {
        d.lines_with(key)
            .iter()
            .filter_map(|l| l.split(key).nth(1))
            .filter_map(|r| r.split_whitespace().next())
            .map(str::to_uppercase)
            .collect()
    };
    // The flag set: FAULT (weight 0). Cleared: out of FAULT (BACKUP, then MASTER once
    // Master_Down_Interval passes with no other router). Twice each.
    for _ in 0..2 {
        fs::write(&flag, "").expect("set the flag");
        d.wait("FAULT after the script failed", T, || {
            (states(&d).last().map(String::as_str) == Some("FAULT")).then_some(())
        });
        fs::remove_file(&flag).expect("clear the flag");
        d.wait("out of FAULT after the script succeeded", T, || {
            (states(&d).last().is_some_and(|s| s != "FAULT")).then_some(())
        });
    }
    let states = states(&d);
    d.check(
        states.iter().filter(|s| *s == "FAULT").count() >= 2,
        &format!("transitions {states:?} do not show two FAULTs"),
    );
    let logged = d.wait(
        "the notify script to have run for every transition",
        T,
        || {
            let t = fs::read_to_string(out.join("notify.log")).ok()?;
            (t.lines().count() >= states.len()).then_some(t)
        },
    );
    let logged: Vec<&str> = logged.lines().take(states.len()).collect();
    check_eq!(d, logged, states, "states in the notify log");
    // Every result was announced by its intent first, sent before the VRRP process acted.
    let log = d.log();
    let mut expect_intent = None;
    for line in log.lines() {
        if let Some(r) = line.split("VRRP instance VI_1: about to enter ").nth(1) {
            expect_intent = r.split_whitespace().next().map(str::to_string);
        } else if let Some(r) = line.split(key).nth(1) {
            let state = r.split_whitespace().next().map(str::to_string);
            d.check(
                expect_intent.take() == state,
                &format!("'{line}' was not preceded by its intent"),
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// 12. A misbehaving child (tests/fake-child)
// ------------------------------------------------------------------------------------------

/// A libexec directory with the real checker and IPVS writer and the fake child as the
/// VRRP process, in `mode`.
fn fake_libexec(dir: &TempDir, mode: &str) -> std::path::PathBuf {
    let lib = dir.join("libexec");
    fs::create_dir(&lib).expect("mkdir libexec");
    for role in ["check", "ipvs"] {
        let name = format!("keepalived-rs-{role}");
        fs::copy(build_dir().join(&name), lib.join(&name)).expect("copy child");
    }
    fs::copy(fake_child(), lib.join("keepalived-rs-vrrp")).expect("copy fake child");
    fs::write(lib.join("mode"), format!("{mode}\n")).expect("write mode");
    lib
}

fn start_with_fake(tag: &str, mode: &str) -> (Setup, Daemon) {
    let s = Setup::new(tag, &config("", "", &[]));
    let lib = fake_libexec(&s.dir, mode);
    let d = s.launch().arg("--libexec-dir").arg(lib).start();
    d.wait_started();
    d.wait_for_log("fake child: started in mode", T);
    (s, d)
}

fn killed_for_protocol_error_and_respawned(mode: &str, tag: &str) {
    let (_s, d) = start_with_fake(tag, mode);
    let first = d.started_pids_of("vrrp")[0];
    let line = d.wait(
        &format!("the parent to kill the VRRP process {first} for a protocol error"),
        T,
        || {
            d.log()
                .lines()
                .find(|l| {
                    l.contains(&format!("keepalived-rs-vrrp (pid {first})"))
                        && l.contains("killing it")
                })
                .map(str::to_string)
        },
    );
    d.check(
        line.contains("protocol error"),
        &format!("the kill is not logged as a protocol error: {line}"),
    );
    // The respawned fake misbehaves again at once, so it lives only for moments: follow
    // it in the log rather than in its pidfile.
    d.wait_for_log(
        &format!("keepalived-rs-vrrp (pid {first}) killed by signal SIGKILL"),
        T,
    );
    let second = d.wait("a respawned VRRP process", T, || {
        d.started_pids_of("vrrp").get(1).copied()
    });
    d.wait_for_log(
        &format!("keepalived-rs-vrrp[{second}]: fake child: started in mode"),
        T,
    );
    d.check(alive(d.pid), "the parent died");
    d.check(!alive(first), "the misbehaving child still runs");
    for role in ["check", "ipvs"] {
        check_eq!(
            d,
            d.started_pids_of(role).len(),
            1,
            "{role} was restarted because of the VRRP process"
        );
    }
}

#[test]
fn a_child_sending_garbage_is_killed_and_respawned_and_the_parent_stays_up() {
    killed_for_protocol_error_and_respawned("garbage", "garbage");
}

#[test]
fn a_child_sending_an_unexpected_message_is_killed_and_respawned() {
    killed_for_protocol_error_and_respawned("unexpected", "unexp");
}

#[test]
fn a_child_repeating_its_hello_is_killed_and_respawned() {
    killed_for_protocol_error_and_respawned("second-hello", "hello2");
}

#[test]
fn a_child_asking_for_an_unknown_script_is_refused() {
    let (_s, d) = start_with_fake("unknown", "unknown-script");
    let pid = d.started_pids_of("vrrp")[0];
    d.wait_for_log("refused: the vrrp process asked to run", T);
    let answer = d.wait_for_log("fake child: got ScriptDone", T);
    d.check(
        answer.contains(&format!("keepalived-rs-vrrp[{pid}]")) && answer.contains("id: 77"),
        &format!("unexpected answer line: {answer}"),
    );
    d.check(
        answer.contains("Refused"),
        &format!("not refused: {answer}"),
    );
    // Refusing is enough: the child is not killed.
    std::thread::sleep(Duration::from_millis(500));
    check_eq!(
        d,
        d.started_pids_of("vrrp"),
        vec![pid],
        "VRRP process starts"
    );
    d.check(alive(pid), "the child was killed");
    d.check(alive(d.pid), "the parent died");
}

// ------------------------------------------------------------------------------------------
// 13-14. systemd notify, syslog
// ------------------------------------------------------------------------------------------

#[test]
fn notify_socket_sees_ready_reloading_stopping_and_watchdog() {
    let s = Setup::new("sdnotify", &config("", "", &[]));
    let sock = Collector::bind(&s.dir.join("notify.sock"));
    let mut d = s
        .launch()
        .env("NOTIFY_SOCKET", &sock.path().display().to_string())
        .env("WATCHDOG_USEC", "200000")
        .start();
    d.wait_started();
    let index = |from: usize, pred: &dyn Fn(&str) -> bool| -> Option<usize> {
        sock.messages()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, m)| pred(m))
            .map(|(i, _)| i)
    };
    let ready = d.wait("READY=1 on the notify socket", T, || {
        index(0, &|m| m == "READY=1")
    });
    let count_wd = || {
        sock.messages()
            .iter()
            .filter(|m| *m == "WATCHDOG=1")
            .count()
    };
    let wd0 = count_wd();
    std::thread::sleep(Duration::from_secs(1));
    let wd = count_wd() - wd0;
    d.check(
        wd >= 4,
        &format!(
            "{wd} WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000: {:?}",
            sock.messages()
        ),
    );
    for role in ROLES {
        let pid = d.child_pid(role);
        let env = fs::read(format!("/proc/{pid}/environ")).expect("environ");
        d.check(
            !String::from_utf8_lossy(&env).contains("NOTIFY_SOCKET"),
            &format!("keepalived-rs-{role} sees NOTIFY_SOCKET"),
        );
    }
    d.signal(Signal::SIGHUP);
    d.wait_for_log("Reload complete (generation 2)", T);
    let reloading = d.wait("RELOADING=1 after the SIGHUP", T, || {
        index(ready + 1, &|m| {
            m.starts_with("RELOADING=1") && m.contains("MONOTONIC_USEC=")
        })
    });
    let ready2 = d.wait("READY=1 after RELOADING=1", T, || {
        index(reloading + 1, &|m| m == "READY=1")
    });
    d.signal(Signal::SIGTERM);
    check_eq!(d, d.wait_exit(T).code(), Some(0), "exit status");
    d.check(
        index(ready2 + 1, &|m| m == "STOPPING=1").is_some(),
        &format!("no STOPPING=1 after the SIGTERM: {:?}", sock.messages()),
    );
}

#[test]
fn syslog_survives_a_syslogd_restart() {
    let s = Setup::new("syslog", &config("", "", &[]));
    let path = s.dir.join("log.sock");
    let first = Collector::bind(&path);
    // Neither -G nor -l: syslog is the only destination.
    let mut launch = s.launch().arg("--syslog-socket").arg(&path);
    launch.no_syslog = false;
    launch.console = false;
    let d = launch.start();
    let wait_syslog = |sock: &Collector, what: &str, pred: &dyn Fn(&str) -> bool| {
        if poll_until(T, || sock.messages().iter().any(|m| pred(m)).then_some(())).is_none() {
            d.fail(&format!(
                "timed out waiting for {what} at {}; received: {:#?}",
                sock.path().display(),
                sock.messages()
            ));
        }
    };
    let parent_tag = format!("keepalived-rs[{}]: ", d.pid);
    wait_syslog(&first, "'Startup complete'", &|m| {
        m.starts_with('<') && m.contains(&parent_tag) && m.contains("Startup complete")
    });
    wait_syslog(&first, "a line of the VRRP process", &|m| {
        m.contains("keepalived-rs-vrrp[")
    });
    // syslogd restarts: its socket disappears and comes back.
    drop(first);
    let second = Collector::bind(&path);
    d.signal(Signal::SIGUSR1);
    let dump = d.runtime.join("keepalived-rs.data");
    let wrote = format!("wrote {}", dump.display());
    wait_syslog(&second, "'wrote ...' after the restart", &|m| {
        m.contains(&parent_tag) && m.contains(&wrote)
    });
    d.check(d.log().is_empty(), "the daemon wrote to stderr without -l");
}

// ------------------------------------------------------------------------------------------
// 15-17. Exit paths, several daemons
// ------------------------------------------------------------------------------------------

#[test]
fn dont_respawn_exits_when_a_child_dies() {
    let s = Setup::new("norespawn", &config("", "", &[]));
    let mut d = s.launch().arg("-R").start();
    d.wait_started();
    signal(d.child_pid("check"), Signal::SIGKILL);
    let status = d.wait_exit(T);
    d.check(
        !status.success(),
        &format!("the daemon exited with {status} after a child died under -R"),
    );
    d.check(d.log().contains("exiting (-R)"), "no '-R' exit message");
    check_eq!(d, d.started_pids_of("check").len(), 1, "checker starts");
}

#[test]
fn a_missing_user_is_a_permanent_error() {
    let s = Setup::new("nouser", &config("", "", &[]));
    let mut d = s
        .launch()
        .arg("--vrrp-user")
        .arg("no-such-user-krs")
        .start();
    let status = d.wait_exit(T);
    check_eq!(d, status.code(), Some(4), "exit status for a missing user");
    d.check(
        d.log()
            .lines()
            .any(|l| l.contains("no-such-user-krs") && l.contains("--vrrp-user")),
        "no message naming the user and --vrrp-user",
    );
    d.check(
        d.started_pids().is_empty(),
        "a child was started although a user is missing",
    );
}

#[test]
fn two_daemons_in_two_namespaces_do_not_collide() {
    let dir = TempDir::new("twins");
    let conf = dir.write("keepalived.conf", &config("", "", &[]));
    let (ns1, ns2) = (Netns::new("twin1"), Netns::new("twin2"));
    let _clean1 = RemoveOnDrop(Path::new("/run/keepalived-rs").join(&ns1.name));
    let _clean2 = RemoveOnDrop(Path::new("/run/keepalived-rs").join(&ns2.name));
    let launch = |ns: &Netns| {
        let mut l = Launch::new(ns, &conf, dir.path());
        l.runtime_base = None;
        l.start()
    };
    let mut d1 = launch(&ns1);
    let mut d2 = launch(&ns2);
    d1.wait_started();
    d2.wait_started();
    for (d, ns) in [(&d1, &ns1), (&d2, &ns2)] {
        let rt = Path::new("/run/keepalived-rs").join(&ns.name);
        check_eq!(d, d.runtime, rt, "runtime directory");
        check_eq!(
            d,
            read_pid(&rt.join("keepalived-rs.pid")),
            Some(d.pid),
            "parent pidfile in {}",
            rt.display()
        );
        for role in ROLES {
            check_eq!(
                d,
                read_pid(&rt.join(format!("{role}.pid"))),
                d.started_pids_of(role).last().copied(),
                "{role} pidfile in {}",
                rt.display()
            );
        }
    }
    d1.signal(Signal::SIGTERM);
    d2.signal(Signal::SIGTERM);
    check_eq!(
        d1,
        d1.wait_exit(T).code(),
        Some(0),
        "exit status of the first"
    );
    check_eq!(
        d2,
        d2.wait_exit(T).code(),
        Some(0),
        "exit status of the second"
    );
    for d in [&d1, &d2] {
        for name in ["keepalived-rs", "vrrp", "check", "ipvs"] {
            let f = d.pidfile(name);
            d.check(!f.exists(), &format!("{} left behind", f.display()));
        }
    }
}

// ------------------------------------------------------------------------------------------
// E-mail alerts and capabilities on reload
// ------------------------------------------------------------------------------------------

/// aiosmtpd (Debian's python3-aiosmtpd) listening in a namespace, printing every message it
/// receives; killed on drop.
struct SmtpServer {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
}

impl SmtpServer {
    fn start(ns: &Netns, listen: &str) -> SmtpServer {
        use std::io::Read;
        let mut child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "/usr/bin/python3",
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
            ])
            .args(["-c", "aiosmtpd.handlers.Debugging", "-l", listen])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start aiosmtpd (package python3-aiosmtpd)");
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        SmtpServer { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_alert_reaches_an_smtp_server_through_the_checker() {
    let ns = Netns::new("smtp");
    run(
        "ip",
        &["-n", &ns.name, "addr", "add", "192.0.2.25/32", "dev", "lo"],
    );
    let smtp = SmtpServer::start(&ns, "192.0.2.25:2525");
    let dir = TempDir::new("smtp");
    let globals = "    router_id lb-test\n    notification_email {\n        ops@example.invalid\n    }\n    \
                   notification_email_from krs@example.invalid\n    smtp_server 192.0.2.25 2525\n    \
                   smtp_connect_timeout 5\n    smtp_alert\n";
    let conf = format!(
        "{}{}{}",
        global_defs(globals),
        vrrp_script("chk", "/bin/false", "    weight 0\n"),
        instance("VI_1", 51, &["chk"], "")
    );
    let conf = dir.write("keepalived.conf", &conf);
    // aiosmtpd takes a moment to listen; the alert is sent once the script has failed.
    poll_until(Duration::from_secs(10), || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name, "ss", "-ltn"])
            .output()
            .ok()
            .filter(|o| String::from_utf8_lossy(&o.stdout).contains("192.0.2.25:2525"))
    })
    .unwrap_or_else(|| panic!("aiosmtpd did not listen: {}", smtp.output()));
    let d = Launch::new(&ns, &conf, &dir.join("run")).start();
    d.wait_started();
    // Only alerts need the checker here: it runs with no capability at all.
    let check = d.child_pid("check");
    check_eq!(d, proc_status(check).cap_eff, 0, "the checker's CapEff");
    d.wait_for_log("VRRP instance VI_1 is now Fault", T);
    d.wait_for_log("delivered", T);
    let got = d.wait("the message at the SMTP server", T, || {
        let o = smtp.output();
        o.contains("MESSAGE FOLLOWS").then_some(o)
    });
    for needle in [
        "Subject: [lb-test] VRRP Instance VI_1 - Entering FAULT state",
        "From: krs@example.invalid",
        "ops@example.invalid",
    ] {
        d.check(
            got.contains(needle),
            &format!("'{needle}' not in the message:\n{got}"),
        );
    }
}

#[test]
fn a_reload_needing_a_capability_respawns_the_checker_with_it() {
    const CAP_NET_ADMIN: u64 = 1 << 12;
    let s = Setup::new("capreload", &config("", "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let before = all_pids(&d);
    let check = d.child_pid("check");
    check_eq!(
        d,
        proc_status(check).cap_eff,
        0,
        "the checker's CapEff before"
    );
    // A checker fwmark needs CAP_NET_ADMIN (SO_MARK).
    let marked = config("", "", &[]).replace(
        "            connect_timeout 1\n",
        "            connect_timeout 1\n            fwmark 7\n",
    );
    fs::write(s.conf(), marked).expect("write");
    d.signal(Signal::SIGHUP);
    d.wait_for_log("needs capabilities [net_admin] now; respawning it", T);
    let new = d.wait_pid_in(&d.pidfile("check"), Some(check), T);
    d.wait_for_log("Reload complete (generation 2)", T);
    let st = proc_status(new);
    check_eq!(d, st.cap_eff, CAP_NET_ADMIN, "the new checker's CapEff");
    check_eq!(d, st.cap_bnd, CAP_NET_ADMIN, "the new checker's CapBnd");
    // The other children are untouched.
    let after = all_pids(&d);
    check_eq!(d, after[0], before[0], "VRRP pid");
    check_eq!(d, after[2], before[2], "IPVS writer pid");
}

#[test]
fn the_vrrp_notify_fifo_gets_keepalived_lines_and_its_reader_script_runs() {
    let ns = Netns::new("fifo");
    let dir = TempDir::new("fifo");
    let out = dir.shared_dir("out");
    let fifo = dir.join("vrrp.fifo");
    // The reader script gets the FIFO's path as its last argument ($0 of `sh -c`).
    let globals = format!(
        "    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script \"/bin/sh -c 'cat \\\"$0\\\" >> {}/lines'\"\n",
        fifo.display(),
        out.display()
    );
    let conf = format!(
        "{}{}{}",
        global_defs(&globals),
        vrrp_script("chk", "/bin/false", "    weight 0\n"),
        instance("VI_1", 51, &["chk"], "")
    );
    let conf = dir.write("keepalived.conf", &conf);
    let d = Launch::new(&ns, &conf, &dir.join("run")).start();
    d.wait_started();
    d.wait_for_log("VRRP instance VI_1 is now Fault", T);
    let lines = d.wait("the FIFO line read by the reader script", T, || {
        fs::read_to_string(out.join("lines"))
            .ok()
            .filter(|l| l.contains('\n'))
    });
    check_eq!(
        d,
        lines,
        "INSTANCE \"VI_1\" FAULT 100\n".to_string(),
        "what the reader script read from the FIFO"
    );
}

#[test]
fn vrrp_scheduling_settings_are_applied_at_spawn() {
    const IPC_LOCK: u64 = 1 << 14;
    let extra = "    vrrp_priority -5\n    vrrp_rt_priority 20\n    vrrp_no_swap\n";
    let s = Setup::new("sched", &config(extra, "", &[]));
    let d = s.launch().start();
    d.wait_started();
    let pid = d.child_pid("vrrp");
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    check_eq!(d, f[16], "-5", "the VRRP process's nice value");
    check_eq!(d, f[37], "20", "its real-time priority");
    check_eq!(d, f[38], "2", "its policy (SCHED_RR)");
    let st = proc_status(pid);
    check_eq!(
        d,
        st.cap_eff,
        NET_ADMIN | NET_RAW | IPC_LOCK,
        "CapEff with vrrp_no_swap"
    );
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let locked = status
        .lines()
        .find(|l| l.starts_with("VmLck:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    d.check(
        locked > 0,
        &format!("VmLck is {locked} kB: memory not locked"),
    );
    d.wait_for_log("memory locked (no_swap)", T);
}
