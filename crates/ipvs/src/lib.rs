//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! - [`model`]: services and destinations, identity apart from attributes and statistics.
//! - [`desired`]: the desired table, from the configuration projection and real server health.
//! - [`diff`]: the operations that turn the kernel's table into the desired one.
//! - [`genl`]: the IPVS generic-netlink codec: requests encoded from the model, replies decoded.
//! - [`socket`]: the blocking generic-netlink socket that applies changes and dumps the table.
//! - [`writer`]: the reconciler the IPVS writer runs over that socket.

pub mod desired;
pub mod diff;
pub mod genl;
pub mod model;
pub mod socket;
pub mod writer;
