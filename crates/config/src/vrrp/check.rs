//! The checks made once the whole configuration is read: REFERENCE 2 (keyword rules),
//! 6.4 (timers), 6.5 (preemption), 6.10 (strict mode), 6.11 (unicast), plus references
//! between blocks, duplicates and VRID clashes.
//!
//! Where keepalived "fixes up" a setting with a log line, this is an error: the
//! configuration does not mean what it says. Objects read from TOML have no position, and
//! the checks that the keepalived.conf parser makes at the word are repeated for them here.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Config;
use crate::addr::{self, AddressUse, Family, IpAddress, valid_ifname};
use crate::cx::Cx;
use crate::types::{Pos, Timer};

use super::parse::Tracked;
use super::{AuthType, InitialState, SyncGroup, TrackRef, VrrpInstance, VrrpScript};

/// The global settings that the VRRP checks depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpGlobals {
    /// `vrrp_strict`.
    pub strict: bool,
    /// `vrrp_version` (2 or 3).
    pub version: u8,
}

impl Default for VrrpGlobals {
    fn default() -> Self {
        VrrpGlobals {
            strict: false,
            version: 2,
        }
    }
}

impl VrrpGlobals {
    /// The settings of `config`'s global_defs.
    pub fn from_config(config: &Config) -> VrrpGlobals {
        VrrpGlobals {
            strict: config.global_defs.vrrp_strict,
            version: config.global_defs.vrrp_version,
        }
    }
}

/// True when the object came from keepalived.conf (its words were checked by the parser).
fn from_conf(pos: Pos) -> bool {
    pos.0.line != 0
}

fn line_of(pos: Pos) -> String {
    if pos.0.line == 0 {
        String::new()
    } else {
        format!(" (line {})", pos.0.line)
    }
}

fn err(cx: &mut Cx, pos: Pos, msg: impl Into<String>, hint: Option<&str>) {
    cx.err_at(pos, msg, hint.map(str::to_string));
}

fn warn(cx: &mut Cx, pos: Pos, msg: impl Into<String>, hint: Option<&str>) {
    cx.warn_at(pos, msg, hint.map(str::to_string));
}

/// Reports the second and later definitions of the same name.
fn unique_names<'a>(
    cx: &mut Cx,
    what: &str,
    items: impl Iterator<Item = (&'a str, Pos)>,
) -> HashMap<&'a str, Pos> {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for (name, pos) in items {
        if name.is_empty() {
            err(cx, pos, format!("a {what} needs a name"), None);
            continue;
        }
        match seen.get(name) {
            Some(first) => err(
                cx,
                pos,
                format!("{what} '{name}' is already defined{}", line_of(*first)),
                Some("give each one its own name"),
            ),
            None => {
                seen.insert(name, pos);
            }
        }
    }
    seen
}

/// The named objects trackers can refer to, with their own weights.
struct Trackables<'a> {
    scripts: HashMap<&'a str, &'a VrrpScript>,
    files: HashMap<&'a str, i32>,
    processes: HashMap<&'a str, i32>,
}

impl Trackables<'_> {
    /// The weight that applies to a tracker entry, if the object exists.
    fn weight(&self, kind: Tracked, t: &TrackRef) -> Option<i32> {
        let own = match kind {
            Tracked::Interface => Some(0),
            Tracked::Script => self.scripts.get(t.name.as_str()).map(|s| s.weight),
            Tracked::File => self.files.get(t.name.as_str()).copied(),
            Tracked::Process => self.processes.get(t.name.as_str()).copied(),
        }?;
        Some(t.weight.unwrap_or(own))
    }
}

/// Checks a tracker list: references, duplicates, weight ranges.
fn check_track_list(
    cx: &mut Cx,
    owner: &str,
    kind: Tracked,
    list: &[TrackRef],
    objs: &Trackables<'_>,
) {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for t in list {
        if let Some(first) = seen.get(t.name.as_str()) {
            err(
                cx,
                t.pos,
                format!(
                    "{owner}: '{}' is already in {}{}",
                    t.name,
                    kind.what(),
                    line_of(*first)
                ),
                Some("list it once"),
            );
        } else {
            seen.insert(&t.name, t.pos);
        }
        let exists = match kind {
            Tracked::Interface => {
                if !valid_ifname(&t.name) {
                    err(
                        cx,
                        t.pos,
                        format!("'{}' is not a valid interface name", t.name),
                        None,
                    );
                }
                true
            }
            Tracked::Script => objs.scripts.contains_key(t.name.as_str()),
            Tracked::File => objs.files.contains_key(t.name.as_str()),
            Tracked::Process => objs.processes.contains_key(t.name.as_str()),
        };
        if !exists {
            let (block, hint) = match kind {
                Tracked::Script => (
                    "vrrp_script",
                    "define it with 'vrrp_script NAME { script ... }'",
                ),
                Tracked::File => (
                    "track_file",
                    "define it with 'track_file NAME { file PATH }'",
                ),
                _ => (
                    "vrrp_track_process",
                    "define it with 'vrrp_track_process NAME { process ... }'",
                ),
            };
            err(
                cx,
                t.pos,
                format!("{owner}: {} '{}' is not defined", block, t.name),
                Some(hint),
            );
        }
        if let Some(w) = t.weight {
            let max = i32::try_from(kind.max_weight()).unwrap_or(253);
            if !(-max..=max).contains(&w) && !from_conf(t.pos) {
                err(
                    cx,
                    t.pos,
                    format!("weight {w} is out of range: -{max} to {max}"),
                    None,
                );
            }
        }
    }
}

/// The family of an instance, as keepalived deduces it: `native_ipv6`, else the first VIP,
/// else the first unicast peer, else the source or destination address; IPv4 by default.
fn instance_family(v: &VrrpInstance) -> Family {
    if v.native_ipv6 {
        return Family::Inet6;
    }
    if let Some(a) = v.virtual_ipaddress.first() {
        return a.address.family();
    }
    v.unicast_peer
        .first()
        .map(|p| p.address)
        .or(v.unicast_src_ip)
        .or(v.mcast_src_ip)
        .or(v.mcast_dst_ip)
        .map(|a| Family::of(&a))
        .unwrap_or(Family::Inet)
}

fn is_v6_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

fn mcast_default(f: Family) -> IpAddr {
    match f {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
    }
}

/// What validation of one instance needs to know of the rest of the configuration.
struct Context<'a> {
    g: &'a VrrpGlobals,
    objs: &'a Trackables<'a>,
    /// The sync group the instance is in.
    sync: Option<&'a SyncGroup>,
}

fn check_addresses(cx: &mut Cx, v: &VrrpInstance, fam: Family) {
    let name = &v.name;
    // All VIPs of an instance are one family.
    let first = v
        .virtual_ipaddress
        .first()
        .map(|a| (a.address.family(), a.pos));
    for a in &v.virtual_ipaddress {
        if a.address.family() != fam {
            let why = match first {
                Some((f, p)) if f == fam && !v.native_ipv6 => {
                    format!("the instance's first VIP{} is {}", line_of(p), f.name())
                }
                _ if v.native_ipv6 => "the instance has native_ipv6".to_string(),
                _ => format!("the instance is {}", fam.name()),
            };
            err(
                cx,
                a.pos,
                format!(
                    "({name}) VIP {} is {} but {why}: all VIPs of an instance are one family",
                    a.address.addr,
                    a.address.family().name()
                ),
                Some("put it in virtual_ipaddress_excluded, or in an instance of its own family"),
            );
        }
    }
    // Duplicates: VIP vs VIP (any interface), eVIP vs VIP or eVIP on the same interface.
    let dev_of = |a: &IpAddress| a.dev.clone().or_else(|| v.interface.clone());
    let mut vips: Vec<&IpAddress> = Vec::new();
    for a in &v.virtual_ipaddress {
        if let Some(first) = vips.iter().find(|b| b.address.addr == a.address.addr) {
            err(
                cx,
                a.pos,
                format!(
                    "({name}) VIP {} duplicates the VIP{}",
                    a.address.addr,
                    line_of(first.pos)
                ),
                Some("each address is listed once; keepalived ignores the duplicate"),
            );
        } else {
            vips.push(a);
        }
    }
    let mut evips: Vec<&IpAddress> = Vec::new();
    for a in &v.virtual_ipaddress_excluded {
        let same = |b: &&&IpAddress| b.address.addr == a.address.addr && dev_of(b) == dev_of(a);
        if let Some(first) = vips.iter().find(same) {
            err(
                cx,
                a.pos,
                format!(
                    "({name}) excluded VIP {} duplicates the VIP{} on the same interface",
                    a.address.addr,
                    line_of(first.pos)
                ),
                Some("each address is listed once; keepalived ignores the duplicate"),
            );
        } else if let Some(first) = evips.iter().find(same) {
            err(
                cx,
                a.pos,
                format!(
                    "({name}) excluded VIP {} duplicates the excluded VIP{}",
                    a.address.addr,
                    line_of(first.pos)
                ),
                Some("each address is listed once; keepalived ignores the duplicate"),
            );
        } else {
            evips.push(a);
        }
    }
    // Everything read from TOML gets the checks the parser makes.
    for a in &v.virtual_ipaddress {
        if !from_conf(a.pos) {
            addr::check_address(cx, a, AddressUse::Virtual);
        }
    }
    for a in &v.virtual_ipaddress_excluded {
        if !from_conf(a.pos) {
            addr::check_address(cx, a, AddressUse::Excluded);
        }
    }
    for r in &v.virtual_routes {
        if !from_conf(r.pos) {
            addr::check_route(cx, r, AddressUse::Virtual);
        }
    }
    for r in &v.virtual_rules {
        if !from_conf(r.pos) {
            addr::check_rule(cx, r, AddressUse::Virtual);
        }
    }
}

fn check_instance(cx: &mut Cx, v: &VrrpInstance, c: &Context<'_>) {
    let name = v.name.as_str();
    let strict = v.strict_mode.unwrap_or(c.g.strict);
    let fam = instance_family(v);
    let prio = v.effective_priority();
    let state = v.effective_state();
    let at = |kw: &str| v.at(kw);
    let unicast_kw = v.unicast_src_ip.is_some()
        || v.check_unicast_src
        || v.unicast_fault_no_peer
        || v.old_unicast_checksum.is_some();

    // --- Minimal configuration (keepalived refuses to start without these).
    match v.virtual_router_id {
        None => err(
            cx,
            v.pos,
            format!("({name}) the instance needs a virtual_router_id"),
            Some("add 'virtual_router_id N' (1 to 255, the same on every router of the group)"),
        ),
        Some(0) => err(
            cx,
            v.pos,
            format!("({name}) virtual_router_id 0 is out of range: 1 to 255"),
            None,
        ),
        Some(_) => {}
    }
    if v.priority == Some(0) {
        err(
            cx,
            at("priority"),
            format!("({name}) priority 0 is out of range: 1 to 255"),
            None,
        );
    }
    for (kw, val) in [
        ("interface", &v.interface),
        ("vrf", &v.vrf),
        ("lvs_sync_daemon_interface", &v.lvs_sync_daemon_interface),
    ] {
        if let Some(s) = val {
            if !valid_ifname(s) && !from_conf(v.pos) {
                err(
                    cx,
                    at(kw),
                    format!("({name}) '{s}' is not a valid interface name"),
                    None,
                );
            }
        }
    }
    match &v.interface {
        None => {
            if v.use_vmac.is_some() || v.use_ipvlan.is_some() {
                err(
                    cx,
                    at(if v.use_vmac.is_some() {
                        "use_vmac"
                    } else {
                        "use_ipvlan"
                    }),
                    format!("({name}) a VMAC or ipvlan needs the instance's 'interface'"),
                    Some("add 'interface IF'"),
                );
            } else if !v.is_unicast() && !unicast_kw {
                err(
                    cx,
                    v.pos,
                    format!("({name}) the instance needs an 'interface'"),
                    Some("add 'interface IF' (or unicast_src_ip and unicast_peer for unicast)"),
                );
            } else if v.unicast_src_ip.is_none() && v.mcast_src_ip.is_none() {
                err(
                    cx,
                    v.pos,
                    format!(
                        "({name}) a unicast instance without 'interface' needs 'unicast_src_ip'"
                    ),
                    None,
                );
            } else if fam == Family::Inet6
                && v.unicast_src_ip
                    .or(v.mcast_src_ip)
                    .is_some_and(|a| is_v6_link_local(&a))
            {
                err(
                    cx,
                    at("unicast_src_ip"),
                    format!(
                        "({name}) without 'interface', the source address cannot be link-local"
                    ),
                    None,
                );
            }
        }
        Some(ifname) => {
            if v.vrf.is_some() {
                err(
                    cx,
                    at("interface"),
                    format!(
                        "({name}) 'interface {ifname}' cannot be combined with 'vrf'{}: a VRF instance is unicast and has no interface",
                        line_of(at("vrf"))
                    ),
                    Some("remove 'interface' or 'vrf'"),
                );
            }
        }
    }
    if v.vrf.is_some() && !v.is_unicast() {
        err(
            cx,
            at("vrf"),
            format!("({name}) 'vrf' is only for unicast instances"),
            Some("add unicast_peer { }"),
        );
    }

    // --- Families.
    check_addresses(cx, v, fam);
    let mut peers_seen: Vec<(IpAddr, Pos)> = Vec::new();
    for p in &v.unicast_peer {
        if p.address.is_unspecified() {
            err(
                cx,
                p.pos,
                format!("({name}) a unicast peer needs an address"),
                None,
            );
        }
        if Family::of(&p.address) != fam {
            err(
                cx,
                p.pos,
                format!(
                    "({name}) unicast peer {} is {} but the instance is {}",
                    p.address,
                    Family::of(&p.address).name(),
                    fam.name()
                ),
                Some("all peers have the family of the instance's VIPs"),
            );
        }
        if let Some((_, first)) = peers_seen.iter().find(|(a, _)| *a == p.address) {
            err(
                cx,
                p.pos,
                format!(
                    "({name}) unicast peer {} is already listed{}",
                    p.address,
                    line_of(*first)
                ),
                None,
            );
        } else {
            peers_seen.push((p.address, p.pos));
        }
        if let (Some(lo), Some(hi)) = (p.min_ttl, p.max_ttl) {
            if lo > hi {
                err(
                    cx,
                    p.pos,
                    format!(
                        "({name}) min_ttl {lo} is above max_ttl {hi}: every advert would be dropped"
                    ),
                    None,
                );
            }
        }
    }
    for kw in ["mcast_src_ip", "unicast_src_ip", "mcast_dst_ip"] {
        let val = match kw {
            "mcast_src_ip" => v.mcast_src_ip,
            "unicast_src_ip" => v.unicast_src_ip,
            _ => v.mcast_dst_ip,
        };
        if let Some(a) = val {
            if Family::of(&a) != fam {
                err(
                    cx,
                    at(kw),
                    format!(
                        "({name}) {kw} {a} is {} but the instance is {}",
                        Family::of(&a).name(),
                        fam.name()
                    ),
                    None,
                );
            }
        }
    }
    if let (Some(m), Some(u)) = (v.mcast_src_ip, v.unicast_src_ip) {
        if m != u {
            err(
                cx,
                at("unicast_src_ip"),
                format!(
                    "({name}) mcast_src_ip {m} and unicast_src_ip {u} both set the source address"
                ),
                Some("give only one of them"),
            );
        }
    }
    if let Some(d) = v.mcast_dst_ip {
        let ok = match d {
            IpAddr::V4(a) => a.is_multicast(),
            IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
        };
        if !ok {
            err(
                cx,
                at("mcast_dst_ip"),
                format!(
                    "({name}) mcast_dst_ip {d} is not a {}multicast address",
                    if d.is_ipv6() { "link-local " } else { "" }
                ),
                None,
            );
        }
        if v.is_unicast() {
            err(
                cx,
                at("mcast_dst_ip"),
                format!(
                    "({name}) mcast_dst_ip has no use with unicast peers (keepalived ignores it)"
                ),
                Some("remove 'mcast_dst_ip'"),
            );
        }
    }
    if let Some(ip) = &v.use_ipvlan {
        match ip.address {
            None if fam == Family::Inet => err(
                cx,
                at("use_ipvlan"),
                format!("({name}) an IPv4 ipvlan needs an address"),
                Some("write 'use_ipvlan [NAME] ADDRESS/N'"),
            ),
            Some(a) if a.family() != fam => err(
                cx,
                at("use_ipvlan"),
                format!(
                    "({name}) the ipvlan address {a} is not {} like the instance",
                    fam.name()
                ),
                None,
            ),
            _ => {}
        }
    }

    // --- Version and timers (6.4).
    let version = v
        .version
        .unwrap_or(if fam == Family::Inet6 { 3 } else { c.g.version });
    if let Some(x) = v.version {
        if !(2..=3).contains(&x) {
            err(
                cx,
                at("version"),
                format!("({name}) version {x}: 2 or 3"),
                None,
            );
        }
    }
    if fam == Family::Inet6 && version == 2 {
        if strict {
            err(
                cx,
                at("version"),
                format!("({name}) strict mode: IPv6 needs VRRP version 3"),
                Some("remove 'version 2'"),
            );
        } else {
            warn(
                cx,
                at("version"),
                format!(
                    "({name}) VRRPv2 over IPv6 is not standard (RFC 9568 uses version 3 for IPv6); keepalived honours it only when 'version 2' comes before the VIPs"
                ),
                Some(
                    "remove 'version 2' unless the peers are keepalived instances configured the same way",
                ),
            );
        }
    }
    let ai = v.advert_int;
    let ai_at = at("advert_int");
    if ai < Timer::millis(10) || ai > Timer::secs(255) {
        err(
            cx,
            ai_at,
            format!("({name}) advert_int {ai} is out of range: 0.01 to 255 seconds"),
            None,
        );
    } else if version == 2 {
        if ai.micros() % 1_000_000 != 0 {
            err(
                cx,
                ai_at,
                format!(
                    "({name}) advert_int {ai}: VRRPv2 sends the interval in whole seconds (keepalived rounds it)"
                ),
                Some("use whole seconds (1 to 255), or 'version 3' for centiseconds"),
            );
        }
    } else if ai.micros() % 10_000 != 0 || ai > Timer::millis(40_950) {
        err(
            cx,
            ai_at,
            format!(
                "({name}) advert_int {ai}: VRRPv3 sends the interval in centiseconds, from 0.01 to 40.95 seconds"
            ),
            Some("use a multiple of 0.01 up to 40.95"),
        );
    }
    if let Some(d) = v.preempt_delay {
        if d > Timer::secs(1000) {
            err(
                cx,
                at("preempt_delay"),
                format!("({name}) preempt_delay {d} is out of range: 0 to 1000 seconds"),
                None,
            );
        }
    }
    if let Some(x) = v.down_timer_adverts {
        if !(1..=100).contains(&x) {
            err(
                cx,
                at("down_timer_adverts"),
                format!("({name}) down_timer_adverts {x} is out of range: 1 to 100"),
                None,
            );
        } else if strict && x != 3 {
            err(
                cx,
                at("down_timer_adverts"),
                format!(
                    "({name}) strict mode: down_timer_adverts must be 3 (keepalived resets it)"
                ),
                Some("remove 'down_timer_adverts'"),
            );
        }
    }

    // --- State and preemption (6.5).
    let state_at = at("state");
    if strict && (state == InitialState::Master) != (prio == 255) {
        err(
            cx,
            if v.state.is_some() {
                state_at
            } else {
                at("priority")
            },
            format!(
                "({name}) strict mode: state MASTER goes with priority 255 (the address owner) and only with it; here state is {} and priority {prio}",
                if state == InitialState::Master {
                    "MASTER"
                } else {
                    "BACKUP"
                }
            ),
            Some("use 'state BACKUP' below 255, or 'priority 255' with 'state MASTER'"),
        );
    }
    if v.nopreempt {
        if prio == 255 {
            err(
                cx,
                at("nopreempt"),
                format!(
                    "({name}) nopreempt is incompatible with priority 255 (keepalived clears it)"
                ),
                Some(
                    "an address owner always takes over; remove 'nopreempt' or lower the priority",
                ),
            );
        } else if v.state == Some(InitialState::Master) {
            err(
                cx,
                at("nopreempt"),
                format!(
                    "({name}) nopreempt does not work with state MASTER (keepalived clears it)"
                ),
                Some("use 'state BACKUP' with 'nopreempt'"),
            );
        }
    }
    if let Some(d) = v.preempt_delay.filter(|d| d.micros() > 0) {
        let pd = at("preempt_delay");
        if state == InitialState::Master {
            err(
                cx,
                pd,
                format!(
                    "({name}) preempt_delay {d} does not work with state MASTER (keepalived clears it)"
                ),
                Some("use 'state BACKUP' with 'preempt_delay'"),
            );
        }
        if v.nopreempt {
            err(
                cx,
                pd,
                format!(
                    "({name}) preempt_delay is incompatible with nopreempt (keepalived clears it)"
                ),
                Some("remove one of them"),
            );
        }
        if strict {
            err(
                cx,
                pd,
                format!("({name}) strict mode does not allow preempt_delay"),
                Some("remove 'preempt_delay'"),
            );
        }
    }
    if let Some(t) = v.timer_expired_backup {
        if !v.nopreempt {
            err(
                cx,
                at("timer_expired_backup"),
                format!("({name}) timer_expired_backup needs nopreempt (keepalived clears it)"),
                Some("add 'nopreempt'"),
            );
        }
        if !(1..=254).contains(&t) {
            err(
                cx,
                at("timer_expired_backup"),
                format!("({name}) timer_expired_backup {t} is out of range: 1 to 254"),
                None,
            );
        }
    }
    match v.owner_ignore_adverts {
        Some(true) if prio != 255 => err(
            cx,
            at("owner_ignore_adverts"),
            format!(
                "({name}) owner_ignore_adverts only applies to priority 255 (keepalived clears it)"
            ),
            Some("remove 'owner_ignore_adverts'"),
        ),
        Some(false) if prio == 255 => err(
            cx,
            at("owner_ignore_adverts"),
            format!(
                "({name}) with priority 255, owner_ignore_adverts is always on (keepalived sets it back)"
            ),
            Some("remove 'owner_ignore_adverts false'"),
        ),
        _ => {}
    }
    if strict {
        if v.lower_prio_no_advert == Some(false) {
            err(
                cx,
                at("lower_prio_no_advert"),
                format!("({name}) strict mode needs lower_prio_no_advert (keepalived sets it)"),
                Some("remove 'lower_prio_no_advert off'"),
            );
        }
        if v.higher_prio_send_advert == Some(true) {
            err(
                cx,
                at("higher_prio_send_advert"),
                format!(
                    "({name}) strict mode does not allow higher_prio_send_advert (keepalived clears it)"
                ),
                Some("remove 'higher_prio_send_advert'"),
            );
        }
        if v.garp_lower_prio_repeat.is_some_and(|x| x > 0) {
            err(
                cx,
                at("garp_lower_prio_repeat"),
                format!(
                    "({name}) strict mode does not allow garp_lower_prio_repeat (keepalived resets it)"
                ),
                Some("remove 'garp_lower_prio_repeat'"),
            );
        }
        if v.garp_lower_prio_delay.is_some_and(|x| x.micros() > 0) {
            err(
                cx,
                at("garp_lower_prio_delay"),
                format!(
                    "({name}) strict mode does not allow garp_lower_prio_delay (keepalived resets it)"
                ),
                Some("remove 'garp_lower_prio_delay'"),
            );
        }
        if v.accept == Some(true) && prio != 255 && version == 2 {
            err(
                cx,
                at("accept"),
                format!("({name}) strict mode: accept mode does not comply with VRRPv2 (RFC 3768)"),
                Some("remove 'accept', or use 'version 3'"),
            );
        }
    }
    for (kw, val) in [
        ("garp_master_repeat", v.garp_master_repeat),
        ("garp_master_refresh_repeat", v.garp_master_refresh_repeat),
    ] {
        if val == Some(0) {
            err(
                cx,
                at(kw),
                format!("({name}) {kw} must be at least 1"),
                None,
            );
        }
    }
    if let Some(g) = v.garp_extra_if {
        if g.interval > Timer::secs(86400) || g.interval.micros() % 1_000_000 != 0 {
            err(
                cx,
                at("garp_extra_if"),
                format!("({name}) garp_extra_if takes whole seconds up to 86400"),
                None,
            );
        }
    }

    // --- Authentication (2.11, 6.8).
    if let Some(a) = &v.authentication {
        let a_at = |kw: &str| a.kw_pos.get(kw).unwrap_or(a.pos);
        let pos = a.pos;
        match a.auth_type {
            None => err(
                cx,
                pos,
                format!(
                    "({name}) the authentication block has no auth_type{}",
                    if a.auth_pass.is_some() {
                        ": auth_pass alone is not used"
                    } else {
                        ""
                    }
                ),
                Some("add 'auth_type PASS', or remove the block"),
            ),
            Some(AuthType::Ah) if !from_conf(pos) => err(
                cx,
                pos,
                format!("({name}) 'auth_type AH' is not supported yet: IPsec AH authentication"),
                Some("use 'auth_type PASS' (VRRPv2), or no authentication"),
            ),
            Some(_) => {}
        }
        match &a.auth_pass {
            None => err(
                cx,
                pos,
                format!(
                    "({name}) authentication needs an auth_pass (keepalived ignores the block)"
                ),
                Some("add 'auth_pass PASSWORD' (at most 8 characters)"),
            ),
            Some(p) if p.is_empty() => err(
                cx,
                a_at("auth_pass"),
                format!("({name}) auth_pass is empty"),
                None,
            ),
            Some(p) if p.len() > 8 && !from_conf(pos) => err(
                cx,
                a_at("auth_pass"),
                format!(
                    "({name}) auth_pass is {} characters long: only 8 are sent (keepalived truncates it)",
                    p.len()
                ),
                Some("use at most 8 characters"),
            ),
            Some(_) => {}
        }
        if strict {
            err(
                cx,
                pos,
                format!("({name}) strict mode does not allow authentication (RFC 3768 removed it)"),
                Some("remove the authentication block"),
            );
        } else if version == 3 {
            err(
                cx,
                pos,
                format!("({name}) VRRPv3 has no authentication (keepalived ignores the block)"),
                Some("remove the authentication block, or use 'version 2'"),
            );
        } else if fam == Family::Inet6 {
            err(
                cx,
                pos,
                format!("({name}) authentication is only for VRRPv2 over IPv4"),
                Some("remove the authentication block"),
            );
        }
        if a.auth_type == Some(AuthType::Ah) && state == InitialState::Master && prio != 255 {
            err(
                cx,
                if v.state.is_some() { state_at } else { pos },
                format!(
                    "({name}) initial state MASTER is incompatible with AH authentication (keepalived starts the instance as BACKUP)"
                ),
                Some("use 'state BACKUP'"),
            );
        }
    }

    // --- VIPs (6.10).
    if v.virtual_ipaddress.is_empty() {
        if v.no_virtual_ipaddress && !strict {
            // Allowed.
        } else if strict || version == 3 {
            err(
                cx,
                v.pos,
                format!(
                    "({name}) the instance needs at least one VIP{}",
                    if strict {
                        " in strict mode"
                    } else {
                        " with VRRPv3"
                    }
                ),
                Some("add virtual_ipaddress { ADDRESS }"),
            );
        } else {
            warn(
                cx,
                v.pos,
                format!("({name}) the instance has no VIP"),
                Some("add virtual_ipaddress { }, or 'no_virtual_ipaddress' if this is intended"),
            );
        }
    }
    if v.no_virtual_ipaddress && strict {
        err(
            cx,
            at("no_virtual_ipaddress"),
            format!("({name}) strict mode does not allow no_virtual_ipaddress"),
            None,
        );
    }
    if strict && fam == Family::Inet6 && !v.is_unicast() {
        if let Some(a) = v.virtual_ipaddress.first() {
            if !is_v6_link_local(&a.address.addr) {
                err(
                    cx,
                    a.pos,
                    format!("({name}) strict mode: the first IPv6 VIP must be link-local"),
                    Some("list a fe80:: address first"),
                );
            }
        }
    }
    let nvips = v.virtual_ipaddress.len();
    if nvips > 255 {
        err(
            cx,
            v.pos,
            format!("({name}) {nvips} VIPs: an advert carries at most 255"),
            Some("move the others to virtual_ipaddress_excluded"),
        );
    } else if fam == Family::Inet6 && nvips > 89 {
        warn(
            cx,
            v.pos,
            format!(
                "({name}) {nvips} IPv6 VIPs do not fit in an advert on a 1500-byte MTU; keepalived moves the excess to the excluded VIPs"
            ),
            Some("move some to virtual_ipaddress_excluded"),
        );
    }

    // --- Unicast (6.11).
    if v.is_unicast() {
        if strict {
            err(
                cx,
                at("unicast_peer"),
                format!(
                    "({name}) strict mode does not allow unicast peers (keepalived refuses the instance when the interface can multicast)"
                ),
                Some("remove unicast_peer, or strict mode"),
            );
        }
        if (v.use_vmac.is_some() || v.use_ipvlan.is_some()) && !v.vmac_xmit_base {
            err(
                cx,
                at("unicast_peer"),
                format!("({name}) unicast with use_vmac needs vmac_xmit_base (keepalived sets it)"),
                Some("add 'vmac_xmit_base'"),
            );
        }
    } else {
        if unicast_kw && !v.unicast_fault_no_peer {
            let kw = [
                "unicast_src_ip",
                "check_unicast_src",
                "old_unicast_checksum",
            ]
            .into_iter()
            .find(|k| v.kw_pos.get(k).is_some())
            .unwrap_or("unicast_src_ip");
            warn(
                cx,
                at(kw),
                format!(
                    "({name}) '{kw}' without unicast_peer: adverts are multicast (keepalived deprecates this)"
                ),
                Some("add unicast_peer { }, or remove the unicast keywords"),
            );
        }
        if v.unicast_ttl.is_some() {
            err(
                cx,
                at("unicast_ttl"),
                format!(
                    "({name}) unicast_ttl has no use without unicast peers (keepalived resets it)"
                ),
                Some("add unicast_peer { }, or remove 'unicast_ttl'"),
            );
        }
    }

    // --- VMAC (2.12).
    if v.vmac_xmit_base && v.use_vmac.is_none() && v.use_ipvlan.is_none() {
        err(
            cx,
            at("vmac_xmit_base"),
            format!("({name}) vmac_xmit_base is only valid with use_vmac"),
            Some("add 'use_vmac', or remove 'vmac_xmit_base'"),
        );
    }
    if v.use_vmac.is_some() && v.use_ipvlan.is_some() {
        err(
            cx,
            at("use_ipvlan"),
            format!("({name}) use_vmac and use_ipvlan cannot both be used"),
            None,
        );
    }
    if let Some(u) = &v.use_vmac {
        if strict && v.vmac_xmit_base {
            err(
                cx,
                at("vmac_xmit_base"),
                format!("({name}) strict mode does not allow vmac_xmit_base"),
                None,
            );
        }
        if strict && u.mac.is_some() {
            err(
                cx,
                at("use_vmac"),
                format!("({name}) strict mode does not allow a chosen VMAC MAC address"),
                Some("remove the MAC from 'use_vmac'"),
            );
        }
        if !from_conf(v.pos) {
            if let Some(n) = &u.name {
                if !valid_ifname(n) {
                    err(
                        cx,
                        v.pos,
                        format!("({name}) '{n}' is not a valid VMAC name"),
                        None,
                    );
                }
            }
            if let Some(m) = &u.mac {
                if let Err(e) = m.to_string().parse::<super::VmacMac>() {
                    err(cx, v.pos, format!("({name}) {e}"), None);
                }
            }
        }
        if v.promote_secondaries {
            warn(
                cx,
                at("promote_secondaries"),
                format!("({name}) promote_secondaries is automatic on a VMAC"),
                Some("remove 'promote_secondaries'"),
            );
        }
    }

    // --- Trackers.
    let owner = format!("({name})");
    check_track_list(cx, &owner, Tracked::Interface, &v.track_interface, c.objs);
    check_track_list(cx, &owner, Tracked::Script, &v.track_script, c.objs);
    check_track_list(cx, &owner, Tracked::File, &v.track_file, c.objs);
    check_track_list(cx, &owner, Tracked::Process, &v.track_process, c.objs);
    if let Some(own) = &v.interface {
        if let Some(t) = v.track_interface.iter().find(|t| t.name == *own) {
            if t.weight.is_some_and(|w| w != 0) {
                err(
                    cx,
                    t.pos,
                    format!(
                        "({name}) track_interface {own} is the instance's own interface: keepalived ignores the entry and its weight"
                    ),
                    Some(
                        "remove it: the own interface is always tracked (unless dont_track_primary)",
                    ),
                );
            } else {
                warn(
                    cx,
                    t.pos,
                    format!(
                        "({name}) track_interface {own} is the instance's own interface, which is always tracked"
                    ),
                    Some("remove it"),
                );
            }
        }
    }
    let sync_ignores = c.sync.filter(|g| !g.sync_group_tracking_weight);
    if prio == 255 || sync_ignores.is_some() {
        let why = match sync_ignores {
            Some(g) => format!(
                "it is in sync group '{}' without sync_group_tracking_weight",
                g.name
            ),
            None => "its priority is 255 (the address owner)".to_string(),
        };
        let hint = if sync_ignores.is_some() {
            "add 'sync_group_tracking_weight' to the sync group, or use 'weight 0'"
        } else {
            "use 'weight 0' (a failure is then a FAULT), or a priority below 255"
        };
        for (kind, list) in [
            (Tracked::Interface, &v.track_interface),
            (Tracked::Script, &v.track_script),
            (Tracked::File, &v.track_file),
            (Tracked::Process, &v.track_process),
        ] {
            for t in list {
                let Some(w) = c.objs.weight(kind, t) else {
                    continue;
                };
                if w != 0 {
                    err(
                        cx,
                        t.pos,
                        format!(
                            "({name}) {} '{}' has weight {w}, which keepalived ignores because {why}",
                            kind.what(),
                            t.name
                        ),
                        Some(hint),
                    );
                }
            }
        }
    }
}

fn check_script(cx: &mut Cx, s: &VrrpScript) {
    let name = &s.name;
    let at = |kw: &str| s.kw_pos.get(kw).unwrap_or(s.pos);
    match &s.script {
        None => err(
            cx,
            s.pos,
            format!("vrrp_script '{name}' has no 'script'"),
            Some("add 'script \"/path/to/check args\"'"),
        ),
        Some(sc) if sc.argv.is_empty() || sc.command.is_empty() => err(
            cx,
            at("script"),
            format!("vrrp_script '{name}': the script command is empty"),
            None,
        ),
        Some(_) => {}
    }
    if s.interval.micros() == 0 {
        err(
            cx,
            at("interval"),
            format!("vrrp_script '{name}': interval must be more than 0"),
            None,
        );
    }
    if s.timeout.is_some_and(|t| t.micros() == 0) {
        err(
            cx,
            at("timeout"),
            format!("vrrp_script '{name}': timeout must be more than 0"),
            None,
        );
    }
    if !(-253..=253).contains(&s.weight) {
        err(
            cx,
            at("weight"),
            format!(
                "vrrp_script '{name}': weight {} is out of range: -253 to 253",
                s.weight
            ),
            None,
        );
    }
    if s.rise == 0 || s.fall == 0 {
        err(
            cx,
            at(if s.rise == 0 { "rise" } else { "fall" }),
            format!("vrrp_script '{name}': rise and fall must be at least 1"),
            None,
        );
    }
}

/// Checks of the VRRP configuration.
pub(super) fn validate(cx: &mut Cx, config: &Config, g: &VrrpGlobals) {
    // --- Names.
    unique_names(
        cx,
        "vrrp_script",
        config.vrrp_scripts.iter().map(|s| (s.name.as_str(), s.pos)),
    );
    unique_names(
        cx,
        "track_file",
        config.track_files.iter().map(|s| (s.name.as_str(), s.pos)),
    );
    unique_names(
        cx,
        "vrrp_track_process",
        config
            .vrrp_track_processes
            .iter()
            .map(|s| (s.name.as_str(), s.pos)),
    );
    let instances = unique_names(
        cx,
        "vrrp_instance",
        config
            .vrrp_instances
            .iter()
            .map(|s| (s.name.as_str(), s.pos)),
    );
    unique_names(
        cx,
        "vrrp_sync_group",
        config
            .vrrp_sync_groups
            .iter()
            .map(|s| (s.name.as_str(), s.pos)),
    );

    let objs = Trackables {
        scripts: config
            .vrrp_scripts
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect(),
        files: config
            .track_files
            .iter()
            .map(|f| (f.name.as_str(), f.weight))
            .collect(),
        processes: config
            .vrrp_track_processes
            .iter()
            .map(|p| (p.name.as_str(), p.weight))
            .collect(),
    };

    // --- Trackable objects.
    for s in &config.vrrp_scripts {
        check_script(cx, s);
    }
    for f in &config.track_files {
        let name = &f.name;
        if f.file.as_deref().is_none_or(str::is_empty) {
            err(
                cx,
                f.pos,
                format!("track_file '{name}' has no 'file'"),
                Some("add 'file PATH'"),
            );
        }
        if !(-254..=254).contains(&f.weight) {
            err(
                cx,
                f.kw_pos.get("weight").unwrap_or(f.pos),
                format!(
                    "track_file '{name}': weight {} is out of range: -254 to 254",
                    f.weight
                ),
                None,
            );
        }
    }
    for p in &config.vrrp_track_processes {
        let name = &p.name;
        let at = |kw: &str| p.kw_pos.get(kw).unwrap_or(p.pos);
        if p.process.as_deref().is_none_or(str::is_empty) {
            err(
                cx,
                p.pos,
                format!("vrrp_track_process '{name}' has no 'process'"),
                Some("add 'process NAME'"),
            );
        }
        if !(-254..=254).contains(&p.weight) {
            err(
                cx,
                at("weight"),
                format!(
                    "vrrp_track_process '{name}': weight {} is out of range: -254 to 254",
                    p.weight
                ),
                None,
            );
        }
        if !(1..=65535).contains(&p.quorum) {
            err(
                cx,
                at("quorum"),
                format!(
                    "vrrp_track_process '{name}': quorum {} is out of range: 1 to 65535",
                    p.quorum
                ),
                None,
            );
        }
        if let Some(max) = p.quorum_max {
            let quorum_given = p.kw_pos.get("quorum").is_some() || p.quorum != 1;
            if max > 65535 || (max < p.quorum && (max != 0 || quorum_given)) {
                err(
                    cx,
                    at("quorum_max"),
                    format!(
                        "vrrp_track_process '{name}': quorum_max {max} is below quorum {}",
                        p.quorum
                    ),
                    None,
                );
            }
        }
    }

    // --- garp_group.
    let mut garp_ifs: HashMap<&str, Pos> = HashMap::new();
    for gg in &config.garp_groups {
        if gg.garp_interval.is_none() && gg.gna_interval.is_none() {
            err(
                cx,
                gg.pos,
                "the garp_group sets no interval (keepalived removes it)",
                Some("add 'garp_interval SECS' and/or 'gna_interval SECS'"),
            );
        }
        if gg.interfaces.is_empty() {
            warn(
                cx,
                gg.pos,
                "the garp_group names no interface",
                Some("add 'interface IF' or 'interfaces { }'"),
            );
        }
        for i in &gg.interfaces {
            if let Some(first) = garp_ifs.get(i.name.as_str()) {
                err(
                    cx,
                    i.pos,
                    format!(
                        "interface {} is already in a garp_group{}",
                        i.name,
                        line_of(*first)
                    ),
                    Some("an interface belongs to one garp_group"),
                );
            } else {
                garp_ifs.insert(&i.name, i.pos);
            }
        }
    }

    // --- Sync groups.
    let mut member_of: HashMap<&str, &SyncGroup> = HashMap::new();
    for sg in &config.vrrp_sync_groups {
        let gname = &sg.name;
        let owner = format!("(sync group {gname})");
        if sg.group.is_empty() {
            let msg = if sg.kw_pos.get("group").is_some() {
                format!("sync group '{gname}' has an empty group block (keepalived removes it)")
            } else {
                format!(
                    "sync group '{gname}' has no 'group {{ }}' block: it has no members (keepalived removes it)"
                )
            };
            err(
                cx,
                sg.pos,
                msg,
                Some("list the member instances in 'group { }', one per line"),
            );
        }
        let mut here: Vec<&str> = Vec::new();
        let mut has_owner = false;
        let mut owners_and_not: (Option<&str>, Option<&str>) = (None, None);
        for m in &sg.group {
            let Some(_) = instances.get(m.name.as_str()) else {
                err(
                    cx,
                    m.pos,
                    format!(
                        "sync group '{gname}': vrrp_instance '{}' is not defined",
                        m.name
                    ),
                    None,
                );
                continue;
            };
            if here.contains(&m.name.as_str()) {
                err(
                    cx,
                    m.pos,
                    format!("sync group '{gname}': '{}' is listed twice", m.name),
                    None,
                );
                continue;
            }
            here.push(&m.name);
            if let Some(other) = member_of.get(m.name.as_str()) {
                err(
                    cx,
                    m.pos,
                    format!(
                        "vrrp_instance '{}' is already in sync group '{}'{}: an instance is in one sync group only",
                        m.name,
                        other.name,
                        line_of(other.pos)
                    ),
                    None,
                );
                continue;
            }
            member_of.insert(&m.name, sg);
            if let Some(v) = config.vrrp_instances.iter().find(|v| v.name == m.name) {
                if v.effective_priority() == 255 {
                    has_owner = true;
                }
                if v.effective_priority() == 255 && v.effective_state() == InitialState::Master {
                    owners_and_not.0.get_or_insert(&m.name);
                } else {
                    owners_and_not.1.get_or_insert(&m.name);
                }
            }
        }
        if let (Some(owner), Some(other)) = owners_and_not {
            err(
                cx,
                sg.pos,
                format!(
                    "sync group '{gname}' mixes an address owner ('{owner}', priority 255) with a member that is not ('{other}'): the group cannot start as MASTER and BACKUP at once"
                ),
                Some("give every member priority 255, or none"),
            );
        }
        if here.len() == 1 {
            warn(
                cx,
                sg.pos,
                format!(
                    "sync group '{gname}' has only one member, which is probably not what you want"
                ),
                None,
            );
        }
        check_track_list(cx, &owner, Tracked::Interface, &sg.track_interface, &objs);
        check_track_list(cx, &owner, Tracked::Script, &sg.track_script, &objs);
        check_track_list(cx, &owner, Tracked::File, &sg.track_file, &objs);
        check_track_list(cx, &owner, Tracked::Process, &sg.track_process, &objs);
        if has_owner {
            for (kind, list) in [
                (Tracked::Script, &sg.track_script),
                (Tracked::File, &sg.track_file),
                (Tracked::Process, &sg.track_process),
            ] {
                for t in list {
                    if objs.weight(kind, t).is_some_and(|w| w != 0) {
                        err(
                            cx,
                            t.pos,
                            format!(
                                "sync group '{gname}': {} '{}' has a weight, but a member has priority 255 (keepalived clears the weight)",
                                kind.what(),
                                t.name
                            ),
                            Some("use 'weight 0'"),
                        );
                    }
                }
            }
        }
    }

    // --- Instances.
    for v in &config.vrrp_instances {
        let c = Context {
            g,
            objs: &objs,
            sync: member_of.get(v.name.as_str()).copied(),
        };
        check_instance(cx, v, &c);
    }

    // --- Across instances: VRID clashes, duplicate VIPs, VMAC names.
    let all = &config.vrrp_instances;
    for (j, b) in all.iter().enumerate() {
        let fb = instance_family(b);
        for a in all.iter().take(j) {
            let (Some(ra), Some(rb)) = (a.virtual_router_id, b.virtual_router_id) else {
                continue;
            };
            if ra != rb || instance_family(a) != fb || a.is_unicast() != b.is_unicast() {
                continue;
            }
            let clash = if a.is_unicast() {
                let same_if = match (&a.interface, &b.interface) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                let src_a = a.unicast_src_ip.or(a.mcast_src_ip);
                let src_b = b.unicast_src_ip.or(b.mcast_src_ip);
                let same_src = matches!((src_a, src_b), (Some(x), Some(y)) if x == y);
                let common_peer = a
                    .unicast_peer
                    .iter()
                    .any(|p| b.unicast_peer.iter().any(|q| q.address == p.address));
                same_if && same_src && common_peer
            } else {
                let same_if = a.interface.is_some() && a.interface == b.interface;
                let da = a.mcast_dst_ip.unwrap_or_else(|| mcast_default(fb));
                let db = b.mcast_dst_ip.unwrap_or_else(|| mcast_default(fb));
                same_if && da == db
            };
            if clash {
                err(
                    cx,
                    b.at("virtual_router_id"),
                    format!(
                        "({}) VRID {rb} is already used by '{}'{} with {} on {}",
                        b.name,
                        a.name,
                        line_of(a.at("virtual_router_id")),
                        fb.name(),
                        b.interface.as_deref().unwrap_or("the same peers")
                    ),
                    Some(
                        "the VRID identifies the virtual router on a link: give each instance its own",
                    ),
                );
            }
        }
    }
    let mut vip_owner: HashMap<(IpAddr, Option<&str>), (&str, Pos)> = HashMap::new();
    for v in all {
        let mut mine: Vec<IpAddr> = Vec::new();
        for a in v
            .virtual_ipaddress
            .iter()
            .chain(&v.virtual_ipaddress_excluded)
        {
            let dev = a.dev.as_deref().or(v.interface.as_deref());
            let key = (a.address.addr, dev);
            match vip_owner.get(&key) {
                Some((other, pos)) if *other != v.name => err(
                    cx,
                    a.pos,
                    format!(
                        "({}) VIP {} is also a VIP of '{}'{}",
                        v.name,
                        a.address.addr,
                        other,
                        line_of(*pos)
                    ),
                    Some("an address belongs to one instance"),
                ),
                Some(_) => {}
                None => {
                    if !mine.contains(&a.address.addr) {
                        vip_owner.insert(key, (&v.name, a.pos));
                        mine.push(a.address.addr);
                    }
                }
            }
        }
    }
    let mut vmac_names: HashMap<&str, (&str, Pos)> = HashMap::new();
    for v in all {
        let name = v
            .use_vmac
            .as_ref()
            .and_then(|u| u.name.as_deref())
            .or(v.use_ipvlan.as_ref().and_then(|u| u.name.as_deref()));
        if let Some(n) = name {
            let at = v.kw_pos.at(&["use_vmac", "use_ipvlan"], v.pos);
            if let Some((other, pos)) = vmac_names.get(n) {
                err(
                    cx,
                    at,
                    format!(
                        "({}) the VMAC name {n} is already used by '{other}'{}",
                        v.name,
                        line_of(*pos)
                    ),
                    None,
                );
            } else {
                vmac_names.insert(n, (&v.name, at));
            }
        }
    }

    // --- Static addresses, routes and rules read from TOML.
    for a in &config.static_ipaddress {
        if !from_conf(a.pos) {
            addr::check_address(cx, a, AddressUse::Static);
        }
    }
    for r in &config.static_routes {
        if !from_conf(r.pos) {
            addr::check_route(cx, r, AddressUse::Static);
        }
    }
    for r in &config.static_rules {
        if !from_conf(r.pos) {
            addr::check_rule(cx, r, AddressUse::Static);
        }
    }

    // --- Unused scripts (keepalived warns and drops them).
    for s in &config.vrrp_scripts {
        let used = config
            .vrrp_instances
            .iter()
            .any(|v| v.track_script.iter().any(|t| t.name == s.name))
            || config
                .vrrp_sync_groups
                .iter()
                .any(|g| g.track_script.iter().any(|t| t.name == s.name));
        if !used {
            warn(
                cx,
                s.pos,
                format!("vrrp_script '{}' is not used by any track_script", s.name),
                None,
            );
        }
    }
}
