//! Integration tests of the keepalived-rs binary: exit codes, where the messages go, and
//! that checking a configuration creates nothing.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_keepalived-rs");

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "krs-cli-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).expect("write temp file");
        p
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    run_in(args, None)
}

/// Runs the binary with a fixed config id (so `@` lines do not depend on the host) and, when
/// `cwd` is given, in that directory with TMPDIR and HOME pointing inside it.
fn run_in(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d)
            .env("TMPDIR", d.join("tmp"))
            .env("HOME", d.join("home"));
    }
    c.output().expect("run keepalived-rs")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

const CLEAN: &str = "# a clean configuration\nglobal_defs {\n}\nuse_pid_dir\ninstance lb\n";
const UNKNOWN: &str = "global_defs {\n}\n\nbogus_keyword 1\n";

#[test]
fn clean_config_test_exits_0_and_prints_nothing_on_stdout() {
    let d = TempDir::new("clean");
    let f = d.file("k.conf", CLEAN);
    let o = run(&["-t", "-f", p(&f)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains(&format!("0 errors, 0 warnings in {}", f.display())),
        "{}",
        stderr(&o)
    );
    let o = run(&["--config-test", "--use-file", p(&f)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn unknown_root_keyword_exits_4_with_file_line_column() {
    let d = TempDir::new("unknown");
    let f = d.file("k.conf", UNKNOWN);
    let o = run(&["-t", "-f", p(&f)]);
    assert_eq!(code(&o), 4);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:4:1: error:", f.display())),
        "{err}"
    );
    assert!(err.contains("bogus_keyword"), "{err}");
    assert!(err.contains("1 error, 0 warnings in"), "{err}");
}

#[test]
fn missing_file_exits_6() {
    let d = TempDir::new("missing");
    let f = d.path().join("does-not-exist.conf");
    let o = run(&["-t", "-f", p(&f)]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    assert!(stderr(&o).contains("does-not-exist.conf"), "{}", stderr(&o));
    // A directory is not a configuration file either.
    let o = run(&["-t", "-f", p(d.path())]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    let o = run(&["config", "check", "-f", p(&f)]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
}

#[test]
fn config_test_log_file_gets_the_report() {
    let d = TempDir::new("log");
    let f = d.file("k.conf", UNKNOWN);
    for (i, form) in ["-t=", "-t", "--config-test="].iter().enumerate() {
        let log = d.path().join(format!("check-{i}.log"));
        let arg = format!("{form}{}", log.display());
        let o = run(&[&arg, "-f", p(&f)]);
        assert_eq!(code(&o), 4, "{arg}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{arg}");
        assert_eq!(stderr(&o), "", "{arg}");
        let text = fs::read_to_string(&log).expect("log written");
        assert!(text.contains(":4:1: error:"), "{arg}: {text}");
        assert!(text.ends_with(&format!("1 error, 0 warnings in {}\n", f.display())));
    }
    // A bare -t followed by a file name does not take it as the log file.
    let o = run(&["-t", p(&f)]);
    assert_ne!(code(&o), 0);
    assert_eq!(fs::read_to_string(&f).expect("still there"), UNKNOWN);
}

#[test]
fn unwritable_log_file_is_a_failure() {
    let d = TempDir::new("badlog");
    let f = d.file("k.conf", CLEAN);
    let log = d.path().join("no-such-dir").join("x.log");
    let o = run(&[&format!("-t={}", log.display()), "-f", p(&f)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
}

#[test]
fn signum_prints_keepalived_numbers() {
    for (name, n) in [
        ("STOP", "15"),
        ("RELOAD", "1"),
        ("DATA", "10"),
        ("STATS", "12"),
        ("STATS_CLEAR", "63"),
        ("JSON", "36"),
    ] {
        let o = run(&[&format!("--signum={name}")]);
        assert_eq!(code(&o), 0, "{name}");
        assert_eq!(stdout(&o), format!("{n}\n"));
    }
    let o = run(&["--signum", "RELOAD"]);
    assert_eq!(stdout(&o), "1\n");
    let o = run(&["--signum=TDUMP"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("Unknown sigfunc TDUMP"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn convert_and_dump_a_small_file() {
    let d = TempDir::new("convert");
    let f = d.file("k.conf", CLEAN);
    let o = run(&["config", "convert", "-f", p(&f)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let toml = stdout(&o);
    assert!(toml.contains("instance = \"lb\""), "{toml}");
    assert!(toml.contains("use_pid_dir = true"), "{toml}");
    // The TOML form reads back without a problem.
    let t = d.file("k.toml", &toml);
    let o = run(&["-t", "-f", p(&t)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let o = run(&["config", "dump", "--json", "-f", p(&f)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["root"]["instance"], "lb");
    assert_eq!(v["root"]["use_pid_dir"], true);
    // The TOML file dumps to the same model.
    let o2 = run(&["config", "dump", "-f", p(&t)]);
    assert_eq!(code(&o2), 0, "{}", stderr(&o2));
    assert_eq!(stdout(&o), stdout(&o2));
}

#[test]
fn convert_and_dump_refuse_configs_with_errors() {
    let d = TempDir::new("refuse");
    let f = d.file("k.conf", UNKNOWN);
    for sub in ["convert", "dump"] {
        let o = run(&["config", sub, "-f", p(&f)]);
        assert_eq!(code(&o), 4, "{sub}");
        assert_eq!(stdout(&o), "", "{sub}");
        assert!(stderr(&o).contains(":4:1: error:"), "{sub}: {}", stderr(&o));
    }
}

#[test]
fn config_check_is_the_same_as_t() {
    let d = TempDir::new("check");
    let good = d.file("good.conf", CLEAN);
    let bad = d.file("bad.conf", UNKNOWN);
    let o = run(&["config", "check", "-f", p(&good)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let a = run(&["config", "check", "-f", p(&bad)]);
    let b = run(&["-t", "-f", p(&bad)]);
    assert_eq!(code(&a), 4);
    assert_eq!(stderr(&a), stderr(&b));
}

#[test]
fn config_id_and_all_config_reach_the_lexer() {
    let d = TempDir::new("id");
    let f = d.file(
        "k.conf",
        "@lb1 bogus_keyword 1\ninclude does-not-exist-here.conf\n",
    );
    let o = run(&["-t", "-i", "lb2", "-f", p(&f)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["-t", "--config-id=lb1", "-f", p(&f)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains(":1:"), "{}", stderr(&o));
    // -e makes the missing include an error.
    let o = run(&["-t", "-i", "lb2", "-e", "-f", p(&f)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains(":2:"), "{}", stderr(&o));
    let o = run(&["config", "check", "-i", "lb2", "--all-config", "-f", p(&f)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let o = run(&["config", "dump", "-i", "lb1", "-f", p(&f)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
}

#[test]
fn keywords_prints_the_table() {
    let o = run(&["config", "keywords"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("# keepalived.conf keywords"));
}

#[test]
fn the_daemon_refuses_a_configuration_with_errors_and_starts_nothing() {
    // The daemon itself is tested in tests/daemon.rs, in network namespaces; this one stops
    // before it creates or starts anything.
    let d = TempDir::new("daemon");
    let f = d.file("k.conf", "global_defs {\n    routr_id x\n}\n");
    let run_dir = d.path().join("run");
    let o = run_in(
        &["-n", "-l", "-G", "-f", p(&f), "--runtime-dir", p(&run_dir)],
        Some(d.path()),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("k.conf:2:5"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing applied"), "{}", stderr(&o));
    assert!(!run_dir.exists(), "the runtime directory was created");
}

#[test]
fn version_and_help() {
    let o = run(&["-v"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("keepalived-rs "), "{}", stdout(&o));
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    for flag in [
        "--use-file",
        "--config-test",
        "--signum",
        "--dont-release-vrrp",
        "--all-config",
    ] {
        assert!(stdout(&o).contains(flag), "{flag}");
    }
    let o = run(&["-S", "local9"]);
    assert_eq!(code(&o), 2);
}

/// Every file under `dir`, relative to it.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    todo.push(path.clone());
                }
                out.insert(path.strip_prefix(dir).unwrap_or(&path).to_path_buf());
            }
        }
    }
    out
}

/// keepalived's own runtime files in the system temp dir (its dump files live there).
fn keepalived_files_in_temp() -> BTreeSet<PathBuf> {
    listing(&std::env::temp_dir())
        .into_iter()
        .filter(|p| p.components().count() == 1 && p.to_string_lossy().starts_with("keepalived"))
        .collect()
}

#[test]
fn config_test_creates_no_file() {
    let d = TempDir::new("nofile");
    fs::create_dir_all(d.path().join("tmp")).expect("tmp");
    fs::create_dir_all(d.path().join("home")).expect("home");
    let good = d.file("good.conf", CLEAN);
    let bad = d.file("bad.conf", UNKNOWN);
    let before = listing(d.path());
    let temp_before = keepalived_files_in_temp();
    for args in [
        vec!["-t", "-f", p(&good)],
        vec!["-t", "-f", p(&bad)],
        vec!["-t", "-n", "-l", "-D", "-p", "pidfile", "-f", p(&good)],
        vec!["config", "check", "-f", p(&good)],
        vec!["config", "convert", "-f", p(&good)],
        vec!["config", "dump", "--json", "-f", p(&bad)],
        vec!["-t", "-f", "missing.conf"],
    ] {
        let o = run_in(&args, Some(d.path()));
        assert!(code(&o) >= 0, "{args:?}");
        assert_eq!(listing(d.path()), before, "{args:?} created a file");
    }
    assert_eq!(keepalived_files_in_temp(), temp_before);
}

/// keepalived -t exits 6 on this sample ("SECURITY VIOLATION - scripts are being executed but
/// script_security not enabled"): the same reason, on the first script's line.
#[test]
fn root_scripts_without_script_security_are_flagged() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/keepalived-samples/keepalived.conf.vrrp.localcheck");
    let o = run(&["-t", "-f", p(&sample)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("keepalived.conf.vrrp.localcheck:12:"), "{err}");
    assert!(err.contains("enable_script_security is not set"), "{err}");
}

#[test]
fn the_example_configuration_is_clean() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/keepalived.conf");
    let o = run(&["-t", "-f", p(&example)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/keepalived.toml");
    let o = run(&["-t", "-f", p(&toml)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Both examples are the same configuration.
    let dump = |f: &Path| {
        let o = run(&["config", "dump", "--json", "-f", p(f)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        dump(&example),
        dump(&toml),
        "etc/keepalived.toml and etc/keepalived.conf differ"
    );
}

#[test]
fn check_reports_what_the_daemon_could_only_apply_partly() {
    let d = TempDir::new("partly");
    let f = d.file(
        "k.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    \
         virtual_ipaddress {\n        192.0.2.10/24\n    }\n    virtual_routes {\n        \
         198.51.100.0/24 via 192.0.2.254 mtu 1400\n    }\n}\n",
    );
    let o = run(&["-t", "-f", p(&f)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "k.conf:1:1: error: vrrp_instance VI_1: virtual_routes: 'mtu' is not supported"
        ),
        "{}",
        stderr(&o)
    );
}
