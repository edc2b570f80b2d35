//! From keepalived.conf entries to rtnetlink requests: `virtual_ipaddress` /
//! `static_ipaddress` entries become [`AddrSpec`]s, `virtual_routes` / `static_routes`
//! entries [`RouteSpec`]s and `virtual_rules` / `static_rules` entries [`RuleSpec`]s.
//!
//! ```text
//!   keepalived_config::addr::{IpAddress, Route, Rule}
//!        │ load: supported_route / supported_rule (options only) ──► refuse the file
//!        ▼ run:  addr_spec / route_spec / rule_spec (+ interface indexes)
//!   AddrSpec, RouteSpec, RuleSpec ──► Rtnl
//! ```
//!
//! Everything here is pure. An option the specs cannot express is refused as a whole
//! ([`Unsupported`] names it): a route installed without its `mtu` or a rule without its
//! `tos` would route differently from what the configuration says, so the parent refuses
//! the configuration at load instead of installing it partly.
//!
//! Defaults follow keepalived: an IPv6 address is always added with `nodad`; a route is
//! added with `prepend` unless `add`/`append` is written; a tracked route or rule (no
//! `no_track`) without a `protocol` gets keepalived's own (18), which is how keepalived
//! recognises its own objects.
//!
//! Not mapped here because they are not part of the kernel request: `dev` and `use_vmac`
//! of an address (the caller resolves them to the interface index it passes) and
//! `no_track` (the caller's business; it only decides the default protocol here).

use std::net::IpAddr;

use keepalived_config::addr::{
    self as conf, Broadcast, IpAddress, IpPrefix, Lifetime, Route, RouteMode as ConfRouteMode,
    Rule, RuleType,
};

use crate::model::{
    AddrSpec, Family, Prefix, RouteMode, RouteSpec, RouteType, RuleAction, RuleSpec, ipv4_broadcast,
};
use crate::names;

/// An option of the configuration that keepalived-rs cannot install yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{option}' is not supported by keepalived-rs yet")]
pub struct Unsupported {
    /// The option as written in keepalived.conf (`mtu`, `encap`, `nexthop`, ...).
    pub option: &'static str,
}

fn unsupported(option: &'static str) -> Unsupported {
    Unsupported { option }
}

/// Why a route entry cannot be turned into a [`RouteSpec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// An option keepalived-rs cannot install (refused at load by [`supported_route`]).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// `dev NAME` names an interface that does not exist (now).
    #[error("interface '{0}' does not exist")]
    UnknownInterface(String),
}

/// The netlink family of a configuration family.
pub fn family(f: conf::Family) -> Family {
    match f {
        conf::Family::Inet => Family::Inet,
        conf::Family::Inet6 => Family::Inet6,
    }
}

fn prefix(p: IpPrefix) -> Prefix {
    Prefix::new(p.addr, p.len)
}

/// A table by number or built-in name (`main`, `local`, `default`); names from
/// `/etc/iproute2/rt_tables` are refused (the parent would have to read that file).
fn table(t: Option<&str>) -> Result<u32, Unsupported> {
    match t {
        None => Ok(names::TABLE_MAIN),
        Some(t) => names::table(t).ok_or(unsupported("table")),
    }
}

/// The protocol as written (number or built-in name), else keepalived's for a tracked
/// object.
fn protocol(written: Option<u8>, no_track: bool) -> Option<u8> {
    written.or((!no_track).then_some(names::PROTO_KEEPALIVED))
}

/// An address entry on interface `ifindex` (the interface of `dev`, else of the instance
/// or its VMAC, else `default_interface`: the caller's choice).
pub fn addr_spec(a: &IpAddress, ifindex: u32) -> Result<AddrSpec, Unsupported> {
    // Every field is named, so that a new option in the model is not forgotten here.
    let IpAddress {
        address,
        dev: _,
        scope,
        broadcast,
        label,
        peer,
        home,
        nodad,
        mngtmpaddr,
        noprefixroute,
        autojoin,
        no_track: _,
        preferred_lft: _,
        use_vmac: _,
        track_group,
        pos: _,
    } = a;
    if track_group.is_some() {
        return Err(unsupported("track_group"));
    }
    let mut s = AddrSpec::new(ifindex, address.addr, address.len);
    if let Some(sc) = scope {
        s.scope = names::scope(sc).ok_or(unsupported("scope"))?;
    }
    s.broadcast = match (broadcast, address.addr) {
        (None, _) => None,
        (Some(Broadcast::Addr(b)), IpAddr::V4(_)) => Some(*b),
        (Some(Broadcast::Set), IpAddr::V4(v4)) => Some(ipv4_broadcast(v4, address.len, true)),
        (Some(Broadcast::Clear), IpAddr::V4(v4)) => Some(ipv4_broadcast(v4, address.len, false)),
        (Some(_), IpAddr::V6(_)) => return Err(unsupported("brd")),
    };
    s.label = label.clone();
    s.peer = *peer;
    s.nodad = *nodad || address.addr.is_ipv6();
    s.home = *home;
    s.mngtmpaddr = *mngtmpaddr;
    s.noprefixroute = *noprefixroute;
    s.autojoin = *autojoin;
    s.preferred_lft = match a.effective_preferred_lft() {
        Lifetime::Forever => None,
        Lifetime::Secs(n) => Some(n),
    };
    Ok(s)
}

/// Checks that every option of a route entry can be installed (no interface lookup): the
/// parent calls it at load for every `virtual_routes` / `static_routes` entry.
pub fn supported_route(r: &Route) -> Result<(), Unsupported> {
    // Every field is named, so that a new option in the model is not forgotten here.
    let Route {
        route_type,
        to: _,
        src: _,
        from,
        via,
        dev: _,
        scope,
        table: tbl,
        metric: _,
        protocol: proto,
        tos,
        realms,
        onlink,
        encap,
        expires,
        mtu,
        hoplimit,
        advmss,
        rtt,
        rttvar,
        reordering,
        window,
        cwnd,
        ssthresh,
        rto_min,
        initcwnd,
        initrwnd,
        lock,
        features,
        quickack,
        congctl,
        fastopen_no_cookie,
        pref,
        ttl_propagate,
        vrf,
        family: _,
        mode: _,
        nexthop,
        no_track: _,
        track_group,
        pos: _,
    } = r;
    match route_type {
        Some(conf::RouteType::Nat) => return Err(unsupported("nat")),
        Some(conf::RouteType::Xresolve) => return Err(unsupported("xresolve")),
        _ => {}
    }
    let refused = [
        ("from", from.is_some()),
        ("tos", tos.is_some()),
        ("realms", realms.is_some()),
        ("onlink", *onlink),
        ("encap", encap.is_some()),
        ("expires", expires.is_some()),
        ("mtu", mtu.is_some()),
        ("hoplimit", hoplimit.is_some()),
        ("advmss", advmss.is_some()),
        ("rtt", rtt.is_some()),
        ("rttvar", rttvar.is_some()),
        ("reordering", reordering.is_some()),
        ("window", window.is_some()),
        ("cwnd", cwnd.is_some()),
        ("ssthresh", ssthresh.is_some()),
        ("rto_min", rto_min.is_some()),
        ("initcwnd", initcwnd.is_some()),
        ("initrwnd", initrwnd.is_some()),
        ("lock", !lock.is_empty()),
        ("features", !features.is_empty()),
        ("quickack", quickack.is_some()),
        ("congctl", congctl.is_some()),
        ("fastopen_no_cookie", fastopen_no_cookie.is_some()),
        ("pref", pref.is_some()),
        ("ttl-propagate", ttl_propagate.is_some()),
        ("vrf", vrf.is_some()),
        ("nexthop", !nexthop.is_empty()),
        ("track_group", track_group.is_some()),
    ];
    if let Some((option, _)) = refused.iter().find(|(_, set)| *set) {
        return Err(unsupported(option));
    }
    // A gateway of the other family (RTA_VIA) is not expressed by RouteSpec.
    if let Some(v) = via {
        if Family::of(v) != family(r.effective_family()) {
            return Err(unsupported("via"));
        }
    }
    if let Some(s) = scope {
        names::scope(s).ok_or(unsupported("scope"))?;
    }
    table(tbl.as_deref())?;
    if let Some(p) = proto {
        names::protocol(p).ok_or(unsupported("protocol"))?;
    }
    Ok(())
}

/// A route entry. `dev` is resolved through `ifindex_of`; a route without `dev` goes
/// through `default_dev` when given (not for blackhole, unreachable, prohibit and throw
/// routes, which have no device).
pub fn route_spec(
    r: &Route,
    ifindex_of: &dyn Fn(&str) -> Option<u32>,
    default_dev: Option<u32>,
) -> Result<RouteSpec, RouteError> {
    supported_route(r)?;
    let fam = family(r.effective_family());
    let dst = r.to.map(prefix).unwrap_or(Prefix::default_route(fam));
    let mut s = RouteSpec::new(dst);
    s.route_type = match r.route_type {
        None | Some(conf::RouteType::Unicast) => RouteType::Unicast,
        Some(conf::RouteType::Local) => RouteType::Local,
        Some(conf::RouteType::Broadcast) => RouteType::Broadcast,
        Some(conf::RouteType::Anycast) => RouteType::Anycast,
        Some(conf::RouteType::Multicast) => RouteType::Multicast,
        Some(conf::RouteType::Prohibit) => RouteType::Prohibit,
        Some(conf::RouteType::Unreachable) => RouteType::Unreachable,
        Some(conf::RouteType::Blackhole) => RouteType::Blackhole,
        Some(conf::RouteType::Throw) => RouteType::Throw,
        Some(conf::RouteType::Nat) => return Err(unsupported("nat").into()),
        Some(conf::RouteType::Xresolve) => return Err(unsupported("xresolve").into()),
    };
    s.via = r.via;
    s.dev = match &r.dev {
        Some(name) => {
            Some(ifindex_of(name).ok_or_else(|| RouteError::UnknownInterface(name.clone()))?)
        }
        None if s.route_type.is_reject() => None,
        None => default_dev,
    };
    s.src = r.src;
    s.table = table(r.table.as_deref())?;
    s.metric = r.metric;
    s.scope = match &r.scope {
        Some(sc) => Some(names::scope(sc).ok_or(unsupported("scope"))?),
        None => None,
    };
    let written = match &r.protocol {
        Some(p) => Some(names::protocol(p).ok_or(unsupported("protocol"))?),
        None => None,
    };
    s.protocol = protocol(written, r.no_track);
    s.mode = match r.mode {
        Some(ConfRouteMode::Add) => RouteMode::Add,
        Some(ConfRouteMode::Append) => RouteMode::Append,
        Some(ConfRouteMode::Prepend) | None => RouteMode::Prepend,
    };
    Ok(s)
}

/// Checks that every option of a rule entry can be installed: the parent calls it at load
/// for every `virtual_rules` / `static_rules` entry.
pub fn supported_rule(r: &Rule) -> Result<(), Unsupported> {
    // Every field is named, so that a new option in the model is not forgotten here.
    let Rule {
        from: _,
        to: _,
        not: _,
        table: tbl,
        goto: _,
        rule_type: _,
        preference: _,
        tos,
        fwmark: _,
        fwmask: _,
        realms,
        suppress_prefixlength,
        suppress_ifgroup,
        iif: _,
        oif: _,
        tunnel_id,
        uidrange,
        l3mdev,
        protocol: _,
        ipproto,
        sport,
        dport,
        family: _,
        no_track: _,
        track_group,
        pos: _,
    } = r;
    let refused = [
        ("tos", tos.is_some()),
        ("realms", realms.is_some()),
        ("suppress_prefixlength", suppress_prefixlength.is_some()),
        ("suppress_ifgroup", suppress_ifgroup.is_some()),
        ("tunnel-id", tunnel_id.is_some()),
        ("uidrange", uidrange.is_some()),
        ("l3mdev", *l3mdev),
        ("ipproto", ipproto.is_some()),
        ("sport", sport.is_some()),
        ("dport", dport.is_some()),
        ("track_group", track_group.is_some()),
    ];
    if let Some((option, _)) = refused.iter().find(|(_, set)| *set) {
        return Err(unsupported(option));
    }
    if tbl.is_some() {
        table(tbl.as_deref())?;
    }
    Ok(())
}

/// A rule entry. Its family is the one written (`inet`/`inet6`), else that of a real
/// `from`/`to` prefix, else `family_hint` (the instance's). `from all` / `to all` match
/// everything (no selector).
pub fn rule_spec(r: &Rule, family_hint: Family) -> Result<RuleSpec, Unsupported> {
    supported_rule(r)?;
    let real = |p: Option<IpPrefix>| p.filter(|p| p.len > 0);
    let fam = r
        .family
        .map(family)
        .or(real(r.from).map(|p| family(p.family())))
        .or(real(r.to).map(|p| family(p.family())))
        .unwrap_or(family_hint);
    let action = match (r.rule_type, r.goto, &r.table) {
        (Some(RuleType::Nop), _, _) => RuleAction::Nop,
        (Some(RuleType::Blackhole), _, _) => RuleAction::Blackhole,
        (Some(RuleType::Unreachable), _, _) => RuleAction::Unreachable,
        (Some(RuleType::Prohibit), _, _) => RuleAction::Prohibit,
        (None, Some(g), _) => RuleAction::Goto(g),
        // `ip rule` looks up main when no action is written.
        (None, None, t) => RuleAction::Table(table(t.as_deref())?),
    };
    let mut s = RuleSpec::new(fam, action);
    s.from = real(r.from).map(prefix);
    s.to = real(r.to).map(prefix);
    s.invert = r.not;
    s.iif = r.iif.clone();
    s.oif = r.oif.clone();
    s.priority = r.preference;
    s.fwmark = r.fwmark;
    s.fwmask = r.fwmark.and(r.fwmask);
    s.protocol = protocol(r.protocol, r.no_track);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalived_config::{Config, LoadOptions, load_str};

    fn load(text: &str) -> Config {
        let l = load_str("t.conf", text, &LoadOptions::default());
        let errors: Vec<_> = l.errors().collect();
        assert!(errors.is_empty(), "{text}\n{errors:#?}");
        l.config
    }

    fn instance(block: &str, lines: &[&str]) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{\n  192.0.2.100/24\n }}\n {block} {{\n{}\n }}\n}}\n",
            lines.join("\n")
        )
    }

    fn vips(lines: &[&str]) -> Vec<IpAddress> {
        let mut c = load(&format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{\n{}\n }}\n}}\n",
            lines.join("\n")
        ));
        c.vrrp_instances.remove(0).virtual_ipaddress
    }

    fn routes(lines: &[&str]) -> Vec<Route> {
        load(&instance("virtual_routes", lines))
            .vrrp_instances
            .remove(0)
            .virtual_routes
    }

    fn rules(lines: &[&str]) -> Vec<Rule> {
        load(&instance("virtual_rules", lines))
            .vrrp_instances
            .remove(0)
            .virtual_rules
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pfx(s: &str, len: u8) -> Prefix {
        Prefix::new(ip(s), len)
    }

    fn ifindex(name: &str) -> Option<u32> {
        match name {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        }
    }

    #[test]
    fn ipv4_address_with_every_option() {
        let a = vips(&[
            "  192.0.2.10/24 dev eth0 scope link brd + label eth0:vip noprefixroute autojoin",
            "  192.0.2.11/24 brd - preferred_lft 30",
            "  192.0.2.12/24 broadcast 192.0.2.127 scope 200",
            "  192.0.2.13 peer 192.0.2.14",
        ]);
        let s = addr_spec(&a[0], 7).unwrap();
        assert_eq!(s.ifindex, 7);
        assert_eq!(s.addr, ip("192.0.2.10"));
        assert_eq!(s.prefix_len, 24);
        assert_eq!(s.scope, names::SCOPE_LINK);
        assert_eq!(s.broadcast, Some("192.0.2.255".parse().unwrap()));
        assert_eq!(s.label.as_deref(), Some("eth0:vip"));
        assert!(s.noprefixroute && s.autojoin);
        assert!(!s.nodad && !s.home && !s.mngtmpaddr);
        assert_eq!(s.peer, None);
        assert_eq!(s.preferred_lft, None);

        let s = addr_spec(&a[1], 7).unwrap();
        assert_eq!(s.broadcast, Some("192.0.2.0".parse().unwrap()));
        assert_eq!(s.preferred_lft, Some(30));
        assert_eq!(s.scope, names::SCOPE_GLOBAL);
        assert_eq!(s.label, None);

        let s = addr_spec(&a[2], 7).unwrap();
        assert_eq!(s.broadcast, Some("192.0.2.127".parse().unwrap()));
        assert_eq!(s.scope, names::SCOPE_SITE);

        let s = addr_spec(&a[3], 7).unwrap();
        assert_eq!((s.addr, s.prefix_len), (ip("192.0.2.13"), 32));
        assert_eq!(s.peer, Some(ip("192.0.2.14")));
        assert_eq!(s.broadcast, None);
    }

    #[test]
    fn ipv6_address_is_always_nodad() {
        let a = vips(&[
            "  2001:db8::10/64 home mngtmpaddr",
            "  2001:db8::11",
            "  2001:db8::12/64 -nodad preferred_lft forever",
        ]);
        let s = addr_spec(&a[0], 4).unwrap();
        assert_eq!((s.addr, s.prefix_len), (ip("2001:db8::10"), 64));
        assert!(s.nodad && s.home && s.mngtmpaddr);
        assert!(!s.noprefixroute && !s.autojoin);
        assert_eq!(s.preferred_lft, None);
        // keepalived deprecates an IPv6 /128 unless told otherwise.
        let s = addr_spec(&a[1], 4).unwrap();
        assert!(s.nodad);
        assert_eq!(s.prefix_len, 128);
        assert_eq!(s.preferred_lft, Some(0));
        let s = addr_spec(&a[2], 4).unwrap();
        assert!(s.nodad);
        assert_eq!(s.preferred_lft, None);
    }

    #[test]
    fn static_addresses_map_too() {
        let c = load("static_ipaddress {\n 198.51.100.5/24 dev eth1 scope host\n}\n");
        let s = addr_spec(&c.static_ipaddress[0], 3).unwrap();
        assert_eq!(s.addr, ip("198.51.100.5"));
        assert_eq!(s.scope, names::SCOPE_HOST);
    }

    #[test]
    fn address_model_without_a_kernel_form_is_refused() {
        let mut a = vips(&["  192.0.2.10/24"]).remove(0);
        a.track_group = Some("g".into());
        assert_eq!(addr_spec(&a, 1), Err(unsupported("track_group")));
        let mut a = vips(&["  2001:db8::10/64"]).remove(0);
        a.broadcast = Some(Broadcast::Set);
        assert_eq!(addr_spec(&a, 1), Err(unsupported("brd")));
    }

    #[test]
    fn route_with_every_supported_option() {
        let r = routes(&[
            "  src 192.0.2.100 to 198.51.100.0/24 via 192.0.2.1 dev eth1 scope global table 100 metric 7 protocol keepalived",
            "  default via 192.0.2.1 table main append",
            "  blackhole 203.0.113.0/24 table local add",
            "  unreachable 2001:db8:1::/48 metric 5",
            "  198.51.100.128/25 dev eth0 no_track protocol static table default",
            "  throw 203.0.113.64/26 table 0x10",
            "  local 192.0.2.200 dev eth0 scope host",
            "  inet6 default via 2001:db8::1",
            "  prepend 198.51.100.0/26 via 192.0.2.1 no_track",
        ]);
        for x in &r {
            assert_eq!(supported_route(x), Ok(()));
        }

        let s = route_spec(&r[0], &ifindex, Some(9)).unwrap();
        assert_eq!(s.route_type, RouteType::Unicast);
        assert_eq!(s.dst, pfx("198.51.100.0", 24));
        assert_eq!(s.via, Some(ip("192.0.2.1")));
        assert_eq!(s.dev, Some(3));
        assert_eq!(s.src, Some(ip("192.0.2.100")));
        assert_eq!(s.table, 100);
        assert_eq!(s.metric, Some(7));
        assert_eq!(s.scope, Some(names::SCOPE_GLOBAL));
        assert_eq!(s.protocol, Some(names::PROTO_KEEPALIVED));
        assert_eq!(s.mode, RouteMode::Prepend);

        let s = route_spec(&r[1], &ifindex, None).unwrap();
        assert_eq!(s.dst, Prefix::default_route(Family::Inet));
        assert_eq!(s.table, names::TABLE_MAIN);
        assert_eq!(s.dev, None);
        assert_eq!(s.mode, RouteMode::Append);
        // Tracked without a protocol: keepalived's.
        assert_eq!(s.protocol, Some(names::PROTO_KEEPALIVED));

        let s = route_spec(&r[2], &ifindex, Some(9)).unwrap();
        assert_eq!(s.route_type, RouteType::Blackhole);
        assert_eq!(s.dst, pfx("203.0.113.0", 24));
        assert_eq!(s.table, names::TABLE_LOCAL);
        assert_eq!(s.dev, None, "a blackhole route has no device");
        assert_eq!(s.mode, RouteMode::Add);

        let s = route_spec(&r[3], &ifindex, None).unwrap();
        assert_eq!(s.route_type, RouteType::Unreachable);
        assert_eq!(s.dst, pfx("2001:db8:1::", 48));
        assert_eq!(s.metric, Some(5));

        let s = route_spec(&r[4], &ifindex, Some(9)).unwrap();
        assert_eq!(s.dev, Some(2));
        assert_eq!(s.protocol, Some(4));
        assert_eq!(s.table, names::TABLE_DEFAULT);
        assert_eq!(s.scope, None);
        assert_eq!(s.via, None);

        let s = route_spec(&r[5], &ifindex, None).unwrap();
        assert_eq!(s.route_type, RouteType::Throw);
        assert_eq!(s.table, 16);

        let s = route_spec(&r[6], &ifindex, None).unwrap();
        assert_eq!(s.route_type, RouteType::Local);
        assert_eq!(s.dst, pfx("192.0.2.200", 32));
        assert_eq!(s.scope, Some(names::SCOPE_HOST));

        let s = route_spec(&r[7], &ifindex, Some(9)).unwrap();
        assert_eq!(s.dst, Prefix::default_route(Family::Inet6));
        assert_eq!(s.via, Some(ip("2001:db8::1")));
        assert_eq!(s.dev, Some(9), "no dev: the default device");

        let s = route_spec(&r[8], &ifindex, None).unwrap();
        assert_eq!(s.mode, RouteMode::Prepend);
        assert_eq!(s.protocol, None, "no_track keeps ip's default");
    }

    #[test]
    fn static_routes_and_unknown_interfaces() {
        let c = load("static_routes {\n 198.51.100.0/24 dev eth9\n}\n");
        let r = &c.static_routes[0];
        assert_eq!(supported_route(r), Ok(()));
        assert_eq!(
            route_spec(r, &ifindex, Some(2)),
            Err(RouteError::UnknownInterface("eth9".into()))
        );
        assert_eq!(
            route_spec(r, &|n| (n == "eth9").then_some(12), None)
                .unwrap()
                .dev,
            Some(12)
        );
    }

    #[test]
    fn every_unsupported_route_option_is_named() {
        let cases: &[(&str, &str)] = &[
            ("from", "inet6 2001:db8:2::/48 from 2001:db8:3::/48"),
            ("tos", "198.51.100.0/24 via 192.0.2.1 tos 0x10"),
            ("realms", "198.51.100.0/24 via 192.0.2.1 realms 1/2"),
            ("onlink", "198.51.100.0/24 via 192.0.2.1 dev eth0 onlink"),
            (
                "encap",
                "198.51.100.0/24 encap mpls 100 via 192.0.2.1 dev eth0",
            ),
            ("expires", "2001:db8:2::/48 via 2001:db8::1 expires 60"),
            ("mtu", "198.51.100.0/24 via 192.0.2.1 mtu 1400"),
            ("mtu", "198.51.100.0/24 via 192.0.2.1 mtu lock 1400"),
            ("hoplimit", "198.51.100.0/24 via 192.0.2.1 hoplimit 10"),
            ("advmss", "198.51.100.0/24 via 192.0.2.1 advmss 1300"),
            ("rtt", "198.51.100.0/24 via 192.0.2.1 rtt 300"),
            ("rttvar", "198.51.100.0/24 via 192.0.2.1 rttvar 300"),
            ("reordering", "198.51.100.0/24 via 192.0.2.1 reordering 3"),
            ("window", "198.51.100.0/24 via 192.0.2.1 window 1000"),
            ("cwnd", "198.51.100.0/24 via 192.0.2.1 cwnd 10"),
            ("ssthresh", "198.51.100.0/24 via 192.0.2.1 ssthresh 10"),
            ("rto_min", "198.51.100.0/24 via 192.0.2.1 rto_min 300"),
            ("initcwnd", "198.51.100.0/24 via 192.0.2.1 initcwnd 10"),
            ("initrwnd", "198.51.100.0/24 via 192.0.2.1 initrwnd 10"),
            ("features", "198.51.100.0/24 via 192.0.2.1 features ecn"),
            ("quickack", "198.51.100.0/24 via 192.0.2.1 quickack 1"),
            ("congctl", "198.51.100.0/24 via 192.0.2.1 congctl cubic"),
            (
                "fastopen_no_cookie",
                "198.51.100.0/24 via 192.0.2.1 fastopen_no_cookie 1",
            ),
            ("pref", "2001:db8:2::/48 via 2001:db8::1 pref high"),
            (
                "ttl-propagate",
                "198.51.100.0/24 via 192.0.2.1 ttl-propagate enabled",
            ),
            ("vrf", "198.51.100.0/24 via 192.0.2.1 vrf red"),
            (
                "nexthop",
                "198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 nexthop via 192.0.2.2 dev eth0",
            ),
            ("nat", "nat 198.51.100.0/24 via 192.0.2.1"),
            ("xresolve", "xresolve 198.51.100.0/24"),
            ("table", "198.51.100.0/24 via 192.0.2.1 table vips"),
            (
                "protocol",
                "198.51.100.0/24 via 192.0.2.1 no_track protocol frr",
            ),
        ];
        for (option, line) in cases {
            let r = routes(&[&format!("  {line}")]).remove(0);
            assert_eq!(supported_route(&r), Err(unsupported(option)), "{line}");
            assert_eq!(
                route_spec(&r, &ifindex, Some(2)),
                Err(RouteError::Unsupported(unsupported(option))),
                "{line}"
            );
            assert_eq!(
                unsupported(option).to_string(),
                format!("'{option}' is not supported by keepalived-rs yet")
            );
        }
        // Locked metrics and track groups cannot reach here alone, but are named too.
        let mut r = Route {
            lock: vec![conf::LockedMetric::Cwnd],
            ..Route::default()
        };
        assert_eq!(supported_route(&r), Err(unsupported("lock")));
        r.lock.clear();
        r.track_group = Some("g".into());
        assert_eq!(supported_route(&r), Err(unsupported("track_group")));
        // A gateway of the other family.
        let r = Route {
            to: Some("198.51.100.0/24".parse().unwrap()),
            via: Some(ip("2001:db8::1")),
            ..Route::default()
        };
        assert_eq!(supported_route(&r), Err(unsupported("via")));
    }

    #[test]
    fn rules_with_every_supported_option() {
        let r = rules(&[
            "  from 192.0.2.0/24 to 198.51.100.0/24 table 100 preference 100 fwmark 0x10/0xff iif eth0 oif eth1 protocol 18",
            "  not from all lookup main priority 200",
            "  from all goto 300 preference 250",
            "  to 203.0.113.0/24 blackhole preference 301",
            "  from 2001:db8::/32 type unreachable preference 302 no_track protocol 4",
            "  inet6 from all prohibit preference 303",
            "  fwmark 7 nop preference 304",
            "  from all table default preference 305",
        ]);
        for x in &r {
            assert_eq!(supported_rule(x), Ok(()));
        }

        let s = rule_spec(&r[0], Family::Inet6).unwrap();
        assert_eq!(s.family, Family::Inet);
        assert_eq!(s.from, Some(pfx("192.0.2.0", 24)));
        assert_eq!(s.to, Some(pfx("198.51.100.0", 24)));
        assert!(!s.invert);
        assert_eq!(s.action, RuleAction::Table(100));
        assert_eq!(s.priority, Some(100));
        assert_eq!((s.fwmark, s.fwmask), (Some(0x10), Some(0xff)));
        assert_eq!(s.iif.as_deref(), Some("eth0"));
        assert_eq!(s.oif.as_deref(), Some("eth1"));
        assert_eq!(s.protocol, Some(18));

        // `from all` takes the hint's family and has no selector.
        let s = rule_spec(&r[1], Family::Inet6).unwrap();
        assert_eq!(s.family, Family::Inet6);
        assert_eq!(s.from, None);
        assert!(s.invert);
        assert_eq!(s.action, RuleAction::Table(names::TABLE_MAIN));
        assert_eq!(s.priority, Some(200));
        assert_eq!(s.protocol, Some(names::PROTO_KEEPALIVED));

        let s = rule_spec(&r[2], Family::Inet).unwrap();
        assert_eq!(s.action, RuleAction::Goto(300));
        assert_eq!(s.priority, Some(250));

        let s = rule_spec(&r[3], Family::Inet6).unwrap();
        assert_eq!(s.family, Family::Inet);
        assert_eq!(s.to, Some(pfx("203.0.113.0", 24)));
        assert_eq!(s.action, RuleAction::Blackhole);

        let s = rule_spec(&r[4], Family::Inet).unwrap();
        assert_eq!(s.family, Family::Inet6);
        assert_eq!(s.from, Some(pfx("2001:db8::", 32)));
        assert_eq!(s.action, RuleAction::Unreachable);
        assert_eq!(s.protocol, Some(4));

        let s = rule_spec(&r[5], Family::Inet).unwrap();
        assert_eq!(s.family, Family::Inet6);
        assert_eq!(s.action, RuleAction::Prohibit);

        let s = rule_spec(&r[6], Family::Inet).unwrap();
        assert_eq!(s.action, RuleAction::Nop);
        assert_eq!((s.fwmark, s.fwmask), (Some(7), None));

        let s = rule_spec(&r[7], Family::Inet).unwrap();
        assert_eq!(s.action, RuleAction::Table(names::TABLE_DEFAULT));
    }

    #[test]
    fn static_rules_map_too() {
        let c = load("static_rules {\n from 198.51.100.0/24 table 200 preference 10\n}\n");
        let s = rule_spec(&c.static_rules[0], Family::Inet6).unwrap();
        assert_eq!(s.family, Family::Inet);
        assert_eq!(s.action, RuleAction::Table(200));
        assert_eq!(s.priority, Some(10));
    }

    #[test]
    fn every_unsupported_rule_option_is_named() {
        let cases: &[(&str, &str)] = &[
            ("tos", "from 192.0.2.0/24 table 100 tos 0x10"),
            ("realms", "from 192.0.2.0/24 table 100 realms 1/2"),
            (
                "suppress_prefixlength",
                "from all table 100 suppress_prefixlength 0",
            ),
            ("suppress_ifgroup", "from all table 100 suppress_ifgroup 1"),
            ("tunnel-id", "from all table 100 tunnel-id 5"),
            ("uidrange", "from all table 100 uidrange 1000-2000"),
            ("l3mdev", "from all l3mdev"),
            ("ipproto", "from all table 100 ipproto tcp"),
            ("sport", "from all table 100 sport 1000-2000"),
            ("dport", "from all table 100 dport 80"),
            ("table", "from all table vips"),
        ];
        for (option, line) in cases {
            let r = rules(&[&format!("  {line} preference 100")]).remove(0);
            assert_eq!(supported_rule(&r), Err(unsupported(option)), "{line}");
            assert_eq!(
                rule_spec(&r, Family::Inet),
                Err(unsupported(option)),
                "{line}"
            );
        }
        let r = Rule {
            track_group: Some("g".into()),
            ..Rule::default()
        };
        assert_eq!(supported_rule(&r), Err(unsupported("track_group")));
    }
}
