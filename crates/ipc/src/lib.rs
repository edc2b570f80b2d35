//! Messages between the keepalived-rs processes, their framing and the channel type.
//!
//! Filled by the process-model issue; the foundation only reserves the crate.
