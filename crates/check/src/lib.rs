//! Sans-IO health checks of real servers.
//!
//! [`spec`] is what one check does, resolved from the configuration; the checker process
//! runs the I/O.

pub mod conv;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod smtp;
pub mod smtp_alert;
pub mod spec;
pub mod tls;
pub mod udp;
