//! The seam to keepalived-check: the health engine, the planner and the protocols the
//! process drives. Everything the process uses from them goes through these names.

pub use crate::stand_in::{
    CheckId, Conversation, Engine, Exchange, Step, TlsMaterial, client_config, failure_reason, plan,
};
