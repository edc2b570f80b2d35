//! The control socket with real daemons in network namespaces: `status` follows a failover
//! within one advert interval, `events` streams the transitions in order, a non-root client
//! is refused, oversized and malformed requests are refused without harming the daemon,
//! `reload` refuses an invalid configuration and applies a valid one, `log-level`.
//!
//! Each test builds its own lab (`krs-<tag>-<pid>-<n>` namespaces joined by a bridge),
//! removed by Drop guards even when the test fails. Addresses: 192.0.2.0/24.
#![allow(clippy::unwrap_used)] // helpers of the tests, outside #[test] functions

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use keepalived_ctl as ctl;
use support::*;

const T: Duration = Duration::from_secs(15);

/// A bridge in its own namespace and `n` hosts, host i with 192.0.2.(i+1)/24 on eth0.
struct Lab {
    hosts: Vec<Netns>,
    _lan: Netns,
}

impl Lab {
    fn new(tag: &str, n: usize) -> Lab {
        let lan = Netns::new(&format!("{tag}-lan"));
        run(
            "ip",
            &["-n", &lan.name, "link", "add", "br0", "type", "bridge"],
        );
        run("ip", &["-n", &lan.name, "link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        for i in 0..n {
            let h = Netns::new(&format!("{tag}-h{i}"));
            let port = format!("p{i}");
            run(
                "ip",
                &[
                    "-n", &lan.name, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &h.name,
                ],
            );
            run(
                "ip",
                &["-n", &lan.name, "link", "set", &port, "master", "br0", "up"],
            );
            let v4 = format!("192.0.2.{}/24", i + 1);
            run("ip", &["-n", &h.name, "addr", "add", &v4, "dev", "eth0"]);
            run("ip", &["-n", &h.name, "link", "set", "eth0", "up"]);
            hosts.push(h);
        }
        Lab { hosts, _lan: lan }
    }

    fn link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        run(
            "ip",
            &["-n", &self.hosts[i].name, "link", "set", "eth0", state],
        );
    }
}

fn conf(state: &str, prio: u8) -> String {
    format!(
        "global_defs {{\n    script_user nobody\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    \
         interface eth0\n    virtual_router_id 51\n    priority {prio}\n    advert_int 1\n    \
         virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n}}\n"
    )
}

fn start(lab: &Lab, i: usize, dir: &TempDir, text: &str) -> (Daemon, PathBuf) {
    let conf = dir.write(&format!("r{i}.conf"), text);
    let d = Launch::new(&lab.hosts[i], &conf, &dir.join(&format!("run{i}"))).start();
    let sock = d.runtime.join("control.sock");
    d.wait("the control socket", T, || sock.exists().then_some(()));
    (d, sock)
}

/// `keepalived-rs ARGS --socket SOCK` (the command runs in the test's namespace: the
/// socket is a path).
fn cli(sock: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(sock)
        .stdin(Stdio::null())
        .output()
        .expect("run keepalived-rs")
}

fn status(d: &Daemon, sock: &Path) -> ctl::Status {
    let out = cli(sock, &["status", "--json"]);
    if !out.status.success() {
        d.fail(&format!(
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).expect("status --json is a Status")
}

fn state(s: &ctl::Status) -> Option<String> {
    s.vrrp_instances.first().and_then(|i| i.state.clone())
}

/// One request and its reply on a fresh connection.
fn ask(sock: &Path, command: ctl::Command) -> ctl::Response {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(T)).unwrap();
    ctl::write_frame(&mut s, &ctl::Request::new(command)).unwrap();
    let body = ctl::read_frame(&mut s, ctl::MAX_RESPONSE).expect("a reply");
    ctl::decode_reply(&body).expect("a valid reply").response
}

/// Reads replies until the daemon closes; the last one must be an error.
fn expect_refusal(s: &mut UnixStream, what: &str) -> String {
    s.set_read_timeout(Some(T)).unwrap();
    let body =
        ctl::read_frame(s, ctl::MAX_RESPONSE).unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let message = match ctl::decode_reply(&body).unwrap().response {
        ctl::Response::Error { message } => message,
        other => panic!("{what}: expected an error, got {other:?}"),
    };
    let mut rest = Vec::new();
    let n = s.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "{what}: the daemon closes after a refusal");
    message
}

#[test]
fn status_follows_a_failover_within_one_advert_interval_and_events_stream_it_in_order() {
    let lab = Lab::new("ctlfo", 2);
    let dir = TempDir::new("ctlfo");
    let (d0, s0) = start(&lab, 0, &dir, &conf("MASTER", 150));
    let (d1, s1) = start(&lab, 1, &dir, &conf("BACKUP", 100));
    d0.wait("r0 MASTER in its status", T, || {
        (state(&status(&d0, &s0)).as_deref() == Some("MASTER")).then_some(())
    });
    d1.wait("r1 BACKUP in its status", T, || {
        (state(&status(&d1, &s1)).as_deref() == Some("BACKUP")).then_some(())
    });
    let st = status(&d1, &s1);
    let vi = &st.vrrp_instances[0];
    assert_eq!(vi.base_priority, 100);
    assert_eq!(vi.effective_priority, Some(100));
    assert_eq!(vi.interface.as_deref(), Some("eth0"));
    assert_eq!(vi.last_transition.as_ref().unwrap().to, "BACKUP");
    let vrrp = st
        .processes
        .iter()
        .find(|p| p.process == ctl::Process::Vrrp)
        .expect("the VRRP process in status");
    assert_eq!(vrrp.stage, "running");
    assert_eq!(vrrp.pid, Some(d1.child_pid("vrrp") as u32));
    assert!(vrrp.capabilities.iter().any(|c| c == "CAP_NET_ADMIN"));
    assert_eq!(st.daemon.generation, 1);

    // Subscribe to r1's events.
    let mut sub = UnixStream::connect(&s1).expect("connect");
    sub.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    ctl::write_frame(&mut sub, &ctl::Request::new(ctl::Command::Events)).unwrap();
    let body = ctl::read_frame(&mut sub, ctl::MAX_RESPONSE).unwrap();
    assert_eq!(
        ctl::decode_reply(&body).unwrap().response,
        ctl::Response::Subscribed
    );

    // r0 loses its link: r1 takes over; its status says so within one advert interval of
    // the takeover (its log line).
    lab.link(0, false);
    d1.wait_for_log("is now Master", T);
    let seen = Instant::now();
    let after = poll_until(Duration::from_secs(1), || {
        (state(&status(&d1, &s1)).as_deref() == Some("MASTER")).then_some(seen.elapsed())
    });
    if after.is_none() {
        d1.fail("status did not show MASTER within one advert interval of the takeover");
    }
    let st = status(&d1, &s1);
    let t = st.vrrp_instances[0].last_transition.clone().unwrap();
    assert_eq!(
        (t.from.as_deref(), t.to.as_str()),
        (Some("BACKUP"), "MASTER")
    );
    assert!(st.vrrp_instances[0].transitions >= 2);

    // r0 comes back and preempts: r1 goes back to BACKUP.
    lab.link(0, true);
    d1.wait_for_log("is now Backup", T);

    // The events: BACKUP -> MASTER, then MASTER -> BACKUP, numbered in order.
    let mut transitions = Vec::new();
    let mut last_seq = 0;
    while transitions.len() < 2 {
        let body = ctl::read_frame(&mut sub, ctl::MAX_RESPONSE)
            .unwrap_or_else(|e| d1.fail(&format!("event stream: {e}; got {transitions:?}")));
        let ctl::Response::Event(e) = ctl::decode_reply(&body).unwrap().response else {
            d1.fail("a non-event on the event stream");
        };
        assert!(
            e.seq > last_seq,
            "events in order: {} after {last_seq}",
            e.seq
        );
        last_seq = e.seq;
        if let ctl::EventKind::VrrpTransition {
            instance, from, to, ..
        } = e.kind
        {
            assert_eq!(instance, "VI_1");
            transitions.push((from.unwrap_or_default(), to));
        }
    }
    assert_eq!(
        transitions,
        [
            ("BACKUP".to_string(), "MASTER".to_string()),
            ("MASTER".to_string(), "BACKUP".to_string())
        ]
    );

    // The text and Prometheus forms.
    let text = cli(&s1, &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("VI_1 [eth0 vrid 51]: BACKUP, priority 100"),
        "{text}"
    );
    let prom = cli(&s1, &["status", "--prometheus"]);
    let prom = String::from_utf8_lossy(&prom.stdout);
    assert!(
        prom.contains("keepalived_rs_vrrp_state{instance=\"VI_1\",state=\"BACKUP\"} 1\n"),
        "{prom}"
    );
    assert!(prom.contains("keepalived_rs_vrrp_transitions_total{instance=\"VI_1\"} 3\n"));
}

#[test]
fn a_client_that_is_not_root_is_refused() {
    let lab = Lab::new("ctlperm", 1);
    let dir = TempDir::new("ctlperm");
    let (d, sock) = start(&lab, 0, &dir, &conf("BACKUP", 100));
    let mode = std::fs::metadata(&sock).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    assert_eq!(mode.uid(), 0);
    let (uid, gid) = user_ids("nobody").expect("user nobody");
    let as_nobody = |caps: bool| {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups");
        if caps {
            // Past the file's mode: the daemon's own check (SO_PEERCRED) must refuse.
            c.args(["--inh-caps=+dac_override", "--ambient-caps=+dac_override"]);
        }
        c.arg(BIN)
            .args(["status", "--socket"])
            .arg(&sock)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv")
    };
    let out = as_nobody(false);
    assert!(!out.status.success());
    let out = as_nobody(true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nobody got a status");
    assert!(
        err.contains(&format!("permission denied: uid {uid} is not root")),
        "{err} {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    d.wait_for_log("refused a client of uid", T);
    // Root still gets an answer.
    assert!(matches!(
        ask(&sock, ctl::Command::Status),
        ctl::Response::Status(_)
    ));
}

#[test]
fn oversized_and_malformed_requests_are_refused_and_the_daemon_keeps_serving() {
    let lab = Lab::new("ctlbad", 1);
    let dir = TempDir::new("ctlbad");
    let (d, sock) = start(&lab, 0, &dir, &conf("BACKUP", 100));
    d.wait("BACKUP", T, || {
        (state(&status(&d, &sock)).as_deref() == Some("BACKUP")).then_some(())
    });
    let vrrp = d.child_pid("vrrp");

    // Announced beyond the cap: refused at once, the body never read.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(&(ctl::MAX_REQUEST as u32 + 1).to_be_bytes())
        .unwrap();
    let m = expect_refusal(&mut s, "oversized");
    assert!(m.contains("exceeds the limit"), "{m}");

    // A huge length prefix followed by a flood: refused, the flood not buffered.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let _ = s.write_all(&vec![b'x'; 256 * 1024]);
    expect_refusal(&mut s, "flood");

    // Not JSON, not a request, another version.
    for (body, what, needle) in [
        (&b"\xff\x00garbage"[..], "garbage", "malformed"),
        (
            br#"{"version":1,"request":{"type":"format-disk"}}"#,
            "unknown request",
            "malformed",
        ),
        (
            br#"{"version":99,"request":{"type":"status"}}"#,
            "version",
            "unsupported protocol version 99",
        ),
    ] {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
        s.write_all(body).unwrap();
        let m = expect_refusal(&mut s, what);
        assert!(m.contains(needle), "{what}: {m}");
    }

    // A half frame, then the client goes away.
    {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.write_all(&[0, 0, 1]).unwrap();
    }
    // Many clients that never send anything: the extras are refused, nothing blocks.
    let idle: Vec<UnixStream> = (0..20)
        .filter_map(|_| UnixStream::connect(&sock).ok())
        .collect();
    drop(idle);

    // The daemon serves on, its VRRP process untouched.
    d.wait(
        "a status after the abuse",
        T,
        || match std::panic::catch_unwind(|| ask(&sock, ctl::Command::Status)) {
            Ok(ctl::Response::Status(s)) => Some(s),
            _ => None,
        },
    );
    assert_eq!(d.child_pid("vrrp"), vrrp);
    assert!(alive(d.pid));
}

#[test]
fn reload_refuses_an_invalid_configuration_and_applies_a_valid_one() {
    let lab = Lab::new("ctlrl", 1);
    let dir = TempDir::new("ctlrl");
    let good = conf("BACKUP", 100);
    let (d, sock) = start(&lab, 0, &dir, &good);
    d.wait("BACKUP", T, || {
        (state(&status(&d, &sock)).as_deref() == Some("BACKUP")).then_some(())
    });
    let mut sub = UnixStream::connect(&sock).unwrap();
    sub.set_read_timeout(Some(T)).unwrap();
    ctl::write_frame(&mut sub, &ctl::Request::new(ctl::Command::Events)).unwrap();
    let _subscribed = ctl::read_frame(&mut sub, ctl::MAX_RESPONSE).unwrap();

    // Invalid: exit 4, the errors on stderr, nothing applied.
    dir.write(
        "r0.conf",
        &good.replace(
            "priority 100",
            "priority 100\n    no_such_keyword_here 1\n    virtual_router_id 999",
        ),
    );
    let out = cli(&sock, &["reload"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("nothing applied"), "{err}");
    let st = status(&d, &sock);
    assert_eq!(st.daemon.generation, 1);
    let failure = st
        .daemon
        .last_reload_failure
        .expect("the failure in status");
    assert!(!failure.errors.is_empty());
    assert_eq!(st.daemon.reload_failures, 1);

    // Valid: exit 0, generation 2 once applied.
    dir.write("r0.conf", &good.replace("priority 100", "priority 90"));
    let out = cli(&sock, &["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("generation 2"));
    d.wait("the reload applied", T, || {
        let s = status(&d, &sock);
        (s.daemon.generation == 2 && !s.daemon.reloading).then_some(())
    });
    let st = status(&d, &sock);
    assert!(st.daemon.last_reload_failure.is_none());
    assert_eq!(st.vrrp_instances[0].base_priority, 90);

    // The events: refused, then applied.
    let mut reloads = Vec::new();
    while reloads.len() < 2 {
        let body = ctl::read_frame(&mut sub, ctl::MAX_RESPONSE)
            .unwrap_or_else(|e| d.fail(&format!("events: {e}; got {reloads:?}")));
        if let ctl::Response::Event(ctl::Event {
            kind: ctl::EventKind::Reload { ok, generation, .. },
            ..
        }) = ctl::decode_reply(&body).unwrap().response
        {
            reloads.push((ok, generation));
        }
    }
    assert_eq!(reloads, [(false, 1), (true, 2)]);

    // log-level, all processes and one.
    let out = cli(&sock, &["log-level", "debug"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("parent") && text.contains("vrrp"), "{text}");
    let out = cli(&sock, &["log-level", "info", "vrrp"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "log level info: vrrp"
    );
    let out = cli(&sock, &["log-level", "info", "ipvs"]);
    assert!(!out.status.success(), "no IPVS writer runs here");
}

#[test]
fn the_commands_find_the_daemon_by_runtime_directory_and_instance() {
    let lab = Lab::new("ctlinst", 1);
    let dir = TempDir::new("ctlinst");
    let text = format!("instance lb1\n{}", conf("BACKUP", 100));
    let conf = dir.write("r0.conf", &text);
    let base = dir.join("run");
    let d = Launch::new(&lab.hosts[0], &conf, &base).start();
    let sock = base
        .join(&lab.hosts[0].name)
        .join("lb1")
        .join("control.sock");
    d.wait("the control socket", T, || sock.exists().then_some(()));
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.hosts[0].name,
            BIN,
            "status",
            "--json",
            "--instance",
            "lb1",
            "--runtime-dir",
        ])
        .arg(&base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st: ctl::Status = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st.daemon.pid, d.pid as u32);
    // Without the instance: no daemon there.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.hosts[0].name,
            BIN,
            "status",
            "--runtime-dir",
        ])
        .arg(&base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
