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

/// The largest SSL file read (a CA bundle of a few hundred certificates fits).
const SSL_FILE_MAX: u64 = 256 << 10;
/// The largest SSL block in total: the files travel to the checker in one IPC frame.
const SSL_TOTAL_MAX: usize = 768 << 10;

/// Reads the files of the `SSL { }` block for the checker (which opens no files), and
/// reports at load what would make SSL_GET fail: a file that cannot be read, one too large,
/// a private key that is encrypted (keepalived-rs does not decrypt keys: the error says how
/// to decrypt it once with openssl). Returns what could be read.
pub fn check_ssl(loaded: &mut Loaded) -> keepalived_ipc::msg::TlsFiles {
    let mut out = keepalived_ipc::msg::TlsFiles::default();
    let Some(ssl) = loaded.config.ssl.clone() else {
        return out;
    };
    out.verify = ssl.verify_certificate;
    let mut found: Vec<(keepalived_config::Pos, String, Option<String>)> = Vec::new();
    let mut total = 0usize;
    for (kw, path, slot) in [
        ("ca", &ssl.ca, &mut out.ca),
        ("certificate", &ssl.certificate, &mut out.certificate),
        ("key", &ssl.key, &mut out.key),
    ] {
        let Some(path) = path else {
            continue;
        };
        let at = ssl.lines.get(kw);
        let data = match read_limited(Path::new(path), SSL_FILE_MAX) {
            Ok(d) => d,
            Err(e) => {
                found.push((at, format!("SSL {kw} {path}: {e}"), None));
                continue;
            }
        };
        total += data.len();
        if total > SSL_TOTAL_MAX {
            found.push((
                at,
                format!(
                    "SSL {kw} {path}: the SSL files add up to more than {} KiB",
                    SSL_TOTAL_MAX >> 10
                ),
                Some("keep only the certificates SSL_GET needs in 'ca'".into()),
            ));
            continue;
        }
        if kw == "key" && keepalived_check::tls::key_is_encrypted(&data) {
            found.push((
                at,
                format!(
                    "SSL key {path} is encrypted: keepalived-rs does not decrypt private keys{}",
                    if ssl.password.is_some() {
                        " ('password' is not used)"
                    } else {
                        ""
                    }
                ),
                Some(format!(
                    "decrypt it once with 'openssl pkey -in {path} -out {path}.plain' (it asks \
                     for the password), make the result readable by root only (chmod 600), \
                     and name it in 'key'"
                )),
            ));
            continue;
        }
        *slot = Some(data);
    }
    for (pos, message, hint) in found {
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
            hint,
        });
    }
    out
}

/// Reads a file of at most `max` bytes.
fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut data = Vec::new();
    f.take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB",
            max >> 10
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_files_are_read_with_a_size_limit() {
        let dir = std::env::temp_dir().join(format!("krs-ssl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.pem");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_limited(&small, 3).unwrap(), b"abc");
        let e = read_limited(&small, 2).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        assert!(read_limited(&dir.join("missing.pem"), 10).is_err());
        let text = format!(
            "SSL {{\n ca {}\n verify_certificate\n}}\nvirtual_server 192.0.2.1 443 {{\n \
             real_server 192.0.2.2 443 {{\n  SSL_GET {{\n   url {{\n    path /\n   }}\n  }}\n \
             }}\n}}\n",
            small.display()
        );
        let mut l = keepalived_config::load_str(
            "k.conf",
            &text,
            &keepalived_config::LoadOptions::default(),
        );
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        let tls = check_ssl(&mut l);
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        assert_eq!(tls.ca.as_deref(), Some(&b"abc"[..]));
        assert!(tls.verify && tls.key.is_none() && tls.certificate.is_none());
        std::fs::remove_file(&small).unwrap();
        let tls = check_ssl(&mut l);
        assert!(tls.ca.is_none());
        let e = l.errors().next().expect("an error for the missing ca");
        assert_eq!((e.file.as_str(), e.line), ("k.conf", 2), "{e}");
        assert!(e.message.contains("SSL ca"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
