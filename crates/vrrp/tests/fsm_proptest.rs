//! Random event sequences through one instance: nothing panics, and the invariants a
//! driver relies on hold after every event.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;
use std::time::Duration;

use keepalived_vrrp::{
    Action, AdvertInterval, Drop, Event, Family, InitialState, Instance, InstanceConfig,
    MasterPeer, Saved, State, SyncCommand, Time, TimerKind, Tracker, TrackerStatus, Version,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Start,
    Stop,
    Advert { prio: u8, src: u8, interval: u16 },
    Dropped,
    NextTimer,
    Timer(usize),
    Tracker(usize, TrackerStatus),
    Interface(bool),
    Priority(u8),
    Resume(u8, u8),
    Sync(u8),
    Wait(u32),
}

fn step() -> impl Strategy<Value = Step> {
    let status = prop_oneof![
        Just(TrackerStatus::Unknown),
        Just(TrackerStatus::Up),
        Just(TrackerStatus::Down),
        (-300i64..300).prop_map(TrackerStatus::Value),
    ];
    prop_oneof![
        1 => Just(Step::Start),
        1 => Just(Step::Stop),
        6 => (any::<u8>(), 1u8..5, 1u16..400).prop_map(|(prio, src, interval)| Step::Advert { prio, src, interval }),
        1 => Just(Step::Dropped),
        6 => Just(Step::NextTimer),
        1 => (0usize..5).prop_map(Step::Timer),
        2 => (0usize..3, status).prop_map(|(i, s)| Step::Tracker(i, s)),
        1 => any::<bool>().prop_map(Step::Interface),
        1 => any::<u8>().prop_map(Step::Priority),
        1 => (0u8..5, any::<u8>()).prop_map(|(s, p)| Step::Resume(s, p)),
        1 => (0u8..3).prop_map(Step::Sync),
        2 => (0u32..5_000_000).prop_map(Step::Wait),
    ]
}

fn config() -> impl Strategy<Value = InstanceConfig> {
    (
        any::<bool>(),
        1u8..=255,
        any::<bool>(),
        any::<bool>(),
        0u64..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(v3, priority, master, nopreempt, delay, sync, strict)| {
            let version = if v3 { Version::V3 } else { Version::V2 };
            let mut c = InstanceConfig::new("P", 9, Family::Ipv4, version);
            c.priority = priority;
            c.initial_state = if master {
                InitialState::Master
            } else {
                InitialState::Backup
            };
            c.nopreempt = nopreempt;
            c.preempt_delay = Duration::from_secs(delay);
            c.startup_delay = Duration::from_secs(delay);
            c.sync_group = sync;
            c.strict = strict;
            c.vips = vec!["192.0.2.9".parse().unwrap()];
            c.primary_address = Some("192.0.2.3".parse().unwrap());
            c.trackers = vec![
                Tracker::up_down("a", 0, false, TrackerStatus::Up),
                Tracker::up_down("b", -30, false, TrackerStatus::Up),
                Tracker::file("c", 5, false, 0),
            ];
            c
        })
}

fn state_of(n: u8) -> State {
    match n {
        0 => State::Init,
        1 => State::Backup,
        2 => State::Master,
        3 => State::Fault,
        _ => State::Stop,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold(c in config(), steps in proptest::collection::vec(step(), 1..80)) {
        let mut inst = match Instance::new(c) {
            Ok(i) => i,
            Err(_) => return Ok(()),
        };
        let mut now = Time::from_secs(100);
        let mut vips_on = false;
        for s in steps {
            let ev = match s {
                Step::Start => Event::Start,
                Step::Stop => Event::Stop,
                Step::Advert { prio, src, interval } => {
                    let mut a = inst.advert(prio);
                    a.interval = match inst.config().version {
                        Version::V2 => inst.adver_int(),
                        Version::V3 => AdvertInterval::Centis(interval),
                    };
                    let src: IpAddr = format!("192.0.2.{src}").parse().unwrap();
                    Event::Received { src, advert: Ok(a) }
                }
                Step::Dropped => Event::Received {
                    src: "192.0.2.1".parse().unwrap(),
                    advert: Err(Drop::Checksum),
                },
                Step::NextTimer => match inst.next_deadline() {
                    Some((k, at)) => {
                        now = now.max(at);
                        Event::TimerExpired(k)
                    }
                    None => continue,
                },
                Step::Timer(k) => Event::TimerExpired(TimerKind::ALL[k]),
                Step::Tracker(i, st) => Event::TrackerChanged { tracker: i, status: st },
                Step::Interface(up) => if up { Event::InterfaceUp } else { Event::InterfaceDown },
                Step::Priority(p) => Event::PriorityChanged(p),
                Step::Resume(st, p) => Event::Resume(Saved {
                    state: state_of(st),
                    effective_priority: p,
                    master_adver_int: inst.adver_int(),
                    preempt_deadline: Some(now + Duration::from_secs(2)),
                    trackers: vec![TrackerStatus::Up; 3],
                    interface_up: p % 2 == 0,
                    sync_fault: p % 3 == 0,
                    master: Some(MasterPeer { addr: "192.0.2.1".parse().unwrap(), priority: p }),
                }),
                Step::Sync(n) => Event::Sync([SyncCommand::Master, SyncCommand::Backup, SyncCommand::Fault][usize::from(n)]),
                Step::Wait(us) => {
                    now = now + Duration::from_micros(u64::from(us));
                    continue;
                }
            };
            let before = inst.state();
            let actions = inst.handle(now, ev);
            let mut changed = false;
            for a in &actions {
                match a {
                    Action::AddVips => vips_on = true,
                    Action::RemoveVips => vips_on = false,
                    Action::SendAdvert(ad) => {
                        let src = "192.0.2.3".parse().unwrap();
                        let dst = inst.destinations()[0];
                        prop_assert!(inst.encode(ad, src, dst).is_ok());
                    }
                    Action::ArmTimer { at, .. } => prop_assert!(*at >= now),
                    Action::StateChanged { from, to, .. } => {
                        prop_assert_ne!(from, to);
                        changed = true;
                    }
                    _ => {}
                }
            }
            let st = inst.state();
            if !changed && st != before {
                // Only Resume moves silently (it continues a previous process's state).
                prop_assert!(matches!(before, State::Init));
            }
            // The VIPs are on exactly while MASTER (the driver executes Add/Remove).
            prop_assert_eq!(vips_on, st == State::Master, "state {:?}", st);
            // Timers match the state.
            let adv = inst.deadline(TimerKind::Advert).is_some();
            let down = inst.deadline(TimerKind::MasterDown).is_some();
            match st {
                State::Master => prop_assert!(adv && !down),
                State::Backup => prop_assert!(down && !adv),
                _ => prop_assert!(!adv && !down),
            }
            // Priority bounds: the owner keeps 255, everyone else 1..=254.
            let p = inst.effective_priority();
            if inst.config().priority == 255 {
                prop_assert_eq!(p, 255);
            } else {
                prop_assert!((1..=254).contains(&p));
            }
        }
    }
}
