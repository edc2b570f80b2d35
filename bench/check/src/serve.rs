//! The local real servers: one process, one mio loop, one listening socket per real server
//! (`address:port`), so that one real server can fail alone (its socket closed: connection
//! refused) while the others go on.
//!
//! A connection is answered as an HTTP server that closes after its answer: once the
//! request's head has arrived (`\r\n\r\n`), one fixed `200 OK` and the close. A connection
//! that ends before sending anything is a TCP_CHECK: it is just closed.
//!
//! Control, one command a line on stdin, one answer a line on stdout: `close R` and
//! `open R` (real server R's socket), `count` (connections accepted so far: `count N`).
//! End of stdin ends the process.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

/// The answer to every HTTP request.
const RESPONSE: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
/// The most request bytes kept per connection (a request head is far smaller).
const REQUEST_MAX: usize = 4096;
/// The control channel's token (listeners use 0..N, connections FIRST_CONN..).
const CONTROL: Token = Token(usize::MAX - 1);

/// One accepted connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
}

/// Serves `addrs` on stdin and stdout (see the module's documentation) until stdin ends.
pub fn serve_stdio(addrs: &[SocketAddr]) -> Result<(), String> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(std::io::stdin(), FcntlArg::F_GETFL).map_err(|e| format!("F_GETFL: {e}"))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(std::io::stdin(), FcntlArg::F_SETFL(flags)).map_err(|e| format!("F_SETFL: {e}"))?;
    serve(addrs, &mut std::io::stdin(), &mut std::io::stdout())
}

/// Serves `addrs`, taking commands from `control` (non-blocking) and answering on `out`,
/// until `control` ends. Errors are returned as text.
pub fn serve<C: Read + AsRawFd, W: Write>(
    addrs: &[SocketAddr],
    control: &mut C,
    out: &mut W,
) -> Result<(), String> {
    raise_nofile(addrs.len() as u64 * 2 + 4096)?;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let first_conn = addrs.len();
    let mut listeners: Vec<Option<TcpListener>> = Vec::with_capacity(addrs.len());
    for (i, a) in addrs.iter().enumerate() {
        listeners.push(Some(listen(&poll, *a, Token(i))?));
    }
    let fd = control.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), CONTROL, Interest::READABLE)
        .map_err(|e| format!("register the control channel: {e}"))?;
    writeln!(out, "ready {}", addrs.len()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;

    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next_conn = first_conn;
    let mut accepted: u64 = 0;
    let mut pending = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        for ev in events.iter() {
            let t = ev.token();
            if t == CONTROL {
                loop {
                    match control.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("control channel: {e}")),
                    }
                }
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line).trim().to_string();
                    let answer = command(&poll, &mut listeners, addrs, &line, accepted);
                    writeln!(out, "{answer}").map_err(|e| e.to_string())?;
                    out.flush().map_err(|e| e.to_string())?;
                }
            } else if t.0 < first_conn {
                let Some(Some(l)) = listeners.get(t.0) else {
                    continue;
                };
                loop {
                    match l.accept() {
                        Ok((mut stream, _)) => {
                            accepted += 1;
                            let id = next_conn;
                            next_conn = if next_conn >= CONTROL.0 - 1 {
                                first_conn
                            } else {
                                next_conn + 1
                            };
                            if poll
                                .registry()
                                .register(&mut stream, Token(id), Interest::READABLE)
                                .is_ok()
                            {
                                conns.insert(
                                    id,
                                    Conn {
                                        stream,
                                        request: Vec::new(),
                                    },
                                );
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        // Out of descriptors, or the connection reset before accept(): go
                        // on with the others.
                        Err(_) => break,
                    }
                }
            } else {
                let done = match conns.get_mut(&t.0) {
                    Some(c) => on_readable(c, &mut buf),
                    None => false,
                };
                if done {
                    if let Some(mut c) = conns.remove(&t.0) {
                        let _ = poll.registry().deregister(&mut c.stream);
                    }
                }
            }
        }
    }
}

/// Reads what arrived; true when the connection is finished (answered, ended or failed).
fn on_readable(c: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match c.stream.read(buf) {
            Ok(0) => return true,
            Ok(n) => {
                if c.request.len() < REQUEST_MAX {
                    c.request.extend_from_slice(&buf[..n]);
                }
                if c.request.windows(4).any(|w| w == b"\r\n\r\n") {
                    // The answer fits in an empty socket buffer: one write, then the close.
                    let _ = c.stream.write(RESPONSE);
                    return true;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// One control command; its answer.
fn command(
    poll: &Poll,
    listeners: &mut [Option<TcpListener>],
    addrs: &[SocketAddr],
    line: &str,
    accepted: u64,
) -> String {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let index: Option<usize> = words.next().and_then(|w| w.parse().ok());
    match (verb, index) {
        ("count", _) => format!("count {accepted}"),
        ("close", Some(r)) if r < listeners.len() => {
            if let Some(mut l) = listeners[r].take() {
                let _ = poll.registry().deregister(&mut l);
            }
            "ok".into()
        }
        ("open", Some(r)) if r < listeners.len() => {
            if listeners[r].is_some() {
                return "ok".into();
            }
            match listen(poll, addrs[r], Token(r)) {
                Ok(l) => {
                    listeners[r] = Some(l);
                    "ok".into()
                }
                Err(e) => format!("error {e}"),
            }
        }
        _ => format!("error unknown command {line:?}"),
    }
}

fn listen(poll: &Poll, addr: SocketAddr, token: Token) -> Result<TcpListener, String> {
    let mut l = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    poll.registry()
        .register(&mut l, token, Interest::READABLE)
        .map_err(|e| format!("register {addr}: {e}"))?;
    Ok(l)
}

/// Raises the open-file limit to at least `n` (root in the VM may).
fn raise_nofile(n: u64) -> Result<(), String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
    if soft >= n {
        return Ok(());
    }
    let hard = hard.max(n);
    setrlimit(Resource::RLIMIT_NOFILE, n, hard)
        .map_err(|e| format!("cannot raise RLIMIT_NOFILE to {n}: {e}"))
}
