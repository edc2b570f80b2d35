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
