//! The SELinux policy module (`selinux/`) states the privilege separation of the four
//! processes: this test builds it with Debian's selinux-policy-dev, links it into a copy of
//! the system's policy store (Debian's reference policy, selinux-policy-default) with
//! neverallow checking on, and asks the resulting kernel policy what each domain may do.
//!
//! ```text
//!  selinux/keepalived_rs.{te,if,fc}
//!    │ make -f /usr/share/selinux/devel/Makefile           (m4, checkmodule, semodule_package)
//!    ▼
//!  keepalived_rs.pp ──semodule -p ROOT -n -i──▶ ROOT/etc/selinux/default/policy/policy.33
//!                     (a copy of /var/lib/selinux/default;      │
//!                      expand-check=1: refpolicy's neverallows) │ setools' TERuleQuery (sesearch's
//!                                                               ▼ library, tests/selinux/query.py)
//!                                             one answer per check below, read at the booleans'
//!                                             defaults and with each boolean turned on
//! ```
//!
//! Nothing is loaded into a kernel: the host need not run SELinux. Whether the policy lets
//! the daemon work (zero denials in enforcing mode) is the VM test's question; this one
//! states what the policy grants and, above all, what it does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PARENT: &str = "keepalived_rs_t";
const VRRP: &str = "keepalived_rs_vrrp_t";
const CHECK: &str = "keepalived_rs_check_t";
const IPVS: &str = "keepalived_rs_ipvs_t";
const SCRIPT: &str = "keepalived_rs_script_t";
const CHILDREN: [&str; 3] = [VRRP, CHECK, IPVS];
const ALL: [&str; 5] = [PARENT, VRRP, CHECK, IPVS, SCRIPT];

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the policy must say about one query.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// At least one rule grants it with every boolean at its default.
    Allowed,
    /// No rule grants it at the defaults; turning on this boolean does.
    OnlyWith(&'static str),
    /// No rule mentions it at all, whatever the booleans.
    Denied,
    /// No rule grants it on a target other than these (and their attributes' members are
    /// not exempted: the target must be named exactly).
    DeniedExcept(Vec<String>),
}

/// One question about the policy and its expected answer.
#[derive(Debug, Clone)]
struct Check {
    query: Value,
    expect: Expect,
}

impl Check {
    /// The `sesearch` command line that asks the same question by hand.
    fn sesearch(&self) -> String {
        let q = &self.query;
        let mut s = match q["ruletype"].as_str() {
            Some("type_transition") => "sesearch -T".to_string(),
            _ => "sesearch -A".to_string(),
        };
        s += &format!(" -s {}", q["source"].as_str().unwrap_or("?"));
        if let Some(t) = q["target"].as_str() {
            s += &format!(" -t {t}");
        }
        let list = |v: &Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        if !list(&q["class"]).is_empty() {
            s += &format!(" -c {}", list(&q["class"]));
        }
        if !list(&q["perms"]).is_empty() {
            s += &format!(" -p {}", list(&q["perms"]));
        }
        if let Some(d) = q["default"].as_str() {
            s += &format!(" -D {d}");
        }
        s
    }

    /// Ok, or why the rules found do not meet the expectation.
    fn evaluate(&self, rules: &[Value]) -> Result<(), String> {
        let enabled: Vec<&Value> = rules.iter().filter(|r| r["enabled"] == true).collect();
        let text = |rs: &[&Value]| {
            rs.iter()
                .map(|r| format!("    {}", r["rule"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let all: Vec<&Value> = rules.iter().collect();
        match &self.expect {
            Expect::Allowed if enabled.is_empty() => Err(format!(
                "expected allowed, no rule grants it at the defaults{}",
                if all.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", text(&all))
                }
            )),
            Expect::Allowed => Ok(()),
            Expect::OnlyWith(b) => {
                if !enabled.is_empty() {
                    return Err(format!(
                        "expected only with boolean {b}, granted at the defaults:\n{}",
                        text(&enabled)
                    ));
                }
                let with: Vec<&Value> = rules
                    .iter()
                    .filter(|r| {
                        r["enabled_if"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|n| n == *b))
                    })
                    .collect();
                if with.is_empty() {
                    Err(format!("expected with boolean {b}, no rule under it"))
                } else {
                    Ok(())
                }
            }
            Expect::Denied if all.is_empty() => Ok(()),
            Expect::Denied => Err(format!("expected denied, found:\n{}", text(&all))),
            Expect::DeniedExcept(allowed) => {
                let other: Vec<&Value> = rules
                    .iter()
                    .filter(|r| {
                        !allowed
                            .iter()
                            .any(|a| r["target"].as_str() == Some(a.as_str()))
                    })
                    .collect();
                if other.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "expected nothing beyond {allowed:?}, found:\n{}",
                        text(&other)
                    ))
                }
            }
        }
    }
}

/// `allow SOURCE TARGET:CLASSES PERMS` (any target when `target` is None).
fn allow(source: &str, target: Option<&str>, classes: &[&str], perms: &[&str]) -> Value {
    json!({"ruletype": "allow", "source": source, "target": target,
           "class": classes, "perms": perms})
}

/// `type_transition SOURCE TARGET:process DEFAULT`.
fn transition(source: &str, target: &str, default: &str) -> Value {
    json!({"ruletype": "type_transition", "source": source, "target": target,
           "class": ["process"], "perms": [], "default": default})
}

/// The separation, as checks. Each group says which process needs the access and why.
fn checks() -> Vec<Check> {
    let mut v = Vec::new();
    let mut add = |query: Value, expect: Expect| v.push(Check { query, expect });
    let own = |d: &str| Some(d.to_string());

    // --- Sockets a process may open (rules on its own type: the socket's label). ---
    let socket = |d: &str, class: &str, perm: &str| allow(d, own(d).as_deref(), &[class], &[perm]);
    // VRRP adverts: raw IP protocol 112. The checker only for raw PING_CHECK, by boolean.
    add(socket(VRRP, "rawip_socket", "create"), Expect::Allowed);
    add(
        socket(CHECK, "rawip_socket", "create"),
        Expect::OnlyWith("keepalived_rs_check_raw"),
    );
    for d in [PARENT, IPVS, SCRIPT] {
        add(socket(d, "rawip_socket", "create"), Expect::Denied);
    }
    // Gratuitous ARP / unsolicited NA: AF_PACKET, VRRP only.
    add(socket(VRRP, "packet_socket", "create"), Expect::Allowed);
    for d in [PARENT, CHECK, IPVS, SCRIPT] {
        add(socket(d, "packet_socket", "create"), Expect::Denied);
    }
    // rtnetlink changes (addresses, routes, VMAC links): VRRP only.
    add(
        socket(VRRP, "netlink_route_socket", "nlmsg_write"),
        Expect::Allowed,
    );
    for d in [PARENT, CHECK, IPVS, SCRIPT] {
        add(
            socket(d, "netlink_route_socket", "nlmsg_write"),
            Expect::Denied,
        );
    }
    // track_process: the proc connector, VRRP only.
    add(
        socket(VRRP, "netlink_connector_socket", "create"),
        Expect::Allowed,
    );
    for d in [PARENT, CHECK, IPVS] {
        add(
            socket(d, "netlink_connector_socket", "create"),
            Expect::Denied,
        );
    }
    // Generic netlink (the IPVS family): the IPVS writer only.
    add(
        socket(IPVS, "netlink_generic_socket", "create"),
        Expect::Allowed,
    );
    for d in [PARENT, VRRP, CHECK, SCRIPT] {
        add(
            socket(d, "netlink_generic_socket", "create"),
            Expect::Denied,
        );
    }
    // Outbound TCP, UDP and ICMP: the checker (and scripts: curl and the like).
    for class in ["tcp_socket", "udp_socket", "icmp_socket"] {
        add(socket(CHECK, class, "create"), Expect::Allowed);
        for d in [PARENT, VRRP, IPVS] {
            add(socket(d, class, "create"), Expect::Denied);
        }
    }
    add(socket(SCRIPT, "tcp_socket", "create"), Expect::Allowed);
    for port in [
        "http_port_t",
        "smtp_port_t",
        "unreserved_port_t",
        "dns_port_t",
    ] {
        add(
            allow(CHECK, Some(port), &["tcp_socket"], &["name_connect"]),
            Expect::Allowed,
        );
    }
    for d in [PARENT, VRRP, IPVS] {
        add(
            allow(
                d,
                None,
                &["tcp_socket", "udp_socket"],
                &["name_connect", "name_bind"],
            ),
            Expect::Denied,
        );
    }
    // Nobody listens on TCP.
    for d in [PARENT, VRRP, CHECK, IPVS] {
        add(
            allow(d, own(d).as_deref(), &["tcp_socket"], &["listen", "accept"]),
            Expect::Denied,
        );
    }
    // Binding a reserved source port (bind_port < 1024) only with its boolean.
    add(
        allow(
            CHECK,
            Some("reserved_port_t"),
            &["tcp_socket"],
            &["name_bind"],
        ),
        Expect::OnlyWith("keepalived_rs_check_bind_reserved"),
    );

    // --- Capabilities. ---
    let cap = |d: &str, c: &str| allow(d, own(d).as_deref(), &["capability"], &[c]);
    add(cap(VRRP, "net_raw"), Expect::Allowed);
    add(
        cap(CHECK, "net_raw"),
        Expect::OnlyWith("keepalived_rs_check_raw"),
    );
    for d in [PARENT, IPVS, SCRIPT] {
        add(cap(d, "net_raw"), Expect::Denied);
    }
    add(cap(VRRP, "net_admin"), Expect::Allowed);
    add(cap(IPVS, "net_admin"), Expect::Allowed);
    add(
        cap(CHECK, "net_admin"),
        Expect::OnlyWith("keepalived_rs_check_fwmark"),
    );
    for d in [PARENT, SCRIPT] {
        add(cap(d, "net_admin"), Expect::Denied);
    }
    add(
        cap(CHECK, "net_bind_service"),
        Expect::OnlyWith("keepalived_rs_check_bind_reserved"),
    );
    for d in [PARENT, VRRP, IPVS] {
        add(cap(d, "net_bind_service"), Expect::Denied);
    }
    // setns(2) into net_namespace, by boolean.
    add(
        cap(PARENT, "sys_admin"),
        Expect::OnlyWith("keepalived_rs_netns"),
    );
    for d in [VRRP, CHECK, IPVS, SCRIPT] {
        add(cap(d, "sys_admin"), Expect::Denied);
    }
    // The parent's own: signals to other users' processes, scripts' identities, priorities,
    // limits, FIFO owners.
    for c in [
        "kill",
        "setuid",
        "setgid",
        "sys_nice",
        "sys_resource",
        "chown",
    ] {
        add(cap(PARENT, c), Expect::Allowed);
    }
    for d in CHILDREN {
        for c in ["kill", "sys_nice", "sys_resource", "chown"] {
            add(cap(d, c), Expect::Denied);
        }
        // confine(): setgroups/setresgid, setresuid, PR_CAPBSET_DROP before any message.
        for c in ["setuid", "setgid", "setpcap"] {
            add(cap(d, c), Expect::Allowed);
        }
    }
    // Nobody bypasses file permissions, traces, loads modules, or touches raw devices.
    for d in ALL {
        add(
            allow(
                d,
                own(d).as_deref(),
                &["capability"],
                &[
                    "dac_override",
                    "dac_read_search",
                    "fowner",
                    "fsetid",
                    "sys_ptrace",
                    "sys_module",
                    "sys_rawio",
                    "mknod",
                    "sys_chroot",
                    "linux_immutable",
                ],
            ),
            Expect::Denied,
        );
        add(allow(d, None, &["capability2"], &[]), Expect::Denied);
        add(allow(d, None, &["process"], &["ptrace"]), Expect::Denied);
    }

    // --- Entering the domains: systemd starts the parent, the parent execs each child
    // and every script, all under NoNewPrivileges. ---
    add(
        transition("init_t", "keepalived_rs_exec_t", PARENT),
        Expect::Allowed,
    );
    add(
        allow("init_t", Some(PARENT), &["process2"], &["nnp_transition"]),
        Expect::Allowed,
    );
    let entries = [
        ("keepalived_rs_vrrp_exec_t", VRRP),
        ("keepalived_rs_check_exec_t", CHECK),
        ("keepalived_rs_ipvs_exec_t", IPVS),
        ("keepalived_rs_script_exec_t", SCRIPT),
        ("bin_t", SCRIPT),
        ("shell_exec_t", SCRIPT),
    ];
    for (exec, d) in entries {
        add(transition(PARENT, exec, d), Expect::Allowed);
        add(
            allow(d, Some(exec), &["file"], &["entrypoint"]),
            Expect::Allowed,
        );
    }
    for d in [VRRP, CHECK, IPVS, SCRIPT] {
        add(
            allow(PARENT, Some(d), &["process"], &["transition"]),
            Expect::Allowed,
        );
        for p in ["nnp_transition", "nosuid_transition"] {
            add(allow(PARENT, Some(d), &["process2"], &[p]), Expect::Allowed);
        }
    }
    // The parent runs no program in its own domain; the children run none at all, and
    // each child is entered only through its own executable.
    add(
        allow(PARENT, None, &["file"], &["execute_no_trans"]),
        Expect::Denied,
    );
    for (d, exec) in [
        (VRRP, "keepalived_rs_vrrp_exec_t"),
        (CHECK, "keepalived_rs_check_exec_t"),
        (IPVS, "keepalived_rs_ipvs_exec_t"),
    ] {
        add(
            allow(d, None, &["file"], &["execute_no_trans"]),
            Expect::Denied,
        );
        add(
            allow(d, None, &["process"], &["transition", "dyntransition"]),
            Expect::Denied,
        );
        add(allow(d, None, &["process2"], &[]), Expect::Denied);
        add(
            allow(d, None, &["file"], &["entrypoint"]),
            Expect::DeniedExcept(vec![exec.to_string()]),
        );
    }

    // --- Files only where the parent reads them. ---
    add(
        allow(PARENT, Some("keepalived_rs_conf_t"), &["file"], &["read"]),
        Expect::Allowed,
    );
    for t in ["etc_t", "cert_t", "tls_privkey_t"] {
        add(
            allow(PARENT, Some(t), &["file"], &["read"]),
            Expect::Allowed,
        );
    }
    for d in CHILDREN {
        for t in [
            "keepalived_rs_conf_t",
            "cert_t",
            "tls_privkey_t",
            "keepalived_rs_tmp_t",
        ] {
            add(
                allow(d, Some(t), &["file"], &["read", "open"]),
                Expect::Denied,
            );
        }
        // Children create, write and remove nothing but their own /proc entries and the
        // parent's log pipe.
        let mut writable = vec![
            d,
            PARENT,
            // /dev/null, /dev/zero, /dev/tty: every domain's.
            "null_device_t",
            "zero_device_t",
            "devtty_t",
            // mcstransd's socket: every domain's.
            "setrans_runtime_t",
        ];
        if d == CHECK {
            // Name services' sockets (connecting to one writes its socket file).
            writable.extend([
                "nscd_runtime_t",
                "systemd_resolved_runtime_t",
                "avahi_runtime_t",
            ]);
        }
        add(
            allow(
                d,
                None,
                &[
                    "file",
                    "lnk_file",
                    "sock_file",
                    "fifo_file",
                    "chr_file",
                    "blk_file",
                ],
                &["write", "append", "create", "unlink", "rename", "setattr"],
            ),
            Expect::DeniedExcept(writable.iter().map(|t| t.to_string()).collect()),
        );
        add(
            allow(d, None, &["dir"], &["add_name", "remove_name", "create"]),
            Expect::Denied,
        );
        add(
            allow(
                d,
                Some("keepalived_rs_runtime_t"),
                &["file", "dir", "sock_file"],
                &[],
            ),
            Expect::Denied,
        );
        add(
            allow(d, Some("sysctl_net_t"), &["file"], &["write"]),
            Expect::Denied,
        );
        add(
            allow(d, Some("shadow_t"), &["file"], &["read"]),
            Expect::Denied,
        );
    }
    // /etc: the checker resolves smtp_server names (nsswitch.conf, hosts); VRRP and the
    // IPVS writer read nothing there.
    add(
        allow(CHECK, Some("etc_t"), &["file"], &["read"]),
        Expect::Allowed,
    );
    for d in [VRRP, IPVS] {
        add(
            allow(d, Some("etc_t"), &["file"], &["read", "open"]),
            Expect::Denied,
        );
        add(
            allow(d, Some("net_conf_t"), &["file"], &["read", "open"]),
            Expect::Denied,
        );
    }
    // The VMAC sysctls are written by the parent; the VRRP process only reads rp_filter.
    add(
        allow(PARENT, Some("sysctl_net_t"), &["file"], &["write"]),
        Expect::Allowed,
    );
    add(
        allow(VRRP, Some("sysctl_net_t"), &["file"], &["read"]),
        Expect::Allowed,
    );
    add(
        allow(
            PARENT,
            Some("keepalived_rs_runtime_t"),
            &["sock_file"],
            &["create"],
        ),
        Expect::Allowed,
    );
    add(
        allow(
            PARENT,
            Some("keepalived_rs_runtime_t"),
            &["file"],
            &["create", "write"],
        ),
        Expect::Allowed,
    );
    add(
        allow(PARENT, Some("shadow_t"), &["file"], &["read"]),
        Expect::Denied,
    );
    add(
        allow(PARENT, Some("init_runtime_t"), &["sock_file"], &["write"]),
        Expect::Allowed,
    );
    add(
        allow(PARENT, Some("devlog_t"), &["sock_file"], &["write"]),
        Expect::Allowed,
    );

    // --- The children talk to the parent over inherited descriptors, not to each other. ---
    for d in CHILDREN {
        add(allow(d, Some(PARENT), &["fd"], &["use"]), Expect::Allowed);
        add(
            allow(d, Some(PARENT), &["unix_stream_socket"], &["read", "write"]),
            Expect::Allowed,
        );
        add(
            allow(d, Some(PARENT), &["fifo_file"], &["write"]),
            Expect::Allowed,
        );
        add(
            allow(d, Some(PARENT), &["unix_stream_socket"], &["connectto"]),
            Expect::Denied,
        );
        add(
            allow(
                d,
                Some(PARENT),
                &["process"],
                &["signal", "sigkill", "sigstop"],
            ),
            Expect::Denied,
        );
        add(
            allow(PARENT, Some(d), &["process"], &["sigkill"]),
            Expect::Allowed,
        );
        add(
            allow(PARENT, Some(d), &["process"], &["setsched"]),
            Expect::Allowed,
        );
        for other in CHILDREN.iter().filter(|o| **o != d) {
            add(allow(d, Some(other), &["fd"], &["use"]), Expect::Denied);
            add(
                allow(d, Some(other), &["unix_stream_socket", "fifo_file"], &[]),
                Expect::Denied,
            );
            add(
                allow(d, Some(other), &["process"], &["signal", "sigkill"]),
                Expect::Denied,
            );
        }
    }
    add(
        allow(PARENT, Some(SCRIPT), &["process"], &["sigkill"]),
        Expect::Allowed,
    );

    // --- Kernel. ---
    // VRRP (macvlan/ipvlan) and the IPVS writer (ip_vs, schedulers) trigger module loads.
    for d in [VRRP, IPVS] {
        add(
            allow(d, Some("kernel_t"), &["system"], &["module_request"]),
            Expect::Allowed,
        );
    }
    for d in [PARENT, CHECK] {
        add(
            allow(d, Some("kernel_t"), &["system"], &["module_request"]),
            Expect::Denied,
        );
    }
    // track_process reads every process's name and command line: VRRP only.
    add(
        allow(VRRP, Some("init_t"), &["file"], &["read"]),
        Expect::Allowed,
    );
    for d in [CHECK, IPVS] {
        add(
            allow(d, Some("init_t"), &["file"], &["read"]),
            Expect::Denied,
        );
    }
    v
}

/// Runs a command with `input` on stdin, at most `limit`: (success, stdout, stderr).
fn run(cmd: &mut Command, input: &[u8], limit: Duration) -> (bool, String, String) {
    let program = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        None => panic!("{program} did not finish within {limit:?}\n{out}\n{err}"),
        Some(s) => (s.success(), out, err),
    }
}

/// Builds the module from a copy of selinux/ in `dir`; returns the .pp.
fn build_module(dir: &Path) -> PathBuf {
    let src = dir.join("module");
    std::fs::create_dir_all(&src).unwrap();
    for name in ["keepalived_rs.te", "keepalived_rs.if", "keepalived_rs.fc"] {
        std::fs::copy(repo().join("selinux").join(name), src.join(name)).unwrap();
    }
    let (ok, out, err) = run(
        Command::new("make")
            .args([
                "-f",
                "/usr/share/selinux/devel/Makefile",
                "NAME=default",
                "keepalived_rs.pp",
            ])
            .current_dir(&src),
        b"",
        Duration::from_secs(120),
    );
    assert!(ok, "the module does not build:\n{out}\n{err}");
    // checkmodule and m4 warnings (an unknown interface, a duplicate declaration) are
    // errors here.
    let noise: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| l.to_lowercase().contains("warning") || l.contains("ERROR"))
        .collect();
    assert!(
        noise.is_empty(),
        "the module builds with warnings:\n{}",
        noise.join("\n")
    );
    src.join("keepalived_rs.pp")
}

/// Links `pp` into a copy of the system's policy store under `dir`; returns the kernel
/// policy file written.
fn link_into_store_copy(dir: &Path, pp: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("var/lib/selinux")).unwrap();
    std::fs::create_dir_all(root.join("etc/selinux")).unwrap();
    for (from, to) in [
        ("/var/lib/selinux/default", "var/lib/selinux"),
        ("/etc/selinux/default", "etc/selinux"),
    ] {
        let (ok, out, err) = run(
            Command::new("cp").args(["-a", from]).arg(root.join(to)),
            b"",
            Duration::from_secs(60),
        );
        assert!(
            ok,
            "cannot copy {from} (is selinux-policy-default installed?)\n{out}{err}"
        );
    }
    // expand-check=1: the link also checks every neverallow of the reference policy.
    std::fs::write(
        root.join("etc/selinux/semanage.conf"),
        "module-store = direct\nexpand-check = 1\n",
    )
    .unwrap();
    let (ok, out, err) = run(
        Command::new("semodule")
            .arg("-p")
            .arg(&root)
            .args(["-s", "default", "-n", "-i"])
            .arg(pp),
        b"",
        Duration::from_secs(300),
    );
    assert!(
        ok,
        "semodule cannot link the module into the policy:\n{out}\n{err}"
    );
    let policy_dir = root.join("etc/selinux/default/policy");
    std::fs::read_dir(&policy_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("policy."))
        })
        .unwrap_or_else(|| panic!("no policy.NN in {}", policy_dir.display()))
}

/// The answers of tests/selinux/query.py: (boolean defaults, rules per check).
fn query(policy: &Path, checks: &[Check]) -> (Value, Vec<Vec<Value>>) {
    let request = json!({
        "policy": policy,
        "queries": checks.iter().map(|c| c.query.clone()).collect::<Vec<_>>(),
    });
    let (ok, out, err) = run(
        Command::new("/usr/bin/python3").arg(repo().join("tests/selinux/query.py")),
        request.to_string().as_bytes(),
        Duration::from_secs(300),
    );
    assert!(ok, "query.py failed:\n{err}");
    let answer: Value = serde_json::from_str(&out).expect("query.py's JSON");
    let results = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r.as_array().expect("rules").clone())
        .collect::<Vec<_>>();
    assert_eq!(results.len(), checks.len());
    (answer["booleans"].clone(), results)
}

/// The labels the module's file contexts give the installed layout.
fn check_file_contexts(root: &Path, failures: &mut Vec<String>) {
    let fc = root.join("etc/selinux/default/contexts/files/file_contexts");
    let expected = [
        ("/usr/sbin/keepalived-rs", "keepalived_rs_exec_t"),
        ("/sbin/keepalived-rs", "keepalived_rs_exec_t"),
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-vrrp",
            "keepalived_rs_vrrp_exec_t",
        ),
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-check",
            "keepalived_rs_check_exec_t",
        ),
        (
            "/usr/libexec/keepalived-rs/keepalived-rs-ipvs",
            "keepalived_rs_ipvs_exec_t",
        ),
        ("/etc/keepalived-rs", "keepalived_rs_conf_t"),
        ("/etc/keepalived-rs/keepalived.conf", "keepalived_rs_conf_t"),
        (
            "/etc/keepalived-rs/conf.d/vrrp.conf",
            "keepalived_rs_conf_t",
        ),
        (
            "/etc/keepalived-rs/scripts/notify",
            "keepalived_rs_script_exec_t",
        ),
        (
            "/etc/keepalived-rs/check_haproxy.sh",
            "keepalived_rs_script_exec_t",
        ),
        (
            "/usr/libexec/keepalived-rs/scripts/notify",
            "keepalived_rs_script_exec_t",
        ),
        (
            "/etc/keepalived-rs/unconfined/x",
            "keepalived_rs_unconfined_script_exec_t",
        ),
        ("/run/keepalived-rs", "keepalived_rs_runtime_t"),
        ("/run/keepalived-rs/control.sock", "keepalived_rs_runtime_t"),
        (
            "/var/run/keepalived-rs/keepalived-rs.pid",
            "keepalived_rs_runtime_t",
        ),
        (
            "/usr/lib/systemd/system/keepalived-rs.service",
            "keepalived_rs_unit_t",
        ),
        (
            "/lib/systemd/system/keepalived-rs.service",
            "keepalived_rs_unit_t",
        ),
        // Not ours: keepalived's own files keep their labels.
        ("/etc/keepalived/keepalived.conf", "etc_t"),
    ];
    let mut cmd = Command::new("matchpathcon");
    cmd.arg("-f").arg(&fc);
    for (path, _) in expected {
        cmd.arg(path);
    }
    let (ok, out, err) = run(&mut cmd, b"", Duration::from_secs(60));
    assert!(ok, "matchpathcon failed:\n{out}\n{err}");
    for (path, ty) in expected {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or("");
        if !line.contains(&format!(":{ty}:")) {
            failures.push(format!("{path}: expected {ty}, got {line:?}"));
        }
    }
}

#[test]
fn selinux_module_gives_each_process_only_what_it_does() {
    let started = Instant::now();
    let dir = support::TempDir::new("selinux");
    let pp = build_module(dir.path());
    let policy = link_into_store_copy(dir.path(), &pp);
    let checks = checks();

    // Two questions asked with the sesearch command itself, beside the batch.
    let policy_arg = policy.clone();
    let cli = std::thread::spawn(move || {
        let ask = |args: &[&str]| {
            run(
                Command::new("sesearch").args(args).arg(&policy_arg),
                b"",
                Duration::from_secs(120),
            )
        };
        (
            ask(&[
                "-A",
                "-s",
                VRRP,
                "-t",
                VRRP,
                "-c",
                "rawip_socket",
                "-p",
                "create",
            ]),
            ask(&[
                "-A",
                "-s",
                IPVS,
                "-t",
                IPVS,
                "-c",
                "tcp_socket,udp_socket,rawip_socket,packet_socket,icmp_socket",
                "-p",
                "create",
            ]),
        )
    });

    let (booleans, answers) = query(&policy, &checks);
    let mut failures = Vec::new();
    for (check, rules) in checks.iter().zip(&answers) {
        if let Err(why) = check.evaluate(rules) {
            failures.push(format!("{}\n  {why}", check.sesearch()));
        }
    }

    // The booleans start closed, except probes from scripts to any port.
    for (name, default) in [
        ("keepalived_rs_check_raw", false),
        ("keepalived_rs_check_fwmark", false),
        ("keepalived_rs_check_bind_reserved", false),
        ("keepalived_rs_netns", false),
        ("keepalived_rs_script_connect_any", true),
    ] {
        if booleans[name] != default {
            failures.push(format!(
                "boolean {name}: expected default {default}, got {}",
                booleans[name]
            ));
        }
    }

    check_file_contexts(&dir.path().join("root"), &mut failures);

    let ((ok1, vrrp_raw, e1), (ok2, ipvs_ip, e2)) = cli.join().unwrap();
    assert!(ok1 && ok2, "sesearch failed: {e1}{e2}");
    if !vrrp_raw.contains("allow keepalived_rs_vrrp_t keepalived_rs_vrrp_t:rawip_socket") {
        failures.push(format!("sesearch: no raw socket for VRRP: {vrrp_raw:?}"));
    }
    if !ipvs_ip.trim().is_empty() {
        failures.push(format!(
            "sesearch: IP sockets for the IPVS writer:\n{ipvs_ip}"
        ));
    }

    // The checks can fail: the same rules judged against the opposite expectations.
    let flipped = |c: &Check, expect: Expect| Check {
        query: c.query.clone(),
        expect,
    };
    let raw = |d: &str| {
        checks
            .iter()
            .zip(&answers)
            .find(|(c, _)| {
                c.query["source"] == d
                    && c.query["class"] == json!(["rawip_socket"])
                    && c.query["perms"] == json!(["create"])
            })
            .unwrap()
    };
    let (vrrp_check, vrrp_rules) = raw(VRRP);
    let (ipvs_check, ipvs_rules) = raw(IPVS);
    let (check_check, check_rules) = raw(CHECK);
    assert!(
        flipped(vrrp_check, Expect::Denied)
            .evaluate(vrrp_rules)
            .is_err()
    );
    assert!(
        flipped(ipvs_check, Expect::Allowed)
            .evaluate(ipvs_rules)
            .is_err()
    );
    assert!(
        flipped(check_check, Expect::Allowed)
            .evaluate(check_rules)
            .is_err()
    );
    assert!(
        flipped(check_check, Expect::Denied)
            .evaluate(check_rules)
            .is_err()
    );
    assert!(
        flipped(check_check, Expect::OnlyWith("keepalived_rs_netns"))
            .evaluate(check_rules)
            .is_err()
    );

    // A misspelt name is an error, not a check that finds nothing.
    let typo = Check {
        query: allow(IPVS, Some(IPVS), &["rawip_sockett"], &["create"]),
        expect: Expect::Denied,
    };
    let request = json!({"policy": policy, "queries": [typo.query]});
    let (ok, _, err) = run(
        Command::new("/usr/bin/python3").arg(repo().join("tests/selinux/query.py")),
        request.to_string().as_bytes(),
        Duration::from_secs(120),
    );
    assert!(
        !ok && err.contains("unknown class 'rawip_sockett'"),
        "query.py accepted an unknown class: {err}"
    );

    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
    eprintln!(
        "selinux: {} checks passed against {} in {:.1?}",
        checks.len(),
        policy.display(),
        started.elapsed()
    );
}
