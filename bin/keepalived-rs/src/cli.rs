//! The command line: keepalived's flags (KEEPALIVED-REFERENCE.md 1.6) plus the `config`
//! and `demo` subcommands.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// The configuration file read when `-f` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived-rs/keepalived.conf";

/// keepalived-rs: VRRP failover and IPVS load balancing, privilege-separated, reading
/// keepalived.conf.
#[derive(Debug, Parser)]
#[command(
    name = "keepalived-rs",
    version,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes of -t: 0 = no error, 4 = errors, 6 = the configuration file cannot be read."
)]
pub struct Cli {
    /// Configuration file (keepalived.conf syntax, or TOML when the name ends in .toml).
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub use_file: PathBuf,

    /// Only run the VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,

    /// Only run the health-checker subsystem.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Log to the console.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,

    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,

    /// Syslog facility: 0-7, local0-local7, user or daemon.
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY", value_parser = parse_facility)]
    pub log_facility: Option<Facility>,

    /// Do not log to syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,

    /// Stay in the foreground.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,

    /// Dump the parsed configuration to the log.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,

    /// Pidfile of the parent process.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Pidfile of the VRRP process.
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,

    /// Pidfile of the checker process.
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,

    /// Check the configuration and exit; messages go to stderr, or to LOG_FILE when given
    /// (as -t=LOG_FILE or --config-test=LOG_FILE).
    #[arg(
        short = 't',
        long = "config-test",
        value_name = "LOG_FILE",
        num_args = 0..=1,
        require_equals = true
    )]
    pub config_test: Option<Option<PathBuf>>,

    #[command(flatten)]
    pub load: LoadArgs,

    /// Run in the network namespace NAME (overrides the configuration).
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,

    /// Do not respawn a child that dies: keepalived-rs stops instead.
    /// Start every child process even when the configuration has nothing for it.
    #[arg(long = "all")]
    pub all: bool,

    /// The IPVS writer's pidfile (default: in the runtime directory).
    #[arg(long = "ipvs_pid", value_name = "FILE")]
    pub ipvs_pid: Option<PathBuf>,

    /// User (and group) of the VRRP process.
    #[arg(
        long = "vrrp-user",
        value_name = "USER[:GROUP]",
        default_value = "keepalived-rs-vrrp"
    )]
    pub vrrp_user: crate::daemon::UserSpec,

    /// User (and group) of the health-checker process.
    #[arg(
        long = "check-user",
        value_name = "USER[:GROUP]",
        default_value = "keepalived-rs-check"
    )]
    pub check_user: crate::daemon::UserSpec,

    /// User (and group) of the IPVS writer.
    #[arg(
        long = "ipvs-user",
        value_name = "USER[:GROUP]",
        default_value = "keepalived-rs-ipvs"
    )]
    pub ipvs_user: crate::daemon::UserSpec,

    /// Directory holding the child executables (default: beside this program in a build
    /// tree, else /usr/libexec/keepalived-rs).
    #[arg(long = "libexec-dir", value_name = "DIR")]
    pub libexec_dir: Option<PathBuf>,

    /// Base of the runtime directories (pidfiles, dumps, control socket).
    #[arg(
        long = "runtime-dir",
        value_name = "DIR",
        default_value = "/run/keepalived-rs"
    )]
    pub runtime_dir: PathBuf,

    /// Syslog socket.
    #[arg(
        long = "syslog-socket",
        value_name = "PATH",
        default_value = "/dev/log",
        hide = true
    )]
    pub syslog_socket: PathBuf,

    /// Each child tries, after dropping its privileges, what its role must not be able to
    /// do (write a root-owned file; a raw socket; a TCP socket for the IPVS writer), logs
    /// each result, and the daemon stops if any attempt succeeds.
    #[arg(long = "verify-confinement")]
    pub verify_confinement: bool,

    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,

    /// Do not remove VIPs, routes and VMACs on stop.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,

    /// Do not remove the IPVS topology on stop.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,

    /// Drop VIPs on a transition caused by a signal (e.g. a reload).
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,

    /// File mode creation mask (numeric: 022, 0o22, 0x12 or 18).
    #[arg(short = 'u', long = "umask", value_name = "MASK", value_parser = parse_umask)]
    pub umask: Option<u32>,

    /// Print the number of the signal for SIGFUNC (STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON)
    /// and exit.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that change how the configuration is read (shared by the daemon, -t and the
/// subcommands).
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Id matched by `@id` lines (default: the short host name).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,

    /// Check every include: a missing or unreadable included file is an error.
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show VRRP failover in a throwaway lab of network namespaces (as root): two routers
    /// share a virtual IP, a client pings it, the master fails, and the client's outage is
    /// measured. Everything is removed afterwards.
    Demo(DemoArgs),
    /// Show the running daemon's state (its control socket; root only).
    Status(crate::ctl_cmd::StatusArgs),
    /// Validate the configuration, then make the running daemon reload it (exit 4 and
    /// nothing applied when it has errors).
    Reload(crate::ctl_cmd::ReloadArgs),
    /// Set the running daemon's log level, of every process or of one.
    LogLevel(crate::ctl_cmd::LogLevelArgs),
    /// Follow the running daemon's state changes, in order.
    Events(crate::ctl_cmd::EventsArgs),
}

/// `keepalived-rs demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Seconds between VRRP adverts: whole seconds (1-255) with VRRPv2, 0.01 to 40.95 with
    /// VRRPv3.
    #[arg(
        long = "advert-int",
        value_name = "SECS",
        default_value = "1",
        value_parser = crate::demo::parse_advert_int
    )]
    pub advert_int: crate::demo::AdvertInt,

    /// How the master fails: `link` sets its interface down (the backup takes over after
    /// Master_Down_Interval); `stop` stops its daemon, which sends priority 0 (the backup
    /// takes over after Skew_Time).
    #[arg(long = "fail", value_enum, default_value_t = crate::demo::FailMode::Link)]
    pub fail: crate::demo::FailMode,

    /// VRRP version of both routers.
    #[arg(
        long = "vrrp-version",
        value_name = "2|3",
        default_value_t = 2,
        value_parser = clap::value_parser!(u8).range(2..=3)
    )]
    pub vrrp_version: u8,
}

/// `keepalived-rs config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration (the same as -t).
    Check(FileArgs),
    /// Convert a configuration to TOML (on stdout).
    Convert(FileArgs),
    /// Print the normalised model as JSON (on stdout).
    Dump {
        /// JSON output (the only format; accepted for clarity).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        file: FileArgs,
    },
    /// Print the keyword status table as Markdown.
    Keywords,
}

/// The file a `config` subcommand reads, and how.
#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// Configuration file (keepalived.conf syntax, or TOML when the name ends in .toml).
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub file: PathBuf,

    #[command(flatten)]
    pub load: LoadArgs,
}

/// Short options that take their value as the next argument when it is not attached.
const SHORT_WITH_VALUE: &[char] = &['f', 'S', 'p', 'r', 'c', 'i', 's', 'u'];

/// Rewrites `-tFILE` (getopt's attached optional value, as keepalived accepts it) into
/// `-t=FILE`, the form clap understands. `-t FILE` stays two arguments, as in keepalived,
/// so a file name after a bare `-t` is never taken as the log file and overwritten.
pub fn getopt_compat<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut skip_next = false;
    let mut rest_plain = false;
    for a in args {
        if skip_next || rest_plain {
            skip_next = false;
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest_plain = true;
        } else if let Some(v) = s.strip_prefix("-t") {
            if !v.is_empty() && !v.starts_with('=') {
                out.push(format!("-t={v}").into());
                continue;
            }
        } else if let Some(c) = s.strip_prefix('-').and_then(|r| {
            let mut cs = r.chars();
            cs.next().filter(|_| cs.next().is_none())
        }) {
            skip_next = SHORT_WITH_VALUE.contains(&c);
        }
        out.push(a);
    }
    out
}

/// A syslog facility, as keepalived's -S takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    /// LOG_LOCAL0..LOG_LOCAL7 (`0`..`7` or `local0`..`local7`).
    Local(u8),
    /// LOG_USER.
    User,
    /// LOG_DAEMON.
    Daemon,
}

fn parse_facility(s: &str) -> Result<Facility, String> {
    let n = s.strip_prefix("local").unwrap_or(s);
    match (s, n.parse::<u8>()) {
        ("user", _) => Ok(Facility::User),
        ("daemon", _) => Ok(Facility::Daemon),
        (_, Ok(v)) if v <= 7 && n.len() == 1 => Ok(Facility::Local(v)),
        _ => Err("expected 0-7, local0-local7, user or daemon".into()),
    }
}

/// Parses a umask as C's strtoul with base 0 does: `0x..` hex, `0..` octal, else decimal
/// (`0o..` octal is accepted too).
fn parse_umask(s: &str) -> Result<u32, String> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = s.strip_prefix("0o") {
        (o, 8)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    match u32::from_str_radix(digits, radix) {
        Ok(v) if v <= 0o777 => Ok(v),
        Ok(_) => Err("a umask is at most 0777".into()),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

/// The signal number of a keepalived signal function name (`--signum`), as keepalived on
/// glibc prints it.
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => 15,
        "RELOAD" => 1,
        "DATA" => 10,
        "STATS" => 12,
        "STATS_CLEAR" => 63,
        "JSON" => 36,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn facilities() {
        assert_eq!(parse_facility("0"), Ok(Facility::Local(0)));
        assert_eq!(parse_facility("local7"), Ok(Facility::Local(7)));
        assert_eq!(parse_facility("user"), Ok(Facility::User));
        assert_eq!(parse_facility("daemon"), Ok(Facility::Daemon));
        assert!(parse_facility("8").is_err());
        assert!(parse_facility("local8").is_err());
        assert!(parse_facility("local").is_err());
        assert!(parse_facility("07").is_err());
        assert!(parse_facility("kern").is_err());
    }

    #[test]
    fn umasks() {
        assert_eq!(parse_umask("022"), Ok(0o22));
        assert_eq!(parse_umask("0o027"), Ok(0o27));
        assert_eq!(parse_umask("0x12"), Ok(0o22));
        assert_eq!(parse_umask("18"), Ok(0o22));
        assert_eq!(parse_umask("0"), Ok(0));
        assert!(parse_umask("01000").is_err());
        assert!(parse_umask("abc").is_err());
        assert!(parse_umask("09").is_err());
    }

    #[test]
    fn signal_numbers() {
        assert_eq!(signum("STOP"), Some(15));
        assert_eq!(signum("STATS_CLEAR"), Some(63));
        assert_eq!(signum("stop"), None);
        assert_eq!(signum("TDUMP"), None);
    }

    #[test]
    fn config_test_takes_an_optional_attached_value() {
        let c = Cli::try_parse_from(["k", "-t", "-f", "x.conf"]).expect("parses");
        assert_eq!(c.config_test, Some(None));
        assert_eq!(c.use_file, PathBuf::from("x.conf"));
        let c = Cli::try_parse_from(["k", "-t=/tmp/log", "-f", "x.conf"]).expect("parses");
        assert_eq!(c.config_test, Some(Some(PathBuf::from("/tmp/log"))));
        let c = Cli::try_parse_from(["k", "--config-test=/tmp/log"]).expect("parses");
        assert_eq!(c.config_test, Some(Some(PathBuf::from("/tmp/log"))));
        assert_eq!(c.use_file, PathBuf::from(DEFAULT_CONFIG));
        let c = Cli::try_parse_from(["k"]).expect("parses");
        assert_eq!(c.config_test, None);
    }

    #[test]
    fn attached_t_values_are_rewritten_like_getopt() {
        let args = |v: &[&str]| -> Vec<String> {
            getopt_compat(v.iter().map(std::ffi::OsString::from))
                .into_iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            args(&["k", "-t/tmp/l", "-f", "a"]),
            ["k", "-t=/tmp/l", "-f", "a"]
        );
        assert_eq!(args(&["k", "-t=/tmp/l"]), ["k", "-t=/tmp/l"]);
        assert_eq!(args(&["k", "-t", "-f", "a"]), ["k", "-t", "-f", "a"]);
        assert_eq!(args(&["k", "-f", "-tx", "-t"]), ["k", "-f", "-tx", "-t"]);
        assert_eq!(args(&["k", "--", "-tx"]), ["k", "--", "-tx"]);
        let c = Cli::try_parse_from(getopt_compat(
            ["k", "-t/tmp/log", "-f", "x.conf"].map(std::ffi::OsString::from),
        ))
        .expect("parses");
        assert_eq!(c.config_test, Some(Some(PathBuf::from("/tmp/log"))));
    }

    #[test]
    fn subcommands_take_their_own_file_and_load_options() {
        let c = Cli::try_parse_from([
            "k", "config", "dump", "--json", "-f", "a.conf", "-i", "lb1", "-e",
        ])
        .expect("parses");
        match c.command {
            Some(Command::Config(ConfigCommand::Dump { json, file })) => {
                assert!(json);
                assert_eq!(file.file, PathBuf::from("a.conf"));
                assert_eq!(file.load.config_id.as_deref(), Some("lb1"));
                assert!(file.load.all_config);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Cli::try_parse_from(["k", "-t", "config", "check"]).is_err());
    }

    #[test]
    fn demo_options() {
        let c = Cli::try_parse_from(["k", "demo"]).expect("parses");
        match c.command {
            Some(Command::Demo(d)) => {
                assert_eq!(d.advert_int, crate::demo::AdvertInt(100));
                assert_eq!(d.fail, crate::demo::FailMode::Link);
                assert_eq!(d.vrrp_version, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        let c = Cli::try_parse_from([
            "k",
            "demo",
            "--advert-int",
            "0.5",
            "--fail",
            "stop",
            "--vrrp-version",
            "3",
        ])
        .expect("parses");
        match c.command {
            Some(Command::Demo(d)) => {
                assert_eq!(d.advert_int, crate::demo::AdvertInt(50));
                assert_eq!(d.fail, crate::demo::FailMode::Stop);
                assert_eq!(d.vrrp_version, 3);
            }
            other => panic!("unexpected {other:?}"),
        }
        for bad in [
            &["k", "demo", "--fail", "crash"][..],
            &["k", "demo", "--vrrp-version", "4"],
            &["k", "demo", "--advert-int", "0"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_and_long_flags() {
        let c = Cli::try_parse_from([
            "k", "-P", "-C", "-l", "-D", "-S", "local3", "-G", "-n", "-d", "-p", "/run/p", "-r",
            "/run/r", "-c", "/run/c", "-i", "lb1", "-s", "ns1", "-R", "-V", "-I", "-X", "-e", "-u",
            "022",
        ])
        .expect("parses");
        assert!(c.vrrp && c.check && c.log_console && c.log_detail && c.no_syslog);
        assert!(c.dont_fork && c.dump_conf && c.dont_respawn && c.dont_release_vrrp);
        assert!(c.dont_release_ipvs && c.release_vips && c.load.all_config);
        assert_eq!(c.log_facility, Some(Facility::Local(3)));
        assert_eq!(c.umask, Some(0o22));
        assert_eq!(c.namespace.as_deref(), Some("ns1"));
        let c = Cli::try_parse_from([
            "k",
            "--vrrp",
            "--check",
            "--log-console",
            "--log-detail",
            "--log-facility=daemon",
            "--no-syslog",
            "--dont-fork",
            "--dump-conf",
            "--pid=/run/p",
            "--vrrp_pid=/run/r",
            "--checkers_pid=/run/c",
            "--config-id=lb1",
            "--namespace=ns1",
            "--dont-respawn",
            "--dont-release-vrrp",
            "--dont-release-ipvs",
            "--release-vips",
            "--all-config",
            "--umask=077",
            "--use-file=/x.conf",
        ])
        .expect("parses");
        assert_eq!(c.log_facility, Some(Facility::Daemon));
        assert_eq!(c.pid, Some(PathBuf::from("/run/p")));
        assert_eq!(c.use_file, PathBuf::from("/x.conf"));
        assert_eq!(c.load.config_id.as_deref(), Some("lb1"));
    }
}
