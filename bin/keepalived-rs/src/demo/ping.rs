//! The client's pinger and the outage measurement.
//!
//! A raw ICMP socket is opened inside the client's namespace (by a short-lived thread that
//! enters it; a socket stays in the namespace it was made in), then one thread sends an echo
//! request every 10 ms and another records the replies. Nothing external is needed, every
//! request's send time is known exactly, and a reply is matched to its request by the
//! identifier and sequence number.
//!
//! The outage the client saw is the longest gap between two consecutive answered requests
//! ([`measure`]), a pure function of the log, tested on recorded logs.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, recv, sendto,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use super::lab::netns_path;

/// The interval between echo requests.
pub const INTERVAL: Duration = Duration::from_millis(10);

/// ICMP echo request type.
const ECHO_REQUEST: u8 = 8;
/// ICMP echo reply type.
const ECHO_REPLY: u8 = 0;
/// Bytes of payload after the 8-byte ICMP header.
const PAYLOAD: usize = 24;

/// Every request sent and every reply received, by request number (the wire's 16-bit
/// sequence number is the low half of it).
#[derive(Debug, Clone)]
pub struct PingLog {
    /// When the pinger started.
    pub start: Instant,
    /// When each request was sent, by request number.
    pub sent: Vec<Instant>,
    /// When each request's first reply arrived.
    pub answered: Vec<Option<Instant>>,
    /// Replies received more than once.
    pub duplicates: u64,
}

impl PingLog {
    fn new() -> PingLog {
        PingLog {
            start: Instant::now(),
            sent: Vec::new(),
            answered: Vec::new(),
            duplicates: 0,
        }
    }

    /// The request number of a reply's 16-bit sequence number: the latest request sent with
    /// that low half.
    fn request_of(&self, seq: u16) -> Option<usize> {
        let last = self.sent.len().checked_sub(1)?;
        let back = usize::from((last as u16).wrapping_sub(seq));
        last.checked_sub(back)
    }

    /// The first answered request sent at or after `t`.
    pub fn answered_since(&self, t: Instant) -> Option<usize> {
        self.sent
            .iter()
            .zip(&self.answered)
            .position(|(s, a)| *s >= t && a.is_some())
    }

    /// The number of answered requests.
    pub fn replies(&self) -> usize {
        self.answered.iter().filter(|a| a.is_some()).count()
    }

    /// The send times, as offsets from the start, and which were answered: the input of
    /// [`measure`].
    pub fn timeline(&self) -> (Vec<Duration>, Vec<bool>) {
        (
            self.sent.iter().map(|s| *s - self.start).collect(),
            self.answered.iter().map(Option::is_some).collect(),
        )
    }
}

/// What the client saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// The longest time between two consecutive answered requests (their send times).
    pub longest_gap: Duration,
    /// The last answered request before that gap.
    pub before: usize,
    /// The first answered request after it.
    pub after: usize,
    /// Requests without a reply, from the first answered request to the last.
    pub lost: usize,
    /// Requests from the first answered request to the last.
    pub counted: usize,
}

/// Measures the outage from each request's send time and whether it was answered. Requests
/// before the first reply (ARP resolution) and after the last (still in flight) do not
/// count. `None` when fewer than two requests were answered.
pub fn measure(sent: &[Duration], answered: &[bool]) -> Option<Outage> {
    let ok: Vec<usize> = answered
        .iter()
        .take(sent.len())
        .enumerate()
        .filter_map(|(i, a)| a.then_some(i))
        .collect();
    let (&first, &last) = (ok.first()?, ok.last()?);
    let (before, after) = ok
        .windows(2)
        .map(|w| (w[0], w[1]))
        .max_by_key(|&(a, b)| (sent[b].saturating_sub(sent[a]), std::cmp::Reverse(a)))?;
    let counted = last - first + 1;
    Some(Outage {
        longest_gap: sent[after].saturating_sub(sent[before]),
        before,
        after,
        lost: counted - ok.len(),
        counted,
    })
}

/// The pinger: two threads sharing a raw ICMP socket in the client's namespace. Stopped
/// and joined on drop.
#[derive(Debug)]
pub struct Pinger {
    log: Arc<Mutex<PingLog>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Locks the log, whatever a panicking thread left in it.
fn lock(log: &Mutex<PingLog>) -> MutexGuard<'_, PingLog> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens a raw ICMP socket inside the named network namespace, from a thread that enters
/// it and ends.
fn socket_in(ns: &str) -> Result<OwnedFd, String> {
    let path = netns_path(ns);
    std::thread::spawn(move || -> Result<OwnedFd, String> {
        let file = std::fs::File::open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        setns(&file, CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot enter {}: {e}", path.display()))?;
        let fd = socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Icmp,
        )
        .map_err(|e| format!("cannot open a raw ICMP socket: {e}"))?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 50_000))
            .map_err(|e| format!("cannot set the socket's receive timeout: {e}"))?;
        Ok(fd)
    })
    .join()
    .map_err(|_| "the thread entering the namespace panicked".to_string())?
}

impl Pinger {
    /// Starts pinging `target` from namespace `ns` every [`INTERVAL`].
    pub fn start(ns: &str, target: Ipv4Addr) -> Result<Pinger, String> {
        let fd = Arc::new(socket_in(ns)?);
        let log = Arc::new(Mutex::new(PingLog::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let ident = (std::process::id() & 0xffff) as u16;
        let sender = {
            let (fd, log, stop) = (fd.clone(), log.clone(), stop.clone());
            std::thread::Builder::new()
                .name("demo-ping-send".into())
                .spawn(move || send_loop(&fd, target, ident, &log, &stop))
                .map_err(|e| format!("cannot start the pinger: {e}"))?
        };
        let receiver = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::Builder::new()
                .name("demo-ping-recv".into())
                .spawn(move || recv_loop(&fd, target, ident, &log, &stop))
        };
        let mut pinger = Pinger {
            log,
            stop,
            threads: vec![sender],
        };
        match receiver {
            Ok(r) => pinger.threads.push(r),
            Err(e) => return Err(format!("cannot start the pinger: {e}")),
        }
        Ok(pinger)
    }

    /// A copy of the log so far.
    pub fn snapshot(&self) -> PingLog {
        lock(&self.log).clone()
    }

    /// Stops the threads and returns the log.
    pub fn stop(mut self) -> PingLog {
        self.halt();
        lock(&self.log).clone()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Sends a request every [`INTERVAL`], without bursts when late.
fn send_loop(fd: &OwnedFd, target: Ipv4Addr, ident: u16, log: &Mutex<PingLog>, stop: &AtomicBool) {
    let dest = SockaddrIn::from(SocketAddrV4::new(target, 0));
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
            continue;
        }
        let packet = {
            let mut log = lock(log);
            let seq = log.sent.len() as u16;
            log.sent.push(Instant::now());
            log.answered.push(None);
            echo_request(ident, seq)
        };
        // A send error (no route, a full queue) is a lost request, as ping counts it.
        let _ = sendto(fd.as_raw_fd(), &packet, &dest, MsgFlags::empty());
        next += INTERVAL;
        let now = Instant::now();
        if next < now {
            next = now + INTERVAL;
        }
    }
}

/// Records replies until stopped.
fn recv_loop(fd: &OwnedFd, target: Ipv4Addr, ident: u16, log: &Mutex<PingLog>, stop: &AtomicBool) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => {
                let at = Instant::now();
                if let Some(seq) = echo_reply(&buf[..n], target, ident) {
                    let mut log = lock(log);
                    if let Some(i) = log.request_of(seq) {
                        match log.answered[i] {
                            None => log.answered[i] = Some(at),
                            Some(_) => log.duplicates += 1,
                        }
                    }
                }
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            // An ICMP error queued on the socket: nothing to record.
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request.
///
/// ```text
///  0       8       16              32
///  +-------+-------+---------------+
///  | type 8| code 0|   checksum    |
///  +-------+-------+---------------+
///  |  identifier   |   sequence    |
///  +---------------+---------------+
///  |  payload ...                  |
/// ```
fn echo_request(ident: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![0u8; 8 + PAYLOAD];
    p[0] = ECHO_REQUEST;
    p[4..6].copy_from_slice(&ident.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// The sequence number of an echo reply from `from` to our `ident`, given the IPv4 packet a
/// raw socket delivers (header included).
fn echo_reply(packet: &[u8], from: Ipv4Addr, ident: u16) -> Option<u16> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let src = packet.get(12..16)?;
    if ihl < 20 || packet.get(9) != Some(&1) || src != from.octets() {
        return None;
    }
    let icmp = packet.get(ihl..)?;
    if icmp.len() < 8 || icmp[0] != ECHO_REPLY || icmp[1] != 0 || checksum(icmp) != 0 {
        return None;
    }
    if u16::from_be_bytes([icmp[4], icmp[5]]) != ident {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log shaped like a link-down failover with advert_int 1: 700 requests with the
    /// send jitter the pinger shows (10.0 to 10.4 ms apart), the first 3 unanswered (ARP),
    /// replies stopping after request 150 and resuming at request 512, about 3.6 s later.
    fn recorded() -> (Vec<Duration>, Vec<bool>) {
        let mut sent = Vec::new();
        let mut answered = Vec::new();
        // Jitter as recorded: most requests 10 ms apart, some 10.1-10.4 ms.
        let steps_us = [10_000u64, 10_060, 10_120, 10_000, 10_380, 10_010];
        let mut t = 0u64;
        for i in 0..700usize {
            sent.push(Duration::from_micros(t));
            answered.push(!(151..512).contains(&i) && i >= 3);
            t += if i == 300 {
                10_000
            } else {
                steps_us[i % steps_us.len()]
            };
        }
        (sent, answered)
    }

    #[test]
    fn the_outage_is_the_longest_gap_between_replies() {
        let (sent, answered) = recorded();
        let o = measure(&sent, &answered).expect("replies");
        assert_eq!((o.before, o.after), (150, 512));
        assert_eq!(o.longest_gap, sent[512] - sent[150]);
        let ms = o.longest_gap.as_millis();
        assert!((3_620..3_700).contains(&ms), "{ms}");
        // 361 lost between request 3 (the first reply) and 699 (the last).
        assert_eq!(o.lost, 361);
        assert_eq!(o.counted, 697);
    }

    #[test]
    fn no_loss_means_gaps_of_one_interval() {
        let sent: Vec<Duration> = (0..100).map(|i| INTERVAL * i).collect();
        let o = measure(&sent, &[true; 100]).expect("replies");
        assert_eq!(o.longest_gap, INTERVAL);
        assert_eq!(o.lost, 0);
        assert_eq!(o.counted, 100);
        assert_eq!((o.before, o.after), (0, 1), "the first of equal gaps");
    }

    #[test]
    fn leading_and_trailing_losses_do_not_count() {
        let sent: Vec<Duration> = (0..10).map(|i| INTERVAL * i).collect();
        let answered = [
            false, false, true, true, false, false, true, true, false, false,
        ];
        let o = measure(&sent, &answered).expect("replies");
        assert_eq!((o.before, o.after), (3, 6));
        assert_eq!(o.longest_gap, INTERVAL * 3);
        assert_eq!((o.lost, o.counted), (2, 6));
        // Several outages: the longest wins.
        let answered = [
            true, false, true, false, false, false, true, false, true, true,
        ];
        let o = measure(&sent, &answered).expect("replies");
        assert_eq!((o.before, o.after, o.lost), (2, 6, 5));
    }

    #[test]
    fn fewer_than_two_replies_measure_nothing() {
        let sent: Vec<Duration> = (0..3).map(|i| INTERVAL * i).collect();
        assert_eq!(measure(&sent, &[false, true, false]), None);
        assert_eq!(measure(&sent, &[false; 3]), None);
        assert_eq!(measure(&[], &[]), None);
        // More flags than requests: the extra ones are ignored.
        assert_eq!(measure(&sent[..1], &[true, true]), None);
    }

    #[test]
    fn wire_sequence_numbers_map_to_the_latest_request() {
        let mut log = PingLog::new();
        for _ in 0..70_000 {
            log.sent.push(log.start);
            log.answered.push(None);
        }
        // 69_999 is 4_463 on the wire.
        assert_eq!(log.request_of(4_463), Some(69_999));
        assert_eq!(log.request_of(4_462), Some(69_998));
        assert_eq!(log.request_of(0), Some(65_536));
        assert_eq!(log.request_of(4_464), Some(4_464), "65_535 requests ago");
        let empty = PingLog::new();
        assert_eq!(empty.request_of(0), None);
        let mut short = PingLog::new();
        short.sent.push(short.start);
        short.answered.push(None);
        assert_eq!(short.request_of(0), Some(0));
        assert_eq!(short.request_of(5), None, "not sent yet");
    }

    #[test]
    fn echo_packets() {
        let req = echo_request(0x1234, 7);
        assert_eq!(req.len(), 32);
        assert_eq!(&req[..2], &[8, 0]);
        assert_eq!(checksum(&req), 0, "a packet with its checksum sums to zero");
        // The reply the kernel would send, behind a 20-byte IPv4 header from 192.0.2.10.
        let mut reply = vec![
            0x45, 0, 0, 52, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 10, 192, 0, 2, 100,
        ];
        let mut icmp = req.clone();
        icmp[0] = ECHO_REPLY;
        icmp[2..4].copy_from_slice(&[0, 0]);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        reply.extend_from_slice(&icmp);
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(echo_reply(&reply, vip, 0x1234), Some(7));
        assert_eq!(echo_reply(&reply, vip, 0x1235), None, "another pinger");
        assert_eq!(
            echo_reply(&reply, Ipv4Addr::new(192, 0, 2, 1), 0x1234),
            None
        );
        let mut bad = reply.clone();
        bad[30] ^= 1;
        assert_eq!(echo_reply(&bad, vip, 0x1234), None, "bad checksum");
        // Our own request, as a raw socket also sees it on loopback.
        let mut own = reply[..20].to_vec();
        own.extend_from_slice(&req);
        assert_eq!(echo_reply(&own, vip, 0x1234), None);
        assert_eq!(echo_reply(&reply[..24], vip, 0x1234), None, "truncated");
        assert_eq!(echo_reply(&[], vip, 0x1234), None);
    }
}
