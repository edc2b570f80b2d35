//! The VRRP engine: keepalived-vrrp's instances driven with real sockets, rtnetlink and the
//! monotonic clock. The state machines decide; this module only carries out their actions
//! (send an advert, add or remove the VIPs, send gratuitous ARP / unsolicited NA) and feeds
//! them their inputs (received adverts, timer expiries, interface changes, tracker results).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use keepalived_config::Config;
use keepalived_config::addr::IpAddress;
use keepalived_config::vrrp::VrrpInstance;
use keepalived_netlink::{AddrSpec, Link, Rtnl};
use keepalived_sys::vrrp_net::{IpFamily, PacketSocket, VrrpSocket};
use keepalived_vrrp::{
    Action, Event, Family, Instance, InstanceConfig, Notify, Saved, State, Time, TrackerStatus,
};
use log::{debug, info, warn};

/// Reads CLOCK_MONOTONIC, the clock every VRRP time is measured on (system-wide, so a
/// saved deadline means the same to a respawned process).
pub fn now() -> Time {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| Time(t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000))
        .unwrap_or(Time(0))
}

/// Something the engine tells the process loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An instance changed state or priority (report it to the parent).
    Report {
        /// The instance.
        name: String,
        /// Before acting (true) or after (false).
        intent: bool,
    },
    /// Ask the parent to set an interface setting (VMAC set-up).
    Sysctl {
        /// The interface.
        interface: String,
        /// The setting.
        key: keepalived_ipc::msg::Sysctl,
        /// Its value.
        value: u8,
    },
    /// A sync group changed state.
    Group {
        /// The group.
        name: String,
        /// Its new state.
        state: State,
    },
    /// A master received a lower-priority advert.
    LowerPriority {
        /// The instance.
        name: String,
        /// The sender.
        from: IpAddr,
    },
}

/// One configured instance with its interface.
#[derive(Debug)]
pub struct Slot {
    /// A number no other slot of this process had (the timer heap's key).
    pub id: u32,
    /// The state machine.
    pub inst: Instance,
    /// Its configuration block (for addresses).
    pub block: VrrpInstance,
    /// The index of the interface adverts go through (0 while it does not exist).
    pub ifindex: u32,
    /// The index of the interface the VIPs go on (the VMAC with use_vmac).
    pub vip_if: u32,
    /// The interface's name.
    pub ifname: String,
    /// Its MAC address (for GARP).
    pub mac: Option<[u8; 6]>,
    /// The source address of adverts.
    pub src: Option<IpAddr>,
    /// Why the last transition happened.
    pub reason: String,
    /// The interface was up (IFF_UP and RUNNING) at the last dump.
    pub link_up: bool,
    /// What each of the instance's trackers is, in InstanceConfig::trackers order.
    pub tracked: Vec<Tracked>,
}

/// What a tracker of an instance follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    /// `track_interface`.
    Interface(String),
    /// `track_script`.
    Script(String),
    /// `track_file` (the parent reads the file).
    File(String),
    /// `track_process`.
    Process(String),
}

/// The trackers of an instance in the order keepalived-vrrp's `from_config` lists them:
/// the instance's interfaces, scripts, files, processes, then its sync group's.
fn tracked(config: &Config, block: &VrrpInstance) -> Vec<Tracked> {
    let mut out = Vec::new();
    let mut add = |i: &[keepalived_config::vrrp::TrackRef],
                   s: &[keepalived_config::vrrp::TrackRef],
                   f: &[keepalived_config::vrrp::TrackRef],
                   p: &[keepalived_config::vrrp::TrackRef]| {
        out.extend(i.iter().map(|r| Tracked::Interface(r.name.clone())));
        out.extend(s.iter().map(|r| Tracked::Script(r.name.clone())));
        out.extend(f.iter().map(|r| Tracked::File(r.name.clone())));
        out.extend(p.iter().map(|r| Tracked::Process(r.name.clone())));
    };
    add(
        &block.track_interface,
        &block.track_script,
        &block.track_file,
        &block.track_process,
    );
    if let Some(g) = config
        .vrrp_sync_groups
        .iter()
        .find(|g| g.group.iter().any(|m| m.name == block.name))
    {
        add(
            &g.track_interface,
            &g.track_script,
            &g.track_file,
            &g.track_process,
        );
    }
    out
}

/// The sockets of one (interface, family).
#[derive(Debug)]
pub struct Sockets {
    /// Adverts in and out.
    pub vrrp: VrrpSocket,
    /// Gratuitous ARP / unsolicited NA out.
    pub packet: PacketSocket,
}

/// Every instance, socket and the netlink request socket.
#[derive(Debug)]
pub struct Engine {
    /// Instances by name, boxed: a slot is taken out of the map while it acts, and moving a
    /// pointer costs nothing where moving a slot (kilobytes) dominated the profile.
    pub slots: BTreeMap<String, Box<Slot>>,
    /// Sockets by (ifindex, IPv6).
    pub sockets: BTreeMap<(u32, bool), Sockets>,
    /// rtnetlink requests.
    pub rtnl: Rtnl,
    /// Adverts for a VRID no instance has.
    pub unknown_vrid: u64,
    /// Release VIPs on stop (not with -V).
    pub release: bool,
    /// Interface indexes by name, from the last link dump.
    pub ifindex_by_name: BTreeMap<String, u32>,
    /// States of instances whose settings a reload changed, to resume from.
    pub reload_saved: BTreeMap<String, Saved>,
    /// The sync groups and their members' names (in member-index order).
    pub groups: Vec<(keepalived_vrrp::SyncGroup, Vec<String>)>,
    /// Which group and member index each member instance is.
    pub member_of: BTreeMap<String, (usize, usize)>,
    /// VMACs this process created (deleted on a releasing stop).
    pub created_vmacs: BTreeMap<String, u32>,
    /// Interface-setting requests for the parent, produced while configuring.
    pub pending: Vec<Output>,
    /// Where an instance's intent goes, before the engine acts on it.
    pub intent: IntentHook,
    /// The instance of each (interface index, IPv6, VRID), rebuilt by each configure: a
    /// received advert finds its instance without a walk over every instance.
    pub by_vrid: std::collections::HashMap<(u32, bool, u8), String>,
    /// Each instance's earliest deadline, as a min-heap of (time, instance name) fed at the
    /// end of every batch of actions; an entry whose time is no longer its instance's
    /// earliest deadline is stale and dropped when it reaches the top. With a thousand
    /// instances a wakeup costs O(log n), not a walk over every instance.
    pub timers: std::collections::BinaryHeap<std::cmp::Reverse<(Time, u32)>>,
    /// By slot id: its earliest deadline as last indexed (None: gone), and its name.
    pub deadline_of: Vec<Option<Time>>,
    /// By slot id: the instance's name.
    pub name_of: Vec<String>,
    /// Gratuitous ARPs / NAs spaced per interface and family.
    pub pacer: keepalived_vrrp::garp::Pacer<(u32, bool)>,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`, and the `garp_group` overrides by
    /// interface name: (GARP interval, NA interval).
    pub garp_intervals: (Duration, Duration, BTreeMap<String, (Duration, Duration)>),
}

/// What an instance is about to do: the report that leaves before its addresses change.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The instance.
    pub name: String,
    /// The state it is entering.
    pub to: State,
    /// Its effective priority.
    pub priority: u8,
    /// The master it knows of.
    pub master: Option<IpAddr>,
    /// Why.
    pub reason: String,
}

/// Sends an [`Intent`] to the parent at once (not at the end of the batch), so that the
/// parent hears "leaving MASTER" before the VIPs go.
#[derive(Default)]
pub struct IntentHook(pub Option<Box<dyn FnMut(Intent)>>);

impl std::fmt::Debug for IntentHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "IntentHook(set)"
        } else {
            "IntentHook(none)"
        })
    }
}

impl Engine {
    /// An engine with no instance.
    pub fn new() -> Result<Engine, String> {
        Ok(Engine {
            slots: BTreeMap::new(),
            sockets: BTreeMap::new(),
            rtnl: Rtnl::open().map_err(|e| format!("rtnetlink: {e}"))?,
            unknown_vrid: 0,
            release: true,
            ifindex_by_name: BTreeMap::new(),
            reload_saved: BTreeMap::new(),
            groups: Vec::new(),
            member_of: BTreeMap::new(),
            created_vmacs: BTreeMap::new(),
            pending: Vec::new(),
            intent: IntentHook::default(),
            by_vrid: Default::default(),
            timers: Default::default(),
            deadline_of: Vec::new(),
            name_of: Vec::new(),
            pacer: Default::default(),
            garp_intervals: Default::default(),
        })
    }

    /// Builds (or rebuilds) the instances from the configuration. An unchanged instance
    /// keeps its state machine; a new one is created (and started by [`Engine::start`]).
    /// Returns the names of new instances.
    pub fn configure(&mut self, config: &Config) -> Result<Vec<String>, String> {
        let links = self.rtnl.links().map_err(|e| format!("rtnetlink: {e}"))?;
        let addrs = self
            .rtnl
            .addresses(None)
            .map_err(|e| format!("rtnetlink: {e}"))?;
        self.ifindex_by_name = links.iter().map(|l| (l.name.clone(), l.index)).collect();
        self.garp_intervals = garp_intervals(config);
        let mut new = Vec::new();
        let mut keep = BTreeMap::new();
        for block in &config.vrrp_instances {
            let mut cfg = InstanceConfig::from_config(config, block).map_err(|e| e.to_string())?;
            let ifname = block
                .interface
                .clone()
                .unwrap_or_else(|| config.global_defs.default_interface.clone());
            let link = links.iter().find(|l| l.name == ifname);
            let base_index = link.map(|l| l.index).unwrap_or(0);
            let src = block.unicast_src_ip.or_else(|| {
                primary_address(&addrs, base_index, cfg.family == Family::Ipv6, &cfg.vips)
            });
            cfg.primary_address = src;
            // use_vmac: adverts (unless vmac_xmit_base) and VIPs go on the macvlan.
            let vmac = match (&block.use_vmac, link) {
                (Some(v), Some(base)) => {
                    Some(self.ensure_vmac(config, block, v, base, &addrs, cfg.family)?)
                }
                _ => None,
            };
            let (ifindex, vip_if, link, ifname) = match &vmac {
                Some(vl) if !block.vmac_xmit_base => {
                    (vl.index, vl.index, Some(vl), vl.name.clone())
                }
                Some(vl) => (base_index, vl.index, link, ifname),
                None => (base_index, base_index, link, ifname),
            };
            if base_index == 0 {
                warn!(
                    "vrrp_instance {}: interface {ifname} does not exist (yet); the instance \
                     starts when it appears",
                    block.name
                );
            }
            if let Some(old) = self.slots.remove(&block.name) {
                if old.block == *block && (old.ifindex != 0 || base_index == 0) {
                    keep.insert(block.name.clone(), old);
                    continue;
                }
                let mut old = old;
                let same_router = old.block.virtual_router_id == block.virtual_router_id
                    && old.ifindex == ifindex
                    && old.inst.config().family == cfg.family;
                if same_router {
                    // Changed settings of the same virtual router: the new instance resumes
                    // the old one's state (a MASTER stays MASTER); only VIPs that left the
                    // configuration are removed.
                    let kept: Vec<IpAddr> = block
                        .virtual_ipaddress
                        .iter()
                        .chain(&block.virtual_ipaddress_excluded)
                        .map(|v| v.address.addr)
                        .collect();
                    let dropped: Vec<AddrSpec> = old
                        .block
                        .virtual_ipaddress
                        .iter()
                        .chain(&old.block.virtual_ipaddress_excluded)
                        .filter(|v| !kept.contains(&v.address.addr))
                        .map(|v| self.spec(&old, v))
                        .collect();
                    for spec in dropped {
                        if let Err(e) = self.rtnl.del_address(&spec) {
                            warn!("{}: cannot remove {}: {e}", block.name, spec.addr);
                        }
                    }
                    self.reload_saved
                        .insert(block.name.clone(), old.inst.saved());
                } else {
                    // Another virtual router under the same name: the old one stops (its
                    // VIPs go) and a new one starts.
                    let acts = old.inst.handle(now(), Event::Stop);
                    self.apply(&mut old, acts, &mut Vec::new());
                }
            }
            let inst =
                Instance::new(cfg).map_err(|e| format!("vrrp_instance {}: {e}", block.name))?;
            for f in inst.fixups() {
                warn!("vrrp_instance {}: {f:?}", block.name);
            }
            let id = self.new_slot_id(&block.name);
            keep.insert(
                block.name.clone(),
                Box::new(Slot {
                    id,
                    inst,
                    block: block.clone(),
                    ifindex,
                    vip_if,
                    ifname,
                    mac: link.and_then(|l| l.mac),
                    src,
                    reason: "configured".into(),
                    link_up: link.is_some_and(|l| l.up()),
                    tracked: tracked(config, block),
                }),
            );
            new.push(block.name.clone());
        }
        // Instances gone from the configuration stop.
        let gone: Vec<String> = self.slots.keys().cloned().collect();
        for name in gone {
            if let Some(mut old) = self.slots.remove(&name) {
                let acts = old.inst.handle(now(), Event::Stop);
                self.apply(&mut old, acts, &mut Vec::new());
            }
        }
        self.slots = keep;
        let mut groups = Vec::new();
        let mut member_of = BTreeMap::new();
        for g in &config.vrrp_sync_groups {
            let members: Vec<String> = g
                .group
                .iter()
                .map(|m| m.name.clone())
                .filter(|m| self.slots.contains_key(m))
                .collect();
            let gi = groups.len();
            let kept = self
                .groups
                .iter()
                .find(|(sg, ms)| sg.name() == g.name && *ms == members)
                .map(|(sg, _)| sg.clone());
            for (mi, m) in members.iter().enumerate() {
                member_of.insert(m.clone(), (gi, mi));
            }
            let sg =
                kept.unwrap_or_else(|| keepalived_vrrp::SyncGroup::new(&g.name, members.len()));
            groups.push((sg, members));
        }
        self.groups = groups;
        self.member_of = member_of;
        // Slots gone (removed or replaced) leave no live deadline behind.
        let live: std::collections::HashSet<u32> = self.slots.values().map(|s| s.id).collect();
        for (id, d) in self.deadline_of.iter_mut().enumerate() {
            if !live.contains(&(id as u32)) {
                *d = None;
            }
        }
        self.by_vrid = self
            .slots
            .iter()
            .map(|(n, s)| {
                let v6 = s.inst.config().family == Family::Ipv6;
                ((s.ifindex, v6, s.inst.config().vrid), n.clone())
            })
            .collect();
        self.open_sockets(&links)?;
        Ok(new)
    }

    /// Brings the instances' idea of their interfaces in line with a fresh link dump (a
    /// VMAC may get its carrier after it was created). Started instances are told.
    pub fn refresh_links(&mut self, links: &[Link], started: bool, out: &mut Vec<Output>) {
        self.ifindex_by_name = links.iter().map(|l| (l.name.clone(), l.index)).collect();
        let changed: Vec<(u32, bool)> = self
            .slots
            .values_mut()
            .filter_map(|s| {
                let up = links.iter().any(|l| l.index == s.ifindex && l.up());
                (s.link_up != up).then(|| {
                    s.link_up = up;
                    (s.ifindex, up)
                })
            })
            .collect();
        if started {
            for (ifindex, up) in changed {
                self.on_link(ifindex, up, out);
            }
        }
    }

    /// Creates (or adopts) the instance's VMAC: a private-mode macvlan on the base
    /// interface with the virtual router MAC, addrgenmode none, the base's link-local
    /// address copied for IPv6, up; and asks the parent for the interface settings that
    /// make only the VMAC answer ARP for the VIPs.
    fn ensure_vmac(
        &mut self,
        config: &Config,
        block: &VrrpInstance,
        v: &keepalived_config::vrrp::UseVmac,
        base: &Link,
        addrs: &[keepalived_netlink::Address],
        family: Family,
    ) -> Result<Link, String> {
        let vrid = block.virtual_router_id.unwrap_or(0);
        let name = v
            .name
            .clone()
            .unwrap_or_else(|| format!("{}.{vrid}", config.global_defs.vmac_prefix));
        let nl_family = if family == Family::Ipv6 {
            keepalived_netlink::Family::Inet6
        } else {
            keepalived_netlink::Family::Inet
        };
        let mac: [u8; 6] = match v.mac.as_ref().map(|m| m.0.as_slice()) {
            Some([a, b, c, d, e, f]) => [*a, *b, *c, *d, *e, *f],
            Some([a, b, c, d, e]) => [*a, *b, *c, *d, *e, vrid],
            _ => keepalived_netlink::vmac_mac(nl_family, vrid),
        };
        let err = |e: keepalived_netlink::Error| format!("VMAC {name}: {e}");
        let existing = self.rtnl.link_by_name(&name).map_err(err)?;
        let link = match existing {
            Some(l) if l.parent == Some(base.index) && l.mac == Some(mac) => l,
            Some(_) => {
                return Err(format!(
                    "interface {name} exists and is not the VMAC of vrrp_instance {}                      (macvlan on {} with MAC {})",
                    block.name,
                    base.name,
                    keepalived_netlink::format_mac(&mac)
                ));
            }
            None => {
                self.rtnl.create_vmac(base.index, &name, mac).map_err(err)?;
                let l = self
                    .rtnl
                    .link_by_name(&name)
                    .map_err(err)?
                    .ok_or_else(|| format!("VMAC {name} vanished after its creation"))?;
                self.rtnl.set_addr_gen_mode_none(l.index).map_err(err)?;
                self.created_vmacs.insert(name.clone(), l.index);
                info!(
                    "created VMAC {name} on {} ({})",
                    base.name,
                    keepalived_netlink::format_mac(&mac)
                );
                l
            }
        };
        if family == Family::Ipv6 {
            // The base interface's link-local address, so adverts leave from it.
            if let Some(ll) = addrs.iter().find(|a| {
                a.ifindex == base.index
                    && matches!(a.addr, IpAddr::V6(x) if x.is_unicast_link_local())
            }) {
                let mut spec = AddrSpec::new(link.index, ll.addr, ll.prefix_len);
                spec.scope = 253;
                spec.nodad = true;
                if let Err(e) = self.rtnl.add_address(&spec) {
                    warn!("VMAC {name}: cannot copy the link-local address: {e}");
                }
            }
        }
        self.rtnl.set_link_up(link.index).map_err(err)?;
        use keepalived_ipc::msg::Sysctl::*;
        let mut ask = |interface: &str, key, value| {
            self.pending.push(Output::Sysctl {
                interface: interface.to_string(),
                key,
                value,
            })
        };
        // Only the VMAC answers ARP for the VIPs, and it accepts its own traffic.
        ask(&base.name, ArpIgnore, 1);
        ask(&base.name, ArpFilter, 1);
        // Replies to clients leave through the base interface with the VIP as source; its
        // ARP requests must not announce the VIP with the base MAC (the client would learn
        // it): use the base's own address.
        ask(&base.name, ArpAnnounce, 2);
        ask(&name, ArpIgnore, 1);
        ask(&name, AcceptLocal, 1);
        ask(&name, RpFilter, 0);
        // rp_filter's effective value is max(all, interface): with all set, clear it and
        // give every other interface the old value, so only the VMAC loses the filter.
        let all = std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter")
            .ok()
            .and_then(|v| v.trim().parse::<u8>().ok())
            .unwrap_or(0);
        if all != 0 {
            for l in self.ifindex_by_name.keys() {
                if *l != name {
                    let cur =
                        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{l}/rp_filter"))
                            .ok()
                            .and_then(|v| v.trim().parse::<u8>().ok())
                            .unwrap_or(0);
                    ask(l, RpFilter, cur.max(all));
                }
            }
            ask("all", RpFilter, 0);
        }
        Ok(link)
    }

    /// Opens the sockets every instance needs and closes the others.
    fn open_sockets(&mut self, links: &[Link]) -> Result<(), String> {
        let mut wanted: BTreeMap<(u32, bool), Vec<IpAddr>> = BTreeMap::new();
        for s in self.slots.values() {
            if s.ifindex == 0 {
                continue;
            }
            let v6 = s.inst.config().family == Family::Ipv6;
            let groups = wanted.entry((s.ifindex, v6)).or_default();
            if !s.inst.config().is_unicast() {
                let g = s.inst.config().multicast_group.unwrap_or(if v6 {
                    IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12))
                } else {
                    IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))
                });
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        self.sockets.retain(|k, _| wanted.contains_key(k));
        for ((ifindex, v6), groups) in wanted {
            if self.sockets.contains_key(&(ifindex, v6)) {
                continue;
            }
            let name = links
                .iter()
                .find(|l| l.index == ifindex)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            let fam = if v6 { IpFamily::V6 } else { IpFamily::V4 };
            let vrrp = VrrpSocket::open(fam, ifindex, &name, &groups)
                .map_err(|e| format!("VRRP socket on {name}: {e}"))?;
            let packet =
                PacketSocket::open(ifindex).map_err(|e| format!("packet socket on {name}: {e}"))?;
            debug!(
                "sockets open on {name} ({})",
                if v6 { "IPv6" } else { "IPv4" }
            );
            self.sockets.insert((ifindex, v6), Sockets { vrrp, packet });
        }
        Ok(())
    }

    /// Starts the new instances (fresh) or resumes them from a saved state.
    pub fn start(
        &mut self,
        names: &[String],
        saved: &BTreeMap<String, Saved>,
        out: &mut Vec<Output>,
    ) {
        // One dump of links and addresses for all of them.
        let links = self.rtnl.links().unwrap_or_default();
        let addrs = if saved.is_empty() && self.reload_saved.is_empty() {
            Vec::new()
        } else {
            self.rtnl.addresses(None).unwrap_or_default()
        };
        for name in names {
            let Some(mut slot) = self.slots.remove(name) else {
                continue;
            };
            let event = match self.reload_saved.remove(name).as_ref().or(saved.get(name)) {
                Some(s) => {
                    // The kernel wins over a stale record: a MASTER whose VIPs are gone
                    // starts fresh.
                    if s.state == State::Master && !self.vips_present(&slot, &addrs) {
                        warn!("{name}: saved as MASTER but its VIPs are gone; starting fresh");
                        Event::Start
                    } else {
                        info!("{name}: resuming as {:?}", s.state);
                        // The kernel wins over the record: the interface and the tracked
                        // interfaces are as they are now, not as they were saved.
                        let mut s = s.clone();
                        s.interface_up = slot.link_up;
                        for (i, t) in slot.tracked.iter().enumerate() {
                            if let (Tracked::Interface(ifname), Some(st)) =
                                (t, s.trackers.get_mut(i))
                            {
                                *st = up_down(links.iter().any(|l| &l.name == ifname && l.up()));
                            }
                        }
                        Event::Resume(s)
                    }
                }
                None => Event::Start,
            };
            let acts = slot.inst.handle(now(), event);
            self.apply(&mut slot, acts, out);
            for (i, t) in slot.tracked.clone().iter().enumerate() {
                if let Tracked::Interface(ifname) = t {
                    let up = links.iter().any(|l| &l.name == ifname && l.up());
                    let status = if up {
                        TrackerStatus::Up
                    } else {
                        TrackerStatus::Down
                    };
                    let acts = slot
                        .inst
                        .handle(now(), Event::TrackerChanged { tracker: i, status });
                    self.apply(&mut slot, acts, out);
                }
            }
            if !slot.link_up {
                slot.reason = format!("interface {} down", slot.ifname);
                let acts = slot.inst.handle(now(), Event::InterfaceDown);
                self.apply(&mut slot, acts, out);
            }
            self.slots.insert(name.clone(), slot);
        }
    }

    fn vips_present(&self, slot: &Slot, addrs: &[keepalived_netlink::Address]) -> bool {
        slot.block.virtual_ipaddress.iter().all(|v| {
            addrs
                .iter()
                .any(|a| a.addr == v.address.addr && a.ifindex == self.vip_ifindex(slot, v))
        })
    }

    fn vip_ifindex(&self, slot: &Slot, v: &IpAddress) -> u32 {
        match &v.dev {
            Some(dev) if *dev != slot.ifname => self
                .ifindex_by_name
                .get(dev)
                .copied()
                .unwrap_or(slot.vip_if),
            _ => slot.vip_if,
        }
    }

    /// The earliest timer of every instance.
    pub fn next_deadline(&mut self) -> Option<Time> {
        self.prune_timers();
        self.timers
            .peek()
            .map(|std::cmp::Reverse((t, _))| *t)
            .into_iter()
            .chain(self.pacer.next_deadline())
            .min()
    }

    /// Drops stale entries from the top of the timer heap.
    fn prune_timers(&mut self) {
        while let Some(std::cmp::Reverse((t, id))) = self.timers.peek() {
            let current = self.deadline_of.get(*id as usize).copied().flatten();
            if current == Some(*t) {
                break;
            }
            self.timers.pop();
        }
    }

    /// Records an instance's earliest deadline after it acted (an instance's deadlines
    /// change only through its actions).
    fn index_timer(&mut self, slot: &Slot) {
        let at = slot.inst.next_deadline().map(|(_, at)| at);
        if let Some(d) = self.deadline_of.get_mut(slot.id as usize) {
            *d = at;
        }
        if let Some(at) = at {
            self.timers.push(std::cmp::Reverse((at, slot.id)));
        }
    }

    /// A number for a new slot.
    fn new_slot_id(&mut self, name: &str) -> u32 {
        let id = u32::try_from(self.name_of.len()).unwrap_or(u32::MAX);
        self.name_of.push(name.to_string());
        self.deadline_of.push(None);
        id
    }

    /// Delivers every timer that is due.
    pub fn on_timers(&mut self, out: &mut Vec<Output>) {
        let t = now();
        for ((ifindex, v6), frame) in self.pacer.due(t) {
            match self.sockets.get(&(ifindex, v6)) {
                Some(link) => {
                    if let Err(e) = link.packet.send_frame(&frame) {
                        debug!("queued GARP on interface {ifindex}: {e}");
                    }
                }
                None => self.pacer.drop_lane(&(ifindex, v6)),
            }
        }
        // Only the instances with a timer due, from the heap: with a thousand instances the
        // loop wakes a thousand times a second, each time for a few of them.
        let mut due = Vec::new();
        loop {
            self.prune_timers();
            match self.timers.peek() {
                Some(std::cmp::Reverse((at, _))) if *at <= t => {
                    if let Some(std::cmp::Reverse((_, id))) = self.timers.pop() {
                        due.push(id);
                    }
                }
                _ => break,
            }
        }
        due.sort_unstable();
        due.dedup();
        for id in due {
            let Some(name) = self.name_of.get(id as usize).cloned() else {
                continue;
            };
            let Some(mut slot) = self.slots.remove(&name) else {
                continue;
            };
            // Bounded: a timer re-armed into the past cannot loop forever.
            for _ in 0..8 {
                match slot.inst.next_deadline() {
                    Some((kind, at)) if at <= t => {
                        let acts = slot.inst.handle(t, Event::TimerExpired(kind));
                        self.apply(&mut slot, acts, out);
                    }
                    _ => break,
                }
            }
            self.slots.insert(name, slot);
        }
    }

    /// Reads adverts from one socket.
    pub fn on_readable(&mut self, key: (u32, bool), out: &mut Vec<Output>) {
        let mut buf = [0u8; 2048];
        for _ in 0..64 {
            let Some(link) = self.sockets.get_mut(&key) else {
                return;
            };
            let got = match link.vrrp.recv(&mut buf) {
                Ok(Some(g)) => g,
                Ok(None) => return,
                Err(e) => {
                    warn!("receive on ifindex {}: {e}", key.0);
                    return;
                }
            };
            if got.truncated {
                continue;
            }
            let data = &buf[..got.len];
            // IPv4 raw sockets deliver the IP header; the TTL and addresses come from the
            // cmsgs either way.
            let payload: &[u8] = if key.1 {
                data
            } else {
                match keepalived_vrrp::packet::split_ipv4(data) {
                    Ok((_, p)) => p,
                    Err(_) => continue,
                }
            };
            let Some(vrid) = keepalived_vrrp::peek_vrid(payload) else {
                continue;
            };
            let Some(name) = self.by_vrid.get(&(key.0, key.1, vrid)).cloned() else {
                self.unknown_vrid += 1;
                continue;
            };
            let Some(mut slot) = self.slots.remove(&name) else {
                continue;
            };
            let meta = keepalived_vrrp::RxMeta {
                src: got.src,
                dst: got.dst,
                ttl_or_hop_limit: got.ttl_or_hop_limit,
            };
            let advert = keepalived_vrrp::decode(payload, &meta, &slot.inst.receive_rules());
            let acts = slot.inst.handle(
                now(),
                Event::Received {
                    src: got.src,
                    advert,
                },
            );
            self.apply(&mut slot, acts, out);
            self.slots.insert(name, slot);
        }
    }

    /// An interface went up or down: the instances on it, and those tracking it.
    pub fn on_link(&mut self, ifindex: u32, up: bool, out: &mut Vec<Output>) {
        let ifname = self
            .ifindex_by_name
            .iter()
            .find(|(_, i)| **i == ifindex)
            .map(|(n, _)| n.clone());
        if let Some(ifname) = ifname {
            self.on_tracked(
                &Tracked::Interface(ifname.clone()),
                up_down(up),
                &format!(
                    "tracked interface {ifname} {}",
                    if up { "up" } else { "down" }
                ),
                out,
            );
        }
        let names: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.ifindex == ifindex)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            if let Some(mut slot) = self.slots.remove(&name) {
                slot.reason = format!(
                    "interface {} {}",
                    slot.ifname,
                    if up { "up" } else { "down" }
                );
                let ev = if up {
                    Event::InterfaceUp
                } else {
                    Event::InterfaceDown
                };
                let acts = slot.inst.handle(now(), ev);
                self.apply(&mut slot, acts, out);
                self.slots.insert(name, slot);
            }
        }
    }

    /// A VIP was removed by someone else: a MASTER adds it back.
    pub fn on_address_removed(&mut self, ifindex: u32, addr: IpAddr) {
        let mut restore = Vec::new();
        for s in self.slots.values() {
            if s.inst.state() != State::Master {
                continue;
            }
            for v in &s.block.virtual_ipaddress {
                if v.address.addr == addr && self.vip_ifindex(s, v) == ifindex {
                    restore.push((s.block.name.clone(), self.spec(s, v)));
                }
            }
        }
        for (name, spec) in restore {
            warn!("{name}: VIP {addr} was removed by someone else while MASTER; adding it back");
            if let Err(e) = self.rtnl.add_address(&spec) {
                warn!("{name}: cannot add {addr} back: {e}");
            }
        }
    }

    /// A tracked script changed: every instance tracking it is told.
    pub fn on_script(&mut self, script: &str, up: bool, out: &mut Vec<Output>) {
        let why = format!(
            "vrrp_script {script} {}",
            if up { "succeeded" } else { "failed" }
        );
        self.on_tracked(&Tracked::Script(script.to_string()), up_down(up), &why, out);
    }

    /// A `vrrp_track_process` tracker's status changed.
    pub fn on_process(&mut self, name: &str, up: bool, out: &mut Vec<Output>) {
        let why = format!(
            "vrrp_track_process {name} {}",
            if up { "up" } else { "down" }
        );
        self.on_tracked(&Tracked::Process(name.to_string()), up_down(up), &why, out);
    }

    /// A tracked file's value (read by the parent; `None`: missing or unreadable, which
    /// keepalived counts as 0).
    pub fn on_file(&mut self, name: &str, value: Option<i64>, out: &mut Vec<Output>) {
        let v = value.unwrap_or(0);
        self.on_tracked(
            &Tracked::File(name.to_string()),
            TrackerStatus::Value(v),
            &format!("track_file {name} = {v}"),
            out,
        );
    }

    fn on_tracked(
        &mut self,
        what: &Tracked,
        status: TrackerStatus,
        why: &str,
        out: &mut Vec<Output>,
    ) {
        let names: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.tracked.contains(what))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(mut slot) = self.slots.remove(&name) else {
                continue;
            };
            let idx: Vec<usize> = slot
                .tracked
                .iter()
                .enumerate()
                .filter(|(_, t)| *t == what)
                .map(|(i, _)| i)
                .collect();
            for i in idx {
                slot.reason = why.to_string();
                let acts = slot
                    .inst
                    .handle(now(), Event::TrackerChanged { tracker: i, status });
                self.apply(&mut slot, acts, out);
            }
            self.slots.insert(name, slot);
        }
    }

    /// Stops every instance: masters send priority 0 and (unless -V) remove their VIPs and
    /// the VMACs this process created.
    pub fn stop_all(&mut self, out: &mut Vec<Output>) {
        self.stop_instances(out);
        if self.release {
            for (name, index) in std::mem::take(&mut self.created_vmacs) {
                match self.rtnl.delete_link(index) {
                    Ok(_) => info!("removed VMAC {name}"),
                    Err(e) => warn!("cannot remove VMAC {name}: {e}"),
                }
            }
        }
    }

    fn stop_instances(&mut self, out: &mut Vec<Output>) {
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for name in names {
            if let Some(mut slot) = self.slots.remove(&name) {
                slot.reason = "stopping".into();
                let acts = slot.inst.handle(now(), Event::Stop);
                self.apply(&mut slot, acts, out);
                self.slots.insert(name, slot);
            }
        }
    }

    fn spec(&self, slot: &Slot, v: &IpAddress) -> AddrSpec {
        let ifindex = self.vip_ifindex(slot, v);
        keepalived_netlink::from_config::addr_spec(v, ifindex).unwrap_or_else(|e| {
            // The parent refused unsupported options at load; keep the address itself.
            warn!("{}: {}: {e}", slot.block.name, v.address.addr);
            AddrSpec::new(ifindex, v.address.addr, v.address.len)
        })
    }

    /// Installs (or removes) an instance's virtual_routes and virtual_rules.
    fn routes(&mut self, slot: &Slot, add: bool) {
        use keepalived_netlink::from_config::{route_spec, rule_spec};
        let name = &slot.block.name;
        let ifindex_of = |n: &str| self.ifindex_by_name.get(n).copied();
        let routes: Vec<_> = slot
            .block
            .virtual_routes
            .iter()
            .map(|r| route_spec(r, &ifindex_of, Some(slot.vip_if)))
            .collect();
        let hint = if slot.inst.config().family == Family::Ipv6 {
            keepalived_netlink::Family::Inet6
        } else {
            keepalived_netlink::Family::Inet
        };
        let rules: Vec<_> = slot
            .block
            .virtual_rules
            .iter()
            .map(|r| rule_spec(r, hint))
            .collect();
        for r in routes {
            match r {
                Ok(r) => self.route(add, &r, name),
                Err(e) => warn!("{name}: virtual route: {e}"),
            }
        }
        for r in rules {
            match r {
                Ok(r) => self.rule(add, &r, name),
                Err(e) => warn!("{name}: virtual rule: {e}"),
            }
        }
    }

    /// Adds or removes one route; a failure is logged, naming `owner`.
    fn route(&mut self, add: bool, r: &keepalived_netlink::RouteSpec, owner: &str) {
        let res = if add {
            self.rtnl.add_route(r)
        } else {
            self.rtnl.del_route(r)
        };
        if let Err(e) = res {
            warn!(
                "{owner}: cannot {} a route: {e}",
                if add { "add" } else { "remove" }
            );
        }
    }

    /// Adds or removes one rule; a failure is logged, naming `owner`.
    fn rule(&mut self, add: bool, r: &keepalived_netlink::RuleSpec, owner: &str) {
        let res = if add {
            self.rtnl.add_rule(r)
        } else {
            self.rtnl.del_rule(r)
        };
        if let Err(e) = res {
            warn!(
                "{owner}: cannot {} a rule: {e}",
                if add { "add" } else { "remove" }
            );
        }
    }

    /// Installs (or removes) static_ipaddress, static_routes and static_rules.
    pub fn statics(&mut self, config: &Config, add: bool) {
        use keepalived_netlink::from_config::{addr_spec, route_spec, rule_spec};
        let default_if = self
            .ifindex_by_name
            .get(&config.global_defs.default_interface)
            .copied();
        for a in &config.static_ipaddress {
            let ifindex = a
                .dev
                .as_ref()
                .and_then(|d| self.ifindex_by_name.get(d).copied())
                .or(default_if);
            let Some(ifindex) = ifindex else {
                warn!("static_ipaddress {}: no such interface", a.address.addr);
                continue;
            };
            match addr_spec(a, ifindex) {
                Ok(spec) => {
                    let res = if add {
                        self.rtnl.add_address(&spec)
                    } else {
                        self.rtnl.del_address(&spec)
                    };
                    if let Err(e) = res {
                        warn!("static_ipaddress {}: {e}", a.address.addr);
                    }
                }
                Err(e) => warn!("static_ipaddress {}: {e}", a.address.addr),
            }
        }
        let ifindex_of = |n: &str| self.ifindex_by_name.get(n).copied();
        let routes: Vec<_> = config
            .static_routes
            .iter()
            .map(|r| route_spec(r, &ifindex_of, default_if))
            .collect();
        for r in routes {
            match r {
                Ok(r) => self.route(add, &r, "static_routes"),
                Err(e) => warn!("static route: {e}"),
            }
        }
        for r in &config.static_rules {
            match rule_spec(r, keepalived_netlink::Family::Inet) {
                Ok(r) => self.rule(add, &r, "static_rules"),
                Err(e) => warn!("static rule: {e}"),
            }
        }
    }

    /// Carries out one instance's actions, in order, then its sync group's orders.
    fn apply(&mut self, slot: &mut Slot, acts: Vec<Action>, out: &mut Vec<Output>) {
        self.apply_depth(slot, acts, out, 0);
    }

    fn apply_depth(
        &mut self,
        slot: &mut Slot,
        acts: Vec<Action>,
        out: &mut Vec<Output>,
        depth: u8,
    ) {
        let member = self.member_of.get(&slot.block.name).copied();
        let wishes = member.map(|_| acts.clone());
        self.apply_one(slot, acts, out);
        let (Some((gi, mi)), Some(acts)) = (member, wishes) else {
            return;
        };
        // Bounded: a group settles in a few rounds; never recurse without limit.
        if depth >= 8 {
            return;
        }
        let Some((group, members)) = self.groups.get_mut(gi) else {
            return;
        };
        let so = group.observe(mi, &acts);
        let gname = group.name().to_string();
        let members = members.clone();
        if let Some(t) = so.transition {
            info!("VRRP_Group({gname}) {:?} -> {:?}", t.from, t.to);
            out.push(Output::Group {
                name: gname.clone(),
                state: t.to,
            });
        }
        for (m, cmd) in so.commands {
            let Some(target) = members.get(m) else {
                continue;
            };
            if *target == slot.block.name {
                slot.reason = format!("sync group {gname}");
                let a = slot.inst.handle(now(), Event::Sync(cmd));
                self.apply_depth(slot, a, out, depth + 1);
            } else if let Some(mut other) = self.slots.remove(target) {
                other.reason = format!("sync group {gname}");
                let a = other.inst.handle(now(), Event::Sync(cmd));
                self.apply_depth(&mut other, a, out, depth + 1);
                self.slots.insert(target.clone(), other);
            }
        }
    }

    fn apply_one(&mut self, slot: &mut Slot, acts: Vec<Action>, out: &mut Vec<Output>) {
        self.apply_actions(slot, acts, out);
        self.index_timer(slot);
    }

    fn apply_actions(&mut self, slot: &mut Slot, acts: Vec<Action>, out: &mut Vec<Output>) {
        let name = slot.block.name.clone();
        let mut changed = false;
        // The intent leaves first: whatever the actions below do to addresses, the parent
        // already knows which state the instance is entering and why.
        if let Some(Action::StateChanged { to, reason, .. }) = acts
            .iter()
            .find(|a| matches!(a, Action::StateChanged { .. }))
        {
            let intent = Intent {
                name: name.clone(),
                to: *to,
                priority: slot.inst.effective_priority(),
                master: slot.inst.master().map(|m| m.addr),
                reason: format!("{reason:?}"),
            };
            match self.intent.0.as_mut() {
                Some(hook) => hook(intent),
                None => out.push(Output::Report {
                    name: name.clone(),
                    intent: true,
                }),
            }
        }
        for a in acts {
            match a {
                Action::SendAdvert(ad) => {
                    let v6 = slot.inst.config().family == Family::Ipv6;
                    let Some(link) = self.sockets.get(&(slot.ifindex, v6)) else {
                        continue;
                    };
                    let Some(src) = slot.src else {
                        debug!("{name}: no source address yet; advert not sent");
                        continue;
                    };
                    for dst in slot.inst.destinations() {
                        match slot.inst.encode(&ad, src, dst) {
                            Ok(bytes) => {
                                if let Err(e) = link.vrrp.send(&bytes, Some(src), dst) {
                                    debug!("{name}: advert to {dst}: {e}");
                                }
                            }
                            Err(e) => warn!("{name}: cannot encode an advert: {e}"),
                        }
                    }
                }
                Action::ArmTimer { .. } | Action::CancelTimer(_) | Action::SyncWish(_) => {}
                Action::AddVips => {
                    if !slot.inst.config().no_virtual_ipaddress {
                        let specs: Vec<AddrSpec> = slot
                            .block
                            .virtual_ipaddress
                            .iter()
                            .chain(&slot.block.virtual_ipaddress_excluded)
                            .map(|v| self.spec(slot, v))
                            .collect();
                        for spec in specs {
                            if let Err(e) = self.rtnl.add_address(&spec) {
                                warn!("{name}: cannot add {}: {e}", spec.addr);
                            }
                        }
                    }
                    self.routes(slot, true);
                }
                Action::RemoveVips => {
                    if self.release {
                        let specs: Vec<AddrSpec> = slot
                            .block
                            .virtual_ipaddress
                            .iter()
                            .chain(&slot.block.virtual_ipaddress_excluded)
                            .map(|v| self.spec(slot, v))
                            .collect();
                        for spec in specs {
                            if let Err(e) = self.rtnl.del_address(&spec) {
                                warn!("{name}: cannot remove {}: {e}", spec.addr);
                            }
                        }
                        self.routes(slot, false);
                    }
                }
                Action::SendGarp { repeat } => self.garp(slot, repeat),
                Action::StateChanged { from, to, reason } => {
                    info!("VRRP_Instance({name}) {from:?} -> {to:?} ({reason:?})");
                    slot.reason = format!("{reason:?}");
                    changed = true;
                }
                Action::Notify(Notify::MasterRxLowerPriority { .. }) => {
                    if let Some(m) = slot.inst.master() {
                        out.push(Output::LowerPriority {
                            name: name.clone(),
                            from: m.addr,
                        });
                    }
                }
                Action::Notify(_) => changed = true,
            }
        }
        if changed {
            out.push(Output::Report {
                name,
                intent: false,
            });
        }
    }

    fn garp(&mut self, slot: &Slot, repeat: u32) {
        let v6 = slot.inst.config().family == Family::Ipv6;
        let (Some(link), Some(mac)) = (self.sockets.get(&(slot.ifindex, v6)), slot.mac) else {
            return;
        };
        let (garp, gna, groups) = &self.garp_intervals;
        let interval = match groups.get(&slot.ifname) {
            Some((g, n)) => {
                if v6 {
                    *n
                } else {
                    *g
                }
            }
            None if v6 => *gna,
            None => *garp,
        };
        let t = now();
        for _ in 0..repeat.max(1) {
            for v in slot
                .block
                .virtual_ipaddress
                .iter()
                .chain(&slot.block.virtual_ipaddress_excluded)
            {
                let frame = match v.address.addr {
                    IpAddr::V4(a) => keepalived_vrrp::garp::gratuitous_arp(mac, a),
                    IpAddr::V6(a) => keepalived_vrrp::garp::unsolicited_na(mac, a, false),
                };
                let Some(frame) =
                    self.pacer
                        .submit(t, (slot.ifindex, v6), interval, frame.to_vec())
                else {
                    continue;
                };
                if let Err(e) = link.packet.send_frame(&frame) {
                    debug!("{}: GARP for {}: {e}", slot.block.name, v.address.addr);
                }
            }
        }
    }
}

/// The GARP and NA spacing: the global `vrrp_garp_interval` / `vrrp_gna_interval`, and per
/// interface those of the `garp_group` naming it (a value a group leaves out is the global
/// one).
fn garp_intervals(config: &Config) -> (Duration, Duration, BTreeMap<String, (Duration, Duration)>) {
    let garp = config.global_defs.vrrp_garp_interval.duration();
    let gna = config.global_defs.vrrp_gna_interval.duration();
    let mut groups = BTreeMap::new();
    for g in &config.garp_groups {
        let pair = (
            g.garp_interval.map_or(garp, |t| t.duration()),
            g.gna_interval.map_or(gna, |t| t.duration()),
        );
        for i in &g.interfaces {
            groups.insert(i.name.clone(), pair);
        }
    }
    (garp, gna, groups)
}

/// The address adverts are sent from: the first address of the family on the interface
/// that is not a VIP (IPv6: the link-local one).
fn primary_address(
    addrs: &[keepalived_netlink::Address],
    ifindex: u32,
    v6: bool,
    vips: &[IpAddr],
) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| a.ifindex == ifindex && !vips.contains(&a.addr))
        .map(|a| a.addr)
        .find(|a| match a {
            IpAddr::V4(_) => !v6,
            IpAddr::V6(x) => v6 && x.is_unicast_link_local(),
        })
}

fn up_down(up: bool) -> TrackerStatus {
    if up {
        TrackerStatus::Up
    } else {
        TrackerStatus::Down
    }
}

/// A stable wait bound for the loop when no timer is armed.
pub const IDLE: Duration = Duration::from_secs(1);
