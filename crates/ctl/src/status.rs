//! What `status` answers and what `events` streams.
//!
//! Times are milliseconds since the Unix epoch (`*_ms`) or seconds (`*_seconds`).
//! A field the daemon does not know is absent (`null` is never sent).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Process;

/// Everything the parent knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon itself and its configuration.
    pub daemon: DaemonStatus,
    /// The child processes, VRRP, checker, IPVS writer (only those configured).
    pub processes: Vec<ProcessStatus>,
    /// The VRRP instances of the configuration, in its order.
    pub vrrp_instances: Vec<InstanceStatus>,
    /// The sync groups of the configuration.
    pub sync_groups: Vec<SyncGroupStatus>,
    /// The virtual servers of the configuration.
    pub virtual_servers: Vec<VirtualServerStatus>,
}

/// The parent and its configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The package version.
    pub version: String,
    /// The parent's pid.
    pub pid: u32,
    /// Seconds since the parent started.
    pub uptime_seconds: f64,
    /// The runtime directory.
    pub runtime_dir: String,
    /// The main configuration file.
    pub config_file: String,
    /// Every file read (the main one and its includes).
    pub config_files: Vec<String>,
    /// The configuration generation: 1 at start, +1 per applied reload.
    pub generation: u64,
    /// When the running configuration was loaded.
    pub loaded_at_ms: u64,
    /// A reload is being applied (children have not all acknowledged it).
    pub reloading: bool,
    /// Reloads applied since start.
    pub reloads: u64,
    /// Reloads refused since start (invalid configuration).
    pub reload_failures: u64,
    /// The last refused reload, when the last reload attempt was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload_failure: Option<ReloadFailure>,
    /// Whether the daemon is stopping.
    pub stopping: bool,
}

/// A refused reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadFailure {
    /// When.
    pub at_ms: u64,
    /// The configuration's errors.
    pub errors: Vec<String>,
}

/// One child process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// Which.
    pub process: Process,
    /// Its pid while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `starting`, `running`, `stopping` or `down`.
    pub stage: String,
    /// The user it runs as (as configured: a name or a number).
    pub user: String,
    /// Its uid and gid.
    pub uid: u32,
    /// Its gid.
    pub gid: u32,
    /// Its capabilities.
    pub capabilities: Vec<String>,
    /// Seconds since this process was started, while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    /// Times it was restarted after dying.
    pub restarts: u32,
    /// How its last process ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
}

/// One VRRP instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Its name.
    pub name: String,
    /// `INIT`, `BACKUP`, `MASTER`, `FAULT` or `STOP`; absent before the VRRP process
    /// reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Its interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Its virtual router id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_router_id: Option<u8>,
    /// The configured priority.
    pub base_priority: u8,
    /// The priority with trackers applied, as last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_priority: Option<u8>,
    /// The current master's address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<IpAddr>,
    /// The last state change seen by this parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<Transition>,
    /// Tracker values (script results, rise/fall progress), by tracker name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trackers: Vec<(String, i32)>,
    /// State changes seen since the parent started.
    pub transitions: u64,
}

/// A state change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// When the parent learnt it.
    pub at_ms: u64,
    /// The state before (absent for the first report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// Why, as the VRRP process says.
    pub reason: String,
}

/// One sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroupStatus {
    /// Its name.
    pub name: String,
    /// Its members.
    pub instances: Vec<String>,
    /// Its state, once reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at_ms: Option<u64>,
}

/// One virtual server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    /// Its name: `IP:PORT/PROTO`, `fwmark N` or `group NAME` (the daemon's key).
    pub name: String,
    /// `quorum`: the least live weight for the service to be up.
    pub quorum: u32,
    /// `hysteresis`.
    pub hysteresis: u32,
    /// The sum of the weights of the real servers up.
    pub live_weight: u64,
    /// Whether the quorum is met (live weight against quorum, with hysteresis).
    pub quorum_up: bool,
    /// Its real servers.
    pub real_servers: Vec<RealServerStatus>,
}

/// One real server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealServerStatus {
    /// Its address.
    pub ip: Option<IpAddr>,
    /// Its port (0 when none).
    pub port: u16,
    /// Whether every checker passes; absent before the checker reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    /// Its weight: the configured one, or the one a MISC_CHECK set.
    pub weight: u32,
    /// The last check result's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When its health last changed (as seen by this parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at_ms: Option<u64>,
}

/// One state change, numbered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// 1, 2, ... per subscription's daemon; a gap means the subscriber missed events
    /// (it never happens on a live subscription: a subscriber too slow is disconnected).
    pub seq: u64,
    /// When the parent learnt it.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A VRRP instance changed state.
    VrrpTransition {
        /// The instance.
        instance: String,
        /// The state before, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The new state.
        to: String,
        /// Its effective priority.
        priority: u8,
        /// Why.
        reason: String,
    },
    /// A VRRP instance's effective priority changed (same state).
    PriorityChange {
        /// The instance.
        instance: String,
        /// Before.
        from: u8,
        /// After.
        to: u8,
    },
    /// A sync group changed state.
    SyncGroup {
        /// The group.
        group: String,
        /// The new state.
        state: String,
    },
    /// A real server went up or down.
    RealServer {
        /// Its virtual server.
        virtual_server: String,
        /// Its address.
        ip: IpAddr,
        /// Its port.
        port: u16,
        /// Up or down.
        up: bool,
        /// Why.
        reason: String,
    },
    /// A virtual server gained or lost its quorum.
    Quorum {
        /// The virtual server.
        virtual_server: String,
        /// Met or lost.
        up: bool,
        /// The live weight.
        live_weight: u64,
    },
    /// A child process was started.
    ProcessStarted {
        /// Which.
        process: Process,
        /// Its pid.
        pid: u32,
        /// How many times it was restarted before.
        restarts: u32,
    },
    /// A child process ended.
    ProcessExited {
        /// Which.
        process: Process,
        /// Its pid.
        pid: u32,
        /// How it ended.
        cause: String,
    },
    /// A reload was applied or refused.
    Reload {
        /// The generation now running.
        generation: u64,
        /// Applied (true) or refused (false).
        ok: bool,
        /// The errors when refused.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<String>,
    },
}
