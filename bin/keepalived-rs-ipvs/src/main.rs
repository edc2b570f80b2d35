//! The IPVS writer. It is started by `keepalived-rs` with its IPC socket on fd 3 and runs
//! as its own user with CAP_NET_ADMIN only; a seccomp filter refuses it any IP socket, so
//! all it can do is talk generic netlink to the kernel and to the parent.
//!
//! This build holds its projection and the health table (with sequence numbers, asking
//! for the table on a gap); programming the kernel arrives with the IPVS issue.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use keepalived_config::project::{IpvsObject, Keyed, ObjectKey};
use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use log::{error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);

fn main() -> ExitCode {
    let started = match keepalived_ipc::child::startup("keepalived-rs-ipvs") {
        Ok(s) => s,
        Err(code) => return ExitCode::from(code),
    };
    match run(started.socket, started.args.parent) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::from(3)
        }
    }
}

fn run(socket: std::os::unix::net::UnixStream, parent: u32) -> Result<(), String> {
    let mut chan: Channel<ParentToIpvs, IpvsToParent> =
        Channel::new(socket).map_err(|e| e.to_string())?;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]).map_err(|e| e.to_string())?;
    poll.registry()
        .register(
            &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&chan)),
            IPC,
            Interest::READABLE,
        )
        .and_then(|_| {
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)
        })
        .map_err(|e| e.to_string())?;
    chan.send(&IpvsToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut objects: BTreeMap<ObjectKey, IpvsObject> = BTreeMap::new();
    let mut health: BTreeMap<RealServerId, Health> = BTreeMap::new();
    let mut seq = 0u64;
    let mut events = Events::with_capacity(16);
    loop {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_secs(1))) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        for ev in events.iter() {
            if ev.token() == SIGNALS {
                for s in signals.pending() {
                    if (s == SIGTERM || s == SIGINT) && keepalived_ipc::child::parent_gone(parent) {
                        // Parent death: leave the kernel table for the next start to adopt.
                        warn!("parent gone (signal {s}); exiting, IPVS table left as it is");
                        return Ok(());
                    }
                }
                continue;
            }
            let msgs = match chan.receive() {
                Ok(m) => m,
                Err(keepalived_ipc::ChannelError::Closed) => {
                    warn!("parent gone (end of file); exiting, IPVS table left as it is");
                    return Ok(());
                }
                Err(e) => return Err(format!("protocol error from the parent: {e}")),
            };
            for m in msgs {
                match m {
                    ParentToIpvs::Hello(h) => {
                        if h.version != keepalived_ipc::PROTOCOL_VERSION {
                            return Err(format!("parent speaks IPC version {}", h.version));
                        }
                    }
                    ParentToIpvs::Config(Json(o)) => {
                        objects.insert(o.key(), o);
                    }
                    ParentToIpvs::Remove(k) => {
                        objects.remove(&k);
                    }
                    ParentToIpvs::ConfigDone(g) => {
                        info!("configuration applied: {} object(s)", objects.len());
                        chan.send(&IpvsToParent::ConfigAck(g))
                            .map_err(|e| e.to_string())?;
                    }
                    ParentToIpvs::Start => info!("started"),
                    ParentToIpvs::Ping(n) => chan
                        .send(&IpvsToParent::Pong(n))
                        .map_err(|e| e.to_string())?,
                    ParentToIpvs::Health { seq: s, health: h } => {
                        if s != seq + 1 {
                            chan.send(&IpvsToParent::HealthGap { have: seq })
                                .map_err(|e| e.to_string())?;
                        }
                        seq = s;
                        health.insert(h.real_server.clone(), h);
                    }
                    ParentToIpvs::HealthSnapshot {
                        seq: s,
                        health: all,
                    } => {
                        seq = s;
                        health = all
                            .into_iter()
                            .map(|h| (h.real_server.clone(), h))
                            .collect();
                    }
                    ParentToIpvs::SyncDaemonState { instance, state } => {
                        info!("lvs_sync_daemon instance {instance} is {state:?}");
                    }
                    ParentToIpvs::Dump(kind) => {
                        let mut text = String::from("------< IPVS writer >------\n");
                        text.push_str(&format!(
                            " Objects = {}\n Real servers with health = {}\n Health sequence = {seq}\n",
                            objects.len(),
                            health.len()
                        ));
                        chan.send(&IpvsToParent::Dump(DumpText { kind, text }))
                            .map_err(|e| e.to_string())?;
                    }
                    ParentToIpvs::LogLevel(_) => {}
                    ParentToIpvs::Shutdown(s) => {
                        info!("stopping (release: {})", s.release);
                        let _ = chan.flush();
                        return Ok(());
                    }
                }
            }
        }
        if let Err(e) = chan.flush() {
            return Err(format!("channel to the parent: {e}"));
        }
    }
}
