//! Properties of `diff` and `apply`.
//!
//! The rule for counting (what "minimal" means here): an entry is a service or a
//! destination. For each service of `desired`: missing from `actual` counts 1 plus one per
//! desired destination; present in `actual` counts 1 when its attributes differ (the bits
//! only the kernel sets left out) plus one per destination missing, extra, or with other
//! attributes. A service of `actual` that `desired` lacks counts 1 when managed (its
//! destinations go with it) and 0 when foreign. `diff` must return exactly that many
//! operations.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS brief)

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepalived_ipvs::diff::{ApplyError, apply, diff};
use keepalived_ipvs::model::{
    Dest, DestAttrs, DestKey, Family, Forward, Op, Protocol, Service, ServiceAttrs, ServiceKey,
    Table, TableService, Tunnel, TunnelType, service_flags,
};
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------
// Strategies: small domains, so that the two tables share most keys.
// ------------------------------------------------------------------------------------------

fn service_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp)],
            prop_oneof![
                (1u8..4).prop_map(|n| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))),
                (1u16..3).prop_map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))),
            ],
            prop_oneof![Just(80u16), Just(443u16)],
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                protocol,
                addr,
                port
            }),
        (
            prop_oneof![Just(Family::Inet), Just(Family::Inet6)],
            1u32..3
        )
            .prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ]
}

/// `kernel`: the attributes may carry the bits only the kernel sets (as a dump does).
fn service_attrs(kernel: bool) -> impl Strategy<Value = ServiceAttrs> {
    (
        prop_oneof![Just("wlc"), Just("rr")],
        prop_oneof![
            Just(0),
            Just(service_flags::PERSISTENT),
            Just(service_flags::SCHED1)
        ],
        any::<bool>(),
        prop_oneof![Just(0u32), Just(360u32)],
        prop_oneof![Just(0xffff_ffffu32), Just(0xffff_ff00u32)],
        prop_oneof![
            Just(None),
            Just(Some("sip".to_string())),
            Just(Some(String::new()))
        ],
    )
        .prop_map(
            move |(s, flags, hashed, timeout, netmask, pe)| ServiceAttrs {
                scheduler: s.to_string(),
                flags: flags
                    | if kernel && hashed {
                        service_flags::HASHED
                    } else {
                        0
                    },
                timeout,
                netmask,
                pe_name: if kernel || pe.as_deref() != Some("") {
                    pe
                } else {
                    None
                },
            },
        )
}

fn dest_key() -> impl Strategy<Value = DestKey> {
    (1u8..5, prop_oneof![Just(80u16), Just(8080u16)]).prop_map(|(n, port)| DestKey {
        addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)),
        port,
    })
}

fn dest_attrs() -> impl Strategy<Value = DestAttrs> {
    (
        prop_oneof![
            Just(Forward::Masq),
            Just(Forward::Route),
            Just(Forward::Tunnel(Tunnel {
                kind: TunnelType::Ipip,
                port: 0,
                flags: 0
            })),
        ],
        0u32..3,
        0u32..2,
        0u32..2,
    )
        .prop_map(|(forward, weight, u_thresh, l_thresh)| DestAttrs {
            forward,
            weight,
            u_thresh,
            l_thresh,
        })
}

fn table(kernel: bool) -> impl Strategy<Value = Table> {
    prop::collection::btree_map(
        service_key(),
        (
            service_attrs(kernel),
            prop::collection::btree_map(dest_key(), dest_attrs(), 0..5),
        )
            .prop_map(|(attrs, dests)| TableService { attrs, dests }),
        0..7,
    )
    .prop_map(|services| Table { services })
}

/// A desired table, and an actual one that is either unrelated or the desired one with
/// some entries dropped, changed or added.
fn tables() -> impl Strategy<Value = (Table, Table)> {
    prop_oneof![
        (table(false), table(true)),
        (table(false), table(true), any::<u64>()).prop_map(|(d, extra, seed)| {
            let a = mutate(&d, &extra, seed);
            (d, a)
        }),
    ]
}

/// `d` with entries dropped or replaced by those of `extra`, chosen by the bits of `seed`.
fn mutate(d: &Table, extra: &Table, seed: u64) -> Table {
    let mut bits = seed;
    let mut next = || {
        let b = bits & 3;
        bits = bits.rotate_right(2);
        b
    };
    let mut out = Table::default();
    for (k, s) in &d.services {
        match next() {
            0 => continue,
            1 => {
                if let Some(e) = extra.services.get(k) {
                    out.services.insert(*k, e.clone());
                    continue;
                }
            }
            _ => {}
        }
        let mut s = s.clone();
        s.dests.retain(|_, _| next() != 0);
        if let Some((_, e)) = extra.services.iter().next() {
            for (dk, da) in &e.dests {
                if next() == 0 {
                    s.dests.insert(*dk, *da);
                }
            }
        }
        out.services.insert(*k, s);
    }
    for (k, s) in &extra.services {
        out.services.entry(*k).or_insert_with(|| s.clone());
    }
    out
}

/// Which services of `actual` are ours: a set drawn from the same keys.
fn managed_set() -> impl Strategy<Value = BTreeSet<ServiceKey>> {
    prop::collection::btree_set(service_key(), 0..10)
}

// ------------------------------------------------------------------------------------------
// The independent count and comparison
// ------------------------------------------------------------------------------------------

fn same_attrs(a: &ServiceAttrs, b: &ServiceAttrs) -> bool {
    a.clone().normalized() == b.clone().normalized()
}

fn differing(desired: &Table, actual: &Table, managed: &BTreeSet<ServiceKey>) -> usize {
    let mut n = 0;
    for (k, d) in &desired.services {
        match actual.services.get(k) {
            None => n += 1 + d.dests.len(),
            Some(a) => {
                n += usize::from(!same_attrs(&d.attrs, &a.attrs));
                let keys: BTreeSet<&DestKey> = d.dests.keys().chain(a.dests.keys()).collect();
                n += keys
                    .into_iter()
                    .filter(|dk| d.dests.get(dk) != a.dests.get(dk))
                    .count();
            }
        }
    }
    n + actual
        .services
        .keys()
        .filter(|k| !desired.services.contains_key(k) && managed.contains(k))
        .count()
}

fn apply_all(actual: &Table, ops: &[Op]) -> Result<Table, ApplyError> {
    let mut t = actual.clone();
    for op in ops {
        apply(&mut t, op)?;
    }
    Ok(t)
}

fn service_of(op: &Op) -> ServiceKey {
    match op {
        Op::NewService(s) | Op::SetService(s) => s.key,
        Op::DelService(k) | Op::NewDest(k, _) | Op::SetDest(k, _) | Op::DelDest(k, _) => *k,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    // Applying diff(desired, actual) to actual gives desired on the managed part, leaves the
    // foreign services identical, and a second diff is empty.
    #[test]
    fn apply_diff_gives_desired((desired, actual) in tables(), managed in managed_set()) {
        let is_managed = |k: &ServiceKey| managed.contains(k);
        let ops = diff(&desired, &actual, &is_managed);
        let result = apply_all(&actual, &ops).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (k, d) in &desired.services {
            let r = result.services.get(k).unwrap();
            prop_assert!(same_attrs(&r.attrs, &d.attrs), "{k}: {:?} vs {:?}", r.attrs, d.attrs);
            prop_assert_eq!(&r.dests, &d.dests, "{}", k);
        }
        for (k, a) in &actual.services {
            if desired.services.contains_key(k) {
                continue;
            }
            if managed.contains(k) {
                prop_assert!(!result.services.contains_key(k), "{k} should be gone");
            } else {
                prop_assert_eq!(result.services.get(k), Some(a), "foreign {} changed", k);
            }
        }
        prop_assert!(result.services.keys().all(|k| desired.services.contains_key(k) || actual.services.contains_key(k)));
        prop_assert!(diff(&desired, &result, &is_managed).is_empty());
    }

    // The number of operations is the number of differing entries (rule at the top).
    #[test]
    fn one_op_per_differing_entry((desired, actual) in tables(), managed in managed_set()) {
        let ops = diff(&desired, &actual, &|k| managed.contains(k));
        prop_assert_eq!(ops.len(), differing(&desired, &actual, &managed), "{:#?}", ops);
    }

    // Foreign services are never named by an operation; a new service comes before its
    // destinations; within a service additions and changes come before removals; the
    // service deletions come last.
    #[test]
    fn order((desired, actual) in tables(), managed in managed_set()) {
        let ops = diff(&desired, &actual, &|k| managed.contains(k));
        let mut created = BTreeSet::new();
        let mut removing: BTreeSet<ServiceKey> = BTreeSet::new();
        let mut deleting_services = false;
        for op in &ops {
            let k = service_of(op);
            prop_assert!(desired.services.contains_key(&k) || managed.contains(&k), "{op} touches a foreign service");
            match op {
                Op::NewService(_) => {
                    prop_assert!(!actual.services.contains_key(&k));
                    created.insert(k);
                }
                Op::NewDest(..) | Op::SetDest(..) => {
                    prop_assert!(!removing.contains(&k), "{op} after a removal");
                    if !actual.services.contains_key(&k) {
                        prop_assert!(created.contains(&k), "{op} before its service");
                    }
                }
                Op::DelDest(..) => {
                    removing.insert(k);
                }
                Op::DelService(_) => deleting_services = true,
                Op::SetService(_) => {}
            }
            if !matches!(op, Op::DelService(_)) {
                prop_assert!(!deleting_services, "{op} after a DEL_SERVICE");
            }
        }
    }

    // Equal tables (or equal up to the kernel-only bits) give nothing to do.
    #[test]
    fn equal_tables_give_no_ops(t in table(true), managed in managed_set()) {
        prop_assert!(diff(&t, &t, &|k| managed.contains(k)).is_empty());
        let mut normalized = t.clone();
        for s in normalized.services.values_mut() {
            s.attrs = s.attrs.clone().normalized();
        }
        prop_assert!(diff(&normalized, &t, &|_| true).is_empty());
    }

    // diff is a function of its inputs.
    #[test]
    fn deterministic((desired, actual) in tables(), managed in managed_set()) {
        let is_managed = |k: &ServiceKey| managed.contains(k);
        prop_assert_eq!(diff(&desired, &actual, &is_managed), diff(&desired.clone(), &actual.clone(), &is_managed));
    }
}

// ------------------------------------------------------------------------------------------
// Examples
// ------------------------------------------------------------------------------------------

fn svc() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    }
}

fn attrs(s: &str) -> ServiceAttrs {
    ServiceAttrs {
        scheduler: s.into(),
        flags: 0,
        timeout: 0,
        netmask: 0xffff_ffff,
        pe_name: None,
    }
}

fn dest(n: u8, weight: u32) -> (DestKey, DestAttrs) {
    (
        DestKey {
            addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)),
            port: 80,
        },
        DestAttrs {
            forward: Forward::Masq,
            weight,
            u_thresh: 0,
            l_thresh: 0,
        },
    )
}

fn one(sched: &str, dests: &[(u8, u32)]) -> Table {
    let mut t = Table::default();
    t.services.insert(
        svc(),
        TableService {
            attrs: attrs(sched),
            dests: dests.iter().map(|(n, w)| dest(*n, *w)).collect(),
        },
    );
    t
}

#[test]
fn weight_change_is_one_set_dest() {
    let ops = diff(
        &one("wlc", &[(1, 1), (2, 5)]),
        &one("wlc", &[(1, 1), (2, 1)]),
        &|_| true,
    );
    let (k, a) = dest(2, 5);
    assert_eq!(ops, vec![Op::SetDest(svc(), Dest { key: k, attrs: a })]);
}

#[test]
fn scheduler_change_is_one_set_service() {
    let ops = diff(&one("rr", &[(1, 1)]), &one("wlc", &[(1, 1)]), &|_| true);
    assert_eq!(
        ops,
        vec![Op::SetService(Service {
            key: svc(),
            attrs: attrs("rr")
        })]
    );
}

#[test]
fn hashed_flag_is_no_change() {
    let mut actual = one("wlc", &[(1, 1)]);
    for s in actual.services.values_mut() {
        s.attrs.flags |= service_flags::HASHED;
        s.attrs.pe_name = Some(String::new());
    }
    assert!(diff(&one("wlc", &[(1, 1)]), &actual, &|_| true).is_empty());
}

#[test]
fn new_service_then_its_dests_and_managed_deletion_last() {
    let desired = one("wlc", &[(2, 1), (1, 1)]);
    let mut actual = Table::default();
    let old = ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 7,
    };
    let foreign = ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 8,
    };
    for k in [old, foreign] {
        actual.services.insert(
            k,
            TableService {
                attrs: attrs("rr"),
                dests: [dest(3, 1)].into_iter().collect(),
            },
        );
    }
    let ops = diff(&desired, &actual, &|k| *k == old);
    let names: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "add service TCP 192.0.2.1:80",
            "add real server 198.51.100.1:80 to TCP 192.0.2.1:80",
            "add real server 198.51.100.2:80 to TCP 192.0.2.1:80",
            "delete service FWM 7",
        ]
    );
}

#[test]
fn swap_adds_before_removing() {
    // The real servers give way to the sorry server: the service never has none.
    let ops = diff(
        &one("wlc", &[(9, 1)]),
        &one("wlc", &[(1, 1), (2, 1)]),
        &|_| true,
    );
    let names: Vec<String> = ops.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "add real server 198.51.100.9:80 to TCP 192.0.2.1:80",
            "delete real server 198.51.100.1:80 from TCP 192.0.2.1:80",
            "delete real server 198.51.100.2:80 from TCP 192.0.2.1:80",
        ]
    );
}

#[test]
fn adopted_service_is_repaired_whatever_managed_says() {
    // A service of the desired table found in the kernel is ours: a destination added by
    // hand is removed even when the predicate does not know the service.
    let ops = diff(
        &one("wlc", &[(1, 1)]),
        &one("wlc", &[(1, 1), (5, 1)]),
        &|_| false,
    );
    assert_eq!(ops.len(), 1);
    assert!(
        matches!(ops[0], Op::DelDest(_, d) if d.addr == IpAddr::V4(Ipv4Addr::new(198, 51, 100, 5)))
    );
}

#[test]
fn apply_refuses_what_the_kernel_refuses() {
    let mut t = one("wlc", &[(1, 1)]);
    let (k, a) = dest(1, 1);
    let d = Dest { key: k, attrs: a };
    assert_eq!(
        apply(&mut t, &Op::NewDest(svc(), d)),
        Err(ApplyError::DestExists(svc(), k))
    );
    assert_eq!(
        apply(
            &mut t,
            &Op::NewService(Service {
                key: svc(),
                attrs: attrs("rr")
            })
        ),
        Err(ApplyError::ServiceExists(svc()))
    );
    let (k2, _) = dest(2, 1);
    assert_eq!(
        apply(&mut t, &Op::DelDest(svc(), k2)),
        Err(ApplyError::NoDest(svc(), k2))
    );
    let other = ServiceKey::Fwmark {
        family: Family::Inet,
        mark: 1,
    };
    assert_eq!(
        apply(&mut t, &Op::NewDest(other, d)),
        Err(ApplyError::NoService(other))
    );
    assert_eq!(
        t,
        one("wlc", &[(1, 1)]),
        "refused operations change nothing"
    );
    apply(&mut t, &Op::DelService(svc())).unwrap();
    assert!(
        t.services.is_empty(),
        "DEL_SERVICE takes the destinations with it"
    );
}

// The maps are ordered, so a diff does not depend on insertion order.
#[test]
fn insertion_order_does_not_matter() {
    let a = one("wlc", &[(1, 1), (2, 2), (3, 3)]);
    let mut b = Table::default();
    let mut dests = BTreeMap::new();
    for n in [3u8, 1, 2] {
        let (k, v) = dest(n, u32::from(n));
        dests.insert(k, v);
    }
    b.services.insert(
        svc(),
        TableService {
            attrs: attrs("wlc"),
            dests,
        },
    );
    assert!(diff(&a, &b, &|_| true).is_empty());
}
