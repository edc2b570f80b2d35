//! The health-checker process. It is started by `keepalived-rs` with its IPC socket on fd 3
//! and runs as its own user, with no capability unless a PING_CHECK, `fwmark` or a
//! privileged `bind_port` needs one.
//!
//! This build holds its projection, resumes the health table, and sends the e-mail alerts
//! the parent asks for (non-blocking SMTP, one connection per alert, bounded by the
//! configured timeout). The checks themselves arrive with the checker issue.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use keepalived_check::smtp_alert::{Alert, Progress, SmtpSession};
use keepalived_config::project::{CheckObject, Keyed, ObjectKey};
use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use log::{error, info, warn};
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);
/// Alert connections use tokens from here.
const FIRST_ALERT: usize = 16;
/// Alerts in flight at once; more wait in a queue.
const MAX_ALERTS: usize = 8;

fn main() -> ExitCode {
    let started = match keepalived_ipc::child::startup("keepalived-rs-check") {
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

/// One alert being delivered.
#[derive(Debug)]
struct AlertConn {
    id: u64,
    stream: TcpStream,
    session: SmtpSession,
    pending: Vec<u8>,
    deadline: Instant,
}

#[derive(Debug)]
struct Checker {
    chan: Channel<ParentToCheck, CheckToParent>,
    objects: BTreeMap<ObjectKey, CheckObject>,
    health: BTreeMap<RealServerId, Health>,
    alerts: HashMap<Token, AlertConn>,
    queued: Vec<AlertRequest>,
    next_token: usize,
    exit: bool,
}

fn run(socket: std::os::unix::net::UnixStream, parent: u32) -> Result<(), String> {
    let chan = Channel::new(socket).map_err(|e| e.to_string())?;
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
    let mut c = Checker {
        chan,
        objects: BTreeMap::new(),
        health: BTreeMap::new(),
        alerts: HashMap::new(),
        queued: Vec::new(),
        next_token: FIRST_ALERT,
        exit: false,
    };
    c.chan
        .send(&CheckToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(32);
    while !c.exit {
        c.expire_alerts(Instant::now());
        c.start_queued(&poll);
        let timeout = c
            .alerts
            .values()
            .map(|a| a.deadline)
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        for ev in events.iter() {
            match ev.token() {
                IPC => c.on_ipc()?,
                SIGNALS => {
                    for s in signals.pending() {
                        if (s == SIGTERM || s == SIGINT)
                            && keepalived_ipc::child::parent_gone(parent)
                        {
                            warn!("parent gone (signal {s}); stopping");
                            c.exit = true;
                        }
                    }
                }
                t => c.on_alert_io(&poll, t),
            }
        }
        if let Err(e) = c.chan.flush() {
            return Err(format!("channel to the parent: {e}"));
        }
    }
    Ok(())
}

impl Checker {
    fn send(&mut self, m: CheckToParent) {
        if let Err(e) = self.chan.send(&m) {
            error!("cannot send to the parent: {e}");
            self.exit = true;
        }
    }

    fn on_ipc(&mut self) -> Result<(), String> {
        let msgs = match self.chan.receive() {
            Ok(m) => m,
            Err(keepalived_ipc::ChannelError::Closed) => {
                warn!("parent gone (end of file); stopping");
                self.exit = true;
                return Ok(());
            }
            Err(e) => return Err(format!("protocol error from the parent: {e}")),
        };
        for m in msgs {
            match m {
                ParentToCheck::Hello(h) => {
                    if h.version != keepalived_ipc::PROTOCOL_VERSION {
                        return Err(format!("parent speaks IPC version {}", h.version));
                    }
                }
                ParentToCheck::Config(Json(o)) => {
                    self.objects.insert(o.key(), o);
                }
                ParentToCheck::Remove(k) => {
                    self.objects.remove(&k);
                }
                ParentToCheck::ConfigDone(g) => {
                    let n = self
                        .objects
                        .values()
                        .filter(|o| matches!(o, CheckObject::VirtualServer(_)))
                        .count();
                    info!("configuration applied: {n} virtual server(s)");
                    self.send(CheckToParent::ConfigAck(g));
                }
                ParentToCheck::Resume(h) => {
                    info!("resumed the health of {} real server(s)", h.len());
                    self.health = h.into_iter().map(|h| (h.real_server.clone(), h)).collect();
                }
                ParentToCheck::Start => info!("started"),
                ParentToCheck::Ping(n) => self.send(CheckToParent::Pong(n)),
                ParentToCheck::ScriptDone(_) | ParentToCheck::File { .. } => {}
                ParentToCheck::SendAlert(a) => self.queued.push(*a),
                ParentToCheck::SendSnapshot => {
                    let health = self.health.values().cloned().collect();
                    self.send(CheckToParent::Snapshot { seq: 0, health });
                }
                ParentToCheck::Dump(kind) => {
                    let mut text = String::from("------< Health checkers >------\n");
                    for h in self.health.values() {
                        text.push_str(&format!(
                            " Real server {}:{} of {} = {} ({})\n",
                            h.real_server.ip,
                            h.real_server.port,
                            h.real_server.virtual_server,
                            if h.up { "UP" } else { "DOWN" },
                            h.reason
                        ));
                    }
                    self.send(CheckToParent::Dump(DumpText { kind, text }));
                }
                ParentToCheck::LogLevel(l) => log::set_max_level(match l {
                    0 => log::LevelFilter::Off,
                    1 => log::LevelFilter::Error,
                    2 => log::LevelFilter::Warn,
                    3 => log::LevelFilter::Info,
                    4 => log::LevelFilter::Debug,
                    _ => log::LevelFilter::Trace,
                }),
                ParentToCheck::Shutdown(_) => {
                    info!("stopping");
                    self.exit = true;
                }
            }
        }
        Ok(())
    }

    fn start_queued(&mut self, poll: &Poll) {
        while self.alerts.len() < MAX_ALERTS && !self.queued.is_empty() {
            let a = self.queued.remove(0);
            let id = a.id;
            if let Err(e) = self.start_alert(poll, a) {
                warn!("alert {id}: {e}");
                self.send(CheckToParent::AlertSent { id, error: Some(e) });
            }
        }
    }

    fn start_alert(&mut self, poll: &Poll, a: AlertRequest) -> Result<(), String> {
        let addr: SocketAddr = (a.server.as_str(), a.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve smtp_server {}: {e}", a.server))?
            .next()
            .ok_or_else(|| format!("smtp_server {} has no address", a.server))?;
        let alert = Alert {
            from: a.from,
            to: a.to,
            subject: a.subject,
            body: a.body,
            helo: a.helo,
        };
        let session = SmtpSession::new(alert, a.date).map_err(|e| e.to_string())?;
        let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let token = Token(self.next_token);
        self.next_token += 1;
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| e.to_string())?;
        self.alerts.insert(
            token,
            AlertConn {
                id: a.id,
                stream,
                session,
                pending: Vec::new(),
                deadline: Instant::now() + Duration::from_millis(u64::from(a.timeout_ms)),
            },
        );
        Ok(())
    }

    fn on_alert_io(&mut self, poll: &Poll, t: Token) {
        let Some(a) = self.alerts.get_mut(&t) else {
            return;
        };
        let result = drive(a);
        match result {
            Ok(false) => {}
            Ok(true) => self.finish(poll, t, None),
            Err(e) => self.finish(poll, t, Some(e)),
        }
    }

    fn finish(&mut self, poll: &Poll, t: Token, error: Option<String>) {
        if let Some(mut a) = self.alerts.remove(&t) {
            let _ = poll.registry().deregister(&mut a.stream);
            let error = match error {
                None if a.session.is_delivered() => None,
                None => Some("the server closed the connection".into()),
                e => e,
            };
            match &error {
                None => info!("alert {} delivered", a.id),
                Some(e) => warn!("alert {} not delivered: {e}", a.id),
            }
            self.send(CheckToParent::AlertSent { id: a.id, error });
        }
    }

    fn expire_alerts(&mut self, now: Instant) {
        let expired: Vec<Token> = self
            .alerts
            .iter()
            .filter(|(_, a)| now >= a.deadline)
            .map(|(t, _)| *t)
            .collect();
        for t in expired {
            if let Some(a) = self.alerts.remove(&t) {
                warn!("alert {} not delivered: timed out", a.id);
                self.send(CheckToParent::AlertSent {
                    id: a.id,
                    error: Some("timed out".into()),
                });
            }
        }
    }
}

/// Moves one SMTP dialogue forward as far as the socket allows. Ok(true) when finished.
fn drive(a: &mut AlertConn) -> Result<bool, String> {
    let mut buf = [0u8; 2048];
    // Bounded: a server that floods the socket is read in slices between other events.
    for _ in 0..64 {
        while let Some(out) = a.session.output() {
            a.pending.extend(out);
        }
        while !a.pending.is_empty() {
            match a.stream.write(&a.pending) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => {
                    a.pending.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(e.to_string()),
            }
        }
        if a.session.is_done() {
            return Ok(true);
        }
        match a.stream.read(&mut buf) {
            Ok(0) => {
                return match a.session.end_of_stream() {
                    Ok(_) => Ok(true),
                    Err(e) => Err(e.to_string()),
                };
            }
            Ok(n) => match a.session.input(&buf[..n]) {
                Ok(Progress::Done) => return Ok(true),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(false),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(false)
}
