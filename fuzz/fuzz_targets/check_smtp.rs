//! Fuzzes the SMTP_CHECK conversation: the first byte is the size of the reads and whether
//! a good banner comes first; the rest is what the server sends. Never a panic; the bytes
//! held stay bounded; an end of stream always ends the check.
#![no_main]

use keepalived_check::conv::Step;
use keepalived_check::smtp::{MAX_LINE, SmtpConversation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut c = SmtpConversation::new("fuzz.example");
    if sel & 0x80 != 0 {
        let _ = c.input(b"220 hi\r\n");
    }
    let read = usize::from(sel & 0x7f).max(1);
    for piece in rest.chunks(read) {
        let _ = c.output();
        let step = c.input(piece);
        assert!(c.buffered() <= MAX_LINE);
        if matches!(step, Step::Done(_)) {
            break;
        }
    }
    assert!(matches!(c.end_of_stream(), Step::Done(_)));
});
