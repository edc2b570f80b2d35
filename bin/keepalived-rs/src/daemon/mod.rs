//! The daemon side of the parent process: the script broker and the notify FIFOs.
pub mod broker;
pub mod fifo;
