//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! - [`model`]: services and destinations, identity apart from attributes and statistics.
//! - [`desired`]: the desired table, from the configuration projection and real server health.
//! - [`diff`]: the operations that turn the kernel's table into the desired one.

pub mod desired;
pub mod diff;
pub mod model;
pub mod writer;
