//! The planner against real configuration text: keepalived's defaults and inheritance of
//! every checker option, targets, the HTTP Host header and SNI, SMTP host blocks, DNS
//! names, FILE_CHECK weights, and real server ids equal to the IPVS writer's.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use keepalived_check::plan::{NO_PORT, needs_port, plan};
use keepalived_check::spec::{CheckSpec, HttpProbe, Probe, RealServerPlan, UdpProbe};
use keepalived_config::lvs::checker::{DnsType, HttpProtocol};
use keepalived_config::project::{CheckObject, check_objects, virtual_server_key};
use keepalived_config::{LoadOptions, load_str};
use keepalived_ipc::msg::RealServerId;

fn load(text: &str) -> Vec<CheckObject> {
    let l = load_str("test.conf", text, &LoadOptions::default());
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    check_objects(&l.config)
}

fn plans(text: &str) -> Vec<RealServerPlan> {
    plan(&load(text))
}

/// The checks of the only real server of `text`.
fn checks(text: &str) -> Vec<CheckSpec> {
    let p = plans(text);
    assert_eq!(p.len(), 1, "{p:?}");
    p.into_iter().next().unwrap().checks
}

/// One real server 192.0.2.10 port 80 of 192.0.2.1:80, with `vs` lines in the virtual
/// server, `rs` lines in the real server.
fn conf(vs: &str, rs: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\n protocol TCP\n {vs}\n real_server 192.0.2.10 80 {{\n {rs}\n }}\n}}\n"
    )
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn http(c: &CheckSpec) -> &HttpProbe {
    match &c.probe {
        Probe::Http(h) => h,
        p => panic!("not HTTP: {p:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Timers, retry, alpha: checker > real_server > virtual_server > the checker's default
// ------------------------------------------------------------------------------------------

/// keepalived: delay_loop 60 s (KEEPALIVED_DEFAULT_DELAY), connect_timeout 5 s, retry 1,
/// delay_before_retry 1 s, warmup = the checker's delay_loop, alpha off.
#[test]
fn keepalived_defaults_of_a_bare_tcp_check() {
    let c = checks(&conf("", "TCP_CHECK {\n}"));
    let c = &c[0];
    assert_eq!(c.kind, "TCP_CHECK");
    assert_eq!(c.index, 0);
    assert_eq!(c.probe, Probe::Tcp);
    assert_eq!(c.delay_loop, secs(60.0));
    assert_eq!(c.retry, 1);
    assert_eq!(c.delay_before_retry, secs(1.0));
    assert_eq!(c.warmup, secs(60.0));
    assert!(!c.alpha && !c.log_all_failures);
    let t = c.target.as_ref().unwrap();
    assert_eq!(t.connect, sa("192.0.2.10:80"));
    assert_eq!(t.timeout, secs(5.0));
    assert_eq!(
        (t.bindto, t.bind_port, t.bind_if.as_deref(), t.fwmark),
        (None, None, None, None)
    );
}

/// keepalived (check_data.c): the real server inherits from the virtual server, the
/// checker from the real server.
#[test]
fn options_inherit_checker_then_real_server_then_virtual_server() {
    let vs =
        "delay_loop 10\n connect_timeout 4\n retry 5\n delay_before_retry 6\n warmup 7\n alpha";
    // Everything from the virtual server.
    let c = &checks(&conf(vs, "TCP_CHECK {\n}"))[0];
    assert_eq!(
        (
            c.delay_loop,
            c.retry,
            c.delay_before_retry,
            c.warmup,
            c.alpha
        ),
        (secs(10.0), 5, secs(6.0), secs(7.0), true)
    );
    assert_eq!(c.target.as_ref().unwrap().timeout, secs(4.0));
    // The real server's override the virtual server's.
    let rs = "delay_loop 20\n connect_timeout 3\n retry 2\n delay_before_retry 2.5\n warmup 1.5\n alpha off\n TCP_CHECK {\n}";
    let c = &checks(&conf(vs, rs))[0];
    assert_eq!(
        (
            c.delay_loop,
            c.retry,
            c.delay_before_retry,
            c.warmup,
            c.alpha
        ),
        (secs(20.0), 2, secs(2.5), secs(1.5), false)
    );
    assert_eq!(c.target.as_ref().unwrap().timeout, secs(3.0));
    // The checker's own override both.
    let rs = "delay_loop 20\n connect_timeout 3\n retry 2\n delay_before_retry 2.5\n warmup 1.5\n alpha off\n TCP_CHECK {\n delay_loop 2\n connect_timeout 0.5\n retry 0\n delay_before_retry 0.25\n warmup 0\n alpha\n }";
    let c = &checks(&conf(vs, rs))[0];
    assert_eq!(
        (
            c.delay_loop,
            c.retry,
            c.delay_before_retry,
            c.warmup,
            c.alpha
        ),
        (secs(2.0), 0, secs(0.25), Duration::ZERO, true)
    );
    assert_eq!(c.target.as_ref().unwrap().timeout, secs(0.5));
}

/// keepalived: `warmup` unset anywhere is the checker's own delay_loop.
#[test]
fn warmup_defaults_to_the_checkers_delay_loop() {
    let c = &checks(&conf("delay_loop 30", "TCP_CHECK {\n delay_loop 3\n }"))[0];
    assert_eq!(c.warmup, secs(3.0));
}

/// keepalived: default_retry 1 (queue_checker), DNS_CHECK 3 (DNS_DEFAULT_RETRY),
/// MISC_CHECK 0; default_delay_before_retry 1 s, HTTP_GET/SSL_GET 3 s, DNS_CHECK 0 which
/// means delay_loop.
#[test]
fn per_checker_retry_and_delay_before_retry_defaults() {
    let rs = "delay_loop 7
 TCP_CHECK {\n}
 HTTP_GET {\n url {\n path /\n }\n }
 SSL_GET {\n url {\n path /\n }\n }
 SMTP_CHECK {\n}
 DNS_CHECK {\n}
 MISC_CHECK {\n misc_path /bin/true\n }
 UDP_CHECK {\n}
 PING_CHECK {\n}";
    let c = checks(&conf("", rs));
    let got: Vec<(&str, u32, Duration)> = c
        .iter()
        .map(|c| (c.kind, c.retry, c.delay_before_retry))
        .collect();
    assert_eq!(
        got,
        vec![
            ("TCP_CHECK", 1, secs(1.0)),
            ("HTTP_GET", 1, secs(3.0)),
            ("SSL_GET", 1, secs(3.0)),
            ("SMTP_CHECK", 1, secs(1.0)),
            ("DNS_CHECK", 3, secs(7.0)),
            ("MISC_CHECK", 0, secs(1.0)),
            ("UDP_CHECK", 1, secs(1.0)),
            ("PING_CHECK", 1, secs(1.0)),
        ]
    );
    assert_eq!(
        c.iter().map(|c| c.index).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5, 6, 7]
    );
    // The real server's retry and delay_before_retry win over the checkers' defaults.
    let c = checks(&conf("", &format!("retry 4\n delay_before_retry 2\n{rs}")));
    assert!(
        c.iter()
            .all(|c| c.retry == 4 && c.delay_before_retry == secs(2.0))
    );
}

/// keepalived: MISC_CHECK has the common options but no connection.
#[test]
fn misc_check_options_and_no_target() {
    let c = &checks(&conf(
        "",
        "MISC_CHECK {\n misc_path /bin/true\n misc_dynamic\n retry 2\n delay_loop 4\n alpha\n log_all_failures\n }",
    ))[0];
    assert_eq!(c.probe, Probe::Misc { dynamic: true });
    assert_eq!(c.target, None);
    assert_eq!((c.retry, c.delay_loop, c.alpha), (2, secs(4.0), true));
    assert!(c.log_all_failures);
}

/// keepalived: log_all_failures per checker, or the global checker_log_all_failures.
#[test]
fn log_all_failures_from_checker_or_global() {
    let c = &checks(&conf(
        "",
        "TCP_CHECK {\n log_all_failures\n }\n TCP_CHECK {\n}",
    ));
    assert!(c[0].log_all_failures && !c[1].log_all_failures);
    let text = format!(
        "global_defs {{\n checker_log_all_failures\n}}\n{}",
        conf("", "TCP_CHECK {\n}")
    );
    assert!(checks(&text)[0].log_all_failures);
}

// ------------------------------------------------------------------------------------------
// Targets
// ------------------------------------------------------------------------------------------

/// keepalived: connect_ip/connect_port, else the real server's address and port; the
/// connection options are copied as given.
#[test]
fn connection_options_make_the_target() {
    let c = &checks(&conf(
        "",
        "TCP_CHECK {\n connect_ip 192.0.2.3\n connect_port 8443\n bindto 192.0.2.250\n bind_port 40000\n bind_if eth0\n fwmark 5\n }\n TCP_CHECK {\n connect_port 81\n }\n TCP_CHECK {\n connect_ip 192.0.2.4\n }",
    ));
    let t = c[0].target.as_ref().unwrap();
    assert_eq!(t.connect, sa("192.0.2.3:8443"));
    assert_eq!(t.bindto, Some("192.0.2.250".parse().unwrap()));
    assert_eq!(t.bind_port, Some(40000));
    assert_eq!(t.bind_if.as_deref(), Some("eth0"));
    assert_eq!(t.fwmark, Some(5));
    assert_eq!(c[1].target.as_ref().unwrap().connect, sa("192.0.2.10:81"));
    assert_eq!(c[2].target.as_ref().unwrap().connect, sa("192.0.2.4:80"));
}

/// keepalived checks a real server written without a port on port 0 (it copies the address
/// before the real server inherits the service's port): keepalived-rs checks the virtual
/// server's port in an address service, and keeps 0 in a fwmark or group service, where
/// the engine fails the check with a reason asking for connect_port.
#[test]
fn a_real_server_without_port() {
    let text = "virtual_server 192.0.2.1 8080 {\n protocol TCP\n real_server 192.0.2.10 {\n TCP_CHECK {\n}\n }\n}\n";
    let c = &checks(text)[0];
    assert_eq!(c.target.as_ref().unwrap().connect, sa("192.0.2.10:8080"));

    let text = "virtual_server fwmark 7 {\n lvs_method DR\n persistence_timeout 60\n real_server 192.0.2.10 {\n TCP_CHECK {\n}\n TCP_CHECK {\n connect_port 22\n }\n PING_CHECK {\n}\n }\n}\n";
    let c = checks(text);
    assert_eq!(c[0].target.as_ref().unwrap().connect, sa("192.0.2.10:0"));
    assert!(needs_port(&c[0].probe));
    assert_eq!(c[1].target.as_ref().unwrap().connect, sa("192.0.2.10:22"));
    assert_eq!(c[2].target.as_ref().unwrap().connect, sa("192.0.2.10:0"));
    assert!(!needs_port(&c[2].probe));
    assert!(NO_PORT.contains("connect_port"));
}

/// PING_CHECK has no port.
#[test]
fn ping_check_target_has_no_port() {
    let c = &checks(&conf("", "PING_CHECK {\n connect_ip 192.0.2.5\n }"))[0];
    assert_eq!(c.probe, Probe::Ping);
    assert_eq!(c.target.as_ref().unwrap().connect, sa("192.0.2.5:0"));
}

// ------------------------------------------------------------------------------------------
// HTTP_GET / SSL_GET
// ------------------------------------------------------------------------------------------

/// keepalived's request: Host is the url's virtualhost, else the checker's, the real
/// server's, the virtual server's; else the checked address and port.
#[test]
fn http_host_header_precedence() {
    let url = |vh: &str| format!("url {{\n path /x\n {vh}\n }}");
    let chk = |vh: &str, u: &str| format!("HTTP_GET {{\n {vh}\n {u}\n }}");
    let host = |vs: &str, rs: &str, c: &str, u: &str| {
        http(&checks(&conf(vs, &format!("{rs}\n{}", chk(c, &url(u)))))[0]).urls[0]
            .host
            .clone()
    };
    let (vs, rs, c, u) = (
        "virtualhost vs.example",
        "virtualhost rs.example",
        "virtualhost chk.example",
        "virtualhost url.example",
    );
    assert_eq!(host(vs, rs, c, u), "url.example");
    assert_eq!(host(vs, rs, c, ""), "chk.example");
    assert_eq!(host(vs, rs, "", ""), "rs.example");
    assert_eq!(host(vs, "", "", ""), "vs.example");
    assert_eq!(host("", "", "", ""), "192.0.2.10:80");
    // The address is the checked one (connect_ip/connect_port), IPv6 in brackets.
    let text = "virtual_server 2001:db8::1 443 {\n protocol TCP\n real_server 2001:db8::10 443 {\n HTTP_GET {\n connect_port 8080\n url {\n path /\n }\n }\n }\n}\n";
    assert_eq!(http(&checks(text)[0]).urls[0].host, "[2001:db8::10]:8080");
}

/// keepalived's defaults: HTTP/1.0, status 200-299, no digest, no regex, no SNI on HTTP_GET.
#[test]
fn http_defaults() {
    let c = &checks(&conf("", "HTTP_GET {\n url {\n path /health\n }\n }"))[0];
    let h = http(c);
    assert!(!h.tls && !h.tls_compliant && !h.fast_recovery);
    assert_eq!(h.protocol, HttpProtocol::Http10);
    assert_eq!(h.sni, None);
    let u = &h.urls[0];
    assert_eq!(u.path, "/health");
    assert_eq!(u.status, vec![(200, 299)]);
    assert_eq!(u.digest, None);
    assert!(u.regex.is_none());
}

/// status_code lists and ranges, the digest as bytes, the regex compiled with its options.
#[test]
fn http_url_status_digest_regex() {
    let c = &checks(&conf(
        "",
        "SSL_GET {\n http_protocol 1.1\n fast_recovery\n url {\n path /a\n status_code 200 301-302 404\n digest FF20AD2481F97B1754EF3E12ECD3A9CC\n regex \"^ok [0-9]+\"\n regex_options caseless\n regex_no_match\n regex_min_offset 2\n regex_max_offset 100\n tls_compliant\n }\n url {\n path /b\n }\n }",
    ))[0];
    let h = http(c);
    assert!(h.tls && h.fast_recovery && h.tls_compliant);
    assert_eq!(h.protocol, HttpProtocol::Http11);
    let u = &h.urls[0];
    assert_eq!(u.status, vec![(200, 200), (301, 302), (404, 404)]);
    assert_eq!(
        u.digest,
        Some([
            0xff, 0x20, 0xad, 0x24, 0x81, 0xf9, 0x7b, 0x17, 0x54, 0xef, 0x3e, 0x12, 0xec, 0xd3,
            0xa9, 0xcc
        ])
    );
    let r = u.regex.as_ref().unwrap();
    assert!(r.regex.is_match(b"OK 12"), "caseless");
    assert!(!r.regex.is_match(b"ok"));
    assert!(r.no_match);
    assert_eq!((r.min_offset, r.max_offset), (2, Some(100)));
    assert_eq!(h.urls[1].path, "/b");
    assert_eq!(h.urls[1].status, vec![(200, 299)]);
}

/// keepalived (check_ssl.c): SNI is sni_name, else with enable_sni the url's virtualhost,
/// the checker's, the virtual server's (not the real server's); none without enable_sni.
#[test]
fn ssl_sni_rules() {
    let sni = |vs: &str, rs: &str, chk: &str| {
        http(&checks(&conf(vs, &format!("{rs}\n SSL_GET {{\n {chk}\n }}")))[0])
            .sni
            .clone()
    };
    let url = "url {\n path /\n }";
    let url_vh = "url {\n path /\n virtualhost url.example\n }";
    assert_eq!(
        sni(
            "",
            "",
            &format!("sni_name s.example\n virtualhost c.example\n {url_vh}")
        ),
        Some("s.example".into())
    );
    assert_eq!(
        sni(
            "",
            "",
            &format!("enable_sni\n virtualhost c.example\n {url_vh}")
        ),
        Some("url.example".into())
    );
    assert_eq!(
        sni(
            "",
            "",
            &format!("enable_sni\n virtualhost c.example\n {url}")
        ),
        Some("c.example".into())
    );
    assert_eq!(
        sni(
            "virtualhost v.example",
            "virtualhost r.example",
            &format!("enable_sni\n {url}")
        ),
        Some("v.example".into())
    );
    assert_eq!(
        sni("", "virtualhost r.example", &format!("enable_sni\n {url}")),
        None
    );
    assert_eq!(sni("", "", &format!("virtualhost c.example\n {url}")), None);
}

// ------------------------------------------------------------------------------------------
// SMTP, DNS, UDP, FILE
// ------------------------------------------------------------------------------------------

/// keepalived: helo_name defaults to smtpchecker.keepalived.org.
#[test]
fn smtp_helo_default() {
    let c = checks(&conf(
        "",
        "SMTP_CHECK {\n}\n SMTP_CHECK {\n helo_name lb.example\n }",
    ));
    assert_eq!(
        c[0].probe,
        Probe::Smtp {
            helo: "smtpchecker.keepalived.org".into()
        }
    );
    assert_eq!(
        c[1].probe,
        Probe::Smtp {
            helo: "lb.example".into()
        }
    );
}

/// keepalived's smtp_check_end_handler: without connection options of its own, the checker
/// takes the first host's; every other host is one more check with the checker's options
/// (the hosts' connect_timeout defaults to the real server's, else the virtual server's).
#[test]
fn smtp_host_blocks_are_extra_checks() {
    let c = checks(&conf(
        "connect_timeout 9",
        "SMTP_CHECK {\n retry 3\n host {\n connect_ip 192.0.2.4\n connect_port 587\n }\n host {\n connect_port 25\n connect_timeout 2\n }\n }\n TCP_CHECK {\n}",
    ));
    let targets: Vec<(SocketAddr, Duration, u16, u32)> = c
        .iter()
        .map(|c| {
            let t = c.target.as_ref().unwrap();
            (t.connect, t.timeout, c.index, c.retry)
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            (sa("192.0.2.4:587"), secs(9.0), 0, 3),
            (sa("192.0.2.10:25"), secs(2.0), 0, 3),
            (sa("192.0.2.10:80"), secs(9.0), 1, 1),
        ]
    );
    // With a connection option of its own the checker keeps it, and each host is extra.
    let c = checks(&conf(
        "",
        "SMTP_CHECK {\n connect_port 2525\n connect_timeout 1\n host {\n connect_ip 192.0.2.4\n }\n }",
    ));
    let got: Vec<(SocketAddr, Duration)> = c
        .iter()
        .map(|c| {
            let t = c.target.as_ref().unwrap();
            (t.connect, t.timeout)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (sa("192.0.2.10:2525"), secs(1.0)),
            (sa("192.0.2.4:80"), secs(5.0))
        ]
    );
}

/// keepalived: type SOA and the root name by default; the name is sent fully qualified.
#[test]
fn dns_type_and_fully_qualified_name() {
    let c = checks(&conf(
        "",
        "DNS_CHECK {\n}\n DNS_CHECK {\n type aaaa\n name example.com\n }\n DNS_CHECK {\n name example.org.\n }",
    ));
    let dns: Vec<Probe> = c.into_iter().map(|c| c.probe).collect();
    assert_eq!(
        dns,
        vec![
            Probe::Dns {
                qtype: DnsType::Soa,
                name: ".".into()
            },
            Probe::Dns {
                qtype: DnsType::Aaaa,
                name: "example.com.".into()
            },
            Probe::Dns {
                qtype: DnsType::Soa,
                name: "example.org.".into()
            },
        ]
    );
}

/// UDP_CHECK's payload, reply pattern and lengths (keepalived's defaults 0 and 255).
#[test]
fn udp_probe() {
    let c = checks(&conf(
        "",
        "UDP_CHECK {\n}\n UDP_CHECK {\n payload 0a1b 2c\n require_reply 0a XX\n min_reply_length 2\n max_reply_length 64\n }",
    ));
    let Probe::Udp(u) = &c[0].probe else { panic!() };
    assert_eq!(
        **u,
        UdpProbe {
            payload: None,
            require_reply: None,
            min_reply_length: 0,
            max_reply_length: 255
        }
    );
    let Probe::Udp(u) = &c[1].probe else { panic!() };
    assert_eq!(u.payload, Some(vec![0x0a, 0x1b, 0x2c]));
    let r = u.require_reply.as_ref().unwrap();
    assert_eq!(
        (r.data.clone(), r.mask.clone()),
        (vec![0x0a, 0], vec![0, 0xff])
    );
    assert_eq!((u.min_reply_length, u.max_reply_length), (2, 64));
}

/// keepalived's FILE_CHECK: no timer, no retry, no alpha (add_rs_to_track_files); weight
/// from the block (else the track_file's, 1 by default).
#[test]
fn file_check() {
    let text = format!(
        "track_file f {{\n file /tmp/x\n}}\n{}",
        conf(
            "alpha",
            "FILE_CHECK {\n track_file f\n }\n FILE_CHECK {\n track_file f\n weight -3 reverse\n }"
        )
    );
    let c = checks(&text);
    assert_eq!(
        c[0].probe,
        Probe::File {
            weight: 1,
            reverse: false
        }
    );
    assert_eq!(
        c[1].probe,
        Probe::File {
            weight: -3,
            reverse: true
        }
    );
    assert!(
        c.iter()
            .all(|c| c.target.is_none() && !c.alpha && c.retry == 0)
    );
}

// ------------------------------------------------------------------------------------------
// Real servers: ids, weights, alpha
// ------------------------------------------------------------------------------------------

/// The id is the IPVS writer's (keepalived_ipvs::desired::RealServerId::of): the virtual
/// server's key, the address and the configured port, or 0.
#[test]
fn real_server_ids_match_the_ipvs_writer() {
    let text = "virtual_server_group G {\n 192.0.2.1 80\n 192.0.2.2 80\n}
virtual_server group G {\n protocol TCP\n real_server 192.0.2.10 80 {\n TCP_CHECK {\n}\n }\n real_server 192.0.2.11 {\n }\n}
virtual_server fwmark 3 {\n persistence_timeout 30\n real_server 192.0.2.12 {\n weight 7\n PING_CHECK {\n}\n }\n}
virtual_server 2001:db8::1 443 {\n protocol TCP\n weight 4\n alpha\n real_server 2001:db8::10 443 {\n alpha off\n }\n real_server 2001:db8::11 {\n }\n}
virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.10 8080 {\n }\n}\n";
    let objects = load(text);
    let p = plan(&objects);
    let ids: Vec<(String, IpAddr, u16, u32, bool)> = p
        .iter()
        .map(|p| {
            (
                p.id.virtual_server.clone(),
                p.id.ip,
                p.id.port,
                p.weight,
                p.alpha,
            )
        })
        .collect();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    assert_eq!(
        ids,
        vec![
            ("group G/tcp".into(), ip("192.0.2.10"), 80, 1, false),
            ("group G/tcp".into(), ip("192.0.2.11"), 0, 1, false),
            ("fwmark 3/tcp".into(), ip("192.0.2.12"), 0, 7, false),
            (
                "[2001:db8::1]:443/tcp".into(),
                ip("2001:db8::10"),
                443,
                4,
                false
            ),
            (
                "[2001:db8::1]:443/tcp".into(),
                ip("2001:db8::11"),
                0,
                4,
                true
            ),
            ("192.0.2.1:80/tcp".into(), ip("192.0.2.10"), 8080, 1, false),
        ]
    );
    // Built as RealServerId::of builds it, from every virtual server of the projection.
    let mut expected = Vec::new();
    for o in &objects {
        if let CheckObject::VirtualServer(vs) = o {
            for rs in &vs.real_servers {
                expected.push(RealServerId {
                    virtual_server: virtual_server_key(vs),
                    ip: rs.ip,
                    port: rs.port.unwrap_or(0),
                });
            }
        }
    }
    assert_eq!(p.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), expected);
    // A real server without checkers is planned (always up).
    assert!(p[1].checks.is_empty());
}
