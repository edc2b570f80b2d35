#![allow(dead_code)] // each test file uses a part
//! Real servers for the checker tests: a lab of two network namespaces (the daemon's, `lb`,
//! and the real servers', `rs`, joined by a veth pair), servers of every protocol the
//! checkers speak (tests/support/servers.py, run with Debian's python3) whose behaviour the
//! test switches by writing a file, certificates made with openssl, and notify scripts that
//! record what the daemon reports.
//!
//! Everything goes on drop: servers are killed, namespaces and directories removed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{Daemon, Launch, Netns, TempDir, poll_until, run};

/// The python with the standard library the servers need (Debian's, not a user's).
pub const PYTHON: &str = "/usr/bin/python3";

/// The daemon's side of the veth pair.
pub const LB_V4: &str = "192.0.2.1";
/// The real servers' side of the veth pair.
pub const RS_V4: &str = "192.0.2.2";
/// The daemon's IPv6 address.
pub const LB_V6: &str = "2001:db8::1";
/// The real servers' IPv6 address.
pub const RS_V6: &str = "2001:db8::2";

/// Seconds since the epoch, as the servers and the notify script write them.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Lines `<unix time> <text>` of a file, parsed.
fn timed_lines(path: &Path) -> Vec<(f64, String)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, rest) = l.split_once(' ')?;
            Some((t.parse().ok()?, rest.to_string()))
        })
        .collect()
}

/// The two namespaces, a working directory, the servers' script and a notify script.
#[derive(Debug)]
pub struct CheckLab {
    /// Where the daemon runs (192.0.2.1/24, 2001:db8::1/64 on eth0).
    pub lb: Netns,
    /// Where the real servers run (192.0.2.2/24, 2001:db8::2/64 on eth0).
    pub rs: Netns,
    /// Configuration, certificates, control directories.
    pub dir: TempDir,
    events: PathBuf,
}

impl CheckLab {
    /// Creates the namespaces and the directory.
    pub fn new(tag: &str) -> CheckLab {
        let dir = TempDir::new(tag);
        let lb = Netns::new(&format!("{tag}-lb"));
        let rs = Netns::new(&format!("{tag}-rs"));
        run(
            "ip",
            &[
                "-n", &lb.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                "netns", &rs.name,
            ],
        );
        for (ns, v4, v6) in [(&lb, LB_V4, LB_V6), (&rs, RS_V4, RS_V6)] {
            run(
                "ip",
                &[
                    "-n",
                    &ns.name,
                    "addr",
                    "add",
                    &format!("{v4}/24"),
                    "dev",
                    "eth0",
                ],
            );
            run(
                "ip",
                &[
                    "-n",
                    &ns.name,
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    "eth0",
                    "nodad",
                ],
            );
            run("ip", &["-n", &ns.name, "link", "set", "eth0", "up"]);
        }
        // Ready when both families pass (IPv6 needs its link-local addresses and neighbour
        // discovery after the link comes up).
        for target in [RS_V4, RS_V6] {
            let ok = poll_until(Duration::from_secs(10), || {
                Command::new("ip")
                    .args(["netns", "exec", &lb.name, "ping", "-c1", "-W1", target])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .ok()
                    .filter(|s| s.success())
            });
            assert!(
                ok.is_some(),
                "the lab's veth does not carry pings to {target}"
            );
        }
        fs::write(dir.join("servers.py"), include_str!("servers.py")).expect("write servers.py");
        let events = dir.shared_dir("events").join("events");
        dir.script(
            "notify.sh",
            &format!(
                "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> {}\n",
                events.display()
            ),
        );
        CheckLab {
            lb,
            rs,
            dir,
            events,
        }
    }

    /// Adds an address (`192.0.2.10`, `2001:db8::10`) to the real servers' eth0.
    pub fn add_address(&self, addr: &str) {
        let prefix = if addr.contains(':') { "/64" } else { "/24" };
        let mut args = vec![
            "-n".to_string(),
            self.rs.name.clone(),
            "addr".into(),
            "add".into(),
            format!("{addr}{prefix}"),
            "dev".into(),
            "eth0".into(),
        ];
        if addr.contains(':') {
            args.push("nodad".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("ip", &args);
    }

    /// Adds an address to the daemon's eth0 (for `bindto`).
    pub fn add_lb_address(&self, addr: &str) {
        let prefix = if addr.contains(':') { "/64" } else { "/24" };
        run(
            "ip",
            &[
                "-n",
                &self.lb.name,
                "addr",
                "add",
                &format!("{addr}{prefix}"),
                "dev",
                "eth0",
                "nodad",
            ][..if addr.contains(':') { 8 } else { 7 }],
        );
    }

    /// `notify_up` and `notify_down` lines for a real server: they append `up NAME` and
    /// `down NAME` to the events file.
    pub fn notify(&self, name: &str) -> String {
        let s = self.dir.join("notify.sh");
        format!(
            "        notify_up \"{} up {name}\"\n        notify_down \"{} down {name}\"\n",
            s.display(),
            s.display()
        )
    }

    /// The events written by the notify scripts so far.
    pub fn events(&self) -> Vec<(f64, String)> {
        timed_lines(&self.events)
    }

    /// The time of the `n`th (from 1) event `what` (`up A`, `down A`), waiting for it.
    pub fn wait_event(&self, d: &Daemon, what: &str, n: usize, timeout: Duration) -> f64 {
        d.wait(
            &format!(
                "notify event #{n} {what:?} (events so far: {:?})",
                self.events()
            ),
            timeout,
            || {
                self.events()
                    .into_iter()
                    .filter(|(_, e)| e == what)
                    .nth(n - 1)
                    .map(|(t, _)| t)
            },
        )
    }

    /// The number of events `what` so far.
    pub fn count_events(&self, what: &str) -> usize {
        self.events().iter().filter(|(_, e)| e == what).count()
    }

    /// Writes the configuration and starts the daemon in `lb`.
    pub fn start(&self, config: &str) -> Daemon {
        let conf = self.dir.write("keepalived.conf", config);
        let d = Launch::new(&self.lb, &conf, &self.dir.join("run")).start();
        d.wait_started();
        d
    }

    /// Starts a server of `kind` (`http`, `smtp`, `dns`, `udp`) in `rs` on addr:port.
    pub fn server(&self, name: &str, kind: &str, addr: &str, port: u16) -> Server {
        Server::start(self, name, kind, addr, port, None)
    }

    /// Starts an HTTPS server with `cert`; `variant` is `modern`, `cbc12` or `tls10`.
    pub fn tls_server(
        &self,
        name: &str,
        addr: &str,
        port: u16,
        cert: &Cert,
        variant: &str,
    ) -> Server {
        Server::start(self, name, "http", addr, port, Some((cert, variant)))
    }

    /// Makes the real servers' namespace answer ICMP and ICMPv6 echo requests or not.
    pub fn answer_ping(&self, answer: bool) {
        let v = if answer { "0" } else { "1" };
        for key in [
            "net.ipv4.icmp_echo_ignore_all",
            "net.ipv6.icmp.echo_ignore_all",
        ] {
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &self.rs.name,
                    "sysctl",
                    "-q",
                    "-w",
                    &format!("{key}={v}"),
                ],
            );
        }
    }

    /// Makes a certificate for `name` (a DNS name, and `ip` as an address) signed by a test
    /// CA made on first use (`ca.pem` in the lab directory).
    pub fn cert(&self, name: &str, ip: &str) -> Cert {
        let ca = self.dir.join("ca.pem");
        let ca_key = self.dir.join("ca.key");
        if !ca.exists() {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=keepalived-rs test CA",
                "-keyout",
                path(&ca_key),
                "-out",
                path(&ca),
            ]);
        }
        let key = self.dir.join(&format!("{name}.key"));
        let csr = self.dir.join(&format!("{name}.csr"));
        let pem = self.dir.join(&format!("{name}.pem"));
        let ext = self.dir.write(
            &format!("{name}.ext"),
            &format!(
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
                 subjectAltName=DNS:{name},IP:{ip}\n"
            ),
        );
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            path(&key),
            "-out",
            path(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            path(&csr),
            "-CA",
            path(&ca),
            "-CAkey",
            path(&ca_key),
            "-CAcreateserial",
            "-extfile",
            path(&ext),
            "-out",
            path(&pem),
        ]);
        // Readable by the servers and by the daemon's parent (root) only.
        Cert { pem, key, ca }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server certificate, its key and the CA that signed it (PEM files).
#[derive(Debug, Clone)]
pub struct Cert {
    /// The certificate.
    pub pem: PathBuf,
    /// Its key, unencrypted.
    pub key: PathBuf,
    /// The CA's certificate.
    pub ca: PathBuf,
}

/// A server of tests/support/servers.py running in the real servers' namespace; killed on
/// drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Its control directory (`mode`, `body`, `log`).
    pub ctrl: PathBuf,
    /// Its address.
    pub addr: String,
    /// Its port.
    pub port: u16,
}

impl Server {
    fn start(
        lab: &CheckLab,
        name: &str,
        kind: &str,
        addr: &str,
        port: u16,
        tls: Option<(&Cert, &str)>,
    ) -> Server {
        let ctrl = lab.dir.join(&format!("srv-{name}"));
        fs::create_dir_all(&ctrl).expect("control dir");
        let err = fs::File::create(ctrl.join("stderr")).expect("server stderr file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lab.rs.name, PYTHON, "-u"])
            .arg(lab.dir.join("servers.py"))
            .args([kind, addr, &port.to_string()])
            .arg(&ctrl);
        if let Some((cert, variant)) = tls {
            cmd.arg(&cert.pem).arg(&cert.key).arg(variant);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("cannot start servers.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let server = Server {
            child,
            ctrl,
            addr: addr.to_string(),
            port,
        };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.trim() == "ready" => server,
            other => panic!(
                "server {name} ({kind} on {addr}:{port}) did not start: {other:?}; stderr: {}",
                fs::read_to_string(server.ctrl.join("stderr")).unwrap_or_default()
            ),
        }
    }

    /// Switches its behaviour (see servers.py).
    pub fn set_mode(&self, mode: &str) {
        // Written whole then renamed, so that a connection never reads half a mode.
        let tmp = self.ctrl.join("mode.tmp");
        fs::write(&tmp, mode).expect("write mode");
        fs::rename(&tmp, self.ctrl.join("mode")).expect("rename mode");
    }

    /// Sets the HTTP body.
    pub fn set_body(&self, body: &[u8]) {
        let tmp = self.ctrl.join("body.tmp");
        fs::write(&tmp, body).expect("write body");
        fs::rename(&tmp, self.ctrl.join("body")).expect("rename body");
    }

    /// Its log: `(unix time, event)`.
    pub fn log(&self) -> Vec<(f64, String)> {
        timed_lines(&self.ctrl.join("log"))
    }

    /// Times of the log events starting with `prefix` (`accept`, `request`, `datagram`).
    pub fn times(&self, prefix: &str) -> Vec<f64> {
        self.log()
            .into_iter()
            .filter(|(_, e)| e.starts_with(prefix))
            .map(|(t, _)| t)
            .collect()
    }

    /// Waits until the log has `n` events starting with `prefix`; returns the time of the
    /// `n`th.
    pub fn wait_for(&self, d: &Daemon, prefix: &str, n: usize, timeout: Duration) -> f64 {
        d.wait(
            &format!(
                "{n} {prefix:?} events at server {}:{} (log: {:?})",
                self.addr,
                self.port,
                self.log()
            ),
            timeout,
            || self.times(prefix).get(n - 1).copied(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process in kB (VmRSS).
pub fn rss_kb(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
}

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub fn within<T>(timeout: Duration, f: impl FnMut() -> Option<T>) -> Option<T> {
    poll_until(timeout, f)
}
