//! The desired IPVS table: what the kernel should hold, computed from the IPVS writer's
//! configuration projection and the health of each configured real server.
//!
//! ```text
//!  IpvsObject::{Globals, VirtualServerGroup, VirtualServer}  --apply/remove-->  Projection
//!  checker: (RealServerId, Health) transitions               --insert------->  HealthMap
//!
//!  Planner::plan(&Projection, &HealthMap) -> Plan { table, transitions, unknown_health, problems }
//!     (the Planner keeps one bit per virtual server: is its quorum up)
//! ```
//!
//! The rules are keepalived's (check/ipwrapper.c, check/ipvswrapper.c, check/check_data.c),
//! written as a function of the current state instead of a sequence of commands:
//!
//! - A virtual server gives one service (`virtual_server IP PORT`, `virtual_server fwmark N`)
//!   or one per address of its group's entries (ranges expanded, `first..=last`) plus one per
//!   group fwmark. A virtual server without real servers gives nothing.
//! - An address service without `protocol` is UDP (the kernel's and keepalived's default).
//!   A service without a port, or a group with a port-less entry, is persistent (360 s) even
//!   when `persistence_timeout` is missing (keepalived sets it with a message; the
//!   configuration check refuses it, so this only matters for an unchecked projection).
//! - A real server with no health report yet counts as up, or as down when `alpha` applies
//!   to it (its own `alpha`, else the virtual server's). Its weight is the dynamic weight of
//!   its health report when there is one, else its `weight`, else the virtual server's
//!   `weight`, at most [`WEIGHT_MAX`].
//! - The quorum is the sum of the weights of the live real servers. A virtual server starts
//!   with its quorum up when that sum is at least `quorum + hysteresis`; once up, it goes down
//!   when the sum is 0 or below `quorum - hysteresis`; once down, it comes up again when the
//!   sum reaches `quorum + hysteresis`.
//! - Quorum up, or no sorry server: a live real server is a destination with its weight; a
//!   down one is absent, or present with weight 0 under `inhibit_on_failure`. Quorum down
//!   with a sorry server: no real server carries traffic (the inhibited ones stay with weight
//!   0, the others are absent) and the sorry server is a destination with weight 1. With
//!   `sorry_server_inhibit`, the sorry server stays with weight 0 while the quorum is up.
//! - Destination ports, as keepalived programs them (port 0 tells the kernel to keep the
//!   packet's port): NAT uses the real server's port, or when it has none the service's port
//!   for a `virtual_server IP PORT` and 0 for a group or a fwmark service; DR and TUN use the
//!   service's port (0 for a fwmark service). A NAT sorry server without a port gets 0.
//!
//! Nothing from the health map can add a service or a destination: health is looked up for
//! the configured real servers only, and reports for others are returned in
//! [`Plan::unknown_health`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepalived_config::global::GlobalDefs;
use keepalived_config::lvs::{
    self, ForwardingMethod, Granularity, GroupAddress, LvsMethod, RealServer, Scheduler,
    TunnelChecksum, VirtualServer, VirtualServerGroup,
};
use keepalived_config::project::{IpvsObject, ObjectKey, virtual_server_key};
use serde::{Deserialize, Serialize};

use crate::model::{
    DestAttrs, DestKey, Family, Forward, Protocol, ServiceAttrs, ServiceKey, Table, TableService,
    Tunnel, TunnelType, service_flags, tunnel_flags,
};

/// The largest IPVS weight (the kernel's INT32_MAX).
pub const WEIGHT_MAX: u32 = lvs::WEIGHT_MAX;

/// The most addresses one group range may expand to. keepalived only steps through the
/// last byte of an IPv4 range and the last 16-bit group of an IPv6 range, so no range it
/// handles is larger; a larger one (`2001:db8::/64`) is refused instead of expanded.
pub const RANGE_MAX: u128 = 65_536;

/// The persistence timeout keepalived gives a port-less service that has none (6 minutes).
const PORTLESS_TIMEOUT: u32 = lvs::PERSISTENCE_TIMEOUT_DEFAULT;

/// The weight keepalived gives a sorry server.
const SORRY_WEIGHT: u32 = 1;

// ---------------------------------------------------------------------------------------
// Identity and health of a real server
// ---------------------------------------------------------------------------------------

/// A configured real server, as the checker reports health for it: its virtual server's
/// key ([`virtual_server_key`]) and its own address and configured port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RealServerId {
    /// [`virtual_server_key`] of its virtual server ("192.0.2.1:80/tcp", "fwmark 1/tcp",
    /// "group G/tcp").
    pub virtual_server: String,
    /// Its address.
    pub ip: IpAddr,
    /// Its port as configured (0 when none is).
    pub port: u16,
}

impl RealServerId {
    /// The identity of real server `rs` of virtual server `vs`.
    pub fn of(vs: &VirtualServer, rs: &RealServer) -> RealServerId {
        RealServerId {
            virtual_server: virtual_server_key(vs),
            ip: rs.ip,
            port: rs.port.unwrap_or(0),
        }
    }
}

/// What the checker last reported for a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Health {
    /// Every checker passes.
    pub up: bool,
    /// The weight set by MISC_CHECK's `misc_dynamic` (or another dynamic source), replacing
    /// the configured one; `None` keeps the configured weight.
    pub weight: Option<u32>,
}

/// The last health report of each real server, by [`RealServerId`].
///
/// Kept by virtual server key, so that the planner looks a real server up without building
/// its identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthMap {
    by_vs: HashMap<String, HashMap<(IpAddr, u16), Health>>,
    len: usize,
}

impl HealthMap {
    /// An empty map: every real server counts as up, or down with alpha.
    pub fn new() -> HealthMap {
        HealthMap::default()
    }

    /// Records the health of `id`, returning what it replaces.
    pub fn insert(&mut self, id: RealServerId, health: Health) -> Option<Health> {
        let old = self
            .by_vs
            .entry(id.virtual_server)
            .or_default()
            .insert((id.ip, id.port), health);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The health of `id`.
    pub fn get(&self, id: &RealServerId) -> Option<&Health> {
        self.get_parts(&id.virtual_server, id.ip, id.port)
    }

    /// The health of the real server `ip`, `port` of virtual server `virtual_server`.
    pub fn get_parts(&self, virtual_server: &str, ip: IpAddr, port: u16) -> Option<&Health> {
        self.by_vs.get(virtual_server)?.get(&(ip, port))
    }

    /// Forgets the health of `id`, returning it.
    pub fn remove(&mut self, id: &RealServerId) -> Option<Health> {
        let inner = self.by_vs.get_mut(&id.virtual_server)?;
        let old = inner.remove(&(id.ip, id.port));
        if inner.is_empty() {
            self.by_vs.remove(&id.virtual_server);
        }
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// The number of real servers with a report.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no real server has a report.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every report, in identity order.
    pub fn entries(&self) -> Vec<(RealServerId, Health)> {
        let mut v: Vec<(RealServerId, Health)> = self
            .by_vs
            .iter()
            .flat_map(|(vs, inner)| {
                inner.iter().map(|((ip, port), h)| {
                    (
                        RealServerId {
                            virtual_server: vs.clone(),
                            ip: *ip,
                            port: *port,
                        },
                        *h,
                    )
                })
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Forgets the reports of real servers that `projection` does not hold (after a
    /// reload), returning their identities in order.
    pub fn retain_known(&mut self, projection: &Projection) -> Vec<RealServerId> {
        let unknown = unknown_health(projection, self);
        for id in &unknown {
            self.remove(id);
        }
        unknown
    }
}

// ---------------------------------------------------------------------------------------
// The configuration projection
// ---------------------------------------------------------------------------------------

/// The IPVS writer's configuration: the objects of its projection, by key, as the parent
/// sends them (one [`IpvsObject`] per message, then removals on reload).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// The IPVS settings of global_defs.
    pub globals: GlobalDefs,
    /// `virtual_server_group` blocks by name.
    pub groups: BTreeMap<String, VirtualServerGroup>,
    /// `virtual_server` blocks by [`virtual_server_key`].
    pub virtual_servers: BTreeMap<String, VirtualServer>,
}

impl Projection {
    /// An empty configuration.
    pub fn new() -> Projection {
        Projection::default()
    }

    /// The configuration made of `objects`.
    pub fn from_objects(objects: impl IntoIterator<Item = IpvsObject>) -> Projection {
        let mut p = Projection::new();
        for o in objects {
            p.apply(o);
        }
        p
    }

    /// Adds or replaces one object.
    pub fn apply(&mut self, object: IpvsObject) {
        match object {
            IpvsObject::Globals(g) => self.globals = *g,
            IpvsObject::VirtualServerGroup(g) => {
                self.groups.insert(g.name.clone(), *g);
            }
            IpvsObject::VirtualServer(vs) => {
                self.virtual_servers.insert(virtual_server_key(&vs), *vs);
            }
        }
    }

    /// Removes the object `key` (a reload's removal); false when there was none.
    pub fn remove(&mut self, key: &ObjectKey) -> bool {
        match key {
            ObjectKey::Globals => {
                self.globals = GlobalDefs::default();
                true
            }
            ObjectKey::VirtualServerGroup(name) => self.groups.remove(name).is_some(),
            ObjectKey::VirtualServer(k) => self.virtual_servers.remove(k).is_some(),
            _ => false,
        }
    }

    /// True when `id` names a configured real server.
    pub fn knows(&self, id: &RealServerId) -> bool {
        self.virtual_servers
            .get(&id.virtual_server)
            .is_some_and(|vs| {
                vs.real_servers
                    .iter()
                    .any(|rs| rs.ip == id.ip && rs.port.unwrap_or(0) == id.port)
            })
    }
}

/// The reports of `health` for real servers that `projection` does not hold, in order.
fn unknown_health(projection: &Projection, health: &HealthMap) -> Vec<RealServerId> {
    let mut out = Vec::new();
    for (vs_key, inner) in &health.by_vs {
        let known: HashSet<(IpAddr, u16)> = projection
            .virtual_servers
            .get(vs_key)
            .map(|vs| {
                vs.real_servers
                    .iter()
                    .map(|rs| (rs.ip, rs.port.unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        for (ip, port) in inner.keys() {
            if !known.contains(&(*ip, *port)) {
                out.push(RealServerId {
                    virtual_server: vs_key.clone(),
                    ip: *ip,
                    port: *port,
                });
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------

/// A change of a virtual server's quorum, for `quorum_up` / `quorum_down`, the notify
/// FIFO and SMTP alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumTransition {
    /// [`virtual_server_key`] of the virtual server.
    pub virtual_server: String,
    /// The quorum is now up (gained) or down (lost).
    pub up: bool,
    /// The virtual server was just configured (start or reload). keepalived notifies at
    /// start only when a virtual server with a sorry server starts with its quorum down,
    /// and that is the only initial transition reported.
    pub initial: bool,
    /// The sum of the weights of its live real servers.
    pub live_weight: u64,
    /// The threshold that was crossed: `quorum + hysteresis` when gained,
    /// `quorum - hysteresis` when lost.
    pub threshold: u64,
}

/// Something in the projection that could not be turned into IPVS entries. The rest of the
/// table is computed; the writer logs these. A checked configuration has none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The virtual server names a group that is not configured: it gives no service.
    #[error("virtual_server {virtual_server}: no virtual_server_group '{group}'")]
    UnknownGroup {
        /// The virtual server's key.
        virtual_server: String,
        /// The group it names.
        group: String,
    },
    /// An address virtual server without an address: it gives no service.
    #[error("virtual_server {virtual_server}: no address, fwmark or group")]
    NoAddress {
        /// The virtual server's key.
        virtual_server: String,
    },
    /// A group range larger than [`RANGE_MAX`] addresses: the entry gives no service.
    #[error(
        "virtual_server_group '{group}': the range {first}-{last} holds more than {RANGE_MAX} addresses, skipped"
    )]
    RangeTooLarge {
        /// The group.
        group: String,
        /// The range's first address.
        first: IpAddr,
        /// The range's last address.
        last: IpAddr,
    },
    /// Two virtual servers give the same service: the first (in key order) keeps it.
    #[error("service {service} of virtual_server {virtual_server} is already given by {owner}")]
    DuplicateService {
        /// The service.
        service: ServiceKey,
        /// The virtual server that loses it.
        virtual_server: String,
        /// The virtual server that keeps it.
        owner: String,
    },
    /// Two real servers of one virtual server give the same destination: the first keeps it.
    #[error("virtual_server {virtual_server}: real server {dest} of {service} is listed twice")]
    DuplicateDest {
        /// The virtual server's key.
        virtual_server: String,
        /// The service.
        service: ServiceKey,
        /// The destination.
        dest: DestKey,
    },
    /// A real or sorry server of another family than its service, without tunnelling: it is
    /// left out of that service.
    #[error(
        "virtual_server {virtual_server}: {dest} is not of the family of {service} and is not tunnelled"
    )]
    FamilyMismatch {
        /// The virtual server's key.
        virtual_server: String,
        /// The service.
        service: ServiceKey,
        /// The destination.
        dest: DestKey,
    },
}

/// What [`Planner::plan`] computes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The desired table.
    pub table: Table,
    /// The quorum changes since the previous plan, in virtual server key order.
    pub transitions: Vec<QuorumTransition>,
    /// Health reports for real servers the configuration does not hold (ignored), in order.
    pub unknown_health: Vec<RealServerId>,
    /// What could not be turned into entries.
    pub problems: Vec<Problem>,
}

/// Computes the desired table; keeps the quorum state of each virtual server between
/// plans (the hysteresis makes it depend on the past).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planner {
    /// Quorum up, by virtual server key.
    quorum: HashMap<String, bool>,
}

/// A real server, resolved.
struct Server {
    ip: IpAddr,
    port: Option<u16>,
    method: LvsMethod,
    forward: Forward,
    /// Carries traffic when the quorum allows.
    alive: bool,
    weight: u32,
    inhibit: bool,
    u_thresh: u32,
    l_thresh: u32,
}

/// A service of a virtual server, before its destinations.
struct ServiceSlot {
    key: ServiceKey,
    /// From a group entry (NAT real servers without a port get port 0).
    in_group: bool,
}

impl Planner {
    /// A planner with no quorum state: every virtual server starts afresh.
    pub fn new() -> Planner {
        Planner::default()
    }

    /// The quorum state of a virtual server after the last plan (`None`: not planned, or
    /// without real servers).
    pub fn quorum_up(&self, virtual_server: &str) -> Option<bool> {
        self.quorum.get(virtual_server).copied()
    }

    /// The desired table for `projection` and `health`, and the quorum transitions since the
    /// previous call.
    pub fn plan(&mut self, projection: &Projection, health: &HealthMap) -> Plan {
        let mut plan = Plan::default();
        let mut owners: HashMap<ServiceKey, &str> = HashMap::new();
        for (key, vs) in &projection.virtual_servers {
            if vs.real_servers.is_empty() {
                continue;
            }
            self.plan_virtual_server(key, vs, projection, health, &mut owners, &mut plan);
        }
        self.quorum.retain(|k, _| {
            projection
                .virtual_servers
                .get(k)
                .is_some_and(|vs| !vs.real_servers.is_empty())
        });
        plan.unknown_health = unknown_health(projection, health);
        plan
    }

    fn plan_virtual_server<'p>(
        &mut self,
        key: &'p str,
        vs: &VirtualServer,
        projection: &Projection,
        health: &HealthMap,
        owners: &mut HashMap<ServiceKey, &'p str>,
        plan: &mut Plan,
    ) {
        let reports = health.by_vs.get(key);
        let servers: Vec<Server> = vs
            .real_servers
            .iter()
            .map(|rs| {
                resolve(
                    vs,
                    rs,
                    reports.and_then(|r| r.get(&(rs.ip, rs.port.unwrap_or(0)))),
                )
            })
            .collect();
        let live_weight: u64 = servers
            .iter()
            .filter(|s| s.alive)
            .map(|s| u64::from(s.weight))
            .sum();
        let up = self.update_quorum(key, vs, live_weight, plan);
        let sorry_active = !up && vs.sorry_server.is_some();

        let slots = service_slots(key, vs, projection, &mut plan.problems);
        let persistent = persistence_timeout(vs, &slots);
        // keepalived clears one-packet scheduling of a virtual server with TCP or SCTP
        // address services (its fwmark services included).
        let has_addresses = slots
            .iter()
            .any(|s| matches!(s.key, ServiceKey::Addr { .. }));
        let ops = vs.ops && !(has_addresses && protocol_of(vs) != Protocol::Udp);
        for slot in slots {
            if let Some(owner) = owners.get(&slot.key) {
                plan.problems.push(Problem::DuplicateService {
                    service: slot.key,
                    virtual_server: key.to_string(),
                    owner: owner.to_string(),
                });
                continue;
            }
            let attrs = service_attrs(vs, &slot.key, persistent, ops);
            let mut dests = BTreeMap::new();
            for s in &servers {
                let weight = match (sorry_active, s.alive, s.inhibit) {
                    (false, true, _) => s.weight,
                    (_, _, true) => 0,
                    _ => continue,
                };
                let Some(dk) = dest_key(key, &slot, s.ip, s.port, s.method, false, plan) else {
                    continue;
                };
                if dests.contains_key(&dk) {
                    plan.problems.push(Problem::DuplicateDest {
                        virtual_server: key.to_string(),
                        service: slot.key,
                        dest: dk,
                    });
                    continue;
                }
                dests.insert(
                    dk,
                    DestAttrs {
                        forward: s.forward,
                        weight,
                        u_thresh: s.u_thresh,
                        l_thresh: s.l_thresh,
                    },
                );
            }
            if let Some(sorry) = &vs.sorry_server {
                let method = vs.sorry_method();
                let dk = dest_key(key, &slot, sorry.ip, sorry.port, method, true, plan);
                let attrs = |weight| DestAttrs {
                    forward: forward_of(method),
                    weight,
                    u_thresh: 0,
                    l_thresh: 0,
                };
                if let Some(dk) = dk {
                    if sorry_active {
                        // The sorry server takes the place of a real server at its address.
                        dests.insert(dk, attrs(SORRY_WEIGHT));
                    } else if vs.sorry_server_inhibit {
                        dests.entry(dk).or_insert_with(|| attrs(0));
                    }
                }
            }
            owners.insert(slot.key, key);
            plan.table
                .services
                .insert(slot.key, TableService { attrs, dests });
        }
    }

    /// Moves the quorum state of `key` for `live_weight`; returns whether it is up.
    fn update_quorum(
        &mut self,
        key: &str,
        vs: &VirtualServer,
        live_weight: u64,
        plan: &mut Plan,
    ) -> bool {
        let quorum = u64::from(vs.quorum);
        let hysteresis = u64::from(vs.hysteresis);
        let gain = quorum + hysteresis;
        let lose = quorum.saturating_sub(hysteresis);
        let mut transition = |up: bool, initial: bool, threshold: u64| {
            plan.transitions.push(QuorumTransition {
                virtual_server: key.to_string(),
                up,
                initial,
                live_weight,
                threshold,
            });
        };
        match self.quorum.get(key).copied() {
            None => {
                let up = live_weight >= gain;
                if !up && vs.sorry_server.is_some() {
                    transition(false, true, gain);
                }
                self.quorum.insert(key.to_string(), up);
                up
            }
            Some(true) => {
                if live_weight == 0 || live_weight < lose {
                    transition(false, false, lose);
                    self.quorum.insert(key.to_string(), false);
                    false
                } else {
                    true
                }
            }
            Some(false) => {
                if live_weight >= gain {
                    transition(true, false, gain);
                    self.quorum.insert(key.to_string(), true);
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// A real server with its configuration defaults and its health applied.
fn resolve(vs: &VirtualServer, rs: &RealServer, report: Option<&Health>) -> Server {
    let alpha = rs.alpha().unwrap_or(vs.alpha);
    let method = vs.method_of(rs);
    let configured = rs.weight.unwrap_or(vs.weight);
    Server {
        ip: rs.ip,
        port: rs.port,
        method,
        forward: forward_of(method),
        alive: report.map_or(!alpha, |h| h.up),
        weight: report
            .and_then(|h| h.weight)
            .unwrap_or(configured)
            .min(WEIGHT_MAX),
        inhibit: rs.inhibit_on_failure().unwrap_or(vs.inhibit_on_failure),
        u_thresh: rs.uthreshold().unwrap_or(0),
        l_thresh: rs.lthreshold().unwrap_or(0),
    }
}

/// The services of a virtual server, in configuration order.
fn service_slots(
    key: &str,
    vs: &VirtualServer,
    projection: &Projection,
    problems: &mut Vec<Problem>,
) -> Vec<ServiceSlot> {
    let protocol = protocol_of(vs);
    if let Some(name) = &vs.group {
        let Some(group) = projection.groups.get(name) else {
            problems.push(Problem::UnknownGroup {
                virtual_server: key.to_string(),
                group: name.clone(),
            });
            return Vec::new();
        };
        let mut slots = Vec::new();
        for entry in &group.addresses {
            let Some(addrs) = expand(entry) else {
                problems.push(Problem::RangeTooLarge {
                    group: name.clone(),
                    first: entry.first,
                    last: entry.last.unwrap_or(entry.first),
                });
                continue;
            };
            let port = entry.port.unwrap_or(0);
            slots.extend(addrs.map(|addr| ServiceSlot {
                key: ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                },
                in_group: true,
            }));
        }
        let family = vs_family(vs).unwrap_or(Family::Inet);
        for f in &group.fwmarks {
            slots.push(ServiceSlot {
                key: ServiceKey::Fwmark {
                    family: f.family.map(family_of).unwrap_or(family),
                    mark: f.fwmark,
                },
                in_group: true,
            });
        }
        slots
    } else if let Some(mark) = vs.fwmark {
        vec![ServiceSlot {
            key: ServiceKey::Fwmark {
                family: fwmark_family(vs),
                mark,
            },
            in_group: false,
        }]
    } else if let Some(addr) = vs.ip {
        vec![ServiceSlot {
            key: ServiceKey::Addr {
                protocol,
                addr,
                port: vs.port.unwrap_or(0),
            },
            in_group: false,
        }]
    } else {
        problems.push(Problem::NoAddress {
            virtual_server: key.to_string(),
        });
        Vec::new()
    }
}

/// The addresses of a group entry, first to last (none for a range that ends before it
/// starts or mixes families, which the configuration check refuses); `None` when more than
/// [`RANGE_MAX`].
fn expand(entry: &GroupAddress) -> Option<Box<dyn Iterator<Item = IpAddr>>> {
    let last = entry.last.unwrap_or(entry.first);
    let (first, last, v4) = match (entry.first, last) {
        (IpAddr::V4(f), IpAddr::V4(l)) => {
            (u128::from(u32::from(f)), u128::from(u32::from(l)), true)
        }
        (IpAddr::V6(f), IpAddr::V6(l)) => (u128::from(f), u128::from(l), false),
        _ => return Some(Box::new(std::iter::empty())),
    };
    if last < first {
        return Some(Box::new(std::iter::empty()));
    }
    if last - first >= RANGE_MAX {
        return None;
    }
    Some(Box::new((first..=last).map(move |a| {
        if v4 {
            // In range: both ends are IPv4 addresses.
            IpAddr::V4(Ipv4Addr::from(u32::try_from(a).unwrap_or(u32::MAX)))
        } else {
            IpAddr::V6(Ipv6Addr::from(a))
        }
    })))
}

/// The protocol of the address services of a virtual server: UDP when none is given.
fn protocol_of(vs: &VirtualServer) -> Protocol {
    match vs.protocol {
        Some(lvs::Protocol::Tcp) => Protocol::Tcp,
        Some(lvs::Protocol::Sctp) => Protocol::Sctp,
        Some(lvs::Protocol::Udp) | None => Protocol::Udp,
    }
}

fn family_of(f: lvs::Family) -> Family {
    match f {
        lvs::Family::Inet => Family::Inet,
        lvs::Family::Inet6 => Family::Inet6,
    }
}

/// The family a virtual server has without looking at its services (keepalived's
/// `vs->af`): its address, `ip_family`, its first real server that is not tunnelled, its
/// sorry server if not tunnelled, or its persistence granularity.
fn vs_family(vs: &VirtualServer) -> Option<Family> {
    vs.ip
        .map(|a| Family::of(&a))
        .or(vs.ip_family.map(family_of))
        .or_else(|| {
            vs.real_servers
                .iter()
                .find(|rs| vs.method_of(rs).method != ForwardingMethod::Tun)
                .map(|rs| Family::of(&rs.ip))
        })
        .or_else(|| {
            vs.sorry_server
                .as_ref()
                .filter(|_| vs.sorry_method().method != ForwardingMethod::Tun)
                .map(|s| Family::of(&s.ip))
        })
        .or(vs.persistence_granularity.map(|g| match g {
            Granularity::Mask(_) => Family::Inet,
            Granularity::Prefix(_) => Family::Inet6,
        }))
}

/// The family of `virtual_server fwmark N`: as [`vs_family`], else (every server
/// tunnelled) the family of the sorry and real servers when they share one, else IPv4.
fn fwmark_family(vs: &VirtualServer) -> Family {
    if let Some(f) = vs_family(vs) {
        return f;
    }
    let mut family = vs.sorry_server.as_ref().map(|s| Family::of(&s.ip));
    for rs in &vs.real_servers {
        let f = Family::of(&rs.ip);
        match family {
            None => family = Some(f),
            Some(g) if g != f => return Family::Inet,
            Some(_) => {}
        }
    }
    family.unwrap_or(Family::Inet)
}

/// The persistence timeout of a virtual server's services, if persistent: its own, or 360 s
/// when it has a port-less address service.
fn persistence_timeout(vs: &VirtualServer, slots: &[ServiceSlot]) -> Option<u32> {
    vs.effective_persistence_timeout().or_else(|| {
        slots
            .iter()
            .any(|s| matches!(s.key, ServiceKey::Addr { port: 0, .. }))
            .then_some(PORTLESS_TIMEOUT)
    })
}

/// The scheduler's name, as the kernel knows it.
fn scheduler_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Rr => "rr",
        Scheduler::Wrr => "wrr",
        Scheduler::Lc => "lc",
        Scheduler::Wlc => "wlc",
        Scheduler::Lblc => "lblc",
        Scheduler::Sh => "sh",
        Scheduler::Mh => "mh",
        Scheduler::Dh => "dh",
        Scheduler::Fo => "fo",
        Scheduler::Ovf => "ovf",
        Scheduler::Lblcr => "lblcr",
        Scheduler::Sed => "sed",
        Scheduler::Nq => "nq",
        Scheduler::Twos => "twos",
    }
}

/// The attributes of service `key` of virtual server `vs`: persistent for `timeout` seconds
/// if any, one-packet scheduling if `ops`.
fn service_attrs(
    vs: &VirtualServer,
    key: &ServiceKey,
    timeout: Option<u32>,
    ops: bool,
) -> ServiceAttrs {
    let mut flags = 0;
    if ops {
        flags |= service_flags::ONEPACKET;
    }
    if vs.flag_1 {
        flags |= service_flags::SCHED1;
    }
    if vs.flag_2 {
        flags |= service_flags::SCHED2;
    }
    if vs.flag_3 {
        flags |= service_flags::SCHED3;
    }
    // sh-port / mh-port are SCHED2, sh-fallback / mh-fallback SCHED1, each only with its
    // scheduler.
    let (port_flag, fallback_flag) = match vs.lvs_sched {
        Scheduler::Sh => (vs.sh_port, vs.sh_fallback),
        Scheduler::Mh => (vs.mh_port, vs.mh_fallback),
        _ => (false, false),
    };
    if port_flag {
        flags |= service_flags::SCHED2;
    }
    if fallback_flag {
        flags |= service_flags::SCHED1;
    }
    let family = key.family();
    let mut netmask = ServiceAttrs::default_netmask(family);
    let mut pe_name = None;
    if timeout.is_some() {
        flags |= service_flags::PERSISTENT;
        match (vs.persistence_granularity, family) {
            (Some(Granularity::Mask(m)), Family::Inet) => netmask = u32::from(m),
            (Some(Granularity::Prefix(p)), Family::Inet6) => netmask = u32::from(p),
            _ => {}
        }
        pe_name = vs.persistence_engine.clone();
    }
    ServiceAttrs {
        scheduler: scheduler_name(vs.lvs_sched).to_string(),
        flags,
        timeout: timeout.unwrap_or(0),
        netmask,
        pe_name,
    }
}

/// The kernel's forwarding of `lvs_method`.
fn forward_of(m: LvsMethod) -> Forward {
    match m.method {
        ForwardingMethod::Nat => Forward::Masq,
        ForwardingMethod::Dr => Forward::Route,
        ForwardingMethod::Tun => {
            let kind = match m.tunnel_type.unwrap_or_default() {
                lvs::TunnelType::Ipip => TunnelType::Ipip,
                lvs::TunnelType::Gue => TunnelType::Gue,
                lvs::TunnelType::Gre => TunnelType::Gre,
            };
            Forward::Tunnel(Tunnel {
                kind,
                port: if kind == TunnelType::Gue {
                    m.port.unwrap_or(0)
                } else {
                    0
                },
                flags: match m.checksum {
                    None | Some(TunnelChecksum::Nocsum) => tunnel_flags::NOCSUM,
                    Some(TunnelChecksum::Csum) => tunnel_flags::CSUM,
                    Some(TunnelChecksum::Remcsum) => tunnel_flags::REMCSUM,
                },
            })
        }
    }
}

/// The destination of a real (or sorry) server in a service, with keepalived's port rules;
/// `None` (with a problem recorded) when its family cannot serve the service.
fn dest_key(
    vs_key: &str,
    slot: &ServiceSlot,
    ip: IpAddr,
    port: Option<u16>,
    method: LvsMethod,
    sorry: bool,
    plan: &mut Plan,
) -> Option<DestKey> {
    let nat = method.method == ForwardingMethod::Nat;
    let port = match slot.key {
        ServiceKey::Fwmark { .. } if nat => port.unwrap_or(0),
        ServiceKey::Fwmark { .. } => 0,
        ServiceKey::Addr { port: vport, .. } if nat => {
            port.unwrap_or(if slot.in_group || sorry { 0 } else { vport })
        }
        ServiceKey::Addr { port: vport, .. } => vport,
    };
    let dk = DestKey { addr: ip, port };
    if method.method != ForwardingMethod::Tun && Family::of(&ip) != slot.key.family() {
        plan.problems.push(Problem::FamilyMismatch {
            virtual_server: vs_key.to_string(),
            service: slot.key,
            dest: dk,
        });
        return None;
    }
    Some(dk)
}
