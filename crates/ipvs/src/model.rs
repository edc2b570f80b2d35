//! The IPVS table as keepalived-rs sees it: services and destinations, each an identity
//! (what the kernel looks an entry up by) kept apart from its attributes (what a SET
//! changes) and from its read-only statistics (what only a dump returns).
//!
//! The values are the kernel's own (KERNEL-INTERFACES 2): flags, netmask and forwarding
//! are stored as the kernel reports them, after [`ServiceAttrs::normalized`] removes the
//! bits only the kernel sets, so that a table dumped from the kernel and a table computed
//! from the configuration compare equal when they mean the same thing.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// IPv4 (AF_INET, 2).
    Inet,
    /// IPv6 (AF_INET6, 10).
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// The kernel's AF_ number.
    pub fn af(self) -> u16 {
        match self {
            Family::Inet => libc_af::INET,
            Family::Inet6 => libc_af::INET6,
        }
    }

    /// The family of a kernel AF_ number.
    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            libc_af::INET => Some(Family::Inet),
            libc_af::INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

mod libc_af {
    pub const INET: u16 = 2;
    pub const INET6: u16 = 10;
}

/// The layer 4 protocol of an address service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    /// The protocol of an IP protocol number.
    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// What the kernel looks a service up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ServiceKey {
    /// An address service: protocol, virtual address and port (0 for a port-less,
    /// persistent service).
    Addr {
        /// TCP, UDP or SCTP.
        protocol: Protocol,
        /// The virtual address (its family is the service's).
        addr: IpAddr,
        /// The virtual port, host order.
        port: u16,
    },
    /// A firewall-mark service.
    Fwmark {
        /// The family the mark applies to.
        family: Family,
        /// The mark.
        mark: u32,
    },
}

impl ServiceKey {
    /// The service's family.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// As ipvsadm writes it: `TCP 192.0.2.1:80`, `UDP [2001:db8::1]:53`, `FWM 1`,
    /// `FWM 1 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let p = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                };
                match addr {
                    IpAddr::V4(a) => write!(f, "{p} {a}:{port}"),
                    IpAddr::V6(a) => write!(f, "{p} [{a}]:{port}"),
                }
            }
            ServiceKey::Fwmark { family, mark } => match family {
                Family::Inet => write!(f, "FWM {mark}"),
                Family::Inet6 => write!(f, "FWM {mark} IPv6"),
            },
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`).
pub mod service_flags {
    /// Persistent service.
    pub const PERSISTENT: u32 = 0x1;
    /// Hashed into the kernel's table: set by the kernel, never by us.
    pub const HASHED: u32 = 0x2;
    /// One-packet scheduling.
    pub const ONEPACKET: u32 = 0x4;
    /// Scheduler flag 1 (sh-fallback, mh-fallback).
    pub const SCHED1: u32 = 0x8;
    /// Scheduler flag 2 (sh-port, mh-port).
    pub const SCHED2: u32 = 0x10;
    /// Scheduler flag 3.
    pub const SCHED3: u32 = 0x20;
}

/// What NEW_SERVICE / SET_SERVICE write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceAttrs {
    /// The scheduler's name (`rr`, `wlc`, ...; at most 15 bytes).
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` flags, without [`service_flags::HASHED`].
    pub flags: u32,
    /// The persistence timeout in seconds (0 when not persistent).
    pub timeout: u32,
    /// The persistence granularity: an IPv4 mask as a host-order u32 (0xffffffff for /32),
    /// or an IPv6 prefix length (128 by default).
    pub netmask: u32,
    /// The persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl ServiceAttrs {
    /// The attributes with the kernel-only bits removed (what a dump is compared by).
    pub fn normalized(mut self) -> ServiceAttrs {
        self.flags &= !service_flags::HASHED;
        if self.pe_name.as_deref() == Some("") {
            self.pe_name = None;
        }
        self
    }

    /// The default netmask of a family (a /32 mask, or prefix 128).
    pub fn default_netmask(family: Family) -> u32 {
        match family {
            Family::Inet => 0xffff_ffff,
            Family::Inet6 => 128,
        }
    }
}

/// A service: identity and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    /// What the kernel looks it up by.
    pub key: ServiceKey,
    /// What a SET changes.
    pub attrs: ServiceAttrs,
}

/// What the kernel looks a destination up by, within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DestKey {
    /// The real server's address (a different family than the service's is allowed only
    /// with tunnelling).
    pub addr: IpAddr,
    /// Its port, host order.
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// The encapsulation of a tunnelled destination (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    /// IP in IP (0).
    Ipip,
    /// Generic UDP encapsulation (1), to a port.
    Gue,
    /// GRE (2).
    Gre,
}

impl TunnelType {
    /// The kernel's number.
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }

    /// The type of a kernel number.
    pub fn from_number(n: u8) -> Option<TunnelType> {
        match n {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tunnel_flags {
    /// No checksum.
    pub const NOCSUM: u16 = 0;
    /// Checksum.
    pub const CSUM: u16 = 1 << 0;
    /// Remote checksum offload.
    pub const REMCSUM: u16 = 1 << 1;
}

/// The tunnel settings of a TUN destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunnel {
    /// The encapsulation.
    pub kind: TunnelType,
    /// The GUE destination port, host order (0 for the others).
    pub port: u16,
    /// [`tunnel_flags`].
    pub flags: u16,
}

/// How packets reach a destination (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Forward {
    /// NAT (masquerading, 0).
    Masq,
    /// Local node (1).
    Local,
    /// Tunnelling (2).
    Tunnel(Tunnel),
    /// Direct routing (3).
    Route,
    /// Bypass (4).
    Bypass,
}

impl Forward {
    /// The `IP_VS_CONN_F_*` forwarding number.
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel(_) => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
        }
    }
}

/// What NEW_DEST / SET_DEST write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DestAttrs {
    /// The forwarding method (with the tunnel settings for TUN).
    pub forward: Forward,
    /// The weight, 0 to i32::MAX (0: no new connections).
    pub weight: u32,
    /// The upper connection threshold (0: none).
    pub u_thresh: u32,
    /// The lower connection threshold.
    pub l_thresh: u32,
}

/// A destination: identity and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dest {
    /// What the kernel looks it up by.
    pub key: DestKey,
    /// What a SET changes.
    pub attrs: DestAttrs,
}

/// The read-only counters of a service or destination (from STATS64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub inpkts: u64,
    /// Packets out.
    pub outpkts: u64,
    /// Bytes in.
    pub inbytes: u64,
    /// Bytes out.
    pub outbytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Packets in per second.
    pub inpps: u64,
    /// Packets out per second.
    pub outpps: u64,
    /// Bytes in per second.
    pub inbps: u64,
    /// Bytes out per second.
    pub outbps: u64,
}

/// The connection counts of a destination (read only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestConns {
    /// Active connections.
    pub active: u32,
    /// Inactive connections.
    pub inactive: u32,
    /// Persistent connection templates.
    pub persistent: u32,
}

/// One service of a table with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableService {
    /// The service's attributes.
    pub attrs: ServiceAttrs,
    /// Its destinations.
    pub dests: BTreeMap<DestKey, DestAttrs>,
}

/// An IPVS table (desired or actual): services by identity, each with its destinations.
/// Ordered maps, so that a diff is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    /// Services and their destinations.
    pub services: BTreeMap<ServiceKey, TableService>,
}

impl Table {
    /// The number of services plus the number of destinations.
    pub fn entries(&self) -> usize {
        self.services.values().map(|s| 1 + s.dests.len()).sum()
    }
}

/// The state of a connection-synchronisation daemon (`IP_VS_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DaemonState {
    /// The master sync daemon (1): sends.
    Master,
    /// The backup sync daemon (2): receives.
    Backup,
}

impl DaemonState {
    /// The kernel's number.
    pub fn number(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }
}

/// A connection-synchronisation daemon (`lvs_sync_daemon`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Daemon {
    /// Master or backup.
    pub state: DaemonState,
    /// The interface it multicasts on.
    pub mcast_ifn: String,
    /// The sync id.
    pub sync_id: u32,
    /// The largest sync message (0: the kernel's default).
    pub sync_maxlen: u16,
    /// The multicast group (None: the kernel's default 224.0.0.81).
    pub mcast_group: Option<IpAddr>,
    /// The multicast port (0: the kernel's default 8848).
    pub mcast_port: u16,
    /// The multicast TTL (0: the kernel's default 1).
    pub mcast_ttl: u8,
}

/// The connection timeouts (`lvs_timeouts`), in seconds; 0 leaves a value unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeouts {
    /// Established TCP.
    pub tcp: u32,
    /// TCP after FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// The version and connection-table size the kernel reports (GET_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// `IP_VS_VERSION_CODE` (0x010201 is 1.2.1).
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

/// One change to the kernel's table, as the writer sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// NEW_SERVICE.
    NewService(Service),
    /// SET_SERVICE.
    SetService(Service),
    /// DEL_SERVICE (the kernel removes its destinations with it).
    DelService(ServiceKey),
    /// NEW_DEST.
    NewDest(ServiceKey, Dest),
    /// SET_DEST.
    SetDest(ServiceKey, Dest),
    /// DEL_DEST.
    DelDest(ServiceKey, DestKey),
}

impl fmt::Display for Op {
    /// As a log line names it: `add service TCP 192.0.2.1:80`, `set real server
    /// 192.0.2.10:80 of TCP 192.0.2.1:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::NewService(s) => write!(f, "add service {}", s.key),
            Op::SetService(s) => write!(f, "edit service {}", s.key),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::NewDest(k, d) => write!(f, "add real server {} to {k}", d.key),
            Op::SetDest(k, d) => write!(f, "edit real server {} of {k}", d.key),
            Op::DelDest(k, d) => write!(f, "delete real server {d} from {k}"),
        }
    }
}
