//! The line syntaxes of addresses, routes and rules (virtual_* and static_* blocks).

use serde::{Deserialize, Serialize};

use crate::cx::Cx;
use crate::tree::Node;

/// Where an address, route or rule list is used; some options are valid in one place only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressUse {
    /// `virtual_ipaddress`, `virtual_routes`, `virtual_rules` of an instance.
    Virtual,
    /// `virtual_ipaddress_excluded`.
    Excluded,
    /// `static_ipaddress`, `static_routes`, `static_rules`.
    Static,
}

/// One address entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpAddress {}

/// One route entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {}

/// One rule entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {}

/// Reads the entries of an address block.
pub fn parse_address_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<IpAddress> {
    let _ = (cx, nodes, used);
    Vec::new()
}

/// Reads the entries of a route block.
pub fn parse_route_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<Route> {
    let _ = (cx, nodes, used);
    Vec::new()
}

/// Reads the entries of a rule block.
pub fn parse_rule_list(cx: &mut Cx, nodes: &[Node], used: AddressUse) -> Vec<Rule> {
    let _ = (cx, nodes, used);
    Vec::new()
}
