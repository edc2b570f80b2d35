//! Sans-IO VRRP: the advertisement codec (VRRPv2 and v3, IPv4 and IPv6), the instance
//! state machine and the sync-group helper.
//!
//! Nothing here opens a socket or reads a clock. The driver (the VRRP process) decodes a
//! received packet with [`packet::decode`] and the rules of
//! [`Instance::receive_rules`], passes the result to [`Instance::handle`] with the
//! current [`Time`], and carries out the [`Action`]s it gets back: send an advert, arm a
//! timer, add or remove the virtual addresses, send gratuitous ARP / unsolicited NA,
//! notify. A [`SyncGroup`] moves the members of a `vrrp_sync_group` together.
//!
//! Modules: [`packet`] (codec), [`error`] (drops and errors), [`config`] (an instance's
//! settings as plain values), [`priority`] (trackers, effective priority), [`timer`]
//! (Skew_Time, Master_Down_Interval), [`time`] (the time value), [`instance`] (state and
//! state machine), [`sync`] (sync groups). [`InstanceConfig::from_config`] bridges from
//! the parsed keepalived.conf.

pub mod config;
pub mod error;
mod from_config;
pub mod garp;
pub mod instance;
pub mod packet;
pub mod priority;
pub mod process;
pub mod sync;
pub mod time;
pub mod timer;

pub use config::{Fixup, GarpConfig, InitialState, InstanceConfig};
pub use error::{ConfigError, Drop, DropCounters, DropKind, EncodeError};
pub use instance::{
    Action, Event, FaultReason, Instance, MasterPeer, Notify, Reason, Saved, State, Stats,
    SyncCommand,
};
pub use packet::{
    Advert, AdvertInterval, Auth, ChecksumMode, Family, Password, ReceiveRules, RxMeta,
    UnicastPeer, Version, decode, encode, peek_vrid,
};
pub use priority::{Tracker, TrackerKind, TrackerStatus};
pub use sync::SyncGroup;
pub use time::Time;
pub use timer::TimerKind;
