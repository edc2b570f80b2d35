//! Encoding of every request, with neli's message types, into the bytes `ip` would send.
//!
//! Attribute order and header defaults follow iproute2 6.1 (checked byte for byte against
//! captures of `ip` in `request/tests.rs`), so that a request can be compared with, and
//! reasoned about as, the `ip` command it stands for.
//!
//! ```text
//!  ifaddrmsg (RTM_NEWADDR/DELADDR)       rtmsg (RTM_NEWROUTE/DELROUTE)
//!  +--------+--------+-------+-------+   +--------+--------+--------+-----+
//!  | family | prefix | flags | scope |   | family | dstlen | srclen | tos |
//!  +--------+--------+-------+-------+   +--------+--------+--------+-----+
//!  | ifindex u32                     |   | table  | proto  | scope  | type|
//!  +---------------------------------+   +--------+--------+--------+-----+
//!                                        | flags u32                      |
//!  fib_rule_hdr (RTM_NEWRULE/DELRULE)    +--------------------------------+
//!  +--------+--------+--------+-----+
//!  | family | dstlen | srclen | tos |    ifinfomsg (RTM_NEWLINK/DELLINK/GETLINK)
//!  +--------+--------+--------+-----+    +--------+-----+----------+
//!  | table  | res1   | res2   | act |    | family | pad | type u16 |
//!  +--------+--------+--------+-----+    +--------+-----+----------+
//!  | flags u32                      |    | index i32 | flags u32 | change u32 |
//!  +--------------------------------+    +-----------+-----------+------------+
//!  each followed by attributes: | len u16 | type u16 | value, padded to 4 |
//! ```

use std::fmt::Debug;
use std::io::Cursor;
use std::net::IpAddr;

use neli::consts::nl::NlmF;
use neli::consts::rtnl::{
    Arphrd, FrAct, Frattr, Frf, Ifa, IfaF, Iff, Ifla, IflaInfo, RtAddrFamily, RtScope, RtTable,
    Rta, RtaType, Rtm, RtmF, Rtn, Rtprot,
};
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::rtnl::{
    FibmsgBuilder, IfaddrmsgBuilder, IfinfomsgBuilder, Rtattr, RtattrBuilder, RtmsgBuilder,
};
use neli::types::{Buffer, RtBuffer};
use neli::{Size, ToBytes};

use crate::model::{AddrSpec, Family, Prefix, RouteMode, RouteSpec, RuleAction, RuleSpec};
use crate::names;
use crate::vmac::valid_ifname;

#[cfg(test)]
mod tests;

/// Why a request cannot be encoded; nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid(pub String);

type Result<T> = std::result::Result<T, Invalid>;

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid(reason.into())
}

/// RTEXT_FILTER_SKIP_STATS: links without their statistics (smaller dumps).
const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;
/// IFLA_MACVLAN_MODE inside IFLA_INFO_DATA.
const IFLA_MACVLAN_MODE: u16 = 1;
/// MACVLAN_MODE_PRIVATE.
pub(crate) const MACVLAN_MODE_PRIVATE: u32 = 1;
/// IFLA_INET6_ADDR_GEN_MODE inside IFLA_AF_SPEC / AF_INET6.
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
/// IN6_ADDR_GEN_MODE_NONE.
pub(crate) const ADDR_GEN_MODE_NONE: u8 = 1;
/// FR_ACT_* (linux/fib_rules.h).
const FR_ACT_UNSPEC: u8 = 0;
const FR_ACT_TO_TBL: u8 = 1;
const FR_ACT_GOTO: u8 = 2;
const FR_ACT_NOP: u8 = 3;
const FR_ACT_BLACKHOLE: u8 = 6;
const FR_ACT_UNREACHABLE: u8 = 7;
const FR_ACT_PROHIBIT: u8 = 8;
/// FIB_RULE_INVERT: `not`.
const FIB_RULE_INVERT: u32 = 2;
/// INFINITY_LIFE_TIME.
const FOREVER: u32 = u32::MAX;

fn attr<T: RtaType>(ty: T, value: &[u8]) -> Result<Rtattr<T, Buffer>> {
    RtattrBuilder::default()
        .rta_type(ty)
        .rta_payload(Buffer::from(value))
        .build()
        .map_err(|e| invalid(format!("cannot build attribute {ty:?}: {e}")))
}

fn nest<T: RtaType, U: RtaType>(
    outer: Rtattr<T, Buffer>,
    inner: &Rtattr<U, Buffer>,
) -> Result<Rtattr<T, Buffer>> {
    outer
        .nest(inner)
        .map_err(|e| invalid(format!("cannot nest an attribute: {e}")))
}

/// A NUL-terminated string value.
fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn ip_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn encode<P: Size + ToBytes + Debug>(
    ty: Rtm,
    flags: NlmF,
    seq: u32,
    payload: P,
) -> Result<Vec<u8>> {
    let msg = NlmsghdrBuilder::default()
        .nl_type(ty)
        .nl_flags(flags)
        .nl_seq(seq)
        .nl_pid(0)
        .nl_payload(NlPayload::Payload(payload))
        .build()
        .map_err(|e| invalid(format!("cannot build the netlink header: {e}")))?;
    let mut out = Cursor::new(Vec::with_capacity(msg.padded_size()));
    msg.to_bytes(&mut out)
        .map_err(|e| invalid(format!("cannot serialise the request: {e}")))?;
    Ok(out.into_inner())
}

fn check_prefix(what: &str, p: &Prefix) -> Result<()> {
    let max = p.family().max_len();
    if p.len > max {
        return Err(invalid(format!(
            "{what} prefix length {} is longer than {max}",
            p.len
        )));
    }
    Ok(())
}

fn ifindex_i32(ifindex: u32) -> Result<i32> {
    match i32::try_from(ifindex) {
        Ok(i) if i > 0 => Ok(i),
        _ => Err(invalid(format!("{ifindex} is not an interface index"))),
    }
}

fn same_family(what: &str, family: Family, a: &IpAddr) -> Result<()> {
    if Family::of(a) == family {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} {a} is not of the family of the rest ({})",
            match family {
                Family::Inet => "IPv4",
                Family::Inet6 => "IPv6",
            }
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Dumps and queries
// ---------------------------------------------------------------------------------------------

fn ifinfomsg(
    index: i32,
    flags: Iff,
    change: Iff,
    attrs: RtBuffer<Ifla, Buffer>,
) -> Result<neli::rtnl::Ifinfomsg> {
    IfinfomsgBuilder::default()
        .ifi_family(RtAddrFamily::Unspecified)
        .ifi_type(Arphrd::from(0))
        .ifi_index(index)
        .ifi_flags(flags)
        .ifi_change(change)
        .rtattrs(attrs)
        .build()
        .map_err(|e| invalid(format!("cannot build ifinfomsg: {e}")))
}

/// RTM_GETLINK dump of every link, without statistics.
pub(crate) fn get_links(seq: u32) -> Result<Vec<u8>> {
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Ifla::ExtMask, &RTEXT_FILTER_SKIP_STATS.to_ne_bytes())?);
    let msg = ifinfomsg(0, Iff::empty(), Iff::empty(), attrs)?;
    encode(Rtm::Getlink, NlmF::REQUEST | NlmF::DUMP, seq, msg)
}

/// Which link a RTM_GETLINK asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkKey<'a> {
    /// By index.
    Index(u32),
    /// By name (IFLA_IFNAME).
    Name(&'a str),
}

/// RTM_GETLINK of one link: the answer is an RTM_NEWLINK, or an error (ENODEV).
pub(crate) fn get_link(key: LinkKey<'_>, seq: u32) -> Result<Vec<u8>> {
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Ifla::ExtMask, &RTEXT_FILTER_SKIP_STATS.to_ne_bytes())?);
    let index = match key {
        LinkKey::Index(i) => ifindex_i32(i)?,
        LinkKey::Name(n) => {
            if !valid_ifname(n) {
                return Err(invalid(format!("'{n}' is not an interface name")));
            }
            attrs.push(attr(Ifla::Ifname, &cstr(n))?);
            0
        }
    };
    let msg = ifinfomsg(index, Iff::empty(), Iff::empty(), attrs)?;
    encode(Rtm::Getlink, NlmF::REQUEST, seq, msg)
}

/// RTM_GETADDR dump, of one family or of both.
pub(crate) fn get_addrs(family: Option<Family>, seq: u32) -> Result<Vec<u8>> {
    let af = family.map_or(libc::AF_UNSPEC as u8, Family::af);
    let msg = IfaddrmsgBuilder::default()
        .ifa_family(RtAddrFamily::from(af))
        .ifa_prefixlen(0)
        .ifa_scope(RtScope::from(0))
        .ifa_index(0)
        .build()
        .map_err(|e| invalid(format!("cannot build ifaddrmsg: {e}")))?;
    encode(Rtm::Getaddr, NlmF::REQUEST | NlmF::DUMP, seq, msg)
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

fn check_addr(spec: &AddrSpec) -> Result<()> {
    let family = spec.family();
    check_prefix("the address's", &Prefix::new(spec.addr, spec.prefix_len))?;
    ifindex_i32(spec.ifindex)?;
    if let Some(p) = &spec.peer {
        same_family("the peer", family, p)?;
    }
    if family == Family::Inet6 {
        if spec.broadcast.is_some() {
            return Err(invalid("a broadcast address is for IPv4 addresses only"));
        }
        if spec.label.is_some() {
            return Err(invalid("a label is for IPv4 addresses only"));
        }
    }
    if let Some(l) = &spec.label {
        if l.is_empty() || l.len() >= 16 || l.bytes().any(|b| b == 0) {
            return Err(invalid(format!(
                "the label '{l}' is not 1 to 15 bytes long"
            )));
        }
    }
    Ok(())
}

/// RTM_NEWADDR (`add`) or RTM_DELADDR.
///
/// As `ip address`: IFA_LOCAL; IFA_ADDRESS = the peer right after it, or the local
/// address after the label and flags; flags that fit 8 bits in the header, others (and
/// then all) in IFA_FLAGS; lifetimes in IFA_CACHEINFO only when one is not forever.
fn addr_msg(spec: &AddrSpec, add: bool, seq: u32) -> Result<Vec<u8>> {
    check_addr(spec)?;
    let flags = spec.flags();
    let (header_flags, flags_attr) = if flags <= 0xff {
        (flags as u8, None)
    } else {
        (0, Some(flags))
    };
    let local = ip_bytes(&spec.addr);
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Ifa::Local, &local)?);
    if let Some(p) = &spec.peer {
        attrs.push(attr(Ifa::Address, &ip_bytes(p))?);
    }
    if let Some(l) = &spec.label {
        attrs.push(attr(Ifa::Label, &cstr(l))?);
    }
    if let Some(f) = flags_attr.filter(|_| add) {
        attrs.push(attr(Ifa::Flags, &f.to_ne_bytes())?);
    }
    if spec.peer.is_none() {
        attrs.push(attr(Ifa::Address, &local)?);
    }
    if add {
        if let Some(b) = &spec.broadcast {
            attrs.push(attr(Ifa::Broadcast, &b.octets())?);
        }
        if let Some(preferred) = spec.preferred_lft {
            // struct ifa_cacheinfo { ifa_prefered, ifa_valid, cstamp, tstamp }
            let mut ci = Vec::with_capacity(16);
            for v in [preferred, FOREVER, 0, 0] {
                ci.extend_from_slice(&v.to_ne_bytes());
            }
            attrs.push(attr(Ifa::Cacheinfo, &ci)?);
        }
    }
    let msg = IfaddrmsgBuilder::default()
        .ifa_family(RtAddrFamily::from(spec.family().af()))
        .ifa_prefixlen(spec.prefix_len)
        .ifa_flags(IfaF::from(if add { header_flags } else { 0 }))
        .ifa_scope(RtScope::from(spec.scope))
        .ifa_index(spec.ifindex)
        .rtattrs(attrs)
        .build()
        .map_err(|e| invalid(format!("cannot build ifaddrmsg: {e}")))?;
    if add {
        let flags = NlmF::REQUEST | NlmF::ACK | NlmF::EXCL | NlmF::CREATE;
        encode(Rtm::Newaddr, flags, seq, msg)
    } else {
        encode(Rtm::Deladdr, NlmF::REQUEST | NlmF::ACK, seq, msg)
    }
}

/// RTM_NEWADDR with NLM_F_CREATE|NLM_F_EXCL (`ip address add`).
pub(crate) fn new_addr(spec: &AddrSpec, seq: u32) -> Result<Vec<u8>> {
    addr_msg(spec, true, seq)
}

/// RTM_DELADDR (`ip address del`).
pub(crate) fn del_addr(spec: &AddrSpec, seq: u32) -> Result<Vec<u8>> {
    addr_msg(spec, false, seq)
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

fn check_route(spec: &RouteSpec) -> Result<()> {
    let family = spec.family();
    check_prefix("the destination's", &spec.dst)?;
    if let Some(v) = &spec.via {
        same_family("the gateway", family, v)?;
    }
    if let Some(s) = &spec.src {
        same_family("the source address", family, s)?;
    }
    if let Some(d) = spec.dev {
        ifindex_i32(d)?;
    }
    if spec.route_type.is_reject() && (spec.via.is_some() || spec.dev.is_some()) {
        return Err(invalid(format!(
            "a {} route has no gateway and no device",
            spec.route_type.keyword()
        )));
    }
    if spec.table == 0 {
        return Err(invalid("table 0 is not a routing table"));
    }
    Ok(())
}

/// `ip route`'s scope when none is given.
fn default_route_scope(spec: &RouteSpec, add: bool) -> u8 {
    use crate::model::RouteType as T;
    if !add {
        return names::SCOPE_NOWHERE;
    }
    match spec.route_type {
        T::Local => names::SCOPE_HOST,
        T::Broadcast | T::Multicast | T::Anycast => names::SCOPE_LINK,
        T::Unicast if spec.via.is_none() => names::SCOPE_LINK,
        _ => names::SCOPE_GLOBAL,
    }
}

/// RTM_NEWROUTE or RTM_DELROUTE.
///
/// As `ip route`: RTA_DST (none for a default route), RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE
/// (only above 255; the header holds smaller ones), RTA_PRIORITY, RTA_OIF. A delete sends
/// the type, and the protocol only when given, and scope "nowhere" (any) unless given.
fn route_msg(spec: &RouteSpec, add: bool, seq: u32) -> Result<Vec<u8>> {
    check_route(spec)?;
    let mut attrs = RtBuffer::new();
    if spec.dst.len > 0 || !spec.dst.addr.is_unspecified() {
        attrs.push(attr(Rta::Dst, &ip_bytes(&spec.dst.addr))?);
    }
    if let Some(v) = &spec.via {
        attrs.push(attr(Rta::Gateway, &ip_bytes(v))?);
    }
    if let Some(s) = &spec.src {
        attrs.push(attr(Rta::Prefsrc, &ip_bytes(s))?);
    }
    let header_table = match u8::try_from(spec.table) {
        Ok(t) => t,
        Err(_) => {
            attrs.push(attr(Rta::Table, &spec.table.to_ne_bytes())?);
            libc::RT_TABLE_UNSPEC
        }
    };
    if let Some(m) = spec.metric {
        attrs.push(attr(Rta::Priority, &m.to_ne_bytes())?);
    }
    if let Some(d) = spec.dev {
        attrs.push(attr(Rta::Oif, &d.to_ne_bytes())?);
    }
    let protocol = spec
        .protocol
        .unwrap_or(if add { names::PROTO_BOOT } else { 0 });
    let scope = spec.scope.unwrap_or_else(|| default_route_scope(spec, add));
    let msg = RtmsgBuilder::default()
        .rtm_family(RtAddrFamily::from(spec.family().af()))
        .rtm_dst_len(spec.dst.len)
        .rtm_src_len(0)
        .rtm_tos(0)
        .rtm_table(RtTable::from(header_table))
        .rtm_protocol(Rtprot::from(protocol))
        .rtm_scope(RtScope::from(scope))
        .rtm_type(Rtn::from(spec.route_type.rtn()))
        .rtm_flags(RtmF::empty())
        .rtattrs(attrs)
        .build()
        .map_err(|e| invalid(format!("cannot build rtmsg: {e}")))?;
    if add {
        let mode = match spec.mode {
            RouteMode::Add => NlmF::CREATE | NlmF::EXCL,
            RouteMode::Append => NlmF::CREATE | NlmF::APPEND,
            RouteMode::Prepend => NlmF::CREATE,
            RouteMode::Replace => NlmF::CREATE | NlmF::REPLACE,
        };
        encode(Rtm::Newroute, NlmF::REQUEST | NlmF::ACK | mode, seq, msg)
    } else {
        encode(Rtm::Delroute, NlmF::REQUEST | NlmF::ACK, seq, msg)
    }
}

/// RTM_NEWROUTE (`ip route add|append|prepend|replace`).
pub(crate) fn new_route(spec: &RouteSpec, seq: u32) -> Result<Vec<u8>> {
    route_msg(spec, true, seq)
}

/// RTM_DELROUTE (`ip route del TYPE ...`).
pub(crate) fn del_route(spec: &RouteSpec, seq: u32) -> Result<Vec<u8>> {
    route_msg(spec, false, seq)
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

fn check_rule(spec: &RuleSpec) -> Result<()> {
    for (what, p) in [("from", &spec.from), ("to", &spec.to)] {
        if let Some(p) = p {
            same_family(&format!("the '{what}' prefix"), spec.family, &p.addr)?;
            check_prefix(&format!("the '{what}'"), p)?;
        }
    }
    for (what, n) in [("iif", &spec.iif), ("oif", &spec.oif)] {
        if let Some(n) = n {
            if !valid_ifname(n) {
                return Err(invalid(format!("{what} '{n}' is not an interface name")));
            }
        }
    }
    if spec.fwmask.is_some() && spec.fwmark.is_none() {
        return Err(invalid("a fwmark mask needs a fwmark"));
    }
    if spec.action == RuleAction::Table(0) {
        return Err(invalid("table 0 is not a routing table"));
    }
    Ok(())
}

/// RTM_NEWRULE or RTM_DELRULE.
///
/// As `ip rule`: FRA_SRC, FRA_DST, FRA_IIFNAME, FRA_OIFNAME, FRA_TABLE (only above 255),
/// FRA_PRIORITY, FRA_GOTO, FRA_FWMARK, FRA_FWMASK, FRA_PROTOCOL; a prefix of length 0 is
/// "all" and not sent; a delete of a table rule sends action "unspec" (any).
fn rule_msg(spec: &RuleSpec, add: bool, seq: u32) -> Result<Vec<u8>> {
    check_rule(spec)?;
    let mut attrs = RtBuffer::new();
    let mut src_len = 0;
    let mut dst_len = 0;
    if let Some(p) = spec.from.filter(|p| p.len > 0) {
        attrs.push(attr(Frattr::Src, &ip_bytes(&p.addr))?);
        src_len = p.len;
    }
    if let Some(p) = spec.to.filter(|p| p.len > 0) {
        attrs.push(attr(Frattr::Dst, &ip_bytes(&p.addr))?);
        dst_len = p.len;
    }
    if let Some(n) = &spec.iif {
        attrs.push(attr(Frattr::Iifname, &cstr(n))?);
    }
    if let Some(n) = &spec.oif {
        attrs.push(attr(Frattr::Oifname, &cstr(n))?);
    }
    let (action, table) = match spec.action {
        RuleAction::Table(t) => (FR_ACT_TO_TBL, t),
        RuleAction::Goto(_) => (FR_ACT_GOTO, 0),
        RuleAction::Nop => (FR_ACT_NOP, 0),
        RuleAction::Blackhole => (FR_ACT_BLACKHOLE, 0),
        RuleAction::Unreachable => (FR_ACT_UNREACHABLE, 0),
        RuleAction::Prohibit => (FR_ACT_PROHIBIT, 0),
    };
    let header_table = match u8::try_from(table) {
        Ok(t) => t,
        Err(_) => {
            attrs.push(attr(Frattr::Table, &table.to_ne_bytes())?);
            libc::RT_TABLE_UNSPEC
        }
    };
    if let Some(p) = spec.priority {
        attrs.push(attr(Frattr::Priority, &p.to_ne_bytes())?);
    }
    if let RuleAction::Goto(g) = spec.action {
        attrs.push(attr(Frattr::Goto, &g.to_ne_bytes())?);
    }
    if let Some(m) = spec.fwmark {
        attrs.push(attr(Frattr::Fwmark, &m.to_ne_bytes())?);
    }
    if let Some(m) = spec.fwmask {
        attrs.push(attr(Frattr::Fwmask, &m.to_ne_bytes())?);
    }
    if let Some(p) = spec.protocol {
        attrs.push(attr(Frattr::Protocol, &[p])?);
    }
    let action = if !add && action == FR_ACT_TO_TBL {
        FR_ACT_UNSPEC
    } else {
        action
    };
    let flags = if spec.invert { FIB_RULE_INVERT } else { 0 };
    let msg = FibmsgBuilder::default()
        .fib_family(RtAddrFamily::from(spec.family.af()))
        .fib_dst_len(dst_len)
        .fib_src_len(src_len)
        .fib_tos(0)
        .fib_table(RtTable::from(header_table))
        .fib_action(FrAct::from(action))
        .fib_flags(Frf::from(flags))
        .rtattrs(attrs)
        .build()
        .map_err(|e| invalid(format!("cannot build fib_rule_hdr: {e}")))?;
    if add {
        let flags = NlmF::REQUEST | NlmF::ACK | NlmF::EXCL | NlmF::CREATE;
        encode(Rtm::Newrule, flags, seq, msg)
    } else {
        encode(Rtm::Delrule, NlmF::REQUEST | NlmF::ACK, seq, msg)
    }
}

/// RTM_NEWRULE with NLM_F_CREATE|NLM_F_EXCL (`ip rule add`).
pub(crate) fn new_rule(spec: &RuleSpec, seq: u32) -> Result<Vec<u8>> {
    rule_msg(spec, true, seq)
}

/// RTM_DELRULE (`ip rule del`).
pub(crate) fn del_rule(spec: &RuleSpec, seq: u32) -> Result<Vec<u8>> {
    rule_msg(spec, false, seq)
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

/// RTM_NEWLINK creating a macvlan in private mode on `base` (`ip link add link BASE name
/// NAME address MAC type macvlan mode private`).
pub(crate) fn new_vmac(base: u32, name: &str, mac: &[u8; 6], seq: u32) -> Result<Vec<u8>> {
    if !valid_ifname(name) {
        return Err(invalid(format!("'{name}' is not an interface name")));
    }
    ifindex_i32(base)?;
    let mut attrs = RtBuffer::new();
    attrs.push(attr(Ifla::Address, mac)?);
    attrs.push(attr(Ifla::Link, &base.to_ne_bytes())?);
    attrs.push(attr(Ifla::Ifname, &cstr(name))?);
    let mode = attr(IFLA_MACVLAN_MODE, &MACVLAN_MODE_PRIVATE.to_ne_bytes())?;
    let data = nest(attr(IflaInfo::Data, &[])?, &mode)?;
    // The kind without its NUL, as `ip` sends it.
    let kind = attr(IflaInfo::Kind, b"macvlan")?;
    let info = nest(nest(attr(Ifla::Linkinfo, &[])?, &kind)?, &data)?;
    attrs.push(info);
    let msg = ifinfomsg(0, Iff::empty(), Iff::empty(), attrs)?;
    let flags = NlmF::REQUEST | NlmF::ACK | NlmF::EXCL | NlmF::CREATE;
    encode(Rtm::Newlink, flags, seq, msg)
}

/// RTM_NEWLINK setting IFLA_INET6_ADDR_GEN_MODE (`ip link set dev X addrgenmode none`).
pub(crate) fn set_addr_gen_mode(ifindex: u32, mode: u8, seq: u32) -> Result<Vec<u8>> {
    let index = ifindex_i32(ifindex)?;
    let gen_mode = attr(IFLA_INET6_ADDR_GEN_MODE, &[mode])?;
    let inet6 = nest(attr(libc::AF_INET6 as u16, &[])?, &gen_mode)?;
    let mut attrs = RtBuffer::new();
    attrs.push(nest(attr(Ifla::AfSpec, &[])?, &inet6)?);
    let msg = ifinfomsg(index, Iff::empty(), Iff::empty(), attrs)?;
    encode(Rtm::Newlink, NlmF::REQUEST | NlmF::ACK, seq, msg)
}

/// RTM_NEWLINK changing IFF_UP (`ip link set dev X up|down`).
pub(crate) fn set_link_up(ifindex: u32, up: bool, seq: u32) -> Result<Vec<u8>> {
    let index = ifindex_i32(ifindex)?;
    let flags = if up { Iff::UP } else { Iff::empty() };
    let msg = ifinfomsg(index, flags, Iff::UP, RtBuffer::new())?;
    encode(Rtm::Newlink, NlmF::REQUEST | NlmF::ACK, seq, msg)
}

/// RTM_DELLINK (`ip link del dev X`).
pub(crate) fn del_link(ifindex: u32, seq: u32) -> Result<Vec<u8>> {
    let index = ifindex_i32(ifindex)?;
    let msg = ifinfomsg(index, Iff::empty(), Iff::empty(), RtBuffer::new())?;
    encode(Rtm::Dellink, NlmF::REQUEST | NlmF::ACK, seq, msg)
}
