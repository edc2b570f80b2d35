//! TEMPORARY stand-ins for keepalived-check's protocols, with the
//! signatures of the shared brief, so that the process compiles and its I/O can be tried
//! before they land. Deleted when they are merged (see `api.rs`).
#![allow(missing_docs, dead_code, clippy::all)]

use std::sync::Arc;

use keepalived_check::spec::*;

pub enum Step {
    Continue,
    Done(Outcome),
}

pub struct Conversation;

impl Conversation {
    pub fn new(_probe: &Probe, _url: usize) -> Option<Conversation> {
        None
    }
    pub fn output(&mut self) -> Option<Vec<u8>> {
        None
    }
    pub fn input(&mut self, _data: &[u8]) -> Step {
        Step::Continue
    }
    pub fn end_of_stream(&mut self) -> Step {
        Step::Done(Outcome::Down("closed".into()))
    }
}

/// An ICMP echo only.
pub struct Exchange {
    id: u16,
    v6: bool,
}

impl Exchange {
    pub fn new(probe: &Probe, id: u16, family_v6: bool) -> Option<Exchange> {
        matches!(probe, Probe::Ping).then_some(Exchange { id, v6: family_v6 })
    }
    pub fn request(&self) -> Vec<u8> {
        let mut m = vec![if self.v6 { 128 } else { 8 }, 0, 0, 0];
        m.extend(self.id.to_be_bytes());
        m.extend([0, 1]);
        m.extend(b"keepalived-rs");
        if !self.v6 {
            let mut sum = 0u32;
            for c in m.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        }
        m
    }
    pub fn reply(&mut self, data: &[u8]) -> Option<Outcome> {
        let want = if self.v6 { 129 } else { 0 };
        (data.len() >= 8 && data[0] == want && data[4..6] == self.id.to_be_bytes())
            .then_some(Outcome::Up)
    }
    pub fn timed_out(&self) -> Outcome {
        Outcome::Down("no echo reply".into())
    }
}

pub struct TlsMaterial {
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
    pub verify: bool,
}

pub fn client_config(_m: &TlsMaterial) -> Result<Arc<rustls::ClientConfig>, String> {
    Err("TLS is not built yet".into())
}

pub fn failure_reason(e: &rustls::Error) -> String {
    e.to_string()
}

pub fn key_is_encrypted(pem: &[u8]) -> bool {
    let t = String::from_utf8_lossy(pem);
    t.contains("ENCRYPTED PRIVATE KEY") || t.contains("Proc-Type: 4,ENCRYPTED")
}
