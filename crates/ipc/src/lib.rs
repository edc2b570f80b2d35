//! Every message between the processes of keepalived-rs, their framing, and the channel
//! type.
//!
//! ```text
//!                        +------------------------------+
//!   systemd  <--notify-- |  keepalived-rs  (root)       | --> syslog / console
//!   signals  ----------> |  parent: config, supervision,| <-- control socket (root only)
//!                        |  scripts, files, log relay   |
//!                        +------------------------------+
//!                         fd3 |  fd2^    fd3 |  fd2^    fd3 |  fd2^
//!                 socketpair  |  log |       |  log |       |  log |
//!                             v      |       v      |       v      |
//!              +----------------+  +----------------+  +----------------+
//!              | keepalived-rs- |  | keepalived-rs- |  | keepalived-rs- |
//!              | vrrp           |  | check          |  | ipvs           |
//!              | user: -vrrp    |  | user: -check   |  | user: -ipvs    |
//!              | NET_ADMIN,     |  | (none; NET_RAW |  | NET_ADMIN      |
//!              | NET_RAW        |  |  only for ping)|  | no inet sockets|
//!              +----------------+  +----------------+  +----------------+
//!               adverts, VIPs,      TCP/HTTP/TLS/...    generic netlink
//!               GARP, rtnetlink     checks, SMTP        "IPVS" family
//! ```
//!
//! The topology is a star: every child talks only to the parent, over one
//! `socketpair(AF_UNIX, SOCK_STREAM)` passed as its fd 3. Health goes checker -> parent ->
//! IPVS writer; VRRP state for `lvs_sync_daemon` goes VRRP -> parent -> IPVS writer; alert
//! requests go parent -> checker.
//!
//! Each direction has one enum ([`ParentToVrrp`], [`VrrpToParent`], [`ParentToCheck`],
//! [`CheckToParent`], [`ParentToIpvs`], [`IpvsToParent`]); a frame is a `u32` length and the
//! postcard encoding of one value ([`frame`]). The lifecycle of every child is:
//!
//! ```text
//!   child                         parent
//!     | ---- Hello{version} ------> |   the child has dropped its privileges
//!     | <--- Hello{version} ------- |   versions must match, else both give up
//!     | <--- Config(object) ------- |   one message per object of its projection
//!     | <--- ConfigDone{gen} ------ |
//!     | ---- ConfigAck{gen} ------> |   parent: READY=1 once every child acked
//!     | <--- Resume(last state) --- |   only when the child is a respawn
//!     | <--- Start ---------------- |
//!     | <--> events, reports, heartbeats (Ping/Pong) ...
//!     | <--- Config.../Remove/ConfigDone{gen+1}   reload: only what changed
//!     | <--- Shutdown{release} ---- |   a clean stop; end of file instead = parent death
//! ```
//!
//! Anything else (a frame over the cap, an undecodable frame, a message out of order) is a
//! protocol error: the receiver logs it and drops the connection; the parent then respawns
//! the child.

pub mod channel;
pub mod child;
pub mod frame;
pub mod msg;

pub use channel::{Channel, ChannelError};
pub use frame::{FrameError, FrameReader, MAX_FRAME};
pub use msg::*;

/// The IPC protocol version: a child and a parent of different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = 2;
