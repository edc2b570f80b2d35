//! keepalived's own sample configurations (../shared/keepalived-samples): the clean ones load
//! with no error, the ones keepalived flags are flagged here for the same reason on the same
//! line, and every one survives conf -> model -> TOML -> model unchanged.

use std::path::{Path, PathBuf};

use keepalived_config::{Config, LexOptions, LoadOptions, Loaded, Severity, load, load_toml};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keepalived-samples")
}

fn load_sample(name: &str, config_id: &str) -> Loaded {
    let opts = LoadOptions {
        lex: LexOptions {
            config_id: config_id.into(),
            ..LexOptions::default()
        },
    };
    load(&samples_dir().join(name), &opts)
}

fn show(l: &Loaded) -> String {
    l.diagnostics
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a sample must produce: errors exactly on `error_lines` (each containing its text),
/// and warnings at least on `warning_lines`.
struct Expect {
    file: &'static str,
    config_id: &'static str,
    errors: &'static [(u32, &'static str)],
    warnings: &'static [(u32, &'static str)],
}

const fn clean(file: &'static str) -> Expect {
    Expect {
        file,
        config_id: "",
        errors: &[],
        warnings: &[],
    }
}

const EXPECT: &[Expect] = &[
    // Old lb_algo / lb_kind spellings: deprecated, still clean.
    Expect {
        file: "keepalived.conf.HTTP_GET.port",
        config_id: "",
        errors: &[],
        warnings: &[],
    },
    clean("keepalived.conf.IPv6"),
    clean("keepalived.conf.PING_CHECK"),
    clean("keepalived.conf.UDP_CHECK"),
    clean("keepalived.conf.SMTP_CHECK"),
    // keepalived: "initial MASTER incompatible with AH"; we also do not build AH yet.
    Expect {
        file: "keepalived.conf.SSL_GET",
        config_id: "",
        errors: &[(14, "AH"), (20, "AH")],
        warnings: &[],
    },
    Expect {
        file: "keepalived.conf.conditional_conf",
        config_id: "high",
        errors: &[],
        warnings: &[],
    },
    Expect {
        file: "keepalived.conf.conditional_conf",
        config_id: "low",
        errors: &[],
        warnings: &[],
    },
    // keepalived: "protocol specified for fwmark - protocol will be ignored".
    Expect {
        file: "keepalived.conf.fwmark",
        config_id: "",
        errors: &[(12, "fwmark")],
        warnings: &[],
    },
    clean("keepalived.conf.inhibit"),
    clean("keepalived.conf.misc_check"),
    clean("keepalived.conf.misc_check_arg"),
    clean("keepalived.conf.quorum"),
    clean("keepalived.conf.sample"),
    clean("keepalived.conf.status_code"),
    clean("keepalived.conf.track_interface"),
    clean("keepalived.conf.virtual_server_group"),
    clean("keepalived.conf.virtualhost"),
    // keepalived: "VIP duplicates a VIP 192.168.200.18".
    Expect {
        file: "keepalived.conf.vrrp",
        config_id: "",
        errors: &[(32, "192.168.200.18")],
        warnings: &[],
    },
    // keepalived: script security not enabled (a system check of `keepalived-rs -t`, tested in
    // the CLI's tests); the configuration itself is sound.
    clean("keepalived.conf.vrrp.localcheck"),
    // keepalived: unknown keyword; the sync group lists instances without `group { }`.
    Expect {
        file: "keepalived.conf.vrrp.lvs_syncd",
        config_id: "",
        errors: &[
            (3, "group"),
            (4, "unknown keyword 'VI_2'"),
            (5, "unknown keyword 'VI_3'"),
        ],
        warnings: &[(11, "lvs_sync_daemon_interface")],
    },
    // keepalived: `or` and `gw` are deprecated.
    Expect {
        file: "keepalived.conf.vrrp.routes",
        config_id: "",
        errors: &[],
        warnings: &[(30, "or"), (32, "gw")],
    },
    // keepalived: `192.168.100./24` is not an address.
    Expect {
        file: "keepalived.conf.vrrp.rules",
        config_id: "",
        errors: &[(11, "192.168.100./24"), (26, "192.168.200./24")],
        warnings: &[],
    },
    clean("keepalived.conf.vrrp.scripts"),
    clean("keepalived.conf.vrrp.static_ipaddress"),
    clean("keepalived.conf.vrrp.sync"),
];

#[test]
fn every_sample_file_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("../shared/keepalived-samples")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("keepalived.conf"))
        .collect();
    names.sort();
    for n in &names {
        assert!(
            EXPECT.iter().any(|e| e.file == n),
            "sample {n} has no expectation"
        );
    }
    assert_eq!(names.len(), 25);
}

#[test]
fn samples_are_flagged_as_keepalived_flags_them() {
    let mut failures = Vec::new();
    for e in EXPECT {
        let l = load_sample(e.file, e.config_id);
        let errors: Vec<_> = l
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        for (line, text) in e.errors {
            if !errors
                .iter()
                .any(|d| d.line == *line && d.to_string().contains(text))
            {
                failures.push(format!(
                    "{} (-i {}): no error containing '{text}' on line {line}:\n{}",
                    e.file,
                    e.config_id,
                    show(&l)
                ));
            }
        }
        for d in &errors {
            if !e.errors.iter().any(|(line, _)| *line == d.line) {
                failures.push(format!(
                    "{} (-i {}): unexpected error: {d}",
                    e.file, e.config_id
                ));
            }
        }
        for (line, text) in e.warnings {
            if !l.diagnostics.iter().any(|d| {
                d.severity == Severity::Warning && d.line == *line && d.to_string().contains(text)
            }) {
                failures.push(format!(
                    "{}: no warning containing '{text}' on line {line}:\n{}",
                    e.file,
                    show(&l)
                ));
            }
        }
        for d in &l.diagnostics {
            assert!(d.file.ends_with(e.file), "{d} names another file");
            assert!(d.line > 0 || d.severity == Severity::Error || d.severity == Severity::Warning);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn clean_samples_are_not_empty_models() {
    let l = load_sample("keepalived.conf.sample", "");
    assert!(l.is_ok(), "{}", show(&l));
    assert_eq!(l.config.vrrp_instances.len(), 1);
    assert_eq!(l.config.virtual_servers.len(), 1);
}

#[test]
fn samples_round_trip_through_toml() {
    for e in EXPECT {
        let l = load_sample(e.file, e.config_id);
        let toml = l
            .config
            .to_toml()
            .unwrap_or_else(|err| panic!("{}: to TOML: {err}", e.file));
        let back = load_toml("round-trip.toml", &toml);
        let parse_errors: Vec<_> = back.diagnostics.iter().filter(|d| d.line > 0).collect();
        assert!(
            parse_errors.is_empty(),
            "{}: TOML does not load back:\n{toml}\n{parse_errors:?}",
            e.file
        );
        assert_eq!(
            back.config, l.config,
            "{}: conf -> TOML -> model differs\n{toml}",
            e.file
        );
        // JSON is what `config dump --json` prints; it must at least serialise.
        let json = serde_json::to_string(&l.config).expect("json");
        let _: serde_json::Value = serde_json::from_str(&json).expect("json parses");
        let _ = Config::default();
    }
}
