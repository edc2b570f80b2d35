//! E-mail alerts the parent asks for: non-blocking SMTP, one connection per alert, bounded
//! by the configured timeout.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use keepalived_check::smtp_alert::{Alert, Progress, SmtpSession};
use keepalived_ipc::msg::AlertRequest;
use log::{info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// Alerts in flight at once; more wait in a queue.
const MAX_ALERTS: usize = 8;

/// One alert being delivered.
#[derive(Debug)]
struct AlertConn {
    id: u64,
    stream: TcpStream,
    session: SmtpSession,
    pending: Vec<u8>,
    deadline: Instant,
}

/// The alerts queued and in flight. Results are `(id, error)`: `None` when delivered.
#[derive(Debug, Default)]
pub struct Alerts {
    conns: HashMap<Token, AlertConn>,
    queued: VecDeque<AlertRequest>,
}

/// An alert's result: its id and why it was not delivered.
pub type AlertResult = (u64, Option<String>);

impl Alerts {
    /// Queues an alert.
    pub fn push(&mut self, a: AlertRequest) {
        self.queued.push_back(a);
    }

    /// Whether `t` is an alert's connection.
    pub fn owns(&self, t: Token) -> bool {
        self.conns.contains_key(&t)
    }

    /// The earliest alert deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns.values().map(|a| a.deadline).min()
    }

    /// Starts queued alerts while there is room; `token` gives fresh tokens.
    pub fn start_queued(
        &mut self,
        r: &Registry,
        mut token: impl FnMut() -> Token,
    ) -> Vec<AlertResult> {
        let mut out = Vec::new();
        while self.conns.len() < MAX_ALERTS {
            let Some(a) = self.queued.pop_front() else {
                break;
            };
            let id = a.id;
            if let Err(e) = self.start(r, token(), a) {
                warn!("alert {id}: {e}");
                out.push((id, Some(e)));
            }
        }
        out
    }

    fn start(&mut self, r: &Registry, token: Token, a: AlertRequest) -> Result<(), String> {
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
        r.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| e.to_string())?;
        self.conns.insert(
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

    /// Drives the alert of `t`: `Err(())` when its turn's budget ran out with more to read
    /// (drive it again on the next turn), else its result when it ended.
    pub fn on_io(&mut self, r: &Registry, t: Token) -> Result<Option<AlertResult>, ()> {
        let Some(a) = self.conns.get_mut(&t) else {
            return Ok(None);
        };
        match drive(a) {
            Ok(Turn::Blocked) => Ok(None),
            Ok(Turn::Yield) => Err(()),
            Ok(Turn::Done) => Ok(self.finish(r, t, None)),
            Err(e) => Ok(self.finish(r, t, Some(e))),
        }
    }

    fn finish(&mut self, r: &Registry, t: Token, error: Option<String>) -> Option<AlertResult> {
        let mut a = self.conns.remove(&t)?;
        let _ = r.deregister(&mut a.stream);
        let error = match error {
            None if a.session.is_delivered() => None,
            None => Some("the server closed the connection".into()),
            e => e,
        };
        match &error {
            None => info!("alert {} delivered", a.id),
            Some(e) => warn!("alert {} not delivered: {e}", a.id),
        }
        Some((a.id, error))
    }

    /// Ends the alerts past their deadline.
    pub fn expire(&mut self, now: Instant) -> Vec<AlertResult> {
        let expired: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, a)| now >= a.deadline)
            .map(|(t, _)| *t)
            .collect();
        let mut out = Vec::new();
        for t in expired {
            if let Some(a) = self.conns.remove(&t) {
                warn!("alert {} not delivered: timed out", a.id);
                out.push((a.id, Some("timed out".into())));
            }
        }
        out
    }
}

/// How a turn of an alert ended.
enum Turn {
    /// Waiting for the socket.
    Blocked,
    /// The budget is spent with more to read.
    Yield,
    /// The dialogue is over.
    Done,
}

/// Moves one SMTP dialogue forward as far as the socket allows.
fn drive(a: &mut AlertConn) -> Result<Turn, String> {
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
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Turn::Blocked),
                Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(Turn::Blocked),
                Err(e) => return Err(e.to_string()),
            }
        }
        if a.session.is_done() {
            return Ok(Turn::Done);
        }
        match a.stream.read(&mut buf) {
            Ok(0) => {
                return match a.session.end_of_stream() {
                    Ok(_) => Ok(Turn::Done),
                    Err(e) => Err(e.to_string()),
                };
            }
            Ok(n) => match a.session.input(&buf[..n]) {
                Ok(Progress::Done) => return Ok(Turn::Done),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Turn::Blocked),
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(Turn::Blocked),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Turn::Yield)
}
