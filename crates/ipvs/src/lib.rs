//! IPVS model, desired-versus-actual diff and the generic-netlink codec of the IPVS family.
//!
//! - [`model`]: services and destinations, identity apart from attributes and statistics.
//! - [`genl`]: the IPVS generic-netlink codec: requests encoded from the model, replies decoded.
//! - [`socket`]: the blocking generic-netlink socket that applies changes and dumps the table.

pub mod genl;
pub mod model;
pub mod socket;
