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
    assert!(err.contains("TLS 1.0/1.1"), "the limit named: {err}");
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

// ------------------------------------------------------------------------------------------
// The daemon's checkers
// ------------------------------------------------------------------------------------------

/// Bound of every wait for the daemon.
const T: Duration = Duration::from_secs(40);

/// The virtual server every test configures (real servers are what matters here).
const VIP: &str = "203.0.113.1";

/// `global_defs`: scripts as `nobody`, plus `extra`.
fn global_defs(extra: &str) -> String {
    format!("global_defs {{\n    script_user nobody\n{extra}}}\n")
}

/// The IPv6 virtual server of the IPv6 real servers.
const VIP6: &str = "2001:db8::100";

/// `virtual_server 203.0.113.1 80` over `proto` (TCP or UDP) with `delay_loop` and the
/// real servers.
fn virtual_server(proto: &str, delay_loop: &str, real_servers: &[String]) -> String {
    virtual_server_on(VIP, proto, delay_loop, real_servers)
}

/// `virtual_server VIP 80`.
fn virtual_server_on(vip: &str, proto: &str, delay_loop: &str, real_servers: &[String]) -> String {
    format!(
        "virtual_server {vip} 80 {{\n    delay_loop {delay_loop}\n    lvs_sched rr\n    \
         lvs_method NAT\n    protocol {proto}\n{}}}\n",
        real_servers.concat()
    )
}

/// The key of virtual server VIP:80 in log lines.
fn vs_key_on(vip: &str, proto: &str) -> String {
    if vip.contains(':') {
        format!("[{vip}]:80/{}", proto.to_lowercase())
    } else {
        format!("{vip}:80/{}", proto.to_lowercase())
    }
}

/// A real server whose notify scripts record `up NAME` / `down NAME`, with checker blocks.
fn real_server(lab: &CheckLab, name: &str, addr: &str, port: u16, checkers: &str) -> String {
    format!(
        "    real_server {addr} {port} {{\n        weight 10\n{}{checkers}    }}\n",
        lab.notify(name)
    )
}

/// The parent's log line for a real server's transition: `real server A:P of VS is UP|DOWN`.
fn transition(addr: &str, port: u16, proto: &str, up: bool) -> String {
    let vip = if addr.contains(':') { VIP6 } else { VIP };
    format!(
        "real server {addr}:{port} of {} is {}",
        vs_key_on(vip, proto),
        if up { "UP" } else { "DOWN" }
    )
}

/// Asserts `lo <= value <= hi` (seconds), with the log on failure; prints the figure.
fn window(d: &Daemon, what: &str, value: f64, lo: f64, hi: f64) {
    println!("FIGURE {what}: {value:.3} s (expected {lo}-{hi} s)");
    d.check(
        (lo..=hi).contains(&value),
        &format!("{what}: {value:.3} s, expected between {lo} and {hi} s"),
    );
}

/// Asserts that a log line has `needle` (case-insensitive).
fn says(d: &Daemon, line: &str, needle: &str) {
    d.check(
        line.to_lowercase().contains(&needle.to_lowercase()),
        &format!("the line {line:?} should say {needle:?}"),
    );
}

/// Times of a server's `accept` events made in `mode`.
fn accepts_in(srv: &Server, mode: &str) -> Vec<f64> {
    srv.log()
        .into_iter()
        .filter(|(_, e)| e.starts_with("accept ") && e.ends_with(&format!(" {mode}")))
        .map(|(t, _)| t)
        .collect()
}

/// An HTTP_GET block of one url with the timing options.
fn http_get(url: &str, timing: &str) -> String {
    format!("        HTTP_GET {{\n            url {{\n{url}            }}\n{timing}        }}\n")
}

/// HTTP_GET failing (status 503) and recovering, with delay_loop 2, retry 2 and
/// delay_before_retry 1: the checks run every 2 s; the first failure is retried twice, 1 s
/// apart, and the third failure brings the server down (notify_down, log line with the
/// status); once the server answers 200 again, the next check brings it up.
#[test]
fn http_get_fails_and_recovers_as_retry_and_delays_say() {
    let lab = CheckLab::new("chttp");
    lab.add_address("192.0.2.10");
    let web = lab.server("web", "http", "192.0.2.10", 8080);
    let checker = http_get(
        "                path /health\n                status_code 200\n",
        "            connect_timeout 1\n            retry 2\n            delay_before_retry 1\n",
    );
    let conf = global_defs("")
        + &virtual_server(
            "TCP",
            "2",
            &[real_server(&lab, "web", "192.0.2.10", 8080, &checker)],
        );
    let d = lab.start(&conf);

    // Healthy: a GET every delay_loop, nothing reported.
    web.wait_for(&d, "request", 3, T);
    let t = web.times("request");
    for w in t.windows(2) {
        window(&d, "HTTP_GET interval while up", w[1] - w[0], 1.8, 2.3);
    }
    d.check(lab.events().is_empty(), "no transition while healthy");
    let req = web
        .log()
        .into_iter()
        .find(|(_, e)| e.starts_with("request "));
    d.check(
        req.as_ref().is_some_and(|(_, e)| {
            e.starts_with("request GET /health HTTP/1.0 host=192.0.2.10:8080 ")
        }),
        &format!("keepalived's request: {req:?}"),
    );

    // Failing.
    let t0 = now();
    web.set_mode("status:503");
    let t_down = lab.wait_event(&d, "down web", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 8080, "TCP", false), T);
    says(&d, &line, "503");
    let failed: Vec<f64> = accepts_in(&web, "status:503")
        .into_iter()
        .filter(|t| *t <= t_down)
        .collect();
    d.check(
        failed.len() == 3,
        &format!("1 + retry 2 failed GETs before the server is down: {failed:?}"),
    );
    window(
        &d,
        "HTTP_GET down after the first failed GET",
        t_down - failed[0],
        1.9,
        2.7,
    );
    window(&d, "HTTP_GET failure detected after", t_down - t0, 1.9, 4.7);

    // Recovering.
    let t1 = now();
    web.set_mode("ok");
    let t_up = lab.wait_event(&d, "up web", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 8080, "TCP", true), T);
    d.check(!line.contains("DOWN"), "an UP line");
    window(&d, "HTTP_GET recovery detected after", t_up - t1, 0.0, 2.7);
    let first_ok = accepts_in(&web, "ok")
        .into_iter()
        .find(|t| *t >= t1)
        .expect("a GET after the recovery");
    window(
        &d,
        "HTTP_GET up after the first good GET",
        t_up - first_ok,
        0.0,
        0.7,
    );
    d.check(
        lab.count_events("down web") == 1 && lab.count_events("up web") == 1,
        &format!("one transition each way: {:?}", lab.events()),
    );
}

/// The url options: a digest made by `keepalived-rs genhash`, several urls (all must
/// pass), status_code lists and ranges, virtualhost and http_protocol in the request, and a
/// regex; a changed page brings the server down with the reason, the page restored brings
/// it back.
#[test]
fn http_get_urls_digest_status_regex_virtualhost() {
    let lab = CheckLab::new("curl");
    lab.add_address("192.0.2.10");
    lab.add_address("192.0.2.11");
    let a = lab.server("a", "http", "192.0.2.10", 8080);
    let b = lab.server("b", "http", "192.0.2.11", 8080);
    a.set_body(b"hello, keepalived-rs\n");
    b.set_body(b"status: healthy\n");
    let digest = digest_of(&genhash(
        &lab,
        &["-s", "192.0.2.10", "-p", "8080", "-u", "/a"],
    ));
    let checker_a = format!(
        "        HTTP_GET {{\n            virtualhost www.example.com\n            \
         http_protocol 1.1\n            url {{\n                path /a\n                \
         digest {digest}\n            }}\n            url {{\n                path /b\n\
         \x20               status_code 200-204 418\n            }}\n            \
         connect_timeout 1\n            retry 0\n        }}\n"
    );
    let checker_b = http_get(
        "                path /status\n                regex \"status: (healthy|degraded)\"\n",
        "            connect_timeout 1\n            retry 0\n",
    );
    let conf = global_defs("")
        + &virtual_server(
            "TCP",
            "1",
            &[
                real_server(&lab, "a", "192.0.2.10", 8080, &checker_a),
                real_server(&lab, "b", "192.0.2.11", 8080, &checker_b),
            ],
        );
    let d = lab.start(&conf);
    a.wait_for(&d, "request", 4, T);
    b.wait_for(&d, "request", 2, T);
    d.check(lab.events().is_empty(), "no transition while healthy");
    let reqs: Vec<String> = a
        .log()
        .into_iter()
        .filter(|(_, e)| e.starts_with("request "))
        .map(|(_, e)| e)
        .collect();
    for path in ["/a", "/b"] {
        let want = format!(
            "request GET {path} HTTP/1.1 host=www.example.com connection=close \
             agent=KeepAliveClient"
        );
        d.check(reqs.contains(&want), &format!("{want:?} in {reqs:?}"));
    }

    // Another page: the digest no longer matches.
    a.set_body(b"hello, changed\n");
    lab.wait_event(&d, "down a", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 8080, "TCP", false), T);
    says(&d, &line, "digest");
    a.set_body(b"hello, keepalived-rs\n");
    lab.wait_event(&d, "up a", 1, T);

    // A status in the list (418) passes, one outside it fails.
    a.set_mode("status:418");
    // /a fails (418 is not in /a's default 200-299), so the server is down again.
    lab.wait_event(&d, "down a", 2, T);
    let line = d.wait_for_nth_log(&transition("192.0.2.10", 8080, "TCP", false), 2, T);
    says(&d, &line, "418");
    a.set_mode("ok");
    lab.wait_event(&d, "up a", 2, T);

    // The regex: "degraded" still matches, "failing" does not.
    b.set_body(b"status: degraded\n");
    std::thread::sleep(Duration::from_secs(3));
    d.check(
        lab.count_events("down b") == 0,
        "degraded matches the regex",
    );
    b.set_body(b"status: failing\n");
    lab.wait_event(&d, "down b", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.11", 8080, "TCP", false), T);
    says(&d, &line, "regex");
    b.set_body(b"status: healthy\n");
    lab.wait_event(&d, "up b", 1, T);
}

/// HTTP_GET's digest is genhash's for every shape of response keepalived hashes in its own
/// way (the raw bytes after the header, cut at `Content-Length:`): each real server has
/// the digest `keepalived-rs genhash` printed for it, and stays up.
#[test]
fn http_get_digest_agrees_with_genhash() {
    let lab = CheckLab::new("cdig");
    let shapes: [(&str, &[u8]); 5] = [
        (
            "plain",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        ),
        (
            "longer than Content-Length",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello, and what follows",
        ),
        (
            "no Content-Length",
            b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nno length\r\n\r\nat all",
        ),
        (
            "chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "lowercase content-length, body longer (keepalived hashes it all)",
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhello",
        ),
    ];
    let mut servers = Vec::new();
    let mut rs = Vec::new();
    for (i, (_, raw)) in shapes.iter().enumerate() {
        let addr = format!("192.0.2.{}", 20 + i);
        lab.add_address(&addr);
        let s = lab.server(&format!("s{i}"), "http", &addr, 8080);
        s.set_mode("raw");
        std::fs::write(s.ctrl.join("raw"), raw).expect("raw");
        let digest = digest_of(&genhash(&lab, &["-s", &addr, "-p", "8080", "-u", "/"]));
        let checker = http_get(
            &format!("                path /\n                digest {digest}\n"),
            "            connect_timeout 1\n            retry 0\n",
        );
        rs.push(real_server(&lab, &format!("s{i}"), &addr, 8080, &checker));
        servers.push(s);
    }
    let d = lab.start(&(global_defs("") + &virtual_server("TCP", "1", &rs)));
    for s in &servers {
        s.wait_for(&d, "request", 3, T);
    }
    let failed: Vec<&str> = shapes
        .iter()
        .enumerate()
        .filter(|(i, _)| lab.count_events(&format!("down s{i}")) > 0)
        .map(|(_, (what, _))| *what)
        .collect();
    d.check(
        failed.is_empty(),
        &format!(
            "every server stays up with genhash's digest; down: {failed:?}\n{}",
            d.lines_with("is DOWN").join("\n")
        ),
    );
}

/// TCP_CHECK: detection of a server that stops listening follows delay_loop 2, retry 2 and
/// delay_before_retry 1; a restarted server is up at the next check. The same over IPv6,
/// and with connect_ip, connect_port and bindto (the server sees the bound source).
#[test]
fn tcp_check_fails_and_recovers() {
    let lab = CheckLab::new("ctcp");
    lab.add_address("192.0.2.10");
    lab.add_lb_address("192.0.2.5");
    let start = |lab: &CheckLab| {
        (
            lab.server("tcp", "http", "192.0.2.10", 9000),
            lab.server("tcp6", "http", RS_V6, 9000),
        )
    };
    let (srv, srv6) = start(&lab);
    let checker = "        TCP_CHECK {\n            connect_timeout 1\n            retry 2\n            \
                   delay_before_retry 1\n        }\n";
    let redirected = "        TCP_CHECK {\n            connect_ip 192.0.2.10\n            \
                      connect_port 9000\n            bindto 192.0.2.5\n            \
                      connect_timeout 1\n            retry 2\n            \
                      delay_before_retry 1\n        }\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "2",
                &[
                    real_server(&lab, "tcp", "192.0.2.10", 9000, checker),
                    real_server(&lab, "moved", "192.0.2.99", 80, redirected),
                ],
            )
            + &virtual_server_on(
                VIP6,
                "TCP",
                "2",
                &[real_server(&lab, "tcp6", RS_V6, 9000, checker)],
            )),
    );
    srv.wait_for(&d, "accept", 4, T);
    srv6.wait_for(&d, "accept", 2, T);
    d.check(lab.events().is_empty(), "no transition while listening");
    let peers: std::collections::BTreeSet<String> = srv
        .log()
        .into_iter()
        .filter_map(|(_, e)| e.split(' ').nth(1).map(str::to_string))
        .collect();
    d.check(
        peers.contains("192.0.2.5") && peers.contains(LB_V4),
        &format!("connections from bindto 192.0.2.5 and from the default source: {peers:?}"),
    );
    let t0 = now();
    drop((srv, srv6));
    let t_down = lab.wait_event(&d, "down tcp", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 9000, "TCP", false), T);
    says(&d, &line, "refused");
    window(
        &d,
        "TCP_CHECK failure detected after",
        t_down - t0,
        1.9,
        4.7,
    );
    let t6 = lab.wait_event(&d, "down tcp6", 1, T);
    window(
        &d,
        "TCP_CHECK (IPv6) failure detected after",
        t6 - t0,
        1.9,
        4.7,
    );
    d.wait_for_log(&transition(RS_V6, 9000, "TCP", false), T);
    lab.wait_event(&d, "down moved", 1, T);
    let (srv, _srv6) = start(&lab);
    let t1 = now();
    let t_up = lab.wait_event(&d, "up tcp", 1, T);
    window(&d, "TCP_CHECK recovery detected after", t_up - t1, 0.0, 2.7);
    // The server's log goes on from its first life: the first connection of this one from
    // this real server's checker (the "moved" one connects from 192.0.2.5).
    let first = srv
        .log()
        .into_iter()
        .find(|(t, e)| *t >= t1 && e.starts_with("accept") && e.split(' ').nth(1) == Some(LB_V4))
        .map(|(t, _)| t)
        .unwrap_or_else(|| d.fail("no connection to the restarted server"));
    window(
        &d,
        "TCP_CHECK up after the first connection",
        t_up - first,
        0.0,
        1.0,
    );
    lab.wait_event(&d, "up tcp6", 1, T);
    lab.wait_event(&d, "up moved", 1, T);
}

/// Several checkers on one real server: all must pass. TCP_CHECK still connects, but the
/// HTTP_GET fails: the server is down, with the HTTP_GET's reason.
#[test]
fn every_checker_of_a_real_server_must_pass() {
    let lab = CheckLab::new("call");
    lab.add_address("192.0.2.10");
    let web = lab.server("web", "http", "192.0.2.10", 8080);
    let checkers =
        "        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n"
            .to_string()
            + &http_get(
                "                path /\n",
                "            connect_timeout 1\n            retry 0\n",
            );
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "1",
                &[real_server(&lab, "web", "192.0.2.10", 8080, &checkers)],
            )),
    );
    web.wait_for(&d, "request", 2, T);
    web.set_mode("status:500");
    lab.wait_event(&d, "down web", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 8080, "TCP", false), T);
    says(&d, &line, "500");
    web.set_mode("ok");
    lab.wait_event(&d, "up web", 1, T);
}

/// alpha: the real server starts down and comes up with its first successful check;
/// without alpha a server that fails from the start goes down at its first check (a
/// checker that never ran has no retry left).
#[test]
fn alpha_starts_down() {
    let lab = CheckLab::new("calpha");
    lab.add_address("192.0.2.10");
    let web = lab.server("web", "http", "192.0.2.10", 8080);
    let good = http_get(
        "                path /\n",
        "            connect_timeout 1\n            retry 3\n            alpha\n",
    );
    let bad = "        TCP_CHECK {\n            connect_timeout 1\n            retry 3\n            \
               delay_before_retry 1\n        }\n";
    let t0 = now();
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "2",
                &[
                    real_server(&lab, "web", "192.0.2.10", 8080, &good),
                    real_server(&lab, "nothing", "192.0.2.10", 8099, bad),
                ],
            )),
    );
    let t_up = lab.wait_event(&d, "up web", 1, T);
    let first = web.times("accept")[0];
    window(
        &d,
        "alpha: up after the first good check",
        t_up - first,
        0.0,
        0.7,
    );
    d.check(
        lab.count_events("down web") == 0,
        &format!(
            "no notify_down for an alpha server before its first check (keepalived's \
             init_service_rs runs none; its first notify comes from a check): {:?}",
            lab.events()
        ),
    );
    // First check within warmup (= delay_loop), and no retry before down.
    let t_down = lab.wait_event(&d, "down nothing", 1, T);
    window(
        &d,
        "never-run checker down at its first check",
        t_down - t0,
        0.0,
        3.2,
    );
}

/// An SSL_GET block of one url.
fn ssl_get(url: &str, extra: &str) -> String {
    format!("        SSL_GET {{\n            url {{\n{url}            }}\n{extra}        }}\n")
}

/// SSL_GET against HTTPS servers with a certificate made by the test (not verified, as in
/// keepalived): a good server with its digest is up, stopped is down, restarted is up. The
/// TLS limits are explicit in the reasons: a TLS 1.2 server with CBC suites only and a TLS
/// 1.0/1.1 server fail naming that; a server speaking garbage fails at once.
#[test]
fn ssl_get_and_the_tls_limits() {
    let lab = CheckLab::new("cssl");
    for a in ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"] {
        lab.add_address(a);
    }
    let cert = lab.cert("www.example.com", "192.0.2.10");
    let good = lab.tls_server("good", "192.0.2.10", 8443, &cert, "modern");
    let cbc = lab.tls_server("cbc", "192.0.2.11", 8443, &cert, "cbc12");
    let old = lab.tls_server("old", "192.0.2.12", 8443, &cert, "tls10");
    let noise = lab.tls_server("noise", "192.0.2.13", 8443, &cert, "modern");
    noise.set_mode("garbage");
    good.set_body(b"secure page\n");
    let digest = digest_of(&genhash(
        &lab,
        &["-S", "-s", "192.0.2.10", "-p", "8443", "-u", "/"],
    ));
    let timing = "            connect_timeout 2\n            retry 0\n";
    let with_digest = ssl_get(
        &format!("                path /\n                digest {digest}\n"),
        timing,
    );
    let plain = ssl_get("                path /\n", timing);
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "1",
                &[
                    real_server(&lab, "good", "192.0.2.10", 8443, &with_digest),
                    real_server(&lab, "cbc", "192.0.2.11", 8443, &plain),
                    real_server(&lab, "old", "192.0.2.12", 8443, &plain),
                    real_server(&lab, "noise", "192.0.2.13", 8443, &plain),
                ],
            )),
    );
    for (name, addr, needle) in [
        ("cbc", "192.0.2.11", "CBC"),
        ("old", "192.0.2.12", "TLS 1.0/1.1"),
        ("noise", "192.0.2.13", ""),
    ] {
        lab.wait_event(&d, &format!("down {name}"), 1, T);
        let line = d.wait_for_log(&transition(addr, 8443, "TCP", false), T);
        says(&d, &line, needle);
    }
    // The garbage costs no timeout: down within a moment of the connection.
    let t_noise = lab.wait_event(&d, "down noise", 1, T);
    let first = noise.times("accept")[0];
    window(
        &d,
        "garbage TLS: down after the connection",
        t_noise - first,
        0.0,
        0.8,
    );

    good.wait_for(&d, "request", 3, T);
    d.check(lab.count_events("down good") == 0, "the good server is up");
    drop(good);
    lab.wait_event(&d, "down good", 1, T);
    let good = lab.tls_server("good", "192.0.2.10", 8443, &cert, "modern");
    good.set_body(b"secure page\n");
    lab.wait_event(&d, "up good", 1, T);
    drop((cbc, old));
}

/// SSL_GET with `verify_certificate` in the SSL block: a certificate issued by the
/// configured ca for the SNI (sni_name) or, without SNI, for the address is accepted; one
/// for another name fails with a reason that says so.
#[test]
fn ssl_get_verifies_certificates_when_asked() {
    let lab = CheckLab::new("cver");
    for a in ["192.0.2.10", "192.0.2.11", "192.0.2.12"] {
        lab.add_address(a);
    }
    let www = lab.cert("www.example.com", "192.0.2.10");
    let other = lab.cert("other.example.com", "192.0.2.11");
    let by_ip = lab.cert("ip.example.com", "192.0.2.12");
    let s1 = lab.tls_server("www", "192.0.2.10", 8443, &www, "modern");
    let s2 = lab.tls_server("other", "192.0.2.11", 8443, &other, "modern");
    let s3 = lab.tls_server("ip", "192.0.2.12", 8443, &by_ip, "modern");
    let sni = ssl_get(
        "                path /\n",
        "            sni_name www.example.com\n            connect_timeout 2\n            retry 0\n",
    );
    let no_sni = ssl_get(
        "                path /\n",
        "            connect_timeout 2\n            retry 0\n",
    );
    let conf = global_defs("")
        + &format!(
            "SSL {{\n    ca {}\n    verify_certificate\n}}\n",
            www.ca.display()
        )
        + &virtual_server(
            "TCP",
            "1",
            &[
                real_server(&lab, "www", "192.0.2.10", 8443, &sni),
                real_server(&lab, "other", "192.0.2.11", 8443, &sni),
                real_server(&lab, "ip", "192.0.2.12", 8443, &no_sni),
            ],
        );
    let d = lab.start(&conf);
    lab.wait_event(&d, "down other", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.11", 8443, "TCP", false), T);
    says(&d, &line, "certificate");
    s1.wait_for(&d, "request", 3, T);
    s3.wait_for(&d, "request", 3, T);
    let snis: Vec<String> = s1
        .log()
        .into_iter()
        .filter(|(_, e)| e.starts_with("sni "))
        .map(|(_, e)| e)
        .collect();
    d.check(
        snis.iter().all(|s| s == "sni www.example.com") && !snis.is_empty(),
        &format!("sni_name sent: {snis:?}"),
    );
    d.check(
        lab.count_events("down www") == 0 && lab.count_events("down ip") == 0,
        &format!("verified certificates are accepted: {:?}", lab.events()),
    );
    drop(s2);
}

/// SMTP_CHECK: the dialogue with helo_name; a refusing banner, a refused HELO and a silent
/// server fail (the last at connect_timeout); a good server is up again.
#[test]
fn smtp_check() {
    let lab = CheckLab::new("csmtp");
    lab.add_address("192.0.2.10");
    let mx = lab.server("mx", "smtp", "192.0.2.10", 2525);
    let checker = "        SMTP_CHECK {\n            helo_name checker.example.org\n            \
                   connect_timeout 2\n            retry 0\n        }\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "1",
                &[real_server(&lab, "mx", "192.0.2.10", 2525, checker)],
            )),
    );
    mx.wait_for(&d, "command QUIT", 2, T);
    let helo = mx
        .log()
        .into_iter()
        .find(|(_, e)| e.starts_with("command HELO"));
    d.check(
        helo.as_ref()
            .is_some_and(|(_, e)| e == "command HELO checker.example.org"),
        &format!("HELO with helo_name: {helo:?}"),
    );
    d.check(lab.events().is_empty(), "no transition while healthy");
    for (n, mode, needle) in [(1, "banner:554", "554"), (2, "helo:550", "550")] {
        mx.set_mode(mode);
        lab.wait_event(&d, "down mx", n, T);
        let line = d.wait_for_nth_log(&transition("192.0.2.10", 2525, "TCP", false), n, T);
        says(&d, &line, needle);
        mx.set_mode("ok");
        lab.wait_event(&d, "up mx", n, T);
    }
    mx.set_mode("silent");
    let t_down = lab.wait_event(&d, "down mx", 3, T);
    let first = accepts_in(&mx, "silent")[0];
    window(
        &d,
        "SMTP silent: down after the connection",
        t_down - first,
        1.8,
        2.7,
    );
    mx.set_mode("ok");
    lab.wait_event(&d, "up mx", 3, T);
}

/// DNS_CHECK: the query (type, name) is keepalived's; an error rcode and a silent server
/// fail; a good answer brings the server back.
#[test]
fn dns_check() {
    let lab = CheckLab::new("cdns");
    lab.add_address("192.0.2.10");
    let ns = lab.server("ns", "dns", "192.0.2.10", 5353);
    let checker = "        DNS_CHECK {\n            type A\n            name www.example.com\n            \
                   connect_timeout 1\n            retry 0\n        }\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "UDP",
                "1",
                &[real_server(&lab, "ns", "192.0.2.10", 5353, checker)],
            )),
    );
    ns.wait_for(&d, "datagram", 2, T);
    // The question: www.example.com. A IN.
    let q = ns.log()[0].1.clone();
    d.check(
        q.contains("03777777076578616d706c6503636f6d0000010001"),
        &format!("the query asks www.example.com A IN: {q}"),
    );
    d.check(lab.events().is_empty(), "no transition while healthy");
    ns.set_mode("rcode:5");
    lab.wait_event(&d, "down ns", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 5353, "UDP", false), T);
    says(&d, &line, "REFUSED");
    ns.set_mode("ok");
    lab.wait_event(&d, "up ns", 1, T);
    ns.set_mode("silent");
    lab.wait_event(&d, "down ns", 2, T);
    ns.set_mode("ok");
    lab.wait_event(&d, "up ns", 2, T);
}

/// UDP_CHECK with a payload and require_reply with wildcards: an echo passes, a wrong reply
/// and silence fail, the echo back is up again.
#[test]
fn udp_check() {
    let lab = CheckLab::new("cudp");
    lab.add_address("192.0.2.10");
    let echo = lab.server("echo", "udp", "192.0.2.10", 7000);
    let checker = "        UDP_CHECK {\n            payload 68656c6c6f\n            \
                   require_reply 68656c6cXX\n            connect_timeout 1\n            \
                   retry 0\n        }\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "UDP",
                "1",
                &[real_server(&lab, "echo", "192.0.2.10", 7000, checker)],
            )),
    );
    echo.wait_for(&d, "datagram", 2, T);
    let first = echo.log()[0].1.clone();
    d.check(
        first.ends_with(" 68656c6c6f"),
        &format!("the payload: {first}"),
    );
    d.check(lab.events().is_empty(), "no transition while echoing");
    echo.set_mode("reply:6a656c6c6f");
    lab.wait_event(&d, "down echo", 1, T);
    let line = d.wait_for_log(&transition("192.0.2.10", 7000, "UDP", false), T);
    says(&d, &line, "reply");
    echo.set_mode("ok");
    lab.wait_event(&d, "up echo", 1, T);
    echo.set_mode("silent");
    lab.wait_event(&d, "down echo", 2, T);
    echo.set_mode("ok");
    lab.wait_event(&d, "up echo", 2, T);
}

/// PING_CHECK over IPv4 and IPv6: the real servers' namespace stops answering echo
/// requests, both go down; it answers again, both come back.
#[test]
fn ping_check_v4_and_v6() {
    let lab = CheckLab::new("cping");
    let checker = "        PING_CHECK {\n            connect_timeout 1\n            retry 1\n            \
                   delay_before_retry 1\n        }\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server("TCP", "1", &[real_server(&lab, "v4", RS_V4, 80, checker)])
            + &virtual_server_on(
                VIP6,
                "TCP",
                "1",
                &[real_server(&lab, "v6", RS_V6, 80, checker)],
            )),
    );
    std::thread::sleep(Duration::from_secs(3));
    d.check(
        lab.events().is_empty(),
        &format!("no transition while answering: {:?}", lab.events()),
    );
    let t0 = now();
    lab.answer_ping(false);
    for name in ["v4", "v6"] {
        let t = lab.wait_event(&d, &format!("down {name}"), 1, T);
        // Next check within delay_loop, its timeout (1 s), the retry 1 s later and its
        // timeout.
        window(
            &d,
            &format!("PING_CHECK {name} failure detected after"),
            t - t0,
            2.9,
            4.8,
        );
    }
    let line = d.wait_for_log(&transition(RS_V6, 80, "TCP", false), T);
    says(&d, &line, "echo");
    let t1 = now();
    lab.answer_ping(true);
    for name in ["v4", "v6"] {
        let t = lab.wait_event(&d, &format!("up {name}"), 1, T);
        window(
            &d,
            &format!("PING_CHECK {name} recovery detected after"),
            t - t1,
            0.0,
            2.2,
        );
    }
}

/// MISC_CHECK: the script's exit status (0 up, 1 down), run as script_user by the parent;
/// a script slower than misc_timeout fails; with misc_dynamic, exit status 2 + w sets the
/// weight to w (seen in the state dump).
#[test]
fn misc_check() {
    let lab = CheckLab::new("cmisc");
    let status = lab.dir.join("misc-status");
    std::fs::write(&status, "0").expect("status");
    let script = lab.dir.script(
        "misc.sh",
        &format!(
            "#!/bin/sh\ns=$(cat {})\ncase \"$s\" in sleep) sleep 10; exit 0;; esac\nexit \"$s\"\n",
            status.display()
        ),
    );
    let dump = lab.dir.shared_dir("dump").join("state.data");
    let checker = |dynamic: &str| {
        format!(
            "        MISC_CHECK {{\n            misc_path \"{}\"\n            misc_timeout 2\n\
             {dynamic}            retry 0\n        }}\n",
            script.display()
        )
    };
    let d = lab.start(
        &(global_defs(&format!("    state_dump_file {}\n", dump.display()))
            + &virtual_server(
                "TCP",
                "1",
                &[
                    real_server(&lab, "misc", "192.0.2.10", 80, &checker("")),
                    real_server(
                        &lab,
                        "dyn",
                        "192.0.2.11",
                        80,
                        &checker("            misc_dynamic\n"),
                    ),
                ],
            )),
    );
    std::thread::sleep(Duration::from_secs(3));
    d.check(lab.events().is_empty(), "no transition while exiting 0");
    std::fs::write(&status, "1").expect("status");
    lab.wait_event(&d, "down misc", 1, T);
    lab.wait_event(&d, "down dyn", 1, T);
    d.wait_for_log(&transition("192.0.2.10", 80, "TCP", false), T);
    std::fs::write(&status, "0").expect("status");
    lab.wait_event(&d, "up misc", 1, T);
    lab.wait_event(&d, "up dyn", 1, T);

    // Slower than misc_timeout: down about 2 s after the start of the check.
    let t0 = now();
    std::fs::write(&status, "sleep").expect("status");
    let t = lab.wait_event(&d, "down misc", 2, T);
    window(&d, "MISC_CHECK timeout detected after", t - t0, 1.9, 3.8);
    std::fs::write(&status, "0").expect("status");
    lab.wait_event(&d, "up misc", 2, T);

    // misc_dynamic: exit 7 is up with weight 5 (the plain one is down: 7 is a failure).
    std::fs::write(&status, "7").expect("status");
    lab.wait_event(&d, "down misc", 3, T);
    std::thread::sleep(Duration::from_secs(2));
    d.check(lab.count_events("down dyn") == 2, "exit 7 keeps dyn up");
    d.signal(nix::sys::signal::Signal::SIGUSR1);
    let text = d.wait("the state dump with dyn's weight", T, || {
        let t = std::fs::read_to_string(&dump).ok()?;
        t.lines()
            .find(|l| l.contains("192.0.2.11:80") && l.contains("weight 5"))
            .map(str::to_string)
    });
    println!("dump line: {text}");
}

/// FILE_CHECK: the parent reads the tracked file; with weight 0 a non-zero number is down
/// and zero is up.
#[test]
fn file_check() {
    let lab = CheckLab::new("cfile");
    let file = lab.dir.write("tracked", "0\n");
    let conf = global_defs("")
        + &format!("track_file tf_web {{\n    file {}\n}}\n", file.display())
        + &virtual_server(
            "TCP",
            "1",
            &[real_server(
                &lab,
                "file",
                "192.0.2.10",
                80,
                "        FILE_CHECK {\n            track_file tf_web\n            weight 0\n        }\n",
            )],
        );
    let d = lab.start(&conf);
    std::thread::sleep(Duration::from_secs(2));
    d.check(
        lab.events().is_empty(),
        "no transition while the file reads 0",
    );
    let t0 = now();
    std::fs::write(&file, "1\n").expect("write");
    let t = lab.wait_event(&d, "down file", 1, T);
    window(&d, "FILE_CHECK change seen after", t - t0, 0.0, 3.0);
    std::fs::write(&file, "0\n").expect("write");
    lab.wait_event(&d, "up file", 1, T);
}

/// Hostile servers each cost one failed check at its timeout (connect_timeout 3): one that
/// never answers, one that answers one byte a second, one that resets, one that speaks
/// garbage instead of TLS; and a healthy server checked at the same time (delay_loop 1)
/// keeps its pace, never delayed, never down.
#[test]
fn hostile_servers_cost_one_check_and_delay_no_other() {
    let lab = CheckLab::new("chost");
    let names = ["silent", "slow", "reset", "noise"];
    for i in 0..=names.len() {
        lab.add_address(&format!("192.0.2.{}", 10 + i));
    }
    let good = lab.server("good", "http", "192.0.2.10", 8080);
    let cert = lab.cert("hostile.example.com", "192.0.2.14");
    let mut hostile = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let addr = format!("192.0.2.{}", 11 + i);
        let s = if *name == "noise" {
            lab.tls_server(name, &addr, 8080, &cert, "modern")
        } else {
            lab.server(name, "http", &addr, 8080)
        };
        s.set_mode(if *name == "noise" { "garbage" } else { name });
        hostile.push(s);
    }
    let timing = "            connect_timeout 3\n            retry 0\n";
    let mut rs = vec![real_server(
        &lab,
        "good",
        "192.0.2.10",
        8080,
        &http_get("                path /\n", timing),
    )];
    for (i, name) in names.iter().enumerate() {
        let block = if *name == "noise" {
            ssl_get("                path /\n", timing)
        } else {
            http_get("                path /\n", timing)
        };
        rs.push(real_server(
            &lab,
            name,
            &format!("192.0.2.{}", 11 + i),
            8080,
            &block,
        ));
    }
    let d = lab.start(&(global_defs("") + &virtual_server("TCP", "1", &rs)));
    for (name, srv) in names.iter().zip(&hostile) {
        let t_down = lab.wait_event(&d, &format!("down {name}"), 1, T);
        let first = srv.times("accept")[0];
        let (lo, hi) = match *name {
            "silent" | "slow" => (2.8, 3.7),
            _ => (0.0, 0.8),
        };
        window(
            &d,
            &format!("{name}: down after its first connection"),
            t_down - first,
            lo,
            hi,
        );
    }
    // Let the hostile servers be checked a few more times, each check costing its timeout.
    std::thread::sleep(Duration::from_secs(6));
    for (name, srv) in names.iter().zip(&hostile) {
        let accepts = srv.times("accept");
        d.check(
            accepts.len() >= 2,
            &format!("{name} checked again while down: {accepts:?}"),
        );
        if matches!(*name, "silent" | "slow") {
            // A check at a time: the next starts once the previous timed out.
            for w in accepts.windows(2) {
                window(
                    &d,
                    &format!("{name}: between two checks"),
                    w[1] - w[0],
                    2.8,
                    4.3,
                );
            }
        }
    }
    let t = good.times("request");
    d.check(
        t.len() >= 8,
        &format!("the good server checked every second: {t:?}"),
    );
    let worst = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    window(
        &d,
        "healthy server: longest interval between its checks",
        worst,
        0.8,
        1.25,
    );
    d.check(
        lab.count_events("down good") == 0,
        "the good server stays up",
    );
    d.check(
        names
            .iter()
            .all(|n| lab.count_events(&format!("down {n}")) == 1),
        &format!("each hostile server reported down once: {:?}", lab.events()),
    );
}

/// A server that sends a gigabyte (a body without end, or a header without end) costs the
/// checker process less than 1 MB of resident memory, and one failed check. A healthy
/// server checked meanwhile stays up and on its pace: reading the flood takes the
/// checker's CPU in bounded turns, so its checks are late by at most half a second (about
/// 0.2 s measured with the debug build alone on two cores, more when other tests share
/// them).
#[test]
fn a_gigabyte_costs_under_one_megabyte() {
    let lab = CheckLab::new("cflood");
    lab.add_address("192.0.2.10");
    lab.add_address("192.0.2.11");
    let good = lab.server("good", "http", "192.0.2.10", 8080);
    let flood = lab.server("flood", "http", "192.0.2.11", 8080);
    flood.set_body(b"the real page\n");
    let digest = digest_of(&genhash(
        &lab,
        &["-s", "192.0.2.11", "-p", "8080", "-u", "/"],
    ));
    let timing = "            connect_timeout 3\n            retry 0\n";
    let d = lab.start(
        &(global_defs("")
            + &virtual_server(
                "TCP",
                "1",
                &[
                    real_server(
                        &lab,
                        "good",
                        "192.0.2.10",
                        8080,
                        &http_get("                path /\n", timing),
                    ),
                    real_server(
                        &lab,
                        "flood",
                        "192.0.2.11",
                        8080,
                        &http_get(
                            &format!("                path /\n                digest {digest}\n"),
                            timing,
                        ),
                    ),
                ],
            )),
    );
    let checker = d.child_pid("check");
    // Warm: several checks of both, so that every buffer the checks use exists.
    flood.wait_for(&d, "request", 4, T);
    let before = rss_kb(checker);
    let mut peak = before;
    for (n, mode) in [(1, "flood"), (2, "flood-header")] {
        flood.set_mode(mode);
        let seen = |peak: &mut u64| *peak = (*peak).max(rss_kb(checker));
        d.wait(&format!("down flood #{n}"), T, || {
            seen(&mut peak);
            (lab.count_events("down flood") >= n).then_some(())
        });
        let t_down = lab.wait_event(&d, "down flood", n, T);
        let first = accepts_in(&flood, mode)[0];
        window(
            &d,
            &format!("{mode}: down after its connection"),
            t_down - first,
            0.0,
            3.7,
        );
        let sent: Vec<(f64, String)> = flood
            .log()
            .into_iter()
            .filter(|(_, e)| e.starts_with("send-error") || e.starts_with("sent "))
            .collect();
        println!("{mode}: {sent:?}");
        flood.set_mode("ok");
        d.wait(&format!("up flood #{n}"), T, || {
            seen(&mut peak);
            (lab.count_events("up flood") >= n).then_some(())
        });
    }
    let after = rss_kb(checker);
    println!("FIGURE checker VmRSS: before {before} kB, peak {peak} kB, after {after} kB");
    d.check(
        peak < before + 1024,
        &format!("the checker's VmRSS went from {before} kB to {peak} kB (limit +1024 kB)"),
    );
    d.check(
        lab.count_events("down good") == 0,
        "the good server stays up",
    );
    let t = good.times("request");
    let worst = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    window(
        &d,
        "healthy server beside the flood: longest interval",
        worst,
        0.8,
        1.5,
    );
}
