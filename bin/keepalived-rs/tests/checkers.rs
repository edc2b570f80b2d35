//! The health checkers against real servers: the daemon (`keepalived-rs -n -l`, its real
//! children) runs in a network namespace, and the servers its checkers probe run in
//! another (tests/support/servers.py: HTTP, HTTPS with a certificate made by the test, TLS
//! 1.2 with CBC suites only, TLS 1.0/1.1 only, SMTP, DNS, UDP; a namespace that stops
//! answering pings; MISC_CHECK scripts and FILE_CHECK files the test controls). Each
//! checker is seen healthy, failing and recovering through what a user sees: notify_up /
//! notify_down scripts and the parent's log lines `real server ... is UP|DOWN: reason`.
//! Detection times are asserted against delay_loop, retry and delay_before_retry.
//!
//! `keepalived-rs genhash` is compared with Debian's keepalived `genhash`.
//!
//! The host has no IPVS: what the IPVS writer does with the health is tested in the VM
//! (tests/ipvs_vm.rs and the checker VM tests). Needs root, the children built
//! (`cargo build --workspace`), python3 and openssl, and keepalived's genhash.

#[path = "support/servers.rs"]
mod servers;
mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use servers::*;
use support::*;

// ------------------------------------------------------------------------------------------
// genhash
// ------------------------------------------------------------------------------------------

/// keepalived's genhash, from Debian's keepalived package.
const KEEPALIVED_GENHASH: &str = "/usr/bin/genhash";

/// Runs a command in a namespace, bounded by `timeout` (killed after it).
fn run_in(ns: &Netns, program: &str, args: &[&str], timeout: Duration) -> Output {
    let child = Command::new("timeout")
        .arg("-s")
        .arg("KILL")
        .arg(format!("{}", timeout.as_secs_f64()))
        .args(["ip", "netns", "exec", &ns.name, program])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child.wait_with_output().expect("wait for the command")
}

/// `keepalived-rs genhash ARGS` in the daemon's namespace.
fn genhash(lab: &CheckLab, args: &[&str]) -> Output {
    let mut a = vec!["genhash"];
    a.extend_from_slice(args);
    run_in(&lab.lb, BIN, &a, Duration::from_secs(20))
}

/// keepalived's genhash with the same arguments: its digest line (the last line of its
/// output).
fn keepalived_genhash(lab: &CheckLab, args: &[&str]) -> String {
    assert!(
        std::path::Path::new(KEEPALIVED_GENHASH).is_file(),
        "{KEEPALIVED_GENHASH} is missing: install Debian's keepalived package (tests/run does)"
    );
    let out = run_in(&lab.lb, KEEPALIVED_GENHASH, args, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().last().unwrap_or_default().trim().to_string()
}

/// The digest `keepalived-rs genhash` printed; panics when it failed.
fn digest_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "genhash failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let d = text.lines().last().unwrap_or_default().trim().to_string();
    assert!(
        d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a digest: {text:?}"
    );
    d
}

/// MD5 of bytes, by md5sum.
fn md5sum(data: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("feed md5sum");
    let out = c.wait_with_output().expect("md5sum output");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The same digest as keepalived's genhash for every shape of response keepalived hashes
/// in its own way: a plain body, a body longer than Content-Length, no Content-Length, a
/// lowercase content-length, a chunked body (hashed with its framing), an empty body; over
/// HTTP 1.0, 1.0C and 1.1, with and without a virtual host.
#[test]
fn genhash_digest_is_keepalived_s() {
    let lab = CheckLab::new("gh");
    let srv = lab.server("web", "http", RS_V4, 8080);
    let body = b"<html>keepalived-rs genhash\n</html>\n".to_vec();
    srv.set_body(&body);
    let base = ["-s", RS_V4, "-p", "8080", "-u", "/index.html"];

    // A plain page: the MD5 of the body, as md5sum and keepalived's genhash say.
    let ours = digest_of(&genhash(&lab, &base));
    assert_eq!(ours, md5sum(&body), "the MD5 of the body");
    assert_eq!(
        ours,
        keepalived_genhash(&lab, &base),
        "keepalived's genhash"
    );

    // Each protocol and a virtual host: the same digest, and the request keepalived sends.
    for (proto, line, connection) in [
        ("1.0", "GET /index.html HTTP/1.0", ""),
        ("1.0C", "GET /index.html HTTP/1.0", "close"),
        ("1.1", "GET /index.html HTTP/1.1", "close"),
    ] {
        let mut a = base.to_vec();
        a.extend(["-P", proto, "-V", "www.example.com"]);
        assert_eq!(digest_of(&genhash(&lab, &a)), ours, "protocol {proto}");
        let last = srv
            .log()
            .into_iter()
            .rev()
            .find(|(_, e)| e.starts_with("request "))
            .expect("a request in the server's log");
        assert_eq!(
            last.1,
            format!(
                "request {line} host=www.example.com connection={connection} \
                 agent=KeepAliveClient"
            ),
            "{proto}"
        );
    }
    // Without a virtual host the Host header is address:port.
    digest_of(&genhash(&lab, &base));
    let last = srv
        .log()
        .into_iter()
        .rev()
        .find(|(_, e)| e.starts_with("request "));
    assert_eq!(
        last.map(|(_, e)| e),
        Some(format!(
            "request GET /index.html HTTP/1.0 host={RS_V4}:8080 connection= \
             agent=KeepAliveClient"
        ))
    );

    // Raw responses hashed as keepalived hashes them.
    srv.set_mode("raw");
    let cases: [(&str, &[u8], &[u8]); 5] = [
        (
            "longer than Content-Length",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello, and what follows",
            b"hello",
        ),
        (
            "no Content-Length",
            b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello\r\n\r\nworld",
            b"hello\r\n\r\nworld",
        ),
        (
            "lowercase content-length (not seen by keepalived)",
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhello",
            b"hello",
        ),
        (
            "chunked (hashed with its framing)",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        ("empty body", b"HTTP/1.0 204 No Content\r\n\r\n", b""),
    ];
    for (what, raw, hashed) in cases {
        std::fs::write(srv.ctrl.join("raw"), raw).expect("write raw");
        let ours = digest_of(&genhash(&lab, &base));
        assert_eq!(ours, md5sum(hashed), "{what}");
        assert_eq!(
            ours,
            keepalived_genhash(&lab, &base),
            "{what}: keepalived's genhash"
        );
    }

    // Verbose: the header, the body and the digest, then the time taken.
    srv.set_mode("ok");
    let mut a = base.to_vec();
    a.push("-v");
    let out = genhash(&lab, &a);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    for needle in [
        "HTTP Header Ascii Buffer",
        "HTTP/1.0 200 X",
        "HTML hash final resulting",
        &md5sum(&body),
        "Global response time for [/index.html] = ",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
}

/// HTTPS: the digest of keepalived's genhash -S, the certificate not verified (the test's
/// CA is unknown to both), SNI only with -I and a virtual host.
#[test]
fn genhash_over_tls() {
    let lab = CheckLab::new("ghs");
    let cert = lab.cert("www.example.com", RS_V4);
    let srv = lab.tls_server("tls", RS_V4, 8443, &cert, "modern");
    let body = b"over TLS\n".to_vec();
    srv.set_body(&body);
    let base = ["-S", "-s", RS_V4, "-p", "8443", "-u", "/"];
    let ours = digest_of(&genhash(&lab, &base));
    assert_eq!(ours, md5sum(&body));
    assert_eq!(
        ours,
        keepalived_genhash(&lab, &base),
        "keepalived's genhash -S"
    );
    let snis = |srv: &Server| {
        srv.log()
            .into_iter()
            .filter(|(_, e)| e.starts_with("sni "))
            .count()
    };
    assert_eq!(snis(&srv), 0, "no SNI without -I: {:?}", srv.log());

    let mut a = base.to_vec();
    a.extend(["-I", "-V", "www.example.com"]);
    assert_eq!(digest_of(&genhash(&lab, &a)), ours);
    let sni: Vec<String> = srv
        .log()
        .into_iter()
        .filter(|(_, e)| e.starts_with("sni "))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(sni, ["sni www.example.com"], "SNI with -I -V");

    // -V without -I: Host header, no SNI.
    let mut a = base.to_vec();
    a.extend(["-V", "other.example.com"]);
    assert_eq!(digest_of(&genhash(&lab, &a)), ours);
    assert_eq!(snis(&srv), 1, "no SNI without -I");

    // A server that only speaks TLS 1.0/1.1: an error naming the version, exit status 1.
    let old = lab.tls_server("old", RS_V4, 8444, &cert, "tls10");
    let out = genhash(&lab, &["-S", "-s", RS_V4, "-p", "8444", "-u", "/"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS handshake failed"), "{err}");
    drop(old);
}

/// Errors: stderr and exit status 1 (keepalived's genhash prints them on stdout and exits
/// 0); a server that never answers costs the timeout (-t).
#[test]
fn genhash_errors() {
    let lab = CheckLab::new("ghe");
    // Nothing listens.
    let out = genhash(&lab, &["-s", RS_V4, "-p", "8099", "-u", "/"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Connection failed"), "{err}");
    assert!(out.stdout.is_empty());

    // A server that accepts and never answers, with -t 1.
    let srv = lab.server("silent", "http", RS_V4, 8080);
    srv.set_mode("silent");
    let t0 = Instant::now();
    let out = genhash(&lab, &["-s", RS_V4, "-p", "8080", "-u", "/", "-t", "1"]);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Read error"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "the timeout of 1 s took {took:?}"
    );

    // A response that ends inside its header.
    srv.set_mode("raw");
    std::fs::write(srv.ctrl.join("raw"), b"HTTP/1.0 200 OK\r\nServer: x\r\n").expect("raw");
    let out = genhash(&lab, &["-s", RS_V4, "-p", "8080", "-u", "/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no data received from remote webserver")
    );

    // Usage: a missing server is refused by the argument parser.
    let out = genhash(&lab, &["-p", "80", "-u", "/"]);
    assert!(!out.status.success());
    let out = genhash(&lab, &["-s", RS_V4, "-p", "80", "-u", "/", "-P", "2.0"]);
    assert!(!out.status.success());
}
