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

    /// A log recorded by the demo's pinger during a link-down failover (VRRPv2,
    /// advert_int 1): per request, the microseconds since the previous one, `x` when it got
    /// no reply.
    const RECORDED: &str = "
    74 10094 9986 10013 9997 10029 10011 9966 9994 10006 9994 10000 10000 9999 9975 10212
    9813 10000 9995 10006 10768 9230 9998 9996 10005 9981 10013 10002 9973 10028 10134 9914
    10200 9748 10000 9985 10020 9997 9969 10034 9999 9996 10009 10172 9941 9866 10009 9988
    9984 10189 9810 10029 9972 10001 10027 9982 10013 10047 9925 10233 9794 10003 9996 9972
    10000 10186 9842 9998 9975 10023 9998 9998 9977 9995 10031 10166 9831 9994 9981 10032
    10022 9952 9998 9993 10028 9983 10024 9996 10004 10307 9686 9992 9981 10211 9813 9981
    10024 10170 9829 9988 10135 9864 10006 10167x 9808x 9999x 9996x 10788x 9216x 10185x
    9810x 10186x 9810x 10025x 9978x 10012x 9986x 10024x 9974x 10022x 9974x 10024x 9977x
    10024x 9976x 10032x 9968x 10029x 9969x 10191x 9807x 10029x 9970x 10029x 9974x 10024x
    9971x 10249x 9745x 10291x 9744x 9991x 9981x 10354x 9636x 10035x 9971x 10023x 9977x
    10018x 9979x 10130x 9871x 10021x 9978x 10029x 9970x 10025x 9971x 9998x 10006x 9999x
    9995x 10027x 9970x 10024x 9972x 10025x 9977x 10025x 9977x 10021x 9987x 10012x 9984x
    10260x 9758x 10006x 9981x 10024x 9987x 9997x 9979x 10000x 9996x 10003x 9993x 10011x
    10005x 10214x 9919x 9943x 10053x 9880x 9982x 10005x 10357x 10013x 9618x 10001x 10022x
    10012x 10008x 9982x 9993x 10001x 10008x 9990x 10000x 10171x 9815x 10182x 9817x 10003x
    9989x 10033x 9996x 9972x 10039x 10004x 9992x 9992x 9970x 10019x 10195x 10081x 9722x
    10001x 9973x 10028x 9975x 10007x 9985x 10016x 9984x 10015x 9988x 10023x 10003x 9977x
    9996x 10012x 9990x 10021x 10000x 9994x 9981x 10325x 9672x 10038x 9960x 10040x 9992x
    10000x 9972x 10030x 9965x 10214x 9786x 10023x 9975x 10018x 9981x 10020x 9980x 10028x
    9966x 10019x 9976x 10028x 9998x 9992x 10009x 10010x 9981x 10033x 10925x 9047x 10000x
    11422x 8591x 10005x 10006x 9987x 9982x 10007x 10018x 9963x 10000x 10109x 9899x 10004x
    9981x 10010x 9984x 9999x 10031x 10003x 9968x 10022x 9974x 10021x 9990x 10020x 9973x
    10014x 9979x 10200x 9802x 10198x 9832x 9995x 10004x 10002x 9971x 10178x 9815x 10001x
    10001x 11162x 8828x 10030x 9971x 10182x 9826x 10025x 9971x 10027x 9970x 10218x 9810x
    10007x 10282x 9796x 9890x 10022x 10004x 9992x 10009x 9995x 10172x 9999x 9812x 10015x
    9973x 10023x 9974x 10020x 9979x 10011x 11010x 8991x 9985x 10037x 9958x 10034x 10002x
    9987x 9982x 9995x 10000x 9991x 10014x 10194x 9804x 10019x 9976x 10023x 9978x 10019x
    9971x 10011x 9987x 10028x 9974x 10025x 9980x 10027x 9973x 10029x 9982x 10007x 9988x
    9994x 9997x 9994x 9997x 10029x 9974x 10027x 9965x 10042x 9962x 10192x 9805x 10026x 9973x
    10023x 9981x 10018x 9977x 10028x 9981x 9986x 10004x 10023x 9980x 10335x 9972x 10064x
    9631x 10020x 9973x 10024x 9978x 10197x 9798x 10003x 10014x 9996x 10182x 9841x 9970x
    10019x 9973x 10033x 10000x 9995x 9971x 10003x 9995x 10032x 9999x 10002x 9974x 9993x
    9998x 10026x 9996x 9979x 9998x 10028x 10001x 9989x 9979x 10023x 10000x 10175x 9832x
    9967x 10027x 10164x 9822x 10008x 9974x 10031x 9991x 10095x 9889x 9993x 9996x 10027 9979
    10027 9963 10030 10177 10005 9791 9996 10036 9996 9998 10159 9841 10161 9864 9978 9974
    10017 10023 9979 9992 9986 10015 10006 10027 9973 9971 10018 9999 10011 9994 9994 9976
    10092 9944 10162 9807 10014 10022 10148 9847 9991 10139 9859 10006 9976 9991 9989 10296
    9704 10042
    ";

    fn recorded() -> (Vec<Duration>, Vec<bool>) {
        let mut t = Duration::ZERO;
        RECORDED
            .split_whitespace()
            .map(|w| {
                let us: u64 = w.trim_end_matches('x').parse().expect("a number");
                t += Duration::from_micros(us);
                (t, !w.ends_with('x'))
            })
            .unzip()
    }

    #[test]
    fn the_outage_is_the_longest_gap_between_replies() {
        let (sent, answered) = recorded();
        assert_eq!(sent.len(), 513);
        let o = measure(&sent, &answered).expect("replies");
        // Replies stop after request 102 and come back at request 461, 3.59 s later (the
        // demo reported "failover seen by the client: 3.59 s", "pings lost: 358 of 513").
        assert_eq!((o.before, o.after), (102, 461));
        assert_eq!(o.longest_gap, Duration::from_micros(3_589_817));
        assert_eq!((o.lost, o.counted), (358, 513));
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
