//! What one check does, resolved from the configuration: the shared vocabulary of the
//! planner ([`crate::plan`]), the health engine ([`crate::engine`]), the protocol
//! conversations ([`crate::conv`]) and the checker process.
//!
//! Everything here is plain data with every default applied: nothing downstream looks at
//! the configuration again.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use keepalived_config::lvs::checker::{DnsType, HexPattern, HttpProtocol};

/// One configured checker, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// The block's keyword (`TCP_CHECK`, `HTTP_GET`, ...), for messages.
    pub kind: &'static str,
    /// Its index among its real server's checkers (as `ScriptRef::MiscCheck` and
    /// `ParentToCheck::File` name it).
    pub index: u16,
    /// Where it connects (`None` for MISC_CHECK and FILE_CHECK).
    pub target: Option<Target>,
    /// What it does once connected.
    pub probe: Probe,
    /// Failures tolerated before the checker is down (`retry`).
    pub retry: u32,
    /// Wait after a failure before retrying (`delay_before_retry`).
    pub delay_before_retry: Duration,
    /// Wait between two checks (`delay_loop`).
    pub delay_loop: Duration,
    /// The first check waits a random time up to this (`warmup`).
    pub warmup: Duration,
    /// Down until the first success (`alpha`).
    pub alpha: bool,
    /// Log every failure, not only transitions (`log_all_failures`).
    pub log_all_failures: bool,
}

/// Where a network checker connects, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `connect_ip`/`connect_port`, else the real server's address and port.
    pub connect: SocketAddr,
    /// `bindto`: the source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: the source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: the interface (SO_BINDTODEVICE; needed for link-local addresses).
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the socket.
    pub fwmark: Option<u32>,
    /// `connect_timeout`: the deadline of the whole check (connect, exchange and reply).
    pub timeout: Duration,
}

/// What a checker does.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// TCP_CHECK: the connection succeeds.
    Tcp,
    /// HTTP_GET or SSL_GET.
    Http(Box<HttpProbe>),
    /// SMTP_CHECK: banner 220, HELO answered 250, QUIT answered (keepalived's codes; see
    /// [`crate::smtp`]).
    Smtp {
        /// The HELO name.
        helo: String,
    },
    /// DNS_CHECK: a query over UDP answered without error.
    Dns {
        /// The query type.
        qtype: DnsType,
        /// The name, fully qualified.
        name: String,
    },
    /// UDP_CHECK.
    Udp(Box<UdpProbe>),
    /// PING_CHECK: an ICMP or ICMPv6 echo answered.
    Ping,
    /// MISC_CHECK: the parent runs the script (`ScriptRef::MiscCheck`).
    Misc {
        /// `misc_dynamic`: exit status 2 to 255 sets the weight to status - 2.
        dynamic: bool,
    },
    /// FILE_CHECK: the parent reads the file and sends its number.
    File {
        /// `weight N`.
        weight: i64,
        /// `weight N reverse`.
        reverse: bool,
    },
}

/// HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpProbe {
    /// SSL_GET.
    pub tls: bool,
    /// `http_protocol`.
    pub protocol: HttpProtocol,
    /// The SNI to send (SSL_GET with `enable_sni` or `sni_name`).
    pub sni: Option<String>,
    /// `tls_compliant`: close with close_notify.
    pub tls_compliant: bool,
    /// `fast_recovery`.
    pub fast_recovery: bool,
    /// The urls, each fetched on its own connection; all must pass.
    pub urls: Vec<UrlSpec>,
}

/// One `url { }` block with its defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlSpec {
    /// The request path.
    pub path: String,
    /// The Host header (url, checker, real server or virtual server `virtualhost`, else
    /// the address as keepalived sends it).
    pub host: String,
    /// `digest`: the MD5 of the body.
    pub digest: Option<[u8; 16]>,
    /// `status_code`: accepted ranges (default 200-299).
    pub status: Vec<(u16, u16)>,
    /// `regex` and its options.
    pub regex: Option<RegexSpec>,
}

/// A url's regex, compiled once at configuration.
#[derive(Debug, Clone)]
pub struct RegexSpec {
    /// The compiled expression.
    pub regex: regex::bytes::Regex,
    /// `regex_no_match`: pass when it does not match.
    pub no_match: bool,
    /// `regex_min_offset`: matches must start at or after this offset.
    ///
    /// As in keepalived, offsets count from the first byte of the response (its status
    /// line), the header being part of the subject (see [`crate::http`]).
    pub min_offset: u64,
    /// `regex_max_offset` as configured: matches must start at or before this offset
    /// (keepalived: "the maximum offset into the returned data for the start of the
    /// subject match").
    pub max_offset: Option<u64>,
}

impl PartialEq for RegexSpec {
    fn eq(&self, o: &RegexSpec) -> bool {
        self.regex.as_str() == o.regex.as_str()
            && self.no_match == o.no_match
            && self.min_offset == o.min_offset
            && self.max_offset == o.max_offset
    }
}

/// UDP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpProbe {
    /// `payload` (`None` or empty: keepalived's default, 32 bytes of
    /// `"keepalived check - "` repeated, [`crate::udp::DEFAULT_PAYLOAD`]).
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: a reply is needed, and with a pattern it must match.
    pub require_reply: Option<HexPattern>,
    /// `min_reply_length`.
    pub min_reply_length: u16,
    /// `max_reply_length`.
    pub max_reply_length: u16,
}

/// One real server and its checkers.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServerPlan {
    /// Its identity, as the IPVS writer names it.
    pub id: keepalived_ipc::msg::RealServerId,
    /// Its configured weight (its own `weight`, else the virtual server's): the base of
    /// the dynamic weights (MISC_CHECK `misc_dynamic`, FILE_CHECK).
    pub weight: u32,
    /// Its `alpha` (its own, else the virtual server's): until the checker reports on it,
    /// the IPVS writer counts it down with alpha and up without; the engine reports its
    /// first state when that differs.
    pub alpha: bool,
    /// Its checkers, in configuration order (all must pass).
    pub checks: Vec<CheckSpec>,
}

/// How one run of one checker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Up,
    /// It passed and sets the real server's weight (MISC_CHECK `misc_dynamic`, FILE_CHECK).
    Weight(u32),
    /// It failed, and why (the reason goes to the log, the dumps and the status).
    Down(String),
}
