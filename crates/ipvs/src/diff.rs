//! Desired versus actual: the operations that turn the kernel's table into the desired one,
//! and [`apply`], the kernel's meaning of each operation.
//!
//! [`diff`] is pure, deterministic, minimal and idempotent:
//!
//! - one operation per differing entry. An entry is a service or a destination; it differs
//!   when it is missing, extra, or present with other attributes. A service with other
//!   attributes is one SET_SERVICE, a destination with another weight (or forwarding or
//!   thresholds) one SET_DEST, never a delete and an add. An extra service is one
//!   DEL_SERVICE: the kernel removes its destinations with it, so they do not count.
//! - the order: services in key order. A missing service is NEW_SERVICE followed by its
//!   NEW_DESTs; a service present on both sides is its SET_SERVICE (if any), then NEW_DEST,
//!   SET_DEST and DEL_DEST, each in destination order. The DEL_SERVICEs come last.
//!   Additions come before removals ("make before break"): while a service's destinations
//!   are replaced (real servers giving way to the sorry server, or the reverse) it never
//!   has none, and a service moving to another address is up at the new one before it goes
//!   from the old one. IPVS has nothing that an addition could over-commit: weights and
//!   thresholds are per destination and the kernel takes any number of destinations.
//! - idempotent: applying the operations to `actual` gives `desired` on the managed part,
//!   so a second diff is empty.
//!
//! Services of `actual` that are not in `desired` are removed only when `managed` says they
//! are ours; any other (created by hand, or by another program) is never touched. A service
//! of `desired` is ours whatever `managed` says: one found in the kernel is adopted, and its
//! attributes and destinations are made the desired ones.

use std::collections::BTreeMap;

use crate::model::{
    Dest, DestAttrs, DestKey, Op, Service, ServiceAttrs, ServiceKey, Table, TableService,
    service_flags,
};

/// The operations that make `actual` equal to `desired` on the services `desired` holds and
/// the managed services of `actual`; services of `actual` for which `managed` is false and
/// that `desired` does not hold are left alone.
pub fn diff(desired: &Table, actual: &Table, managed: &dyn Fn(&ServiceKey) -> bool) -> Vec<Op> {
    let mut ops = Vec::new();
    for (key, want) in &desired.services {
        match actual.services.get(key) {
            None => {
                ops.push(Op::NewService(Service {
                    key: *key,
                    attrs: want.attrs.clone(),
                }));
                ops.extend(want.dests.iter().map(|(dk, da)| {
                    Op::NewDest(
                        *key,
                        Dest {
                            key: *dk,
                            attrs: *da,
                        },
                    )
                }));
            }
            Some(have) => diff_service(*key, want, have, &mut ops),
        }
    }
    ops.extend(
        actual
            .services
            .keys()
            .filter(|k| !desired.services.contains_key(k) && managed(k))
            .map(|k| Op::DelService(*k)),
    );
    ops
}

/// The operations on a service present on both sides.
fn diff_service(key: ServiceKey, want: &TableService, have: &TableService, ops: &mut Vec<Op>) {
    if !same_service_attrs(&want.attrs, &have.attrs) {
        ops.push(Op::SetService(Service {
            key,
            attrs: want.attrs.clone(),
        }));
    }
    let dest = |dk: &DestKey, da: &DestAttrs| Dest {
        key: *dk,
        attrs: *da,
    };
    for (dk, da) in &want.dests {
        if !have.dests.contains_key(dk) {
            ops.push(Op::NewDest(key, dest(dk, da)));
        }
    }
    for (dk, da) in &want.dests {
        if have.dests.get(dk).is_some_and(|h| h != da) {
            ops.push(Op::SetDest(key, dest(dk, da)));
        }
    }
    for dk in have.dests.keys() {
        if !want.dests.contains_key(dk) {
            ops.push(Op::DelDest(key, *dk));
        }
    }
}

/// True when a service with attributes `have` (as dumped) needs no SET to become `want`:
/// equal once the bits only the kernel sets are left out.
fn same_service_attrs(want: &ServiceAttrs, have: &ServiceAttrs) -> bool {
    want.scheduler == have.scheduler
        && want.flags & !service_flags::HASHED == have.flags & !service_flags::HASHED
        && want.timeout == have.timeout
        && want.netmask == have.netmask
        && want.pe_name.as_deref().unwrap_or("") == have.pe_name.as_deref().unwrap_or("")
}

/// Why the kernel would refuse an operation (the errno it would return).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// NEW_SERVICE of a service that exists (EEXIST).
    #[error("service {0} exists")]
    ServiceExists(ServiceKey),
    /// An operation on a service that does not exist (ESRCH).
    #[error("no service {0}")]
    NoService(ServiceKey),
    /// NEW_DEST of a destination that exists (EEXIST).
    #[error("real server {1} of {0} exists")]
    DestExists(ServiceKey, DestKey),
    /// SET_DEST or DEL_DEST of a destination that does not exist (ENOENT).
    #[error("no real server {1} in {0}")]
    NoDest(ServiceKey, DestKey),
}

/// Applies `op` to `table` as the kernel does: DEL_SERVICE takes the destinations with
/// it; an operation the kernel would refuse leaves the table unchanged and says why. For
/// tests, and for the writer's copy of the kernel table after an operation succeeded.
pub fn apply(table: &mut Table, op: &Op) -> Result<(), ApplyError> {
    let services = &mut table.services;
    match op {
        Op::NewService(s) => {
            if services.contains_key(&s.key) {
                return Err(ApplyError::ServiceExists(s.key));
            }
            services.insert(
                s.key,
                TableService {
                    attrs: s.attrs.clone(),
                    dests: BTreeMap::new(),
                },
            );
        }
        Op::SetService(s) => {
            services
                .get_mut(&s.key)
                .ok_or(ApplyError::NoService(s.key))?
                .attrs = s.attrs.clone();
        }
        Op::DelService(k) => {
            services.remove(k).ok_or(ApplyError::NoService(*k))?;
        }
        Op::NewDest(k, d) => {
            let svc = services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            if svc.dests.contains_key(&d.key) {
                return Err(ApplyError::DestExists(*k, d.key));
            }
            svc.dests.insert(d.key, d.attrs);
        }
        Op::SetDest(k, d) => {
            let svc = services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            *svc.dests
                .get_mut(&d.key)
                .ok_or(ApplyError::NoDest(*k, d.key))? = d.attrs;
        }
        Op::DelDest(k, dk) => {
            let svc = services.get_mut(k).ok_or(ApplyError::NoService(*k))?;
            svc.dests.remove(dk).ok_or(ApplyError::NoDest(*k, *dk))?;
        }
    }
    Ok(())
}
