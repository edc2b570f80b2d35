//! keepalived-rs: the parent process and command-line tool.
//!
//! For now only the configuration commands exist (`-t`, `config ...`); the daemon arrives
//! with the process, VRRP and IPVS work.

mod cli;
mod config_cmd;
#[allow(dead_code)]
mod daemon;
mod system;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::getopt_compat(std::env::args_os()));

    if let Some(name) = &cli.signum {
        return match cli::signum(name) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("Unknown sigfunc {name}");
                ExitCode::from(config_cmd::EXIT_FAILURE)
            }
        };
    }

    match &cli.command {
        Some(Command::Config(cmd)) => match cmd {
            ConfigCommand::Check(f) => config_cmd::check(&f.file, &f.load, None),
            ConfigCommand::Convert(f) => config_cmd::convert(&f.file, &f.load),
            ConfigCommand::Dump { json: _, file } => config_cmd::dump(&file.file, &file.load),
            ConfigCommand::Keywords => config_cmd::keywords(),
        },
        None => match &cli.config_test {
            Some(log) => config_cmd::check(&cli.use_file, &cli.load, log.as_deref()),
            None => {
                eprintln!(
                    "keepalived-rs: the daemon is not built yet; only the configuration check works \
                     (keepalived-rs -t -f FILE, or keepalived-rs config check -f FILE)"
                );
                ExitCode::from(config_cmd::EXIT_FAILURE)
            }
        },
    }
}
