//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! - [`model`]: services and destinations, identity apart from attributes and statistics.
//! - [`diff`]: the operations that turn the kernel's table into the desired one.

pub mod diff;
pub mod model;
