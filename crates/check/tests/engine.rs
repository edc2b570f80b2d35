//! The health engine: keepalived's retry, alpha, warmup, MISC and FILE semantics, phases
//! and spreading of the check starts, sequence-numbered transitions, resume after a respawn
//! and reloads. Time is simulated.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use keepalived_check::engine::{ALL_PASSED, CheckId, Engine};
use keepalived_check::plan::NO_PORT;
use keepalived_check::spec::{CheckSpec, HttpProbe, Outcome, Probe, RealServerPlan, Target};
use keepalived_config::lvs::checker::HttpProtocol;
use keepalived_ipc::msg::{Health, RealServerId};

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn id(n: u32) -> RealServerId {
    RealServerId {
        virtual_server: "[2001:db8::1]:80/tcp".into(),
        ip: IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            1,
            0,
            0,
            (n >> 16) as u16,
            n as u16,
        )),
        port: 80,
    }
}

/// A TCP_CHECK with these timers (warmup 0 unless set with `warm`).
fn tcp(retry: u32, dbr: Duration, delay_loop: Duration) -> CheckSpec {
    CheckSpec {
        kind: "TCP_CHECK",
        index: 0,
        target: Some(Target {
            connect: SocketAddr::new("2001:db8::10".parse().unwrap(), 80),
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            timeout: Duration::from_secs(5),
        }),
        probe: Probe::Tcp,
        retry,
        delay_before_retry: dbr,
        delay_loop,
        warmup: Duration::ZERO,
        alpha: false,
        log_all_failures: false,
    }
}

fn with(mut c: CheckSpec, f: impl FnOnce(&mut CheckSpec)) -> CheckSpec {
    f(&mut c);
    c
}

fn indexed(mut checks: Vec<CheckSpec>) -> Vec<CheckSpec> {
    for (i, c) in checks.iter_mut().enumerate() {
        c.index = i as u16;
    }
    checks
}

fn rs(n: u32, checks: Vec<CheckSpec>) -> RealServerPlan {
    RealServerPlan {
        id: id(n),
        weight: 1,
        alpha: false,
        checks: indexed(checks),
    }
}

fn engine(plans: Vec<RealServerPlan>, t0: Instant) -> Engine {
    let mut e = Engine::new(7);
    e.configure(plans, t0);
    e
}

/// Every check due at `now`.
fn due(e: &mut Engine, now: Instant) -> Vec<CheckId> {
    std::iter::from_fn(|| e.pop_due(now)).collect()
}

/// Runs the one check due at `now` with `outcome`, finished `took` later; returns the end.
fn run(e: &mut Engine, now: Instant, took: Duration, outcome: Outcome) -> Instant {
    let ids = due(e, now);
    assert_eq!(ids.len(), 1, "one check due at {now:?}");
    e.finished(ids[0], now + took, outcome);
    now + took
}

fn down(r: &str) -> Outcome {
    Outcome::Down(r.into())
}

/// (up, weight) of the transitions taken.
fn ups(t: &[(u64, Health)]) -> Vec<(bool, Option<u32>)> {
    t.iter().map(|(_, h)| (h.up, h.weight)).collect()
}

/// The next check's due time, asserted within the loop after `t` (the grid is placed at a
/// fraction of delay_loop: the check after one at `t` is due in [t + dl, t + 2 dl)).
fn next_in_loop(e: &Engine, t: Instant, dl: Duration) -> Instant {
    let at = e.next_due().unwrap();
    assert!(at >= t + dl && at < t + 2 * dl, "{:?} after {t:?}", at - t);
    at
}

/// Runs every check due in [from, from + span) with `f`'s outcome, each finished 1 ms after
/// it started; returns how many ran.
fn round(
    e: &mut Engine,
    from: Instant,
    span: Duration,
    mut f: impl FnMut(&RealServerId, &CheckSpec) -> Outcome,
) -> usize {
    let mut n = 0;
    while let Some(at) = e.next_due() {
        if at >= from + span {
            break;
        }
        for cid in due(e, at.max(from)) {
            let (rid, spec) = e.spec(cid).unwrap();
            let o = f(rid, spec);
            e.finished(cid, at.max(from) + ms(1), o);
            n += 1;
        }
    }
    n
}

fn health(e: &Engine, n: u32) -> Health {
    e.snapshot()
        .1
        .into_iter()
        .find(|h| h.real_server == id(n))
        .unwrap()
}

// A logger that keeps each thread's messages (tests run in threads).
thread_local! {
    static LOGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}
struct Capture;
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        LOGS.with(|l| l.borrow_mut().push(r.args().to_string()));
    }
    fn flush(&self) {}
}
static CAPTURE: Capture = Capture;
fn take_logs() -> Vec<String> {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

// ------------------------------------------------------------------------------------------
// keepalived's checker semantics
// ------------------------------------------------------------------------------------------

/// keepalived: without alpha a checker starts up (queue_checker's is_up = true); the IPVS
/// writer counts the real server up too, so nothing is reported.
#[test]
fn without_alpha_a_real_server_starts_up_and_is_not_reported() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(1, ms(100), ms(1000))])], t0);
    assert_eq!(e.next_due(), Some(t0));
    let ids = due(&mut e, t0);
    assert_eq!(ids.len(), 1);
    let (rid, spec) = e.spec(ids[0]).unwrap();
    assert_eq!((rid, spec.kind), (&id(1), "TCP_CHECK"));
    assert!(e.take_transitions().is_empty());
    let (seq, h) = e.snapshot();
    assert_eq!(seq, 0);
    assert!(h[0].up);
    assert_eq!(h[0].reason, ALL_PASSED);
    e.finished(ids[0], t0 + ms(5), Outcome::Up);
    assert!(e.take_transitions().is_empty());
}

/// keepalived (check_data.c): `retry_it` starts at `retry`, "for non alpha mode, one failure
/// is enough initially": a checker that never ran goes down at its first failure.
#[test]
fn the_first_failure_of_a_checker_that_never_ran_brings_it_down() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(3, ms(100), ms(1000))])], t0);
    run(&mut e, t0, ms(10), down("connection refused"));
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    assert_eq!(t[0].0, 1);
    assert!(t[0].1.reason.contains("TCP_CHECK #0"), "{}", t[0].1.reason);
    assert!(t[0].1.reason.contains("connection refused"));
    // Down: the next check is on the delay_loop grid, not after delay_before_retry.
    next_in_loop(&e, t0, ms(1000));
}

/// keepalived's tcp_epilog: an up checker that fails retries `retry` times, each
/// `delay_before_retry` after the failure, and goes down at failure `retry + 1`.
#[test]
fn an_up_checker_goes_down_after_retry_failures_spaced_by_delay_before_retry() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(2, ms(300), ms(1000))])], t0);
    run(&mut e, t0, ms(10), Outcome::Up);
    let t1 = next_in_loop(&e, t0, ms(1000));
    let end = run(&mut e, t1, ms(20), down("timeout"));
    assert_eq!(e.next_due(), Some(end + ms(300)), "first retry");
    assert!(e.take_transitions().is_empty() && health(&e, 1).up);
    let end = run(&mut e, end + ms(300), ms(20), down("timeout"));
    assert_eq!(e.next_due(), Some(end + ms(300)), "second retry");
    assert!(e.take_transitions().is_empty() && health(&e, 1).up);
    let end = run(&mut e, end + ms(300), ms(20), down("timeout"));
    assert_eq!(ups(&e.take_transitions()), vec![(false, None)]);
    // Down: back on the delay_loop grid, delay_loop after the last retry was due.
    assert!(end < t1 + ms(1000));
    assert_eq!(e.next_due(), Some(t1 + ms(2000)));
}

/// keepalived: a success resets `retry_it`, so failures separated by a success never add
/// up.
#[test]
fn a_success_resets_the_retry_counter() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(1, ms(100), ms(1000))])], t0);
    let mut now = t0;
    run(&mut e, now, ms(1), Outcome::Up);
    for _ in 0..5 {
        now = e.next_due().unwrap();
        run(&mut e, now, ms(1), down("refused"));
        now = e.next_due().unwrap();
        run(&mut e, now, ms(1), Outcome::Up);
    }
    assert!(e.take_transitions().is_empty());
    assert!(health(&e, 1).up);
}

/// keepalived: a down checker is not retried; it is checked every delay_loop and one success
/// brings it up.
#[test]
fn a_down_checker_is_checked_every_delay_loop_and_one_success_brings_it_up() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(3, ms(100), ms(1000))])], t0);
    run(&mut e, t0, ms(1), down("refused"));
    let g = next_in_loop(&e, t0, ms(1000));
    for k in 0..3 {
        let now = e.next_due().unwrap();
        assert_eq!(now, g + ms(1000) * k);
        run(&mut e, now, ms(1), down("refused"));
    }
    assert_eq!(ups(&e.take_transitions()), vec![(false, None)]);
    let now = e.next_due().unwrap();
    run(&mut e, now, ms(1), Outcome::Up);
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(true, None)]);
    assert_eq!(t[0].0, 2);
    assert_eq!(t[0].1.reason, ALL_PASSED);
}

/// keepalived's alpha: the checker starts down (set_checker_state(false) at start) and its
/// first success brings it up. The IPVS writer counts the real server up unless the real
/// server (or its virtual server) has alpha: the first state is reported when it differs.
#[test]
fn alpha_starts_down_until_the_first_success() {
    let t0 = Instant::now();
    let alpha = with(tcp(1, ms(100), ms(1000)), |c| c.alpha = true);
    // Checker alpha, real server not: reported down when checking starts.
    let mut e = engine(vec![rs(1, vec![alpha.clone()])], t0);
    assert!(!health(&e, 1).up);
    assert!(health(&e, 1).reason.contains("not checked yet"));
    assert!(
        e.take_transitions().is_empty(),
        "nothing before checking starts"
    );
    let ids = due(&mut e, t0);
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    assert_eq!(t[0].0, 1);
    e.finished(ids[0], t0 + ms(3), Outcome::Up);
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(true, None)]);
    assert_eq!(t[0].0, 2);

    // Real server alpha too: the IPVS writer already counts it down.
    let mut plan = rs(1, vec![alpha.clone()]);
    plan.alpha = true;
    let mut e = engine(vec![plan], t0);
    let ids = due(&mut e, t0);
    assert!(e.take_transitions().is_empty());
    // A failure keeps it down (no retries before it ever succeeded).
    e.finished(ids[0], t0 + ms(3), down("refused"));
    assert!(e.take_transitions().is_empty());
    let g = next_in_loop(&e, t0, ms(1000));
    run(&mut e, g, ms(3), Outcome::Up);
    assert_eq!(ups(&e.take_transitions()), vec![(true, None)]);
}

/// keepalived: a real server without checkers is alive; with alpha the IPVS writer counts it
/// down, so it is reported up.
#[test]
fn a_real_server_without_checkers_is_up() {
    let t0 = Instant::now();
    let mut plan = rs(1, vec![]);
    plan.alpha = true;
    let mut e = engine(vec![plan, rs(2, vec![])], t0);
    assert_eq!(e.next_due(), None);
    assert!(e.take_transitions().is_empty(), "not started");
    e.start();
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(true, None)]);
    assert_eq!(t[0].1.real_server, id(1));
    assert!(health(&e, 2).up);
}

/// keepalived: a real server is alive when no checker has failed (num_failed_checkers).
#[test]
fn a_real_server_is_up_when_every_checker_is_up() {
    let t0 = Instant::now();
    let a = tcp(0, ms(100), ms(1000));
    let b = with(tcp(0, ms(100), ms(1000)), |c| c.kind = "HTTP_GET");
    let mut e = engine(vec![rs(1, vec![a, b])], t0);
    let ids = due(&mut e, t0);
    assert_eq!(ids.len(), 2);
    e.finished(ids[0], t0 + ms(1), Outcome::Up);
    e.finished(ids[1], t0 + ms(1), down("status 500"));
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    assert!(
        t[0].1.reason.starts_with("HTTP_GET #1"),
        "{}",
        t[0].1.reason
    );
    assert!(t[0].1.reason.ends_with("status 500"));
    // The first fails too: still down, reported because a checker changed (the counters
    // that resume() needs).
    let n = round(&mut e, t0 + ms(1000), ms(1000), |_, _| down("refused"));
    assert_eq!(n, 2);
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    // The second recovers: still down on the first.
    round(&mut e, t0 + ms(2000), ms(1000), |_, s| {
        if s.index == 0 {
            down("refused")
        } else {
            Outcome::Up
        }
    });
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    assert!(
        t[0].1.reason.starts_with("TCP_CHECK #0"),
        "{}",
        t[0].1.reason
    );
    round(&mut e, t0 + ms(3000), ms(1000), |_, _| Outcome::Up);
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(true, None)]);
    assert_eq!(t[0].1.reason, ALL_PASSED);
    assert_eq!(t[0].0, 4);
}

/// keepalived's register_checkers_thread: the first check waits random(0..warmup).
#[test]
fn warmup_delays_the_first_check_by_up_to_warmup() {
    let t0 = Instant::now();
    let warm = with(tcp(1, ms(100), ms(10_000)), |c| c.warmup = ms(2000));
    let plans = (0..100).map(|n| rs(n, vec![warm.clone()])).collect();
    let mut e = engine(plans, t0);
    let mut starts = Vec::new();
    while starts.len() < 100 {
        let now = e.next_due().unwrap();
        for id in due(&mut e, now) {
            starts.push(now - t0);
            e.finished(id, now + ms(1), Outcome::Up);
        }
    }
    assert!(starts.iter().all(|s| *s < ms(2000)), "{starts:?}");
    assert!(
        starts[0] < ms(100) && starts[99] > ms(1900),
        "spread over the warmup"
    );
    // warmup 0: every first check at once, the next ones spread over delay_loop.
    let plans = (0..10)
        .map(|n| rs(n, vec![tcp(1, ms(100), ms(1000))]))
        .collect();
    let mut e = engine(plans, t0);
    let ids = due(&mut e, t0);
    assert_eq!(ids.len(), 10);
    for id in ids {
        e.finished(id, t0 + ms(1), Outcome::Up);
    }
    let mut next = Vec::new();
    while let Some(at) = e.next_due() {
        assert!(at >= t0 + ms(1000), "not sooner than delay_loop");
        if at >= t0 + ms(2000) {
            break;
        }
        next.extend(
            due(&mut e, at)
                .iter()
                .map(|_| (at - t0 - ms(1000)).as_millis() / 100),
        );
    }
    assert_eq!(next.len(), 10);
    assert!(
        (0..10).all(|b| next.iter().filter(|x| **x == b).count() <= 2),
        "at most twice the average per 100 ms: {next:?}"
    );
}

/// Checks keep their phase: the next check is `delay_loop` after the previous start (not
/// after its end, as keepalived), a check that overran skips to the next slot, and after
/// retries the checker returns to its grid.
#[test]
fn checks_keep_their_phase() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(1, ms(250), ms(1000))])], t0);
    run(&mut e, t0, ms(300), Outcome::Up);
    let g = next_in_loop(&e, t0, ms(1000));
    run(&mut e, g, ms(300), Outcome::Up);
    assert_eq!(
        e.next_due(),
        Some(g + ms(1000)),
        "delay_loop after the previous start"
    );
    // Started late by the process: still on the grid.
    let ids = due(&mut e, g + ms(1050));
    e.finished(ids[0], g + ms(1200), Outcome::Up);
    assert_eq!(e.next_due(), Some(g + ms(2000)));
    // Overran delay_loop: the next free slot.
    run(&mut e, g + ms(2000), ms(1500), Outcome::Up);
    assert_eq!(e.next_due(), Some(g + ms(4000)));
    // A retry is off the grid, then back on it.
    let end = run(&mut e, g + ms(4000), ms(100), down("refused"));
    assert_eq!(e.next_due(), Some(end + ms(250)));
    run(&mut e, end + ms(250), ms(100), Outcome::Up);
    assert_eq!(
        e.next_due(),
        Some(g + ms(6000)),
        "delay_loop after the retry, on the grid"
    );
}

/// keepalived's HTTP epilog: a failed url is checked again after
/// max(delay_before_retry, delay_loop).
#[test]
fn a_down_http_checker_waits_the_longer_of_delay_before_retry_and_delay_loop() {
    let t0 = Instant::now();
    let http = with(tcp(0, ms(2500), ms(1000)), |c| {
        c.kind = "HTTP_GET";
        c.probe = Probe::Http(Box::new(HttpProbe {
            tls: false,
            protocol: HttpProtocol::Http10,
            sni: None,
            tls_compliant: false,
            fast_recovery: false,
            urls: vec![],
        }));
    });
    let mut e = engine(vec![rs(1, vec![http])], t0);
    run(&mut e, t0, ms(10), down("status 500"));
    let g = next_in_loop(&e, t0, ms(1000));
    run(&mut e, g, ms(10), down("status 500"));
    // At least 2.5 s after the failure, on the grid.
    assert_eq!(e.next_due(), Some(g + ms(3000)));
}

// ------------------------------------------------------------------------------------------
// MISC_CHECK and FILE_CHECK weights
// ------------------------------------------------------------------------------------------

fn misc(retry: u32) -> CheckSpec {
    with(tcp(retry, ms(100), ms(1000)), |c| {
        c.kind = "MISC_CHECK";
        c.target = None;
        c.probe = Probe::Misc { dynamic: true };
    })
}

/// keepalived's check_misc.c: with misc_dynamic, exit status 2..255 sets the weight to
/// status - 2 (the process passes Outcome::Weight(status - 2)); status 0 gives the
/// configured weight back; a failure that exhausts the retries drops the dynamic weight,
/// one that leaves retries keeps it.
#[test]
fn misc_dynamic_sets_the_weight() {
    let t0 = Instant::now();
    let mut plan = rs(1, vec![misc(1)]);
    plan.weight = 5;
    let mut e = engine(vec![plan], t0);
    let mut now = t0;
    let mut step = |e: &mut Engine, o: Outcome| {
        run(e, now, ms(1), o);
        now = e.next_due().unwrap();
        ups(&e.take_transitions())
    };
    assert_eq!(step(&mut e, Outcome::Weight(10)), vec![(true, Some(10))]);
    assert_eq!(step(&mut e, Outcome::Weight(10)), vec![]);
    assert_eq!(step(&mut e, Outcome::Weight(0)), vec![(true, Some(0))]);
    assert_eq!(step(&mut e, Outcome::Up), vec![(true, None)]);
    assert_eq!(step(&mut e, Outcome::Weight(20)), vec![(true, Some(20))]);
    assert_eq!(
        step(&mut e, down("exit 1")),
        vec![],
        "a retry keeps the weight"
    );
    assert_eq!(step(&mut e, down("exit 1")), vec![(false, None)]);
    assert_eq!(step(&mut e, Outcome::Weight(3)), vec![(true, Some(3))]);
    assert_eq!(health(&e, 1).weight, Some(3));
}

/// A MISC_CHECK's weight survives a reload that changes the configured weight (keepalived
/// keeps the effective weight of a kept real server), and a respawn (the counters).
#[test]
fn misc_weight_survives_reload_and_respawn() {
    let t0 = Instant::now();
    let mut plan = rs(1, vec![misc(0), tcp(0, ms(100), ms(1000))]);
    plan.weight = 5;
    let mut e = engine(vec![plan.clone()], t0);
    let ids = due(&mut e, t0);
    e.finished(ids[0], t0, Outcome::Weight(40));
    e.finished(ids[1], t0, Outcome::Up);
    let known = e.take_transitions().pop().unwrap().1;
    assert_eq!(known.weight, Some(40));
    plan.weight = 9;
    e.configure(vec![plan.clone()], t0 + ms(10));
    assert!(e.take_transitions().is_empty());
    assert_eq!(health(&e, 1).weight, Some(40));

    let mut again = engine(vec![plan], t0 + ms(20));
    again.resume(&[known]);
    again.start();
    assert!(again.take_transitions().is_empty());
    assert_eq!(health(&again, 1).weight, Some(40));
}

/// A real server planned twice is checked once.
#[test]
fn a_real_server_planned_twice_is_checked_once() {
    let t0 = Instant::now();
    let c = tcp(0, ms(100), ms(1000));
    let e = engine(vec![rs(1, vec![c.clone()]), rs(1, vec![c.clone(), c])], t0);
    assert_eq!(e.real_servers(), 1);
    assert_eq!(health(&e, 1).counters.len(), 1 + 5);
}

fn file(weight: i64, reverse: bool) -> CheckSpec {
    with(tcp(0, ms(100), ms(1000)), |c| {
        c.kind = "FILE_CHECK";
        c.target = None;
        c.probe = Probe::File { weight, reverse };
    })
}

/// keepalived's track_file.c: the file's number times the weight (negated with reverse) is
/// added to the configured weight; at i32::MIN the checker is down; with weight 0 a non-zero
/// number is down (reverse: zero is); a missing file reads 0. No timer, no alpha.
#[test]
fn file_check_follows_its_file() {
    let t0 = Instant::now();
    let mut a = rs(1, vec![file(2, false)]);
    a.weight = 10;
    a.checks[0].alpha = true; // ignored: the plan never sets it, the engine neither needs it
    let b = rs(2, vec![file(0, false)]);
    let c = rs(3, vec![file(0, true)]);
    let mut e = engine(vec![a, b, c], t0);
    assert_eq!(e.next_due(), None, "a FILE_CHECK is never scheduled");
    assert_eq!(e.pop_due(t0), None);
    assert!(
        e.take_transitions().is_empty(),
        "up until the file says otherwise"
    );
    let mut file = |n: u32, v: Option<i64>| {
        e.file_value(&id(n), 0, v);
        ups(&e.take_transitions())
    };
    assert_eq!(file(1, Some(3)), vec![(true, Some(16))]);
    assert_eq!(file(1, Some(-4)), vec![(true, Some(2))]);
    assert_eq!(file(1, Some(-6)), vec![(true, Some(0))], "clamped at 0");
    assert_eq!(file(1, Some(0)), vec![(true, None)]);
    assert_eq!(file(1, Some(i64::from(i32::MIN))), vec![(false, None)]);
    assert_eq!(file(1, None), vec![(true, None)], "missing reads 0");
    assert_eq!(file(2, Some(1)), vec![(false, None)]);
    assert_eq!(file(2, Some(0)), vec![(true, None)]);
    assert_eq!(file(3, Some(0)), vec![(false, None)]);
    assert!(
        health(&e, 3)
            .reason
            .starts_with("FILE_CHECK #0: the tracked file reads 0")
    );
    let mut file = |n: u32, v: Option<i64>| {
        e.file_value(&id(n), 0, v);
        ups(&e.take_transitions())
    };
    assert_eq!(file(3, Some(5)), vec![(true, None)]);
    assert_eq!(file(4, Some(5)), vec![], "not configured");
    assert_eq!(health(&e, 1).reason, ALL_PASSED);
}

// ------------------------------------------------------------------------------------------
// Logs
// ------------------------------------------------------------------------------------------

/// keepalived: with log_all_failures (or checker_log_all_failures) every failure of an up
/// checker is logged; otherwise only the one that brings it down.
#[test]
fn log_all_failures_logs_every_failure() {
    let t0 = Instant::now();
    for log_all in [false, true] {
        take_logs();
        let c = with(tcp(2, ms(100), ms(1000)), |c| c.log_all_failures = log_all);
        let mut e = engine(vec![rs(1, vec![c])], t0);
        run(&mut e, t0, ms(1), Outcome::Up);
        let mut now = e.next_due().unwrap();
        for _ in 0..3 {
            run(&mut e, now, ms(1), down("connection refused"));
            now = e.next_due().unwrap();
        }
        let logs = take_logs();
        let failures: Vec<&String> = logs
            .iter()
            .filter(|l| l.starts_with("TCP_CHECK") && l.contains("refused"))
            .collect();
        if log_all {
            assert_eq!(failures.len(), 3, "{logs:?}");
            assert!(failures[0].contains("retry 1/2"), "{logs:?}");
            assert!(failures[1].contains("retry 2/2"), "{logs:?}");
        } else {
            assert_eq!(failures.len(), 1, "{logs:?}");
        }
        assert!(
            failures.last().unwrap().contains("failed after 2 retries"),
            "{logs:?}"
        );
        assert!(logs.iter().any(|l| l.contains("is down")), "{logs:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Transitions, snapshot, resume
// ------------------------------------------------------------------------------------------

/// Transitions carry sequence numbers from 1 without gaps, only on change; the snapshot
/// names the last one.
#[test]
fn transitions_are_numbered_without_gaps_and_only_on_change() {
    let t0 = Instant::now();
    let plans = (0..20)
        .map(|n| rs(n, vec![tcp(0, ms(100), ms(1000))]))
        .collect();
    let mut e = engine(plans, t0);
    let mut all = Vec::new();
    for k in 0..10u32 {
        let n = round(&mut e, t0 + ms(1000) * k, ms(1000), |rid, _| {
            let IpAddr::V6(a) = rid.ip else { panic!() };
            let i = u32::from(a.segments()[7]);
            // Real server i flips every (i % 3 + 1) loops; 0 never fails.
            let fail = i > 0 && (k / (i % 3 + 1)) % 2 == 1;
            if fail { down("x") } else { Outcome::Up }
        });
        assert_eq!(n, 20, "each once per loop");
        all.extend(e.take_transitions());
    }
    assert!(!all.is_empty());
    let seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    // Each real server alternates: never the same state twice in a row.
    for n in 0..20 {
        let states: Vec<bool> = all
            .iter()
            .filter(|(_, h)| h.real_server == id(n))
            .map(|(_, h)| h.up)
            .collect();
        assert!(states.windows(2).all(|w| w[0] != w[1]), "{n}: {states:?}");
        assert!(states.first().is_none_or(|up| !up));
    }
    assert!(all.iter().all(|(_, h)| h.real_server != id(0)));
    let (seq, snap) = e.snapshot();
    assert_eq!(seq, all.len() as u64);
    assert_eq!(snap.len(), 20);
}

/// After a respawn the parent resumes the engine before checking starts: the counters
/// restore every checker (alpha is not run again, nothing flaps), and what the parent knows
/// is not reported again.
#[test]
fn resume_restores_the_checkers_so_that_nothing_flaps() {
    let t0 = Instant::now();
    let alpha = with(tcp(1, ms(100), ms(1000)), |c| c.alpha = true);
    let mut first = engine(vec![rs(1, vec![alpha.clone()])], t0);
    run(&mut first, t0, ms(1), Outcome::Up);
    let t = first.take_transitions();
    assert_eq!(ups(&t), vec![(false, None), (true, None)]);
    let known = t.last().unwrap().1.clone();

    // The respawned process: configure, resume, then check.
    let mut e = engine(vec![rs(1, vec![alpha])], t0 + ms(5000));
    e.resume(&[known]);
    assert!(health(&e, 1).up, "alpha is not run again");
    let now = e.next_due().unwrap();
    let ids = due(&mut e, now);
    assert!(e.take_transitions().is_empty(), "nothing to report");
    // Its first failure is a retry, as for a checker that has run.
    e.finished(ids[0], now + ms(1), down("refused"));
    assert!(e.take_transitions().is_empty());
    assert_eq!(e.snapshot().0, 0);
}

/// The counters say which checker failed: after a respawn, a real server down on one checker
/// stays down when another recovers.
#[test]
fn resume_remembers_which_checker_failed() {
    let t0 = Instant::now();
    let two = || {
        rs(
            1,
            vec![tcp(0, ms(100), ms(1000)), tcp(0, ms(100), ms(1000))],
        )
    };
    let mut first = engine(vec![two()], t0);
    let ids = due(&mut first, t0);
    first.finished(ids[0], t0, down("a"));
    first.finished(ids[1], t0, Outcome::Up);
    let now = t0 + ms(1000);
    round(&mut first, now, ms(1000), |_, s| {
        if s.index == 0 { Outcome::Up } else { down("b") }
    });
    let known = first.take_transitions().last().unwrap().1.clone();
    assert!(!known.up);

    let mut e = engine(vec![two()], now);
    e.resume(&[known]);
    let next = e.next_due().unwrap();
    let ids = due(&mut e, next);
    // The checker that was up before the respawn, and failing, has not recovered.
    let (a, b) = if e.spec(ids[0]).unwrap().1.index == 0 {
        (ids[0], ids[1])
    } else {
        (ids[1], ids[0])
    };
    e.finished(a, now + ms(1), Outcome::Up);
    assert!(e.take_transitions().is_empty(), "still down on the second");
    e.finished(b, now + ms(2), Outcome::Up);
    assert_eq!(ups(&e.take_transitions()), vec![(true, None)]);
}

/// A resumed health without counters: every checker takes the real server's state.
#[test]
fn resume_without_counters_uses_the_real_servers_state() {
    let t0 = Instant::now();
    let alpha = with(tcp(1, ms(100), ms(1000)), |c| c.alpha = true);
    let mut e = engine(
        vec![rs(1, vec![alpha]), rs(2, vec![tcp(1, ms(100), ms(1000))])],
        t0,
    );
    let h = |n, up| Health {
        real_server: id(n),
        up,
        weight: None,
        reason: String::new(),
        counters: vec![],
    };
    e.resume(&[h(1, true), h(2, false), h(3, true)]);
    assert!(health(&e, 1).up && !health(&e, 2).up);
    assert!(due(&mut e, t0).len() == 2);
    assert!(e.take_transitions().is_empty());
}

// ------------------------------------------------------------------------------------------
// Reload
// ------------------------------------------------------------------------------------------

/// configure() on reload: unchanged checkers keep state, phase and id; a changed checker is
/// new (its old id is ignored); removed real servers vanish; new ones start after warmup.
#[test]
fn reload_keeps_unchanged_checkers() {
    let t0 = Instant::now();
    let c = tcp(1, ms(100), ms(1000));
    let mut e = engine(
        vec![
            rs(1, vec![c.clone()]),
            rs(2, vec![c.clone()]),
            rs(3, vec![c.clone()]),
        ],
        t0,
    );
    let ids = due(&mut e, t0);
    e.finished(ids[0], t0 + ms(10), down("refused")); // 1 down
    e.finished(ids[1], t0 + ms(10), Outcome::Up);
    // 3's check is still running across the reload.
    assert_eq!(ups(&e.take_transitions()), vec![(false, None)]);
    let due1 = e.due_at(ids[0]).unwrap();

    let changed = with(c.clone(), |c| c.retry = 2);
    let warm = with(c.clone(), |c| c.warmup = ms(500));
    let now = t0 + ms(300);
    e.configure(
        vec![
            rs(1, vec![c.clone()]),
            rs(2, vec![changed]),
            rs(3, vec![c.clone()]),
            rs(4, vec![warm]),
        ],
        now,
    );
    assert!(
        e.take_transitions().is_empty(),
        "nothing changed for the parent"
    );
    assert!(!health(&e, 1).up, "state kept");
    assert_eq!(e.spec(ids[0]).unwrap().0, &id(1), "unchanged: same id");
    assert_eq!(e.due_at(ids[0]), Some(due1), "and the same phase");
    assert!(e.spec(ids[1]).is_none(), "changed: the old id is stale");
    assert_eq!(e.spec(ids[2]).unwrap().0, &id(3));
    e.finished(ids[1], now, down("stale"));
    e.finished(ids[2], now, Outcome::Up); // still accepted
    assert!(e.take_transitions().is_empty());
    assert!(e.due_at(ids[2]).unwrap() >= t0 + ms(1000));
    // 2's new checker starts now (warmup 0), 4's within its warmup.
    let ids = due(&mut e, now);
    assert_eq!(ids.len(), 1);
    assert_eq!(e.spec(ids[0]).unwrap().0, &id(2));
    e.finished(ids[0], now, Outcome::Up);
    let next = e.next_due().unwrap();
    assert!(next >= now && next < now + ms(500), "4 after its warmup");
    let ids = due(&mut e, next);
    assert_eq!(e.spec(ids[0]).unwrap().0, &id(4));
    e.finished(ids[0], next, Outcome::Up);
    let mut ran = std::collections::BTreeSet::new();
    round(&mut e, t0 + ms(1000), ms(1300), |rid, _| {
        ran.insert(rid.clone());
        Outcome::Up
    });
    assert_eq!(
        ran.into_iter().collect::<Vec<_>>(),
        vec![id(1), id(2), id(3), id(4)]
    );
    assert_eq!(ups(&e.take_transitions()), vec![(true, None)], "1 recovers");

    // Removing real servers.
    e.configure(vec![rs(4, vec![c.clone()])], t0 + ms(2100));
    let (_, snap) = e.snapshot();
    assert_eq!(
        snap.iter()
            .map(|h| h.real_server.clone())
            .collect::<Vec<_>>(),
        vec![id(4)]
    );
    assert_eq!(e.real_servers(), 1);
}

/// keepalived's migrate_checkers: a new checker of a real server with a failed checker
/// starts down if alpha (one failure is enough); in a healthy real server it starts up.
#[test]
fn a_new_checker_of_a_kept_real_server_follows_migrate_checkers() {
    let t0 = Instant::now();
    let c = tcp(1, ms(100), ms(1000));
    let alpha = with(tcp(1, ms(100), ms(2000)), |c| c.alpha = true);
    let mut e = engine(vec![rs(1, vec![c.clone()]), rs(2, vec![c.clone()])], t0);
    let ids = due(&mut e, t0);
    e.finished(ids[0], t0, down("refused"));
    e.finished(ids[1], t0, Outcome::Up);
    e.take_transitions();
    e.configure(
        vec![
            rs(1, vec![c.clone(), alpha.clone()]),
            rs(2, vec![c.clone(), alpha.clone()]),
        ],
        t0 + ms(100),
    );
    assert!(e.take_transitions().is_empty());
    assert!(!health(&e, 1).up);
    assert!(
        health(&e, 2).up,
        "a healthy real server does not go down for a new checker"
    );
    // 2's new alpha checker is up with its retries: one failure does not bring it down.
    let ids = due(&mut e, t0 + ms(100));
    for id in ids {
        e.finished(id, t0 + ms(101), down("refused"));
    }
    assert!(e.take_transitions().is_empty());
    assert!(health(&e, 2).up);
}

// ------------------------------------------------------------------------------------------
// Ids, ports, heap
// ------------------------------------------------------------------------------------------

/// finished() ignores ids it did not hand out, or twice.
#[test]
fn stale_and_duplicate_outcomes_are_ignored() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(0, ms(100), ms(1000))])], t0);
    let ids = due(&mut e, t0);
    e.finished(ids[0], t0, Outcome::Up);
    e.finished(ids[0], t0, down("twice"));
    assert!(health(&e, 1).up);
    next_in_loop(&e, t0, ms(1000));
    assert_eq!(e.check_id(&id(1), 0), Some(ids[0]));
    assert_eq!(e.check_id(&id(1), 1), None);
    e.configure(vec![], t0);
    e.finished(ids[0], t0, down("gone"));
    assert!(e.spec(ids[0]).is_none());
    assert_eq!(e.next_due(), None);
}

/// A check that needs a port and has none (a port-less real server of a fwmark service
/// without connect_port; keepalived connects to port 0) fails without being run.
#[test]
fn a_check_without_a_port_fails_without_being_run() {
    let t0 = Instant::now();
    let portless = with(tcp(1, ms(100), ms(1000)), |c| {
        c.target.as_mut().unwrap().connect.set_port(0)
    });
    let ping = with(portless.clone(), |c| {
        c.kind = "PING_CHECK";
        c.probe = Probe::Ping;
    });
    let mut e = engine(vec![rs(1, vec![portless]), rs(2, vec![ping])], t0);
    let ids = due(&mut e, t0);
    assert_eq!(ids.len(), 1);
    assert_eq!(e.spec(ids[0]).unwrap().0, &id(2));
    let t = e.take_transitions();
    assert_eq!(ups(&t), vec![(false, None)]);
    assert!(t[0].1.reason.ends_with(NO_PORT));
    next_in_loop(&e, t0, ms(1000));
}

/// next_due is exact after a reload removes the earliest checks.
#[test]
fn next_due_is_exact_after_removals() {
    let t0 = Instant::now();
    let plans: Vec<_> = (0..1000)
        .map(|n| {
            rs(
                n,
                vec![with(tcp(1, ms(100), ms(1000)), |c| c.warmup = ms(1000))],
            )
        })
        .collect();
    let mut e = engine(plans.clone(), t0);
    let mut dues: Vec<(Instant, u32)> = Vec::new();
    // Find each real server's first due time by popping everything.
    let mut probe = engine(plans.clone(), t0);
    while let Some(at) = probe.next_due() {
        for cid in due(&mut probe, at) {
            let n = probe.spec(cid).unwrap().0.ip;
            let IpAddr::V6(a) = n else { panic!() };
            dues.push((at, u32::from(a.segments()[7])));
        }
        if dues.len() == 1000 {
            break;
        }
    }
    dues.sort();
    // Keep only the later half.
    let keep: Vec<u32> = dues[500..].iter().map(|(_, n)| *n).collect();
    e.configure(
        plans
            .into_iter()
            .filter(|p| keep.iter().any(|n| p.id == id(*n)))
            .collect(),
        t0,
    );
    assert_eq!(e.next_due(), Some(dues[500].0));
}

/// keepalived-like dump.
#[test]
fn dump_lists_every_checker() {
    let t0 = Instant::now();
    let mut e = engine(vec![rs(1, vec![tcp(2, ms(100), ms(1000)), misc(0)])], t0);
    run_all(&mut e, t0);
    let d = e.dump();
    assert!(d.starts_with("------< Health checkers >------\n"), "{d}");
    for line in [
        "Real server [2001:db8:0:1::1]:80 of VS [2001:db8::1]:80/tcp: up, all checks passed",
        "  TCP_CHECK #0",
        "   Up = yes",
        "   Has run = yes",
        "   Delay loop = 1000000 us",
        "   Retries = 2",
        "   Delay before retry = 100000 us",
        "     Dest = [2001:db8::10]:80",
        "     Timeout = 5.000000",
        "  MISC_CHECK #1",
        "   Dynamic = yes",
        "   Next check in = 1.",
    ] {
        assert!(d.contains(line), "{line:?} in\n{d}");
    }
}

fn run_all(e: &mut Engine, now: Instant) {
    for id in due(e, now) {
        e.finished(id, now, Outcome::Up);
    }
}

// ------------------------------------------------------------------------------------------
// Spreading
// ------------------------------------------------------------------------------------------

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The most starts in any window [s, s + 100 ms) that begins at a start, over `starts`.
fn busiest_window(starts: &[Duration]) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..starts.len() {
        while j < starts.len() && starts[j] < starts[i] + ms(100) {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

/// Simulates `N` real servers with one TCP_CHECK each (delay_loop 1 s, retry 1 after 1 s)
/// for `secs` seconds, outcomes fed back: 5% always fail, 5% answer slowly (0.5 to 1.5 s,
/// overrunning delay_loop sometimes), 5% flap, and between 3 s and 4 s every check times
/// out after 1.2 s (an outage of the whole farm). Returns the start times.
fn simulate(n_servers: u32, warmup: Duration, secs: u64) -> Vec<Duration> {
    let t0 = Instant::now();
    let c = with(tcp(1, ms(1000), ms(1000)), |c| c.warmup = warmup);
    let plans = (0..n_servers).map(|n| rs(n, vec![c.clone()])).collect();
    let mut e = Engine::new(42);
    e.configure(plans, t0);
    let end = t0 + Duration::from_secs(secs);
    // Completions: (when, index in ids, outcome).
    let mut running: BinaryHeap<Reverse<(Instant, u64, bool)>> = BinaryHeap::new();
    let mut ids: Vec<CheckId> = Vec::new();
    let mut starts: Vec<Duration> = Vec::new();
    loop {
        let next_done = running.peek().map(|Reverse((t, ..))| *t);
        let now = match (e.next_due(), next_done) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap(),
        };
        if now >= end {
            break;
        }
        while let Some(Reverse((t, i, ok))) = running.peek().copied() {
            if t > now {
                break;
            }
            running.pop();
            e.finished(
                ids[i as usize],
                t,
                if ok { Outcome::Up } else { down("refused") },
            );
        }
        while let Some(cid) = e.pop_due(now) {
            let at = now - t0;
            starts.push(at);
            let n = match e.spec(cid).unwrap().0.ip {
                IpAddr::V6(a) => (u32::from(a.segments()[6]) << 16) | u32::from(a.segments()[7]),
                IpAddr::V4(_) => unreachable!(),
            };
            let r = mix(u64::from(n) ^ ((ids.len() as u64) << 32));
            let outage = at >= ms(3000) && at < ms(4000);
            let took = match n % 20 {
                _ if outage => ms(1200),
                1 => ms(500 + r % 1000),
                _ => ms(1 + r % 50),
            };
            let ok = match n % 20 {
                _ if outage => false,
                0 => false,
                2 => r % 2 == 0,
                _ => true,
            };
            running.push(Reverse((now + took, ids.len() as u64, ok)));
            ids.push(cid);
        }
        e.take_transitions();
    }
    starts
}

/// The starts in [from, to), the busiest 100 ms window among them, and the average per
/// 100 ms window.
fn busiest(starts: &[Duration], from: Duration, to: Duration) -> (usize, usize, f64) {
    let s: Vec<Duration> = starts
        .iter()
        .copied()
        .filter(|s| *s >= from && *s < to)
        .collect();
    let windows = (to - from).as_millis() as f64 / 100.0;
    (s.len(), busiest_window(&s), s.len() as f64 / windows)
}

/// With 10,000 real servers at delay_loop 1 (keepalived's default warmup: one delay_loop)
/// no 100 ms window starts more than twice the average number of checks, at start and in
/// steady state, with outcomes fed back (quick and slow answers, checks that overrun
/// delay_loop, servers that fail and retry, servers that flap, an outage of every server).
#[test]
fn ten_thousand_real_servers_start_their_checks_evenly() {
    const N: u32 = 10_000;
    let starts = simulate(N, ms(1000), 8);
    let (n1, b1, avg1) = busiest(&starts, ms(0), ms(1000));
    assert_eq!(n1, N as usize, "each real server once in the first second");
    assert!(
        b1 as f64 <= 2.0 * avg1,
        "start: {b1} in 100 ms, average {avg1}"
    );
    let (n2, b2, avg2) = busiest(&starts, ms(1000), ms(8000));
    assert!(n2 > 5 * N as usize, "every loop ran: {n2}");
    assert!(
        b2 as f64 <= 2.0 * avg2,
        "steady: {b2} in 100 ms, average {avg2}"
    );
    eprintln!("busiest 100 ms: {b1} at start (average {avg1}), {b2} after (average {avg2})");
}

/// With `warmup 0` the first checks all start at once (keepalived's), and the following
/// ones are spread all the same.
#[test]
fn with_warmup_0_the_checks_after_the_first_are_spread() {
    const N: u32 = 10_000;
    let starts = simulate(N, Duration::ZERO, 6);
    assert_eq!(starts.iter().filter(|s| s.is_zero()).count(), N as usize);
    let (n, b, avg) = busiest(&starts, ms(1000), ms(6000));
    assert!(n > 3 * N as usize, "every loop ran: {n}");
    assert!(
        b as f64 <= 2.0 * avg,
        "steady: {b} in 100 ms, average {avg}"
    );
}
