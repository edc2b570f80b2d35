//! The instance state machine, one rule per test; each cites the RFC section or the
//! keepalived behaviour (KEEPALIVED-REFERENCE = KR) it checks.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::net::IpAddr;
use std::time::Duration;

use keepalived_vrrp::{
    Action, Advert, AdvertInterval, Auth, Drop, Event, Family, FaultReason, InitialState, Instance,
    InstanceConfig, Notify, Reason, Saved, State, Time, TimerKind, Tracker, TrackerStatus,
    UnicastPeer, Version,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const VIP: &str = "192.0.2.100";
const OURS: &str = "192.0.2.10";
const PEER: &str = "192.0.2.20";

fn cfg(version: Version, priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", 51, Family::Ipv4, version);
    c.priority = priority;
    c.vips = vec![ip(VIP)];
    c.primary_address = Some(ip(OURS));
    c
}

fn v2(priority: u8) -> InstanceConfig {
    cfg(Version::V2, priority)
}

fn v3(priority: u8) -> InstanceConfig {
    cfg(Version::V3, priority)
}

fn inst(c: InstanceConfig) -> Instance {
    Instance::new(c).unwrap()
}

fn us(n: u64) -> Time {
    Time::from_micros(n)
}

fn secs(n: u64) -> Time {
    Time::from_secs(n)
}

/// An advert from a peer of `inst` with `priority` (and its own interval).
fn advert(inst: &Instance, priority: u8) -> Advert {
    let mut a = inst.advert(priority);
    a.interval = inst.adver_int();
    a
}

fn rx(inst: &mut Instance, now: Time, src: &str, priority: u8) -> Vec<Action> {
    let a = advert(inst, priority);
    inst.handle(
        now,
        Event::Received {
            src: ip(src),
            advert: Ok(a),
        },
    )
}

fn rx_advert(inst: &mut Instance, now: Time, src: &str, a: Advert) -> Vec<Action> {
    inst.handle(
        now,
        Event::Received {
            src: ip(src),
            advert: Ok(a),
        },
    )
}

/// Fires `timer` at its deadline.
fn fire(inst: &mut Instance, timer: TimerKind) -> (Time, Vec<Action>) {
    let at = inst.deadline(timer).unwrap();
    (at, inst.handle(at, Event::TimerExpired(timer)))
}

fn sent(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(ad) => Some(ad.priority),
            _ => None,
        })
        .collect()
}

fn transitions(actions: &[Action]) -> Vec<(State, State, Reason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged { from, to, reason } => Some((*from, *to, *reason)),
            _ => None,
        })
        .collect()
}

fn has(actions: &[Action], wanted: &Action) -> bool {
    actions.contains(wanted)
}

fn started(c: InstanceConfig, now: Time) -> Instance {
    let mut i = inst(c);
    i.handle(now, Event::Start);
    i
}

fn master(c: InstanceConfig) -> Instance {
    let mut i = started(c, Time::ZERO);
    fire(&mut i, TimerKind::MasterDown);
    assert_eq!(i.state(), State::Master);
    i
}

// ----- start-up -------------------------------------------------------------------------

// RFC 3768 6.4.1 / KR 6.4: a backup starts with Master_Down_Interval; v2 prio 150 became
// master 3 + 106/256 s after start.
#[test]
fn v2_backup_waits_master_down_interval() {
    let mut i = inst(v2(150));
    let a = i.handle(Time::ZERO, Event::Start);
    assert_eq!(
        a[0],
        Action::RemoveVips,
        "KR 6.13: a fresh start removes leftover VIPs"
    );
    assert_eq!(
        transitions(&a),
        vec![(State::Init, State::Backup, Reason::Startup)]
    );
    assert!(has(
        &a,
        &Action::Notify(Notify::State {
            state: State::Backup,
            priority: 150
        })
    ));
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(3_414_062)));
    // Early or stale expiries are ignored.
    assert!(
        i.handle(us(3_414_061), Event::TimerExpired(TimerKind::MasterDown))
            .is_empty()
    );
    assert!(
        i.handle(us(3_414_061), Event::TimerExpired(TimerKind::Advert))
            .is_empty()
    );
    let (_, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(i.state(), State::Master);
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::MasterNoResponse)]
    );
}

// RFC 9568 6.4.1 / KR 6.4: v3, 0.5 s, prio 120 -> 1.5 + 0.265625 s.
#[test]
fn v3_backup_waits_master_down_interval() {
    let mut c = v3(120);
    c.advert_interval = Duration::from_millis(500);
    let i = started(c, secs(10));
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(11_765_625)));
}

// KR 6.4: down_timer_adverts 1..100 replaces the 3 of Master_Down_Interval.
#[test]
fn down_timer_adverts() {
    let mut c = v3(100);
    c.down_timer_adverts = 1;
    let i = started(c, Time::ZERO);
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(1_609_375)));
}

// RFC 9568 6.4.1 "If the Priority = 255 ... transition to the Master state"; KR 6.4: a
// priority-255 instance with state MASTER goes to MASTER immediately.
#[test]
fn owner_goes_master_at_once() {
    let mut c = v3(255);
    c.initial_state = InitialState::Master;
    let mut i = inst(c);
    let a = i.handle(secs(1), Event::Start);
    assert_eq!(i.state(), State::Master);
    assert_eq!(
        transitions(&a),
        vec![(State::Init, State::Master, Reason::Owner)]
    );
    // KR 6.1/6.7: the first advert goes out before the VIPs and the GARPs.
    let send = a
        .iter()
        .position(|x| matches!(x, Action::SendAdvert(_)))
        .unwrap();
    let add = a.iter().position(|x| *x == Action::AddVips).unwrap();
    let garp = a
        .iter()
        .position(|x| matches!(x, Action::SendGarp { .. }))
        .unwrap();
    assert!(send < add && add < garp);
    assert_eq!(sent(&a), vec![255]);
    assert_eq!(i.deadline(TimerKind::Advert), Some(secs(2)));
}

// keepalived: priority 255 with state BACKUP is not MASTER at once (wantstate BACKUP).
#[test]
fn owner_with_state_backup_waits() {
    let mut c = v3(255);
    c.initial_state = InitialState::Backup;
    let i = started(c, Time::ZERO);
    assert_eq!(i.state(), State::Backup);
    // Skew for an owner uses 255: 3 s + 1/256 s.
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(3_003_906)));
}

// KR 6.4: a non-owner that wants MASTER waits one interval and the smallest skew.
#[test]
fn state_master_non_owner_waits_one_interval() {
    let mut c = v3(200);
    c.initial_state = InitialState::Master;
    let mut i = started(c, Time::ZERO);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(1_003_906)));
    // If a master answers meanwhile, the normal rules apply.
    rx(&mut i, secs(1), PEER, 250);
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(1_000_000 + 3_218_750))
    );
}

// KR 6.4: vrrp_startup_delay holds the instances; timers start when it ends.
#[test]
fn startup_delay_holds_timers() {
    let mut c = v2(100);
    c.startup_delay = Duration::from_secs(10);
    let i = started(c, Time::ZERO);
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(10_000_000 + 3_609_375))
    );
    // The owner becomes master as soon as the delay ends.
    let mut c = v2(255);
    c.initial_state = InitialState::Master;
    c.startup_delay = Duration::from_secs(10);
    let mut i = started(c, Time::ZERO);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(10_000_001)));
    let (_, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::Owner)]
    );
}

// ----- backup ---------------------------------------------------------------------------

// RFC 9568 6.4.2 "If the Priority in the ADVERTISEMENT is greater than or equal to the
// local Priority": reset the Master_Down_Timer.
#[test]
fn backup_accepts_higher_and_equal_priority() {
    let mut i = started(v2(100), Time::ZERO);
    rx(&mut i, secs(2), PEER, 200);
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(2_000_000 + 3_609_375))
    );
    assert_eq!(i.master().unwrap().addr, ip(PEER));
    rx(&mut i, secs(3), PEER, 100);
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(3_000_000 + 3_609_375))
    );
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.stats().adverts_received, 2);
}

// RFC 9568 6.4.2 "Set Master_Adver_Interval to Adver Interval contained in the
// ADVERTISEMENT" (v3 only; KR 6.3 "v3: an adver_int mismatch is only logged").
#[test]
fn v3_backup_adopts_master_interval() {
    let mut i = started(v3(100), Time::ZERO);
    let mut a = advert(&i, 200);
    a.interval = AdvertInterval::Centis(200);
    rx_advert(&mut i, secs(1), PEER, a);
    assert_eq!(i.master_adver_int(), AdvertInterval::Centis(200));
    // 3 × 2 s + (156 × 200 × 625 / 16) µs.
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(1_000_000 + 6_000_000 + 1_218_750))
    );
    // On becoming master it uses its own interval again.
    fire(&mut i, TimerKind::MasterDown);
    assert_eq!(i.master_adver_int(), AdvertInterval::Centis(100));
}

// RFC 9568 6.4.2 "If the Priority in the ADVERTISEMENT is zero, then: Set the
// Master_Down_Timer to Skew_Time"; KR 6.4: the backup (prio 100) took over 0.61 s later.
#[test]
fn priority_zero_fast_takeover() {
    let mut i = started(v2(100), Time::ZERO);
    rx(&mut i, secs(1), PEER, 200);
    let a = rx(&mut i, secs(2), PEER, 0);
    assert_eq!(
        a,
        vec![Action::ArmTimer {
            timer: TimerKind::MasterDown,
            at: us(2_609_375)
        }]
    );
    assert_eq!(i.stats().priority_zero_received, 1);
    let (_, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::PriorityZero)]
    );
}

// RFC 9568 6.4.2 "Otherwise: Discard the ADVERTISEMENT"; KR 6.5: the down timer keeps
// counting, so a higher-priority backup preempts when Master_Down_Interval expires (A
// (150) discarded 3 adverts and became master ~3.4 s later).
#[test]
fn preemption_discards_lower_priority() {
    let mut i = started(v2(150), Time::ZERO);
    let deadline = i.deadline(TimerKind::MasterDown).unwrap();
    for t in 1..=3 {
        let a = rx(&mut i, secs(t), PEER, 100);
        assert!(a.is_empty(), "discarded: the timer is not reset");
    }
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(deadline));
    let (at, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(at, us(3_414_062));
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::Preempted)]
    );
}

// RFC 9568 6.4.2 "If Preempt_Mode is False ...": nopreempt accepts lower priorities.
#[test]
fn nopreempt_accepts_lower_priority() {
    let mut c = v2(150);
    c.nopreempt = true;
    let mut i = started(c, Time::ZERO);
    for t in 1..=10 {
        rx(&mut i, secs(t), PEER, 100);
        assert_eq!(
            i.deadline(TimerKind::MasterDown),
            Some(secs(t) + Duration::from_micros(3_414_062))
        );
    }
    assert_eq!(i.state(), State::Backup);
}

// KR 6.5 preempt_delay: lower-priority adverts are accepted until the delay after the
// first one has passed; then they are discarded and the backup preempts.
#[test]
fn preempt_delay() {
    let mut c = v2(150);
    c.preempt_delay = Duration::from_secs(5);
    let mut i = started(c, Time::ZERO);
    rx(&mut i, secs(1), PEER, 100);
    assert_eq!(i.saved().preempt_deadline, Some(secs(6)));
    for t in 2..=5 {
        rx(&mut i, secs(t), PEER, 100);
        assert_eq!(
            i.deadline(TimerKind::MasterDown),
            Some(secs(t) + Duration::from_micros(3_414_062))
        );
    }
    // 6 s: the deadline has passed (not "later than now"): discarded from now on.
    let before = i.deadline(TimerKind::MasterDown);
    assert!(rx(&mut i, secs(6), PEER, 100).is_empty());
    assert_eq!(i.deadline(TimerKind::MasterDown), before);
    let (_, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(transitions(&a)[0].2, Reason::Preempted);

    // A higher-priority advert clears a running deadline.
    let mut c = v2(150);
    c.preempt_delay = Duration::from_secs(5);
    let mut i = started(c, Time::ZERO);
    rx(&mut i, secs(1), PEER, 100);
    rx(&mut i, secs(2), PEER, 200);
    assert_eq!(i.saved().preempt_deadline, None);
}

// RFC 9568 6.4.2: a backup sends nothing and owns nothing.
#[test]
fn backup_sends_nothing() {
    let mut i = started(v3(100), Time::ZERO);
    let a = rx(&mut i, secs(1), PEER, 200);
    assert!(sent(&a).is_empty());
    assert!(!has(&a, &Action::AddVips));
}

// ----- master ---------------------------------------------------------------------------

// RFC 9568 6.4.3 "If the Adver_Timer fires, then: Send an ADVERTISEMENT, Reset the
// Adver_Timer to Advertisement_Interval".
#[test]
fn master_advertises_every_interval() {
    let mut i = master(v3(100));
    let t0 = i.deadline(TimerKind::Advert).unwrap();
    let (_, a) = fire(&mut i, TimerKind::Advert);
    assert_eq!(sent(&a), vec![100]);
    assert_eq!(
        i.deadline(TimerKind::Advert),
        Some(t0 + Duration::from_secs(1))
    );
    // The advert carries our VIPs and interval.
    let Action::SendAdvert(ad) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(ad.addrs, vec![ip(VIP)]);
    assert_eq!(ad.interval, AdvertInterval::Centis(100));
    assert_eq!(ad.vrid, 51);
}

// RFC 9568 6.4.3: a higher priority advert makes the master a backup (no priority 0), and
// a v3 master adopts the new master's interval.
#[test]
fn master_yields_to_higher_priority() {
    let mut i = master(v3(100));
    let t = i.deadline(TimerKind::Advert).unwrap();
    let mut a = advert(&i, 200);
    a.interval = AdvertInterval::Centis(50);
    let acts = rx_advert(&mut i, t, PEER, a);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(
        transitions(&acts),
        vec![(State::Master, State::Backup, Reason::HigherPriority)]
    );
    assert!(sent(&acts).is_empty(), "no priority 0 when yielding");
    assert!(has(&acts, &Action::RemoveVips));
    assert!(has(&acts, &Action::CancelTimer(TimerKind::Advert)));
    assert_eq!(i.master_adver_int(), AdvertInterval::Centis(50));
    // 3 × 0.5 s + 156 × 50 × 625 / 16 µs.
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(t + Duration::from_micros(1_500_000 + 304_687))
    );
    assert_eq!(i.stats().released_master, 1);
}

// RFC 9568 6.4.3: equal priority - the higher primary address wins (KR 6.5 tie-break).
#[test]
fn equal_priority_tie_break_on_address() {
    let mut i = master(v3(100));
    // A lower address: we stay master and answer (KR 6.5).
    let a = rx(&mut i, secs(5), "192.0.2.9", 100);
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent(&a), vec![100]);
    // Our own address: ignored.
    let a = rx(&mut i, secs(5), OURS, 100);
    assert!(a.is_empty());
    // A higher address: we yield.
    rx(&mut i, secs(6), "192.0.2.11", 100);
    assert_eq!(i.state(), State::Backup);
    // Compared as numbers, not as text: 192.0.2.100 > 192.0.2.11.
    let mut i = master(v3(100));
    i.handle(secs(5), Event::PrimaryAddress(Some(ip("192.0.2.100"))));
    rx(&mut i, secs(6), "192.0.2.11", 100);
    assert_eq!(i.state(), State::Master);
}

// KR 6.5: a master answers a lower-priority advert with an advert at once, GARPs
// (garp_lower_prio_repeat) and notify_master_rx_lower_pri.
#[test]
fn master_answers_lower_priority() {
    let mut i = master(v2(150));
    let a = rx(&mut i, secs(10), PEER, 100);
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent(&a), vec![150]);
    assert!(has(&a, &Action::SendGarp { repeat: 5 }));
    assert!(has(
        &a,
        &Action::ArmTimer {
            timer: TimerKind::GarpLowerPriority,
            at: secs(15)
        }
    ));
    assert!(has(
        &a,
        &Action::Notify(Notify::MasterRxLowerPriority { priority: 100 })
    ));
    let (_, a) = fire(&mut i, TimerKind::GarpLowerPriority);
    assert_eq!(a, vec![Action::SendGarp { repeat: 5 }]);
}

// KR 6.5/6.10: lower_prio_no_advert (forced by strict mode) suppresses the answer.
#[test]
fn lower_prio_no_advert() {
    let mut c = v3(150);
    c.lower_prio_no_advert = true;
    c.garp.lower_prio_repeat = 0;
    let mut i = master(c);
    let a = rx(&mut i, secs(10), PEER, 100);
    assert!(sent(&a).is_empty());
    assert!(!a.iter().any(|x| matches!(x, Action::SendGarp { .. })));
    // Strict mode forces it and clears the lower-priority GARPs.
    let mut c = v3(150);
    c.strict = true;
    let mut i = master(c);
    let a = rx(&mut i, secs(10), PEER, 100);
    assert_eq!(
        a,
        vec![Action::Notify(Notify::MasterRxLowerPriority {
            priority: 100
        })]
    );
}

// KR 6.5: higher_prio_send_advert sends one more advert before yielding.
#[test]
fn higher_prio_send_advert() {
    let mut c = v3(100);
    c.higher_prio_send_advert = true;
    let mut i = master(c);
    let a = rx(&mut i, secs(10), PEER, 200);
    assert_eq!(sent(&a), vec![100]);
    assert_eq!(i.state(), State::Backup);
    // Without it, nothing is sent.
    let mut i = master(v3(100));
    assert!(sent(&rx(&mut i, secs(10), PEER, 200)).is_empty());
}

// RFC 9568 6.4.3 "If the Priority in the ADVERTISEMENT is zero, then: Send an
// ADVERTISEMENT, Reset the Adver_Timer".
#[test]
fn master_answers_priority_zero() {
    let mut i = master(v3(100));
    let a = rx(&mut i, secs(10), PEER, 0);
    assert_eq!(sent(&a), vec![100]);
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.deadline(TimerKind::Advert), Some(secs(11)));
}

// KR 6.7: becoming master sends garp_master_repeat rounds at once, again after
// garp_master_delay, and every garp_master_refresh.
#[test]
fn garp_bursts_and_refresh() {
    let mut c = v2(100);
    c.garp.master_repeat = 3;
    c.garp.master_delay = Duration::from_secs(5);
    c.garp.master_refresh = Duration::from_secs(60);
    c.garp.master_refresh_repeat = 2;
    let mut i = started(c, Time::ZERO);
    let (t, a) = fire(&mut i, TimerKind::MasterDown);
    assert!(has(&a, &Action::SendGarp { repeat: 3 }));
    assert_eq!(
        i.deadline(TimerKind::GarpDelay),
        Some(t + Duration::from_secs(5))
    );
    assert_eq!(
        i.deadline(TimerKind::GarpRefresh),
        Some(t + Duration::from_secs(65))
    );
    let (_, a) = fire(&mut i, TimerKind::GarpDelay);
    assert_eq!(a, vec![Action::SendGarp { repeat: 3 }]);
    let (t2, a) = fire(&mut i, TimerKind::GarpRefresh);
    assert_eq!(a[0], Action::SendGarp { repeat: 2 });
    assert_eq!(
        i.deadline(TimerKind::GarpRefresh),
        Some(t2 + Duration::from_secs(60))
    );
    // garp_master_delay 0: no second burst.
    let mut c = v2(100);
    c.garp.master_delay = Duration::ZERO;
    let i = master(c);
    assert_eq!(i.deadline(TimerKind::GarpDelay), None);
}

// ----- stop and priority 0 ----------------------------------------------------------------

// KR 6.6: on stop a master sends one advert with priority 0, then deletes its VIPs.
#[test]
fn stop_sends_priority_zero() {
    let mut i = master(v2(100));
    let a = i.handle(secs(20), Event::Stop);
    assert_eq!(sent(&a), vec![0]);
    let zero = a
        .iter()
        .position(|x| matches!(x, Action::SendAdvert(_)))
        .unwrap();
    let remove = a.iter().position(|x| *x == Action::RemoveVips).unwrap();
    assert!(zero < remove);
    assert_eq!(i.state(), State::Stop);
    assert!(has(
        &a,
        &Action::Notify(Notify::State {
            state: State::Stop,
            priority: 100
        })
    ));
    assert_eq!(i.next_deadline(), None);
    assert_eq!(i.stats().priority_zero_sent, 1);
    // A backup stops quietly.
    let mut i = started(v2(100), Time::ZERO);
    let a = i.handle(secs(1), Event::Stop);
    assert!(sent(&a).is_empty());
    assert!(has(&a, &Action::CancelTimer(TimerKind::MasterDown)));
    assert!(i.handle(secs(2), Event::Stop).is_empty());
}

// ----- faults and trackers ----------------------------------------------------------------

// KR 6.6: leaving MASTER for FAULT sends priority 0; the interface coming back makes a
// backup that waits Master_Down_Interval.
#[test]
fn interface_down_is_fault() {
    let mut i = master(v2(100));
    let a = i.handle(secs(10), Event::InterfaceDown);
    assert_eq!(
        transitions(&a),
        vec![(
            State::Master,
            State::Fault,
            Reason::Fault(FaultReason::InterfaceDown)
        )]
    );
    assert_eq!(sent(&a), vec![0]);
    assert!(has(&a, &Action::RemoveVips));
    assert!(has(
        &a,
        &Action::Notify(Notify::State {
            state: State::Fault,
            priority: 100
        })
    ));
    assert_eq!(i.next_deadline(), None);
    // Adverts are ignored in FAULT.
    assert!(rx(&mut i, secs(11), PEER, 50).is_empty());
    let a = i.handle(secs(12), Event::InterfaceUp);
    assert_eq!(
        transitions(&a),
        vec![(State::Fault, State::Backup, Reason::FaultCleared)]
    );
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(us(12_000_000 + 3_609_375))
    );
    // dont_track_primary: the instance's interface is not a fault.
    let mut c = v2(100);
    c.track_primary_interface = false;
    let mut i = started(c, Time::ZERO);
    assert!(transitions(&i.handle(secs(1), Event::InterfaceDown)).is_empty());
    assert_eq!(i.state(), State::Backup);
}

// KR 2.2: a script with weight 0 puts the instance in FAULT while it fails; before its
// first result the instance is held (keepalived starts it in FAULT).
#[test]
fn weight_zero_script_fault() {
    let mut c = v2(100);
    c.trackers = vec![Tracker::up_down("chk", 0, false, TrackerStatus::Unknown)];
    let mut i = inst(c);
    let a = i.handle(Time::ZERO, Event::Start);
    assert_eq!(
        transitions(&a),
        vec![(
            State::Init,
            State::Fault,
            Reason::Fault(FaultReason::Tracker(0))
        )]
    );
    i.handle(
        secs(1),
        Event::TrackerChanged {
            tracker: 0,
            status: TrackerStatus::Up,
        },
    );
    assert_eq!(i.state(), State::Backup);
    fire(&mut i, TimerKind::MasterDown);
    let a = i.handle(
        secs(9),
        Event::TrackerChanged {
            tracker: 0,
            status: TrackerStatus::Down,
        },
    );
    assert_eq!(i.state(), State::Fault);
    assert_eq!(sent(&a), vec![0]);
    // Unknown tracker indexes are ignored.
    assert!(
        i.handle(
            secs(9),
            Event::TrackerChanged {
                tracker: 7,
                status: TrackerStatus::Up
            }
        )
        .is_empty()
    );
}

// KR 2.3: a track_file value × weight at or below -254 is FAULT.
#[test]
fn track_file_fault() {
    let mut c = v2(100);
    c.trackers = vec![Tracker::file("f", 1, false, 0)];
    let mut i = started(c, Time::ZERO);
    i.handle(
        secs(1),
        Event::TrackerChanged {
            tracker: 0,
            status: TrackerStatus::Value(-254),
        },
    );
    assert_eq!(i.state(), State::Fault);
    i.handle(
        secs(2),
        Event::TrackerChanged {
            tracker: 0,
            status: TrackerStatus::Value(-253),
        },
    );
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.effective_priority(), 1);
}

// keepalived vrrp_set_effective_priority: weights move the priority in 1..254, the owner
// keeps 255; a backup's down timer moves with Master_Down_Interval; notify_priority_changes.
#[test]
fn effective_priority_from_trackers() {
    let mut c = v2(100);
    c.trackers = vec![
        Tracker::up_down("plus", 30, false, TrackerStatus::Up),
        Tracker::up_down("minus", -50, false, TrackerStatus::Up),
    ];
    c.notify_priority_changes = true;
    let mut i = started(c, Time::ZERO);
    assert_eq!(i.effective_priority(), 130);
    // 3 s + 126/256 s.
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(3_492_187)));
    let a = i.handle(
        secs(1),
        Event::TrackerChanged {
            tracker: 1,
            status: TrackerStatus::Down,
        },
    );
    assert_eq!(i.effective_priority(), 80);
    assert!(has(
        &a,
        &Action::Notify(Notify::Priority {
            state: State::Backup,
            priority: 80
        })
    ));
    // Same start, longer skew: 3 s + 176/256 s.
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(3_687_500)));
    // The advert carries the effective priority.
    let (_, a) = fire(&mut i, TimerKind::MasterDown);
    assert_eq!(sent(&a), vec![80]);

    let mut c = v2(255);
    c.initial_state = InitialState::Master;
    c.trackers = vec![Tracker::up_down("minus", -50, false, TrackerStatus::Down)];
    let i = started(c, Time::ZERO);
    assert_eq!(i.effective_priority(), 255);
}

// A reload that changes the base priority.
#[test]
fn base_priority_change() {
    let mut i = master(v2(100));
    i.handle(secs(10), Event::PriorityChanged(120));
    assert_eq!(i.effective_priority(), 120);
    let (_, a) = fire(&mut i, TimerKind::Advert);
    assert_eq!(sent(&a), vec![120]);
    assert!(i.handle(secs(11), Event::PriorityChanged(0)).is_empty());
}

// keepalived try_up_instance: an owner with state MASTER leaving FAULT becomes master at
// once.
#[test]
fn owner_leaves_fault_as_master() {
    let mut c = v2(255);
    c.initial_state = InitialState::Master;
    let mut i = started(c, Time::ZERO);
    i.handle(secs(1), Event::InterfaceDown);
    let a = i.handle(secs(2), Event::InterfaceUp);
    assert_eq!(
        transitions(&a),
        vec![(State::Fault, State::Master, Reason::Owner)]
    );
}

// KR 6.11: unicast_fault_no_peer with no peers is FAULT.
#[test]
fn unicast_fault_no_peer() {
    let mut c = v2(100);
    c.unicast_fault_no_peer = true;
    let mut i = started(c, Time::ZERO);
    assert_eq!(i.state(), State::Fault);
    i.handle(secs(1), Event::InterfaceUp);
    assert_eq!(i.state(), State::Fault);
    assert!(i.receive_rules().unicast);
    // With a peer it runs.
    let mut c = v2(100);
    c.unicast_fault_no_peer = true;
    c.unicast_peers = vec![UnicastPeer::new(ip(PEER))];
    assert_eq!(started(c, Time::ZERO).state(), State::Backup);
}

// ----- addresses, rules, counters ---------------------------------------------------------

// KR 6.11: adverts go to each unicast peer; otherwise to the group (mcast_dst_ip).
#[test]
fn destinations() {
    let mut c = v2(100);
    c.unicast_peers = vec![
        UnicastPeer::new(ip(PEER)),
        UnicastPeer::new(ip("192.0.2.21")),
    ];
    let i = inst(c);
    assert_eq!(i.destinations(), vec![ip(PEER), ip("192.0.2.21")]);
    assert!(i.receive_rules().unicast);
    assert_eq!(inst(v2(100)).destinations(), vec![ip("224.0.0.18")]);
    let mut c = v3(100);
    c.multicast_group = Some(ip("224.0.0.19"));
    assert_eq!(inst(c).destinations(), vec![ip("224.0.0.19")]);
    let mut c = InstanceConfig::new("V6", 1, Family::Ipv6, Version::V3);
    c.vips = vec![ip("fe80::1")];
    assert_eq!(inst(c).destinations(), vec![ip("ff02::12")]);
}

// KR 6.3: owner_ignore_adverts drops adverts while the effective priority is 255; the
// rules carry the instance's auth and interval.
#[test]
fn receive_rules_follow_the_instance() {
    let mut c = v2(255);
    c.initial_state = InitialState::Master;
    c.owner_ignore_adverts = true;
    c.auth = Auth::Pass(keepalived_vrrp::Password::from_text("pw"));
    let i = inst(c);
    let r = i.receive_rules();
    assert!(r.owner_ignore_adverts);
    assert_eq!(r.interval, AdvertInterval::Secs(1));
    assert_eq!(
        r.auth,
        Auth::Pass(keepalived_vrrp::Password::from_text("pw"))
    );
    assert!(!inst(v2(100)).receive_rules().owner_ignore_adverts);
}

// KR 6.3: drops are counted by reason; an address list mismatch is counted, not dropped.
#[test]
fn drops_and_address_list_errors_are_counted() {
    let mut i = started(v2(100), Time::ZERO);
    let deadline = i.deadline(TimerKind::MasterDown);
    let a = i.handle(
        secs(1),
        Event::Received {
            src: ip(PEER),
            advert: Err(Drop::Checksum),
        },
    );
    assert!(a.is_empty());
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        deadline,
        "a dropped packet changes nothing"
    );
    assert_eq!(i.stats().drops.by_name("checksum_err"), Some(1));
    let mut ad = advert(&i, 200);
    ad.addrs = vec![ip("192.0.2.99")];
    rx_advert(&mut i, secs(2), PEER, ad);
    assert_eq!(i.stats().address_list_errors, 1);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.master().unwrap().priority, 200);
    // Another VRID is not ours.
    let mut ad = advert(&i, 200);
    ad.vrid = 52;
    rx_advert(&mut i, secs(3), PEER, ad);
    assert_eq!(i.stats().other_vrid, 1);
}

// KR 6.3 skip_check_adv_addr: the VIP list of adverts from the same master is not checked.
#[test]
fn skip_check_adv_addr() {
    let mut c = v2(100);
    c.skip_check_adv_addr = true;
    let mut i = started(c, Time::ZERO);
    let mut ad = advert(&i, 200);
    ad.addrs = vec![ip("192.0.2.99")];
    rx_advert(&mut i, secs(1), PEER, ad.clone());
    rx_advert(&mut i, secs(2), PEER, ad);
    assert_eq!(
        i.stats().address_list_errors,
        1,
        "only the first (new master) is checked"
    );
}

// keepalived no_virtual_ipaddress: an instance without VIPs advertises count 0.
#[test]
fn no_virtual_ipaddress() {
    let mut c = v3(100);
    c.vips.clear();
    assert!(Instance::new(c.clone()).is_err());
    c.no_virtual_ipaddress = true;
    let i = master(c);
    assert_eq!(i.advert(100).count(), 0);
}

// ----- resume -------------------------------------------------------------------------------

// ARCHITECTURE 4: a new process resumes MASTER: no transition, an advert at once, the VIPs
// kept (AddVips is idempotent).
#[test]
fn resume_master_advertises_at_once() {
    let old = master(v3(100));
    let saved = old.saved();
    // The parent keeps it through postcard; JSON for the status dump.
    let bytes = postcard::to_stdvec(&saved).unwrap();
    let back: Saved = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, saved);
    let json = serde_json::to_string(&saved).unwrap();
    assert_eq!(serde_json::from_str::<Saved>(&json).unwrap(), saved);

    let mut i = inst(v3(100));
    let a = i.handle(secs(50), Event::Resume(back));
    assert_eq!(i.state(), State::Master);
    assert!(transitions(&a).is_empty());
    assert!(!a.iter().any(|x| matches!(x, Action::Notify(_))));
    assert_eq!(a[0], Action::SendAdvert(i.advert(100)));
    assert!(has(&a, &Action::AddVips));
    assert!(!has(&a, &Action::RemoveVips));
    assert_eq!(i.deadline(TimerKind::Advert), Some(secs(51)));
    // Resume is only for a fresh instance.
    assert!(i.handle(secs(51), Event::Resume(saved)).is_empty());
}

// Resume BACKUP keeps the learned v3 interval, the master and the preempt deadline.
#[test]
fn resume_backup_keeps_learned_state() {
    let mut c = v3(150);
    c.preempt_delay = Duration::from_secs(30);
    let mut old = started(c.clone(), Time::ZERO);
    let mut ad = advert(&old, 100);
    ad.interval = AdvertInterval::Centis(200);
    rx_advert(&mut old, secs(1), PEER, ad);
    let saved = old.saved();
    assert_eq!(saved.preempt_deadline, Some(secs(31)));

    let mut i = inst(c);
    let a = i.handle(secs(5), Event::Resume(saved));
    assert_eq!(i.state(), State::Backup);
    assert!(transitions(&a).is_empty());
    assert_eq!(i.master_adver_int(), AdvertInterval::Centis(200));
    assert_eq!(i.master().unwrap().addr, ip(PEER));
    assert_eq!(i.saved().preempt_deadline, Some(secs(31)));
    assert_eq!(
        i.deadline(TimerKind::MasterDown),
        Some(secs(5) + Duration::from_micros(6_000_000 + 828_125))
    );
}

// A MASTER saved, but the interface is down now: FAULT with priority 0.
#[test]
fn resume_master_into_fault() {
    let mut saved = master(v2(100)).saved();
    saved.interface_up = false;
    let mut i = inst(v2(100));
    let a = i.handle(secs(5), Event::Resume(saved));
    assert_eq!(i.state(), State::Fault);
    assert_eq!(sent(&a), vec![0]);
    assert!(has(&a, &Action::RemoveVips));
}

// Resume of INIT or STOP is a fresh start.
#[test]
fn resume_init_is_a_start() {
    let saved = inst(v2(100)).saved();
    let mut i = inst(v2(100));
    let a = i.handle(secs(5), Event::Resume(saved));
    assert_eq!(
        transitions(&a),
        vec![(State::Init, State::Backup, Reason::Startup)]
    );
}

// keepalived vrrp_set_effective_priority moves a backup's deadline by the change of
// Master_Down_Interval; a deadline that would move into the past expires now.
#[test]
fn priority_rise_past_deadline_expires_now() {
    let mut i = started(v2(1), Time::ZERO);
    // 3 s + 255/256 s.
    assert_eq!(i.deadline(TimerKind::MasterDown), Some(us(3_996_093)));
    let now = us(3_070_313);
    let a = i.handle(now, Event::PriorityChanged(238));
    // 3 s + 18/256 s = 3.0703125 s is already past.
    assert_eq!(
        a,
        vec![Action::ArmTimer {
            timer: TimerKind::MasterDown,
            at: now
        }]
    );
}
