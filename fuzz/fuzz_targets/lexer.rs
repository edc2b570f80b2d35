//! Fuzzes the keepalived.conf lexer: any bytes, as lossy UTF-8, drained to the end.
#![no_main]

use std::path::Path;

use keepalived_config::LexOptions;
use keepalived_config::lexer::Lexer;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some(text) = common::text(data) else {
        return;
    };
    let mut lx = Lexer::from_str("fuzz.conf", &text, Path::new("."), LexOptions::default());
    while lx.next_line().is_some() {}
    let _ = lx.finish();
});
