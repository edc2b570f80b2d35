//! `vrrp_sync_group`: members move together (keepalived `vrrp_sync.c`,
//! KEEPALIVED-REFERENCE 2.5).
//!
//! Each member instance (with [`InstanceConfig::sync_group`](crate::InstanceConfig) set)
//! reports its wish with [`Action::SyncWish`]: the state it would be in on its own. The
//! group's state follows from the wishes:
//!
//! * one member wishes FAULT: the group is FAULT and every member goes to FAULT;
//! * every member wishes MASTER (each one's Master_Down_Timer expired, or it is an owner):
//!   the group is MASTER and every member becomes master together ("only sync to master
//!   if everyone wants to, i.e. prefer backup state to avoid thrashing");
//! * otherwise the group is BACKUP: a member that hears a better master makes every master
//!   of the group yield, and members held in FAULT by the group come back as backups.
//!
//! The group sends [`SyncCommand`]s to its members as [`Event::Sync`]; [`SyncGroup::drive`]
//! runs one event through an instance and delivers the resulting commands until the group
//! is settled.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::instance::{Action, Event, Instance, State, SyncCommand};
use crate::time::Time;

/// A change of the group's state (for the group's notify scripts: `GROUP NAME STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupTransition {
    /// The old state.
    pub from: State,
    /// The new state.
    pub to: State,
}

/// What the group does after seeing one member's actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOutput {
    /// Commands to deliver, as `(member index, command)`.
    pub commands: Vec<(usize, SyncCommand)>,
    /// The group's state change, if any.
    pub transition: Option<GroupTransition>,
}

/// The result of [`SyncGroup::drive`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driven {
    /// Every member's actions, in the order they were produced, as `(member, action)`.
    pub actions: Vec<(usize, Action)>,
    /// The group's state changes.
    pub transitions: Vec<GroupTransition>,
}

/// A sync group of member instances, identified by their index in the driver's slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroup {
    name: String,
    state: State,
    wishes: Vec<State>,
}

impl SyncGroup {
    /// A group of `members` instances, in BACKUP.
    pub fn new(name: &str, members: usize) -> SyncGroup {
        SyncGroup {
            name: name.to_string(),
            state: State::Backup,
            wishes: vec![State::Backup; members],
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's state: BACKUP, MASTER or FAULT.
    pub fn state(&self) -> State {
        self.state
    }

    /// The last wish of each member.
    pub fn wishes(&self) -> &[State] {
        &self.wishes
    }

    fn target(&self) -> State {
        if self.wishes.contains(&State::Fault) {
            State::Fault
        } else if self.wishes.iter().all(|w| *w == State::Master) {
            State::Master
        } else {
            State::Backup
        }
    }

    /// Takes note of the actions member `member` produced and says what the group does.
    pub fn observe(&mut self, member: usize, actions: &[Action]) -> SyncOutput {
        let mut out = SyncOutput::default();
        let mut changed = false;
        for a in actions {
            if let Action::SyncWish(w) = a {
                if let Some(slot) = self.wishes.get_mut(member) {
                    changed |= *slot != *w;
                    *slot = *w;
                }
            }
        }
        if !changed {
            return out;
        }
        let target = self.target();
        if target == State::Fault {
            // Every member is held in FAULT, the faulty ones too, so that a member whose
            // own fault clears stays in FAULT while another one is faulty.
            out.commands = (0..self.wishes.len())
                .map(|i| (i, SyncCommand::Fault))
                .collect();
        }
        if target != self.state {
            out.transition = Some(GroupTransition {
                from: self.state,
                to: target,
            });
            self.state = target;
            let cmd = match target {
                State::Master => Some(SyncCommand::Master),
                State::Backup => Some(SyncCommand::Backup),
                _ => None,
            };
            if let Some(cmd) = cmd {
                out.commands = (0..self.wishes.len()).map(|i| (i, cmd)).collect();
            }
        }
        out
    }

    /// Handles `event` on member `member` at `now`, then delivers the group's commands
    /// (and the commands those cause) until the group is settled.
    pub fn drive(
        &mut self,
        instances: &mut [Instance],
        member: usize,
        now: Time,
        event: Event,
    ) -> Driven {
        let mut driven = Driven::default();
        let mut queue = VecDeque::from([(member, event)]);
        // Each command settles a member, so the queue drains; the budget is a safety net.
        let mut budget = 16 * (instances.len() + 1) * (instances.len() + 1);
        while let Some((i, ev)) = queue.pop_front() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let Some(inst) = instances.get_mut(i) else {
                continue;
            };
            let actions = inst.handle(now, ev);
            let o = self.observe(i, &actions);
            queue.extend(o.commands.into_iter().map(|(j, c)| (j, Event::Sync(c))));
            driven.transitions.extend(o.transition);
            driven.actions.extend(actions.into_iter().map(|a| (i, a)));
        }
        driven
    }
}
