//! keepalived-rs: the parent process and command-line tool.
//!
//! Without a subcommand or `-t` it runs the daemon: the parent process, which starts and
//! supervises the VRRP process, the health checker and the IPVS writer. `demo` shows VRRP
//! failover in a throwaway lab of network namespaces.

mod cli;
mod config_cmd;
mod ctl_cmd;
mod daemon;
mod demo;
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
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Status(args)) => ctl_cmd::status(args),
        Some(Command::Reload(args)) => ctl_cmd::reload(args),
        Some(Command::LogLevel(args)) => ctl_cmd::log_level(args),
        Some(Command::Events(args)) => ctl_cmd::events(args),
        None => match &cli.config_test {
            Some(log) => config_cmd::check(&cli.use_file, &cli.load, log.as_deref()),
            None => daemon::run(daemon_options(&cli)),
        },
    }
}

/// The daemon's options from the command line.
fn daemon_options(cli: &Cli) -> daemon::Options {
    let facility = match cli.log_facility {
        Some(cli::Facility::Local(n)) => keepalived_sys::syslog::Facility::Local(n),
        Some(cli::Facility::User) => keepalived_sys::syslog::Facility::User,
        Some(cli::Facility::Daemon) | None => keepalived_sys::syslog::Facility::Daemon,
    };
    let config_file = std::path::absolute(&cli.use_file).unwrap_or(cli.use_file.clone());
    daemon::Options {
        config_file,
        load: config_cmd::load_options(&cli.load),
        only_vrrp: cli.vrrp,
        only_check: cli.check,
        all: cli.all,
        dont_respawn: cli.dont_respawn,
        release_vrrp: !cli.dont_release_vrrp,
        release_ipvs: !cli.dont_release_ipvs,
        foreground: cli.dont_fork,
        log: daemon::logging::LogSettings {
            facility,
            syslog: !cli.no_syslog,
            syslog_socket: cli.syslog_socket.clone(),
            console: cli.log_console,
            level: if cli.log_detail {
                log::LevelFilter::Debug
            } else {
                log::LevelFilter::Info
            },
        },
        pidfiles: [
            cli.pid.clone(),
            cli.vrrp_pid.clone(),
            cli.checkers_pid.clone(),
            cli.ipvs_pid.clone(),
        ],
        runtime_base: cli.runtime_dir.clone(),
        namespace: cli.namespace.clone(),
        users: [
            cli.vrrp_user.clone(),
            cli.check_user.clone(),
            cli.ipvs_user.clone(),
        ],
        libexec: cli.libexec_dir.clone(),
        verify_confinement: cli.verify_confinement,
        umask: cli.umask,
        dump_conf: cli.dump_conf,
    }
}
