//! A stand-in for `keepalived-rs-vrrp` that breaks the protocol on purpose, for the
//! daemon's integration tests (bin/keepalived-rs/tests/daemon.rs).
//!
//! The test copies this program into a temporary libexec directory as
//! `keepalived-rs-vrrp` and writes a file `mode` beside it. The parent starts it like the
//! real VRRP process (from an open descriptor; `/proc/self/exe` still names the copy). It
//! reads `mode` first, while it still runs as root (the directory may be private), then
//! confines itself as every child does, speaks the real handshake (Hello, ConfigAck after
//! ConfigDone, Start) and then, depending on `mode`:
//!
//! - `garbage`: writes a frame prefix announcing a length far above the limit and 8
//!   pseudo-random bytes; the parent must kill it for a protocol error and respawn it;
//! - `unknown-script`: asks to run `vrrp_script not-configured`, which the configuration
//!   does not have; the parent must refuse; the answer is logged as
//!   `fake child: got ScriptDone ...`;
//! - `unexpected`: sends a `ConfigAck` for a generation the parent never sent, out of
//!   turn; the parent must treat it as a protocol error;
//! - `second-hello`: sends its Hello again while running; a protocol error too.
//!
//! Afterwards it answers heartbeats and stops on `Shutdown` or end of file.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use keepalived_ipc::Channel;
use keepalived_ipc::msg::*;
use log::{error, info};

/// How long each handshake step may take.
const STEP: Duration = Duration::from_secs(10);

/// What the fake does once started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Garbage on the channel.
    Garbage,
    /// A request for a script that is not configured.
    UnknownScript,
    /// A ConfigAck out of turn.
    Unexpected,
    /// A second Hello.
    SecondHello,
}

/// Reads `mode` beside the executable.
fn read_mode() -> Result<Mode, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    let file = exe
        .parent()
        .ok_or_else(|| format!("{}: no directory", exe.display()))?
        .join("mode");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    match text.trim() {
        "garbage" => Ok(Mode::Garbage),
        "unknown-script" => Ok(Mode::UnknownScript),
        "unexpected" => Ok(Mode::Unexpected),
        "second-hello" => Ok(Mode::SecondHello),
        other => Err(format!("{}: unknown mode {other:?}", file.display())),
    }
}

fn main() -> ExitCode {
    // First, before the privileges are gone.
    let mode = match read_mode() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("fake child: {e}");
            return ExitCode::from(1);
        }
    };
    let started = match keepalived_ipc::child::startup("keepalived-rs-vrrp") {
        Ok(s) => s,
        Err(code) => return ExitCode::from(code),
    };
    match run(mode, started.socket) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("fake child: {e}");
            ExitCode::from(3)
        }
    }
}

type Chan = Channel<ParentToVrrp, VrrpToParent>;

fn run(mode: Mode, socket: std::os::unix::net::UnixStream) -> Result<(), String> {
    let mut chan: Chan = Channel::new(socket).map_err(|e| e.to_string())?;
    chan.send_blocking(&VrrpToParent::Hello(Hello::current()), STEP)
        .map_err(|e| format!("hello: {e}"))?;
    let generation = handshake(&mut chan)?;
    info!("fake child: started in mode {mode:?} (generation {generation})");
    match mode {
        Mode::Garbage => {
            let mut bytes = Vec::with_capacity(12);
            bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            bytes.extend_from_slice(&pseudo_random().to_le_bytes());
            let mut stream = chan.stream();
            stream
                .write_all(&bytes)
                .map_err(|e| format!("writing garbage: {e}"))?;
            info!("fake child: wrote {} bytes of garbage", bytes.len());
        }
        Mode::UnknownScript => {
            chan.send_blocking(
                &VrrpToParent::RunScript(ScriptRequest {
                    id: 77,
                    script: ScriptRef::VrrpScript("not-configured".into()),
                }),
                STEP,
            )
            .map_err(|e| format!("run script: {e}"))?;
            info!("fake child: asked for vrrp_script not-configured");
        }
        Mode::Unexpected => {
            let bogus = generation + 41;
            chan.send_blocking(&VrrpToParent::ConfigAck(bogus), STEP)
                .map_err(|e| format!("config ack: {e}"))?;
            info!("fake child: sent ConfigAck({bogus}) out of turn");
        }
        Mode::SecondHello => {
            chan.send_blocking(&VrrpToParent::Hello(Hello::current()), STEP)
                .map_err(|e| format!("hello: {e}"))?;
            info!("fake child: sent a second Hello");
        }
    }
    serve(&mut chan)
}

/// Waits for the parent's Hello, the configuration and ConfigDone (answered with
/// ConfigAck), then Start. Returns the generation.
fn handshake(chan: &mut Chan) -> Result<Generation, String> {
    let deadline = Instant::now() + STEP;
    let mut generation = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msgs = chan
            .receive_blocking(left.max(Duration::from_millis(1)))
            .map_err(|e| format!("handshake: {e}"))?;
        for m in msgs {
            match m {
                ParentToVrrp::ConfigDone(g) => {
                    generation = Some(g);
                    chan.send_blocking(&VrrpToParent::ConfigAck(g), STEP)
                        .map_err(|e| format!("config ack: {e}"))?;
                }
                ParentToVrrp::Start => {
                    return generation.ok_or_else(|| "Start before ConfigDone".to_string());
                }
                ParentToVrrp::Ping(n) => chan
                    .send_blocking(&VrrpToParent::Pong(n), STEP)
                    .map_err(|e| format!("pong: {e}"))?,
                _ => {}
            }
        }
    }
}

/// Answers heartbeats, logs script answers, stops on Shutdown or end of file.
fn serve(chan: &mut Chan) -> Result<(), String> {
    loop {
        let msgs = match chan.receive_blocking(Duration::from_secs(1)) {
            Ok(m) => m,
            Err(keepalived_ipc::ChannelError::Timeout(_)) => continue,
            Err(keepalived_ipc::ChannelError::Closed) => {
                info!("fake child: parent gone (end of file)");
                return Ok(());
            }
            Err(e) => return Err(e.to_string()),
        };
        for m in msgs {
            match m {
                ParentToVrrp::Ping(n) => chan
                    .send_blocking(&VrrpToParent::Pong(n), STEP)
                    .map_err(|e| format!("pong: {e}"))?,
                ParentToVrrp::ScriptDone(d) => info!("fake child: got {d:?}"),
                ParentToVrrp::Dump(kind) => chan
                    .send_blocking(
                        &VrrpToParent::Dump(DumpText {
                            kind,
                            text: "fake child\n".into(),
                        }),
                        STEP,
                    )
                    .map_err(|e| format!("dump: {e}"))?,
                ParentToVrrp::Shutdown(_) => {
                    info!("fake child: stopping");
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

/// Eight bytes that differ from run to run (no randomness crate needed for garbage).
fn pseudo_random() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
