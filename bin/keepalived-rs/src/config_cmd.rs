//! The configuration commands: `-t` / `config check`, `config convert`, `config dump`,
//! `config keywords`.
//!
//! None of them runs anything or creates any file, except the log file that `-t=FILE` names.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use keepalived_config::{IncludeCheck, LexOptions, LoadOptions, Loaded};

use crate::cli::LoadArgs;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a failure that is not about the configuration (bad output file, ...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: the configuration has errors (keepalived's KEEPALIVED_CHK_EXIT_CONFIG).
pub const EXIT_CONFIG: u8 = 4;
/// Exit status: the configuration file cannot be read (keepalived's KEEPALIVED_EXIT_NO_CONFIG).
pub const EXIT_NO_CONFIG: u8 = 6;

/// Where the host name is read from for the default config id.
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";

/// The short host name (up to the first '.'), keepalived's default config id.
pub fn short_hostname() -> String {
    std::fs::read_to_string(HOSTNAME_FILE)
        .map(|h| short_name(&h))
        .unwrap_or_default()
}

fn short_name(host: &str) -> String {
    let host = host.trim();
    host.split('.').next().unwrap_or(host).to_string()
}

/// The load options that the command-line flags ask for.
pub fn load_options(args: &LoadArgs) -> LoadOptions {
    let mut lex = LexOptions {
        config_id: args.config_id.clone().unwrap_or_else(short_hostname),
        ..LexOptions::default()
    };
    if args.all_config {
        lex.include_check = IncludeCheck::ALL;
    }
    LoadOptions { lex }
}

/// True when the main file can be opened and is not a directory.
fn readable(path: &Path) -> bool {
    File::open(path)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| !m.is_dir())
}

/// The exit status for a loaded configuration.
fn status(loaded: &Loaded, main_readable: bool) -> u8 {
    if !main_readable {
        EXIT_NO_CONFIG
    } else if loaded.is_ok() {
        EXIT_OK
    } else {
        EXIT_CONFIG
    }
}

/// "2 errors, 1 warning in FILE (and 3 included files)".
pub fn summary(loaded: &Loaded, main: &Path) -> String {
    let errors = loaded.errors().count();
    let warnings = loaded.diagnostics.len() - errors;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut s = format!(
        "{}, {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        main.display()
    );
    let included = loaded.files.len().saturating_sub(1);
    if included > 0 {
        s.push_str(&format!(" (and {})", plural(included, "included file")));
    }
    s
}

fn write_diagnostics(out: &mut dyn Write, loaded: &Loaded) -> io::Result<()> {
    for d in &loaded.diagnostics {
        writeln!(out, "{d}")?;
    }
    Ok(())
}

/// `-t[=LOG_FILE]` and `config check`: loads, reports every diagnostic and a summary, and
/// returns 0 (no error), 4 (errors) or 6 (the main file cannot be read).
pub fn check(file: &Path, args: &LoadArgs, log: Option<&Path>) -> ExitCode {
    let main_readable = readable(file);
    let mut loaded = keepalived_config::load(file, &load_options(args));
    if main_readable {
        crate::system::check_scripts(&mut loaded, &crate::system::RealSystem::new());
        crate::system::check_runtime(&mut loaded);
        crate::system::check_ssl(&mut loaded);
    }
    let code = status(&loaded, main_readable);
    let report = |out: &mut dyn Write| -> io::Result<()> {
        write_diagnostics(out, &loaded)?;
        writeln!(out, "{}", summary(&loaded, file))?;
        out.flush()
    };
    let written = match log {
        Some(path) => File::create(path)
            .and_then(|mut f| report(&mut f))
            .map_err(|e| {
                eprintln!(
                    "keepalived-rs: cannot write the config test log '{}': {e}",
                    path.display()
                )
            }),
        None => report(&mut io::stderr().lock()).map_err(|_| ()),
    };
    match written {
        Ok(()) => ExitCode::from(code),
        Err(()) => ExitCode::from(EXIT_FAILURE),
    }
}

/// Loads for convert/dump: prints the diagnostics on stderr and returns the model only when
/// there is no error.
fn load_clean(file: &Path, args: &LoadArgs) -> Result<Loaded, ExitCode> {
    let main_readable = readable(file);
    let loaded = keepalived_config::load(file, &load_options(args));
    let code = status(&loaded, main_readable);
    let _ = write_diagnostics(&mut io::stderr().lock(), &loaded);
    if code == EXIT_OK {
        Ok(loaded)
    } else {
        eprintln!(
            "{}; nothing written (fix the errors first)",
            summary(&loaded, file)
        );
        Err(ExitCode::from(code))
    }
}

fn print_stdout(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    let res = out
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush());
    match res {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("keepalived-rs: cannot write to stdout: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `config convert`: the configuration as TOML on stdout.
pub fn convert(file: &Path, args: &LoadArgs) -> ExitCode {
    let loaded = match load_clean(file, args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    match loaded.config.to_toml() {
        Ok(t) => print_stdout(&t),
        Err(e) => {
            eprintln!("keepalived-rs: cannot express the configuration as TOML: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `config dump --json`: the normalised model as pretty JSON on stdout.
pub fn dump(file: &Path, args: &LoadArgs) -> ExitCode {
    let loaded = match load_clean(file, args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    match serde_json::to_string_pretty(&loaded.config) {
        Ok(j) => print_stdout(&j),
        Err(e) => {
            eprintln!("keepalived-rs: cannot express the configuration as JSON: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `config keywords`: the keyword status table as Markdown.
pub fn keywords() -> ExitCode {
    print_stdout(&keepalived_config::keywords::markdown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("lb1.example.com\n"), "lb1");
        assert_eq!(short_name("lb1\n"), "lb1");
        assert_eq!(short_name(""), "");
    }

    #[test]
    fn summaries_count_and_pluralise() {
        let opts = LoadOptions::default();
        let l = keepalived_config::load_str("a.conf", "global_defs {\n}\n", &opts);
        assert_eq!(
            summary(&l, Path::new("a.conf")),
            "0 errors, 0 warnings in a.conf"
        );
        let l = keepalived_config::load_str("a.conf", "bogus_keyword 1\n", &opts);
        assert!(
            summary(&l, Path::new("a.conf")).starts_with("1 error, "),
            "{}",
            summary(&l, Path::new("a.conf"))
        );
    }

    #[test]
    fn config_id_defaults_to_the_short_host_name() {
        let o = load_options(&LoadArgs {
            config_id: None,
            all_config: true,
        });
        assert_eq!(o.lex.config_id, short_hostname());
        assert_eq!(o.lex.include_check, IncludeCheck::ALL);
        let o = load_options(&LoadArgs {
            config_id: Some("lb2".into()),
            all_config: false,
        });
        assert_eq!(o.lex.config_id, "lb2");
        assert_eq!(o.lex.include_check, IncludeCheck::default());
    }
}
