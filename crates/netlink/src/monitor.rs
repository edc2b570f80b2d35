//! The monitor socket: link and address notifications, read without blocking from a mio
//! loop.
//!
//! ```text
//!  kernel ── RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR ──► socket (O_NONBLOCK)
//!  readable ─► read(): recv until EAGAIN ─► RTM_NEWLINK  vs the link table ─► LinkNew,
//!                                                          LinkUp, LinkDown, LinkRenamed
//!                                           RTM_DELLINK ─► LinkDel
//!                                           RTM_NEWADDR ─► AddrAdded
//!                                           RTM_DELADDR ─► AddrRemoved
//!  ENOBUFS (the kernel dropped notifications)      ─► queue discarded, Err(Overrun)
//!  a datagram or message that cannot be read       ─► queue discarded, Err(Resync)
//!  either way: dump with Rtnl, then sync_links(), and carry on with the same socket
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;

use crate::error::Error;
use crate::frame;
use crate::model::Link;
use crate::parse;
use crate::socket::{
    NlSocket, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK, RecvError, group_mask,
};

/// The receive buffer: larger than any one notification datagram.
const BUF_LEN: usize = 64 * 1024;
/// The most datagrams discarded after an overrun before giving back control.
const DRAIN_MAX: usize = 100_000;

/// A change of a link or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link not in the link table appeared (or was first heard of).
    LinkNew {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
        /// Up as keepalived means it (IFF_UP and IFF_RUNNING).
        up: bool,
    },
    /// A known link went up (IFF_UP and IFF_RUNNING both set).
    LinkUp {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
    },
    /// A known link went down (IFF_UP or IFF_RUNNING cleared).
    LinkDown {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
    },
    /// A known link changed its name.
    LinkRenamed {
        /// Its index.
        index: u32,
        /// The name it had.
        old: String,
        /// The name it has.
        new: String,
    },
    /// A link was deleted.
    LinkDel {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
    },
    /// An address was added, or changed (flags, lifetimes): it may repeat.
    AddrAdded {
        /// The interface index.
        ifindex: u32,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
    },
    /// An address was removed.
    AddrRemoved {
        /// The interface index.
        ifindex: u32,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
    },
}

/// Why [`Monitor::read`] gave no events.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The kernel dropped notifications (ENOBUFS: the receive buffer was full). What was
    /// queued has been discarded; dump links and addresses with [`crate::Rtnl`], call
    /// [`Monitor::sync_links`], and go on reading.
    #[error("netlink monitor: the kernel dropped notifications (receive buffer full)")]
    Overrun,
    /// A notification could not be read. What was queued has been discarded; resynchronise
    /// as for [`MonitorError::Overrun`].
    #[error("netlink monitor: unreadable notification ({0}); resynchronising")]
    Resync(String),
    /// The socket failed.
    #[error("netlink monitor: recvmsg: {0}")]
    Io(Errno),
}

/// What the monitor remembers of a link, to turn notifications into transitions.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    up: bool,
}

/// The rtnetlink monitor of a process: a non-blocking socket subscribed to link and
/// address changes. Register [`Monitor::as_raw_fd`] with mio (readable) and call
/// [`Monitor::read`] until it returns no events when it is readable.
///
/// The socket belongs to the network namespace of the thread that opened it.
#[derive(Debug)]
pub struct Monitor {
    sock: NlSocket,
    buf: Vec<u8>,
    links: HashMap<u32, Known>,
}

impl Monitor {
    /// Opens the monitor with a receive buffer of `rcvbuf` bytes (SO_RCVBUFFORCE when
    /// the process has CAP_NET_ADMIN, else SO_RCVBUF, capped by net.core.rmem_max).
    pub fn open(rcvbuf: usize) -> Result<Monitor, Error> {
        let sock = NlSocket::open(group_mask(&[
            RTNLGRP_LINK,
            RTNLGRP_IPV4_IFADDR,
            RTNLGRP_IPV6_IFADDR,
        ]))?;
        sock.set_nonblocking()?;
        sock.set_recv_buffer(rcvbuf)?;
        Ok(Monitor {
            sock,
            buf: vec![0; BUF_LEN],
            links: HashMap::new(),
        })
    }

    /// The receive buffer the kernel granted (about twice what was asked).
    pub fn recv_buffer(&self) -> Result<usize, Error> {
        self.sock.recv_buffer()
    }

    /// Changes the receive buffer, e.g. grows it after an [`MonitorError::Overrun`], as
    /// [`Monitor::open`] sets it; returns the size granted.
    pub fn set_recv_buffer(&self, rcvbuf: usize) -> Result<usize, Error> {
        self.sock.set_recv_buffer(rcvbuf)
    }

    /// Replaces the link table with a dump ([`crate::Rtnl::links`]): call it after
    /// opening and after each [`MonitorError`], so that notifications become transitions
    /// relative to what the dump saw.
    pub fn sync_links(&mut self, links: &[Link]) {
        self.links = links
            .iter()
            .map(|l| {
                (
                    l.index,
                    Known {
                        name: l.name.clone(),
                        up: l.up(),
                    },
                )
            })
            .collect();
    }

    /// Reads every queued notification, without blocking, and returns the events in
    /// order (empty when nothing was queued).
    pub fn read(&mut self) -> Result<Vec<Event>, MonitorError> {
        let mut events = Vec::new();
        loop {
            let data = match self.sock.recv(&mut self.buf) {
                Ok(d) => d,
                Err(RecvError::Os(Errno::EAGAIN)) => return Ok(events),
                Err(RecvError::Os(Errno::ENOBUFS)) => {
                    self.drain();
                    return Err(MonitorError::Overrun);
                }
                Err(RecvError::Os(e)) => return Err(MonitorError::Io(e)),
                Err(RecvError::Truncated(n)) => {
                    self.drain();
                    return Err(MonitorError::Resync(format!(
                        "a datagram of {n} bytes, larger than the {BUF_LEN}-byte buffer"
                    )));
                }
            };
            if let Err(reason) = apply(&mut self.links, data, &mut events) {
                self.drain();
                return Err(MonitorError::Resync(reason));
            }
        }
    }

    /// Discards what is queued.
    fn drain(&mut self) {
        for _ in 0..DRAIN_MAX {
            match self.sock.recv(&mut self.buf) {
                Ok(_) | Err(RecvError::Truncated(_)) | Err(RecvError::Os(Errno::ENOBUFS)) => {}
                Err(_) => return,
            }
        }
    }
}

/// Turns the messages of one datagram into events, updating the link table.
fn apply(
    links: &mut HashMap<u32, Known>,
    data: &[u8],
    events: &mut Vec<Event>,
) -> Result<(), String> {
    for m in frame::messages(data) {
        let m = m.map_err(|e| e.to_string())?;
        match m.ty {
            libc::RTM_NEWLINK => {
                let l = parse::link(m.payload).map_err(|e| format!("RTM_NEWLINK: {e}"))?;
                link_changed(links, l, events);
            }
            libc::RTM_DELLINK => {
                let l = parse::link(m.payload).map_err(|e| format!("RTM_DELLINK: {e}"))?;
                links.remove(&l.index);
                events.push(Event::LinkDel {
                    index: l.index,
                    name: l.name,
                });
            }
            libc::RTM_NEWADDR | libc::RTM_DELADDR => {
                let a = parse::address(m.payload).map_err(|e| format!("address: {e}"))?;
                let (ifindex, addr, prefix) = (a.ifindex, a.addr, a.prefix_len);
                events.push(if m.ty == libc::RTM_NEWADDR {
                    Event::AddrAdded {
                        ifindex,
                        addr,
                        prefix,
                    }
                } else {
                    Event::AddrRemoved {
                        ifindex,
                        addr,
                        prefix,
                    }
                });
            }
            frame::NLMSG_OVERRUN => return Err("NLMSG_OVERRUN".into()),
            // NLMSG_NOOP, NLMSG_DONE and anything else: nothing to report.
            _ => {}
        }
    }
    Ok(())
}

fn link_changed(links: &mut HashMap<u32, Known>, l: Link, events: &mut Vec<Event>) {
    let up = l.up();
    match links.get_mut(&l.index) {
        None => {
            links.insert(
                l.index,
                Known {
                    name: l.name.clone(),
                    up,
                },
            );
            events.push(Event::LinkNew {
                index: l.index,
                name: l.name,
                up,
            });
        }
        Some(k) => {
            if k.name != l.name {
                events.push(Event::LinkRenamed {
                    index: l.index,
                    old: std::mem::replace(&mut k.name, l.name.clone()),
                    new: l.name.clone(),
                });
            }
            if k.up != up {
                k.up = up;
                events.push(if up {
                    Event::LinkUp {
                        index: l.index,
                        name: l.name,
                    }
                } else {
                    Event::LinkDown {
                        index: l.index,
                        name: l.name,
                    }
                });
            }
        }
    }
}

impl AsFd for Monitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Monitor {
    /// The descriptor to register with mio (`SourceFd`); it never changes.
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTM_NEWLINK or RTM_DELLINK message for link `index` named `name`.
    fn link_msg(ty: u16, index: u32, name: &str, flags: u32) -> Vec<u8> {
        let mut attr = Vec::new();
        let len = 4 + name.len() + 1;
        attr.extend_from_slice(&(len as u16).to_ne_bytes());
        attr.extend_from_slice(&libc::IFLA_IFNAME.to_ne_bytes());
        attr.extend_from_slice(name.as_bytes());
        attr.push(0);
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        let mut p = vec![0, 0, 1, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        p.extend_from_slice(&flags.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        p.extend_from_slice(&attr);
        msg(ty, &p)
    }

    fn msg(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m
    }

    fn addr_msg(ty: u16, ifindex: u32, a: [u8; 4], len: u8) -> Vec<u8> {
        let mut p = vec![libc::AF_INET as u8, len, 0, 0];
        p.extend_from_slice(&ifindex.to_ne_bytes());
        p.extend_from_slice(&[8, 0, 2, 0]);
        p.extend_from_slice(&a);
        msg(ty, &p)
    }

    const UP: u32 = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    const ADMIN_UP: u32 = libc::IFF_UP as u32;

    #[test]
    fn notifications_become_transitions() {
        let mut links = HashMap::new();
        let mut ev = Vec::new();
        let mut d = link_msg(libc::RTM_NEWLINK, 3, "v0", UP);
        // Another change that is not a transition (statistics, MTU, ...): no event.
        d.extend(link_msg(libc::RTM_NEWLINK, 3, "v0", UP));
        d.extend(link_msg(libc::RTM_NEWLINK, 3, "v0", ADMIN_UP));
        d.extend(link_msg(libc::RTM_NEWLINK, 3, "v0", UP));
        d.extend(link_msg(libc::RTM_NEWLINK, 3, "lan0", UP));
        d.extend(addr_msg(libc::RTM_NEWADDR, 3, [192, 0, 2, 10], 24));
        d.extend(addr_msg(libc::RTM_DELADDR, 3, [192, 0, 2, 10], 24));
        d.extend(link_msg(libc::RTM_DELLINK, 3, "lan0", 0));
        apply(&mut links, &d, &mut ev).unwrap();
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(
            ev,
            vec![
                Event::LinkNew {
                    index: 3,
                    name: "v0".into(),
                    up: true
                },
                Event::LinkDown {
                    index: 3,
                    name: "v0".into()
                },
                Event::LinkUp {
                    index: 3,
                    name: "v0".into()
                },
                Event::LinkRenamed {
                    index: 3,
                    old: "v0".into(),
                    new: "lan0".into()
                },
                Event::AddrAdded {
                    ifindex: 3,
                    addr: a,
                    prefix: 24
                },
                Event::AddrRemoved {
                    ifindex: 3,
                    addr: a,
                    prefix: 24
                },
                Event::LinkDel {
                    index: 3,
                    name: "lan0".into()
                },
            ]
        );
        assert!(links.is_empty());
    }

    #[test]
    fn a_synced_table_is_the_reference() {
        let mut m = HashMap::new();
        m.insert(
            5,
            Known {
                name: "eth1".into(),
                up: true,
            },
        );
        let mut ev = Vec::new();
        apply(&mut m, &link_msg(libc::RTM_NEWLINK, 5, "eth1", 0), &mut ev).unwrap();
        assert_eq!(
            ev,
            vec![Event::LinkDown {
                index: 5,
                name: "eth1".into()
            }]
        );
    }

    #[test]
    fn unreadable_notifications_ask_for_a_resync() {
        let mut links = HashMap::new();
        let mut ev = Vec::new();
        // A link message without a name.
        let bad = msg(libc::RTM_NEWLINK, &[0u8; 16]);
        assert_eq!(
            apply(&mut links, &bad, &mut ev).unwrap_err(),
            "RTM_NEWLINK: link 0 without IFLA_IFNAME"
        );
        // A broken header.
        assert!(apply(&mut links, &[1, 2, 3], &mut ev).is_err());
        // Unknown message types are ignored.
        apply(&mut links, &msg(libc::RTM_NEWROUTE, &[0u8; 12]), &mut ev).unwrap();
        assert!(ev.is_empty());
    }
}
