//! The control socket's protocol: the requests a tool sends to the daemon's parent process,
//! the answers and events it gets back, and their framing.
//!
//! Each message is one frame: a 4-byte big-endian length, then that many bytes of JSON.
//! A request frame is at most [`MAX_REQUEST`] bytes; an answer frame at most
//! [`MAX_RESPONSE`]. Every message carries the protocol [`VERSION`]; the daemon answers a
//! request of another version with [`Response::Error`] and closes the connection.
//!
//! ```text
//! -> {"version":1,"request":{"type":"status"}}
//! <- {"version":1,"response":{"type":"status","daemon":{...},...}}
//! ```
//!
//! Pure: no I/O beyond [`read_frame`] and [`write_frame`] on what the caller gives.

pub mod prometheus;
mod status;

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

pub use status::*;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;
/// The largest request frame the daemon accepts (bytes of JSON, without the prefix).
pub const MAX_REQUEST: usize = 64 * 1024;
/// The largest answer or event frame a client accepts.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// The length prefix's size.
pub const PREFIX: usize = 4;

/// A request, as sent on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The sender's protocol version ([`VERSION`]).
    pub version: u32,
    /// What is asked.
    pub request: Command,
}

impl Request {
    /// A request of this build's version.
    pub fn new(request: Command) -> Self {
        Request {
            version: VERSION,
            request,
        }
    }
}

/// What a tool asks the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Everything the parent knows: answered with [`Response::Status`].
    Status,
    /// Validate the configuration file, then apply it as SIGHUP does: answered with
    /// [`Response::Reloaded`] or [`Response::ReloadRefused`].
    Reload,
    /// Set the log level of the parent and every child, or of one process: answered with
    /// [`Response::LogLevelSet`].
    LogLevel {
        /// The new level.
        level: LogLevel,
        /// One process only (all when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<Process>,
    },
    /// Subscribe to events: answered with [`Response::Subscribed`], then one
    /// [`Response::Event`] per state change, in order, until either side closes.
    Events,
}

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default.
    Info,
    /// Details (`-D`).
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The level's number as the children take it (0 = off .. 5 = trace).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "off" => LogLevel::Off,
            "error" | "err" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => {
                return Err(format!(
                    "unknown log level {s:?} (off, error, warn, info, debug, trace)"
                ));
            }
        })
    }
}

/// One of the daemon's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// The root parent.
    Parent,
    /// The VRRP process.
    Vrrp,
    /// The health checker.
    Check,
    /// The IPVS writer.
    Ipvs,
}

impl Process {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Process::Parent => "parent",
            Process::Vrrp => "vrrp",
            Process::Check => "check",
            Process::Ipvs => "ipvs",
        }
    }
}

impl std::str::FromStr for Process {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "parent" => Process::Parent,
            "vrrp" => Process::Vrrp,
            "check" | "checker" => Process::Check,
            "ipvs" => Process::Ipvs,
            _ => return Err(format!("unknown process {s:?} (parent, vrrp, check, ipvs)")),
        })
    }
}

/// An answer or event, as sent on the socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The daemon's protocol version ([`VERSION`]).
    pub version: u32,
    /// The answer.
    pub response: Response,
}

impl Reply {
    /// A reply of this build's version.
    pub fn new(response: Response) -> Self {
        Reply {
            version: VERSION,
            response,
        }
    }
}

/// The daemon's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Response {
    /// The daemon's state.
    Status(Box<Status>),
    /// The configuration was valid and is being applied.
    Reloaded {
        /// The new configuration generation.
        generation: u64,
        /// True when a reload was already running: this one runs after it.
        queued: bool,
    },
    /// The configuration is invalid: nothing was applied.
    ReloadRefused {
        /// The errors, one per line, as `-t` prints them.
        errors: Vec<String>,
    },
    /// The log level was set.
    LogLevelSet {
        /// The level.
        level: LogLevel,
        /// The processes told.
        processes: Vec<Process>,
    },
    /// Events follow.
    Subscribed,
    /// One state change.
    Event(Event),
    /// The request was refused or failed; the daemon closes the connection after a
    /// refusal of the connection itself (credentials, framing, version).
    Error {
        /// Why.
        message: String,
    },
}

/// A frame or message that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than the cap.
    #[error("frame of {len} bytes exceeds the limit of {cap} bytes")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The cap.
        cap: usize,
    },
    /// The JSON does not describe a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message is of another protocol version.
    #[error("unsupported protocol version {0} (this daemon speaks {VERSION})")]
    Version(u32),
    /// The peer closed the connection mid-frame or before an answer.
    #[error("connection closed")]
    Closed,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One frame: the length prefix and the JSON of `msg`.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        cap: u32::MAX as usize,
    })?;
    let mut out = Vec::with_capacity(PREFIX + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads a request's JSON (the frame's body), checking its version.
pub fn decode_request(body: &[u8]) -> Result<Request, FrameError> {
    // The version first, so that a newer client gets "unsupported version" rather than
    // "unknown request type".
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let v: Versioned =
        serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if v.version != VERSION {
        return Err(FrameError::Version(v.version));
    }
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Reads a reply's JSON (the frame's body), checking its version.
pub fn decode_reply(body: &[u8]) -> Result<Reply, FrameError> {
    let r: Reply =
        serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if r.version != VERSION {
        return Err(FrameError::Version(r.version));
    }
    Ok(r)
}

/// Collects frames from a byte stream that arrives in pieces, never buffering more than
/// one frame of at most `cap` bytes (plus its prefix).
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    cap: usize,
    failed: bool,
}

impl FrameReader {
    /// A reader of frames of at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        FrameReader {
            buf: Vec::new(),
            cap,
            failed: false,
        }
    }

    /// How many more bytes the reader takes now: the rest of the current frame (or of its
    /// prefix). Read at most this much, so that nothing beyond one frame is buffered.
    pub fn wanted(&self) -> usize {
        if self.failed {
            return 0;
        }
        match self.announced() {
            Some(len) => PREFIX + len - self.buf.len(),
            None => PREFIX - self.buf.len(),
        }
    }

    fn announced(&self) -> Option<usize> {
        let p: [u8; PREFIX] = self.buf.get(..PREFIX)?.try_into().ok()?;
        Some(u32::from_be_bytes(p) as usize)
    }

    /// Takes bytes (at most [`FrameReader::wanted`]; the rest is refused as an error)
    /// and returns the frame's body when one is complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        if self.failed {
            return Err(FrameError::Malformed("reader failed earlier".into()));
        }
        let mut rest = bytes;
        loop {
            let want = self.wanted();
            let take = want.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == PREFIX && self.announced().is_some_and(|l| l > self.cap) {
                self.failed = true;
                let len = self.announced().unwrap_or(0);
                return Err(FrameError::TooLarge { len, cap: self.cap });
            }
            if let Some(len) = self.announced() {
                if self.buf.len() == PREFIX + len {
                    if !rest.is_empty() {
                        self.failed = true;
                        return Err(FrameError::Malformed(
                            "bytes beyond the frame before its answer".into(),
                        ));
                    }
                    let body = self.buf.split_off(PREFIX);
                    self.buf.clear();
                    return Ok(Some(body));
                }
            }
            if rest.is_empty() {
                return Ok(None);
            }
        }
    }

    /// Bytes held.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Reads one frame's body (blocking), at most `cap` bytes.
pub fn read_frame<R: Read>(r: &mut R, cap: usize) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; PREFIX];
    read_all(r, &mut prefix)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > cap {
        return Err(FrameError::TooLarge { len, cap });
    }
    let mut body = vec![0u8; len];
    read_all(r, &mut body)?;
    Ok(body)
}

fn read_all<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), FrameError> {
    match r.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FrameError::Closed),
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Writes one frame (blocking).
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    w.write_all(&encode(msg)?)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_their_documented_json() {
        let cases = [
            (
                Command::Status,
                r#"{"version":1,"request":{"type":"status"}}"#,
            ),
            (
                Command::Reload,
                r#"{"version":1,"request":{"type":"reload"}}"#,
            ),
            (
                Command::Events,
                r#"{"version":1,"request":{"type":"events"}}"#,
            ),
            (
                Command::LogLevel {
                    level: LogLevel::Debug,
                    process: Some(Process::Vrrp),
                },
                r#"{"version":1,"request":{"type":"log-level","level":"debug","process":"vrrp"}}"#,
            ),
        ];
        for (cmd, json) in cases {
            let req = Request::new(cmd);
            assert_eq!(serde_json::to_string(&req).unwrap(), json);
            assert_eq!(decode_request(json.as_bytes()).unwrap(), req);
        }
    }

    #[test]
    fn other_versions_and_unknown_fields_are_refused() {
        assert!(matches!(
            decode_request(br#"{"version":2,"request":{"type":"status"}}"#),
            Err(FrameError::Version(2))
        ));
        for bad in [
            &br#"{"version":1,"request":{"type":"log-level","level":"info","x":1}}"#[..],
            br#"{"version":1,"request":{"type":"log-level","level":"loud"}}"#,
            br#"{"version":1,"request":{"type":"status"},"x":1}"#,
            br#"{"version":1,"request":{"type":"shutdown"}}"#,
            br#"{"version":1}"#,
            br#"{"request":{"type":"status"}}"#,
            b"\xff\xfe",
            b"",
        ] {
            assert!(
                matches!(decode_request(bad), Err(FrameError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn replies_round_trip() {
        let replies = [
            Response::Status(Box::default()),
            Response::Reloaded {
                generation: 3,
                queued: false,
            },
            Response::ReloadRefused {
                errors: vec!["line 3: unknown keyword".into()],
            },
            Response::LogLevelSet {
                level: LogLevel::Warn,
                processes: vec![Process::Parent, Process::Vrrp],
            },
            Response::Subscribed,
            Response::Event(Event {
                seq: 7,
                at_ms: 1000,
                kind: EventKind::Reload {
                    generation: 2,
                    ok: true,
                    errors: vec![],
                },
            }),
            Response::Error {
                message: "refused".into(),
            },
        ];
        for r in replies {
            let frame = encode(&Reply::new(r.clone())).unwrap();
            let body = read_frame(&mut &frame[..], MAX_RESPONSE).unwrap();
            assert_eq!(decode_reply(&body).unwrap().response, r);
        }
    }

    #[test]
    fn the_reader_takes_frames_in_pieces_and_refuses_oversized_ones() {
        let frame = encode(&Request::new(Command::Status)).unwrap();
        let mut r = FrameReader::new(MAX_REQUEST);
        for b in &frame[..frame.len() - 1] {
            assert!(r.push(std::slice::from_ref(b)).unwrap().is_none());
        }
        let body = r.push(&frame[frame.len() - 1..]).unwrap().unwrap();
        assert_eq!(decode_request(&body).unwrap().request, Command::Status);
        assert_eq!(r.buffered(), 0);

        let mut r = FrameReader::new(16);
        assert!(matches!(
            r.push(&17u32.to_be_bytes()),
            Err(FrameError::TooLarge { len: 17, cap: 16 })
        ));
        assert!(r.push(b"x").is_err());
        assert_eq!(r.wanted(), 0);
        assert!(matches!(
            read_frame(&mut &(u32::MAX.to_be_bytes())[..], MAX_REQUEST),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            read_frame(&mut &[0u8, 0, 0, 5, b'{'][..], MAX_REQUEST),
            Err(FrameError::Closed)
        ));
    }

    proptest::proptest! {
        #[test]
        fn the_reader_never_buffers_beyond_one_frame(data: Vec<u8>, split in 0usize..64) {
            let mut r = FrameReader::new(64);
            let (a, b) = data.split_at(split.min(data.len()));
            for chunk in [a, b] {
                match r.push(chunk) {
                    Ok(Some(body)) => {
                        proptest::prop_assert!(body.len() <= 64);
                        let _ = decode_request(&body);
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
                proptest::prop_assert!(r.buffered() <= PREFIX + 64);
            }
        }
    }
}
