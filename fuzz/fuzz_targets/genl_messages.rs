//! Fuzzes the IPVS generic-netlink decoder: the first byte picks the context (the family
//! id the kernel gave, and the service family destinations default to), the rest is what a
//! socket read would return. Decoding is total: every message is a value or a typed error.
#![no_main]

use keepalived_ipvs::genl::{Context, messages};
use keepalived_ipvs::model::Family;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let ctx = Context {
        family: if sel & 1 == 0 { 0x20 } else { 0 },
        service_family: match sel >> 1 & 3 {
            0 => None,
            1 => Some(Family::Inet),
            _ => Some(Family::Inet6),
        },
    };
    // Bounded: each step consumes at least a header or stops.
    for m in messages(buf, ctx).take(4096) {
        let _ = m;
    }
});
