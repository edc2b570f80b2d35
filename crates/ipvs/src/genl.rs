//! The IPVS generic-netlink codec, by hand: requests encoded from the model, replies decoded
//! into it (KERNEL-INTERFACES 2, `include/uapi/linux/ip_vs.h`).
//!
//! ```text
//!  0               4       6       8               12              16  17  18      20
//!  +---------------+-------+-------+---------------+---------------+---+---+-------+------ - -
//!  | nlmsg_len u32 | type  | flags | nlmsg_seq u32 | nlmsg_pid u32 |cmd|ver| resv  | attributes
//!  +---------------+-------+-------+---------------+---------------+---+---+-------+------ - -
//!    type: the IPVS family id (dynamic, from nlctrl), 0x10 for nlctrl, 2 NLMSG_ERROR, 3 DONE
//!
//!  attribute: | nla_len u16 | nla_type u16 | payload, padded to 4 |
//!
//!  IPVS_CMD_ATTR_SERVICE (1, nested)            IPVS_CMD_ATTR_DEST (2, nested)
//!    1 AF u16          7 FLAGS {flags, mask}      1 ADDR 4|16 bytes    8 INACT_CONNS u32
//!    2 PROTOCOL u16    8 TIMEOUT u32 (s)          2 PORT be16          9 PERSIST_CONNS u32
//!    3 ADDR 4|16 bytes 9 NETMASK be32 | prefix    3 FWD_METHOD u32    11 ADDR_FAMILY u16
//!    4 PORT be16      11 PE_NAME string           4 WEIGHT u32        12 STATS64 (nested)
//!    5 FWMARK u32     12 STATS64 (nested)         5 U_THRESH u32      13 TUN_TYPE u8
//!    6 SCHED_NAME string                          6 L_THRESH u32      14 TUN_PORT be16
//!                                                 7 ACTIVE_CONNS u32  15 TUN_FLAGS u16
//!  IPVS_CMD_ATTR_DAEMON (3, nested): 1 STATE u32, 2 MCAST_IFN string, 3 SYNC_ID u32,
//!    4 SYNC_MAXLEN u16, 5 MCAST_GROUP in_addr, 6 MCAST_GROUP6 in6_addr, 7 MCAST_PORT u16,
//!    8 MCAST_TTL u8
//!  IPVS_CMD_ATTR_TIMEOUT_TCP (4), _TCP_FIN (5), _UDP (6): u32 seconds, top level
//!  IPVS_INFO_ATTR_VERSION (1), _CONN_TAB_SIZE (2): u32, top level of the SET_INFO reply
//! ```
//!
//! Integers are in host order except the ports (service, destination, tunnel) and the IPv4
//! persistence netmask, which are big-endian. The kernel always answers with 16-byte
//! addresses; an address is read by its family (the service's, or the destination's
//! ADDR_FAMILY). Decoding is total: malformed input gives a [`DecodeError`], never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{
    Daemon, DaemonState, Dest, DestAttrs, DestConns, DestKey, Family, Forward, Info, Op, Protocol,
    Service, ServiceAttrs, ServiceKey, Stats, Timeouts, Tunnel, TunnelType,
};

/// The family's name, resolved to its id through nlctrl (IPVS_GENL_NAME).
pub const IPVS_GENL_NAME: &str = "IPVS";
/// The version every IPVS request carries (IPVS_GENL_VERSION).
pub const IPVS_GENL_VERSION: u8 = 1;
/// The fixed id of the generic-netlink controller, nlctrl (GENL_ID_CTRL).
pub const GENL_ID_CTRL: u16 = 0x10;

/// The IPVS commands (`IPVS_CMD_*`).
pub mod cmd {
    /// Add a service.
    pub const NEW_SERVICE: u8 = 1;
    /// Change a service.
    pub const SET_SERVICE: u8 = 2;
    /// Delete a service and its destinations.
    pub const DEL_SERVICE: u8 = 3;
    /// One service (doit) or all (dump).
    pub const GET_SERVICE: u8 = 4;
    /// Add a destination.
    pub const NEW_DEST: u8 = 5;
    /// Change a destination.
    pub const SET_DEST: u8 = 6;
    /// Delete a destination.
    pub const DEL_DEST: u8 = 7;
    /// The destinations of a service (dump only).
    pub const GET_DEST: u8 = 8;
    /// Start a sync daemon.
    pub const NEW_DAEMON: u8 = 9;
    /// Stop a sync daemon.
    pub const DEL_DAEMON: u8 = 10;
    /// The sync daemons (dump only).
    pub const GET_DAEMON: u8 = 11;
    /// Set the connection timeouts.
    pub const SET_CONFIG: u8 = 12;
    /// The connection timeouts (answered with SET_CONFIG).
    pub const GET_CONFIG: u8 = 13;
    /// The command of a GET_INFO answer.
    pub const SET_INFO: u8 = 14;
    /// Version and connection-table size.
    pub const GET_INFO: u8 = 15;
    /// Zero the counters of one service, or of all.
    pub const ZERO: u8 = 16;
    /// Delete every service of the network namespace.
    pub const FLUSH: u8 = 17;
}

/// First-level attributes (`IPVS_CMD_ATTR_*`).
mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
    pub const MAX: usize = 6;
}

/// Service attributes (`IPVS_SVC_ATTR_*`).
mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const MAX: usize = 12;
}

/// Destination attributes (`IPVS_DEST_ATTR_*`).
mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
    pub const MAX: usize = 15;
}

/// Sync-daemon attributes (`IPVS_DAEMON_ATTR_*`).
mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
    pub const MAX: usize = 8;
}

/// Counter attributes (`IPVS_STATS_ATTR_*`), in STATS (u32, bytes u64) and STATS64 (u64).
mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
    pub const MAX: usize = 11;
}

/// GET_INFO answer attributes (`IPVS_INFO_ATTR_*`).
mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
    pub const MAX: usize = 2;
}

/// nlctrl commands and attributes (`CTRL_CMD_*`, `CTRL_ATTR_*`).
mod ctrl {
    pub const CMD_NEWFAMILY: u8 = 1;
    pub const CMD_GETFAMILY: u8 = 3;
    pub const VERSION: u8 = 2;
    pub const ATTR_FAMILY_ID: u16 = 1;
    pub const ATTR_FAMILY_NAME: u16 = 2;
    pub const ATTR_VERSION: u16 = 3;
    pub const ATTR_MAX: usize = 3;
}

/// Netlink header types and flags.
mod nl {
    pub const NLMSG_NOOP: u16 = 1;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    pub const NLMSG_OVERRUN: u16 = 4;
    pub const NLM_F_REQUEST: u16 = 0x1;
    pub const NLM_F_ACK: u16 = 0x4;
    pub const NLM_F_DUMP: u16 = 0x300;
    /// In an NLMSG_ERROR: the request's payload was not echoed.
    pub const NLM_F_CAPPED: u16 = 0x100;
    /// In an NLMSG_ERROR or DONE: extended-ack attributes follow.
    pub const NLM_F_ACK_TLVS: u16 = 0x200;
    /// NLMSGERR_ATTR_MSG: the extended ack's text.
    pub const NLMSGERR_ATTR_MSG: u16 = 1;
    pub const HEADER_LEN: usize = 16;
    pub const GENL_HEADER_LEN: usize = 4;
}

/// NLM_F_MULTI: a message of a dump (more follow, up to NLMSG_DONE).
pub const NLM_F_MULTI: u16 = 0x2;
/// NLM_F_DUMP_INTR: the kernel's table changed during the dump.
pub const NLM_F_DUMP_INTR: u16 = 0x10;

/// `IP_VS_CONN_F_FWD_MASK`.
const FWD_MASK: u32 = 0x7;
/// `NLA_TYPE_MASK`: the type without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
const NLA_TYPE_MASK: u16 = 0x3fff;

// ------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------

/// One request to the kernel: every IPVS command, and nlctrl's family lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// nlctrl CTRL_CMD_GETFAMILY for a family name.
    GetFamily(&'a str),
    /// NEW_SERVICE.
    NewService(&'a Service),
    /// SET_SERVICE.
    SetService(&'a Service),
    /// DEL_SERVICE.
    DelService(&'a ServiceKey),
    /// NEW_DEST.
    NewDest(&'a ServiceKey, &'a Dest),
    /// SET_DEST.
    SetDest(&'a ServiceKey, &'a Dest),
    /// DEL_DEST.
    DelDest(&'a ServiceKey, &'a DestKey),
    /// GET_SERVICE for one service (answered with one NEW_SERVICE, or ESRCH).
    GetService(&'a ServiceKey),
    /// GET_SERVICE, dump: every service.
    GetServices,
    /// GET_DEST, dump: the destinations of one service.
    GetDests(&'a ServiceKey),
    /// NEW_DAEMON.
    NewDaemon(&'a Daemon),
    /// DEL_DAEMON.
    DelDaemon(DaemonState),
    /// GET_DAEMON, dump.
    GetDaemons,
    /// SET_CONFIG (a zero timeout leaves that timeout unchanged).
    SetTimeouts(&'a Timeouts),
    /// GET_CONFIG.
    GetTimeouts,
    /// GET_INFO.
    GetInfo,
    /// ZERO: the counters of one service, or of all.
    Zero(Option<&'a ServiceKey>),
    /// FLUSH: every service of the network namespace.
    Flush,
}

impl<'a> From<&'a Op> for Request<'a> {
    fn from(op: &'a Op) -> Request<'a> {
        match op {
            Op::NewService(s) => Request::NewService(s),
            Op::SetService(s) => Request::SetService(s),
            Op::DelService(k) => Request::DelService(k),
            Op::NewDest(k, d) => Request::NewDest(k, d),
            Op::SetDest(k, d) => Request::SetDest(k, d),
            Op::DelDest(k, d) => Request::DelDest(k, d),
        }
    }
}

impl Request<'_> {
    /// Whether the request is a dump (NLM_F_DUMP, ended by NLMSG_DONE) rather than a doit
    /// (NLM_F_ACK, ended by an NLMSG_ERROR that is 0 on success).
    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::GetServices | Request::GetDests(_) | Request::GetDaemons
        )
    }

    /// The generic-netlink command.
    pub fn command(&self) -> u8 {
        match self {
            Request::GetFamily(_) => ctrl::CMD_GETFAMILY,
            Request::NewService(_) => cmd::NEW_SERVICE,
            Request::SetService(_) => cmd::SET_SERVICE,
            Request::DelService(_) => cmd::DEL_SERVICE,
            Request::NewDest(..) => cmd::NEW_DEST,
            Request::SetDest(..) => cmd::SET_DEST,
            Request::DelDest(..) => cmd::DEL_DEST,
            Request::GetService(_) | Request::GetServices => cmd::GET_SERVICE,
            Request::GetDests(_) => cmd::GET_DEST,
            Request::NewDaemon(_) => cmd::NEW_DAEMON,
            Request::DelDaemon(_) => cmd::DEL_DAEMON,
            Request::GetDaemons => cmd::GET_DAEMON,
            Request::SetTimeouts(_) => cmd::SET_CONFIG,
            Request::GetTimeouts => cmd::GET_CONFIG,
            Request::GetInfo => cmd::GET_INFO,
            Request::Zero(_) => cmd::ZERO,
            Request::Flush => cmd::FLUSH,
        }
    }

    /// What the request does, as an error message names it: `add service TCP
    /// 192.0.2.1:80`, `start master sync daemon on eth0 (sync id 1)`, `dump services`.
    pub fn describe(&self) -> String {
        fn daemon_name(s: DaemonState) -> &'static str {
            match s {
                DaemonState::Master => "master",
                DaemonState::Backup => "backup",
            }
        }
        match self {
            Request::GetFamily(name) => format!("resolve generic netlink family {name}"),
            Request::NewService(s) => format!("add service {}", s.key),
            Request::SetService(s) => format!("edit service {}", s.key),
            Request::DelService(k) => format!("delete service {k}"),
            Request::NewDest(k, d) => format!("add real server {} to {k}", d.key),
            Request::SetDest(k, d) => format!("edit real server {} of {k}", d.key),
            Request::DelDest(k, d) => format!("delete real server {d} from {k}"),
            Request::GetService(k) => format!("get service {k}"),
            Request::GetServices => "dump services".to_string(),
            Request::GetDests(k) => format!("dump real servers of {k}"),
            Request::NewDaemon(d) => format!(
                "start {} sync daemon on {} (sync id {})",
                daemon_name(d.state),
                d.mcast_ifn,
                d.sync_id
            ),
            Request::DelDaemon(s) => format!("stop {} sync daemon", daemon_name(*s)),
            Request::GetDaemons => "dump sync daemons".to_string(),
            Request::SetTimeouts(t) => format!(
                "set timeouts tcp {} tcpfin {} udp {}",
                t.tcp, t.tcp_fin, t.udp
            ),
            Request::GetTimeouts => "get timeouts".to_string(),
            Request::GetInfo => "get IPVS info".to_string(),
            Request::Zero(Some(k)) => format!("zero counters of {k}"),
            Request::Zero(None) => "zero all counters".to_string(),
            Request::Flush => "flush the IPVS table".to_string(),
        }
    }

    /// Appends the request as one netlink message to `buf` (several requests can share a
    /// datagram). `family` is the IPVS family id (ignored by [`Request::GetFamily`], which
    /// goes to nlctrl); `seq` is echoed by every answer.
    pub fn encode(&self, family: u16, seq: u32, buf: &mut Vec<u8>) {
        let (ty, version) = match self {
            Request::GetFamily(_) => (GENL_ID_CTRL, ctrl::VERSION),
            _ => (family, IPVS_GENL_VERSION),
        };
        let flags = if self.is_dump() {
            nl::NLM_F_REQUEST | nl::NLM_F_DUMP
        } else {
            nl::NLM_F_REQUEST | nl::NLM_F_ACK
        };
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&[self.command(), version, 0, 0]);
        let mut w = Writer { buf };
        match self {
            Request::GetFamily(name) => w.string(ctrl::ATTR_FAMILY_NAME, name),
            Request::NewService(s) | Request::SetService(s) => {
                let n = w.nest_start(cmd_attr::SERVICE);
                w.service_key(&s.key);
                w.service_attrs(s.key.family(), &s.attrs);
                w.nest_end(n);
            }
            Request::DelService(k) | Request::GetService(k) | Request::GetDests(k) => {
                let n = w.nest_start(cmd_attr::SERVICE);
                w.service_key(k);
                w.nest_end(n);
            }
            Request::Zero(k) => {
                if let Some(k) = k {
                    let n = w.nest_start(cmd_attr::SERVICE);
                    w.service_key(k);
                    w.nest_end(n);
                }
            }
            Request::NewDest(k, d) | Request::SetDest(k, d) => {
                let n = w.nest_start(cmd_attr::SERVICE);
                w.service_key(k);
                w.nest_end(n);
                let n = w.nest_start(cmd_attr::DEST);
                w.dest_key(&d.key);
                w.dest_attrs(&d.attrs);
                w.nest_end(n);
            }
            Request::DelDest(k, d) => {
                let n = w.nest_start(cmd_attr::SERVICE);
                w.service_key(k);
                w.nest_end(n);
                let n = w.nest_start(cmd_attr::DEST);
                w.dest_key(d);
                w.nest_end(n);
            }
            Request::NewDaemon(d) => {
                let n = w.nest_start(cmd_attr::DAEMON);
                w.daemon(d);
                w.nest_end(n);
            }
            Request::DelDaemon(state) => {
                let n = w.nest_start(cmd_attr::DAEMON);
                w.u32(daemon_attr::STATE, state.number());
                w.nest_end(n);
            }
            Request::SetTimeouts(t) => {
                if t.tcp != 0 {
                    w.u32(cmd_attr::TIMEOUT_TCP, t.tcp);
                }
                if t.tcp_fin != 0 {
                    w.u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
                }
                if t.udp != 0 {
                    w.u32(cmd_attr::TIMEOUT_UDP, t.udp);
                }
            }
            Request::GetServices
            | Request::GetDaemons
            | Request::GetTimeouts
            | Request::GetInfo
            | Request::Flush => {}
        }
        let len = (buf.len() - start) as u32;
        buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// Appends attributes, each padded to 4 bytes.
struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        // Attribute payloads here are at most a 16-byte address or a 16-byte name.
        self.buf
            .extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn u8(&mut self, ty: u16, v: u8) {
        self.attr(ty, &[v]);
    }

    fn u16(&mut self, ty: u16, v: u16) {
        self.attr(ty, &v.to_ne_bytes());
    }

    fn be16(&mut self, ty: u16, v: u16) {
        self.attr(ty, &v.to_be_bytes());
    }

    fn u32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_ne_bytes());
    }

    /// A NUL-terminated string (NLA_NUL_STRING).
    fn string(&mut self, ty: u16, s: &str) {
        let mut b = Vec::with_capacity(s.len() + 1);
        b.extend_from_slice(s.as_bytes());
        b.push(0);
        self.attr(ty, &b);
    }

    fn addr(&mut self, ty: u16, a: &IpAddr) {
        match a {
            IpAddr::V4(a) => self.attr(ty, &a.octets()),
            IpAddr::V6(a) => self.attr(ty, &a.octets()),
        }
    }

    /// Starts a nested attribute (without NLA_F_NESTED, as the kernel's own answers);
    /// returns where its length goes.
    fn nest_start(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        at
    }

    fn nest_end(&mut self, at: usize) {
        let len = u16::try_from(self.buf.len() - at).unwrap_or(u16::MAX);
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn service_key(&mut self, k: &ServiceKey) {
        self.u16(svc_attr::AF, k.family().af());
        match k {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                self.u16(svc_attr::PROTOCOL, protocol.number());
                self.addr(svc_attr::ADDR, addr);
                self.be16(svc_attr::PORT, *port);
            }
            ServiceKey::Fwmark { mark, .. } => self.u32(svc_attr::FWMARK, *mark),
        }
    }

    fn service_attrs(&mut self, family: Family, a: &ServiceAttrs) {
        self.string(svc_attr::SCHED_NAME, &a.scheduler);
        if let Some(pe) = &a.pe_name {
            self.string(svc_attr::PE_NAME, pe);
        }
        // struct ip_vs_flags { flags, mask }: the mask makes SET_SERVICE replace every flag.
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&a.flags.to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        self.attr(svc_attr::FLAGS, &flags);
        self.u32(svc_attr::TIMEOUT, a.timeout);
        match family {
            Family::Inet => self.attr(svc_attr::NETMASK, &a.netmask.to_be_bytes()),
            Family::Inet6 => self.u32(svc_attr::NETMASK, a.netmask),
        }
    }

    fn dest_key(&mut self, k: &DestKey) {
        self.u16(dest_attr::ADDR_FAMILY, Family::of(&k.addr).af());
        self.addr(dest_attr::ADDR, &k.addr);
        self.be16(dest_attr::PORT, k.port);
    }

    fn dest_attrs(&mut self, a: &DestAttrs) {
        self.u32(dest_attr::FWD_METHOD, a.forward.number());
        self.u32(dest_attr::WEIGHT, a.weight);
        if let Forward::Tunnel(t) = a.forward {
            self.u8(dest_attr::TUN_TYPE, t.kind.number());
            self.be16(dest_attr::TUN_PORT, t.port);
            self.u16(dest_attr::TUN_FLAGS, t.flags);
        }
        self.u32(dest_attr::U_THRESH, a.u_thresh);
        self.u32(dest_attr::L_THRESH, a.l_thresh);
    }

    fn daemon(&mut self, d: &Daemon) {
        self.u32(daemon_attr::STATE, d.state.number());
        self.string(daemon_attr::MCAST_IFN, &d.mcast_ifn);
        self.u32(daemon_attr::SYNC_ID, d.sync_id);
        if d.sync_maxlen != 0 {
            self.u16(daemon_attr::SYNC_MAXLEN, d.sync_maxlen);
        }
        match d.mcast_group {
            Some(IpAddr::V4(g)) => self.attr(daemon_attr::MCAST_GROUP, &g.octets()),
            Some(IpAddr::V6(g)) => self.attr(daemon_attr::MCAST_GROUP6, &g.octets()),
            None => {}
        }
        if d.mcast_port != 0 {
            self.u16(daemon_attr::MCAST_PORT, d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            self.u8(daemon_attr::MCAST_TTL, d.mcast_ttl);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Replies
// ------------------------------------------------------------------------------------------

/// Why bytes from the kernel could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A netlink header that does not fit, or an nlmsg_len below the header's size.
    #[error("a netlink message of {len} bytes at offset {at} in {total} bytes")]
    Frame {
        /// nlmsg_len, or the bytes left when fewer than a header.
        len: usize,
        /// Offset of the message.
        at: usize,
        /// Size of the buffer.
        total: usize,
    },
    /// A message shorter than its fixed part (generic-netlink header, error code).
    #[error("a {what} of {len} bytes is too short")]
    Short {
        /// What was expected.
        what: &'static str,
        /// Bytes present.
        len: usize,
    },
    /// An attribute whose nla_len is below 4 or past its container.
    #[error("an attribute of {len} bytes at offset {at} in {total} bytes")]
    AttrFrame {
        /// nla_len.
        len: usize,
        /// Offset in its container.
        at: usize,
        /// Size of the container.
        total: usize,
    },
    /// A required attribute is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// An attribute of the wrong size.
    #[error("{attr} has {len} bytes")]
    Size {
        /// The attribute.
        attr: &'static str,
        /// Its payload size.
        len: usize,
    },
    /// An attribute with a value the model has no place for.
    #[error("{attr} has the unknown value {value}")]
    Value {
        /// The attribute.
        attr: &'static str,
        /// The value.
        value: u32,
    },
    /// A string attribute that is not UTF-8.
    #[error("{0} is not UTF-8")]
    Text(&'static str),
    /// A message of a type or command that no request here is answered with.
    #[error("unexpected message type {ty} command {cmd}")]
    Unexpected {
        /// nlmsg_type.
        ty: u16,
        /// The generic-netlink command (0 when not generic netlink).
        cmd: u8,
    },
}

/// The decoded content of one netlink message from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// NLMSG_ERROR with code 0: the request succeeded.
    Ack,
    /// NLMSG_ERROR with a negative code: the kernel refused the request.
    Error(Refusal),
    /// NLMSG_DONE: the end of a dump, with the dump's status (0, or an errno).
    Done(Option<Refusal>),
    /// NLMSG_NOOP, or NLMSG_OVERRUN: nothing to decode.
    Noop,
    /// nlctrl's answer to CTRL_CMD_GETFAMILY.
    Family(FamilyId),
    /// NEW_SERVICE: one service of a dump or of GET_SERVICE.
    Service(ServiceEntry),
    /// NEW_DEST: one destination of a dump.
    Dest(DestEntry),
    /// NEW_DAEMON: one sync daemon of a dump.
    Daemon(Daemon),
    /// SET_CONFIG: the GET_CONFIG answer.
    Timeouts(Timeouts),
    /// SET_INFO: the GET_INFO answer.
    Info(Info),
}

/// An errno from the kernel, with the extended ack's text when the kernel gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The errno (positive).
    pub errno: i32,
    /// NLMSGERR_ATTR_MSG.
    pub message: Option<String>,
}

/// A generic-netlink family as nlctrl describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyId {
    /// The dynamic id, used as nlmsg_type.
    pub id: u16,
    /// The family's version (CTRL_ATTR_VERSION, 0 if absent).
    pub version: u32,
}

/// A service as a dump returns it: identity and attributes (normalized), and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its counters.
    pub stats: Stats,
}

/// A destination as a dump returns it: identity and attributes, connections, counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestEntry {
    /// The destination.
    pub dest: Dest,
    /// Its connection counts.
    pub conns: DestConns,
    /// Its counters.
    pub stats: Stats,
}

/// One message from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// nlmsg_type.
    pub ty: u16,
    /// nlmsg_flags (NLM_F_MULTI, NLM_F_DUMP_INTR, ...).
    pub flags: u16,
    /// nlmsg_seq: the sequence number of the request it answers.
    pub seq: u32,
    /// Its content.
    pub reply: Reply,
}

/// What decoding needs to know besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The IPVS family id (0 while unknown: IPVS messages are then unexpected).
    pub family: u16,
    /// The family of the service whose destinations are decoded, for a kernel that omits
    /// IPVS_DEST_ATTR_ADDR_FAMILY.
    pub service_family: Option<Family>,
}

/// The messages of a buffer (one datagram, or several concatenated), decoded in order;
/// after a framing error, nothing more.
pub fn messages(buf: &[u8], ctx: Context) -> Messages<'_> {
    Messages { buf, at: 0, ctx }
}

/// Iterator of [`messages`].
#[derive(Debug)]
pub struct Messages<'a> {
    buf: &'a [u8],
    at: usize,
    ctx: Context,
}

impl Iterator for Messages<'_> {
    type Item = Result<Message, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (raw, next) = match frame(self.buf, self.at)? {
            Ok(r) => r,
            Err(e) => {
                self.at = self.buf.len();
                return Some(Err(e));
            }
        };
        self.at = next;
        Some(decode_message(&raw, self.ctx))
    }
}

/// One message's header fields and payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMessage<'a> {
    /// The whole message, header included (without the padding after it).
    pub bytes: &'a [u8],
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The message at `at`, and where the next one starts; None at the end.
fn frame(buf: &[u8], at: usize) -> Option<Result<(RawMessage<'_>, usize), DecodeError>> {
    let total = buf.len();
    let rest = buf.get(at..).filter(|r| !r.is_empty())?;
    if rest.len() < nl::HEADER_LEN {
        return Some(Err(DecodeError::Frame {
            len: rest.len(),
            at,
            total,
        }));
    }
    let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if len < nl::HEADER_LEN || len > rest.len() {
        return Some(Err(DecodeError::Frame { len, at, total }));
    }
    let raw = RawMessage {
        bytes: &rest[..len],
        ty: u16::from_ne_bytes([rest[4], rest[5]]),
        flags: u16::from_ne_bytes([rest[6], rest[7]]),
        seq: u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]),
        payload: &rest[nl::HEADER_LEN..len],
    };
    // NLMSG_ALIGN; the last message may end without its padding.
    let next = at.saturating_add((len + 3) & !3).min(total);
    Some(Ok((raw, next)))
}

/// The sequence numbers and types of the messages of a buffer, without decoding their
/// payloads (for skipping answers to an older request).
pub(crate) fn raw_messages(
    buf: &[u8],
) -> impl Iterator<Item = Result<RawMessage<'_>, DecodeError>> {
    let mut at = 0;
    std::iter::from_fn(move || match frame(buf, at)? {
        Ok((raw, next)) => {
            at = next;
            Some(Ok(raw))
        }
        Err(e) => {
            at = buf.len();
            Some(Err(e))
        }
    })
}

/// Decodes one message.
pub(crate) fn decode_message(raw: &RawMessage<'_>, ctx: Context) -> Result<Message, DecodeError> {
    let reply = match raw.ty {
        nl::NLMSG_ERROR => decode_error(raw)?,
        nl::NLMSG_DONE => decode_done(raw)?,
        nl::NLMSG_NOOP | nl::NLMSG_OVERRUN => Reply::Noop,
        GENL_ID_CTRL => {
            let (cmd, attrs) = genl(raw.payload)?;
            if cmd != ctrl::CMD_NEWFAMILY {
                return Err(DecodeError::Unexpected { ty: raw.ty, cmd });
            }
            Reply::Family(decode_family(attrs)?)
        }
        ty if ty == ctx.family && ty != 0 => {
            let (cmd, attrs) = genl(raw.payload)?;
            decode_ipvs(cmd, attrs, ctx).map_err(|e| match e {
                DecodeError::Unexpected { cmd, .. } => DecodeError::Unexpected { ty, cmd },
                e => e,
            })?
        }
        ty => return Err(DecodeError::Unexpected { ty, cmd: 0 }),
    };
    Ok(Message {
        ty: raw.ty,
        flags: raw.flags,
        seq: raw.seq,
        reply,
    })
}

/// The generic-netlink header's command, and the attributes after it.
fn genl(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if payload.len() < nl::GENL_HEADER_LEN {
        return Err(DecodeError::Short {
            what: "generic netlink header",
            len: payload.len(),
        });
    }
    Ok((payload[0], &payload[nl::GENL_HEADER_LEN..]))
}

fn error_code(payload: &[u8], what: &'static str) -> Result<i32, DecodeError> {
    match payload.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DecodeError::Short {
            what,
            len: payload.len(),
        }),
    }
}

/// The text of extended-ack attributes.
fn ext_ack_message(tlvs: &[u8]) -> Result<Option<String>, DecodeError> {
    for a in attrs(tlvs) {
        let (ty, payload) = a?;
        if ty == nl::NLMSGERR_ATTR_MSG {
            return Ok(Some(string(payload, "NLMSGERR_ATTR_MSG")?));
        }
    }
    Ok(None)
}

fn refusal(code: i32, message: Option<String>) -> Refusal {
    Refusal {
        errno: code.saturating_neg(),
        message,
    }
}

/// NLMSG_ERROR: | error i32 | the request's nlmsghdr [+ its payload unless CAPPED] | TLVs |
fn decode_error(raw: &RawMessage<'_>) -> Result<Reply, DecodeError> {
    let code = error_code(raw.payload, "NLMSG_ERROR")?;
    if code == 0 {
        return Ok(Reply::Ack);
    }
    let mut message = None;
    if raw.flags & nl::NLM_F_ACK_TLVS != 0 {
        let echoed = raw.payload.get(4..).unwrap_or_default();
        let request_len = if raw.flags & nl::NLM_F_CAPPED != 0 {
            nl::HEADER_LEN
        } else {
            match echoed.get(..4) {
                Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
                None => echoed.len(),
            }
        };
        let tlv_at = (request_len.saturating_add(3) & !3).min(echoed.len());
        message = ext_ack_message(&echoed[tlv_at..])?;
    }
    Ok(Reply::Error(refusal(code, message)))
}

/// NLMSG_DONE: | status i32 | TLVs |
fn decode_done(raw: &RawMessage<'_>) -> Result<Reply, DecodeError> {
    // A DONE without its status (very old kernels) ends a dump successfully.
    if raw.payload.is_empty() {
        return Ok(Reply::Done(None));
    }
    let code = error_code(raw.payload, "NLMSG_DONE")?;
    if code == 0 {
        return Ok(Reply::Done(None));
    }
    let message = if raw.flags & nl::NLM_F_ACK_TLVS != 0 {
        ext_ack_message(&raw.payload[4..])?
    } else {
        None
    };
    Ok(Reply::Done(Some(refusal(code, message))))
}

fn decode_family(attrs: &[u8]) -> Result<FamilyId, DecodeError> {
    let a = table::<{ ctrl::ATTR_MAX + 1 }>(attrs)?;
    let id = req(&a, ctrl::ATTR_FAMILY_ID, "CTRL_ATTR_FAMILY_ID")
        .and_then(|b| get_u16(b, "CTRL_ATTR_FAMILY_ID"))?;
    let version = opt(&a, ctrl::ATTR_VERSION)
        .map(|b| get_u32(b, "CTRL_ATTR_VERSION"))
        .transpose()?
        .unwrap_or(0);
    Ok(FamilyId { id, version })
}

fn decode_ipvs(cmd: u8, attrs: &[u8], ctx: Context) -> Result<Reply, DecodeError> {
    let top = table::<{ cmd_attr::MAX + 1 }>(attrs)?;
    match cmd {
        cmd::NEW_SERVICE => {
            let nested = req(&top, cmd_attr::SERVICE, "IPVS_CMD_ATTR_SERVICE")?;
            Ok(Reply::Service(decode_service(nested)?))
        }
        cmd::NEW_DEST => {
            let nested = req(&top, cmd_attr::DEST, "IPVS_CMD_ATTR_DEST")?;
            Ok(Reply::Dest(decode_dest(nested, ctx.service_family)?))
        }
        cmd::NEW_DAEMON => {
            let nested = req(&top, cmd_attr::DAEMON, "IPVS_CMD_ATTR_DAEMON")?;
            Ok(Reply::Daemon(decode_daemon(nested)?))
        }
        cmd::SET_CONFIG => {
            let t = |ty, name| {
                opt(&top, ty)
                    .map(|b| get_u32(b, name))
                    .transpose()
                    .map(Option::unwrap_or_default)
            };
            Ok(Reply::Timeouts(Timeouts {
                tcp: t(cmd_attr::TIMEOUT_TCP, "IPVS_CMD_ATTR_TIMEOUT_TCP")?,
                tcp_fin: t(cmd_attr::TIMEOUT_TCP_FIN, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN")?,
                udp: t(cmd_attr::TIMEOUT_UDP, "IPVS_CMD_ATTR_TIMEOUT_UDP")?,
            }))
        }
        cmd::SET_INFO => {
            let a = table::<{ info_attr::MAX + 1 }>(attrs)?;
            let version = get_u32(
                req(&a, info_attr::VERSION, "IPVS_INFO_ATTR_VERSION")?,
                "IPVS_INFO_ATTR_VERSION",
            )?;
            let conn_tab_size = get_u32(
                req(&a, info_attr::CONN_TAB_SIZE, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?,
                "IPVS_INFO_ATTR_CONN_TAB_SIZE",
            )?;
            Ok(Reply::Info(Info {
                version,
                conn_tab_size,
            }))
        }
        cmd => Err(DecodeError::Unexpected { ty: 0, cmd }),
    }
}

/// The attributes of a NEW_SERVICE answer (the content of IPVS_CMD_ATTR_SERVICE).
pub fn decode_service(nested: &[u8]) -> Result<ServiceEntry, DecodeError> {
    let a = table::<{ svc_attr::MAX + 1 }>(nested)?;
    let af = get_u16(
        req(&a, svc_attr::AF, "IPVS_SVC_ATTR_AF")?,
        "IPVS_SVC_ATTR_AF",
    )?;
    let family = Family::from_af(af).ok_or(DecodeError::Value {
        attr: "IPVS_SVC_ATTR_AF",
        value: u32::from(af),
    })?;
    let key = match opt(&a, svc_attr::FWMARK) {
        Some(b) => ServiceKey::Fwmark {
            family,
            mark: get_u32(b, "IPVS_SVC_ATTR_FWMARK")?,
        },
        None => {
            let p = get_u16(
                req(&a, svc_attr::PROTOCOL, "IPVS_SVC_ATTR_PROTOCOL")?,
                "IPVS_SVC_ATTR_PROTOCOL",
            )?;
            let protocol = Protocol::from_number(p).ok_or(DecodeError::Value {
                attr: "IPVS_SVC_ATTR_PROTOCOL",
                value: u32::from(p),
            })?;
            let addr = get_addr(
                req(&a, svc_attr::ADDR, "IPVS_SVC_ATTR_ADDR")?,
                family,
                "IPVS_SVC_ATTR_ADDR",
            )?;
            let port = get_be16(
                req(&a, svc_attr::PORT, "IPVS_SVC_ATTR_PORT")?,
                "IPVS_SVC_ATTR_PORT",
            )?;
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            }
        }
    };
    let scheduler = string(
        req(&a, svc_attr::SCHED_NAME, "IPVS_SVC_ATTR_SCHED_NAME")?,
        "IPVS_SVC_ATTR_SCHED_NAME",
    )?;
    let pe_name = opt(&a, svc_attr::PE_NAME)
        .map(|b| string(b, "IPVS_SVC_ATTR_PE_NAME"))
        .transpose()?;
    let flags_b = req(&a, svc_attr::FLAGS, "IPVS_SVC_ATTR_FLAGS")?;
    if flags_b.len() != 8 {
        return Err(DecodeError::Size {
            attr: "IPVS_SVC_ATTR_FLAGS",
            len: flags_b.len(),
        });
    }
    let flags = get_u32(&flags_b[..4], "IPVS_SVC_ATTR_FLAGS")?;
    let timeout = get_u32(
        req(&a, svc_attr::TIMEOUT, "IPVS_SVC_ATTR_TIMEOUT")?,
        "IPVS_SVC_ATTR_TIMEOUT",
    )?;
    let nm = req(&a, svc_attr::NETMASK, "IPVS_SVC_ATTR_NETMASK")?;
    let netmask = match family {
        Family::Inet => get_be32(nm, "IPVS_SVC_ATTR_NETMASK")?,
        Family::Inet6 => get_u32(nm, "IPVS_SVC_ATTR_NETMASK")?,
    };
    let stats = decode_stats_of(&a, svc_attr::STATS64, svc_attr::STATS)?;
    Ok(ServiceEntry {
        service: Service {
            key,
            attrs: ServiceAttrs {
                scheduler,
                flags,
                timeout,
                netmask,
                pe_name,
            }
            .normalized(),
        },
        stats,
    })
}

/// The attributes of a NEW_DEST answer (the content of IPVS_CMD_ATTR_DEST);
/// `service_family` is used when the kernel does not send IPVS_DEST_ATTR_ADDR_FAMILY.
pub fn decode_dest(
    nested: &[u8],
    service_family: Option<Family>,
) -> Result<DestEntry, DecodeError> {
    let a = table::<{ dest_attr::MAX + 1 }>(nested)?;
    let family = match opt(&a, dest_attr::ADDR_FAMILY) {
        Some(b) => {
            let af = get_u16(b, "IPVS_DEST_ATTR_ADDR_FAMILY")?;
            Family::from_af(af).ok_or(DecodeError::Value {
                attr: "IPVS_DEST_ATTR_ADDR_FAMILY",
                value: u32::from(af),
            })?
        }
        None => service_family.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_ADDR_FAMILY"))?,
    };
    let addr = get_addr(
        req(&a, dest_attr::ADDR, "IPVS_DEST_ATTR_ADDR")?,
        family,
        "IPVS_DEST_ATTR_ADDR",
    )?;
    let port = get_be16(
        req(&a, dest_attr::PORT, "IPVS_DEST_ATTR_PORT")?,
        "IPVS_DEST_ATTR_PORT",
    )?;
    let u32_req = |ty, name| req(&a, ty, name).and_then(|b| get_u32(b, name));
    let u32_opt = |ty, name| {
        opt(&a, ty)
            .map(|b| get_u32(b, name))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let fwd = u32_req(dest_attr::FWD_METHOD, "IPVS_DEST_ATTR_FWD_METHOD")? & FWD_MASK;
    let forward = match fwd {
        0 => Forward::Masq,
        1 => Forward::Local,
        2 => {
            let kind = opt(&a, dest_attr::TUN_TYPE)
                .map(|b| get_u8(b, "IPVS_DEST_ATTR_TUN_TYPE"))
                .transpose()?
                .unwrap_or(0);
            let kind = TunnelType::from_number(kind).ok_or(DecodeError::Value {
                attr: "IPVS_DEST_ATTR_TUN_TYPE",
                value: u32::from(kind),
            })?;
            let port = opt(&a, dest_attr::TUN_PORT)
                .map(|b| get_be16(b, "IPVS_DEST_ATTR_TUN_PORT"))
                .transpose()?
                .unwrap_or(0);
            let flags = opt(&a, dest_attr::TUN_FLAGS)
                .map(|b| get_u16(b, "IPVS_DEST_ATTR_TUN_FLAGS"))
                .transpose()?
                .unwrap_or(0);
            Forward::Tunnel(Tunnel { kind, port, flags })
        }
        3 => Forward::Route,
        4 => Forward::Bypass,
        value => {
            return Err(DecodeError::Value {
                attr: "IPVS_DEST_ATTR_FWD_METHOD",
                value,
            });
        }
    };
    let attrs = DestAttrs {
        forward,
        weight: u32_req(dest_attr::WEIGHT, "IPVS_DEST_ATTR_WEIGHT")?,
        u_thresh: u32_req(dest_attr::U_THRESH, "IPVS_DEST_ATTR_U_THRESH")?,
        l_thresh: u32_req(dest_attr::L_THRESH, "IPVS_DEST_ATTR_L_THRESH")?,
    };
    let conns = DestConns {
        active: u32_opt(dest_attr::ACTIVE_CONNS, "IPVS_DEST_ATTR_ACTIVE_CONNS")?,
        inactive: u32_opt(dest_attr::INACT_CONNS, "IPVS_DEST_ATTR_INACT_CONNS")?,
        persistent: u32_opt(dest_attr::PERSIST_CONNS, "IPVS_DEST_ATTR_PERSIST_CONNS")?,
    };
    let stats = decode_stats_of(&a, dest_attr::STATS64, dest_attr::STATS)?;
    Ok(DestEntry {
        dest: Dest {
            key: DestKey { addr, port },
            attrs,
        },
        conns,
        stats,
    })
}

/// The attributes of a NEW_DAEMON answer (the content of IPVS_CMD_ATTR_DAEMON).
pub fn decode_daemon(nested: &[u8]) -> Result<Daemon, DecodeError> {
    let a = table::<{ daemon_attr::MAX + 1 }>(nested)?;
    let s = get_u32(
        req(&a, daemon_attr::STATE, "IPVS_DAEMON_ATTR_STATE")?,
        "IPVS_DAEMON_ATTR_STATE",
    )?;
    let state = match s {
        1 => DaemonState::Master,
        2 => DaemonState::Backup,
        value => {
            return Err(DecodeError::Value {
                attr: "IPVS_DAEMON_ATTR_STATE",
                value,
            });
        }
    };
    let mcast_ifn = string(
        req(&a, daemon_attr::MCAST_IFN, "IPVS_DAEMON_ATTR_MCAST_IFN")?,
        "IPVS_DAEMON_ATTR_MCAST_IFN",
    )?;
    let sync_id = get_u32(
        req(&a, daemon_attr::SYNC_ID, "IPVS_DAEMON_ATTR_SYNC_ID")?,
        "IPVS_DAEMON_ATTR_SYNC_ID",
    )?;
    let sync_maxlen = opt(&a, daemon_attr::SYNC_MAXLEN)
        .map(|b| get_u16(b, "IPVS_DAEMON_ATTR_SYNC_MAXLEN"))
        .transpose()?
        .unwrap_or(0);
    let mcast_group = match (
        opt(&a, daemon_attr::MCAST_GROUP),
        opt(&a, daemon_attr::MCAST_GROUP6),
    ) {
        (Some(b), _) => Some(get_addr(b, Family::Inet, "IPVS_DAEMON_ATTR_MCAST_GROUP")?),
        (None, Some(b)) => Some(get_addr(b, Family::Inet6, "IPVS_DAEMON_ATTR_MCAST_GROUP6")?),
        (None, None) => None,
    };
    let mcast_port = opt(&a, daemon_attr::MCAST_PORT)
        .map(|b| get_u16(b, "IPVS_DAEMON_ATTR_MCAST_PORT"))
        .transpose()?
        .unwrap_or(0);
    let mcast_ttl = opt(&a, daemon_attr::MCAST_TTL)
        .map(|b| get_u8(b, "IPVS_DAEMON_ATTR_MCAST_TTL"))
        .transpose()?
        .unwrap_or(0);
    Ok(Daemon {
        state,
        mcast_ifn,
        sync_id,
        sync_maxlen,
        mcast_group,
        mcast_port,
        mcast_ttl,
    })
}

/// The counters from STATS64, else from the older STATS (u32 but for the byte counts);
/// zero when neither is present.
fn decode_stats_of<const N: usize>(
    a: &[Option<&[u8]>; N],
    stats64: u16,
    stats32: u16,
) -> Result<Stats, DecodeError> {
    if let Some(b) = opt(a, stats64) {
        return decode_stats(b, true);
    }
    match opt(a, stats32) {
        Some(b) => decode_stats(b, false),
        None => Ok(Stats::default()),
    }
}

fn decode_stats(nested: &[u8], wide: bool) -> Result<Stats, DecodeError> {
    let a = table::<{ stats_attr::MAX + 1 }>(nested)?;
    let name = if wide {
        "IPVS_*_ATTR_STATS64"
    } else {
        "IPVS_*_ATTR_STATS"
    };
    let get = |ty: u16| -> Result<u64, DecodeError> {
        let Some(b) = opt(&a, ty) else {
            return Ok(0);
        };
        let bytes64 = ty == stats_attr::INBYTES || ty == stats_attr::OUTBYTES;
        if wide || bytes64 {
            get_u64(b, name)
        } else {
            get_u32(b, name).map(u64::from)
        }
    };
    Ok(Stats {
        conns: get(stats_attr::CONNS)?,
        inpkts: get(stats_attr::INPKTS)?,
        outpkts: get(stats_attr::OUTPKTS)?,
        inbytes: get(stats_attr::INBYTES)?,
        outbytes: get(stats_attr::OUTBYTES)?,
        cps: get(stats_attr::CPS)?,
        inpps: get(stats_attr::INPPS)?,
        outpps: get(stats_attr::OUTPPS)?,
        inbps: get(stats_attr::INBPS)?,
        outbps: get(stats_attr::OUTBPS)?,
    })
}

// ------------------------------------------------------------------------------------------
// Attribute parsing
// ------------------------------------------------------------------------------------------

/// The attributes of a container, in order: (type without flag bits, payload).
fn attrs(buf: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), DecodeError>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let total = buf.len();
        let rest = buf.get(at..).filter(|r| !r.is_empty())?;
        if rest.len() < 4 {
            let e = DecodeError::AttrFrame {
                len: rest.len(),
                at,
                total,
            };
            at = total;
            return Some(Err(e));
        }
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            at = total;
            return Some(Err(DecodeError::AttrFrame { len, at, total }));
        }
        let payload = &rest[4..len];
        at = at.saturating_add((len + 3) & !3).min(total);
        Some(Ok((ty, payload)))
    })
}

/// The attributes of a container by type (the last one wins, as in the kernel's
/// nla_parse); types above N-1 are ignored.
fn table<const N: usize>(buf: &[u8]) -> Result<[Option<&[u8]>; N], DecodeError> {
    let mut t = [None; N];
    for a in attrs(buf) {
        let (ty, payload) = a?;
        if let Some(slot) = t.get_mut(usize::from(ty)) {
            *slot = Some(payload);
        }
    }
    Ok(t)
}

fn opt<'a, const N: usize>(t: &[Option<&'a [u8]>; N], ty: u16) -> Option<&'a [u8]> {
    t.get(usize::from(ty)).copied().flatten()
}

fn req<'a, const N: usize>(
    t: &[Option<&'a [u8]>; N],
    ty: u16,
    name: &'static str,
) -> Result<&'a [u8], DecodeError> {
    opt(t, ty).ok_or(DecodeError::Missing(name))
}

fn exact<const L: usize>(b: &[u8], attr: &'static str) -> Result<[u8; L], DecodeError> {
    <[u8; L]>::try_from(b).map_err(|_| DecodeError::Size { attr, len: b.len() })
}

fn get_u8(b: &[u8], attr: &'static str) -> Result<u8, DecodeError> {
    exact::<1>(b, attr).map(|a| a[0])
}

fn get_u16(b: &[u8], attr: &'static str) -> Result<u16, DecodeError> {
    exact(b, attr).map(u16::from_ne_bytes)
}

fn get_be16(b: &[u8], attr: &'static str) -> Result<u16, DecodeError> {
    exact(b, attr).map(u16::from_be_bytes)
}

fn get_u32(b: &[u8], attr: &'static str) -> Result<u32, DecodeError> {
    exact(b, attr).map(u32::from_ne_bytes)
}

fn get_be32(b: &[u8], attr: &'static str) -> Result<u32, DecodeError> {
    exact(b, attr).map(u32::from_be_bytes)
}

fn get_u64(b: &[u8], attr: &'static str) -> Result<u64, DecodeError> {
    exact(b, attr).map(u64::from_ne_bytes)
}

/// An address of a known family: 4 bytes, or the first 4 of a 16-byte `nf_inet_addr` for
/// IPv4; 16 bytes for IPv6.
fn get_addr(b: &[u8], family: Family, attr: &'static str) -> Result<IpAddr, DecodeError> {
    match family {
        Family::Inet if b.len() == 4 || b.len() == 16 => {
            Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        Family::Inet6 if b.len() == 16 => {
            let o: [u8; 16] = exact(b, attr)?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => Err(DecodeError::Size { attr, len: b.len() }),
    }
}

/// A string attribute: up to the first NUL, UTF-8.
fn string(b: &[u8], attr: &'static str) -> Result<String, DecodeError> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end])
        .map(str::to_string)
        .map_err(|_| DecodeError::Text(attr))
}
