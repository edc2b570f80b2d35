//! The seam to keepalived-check: the health engine, the planner and the protocols the
//! process drives. Everything the process uses from them goes through these names.

pub use keepalived_check::conv::{Conversation, Exchange, Step};
pub use keepalived_check::engine::{CheckId, Engine};
pub use keepalived_check::plan::plan;
pub use keepalived_check::tls::{TlsMaterial, client_config, failure_reason, server_name};
