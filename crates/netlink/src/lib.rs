//! rtnetlink for the VRRP process: links, addresses, routes, rules, macvlan VMACs, and a
//! monitor of link and address changes.
//!
//! ```text
//!            VRRP process: one thread, one mio loop
//!     requests (blocking, each bounded            readable fd (non-blocking)
//!     by a timeout)  │                                    ▲
//!                    ▼                                    │
//!        +----------------------+            +----------------------+
//!        | Rtnl                 |            | Monitor              |
//!        | NETLINK_ROUTE socket |            | NETLINK_ROUTE socket |
//!        | no groups            |            | RTNLGRP_LINK,        |
//!        |                      |            | IPV4_IFADDR,         |
//!        |                      |            | IPV6_IFADDR          |
//!        +----------------------+            +----------------------+
//!           │ request ▲ ACK / error / dump          ▲ notifications
//!           ▼         │                             │
//!        ─────────────────────── kernel ────────────────────────────
//!
//!   request:  spec ─► encode (neli Ifaddrmsg, Rtmsg, Fibmsg, Ifinfomsg, Rtattr) ─► send
//!   answer:   recvmsg (from the kernel only) ─► frame (split by nlmsg_len) ─►
//!             NLMSG_ERROR / NLMSG_DONE matched by sequence number, payloads decoded by neli
//! ```
//!
//! Two sockets, never one: the monitor's multicast traffic never mixes with the answers to
//! requests (KERNEL-INTERFACES 1, neli issues #300/#305).
//!
//! # Why the socket is not neli's `NlSocketHandle`
//!
//! The messages (headers, attributes, their byte layout) are neli's; the socket is a plain
//! `socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)` owned through nix. Like `NlSocketHandle` it
//! starts no thread (the router does, which a process that drops capabilities per thread
//! cannot have), and unlike it, it exposes an owned file descriptor: with it SO_RCVTIMEO,
//! SO_RCVBUF/SO_RCVBUFFORCE and O_NONBLOCK are set through nix without `unsafe` (forbidden
//! in this crate), and replies are read with `recvmsg` so that MSG_TRUNC and the sender's
//! port id (only the kernel, port 0, is believed) are seen. Framing the received datagram
//! ourselves also means one message neli cannot parse is skipped by its length instead of
//! breaking the rest of the buffer (neli #305), so the monitor never has to be reopened
//! (its file descriptor, registered with mio, stays the same).
//!
//! # Idempotence
//!
//! Adding what exists and deleting what is absent succeed, and say so
//! ([`Outcome::AlreadyPresent`], [`Outcome::AlreadyAbsent`]): the VRRP process re-applies
//! its desired state after a respawn or a resync without caring what was there.

mod error;
mod frame;
pub mod from_config;
mod model;
mod monitor;
pub mod names;
mod parse;
mod request;
mod rtnl;
mod socket;
mod vmac;

pub use error::Error;
pub use model::{
    AddrSpec, Address, Family, Link, Outcome, Prefix, RouteMode, RouteSpec, RouteType, RuleAction,
    RuleSpec, ipv4_broadcast,
};
pub use monitor::{Event, Monitor, MonitorError};
pub use rtnl::Rtnl;
pub use vmac::{VMAC_PREFIX, format_mac, valid_ifname, vmac_mac, vmac_name};
