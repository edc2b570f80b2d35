//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! Filled by the IPVS issue; the foundation only reserves the crate.
