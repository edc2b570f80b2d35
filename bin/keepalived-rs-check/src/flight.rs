//! One check in flight on its socket: a stream (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK)
//! or a datagram exchange (DNS_CHECK, UDP_CHECK, PING_CHECK).
//!
//! [`Flight::drive`] moves it as far as the socket allows without blocking, within a budget
//! of reads (so that a server that floods its socket is read in slices between the other
//! checks: the caller drives a flight that yielded again on its next turn). Every read goes
//! into the caller's fixed buffer and straight to the conversation, which keeps what it
//! needs within its own bounds: what a server sends never accumulates here.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use keepalived_check::spec::Outcome;
use mio::net::{TcpStream, UdpSocket};

use crate::api::{Conversation, Exchange, Step, failure_reason, server_name};
use crate::net;

/// Reads per turn at most.
const READS_PER_TURN: usize = 8;

/// What a turn came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Drive {
    /// Waiting for the socket (an event will come).
    Blocked,
    /// The turn's budget is spent with more to do: drive it again on the next turn.
    Yield,
    /// The check (or this url of it) is over.
    Done(Outcome),
}

/// A check's I/O.
#[derive(Debug)]
pub enum Flight {
    /// A TCP connection and what runs over it.
    Stream(Box<StreamFlight>),
    /// A datagram request and its reply.
    Datagram(Box<DatagramFlight>),
}

impl Flight {
    /// Moves the check forward; `buf` is scratch space for reads.
    pub fn drive(&mut self, buf: &mut [u8]) -> Drive {
        match self {
            Flight::Stream(s) => s.drive(buf),
            Flight::Datagram(d) => d.drive(buf),
        }
    }

    /// The outcome when the deadline passes first.
    pub fn timed_out(&self, timeout: std::time::Duration) -> Outcome {
        match self {
            Flight::Stream(s) => {
                Outcome::Down(format!("timed out after {} ({})", secs(timeout), s.phase()))
            }
            Flight::Datagram(d) => d.exchange.timed_out(),
        }
    }

    /// Registers the socket with the event loop.
    pub fn register(&mut self, r: &mio::Registry, t: mio::Token) -> io::Result<()> {
        let both = mio::Interest::READABLE | mio::Interest::WRITABLE;
        match self {
            Flight::Stream(s) => r.register(&mut s.stream, t, both),
            Flight::Datagram(d) => r.register(&mut d.socket, t, both),
        }
    }
}

/// `2.5 s`, `5 s`.
pub fn secs(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// A stream check.
pub struct StreamFlight {
    stream: TcpStream,
    connected: bool,
    conv: Option<Conversation>,
    tls: Option<Tls>,
    /// Plain-text output not yet taken by the socket.
    out: Vec<u8>,
    /// The server has sent at least one byte.
    answered: bool,
}

struct Tls {
    conn: rustls::ClientConnection,
    /// `tls_compliant`: close with close_notify.
    compliant: bool,
}

impl std::fmt::Debug for StreamFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamFlight")
            .field("stream", &self.stream)
            .field("connected", &self.connected)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// TLS settings of an SSL_GET connection.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// The client configuration (from the parent's TLS material).
    pub config: Arc<rustls::ClientConfig>,
    /// The SNI to send, if any (else none is sent).
    pub sni: Option<String>,
    /// `tls_compliant`.
    pub compliant: bool,
}

impl StreamFlight {
    /// A check over `stream` (a connect in progress): `conv` None is TCP_CHECK (up once
    /// connected), `tls` wraps the conversation in TLS.
    pub fn new(
        stream: TcpStream,
        conv: Option<Conversation>,
        tls: Option<TlsSetup>,
        peer: IpAddr,
    ) -> Result<StreamFlight, String> {
        let tls = match tls {
            None => None,
            Some(t) => {
                let name = server_name(t.sni.as_deref(), peer)?;
                let conn = rustls::ClientConnection::new(t.config, name)
                    .map_err(|e| format!("TLS: {}", failure_reason(&e)))?;
                Some(Tls {
                    conn,
                    compliant: t.compliant,
                })
            }
        };
        Ok(StreamFlight {
            stream,
            connected: false,
            conv,
            tls,
            out: Vec::new(),
            answered: false,
        })
    }

    fn phase(&self) -> &'static str {
        if !self.connected {
            "connecting"
        } else if self.tls.as_ref().is_some_and(|t| t.conn.is_handshaking()) {
            "TLS handshake"
        } else if self.answered {
            "reading the answer"
        } else {
            "waiting for the answer"
        }
    }

    fn drive(&mut self, buf: &mut [u8]) -> Drive {
        if !self.connected {
            match net::connect_result(&self.stream) {
                Ok(true) => self.connected = true,
                Ok(false) => return Drive::Blocked,
                Err(e) => return Drive::Done(Outcome::Down(format!("connect: {}", brief(&e)))),
            }
            if self.conv.is_none() {
                return Drive::Done(Outcome::Up);
            }
        }
        if self.tls.is_some() {
            self.drive_tls(buf)
        } else {
            self.drive_plain(buf)
        }
    }

    fn drive_plain(&mut self, buf: &mut [u8]) -> Drive {
        let Some(conv) = self.conv.as_mut() else {
            return Drive::Done(Outcome::Up);
        };
        for _ in 0..READS_PER_TURN {
            while let Some(o) = conv.output() {
                self.out.extend(o);
            }
            while !self.out.is_empty() {
                match self.stream.write(&self.out) {
                    Ok(0) => return down("send: connection closed"),
                    Ok(n) => {
                        self.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return down(&format!("send: {}", brief(&e))),
                }
            }
            match self.stream.read(buf) {
                Ok(0) => return ended(conv.end_of_stream(), self.answered),
                Ok(n) => {
                    self.answered = true;
                    if let Step::Done(o) = conv.input(&buf[..n]) {
                        return Drive::Done(o);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return down(&format!("receive: {}", brief(&e))),
            }
        }
        Drive::Yield
    }

    fn drive_tls(&mut self, buf: &mut [u8]) -> Drive {
        let (Some(conv), Some(tls)) = (self.conv.as_mut(), self.tls.as_mut()) else {
            return Drive::Done(Outcome::Up);
        };
        let conn = &mut tls.conn;
        for _ in 0..READS_PER_TURN {
            while let Some(o) = conv.output() {
                if let Err(e) = conn.writer().write_all(&o) {
                    return down(&format!("TLS: {e}"));
                }
            }
            if let Err(e) = write_tls(conn, &mut self.stream) {
                return down(&format!("send: {}", brief(&e)));
            }
            let (eof, idle) = match conn.read_tls(&mut self.stream) {
                Ok(0) => (true, false),
                Ok(_) => (false, false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => (false, true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => (false, false),
                Err(e) => return down(&format!("receive: {}", brief(&e))),
            };
            if let Err(e) = conn.process_new_packets() {
                // Our alert, if the socket takes it.
                let _ = write_tls(conn, &mut self.stream);
                return down(&format!("TLS: {}", failure_reason(&e)));
            }
            loop {
                match conn.reader().read(buf) {
                    Ok(0) => return self.finish_tls(Some(true)),
                    Ok(n) => {
                        self.answered = true;
                        if let Step::Done(o) = conv.input(&buf[..n]) {
                            return self.close_with(o);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return self.finish_tls(Some(false));
                    }
                    Err(e) => return down(&format!("TLS: {e}")),
                }
            }
            if eof {
                return self.finish_tls(None);
            }
            if idle {
                if let Err(e) = write_tls(conn, &mut self.stream) {
                    return down(&format!("send: {}", brief(&e)));
                }
                return Drive::Blocked;
            }
        }
        Drive::Yield
    }

    /// The server closed: `Some(true)` with close_notify, `Some(false)` without, `None` at
    /// the TCP level with nothing more decrypted.
    fn finish_tls(&mut self, _clean: Option<bool>) -> Drive {
        let handshaking = self.tls.as_ref().is_some_and(|t| t.conn.is_handshaking());
        if handshaking {
            return down("TLS: the server closed the connection during the handshake");
        }
        let Some(conv) = self.conv.as_mut() else {
            return Drive::Done(Outcome::Up);
        };
        match ended(conv.end_of_stream(), self.answered) {
            Drive::Done(o) => self.close_with(o),
            other => other,
        }
    }

    /// Ends the TLS session (close_notify with `tls_compliant`) and reports `o`.
    fn close_with(&mut self, o: Outcome) -> Drive {
        if let Some(t) = self.tls.as_mut() {
            if t.compliant {
                t.conn.send_close_notify();
                let _ = write_tls(&mut t.conn, &mut self.stream);
            }
        }
        Drive::Done(o)
    }
}

/// Writes what rustls has for the socket, until it would block.
fn write_tls(conn: &mut rustls::ClientConnection, s: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(s) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn down(why: &str) -> Drive {
    Drive::Done(Outcome::Down(why.to_string()))
}

/// The conversation's verdict at the end of the stream.
fn ended(step: Step, answered: bool) -> Drive {
    match step {
        Step::Done(o) => Drive::Done(o),
        Step::Continue if answered => down("the server closed the connection mid-answer"),
        Step::Continue => down("the server closed the connection without answering"),
    }
}

/// An I/O error in a few words ("connection refused", "no route to host").
pub fn brief(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// A datagram check.
pub struct DatagramFlight {
    socket: UdpSocket,
    exchange: Exchange,
    /// The request, until the socket took it.
    request: Option<Vec<u8>>,
}

impl std::fmt::Debug for DatagramFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramFlight")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl DatagramFlight {
    /// An exchange over a connected datagram socket (UDP, or ICMP for PING_CHECK: the
    /// exchange reads the replies of ping sockets and of raw ones, IPv4 header included).
    pub fn new(socket: UdpSocket, exchange: Exchange) -> Self {
        let request = Some(exchange.request());
        DatagramFlight {
            socket,
            exchange,
            request,
        }
    }

    fn drive(&mut self, buf: &mut [u8]) -> Drive {
        if let Some(req) = &self.request {
            match self.socket.send(req) {
                Ok(_) => self.request = None,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Blocked,
                // An ICMP error already received for this socket.
                Err(e) => return Drive::Done(self.exchange.refused(&brief(&e))),
            }
        }
        for _ in 0..READS_PER_TURN {
            match self.socket.recv(buf) {
                Ok(n) => {
                    if let Some(o) = self.exchange.reply(&buf[..n]) {
                        return Drive::Done(o);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A connected datagram socket reports the ICMP errors it received
                // (ECONNREFUSED: port unreachable).
                Err(e) => return Drive::Done(self.exchange.refused(&brief(&e))),
            }
        }
        Drive::Yield
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testns::in_netns;
    use keepalived_check::spec::{Probe, Target};
    use std::time::{Duration, Instant};

    fn target(connect: &str) -> Target {
        Target {
            connect: connect.parse().unwrap(),
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            timeout: Duration::from_secs(1),
        }
    }

    /// Runs one flight to its end as the process does: events, turns, the deadline.
    fn run(mut f: Flight, timeout: Duration) -> Outcome {
        let mut poll = mio::Poll::new().unwrap();
        f.register(poll.registry(), mio::Token(7)).unwrap();
        let mut events = mio::Events::with_capacity(8);
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + timeout;
        let mut turn = Drive::Yield;
        loop {
            if turn == Drive::Yield {
                turn = f.drive(&mut buf);
            }
            if let Drive::Done(o) = turn {
                return o;
            }
            let now = Instant::now();
            if now >= deadline {
                return f.timed_out(timeout);
            }
            let wait = if turn == Drive::Yield {
                Duration::ZERO
            } else {
                deadline - now
            };
            poll.poll(&mut events, Some(wait)).unwrap();
            if !events.is_empty() {
                turn = Drive::Yield;
            }
        }
    }

    fn tcp(to: &str) -> Flight {
        let t = target(to);
        let s = net::tcp_connect(&t).unwrap();
        Flight::Stream(Box::new(
            StreamFlight::new(s, None, None, t.connect.ip()).unwrap(),
        ))
    }

    #[test]
    fn tcp_check_is_up_on_connect_and_down_on_refusal_or_silence() {
        in_netns(
            "
            ip link add d0 type veth peer name d0p
            ip link set d0p up
            ip addr add 192.0.2.1/24 dev d0
            ip link set d0 up
            ip route add blackhole 203.0.113.0/24
            ",
            || {
                let _l = std::net::TcpListener::bind("192.0.2.1:80").unwrap();
                assert_eq!(
                    run(tcp("192.0.2.1:80"), Duration::from_secs(2)),
                    Outcome::Up
                );
                let o = run(tcp("192.0.2.1:81"), Duration::from_secs(2));
                assert_eq!(o, Outcome::Down("connect: connection refused".into()));
                // 192.0.2.7 never answers ARP: the connect hangs until the deadline.
                let t0 = Instant::now();
                let o = run(tcp("192.0.2.7:80"), Duration::from_millis(300));
                assert!(t0.elapsed() < Duration::from_secs(1));
                assert_eq!(
                    o,
                    Outcome::Down("timed out after 0.300 s (connecting)".into())
                );
            },
        );
    }

    #[test]
    fn ping_check_through_a_ping_socket() {
        in_netns("echo 0 0 > /proc/sys/net/ipv4/ping_group_range", || {
            for (to, up) in [("127.0.0.1", true), ("::1", true), ("192.0.2.9", false)] {
                let ip: IpAddr = to.parse().unwrap();
                let t = Target {
                    connect: std::net::SocketAddr::new(ip, 0),
                    ..target("127.0.0.1:0")
                };
                let o = match net::ping_connect(&t, net::PingMode::Datagram, 0) {
                    Ok(p) => {
                        let ex = Exchange::new(&Probe::Ping, p.ident, ip.is_ipv6()).unwrap();
                        let f = DatagramFlight::new(p.socket, ex);
                        run(Flight::Datagram(Box::new(f)), Duration::from_millis(500))
                    }
                    // No route to 192.0.2.9 in this namespace.
                    Err(e) => Outcome::Down(brief(&e)),
                };
                assert_eq!(o == Outcome::Up, up, "{to}: {o:?}");
            }
        });
    }

    /// `openssl s_server` in the test's namespace, killed on drop.
    struct TlsServer(std::process::Child, std::path::PathBuf);

    impl Drop for TlsServer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }

    /// A test CA, a certificate it signed for www.example.com, and a server answering every
    /// request with its status page (`-www`) on 192.0.2.1:8443; returns the CA's
    /// certificate. Call in the namespace.
    fn tls_server(extra: &[&str]) -> (TlsServer, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!(
            "krs-flight-tls-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key, ca) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("ca.pem"));
        let openssl = |args: &[&str]| {
            let o = std::process::Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        std::fs::write(dir.join("ext"), "subjectAltName=DNS:www.example.com\n").unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-days",
                    "2",
                    "-subj",
                    "/CN=test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-subj",
                    "/CN=www.example.com",
                    "-keyout",
                    "k.pem",
                    "-out",
                    "leaf.csr",
                ],
            ]
            .concat(),
        );
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "c.pem",
        ]);
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept", "192.0.2.1:8443"])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = TlsServer(child, dir);
        let end = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect("192.0.2.1:8443").is_err() {
            assert!(Instant::now() < end, "s_server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        (server, std::fs::read(&ca).unwrap())
    }

    fn ssl_get(sni: Option<&str>, material: &crate::api::TlsMaterial) -> Outcome {
        use keepalived_check::spec::{HttpProbe, UrlSpec};
        use keepalived_config::lvs::checker::HttpProtocol;
        let probe = Probe::Http(Box::new(HttpProbe {
            tls: true,
            protocol: HttpProtocol::Http10,
            sni: sni.map(str::to_string),
            tls_compliant: true,
            fast_recovery: false,
            urls: vec![UrlSpec {
                path: "/".into(),
                host: "192.0.2.1:8443".into(),
                digest: None,
                status: vec![(200, 299)],
                regex: None,
            }],
        }));
        let config = match crate::api::client_config(material) {
            Ok(c) => c,
            Err(e) => return Outcome::Down(e),
        };
        let t = target("192.0.2.1:8443");
        let s = net::tcp_connect(&t).unwrap();
        let conv = Conversation::new(&probe, 0).unwrap();
        let setup = TlsSetup {
            config,
            sni: sni.map(str::to_string),
            compliant: true,
        };
        let f = StreamFlight::new(s, Some(conv), Some(setup), t.connect.ip()).unwrap();
        run(Flight::Stream(Box::new(f)), Duration::from_secs(3))
    }

    #[test]
    fn ssl_get_over_the_event_loop() {
        in_netns(
            "
            ip link add d0 type veth peer name d0p
            ip link set d0p up
            ip addr add 192.0.2.1/24 dev d0
            ip link set d0 up
            ",
            || {
                let (_server, cert) = tls_server(&[]);
                let plain = crate::api::TlsMaterial::default();
                // keepalived's default: no verification, no SNI.
                assert_eq!(ssl_get(None, &plain), Outcome::Up);
                let verify = crate::api::TlsMaterial {
                    ca_pem: Some(cert),
                    verify: true,
                    ..Default::default()
                };
                assert_eq!(ssl_get(Some("www.example.com"), &verify), Outcome::Up);
                // Verified against the address (no SNI): the certificate does not name it.
                match ssl_get(None, &verify) {
                    Outcome::Down(why) => assert!(why.starts_with("TLS: "), "{why}"),
                    o => panic!("{o:?}"),
                }
            },
        );
    }

    #[test]
    fn a_tls_1_1_only_server_fails_with_the_reason() {
        in_netns(
            "
            ip link add d0 type veth peer name d0p
            ip link set d0p up
            ip addr add 192.0.2.1/24 dev d0
            ip link set d0 up
            ",
            || {
                let (_server, _) = tls_server(&["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
                match ssl_get(None, &crate::api::TlsMaterial::default()) {
                    Outcome::Down(why) => assert!(why.contains("1.0/1.1"), "{why}"),
                    o => panic!("{o:?}"),
                }
            },
        );
    }
}
