//! The numbers behind iproute2's built-in names for scopes, tables and routing protocols.
//!
//! Only the names compiled into iproute2 are known here; names from
//! `/etc/iproute2/rt_tables` and friends are read by whoever may read files (the parent)
//! and arrive as numbers.

/// RT_SCOPE_UNIVERSE: `scope global`.
pub const SCOPE_GLOBAL: u8 = 0;
/// RT_SCOPE_SITE: `scope site`.
pub const SCOPE_SITE: u8 = 200;
/// RT_SCOPE_LINK: `scope link`.
pub const SCOPE_LINK: u8 = 253;
/// RT_SCOPE_HOST: `scope host`.
pub const SCOPE_HOST: u8 = 254;
/// RT_SCOPE_NOWHERE: `scope nowhere`.
pub const SCOPE_NOWHERE: u8 = 255;

/// RT_TABLE_DEFAULT: `table default`.
pub const TABLE_DEFAULT: u32 = 253;
/// RT_TABLE_MAIN: `table main`.
pub const TABLE_MAIN: u32 = 254;
/// RT_TABLE_LOCAL: `table local`.
pub const TABLE_LOCAL: u32 = 255;

/// RTPROT_BOOT: `ip route add`'s default protocol.
pub const PROTO_BOOT: u8 = 3;
/// RTPROT_KEEPALIVED: keepalived's own protocol number.
pub const PROTO_KEEPALIVED: u8 = 18;

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if let Some(hex) = s.strip_prefix("0x") {
        // Hexadecimal numbers are accepted by iproute2 for all three.
        let v = u64::from_str_radix(hex, 16).ok()?;
        return v.to_string().parse().ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A scope by name (`global`/`universe`, `site`, `link`, `host`, `nowhere`) or number.
pub fn scope(s: &str) -> Option<u8> {
    match s {
        "global" | "universe" => Some(SCOPE_GLOBAL),
        "site" => Some(SCOPE_SITE),
        "link" => Some(SCOPE_LINK),
        "host" => Some(SCOPE_HOST),
        "nowhere" => Some(SCOPE_NOWHERE),
        _ => number(s),
    }
}

/// A routing table by name (`main`, `local`, `default`) or number (1 to 2^32-1).
pub fn table(s: &str) -> Option<u32> {
    match s {
        "main" => Some(TABLE_MAIN),
        "local" => Some(TABLE_LOCAL),
        "default" => Some(TABLE_DEFAULT),
        _ => number(s).filter(|&t| t != 0),
    }
}

/// A routing protocol by iproute2's built-in name (`boot`, `static`, `keepalived`, ...) or
/// number.
pub fn protocol(s: &str) -> Option<u8> {
    let n = match s {
        "unspec" => 0,
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "gated" => 8,
        "ra" => 9,
        "mrt" => 10,
        "zebra" => 11,
        "bird" => 12,
        "dnrouted" => 13,
        "xorp" => 14,
        "ntk" => 15,
        "dhcp" => 16,
        "mrouted" => 17,
        "keepalived" => 18,
        "babel" => 42,
        "openr" => 99,
        "bgp" => 186,
        "isis" => 187,
        "ospf" => 188,
        "rip" => 189,
        "eigrp" => 192,
        _ => return number(s),
    };
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(scope("link"), Some(253));
        assert_eq!(scope("global"), Some(0));
        assert_eq!(scope("200"), Some(200));
        assert_eq!(scope("256"), None);
        assert_eq!(scope("lnk"), None);
        assert_eq!(table("main"), Some(254));
        assert_eq!(table("1000"), Some(1000));
        assert_eq!(table("0x10"), Some(16));
        assert_eq!(table("0"), None);
        assert_eq!(table("-1"), None);
        assert_eq!(table("4294967295"), Some(u32::MAX));
        assert_eq!(table("4294967296"), None);
        assert_eq!(protocol("keepalived"), Some(18));
        assert_eq!(protocol("boot"), Some(3));
        assert_eq!(protocol("18"), Some(18));
        assert_eq!(protocol("vrrp"), None);
    }
}
