//! Reading the VRRP blocks: one keyword at a time, values and syntax. Combinations of
//! keywords are checked after parsing (check.rs), where the whole configuration is known.

use std::net::IpAddr;

use crate::addr::{self, AddressUse, IpPrefix, valid_ifname};
use crate::cx::Cx;
use crate::diag::{Severity, nearest};
use crate::keywords::{self, Block};
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

use super::{
    AuthType, Authentication, GarpExtraIf, GarpGroup, InitFile, InitialState, IpvlanMode, NameAt,
    NotifyDeleted, OldUnicastChecksum, ParamMatch, SyncGroup, TrackFile, TrackProcess, TrackRef,
    UnicastPeer, UseIpvlan, UseVmac, VmacMac, VrrpInstance, VrrpScript,
};

/// The kinds of tracked objects, for the entries of `track_*` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tracked {
    Interface,
    Script,
    File,
    Process,
}

impl Tracked {
    pub(super) fn what(self) -> &'static str {
        match self {
            Tracked::Interface => "track_interface",
            Tracked::Script => "track_script",
            Tracked::File => "track_file",
            Tracked::Process => "track_process",
        }
    }

    /// keepalived's weight range for the entries (interfaces and scripts refuse +/-254).
    pub(super) fn max_weight(self) -> i64 {
        match self {
            Tracked::Interface | Tracked::Script => 253,
            Tracked::File | Tracked::Process => 254,
        }
    }
}

/// The name of a named block (`vrrp_instance NAME {`), with its entries.
fn named_block<'n>(cx: &mut Cx, n: &'n Node) -> Option<(String, &'n [Node])> {
    let nargs = n.nargs();
    let block = cx.block_args(n, 1, 1)?;
    if nargs == 0 {
        return None;
    }
    Some((n.arg(0).unwrap_or_default().to_string(), block))
}

fn ifname_kw(cx: &mut Cx, n: &Node) -> Option<String> {
    let s = cx.string_kw(n)?;
    if valid_ifname(&s) {
        Some(s)
    } else {
        cx.err_arg(
            n,
            0,
            format!(
                "'{s}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)"
            ),
            None,
        );
        None
    }
}

/// A notify script keyword that may be given once.
fn notify_kw(cx: &mut Cx, n: &Node, slot: &mut Option<Box<Script>>) {
    let Some(s) = cx.script_kw(n) else {
        return;
    };
    if slot.is_some() {
        cx.err_hint(
            n,
            format!(
                "'{}' is given twice (keepalived ignores the second)",
                n.kw()
            ),
            "give each notify script once",
        );
        return;
    }
    *slot = Some(Box::new(s));
}

fn bool_into(cx: &mut Cx, n: &Node, slot: &mut Option<bool>) {
    if let Some(b) = cx.bool_kw(n) {
        *slot = Some(b);
    }
}

fn flag_into(cx: &mut Cx, n: &Node, slot: &mut bool) {
    if cx.flag_kw(n) {
        *slot = true;
    }
}

/// Whole seconds (keepalived reads these as integers).
fn secs_kw(cx: &mut Cx, n: &Node, max: u64) -> Option<Timer> {
    if !cx.args(n, 1, 1) {
        return None;
    }
    let v = n.arg(0).unwrap_or_default();
    if v.contains('.') {
        cx.err_arg(
            n,
            0,
            format!("'{}' takes whole seconds, not '{v}'", n.kw()),
            None,
        );
        return None;
    }
    cx.parse_u64(n, 0, 0, max).map(Timer::secs)
}

/// The entries of a `track_*` block.
pub(super) fn track_list(cx: &mut Cx, n: &Node, kind: Tracked) -> Vec<TrackRef> {
    let Some(block) = cx.block_args(n, 0, 0) else {
        return Vec::new();
    };
    let what = kind.what();
    let mut out = Vec::new();
    for e in block {
        if e.block.is_some() {
            cx.report(
                Severity::Error,
                e.block_loc,
                format!("a {what} entry does not take a block"),
                Some(e.text.to_string()),
                Some("each entry is one line: NAME [weight N [reverse|noreverse]]".into()),
            );
            continue;
        }
        let mut t = TrackRef {
            name: e.kw().to_string(),
            pos: Pos(e.loc),
            ..TrackRef::default()
        };
        if let Some(opt) = e.tok(1) {
            if opt != "weight" {
                let hint = if nearest(opt, ["weight"]).is_some() {
                    "did you mean 'weight'?".to_string()
                } else {
                    format!("each tracked name goes on its own line: put '{opt}' on a new line")
                };
                cx.err_tok(e, 1, format!("unknown {what} option '{opt}'"), Some(hint));
                out.push(t);
                continue;
            }
            let max = kind.max_weight();
            match e.tok(2) {
                None => {
                    cx.err_tok(e, 1, "'weight' needs a value", None);
                }
                Some(v) => match v.parse::<i64>() {
                    Ok(w) if (-max..=max).contains(&w) => t.weight = i32::try_from(w).ok(),
                    Ok(_) => {
                        cx.err_tok(
                            e,
                            2,
                            format!("weight {v} is out of range: -{max} to {max}"),
                            None,
                        );
                    }
                    Err(_) => {
                        cx.err_tok(e, 2, format!("weight '{v}' is not a number"), None);
                    }
                },
            }
            match e.tok(3) {
                None => {}
                Some("reverse") => t.reverse = Some(true),
                Some("noreverse") => t.reverse = Some(false),
                Some(x) => {
                    cx.err_tok(
                        e,
                        3,
                        format!("unknown weight option '{x}': reverse or noreverse"),
                        None,
                    );
                }
            }
            if let Some(x) = e.tok(4) {
                cx.err_tok(
                    e,
                    4,
                    format!("unexpected '{x}' after the {what} entry"),
                    Some("each tracked name goes on its own line".into()),
                );
            }
        }
        out.push(t);
    }
    out
}

/// `vrrp_instance NAME { }`.
pub(super) fn instance(cx: &mut Cx, n: &Node) -> Option<VrrpInstance> {
    let (name, block) = named_block(cx, n)?;
    let mut v = VrrpInstance {
        name,
        pos: Pos(n.loc),
        ..VrrpInstance::default()
    };
    cx.dispatch(Block::VrrpInstance, block, |cx, e| {
        let kw = e.kw();
        v.kw_pos.set(kw, Pos(e.loc));
        match kw {
            "state" => {
                if let Some(s) = cx.choice_kw(e, &["MASTER", "BACKUP"]) {
                    let s = if s == "MASTER" {
                        InitialState::Master
                    } else {
                        InitialState::Backup
                    };
                    if v.state == Some(InitialState::Master) && s == InitialState::Backup {
                        cx.err_hint(
                            e,
                            "'state' is already MASTER (keepalived ignores this BACKUP)",
                            "give 'state' once",
                        );
                    } else {
                        v.state = Some(s);
                    }
                }
            }
            "interface" => v.interface = ifname_kw(cx, e).or(v.interface.take()),
            "vrf" => v.vrf = ifname_kw(cx, e).or(v.vrf.take()),
            "dont_track_primary" => flag_into(cx, e, &mut v.dont_track_primary),
            "track_interface" => v
                .track_interface
                .extend(track_list(cx, e, Tracked::Interface)),
            "track_script" => v.track_script.extend(track_list(cx, e, Tracked::Script)),
            "track_file" => v.track_file.extend(track_list(cx, e, Tracked::File)),
            "track_process" => v.track_process.extend(track_list(cx, e, Tracked::Process)),
            "mcast_src_ip" => v.mcast_src_ip = cx.ip_kw(e).or(v.mcast_src_ip),
            "unicast_src_ip" => v.unicast_src_ip = cx.ip_kw(e).or(v.unicast_src_ip),
            "mcast_dst_ip" => v.mcast_dst_ip = cx.ip_kw(e).or(v.mcast_dst_ip),
            "track_src_ip" => flag_into(cx, e, &mut v.track_src_ip),
            "virtual_router_id" => {
                if let Some(x) = cx.u32_kw(e, 1, 255) {
                    v.virtual_router_id = u8::try_from(x).ok();
                }
            }
            "unicast_ttl" => {
                if let Some(x) = cx.u32_kw(e, 0, 255) {
                    v.unicast_ttl = u8::try_from(x).ok();
                }
            }
            "version" => {
                if let Some(x) = cx.u32_kw(e, 2, 3) {
                    v.version = u8::try_from(x).ok();
                }
            }
            "priority" => {
                if let Some(x) = cx.u32_kw(e, 1, 255) {
                    v.priority = u8::try_from(x).ok();
                }
            }
            "advert_int" => {
                if let Some(t) = cx.timer_kw(e, Timer::millis(10), Timer::secs(255)) {
                    v.advert_int = t;
                }
            }
            "native_ipv6" => flag_into(cx, e, &mut v.native_ipv6),
            "authentication" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    let mut a = v.authentication.take().unwrap_or_default();
                    a.pos = Pos(e.loc);
                    authentication(cx, b, &mut a);
                    v.authentication = Some(a);
                }
            }
            "virtual_ipaddress" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    v.virtual_ipaddress.extend(addr::parse_address_list(
                        cx,
                        b,
                        AddressUse::Virtual,
                    ));
                }
            }
            "virtual_ipaddress_excluded" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    v.virtual_ipaddress_excluded
                        .extend(addr::parse_address_list(cx, b, AddressUse::Excluded));
                }
            }
            "no_virtual_ipaddress" => flag_into(cx, e, &mut v.no_virtual_ipaddress),
            "promote_secondaries" => flag_into(cx, e, &mut v.promote_secondaries),
            "virtual_routes" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    v.virtual_routes
                        .extend(addr::parse_route_list(cx, b, AddressUse::Virtual));
                }
            }
            "virtual_rules" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    v.virtual_rules
                        .extend(addr::parse_rule_list(cx, b, AddressUse::Virtual));
                }
            }
            "accept" => {
                if cx.flag_kw(e) {
                    v.accept = Some(true);
                }
            }
            "no_accept" => {
                if cx.flag_kw(e) {
                    v.accept = Some(false);
                }
            }
            "skip_check_adv_addr" => bool_into(cx, e, &mut v.skip_check_adv_addr),
            "strict_mode" => bool_into(cx, e, &mut v.strict_mode),
            "v3_checksum_as_v2" => bool_into(cx, e, &mut v.v3_checksum_as_v2),
            "lower_prio_no_advert" => bool_into(cx, e, &mut v.lower_prio_no_advert),
            "higher_prio_send_advert" => bool_into(cx, e, &mut v.higher_prio_send_advert),
            "owner_ignore_adverts" => bool_into(cx, e, &mut v.owner_ignore_adverts),
            "smtp_alert" => bool_into(cx, e, &mut v.smtp_alert),
            "notify_priority_changes" => bool_into(cx, e, &mut v.notify_priority_changes),
            "preempt" => {
                if cx.flag_kw(e) {
                    v.nopreempt = false;
                }
            }
            "nopreempt" => flag_into(cx, e, &mut v.nopreempt),
            "preempt_delay" => {
                if let Some(t) = cx.timer_kw(e, Timer::from_micros(0), Timer::secs(1000)) {
                    v.preempt_delay = Some(t);
                }
            }
            "notify_master" => notify_kw(cx, e, &mut v.notify_master),
            "notify_backup" => notify_kw(cx, e, &mut v.notify_backup),
            "notify_fault" => notify_kw(cx, e, &mut v.notify_fault),
            "notify_stop" => notify_kw(cx, e, &mut v.notify_stop),
            "notify" => notify_kw(cx, e, &mut v.notify),
            "notify_master_rx_lower_pri" => notify_kw(cx, e, &mut v.notify_master_rx_lower_pri),
            "notify_deleted" => {
                if v.notify_deleted.is_some() {
                    cx.err_hint(
                        e,
                        "'notify_deleted' is given twice (keepalived ignores the second)",
                        "give it once",
                    );
                } else if e.nargs() == 0 {
                    if cx.no_block(e) {
                        v.notify_deleted = Some(Box::default());
                    }
                } else if let Some(s) = cx.script_kw(e) {
                    v.notify_deleted = Some(Box::new(NotifyDeleted { script: Some(s) }));
                }
            }
            "lvs_sync_daemon_interface" => {
                v.lvs_sync_daemon_interface =
                    ifname_kw(cx, e).or(v.lvs_sync_daemon_interface.take());
            }
            "garp_master_delay" => {
                v.garp_master_delay =
                    secs_kw(cx, e, u64::from(u32::MAX) / 1_000_000).or(v.garp_master_delay);
            }
            "garp_lower_prio_delay" => {
                v.garp_lower_prio_delay =
                    secs_kw(cx, e, u64::from(u32::MAX) / 1_000_000).or(v.garp_lower_prio_delay);
            }
            "garp_master_refresh" => {
                v.garp_master_refresh =
                    secs_kw(cx, e, u64::from(u32::MAX)).or(v.garp_master_refresh);
            }
            "garp_master_repeat" => {
                v.garp_master_repeat = cx.u32_kw(e, 1, u32::MAX).or(v.garp_master_repeat);
            }
            "garp_master_refresh_repeat" => {
                v.garp_master_refresh_repeat =
                    cx.u32_kw(e, 1, u32::MAX).or(v.garp_master_refresh_repeat);
            }
            "garp_lower_prio_repeat" => {
                v.garp_lower_prio_repeat = cx
                    .u32_kw(e, 0, i32::MAX.unsigned_abs())
                    .or(v.garp_lower_prio_repeat);
            }
            "down_timer_adverts" => {
                if let Some(x) = cx.u32_kw(e, 1, 100) {
                    v.down_timer_adverts = u8::try_from(x).ok();
                }
            }
            "timer_expired_backup" | "thread_timer_expired" => {
                if cx.args(e, 0, 1) {
                    if e.nargs() == 0 {
                        v.timer_expired_backup = Some(254);
                    } else if let Some(x) = cx.parse_u64(e, 0, 1, 254) {
                        v.timer_expired_backup = u8::try_from(x).ok();
                    }
                }
            }
            "garp_extra_if" | "vmac_garp_intvl" => {
                if cx.args(e, 1, 2) {
                    let mut g = GarpExtraIf::default();
                    let mut secs = None;
                    let mut ok = true;
                    for (i, w) in e.args().enumerate() {
                        if w == "all" {
                            g.all = true;
                        } else if secs.is_none() {
                            secs = cx.parse_u64(e, i, 0, 86400);
                            ok &= secs.is_some();
                        } else {
                            cx.err_arg(e, i, format!("unexpected '{w}'"), None);
                            ok = false;
                        }
                    }
                    match secs {
                        Some(s) if ok => {
                            g.interval = Timer::secs(s);
                            v.garp_extra_if = Some(g);
                        }
                        None if ok => cx.err_hint(
                            e,
                            format!("'{kw}' needs an interval in seconds"),
                            format!("write e.g. '{kw} 60' or '{kw} all 60'"),
                        ),
                        _ => {}
                    }
                }
            }
            "kernel_rx_buf_size" => {
                v.kernel_rx_buf_size = cx.u32_kw(e, 0, u32::MAX).or(v.kernel_rx_buf_size);
            }
            "use_vmac" => {
                if cx.no_block(e) {
                    if let Some(u) = use_vmac(cx, e) {
                        v.use_vmac = Some(Box::new(u));
                    }
                }
            }
            "use_vmac_addr" => flag_into(cx, e, &mut v.use_vmac_addr),
            "vmac_xmit_base" => flag_into(cx, e, &mut v.vmac_xmit_base),
            "use_ipvlan" => {
                if v.use_ipvlan.is_some() {
                    cx.err(e, "'use_ipvlan' is given twice");
                } else if cx.no_block(e) {
                    v.use_ipvlan = use_ipvlan(cx, e).map(Box::new);
                }
            }
            "unicast_peer" => {
                if let Some(b) = cx.block_args(e, 0, 0) {
                    for p in b {
                        if let Some(p) = unicast_peer(cx, p) {
                            v.unicast_peer.push(p);
                        }
                    }
                }
            }
            "unicast_fault_no_peer" => flag_into(cx, e, &mut v.unicast_fault_no_peer),
            "check_unicast_src" => flag_into(cx, e, &mut v.check_unicast_src),
            "old_unicast_checksum" => {
                if cx.args(e, 0, 1) {
                    match e.arg(0) {
                        None => v.old_unicast_checksum = Some(OldUnicastChecksum::Old),
                        Some("never") => v.old_unicast_checksum = Some(OldUnicastChecksum::Never),
                        Some(x) => cx.err_arg(
                            e,
                            0,
                            format!("'{x}' is not valid for 'old_unicast_checksum': only 'never'"),
                            None,
                        ),
                    }
                }
            }
            _ => cx.unhandled(e),
        }
    });
    Some(v)
}

fn authentication(cx: &mut Cx, block: &[Node], a: &mut Authentication) {
    cx.dispatch(Block::Authentication, block, |cx, e| {
        a.kw_pos.set(e.kw(), Pos(e.loc));
        match e.kw() {
            "auth_type" => {
                if let Some(t) = cx.choice_kw(e, &["PASS", "AH"]) {
                    if t == "AH" {
                        cx.err_arg(
                            e,
                            0,
                            "'auth_type AH' is not supported yet: IPsec AH authentication",
                            Some("use 'auth_type PASS' (VRRPv2), or no authentication".into()),
                        );
                        a.auth_type = Some(AuthType::Ah);
                    } else {
                        a.auth_type = Some(AuthType::Pass);
                    }
                }
            }
            "auth_pass" => {
                if let Some(p) = cx.string_kw(e) {
                    if p.len() > 8 {
                        cx.err_arg(
                            e,
                            0,
                            format!(
                                "auth_pass is {} characters long: only 8 are sent (keepalived truncates it)",
                                p.len()
                            ),
                            Some("use at most 8 characters".into()),
                        );
                    }
                    a.auth_pass = Some(p);
                }
            }
            _ => cx.unhandled(e),
        }
    });
}

fn use_vmac(cx: &mut Cx, e: &Node) -> Option<UseVmac> {
    let mut u = UseVmac::default();
    let mut ok = true;
    let mut i = 0;
    while let Some(w) = e.arg(i) {
        if w.contains(':') {
            if u.mac.is_some() {
                cx.err_arg(e, i, "the VMAC's MAC address is given twice", None);
                ok = false;
            } else {
                match w.parse::<VmacMac>() {
                    Ok(m) => u.mac = Some(m),
                    Err(msg) => {
                        cx.err_arg(e, i, msg, None);
                        ok = false;
                    }
                }
            }
            i += 1;
            continue;
        }
        match w {
            "netlink_notify_msg" => u.netlink_notify_msg = true,
            "group" => {
                i += 1;
                match e.arg(i) {
                    Some(g) => u.group = Some(g.to_string()),
                    None => {
                        cx.err_arg(e, i - 1, "'group' needs a value", None);
                        ok = false;
                    }
                }
            }
            _ => {
                ok &= link_name(
                    cx,
                    e,
                    w == "name",
                    &mut i,
                    &mut u.name,
                    "VMAC",
                    "is not a valid interface name (at most 15 characters, no '/', ':' or spaces)",
                );
            }
        }
        i += 1;
    }
    ok.then_some(u)
}

/// Reads the interface name of `use_vmac` / `use_ipvlan` (`[name] IFNAME`): the word at `*i`,
/// or the one after it when that word is `name`; `*i` ends on the name. False on an error.
fn link_name(
    cx: &mut Cx,
    e: &Node,
    after_name: bool,
    i: &mut usize,
    slot: &mut Option<String>,
    kind: &str,
    invalid: &str,
) -> bool {
    let at = if after_name { *i + 1 } else { *i };
    *i = at;
    match e.arg(at) {
        None => {
            cx.err_arg(e, at - 1, "'name' needs an interface name", None);
            false
        }
        Some(name) if slot.is_some() => {
            cx.err_arg(
                e,
                at,
                format!("the {kind} name is already given; unexpected '{name}'"),
                None,
            );
            false
        }
        Some(name) if !valid_ifname(name) => {
            cx.err_arg(e, at, format!("'{name}' {invalid}"), None);
            false
        }
        Some(name) => {
            *slot = Some(name.to_string());
            true
        }
    }
}

fn use_ipvlan(cx: &mut Cx, e: &Node) -> Option<UseIpvlan> {
    let mut u = UseIpvlan::default();
    let mut ok = true;
    let mut i = 0;
    while let Some(w) = e.arg(i) {
        match w {
            "bridge" | "private" | "vepa" => {
                if u.mode.is_some() {
                    cx.err_arg(e, i, "the ipvlan mode is given twice", None);
                    ok = false;
                }
                u.mode = Some(match w {
                    "bridge" => IpvlanMode::Bridge,
                    "private" => IpvlanMode::Private,
                    _ => IpvlanMode::Vepa,
                });
            }
            "group" => {
                i += 1;
                match e.arg(i) {
                    Some(g) => u.group = Some(g.to_string()),
                    None => {
                        cx.err_arg(e, i - 1, "'group' needs a value", None);
                        ok = false;
                    }
                }
            }
            _ if w != "name" && w.parse::<IpPrefix>().is_ok() => {
                if u.address.is_some() {
                    cx.err_arg(e, i, "the ipvlan address is given twice", None);
                    ok = false;
                }
                u.address = w.parse().ok();
            }
            _ => {
                ok &= link_name(
                    cx,
                    e,
                    w == "name",
                    &mut i,
                    &mut u.name,
                    "ipvlan",
                    "is not a valid interface name or address",
                );
            }
        }
        i += 1;
    }
    ok.then_some(u)
}

fn unicast_peer(cx: &mut Cx, e: &Node) -> Option<UnicastPeer> {
    if e.block.is_some() {
        cx.report(
            Severity::Error,
            e.block_loc,
            "a unicast_peer entry does not take a block",
            Some(e.text.to_string()),
            Some("each peer is one line: IP [min_ttl N] [max_ttl N]".into()),
        );
        return None;
    }
    let first = e.kw();
    let Ok(address) = first.parse::<IpAddr>() else {
        let hint = first
            .contains('/')
            .then(|| "a peer is a single address, without '/N'".to_string());
        cx.err_tok(e, 0, format!("'{first}' is not an IP address"), hint);
        return None;
    };
    let mut p = UnicastPeer {
        address,
        pos: Pos(e.loc),
        ..UnicastPeer::default()
    };
    let mut i = 1;
    while let Some(w) = e.tok(i) {
        match w {
            "min_ttl" | "max_ttl" => match e.tok(i + 1) {
                None => cx.err_tok(e, i, format!("'{w}' needs a value"), None),
                Some(v) => match v.parse::<u8>() {
                    Ok(t) if w == "min_ttl" => p.min_ttl = Some(t),
                    Ok(t) => p.max_ttl = Some(t),
                    Err(_) => cx.err_tok(e, i + 1, format!("'{v}' is not a TTL (0 to 255)"), None),
                },
            },
            _ => {
                let hint = if w.parse::<IpAddr>().is_ok() {
                    Some(format!(
                        "each peer goes on its own line: put '{w}' on a new line"
                    ))
                } else {
                    nearest(w, ["min_ttl", "max_ttl"]).map(|o| format!("did you mean '{o}'?"))
                };
                cx.err_tok(
                    e,
                    i,
                    format!("unknown unicast_peer option '{w}': min_ttl or max_ttl"),
                    hint,
                );
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    Some(p)
}

/// `vrrp_sync_group NAME { }`.
pub(super) fn sync_group(cx: &mut Cx, n: &Node) -> Option<SyncGroup> {
    let (name, block) = named_block(cx, n)?;
    let mut g = SyncGroup {
        name,
        pos: Pos(n.loc),
        ..SyncGroup::default()
    };
    for e in block {
        let kw = e.kw();
        if keywords::lookup(Block::SyncGroup, kw).is_none() {
            if kw == "notify_deleted" {
                cx.err_hint(
                    e,
                    "'notify_deleted' is not valid in vrrp_sync_group: keepalived documents it there but reads it only in vrrp_instance",
                    "set 'notify_deleted' in each vrrp_instance of the group",
                );
                continue;
            }
            let typo = nearest(kw, keywords::names_in(Block::SyncGroup)).is_some();
            if !typo && e.nargs() == 0 && e.block.is_none() {
                cx.err_hint(
                    e,
                    format!("unknown keyword '{kw}' in vrrp_sync_group"),
                    format!("the instances of a sync group are listed inside 'group {{ }}', one per line; keepalived ignores '{kw}' here"),
                );
                continue;
            }
        }
        cx.dispatch(Block::SyncGroup, std::slice::from_ref(e), |cx, e| {
            let given_before = g.kw_pos.has(e.kw());
            g.kw_pos.set(e.kw(), Pos(e.loc));
            match e.kw() {
                "group" => {
                    if let Some(b) = cx.block_args(e, 0, 0) {
                        let members: Vec<NameAt> = b
                            .iter()
                            .flat_map(|m| {
                                if m.block.is_some() {
                                    cx.report(
                                        Severity::Error,
                                        m.block_loc,
                                        "a group member does not take a block",
                                        Some(m.text.to_string()),
                                        None,
                                    );
                                }
                                (0..m.toks.len())
                                    .filter_map(|i| {
                                        m.tok(i).map(|t| NameAt {
                                            name: t.to_string(),
                                            pos: Pos(m.tok_loc(i)),
                                        })
                                    })
                                    .collect::<Vec<_>>()
                            })
                            .collect();
                        if given_before {
                            let same = members.len() == g.group.len()
                                && members.iter().zip(&g.group).all(|(a, b)| a.name == b.name);
                            if !same {
                                cx.err_hint(
                                    e,
                                    "'group' is given twice (keepalived ignores the second)",
                                    "list all the members in one 'group { }'",
                                );
                            }
                        } else {
                            g.group = members;
                        }
                    }
                }
                "track_interface" => {
                    g.track_interface
                        .extend(track_list(cx, e, Tracked::Interface))
                }
                "track_script" => g.track_script.extend(track_list(cx, e, Tracked::Script)),
                "track_file" => g.track_file.extend(track_list(cx, e, Tracked::File)),
                "track_process" => g.track_process.extend(track_list(cx, e, Tracked::Process)),
                "notify_master" => notify_kw(cx, e, &mut g.notify_master),
                "notify_backup" => notify_kw(cx, e, &mut g.notify_backup),
                "notify_fault" => notify_kw(cx, e, &mut g.notify_fault),
                "notify_stop" => notify_kw(cx, e, &mut g.notify_stop),
                "notify" => notify_kw(cx, e, &mut g.notify),
                "smtp_alert" => bool_into(cx, e, &mut g.smtp_alert),
                "global_tracking" | "sync_group_tracking_weight" => {
                    flag_into(cx, e, &mut g.sync_group_tracking_weight)
                }
                "notify_priority_changes" => bool_into(cx, e, &mut g.notify_priority_changes),
                _ => cx.unhandled(e),
            }
        });
    }
    Some(g)
}

/// `vrrp_script NAME { }`.
pub(super) fn script(cx: &mut Cx, n: &Node) -> Option<VrrpScript> {
    let (name, block) = named_block(cx, n)?;
    let mut s = VrrpScript {
        name,
        pos: Pos(n.loc),
        ..VrrpScript::default()
    };
    let mut user: Option<(String, Option<String>)> = None;
    cx.dispatch(Block::VrrpScript, block, |cx, e| {
        s.kw_pos.set(e.kw(), Pos(e.loc));
        match e.kw() {
            "script" => {
                if let Some(sc) = cx.script_kw(e) {
                    if let Some(extra) = &sc.user {
                        cx.err_hint(
                            e,
                            format!("'{extra}' after the command is ignored by keepalived in a vrrp_script"),
                            format!(
                                "quote the command with its arguments (script \"{} {extra} ...\"); the user goes on a 'user' line",
                                sc.command
                            ),
                        );
                    } else {
                        s.script = Some(sc);
                    }
                }
            }
            "interval" | "timeout" => {
                if let Some(t) = cx.timer_kw(e, Timer::millis(1), Timer::secs(4294)) {
                    if t.micros() % 1000 != 0 {
                        cx.err_arg(
                            e,
                            0,
                            format!("'{}' has a millisecond resolution: '{t}' has more decimals", e.kw()),
                            None,
                        );
                    } else if e.kw() == "interval" {
                        s.interval = t;
                    } else {
                        s.timeout = Some(t);
                    }
                }
            }
            "weight" => {
                if cx.args(e, 1, 2) {
                    if let Some(w) = cx.parse_i64(e, 0, -253, 253) {
                        s.weight = i32::try_from(w).unwrap_or_default();
                    }
                    match e.arg(1) {
                        None => s.reverse = false,
                        Some("reverse") => s.reverse = true,
                        Some(x) => cx.err_arg(
                            e,
                            1,
                            format!("unknown weight option '{x}': only 'reverse'"),
                            None,
                        ),
                    }
                }
            }
            "rise" | "fall" => {
                if let Some(x) = cx.u32_kw(e, 1, i32::MAX.unsigned_abs()) {
                    if e.kw() == "rise" {
                        s.rise = x;
                    } else {
                        s.fall = x;
                    }
                }
            }
            "user" => {
                if let Some(u) = user_kw(cx, e) {
                    user = Some(u);
                }
            }
            "init_fail" => flag_into(cx, e, &mut s.init_fail),
            _ => cx.unhandled(e),
        }
    });
    if let (Some(sc), Some((u, g))) = (s.script.as_mut(), user) {
        sc.user = Some(u);
        sc.group = g;
    }
    Some(s)
}

/// `user USER [[:]GROUP]` or `user USER:GROUP`.
fn user_kw(cx: &mut Cx, e: &Node) -> Option<(String, Option<String>)> {
    if !cx.args(e, 1, 2) {
        return None;
    }
    let u = e.arg(0).unwrap_or_default();
    match (u.split_once(':'), e.arg(1)) {
        (Some((u, g)), None) => Some((u.to_string(), Some(g.to_string()))),
        (Some(_), Some(_)) => {
            cx.err_arg(e, 1, "the group is already given after ':'", None);
            None
        }
        (None, g) => Some((
            u.to_string(),
            g.map(|g| g.trim_start_matches(':').to_string()),
        )),
    }
}

/// A weight line: `weight N [reverse]` in `lo..=hi`.
fn weight_kw(cx: &mut Cx, e: &Node, lo: i64, hi: i64) -> Option<(i32, bool)> {
    if !cx.args(e, 1, 2) {
        return None;
    }
    let w = cx.parse_i64(e, 0, lo, hi)?;
    let reverse = match e.arg(1) {
        None => false,
        Some("reverse") => true,
        Some(x) => {
            cx.err_arg(
                e,
                1,
                format!("unknown weight option '{x}': only 'reverse'"),
                None,
            );
            return None;
        }
    };
    Some((i32::try_from(w).unwrap_or_default(), reverse))
}

/// `track_file NAME { }` (and `vrrp_track_file`).
pub(super) fn track_file(cx: &mut Cx, n: &Node) -> Option<TrackFile> {
    let (name, block) = named_block(cx, n)?;
    let mut f = TrackFile {
        name,
        pos: Pos(n.loc),
        ..TrackFile::default()
    };
    let mut weight_seen: Option<(i32, bool)> = None;
    cx.dispatch(Block::TrackFile, block, |cx, e| {
        f.kw_pos.set(e.kw(), Pos(e.loc));
        match e.kw() {
            "file" => {
                if let Some(p) = cx.string_kw(e) {
                    match &f.file {
                        Some(old) if *old != p => cx.err_hint(
                            e,
                            format!("'file' is already '{old}' (keepalived ignores the second)"),
                            "give 'file' once",
                        ),
                        _ => f.file = Some(p),
                    }
                }
            }
            "weight" => {
                if let Some((w, r)) = weight_kw(cx, e, -254, 254) {
                    match weight_seen {
                        Some(old) if old != (w, r) => cx.err_hint(
                            e,
                            "'weight' is given twice (keepalived ignores the second)",
                            "give 'weight' once",
                        ),
                        _ => {
                            f.weight = w;
                            f.reverse = r;
                            weight_seen = Some((w, r));
                        }
                    }
                }
            }
            "init_file" => {
                if cx.args(e, 0, 2) {
                    let mut init = InitFile::default();
                    for (i, w) in e.args().enumerate() {
                        if w == "overwrite" {
                            init.overwrite = true;
                        } else if let Some(x) = cx.parse_i64(e, i, i64::from(i32::MIN), i64::from(i32::MAX)) {
                            if !(-254..=254).contains(&x) {
                                cx.report(
                                    Severity::Warning,
                                    e.arg_loc(i),
                                    format!("init_file value {x} is outside the sensible range -254 to 254"),
                                    Some(e.text.to_string()),
                                    None,
                                );
                            }
                            init.value = i32::try_from(x).unwrap_or_default();
                        }
                    }
                    f.init_file = Some(init);
                }
            }
            _ => cx.unhandled(e),
        }
    });
    Some(f)
}

/// `vrrp_track_process NAME { }`.
pub(super) fn track_process(cx: &mut Cx, n: &Node) -> Option<TrackProcess> {
    let (name, block) = named_block(cx, n)?;
    let mut p = TrackProcess {
        name,
        pos: Pos(n.loc),
        ..TrackProcess::default()
    };
    cx.dispatch(Block::TrackProcess, block, |cx, e| {
        p.kw_pos.set(e.kw(), Pos(e.loc));
        match e.kw() {
            "process" => {
                if cx.args(e, 1, usize::MAX) {
                    if p.process.is_some() {
                        cx.err_hint(
                            e,
                            "'process' is given twice (keepalived ignores the second)",
                            "give 'process' once",
                        );
                    } else {
                        p.process = e.arg(0).map(str::to_string);
                        p.params = e.args().skip(1).map(str::to_string).collect();
                        if !p.params.is_empty() {
                            p.full_command = true;
                        }
                    }
                }
            }
            "param_match" => {
                if cx.args(e, 0, 1) {
                    let m = match e.arg(0) {
                        None => Some(ParamMatch::Exact),
                        Some(_) => cx.parse_choice(e, 0, &["initial", "partial"]).map(|c| {
                            if c == "initial" {
                                ParamMatch::Initial
                            } else {
                                ParamMatch::Partial
                            }
                        }),
                    };
                    if m.is_some() {
                        p.param_match = m;
                        p.full_command = true;
                    }
                }
            }
            "weight" => {
                if let Some((w, r)) = weight_kw(cx, e, -254, 254) {
                    p.weight = w;
                    p.reverse = r;
                }
            }
            "quorum" => {
                if let Some(q) = cx.u32_kw(e, 1, 65535) {
                    p.quorum = q;
                }
            }
            "quorum_max" => {
                if let Some(q) = cx.u32_kw(e, 0, 65535) {
                    p.quorum_max = Some(q);
                }
            }
            "delay" | "terminate_delay" | "fork_delay" => {
                if let Some(t) = cx.timer_kw(e, Timer::from_micros(1), Timer::secs(3600)) {
                    match e.kw() {
                        "delay" => p.delay = Some(t),
                        "terminate_delay" => p.terminate_delay = Some(t),
                        _ => p.fork_delay = Some(t),
                    }
                }
            }
            "full_command" => flag_into(cx, e, &mut p.full_command),
            _ => cx.unhandled(e),
        }
    });
    Some(p)
}

/// `garp_group { }`.
pub(super) fn garp_group(cx: &mut Cx, n: &Node) -> Option<GarpGroup> {
    let block = cx.block_args(n, 0, 0)?;
    let mut g = GarpGroup {
        pos: Pos(n.loc),
        ..GarpGroup::default()
    };
    cx.dispatch(Block::GarpGroup, block, |cx, e| match e.kw() {
        "garp_interval" | "gna_interval" => {
            if let Some(t) = cx.timer_kw(
                e,
                Timer::from_micros(0),
                Timer::from_micros(u64::from(u32::MAX)),
            ) {
                if e.kw() == "garp_interval" {
                    g.garp_interval = Some(t);
                } else {
                    g.gna_interval = Some(t);
                }
            }
        }
        "interface" => {
            if let Some(i) = ifname_kw(cx, e) {
                g.interfaces.push(NameAt {
                    name: i,
                    pos: Pos(e.arg_loc(0)),
                });
            }
        }
        "interfaces" => {
            if let Some(b) = cx.block_args(e, 0, 0) {
                if b.is_empty() {
                    cx.warn(e, "the 'interfaces' block is empty");
                }
                for m in b {
                    for i in 0..m.toks.len() {
                        let Some(name) = m.tok(i) else { continue };
                        if valid_ifname(name) {
                            g.interfaces.push(NameAt {
                                name: name.to_string(),
                                pos: Pos(m.tok_loc(i)),
                            });
                        } else {
                            cx.err_tok(
                                m,
                                i,
                                format!("'{name}' is not a valid interface name"),
                                None,
                            );
                        }
                    }
                }
            }
        }
        _ => cx.unhandled(e),
    });
    Some(g)
}
