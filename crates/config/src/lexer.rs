//! The keepalived.conf lexer: physical lines in, logical lines of tokens out.
//!
//! It follows keepalived's reading rules (KEEPALIVED-REFERENCE.md section 3), in this order
//! for each physical line:
//!
//! 1. continuation lines of a multi-line `$NAME=` definition;
//! 2. leading and trailing white space stripped, comments (`#`, `!` outside double quotes,
//!    `\#` and `\!` for the literal characters) removed;
//! 3. `include`, `includer`, `includem`, `includew`, `includeb`, `includea` (before `@` and `$`);
//! 4. `@id` / `@^id` conditional lines;
//! 5. `$NAME=value` definitions;
//! 6. `$NAME` / `${NAME}` expansion, with the predefined `${_...}` names;
//! 7. `~SEQ(...)`, `~SEQx(...)`, `~LST(...)` repetition;
//! 8. `{` and `}` outside double quotes split into their own logical lines;
//! 9. tokens: white space separated, a token that starts with `"` runs to the next `"`.
//!
//! Everything is bounded: line length, include depth, macro depth, repetition count and the
//! number of diagnostics, so no input makes it hang or grow without limit.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Loc, Severity};
use crate::source::Files;

/// Longest physical line accepted, in bytes.
pub const MAX_LINE: usize = 256 * 1024;
/// Deepest nesting of included files.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Deepest nesting of macro expansion.
pub const MAX_MACRO_DEPTH: usize = 32;
/// Longest line that macro expansion may produce, in bytes.
pub const MAX_EXPANDED: usize = 1024 * 1024;
/// Most logical lines that `~SEQ` / `~LST` may produce from one line.
pub const MAX_REPEAT: usize = 100_000;
/// Most diagnostics kept; past this the lexer stops reading.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Which checks an include line makes (keepalived's `include_check` and `-e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncludeCheck {
    /// Every matched file must be readable.
    pub read: bool,
    /// A pattern without wildcards must name an existing file.
    pub matched: bool,
    /// A pattern with wildcards must match at least one file.
    pub wildcard_match: bool,
    /// Every `{a,b}` alternative must match at least one file.
    pub brace_match: bool,
}

impl IncludeCheck {
    /// All checks on (`includea`, `-e`).
    pub const ALL: IncludeCheck = IncludeCheck {
        read: true,
        matched: true,
        wildcard_match: true,
        brace_match: true,
    };

    /// True when any check is on.
    pub fn any(self) -> bool {
        self.read || self.matched || self.wildcard_match || self.brace_match
    }

    /// Applies an `include_check` argument list: bare names set, `+name` adds, `-name` removes;
    /// no argument means all. Returns the name of an unknown check, if any.
    pub fn apply(&mut self, args: &[&str]) -> Result<(), String> {
        if args.is_empty() {
            *self = IncludeCheck::ALL;
            return Ok(());
        }
        if !args[0].starts_with(['+', '-']) {
            *self = IncludeCheck::default();
        }
        for a in args {
            let (on, name) = match a.as_bytes().first() {
                Some(b'+') => (true, &a[1..]),
                Some(b'-') => (false, &a[1..]),
                _ => (true, *a),
            };
            match name {
                "read" => self.read = on,
                "match" => self.matched = on,
                "wildcard_match" => self.wildcard_match = on,
                "brace_match" => self.brace_match = on,
                other => return Err(other.to_string()),
            }
        }
        Ok(())
    }
}

/// What the lexer needs to know from outside.
#[derive(Debug, Clone)]
pub struct LexOptions {
    /// The id matched by `@id` lines (`-i`; default: the short host name).
    pub config_id: String,
    /// Checks for every include (`-e` turns them all on).
    pub include_check: IncludeCheck,
    /// The `instance` name, for `${_INSTANCE}`.
    pub instance: String,
    /// Seed for `${_RANDOM}`.
    pub random_seed: u64,
}

impl Default for LexOptions {
    fn default() -> Self {
        LexOptions {
            config_id: String::new(),
            include_check: IncludeCheck::default(),
            instance: String::new(),
            random_seed: 0x2545_f491_4f6c_dd1d,
        }
    }
}

/// A token: a byte range of its line's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start offset in [`Line::text`].
    pub start: u32,
    /// End offset (exclusive).
    pub end: u32,
    /// 1-based column of the token in the physical line (approximate after macro expansion).
    pub col: u32,
}

/// The tokens of a line: up to four inline (most lines are a keyword and a value or two),
/// more on the heap. Reads as a slice of [`Span`].
#[derive(Clone)]
pub enum Toks {
    /// Up to four tokens, without an allocation.
    Inline(u8, [Span; 4]),
    /// Five tokens or more.
    Heap(Vec<Span>),
}

impl Default for Toks {
    fn default() -> Toks {
        Toks::Inline(0, [Span::default(); 4])
    }
}

impl Toks {
    /// Appends a token.
    pub fn push(&mut self, s: Span) {
        match self {
            Toks::Inline(n, a) if usize::from(*n) < a.len() => {
                a[usize::from(*n)] = s;
                *n += 1;
            }
            Toks::Inline(_, a) => {
                let mut v = a.to_vec();
                v.push(s);
                *self = Toks::Heap(v);
            }
            Toks::Heap(v) => v.push(s),
        }
    }
}

impl std::ops::Deref for Toks {
    type Target = [Span];
    fn deref(&self) -> &[Span] {
        match self {
            Toks::Inline(n, a) => &a[..usize::from(*n)],
            Toks::Heap(v) => v,
        }
    }
}

impl std::fmt::Debug for Toks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One logical line: a `{`, a `}`, or a keyword with its arguments.
#[derive(Debug, Clone)]
pub struct Line {
    /// Where the line is (column of its first character).
    pub loc: Loc,
    /// The text after comments, macros and brace splitting.
    pub text: String,
    /// The tokens, quotes removed.
    pub toks: Toks,
}

impl Line {
    /// Token `i`'s text.
    pub fn tok(&self, i: usize) -> Option<&str> {
        self.toks
            .get(i)
            .map(|s| &self.text[s.start as usize..s.end as usize])
    }

    /// True when this line is a lone `{` or `}` produced by brace splitting.
    pub fn is_brace(&self, c: char) -> bool {
        self.text.len() == 1 && self.text.starts_with(c) && self.toks.is_empty()
    }
}

struct Frame {
    reader: Box<dyn BufRead>,
    file: u32,
    line: u32,
    dir: PathBuf,
    canonical: Option<PathBuf>,
    include_check: IncludeCheck,
}

#[derive(Debug, Clone)]
struct Macro {
    lines: Vec<String>,
}

/// The keepalived.conf lexer. Call [`Lexer::next_line`] until it returns `None`.
pub struct Lexer {
    opts: LexOptions,
    files: Files,
    stack: Vec<Frame>,
    pending: VecDeque<Line>,
    macros: HashMap<String, Macro>,
    /// A multi-line definition being read: name, lines so far, and where it started.
    defining: Option<(String, Vec<String>, Loc)>,
    diags: Vec<Diagnostic>,
    rng: u64,
    buf: Vec<u8>,
    stopped: bool,
    /// True while expanding the first pass of a `~SEQ`/`~LST` line, whose loop variables are
    /// not defined yet.
    in_repeat: bool,
}

impl std::fmt::Debug for Lexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexer")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Lexer {
    /// A lexer reading `path`. A file that cannot be opened is an error diagnostic.
    pub fn open(path: &Path, opts: LexOptions) -> Lexer {
        let mut lx = Lexer::empty(opts);
        let name = path.display().to_string();
        match File::open(path) {
            Ok(f) => {
                let id = lx.files.add(name);
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let canonical = std::fs::canonicalize(path).ok();
                let ic = lx.opts.include_check;
                lx.push_frame(Box::new(BufReader::new(f)), id, dir, canonical, ic);
            }
            Err(e) => {
                let id = lx.files.add(name.clone());
                lx.report(
                    Severity::Error,
                    Loc {
                        file: id,
                        line: 0,
                        col: 0,
                    },
                    format!("cannot read configuration file '{name}': {e}"),
                    None,
                    None,
                );
            }
        }
        lx
    }

    /// A lexer reading `text`, named `name` in diagnostics; includes are relative to `dir`.
    pub fn from_str(name: &str, text: &str, dir: &Path, opts: LexOptions) -> Lexer {
        let mut lx = Lexer::empty(opts);
        let id = lx.files.add(name.to_string());
        let ic = lx.opts.include_check;
        let data = text.as_bytes().to_vec();
        lx.push_frame(
            Box::new(std::io::Cursor::new(data)),
            id,
            dir.to_path_buf(),
            None,
            ic,
        );
        lx
    }

    fn empty(opts: LexOptions) -> Lexer {
        let rng = opts.random_seed | 1;
        Lexer {
            opts,
            files: Files::default(),
            stack: Vec::new(),
            pending: VecDeque::new(),
            macros: HashMap::new(),
            defining: None,
            diags: Vec::new(),
            rng,
            buf: Vec::new(),
            stopped: false,
            in_repeat: false,
        }
    }

    fn push_frame(
        &mut self,
        reader: Box<dyn BufRead>,
        file: u32,
        dir: PathBuf,
        canonical: Option<PathBuf>,
        include_check: IncludeCheck,
    ) {
        self.stack.push(Frame {
            reader,
            file,
            line: 0,
            dir,
            canonical,
            include_check,
        });
    }

    /// The files read so far.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Takes the diagnostics collected so far.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags)
    }

    /// Ends the lexer, returning its file table and remaining diagnostics.
    pub fn finish(mut self) -> (Files, Vec<Diagnostic>) {
        if let Some((name, _, at)) = self.defining.take() {
            self.report(
                Severity::Error,
                at,
                format!("multi-line definition of '${name}' never ends"),
                None,
                Some("end its last line without a trailing '\\'".into()),
            );
        }
        (self.files, self.diags)
    }

    fn report(
        &mut self,
        severity: Severity,
        loc: Loc,
        message: String,
        text: Option<String>,
        hint: Option<String>,
    ) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            if !self.stopped {
                self.stopped = true;
                let d = self.files.diag(
                    Severity::Error,
                    loc,
                    format!("more than {MAX_DIAGNOSTICS} problems; reading stopped here"),
                    None,
                    Some("is this a keepalived configuration file?".into()),
                );
                self.diags.push(d);
            }
            return;
        }
        let d = self.files.diag(severity, loc, message, text, hint);
        self.diags.push(d);
    }

    fn rand(&mut self) -> u64 {
        // xorshift64*: good enough for ${_RANDOM}, and reproducible with random_seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next logical line, or `None` at the end of all input.
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            if let Some(l) = self.pending.pop_front() {
                return Some(l);
            }
            if self.stopped {
                return None;
            }
            let (text, loc) = self.read_physical()?;
            self.process(&text, loc);
            self.buf = text.into_bytes();
        }
    }

    /// Reads the next physical line of the innermost open file, popping finished files.
    fn read_physical(&mut self) -> Option<(String, Loc)> {
        loop {
            let frame = self.stack.last_mut()?;
            self.buf.clear();
            match read_capped_line(frame.reader.as_mut(), &mut self.buf, MAX_LINE) {
                Ok(None) => {
                    self.stack.pop();
                    continue;
                }
                Ok(Some(too_long)) => {
                    frame.line += 1;
                    let loc = Loc {
                        file: frame.file,
                        line: frame.line,
                        col: 1,
                    };
                    if too_long {
                        self.report(
                            Severity::Error,
                            loc,
                            format!("line longer than {MAX_LINE} bytes"),
                            None,
                            Some("split it; keepalived would ignore it".into()),
                        );
                        continue;
                    }
                    if self.buf.contains(&0) {
                        self.report(
                            Severity::Error,
                            loc,
                            "line contains a NUL byte".into(),
                            None,
                            Some("is this a text file?".into()),
                        );
                        continue;
                    }
                    while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                        self.buf.pop();
                    }
                    // The buffer's allocation is lent out and given back after the line.
                    match String::from_utf8(std::mem::take(&mut self.buf)) {
                        Ok(s) => return Some((s, loc)),
                        Err(e) => {
                            let col =
                                u32::try_from(e.utf8_error().valid_up_to() + 1).unwrap_or(u32::MAX);
                            self.buf = e.into_bytes();
                            self.report(
                                Severity::Error,
                                loc.at_col(col),
                                "line is not valid UTF-8".into(),
                                None,
                                None,
                            );
                            continue;
                        }
                    }
                }
                Err(e) => {
                    let loc = Loc {
                        file: frame.file,
                        line: frame.line,
                        col: 0,
                    };
                    self.stack.pop();
                    self.report(Severity::Error, loc, format!("read error: {e}"), None, None);
                }
            }
        }
    }

    fn process(&mut self, raw: &str, loc: Loc) {
        // 1. Continuation of a multi-line definition.
        if let Some((name, mut lines, at)) = self.defining.take() {
            let t = raw.trim();
            let t = decomment(t).unwrap_or(Cow::Borrowed(t));
            let t = t.trim_end();
            if let Some(body) = t.strip_suffix('\\') {
                lines.push(body.trim().to_string());
                self.defining = Some((name, lines, at));
            } else {
                lines.push(t.trim().to_string());
                self.macros.insert(name, Macro { lines });
            }
            return;
        }

        // 2. Trim and strip comments.
        let lead = raw.len() - raw.trim_start().len();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return;
        }
        let base = loc.at_col(u32::try_from(lead + 1).unwrap_or(u32::MAX));
        // One pass over the bytes tells which of the later steps can apply at all.
        let has = Special::scan(trimmed);
        let decommented = match if has.comment_or_quote {
            decomment(trimmed)
        } else {
            Ok(Cow::Borrowed(trimmed))
        } {
            Ok(t) => t,
            Err(col) => {
                self.report(
                    Severity::Error,
                    loc.at_col(base.col + col),
                    "unterminated double quote".into(),
                    Some(trimmed.to_string()),
                    Some("close the quote on the same line".into()),
                );
                return;
            }
        };
        let text: &str = decommented.trim_end();
        if text.is_empty() {
            return;
        }

        // 3. include lines.
        if let Some(kind) = include_kind(text).filter(|_| text.starts_with('i')) {
            self.include(kind, text, base);
            return;
        }
        if text.starts_with("include_check") && text[13..].starts_with([' ', '\t'])
            || text == "include_check"
        {
            let args: Vec<&str> = text.split_whitespace().skip(1).collect();
            let mut ic = self
                .stack
                .last()
                .map(|f| f.include_check)
                .unwrap_or_default();
            if ic.apply(&args).is_ok() {
                if let Some(f) = self.stack.last_mut() {
                    f.include_check = ic;
                }
            }
            // The keyword itself also reaches the parser, which validates it.
        }

        // 4. Conditional lines.
        let mut text = text;
        let mut base = base;
        if let Some(rest) = text.strip_prefix('@') {
            let (negate, rest) = match rest.strip_prefix('^') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let id_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let id = &rest[..id_end];
            let keep = (id == self.opts.config_id) != negate;
            if !keep {
                return;
            }
            let after = rest[id_end..].trim_start();
            let skipped = text.len() - after.len();
            base = base.at_col(base.col + u32::try_from(skipped).unwrap_or(0));
            text = after;
            if text.is_empty() {
                return;
            }
        }

        // 5. Definitions.
        if let Some(def) = text.strip_prefix('$') {
            let name_len = def
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(def.len());
            let name = &def[..name_len];
            if !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && def[name_len..].starts_with('=')
            {
                let value = def[name_len + 1..].trim();
                if value.is_empty() || value == "\\" {
                    self.defining = Some((name.to_string(), Vec::new(), base));
                } else {
                    self.macros.insert(
                        name.to_string(),
                        Macro {
                            lines: vec![value.to_string()],
                        },
                    );
                }
                return;
            }
        }

        // 6. Expansion.
        let expanded: Cow<'_, str> = if has.dollar && text.contains('$') {
            self.in_repeat = text.contains("~SEQ") || text.contains("~LST");
            let r = self.expand(text, 0);
            self.in_repeat = false;
            match r {
                Ok(t) => Cow::Owned(t),
                Err(msg) => {
                    self.report(Severity::Error, base, msg, Some(text.to_string()), None);
                    return;
                }
            }
        } else {
            Cow::Borrowed(text)
        };

        // 7. Repetition, then 8-9 for every resulting line.
        if (has.tilde || has.dollar) && (expanded.contains("~SEQ") || expanded.contains("~LST")) {
            let mut out = Vec::new();
            if let Err(msg) = self.repeat(&expanded, &mut out, 0) {
                self.report(Severity::Error, base, msg, Some(expanded.to_string()), None);
                return;
            }
            for l in out {
                for sub in l.split('\n') {
                    self.split_braces(sub, base);
                }
            }
        } else if expanded.contains('\n') {
            for sub in expanded.split('\n') {
                self.split_braces(sub, base);
            }
        } else {
            self.split_braces(&expanded, base);
        }
    }

    /// Expands `$NAME` and `${NAME}` (and the predefined `${_X}`) in `text`.
    fn expand(&mut self, text: &str, depth: usize) -> Result<String, String> {
        if depth > MAX_MACRO_DEPTH {
            return Err(format!(
                "macro expansion nested more than {MAX_MACRO_DEPTH} deep (a definition that uses itself?)"
            ));
        }
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(close) = inner.find('}') {
                    let body = &inner[..close];
                    if let Some(v) = self.lookup(body) {
                        out.push_str(&v);
                        changed = true;
                        rest = &inner[close + 1..];
                        continue;
                    }
                    if !self.in_repeat {
                        return Err(format!("'${{{body}}}' is not defined"));
                    }
                }
                out.push('$');
                rest = after;
                continue;
            }
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            let follows_ok =
                after[name_len..].is_empty() || after[name_len..].starts_with(char::is_whitespace);
            if !name.is_empty() && follows_ok {
                if let Some(m) = self.macros.get(name) {
                    out.push_str(&m.lines.join("\n"));
                    changed = true;
                    rest = &after[name_len..];
                    continue;
                }
            }
            out.push('$');
            rest = after;
            if out.len() > MAX_EXPANDED {
                break;
            }
        }
        out.push_str(rest);
        if out.len() > MAX_EXPANDED {
            return Err(format!("macro expansion longer than {MAX_EXPANDED} bytes"));
        }
        if changed && out.contains('$') {
            return self.expand(&out, depth + 1);
        }
        Ok(out)
    }

    fn lookup(&mut self, body: &str) -> Option<String> {
        let mut words = body.split_whitespace();
        let name = words.next()?;
        match name {
            "_PWD" => Some(
                self.stack
                    .last()
                    .map(|f| f.dir.display().to_string())
                    .unwrap_or_default(),
            ),
            "_INSTANCE" => Some(self.opts.instance.clone()),
            "_HASH" => Some("#".into()),
            "_BANG" => Some("!".into()),
            "_ENV" => {
                let var = words.next()?;
                Some(std::env::var(var).unwrap_or_default())
            }
            "_RANDOM" => {
                let min: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                let span = u64::try_from(hi - lo).unwrap_or(0).saturating_add(1);
                let v = lo + i64::try_from(self.rand() % span).unwrap_or(0);
                Some(v.to_string())
            }
            _ if body.contains(char::is_whitespace) => None,
            _ => self.macros.get(name).map(|m| m.lines.join("\n")),
        }
    }

    /// Expands the first `~SEQ`/`~SEQx`/`~LST` of `line` into `out`, recursively.
    fn repeat(&mut self, line: &str, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
        if depth > 8 {
            return Err("~SEQ/~LST nested more than 8 deep".into());
        }
        let Some(pos) = find_repeat(line) else {
            out.push(line.to_string());
            return Ok(());
        };
        let prefix = &line[..pos];
        let after = &line[pos + 1..];
        let (kind, after) = if let Some(a) = after.strip_prefix("SEQx(") {
            ("SEQx", a)
        } else if let Some(a) = after.strip_prefix("SEQ(") {
            ("SEQ", a)
        } else if let Some(a) = after.strip_prefix("LST(") {
            ("LST", a)
        } else {
            out.push(line.to_string());
            return Ok(());
        };
        let close = matching_paren(after).ok_or_else(|| format!("~{kind}( has no closing ')'"))?;
        let args = &after[..close];
        let body = after[close + 1..].trim_start();
        // Each iteration: a list of (variable, value) bindings.
        let iterations: Vec<Vec<(String, String)>> = match kind {
            "LST" => lst_iterations(args)?,
            _ => seq_iterations(args, kind == "SEQx")?,
        };
        for binds in iterations {
            if out.len() >= MAX_REPEAT {
                return Err(format!("~{kind} produces more than {MAX_REPEAT} lines"));
            }
            let saved: Vec<(String, Option<Macro>)> = binds
                .iter()
                .map(|(n, v)| {
                    let old = self.macros.insert(
                        n.clone(),
                        Macro {
                            lines: vec![v.clone()],
                        },
                    );
                    (n.clone(), old)
                })
                .collect();
            let text = format!("{prefix}{body}");
            self.in_repeat = find_repeat(&text).is_some();
            let expanded = self.expand(&text, 0);
            self.in_repeat = false;
            let res = expanded.and_then(|t| self.repeat(&t, out, depth + 1));
            for (n, old) in saved {
                match old {
                    Some(m) => self.macros.insert(n, m),
                    None => self.macros.remove(&n),
                };
            }
            res?;
        }
        Ok(())
    }

    /// Splits `{` and `}` outside double quotes into their own lines and tokenizes the rest.
    fn split_braces(&mut self, text: &str, base: Loc) {
        if !text.as_bytes().iter().any(|&b| b == b'{' || b == b'}') {
            self.emit(text, 0, base);
            return;
        }
        let mut in_q = false;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            match c {
                '"' => in_q = !in_q,
                '{' | '}' if !in_q => {
                    self.emit(&text[start..i], start, base);
                    self.emit(&text[i..i + 1], i, base);
                    start = i + 1;
                }
                _ => {}
            }
        }
        self.emit(&text[start..], start, base);
    }

    fn emit(&mut self, piece: &str, offset: usize, base: Loc) {
        let lead = piece.len() - piece.trim_start().len();
        let t = piece.trim();
        if t.is_empty() {
            return;
        }
        let col = base.col + u32::try_from(offset + lead).unwrap_or(0);
        let loc = base.at_col(col);
        if t == "{" || t == "}" {
            self.pending.push_back(Line {
                loc,
                text: t.to_string(),
                toks: Toks::default(),
            });
            return;
        }
        let (text, toks) = match tokenize(t, col) {
            Ok(x) => x,
            Err(c) => {
                self.report(
                    Severity::Error,
                    loc.at_col(c),
                    "unmatched double quote".into(),
                    Some(t.to_string()),
                    Some("a quoted token must close on the same line".into()),
                );
                return;
            }
        };
        self.pending.push_back(Line { loc, text, toks });
    }

    fn include(&mut self, kind: &str, text: &str, base: Loc) {
        let pattern = text[kind.len()..].trim();
        let pattern = pattern
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or(pattern);
        let Some(frame) = self.stack.last() else {
            return;
        };
        let mut check = frame.include_check;
        match kind {
            "includer" => check.read = true,
            "includem" => check.matched = true,
            "includew" => {
                check.matched = true;
                check.wildcard_match = true;
            }
            "includeb" => check.brace_match = true,
            "includea" => check = IncludeCheck::ALL,
            _ => {}
        }
        let dir = frame.dir.clone();
        if pattern.is_empty() {
            self.report(
                Severity::Error,
                base,
                format!("'{kind}' needs a file name"),
                None,
                None,
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.report(
                Severity::Error,
                base,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
                Some(text.to_string()),
                Some("does an included file include itself?".into()),
            );
            return;
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for alt in expand_braces(pattern) {
            let full = if Path::new(&alt).is_absolute() {
                PathBuf::from(&alt)
            } else {
                dir.join(&alt)
            };
            let wildcard = alt.contains(['*', '?', '[']);
            let matches: Vec<PathBuf> = if wildcard {
                match glob::glob(&full.to_string_lossy()) {
                    Ok(paths) => {
                        let mut v: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                        v.sort();
                        v
                    }
                    Err(e) => {
                        self.report(
                            Severity::Error,
                            base,
                            format!("bad include pattern '{alt}': {e}"),
                            None,
                            None,
                        );
                        continue;
                    }
                }
            } else if full.exists() {
                vec![full.clone()]
            } else {
                Vec::new()
            };
            if matches.is_empty() {
                let must = if wildcard {
                    check.wildcard_match
                } else {
                    check.matched
                };
                let brace = check.brace_match && pattern.contains('{');
                if must || brace {
                    self.report(
                        Severity::Error,
                        base,
                        format!("included file '{}' is missing", full.display()),
                        Some(text.to_string()),
                        Some(format!("'{kind}' requires it to exist")),
                    );
                } else if !wildcard {
                    self.report(
                        Severity::Warning,
                        base,
                        format!(
                            "included file '{}' does not exist; nothing included",
                            full.display()
                        ),
                        Some(text.to_string()),
                        Some("use 'includem' to make this an error".into()),
                    );
                }
            }
            files.extend(matches.into_iter().filter(|p| !p.is_dir()));
        }
        // Push in reverse so that the first match is read first.
        for path in files.into_iter().rev() {
            let canonical = std::fs::canonicalize(&path).ok();
            if canonical.is_some() && self.stack.iter().any(|f| f.canonical == canonical) {
                self.report(
                    Severity::Error,
                    base,
                    format!("'{}' includes itself", path.display()),
                    Some(text.to_string()),
                    Some("remove the include loop".into()),
                );
                continue;
            }
            match File::open(&path) {
                Ok(f) => {
                    let id = self.files.add(path.display().to_string());
                    let d = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    let ic = self
                        .stack
                        .last()
                        .map(|f| f.include_check)
                        .unwrap_or_default();
                    self.push_frame(Box::new(BufReader::new(f)), id, d, canonical, ic);
                }
                Err(e) => {
                    let sev = Severity::Error;
                    self.report(
                        sev,
                        base,
                        format!("cannot read included file '{}': {e}", path.display()),
                        Some(text.to_string()),
                        None,
                    );
                }
            }
        }
    }
}

/// Which special characters a line holds, found in one pass.
#[derive(Debug, Clone, Copy, Default)]
struct Special {
    /// `#`, `!`, `\` or `"`: comments, escapes or quotes to handle.
    comment_or_quote: bool,
    /// `$`: macros.
    dollar: bool,
    /// `~`: sequences.
    tilde: bool,
}

impl Special {
    fn scan(line: &str) -> Special {
        let mut s = Special::default();
        for &b in line.as_bytes() {
            match b {
                b'#' | b'!' | b'\\' | b'"' => s.comment_or_quote = true,
                b'$' => s.dollar = true,
                b'~' => s.tilde = true,
                _ => {}
            }
        }
        s
    }
}

/// The include keyword a line starts with, if any.
fn include_kind(text: &str) -> Option<&'static str> {
    for k in [
        "includer", "includem", "includew", "includeb", "includea", "include",
    ] {
        if let Some(rest) = text.strip_prefix(k) {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Some(k);
            }
        }
    }
    None
}

/// Reads one line into `buf`, keeping at most `cap` bytes. `Ok(None)` at end of input;
/// `Ok(Some(true))` when the line was longer than `cap` (the rest is skipped unread).
fn read_capped_line(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<bool>> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if any { Some(too_long) } else { None });
        }
        any = true;
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..=i], true),
            None => (avail, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > cap + 2 {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(n);
        if done {
            return Ok(Some(too_long));
        }
    }
}

/// Removes a comment: `#` or `!` outside double quotes; `\#` and `\!` give the characters.
/// Returns the text (borrowed when nothing changed), or the 0-based column of an unterminated
/// double quote when the line ends inside one.
pub fn decomment(line: &str) -> Result<Cow<'_, str>, u32> {
    // Most lines have no comment and no escape: lend them out unchanged.
    if !line.contains(['#', '!', '\\']) {
        let quotes = line.bytes().filter(|&b| b == b'"').count();
        if quotes % 2 == 0 {
            return Ok(Cow::Borrowed(line));
        }
        let at = line.rfind('"').unwrap_or(0);
        return Err(u32::try_from(at).unwrap_or(0));
    }
    let mut out = String::with_capacity(line.len());
    let mut in_q = false;
    let mut q_at = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                in_q = !in_q;
                q_at = i;
                out.push(c);
            }
            '\\' if !in_q => match chars.peek() {
                Some((_, n @ ('#' | '!'))) => {
                    out.push(*n);
                    chars.next();
                }
                _ => out.push(c),
            },
            '#' | '!' if !in_q => return Ok(Cow::Owned(out)),
            _ => out.push(c),
        }
    }
    if in_q {
        return Err(u32::try_from(q_at).unwrap_or(0));
    }
    Ok(Cow::Owned(out))
}

/// Splits a logical line into tokens: white space separates; a token that starts with `"`
/// runs to the next `"` (quotes removed); a `"` inside a word ends that word.
/// Returns the text the spans refer to, or the column of an unmatched quote.
pub fn tokenize(line: &str, base_col: u32) -> Result<(String, Toks), u32> {
    let mut toks = Toks::default();
    let b = line.as_bytes();
    let mut i = 0;
    let n = b.len();
    let col = |i: usize| base_col + u32::try_from(i).unwrap_or(0);
    let off = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    while i < n {
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        if b[i] == b'"' {
            let start = i + 1;
            match b[start..].iter().position(|&c| c == b'"') {
                Some(len) => {
                    toks.push(Span {
                        start: off(start),
                        end: off(start + len),
                        col: col(i),
                    });
                    i = start + len + 1;
                }
                None => return Err(col(i)),
            }
        } else {
            let start = i;
            while i < n && !b[i].is_ascii_whitespace() && b[i] != b'"' {
                i += 1;
            }
            toks.push(Span {
                start: off(start),
                end: off(i),
                col: col(start),
            });
        }
    }
    Ok((line.to_string(), toks))
}

/// Shell-style splitting of a script line (keepalived's re-tokenising of script keywords):
/// `'` and `"` quote, adjacent pieces join, `\` escapes outside single quotes
/// (`\a \b \E \f \n \r \t \v \nnn \xHH \cC`, anything else literal).
/// Returns the words, or a message naming the problem.
pub fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            '\'' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => {
                            return Err("unterminated single quote (note: '#' and '!' start a comment even inside single quotes; use double quotes or \\#)".into());
                        }
                    }
                }
            }
            '"' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => push_escape(e, &mut chars, &mut cur),
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                have = true;
                match chars.next() {
                    Some(e) => push_escape(e, &mut chars, &mut cur),
                    None => cur.push('\\'),
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        words.push(cur);
    }
    Ok(words)
}

fn push_escape(e: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    match e {
        'a' => out.push('\x07'),
        'b' => out.push('\x08'),
        'E' => out.push('\x1b'),
        'f' => out.push('\x0c'),
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        'v' => out.push('\x0b'),
        'c' => {
            if let Some(c) = chars.next() {
                out.push(char::from((c as u8) & 0x1f));
            }
        }
        'x' => {
            let mut v = 0u32;
            let mut n = 0;
            while n < 2 {
                match chars.peek().and_then(|c| c.to_digit(16)) {
                    Some(d) => {
                        v = v * 16 + d;
                        chars.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                out.push('x');
            } else if let Some(c) = char::from_u32(v) {
                out.push(c);
            }
        }
        '0'..='7' => {
            let mut v = e.to_digit(8).unwrap_or(0);
            let mut n = 1;
            while n < 3 {
                match chars.peek().and_then(|c| c.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        chars.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            if let Some(c) = char::from_u32(v & 0xff) {
                out.push(c);
            }
        }
        other => out.push(other),
    }
}

/// Expands csh-style braces: `a{b,c}d` → `abd`, `acd`; nested braces work; an unbalanced
/// brace is kept literally.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let b = pattern.as_bytes();
    let Some(open) = b.iter().position(|&c| c == b'{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let pre = &pattern[..open];
    let post = &pattern[close + 1..];
    let mut parts = Vec::new();
    let mut s = open + 1;
    for c in commas.into_iter().chain(std::iter::once(close)) {
        parts.push(&pattern[s..c]);
        s = c + 1;
    }
    let mut out = Vec::new();
    for p in parts {
        for tail in expand_braces(&format!("{p}{post}")) {
            if out.len() >= 1024 {
                return out;
            }
            out.push(format!("{pre}{tail}"));
        }
    }
    out
}

fn find_repeat(line: &str) -> Option<usize> {
    ["~SEQx(", "~SEQ(", "~LST("]
        .iter()
        .filter_map(|p| line.find(p))
        .min()
}

fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn seq_iterations(args: &str, hex: bool) -> Result<Vec<Vec<(String, String)>>, String> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let name = parts[0].trim_start_matches('$');
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "~SEQ needs a variable name first, not '{}'",
            parts[0]
        ));
    }
    let num = |s: &str| -> Result<i64, String> {
        s.parse::<i64>()
            .map_err(|_| format!("~SEQ: '{s}' is not a number"))
    };
    let (start, step, end) = match parts.len() {
        2 => (1, 1, num(parts[1])?),
        3 => (num(parts[1])?, 1, num(parts[2])?),
        4 => (num(parts[1])?, num(parts[2])?, num(parts[3])?),
        _ => {
            return Err(
                "~SEQ takes (var, end), (var, start, end) or (var, start, step, end)".into(),
            );
        }
    };
    if step == 0 {
        return Err("~SEQ step of 0 never ends".into());
    }
    let count = (end - start) / step + 1;
    if count > i64::try_from(MAX_REPEAT).unwrap_or(i64::MAX) {
        return Err(format!("~SEQ produces more than {MAX_REPEAT} lines"));
    }
    let mut out = Vec::new();
    let mut v = start;
    while (step > 0 && v <= end) || (step < 0 && v >= end) {
        let s = if hex { format!("{v:x}") } else { v.to_string() };
        out.push(vec![(name.to_string(), s)]);
        v += step;
    }
    Ok(out)
}

/// `~LST(var, a, b, c)` or `~LST({v1,v2}, {a1,a2}, {b1,b2})`.
fn lst_iterations(args: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let items = split_top_commas(args);
    if items.len() < 2 {
        return Err("~LST needs a variable and at least one value".into());
    }
    let names: Vec<String> = match items[0].strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) => inner
            .split(',')
            .map(|s| s.trim().trim_start_matches('$').to_string())
            .collect(),
        None => vec![items[0].trim_start_matches('$').to_string()],
    };
    if names
        .iter()
        .any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(format!("~LST: bad variable name in '{}'", items[0]));
    }
    let mut out = Vec::new();
    for item in &items[1..] {
        let values: Vec<String> = match item.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => inner.split(',').map(|s| s.trim().to_string()).collect(),
            None => vec![item.to_string()],
        };
        if values.len() != names.len() {
            return Err(format!(
                "~LST: '{item}' has {} values for {} variables",
                values.len(),
                names.len()
            ));
        }
        out.push(names.iter().cloned().zip(values).collect());
    }
    Ok(out)
}

fn split_top_commas(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> (Vec<Vec<String>>, Vec<Diagnostic>) {
        lines_id(text, "")
    }

    fn lines_id(text: &str, id: &str) -> (Vec<Vec<String>>, Vec<Diagnostic>) {
        let opts = LexOptions {
            config_id: id.into(),
            ..LexOptions::default()
        };
        let mut lx = Lexer::from_str("t.conf", text, Path::new("."), opts);
        let mut out = Vec::new();
        while let Some(l) = lx.next_line() {
            if l.toks.is_empty() {
                out.push(vec![l.text.clone()]);
            } else {
                out.push(
                    (0..l.toks.len())
                        .map(|i| l.tok(i).unwrap_or("").to_string())
                        .collect(),
                );
            }
        }
        let (_, d) = lx.finish();
        (out, d)
    }

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn comments_outside_double_quotes_only() {
        let (l, d) =
            lines("router_id a # b\nsmtp_helo_name hel\\#lo ! x\nx \"a # b\"\ny 'a # b'\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            l,
            vec![
                v(&["router_id", "a"]),
                v(&["smtp_helo_name", "hel#lo"]),
                v(&["x", "a # b"]),
                v(&["y", "'a"])
            ]
        );
    }

    #[test]
    fn braces_split_into_their_own_lines_but_entries_stay_one_per_line() {
        let (l, _) = lines("virtual_ipaddress { 10.0.0.1/24 10.0.0.2/24 }\n");
        assert_eq!(
            l,
            vec![
                v(&["virtual_ipaddress"]),
                v(&["{"]),
                v(&["10.0.0.1/24", "10.0.0.2/24"]),
                v(&["}"])
            ]
        );
    }

    #[test]
    fn quote_in_the_middle_of_a_word_ends_it() {
        let (l, _) = lines("notification_email_from \"x # y\"@example.com\n");
        assert_eq!(
            l,
            vec![v(&["notification_email_from", "x # y", "@example.com"])]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error_with_column() {
        let (l, d) = lines("  router_id \"abc\n");
        assert!(l.is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].column), (1, 13));
    }

    #[test]
    fn conditional_lines_follow_the_config_id() {
        let text = "@high priority 150\n@low priority 100\n@^high weight 1\n";
        assert_eq!(lines_id(text, "high").0, vec![v(&["priority", "150"])]);
        assert_eq!(
            lines_id(text, "low").0,
            vec![v(&["priority", "100"]), v(&["weight", "1"])]
        );
    }

    #[test]
    fn macros_expand_at_use_time_and_recursively() {
        let (l, d) = lines("$A=$B x\n$B=1\nk $A\nk ${A}y\nk $C\nk ${C}\n");
        assert_eq!(
            l,
            vec![v(&["k", "1", "x"]), v(&["k", "1", "xy"]), v(&["k", "$C"])]
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 6);
        assert!(d[0].message.contains("${C}"), "{}", d[0].message);
    }

    #[test]
    fn multi_line_macros_become_several_lines() {
        let (l, _) = lines("$M=\\\n a 1 \\\n b 2\n$M\n");
        assert_eq!(l, vec![v(&["a", "1"]), v(&["b", "2"])]);
    }

    #[test]
    fn recursive_macro_is_an_error_not_a_hang() {
        let (_, d) = lines("$A=$A\nk $A\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("nested"), "{}", d[0].message);
    }

    #[test]
    fn predefined_names() {
        let (l, _) = lines("k ${_HASH} ${_BANG} ${_RANDOM 5 5}\n");
        assert_eq!(l, vec![v(&["k", "#", "!", "5"])]);
    }

    #[test]
    fn seq_and_lst_repeat_the_line() {
        let (l, d) = lines(
            "~SEQ(i, 1, 2, 5) a ${i}\n~SEQx(h, 9, 11) b $h\n~LST({x,y}, {1,2}, {3,4}) c $x $y\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            l,
            vec![
                v(&["a", "1"]),
                v(&["a", "3"]),
                v(&["a", "5"]),
                v(&["b", "9"]),
                v(&["b", "a"]),
                v(&["b", "b"]),
                v(&["c", "1", "2"]),
                v(&["c", "3", "4"])
            ]
        );
    }

    #[test]
    fn nested_seq() {
        let (l, _) = lines("~SEQ(i, 1, 2) ~LST(j, a, b) k ${i}${j}\n");
        assert_eq!(
            l,
            vec![
                v(&["k", "1a"]),
                v(&["k", "1b"]),
                v(&["k", "2a"]),
                v(&["k", "2b"])
            ]
        );
    }

    #[test]
    fn huge_seq_is_refused() {
        let (l, d) = lines("~SEQ(i, 1, 100000000) k\n");
        assert!(l.is_empty());
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn shell_words_quote_and_escape() {
        assert_eq!(
            shell_words("/bin/a 'b c' \"d\\te\" f\\ g x'y'z").expect("splits"),
            v(&["/bin/a", "b c", "d\te", "f g", "xyz"])
        );
        assert!(shell_words("'/bin/true").is_err());
    }

    #[test]
    fn braces_expand() {
        assert_eq!(expand_braces("a{b,c{d,e}}f"), v(&["abf", "acdf", "acef"]));
        assert_eq!(expand_braces("plain"), v(&["plain"]));
    }

    #[test]
    fn include_check_arguments() {
        let mut ic = IncludeCheck::default();
        ic.apply(&["read", "match"]).expect("valid");
        assert!(ic.read && ic.matched && !ic.wildcard_match);
        ic.apply(&["-read"]).expect("valid");
        assert!(!ic.read && ic.matched);
        assert!(ic.apply(&["bogus"]).is_err());
    }

    #[test]
    fn nul_and_long_lines_are_errors() {
        let long = format!("k {}\nnext 1\n", "x".repeat(MAX_LINE + 10));
        let (l, d) = lines(&long);
        assert_eq!(l, vec![v(&["next", "1"])]);
        assert_eq!(d.len(), 1);
        let (l, d) = lines("a\0b\nnext 1\n");
        assert_eq!(l, vec![v(&["next", "1"])]);
        assert_eq!(d.len(), 1);
    }
}
