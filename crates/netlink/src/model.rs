//! What the kernel reports (links, addresses) and what is asked of it (address, route and
//! rule specifications), in domain terms: no netlink types leak out of the crate.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::names;
use crate::vmac::format_mac;

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (AF_INET).
    Inet,
    /// IPv6 (AF_INET6).
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// The longest prefix of the family (32 or 128).
    pub fn max_len(self) -> u8 {
        match self {
            Family::Inet => 32,
            Family::Inet6 => 128,
        }
    }

    /// The unspecified address of the family (`0.0.0.0` or `::`).
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }

    /// The AF_* number.
    pub(crate) fn af(self) -> u8 {
        match self {
            Family::Inet => libc::AF_INET as u8,
            Family::Inet6 => libc::AF_INET6 as u8,
        }
    }
}

/// An address with a prefix length, `198.51.100.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (0 to 32 or 128).
    pub len: u8,
}

impl Prefix {
    /// A prefix; the length is checked when a request is encoded.
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        Prefix { addr, len }
    }

    /// A host prefix (/32 or /128).
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix {
            addr,
            len: Family::of(&addr).max_len(),
        }
    }

    /// The default route of a family (`0.0.0.0/0` or `::/0`).
    pub fn default_route(family: Family) -> Prefix {
        Prefix {
            addr: family.unspecified(),
            len: 0,
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 && self.addr.is_unspecified() {
            f.write_str("default")
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

/// The broadcast address of `addr/len` with the host bits set (`brd +`, `set`) or clear
/// (`brd -`).
pub fn ipv4_broadcast(addr: Ipv4Addr, len: u8, set: bool) -> Ipv4Addr {
    let host_mask = if len >= 32 {
        0
    } else {
        u32::MAX >> u32::from(len)
    };
    let a = u32::from(addr);
    Ipv4Addr::from(if set { a | host_mask } else { a & !host_mask })
}

/// What an add or delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel made the change.
    Changed,
    /// An add found the object already there (EEXIST); nothing changed.
    AlreadyPresent,
    /// A delete found no such object (EADDRNOTAVAIL, ESRCH, ENOENT, ENODEV); nothing changed.
    AlreadyAbsent,
}

/// A network interface as the kernel reports it (RTM_NEWLINK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The interface name (IFLA_IFNAME).
    pub name: String,
    /// The hardware address when it is an Ethernet-like 6-byte one (IFLA_ADDRESS).
    pub mac: Option<[u8; 6]>,
    /// IFF_UP: administratively up.
    pub admin_up: bool,
    /// IFF_RUNNING: the kernel considers it operational (carrier, lower link up).
    pub running: bool,
    /// IFLA_MTU.
    pub mtu: Option<u32>,
    /// IFLA_INFO_KIND (`veth`, `macvlan`, `bridge`, ...); none for a plain device.
    pub kind: Option<String>,
    /// IFLA_LINK: the lower device (the base interface of a macvlan, the peer of a veth).
    pub parent: Option<u32>,
    /// IFLA_MACVLAN_MODE of a macvlan (1 private, 2 VEPA, 4 bridge, 8 passthru, 16 source).
    pub macvlan_mode: Option<u32>,
    /// IFLA_INET6_ADDR_GEN_MODE (0 EUI-64, 1 none, 2 stable privacy, 3 random), when
    /// IPv6 is enabled on the link.
    pub addr_gen_mode: Option<u8>,
}

impl Link {
    /// keepalived's "up": administratively up and running (IFF_UP and IFF_RUNNING).
    pub fn up(&self) -> bool {
        self.admin_up && self.running
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.index, self.name)?;
        if let Some(k) = &self.kind {
            write!(f, " ({k})")?;
        }
        if let Some(m) = &self.mac {
            write!(f, " {}", format_mac(m))?;
        }
        f.write_str(if self.up() { " up" } else { " down" })
    }
}

/// An interface address as the kernel reports it (RTM_NEWADDR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The interface index.
    pub ifindex: u32,
    /// The local address (IFA_LOCAL, else IFA_ADDRESS).
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
    /// The point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL.
    pub peer: Option<IpAddr>,
    /// IFA_BROADCAST (IPv4).
    pub broadcast: Option<Ipv4Addr>,
    /// IFA_LABEL (IPv4).
    pub label: Option<String>,
    /// The scope (0 global, 200 site, 253 link, 254 host).
    pub scope: u8,
    /// IFA_F_* flags (IFA_FLAGS when present, else the header's 8 bits).
    pub flags: u32,
}

impl Address {
    /// The family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// IFA_F_NODAD is set.
    pub fn nodad(&self) -> bool {
        self.flags & libc::IFA_F_NODAD != 0
    }
}

/// An address to add or delete (`ip address add|del`).
///
/// Deleting matches on the address, prefix length, peer and label, as `ip address del`
/// does; the other fields only matter when adding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrSpec {
    /// The interface index.
    pub ifindex: u32,
    /// The local address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
    /// `peer`: the point-to-point peer (same family).
    pub peer: Option<IpAddr>,
    /// `brd` (IPv4 only); see [`ipv4_broadcast`] for `+`/`-`.
    pub broadcast: Option<Ipv4Addr>,
    /// `label` (IPv4 only, shorter than 16 bytes).
    pub label: Option<String>,
    /// `scope` (0 global, 200 site, 253 link, 254 host; [`names::scope`]).
    pub scope: u8,
    /// IFA_F_NODAD: no duplicate address detection (IPv6). Set for IPv6 by
    /// [`AddrSpec::new`], as keepalived does for its VIPs.
    pub nodad: bool,
    /// IFA_F_NOPREFIXROUTE: no prefix route.
    pub noprefixroute: bool,
    /// IFA_F_MANAGETEMPADDR (IPv6).
    pub mngtmpaddr: bool,
    /// IFA_F_HOMEADDRESS (IPv6 mobility).
    pub home: bool,
    /// IFA_F_MCAUTOJOIN (multicast addresses).
    pub autojoin: bool,
    /// `preferred_lft` in seconds; `None` is forever. The valid lifetime is always forever.
    pub preferred_lft: Option<u32>,
}

impl AddrSpec {
    /// An address with no options: global scope, nodad for IPv6, forever.
    pub fn new(ifindex: u32, addr: IpAddr, prefix_len: u8) -> AddrSpec {
        AddrSpec {
            ifindex,
            addr,
            prefix_len,
            peer: None,
            broadcast: None,
            label: None,
            scope: names::SCOPE_GLOBAL,
            nodad: addr.is_ipv6(),
            noprefixroute: false,
            mngtmpaddr: false,
            home: false,
            autojoin: false,
            preferred_lft: None,
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// The IFA_F_* flags asked for.
    pub(crate) fn flags(&self) -> u32 {
        let mut f = 0;
        for (on, bit) in [
            (self.nodad, libc::IFA_F_NODAD),
            (self.home, libc::IFA_F_HOMEADDRESS),
            (self.mngtmpaddr, libc::IFA_F_MANAGETEMPADDR),
            (self.noprefixroute, libc::IFA_F_NOPREFIXROUTE),
            (self.autojoin, libc::IFA_F_MCAUTOJOIN),
        ] {
            if on {
                f |= bit;
            }
        }
        f
    }
}

impl fmt::Display for AddrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)?;
        if let Some(p) = self.peer {
            write!(f, " peer {p}")?;
        }
        write!(f, " on ifindex {}", self.ifindex)
    }
}

/// Route types (`ip route add TYPE ...`), the kernel's RTN_* values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteType {
    /// A normal route (RTN_UNICAST).
    #[default]
    Unicast,
    /// A local route (RTN_LOCAL).
    Local,
    /// A broadcast route (RTN_BROADCAST).
    Broadcast,
    /// An anycast route (RTN_ANYCAST).
    Anycast,
    /// A multicast route (RTN_MULTICAST).
    Multicast,
    /// Silently discarded (RTN_BLACKHOLE).
    Blackhole,
    /// ICMP "unreachable" (RTN_UNREACHABLE).
    Unreachable,
    /// ICMP "prohibited" (RTN_PROHIBIT).
    Prohibit,
    /// The lookup goes on in the next table (RTN_THROW).
    Throw,
}

impl RouteType {
    /// The RTN_* number.
    pub(crate) fn rtn(self) -> u8 {
        match self {
            RouteType::Unicast => libc::RTN_UNICAST,
            RouteType::Local => libc::RTN_LOCAL,
            RouteType::Broadcast => libc::RTN_BROADCAST,
            RouteType::Anycast => libc::RTN_ANYCAST,
            RouteType::Multicast => libc::RTN_MULTICAST,
            RouteType::Blackhole => libc::RTN_BLACKHOLE,
            RouteType::Unreachable => libc::RTN_UNREACHABLE,
            RouteType::Prohibit => libc::RTN_PROHIBIT,
            RouteType::Throw => libc::RTN_THROW,
        }
    }

    /// The `ip route` keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Anycast => "anycast",
            RouteType::Multicast => "multicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
            RouteType::Throw => "throw",
        }
    }

    /// A type that drops or bounces packets: no gateway, no device.
    pub(crate) fn is_reject(self) -> bool {
        matches!(
            self,
            RouteType::Blackhole | RouteType::Unreachable | RouteType::Prohibit | RouteType::Throw
        )
    }
}

/// How a route is added when one with the same key exists (`ip route add|append|prepend|
/// replace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteMode {
    /// NLM_F_CREATE|NLM_F_EXCL: an existing route gives [`Outcome::AlreadyPresent`].
    #[default]
    Add,
    /// NLM_F_CREATE|NLM_F_APPEND: after existing routes.
    Append,
    /// NLM_F_CREATE: before existing routes (keepalived's default; the kernel accepts an
    /// identical IPv4 route silently).
    Prepend,
    /// NLM_F_CREATE|NLM_F_REPLACE: replace the existing route.
    Replace,
}

/// A route to add or delete: the `ip route` forms the VRRP process uses.
///
/// `[TYPE] DEST/LEN [via GW] [dev IFINDEX] [src ADDR] [table T] [metric N] [scope S]
/// [protocol P]`. Nexthop groups, metrics (mtu, advmss, ...), encapsulation, realms, tos,
/// onlink, source routing (`from`) and gateways of another family are not expressed here:
/// whoever maps the configuration refuses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The route type.
    pub route_type: RouteType,
    /// The destination (`default` is a /0 of the unspecified address).
    pub dst: Prefix,
    /// `via`: the gateway (same family as the destination).
    pub via: Option<IpAddr>,
    /// `dev`: the output interface index.
    pub dev: Option<u32>,
    /// `src`: the preferred source address (same family).
    pub src: Option<IpAddr>,
    /// `table` (254 main; [`names::table`]).
    pub table: u32,
    /// `metric`/`priority`/`preference`.
    pub metric: Option<u32>,
    /// `scope`; when unset, `ip`'s default: host for local, link for broadcast, anycast,
    /// multicast and for unicast without a gateway, global otherwise; a delete matches any
    /// scope.
    pub scope: Option<u8>,
    /// `protocol`; when unset, boot (3) on add and any on delete, as `ip route` does
    /// ([`names::protocol`]; keepalived's own is 18).
    pub protocol: Option<u8>,
    /// How an add treats an existing route.
    pub mode: RouteMode,
}

impl RouteSpec {
    /// A unicast route to `dst` in the main table, with nothing else set.
    pub fn new(dst: Prefix) -> RouteSpec {
        RouteSpec {
            route_type: RouteType::Unicast,
            dst,
            via: None,
            dev: None,
            src: None,
            table: names::TABLE_MAIN,
            metric: None,
            scope: None,
            protocol: None,
            mode: RouteMode::Add,
        }
    }

    /// The family (the destination's).
    pub fn family(&self) -> Family {
        self.dst.family()
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.route_type != RouteType::Unicast {
            write!(f, "{} ", self.route_type.keyword())?;
        }
        write!(f, "{}", self.dst)?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = self.dev {
            write!(f, " dev ifindex {d}")?;
        }
        if let Some(s) = self.src {
            write!(f, " src {s}")?;
        }
        if self.table != names::TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// `table T` / `lookup T` (FR_ACT_TO_TBL).
    Table(u32),
    /// `goto PRIORITY` (FR_ACT_GOTO).
    Goto(u32),
    /// `nop` (FR_ACT_NOP).
    Nop,
    /// `blackhole` (FR_ACT_BLACKHOLE).
    Blackhole,
    /// `unreachable` (FR_ACT_UNREACHABLE).
    Unreachable,
    /// `prohibit` (FR_ACT_PROHIBIT).
    Prohibit,
}

/// A policy routing rule to add or delete: the `ip rule` forms the VRRP process uses.
///
/// `[not] [from P] [to P] [iif NAME] [oif NAME] ACTION [priority N] [fwmark V[/M]]
/// [protocol P]`. tos, realms, suppress_*, uidrange, l3mdev, ipproto, sport, dport and
/// tunnel-id are not expressed here: whoever maps the configuration refuses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// The family the rule applies to.
    pub family: Family,
    /// `from`: the source prefix (same family); none matches all.
    pub from: Option<Prefix>,
    /// `to`: the destination prefix (same family); none matches all.
    pub to: Option<Prefix>,
    /// `not`: invert the match (FIB_RULE_INVERT).
    pub invert: bool,
    /// `iif`: the input interface name (it need not exist yet).
    pub iif: Option<String>,
    /// `oif`: the output interface name.
    pub oif: Option<String>,
    /// What the rule does.
    pub action: RuleAction,
    /// `priority`/`preference`/`order`; when unset the kernel picks one on add, and a
    /// delete matches any.
    pub priority: Option<u32>,
    /// `fwmark V`.
    pub fwmark: Option<u32>,
    /// `fwmark V/M`: the mask (only with a mark).
    pub fwmask: Option<u32>,
    /// `protocol` (FRA_PROTOCOL; keepalived's own is 18).
    pub protocol: Option<u8>,
}

impl RuleSpec {
    /// A rule of `family` that does `action` for every packet.
    pub fn new(family: Family, action: RuleAction) -> RuleSpec {
        RuleSpec {
            family,
            from: None,
            to: None,
            invert: false,
            iif: None,
            oif: None,
            action,
            priority: None,
            fwmark: None,
            fwmask: None,
            protocol: None,
        }
    }
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.invert {
            f.write_str("not ")?;
        }
        match &self.from {
            Some(p) => write!(f, "from {p}")?,
            None => f.write_str("from all")?,
        }
        if let Some(p) = &self.to {
            write!(f, " to {p}")?;
        }
        if let Some(i) = &self.iif {
            write!(f, " iif {i}")?;
        }
        if let Some(o) = &self.oif {
            write!(f, " oif {o}")?;
        }
        if let Some(m) = self.fwmark {
            write!(f, " fwmark {m:#x}")?;
            if let Some(k) = self.fwmask {
                write!(f, "/{k:#x}")?;
            }
        }
        match self.action {
            RuleAction::Table(t) => write!(f, " table {t}")?,
            RuleAction::Goto(g) => write!(f, " goto {g}")?,
            RuleAction::Nop => f.write_str(" nop")?,
            RuleAction::Blackhole => f.write_str(" blackhole")?,
            RuleAction::Unreachable => f.write_str(" unreachable")?,
            RuleAction::Prohibit => f.write_str(" prohibit")?,
        }
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_sets_or_clears_the_host_bits() {
        let a = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(ipv4_broadcast(a, 24, true), Ipv4Addr::new(192, 0, 2, 255));
        assert_eq!(ipv4_broadcast(a, 24, false), Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(ipv4_broadcast(a, 30, true), Ipv4Addr::new(192, 0, 2, 11));
        assert_eq!(ipv4_broadcast(a, 32, true), a);
        assert_eq!(ipv4_broadcast(a, 0, true), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn new_address_is_nodad_for_ipv6_only() {
        let v6 = AddrSpec::new(3, "2001:db8::10".parse().unwrap(), 64);
        assert!(v6.nodad);
        assert_eq!(v6.flags(), libc::IFA_F_NODAD);
        let v4 = AddrSpec::new(3, "192.0.2.10".parse().unwrap(), 24);
        assert!(!v4.nodad);
        assert_eq!(v4.flags(), 0);
        assert_eq!(v4.to_string(), "192.0.2.10/24 on ifindex 3");
    }

    #[test]
    fn specs_print_like_ip() {
        let mut r = RouteSpec::new(Prefix::new("198.51.100.0".parse().unwrap(), 24));
        r.via = Some("192.0.2.2".parse().unwrap());
        r.table = 100;
        assert_eq!(r.to_string(), "198.51.100.0/24 via 192.0.2.2 table 100");
        let mut b = RouteSpec::new(Prefix::default_route(Family::Inet6));
        b.route_type = RouteType::Blackhole;
        assert_eq!(b.to_string(), "blackhole default");
        let mut rule = RuleSpec::new(Family::Inet, RuleAction::Table(100));
        rule.from = Some(Prefix::new("192.0.2.0".parse().unwrap(), 24));
        rule.fwmark = Some(0x10);
        rule.fwmask = Some(0xff);
        rule.priority = Some(100);
        assert_eq!(
            rule.to_string(),
            "from 192.0.2.0/24 fwmark 0x10/0xff table 100 priority 100"
        );
    }

    #[test]
    fn link_up_needs_admin_up_and_running() {
        let mut l = Link {
            index: 2,
            name: "eth0".into(),
            mac: Some([0, 0, 0x5e, 0, 1, 51]),
            admin_up: true,
            running: false,
            mtu: Some(1500),
            kind: None,
            parent: None,
            macvlan_mode: None,
            addr_gen_mode: None,
        };
        assert!(!l.up());
        l.running = true;
        assert!(l.up());
        assert_eq!(l.to_string(), "2: eth0 00:00:5e:00:01:33 up");
    }
}
