//! Sans-IO health checks of real servers.
//!
//! [`spec`] is what one check does, resolved from the configuration by [`plan`];
//! [`engine`] keeps the health of every real server and says which check is due;
//! [`conv`] (HTTP, SMTP) and the datagram exchanges (DNS, UDP, ICMP) are the protocols;
//! [`tls`] the client side of SSL_GET. The checker process runs the I/O.

pub mod conv;
pub mod dns;
pub mod engine;
pub mod http;
pub mod icmp;
pub mod plan;
pub mod smtp;
pub mod smtp_alert;
pub mod spec;
pub mod tls;
pub mod udp;
