//! The conversion context: diagnostics plus helpers that read typed values from nodes.
//!
//! Every helper reports its own error (file, line, column, the line's text and a hint) and
//! returns `None`, so block parsers read as a list of keywords and stay short:
//!
//! ```text
//! cx.dispatch(Block::VrrpInstance, nodes, |cx, n| match n.kw() {
//!     "priority" => inst.priority = cx.u32_kw(n, 1, 255).map(|p| p as u8),
//!     _ => cx.unhandled(n),
//! });
//! ```

use std::net::IpAddr;

use crate::diag::{Diagnostic, Loc, Severity, nearest};
use crate::keywords::{self, Block, Status};
use crate::lexer::shell_words;
use crate::source::Files;
use crate::tree::Node;
use crate::types::{Pos, Script, Timer};

/// Conversion context for one configuration.
#[derive(Debug, Default)]
pub struct Cx {
    /// Everything reported so far, with the index of the file each is in.
    diags: Vec<(u32, Diagnostic)>,
    /// True once [`crate::lexer::MAX_DIAGNOSTICS`] were reported: later ones are dropped.
    full: bool,
}

impl Cx {
    /// An empty context.
    pub fn new() -> Cx {
        Cx::default()
    }

    /// Reports a diagnostic.
    pub fn report(
        &mut self,
        sev: Severity,
        loc: Loc,
        msg: impl Into<String>,
        text: Option<String>,
        hint: Option<String>,
    ) {
        if self.full {
            return;
        }
        if self.diags.len() >= crate::lexer::MAX_DIAGNOSTICS {
            self.full = true;
            let d = Files::default().diag(
                Severity::Error,
                loc,
                format!(
                    "more than {} problems; reading stopped here",
                    crate::lexer::MAX_DIAGNOSTICS
                ),
                None,
                Some("is this a keepalived configuration file?".into()),
            );
            self.diags.push((loc.file, d));
            return;
        }
        let d = Files::default().diag(sev, loc, msg, text, hint);
        self.diags.push((loc.file, d));
    }

    /// True once the diagnostic cap is reached: the caller may stop reading.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The number of errors reported so far.
    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|(_, d)| d.is_error()).count()
    }

    /// Ends the context: its diagnostics, with file names from `files`.
    pub fn finish(self, files: &Files) -> Vec<Diagnostic> {
        self.diags
            .into_iter()
            .map(|(f, mut d)| {
                d.file = files.name(f).to_string();
                d
            })
            .collect()
    }

    /// An error on a node's line.
    pub fn err(&mut self, n: &Node, msg: impl Into<String>) {
        self.report(Severity::Error, n.loc, msg, Some(n.text.to_string()), None);
    }

    /// An error on a node's line, with a hint.
    pub fn err_hint(&mut self, n: &Node, msg: impl Into<String>, hint: impl Into<String>) {
        self.report(
            Severity::Error,
            n.loc,
            msg,
            Some(n.text.to_string()),
            Some(hint.into()),
        );
    }

    /// An error at argument `i` of a node (0 = first word after the keyword).
    pub fn err_arg(&mut self, n: &Node, i: usize, msg: impl Into<String>, hint: Option<String>) {
        self.report(
            Severity::Error,
            n.arg_loc(i),
            msg,
            Some(n.text.to_string()),
            hint,
        );
    }

    /// An error at token `i` of a node (0 = the first word: for list entries).
    pub fn err_tok(&mut self, n: &Node, i: usize, msg: impl Into<String>, hint: Option<String>) {
        self.report(
            Severity::Error,
            n.tok_loc(i),
            msg,
            Some(n.text.to_string()),
            hint,
        );
    }

    /// A warning on a node's line.
    pub fn warn(&mut self, n: &Node, msg: impl Into<String>) {
        self.report(
            Severity::Warning,
            n.loc,
            msg,
            Some(n.text.to_string()),
            None,
        );
    }

    /// An error at an object's position (for checks made after parsing).
    pub fn err_at(&mut self, pos: Pos, msg: impl Into<String>, hint: Option<String>) {
        self.report(Severity::Error, pos.0, msg, None, hint);
    }

    /// A warning at an object's position.
    pub fn warn_at(&mut self, pos: Pos, msg: impl Into<String>, hint: Option<String>) {
        self.report(Severity::Warning, pos.0, msg, None, hint);
    }

    /// Walks the entries of a keyword block: unknown, ignored and refused keywords are
    /// reported here; implemented and deprecated ones are passed to `handle`.
    pub fn dispatch<'n>(
        &mut self,
        block: Block,
        nodes: &'n [Node],
        mut handle: impl FnMut(&mut Self, &'n Node),
    ) {
        for n in nodes {
            let name = n.kw();
            match keywords::lookup(block, name) {
                None => self.unknown(block, n),
                Some(k) => match k.status {
                    Status::Implemented | Status::Extension { .. } => handle(self, n),
                    Status::Deprecated { instead } => {
                        self.report(
                            Severity::Warning,
                            n.loc,
                            format!("'{name}' is deprecated"),
                            Some(n.text.to_string()),
                            Some(format!("write '{instead}' instead")),
                        );
                        handle(self, n);
                    }
                    Status::Ignored { why } => self.report(
                        Severity::Warning,
                        n.loc,
                        format!("'{name}' is accepted and ignored: {why}"),
                        Some(n.text.to_string()),
                        None,
                    ),
                    Status::Refused { feature } => self.report(
                        Severity::Error,
                        n.loc,
                        format!("'{name}' is not supported yet: {feature}"),
                        Some(n.text.to_string()),
                        Some("keepalived-rs refuses it rather than run without it; see docs/keywords.md".into()),
                    ),
                },
            }
        }
    }

    /// Reports an unknown keyword in `block`, with the nearest valid one as a hint.
    pub fn unknown(&mut self, block: Block, n: &Node) {
        let name = n.kw();
        let hint = if let Some(near) = nearest(name, keywords::names_in(block)) {
            Some(format!("did you mean '{near}'?"))
        } else {
            let elsewhere = keywords::blocks_of(name);
            if elsewhere.is_empty() {
                None
            } else {
                let names: Vec<&str> = elsewhere.iter().map(|b| b.name()).collect();
                Some(format!("'{name}' belongs in {}", names.join(" or ")))
            }
        };
        let what = if n.block.is_some() {
            " (its whole block is skipped)"
        } else {
            ""
        };
        self.report(
            Severity::Error,
            n.loc,
            format!("unknown keyword '{name}' in {}{what}", block.name()),
            Some(n.text.to_string()),
            hint,
        );
    }

    /// A keyword that the table lists as implemented but the block parser does not handle:
    /// a bug in keepalived-rs, reported rather than ignored.
    pub fn unhandled(&mut self, n: &Node) {
        self.err(
            n,
            format!(
                "internal error: keyword '{}' is listed as implemented but not handled",
                n.kw()
            ),
        );
    }

    /// Checks that `n` has between `min` and `max` arguments and no block. Extra arguments are
    /// reported, but the values before them are still read (true), so that one mistake does
    /// not cause a second error such as a "missing" value elsewhere.
    pub fn args(&mut self, n: &Node, min: usize, max: usize) -> bool {
        let ok_block = self.no_block(n);
        let k = n.nargs();
        if k < min {
            let what = if min == 1 {
                "a value".to_string()
            } else {
                format!("{min} values")
            };
            self.report(
                Severity::Error,
                n.loc.at_col(n.tok_loc(0).col),
                format!("'{}' needs {what}", n.kw()),
                Some(n.text.to_string()),
                None,
            );
            return false;
        }
        if k > max {
            let extra = n.arg(max).unwrap_or("");
            let hint = if keywords::all().any(|kw| kw.name == extra) {
                format!("'{extra}' is a keyword: each keyword goes on its own line")
            } else {
                format!("remove '{extra}'")
            };
            self.err_arg(
                n,
                max,
                format!("unexpected '{extra}' after the value of '{}'", n.kw()),
                Some(hint),
            );
        }
        ok_block
    }

    /// Reports a block on a keyword that takes none.
    pub fn no_block(&mut self, n: &Node) -> bool {
        if n.block.is_some() {
            self.report(
                Severity::Error,
                n.block_loc,
                format!("'{}' does not take a block", n.kw()),
                Some(n.text.to_string()),
                Some("remove the '{ }'".into()),
            );
            return false;
        }
        true
    }

    /// The block of a keyword that needs one.
    pub fn block<'n>(&mut self, n: &'n Node) -> Option<&'n [Node]> {
        match &n.block {
            Some(b) => Some(b),
            None => {
                self.err_hint(
                    n,
                    format!("'{}' needs a block", n.kw()),
                    format!("write '{} {{', then one entry per line, then '}}'", n.kw()),
                );
                None
            }
        }
    }

    /// The block of a keyword that takes `min..=max` arguments before its `{`.
    pub fn block_args<'n>(&mut self, n: &'n Node, min: usize, max: usize) -> Option<&'n [Node]> {
        // A keyword used as a scalar is one mistake: say only that it needs a block.
        let block = self.block(n)?;
        let k = n.nargs();
        if k < min {
            self.err(
                n,
                format!("'{}' needs a name or value before its block", n.kw()),
            );
        } else if k > max {
            let extra = n.arg(max).unwrap_or("");
            self.err_arg(
                n,
                max,
                format!("block '{}' has an extra parameter '{extra}'", n.kw()),
                None,
            );
        }
        Some(block)
    }

    /// An unsigned number in `lo..=hi` at argument `i`.
    pub fn parse_u64(&mut self, n: &Node, i: usize, lo: u64, hi: u64) -> Option<u64> {
        let s = n.arg(i)?;
        match s.parse::<u64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                self.err_arg(
                    n,
                    i,
                    format!("'{s}' is out of range for '{}': {lo} to {hi}", n.kw()),
                    None,
                );
                None
            }
            Err(_) => {
                self.err_arg(
                    n,
                    i,
                    format!("'{s}' is not a number ('{}' takes {lo} to {hi})", n.kw()),
                    None,
                );
                None
            }
        }
    }

    /// A signed number in `lo..=hi` at argument `i`.
    pub fn parse_i64(&mut self, n: &Node, i: usize, lo: i64, hi: i64) -> Option<i64> {
        let s = n.arg(i)?;
        match s.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                self.err_arg(
                    n,
                    i,
                    format!("'{s}' is out of range for '{}': {lo} to {hi}", n.kw()),
                    None,
                );
                None
            }
            Err(_) => {
                self.err_arg(
                    n,
                    i,
                    format!("'{s}' is not a number ('{}' takes {lo} to {hi})", n.kw()),
                    None,
                );
                None
            }
        }
    }

    /// A timer (seconds, decimals allowed) in `lo..=hi` at argument `i`.
    pub fn parse_timer(&mut self, n: &Node, i: usize, lo: Timer, hi: Timer) -> Option<Timer> {
        let s = n.arg(i)?;
        match Timer::parse(s) {
            Some(t) if t >= lo && t <= hi => Some(t),
            Some(_) => {
                self.err_arg(
                    n,
                    i,
                    format!(
                        "'{s}' is out of range for '{}': {lo} to {hi} seconds",
                        n.kw()
                    ),
                    None,
                );
                None
            }
            None => {
                self.err_arg(
                    n,
                    i,
                    format!("'{s}' is not a number of seconds"),
                    Some("write e.g. 1 or 0.5".into()),
                );
                None
            }
        }
    }

    /// An IP address at argument `i`.
    pub fn parse_ip(&mut self, n: &Node, i: usize) -> Option<IpAddr> {
        let s = n.arg(i)?;
        match s.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err_arg(n, i, format!("'{s}' is not an IP address"), None);
                None
            }
        }
    }

    /// One of `choices` at argument `i`.
    pub fn parse_choice(
        &mut self,
        n: &Node,
        i: usize,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        let s = n.arg(i)?;
        match choices.iter().find(|c| **c == s) {
            Some(c) => Some(c),
            None => {
                let hint =
                    nearest(s, choices.iter().copied()).map(|c| format!("did you mean '{c}'?"));
                self.err_arg(
                    n,
                    i,
                    format!(
                        "'{s}' is not valid for '{}': one of {}",
                        n.kw(),
                        choices.join(", ")
                    ),
                    hint,
                );
                None
            }
        }
    }

    /// `keyword N` with N in `lo..=hi`.
    pub fn u64_kw(&mut self, n: &Node, lo: u64, hi: u64) -> Option<u64> {
        if !self.args(n, 1, 1) {
            return None;
        }
        self.parse_u64(n, 0, lo, hi)
    }

    /// `keyword N` with N in `lo..=hi`, as u32.
    pub fn u32_kw(&mut self, n: &Node, lo: u32, hi: u32) -> Option<u32> {
        self.u64_kw(n, u64::from(lo), u64::from(hi))
            .and_then(|v| u32::try_from(v).ok())
    }

    /// `keyword N` with a signed N in `lo..=hi`.
    pub fn i64_kw(&mut self, n: &Node, lo: i64, hi: i64) -> Option<i64> {
        if !self.args(n, 1, 1) {
            return None;
        }
        self.parse_i64(n, 0, lo, hi)
    }

    /// `keyword SECONDS` in `lo..=hi`.
    pub fn timer_kw(&mut self, n: &Node, lo: Timer, hi: Timer) -> Option<Timer> {
        if !self.args(n, 1, 1) {
            return None;
        }
        self.parse_timer(n, 0, lo, hi)
    }

    /// `keyword` alone (true) or `keyword on|off|true|false|yes|no`.
    pub fn bool_kw(&mut self, n: &Node) -> Option<bool> {
        if !self.args(n, 0, 1) {
            return None;
        }
        match n.arg(0) {
            None => Some(true),
            Some(s) => match parse_bool(s) {
                Some(b) => Some(b),
                None => {
                    self.err_arg(
                        n,
                        0,
                        format!("'{s}' is not a yes/no value"),
                        Some("write on, off, true, false, yes or no".into()),
                    );
                    None
                }
            },
        }
    }

    /// `keyword` alone, with no value (a flag).
    pub fn flag_kw(&mut self, n: &Node) -> bool {
        self.args(n, 0, 0)
    }

    /// `keyword WORD`.
    pub fn string_kw(&mut self, n: &Node) -> Option<String> {
        if !self.args(n, 1, 1) {
            return None;
        }
        n.arg(0).map(str::to_string)
    }

    /// `keyword ADDRESS`.
    pub fn ip_kw(&mut self, n: &Node) -> Option<IpAddr> {
        if !self.args(n, 1, 1) {
            return None;
        }
        self.parse_ip(n, 0)
    }

    /// `keyword CHOICE`.
    pub fn choice_kw(&mut self, n: &Node, choices: &[&'static str]) -> Option<&'static str> {
        if !self.args(n, 1, 1) {
            return None;
        }
        self.parse_choice(n, 0, choices)
    }

    /// A script keyword: `keyword COMMAND [USER [[:]GROUP]]`, re-tokenised shell-style as
    /// keepalived does; the command (quote it when it has arguments) is split again into argv.
    pub fn script_kw(&mut self, n: &Node) -> Option<Script> {
        if !self.no_block(n) {
            return None;
        }
        let words = match shell_words(n.rest_raw()) {
            Ok(w) => w,
            Err(e) => {
                self.err_hint(
                    n,
                    format!("cannot read the script of '{}': {e}", n.kw()),
                    "quote the whole command: keyword \"/path/to/script arg1 arg2\"",
                );
                return None;
            }
        };
        script_from_words(self, n, &words)
    }
}

/// Builds a [`Script`] from the shell words of a script line; reports problems on `n`.
pub fn script_from_words(cx: &mut Cx, n: &Node, words: &[String]) -> Option<Script> {
    let Some(command) = words.first() else {
        cx.err(n, format!("'{}' needs a script", n.kw()));
        return None;
    };
    if words.len() > 3 {
        cx.err_hint(
            n,
            format!(
                "'{}' has too many words: after the command only a user and a group may follow",
                n.kw()
            ),
            format!(
                "quote the command with its arguments: {} \"{}\"",
                n.kw(),
                words[..words.len() - 2].join(" ")
            ),
        );
        return None;
    }
    let argv = match shell_words(command) {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => {
            cx.err(n, "the script command is empty");
            return None;
        }
        Err(e) => {
            cx.err(n, format!("cannot split the script command: {e}"));
            return None;
        }
    };
    let (user, group) = match words.get(1) {
        Some(u) => match u.split_once(':') {
            Some((u, g)) if words.len() == 2 => (Some(u.to_string()), Some(g.to_string())),
            _ => (
                Some(u.clone()),
                words.get(2).map(|g| g.trim_start_matches(':').to_string()),
            ),
        },
        None => (None, None),
    };
    Some(Script {
        command: command.clone(),
        argv,
        user,
        group,
        pos: Pos(n.loc),
    })
}

/// keepalived's boolean words.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}
