//! The request socket: one blocking request at a time, each bounded by a timeout.
//!
//! ```text
//!  call ─► encode(seq) ─► send ─► recv (SO_RCVTIMEO = time left) ─► messages of our seq:
//!            NLMSG_ERROR 0        → done (ACK)
//!            NLMSG_ERROR -errno   → Error::Kernel, or an Outcome for EEXIST/ENOENT/...
//!            RTM_NEW* (dump)      → collected; NLMSG_DONE ends the dump
//!          other sequence numbers (a late answer to an earlier request) are skipped
//!  timeout, truncated or malformed answer ─► Error, and a fresh socket (new port id)
//! ```

use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::error::Error;
use crate::frame::{self, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, RawMsg};
use crate::model::{AddrSpec, Address, Family, Link, Outcome, RouteSpec, RuleSpec};
use crate::parse;
use crate::request::{self, Invalid, LinkKey};
use crate::socket::{NlSocket, RecvError};

/// The receive buffer: larger than any datagram the kernel sends for a dump (32 KiB).
const BUF_LEN: usize = 64 * 1024;
/// How many times an interrupted dump (NLM_F_DUMP_INTR) is restarted.
const DUMP_ATTEMPTS: usize = 3;

/// Why an exchange failed, before it is named.
#[derive(Debug)]
enum Failure {
    Kernel(Errno),
    Timeout,
    Decode(String),
    Socket(Error),
}

/// What a message handler says.
enum Step {
    More,
    Done,
}

/// The rtnetlink request socket of a process (no multicast groups).
///
/// Every call sends one request and waits for its answer, at most
/// [`Rtnl::timeout`] (a dump that the kernel interrupts is restarted, at most 3 times).
/// The socket belongs to the network namespace of the thread that opened it.
#[derive(Debug)]
pub struct Rtnl {
    sock: NlSocket,
    seq: u32,
    timeout: Duration,
    buf: Vec<u8>,
}

impl Rtnl {
    /// The timeout of [`Rtnl::open`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// Opens a request socket with [`Rtnl::DEFAULT_TIMEOUT`].
    pub fn open() -> Result<Rtnl, Error> {
        Rtnl::with_timeout(Rtnl::DEFAULT_TIMEOUT)
    }

    /// Opens a request socket whose calls each wait at most `timeout` for the kernel.
    pub fn with_timeout(timeout: Duration) -> Result<Rtnl, Error> {
        Ok(Rtnl {
            sock: NlSocket::open(0)?,
            seq: 0,
            timeout,
            buf: vec![0; BUF_LEN],
        })
    }

    /// How long a call waits for the kernel.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes how long a call waits for the kernel.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// A fresh socket, so that a late answer can never be read as the answer to a later
    /// request.
    fn reopen(&mut self) {
        match NlSocket::open(0) {
            Ok(s) => self.sock = s,
            Err(e) => log::error!("netlink: cannot reopen the request socket: {e}"),
        }
    }

    /// Sends `bytes` and hands every message of sequence `seq` to `handle` until it says
    /// [`Step::Done`].
    fn exchange(
        &mut self,
        seq: u32,
        bytes: &[u8],
        mut handle: impl FnMut(RawMsg<'_>) -> Result<Step, Failure>,
    ) -> Result<(), Failure> {
        self.sock.send(bytes).map_err(Failure::Socket)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Timeout);
            }
            self.sock.set_recv_timeout(left).map_err(Failure::Socket)?;
            let data = match self.sock.recv(&mut self.buf) {
                Ok(d) => d,
                Err(RecvError::Os(Errno::EAGAIN)) => continue,
                Err(RecvError::Os(Errno::ENOBUFS)) => {
                    return Err(Failure::Decode(
                        "the kernel dropped part of the answer (ENOBUFS)".into(),
                    ));
                }
                Err(RecvError::Os(e)) => {
                    return Err(Failure::Socket(Error::Socket {
                        call: "recvmsg",
                        errno: e,
                    }));
                }
                Err(RecvError::Truncated(n)) => {
                    return Err(Failure::Decode(format!(
                        "a datagram of {n} bytes, larger than the {BUF_LEN}-byte buffer"
                    )));
                }
            };
            for m in frame::messages(data) {
                let m = m.map_err(|e| Failure::Decode(e.to_string()))?;
                if m.seq != seq {
                    log::debug!(
                        "netlink: skipped a message of sequence {} (not {seq})",
                        m.seq
                    );
                    continue;
                }
                if m.ty == NLMSG_OVERRUN {
                    return Err(Failure::Decode("NLMSG_OVERRUN".into()));
                }
                if let Step::Done = handle(m)? {
                    return Ok(());
                }
            }
        }
    }

    fn error_step(m: &RawMsg<'_>) -> Result<Step, Failure> {
        let code = frame::error_code(m.payload).map_err(|e| Failure::Decode(e.to_string()))?;
        if code == 0 {
            Ok(Step::Done)
        } else {
            Err(Failure::Kernel(Errno::from_raw(code.saturating_neg())))
        }
    }

    /// A request answered by an ACK.
    fn ack(&mut self, seq: u32, bytes: &[u8]) -> Result<(), Failure> {
        self.exchange(seq, bytes, |m| match m.ty {
            NLMSG_ERROR => Rtnl::error_step(&m),
            _ => Ok(Step::More),
        })
    }

    /// A GET of one object: its `want` message, or an error.
    fn get(&mut self, seq: u32, bytes: &[u8], want: u16) -> Result<Vec<u8>, Failure> {
        let mut found = None;
        self.exchange(seq, bytes, |m| match m.ty {
            NLMSG_ERROR => Rtnl::error_step(&m),
            t if t == want => {
                found = Some(m.payload.to_vec());
                Ok(Step::Done)
            }
            _ => Ok(Step::More),
        })?;
        found.ok_or_else(|| Failure::Decode("an ACK instead of the object".into()))
    }

    /// A dump: the payloads of its `want` messages, restarted when the kernel flags it
    /// interrupted.
    fn dump(
        &mut self,
        encode: impl Fn(u32) -> Result<Vec<u8>, Invalid>,
        want: u16,
    ) -> Result<Result<Vec<Vec<u8>>, Failure>, Invalid> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seq = self.next_seq();
            let bytes = encode(seq)?;
            let mut payloads = Vec::new();
            let mut interrupted = false;
            let r = self.exchange(seq, &bytes, |m| {
                if m.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match m.ty {
                    NLMSG_ERROR => Rtnl::error_step(&m),
                    NLMSG_DONE => {
                        // The dump's status, when the kernel gives one.
                        match frame::error_code(m.payload) {
                            Ok(code) if code < 0 => {
                                Err(Failure::Kernel(Errno::from_raw(code.saturating_neg())))
                            }
                            _ => Ok(Step::Done),
                        }
                    }
                    t if t == want => {
                        payloads.push(m.payload.to_vec());
                        Ok(Step::More)
                    }
                    _ => Ok(Step::More),
                }
            });
            match r {
                Ok(()) if interrupted && attempt < DUMP_ATTEMPTS => {
                    log::debug!("netlink: dump interrupted by a change, restarting");
                }
                Ok(()) if interrupted => {
                    return Ok(Err(Failure::Decode(format!(
                        "the dump was interrupted by changes {DUMP_ATTEMPTS} times"
                    ))));
                }
                Ok(()) => return Ok(Ok(payloads)),
                Err(f) => return Ok(Err(f)),
            }
        }
    }

    /// Names a failure, and reopens the socket when its state is unknown.
    fn fail(&mut self, what: String, f: Failure) -> Error {
        match f {
            Failure::Kernel(errno) => Error::Kernel { what, errno },
            Failure::Timeout => {
                self.reopen();
                Error::Timeout {
                    what,
                    timeout: self.timeout,
                }
            }
            Failure::Decode(detail) => {
                self.reopen();
                Error::Decode { what, detail }
            }
            Failure::Socket(e) => {
                self.reopen();
                e
            }
        }
    }

    /// Sends one change and maps the errno that means "already so" to an [`Outcome`].
    fn change(
        &mut self,
        what: impl FnOnce() -> String,
        encode: impl FnOnce(u32) -> Result<Vec<u8>, Invalid>,
        already: &[Errno],
        outcome: Outcome,
    ) -> Result<Outcome, Error> {
        let seq = self.next_seq();
        let bytes = match encode(seq) {
            Ok(b) => b,
            Err(Invalid(reason)) => {
                return Err(Error::Invalid {
                    what: what(),
                    reason,
                });
            }
        };
        match self.ack(seq, &bytes) {
            Ok(()) => Ok(Outcome::Changed),
            Err(Failure::Kernel(e)) if already.contains(&e) => Ok(outcome),
            Err(f) => {
                let what = what();
                Err(self.fail(what, f))
            }
        }
    }

    fn dump_named<T>(
        &mut self,
        what: &str,
        encode: impl Fn(u32) -> Result<Vec<u8>, Invalid>,
        want: u16,
        parse: impl Fn(&[u8]) -> Result<T, parse::ParseError>,
    ) -> Result<Vec<T>, Error> {
        let payloads = match self.dump(encode, want) {
            Err(Invalid(reason)) => {
                return Err(Error::Invalid {
                    what: what.into(),
                    reason,
                });
            }
            Ok(Err(f)) => return Err(self.fail(what.into(), f)),
            Ok(Ok(p)) => p,
        };
        let mut out = Vec::with_capacity(payloads.len());
        for p in payloads {
            match parse(&p) {
                Ok(v) => out.push(v),
                Err(e) => log::warn!("netlink: {what}: skipped an unreadable entry: {e}"),
            }
        }
        Ok(out)
    }

    /// Every link (`ip link show`).
    pub fn links(&mut self) -> Result<Vec<Link>, Error> {
        self.dump_named(
            "dump links",
            request::get_links,
            libc::RTM_NEWLINK,
            parse::link,
        )
    }

    fn get_link(&mut self, what: String, key: LinkKey<'_>) -> Result<Option<Link>, Error> {
        let seq = self.next_seq();
        let bytes = request::get_link(key, seq).map_err(|Invalid(reason)| Error::Invalid {
            what: what.clone(),
            reason,
        })?;
        match self.get(seq, &bytes, libc::RTM_NEWLINK) {
            Ok(p) => parse::link(&p).map(Some).map_err(|e| {
                self.reopen();
                Error::Decode {
                    what,
                    detail: e.to_string(),
                }
            }),
            Err(Failure::Kernel(Errno::ENODEV)) => Ok(None),
            Err(f) => Err(self.fail(what, f)),
        }
    }

    /// The link of index `index`, or `None` when there is none.
    pub fn link(&mut self, index: u32) -> Result<Option<Link>, Error> {
        self.get_link(format!("get link {index}"), LinkKey::Index(index))
    }

    /// The link named `name`, or `None` when there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>, Error> {
        self.get_link(format!("get link {name}"), LinkKey::Name(name))
    }

    /// Every address of `family`, or of both (`ip address show`).
    pub fn addresses(&mut self, family: Option<Family>) -> Result<Vec<Address>, Error> {
        self.dump_named(
            "dump addresses",
            |seq| request::get_addrs(family, seq),
            libc::RTM_NEWADDR,
            parse::address,
        )
    }

    /// Adds an address (`ip address add`); an existing one is
    /// [`Outcome::AlreadyPresent`].
    pub fn add_address(&mut self, spec: &AddrSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: add address {spec}");
        self.change(
            || format!("add address {spec}"),
            |seq| request::new_addr(spec, seq),
            &[Errno::EEXIST],
            Outcome::AlreadyPresent,
        )
    }

    /// Deletes an address (`ip address del`); a missing one (EADDRNOTAVAIL, or ENODEV when
    /// the interface is gone) is [`Outcome::AlreadyAbsent`].
    pub fn del_address(&mut self, spec: &AddrSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: delete address {spec}");
        self.change(
            || format!("delete address {spec}"),
            |seq| request::del_addr(spec, seq),
            &[Errno::EADDRNOTAVAIL, Errno::ENODEV],
            Outcome::AlreadyAbsent,
        )
    }

    /// Adds a route (`ip route add|append|prepend|replace`); with [`crate::RouteMode::Add`]
    /// an existing one is [`Outcome::AlreadyPresent`].
    pub fn add_route(&mut self, spec: &RouteSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: add route {spec}");
        self.change(
            || format!("add route {spec}"),
            |seq| request::new_route(spec, seq),
            &[Errno::EEXIST],
            Outcome::AlreadyPresent,
        )
    }

    /// Deletes a route (`ip route del`); a missing one (ESRCH, or ENODEV when its
    /// interface is gone) is [`Outcome::AlreadyAbsent`].
    pub fn del_route(&mut self, spec: &RouteSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: delete route {spec}");
        self.change(
            || format!("delete route {spec}"),
            |seq| request::del_route(spec, seq),
            &[Errno::ESRCH, Errno::ENODEV],
            Outcome::AlreadyAbsent,
        )
    }

    /// Adds a rule (`ip rule add`); an identical one is [`Outcome::AlreadyPresent`].
    pub fn add_rule(&mut self, spec: &RuleSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: add rule {spec}");
        self.change(
            || format!("add rule {spec}"),
            |seq| request::new_rule(spec, seq),
            &[Errno::EEXIST],
            Outcome::AlreadyPresent,
        )
    }

    /// Deletes a rule (`ip rule del`); a missing one (ENOENT) is
    /// [`Outcome::AlreadyAbsent`].
    pub fn del_rule(&mut self, spec: &RuleSpec) -> Result<Outcome, Error> {
        log::debug!("netlink: delete rule {spec}");
        self.change(
            || format!("delete rule {spec}"),
            |seq| request::del_rule(spec, seq),
            &[Errno::ENOENT],
            Outcome::AlreadyAbsent,
        )
    }

    /// Creates a VMAC: a macvlan in private mode named `name` on `base_ifindex`, with the
    /// MAC `mac` ([`crate::vmac_mac`]), down. A link of that name already there is
    /// [`Outcome::AlreadyPresent`], whatever it is: check it with
    /// [`Rtnl::link_by_name`] (kind `macvlan`, the parent, the MAC, mode 1).
    ///
    /// keepalived then sets addrgenmode none ([`Rtnl::set_addr_gen_mode_none`], before
    /// the link goes up, so that no link-local address derived from the shared MAC
    /// appears) and brings it up ([`Rtnl::set_link_up`]).
    pub fn create_vmac(
        &mut self,
        base_ifindex: u32,
        name: &str,
        mac: [u8; 6],
    ) -> Result<Outcome, Error> {
        log::debug!("netlink: create VMAC {name} on ifindex {base_ifindex}");
        self.change(
            || {
                format!(
                    "create VMAC {name} ({}) on ifindex {base_ifindex}",
                    crate::vmac::format_mac(&mac)
                )
            },
            |seq| request::new_vmac(base_ifindex, name, &mac, seq),
            &[Errno::EEXIST],
            Outcome::AlreadyPresent,
        )
    }

    /// IFLA_INET6_ADDR_GEN_MODE none: the kernel generates no IPv6 link-local address on
    /// the link (`ip link set dev X addrgenmode none`).
    pub fn set_addr_gen_mode_none(&mut self, ifindex: u32) -> Result<(), Error> {
        self.change(
            || format!("set addrgenmode none on ifindex {ifindex}"),
            |seq| request::set_addr_gen_mode(ifindex, request::ADDR_GEN_MODE_NONE, seq),
            &[],
            Outcome::Changed,
        )
        .map(drop)
    }

    /// `ip link set dev X up`.
    pub fn set_link_up(&mut self, ifindex: u32) -> Result<(), Error> {
        self.change(
            || format!("set link {ifindex} up"),
            |seq| request::set_link_up(ifindex, true, seq),
            &[],
            Outcome::Changed,
        )
        .map(drop)
    }

    /// `ip link set dev X down`.
    pub fn set_link_down(&mut self, ifindex: u32) -> Result<(), Error> {
        self.change(
            || format!("set link {ifindex} down"),
            |seq| request::set_link_up(ifindex, false, seq),
            &[],
            Outcome::Changed,
        )
        .map(drop)
    }

    /// Deletes a link (`ip link del`); a missing one (ENODEV) is
    /// [`Outcome::AlreadyAbsent`].
    pub fn delete_link(&mut self, ifindex: u32) -> Result<Outcome, Error> {
        log::debug!("netlink: delete link {ifindex}");
        self.change(
            || format!("delete link {ifindex}"),
            |seq| request::del_link(ifindex, seq),
            &[Errno::ENODEV],
            Outcome::AlreadyAbsent,
        )
    }
}
