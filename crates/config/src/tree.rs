//! Logical lines to a tree of keyword nodes, one top-level node at a time.
//!
//! A line followed by a `{` line opens a block; `}` closes it. Each line inside a block is
//! one entry, as in keepalived. The tree knows nothing of keywords except the root block
//! keywords, which never appear nested: meeting one inside a block means a `}` is missing,
//! and the tree closes the open blocks there (one error) instead of reading the rest of the
//! file as the inside of the unclosed block.

use crate::diag::{Diagnostic, Loc, Severity};
use crate::lexer::{Lexer, Line, Toks};

/// Keywords that only ever open a block at the top level.
pub const ROOT_BLOCKS: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_script",
    "vrrp_track_process",
    "vrrp_track_file",
    "garp_group",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "track_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "virtual_server_group",
    "virtual_server",
    "bfd_instance",
];

/// Deepest nesting of blocks kept; deeper blocks are an error and skipped.
pub const MAX_DEPTH: usize = 16;

/// One configuration entry: a keyword, its arguments, and its block if it has one.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where the keyword is.
    pub loc: Loc,
    /// The line's text (after comments and macros); the spans index into it.
    pub text: Box<str>,
    /// Token spans; the first is the keyword.
    pub toks: Toks,
    /// The block, if the line was followed by `{`.
    pub block: Option<Vec<Node>>,
    /// Where the block's `{` was.
    pub block_loc: Loc,
}

impl Node {
    /// The keyword.
    pub fn kw(&self) -> &str {
        self.tok(0).unwrap_or("")
    }

    /// Token `i` (0 is the keyword).
    pub fn tok(&self, i: usize) -> Option<&str> {
        self.toks
            .get(i)
            .map(|s| &self.text[s.start as usize..s.end as usize])
    }

    /// Argument `i` (0 is the first word after the keyword).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.tok(i + 1)
    }

    /// The number of arguments after the keyword.
    pub fn nargs(&self) -> usize {
        self.toks.len().saturating_sub(1)
    }

    /// All arguments.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        (1..self.toks.len()).filter_map(|i| self.tok(i))
    }

    /// All tokens including the keyword (for list entries, where the first word is data).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        (0..self.toks.len()).filter_map(|i| self.tok(i))
    }

    /// Location of token `i` (0 is the keyword); the line's location if there is no such token.
    pub fn tok_loc(&self, i: usize) -> Loc {
        match self.toks.get(i) {
            Some(s) => self.loc.at_col(s.col),
            None => self.loc,
        }
    }

    /// Location of argument `i`.
    pub fn arg_loc(&self, i: usize) -> Loc {
        self.tok_loc(i + 1)
    }

    /// The raw text after the keyword (for the shell-style re-tokenising of script keywords).
    pub fn rest(&self) -> &str {
        match self.toks.first() {
            Some(s) => self.text[s.end as usize..].trim_start_matches('"').trim(),
            None => "",
        }
    }

    /// The raw text after the keyword, exactly as written (quotes kept).
    pub fn rest_raw(&self) -> &str {
        match self.toks.first() {
            Some(s) => {
                // A quoted keyword token ends before its closing quote.
                let end = s.end as usize;
                let end = if self.text[end..].starts_with('"') {
                    end + 1
                } else {
                    end
                };
                self.text[end..].trim()
            }
            None => "",
        }
    }

    fn from_line(l: Line) -> Node {
        Node {
            loc: l.loc,
            text: l.text.into_boxed_str(),
            toks: l.toks,
            block: None,
            block_loc: Loc::default(),
        }
    }
}

struct Open {
    node: Node,
    children: Vec<Node>,
    /// False for a stray `{` with no keyword: its content is skipped.
    real: bool,
}

/// Builds top-level nodes from a lexer, one at a time.
#[derive(Debug)]
pub struct TreeBuilder {
    lexer: Lexer,
    stack: Vec<OpenDbg>,
    /// A complete top-level node waiting to see whether a `{` follows.
    waiting: Option<Node>,
    /// Complete top-level nodes ready to hand out, oldest first.
    ready: std::collections::VecDeque<Node>,
    /// True when the previous logical line was an entry that may still take a block.
    last_can_open: bool,
    diags: Vec<Diagnostic>,
    done: bool,
}

/// Debug wrapper so that `TreeBuilder` can derive `Debug` cheaply.
struct OpenDbg(Open);

impl std::fmt::Debug for OpenDbg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.node.kw())
    }
}

impl TreeBuilder {
    /// Starts building from `lexer`.
    pub fn new(lexer: Lexer) -> TreeBuilder {
        TreeBuilder {
            lexer,
            stack: Vec::new(),
            waiting: None,
            ready: Default::default(),
            last_can_open: false,
            diags: Vec::new(),
            done: false,
        }
    }

    /// The lexer, for its file table.
    pub fn lexer(&self) -> &Lexer {
        &self.lexer
    }

    /// Takes the diagnostics of the lexer and the tree so far.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        let mut d = self.lexer.take_diagnostics();
        d.append(&mut self.diags);
        d
    }

    /// Ends building: the file table and the remaining diagnostics.
    pub fn finish(mut self) -> (crate::source::Files, Vec<Diagnostic>) {
        let mut tree = std::mem::take(&mut self.diags);
        let (files, mut lex) = self.lexer.finish();
        lex.append(&mut tree);
        (files, lex)
    }

    fn error(&mut self, loc: Loc, msg: String, text: Option<String>, hint: Option<String>) {
        if self.diags.len() >= crate::lexer::MAX_DIAGNOSTICS {
            return;
        }
        let d = self
            .lexer
            .files()
            .diag(Severity::Error, loc, msg, text, hint);
        self.diags.push(d);
    }

    /// The next complete top-level node, or `None` at the end.
    pub fn next_node(&mut self) -> Option<Node> {
        loop {
            if let Some(n) = self.ready.pop_front() {
                return Some(n);
            }
            if self.done {
                return self.waiting.take();
            }
            let Some(line) = self.lexer.next_line() else {
                self.done = true;
                self.close_all_at_eof();
                continue;
            };
            if line.is_brace('{') {
                self.open(line.loc);
                continue;
            }
            if line.is_brace('}') {
                self.close(line.loc);
                continue;
            }
            // An entry line.
            let kw = line.tok(0).unwrap_or("");
            if !self.stack.is_empty() && ROOT_BLOCKS.contains(&kw) {
                let inner = self
                    .stack
                    .iter()
                    .rev()
                    .find(|o| o.0.real)
                    .map(|o| (o.0.node.kw().to_string(), o.0.node.loc));
                if let Some((name, at)) = inner {
                    let outer = self
                        .stack
                        .iter()
                        .find(|o| o.0.real)
                        .map(|o| o.0.node.loc)
                        .unwrap_or(at);
                    self.error(
                        outer,
                        format!("block '{name}' opened at line {} is not closed", at.line),
                        None,
                        Some(format!(
                            "add the missing '}}' before line {} ('{kw}')",
                            line.loc.line
                        )),
                    );
                }
                while !self.stack.is_empty() {
                    self.close_inner();
                }
                let node = Node::from_line(line);
                self.last_can_open = true;
                self.ready.extend(self.waiting.replace(node));
                continue;
            }
            let node = Node::from_line(line);
            self.last_can_open = true;
            match self.stack.last_mut() {
                Some(top) => top.0.children.push(node),
                None => {
                    if let Some(prev) = self.waiting.replace(node) {
                        return Some(prev);
                    }
                }
            }
        }
    }

    fn open(&mut self, loc: Loc) {
        let can = self.last_can_open;
        self.last_can_open = false;
        let target = if can {
            match self.stack.last_mut() {
                Some(top) => top.0.children.pop(),
                None => self.waiting.take(),
            }
        } else {
            None
        };
        if self.stack.len() >= MAX_DEPTH {
            if self.stack.last().is_some_and(|o| o.0.real) {
                self.error(
                    loc,
                    format!("blocks nested more than {MAX_DEPTH} deep"),
                    None,
                    Some("no keepalived block nests this deep; look for a missing '}'".into()),
                );
            }
            let stray = Node {
                loc,
                text: "{".into(),
                toks: Toks::default(),
                block: None,
                block_loc: loc,
            };
            self.stack.push(OpenDbg(Open {
                node: stray,
                children: Vec::new(),
                real: false,
            }));
            return;
        }
        match target {
            Some(mut node) => {
                node.block_loc = loc;
                self.stack.push(OpenDbg(Open {
                    node,
                    children: Vec::new(),
                    real: true,
                }));
            }
            None => {
                self.error(
                    loc,
                    "unexpected '{' with no keyword before it".into(),
                    None,
                    Some("a block opens on the line of its keyword or the line after; its content is ignored".into()),
                );
                let stray = Node {
                    loc,
                    text: "{".into(),
                    toks: Toks::default(),
                    block: None,
                    block_loc: loc,
                };
                self.stack.push(OpenDbg(Open {
                    node: stray,
                    children: Vec::new(),
                    real: false,
                }));
            }
        }
    }

    /// Closes the innermost block; returns a node when that completes a top-level entry
    /// that is ready to hand out.
    fn close(&mut self, loc: Loc) {
        self.last_can_open = false;
        if self.stack.is_empty() {
            self.error(
                loc,
                "extra '}' with no open block".into(),
                None,
                Some("remove it, or look for a missing '{' above".into()),
            );
            return;
        }
        self.close_inner();
    }

    fn close_inner(&mut self) {
        let Some(OpenDbg(open)) = self.stack.pop() else {
            return;
        };
        if !open.real {
            return;
        }
        let mut node = open.node;
        node.block = Some(open.children);
        match self.stack.last_mut() {
            Some(top) => top.0.children.push(node),
            None => {
                // A completed top-level block; hand out what was waiting first.
                self.ready.extend(self.waiting.take());
                self.ready.push_back(node);
            }
        }
    }

    fn close_all_at_eof(&mut self) {
        if self.stack.is_empty() {
            return;
        }
        for o in self.stack.iter().filter(|o| o.0.real) {
            let d = self.lexer.files().diag(
                Severity::Error,
                o.0.node.loc,
                format!("block '{}' is never closed", o.0.node.kw()),
                None,
                Some("add the missing '}'".into()),
            );
            self.diags.push(d);
        }
        while !self.stack.is_empty() {
            self.close_inner();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::LexOptions;
    use std::path::Path;

    fn build(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
        let lx = Lexer::from_str("t.conf", text, Path::new("."), LexOptions::default());
        let mut tb = TreeBuilder::new(lx);
        let mut out = Vec::new();
        while let Some(n) = tb.next_node() {
            out.push(n);
        }
        let (_, d) = tb.finish();
        (out, d)
    }

    fn shape(n: &Node) -> String {
        let mut s = n.words().collect::<Vec<_>>().join(" ");
        if let Some(b) = &n.block {
            s.push_str(" {");
            for c in b {
                s.push(' ');
                s.push_str(&shape(c));
                s.push(';');
            }
            s.push_str(" }");
        }
        s
    }

    #[test]
    fn blocks_on_same_and_next_line() {
        let (n, d) = build("a x {\n b 1\n}\nc\n{\n d\n}\ne 2\n");
        assert!(d.is_empty(), "{d:?}");
        let s: Vec<String> = n.iter().map(shape).collect();
        assert_eq!(s, vec!["a x { b 1; }", "c { d; }", "e 2"]);
    }

    #[test]
    fn inline_block() {
        let (n, _) = build("a { b c }\n");
        assert_eq!(shape(&n[0]), "a { b c; }");
    }

    #[test]
    fn extra_close_and_stray_open() {
        let (n, d) = build("a 1\n}\nb {\n}\n\n{\n x\n}\nc\n");
        let s: Vec<String> = n.iter().map(shape).collect();
        assert_eq!(s, vec!["a 1", "b { }", "c"]);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].line, 2);
        assert_eq!(d[1].line, 6);
    }

    #[test]
    fn missing_close_before_root_block_recovers() {
        let (n, d) = build("vrrp_instance A {\n priority 1\nvrrp_instance B {\n priority 2\n}\n");
        let s: Vec<String> = n.iter().map(shape).collect();
        assert_eq!(
            s,
            vec![
                "vrrp_instance A { priority 1; }",
                "vrrp_instance B { priority 2; }"
            ]
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].line, 1);
    }

    #[test]
    fn never_closed_at_eof() {
        let (n, d) = build("a 0\nglobal_defs {\n router_id x\n");
        let s: Vec<String> = n.iter().map(shape).collect();
        assert_eq!(s, vec!["a 0", "global_defs { router_id x; }"]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 2);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = format!("{}{}b\n", "a {\n".repeat(10_000), "}\n".repeat(10_000));
        let (n, d) = build(&text);
        assert_eq!(n.len(), 2);
        assert_eq!(d.len(), 1, "{d:?}");
    }
}
