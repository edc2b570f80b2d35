//! Process plumbing for keepalived-rs: spawning children from an open executable, dropping
//! privileges, running scripts as another user, pidfiles and private files, sd_notify,
//! syslog and the log pipe between children and the parent.
//!
//! Every `unsafe` block of the project lives in this crate, each in one small, commented
//! function (`#![allow(unsafe_code)]` is granted per module, never crate-wide).

pub mod confine;
pub mod files;
pub mod logpipe;
pub mod notify;
pub mod procs;
pub mod runtime;
pub mod sched;
pub mod script;
pub mod spawn;
pub mod syslog;
pub mod vrrp_net;
