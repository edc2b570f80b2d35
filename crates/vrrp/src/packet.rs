//! The VRRP advertisement codec: VRRPv2 (RFC 3768, authentication from RFC 2338) and
//! VRRPv3 (RFC 9568), over IPv4 and IPv6, with the receive checks of keepalived.
//!
//! The codec works on the VRRP message only; the IP header is built by the kernel or the
//! driver. [`split_ipv4`] takes the IPv4 header apart for a driver reading a raw IPv4
//! socket (which delivers the header); IPv6 raw sockets deliver the payload alone, with the
//! hop limit and the destination in ancillary data.
//!
//! The message layout is drawn above [`Advert`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Drop, EncodeError};

/// The IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The TTL / hop limit every multicast advert carries and every receiver requires
/// (RFC 9568 5.1.1.3, 5.1.2.3).
pub const VRRP_TTL: u8 = 255;
/// The IPv4 multicast group of VRRP (RFC 9568 5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (RFC 9568 5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The fixed part of a VRRP message.
pub const HEADER_LEN: usize = 8;
/// The authentication data after the addresses of a VRRPv2 message over IPv4.
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type (RFC 9568 5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// The largest VRRPv3 Max Adver Int: 12 bits of centiseconds.
pub const MAX_V3_CENTIS: u16 = 0x0fff;

/// The VRRP version, the high nibble of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Version {
    /// VRRPv2, RFC 3768 (interval in seconds, legacy authentication).
    V2,
    /// VRRPv3, RFC 9568 (interval in centiseconds, pseudo-header checksum).
    V3,
}

impl Version {
    /// The number on the wire.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with that number on the wire.
    pub const fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// The address family of an instance and of its adverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// IPv4: 4-byte addresses, protocol 112 over IPv4.
    Ipv4,
    /// IPv6: 16-byte addresses.
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The length of one address in an advert.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    /// The VRRP multicast group of the family.
    pub const fn multicast_group(self) -> IpAddr {
        match self {
            Family::Ipv4 => IpAddr::V4(MULTICAST_V4),
            Family::Ipv6 => IpAddr::V6(MULTICAST_V6),
        }
    }
}

/// A PASS password: 8 bytes, zero padded (RFC 2338 5.3.6.1). `Debug` does not show it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Password(pub [u8; AUTH_DATA_LEN]);

impl Password {
    /// The password from the `auth_pass` text: only the first 8 bytes are used (keepalived
    /// truncates a longer one with an error), the rest is zero padded.
    pub fn from_text(text: &str) -> Password {
        let mut bytes = [0u8; AUTH_DATA_LEN];
        for (dst, src) in bytes.iter_mut().zip(text.as_bytes()) {
            *dst = *src;
        }
        Password(bytes)
    }

    /// Compares in constant time, as keepalived does (`memcmp_constant_time`).
    pub fn matches(&self, other: &[u8]) -> bool {
        if other.len() != AUTH_DATA_LEN {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(other)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// VRRPv2 authentication (RFC 2338 5.3.6; removed by RFC 3768, refused by strict mode).
/// IPsec AH is not supported: such adverts are dropped as an auth type mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Auth {
    /// Auth type 0: no authentication (the only choice for VRRPv3).
    #[default]
    None,
    /// Auth type 1: a clear-text password in the 8 bytes of authentication data.
    Pass(Password),
}

impl Auth {
    /// The auth type byte of VRRPv2.
    pub const fn type_byte(&self) -> u8 {
        match self {
            Auth::None => AUTH_TYPE_NONE,
            Auth::Pass(_) => AUTH_TYPE_PASS,
        }
    }
}

/// VRRPv2 auth type 0.
pub const AUTH_TYPE_NONE: u8 = 0;
/// VRRPv2 auth type 1 (PASS).
pub const AUTH_TYPE_PASS: u8 = 1;
/// VRRPv2 auth type 2 (IPsec AH, not supported).
pub const AUTH_TYPE_AH: u8 = 2;

/// The advertisement interval as carried on the wire: whole seconds in VRRPv2 (8 bits),
/// centiseconds in VRRPv3 (12 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AdvertInterval {
    /// VRRPv2 Adver Int, seconds.
    Secs(u8),
    /// VRRPv3 Max Adver Int, centiseconds (0..=4095).
    Centis(u16),
}

impl AdvertInterval {
    /// The interval as a duration.
    pub fn as_duration(self) -> Duration {
        match self {
            AdvertInterval::Secs(s) => Duration::from_secs(u64::from(s)),
            AdvertInterval::Centis(cs) => Duration::from_millis(u64::from(cs) * 10),
        }
    }

    /// The interval in microseconds.
    pub fn as_micros(self) -> u64 {
        match self {
            AdvertInterval::Secs(s) => u64::from(s) * 1_000_000,
            AdvertInterval::Centis(cs) => u64::from(cs) * 10_000,
        }
    }

    /// The wire form of `duration` for `version`, rounded to the nearest unit as keepalived
    /// does, and clamped to the field (v2: 1..=255 s, v3: 1..=4095 cs).
    pub fn from_duration(version: Version, duration: Duration) -> AdvertInterval {
        let micros = duration.as_micros();
        match version {
            Version::V2 => {
                let secs = (micros + 500_000) / 1_000_000;
                AdvertInterval::Secs(secs.clamp(1, 255) as u8)
            }
            Version::V3 => {
                let cs = (micros + 5_000) / 10_000;
                AdvertInterval::Centis(cs.clamp(1, u128::from(MAX_V3_CENTIS)) as u16)
            }
        }
    }

    /// The version whose field this is.
    pub const fn version(self) -> Version {
        match self {
            AdvertInterval::Secs(_) => Version::V2,
            AdvertInterval::Centis(_) => Version::V3,
        }
    }
}

/// A decoded (or to be encoded) VRRP advertisement (RFC 9568 5.2, RFC 3768 5.3):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | v2: Auth Type | v2: Adver Int |          Checksum              |
/// | v3: (rsvd)| Max Adver Int (cs)|                                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Count × IPv4 (4 bytes) or IPv6 (16 bytes) address     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | v2 over IPv4 only: Authentication Data (8 bytes, PASS password |
/// | zero padded; all zero without authentication)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The Count IPvX Addr field is not stored: it is always `addrs.len()` ([`Advert::count`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Advert {
    /// The VRRP version.
    pub version: Version,
    /// The Virtual Router ID (1..=255 on a valid router; 0 is decoded as is).
    pub vrid: u8,
    /// The sender's priority: 255 owner, 1..=254 backup, 0 master stopping.
    pub priority: u8,
    /// VRRPv2 authentication; always [`Auth::None`] in VRRPv3 and over IPv6.
    pub auth: Auth,
    /// The advertisement interval, in the unit of the version.
    pub interval: AdvertInterval,
    /// The virtual addresses, all of the advert's family.
    pub addrs: Vec<IpAddr>,
}

impl Advert {
    /// The Count IPvX Addr field.
    pub fn count(&self) -> usize {
        self.addrs.len()
    }
}

/// How the VRRPv3 checksum is computed over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ChecksumMode {
    /// RFC 9568 5.2.8: over an IPv4 pseudo-header {src, dst, 0, 112, length} and the
    /// message, with the real destination (the multicast group or the unicast peer).
    #[default]
    PseudoHeader,
    /// keepalived's `v3_checksum_as_v2`: no pseudo-header, as VRRPv2 does (interop with
    /// some other vendors). On receive both forms are accepted.
    AsV2,
}

/// What the receive side knows about a packet besides its VRRP bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RxMeta {
    /// The IP source address.
    pub src: IpAddr,
    /// The IP destination address (from the IPv4 header or IPV6_PKTINFO).
    pub dst: IpAddr,
    /// The IPv4 TTL or IPv6 hop limit (IPV6_HOPLIMIT); `None` when unknown, which skips
    /// the TTL checks (keepalived's `rx_ttl_hl == -1`).
    pub ttl_or_hop_limit: Option<u8>,
}

/// A unicast peer and the TTL range its adverts must arrive with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnicastPeer {
    /// The peer's address.
    pub addr: IpAddr,
    /// `min_ttl N`: adverts from the peer with a lower TTL are dropped.
    pub min_ttl: Option<u8>,
    /// `max_ttl N`: adverts from the peer with a higher TTL are dropped.
    pub max_ttl: Option<u8>,
}

impl UnicastPeer {
    /// A peer without TTL bounds.
    pub const fn new(addr: IpAddr) -> UnicastPeer {
        UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        }
    }

    fn has_ttl_bounds(&self) -> bool {
        self.min_ttl.is_some() || self.max_ttl.is_some()
    }
}

/// What the receiving instance expects: the checks of keepalived's `vrrp_check_packet`
/// that do not depend on the instance's changing state are run by [`decode`] with these.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReceiveRules {
    /// The instance's family.
    pub family: Family,
    /// The instance's version.
    pub version: Version,
    /// VRRPv2: the authentication the instance uses (type and password must match).
    pub auth: Auth,
    /// The instance's configured interval; a VRRPv2 advert must carry the same.
    pub interval: AdvertInterval,
    /// How VRRPv3 IPv4 checksums are computed.
    pub checksum: ChecksumMode,
    /// The instance uses unicast peers: no TTL-255 rule, the destination must be unicast.
    pub unicast: bool,
    /// `check_unicast_src`: the source must be one of `peers` (also on when a peer has a
    /// TTL bound).
    pub check_unicast_source: bool,
    /// The unicast peers.
    pub peers: Vec<UnicastPeer>,
    /// `owner_ignore_adverts` while the effective priority is 255: drop every advert.
    pub owner_ignore_adverts: bool,
}

impl ReceiveRules {
    /// Multicast rules for `family`/`version` with no authentication.
    pub fn multicast(family: Family, version: Version, interval: AdvertInterval) -> ReceiveRules {
        ReceiveRules {
            family,
            version,
            auth: Auth::None,
            interval,
            checksum: ChecksumMode::PseudoHeader,
            unicast: false,
            check_unicast_source: false,
            peers: Vec::new(),
            owner_ignore_adverts: false,
        }
    }
}

/// The length of a VRRP message of `version`, `family`, `count` addresses.
pub const fn message_len(version: Version, family: Family, count: usize) -> usize {
    let auth = match (version, family) {
        (Version::V2, Family::Ipv4) => AUTH_DATA_LEN,
        _ => 0,
    };
    HEADER_LEN + count * family.addr_len() + auth
}

/// The VRID of a VRRP message, read before any check so the driver can pick the instance.
pub fn peek_vrid(bytes: &[u8]) -> Option<u8> {
    bytes.get(1).copied()
}

/// The RFC 1071 Internet checksum of the concatenation of `parts` (each part must have an
/// even length except the last).
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u64::from(u16::from_be_bytes([*last, 0]));
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The pseudo-header of the VRRPv3 checksum: IPv4 {src, dst, 0, 112, u16 len} (RFC 9568
/// 5.2.8) or IPv6 {src, dst, u32 len, 0, 0, 0, 112} (RFC 8200 8.1).
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> Option<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).ok()?;
            let mut p = Vec::with_capacity(12);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.push(0);
            p.push(IPPROTO_VRRP);
            p.extend_from_slice(&len.to_be_bytes());
            Some(p)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).ok()?;
            let mut p = Vec::with_capacity(40);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
            Some(p)
        }
        _ => None,
    }
}

/// Whether the checksum of `msg` (whose checksum field is filled in) is right for its
/// version, family and mode.
fn checksum_ok(msg: &[u8], version: Version, src: IpAddr, dst: IpAddr, mode: ChecksumMode) -> bool {
    let plain = || internet_checksum(&[msg]) == 0;
    let pseudo = || match pseudo_header(src, dst, msg.len()) {
        Some(p) => internet_checksum(&[&p, msg]) == 0,
        None => false,
    };
    match (Family::of(&src), version, mode) {
        // RFC 3768 5.3.8: VRRPv2 over IPv4 has no pseudo-header.
        (Family::Ipv4, Version::V2, _) => plain(),
        (Family::Ipv4, Version::V3, ChecksumMode::PseudoHeader) => pseudo(),
        // keepalived does not check at all with v3_checksum_as_v2; we accept both forms.
        (Family::Ipv4, Version::V3, ChecksumMode::AsV2) => plain() || pseudo(),
        // IPv6: the kernel computes and checks it (IPV6_CHECKSUM 6) over the pseudo-header,
        // whatever the version.
        (Family::Ipv6, _, _) => pseudo(),
    }
}

/// Encodes `advert` as a VRRP message from `src` to `dst` (the real destination: the
/// multicast group or the unicast peer), checksum included.
///
/// VRRPv3 over IPv6 gets the pseudo-header checksum the kernel would compute with
/// `IPV6_CHECKSUM`; `checksum` only matters for VRRPv3 over IPv4.
pub fn encode(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    checksum: ChecksumMode,
) -> Result<Vec<u8>, EncodeError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(EncodeError::FamilyMismatch);
    }
    if advert.addrs.iter().any(|a| Family::of(a) != family) {
        return Err(EncodeError::FamilyMismatch);
    }
    let count = u8::try_from(advert.addrs.len())
        .map_err(|_| EncodeError::TooManyAddresses(advert.addrs.len()))?;
    let (byte4, byte5) = match (advert.version, advert.interval) {
        (Version::V2, AdvertInterval::Secs(s)) => {
            if family == Family::Ipv6 && advert.auth != Auth::None {
                return Err(EncodeError::AuthNotAllowed);
            }
            (advert.auth.type_byte(), s)
        }
        (Version::V3, AdvertInterval::Centis(cs)) => {
            if cs > MAX_V3_CENTIS {
                return Err(EncodeError::IntervalRange(cs));
            }
            if advert.auth != Auth::None {
                return Err(EncodeError::AuthNotAllowed);
            }
            let [hi, lo] = cs.to_be_bytes();
            (hi, lo)
        }
        _ => return Err(EncodeError::IntervalVersionMismatch),
    };
    let len = message_len(advert.version, family, advert.addrs.len());
    let mut msg = Vec::with_capacity(len);
    msg.push(advert.version.number() << 4 | TYPE_ADVERTISEMENT);
    msg.push(advert.vrid);
    msg.push(advert.priority);
    msg.push(count);
    msg.push(byte4);
    msg.push(byte5);
    msg.extend_from_slice(&[0, 0]);
    for addr in &advert.addrs {
        match addr {
            IpAddr::V4(a) => msg.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => msg.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == Version::V2 && family == Family::Ipv4 {
        match advert.auth {
            Auth::None => msg.extend_from_slice(&[0; AUTH_DATA_LEN]),
            Auth::Pass(p) => msg.extend_from_slice(&p.0),
        }
    }
    let sum = match (family, advert.version, checksum) {
        (Family::Ipv4, Version::V2, _) | (Family::Ipv4, Version::V3, ChecksumMode::AsV2) => {
            internet_checksum(&[&msg])
        }
        _ => {
            let p = pseudo_header(src, dst, msg.len()).ok_or(EncodeError::FamilyMismatch)?;
            internet_checksum(&[&p, &msg])
        }
    };
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(msg)
}

/// Decodes a VRRP message and runs keepalived's receive checks (KEEPALIVED-REFERENCE
/// 6.3, `vrrp_check_packet`) in its order:
///
/// 1. the addresses are of the instance's family;
/// 2. the length is exactly the header, `count` addresses and (v2/IPv4) auth data,
///    computed with the packet's own version (RFC 9568 7.1 "MUST verify that the received
///    packet contains the complete VRRP packet");
/// 3. TTL / hop limit 255 unless the instance is unicast (RFC 9568 7.1);
/// 4. the version is the instance's (RFC 9568 7.1);
/// 5. v2: a known auth type, the instance's auth type, the PASS password (RFC 2338 7.1);
/// 6. v2: the interval equals ours (RFC 3768 7.1; a v3 mismatch is accepted: the backup
///    adopts the master's interval);
/// 7. the type is ADVERTISEMENT (RFC 9568 7.1);
/// 8. the checksum (RFC 9568 7.1);
/// 9. a multicast destination iff the instance is not unicast;
/// 10. `owner_ignore_adverts` with effective priority 255;
/// 11. unicast: the source is a peer (with `check_unicast_src` or a TTL bound), and the
///     TTL is within the peer's `min_ttl`/`max_ttl`.
///
/// The VRID is not checked (the driver picked the instance by it, see [`peek_vrid`]), nor
/// the address list (a mismatch is only counted, by the instance). Never panics.
pub fn decode(bytes: &[u8], meta: &RxMeta, rules: &ReceiveRules) -> Result<Advert, Drop> {
    let family = rules.family;
    if Family::of(&meta.src) != family || Family::of(&meta.dst) != family {
        return Err(Drop::Family);
    }
    // 2. Length.
    let (Some(&vers_type), Some(&count)) = (bytes.first(), bytes.get(3)) else {
        return Err(Drop::Length {
            received: bytes.len(),
            expected: HEADER_LEN,
        });
    };
    let pkt_version = vers_type >> 4;
    let auth_len = if pkt_version == 2 && family == Family::Ipv4 {
        AUTH_DATA_LEN
    } else {
        0
    };
    let expected = HEADER_LEN + usize::from(count) * family.addr_len() + auth_len;
    if bytes.len() != expected {
        return Err(Drop::Length {
            received: bytes.len(),
            expected,
        });
    }
    // 3. TTL / hop limit.
    if !rules.unicast {
        if let Some(ttl) = meta.ttl_or_hop_limit {
            if ttl != VRRP_TTL {
                return Err(Drop::Ttl { received: ttl });
            }
        }
    }
    // 4. Version.
    if pkt_version != rules.version.number() {
        return Err(Drop::Version {
            received: pkt_version,
        });
    }
    let version = rules.version;
    let byte4 = bytes[4];
    let byte5 = bytes[5];
    // 5-6. VRRPv2 authentication and interval.
    let mut auth = Auth::None;
    let interval = match version {
        Version::V2 => {
            if !matches!(byte4, AUTH_TYPE_NONE | AUTH_TYPE_PASS | AUTH_TYPE_AH) {
                return Err(Drop::InvalidAuthType { received: byte4 });
            }
            if byte4 != rules.auth.type_byte() {
                return Err(Drop::AuthTypeMismatch { received: byte4 });
            }
            if let Auth::Pass(password) = rules.auth {
                let data = &bytes[expected - AUTH_DATA_LEN..];
                if !password.matches(data) {
                    return Err(Drop::AuthFailure);
                }
                auth = Auth::Pass(password);
            }
            if AdvertInterval::Secs(byte5) != rules.interval {
                return Err(Drop::IntervalMismatch { received: byte5 });
            }
            AdvertInterval::Secs(byte5)
        }
        Version::V3 => AdvertInterval::Centis(u16::from_be_bytes([byte4, byte5]) & MAX_V3_CENTIS),
    };
    // 7. Type.
    let pkt_type = vers_type & 0x0f;
    if pkt_type != TYPE_ADVERTISEMENT {
        return Err(Drop::Type { received: pkt_type });
    }
    // 8. Checksum.
    if !checksum_ok(bytes, version, meta.src, meta.dst, rules.checksum) {
        return Err(Drop::Checksum);
    }
    // 9. Destination mode.
    if meta.dst.is_multicast() == rules.unicast {
        return Err(Drop::DestinationMode {
            expected_unicast: rules.unicast,
        });
    }
    // 10. Address owner ignoring adverts.
    if rules.owner_ignore_adverts {
        return Err(Drop::OwnerIgnoresAdverts);
    }
    // 11. Unicast source and TTL range.
    if rules.unicast
        && (rules.check_unicast_source || rules.peers.iter().any(UnicastPeer::has_ttl_bounds))
    {
        let Some(peer) = rules.peers.iter().find(|p| p.addr == meta.src) else {
            return Err(Drop::UnknownUnicastSource);
        };
        if let Some(ttl) = meta.ttl_or_hop_limit {
            let low = peer.min_ttl.is_some_and(|m| ttl < m);
            let high = peer.max_ttl.is_some_and(|m| ttl > m);
            if low || high {
                return Err(Drop::UnicastTtl { received: ttl });
            }
        }
    }
    let addrs = bytes[HEADER_LEN..HEADER_LEN + usize::from(count) * family.addr_len()]
        .chunks_exact(family.addr_len())
        .map(|c| match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
            Family::Ipv6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(c);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        })
        .collect();
    Ok(Advert {
        version,
        vrid: bytes[1],
        priority: bytes[2],
        auth,
        interval,
        addrs,
    })
}

/// The fields of a received IPv4 header the receive checks need.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |  Protocol 112 |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options (IHL > 5)                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Protocol (112 for VRRP, 51 for AH).
    pub protocol: u8,
    /// Header length in bytes (IHL × 4).
    pub header_len: usize,
    /// Total length.
    pub total_len: usize,
}

impl Ipv4Header {
    /// The receive metadata for [`decode`].
    pub fn rx_meta(&self) -> RxMeta {
        RxMeta {
            src: IpAddr::V4(self.src),
            dst: IpAddr::V4(self.dst),
            ttl_or_hop_limit: Some(self.ttl),
        }
    }
}

/// The Ethernet minimum frame less its header: IP packets shorter than this may arrive
/// with padding after Total Length.
const ETH_MIN_PAYLOAD: usize = 46;

/// Splits an IPv4 packet read from a raw socket into its header and VRRP message.
///
/// Ethernet padding after Total Length is allowed, as keepalived allows it (only when the
/// packet is shorter than the Ethernet minimum). A packet that is not VRRP (protocol 112)
/// or is malformed gives [`Drop::IpHeader`].
pub fn split_ipv4(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), Drop> {
    if packet.len() < 20 {
        return Err(Drop::IpHeader);
    }
    if packet[0] >> 4 != 4 {
        return Err(Drop::IpHeader);
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if header_len < 20 || total_len < header_len || total_len > packet.len() {
        return Err(Drop::IpHeader);
    }
    if total_len != packet.len() && packet.len() > ETH_MIN_PAYLOAD {
        return Err(Drop::IpHeader);
    }
    let protocol = packet[9];
    if protocol != IPPROTO_VRRP {
        return Err(Drop::IpHeader);
    }
    let header = Ipv4Header {
        src: Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]),
        dst: Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]),
        ttl: packet[8],
        protocol,
        header_len,
        total_len,
    };
    Ok((header, &packet[header_len..total_len]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v3_advert(addrs: Vec<IpAddr>) -> Advert {
        Advert {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            auth: Auth::None,
            interval: AdvertInterval::Centis(100),
            addrs,
        }
    }

    // RFC 1071 4.1 example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), !0xddf2);
        // Odd length pads with a zero byte.
        assert_eq!(internet_checksum(&[&[0xab]]), !0xab00);
    }

    // RFC 9568 5.2.8: the v3 checksum covers a pseudo-header with the real destination.
    #[test]
    fn v3_unicast_checksum_uses_the_peer_address() {
        let a = v3_advert(vec![v4("192.0.2.54")]);
        let peer = v4("192.0.2.2");
        let to_peer = encode(&a, v4("192.0.2.1"), peer, ChecksumMode::PseudoHeader).unwrap();
        let to_group = encode(
            &a,
            v4("192.0.2.1"),
            IpAddr::V4(MULTICAST_V4),
            ChecksumMode::PseudoHeader,
        )
        .unwrap();
        assert_ne!(to_peer[6..8], to_group[6..8]);
        let mut rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, a.interval);
        rules.unicast = true;
        let meta = RxMeta {
            src: v4("192.0.2.1"),
            dst: peer,
            ttl_or_hop_limit: Some(64),
        };
        assert_eq!(decode(&to_peer, &meta, &rules), Ok(a.clone()));
        assert_eq!(decode(&to_group, &meta, &rules), Err(Drop::Checksum));
    }

    // keepalived v3_checksum_as_v2: the checksum leaves out the pseudo-header.
    #[test]
    fn v3_checksum_as_v2() {
        let a = v3_advert(vec![v4("192.0.2.10")]);
        let (src, dst) = (v4("192.0.2.1"), IpAddr::V4(MULTICAST_V4));
        let bytes = encode(&a, src, dst, ChecksumMode::AsV2).unwrap();
        assert_eq!(internet_checksum(&[&bytes]), 0);
        let meta = RxMeta {
            src,
            dst,
            ttl_or_hop_limit: Some(255),
        };
        let mut rules = ReceiveRules::multicast(Family::Ipv4, Version::V3, a.interval);
        assert_eq!(decode(&bytes, &meta, &rules), Err(Drop::Checksum));
        rules.checksum = ChecksumMode::AsV2;
        assert_eq!(decode(&bytes, &meta, &rules), Ok(a.clone()));
        // With as_v2 a peer that uses the pseudo-header is still accepted.
        let rfc = encode(&a, src, dst, ChecksumMode::PseudoHeader).unwrap();
        assert_eq!(decode(&rfc, &meta, &rules), Ok(a));
    }

    #[test]
    fn encode_rejects_inconsistent_adverts() {
        let (s4, d4) = (v4("192.0.2.1"), IpAddr::V4(MULTICAST_V4));
        let mut a = v3_advert(vec![v4("2001:db8::1")]);
        assert_eq!(
            encode(&a, s4, d4, ChecksumMode::PseudoHeader),
            Err(EncodeError::FamilyMismatch)
        );
        a.addrs = vec![v4("192.0.2.9"); 256];
        assert_eq!(
            encode(&a, s4, d4, ChecksumMode::PseudoHeader),
            Err(EncodeError::TooManyAddresses(256))
        );
        a.addrs.clear();
        a.interval = AdvertInterval::Secs(1);
        assert_eq!(
            encode(&a, s4, d4, ChecksumMode::PseudoHeader),
            Err(EncodeError::IntervalVersionMismatch)
        );
        a.interval = AdvertInterval::Centis(4096);
        assert_eq!(
            encode(&a, s4, d4, ChecksumMode::PseudoHeader),
            Err(EncodeError::IntervalRange(4096))
        );
        a.interval = AdvertInterval::Centis(100);
        a.auth = Auth::Pass(Password::from_text("x"));
        assert_eq!(
            encode(&a, s4, d4, ChecksumMode::PseudoHeader),
            Err(EncodeError::AuthNotAllowed)
        );
        assert_eq!(
            encode(&a, s4, v4("ff02::12"), ChecksumMode::PseudoHeader),
            Err(EncodeError::FamilyMismatch)
        );
    }

    // keepalived 2.11: only the first 8 characters of auth_pass are used.
    #[test]
    fn password_is_truncated_and_padded() {
        assert_eq!(Password::from_text("kapass").0, *b"kapass\0\0");
        assert_eq!(Password::from_text("0123456789").0, *b"01234567");
        assert_eq!(
            format!("{:?}", Password::from_text("secret")),
            "Password(..)"
        );
        assert!(Password::from_text("ab").matches(b"ab\0\0\0\0\0\0"));
        assert!(!Password::from_text("ab").matches(b"ab\0\0\0\0\0"));
    }

    // keepalived 6.4: v2 intervals are whole seconds 1..255, v3 centiseconds 1..4095.
    #[test]
    fn interval_rounding() {
        let d = Duration::from_millis;
        assert_eq!(
            AdvertInterval::from_duration(Version::V2, d(1499)),
            AdvertInterval::Secs(1)
        );
        assert_eq!(
            AdvertInterval::from_duration(Version::V2, d(10)),
            AdvertInterval::Secs(1)
        );
        assert_eq!(
            AdvertInterval::from_duration(Version::V2, d(300_000)),
            AdvertInterval::Secs(255)
        );
        assert_eq!(
            AdvertInterval::from_duration(Version::V3, d(505)),
            AdvertInterval::Centis(51)
        );
        assert_eq!(
            AdvertInterval::from_duration(Version::V3, d(41_000)),
            AdvertInterval::Centis(4095)
        );
        assert_eq!(AdvertInterval::Centis(50).as_micros(), 500_000);
        assert_eq!(
            AdvertInterval::Secs(2).as_duration(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn split_ipv4_checks_the_header() {
        assert_eq!(split_ipv4(&[0x45; 10]), Err(Drop::IpHeader));
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[3] = 28;
        p[8] = 255;
        p[9] = IPPROTO_VRRP;
        let (h, rest) = split_ipv4(&p).unwrap();
        assert_eq!((h.header_len, h.total_len, rest.len()), (20, 28, 8));
        // Ethernet padding of a short packet is allowed.
        p.extend_from_slice(&[0; 18]);
        assert_eq!(split_ipv4(&p).unwrap().1.len(), 8);
        p.push(0);
        assert_eq!(split_ipv4(&p), Err(Drop::IpHeader));
        p.truncate(28);
        p[9] = 51;
        assert_eq!(split_ipv4(&p), Err(Drop::IpHeader));
        p[9] = IPPROTO_VRRP;
        p[0] = 0x44;
        assert_eq!(split_ipv4(&p), Err(Drop::IpHeader));
    }
}
