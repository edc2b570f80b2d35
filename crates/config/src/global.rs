//! `global_defs`: the model, the parser and the checks of the global settings.

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::cx::Cx;
use crate::keywords::Keyword;
use crate::tree::Node;

/// The keyword table rows of `global_defs`.
pub const KEYWORDS: &[Keyword] = &[];

/// `global_defs { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalDefs {}

/// Reads the entries of a `global_defs` block into `g`.
pub fn parse_global_defs(cx: &mut Cx, nodes: &[Node], g: &mut GlobalDefs) {
    let _ = (cx, nodes, g);
}

/// Checks of the global settings.
pub fn validate(cx: &mut Cx, config: &Config) {
    let _ = (cx, config);
}
