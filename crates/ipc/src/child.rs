//! The command line the parent gives a child: who it runs as and what it keeps.
//!
//! The parent decides every child's identity and capabilities from the configuration and
//! passes them here; the child applies them before it reads its first message.

/// A child's start-up arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChildArgs {
    /// The uid to run as.
    pub uid: u32,
    /// The gid to run as.
    pub gid: u32,
    /// Capabilities to keep, as a comma list (`net_admin,net_raw`; empty: none).
    pub caps: String,
    /// The parent's pid (the child checks it is still its parent).
    pub parent: u32,
    /// Refuse AF_INET/AF_INET6 sockets (the IPVS writer).
    pub deny_inet: bool,
    /// Log level: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    pub log_level: u8,
    /// After dropping privileges, try what the role must not be able to do, log each
    /// result, and exit with a permanent error if any succeeded.
    pub verify_confinement: bool,
}

/// A malformed child command line (the child exits with a permanent error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad child argument: {0}")]
pub struct BadChildArgs(pub String);

impl ChildArgs {
    /// The arguments, in the form [`ChildArgs::parse`] reads.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "--uid".to_string(),
            self.uid.to_string(),
            "--gid".into(),
            self.gid.to_string(),
            "--caps".into(),
            self.caps.clone(),
            "--parent".into(),
            self.parent.to_string(),
            "--log-level".into(),
            self.log_level.to_string(),
        ];
        if self.deny_inet {
            v.push("--deny-inet".into());
        }
        if self.verify_confinement {
            v.push("--verify-confinement".into());
        }
        v
    }

    /// Reads the arguments after argv[0].
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, BadChildArgs> {
        let mut a = ChildArgs::default();
        let mut seen_parent = false;
        let mut it = args.into_iter();
        while let Some(k) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .ok_or_else(|| BadChildArgs(format!("{name} needs a value")))
            };
            let num = |name: &str, v: String| {
                v.parse::<u32>()
                    .map_err(|_| BadChildArgs(format!("{name} {v}: not a number")))
            };
            match k.as_str() {
                "--uid" => a.uid = num("--uid", value("--uid")?)?,
                "--gid" => a.gid = num("--gid", value("--gid")?)?,
                "--caps" => a.caps = value("--caps")?,
                "--parent" => {
                    a.parent = num("--parent", value("--parent")?)?;
                    seen_parent = true;
                }
                "--log-level" => {
                    let v = num("--log-level", value("--log-level")?)?;
                    a.log_level = u8::try_from(v.min(5)).unwrap_or(5);
                }
                "--deny-inet" => a.deny_inet = true,
                "--verify-confinement" => a.verify_confinement = true,
                other => return Err(BadChildArgs(format!("unknown argument {other}"))),
            }
        }
        if !seen_parent {
            return Err(BadChildArgs(
                "this process is started by keepalived-rs, not by hand".into(),
            ));
        }
        if a.uid == 0 || a.gid == 0 {
            return Err(BadChildArgs(
                "a child never runs as uid or gid 0 (a process without capabilities still \
                 owns every root file)"
                    .into(),
            ));
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip_and_root_is_refused() {
        let a = ChildArgs {
            uid: 998,
            gid: 997,
            caps: "net_admin,net_raw".into(),
            parent: 42,
            deny_inet: true,
            log_level: 4,
            verify_confinement: true,
        };
        assert_eq!(ChildArgs::parse(a.to_args()), Ok(a.clone()));
        let root = ChildArgs { uid: 0, ..a };
        assert!(ChildArgs::parse(root.to_args()).is_err());
        assert!(ChildArgs::parse(Vec::<String>::new()).is_err());
        assert!(ChildArgs::parse(vec!["--bogus".to_string()]).is_err());
    }
}

/// A child after [`startup`]: confined, logging to the parent, holding its IPC socket.
#[derive(Debug)]
pub struct Started {
    /// Its arguments.
    pub args: ChildArgs,
    /// The IPC socket (fd 3).
    pub socket: std::os::unix::net::UnixStream,
}

/// What every child does first: read its arguments, install the logger on fd 2, drop to its
/// user and capabilities (before any thread exists), optionally verify that confinement,
/// and take fd 3. On failure it returns the exit status to use (keepalived's permanent
/// codes: 2 for a bad command line, 4 for a missing permission, 1 otherwise), having
/// logged why.
pub fn startup(name: &str) -> Result<Started, u8> {
    use keepalived_sys::confine::{Confinement, confine, parse_caps};
    let args = match ChildArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}");
            return Err(2);
        }
    };
    let level = match args.log_level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let _ = keepalived_sys::logpipe::init_child_logger(level);
    let caps = match parse_caps(&args.caps) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return Err(2);
        }
    };
    let c = Confinement {
        uid: args.uid,
        gid: args.gid,
        caps,
        deny_inet_sockets: args.deny_inet,
        parent: i32::try_from(args.parent).unwrap_or(i32::MAX),
    };
    if let Err(e) = confine(&c) {
        log::error!("cannot drop privileges ({c}): {e}");
        return Err(e.exit_code());
    }
    log::debug!("confined: {c}");
    if c.caps
        .contains(&keepalived_sys::confine::Capability::CAP_IPC_LOCK)
    {
        // Granted only for `*_no_swap`.
        match keepalived_sys::sched::lock_memory() {
            Ok(()) => log::info!("memory locked (no_swap)"),
            Err(e) => log::warn!("cannot lock memory for no_swap: {e}"),
        }
    }
    if args.verify_confinement && !verify(name, &c) {
        return Err(1);
    }
    match keepalived_sys::spawn::take_ipc_socket() {
        Ok(socket) => Ok(Started { args, socket }),
        Err(e) => {
            log::error!("{e}");
            Err(2)
        }
    }
}

/// Tries what this process must not be able to do; logs each result. False when any
/// attempt succeeded.
fn verify(name: &str, c: &keepalived_sys::confine::Confinement) -> bool {
    use keepalived_sys::confine::{
        Capability, try_raw_socket, try_tcp_socket, try_write_root_file,
    };
    let mut ok = true;
    let mut probe = |what: &str, r: std::io::Result<()>| match r {
        Ok(()) => {
            log::error!("confinement check: {what}: ALLOWED (it must not be)");
            ok = false;
        }
        Err(e) => log::info!("confinement check: {what}: refused ({e})"),
    };
    probe("open a root-owned file for writing", try_write_root_file());
    if !c.caps.contains(&Capability::CAP_NET_RAW) {
        probe("open a raw socket", try_raw_socket());
    }
    if c.deny_inet_sockets {
        probe("open a TCP socket", try_tcp_socket());
    }
    if ok {
        log::info!("confinement check of {name} passed");
    }
    ok
}

/// True when the process that spawned this child (`parent`, from its arguments) is no
/// longer its parent: the parent died and the child was re-parented. A child stops on
/// SIGTERM only then (PDEATHSIG); a SIGTERM sent to the whole process group while the
/// parent lives is the parent's to handle, and the parent stops its children in order.
pub fn parent_gone(parent: u32) -> bool {
    u32::try_from(nix::unistd::getppid().as_raw()).ok() != Some(parent)
}
