//! keepalived-rs: the parent process and command-line tool.

fn main() {}
