//! Sync groups (keepalived vrrp_sync.c, KEEPALIVED-REFERENCE 2.5): members move together.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;

use keepalived_vrrp::sync::GroupTransition;
use keepalived_vrrp::{
    Action, Event, Family, FaultReason, InitialState, Instance, InstanceConfig, Reason, State,
    SyncGroup, Time, TimerKind, Version,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn member(name: &str, vrid: u8, priority: u8) -> Instance {
    let mut c = InstanceConfig::new(name, vrid, Family::Ipv4, Version::V3);
    c.priority = priority;
    c.vips = vec![ip(&format!("192.0.2.{vrid}"))];
    c.primary_address = Some(ip("192.0.2.1"));
    c.sync_group = true;
    Instance::new(c).unwrap()
}

fn group(n: usize) -> (SyncGroup, Vec<Instance>) {
    let members = (0..n)
        .map(|i| member(&format!("VI_{i}"), 51 + i as u8, 100))
        .collect();
    (SyncGroup::new("G1", n), members)
}

fn start_all(g: &mut SyncGroup, m: &mut [Instance], now: Time) {
    for i in 0..m.len() {
        g.drive(m, i, now, Event::Start);
    }
}

fn states(m: &[Instance]) -> Vec<State> {
    m.iter().map(Instance::state).collect()
}

fn advert_from_peer(inst: &Instance, priority: u8) -> Event {
    Event::Received {
        src: ip("192.0.2.200"),
        advert: Ok(inst.advert(priority)),
    }
}

// keepalived vrrp_sync_can_goto_master: "Only sync to master if everyone wants to, i.e.
// prefer backup state to avoid thrashing".
#[test]
fn master_only_when_every_member_wants_it() {
    let (mut g, mut m) = group(2);
    start_all(&mut g, &mut m, Time::ZERO);
    assert_eq!(states(&m), vec![State::Backup, State::Backup]);
    // Member 1 still hears its master.
    let t = Time::from_secs(2);
    let ev = advert_from_peer(&m[1], 200);
    g.drive(&mut m, 1, t, ev);
    // Member 0's down timer expires: it wishes MASTER but stays BACKUP.
    let at = m[0].deadline(TimerKind::MasterDown).unwrap();
    let d = g.drive(&mut m, 0, at, Event::TimerExpired(TimerKind::MasterDown));
    assert!(d.actions.contains(&(0, Action::SyncWish(State::Master))));
    assert_eq!(states(&m), vec![State::Backup, State::Backup]);
    assert!(
        m[0].deadline(TimerKind::MasterDown).unwrap() > at,
        "waits another interval"
    );
    assert_eq!(g.state(), State::Backup);
    // Member 1's master goes silent too: both become master together.
    let at1 = m[1].deadline(TimerKind::MasterDown).unwrap();
    let d = g.drive(&mut m, 1, at1, Event::TimerExpired(TimerKind::MasterDown));
    assert_eq!(states(&m), vec![State::Master, State::Master]);
    assert_eq!(g.state(), State::Master);
    assert_eq!(
        d.transitions,
        vec![GroupTransition {
            from: State::Backup,
            to: State::Master
        }]
    );
    // Both advertise and add their VIPs.
    for i in 0..2 {
        assert!(d.actions.contains(&(i, Action::AddVips)));
    }
    assert!(d.actions.iter().any(|(i, a)| *i == 0
        && matches!(
            a,
            Action::StateChanged {
                to: State::Master,
                reason: Reason::MasterNoResponse,
                ..
            }
        )));
}

// keepalived vrrp_sync_backup: one master yielding to a better master makes the whole
// group BACKUP (without priority 0).
#[test]
fn one_member_backup_makes_all_backup() {
    let (mut g, mut m) = group(3);
    start_all(&mut g, &mut m, Time::ZERO);
    for i in 0..3 {
        let at = m[i].deadline(TimerKind::MasterDown).unwrap();
        g.drive(&mut m, i, at, Event::TimerExpired(TimerKind::MasterDown));
    }
    assert_eq!(states(&m), vec![State::Master; 3]);
    let t = Time::from_secs(10);
    let ev = advert_from_peer(&m[2], 250);
    let d = g.drive(&mut m, 2, t, ev);
    assert_eq!(states(&m), vec![State::Backup; 3]);
    assert_eq!(g.state(), State::Backup);
    assert!(
        !d.actions
            .iter()
            .any(|(_, a)| matches!(a, Action::SendAdvert(ad) if ad.priority == 0))
    );
    assert!(d.actions.iter().any(|(i, a)| *i == 0
        && *a
            == Action::StateChanged {
                from: State::Master,
                to: State::Backup,
                reason: Reason::Sync
            }));
}

// keepalived vrrp_sync_fault: one member in FAULT puts every member in FAULT; when it
// recovers every member comes back as BACKUP.
#[test]
fn one_member_fault_makes_all_fault() {
    let (mut g, mut m) = group(2);
    start_all(&mut g, &mut m, Time::ZERO);
    for i in 0..2 {
        let at = m[i].deadline(TimerKind::MasterDown).unwrap();
        g.drive(&mut m, i, at, Event::TimerExpired(TimerKind::MasterDown));
    }
    assert_eq!(states(&m), vec![State::Master; 2]);
    let d = g.drive(&mut m, 0, Time::from_secs(20), Event::InterfaceDown);
    assert_eq!(states(&m), vec![State::Fault, State::Fault]);
    assert_eq!(g.state(), State::Fault);
    // The member forced by the group leaves MASTER with priority 0 too (6.6).
    assert!(
        d.actions
            .iter()
            .any(|(i, a)| *i == 1 && matches!(a, Action::SendAdvert(ad) if ad.priority == 0))
    );
    assert!(d.actions.iter().any(|(i, a)| *i == 1
        && *a
            == Action::StateChanged {
                from: State::Master,
                to: State::Fault,
                reason: Reason::Fault(FaultReason::SyncGroup)
            }));
    let d = g.drive(&mut m, 0, Time::from_secs(30), Event::InterfaceUp);
    assert_eq!(states(&m), vec![State::Backup, State::Backup]);
    assert_eq!(g.state(), State::Backup);
    assert_eq!(
        d.transitions,
        vec![GroupTransition {
            from: State::Fault,
            to: State::Backup
        }]
    );
}

// keepalived try_up_instance: a member stays in FAULT while another member is faulty.
#[test]
fn fault_holds_until_every_member_recovers() {
    let (mut g, mut m) = group(2);
    start_all(&mut g, &mut m, Time::ZERO);
    g.drive(&mut m, 0, Time::from_secs(1), Event::InterfaceDown);
    g.drive(&mut m, 1, Time::from_secs(2), Event::InterfaceDown);
    assert_eq!(g.wishes(), &[State::Fault, State::Fault]);
    // Member 0 recovers, member 1 is still down: both stay in FAULT.
    g.drive(&mut m, 0, Time::from_secs(3), Event::InterfaceUp);
    assert_eq!(states(&m), vec![State::Fault, State::Fault]);
    assert_eq!(g.wishes(), &[State::Backup, State::Fault]);
    g.drive(&mut m, 1, Time::from_secs(4), Event::InterfaceUp);
    assert_eq!(states(&m), vec![State::Backup, State::Backup]);
}

// A group whose every member is an owner with state MASTER starts as MASTER.
#[test]
fn owners_start_master_together() {
    let mut m: Vec<Instance> = (0..2)
        .map(|i| {
            let mut c = InstanceConfig::new(&format!("VI_{i}"), 60 + i, Family::Ipv4, Version::V2);
            c.priority = 255;
            c.initial_state = InitialState::Master;
            c.vips = vec![ip(&format!("192.0.2.{}", 60 + i))];
            c.sync_group = true;
            Instance::new(c).unwrap()
        })
        .collect();
    let mut g = SyncGroup::new("OWNERS", 2);
    start_all(&mut g, &mut m, Time::ZERO);
    assert_eq!(states(&m), vec![State::Master, State::Master]);
    assert_eq!(g.state(), State::Master);
}

// A member outside any sync group ignores sync commands; commands for unknown members
// are ignored.
#[test]
fn sync_commands_need_a_group_member() {
    let mut c = InstanceConfig::new("LONE", 70, Family::Ipv4, Version::V3);
    c.vips = vec![ip("192.0.2.70")];
    let mut lone = Instance::new(c).unwrap();
    lone.handle(Time::ZERO, Event::Start);
    assert!(
        lone.handle(Time::ZERO, Event::Sync(keepalived_vrrp::SyncCommand::Fault))
            .is_empty()
    );
    assert_eq!(lone.state(), State::Backup);
    let (mut g, mut m) = group(1);
    let d = g.drive(&mut m, 5, Time::ZERO, Event::Start);
    assert!(d.actions.is_empty());
}
