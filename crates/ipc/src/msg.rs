//! The message enums, one per direction, and the types they carry.

use std::net::IpAddr;

use keepalived_config::project::{CheckObject, IpvsObject, ObjectKey, VrrpObject};
use serde::{Deserialize, Serialize};

/// A configuration object carried as JSON inside the postcard frame.
///
/// The configuration model's serde form is made for people: it leaves out every value at
/// its default (`skip_serializing_if`), which only a self-describing format can read back.
/// postcard is not one, so configuration objects (sent once per load or reload) travel as a
/// JSON string; every other message is plain postcard.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: Serialize> Serialize for Json<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Json<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text)
            .map(Json)
            .map_err(serde::de::Error::custom)
    }
}

/// The first message in each direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The sender's package version (for the log).
    pub build: String,
    /// The sender's process id.
    pub pid: u32,
}

impl Hello {
    /// This build's hello.
    pub fn current() -> Self {
        Hello {
            version: crate::PROTOCOL_VERSION,
            build: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
        }
    }
}

/// A configuration generation: 1 for the first load, +1 per reload.
pub type Generation = u64;

/// A clean stop's instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Release what this daemon installed (VIPs and VMACs; IPVS entries). False with
    /// `-V` (VRRP) or `-I` (IPVS).
    pub release: bool,
}

/// The files a data/stats signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DumpKind {
    /// SIGUSR1: the state of every object.
    Data,
    /// SIGUSR2: counters.
    Stats,
    /// STATS_CLEAR: counters, then reset them.
    StatsClear,
    /// JSON: the VRRP state as JSON.
    Json,
}

/// A dump's text, returned to the parent, which writes the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpText {
    /// What was asked.
    pub kind: DumpKind,
    /// The content.
    pub text: String,
}

/// Which script of an object a child asks the parent to run. The parent looks the object
/// up in its configuration; a request for anything else is refused and logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScriptRef {
    /// The `script` of `vrrp_script NAME`.
    VrrpScript(String),
    /// The `misc_path` of the MISC_CHECK number `checker` of a real server.
    MiscCheck {
        /// The real server.
        real_server: RealServerId,
        /// Index of the checker among the real server's checkers.
        checker: u16,
    },
}

/// A request to run a script, with an id for the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRequest {
    /// Chosen by the child; echoed in [`ScriptDone`].
    pub id: u64,
    /// Which script.
    pub script: ScriptRef,
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScriptOutcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
    /// Ran past its timeout and was killed.
    TimedOut,
    /// Not run: not in the configuration, refused by script security, or already running.
    Refused(String),
    /// Could not be started.
    Failed(String),
}

/// The answer to a [`ScriptRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptDone {
    /// The request's id.
    pub id: u64,
    /// How it ended.
    pub outcome: ScriptOutcome,
}

/// A real server, as every process names it: its virtual server's key and its own address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RealServerId {
    /// [`keepalived_config::project::virtual_server_key`] of its virtual server.
    pub virtual_server: String,
    /// Its address.
    pub ip: IpAddr,
    /// Its port (0 when none is configured).
    pub port: u16,
}

// ------------------------------------------------------------------------------------------
// VRRP
// ------------------------------------------------------------------------------------------

/// A VRRP instance's state, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VrrpState {
    /// Not started yet.
    Init,
    /// Backup.
    Backup,
    /// Master (holds the VIPs).
    Master,
    /// Fault (a tracked object failed).
    Fault,
    /// Stopped.
    Stop,
}

/// Whether a report announces an action or confirms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// About to act (e.g. "leaving MASTER, removing VIPs").
    Intent,
    /// Done.
    Done,
}

/// What the VRRP process knows about one instance: sent on every change (the parent keeps
/// the last one and hands it back in [`ParentToVrrp::Resume`] after a respawn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The instance name.
    pub name: String,
    /// Its state.
    pub state: VrrpState,
    /// Intent or result.
    pub phase: Phase,
    /// Effective priority (base adjusted by trackers).
    pub priority: u8,
    /// The advert interval learned from the master (VRRPv3), in centiseconds.
    pub learned_interval_cs: Option<u16>,
    /// When preempt_delay ends, in CLOCK_MONOTONIC microseconds (system-wide).
    pub preempt_deadline_us: Option<u64>,
    /// Tracker counters (script rise/fall progress and results), by tracker name.
    pub trackers: Vec<(String, i32)>,
    /// The current master's address, when known.
    pub master: Option<IpAddr>,
    /// Why the last transition happened.
    pub reason: String,
    /// Everything the state machine needs to resume (state, learned interval, deadlines,
    /// tracker statuses); `None` before the instance started.
    pub saved: Option<keepalived_vrrp::Saved>,
}

/// A sync group's state, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// The group name.
    pub name: String,
    /// Its state.
    pub state: VrrpState,
}

/// What the VRRP process reports (each with a sequence number; see [`VrrpToParent::Report`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VrrpEvent {
    /// An instance changed state or priority, or is about to.
    Instance(InstanceReport),
    /// A sync group changed state.
    Group(GroupReport),
    /// A MASTER instance received an advert of lower priority
    /// (`notify_master_rx_lower_pri`).
    MasterRxLowerPri {
        /// The instance.
        instance: String,
        /// The sender.
        from: IpAddr,
    },
}

/// Parent to VRRP process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParentToVrrp {
    /// The parent's hello (after the child's).
    Hello(Hello),
    /// One object of the projection (new or changed).
    Config(Json<VrrpObject>),
    /// An object that disappeared on reload.
    Remove(ObjectKey),
    /// The end of a configuration (first load or reload).
    ConfigDone(Generation),
    /// The last reports before the respawn, to resume from (after `ConfigDone`).
    Resume(Vec<InstanceReport>),
    /// Start working (after `ConfigAck` and an optional `Resume`).
    Start,
    /// A heartbeat to answer with [`VrrpToParent::Pong`].
    Ping(u64),
    /// A script finished.
    ScriptDone(ScriptDone),
    /// The content of a `track_file` (read by the parent): the number in it, or `None`
    /// when the file is missing or unreadable.
    TrackFile {
        /// The track_file name.
        name: String,
        /// Its value.
        value: Option<i64>,
    },
    /// Send the full state (the parent saw a gap in the report sequence).
    SendSnapshot,
    /// Produce a dump.
    Dump(DumpKind),
    /// Change the log level (0 off .. 5 trace).
    LogLevel(u8),
    /// Stop cleanly.
    Shutdown(Shutdown),
}

/// An IPv4 interface setting the VRRP process may ask the parent to write (the VRRP
/// process cannot write /proc/sys itself: it is not uid 0). The parent keeps the old
/// values and restores them when the daemon stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Sysctl {
    /// `net.ipv4.conf.IF.arp_ignore`.
    ArpIgnore,
    /// `net.ipv4.conf.IF.arp_filter`.
    ArpFilter,
    /// `net.ipv4.conf.IF.arp_announce`.
    ArpAnnounce,
    /// `net.ipv4.conf.IF.accept_local`.
    AcceptLocal,
    /// `net.ipv4.conf.IF.rp_filter` (`all` allowed).
    RpFilter,
}

impl Sysctl {
    /// The file name under /proc/sys/net/ipv4/conf/IF/.
    pub fn key(self) -> &'static str {
        match self {
            Sysctl::ArpIgnore => "arp_ignore",
            Sysctl::ArpFilter => "arp_filter",
            Sysctl::ArpAnnounce => "arp_announce",
            Sysctl::AcceptLocal => "accept_local",
            Sysctl::RpFilter => "rp_filter",
        }
    }
}

/// VRRP process to parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VrrpToParent {
    /// The child's hello, sent once its privileges are dropped.
    Hello(Hello),
    /// The configuration of this generation is applied.
    ConfigAck(Generation),
    /// The answer to a heartbeat.
    Pong(u64),
    /// A state report; `seq` counts reports from 1 and has no gaps.
    Report {
        /// Sequence number.
        seq: u64,
        /// What happened.
        event: VrrpEvent,
    },
    /// Every instance and group, answering `SendSnapshot` (and after `Start`).
    Snapshot {
        /// The sequence number of the last report included.
        seq: u64,
        /// Instances.
        instances: Vec<InstanceReport>,
        /// Groups.
        groups: Vec<GroupReport>,
    },
    /// Run a script.
    RunScript(ScriptRequest),
    /// A dump's content.
    Dump(DumpText),
    /// Set an interface setting (VMAC set-up): interface name, setting, value.
    Sysctl {
        /// The interface (`all` only for rp_filter).
        interface: String,
        /// Which setting.
        key: Sysctl,
        /// The value (0..2).
        value: u8,
    },
}

// ------------------------------------------------------------------------------------------
// Checker
// ------------------------------------------------------------------------------------------

/// One real server's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The real server.
    pub real_server: RealServerId,
    /// Every checker passes.
    pub up: bool,
    /// A weight set by MISC_CHECK's `misc_dynamic`, if any.
    pub weight: Option<u32>,
    /// Why (the failing checker and its reason, or "all checks passed").
    pub reason: String,
    /// Retry and rise counters, for resuming after a respawn.
    pub counters: Vec<u32>,
}

/// About how many bytes of health go in one message: far below the frame limit
/// ([`crate::frame::MAX_FRAME`]), so that 10,000 real servers and their reasons travel in a
/// few messages.
pub const HEALTH_CHUNK_BYTES: usize = 256 << 10;

/// Splits a health table into parts that each fit in one message (at least one part, maybe
/// empty). Each entry's size is estimated from its strings and counters; one entry larger
/// than [`HEALTH_CHUNK_BYTES`] still travels alone.
/// The messages that hand the IPVS writer a whole health table: `HealthSnapshotPart`s and
/// a closing `HealthSnapshot`, each within a frame.
pub fn ipvs_health_snapshot(seq: u64, health: Vec<Health>) -> Vec<ParentToIpvs> {
    let mut parts = health_chunks(health);
    let last = parts.pop().unwrap_or_default();
    let mut out: Vec<ParentToIpvs> = parts
        .into_iter()
        .map(ParentToIpvs::HealthSnapshotPart)
        .collect();
    out.push(ParentToIpvs::HealthSnapshot { seq, health: last });
    out
}

pub fn health_chunks(health: Vec<Health>) -> Vec<Vec<Health>> {
    let mut out = Vec::new();
    let mut part = Vec::new();
    let mut bytes = 0;
    for h in health {
        let size = 64 + h.real_server.virtual_server.len() + h.reason.len() + 5 * h.counters.len();
        if !part.is_empty() && bytes + size > HEALTH_CHUNK_BYTES {
            out.push(std::mem::take(&mut part));
            bytes = 0;
        }
        bytes += size;
        part.push(h);
    }
    out.push(part);
    out
}

/// An e-mail alert, fully formed by the parent (which holds the notification settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRequest {
    /// Chosen by the parent; echoed in the result.
    pub id: u64,
    /// SMTP server host (an address or a name the checker resolves).
    pub server: String,
    /// SMTP server port.
    pub port: u16,
    /// HELO name.
    pub helo: String,
    /// Envelope and header sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// RFC 5322 date for the header.
    pub date: String,
    /// Connect and reply timeout, in milliseconds.
    pub timeout_ms: u32,
}

/// The files of the `SSL { }` block, read by the parent (the checker opens no files), and
/// whether SSL_GET verifies the server's certificate. Its `Debug` form hides the key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    /// `ca FILE`: the certificates to trust, PEM.
    pub ca: Option<Vec<u8>>,
    /// `certificate FILE`: the client certificate chain, PEM.
    pub certificate: Option<Vec<u8>>,
    /// `key FILE`: the client private key, PEM (never encrypted: refused at load).
    pub key: Option<Vec<u8>>,
    /// `verify_certificate`: check the server's certificate (keepalived does not).
    pub verify: bool,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("certificate", &self.certificate.as_ref().map(Vec::len))
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .field("verify", &self.verify)
            .finish()
    }
}

/// Parent to checker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParentToCheck {
    /// The parent's hello.
    Hello(Hello),
    /// One object of the projection.
    Config(Json<CheckObject>),
    /// An object that disappeared on reload.
    Remove(ObjectKey),
    /// The end of a configuration.
    ConfigDone(Generation),
    /// The last known health of each real server, to resume from.
    Resume(Vec<Health>),
    /// Start checking.
    Start,
    /// A heartbeat.
    Ping(u64),
    /// A MISC_CHECK script finished.
    ScriptDone(ScriptDone),
    /// The content of a FILE_CHECK file (read by the parent).
    File {
        /// The real server.
        real_server: RealServerId,
        /// The checker index.
        checker: u16,
        /// The number in the file, or `None` when it is missing or unreadable.
        value: Option<i64>,
    },
    /// Send an e-mail alert.
    SendAlert(Box<AlertRequest>),
    /// Send the full health table.
    SendSnapshot,
    /// The TLS material of SSL_GET (before `Start`, and again when a reload changes it).
    Tls(Box<TlsFiles>),
    /// The last health sequence number the parent received (0 at the first start): this
    /// process numbers its transitions from the next one, so that the numbers continue
    /// without a gap across a respawn. Sent before `Start`.
    Sequence(u64),
    /// Produce a dump.
    Dump(DumpKind),
    /// Change the log level.
    LogLevel(u8),
    /// Stop.
    Shutdown(Shutdown),
}

/// Checker to parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckToParent {
    /// The child's hello.
    Hello(Hello),
    /// The configuration is applied.
    ConfigAck(Generation),
    /// The answer to a heartbeat.
    Pong(u64),
    /// A health transition; `seq` counts from 1 without gaps.
    Health {
        /// Sequence number.
        seq: u64,
        /// The new health.
        health: Health,
    },
    /// The first parts of a table too large for one message ([`health_chunks`]); the
    /// `Snapshot` that follows holds the last part and ends it.
    SnapshotPart(Vec<Health>),
    /// The whole table (answering `SendSnapshot`), or its last part after `SnapshotPart`s.
    Snapshot {
        /// The last sequence number included.
        seq: u64,
        /// Every configured real server.
        health: Vec<Health>,
    },
    /// Run a MISC_CHECK script.
    RunScript(ScriptRequest),
    /// The result of an alert.
    AlertSent {
        /// The request's id.
        id: u64,
        /// `None` when the server accepted it, else why not.
        error: Option<String>,
    },
    /// A dump's content.
    Dump(DumpText),
}

// ------------------------------------------------------------------------------------------
// IPVS writer
// ------------------------------------------------------------------------------------------

/// Parent to IPVS writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParentToIpvs {
    /// The parent's hello.
    Hello(Hello),
    /// One object of the projection.
    Config(Json<IpvsObject>),
    /// An object that disappeared on reload.
    Remove(ObjectKey),
    /// The end of a configuration.
    ConfigDone(Generation),
    /// Start (the writer reads the kernel table itself; nothing to resume).
    Start,
    /// A heartbeat.
    Ping(u64),
    /// A health transition, forwarded from the checker with its sequence number.
    Health {
        /// The checker's sequence number.
        seq: u64,
        /// The new health.
        health: Health,
    },
    /// The first parts of a health table too large for one message ([`health_chunks`]);
    /// the `HealthSnapshot` that follows holds the last part and ends it.
    HealthSnapshotPart(Vec<Health>),
    /// The checker's whole table, or its last part after `HealthSnapshotPart`s.
    HealthSnapshot {
        /// The last sequence number included.
        seq: u64,
        /// Every configured real server.
        health: Vec<Health>,
    },
    /// The state of the VRRP instance an `lvs_sync_daemon` follows.
    SyncDaemonState {
        /// The instance.
        instance: String,
        /// Its state.
        state: VrrpState,
        /// Its virtual_router_id (the default sync id).
        vrid: Option<u8>,
    },
    /// Produce a dump.
    Dump(DumpKind),
    /// Change the log level.
    LogLevel(u8),
    /// Stop; `release` removes the entries this daemon created.
    Shutdown(Shutdown),
}

/// IPVS writer to parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IpvsToParent {
    /// The child's hello.
    Hello(Hello),
    /// The configuration is applied.
    ConfigAck(Generation),
    /// The answer to a heartbeat.
    Pong(u64),
    /// A gap in the health sequence: send the checker's snapshot.
    HealthGap {
        /// The last sequence number applied.
        have: u64,
    },
    /// A virtual server's quorum changed (the parent runs quorum_up / quorum_down).
    Quorum {
        /// The virtual server's key.
        virtual_server: String,
        /// Quorum reached.
        up: bool,
    },
    /// The kernel refused an operation (logged by the writer too; the parent keeps the
    /// last ones for the status and counts them).
    KernelError {
        /// The operation, e.g. `add service TCP 192.0.2.1:80`.
        op: String,
        /// The kernel's reason.
        error: String,
    },
    /// A dump's content.
    Dump(DumpText),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameReader, encode};

    #[test]
    fn every_direction_round_trips() {
        let rs = RealServerId {
            virtual_server: "192.0.2.1:80/tcp".into(),
            ip: "198.51.100.1".parse().unwrap(),
            port: 80,
        };
        let msgs = vec![
            ParentToVrrp::Hello(Hello::current()),
            ParentToVrrp::Remove(ObjectKey::Instance("VI_1".into())),
            ParentToVrrp::ConfigDone(1),
            ParentToVrrp::Resume(vec![InstanceReport {
                name: "VI_1".into(),
                state: VrrpState::Master,
                phase: Phase::Done,
                priority: 100,
                learned_interval_cs: Some(100),
                preempt_deadline_us: None,
                trackers: vec![("chk".into(), 2)],
                master: None,
                reason: "resumed".into(),
                saved: None,
            }]),
            ParentToVrrp::Shutdown(Shutdown { release: true }),
        ];
        let mut r = FrameReader::new();
        for m in &msgs {
            r.push(&encode(m).unwrap()).unwrap();
        }
        for m in &msgs {
            assert_eq!(r.take::<ParentToVrrp>().unwrap().as_ref(), Some(m));
        }
        let h = CheckToParent::Health {
            seq: 3,
            health: Health {
                real_server: rs,
                up: false,
                weight: None,
                reason: "connect timeout".into(),
                counters: vec![1],
            },
        };
        r.push(&encode(&h).unwrap()).unwrap();
        assert_eq!(r.take::<CheckToParent>().unwrap(), Some(h));
    }

    #[test]
    fn a_large_health_table_travels_in_parts_that_each_fit_a_frame() {
        let health: Vec<Health> = (0..20_000u32)
            .map(|i| Health {
                real_server: RealServerId {
                    virtual_server: format!("192.0.2.{}:80/tcp", i % 200),
                    ip: IpAddr::from(i.to_be_bytes()),
                    port: 8080,
                },
                up: false,
                weight: Some(i),
                reason: format!(
                    "HTTP_GET #0 to 198.51.100.1:8080: url #3: {}",
                    "x".repeat(200)
                ),
                counters: vec![1, 0, 0, 2, 1, 0],
            })
            .collect();
        assert!(encode(&CheckToParent::SnapshotPart(health.clone())).is_err());
        let parts = health_chunks(health.clone());
        assert!(parts.len() > 1);
        let mut back = Vec::new();
        for p in parts {
            let m = CheckToParent::SnapshotPart(p);
            let frame = encode(&m).expect("a part fits in a frame");
            assert!(frame.len() < crate::frame::MAX_FRAME / 2);
            let CheckToParent::SnapshotPart(p) = m else {
                unreachable!()
            };
            back.extend(p);
        }
        assert_eq!(back, health);
        assert_eq!(health_chunks(Vec::new()), vec![Vec::<Health>::new()]);

        // The parent hands the same table to the IPVS writer: parts, then the snapshot that
        // closes it with the sequence number.
        let msgs = ipvs_health_snapshot(7, health.clone());
        assert!(msgs.len() > 1);
        let mut back = Vec::new();
        for (i, m) in msgs.into_iter().enumerate() {
            encode(&m).expect("each message fits in a frame");
            match m {
                ParentToIpvs::HealthSnapshotPart(p) => back.extend(p),
                ParentToIpvs::HealthSnapshot { seq, health: p } => {
                    assert_eq!(seq, 7);
                    back.extend(p);
                    assert_eq!(
                        back.len(),
                        health.len(),
                        "the snapshot is last (message {i})"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, health);
        assert!(matches!(
            ipvs_health_snapshot(3, Vec::new()).as_slice(),
            [ParentToIpvs::HealthSnapshot { seq: 3, health }] if health.is_empty()
        ));
    }

    #[test]
    fn the_debug_form_of_tls_files_hides_the_key() {
        let t = TlsFiles {
            ca: Some(b"CA".to_vec()),
            certificate: None,
            key: Some(b"SECRETKEY".to_vec()),
            verify: false,
        };
        let text = format!("{:?}", ParentToCheck::Tls(Box::new(t)));
        assert!(
            !text.contains("SECRETKEY") && !text.contains("83, 69, 67"),
            "{text}"
        );
        assert!(text.contains("<hidden>"), "{text}");
    }

    #[test]
    fn checker_messages_round_trip() {
        let msgs = vec![
            ParentToCheck::Sequence(41),
            ParentToCheck::Tls(Box::new(TlsFiles {
                ca: Some(b"-----BEGIN CERTIFICATE-----\n".to_vec()),
                certificate: None,
                key: Some(vec![0, 255, 10]),
                verify: true,
            })),
            ParentToCheck::Tls(Box::default()),
            ParentToCheck::File {
                real_server: RealServerId {
                    virtual_server: "fwmark 7/tcp".into(),
                    ip: "2001:db8::1".parse().unwrap(),
                    port: 0,
                },
                checker: 2,
                value: Some(-3),
            },
        ];
        let mut r = FrameReader::new();
        for m in &msgs {
            r.push(&encode(m).unwrap()).unwrap();
        }
        for m in &msgs {
            assert_eq!(r.take::<ParentToCheck>().unwrap().as_ref(), Some(m));
        }
    }

    #[test]
    fn configuration_objects_with_defaults_left_out_cross_the_wire() {
        // The model leaves defaults out of its serde form; postcard alone cannot read that.
        let l = keepalived_config::load_str(
            "t.conf",
            "global_defs { vrrp_garp_master_delay 3 }\n\
             vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n \
             virtual_ipaddress { 192.0.2.10/24 }\n}\n",
            &keepalived_config::LoadOptions::default(),
        );
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        let objs = keepalived_config::project::vrrp_objects(&l.config);
        let mut r = FrameReader::new();
        for o in &objs {
            r.push(&encode(&ParentToVrrp::Config(Json(o.clone()))).unwrap())
                .unwrap();
        }
        for o in objs {
            assert_eq!(
                r.take::<ParentToVrrp>().unwrap(),
                Some(ParentToVrrp::Config(Json(o)))
            );
        }
    }

    #[test]
    fn a_message_of_one_direction_does_not_pass_as_another() {
        // A child that sends the parent's own message type gets a protocol error, not a
        // silently misread value: the variants differ in shape.
        let mut r = FrameReader::new();
        r.push(
            &encode(&ParentToVrrp::Config(Json(VrrpObject::Statics(
                Box::default(),
            ))))
            .unwrap(),
        )
        .unwrap();
        assert!(r.take::<VrrpToParent>().is_err());
    }
}
