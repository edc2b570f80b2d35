//! LVS configuration: virtual_server_group, virtual_server, real_server, checkers, SSL.

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::cx::Cx;
use crate::keywords::Keyword;
use crate::tree::Node;

/// The keyword table rows of the LVS blocks.
pub const KEYWORDS: &[Keyword] = &[];

/// `SSL { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssl {}

/// `virtual_server_group NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerGroup {}

/// `virtual_server ... { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {}

/// Reads the entries of an `SSL` block.
pub fn parse_ssl(cx: &mut Cx, nodes: &[Node]) -> Ssl {
    let _ = (cx, nodes);
    Ssl::default()
}

/// Reads a `virtual_server_group` node.
pub fn parse_virtual_server_group(cx: &mut Cx, n: &Node) -> Option<VirtualServerGroup> {
    let _ = (cx, n);
    None
}

/// Reads a `virtual_server` node.
pub fn parse_virtual_server(cx: &mut Cx, n: &Node) -> Option<VirtualServer> {
    let _ = (cx, n);
    None
}

/// Checks of the LVS configuration.
pub fn validate(cx: &mut Cx, config: &Config) {
    let _ = (cx, config);
}
