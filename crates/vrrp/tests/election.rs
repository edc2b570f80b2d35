//! Several routers on one simulated link: the instances, the codec and the receive checks
//! together, driven by a discrete-event loop (no sockets, no clock). Each advert is encoded
//! to bytes, delivered 1 ms later to every other router and decoded with its rules.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;
use std::time::Duration;

use keepalived_vrrp::{
    Action, Event, Family, Instance, InstanceConfig, Reason, RxMeta, State, Time, Version, decode,
    peek_vrid,
};
use proptest::prelude::*;

const LATENCY: Duration = Duration::from_millis(1);

struct Node {
    inst: Instance,
    addr: IpAddr,
    up: bool,
}

struct Sim {
    nodes: Vec<Node>,
    now: Time,
    /// (delivery time, node, event), delivered in order.
    queue: Vec<(Time, usize, Event)>,
    /// Every state change: (time, node, from, to, reason).
    changes: Vec<(Time, usize, State, State, Reason)>,
}

fn config(version: Version, priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", 51, Family::Ipv4, version);
    c.priority = priority;
    c.vips = vec!["192.0.2.100".parse().unwrap()];
    c
}

impl Sim {
    fn new(configs: Vec<InstanceConfig>) -> Sim {
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let addr: IpAddr = format!("192.0.2.{}", i + 1).parse().unwrap();
                c.primary_address = Some(addr);
                Node {
                    inst: Instance::new(c).unwrap(),
                    addr,
                    up: false,
                }
            })
            .collect();
        Sim {
            nodes,
            now: Time::ZERO,
            queue: Vec::new(),
            changes: Vec::new(),
        }
    }

    fn event(&mut self, i: usize, ev: Event) {
        let now = self.now;
        let actions = self.nodes[i].inst.handle(now, ev);
        self.apply(i, actions);
    }

    fn start(&mut self, i: usize) {
        self.nodes[i].up = true;
        self.event(i, Event::Start);
    }

    fn stop(&mut self, i: usize) {
        self.event(i, Event::Stop);
        self.nodes[i].up = false;
    }

    /// A crash: the node vanishes without a word.
    fn crash(&mut self, i: usize) {
        self.nodes[i].up = false;
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::SendAdvert(ad) => {
                    let src = self.nodes[i].addr;
                    let dst = self.nodes[i].inst.destinations()[0];
                    let bytes = self.nodes[i].inst.encode(&ad, src, dst).unwrap();
                    for (j, n) in self.nodes.iter().enumerate() {
                        if j == i || !n.up || peek_vrid(&bytes) != Some(n.inst.config().vrid) {
                            continue;
                        }
                        let meta = RxMeta {
                            src,
                            dst,
                            ttl_or_hop_limit: Some(255),
                        };
                        let advert = decode(&bytes, &meta, &n.inst.receive_rules());
                        self.queue
                            .push((self.now + LATENCY, j, Event::Received { src, advert }));
                    }
                }
                Action::StateChanged { from, to, reason } => {
                    self.changes.push((self.now, i, from, to, reason));
                }
                _ => {}
            }
        }
    }

    fn run_until(&mut self, end: Time) {
        loop {
            let packet = self
                .queue
                .iter()
                .enumerate()
                .min_by_key(|(_, (t, _, _))| *t)
                .map(|(k, (t, _, _))| (*t, k));
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.up)
                .filter_map(|(i, n)| n.inst.next_deadline().map(|(k, t)| (t, i, k)))
                .min_by_key(|(t, i, _)| (*t, *i));
            match (packet, timer) {
                (Some((tp, k)), timer) if tp <= end && timer.is_none_or(|(tt, _, _)| tp <= tt) => {
                    let (t, j, ev) = self.queue.remove(k);
                    self.now = t;
                    if self.nodes[j].up {
                        self.event(j, ev);
                    }
                }
                (_, Some((tt, i, k))) if tt <= end => {
                    self.now = tt;
                    self.event(i, Event::TimerExpired(k));
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up && self.nodes[*i].inst.state() == State::Master)
            .collect()
    }

    fn last_change_to_master(&self) -> Option<(Time, usize, Reason)> {
        self.changes
            .iter()
            .rev()
            .find(|c| c.3 == State::Master)
            .map(|c| (c.0, c.1, c.4))
    }
}

fn secs(s: u64) -> Time {
    Time::from_secs(s)
}

// RFC 3768 / RFC 9568: the highest priority becomes master, after its own
// Master_Down_Interval (v2 prio 200: 3 s + 56/256 s).
#[test]
fn highest_priority_wins() {
    let mut sim = Sim::new(vec![
        config(Version::V2, 100),
        config(Version::V2, 200),
        config(Version::V2, 150),
    ]);
    for i in 0..3 {
        sim.start(i);
    }
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![1]);
    let (t, who, reason) = sim.last_change_to_master().unwrap();
    assert_eq!(
        (t, who, reason),
        (Time::from_micros(3_218_750), 1, Reason::MasterNoResponse)
    );
    assert_eq!(
        sim.changes.iter().filter(|c| c.3 == State::Master).count(),
        1
    );
}

// KR 6.4/6.6: the master stops and sends priority 0; the next one takes over after its
// Skew_Time (v2 prio 150: 106/256 s), not Master_Down_Interval.
#[test]
fn priority_zero_hands_over_in_skew_time() {
    let mut sim = Sim::new(vec![
        config(Version::V2, 100),
        config(Version::V2, 200),
        config(Version::V2, 150),
    ]);
    for i in 0..3 {
        sim.start(i);
    }
    sim.run_until(secs(10));
    sim.stop(1);
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![2]);
    let (t, who, reason) = sim.last_change_to_master().unwrap();
    assert_eq!(who, 2);
    assert_eq!(reason, Reason::PriorityZero);
    assert_eq!(t, secs(10) + LATENCY + Duration::from_micros(414_062));
}

// RFC 9568 6.4.2: a crashed master (no priority 0) is replaced after Master_Down_Interval.
#[test]
fn crashed_master_is_replaced_after_master_down_interval() {
    let mut sim = Sim::new(vec![config(Version::V3, 100), config(Version::V3, 200)]);
    sim.start(0);
    sim.start(1);
    sim.run_until(secs(10));
    assert_eq!(sim.masters(), vec![1]);
    // The master's last advert before 10 s went out at 3.21875 + 6 s.
    sim.crash(1);
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![0]);
    let (t, _, reason) = sim.last_change_to_master().unwrap();
    assert_eq!(reason, Reason::MasterNoResponse);
    let last_advert = Time::from_micros(9_218_750) + LATENCY;
    assert_eq!(t, last_advert + Duration::from_micros(3_609_375));
}

// KR 6.5: a higher-priority router that starts later preempts after its
// Master_Down_Interval (it discards the lower adverts); the old master yields on its
// first advert.
#[test]
fn late_higher_priority_preempts() {
    let mut sim = Sim::new(vec![config(Version::V2, 100), config(Version::V2, 150)]);
    sim.start(0);
    sim.run_until(secs(10));
    assert_eq!(sim.masters(), vec![0]);
    sim.start(1);
    sim.run_until(secs(30));
    assert_eq!(sim.masters(), vec![1]);
    let (t, who, reason) = sim.last_change_to_master().unwrap();
    assert_eq!((who, reason), (1, Reason::Preempted));
    assert_eq!(t, secs(10) + Duration::from_micros(3_414_062));
    assert!(
        sim.changes
            .iter()
            .any(|c| c.1 == 0 && c.3 == State::Backup && c.4 == Reason::HigherPriority)
    );
}

// RFC 9568 6.4.2 Preempt_Mode false: the late higher-priority router stays backup.
#[test]
fn nopreempt_keeps_the_master() {
    let mut late = config(Version::V3, 150);
    late.nopreempt = true;
    let mut sim = Sim::new(vec![config(Version::V3, 100), late]);
    sim.start(0);
    sim.run_until(secs(10));
    sim.start(1);
    sim.run_until(secs(60));
    assert_eq!(sim.masters(), vec![0]);
}

// RFC 9568 6.4.3: equal priorities - the higher primary address wins.
#[test]
fn equal_priority_higher_address_wins() {
    let mut sim = Sim::new(vec![
        config(Version::V3, 100),
        config(Version::V3, 100),
        config(Version::V3, 100),
    ]);
    for i in 0..3 {
        sim.start(i);
    }
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![2], "192.0.2.3 is the highest address");
}

// RFC 9568 6.4.2: a backup accepts an advert of equal priority, so a router with the same
// priority and a higher address that starts later does not take over.
#[test]
fn equal_priority_backup_accepts_the_master() {
    let mut sim = Sim::new(vec![config(Version::V2, 180), config(Version::V2, 180)]);
    sim.start(0);
    sim.run_until(Time::from_millis(1));
    sim.start(1);
    sim.run_until(secs(60));
    assert_eq!(sim.masters(), vec![0]);
}

// RFC 9568 6.4.2: backups follow a v3 master's interval; a master with a 5 s interval is
// not preempted by backups configured with 1 s.
#[test]
fn v3_backups_follow_the_master_interval() {
    let mut slow = config(Version::V3, 200);
    slow.advert_interval = Duration::from_secs(5);
    let mut sim = Sim::new(vec![config(Version::V3, 100), slow]);
    sim.start(1);
    sim.run_until(secs(20));
    sim.start(0);
    sim.run_until(secs(120));
    assert_eq!(
        sim.nodes[0].inst.master_adver_int(),
        keepalived_vrrp::AdvertInterval::Centis(500)
    );
    assert_eq!(sim.masters(), vec![1]);
    assert_eq!(
        sim.changes.iter().filter(|c| c.3 == State::Master).count(),
        1,
        "no flapping"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Whatever the priorities, versions and start times: once settled there is exactly one
    // master, with the highest priority; after it stops, one of the next highest. (Among
    // equal priorities the address decides only between two masters: a backup accepts an
    // equal-priority master, RFC 9568 6.4.2, so which one wins depends on timing.)
    #[test]
    fn one_master_with_highest_priority(
        prios in proptest::collection::vec(1u8..=254, 2..5),
        starts in proptest::collection::vec(0u64..5_000, 5),
        v3 in any::<bool>(),
    ) {
        let version = if v3 { Version::V3 } else { Version::V2 };
        let mut sim = Sim::new(prios.iter().map(|p| config(version, *p)).collect());
        let mut order: Vec<usize> = (0..prios.len()).collect();
        order.sort_by_key(|i| starts[*i]);
        for i in order {
            sim.run_until(Time::from_millis(starts[i]));
            sim.start(i);
        }
        sim.run_until(secs(60));
        let masters = sim.masters();
        prop_assert_eq!(masters.len(), 1);
        let best = masters[0];
        prop_assert_eq!(prios[best], *prios.iter().max().unwrap());
        // Stop the master: one of the next best takes over.
        sim.stop(best);
        sim.run_until(secs(120));
        let masters = sim.masters();
        prop_assert_eq!(masters.len(), 1);
        let next = (0..prios.len()).filter(|i| *i != best).map(|i| prios[i]).max().unwrap();
        prop_assert_eq!(prios[masters[0]], next);
    }
}
