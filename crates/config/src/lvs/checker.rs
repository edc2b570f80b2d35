//! The health checkers of a real server: TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK,
//! MISC_CHECK, UDP_CHECK, PING_CHECK and FILE_CHECK (BFD_CHECK is refused).
//!
//! Unset options fall back to the real server's, then the virtual server's, then the
//! checker's own default (`retry` 1, or 3 for DNS_CHECK and 0 for MISC_CHECK;
//! `delay_before_retry` 1 s, or 3 s for HTTP_GET/SSL_GET and `delay_loop` for DNS_CHECK).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    CONNECT_TIMEOUT_MAX, Lines, RealServer, TIMER_MAX, VirtualServer, addr_tok, once, port_tok,
    timer,
};
use crate::Config;
use crate::cx::Cx;
use crate::diag::nearest;
use crate::keywords::Block;
use crate::lexer::shell_words;
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

/// Longest interface name (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// The connection options of a checker (all but MISC_CHECK and FILE_CHECK), and one
/// `host { }` entry of SMTP_CHECK.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connection {
    /// `connect_ip IP`: the address to check (default: the real server's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<IpAddr>,
    /// `connect_port PORT` (default: the real server's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    /// `bindto IP`: the source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindto: Option<IpAddr>,
    /// `bind_port PORT`: the source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    /// `bind_if IFNAME`: the interface (needed for a link-local address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_if: Option<String>,
    /// `connect_timeout T` (default: the real server's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Timer>,
    /// `fwmark N`: the mark of the checker's packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

/// One checker of a real server, tagged with its keepalived block name (`TCP_CHECK`, ...).
/// The large ones are boxed so that the common TCP_CHECK costs no more than itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Checker {
    /// `TCP_CHECK { }`.
    #[serde(rename = "TCP_CHECK")]
    TcpCheck(TcpCheck),
    /// `HTTP_GET { }`.
    #[serde(rename = "HTTP_GET")]
    HttpGet(Box<HttpCheck>),
    /// `SSL_GET { }`.
    #[serde(rename = "SSL_GET")]
    SslGet(Box<HttpCheck>),
    /// `SMTP_CHECK { }`.
    #[serde(rename = "SMTP_CHECK")]
    SmtpCheck(Box<SmtpCheck>),
    /// `DNS_CHECK { }`.
    #[serde(rename = "DNS_CHECK")]
    DnsCheck(Box<DnsCheck>),
    /// `MISC_CHECK { }`.
    #[serde(rename = "MISC_CHECK")]
    MiscCheck(Box<MiscCheck>),
    /// `UDP_CHECK { }`.
    #[serde(rename = "UDP_CHECK")]
    UdpCheck(Box<UdpCheck>),
    /// `PING_CHECK { }`.
    #[serde(rename = "PING_CHECK")]
    PingCheck(PingCheck),
    /// `FILE_CHECK { }`.
    #[serde(rename = "FILE_CHECK")]
    FileCheck(Box<FileCheck>),
}

impl Checker {
    /// The connection settings of a network checker (`None` for MISC_CHECK and FILE_CHECK,
    /// which open no connection).
    pub fn connection(&self) -> Option<Connection> {
        match self {
            Checker::TcpCheck(c) => Some(c.connection()),
            Checker::HttpGet(c) | Checker::SslGet(c) => Some(c.connection()),
            Checker::SmtpCheck(c) => Some(c.connection()),
            Checker::DnsCheck(c) => Some(c.connection()),
            Checker::UdpCheck(c) => Some(c.connection()),
            Checker::PingCheck(c) => Some(c.connection()),
            Checker::MiscCheck(_) | Checker::FileCheck(_) => None,
        }
    }

    /// The block's keyword.
    pub fn kind(&self) -> &'static str {
        match self {
            Checker::TcpCheck(_) => "TCP_CHECK",
            Checker::HttpGet(_) => "HTTP_GET",
            Checker::SslGet(_) => "SSL_GET",
            Checker::SmtpCheck(_) => "SMTP_CHECK",
            Checker::DnsCheck(_) => "DNS_CHECK",
            Checker::MiscCheck(_) => "MISC_CHECK",
            Checker::UdpCheck(_) => "UDP_CHECK",
            Checker::PingCheck(_) => "PING_CHECK",
            Checker::FileCheck(_) => "FILE_CHECK",
        }
    }
}

/// The options every checker but FILE_CHECK has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// `retry N` (alias `nb_get_retry` in HTTP_GET/SSL_GET).
    pub retry: Option<u32>,
    /// `delay_before_retry T`.
    pub delay_before_retry: Option<Timer>,
    /// `warmup T`.
    pub warmup: Option<Timer>,
    /// `delay_loop T`.
    pub delay_loop: Option<Timer>,
    /// `alpha [<BOOL>]`.
    pub alpha: Option<bool>,
    /// `log_all_failures [<BOOL>]`.
    pub log_all_failures: bool,
}

/// The options of a checker that configurations rarely set, kept out of line so that the
/// common checker (tens of thousands in a large configuration) stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckExtra {
    /// `connect_ip IP`.
    pub connect_ip: Option<IpAddr>,
    /// `bindto IP`.
    pub bindto: Option<IpAddr>,
    /// `bind_port PORT`.
    pub bind_port: Option<u16>,
    /// `bind_if IFNAME`.
    pub bind_if: Option<String>,
    /// `fwmark N`.
    pub fwmark: Option<u32>,
    /// `delay_before_retry T`.
    pub delay_before_retry: Option<Timer>,
    /// `warmup T`.
    pub warmup: Option<Timer>,
    /// `delay_loop T`.
    pub delay_loop: Option<Timer>,
    /// `alpha [<BOOL>]`.
    pub alpha: Option<bool>,
}

impl CheckExtra {
    /// `None` when nothing is set, so that an empty extra costs no allocation.
    fn boxed(self) -> Option<Box<CheckExtra>> {
        (self != CheckExtra::default()).then(|| Box::new(self))
    }
}

/// Defines a checker with the connection and common options, plus its own fields. `$repr`
/// is the flat serde form (every option a field, as keepalived's keywords).
macro_rules! checker {
    (
        $(#[$meta:meta])*
        $name:ident / $repr:ident = $reprs:literal {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(from = $reprs, into = $reprs)]
        pub struct $name {
            /// `connect_port PORT` (default: the real server's).
            pub connect_port: Option<u16>,
            /// `connect_timeout T` (default: the real server's).
            pub connect_timeout: Option<Timer>,
            /// `retry N`.
            pub retry: Option<u32>,
            /// `log_all_failures [<BOOL>]`.
            pub log_all_failures: bool,
            /// The options rarely set (see the accessors).
            pub extra: Option<Box<CheckExtra>>,
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
            /// Where the lines are.
            pub lines: Lines,
        }

        /// The flat serde form of the checker.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct $repr {
            #[serde(skip_serializing_if = "Option::is_none")]
            connect_ip: Option<IpAddr>,
            #[serde(skip_serializing_if = "Option::is_none")]
            connect_port: Option<u16>,
            #[serde(skip_serializing_if = "Option::is_none")]
            bindto: Option<IpAddr>,
            #[serde(skip_serializing_if = "Option::is_none")]
            bind_port: Option<u16>,
            #[serde(skip_serializing_if = "Option::is_none")]
            bind_if: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            connect_timeout: Option<Timer>,
            #[serde(skip_serializing_if = "Option::is_none")]
            fwmark: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            retry: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            delay_before_retry: Option<Timer>,
            #[serde(skip_serializing_if = "Option::is_none")]
            warmup: Option<Timer>,
            #[serde(skip_serializing_if = "Option::is_none")]
            delay_loop: Option<Timer>,
            #[serde(skip_serializing_if = "Option::is_none")]
            alpha: Option<bool>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            log_all_failures: bool,
            $(
                $(#[$fmeta])*
                $field: $ty,
            )*
        }

        impl Default for $repr {
            fn default() -> Self {
                $name::default().into()
            }
        }

        impl From<$repr> for $name {
            fn from(r: $repr) -> $name {
                let extra = CheckExtra {
                    connect_ip: r.connect_ip,
                    bindto: r.bindto,
                    bind_port: r.bind_port,
                    bind_if: r.bind_if,
                    fwmark: r.fwmark,
                    delay_before_retry: r.delay_before_retry,
                    warmup: r.warmup,
                    delay_loop: r.delay_loop,
                    alpha: r.alpha,
                };
                $name {
                    connect_port: r.connect_port,
                    connect_timeout: r.connect_timeout,
                    retry: r.retry,
                    log_all_failures: r.log_all_failures,
                    extra: extra.boxed(),
                    $($field: r.$field,)*
                    lines: Lines::default(),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(c: $name) -> $repr {
                let x = c.extra.map(|b| *b).unwrap_or_default();
                $repr {
                    connect_ip: x.connect_ip,
                    connect_port: c.connect_port,
                    bindto: x.bindto,
                    bind_port: x.bind_port,
                    bind_if: x.bind_if,
                    connect_timeout: c.connect_timeout,
                    fwmark: x.fwmark,
                    retry: c.retry,
                    delay_before_retry: x.delay_before_retry,
                    warmup: x.warmup,
                    delay_loop: x.delay_loop,
                    alpha: x.alpha,
                    log_all_failures: c.log_all_failures,
                    $($field: c.$field,)*
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    connect_port: None,
                    connect_timeout: None,
                    retry: None,
                    log_all_failures: false,
                    extra: None,
                    $($field: $default,)*
                    lines: Lines::default(),
                }
            }
        }

        impl $name {
            fn x(&self) -> Option<&CheckExtra> {
                self.extra.as_deref()
            }

            /// `connect_ip IP`: the address to check (default: the real server's).
            pub fn connect_ip(&self) -> Option<IpAddr> {
                self.x().and_then(|x| x.connect_ip)
            }

            /// `bindto IP`: the source address.
            pub fn bindto(&self) -> Option<IpAddr> {
                self.x().and_then(|x| x.bindto)
            }

            /// `bind_port PORT`: the source port.
            pub fn bind_port(&self) -> Option<u16> {
                self.x().and_then(|x| x.bind_port)
            }

            /// `bind_if IFNAME`: the interface (needed for a link-local address).
            pub fn bind_if(&self) -> Option<&str> {
                self.x().and_then(|x| x.bind_if.as_deref())
            }

            /// `fwmark N`: the mark of the checker's packets.
            pub fn fwmark(&self) -> Option<u32> {
                self.x().and_then(|x| x.fwmark)
            }

            /// `delay_before_retry T`.
            pub fn delay_before_retry(&self) -> Option<Timer> {
                self.x().and_then(|x| x.delay_before_retry)
            }

            /// `warmup T`.
            pub fn warmup(&self) -> Option<Timer> {
                self.x().and_then(|x| x.warmup)
            }

            /// `delay_loop T`.
            pub fn delay_loop(&self) -> Option<Timer> {
                self.x().and_then(|x| x.delay_loop)
            }

            /// `alpha [<BOOL>]`.
            pub fn alpha(&self) -> Option<bool> {
                self.x().and_then(|x| x.alpha)
            }

            /// The connection options.
            pub fn connection(&self) -> Connection {
                Connection {
                    connect_ip: self.connect_ip(),
                    connect_port: self.connect_port,
                    bindto: self.bindto(),
                    bind_port: self.bind_port(),
                    bind_if: self.bind_if().map(str::to_owned),
                    connect_timeout: self.connect_timeout,
                    fwmark: self.fwmark(),
                    lines: self.lines.clone(),
                }
            }

            /// The common check options.
            pub fn options(&self) -> CheckOptions {
                CheckOptions {
                    retry: self.retry,
                    delay_before_retry: self.delay_before_retry(),
                    warmup: self.warmup(),
                    delay_loop: self.delay_loop(),
                    alpha: self.alpha(),
                    log_all_failures: self.log_all_failures,
                }
            }

            /// Reads a connection or common option; false when `n` is neither.
            fn read_common(&mut self, cx: &mut Cx, n: &Node) -> bool {
                let mut c = self.connection();
                let mut o = self.options();
                if !read_connection(cx, n, &mut c) && !read_options(cx, n, &mut o) {
                    return false;
                }
                self.connect_port = c.connect_port;
                self.connect_timeout = c.connect_timeout;
                self.retry = o.retry;
                self.log_all_failures = o.log_all_failures;
                self.extra = CheckExtra {
                    connect_ip: c.connect_ip,
                    bindto: c.bindto,
                    bind_port: c.bind_port,
                    bind_if: c.bind_if,
                    fwmark: c.fwmark,
                    delay_before_retry: o.delay_before_retry,
                    warmup: o.warmup,
                    delay_loop: o.delay_loop,
                    alpha: o.alpha,
                }
                .boxed();
                self.lines.mark(n);
                true
            }
        }
    };
}

checker! {
    /// `TCP_CHECK { }`: a TCP connect.
    TcpCheck / TcpCheckRepr = "TcpCheckRepr" {}
}

checker! {
    /// `PING_CHECK { }`: an ICMP echo.
    PingCheck / PingCheckRepr = "PingCheckRepr" {}
}

checker! {
    /// `HTTP_GET { }` and `SSL_GET { }`: GET each url and compare status, digest and regex.
    HttpCheck / HttpCheckRepr = "HttpCheckRepr" {
        /// `virtualhost NAME`: the Host header (default: the real server's).
        #[serde(skip_serializing_if = "Option::is_none")]
        virtualhost: Option<String> = None,
        /// `http_protocol 1.0|1.0C|1.1` (default 1.0).
        #[serde(skip_serializing_if = "Option::is_none")]
        http_protocol: Option<HttpProtocol> = None,
        /// `enable_sni [<BOOL>]`: send SNI (SSL_GET).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        enable_sni: bool = false,
        /// `sni_name NAME`: the SNI to send (implies enable_sni).
        #[serde(skip_serializing_if = "Option::is_none")]
        sni_name: Option<String> = None,
        /// `fast_recovery [<BOOL>]`: check every url without waiting delay_loop between them.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        fast_recovery: bool = false,
        /// `tls_compliant [<BOOL>]`: send close_notify (SSL_GET only).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        tls_compliant: bool = false,
        /// `url { }` blocks (at least one).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        url: Vec<Url> = Vec::new(),
    }
}

checker! {
    /// `SMTP_CHECK { }`: an SMTP dialogue (banner, HELO, QUIT).
    SmtpCheck / SmtpCheckRepr = "SmtpCheckRepr" {
        /// `helo_name NAME` (default: keepalived's "smtpchecker.keepalived.org").
        #[serde(skip_serializing_if = "Option::is_none")]
        helo_name: Option<String> = None,
        /// Deprecated `host { }` blocks: one more check per entry; when the checker sets no
        /// connection option itself, the first host replaces its own connection.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        host: Vec<Connection> = Vec::new(),
    }
}

checker! {
    /// `DNS_CHECK { }`: a DNS query over UDP.
    DnsCheck / DnsCheckRepr = "DnsCheckRepr" {
        /// `type A|NS|CNAME|SOA|MX|TXT|AAAA|RRSIG|DNSKEY` (default SOA).
        #[serde(rename = "type")]
        query_type: DnsType = DnsType::Soa,
        /// `name DOMAIN` (default the root, ".").
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String> = None,
    }
}

checker! {
    /// `UDP_CHECK { }`: send a datagram, fail on an ICMP error or a wrong reply.
    UdpCheck / UdpCheckRepr = "UdpCheckRepr" {
        /// `payload HEX` (default: random bytes).
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<HexBytes> = None,
        /// `require_reply [HEX]`: a reply is needed; with HEX (X = any nibble) it must match.
        #[serde(skip_serializing_if = "Option::is_none")]
        require_reply: Option<HexPattern> = None,
        /// `min_reply_length N` (default 0).
        min_reply_length: u16 = 0,
        /// `max_reply_length N` (default 255).
        max_reply_length: u16 = 255,
    }
}

impl HttpCheck {
    /// `delay_before_retry` when nothing sets it.
    pub const DEFAULT_DELAY_BEFORE_RETRY: Timer = Timer::secs(3);
}

impl DnsCheck {
    /// `retry` when nothing sets it.
    pub const DEFAULT_RETRY: u32 = 3;
}

impl MiscCheck {
    /// `retry` when nothing sets it.
    pub const DEFAULT_RETRY: u32 = 0;
}

/// `MISC_CHECK { }`: run a program; exit 0 is up, 1 is down, 2 to 255 with misc_dynamic
/// set the weight to status - 2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiscCheck {
    /// `misc_path COMMAND`: the program and its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misc_path: Option<Script>,
    /// `misc_timeout SECS` (default: delay_loop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misc_timeout: Option<Timer>,
    /// `misc_dynamic`: the exit status sets the weight.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub misc_dynamic: bool,
    /// `user USER [GROUP]`: run as this user (default: script_user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The group of `user USER GROUP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `retry N` (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    /// `delay_before_retry T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<Timer>,
    /// `warmup T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Timer>,
    /// `delay_loop T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Timer>,
    /// `alpha [<BOOL>]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<bool>,
    /// `log_all_failures [<BOOL>]`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub log_all_failures: bool,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

/// `FILE_CHECK { }`: the real server follows a number read from a `track_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileCheck {
    /// `track_file NAME`: a top-level track_file block.
    pub track_file: String,
    /// `weight N`: the multiplier of the file's value (default: the track_file's weight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// `weight N reverse`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HttpProtocol {
    /// HTTP/1.0.
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.0 with `Connection: close`.
    #[serde(rename = "1.0C")]
    Http10Close,
    /// HTTP/1.1.
    #[serde(rename = "1.1")]
    Http11,
}

/// The DNS query type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsType {
    /// A.
    A,
    /// NS.
    Ns,
    /// CNAME.
    Cname,
    /// SOA (the default).
    #[default]
    Soa,
    /// MX.
    Mx,
    /// TXT.
    Txt,
    /// AAAA.
    Aaaa,
    /// RRSIG.
    Rrsig,
    /// DNSKEY.
    Dnskey,
}

const DNS_TYPES: &[(&str, DnsType)] = &[
    ("A", DnsType::A),
    ("NS", DnsType::Ns),
    ("CNAME", DnsType::Cname),
    ("SOA", DnsType::Soa),
    ("MX", DnsType::Mx),
    ("TXT", DnsType::Txt),
    ("AAAA", DnsType::Aaaa),
    ("RRSIG", DnsType::Rrsig),
    ("DNSKEY", DnsType::Dnskey),
];

/// `url { }` of HTTP_GET / SSL_GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Url {
    /// `path P` (required).
    pub path: String,
    /// `digest MD5HEX`: the MD5 of the body (32 hex characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// `status_code N|N-M ...` (default 200-299).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_code: Vec<StatusCodes>,
    /// `virtualhost NAME`: the Host header (default: the checker's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// `regex RE`: the body must match (PCRE syntax, as written; the loader checks that the
    /// regex engine can express it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// `regex_no_match`: the body must not match.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub regex_no_match: bool,
    /// `regex_options ...`: PCRE2 options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regex_options: Vec<RegexOption>,
    /// `regex_min_offset N`: where the match may start, at the earliest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex_min_offset: Option<u64>,
    /// `regex_max_offset N`: where the match may start, at the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex_max_offset: Option<u64>,
    /// `regex_stack START MAX`: PCRE2 JIT stack sizes in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex_stack: Option<RegexStack>,
    /// `tls_compliant [<BOOL>]` (SSL_GET only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_compliant: bool,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

/// `regex_stack START MAX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexStack {
    /// The starting JIT stack size.
    pub start: u64,
    /// The largest JIT stack size.
    pub max: u64,
}

/// A PCRE2 option of `regex_options` (spelled as keepalived spells it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RegexOption {
    AllowEmptyClass,
    AltBsux,
    AutoCallout,
    Caseless,
    DollarEndonly,
    Dotall,
    Dupnames,
    Extended,
    Firstline,
    MatchUnsetBackref,
    Multiline,
    NeverUcp,
    NeverUtf,
    NoAutoCapture,
    NoAutoPossess,
    NoDotstarAnchor,
    NoStartOptimize,
    Ucp,
    Ungreedy,
    Utf,
    NeverBackslashC,
    AltCircumflex,
    AltVerbnames,
    UseOffsetLimit,
}

const REGEX_OPTIONS: &[(&str, RegexOption)] = &[
    ("allow_empty_class", RegexOption::AllowEmptyClass),
    ("alt_bsux", RegexOption::AltBsux),
    ("auto_callout", RegexOption::AutoCallout),
    ("caseless", RegexOption::Caseless),
    ("dollar_endonly", RegexOption::DollarEndonly),
    ("dotall", RegexOption::Dotall),
    ("dupnames", RegexOption::Dupnames),
    ("extended", RegexOption::Extended),
    ("firstline", RegexOption::Firstline),
    ("match_unset_backref", RegexOption::MatchUnsetBackref),
    ("multiline", RegexOption::Multiline),
    ("never_ucp", RegexOption::NeverUcp),
    ("never_utf", RegexOption::NeverUtf),
    ("no_auto_capture", RegexOption::NoAutoCapture),
    ("no_auto_possess", RegexOption::NoAutoPossess),
    ("no_dotstar_anchor", RegexOption::NoDotstarAnchor),
    ("no_start_optimize", RegexOption::NoStartOptimize),
    ("ucp", RegexOption::Ucp),
    ("ungreedy", RegexOption::Ungreedy),
    ("utf", RegexOption::Utf),
    ("never_backslash_c", RegexOption::NeverBackslashC),
    ("alt_circumflex", RegexOption::AltCircumflex),
    ("alt_verbnames", RegexOption::AltVerbnames),
    ("use_offset_limit", RegexOption::UseOffsetLimit),
];

/// Compiles a url regex as the checker will, with its options, so that an expression or an
/// option the engine cannot honour is refused at load rather than at check time.
pub fn compile_regex(
    re: &str,
    options: &[RegexOption],
) -> Result<regex::bytes::Regex, (String, String)> {
    let mut b = regex::bytes::RegexBuilder::new(re);
    b.size_limit(1 << 20);
    for o in options {
        match o {
            RegexOption::Caseless => {
                b.case_insensitive(true);
            }
            RegexOption::Dotall => {
                b.dot_matches_new_line(true);
            }
            RegexOption::Multiline => {
                b.multi_line(true);
            }
            RegexOption::Extended => {
                b.ignore_whitespace(true);
            }
            RegexOption::Ungreedy => {
                b.swap_greed(true);
            }
            RegexOption::NeverUcp | RegexOption::NeverUtf => {
                b.unicode(false);
            }
            // Already how the engine behaves, or optimisation hints with no effect on matches.
            RegexOption::Utf
            | RegexOption::Ucp
            | RegexOption::DollarEndonly
            | RegexOption::NoAutoCapture
            | RegexOption::NoAutoPossess
            | RegexOption::NoDotstarAnchor
            | RegexOption::NoStartOptimize
            | RegexOption::NeverBackslashC => {}
            other => {
                let name = REGEX_OPTIONS
                    .iter()
                    .find(|(_, o)| o == other)
                    .map_or("?", |(n, _)| *n);
                return Err((
                    format!("regex option '{name}' has no equivalent in keepalived-rs's regex engine"),
                    "remove it; the supported options are caseless, dotall, multiline, extended, ungreedy, utf, ucp, never_utf, never_ucp, dollar_endonly and the optimisation hints".into(),
                ));
            }
        }
    }
    b.build().map_err(|e| {
        let detail = e.to_string();
        (
            format!(
                "the regex '{re}' cannot be used: {}",
                detail.lines().last().unwrap_or("invalid")
            ),
            "keepalived-rs matches with Rust's regex engine: no look-around and no back-references"
                .into(),
        )
    })
}

/// An MD5 digest, 32 hex characters (kept lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Reads 32 hex characters.
    pub fn parse(s: &str) -> Result<Digest, String> {
        if s.len() != 32 {
            return Err(format!(
                "a digest is 32 hex characters (an MD5), '{s}' has {}",
                s.chars().count()
            ));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("'{c}' is not a hex digit in digest '{s}'"));
        }
        Ok(Digest(s.to_ascii_lowercase()))
    }

    /// The digest as lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// One `status_code` entry: `200` or `200-299`, within 100 to 599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatusCodes {
    /// The lowest code.
    pub lo: u16,
    /// The highest code.
    pub hi: u16,
}

impl StatusCodes {
    /// Reads `N` or `N-M`.
    pub fn parse(s: &str) -> Result<StatusCodes, String> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let num = |x: &str| {
            x.parse::<u16>()
                .ok()
                .filter(|v| (100..=599).contains(v) && x.bytes().all(|b| b.is_ascii_digit()))
        };
        match (num(a), num(b)) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(StatusCodes { lo, hi }),
            (Some(lo), Some(hi)) => Err(format!(
                "the status range '{s}' ends ({hi}) before it starts ({lo})"
            )),
            _ => Err(format!(
                "'{s}' is not an HTTP status code or range (100 to 599, e.g. 200 or 200-299)"
            )),
        }
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

crate::types::string_form!(StatusCodes);

/// Bytes written in keepalived's free hex format (`Ab12f 3 456` = AB 12 0F 03 45 06);
/// serialised as plain lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexBytes(pub Vec<u8>);

/// Bytes with wildcard nibbles (`X`), for `require_reply`; serialised as lowercase hex with
/// `x` for each wildcard nibble. Empty for a bare `require_reply`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexPattern {
    /// The bytes (0 in wildcard nibbles).
    pub data: Vec<u8>,
    /// The wildcard nibbles (bits set are ignored).
    pub mask: Vec<u8>,
}

/// Reads keepalived's hex format. Pairs of digits are one byte; a lone digit before a space
/// (or the end) is one byte too. With `wildcards`, `X`/`x` is an ignored nibble.
pub fn parse_hex(s: &str, wildcards: bool) -> Result<(Vec<u8>, Vec<u8>), String> {
    let nibble = |c: char| -> Result<(u8, u8), String> {
        match c {
            'x' | 'X' if wildcards => Ok((0, 0x0f)),
            _ => c
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
                .map(|d| (d, 0))
                .ok_or_else(|| {
                    if wildcards {
                        format!("'{c}' is not a hex digit or X")
                    } else {
                        format!("'{c}' is not a hex digit")
                    }
                }),
        }
    };
    let mut data = Vec::new();
    let mut mask = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        let (mut v, mut m) = nibble(c)?;
        i += 1;
        if let Some(&c2) = chars.get(i).filter(|c| **c != ' ' && **c != '\t') {
            let (v2, m2) = nibble(c2)?;
            v = (v << 4) | v2;
            m = (m << 4) | m2;
            i += 1;
        }
        data.push(v);
        mask.push(m);
    }
    if data.len() > usize::from(u16::MAX) {
        return Err("a hex string is at most 65535 bytes".into());
    }
    Ok((data, mask))
}

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for HexBytes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (data, _) = parse_hex(&s, false)?;
        if data.is_empty() {
            return Err("the payload is empty".into());
        }
        Ok(HexBytes(data))
    }
}

impl From<HexBytes> for String {
    fn from(h: HexBytes) -> String {
        h.to_string()
    }
}

impl fmt::Display for HexPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.data.iter().enumerate() {
            let m = self.mask.get(i).copied().unwrap_or(0);
            for (shift, mbit) in [(4u8, 0xf0u8), (0, 0x0f)] {
                if m & mbit != 0 {
                    f.write_str("x")?;
                } else {
                    write!(f, "{:x}", (b >> shift) & 0x0f)?;
                }
            }
        }
        Ok(())
    }
}

impl TryFrom<String> for HexPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (data, mask) = parse_hex(&s, true)?;
        Ok(HexPattern { data, mask })
    }
}

impl From<HexPattern> for String {
    fn from(h: HexPattern) -> String {
        h.to_string()
    }
}

/// Checks a DNS name: no empty label but the root (a trailing dot is allowed).
pub fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." {
        return Ok(());
    }
    let body = name.strip_suffix('.').unwrap_or(name);
    if body.split('.').any(str::is_empty) {
        return Err(format!("the DNS name '{name}' has an empty label"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------

/// A port keyword (1 to 65535).
fn port_kw(cx: &mut Cx, n: &Node) -> Option<u16> {
    if !cx.args(n, 1, 1) {
        return None;
    }
    port_tok(cx, n, 1, false).ok().flatten()
}

/// Reads a connection option into `c`; false when `n` is not one.
fn read_connection(cx: &mut Cx, n: &Node, c: &mut Connection) -> bool {
    match n.kw() {
        "connect_ip" => {
            if cx.args(n, 1, 1) {
                c.connect_ip = addr_tok(cx, n, 1).or(c.connect_ip);
            }
        }
        "connect_port" => c.connect_port = port_kw(cx, n).or(c.connect_port),
        "bindto" => {
            if cx.args(n, 1, 1) {
                c.bindto = addr_tok(cx, n, 1).or(c.bindto);
            }
        }
        "bind_port" => c.bind_port = port_kw(cx, n).or(c.bind_port),
        "bind_if" => {
            if let Some(s) = cx.string_kw(n) {
                if s.len() > IFNAME_MAX || s.is_empty() {
                    cx.err_arg(
                        n,
                        0,
                        format!("'{s}' is not an interface name (1 to {IFNAME_MAX} characters)"),
                        None,
                    );
                } else {
                    c.bind_if = Some(s);
                }
            }
        }
        "connect_timeout" => {
            c.connect_timeout =
                timer(cx, n, Timer::from_micros(1), CONNECT_TIMEOUT_MAX).or(c.connect_timeout)
        }
        "fwmark" => c.fwmark = cx.u32_kw(n, 0, u32::MAX).or(c.fwmark),
        _ => return false,
    }
    true
}

/// Reads a common check option into `o`; false when `n` is not one.
fn read_options(cx: &mut Cx, n: &Node, o: &mut CheckOptions) -> bool {
    match n.kw() {
        "retry" | "nb_get_retry" => o.retry = cx.u32_kw(n, 0, u32::MAX).or(o.retry),
        "delay_before_retry" => {
            o.delay_before_retry =
                timer(cx, n, Timer::from_micros(0), TIMER_MAX).or(o.delay_before_retry)
        }
        "warmup" => o.warmup = timer(cx, n, Timer::from_micros(0), TIMER_MAX).or(o.warmup),
        "delay_loop" => {
            o.delay_loop = timer(cx, n, Timer::from_micros(1), TIMER_MAX).or(o.delay_loop)
        }
        "alpha" => o.alpha = cx.bool_kw(n).or(o.alpha),
        "log_all_failures" => {
            if let Some(b) = cx.bool_kw(n) {
                o.log_all_failures = b;
            }
        }
        _ => return false,
    }
    true
}

pub(super) fn parse_tcp(cx: &mut Cx, n: &Node) -> Option<TcpCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = TcpCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::TcpCheck, b, |cx, n| {
        if !chk.read_common(cx, n) {
            cx.unhandled(n);
        }
    });
    Some(chk)
}

pub(super) fn parse_ping(cx: &mut Cx, n: &Node) -> Option<PingCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = PingCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::PingCheck, b, |cx, n| {
        if !chk.read_common(cx, n) {
            cx.unhandled(n);
        }
    });
    Some(chk)
}

pub(super) fn parse_http(cx: &mut Cx, n: &Node, ssl: bool) -> Option<HttpCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = HttpCheck::default();
    chk.lines.head(n);
    let block = if ssl { Block::SslGet } else { Block::HttpGet };
    cx.dispatch(block, b, |cx, n| {
        if chk.read_common(cx, n) {
            return;
        }
        let mut mark = true;
        match n.kw() {
            "virtualhost" => {
                if once(cx, n, &chk.virtualhost) {
                    chk.virtualhost = cx.string_kw(n);
                }
            }
            "http_protocol" => match cx.choice_kw(n, &["1.0", "1.0C", "1.0c", "1.1"]) {
                Some("1.0") => chk.http_protocol = Some(HttpProtocol::Http10),
                Some("1.1") => chk.http_protocol = Some(HttpProtocol::Http11),
                Some(_) => chk.http_protocol = Some(HttpProtocol::Http10Close),
                None => mark = false,
            },
            "enable_sni" => {
                if let Some(v) = cx.bool_kw(n) {
                    chk.enable_sni = v;
                }
            }
            "sni_name" => {
                if cx.args(n, 0, 1) {
                    if let Some(s) = n.arg(0) {
                        if once(cx, n, &chk.sni_name) {
                            chk.sni_name = Some(s.to_string());
                        }
                    }
                    chk.enable_sni = true;
                }
            }
            "fast_recovery" => {
                if let Some(v) = cx.bool_kw(n) {
                    chk.fast_recovery = v;
                }
            }
            "tls_compliant" => {
                if let Some(v) = cx.bool_kw(n) {
                    chk.tls_compliant = v;
                }
            }
            "url" => {
                mark = false;
                chk.url.extend(parse_url(cx, n));
            }
            _ => {
                mark = false;
                cx.unhandled(n);
            }
        }
        if mark {
            chk.lines.mark(n);
        }
    });
    Some(chk)
}

fn parse_url(cx: &mut Cx, n: &Node) -> Option<Url> {
    let b = cx.block_args(n, 0, 0)?;
    let mut u = Url::default();
    u.lines.head(n);
    cx.dispatch(Block::Url, b, |cx, n| {
        match n.kw() {
            "path" => {
                if u.lines.has("path") {
                    once(cx, n, &Some(()));
                    return;
                }
                let Some(s) = cx.string_kw(n) else {
                    return u.lines.failed("path", n);
                };
                u.path = s;
            }
            "digest" => {
                if !once(cx, n, &u.digest) {
                    return;
                }
                let Some(s) = cx.string_kw(n) else {
                    return;
                };
                match Digest::parse(&s) {
                    Ok(d) => u.digest = Some(d),
                    Err(msg) => {
                        return cx.err_arg(
                            n,
                            0,
                            msg,
                            Some("compute it with genhash, or use status_code alone".into()),
                        );
                    }
                }
            }
            "status_code" => {
                if cx.args(n, 1, usize::MAX) {
                    for (i, s) in n.args().enumerate() {
                        match StatusCodes::parse(s) {
                            Ok(c) => u.status_code.push(c),
                            Err(msg) => cx.err_arg(n, i, msg, None),
                        }
                    }
                }
            }
            "virtualhost" => {
                if once(cx, n, &u.virtualhost) {
                    u.virtualhost = cx.string_kw(n);
                }
            }
            "regex" => {
                if once(cx, n, &u.regex) && cx.no_block(n) {
                    match shell_words(n.rest_raw()) {
                        Ok(w) if w.len() == 1 => u.regex = w.into_iter().next(),
                        Ok(w) if w.is_empty() => cx.err(n, "'regex' needs a value"),
                        Ok(_) => cx.err_hint(
                            n,
                            "'regex' takes one expression",
                            "quote it when it has spaces: regex \"a b\"",
                        ),
                        Err(e) => cx.err(n, format!("cannot read the regex: {e}")),
                    }
                }
            }
            "regex_no_match" => u.regex_no_match |= cx.flag_kw(n),
            "regex_options" => {
                if cx.args(n, 1, usize::MAX) {
                    for (i, s) in n.args().enumerate() {
                        match REGEX_OPTIONS.iter().find(|(name, _)| *name == s) {
                            Some((_, o)) => {
                                if !u.regex_options.contains(o) {
                                    u.regex_options.push(*o);
                                }
                            }
                            None => {
                                let hint = nearest(s, REGEX_OPTIONS.iter().map(|(n, _)| *n))
                                    .map(|c| format!("did you mean '{c}'?"));
                                cx.err_arg(n, i, format!("unknown regex option '{s}'"), hint);
                            }
                        }
                    }
                }
            }
            "regex_min_offset" => {
                u.regex_min_offset = cx
                    .u64_kw(n, 0, i64::MAX.unsigned_abs())
                    .or(u.regex_min_offset)
            }
            "regex_max_offset" => {
                u.regex_max_offset = cx
                    .u64_kw(n, 0, i64::MAX.unsigned_abs())
                    .or(u.regex_max_offset)
            }
            "regex_stack" => {
                if cx.args(n, 2, 2) {
                    let hi = i64::MAX.unsigned_abs();
                    if let (Some(start), Some(max)) =
                        (cx.parse_u64(n, 0, 0, hi), cx.parse_u64(n, 1, 0, hi))
                    {
                        if start > max {
                            cx.err_arg(
                                n,
                                0,
                                format!("the regex stack start {start} is above its maximum {max}"),
                                None,
                            );
                        } else {
                            u.regex_stack = Some(RegexStack { start, max });
                        }
                    }
                }
            }
            "tls_compliant" => {
                if let Some(v) = cx.bool_kw(n) {
                    u.tls_compliant = v;
                }
            }
            _ => return cx.unhandled(n),
        }
        u.lines.mark(n);
    });
    Some(u)
}

pub(super) fn parse_smtp(cx: &mut Cx, n: &Node) -> Option<SmtpCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = SmtpCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::SmtpCheck, b, |cx, n| {
        if chk.read_common(cx, n) {
            return;
        }
        match n.kw() {
            "helo_name" => {
                if once(cx, n, &chk.helo_name) {
                    chk.helo_name = cx.string_kw(n);
                    chk.lines.mark(n);
                }
            }
            "host" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    let mut h = Connection::default();
                    h.lines.head(n);
                    cx.dispatch(Block::SmtpHost, b, |cx, n| {
                        if read_connection(cx, n, &mut h) {
                            h.lines.mark(n);
                        } else {
                            cx.unhandled(n);
                        }
                    });
                    chk.host.push(h);
                }
            }
            _ => cx.unhandled(n),
        }
    });
    Some(chk)
}

pub(super) fn parse_dns(cx: &mut Cx, n: &Node) -> Option<DnsCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = DnsCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::DnsCheck, b, |cx, n| {
        if chk.read_common(cx, n) {
            return;
        }
        match n.kw() {
            "type" => {
                if cx.args(n, 1, 1) {
                    let s = n.arg(0).unwrap_or("");
                    match DNS_TYPES.iter().find(|(t, _)| t.eq_ignore_ascii_case(s)) {
                        Some((_, t)) => {
                            chk.query_type = *t;
                            chk.lines.mark(n);
                        }
                        None => cx.err_arg(
                            n,
                            0,
                            format!("unknown DNS query type '{s}'"),
                            Some("one of A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY".into()),
                        ),
                    }
                }
            }
            "name" => {
                if !once(cx, n, &chk.name) {
                    return;
                }
                let Some(s) = cx.string_kw(n) else {
                    return;
                };
                match check_dns_name(&s) {
                    Ok(()) => {
                        chk.name = Some(s);
                        chk.lines.mark(n);
                    }
                    Err(msg) => cx.err_arg(n, 0, msg, Some("write e.g. example.com".into())),
                }
            }
            _ => cx.unhandled(n),
        }
    });
    Some(chk)
}

pub(super) fn parse_misc(cx: &mut Cx, n: &Node) -> Option<MiscCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = MiscCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::MiscCheck, b, |cx, n| {
        let mut o = CheckOptions {
            retry: chk.retry,
            delay_before_retry: chk.delay_before_retry,
            warmup: chk.warmup,
            delay_loop: chk.delay_loop,
            alpha: chk.alpha,
            log_all_failures: chk.log_all_failures,
        };
        if read_options(cx, n, &mut o) {
            chk.retry = o.retry;
            chk.delay_before_retry = o.delay_before_retry;
            chk.warmup = o.warmup;
            chk.delay_loop = o.delay_loop;
            chk.alpha = o.alpha;
            chk.log_all_failures = o.log_all_failures;
            chk.lines.mark(n);
            return;
        }
        match n.kw() {
            "misc_path" => {
                if !once(cx, n, &chk.misc_path) {
                    return;
                }
                let Some(s) = cx.script_kw(n) else {
                    return chk.lines.failed("misc_path", n);
                };
                if s.user.is_some() {
                    chk.lines.failed("misc_path", n);
                    cx.err_hint(
                        n,
                        "'misc_path' takes the command only",
                        "quote the command with its arguments, and give the user with 'user USER [GROUP]'",
                    );
                    return;
                }
                chk.misc_path = Some(s);
            }
            "misc_timeout" => match cx.u64_kw(n, 0, u64::from(u32::MAX) / 1_000_000) {
                Some(t) => chk.misc_timeout = Some(Timer::secs(t)),
                None => return,
            },
            "misc_dynamic" => {
                if !cx.flag_kw(n) {
                    return;
                }
                chk.misc_dynamic = true;
            }
            "user" => {
                if !cx.args(n, 1, 2) {
                    return;
                }
                let u = n.arg(0).unwrap_or("");
                let (user, group) = match (u.split_once(':'), n.arg(1)) {
                    (Some((u, g)), None) => (u.to_string(), Some(g.to_string())),
                    (Some(_), Some(_)) => {
                        cx.err_arg(
                            n,
                            1,
                            "the group is given twice",
                            Some("write user USER GROUP or user USER:GROUP".into()),
                        );
                        return;
                    }
                    (None, g) => (
                        u.to_string(),
                        g.map(|g| g.trim_start_matches(':').to_string()),
                    ),
                };
                if user.is_empty() || group.as_deref() == Some("") {
                    cx.err_arg(n, 0, "an empty user or group name", None);
                    return;
                }
                chk.user = Some(user);
                chk.group = group;
            }
            _ => return cx.unhandled(n),
        }
        chk.lines.mark(n);
    });
    Some(chk)
}

pub(super) fn parse_udp(cx: &mut Cx, n: &Node) -> Option<UdpCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = UdpCheck::default();
    chk.lines.head(n);
    cx.dispatch(Block::UdpCheck, b, |cx, n| {
        if chk.read_common(cx, n) {
            return;
        }
        match n.kw() {
            "payload" => {
                if !cx.no_block(n) {
                    return;
                }
                if n.nargs() == 0 {
                    cx.err_hint(
                        n,
                        "'payload' needs the bytes to send",
                        "write e.g. payload 0a1b2c",
                    );
                    return;
                }
                let text = n.args().collect::<Vec<_>>().join(" ");
                match parse_hex(&text, false) {
                    Ok((d, _)) => chk.payload = Some(HexBytes(d)),
                    Err(msg) => {
                        cx.err_arg(
                            n,
                            0,
                            format!("bad payload: {msg}"),
                            Some("hex digits, spaces allowed: payload 0a1b 2c".into()),
                        );
                        return;
                    }
                }
            }
            "require_reply" => {
                if !cx.no_block(n) {
                    return;
                }
                let text = n.args().collect::<Vec<_>>().join(" ");
                match parse_hex(&text, true) {
                    Ok((data, mask)) => chk.require_reply = Some(HexPattern { data, mask }),
                    Err(msg) => {
                        cx.err_arg(
                            n,
                            0,
                            format!("bad reply pattern: {msg}"),
                            Some("hex digits and X for any nibble: require_reply 0a1b XX".into()),
                        );
                        return;
                    }
                }
            }
            "min_reply_length" => match cx.u64_kw(n, 0, u64::from(u16::MAX)) {
                Some(v) => chk.min_reply_length = u16::try_from(v).unwrap_or(u16::MAX),
                None => return,
            },
            "max_reply_length" => match cx.u64_kw(n, 0, u64::from(u16::MAX)) {
                Some(v) => chk.max_reply_length = u16::try_from(v).unwrap_or(u16::MAX),
                None => return,
            },
            _ => return cx.unhandled(n),
        }
        chk.lines.mark(n);
    });
    Some(chk)
}

pub(super) fn parse_file(cx: &mut Cx, n: &Node) -> Option<FileCheck> {
    let b = cx.block_args(n, 0, 0)?;
    let mut chk = FileCheck::default();
    chk.lines.head(n);
    for e in b {
        if e.kw() == "dynamic" {
            cx.err_hint(
                e,
                "'dynamic' is not a FILE_CHECK keyword",
                "keepalived's manual documents it but keepalived never reads it (an unknown keyword); remove it: the file's value always scales the weight",
            );
            continue;
        }
        cx.dispatch(Block::FileCheck, std::slice::from_ref(e), |cx, n| {
            match n.kw() {
                "track_file" => {
                    if !chk.track_file.is_empty() {
                        cx.err_hint(
                            n,
                            "'track_file' is given twice in this block",
                            "use one FILE_CHECK per track_file",
                        );
                        return;
                    }
                    match cx.string_kw(n) {
                        Some(s) => chk.track_file = s,
                        None => return chk.lines.failed("track_file", n),
                    }
                }
                "weight" => {
                    if !cx.args(n, 1, 2) {
                        return;
                    }
                    let lim = i64::from(i32::MAX);
                    let Some(w) = cx.parse_i64(n, 0, -lim, lim) else {
                        return;
                    };
                    let reverse = match n.arg(1) {
                        None => false,
                        Some(_) => match cx.parse_choice(n, 1, &["reverse", "noreverse"]) {
                            Some(r) => r == "reverse",
                            None => return,
                        },
                    };
                    chk.weight = Some(w);
                    chk.reverse = reverse;
                }
                _ => return cx.unhandled(n),
            }
            chk.lines.mark(n);
        });
    }
    Some(chk)
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/// Checks the checkers of one real server.
pub(super) fn validate_real_server(
    cx: &mut Cx,
    vs: &VirtualServer,
    rs: &RealServer,
    config: &Config,
) {
    let _ = vs;
    let track_files = &config.track_files;
    for checker in &rs.checkers {
        match checker {
            Checker::TcpCheck(c) => check_connection(cx, &c.connection(), rs, "TCP_CHECK"),
            Checker::PingCheck(c) => {
                check_connection(cx, &c.connection(), rs, "PING_CHECK");
                if c.connect_port.is_some() || c.bind_port().is_some() {
                    cx.warn_at(
                        c.lines.get(if c.connect_port.is_some() {
                            "connect_port"
                        } else {
                            "bind_port"
                        }),
                        "PING_CHECK has no ports: the port is not used",
                        None,
                    );
                }
            }
            Checker::UdpCheck(c) => {
                check_connection(cx, &c.connection(), rs, "UDP_CHECK");
                if c.min_reply_length > c.max_reply_length {
                    cx.err_at(
                        c.lines.get("min_reply_length"),
                        format!(
                            "min_reply_length {} is above max_reply_length {}: the check would always fail",
                            c.min_reply_length, c.max_reply_length
                        ),
                        None,
                    );
                }
            }
            Checker::DnsCheck(c) => {
                check_connection(cx, &c.connection(), rs, "DNS_CHECK");
                if let Some(Err(msg)) = c.name.as_deref().map(check_dns_name) {
                    cx.err_at(c.lines.get("name"), msg, None);
                }
            }
            Checker::SmtpCheck(c) => {
                check_connection(cx, &c.connection(), rs, "SMTP_CHECK");
                for h in &c.host {
                    check_connection(cx, h, rs, "SMTP_CHECK host");
                }
            }
            Checker::HttpGet(c) => check_http(cx, c, rs, false),
            Checker::SslGet(c) => check_http(cx, c, rs, true),
            Checker::MiscCheck(c) => check_misc(cx, c),
            Checker::FileCheck(c) => check_file(cx, c, track_files),
        }
    }
}

fn check_misc(cx: &mut Cx, c: &MiscCheck) {
    match &c.misc_path {
        None if c.lines.has_failed("misc_path") => {}
        None => cx.err_at(
            c.lines.pos(),
            "MISC_CHECK without misc_path",
            Some("add 'misc_path /path/to/script' (keepalived drops the checker)".into()),
        ),
        Some(s) if s.argv.is_empty() || s.command.trim().is_empty() => cx.err_at(
            c.lines.get("misc_path"),
            "the misc_path command is empty",
            None,
        ),
        Some(_) => {}
    }
}

fn check_file(cx: &mut Cx, c: &FileCheck, track_files: &[crate::vrrp::TrackFile]) {
    if c.track_file.is_empty() && !c.lines.has_failed("track_file") {
        cx.err_at(
            c.lines.pos(),
            "FILE_CHECK without track_file",
            Some("add 'track_file NAME' naming a top-level track_file block".into()),
        );
    }
    if !c.track_file.is_empty() && !track_files.iter().any(|t| t.name == c.track_file) {
        cx.err_at(
            c.lines.get("track_file"),
            format!(
                "FILE_CHECK names track_file '{}', which is not defined",
                c.track_file
            ),
            Some("define it in a top-level 'track_file NAME { file PATH }' block".into()),
        );
    }
    if let Some(w) = c
        .weight
        .filter(|w| w.unsigned_abs() > u64::from(i32::MAX.unsigned_abs()))
    {
        cx.err_at(
            c.lines.get("weight"),
            format!("FILE_CHECK weight {w} is outside ±{}", i32::MAX),
            None,
        );
    }
}

fn check_http(cx: &mut Cx, c: &HttpCheck, rs: &RealServer, ssl: bool) {
    let kind = if ssl { "SSL_GET" } else { "HTTP_GET" };
    check_connection(cx, &c.connection(), rs, kind);
    if c.url.is_empty() {
        cx.err_at(
            c.lines.pos(),
            format!("{kind} has no url"),
            Some("add url { path / } (keepalived drops a checker without one)".into()),
        );
    }
    if !ssl {
        for (kw, on) in [
            ("enable_sni", c.enable_sni && !c.lines.has("sni_name")),
            ("sni_name", c.sni_name.is_some()),
            ("tls_compliant", c.tls_compliant),
        ] {
            if on {
                cx.warn_at(
                    c.lines.get(kw),
                    format!("'{kw}' has no effect on HTTP_GET (no TLS)"),
                    Some("it applies to SSL_GET".into()),
                );
            }
        }
    }
    for u in &c.url {
        let pos = u.lines.pos();
        if u.path.is_empty() && !u.lines.has_failed("path") {
            cx.err_at(
                pos,
                "url without path",
                Some("add 'path /' (keepalived drops such a url)".into()),
            );
        }
        for s in &u.status_code {
            if !(100..=599).contains(&s.lo) || !(100..=599).contains(&s.hi) || s.lo > s.hi {
                cx.err_at(
                    u.lines.get("status_code"),
                    format!("status_code {s} is outside 100 to 599"),
                    None,
                );
            }
        }
        if u.regex.is_none() {
            let stray = [
                ("regex_no_match", u.regex_no_match),
                ("regex_options", !u.regex_options.is_empty()),
                ("regex_min_offset", u.regex_min_offset.is_some()),
                ("regex_max_offset", u.regex_max_offset.is_some()),
                ("regex_stack", u.regex_stack.is_some()),
            ];
            for (kw, on) in stray {
                if on {
                    cx.err_at(
                        u.lines.get(kw),
                        format!("'{kw}' without 'regex'"),
                        Some("add 'regex EXPR', or remove it (keepalived ignores it)".into()),
                    );
                }
            }
        } else if u.regex.as_deref() == Some("") {
            cx.err_at(u.lines.get("regex"), "the regex is empty", None);
        } else if let Some(re) = &u.regex {
            if let Err((msg, hint)) = compile_regex(re, &u.regex_options) {
                cx.err_at(u.lines.get("regex"), msg, Some(hint));
            }
        }
        if let (Some(lo), Some(hi)) = (u.regex_min_offset, u.regex_max_offset) {
            if lo > hi {
                cx.err_at(
                    u.lines.get("regex_min_offset"),
                    format!("regex_min_offset {lo} is above regex_max_offset {hi}"),
                    Some("keepalived ignores both then".into()),
                );
            }
        }
        if let Some(st) = u.regex_stack.filter(|st| st.start > st.max) {
            cx.err_at(
                u.lines.get("regex_stack"),
                format!(
                    "the regex stack start {} is above its maximum {}",
                    st.start, st.max
                ),
                None,
            );
        }
        if !ssl && u.tls_compliant {
            cx.warn_at(
                u.lines.get("tls_compliant"),
                "'tls_compliant' has no effect in an HTTP_GET url (no TLS)",
                Some("it applies to SSL_GET".into()),
            );
        }
    }
}

fn check_connection(cx: &mut Cx, c: &Connection, rs: &RealServer, kind: &str) {
    for (kw, p) in [("connect_port", c.connect_port), ("bind_port", c.bind_port)] {
        if p == Some(0) {
            cx.err_at(
                c.lines.get(kw),
                format!("{kind}: {kw} 0"),
                Some("ports are 1 to 65535".into()),
            );
        }
    }
    let dst = c.connect_ip.unwrap_or(rs.ip);
    if let Some(src) = c
        .bindto
        .filter(|src| super::Family::of(src) != super::Family::of(&dst))
    {
        cx.err_at(
            c.lines.get("bindto"),
            format!("{kind}: bindto {src} and the checked address {dst} are of different families"),
            Some("bind to an address of the family of connect_ip (or of the real server)".into()),
        );
    }
    if let Some(i) = c
        .bind_if
        .as_ref()
        .filter(|i| i.is_empty() || i.len() > IFNAME_MAX)
    {
        cx.err_at(
            c.lines.get("bind_if"),
            format!("{kind}: '{i}' is not an interface name"),
            None,
        );
    }
    let link_local =
        |a: IpAddr| matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
    if c.bind_if.is_none() && (link_local(dst) || c.bindto.is_some_and(link_local)) {
        let pos: Pos = if c.connect_ip.is_some() {
            c.lines.get("connect_ip")
        } else {
            c.lines.pos()
        };
        cx.err_at(
            pos,
            format!("{kind}: the link-local address {dst} needs 'bind_if'"),
            Some("add 'bind_if IFNAME' naming the interface of that link".into()),
        );
    }
}
