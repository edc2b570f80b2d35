//! Script security: which user each configured script runs as, and whether a user other than
//! root could change a script that root runs (keepalived's `enable_script_security` rules).
//!
//! The rules are pure; the system is seen through [`SystemView`], which the command line
//! implements with real `stat` and user look-ups and the tests implement with a table.
//!
//! keepalived's rules, as keepalived-rs applies them:
//! - a script runs as its own `user`, else `script_user`, else `keepalived_script` when that user
//!   exists, else root;
//! - a script that runs as root is insecure when the file or any directory above it can be
//!   written by someone other than root (owned by another user, or group/world writable);
//! - with `enable_script_security`, an insecure script is refused (an error);
//! - without it, any script that runs as root is an error ("scripts are being executed but
//!   script security is not enabled"), which is what `keepalived -t` exits 6 for;
//! - a script whose program cannot be found is an error too: keepalived disables it with a log
//!   line, and a tracker or notification that silently never runs is an outage waiting.

use std::path::{Path, PathBuf};

use crate::Config;
use crate::diag::Severity;
use crate::types::{Pos, Script};

/// What the check needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// True for a directory.
    pub is_dir: bool,
}

/// The system as the script check sees it.
pub trait SystemView {
    /// The uid of a user name, if the user exists.
    fn uid_of(&self, user: &str) -> Option<u32>;
    /// File metadata, following symbolic links.
    fn stat(&self, path: &Path) -> Option<FileMeta>;
    /// The directories of `PATH` used to find a bare command name.
    fn path_dirs(&self) -> Vec<PathBuf>;
}

/// One finding about one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where the script is configured.
    pub pos: Pos,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

/// The user a script runs as: (name, uid).
pub fn effective_user(
    script: &Script,
    config: &Config,
    sys: &dyn SystemView,
) -> (String, Option<u32>) {
    if let Some(u) = &script.user {
        return (u.clone(), sys.uid_of(u));
    }
    if let Some(u) = &config.global_defs.script_user {
        return (u.user.clone(), sys.uid_of(&u.user));
    }
    if let Some(uid) = sys.uid_of("keepalived_script") {
        return ("keepalived_script".into(), Some(uid));
    }
    ("root".into(), Some(0))
}

/// The file a script's command runs: argv[0] as a path, found in PATH, or the shell for a
/// command that starts with `<` (keepalived runs those through the shell).
pub fn program(script: &Script, sys: &dyn SystemView) -> Option<PathBuf> {
    let first = script.argv.first()?;
    if first.starts_with('<') {
        return Some(PathBuf::from("/bin/sh"));
    }
    if first.contains('/') {
        return Some(PathBuf::from(first));
    }
    sys.path_dirs()
        .into_iter()
        .map(|d| d.join(first))
        .find(|p| sys.stat(p).is_some_and(|m| !m.is_dir))
}

/// True when someone other than root can change `path` or a directory above it.
pub fn writable_by_non_root(path: &Path, sys: &dyn SystemView) -> Option<PathBuf> {
    let mut p = Some(path);
    while let Some(cur) = p {
        if let Some(m) = sys.stat(cur) {
            let other_owner = m.uid != 0 && m.mode & 0o200 != 0;
            let group = m.gid != 0 && m.mode & 0o020 != 0;
            // A sticky world-writable directory (/tmp) protects files it holds from others,
            // but the file itself is still checked.
            let world = m.mode & 0o002 != 0 && !(m.is_dir && m.mode & 0o1000 != 0);
            if other_owner || group || world {
                return Some(cur.to_path_buf());
            }
        }
        p = cur.parent().filter(|q| !q.as_os_str().is_empty());
    }
    None
}

/// Checks every script of the configuration.
pub fn check(config: &Config, sys: &dyn SystemView) -> Vec<Finding> {
    let secure = config.global_defs.enable_script_security;
    let mut out = Vec::new();
    let mut root_scripts = Vec::new();
    for s in config.scripts() {
        let (user, uid) = effective_user(s, config, sys);
        if uid.is_none() {
            out.push(Finding {
                pos: s.pos,
                severity: Severity::Error,
                message: format!(
                    "script '{}' is to run as user '{user}', who does not exist",
                    s.command
                ),
                hint: Some("create the user or set script_user".into()),
            });
            continue;
        }
        let Some(prog) = program(s, sys) else {
            out.push(Finding {
                pos: s.pos,
                severity: Severity::Error,
                message: format!("script '{}': program not found", s.command),
                hint: Some("use an absolute path to an executable that exists".into()),
            });
            continue;
        };
        if sys.stat(&prog).is_none() {
            out.push(Finding {
                pos: s.pos,
                severity: Severity::Error,
                message: format!(
                    "script '{}': '{}' does not exist",
                    s.command,
                    prog.display()
                ),
                hint: Some(
                    "keepalived would disable this script; install it or remove the line".into(),
                ),
            });
            continue;
        }
        if uid != Some(0) {
            continue;
        }
        if secure {
            if let Some(w) = writable_by_non_root(&prog, sys) {
                out.push(Finding {
                    pos: s.pos,
                    severity: Severity::Error,
                    message: format!(
                        "script '{}' runs as root but '{}' can be changed by a user other than root",
                        s.command,
                        w.display()
                    ),
                    hint: Some("make it and its directories owned by root and not group or world writable".into()),
                });
            }
        } else {
            root_scripts.push(s.pos);
        }
    }
    if let Some(first) = root_scripts.first() {
        out.push(Finding {
            pos: *first,
            severity: Severity::Error,
            message: format!(
                "{} script(s) would run as root, but enable_script_security is not set",
                root_scripts.len()
            ),
            hint: Some(
                "add 'enable_script_security' to global_defs, or set 'script_user' to an unprivileged user".into(),
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, load_str};
    use std::collections::HashMap;

    /// A made-up system: users, and files with owner and mode.
    struct Fake {
        users: HashMap<&'static str, u32>,
        files: HashMap<&'static str, FileMeta>,
    }

    fn file(uid: u32, mode: u32) -> FileMeta {
        FileMeta {
            uid,
            gid: 0,
            mode,
            is_dir: false,
        }
    }

    fn dir(uid: u32, mode: u32) -> FileMeta {
        FileMeta {
            uid,
            gid: 0,
            mode,
            is_dir: true,
        }
    }

    impl SystemView for Fake {
        fn uid_of(&self, user: &str) -> Option<u32> {
            self.users.get(user).copied()
        }
        fn stat(&self, path: &Path) -> Option<FileMeta> {
            self.files.get(path.to_str()?).copied()
        }
        fn path_dirs(&self) -> Vec<PathBuf> {
            vec![PathBuf::from("/usr/bin")]
        }
    }

    fn system() -> Fake {
        Fake {
            users: [("root", 0), ("nobody", 65534)].into_iter().collect(),
            files: [
                ("/", dir(0, 0o755)),
                ("/usr", dir(0, 0o755)),
                ("/usr/bin", dir(0, 0o755)),
                ("/usr/bin/killall", file(0, 0o755)),
                ("/bin", dir(0, 0o755)),
                ("/bin/sh", file(0, 0o755)),
                ("/home", dir(0, 0o755)),
                ("/home/bob", dir(1000, 0o755)),
                ("/home/bob/check.sh", file(1000, 0o755)),
                ("/tmp", dir(0, 0o1777)),
                ("/tmp/x.sh", file(0, 0o777)),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn findings(conf: &str) -> Vec<Finding> {
        let l = load_str("t.conf", conf, &LoadOptions::default());
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        check(&l.config, &system())
    }

    const SCRIPT: &str = "vrrp_script chk {\n script \"killall -0 haproxy\"\n}\n";

    #[test]
    fn root_scripts_need_script_security() {
        let f = findings(SCRIPT);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("enable_script_security"));
        assert_eq!(f[0].pos.0.line, 2);
        assert!(
            findings(&format!(
                "global_defs {{\n enable_script_security\n}}\n{SCRIPT}"
            ))
            .is_empty()
        );
        assert!(
            findings(&format!(
                "global_defs {{\n script_user nobody\n}}\n{SCRIPT}"
            ))
            .is_empty()
        );
    }

    #[test]
    fn scripts_others_can_change_are_refused_with_security() {
        let head = "global_defs {\n enable_script_security\n}\n";
        let f = findings(&format!(
            "{head}vrrp_script chk {{\n script /home/bob/check.sh\n}}\n"
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("/home/bob"), "{}", f[0].message);
        let f = findings(&format!(
            "{head}vrrp_script chk {{\n script /tmp/x.sh\n}}\n"
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("/tmp/x.sh"), "{}", f[0].message);
        // A bash `</dev/tcp/...` probe runs through the root-owned shell.
        assert!(
            findings(&format!(
                "{head}vrrp_script chk {{\n script \"</dev/tcp/192.0.2.1/80\"\n}}\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn missing_programs_and_users_are_errors() {
        let f = findings(
            "global_defs {\n enable_script_security\n}\nvrrp_script chk {\n script /usr/local/bin/nothing\n}\n",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("does not exist"));
        let f = findings(
            "global_defs {\n script_user ghost\n}\nvrrp_script chk {\n script /usr/bin/killall\n}\n",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("ghost"));
    }

    #[test]
    fn every_kind_of_script_is_seen() {
        let conf = "global_defs {\n startup_script /usr/bin/killall\n}\n\
            vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1/24\n }\n notify /usr/bin/killall\n}\n\
            virtual_server 192.0.2.1 80 {\n protocol TCP\n quorum_up /usr/bin/killall\n real_server 192.0.2.2 80 {\n notify_up /usr/bin/killall\n MISC_CHECK {\n misc_path /usr/bin/killall\n }\n }\n}\n";
        let l = load_str("t.conf", conf, &LoadOptions::default());
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        assert_eq!(l.config.scripts().len(), 5);
    }
}
