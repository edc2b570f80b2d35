//! The virtual MAC and the interface name of a VMAC (REFERENCE 2.12, 6.9; RFC 9568 7.3).

use crate::error::Error;
use crate::model::Family;

/// The default prefix of VMAC interface names: `vrrp.<VRID>`.
pub const VMAC_PREFIX: &str = "vrrp";

/// IFNAMSIZ: interface names are shorter than this.
const IFNAMSIZ: usize = 16;

/// The virtual router MAC of a VRID: 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for
/// IPv6 (RFC 9568 7.3).
pub fn vmac_mac(family: Family, vrid: u8) -> [u8; 6] {
    let kind = match family {
        Family::Inet => 1,
        Family::Inet6 => 2,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// True when `name` is a valid Linux interface name (the kernel's `dev_valid_name`).
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

/// The interface name of a VMAC: the configured one (`use_vmac NAME`), else
/// `vrrp.<VRID>`.
pub fn vmac_name(configured: Option<&str>, vrid: u8) -> Result<String, Error> {
    let name = match configured {
        Some(n) => n.to_string(),
        None => format!("{VMAC_PREFIX}.{vrid}"),
    };
    if valid_ifname(&name) {
        Ok(name)
    } else {
        Err(Error::Invalid {
            what: format!("VMAC name '{name}'"),
            reason: "not a valid interface name (1 to 15 bytes, no '/', ':' or blanks)".into(),
        })
    }
}

/// `00:00:5e:00:01:33`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_of_a_vrid() {
        // REFERENCE 2.12: 00:00:5e:00:01:33 for VRID 51, 00:00:5e:00:02:34 for VRID 52.
        assert_eq!(format_mac(&vmac_mac(Family::Inet, 51)), "00:00:5e:00:01:33");
        assert_eq!(
            format_mac(&vmac_mac(Family::Inet6, 52)),
            "00:00:5e:00:02:34"
        );
        assert_eq!(vmac_mac(Family::Inet, 255), [0, 0, 0x5e, 0, 1, 0xff]);
        assert_eq!(vmac_mac(Family::Inet6, 1), [0, 0, 0x5e, 0, 2, 1]);
    }

    #[test]
    fn name_of_a_vmac() {
        assert_eq!(vmac_name(None, 51).unwrap(), "vrrp.51");
        assert_eq!(vmac_name(None, 255).unwrap(), "vrrp.255");
        assert_eq!(vmac_name(Some("vmac51"), 51).unwrap(), "vmac51");
        assert_eq!(
            vmac_name(Some("a-name-that-is-too-long"), 1)
                .unwrap_err()
                .to_string(),
            "VMAC name 'a-name-that-is-too-long': not a valid interface name (1 to 15 bytes, \
             no '/', ':' or blanks)"
        );
        assert!(vmac_name(Some("eth0:1"), 1).is_err());
        assert!(vmac_name(Some(""), 1).is_err());
        assert!(valid_ifname("123456789012345"));
        assert!(!valid_ifname("1234567890123456"));
        assert!(!valid_ifname(".."));
        assert!(!valid_ifname("a b"));
    }
}
