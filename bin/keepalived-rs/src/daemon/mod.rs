//! The daemon: the parent process that starts, feeds and supervises the children.
//!
//! One mio loop, one thread. Inputs: signals (signalfd-like, through signal-hook-mio), each
//! child's IPC socket and log pipe, and timers (heartbeats, respawns, script timeouts, the
//! systemd watchdog, stop deadlines). Nothing in the loop blocks: children's channels are
//! non-blocking with bounded queues, scripts run as separate processes reaped on SIGCHLD.

pub mod broker;
mod child;
pub mod fifo;
pub mod logging;
mod parent;
mod supervise;

pub use parent::{Options, UserSpec, run};
