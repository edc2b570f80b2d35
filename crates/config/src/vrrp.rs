//! VRRP configuration: vrrp_instance, vrrp_sync_group, vrrp_script, track_file,
//! vrrp_track_process, garp_group (REFERENCE 2.2 to 2.12, 2.19).
//!
//! ```text
//!  nodes ──► parse (parse.rs: one keyword at a time, values and syntax)
//!                 │
//!                 ▼
//!  VrrpInstance / SyncGroup / VrrpScript / TrackFile / TrackProcess / GarpGroup
//!                 │
//!                 ▼
//!  check (check.rs: REFERENCE 2, 6.4, 6.5, 6.10, 6.11: ranges, families, strict mode,
//!         preemption, authentication, references, duplicates, VRID clashes)
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Config;
use crate::addr::{IpAddress, IpPrefix, Route, Rule};
use crate::cx::Cx;
use crate::keywords::{Block, Keyword, dep, ign, kw, refused};
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

mod check;
mod parse;
#[cfg(test)]
mod tests;

pub use check::VrrpGlobals;

// ---------------------------------------------------------------------------------------------
// Keyword table
// ---------------------------------------------------------------------------------------------

const S: Block = Block::VrrpScript;
const F: Block = Block::TrackFile;
const P: Block = Block::TrackProcess;
const G: Block = Block::SyncGroup;
const GA: Block = Block::GarpGroup;
const I: Block = Block::VrrpInstance;
const A: Block = Block::Authentication;
const H: Block = Block::AuthHmac;

const HMAC: &str = "auth_hmac authentication (keepalived's HMAC-SHA256 advert trailer)";

/// The keyword table rows of the VRRP blocks.
pub const KEYWORDS: &[Keyword] = &[
    // vrrp_script (2.2)
    kw(S, "script", "script \"/bin/false\""),
    kw(S, "interval", "interval 2"),
    kw(S, "timeout", "timeout 3"),
    kw(S, "weight", "weight -20 reverse"),
    kw(S, "rise", "rise 2"),
    kw(S, "fall", "fall 3"),
    kw(S, "user", "user nobody nogroup"),
    kw(S, "init_fail", "init_fail"),
    // track_file (2.3)
    kw(F, "file", "file /run/tf_t"),
    kw(F, "weight", "weight -10 reverse"),
    kw(F, "init_file", "init_file 0 overwrite"),
    // vrrp_track_process (2.4)
    kw(P, "process", "process haproxy"),
    kw(P, "param_match", "param_match partial"),
    kw(P, "weight", "weight -10"),
    kw(P, "quorum", "quorum 2"),
    kw(P, "quorum_max", "quorum_max 4"),
    kw(P, "delay", "delay 0.5"),
    kw(P, "terminate_delay", "terminate_delay 1"),
    kw(P, "fork_delay", "fork_delay 1"),
    kw(P, "full_command", "full_command"),
    // vrrp_sync_group (2.5)
    kw(G, "group", "group {\n VI_T\n}"),
    kw(G, "track_interface", "track_interface {\n eth1\n}"),
    kw(G, "track_script", "track_script {\n chk_t\n}"),
    kw(G, "track_file", "track_file {\n tf_t weight 0\n}"),
    kw(G, "track_process", "track_process {\n}"),
    refused(G, "track_bfd", "BFD", "track_bfd {\n bfd_t\n}"),
    kw(
        G,
        "notify_master",
        "notify_master \"/usr/local/bin/to_master G_T\"",
    ),
    kw(G, "notify_backup", "notify_backup /usr/local/bin/to_backup"),
    kw(G, "notify_fault", "notify_fault /usr/local/bin/to_fault"),
    kw(G, "notify_stop", "notify_stop /usr/local/bin/to_stop"),
    kw(G, "notify", "notify /usr/local/bin/vrrp_notify"),
    kw(G, "smtp_alert", "smtp_alert"),
    dep(
        G,
        "global_tracking",
        "sync_group_tracking_weight",
        "global_tracking",
    ),
    kw(
        G,
        "sync_group_tracking_weight",
        "sync_group_tracking_weight",
    ),
    kw(G, "notify_priority_changes", "notify_priority_changes on"),
    // garp_group (2.6)
    kw(GA, "garp_interval", "garp_interval 0.001"),
    kw(GA, "gna_interval", "gna_interval 0.001"),
    kw(GA, "interface", "interface eth1\ngarp_interval 0.001"),
    kw(
        GA,
        "interfaces",
        "interfaces {\n eth2\n eth3\n}\ngna_interval 0.002",
    ),
    // vrrp_instance (2.7), core
    kw(I, "state", "state BACKUP"),
    kw(I, "interface", "interface eth0"),
    kw(I, "virtual_router_id", "virtual_router_id 52"),
    kw(I, "priority", "priority 150"),
    kw(I, "advert_int", "advert_int 2"),
    kw(
        I,
        "authentication",
        "authentication {\n auth_type PASS\n auth_pass secret\n}",
    ),
    kw(
        I,
        "virtual_ipaddress",
        "virtual_ipaddress {\n 192.0.2.11/24 dev eth0 label eth0:1\n}",
    ),
    kw(
        I,
        "virtual_ipaddress_excluded",
        "virtual_ipaddress_excluded {\n 2001:db8::10/64\n}",
    ),
    kw(
        I,
        "track_interface",
        "track_interface {\n eth1 weight -20\n}",
    ),
    kw(I, "track_script", "track_script {\n chk_t weight 10\n}"),
    kw(I, "nopreempt", "nopreempt"),
    kw(I, "preempt_delay", "preempt_delay 30"),
    kw(
        I,
        "notify_master",
        "notify_master \"/usr/local/bin/to_master VI_T\"",
    ),
    kw(I, "notify_backup", "notify_backup /usr/local/bin/to_backup"),
    kw(I, "notify_fault", "notify_fault /usr/local/bin/to_fault"),
    kw(I, "notify_stop", "notify_stop /usr/local/bin/to_stop"),
    kw(I, "notify", "notify /usr/local/bin/vrrp_notify root"),
    kw(I, "smtp_alert", "smtp_alert"),
    kw(
        I,
        "unicast_src_ip",
        "unicast_src_ip 192.0.2.1\nunicast_peer {\n 192.0.2.2\n}",
    ),
    kw(
        I,
        "unicast_peer",
        "unicast_peer {\n 192.0.2.2 min_ttl 250 max_ttl 255\n 192.0.2.3\n}",
    ),
    kw(I, "mcast_src_ip", "mcast_src_ip 192.0.2.1"),
    kw(I, "use_vmac", "use_vmac vrrp.51"),
    kw(I, "vmac_xmit_base", "use_vmac\nvmac_xmit_base"),
    kw(I, "version", "version 3"),
    kw(I, "garp_master_delay", "garp_master_delay 10"),
    kw(I, "garp_master_repeat", "garp_master_repeat 3"),
    kw(I, "garp_master_refresh", "garp_master_refresh 60"),
    kw(
        I,
        "garp_master_refresh_repeat",
        "garp_master_refresh_repeat 2",
    ),
    kw(
        I,
        "virtual_routes",
        "virtual_routes {\n 198.51.100.0/24 via 192.0.2.1 dev eth0\n}",
    ),
    kw(
        I,
        "virtual_rules",
        "virtual_rules {\n from 192.0.2.0/24 table 100 preference 100\n}",
    ),
    kw(I, "accept", "accept"),
    kw(I, "no_accept", "no_accept"),
    kw(I, "dont_track_primary", "dont_track_primary"),
    kw(I, "preempt", "preempt"),
    // vrrp_instance (2.7), rare
    kw(
        I,
        "vrf",
        "vrf blue\nunicast_src_ip 192.0.2.1\nunicast_peer {\n 192.0.2.2\n}",
    ),
    kw(I, "use_vmac_addr", "use_vmac\nuse_vmac_addr"),
    kw(I, "use_ipvlan", "use_ipvlan ipvl0 192.0.2.5/24 bridge"),
    kw(
        I,
        "native_ipv6",
        "native_ipv6\nvirtual_ipaddress_excluded {\n 2001:db8::1/64\n}",
    ),
    kw(I, "track_file", "track_file {\n tf_t weight 5 reverse\n}"),
    kw(I, "track_process", "track_process {\n}"),
    refused(I, "track_bfd", "BFD", "track_bfd {\n bfd_t\n}"),
    kw(I, "mcast_dst_ip", "mcast_dst_ip 224.0.0.19"),
    kw(I, "track_src_ip", "track_src_ip\nmcast_src_ip 192.0.2.1"),
    kw(
        I,
        "check_unicast_src",
        "check_unicast_src\nunicast_peer {\n 192.0.2.2\n}",
    ),
    kw(I, "unicast_fault_no_peer", "unicast_fault_no_peer"),
    kw(
        I,
        "unicast_ttl",
        "unicast_ttl 64\nunicast_peer {\n 192.0.2.2\n}",
    ),
    kw(
        I,
        "old_unicast_checksum",
        "old_unicast_checksum never\nunicast_peer {\n 192.0.2.2\n}",
    ),
    kw(I, "v3_checksum_as_v2", "v3_checksum_as_v2"),
    kw(I, "garp_lower_prio_delay", "garp_lower_prio_delay 5"),
    kw(I, "garp_lower_prio_repeat", "garp_lower_prio_repeat 2"),
    kw(I, "garp_extra_if", "garp_extra_if all 60"),
    dep(I, "vmac_garp_intvl", "garp_extra_if", "vmac_garp_intvl 60"),
    kw(I, "down_timer_adverts", "down_timer_adverts 5"),
    kw(
        I,
        "timer_expired_backup",
        "nopreempt\ntimer_expired_backup 200",
    ),
    dep(
        I,
        "thread_timer_expired",
        "timer_expired_backup",
        "nopreempt\nthread_timer_expired",
    ),
    kw(I, "lower_prio_no_advert", "lower_prio_no_advert"),
    kw(I, "higher_prio_send_advert", "higher_prio_send_advert on"),
    kw(I, "owner_ignore_adverts", "owner_ignore_adverts false"),
    refused(
        I,
        "auth_hmac",
        HMAC,
        "auth_hmac {\n key 1 file:/etc/keepalived/k1\n active_key 1\n}",
    ),
    kw(I, "no_virtual_ipaddress", "no_virtual_ipaddress"),
    kw(I, "promote_secondaries", "promote_secondaries"),
    kw(I, "skip_check_adv_addr", "skip_check_adv_addr"),
    kw(I, "strict_mode", "strict_mode off"),
    ign(
        I,
        "debug",
        "per-instance debug levels are not implemented (nor in keepalived)",
        "debug 2",
    ),
    kw(I, "notify_deleted", "notify_deleted /usr/local/bin/deleted"),
    kw(
        I,
        "notify_master_rx_lower_pri",
        "notify_master_rx_lower_pri /usr/local/bin/lower",
    ),
    kw(I, "notify_priority_changes", "notify_priority_changes"),
    kw(I, "kernel_rx_buf_size", "kernel_rx_buf_size 262144"),
    ign(
        I,
        "linkbeat_use_polling",
        "netlink link state is always used",
        "linkbeat_use_polling",
    ),
    dep(
        I,
        "lvs_sync_daemon_interface",
        "lvs_sync_daemon (in global_defs)",
        "lvs_sync_daemon_interface eth1",
    ),
    // authentication (2.11)
    kw(A, "auth_type", "auth_type PASS\nauth_pass secret"),
    kw(A, "auth_pass", "auth_type PASS\nauth_pass secret"),
    // auth_hmac (2.11): refused with its block
    refused(
        H,
        "key",
        HMAC,
        "key 1 hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    ),
    refused(H, "active_key", HMAC, "active_key 1"),
    refused(H, "time_window", HMAC, "time_window 10"),
    refused(H, "anti_replay", HMAC, "anti_replay monotonic"),
    refused(H, "mode", HMAC, "mode enforce"),
];

// ---------------------------------------------------------------------------------------------
// Model helpers
// ---------------------------------------------------------------------------------------------

/// The positions of the keywords of a block, for the checks made after parsing.
pub type KwPos = crate::types::KeywordPositions;

/// A name written in a list (a sync group member, a garp_group interface), with where it is.
/// Serialised as the bare string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameAt {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
}

impl NameAt {
    /// A name without a position.
    pub fn new(name: impl Into<String>) -> NameAt {
        NameAt {
            name: name.into(),
            pos: Pos::default(),
        }
    }
}

impl Serialize for NameAt {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for NameAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(NameAt::new)
    }
}

/// One entry of a `track_interface` / `track_script` / `track_file` / `track_process` list:
/// `NAME [weight N [reverse|noreverse]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackRef {
    /// The interface, vrrp_script, track_file or vrrp_track_process name.
    pub name: String,
    /// `weight N`; unset: the tracked object's own weight (0 for an interface).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// `reverse` (true) or `noreverse` (false) after the weight; unset: the object's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
    /// Where the entry is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

/// `state MASTER|BACKUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitialState {
    /// `MASTER`: wants to be master at start-up.
    #[serde(rename = "MASTER")]
    Master,
    /// `BACKUP`.
    #[serde(rename = "BACKUP")]
    Backup,
}

/// `auth_type PASS|AH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    /// Simple password (RFC 2338).
    #[serde(rename = "PASS")]
    Pass,
    /// IPsec AH (not supported by keepalived-rs yet).
    #[serde(rename = "AH")]
    Ah,
}

/// `authentication { auth_type ...; auth_pass ... }` (VRRPv2 over IPv4 only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authentication {
    /// `auth_type PASS|AH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<AuthType>,
    /// `auth_pass STR` (at most 8 characters are sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_pass: Option<String>,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

/// A MAC address for a VMAC: 6 octets, or 5 (the VRID is appended as the sixth).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmacMac(pub Vec<u8>);

impl fmt::Display for VmacMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_str(&parts.join(":"))
    }
}

impl FromStr for VmacMac {
    type Err = String;

    fn from_str(s: &str) -> Result<VmacMac, String> {
        let t = s.strip_suffix(':').unwrap_or(s);
        let mut out = Vec::new();
        for p in t.split(':') {
            if p.is_empty() || p.len() > 2 {
                return Err(format!("'{s}' is not a MAC address"));
            }
            out.push(u8::from_str_radix(p, 16).map_err(|_| format!("'{s}' is not a MAC address"))?);
        }
        if out.len() != 5 && out.len() != 6 {
            return Err(format!(
                "'{s}' is not a MAC address (6 octets, or 5 to have the VRID appended)"
            ));
        }
        if out.first().is_some_and(|b| b & 1 == 1) {
            return Err(format!("'{s}' is a multicast MAC address"));
        }
        if out.len() >= 5 && out[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(out[4], 1 | 2) {
            return Err(format!(
                "'{s}' is the RFC 5798 VRRP MAC; it is the default, leave it out"
            ));
        }
        Ok(VmacMac(out))
    }
}

impl Serialize for VmacMac {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VmacMac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `use_vmac [[name] IFNAME] [MAC] [netlink_notify_msg] [group G]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UseVmac {
    /// The macvlan's name (default `<vmac_prefix>.<VRID>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The MAC (default 00:00:5e:00:01:VRID, or :02: for IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<VmacMac>,
    /// `netlink_notify_msg`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub netlink_notify_msg: bool,
    /// `group G`: the interface group of the macvlan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The ipvlan mode of `use_ipvlan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpvlanMode {
    /// `bridge` (the default).
    Bridge,
    /// `private`.
    Private,
    /// `vepa`.
    Vepa,
}

/// `use_ipvlan [[name] IFNAME] [IP[/N]] [bridge|private|vepa] [group G]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UseIpvlan {
    /// The ipvlan's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its address (also the advert source); IPv4 needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpPrefix>,
    /// The mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<IpvlanMode>,
    /// `group G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One `unicast_peer { IP [min_ttl N] [max_ttl N] }` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnicastPeer {
    /// The peer's address.
    pub address: IpAddr,
    /// `min_ttl N` (turns on the source check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<u8>,
    /// `max_ttl N` (turns on the source check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<u8>,
    /// Where the entry is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

impl Default for UnicastPeer {
    fn default() -> Self {
        UnicastPeer {
            address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            min_ttl: None,
            max_ttl: None,
            pos: Pos::default(),
        }
    }
}

/// `garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpExtraIf {
    /// `all`: on every interface with the instance's VIPs, not only VMACs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// The interval (whole seconds, up to 86400).
    pub interval: Timer,
}

/// `notify_deleted [SCRIPT]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyDeleted {
    /// The script to run for DELETED (otherwise the other notify scripts are told DELETED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<Script>,
}

/// `old_unicast_checksum [never]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OldUnicastChecksum {
    /// Bare keyword: send with the pre-1.3.6 checksum.
    Old,
    /// `never`: never switch to it, even when a peer uses it.
    Never,
}

// ---------------------------------------------------------------------------------------------
// The blocks
// ---------------------------------------------------------------------------------------------

/// `vrrp_instance NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VrrpInstance {
    /// The instance name.
    pub name: String,
    /// `state MASTER|BACKUP`; unset: derived from the priority (255 is MASTER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<InitialState>,
    /// `interface IF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// `vrf IF` (unicast instances without an interface).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// `virtual_router_id 1..255` (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_router_id: Option<u8>,
    /// `priority 1..255`; unset: 255 with `state MASTER`, else 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// `advert_int SECS` (default 1).
    pub advert_int: Timer,
    /// `version 2|3`; unset: 3 for IPv6, else global `vrrp_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// `native_ipv6`: the instance is IPv6 even without IPv6 VIPs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub native_ipv6: bool,
    /// `authentication { }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddress: Vec<IpAddress>,
    /// `virtual_ipaddress_excluded { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddress_excluded: Vec<IpAddress>,
    /// `no_virtual_ipaddress`: allow an instance without VIPs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_virtual_ipaddress: bool,
    /// `virtual_routes { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<Route>,
    /// `virtual_rules { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<Rule>,
    /// `promote_secondaries`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub promote_secondaries: bool,
    /// `dont_track_primary`: the instance's own interface going down is not a fault.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dont_track_primary: bool,
    /// `track_interface { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_interface: Vec<TrackRef>,
    /// `track_script { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_script: Vec<TrackRef>,
    /// `track_file { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_file: Vec<TrackRef>,
    /// `track_process { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_process: Vec<TrackRef>,
    /// `nopreempt` (`preempt` clears it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nopreempt: bool,
    /// `preempt_delay SECS` (0..1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempt_delay: Option<Timer>,
    /// `timer_expired_backup [PRIO]` (`thread_timer_expired`): the highest other priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_expired_backup: Option<u8>,
    /// `mcast_src_ip IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_src_ip: Option<IpAddr>,
    /// `mcast_dst_ip MADDR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_dst_ip: Option<IpAddr>,
    /// `track_src_ip`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub track_src_ip: bool,
    /// `unicast_src_ip IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unicast_peer: Vec<UnicastPeer>,
    /// `unicast_fault_no_peer`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unicast_fault_no_peer: bool,
    /// `check_unicast_src`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check_unicast_src: bool,
    /// `unicast_ttl 0..255`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_ttl: Option<u8>,
    /// `old_unicast_checksum [never]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_unicast_checksum: Option<OldUnicastChecksum>,
    /// `v3_checksum_as_v2 [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v3_checksum_as_v2: Option<bool>,
    /// `use_vmac ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<Box<UseVmac>>,
    /// `use_vmac_addr`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub use_vmac_addr: bool,
    /// `vmac_xmit_base`: send adverts on the base interface.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vmac_xmit_base: bool,
    /// `use_ipvlan ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_ipvlan: Option<Box<UseIpvlan>>,
    /// `accept` (true) / `no_accept` (false); unset: accept unless strict (owner: accept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
    /// `strict_mode [BOOL]`; unset: global `vrrp_strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_mode: Option<bool>,
    /// `skip_check_adv_addr [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_check_adv_addr: Option<bool>,
    /// `garp_master_delay SECS` (default: global, 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_delay: Option<Timer>,
    /// `garp_master_repeat N` (default: global, 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_repeat: Option<u32>,
    /// `garp_master_refresh SECS` (default: global, 0 = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh: Option<Timer>,
    /// `garp_master_refresh_repeat N` (default: global, 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh_repeat: Option<u32>,
    /// `garp_lower_prio_delay SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_delay: Option<Timer>,
    /// `garp_lower_prio_repeat N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_repeat: Option<u32>,
    /// `garp_extra_if [all] SECS` (`vmac_garp_intvl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_extra_if: Option<GarpExtraIf>,
    /// `down_timer_adverts 1..100` (default: global, 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_timer_adverts: Option<u8>,
    /// `lower_prio_no_advert [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_prio_no_advert: Option<bool>,
    /// `higher_prio_send_advert [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub higher_prio_send_advert: Option<bool>,
    /// `owner_ignore_adverts [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_ignore_adverts: Option<bool>,
    /// `kernel_rx_buf_size N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_rx_buf_size: Option<u32>,
    /// `notify_master SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<Box<Script>>,
    /// `notify_backup SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Box<Script>>,
    /// `notify_fault SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<Box<Script>>,
    /// `notify_stop SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<Box<Script>>,
    /// `notify SCRIPT` (called with INSTANCE, name, state, priority).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<Box<Script>>,
    /// `notify_deleted [SCRIPT]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_deleted: Option<Box<NotifyDeleted>>,
    /// `notify_master_rx_lower_pri SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_master_rx_lower_pri: Option<Box<Script>>,
    /// `notify_priority_changes [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_priority_changes: Option<bool>,
    /// `smtp_alert [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    /// `lvs_sync_daemon_interface IF` (deprecated: the global `lvs_sync_daemon` with this
    /// instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon_interface: Option<String>,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

impl Default for VrrpInstance {
    fn default() -> Self {
        VrrpInstance {
            name: String::new(),
            state: None,
            interface: None,
            vrf: None,
            virtual_router_id: None,
            priority: None,
            advert_int: Timer::secs(1),
            version: None,
            native_ipv6: false,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            promote_secondaries: false,
            dont_track_primary: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            nopreempt: false,
            preempt_delay: None,
            timer_expired_backup: None,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            track_src_ip: false,
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            unicast_ttl: None,
            old_unicast_checksum: None,
            v3_checksum_as_v2: None,
            use_vmac: None,
            use_vmac_addr: false,
            vmac_xmit_base: false,
            use_ipvlan: None,
            accept: None,
            strict_mode: None,
            skip_check_adv_addr: None,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            garp_extra_if: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            owner_ignore_adverts: None,
            kernel_rx_buf_size: None,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            notify_deleted: None,
            notify_master_rx_lower_pri: None,
            notify_priority_changes: None,
            smtp_alert: None,
            lvs_sync_daemon_interface: None,
            pos: Pos::default(),
            kw_pos: KwPos::default(),
        }
    }
}

impl VrrpInstance {
    /// The priority that applies: as written, else 255 with `state MASTER`, else 100.
    pub fn effective_priority(&self) -> u8 {
        match (self.priority, self.state) {
            (Some(p), _) => p,
            (None, Some(InitialState::Master)) => 255,
            (None, _) => 100,
        }
    }

    /// The state wanted at start-up: as written, else MASTER for priority 255.
    pub fn effective_state(&self) -> InitialState {
        match self.state {
            Some(s) => s,
            None if self.effective_priority() == 255 => InitialState::Master,
            None => InitialState::Backup,
        }
    }

    /// True when the instance sends adverts by unicast.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peer.is_empty()
    }

    /// Where keyword `kw` is, else where the instance is.
    pub fn at(&self, kw: &str) -> Pos {
        self.kw_pos.get(kw).unwrap_or(self.pos)
    }
}

/// `vrrp_sync_group NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncGroup {
    /// The group name.
    pub name: String,
    /// `group { VI_1 VI_2 }`: the member instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<NameAt>,
    /// `track_interface { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_interface: Vec<TrackRef>,
    /// `track_script { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_script: Vec<TrackRef>,
    /// `track_file { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_file: Vec<TrackRef>,
    /// `track_process { }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_process: Vec<TrackRef>,
    /// `notify_master SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<Box<Script>>,
    /// `notify_backup SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<Box<Script>>,
    /// `notify_fault SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<Box<Script>>,
    /// `notify_stop SCRIPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<Box<Script>>,
    /// `notify SCRIPT` (called with GROUP, name, state, priority).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<Box<Script>>,
    /// `smtp_alert [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight` (`global_tracking`): members keep their tracker weights.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sync_group_tracking_weight: bool,
    /// `notify_priority_changes [BOOL]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_priority_changes: Option<bool>,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

/// `vrrp_script NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VrrpScript {
    /// The script name.
    pub name: String,
    /// `script CMD` (required); `user USER [GROUP]` sets its user and group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<Script>,
    /// `interval SECS` (default 1, millisecond resolution).
    pub interval: Timer,
    /// `timeout SECS`; unset: the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timer>,
    /// `weight -253..253` (default 0: a failure is a FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// `rise N` (default 1).
    pub rise: u32,
    /// `fall N` (default 1).
    pub fall: u32,
    /// `init_fail`: start as failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init_fail: bool,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

impl Default for VrrpScript {
    fn default() -> Self {
        VrrpScript {
            name: String::new(),
            script: None,
            interval: Timer::secs(1),
            timeout: None,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
            pos: Pos::default(),
            kw_pos: KwPos::default(),
        }
    }
}

/// `init_file [VALUE] [overwrite]` of a track_file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InitFile {
    /// The value written (default 0).
    pub value: i32,
    /// `overwrite`: write it even if the file exists.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overwrite: bool,
}

/// `track_file NAME { }` (also `vrrp_track_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackFile {
    /// The tracker name.
    pub name: String,
    /// `file PATH` (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `weight -254..254` (default 1): the value read times the weight is added to the
    /// priority; with weight 0 a non-zero value is a FAULT.
    pub weight: i32,
    /// `weight N reverse`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_file: Option<InitFile>,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

impl Default for TrackFile {
    fn default() -> Self {
        TrackFile {
            name: String::new(),
            file: None,
            weight: 1,
            reverse: false,
            init_file: None,
            pos: Pos::default(),
            kw_pos: KwPos::default(),
        }
    }
}

/// `param_match [initial|partial]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// The parameters must match exactly (bare `param_match`, or parameters on `process`).
    Exact,
    /// The given parameters are the first ones.
    Initial,
    /// The given parameters appear somewhere.
    Partial,
}

/// `vrrp_track_process NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackProcess {
    /// The tracker name.
    pub name: String,
    /// `process NAME [PARAMS...]`: the process name (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// The parameters after the process name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// `param_match`; unset: exact when parameters are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_match: Option<ParamMatch>,
    /// `weight -254..254` (default 0: missing processes are a FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// `quorum N` (default 1).
    pub quorum: u32,
    /// `quorum_max N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_max: Option<u32>,
    /// `delay SECS`: both delays below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Timer>,
    /// `terminate_delay SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_delay: Option<Timer>,
    /// `fork_delay SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_delay: Option<Timer>,
    /// `full_command`: match the whole command line, not the process name.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub full_command: bool,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
    /// Where its keywords are.
    #[serde(skip)]
    pub kw_pos: KwPos,
}

impl Default for TrackProcess {
    fn default() -> Self {
        TrackProcess {
            name: String::new(),
            process: None,
            params: Vec::new(),
            param_match: None,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            delay: None,
            terminate_delay: None,
            fork_delay: None,
            full_command: false,
            pos: Pos::default(),
            kw_pos: KwPos::default(),
        }
    }
}

/// `garp_group { }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpGroup {
    /// `garp_interval SECS`: spacing of gratuitous ARPs on these interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_interval: Option<Timer>,
    /// `gna_interval SECS`: spacing of unsolicited neighbour adverts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gna_interval: Option<Timer>,
    /// `interface IF` lines and `interfaces { }` entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<NameAt>,
    /// Where the block is.
    #[serde(skip_serializing_if = "crate::types::is_pos")]
    pub pos: Pos,
}

// ---------------------------------------------------------------------------------------------
// Entry points called by lib.rs
// ---------------------------------------------------------------------------------------------

/// Reads a `vrrp_instance` node.
pub fn parse_instance(cx: &mut Cx, n: &Node) -> Option<VrrpInstance> {
    parse::instance(cx, n)
}

/// Reads a `vrrp_sync_group` node.
pub fn parse_sync_group(cx: &mut Cx, n: &Node) -> Option<SyncGroup> {
    parse::sync_group(cx, n)
}

/// Reads a `vrrp_script` node.
pub fn parse_script(cx: &mut Cx, n: &Node) -> Option<VrrpScript> {
    parse::script(cx, n)
}

/// Reads a top-level `track_file` node.
pub fn parse_track_file(cx: &mut Cx, n: &Node) -> Option<TrackFile> {
    parse::track_file(cx, n)
}

/// Reads a `vrrp_track_process` node.
pub fn parse_track_process(cx: &mut Cx, n: &Node) -> Option<TrackProcess> {
    parse::track_process(cx, n)
}

/// Reads a `garp_group` node.
pub fn parse_garp_group(cx: &mut Cx, n: &Node) -> Option<GarpGroup> {
    parse::garp_group(cx, n)
}

/// Checks of the VRRP configuration.
pub fn validate(cx: &mut Cx, config: &Config) {
    check::validate(cx, config, &VrrpGlobals::from_config(config));
}
