//! Property and stress tests of loading: no input panics, hangs or floods.
//!
//! - arbitrary strings and arbitrary sequences of config-like tokens load without a panic,
//!   in bounded time, and every diagnostic that names the input file has a line;
//! - hostile inputs (a 10 MB line, 100,000 nested braces, a file that includes itself,
//!   recursive and exponential macros, huge sequences) finish quickly with a bounded number
//!   of diagnostics.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use keepalived_config::lexer::MAX_DIAGNOSTICS;
use keepalived_config::{LexOptions, LoadOptions, Loaded, load, load_str};
use proptest::prelude::*;

const NAME: &str = "fuzz.conf";

/// Generous: the stress inputs take well under a second in a debug build; this only catches
/// runaway loops on a loaded CI machine.
const SLOW: Duration = Duration::from_secs(20);

/// More than this many diagnostics for one input means something floods (the lexer, the
/// tree and the block parsers may each report up to MAX_DIAGNOSTICS).
const MANY: usize = 3 * MAX_DIAGNOSTICS + 100;

fn opts() -> LoadOptions {
    LoadOptions {
        lex: LexOptions {
            config_id: "lb1".into(),
            ..LexOptions::default()
        },
    }
}

/// Loads `text` and checks the invariants every load must keep.
fn check(text: &str) -> Loaded {
    let t0 = Instant::now();
    let loaded = load_str(NAME, text, &opts());
    let took = t0.elapsed();
    assert!(took < SLOW, "loading took {took:?}");
    invariants(&loaded, NAME);
    loaded
}

/// Messages allowed to name the input file without a line (none: every problem has a place).
const KNOWN_WITHOUT_LINE: &[&str] = &[];

fn invariants(loaded: &Loaded, name: &str) {
    assert!(
        loaded.diagnostics.len() <= MANY,
        "{} diagnostics",
        loaded.diagnostics.len()
    );
    for d in &loaded.diagnostics {
        if d.file == name && !KNOWN_WITHOUT_LINE.iter().any(|k| d.message.contains(k)) {
            assert!(d.line >= 1, "diagnostic without a line: {d}");
        }
        // Display never panics and always names the severity.
        let s = d.to_string();
        assert!(s.contains("error") || s.contains("warning"), "{s}");
    }
    assert_eq!(loaded.files.first().map(String::as_str), Some(name));
}

/// Pieces that exercise every lexer rule: keywords, braces, quotes, comments, macros,
/// sequences, conditionals and includes (of files that do not exist).
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "global_defs", "vrrp_instance", "VI_1", "virtual_server", "real_server",
            "virtual_ipaddress", "router_id", "priority", "interface", "eth0", "state",
            "MASTER", "TCP_CHECK", "script", "notify", "track_script", "vrrp_script",
            "use_pid_dir", "instance", "child_wait_time", "static_ipaddress", "SSL",
        ]).prop_map(str::to_string),
        6 => prop::sample::select(vec![
            "{", "}", "{", "}", "\"", "'", "#", "!", "\\", "\\#", "=", "\n", "\n", "\n", " ", "\t",
            "$X=", "$Y=", "$X", "${X}", "$Y", "${Y}", "${_RANDOM}", "${_INSTANCE}", "${_HASH}",
            "$X=\\", "~SEQ(", "~SEQx(", "~LST(", "i,", "1,", "3)", "(", ")", "$i", "${i}",
            "@lb1", "@lb2", "@^lb1", "@", "include", "includea", "includem",
            "no-such-file-here.conf", "no-such-dir/*.conf", "{a,b}.conf",
            "192.0.2.1/24", "2001:db8::1", "100", "-1", "1.5", "\0", "\r", "é",
        ]).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<String>(),
    ]
}

/// A sequence of tokens joined by a space or nothing.
fn config_like() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), prop::bool::ANY), 0..160).prop_map(|v| {
        let mut s = String::new();
        for (t, space) in v {
            s.push_str(&t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn config_like_tokens_never_panic(s in config_like()) {
        check(&s);
    }

    #[test]
    fn config_like_lines_never_panic(lines in prop::collection::vec(config_like(), 0..12)) {
        check(&lines.join("\n"));
    }
}

/// A unique temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "krs-proptest-{tag}-{}-{}",
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
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn check_file(path: &Path) -> Loaded {
    let t0 = Instant::now();
    let loaded = load(path, &opts());
    assert!(t0.elapsed() < SLOW, "loading took {:?}", t0.elapsed());
    invariants(&loaded, &path.display().to_string());
    loaded
}

#[test]
fn a_ten_megabyte_line() {
    let line = "x".repeat(10 * 1024 * 1024);
    let l = check(&format!("{line}\nuse_pid_dir\n"));
    assert!(!l.is_ok());
    assert!(l.config.root.use_pid_dir, "the line after it is still read");
    let l = check(&format!("global_defs {{ router_id {line} }}"));
    assert!(!l.is_ok());
    let l = check(&format!("\"{line}"));
    assert!(!l.is_ok());
}

#[test]
fn a_hundred_thousand_nested_braces() {
    check(&"{".repeat(100_000));
    check(&"{\n".repeat(100_000));
    let deep = format!(
        "vrrp_instance VI_1 {}{}",
        "a {\n".repeat(100_000),
        "}\n".repeat(100_000)
    );
    let l = check(&deep);
    assert!(!l.is_ok());
}

#[test]
fn a_file_that_includes_itself() {
    let d = TempDir::new("self");
    let a = d.file("a.conf", "include a.conf\nuse_pid_dir\n");
    let l = check_file(&a);
    assert!(!l.is_ok());
    assert!(l.config.root.use_pid_dir);
    // By absolute path, and through a glob.
    let b = d.0.join("b.conf");
    fs::write(&b, format!("include {}\ninclude *.conf\n", b.display())).expect("write");
    let l = check_file(&b);
    assert!(!l.is_ok());
    // Two files including each other.
    let c = d.file("c.conf", "include e.conf\n");
    d.file("e.conf", "include c.conf\n");
    let l = check_file(&c);
    assert!(!l.is_ok());
}

#[test]
fn recursive_macros() {
    for text in [
        "$A=$A\n$A\n",
        "$A=$A $A\n$A\n",
        "$A=${B}\n$B=${A}\n${A}\n",
        "$A=\\\n$A \\\n$A\n$A\n",
    ] {
        let l = check(text);
        assert_eq!(l.errors().count(), 1, "{text:?}: {:?}", l.diagnostics);
    }
    // Doubling at every level: 2^40 words if nothing bounded it.
    let mut s = String::from("$M0=word\n");
    for i in 1..=40 {
        s.push_str(&format!("$M{i}=$M{} $M{}\n", i - 1, i - 1));
    }
    s.push_str("$M40\nuse_pid_dir\n");
    let l = check(&s);
    assert_eq!(l.errors().count(), 1, "{:?}", l.diagnostics);
    assert!(l.config.root.use_pid_dir, "the line after it is still read");
}

#[test]
fn huge_sequences() {
    let l = check("~SEQ(i,1,100000000) use_pid_dir\n");
    assert_eq!(l.errors().count(), 1, "{:?}", l.diagnostics);
    let l = check("~SEQ(i,1,100000) ~SEQ(j,1,100000) use_pid_dir\n");
    assert_eq!(l.errors().count(), 1, "{:?}", l.diagnostics);
    let l = check("~SEQ(i,1,100000) use_pid_dir\n");
    assert!(l.is_ok(), "{:?}", l.diagnostics);
}

/// Inputs that produce one problem per line: every stage caps its diagnostics
/// (MAX_DIAGNOSTICS), and the block parsers stop reading once the cap is reached.
#[test]
fn one_problem_per_line_does_not_flood() {
    check(&"}".repeat(100_000));
    check(&"{}".repeat(100_000));
    check(&"global_defs {\n".repeat(100_000));
    check("~SEQ(i,1,20000) bogus_$i\n");
    check(&"bogus 1\n".repeat(200_000));
}

#[test]
fn unterminated_definition_has_a_line() {
    let l = load_str(NAME, "use_pid_dir\n$X=\\\nfoo \\\n", &opts());
    assert_eq!(l.errors().count(), 1, "{:?}", l.diagnostics);
    assert!(
        l.diagnostics.iter().all(|d| d.line >= 1),
        "{:?}",
        l.diagnostics
    );
}
