//! Tests of the address, route and rule syntaxes (REFERENCE 2.8, 2.9, 2.10).

use std::net::IpAddr;

use proptest::prelude::*;

use super::{
    Broadcast, EncapType, Family, IpAddress, IpPrefix, Lifetime, LockedMetric, NumRange, Route,
    RouteMode, RouteType, Rule, RuleType,
};
use crate::types::Timer;
use crate::{Config, LoadOptions, Loaded, Severity, load_str};

fn load(text: &str) -> Loaded {
    load_str("t.conf", text, &LoadOptions::default())
}

fn dump(l: &Loaded) -> String {
    l.diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One static_ipaddress entry (line 2).
fn addr(entry: &str) -> (Loaded, Option<IpAddress>) {
    let l = load(&format!("static_ipaddress {{\n{entry}\n}}\n"));
    let a = l.config.static_ipaddress.first().cloned();
    (l, a)
}

/// One VIP entry (line 2).
fn vip(entry: &str) -> (Loaded, Option<IpAddress>) {
    let l = load(&format!(
        "vrrp_instance V {{ virtual_ipaddress {{\n{entry}\n}}\n interface eth0\n virtual_router_id 1\n}}\n"
    ));
    let a = l
        .config
        .vrrp_instances
        .first()
        .and_then(|v| v.virtual_ipaddress.first().cloned());
    (l, a)
}

/// One static_routes entry (line 2).
fn route(entry: &str) -> (Loaded, Option<Route>) {
    let l = load(&format!("static_routes {{\n{entry}\n}}\n"));
    let r = l.config.static_routes.first().cloned();
    (l, r)
}

/// One static_rules entry (line 2).
fn rule(entry: &str) -> (Loaded, Option<Rule>) {
    let l = load(&format!("static_rules {{\n{entry}\n}}\n"));
    let r = l.config.static_rules.first().cloned();
    (l, r)
}

/// The only error: (column, message piece, hint piece).
#[track_caller]
fn one_error(l: &Loaded, col: u32, piece: &str, hint: &str) {
    let e: Vec<_> = l.errors().collect();
    assert!(
        e.len() == 1
            && e[0].line == 2
            && e[0].column == col
            && e[0].message.contains(piece)
            && e[0].hint.as_deref().unwrap_or("").contains(hint),
        "want one error at 2:{col} '{piece}' hint '{hint}', got:\n{}",
        dump(l)
    );
}

#[track_caller]
fn clean(l: &Loaded) {
    assert!(
        !l.diagnostics.iter().any(|d| d.severity == Severity::Error),
        "{}",
        dump(l)
    );
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("{s}"))
}

#[test]
fn prefixes_parse_and_display() {
    for (s, shown) in [
        ("192.0.2.1/24", "192.0.2.1/24"),
        ("192.0.2.1", "192.0.2.1/32"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ] {
        let p: IpPrefix = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p.to_string(), shown);
        assert_eq!(shown.parse::<IpPrefix>(), Ok(p));
    }
    for bad in [
        "192.168.100./24",
        "192.0.2.1/33",
        "2001:db8::/129",
        "192.0.2.1/",
        "192.0.2.1/+3",
        "x",
        "",
        "/24",
    ] {
        assert!(bad.parse::<IpPrefix>().is_err(), "{bad}");
    }
    assert_eq!(
        "1000-2000".parse::<NumRange>().map(|r| r.to_string()),
        Ok("1000-2000".into())
    );
    assert_eq!(
        "80".parse::<NumRange>().map(|r| (r.start, r.end)),
        Ok((80, 80))
    );
    assert!("9-1".parse::<NumRange>().is_err());
}

#[test]
fn an_address_with_every_option() {
    let (l, a) = addr(
        "192.0.2.1/24 dev eth0 scope link brd + label eth0:1 home -nodad mngtmpaddr noprefixroute autojoin no_track preferred_lft 30",
    );
    clean(&l);
    let a = a.unwrap_or_default();
    assert_eq!(a.address.to_string(), "192.0.2.1/24");
    assert_eq!(a.dev.as_deref(), Some("eth0"));
    assert_eq!(a.scope.as_deref(), Some("link"));
    assert_eq!(a.broadcast, Some(Broadcast::Set));
    assert_eq!(a.label.as_deref(), Some("eth0:1"));
    assert!(a.home && a.nodad && a.mngtmpaddr && a.noprefixroute && a.autojoin && a.no_track);
    assert_eq!(a.preferred_lft, Some(Lifetime::Secs(30)));
    let (l, a) = vip("192.0.2.2 broadcast 192.0.2.255 use_vmac preferred_lft forever scope 200");
    clean(&l);
    let a = a.unwrap_or_default();
    assert!(a.use_vmac);
    assert_eq!(
        a.broadcast,
        Some(Broadcast::Addr(
            "192.0.2.255".parse().unwrap_or_else(|_| panic!())
        ))
    );
    assert_eq!(a.preferred_lft, Some(Lifetime::Forever));
    let (l, a) = addr("192.0.2.3/32 peer 192.0.2.4 brd -");
    assert!(!l.is_ok());
    assert_eq!(a.map(|a| a.peer), Some(Some(ip("192.0.2.4"))));
}

#[test]
fn ipv6_slash_128_defaults_to_a_deprecated_address() {
    let (_, a) = addr("2001:db8::1");
    assert_eq!(
        a.map(|a| a.effective_preferred_lft()),
        Some(Lifetime::Secs(0))
    );
    let (_, a) = addr("2001:db8::1/64");
    assert_eq!(
        a.map(|a| a.effective_preferred_lft()),
        Some(Lifetime::Forever)
    );
    let (_, a) = addr("2001:db8::1 preferred_lft forever");
    assert_eq!(
        a.map(|a| a.effective_preferred_lft()),
        Some(Lifetime::Forever)
    );
    let (_, a) = addr("192.0.2.1/32");
    assert_eq!(
        a.map(|a| a.effective_preferred_lft()),
        Some(Lifetime::Forever)
    );
}

#[test]
fn address_errors_are_at_the_word() {
    // An unknown option, and an address where an option should be.
    let (l, a) = vip("192.0.2.1/24 dve eth0");
    one_error(
        &l,
        14,
        "unknown address option 'dve'",
        "did you mean 'dev'?",
    );
    assert!(a.is_some(), "the address is kept");
    let (l, _) = vip("10.0.0.1/24 10.0.0.2/24");
    one_error(
        &l,
        13,
        "unknown address option '10.0.0.2/24'",
        "each address goes on its own line",
    );
    let (l, _) = vip("192.168.100./24");
    one_error(&l, 1, "'192.168.100./24' is not an IP address", "");
    let (l, _) = vip("192.0.2.1 dev");
    one_error(&l, 11, "'dev' needs a value", "");
    // The combination rules.
    let (l, _) = addr("2001:db8::1/64 brd +");
    one_error(&l, 16, "IPv6 address has no broadcast", "remove 'brd'");
    let (l, _) = addr("2001:db8::1/64 scope link");
    one_error(&l, 16, "cannot have a scope", "");
    let (l, _) = addr("2001:db8::1/64 label x");
    one_error(&l, 16, "cannot have a label", "");
    let (l, _) = addr("192.0.2.1/24 label eth0:abcdefghijk");
    one_error(&l, 14, "at most 15 are allowed", "");
    let (l, _) = addr("192.0.2.1/31 brd +");
    one_error(&l, 14, "needs a prefix of 30 or less", "");
    let (l, _) = addr("192.0.2.1/24 peer 192.0.2.2");
    one_error(&l, 1, "cannot have a prefix", "");
    let (l, _) = addr("192.0.2.1 peer 192.0.2.2/32");
    one_error(&l, 16, "is not an IP address", "without '/N'");
    let (l, _) = addr("192.0.2.1 peer 2001:db8::2");
    one_error(&l, 11, "is not IPv4", "");
    let (l, _) = addr("192.0.2.1 scope galaxy");
    one_error(&l, 17, "'galaxy' is not a scope", "");
    let (l, _) = addr("192.0.2.1 preferred_lft soon");
    one_error(&l, 25, "is not a number", "");
    let (l, _) = addr("192.0.2.1 dev eth0 dev eth1");
    one_error(&l, 20, "'dev' is given twice", "");
    let (l, _) = addr("192.0.2.1 dev this_is_too_long0");
    one_error(&l, 15, "not a valid interface name", "");
    // Options valid in one place only.
    let (l, _) = addr("192.0.2.1 use_vmac");
    one_error(&l, 11, "unknown address option 'use_vmac'", "");
    let (l, _) = vip("192.0.2.1 track_group g");
    assert!(
        l.errors()
            .any(|d| d.message.contains("unknown address option 'track_group'"))
    );
    let (l, _) = addr("192.0.2.1 dev eth0 track_group g");
    one_error(&l, 20, "'track_group' is not supported yet", "");
    let (l, _) = addr("0.0.0.0");
    one_error(&l, 1, "is not a usable address", "");
    let l = load("static_ipaddress {\n192.0.2.1 {\n}\n}\n");
    assert!(
        l.errors()
            .any(|d| d.message.contains("does not take a block"))
    );
}

#[test]
fn a_route_with_every_option() {
    let (l, r) = route(
        "src 192.0.2.1 to unicast 198.51.100.0/24 via inet 192.0.2.254 dev eth0 scope link table 100 metric 5 protocol keepalived tos 0x10 realms 1/2 onlink mtu lock 1400 hoplimit 64 advmss 1300 rtt 1.5s rttvar lock 200ms reordering 3 window 1000 cwnd 10 ssthresh lock 20 rto_min 300 initcwnd 10 initrwnd 20 features ecn quickack 1 congctl lock cubic fastopen_no_cookie 0 ttl-propagate enabled vrf blue inet append no_track",
    );
    clean(&l);
    let r = r.unwrap_or_default();
    assert_eq!(
        r.to.map(|p| p.to_string()).as_deref(),
        Some("198.51.100.0/24")
    );
    assert_eq!(r.route_type, Some(RouteType::Unicast));
    assert_eq!(
        (r.src, r.via),
        (Some(ip("192.0.2.1")), Some(ip("192.0.2.254")))
    );
    assert_eq!(r.dev.as_deref(), Some("eth0"));
    assert_eq!(
        (r.metric, r.mtu, r.hoplimit, r.advmss),
        (Some(5), Some(1400), Some(64), Some(1300))
    );
    assert_eq!(
        (r.rtt, r.rttvar, r.rto_min),
        (
            Some(Timer::millis(1500)),
            Some(Timer::millis(200)),
            Some(Timer::millis(300))
        )
    );
    assert_eq!(
        r.lock,
        vec![
            LockedMetric::Mtu,
            LockedMetric::Rttvar,
            LockedMetric::Ssthresh,
            LockedMetric::Congctl
        ]
    );
    assert_eq!(
        (r.quickack, r.fastopen_no_cookie, r.ttl_propagate),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(r.congctl.as_deref(), Some("cubic"));
    assert_eq!(r.mode, Some(RouteMode::Append));
    assert_eq!(r.family, Some(Family::Inet));
    assert!(r.onlink && r.no_track);
    let (l, r) =
        route("inet6 2001:db8::/32 from 2001:db8:1::/48 expires 60 pref high via 2001:db8::1");
    clean(&l);
    let r = r.unwrap_or_default();
    assert_eq!(r.expires, Some(60));
    assert_eq!(r.pref.as_deref(), Some("high"));
}

#[test]
fn route_types_defaults_and_nexthops() {
    for t in [
        "local",
        "broadcast",
        "brd",
        "anycast",
        "multicast",
        "prohibit",
        "unreachable",
        "blackhole",
        "throw",
        "nat",
        "xresolve",
        "unicast",
    ] {
        let (l, r) = route(&format!("{t} 198.51.100.0/24"));
        clean(&l);
        assert!(r.and_then(|r| r.route_type).is_some(), "{t}");
    }
    let (_, r) = route("default via 2001:db8::1");
    assert_eq!(
        r.and_then(|r| r.to).map(|p| p.to_string()).as_deref(),
        Some("::/0")
    );
    let (_, r) = route("any dev eth0");
    assert_eq!(
        r.and_then(|r| r.to).map(|p| p.to_string()).as_deref(),
        Some("0.0.0.0/0")
    );
    let (l, r) = route("default6 dev eth0");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.message.contains("'default6' is deprecated"))
    );
    assert_eq!(
        r.and_then(|r| r.to).map(|p| p.family()),
        Some(Family::Inet6)
    );
    let (l, r) = route(
        "198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 weight 2 onlink nexthop via inet 192.0.2.2 weight 256 realms 3 encap mpls 100/200",
    );
    clean(&l);
    let r = r.unwrap_or_default();
    assert_eq!(r.nexthop.len(), 2);
    assert_eq!((r.nexthop[0].weight, r.nexthop[0].onlink), (Some(2), true));
    assert_eq!(
        r.nexthop[1]
            .encap
            .as_ref()
            .map(|e| (e.encap_type, e.labels.clone())),
        Some((EncapType::Mpls, Some("100/200".into())))
    );
    let (l, r) = route("198.51.100.0/24 encap ip id 5 dst 192.0.2.9 ttl 3 dev eth0");
    clean(&l);
    assert_eq!(
        r.and_then(|r| r.encap).map(|e| (e.id, e.ttl)),
        Some((Some(5), Some(3)))
    );
    let (l, _) = route("2001:db8::/32 encap ip6 dst 2001:db8::9 hoplimit 3 tc 1 dev eth0");
    clean(&l);
    let (l, _) = route("2001:db8::/32 encap ila 2001:db8:1:2 dev eth0");
    clean(&l);
}

#[test]
fn route_errors_and_deprecations() {
    let (l, r) = route("198.51.100.0/24 gw 192.0.2.1");
    clean(&l);
    assert!(l.diagnostics.iter().any(|d| d.column == 17
        && d.message.contains("'gw' is deprecated")
        && d.hint.as_deref() == Some("write 'via' instead")));
    assert_eq!(r.and_then(|r| r.via), Some(ip("192.0.2.1")));
    let (l, r) = route("198.51.100.0/24 via 192.0.2.1 or 192.0.2.2");
    clean(&l);
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.message.contains("'or' is deprecated")
                && d.hint.as_deref().is_some_and(|h| h.contains("nexthop")))
    );
    let r = r.unwrap_or_default();
    assert_eq!(r.via, None);
    assert_eq!(
        r.nexthop.iter().map(|n| n.via).collect::<Vec<_>>(),
        vec![Some(ip("192.0.2.1")), Some(ip("192.0.2.2"))]
    );
    let (l, _) = route("198.51.100.0/24 vai 192.0.2.1");
    one_error(&l, 17, "unknown route option 'vai'", "did you mean 'via'?");
    let (l, _) = route("198.51.100.0/24 198.51.101.0/24");
    one_error(&l, 17, "a second destination", "own line");
    let (l, _) = route("198.51.100./24 dev eth0");
    one_error(&l, 1, "is not a destination prefix", "");
    let (l, _) = route("dev eth0");
    one_error(&l, 1, "a route needs a destination", "");
    let (l, _) = route("198.51.100.0/24 via 2001:db8::1");
    one_error(&l, 17, "cannot mix IPv4 and IPv6", "");
    let (l, _) = route("198.51.100.0/24 protocol static");
    one_error(&l, 17, "must have protocol keepalived", "no_track");
    let (l, _) = route("198.51.100.0/24 from 192.0.2.0/24");
    assert!(
        l.errors()
            .any(|d| d.message.contains("only valid for IPv6"))
    );
    let (l, _) = route("198.51.100.0/24 rtt 100ms");
    one_error(&l, 17, "out of range: 0.2 to 120", "");
    let (l, _) = route("198.51.100.0/24 nexthop via 192.0.2.1 weight 0");
    one_error(&l, 46, "out of range: 1 to 256", "");
    let (l, _) = route("198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 metric 3");
    one_error(
        &l,
        48,
        "unexpected 'metric' after the nexthops",
        "before the first 'nexthop'",
    );
    let (l, _) = route("198.51.100.0/24 quickack 2");
    one_error(&l, 26, "takes 0 or 1", "");
    let (l, _) = route("198.51.100.0/24 encap ip ttl 3");
    one_error(&l, 23, "needs 'dst ADDRESS' or 'id N'", "");
    let (l, _) = route("198.51.100.0/24 table 4294967296");
    one_error(&l, 23, "out of range", "");
    let (l, _) = route("198.51.100.0/24 as to 192.0.2.1");
    one_error(&l, 17, "MPLS", "");
    let (l, _) = route("198.51.100.0/24 dev eth0 track_group g");
    one_error(&l, 26, "not supported yet", "");
    let l = load(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n virtual_routes {\n 198.51.100.0/24 track_group g\n }\n}\n",
    );
    assert!(
        l.errors()
            .any(|d| d.line == 8 && d.message.contains("unknown route option 'track_group'"))
    );
}

#[test]
fn rules() {
    let (l, r) = rule(
        "inet not from 192.0.2.0/24 to 198.51.100.0/24 lookup main priority 100 dsfield 8 fwmark 0x10/0xff realms 2 sup_pl 8 sup_group 1 dev eth0 oif eth1 tunnel-id 9 uidrange 1-2 protocol 18 ipproto tcp sport 80 dport 1000-2000 no_track",
    );
    clean(&l);
    let r = r.unwrap_or_default();
    assert!(r.not && r.no_track);
    assert_eq!(r.table.as_deref(), Some("main"));
    assert_eq!(
        (r.preference, r.fwmark, r.fwmask),
        (Some(100), Some(16), Some(255))
    );
    assert_eq!(
        (r.iif.as_deref(), r.oif.as_deref()),
        (Some("eth0"), Some("eth1"))
    );
    assert_eq!(r.sport.map(|x| (x.start, x.end)), Some((80, 80)));
    for (entry, ty) in [
        ("from all preference 5 nop", RuleType::Nop),
        ("from all preference 5 type blackhole", RuleType::Blackhole),
        (
            "to 192.0.2.0/24 preference 5 unreachable",
            RuleType::Unreachable,
        ),
        ("preference 5 prohibit", RuleType::Prohibit),
    ] {
        let (l, r) = rule(entry);
        clean(&l);
        assert_eq!(r.and_then(|r| r.rule_type), Some(ty), "{entry}");
    }
    let (l, r) = rule("inet6 from all preference 10 goto 20");
    clean(&l);
    assert_eq!(
        r.and_then(|r| r.from).map(|p| p.to_string()).as_deref(),
        Some("::/0")
    );
    // A rule without preference is a warning, and points at the line.
    let (l, r) = rule("from 192.0.2.0/24 table 100");
    assert!(l.is_ok());
    assert!(l.diagnostics.iter().any(|d| d.line == 2
        && d.severity == Severity::Warning
        && d.message.contains("no preference")
        && d.hint.as_deref() == Some("add 'preference N'")));
    assert!(r.is_some());
    // Errors.
    let (l, _) = rule("to 192.168.100./24 table 1 preference 3");
    one_error(&l, 4, "'192.168.100./24' is not an address or prefix", "");
    let (l, _) = rule("from 192.0.2.0/24 preference 3");
    one_error(&l, 1, "a rule needs an action", "table N");
    let (l, _) = rule("table 1 nop preference 3");
    assert!(l.errors().any(|d| d.message.contains("only one action")));
    let (l, _) = rule("goto 5");
    assert!(
        l.errors()
            .any(|d| d.message.contains("needs a preference below 5"))
    );
    let (l, _) = rule("goto 5 preference 6");
    one_error(&l, 1, "must jump forward", "");
    let (l, _) = rule("table 0 preference 3");
    one_error(&l, 1, "table 0 is not valid", "");
    let (l, _) = rule("nop realms 3 preference 4");
    one_error(&l, 1, "need a 'table' action", "");
    let (l, _) = rule("inet6 table 5 realms 3 preference 4");
    one_error(&l, 15, "only valid for IPv4", "");
    let (l, _) = rule("from 192.0.2.0/24 to 2001:db8::/32 table 5 preference 4");
    one_error(&l, 19, "cannot mix IPv4 and IPv6", "");
    let (l, _) = rule("table 5 preference 4 protocol 4");
    one_error(&l, 22, "must have protocol 18", "no_track");
    let (l, _) = rule("table 5 preference 4 sport 70000");
    one_error(&l, 28, "not a port range", "");
    let (l, _) = rule("table 5 preference 4 local");
    one_error(&l, 22, "'local' is not a rule action", "");
    let (l, _) = rule("table 5 preference 4 frm 192.0.2.0/24");
    one_error(&l, 22, "unknown rule option 'frm'", "did you mean 'from'?");
    let (l, _) = rule("table 5 preference 4 fwmark 0x1/zz");
    one_error(&l, 29, "not a number", "");
}

fn toml_round_trip(c: &Config) {
    let text = toml::to_string(c).unwrap_or_else(|e| panic!("{e}"));
    let back: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(*c, back, "{text}");
}

#[test]
fn addresses_routes_and_rules_round_trip() {
    let l = load(
        "static_ipaddress {\n 192.0.2.1/24 dev eth0 brd - preferred_lft 0\n 2001:db8::1 -nodad preferred_lft forever\n}\nstatic_routes {\n 198.51.100.0/24 nexthop via 192.0.2.1 encap ip id 7 dst 192.0.2.9 nexthop via 192.0.2.2\n prohibit 203.0.113.0/24 rtt 250 ssthresh lock 3 features ecn prepend\n}\nstatic_rules {\n from 192.0.2.0/24 uidrange 5-9 preference 7 table 9\n}\n",
    );
    assert!(l.is_ok(), "{}", dump(&l));
    toml_round_trip(&l.config);
    let text = toml::to_string(&l.config).unwrap_or_default();
    assert!(text.contains("broadcast = \"-\""), "{text}");
    assert!(text.contains("preferred_lft = 0"), "{text}");
    assert!(text.contains("uidrange = \"5-9\""), "{text}");
}

proptest! {
    /// No input line makes the address, route or rule readers panic.
    #[test]
    fn no_entry_panics(words in proptest::collection::vec(
        prop_oneof![
            Just("dev".to_string()), Just("via".to_string()), Just("nexthop".to_string()),
            Just("encap".to_string()), Just("ip".to_string()), Just("mpls".to_string()),
            Just("table".to_string()), Just("to".to_string()), Just("from".to_string()),
            Just("brd".to_string()), Just("+".to_string()), Just("peer".to_string()),
            Just("lock".to_string()), Just("mtu".to_string()), Just("type".to_string()),
            Just("goto".to_string()), Just("default".to_string()), Just("or".to_string()),
            Just("192.0.2.1".to_string()), Just("2001:db8::1/64".to_string()),
            Just("198.51.100.0/24".to_string()), Just("0".to_string()), Just("inet6".to_string()),
            "[a-z0-9:./+-]{1,12}",
        ],
        0..10,
    )) {
        let line = words.join(" ");
        for block in ["static_ipaddress", "static_routes", "static_rules"] {
            let l = load(&format!("{block} {{\n 192.0.2.1 {line}\n {line}\n}}\n"));
            toml_round_trip(&l.config);
        }
    }
}
