//! HTTP_GET and SSL_GET: one url fetched on one connection, sans-IO.
//!
//! The request is written and the response header parsed by `ureq-proto`; the body is
//! handled here, the way keepalived (`check_http.c`, `lib/html.c`) handles it, so that the
//! digests in existing configurations (made with keepalived's `genhash`) keep matching:
//!
//! - The request is keepalived's: `GET <path> HTTP/1.0` (or `HTTP/1.1` for
//!   `http_protocol 1.1`), `User-Agent: KeepAliveClient`, `Connection: close` for `1.0C`
//!   and `1.1`, and `Host:` (the planner resolves it: a `virtualhost`, else the address
//!   and port, an IPv6 address in brackets).
//! - The **digest** is the MD5 of the raw bytes that follow the header's blank line, up to
//!   `Content-Length` bytes when the header has one, else up to the end of the stream. The
//!   body is *not* decoded: a chunked body is digested with its chunk framing, exactly as
//!   keepalived and its genhash digest it.
//! - The **regex** is matched, as keepalived matches it, against the response as received
//!   from its first byte: the status line and the header are part of the subject, and
//!   `regex_min_offset` / `regex_max_offset` count from the first byte of the status line.
//!   The subject ends where the body ends (`Content-Length`, else the end of the stream);
//!   keepalived reads on to the end of the stream and would match bytes a server sends
//!   beyond `Content-Length` too.
//!   A match counts when it starts at or after `regex_min_offset` and at or before
//!   `regex_max_offset`. keepalived streams the response through PCRE2 partial matching
//!   in 4 KiB pieces; here the subject is a sliding window of [`REGEX_WINDOW`] bytes
//!   (searched whenever it fills, then its older half dropped), so a match up to
//!   [`REGEX_WINDOW`]` / 2` bytes long is always found, wherever it starts.
//! - The checks run in keepalived's order: status (default 200-299), then digest, then
//!   regex.
//!
//! Memory is bounded whatever the server sends: at most [`MAX_HEADER`] bytes of header and
//! a [`REGEX_WINDOW`] window are kept; the digest is streamed. Reading stops as soon as the
//! outcome is known: right after the header when there is neither digest nor regex (or the
//! status fails), after `Content-Length` bytes of body, or when the regex has decided and
//! no digest is wanted. keepalived reads to the end of the stream in every case.

use std::fmt::Write as _;

use keepalived_config::lvs::checker::HttpProtocol;
use md5::{Digest, Md5};
use ureq_proto::client::state::RecvResponse;
use ureq_proto::client::{Call, SendRequestResult, header_raw};
use ureq_proto::http::{Request, Response, Version, header};

use crate::conv::Step;
use crate::spec::{Outcome, RegexSpec, UrlSpec};

/// keepalived's `User-Agent`.
pub const USER_AGENT: &str = "KeepAliveClient";

/// The longest response header accepted (status line and header fields, blank line
/// included). keepalived gives up beyond 4 KiB.
pub const MAX_HEADER: usize = 16 * 1024;

/// The regex subject window, in bytes (see the module documentation).
pub const REGEX_WINDOW: usize = 64 * 1024;

/// Bytes kept before `regex_min_offset`, so that `\b` and `^` see what precedes it.
const REGEX_CONTEXT: u64 = 8;

/// Where the response stands.
#[derive(Debug)]
enum Phase {
    /// Reading the header: the bytes so far, and how far the blank line was searched.
    Header {
        /// The bytes received, at most [`MAX_HEADER`].
        buf: Vec<u8>,
        /// The first byte not yet searched for the end of the header.
        scanned: usize,
    },
    /// Reading the body.
    Body,
    /// Over.
    Done(Outcome),
}

/// One url of an HTTP_GET / SSL_GET check: the request to send and the response to judge.
///
/// Drive it like [`crate::conv::Conversation`]: send [`output`](Self::output), feed the
/// plaintext the server sends to [`input`](Self::input) and [`end_of_stream`](Self::end_of_stream)
/// at its end, until [`Step::Done`].
pub struct HttpConversation {
    /// The request, until taken.
    request: Option<Vec<u8>>,
    /// ureq-proto's call, waiting for the response header.
    call: Option<Call<RecvResponse>>,
    /// Where the response stands.
    phase: Phase,
    /// Accepted status ranges.
    status_ranges: Vec<(u16, u16)>,
    /// The digest wanted (`None`: not checked).
    expected: Option<[u8; 16]>,
    /// The running digest (when checked, or for genhash).
    md5: Option<Md5>,
    /// The final digest.
    digest: Option<[u8; 16]>,
    /// The regex window.
    regex: Option<RegexWindow>,
    /// `regex_no_match`.
    regex_no_match: bool,
    /// The status received.
    status: Option<u16>,
    /// `Content-Length`, when the header has one.
    content_length: Option<u64>,
    /// Body bytes received (raw, after the header).
    body_received: u64,
}

impl std::fmt::Debug for HttpConversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConversation")
            .field("phase", &self.phase)
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("body_received", &self.body_received)
            .finish_non_exhaustive()
    }
}

impl HttpConversation {
    /// The conversation for `url` with `http_protocol` `protocol`.
    pub fn new(url: &UrlSpec, protocol: HttpProtocol) -> HttpConversation {
        let mut c = HttpConversation::blank(&url.path, &url.host, protocol);
        c.status_ranges = url.status.clone();
        if c.status_ranges.is_empty() {
            c.status_ranges.push((200, 299));
        }
        c.expected = url.digest;
        if url.digest.is_some() {
            c.md5 = Some(Md5::new());
        }
        if let Some(r) = &url.regex {
            c.regex = Some(RegexWindow::new(r));
            c.regex_no_match = r.no_match;
        }
        c
    }

    /// The conversation keepalived's `genhash` has: any status is accepted and the body
    /// is read to its end (`Content-Length` or the end of the stream); then
    /// [`digest`](Self::digest) is the value a url's `digest` needs.
    pub fn genhash(path: &str, host: &str, protocol: HttpProtocol) -> HttpConversation {
        let mut c = HttpConversation::blank(path, host, protocol);
        c.status_ranges.push((0, u16::MAX));
        c.md5 = Some(Md5::new());
        c
    }

    /// A conversation with the request and nothing to check.
    fn blank(path: &str, host: &str, protocol: HttpProtocol) -> HttpConversation {
        let mut c = HttpConversation {
            request: None,
            call: None,
            phase: Phase::Header {
                buf: Vec::new(),
                scanned: 0,
            },
            status_ranges: Vec::new(),
            expected: None,
            md5: None,
            digest: None,
            regex: None,
            regex_no_match: false,
            status: None,
            content_length: None,
            body_received: 0,
        };
        match build_request(path, host, protocol) {
            Ok((bytes, call)) => {
                c.request = Some(bytes);
                c.call = Some(call);
            }
            Err(e) => c.phase = Phase::Done(Outcome::Down(e)),
        }
        c
    }

    /// The request, once; `None` after (or when the request cannot be made: then
    /// [`input`](Self::input) and [`end_of_stream`](Self::end_of_stream) say why).
    pub fn output(&mut self) -> Option<Vec<u8>> {
        self.request.take()
    }

    /// The outcome, when decided.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Done(o) => Some(o),
            _ => None,
        }
    }

    /// The MD5 of the body as keepalived computes it, once the body is read (only when a
    /// digest is checked, or for [`genhash`](Self::genhash)).
    pub fn digest(&self) -> Option<[u8; 16]> {
        self.digest
    }

    /// The status code received.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Bytes of server input held (header and regex window): never more than
    /// [`MAX_HEADER`]` + `[`REGEX_WINDOW`].
    pub fn buffered(&self) -> usize {
        let header = match &self.phase {
            Phase::Header { buf, .. } => buf.len(),
            _ => 0,
        };
        header + self.regex.as_ref().map_or(0, |r| r.buf.len())
    }

    /// Bytes the server sent (plaintext), in chunks of any size.
    pub fn input(&mut self, data: &[u8]) -> Step {
        if let Phase::Done(o) = &self.phase {
            return Step::Done(o.clone());
        }
        let step = match &mut self.phase {
            Phase::Header { buf, scanned } => {
                let room = MAX_HEADER.saturating_sub(buf.len());
                let take = data.len().min(room);
                buf.extend_from_slice(&data[..take]);
                match self.call.as_mut() {
                    None => Err(Outcome::Down("internal: no HTTP call".into())),
                    Some(call) => match find_header(call, buf, scanned) {
                        Ok(Some((used, response))) => {
                            let buf = std::mem::take(buf);
                            self.on_header(&buf, used, &response, &data[take..])
                        }
                        Ok(None) if buf.len() >= MAX_HEADER => Err(Outcome::Down(format!(
                            "response header longer than {MAX_HEADER} bytes"
                        ))),
                        Ok(None) => Ok(()),
                        Err(e) => Err(Outcome::Down(e)),
                    },
                }
            }
            Phase::Body => {
                self.body(data);
                Ok(())
            }
            Phase::Done(_) => Ok(()),
        };
        if let Err(o) = step {
            self.phase = Phase::Done(o);
        }
        self.decide(false)
    }

    /// The server closed the connection (or sent TLS close_notify).
    pub fn end_of_stream(&mut self) -> Step {
        if let Phase::Header { buf, .. } = &self.phase {
            let o = if buf.is_empty() {
                "connection closed before the headers (no data received)".to_string()
            } else {
                format!(
                    "connection closed before the headers were complete ({} bytes received)",
                    buf.len()
                )
            };
            self.phase = Phase::Done(Outcome::Down(o));
        }
        self.decide(true)
    }

    /// The header is `buf[..used]`: check the status, take the body bytes that came with
    /// it (the rest of `buf`, then `extra`, the part of the last input that did not fit
    /// in the buffer).
    fn on_header(
        &mut self,
        buf: &[u8],
        used: usize,
        response: &Response<()>,
        extra: &[u8],
    ) -> Result<(), Outcome> {
        let status = response.status().as_u16();
        self.status = Some(status);
        if !self
            .status_ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
        {
            return Err(Outcome::Down(format!(
                "status {status} not in {}",
                ranges_text(&self.status_ranges)
            )));
        }
        self.content_length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        self.phase = Phase::Body;
        if let Some(r) = &mut self.regex {
            r.push(buf.get(..used).unwrap_or_default());
        }
        self.body(buf.get(used..).unwrap_or_default());
        self.body(extra);
        Ok(())
    }

    /// Body bytes (raw).
    fn body(&mut self, data: &[u8]) {
        let take = match self.content_length {
            Some(n) => {
                let left = n.saturating_sub(self.body_received);
                usize::try_from(left).map_or(data.len(), |l| l.min(data.len()))
            }
            None => data.len(),
        };
        if let Some(md5) = &mut self.md5 {
            md5.update(&data[..take]);
        }
        if let Some(r) = &mut self.regex {
            r.push(&data[..take]);
        }
        self.body_received = self.body_received.saturating_add(data.len() as u64);
    }

    /// Decides when the outcome is known (`eof`: the stream ended).
    fn decide(&mut self, eof: bool) -> Step {
        if let Phase::Done(o) = &self.phase {
            return Step::Done(o.clone());
        }
        if !matches!(self.phase, Phase::Body) {
            return Step::Continue;
        }
        let body_complete = eof || self.content_length.is_some_and(|n| self.body_received >= n);
        if self.md5.is_some() && !body_complete {
            return Step::Continue;
        }
        let regex_decided = match &mut self.regex {
            None => true,
            Some(r) => {
                if body_complete {
                    r.finish();
                }
                r.matched.is_some()
            }
        };
        if !regex_decided {
            return Step::Continue;
        }
        let outcome = self.judge();
        self.phase = Phase::Done(outcome.clone());
        Step::Done(outcome)
    }

    /// The outcome once status, digest and regex are known.
    fn judge(&mut self) -> Outcome {
        if let Some(md5) = self.md5.take() {
            let got: [u8; 16] = md5.finalize().into();
            self.digest = Some(got);
            if let Some(want) = self.expected
                && want != got
            {
                let mut reason = format!("digest mismatch: got {}", hex(&got));
                if let Some(n) = self.content_length
                    && self.body_received < n
                {
                    let _ = write!(
                        reason,
                        " (the body ended after {} of {n} bytes)",
                        self.body_received
                    );
                }
                return Outcome::Down(reason);
            }
        }
        if let Some(r) = &self.regex {
            let matched = r.matched.unwrap_or(false);
            if matched == self.regex_no_match {
                return Outcome::Down(if matched {
                    "regex matched (regex_no_match)".into()
                } else {
                    "regex did not match".into()
                });
            }
        }
        Outcome::Up
    }
}

/// Builds keepalived's request with ureq-proto; the bytes and the call waiting for the
/// response.
fn build_request(
    path: &str,
    host: &str,
    protocol: HttpProtocol,
) -> Result<(Vec<u8>, Call<RecvResponse>), String> {
    let version = match protocol {
        HttpProtocol::Http11 => Version::HTTP_11,
        HttpProtocol::Http10 | HttpProtocol::Http10Close => Version::HTTP_10,
    };
    let mut b = Request::get(path).version(version);
    b = header_raw(b, "User-Agent", USER_AGENT.as_bytes());
    if !matches!(protocol, HttpProtocol::Http10) {
        b = header_raw(b, "Connection", b"close");
    }
    b = header_raw(b, "Host", host.as_bytes());
    let request = b
        .body(())
        .map_err(|e| format!("cannot make the request for '{path}' (Host '{host}'): {e}"))?;
    let call = Call::new(request).map_err(|e| format!("cannot make the request: {e}"))?;
    let mut call = call.proceed();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1024 + path.len() + host.len()];
    while !call.can_proceed() {
        let n = call
            .write(&mut chunk)
            .map_err(|e| format!("cannot write the request: {e}"))?;
        if n == 0 {
            return Err("cannot write the request: no progress".into());
        }
        out.extend_from_slice(&chunk[..n]);
    }
    match call.proceed() {
        Ok(Some(SendRequestResult::RecvResponse(c))) => Ok((out, c)),
        Ok(_) => Err("cannot write the request: unexpected state".into()),
        Err(e) => Err(format!("cannot write the request: {e}")),
    }
}

/// Looks for a complete header in `buf`, past `scanned` (updated): the header's length
/// and the response, or `None` when more input is needed. ureq-proto consumes interim
/// 1xx responses; a blank line that does not end a header httparse accepts is skipped.
fn find_header(
    call: &mut Call<RecvResponse>,
    buf: &[u8],
    scanned: &mut usize,
) -> Result<Option<(usize, Response<()>)>, String> {
    while let Some(end) = header_end(buf, *scanned) {
        *scanned = end;
        let mut start = 0;
        loop {
            let rest = buf.get(start..end).unwrap_or_default();
            match call.try_response(rest, false) {
                Ok((used, Some(r))) => return Ok(Some((start + used, r))),
                // Not a complete header yet: look for the next blank line.
                Ok((0, None)) => break,
                // An interim 1xx response, consumed.
                Ok((used, None)) => start += used,
                Err(e) => return Err(format!("malformed response header: {e}")),
            }
        }
    }
    *scanned = (*scanned).max(buf.len());
    Ok(None)
}

/// The position after the first blank line ending a header that ends after `from`.
/// Accepts CRLF and bare LF line ends, as httparse does.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let tail = buf.get(start..)?;
    tail.windows(2).enumerate().find_map(|(i, w)| {
        let end = if w == b"\n\n" {
            start + i + 2
        } else if w == b"\n\r" && tail.get(i + 2) == Some(&b'\n') {
            start + i + 3
        } else {
            return None;
        };
        (end > from).then_some(end)
    })
}

/// `200-299, 301` for messages.
pub fn ranges_text(ranges: &[(u16, u16)]) -> String {
    let mut s = String::new();
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if lo == hi {
            let _ = write!(s, "{lo}");
        } else {
            let _ = write!(s, "{lo}-{hi}");
        }
    }
    s
}

/// Lowercase hex, as keepalived's `digest` keyword and genhash write it.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The regex subject: a sliding window over the response stream.
#[derive(Debug)]
struct RegexWindow {
    /// The expression.
    regex: regex::bytes::Regex,
    /// Matches start at or after this stream offset.
    min: u64,
    /// Matches start at or before this stream offset.
    max: Option<u64>,
    /// The kept bytes.
    buf: Vec<u8>,
    /// The stream offset of `buf[0]`.
    base: u64,
    /// Bytes of the stream seen.
    seen: u64,
    /// Decided: matched or not.
    matched: Option<bool>,
}

impl RegexWindow {
    /// A window for `spec`.
    fn new(spec: &RegexSpec) -> RegexWindow {
        RegexWindow {
            regex: spec.regex.clone(),
            min: spec.min_offset,
            max: spec.max_offset,
            buf: Vec::new(),
            base: spec.min_offset.saturating_sub(REGEX_CONTEXT),
            seen: 0,
            matched: None,
        }
    }

    /// More of the stream.
    fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.matched.is_none() {
            let keep_from = self.min.saturating_sub(REGEX_CONTEXT);
            if self.seen < keep_from {
                let skip = usize::try_from(keep_from - self.seen)
                    .map_or(data.len(), |s| s.min(data.len()));
                self.seen += skip as u64;
                data = &data[skip..];
                continue;
            }
            let room = REGEX_WINDOW - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            self.seen += take as u64;
            data = &data[take..];
            if self.buf.len() >= REGEX_WINDOW {
                self.search(false);
                if self.matched.is_none() {
                    let half = REGEX_WINDOW / 2;
                    self.buf.drain(..half);
                    self.base += half as u64;
                    if self.max.is_some_and(|m| self.base > m) {
                        // No match can start at or before max any more.
                        self.matched = Some(false);
                    }
                }
            }
        }
        if self.matched.is_some() {
            self.buf = Vec::new();
        }
    }

    /// The stream ended: search what is left.
    fn finish(&mut self) {
        if self.matched.is_none() {
            self.search(true);
            self.buf = Vec::new();
        }
    }

    /// Searches the window (`last`: nothing more will come).
    fn search(&mut self, last: bool) {
        let start = usize::try_from(self.min.saturating_sub(self.base))
            .map_or(self.buf.len(), |s| s.min(self.buf.len()));
        match self.regex.find_at(&self.buf, start) {
            Some(m) => {
                let at = self.base + m.start() as u64;
                if self.max.is_none_or(|mx| at <= mx) {
                    self.matched = Some(true);
                } else if last {
                    self.matched = Some(false);
                }
                // Otherwise the leftmost match starts beyond max; only a match not yet
                // complete could start earlier, and the next window will see it.
            }
            None if last => self.matched = Some(false),
            None => {}
        }
    }
}
