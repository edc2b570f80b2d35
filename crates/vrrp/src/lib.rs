//! Sans-IO VRRP: the advertisement codec (VRRPv2 and v3, IPv4 and IPv6), the instance
//! state machine and the sync-group helper.
//!
//! Nothing here opens a socket or reads a clock. The driver (the VRRP process) decodes a
//! received packet with [`packet::decode`], passes the result to
//! [`instance::Instance::handle`] with the current [`time::Time`], and executes the
//! [`instance::Action`]s it gets back: send an advert, arm a timer, add or remove the
//! virtual addresses, send gratuitous ARP / unsolicited NA, notify.

pub mod error;
pub mod packet;

pub use error::{ConfigError, Drop, DropCounters, DropKind, EncodeError};
pub use packet::{
    Advert, AdvertInterval, Auth, ChecksumMode, Family, Password, ReceiveRules, RxMeta,
    UnicastPeer, Version, decode, encode, peek_vrid,
};
