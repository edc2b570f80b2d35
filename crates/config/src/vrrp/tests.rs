//! Tests of the VRRP blocks: the shipped samples, the keyword examples, the checks, and the
//! TOML round trip.

use crate::keywords::{Block, Status};
use crate::lexer::LexOptions;
use crate::{Config, Diagnostic, LoadOptions, Loaded, Severity, load_str, load_toml};

use super::{AuthType, InitialState, KEYWORDS, OldUnicastChecksum, ParamMatch, VrrpInstance};

fn load(text: &str) -> Loaded {
    load_str("t.conf", text, &LoadOptions::default())
}

fn load_id(text: &str, id: &str) -> Loaded {
    let opts = LoadOptions {
        lex: LexOptions {
            config_id: id.to_string(),
            ..LexOptions::default()
        },
    };
    load_str("t.conf", text, &opts)
}

fn sample(name: &str) -> String {
    let path = format!(
        "{}/../../../shared/keepalived-samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (severity, line, a piece of the message) of every diagnostic on `lines`.
fn findings(l: &Loaded, lines: std::ops::RangeInclusive<u32>) -> Vec<(Severity, u32, String)> {
    l.diagnostics
        .iter()
        .filter(|d| lines.contains(&d.line))
        .map(|d| (d.severity, d.line, d.message.clone()))
        .collect()
}

fn errors(l: &Loaded) -> Vec<&Diagnostic> {
    l.errors().collect()
}

fn dump(l: &Loaded) -> String {
    l.diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts exactly the given (severity, line, message piece) findings.
#[track_caller]
fn assert_findings(
    l: &Loaded,
    lines: std::ops::RangeInclusive<u32>,
    want: &[(Severity, u32, &str)],
) {
    let got = findings(l, lines);
    let ok = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.0 == w.0 && g.1 == w.1 && g.2.contains(w.2));
    assert!(ok, "want {want:?}\ngot:\n{}", dump(l));
}

/// Asserts one error containing `piece`, on `line` (0: any line).
#[track_caller]
fn assert_error(l: &Loaded, line: u32, piece: &str) {
    assert!(
        l.errors()
            .any(|d| (line == 0 || d.line == line) && d.message.contains(piece)),
        "no error '{piece}' on line {line}:\n{}",
        dump(l)
    );
}

#[track_caller]
fn assert_clean(l: &Loaded) {
    assert!(l.is_ok(), "unexpected errors:\n{}", dump(l));
}

/// A conf -> model -> TOML -> model round trip.
#[track_caller]
fn round_trip(c: &Config) {
    let text = toml::to_string(c).unwrap_or_else(|e| panic!("to TOML: {e}"));
    let back: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("from TOML: {e}\n{text}"));
    assert_eq!(*c, back, "TOML:\n{text}");
}

/// An instance with the given extra lines (line 1 is `vrrp_instance VI_T {`; the extra
/// lines start at line 9).
fn inst(extra: &str) -> String {
    format!(
        "vrrp_instance VI_T {{\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n virtual_ipaddress {{\n 192.0.2.10/24\n }}\n{extra}\n}}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The shipped samples
// ---------------------------------------------------------------------------------------------

#[test]
fn sample_vrrp_flags_the_duplicate_vip_with_both_lines() {
    let l = load(&sample("keepalived.conf.vrrp"));
    assert_findings(
        &l,
        13..=78,
        &[(
            Severity::Error,
            32,
            "VIP 192.168.200.18 duplicates the VIP (line 28)",
        )],
    );
    assert_eq!(l.config.vrrp_instances.len(), 4);
    let v = &l.config.vrrp_instances[0];
    assert_eq!(v.state, Some(InitialState::Master));
    assert_eq!(v.smtp_alert, Some(true));
    assert_eq!(v.garp_master_delay, Some(crate::Timer::secs(10)));
    assert_eq!(v.virtual_ipaddress.len(), 4);
    assert_eq!(v.virtual_ipaddress[3].label.as_deref(), Some("eth0:1"));
    let a = v
        .authentication
        .as_ref()
        .map(|a| (a.auth_type, a.auth_pass.clone()));
    assert_eq!(a, Some((Some(AuthType::Pass), Some("1111".into()))));
    round_trip(&l.config);
}

#[test]
fn sample_lvs_syncd_reports_the_bare_instance_names_and_the_empty_group() {
    let l = load(&sample("keepalived.conf.vrrp.lvs_syncd"));
    assert_findings(
        &l,
        1..=48,
        &[
            (Severity::Error, 3, "has no 'group { }' block"),
            (
                Severity::Error,
                4,
                "unknown keyword 'VI_2' in vrrp_sync_group",
            ),
            (
                Severity::Error,
                5,
                "unknown keyword 'VI_3' in vrrp_sync_group",
            ),
            (
                Severity::Warning,
                11,
                "'lvs_sync_daemon_interface' is deprecated",
            ),
        ],
    );
    let hint = l
        .diagnostics
        .iter()
        .find(|d| d.line == 4)
        .and_then(|d| d.hint.clone());
    assert!(hint.is_some_and(|h| h.contains("inside 'group { }'")));
    assert!(l.config.vrrp_sync_groups[0].group.is_empty());
    assert_eq!(
        l.config.vrrp_instances[0]
            .lvs_sync_daemon_interface
            .as_deref(),
        Some("eth1")
    );
    round_trip(&l.config);
}

#[test]
fn sample_rules_flags_the_bad_prefix_at_its_word() {
    let l = load(&sample("keepalived.conf.vrrp.rules"));
    assert_findings(
        &l,
        1..=28,
        &[
            (Severity::Warning, 10, "no preference"),
            (
                Severity::Error,
                11,
                "'192.168.100./24' is not an address or prefix",
            ),
            (Severity::Warning, 25, "no preference"),
            (
                Severity::Error,
                26,
                "'192.168.200./24' is not an address or prefix",
            ),
        ],
    );
    let cols: Vec<u32> = l.errors().map(|d| d.column).collect();
    assert_eq!(cols, vec![8, 12]);
    assert_eq!(l.config.static_rules.len(), 1);
    assert_eq!(l.config.vrrp_instances[0].virtual_rules.len(), 1);
    round_trip(&l.config);
}

#[test]
fn sample_routes_has_only_the_deprecation_warnings() {
    let l = load(&sample("keepalived.conf.vrrp.routes"));
    assert_findings(
        &l,
        1..=34,
        &[
            (Severity::Warning, 30, "'or' is deprecated"),
            (Severity::Warning, 32, "'gw' is deprecated"),
        ],
    );
    let hints: Vec<String> = l
        .diagnostics
        .iter()
        .filter_map(|d| d.hint.clone())
        .collect();
    assert!(
        hints[0].contains("nexthop") && hints[1].contains("via"),
        "{hints:?}"
    );
    let v = &l.config.vrrp_instances[0];
    assert_eq!(v.virtual_routes.len(), 7);
    assert_eq!(v.virtual_routes[4].nexthop.len(), 2);
    assert_eq!(
        v.virtual_routes[5].route_type,
        Some(crate::addr::RouteType::Blackhole)
    );
    assert_eq!(v.virtual_routes[6].table.as_deref(), Some("100"));
    assert_eq!(l.config.static_routes.len(), 5);
    assert_eq!(
        l.config.static_routes[0]
            .src
            .map(|a| a.to_string())
            .as_deref(),
        Some("192.168.100.1")
    );
    round_trip(&l.config);
}

#[test]
fn sample_ssl_get_flags_ah_and_the_initial_master() {
    let l = load(&sample("keepalived.conf.SSL_GET"));
    assert_findings(
        &l,
        13..=28,
        &[
            (
                Severity::Error,
                14,
                "initial state MASTER is incompatible with AH",
            ),
            (Severity::Error, 20, "'auth_type AH' is not supported yet"),
        ],
    );
    round_trip(&l.config);
}

#[test]
fn sample_conditional_conf_with_each_config_id() {
    let text = sample("keepalived.conf.conditional_conf");
    for (id, prio, script) in [
        ("high", 170, "/etc/keepalived/scripts/check_high_VI_0.sh"),
        ("low", 85, "/etc/keepalived/scripts/check_low_VI_0.sh"),
    ] {
        let l = load_id(&text, id);
        // Line 3/4 (net_namespace) belong to the top level, not to VRRP.
        assert_findings(&l, 6..=34, &[]);
        let v = &l.config.vrrp_instances[0];
        assert_eq!(v.priority, Some(prio));
        assert_eq!(v.version, Some(3));
        assert!(v.use_vmac.is_some());
        assert_eq!(v.advert_int, crate::Timer::secs(12));
        assert_eq!(v.track_interface[1].weight, Some(20));
        let s = &l.config.vrrp_scripts[0];
        assert_eq!(s.script.as_ref().map(|s| s.command.as_str()), Some(script));
        assert_eq!((s.rise, s.fall), (3, 3));
        round_trip(&l.config);
    }
}

#[test]
fn clean_samples_have_no_vrrp_findings() {
    for (f, vrrp_lines) in [
        ("keepalived.conf.sample", 13..=24),
        ("keepalived.conf.track_interface", 1..=33),
        ("keepalived.conf.vrrp.localcheck", 1..=152),
        ("keepalived.conf.vrrp.scripts", 1..=56),
        ("keepalived.conf.vrrp.static_ipaddress", 1..=27),
        ("keepalived.conf.vrrp.sync", 1..=111),
    ] {
        let l = load(&sample(f));
        assert!(findings(&l, vrrp_lines).is_empty(), "{f}:\n{}", dump(&l));
        round_trip(&l.config);
    }
    let l = load(&sample("keepalived.conf.vrrp.localcheck"));
    let s = &l.config.vrrp_scripts[2];
    assert_eq!(
        s.script.as_ref().map(|s| s.argv.clone()),
        Some(vec!["</dev/tcp/127.0.0.1/80".to_string()])
    );
    assert_eq!(s.weight, -2);
    let v = &l.config.vrrp_instances[0];
    assert_eq!(v.track_script.len(), 5);
    assert_eq!(v.track_interface[2].weight, None);
    let l = load(&sample("keepalived.conf.vrrp.sync"));
    assert_eq!(l.config.vrrp_sync_groups[0].group.len(), 7);
    let g = &l.config.vrrp_sync_groups[0];
    assert_eq!(
        g.notify_backup.as_ref().map(|s| s.argv.clone()),
        Some(vec![
            "/usr/local/bin/vrrp.back".into(),
            "arg1".into(),
            "arg2".into()
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// The keyword table
// ---------------------------------------------------------------------------------------------

const TEST_OBJECTS: &str =
    "vrrp_script chk_t {\n script \"/bin/true\"\n}\ntrack_file tf_t {\n file /run/tf_t\n}\n";
const VI_T: &str = "vrrp_instance VI_T {\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n virtual_ipaddress {\n 192.0.2.10/24\n }\n";

/// The text the lead's test builds for a row, and the line range of the example in it.
fn wrap(block: Block, ex: &str) -> Option<(String, std::ops::RangeInclusive<u32>)> {
    let (before, after) = match block {
        Block::VrrpScript => (
            "vrrp_script chk_t {\n script \"/bin/true\"\n".to_string(),
            "}\n".to_string(),
        ),
        Block::TrackFile => (
            "track_file tf_t {\n file /run/tf_t\n".to_string(),
            "}\n".to_string(),
        ),
        Block::TrackProcess => (
            "vrrp_track_process tp_w {\n process haproxy\n".into(),
            "}\n".into(),
        ),
        Block::SyncGroup => (
            format!("{TEST_OBJECTS}{VI_T}}}\nvrrp_sync_group G_T {{\n group {{\n VI_T\n }}\n"),
            "}\n".to_string(),
        ),
        Block::GarpGroup => ("garp_group {\n interface eth0\n".into(), "}\n".into()),
        Block::VrrpInstance => (format!("{TEST_OBJECTS}{VI_T}"), "}\n".to_string()),
        Block::Authentication => (
            format!("{TEST_OBJECTS}{VI_T}authentication {{\n"),
            "}\n}\n".to_string(),
        ),
        Block::AuthHmac => (
            format!("{TEST_OBJECTS}{VI_T}auth_hmac {{\n"),
            "}\n}\n".to_string(),
        ),
        _ => return None,
    };
    let start = u32::try_from(before.lines().count()).unwrap_or(0) + 1;
    let end = start + u32::try_from(ex.lines().count()).unwrap_or(1) - 1;
    Some((format!("{before}{ex}\n{after}"), start..=end))
}

#[test]
fn every_keyword_example_is_valid_in_its_block() {
    for k in KEYWORDS {
        let Some((text, lines)) = wrap(k.block, k.example) else {
            panic!("no wrapper for {:?}", k.block);
        };
        let l = load(&text);
        let on_lines: Vec<&Diagnostic> = l.errors().filter(|d| lines.contains(&d.line)).collect();
        match k.status {
            Status::Refused { .. } => assert!(
                l.errors().next().is_some(),
                "{:?} {}: refused but no error\n{text}",
                k.block,
                k.name
            ),
            _ if k.block == Block::TrackProcess => {
                // The block is refused at the top level; its keywords are read when the
                // block is parsed directly.
            }
            _ => assert!(
                on_lines.is_empty(),
                "{:?} {}:\n{text}\n{}",
                k.block,
                k.name,
                dump(&l)
            ),
        }
        // The example really exercises its keyword.
        assert!(
            k.example
                .lines()
                .any(|x| x.split_whitespace().next() == Some(k.name)),
            "{} example does not use it",
            k.name
        );
    }
}

#[test]
fn every_keyword_of_the_vrrp_blocks_has_a_row() {
    let want: &[(Block, &[&str])] = &[
        (
            Block::VrrpScript,
            &[
                "script",
                "interval",
                "timeout",
                "weight",
                "rise",
                "fall",
                "user",
                "init_fail",
            ],
        ),
        (Block::TrackFile, &["file", "weight", "init_file"]),
        (
            Block::TrackProcess,
            &[
                "process",
                "param_match",
                "weight",
                "quorum",
                "quorum_max",
                "delay",
                "terminate_delay",
                "fork_delay",
                "full_command",
            ],
        ),
        (
            Block::SyncGroup,
            &[
                "group",
                "track_interface",
                "track_script",
                "track_file",
                "track_process",
                "track_bfd",
                "notify_backup",
                "notify_master",
                "notify_fault",
                "notify_stop",
                "notify",
                "smtp_alert",
                "global_tracking",
                "sync_group_tracking_weight",
                "notify_priority_changes",
            ],
        ),
        (
            Block::GarpGroup,
            &["garp_interval", "gna_interval", "interface", "interfaces"],
        ),
        (
            Block::VrrpInstance,
            &[
                "use_vmac",
                "use_vmac_addr",
                "vmac_xmit_base",
                "use_ipvlan",
                "unicast_peer",
                "unicast_fault_no_peer",
                "check_unicast_src",
                "old_unicast_checksum",
                "native_ipv6",
                "state",
                "interface",
                "vrf",
                "dont_track_primary",
                "track_interface",
                "track_script",
                "track_file",
                "track_process",
                "track_bfd",
                "mcast_src_ip",
                "unicast_src_ip",
                "mcast_dst_ip",
                "track_src_ip",
                "virtual_router_id",
                "unicast_ttl",
                "version",
                "priority",
                "advert_int",
                "virtual_ipaddress",
                "virtual_ipaddress_excluded",
                "no_virtual_ipaddress",
                "promote_secondaries",
                "linkbeat_use_polling",
                "v3_checksum_as_v2",
                "virtual_routes",
                "virtual_rules",
                "accept",
                "no_accept",
                "skip_check_adv_addr",
                "strict_mode",
                "preempt",
                "nopreempt",
                "preempt_delay",
                "debug",
                "notify_backup",
                "notify_master",
                "notify_fault",
                "notify_stop",
                "notify_deleted",
                "notify",
                "notify_master_rx_lower_pri",
                "smtp_alert",
                "notify_priority_changes",
                "lvs_sync_daemon_interface",
                "garp_master_delay",
                "garp_master_refresh",
                "garp_master_repeat",
                "garp_master_refresh_repeat",
                "garp_lower_prio_delay",
                "garp_lower_prio_repeat",
                "down_timer_adverts",
                "timer_expired_backup",
                "thread_timer_expired",
                "garp_extra_if",
                "vmac_garp_intvl",
                "lower_prio_no_advert",
                "higher_prio_send_advert",
                "owner_ignore_adverts",
                "kernel_rx_buf_size",
                "authentication",
                "auth_hmac",
            ],
        ),
        (Block::Authentication, &["auth_type", "auth_pass"]),
        (
            Block::AuthHmac,
            &["key", "active_key", "time_window", "anti_replay", "mode"],
        ),
    ];
    for (block, names) in want {
        for n in *names {
            assert!(
                KEYWORDS.iter().any(|k| k.block == *block && k.name == *n),
                "{block:?} {n} has no row"
            );
        }
        let rows = KEYWORDS.iter().filter(|k| k.block == *block).count();
        assert_eq!(rows, names.len(), "{block:?} has extra rows");
    }
}

// ---------------------------------------------------------------------------------------------
// Instance checks
// ---------------------------------------------------------------------------------------------

#[test]
fn ranges_are_errors_at_the_value() {
    for (line, piece) in [
        (" virtual_router_id 256", "out of range"),
        (" priority 0", "out of range"),
        (" advert_int 0", "out of range"),
        (" advert_int 256", "out of range"),
        (" preempt_delay 1001", "out of range"),
        (" down_timer_adverts 101", "out of range"),
        (" unicast_ttl 256", "out of range"),
        (" version 4", "out of range"),
        (" state FOO", "not valid for 'state'"),
        (" state master", "did you mean 'MASTER'"),
    ] {
        let l = load(&inst(line));
        assert!(
            l.errors().any(|d| d.line == 9
                && d.column > 2
                && (d.message.contains(piece)
                    || d.hint.as_deref().is_some_and(|h| h.contains(piece)))),
            "{line}: {}",
            dump(&l)
        );
    }
}

#[test]
fn advert_int_must_be_representable_in_the_version() {
    assert_clean(&load(&inst(" advert_int 255")));
    assert_error(&load(&inst(" advert_int 1.5")), 9, "whole seconds");
    assert_clean(&load(&inst(" version 3\n advert_int 0.05")));
    assert_clean(&load(&inst(" version 3\n advert_int 40.95")));
    assert_error(
        &load(&inst(" version 3\n advert_int 0.015")),
        10,
        "centiseconds",
    );
    assert_error(
        &load(&inst(" version 3\n advert_int 41")),
        10,
        "centiseconds",
    );
}

#[test]
fn vips_are_one_family_and_ipv6_with_version_2() {
    let l = load(&inst(" virtual_ipaddress {\n 2001:db8::1/64\n }"));
    assert_error(
        &l,
        10,
        "VIP 2001:db8::1 is IPv6 but the instance's first VIP (line 7) is IPv4",
    );
    let v6 = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n version 2\n virtual_ipaddress {\n fe80::1\n 2001:db8::1\n }\n}\n";
    let l = load(v6);
    assert!(l.is_ok(), "{}", dump(&l));
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.line == 4 && d.message.contains("VRRPv2 over IPv6"))
    );
    let l = load(&v6.replace(" version 2\n", " version 2\n strict_mode\n"));
    assert_error(&l, 4, "IPv6 needs VRRP version 3");
    // IPv6 alone is v3; v3 has no authentication.
    let l = load(&v6.replace(
        " version 2\n",
        " authentication {\n auth_type PASS\n auth_pass x\n }\n",
    ));
    assert_error(&l, 4, "VRRPv3 has no authentication");
}

#[test]
fn strict_mode_rules_are_errors() {
    let l = load(&inst(
        " strict_mode\n state MASTER\n preempt_delay 5\n down_timer_adverts 4\n lower_prio_no_advert off\n higher_prio_send_advert\n garp_lower_prio_repeat 1\n garp_lower_prio_delay 2\n authentication {\n auth_type PASS\n auth_pass x\n }\n unicast_peer {\n 192.0.2.9\n }\n accept\n use_vmac 00:11:22:33:44:55\n vmac_xmit_base",
    ));
    for (line, piece) in [
        (10, "state MASTER goes with priority 255"),
        (11, "strict mode does not allow preempt_delay"),
        (12, "down_timer_adverts must be 3"),
        (13, "needs lower_prio_no_advert"),
        (14, "does not allow higher_prio_send_advert"),
        (15, "garp_lower_prio_repeat"),
        (16, "garp_lower_prio_delay"),
        (17, "does not allow authentication"),
        (21, "does not allow unicast peers"),
        (24, "accept mode does not comply"),
        (25, "chosen VMAC MAC"),
        (26, "does not allow vmac_xmit_base"),
    ] {
        assert_error(&l, line, piece);
    }
    // No VIP in strict mode, and no_virtual_ipaddress refused there.
    let l = load(
        "vrrp_instance S {\n interface eth0\n virtual_router_id 3\n strict_mode\n no_virtual_ipaddress\n}\n",
    );
    assert_error(&l, 1, "at least one VIP in strict mode");
    assert_error(&l, 5, "does not allow no_virtual_ipaddress");
    // The first IPv6 VIP must be link-local.
    let l = load(
        "vrrp_instance S {\n interface eth0\n virtual_router_id 3\n strict_mode\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n",
    );
    assert_error(&l, 6, "must be link-local");
    // A clean strict instance.
    assert_clean(&load(&inst(" strict_mode\n state BACKUP")));
    assert_clean(&load(
        "vrrp_instance O {\n interface eth0\n virtual_router_id 3\n strict_mode\n state MASTER\n priority 255\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
    ));
}

#[test]
fn preemption_rules() {
    assert_error(
        &load(&inst(" priority 255\n nopreempt")),
        10,
        "nopreempt is incompatible with priority 255",
    );
    assert_error(
        &load(&inst(" state MASTER\n nopreempt")),
        10,
        "nopreempt does not work with state MASTER",
    );
    assert_error(
        &load(&inst(" state MASTER\n preempt_delay 10")),
        10,
        "does not work with state MASTER",
    );
    assert_error(
        &load(&inst(" nopreempt\n preempt_delay 10")),
        10,
        "incompatible with nopreempt",
    );
    assert_error(&load(&inst(" timer_expired_backup")), 9, "needs nopreempt");
    // `preempt` after `nopreempt` clears it.
    let l = load(&inst(" nopreempt\n preempt\n priority 255"));
    assert_clean(&l);
    assert!(!l.config.vrrp_instances[0].nopreempt);
    // State MASTER without a priority means priority 255.
    let l = load(
        "vrrp_instance M {\n interface eth0\n virtual_router_id 3\n state MASTER\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
    );
    assert_eq!(l.config.vrrp_instances[0].effective_priority(), 255);
    assert_error(
        &load(&inst(" owner_ignore_adverts")),
        9,
        "only applies to priority 255",
    );
    assert_error(
        &load(&inst(" priority 255\n owner_ignore_adverts off")),
        10,
        "always on",
    );
    assert_error(
        &load(&inst(" state MASTER\n state BACKUP")),
        10,
        "already MASTER",
    );
}

#[test]
fn authentication_rules() {
    let l = load(&inst(
        " authentication {\n auth_type PASS\n auth_pass 123456789\n }",
    ));
    let e = errors(&l);
    assert_eq!(e.len(), 1, "{}", dump(&l));
    assert_eq!((e[0].line, e[0].column), (11, 12));
    assert!(e[0].message.contains("only 8 are sent"));
    assert_error(
        &load(&inst(" authentication {\n auth_type PASS\n }")),
        9,
        "needs an auth_pass",
    );
    assert_error(
        &load(&inst(" authentication {\n auth_pass abc\n }")),
        9,
        "no auth_type",
    );
    assert_error(
        &load(&inst(" authentication {\n auth_type MD5\n }")),
        10,
        "not valid for 'auth_type'",
    );
    let l = load(&inst(" auth_hmac {\n key 1 hex:00\n active_key 1\n }"));
    assert_error(&l, 9, "'auth_hmac' is not supported yet");
    assert_eq!(
        errors(&l).len(),
        1,
        "the block's keywords are not read:\n{}",
        dump(&l)
    );
    assert_error(
        &load(&inst(" track_bfd {\n b1\n }")),
        9,
        "'track_bfd' is not supported yet: BFD",
    );
}

#[test]
fn unicast_rules() {
    let l = load(&inst(
        " unicast_src_ip 192.0.2.1\n unicast_peer {\n 2001:db8::2\n 192.0.2.3 min_ttl 200 max_ttl 100\n 192.0.2.3\n 192.0.2.4 192.0.2.5\n 192.0.2.6 ttl 3\n }",
    ));
    assert_error(
        &l,
        11,
        "unicast peer 2001:db8::2 is IPv6 but the instance is IPv4",
    );
    assert_error(&l, 12, "min_ttl 200 is above max_ttl 100");
    assert_error(&l, 13, "already listed (line 12)");
    let d = l
        .errors()
        .find(|d| d.line == 14)
        .map(|d| (d.column, d.hint.clone()));
    assert_eq!(d.map(|x| x.0), Some(12));
    assert!(
        l.errors()
            .any(|d| d.line == 14 && d.hint.as_deref().is_some_and(|h| h.contains("own line")))
    );
    assert_error(&l, 15, "unknown unicast_peer option 'ttl'");
    let l = load(&inst(" unicast_src_ip 192.0.2.1"));
    assert!(l.is_ok());
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.line == 9 && d.message.contains("without unicast_peer"))
    );
    assert_error(&load(&inst(" unicast_ttl 3")), 9, "unicast_ttl has no use");
    assert_error(
        &load(&inst(" use_vmac\n unicast_peer {\n 192.0.2.2\n }")),
        10,
        "needs vmac_xmit_base",
    );
    // No interface: unicast needs a source.
    let l = load(
        "vrrp_instance U {\n virtual_router_id 3\n unicast_peer {\n 192.0.2.2\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
    );
    assert_error(&l, 1, "needs 'unicast_src_ip'");
    let l =
        load("vrrp_instance U {\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n");
    assert_error(&l, 1, "needs an 'interface'");
    assert_error(
        &load(&inst(" mcast_dst_ip 192.0.2.1")),
        9,
        "not a multicast",
    );
}

#[test]
fn vmac_and_ipvlan() {
    let l = load(&inst(
        " use_vmac name vrrp.51 00:00:5e:00:03 netlink_notify_msg",
    ));
    assert_clean(&l);
    let u = l.config.vrrp_instances[0]
        .use_vmac
        .clone()
        .unwrap_or_default();
    assert_eq!(u.name.as_deref(), Some("vrrp.51"));
    assert_eq!(
        u.mac.map(|m| m.to_string()).as_deref(),
        Some("00:00:5e:00:03")
    );
    assert!(u.netlink_notify_msg);
    assert_error(
        &load(&inst(" use_vmac 01:00:5e:00:00:01")),
        9,
        "multicast MAC",
    );
    assert_error(
        &load(&inst(" use_vmac 00:00:5e:00:01:33")),
        9,
        "RFC 5798 VRRP MAC",
    );
    assert_error(
        &load(&inst(" use_vmac this_name_is_too_long")),
        9,
        "not a valid interface name",
    );
    assert_error(
        &load(&inst(" vmac_xmit_base")),
        9,
        "only valid with use_vmac",
    );
    let l = load(&inst(" use_ipvlan ipvl0 bridge"));
    assert_error(&l, 9, "IPv4 ipvlan needs an address");
    let l = load(&inst(" use_ipvlan name ipvl0 192.0.2.7/24 vepa group 3"));
    assert_clean(&l);
    let u = l.config.vrrp_instances[0]
        .use_ipvlan
        .clone()
        .unwrap_or_default();
    assert_eq!(
        u.address.map(|a| a.to_string()).as_deref(),
        Some("192.0.2.7/24")
    );
    let two = format!(
        "{}{}",
        inst(" use_vmac v1"),
        inst(" use_vmac v1")
            .replace("VI_T", "VI_U")
            .replace(" 51", " 52")
            .replace("192.0.2.10", "192.0.2.20")
    );
    assert_error(&load(&two), 19, "VMAC name v1 is already used by 'VI_T'");
}

#[test]
fn duplicate_vips_and_vrid_clashes_across_instances() {
    let a = inst("");
    let b = inst("").replace("VI_T", "VI_U");
    let l = load(&format!("{a}{b}"));
    assert_error(&l, 13, "VRID 51 is already used by 'VI_T' (line 3)");
    assert_error(&l, 17, "VIP 192.0.2.10 is also a VIP of 'VI_T' (line 7)");
    // Another interface or family: no clash.
    let c = b
        .replace("eth0", "eth1")
        .replace("192.0.2.10", "192.0.2.20");
    assert_clean(&load(&format!("{a}{c}")));
    let d = b.replace("192.0.2.10/24", "2001:db8::10/64");
    assert_clean(&load(&format!("{a}{d}")));
    // A second instance of the same name.
    assert_error(
        &load(&format!("{a}{a}")),
        11,
        "vrrp_instance 'VI_T' is already defined (line 1)",
    );
    // VIP / excluded VIP duplicates in one instance.
    let l = load(&inst(
        " virtual_ipaddress_excluded {\n 192.0.2.10/32\n 192.0.2.11\n 192.0.2.11\n }",
    ));
    assert_error(
        &l,
        10,
        "excluded VIP 192.0.2.10 duplicates the VIP (line 7)",
    );
    assert_error(&l, 12, "duplicates the excluded VIP (line 11)");
    // On another interface an excluded VIP may repeat a VIP.
    assert_clean(&load(&inst(
        " virtual_ipaddress_excluded {\n 192.0.2.10/32 dev eth1\n }",
    )));
}

#[test]
fn trackers_refer_to_defined_objects() {
    let l = load(&inst(
        " track_script {\n nope\n chk weight 300\n chk wieght 2\n }\n track_file {\n tf\n }\n track_process {\n tp\n }\n track_interface {\n eth1 eth2\n eth3\n eth3\n }",
    ));
    assert_error(&l, 10, "vrrp_script 'nope' is not defined");
    assert_error(&l, 11, "weight 300 is out of range: -253 to 253");
    assert!(
        l.errors()
            .any(|d| d.line == 12 && d.hint.as_deref() == Some("did you mean 'weight'?"))
    );
    assert_error(&l, 15, "track_file 'tf' is not defined");
    assert_error(&l, 18, "vrrp_track_process 'tp' is not defined");
    assert!(
        l.errors()
            .any(|d| d.line == 21 && d.hint.as_deref().is_some_and(|h| h.contains("own line")))
    );
    assert_error(&l, 23, "'eth3' is already in track_interface (line 22)");
    // The script defined after its use is still found.
    let l = load(&format!(
        "{}vrrp_script chk {{\n script /bin/true\n weight 5\n}}\n",
        inst(" track_script {\n chk\n }")
    ));
    assert_clean(&l);
}

#[test]
fn weights_are_ignored_by_owners_and_sync_groups() {
    let objs = "vrrp_script s {\n script /bin/true\n weight 10\n}\n";
    let l = load(&format!(
        "{objs}{}",
        inst(" priority 255\n track_script {\n s\n }")
    ));
    assert_error(
        &l,
        15,
        "weight 10, which keepalived ignores because its priority is 255",
    );
    let l = load(&format!(
        "{objs}{}",
        inst(" priority 255\n track_script {\n s weight 0\n }")
    ));
    assert_clean(&l);
    let group = "vrrp_sync_group G {\n group {\n VI_T\n VI_U\n }\n}\n";
    let other = inst("")
        .replace("VI_T", "VI_U")
        .replace("eth0", "eth1")
        .replace("192.0.2.10", "192.0.2.20");
    let l = load(&format!(
        "{objs}{}{other}{group}",
        inst(" track_script {\n s\n }")
    ));
    assert_error(
        &l,
        14,
        "in sync group 'G' without sync_group_tracking_weight",
    );
    let l = load(&format!(
        "{objs}{}{other}{}",
        inst(" track_script {\n s\n }"),
        group.replace("}\n}\n", "}\n sync_group_tracking_weight\n}\n")
    ));
    assert_clean(&l);
    // A track_file's default weight is 1: in a sync group it must be written 0.
    let l = load(&format!(
        "track_file f {{\n file /run/f\n}}\n{}{other}{group}",
        inst(" track_file {\n f\n }")
    ));
    assert_error(&l, 13, "track_file 'f' has weight 1");
}

#[test]
fn sync_group_rules() {
    let a = inst("");
    let b = inst("")
        .replace("VI_T", "VI_U")
        .replace("eth0", "eth1")
        .replace("192.0.2.10", "192.0.2.20");
    let l = load(&format!(
        "{a}{b}vrrp_sync_group G1 {{\n group {{\n VI_T VI_U\n VI_X\n VI_T\n }}\n notify_deleted /bin/x\n notify_master /bin/a\n notify_master /bin/b\n}}\nvrrp_sync_group G2 {{\n group {{\n VI_U\n }}\n smtp_alert\n}}\nvrrp_sync_group G3 {{\n group {{\n }}\n}}\n"
    ));
    assert_error(&l, 24, "vrrp_instance 'VI_X' is not defined");
    assert_error(&l, 25, "'VI_T' is listed twice");
    assert_error(&l, 27, "'notify_deleted' is not valid in vrrp_sync_group");
    assert!(l.errors().any(|d| {
        d.line == 27
            && d.hint
                .as_deref()
                .is_some_and(|h| h.contains("vrrp_instance"))
    }));
    assert_error(&l, 29, "'notify_master' is given twice");
    assert_error(&l, 33, "'VI_U' is already in sync group 'G1' (line 21)");
    assert_error(&l, 37, "empty group block");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.line == 31 && d.message.contains("only one member"))
    );
    assert_eq!(l.config.vrrp_sync_groups[0].group.len(), 4);
    assert_eq!(l.config.vrrp_sync_groups[1].smtp_alert, Some(true));
    let owner = a.replace(" priority 100", " priority 255");
    let l = load(&format!(
        "{owner}{b}vrrp_sync_group G {{\n group {{\n VI_T\n VI_U\n }}\n}}\n"
    ));
    assert_error(
        &l,
        21,
        "mixes an address owner ('VI_T', priority 255) with a member that is not ('VI_U')",
    );
    let l = load(&format!(
        "{a}vrrp_sync_group G {{\n group {{\n VI_T\n }}\n global_tracking\n}}\n"
    ));
    assert!(l.is_ok(), "{}", dump(&l));
    assert!(l.config.vrrp_sync_groups[0].sync_group_tracking_weight);
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.line == 15 && d.message.contains("deprecated"))
    );
}

#[test]
fn vrrp_script_track_file_and_garp_group() {
    let l = load(
        "vrrp_script s {\n script \"/bin/check -x\" nobody\n interval 0.0015\n weight 254\n weight 3 forward\n rise 0\n user nobody:nogroup\n}\n",
    );
    assert_error(&l, 2, "ignored by keepalived in a vrrp_script");
    assert_error(&l, 3, "millisecond resolution");
    assert_error(&l, 4, "out of range");
    assert_error(&l, 5, "unknown weight option 'forward'");
    assert_error(&l, 6, "out of range");
    assert_error(&l, 1, "has no 'script'");
    let l = load(
        "vrrp_script s {\n script \"/bin/check -x\"\n user nobody :nogroup\n timeout 2\n init_fail\n}\n",
    );
    let s = &l.config.vrrp_scripts[0];
    assert_eq!(
        s.script
            .as_ref()
            .map(|x| (x.argv.len(), x.user.clone(), x.group.clone())),
        Some((2, Some("nobody".into()), Some("nogroup".into())))
    );
    assert!(s.init_fail);
    assert!(l.diagnostics.iter().any(|d| d.message.contains("not used")));
    let l = load(
        "track_file f {\n file /a\n file /b\n weight 2 reverse\n init_file 300 overwrite\n}\ntrack_file g {\n}\n",
    );
    assert_error(&l, 3, "'file' is already '/a'");
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.line == 5 && d.message.contains("sensible range"))
    );
    assert_error(&l, 7, "has no 'file'");
    let f = &l.config.track_files[0];
    assert_eq!(
        (
            f.weight,
            f.reverse,
            f.init_file.map(|i| (i.value, i.overwrite))
        ),
        (2, true, Some((300, true)))
    );
    let l = load(
        "garp_group {\n interfaces {\n eth0 eth1\n }\n}\ngarp_group {\n garp_interval 0.1\n interface eth1\n}\n",
    );
    assert_error(&l, 1, "sets no interval");
    assert_error(&l, 8, "interface eth1 is already in a garp_group (line 3)");
    let l = load("vrrp_track_file old {\n file /run/old\n}\n");
    assert!(l.is_ok());
    assert!(
        l.diagnostics
            .iter()
            .any(|d| d.message.contains("deprecated"))
    );
    assert_eq!(l.config.track_files[0].name, "old");
}

#[test]
fn vrrp_track_process_is_read_when_enabled() {
    let l = load("vrrp_track_process p {\n process haproxy -f x\n}\n");
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    assert_eq!(l.config.vrrp_track_processes[0].params, vec!["-f", "x"]);
    let text = "vrrp_track_process p {\n process haproxy -f x\n param_match initial\n weight -20 reverse\n quorum 2\n quorum_max 1\n delay 0.5\n fork_delay 2\n}\n";
    let lx = crate::lexer::Lexer::from_str(
        "t.conf",
        text,
        std::path::Path::new("."),
        LexOptions::default(),
    );
    let mut tb = crate::tree::TreeBuilder::new(lx);
    let node = tb.next_node().unwrap_or_else(|| panic!("no node"));
    let mut cx = crate::cx::Cx::new();
    let p = super::parse_track_process(&mut cx, &node).unwrap_or_default();
    assert_eq!(cx.error_count(), 0);
    assert_eq!(p.process.as_deref(), Some("haproxy"));
    assert_eq!(p.params, vec!["-f".to_string(), "x".into()]);
    assert_eq!(p.param_match, Some(ParamMatch::Initial));
    assert!(p.full_command);
    assert_eq!(
        (p.weight, p.reverse, p.quorum, p.quorum_max),
        (-20, true, 2, Some(1))
    );
    let config = Config {
        vrrp_track_processes: vec![p],
        ..Config::default()
    };
    let mut cx = crate::cx::Cx::new();
    crate::validate(&mut cx, &config);
    assert_eq!(cx.error_count(), 1, "quorum_max below quorum");
    round_trip(&config);
}

#[test]
fn other_instance_keywords_are_read() {
    let l = load(&inst(
        " mcast_src_ip 192.0.2.1\n track_src_ip\n dont_track_primary\n garp_master_repeat 3\n garp_master_refresh 60\n garp_master_refresh_repeat 2\n garp_extra_if all 30\n vmac_garp_intvl 40\n kernel_rx_buf_size 1024\n old_unicast_checksum\n unicast_fault_no_peer\n notify_deleted\n notify \"/bin/n a\" root wheel\n v3_checksum_as_v2 off\n skip_check_adv_addr\n no_accept\n debug 2\n linkbeat_use_polling\n thread_timer_expired 100\n nopreempt",
    ));
    let v = &l.config.vrrp_instances[0];
    assert!(v.track_src_ip && v.dont_track_primary && v.unicast_fault_no_peer);
    assert_eq!(v.garp_master_repeat, Some(3));
    assert_eq!(
        v.garp_extra_if.map(|g| (g.all, g.interval)),
        Some((false, crate::Timer::secs(40)))
    );
    assert_eq!(v.old_unicast_checksum, Some(OldUnicastChecksum::Old));
    assert_eq!(
        v.notify_deleted.as_ref().map(|d| d.script.is_none()),
        Some(true)
    );
    let n = v.notify.clone().unwrap_or_else(|| panic!("notify"));
    assert_eq!(
        (n.argv.len(), n.user.as_deref(), n.group.as_deref()),
        (2, Some("root"), Some("wheel"))
    );
    assert_eq!(
        (v.v3_checksum_as_v2, v.skip_check_adv_addr, v.accept),
        (Some(false), Some(true), Some(false))
    );
    assert_eq!(v.timer_expired_backup, Some(100));
    let kinds: Vec<(u32, Severity)> = l.diagnostics.iter().map(|d| (d.line, d.severity)).collect();
    assert_eq!(
        kinds,
        vec![
            (16, Severity::Warning), // vmac_garp_intvl deprecated
            (25, Severity::Warning), // debug ignored
            (26, Severity::Warning), // linkbeat_use_polling ignored
            (27, Severity::Warning), // thread_timer_expired deprecated
        ],
        "{}",
        dump(&l)
    );
    assert!(l.is_ok());
}

#[test]
fn keyword_syntax_errors() {
    let l = load(&inst(
        " priority 100 150\n nopreempt yes\n virtual_router_id\n track_script chk_t\n interface this_is_a_long_name\n priorty 5",
    ));
    assert_error(&l, 9, "unexpected '150'");
    assert_error(&l, 10, "unexpected 'yes'");
    assert_error(&l, 11, "needs a value");
    assert_error(&l, 12, "needs a block");
    assert_error(&l, 13, "not a valid interface name");
    assert!(
        l.errors()
            .any(|d| d.line == 14 && d.hint.as_deref() == Some("did you mean 'priority'?"))
    );
    let l = load("vrrp_instance {\n}\nvrrp_instance A B {\n}\n");
    assert_error(&l, 1, "needs a name");
    assert_error(&l, 3, "extra parameter 'B'");
}

// ---------------------------------------------------------------------------------------------
// TOML
// ---------------------------------------------------------------------------------------------

const RICH: &str = r#"
vrrp_script chk {
 script "/usr/bin/check --fast 'a b'"
 interval 0.5
 timeout 2
 weight -20 reverse
 rise 2
 fall 3
 user nobody
}
track_file tf {
 file /run/tf
 weight -3
 init_file 5 overwrite
}
garp_group {
 garp_interval 0.001
 gna_interval 0.002
 interface eth0
 interfaces {
  eth1
 }
}
static_ipaddress {
 192.0.2.200/24 dev eth0 scope link brd +
}
static_routes {
 198.51.100.0/24 via 192.0.2.1 dev eth0 metric 10 mtu lock 1400 rtt 300ms
}
static_rules {
 from 192.0.2.0/24 table 100 preference 100
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 51
 priority 150
 advert_int 0.5
 version 3
 nopreempt
 timer_expired_backup 200
 virtual_ipaddress {
  192.0.2.10/24 dev eth0 label eth0:vip brd 192.0.2.255 no_track
  192.0.2.11 peer 192.0.2.12 preferred_lft forever use_vmac
 }
 virtual_ipaddress_excluded {
  2001:db8::10/128 -nodad home
 }
 virtual_routes {
  src 192.0.2.10 to unicast 203.0.113.0/24 via inet 192.0.2.1 dev eth0 table main protocol keepalived onlink
  default nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2 weight 3
  blackhole 203.0.113.128/25 no_track protocol static
 }
 virtual_rules {
  from 192.0.2.0/24 to 203.0.113.0/24 table 100 preference 200 fwmark 0x10/0xff iif eth0 sport 1000-2000 uidrange 1000-1999
  not from all goto 300 priority 250
 }
 track_interface {
  eth1 weight -10 reverse
 }
 track_script {
  chk
  chk2 weight 5 noreverse
 }
 track_file {
  tf weight 2
 }
 unicast_src_ip 192.0.2.1
 unicast_peer {
  192.0.2.2 min_ttl 250
  192.0.2.3
 }
 unicast_ttl 255
 use_vmac vrrp51 00:11:22:33:44
 vmac_xmit_base
 garp_master_delay 3
 garp_lower_prio_repeat 2
 down_timer_adverts 4
 notify_master "/usr/bin/notify MASTER" root
 notify /usr/bin/notify_all
 notify_deleted "/usr/bin/deleted x"
 smtp_alert off
 accept
}
vrrp_script chk2 {
 script /bin/true
}
vrrp_sync_group G {
 group {
  VI_1
 }
 notify_backup /usr/bin/gb
 sync_group_tracking_weight
}
"#;

#[test]
fn a_rich_configuration_round_trips_through_toml() {
    let l = load(RICH);
    assert!(l.is_ok(), "{}", dump(&l));
    let warnings: Vec<&str> = l.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    round_trip(&l.config);
    let text = l.config.to_toml().unwrap_or_default();
    for piece in [
        "address = \"192.0.2.10/24\"",
        "broadcast = \"192.0.2.255\"",
        "preferred_lft = \"forever\"",
        "to = \"0.0.0.0/0\"",
        "lock = [\"mtu\"]",
        "state = \"BACKUP\"",
        "mac = \"00:11:22:33:44\"",
        "group = [\"VI_1\"]",
        "advert_int = 0.5",
        "interfaces = [\"eth0\", \"eth1\"]",
    ] {
        assert!(text.contains(piece), "{piece} not in:\n{text}");
    }
    // The TOML form loads with the same meaning and passes the same checks.
    let back = load_toml("k.toml", &text);
    assert!(back.is_ok(), "{:?}", back.diagnostics);
    assert_eq!(back.config, l.config);
    let v: &VrrpInstance = &back.config.vrrp_instances[0];
    assert_eq!(v.virtual_routes[1].nexthop.len(), 2);
    assert_eq!(
        v.virtual_ipaddress_excluded[0].effective_preferred_lft(),
        crate::addr::Lifetime::Secs(0)
    );
}

#[test]
fn toml_gets_the_checks_the_parser_makes() {
    let text = r#"
[[vrrp_instances]]
name = "T"
interface = "eth0"
virtual_router_id = 7
advert_int = 41.0

[vrrp_instances.authentication]
auth_type = "AH"
auth_pass = "123456789"

[[vrrp_instances.virtual_ipaddress]]
address = "2001:db8::1/64"
broadcast = "+"
"#;
    let l = load_toml("k.toml", text);
    let msgs: Vec<&str> = l.errors().map(|d| d.message.as_str()).collect();
    for piece in [
        "centiseconds",
        "'auth_type AH' is not supported yet",
        "only 8 are sent",
        "no broadcast address",
        "VRRPv3 has no authentication",
    ] {
        assert!(msgs.iter().any(|m| m.contains(piece)), "{piece}: {msgs:?}");
    }
    let bad = load_toml(
        "k.toml",
        "[[vrrp_instances]]\nname = \"T\"\nprioritty = 3\n",
    );
    assert!(!bad.is_ok());
}

proptest::proptest! {
    /// No instance body makes the VRRP parser or checks panic, and what is read round-trips.
    #[test]
    fn no_instance_body_panics(lines in proptest::collection::vec(
        (
            proptest::prop_oneof![
                proptest::strategy::Just("state"), proptest::strategy::Just("priority"),
                proptest::strategy::Just("advert_int"), proptest::strategy::Just("version"),
                proptest::strategy::Just("use_vmac"), proptest::strategy::Just("use_ipvlan"),
                proptest::strategy::Just("garp_extra_if"), proptest::strategy::Just("unicast_peer"),
                proptest::strategy::Just("track_script"), proptest::strategy::Just("notify"),
                proptest::strategy::Just("timer_expired_backup"), proptest::strategy::Just("authentication"),
                proptest::strategy::Just("virtual_ipaddress"), proptest::strategy::Just("preempt_delay"),
                proptest::strategy::Just("old_unicast_checksum"), proptest::strategy::Just("notify_deleted"),
            ],
            "[ a-zA-Z0-9:./{}\"'-]{0,24}",
        ),
        0..8,
    )) {
        let body: String = lines.iter().map(|(k, v)| format!(" {k} {v}\n")).collect();
        let l = load(&format!("{}vrrp_sync_group G {{\n group {{\n VI_T x\n }}\n{body}}}\n", inst(&body)));
        round_trip(&l.config);
    }
}
