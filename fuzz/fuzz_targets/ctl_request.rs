//! The control socket's request decoder as the daemon uses it: arbitrary bytes, split at an
//! arbitrary point, fed to a frame reader capped at MAX_REQUEST, each frame decoded as a
//! request. It must never panic, never buffer more than one capped frame, stay failed
//! after an error, and a decoded request must encode back to a request that decodes equal.
#![no_main]

use keepalived_ctl::{FrameReader, MAX_REQUEST, PREFIX, decode_request, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    // The body alone, as a frame's content.
    if let Ok(r) = decode_request(data) {
        let frame = encode(&r).expect("a request encodes");
        assert_eq!(decode_request(&frame[PREFIX..]).expect("and decodes"), r);
    }
    let mut reader = FrameReader::new(MAX_REQUEST);
    let (a, b) = data.split_at(usize::from(split).min(data.len()));
    for chunk in [a, b] {
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = reader.wanted().min(rest.len());
            if n == 0 {
                assert!(reader.push(rest).is_err(), "a failed reader must stay failed");
                return;
            }
            match reader.push(&rest[..n]) {
                Ok(Some(body)) => {
                    assert!(body.len() <= MAX_REQUEST);
                    let _ = decode_request(&body);
                }
                Ok(None) => {}
                Err(_) => {
                    assert!(reader.push(&[0]).is_err());
                    return;
                }
            }
            rest = &rest[n..];
            assert!(reader.buffered() <= PREFIX + MAX_REQUEST);
        }
    }
});
