//! SMTP_CHECK: banner, `HELO`, `QUIT`, sans-IO.
//!
//! keepalived (`check_smtp.c`) reads the banner and wants code 220, sends
//! `HELO <helo_name>` and wants 250, sends `QUIT` and is satisfied by any reply line.
//! keepalived-rs has the same dialogue and the same codes, and in addition:
//! - reads multi-line replies (`220-...` lines up to the `220 ...` one; keepalived reads
//!   only the first line and so fails on a multi-line banner);
//! - accepts a code alone on its line (`250`) and bare LF line ends;
//! - bounds a reply line to [`MAX_LINE`] bytes and a reply to [`MAX_REPLY_LINES`] lines
//!   (keepalived wraps its 512-byte buffer);
//! - as keepalived, ignores what the server sends after a complete reply until the next
//!   command is sent.

use crate::conv::Step;
use crate::spec::Outcome;

/// The longest reply line accepted (RFC 5321 allows 512 bytes).
pub const MAX_LINE: usize = 1024;

/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 100;

/// The reply awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The greeting banner (220).
    Banner,
    /// The reply to `HELO` (250).
    Helo,
    /// The reply to `QUIT` (anything).
    Quit,
}

impl Stage {
    /// For messages.
    fn what(self) -> &'static str {
        match self {
            Stage::Banner => "the banner",
            Stage::Helo => "the HELO reply",
            Stage::Quit => "the QUIT reply",
        }
    }
}

/// One SMTP_CHECK run.
#[derive(Debug)]
pub struct SmtpConversation {
    /// The `HELO` argument.
    helo: String,
    /// The reply awaited.
    stage: Stage,
    /// The command to send next.
    outbox: Option<Vec<u8>>,
    /// A command is queued and the server's bytes until it is sent are ignored.
    waiting_to_send: bool,
    /// The line being read.
    line: Vec<u8>,
    /// Lines of the current reply so far.
    lines: usize,
    /// The outcome, once known.
    done: Option<Outcome>,
}

impl SmtpConversation {
    /// A check that says `HELO helo` (CR and LF in the name become spaces).
    pub fn new(helo: &str) -> SmtpConversation {
        let helo = helo
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        SmtpConversation {
            helo,
            stage: Stage::Banner,
            outbox: None,
            waiting_to_send: false,
            line: Vec::new(),
            lines: 0,
            done: None,
        }
    }

    /// The next command to send, if any.
    pub fn output(&mut self) -> Option<Vec<u8>> {
        let out = self.outbox.take();
        if out.is_some() {
            self.waiting_to_send = false;
        }
        out
    }

    /// Bytes of server input held (a partial line): at most [`MAX_LINE`].
    pub fn buffered(&self) -> usize {
        self.line.len()
    }

    /// Bytes the server sent, in chunks of any size.
    pub fn input(&mut self, data: &[u8]) -> Step {
        for &byte in data {
            if self.done.is_some() || self.waiting_to_send {
                break;
            }
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.on_line(&line);
            } else if self.line.len() >= MAX_LINE {
                self.fail(format!(
                    "{}: a reply line longer than {MAX_LINE} bytes",
                    self.stage.what()
                ));
            } else {
                self.line.push(byte);
            }
        }
        self.step()
    }

    /// The server closed the connection.
    pub fn end_of_stream(&mut self) -> Step {
        if self.done.is_none() {
            self.fail(format!(
                "connection closed before {}{}",
                self.stage.what(),
                if self.line.is_empty() {
                    String::new()
                } else {
                    format!(" was complete (\"{}\")", printable(&self.line))
                }
            ));
        }
        self.step()
    }

    /// Where the conversation stands.
    fn step(&self) -> Step {
        match &self.done {
            Some(o) => Step::Done(o.clone()),
            None => Step::Continue,
        }
    }

    /// Ends the check with a failure.
    fn fail(&mut self, reason: String) {
        if self.done.is_none() {
            self.done = Some(Outcome::Down(reason));
        }
        self.line = Vec::new();
    }

    /// One reply line (without its line end).
    fn on_line(&mut self, line: &[u8]) {
        let stage = self.stage;
        let code = match line {
            [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..]
                if matches!(rest.first(), None | Some(b' ' | b'-' | b'\t')) =>
            {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => {
                self.fail(format!(
                    "{}: not an SMTP reply: \"{}\"",
                    stage.what(),
                    printable(line)
                ));
                return;
            }
        };
        if line.get(3) == Some(&b'-') {
            self.lines += 1;
            if self.lines >= MAX_REPLY_LINES {
                self.fail(format!(
                    "{}: a reply of more than {MAX_REPLY_LINES} lines",
                    stage.what()
                ));
            }
            return;
        }
        self.lines = 0;
        let text = printable(line);
        match stage {
            Stage::Banner if code == 220 => {
                self.send(format!("HELO {}\r\n", self.helo), Stage::Helo)
            }
            Stage::Banner => self.fail(format!("banner: expected 220, got \"{text}\"")),
            Stage::Helo if code == 250 => self.send("QUIT\r\n".to_string(), Stage::Quit),
            Stage::Helo => self.fail(format!("HELO answered \"{text}\", expected 250")),
            Stage::Quit => self.done = Some(Outcome::Up),
        }
    }

    /// Queues `command`; its reply is `next`.
    fn send(&mut self, command: String, next: Stage) {
        self.outbox = Some(command.into_bytes());
        self.waiting_to_send = true;
        self.stage = next;
        self.line.clear();
    }
}

/// A server line for messages: at most 80 characters, control bytes escaped.
pub(crate) fn printable(line: &[u8]) -> String {
    let mut s = String::new();
    for (i, c) in String::from_utf8_lossy(line).chars().enumerate() {
        if i >= 80 {
            s.push_str("...");
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}
