//! Sans-IO VRRP: packet codec (v2/v3, IPv4/IPv6), instance and sync-group state machines.
//!
//! Filled by the VRRP issue; the foundation only reserves the crate.
