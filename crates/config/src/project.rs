//! Per-process projections of the configuration.
//!
//! Each child receives only what its job needs, one object at a time: the VRRP process
//! never sees checker or IPVS settings, the checker never sees VRRP settings, the IPVS writer
//! never sees checkers, and no child sees a script's command line (every [`Script`] is
//! replaced by a redacted copy that keeps only where it was configured, so the child knows a
//! script exists and asks the parent to run "script S of object X"). Files the children
//! depend on (tracked files, FILE_CHECK, SSL material) are read by the parent and sent as
//! content, never as paths to open.
//!
//! Objects have a [`ObjectKey`]; a reload sends the objects whose value changed, and the
//! keys of those that disappeared.

use serde::{Deserialize, Serialize};

use crate::global::GlobalDefs;
use crate::lvs::{Ssl, VirtualServer, VirtualServerGroup};
use crate::vrrp::{GarpGroup, SyncGroup, TrackFile, TrackProcess, VrrpInstance, VrrpScript};
use crate::{Config, Script, addr};

/// The processes that receive a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The VRRP process.
    Vrrp,
    /// The health-checker process.
    Check,
    /// The IPVS writer.
    Ipvs,
}

impl Role {
    /// Every role, in start order (the IPVS writer first, so health has somewhere to go).
    pub const ALL: [Role; 3] = [Role::Ipvs, Role::Check, Role::Vrrp];

    /// The role's short name, as used in logs, pidfiles and executables.
    pub fn name(self) -> &'static str {
        match self {
            Role::Vrrp => "vrrp",
            Role::Check => "check",
            Role::Ipvs => "ipvs",
        }
    }
}

/// Identifies one object of a projection across reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKey {
    /// The role's share of global_defs.
    Globals,
    /// A `vrrp_instance` by name.
    Instance(String),
    /// A `vrrp_sync_group` by name.
    SyncGroup(String),
    /// A `vrrp_script` by name.
    Script(String),
    /// A `track_file` by name.
    TrackFile(String),
    /// A `vrrp_track_process` by name.
    TrackProcess(String),
    /// The n-th `garp_group`.
    GarpGroup(usize),
    /// The static addresses, routes and rules, as one object.
    Statics,
    /// The `SSL` block.
    Ssl,
    /// A `virtual_server_group` by name.
    VirtualServerGroup(String),
    /// A `virtual_server` by its identity ("192.0.2.1:80/tcp", "fwmark 1/tcp", "group G/tcp").
    VirtualServer(String),
}

/// `static_ipaddress`, `static_routes` and `static_rules` together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statics {
    /// `static_ipaddress` entries.
    pub addresses: Vec<addr::IpAddress>,
    /// `static_routes` entries.
    pub routes: Vec<addr::Route>,
    /// `static_rules` entries.
    pub rules: Vec<addr::Rule>,
}

/// One object of the VRRP process's projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VrrpObject {
    /// The VRRP settings of global_defs.
    Globals(Box<GlobalDefs>),
    /// A `vrrp_script` (its command line redacted).
    Script(Box<VrrpScript>),
    /// A `track_file` (its content arrives separately; the parent reads the file).
    TrackFile(Box<TrackFile>),
    /// A `vrrp_track_process`.
    TrackProcess(Box<TrackProcess>),
    /// The n-th `garp_group` (the blocks have no names).
    GarpGroup(usize, Box<GarpGroup>),
    /// A `vrrp_sync_group` (notify scripts redacted).
    SyncGroup(Box<SyncGroup>),
    /// A `vrrp_instance` (notify scripts redacted).
    Instance(Box<VrrpInstance>),
    /// Static addresses, routes and rules.
    Statics(Box<Statics>),
}

/// One object of the checker's projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckObject {
    /// The checker settings of global_defs.
    Globals(Box<GlobalDefs>),
    /// The `SSL` block (key material is read and sent by the parent).
    Ssl(Box<Ssl>),
    /// A `virtual_server` with its real servers and checkers (scripts redacted).
    VirtualServer(Box<VirtualServer>),
}

/// One object of the IPVS writer's projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IpvsObject {
    /// The IPVS settings of global_defs.
    Globals(Box<GlobalDefs>),
    /// A `virtual_server_group`.
    VirtualServerGroup(Box<VirtualServerGroup>),
    /// A `virtual_server` without its checkers (scripts redacted).
    VirtualServer(Box<VirtualServer>),
}

/// A value that belongs to a projection: it knows its key.
pub trait Keyed {
    /// The object's identity.
    fn key(&self) -> ObjectKey;
}

/// The identity of a virtual server, as the projections key it.
pub fn virtual_server_key(vs: &VirtualServer) -> String {
    let proto = vs
        .protocol
        .map(|p| format!("{p:?}").to_lowercase())
        .unwrap_or_else(|| "tcp".into());
    if let Some(m) = vs.fwmark {
        format!("fwmark {m}/{proto}")
    } else if let Some(g) = &vs.group {
        format!("group {g}/{proto}")
    } else {
        match (vs.ip, vs.port) {
            (Some(std::net::IpAddr::V6(a)), p) => format!("[{a}]:{}/{proto}", p.unwrap_or(0)),
            (Some(a), p) => format!("{a}:{}/{proto}", p.unwrap_or(0)),
            (None, _) => format!("?/{proto}"),
        }
    }
}

impl Keyed for VrrpObject {
    fn key(&self) -> ObjectKey {
        match self {
            VrrpObject::Globals(_) => ObjectKey::Globals,
            VrrpObject::Script(s) => ObjectKey::Script(s.name.clone()),
            VrrpObject::TrackFile(t) => ObjectKey::TrackFile(t.name.clone()),
            VrrpObject::TrackProcess(t) => ObjectKey::TrackProcess(t.name.clone()),
            VrrpObject::GarpGroup(n, _) => ObjectKey::GarpGroup(*n),
            VrrpObject::SyncGroup(g) => ObjectKey::SyncGroup(g.name.clone()),
            VrrpObject::Instance(i) => ObjectKey::Instance(i.name.clone()),
            VrrpObject::Statics(_) => ObjectKey::Statics,
        }
    }
}

impl Keyed for CheckObject {
    fn key(&self) -> ObjectKey {
        match self {
            CheckObject::Globals(_) => ObjectKey::Globals,
            CheckObject::Ssl(_) => ObjectKey::Ssl,
            CheckObject::VirtualServer(vs) => ObjectKey::VirtualServer(virtual_server_key(vs)),
        }
    }
}

impl Keyed for IpvsObject {
    fn key(&self) -> ObjectKey {
        match self {
            IpvsObject::Globals(_) => ObjectKey::Globals,
            IpvsObject::VirtualServerGroup(g) => ObjectKey::VirtualServerGroup(g.name.clone()),
            IpvsObject::VirtualServer(vs) => ObjectKey::VirtualServer(virtual_server_key(vs)),
        }
    }
}

/// Which process a global_defs keyword (field name) is for. The parent keeps every one;
/// this decides which child also receives it.
pub fn global_owner(field: &str) -> Option<Role> {
    const PARENT_VRRP: &[&str] = &[
        // Run by the parent: notify FIFOs and scripts, scheduling set at spawn.
        "vrrp_notify_fifo",
        "vrrp_notify_fifo_script",
        "vrrp_notify_priority_changes",
        "vrrp_priority",
        "vrrp_no_swap",
        "vrrp_rt_priority",
        "vrrp_cpu_affinity",
        "vrrp_rlimit_rttime",
    ];
    const VRRP: &[&str] = &[
        "v3_checksum_as_v2",
        "log_unknown_vrids",
        "default_interface",
        "dynamic_interfaces",
        "allow_if_changes",
        "disable_local_igmp",
        "vmac_prefix",
        "vmac_addr_prefix",
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force",
    ];
    const CHECK: &[&str] = &["checker_log_all_failures"];
    if (field.starts_with("vrrp_") && !PARENT_VRRP.contains(&field)) || VRRP.contains(&field) {
        Some(Role::Vrrp)
    } else if CHECK.contains(&field) {
        Some(Role::Check)
    } else if field.starts_with("lvs_") && !field.starts_with("lvs_notify_fifo") {
        Some(Role::Ipvs)
    } else {
        None
    }
}

/// global_defs with every keyword that `role` does not use reset to its default.
pub fn globals_for(g: &GlobalDefs, role: Role) -> GlobalDefs {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(g) else {
        return GlobalDefs::default();
    };
    map.retain(|k, _| global_owner(k) == Some(role));
    serde_json::from_value(serde_json::Value::Object(map)).unwrap_or_default()
}

/// A copy of `s` without its command: only where it was configured remains.
pub fn redacted(s: &Script) -> Script {
    Script {
        command: String::new(),
        argv: Vec::new(),
        user: None,
        group: None,
        pos: s.pos,
    }
}

fn redact(config: &Config) -> Config {
    let mut c = config.clone();
    c.for_each_script_mut(|s| *s = redacted(s));
    c
}

/// The VRRP process's projection, one object per message.
pub fn vrrp_objects(config: &Config) -> Vec<VrrpObject> {
    let c = redact(config);
    let mut out = vec![VrrpObject::Globals(Box::new(globals_for(
        &c.global_defs,
        Role::Vrrp,
    )))];
    out.extend(
        c.vrrp_scripts
            .into_iter()
            .map(|s| VrrpObject::Script(Box::new(s))),
    );
    out.extend(
        c.track_files
            .into_iter()
            .map(|t| VrrpObject::TrackFile(Box::new(t))),
    );
    out.extend(
        c.vrrp_track_processes
            .into_iter()
            .map(|t| VrrpObject::TrackProcess(Box::new(t))),
    );
    out.extend(
        c.garp_groups
            .into_iter()
            .enumerate()
            .map(|(n, g)| VrrpObject::GarpGroup(n, Box::new(g))),
    );
    out.extend(
        c.vrrp_sync_groups
            .into_iter()
            .map(|g| VrrpObject::SyncGroup(Box::new(g))),
    );
    out.extend(
        c.vrrp_instances
            .into_iter()
            .map(|i| VrrpObject::Instance(Box::new(i))),
    );
    out.push(VrrpObject::Statics(Box::new(Statics {
        addresses: c.static_ipaddress,
        routes: c.static_routes,
        rules: c.static_rules,
    })));
    out
}

/// The checker's projection, one object per message.
pub fn check_objects(config: &Config) -> Vec<CheckObject> {
    let c = redact(config);
    let mut out = vec![CheckObject::Globals(Box::new(globals_for(
        &c.global_defs,
        Role::Check,
    )))];
    out.extend(c.ssl.map(|s| CheckObject::Ssl(Box::new(s))));
    let track_files = c.track_files;
    out.extend(c.virtual_servers.into_iter().map(|mut vs| {
        // A FILE_CHECK without its own `weight` takes its track_file's, as keepalived does;
        // the checker never sees the track_file blocks themselves.
        for rs in &mut vs.real_servers {
            for ch in &mut rs.checkers {
                if let crate::lvs::Checker::FileCheck(f) = ch {
                    if f.weight.is_none() {
                        if let Some(t) = track_files.iter().find(|t| t.name == f.track_file) {
                            f.weight = Some(i64::from(t.weight));
                            f.reverse = t.reverse;
                        }
                    }
                }
            }
        }
        CheckObject::VirtualServer(Box::new(vs))
    }));
    out
}

/// The IPVS writer's projection, one object per message.
pub fn ipvs_objects(config: &Config) -> Vec<IpvsObject> {
    let c = redact(config);
    let mut out = vec![IpvsObject::Globals(Box::new(globals_for(
        &c.global_defs,
        Role::Ipvs,
    )))];
    out.extend(
        c.virtual_server_groups
            .into_iter()
            .map(|g| IpvsObject::VirtualServerGroup(Box::new(g))),
    );
    out.extend(c.virtual_servers.into_iter().map(|mut vs| {
        for rs in &mut vs.real_servers {
            rs.checkers.clear();
        }
        IpvsObject::VirtualServer(Box::new(vs))
    }));
    out
}

/// What a reload sends: the objects that are new or changed, and the keys that are gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta<T> {
    /// New or changed objects, in projection order.
    pub changed: Vec<T>,
    /// Keys present before and absent now.
    pub removed: Vec<ObjectKey>,
}

/// Compares two projections of one role.
pub fn delta<T: Keyed + PartialEq + Clone>(old: &[T], new: &[T]) -> Delta<T> {
    let old_by_key: std::collections::HashMap<ObjectKey, &T> =
        old.iter().map(|o| (o.key(), o)).collect();
    let new_keys: std::collections::HashSet<ObjectKey> = new.iter().map(Keyed::key).collect();
    Delta {
        changed: new
            .iter()
            .filter(|o| old_by_key.get(&o.key()) != Some(o))
            .cloned()
            .collect(),
        removed: old
            .iter()
            .map(Keyed::key)
            .filter(|k| !new_keys.contains(k))
            .collect(),
    }
}

/// What a child was sent, without keeping the objects: the hash of each object's JSON (the
/// form it travels in), by key. A later projection is compared with it by [`delta_since`].
pub type Fingerprint = std::collections::BTreeMap<ObjectKey, u64>;

/// The fingerprint of a projection.
pub fn fingerprint<T: Keyed + Serialize>(objs: &[T]) -> Fingerprint {
    objs.iter().map(|o| (o.key(), json_hash(o))).collect()
}

fn json_hash<T: Serialize>(o: &T) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // The JSON is what the child receives: equal JSON is an unchanged object for it.
    match serde_json::to_vec(o) {
        Ok(bytes) => bytes.hash(&mut h),
        // Not serializable: it would not travel either; make it differ every time.
        Err(_) => std::time::SystemTime::now().hash(&mut h),
    }
    h.finish()
}

/// The objects of `new` that differ from what `old` fingerprinted, and the keys `old` had
/// and `new` has not.
pub fn delta_since<T: Keyed + Serialize + Clone>(old: &Fingerprint, new: &[T]) -> Delta<T> {
    let new_keys: std::collections::HashSet<ObjectKey> = new.iter().map(Keyed::key).collect();
    Delta {
        changed: new
            .iter()
            .filter(|o| old.get(&o.key()) != Some(&json_hash(*o)))
            .cloned()
            .collect(),
        removed: old
            .keys()
            .filter(|k| !new_keys.contains(*k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_finds_the_same_delta_as_the_objects() {
        let a = vrrp_objects(&load(CONF));
        let mut changed = load(CONF);
        changed.vrrp_instances[0].priority = Some(42);
        let b = vrrp_objects(&changed);
        let fp = fingerprint(&a);
        let by_objects = delta(&a, &b);
        let by_fp = delta_since(&fp, &b);
        assert_eq!(by_fp.changed, by_objects.changed);
        assert_eq!(by_fp.removed, by_objects.removed);
        assert_eq!(by_fp.changed.len(), 1);
        assert!(delta_since(&fp, &a).changed.is_empty());
        let gone = delta_since(&fp, &a[1..]);
        assert_eq!(gone.removed, vec![a[0].key()]);
    }

    fn load(text: &str) -> Config {
        let l = crate::load_str("test.conf", text, &crate::LoadOptions::default());
        assert!(l.is_ok(), "{:?}", l.diagnostics);
        l.config
    }

    const CONF: &str = r#"
global_defs {
    router_id lb1
    notification_email { ops@example.invalid }
    vrrp_garp_master_delay 3
    vrrp_notify_fifo /run/vrrp.fifo
    lvs_flush
    checker_log_all_failures
    script_user nobody
}
vrrp_script chk {
    script "/usr/bin/killall -0 haproxy"
    interval 2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress { 192.0.2.10/24 }
    notify_master "/etc/keepalived/master.sh arg"
    track_script { chk }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    quorum_up "/bin/echo up"
    real_server 198.51.100.1 80 {
        notify_up "/bin/echo rs up"
        MISC_CHECK { misc_path "/usr/local/bin/check --deep" }
        TCP_CHECK { connect_timeout 3 }
    }
}
"#;

    #[test]
    fn a_file_check_without_weight_takes_its_track_files() {
        // keepalived's FILE_CHECK starts from the track_file's weight and reverse, and its
        // own `weight` replaces both.
        let c = load(
            r#"
track_file tf {
    file /run/tf
    weight -3 reverse
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 198.51.100.1 80 {
        FILE_CHECK {
            track_file tf
        }
        FILE_CHECK {
            track_file tf
            weight 5
        }
    }
}
"#,
        );
        let objects = check_objects(&c);
        let Some(CheckObject::VirtualServer(vs)) = objects.last() else {
            panic!("a virtual server last")
        };
        let weights: Vec<_> = vs.real_servers[0]
            .checkers
            .iter()
            .map(|ch| match ch {
                crate::lvs::Checker::FileCheck(f) => (f.weight, f.reverse),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(weights, [(Some(-3), true), (Some(5), false)]);
    }

    #[test]
    fn no_projection_carries_a_command_line() {
        let c = load(CONF);
        let all = format!(
            "{:?}{:?}{:?}",
            vrrp_objects(&c),
            check_objects(&c),
            ipvs_objects(&c)
        );
        for secret in ["killall", "master.sh", "/bin/echo", "--deep", "nobody"] {
            assert!(!all.contains(secret), "{secret} leaked into a projection");
        }
        // The script objects are still there, so a child can ask for them by name.
        assert!(
            vrrp_objects(&c)
                .iter()
                .any(|o| o.key() == ObjectKey::Script("chk".into()))
        );
    }

    #[test]
    fn each_child_sees_only_its_own_globals() {
        let c = load(CONF);
        let VrrpObject::Globals(g) = &vrrp_objects(&c)[0] else {
            panic!("globals first")
        };
        assert_eq!(g.vrrp_garp_master_delay, 3);
        assert!(!g.lvs_flush && !g.checker_log_all_failures);
        assert!(g.router_id.is_none() && g.notification_email.is_empty());
        assert!(g.vrrp_notify_fifo.is_none(), "FIFOs are the parent's");
        let CheckObject::Globals(g) = &check_objects(&c)[0] else {
            panic!("globals first")
        };
        assert!(g.checker_log_all_failures && !g.lvs_flush);
        assert_eq!(
            g.vrrp_garp_master_delay,
            GlobalDefs::default().vrrp_garp_master_delay
        );
        let IpvsObject::Globals(g) = &ipvs_objects(&c)[0] else {
            panic!("globals first")
        };
        assert!(g.lvs_flush && !g.checker_log_all_failures);
        // The checker's virtual servers keep their checkers; the IPVS writer's do not,
        // and neither sees VRRP instances.
        assert!(check_objects(&c).iter().any(
            |o| matches!(o, CheckObject::VirtualServer(vs) if vs.real_servers[0].checkers.len() == 2)
        ));
        assert!(ipvs_objects(&c).iter().any(
            |o| matches!(o, IpvsObject::VirtualServer(vs) if vs.real_servers[0].checkers.is_empty())
        ));
    }

    #[test]
    fn every_vrrp_and_lvs_global_has_an_owner() {
        for k in crate::keywords::all()
            .filter(|r| r.block == crate::keywords::Block::GlobalDefs)
            .map(|r| r.name)
        {
            if k.starts_with("vrrp_")
                && !k.contains("notify_fifo")
                && !k.ends_with("priority")
                && !k.ends_with("no_swap")
                && !k.ends_with("affinity")
                && !k.ends_with("rttime")
                && k != "vrrp_notify_priority_changes"
            {
                assert_eq!(global_owner(k), Some(Role::Vrrp), "{k}");
            }
            if k.starts_with("lvs_") && !k.contains("notify_fifo") {
                assert_eq!(global_owner(k), Some(Role::Ipvs), "{k}");
            }
        }
    }

    #[test]
    fn a_reload_delta_names_only_what_changed() {
        let a = load(CONF);
        let b = load(&CONF.replace("priority 100", "priority 90").replace(
            "vrrp_script chk {\n    script \"/usr/bin/killall -0 haproxy\"\n    interval 2\n}",
            "",
        ).replace("track_script { chk }", ""));
        let d = delta(&vrrp_objects(&a), &vrrp_objects(&b));
        let keys: Vec<_> = d.changed.iter().map(Keyed::key).collect();
        assert_eq!(keys, vec![ObjectKey::Instance("VI_1".into())]);
        assert_eq!(d.removed, vec![ObjectKey::Script("chk".into())]);
        let same = delta(&vrrp_objects(&a), &vrrp_objects(&a));
        assert!(same.changed.is_empty() && same.removed.is_empty());
    }
}
