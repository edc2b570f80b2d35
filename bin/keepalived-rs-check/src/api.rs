//! The seam to keepalived-check: the health engine, the planner and the protocols the
//! process drives. Everything the process uses from them goes through these names.

pub use keepalived_check::engine::{CheckId, Engine};
pub use keepalived_check::plan::plan;

pub use crate::stand_in::{
    Conversation, Exchange, Step, TlsMaterial, client_config, failure_reason,
};
