//! The IPC frame decoder as each receiver uses it: arbitrary bytes, split at an arbitrary
//! point, decoded as every message type. It must never panic, never buffer more than the
//! frame cap, and stay failed after an error.
#![no_main]

use keepalived_ipc::frame::{FrameReader, MAX_FRAME, PREFIX};
use keepalived_ipc::msg::*;
use libfuzzer_sys::fuzz_target;

fn drive<T: serde::de::DeserializeOwned>(data: &[u8], split: usize) {
    let mut r = FrameReader::new();
    let (a, b) = data.split_at(split.min(data.len()));
    for chunk in [a, b] {
        if r.push(chunk).is_err() {
            assert!(r.push(&[0]).is_err(), "a failed reader must stay failed");
            return;
        }
        loop {
            match r.take::<T>() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    assert!(r.take::<T>().is_err());
                    return;
                }
            }
        }
        assert!(r.buffered() <= PREFIX + MAX_FRAME + chunk.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().copied().unwrap_or(0) as usize;
    let data = data.get(1..).unwrap_or(&[]);
    drive::<ParentToVrrp>(data, split);
    drive::<VrrpToParent>(data, split);
    drive::<ParentToCheck>(data, split);
    drive::<CheckToParent>(data, split);
    drive::<ParentToIpvs>(data, split);
    drive::<IpvsToParent>(data, split);
});
