//! Manual pages, written from the definitions they document so that they cannot drift:
//! keepalived-rs(8) from the clap command line, keepalived-rs.conf(5) from the prose in
//! `man/keepalived-rs.conf.5.in` and the keyword table of `keepalived_config::keywords`.
//!
//! `keepalived-rs man 8` and `keepalived-rs man 5` (a hidden subcommand) print them; the
//! packages install what they print.

use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command};
use keepalived_config::keywords::{self, Status};

/// The prose of keepalived-rs.conf(5); `@KEYWORDS@` is replaced by the keyword table.
const CONF_PROSE: &str = include_str!("man/keepalived-rs.conf.5.in");

/// The hand-written sections of keepalived-rs(8) that follow the generated OPTIONS and
/// COMMANDS.
const DAEMON_PROSE: &str = include_str!("man/keepalived-rs.8.in");

/// Escapes text for roff: backslashes, hyphens (as minus signs, so that options can be
/// searched and copied), and a leading `.` or `'` that would start a request.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// Escapes a paragraph that may span lines: each line escaped on its own.
fn esc_lines(text: &str) -> String {
    text.lines()
        .map(|l| esc(l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `.TH` line shared by both pages.
fn title(name: &str, section: u8) -> String {
    format!(
        ".TH {} {section} \"\" \"keepalived-rs {}\" \"keepalived-rs\"\n",
        esc(&name.to_uppercase()),
        env!("CARGO_PKG_VERSION")
    )
}

/// How an argument is written: `\fB\-f\fR, \fB\-\-use\-file\fR=\fIFILE\fR`.
fn arg_synopsis(a: &Arg) -> String {
    let mut forms = Vec::new();
    if let Some(s) = a.get_short() {
        forms.push(format!("\\fB\\-{}\\fR", esc(&s.to_string())));
    }
    if let Some(l) = a.get_long() {
        forms.push(format!("\\fB\\-\\-{}\\fR", esc(l)));
    }
    let mut s = forms.join(", ");
    let takes_value = matches!(a.get_action(), ArgAction::Set | ArgAction::Append);
    if takes_value {
        let name = a
            .get_value_names()
            .and_then(|v| v.first().map(|n| n.to_string()))
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
        let optional = a.get_num_args().is_some_and(|r| r.min_values() == 0);
        if a.is_positional() {
            s = format!("\\fI{}\\fR", esc(&name));
        } else if optional {
            s.push_str(&format!("[=\\fI{}\\fR]", esc(&name)));
        } else if a.get_long().is_some() {
            s.push_str(&format!("=\\fI{}\\fR", esc(&name)));
        } else {
            s.push_str(&format!(" \\fI{}\\fR", esc(&name)));
        }
    }
    s
}

/// One `.TP` entry per visible argument of `cmd`, with its help and default.
fn options(cmd: &Command) -> String {
    let mut s = String::new();
    for a in cmd.get_arguments() {
        if a.is_hide_set() {
            continue;
        }
        let help = a
            .get_long_help()
            .or_else(|| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let _ = writeln!(s, ".TP\n{}", arg_synopsis(a));
        if !help.is_empty() {
            let help = help.trim_end();
            let stop = if help.ends_with(['.', ':']) { "" } else { "." };
            let _ = writeln!(s, "{}{stop}", esc_lines(help));
        }
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() && matches!(a.get_action(), ArgAction::Set) {
            let _ = writeln!(s, "Default: \\fB{}\\fR.", esc(&defaults.join(" ")));
        }
        let values: Vec<String> = a
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() && matches!(a.get_action(), ArgAction::Set) {
            let _ = writeln!(s, "One of: {}.", esc(&values.join(", ")));
        }
    }
    s
}

/// The visible subcommands of `cmd`, depth first, each with its options.
fn commands(cmd: &Command, path: &str, out: &mut String) {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("{path} {}", sub.get_name());
        let about = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|t| t.to_string())
            .unwrap_or_default();
        if sub.has_subcommands() {
            let _ = writeln!(out, ".SS \"{}\"\n{}", esc(&name), esc_lines(&about));
            commands(sub, &name, out);
        } else {
            let _ = writeln!(out, ".SS \"{}\"\n{}", esc(&name), esc_lines(&about));
            let opts = options(sub);
            if !opts.is_empty() {
                out.push_str(&opts);
            }
        }
    }
}

/// keepalived-rs(8), from the command line definition `cmd` (the parent's `Cli`).
pub fn page8(cmd: &Command) -> String {
    // Built, so that clap's own -h/--help is listed too.
    let mut cmd = cmd.clone();
    cmd.build();
    let cmd = &cmd;
    let mut s = title("keepalived-rs", 8);
    let about = cmd.get_about().map(|t| t.to_string()).unwrap_or_default();
    let summary = about.strip_prefix("keepalived-rs: ").unwrap_or(&about);
    let _ = writeln!(
        s,
        ".SH NAME\nkeepalived\\-rs \\- {}",
        esc_lines(summary.trim_end().trim_end_matches('.'))
    );
    s.push_str(
        ".SH SYNOPSIS\n\
         .B keepalived\\-rs\n\
         [\\fIOPTION\\fR]...\n\
         .br\n\
         .B keepalived\\-rs\n\
         \\fB\\-t\\fR [\\fB\\-f\\fR \\fIFILE\\fR]\n\
         .br\n\
         .B keepalived\\-rs\n\
         \\fBconfig\\fR \\fBcheck\\fR|\\fBconvert\\fR|\\fBdump\\fR|\\fBkeywords\\fR [\\fIOPTION\\fR]...\n\
         .br\n\
         .B keepalived\\-rs\n\
         \\fBdemo\\fR [\\fIOPTION\\fR]...\n",
    );
    s.push_str(
        ".SH DESCRIPTION\n\
         \\fBkeepalived\\-rs\\fR is a privilege\\-separated reimplementation of\n\
         \\fBkeepalived\\fR(8): VRRP failover of virtual IP addresses and the kernel's IPVS\n\
         load balancer driven by health checks, configured by the \\fBkeepalived.conf\\fR(5)\n\
         you already have (see \\fBkeepalived\\-rs.conf\\fR(5) for what it reads differently).\n\
         .PP\n\
         Without a subcommand or \\fB\\-t\\fR it runs the daemon: the parent process (root)\n\
         reads the configuration and starts, as needed, \\fBkeepalived\\-rs\\-vrrp\\fR (VRRP),\n\
         \\fBkeepalived\\-rs\\-check\\fR (health checks, e\\-mail alerts) and\n\
         \\fBkeepalived\\-rs\\-ipvs\\fR (the kernel's IPVS table) from\n\
         \\fI/usr/libexec/keepalived\\-rs/\\fR, each under its own system user with only the\n\
         capabilities its job needs, and supervises them. Only the parent runs scripts.\n",
    );
    s.push_str(".SH OPTIONS\n");
    s.push_str(&options(cmd));
    s.push_str(".SH COMMANDS\n");
    commands(cmd, "keepalived-rs", &mut s);
    if let Some(after) = cmd.get_after_help() {
        let _ = writeln!(s, ".SH EXIT STATUS\n{}", esc_lines(&after.to_string()));
    }
    s.push_str(DAEMON_PROSE);
    s
}

/// keepalived-rs.conf(5): the prose with the keyword status table in place.
pub fn page5() -> String {
    let mut s = title("keepalived-rs.conf", 5);
    s.push_str(&CONF_PROSE.replace("@KEYWORDS@\n", &keyword_table()));
    s
}

/// The keyword table, one subsection per block: implemented keywords as a list, every
/// other keyword with its status and note.
fn keyword_table() -> String {
    let mut s = String::new();
    let mut block = None;
    let mut implemented: Vec<&str> = Vec::new();
    let flush = |s: &mut String, implemented: &mut Vec<&str>| {
        if !implemented.is_empty() {
            let _ = writeln!(
                s,
                ".PP\nImplemented: {}.",
                implemented
                    .iter()
                    .map(|k| format!("\\fB\\%{}\\fR", esc(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            implemented.clear();
        }
    };
    let mut others = String::new();
    for k in keywords::all() {
        if block != Some(k.block) {
            flush(&mut s, &mut implemented);
            s.push_str(&others);
            others.clear();
            block = Some(k.block);
            let _ = writeln!(s, ".SS \"{}\"", esc(k.block.name()));
        }
        let (status, note) = match k.status {
            Status::Implemented => {
                implemented.push(k.name);
                continue;
            }
            Status::Deprecated { instead } => ("deprecated", format!("read as {instead}")),
            Status::Ignored { why } => ("ignored, with a warning", why.to_string()),
            Status::Refused { feature } => ("refused", format!("not supported yet: {feature}")),
            Status::Extension { what } => (
                "keepalived-rs extension",
                format!("not a keepalived keyword: {what}"),
            ),
        };
        let _ = writeln!(
            others,
            ".TP\n\\fB\\%{}\\fR ({status})\n{}",
            esc(k.name),
            esc(&note)
        );
    }
    flush(&mut s, &mut implemented);
    s.push_str(&others);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn escaping_protects_requests_backslashes_and_hyphens() {
        assert_eq!(esc(".x"), "\\&.x");
        assert_eq!(esc("'x"), "\\&'x");
        assert_eq!(esc("a\\b-c"), "a\\eb\\-c");
    }

    #[test]
    fn page8_lists_every_visible_option_and_command() {
        let cmd = crate::cli::Cli::command();
        let page = page8(&cmd);
        assert!(page.starts_with(".TH KEEPALIVED\\-RS 8 "), "{page}");
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(l) = a.get_long() {
                assert!(
                    page.contains(&format!("\\fB\\-\\-{}\\fR", esc(l))),
                    "--{l} missing"
                );
            }
        }
        assert!(!page.contains("syslog\\-socket"), "hidden option shown");
        assert!(page.contains(".SS \"keepalived\\-rs config check\""));
        assert!(page.contains(".SS \"keepalived\\-rs demo\""));
        assert!(page.contains("\\fB\\-t\\fR, \\fB\\-\\-config\\-test\\fR[=\\fILOG_FILE\\fR]"));
        assert!(page.contains("Default: \\fB/etc/keepalived\\-rs/keepalived.conf\\fR."));
        assert!(
            !page.contains(".SS \"keepalived\\-rs man\""),
            "man is hidden"
        );
        assert!(page.contains(".SH SIGNALS"));
    }

    #[test]
    fn page5_has_every_keyword_that_is_not_implemented_with_its_status() {
        let page = page5();
        assert!(page.starts_with(".TH KEEPALIVED\\-RS.CONF 5 "));
        assert!(!page.contains("@KEYWORDS@"));
        for k in keywords::all() {
            let shown = format!("\\fB\\%{}\\fR", esc(k.name));
            assert!(page.contains(&shown), "{} missing", k.name);
            if let Status::Refused { .. } = k.status {
                assert!(page.contains(&format!("{shown} (refused)")), "{}", k.name);
            }
        }
    }
}
