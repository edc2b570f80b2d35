//! `global_defs`: the model, the parser and the checks of the global settings.
//!
//! Every keyword of keepalived's `global_defs` has a row in [`KEYWORDS`]. The model keeps
//! keepalived's defaults ([`GlobalDefs::default`]), so a TOML file that leaves a field out
//! means the same as a keepalived.conf that leaves the keyword out.
//!
//! Values are checked twice with the same rules ([`syntax`] and the range constants below):
//! when read from keepalived.conf, at the offending token (a bad value is not stored), and in
//! [`validate`], for values that came from TOML. Checks that involve several keywords
//! (strict mode, FIFOs, alerts) are made in [`validate`] only.

pub mod syntax;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::cx::Cx;
use crate::diag::nearest;
use crate::keywords::{Block, Keyword, Status, dep, ign, kw, refused};
use crate::lexer::IncludeCheck;
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

use syntax::Bad;

// ---------------------------------------------------------------------------------------------
// Ranges, shared by the parser and `validate`.

/// `smtp_connect_timeout`, seconds (keepalived: 1 to UINT_MAX / TIMER_HZ).
pub const SMTP_CONNECT_TIMEOUT: (u64, u64) = (1, 4294);
/// `startup_script_timeout` / `shutdown_script_timeout`, seconds.
pub const SCRIPT_TIMEOUT: (u64, u64) = (1, 1000);
/// Whole-second GARP delays (`vrrp_garp_master_delay`, `vrrp_garp_lower_prio_delay`).
pub const GARP_DELAY: (u64, u64) = (0, 4294);
/// `vrrp_garp_master_repeat` / `vrrp_garp_master_refresh_repeat`.
pub const GARP_REPEAT: (u64, u64) = (1, u32::MAX as u64);
/// `vrrp_garp_lower_prio_repeat`.
pub const GARP_LOWER_PRIO_REPEAT: (u64, u64) = (0, i32::MAX as u64);
/// `vrrp_garp_interval` / `vrrp_gna_interval`: 1 µs to UINT_MAX µs.
pub const GARP_INTERVAL: (Timer, Timer) =
    (Timer::from_micros(1), Timer::from_micros(u32::MAX as u64));
/// `vrrp_garp_extra_if`, seconds.
pub const GARP_EXTRA_IF: (u64, u64) = (1, 86_400);
/// `vrrp_down_timer_adverts`.
pub const DOWN_TIMER_ADVERTS: (u64, u64) = (1, 100);
/// `vrrp_startup_delay` / `vrrp_delay_after_boot`: 1 ms to UINT_MAX µs.
pub const STARTUP_DELAY: (Timer, Timer) = (
    Timer::from_micros(1_000),
    Timer::from_micros(u32::MAX as u64),
);
/// Process niceness (`vrrp_priority`, `checker_priority`).
pub const NICE: (i64, i64) = (-20, 19);
/// Real-time priority (`vrrp_rt_priority`, `checker_rt_priority`).
pub const RT_PRIORITY: (u64, u64) = (1, 99);
/// `max_auto_priority` (-1 turns the start-up warning off).
pub const MAX_AUTO_PRIORITY: (i64, i64) = (-1, 99);
/// `min_auto_priority_delay`, µs.
pub const MIN_AUTO_PRIORITY_DELAY: (u64, u64) = (1, 10_000_000);
/// `*_rlimit_rttime`, µs (keepalived's man page: >= 2).
pub const RLIMIT_RTTIME: (u64, u64) = (2, u32::MAX as u64);
/// CPU numbers of `*_cpu_affinity` (glibc's cpu_set_t holds 1024).
pub const CPU_ID: (u64, u64) = (0, 1023);
/// LVS connection timeouts, seconds (31 days).
pub const LVS_TIMEOUT: (u64, u64) = (0, 86_400 * 31);
/// `lvs_sync_daemon ... maxlen` (65535 - IP and UDP headers).
pub const SYNC_MAXLEN: (u64, u64) = (1, 65_535 - 20 - 8);

const DEFAULT_SMTP_PORT: u16 = 25;
const DEFAULT_MCAST4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const DEFAULT_MCAST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const DEFAULT_GARP_DELAY: u32 = 5;
const DEFAULT_GARP_REPEAT: u32 = 5;
const DEFAULT_DOWN_TIMER_ADVERTS: u32 = 3;
/// keepalived's default umask: IXUSR | IRWXG | IRWXO.
pub const DEFAULT_UMASK: u32 = 0o177;

// ---------------------------------------------------------------------------------------------
// The model.

/// `global_defs { }`. Several blocks are merged; a later value replaces an earlier one
/// (with a warning), except where noted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalDefs {
    /// `router_id STR`: names this machine in alerts (default: the host name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,

    // --- email alerts -------------------------------------------------------------------
    /// `notification_email { ADDR ... }`: alert recipients.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notification_email: Vec<String>,
    /// `notification_email_from ADDR` (default: keepalived@HOSTNAME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_email_from: Option<String>,
    /// `smtp_server HOST [PORT]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_server: Option<SmtpServer>,
    /// `smtp_helo_name NAME` (default: the host name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout SECS` (default 30).
    pub smtp_connect_timeout: u32,
    /// `smtp_alert <BOOL>`: default of every `smtp_alert` (unset: per object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp <BOOL>`: default for instances and sync groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker <BOOL>`: default for virtual and real servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_alert_checker: Option<bool>,
    /// `no_email_faults`: no alert for FAULT transitions.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_email_faults: bool,
    /// `no_checker_emails [<BOOL>]`: checker alerts only when a real server is added/removed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_checker_emails: bool,
    /// `checker_log_all_failures [<BOOL>]`: log every failed check.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checker_log_all_failures: bool,
    /// `rs_init_notifies [<BOOL>]`: notify for real servers at start-up.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rs_init_notifies: bool,

    // --- scripts ------------------------------------------------------------------------
    /// `script_user USER [[:]GROUP]` (default: keepalived_script if it exists, else root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`: refuse scripts run as root that others could change.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_script_security: bool,
    /// `use_symlink_paths [<BOOL>]`: keep symlinks in script paths.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub use_symlink_paths: bool,
    /// `set_supplementary_groups [<BOOL>]`: scripts get the user's supplementary groups.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub set_supplementary_groups: bool,
    /// `startup_script SCRIPT [USER [[:]GROUP]]`: run once before the children start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_script: Option<Script>,
    /// `startup_script_timeout SECS` (1..1000, default 10).
    pub startup_script_timeout: u32,
    /// `shutdown_script SCRIPT [USER [[:]GROUP]]`: run once after the children stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_script: Option<Script>,
    /// `shutdown_script_timeout SECS` (1..1000, default 10).
    pub shutdown_script_timeout: u32,

    // --- notify FIFOs -------------------------------------------------------------------
    /// `notify_fifo FIFO [USER [GROUP]]`: every notify event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo: Option<Fifo>,
    /// `notify_fifo_script SCRIPT [USER [[:]GROUP]]`: reads `notify_fifo` (its last argument).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo_script: Option<Script>,
    /// `vrrp_notify_fifo FIFO [USER [GROUP]]`: VRRP events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo: Option<Fifo>,
    /// `vrrp_notify_fifo_script SCRIPT [USER [[:]GROUP]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo_script: Option<Script>,
    /// `lvs_notify_fifo FIFO [USER [GROUP]]`: checker events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_notify_fifo: Option<Fifo>,
    /// `lvs_notify_fifo_script SCRIPT [USER [[:]GROUP]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_notify_fifo_script: Option<Script>,
    /// `vrrp_notify_priority_changes <BOOL>`: priority events on the FIFOs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_notify_priority_changes: bool,
    /// `fifo_write_vrrp_states_on_reload`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fifo_write_vrrp_states_on_reload: bool,

    // --- VRRP ---------------------------------------------------------------------------
    /// `vrrp_strict [<BOOL>]`: strict RFC compliance for every instance.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_strict: bool,
    /// `vrrp_version 2|3` (default 2; IPv6 instances use 3).
    pub vrrp_version: u8,
    /// `vrrp_mcast_group4 ADDR` (default 224.0.0.18).
    pub vrrp_mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6 ADDR` (default ff02::12).
    pub vrrp_mcast_group6: Ipv6Addr,
    /// `vrrp_skip_check_adv_addr [<BOOL>]`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`: unicast adverts must come from a configured peer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_garp_master_delay SECS`: second GARP burst after becoming MASTER (default 5, 0 = none).
    pub vrrp_garp_master_delay: u32,
    /// `vrrp_garp_master_repeat N`: GARPs per burst (default 5).
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh SECS`: periodic GARP while MASTER (default 0 = off).
    pub vrrp_garp_master_refresh: u32,
    /// `vrrp_garp_master_refresh_repeat N` (default 1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay SECS` (unset: `vrrp_garp_master_delay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_delay: Option<u32>,
    /// `vrrp_garp_lower_prio_repeat N` (unset: `vrrp_garp_master_repeat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval SECS`: gap between GARPs on one interface (default 0).
    pub vrrp_garp_interval: Timer,
    /// `vrrp_gna_interval SECS`: gap between unsolicited NAs on one interface (default 0).
    pub vrrp_gna_interval: Timer,
    /// `vrrp_min_garp [<BOOL>]`. When read from keepalived.conf it sets
    /// `vrrp_garp_master_repeat` to 1 and `vrrp_garp_master_delay` to 0 unless they are given;
    /// the model's fields hold the result, so in TOML set those fields directly.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_min_garp: bool,
    /// `vrrp_garp_extra_if [all] SECS`: periodic GARP/NA on the other interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_extra_if: Option<GarpExtraIf>,
    /// `vrrp_down_timer_adverts N` (1..100, default 3).
    pub vrrp_down_timer_adverts: u32,
    /// `vrrp_lower_prio_no_advert [<BOOL>]` (unset: false, or true in strict mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_lower_prio_no_advert: Option<bool>,
    /// `vrrp_higher_prio_send_advert [<BOOL>]` (unset: false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_higher_prio_send_advert: Option<bool>,
    /// `vrrp_owner_ignore_adverts [<BOOL>]`: default for priority-255 instances.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_owner_ignore_adverts: bool,
    /// `v3_checksum_as_v2 [<BOOL>]`: default for instances.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub v3_checksum_as_v2: bool,
    /// `vrrp_startup_delay SECS`: wait before the instances start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_startup_delay: Option<Timer>,
    /// `vrrp_delay_after_boot SECS`: instances start no earlier than this after boot
    /// (the longer of this and `vrrp_startup_delay` applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_delay_after_boot: Option<Timer>,
    /// `log_unknown_vrids`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub log_unknown_vrids: bool,
    /// `default_interface IF`: interface of static addresses without `dev` (default eth0).
    pub default_interface: String,
    /// `dynamic_interfaces [allow_if_changes]`: interfaces may be missing at start-up.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dynamic_interfaces: bool,
    /// The `allow_if_changes` option of `dynamic_interfaces`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_if_changes: bool,
    /// `disable_local_igmp`: set igmp_link_local_mcast_reports to 0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_local_igmp: bool,
    /// `vmac_prefix STR`: VMAC interface names (default "vrrp").
    pub vmac_prefix: String,
    /// `vmac_addr_prefix STR`: VMACs of addresses on other interfaces (unset: `vmac_prefix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmac_addr_prefix: Option<String>,
    /// `vrrp_rx_bufs_policy MTU|ADVERT|SIZE` (unset: the system default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_rx_bufs_policy: Option<RxBufsPolicy>,
    /// `vrrp_rx_bufs_multiplier N` (default 3).
    pub vrrp_rx_bufs_multiplier: u32,

    // --- netlink buffers ----------------------------------------------------------------
    /// `vrrp_netlink_cmd_rcv_bufs BYTES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_netlink_cmd_rcv_bufs: Option<u32>,
    /// `vrrp_netlink_cmd_rcv_bufs_force <BOOL>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_netlink_cmd_rcv_bufs_force: bool,
    /// `vrrp_netlink_monitor_rcv_bufs BYTES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_netlink_monitor_rcv_bufs: Option<u32>,
    /// `vrrp_netlink_monitor_rcv_bufs_force <BOOL>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_netlink_monitor_rcv_bufs_force: bool,
    /// `lvs_netlink_cmd_rcv_bufs BYTES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_netlink_cmd_rcv_bufs: Option<u32>,
    /// `lvs_netlink_cmd_rcv_bufs_force <BOOL>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lvs_netlink_cmd_rcv_bufs_force: bool,
    /// `lvs_netlink_monitor_rcv_bufs BYTES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_netlink_monitor_rcv_bufs: Option<u32>,
    /// `lvs_netlink_monitor_rcv_bufs_force <BOOL>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lvs_netlink_monitor_rcv_bufs_force: bool,
    /// `process_monitor_rcv_bufs BYTES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_monitor_rcv_bufs: Option<u32>,
    /// `process_monitor_rcv_bufs_force <BOOL>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub process_monitor_rcv_bufs_force: bool,

    // --- LVS ----------------------------------------------------------------------------
    /// `lvs_flush`: flush the IPVS table at start-up.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]` (unset: remove each server one by one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_flush_on_stop: Option<LvsFlushOnStop>,
    /// `lvs_timeouts [tcp S] [tcpfin S] [udp S]` (several lines add up).
    #[serde(skip_serializing_if = "LvsTimeouts::is_empty")]
    pub lvs_timeouts: LvsTimeouts,
    /// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,

    // --- scheduling ---------------------------------------------------------------------
    /// `max_auto_priority [-1..99]`: highest automatic real-time priority (default 0 = off;
    /// the bare keyword means 99).
    pub max_auto_priority: i32,
    /// `min_auto_priority_delay USECS` (default 1000000).
    pub min_auto_priority_delay: u32,
    /// `vrrp_priority -20..19`: nice value of the VRRP process (0 = unchanged).
    pub vrrp_priority: i8,
    /// `vrrp_no_swap`: lock the VRRP process in memory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vrrp_no_swap: bool,
    /// `vrrp_rt_priority 1..99`: SCHED_RR priority of the VRRP process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_rt_priority: Option<u8>,
    /// `vrrp_cpu_affinity CPU...`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vrrp_cpu_affinity: Vec<u16>,
    /// `vrrp_rlimit_rttime USECS` (default 10000).
    pub vrrp_rlimit_rttime: u32,
    /// `checker_priority -20..19`.
    pub checker_priority: i8,
    /// `checker_no_swap`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checker_no_swap: bool,
    /// `checker_rt_priority 1..99`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checker_rt_priority: Option<u8>,
    /// `checker_cpu_affinity CPU...`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checker_cpu_affinity: Vec<u16>,
    /// `checker_rlimit_rttime USECS` (default 10000).
    pub checker_rlimit_rttime: u32,

    // --- files and reloads --------------------------------------------------------------
    /// `umask NUMBER|BITS` for created files (default 0177).
    pub umask: u32,
    /// `random_seed N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u32>,
    /// `reload_check_config [LOGFILE]`: check a new configuration before reloading
    /// (the bare keyword logs to /dev/null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_check_config: Option<String>,
    /// `reload_time_file PATH`: a file that schedules a reload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_time_file: Option<String>,
    /// `reload_repeat`: keep the reload time file after a reload.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reload_repeat: bool,
    /// `reload_file [PATH]`: present while a configuration is read; "" = the default file
    /// in the runtime directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_file: Option<String>,
    /// `include_check [[+|-]CHECK ...]`: the checks after the last such line, counted from
    /// none (the lexer itself applies each line, on top of `-e`, to the includes after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_check: Option<IncludeChecks>,
    /// `config_save_dir DIR`: keep copies of the configuration across reloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_save_dir: Option<String>,
    /// `data_use_instance [<BOOL>]`: instance name in the dump file names.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub data_use_instance: bool,
    /// `json_version 1|2` (default 1).
    pub json_version: u8,
    /// `iproute_usr_dir PATH`: iproute2's shipped tables (rt_tables names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iproute_usr_dir: Option<String>,
    /// `iproute_etc_dir PATH`: iproute2's local tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iproute_etc_dir: Option<String>,
    /// `state_dump_file PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dump_file: Option<String>,
    /// `stats_dump_file PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_dump_file: Option<String>,
    /// `json_dump_file PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_dump_file: Option<String>,

    /// Where each keyword was last given (keepalived.conf only; not part of the model).
    #[serde(skip)]
    pub at: KeywordPos,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: 30,
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            no_email_faults: false,
            no_checker_emails: false,
            checker_log_all_failures: false,
            rs_init_notifies: false,
            script_user: None,
            enable_script_security: false,
            use_symlink_paths: false,
            set_supplementary_groups: false,
            startup_script: None,
            startup_script_timeout: 10,
            shutdown_script: None,
            shutdown_script_timeout: 10,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_notify_fifo: None,
            lvs_notify_fifo_script: None,
            vrrp_notify_priority_changes: false,
            fifo_write_vrrp_states_on_reload: false,
            vrrp_strict: false,
            vrrp_version: 2,
            vrrp_mcast_group4: DEFAULT_MCAST4,
            vrrp_mcast_group6: DEFAULT_MCAST6,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_garp_master_delay: DEFAULT_GARP_DELAY,
            vrrp_garp_master_repeat: DEFAULT_GARP_REPEAT,
            vrrp_garp_master_refresh: 0,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Timer::from_micros(0),
            vrrp_gna_interval: Timer::from_micros(0),
            vrrp_min_garp: false,
            vrrp_garp_extra_if: None,
            vrrp_down_timer_adverts: DEFAULT_DOWN_TIMER_ADVERTS,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: None,
            vrrp_owner_ignore_adverts: false,
            v3_checksum_as_v2: false,
            vrrp_startup_delay: None,
            vrrp_delay_after_boot: None,
            log_unknown_vrids: false,
            default_interface: "eth0".into(),
            dynamic_interfaces: false,
            allow_if_changes: false,
            disable_local_igmp: false,
            vmac_prefix: "vrrp".into(),
            vmac_addr_prefix: None,
            vrrp_rx_bufs_policy: None,
            vrrp_rx_bufs_multiplier: 3,
            vrrp_netlink_cmd_rcv_bufs: None,
            vrrp_netlink_cmd_rcv_bufs_force: false,
            vrrp_netlink_monitor_rcv_bufs: None,
            vrrp_netlink_monitor_rcv_bufs_force: false,
            lvs_netlink_cmd_rcv_bufs: None,
            lvs_netlink_cmd_rcv_bufs_force: false,
            lvs_netlink_monitor_rcv_bufs: None,
            lvs_netlink_monitor_rcv_bufs_force: false,
            process_monitor_rcv_bufs: None,
            process_monitor_rcv_bufs_force: false,
            lvs_flush: false,
            lvs_flush_on_stop: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_sync_daemon: None,
            max_auto_priority: 0,
            min_auto_priority_delay: 1_000_000,
            vrrp_priority: 0,
            vrrp_no_swap: false,
            vrrp_rt_priority: None,
            vrrp_cpu_affinity: Vec::new(),
            vrrp_rlimit_rttime: 10_000,
            checker_priority: 0,
            checker_no_swap: false,
            checker_rt_priority: None,
            checker_cpu_affinity: Vec::new(),
            checker_rlimit_rttime: 10_000,
            umask: DEFAULT_UMASK,
            random_seed: None,
            reload_check_config: None,
            reload_time_file: None,
            reload_repeat: false,
            reload_file: None,
            include_check: None,
            config_save_dir: None,
            data_use_instance: false,
            json_version: 1,
            iproute_usr_dir: None,
            iproute_etc_dir: None,
            state_dump_file: None,
            stats_dump_file: None,
            json_dump_file: None,
            at: KeywordPos::default(),
        }
    }
}

impl GlobalDefs {
    /// The scripts configured in global_defs, with the keyword that names each.
    pub fn scripts(&self) -> impl Iterator<Item = (&'static str, &Script)> {
        [
            ("startup_script", &self.startup_script),
            ("shutdown_script", &self.shutdown_script),
            ("notify_fifo_script", &self.notify_fifo_script),
            ("vrrp_notify_fifo_script", &self.vrrp_notify_fifo_script),
            ("lvs_notify_fifo_script", &self.lvs_notify_fifo_script),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
    }

    /// Where `keyword` was given (a default `Pos` when it was not, or for TOML).
    pub fn pos(&self, keyword: &str) -> Pos {
        self.at.pos(keyword)
    }
}

/// Where each global_defs keyword was given, for checks made after parsing.
pub type KeywordPos = crate::types::KeywordPositions;

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpServer {
    /// An IP address or a host name.
    pub host: String,
    /// The TCP port (default 25).
    pub port: u16,
}

impl Default for SmtpServer {
    fn default() -> Self {
        SmtpServer {
            host: String::new(),
            port: DEFAULT_SMTP_PORT,
        }
    }
}

/// `script_user USER [[:]GROUP]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptUser {
    /// The user scripts run as.
    pub user: String,
    /// The group (default: the user's group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The group was written `:GROUP` (or a lone `:`): also set the supplementary groups.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub supplementary_groups: bool,
}

/// A notify FIFO: `*notify_fifo FIFO [USER [GROUP]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fifo {
    /// The FIFO's path (created if missing).
    pub path: String,
    /// Owner of the FIFO (default: the script user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group of the FIFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The group was written `:GROUP`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub supplementary_groups: bool,
}

/// `vrrp_garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpExtraIf {
    /// `all`: every interface of the instance, not only VMACs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// The interval in seconds (1..86400).
    pub interval: u32,
}

/// `vrrp_rx_bufs_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RxBufsPolicy {
    /// `MTU`: interface MTU times the multiplier, per instance.
    Mtu,
    /// `ADVERT`: advert size times the multiplier, per instance.
    Advert,
    /// A size in bytes.
    Size(u32),
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LvsFlushOnStop {
    /// The bare keyword: flush the whole IPVS table.
    Full,
    /// `VS`: delete each virtual server, leaving its real servers to the kernel.
    Vs,
}

/// `lvs_timeouts`: IPVS connection timeouts in seconds (unset: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LvsTimeouts {
    /// `tcp S`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<u32>,
    /// `tcpfin S`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpfin: Option<u32>,
    /// `udp S`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<u32>,
}

impl LvsTimeouts {
    /// True when no timeout is set.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_none() && self.tcpfin.is_none() && self.udp.is_none()
    }
}

/// `lvs_sync_daemon`: the IPVS connection synchronisation daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LvsSyncDaemon {
    /// The interface it sends and listens on.
    pub interface: String,
    /// `inst VI`: master/backup follows this vrrp_instance (unset: both run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inst: Option<String>,
    /// `id N` (0..255, unset: the instance's VRID, or 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u8>,
    /// `maxlen N` (1..65507).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxlen: Option<u16>,
    /// `port N` (kernel default 8848).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `ttl N` (1..255).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// `group IP`: multicast group (kernel default 224.0.0.81).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<IpAddr>,
}

/// The include checks of `include_check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncludeChecks {
    /// `read`: every matched file is readable.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read: bool,
    /// `match`: a pattern without wildcards names a file.
    #[serde(rename = "match", skip_serializing_if = "std::ops::Not::not")]
    pub matched: bool,
    /// `wildcard_match`: a pattern with wildcards matches a file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wildcard_match: bool,
    /// `brace_match`: every `{a,b}` alternative matches a file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub brace_match: bool,
}

impl From<IncludeCheck> for IncludeChecks {
    fn from(c: IncludeCheck) -> Self {
        IncludeChecks {
            read: c.read,
            matched: c.matched,
            wildcard_match: c.wildcard_match,
            brace_match: c.brace_match,
        }
    }
}

impl From<IncludeChecks> for IncludeCheck {
    fn from(c: IncludeChecks) -> Self {
        IncludeCheck {
            read: c.read,
            matched: c.matched,
            wildcard_match: c.wildcard_match,
            brace_match: c.brace_match,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The keyword table.

const G: Block = Block::GlobalDefs;
const WHY_PROCESS_NAME: &str =
    "keepalived-rs processes keep their executable names; a process name cannot change traffic";
const WHY_SNMP: &str = "SNMP is not built into keepalived-rs; it only reports state";
const WHY_DBUS: &str =
    "DBus is not built into keepalived-rs; it only reports and sets state from outside";
const FIREWALL_VRRP: &str = "firewall rules for no_accept and VMACs (iptables/ipsets/nftables); keepalived-rs does not build them";
const FIREWALL_IPVS: &str =
    "nftables fwmarks for virtual_server_group (nftables_ipvs); keepalived-rs does not build them";
const BFD: &str = "BFD (keepalived-rs has no BFD process)";

/// The keyword table rows of `global_defs`.
pub const KEYWORDS: &[Keyword] = &[
    kw(G, "router_id", "router_id lb1"),
    // Email alerts.
    kw(
        G,
        "notification_email",
        "notification_email {\n admin@example.com\n \"Ops team <ops@example.com>\"\n}",
    ),
    kw(
        G,
        "notification_email_from",
        "notification_email_from keepalived@example.com",
    ),
    kw(G, "smtp_server", "smtp_server 192.0.2.25 25"),
    kw(G, "smtp_helo_name", "smtp_helo_name lb1.example.com"),
    kw(G, "smtp_connect_timeout", "smtp_connect_timeout 30"),
    kw(
        G,
        "smtp_alert",
        "notification_email {\n admin@example.com\n}\nsmtp_server 192.0.2.25\nsmtp_alert on",
    ),
    kw(G, "smtp_alert_vrrp", "smtp_alert_vrrp off"),
    kw(G, "smtp_alert_checker", "smtp_alert_checker off"),
    kw(G, "no_email_faults", "no_email_faults"),
    kw(G, "no_checker_emails", "no_checker_emails"),
    kw(G, "checker_log_all_failures", "checker_log_all_failures on"),
    kw(G, "rs_init_notifies", "rs_init_notifies"),
    // Scripts.
    kw(
        G,
        "script_user",
        "script_user keepalived_script :keepalived",
    ),
    kw(G, "enable_script_security", "enable_script_security"),
    kw(G, "use_symlink_paths", "use_symlink_paths true"),
    kw(G, "set_supplementary_groups", "set_supplementary_groups"),
    kw(
        G,
        "startup_script",
        "startup_script \"/usr/local/sbin/lb-start --fwmarks\" root",
    ),
    kw(
        G,
        "startup_script_timeout",
        "startup_script /usr/local/sbin/lb-start\nstartup_script_timeout 30",
    ),
    kw(
        G,
        "shutdown_script",
        "shutdown_script /usr/local/sbin/lb-stop",
    ),
    kw(
        G,
        "shutdown_script_timeout",
        "shutdown_script /usr/local/sbin/lb-stop\nshutdown_script_timeout 30",
    ),
    // Notify FIFOs.
    kw(G, "notify_fifo", "notify_fifo /run/keepalived/notify.fifo"),
    kw(
        G,
        "notify_fifo_script",
        "notify_fifo /run/keepalived/notify.fifo\nnotify_fifo_script /usr/local/bin/fifo-reader",
    ),
    kw(
        G,
        "vrrp_notify_fifo",
        "vrrp_notify_fifo /run/keepalived/vrrp.fifo root root",
    ),
    kw(
        G,
        "vrrp_notify_fifo_script",
        "vrrp_notify_fifo /run/keepalived/vrrp.fifo\nvrrp_notify_fifo_script \"/usr/local/bin/fifo-reader --vrrp\"",
    ),
    kw(
        G,
        "lvs_notify_fifo",
        "lvs_notify_fifo /run/keepalived/lvs.fifo",
    ),
    kw(
        G,
        "lvs_notify_fifo_script",
        "lvs_notify_fifo /run/keepalived/lvs.fifo\nlvs_notify_fifo_script /usr/local/bin/fifo-reader",
    ),
    kw(
        G,
        "vrrp_notify_priority_changes",
        "vrrp_notify_priority_changes on",
    ),
    kw(
        G,
        "fifo_write_vrrp_states_on_reload",
        "fifo_write_vrrp_states_on_reload",
    ),
    // VRRP.
    kw(G, "vrrp_strict", "vrrp_strict"),
    kw(G, "vrrp_version", "vrrp_version 3"),
    kw(G, "vrrp_mcast_group4", "vrrp_mcast_group4 224.0.0.18"),
    kw(G, "vrrp_mcast_group6", "vrrp_mcast_group6 ff02::12"),
    kw(G, "vrrp_skip_check_adv_addr", "vrrp_skip_check_adv_addr"),
    kw(G, "vrrp_check_unicast_src", "vrrp_check_unicast_src"),
    kw(G, "vrrp_garp_master_delay", "vrrp_garp_master_delay 10"),
    kw(G, "vrrp_garp_master_repeat", "vrrp_garp_master_repeat 1"),
    kw(G, "vrrp_garp_master_refresh", "vrrp_garp_master_refresh 60"),
    kw(
        G,
        "vrrp_garp_master_refresh_repeat",
        "vrrp_garp_master_refresh_repeat 2",
    ),
    kw(
        G,
        "vrrp_garp_lower_prio_delay",
        "vrrp_garp_lower_prio_delay 10",
    ),
    kw(
        G,
        "vrrp_garp_lower_prio_repeat",
        "vrrp_garp_lower_prio_repeat 1",
    ),
    kw(G, "vrrp_garp_interval", "vrrp_garp_interval 0.001"),
    kw(G, "vrrp_gna_interval", "vrrp_gna_interval 0.000001"),
    kw(G, "vrrp_min_garp", "vrrp_min_garp true"),
    kw(G, "vrrp_garp_extra_if", "vrrp_garp_extra_if all 100"),
    dep(
        G,
        "vrrp_vmac_garp_intvl",
        "vrrp_garp_extra_if",
        "vrrp_vmac_garp_intvl 100",
    ),
    kw(G, "vrrp_down_timer_adverts", "vrrp_down_timer_adverts 3"),
    kw(G, "vrrp_lower_prio_no_advert", "vrrp_lower_prio_no_advert"),
    kw(
        G,
        "vrrp_higher_prio_send_advert",
        "vrrp_higher_prio_send_advert false",
    ),
    kw(G, "vrrp_owner_ignore_adverts", "vrrp_owner_ignore_adverts"),
    kw(G, "v3_checksum_as_v2", "v3_checksum_as_v2"),
    kw(G, "vrrp_startup_delay", "vrrp_startup_delay 5.5"),
    kw(G, "vrrp_delay_after_boot", "vrrp_delay_after_boot 15.23"),
    kw(G, "log_unknown_vrids", "log_unknown_vrids"),
    kw(G, "default_interface", "default_interface eth1"),
    kw(
        G,
        "dynamic_interfaces",
        "dynamic_interfaces allow_if_changes",
    ),
    kw(G, "disable_local_igmp", "disable_local_igmp"),
    kw(G, "vmac_prefix", "vmac_prefix vr"),
    kw(G, "vmac_addr_prefix", "vmac_addr_prefix vra"),
    kw(G, "vrrp_rx_bufs_policy", "vrrp_rx_bufs_policy MTU"),
    kw(
        G,
        "vrrp_rx_bufs_multiplier",
        "vrrp_rx_bufs_policy ADVERT\nvrrp_rx_bufs_multiplier 4",
    ),
    // Netlink and process-monitor receive buffers.
    kw(
        G,
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs 1048576",
    ),
    kw(
        G,
        "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_cmd_rcv_bufs 1048576\nvrrp_netlink_cmd_rcv_bufs_force on",
    ),
    kw(
        G,
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs 1048576",
    ),
    kw(
        G,
        "vrrp_netlink_monitor_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs 1048576\nvrrp_netlink_monitor_rcv_bufs_force",
    ),
    kw(
        G,
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs 1048576",
    ),
    kw(
        G,
        "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_cmd_rcv_bufs 1048576\nlvs_netlink_cmd_rcv_bufs_force yes",
    ),
    kw(
        G,
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs 1048576",
    ),
    kw(
        G,
        "lvs_netlink_monitor_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs 1048576\nlvs_netlink_monitor_rcv_bufs_force true",
    ),
    kw(
        G,
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs 500000",
    ),
    kw(
        G,
        "process_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs 500000\nprocess_monitor_rcv_bufs_force",
    ),
    // LVS.
    kw(G, "lvs_flush", "lvs_flush"),
    kw(G, "lvs_flush_on_stop", "lvs_flush_on_stop VS"),
    dep(
        G,
        "lvs_flush_onstop",
        "lvs_flush_on_stop",
        "lvs_flush_onstop",
    ),
    kw(
        G,
        "lvs_timeouts",
        "lvs_timeouts tcp 7200 tcpfin 120 udp 300",
    ),
    kw(
        G,
        "lvs_sync_daemon",
        "lvs_sync_daemon eth1 inst VI_T id 51 maxlen 1472 port 8848 ttl 1 group 224.0.0.81",
    ),
    // Scheduling.
    kw(G, "max_auto_priority", "max_auto_priority 50"),
    kw(
        G,
        "min_auto_priority_delay",
        "min_auto_priority_delay 500000",
    ),
    kw(G, "vrrp_priority", "vrrp_priority -10"),
    kw(G, "vrrp_no_swap", "vrrp_no_swap"),
    kw(G, "vrrp_rt_priority", "vrrp_rt_priority 50"),
    kw(G, "vrrp_cpu_affinity", "vrrp_cpu_affinity 0 1"),
    kw(G, "vrrp_rlimit_rttime", "vrrp_rlimit_rttime 10000"),
    dep(
        G,
        "vrrp_rlimit_rtime",
        "vrrp_rlimit_rttime",
        "vrrp_rlimit_rtime 10000",
    ),
    kw(G, "checker_priority", "checker_priority 5"),
    kw(G, "checker_no_swap", "checker_no_swap"),
    kw(G, "checker_rt_priority", "checker_rt_priority 20"),
    kw(G, "checker_cpu_affinity", "checker_cpu_affinity 1"),
    kw(G, "checker_rlimit_rttime", "checker_rlimit_rttime 20000"),
    dep(
        G,
        "checker_rlimit_rtime",
        "checker_rlimit_rttime",
        "checker_rlimit_rtime 20000",
    ),
    refused(G, "bfd_priority", BFD, "bfd_priority -5"),
    refused(G, "bfd_no_swap", BFD, "bfd_no_swap"),
    refused(G, "bfd_rt_priority", BFD, "bfd_rt_priority 10"),
    refused(G, "bfd_cpu_affinity", BFD, "bfd_cpu_affinity 0"),
    refused(G, "bfd_rlimit_rttime", BFD, "bfd_rlimit_rttime 10000"),
    refused(G, "bfd_rlimit_rtime", BFD, "bfd_rlimit_rtime 10000"),
    // Files, reloads and the configuration itself.
    kw(G, "umask", "umask IXUSR|IRWXG|IRWXO"),
    kw(G, "random_seed", "random_seed 42"),
    kw(
        G,
        "reload_check_config",
        "reload_check_config /var/log/keepalived-reload-check.log",
    ),
    kw(
        G,
        "reload_time_file",
        "reload_time_file /run/keepalived/reload-at",
    ),
    kw(
        G,
        "reload_repeat",
        "reload_time_file /run/keepalived/reload-at\nreload_repeat",
    ),
    kw(
        G,
        "reload_file",
        "reload_file /run/keepalived/keepalived.reload",
    ),
    kw(G, "include_check", "include_check +match -wildcard_match"),
    kw(
        G,
        "config_save_dir",
        "config_save_dir /var/lib/keepalived/saved",
    ),
    ign(
        G,
        "tmp_config_directory",
        "keepalived-rs keeps no shared copy of the configuration file (each process gets its part over IPC); a memory knob",
        "tmp_config_directory /var/tmp",
    ),
    kw(G, "data_use_instance", "data_use_instance"),
    kw(G, "json_version", "json_version 2"),
    kw(G, "iproute_usr_dir", "iproute_usr_dir /usr/share/iproute2"),
    kw(G, "iproute_etc_dir", "iproute_etc_dir /etc/iproute2"),
    kw(
        G,
        "state_dump_file",
        "state_dump_file /run/keepalived/state.data",
    ),
    kw(
        G,
        "stats_dump_file",
        "stats_dump_file /run/keepalived/stats.data",
    ),
    kw(
        G,
        "json_dump_file",
        "json_dump_file /run/keepalived/state.json",
    ),
    refused(
        G,
        "state_file_location",
        "keepalived documents it but never parses it; write 'state_dump_file PATH'",
        "state_file_location /run/keepalived/state.data",
    ),
    refused(
        G,
        "stats_file_location",
        "keepalived documents it but never parses it; write 'stats_dump_file PATH'",
        "stats_file_location /run/keepalived/stats.data",
    ),
    refused(
        G,
        "json_file_location",
        "keepalived documents it but never parses it; write 'json_dump_file PATH'",
        "json_file_location /run/keepalived/state.json",
    ),
    // Firewalls.
    refused(
        G,
        "vrrp_iptables",
        FIREWALL_VRRP,
        "vrrp_iptables keepalived_in keepalived_out",
    ),
    refused(G, "vrrp_ipsets", FIREWALL_VRRP, "vrrp_ipsets keepalived"),
    refused(G, "nftables", FIREWALL_VRRP, "nftables keepalived"),
    refused(
        G,
        "nftables_priority",
        FIREWALL_VRRP,
        "nftables_priority -1",
    ),
    refused(G, "nftables_ifindex", FIREWALL_VRRP, "nftables_ifindex"),
    refused(G, "nftables_counters", FIREWALL_VRRP, "nftables_counters"),
    refused(
        G,
        "nftables_ipvs",
        FIREWALL_IPVS,
        "nftables_ipvs keepalived_ipvs",
    ),
    refused(
        G,
        "nftables_ipvs_priority",
        FIREWALL_IPVS,
        "nftables_ipvs_priority -1",
    ),
    refused(
        G,
        "nftables_ipvs_start_fwmark",
        FIREWALL_IPVS,
        "nftables_ipvs_start_fwmark 1000",
    ),
    // Process names.
    ign(G, "process_names", WHY_PROCESS_NAME, "process_names"),
    ign(G, "process_name", WHY_PROCESS_NAME, "process_name lb"),
    ign(
        G,
        "vrrp_process_name",
        WHY_PROCESS_NAME,
        "vrrp_process_name lb_vrrp",
    ),
    ign(
        G,
        "checker_process_name",
        WHY_PROCESS_NAME,
        "checker_process_name lb_check",
    ),
    ign(
        G,
        "lvs_process_name",
        "deprecated alias of checker_process_name; keepalived-rs processes keep their executable names",
        "lvs_process_name lb_check",
    ),
    ign(
        G,
        "bfd_process_name",
        WHY_PROCESS_NAME,
        "bfd_process_name lb_bfd",
    ),
    // SNMP.
    ign(G, "snmp_socket", WHY_SNMP, "snmp_socket udp:192.0.2.5:705"),
    ign(G, "enable_traps", WHY_SNMP, "enable_traps"),
    ign(G, "enable_snmp_vrrp", WHY_SNMP, "enable_snmp_vrrp"),
    ign(
        G,
        "enable_snmp_keepalived",
        "deprecated alias of enable_snmp_vrrp; SNMP is not built into keepalived-rs",
        "enable_snmp_keepalived",
    ),
    ign(G, "enable_snmp_rfc", WHY_SNMP, "enable_snmp_rfc"),
    ign(G, "enable_snmp_rfcv2", WHY_SNMP, "enable_snmp_rfcv2"),
    ign(G, "enable_snmp_rfcv3", WHY_SNMP, "enable_snmp_rfcv3"),
    ign(G, "enable_snmp_checker", WHY_SNMP, "enable_snmp_checker"),
    ign(
        G,
        "snmp_vs_stats_update_interval",
        WHY_SNMP,
        "snmp_vs_stats_update_interval 5",
    ),
    ign(
        G,
        "snmp_rs_stats_update_interval",
        WHY_SNMP,
        "snmp_rs_stats_update_interval 5",
    ),
    // DBus.
    ign(G, "enable_dbus", WHY_DBUS, "enable_dbus"),
    ign(
        G,
        "dbus_service_name",
        WHY_DBUS,
        "dbus_service_name org.keepalived.Vrrp1",
    ),
    ign(
        G,
        "dbus_no_interface_name",
        WHY_DBUS,
        "dbus_no_interface_name none",
    ),
];

/// Keywords whose repetition adds up instead of replacing.
const CUMULATIVE: &[&str] = &[
    "notification_email",
    "include_check",
    "lvs_timeouts",
    "vrrp_startup_delay",
    "vrrp_delay_after_boot",
];

/// Keywords that keepalived takes only once (it ignores a later one): a repetition is an error.
const ONCE: &[&str] = &[
    "startup_script",
    "shutdown_script",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_sync_daemon",
    "vmac_prefix",
    "vmac_addr_prefix",
];

// ---------------------------------------------------------------------------------------------
// The parser.

/// Reads the entries of a `global_defs` block into `g`.
pub fn parse_global_defs(cx: &mut Cx, nodes: &[Node], g: &mut GlobalDefs) {
    cx.dispatch(Block::GlobalDefs, nodes, |cx, n| {
        let Some(row) = crate::keywords::lookup(Block::GlobalDefs, n.kw()) else {
            cx.unhandled(n);
            return;
        };
        let canon = match row.status {
            Status::Deprecated { instead } => instead,
            _ => row.name,
        };
        let prev = g.at.insert(canon, Pos(n.loc));
        if let Some(p) = prev {
            if ONCE.contains(&canon) {
                cx.err_hint(
                    n,
                    format!("'{canon}' is given twice (first at line {})", p.0.line),
                    "keepalived uses the first one and ignores this one; keep only one",
                );
                g.at.insert(canon, p);
                return;
            }
            if !CUMULATIVE.contains(&canon) {
                cx.warn(
                    n,
                    format!(
                        "'{canon}' is given again (first at line {}); this value replaces it",
                        p.0.line
                    ),
                );
            }
        }
        parse_one(cx, n, g, canon);
    });
}

fn report(cx: &mut Cx, n: &Node, i: usize, bad: Bad) {
    cx.err_arg(n, i, bad.0, Some(bad.1));
}

/// `keyword VALUE` where VALUE passes `check`.
fn checked(cx: &mut Cx, n: &Node, check: fn(&str) -> Result<(), Bad>) -> Option<String> {
    let s = cx.string_kw(n)?;
    match check(&s) {
        Ok(()) => Some(s),
        Err(b) => {
            report(cx, n, 0, b);
            None
        }
    }
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

fn set_some<T>(field: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *field = v;
    }
}

fn u32_in(cx: &mut Cx, n: &Node, r: (u64, u64)) -> Option<u32> {
    cx.u64_kw(n, r.0, r.1).and_then(|v| u32::try_from(v).ok())
}

fn flag(cx: &mut Cx, n: &Node, field: &mut bool) {
    if cx.flag_kw(n) {
        *field = true;
    }
}

fn parse_one(cx: &mut Cx, n: &Node, g: &mut GlobalDefs, canon: &'static str) {
    match canon {
        "router_id" => set_some(&mut g.router_id, checked(cx, n, non_empty)),
        "notification_email" => parse_emails(cx, n, g),
        "notification_email_from" => set_some(
            &mut g.notification_email_from,
            checked(cx, n, syntax::email),
        ),
        "smtp_server" => parse_smtp_server(cx, n, g),
        "smtp_helo_name" => set_some(&mut g.smtp_helo_name, checked(cx, n, syntax::host)),
        "smtp_connect_timeout" => set(
            &mut g.smtp_connect_timeout,
            u32_in(cx, n, SMTP_CONNECT_TIMEOUT),
        ),
        "smtp_alert" => set_some(&mut g.smtp_alert, cx.bool_kw(n)),
        "smtp_alert_vrrp" => set_some(&mut g.smtp_alert_vrrp, cx.bool_kw(n)),
        "smtp_alert_checker" => set_some(&mut g.smtp_alert_checker, cx.bool_kw(n)),
        "no_email_faults" => flag(cx, n, &mut g.no_email_faults),
        "no_checker_emails" => set(&mut g.no_checker_emails, cx.bool_kw(n)),
        "checker_log_all_failures" => set(&mut g.checker_log_all_failures, cx.bool_kw(n)),
        "rs_init_notifies" => set(&mut g.rs_init_notifies, cx.bool_kw(n)),

        "script_user" => {
            if cx.args(n, 1, 2) {
                set_some(&mut g.script_user, parse_run_as(cx, n, 0));
            }
        }
        "enable_script_security" => flag(cx, n, &mut g.enable_script_security),
        "use_symlink_paths" => set(&mut g.use_symlink_paths, cx.bool_kw(n)),
        "set_supplementary_groups" => set(&mut g.set_supplementary_groups, cx.bool_kw(n)),
        "startup_script" => set_some(&mut g.startup_script, parse_script(cx, n)),
        "startup_script_timeout" => {
            set(&mut g.startup_script_timeout, u32_in(cx, n, SCRIPT_TIMEOUT))
        }
        "shutdown_script" => set_some(&mut g.shutdown_script, parse_script(cx, n)),
        "shutdown_script_timeout" => set(
            &mut g.shutdown_script_timeout,
            u32_in(cx, n, SCRIPT_TIMEOUT),
        ),

        "notify_fifo" => set_some(&mut g.notify_fifo, parse_fifo(cx, n)),
        "notify_fifo_script" => set_some(&mut g.notify_fifo_script, parse_script(cx, n)),
        "vrrp_notify_fifo" => set_some(&mut g.vrrp_notify_fifo, parse_fifo(cx, n)),
        "vrrp_notify_fifo_script" => set_some(&mut g.vrrp_notify_fifo_script, parse_script(cx, n)),
        "lvs_notify_fifo" => set_some(&mut g.lvs_notify_fifo, parse_fifo(cx, n)),
        "lvs_notify_fifo_script" => set_some(&mut g.lvs_notify_fifo_script, parse_script(cx, n)),
        "vrrp_notify_priority_changes" => set(&mut g.vrrp_notify_priority_changes, cx.bool_kw(n)),
        "fifo_write_vrrp_states_on_reload" => flag(cx, n, &mut g.fifo_write_vrrp_states_on_reload),

        "vrrp_strict" => set(&mut g.vrrp_strict, cx.bool_kw(n)),
        "vrrp_version" => set(
            &mut g.vrrp_version,
            cx.choice_kw(n, &["2", "3"])
                .map(|v| if v == "3" { 3 } else { 2 }),
        ),
        "vrrp_mcast_group4" => {
            if let Some(ip) = cx.ip_kw(n) {
                match mcast4(ip) {
                    Ok(a) => g.vrrp_mcast_group4 = a,
                    Err(b) => report(cx, n, 0, b),
                }
            }
        }
        "vrrp_mcast_group6" => {
            if let Some(ip) = cx.ip_kw(n) {
                match mcast6(ip) {
                    Ok(a) => {
                        if !is_link_local_mcast6(a) {
                            cx.warn(
                                n,
                                format!(
                                    "vrrp_mcast_group6 {a} is not a link-local multicast address (ff02::/16)"
                                ),
                            );
                        }
                        g.vrrp_mcast_group6 = a;
                    }
                    Err(b) => report(cx, n, 0, b),
                }
            }
        }
        "vrrp_skip_check_adv_addr" => set(&mut g.vrrp_skip_check_adv_addr, cx.bool_kw(n)),
        "vrrp_check_unicast_src" => flag(cx, n, &mut g.vrrp_check_unicast_src),
        "vrrp_garp_master_delay" => set(&mut g.vrrp_garp_master_delay, u32_in(cx, n, GARP_DELAY)),
        "vrrp_garp_master_repeat" => {
            set(&mut g.vrrp_garp_master_repeat, u32_in(cx, n, GARP_REPEAT))
        }
        "vrrp_garp_master_refresh" => set(
            &mut g.vrrp_garp_master_refresh,
            u32_in(cx, n, (0, u64::from(u32::MAX))),
        ),
        "vrrp_garp_master_refresh_repeat" => set(
            &mut g.vrrp_garp_master_refresh_repeat,
            u32_in(cx, n, GARP_REPEAT),
        ),
        "vrrp_garp_lower_prio_delay" => {
            set_some(&mut g.vrrp_garp_lower_prio_delay, u32_in(cx, n, GARP_DELAY))
        }
        "vrrp_garp_lower_prio_repeat" => set_some(
            &mut g.vrrp_garp_lower_prio_repeat,
            u32_in(cx, n, GARP_LOWER_PRIO_REPEAT),
        ),
        "vrrp_garp_interval" => set(&mut g.vrrp_garp_interval, garp_interval(cx, n)),
        "vrrp_gna_interval" => set(&mut g.vrrp_gna_interval, garp_interval(cx, n)),
        "vrrp_min_garp" => {
            if let Some(b) = cx.bool_kw(n) {
                g.vrrp_min_garp = b;
                if b {
                    if !g.at.has("vrrp_garp_master_repeat") {
                        g.vrrp_garp_master_repeat = 1;
                    }
                    if !g.at.has("vrrp_garp_master_delay") {
                        g.vrrp_garp_master_delay = 0;
                    }
                }
            }
        }
        "vrrp_garp_extra_if" => set_some(&mut g.vrrp_garp_extra_if, parse_garp_extra_if(cx, n)),
        "vrrp_down_timer_adverts" => set(
            &mut g.vrrp_down_timer_adverts,
            u32_in(cx, n, DOWN_TIMER_ADVERTS),
        ),
        "vrrp_lower_prio_no_advert" => set_some(&mut g.vrrp_lower_prio_no_advert, cx.bool_kw(n)),
        "vrrp_higher_prio_send_advert" => {
            set_some(&mut g.vrrp_higher_prio_send_advert, cx.bool_kw(n))
        }
        "vrrp_owner_ignore_adverts" => set(&mut g.vrrp_owner_ignore_adverts, cx.bool_kw(n)),
        "v3_checksum_as_v2" => {
            if let Some(b) = cx.bool_kw(n) {
                if !b {
                    cx.warn(
                        n,
                        "keepalived 2.4 ignores the value of v3_checksum_as_v2 and turns it on; keepalived-rs leaves it off as written",
                    );
                }
                g.v3_checksum_as_v2 = b;
            }
        }
        "vrrp_startup_delay" => startup_delay(cx, n, &mut g.vrrp_startup_delay),
        "vrrp_delay_after_boot" => startup_delay(cx, n, &mut g.vrrp_delay_after_boot),
        "log_unknown_vrids" => flag(cx, n, &mut g.log_unknown_vrids),
        "default_interface" => set(&mut g.default_interface, checked(cx, n, syntax::if_name)),
        "dynamic_interfaces" => {
            if cx.args(n, 0, 1) {
                if n.nargs() == 0 {
                    g.dynamic_interfaces = true;
                } else if cx.parse_choice(n, 0, &["allow_if_changes"]).is_some() {
                    g.dynamic_interfaces = true;
                    g.allow_if_changes = true;
                }
            }
        }
        "disable_local_igmp" => flag(cx, n, &mut g.disable_local_igmp),
        "vmac_prefix" => set(&mut g.vmac_prefix, checked(cx, n, vmac_prefix)),
        "vmac_addr_prefix" => set_some(&mut g.vmac_addr_prefix, checked(cx, n, vmac_prefix)),
        "vrrp_rx_bufs_policy" => set_some(&mut g.vrrp_rx_bufs_policy, parse_rx_bufs_policy(cx, n)),
        "vrrp_rx_bufs_multiplier" => set(
            &mut g.vrrp_rx_bufs_multiplier,
            u32_in(cx, n, (1, u64::from(u32::MAX))),
        ),

        "vrrp_netlink_cmd_rcv_bufs" => set_some(&mut g.vrrp_netlink_cmd_rcv_bufs, rcv_bufs(cx, n)),
        "vrrp_netlink_cmd_rcv_bufs_force" => {
            set(&mut g.vrrp_netlink_cmd_rcv_bufs_force, cx.bool_kw(n))
        }
        "vrrp_netlink_monitor_rcv_bufs" => {
            set_some(&mut g.vrrp_netlink_monitor_rcv_bufs, rcv_bufs(cx, n))
        }
        "vrrp_netlink_monitor_rcv_bufs_force" => {
            set(&mut g.vrrp_netlink_monitor_rcv_bufs_force, cx.bool_kw(n))
        }
        "lvs_netlink_cmd_rcv_bufs" => set_some(&mut g.lvs_netlink_cmd_rcv_bufs, rcv_bufs(cx, n)),
        "lvs_netlink_cmd_rcv_bufs_force" => {
            set(&mut g.lvs_netlink_cmd_rcv_bufs_force, cx.bool_kw(n))
        }
        "lvs_netlink_monitor_rcv_bufs" => {
            set_some(&mut g.lvs_netlink_monitor_rcv_bufs, rcv_bufs(cx, n))
        }
        "lvs_netlink_monitor_rcv_bufs_force" => {
            set(&mut g.lvs_netlink_monitor_rcv_bufs_force, cx.bool_kw(n))
        }
        "process_monitor_rcv_bufs" => set_some(&mut g.process_monitor_rcv_bufs, rcv_bufs(cx, n)),
        "process_monitor_rcv_bufs_force" => {
            set(&mut g.process_monitor_rcv_bufs_force, cx.bool_kw(n))
        }

        "lvs_flush" => flag(cx, n, &mut g.lvs_flush),
        "lvs_flush_on_stop" => {
            if cx.args(n, 0, 1) {
                if n.nargs() == 0 {
                    g.lvs_flush_on_stop = Some(LvsFlushOnStop::Full);
                } else if cx.parse_choice(n, 0, &["VS"]).is_some() {
                    g.lvs_flush_on_stop = Some(LvsFlushOnStop::Vs);
                }
            }
        }
        "lvs_timeouts" => parse_lvs_timeouts(cx, n, &mut g.lvs_timeouts),
        "lvs_sync_daemon" => set_some(&mut g.lvs_sync_daemon, parse_lvs_sync_daemon(cx, n)),

        "max_auto_priority" => {
            if cx.args(n, 0, 1) {
                if n.nargs() == 0 {
                    g.max_auto_priority = MAX_AUTO_PRIORITY.1 as i32;
                } else {
                    set(
                        &mut g.max_auto_priority,
                        cx.parse_i64(n, 0, MAX_AUTO_PRIORITY.0, MAX_AUTO_PRIORITY.1)
                            .and_then(|v| i32::try_from(v).ok()),
                    );
                }
            }
        }
        "min_auto_priority_delay" => set(
            &mut g.min_auto_priority_delay,
            u32_in(cx, n, MIN_AUTO_PRIORITY_DELAY),
        ),
        "vrrp_priority" => set(&mut g.vrrp_priority, nice(cx, n)),
        "vrrp_no_swap" => flag(cx, n, &mut g.vrrp_no_swap),
        "vrrp_rt_priority" => set_some(&mut g.vrrp_rt_priority, rt_priority(cx, n)),
        "vrrp_cpu_affinity" => set(&mut g.vrrp_cpu_affinity, cpu_affinity(cx, n)),
        "vrrp_rlimit_rttime" => set(&mut g.vrrp_rlimit_rttime, u32_in(cx, n, RLIMIT_RTTIME)),
        "checker_priority" => set(&mut g.checker_priority, nice(cx, n)),
        "checker_no_swap" => flag(cx, n, &mut g.checker_no_swap),
        "checker_rt_priority" => set_some(&mut g.checker_rt_priority, rt_priority(cx, n)),
        "checker_cpu_affinity" => set(&mut g.checker_cpu_affinity, cpu_affinity(cx, n)),
        "checker_rlimit_rttime" => set(&mut g.checker_rlimit_rttime, u32_in(cx, n, RLIMIT_RTTIME)),

        "umask" => set(&mut g.umask, parse_umask(cx, n)),
        "random_seed" => set_some(&mut g.random_seed, u32_in(cx, n, (0, u64::from(u32::MAX)))),
        "reload_check_config" => {
            if cx.args(n, 0, 1) {
                match n.arg(0) {
                    None => g.reload_check_config = Some("/dev/null".into()),
                    Some(p) => match syntax::path(p) {
                        Ok(()) => g.reload_check_config = Some(p.to_string()),
                        Err(b) => report(cx, n, 0, b),
                    },
                }
            }
        }
        "reload_time_file" => set_some(&mut g.reload_time_file, checked(cx, n, syntax::abs_path)),
        "reload_repeat" => flag(cx, n, &mut g.reload_repeat),
        "reload_file" => {
            if cx.args(n, 0, 1) {
                match n.arg(0) {
                    None => g.reload_file = Some(String::new()),
                    Some(p) => match syntax::abs_path(p) {
                        Ok(()) => g.reload_file = Some(p.to_string()),
                        Err(b) => report(cx, n, 0, b),
                    },
                }
            }
        }
        "include_check" => parse_include_check(cx, n, g),
        "config_save_dir" => set_some(&mut g.config_save_dir, checked(cx, n, syntax::path)),
        "data_use_instance" => set(&mut g.data_use_instance, cx.bool_kw(n)),
        "json_version" => set(
            &mut g.json_version,
            cx.choice_kw(n, &["1", "2"])
                .map(|v| if v == "2" { 2 } else { 1 }),
        ),
        "iproute_usr_dir" => set_some(&mut g.iproute_usr_dir, checked(cx, n, syntax::path)),
        "iproute_etc_dir" => set_some(&mut g.iproute_etc_dir, checked(cx, n, syntax::path)),
        "state_dump_file" => set_some(&mut g.state_dump_file, checked(cx, n, syntax::path)),
        "stats_dump_file" => set_some(&mut g.stats_dump_file, checked(cx, n, syntax::path)),
        "json_dump_file" => set_some(&mut g.json_dump_file, checked(cx, n, syntax::path)),
        _ => cx.unhandled(n),
    }
}

fn non_empty(s: &str) -> Result<(), Bad> {
    if s.is_empty() {
        Err(("the value is empty".into(), "write a name".into()))
    } else {
        Ok(())
    }
}

fn vmac_prefix(s: &str) -> Result<(), Bad> {
    syntax::if_name(s).map_err(|(m, _)| {
        (
            m,
            "a VMAC prefix is the start of an interface name: 1 to 15 characters, no '/', ':' or spaces"
                .into(),
        )
    })
}

fn parse_emails(cx: &mut Cx, n: &Node, g: &mut GlobalDefs) {
    if n.block.is_none() {
        cx.err_hint(
            n,
            "'notification_email' needs a block of addresses",
            "write 'notification_email {', then the addresses, one per line, then '}'",
        );
        return;
    }
    let Some(entries) = cx.block_args(n, 0, 0) else {
        return;
    };
    if entries.is_empty() {
        cx.warn(n, "notification_email is empty: no alert email can be sent");
    }
    for e in entries {
        if !cx.no_block(e) {
            continue;
        }
        for (i, w) in e.words().enumerate() {
            match syntax::email(w) {
                Ok(()) => {
                    if g.notification_email.iter().any(|x| x == w) {
                        cx.warn(e, format!("'{w}' is listed twice in notification_email"));
                    } else {
                        g.notification_email.push(w.to_string());
                    }
                }
                Err(b) => cx.err_tok(e, i, b.0, Some(b.1)),
            }
        }
    }
}

fn parse_smtp_server(cx: &mut Cx, n: &Node, g: &mut GlobalDefs) {
    if !cx.args(n, 1, 2) {
        return;
    }
    let Some(host) = n.arg(0) else { return };
    let host_ok = match syntax::host(host) {
        Ok(()) => true,
        Err(b) => {
            report(cx, n, 0, b);
            false
        }
    };
    let port = if n.nargs() == 2 {
        cx.parse_u64(n, 1, 1, 65_535)
            .and_then(|p| u16::try_from(p).ok())
    } else {
        Some(DEFAULT_SMTP_PORT)
    };
    if let (true, Some(port)) = (host_ok, port) {
        g.smtp_server = Some(SmtpServer {
            host: host.to_string(),
            port,
        });
    }
}

/// `USER [[:]GROUP]` from argument `first` on.
fn parse_run_as(cx: &mut Cx, n: &Node, first: usize) -> Option<ScriptUser> {
    let user = n.arg(first)?;
    let mut ok = true;
    if let Err(b) = syntax::account_name(user, "user") {
        report(cx, n, first, b);
        ok = false;
    }
    let mut su = ScriptUser {
        user: user.to_string(),
        group: None,
        supplementary_groups: false,
    };
    if let Some(g) = n.arg(first + 1) {
        let name = match g.strip_prefix(':') {
            Some(rest) => {
                su.supplementary_groups = true;
                rest
            }
            None => g,
        };
        if !name.is_empty() {
            if let Err(b) = syntax::account_name(name, "group") {
                report(cx, n, first + 1, b);
                ok = false;
            }
            su.group = Some(name.to_string());
        }
    }
    ok.then_some(su)
}

fn parse_fifo(cx: &mut Cx, n: &Node) -> Option<Fifo> {
    if !cx.args(n, 1, 3) {
        return None;
    }
    let path = n.arg(0)?;
    if let Err(b) = syntax::path(path) {
        report(cx, n, 0, b);
        return None;
    }
    let mut fifo = Fifo {
        path: path.to_string(),
        ..Fifo::default()
    };
    if n.nargs() > 1 {
        let su = parse_run_as(cx, n, 1)?;
        fifo.user = Some(su.user);
        fifo.group = su.group;
        fifo.supplementary_groups = su.supplementary_groups;
    }
    Some(fifo)
}

fn parse_script(cx: &mut Cx, n: &Node) -> Option<Script> {
    let s = cx.script_kw(n)?;
    if let Err(b) = script_user_ok(&s) {
        cx.err_hint(n, b.0, b.1);
        return None;
    }
    Some(s)
}

fn script_user_ok(s: &Script) -> Result<(), Bad> {
    if let Some(u) = &s.user {
        syntax::account_name(u, "user")?;
    }
    if let Some(g) = s.group.as_deref().filter(|g| !g.is_empty()) {
        syntax::account_name(g, "group")?;
    }
    Ok(())
}

fn mcast4(ip: IpAddr) -> Result<Ipv4Addr, Bad> {
    match ip {
        IpAddr::V4(a) if a.is_multicast() => Ok(a),
        IpAddr::V4(a) => Err((
            format!("{a} is not an IPv4 multicast address"),
            "use an address in 224.0.0.0/4; the VRRP group is 224.0.0.18".into(),
        )),
        IpAddr::V6(a) => Err((
            format!("{a} is an IPv6 address; vrrp_mcast_group4 takes IPv4"),
            "write IPv6 groups with vrrp_mcast_group6".into(),
        )),
    }
}

fn mcast6(ip: IpAddr) -> Result<Ipv6Addr, Bad> {
    match ip {
        IpAddr::V6(a) if a.is_multicast() => Ok(a),
        IpAddr::V6(a) => Err((
            format!("{a} is not an IPv6 multicast address"),
            "use an address in ff00::/8; the VRRP group is ff02::12".into(),
        )),
        IpAddr::V4(a) => Err((
            format!("{a} is an IPv4 address; vrrp_mcast_group6 takes IPv6"),
            "write IPv4 groups with vrrp_mcast_group4".into(),
        )),
    }
}

fn is_link_local_mcast6(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xff0f == 0xff02
}

fn garp_interval(cx: &mut Cx, n: &Node) -> Option<Timer> {
    let t = cx.timer_kw(n, GARP_INTERVAL.0, GARP_INTERVAL.1)?;
    if t >= Timer::secs(1) {
        cx.warn(
            n,
            format!(
                "'{}' of {t} seconds is very large: it is the gap between two messages on one interface",
                n.kw()
            ),
        );
    }
    Some(t)
}

fn startup_delay(cx: &mut Cx, n: &Node, field: &mut Option<Timer>) {
    let Some(t) = cx.timer_kw(n, STARTUP_DELAY.0, STARTUP_DELAY.1) else {
        return;
    };
    match *field {
        Some(old) if old != t => {
            cx.warn(
                n,
                format!(
                    "'{}' is given again: the longer delay ({}) is used, as keepalived does",
                    n.kw(),
                    old.max(t)
                ),
            );
            *field = Some(old.max(t));
        }
        _ => *field = Some(t),
    }
}

fn parse_garp_extra_if(cx: &mut Cx, n: &Node) -> Option<GarpExtraIf> {
    if !cx.args(n, 1, 2) {
        return None;
    }
    let mut out = GarpExtraIf::default();
    let mut interval = None;
    let mut ok = true;
    for i in 0..n.nargs() {
        let w = n.arg(i).unwrap_or("");
        if w == "all" {
            if out.all {
                cx.err_arg(n, i, "'all' is given twice", None);
                ok = false;
            }
            out.all = true;
        } else if interval.is_some() {
            cx.err_arg(
                n,
                i,
                format!("'{w}': the interval is already given"),
                Some("write: vrrp_garp_extra_if [all] SECONDS".into()),
            );
            ok = false;
        } else {
            match cx.parse_u64(n, i, GARP_EXTRA_IF.0, GARP_EXTRA_IF.1) {
                Some(v) => interval = u32::try_from(v).ok(),
                None => ok = false,
            }
        }
    }
    match interval {
        Some(v) if ok => {
            out.interval = v;
            Some(out)
        }
        None if ok => {
            cx.err_hint(
                n,
                format!("'{}' needs an interval in seconds", n.kw()),
                "write: vrrp_garp_extra_if [all] SECONDS, e.g. vrrp_garp_extra_if all 100",
            );
            None
        }
        _ => None,
    }
}

fn parse_rx_bufs_policy(cx: &mut Cx, n: &Node) -> Option<RxBufsPolicy> {
    if !cx.args(n, 1, 1) {
        return None;
    }
    let w = n.arg(0)?;
    if w.eq_ignore_ascii_case("mtu") {
        return Some(RxBufsPolicy::Mtu);
    }
    if w.eq_ignore_ascii_case("advert") {
        return Some(RxBufsPolicy::Advert);
    }
    if w.bytes().all(|b| b.is_ascii_digit()) {
        return cx
            .parse_u64(n, 0, 1, u64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok())
            .map(RxBufsPolicy::Size);
    }
    let hint = nearest(&w.to_ascii_uppercase(), ["MTU", "ADVERT"])
        .map(|c| format!("did you mean '{c}'?"))
        .unwrap_or_else(|| "write MTU, ADVERT or a size in bytes".into());
    cx.err_arg(
        n,
        0,
        format!("'{w}' is not valid for 'vrrp_rx_bufs_policy': MTU, ADVERT or a size in bytes"),
        Some(hint),
    );
    None
}

fn rcv_bufs(cx: &mut Cx, n: &Node) -> Option<u32> {
    u32_in(cx, n, (1, u64::from(u32::MAX)))
}

fn nice(cx: &mut Cx, n: &Node) -> Option<i8> {
    cx.i64_kw(n, NICE.0, NICE.1)
        .and_then(|v| i8::try_from(v).ok())
}

fn rt_priority(cx: &mut Cx, n: &Node) -> Option<u8> {
    cx.u64_kw(n, RT_PRIORITY.0, RT_PRIORITY.1)
        .and_then(|v| u8::try_from(v).ok())
}

fn cpu_affinity(cx: &mut Cx, n: &Node) -> Option<Vec<u16>> {
    if !cx.args(n, 1, usize::MAX) {
        return None;
    }
    let mut cpus: Vec<u16> = Vec::new();
    let mut ok = true;
    for i in 0..n.nargs() {
        match cx
            .parse_u64(n, i, CPU_ID.0, CPU_ID.1)
            .and_then(|v| u16::try_from(v).ok())
        {
            Some(c) if cpus.contains(&c) => {
                cx.warn(n, format!("CPU {c} is listed twice in '{}'", n.kw()));
            }
            Some(c) => cpus.push(c),
            None => ok = false,
        }
    }
    ok.then_some(cpus)
}

fn parse_umask(cx: &mut Cx, n: &Node) -> Option<u32> {
    if !cx.args(n, 1, usize::MAX) {
        return None;
    }
    let first = n.arg(0)?;
    let r = if first.starts_with(|c: char| c.is_ascii_digit()) {
        if n.nargs() > 1 {
            let extra = n.arg(1).unwrap_or("");
            cx.err_arg(
                n,
                1,
                format!("unexpected '{extra}' after the umask number"),
                Some("write one number, e.g. umask 0177".into()),
            );
            return None;
        }
        syntax::umask_number(first)
    } else {
        let words: Vec<&str> = n.args().collect();
        syntax::umask_bits(&words)
    };
    match r {
        Ok(v) => Some(v),
        Err(b) => {
            report(cx, n, 0, b);
            None
        }
    }
}

fn parse_include_check(cx: &mut Cx, n: &Node, g: &mut GlobalDefs) {
    if !cx.no_block(n) {
        return;
    }
    let args: Vec<&str> = n.args().collect();
    let mut ic: IncludeCheck = g.include_check.map(Into::into).unwrap_or_default();
    match ic.apply(&args) {
        Ok(()) => g.include_check = Some(ic.into()),
        Err(bad) => {
            const NAMES: [&str; 4] = ["read", "match", "wildcard_match", "brace_match"];
            let i = args
                .iter()
                .position(|a| a.strip_prefix(['+', '-']).unwrap_or(a) == bad)
                .unwrap_or(0);
            let hint = match nearest(&bad, NAMES) {
                Some(c) => format!("did you mean '{c}'?"),
                None => format!(
                    "the checks are {} (with an optional + or -)",
                    NAMES.join(", ")
                ),
            };
            cx.err_arg(n, i, format!("'{bad}' is not an include check"), Some(hint));
        }
    }
}

fn parse_lvs_timeouts(cx: &mut Cx, n: &Node, out: &mut LvsTimeouts) {
    if !cx.no_block(n) {
        return;
    }
    if n.nargs() == 0 {
        cx.err_hint(
            n,
            "'lvs_timeouts' needs at least one timeout",
            "write e.g. lvs_timeouts tcp 7200 tcpfin 120 udp 300",
        );
        return;
    }
    const OPTS: [&str; 3] = ["tcp", "tcpfin", "udp"];
    let mut t = LvsTimeouts::default();
    let mut ok = true;
    let mut i = 0;
    while i < n.nargs() {
        let w = n.arg(i).unwrap_or("");
        let slot = match w {
            "tcp" => &mut t.tcp,
            "tcpfin" => &mut t.tcpfin,
            "udp" => &mut t.udp,
            _ => {
                let hint = nearest(w, OPTS)
                    .map(|c| format!("did you mean '{c}'?"))
                    .unwrap_or_else(|| "the options are tcp, tcpfin and udp".into());
                cx.err_arg(
                    n,
                    i,
                    format!("unknown lvs_timeouts option '{w}'"),
                    Some(hint),
                );
                ok = false;
                // Skip its value too, so that one mistake gives one error.
                i += if n.arg(i + 1).is_some_and(|v| !OPTS.contains(&v)) {
                    2
                } else {
                    1
                };
                continue;
            }
        };
        if slot.is_some() {
            cx.err_arg(n, i, format!("'{w}' is given twice"), None);
            ok = false;
        }
        if i + 1 >= n.nargs() {
            cx.err_arg(
                n,
                i,
                format!("lvs_timeouts '{w}' needs a number of seconds"),
                None,
            );
            ok = false;
            break;
        }
        match cx
            .parse_u64(n, i + 1, LVS_TIMEOUT.0, LVS_TIMEOUT.1)
            .and_then(|v| u32::try_from(v).ok())
        {
            Some(v) => *slot = Some(v),
            None => ok = false,
        }
        i += 2;
    }
    if ok {
        if t.tcp.is_some() {
            out.tcp = t.tcp;
        }
        if t.tcpfin.is_some() {
            out.tcpfin = t.tcpfin;
        }
        if t.udp.is_some() {
            out.udp = t.udp;
        }
    }
}

fn parse_lvs_sync_daemon(cx: &mut Cx, n: &Node) -> Option<LvsSyncDaemon> {
    if !cx.no_block(n) {
        return None;
    }
    let Some(iface) = n.arg(0) else {
        cx.err_hint(
            n,
            "'lvs_sync_daemon' needs an interface",
            "write e.g. lvs_sync_daemon eth1 inst VI_1",
        );
        return None;
    };
    let mut ok = true;
    if let Err(b) = syntax::if_name(iface) {
        report(cx, n, 0, b);
        ok = false;
    }
    const OPTS: [&str; 6] = ["inst", "id", "maxlen", "port", "ttl", "group"];
    let mut d = LvsSyncDaemon {
        interface: iface.to_string(),
        ..LvsSyncDaemon::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut i = 1;
    while i < n.nargs() {
        let w = n.arg(i).unwrap_or("");
        if OPTS.contains(&w) {
            if seen.contains(&w) || (w == "inst" && d.inst.is_some()) {
                cx.err_arg(n, i, format!("'{w}' is given twice"), None);
                ok = false;
            }
            seen.push(w);
            let Some(v) = n.arg(i + 1) else {
                cx.err_arg(n, i, format!("lvs_sync_daemon '{w}' needs a value"), None);
                ok = false;
                break;
            };
            let good = match w {
                "inst" => {
                    d.inst = Some(v.to_string());
                    true
                }
                "id" => sync_num(cx, n, i + 1, "id", (0, 255), |x| {
                    d.id = u8::try_from(x).ok()
                }),
                "maxlen" => sync_num(cx, n, i + 1, "maxlen", SYNC_MAXLEN, |x| {
                    d.maxlen = u16::try_from(x).ok()
                }),
                "port" => sync_num(cx, n, i + 1, "port", (1, 65_535), |x| {
                    d.port = u16::try_from(x).ok()
                }),
                "ttl" => sync_num(cx, n, i + 1, "ttl", (1, 255), |x| {
                    d.ttl = u8::try_from(x).ok()
                }),
                _ => match cx.parse_ip(n, i + 1) {
                    Some(ip) if is_multicast(ip) => {
                        d.group = Some(ip);
                        true
                    }
                    Some(ip) => {
                        cx.err_arg(
                            n,
                            i + 1,
                            format!("lvs_sync_daemon group {ip} is not a multicast address"),
                            Some("the kernel's default group is 224.0.0.81".into()),
                        );
                        false
                    }
                    None => false,
                },
            };
            ok &= good;
            i += 2;
            continue;
        }
        if i == 1 {
            // keepalived's older form: lvs_sync_daemon IF VRRP_INSTANCE [SYNC_ID].
            d.inst = Some(w.to_string());
            i += 1;
            continue;
        }
        if i == 2 && d.id.is_none() && w.bytes().all(|b| b.is_ascii_digit()) && !w.is_empty() {
            if sync_num(cx, n, i, "id", (0, 255), |x| d.id = u8::try_from(x).ok()) {
                cx.report(
                    crate::diag::Severity::Warning,
                    n.arg_loc(i),
                    "a sync id without 'id' before it is an old form",
                    Some(n.text.to_string()),
                    Some(format!("write 'id {w}'")),
                );
            } else {
                ok = false;
            }
            seen.push("id");
            i += 1;
            continue;
        }
        let hint = nearest(w, OPTS)
            .map(|c| format!("did you mean '{c}'?"))
            .unwrap_or_else(|| format!("the options are {}", OPTS.join(", ")));
        cx.err_arg(
            n,
            i,
            format!("unknown lvs_sync_daemon option '{w}'"),
            Some(hint),
        );
        ok = false;
        // Skip its value too, so that one mistake gives one error.
        i += if n.arg(i + 1).is_some_and(|v| !OPTS.contains(&v)) {
            2
        } else {
            1
        };
    }
    ok.then_some(d)
}

fn sync_num(
    cx: &mut Cx,
    n: &Node,
    i: usize,
    what: &str,
    r: (u64, u64),
    mut store: impl FnMut(u64),
) -> bool {
    let s = n.arg(i).unwrap_or("");
    match s.parse::<u64>() {
        Ok(v) if (r.0..=r.1).contains(&v) => {
            store(v);
            true
        }
        Ok(_) => {
            cx.err_arg(
                n,
                i,
                format!(
                    "'{s}' is out of range for lvs_sync_daemon {what}: {} to {}",
                    r.0, r.1
                ),
                None,
            );
            false
        }
        Err(_) => {
            cx.err_arg(
                n,
                i,
                format!(
                    "'{s}' is not a number (lvs_sync_daemon {what} takes {} to {})",
                    r.0, r.1
                ),
                None,
            );
            false
        }
    }
}

fn is_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks after parsing.

/// Checks of the global settings: the values (again, for TOML) and the rules that involve
/// several keywords.
pub fn validate(cx: &mut Cx, config: &Config) {
    let g = &config.global_defs;
    check_values(cx, g);
    check_strict(cx, g);
    check_fifos(cx, g);
    check_alerts(cx, g);
    check_orphans(cx, g);
}

fn bad_at(cx: &mut Cx, g: &GlobalDefs, keyword: &str, b: Bad) {
    cx.err_at(g.pos(keyword), format!("{keyword}: {}", b.0), Some(b.1));
}

fn range(cx: &mut Cx, g: &GlobalDefs, keyword: &str, v: i64, lo: i64, hi: i64) {
    if !(lo..=hi).contains(&v) {
        cx.err_at(
            g.pos(keyword),
            format!("{keyword} {v} is out of range: {lo} to {hi}"),
            None,
        );
    }
}

fn urange(cx: &mut Cx, g: &GlobalDefs, keyword: &str, v: u64, r: (u64, u64)) {
    if !(r.0..=r.1).contains(&v) {
        cx.err_at(
            g.pos(keyword),
            format!("{keyword} {v} is out of range: {} to {}", r.0, r.1),
            None,
        );
    }
}

fn check_str(
    cx: &mut Cx,
    g: &GlobalDefs,
    keyword: &str,
    v: Option<&str>,
    f: fn(&str) -> Result<(), Bad>,
) {
    if let Some(Err(b)) = v.map(f) {
        bad_at(cx, g, keyword, b);
    }
}

fn check_values(cx: &mut Cx, g: &GlobalDefs) {
    check_str(cx, g, "router_id", g.router_id.as_deref(), non_empty);
    for e in &g.notification_email {
        if let Err(b) = syntax::email(e) {
            bad_at(cx, g, "notification_email", b);
        }
    }
    check_str(
        cx,
        g,
        "notification_email_from",
        g.notification_email_from.as_deref(),
        syntax::email,
    );
    if let Some(s) = &g.smtp_server {
        if let Err(b) = syntax::host(&s.host) {
            bad_at(cx, g, "smtp_server", b);
        }
        urange(cx, g, "smtp_server", u64::from(s.port), (1, 65_535));
    }
    check_str(
        cx,
        g,
        "smtp_helo_name",
        g.smtp_helo_name.as_deref(),
        syntax::host,
    );
    urange(
        cx,
        g,
        "smtp_connect_timeout",
        u64::from(g.smtp_connect_timeout),
        SMTP_CONNECT_TIMEOUT,
    );
    if let Some(su) = &g.script_user {
        if let Err(b) = syntax::account_name(&su.user, "user") {
            bad_at(cx, g, "script_user", b);
        }
        if let Some(Err(b)) = su
            .group
            .as_deref()
            .map(|x| syntax::account_name(x, "group"))
        {
            bad_at(cx, g, "script_user", b);
        }
    }
    urange(
        cx,
        g,
        "startup_script_timeout",
        u64::from(g.startup_script_timeout),
        SCRIPT_TIMEOUT,
    );
    urange(
        cx,
        g,
        "shutdown_script_timeout",
        u64::from(g.shutdown_script_timeout),
        SCRIPT_TIMEOUT,
    );
    for (k, s) in g.scripts() {
        if s.argv.is_empty() || s.command.is_empty() {
            cx.err_at(g.pos(k), format!("{k}: the command is empty"), None);
        }
        if let Err(b) = script_user_ok(s) {
            bad_at(cx, g, k, b);
        }
    }
    for (k, f) in [
        ("notify_fifo", &g.notify_fifo),
        ("vrrp_notify_fifo", &g.vrrp_notify_fifo),
        ("lvs_notify_fifo", &g.lvs_notify_fifo),
    ] {
        let Some(f) = f else { continue };
        if let Err(b) = syntax::path(&f.path) {
            bad_at(cx, g, k, b);
        }
        if let Some(Err(b)) = f.user.as_deref().map(|x| syntax::account_name(x, "user")) {
            bad_at(cx, g, k, b);
        }
        if let Some(Err(b)) = f.group.as_deref().map(|x| syntax::account_name(x, "group")) {
            bad_at(cx, g, k, b);
        }
        if f.group.is_some() && f.user.is_none() {
            cx.err_at(
                g.pos(k),
                format!("{k}: a group is given without a user"),
                Some("give the user first: FIFO USER GROUP".into()),
            );
        }
    }
    if !(2..=3).contains(&g.vrrp_version) {
        cx.err_at(
            g.pos("vrrp_version"),
            format!("vrrp_version {} is not 2 or 3", g.vrrp_version),
            None,
        );
    }
    if let Err(b) = mcast4(IpAddr::V4(g.vrrp_mcast_group4)) {
        bad_at(cx, g, "vrrp_mcast_group4", b);
    }
    if let Err(b) = mcast6(IpAddr::V6(g.vrrp_mcast_group6)) {
        bad_at(cx, g, "vrrp_mcast_group6", b);
    }
    urange(
        cx,
        g,
        "vrrp_garp_master_delay",
        u64::from(g.vrrp_garp_master_delay),
        GARP_DELAY,
    );
    urange(
        cx,
        g,
        "vrrp_garp_master_repeat",
        u64::from(g.vrrp_garp_master_repeat),
        GARP_REPEAT,
    );
    urange(
        cx,
        g,
        "vrrp_garp_master_refresh_repeat",
        u64::from(g.vrrp_garp_master_refresh_repeat),
        GARP_REPEAT,
    );
    if let Some(v) = g.vrrp_garp_lower_prio_delay {
        urange(
            cx,
            g,
            "vrrp_garp_lower_prio_delay",
            u64::from(v),
            GARP_DELAY,
        );
    }
    if let Some(v) = g.vrrp_garp_lower_prio_repeat {
        urange(
            cx,
            g,
            "vrrp_garp_lower_prio_repeat",
            u64::from(v),
            GARP_LOWER_PRIO_REPEAT,
        );
    }
    for (k, t) in [
        ("vrrp_garp_interval", g.vrrp_garp_interval),
        ("vrrp_gna_interval", g.vrrp_gna_interval),
    ] {
        if t > GARP_INTERVAL.1 {
            cx.err_at(
                g.pos(k),
                format!(
                    "{k} {t} is out of range: at most {} seconds",
                    GARP_INTERVAL.1
                ),
                None,
            );
        }
    }
    if let Some(x) = &g.vrrp_garp_extra_if {
        urange(
            cx,
            g,
            "vrrp_garp_extra_if",
            u64::from(x.interval),
            GARP_EXTRA_IF,
        );
    }
    urange(
        cx,
        g,
        "vrrp_down_timer_adverts",
        u64::from(g.vrrp_down_timer_adverts),
        DOWN_TIMER_ADVERTS,
    );
    for (k, t) in [
        ("vrrp_startup_delay", g.vrrp_startup_delay),
        ("vrrp_delay_after_boot", g.vrrp_delay_after_boot),
    ] {
        if let Some(t) = t {
            if t < STARTUP_DELAY.0 || t > STARTUP_DELAY.1 {
                cx.err_at(
                    g.pos(k),
                    format!(
                        "{k} {t} is out of range: {} to {} seconds",
                        STARTUP_DELAY.0, STARTUP_DELAY.1
                    ),
                    None,
                );
            }
        }
    }
    if let Err(b) = syntax::if_name(&g.default_interface) {
        bad_at(cx, g, "default_interface", b);
    }
    if g.allow_if_changes && !g.dynamic_interfaces {
        cx.err_at(
            g.pos("dynamic_interfaces"),
            "allow_if_changes is set without dynamic_interfaces",
            Some("set dynamic_interfaces too".into()),
        );
    }
    check_str(
        cx,
        g,
        "vmac_prefix",
        Some(g.vmac_prefix.as_str()),
        vmac_prefix,
    );
    check_str(
        cx,
        g,
        "vmac_addr_prefix",
        g.vmac_addr_prefix.as_deref(),
        vmac_prefix,
    );
    if let Some(RxBufsPolicy::Size(0)) = g.vrrp_rx_bufs_policy {
        cx.err_at(
            g.pos("vrrp_rx_bufs_policy"),
            "vrrp_rx_bufs_policy size 0 is out of range: 1 or more bytes",
            None,
        );
    }
    urange(
        cx,
        g,
        "vrrp_rx_bufs_multiplier",
        u64::from(g.vrrp_rx_bufs_multiplier),
        (1, u64::from(u32::MAX)),
    );
    for (k, v) in [
        ("vrrp_netlink_cmd_rcv_bufs", g.vrrp_netlink_cmd_rcv_bufs),
        (
            "vrrp_netlink_monitor_rcv_bufs",
            g.vrrp_netlink_monitor_rcv_bufs,
        ),
        ("lvs_netlink_cmd_rcv_bufs", g.lvs_netlink_cmd_rcv_bufs),
        (
            "lvs_netlink_monitor_rcv_bufs",
            g.lvs_netlink_monitor_rcv_bufs,
        ),
        ("process_monitor_rcv_bufs", g.process_monitor_rcv_bufs),
    ] {
        if v == Some(0) {
            cx.err_at(
                g.pos(k),
                format!("{k} 0 is out of range: 1 or more bytes"),
                None,
            );
        }
    }
    for v in [
        g.lvs_timeouts.tcp,
        g.lvs_timeouts.tcpfin,
        g.lvs_timeouts.udp,
    ]
    .into_iter()
    .flatten()
    {
        urange(cx, g, "lvs_timeouts", u64::from(v), LVS_TIMEOUT);
    }
    if let Some(d) = &g.lvs_sync_daemon {
        if let Err(b) = syntax::if_name(&d.interface) {
            bad_at(cx, g, "lvs_sync_daemon", b);
        }
        if let Some(v) = d.maxlen {
            urange(cx, g, "lvs_sync_daemon", u64::from(v), SYNC_MAXLEN);
        }
        if d.port == Some(0) {
            cx.err_at(
                g.pos("lvs_sync_daemon"),
                "lvs_sync_daemon port 0 is out of range: 1 to 65535",
                None,
            );
        }
        if d.ttl == Some(0) {
            cx.err_at(
                g.pos("lvs_sync_daemon"),
                "lvs_sync_daemon ttl 0 is out of range: 1 to 255",
                None,
            );
        }
        if let Some(ip) = d.group.filter(|ip| !is_multicast(*ip)) {
            cx.err_at(
                g.pos("lvs_sync_daemon"),
                format!("lvs_sync_daemon group {ip} is not a multicast address"),
                None,
            );
        }
        if d.inst.as_deref() == Some("") {
            cx.err_at(
                g.pos("lvs_sync_daemon"),
                "lvs_sync_daemon inst is empty",
                None,
            );
        }
    }
    range(
        cx,
        g,
        "max_auto_priority",
        i64::from(g.max_auto_priority),
        MAX_AUTO_PRIORITY.0,
        MAX_AUTO_PRIORITY.1,
    );
    urange(
        cx,
        g,
        "min_auto_priority_delay",
        u64::from(g.min_auto_priority_delay),
        MIN_AUTO_PRIORITY_DELAY,
    );
    for (k, v) in [
        ("vrrp_priority", g.vrrp_priority),
        ("checker_priority", g.checker_priority),
    ] {
        range(cx, g, k, i64::from(v), NICE.0, NICE.1);
    }
    for (k, v) in [
        ("vrrp_rt_priority", g.vrrp_rt_priority),
        ("checker_rt_priority", g.checker_rt_priority),
    ] {
        if let Some(v) = v {
            urange(cx, g, k, u64::from(v), RT_PRIORITY);
        }
    }
    for (k, v) in [
        ("vrrp_cpu_affinity", &g.vrrp_cpu_affinity),
        ("checker_cpu_affinity", &g.checker_cpu_affinity),
    ] {
        for c in v {
            urange(cx, g, k, u64::from(*c), CPU_ID);
        }
    }
    for (k, v) in [
        ("vrrp_rlimit_rttime", g.vrrp_rlimit_rttime),
        ("checker_rlimit_rttime", g.checker_rlimit_rttime),
    ] {
        urange(cx, g, k, u64::from(v), RLIMIT_RTTIME);
    }
    if g.umask & !syntax::UMASK_BITS != 0 {
        cx.err_at(
            g.pos("umask"),
            format!("umask {:o} has bits outside 0777", g.umask),
            None,
        );
    }
    check_str(
        cx,
        g,
        "reload_check_config",
        g.reload_check_config.as_deref(),
        syntax::path,
    );
    check_str(
        cx,
        g,
        "reload_time_file",
        g.reload_time_file.as_deref(),
        syntax::abs_path,
    );
    check_str(
        cx,
        g,
        "reload_file",
        g.reload_file.as_deref().filter(|p| !p.is_empty()),
        syntax::abs_path,
    );
    if !(1..=2).contains(&g.json_version) {
        cx.err_at(
            g.pos("json_version"),
            format!("json_version {} is not 1 or 2", g.json_version),
            None,
        );
    }
    for (k, v) in [
        ("config_save_dir", &g.config_save_dir),
        ("iproute_usr_dir", &g.iproute_usr_dir),
        ("iproute_etc_dir", &g.iproute_etc_dir),
        ("state_dump_file", &g.state_dump_file),
        ("stats_dump_file", &g.stats_dump_file),
        ("json_dump_file", &g.json_dump_file),
    ] {
        check_str(cx, g, k, v.as_deref(), syntax::path);
    }
}

/// `vrrp_strict` against the global settings it overrides (keepalived silently replaces
/// them in every instance; the settings would not mean what they say).
fn check_strict(cx: &mut Cx, g: &GlobalDefs) {
    if !g.vrrp_strict {
        return;
    }
    let strict_line = g.pos("vrrp_strict").0.line;
    let hint = |what: &str| {
        Some(if strict_line > 0 {
            format!("vrrp_strict (line {strict_line}) {what}; remove one of the two")
        } else {
            format!("vrrp_strict {what}; remove one of the two")
        })
    };
    if g.vrrp_garp_lower_prio_repeat.is_some_and(|v| v > 0) {
        cx.err_at(
            g.pos("vrrp_garp_lower_prio_repeat"),
            "vrrp_garp_lower_prio_repeat cannot be used with vrrp_strict",
            hint("sends no GARP repeats after a lower-priority advert"),
        );
    }
    if g.vrrp_garp_lower_prio_delay.is_some_and(|v| v > 0) {
        cx.err_at(
            g.pos("vrrp_garp_lower_prio_delay"),
            "vrrp_garp_lower_prio_delay cannot be used with vrrp_strict",
            hint("sends no delayed GARPs after a lower-priority advert"),
        );
    }
    if g.vrrp_lower_prio_no_advert == Some(false) {
        cx.err_at(
            g.pos("vrrp_lower_prio_no_advert"),
            "vrrp_lower_prio_no_advert off cannot be used with vrrp_strict",
            hint("never answers a lower-priority advert"),
        );
    }
    if g.vrrp_higher_prio_send_advert == Some(true) {
        cx.err_at(
            g.pos("vrrp_higher_prio_send_advert"),
            "vrrp_higher_prio_send_advert cannot be used with vrrp_strict",
            hint("sends no advert on a higher-priority advert"),
        );
    }
    if g.vrrp_down_timer_adverts != DEFAULT_DOWN_TIMER_ADVERTS {
        cx.err_at(
            g.pos("vrrp_down_timer_adverts"),
            format!(
                "vrrp_down_timer_adverts {} cannot be used with vrrp_strict",
                g.vrrp_down_timer_adverts
            ),
            hint("requires the RFC's 3 adverts"),
        );
    }
}

fn check_fifos(cx: &mut Cx, g: &GlobalDefs) {
    let fifos = [
        ("notify_fifo", &g.notify_fifo, &g.notify_fifo_script),
        (
            "vrrp_notify_fifo",
            &g.vrrp_notify_fifo,
            &g.vrrp_notify_fifo_script,
        ),
        (
            "lvs_notify_fifo",
            &g.lvs_notify_fifo,
            &g.lvs_notify_fifo_script,
        ),
    ];
    for (k, fifo, script) in fifos {
        if script.is_some() && fifo.is_none() {
            let sk = match k {
                "notify_fifo" => "notify_fifo_script",
                "vrrp_notify_fifo" => "vrrp_notify_fifo_script",
                _ => "lvs_notify_fifo_script",
            };
            cx.err_at(
                g.pos(sk),
                format!("{sk} is set but {k} is not: the script would have no FIFO to read"),
                Some(format!("add '{k} /run/keepalived/{k}' or remove {sk}")),
            );
        }
    }
    let path = |f: &Option<Fifo>| f.as_ref().map(|f| f.path.clone());
    let global = path(&g.notify_fifo);
    for k in ["vrrp_notify_fifo", "lvs_notify_fifo"] {
        let other = if k == "vrrp_notify_fifo" {
            path(&g.vrrp_notify_fifo)
        } else {
            path(&g.lvs_notify_fifo)
        };
        if let (Some(a), Some(b)) = (&global, &other) {
            if a == b {
                cx.warn_at(
                    g.pos(k),
                    format!("{k} is the same FIFO as notify_fifo ({a}): keepalived ignores {k}"),
                    Some("notify_fifo already carries every event; remove one of them".into()),
                );
            }
        }
    }
    if let (Some(v), Some(l)) = (&g.vrrp_notify_fifo, &g.lvs_notify_fifo) {
        if v.path == l.path
            && g.vrrp_notify_fifo_script.is_some()
            && g.lvs_notify_fifo_script.is_some()
        {
            cx.err_at(
                g.pos("lvs_notify_fifo_script"),
                format!(
                    "vrrp_notify_fifo and lvs_notify_fifo are the same FIFO ({}) and both have a script: keepalived would not run lvs_notify_fifo_script",
                    v.path
                ),
                Some("one reader per FIFO: remove one script, or use two FIFOs".into()),
            );
        }
    }
}

fn check_alerts(cx: &mut Cx, g: &GlobalDefs) {
    for k in ["smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker"] {
        let on = match k {
            "smtp_alert" => g.smtp_alert,
            "smtp_alert_vrrp" => g.smtp_alert_vrrp,
            _ => g.smtp_alert_checker,
        };
        if on != Some(true) {
            continue;
        }
        if g.smtp_server.is_none() {
            cx.warn_at(
                g.pos(k),
                format!("{k} is on but there is no smtp_server: no alert can be sent"),
                Some("add 'smtp_server HOST [PORT]'".into()),
            );
        } else if g.notification_email.is_empty() {
            cx.warn_at(
                g.pos(k),
                format!("{k} is on but notification_email is empty: no alert can be sent"),
                Some("list the recipients in 'notification_email { }'".into()),
            );
        }
    }
}

/// Settings that only matter with another one that is missing (harmless: warnings).
fn check_orphans(cx: &mut Cx, g: &GlobalDefs) {
    let pairs: [(&str, bool, &str, bool); 9] = [
        (
            "startup_script_timeout",
            g.at.has("startup_script_timeout"),
            "startup_script",
            g.startup_script.is_some(),
        ),
        (
            "shutdown_script_timeout",
            g.at.has("shutdown_script_timeout"),
            "shutdown_script",
            g.shutdown_script.is_some(),
        ),
        (
            "reload_repeat",
            g.reload_repeat,
            "reload_time_file",
            g.reload_time_file.is_some(),
        ),
        (
            "vrrp_rx_bufs_multiplier",
            g.at.has("vrrp_rx_bufs_multiplier"),
            "vrrp_rx_bufs_policy",
            matches!(
                g.vrrp_rx_bufs_policy,
                Some(RxBufsPolicy::Mtu | RxBufsPolicy::Advert)
            ),
        ),
        (
            "vrrp_netlink_cmd_rcv_bufs_force",
            g.vrrp_netlink_cmd_rcv_bufs_force,
            "vrrp_netlink_cmd_rcv_bufs",
            g.vrrp_netlink_cmd_rcv_bufs.is_some(),
        ),
        (
            "vrrp_netlink_monitor_rcv_bufs_force",
            g.vrrp_netlink_monitor_rcv_bufs_force,
            "vrrp_netlink_monitor_rcv_bufs",
            g.vrrp_netlink_monitor_rcv_bufs.is_some(),
        ),
        (
            "lvs_netlink_cmd_rcv_bufs_force",
            g.lvs_netlink_cmd_rcv_bufs_force,
            "lvs_netlink_cmd_rcv_bufs",
            g.lvs_netlink_cmd_rcv_bufs.is_some(),
        ),
        (
            "lvs_netlink_monitor_rcv_bufs_force",
            g.lvs_netlink_monitor_rcv_bufs_force,
            "lvs_netlink_monitor_rcv_bufs",
            g.lvs_netlink_monitor_rcv_bufs.is_some(),
        ),
        (
            "process_monitor_rcv_bufs_force",
            g.process_monitor_rcv_bufs_force,
            "process_monitor_rcv_bufs",
            g.process_monitor_rcv_bufs.is_some(),
        ),
    ];
    for (k, set, needs, present) in pairs {
        if set && !present {
            cx.warn_at(g.pos(k), format!("{k} has no effect without {needs}"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Diagnostic, LoadOptions, Loaded, Severity};

    fn load(text: &str) -> Loaded {
        crate::load_str("t.conf", text, &LoadOptions::default())
    }

    fn gd(body: &str) -> Loaded {
        load(&format!("global_defs {{\n{body}\n}}\n"))
    }

    fn errors(l: &Loaded) -> Vec<&Diagnostic> {
        l.errors().collect()
    }

    fn warnings(l: &Loaded) -> Vec<&Diagnostic> {
        l.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect()
    }

    /// The single error of `body` (placed on line 2): its column, message and hint.
    fn one_error(body: &str) -> (u32, String, String) {
        one_error_at(body, 2)
    }

    /// The single error of `body`, which must be on `line`.
    fn one_error_at(body: &str, line: u32) -> (u32, String, String) {
        let l = gd(body);
        let e = errors(&l);
        assert_eq!(e.len(), 1, "{body}: {:#?}", l.diagnostics);
        assert_eq!(e[0].line, line, "{body}: {:#?}", e[0]);
        (
            e[0].column,
            e[0].message.clone(),
            e[0].hint.clone().unwrap_or_default(),
        )
    }

    fn roundtrip(c: &Config) {
        let text = toml::to_string(c).expect("serialises");
        let back: Config = toml::from_str(&text).expect("deserialises");
        assert_eq!(&back, c, "{text}");
        let l = crate::load_toml("t.toml", &text);
        assert!(l.is_ok(), "{text}\n{:#?}", l.diagnostics);
    }

    // --- defaults -----------------------------------------------------------------------

    #[test]
    fn defaults_are_keepalived_defaults() {
        let l = gd("");
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(g, &GlobalDefs::default());
        assert_eq!(g.smtp_connect_timeout, 30);
        assert_eq!(g.vrrp_version, 2);
        assert_eq!(g.vrrp_mcast_group4, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(g.vrrp_mcast_group6.to_string(), "ff02::12");
        assert_eq!(g.vrrp_garp_master_delay, 5);
        assert_eq!(g.vrrp_garp_master_repeat, 5);
        assert_eq!(g.vrrp_garp_master_refresh, 0);
        assert_eq!(g.vrrp_garp_master_refresh_repeat, 1);
        assert_eq!(g.vrrp_down_timer_adverts, 3);
        assert_eq!(g.default_interface, "eth0");
        assert_eq!(g.vmac_prefix, "vrrp");
        assert_eq!(g.vrrp_rx_bufs_multiplier, 3);
        assert_eq!(g.vrrp_rlimit_rttime, 10_000);
        assert_eq!(g.checker_rlimit_rttime, 10_000);
        assert_eq!(g.min_auto_priority_delay, 1_000_000);
        assert_eq!(g.max_auto_priority, 0);
        assert_eq!(g.startup_script_timeout, 10);
        assert_eq!(g.shutdown_script_timeout, 10);
        assert_eq!(g.umask, 0o177);
        assert_eq!(g.json_version, 1);
        // An empty TOML file means the same.
        let t = crate::load_toml("t.toml", "");
        assert!(t.is_ok());
        assert_eq!(t.config.global_defs, GlobalDefs::default());
        roundtrip(&Config::default());
    }

    #[test]
    fn several_blocks_merge() {
        let l = load("global_defs {\n router_id a\n}\nglobal_defs {\n lvs_flush\n}\n");
        assert!(l.is_ok(), "{:#?}", l.diagnostics);
        assert_eq!(l.config.global_defs.router_id.as_deref(), Some("a"));
        assert!(l.config.global_defs.lvs_flush);
    }

    // --- samples ------------------------------------------------------------------------

    fn samples_dir() -> Option<std::path::PathBuf> {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/keepalived-samples");
        assert!(
            d.is_dir(),
            "{} is missing: the tests need ../shared beside the repository",
            d.display()
        );
        Some(d)
    }

    /// The line range of each `global_defs` block of a file.
    fn global_lines(text: &str) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut start = None;
        let mut depth = 0i32;
        for (i, line) in text.lines().enumerate() {
            let no = u32::try_from(i + 1).unwrap_or(0);
            let code = line.split(['#', '!']).next().unwrap_or("");
            if start.is_none() && code.trim_start().starts_with("global_defs") {
                start = Some(no);
                depth = 0;
            }
            if let Some(s) = start {
                depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                if depth <= 0 && code.contains('}') {
                    out.push((s, no));
                    start = None;
                }
            }
        }
        out
    }

    #[test]
    fn every_sample_global_defs_is_clean() {
        let Some(dir) = samples_dir() else {
            unreachable!("samples_dir asserts");
        };
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
            if !name.starts_with("keepalived.conf") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let ranges = global_lines(&text);
            let l = crate::load(&path, &LoadOptions::default());
            for d in &l.diagnostics {
                let inside = ranges.iter().any(|(a, b)| (*a..=*b).contains(&d.line));
                assert!(!inside, "{name}: {d}");
                assert!(!d.message.contains("global_defs"), "{name}: {d}");
            }
            let text = toml::to_string(&l.config).expect("serialises");
            let back: Config = toml::from_str(&text).expect("deserialises");
            assert_eq!(back, l.config, "{name}\n{text}");
            n += 1;
        }
        assert!(n >= 20, "only {n} samples");
    }

    #[test]
    fn sample_conf_values() {
        let Some(dir) = samples_dir() else {
            unreachable!("samples_dir asserts");
        };
        let l = crate::load(&dir.join("keepalived.conf.sample"), &LoadOptions::default());
        let g = &l.config.global_defs;
        assert_eq!(g.notification_email, vec!["acassen".to_string()]);
        assert_eq!(
            g.notification_email_from.as_deref(),
            Some("Alexandre.Cassen@firewall.loc")
        );
        assert_eq!(
            g.smtp_server,
            Some(SmtpServer {
                host: "192.168.200.1".into(),
                port: 25
            })
        );
        assert_eq!(g.smtp_connect_timeout, 30);
        assert_eq!(g.router_id.as_deref(), Some("LVS_DEVEL"));
        // Everything else keeps its default.
        let expect = GlobalDefs {
            notification_email: g.notification_email.clone(),
            notification_email_from: g.notification_email_from.clone(),
            smtp_server: g.smtp_server.clone(),
            router_id: g.router_id.clone(),
            ..GlobalDefs::default()
        };
        assert_eq!(g, &expect);
    }

    // --- the keyword table --------------------------------------------------------------

    #[test]
    fn every_example_behaves_as_its_status_says() {
        for k in KEYWORDS {
            assert_eq!(k.block, Block::GlobalDefs, "{}", k.name);
            assert!(
                k.example
                    .split('\n')
                    .any(|l| l.trim_start().starts_with(k.name)),
                "example of {} does not use it",
                k.name
            );
            let l = gd(k.example);
            let ex_lines = 2..=(1 + k.example.lines().count() as u32);
            let on_ex: Vec<&Diagnostic> = l
                .errors()
                .filter(|d| ex_lines.contains(&d.line) || d.line == 0)
                .collect();
            match k.status {
                Status::Refused { .. } => {
                    assert!(
                        on_ex.iter().any(|d| d.message.contains(k.name)),
                        "{}: {:#?}",
                        k.name,
                        l.diagnostics
                    );
                }
                _ => assert!(on_ex.is_empty(), "{}: {:#?}", k.name, l.diagnostics),
            }
            if let Status::Ignored { .. } | Status::Deprecated { .. } = k.status {
                assert!(
                    warnings(&l).iter().any(|d| d.message.contains(k.name)),
                    "{}: {:#?}",
                    k.name,
                    l.diagnostics
                );
            }
            roundtrip(&l.config);
        }
    }

    /// Every global_defs keyword of keepalived (KEEPALIVED-REFERENCE.md 2.1, the parser's
    /// install list, and the X list of documented-only names) has a row.
    #[test]
    fn table_is_complete() {
        const ALL: &[&str] = &[
            "process_names",
            "process_name",
            "vrrp_process_name",
            "checker_process_name",
            "lvs_process_name",
            "bfd_process_name",
            "use_symlink_paths",
            "set_supplementary_groups",
            "router_id",
            "notification_email_from",
            "smtp_server",
            "smtp_helo_name",
            "smtp_connect_timeout",
            "notification_email",
            "smtp_alert",
            "startup_script",
            "startup_script_timeout",
            "shutdown_script",
            "shutdown_script_timeout",
            "max_auto_priority",
            "min_auto_priority_delay",
            "smtp_alert_vrrp",
            "smtp_alert_checker",
            "checker_log_all_failures",
            "dynamic_interfaces",
            "no_email_faults",
            "default_interface",
            "disable_local_igmp",
            "v3_checksum_as_v2",
            "lvs_timeouts",
            "lvs_flush",
            "lvs_flush_on_stop",
            "lvs_flush_onstop",
            "lvs_sync_daemon",
            "vrrp_mcast_group4",
            "vrrp_mcast_group6",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_repeat",
            "vrrp_garp_master_refresh",
            "vrrp_garp_master_refresh_repeat",
            "vrrp_garp_lower_prio_delay",
            "vrrp_garp_lower_prio_repeat",
            "vrrp_down_timer_adverts",
            "vrrp_garp_interval",
            "vrrp_gna_interval",
            "vrrp_min_garp",
            "vrrp_garp_extra_if",
            "vrrp_vmac_garp_intvl",
            "vrrp_lower_prio_no_advert",
            "vrrp_higher_prio_send_advert",
            "vrrp_version",
            "vrrp_iptables",
            "vrrp_ipsets",
            "nftables",
            "nftables_priority",
            "nftables_ifindex",
            "vrrp_check_unicast_src",
            "vrrp_skip_check_adv_addr",
            "vrrp_strict",
            "vrrp_priority",
            "vrrp_no_swap",
            "vrrp_rt_priority",
            "vrrp_cpu_affinity",
            "vrrp_rlimit_rttime",
            "vrrp_rlimit_rtime",
            "nftables_ipvs",
            "nftables_ipvs_priority",
            "nftables_ipvs_start_fwmark",
            "nftables_counters",
            "notify_fifo",
            "notify_fifo_script",
            "vrrp_notify_fifo",
            "vrrp_notify_fifo_script",
            "vrrp_notify_priority_changes",
            "fifo_write_vrrp_states_on_reload",
            "lvs_notify_fifo",
            "lvs_notify_fifo_script",
            "checker_priority",
            "checker_no_swap",
            "checker_rt_priority",
            "checker_cpu_affinity",
            "checker_rlimit_rttime",
            "checker_rlimit_rtime",
            "bfd_priority",
            "bfd_no_swap",
            "bfd_rt_priority",
            "bfd_cpu_affinity",
            "bfd_rlimit_rttime",
            "bfd_rlimit_rtime",
            "snmp_socket",
            "enable_traps",
            "enable_snmp_vrrp",
            "enable_snmp_keepalived",
            "enable_snmp_rfc",
            "enable_snmp_rfcv2",
            "enable_snmp_rfcv3",
            "enable_snmp_checker",
            "snmp_vs_stats_update_interval",
            "snmp_rs_stats_update_interval",
            "enable_dbus",
            "dbus_service_name",
            "dbus_no_interface_name",
            "script_user",
            "enable_script_security",
            "vrrp_netlink_cmd_rcv_bufs",
            "vrrp_netlink_cmd_rcv_bufs_force",
            "vrrp_netlink_monitor_rcv_bufs",
            "vrrp_netlink_monitor_rcv_bufs_force",
            "process_monitor_rcv_bufs",
            "process_monitor_rcv_bufs_force",
            "lvs_netlink_cmd_rcv_bufs",
            "lvs_netlink_cmd_rcv_bufs_force",
            "lvs_netlink_monitor_rcv_bufs",
            "lvs_netlink_monitor_rcv_bufs_force",
            "rs_init_notifies",
            "no_checker_emails",
            "vrrp_rx_bufs_policy",
            "vrrp_rx_bufs_multiplier",
            "vrrp_startup_delay",
            "vrrp_delay_after_boot",
            "log_unknown_vrids",
            "vrrp_owner_ignore_adverts",
            "vmac_prefix",
            "vmac_addr_prefix",
            "umask",
            "random_seed",
            "reload_check_config",
            "reload_time_file",
            "reload_repeat",
            "reload_file",
            "include_check",
            "config_save_dir",
            "tmp_config_directory",
            "data_use_instance",
            "json_version",
            "iproute_usr_dir",
            "iproute_etc_dir",
            "state_dump_file",
            "stats_dump_file",
            "json_dump_file",
            "state_file_location",
            "stats_file_location",
            "json_file_location",
        ];
        for name in ALL {
            assert!(
                crate::keywords::lookup(Block::GlobalDefs, name).is_some(),
                "{name} has no row"
            );
        }
        assert_eq!(KEYWORDS.len(), ALL.len(), "rows not in the list");
        let mut names: Vec<&str> = KEYWORDS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYWORDS.len(), "duplicate rows");
        // The man page names that keepalived never parses point at the real keyword.
        for (x, real) in [
            ("state_file_location", "state_dump_file"),
            ("stats_file_location", "stats_dump_file"),
            ("json_file_location", "json_dump_file"),
        ] {
            let (_, msg, _) = one_error(&format!("{x} /run/k"));
            assert!(msg.contains(real), "{msg}");
        }
    }

    // --- errors -------------------------------------------------------------------------

    #[test]
    fn unknown_keyword_has_a_hint() {
        let (col, msg, hint) = one_error(" router_idd lb1");
        assert_eq!(col, 2);
        assert_eq!(msg, "unknown keyword 'router_idd' in global_defs");
        assert_eq!(hint, "did you mean 'router_id'?");
        let (_, _, hint) = one_error("vrrp_garp_master_repet 2");
        assert_eq!(hint, "did you mean 'vrrp_garp_master_repeat'?");
    }

    #[test]
    fn trailing_tokens_are_errors() {
        let (col, msg, _) = one_error("router_id lb1 extra");
        assert_eq!(col, 15);
        assert!(msg.contains("unexpected 'extra'"), "{msg}");
        let (_, msg, hint) = one_error("vrrp_version 3 vrrp_strict");
        assert!(msg.contains("unexpected 'vrrp_strict'"), "{msg}");
        assert!(hint.contains("own line"), "{hint}");
        let (_, msg, _) = one_error("lvs_flush now");
        assert!(msg.contains("unexpected 'now'"), "{msg}");
        let (_, msg, _) = one_error("router_id lb1 {\n}");
        assert!(msg.contains("does not take a block"), "{msg}");
        let (_, msg, _) = one_error("router_id");
        assert!(msg.contains("needs a value"), "{msg}");
    }

    #[test]
    fn bad_numbers_and_ranges() {
        for (body, col, want) in [
            ("smtp_connect_timeout abc", 22, "'abc' is not a number"),
            ("smtp_connect_timeout 0", 22, "out of range"),
            ("startup_script_timeout 1001", 24, "1 to 1000"),
            ("vrrp_priority 20", 15, "-20 to 19"),
            ("checker_priority -21", 18, "-20 to 19"),
            ("vrrp_rt_priority 0", 18, "1 to 99"),
            ("vrrp_rt_priority 100", 18, "1 to 99"),
            ("vrrp_rlimit_rttime 1", 20, "2 to"),
            ("vrrp_version 4", 14, "one of 2, 3"),
            ("vrrp_down_timer_adverts 101", 25, "1 to 100"),
            ("vrrp_garp_master_repeat 0", 25, "out of range"),
            ("vrrp_garp_interval 1.5x", 20, "not a number of seconds"),
            ("vrrp_startup_delay 0", 20, "out of range"),
            ("max_auto_priority 100", 19, "-1 to 99"),
            ("min_auto_priority_delay 0", 25, "1 to 10000000"),
            ("vrrp_cpu_affinity 0 2048", 21, "0 to 1023"),
            ("json_version 3", 14, "one of 1, 2"),
            ("vrrp_garp_extra_if all 86401", 24, "1 to 86400"),
            ("smtp_alert maybe", 12, "not a yes/no value"),
        ] {
            let (c, msg, _) = one_error(body);
            assert!(msg.contains(want), "{body}: {msg}");
            assert_eq!(c, col, "{body}: {msg}");
        }
    }

    #[test]
    fn multicast_groups_check_the_family() {
        let (col, msg, hint) = one_error("vrrp_mcast_group4 ff02::12");
        assert_eq!(col, 19);
        assert!(
            msg.contains("IPv6 address; vrrp_mcast_group4 takes IPv4"),
            "{msg}"
        );
        assert!(hint.contains("vrrp_mcast_group6"), "{hint}");
        let (_, msg, _) = one_error("vrrp_mcast_group4 192.0.2.1");
        assert!(msg.contains("not an IPv4 multicast"), "{msg}");
        let (_, msg, hint) = one_error("vrrp_mcast_group6 224.0.0.18");
        assert!(
            msg.contains("IPv4 address; vrrp_mcast_group6 takes IPv6"),
            "{msg}"
        );
        assert!(hint.contains("vrrp_mcast_group4"), "{hint}");
        let (_, msg, _) = one_error("vrrp_mcast_group6 2001:db8::1");
        assert!(msg.contains("not an IPv6 multicast"), "{msg}");
        let (_, msg, _) = one_error("vrrp_mcast_group4 224.0.0.300");
        assert!(msg.contains("not an IP address"), "{msg}");
        let l = gd("vrrp_mcast_group4 239.1.2.3\nvrrp_mcast_group6 ff05::12");
        assert!(l.is_ok(), "{:#?}", l.diagnostics);
        assert_eq!(
            l.config.global_defs.vrrp_mcast_group4,
            Ipv4Addr::new(239, 1, 2, 3)
        );
        assert!(warnings(&l)[0].message.contains("not a link-local"));
    }

    #[test]
    fn emails_and_smtp() {
        let l = gd(
            "notification_email {\n a@example.com \"Ops <ops@example.com>\"\n root\n}\nnotification_email_from \"LB <lb@example.com>\"\nsmtp_server mail.example.com 587\nsmtp_helo_name lb1.example.com",
        );
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(
            g.notification_email,
            vec!["a@example.com", "Ops <ops@example.com>", "root"]
        );
        assert_eq!(
            g.smtp_server,
            Some(SmtpServer {
                host: "mail.example.com".into(),
                port: 587
            })
        );
        let l = gd("notification_email {\n ok@example.com bad@@example.com\n}");
        let e = errors(&l);
        assert_eq!(e.len(), 1, "{:#?}", l.diagnostics);
        assert_eq!((e[0].line, e[0].column), (3, 17));
        assert!(e[0].message.contains("bad@@example.com"));
        assert_eq!(
            l.config.global_defs.notification_email,
            vec!["ok@example.com"]
        );
        let (_, msg, _) = one_error("notification_email admin@example.com");
        assert!(msg.contains("needs a block"), "{msg}");
        let l = gd("notification_email {\n}");
        assert!(l.is_ok());
        assert!(warnings(&l)[0].message.contains("empty"));
        let (_, msg, _) = one_error("notification_email_from a@b@");
        assert!(msg.contains("not an email address"), "{msg}");
        let (col, msg, _) = one_error("smtp_server 192.0.2.25 0");
        assert_eq!(col, 24);
        assert!(msg.contains("1 to 65535"), "{msg}");
        let (_, msg, _) = one_error("smtp_server 192.0.2.25 70000");
        assert!(msg.contains("1 to 65535"), "{msg}");
        let (col, msg, _) = one_error("smtp_server 192.0.2.256");
        assert_eq!(col, 13);
        assert!(
            msg.contains("neither an IP address nor a host name"),
            "{msg}"
        );
        let (_, _, hint) = one_error("smtp_server [2001:db8::25]");
        assert!(hint.contains("separate"), "{hint}");
        let (_, msg, _) = one_error("smtp_helo_name bad/host");
        assert!(msg.contains("'/'"), "{msg}");
    }

    #[test]
    fn alerts_without_a_server_warn() {
        let l = gd("smtp_alert\nsmtp_alert_checker on");
        assert!(l.is_ok());
        let w = warnings(&l);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert_eq!(w[0].line, 2);
        assert!(w[0].message.contains("no smtp_server"));
    }

    #[test]
    fn scripts_and_users() {
        let l = gd(
            "script_user nobody :nogroup\nenable_script_security\nstartup_script \"/sbin/lb start\" root wheel\nstartup_script_timeout 20\nshutdown_script /sbin/lb-stop",
        );
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(
            g.script_user,
            Some(ScriptUser {
                user: "nobody".into(),
                group: Some("nogroup".into()),
                supplementary_groups: true
            })
        );
        let s = g.startup_script.as_ref().expect("startup script");
        assert_eq!(s.argv, vec!["/sbin/lb", "start"]);
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(g.startup_script_timeout, 20);
        assert_eq!(g.scripts().count(), 2);
        let (col, msg, hint) = one_error("script_user root:root");
        assert_eq!(col, 13);
        assert!(msg.contains("not a user name"), "{msg}");
        assert!(hint.contains("two values"), "{hint}");
        let (_, msg, _) = one_error("script_user 9lives");
        assert!(msg.contains("not a valid user name"), "{msg}");
        let (_, msg, _) = one_error("script_user a b c");
        assert!(msg.contains("unexpected 'c'"), "{msg}");
        // keepalived keeps the first script and ignores the second: an error.
        let l = gd("startup_script /a\nstartup_script /b");
        let e = errors(&l);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 3);
        assert!(e[0].message.contains("first at line 2"));
        assert_eq!(
            l.config.global_defs.startup_script.map(|s| s.command),
            Some("/a".to_string())
        );
        // A timeout without its script has no effect.
        let l = gd("shutdown_script_timeout 5");
        assert!(l.is_ok());
        assert!(warnings(&l)[0].message.contains("no effect"));
    }

    #[test]
    fn fifos() {
        let l = gd(
            "notify_fifo /run/k/all.fifo\nvrrp_notify_fifo /run/k/vrrp.fifo root :adm\nvrrp_notify_fifo_script \"/usr/bin/reader -v\" nobody",
        );
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(
            g.vrrp_notify_fifo,
            Some(Fifo {
                path: "/run/k/vrrp.fifo".into(),
                user: Some("root".into()),
                group: Some("adm".into()),
                supplementary_groups: true
            })
        );
        let (_, msg, hint) = one_error("lvs_notify_fifo_script /usr/bin/reader");
        assert!(msg.contains("lvs_notify_fifo is not"), "{msg}");
        assert!(hint.contains("lvs_notify_fifo"), "{hint}");
        let (_, msg, _) = one_error("notify_fifo /a a b c");
        assert!(msg.contains("unexpected 'c'"), "{msg}");
        let l = gd("notify_fifo /run/k/f\nvrrp_notify_fifo /run/k/f");
        assert!(l.is_ok());
        assert_eq!(warnings(&l)[0].line, 3);
        let l = gd(
            "vrrp_notify_fifo /run/k/f\nvrrp_notify_fifo_script /a\nlvs_notify_fifo /run/k/f\nlvs_notify_fifo_script /b",
        );
        let e = errors(&l);
        assert_eq!(e.len(), 1, "{:#?}", l.diagnostics);
        assert_eq!(e[0].line, 5);
        let (_, msg, _) = one_error_at("notify_fifo /a\nnotify_fifo /b", 3);
        assert!(msg.contains("given twice"), "{msg}");
    }

    #[test]
    fn refused_and_ignored() {
        let (col, msg, _) = one_error("vrrp_iptables keepalived");
        assert_eq!(col, 1);
        assert!(
            msg.contains("not supported yet") && msg.contains("iptables"),
            "{msg}"
        );
        let (_, msg, _) = one_error("nftables");
        assert!(msg.contains("nftables"), "{msg}");
        let (_, msg, _) = one_error("bfd_rt_priority 5");
        assert!(msg.contains("BFD"), "{msg}");
        let l = gd("enable_snmp_vrrp\nprocess_names\nenable_dbus");
        assert!(l.is_ok());
        assert_eq!(warnings(&l).len(), 3);
        assert_eq!(l.config.global_defs, GlobalDefs::default());
    }

    #[test]
    fn deprecated_aliases_work() {
        let l = gd(
            "lvs_flush_onstop\nvrrp_rlimit_rtime 5000\nchecker_rlimit_rtime 6000\nvrrp_vmac_garp_intvl 60",
        );
        assert!(l.is_ok(), "{:#?}", l.diagnostics);
        let w = warnings(&l);
        assert_eq!(w.len(), 4);
        assert_eq!(
            w[0].hint.as_deref(),
            Some("write 'lvs_flush_on_stop' instead")
        );
        let g = &l.config.global_defs;
        assert_eq!(g.lvs_flush_on_stop, Some(LvsFlushOnStop::Full));
        assert_eq!(g.vrrp_rlimit_rttime, 5000);
        assert_eq!(g.checker_rlimit_rttime, 6000);
        assert_eq!(
            g.vrrp_garp_extra_if,
            Some(GarpExtraIf {
                all: false,
                interval: 60
            })
        );
    }

    #[test]
    fn repeated_scalars_warn_and_replace() {
        let l = gd("router_id a\nrouter_id b");
        assert!(l.is_ok());
        let w = warnings(&l);
        assert_eq!((w.len(), w[0].line), (1, 3));
        assert!(w[0].message.contains("first at line 2"));
        assert_eq!(l.config.global_defs.router_id.as_deref(), Some("b"));
        // Delays keep the longer, as keepalived does.
        let l = gd("vrrp_startup_delay 5\nvrrp_startup_delay 2");
        assert_eq!(
            l.config.global_defs.vrrp_startup_delay,
            Some(Timer::secs(5))
        );
    }

    #[test]
    fn strict_mode_forbids_global_settings() {
        let l = gd(
            "vrrp_strict\nvrrp_garp_lower_prio_repeat 2\nvrrp_garp_lower_prio_delay 5\nvrrp_lower_prio_no_advert off\nvrrp_higher_prio_send_advert\nvrrp_down_timer_adverts 5",
        );
        let e = errors(&l);
        assert_eq!(e.len(), 5, "{:#?}", l.diagnostics);
        for (d, line) in e.iter().zip(3..) {
            assert_eq!(d.line, line, "{d}");
            assert!(d.message.contains("vrrp_strict"), "{d}");
            assert!(
                d.hint.as_deref().is_some_and(|h| h.contains("line 2")),
                "{d}"
            );
        }
        // The values strict mode implies are fine.
        let l = gd(
            "vrrp_strict\nvrrp_garp_lower_prio_repeat 0\nvrrp_lower_prio_no_advert\nvrrp_higher_prio_send_advert off\nvrrp_down_timer_adverts 3",
        );
        assert!(l.is_ok(), "{:#?}", l.diagnostics);
        // The same rule holds for TOML.
        let t = crate::load_toml(
            "t.toml",
            "[global_defs]\nvrrp_strict = true\nvrrp_higher_prio_send_advert = true\n",
        );
        assert_eq!(t.errors().count(), 1, "{:#?}", t.diagnostics);
    }

    #[test]
    fn garp_settings() {
        let l = gd("vrrp_min_garp");
        let g = &l.config.global_defs;
        assert!(g.vrrp_min_garp);
        assert_eq!(
            (g.vrrp_garp_master_repeat, g.vrrp_garp_master_delay),
            (1, 0)
        );
        // Values given explicitly win, wherever they are.
        let l = gd("vrrp_garp_master_repeat 5\nvrrp_min_garp\nvrrp_garp_master_delay 7");
        let g = &l.config.global_defs;
        assert_eq!(
            (g.vrrp_garp_master_repeat, g.vrrp_garp_master_delay),
            (5, 7)
        );
        let l = gd("vrrp_min_garp off");
        assert_eq!(l.config.global_defs.vrrp_garp_master_repeat, 5);
        let l = gd("vrrp_garp_interval 0.0005\nvrrp_gna_interval 2");
        assert!(l.is_ok());
        assert_eq!(
            l.config.global_defs.vrrp_garp_interval,
            Timer::from_micros(500)
        );
        assert!(warnings(&l)[0].message.contains("very large"));
        let l = gd("vrrp_garp_extra_if 30 all");
        assert_eq!(
            l.config.global_defs.vrrp_garp_extra_if,
            Some(GarpExtraIf {
                all: true,
                interval: 30
            })
        );
        let (_, msg, _) = one_error("vrrp_garp_extra_if all");
        assert!(msg.contains("needs an interval"), "{msg}");
        let (col, msg, _) = one_error("vrrp_garp_extra_if 10 20");
        assert_eq!(col, 23);
        assert!(msg.contains("already given"), "{msg}");
    }

    #[test]
    fn lvs_sync_daemon_forms() {
        let l =
            gd("lvs_sync_daemon eth1 inst VI_1 id 7 maxlen 1400 port 8848 ttl 2 group ff02::81");
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        assert_eq!(
            l.config.global_defs.lvs_sync_daemon,
            Some(LvsSyncDaemon {
                interface: "eth1".into(),
                inst: Some("VI_1".into()),
                id: Some(7),
                maxlen: Some(1400),
                port: Some(8848),
                ttl: Some(2),
                group: "ff02::81".parse().ok(),
            })
        );
        // The old positional form: the instance without 'inst' is fine, a bare id warns.
        let l = gd("lvs_sync_daemon eth1 VI_1 9");
        assert!(l.is_ok(), "{:#?}", l.diagnostics);
        let w = warnings(&l);
        assert_eq!((w.len(), w[0].column), (1, 27));
        assert_eq!(w[0].hint.as_deref(), Some("write 'id 9'"));
        let d = l.config.global_defs.lvs_sync_daemon.expect("daemon");
        assert_eq!((d.inst.as_deref(), d.id), (Some("VI_1"), Some(9)));
        for (body, col, want) in [
            (
                "lvs_sync_daemon eth1 inst VI_1 prot 8848",
                32,
                "did you mean 'port'?",
            ),
            ("lvs_sync_daemon eth1 id 256", 25, "0 to 255"),
            ("lvs_sync_daemon eth1 ttl", 22, "needs a value"),
            (
                "lvs_sync_daemon eth1 group 192.0.2.1",
                28,
                "not a multicast",
            ),
            ("lvs_sync_daemon eth1 port 1 port 2", 29, "given twice"),
            (
                "lvs_sync_daemon an-interface-name-too-long",
                17,
                "longer than 15",
            ),
            ("lvs_sync_daemon", 1, "needs an interface"),
        ] {
            let (c, msg, hint) = one_error(body);
            assert!(
                msg.contains(want) || hint.contains(want),
                "{body}: {msg} / {hint}"
            );
            assert_eq!(c, col, "{body}: {msg}");
        }
        let (_, msg, _) = one_error_at("lvs_sync_daemon eth1\nlvs_sync_daemon eth2", 3);
        assert!(msg.contains("given twice"), "{msg}");
    }

    #[test]
    fn lvs_timeouts_and_flush() {
        let l = gd(
            "lvs_timeouts tcp 900\nlvs_timeouts udp 60 tcpfin 30\nlvs_flush\nlvs_flush_on_stop VS",
        );
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(
            g.lvs_timeouts,
            LvsTimeouts {
                tcp: Some(900),
                tcpfin: Some(30),
                udp: Some(60)
            }
        );
        assert_eq!(g.lvs_flush_on_stop, Some(LvsFlushOnStop::Vs));
        let (col, _, hint) = one_error("lvs_timeouts tpc 900");
        assert_eq!(col, 14);
        assert_eq!(hint, "did you mean 'tcp'?");
        let (_, msg, _) = one_error("lvs_timeouts tcp");
        assert!(msg.contains("needs a number"), "{msg}");
        let (_, msg, _) = one_error("lvs_timeouts");
        assert!(msg.contains("at least one"), "{msg}");
        let (_, msg, _) = one_error("lvs_timeouts udp 2678401");
        assert!(msg.contains("0 to 2678400"), "{msg}");
        let (_, msg, _) = one_error("lvs_flush_on_stop vs");
        assert!(msg.contains("not valid"), "{msg}");
    }

    #[test]
    fn misc_values() {
        let l = gd(
            "umask 027\ninclude_check read match\ninclude_check -read\nvrrp_rx_bufs_policy advert\nvrrp_rx_bufs_multiplier 2\ndynamic_interfaces\nmax_auto_priority\nreload_check_config\nreload_file\nvrrp_cpu_affinity 3 1",
        );
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        assert_eq!(g.umask, 0o27);
        assert_eq!(
            g.include_check,
            Some(IncludeChecks {
                matched: true,
                ..IncludeChecks::default()
            })
        );
        assert_eq!(g.vrrp_rx_bufs_policy, Some(RxBufsPolicy::Advert));
        assert!(g.dynamic_interfaces && !g.allow_if_changes);
        assert_eq!(g.max_auto_priority, 99);
        assert_eq!(g.reload_check_config.as_deref(), Some("/dev/null"));
        assert_eq!(g.reload_file.as_deref(), Some(""));
        assert_eq!(g.vrrp_cpu_affinity, vec![3, 1]);
        let l = gd("umask IRWXG | IRWXO\nvrrp_rx_bufs_policy 65536");
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        assert_eq!(l.config.global_defs.umask, 0o77);
        assert_eq!(
            l.config.global_defs.vrrp_rx_bufs_policy,
            Some(RxBufsPolicy::Size(65_536))
        );
        for (body, col, want) in [
            ("umask 0778", 7, "not a umask number"),
            ("umask 0177 IRWXG", 12, "unexpected 'IRWXG'"),
            ("umask IRWXG|IRWXQ", 7, "'IRWXQ' is not a umask bit"),
            ("include_check +reed", 15, "did you mean 'read'?"),
            ("vrrp_rx_bufs_policy MTUU", 21, "did you mean 'MTU'?"),
            (
                "dynamic_interfaces allow_if_change",
                20,
                "did you mean 'allow_if_changes'?",
            ),
            ("default_interface eth0/1", 19, "not a valid interface name"),
            ("reload_time_file reload-at", 18, "not an absolute path"),
            ("vmac_prefix a:b", 13, "not a valid interface name"),
            ("state_dump_file \"\"", 17, "empty"),
            ("vrrp_check_unicast_src yes", 24, "unexpected 'yes'"),
        ] {
            let (c, msg, hint) = one_error(body);
            assert!(
                msg.contains(want) || hint.contains(want),
                "{body}: {msg} / {hint}"
            );
            assert_eq!(c, col, "{body}: {msg}");
        }
        let l = gd("v3_checksum_as_v2 off");
        assert!(l.is_ok());
        assert!(!l.config.global_defs.v3_checksum_as_v2);
        assert_eq!(warnings(&l).len(), 1);
    }

    // --- TOML ---------------------------------------------------------------------------

    const FULL: &str = r#"
global_defs {
    router_id lb1
    notification_email {
        admin@example.com
        "Ops <ops@example.com>"
    }
    notification_email_from lb1@example.com
    smtp_server 2001:db8::25 2525
    smtp_helo_name lb1.example.com
    smtp_connect_timeout 10
    smtp_alert on
    smtp_alert_vrrp off
    smtp_alert_checker on
    no_email_faults
    no_checker_emails
    checker_log_all_failures
    rs_init_notifies
    script_user keepalived_script :keepalived
    enable_script_security
    use_symlink_paths
    set_supplementary_groups
    startup_script "/usr/local/sbin/lb-start --all" root
    startup_script_timeout 30
    shutdown_script /usr/local/sbin/lb-stop
    shutdown_script_timeout 40
    notify_fifo /run/k/all.fifo
    notify_fifo_script /usr/local/bin/reader
    vrrp_notify_fifo /run/k/vrrp.fifo root adm
    vrrp_notify_fifo_script /usr/local/bin/reader nobody
    lvs_notify_fifo /run/k/lvs.fifo
    lvs_notify_fifo_script /usr/local/bin/reader
    vrrp_notify_priority_changes
    fifo_write_vrrp_states_on_reload
    vrrp_version 3
    vrrp_mcast_group4 224.0.0.19
    vrrp_mcast_group6 ff02::13
    vrrp_skip_check_adv_addr
    vrrp_check_unicast_src
    vrrp_garp_master_delay 3
    vrrp_garp_master_repeat 2
    vrrp_garp_master_refresh 60
    vrrp_garp_master_refresh_repeat 2
    vrrp_garp_lower_prio_delay 4
    vrrp_garp_lower_prio_repeat 1
    vrrp_garp_interval 0.001
    vrrp_gna_interval 0.000002
    vrrp_min_garp
    vrrp_garp_extra_if all 120
    vrrp_down_timer_adverts 4
    vrrp_lower_prio_no_advert
    vrrp_higher_prio_send_advert
    vrrp_owner_ignore_adverts
    v3_checksum_as_v2
    vrrp_startup_delay 2.5
    vrrp_delay_after_boot 30
    log_unknown_vrids
    default_interface bond0
    dynamic_interfaces allow_if_changes
    disable_local_igmp
    vmac_prefix vr
    vmac_addr_prefix vra
    vrrp_rx_bufs_policy MTU
    vrrp_rx_bufs_multiplier 4
    vrrp_netlink_cmd_rcv_bufs 1048576
    vrrp_netlink_cmd_rcv_bufs_force
    vrrp_netlink_monitor_rcv_bufs 2097152
    vrrp_netlink_monitor_rcv_bufs_force
    lvs_netlink_cmd_rcv_bufs 1048576
    lvs_netlink_cmd_rcv_bufs_force
    lvs_netlink_monitor_rcv_bufs 1048576
    lvs_netlink_monitor_rcv_bufs_force
    process_monitor_rcv_bufs 500000
    process_monitor_rcv_bufs_force
    lvs_flush
    lvs_flush_on_stop VS
    lvs_timeouts tcp 900 tcpfin 30 udp 60
    lvs_sync_daemon eth1 inst VI_1 id 7 maxlen 1400 port 8849 ttl 2 group 239.0.0.81
    max_auto_priority -1
    min_auto_priority_delay 200000
    vrrp_priority -5
    vrrp_no_swap
    vrrp_rt_priority 40
    vrrp_cpu_affinity 0 2
    vrrp_rlimit_rttime 20000
    checker_priority 5
    checker_no_swap
    checker_rt_priority 30
    checker_cpu_affinity 1
    checker_rlimit_rttime 30000
    umask 0077
    random_seed 1234
    reload_check_config /var/log/k.log
    reload_time_file /run/k/reload
    reload_repeat
    reload_file /run/k/reloading
    include_check
    config_save_dir /var/lib/k
    data_use_instance
    json_version 2
    iproute_usr_dir /usr/share/iproute2
    iproute_etc_dir /etc/iproute2
    state_dump_file /run/k/state
    stats_dump_file /run/k/stats
    json_dump_file /run/k/json
}
"#;

    #[test]
    fn full_global_defs_round_trips_through_toml() {
        let l = load(FULL);
        assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
        let g = &l.config.global_defs;
        // Every field differs from its default.
        let text = toml::to_string(&l.config).expect("serialises");
        let default_text = toml::to_string(&Config::default()).expect("serialises");
        let fields = |t: &str| -> usize { t.lines().filter(|l| l.contains(" = ")).count() };
        assert!(fields(&text) > fields(&default_text) + 90, "{text}");
        assert_eq!(g.vrrp_rx_bufs_policy, Some(RxBufsPolicy::Mtu));
        assert_eq!(g.include_check, Some(IncludeCheck::ALL.into()));
        assert_eq!(g.vrrp_startup_delay, Some(Timer::from_micros(2_500_000)));
        assert_eq!(g.vrrp_gna_interval, Timer::from_micros(2));
        roundtrip(&l.config);
        // The same file loaded from TOML is the same model.
        let t = crate::load_toml("t.toml", &text);
        assert!(t.is_ok(), "{:#?}", t.diagnostics);
        assert_eq!(t.config, l.config);
    }

    #[test]
    fn toml_values_are_validated() {
        for (toml_text, want) in [
            ("vrrp_priority = 50", "vrrp_priority 50 is out of range"),
            ("vrrp_mcast_group4 = \"192.0.2.1\"", "not an IPv4 multicast"),
            ("notification_email = [\"a b\"]", "contains a space"),
            ("smtp_server = { host = \"mail..x\" }", "empty label"),
            ("vrrp_version = 4", "not 2 or 3"),
            (
                "notify_fifo_script = { command = \"/a\", argv = [\"/a\"] }",
                "no FIFO",
            ),
            ("umask = 4096", "outside 0777"),
            (
                "lvs_sync_daemon = { interface = \"eth0\", group = \"192.0.2.1\" }",
                "not a multicast",
            ),
        ] {
            let t = crate::load_toml("t.toml", &format!("[global_defs]\n{toml_text}\n"));
            let e: Vec<&Diagnostic> = t.errors().collect();
            assert_eq!(e.len(), 1, "{toml_text}: {:#?}", t.diagnostics);
            assert!(e[0].message.contains(want), "{toml_text}: {}", e[0]);
        }
        let t = crate::load_toml("t.toml", "[global_defs]\nrouter_idd = \"x\"\n");
        assert!(!t.is_ok());
        let t = crate::load_toml(
            "t.toml",
            "[global_defs]\nvrrp_rx_bufs_policy = \"mtu\"\nlvs_flush_on_stop = \"vs\"\n",
        );
        assert!(t.is_ok(), "{:#?}", t.diagnostics);
        assert_eq!(
            t.config.global_defs.vrrp_rx_bufs_policy,
            Some(RxBufsPolicy::Mtu)
        );
    }
}
