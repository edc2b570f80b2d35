//! keepalived.conf and its TOML form: lexer, parser, typed model and validation.
//!
//! ```text
//!  keepalived.conf ──► Lexer ──► TreeBuilder ──► block parsers ──┐
//!  (includes, @id, $MACRO,   (one top-level      (global, vrrp,   ├─► Config ──► validate ──► Loaded
//!   ~SEQ, comments, quotes)   node at a time)     lvs modules)    │
//!  keepalived.toml ──────────────── serde (deny_unknown_fields) ──┘
//! ```
//!
//! Every problem becomes a [`Diagnostic`] with file, line, column, the offending text and a
//! hint; loading never stops at the first one and never panics. [`Loaded::is_ok`] is false
//! when any error was found: keepalived-rs runs nothing in that case.
//!
//! The only I/O is reading the configuration files themselves.

pub mod addr;
pub mod cx;
pub mod diag;
pub mod global;
pub mod keywords;
pub mod lexer;
pub mod lvs;
pub mod project;
pub mod scripts;
pub mod source;
pub mod tree;
pub mod types;
pub mod vrrp;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use diag::{Diagnostic, Severity};
pub use lexer::{IncludeCheck, LexOptions};
pub use types::{Pos, Script, Timer};

use cx::Cx;
use keywords::Block;
use tree::{Node, TreeBuilder};

/// The whole configuration, as understood.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Top-level settings that sit outside global_defs.
    #[serde(default)]
    pub root: RootSettings,
    /// `global_defs` (several blocks are merged, later values win).
    #[serde(default)]
    pub global_defs: global::GlobalDefs,
    /// `vrrp_script` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp_scripts: Vec<vrrp::VrrpScript>,
    /// Top-level `track_file` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<vrrp::TrackFile>,
    /// `vrrp_track_process` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp_track_processes: Vec<vrrp::TrackProcess>,
    /// `garp_group` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub garp_groups: Vec<vrrp::GarpGroup>,
    /// `vrrp_sync_group` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp_sync_groups: Vec<vrrp::SyncGroup>,
    /// `vrrp_instance` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp_instances: Vec<vrrp::VrrpInstance>,
    /// `static_ipaddress` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_ipaddress: Vec<addr::IpAddress>,
    /// `static_routes` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<addr::Route>,
    /// `static_rules` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<addr::Rule>,
    /// The `SSL` block used by SSL_GET checkers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<lvs::Ssl>,
    /// `virtual_server_group` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_server_groups: Vec<lvs::VirtualServerGroup>,
    /// `virtual_server` blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_servers: Vec<lvs::VirtualServer>,
}

/// Top-level scalar keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootSettings {
    /// `instance NAME`: keeps this daemon's runtime files apart from other daemons'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `net_namespace NAME`: run in the network namespace /run/netns/NAME (runtime files are
    /// kept apart per namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_namespace: Option<String>,
    /// `use_pid_dir`: pidfiles under /run/keepalived-rs/.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_pid_dir: bool,
    /// `child_wait_time SECS`: how long a stop waits for the children (default 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_wait_time: Option<Timer>,
}

/// How to load a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Lexer settings (config id for `@` lines, include checks, instance, random seed).
    pub lex: LexOptions,
}

/// The result of loading: the model and every diagnostic.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What was understood (incomplete when there are errors).
    pub config: Config,
    /// Every problem found, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read, in order (the main file first).
    pub files: Vec<String>,
}

impl Loaded {
    /// True when no error was found (warnings allowed).
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// Loads a configuration file: TOML when its name ends in `.toml`, keepalived.conf otherwise.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    if path.extension().is_some_and(|e| e == "toml") {
        match std::fs::read_to_string(path) {
            Ok(text) => load_toml(&path.display().to_string(), &text),
            Err(e) => Loaded {
                config: Config::default(),
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    file: path.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read configuration file: {e}"),
                    text: None,
                    hint: None,
                }],
                files: vec![path.display().to_string()],
            },
        }
    } else {
        load_conf(lexer::Lexer::open(path, opts.lex.clone()))
    }
}

/// Loads keepalived.conf text (includes are relative to the current directory).
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Loaded {
    load_conf(lexer::Lexer::from_str(
        name,
        text,
        Path::new("."),
        opts.lex.clone(),
    ))
}

fn load_conf(lexer: lexer::Lexer) -> Loaded {
    let mut tb = TreeBuilder::new(lexer);
    let mut cx = Cx::new();
    let mut config = Config::default();
    while let Some(node) = tb.next_node() {
        if cx.is_full() {
            break;
        }
        parse_root(&mut cx, &node, &mut config);
    }
    let (files, mut diags) = tb.finish();
    validate(&mut cx, &config);
    diags.extend(cx.finish(&files));
    sort_diagnostics(&mut diags, &files);
    Loaded {
        config,
        diagnostics: diags,
        files: files.names().to_vec(),
    }
}

fn sort_diagnostics(diags: &mut [Diagnostic], files: &source::Files) {
    let order = |d: &Diagnostic| {
        files
            .names()
            .iter()
            .position(|n| *n == d.file)
            .unwrap_or(usize::MAX)
    };
    // Problems without a line (found after parsing) come after those of their file.
    diags.sort_by_key(|d| (order(d), d.line == 0, d.line, d.column));
}

/// Loads the TOML form.
pub fn load_toml(name: &str, text: &str) -> Loaded {
    let mut diagnostics = Vec::new();
    let config = match toml::from_str::<Config>(text) {
        Ok(c) => c,
        Err(e) => {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                file: name.to_string(),
                line,
                column,
                message: e.message().to_string(),
                text: text
                    .lines()
                    .nth(line.saturating_sub(1) as usize)
                    .map(str::to_string)
                    .filter(|_| line > 0),
                hint: None,
            });
            Config::default()
        }
    };
    let mut files = source::Files::default();
    files.add(name.to_string());
    if diagnostics.is_empty() {
        let mut cx = Cx::new();
        validate(&mut cx, &config);
        diagnostics.extend(cx.finish(&files));
    }
    Loaded {
        config,
        diagnostics,
        files: files.names().to_vec(),
    }
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (
        u32::try_from(line).unwrap_or(0),
        u32::try_from(col).unwrap_or(0),
    )
}

impl Config {
    /// Forgets where each keyword was written (kept only to report problems while the
    /// configuration is checked): a daemon holding a loaded configuration for its whole life
    /// has no use for them, and with a thousand instances they are a noticeable part of its
    /// memory.
    pub fn forget_keyword_positions(&mut self) {
        let clear = |k: &mut types::KeywordPositions| *k = types::KeywordPositions::default();
        for i in &mut self.vrrp_instances {
            clear(&mut i.kw_pos);
            if let Some(a) = &mut i.authentication {
                clear(&mut a.kw_pos);
            }
        }
        for g in &mut self.vrrp_sync_groups {
            clear(&mut g.kw_pos);
        }
        for s in &mut self.vrrp_scripts {
            clear(&mut s.kw_pos);
        }
        for t in &mut self.track_files {
            clear(&mut t.kw_pos);
        }
        for t in &mut self.vrrp_track_processes {
            clear(&mut t.kw_pos);
        }
    }

    /// Every script the configuration may run, in file order of their blocks: global scripts,
    /// vrrp_script, sync-group and instance notify scripts, quorum scripts, real-server notify
    /// scripts and MISC_CHECK programs.
    pub fn scripts(&self) -> Vec<&Script> {
        let mut out: Vec<&Script> = self.global_defs.scripts().map(|(_, s)| s).collect();
        out.extend(self.vrrp_scripts.iter().filter_map(|s| s.script.as_ref()));
        for g in &self.vrrp_sync_groups {
            out.extend(
                [
                    g.notify_master.as_deref(),
                    g.notify_backup.as_deref(),
                    g.notify_fault.as_deref(),
                    g.notify_stop.as_deref(),
                    g.notify.as_deref(),
                ]
                .into_iter()
                .flatten(),
            );
        }
        for i in &self.vrrp_instances {
            out.extend(
                [
                    i.notify_master.as_deref(),
                    i.notify_backup.as_deref(),
                    i.notify_fault.as_deref(),
                    i.notify_stop.as_deref(),
                    i.notify.as_deref(),
                    i.notify_master_rx_lower_pri.as_deref(),
                ]
                .into_iter()
                .flatten(),
            );
            out.extend(i.notify_deleted.as_ref().and_then(|d| d.script.as_ref()));
        }
        for vs in &self.virtual_servers {
            out.extend(
                [vs.quorum_up.as_deref(), vs.quorum_down.as_deref()]
                    .into_iter()
                    .flatten(),
            );
            for rs in &vs.real_servers {
                out.extend(
                    [rs.notify_up.as_deref(), rs.notify_down.as_deref()]
                        .into_iter()
                        .flatten(),
                );
                out.extend(rs.checkers.iter().filter_map(|c| match c {
                    lvs::Checker::MiscCheck(m) => m.misc_path.as_ref(),
                    _ => None,
                }));
            }
        }
        out
    }

    /// Calls `f` on every script of the configuration (the same set as [`Config::scripts`]).
    pub fn for_each_script_mut(&mut self, mut f: impl FnMut(&mut Script)) {
        let g = &mut self.global_defs;
        for s in [
            &mut g.startup_script,
            &mut g.shutdown_script,
            &mut g.notify_fifo_script,
            &mut g.vrrp_notify_fifo_script,
            &mut g.lvs_notify_fifo_script,
        ]
        .into_iter()
        .flatten()
        {
            f(s);
        }
        for s in self
            .vrrp_scripts
            .iter_mut()
            .filter_map(|s| s.script.as_mut())
        {
            f(s);
        }
        for g in &mut self.vrrp_sync_groups {
            for s in [
                &mut g.notify_master,
                &mut g.notify_backup,
                &mut g.notify_fault,
                &mut g.notify_stop,
                &mut g.notify,
            ]
            .into_iter()
            .flatten()
            {
                f(s);
            }
        }
        for i in &mut self.vrrp_instances {
            for s in [
                &mut i.notify_master,
                &mut i.notify_backup,
                &mut i.notify_fault,
                &mut i.notify_stop,
                &mut i.notify,
                &mut i.notify_master_rx_lower_pri,
            ]
            .into_iter()
            .flatten()
            {
                f(s);
            }
            if let Some(s) = i.notify_deleted.as_mut().and_then(|d| d.script.as_mut()) {
                f(s);
            }
        }
        for vs in &mut self.virtual_servers {
            for s in [vs.quorum_up.as_deref_mut(), vs.quorum_down.as_deref_mut()]
                .into_iter()
                .flatten()
            {
                f(s);
            }
            for rs in &mut vs.real_servers {
                for s in [rs.notify_up.as_deref_mut(), rs.notify_down.as_deref_mut()]
                    .into_iter()
                    .flatten()
                {
                    f(s);
                }
                for c in &mut rs.checkers {
                    if let lvs::Checker::MiscCheck(m) = c {
                        if let Some(s) = m.misc_path.as_mut() {
                            f(s);
                        }
                    }
                }
            }
        }
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| e.to_string())
    }
}

/// Reads one top-level node into the model.
fn parse_root(cx: &mut Cx, node: &Node, config: &mut Config) {
    cx.dispatch(Block::Root, std::slice::from_ref(node), |cx, n| {
        match n.kw() {
            "global_defs" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    global::parse_global_defs(cx, b, &mut config.global_defs);
                }
            }
            "vrrp_instance" => config.vrrp_instances.extend(vrrp::parse_instance(cx, n)),
            "vrrp_sync_group" => config
                .vrrp_sync_groups
                .extend(vrrp::parse_sync_group(cx, n)),
            "vrrp_script" => config.vrrp_scripts.extend(vrrp::parse_script(cx, n)),
            "track_file" | "vrrp_track_file" => {
                config.track_files.extend(vrrp::parse_track_file(cx, n))
            }
            "vrrp_track_process" => config
                .vrrp_track_processes
                .extend(vrrp::parse_track_process(cx, n)),
            "garp_group" => config.garp_groups.extend(vrrp::parse_garp_group(cx, n)),
            "static_ipaddress" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    config.static_ipaddress.extend(addr::parse_address_list(
                        cx,
                        b,
                        addr::AddressUse::Static,
                    ));
                }
            }
            "static_routes" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    config.static_routes.extend(addr::parse_route_list(
                        cx,
                        b,
                        addr::AddressUse::Static,
                    ));
                }
            }
            "static_rules" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    config.static_rules.extend(addr::parse_rule_list(
                        cx,
                        b,
                        addr::AddressUse::Static,
                    ));
                }
            }
            "SSL" => {
                if let Some(b) = cx.block_args(n, 0, 0) {
                    if config.ssl.is_some() {
                        cx.err_hint(
                            n,
                            "a second SSL block",
                            "keepalived replaces the first one with it; merge them",
                        );
                    }
                    let mut ssl = lvs::parse_ssl(cx, b);
                    ssl.lines.head(n);
                    config.ssl = Some(ssl);
                }
            }
            "virtual_server_group" => config
                .virtual_server_groups
                .extend(lvs::parse_virtual_server_group(cx, n)),
            "virtual_server" => config
                .virtual_servers
                .extend(lvs::parse_virtual_server(cx, n)),
            "use_pid_dir" => {
                if cx.flag_kw(n) {
                    config.root.use_pid_dir = true;
                }
            }
            "net_namespace" => {
                if let Some(s) = cx.string_kw(n) {
                    if s.contains('/') || s == "." || s == ".." {
                        cx.err_arg(
                            n,
                            0,
                            format!("'{s}' is not a namespace name"),
                            Some("give the name of a namespace under /run/netns".into()),
                        );
                    } else {
                        config.root.net_namespace = Some(s);
                    }
                }
            }
            "instance" => {
                if let Some(s) = cx.string_kw(n) {
                    config.root.instance = Some(s);
                }
            }
            "child_wait_time" => {
                if let Some(t) = cx.timer_kw(n, Timer::secs(1), Timer::secs(1000)) {
                    config.root.child_wait_time = Some(t);
                }
            }
            _ => cx.unhandled(n),
        }
    });
}

/// The semantic checks keepalived makes after parsing, plus our own.
pub fn validate(cx: &mut Cx, config: &Config) {
    global::validate(cx, config);
    vrrp::validate(cx, config);
    lvs::validate(cx, config);
}
