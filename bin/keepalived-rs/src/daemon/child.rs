//! One supervised child process as the parent sees it: its identity, its channel, its log
//! pipe, its handshake stage, its heartbeat and what it last reported.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use keepalived_config::project::{CheckObject, Fingerprint, IpvsObject, Role, VrrpObject};
use keepalived_ipc::msg::*;
use keepalived_ipc::{Channel, ChannelError};
use nix::unistd::Pid;

/// The typed channel to one child.
#[derive(Debug)]
pub enum Link {
    /// To the VRRP process.
    Vrrp(Channel<VrrpToParent, ParentToVrrp>),
    /// To the checker.
    Check(Channel<CheckToParent, ParentToCheck>),
    /// To the IPVS writer.
    Ipvs(Channel<IpvsToParent, ParentToIpvs>),
}

/// What a child said, with the messages every child shares pulled out.
#[derive(Debug)]
pub enum Inbound {
    /// Its hello.
    Hello(Hello),
    /// Configuration applied.
    ConfigAck(Generation),
    /// Heartbeat answer.
    Pong(u64),
    /// A dump.
    Dump(DumpText),
    /// A script request.
    RunScript(ScriptRequest),
    /// VRRP-only messages.
    Vrrp(VrrpToParent),
    /// Checker-only messages.
    Check(CheckToParent),
    /// IPVS-writer-only messages.
    Ipvs(IpvsToParent),
}

/// One projection, typed by role.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// VRRP objects.
    Vrrp(Vec<VrrpObject>),
    /// Checker objects.
    Check(Vec<CheckObject>),
    /// IPVS objects.
    Ipvs(Vec<IpvsObject>),
}

impl Projection {
    /// What the child holds after this projection was sent (hashes, not the objects).
    pub fn fingerprint(&self) -> Fingerprint {
        use keepalived_config::project::fingerprint;
        match self {
            Projection::Vrrp(o) => fingerprint(o),
            Projection::Check(o) => fingerprint(o),
            Projection::Ipvs(o) => fingerprint(o),
        }
    }

    /// The projection of `config` for `role`.
    pub fn of(config: &keepalived_config::Config, role: Role) -> Self {
        use keepalived_config::project as p;
        match role {
            Role::Vrrp => Projection::Vrrp(p::vrrp_objects(config)),
            Role::Check => Projection::Check(p::check_objects(config)),
            Role::Ipvs => Projection::Ipvs(p::ipvs_objects(config)),
        }
    }
}

impl Link {
    /// Wraps the parent's end of a child's socketpair.
    pub fn new(role: Role, stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        Ok(match role {
            Role::Vrrp => Link::Vrrp(Channel::new(stream)?),
            Role::Check => Link::Check(Channel::new(stream)?),
            Role::Ipvs => Link::Ipvs(Channel::new(stream)?),
        })
    }

    /// The socket, for the event loop.
    pub fn stream(&self) -> &std::os::unix::net::UnixStream {
        match self {
            Link::Vrrp(c) => c.stream(),
            Link::Check(c) => c.stream(),
            Link::Ipvs(c) => c.stream(),
        }
    }

    /// Receives what the child sent.
    pub fn receive(&mut self) -> Result<Vec<Inbound>, ChannelError> {
        Ok(match self {
            Link::Vrrp(c) => c
                .receive()?
                .into_iter()
                .map(|m| match m {
                    VrrpToParent::Hello(h) => Inbound::Hello(h),
                    VrrpToParent::ConfigAck(g) => Inbound::ConfigAck(g),
                    VrrpToParent::Pong(n) => Inbound::Pong(n),
                    VrrpToParent::Dump(d) => Inbound::Dump(d),
                    VrrpToParent::RunScript(r) => Inbound::RunScript(r),
                    other => Inbound::Vrrp(other),
                })
                .collect(),
            Link::Check(c) => c
                .receive()?
                .into_iter()
                .map(|m| match m {
                    CheckToParent::Hello(h) => Inbound::Hello(h),
                    CheckToParent::ConfigAck(g) => Inbound::ConfigAck(g),
                    CheckToParent::Pong(n) => Inbound::Pong(n),
                    CheckToParent::Dump(d) => Inbound::Dump(d),
                    CheckToParent::RunScript(r) => Inbound::RunScript(r),
                    other => Inbound::Check(other),
                })
                .collect(),
            Link::Ipvs(c) => c
                .receive()?
                .into_iter()
                .map(|m| match m {
                    IpvsToParent::Hello(h) => Inbound::Hello(h),
                    IpvsToParent::ConfigAck(g) => Inbound::ConfigAck(g),
                    IpvsToParent::Pong(n) => Inbound::Pong(n),
                    IpvsToParent::Dump(d) => Inbound::Dump(d),
                    other => Inbound::Ipvs(other),
                })
                .collect(),
        })
    }

    /// Writes what is queued.
    pub fn flush(&mut self) -> Result<bool, ChannelError> {
        match self {
            Link::Vrrp(c) => c.flush(),
            Link::Check(c) => c.flush(),
            Link::Ipvs(c) => c.flush(),
        }
    }

    /// True while bytes wait for the socket.
    pub fn wants_write(&self) -> bool {
        match self {
            Link::Vrrp(c) => c.wants_write(),
            Link::Check(c) => c.wants_write(),
            Link::Ipvs(c) => c.wants_write(),
        }
    }

    /// The parent's hello.
    pub fn hello(&mut self) -> Result<(), ChannelError> {
        let h = Hello::current();
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::Hello(h)),
            Link::Check(c) => c.send(&ParentToCheck::Hello(h)),
            Link::Ipvs(c) => c.send(&ParentToIpvs::Hello(h)),
        }
    }

    /// Sends a whole projection (`old` None) or the difference from `old`, then
    /// `ConfigDone(generation)`.
    pub fn configure(
        &mut self,
        old: Option<&Fingerprint>,
        new: &Projection,
        generation: Generation,
    ) -> Result<(), ChannelError> {
        use keepalived_config::project::delta_since;
        let empty = Fingerprint::new();
        let old = old.unwrap_or(&empty);
        match (self, new) {
            (Link::Vrrp(c), Projection::Vrrp(objs)) => {
                let d = delta_since(old, objs);
                for k in d.removed {
                    c.send(&ParentToVrrp::Remove(k))?;
                }
                for o in d.changed {
                    c.send(&ParentToVrrp::Config(Json(o)))?;
                }
                c.send(&ParentToVrrp::ConfigDone(generation))
            }
            (Link::Check(c), Projection::Check(objs)) => {
                let d = delta_since(old, objs);
                for k in d.removed {
                    c.send(&ParentToCheck::Remove(k))?;
                }
                for o in d.changed {
                    c.send(&ParentToCheck::Config(Json(o)))?;
                }
                c.send(&ParentToCheck::ConfigDone(generation))
            }
            (Link::Ipvs(c), Projection::Ipvs(objs)) => {
                let d = delta_since(old, objs);
                for k in d.removed {
                    c.send(&ParentToIpvs::Remove(k))?;
                }
                for o in d.changed {
                    c.send(&ParentToIpvs::Config(Json(o)))?;
                }
                c.send(&ParentToIpvs::ConfigDone(generation))
            }
            _ => Err(ChannelError::Io(io::Error::other(
                "projection of another role",
            ))),
        }
    }

    /// Start working.
    pub fn start(&mut self) -> Result<(), ChannelError> {
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::Start),
            Link::Check(c) => c.send(&ParentToCheck::Start),
            Link::Ipvs(c) => c.send(&ParentToIpvs::Start),
        }
    }

    /// A heartbeat.
    pub fn ping(&mut self, seq: u64) -> Result<(), ChannelError> {
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::Ping(seq)),
            Link::Check(c) => c.send(&ParentToCheck::Ping(seq)),
            Link::Ipvs(c) => c.send(&ParentToIpvs::Ping(seq)),
        }
    }

    /// Ask for a dump.
    pub fn dump(&mut self, kind: DumpKind) -> Result<(), ChannelError> {
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::Dump(kind)),
            Link::Check(c) => c.send(&ParentToCheck::Dump(kind)),
            Link::Ipvs(c) => c.send(&ParentToIpvs::Dump(kind)),
        }
    }

    /// A script's result (only the VRRP process and the checker ask for scripts).
    pub fn script_done(&mut self, done: ScriptDone) -> Result<(), ChannelError> {
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::ScriptDone(done)),
            Link::Check(c) => c.send(&ParentToCheck::ScriptDone(done)),
            Link::Ipvs(_) => Ok(()),
        }
    }

    /// A clean stop.
    pub fn shutdown(&mut self, s: Shutdown) -> Result<(), ChannelError> {
        match self {
            Link::Vrrp(c) => c.send(&ParentToVrrp::Shutdown(s)),
            Link::Check(c) => c.send(&ParentToCheck::Shutdown(s)),
            Link::Ipvs(c) => c.send(&ParentToIpvs::Shutdown(s)),
        }
    }

    /// The VRRP channel, for VRRP-only messages.
    pub fn vrrp(&mut self) -> Option<&mut Channel<VrrpToParent, ParentToVrrp>> {
        match self {
            Link::Vrrp(c) => Some(c),
            _ => None,
        }
    }

    /// The checker channel.
    pub fn check(&mut self) -> Option<&mut Channel<CheckToParent, ParentToCheck>> {
        match self {
            Link::Check(c) => Some(c),
            _ => None,
        }
    }

    /// The IPVS channel.
    pub fn ipvs(&mut self) -> Option<&mut Channel<IpvsToParent, ParentToIpvs>> {
        match self {
            Link::Ipvs(c) => Some(c),
            _ => None,
        }
    }
}

/// Where a running child is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Spawned; its hello has not arrived.
    AwaitHello,
    /// Configuration sent; waiting for the ack of this generation.
    AwaitAck(Generation),
    /// Started.
    Running,
    /// Told to stop; waiting for it to exit.
    Stopping,
}

/// A running child.
#[derive(Debug)]
pub struct Running {
    /// Its pid.
    pub pid: Pid,
    /// Its channel.
    pub link: Link,
    /// The read end of its log pipe (non-blocking).
    pub log: File,
    /// Reassembles its log lines.
    pub lines: keepalived_sys::logpipe::LineSplitter,
    /// When it was spawned.
    pub started: Instant,
    /// Its stage.
    pub stage: Stage,
    /// The generation it has applied.
    pub acked: Generation,
    /// The projection it holds (after its ack: the one it applied).
    pub sent: Option<Fingerprint>,
    /// The unanswered heartbeat: its number and when it was sent.
    pub ping_out: Option<(u64, Instant)>,
    /// When the next heartbeat is due.
    pub next_ping: Instant,
    /// Sent `Shutdown` at this time (for the stop deadline).
    pub stop_sent: Option<Instant>,
    /// The channel reached end of file: the process is exiting (SIGCHLD follows).
    pub closed: bool,
}

impl Running {
    /// Reads the log pipe; returns complete lines.
    pub fn read_log(&mut self) -> Vec<keepalived_sys::logpipe::LogLine> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        for _ in 0..16 {
            match self.log.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend(self.lines.push(&buf[..n])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        out
    }
}

/// A supervised child slot: present for every role the configuration needs, running or
/// waiting to be respawned.
#[derive(Debug)]
pub struct Child {
    /// Its role.
    pub role: Role,
    /// Its uid and gid.
    pub uid: u32,
    /// Its gid.
    pub gid: u32,
    /// The capabilities it is given.
    pub caps: Vec<caps::Capability>,
    /// The process, when running.
    pub proc: Option<Running>,
    /// Respawn back-off.
    pub backoff: super::supervise::Backoff,
    /// When to respawn (set after a death).
    pub respawn_at: Option<Instant>,
    /// Respawns so far.
    pub restarts: u32,
    /// How the last one ended.
    pub last_exit: Option<String>,
    /// The last report of each VRRP instance (handed back as `Resume`).
    pub instances: BTreeMap<String, InstanceReport>,
    /// The last health of each real server (handed back as `Resume` to the checker).
    pub health: BTreeMap<RealServerId, Health>,
    /// The last report sequence number seen.
    pub seq: u64,
    /// The parts of a checker snapshot received so far (`SnapshotPart`).
    pub snapshot_parts: Vec<Health>,
    /// Heartbeat period and deadline.
    pub heartbeat: (Duration, Duration),
    /// Whether this slot has ever started (a later start is a respawn and resumes).
    pub started_once: bool,
}

impl Child {
    /// A slot for `role` that has not started yet.
    pub fn new(role: Role, uid: u32, gid: u32, caps: Vec<caps::Capability>) -> Self {
        Child {
            role,
            uid,
            gid,
            caps,
            proc: None,
            backoff: Default::default(),
            respawn_at: None,
            restarts: 0,
            last_exit: None,
            instances: BTreeMap::new(),
            health: BTreeMap::new(),
            seq: 0,
            snapshot_parts: Vec::new(),
            heartbeat: super::supervise::heartbeat(None),
            started_once: false,
        }
    }

    /// The process's name in logs and pidfiles.
    pub fn name(&self) -> String {
        format!("keepalived-rs-{}", self.role.name())
    }
}
