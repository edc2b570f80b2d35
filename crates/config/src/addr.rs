//! The line syntaxes of addresses, routes and rules (virtual_* and static_* blocks).
//!
//! Each entry is one line of `ip address` / `ip route` / `ip rule`-like words, read the way
//! keepalived reads them (REFERENCE 2.8, 2.9, 2.10), with one difference: an unknown or
//! malformed word is an error at that word instead of a log line.
//!
//! ```text
//!  entry line ──► parse_* (tokens: syntax, values) ──► *_problems (combinations) ──► model
//!                                                        ▲
//!  TOML model (no positions) ──────── vrrp::validate ────┘
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cx::Cx;
use crate::diag::nearest;
use crate::tree::Node;
use crate::types::{Pos, Timer};

#[cfg(test)]
mod tests;

/// Where an address, route or rule list is used; some options are valid in one place only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressUse {
    /// `virtual_ipaddress`, `virtual_routes`, `virtual_rules` of an instance.
    Virtual,
    /// `virtual_ipaddress_excluded`.
    Excluded,
    /// `static_ipaddress`, `static_routes`, `static_rules`.
    Static,
}

impl AddressUse {
    fn is_static(self) -> bool {
        self == AddressUse::Static
    }
}

/// IFNAMSIZ: interface names and labels are shorter than this.
pub const IFNAMSIZ: usize = 16;

/// True when `s` is a valid Linux interface name (as the kernel's `dev_valid_name`).
pub fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() < IFNAMSIZ
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

// ---------------------------------------------------------------------------------------------
// Small value types
// ---------------------------------------------------------------------------------------------

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(a: &IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// "inet (IPv4)" or "inet6 (IPv6)": the keyword with its meaning.
    pub fn keyword_name(self) -> &'static str {
        match self {
            Family::Inet => "inet (IPv4)",
            Family::Inet6 => "inet6 (IPv6)",
        }
    }

    /// "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "IPv4",
            Family::Inet6 => "IPv6",
        }
    }

    /// The full prefix length of the family.
    pub fn max_len(self) -> u8 {
        match self {
            Family::Inet => 32,
            Family::Inet6 => 128,
        }
    }

    /// The unspecified address of the family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// An address with a prefix length, written and serialised as `192.0.2.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address (host bits are kept: for an interface address they matter).
    pub addr: IpAddr,
    /// The prefix length (32 or 128 when none was written).
    pub len: u8,
}

impl Default for IpPrefix {
    fn default() -> Self {
        IpPrefix::host(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

impl IpPrefix {
    /// A host prefix (/32 or /128).
    pub fn host(addr: IpAddr) -> IpPrefix {
        IpPrefix {
            addr,
            len: Family::of(&addr).max_len(),
        }
    }

    /// The default route of a family (`0.0.0.0/0` or `::/0`).
    pub fn any(family: Family) -> IpPrefix {
        IpPrefix {
            addr: family.unspecified(),
            len: 0,
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// True for a /32 or /128.
    pub fn is_host(&self) -> bool {
        self.len == self.family().max_len()
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IpPrefix {
    type Err = String;

    fn from_str(s: &str) -> Result<IpPrefix, String> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{a}' is not an IPv4 or IPv6 address"))?;
        let max = Family::of(&addr).max_len();
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(v) if v <= max && l.bytes().all(|b| b.is_ascii_digit()) => v,
                _ => return Err(format!("'/{l}' is not a prefix length (0 to {max})")),
            },
        };
        Ok(IpPrefix { addr, len })
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `brd`/`broadcast`: an address, or `+` (host bits set) / `-` (host bits clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// `+`: the prefix with all host bits set.
    Set,
    /// `-`: the prefix with all host bits clear.
    Clear,
    /// An explicit broadcast address.
    Addr(Ipv4Addr),
}

impl fmt::Display for Broadcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broadcast::Set => f.write_str("+"),
            Broadcast::Clear => f.write_str("-"),
            Broadcast::Addr(a) => write!(f, "{a}"),
        }
    }
}

impl FromStr for Broadcast {
    type Err = String;

    fn from_str(s: &str) -> Result<Broadcast, String> {
        match s {
            "+" => Ok(Broadcast::Set),
            "-" => Ok(Broadcast::Clear),
            _ => s
                .parse()
                .map(Broadcast::Addr)
                .map_err(|_| format!("'{s}' is not an IPv4 broadcast address, '+' or '-'")),
        }
    }
}

impl Serialize for Broadcast {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Broadcast {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `preferred_lft N|forever`: seconds, or `forever` (written as the string in TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Never expires.
    Forever,
    /// Seconds.
    Secs(u32),
}

impl Serialize for Lifetime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lifetime::Forever => s.serialize_str("forever"),
            Lifetime::Secs(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Lifetime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds or \"forever\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Lifetime, E> {
                match v {
                    "forever" => Ok(Lifetime::Forever),
                    _ => v
                        .parse()
                        .map(Lifetime::Secs)
                        .map_err(|_| E::custom("a number of seconds or \"forever\"")),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Lifetime, E> {
                u32::try_from(v)
                    .map(Lifetime::Secs)
                    .map_err(|_| E::custom("seconds out of range (0 to 4294967295)"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Lifetime, E> {
                u32::try_from(v)
                    .map(Lifetime::Secs)
                    .map_err(|_| E::custom("seconds out of range (0 to 4294967295)"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A numeric range written `A-B` (or `A` for a single value), serialised as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumRange {
    /// First value.
    pub start: u32,
    /// Last value (inclusive).
    pub end: u32,
}

impl fmt::Display for NumRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for NumRange {
    type Err = String;

    fn from_str(s: &str) -> Result<NumRange, String> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let num = |x: &str| {
            if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                x.parse::<u32>().ok()
            }
        };
        match (num(a), num(b)) {
            (Some(start), Some(end)) if start <= end => Ok(NumRange { start, end }),
            (Some(_), Some(_)) => Err(format!("'{s}': the start of the range is above its end")),
            _ => Err(format!("'{s}' is not a range (N or N-M)")),
        }
    }
}

impl Serialize for NumRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NumRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/// One address entry (REFERENCE 2.8):
/// `IP[/MASK] [dev IF] [scope S] [brd IP|+|-] [label L] [peer IP] [home] [-nodad] [mngtmpaddr]
/// [noprefixroute] [autojoin] [no_track] [preferred_lft N|forever] [use_vmac] [track_group G]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpAddress {
    /// The address and prefix (no prefix written: /32 or /128).
    pub address: IpPrefix,
    /// `dev IF`: without it, the instance's interface (or VMAC), or `default_interface`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `scope site|link|host|nowhere|global|NUM` (IPv4 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `brd`/`broadcast IP|+|-` (IPv4 only, `+`/`-` need a prefix of 30 or less).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Broadcast>,
    /// `label LABEL` (IPv4 only, shorter than 16 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `peer IP`: point-to-point peer (the address then has no prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    /// `home` (IPv6 mobility home address).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub home: bool,
    /// `-nodad`: no duplicate address detection (IPv6).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nodad: bool,
    /// `mngtmpaddr` (IPv6 temporary addresses).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mngtmpaddr: bool,
    /// `noprefixroute`: no prefix route for the address.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub noprefixroute: bool,
    /// `autojoin` (multicast addresses).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub autojoin: bool,
    /// `no_track`: do not watch the address for removal.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_track: bool,
    /// `preferred_lft N|forever`; unset: 0 for an IPv6 /128, forever otherwise
    /// (see [`IpAddress::effective_preferred_lft`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_lft: Option<Lifetime>,
    /// `use_vmac` (virtual addresses only): put the address on the instance's VMAC.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub use_vmac: bool,
    /// `track_group G` (static addresses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    /// Where the entry is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

impl IpAddress {
    /// The preferred lifetime that applies: as written, else keepalived's default (0, i.e. a
    /// deprecated address, for an IPv6 /128; forever otherwise).
    pub fn effective_preferred_lft(&self) -> Lifetime {
        match self.preferred_lft {
            Some(l) => l,
            None if self.address.family() == Family::Inet6 && self.address.is_host() => {
                Lifetime::Secs(0)
            }
            None => Lifetime::Forever,
        }
    }
}

/// Route types (`ip route` types; `brd` is read as `broadcast`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    /// A normal route.
    Unicast,
    /// A local route.
    Local,
    /// A broadcast route.
    Broadcast,
    /// An anycast route.
    Anycast,
    /// A multicast route.
    Multicast,
    /// Unreachable, ICMP "prohibited".
    Prohibit,
    /// Unreachable, ICMP "unreachable".
    Unreachable,
    /// Silently discarded.
    Blackhole,
    /// Lookup continues in the next table.
    Throw,
    /// NAT (obsolete).
    Nat,
    /// External resolver.
    Xresolve,
}

const ROUTE_TYPES: &[(&str, RouteType)] = &[
    ("unicast", RouteType::Unicast),
    ("local", RouteType::Local),
    ("broadcast", RouteType::Broadcast),
    ("brd", RouteType::Broadcast),
    ("anycast", RouteType::Anycast),
    ("multicast", RouteType::Multicast),
    ("prohibit", RouteType::Prohibit),
    ("unreachable", RouteType::Unreachable),
    ("blackhole", RouteType::Blackhole),
    ("throw", RouteType::Throw),
    ("nat", RouteType::Nat),
    ("xresolve", RouteType::Xresolve),
];

/// How a route is added (`add`, `append`, `prepend`; keepalived's default is prepend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    /// Fail if the route exists (iproute2's default).
    Add,
    /// Add after existing routes.
    Append,
    /// Add before existing routes (the kernel's and keepalived's default).
    Prepend,
}

/// A route metric that can be locked (`mtu lock N`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockedMetric {
    /// `mtu lock N`.
    Mtu,
    /// `advmss lock N`.
    Advmss,
    /// `rtt lock T`.
    Rtt,
    /// `rttvar lock T`.
    Rttvar,
    /// `reordering lock N`.
    Reordering,
    /// `cwnd lock N`.
    Cwnd,
    /// `ssthresh lock N`.
    Ssthresh,
    /// `rto_min lock T`.
    RtoMin,
    /// `congctl lock ALG`.
    Congctl,
}

/// `features ecn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteFeature {
    /// Explicit congestion notification.
    Ecn,
}

/// Lightweight tunnel encapsulation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncapType {
    /// `encap mpls LABELS`.
    #[default]
    Mpls,
    /// `encap ip id N dst IP ...`.
    Ip,
    /// `encap ip6 id N dst IP ...`.
    Ip6,
    /// `encap ila LOCATOR`.
    Ila,
}

/// `encap TYPE ...` of a route or nexthop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Encap {
    /// The encapsulation type.
    #[serde(rename = "type")]
    pub encap_type: EncapType,
    /// MPLS: the label stack (`100/200`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// ip/ip6: `id N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// ip/ip6: `dst IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    /// ip/ip6: `src IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// ip: `tos T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<String>,
    /// ip6: `tc T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tc: Option<String>,
    /// ip: `ttl N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// ip6: `hoplimit N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoplimit: Option<u8>,
    /// ip/ip6: `flags N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u16>,
    /// ILA: the 64-bit locator (`2001:db8:1:2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
}

/// One `nexthop via IP [dev IF] [weight N] [onlink] [encap ...] [realms R]` of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nexthop {
    /// `via [inet|inet6] IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// `dev IF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `weight 1..256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// `onlink`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    /// `encap ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
    /// `realms [FROM/]TO` (IPv4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
}

/// One route entry (REFERENCE 2.9), `ip route` syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    /// The route type (`blackhole`, `unreachable`, ...); unicast when unset.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub route_type: Option<RouteType>,
    /// `[to] DEST/MASK|default`: the destination (`default` is stored as `0.0.0.0/0` or `::/0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpPrefix>,
    /// `src IP`: the preferred source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// `from PREFIX` (IPv6 source routing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpPrefix>,
    /// `via [inet|inet6] IP` (`gw` is a deprecated spelling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// `dev IF` (or `oif IF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `scope S`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `table T` (number or rt_tables name); main when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `metric|priority|preference N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// `protocol P` (number or rt_protos name); a tracked route must use `keepalived`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `tos|dsfield N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<String>,
    /// `realms [FROM/]TO` (IPv4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    /// `onlink`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onlink: bool,
    /// `encap TYPE ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
    /// `expires N` (IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    /// `mtu [lock] N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// `hoplimit N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoplimit: Option<u8>,
    /// `advmss [lock] N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    /// `rtt [lock] T` (a bare number is milliseconds; `s`/`ms` suffixes allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<Timer>,
    /// `rttvar [lock] T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rttvar: Option<Timer>,
    /// `reordering [lock] N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reordering: Option<u32>,
    /// `window N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// `cwnd [lock] N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u32>,
    /// `ssthresh [lock] N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u32>,
    /// `rto_min [lock] T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_min: Option<Timer>,
    /// `initcwnd N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initcwnd: Option<u32>,
    /// `initrwnd N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrwnd: Option<u32>,
    /// The metrics written with `lock`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lock: Vec<LockedMetric>,
    /// `features ecn`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<RouteFeature>,
    /// `quickack 0|1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quickack: Option<bool>,
    /// `congctl [lock] ALG`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub congctl: Option<String>,
    /// `fastopen_no_cookie 0|1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fastopen_no_cookie: Option<bool>,
    /// `pref low|medium|high|N` (IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pref: Option<String>,
    /// `ttl-propagate enabled|disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_propagate: Option<bool>,
    /// `vrf NAME`: the route goes in the VRF's table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// `inet|inet6` when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// `add|append|prepend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RouteMode>,
    /// `nexthop ...` groups (the deprecated `or IP` becomes two nexthops).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthop: Vec<Nexthop>,
    /// `no_track`: do not watch the route for removal.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_track: bool,
    /// `track_group G` (static routes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    /// Where the entry is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

impl Route {
    /// The family of the route: as written, else from its addresses, else IPv4.
    pub fn effective_family(&self) -> Family {
        self.family
            .or(self.to.map(|p| p.family()))
            .or(self.src.map(|a| Family::of(&a)))
            .or(self.via.map(|a| Family::of(&a)))
            .unwrap_or(Family::Inet)
    }
}

/// The action of a rule other than `table`/`goto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    /// `nop`.
    Nop,
    /// `blackhole`.
    Blackhole,
    /// `unreachable`.
    Unreachable,
    /// `prohibit`.
    Prohibit,
}

/// One rule entry (REFERENCE 2.10), `ip rule` syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    /// `from PREFIX|all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<IpPrefix>,
    /// `to PREFIX|all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<IpPrefix>,
    /// `not`: invert the selector.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not: bool,
    /// `table|lookup T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `goto N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto: Option<u32>,
    /// `[type] nop|blackhole|unreachable|prohibit`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub rule_type: Option<RuleType>,
    /// `preference|priority|order N`; unset: assigned counting down from 16384.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<u32>,
    /// `tos|dsfield N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<String>,
    /// `fwmark V[/M]`: the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// `fwmark V/M`: the mask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
    /// `realms [FROM/]TO` (IPv4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<String>,
    /// `suppress_prefixlength|sup_pl N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_prefixlength: Option<u32>,
    /// `suppress_ifgroup|sup_group G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_ifgroup: Option<String>,
    /// `iif|dev IF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    /// `oif IF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    /// `tunnel-id N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_id: Option<u64>,
    /// `uidrange A-B`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uidrange: Option<NumRange>,
    /// `l3mdev`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub l3mdev: bool,
    /// `protocol N`; a tracked rule must use 18 (keepalived).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    /// `ipproto P` (name or number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<String>,
    /// `sport A[-B]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<NumRange>,
    /// `dport A[-B]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<NumRange>,
    /// `inet|inet6` when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// `no_track`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_track: bool,
    /// `track_group G` (static rules only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_group: Option<String>,
    /// Where the entry is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

impl Rule {
    /// The family of the rule: as written, else from its prefixes, else IPv4.
    pub fn effective_family(&self) -> Family {
        self.family
            .or(self.from.map(|p| p.family()))
            .or(self.to.map(|p| p.family()))
            .unwrap_or(Family::Inet)
    }
}

/// keepalived's own routing protocol number (RTPROT_KEEPALIVED).
pub const RTPROT_KEEPALIVED: u8 = 18;

// ---------------------------------------------------------------------------------------------
// Combination rules, shared by the parser (reported at the word) and by validation of a model
// that comes from TOML (reported at the entry)
// ---------------------------------------------------------------------------------------------

/// A problem with an entry found from its values: where (the option word, or the entry start),
/// what, a hint, and whether it is only a warning.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The option word to point at (`None`: the start of the entry).
    pub at: Option<&'static str>,
    /// What is wrong.
    pub msg: String,
    /// What to do.
    pub hint: Option<String>,
    /// A warning rather than an error.
    pub warning: bool,
}

fn problem(at: Option<&'static str>, msg: impl Into<String>, hint: Option<&str>) -> Problem {
    Problem {
        at,
        msg: msg.into(),
        hint: hint.map(str::to_string),
        warning: false,
    }
}

const SCOPES: &[&str] = &["global", "site", "link", "host", "nowhere"];

fn check_scope(s: &str) -> Result<(), String> {
    if SCOPES.contains(&s) || s.parse::<u8>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "'{s}' is not a scope: one of {} or a number 0 to 255",
            SCOPES.join(", ")
        ))
    }
}

/// The combination rules of an address entry.
pub fn address_problems(a: &IpAddress, used: AddressUse) -> Vec<Problem> {
    let mut out = Vec::new();
    let fam = a.address.family();
    if a.address.addr.is_unspecified() {
        out.push(problem(
            None,
            format!("'{}' is not a usable address", a.address.addr),
            Some("an address entry starts with the address to add"),
        ));
    }
    if let Some(d) = &a.dev {
        if !valid_ifname(d) {
            out.push(problem(
                Some("dev"),
                format!("'{d}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)"),
                None,
            ));
        }
    }
    if let Some(s) = &a.scope {
        if let Err(e) = check_scope(s) {
            out.push(problem(Some("scope"), e, None));
        } else if fam == Family::Inet6 {
            out.push(problem(
                Some("scope"),
                "an IPv6 address cannot have a scope (keepalived ignores it)",
                Some("remove 'scope'"),
            ));
        }
    }
    if let Some(b) = &a.broadcast {
        if fam == Family::Inet6 {
            out.push(problem(
                Some("brd"),
                "an IPv6 address has no broadcast address (keepalived drops the address)",
                Some("remove 'brd'"),
            ));
        } else if a.peer.is_some() {
            out.push(problem(
                Some("brd"),
                "an address with a peer cannot have a broadcast address",
                Some("remove 'brd' or 'peer'"),
            ));
        } else if matches!(b, Broadcast::Set | Broadcast::Clear) && a.address.len > 30 {
            out.push(problem(
                Some("brd"),
                format!(
                    "'brd {b}' needs a prefix of 30 or less, not /{}",
                    a.address.len
                ),
                Some("write the prefix, e.g. 192.0.2.10/24 brd +"),
            ));
        }
    }
    if let Some(l) = &a.label {
        if l.len() >= IFNAMSIZ {
            out.push(problem(
                Some("label"),
                format!(
                    "label '{l}' is {} characters long: at most {} are allowed",
                    l.len(),
                    IFNAMSIZ - 1
                ),
                None,
            ));
        } else if fam == Family::Inet6 {
            out.push(problem(
                Some("label"),
                "an IPv6 address cannot have a label (keepalived ignores it)",
                Some("remove 'label'"),
            ));
        }
    }
    if let Some(p) = &a.peer {
        if Family::of(p) != fam {
            out.push(problem(
                Some("peer"),
                format!("peer {p} is not {} like the address", fam.name()),
                None,
            ));
        } else if !a.address.is_host() {
            out.push(problem(
                None,
                format!(
                    "an address with a peer cannot have a prefix (/{})",
                    a.address.len
                ),
                Some("write the address without '/N'"),
            ));
        }
    }
    if a.use_vmac && used.is_static() {
        out.push(problem(
            Some("use_vmac"),
            "'use_vmac' is only valid for the addresses of a vrrp_instance",
            Some("remove 'use_vmac'"),
        ));
    }
    if a.track_group.is_some() {
        if used.is_static() {
            out.push(problem(
                Some("track_group"),
                "'track_group' is not supported yet: track groups (track_group blocks)",
                Some("keepalived-rs refuses it rather than run without it"),
            ));
        } else {
            out.push(problem(
                Some("track_group"),
                "'track_group' is only valid for static addresses",
                Some("remove 'track_group'"),
            ));
        }
    }
    out
}

fn check_rt_name(what: &str, s: &str, max: u64) -> Result<(), String> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        return match s.parse::<u64>() {
            Ok(v) if v <= max => Ok(()),
            _ => Err(format!("{what} '{s}' is out of range (0 to {max})")),
        };
    }
    if let Some(h) = s.strip_prefix("0x") {
        return match u64::from_str_radix(h, 16) {
            Ok(v) if v <= max => Ok(()),
            _ => Err(format!("{what} '{s}' is not a valid number (0 to {max})")),
        };
    }
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} '{s}' is neither a number nor a name from the iproute2 tables"
        ))
    }
}

fn check_realms(s: &str) -> Result<(), String> {
    let (a, b) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    check_rt_name("realm", a, u64::from(u16::MAX))?;
    if let Some(b) = b {
        check_rt_name("realm", b, u64::from(u16::MAX))?;
    }
    Ok(())
}

fn is_keepalived_proto(p: &str) -> bool {
    p == "keepalived" || p.parse::<u8>() == Ok(RTPROT_KEEPALIVED)
}

/// The combination rules of a route entry.
pub fn route_problems(r: &Route, used: AddressUse) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(to) = r.to else {
        out.push(problem(
            None,
            "a route needs a destination",
            Some("write the destination prefix, e.g. 198.51.100.0/24 or default"),
        ));
        return out;
    };
    let fam = r.family.unwrap_or(to.family());
    let mut fam_check = |at: Option<&'static str>, what: &str, f: Family| {
        if f != fam {
            out.push(problem(
                at,
                format!(
                    "{what} is {} but the route is {}: a route cannot mix IPv4 and IPv6",
                    f.name(),
                    fam.name()
                ),
                None,
            ));
        }
    };
    fam_check(None, &format!("destination {to}"), to.family());
    if let Some(a) = r.src {
        fam_check(Some("src"), &format!("src {a}"), Family::of(&a));
    }
    if let Some(a) = r.via {
        fam_check(Some("via"), &format!("via {a}"), Family::of(&a));
    }
    if let Some(p) = r.from {
        fam_check(Some("from"), &format!("from {p}"), p.family());
    }
    for nh in &r.nexthop {
        if let Some(a) = nh.via {
            fam_check(Some("nexthop"), &format!("nexthop via {a}"), Family::of(&a));
        }
    }
    if r.from.is_some() && fam != Family::Inet6 {
        out.push(problem(
            Some("from"),
            "'from' is only valid for IPv6 routes",
            None,
        ));
    }
    let has_realms = r.realms.is_some() || r.nexthop.iter().any(|n| n.realms.is_some());
    if has_realms && fam != Family::Inet {
        out.push(problem(
            Some("realms"),
            "'realms' is only valid for IPv4 routes",
            None,
        ));
    }
    if r.expires.is_some() && fam != Family::Inet6 {
        out.push(problem(
            Some("expires"),
            "'expires' is only valid for IPv6 routes",
            None,
        ));
    }
    if r.pref.is_some() && fam != Family::Inet6 {
        out.push(problem(
            Some("pref"),
            "'pref' is only valid for IPv6 routes",
            None,
        ));
    }
    for (at, d) in std::iter::once(("dev", &r.dev))
        .chain(r.nexthop.iter().map(|n| ("nexthop", &n.dev)))
        .chain(std::iter::once(("vrf", &r.vrf)))
    {
        if let Some(d) = d {
            if !valid_ifname(d) {
                out.push(problem(
                    Some(at),
                    format!("'{d}' is not a valid interface name"),
                    None,
                ));
            }
        }
    }
    if let Some(s) = &r.scope {
        if let Err(e) = check_scope(s) {
            out.push(problem(Some("scope"), e, None));
        }
    }
    if let Some(t) = &r.table {
        if let Err(e) = check_rt_name("table", t, u64::from(u32::MAX)) {
            out.push(problem(Some("table"), e, None));
        }
    }
    if let Some(t) = &r.tos {
        if let Err(e) = check_rt_name("tos", t, 255) {
            out.push(problem(Some("tos"), e, None));
        }
    }
    if let Some(x) = &r.realms {
        if let Err(e) = check_realms(x) {
            out.push(problem(Some("realms"), e, None));
        }
    }
    for nh in &r.nexthop {
        if let Some(w) = nh.weight {
            if !(1..=256).contains(&w) {
                out.push(problem(
                    Some("nexthop"),
                    format!("nexthop weight {w} is out of range: 1 to 256"),
                    None,
                ));
            }
        }
    }
    for (at, t) in [("rtt", r.rtt), ("rttvar", r.rttvar), ("rto_min", r.rto_min)] {
        if let Some(t) = t {
            if t < Timer::millis(200) || t > Timer::secs(120) {
                out.push(problem(
                    Some(at),
                    format!("'{at} {t}s' is out of range: 0.2 to 120 seconds"),
                    None,
                ));
            }
        }
    }
    if let Some(p) = &r.protocol {
        if let Err(e) = check_rt_name("protocol", p, 255) {
            out.push(problem(Some("protocol"), e, None));
        } else if !r.no_track && !is_keepalived_proto(p) {
            out.push(problem(
                Some("protocol"),
                format!("a tracked route must have protocol keepalived, not '{p}' (keepalived resets it)"),
                Some("add 'no_track' to keep another protocol, or remove 'protocol'"),
            ));
        }
    }
    if r.track_group.is_some() {
        out.push(if used.is_static() {
            problem(
                Some("track_group"),
                "'track_group' is not supported yet: track groups (track_group blocks)",
                Some("keepalived-rs refuses it rather than run without it"),
            )
        } else {
            problem(
                Some("track_group"),
                "'track_group' is only valid for static routes",
                Some("remove 'track_group'"),
            )
        });
    }
    out
}

/// The combination rules of a rule entry.
pub fn rule_problems(r: &Rule, used: AddressUse) -> Vec<Problem> {
    let mut out = Vec::new();
    let fam = r.effective_family();
    for (at, p) in [("from", r.from), ("to", r.to)] {
        if let Some(p) = p {
            if p.family() != fam {
                out.push(problem(
                    Some(at),
                    format!(
                        "{at} {p} is {} but the rule is {}: a rule cannot mix IPv4 and IPv6",
                        p.family().name(),
                        fam.name()
                    ),
                    None,
                ));
            }
        }
    }
    let actions = usize::from(r.table.is_some())
        + usize::from(r.goto.is_some())
        + usize::from(r.rule_type.is_some())
        + usize::from(r.l3mdev);
    if actions == 0 {
        out.push(problem(
            None,
            "a rule needs an action",
            Some("add one of: table N, goto N, nop, blackhole, unreachable, prohibit, l3mdev"),
        ));
    } else if actions > 1 {
        let at = if r.l3mdev { "l3mdev" } else { "table" };
        out.push(problem(
            Some(at),
            "a rule has only one action: table, goto, nop, blackhole, unreachable, prohibit or l3mdev",
            None,
        ));
    }
    if let Some(t) = &r.table {
        if t == "0" {
            out.push(problem(Some("table"), "table 0 is not valid", None));
        } else if let Err(e) = check_rt_name("table", t, u64::from(u32::MAX)) {
            out.push(problem(Some("table"), e, None));
        }
    }
    if let Some(g) = r.goto {
        match r.preference {
            None => out.push(problem(
                Some("goto"),
                format!("'goto {g}' needs a preference below {g}"),
                Some("add 'preference N'"),
            )),
            Some(p) if p >= g => out.push(problem(
                Some("goto"),
                format!("'goto {g}' must jump forward: the preference {p} is not below {g}"),
                None,
            )),
            Some(_) => {}
        }
    }
    let table_option =
        r.realms.is_some() || r.suppress_prefixlength.is_some() || r.suppress_ifgroup.is_some();
    if table_option && r.table.is_none() && !r.l3mdev && actions > 0 {
        out.push(problem(
            None,
            "realms, suppress_prefixlength and suppress_ifgroup need a 'table' action",
            None,
        ));
    }
    if r.realms.is_some() && fam != Family::Inet {
        out.push(problem(
            Some("realms"),
            "'realms' is only valid for IPv4 rules",
            None,
        ));
    }
    if let Some(x) = &r.realms {
        if let Err(e) = check_realms(x) {
            out.push(problem(Some("realms"), e, None));
        }
    }
    if let Some(t) = &r.tos {
        if let Err(e) = check_rt_name("tos", t, 255) {
            out.push(problem(Some("tos"), e, None));
        }
    }
    for (at, d) in [("iif", &r.iif), ("oif", &r.oif)] {
        if let Some(d) = d {
            if !valid_ifname(d) {
                out.push(problem(
                    Some(at),
                    format!("'{d}' is not a valid interface name"),
                    None,
                ));
            }
        }
    }
    if let Some(p) = r.protocol {
        if !r.no_track && p != RTPROT_KEEPALIVED {
            out.push(problem(
                Some("protocol"),
                format!("a tracked rule must have protocol {RTPROT_KEEPALIVED} (keepalived), not {p} (keepalived resets it)"),
                Some("add 'no_track' to keep another protocol, or remove 'protocol'"),
            ));
        }
    }
    for (at, r) in [("sport", r.sport), ("dport", r.dport)] {
        if let Some(x) = r {
            if x.end > u32::from(u16::MAX) {
                out.push(problem(
                    Some(at),
                    format!("'{x}' is not a port range (0 to 65535)"),
                    None,
                ));
            }
        }
    }
    if r.track_group.is_some() {
        out.push(if used.is_static() {
            problem(
                Some("track_group"),
                "'track_group' is not supported yet: track groups (track_group blocks)",
                Some("keepalived-rs refuses it rather than run without it"),
            )
        } else {
            problem(
                Some("track_group"),
                "'track_group' is only valid for static rules",
                Some("remove 'track_group'"),
            )
        });
    }
    if r.preference.is_none() {
        out.push(Problem {
            at: None,
            msg: "the rule has no preference: one is assigned counting down from 16384 (as keepalived does), which is probably not what you want".into(),
            hint: Some("add 'preference N'".into()),
            warning: true,
        });
    }
    out
}

/// Reports problems found from values: at the option word of `n` when the entry came from a
/// node, else at `pos`.
fn report_problems(cx: &mut Cx, n: Option<&Node>, pos: Pos, problems: Vec<Problem>) {
    for p in problems {
        match n {
            Some(n) => {
                let i =
                    p.at.and_then(|w| {
                        let alias: &[&str] = match w {
                            "brd" => &["broadcast"],
                            "via" => &["gw"],
                            "iif" => &["dev"],
                            "dev" => &["oif"],
                            "table" => &["lookup"],
                            "tos" => &["dsfield"],
                            _ => &[],
                        };
                        (0..n.toks.len())
                            .find(|&i| n.tok(i).is_some_and(|t| t == w || alias.contains(&t)))
                    })
                    .unwrap_or(0);
                if p.warning {
                    cx.report(
                        crate::diag::Severity::Warning,
                        n.tok_loc(i),
                        p.msg,
                        Some(n.text.to_string()),
                        p.hint,
                    );
                } else {
                    cx.err_tok(n, i, p.msg, p.hint);
                }
            }
            None => {
                if p.warning {
                    cx.warn_at(pos, p.msg, p.hint);
                } else {
                    cx.err_at(pos, p.msg, p.hint);
                }
            }
        }
    }
}

/// Checks of an address that did not come from keepalived.conf (the parser has checked those).
pub fn check_address(cx: &mut Cx, a: &IpAddress, used: AddressUse) {
    report_problems(cx, None, a.pos, address_problems(a, used));
}

/// Checks of a route that did not come from keepalived.conf.
pub fn check_route(cx: &mut Cx, r: &Route, used: AddressUse) {
    report_problems(cx, None, r.pos, route_problems(r, used));
}

/// Checks of a rule that did not come from keepalived.conf.
pub fn check_rule(cx: &mut Cx, r: &Rule, used: AddressUse) {
    report_problems(cx, None, r.pos, rule_problems(r, used));
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// A cursor over the words of one entry line; every error names its word.
struct Words<'c, 'n> {
    cx: &'c mut Cx,
    n: &'n Node,
    /// The index of the current word.
    i: usize,
    /// Set when any error was reported for the entry.
    bad: bool,
}

impl<'c, 'n> Words<'c, 'n> {
    /// Reads the `inet` / `inet6` word at `at` into `slot`; both on one line is an error.
    fn family(&mut self, at: usize, slot: &mut Option<Family>) {
        let f = if self.peek() == Some("inet") {
            Family::Inet
        } else {
            Family::Inet6
        };
        if slot.is_some_and(|x| x != f) {
            self.err(at, "'inet' and 'inet6' cannot both be given", None);
        }
        *slot = Some(f);
        self.i += 1;
    }

    fn new(cx: &'c mut Cx, n: &'n Node) -> Self {
        Words {
            cx,
            n,
            i: 0,
            bad: false,
        }
    }

    fn peek(&self) -> Option<&'n str> {
        self.n.tok(self.i)
    }

    fn err(&mut self, i: usize, msg: impl Into<String>, hint: Option<String>) {
        self.cx.err_tok(self.n, i, msg, hint);
        self.bad = true;
    }

    fn warn(&mut self, i: usize, msg: impl Into<String>, hint: Option<String>) {
        self.cx.report(
            crate::diag::Severity::Warning,
            self.n.tok_loc(i),
            msg,
            Some(self.n.text.to_string()),
            hint,
        );
    }

    /// The value after option word `self.i`; advances past both. Reports a missing value.
    fn value(&mut self) -> Option<(usize, &'n str)> {
        let opt = self.i;
        self.i += 1;
        match self.n.tok(self.i) {
            Some(v) => {
                self.i += 1;
                Some((self.i - 1, v))
            }
            None => {
                let name = self.n.tok(opt).unwrap_or("");
                self.err(opt, format!("'{name}' needs a value"), None);
                None
            }
        }
    }

    /// The optional word `lock` at the current position.
    fn lock(&mut self) -> bool {
        if self.peek() == Some("lock") {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ip(&mut self, at: usize, v: &str, what: &str) -> Option<IpAddr> {
        match v.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                let hint = v
                    .contains('/')
                    .then(|| format!("{what} is a single address, without '/N'"));
                self.err(at, format!("'{v}' is not an IP address"), hint);
                None
            }
        }
    }

    fn prefix(&mut self, at: usize, v: &str) -> Option<IpPrefix> {
        match v.parse::<IpPrefix>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(at, format!("'{v}' is not an address or prefix: {e}"), None);
                None
            }
        }
    }

    fn num<T: TryFrom<u64>>(&mut self, at: usize, v: &str, what: &str, max: u64) -> Option<T> {
        let parsed = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok()
        } else if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            v.parse::<u64>().ok()
        } else {
            None
        };
        match parsed {
            Some(x) if x <= max => T::try_from(x).ok(),
            Some(_) => {
                self.err(
                    at,
                    format!("{what} '{v}' is out of range: 0 to {max}"),
                    None,
                );
                None
            }
            None => {
                self.err(
                    at,
                    format!("{what} '{v}' is not a number (0 to {max})"),
                    None,
                );
                None
            }
        }
    }

    fn ifname(&mut self, at: usize, v: &str) -> Option<String> {
        if valid_ifname(v) {
            Some(v.to_string())
        } else {
            self.err(
                at,
                format!("'{v}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)"),
                None,
            );
            None
        }
    }

    fn rt_name(&mut self, at: usize, v: &str, what: &str, max: u64) -> Option<String> {
        match check_rt_name(what, v, max) {
            Ok(()) => Some(v.to_string()),
            Err(e) => {
                self.err(at, e, None);
                None
            }
        }
    }

    /// Reports an unknown word at `self.i` and skips it.
    fn unknown(&mut self, what: &str, options: &[&str], entry: &str) {
        let i = self.i;
        let w = self.n.tok(i).unwrap_or("");
        let looks_like_address = w.parse::<IpPrefix>().is_ok()
            || w.split_once('/')
                .is_some_and(|(a, _)| a.parse::<IpAddr>().is_ok());
        let hint = if looks_like_address {
            Some(format!(
                "each {entry} goes on its own line: put '{w}' on a new line"
            ))
        } else {
            nearest(w, options.iter().copied()).map(|o| format!("did you mean '{o}'?"))
        };
        self.err(i, format!("unknown {what} option '{w}'"), hint);
        self.i += 1;
        // The words up to the next known option are taken as the unknown option's values,
        // so that one mistake gives one error.
        while let Some(next) = self.peek() {
            if options.contains(&next) {
                break;
            }
            self.i += 1;
        }
    }
}

const ADDRESS_OPTIONS: &[&str] = &[
    "dev",
    "scope",
    "brd",
    "broadcast",
    "label",
    "peer",
    "home",
    "-nodad",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "no_track",
    "preferred_lft",
    "use_vmac",
    "track_group",
];

fn no_block(cx: &mut Cx, n: &Node, what: &str) -> bool {
    if n.block.is_some() {
        cx.report(
            crate::diag::Severity::Error,
            n.block_loc,
            format!("{what} entry '{}' does not take a block", n.kw()),
            Some(n.text.to_string()),
            Some("each entry is one line; remove the '{ }'".into()),
        );
        return false;
    }
    true
}

/// Reads one address entry.
pub fn parse_address(cx: &mut Cx, n: &Node, used: AddressUse) -> Option<IpAddress> {
    if !no_block(cx, n, "an address") {
        return None;
    }
    let mut w = Words::new(cx, n);
    let first = n.kw();
    let address = match first.parse::<IpPrefix>() {
        Ok(p) => p,
        Err(e) => {
            let hint = ADDRESS_OPTIONS
                .contains(&first)
                .then(|| "an address entry starts with the address".to_string());
            w.err(0, format!("'{first}' is not an IP address: {e}"), hint);
            return None;
        }
    };
    let mut a = IpAddress {
        address,
        pos: Pos(n.loc),
        ..IpAddress::default()
    };
    w.i = 1;
    while let Some(word) = w.peek() {
        let at = w.i;
        match word {
            "dev" => {
                if let Some((vi, v)) = w.value() {
                    if a.dev.is_some() {
                        w.err(at, "'dev' is given twice", None);
                    } else {
                        a.dev = w.ifname(vi, v);
                    }
                }
            }
            "scope" => {
                if let Some((vi, v)) = w.value() {
                    match check_scope(v) {
                        Ok(()) => a.scope = Some(v.to_string()),
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "brd" | "broadcast" => {
                if let Some((vi, v)) = w.value() {
                    match v.parse::<Broadcast>() {
                        Ok(b) => a.broadcast = Some(b),
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "label" => {
                if let Some((_, v)) = w.value() {
                    a.label = Some(v.to_string());
                }
            }
            "peer" => {
                if let Some((vi, v)) = w.value() {
                    if a.peer.is_some() {
                        w.err(at, "'peer' is given twice", None);
                    } else {
                        a.peer = w.ip(vi, v, "a peer");
                    }
                }
            }
            "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "no_track" => {
                match word {
                    "home" => a.home = true,
                    "-nodad" => a.nodad = true,
                    "mngtmpaddr" => a.mngtmpaddr = true,
                    "noprefixroute" => a.noprefixroute = true,
                    "autojoin" => a.autojoin = true,
                    _ => a.no_track = true,
                }
                w.i += 1;
            }
            "preferred_lft" => {
                if let Some((vi, v)) = w.value() {
                    if v == "forever" {
                        a.preferred_lft = Some(Lifetime::Forever);
                    } else if let Some(s) =
                        w.num::<u32>(vi, v, "preferred_lft", u64::from(u32::MAX))
                    {
                        a.preferred_lft = Some(Lifetime::Secs(s));
                    }
                }
            }
            "use_vmac" if !used.is_static() => {
                a.use_vmac = true;
                w.i += 1;
            }
            "track_group" if used.is_static() => {
                if let Some((_, v)) = w.value() {
                    a.track_group = Some(v.to_string());
                }
            }
            _ => w.unknown("address", ADDRESS_OPTIONS, "address"),
        }
    }
    let problems = address_problems(&a, used);
    report_problems(cx, Some(n), a.pos, problems);
    // An address with a bad option is still the address the user meant: keep it, so that the
    // checks of the instance (families, duplicates) do not report it missing.
    Some(a)
}

/// Reads the entries of an address block.
pub fn parse_address_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<IpAddress> {
    nodes
        .iter()
        .filter_map(|n| parse_address(cx, n, used))
        .collect()
}

const ROUTE_OPTIONS: &[&str] = &[
    "inet",
    "inet6",
    "src",
    "via",
    "gw",
    "as",
    "from",
    "tos",
    "dsfield",
    "table",
    "protocol",
    "scope",
    "metric",
    "priority",
    "preference",
    "dev",
    "oif",
    "onlink",
    "encap",
    "expires",
    "mtu",
    "hoplimit",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "pref",
    "ttl-propagate",
    "fastopen_no_cookie",
    "add",
    "prepend",
    "append",
    "or",
    "nexthop",
    "no_track",
    "track_group",
    "vrf",
    "to",
    "default",
];

/// Parses an rtt-like time: a bare number of milliseconds, or with `s`/`sec`/`secs`/`ms`.
fn parse_rtt(v: &str) -> Option<Timer> {
    let lower = v.to_ascii_lowercase();
    let (num, scale_ms) = if let Some(n) = lower.strip_suffix("ms") {
        (n, true)
    } else if let Some(n) = lower
        .strip_suffix("secs")
        .or_else(|| lower.strip_suffix("sec"))
        .or_else(|| lower.strip_suffix('s'))
    {
        (n, false)
    } else {
        (lower.as_str(), true)
    };
    let t = Timer::parse(num)?;
    if scale_ms {
        // A number of milliseconds: the timer parsed it as seconds.
        Some(Timer::from_micros(t.micros() / 1000))
    } else {
        Some(t)
    }
}

fn parse_encap(w: &mut Words<'_, '_>) -> Option<Encap> {
    // At "encap".
    let at = w.i;
    w.i += 1;
    let Some(kind) = w.peek() else {
        w.err(at, "'encap' needs a type: mpls, ip, ip6 or ila", None);
        return None;
    };
    let ti = w.i;
    w.i += 1;
    let mut e = Encap::default();
    match kind {
        "mpls" | "ila" => {
            e.encap_type = if kind == "mpls" {
                EncapType::Mpls
            } else {
                EncapType::Ila
            };
            let Some(v) = w.peek() else {
                w.err(ti, format!("'encap {kind}' needs a value"), None);
                return None;
            };
            let vi = w.i;
            w.i += 1;
            if kind == "mpls" {
                let ok = v
                    .split('/')
                    .all(|l| l.parse::<u32>().is_ok_and(|x| x < (1 << 20)));
                if !ok {
                    w.err(
                        vi,
                        format!("'{v}' is not an MPLS label stack (labels below 1048576, separated by '/')"),
                        None,
                    );
                    return None;
                }
                e.labels = Some(v.to_string());
            } else {
                let parts: Vec<&str> = v.split(':').collect();
                let ok = parts.len() == 4
                    && parts.iter().all(|p| {
                        !p.is_empty() && p.len() <= 4 && u16::from_str_radix(p, 16).is_ok()
                    });
                if !ok {
                    w.err(
                        vi,
                        format!("'{v}' is not an ILA locator (four hex groups, e.g. 2001:db8:1:2)"),
                        None,
                    );
                    return None;
                }
                e.locator = Some(v.to_string());
            }
        }
        "ip" | "ip6" => {
            let v6 = kind == "ip6";
            e.encap_type = if v6 { EncapType::Ip6 } else { EncapType::Ip };
            let fam = if v6 { Family::Inet6 } else { Family::Inet };
            while let Some(k) = w.peek() {
                let known = matches!(
                    (k, v6),
                    ("id" | "dst" | "src" | "flags", _)
                        | ("tos" | "ttl", false)
                        | ("tc" | "hoplimit", true)
                );
                if !known {
                    break;
                }
                let (vi, v) = w.value()?;
                match k {
                    "id" => e.id = w.num(vi, v, "encap id", i64::MAX as u64),
                    "dst" | "src" => {
                        if let Some(a) = w.ip(vi, v, "an encap address") {
                            if Family::of(&a) != fam {
                                w.err(
                                    vi,
                                    format!("'{v}' is not {} as 'encap {kind}' needs", fam.name()),
                                    None,
                                );
                            } else if k == "dst" {
                                e.dst = Some(a);
                            } else {
                                e.src = Some(a);
                            }
                        }
                    }
                    "tos" => e.tos = w.rt_name(vi, v, "tos", 255),
                    "tc" => e.tc = w.rt_name(vi, v, "tc", 255),
                    "ttl" => e.ttl = w.num(vi, v, "ttl", 255),
                    "hoplimit" => e.hoplimit = w.num(vi, v, "hoplimit", 255),
                    _ => e.flags = w.num(vi, v, "flags", u64::from(u16::MAX)),
                }
            }
            if e.dst.is_none() && e.id.is_none() {
                w.err(
                    ti,
                    format!("'encap {kind}' needs 'dst ADDRESS' or 'id N'"),
                    None,
                );
                return None;
            }
        }
        _ => {
            w.err(
                ti,
                format!("unknown encap type '{kind}': one of mpls, ip, ip6, ila"),
                None,
            );
            return None;
        }
    }
    Some(e)
}

fn parse_nexthops(w: &mut Words<'_, '_>, r: &mut Route) {
    while w.peek() == Some("nexthop") {
        w.i += 1;
        let mut nh = Nexthop::default();
        while let Some(k) = w.peek() {
            let at = w.i;
            match k {
                "via" => {
                    w.i += 1;
                    if matches!(w.peek(), Some("inet" | "inet6")) {
                        w.i += 1;
                    }
                    match w.peek() {
                        Some(v) => {
                            let vi = w.i;
                            w.i += 1;
                            nh.via = w.ip(vi, v, "a nexthop");
                        }
                        None => w.err(at, "'via' needs an address", None),
                    }
                }
                "dev" => {
                    if let Some((vi, v)) = w.value() {
                        nh.dev = w.ifname(vi, v);
                    }
                }
                "weight" => {
                    if let Some((vi, v)) = w.value() {
                        match v.parse::<u16>() {
                            Ok(x) if (1..=256).contains(&x) => nh.weight = Some(x),
                            _ => w.err(
                                vi,
                                format!("nexthop weight '{v}' is out of range: 1 to 256"),
                                None,
                            ),
                        }
                    }
                }
                "onlink" => {
                    nh.onlink = true;
                    w.i += 1;
                }
                "encap" => nh.encap = parse_encap(w),
                "realms" => {
                    if let Some((vi, v)) = w.value() {
                        match check_realms(v) {
                            Ok(()) => nh.realms = Some(v.to_string()),
                            Err(e) => w.err(vi, e, None),
                        }
                    }
                }
                "as" => {
                    w.err(
                        at,
                        "'as [to]' (NAT) is not supported in nexthops",
                        Some("remove it".into()),
                    );
                    w.i += 1;
                    if w.peek() == Some("to") {
                        w.i += 1;
                    }
                    w.i += 1;
                }
                _ => break,
            }
        }
        r.nexthop.push(nh);
    }
    if w.peek().is_some() {
        let i = w.i;
        let word = w.peek().unwrap_or("");
        w.err(
            i,
            format!("unexpected '{word}' after the nexthops"),
            Some(
                "nexthop groups end the route: put the other options before the first 'nexthop'"
                    .into(),
            ),
        );
        w.i = w.n.toks.len();
    }
}

/// Reads one route entry.
pub fn parse_route(cx: &mut Cx, n: &Node, used: AddressUse) -> Option<Route> {
    if !no_block(cx, n, "a route") {
        return None;
    }
    let mut r = Route {
        pos: Pos(n.loc),
        ..Route::default()
    };
    let mut w = Words::new(cx, n);
    let mut default_dest = false;
    while let Some(word) = w.peek() {
        let at = w.i;
        match word {
            "inet" | "inet6" => w.family(at, &mut r.family),
            "src" => {
                if let Some((vi, v)) = w.value() {
                    r.src = w.ip(vi, v, "a route src");
                }
            }
            "as" => {
                w.err(
                    at,
                    "'as [to]' is for MPLS routes, which are not supported (keepalived ignores it)",
                    Some("remove it".into()),
                );
                w.i += 1;
                if w.peek() == Some("to") {
                    w.i += 1;
                }
                w.i += 1;
            }
            "via" | "gw" => {
                if word == "gw" {
                    w.warn(
                        at,
                        "'gw' is deprecated for routes",
                        Some("write 'via' instead".into()),
                    );
                }
                w.i += 1;
                if let Some(f @ ("inet" | "inet6")) = w.peek() {
                    let f = if f == "inet" {
                        Family::Inet
                    } else {
                        Family::Inet6
                    };
                    if r.family.is_some_and(|x| x != f) {
                        let i = w.i;
                        w.err(i, "this family contradicts the route's family", None);
                    }
                    r.family = Some(f);
                    w.i += 1;
                }
                match w.peek() {
                    Some(v) => {
                        let vi = w.i;
                        w.i += 1;
                        if r.via.is_some() || !r.nexthop.is_empty() {
                            w.err(at, format!("'{word}' is given twice"), None);
                        }
                        r.via = w.ip(vi, v, "a gateway");
                    }
                    None => w.err(at, format!("'{word}' needs an address"), None),
                }
            }
            "from" => {
                if let Some((vi, v)) = w.value() {
                    r.from = w.prefix(vi, v);
                }
            }
            "tos" | "dsfield" => {
                if let Some((vi, v)) = w.value() {
                    r.tos = w.rt_name(vi, v, "tos", 255);
                }
            }
            "table" => {
                if let Some((vi, v)) = w.value() {
                    r.table = w.rt_name(vi, v, "table", u64::from(u32::MAX));
                }
            }
            "protocol" => {
                if let Some((vi, v)) = w.value() {
                    r.protocol = w.rt_name(vi, v, "protocol", 255);
                }
            }
            "scope" => {
                if let Some((vi, v)) = w.value() {
                    match check_scope(v) {
                        Ok(()) => r.scope = Some(v.to_string()),
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "metric" | "priority" | "preference" => {
                if let Some((vi, v)) = w.value() {
                    r.metric = w.num(vi, v, word, u64::from(u32::MAX));
                }
            }
            "dev" | "oif" => {
                if let Some((vi, v)) = w.value() {
                    r.dev = w.ifname(vi, v);
                }
            }
            "onlink" => {
                r.onlink = true;
                w.i += 1;
            }
            "encap" => r.encap = parse_encap(&mut w),
            "expires" => {
                if let Some((vi, v)) = w.value() {
                    r.expires = w.num(vi, v, "expires", u64::from(u32::MAX));
                }
            }
            "mtu" | "advmss" | "reordering" | "cwnd" | "ssthresh" | "window" | "initcwnd"
            | "initrwnd" => {
                w.i += 1;
                let lockable = !matches!(word, "window" | "initcwnd" | "initrwnd");
                let locked = lockable && w.lock();
                match w.peek() {
                    Some(v) => {
                        let vi = w.i;
                        w.i += 1;
                        let x = w.num::<u32>(vi, v, word, u64::from(u32::MAX));
                        let (slot, lm) = match word {
                            "mtu" => (&mut r.mtu, Some(LockedMetric::Mtu)),
                            "advmss" => (&mut r.advmss, Some(LockedMetric::Advmss)),
                            "reordering" => (&mut r.reordering, Some(LockedMetric::Reordering)),
                            "cwnd" => (&mut r.cwnd, Some(LockedMetric::Cwnd)),
                            "ssthresh" => (&mut r.ssthresh, Some(LockedMetric::Ssthresh)),
                            "window" => (&mut r.window, None),
                            "initcwnd" => (&mut r.initcwnd, None),
                            _ => (&mut r.initrwnd, None),
                        };
                        *slot = x;
                        if let Some(lm) = lm.filter(|lm| locked && !r.lock.contains(lm)) {
                            r.lock.push(lm);
                        }
                    }
                    None => w.err(at, format!("'{word}' needs a value"), None),
                }
            }
            "hoplimit" => {
                if let Some((vi, v)) = w.value() {
                    r.hoplimit = w.num(vi, v, "hoplimit", 255);
                }
            }
            "rtt" | "rttvar" | "rto_min" => {
                w.i += 1;
                let locked = w.lock();
                match w.peek() {
                    Some(v) => {
                        let vi = w.i;
                        w.i += 1;
                        let t = parse_rtt(v);
                        if t.is_none() {
                            w.err(
                                vi,
                                format!("'{v}' is not a time (milliseconds, or with a unit: 300ms, 1.5s)"),
                                None,
                            );
                        }
                        let (slot, lm) = match word {
                            "rtt" => (&mut r.rtt, LockedMetric::Rtt),
                            "rttvar" => (&mut r.rttvar, LockedMetric::Rttvar),
                            _ => (&mut r.rto_min, LockedMetric::RtoMin),
                        };
                        *slot = t;
                        if locked && !r.lock.contains(&lm) {
                            r.lock.push(lm);
                        }
                    }
                    None => w.err(at, format!("'{word}' needs a value"), None),
                }
            }
            "realms" => {
                if let Some((vi, v)) = w.value() {
                    match check_realms(v) {
                        Ok(()) => r.realms = Some(v.to_string()),
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "features" => {
                if let Some((vi, v)) = w.value() {
                    if v == "ecn" {
                        if !r.features.contains(&RouteFeature::Ecn) {
                            r.features.push(RouteFeature::Ecn);
                        }
                    } else {
                        w.err(vi, format!("unknown route feature '{v}': only 'ecn'"), None);
                    }
                }
            }
            "quickack" | "fastopen_no_cookie" => {
                if let Some((vi, v)) = w.value() {
                    let b = match v {
                        "0" => Some(false),
                        "1" => Some(true),
                        _ => {
                            w.err(vi, format!("'{word}' takes 0 or 1, not '{v}'"), None);
                            None
                        }
                    };
                    if word == "quickack" {
                        r.quickack = b;
                    } else {
                        r.fastopen_no_cookie = b;
                    }
                }
            }
            "congctl" => {
                w.i += 1;
                let locked = w.lock();
                match w.peek() {
                    Some(v) => {
                        w.i += 1;
                        r.congctl = Some(v.to_string());
                        if locked && !r.lock.contains(&LockedMetric::Congctl) {
                            r.lock.push(LockedMetric::Congctl);
                        }
                    }
                    None => w.err(at, "'congctl' needs an algorithm", None),
                }
            }
            "pref" => {
                if let Some((vi, v)) = w.value() {
                    if matches!(v, "low" | "medium" | "high") || v.parse::<u8>().is_ok() {
                        r.pref = Some(v.to_string());
                    } else {
                        w.err(
                            vi,
                            format!("'pref' takes low, medium, high or a number, not '{v}'"),
                            None,
                        );
                    }
                }
            }
            "ttl-propagate" => {
                if let Some((vi, v)) = w.value() {
                    match v {
                        "enabled" => r.ttl_propagate = Some(true),
                        "disabled" => r.ttl_propagate = Some(false),
                        _ => w.err(
                            vi,
                            format!("'ttl-propagate' takes enabled or disabled, not '{v}'"),
                            None,
                        ),
                    }
                }
            }
            "add" => {
                r.mode = Some(RouteMode::Add);
                w.i += 1;
            }
            "append" => {
                r.mode = Some(RouteMode::Append);
                w.i += 1;
            }
            "prepend" => {
                r.mode = Some(RouteMode::Prepend);
                w.i += 1;
            }
            "or" => {
                w.warn(
                    at,
                    "'or' is deprecated for routes",
                    Some("write two 'nexthop via ...' groups instead".into()),
                );
                if let Some((vi, v)) = w.value() {
                    if !r.nexthop.is_empty() {
                        w.err(at, "only one 'or' may be given", None);
                    } else if r.via.is_none() {
                        w.err(at, "'or' needs a 'via' address before it", None);
                    } else {
                        let alt = w.ip(vi, v, "an 'or' gateway");
                        r.nexthop.push(Nexthop {
                            via: r.via.take(),
                            ..Nexthop::default()
                        });
                        r.nexthop.push(Nexthop {
                            via: alt,
                            ..Nexthop::default()
                        });
                    }
                }
            }
            "nexthop" => {
                if !r.nexthop.is_empty() {
                    w.err(at, "'nexthop' cannot be combined with 'or'", None);
                    r.nexthop.clear();
                }
                parse_nexthops(&mut w, &mut r);
            }
            "no_track" => {
                r.no_track = true;
                w.i += 1;
            }
            "track_group" if used.is_static() => {
                if let Some((_, v)) = w.value() {
                    r.track_group = Some(v.to_string());
                }
            }
            "vrf" => {
                if let Some((vi, v)) = w.value() {
                    r.vrf = w.ifname(vi, v);
                }
            }
            _ => {
                // [to] [TYPE] DEST
                let mut j = at;
                if word == "to" {
                    j += 1;
                }
                if let Some((_, rt)) = n
                    .tok(j)
                    .and_then(|t| ROUTE_TYPES.iter().find(|(name, _)| *name == t))
                {
                    r.route_type = Some(*rt);
                    j += 1;
                }
                let explicit = j > at;
                let Some(dest) = n.tok(j) else {
                    w.err(at, format!("'{word}' needs a destination"), None);
                    w.i = j;
                    continue;
                };
                let parsed = match dest {
                    "default" | "any" | "all" => {
                        default_dest = true;
                        Ok(IpPrefix::any(Family::Inet))
                    }
                    "default6" => {
                        w.warn(
                            j,
                            "'default6' is deprecated",
                            Some("write 'inet6 default' instead".into()),
                        );
                        r.family.get_or_insert(Family::Inet6);
                        Ok(IpPrefix::any(Family::Inet6))
                    }
                    _ => dest.parse::<IpPrefix>(),
                };
                let looks_like_address =
                    dest.starts_with(|c: char| c.is_ascii_digit()) || dest.contains(':');
                match parsed {
                    Ok(p) => {
                        if r.to.is_some() {
                            w.err(
                                j,
                                format!("a second destination '{dest}'"),
                                Some("each route goes on its own line".into()),
                            );
                        }
                        r.to = Some(p);
                        w.i = j + 1;
                    }
                    Err(e) if explicit || looks_like_address => {
                        w.err(
                            j,
                            format!("'{dest}' is not a destination prefix: {e}"),
                            Some("write e.g. 198.51.100.0/24 or default".into()),
                        );
                        w.i = j + 1;
                    }
                    Err(_) => w.unknown("route", ROUTE_OPTIONS, "route"),
                }
            }
        }
    }
    // `default` takes the family of the rest of the route.
    if default_dest {
        let fam = r
            .family
            .or(r.src.map(|a| Family::of(&a)))
            .or(r.via.map(|a| Family::of(&a)))
            .or(r
                .nexthop
                .iter()
                .find_map(|nh| nh.via)
                .map(|a| Family::of(&a)))
            .or(r.from.map(|p| p.family()))
            .unwrap_or(Family::Inet);
        r.to = Some(IpPrefix::any(fam));
    }
    // An entry with a bad word is dropped: the checks of its remains would only add noise.
    let problems = if w.bad {
        Vec::new()
    } else {
        route_problems(&r, used)
    };
    let bad = w.bad || problems.iter().any(|p| !p.warning);
    report_problems(cx, Some(n), r.pos, problems);
    (!bad).then_some(r)
}

/// Reads the entries of a route block.
pub fn parse_route_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<Route> {
    nodes
        .iter()
        .filter_map(|n| parse_route(cx, n, used))
        .collect()
}

const RULE_OPTIONS: &[&str] = &[
    "inet",
    "inet6",
    "from",
    "to",
    "table",
    "lookup",
    "not",
    "preference",
    "priority",
    "order",
    "tos",
    "dsfield",
    "fwmark",
    "realms",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "dev",
    "iif",
    "oif",
    "tunnel-id",
    "uidrange",
    "l3mdev",
    "protocol",
    "ipproto",
    "sport",
    "dport",
    "no_track",
    "track_group",
    "type",
    "goto",
    "nop",
    "blackhole",
    "unreachable",
    "prohibit",
];

fn parse_rule_prefix(w: &mut Words<'_, '_>, vi: usize, v: &str) -> Option<IpPrefix> {
    match v {
        "all" | "any" | "default" => Some(IpPrefix::any(Family::Inet)),
        _ => w.prefix(vi, v),
    }
}

/// Reads one rule entry.
pub fn parse_rule(cx: &mut Cx, n: &Node, used: AddressUse) -> Option<Rule> {
    if !no_block(cx, n, "a rule") {
        return None;
    }
    let mut r = Rule {
        pos: Pos(n.loc),
        ..Rule::default()
    };
    let mut w = Words::new(cx, n);
    let mut any_from = false;
    let mut any_to = false;
    while let Some(word) = w.peek() {
        let at = w.i;
        match word {
            "inet" | "inet6" => w.family(at, &mut r.family),
            "from" | "to" => {
                if let Some((vi, v)) = w.value() {
                    let p = parse_rule_prefix(&mut w, vi, v);
                    let any = matches!(v, "all" | "any" | "default");
                    if word == "from" {
                        r.from = p;
                        any_from = any;
                    } else {
                        r.to = p;
                        any_to = any;
                    }
                }
            }
            "table" | "lookup" => {
                if let Some((vi, v)) = w.value() {
                    r.table = w.rt_name(vi, v, "table", u64::from(u32::MAX));
                }
            }
            "not" => {
                r.not = true;
                w.i += 1;
            }
            "preference" | "priority" | "order" => {
                if let Some((vi, v)) = w.value() {
                    r.preference = w.num(vi, v, word, u64::from(u32::MAX));
                }
            }
            "tos" | "dsfield" => {
                if let Some((vi, v)) = w.value() {
                    r.tos = w.rt_name(vi, v, "tos", 255);
                }
            }
            "fwmark" => {
                if let Some((vi, v)) = w.value() {
                    let (m, mask) = match v.split_once('/') {
                        Some((a, b)) => (a, Some(b)),
                        None => (v, None),
                    };
                    let mark = w.num::<u32>(vi, m, "fwmark", u64::from(u32::MAX));
                    let mask =
                        mask.and_then(|x| w.num::<u32>(vi, x, "fwmark mask", u64::from(u32::MAX)));
                    r.fwmark = mark;
                    r.fwmask = mask;
                }
            }
            "realms" => {
                if let Some((vi, v)) = w.value() {
                    match check_realms(v) {
                        Ok(()) => r.realms = Some(v.to_string()),
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "suppress_prefixlength" | "sup_pl" => {
                if let Some((vi, v)) = w.value() {
                    r.suppress_prefixlength = w.num(vi, v, word, i32::MAX as u64);
                }
            }
            "suppress_ifgroup" | "sup_group" => {
                if let Some((vi, v)) = w.value() {
                    r.suppress_ifgroup = w.rt_name(vi, v, "group", i32::MAX as u64);
                }
            }
            "dev" | "iif" | "oif" => {
                if let Some((vi, v)) = w.value() {
                    let name = w.ifname(vi, v);
                    if word == "oif" {
                        r.oif = name;
                    } else {
                        r.iif = name;
                    }
                }
            }
            "tunnel-id" => {
                if let Some((vi, v)) = w.value() {
                    r.tunnel_id = w.num(vi, v, "tunnel-id", i64::MAX as u64);
                }
            }
            "uidrange" | "sport" | "dport" => {
                if let Some((vi, v)) = w.value() {
                    match v.parse::<NumRange>() {
                        Ok(x) if word != "uidrange" && x.end > u32::from(u16::MAX) => {
                            w.err(vi, format!("'{v}' is not a port range (0 to 65535)"), None)
                        }
                        Ok(x) => match word {
                            "uidrange" => r.uidrange = Some(x),
                            "sport" => r.sport = Some(x),
                            _ => r.dport = Some(x),
                        },
                        Err(e) => w.err(vi, e, None),
                    }
                }
            }
            "l3mdev" => {
                r.l3mdev = true;
                w.i += 1;
            }
            "protocol" => {
                if let Some((vi, v)) = w.value() {
                    r.protocol = w.num(vi, v, "protocol", 255);
                }
            }
            "ipproto" => {
                if let Some((vi, v)) = w.value() {
                    r.ipproto = w.rt_name(vi, v, "ipproto", 255);
                }
            }
            "no_track" => {
                r.no_track = true;
                w.i += 1;
            }
            "track_group" if used.is_static() => {
                if let Some((_, v)) = w.value() {
                    r.track_group = Some(v.to_string());
                }
            }
            _ => {
                let mut j = at;
                let mut action = word;
                if word == "type" {
                    j += 1;
                    match n.tok(j) {
                        Some(a) => action = a,
                        None => {
                            w.err(at, "'type' needs an action", None);
                            w.i = j;
                            continue;
                        }
                    }
                }
                let already = r.table.is_some() || r.goto.is_some() || r.rule_type.is_some();
                let ty = match action {
                    "nop" => Some(RuleType::Nop),
                    "blackhole" => Some(RuleType::Blackhole),
                    "unreachable" => Some(RuleType::Unreachable),
                    "prohibit" => Some(RuleType::Prohibit),
                    _ => None,
                };
                if let Some(t) = ty {
                    if already {
                        w.err(j, "a rule has only one action", None);
                    }
                    r.rule_type = Some(t);
                    w.i = j + 1;
                } else if action == "goto" {
                    if already {
                        w.err(j, "a rule has only one action", None);
                    }
                    w.i = j;
                    if let Some((vi, v)) = w.value() {
                        r.goto = w.num(vi, v, "goto", u64::from(u32::MAX));
                    }
                } else if ROUTE_TYPES.iter().any(|(name, _)| *name == action) {
                    w.err(
                        j,
                        format!("'{action}' is not a rule action: nop, goto, blackhole, unreachable or prohibit"),
                        None,
                    );
                    w.i = j + 1;
                } else if word == "type" {
                    w.err(
                        j,
                        format!("unknown rule type '{action}': nop, goto, blackhole, unreachable or prohibit"),
                        None,
                    );
                    w.i = j + 1;
                } else {
                    w.unknown("rule", RULE_OPTIONS, "rule");
                }
            }
        }
    }
    let fam = r.effective_family_hint();
    if any_from {
        r.from = Some(IpPrefix::any(fam));
    }
    if any_to {
        r.to = Some(IpPrefix::any(fam));
    }
    // An entry with a bad word is dropped: the checks of its remains would only add noise.
    let problems = if w.bad {
        Vec::new()
    } else {
        rule_problems(&r, used)
    };
    let bad = w.bad || problems.iter().any(|p| !p.warning);
    report_problems(cx, Some(n), r.pos, problems);
    (!bad).then_some(r)
}

impl Rule {
    /// The family before `all` selectors are resolved: as written, else from a real prefix.
    fn effective_family_hint(&self) -> Family {
        self.family
            .or(self.from.filter(|p| p.len > 0).map(|p| p.family()))
            .or(self.to.filter(|p| p.len > 0).map(|p| p.family()))
            .or(self.realms.as_ref().map(|_| Family::Inet))
            .unwrap_or(Family::Inet)
    }
}

/// Reads the entries of a rule block.
pub fn parse_rule_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<Rule> {
    nodes
        .iter()
        .filter_map(|n| parse_rule(cx, n, used))
        .collect()
}
