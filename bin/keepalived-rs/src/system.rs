//! The script checks of `-t` against the real system: users from the password database,
//! files from `stat`, commands from `PATH`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use keepalived_config::scripts::{self, FileMeta, SystemView};
use keepalived_config::{Diagnostic, Loaded};

/// The running system.
#[derive(Debug)]
pub struct RealSystem {
    passwd: String,
}

impl RealSystem {
    /// Reads /etc/passwd once.
    pub fn new() -> RealSystem {
        RealSystem {
            passwd: std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        }
    }
}

impl SystemView for RealSystem {
    fn uid_of(&self, user: &str) -> Option<u32> {
        self.passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == user).then_some(())?;
            f.nth(1)?.parse().ok()
        })
    }

    fn stat(&self, path: &Path) -> Option<FileMeta> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileMeta {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
            is_dir: m.is_dir(),
        })
    }

    fn path_dirs(&self) -> Vec<PathBuf> {
        let path = std::env::var("PATH").unwrap_or_else(|_| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        std::env::split_paths(&path).collect()
    }
}

/// Adds the findings of the script checks to `loaded`'s diagnostics.
pub fn check_scripts(loaded: &mut Loaded, sys: &dyn SystemView) {
    for f in scripts::check(&loaded.config, sys) {
        let loc = f.pos.0;
        loaded.diagnostics.push(Diagnostic {
            severity: f.severity,
            file: loaded
                .files
                .get(loc.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: loc.line,
            column: loc.col,
            message: f.message,
            text: None,
            hint: f.hint,
        });
    }
}

/// What the processes would refuse or could apply only partly, reported at load (by `-t`
/// and by the daemon, before anything starts) with the position of the object: options of
/// addresses, routes and rules that rtnetlink cannot be given, what the VRRP state
/// machine refuses (AH, ...).
pub fn check_runtime(loaded: &mut Loaded) {
    use keepalived_netlink::from_config::{addr_spec, supported_route, supported_rule};
    if !loaded.is_ok() {
        return;
    }
    let c = &loaded.config;
    let mut found: Vec<(keepalived_config::Pos, String)> = Vec::new();
    for inst in &c.vrrp_instances {
        let at = inst.pos;
        for a in inst
            .virtual_ipaddress
            .iter()
            .chain(&inst.virtual_ipaddress_excluded)
        {
            if let Err(e) = addr_spec(a, 0) {
                found.push((
                    at,
                    format!(
                        "vrrp_instance {}: virtual address {}: {e}",
                        inst.name, a.address.addr
                    ),
                ));
            }
        }
        for r in &inst.virtual_routes {
            if let Err(e) = supported_route(r) {
                found.push((
                    at,
                    format!("vrrp_instance {}: virtual_routes: {e}", inst.name),
                ));
            }
        }
        for r in &inst.virtual_rules {
            if let Err(e) = supported_rule(r) {
                found.push((
                    at,
                    format!("vrrp_instance {}: virtual_rules: {e}", inst.name),
                ));
            }
        }
        let refused = keepalived_vrrp::InstanceConfig::from_config(c, inst)
            .and_then(|mut cfg| cfg.normalise().map(|_| ()));
        if let Err(e) = refused {
            found.push((at, e.to_string()));
        }
    }
    for a in &c.static_ipaddress {
        if let Err(e) = addr_spec(a, 0) {
            found.push((
                keepalived_config::Pos::default(),
                format!("static_ipaddress {}: {e}", a.address.addr),
            ));
        }
    }
    for r in &c.static_routes {
        if let Err(e) = supported_route(r) {
            found.push((
                keepalived_config::Pos::default(),
                format!("static_routes: {e}"),
            ));
        }
    }
    for r in &c.static_rules {
        if let Err(e) = supported_rule(r) {
            found.push((
                keepalived_config::Pos::default(),
                format!("static_rules: {e}"),
            ));
        }
    }
    for (pos, message) in found {
        let loc = pos.0;
        loaded.diagnostics.push(Diagnostic {
            severity: keepalived_config::diag::Severity::Error,
            file: loaded
                .files
                .get(loc.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: loc.line,
            column: loc.col,
            message,
            text: None,
            hint: None,
        });
    }
}
