//! rtnetlink access for the processes: addresses, links, VMACs and monitoring.
//!
//! Filled by the VRRP issue; the foundation only reserves the crate.
