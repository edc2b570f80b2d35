//! TEMPORARY stand-ins for keepalived-check's engine, planner and protocols, with the
//! signatures of the shared brief, so that the process compiles and its I/O can be tried
//! before they land. Deleted when they are merged (see `api.rs`).
#![allow(missing_docs, dead_code, clippy::all)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keepalived_check::spec::*;
use keepalived_config::lvs::Checker;
use keepalived_config::project::CheckObject;
use keepalived_ipc::msg::{Health, RealServerId};

pub fn plan<'a>(objects: impl IntoIterator<Item = &'a CheckObject>) -> Vec<RealServerPlan> {
    let mut out = Vec::new();
    for o in objects {
        let CheckObject::VirtualServer(vs) = o else {
            continue;
        };
        let key = keepalived_config::project::virtual_server_key(vs);
        for rs in &vs.real_servers {
            let id = RealServerId {
                virtual_server: key.clone(),
                ip: rs.ip,
                port: rs.port.unwrap_or(0),
            };
            let mut checks = Vec::new();
            for (i, c) in rs.checkers.iter().enumerate() {
                let probe = match c {
                    Checker::TcpCheck(_) => Probe::Tcp,
                    Checker::PingCheck(_) => Probe::Ping,
                    Checker::MiscCheck(m) => Probe::Misc {
                        dynamic: m.misc_dynamic,
                    },
                    Checker::FileCheck(f) => Probe::File {
                        weight: f.weight.unwrap_or(0),
                        reverse: f.reverse,
                    },
                    _ => continue,
                };
                let target = c.connection().map(|cn| Target {
                    connect: std::net::SocketAddr::new(
                        cn.connect_ip.unwrap_or(rs.ip),
                        cn.connect_port.or(rs.port).unwrap_or(0),
                    ),
                    bindto: cn.bindto,
                    bind_port: cn.bind_port,
                    bind_if: cn.bind_if,
                    fwmark: cn.fwmark,
                    timeout: Duration::from_micros(
                        cn.connect_timeout.unwrap_or(vs.connect_timeout).micros(),
                    ),
                });
                checks.push(CheckSpec {
                    kind: "CHECK",
                    index: i as u16,
                    target,
                    probe,
                    retry: 0,
                    delay_before_retry: Duration::from_secs(1),
                    delay_loop: Duration::from_micros(vs.delay_loop.micros()),
                    warmup: Duration::ZERO,
                    alpha: false,
                    log_all_failures: false,
                });
            }
            if !checks.is_empty() {
                out.push(RealServerPlan { id, checks });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckId(usize, usize, u64);

#[derive(Debug, Default)]
pub struct Engine {
    generation: u64,
    plans: Vec<RealServerPlan>,
    due: BTreeMap<(usize, usize), Option<Instant>>,
    last: BTreeMap<(usize, usize), Outcome>,
    health: BTreeMap<RealServerId, Health>,
    seq: u64,
    out: Vec<(u64, Health)>,
}

impl Engine {
    pub fn new(_seed: u64) -> Engine {
        Engine::default()
    }
    pub fn configure(&mut self, plans: Vec<RealServerPlan>, now: Instant) {
        self.generation += 1;
        self.due.clear();
        for (r, p) in plans.iter().enumerate() {
            for c in 0..p.checks.len() {
                self.due.insert((r, c), Some(now));
            }
        }
        self.plans = plans;
    }
    pub fn resume(&mut self, health: &[Health]) {
        for h in health {
            self.health.insert(h.real_server.clone(), h.clone());
        }
    }
    pub fn next_due(&self) -> Option<Instant> {
        self.due.values().flatten().min().copied()
    }
    pub fn pop_due(&mut self, now: Instant) -> Option<CheckId> {
        let k = *self
            .due
            .iter()
            .find(|(_, t)| t.is_some_and(|t| t <= now))?
            .0;
        self.due.insert(k, None);
        Some(CheckId(k.0, k.1, self.generation))
    }
    pub fn spec(&self, id: CheckId) -> Option<(&RealServerId, &CheckSpec)> {
        if id.2 != self.generation {
            return None;
        }
        let p = self.plans.get(id.0)?;
        Some((&p.id, p.checks.get(id.1)?))
    }
    pub fn finished(&mut self, id: CheckId, now: Instant, outcome: Outcome) {
        let Some((rs, spec)) = self.spec(id) else {
            return;
        };
        let (rs, delay) = (rs.clone(), spec.delay_loop);
        self.due.insert((id.0, id.1), Some(now + delay));
        self.last.insert((id.0, id.1), outcome);
        let down =
            (0..self.plans[id.0].checks.len()).find_map(|c| match self.last.get(&(id.0, c)) {
                Some(Outcome::Down(r)) => Some(r.clone()),
                _ => None,
            });
        let h = Health {
            real_server: rs.clone(),
            up: down.is_none(),
            weight: None,
            reason: down.unwrap_or_else(|| "all checks passed".into()),
            counters: Vec::new(),
        };
        if self.health.get(&rs).is_none_or(|o| o.up != h.up) {
            self.seq += 1;
            self.out.push((self.seq, h.clone()));
        }
        self.health.insert(rs, h);
    }
    pub fn take_transitions(&mut self) -> Vec<(u64, Health)> {
        std::mem::take(&mut self.out)
    }
    pub fn snapshot(&self) -> (u64, Vec<Health>) {
        (self.seq, self.health.values().cloned().collect())
    }
    pub fn dump(&self) -> String {
        format!("{:#?}\n", self.health)
    }
}

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
