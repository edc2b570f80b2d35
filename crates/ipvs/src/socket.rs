//! A blocking NETLINK_GENERIC socket speaking to the kernel's IPVS family: created and read
//! through nix on an owned descriptor, so without `unsafe`.
//!
//! Every request carries a new sequence number and is read to its end: an ACK or an error
//! for a change (NLM_F_ACK), NLMSG_DONE for a dump. Answers to an older sequence number (a
//! request abandoned after a timeout) are skipped. A dump is always read to its NLMSG_DONE,
//! even after an undecodable message, because the kernel refuses a new dump (EBUSY) while
//! one is unfinished.

use std::collections::BTreeMap;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recvmsg, send,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use crate::genl::{
    self, Context, DecodeError, DestEntry, IPVS_GENL_NAME, NLM_F_DUMP_INTR, Refusal, Reply,
    Request, ServiceEntry,
};
use crate::model::{
    Daemon, DaemonState, DestConns, DestKey, Family, Info, Op, ServiceKey, Stats, Table,
    TableService, Timeouts,
};

/// How long a receive waits for the kernel before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The receive buffer: a dump datagram is at most about 32 KiB.
const RECV_BUFFER: usize = 64 * 1024;
/// The socket's receive queue, so that the ACKs of a batch never overflow it.
const RECV_QUEUE: usize = 1024 * 1024;
/// The most requests sent in one datagram by [`IpvsSocket::apply_batch`].
const BATCH_MESSAGES: usize = 64;

/// Why an exchange with the kernel failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// nlctrl does not know the IPVS family: the kernel has no IPVS (not built, or the
    /// ip_vs module cannot be loaded).
    #[error("the kernel has no IPVS (generic netlink family \"IPVS\" not found)")]
    NoIpvs,
    /// A socket call failed.
    #[error("{call}: {} ({errno:?})", errno.desc())]
    Socket {
        /// The call.
        call: &'static str,
        /// Its errno.
        errno: Errno,
    },
    /// An answer larger than the receive buffer (it is lost).
    #[error("an answer of {0} bytes did not fit the receive buffer")]
    Truncated(usize),
    /// No answer within the timeout.
    #[error("no answer from the kernel within {0:?}")]
    Timeout(Duration),
    /// An answer that does not decode.
    #[error("an undecodable answer: {0}")]
    Decode(#[from] DecodeError),
    /// A dump the kernel marked inconsistent (NLM_F_DUMP_INTR): the table changed during it.
    #[error("the dump was interrupted by a concurrent change")]
    Interrupted,
    /// An answer of a kind the request is not answered with.
    #[error("an unexpected answer: {0}")]
    Unexpected(String),
    /// The kernel refused the request.
    #[error("{}", refused(*errno, message.as_deref()))]
    Refused {
        /// The errno.
        errno: Errno,
        /// The extended ack's text, if any.
        message: Option<String>,
    },
}

fn refused(errno: Errno, message: Option<&str>) -> String {
    match message {
        Some(m) => format!("{} ({errno:?}): {m}", errno.desc()),
        None => format!("{} ({errno:?})", errno.desc()),
    }
}

impl Error {
    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Refused { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::Refused {
            errno: Errno::from_raw(r.errno),
            message: r.message,
        }
    }
}

/// A failed request, named: `add service TCP 192.0.2.1:80: File exists (EEXIST)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {error}")]
pub struct KernelError {
    /// What was asked ([`Request::describe`]).
    pub what: String,
    /// Why it failed.
    pub error: Error,
}

impl KernelError {
    fn new(req: &Request<'_>, error: Error) -> KernelError {
        KernelError {
            what: req.describe(),
            error,
        }
    }

    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<Errno> {
        self.error.errno()
    }
}

/// What went over the socket since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Netlink messages sent (one per request).
    pub messages_sent: u64,
    /// Datagrams sent (a batch sends several messages in one).
    pub datagrams_sent: u64,
    /// Netlink messages received (answers, ACKs, dump entries, DONE).
    pub messages_received: u64,
}

/// The read-only counters of a service and of its destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// The service's counters.
    pub stats: Stats,
    /// Each destination's connections and counters.
    pub dests: BTreeMap<DestKey, DestStats>,
}

/// The read-only counters of a destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestStats {
    /// Active, inactive and persistent connections.
    pub conns: DestConns,
    /// Its counters.
    pub stats: Stats,
}

/// A blocking generic-netlink socket bound to the IPVS family.
#[derive(Debug)]
pub struct IpvsSocket {
    fd: OwnedFd,
    family: u16,
    seq: u32,
    timeout: Duration,
    recv: Vec<u8>,
    send: Vec<u8>,
    traffic: Traffic,
}

/// Where a request's answers go.
enum Sink<'a> {
    /// Nothing but the final ACK is expected.
    None,
    /// Every decoded reply.
    Replies(&'a mut dyn FnMut(Reply) -> Result<(), Error>),
}

impl IpvsSocket {
    /// Opens a socket and resolves the IPVS family ([`Error::NoIpvs`] when the kernel has
    /// none), then probes it with GET_INFO. As keepalived does, the probe is retried once:
    /// when resolving the family made the kernel load ip_vs, the first message can fail.
    pub fn open() -> Result<IpvsSocket, Error> {
        let mut s = IpvsSocket::connect()?;
        s.family = s.resolve(IPVS_GENL_NAME).map_err(|e| match e.error {
            Error::Refused {
                errno: Errno::ENOENT,
                ..
            } => Error::NoIpvs,
            e => e,
        })?;
        if s.info().is_err() {
            s.info().map_err(|e| e.error)?;
        }
        Ok(s)
    }

    /// socket(AF_NETLINK, NETLINK_GENERIC), bound to a kernel-chosen port id, with a
    /// receive timeout and a large receive queue.
    fn connect() -> Result<IpvsSocket, Error> {
        let sock_err = |call| move |errno| Error::Socket { call, errno };
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkGeneric,
        )
        .map_err(sock_err("socket(AF_NETLINK, NETLINK_GENERIC)"))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(sock_err("bind"))?;
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which every IPVS request needs anyway; without
        // it the default queue still holds a batch's ACKs.
        if setsockopt(&fd, sockopt::RcvBufForce, &RECV_QUEUE).is_err() {
            let _ = setsockopt(&fd, sockopt::RcvBuf, &RECV_QUEUE);
        }
        let s = IpvsSocket {
            fd,
            family: 0,
            seq: 0,
            timeout: DEFAULT_TIMEOUT,
            recv: vec![0; RECV_BUFFER],
            send: Vec::with_capacity(RECV_BUFFER),
            traffic: Traffic::default(),
        };
        s.apply_timeout()?;
        Ok(s)
    }

    fn apply_timeout(&self) -> Result<(), Error> {
        let t = self.timeout.max(Duration::from_millis(1));
        let tv = TimeVal::new(
            libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
            libc::suseconds_t::from(t.subsec_micros()),
        );
        setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(|errno| Error::Socket {
            call: "setsockopt(SO_RCVTIMEO)",
            errno,
        })
    }

    /// How long a receive waits for the kernel ([`DEFAULT_TIMEOUT`] at first).
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.timeout = timeout;
        self.apply_timeout()
    }

    /// The IPVS family id.
    pub fn family(&self) -> u16 {
        self.family
    }

    /// What went over the socket since it was opened (the family lookup and probe
    /// included).
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Resolves a generic-netlink family name to its id (CTRL_CMD_GETFAMILY).
    pub fn resolve(&mut self, name: &str) -> Result<u16, KernelError> {
        let req = Request::GetFamily(name);
        let mut id = None;
        self.exchange(&req, None, &mut |r| match r {
            Reply::Family(f) => {
                id = Some(f.id);
                Ok(())
            }
            r => Err(unexpected(&r)),
        })?;
        id.ok_or_else(|| KernelError::new(&req, Error::Unexpected("no family id".into())))
    }

    /// Applies one change, waiting for the kernel's ACK.
    pub fn apply(&mut self, op: &Op) -> Result<(), KernelError> {
        self.request(&Request::from(op))
    }

    /// Applies changes in order, several per datagram, and returns the result of each (in
    /// the order of `ops`). The kernel handles every message of a datagram even after one
    /// fails, so a failure does not stop the ones after it: an entry that depended on a
    /// failed one fails too, with its own error.
    pub fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), KernelError>> {
        let mut results = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(BATCH_MESSAGES) {
            self.apply_chunk(chunk, &mut results);
        }
        results
    }

    fn apply_chunk(&mut self, ops: &[Op], results: &mut Vec<Result<(), KernelError>>) {
        let first = self.seq.wrapping_add(1);
        self.send.clear();
        for op in ops {
            self.seq = self.seq.wrapping_add(1);
            Request::from(op).encode(self.family, self.seq, &mut self.send);
        }
        let start = results.len();
        let mut pending: Vec<Option<Result<(), Error>>> = vec![None; ops.len()];
        let sent = self.send_buffer(ops.len());
        let outcome = sent.and_then(|()| {
            let mut left = ops.len();
            while left > 0 {
                let len = self.recv_datagram()?;
                for raw in genl::raw_messages(&self.recv[..len]) {
                    let raw = raw?;
                    self.traffic.messages_received += 1;
                    let i = raw.seq.wrapping_sub(first) as usize;
                    let Some(slot) = pending.get_mut(i) else {
                        continue;
                    };
                    let ctx = Context {
                        family: self.family,
                        service_family: None,
                    };
                    let r = match genl::decode_message(&raw, ctx).map(|m| m.reply) {
                        Ok(Reply::Ack) => Ok(()),
                        Ok(Reply::Error(r)) => Err(Error::from(r)),
                        Ok(r) => Err(unexpected(&r)),
                        Err(e) => Err(Error::Decode(e)),
                    };
                    if slot.is_none() {
                        left -= 1;
                    }
                    *slot = Some(r);
                }
            }
            Ok(())
        });
        for (op, r) in ops.iter().zip(pending) {
            let r = match (r, &outcome) {
                (Some(r), _) => r,
                (None, Err(e)) => Err(e.clone()),
                (None, Ok(())) => Err(Error::Unexpected("no answer".into())),
            };
            results.push(r.map_err(|e| KernelError::new(&Request::from(op), e)));
        }
        debug_assert_eq!(results.len() - start, ops.len());
    }

    /// Sends a request that changes something (NLM_F_ACK) and waits for its ACK.
    pub fn request(&mut self, req: &Request<'_>) -> Result<(), KernelError> {
        self.exchange(req, None, &mut |r| Err(unexpected(&r)))
    }

    /// The kernel's table: every service, then each service's destinations.
    pub fn dump(&mut self) -> Result<Table, KernelError> {
        self.dump_with_stats().map(|(t, _)| t)
    }

    /// The kernel's table and the counters of its services and destinations.
    pub fn dump_with_stats(
        &mut self,
    ) -> Result<(Table, BTreeMap<ServiceKey, ServiceStats>), KernelError> {
        let mut services = Vec::new();
        self.exchange(&Request::GetServices, None, &mut |r| match r {
            Reply::Service(s) => {
                services.push(s);
                Ok(())
            }
            r => Err(unexpected(&r)),
        })?;
        let mut table = Table::default();
        let mut stats = BTreeMap::new();
        for ServiceEntry { service, stats: s } in services {
            let (dests, dest_stats) = self.dests_with_stats(&service.key)?;
            table.services.insert(
                service.key,
                TableService {
                    attrs: service.attrs,
                    dests,
                },
            );
            stats.insert(
                service.key,
                ServiceStats {
                    stats: s,
                    dests: dest_stats,
                },
            );
        }
        Ok((table, stats))
    }

    /// The destinations of one service, with their counters.
    #[allow(clippy::type_complexity)]
    pub fn dests_with_stats(
        &mut self,
        key: &ServiceKey,
    ) -> Result<
        (
            BTreeMap<DestKey, crate::model::DestAttrs>,
            BTreeMap<DestKey, DestStats>,
        ),
        KernelError,
    > {
        let mut dests = BTreeMap::new();
        let mut stats = BTreeMap::new();
        self.exchange(
            &Request::GetDests(key),
            Some(key.family()),
            &mut |r| match r {
                Reply::Dest(DestEntry {
                    dest,
                    conns,
                    stats: s,
                }) => {
                    dests.insert(dest.key, dest.attrs);
                    stats.insert(dest.key, DestStats { conns, stats: s });
                    Ok(())
                }
                r => Err(unexpected(&r)),
            },
        )?;
        Ok((dests, stats))
    }

    /// One service (GET_SERVICE), None when the kernel has no such service (ESRCH).
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, KernelError> {
        let mut found = None;
        let r = self.exchange(&Request::GetService(key), None, &mut |r| match r {
            Reply::Service(s) => {
                found = Some(s);
                Ok(())
            }
            r => Err(unexpected(&r)),
        });
        match r {
            Ok(()) => Ok(found),
            Err(e) if e.errno() == Some(Errno::ESRCH) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The running sync daemons, as the kernel reports them (with its defaults filled in:
    /// group, port, TTL and largest message).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, KernelError> {
        let mut daemons = Vec::new();
        self.exchange(&Request::GetDaemons, None, &mut |r| match r {
            Reply::Daemon(d) => {
                daemons.push(d);
                Ok(())
            }
            r => Err(unexpected(&r)),
        })?;
        Ok(daemons)
    }

    /// Starts a sync daemon (NEW_DAEMON).
    pub fn new_daemon(&mut self, daemon: &Daemon) -> Result<(), KernelError> {
        self.request(&Request::NewDaemon(daemon))
    }

    /// Stops a sync daemon (DEL_DAEMON).
    pub fn del_daemon(&mut self, state: DaemonState) -> Result<(), KernelError> {
        self.request(&Request::DelDaemon(state))
    }

    /// Sets the connection timeouts (SET_CONFIG; a zero leaves that one unchanged).
    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), KernelError> {
        self.request(&Request::SetTimeouts(timeouts))
    }

    /// The connection timeouts (GET_CONFIG).
    pub fn timeouts(&mut self) -> Result<Timeouts, KernelError> {
        let req = Request::GetTimeouts;
        let mut found = None;
        self.exchange(&req, None, &mut |r| match r {
            Reply::Timeouts(t) => {
                found = Some(t);
                Ok(())
            }
            r => Err(unexpected(&r)),
        })?;
        found.ok_or_else(|| KernelError::new(&req, Error::Unexpected("no timeouts".into())))
    }

    /// IPVS's version and connection-table size (GET_INFO).
    pub fn info(&mut self) -> Result<Info, KernelError> {
        let req = Request::GetInfo;
        let mut found = None;
        self.exchange(&req, None, &mut |r| match r {
            Reply::Info(i) => {
                found = Some(i);
                Ok(())
            }
            r => Err(unexpected(&r)),
        })?;
        found.ok_or_else(|| KernelError::new(&req, Error::Unexpected("no info".into())))
    }

    /// Zeroes the counters of one service, or of all (ZERO).
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), KernelError> {
        self.request(&Request::Zero(key))
    }

    /// Deletes every service and destination of the network namespace (FLUSH).
    pub fn flush(&mut self) -> Result<(), KernelError> {
        self.request(&Request::Flush)
    }

    /// Sends a request and returns the bytes of every message answering it, the final
    /// ACK, error or NLMSG_DONE included (for byte fixtures and debugging).
    pub fn request_raw(&mut self, req: &Request<'_>) -> Result<Vec<u8>, KernelError> {
        let mut bytes = Vec::new();
        self.exchange_inner(req, None, Sink::None, Some(&mut bytes))
            .or_else(|e| match e {
                Error::Refused { .. } => Ok(()),
                e => Err(e),
            })
            .map_err(|e| KernelError::new(req, e))?;
        Ok(bytes)
    }

    /// Sends one request and reads its answers to the end, passing each reply (but the
    /// ACK and DONE) to `sink`.
    fn exchange(
        &mut self,
        req: &Request<'_>,
        service_family: Option<Family>,
        sink: &mut dyn FnMut(Reply) -> Result<(), Error>,
    ) -> Result<(), KernelError> {
        self.exchange_inner(req, service_family, Sink::Replies(sink), None)
            .map_err(|e| KernelError::new(req, e))
    }

    fn exchange_inner(
        &mut self,
        req: &Request<'_>,
        service_family: Option<Family>,
        mut sink: Sink<'_>,
        mut raw_out: Option<&mut Vec<u8>>,
    ) -> Result<(), Error> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.send.clear();
        req.encode(self.family, seq, &mut self.send);
        self.send_buffer(1)?;
        let ctx = Context {
            family: self.family,
            service_family,
        };
        let dump = req.is_dump();
        // The first error seen; a dump is still read to its end.
        let mut failed: Option<Error> = None;
        loop {
            let len = match self.recv_datagram() {
                Ok(len) => len,
                Err(e) => return Err(failed.unwrap_or(e)),
            };
            for raw in genl::raw_messages(&self.recv[..len]) {
                let raw = match raw {
                    Ok(raw) => raw,
                    Err(e) => {
                        // The rest of the datagram is lost; a dump goes on in the next one.
                        failed.get_or_insert(Error::Decode(e));
                        break;
                    }
                };
                self.traffic.messages_received += 1;
                if raw.seq != seq {
                    continue;
                }
                if let Some(out) = raw_out.as_deref_mut() {
                    out.extend_from_slice(raw.bytes);
                    while out.len() % 4 != 0 {
                        out.push(0);
                    }
                }
                if raw.flags & NLM_F_DUMP_INTR != 0 {
                    failed.get_or_insert(Error::Interrupted);
                }
                let reply = match genl::decode_message(&raw, ctx) {
                    Ok(m) => m.reply,
                    Err(e) => {
                        failed.get_or_insert(Error::Decode(e));
                        continue;
                    }
                };
                match reply {
                    Reply::Ack if !dump => return failed.map_or(Ok(()), Err),
                    Reply::Done(status) if dump => {
                        return match (failed, status) {
                            (Some(e), _) => Err(e),
                            (None, Some(r)) => Err(r.into()),
                            (None, None) => Ok(()),
                        };
                    }
                    Reply::Error(r) => return Err(failed.unwrap_or_else(|| r.into())),
                    Reply::Noop => {}
                    reply => {
                        if failed.is_none() {
                            match &mut sink {
                                Sink::Replies(f) => {
                                    if let Err(e) = f(reply) {
                                        failed = Some(e);
                                    }
                                }
                                Sink::None => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sends the encoded buffer (holding `messages` messages) as one datagram.
    fn send_buffer(&mut self, messages: usize) -> Result<(), Error> {
        loop {
            match send(self.fd.as_raw_fd(), &self.send, MsgFlags::empty()) {
                Ok(n) if n == self.send.len() => break,
                Ok(_) => {
                    return Err(Error::Socket {
                        call: "send",
                        errno: Errno::EMSGSIZE,
                    });
                }
                Err(Errno::EINTR) => continue,
                Err(errno) => {
                    return Err(Error::Socket {
                        call: "send",
                        errno,
                    });
                }
            }
        }
        self.traffic.messages_sent += messages as u64;
        self.traffic.datagrams_sent += 1;
        Ok(())
    }

    /// Receives one datagram from the kernel into the receive buffer; returns its length.
    /// Datagrams from other senders are dropped.
    fn recv_datagram(&mut self) -> Result<usize, Error> {
        loop {
            let mut iov = [IoSliceMut::new(&mut self.recv[..])];
            let (len, flags, sender) = match recvmsg::<NetlinkAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                None,
                MsgFlags::MSG_TRUNC,
            ) {
                Ok(m) => (m.bytes, m.flags, m.address.map(|a| a.pid())),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Err(Error::Timeout(self.timeout)),
                Err(errno) => {
                    return Err(Error::Socket {
                        call: "recvmsg",
                        errno,
                    });
                }
            };
            if sender != Some(0) {
                continue;
            }
            if flags.contains(MsgFlags::MSG_TRUNC) || len > RECV_BUFFER {
                return Err(Error::Truncated(len));
            }
            return Ok(len);
        }
    }
}

fn unexpected(r: &Reply) -> Error {
    Error::Unexpected(format!("{r:?}"))
}

impl AsFd for IpvsSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for IpvsSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_request_and_the_errno() {
        let key = ServiceKey::Addr {
            protocol: crate::model::Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 80,
        };
        let e = KernelError {
            what: Request::DelService(&key).describe(),
            error: Error::Refused {
                errno: Errno::ESRCH,
                message: None,
            },
        };
        assert_eq!(
            e.to_string(),
            "delete service TCP 192.0.2.1:80: No such process (ESRCH)"
        );
        assert_eq!(e.errno(), Some(Errno::ESRCH));
        let e = Error::Refused {
            errno: Errno::EINVAL,
            message: Some("missing attribute".into()),
        };
        assert_eq!(
            e.to_string(),
            "Invalid argument (EINVAL): missing attribute"
        );
        assert_eq!(Error::NoIpvs.errno(), None);
    }
}
