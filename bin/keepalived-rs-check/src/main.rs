//! The health-checker process. It is started by `keepalived-rs` with its IPC socket on fd 3
//! and runs as its own user, with no capability unless a PING_CHECK on raw sockets,
//! `fwmark` or a privileged `bind_port` needs one.
//!
//! One mio loop: the health engine says which check is due; the process opens its socket
//! ([`net`]) and drives it ([`flight`]) until its outcome or its deadline, then hands the
//! outcome back to the engine and sends the engine's health transitions to the parent.
//! MISC_CHECK scripts run in the parent; FILE_CHECK values and the TLS material are read
//! by the parent (this process opens no files). It also sends the e-mail alerts the parent
//! asks for ([`alerts`]).

mod alerts;
mod api;
mod flight;
mod net;
mod outcomes;
#[cfg(test)]
mod testns;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keepalived_check::spec::{CheckSpec, Outcome, Probe};
use keepalived_config::project::{CheckObject, Keyed, ObjectKey};
use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook::consts::signal::*;
use signal_hook_mio::v1_0::Signals;

use crate::api::{CheckId, Conversation, Engine, Exchange, TlsMaterial};
use crate::flight::{DatagramFlight, Drive, Flight, StreamFlight, TlsSetup};
use crate::net::PingMode;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);
/// Alert and check sockets use tokens from here, never reused.
const FIRST_TOKEN: usize = 16;
/// The read buffer shared by every check: a whole datagram fits.
const READ_BUFFER: usize = 64 * 1024;
/// File descriptors kept for the rest (IPC, log, epoll, alerts).
const SPARE_FDS: u64 = 64;

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

/// A network check in flight.
#[derive(Debug)]
struct InFlight {
    id: CheckId,
    flight: Flight,
    deadline: Instant,
    /// The url being fetched (HTTP_GET, SSL_GET), and how many there are.
    url: usize,
    urls: usize,
    timeout: Duration,
}

/// Counters for the SIGUSR2 dump.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    started: u64,
    up: u64,
    down: u64,
    timed_out: u64,
    scripts: u64,
}

/// A small fast generator for identifiers (DNS ids, raw ICMP identifiers): xorshift64*,
/// seeded from the standard library's per-process random keys.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Rng(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn u16(&mut self) -> u16 {
        (self.next() >> 48) as u16
    }
}

/// The TLS client configuration, built from the parent's material when first needed.
#[derive(Debug, Default)]
struct TlsState {
    files: TlsFiles,
    config: Option<Result<Arc<rustls::ClientConfig>, String>>,
}

impl TlsState {
    fn config(&mut self) -> Result<Arc<rustls::ClientConfig>, String> {
        if self.config.is_none() {
            let f = &self.files;
            let m = TlsMaterial {
                ca_pem: f.ca.clone(),
                cert_pem: f.certificate.clone(),
                key_pem: f.key.clone(),
                verify: f.verify,
            };
            self.config = Some(crate::api::client_config(&m));
        }
        match &self.config {
            Some(Ok(c)) => Ok(c.clone()),
            Some(Err(e)) => Err(format!("TLS set-up: {e}")),
            None => Err("TLS set-up failed".into()),
        }
    }
}

struct Checker {
    chan: Channel<ParentToCheck, CheckToParent>,
    objects: BTreeMap<ObjectKey, CheckObject>,
    engine: Engine,
    started: bool,
    /// The parent's last sequence number before this process: added to the engine's.
    seq_base: u64,
    tls: TlsState,
    flights: HashMap<Token, InFlight>,
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Flights that spent their turn's budget with more to read.
    again: Vec<Token>,
    /// MISC_CHECK requests waiting for the parent: request id -> (check, misc_dynamic).
    misc: HashMap<u64, (CheckId, bool)>,
    next_request: u64,
    /// Ping sockets per family (v4, v6), until the kernel refuses them.
    ping_mode: [PingMode; 2],
    alerts: alerts::Alerts,
    next_token: usize,
    max_flights: usize,
    stats: Stats,
    rng: Rng,
    buf: Vec<u8>,
    exit: bool,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("flights", &self.flights.len())
            .finish_non_exhaustive()
    }
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
    let nofile = net::raise_nofile();
    let mut rng = Rng::new();
    let seed = rng.next();
    let mut c = Checker {
        chan,
        objects: BTreeMap::new(),
        engine: Engine::new(seed),
        started: false,
        seq_base: 0,
        tls: TlsState::default(),
        flights: HashMap::new(),
        deadlines: BinaryHeap::new(),
        again: Vec::new(),
        misc: HashMap::new(),
        next_request: 1,
        ping_mode: [PingMode::Datagram; 2],
        alerts: alerts::Alerts::default(),
        next_token: FIRST_TOKEN,
        max_flights: usize::try_from(nofile.saturating_sub(SPARE_FDS).max(32))
            .unwrap_or(usize::MAX),
        stats: Stats::default(),
        rng,
        buf: vec![0; READ_BUFFER],
        exit: false,
    };
    debug!("up to {} checks in flight", c.max_flights);
    c.chan
        .send(&CheckToParent::Hello(Hello::current()))
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(256);
    while !c.exit {
        let now = Instant::now();
        c.on_timers(poll.registry(), now);
        c.send_transitions();
        if let Err(e) = c.chan.flush() {
            return Err(format!("channel to the parent: {e}"));
        }
        let timeout = c.poll_timeout(Instant::now());
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("event loop: {e}"));
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            match ev.token() {
                IPC => c.on_ipc(now)?,
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
                t => c.drive(poll.registry(), t, now),
            }
        }
        for t in std::mem::take(&mut c.again) {
            c.drive(poll.registry(), t, now);
        }
        c.send_transitions();
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

    fn token(next: &mut usize) -> Token {
        let t = Token(*next);
        *next += 1;
        t
    }

    /// How long the loop may sleep.
    fn poll_timeout(&self, now: Instant) -> Duration {
        if !self.again.is_empty() {
            return Duration::ZERO;
        }
        let mut next = now + Duration::from_secs(1);
        if self.started && self.in_flight() < self.max_flights {
            next = next.min(self.engine.next_due().unwrap_or(next));
        }
        if let Some(Reverse((t, _))) = self.deadlines.peek() {
            next = next.min(*t);
        }
        if let Some(t) = self.alerts.next_deadline() {
            next = next.min(t);
        }
        next.saturating_duration_since(now)
    }

    fn in_flight(&self) -> usize {
        self.flights.len() + self.misc.len()
    }

    fn on_timers(&mut self, r: &Registry, now: Instant) {
        for (id, error) in self.alerts.expire(now) {
            self.send(CheckToParent::AlertSent { id, error });
        }
        let next = &mut self.next_token;
        for (id, error) in self.alerts.start_queued(r, || Self::token(next)) {
            self.send(CheckToParent::AlertSent { id, error });
        }
        self.expire_flights(now);
        if self.started {
            while self.in_flight() < self.max_flights {
                let Some(id) = self.engine.pop_due(now) else {
                    break;
                };
                self.start_check(r, id, now);
            }
        }
    }

    /// Ends the checks whose deadline passed.
    fn expire_flights(&mut self, now: Instant) {
        while let Some(Reverse((t, tok))) = self.deadlines.peek().copied() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            let token = Token(tok);
            if self.flights.get(&token).is_some_and(|f| f.deadline == t) {
                if let Some(f) = self.flights.remove(&token) {
                    self.stats.timed_out += 1;
                    let o = f.flight.timed_out(f.timeout);
                    self.finish(f.id, now, o);
                }
            }
        }
    }

    /// Hands an outcome to the engine.
    fn finish(&mut self, id: CheckId, now: Instant, o: Outcome) {
        match &o {
            Outcome::Down(why) => {
                self.stats.down += 1;
                debug!("check {id:?}: down: {why}");
            }
            _ => self.stats.up += 1,
        }
        self.engine.finished(id, now, o);
    }

    /// Starts a check the engine says is due.
    fn start_check(&mut self, r: &Registry, id: CheckId, now: Instant) {
        let Some((rs, spec)) = self.engine.spec(id) else {
            return;
        };
        self.stats.started += 1;
        match spec.probe {
            Probe::Misc { dynamic } => {
                let req = self.next_request;
                self.next_request += 1;
                let script = ScriptRef::MiscCheck {
                    real_server: rs.clone(),
                    checker: spec.index,
                };
                self.misc.insert(req, (id, dynamic));
                self.stats.scripts += 1;
                self.send(CheckToParent::RunScript(ScriptRequest { id: req, script }));
            }
            // FILE_CHECK has no timer: the parent's values go to the engine as they come.
            Probe::File { .. } => {}
            _ => self.open(r, id, 0, now),
        }
    }

    /// Opens the connection of url `url` of a network check (0 for all but HTTP).
    fn open(&mut self, r: &Registry, id: CheckId, url: usize, now: Instant) {
        let Some((_, spec)) = self.engine.spec(id) else {
            return;
        };
        let urls = match &spec.probe {
            Probe::Http(h) => h.urls.len().max(1),
            _ => 1,
        };
        let Some(timeout) = spec.target.as_ref().map(|t| t.timeout) else {
            self.finish(id, now, Outcome::Down("no address to check".into()));
            return;
        };
        let opened = open_flight(spec, url, &mut self.tls, &mut self.ping_mode, &mut self.rng);
        let mut flight = match opened {
            Ok(f) => f,
            Err(why) => {
                self.finish(id, now, Outcome::Down(why));
                return;
            }
        };
        let token = Self::token(&mut self.next_token);
        if let Err(e) = flight.register(r, token) {
            self.finish(id, now, Outcome::Down(format!("event loop: {e}")));
            return;
        }
        let deadline = now + timeout;
        self.deadlines.push(Reverse((deadline, token.0)));
        self.flights.insert(
            token,
            InFlight {
                id,
                flight,
                deadline,
                url,
                urls,
                timeout,
            },
        );
        // Datagram checks send at once; a stream waits for its connect.
        if matches!(self.flights.get(&token), Some(f) if matches!(f.flight, Flight::Datagram(_))) {
            self.drive(r, token, now);
        }
    }

    /// Moves a check or an alert forward after an event (or a yielded turn).
    fn drive(&mut self, r: &Registry, t: Token, now: Instant) {
        if self.alerts.owns(t) {
            match self.alerts.on_io(r, t) {
                Ok(Some((id, error))) => self.send(CheckToParent::AlertSent { id, error }),
                Ok(None) => {}
                Err(()) => self.again.push(t),
            }
            return;
        }
        let Some(f) = self.flights.get_mut(&t) else {
            return;
        };
        match f.flight.drive(&mut self.buf) {
            Drive::Blocked => {}
            Drive::Yield => self.again.push(t),
            Drive::Done(o) => {
                let Some(f) = self.flights.remove(&t) else {
                    return;
                };
                match o {
                    Outcome::Up if f.url + 1 < f.urls => self.open(r, f.id, f.url + 1, now),
                    Outcome::Down(why) if f.urls > 1 => {
                        let why = format!("url #{}: {why}", f.url + 1);
                        self.finish(f.id, now, Outcome::Down(why));
                    }
                    o => self.finish(f.id, now, o),
                }
            }
        }
    }

    fn send_transitions(&mut self) {
        if !self.started {
            return;
        }
        for (seq, health) in self.engine.take_transitions() {
            let seq = self.seq_base + seq;
            self.send(CheckToParent::Health { seq, health });
        }
    }

    fn on_ipc(&mut self, now: Instant) -> Result<(), String> {
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
                    self.configure(now);
                    self.send(CheckToParent::ConfigAck(g));
                }
                ParentToCheck::Tls(files) => {
                    let given = files.ca.is_some() || files.certificate.is_some() || files.verify;
                    self.tls = TlsState {
                        files: *files,
                        config: None,
                    };
                    // Built now when the SSL block gives something, to report a problem
                    // at once; else when an SSL_GET first needs it.
                    if given {
                        if let Err(e) = self.tls.config() {
                            warn!("SSL_GET checks will fail: {e}");
                        }
                    }
                }
                ParentToCheck::Sequence(n) => self.seq_base = n,
                ParentToCheck::Resume(h) => {
                    info!("resumed the health of {} real server(s)", h.len());
                    self.engine.resume(&h);
                }
                ParentToCheck::Start => {
                    info!("started");
                    self.engine.start();
                    self.started = true;
                }
                ParentToCheck::Ping(n) => self.send(CheckToParent::Pong(n)),
                ParentToCheck::ScriptDone(d) => {
                    if let Some((id, dynamic)) = self.misc.remove(&d.id) {
                        let o = outcomes::misc_outcome(&d.outcome, dynamic);
                        self.finish(id, now, o);
                    }
                }
                ParentToCheck::File {
                    real_server,
                    checker,
                    value,
                } => self.engine.file_value(&real_server, checker, value),
                ParentToCheck::SendAlert(a) => self.alerts.push(*a),
                ParentToCheck::SendSnapshot => {
                    // Transitions already taken go first: the snapshot covers them.
                    self.send_transitions();
                    let (seq, health) = self.engine.snapshot();
                    let seq = self.seq_base + seq;
                    let mut parts = health_chunks(health);
                    let last = parts.pop().unwrap_or_default();
                    for p in parts {
                        self.send(CheckToParent::SnapshotPart(p));
                    }
                    self.send(CheckToParent::Snapshot { seq, health: last });
                }
                ParentToCheck::Dump(kind) => {
                    let text = self.dump(kind);
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

    /// Applies the configuration held.
    fn configure(&mut self, now: Instant) {
        let plans = crate::api::plan(self.objects.values());
        let checks: usize = plans.iter().map(|p| p.checks.len()).sum();
        info!(
            "configuration applied: {} real server(s), {checks} checker(s)",
            plans.len()
        );
        self.engine.configure(plans, now);
    }

    fn dump(&mut self, kind: DumpKind) -> String {
        let s = self.stats;
        let stats = format!(
            "------< Health checker counters >------\n \
             Checks started = {}\n Passed = {}\n Failed = {}\n Timed out = {}\n \
             MISC_CHECK scripts requested = {}\n In flight = {}\n",
            s.started,
            s.up,
            s.down,
            s.timed_out,
            s.scripts,
            self.in_flight()
        );
        match kind {
            DumpKind::Data => self.engine.dump(),
            DumpKind::Stats => stats,
            DumpKind::StatsClear => {
                self.stats = Stats::default();
                stats
            }
            DumpKind::Json => String::new(),
        }
    }
}

/// Opens the socket of one check (url `url` for HTTP) and wraps it in its flight.
fn open_flight(
    spec: &CheckSpec,
    url: usize,
    tls: &mut TlsState,
    ping_mode: &mut [PingMode; 2],
    rng: &mut Rng,
) -> Result<Flight, String> {
    let target = spec.target.as_ref().ok_or("no address to check")?;
    let peer = target.connect.ip();
    let v6 = target.connect.is_ipv6();
    let stream = |conv: Option<Conversation>, tls: Option<TlsSetup>| {
        let s = net::tcp_connect(target).map_err(|e| flight::brief(&e))?;
        StreamFlight::new(s, conv, tls, peer).map(|f| Flight::Stream(Box::new(f)))
    };
    match &spec.probe {
        Probe::Tcp => stream(None, None),
        Probe::Http(h) => {
            let conv = Conversation::new(&spec.probe, url).ok_or("no request for this url")?;
            let setup = if h.tls {
                Some(TlsSetup {
                    config: tls.config()?,
                    sni: h.sni.clone(),
                    compliant: h.tls_compliant,
                })
            } else {
                None
            };
            stream(Some(conv), setup)
        }
        Probe::Smtp { .. } => {
            let conv = Conversation::new(&spec.probe, 0).ok_or("no SMTP dialogue")?;
            stream(Some(conv), None)
        }
        Probe::Dns { .. } | Probe::Udp(_) => {
            let ex = Exchange::new(&spec.probe, rng.u16(), v6).ok_or("no request")?;
            let s = net::udp_connect(target).map_err(|e| flight::brief(&e))?;
            Ok(Flight::Datagram(Box::new(DatagramFlight::new(s, ex))))
        }
        Probe::Ping => {
            let fam = usize::from(v6);
            loop {
                match net::ping_connect(target, ping_mode[fam], rng.u16()) {
                    Ok(p) => {
                        let ex = Exchange::new(&spec.probe, p.ident, v6).ok_or("no request")?;
                        return Ok(Flight::Datagram(Box::new(DatagramFlight::new(
                            p.socket, ex,
                        ))));
                    }
                    Err(e) if net::is_permission(&e) && ping_mode[fam] == PingMode::Datagram => {
                        info!(
                            "ICMP{} ping sockets are not allowed to this process's group \
                             (net.ipv4.ping_group_range); using raw sockets",
                            if v6 { "v6" } else { "" }
                        );
                        ping_mode[fam] = PingMode::Raw;
                    }
                    Err(e) if net::is_permission(&e) => {
                        return Err(format!(
                            "no ICMP socket allowed ({}): add the checker's group to \
                             net.ipv4.ping_group_range, or restart keepalived-rs so that it \
                             grants CAP_NET_RAW",
                            flight::brief(&e)
                        ));
                    }
                    Err(e) => return Err(flight::brief(&e)),
                }
            }
        }
        Probe::Misc { .. } | Probe::File { .. } => Err("not a network check".into()),
    }
}
