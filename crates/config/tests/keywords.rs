//! The keyword status table is complete and true:
//! - every keyword named in section 2 of the keepalived reference has a row;
//! - every row's example, placed in its block, behaves as the row's status says;
//! - docs/keywords.md is the table as the code has it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keepalived_config::keywords::{self, Block, Keyword, Status};
use keepalived_config::{LoadOptions, Severity, load_str};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Words in backticks in the reference's section 2 that are not keywords: values, options of
/// address lines, prose names of functions, message states.
const NOT_KEYWORDS: &[&str] = &[
    "BACKUP_PRIORITY",
    "GROUP",
    "INSTANCE",
    "IP",
    "IP-RANGE",
    "MASTER_PRIORITY",
    "MASTER_RX_LOWER_PRI",
    "RS",
    "SCRIPT",
    "VS",
    "alloc_ipaddress",
    "brd",
    "dev",
    "gw",
    "or",
    "include",
    "includea",
    "includeb",
    "includem",
    "includer",
    "includew",
    "init_global_keywords",
    "init_vrrp_keywords",
    "keepalived_script",
    "label",
    "peer",
    "ping_group_range",
    "preferred_lft",
    "read_line",
    "scope",
    "start",
    "step",
    "unicast",
    "ip",
    "dynamic",
    "P",
    "MD5HEX",
    "N",
    "RE",
    "START",
    "install_checker_common_keywords",
    "IF",
    "NAME",
    "S",
    "VI_1",
    "X",
    "_BANG",
    "_ENV",
    "_HASH",
    "_INSTANCE",
    "_PWD",
    "_RANDOM",
];

fn reference_keywords() -> BTreeSet<String> {
    let path = repo().join("../shared/design/KEEPALIVED-REFERENCE.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text
        .find("## 2. keepalived.conf keyword inventory")
        .expect("section 2");
    let end = text.find("## 3. Config lexer rules").expect("section 3");
    let sec = &text[start..end];
    let mut out = BTreeSet::new();
    let is_word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for span in sec.split('`').skip(1).step_by(2) {
        let mut pieces = vec![span];
        // `url { path P; digest D; ... }` names the keywords inside the block too.
        if let Some((_, inner)) = span.split_once('{') {
            pieces.extend(inner.trim_end_matches('}').split(';'));
        }
        for p in pieces {
            if let Some(w) = p.split_whitespace().next() {
                let w = w.trim_end_matches(',');
                if is_word(w) {
                    out.insert(w.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_reference_keyword_has_a_row() {
    let known: BTreeSet<&str> = keywords::all().map(|k| k.name).collect();
    let missing: Vec<String> = reference_keywords()
        .into_iter()
        .filter(|w| !known.contains(w.as_str()) && !NOT_KEYWORDS.contains(&w.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "keywords of the reference with no row in the table: {missing:?}"
    );
    assert!(
        known.len() > 300,
        "the table has only {} keywords",
        known.len()
    );
}

#[test]
fn extensions_are_not_keepalived_keywords() {
    let reference = reference_keywords();
    let ext: Vec<&str> = keywords::all()
        .filter(|k| matches!(k.status, Status::Extension { .. }))
        .map(|k| k.name)
        .collect();
    assert!(ext.contains(&"verify_certificate"), "{ext:?}");
    for name in ext {
        assert!(
            !reference.contains(name),
            "'{name}' is a keepalived keyword, not an extension"
        );
    }
}

#[test]
fn no_duplicate_rows() {
    let mut seen = BTreeSet::new();
    for k in keywords::all() {
        assert!(
            seen.insert((k.block, k.name)),
            "two rows for '{}' in {:?}",
            k.name,
            k.block
        );
    }
}

const INSTANCE_HEAD: &str = "vrrp_instance VI_T {\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n virtual_ipaddress {\n 192.0.2.10/24\n }\n";
const SUPPORT: &str = "vrrp_script chk_t {\n script \"/bin/true\"\n}\ntrack_file tf_t {\n file /run/tf_t\n}\n\
    vrrp_instance VI_S {\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {\n 203.0.113.211/24\n }\n}\n";

fn checker_block(block: Block) -> Option<&'static str> {
    Some(match block {
        Block::TcpCheck => "TCP_CHECK",
        Block::HttpGet | Block::Url => "HTTP_GET",
        Block::SslGet => "SSL_GET",
        Block::SmtpCheck | Block::SmtpHost => "SMTP_CHECK",
        Block::DnsCheck => "DNS_CHECK",
        Block::MiscCheck => "MISC_CHECK",
        Block::UdpCheck => "UDP_CHECK",
        Block::PingCheck => "PING_CHECK",
        Block::FileCheck => "FILE_CHECK",
        Block::BfdCheck => "BFD_CHECK",
        _ => return None,
    })
}

/// Places an example in its block: (text before, text after).
fn wrap(k: &Keyword) -> (String, String) {
    let (pre, post) = match k.block {
        Block::Root => (String::new(), String::new()),
        Block::GlobalDefs => ("global_defs {\n".into(), "\n}\n".into()),
        Block::VrrpScript => ("vrrp_script chk_u {\n script \"/bin/true\"\n".into(), "\n}\n".into()),
        Block::TrackFile => ("track_file tf_u {\n".into(), "\n}\n".into()),
        // The row for `process` brings its own process line.
        Block::TrackProcess if k.name == "process" => ("vrrp_track_process tp_u {\n".into(), "\n}\n".into()),
        Block::TrackProcess => ("vrrp_track_process tp_u {\n process haproxy\n".into(), "\n}\n".into()),
        Block::SyncGroup => (format!("{INSTANCE_HEAD}}}\nvrrp_sync_group G_T {{\n group {{\n VI_T\n }}\n"), "\n}\n".into()),
        Block::GarpGroup => ("garp_group {\n interface eth0\n".into(), "\n}\n".into()),
        Block::TrackGroup => ("track_group tg_u {\n".into(), "\n}\n".into()),
        Block::VrrpInstance => (INSTANCE_HEAD.to_string(), "\n}\n".into()),
        Block::Authentication => (format!("{INSTANCE_HEAD} authentication {{\n"), "\n }\n}\n".into()),
        Block::AuthHmac => (format!("{INSTANCE_HEAD} auth_hmac {{\n"), "\n }\n}\n".into()),
        Block::BfdInstance => ("bfd_instance b_u {\n".into(), "\n}\n".into()),
        Block::Ssl => ("SSL {\n".into(), "\n}\n".into()),
        Block::VirtualServerGroup => ("virtual_server_group VSG_T {\n 192.0.2.20 80\n".into(), "\n}\n".into()),
        Block::VirtualServer => (
            "virtual_server 192.0.2.30 80 {\n".into(),
            "\n real_server 192.0.2.31 80 {\n TCP_CHECK {\n }\n }\n}\n".into(),
        ),
        Block::RealServer => ("virtual_server 192.0.2.30 80 {\n real_server 192.0.2.31 80 {\n".into(), "\n }\n}\n".into()),
        Block::Url => (
            "virtual_server 192.0.2.30 80 {\n real_server 192.0.2.31 80 {\n HTTP_GET {\n url {\n".into(),
            "\n }\n }\n }\n}\n".into(),
        ),
        Block::SmtpHost => (
            "virtual_server 192.0.2.30 80 {\n real_server 192.0.2.31 80 {\n SMTP_CHECK {\n host {\n".into(),
            "\n }\n }\n }\n}\n".into(),
        ),
        b => {
            let c = checker_block(b).unwrap_or("TCP_CHECK");
            (format!("virtual_server 192.0.2.30 80 {{\n real_server 192.0.2.31 80 {{\n {c} {{\n"), "\n }\n }\n}\n".into())
        }
    };
    (format!("{SUPPORT}{pre}"), post)
}

/// Blocks that are refused as a whole: their rows must be refused too.
fn enclosing_refused(k: &Keyword) -> bool {
    let outer = match k.block {
        Block::BfdInstance => Some((Block::Root, "bfd_instance")),
        Block::TrackGroup => Some((Block::Root, "track_group")),
        Block::AuthHmac => Some((Block::VrrpInstance, "auth_hmac")),
        Block::BfdCheck => Some((Block::RealServer, "BFD_CHECK")),
        _ => None,
    };
    outer.is_some_and(|(b, n)| {
        matches!(
            keywords::lookup(b, n).map(|r| r.status),
            Some(Status::Refused { .. })
        )
    })
}

#[test]
fn every_example_behaves_as_its_status_says() {
    let mut failures = Vec::new();
    for k in keywords::all() {
        let (pre, post) = wrap(k);
        let first = pre.matches('\n').count() as u32 + 1;
        let last = first + k.example.matches('\n').count() as u32;
        let text = format!("{pre}{}{post}", k.example);
        let loaded = load_str("example.conf", &text, &LoadOptions::default());
        let on_example: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.line >= first && d.line <= last)
            .collect();
        let errors: Vec<_> = on_example
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        // The row's own keyword may sit on any line of a multi-line example.
        let first_line = &on_example;
        let describe = || {
            format!(
                "{:?} '{}' ({:?}):\n{text}\n--> {}",
                k.block,
                k.name,
                k.status,
                loaded
                    .diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n--> ")
            )
        };
        if enclosing_refused(k) {
            if loaded.is_ok() {
                failures.push(format!(
                    "inside a refused block but accepted: {}",
                    describe()
                ));
            }
            continue;
        }
        let ok = match k.status {
            Status::Implemented | Status::Extension { .. } => {
                errors.is_empty()
                    && !first_line
                        .iter()
                        .any(|d| d.message.contains("unknown keyword"))
            }
            Status::Deprecated { .. } => {
                errors.is_empty()
                    && first_line.iter().any(|d| {
                        d.severity == Severity::Warning && d.message.contains("deprecated")
                    })
            }
            Status::Ignored { .. } => {
                errors.is_empty()
                    && first_line
                        .iter()
                        .any(|d| d.severity == Severity::Warning && d.message.contains("ignored"))
            }
            Status::Refused { .. } => first_line
                .iter()
                .any(|d| d.severity == Severity::Error && d.message.contains("not supported")),
        };
        if !ok {
            failures.push(describe());
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows misbehave:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn docs_keyword_table_is_current() {
    let path = repo().join("docs/keywords.md");
    let want = keywords::markdown();
    if std::env::var_os("KEEPALIVED_RS_REGENERATE").is_some() {
        std::fs::write(&path, &want).expect("write docs/keywords.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/keywords.md is stale: run `KEEPALIVED_RS_REGENERATE=1 cargo test -p keepalived-config --test keywords`"
    );
}
