//! Fuzzes the whole load: lexer, tree, block parsers and validation.
#![no_main]

use keepalived_config::{LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some(text) = common::text(data) else {
        return;
    };
    let loaded = load_str("fuzz.conf", &text, &LoadOptions::default());
    for d in &loaded.diagnostics {
        let _ = d.to_string();
    }
    if loaded.is_ok() {
        let _ = loaded.config.to_toml();
    }
});
