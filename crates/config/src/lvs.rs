//! LVS configuration: virtual_server_group, virtual_server, real_server, checkers, SSL.
//!
//! ```text
//!  SSL { }                        -> Ssl
//!  virtual_server_group NAME { }  -> VirtualServerGroup { addresses, fwmarks }
//!  virtual_server ... {           -> VirtualServer
//!      real_server IP [PORT] {    ->   RealServer
//!          TCP_CHECK { } ...      ->     checkers: TCP_CHECK, HTTP_GET, ... (checker.rs)
//!      }
//!  }
//! ```
//!
//! Parsing reads values and their ranges (errors at the token); the checks that look at
//! several values or objects are in [`validate`], so that a configuration read from TOML is
//! checked the same way. Where keepalived repairs a configuration with a message (a port
//! reset, a quorum reduced, a flag cleared), keepalived-rs reports an error instead.

pub mod checker;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::cx::Cx;
use crate::diag::nearest;
use crate::keywords::{Block, Keyword};
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

pub use checker::{
    Checker, Connection, DnsCheck, DnsType, FileCheck, HttpCheck, HttpProtocol, MiscCheck,
    PingCheck, RegexOption, RegexStack, SmtpCheck, StatusCodes, TcpCheck, UdpCheck, Url,
};

/// The keyword table rows of the LVS blocks.
pub const KEYWORDS: &[Keyword] = rows::ROWS;

/// Longest timer keepalived accepts for `connect_timeout` (UINT_MAX µs).
pub const CONNECT_TIMEOUT_MAX: Timer = Timer::from_micros(u32::MAX as u64);
/// Longest timer accepted for the other LVS timers.
pub const TIMER_MAX: Timer = Timer::secs(u32::MAX as u64);
/// Longest persistence timeout (31 days), as keepalived.
pub const PERSISTENCE_TIMEOUT_MAX: u32 = 86_400 * 31;
/// The persistence timeout of a bare `persistence_timeout` (6 minutes).
pub const PERSISTENCE_TIMEOUT_DEFAULT: u32 = 360;
/// Largest IPVS weight (the kernel's INT32_MAX).
pub const WEIGHT_MAX: u32 = i32::MAX as u32;

/// Where the lines of an object are, for diagnostics found after parsing. Not part of the
/// model: it compares equal to every other `Lines` and is not serialised.
///
/// A configuration may hold tens of thousands of real servers and checkers, so this is
/// compact: the block's header and the first (name, position) entry inline, then the
/// others in one exact-size boxed slice behind a thin pointer; a name is an index into
/// [`line_names`] (no allocation when at most one keyword is recorded, no spare capacity).
#[derive(Debug, Clone)]
pub struct Lines {
    /// The line of the block's own keyword (line 0 when read from TOML).
    head: Pos,
    /// The first keyword given, when in the file of the header ([`NO_ENTRY`] when none).
    first: FirstLine,
    /// The other keywords given, and the values that failed to read ([`FAILED`] set), in
    /// order.
    more: Option<Box<MoreLines>>,
}

/// The first entry of [`Lines`]: a key and a line and column in the header's file.
#[derive(Debug, Clone, Copy)]
struct FirstLine {
    key: u16,
    line: u32,
    col: u32,
}

/// The entries of [`Lines`] after the first.
#[derive(Debug, Clone)]
struct MoreLines(Box<[(u16, Pos)]>);

/// The key of an empty [`Lines::first`].
const NO_ENTRY: u16 = u16::MAX;

impl Default for Lines {
    fn default() -> Lines {
        Lines {
            head: Pos::default(),
            first: FirstLine {
                key: NO_ENTRY,
                line: 0,
                col: 0,
            },
            more: None,
        }
    }
}

/// Marks an entry of [`Lines`] as a value that failed to read rather than a keyword.
const FAILED: u16 = 0x8000;

/// The names of failed values that are not keywords.
const FAILED_NAMES: &[&str] = &["entry"];

/// The keywords whose lines validation asks for (`get`, `has`, `last_of`): only these are
/// recorded by [`Lines::mark`], so that the lines of tens of thousands of real servers and
/// checkers cost little. A check that asks for another keyword fails a debug assertion:
/// add the keyword here.
const RECORDED: &[&str] = &[
    "bind_if",
    "bind_port",
    "bindto",
    "ca",
    "certificate",
    "connect_ip",
    "connect_port",
    "enable_sni",
    "ha_suspend",
    "hysteresis",
    "ip_family",
    "key",
    "lb_kind",
    "lthreshold",
    "lvs_method",
    "mh-fallback",
    "mh-port",
    "min_reply_length",
    "misc_path",
    "name",
    "ops",
    "password",
    "path",
    "persistence_engine",
    "persistence_granularity",
    "protocol",
    "quorum",
    "regex",
    "regex_max_offset",
    "regex_min_offset",
    "regex_no_match",
    "regex_options",
    "regex_stack",
    "sh-fallback",
    "sh-port",
    "sni_name",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "status_code",
    "tls_compliant",
    "track_file",
    "verify_certificate",
    "weight",
];

type LineNames = (
    Vec<&'static str>,
    HashMap<&'static str, u16, crate::keywords::FxBuild>,
    Vec<bool>,
);

/// Every keyword name of the keyword table, then [`FAILED_NAMES`], each with its index.
fn line_names() -> &'static LineNames {
    static NAMES: OnceLock<LineNames> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Vec::new();
        let mut index = HashMap::default();
        let all = crate::keywords::all()
            .map(|k| k.name)
            .chain(FAILED_NAMES.iter().copied());
        for name in all {
            if index.contains_key(name) {
                continue;
            }
            if let Ok(i) = u16::try_from(names.len()) {
                if i < FAILED && i | FAILED != NO_ENTRY {
                    index.insert(name, i);
                    names.push(name);
                }
            }
        }
        let recorded = names.iter().map(|n| RECORDED.contains(n)).collect();
        (names, index, recorded)
    })
}

/// True when keyword `kw` is one that [`Lines::mark`] records.
fn recorded(kw: &str) -> bool {
    line_key(kw).is_some_and(|k| line_names().2.get(usize::from(k)) == Some(&true))
}

/// The index of a keyword name (None for a name that is not in the table).
fn line_key(name: &str) -> Option<u16> {
    line_names().1.get(name).copied()
}

impl PartialEq for Lines {
    fn eq(&self, _: &Lines) -> bool {
        true
    }
}

impl Eq for Lines {}

impl Lines {
    /// Records the line of the block's own keyword (its header).
    pub fn head(&mut self, n: &Node) {
        if self.first.key != NO_ENTRY && self.head.0.file != n.loc.file {
            // The inline entry is in the old header's file: keep its file by moving it out.
            let v: Vec<(u16, Pos)> = self.entries().collect();
            self.first.key = NO_ENTRY;
            self.more = Some(Box::new(MoreLines(v.into_boxed_slice())));
        }
        self.head = Pos(n.loc);
    }

    fn push(&mut self, key: u16, n: &Node) {
        let entry = (key, Pos(n.loc));
        if self.first.key == NO_ENTRY && self.more.is_none() && n.loc.file == self.head.0.file {
            self.first = FirstLine {
                key,
                line: n.loc.line,
                col: n.loc.col,
            };
            return;
        }
        let mut v = self.more.take().map(|m| m.0.into_vec()).unwrap_or_default();
        v.reserve_exact(1);
        v.push(entry);
        self.more = Some(Box::new(MoreLines(v.into_boxed_slice())));
    }

    /// Records the line of keyword `n`.
    /// Only the keywords of [`RECORDED`] are kept: validation asks for no other.
    pub fn mark(&mut self, n: &Node) {
        if let Some(k) = line_key(n.kw()) {
            if line_names().2.get(usize::from(k)) == Some(&true) {
                self.push(k, n);
            }
        }
    }

    /// The entries recorded, in order.
    fn entries(&self) -> impl DoubleEndedIterator<Item = (u16, Pos)> + '_ {
        let f = self.first;
        let first = (f.key != NO_ENTRY).then(|| {
            let loc = crate::diag::Loc {
                line: f.line,
                col: f.col,
                ..self.head.0
            };
            (f.key, Pos(loc))
        });
        let more = self.more.as_deref().map_or(&[][..], |m| &m.0[..]);
        first.into_iter().chain(more.iter().copied())
    }

    /// Where the block starts (line 0 when read from TOML).
    pub fn pos(&self) -> Pos {
        self.head
    }

    /// Where the entry `key` was last recorded.
    fn find(&self, key: Option<u16>) -> Option<Pos> {
        let key = key?;
        self.entries()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, p)| p)
    }

    /// Where keyword `kw` was last given, or the block's start.
    pub fn get(&self, kw: &str) -> Pos {
        debug_assert!(recorded(kw), "'{kw}' is not recorded: add it to RECORDED");
        self.find(line_key(kw)).unwrap_or(self.head)
    }

    /// True when keyword `kw` was given.
    pub fn has(&self, kw: &str) -> bool {
        debug_assert!(recorded(kw), "'{kw}' is not recorded: add it to RECORDED");
        self.find(line_key(kw)).is_some()
    }

    /// Records that `what` was given but could not be read (an error is already reported),
    /// so that validation does not report it missing as well.
    pub fn failed(&mut self, what: &'static str, n: &Node) {
        debug_assert!(line_key(what).is_some(), "'{what}' is not in line_names");
        if let Some(k) = line_key(what) {
            self.push(k | FAILED, n);
        }
    }

    /// True when `what` was given but could not be read.
    pub fn has_failed(&self, what: &str) -> bool {
        self.find(line_key(what).map(|k| k | FAILED)).is_some()
    }

    /// The keyword among `kws` given last.
    fn last_of<'k>(&self, kws: &[&'k str]) -> Option<&'k str> {
        debug_assert!(
            kws.iter().all(|k| recorded(k)),
            "{kws:?}: not all recorded: add them to RECORDED"
        );
        let keys: Vec<Option<u16>> = kws.iter().map(|k| line_key(k)).collect();
        self.entries().rev().find_map(|(k, _)| {
            keys.iter()
                .position(|x| *x == Some(k))
                .and_then(|i| kws.get(i).copied())
        })
    }
}

// ---------------------------------------------------------------------------------------
// Small value types
// ---------------------------------------------------------------------------------------

/// An address family (`ip_family`, `fwmark N inet|inet6`): the one of the address syntaxes.
pub use crate::addr::Family;

/// The IPVS scheduler (`lvs_sched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (IPVS's and keepalived's default).
    #[default]
    Wlc,
    /// Locality-based least connection.
    Lblc,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
    /// Destination hashing.
    Dh,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Locality-based least connection with replication.
    Lblcr,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Weighted random twos choice.
    Twos,
}

/// Every scheduler name, in keepalived's order.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

impl Scheduler {
    fn from_name(s: &str) -> Option<Scheduler> {
        Some(match s {
            "rr" => Scheduler::Rr,
            "wrr" => Scheduler::Wrr,
            "lc" => Scheduler::Lc,
            "wlc" => Scheduler::Wlc,
            "lblc" => Scheduler::Lblc,
            "sh" => Scheduler::Sh,
            "mh" => Scheduler::Mh,
            "dh" => Scheduler::Dh,
            "fo" => Scheduler::Fo,
            "ovf" => Scheduler::Ovf,
            "lblcr" => Scheduler::Lblcr,
            "sed" => Scheduler::Sed,
            "nq" => Scheduler::Nq,
            "twos" => Scheduler::Twos,
            _ => return None,
        })
    }
}

/// The layer 4 protocol of a virtual server (`protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// The IPVS forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ForwardingMethod {
    /// Masquerading (the default).
    #[default]
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling.
    Tun,
}

/// The tunnel encapsulation of `lvs_method TUN type ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// IP in IP (the default).
    #[default]
    Ipip,
    /// Generic UDP encapsulation (needs a port).
    Gue,
    /// GRE.
    Gre,
}

/// The checksum option of a GUE or GRE tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelChecksum {
    /// No checksum (the default).
    Nocsum,
    /// Checksum.
    Csum,
    /// Remote checksum offload (GUE only).
    Remcsum,
}

/// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LvsMethod {
    /// NAT, DR or TUN.
    pub method: ForwardingMethod,
    /// The tunnel type (TUN only; ipip when absent).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub tunnel_type: Option<TunnelType>,
    /// The GUE port (gue only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The tunnel checksum option (gue and gre only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<TunnelChecksum>,
}

/// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length, written
/// `255.255.255.0` or `64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Granularity {
    /// An IPv4 netmask (the kernel accepts one that is not contiguous).
    Mask(Ipv4Addr),
    /// An IPv6 prefix length, 1 to 128.
    Prefix(u8),
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granularity::Mask(m) => write!(f, "{m}"),
            Granularity::Prefix(p) => write!(f, "{p}"),
        }
    }
}

impl Granularity {
    /// Reads `255.255.255.0` or `64`.
    pub fn parse(s: &str) -> Result<Granularity, String> {
        if s.contains('.') {
            s.parse::<Ipv4Addr>()
                .map(Granularity::Mask)
                .map_err(|_| format!("'{s}' is not an IPv4 netmask"))
        } else {
            match s.parse::<u8>() {
                Ok(p) if (1..=128).contains(&p) => Ok(Granularity::Prefix(p)),
                _ => Err(format!(
                    "'{s}' is neither an IPv4 netmask nor an IPv6 prefix length (1 to 128)"
                )),
            }
        }
    }

    fn family(self) -> Family {
        match self {
            Granularity::Mask(_) => Family::Inet,
            Granularity::Prefix(_) => Family::Inet6,
        }
    }
}

crate::types::string_form!(Granularity);

// ---------------------------------------------------------------------------------------
// SSL
// ---------------------------------------------------------------------------------------

/// `SSL { }`: the TLS client settings of SSL_GET checkers. Without it, or with none of its
/// files, SSL_GET uses a default context (no client certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ssl {
    /// `password STR`: the password of the private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `ca FILE`: the CAs to trust, PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// `certificate FILE`: the client certificate chain, PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// `key FILE`: the client private key, PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `verify_certificate [<BOOL>]` (keepalived-rs): SSL_GET verifies the server's
    /// certificate chain (against `ca`) and its name (the SNI name, else the address).
    /// keepalived never verifies; neither does keepalived-rs unless asked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub verify_certificate: bool,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

// ---------------------------------------------------------------------------------------
// virtual_server_group
// ---------------------------------------------------------------------------------------

/// `virtual_server_group NAME { }`: addresses, ranges and firewall marks shared by the
/// virtual servers that name the group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VirtualServerGroup {
    /// The group's name.
    pub name: String,
    /// `IP [PORT]` and `IP-RANGE [PORT]` entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GroupAddress>,
    /// `fwmark N [inet|inet6]` entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fwmarks: Vec<GroupFwmark>,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

/// An address or a range of addresses of a virtual_server_group, with its port.
/// `192.0.2.1-10`, `192.0.2.250-192.0.3.10` and `192.0.2.8/29` are read as their first and
/// last address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupAddress {
    /// The (first) address.
    pub first: IpAddr,
    /// The last address of a range (absent for a single address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<IpAddr>,
    /// The port (absent: the service is port-less, which needs persistence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Default for GroupAddress {
    fn default() -> Self {
        GroupAddress {
            first: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            last: None,
            port: None,
        }
    }
}

/// A `fwmark N [inet|inet6]` entry of a virtual_server_group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupFwmark {
    /// The firewall mark.
    pub fwmark: u32,
    /// The family (only needed when every real server is tunnelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
}

impl VirtualServerGroup {
    /// The families of its addresses and fwmarks.
    fn families(&self) -> (bool, bool) {
        let mut v4 = false;
        let mut v6 = false;
        for a in &self.addresses {
            match Family::of(&a.first) {
                Family::Inet => v4 = true,
                Family::Inet6 => v6 = true,
            }
        }
        for f in &self.fwmarks {
            match f.family {
                Some(Family::Inet) => v4 = true,
                Some(Family::Inet6) => v6 = true,
                None => {}
            }
        }
        (v4, v6)
    }
}

// ---------------------------------------------------------------------------------------
// virtual_server
// ---------------------------------------------------------------------------------------

/// `virtual_server IP [PORT] | fwmark N | group NAME { }`: one IPVS service (or one per
/// group entry) and its real servers.
///
/// A virtual server with no real server is not installed (keepalived drops it with a
/// message; keepalived-rs keeps it in the model, warns, and the IPVS writer skips it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VirtualServer {
    /// The virtual address (`virtual_server IP [PORT]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The virtual port (absent or 0: a port-less service, which needs persistence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `virtual_server fwmark N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// `virtual_server group NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `ip_family inet|inet6` (for fwmark services whose real servers are all tunnelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<Family>,
    /// `lvs_sched` (alias `lb_algo`), default wlc.
    pub lvs_sched: Scheduler,
    /// `ops`: one-packet scheduling (UDP only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ops: bool,
    /// `flag-1`: scheduler flag 1.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flag_1: bool,
    /// `flag-2`: scheduler flag 2.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flag_2: bool,
    /// `flag-3`: scheduler flag 3.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flag_3: bool,
    /// `sh-port` (sh scheduler only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sh_port: bool,
    /// `sh-fallback` (sh scheduler only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sh_fallback: bool,
    /// `mh-port` (mh scheduler only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mh_port: bool,
    /// `mh-fallback` (mh scheduler only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mh_fallback: bool,
    /// `lvs_method` (alias `lb_kind`): the default of the real servers; NAT when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_method: Option<LvsMethod>,
    /// `protocol TCP|UDP|SCTP`; absent on an address service means UDP (keepalived's
    /// default, with a warning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// `persistence_timeout [N]` in seconds (bare: 360).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_timeout: Option<u32>,
    /// `persistence_engine NAME` (only `sip` exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_engine: Option<String>,
    /// `persistence_granularity MASK` (also makes the service persistent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_granularity: Option<Granularity>,
    /// `ha_suspend`: suspend the checkers while the virtual address is absent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ha_suspend: bool,
    /// `smtp_alert <BOOL>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    /// `virtualhost NAME`: the default Host of the HTTP checkers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// `alpha`: start with every real server down.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alpha: bool,
    /// `omega`: run the quorum and real server down scripts on shutdown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub omega: bool,
    /// `quorum N`: the least live weight for the service to be up (default 1).
    pub quorum: u32,
    /// `hysteresis N` (default 0).
    pub hysteresis: u32,
    /// `quorum_up SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_up: Option<Box<Script>>,
    /// `quorum_down SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_down: Option<Box<Script>>,
    /// `weight N`: the default weight of the real servers (default 1).
    pub weight: u32,
    /// `inhibit_on_failure`: the default of the real servers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inhibit_on_failure: bool,
    /// `delay_loop T`: the default checker interval (default 60 s).
    pub delay_loop: Timer,
    /// `connect_timeout T`: the default checker connect timeout (default 5 s).
    pub connect_timeout: Timer,
    /// `retry N`: the default checker retry count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    /// `delay_before_retry T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<Timer>,
    /// `warmup T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Timer>,
    /// `sorry_server IP [PORT]`: used instead of the real servers when the quorum is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<SorryServer>,
    /// `sorry_server_inhibit`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sorry_server_inhibit: bool,
    /// `sorry_server_lvs_method`: the sorry server's forwarding (default: the service's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server_lvs_method: Option<LvsMethod>,
    /// `real_server` blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub real_servers: Vec<RealServer>,
    /// Where the lines are.
    #[serde(skip)]
    pub lines: Lines,
}

impl Default for VirtualServer {
    fn default() -> Self {
        VirtualServer {
            ip: None,
            port: None,
            fwmark: None,
            group: None,
            ip_family: None,
            lvs_sched: Scheduler::Wlc,
            ops: false,
            flag_1: false,
            flag_2: false,
            flag_3: false,
            sh_port: false,
            sh_fallback: false,
            mh_port: false,
            mh_fallback: false,
            lvs_method: None,
            protocol: None,
            persistence_timeout: None,
            persistence_engine: None,
            persistence_granularity: None,
            ha_suspend: false,
            smtp_alert: None,
            virtualhost: None,
            alpha: false,
            omega: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            weight: 1,
            inhibit_on_failure: false,
            delay_loop: Timer::secs(60),
            connect_timeout: Timer::secs(5),
            retry: None,
            delay_before_retry: None,
            warmup: None,
            sorry_server: None,
            sorry_server_inhibit: false,
            sorry_server_lvs_method: None,
            real_servers: Vec::new(),
            lines: Lines::default(),
        }
    }
}

impl VirtualServer {
    /// How the service is written in messages: `192.0.2.1:80`, `fwmark 1`, `group G`.
    pub fn label(&self) -> String {
        if let Some(g) = &self.group {
            format!("group {g}")
        } else if let Some(m) = self.fwmark {
            format!("fwmark {m}")
        } else {
            match (self.ip, self.port) {
                (Some(IpAddr::V6(a)), Some(p)) => format!("[{a}]:{p}"),
                (Some(a), Some(p)) => format!("{a}:{p}"),
                (Some(a), None) => a.to_string(),
                (None, _) => "(no address)".into(),
            }
        }
    }

    /// The effective persistence timeout: `persistence_timeout`, or 360 s when only
    /// `persistence_granularity` is given, as keepalived.
    pub fn effective_persistence_timeout(&self) -> Option<u32> {
        self.persistence_timeout.or(self
            .persistence_granularity
            .map(|_| PERSISTENCE_TIMEOUT_DEFAULT))
    }

    /// The forwarding method of a real server of this service.
    pub fn method_of(&self, rs: &RealServer) -> LvsMethod {
        rs.lvs_method.or(self.lvs_method).unwrap_or_default()
    }

    /// The forwarding method of the sorry server.
    pub fn sorry_method(&self) -> LvsMethod {
        self.sorry_server_lvs_method
            .or(self.lvs_method)
            .unwrap_or_default()
    }
}

/// `sorry_server IP [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SorryServer {
    /// Its address.
    pub ip: IpAddr,
    /// Its port (absent: the service's port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Default for SorryServer {
    fn default() -> Self {
        SorryServer {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// real_server
// ---------------------------------------------------------------------------------------

/// `real_server IP [PORT] { }`: one IPVS destination and its checkers. Unset values come
/// from the virtual server; the checkers take theirs from here.
///
/// The options configurations rarely set are kept out of line in [`RealServerExtra`] (read
/// them through the accessors), so that a configuration of tens of thousands of real servers
/// stays small; the serde form is flat, every option a field as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RealServerRepr", into = "RealServerRepr")]
pub struct RealServer {
    /// Its address.
    pub ip: IpAddr,
    /// Its port (absent: the service's port with NAT).
    pub port: Option<u16>,
    /// `weight N` (0 to 2147483647; absent: the service's `weight`).
    pub weight: Option<u32>,
    /// `lvs_method` (absent: the service's).
    pub lvs_method: Option<LvsMethod>,
    /// `notify_up SCRIPT`.
    pub notify_up: Option<Box<Script>>,
    /// `notify_down SCRIPT`.
    pub notify_down: Option<Box<Script>>,
    /// The options rarely set (`None` when none is).
    pub extra: Option<Box<RealServerExtra>>,
    /// The checker blocks (`TCP_CHECK { }`, `HTTP_GET { }`, ...), in the order written.
    pub checkers: Vec<Checker>,
    /// Where the lines are.
    pub lines: Lines,
}

/// The options of a real server that configurations rarely set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealServerExtra {
    /// `uthreshold N`: most connections (0: no limit).
    pub uthreshold: Option<u32>,
    /// `lthreshold N`: connections below which a server over uthreshold is used again.
    pub lthreshold: Option<u32>,
    /// `inhibit_on_failure [<BOOL>]`: weight 0 instead of removal on failure.
    pub inhibit_on_failure: Option<bool>,
    /// `alpha [<BOOL>]`.
    pub alpha: Option<bool>,
    /// `retry N`.
    pub retry: Option<u32>,
    /// `delay_before_retry T`.
    pub delay_before_retry: Option<Timer>,
    /// `warmup T`.
    pub warmup: Option<Timer>,
    /// `connect_timeout T`.
    pub connect_timeout: Option<Timer>,
    /// `delay_loop T`.
    pub delay_loop: Option<Timer>,
    /// `smtp_alert <BOOL>`.
    pub smtp_alert: Option<bool>,
    /// `virtualhost NAME`.
    pub virtualhost: Option<String>,
}

/// The flat serde form of [`RealServer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RealServerRepr {
    ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lvs_method: Option<LvsMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_up: Option<Box<Script>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_down: Option<Box<Script>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uthreshold: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lthreshold: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inhibit_on_failure: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpha: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_before_retry: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warmup: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_timeout: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_loop: Option<Timer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp_alert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtualhost: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checkers: Vec<Checker>,
}

impl Default for RealServerRepr {
    fn default() -> Self {
        RealServer::default().into()
    }
}

impl From<RealServerRepr> for RealServer {
    fn from(r: RealServerRepr) -> RealServer {
        let mut rs = RealServer {
            ip: r.ip,
            port: r.port,
            weight: r.weight,
            lvs_method: r.lvs_method,
            notify_up: r.notify_up,
            notify_down: r.notify_down,
            extra: Some(Box::new(RealServerExtra {
                uthreshold: r.uthreshold,
                lthreshold: r.lthreshold,
                inhibit_on_failure: r.inhibit_on_failure,
                alpha: r.alpha,
                retry: r.retry,
                delay_before_retry: r.delay_before_retry,
                warmup: r.warmup,
                connect_timeout: r.connect_timeout,
                delay_loop: r.delay_loop,
                smtp_alert: r.smtp_alert,
                virtualhost: r.virtualhost,
            })),
            checkers: r.checkers,
            lines: Lines::default(),
        };
        rs.shrink();
        rs
    }
}

impl From<RealServer> for RealServerRepr {
    fn from(rs: RealServer) -> RealServerRepr {
        let x = rs.extra.map(|b| *b).unwrap_or_default();
        RealServerRepr {
            ip: rs.ip,
            port: rs.port,
            weight: rs.weight,
            lvs_method: rs.lvs_method,
            notify_up: rs.notify_up,
            notify_down: rs.notify_down,
            uthreshold: x.uthreshold,
            lthreshold: x.lthreshold,
            inhibit_on_failure: x.inhibit_on_failure,
            alpha: x.alpha,
            retry: x.retry,
            delay_before_retry: x.delay_before_retry,
            warmup: x.warmup,
            connect_timeout: x.connect_timeout,
            delay_loop: x.delay_loop,
            smtp_alert: x.smtp_alert,
            virtualhost: x.virtualhost,
            checkers: rs.checkers,
        }
    }
}

impl Default for RealServer {
    fn default() -> Self {
        RealServer {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: None,
            weight: None,
            lvs_method: None,
            notify_up: None,
            notify_down: None,
            extra: None,
            checkers: Vec::new(),
            lines: Lines::default(),
        }
    }
}

/// Accessors of the options kept in [`RealServerExtra`].
macro_rules! rs_extra {
    ($($(#[$m:meta])* $f:ident: $ty:ty;)*) => {
        impl RealServer {
            $(
                $(#[$m])*
                pub fn $f(&self) -> $ty {
                    self.extra.as_deref().and_then(|x| x.$f)
                }
            )*
        }
    };
}

rs_extra! {
    /// `uthreshold N`: most connections (0: no limit).
    uthreshold: Option<u32>;
    /// `lthreshold N`: connections below which a server over uthreshold is used again.
    lthreshold: Option<u32>;
    /// `inhibit_on_failure [<BOOL>]`: weight 0 instead of removal on failure.
    inhibit_on_failure: Option<bool>;
    /// `alpha [<BOOL>]`.
    alpha: Option<bool>;
    /// `retry N`.
    retry: Option<u32>;
    /// `delay_before_retry T`.
    delay_before_retry: Option<Timer>;
    /// `warmup T`.
    warmup: Option<Timer>;
    /// `connect_timeout T`.
    connect_timeout: Option<Timer>;
    /// `delay_loop T`.
    delay_loop: Option<Timer>;
    /// `smtp_alert <BOOL>`.
    smtp_alert: Option<bool>;
}

impl RealServer {
    /// `virtualhost NAME`.
    pub fn virtualhost(&self) -> Option<&str> {
        self.extra.as_deref().and_then(|x| x.virtualhost.as_deref())
    }

    /// The rarely set options, for writing (allocated on first use).
    fn extra_mut(&mut self) -> &mut RealServerExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

impl RealServer {
    /// `IP:PORT` for messages.
    pub fn label(&self) -> String {
        match (self.ip, self.port) {
            (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
            (a, Some(p)) => format!("{a}:{p}"),
            (a, None) => a.to_string(),
        }
    }

    /// Frees spare capacity: a Vec's first push reserves room for four entries, and a
    /// configuration may hold tens of thousands of real servers with one checker each.
    fn shrink(&mut self) {
        self.checkers.shrink_to_fit();
        if self.extra.as_deref() == Some(&RealServerExtra::default()) {
            self.extra = None;
        }
    }

    /// The number of checkers.
    pub fn checker_count(&self) -> usize {
        self.checkers.len()
    }
}

/// Iterators over one kind of checker of a real server.
macro_rules! checkers_of {
    ($($(#[$m:meta])* $fn:ident => $variant:ident: $ty:ty;)*) => {
        impl RealServer {
            $(
                $(#[$m])*
                pub fn $fn(&self) -> impl Iterator<Item = &$ty> {
                    self.checkers.iter().filter_map(|c| match c {
                        Checker::$variant(c) => {
                            let c: &$ty = c;
                            Some(c)
                        }
                        _ => None,
                    })
                }
            )*
        }
    };
}

checkers_of! {
    /// The TCP_CHECK checkers.
    tcp_checks => TcpCheck: TcpCheck;
    /// The HTTP_GET checkers.
    http_gets => HttpGet: HttpCheck;
    /// The SSL_GET checkers.
    ssl_gets => SslGet: HttpCheck;
    /// The SMTP_CHECK checkers.
    smtp_checks => SmtpCheck: SmtpCheck;
    /// The DNS_CHECK checkers.
    dns_checks => DnsCheck: DnsCheck;
    /// The MISC_CHECK checkers.
    misc_checks => MiscCheck: MiscCheck;
    /// The UDP_CHECK checkers.
    udp_checks => UdpCheck: UdpCheck;
    /// The PING_CHECK checkers.
    ping_checks => PingCheck: PingCheck;
    /// The FILE_CHECK checkers.
    file_checks => FileCheck: FileCheck;
}

// ---------------------------------------------------------------------------------------
// Readers shared by the LVS blocks
// ---------------------------------------------------------------------------------------

/// Reports `n` when the value it sets was already given (keepalived keeps one of the two
/// with a message; keepalived-rs refuses the ambiguity). Returns true when it is new.
pub(crate) fn once<T>(cx: &mut Cx, n: &Node, slot: &Option<T>) -> bool {
    if slot.is_some() {
        cx.err_hint(
            n,
            format!("'{}' is given twice in this block", n.kw()),
            "keep one of them",
        );
        return false;
    }
    true
}

/// A port word: all zeros means "no port" when `zero_ok`, else 1 to 65535. `i` counts the
/// keyword as token 0.
pub(crate) fn port_tok(cx: &mut Cx, n: &Node, i: usize, zero_ok: bool) -> Result<Option<u16>, ()> {
    let Some(s) = n.tok(i) else {
        return Ok(None);
    };
    if zero_ok && !s.is_empty() && s.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => {
            let range = if zero_ok {
                "1 to 65535 (or 0 for none)"
            } else {
                "1 to 65535"
            };
            cx.err_tok(
                n,
                i,
                format!("'{s}' is not a port: {range}"),
                Some("ports are numbers; service names are not read".into()),
            );
            Err(())
        }
    }
}

/// A single address (no range, no prefix) at token `i`.
pub(crate) fn addr_tok(cx: &mut Cx, n: &Node, i: usize) -> Option<IpAddr> {
    let s = n.tok(i)?;
    match s.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            let hint = if s.contains('/') || s.contains('-') {
                "write one address: ranges and prefixes belong in a virtual_server_group"
            } else {
                "write an IPv4 or IPv6 address, e.g. 192.0.2.1 or 2001:db8::1"
            };
            cx.err_tok(
                n,
                i,
                format!("'{s}' is not an IP address"),
                Some(hint.into()),
            );
            None
        }
    }
}

/// A timer keyword in `lo..=hi`.
pub(crate) fn timer(cx: &mut Cx, n: &Node, lo: Timer, hi: Timer) -> Option<Timer> {
    cx.timer_kw(n, lo, hi)
}

/// `lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`: the syntax;
/// the combinations are checked by [`check_method`].
pub(crate) fn parse_lvs_method(cx: &mut Cx, n: &Node) -> Option<LvsMethod> {
    if !cx.no_block(n) {
        return None;
    }
    if n.nargs() == 0 {
        cx.args(n, 1, 1);
        return None;
    }
    let method = match cx.parse_choice(n, 0, &["NAT", "DR", "TUN"])? {
        "NAT" => ForwardingMethod::Nat,
        "DR" => ForwardingMethod::Dr,
        _ => ForwardingMethod::Tun,
    };
    let mut m = LvsMethod {
        method,
        ..LvsMethod::default()
    };
    let mut ok = true;
    let mut i = 1;
    while let Some(w) = n.arg(i) {
        match w {
            "type" => {
                if n.arg(i + 1).is_none() {
                    cx.err_arg(
                        n,
                        i,
                        "'type' needs a tunnel type",
                        Some("write type ipip, type gue or type gre".into()),
                    );
                    return None;
                }
                match cx.parse_choice(n, i + 1, &["ipip", "gue", "gre"]) {
                    Some("ipip") => m.tunnel_type = Some(TunnelType::Ipip),
                    Some("gue") => m.tunnel_type = Some(TunnelType::Gue),
                    Some(_) => m.tunnel_type = Some(TunnelType::Gre),
                    None => ok = false,
                }
                i += 2;
            }
            "port" => {
                if n.arg(i + 1).is_none() {
                    cx.err_arg(
                        n,
                        i,
                        "'port' needs the GUE port",
                        Some("write e.g. type gue port 6080".into()),
                    );
                    return None;
                }
                match cx.parse_u64(n, i + 1, 1, 65535) {
                    Some(p) => m.port = u16::try_from(p).ok(),
                    None => ok = false,
                }
                i += 2;
            }
            "nocsum" => {
                m.checksum = Some(TunnelChecksum::Nocsum);
                i += 1;
            }
            "csum" => {
                m.checksum = Some(TunnelChecksum::Csum);
                i += 1;
            }
            "remcsum" => {
                m.checksum = Some(TunnelChecksum::Remcsum);
                i += 1;
            }
            other => {
                let hint = nearest(other, ["type", "port", "nocsum", "csum", "remcsum"])
                    .map(|c| format!("did you mean '{c}'?"))
                    .unwrap_or_else(|| {
                        "tunnel options are: type ipip|gue|gre, port N, nocsum, csum, remcsum"
                            .into()
                    });
                cx.err_arg(
                    n,
                    i,
                    format!("unknown option '{other}' of '{}'", n.kw()),
                    Some(hint),
                );
                return None;
            }
        }
    }
    ok.then_some(m)
}

/// The combinations of an `lvs_method` that IPVS accepts.
pub(crate) fn check_method(cx: &mut Cx, m: &LvsMethod, pos: Pos, kw: &str) {
    let tunnel_opts = m.tunnel_type.is_some() || m.port.is_some() || m.checksum.is_some();
    if m.method != ForwardingMethod::Tun {
        if tunnel_opts {
            cx.err_at(
                pos,
                format!("tunnel options of '{kw}' apply only to TUN"),
                Some("remove the type/port/checksum options, or use TUN".into()),
            );
        }
        return;
    }
    let ty = m.tunnel_type.unwrap_or_default();
    match (ty, m.port) {
        (TunnelType::Gue, None) => cx.err_at(
            pos,
            format!("a gue tunnel needs a port ('{kw}')"),
            Some("write e.g. lvs_method TUN type gue port 6080".into()),
        ),
        (TunnelType::Ipip | TunnelType::Gre, Some(_)) => cx.err_at(
            pos,
            format!("'port' applies only to gue tunnels ('{kw}')"),
            Some("remove 'port N', or use type gue".into()),
        ),
        _ => {}
    }
    match (ty, m.checksum) {
        (TunnelType::Ipip, Some(TunnelChecksum::Csum | TunnelChecksum::Remcsum)) => cx.err_at(
            pos,
            format!("ipip tunnels have no checksum option ('{kw}')"),
            Some("use type gue or type gre for csum, or remove it".into()),
        ),
        (TunnelType::Gre, Some(TunnelChecksum::Remcsum)) => cx.err_at(
            pos,
            format!("gre tunnels do not support remcsum ('{kw}')"),
            Some("use csum or nocsum, or type gue".into()),
        ),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// SSL
// ---------------------------------------------------------------------------------------

/// Reads the entries of an `SSL` block.
pub fn parse_ssl(cx: &mut Cx, nodes: &[Node]) -> Ssl {
    let mut ssl = Ssl::default();
    cx.dispatch(Block::Ssl, nodes, |cx, n| {
        if n.kw() == "verify_certificate" {
            if let Some(b) = cx.bool_kw(n) {
                ssl.verify_certificate = b;
                ssl.lines.mark(n);
            }
            return;
        }
        let slot = match n.kw() {
            "password" => &mut ssl.password,
            "ca" => &mut ssl.ca,
            "certificate" => &mut ssl.certificate,
            "key" => &mut ssl.key,
            _ => return cx.unhandled(n),
        };
        if !once(cx, n, slot) {
            return;
        }
        if let Some(s) = cx.string_kw(n) {
            *slot = Some(s);
            ssl.lines.mark(n);
        }
    });
    ssl
}

// ---------------------------------------------------------------------------------------
// virtual_server_group
// ---------------------------------------------------------------------------------------

/// Reads a `virtual_server_group` node.
pub fn parse_virtual_server_group(cx: &mut Cx, n: &Node) -> Option<VirtualServerGroup> {
    let b = cx.block_args(n, 1, 1)?;
    let name = n.arg(0)?.to_string();
    let mut g = VirtualServerGroup {
        name,
        ..VirtualServerGroup::default()
    };
    g.lines.head(n);
    for e in b {
        if e.kw() == "fwmark" {
            cx.dispatch(
                Block::VirtualServerGroup,
                std::slice::from_ref(e),
                |cx, e| match group_fwmark(cx, e) {
                    Some(f) => g.fwmarks.push(f),
                    None => g.lines.failed("entry", e),
                },
            );
        } else {
            match group_address(cx, e) {
                Some(a) => g.addresses.push(a),
                None => g.lines.failed("entry", e),
            }
        }
    }
    Some(g)
}

fn group_fwmark(cx: &mut Cx, e: &Node) -> Option<GroupFwmark> {
    if !cx.args(e, 1, 2) {
        return None;
    }
    let fwmark = u32::try_from(cx.parse_u64(e, 0, 1, u64::from(u32::MAX))?).ok()?;
    let family = match e.arg(1) {
        None => None,
        Some(_) => match cx.parse_choice(e, 1, &["inet", "inet6"])? {
            "inet" => Some(Family::Inet),
            _ => Some(Family::Inet6),
        },
    };
    Some(GroupFwmark { fwmark, family })
}

fn group_address(cx: &mut Cx, e: &Node) -> Option<GroupAddress> {
    if e.block.is_some() {
        cx.err_hint(
            e,
            format!(
                "unknown keyword '{}' in virtual_server_group (its whole block is skipped)",
                e.kw()
            ),
            "a virtual_server_group lists 'IP [PORT]', 'IP-RANGE [PORT]' and 'fwmark N' lines",
        );
        return None;
    }
    let word = e.kw();
    let (first, last) = match parse_range(word) {
        Ok(r) => r,
        Err(msg) => {
            let hint = if word.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
                nearest(word, ["fwmark"])
                    .map(|c| format!("did you mean '{c}'?"))
                    .unwrap_or_else(|| {
                        "entries are 'IP [PORT]', 'IP-RANGE [PORT]' or 'fwmark N [inet|inet6]'"
                            .into()
                    })
            } else {
                "ranges are written 192.0.2.1-10, 192.0.2.250-192.0.3.10 or 192.0.2.8/29".into()
            };
            cx.err_tok(e, 0, msg, Some(hint));
            return None;
        }
    };
    if e.toks.len() > 2 {
        let extra = e.tok(2).unwrap_or("");
        cx.err_tok(
            e,
            2,
            format!("unexpected '{extra}' after the port"),
            Some("one address or range and an optional port per line".into()),
        );
        return None;
    }
    let port = port_tok(cx, e, 1, true).ok()?;
    Some(GroupAddress { first, last, port })
}

/// Reads `IP`, `a.b.c.d-e`, `a.b.c.d-e.f.g.h`, `a.b.c.d/nn` and their IPv6 forms into the
/// first and last address (absent for a single address).
pub fn parse_range(s: &str) -> Result<(IpAddr, Option<IpAddr>), String> {
    let bad_addr = |a: &str| format!("'{a}' is not an IP address, a range or 'fwmark'");
    if let Some((a, mask)) = s.split_once('/') {
        let first: IpAddr = a.parse().map_err(|_| bad_addr(a))?;
        let bits: u32 = match first {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let len = match mask.parse::<u32>() {
            Ok(l) if l >= 1 && l <= bits => l,
            _ => return Err(format!("'/{mask}' is not a prefix length of 1 to {bits}")),
        };
        return match first {
            IpAddr::V4(v4) => {
                let host = if len == 32 { 0 } else { u32::MAX >> len };
                let v = u32::from(v4);
                if v & host != 0 {
                    return Err(format!(
                        "'{s}' has host bits set: the network is {}/{len}",
                        Ipv4Addr::from(v & !host)
                    ));
                }
                let last = (len < 32).then(|| IpAddr::V4(Ipv4Addr::from(v | host)));
                Ok((first, last))
            }
            IpAddr::V6(v6) => {
                let host = if len == 128 { 0 } else { u128::MAX >> len };
                let v = u128::from(v6);
                if v & host != 0 {
                    return Err(format!(
                        "'{s}' has host bits set: the network is {}/{len}",
                        Ipv6Addr::from(v & !host)
                    ));
                }
                let last = (len < 128).then(|| IpAddr::V6(Ipv6Addr::from(v | host)));
                Ok((first, last))
            }
        };
    }
    let Some((a, end)) = s.split_once('-') else {
        return s
            .parse::<IpAddr>()
            .map(|a| (a, None))
            .map_err(|_| bad_addr(s));
    };
    let first: IpAddr = a.parse().map_err(|_| bad_addr(a))?;
    let full_end = match first {
        IpAddr::V4(_) => end.contains('.'),
        IpAddr::V6(_) => end.contains(':'),
    };
    if full_end {
        let last: IpAddr = end
            .parse()
            .map_err(|_| format!("the range end '{end}' is not an address"))?;
        let ordered = match (first, last) {
            (IpAddr::V4(f), IpAddr::V4(l)) => u32::from(f) <= u32::from(l),
            (IpAddr::V6(f), IpAddr::V6(l)) => u128::from(f) <= u128::from(l),
            _ => return Err(format!("the two ends of '{s}' are of different families")),
        };
        if !ordered {
            return Err(format!("the range '{s}' ends before it starts"));
        }
        return Ok((first, Some(last)));
    }
    match first {
        IpAddr::V4(v4) => {
            let e = match end.parse::<u8>() {
                Ok(e) => e,
                Err(_) => {
                    return Err(format!(
                        "the range end '{end}' is not a last byte (0 to 255)"
                    ));
                }
            };
            let o = v4.octets();
            if e <= o[3] {
                return Err(format!(
                    "the range '{s}' must end above its start ({} here)",
                    o[3]
                ));
            }
            Ok((first, Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], e)))))
        }
        IpAddr::V6(v6) => {
            let e = match u16::from_str_radix(end, 16) {
                Ok(e) if !end.starts_with('+') => e,
                _ => {
                    return Err(format!(
                        "the range end '{end}' is not a last group (hex 0 to ffff)"
                    ));
                }
            };
            let mut g = v6.segments();
            if e <= g[7] {
                return Err(format!(
                    "the range '{s}' must end above its start ({:x} here)",
                    g[7]
                ));
            }
            g[7] = e;
            Ok((first, Some(IpAddr::V6(Ipv6Addr::from(g)))))
        }
    }
}

// ---------------------------------------------------------------------------------------
// virtual_server
// ---------------------------------------------------------------------------------------

/// Reads a `virtual_server` node.
pub fn parse_virtual_server(cx: &mut Cx, n: &Node) -> Option<VirtualServer> {
    let b = cx.block_args(n, 1, 2)?;
    let mut vs = VirtualServer::default();
    vs.lines.head(n);
    let header_ok = read_vs_header(cx, n, &mut vs).is_some();
    // The block is read even when the header is wrong, so that its mistakes are reported.
    read_vs_block(cx, b, &mut vs);
    if !header_ok {
        return None;
    }
    if vs.real_servers.is_empty() {
        cx.warn_at(
            vs.lines.pos(),
            format!(
                "virtual_server {} has no real_server: it is not installed",
                vs.label()
            ),
            Some("add a real_server block, or remove the virtual_server".into()),
        );
    }
    // Tens of thousands of real servers: keep no spare capacity.
    vs.real_servers.shrink_to_fit();
    Some(vs)
}

/// `virtual_server IP [PORT]`, `virtual_server fwmark N` or `virtual_server group NAME`.
fn read_vs_header(cx: &mut Cx, n: &Node, vs: &mut VirtualServer) -> Option<()> {
    match n.arg(0) {
        Some("fwmark") => {
            if n.arg(1).is_none() {
                cx.err_hint(
                    n,
                    "'virtual_server fwmark' needs the mark",
                    "write virtual_server fwmark 1 {",
                );
                return None;
            }
            let m = cx.parse_u64(n, 1, 1, u64::from(u32::MAX))?;
            vs.fwmark = Some(u32::try_from(m).ok()?);
        }
        Some("group") => {
            let Some(g) = n.arg(1) else {
                cx.err_hint(
                    n,
                    "'virtual_server group' needs the group's name",
                    "write virtual_server group NAME {",
                );
                return None;
            };
            vs.group = Some(g.to_string());
        }
        _ => {
            vs.ip = Some(addr_tok(cx, n, 1)?);
            vs.port = port_tok(cx, n, 2, true).ok()?;
        }
    }
    Some(())
}

/// Keywords whose meaning keepalived fixes when they are read, so their order matters.
struct VsOrder<'n> {
    /// `sh-port` and friends with the scheduler in force when they were read.
    sched_flags: Vec<(&'n Node, Scheduler)>,
    /// The service's lvs_method when each real server without its own was read.
    inherited: Vec<(&'n Node, Option<LvsMethod>)>,
    /// The service's lvs_method when the sorry server was read.
    sorry_inherited: Option<(&'n Node, Option<LvsMethod>)>,
}

fn read_vs_block(cx: &mut Cx, b: &[Node], vs: &mut VirtualServer) {
    let mut order = VsOrder {
        sched_flags: Vec::new(),
        inherited: Vec::new(),
        sorry_inherited: None,
    };
    cx.dispatch(Block::VirtualServer, b, |cx, n| {
        let mut mark = true;
        match n.kw() {
            "ip_family" => match cx.choice_kw(n, &["inet", "inet6"]) {
                Some("inet") => vs.ip_family = Some(Family::Inet),
                Some(_) => vs.ip_family = Some(Family::Inet6),
                None => mark = false,
            },
            "retry" => vs.retry = cx.u32_kw(n, 1, u32::MAX).or(vs.retry),
            "delay_before_retry" => {
                vs.delay_before_retry = timer(cx, n, Timer::from_micros(0), TIMER_MAX).or(vs.delay_before_retry)
            }
            "warmup" => vs.warmup = timer(cx, n, Timer::from_micros(0), TIMER_MAX).or(vs.warmup),
            "connect_timeout" => {
                if let Some(t) = timer(cx, n, Timer::from_micros(1), CONNECT_TIMEOUT_MAX) {
                    vs.connect_timeout = t;
                }
            }
            "delay_loop" => {
                if let Some(t) = timer(cx, n, Timer::from_micros(1), TIMER_MAX) {
                    vs.delay_loop = t;
                }
            }
            "inhibit_on_failure" => vs.inhibit_on_failure |= cx.flag_kw(n),
            "lvs_sched" | "lb_algo" => {
                if let Some(s) = cx.choice_kw(n, SCHEDULERS).and_then(Scheduler::from_name) {
                    vs.lvs_sched = s;
                }
            }
            "ops" => vs.ops |= cx.flag_kw(n),
            "flag-1" => vs.flag_1 |= cx.flag_kw(n),
            "flag-2" => vs.flag_2 |= cx.flag_kw(n),
            "flag-3" => vs.flag_3 |= cx.flag_kw(n),
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                if cx.flag_kw(n) {
                    match n.kw() {
                        "sh-port" => vs.sh_port = true,
                        "sh-fallback" => vs.sh_fallback = true,
                        "mh-port" => vs.mh_port = true,
                        _ => vs.mh_fallback = true,
                    }
                    order.sched_flags.push((n, vs.lvs_sched));
                }
            }
            "lvs_method" | "lb_kind" => match parse_lvs_method(cx, n) {
                Some(m) => vs.lvs_method = Some(m),
                None => mark = false,
            },
            "persistence_engine" => {
                if let Some(s) = cx.string_kw(n) {
                    vs.persistence_engine = Some(s);
                }
            }
            "persistence_timeout" => {
                if cx.args(n, 0, 1) {
                    if n.nargs() == 0 {
                        vs.persistence_timeout = Some(PERSISTENCE_TIMEOUT_DEFAULT);
                    } else if let Some(t) =
                        cx.parse_u64(n, 0, 1, u64::from(PERSISTENCE_TIMEOUT_MAX))
                    {
                        vs.persistence_timeout = u32::try_from(t).ok();
                    }
                }
            }
            "persistence_granularity" => {
                if let Some(s) = cx.string_kw(n) {
                    match Granularity::parse(&s) {
                        Ok(g) => vs.persistence_granularity = Some(g),
                        Err(msg) => cx.err_arg(
                            n,
                            0,
                            msg,
                            Some("write a netmask such as 255.255.255.0 for IPv4, or a prefix length such as 64 for IPv6".into()),
                        ),
                    }
                }
            }
            "protocol" => {
                if cx.args(n, 1, 1) {
                    let s = n.arg(0).unwrap_or("");
                    match s.to_ascii_uppercase().as_str() {
                        "TCP" => vs.protocol = Some(Protocol::Tcp),
                        "UDP" => vs.protocol = Some(Protocol::Udp),
                        "SCTP" => vs.protocol = Some(Protocol::Sctp),
                        _ => {
                            mark = false;
                            cx.err_arg(
                                n,
                                0,
                                format!("'{s}' is not valid for 'protocol': one of TCP, UDP, SCTP"),
                                None,
                            );
                        }
                    }
                }
            }
            "ha_suspend" => vs.ha_suspend |= cx.flag_kw(n),
            "smtp_alert" => vs.smtp_alert = cx.bool_kw(n).or(vs.smtp_alert),
            "virtualhost" => {
                if once(cx, n, &vs.virtualhost) {
                    vs.virtualhost = cx.string_kw(n);
                }
            }
            "alpha" => vs.alpha |= cx.flag_kw(n),
            "omega" => vs.omega |= cx.flag_kw(n),
            "quorum_up" => {
                if once(cx, n, &vs.quorum_up) {
                    vs.quorum_up = cx.script_kw(n).map(Box::new);
                }
            }
            "quorum_down" => {
                if once(cx, n, &vs.quorum_down) {
                    vs.quorum_down = cx.script_kw(n).map(Box::new);
                }
            }
            "quorum" => {
                if let Some(q) = cx.u32_kw(n, 1, u32::MAX) {
                    vs.quorum = q;
                }
            }
            "hysteresis" => {
                if let Some(h) = cx.u32_kw(n, 0, u32::MAX) {
                    vs.hysteresis = h;
                }
            }
            "weight" => {
                if let Some(w) = cx.u32_kw(n, 1, WEIGHT_MAX) {
                    vs.weight = w;
                }
            }
            "sorry_server" => {
                mark = false;
                if once(cx, n, &vs.sorry_server) && cx.args(n, 1, 2) {
                    let ip = addr_tok(cx, n, 1);
                    let port = ip.and_then(|_| port_tok(cx, n, 2, true).ok());
                    if let (Some(ip), Some(port)) = (ip, port) {
                        vs.sorry_server = Some(SorryServer { ip, port });
                        order.sorry_inherited = Some((n, vs.lvs_method));
                        mark = true;
                    }
                }
            }
            "sorry_server_inhibit" => {
                if vs.sorry_server.is_none() {
                    mark = false;
                    cx.err_hint(
                        n,
                        "'sorry_server_inhibit' comes before or without 'sorry_server'",
                        "keepalived ignores it there: put it after the sorry_server line",
                    );
                } else {
                    vs.sorry_server_inhibit |= cx.flag_kw(n);
                }
            }
            "sorry_server_lvs_method" => {
                if vs.sorry_server.is_none() {
                    mark = false;
                    cx.err_hint(
                        n,
                        "'sorry_server_lvs_method' comes before or without 'sorry_server'",
                        "keepalived ignores it there: put it after the sorry_server line",
                    );
                } else if let Some(m) = parse_lvs_method(cx, n) {
                    vs.sorry_server_lvs_method = Some(m);
                    order.sorry_inherited = None;
                }
            }
            "real_server" => {
                mark = false;
                if let Some(rs) = parse_real_server(cx, n) {
                    if rs.lvs_method.is_none() {
                        order.inherited.push((n, vs.lvs_method));
                    }
                    vs.real_servers.push(rs);
                }
            }
            _ => {
                mark = false;
                cx.unhandled(n);
            }
        }
        if mark {
            vs.lines.mark(n);
        }
    });
    // keepalived applies these when it reads them; a later lvs_sched or lvs_method does not
    // reach back. Refuse the orders where that makes the configuration say something else.
    for (n, sched) in order.sched_flags {
        let needs = if n.kw().starts_with("sh") {
            Scheduler::Sh
        } else {
            Scheduler::Mh
        };
        if sched != needs && vs.lvs_sched == needs {
            cx.err_hint(
                n,
                format!(
                    "'{}' comes before 'lvs_sched {}': keepalived ignores it there",
                    n.kw(),
                    if needs == Scheduler::Sh { "sh" } else { "mh" }
                ),
                "move the lvs_sched line above it",
            );
        }
    }
    for (n, m) in order.inherited {
        if m.is_some() && m != vs.lvs_method {
            cx.err_hint(
                n,
                "'lvs_method' of the virtual_server changes after this real_server: keepalived gives this server the earlier method",
                "give the real_server its own lvs_method, or keep one lvs_method above the real servers",
            );
        }
    }
    let sorry_changed = order
        .sorry_inherited
        .filter(|(_, m)| m.is_some() && *m != vs.lvs_method);
    if let Some((n, _)) = sorry_changed {
        cx.err_hint(
            n,
            "'lvs_method' of the virtual_server changes after the sorry_server: keepalived gives the sorry server the earlier method",
            "use sorry_server_lvs_method, or keep one lvs_method above the sorry_server",
        );
    }
}

// ---------------------------------------------------------------------------------------
// real_server
// ---------------------------------------------------------------------------------------

fn parse_real_server(cx: &mut Cx, n: &Node) -> Option<RealServer> {
    let b = cx.block_args(n, 1, 2)?;
    let ip = addr_tok(cx, n, 1);
    let port = match ip {
        Some(_) => port_tok(cx, n, 2, true).ok(),
        None => None,
    };
    let mut rs = RealServer {
        ip: ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        port: port.flatten(),
        ..RealServer::default()
    };
    rs.lines.head(n);
    cx.dispatch(Block::RealServer, b, |cx, n| {
        let mut mark = true;
        match n.kw() {
            "weight" => rs.weight = cx.u32_kw(n, 0, WEIGHT_MAX).or(rs.weight),
            "lvs_method" => match parse_lvs_method(cx, n) {
                Some(m) => rs.lvs_method = Some(m),
                None => mark = false,
            },
            "uthreshold" => {
                if let Some(v) = cx.u32_kw(n, 0, u32::MAX) {
                    rs.extra_mut().uthreshold = Some(v);
                }
            }
            "lthreshold" => {
                if let Some(v) = cx.u32_kw(n, 0, u32::MAX) {
                    rs.extra_mut().lthreshold = Some(v);
                }
            }
            "inhibit_on_failure" => {
                if let Some(v) = cx.bool_kw(n) {
                    rs.extra_mut().inhibit_on_failure = Some(v);
                }
            }
            "notify_up" => {
                if once(cx, n, &rs.notify_up) {
                    rs.notify_up = cx.script_kw(n).map(Box::new);
                }
            }
            "notify_down" => {
                if once(cx, n, &rs.notify_down) {
                    rs.notify_down = cx.script_kw(n).map(Box::new);
                }
            }
            "alpha" => {
                if let Some(v) = cx.bool_kw(n) {
                    rs.extra_mut().alpha = Some(v);
                }
            }
            "retry" => {
                if let Some(v) = cx.u32_kw(n, 1, u32::MAX) {
                    rs.extra_mut().retry = Some(v);
                }
            }
            "delay_before_retry" => {
                if let Some(v) = timer(cx, n, Timer::from_micros(0), TIMER_MAX) {
                    rs.extra_mut().delay_before_retry = Some(v);
                }
            }
            "warmup" => {
                if let Some(v) = timer(cx, n, Timer::from_micros(0), TIMER_MAX) {
                    rs.extra_mut().warmup = Some(v);
                }
            }
            "connect_timeout" => {
                if let Some(v) = timer(cx, n, Timer::from_micros(1), CONNECT_TIMEOUT_MAX) {
                    rs.extra_mut().connect_timeout = Some(v);
                }
            }
            "delay_loop" => {
                if let Some(v) = timer(cx, n, Timer::from_micros(1), TIMER_MAX) {
                    rs.extra_mut().delay_loop = Some(v);
                }
            }
            "smtp_alert" => {
                if let Some(v) = cx.bool_kw(n) {
                    rs.extra_mut().smtp_alert = Some(v);
                }
            }
            "virtualhost" => {
                let given = rs.virtualhost().map(|_| ());
                if once(cx, n, &given) {
                    if let Some(v) = cx.string_kw(n) {
                        rs.extra_mut().virtualhost = Some(v);
                    }
                }
            }
            "TCP_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_tcp(cx, n).map(Checker::TcpCheck));
            }
            "HTTP_GET" => {
                mark = false;
                rs.checkers.extend(
                    checker::parse_http(cx, n, false).map(|c| Checker::HttpGet(Box::new(c))),
                );
            }
            "SSL_GET" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_http(cx, n, true).map(|c| Checker::SslGet(Box::new(c))));
            }
            "SMTP_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_smtp(cx, n).map(|c| Checker::SmtpCheck(Box::new(c))));
            }
            "DNS_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_dns(cx, n).map(|c| Checker::DnsCheck(Box::new(c))));
            }
            "MISC_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_misc(cx, n).map(|c| Checker::MiscCheck(Box::new(c))));
            }
            "UDP_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_udp(cx, n).map(|c| Checker::UdpCheck(Box::new(c))));
            }
            "PING_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_ping(cx, n).map(Checker::PingCheck));
            }
            "FILE_CHECK" => {
                mark = false;
                rs.checkers
                    .extend(checker::parse_file(cx, n).map(|c| Checker::FileCheck(Box::new(c))));
            }
            _ => {
                mark = false;
                cx.unhandled(n);
            }
        }
        if mark {
            rs.lines.mark(n);
        }
    });
    // The block was read even when the address is wrong, so that its mistakes are reported.
    rs.shrink();
    port.map(|_| rs)
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/// Checks of the LVS configuration.
pub fn validate(cx: &mut Cx, config: &Config) {
    if let Some(ssl) = &config.ssl {
        validate_ssl(cx, ssl, config);
    }
    let mut groups: HashMap<&str, &VirtualServerGroup> = HashMap::new();
    for g in &config.virtual_server_groups {
        validate_group(cx, g);
        if groups.contains_key(g.name.as_str()) {
            cx.err_at(
                g.lines.pos(),
                format!("virtual_server_group '{}' is defined twice", g.name),
                Some("keepalived uses the first one only; merge them or rename one".into()),
            );
        } else {
            groups.insert(&g.name, g);
        }
    }
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for vs in &config.virtual_servers {
        let group = vs.group.as_deref().and_then(|g| groups.get(g).copied());
        validate_vs(cx, vs, group, &groups, config);
        if let Some(key) = vs_key(vs, group) {
            if let Some(first) = seen.get(&key) {
                cx.err_at(
                    vs.lines.pos(),
                    format!(
                        "virtual_server {} is defined twice{}",
                        vs.label(),
                        first_at(*first)
                    ),
                    Some(
                        "merge the two blocks: IPVS has one service per address, port and protocol"
                            .into(),
                    ),
                );
            } else {
                seen.insert(key, vs.lines.pos());
            }
        }
    }
    for g in &config.virtual_server_groups {
        let used = config
            .virtual_servers
            .iter()
            .any(|v| v.group.as_deref() == Some(g.name.as_str()));
        if !used {
            cx.warn_at(
                g.lines.pos(),
                format!("virtual_server_group '{}' is not used", g.name),
                Some(format!(
                    "a virtual_server uses it with 'virtual_server group {} {{'",
                    g.name
                )),
            );
        }
    }
}

/// " (first at line N)" when the first one has a line.
fn first_at(first: Pos) -> String {
    if first.0.line > 0 {
        format!(" (first at line {})", first.0.line)
    } else {
        String::new()
    }
}

/// The identity of a service, for finding duplicates.
fn vs_key(vs: &VirtualServer, group: Option<&VirtualServerGroup>) -> Option<String> {
    let proto = vs
        .protocol
        .map(|p| format!("{p:?}"))
        .unwrap_or_else(|| "Udp".into());
    if let Some(g) = &vs.group {
        let fam = vs
            .ip_family
            .or_else(|| group.and_then(group_family))
            .map(|f| format!("{f:?}"))
            .unwrap_or_default();
        return Some(format!("group {g} {proto} {fam}"));
    }
    if let Some(m) = vs.fwmark {
        let fam = vs.ip_family.map(|f| format!("{f:?}")).unwrap_or_default();
        return Some(format!("fwmark {m} {fam}"));
    }
    let ip = vs.ip?;
    Some(format!("{ip} {} {proto}", vs.port.unwrap_or(0)))
}

/// The one family of a group's addresses, if they have one.
fn group_family(g: &VirtualServerGroup) -> Option<Family> {
    match g.families() {
        (true, false) => Some(Family::Inet),
        (false, true) => Some(Family::Inet6),
        _ => None,
    }
}

fn validate_ssl(cx: &mut Cx, ssl: &Ssl, config: &Config) {
    let pos = ssl.lines.pos();
    match (&ssl.certificate, &ssl.key) {
        (Some(_), None) => cx.err_at(
            ssl.lines.get("certificate"),
            "SSL 'certificate' without 'key': the client certificate cannot be used",
            Some("add 'key FILE' (it may name the same PEM file if it holds the key too)".into()),
        ),
        (None, Some(_)) => cx.err_at(
            ssl.lines.get("key"),
            "SSL 'key' without 'certificate': a private key alone is never used",
            Some("add 'certificate FILE', or remove 'key'".into()),
        ),
        _ => {}
    }
    if ssl.verify_certificate && ssl.ca.is_none() {
        cx.err_at(
            ssl.lines.get("verify_certificate"),
            "SSL 'verify_certificate' without 'ca': no certificate could be verified",
            Some(
                "add 'ca FILE' with the certificates to trust (keepalived-rs does not read the \
                 system's store)"
                    .into(),
            ),
        );
    }
    if ssl.password.is_some() && ssl.key.is_none() {
        cx.warn_at(
            ssl.lines.get("password"),
            "SSL 'password' without 'key': it only decrypts the private key",
            None,
        );
    }
    let used = config
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .flat_map(|r| &r.checkers)
        .any(|c| matches!(c, Checker::SslGet(_)));
    if !used {
        cx.warn_at(
            pos,
            "the SSL block is not used: no SSL_GET checker",
            Some("it applies to SSL_GET checkers only".into()),
        );
    }
}

fn validate_group(cx: &mut Cx, g: &VirtualServerGroup) {
    let pos = g.lines.pos();
    if g.name.is_empty() {
        cx.err_at(pos, "a virtual_server_group needs a name", None);
    }
    if g.addresses.is_empty() && g.fwmarks.is_empty() && !g.lines.has_failed("entry") {
        cx.err_at(
            pos,
            format!("virtual_server_group '{}' has no entries", g.name),
            Some("keepalived drops an empty group, and every virtual_server using it".into()),
        );
        return;
    }
    for a in &g.addresses {
        if a.first.is_unspecified() {
            cx.err_at(
                pos,
                format!(
                    "virtual_server_group '{}' has an entry without an address",
                    g.name
                ),
                None,
            );
        }
        if a.port == Some(0) {
            cx.err_at(
                pos,
                format!("virtual_server_group '{}': port 0", g.name),
                Some("leave the port out for a port-less entry".into()),
            );
        }
        if let Some(last) = a.last {
            let ok = match (a.first, last) {
                (IpAddr::V4(f), IpAddr::V4(l)) => u32::from(f) <= u32::from(l),
                (IpAddr::V6(f), IpAddr::V6(l)) => u128::from(f) <= u128::from(l),
                _ => false,
            };
            if !ok {
                cx.err_at(
                    pos,
                    format!(
                        "virtual_server_group '{}': the range {}-{} is not ordered or mixes families",
                        g.name, a.first, last
                    ),
                    None,
                );
            }
        }
    }
    for f in &g.fwmarks {
        if f.fwmark == 0 {
            cx.err_at(
                pos,
                format!("virtual_server_group '{}': fwmark 0 marks nothing", g.name),
                Some("firewall marks start at 1".into()),
            );
        }
    }
    let (v4, v6) = g.families();
    if v4 && v6 && g.fwmarks.iter().any(|f| f.family.is_none()) {
        cx.err_at(
            pos,
            format!(
                "virtual_server_group '{}' has IPv4 and IPv6 entries and a fwmark without a family",
                g.name
            ),
            Some("write 'fwmark N inet' or 'fwmark N inet6'".into()),
        );
    }
}

/// What a virtual server is made of, for the checks that depend on it.
struct Shape<'a> {
    group: Option<&'a VirtualServerGroup>,
    has_addresses: bool,
    has_fwmarks: bool,
    family: Option<Family>,
    ports: Vec<u16>,
}

fn validate_vs(
    cx: &mut Cx,
    vs: &VirtualServer,
    group: Option<&VirtualServerGroup>,
    groups: &HashMap<&str, &VirtualServerGroup>,
    config: &Config,
) {
    let pos = vs.lines.pos();
    let kinds = usize::from(vs.ip.is_some())
        + usize::from(vs.fwmark.is_some())
        + usize::from(vs.group.is_some());
    if kinds != 1 {
        cx.err_at(
            pos,
            "a virtual_server is one of: an address (ip, port), a fwmark, or a group",
            None,
        );
        return;
    }
    if vs.port == Some(0) {
        cx.err_at(
            pos,
            "virtual_server port 0",
            Some("leave the port out for a port-less service".into()),
        );
    }
    if vs.fwmark == Some(0) {
        cx.err_at(
            pos,
            "virtual_server fwmark 0 marks nothing",
            Some("firewall marks start at 1".into()),
        );
    }
    if let (Some(name), None) = (&vs.group, group) {
        let hint = nearest(name, groups.keys().copied())
            .map(|g| format!("did you mean '{g}'?"))
            .unwrap_or_else(|| "define it with virtual_server_group NAME { ... }".into());
        cx.err_at(
            pos,
            format!("virtual_server group '{name}': no virtual_server_group of that name"),
            Some(hint),
        );
    }
    let shape = shape_of(cx, vs, group);
    validate_service(cx, vs, &shape);
    validate_servers(cx, vs, &shape, config);
}

fn shape_of<'a>(
    cx: &mut Cx,
    vs: &VirtualServer,
    group: Option<&'a VirtualServerGroup>,
) -> Shape<'a> {
    let (has_addresses, has_fwmarks) = match (&vs.group, group) {
        (Some(_), Some(g)) => (!g.addresses.is_empty(), !g.fwmarks.is_empty()),
        (Some(_), None) => (false, false),
        (None, _) => (vs.ip.is_some(), vs.fwmark.is_some()),
    };
    // The service's family: its address, its group's, ip_family, or else its non-tunnelled
    // servers'.
    let own_family = match (vs.ip, group) {
        (Some(ip), _) => Some(Family::of(&ip)),
        (None, Some(g)) => group_family(g),
        (None, None) => None,
    };
    if let (Some(f), Some(fam)) = (vs.ip_family, own_family) {
        if f != fam {
            cx.err_at(
                vs.lines.get("ip_family"),
                format!(
                    "'ip_family {}' conflicts with the service's {} addresses",
                    match f {
                        Family::Inet => "inet",
                        Family::Inet6 => "inet6",
                    },
                    fam.keyword_name()
                ),
                None,
            );
        }
    }
    if let Some(g) = group {
        let all_tun = vs
            .real_servers
            .iter()
            .all(|r| vs.method_of(r).method == ForwardingMethod::Tun);
        if g.families() == (true, true) && !all_tun {
            cx.err_at(
                vs.lines.pos(),
                format!(
                    "group '{}' mixes IPv4 and IPv6: every real server must then use TUN",
                    g.name
                ),
                None,
            );
        }
    }
    let family = own_family.or(vs.ip_family).or_else(|| {
        vs.real_servers
            .iter()
            .find(|r| vs.method_of(r).method != ForwardingMethod::Tun)
            .map(|r| Family::of(&r.ip))
    });
    let ports = match group {
        Some(g) => g.addresses.iter().filter_map(|a| a.port).collect(),
        None => vs.port.into_iter().collect(),
    };
    Shape {
        group,
        has_addresses,
        has_fwmarks,
        family,
        ports,
    }
}

/// The service's own settings.
fn validate_service(cx: &mut Cx, vs: &VirtualServer, shape: &Shape<'_>) {
    let pos = vs.lines.pos();
    let persistent = vs.effective_persistence_timeout().is_some();
    if shape.has_addresses {
        if vs.protocol.is_none() {
            cx.warn_at(
                pos,
                format!("virtual_server {}: no protocol, UDP is used", vs.label()),
                Some("write 'protocol TCP', 'protocol UDP' or 'protocol SCTP'".into()),
            );
        }
        if vs.ops && vs.protocol.is_some_and(|p| p != Protocol::Udp) {
            cx.err_at(
                vs.lines.get("ops"),
                "'ops' (one-packet scheduling) needs protocol UDP",
                Some("remove 'ops', or use protocol UDP".into()),
            );
        }
        let portless = match shape.group {
            None => vs.port.is_none(),
            Some(g) => g.addresses.iter().any(|a| a.port.is_none()),
        };
        if portless && !persistent {
            cx.err_at(
                pos,
                format!(
                    "virtual_server {}: a service without a port must be persistent",
                    vs.label()
                ),
                Some(
                    "add 'persistence_timeout' (keepalived adds 360 s itself), or give a port"
                        .into(),
                ),
            );
        }
    } else if shape.has_fwmarks && vs.protocol.is_some() {
        cx.err_at(
            vs.lines.get("protocol"),
            format!(
                "virtual_server {}: 'protocol' is ignored for a fwmark service",
                vs.label()
            ),
            Some("remove 'protocol': IPVS matches the firewall mark alone".into()),
        );
    }
    if vs.ha_suspend && shape.has_fwmarks {
        cx.err_at(
            vs.lines.get("ha_suspend"),
            "'ha_suspend' cannot work with a fwmark service (there is no address to wait for)",
            Some("remove 'ha_suspend'".into()),
        );
    }
    for (on, kw, needs) in [
        (vs.sh_port, "sh-port", Scheduler::Sh),
        (vs.sh_fallback, "sh-fallback", Scheduler::Sh),
        (vs.mh_port, "mh-port", Scheduler::Mh),
        (vs.mh_fallback, "mh-fallback", Scheduler::Mh),
    ] {
        if on && vs.lvs_sched != needs {
            let s = if needs == Scheduler::Sh { "sh" } else { "mh" };
            cx.err_at(
                vs.lines.get(kw),
                format!("'{kw}' applies only to the {s} scheduler"),
                Some(format!("add 'lvs_sched {s}' above it, or remove '{kw}'")),
            );
        }
    }
    if let Some(pe) = vs.persistence_engine.as_ref().filter(|pe| *pe != "sip") {
        cx.err_at(
            vs.lines.get("persistence_engine"),
            format!("unknown persistence engine '{pe}'"),
            Some("the only IPVS persistence engine is 'sip'".into()),
        );
    }
    if let (Some(g), Some(fam)) = (vs.persistence_granularity, shape.family) {
        if g.family() != fam {
            cx.err_at(
                vs.lines.get("persistence_granularity"),
                format!(
                    "'persistence_granularity {g}' is for {} but the service is {}",
                    g.family().keyword_name(),
                    fam.keyword_name()
                ),
                Some("IPv4 takes a netmask (255.255.255.0), IPv6 a prefix length (64)".into()),
            );
        }
    }
    if let Some(m) = &vs.lvs_method {
        check_method(cx, m, vs.lines.get(method_kw(&vs.lines)), "lvs_method");
    }
    if let Some(m) = &vs.sorry_server_lvs_method {
        check_method(
            cx,
            m,
            vs.lines.get("sorry_server_lvs_method"),
            "sorry_server_lvs_method",
        );
    }
    if vs.weight == 0 || vs.weight > WEIGHT_MAX {
        cx.err_at(
            vs.lines.get("weight"),
            format!(
                "virtual_server weight {} is outside 1 to {WEIGHT_MAX}",
                vs.weight
            ),
            None,
        );
    }
    if vs.quorum == 0 {
        cx.err_at(
            vs.lines.get("quorum"),
            "quorum 0",
            Some("the quorum is 1 or more".into()),
        );
    }
    if vs.hysteresis > 0 && vs.hysteresis >= vs.quorum {
        cx.err_at(
            vs.lines.get("hysteresis"),
            format!(
                "hysteresis {} must be below the quorum ({})",
                vs.hysteresis, vs.quorum
            ),
            Some("keepalived lowers it to quorum - 1".into()),
        );
    }
}

/// The real servers and the sorry server.
fn validate_servers(cx: &mut Cx, vs: &VirtualServer, shape: &Shape<'_>, config: &Config) {
    let mut seen: HashMap<(IpAddr, Option<u16>), Pos> = HashMap::new();
    let mut weight_sum: u64 = 0;
    for rs in &vs.real_servers {
        let rpos = rs.lines.pos();
        let m = vs.method_of(rs);
        if rs.ip.is_unspecified() {
            cx.err_at(rpos, "a real_server needs an address", None);
        }
        if rs.port == Some(0) {
            cx.err_at(
                rpos,
                "real_server port 0",
                Some("leave the port out instead".into()),
            );
        }
        match seen.get(&(rs.ip, rs.port)) {
            Some(first) => cx.err_at(
                rpos,
                format!(
                    "real_server {} is listed twice in virtual_server {}{}",
                    rs.label(),
                    vs.label(),
                    first_at(*first)
                ),
                Some("keepalived drops the second one; merge the two blocks".into()),
            ),
            None => {
                seen.insert((rs.ip, rs.port), rpos);
            }
        }
        let fam = Family::of(&rs.ip);
        if m.method != ForwardingMethod::Tun && shape.family.is_some_and(|f| f != fam) {
            cx.err_at(
                rpos,
                format!(
                    "real_server {} is {} but virtual_server {} is {}",
                    rs.label(),
                    fam.keyword_name(),
                    vs.label(),
                    shape.family.map(Family::keyword_name).unwrap_or_default()
                ),
                Some("only tunnelled (TUN) real servers may differ in family".into()),
            );
        }
        if let Some(w) = rs.weight.filter(|w| *w > WEIGHT_MAX) {
            cx.err_at(
                rs.lines.get("weight"),
                format!("weight {w} is above {WEIGHT_MAX}"),
                None,
            );
        }
        if let Some(lm) = &rs.lvs_method {
            check_method(cx, lm, rs.lines.get("lvs_method"), "lvs_method");
        }
        check_port(cx, vs, shape, m, rs.port, rpos, &|| {
            format!("real_server {}", rs.label())
        });
        if let (Some(u), Some(l)) = (rs.uthreshold(), rs.lthreshold()) {
            if u != 0 && l > u {
                cx.err_at(
                    rs.lines.get("lthreshold"),
                    format!("lthreshold {l} is above uthreshold {u}"),
                    Some("the lower threshold must be below the upper one".into()),
                );
            }
        }
        let same_as_sorry = vs
            .sorry_server
            .as_ref()
            .is_some_and(|s| s.ip == rs.ip && s.port == rs.port);
        if same_as_sorry
            && rs.inhibit_on_failure().unwrap_or(vs.inhibit_on_failure) != vs.sorry_server_inhibit
        {
            cx.err_at(
                vs.lines.get("sorry_server"),
                format!(
                    "the sorry_server is also real_server {} but their inhibit_on_failure settings differ",
                    rs.label()
                ),
                Some(
                    "keepalived overrides sorry_server_inhibit with the real server's: make them agree"
                        .into(),
                ),
            );
        }
        weight_sum += u64::from(rs.weight.unwrap_or(vs.weight));
        checker::validate_real_server(cx, vs, rs, config);
    }

    match &vs.sorry_server {
        Some(s) => {
            let spos = vs.lines.get("sorry_server");
            let m = vs.sorry_method();
            if s.ip.is_unspecified() {
                cx.err_at(spos, "the sorry_server needs an address", None);
            }
            let fam = Family::of(&s.ip);
            if m.method != ForwardingMethod::Tun && shape.family.is_some_and(|f| f != fam) {
                cx.err_at(
                    spos,
                    format!(
                        "sorry_server {} is {} but the service is {}",
                        s.ip,
                        fam.keyword_name(),
                        shape.family.map(Family::keyword_name).unwrap_or_default()
                    ),
                    Some("only a tunnelled (TUN) sorry server may differ in family".into()),
                );
            }
            check_port(cx, vs, shape, m, s.port, spos, &|| {
                "the sorry_server".into()
            });
        }
        None => {
            if vs.sorry_server_inhibit {
                cx.err_at(
                    vs.lines.get("sorry_server_inhibit"),
                    "'sorry_server_inhibit' without 'sorry_server'",
                    None,
                );
            }
            if vs.sorry_server_lvs_method.is_some() {
                cx.err_at(
                    vs.lines.get("sorry_server_lvs_method"),
                    "'sorry_server_lvs_method' without 'sorry_server'",
                    None,
                );
            }
        }
    }

    // keepalived lowers a quorum above the total weight (a service that could never be up);
    // with every weight 0 and the default quorum that is harmless, else it is an error.
    if !vs.real_servers.is_empty() && u64::from(vs.quorum) > weight_sum && weight_sum > 0 {
        cx.err_at(
            vs.lines.get("quorum"),
            format!(
                "quorum {} is above the total weight of the real servers ({weight_sum}): the service could never be up",
                vs.quorum
            ),
            Some("lower the quorum, or raise the weights (keepalived lowers the quorum itself)".into()),
        );
    }
}

/// Which of `lvs_method` / `lb_kind` was written, for positions.
fn method_kw(lines: &Lines) -> &'static str {
    lines
        .last_of(&["lvs_method", "lb_kind"])
        .unwrap_or("lvs_method")
}

/// The port of a real or sorry server: only NAT may change the port; a fwmark service has
/// no port to keep.
fn check_port(
    cx: &mut Cx,
    vs: &VirtualServer,
    shape: &Shape<'_>,
    m: LvsMethod,
    port: Option<u16>,
    pos: Pos,
    what: &dyn Fn() -> String,
) {
    if m.method == ForwardingMethod::Nat {
        return;
    }
    let what = what();
    let Some(p) = port else {
        return;
    };
    let method = match m.method {
        ForwardingMethod::Dr => "DR",
        _ => "TUN",
    };
    if shape.has_fwmarks && vs.group.is_none() {
        cx.err_at(
            pos,
            format!(
                "{what} has port {p}, but with {method} a fwmark service keeps the client's port"
            ),
            Some("remove the port (keepalived clears it)".into()),
        );
        return;
    }
    if let Some(vp) = shape.ports.iter().find(|vp| **vp != p) {
        cx.err_at(
            pos,
            format!(
                "{what} has port {p} but the service port is {vp}: {method} cannot change the port"
            ),
            Some("give the service's port, leave the port out, or use NAT".into()),
        );
    }
}
