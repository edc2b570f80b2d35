//! The checker process inside the daemon, end to end in a network namespace: a TCP_CHECK
//! sees its real server go down and come up, health numbers continue across a checker
//! respawn (the IPVS writer sees no gap), FILE_CHECK values and MISC_CHECK scripts reach
//! the checker through the parent, and an encrypted SSL key is refused at load.
//!
//! Run as root (network namespaces, the children's users); every wait is bounded and every
//! namespace, directory and process is released on drop.

mod support;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

const WAIT: Duration = Duration::from_secs(15);

/// A TCP listener bound inside `ns` (the socket stays in that namespace).
fn listener_in(ns: &Netns, addr: &str) -> TcpListener {
    let path = format!("/run/netns/{}", ns.name);
    let addr = addr.to_string();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("open the namespace");
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        TcpListener::bind(&addr).expect("bind the real server")
    })
    .join()
    .expect("listener thread")
}

/// A namespace where 192.0.2.1 is a local address (the real servers live there).
fn namespace(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    run(
        "ip",
        &["-n", &ns.name, "addr", "add", "192.0.2.1/32", "dev", "lo"],
    );
    ns
}

fn config(real_server: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n    script_user nobody\n}}\n{extra}\
         virtual_server 192.0.2.100 80 {{\n    delay_loop 1\n    lvs_sched rr\n    \
         lvs_method NAT\n    protocol TCP\n{real_server}}}\n"
    )
}

const RS_TCP: &str = "    real_server 192.0.2.1 8080 {\n        TCP_CHECK {\n            \
                      connect_timeout 1\n        }\n    }\n";

const RS_LOG: &str = "real server 192.0.2.1:8080 of 192.0.2.100:80/tcp is ";

#[test]
fn tcp_check_down_then_up_and_numbers_continue_across_a_respawn() {
    let ns = namespace("chk-tcp");
    let dir = TempDir::new("chk-tcp");
    let conf = dir.write("keepalived.conf", &config(RS_TCP, ""));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    // Nothing listens: the real server goes down.
    d.wait_for_log(&format!("{RS_LOG}DOWN"), WAIT);
    let l = listener_in(&ns, "192.0.2.1:8080");
    d.wait_for_log(&format!("{RS_LOG}UP"), WAIT);

    // The checker dies; its successor resumes and numbers its transitions after the last
    // one the parent received.
    let old = d.child_pid("check");
    signal(old, Signal::SIGKILL);
    let new = d.wait_pid_in(&d.pidfile("check"), Some(old), WAIT);
    d.check(new != old, "the checker was not respawned");
    d.wait_for_log("resumed the health of 1 real server", WAIT);
    drop(l);
    d.wait_for_nth_log(&format!("{RS_LOG}DOWN"), 2, WAIT);
    let l = listener_in(&ns, "192.0.2.1:8080");
    d.wait_for_nth_log(&format!("{RS_LOG}UP"), 2, WAIT);
    drop(l);
    d.check(
        d.lines_with("lost health updates").is_empty(),
        "the IPVS writer saw a gap in the health sequence after the respawn",
    );
}

#[test]
fn file_check_values_come_from_the_parent() {
    let ns = namespace("chk-file");
    let dir = TempDir::new("chk-file");
    let value = dir.write("value", "0\n");
    let rs = "    real_server 192.0.2.1 8080 {\n        FILE_CHECK {\n            \
              track_file tf\n            weight 0\n        }\n    }\n";
    let tf = format!("track_file tf {{\n    file {}\n}}\n", value.display());
    let conf = dir.write("keepalived.conf", &config(rs, &tf));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    // Weight 0: a non-zero value is a failure (the real server starts up, as the file says).
    std::fs::write(&value, "3\n").expect("write the file");
    let line = d.wait_for_log(&format!("{RS_LOG}DOWN"), WAIT);
    d.check(
        line.contains("FILE_CHECK") && line.contains("reads 3"),
        "the reason names FILE_CHECK and the value",
    );
    std::fs::write(&value, "0\n").expect("write the file");
    d.wait_for_log(&format!("{RS_LOG}UP"), WAIT);
    d.check(
        d.lines_with(RS_LOG).len() == 2,
        "one transition per change of the file",
    );
}

#[test]
fn misc_check_runs_in_the_parent() {
    let ns = namespace("chk-misc");
    let dir = TempDir::new("chk-misc");
    let status = dir.shared_dir("state").join("status");
    std::fs::write(&status, "1").expect("write status");
    let script = dir.script(
        "check.sh",
        &format!("#!/bin/sh\nexit $(cat {})\n", status.display()),
    );
    let rs = format!(
        "    real_server 192.0.2.1 8080 {{\n        MISC_CHECK {{\n            \
         misc_path {}\n            misc_timeout 2\n        }}\n    }}\n",
        script.display()
    );
    let conf = dir.write("keepalived.conf", &config(&rs, ""));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    let line = d.wait_for_log(&format!("{RS_LOG}DOWN"), WAIT);
    d.check(
        line.contains("status 1"),
        "the reason gives the exit status",
    );
    std::fs::write(&status, "0").expect("write status");
    d.wait_for_log(&format!("{RS_LOG}UP"), WAIT);
}

const ENCRYPTED_KEY: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n\
    MIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n\
    -----END ENCRYPTED PRIVATE KEY-----\n";

#[test]
fn an_encrypted_ssl_key_is_refused_at_load() {
    let dir = TempDir::new("chk-ssl");
    let key = dir.write("client.key", ENCRYPTED_KEY);
    let cert = dir.write("client.pem", "-----BEGIN CERTIFICATE-----\n");
    let rs = "    real_server 192.0.2.1 443 {\n        SSL_GET {\n            url {\n                \
              path /\n            }\n        }\n    }\n";
    let ssl = format!(
        "SSL {{\n    password secret\n    certificate {}\n    key {}\n}}\n",
        cert.display(),
        key.display()
    );
    let conf = dir.write("keepalived.conf", &config(rs, &ssl));
    let o = Command::new(BIN)
        .args(["-t", "-f"])
        .arg(&conf)
        .output()
        .expect("run keepalived-rs -t");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    // keepalived.conf line 7 is `key FILE` in the SSL block.
    let line = err
        .lines()
        .find(|l| l.contains("is encrypted"))
        .unwrap_or_else(|| panic!("no message about the key:\n{err}"));
    assert!(line.contains("keepalived.conf:7"), "{err}");
    assert!(line.contains(&key.display().to_string()), "{err}");
    assert!(err.contains("openssl pkey -in"), "{err}");
    assert!(err.contains("'password' is not used"), "{err}");

    // The daemon refuses it too, before starting anything.
    let o = Command::new(BIN)
        .args(["-n", "-l", "-G", "--runtime-dir"])
        .arg(dir.path())
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run keepalived-rs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is encrypted"), "{err}");
    assert!(!err.contains("started keepalived-rs-"), "{err}");

    // A plain key passes.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----\n",
    )
    .expect("write key");
    let o = Command::new(BIN)
        .args(["-t", "-f"])
        .arg(&conf)
        .output()
        .expect("run keepalived-rs -t");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A server that answers every connection with a 1 GiB HTTP body as fast as the socket takes
/// it; returns the bytes it sent so far.
fn flood_server(l: TcpListener) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = sent.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let total = total.clone();
            std::thread::spawn(move || {
                let mut req = [0u8; 1024];
                let _ = c.read(&mut req);
                let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
                if c.write_all(head).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..(1 << 30) / chunk.len() {
                    if c.write_all(&chunk).is_err() {
                        return;
                    }
                    total.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    sent
}

/// VmRSS and VmHWM of a process, in KiB.
fn memory_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn a_flooding_server_costs_no_memory_and_delays_no_other_check() {
    use std::sync::atomic::Ordering;
    let ns = namespace("chk-flood");
    let dir = TempDir::new("chk-flood");
    let rs = "    real_server 192.0.2.1 8081 {\n        HTTP_GET {\n            \
              connect_timeout 4\n            url {\n                path /\n                \
              digest 00112233445566778899aabbccddeeff\n            }\n        \
              }\n    }\n    real_server 192.0.2.1 8082 {\n        TCP_CHECK {\n            \
              connect_timeout 1\n        }\n    }\n";
    let conf = dir.write("keepalived.conf", &config(rs, ""));
    let other = listener_in(&ns, "192.0.2.1:8082");
    let sent = flood_server(listener_in(&ns, "192.0.2.1:8081"));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    let pid = d.child_pid("check");
    // Before the first checks (spread over the first delay_loop).
    d.wait_for_log("keepalived-rs-check", WAIT);
    let (before, _) = memory_kib(pid);
    // The digest needs the whole body: the checker reads the flood.
    d.wait("the flood server to send 64 MiB", WAIT, || {
        (sent.load(Ordering::Relaxed) > 64 << 20).then_some(())
    });
    // While the checker reads the flood, the other real server goes down and is seen down
    // within its delay_loop (1 s) and a refused connect.
    drop(other);
    let t0 = std::time::Instant::now();
    d.wait_for_log(
        "real server 192.0.2.1:8082 of 192.0.2.100:80/tcp is DOWN",
        WAIT,
    );
    let detect = t0.elapsed();
    d.check(
        detect < Duration::from_secs(3),
        &format!("the other real server was seen down after {detect:?}"),
    );
    // The HTTP check ends at its deadline, whatever was read.
    let line = d.wait_for_log(
        "real server 192.0.2.1:8081 of 192.0.2.100:80/tcp is DOWN",
        WAIT,
    );
    d.check(
        line.contains("timed out"),
        "the flooded check ends at its deadline",
    );
    let (_, peak) = memory_kib(pid);
    let read = sent.load(Ordering::Relaxed);
    d.check(
        peak < before + 1024,
        &format!(
            "the checker grew from {before} KiB to a peak of {peak} KiB while reading {} MiB",
            read >> 20
        ),
    );
}

/// `openssl` in `dir`; panics when it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA named `name` in `dir` (`name.pem`, `name.key`).
fn make_ca(dir: &std::path::Path, name: &str) {
    let (pem, key, subj) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("/CN={name}"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &subj,
            "-keyout",
            &key,
            "-out",
            &pem,
        ],
    );
}

/// `openssl s_server` in a namespace, killed on drop.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ssl_get_uses_the_ca_the_parent_read_and_a_reload_changes_it() {
    let ns = namespace("chk-tls");
    let dir = TempDir::new("chk-tls");
    let d0 = dir.path();
    make_ca(d0, "good");
    make_ca(d0, "other");
    dir.write("ext", "subjectAltName=DNS:www.example.com\n");
    openssl(
        d0,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=www.example.com",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        d0,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "good.pem",
            "-CAkey",
            "good.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "leaf.pem",
        ],
    );
    let server = Served(
        Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "openssl", "s_server", "-quiet", "-www",
            ])
            .args(["-accept", "192.0.2.1:8443", "-cert"])
            .arg(dir.join("leaf.pem"))
            .arg("-key")
            .arg(dir.join("leaf.key"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start openssl s_server"),
    );
    // The first check must meet a listening server, so that its failure is the TLS one.
    let listening = (0..100).any(|_| {
        let ok = Command::new("ip")
            .args(["netns", "exec", &ns.name, "bash", "-c"])
            .arg("exec 3<>/dev/tcp/192.0.2.1/8443")
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    });
    assert!(listening, "openssl s_server did not listen within 5 s");
    let rs = "    real_server 192.0.2.1 8443 {\n        SSL_GET {\n            \
              sni_name www.example.com\n            connect_timeout 2\n            url {\n                \
              path /\n            }\n        }\n    }\n";
    let ssl = |ca: &str| {
        format!(
            "SSL {{\n    ca {}\n    verify_certificate\n}}\n",
            dir.join(ca).display()
        )
    };
    let conf = dir.write("keepalived.conf", &config(rs, &ssl("other.pem")));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    // Verified against a CA that did not sign it: down, with the TLS reason.
    let line = d.wait_for_log(
        "real server 192.0.2.1:8443 of 192.0.2.100:80/tcp is DOWN",
        WAIT,
    );
    d.check(line.contains("TLS"), "the reason is the TLS failure");
    // The right CA, read again by the parent at reload and sent to the checker.
    dir.write("keepalived.conf", &config(rs, &ssl("good.pem")));
    d.signal(Signal::SIGHUP);
    d.wait_for_log(
        "real server 192.0.2.1:8443 of 192.0.2.100:80/tcp is UP",
        WAIT,
    );
    drop(server);
}

/// `keepalived-rs ARGS --socket` the daemon's control socket.
fn control(d: &Daemon, args: &[&str]) -> String {
    let sock = d.runtime.join("control.sock");
    d.wait("the control socket", WAIT, || sock.exists().then_some(()));
    let out = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(&sock)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run keepalived-rs");
    if !out.status.success() {
        d.fail(&format!(
            "keepalived-rs {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The real server's entry of `status --json`: (up, reason).
fn real_server_status(d: &Daemon) -> (Option<bool>, Option<String>) {
    let v: serde_json::Value =
        serde_json::from_str(&control(d, &["status", "--json"])).expect("status --json is JSON");
    let rs = &v["virtual_servers"][0]["real_servers"][0];
    (
        rs["up"].as_bool(),
        rs["reason"].as_str().map(str::to_string),
    )
}

#[test]
fn a_real_server_failure_appears_in_status_and_metrics() {
    let ns = namespace("chk-status");
    let dir = TempDir::new("chk-status");
    let l = listener_in(&ns, "192.0.2.1:8080");
    let conf = dir.write("keepalived.conf", &config(RS_TCP, ""));
    let d = Launch::new(&ns, &conf, dir.path()).start();
    d.wait_started();
    let metric = "keepalived_rs_real_server_up{virtual_server=\"192.0.2.100:80/tcp\",\
                  real_server=\"192.0.2.1:8080\"}";
    // Up from the start (no alpha), and the first check passes: no transition.
    d.wait("status to show the real server up", WAIT, || {
        (real_server_status(&d).0 == Some(true)).then_some(())
    });
    let text = control(&d, &["status", "--prometheus"]);
    d.check(
        text.lines().any(|l| l == format!("{metric} 1")),
        "the metric says up",
    );
    // Its server goes away: the transition is in status (with the reason) and in the metric.
    drop(l);
    d.wait_for_log(&format!("{RS_LOG}DOWN"), WAIT);
    let (up, reason) = real_server_status(&d);
    d.check(up == Some(false), "status shows the real server down");
    d.check(
        reason.as_deref().is_some_and(|r| r.contains("TCP_CHECK")),
        &format!("the reason names the failing checker: {reason:?}"),
    );
    let text = control(&d, &["status", "--prometheus"]);
    d.check(
        text.lines().any(|l| l == format!("{metric} 0")),
        &format!("the metric says down:\n{text}"),
    );
    let human = control(&d, &["status"]);
    d.check(
        human.contains("192.0.2.1:8080") && human.contains("TCP_CHECK"),
        &format!("the text status shows the real server and why:\n{human}"),
    );
}
