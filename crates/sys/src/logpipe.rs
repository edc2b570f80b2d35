//! The log pipe between a child and the parent.
//!
//! A child logs to fd 2 (the write end of the pipe the parent created with
//! `spawn::log_pipe`), one line per record in journald's stderr convention; the parent
//! splits what it reads into lines and forwards each to syslog with the child's name.
//!
//! ```text
//! child: log::warn!("...")  --fd 2-->  "<4>message\n"  --pipe-->  LineSplitter  --> syslog
//! ```
//!
//! A line is at most [`MAX_LINE`] bytes, newline included, so each is written with one
//! atomic `write` (a pipe write of at most `PIPE_BUF` = 4096 bytes is never interleaved).
//! The child's fd 2 is made non-blocking when it is a pipe: a parent that does not read
//! makes the child drop lines (and say how many later), never stall its event loop.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;

use crate::syslog::Severity;

/// Longest line on the pipe, newline included.
pub const MAX_LINE: usize = 4096;

/// Installs the child's logger: records at `level` or more severe go to fd 2 as
/// `<N>message\n`, N being the syslog severity digit. Fails when a logger is already set.
pub fn init_child_logger(level: log::LevelFilter) -> Result<(), log::SetLoggerError> {
    let stderr = io::stderr();
    if let Ok(stat) = nix::sys::stat::fstat(stderr.as_fd()) {
        if stat.st_mode & libc::S_IFMT == libc::S_IFIFO {
            use nix::fcntl::{FcntlArg, OFlag, fcntl};
            if let Ok(flags) = fcntl(stderr.as_fd(), FcntlArg::F_GETFL) {
                let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
                let _ = fcntl(stderr.as_fd(), FcntlArg::F_SETFL(flags));
            }
        }
    }
    log::set_boxed_logger(Box::new(ChildLogger {
        level,
        dropped: AtomicU64::new(0),
    }))?;
    log::set_max_level(level);
    Ok(())
}

/// The child's `log` backend.
#[derive(Debug)]
struct ChildLogger {
    level: log::LevelFilter,
    /// Lines that could not be written (pipe full), reported before the next line.
    dropped: AtomicU64,
}

impl log::Log for ChildLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            let note = format_line(
                Severity::Warning,
                &format!("{dropped} log lines dropped (log pipe full)"),
            );
            if write_line(&note).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.dropped.fetch_sub(dropped, Ordering::Relaxed);
        }
        let line = format_line(
            Severity::from_log_level(record.level()),
            &record.args().to_string(),
        );
        if write_line(&line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

/// Writes one whole line to fd 2 with a single `write`.
fn write_line(line: &[u8]) -> Result<(), Errno> {
    loop {
        match nix::unistd::write(io::stderr().as_fd(), line) {
            Ok(n) if n == line.len() => return Ok(()),
            // A partial write cannot happen on a pipe for lines of at most PIPE_BUF bytes.
            Ok(_) => return Err(Errno::EIO),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `<N>message\n`, newlines inside the message replaced by spaces, at most [`MAX_LINE`]
/// bytes (cut on a character boundary).
fn format_line(severity: Severity, message: &str) -> Vec<u8> {
    let mut line = format!("<{}>", severity.number());
    let room = MAX_LINE - line.len() - 1;
    let mut end = message.len().min(room);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    line.extend(message[..end].chars().map(|c| match c {
        '\n' | '\r' => ' ',
        c => c,
    }));
    line.push('\n');
    line.into_bytes()
}

/// One line read from a child's log pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// From the `<N>` prefix, or the splitter's default when there is none.
    pub severity: Severity,
    /// The text without prefix and newline; invalid UTF-8 replaced.
    pub text: String,
    /// The line was longer than [`MAX_LINE`] and was cut there (the rest is discarded).
    pub truncated: bool,
}

/// The parent's side: splits the bytes read from a log pipe into [`LogLine`]s (sans-IO).
#[derive(Debug)]
pub struct LineSplitter {
    /// The incomplete line so far (at most `MAX_LINE` bytes).
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line up to its newline.
    discarding: bool,
    /// Severity of a line without `<N>` prefix (a panic message, say).
    default: Severity,
}

impl LineSplitter {
    /// A splitter giving `default` to lines without a `<N>` prefix.
    pub fn new(default: Severity) -> Self {
        Self {
            partial: Vec::new(),
            discarding: false,
            default,
        }
    }

    /// Feeds bytes read from the pipe; returns the lines they complete. Empty lines are
    /// skipped. A line longer than [`MAX_LINE`] is returned cut and flagged as soon as it
    /// exceeds the limit, and the rest of it is discarded.
    pub fn push(&mut self, mut bytes: &[u8]) -> impl Iterator<Item = LogLine> + use<> {
        let mut lines = Vec::new();
        while !bytes.is_empty() {
            let (chunk, complete) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], Some(i + 1)),
                None => (bytes, None),
            };
            if !self.discarding {
                let room = MAX_LINE + 1 - self.partial.len();
                self.partial
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                if self.partial.len() > MAX_LINE {
                    self.partial.truncate(MAX_LINE);
                    lines.push(self.take(true));
                    self.discarding = complete.is_none();
                } else if complete.is_some() && !self.partial.is_empty() {
                    lines.push(self.take(false));
                }
            } else if complete.is_some() {
                self.discarding = false;
            }
            match complete {
                Some(next) => bytes = &bytes[next..],
                None => break,
            }
        }
        lines.into_iter()
    }

    /// The pipe reached end-of-file: returns the last, unterminated line if any.
    pub fn finish(&mut self) -> Option<LogLine> {
        self.discarding = false;
        (!self.partial.is_empty()).then(|| self.take(false))
    }

    /// Turns the partial line into a [`LogLine`] and empties it.
    fn take(&mut self, truncated: bool) -> LogLine {
        let (severity, text) = match parse_prefix(&self.partial) {
            Some((severity, len)) => (severity, &self.partial[len..]),
            None => (self.default, &self.partial[..]),
        };
        let line = LogLine {
            severity,
            text: String::from_utf8_lossy(text).into_owned(),
            truncated,
        };
        self.partial.clear();
        line
    }
}

/// `<N>` with N a syslog priority (0..=191; the severity is its low 3 bits): the severity
/// and the prefix length.
fn parse_prefix(line: &[u8]) -> Option<(Severity, usize)> {
    let rest = line.strip_prefix(b"<")?;
    let close = rest.iter().take(4).position(|&b| b == b'>')?;
    let digits = &rest[..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if value > 191 {
        return None;
    }
    Some((Severity::from_number((value & 7) as u8)?, close + 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::testing::in_child;
    use std::io::Read;
    use std::time::Duration;

    fn line(severity: Severity, text: &str) -> LogLine {
        LogLine {
            severity,
            text: text.into(),
            truncated: false,
        }
    }

    #[test]
    fn lines_are_prefixed_one_line_and_capped() {
        assert_eq!(format_line(Severity::Warning, "a\nb\r"), b"<4>a b \n");
        let long = format_line(Severity::Info, &"é".repeat(MAX_LINE));
        assert!(long.len() <= MAX_LINE && long.len() >= MAX_LINE - 1);
        assert!(long.starts_with(b"<6>") && long.ends_with(b"\n"));
        assert!(std::str::from_utf8(&long).is_ok());
    }

    #[test]
    fn splitter_joins_pieces_and_parses_prefixes() {
        let mut s = LineSplitter::new(Severity::Error);
        assert_eq!(s.push(b"<6>first li").count(), 0);
        let got: Vec<_> = s
            .push(b"ne\n<3>second\n\nno prefix\n<30>pri\n<9x>x\n<4>par")
            .collect();
        assert_eq!(
            got,
            [
                line(Severity::Info, "first line"),
                line(Severity::Error, "second"),
                line(Severity::Error, "no prefix"),
                line(Severity::Info, "pri"),
                line(Severity::Error, "<9x>x"),
            ]
        );
        assert_eq!(s.finish(), Some(line(Severity::Warning, "par")));
        assert_eq!(s.finish(), None);
        let got: Vec<_> = s.push(b"<7>bad \xff utf8\n<192>too high\n").collect();
        assert_eq!(
            got,
            [
                line(Severity::Debug, "bad \u{fffd} utf8"),
                line(Severity::Error, "<192>too high"),
            ]
        );
    }

    #[test]
    fn splitter_cuts_an_overlong_line_and_resumes_after_it() {
        let mut s = LineSplitter::new(Severity::Info);
        let mut input = b"<4>".to_vec();
        input.extend(std::iter::repeat_n(b'a', 3 * MAX_LINE));
        // Fed in small pieces: the memory held stays bounded.
        let mut got = Vec::new();
        for piece in input.chunks(1000) {
            got.extend(s.push(piece));
            assert!(s.partial.len() <= MAX_LINE);
        }
        got.extend(s.push(b"aaaa\n<3>next\n"));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].severity, Severity::Warning);
        assert!(got[0].truncated);
        assert_eq!(got[0].text.len(), MAX_LINE - 3);
        assert_eq!(got[1], line(Severity::Error, "next"));
        // Exactly MAX_LINE bytes is not cut; one more is.
        let exact = vec![b'b'; MAX_LINE];
        let mut s = LineSplitter::new(Severity::Info);
        let got: Vec<_> = s.push(&[&exact[..], b"\n"].concat()).collect();
        assert!(!got[0].truncated && got[0].text.len() == MAX_LINE);
        let got: Vec<_> = s.push(&[&exact[..], b"b\nc\n"].concat()).collect();
        assert!(got[0].truncated);
        assert_eq!(got[1], line(Severity::Info, "c"));
    }

    #[test]
    fn child_logger_writes_lines_the_splitter_reads() {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        let result = in_child(Duration::from_secs(20), move || {
            nix::unistd::dup2_stderr(&write).map_err(|e| e.to_string())?;
            drop(write);
            init_child_logger(log::LevelFilter::Info).map_err(|e| e.to_string())?;
            log::info!("hello {}", 1);
            log::debug!("not shown");
            log::error!("two\nlines");
            log::warn!("{}", "x".repeat(2 * MAX_LINE));
            Ok(())
        });
        assert_eq!(result, Ok(()));
        let mut bytes = Vec::new();
        std::fs::File::from(read)
            .read_to_end(&mut bytes)
            .expect("read pipe");
        let mut s = LineSplitter::new(Severity::Notice);
        let got: Vec<_> = s.push(&bytes).collect();
        assert_eq!(s.finish(), None);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], line(Severity::Info, "hello 1"));
        assert_eq!(got[1], line(Severity::Error, "two lines"));
        assert_eq!(got[2].severity, Severity::Warning);
        assert!(!got[2].truncated);
        assert_eq!(got[2].text.len(), MAX_LINE - 4);
    }

    #[test]
    fn a_full_pipe_drops_lines_and_says_so_later() {
        let result = in_child(Duration::from_secs(20), || {
            let (read, write) = nix::unistd::pipe().map_err(|e| e.to_string())?;
            nix::unistd::dup2_stderr(&write).map_err(|e| e.to_string())?;
            drop(write);
            init_child_logger(log::LevelFilter::Info).map_err(|e| e.to_string())?;
            // Nobody reads: the pipe fills up (64 KiB) and the rest is dropped, not waited for.
            let big = "y".repeat(4000);
            for _ in 0..100 {
                log::info!("{big}");
            }
            let mut pipe = std::fs::File::from(read);
            nix::fcntl::fcntl(
                &pipe,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .map_err(|e| e.to_string())?;
            let mut drained = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => drained.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
            let mut s = LineSplitter::new(Severity::Info);
            let kept = s.push(&drained).count();
            if kept == 0 || kept >= 100 {
                return Err(format!("{kept} lines kept"));
            }
            log::error!("after");
            let n = pipe.read(&mut buf).map_err(|e| e.to_string())?;
            let got: Vec<_> = s.push(&buf[..n]).collect();
            let expected = [
                line(
                    Severity::Warning,
                    &format!("{} log lines dropped (log pipe full)", 100 - kept),
                ),
                line(Severity::Error, "after"),
            ];
            if got != expected {
                return Err(format!("{got:?}"));
            }
            Ok(())
        });
        assert_eq!(result, Ok(()));
    }
}
