//! VRRP configuration: vrrp_instance, vrrp_sync_group, vrrp_script, track_file, garp_group.

use serde::{Deserialize, Serialize};

use crate::Config;
use crate::cx::Cx;
use crate::keywords::Keyword;
use crate::tree::Node;

/// The keyword table rows of the VRRP blocks.
pub const KEYWORDS: &[Keyword] = &[];

/// `vrrp_instance NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {}

/// `vrrp_sync_group NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {}

/// `vrrp_script NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpScript {}

/// `track_file NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {}

/// `vrrp_track_process NAME { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackProcess {}

/// `garp_group { }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GarpGroup {}

/// Reads a `vrrp_instance` node.
pub fn parse_instance(cx: &mut Cx, n: &Node) -> Option<VrrpInstance> {
    let _ = (cx, n);
    None
}

/// Reads a `vrrp_sync_group` node.
pub fn parse_sync_group(cx: &mut Cx, n: &Node) -> Option<SyncGroup> {
    let _ = (cx, n);
    None
}

/// Reads a `vrrp_script` node.
pub fn parse_script(cx: &mut Cx, n: &Node) -> Option<VrrpScript> {
    let _ = (cx, n);
    None
}

/// Reads a top-level `track_file` node.
pub fn parse_track_file(cx: &mut Cx, n: &Node) -> Option<TrackFile> {
    let _ = (cx, n);
    None
}

/// Reads a `vrrp_track_process` node.
pub fn parse_track_process(cx: &mut Cx, n: &Node) -> Option<TrackProcess> {
    let _ = (cx, n);
    None
}

/// Reads a `garp_group` node.
pub fn parse_garp_group(cx: &mut Cx, n: &Node) -> Option<GarpGroup> {
    let _ = (cx, n);
    None
}

/// Checks of the VRRP configuration.
pub fn validate(cx: &mut Cx, config: &Config) {
    let _ = (cx, config);
}
