//! Sans-IO health checks of real servers.
//!
//! Filled by the checkers issue; the foundation only reserves the crate.

pub mod smtp_alert;
