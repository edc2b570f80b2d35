//! Fuzzes the HTTP_GET conversation: the first byte picks the protocol, whether a digest
//! and a regex are checked and the regex offsets, the second the size of the reads; the
//! rest is what the server sends. Never a panic; the bytes held stay bounded; the outcome
//! does not depend on the size of the reads; once done, done.
#![no_main]

use std::sync::OnceLock;

use keepalived_check::conv::Step;
use keepalived_check::http::{HttpConversation, MAX_HEADER, REGEX_WINDOW};
use keepalived_check::spec::{Outcome, RegexSpec, UrlSpec};
use keepalived_config::lvs::checker::{HttpProtocol, compile_regex};
use libfuzzer_sys::fuzz_target;

fn run(url: &UrlSpec, protocol: HttpProtocol, body: &[u8], read: usize) -> Outcome {
    let mut c = HttpConversation::new(url, protocol);
    let _ = c.output();
    for piece in body.chunks(read.max(1)) {
        let step = c.input(piece);
        assert!(c.buffered() <= MAX_HEADER + REGEX_WINDOW);
        if let Step::Done(o) = step {
            assert_eq!(c.input(b"more"), Step::Done(o.clone()));
            return o;
        }
    }
    match c.end_of_stream() {
        Step::Done(o) => o,
        Step::Continue => panic!("no outcome at the end of the stream"),
    }
}

/// The regex, compiled once (compiling it is most of a run's time).
fn regex() -> RegexSpec {
    static RE: OnceLock<RegexSpec> = OnceLock::new();
    RE.get_or_init(|| RegexSpec {
        regex: compile_regex(r"(?i)ok\b|wor+ld$", &[]).expect("the regex compiles"),
        no_match: false,
        min_offset: 0,
        max_offset: None,
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&read, body)) = rest.split_first() else {
        return;
    };
    let protocol = match sel & 3 {
        0 => HttpProtocol::Http10,
        1 => HttpProtocol::Http10Close,
        _ => HttpProtocol::Http11,
    };
    let regex = (sel & 8 != 0).then(|| RegexSpec {
        no_match: sel & 16 != 0,
        min_offset: if sel & 32 != 0 { 20 } else { 0 },
        max_offset: (sel & 64 != 0).then_some(200),
        ..regex()
    });
    let url = UrlSpec {
        path: "/".into(),
        host: "192.0.2.1:80".into(),
        digest: (sel & 4 != 0).then_some([0x5e; 16]),
        status: if sel & 128 != 0 {
            vec![(200, 299)]
        } else {
            vec![(100, 599)]
        },
        regex,
    };
    let whole = run(&url, protocol, body, body.len());
    let cut = run(&url, protocol, body, usize::from(read));
    assert_eq!(whole, cut);
});
