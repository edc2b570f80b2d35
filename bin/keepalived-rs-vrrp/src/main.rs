//! The VRRP process. It is started by `keepalived-rs` with its IPC socket on fd 3.

fn main() -> std::process::ExitCode {
    eprintln!("keepalived-rs-vrrp: this process is started by keepalived-rs, not by hand");
    std::process::ExitCode::from(2)
}
