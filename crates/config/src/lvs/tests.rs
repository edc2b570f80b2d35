//! Tests of the LVS blocks: the keepalived samples, a TOML round trip, and one test per kind
//! of mistake.

use std::net::IpAddr;

use super::*;
use crate::{Diagnostic, LoadOptions, Loaded, load_str};

fn load(text: &str) -> Loaded {
    // The track files that FILE_CHECK examples name, defined after everything so that line
    // numbers in the tests stay those of their text.
    let mut text = text.to_string();
    for name in ["tf", "tf_t"] {
        if !text.contains(&format!("track_file {name} {{")) {
            text.push_str(&format!("\ntrack_file {name} {{\n file /run/{name}\n}}\n"));
        }
    }
    load_str("t.conf", &text, &LoadOptions::default())
}

fn sample(name: &str) -> String {
    let path = format!(
        "{}/../../../shared/keepalived-samples/keepalived.conf.{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The line ranges of the top-level LVS blocks (virtual_server, virtual_server_group, SSL).
fn lvs_lines(text: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<u32> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let code = raw.split(['#', '!']).next().unwrap_or("").trim();
        if depth == 0
            && start.is_none()
            && (code.starts_with("virtual_server") || code.starts_with("SSL"))
        {
            start = Some(line);
        }
        depth += i32::try_from(code.matches('{').count()).unwrap_or(0);
        depth -= i32::try_from(code.matches('}').count()).unwrap_or(0);
        if depth == 0 {
            if let Some(s) = start.take() {
                out.push((s, line));
            }
        }
    }
    out
}

/// The errors on LVS lines.
fn lvs_errors(text: &str, l: &Loaded) -> Vec<Diagnostic> {
    let ranges = lvs_lines(text);
    l.errors()
        .filter(|d| ranges.iter().any(|(a, b)| (*a..=*b).contains(&d.line)))
        .cloned()
        .collect()
}

fn errors(l: &Loaded) -> Vec<String> {
    l.errors()
        .map(|d| format!("{}: {}", d.line, d.message))
        .collect()
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| format!("{}: {}", d.line, d.message))
        .collect()
}

/// Asserts exactly one error, on `line`, whose message contains `what`.
#[track_caller]
fn one_error(text: &str, line: u32, what: &str) -> Diagnostic {
    let l = load(text);
    let e: Vec<&Diagnostic> = l.errors().collect();
    assert_eq!(e.len(), 1, "expected one error, got {:#?}", l.diagnostics);
    assert_eq!(e[0].line, line, "{:#?}", e[0]);
    assert!(e[0].message.contains(what), "{:#?}", e[0]);
    e[0].clone()
}

#[track_caller]
fn clean(text: &str) -> Loaded {
    let l = load(text);
    assert!(l.is_ok(), "{:#?}", l.diagnostics);
    l
}

fn roundtrip(c: &Config) {
    let t = toml::to_string(c).expect("to TOML");
    let back: Config = toml::from_str(&t).unwrap_or_else(|e| panic!("{e}\n{t}"));
    assert_eq!(&back, c, "{t}");
}

const SAMPLES: &[&str] = &[
    "HTTP_GET.port",
    "IPv6",
    "PING_CHECK",
    "SMTP_CHECK",
    "SSL_GET",
    "UDP_CHECK",
    "fwmark",
    "inhibit",
    "misc_check",
    "misc_check_arg",
    "quorum",
    "sample",
    "status_code",
    "virtual_server_group",
    "virtualhost",
];

#[test]
fn samples_have_no_lvs_errors_but_fwmark_protocol() {
    for name in SAMPLES {
        let text = sample(name);
        let l = load(&text);
        let errs = lvs_errors(&text, &l);
        assert!(
            !l.config.virtual_servers.is_empty(),
            "{name}: no virtual server"
        );
        if *name == "fwmark" {
            assert_eq!(errs.len(), 1, "{name}: {errs:#?}");
            assert!(
                errs[0].message.contains("'protocol' is ignored"),
                "{errs:#?}"
            );
            let proto_line = text
                .lines()
                .position(|l| l.trim() == "protocol TCP")
                .map(|i| i + 1);
            assert_eq!(Some(errs[0].line as usize), proto_line);
        } else {
            assert!(errs.is_empty(), "{name}: {errs:#?}");
        }
        roundtrip(&l.config);
    }
}

#[test]
fn samples_are_read_into_the_model() {
    let l = load(&sample("virtual_server_group"));
    let g = &l.config.virtual_server_groups[0];
    assert_eq!(g.name, "VSG_1");
    assert_eq!(g.addresses.len(), 4);
    assert_eq!(
        g.addresses[3],
        GroupAddress {
            first: "192.168.200.3".parse().expect("ip"),
            last: Some("192.168.200.10".parse().expect("ip")),
            port: Some(80),
        }
    );
    assert_eq!(g.fwmarks.len(), 2);
    let vs = &l.config.virtual_servers[0];
    assert_eq!(vs.group.as_deref(), Some("VSG_1"));
    assert_eq!(vs.real_servers.len(), 2);
    assert_eq!(
        vs.real_servers[0].http_gets().next().expect("checker").url[0].path,
        "/testurl3/test.jsp"
    );

    let l = load(&sample("IPv6"));
    let g = &l.config.virtual_server_groups[0];
    assert_eq!(
        g.addresses[0].last,
        Some("ae00::9".parse::<IpAddr>().expect("ip"))
    );

    let l = load(&sample("quorum"));
    let vs = &l.config.virtual_servers[0];
    assert_eq!((vs.quorum, vs.hysteresis), (7, 2));
    assert!(vs.alpha && vs.omega);
    assert_eq!(
        vs.quorum_up.as_ref().map(|s| s.command.as_str()),
        Some("/usr/local/sbin/quorum-up.sh")
    );
    assert_eq!(vs.lvs_sched, Scheduler::Wrr);
    assert_eq!(vs.real_servers.len(), 10);

    let l = load(&sample("SMTP_CHECK"));
    let rs = &l.config.virtual_servers[0].real_servers;
    assert_eq!(rs[1].smtp_checks().next().expect("checker").host.len(), 3);
    assert_eq!(
        rs[2].smtp_checks().next().expect("checker").host[2].connect_port,
        Some(587)
    );
    assert_eq!(
        rs[0]
            .smtp_checks()
            .next()
            .expect("checker")
            .helo_name
            .as_deref(),
        Some("foo.bar.com")
    );

    let l = load(&sample("status_code"));
    let u = &l.config.virtual_servers[0].real_servers[0]
        .ssl_gets()
        .next()
        .expect("checker")
        .url[0];
    assert_eq!(
        u.status_code
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["200-299", "400-499", "503", "505"]
    );

    let l = load(&sample("misc_check_arg"));
    let m = &l.config.virtual_servers[0].real_servers[0]
        .misc_checks()
        .next()
        .expect("checker");
    assert_eq!(
        m.misc_path.as_ref().map(|s| s.argv.clone()),
        Some(vec![
            "/usr/local/bin/script.sh".to_string(),
            "arg1".into(),
            "arg2".into()
        ])
    );
}

#[test]
fn deprecated_aliases_warn() {
    let l = load(&sample("sample"));
    let w = warnings(&l);
    assert!(
        w.iter().any(|w| w.contains("'lb_algo' is deprecated")),
        "{w:#?}"
    );
    assert!(
        w.iter().any(|w| w.contains("'lb_kind' is deprecated")),
        "{w:#?}"
    );
}

/// Places a keyword example in its block, as the lead's keyword test does.
fn wrap(block: Block, ex: &str) -> String {
    let checker = |name: &str, ex: &str| {
        format!(
            "virtual_server 192.0.2.30 80 {{\n real_server 192.0.2.31 80 {{\n {name} {{\n{ex}\n }}\n }}\n}}"
        )
    };
    let body = match block {
        Block::Ssl => format!("SSL {{\n{ex}\n}}"),
        Block::VirtualServerGroup => {
            format!("virtual_server_group VSG_T {{\n 192.0.2.20 80\n{ex}\n}}")
        }
        Block::VirtualServer => format!(
            "virtual_server 192.0.2.30 80 {{\n{ex}\n real_server 192.0.2.31 80 {{\n TCP_CHECK {{\n }}\n }}\n}}"
        ),
        Block::RealServer => {
            format!("virtual_server 192.0.2.30 80 {{\n real_server 192.0.2.31 80 {{\n{ex}\n }}\n}}")
        }
        Block::Url => checker("HTTP_GET", &format!("url {{\n{ex}\n}}")),
        Block::SmtpHost => checker("SMTP_CHECK", &format!("host {{\n{ex}\n}}")),
        b => checker(b.name(), ex),
    };
    format!(
        "vrrp_script chk_t {{\n script \"/bin/true\"\n}}\ntrack_file tf_t {{\n file /run/tf_t\n}}\n{body}\n"
    )
}

#[test]
fn every_keyword_example_is_valid_in_its_block() {
    use crate::keywords::Status;
    for k in KEYWORDS {
        let text = wrap(k.block, k.example);
        let l = load(&text);
        // The example's own lines.
        let first = text
            .lines()
            .position(|line| line == k.example.lines().next().unwrap_or(""))
            .map(|i| i + 1)
            .unwrap_or(0);
        let last = first + k.example.lines().count() - 1;
        let own: Vec<&Diagnostic> = l
            .errors()
            .filter(|d| (first..=last).contains(&(d.line as usize)))
            .collect();
        match k.status {
            Status::Refused { .. } => {
                assert!(!l.is_ok(), "{:?} {}: not refused", k.block, k.name)
            }
            _ => assert!(own.is_empty(), "{:?} {}: {own:#?}\n{text}", k.block, k.name),
        }
        if matches!(k.status, Status::Implemented | Status::Deprecated { .. }) {
            assert!(
                l.is_ok(),
                "{:?} {}: {:#?}\n{text}",
                k.block,
                k.name,
                l.diagnostics
            );
        }
    }
}

#[test]
fn root_examples_of_the_lvs_blocks_are_valid() {
    for k in crate::keywords::ROOT {
        if ["virtual_server", "virtual_server_group", "SSL"].contains(&k.name) {
            clean(k.example);
        }
    }
}

#[test]
fn the_table_lists_every_keyword_once() {
    let mut seen = std::collections::HashSet::new();
    for k in KEYWORDS {
        assert!(
            seen.insert((k.block, k.name)),
            "{:?} {} twice",
            k.block,
            k.name
        );
    }
    for b in [
        Block::TcpCheck,
        Block::HttpGet,
        Block::SslGet,
        Block::SmtpCheck,
        Block::DnsCheck,
        Block::UdpCheck,
        Block::PingCheck,
    ] {
        for name in [
            "connect_ip",
            "bind_if",
            "fwmark",
            "retry",
            "log_all_failures",
        ] {
            assert!(seen.contains(&(b, name)), "{b:?} {name}");
        }
    }
    assert!(!seen.contains(&(Block::MiscCheck, "connect_ip")));
    assert!(!seen.contains(&(Block::HttpGet, "tls_compliant")));
    assert!(seen.contains(&(Block::SslGet, "tls_compliant")));
}

// ---------------------------------------------------------------------------------------
// A rich virtual server, and the TOML round trip.
// ---------------------------------------------------------------------------------------

const RICH: &str = r#"
SSL {
    ca /etc/ssl/ca.pem
    certificate /etc/keepalived/c.pem
    key /etc/keepalived/c.key
    password secret
    verify_certificate
}
virtual_server_group WEB {
    192.0.2.10 80
    192.0.2.20-29 80
    192.0.2.64/28 80
    192.0.2.100-192.0.2.110 80
}
virtual_server 192.0.2.1 443 {
    lvs_sched sh
    sh-port
    sh-fallback
    flag-1
    lvs_method TUN type gue port 6080 csum
    protocol TCP
    persistence_timeout
    persistence_granularity 255.255.255.0
    delay_loop 2.5
    connect_timeout 0.5
    retry 2
    delay_before_retry 1
    warmup 0
    alpha
    omega
    quorum 3
    hysteresis 1
    quorum_up "/usr/local/bin/q.sh up" nobody
    quorum_down /usr/local/bin/q.sh
    virtualhost www.example.com
    smtp_alert no
    weight 2
    inhibit_on_failure
    ha_suspend
    sorry_server 192.0.2.99 443
    sorry_server_inhibit
    sorry_server_lvs_method DR
    real_server 192.0.2.2 443 {
        weight 3
        lvs_method DR
        notify_up "/usr/local/bin/n.sh up"
        notify_down "/usr/local/bin/n.sh down" nobody nogroup
        uthreshold 1000
        lthreshold 10
        inhibit_on_failure off
        alpha yes
        virtualhost rs.example.com
        SSL_GET {
            enable_sni
            sni_name www.example.com
            tls_compliant
            http_protocol 1.1
            fast_recovery
            nb_get_retry 4
            url {
                path /health
                digest FF20AD2481F97B1754EF3E12ECD3A9CC
                status_code 200-299 404
                regex "^OK [0-9]+"
                regex_no_match
                regex_options caseless multiline
                regex_min_offset 1
                regex_max_offset 100
                regex_stack 1024 65536
            }
        }
        HTTP_GET {
            connect_port 8080
            url {
                path /
            }
        }
        TCP_CHECK {
            connect_ip 192.0.2.3
            connect_port 8443
            bindto 192.0.2.250
            bind_port 40000
            bind_if eth0
            fwmark 5
            connect_timeout 1
            retry 0
            delay_before_retry 0.5
            warmup 1
            delay_loop 3
            alpha off
            log_all_failures
        }
        SMTP_CHECK {
            helo_name lb.example.com
            host {
                connect_ip 192.0.2.4
                connect_port 587
            }
        }
        DNS_CHECK {
            type aaaa
            name example.com.
        }
        MISC_CHECK {
            misc_path "/usr/local/bin/check.sh --fast"
            misc_timeout 5
            misc_dynamic
            user nobody:nogroup
            retry 1
        }
        UDP_CHECK {
            payload Ab12f 3 456
            require_reply 0a XX
            min_reply_length 2
            max_reply_length 64
        }
        PING_CHECK {
            retry 2
        }
        FILE_CHECK {
            track_file tf_t
            weight -5 reverse
        }
    }
    real_server 192.0.2.5 {
        TCP_CHECK {
        }
    }
}
virtual_server group WEB {
    protocol TCP
    real_server 192.0.2.7 80 {
        TCP_CHECK {
        }
    }
}
virtual_server fwmark 9 {
    lvs_method DR
    real_server 2001:db8::7 {
        lvs_method TUN
        PING_CHECK {
        }
    }
    real_server 192.0.2.8 {
        PING_CHECK {
        }
    }
}
"#;

#[test]
fn a_rich_configuration_is_read_and_round_trips_through_toml() {
    let l = clean(RICH);
    let c = &l.config;
    roundtrip(c);

    let ssl = c.ssl.as_ref().expect("ssl");
    assert_eq!(ssl.key.as_deref(), Some("/etc/keepalived/c.key"));
    assert!(ssl.verify_certificate);
    let g = &c.virtual_server_groups[0];
    let lasts: Vec<String> = g
        .addresses
        .iter()
        .map(|a| a.last.map(|l| l.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(lasts, ["", "192.0.2.29", "192.0.2.79", "192.0.2.110"]);

    let vs = &c.virtual_servers[0];
    assert_eq!(vs.lvs_sched, Scheduler::Sh);
    assert!(vs.sh_port && vs.sh_fallback && vs.flag_1 && !vs.mh_port);
    assert_eq!(
        vs.lvs_method,
        Some(LvsMethod {
            method: ForwardingMethod::Tun,
            tunnel_type: Some(TunnelType::Gue),
            port: Some(6080),
            checksum: Some(TunnelChecksum::Csum),
        })
    );
    assert_eq!(vs.persistence_timeout, Some(360));
    assert_eq!(
        vs.persistence_granularity,
        Some(Granularity::Mask("255.255.255.0".parse().expect("mask")))
    );
    assert_eq!(vs.delay_loop, Timer::from_micros(2_500_000));
    assert_eq!(vs.connect_timeout, Timer::millis(500));
    assert_eq!(vs.warmup, Some(Timer::from_micros(0)));
    assert_eq!(
        vs.quorum_up.as_ref().and_then(|s| s.user.clone()),
        Some("nobody".to_string())
    );
    assert_eq!(vs.smtp_alert, Some(false));
    assert_eq!(
        vs.sorry_server,
        Some(SorryServer {
            ip: "192.0.2.99".parse().expect("ip"),
            port: Some(443)
        })
    );
    assert!(vs.sorry_server_inhibit);
    assert_eq!(vs.sorry_method().method, ForwardingMethod::Dr);

    let rs = &vs.real_servers[0];
    assert_eq!(rs.weight, Some(3));
    assert_eq!(rs.inhibit_on_failure(), Some(false));
    assert_eq!(
        rs.notify_down.as_ref().and_then(|s| s.group.clone()),
        Some("nogroup".to_string())
    );
    let ssl_get = &rs.ssl_gets().next().expect("checker");
    assert!(ssl_get.enable_sni && ssl_get.tls_compliant && ssl_get.fast_recovery);
    assert_eq!(ssl_get.retry, Some(4));
    assert_eq!(ssl_get.http_protocol, Some(HttpProtocol::Http11));
    let u = &ssl_get.url[0];
    assert_eq!(
        u.digest.as_ref().map(checker::Digest::as_str),
        Some("ff20ad2481f97b1754ef3e12ecd3a9cc")
    );
    assert_eq!(u.regex.as_deref(), Some("^OK [0-9]+"));
    assert_eq!(
        u.regex_options,
        [RegexOption::Caseless, RegexOption::Multiline]
    );
    assert_eq!(
        u.regex_stack,
        Some(RegexStack {
            start: 1024,
            max: 65536
        })
    );
    let tcp = &rs.tcp_checks().next().expect("checker");
    assert_eq!(tcp.connect_ip(), Some("192.0.2.3".parse().expect("ip")));
    assert_eq!(tcp.fwmark(), Some(5));
    assert_eq!(tcp.retry, Some(0));
    assert_eq!(tcp.alpha(), Some(false));
    assert!(tcp.log_all_failures);
    assert_eq!(
        rs.dns_checks().next().expect("checker").query_type,
        DnsType::Aaaa
    );
    let misc = &rs.misc_checks().next().expect("checker");
    assert_eq!(misc.misc_timeout, Some(Timer::secs(5)));
    assert_eq!(
        (misc.user.as_deref(), misc.group.as_deref()),
        (Some("nobody"), Some("nogroup"))
    );
    let udp = &rs.udp_checks().next().expect("checker");
    assert_eq!(
        udp.payload.as_ref().map(ToString::to_string).as_deref(),
        Some("ab120f034506")
    );
    assert_eq!(
        udp.require_reply
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("0axx")
    );
    assert_eq!(rs.file_checks().next().expect("checker").weight, Some(-5));
    assert!(rs.file_checks().next().expect("checker").reverse);

    let fw = &c.virtual_servers[2];
    assert_eq!(fw.fwmark, Some(9));
    assert_eq!(
        fw.method_of(&fw.real_servers[0]).method,
        ForwardingMethod::Tun
    );

    // The TOML text itself is readable by load_toml, with no diagnostic.
    let t = c.to_toml().expect("toml");
    let back = crate::load_toml("t.toml", &t);
    assert!(back.is_ok(), "{:#?}", back.diagnostics);
    assert_eq!(&back.config, c);
}

#[test]
fn toml_values_are_checked_too() {
    let t = r#"
[[virtual_servers]]
ip = "192.0.2.1"
port = 80
protocol = "TCP"
quorum = 5

[[virtual_servers.real_servers]]
ip = "198.51.100.1"

[[virtual_servers.real_servers.checkers]]
[virtual_servers.real_servers.checkers.HTTP_GET]
[[virtual_servers.real_servers.checkers.HTTP_GET.url]]
path = ""
"#;
    let l = crate::load_toml("t.toml", t);
    let e = errors(&l);
    assert!(e.iter().any(|e| e.contains("url without path")), "{e:#?}");
    assert!(e.iter().any(|e| e.contains("quorum 5 is above")), "{e:#?}");

    let bad = "[[virtual_servers]]\nip = \"192.0.2.1\"\nport = 80\nlvs_sched = \"fast\"\n";
    assert!(!crate::load_toml("t.toml", bad).is_ok());
    let bad = "[[virtual_servers]]\nip = \"192.0.2.1\"\n[[virtual_servers.real_servers]]\nip = \"192.0.2.2\"\n[[virtual_servers.real_servers.checkers]]\n[virtual_servers.real_servers.checkers.HTTP_GET]\n[[virtual_servers.real_servers.checkers.HTTP_GET.url]]\npath = \"/\"\nstatus_code = [\"700\"]\n";
    assert!(!crate::load_toml("t.toml", bad).is_ok());
    let bad = "[[virtual_servers]]\nip = \"192.0.2.1\"\nbogus = 1\n";
    assert!(!crate::load_toml("t.toml", bad).is_ok());
}

// ---------------------------------------------------------------------------------------
// Mistakes: one error each, on the right line.
// ---------------------------------------------------------------------------------------

/// A virtual server whose body starts on line 3, with one real server.
fn vs(body: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\n protocol TCP\n{body}\n real_server 192.0.2.2 80 {{\n }}\n}}\n"
    )
}

/// A real server whose body starts on line 4.
fn rs(body: &str) -> String {
    format!(
        "virtual_server 192.0.2.1 80 {{\n protocol TCP\n real_server 192.0.2.2 80 {{\n{body}\n }}\n}}\n"
    )
}

/// A checker (on line 4) whose body starts on line 5.
fn chk(name: &str, body: &str) -> String {
    rs(&format!("  {name} {{\n{body}\n  }}"))
}

/// An HTTP_GET url (on line 5) whose body starts on line 6.
fn url(body: &str) -> String {
    chk("HTTP_GET", &format!("   url {{\n{body}\n   }}"))
}

/// Checks each case: exactly one error, on the line, containing the text.
#[track_caller]
fn cases(cases: &[(String, u32, &str)]) {
    let mut bad = Vec::new();
    for (text, line, what) in cases {
        let l = load(text);
        let e: Vec<&Diagnostic> = l.errors().collect();
        if e.len() != 1 || e[0].line != *line || !e[0].message.contains(what) {
            bad.push(format!(
                "--- expected line {line}: {what}\n{text}\ngot: {:#?}",
                l.diagnostics
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn group_mistakes() {
    let g = |body: &str| format!("virtual_server_group G {{\n{body}\n}}\n");
    cases(&[
        (g(" 192.0.2.10-5 80"), 2, "must end above its start"),
        (g(" 192.0.2.1-300 80"), 2, "not a last byte"),
        (g(" 192.0.2.9/29 80"), 2, "host bits set"),
        (g(" 192.0.2.0/33 80"), 2, "prefix length"),
        (g(" 192.0.2.300 80"), 2, "not an IP address"),
        (g(" 2001:db8::9-2 80"), 2, "must end above its start"),
        (g(" 2001:db8::9-192.0.2.1 80"), 2, "not a last group"),
        (g(" 192.0.2.9-192.0.2.1 80"), 2, "ends before it starts"),
        (g(" 192.0.2.1 99999"), 2, "not a port"),
        (g(" 192.0.2.1 80 90"), 2, "unexpected '90'"),
        (g(" fwmark 1 inet7"), 2, "not valid for 'fwmark'"),
        (g(" fwmark 0"), 2, "out of range"),
        (g(" fwmark"), 2, "needs a value"),
        (g(""), 1, "has no entries"),
        (
            g(" 192.0.2.1 80\n 2001:db8::1 80\n fwmark 3"),
            1,
            "fwmark without a family",
        ),
        (
            format!("{}{}", g(" 192.0.2.1 80"), g(" 192.0.2.2 80")),
            4,
            "defined twice",
        ),
    ]);
    let d = one_error(&g(" fwmrak 1"), 2, "not an IP address");
    assert_eq!(d.hint.as_deref(), Some("did you mean 'fwmark'?"));
    let d = one_error(&g(" 192.0.2.10-5 80"), 2, "must end");
    assert_eq!(d.column, 2);
    let l = clean(&g(" 192.0.2.1 80"));
    assert!(warnings(&l).iter().any(|w| w.contains("'G' is not used")));
    // Fine: both forms of range, IPv6 short ranges (hex), a fwmark with a family.
    clean(&g(
        " 192.0.2.1-10 80\n 192.0.2.250-192.0.3.10\n 2001:db8::a-ff 443\n fwmark 5 inet\n 192.0.2.0/24 0",
    ));
}

#[test]
fn virtual_server_mistakes() {
    let grp = "virtual_server_group WEB {\n 192.0.2.1 80\n}\n";
    cases(&[
        ("virtual_server 192.0.2.1 0x50 {\n}\n".into(), 1, "not a port"),
        ("virtual_server 192.0.2.1/24 80 {\n}\n".into(), 1, "not an IP address"),
        ("virtual_server fwmark abc {\n}\n".into(), 1, "not a number"),
        ("virtual_server fwmark {\n}\n".into(), 1, "needs the mark"),
        ("virtual_server group {\n}\n".into(), 1, "needs the group"),
        (
            format!("{grp}virtual_server group WEBB {{\n protocol TCP\n real_server 192.0.2.2 80 {{\n }}\n}}\n"),
            4,
            "no virtual_server_group of that name",
        ),
        (format!("{}{}", vs(""), vs("")), 7, "defined twice"),
        (vs(" lvs_sched rrr"), 3, "not valid for 'lvs_sched'"),
        (vs(" lvs_method DR type gue port 1"), 3, "apply only to TUN"),
        (vs(" lvs_method TUN type gue"), 3, "needs a port"),
        (vs(" lvs_method TUN csum"), 3, "ipip tunnels have no checksum"),
        (vs(" lvs_method TUN type gre remcsum"), 3, "remcsum"),
        (vs(" lvs_method TUN type ipip port 5"), 3, "applies only to gue"),
        (vs(" lvs_method TUN bogus"), 3, "unknown option 'bogus'"),
        (vs(" lvs_method TUN type"), 3, "needs a tunnel type"),
        (vs(" lvs_method MASQ"), 3, "not valid for 'lvs_method'"),
        (vs(" ops"), 3, "needs protocol UDP"),
        (vs(" sh-port"), 3, "applies only to the sh scheduler"),
        (vs(" mh-fallback\n lvs_sched sh"), 3, "applies only to the mh scheduler"),
        (vs(" sh-port\n lvs_sched sh"), 3, "comes before 'lvs_sched sh'"),
        (vs(" persistence_timeout 99999999"), 3, "out of range"),
        (vs(" persistence_timeout 0"), 3, "out of range"),
        (vs(" persistence_engine foo"), 3, "unknown persistence engine"),
        (vs(" persistence_granularity 64"), 3, "is for inet6"),
        (vs(" persistence_granularity 255.255.0"), 3, "not an IPv4 netmask"),
        (
            "virtual_server 192.0.2.1 {\n protocol TCP\n real_server 192.0.2.2 {\n }\n}\n".into(),
            1,
            "must be persistent",
        ),
        (
            "virtual_server fwmark 1 {\n ha_suspend\n real_server 192.0.2.2 {\n }\n}\n".into(),
            2,
            "ha_suspend",
        ),
        (
            "virtual_server fwmark 1 {\n protocol UDP\n real_server 192.0.2.2 {\n }\n}\n".into(),
            2,
            "'protocol' is ignored for a fwmark service",
        ),
        (vs(" ip_family inet6"), 3, "conflicts"),
        (vs(" protocol ICMP"), 3, "not valid for 'protocol'"),
        (vs(" alpha on"), 3, "unexpected 'on'"),
        (vs(" delay_loop 0"), 3, "out of range"),
        (vs(" connect_timeout 5000"), 3, "out of range"),
        (vs(" retry 0"), 3, "out of range"),
        (vs(" weight 0"), 3, "out of range"),
        (vs(" quorum 0"), 3, "out of range"),
        (vs(" smtp_alert maybe"), 3, "yes/no"),
        (vs(" virtualhost"), 3, "needs a value"),
        (vs(" quorum_up /bin/a\n quorum_up /bin/b"), 4, "given twice"),
        (vs(" sorry_server_inhibit\n sorry_server 192.0.2.9 80"), 3, "before or without"),
        (vs(" sorry_server_lvs_method DR"), 3, "before or without"),
        (vs(" sorry_server 2001:db8::9 80"), 3, "is inet6"),
        (vs(" lvs_method DR\n sorry_server 192.0.2.9 8080"), 4, "cannot change the port"),
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n lvs_method DR\n real_server 192.0.2.2 80 {\n }\n lvs_method NAT\n}\n".into(),
            4,
            "changes after this real_server",
        ),
        (vs(" quorum 5"), 3, "above the total weight"),
        (vs(" quorum 1\n hysteresis 1"), 4, "must be below the quorum"),
        (
            vs(" sorry_server 192.0.2.2 80\n sorry_server_inhibit"),
            3,
            "inhibit_on_failure settings differ",
        ),
        (vs(" real_servr 192.0.2.3 80 {\n }"), 3, "unknown keyword 'real_servr'"),
    ]);
}

#[test]
fn sorry_server_matching_a_real_server_needs_the_same_inhibit() {
    // The same server as sorry and real server, with the same inhibit setting, is fine.
    clean(&vs(
        " inhibit_on_failure\n sorry_server 192.0.2.2 80\n sorry_server_inhibit",
    ));
}

#[test]
fn real_server_mistakes() {
    cases(&[
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 2001:db8::2 80 {\n }\n}\n".into(),
            3,
            "is inet6 (IPv6) but virtual_server 192.0.2.1:80 is inet (IPv4)",
        ),
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n }\n real_server 192.0.2.2 80 {\n }\n}\n".into(),
            5,
            "listed twice",
        ),
        (rs(" weight 3000000000"), 4, "out of range"),
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n lvs_method DR\n real_server 192.0.2.2 8080 {\n }\n}\n".into(),
            4,
            "cannot change the port",
        ),
        (
            "virtual_server fwmark 1 {\n lvs_method DR\n real_server 192.0.2.2 80 {\n }\n}\n".into(),
            3,
            "keeps the client's port",
        ),
        (rs(" uthreshold 10\n lthreshold 20"), 5, "above uthreshold"),
        (rs(" notify_up /bin/a\n notify_up /bin/b"), 5, "given twice"),
        (rs(" inhibit_on_failure perhaps"), 4, "yes/no"),
        (rs(" lvs_method TUN type gue"), 4, "needs a port"),
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2/24 80 {\n }\n}\n".into(),
            3,
            "not an IP address",
        ),
        (
            "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80\n}\n".into(),
            3,
            "needs a block",
        ),
        (rs(" BFD_CHECK {\n  name b1\n }"), 4, "not supported yet: BFD"),
        (rs(" TCP_CHEK {\n }"), 4, "unknown keyword 'TCP_CHEK'"),
    ]);
    // A tunnelled real server may be of the other family.
    clean(
        "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 2001:db8::2 80 {\n  lvs_method TUN\n }\n}\n",
    );
}

#[test]
fn checker_mistakes() {
    cases(&[
        (chk("HTTP_GET", ""), 4, "HTTP_GET has no url"),
        (chk("SSL_GET", ""), 4, "SSL_GET has no url"),
        (
            url("    digest 9b3a0c85a887a256d6939da88aabd8cd"),
            5,
            "url without path",
        ),
        (
            url("    path /\n    digest 9b3a0c85"),
            7,
            "32 hex characters",
        ),
        (
            url("    path /\n    digest 9b3a0c85a887a256d6939da88aabd8cg"),
            7,
            "not a hex digit",
        ),
        (
            url("    path /\n    status_code 200 600"),
            7,
            "not an HTTP status code",
        ),
        (
            url("    path /\n    status_code 300-200"),
            7,
            "ends (200) before it starts (300)",
        ),
        (
            url("    path /\n    regex_no_match"),
            7,
            "'regex_no_match' without 'regex'",
        ),
        (
            url("    path /\n    regex ok\n    regex_options caseles"),
            8,
            "unknown regex option",
        ),
        (
            url("    path /\n    regex ok\n    regex_min_offset 10\n    regex_max_offset 5"),
            8,
            "is above regex_max_offset",
        ),
        (
            url("    path /\n    regex ok\n    regex_stack 10 5"),
            8,
            "above its maximum",
        ),
        (url("    path /\n    regex a b"), 7, "takes one expression"),
        (url("    path /\n    path /x"), 7, "given twice"),
        (
            chk(
                "HTTP_GET",
                "   http_protocol 2.0\n   url {\n    path /\n   }",
            ),
            5,
            "not valid for 'http_protocol'",
        ),
        (
            chk("HTTP_GET", "   tls_compliant\n   url {\n    path /\n   }"),
            5,
            "unknown keyword 'tls_compliant' in HTTP_GET",
        ),
        (
            chk("MISC_CHECK", "   misc_dynamic"),
            4,
            "MISC_CHECK without misc_path",
        ),
        (
            chk("MISC_CHECK", "   misc_path /bin/true nobody"),
            5,
            "takes the command only",
        ),
        (
            chk("MISC_CHECK", "   misc_path /bin/true\n   connect_timeout 3"),
            6,
            "unknown keyword 'connect_timeout' in MISC_CHECK",
        ),
        (
            chk("UDP_CHECK", "   min_reply_length 10\n   max_reply_length 5"),
            5,
            "above max_reply_length",
        ),
        (chk("UDP_CHECK", "   payload 0a zz"), 5, "bad payload"),
        (chk("UDP_CHECK", "   payload 0aXX"), 5, "bad payload"),
        (
            chk("UDP_CHECK", "   require_reply 0g"),
            5,
            "bad reply pattern",
        ),
        (
            chk("FILE_CHECK", "   track_file tf\n   dynamic"),
            6,
            "'dynamic' is not a FILE_CHECK keyword",
        ),
        (
            chk("FILE_CHECK", "   weight 3"),
            4,
            "FILE_CHECK without track_file",
        ),
        (
            chk("FILE_CHECK", "   track_file tf\n   weight 3 sideways"),
            6,
            "not valid for 'weight'",
        ),
        (
            chk("FILE_CHECK", "   track_file tf\n   retry 3"),
            6,
            "unknown keyword 'retry' in FILE_CHECK",
        ),
        (chk("TCP_CHECK", "   connect_port 0"), 5, "not a port"),
        (
            chk("TCP_CHECK", "   bindto 2001:db8::1"),
            5,
            "different families",
        ),
        (
            chk("TCP_CHECK", "   connect_ip fe80::1"),
            5,
            "needs 'bind_if'",
        ),
        (
            chk("TCP_CHECK", "   bind_if averyveryverylongname"),
            5,
            "not an interface name",
        ),
        (
            chk("TCP_CHECK", "   conect_ip 192.0.2.3"),
            5,
            "unknown keyword 'conect_ip'",
        ),
        (chk("TCP_CHECK", "   connect_timeout 0"), 5, "out of range"),
        (chk("DNS_CHECK", "   name a..b"), 5, "empty label"),
        (chk("DNS_CHECK", "   type PTR"), 5, "unknown DNS query type"),
        (
            chk("DNS_CHECK", "   name a.b\n   name c.d"),
            6,
            "given twice",
        ),
        (
            chk("SMTP_CHECK", "   host {\n    retry 3\n   }"),
            6,
            "unknown keyword 'retry' in host",
        ),
        (
            chk("SMTP_CHECK", "   helo_name a\n   helo_name b"),
            6,
            "given twice",
        ),
        (chk("PING_CHECK", "   alpha sometimes"), 5, "yes/no"),
    ]);

    let d = one_error(&chk("TCP_CHECK", "   conect_ip 192.0.2.3"), 5, "unknown");
    assert_eq!(d.hint.as_deref(), Some("did you mean 'connect_ip'?"));
    let d = one_error(
        &chk("HTTP_GET", "   tls_compliant\n   url {\n    path /\n   }"),
        5,
        "unknown",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("'tls_compliant' belongs in SSL_GET or url")
    );
    let d = one_error(
        &url("    path /\n    regex ok\n    regex_options caseles"),
        8,
        "unknown",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean 'caseless'?"));
    // TLS-only settings on HTTP_GET are harmless: a warning.
    let l = clean(&url("    path /\n    tls_compliant on"));
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.contains("no effect in an HTTP_GET url"))
    );
    let l = clean(&chk(
        "HTTP_GET",
        "   enable_sni\n   url {\n    path /\n   }",
    ));
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.contains("no effect on HTTP_GET"))
    );
    // A link-local address is fine with its interface.
    clean(&chk(
        "TCP_CHECK",
        "   connect_ip fe80::1\n   bindto fe80::2\n   bind_if eth0",
    ));
}

#[test]
fn ssl_mistakes() {
    let with_ssl_get = chk("SSL_GET", "   url {\n    path /\n   }");
    cases(&[
        (
            format!("SSL {{\n certificate /etc/c.pem\n}}\n{with_ssl_get}"),
            2,
            "without 'key'",
        ),
        (
            format!("SSL {{\n key /etc/c.key\n}}\n{with_ssl_get}"),
            2,
            "without 'certificate'",
        ),
        (
            format!("SSL {{\n ca\n}}\n{with_ssl_get}"),
            2,
            "needs a value",
        ),
        (
            format!("SSL {{\n cafile /x\n}}\n{with_ssl_get}"),
            2,
            "unknown keyword 'cafile'",
        ),
        (
            format!("SSL {{\n ca /a\n ca /b\n}}\n{with_ssl_get}"),
            3,
            "given twice",
        ),
        (
            format!("SSL {{\n ca /a\n verify_certificate maybe\n}}\n{with_ssl_get}"),
            3,
            "not a yes/no value",
        ),
        (
            format!("SSL {{\n verify_certificate\n}}\n{with_ssl_get}"),
            2,
            "'verify_certificate' without 'ca'",
        ),
    ]);
    let l = clean(&format!(
        "SSL {{\n ca /etc/ca.pem\n verify_certificate off\n}}\n{with_ssl_get}"
    ));
    assert!(!l.config.ssl.as_ref().expect("ssl").verify_certificate);
    let l = clean(&format!("SSL {{\n ca /etc/ca.pem\n}}\n{}", vs("")));
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.contains("SSL block is not used"))
    );
}

#[test]
fn a_virtual_server_without_real_servers_is_a_warning() {
    let l = clean("virtual_server 192.0.2.1 80 {\n protocol TCP\n}\n");
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.contains("has no real_server"))
    );
    let l = clean("virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n }\n}\n");
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.contains("no protocol, UDP is used"))
    );
}

#[test]
fn ranges_are_read_as_first_and_last() {
    let r = |s: &str| parse_range(s).map(|(a, b)| (a.to_string(), b.map(|b| b.to_string())));
    assert_eq!(r("192.0.2.1"), Ok(("192.0.2.1".into(), None)));
    assert_eq!(
        r("192.0.2.1-9"),
        Ok(("192.0.2.1".into(), Some("192.0.2.9".into())))
    );
    assert_eq!(
        r("192.0.2.8/29"),
        Ok(("192.0.2.8".into(), Some("192.0.2.15".into())))
    );
    assert_eq!(r("192.0.2.8/32"), Ok(("192.0.2.8".into(), None)));
    assert_eq!(
        r("2001:db8::/126"),
        Ok(("2001:db8::".into(), Some("2001:db8::3".into())))
    );
    assert_eq!(
        r("ae00::2-9"),
        Ok(("ae00::2".into(), Some("ae00::9".into())))
    );
    assert_eq!(
        r("ae00::2-1f"),
        Ok(("ae00::2".into(), Some("ae00::1f".into())))
    );
    assert!(r("ae00::2-+9").is_err());
    assert!(r("192.0.2.1-").is_err());
    assert!(r("-").is_err());
    assert!(r("/").is_err());
}

#[test]
fn hex_strings_follow_keepalived() {
    let (d, m) = checker::parse_hex("Ab12f 3 456 546443123", false).expect("hex");
    assert_eq!(
        d,
        [
            0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
        ]
    );
    assert!(m.iter().all(|m| *m == 0));
    let (d, m) = checker::parse_hex("0aXx 1x", true).expect("hex");
    assert_eq!(d, [0x0a, 0x00, 0x10]);
    assert_eq!(m, [0x00, 0xff, 0x0f]);
    assert!(checker::parse_hex("0x", false).is_err());
}

#[test]
fn no_input_panics() {
    // Truncated and odd lines in every LVS block.
    let odd = [
        "virtual_server",
        "virtual_server {\n}",
        "virtual_server fwmark 99999999999 {\n}",
        "virtual_server_group {\n}",
        "virtual_server_group G {\n fwmark\n -\n /\n ::-\n 1.2.3.4-\n {\n }\n}",
        "virtual_server 192.0.2.1 80 {\n lvs_method\n lvs_method TUN port\n sorry_server\n real_server {\n }\n}",
        "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n HTTP_GET\n SSL_GET {\n url\n url {\n status_code\n regex\n regex \"\n regex_stack 1\n }\n }\n UDP_CHECK {\n payload\n require_reply\n }\n MISC_CHECK {\n misc_path\n user\n user a:b c\n }\n FILE_CHECK {\n weight\n }\n }\n}",
        "SSL {\n password\n}",
    ];
    for t in odd {
        let _ = load(t);
    }
}

#[test]
fn a_bad_header_does_not_hide_the_mistakes_of_its_block() {
    let l = load("virtual_server 192.0.2.1/24 80 {\n protocol TCP\n delay_loop x\n}\n");
    assert_eq!(errors(&l).len(), 2, "{:#?}", l.diagnostics);
    assert!(l.config.virtual_servers.is_empty());
    let l = load(&vs(" real_server 192.0.2.300 80 {\n  weight -1\n }"));
    let e = errors(&l);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(l.config.virtual_servers[0].real_servers.len(), 1);
}

#[test]
fn url_regex_is_compiled_at_load() {
    let vs = |url: &str| {
        format!(
            "virtual_server 192.0.2.30 80 {{\n protocol TCP\n real_server 192.0.2.31 80 {{\n HTTP_GET {{\n url {{\n path /\n{url}\n }}\n }}\n }}\n}}\n"
        )
    };
    clean(&vs(
        "regex \"^OK [0-9]+\"\nregex_options caseless multiline",
    ));
    // Look-behind and back-references do not exist in the engine: refused at load.
    let d = one_error(&vs("regex \"(?<=a)b\""), 7, "cannot be used");
    assert!(d.hint.unwrap_or_default().contains("look-around"));
    one_error(&vs("regex \"(a)\\\\1\""), 7, "cannot be used");
    one_error(
        &vs("regex \"x\"\nregex_options auto_callout"),
        7,
        "auto_callout",
    );
}

#[test]
fn file_check_needs_a_defined_track_file() {
    let text = |tf: &str| {
        format!(
            "{tf}virtual_server 192.0.2.30 80 {{\n protocol TCP\n real_server 192.0.2.31 80 {{\n FILE_CHECK {{\n track_file tf_a\n }}\n }}\n}}\n"
        )
    };
    clean(&text("track_file tf_a {\n file /run/tf_a\n}\n"));
    one_error(&text(""), 5, "not defined");
}

#[test]
fn recorded_lines_are_keywords() {
    for kw in super::RECORDED {
        assert!(super::recorded(kw), "'{kw}' is not in the keyword table");
    }
}
