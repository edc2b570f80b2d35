//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! - [`model`]: services and destinations, identity apart from attributes and statistics.

pub mod model;
