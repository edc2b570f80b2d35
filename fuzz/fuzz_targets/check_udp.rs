//! Fuzzes UDP_CHECK reply handling: the first byte is the pattern length, the second and
//! third the reply length limits; then the pattern's data and mask bytes, then the reply.
//! Never a panic; a reply built from the pattern (wildcards filled from the reply bytes)
//! within the limits always passes.
#![no_main]

use keepalived_check::spec::{Outcome, UdpProbe};
use keepalived_check::udp::UdpExchange;
use keepalived_config::lvs::checker::HexPattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [n, min, max, rest @ ..] = data else {
        return;
    };
    let n = usize::from(*n % 64);
    if rest.len() < 2 * n {
        return;
    }
    let (pattern, reply) = rest.split_at(2 * n);
    let (bytes, mask) = pattern.split_at(n);
    let probe = UdpProbe {
        payload: None,
        require_reply: Some(HexPattern {
            data: bytes.to_vec(),
            mask: mask.to_vec(),
        }),
        min_reply_length: u16::from(*min),
        max_reply_length: u16::from(*max),
    };
    let e = UdpExchange::new(&probe);
    let _ = e.reply(reply);
    let _ = e.timed_out();
    // An instance of the pattern: wildcard bits from the reply.
    let instance: Vec<u8> = bytes
        .iter()
        .zip(mask)
        .enumerate()
        .map(|(i, (&d, &m))| (d & !m) | (reply.get(i).copied().unwrap_or(0) & m))
        .collect();
    let len = instance.len();
    if n > 0 && len >= usize::from(*min) && len <= usize::from(*max) {
        assert_eq!(e.reply(&instance), Outcome::Up);
    }
});
