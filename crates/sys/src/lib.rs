//! Process plumbing: spawning children, dropping privileges, signals, pidfiles, logging.
//!
//! Filled by the process-model issue; the foundation only reserves the crate.
