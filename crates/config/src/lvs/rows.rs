//! The keyword table rows of the LVS blocks, with an example that is valid in each block's
//! test wrapper (see keywords.rs).

use crate::keywords::{Block, Keyword, dep, ext, ign, kw, refused};

/// A url block that makes an HTTP_GET/SSL_GET example complete.
macro_rules! url {
    ($e:literal) => {
        concat!($e, "\nurl {\n path /\n}")
    };
}

/// The connection options, in `$b`, each example followed by `$sfx`.
macro_rules! connection_rows {
    ($b:expr, $sfx:literal) => {
        [
            kw($b, "connect_ip", concat!("connect_ip 192.0.2.32", $sfx)),
            kw($b, "connect_port", concat!("connect_port 8080", $sfx)),
            kw($b, "bindto", concat!("bindto 192.0.2.33", $sfx)),
            kw($b, "bind_port", concat!("bind_port 40000", $sfx)),
            kw($b, "bind_if", concat!("bind_if eth0", $sfx)),
            kw($b, "connect_timeout", concat!("connect_timeout 3", $sfx)),
            kw($b, "fwmark", concat!("fwmark 10", $sfx)),
        ]
    };
}

/// The common check options, in `$b`, each example followed by `$sfx`.
macro_rules! option_rows {
    ($b:expr, $sfx:literal) => {
        [
            kw($b, "retry", concat!("retry 3", $sfx)),
            kw(
                $b,
                "delay_before_retry",
                concat!("delay_before_retry 2", $sfx),
            ),
            kw($b, "warmup", concat!("warmup 1.5", $sfx)),
            kw($b, "delay_loop", concat!("delay_loop 5", $sfx)),
            kw($b, "alpha", concat!("alpha", $sfx)),
            kw($b, "log_all_failures", concat!("log_all_failures on", $sfx)),
        ]
    };
}

const SNMP: &str = "SNMP is not implemented; the name only labels SNMP data";

const SSL: &[Keyword] = &[
    kw(
        Block::Ssl,
        "password",
        "password secret\ncertificate /etc/keepalived/client.pem\nkey /etc/keepalived/client.key",
    ),
    kw(Block::Ssl, "ca", "ca /etc/ssl/certs/ca.pem"),
    kw(
        Block::Ssl,
        "certificate",
        "certificate /etc/keepalived/client.pem\nkey /etc/keepalived/client.key",
    ),
    kw(
        Block::Ssl,
        "key",
        "key /etc/keepalived/client.key\ncertificate /etc/keepalived/client.pem",
    ),
    ext(
        Block::Ssl,
        "verify_certificate",
        "SSL_GET verifies the server's certificate (against `ca`) and its name; keepalived never does",
        "verify_certificate\nca /etc/ssl/certs/ca.pem",
    ),
];

const VSG: &[Keyword] = &[kw(Block::VirtualServerGroup, "fwmark", "fwmark 7")];

const VS: &[Keyword] = &[
    kw(Block::VirtualServer, "ip_family", "ip_family inet"),
    kw(Block::VirtualServer, "retry", "retry 3"),
    kw(
        Block::VirtualServer,
        "delay_before_retry",
        "delay_before_retry 2",
    ),
    kw(Block::VirtualServer, "warmup", "warmup 5"),
    kw(Block::VirtualServer, "connect_timeout", "connect_timeout 3"),
    kw(Block::VirtualServer, "delay_loop", "delay_loop 10"),
    kw(
        Block::VirtualServer,
        "inhibit_on_failure",
        "inhibit_on_failure",
    ),
    kw(Block::VirtualServer, "lvs_sched", "lvs_sched rr"),
    dep(Block::VirtualServer, "lb_algo", "lvs_sched", "lb_algo rr"),
    ign(
        Block::VirtualServer,
        "hashed",
        "keepalived sets no flag for it: IPVS hashes every service itself",
        "hashed",
    ),
    kw(Block::VirtualServer, "ops", "protocol UDP\nops"),
    kw(Block::VirtualServer, "flag-1", "flag-1"),
    kw(Block::VirtualServer, "flag-2", "flag-2"),
    kw(Block::VirtualServer, "flag-3", "flag-3"),
    kw(Block::VirtualServer, "sh-port", "lvs_sched sh\nsh-port"),
    kw(
        Block::VirtualServer,
        "sh-fallback",
        "lvs_sched sh\nsh-fallback",
    ),
    kw(Block::VirtualServer, "mh-port", "lvs_sched mh\nmh-port"),
    kw(
        Block::VirtualServer,
        "mh-fallback",
        "lvs_sched mh\nmh-fallback",
    ),
    kw(Block::VirtualServer, "lvs_method", "lvs_method DR"),
    dep(Block::VirtualServer, "lb_kind", "lvs_method", "lb_kind NAT"),
    kw(
        Block::VirtualServer,
        "persistence_engine",
        "protocol UDP\npersistence_engine sip",
    ),
    kw(
        Block::VirtualServer,
        "persistence_timeout",
        "persistence_timeout 300",
    ),
    kw(
        Block::VirtualServer,
        "persistence_granularity",
        "persistence_granularity 255.255.255.0",
    ),
    kw(Block::VirtualServer, "protocol", "protocol TCP"),
    kw(Block::VirtualServer, "ha_suspend", "ha_suspend"),
    kw(Block::VirtualServer, "smtp_alert", "smtp_alert on"),
    kw(
        Block::VirtualServer,
        "virtualhost",
        "virtualhost www.example.com",
    ),
    ign(Block::VirtualServer, "snmp_name", SNMP, "snmp_name web"),
    kw(Block::VirtualServer, "alpha", "alpha"),
    kw(Block::VirtualServer, "omega", "omega"),
    kw(
        Block::VirtualServer,
        "quorum_up",
        "quorum_up \"/usr/local/bin/quorum.sh up\"",
    ),
    kw(
        Block::VirtualServer,
        "quorum_down",
        "quorum_down \"/usr/local/bin/quorum.sh down\"",
    ),
    kw(Block::VirtualServer, "quorum", "quorum 1"),
    kw(Block::VirtualServer, "hysteresis", "hysteresis 0"),
    kw(Block::VirtualServer, "weight", "weight 2"),
    kw(
        Block::VirtualServer,
        "sorry_server",
        "sorry_server 192.0.2.40 80",
    ),
    kw(
        Block::VirtualServer,
        "sorry_server_inhibit",
        "sorry_server 192.0.2.40 80\nsorry_server_inhibit",
    ),
    kw(
        Block::VirtualServer,
        "sorry_server_lvs_method",
        "sorry_server 192.0.2.40 80\nsorry_server_lvs_method DR",
    ),
    kw(
        Block::VirtualServer,
        "real_server",
        "real_server 192.0.2.32 80 {\n TCP_CHECK {\n }\n}",
    ),
];

const RS: &[Keyword] = &[
    kw(Block::RealServer, "weight", "weight 2"),
    kw(
        Block::RealServer,
        "lvs_method",
        "lvs_method TUN type gue port 6080 csum",
    ),
    kw(
        Block::RealServer,
        "notify_up",
        "notify_up \"/usr/local/bin/rs.sh up\"",
    ),
    kw(
        Block::RealServer,
        "notify_down",
        "notify_down \"/usr/local/bin/rs.sh down\"",
    ),
    kw(Block::RealServer, "uthreshold", "uthreshold 1000"),
    kw(Block::RealServer, "lthreshold", "lthreshold 100"),
    kw(
        Block::RealServer,
        "inhibit_on_failure",
        "inhibit_on_failure on",
    ),
    kw(Block::RealServer, "alpha", "alpha on"),
    kw(Block::RealServer, "retry", "retry 2"),
    kw(
        Block::RealServer,
        "delay_before_retry",
        "delay_before_retry 1",
    ),
    kw(Block::RealServer, "warmup", "warmup 2"),
    kw(Block::RealServer, "connect_timeout", "connect_timeout 3"),
    kw(Block::RealServer, "delay_loop", "delay_loop 5"),
    kw(Block::RealServer, "smtp_alert", "smtp_alert off"),
    kw(
        Block::RealServer,
        "virtualhost",
        "virtualhost www.example.com",
    ),
    ign(Block::RealServer, "snmp_name", SNMP, "snmp_name web1"),
    kw(
        Block::RealServer,
        "TCP_CHECK",
        "TCP_CHECK {\n connect_timeout 3\n}",
    ),
    kw(
        Block::RealServer,
        "HTTP_GET",
        "HTTP_GET {\n url {\n  path /health\n  status_code 200\n }\n}",
    ),
    kw(
        Block::RealServer,
        "SSL_GET",
        "SSL_GET {\n url {\n  path /\n  digest 9b3a0c85a887a256d6939da88aabd8cd\n }\n}",
    ),
    kw(
        Block::RealServer,
        "SMTP_CHECK",
        "SMTP_CHECK {\n helo_name lb.example.com\n}",
    ),
    kw(
        Block::RealServer,
        "DNS_CHECK",
        "DNS_CHECK {\n type A\n name example.com\n}",
    ),
    kw(
        Block::RealServer,
        "MISC_CHECK",
        "MISC_CHECK {\n misc_path /usr/local/bin/check.sh\n}",
    ),
    kw(
        Block::RealServer,
        "UDP_CHECK",
        "UDP_CHECK {\n payload 0a0b\n}",
    ),
    kw(Block::RealServer, "PING_CHECK", "PING_CHECK {\n}"),
    kw(
        Block::RealServer,
        "FILE_CHECK",
        "FILE_CHECK {\n track_file tf_t\n}",
    ),
    refused(
        Block::RealServer,
        "BFD_CHECK",
        "BFD",
        "BFD_CHECK {\n name b1\n}",
    ),
];

const TCP_CONN: &[Keyword] = &connection_rows!(Block::TcpCheck, "");
const TCP_OPTS: &[Keyword] = &option_rows!(Block::TcpCheck, "");

const HTTP_CONN: &[Keyword] = &connection_rows!(Block::HttpGet, "\nurl {\n path /\n}");
const HTTP_OPTS: &[Keyword] = &option_rows!(Block::HttpGet, "\nurl {\n path /\n}");
const HTTP: &[Keyword] = &[
    dep(
        Block::HttpGet,
        "nb_get_retry",
        "retry",
        url!("nb_get_retry 3"),
    ),
    kw(
        Block::HttpGet,
        "virtualhost",
        url!("virtualhost www.example.com"),
    ),
    kw(Block::HttpGet, "http_protocol", url!("http_protocol 1.1")),
    kw(Block::HttpGet, "enable_sni", url!("enable_sni")),
    kw(Block::HttpGet, "sni_name", url!("sni_name www.example.com")),
    kw(Block::HttpGet, "fast_recovery", url!("fast_recovery")),
    kw(
        Block::HttpGet,
        "url",
        "url {\n path /health\n status_code 200-299\n}",
    ),
];

const SSL_CONN: &[Keyword] = &connection_rows!(Block::SslGet, "\nurl {\n path /\n}");
const SSL_OPTS: &[Keyword] = &option_rows!(Block::SslGet, "\nurl {\n path /\n}");
const SSL_GET: &[Keyword] = &[
    dep(
        Block::SslGet,
        "nb_get_retry",
        "retry",
        url!("nb_get_retry 3"),
    ),
    kw(
        Block::SslGet,
        "virtualhost",
        url!("virtualhost www.example.com"),
    ),
    kw(Block::SslGet, "http_protocol", url!("http_protocol 1.0C")),
    kw(Block::SslGet, "enable_sni", url!("enable_sni")),
    kw(Block::SslGet, "sni_name", url!("sni_name www.example.com")),
    kw(Block::SslGet, "fast_recovery", url!("fast_recovery on")),
    kw(Block::SslGet, "tls_compliant", url!("tls_compliant")),
    kw(
        Block::SslGet,
        "url",
        "url {\n path /\n digest 9b3a0c85a887a256d6939da88aabd8cd\n}",
    ),
];

const URL: &[Keyword] = &[
    kw(Block::Url, "path", "path /index.html"),
    kw(
        Block::Url,
        "digest",
        "path /\ndigest 9b3a0c85a887a256d6939da88aabd8cd",
    ),
    kw(
        Block::Url,
        "status_code",
        "path /\nstatus_code 200-299 301 302",
    ),
    kw(
        Block::Url,
        "virtualhost",
        "path /\nvirtualhost www.example.com",
    ),
    kw(Block::Url, "regex", "path /\nregex \"^OK\""),
    kw(
        Block::Url,
        "regex_no_match",
        "path /\nregex ERROR\nregex_no_match",
    ),
    kw(
        Block::Url,
        "regex_options",
        "path /\nregex ok\nregex_options caseless multiline",
    ),
    kw(
        Block::Url,
        "regex_min_offset",
        "path /\nregex ok\nregex_min_offset 10",
    ),
    kw(
        Block::Url,
        "regex_max_offset",
        "path /\nregex ok\nregex_max_offset 100",
    ),
    kw(
        Block::Url,
        "regex_stack",
        "path /\nregex ok\nregex_stack 32768 1048576",
    ),
    kw(Block::Url, "tls_compliant", "path /\ntls_compliant"),
];

const SMTP_CONN: &[Keyword] = &connection_rows!(Block::SmtpCheck, "");
const SMTP_OPTS: &[Keyword] = &option_rows!(Block::SmtpCheck, "");
const SMTP: &[Keyword] = &[
    kw(Block::SmtpCheck, "helo_name", "helo_name lb.example.com"),
    dep(
        Block::SmtpCheck,
        "host",
        "one SMTP_CHECK block per host",
        "host {\n connect_ip 192.0.2.35\n}",
    ),
];
const SMTP_HOST: &[Keyword] = &connection_rows!(Block::SmtpHost, "");

const DNS_CONN: &[Keyword] = &connection_rows!(Block::DnsCheck, "");
const DNS_OPTS: &[Keyword] = &option_rows!(Block::DnsCheck, "");
const DNS: &[Keyword] = &[
    kw(Block::DnsCheck, "type", "type AAAA"),
    kw(Block::DnsCheck, "name", "name example.com"),
];

const MISC_OPTS: &[Keyword] = &option_rows!(Block::MiscCheck, "\nmisc_path /bin/true");
const MISC: &[Keyword] = &[
    kw(
        Block::MiscCheck,
        "misc_path",
        "misc_path \"/usr/local/bin/check.sh --port 80\"",
    ),
    kw(
        Block::MiscCheck,
        "misc_timeout",
        "misc_path /bin/true\nmisc_timeout 10",
    ),
    kw(
        Block::MiscCheck,
        "misc_dynamic",
        "misc_path /bin/true\nmisc_dynamic",
    ),
    kw(Block::MiscCheck, "user", "misc_path /bin/true\nuser nobody"),
];

const UDP_CONN: &[Keyword] = &connection_rows!(Block::UdpCheck, "");
const UDP_OPTS: &[Keyword] = &option_rows!(Block::UdpCheck, "");
const UDP: &[Keyword] = &[
    kw(Block::UdpCheck, "payload", "payload 0a0b 0c"),
    kw(Block::UdpCheck, "require_reply", "require_reply 0a XX"),
    kw(Block::UdpCheck, "min_reply_length", "min_reply_length 1"),
    kw(Block::UdpCheck, "max_reply_length", "max_reply_length 512"),
];

const PING_CONN: &[Keyword] = &connection_rows!(Block::PingCheck, "");
const PING_OPTS: &[Keyword] = &option_rows!(Block::PingCheck, "");

const FILE: &[Keyword] = &[
    kw(Block::FileCheck, "track_file", "track_file tf_t"),
    kw(
        Block::FileCheck,
        "weight",
        "track_file tf_t\nweight 10 reverse",
    ),
];

const BFD: &[Keyword] = &[
    refused(Block::BfdCheck, "name", "BFD", "name b1"),
    refused(Block::BfdCheck, "alpha", "BFD", "alpha"),
];

const PARTS: &[&[Keyword]] = &[
    SSL, VSG, VS, RS, TCP_CONN, TCP_OPTS, HTTP_CONN, HTTP_OPTS, HTTP, SSL_CONN, SSL_OPTS, SSL_GET,
    URL, SMTP_CONN, SMTP_OPTS, SMTP, SMTP_HOST, DNS_CONN, DNS_OPTS, DNS, MISC_OPTS, MISC, UDP_CONN,
    UDP_OPTS, UDP, PING_CONN, PING_OPTS, FILE, BFD,
];

const fn total(parts: &[&[Keyword]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

const fn concat<const N: usize>(parts: &[&[Keyword]]) -> [Keyword; N] {
    let mut out = [kw(Block::Root, "", ""); N];
    let mut k = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

const COUNT: usize = total(PARTS);
const ALL: [Keyword; COUNT] = concat::<COUNT>(PARTS);

/// Every row of the LVS blocks.
pub(super) const ROWS: &[Keyword] = &ALL;
