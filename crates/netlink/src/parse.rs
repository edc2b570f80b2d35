//! Reading links and addresses from the kernel's RTM_NEWLINK / RTM_NEWADDR payloads (and
//! their DEL twins), with neli's `Ifinfomsg` and `Ifaddrmsg`.
//!
//! Attribute types are compared with NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off, and
//! every value's length is checked: a kernel that adds a flag bit or an attribute does not
//! break the reading.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::FromBytesWithInput;
use neli::consts::rtnl::RtaType;
use neli::rtnl::{Ifaddrmsg, Ifinfomsg};
use neli::types::{Buffer, RtBuffer};

use crate::model::{Address, Link};

/// NLA_TYPE_MASK: the attribute type without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
const NLA_TYPE_MASK: u16 = 0x3fff;

const IFLA_ADDRESS: u16 = libc::IFLA_ADDRESS;
const IFLA_IFNAME: u16 = libc::IFLA_IFNAME;
const IFLA_MTU: u16 = libc::IFLA_MTU;
const IFLA_LINK: u16 = libc::IFLA_LINK;
const IFLA_LINKINFO: u16 = libc::IFLA_LINKINFO;
const IFLA_AF_SPEC: u16 = libc::IFLA_AF_SPEC;
const IFLA_INFO_KIND: u16 = libc::IFLA_INFO_KIND;
const IFLA_INFO_DATA: u16 = libc::IFLA_INFO_DATA;
const IFLA_MACVLAN_MODE: u16 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;

const IFA_ADDRESS: u16 = libc::IFA_ADDRESS;
const IFA_LOCAL: u16 = libc::IFA_LOCAL;
const IFA_LABEL: u16 = libc::IFA_LABEL;
const IFA_BROADCAST: u16 = libc::IFA_BROADCAST;
const IFA_FLAGS: u16 = libc::IFA_FLAGS;

/// A payload that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParseError(pub String);

type Result<T> = std::result::Result<T, ParseError>;

fn find<T: RtaType>(attrs: &RtBuffer<T, Buffer>, ty: u16) -> Option<&[u8]> {
    attrs
        .iter()
        .find(|a| (Into::<u16>::into(*a.rta_type()) & NLA_TYPE_MASK) == ty)
        .map(|a| a.rta_payload().as_ref())
}

fn nested(payload: &[u8]) -> Result<RtBuffer<u16, Buffer>> {
    RtBuffer::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
        .map_err(|e| ParseError(format!("nested attributes: {e}")))
}

fn u32_of(what: &str, v: &[u8]) -> Result<u32> {
    match v {
        [a, b, c, d, ..] => Ok(u32::from_ne_bytes([*a, *b, *c, *d])),
        _ => Err(ParseError(format!("{what}: {} bytes, not 4", v.len()))),
    }
}

/// A string attribute: up to its NUL, which may be missing.
fn string_of(what: &str, v: &[u8]) -> Result<String> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8(v[..end].to_vec()).map_err(|_| ParseError(format!("{what}: not UTF-8")))
}

fn ip_of(what: &str, family: u8, v: &[u8]) -> Result<IpAddr> {
    if i32::from(family) == libc::AF_INET {
        if let Ok(b) = <[u8; 4]>::try_from(v) {
            return Ok(IpAddr::V4(Ipv4Addr::from(b)));
        }
    } else if i32::from(family) == libc::AF_INET6 {
        if let Ok(b) = <[u8; 16]>::try_from(v) {
            return Ok(IpAddr::V6(Ipv6Addr::from(b)));
        }
    }
    Err(ParseError(format!(
        "{what}: {} bytes for address family {family}",
        v.len()
    )))
}

/// A link from an RTM_NEWLINK or RTM_DELLINK payload.
pub(crate) fn link(payload: &[u8]) -> Result<Link> {
    let msg = Ifinfomsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
        .map_err(|e| ParseError(format!("ifinfomsg: {e}")))?;
    let index = u32::try_from(*msg.ifi_index())
        .map_err(|_| ParseError(format!("ifinfomsg: index {}", msg.ifi_index())))?;
    let flags: u32 = (*msg.ifi_flags()).into();
    let attrs = msg.rtattrs();
    let name = match find(attrs, IFLA_IFNAME) {
        Some(v) => string_of("IFLA_IFNAME", v)?,
        None => return Err(ParseError(format!("link {index} without IFLA_IFNAME"))),
    };
    let mac = find(attrs, IFLA_ADDRESS).and_then(|v| <[u8; 6]>::try_from(v).ok());
    let mtu = find(attrs, IFLA_MTU)
        .map(|v| u32_of("IFLA_MTU", v))
        .transpose()?;
    let parent = find(attrs, IFLA_LINK)
        .map(|v| u32_of("IFLA_LINK", v))
        .transpose()?
        .filter(|&p| p != 0);
    let mut kind = None;
    let mut macvlan_mode = None;
    if let Some(info) = find(attrs, IFLA_LINKINFO) {
        let info = nested(info)?;
        if let Some(k) = find(&info, IFLA_INFO_KIND) {
            kind = Some(string_of("IFLA_INFO_KIND", k)?);
        }
        if kind.as_deref() == Some("macvlan") {
            if let Some(data) = find(&info, IFLA_INFO_DATA) {
                let data = nested(data)?;
                macvlan_mode = find(&data, IFLA_MACVLAN_MODE)
                    .map(|v| u32_of("IFLA_MACVLAN_MODE", v))
                    .transpose()?;
            }
        }
    }
    let mut addr_gen_mode = None;
    if let Some(spec) = find(attrs, IFLA_AF_SPEC) {
        let spec = nested(spec)?;
        if let Some(inet6) = find(&spec, libc::AF_INET6 as u16) {
            let inet6 = nested(inet6)?;
            addr_gen_mode = find(&inet6, IFLA_INET6_ADDR_GEN_MODE).and_then(|v| v.first().copied());
        }
    }
    Ok(Link {
        index,
        name,
        mac,
        admin_up: flags & libc::IFF_UP as u32 != 0,
        running: flags & libc::IFF_RUNNING as u32 != 0,
        mtu,
        kind,
        parent,
        macvlan_mode,
        addr_gen_mode,
    })
}

/// An address from an RTM_NEWADDR or RTM_DELADDR payload.
pub(crate) fn address(payload: &[u8]) -> Result<Address> {
    let msg = Ifaddrmsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
        .map_err(|e| ParseError(format!("ifaddrmsg: {e}")))?;
    let family: u8 = (*msg.ifa_family()).into();
    let attrs = msg.rtattrs();
    let address = find(attrs, IFA_ADDRESS)
        .map(|v| ip_of("IFA_ADDRESS", family, v))
        .transpose()?;
    let local = find(attrs, IFA_LOCAL)
        .map(|v| ip_of("IFA_LOCAL", family, v))
        .transpose()?;
    let (addr, peer) = match (local, address) {
        (Some(l), Some(a)) if l != a => (l, Some(a)),
        (Some(l), _) => (l, None),
        (None, Some(a)) => (a, None),
        (None, None) => {
            return Err(ParseError(format!(
                "address on ifindex {} without IFA_LOCAL or IFA_ADDRESS",
                msg.ifa_index()
            )));
        }
    };
    let broadcast = match find(attrs, IFA_BROADCAST) {
        Some(v) => match ip_of("IFA_BROADCAST", family, v)? {
            IpAddr::V4(b) => Some(b),
            IpAddr::V6(_) => None,
        },
        None => None,
    };
    let label = find(attrs, IFA_LABEL)
        .map(|v| string_of("IFA_LABEL", v))
        .transpose()?;
    let header_flags: u8 = (*msg.ifa_flags()).into();
    let flags = match find(attrs, IFA_FLAGS) {
        Some(v) => u32_of("IFA_FLAGS", v)?,
        None => u32::from(header_flags),
    };
    Ok(Address {
        ifindex: *msg.ifa_index(),
        addr,
        prefix_len: *msg.ifa_prefixlen(),
        peer,
        broadcast,
        label,
        scope: (*msg.ifa_scope()).into(),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::messages;

    /// An RTM_NEWADDR captured from the kernel (`ip -4 -o addr show dev v0`, strace -e
    /// read=3) after `ip addr add 192.0.2.10/24 brd + dev v0 label v0:vip`, header removed.
    #[rustfmt::skip]
    const NEWADDR_V4: &[u8] = &[
        // ifaddrmsg: AF_INET, /24, IFA_F_PERMANENT, scope global, ifindex 3
        0x02, 0x18, 0x80, 0x00, 0x03, 0x00, 0x00, 0x00,
        // IFA_ADDRESS 192.0.2.10
        0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x0a,
        // IFA_LOCAL 192.0.2.10
        0x08, 0x00, 0x02, 0x00, 0xc0, 0x00, 0x02, 0x0a,
        // IFA_BROADCAST 192.0.2.255
        0x08, 0x00, 0x04, 0x00, 0xc0, 0x00, 0x02, 0xff,
        // IFA_LABEL "v0:vip\0" + 1 pad
        0x0b, 0x00, 0x03, 0x00, 0x76, 0x30, 0x3a, 0x76, 0x69, 0x70, 0x00, 0x00,
        // IFA_FLAGS IFA_F_PERMANENT
        0x08, 0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00,
        // IFA_CACHEINFO forever, forever, cstamp, tstamp
        0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x92, 0x67, 0x10, 0x00, 0x92, 0x67, 0x10, 0x00,
    ];

    #[test]
    fn captured_ipv4_address() {
        let a = address(NEWADDR_V4).unwrap();
        assert_eq!(a.ifindex, 3);
        assert_eq!(a.addr, "192.0.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(a.prefix_len, 24);
        assert_eq!(a.peer, None);
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(a.label.as_deref(), Some("v0:vip"));
        assert_eq!(a.scope, 0);
        assert_eq!(a.flags, libc::IFA_F_PERMANENT);
        assert!(!a.nodad());
    }

    /// The RTM_NEWADDR of `frame::tests`, an IPv6 address with nodad.
    #[rustfmt::skip]
    const NEWADDR_V6: &[u8] = &[
        0x0a, 0x40, 0x82, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x14, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xba, 0x68, 0x10, 0x00, 0xba, 0x68, 0x10, 0x00,
        0x08, 0x00, 0x08, 0x00, 0x82, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn captured_ipv6_address() {
        let a = address(NEWADDR_V6).unwrap();
        assert_eq!(a.addr, "2001:db8::10".parse::<IpAddr>().unwrap());
        assert_eq!(a.prefix_len, 64);
        assert!(a.nodad());
        assert_eq!(a.label, None);
        assert_eq!(a.broadcast, None);
    }

    #[test]
    fn peer_and_header_flags() {
        // ifaddrmsg AF_INET /32 flags NODAD, scope link, ifindex 5; IFA_LOCAL, IFA_ADDRESS.
        #[rustfmt::skip]
        let p: &[u8] = &[
            0x02, 0x20, 0x02, 0xfd, 0x05, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x02, 0x00, 192, 0, 2, 1,
            0x08, 0x00, 0x01, 0x00, 192, 0, 2, 2,
        ];
        let a = address(p).unwrap();
        assert_eq!(a.addr, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(a.peer, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(a.flags, libc::IFA_F_NODAD);
        assert_eq!(a.scope, 253);
    }

    #[test]
    fn bad_addresses_are_errors() {
        // No address at all.
        assert!(address(&[2, 24, 0, 0, 3, 0, 0, 0]).is_err());
        // IFA_LOCAL of 3 bytes.
        let p = [2, 24, 0, 0, 3, 0, 0, 0, 7, 0, 2, 0, 1, 2, 3, 0];
        assert!(address(&p).is_err());
        // Shorter than the header.
        assert!(address(&[2, 24, 0]).is_err());
        // An attribute that runs past the end.
        let p = [2, 24, 0, 0, 3, 0, 0, 0, 64, 0, 2, 0, 1, 2, 3, 4];
        assert!(address(&p).is_err());
    }

    /// A macvlan as the kernel describes it, from the kernel's layouts (abridged: the
    /// attributes read here, with IFLA_AF_SPEC flagged NLA_F_NESTED as a newer kernel
    /// might).
    #[rustfmt::skip]
    const NEWLINK_MACVLAN: &[u8] = &[
        // ifinfomsg: AF_UNSPEC, pad, ARPHRD_ETHER, index 4,
        // flags UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP, change 0
        0x00, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x43, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        // IFLA_IFNAME "vrrp.51\0"
        0x0c, 0x00, 0x03, 0x00, b'v', b'r', b'r', b'p', b'.', b'5', b'1', 0x00,
        // IFLA_MTU 1500
        0x08, 0x00, 0x04, 0x00, 0xdc, 0x05, 0x00, 0x00,
        // IFLA_LINK 3
        0x08, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00,
        // IFLA_LINKINFO { IFLA_INFO_KIND "macvlan\0", IFLA_INFO_DATA { IFLA_MACVLAN_MODE 1 } }
        0x1c, 0x00, 0x12, 0x00,
        0x0c, 0x00, 0x01, 0x00, b'm', b'a', b'c', b'v', b'l', b'a', b'n', 0x00,
        0x0c, 0x00, 0x02, 0x00,
        0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
        // IFLA_ADDRESS 00:00:5e:00:01:33 + 2 pad
        0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x00, 0x00,
        // IFLA_AF_SPEC|NLA_F_NESTED { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE 1 } }
        0x10, 0x00, 0x1a, 0x80,
        0x0c, 0x00, 0x0a, 0x00,
        0x05, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn macvlan_link() {
        let l = link(NEWLINK_MACVLAN).unwrap();
        assert_eq!(l.index, 4);
        assert_eq!(l.name, "vrrp.51");
        assert_eq!(l.mac, Some([0, 0, 0x5e, 0, 1, 0x33]));
        assert!(l.admin_up && l.running && l.up());
        assert_eq!(l.mtu, Some(1500));
        assert_eq!(l.kind.as_deref(), Some("macvlan"));
        assert_eq!(l.parent, Some(3));
        assert_eq!(l.macvlan_mode, Some(1));
        assert_eq!(l.addr_gen_mode, Some(1));
    }

    /// The first 0x100 bytes of an RTM_NEWLINK captured from the kernel for a veth `v0`
    /// (`ip -o addr show dev v0`), cut after IFLA_ADDRESS and IFLA_BROADCAST, nlmsghdr
    /// kept and its length fixed to the cut.
    #[rustfmt::skip]
    const NEWLINK_VETH_MSG: &[u8] = &[
        0x18, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0xd6, 0x62, 0x04, 0x6b, 0xbd, 0x27, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x43, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x03, 0x00, 0x76, 0x30, 0x00, 0x00, 0x08, 0x00, 0x0d, 0x00, 0xe8, 0x03, 0x00, 0x00,
        0x05, 0x00, 0x10, 0x00, 0x06, 0x00, 0x00, 0x00, 0x05, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x04, 0x00, 0xdc, 0x05, 0x00, 0x00,
        0x08, 0x00, 0x32, 0x00, 0x44, 0x00, 0x00, 0x00, 0x08, 0x00, 0x33, 0x00, 0xff, 0xff, 0x00, 0x00,
        0x08, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1f, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x28, 0x00, 0xff, 0xff, 0x00, 0x00, 0x08, 0x00, 0x29, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x08, 0x00, 0x3a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x08, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x3b, 0x00, 0xf8, 0xff, 0x07, 0x00,
        0x08, 0x00, 0x3c, 0x00, 0xff, 0xff, 0x00, 0x00, 0x08, 0x00, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x20, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x23, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x2f, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x06, 0x00, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0a, 0x00, 0x01, 0x00, 0x6e, 0xc8, 0xad, 0x59, 0x80, 0xb8, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x00,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    ];

    #[test]
    fn captured_veth_link() {
        let m = messages(NEWLINK_VETH_MSG).next().unwrap().unwrap();
        assert_eq!(m.ty, libc::RTM_NEWLINK);
        let l = link(m.payload).unwrap();
        assert_eq!(l.index, 3);
        assert_eq!(l.name, "v0");
        assert_eq!(l.mac, Some([0x6e, 0xc8, 0xad, 0x59, 0x80, 0xb8]));
        assert_eq!(l.mtu, Some(1500));
        assert!(l.up());
        assert_eq!(l.kind, None);
    }

    #[test]
    fn link_without_name_is_an_error() {
        let p = [0u8; 16];
        assert_eq!(link(&p).unwrap_err().0, "link 0 without IFLA_IFNAME");
    }
}
