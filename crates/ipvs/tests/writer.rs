//! The reconciler against an in-memory kernel that behaves as IPVS does (the same
//! `diff::apply` rules: EEXIST, ESRCH, a deleted service takes its destinations), counting
//! every write: adoption, minimal repair, reloads, health, retries, stop and sync daemons.
//! The real kernel runs the same writer in the VM tests.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use keepalived_config::project::ipvs_objects;
use keepalived_config::{LoadOptions, load_str};
use keepalived_ipvs::desired::{Health, Projection, RealServerId};
use keepalived_ipvs::diff;
use keepalived_ipvs::model::{
    Daemon, DaemonState, DestAttrs, DestKey, Forward, Op, Protocol, ServiceAttrs, ServiceKey,
    Table, TableService, Timeouts,
};
use keepalived_ipvs::writer::{Kernel, KernelFailure, Outcome, Writer};

#[derive(Debug, Default)]
struct MemKernel {
    table: Table,
    daemons: Vec<Daemon>,
    timeouts: Option<Timeouts>,
    ops: Vec<Op>,
    flushes: usize,
    /// Failures to give to the next apply() calls.
    fail_next: VecDeque<KernelFailure>,
    /// The size of each apply_batch() call.
    batches: Vec<usize>,
}

impl Kernel for MemKernel {
    fn dump(&mut self) -> Result<Table, KernelFailure> {
        Ok(self.table.clone())
    }
    fn apply(&mut self, op: &Op) -> Result<(), KernelFailure> {
        self.ops.push(op.clone());
        if let Some(f) = self.fail_next.pop_front() {
            return Err(f);
        }
        diff::apply(&mut self.table, op).map_err(|e| KernelFailure {
            errno: None,
            reason: e.to_string(),
        })
    }
    fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), KernelFailure>> {
        self.batches.push(ops.len());
        ops.iter().map(|op| self.apply(op)).collect()
    }
    fn flush(&mut self) -> Result<(), KernelFailure> {
        self.flushes += 1;
        self.table = Table::default();
        Ok(())
    }
    fn daemons(&mut self) -> Result<Vec<Daemon>, KernelFailure> {
        Ok(self.daemons.clone())
    }
    fn new_daemon(&mut self, d: &Daemon) -> Result<(), KernelFailure> {
        if self.daemons.iter().any(|x| x.state == d.state) {
            return Err(KernelFailure {
                errno: Some(17),
                reason: "File exists".into(),
            });
        }
        self.daemons.push(d.clone());
        Ok(())
    }
    fn del_daemon(&mut self, state: DaemonState) -> Result<(), KernelFailure> {
        self.daemons.retain(|d| d.state != state);
        Ok(())
    }
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), KernelFailure> {
        self.timeouts = Some(*t);
        Ok(())
    }
}

const CONF: &str = "virtual_server 192.0.2.1 80 {\n lvs_sched rr\n protocol TCP\n \
    real_server 198.51.100.1 80 {\n  weight 2\n }\n real_server 198.51.100.2 80 {\n }\n}\n\
    virtual_server 192.0.2.2 53 {\n protocol UDP\n real_server 198.51.100.3 53 {\n }\n}\n";

fn projection(text: &str) -> Projection {
    let l = load_str("test.conf", text, &LoadOptions::default());
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    Projection::from_objects(ipvs_objects(&l.config))
}

fn writer(kernel: MemKernel, text: &str) -> Writer<MemKernel> {
    let mut w = Writer::new(kernel);
    w.projection = projection(text);
    w
}

fn tcp80() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    }
}

fn dk(a: &str, port: u16) -> DestKey {
    DestKey {
        addr: a.parse().unwrap(),
        port,
    }
}

fn writes(w: &mut Writer<MemKernel>) -> Vec<Op> {
    std::mem::take(&mut w.kernel().ops)
}

fn started(text: &str) -> (Writer<MemKernel>, Instant) {
    let now = Instant::now();
    let mut w = writer(MemKernel::default(), text);
    let out = w.start(now);
    assert!(
        out.iter().all(|o| !matches!(o, Outcome::Failed { .. })),
        "{out:?}"
    );
    (w, now)
}

#[test]
fn an_empty_kernel_gets_one_operation_per_entry_and_a_second_pass_writes_nothing() {
    let (mut w, now) = started(CONF);
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 5, "2 services + 3 real servers: {ops:?}");
    assert!(matches!(ops[0], Op::NewService(_)));
    let dumps = w.counters.dumps;
    w.reconcile(now);
    assert!(writes(&mut w).is_empty());
    assert_eq!(w.counters.dumps, dumps, "the copy is kept: no dump either");
}

#[test]
fn a_restarted_writer_adopts_the_table_without_a_single_write() {
    let (mut w, now) = started(CONF);
    let kernel = std::mem::take(w.kernel());
    // kill -9: the table stays; a new writer starts over the same kernel.
    let mut w2 = writer(kernel, CONF);
    w2.kernel().ops.clear();
    w2.start(now);
    assert!(writes(&mut w2).is_empty(), "nothing changed: zero writes");
    assert_eq!(w2.managed().len(), 2);
}

#[test]
fn a_hand_change_while_the_writer_was_down_costs_exactly_its_repair() {
    let (mut w, now) = started(CONF);
    let mut kernel = std::mem::take(w.kernel());
    // ipvsadm -e (weight 7) on one, ipvsadm -d on another.
    let svc = kernel.table.services.get_mut(&tcp80()).unwrap();
    svc.dests.get_mut(&dk("198.51.100.1", 80)).unwrap().weight = 7;
    svc.dests.remove(&dk("198.51.100.2", 80));
    kernel.ops.clear();
    let mut w2 = writer(kernel, CONF);
    w2.start(now);
    let ops = writes(&mut w2);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(matches!(&ops[0], Op::NewDest(_, d) if d.key == dk("198.51.100.2", 80)));
    assert!(matches!(&ops[1], Op::SetDest(_, d) if d.attrs.weight == 2));
}

#[test]
fn foreign_services_are_never_touched_and_lvs_flush_clears_them() {
    let mut kernel = MemKernel::default();
    let foreign = ServiceKey::Fwmark {
        family: keepalived_ipvs::model::Family::Inet,
        mark: 99,
    };
    kernel.table.services.insert(
        foreign,
        TableService {
            attrs: ServiceAttrs {
                scheduler: "wlc".into(),
                flags: 0,
                timeout: 0,
                netmask: 0xffff_ffff,
                pe_name: None,
            },
            dests: Default::default(),
        },
    );
    let now = Instant::now();
    let mut w = writer(kernel, CONF);
    w.start(now);
    assert!(w.kernel().table.services.contains_key(&foreign));
    w.stop(true);
    assert!(
        w.kernel().table.services.contains_key(&foreign),
        "stop removes only ours"
    );
    assert_eq!(w.kernel().table.services.len(), 1);
    // lvs_flush: the whole table goes at start.
    let kernel = std::mem::take(w.kernel());
    let mut w = writer(kernel, &format!("global_defs {{\n lvs_flush\n}}\n{CONF}"));
    w.start(now);
    assert_eq!(w.kernel().flushes, 1);
    assert!(!w.kernel().table.services.contains_key(&foreign));
}

#[test]
fn a_reload_with_one_weight_changed_is_one_operation_and_a_removed_service_one_more() {
    let (mut w, now) = started(CONF);
    writes(&mut w);
    w.projection = projection(&CONF.replace("weight 2", "weight 5"));
    w.reconcile(now);
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(matches!(&ops[0], Op::SetDest(k, d) if *k == tcp80() && d.attrs.weight == 5));
    // The UDP virtual server removed from the configuration: one DEL_SERVICE.
    let only_tcp = CONF.split("virtual_server 192.0.2.2").next().unwrap();
    w.projection = projection(&only_tcp.replace("weight 2", "weight 5"));
    w.reconcile(now);
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(matches!(
        &ops[0],
        Op::DelService(ServiceKey::Addr { port: 53, .. })
    ));
}

#[test]
fn health_transitions_remove_and_restore_a_real_server_and_report_quorum() {
    let conf = CONF.replace(" lvs_sched rr\n", " lvs_sched rr\n quorum 3\n");
    let (mut w, now) = started(&conf);
    writes(&mut w);
    let id = RealServerId {
        virtual_server: w.projection.virtual_servers.keys().next().unwrap().clone(),
        ip: "198.51.100.1".parse::<IpAddr>().unwrap(),
        port: 80,
    };
    w.health.insert(
        id.clone(),
        Health {
            up: false,
            weight: None,
        },
    );
    let out = w.reconcile(now);
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(matches!(&ops[0], Op::DelDest(_, d) if *d == dk("198.51.100.1", 80)));
    assert!(
        out.iter().any(|o| matches!(o, Outcome::Quorum(q) if !q.up)),
        "live weight 1 < quorum 3: {out:?}"
    );
    w.health.insert(
        id,
        Health {
            up: true,
            weight: None,
        },
    );
    let out = w.reconcile(now);
    assert_eq!(writes(&mut w).len(), 1);
    assert!(out.iter().any(|o| matches!(o, Outcome::Quorum(q) if q.up)));
}

#[test]
fn a_refused_operation_is_reported_once_retried_with_back_off_and_then_repaired() {
    let enoent = || KernelFailure {
        errno: Some(2),
        reason: "No such file or directory (ENOENT)".into(),
    };
    let mut kernel = MemKernel::default();
    kernel.fail_next.push_back(enoent());
    let now = Instant::now();
    let mut w = writer(kernel, CONF);
    let out = w.start(now);
    let failed: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "{out:?}");
    assert!(
        matches!(failed[0], Outcome::Failed { op, error } if op.starts_with("add service") && error.contains("ENOENT"))
    );
    assert_eq!(w.retry_at(), Some(now + Duration::from_secs(1)));
    assert_eq!(
        w.kernel().table.entries(),
        2,
        "the UDP service went in; the TCP service's real servers were not tried"
    );
    // The retry fails the same way: not reported again, the back-off doubles.
    w.kernel().fail_next.push_back(enoent());
    let out = w.reconcile(now + Duration::from_secs(1));
    assert!(
        out.iter().all(|o| !matches!(o, Outcome::Failed { .. })),
        "{out:?}"
    );
    assert_eq!(w.retry_at(), Some(now + Duration::from_secs(3)));
    w.reconcile(now + Duration::from_secs(3));
    assert_eq!(w.retry_at(), None);
    assert_eq!(w.kernel().table.entries(), 5);
    assert_eq!(w.counters.failures, 2);
}

#[test]
fn stop_releases_with_one_delete_per_service_or_nothing_with_dont_release() {
    let (mut w, _) = started(CONF);
    writes(&mut w);
    w.stop(false);
    assert!(writes(&mut w).is_empty(), "-I: the table stays");
    assert_eq!(w.kernel().table.entries(), 5);
    let (mut w, _) = started(CONF);
    writes(&mut w);
    w.stop(true);
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops.iter().all(|o| matches!(o, Op::DelService(_))));
    assert_eq!(w.kernel().table.entries(), 0);
    let (mut w, _) = started(&format!("global_defs {{\n lvs_flush_on_stop\n}}\n{CONF}"));
    w.stop(true);
    assert_eq!(w.kernel().flushes, 1);
}

#[test]
fn the_sync_daemon_follows_its_vrrp_instance_and_timeouts_are_set_once() {
    let conf = format!(
        "global_defs {{\n lvs_sync_daemon eth0 VI_1 maxlen 1400\n lvs_timeouts tcp 900 udp 30\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n  192.0.2.1/24\n }}\n}}\n{CONF}"
    );
    let (mut w, now) = started(&conf);
    assert_eq!(
        w.kernel().timeouts,
        Some(Timeouts {
            tcp: 900,
            tcp_fin: 0,
            udp: 30
        })
    );
    let states = |w: &mut Writer<MemKernel>| -> Vec<DaemonState> {
        w.kernel().daemons.iter().map(|d| d.state).collect()
    };
    assert_eq!(states(&mut w), vec![DaemonState::Backup], "not master yet");
    w.set_sync_state(true, Some(51), now);
    assert_eq!(states(&mut w), vec![DaemonState::Master]);
    let d = w.kernel().daemons[0].clone();
    assert_eq!(
        (d.mcast_ifn.as_str(), d.sync_id, d.sync_maxlen),
        ("eth0", 51, 1400)
    );
    w.set_sync_state(false, Some(51), now);
    assert_eq!(states(&mut w), vec![DaemonState::Backup]);
    w.kernel().timeouts = None;
    w.reconcile(now);
    assert_eq!(
        w.kernel().timeouts,
        None,
        "set once, not at every reconcile"
    );
    w.stop(false);
    assert!(
        states(&mut w).is_empty(),
        "a stop ends the daemons it started"
    );
}

#[test]
fn a_dest_attribute_is_written_as_the_kernel_keeps_it() {
    // Tunnelled real servers with thresholds: what a SET would write equals what a dump
    // returns, so a second start adopts them.
    let conf = "virtual_server 192.0.2.5 443 {\n protocol TCP\n lvs_method TUN type gue port 6080 csum\n \
                real_server 203.0.113.9 443 {\n  uthreshold 100\n  lthreshold 10\n }\n}\n";
    let (mut w, now) = started(conf);
    let ops = writes(&mut w);
    let Op::NewDest(_, d) = &ops[1] else {
        panic!("{ops:?}")
    };
    assert!(matches!(d.attrs.forward, Forward::Tunnel(_)));
    assert_eq!(
        (d.attrs.u_thresh, d.attrs.l_thresh),
        (100, 10),
        "{:?}",
        DestAttrs { ..d.attrs }
    );
    let kernel = std::mem::take(w.kernel());
    let mut w2 = writer(kernel, conf);
    w2.kernel().ops.clear();
    w2.start(now);
    assert!(writes(&mut w2).is_empty());
}

#[test]
fn batches_end_at_each_new_service() {
    let (mut w, _) = started(CONF);
    // TCP 80 (then its two real servers and UDP 53), then UDP 53's real server.
    assert_eq!(w.kernel().batches, vec![1, 3, 1]);
    assert_eq!(writes(&mut w).len(), 5);
}

#[test]
fn a_step_limit_splits_a_reconcile_into_steps_that_write_the_same_operations() {
    let (mut unlimited, now) = started(CONF);
    let all = writes(&mut unlimited);
    let mut w = writer(MemKernel::default(), CONF);
    w.step_limit = Some(2);
    w.start(now);
    assert!(w.unfinished());
    assert_eq!(w.kernel().ops.len(), 2);
    // Both services are ours from the first step on (a stop now removes them).
    assert_eq!(w.managed().len(), 2);
    w.resume(now);
    assert_eq!(w.kernel().ops.len(), 4);
    assert!(w.unfinished());
    w.resume(now);
    assert!(!w.unfinished());
    assert_eq!(writes(&mut w), all);
    assert_eq!(w.counters.dumps, 1, "one dump for all the steps");
    assert_eq!(w.kernel().table, unlimited.kernel().table);
    assert!(w.resume(now).is_empty() && writes(&mut w).is_empty());
    w.reconcile(now);
    assert!(writes(&mut w).is_empty(), "the second pass writes nothing");
}

#[test]
fn a_reconcile_between_steps_plans_again_from_where_the_writes_got() {
    let now = Instant::now();
    let mut w = writer(MemKernel::default(), CONF);
    w.step_limit = Some(2);
    w.start(now);
    // Written: TCP 80 and 198.51.100.1. A reload changes the weight of 198.51.100.2,
    // not written yet: it goes in with its new weight, no extra operation, no dump.
    let reloaded = CONF.replace(
        "real_server 198.51.100.2 80 {\n }",
        "real_server 198.51.100.2 80 {\n  weight 5\n }",
    );
    assert_ne!(reloaded, CONF);
    w.projection = projection(&reloaded);
    w.reconcile(now);
    while w.unfinished() {
        w.resume(now);
    }
    assert_eq!(writes(&mut w).len(), 5);
    assert_eq!(w.counters.dumps, 1);
    let t = &w.kernel().table.services[&tcp80()];
    assert_eq!(t.dests[&dk("198.51.100.2", 80)].weight, 5);
    assert_eq!(w.kernel().table.entries(), 5);
}

#[test]
fn a_stop_between_steps_removes_every_service_the_reconcile_had_made_ours() {
    let now = Instant::now();
    let mut w = writer(MemKernel::default(), CONF);
    w.step_limit = Some(1);
    w.start(now);
    assert!(w.unfinished());
    writes(&mut w);
    w.stop(true);
    assert!(!w.unfinished());
    // One DEL_SERVICE per managed service; the one not created yet fails harmlessly.
    let ops = writes(&mut w);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops.iter().all(|o| matches!(o, Op::DelService(_))));
    assert_eq!(w.kernel().table.entries(), 0);
}
