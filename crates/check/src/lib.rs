//! Sans-IO health checks of real servers.
//!
//! [`spec`] is what one check does, resolved from the configuration; the checker process
//! runs the I/O.

pub mod engine;
pub mod plan;
pub mod smtp_alert;
pub mod spec;
