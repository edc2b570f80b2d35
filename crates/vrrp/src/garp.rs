//! Gratuitous ARP and unsolicited Neighbour Advertisement frames (KEEPALIVED-REFERENCE
//! 6.7, KERNEL-INTERFACES 3).
//!
//! A new master announces each virtual address so that neighbours and switches move it to
//! its MAC address: a gratuitous ARP for IPv4 (RFC 5227 3 "ARP Announcement"), an
//! unsolicited Neighbour Advertisement for IPv6 (RFC 4861 7.2.6). Both are built here as
//! complete Ethernet frames, ready for an `AF_PACKET`/`SOCK_RAW` socket; nothing here does
//! I/O. The layouts are the ones keepalived sends (`vrrp_arp.c`, `vrrp_ndisc.c`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::packet::internet_checksum;

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// The Ethernet address of the IPv6 all-nodes group ff02::1 (RFC 2464 7: 33:33 and the
/// low 32 bits of the group).
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
/// The IPv6 link-local all-nodes group.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv4 (the ARP protocol type).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The length of an Ethernet header (no VLAN tag).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// The length of a gratuitous ARP frame (the driver pads it to the 60-byte minimum).
pub const GARP_FRAME_LEN: usize = ETHERNET_HEADER_LEN + 28;
/// The length of an unsolicited NA frame: Ethernet, IPv6 header, NA, one option.
pub const NA_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NA_LEN;
/// The IPv6 next header (and pseudo-header) value of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type Neighbor Advertisement (RFC 4861 4.4).
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// The NA Router flag (R).
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// The NA Solicited flag (S); never set in an unsolicited NA.
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// The NA Override flag (O).
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Neighbour Discovery option type Target Link-Layer Address (RFC 4861 4.6.1).
pub const ND_OPT_TARGET_LINKADDR: u8 = 2;

const ARP_HRD_ETHER: u16 = 1;
const ARP_OP_REQUEST: u16 = 1;
const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 header (4) + flags/reserved (4) + target (16) + option (8).
const NA_LEN: usize = 32;
/// RFC 4861 7.1.2: a node drops an NA whose hop limit is not 255.
const ND_HOP_LIMIT: u8 = 255;

/// Writes the 14-byte Ethernet header.
fn ethernet_header(frame: &mut Vec<u8>, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
}

/// A gratuitous ARP for `ip` at `mac`: an ARP **request** to the broadcast address, as
/// keepalived sends (some hosts ignore gratuitous replies).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Ethernet destination ff:ff:ff:ff:ff:ff (broadcast)     |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                Ethernet source (the interface or VMAC)        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      EtherType 0x0806         |  hardware type 1 (Ethernet)   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | protocol type 0x0800 (IPv4)   |    hln 6      |    pln 4      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     operation 1 (REQUEST)     |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                 sender hardware address = mac                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 sender protocol address = ip                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          target hardware address = ff:ff:ff:ff:ff:ff          |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |  target protocol address = ip |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// 42 bytes ([`GARP_FRAME_LEN`]); the network driver pads it to the Ethernet minimum.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(GARP_FRAME_LEN);
    ethernet_header(&mut frame, BROADCAST_MAC, mac, ETHERTYPE_ARP);
    frame.extend_from_slice(&ARP_HRD_ETHER.to_be_bytes());
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    frame.push(6); // hardware address length
    frame.push(4); // protocol address length
    frame.extend_from_slice(&ARP_OP_REQUEST.to_be_bytes());
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ip.octets());
    frame.extend_from_slice(&BROADCAST_MAC);
    frame.extend_from_slice(&ip.octets());
    frame
}

/// An unsolicited Neighbour Advertisement for `ip` at `mac`, from `ip` itself to all
/// nodes (ff02::1), with the Override flag and, when `router` (the interface forwards),
/// the Router flag (RFC 4861 7.2.6; keepalived sets R iff forwarding is on).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Ethernet destination 33:33:00:00:00:01 (ff02::1)       |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                Ethernet source (the interface or VMAC)        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      EtherType 0x86dd         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  IPv6 header
/// |Version 6| Traffic class 0 |         Flow label 0                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Payload length 32        | Next header 58| Hop limit 255 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Source address = ip (16 bytes)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Destination address ff02::1 (16 bytes)         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ICMPv6
/// |   Type 136    |    Code 0     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Target address = ip (16 bytes)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Type 2     |   Length 1    |   Target link-layer address   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+          = mac                +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// S is never set (RFC 4861 7.2.6). The checksum covers the RFC 8200 8.1 pseudo-header
/// {src, dst, u32 length 32, 0, 0, 0, 58} and the ICMPv6 message. 86 bytes
/// ([`NA_FRAME_LEN`]).
pub fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr, router: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(NA_FRAME_LEN);
    ethernet_header(&mut frame, ALL_NODES_MAC, mac, ETHERTYPE_IPV6);

    // IPv6 header.
    frame.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow 0
    frame.extend_from_slice(&(NA_LEN as u16).to_be_bytes());
    frame.push(IPPROTO_ICMPV6);
    frame.push(ND_HOP_LIMIT);
    frame.extend_from_slice(&ip.octets());
    frame.extend_from_slice(&ALL_NODES.octets());

    // ICMPv6 Neighbor Advertisement.
    let icmp_start = frame.len();
    frame.push(ICMPV6_NEIGHBOR_ADVERT);
    frame.push(0); // code
    frame.extend_from_slice(&[0, 0]); // checksum, filled below
    let flags = NA_FLAG_OVERRIDE | if router { NA_FLAG_ROUTER } else { 0 };
    frame.extend_from_slice(&[flags, 0, 0, 0]);
    frame.extend_from_slice(&ip.octets());
    frame.push(ND_OPT_TARGET_LINKADDR);
    frame.push(1); // option length in units of 8 bytes
    frame.extend_from_slice(&mac);

    let sum = icmpv6_checksum(ip, ALL_NODES, &frame[icmp_start..]);
    frame[icmp_start + 2..icmp_start + 4].copy_from_slice(&sum.to_be_bytes());
    frame
}

/// The ICMPv6 checksum of `message` (checksum field zero, or filled in to verify: then the
/// result is 0) from `src` to `dst`, over the RFC 8200 8.1 pseudo-header.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut pseudo = [0u8; 40];
    pseudo[..16].copy_from_slice(&src.octets());
    pseudo[16..32].copy_from_slice(&dst.octets());
    pseudo[32..36].copy_from_slice(&len.to_be_bytes());
    pseudo[39] = IPPROTO_ICMPV6;
    internet_checksum(&[&pseudo, message])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    #[test]
    fn gratuitous_arp_is_a_broadcast_request_for_the_address() {
        let frame = gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, 10));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            // Ethernet: destination broadcast, source MAC, type ARP
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x08, 0x06,
            // ARP: hardware 1 (Ethernet), protocol 0x0800, hln 6, pln 4, op 1 (request)
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
            // sender hardware address, sender protocol address 192.0.2.10
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            192, 0, 2, 10,
            // target hardware address broadcast, target protocol address 192.0.2.10
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            192, 0, 2, 10,
        ];
        assert_eq!(frame, expected);
        assert_eq!(frame.len(), GARP_FRAME_LEN);
    }

    #[test]
    fn unsolicited_na_without_router_flag() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let frame = unsolicited_na(MAC, ip, false);
        #[rustfmt::skip]
        let expected: [u8; 86] = [
            // Ethernet: destination 33:33:00:00:00:01, source MAC, type IPv6
            0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x86, 0xdd,
            // IPv6: version 6, class 0, flow 0; payload 32, next header 58, hop limit 255
            0x60, 0x00, 0x00, 0x00,
            0x00, 0x20, 58, 255,
            // source 2001:db8::10
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
            // destination ff02::1
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01,
            // ICMPv6: type 136, code 0, checksum (worked out below)
            136, 0, 0x7a, 0xcd,
            // flags: Override only; reserved
            0x20, 0, 0, 0,
            // target 2001:db8::10
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
            // option 2 (target link-layer address), length 1 (8 bytes), MAC
            2, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
        ];
        assert_eq!(frame, expected);
        assert_eq!(frame.len(), NA_FRAME_LEN);
    }

    /// The checksum in the expected frame above, worked by hand: the 16-bit words of the
    /// pseudo-header and the message, summed with end-around carry.
    #[test]
    fn unsolicited_na_checksum_by_hand() {
        // Pseudo-header: src 2001:0db8::0010 + dst ff02::0001 + length 0x0020 + 0x003a.
        // Message: 0x8800 (type 136, code 0) + 0x2000 (flags) + target 2001:0db8::0010
        //          + 0x0201 (option) + 0x0200 + 0x5e10 + 0x2030 (MAC).
        let words: [u32; 18] = [
            0x2001, 0x0db8, 0x0010, // source
            0xff02, 0x0001, // destination
            0x0020, 0x003a, // length, next header
            0x8800, 0x2000, // type/code, flags
            0x2001, 0x0db8, 0x0010, // target
            0x0201, 0x0200, 0x5e10, 0x2030, // option and MAC
            0, 0,
        ];
        let mut sum: u32 = words.iter().sum(); // 0x2_8530
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let by_hand = !(sum as u16); // !0x8532
        assert_eq!(by_hand, 0x7acd);
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let frame = unsolicited_na(MAC, ip, false);
        assert_eq!(u16::from_be_bytes([frame[56], frame[57]]), by_hand);
    }

    #[test]
    fn unsolicited_na_checksum_verifies_for_any_address_and_flags() {
        for (ip, router) in [
            ("2001:db8::10", false),
            ("2001:db8:ffff:1::abcd", true),
            ("fe80::1", true),
            ("fe80::ffff:ffff:ffff:ffff", false),
        ] {
            let ip: Ipv6Addr = ip.parse().unwrap();
            let frame = unsolicited_na(MAC, ip, router);
            let icmp = &frame[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
            // A message with its checksum filled in sums to zero over the pseudo-header.
            assert_eq!(icmpv6_checksum(ip, ALL_NODES, icmp), 0, "{ip}");
            // ... and does not with another source address.
            assert_ne!(icmpv6_checksum(Ipv6Addr::LOCALHOST, ALL_NODES, icmp), 0);
        }
    }

    #[test]
    fn router_flag_sets_r_and_keeps_o() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let plain = unsolicited_na(MAC, ip, false);
        let router = unsolicited_na(MAC, ip, true);
        assert_eq!(plain[58], NA_FLAG_OVERRIDE);
        assert_eq!(router[58], NA_FLAG_ROUTER | NA_FLAG_OVERRIDE);
        // Only the flags and the checksum differ.
        let differing: Vec<usize> = (0..plain.len())
            .filter(|&i| plain[i] != router[i])
            .collect();
        assert!(
            differing.iter().all(|i| [56, 57, 58].contains(i)),
            "{differing:?}"
        );
        // R adds 0x8000 to the sum: 0x8532 + 0x8000 = 0x1_0532, folded 0x0533, inverted.
        let sum = |f: &[u8]| u16::from_be_bytes([f[56], f[57]]);
        assert_eq!(sum(&router), 0xfacc);
    }
}

/// Spaces gratuitous ARPs and unsolicited NAs out per interface (`vrrp_garp_interval`,
/// `vrrp_gna_interval`, or a `garp_group`'s): a frame submitted less than the interval
/// after the previous one on the same lane waits in a queue, and leaves when its turn
/// comes. With a zero interval every frame leaves at once. Keys are whatever names a lane
/// (the VRRP process uses the interface index and the family).
#[derive(Debug)]
pub struct Pacer<K: Ord> {
    lanes: std::collections::BTreeMap<K, Lane>,
}

#[derive(Debug, Default)]
struct Lane {
    interval: std::time::Duration,
    last: Option<crate::Time>,
    queue: std::collections::VecDeque<Vec<u8>>,
}

impl<K: Ord + Clone> Default for Pacer<K> {
    fn default() -> Self {
        Pacer {
            lanes: std::collections::BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Pacer<K> {
    /// A frame for `lane` at `now`, with that lane's interval: returned when it may leave
    /// now, else queued behind the lane's earlier frames.
    pub fn submit(
        &mut self,
        now: crate::Time,
        lane: K,
        interval: std::time::Duration,
        frame: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let l = self.lanes.entry(lane).or_default();
        l.interval = interval;
        let free = l.last.is_none_or(|t| now >= t.saturating_add(interval));
        if l.queue.is_empty() && (interval.is_zero() || free) {
            l.last = Some(now);
            return Some(frame);
        }
        l.queue.push_back(frame);
        None
    }

    /// When the next queued frame may leave.
    pub fn next_deadline(&self) -> Option<crate::Time> {
        self.lanes
            .values()
            .filter(|l| !l.queue.is_empty())
            .map(|l| {
                l.last
                    .map_or(crate::Time(0), |t| t.saturating_add(l.interval))
            })
            .min()
    }

    /// The queued frames whose turn has come at `now` (at most one per lane: the next one
    /// waits a full interval after it).
    pub fn due(&mut self, now: crate::Time) -> Vec<(K, Vec<u8>)> {
        let mut out = Vec::new();
        for (k, l) in &mut self.lanes {
            let ready = l.last.is_none_or(|t| now >= t.saturating_add(l.interval));
            if ready && let Some(f) = l.queue.pop_front() {
                l.last = Some(now);
                out.push((k.clone(), f));
            }
        }
        out
    }

    /// Frames waiting, over all lanes.
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|l| l.queue.len()).sum()
    }

    /// Forgets a lane (its interface went away) and its queue.
    pub fn drop_lane(&mut self, lane: &K) {
        self.lanes.remove(lane);
    }
}

#[cfg(test)]
mod pacer_tests {
    use super::Pacer;
    use crate::Time;
    use std::time::Duration;

    fn ms(n: u64) -> Time {
        Time(n * 1000)
    }

    #[test]
    fn a_zero_interval_sends_everything_at_once() {
        let mut p = Pacer::default();
        for i in 0..5u8 {
            assert_eq!(
                p.submit(ms(0), 1u32, Duration::ZERO, vec![i]),
                Some(vec![i])
            );
        }
        assert_eq!(p.queued(), 0);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn an_interval_spaces_frames_on_one_interface_and_keeps_their_order() {
        // vrrp_garp_interval 0.01: five frames of a burst leave 10 ms apart.
        let mut p = Pacer::default();
        let gap = Duration::from_millis(10);
        assert_eq!(p.submit(ms(0), 1u32, gap, vec![0]), Some(vec![0]));
        for i in 1..5u8 {
            assert_eq!(p.submit(ms(0), 1u32, gap, vec![i]), None);
        }
        assert_eq!(p.next_deadline(), Some(ms(10)));
        assert!(p.due(ms(9)).is_empty(), "nothing before the interval");
        let mut sent = Vec::new();
        let mut t = 10;
        while let Some(d) = p.next_deadline() {
            assert_eq!(d, ms(t), "each frame one interval after the previous");
            for (_, f) in p.due(d) {
                sent.push((t, f[0]));
            }
            t += 10;
            assert!(t < 1000, "bounded");
        }
        assert_eq!(sent, vec![(10, 1), (20, 2), (30, 3), (40, 4)]);
    }

    #[test]
    fn lanes_do_not_wait_for_each_other() {
        let mut p = Pacer::default();
        let gap = Duration::from_millis(100);
        assert!(p.submit(ms(0), 1u32, gap, vec![1]).is_some());
        assert!(p.submit(ms(0), 1u32, gap, vec![2]).is_none());
        // Another interface (or the other family) is its own lane.
        assert!(p.submit(ms(0), 2u32, gap, vec![3]).is_some());
        assert_eq!(p.queued(), 1);
        p.drop_lane(&1);
        assert_eq!(p.queued(), 0);
    }

    #[test]
    fn a_frame_after_a_quiet_interval_leaves_at_once() {
        let mut p = Pacer::default();
        let gap = Duration::from_millis(100);
        assert!(p.submit(ms(0), 1u32, gap, vec![1]).is_some());
        assert!(p.submit(ms(150), 1u32, gap, vec![2]).is_some());
        assert!(p.submit(ms(200), 1u32, gap, vec![3]).is_none());
        assert_eq!(p.next_deadline(), Some(ms(250)));
    }
}
