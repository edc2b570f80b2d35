//! The status of every keepalived keyword: the one table users and tests read.
//!
//! Each entry names the block a keyword belongs to, what keepalived-rs does with it, and an
//! example line that a test places in that block to prove the status is true. The table is
//! assembled from one slice per part of the configuration ([`ROOT`], [`crate::global::KEYWORDS`],
//! [`crate::vrrp::KEYWORDS`], [`crate::lvs::KEYWORDS`]); [`all`] walks them in that order.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The block a keyword is valid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Block {
    /// The top level of the file.
    Root,
    /// `global_defs { }`.
    GlobalDefs,
    /// `vrrp_script NAME { }`.
    VrrpScript,
    /// `track_file NAME { }` at the top level.
    TrackFile,
    /// `vrrp_track_process NAME { }`.
    TrackProcess,
    /// `vrrp_sync_group NAME { }`.
    SyncGroup,
    /// `garp_group { }`.
    GarpGroup,
    /// `track_group NAME { }`.
    TrackGroup,
    /// `vrrp_instance NAME { }`.
    VrrpInstance,
    /// `authentication { }` inside a vrrp_instance.
    Authentication,
    /// `auth_hmac { }` inside a vrrp_instance.
    AuthHmac,
    /// `bfd_instance NAME { }`.
    BfdInstance,
    /// `SSL { }`.
    Ssl,
    /// `virtual_server_group NAME { }` (entries, not keywords, except `fwmark`).
    VirtualServerGroup,
    /// `virtual_server ... { }`.
    VirtualServer,
    /// `real_server ... { }`.
    RealServer,
    /// `TCP_CHECK { }`.
    TcpCheck,
    /// `HTTP_GET { }`.
    HttpGet,
    /// `SSL_GET { }`.
    SslGet,
    /// `url { }` inside HTTP_GET / SSL_GET.
    Url,
    /// `SMTP_CHECK { }`.
    SmtpCheck,
    /// `host { }` inside SMTP_CHECK (deprecated).
    SmtpHost,
    /// `DNS_CHECK { }`.
    DnsCheck,
    /// `MISC_CHECK { }`.
    MiscCheck,
    /// `UDP_CHECK { }`.
    UdpCheck,
    /// `PING_CHECK { }`.
    PingCheck,
    /// `FILE_CHECK { }`.
    FileCheck,
    /// `BFD_CHECK { }`.
    BfdCheck,
}

impl Block {
    /// How the block is written in keepalived.conf.
    pub fn name(self) -> &'static str {
        match self {
            Block::Root => "the top level",
            Block::GlobalDefs => "global_defs",
            Block::VrrpScript => "vrrp_script",
            Block::TrackFile => "track_file",
            Block::TrackProcess => "vrrp_track_process",
            Block::SyncGroup => "vrrp_sync_group",
            Block::GarpGroup => "garp_group",
            Block::TrackGroup => "track_group",
            Block::VrrpInstance => "vrrp_instance",
            Block::Authentication => "authentication",
            Block::AuthHmac => "auth_hmac",
            Block::BfdInstance => "bfd_instance",
            Block::Ssl => "SSL",
            Block::VirtualServerGroup => "virtual_server_group",
            Block::VirtualServer => "virtual_server",
            Block::RealServer => "real_server",
            Block::TcpCheck => "TCP_CHECK",
            Block::HttpGet => "HTTP_GET",
            Block::SslGet => "SSL_GET",
            Block::Url => "url",
            Block::SmtpCheck => "SMTP_CHECK",
            Block::SmtpHost => "host",
            Block::DnsCheck => "DNS_CHECK",
            Block::MiscCheck => "MISC_CHECK",
            Block::UdpCheck => "UDP_CHECK",
            Block::PingCheck => "PING_CHECK",
            Block::FileCheck => "FILE_CHECK",
            Block::BfdCheck => "BFD_CHECK",
        }
    }
}

/// What keepalived-rs does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    /// Read into the model and acted on.
    Implemented,
    /// An old spelling: read as `instead`, with a warning.
    Deprecated {
        /// The keyword to write instead.
        instead: &'static str,
    },
    /// Accepted with a warning and ignored; only for keywords whose absence cannot change
    /// what the daemon does to traffic (SNMP, DBus, process names, debug, buffer tuning).
    Ignored {
        /// Why ignoring it is safe.
        why: &'static str,
    },
    /// Refused with an error: the feature it asks for is not built yet, and running without
    /// it could change health, priority, authentication, addresses or forwarding.
    Refused {
        /// The missing feature, named in the error.
        feature: &'static str,
    },
    /// A keepalived-rs extension: not a keepalived keyword (keepalived refuses it), read
    /// and acted on.
    Extension {
        /// What it does.
        what: &'static str,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Keyword {
    /// The block it belongs in.
    pub block: Block,
    /// The keyword as written.
    pub name: &'static str,
    /// What keepalived-rs does with it.
    pub status: Status,
    /// An example line (or lines) that is valid in `block` — tested.
    pub example: &'static str,
}

/// Shorthand for table rows.
pub const fn kw(block: Block, name: &'static str, example: &'static str) -> Keyword {
    Keyword {
        block,
        name,
        status: Status::Implemented,
        example,
    }
}

/// A deprecated alias.
pub const fn dep(
    block: Block,
    name: &'static str,
    instead: &'static str,
    example: &'static str,
) -> Keyword {
    Keyword {
        block,
        name,
        status: Status::Deprecated { instead },
        example,
    }
}

/// Accepted and ignored with a warning.
pub const fn ign(
    block: Block,
    name: &'static str,
    why: &'static str,
    example: &'static str,
) -> Keyword {
    Keyword {
        block,
        name,
        status: Status::Ignored { why },
        example,
    }
}

/// Refused with an error.
pub const fn refused(
    block: Block,
    name: &'static str,
    feature: &'static str,
    example: &'static str,
) -> Keyword {
    Keyword {
        block,
        name,
        status: Status::Refused { feature },
        example,
    }
}

/// A keepalived-rs extension.
pub const fn ext(
    block: Block,
    name: &'static str,
    what: &'static str,
    example: &'static str,
) -> Keyword {
    Keyword {
        block,
        name,
        status: Status::Extension { what },
        example,
    }
}

/// Top-level keywords (blocks and the scalars that sit outside global_defs).
pub const ROOT: &[Keyword] = &[
    kw(Block::Root, "global_defs", "global_defs {\n}"),
    kw(
        Block::Root,
        "vrrp_instance",
        "vrrp_instance VI_X {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.99/24\n }\n}",
    ),
    kw(
        Block::Root,
        "vrrp_sync_group",
        "vrrp_sync_group G_X {\n group {\n  VI_S\n }\n}",
    ),
    kw(
        Block::Root,
        "vrrp_script",
        "vrrp_script chk_x {\n script \"/bin/true\"\n}",
    ),
    kw(
        Block::Root,
        "track_file",
        "track_file tf_x {\n file /run/tf_x\n}",
    ),
    dep(
        Block::Root,
        "vrrp_track_file",
        "track_file",
        "vrrp_track_file tf_y {\n file /run/tf_y\n}",
    ),
    kw(
        Block::Root,
        "vrrp_track_process",
        "vrrp_track_process tp_x {\n process haproxy\n}",
    ),
    kw(
        Block::Root,
        "garp_group",
        "garp_group {\n garp_interval 0.01\n interface eth0\n}",
    ),
    refused(
        Block::Root,
        "linkbeat_interfaces",
        "link-beat polling (linkbeat_interfaces)",
        "linkbeat_interfaces {\n eth0\n}",
    ),
    refused(
        Block::Root,
        "interface_up_down_delays",
        "interface up/down delays",
        "interface_up_down_delays {\n eth0 1 2\n}",
    ),
    refused(
        Block::Root,
        "track_group",
        "track groups",
        "track_group tg {\n group {\n  VI_S\n }\n}",
    ),
    kw(
        Block::Root,
        "static_ipaddress",
        "static_ipaddress {\n 192.0.2.50/24 dev eth0\n}",
    ),
    kw(
        Block::Root,
        "static_routes",
        "static_routes {\n 198.51.100.0/24 via 192.0.2.1 dev eth0\n}",
    ),
    kw(
        Block::Root,
        "static_rules",
        "static_rules {\n from 192.0.2.0/24 table 100\n}",
    ),
    kw(
        Block::Root,
        "virtual_server_group",
        "virtual_server_group VSG_X {\n 192.0.2.80 80\n}",
    ),
    kw(
        Block::Root,
        "virtual_server",
        "virtual_server 192.0.2.81 80 {\n protocol TCP\n}",
    ),
    kw(Block::Root, "SSL", "SSL {\n ca /etc/ssl/certs/ca.pem\n}"),
    refused(
        Block::Root,
        "bfd_instance",
        "BFD",
        "bfd_instance b1 {\n neighbor_ip 192.0.2.7\n}",
    ),
    kw(Block::Root, "net_namespace", "net_namespace blue"),
    refused(
        Block::Root,
        "net_namespace_ipvs",
        "IPVS in another network namespace",
        "net_namespace_ipvs blue",
    ),
    ign(
        Block::Root,
        "namespace_with_ipsets",
        "ipsets are not used",
        "namespace_with_ipsets",
    ),
    kw(Block::Root, "use_pid_dir", "use_pid_dir"),
    kw(Block::Root, "instance", "instance lb1"),
    kw(Block::Root, "child_wait_time", "child_wait_time 5"),
    ign(
        Block::Root,
        "linkbeat_use_polling",
        "netlink link state is always used",
        "linkbeat_use_polling",
    ),
];

/// The keywords of `bfd_instance` (refused with the block: BFD is not built).
pub const BFD: &[Keyword] = &[
    refused(
        Block::BfdInstance,
        "neighbor_ip",
        "BFD",
        "neighbor_ip 192.0.2.7",
    ),
    refused(
        Block::BfdInstance,
        "neighbour_ip",
        "BFD",
        "neighbour_ip 192.0.2.7",
    ),
    refused(
        Block::BfdInstance,
        "source_ip",
        "BFD",
        "source_ip 192.0.2.8",
    ),
    refused(Block::BfdInstance, "min_rx", "BFD", "min_rx 10"),
    refused(Block::BfdInstance, "min_tx", "BFD", "min_tx 10"),
    refused(Block::BfdInstance, "idle_tx", "BFD", "idle_tx 1000"),
    refused(Block::BfdInstance, "multiplier", "BFD", "multiplier 5"),
    refused(Block::BfdInstance, "passive", "BFD", "passive"),
    refused(Block::BfdInstance, "ttl", "BFD", "ttl 255"),
    refused(Block::BfdInstance, "hoplimit", "BFD", "hoplimit 64"),
    refused(Block::BfdInstance, "max_hops", "BFD", "max_hops 2"),
    refused(Block::BfdInstance, "multihop", "BFD", "multihop"),
    refused(Block::BfdInstance, "weight", "BFD", "weight 10"),
    refused(Block::BfdInstance, "vrrp", "BFD", "vrrp"),
    refused(Block::BfdInstance, "checker", "BFD", "checker"),
];

/// Every row of the table, in a stable order.
pub fn all() -> impl Iterator<Item = &'static Keyword> {
    ROOT.iter()
        .chain(crate::global::KEYWORDS)
        .chain(crate::vrrp::KEYWORDS)
        .chain(crate::lvs::KEYWORDS)
        .chain(BFD)
}

type Index = HashMap<(Block, &'static str), &'static Keyword, FxBuild>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| all().map(|k| ((k.block, k.name), k)).collect())
}

/// The keyword table's own copy of `name`, so that positions can be recorded against a
/// `&'static str` instead of an allocated string.
pub fn intern(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<HashMap<&'static str, (), FxBuild>> = OnceLock::new();
    NAMES
        .get_or_init(|| all().map(|k| (k.name, ())).collect())
        .get_key_value(name)
        .map(|(k, _)| *k)
}

/// A small fast hash for the keyword index (the keys are trusted table strings).
#[derive(Debug, Default, Clone, Copy)]
pub struct FxBuild;

/// The hasher of [`FxBuild`]: the multiply-rotate hash of rustc.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The row for `name` in `block`.
pub fn lookup(block: Block, name: &str) -> Option<&'static Keyword> {
    index().get(&(block, name)).copied()
}

/// The names valid in `block`.
pub fn names_in(block: Block) -> impl Iterator<Item = &'static str> {
    all().filter(move |k| k.block == block).map(|k| k.name)
}

/// Blocks (other than `block`) where `name` is valid, for "belongs in" hints.
pub fn blocks_of(name: &str) -> Vec<Block> {
    all().filter(|k| k.name == name).map(|k| k.block).collect()
}

/// The table as Markdown, for docs/keywords.md (kept in step by a test).
pub fn markdown() -> String {
    let mut s = String::from(
        "# keepalived.conf keywords in keepalived-rs\n\n\
         Generated from `crates/config/src/keywords.rs` by `keepalived-rs config keywords`; a test keeps\n\
         this file in step with the code.\n\n\
         - **implemented**: read and acted on.\n\
         - **deprecated**: an old spelling, read as the keyword named, with a warning.\n\
         - **ignored**: accepted with a warning; ignoring it cannot change what happens to traffic.\n\
         - **refused**: an error naming the missing feature; keepalived-rs will not run such a configuration\n  rather than run it without the feature.\n\
         - **extension**: a keepalived-rs keyword that keepalived does not know.\n",
    );
    let mut block = None;
    for k in all() {
        if block != Some(k.block) {
            block = Some(k.block);
            s.push_str(&format!(
                "\n## {}\n\n| keyword | status | note |\n|---|---|---|\n",
                k.block.name()
            ));
        }
        let (st, note) = match k.status {
            Status::Implemented => ("implemented", String::new()),
            Status::Deprecated { instead } => ("deprecated", format!("use `{instead}`")),
            Status::Ignored { why } => ("ignored", why.to_string()),
            Status::Refused { feature } => ("refused", format!("not supported yet: {feature}")),
            Status::Extension { what } => ("extension", format!("keepalived-rs only: {what}")),
        };
        s.push_str(&format!("| `{}` | {st} | {note} |\n", k.name));
    }
    s
}
