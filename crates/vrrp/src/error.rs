//! Errors, grouped by where they happen: a received packet that is dropped ([`Drop`], with
//! per-reason [`DropCounters`]), an advert that cannot be encoded ([`EncodeError`]) and an
//! instance configuration that cannot run ([`ConfigError`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a received packet was dropped. The variants are in the order keepalived checks
/// (KEEPALIVED-REFERENCE 6.3); each has a counter ([`Drop::counter_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
pub enum Drop {
    /// The IPv4 header is malformed, not protocol 112, or its length disagrees with what
    /// was received.
    #[error("malformed IPv4 header")]
    IpHeader,
    /// The packet's addresses are not of the instance's family.
    #[error("address family differs from the instance's")]
    Family,
    /// The message is not exactly header + addresses (+ v2 auth data).
    #[error("packet length {received}, expected {expected}")]
    Length {
        /// Bytes received.
        received: usize,
        /// Bytes the header's count and version call for.
        expected: usize,
    },
    /// A multicast advert whose TTL / hop limit is not 255.
    #[error("TTL/hop limit {received}, expected 255")]
    Ttl {
        /// The TTL or hop limit received.
        received: u8,
    },
    /// The VRRP version is not the instance's.
    #[error("VRRP version {received} differs from ours")]
    Version {
        /// The version nibble received.
        received: u8,
    },
    /// VRRPv2 auth type other than 0, 1 or 2.
    #[error("invalid auth type {received}")]
    InvalidAuthType {
        /// The auth type received.
        received: u8,
    },
    /// VRRPv2 auth type differs from the instance's.
    #[error("auth type {received} differs from ours")]
    AuthTypeMismatch {
        /// The auth type received.
        received: u8,
    },
    /// VRRPv2 PASS password differs.
    #[error("invalid password")]
    AuthFailure,
    /// VRRPv2 advert interval differs from ours (dropped, to avoid two masters).
    #[error("advert interval {received} s differs from ours")]
    IntervalMismatch {
        /// The interval received, seconds.
        received: u8,
    },
    /// The type is not 1 (ADVERTISEMENT).
    #[error("packet type {received} is not ADVERTISEMENT")]
    Type {
        /// The type nibble received.
        received: u8,
    },
    /// The checksum is wrong.
    #[error("bad checksum")]
    Checksum,
    /// A multicast advert to a unicast instance, or the reverse.
    #[error("expected a {} destination", if *expected_unicast { "unicast" } else { "multicast" })]
    DestinationMode {
        /// The instance is unicast.
        expected_unicast: bool,
    },
    /// The instance is the address owner with `owner_ignore_adverts`.
    #[error("address owner ignores adverts")]
    OwnerIgnoresAdverts,
    /// A unicast source that is not a configured peer.
    #[error("unicast source is not a peer")]
    UnknownUnicastSource,
    /// A peer's advert outside its `min_ttl`/`max_ttl`.
    #[error("TTL {received} outside the peer's range")]
    UnicastTtl {
        /// The TTL or hop limit received.
        received: u8,
    },
}

/// The reasons of [`Drop`] without their data, to index counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DropKind {
    /// [`Drop::IpHeader`].
    IpHeader,
    /// [`Drop::Family`].
    Family,
    /// [`Drop::Length`].
    Length,
    /// [`Drop::Ttl`].
    Ttl,
    /// [`Drop::Version`].
    Version,
    /// [`Drop::InvalidAuthType`].
    InvalidAuthType,
    /// [`Drop::AuthTypeMismatch`].
    AuthTypeMismatch,
    /// [`Drop::AuthFailure`].
    AuthFailure,
    /// [`Drop::IntervalMismatch`].
    IntervalMismatch,
    /// [`Drop::Type`].
    Type,
    /// [`Drop::Checksum`].
    Checksum,
    /// [`Drop::DestinationMode`].
    DestinationMode,
    /// [`Drop::OwnerIgnoresAdverts`].
    OwnerIgnoresAdverts,
    /// [`Drop::UnknownUnicastSource`].
    UnknownUnicastSource,
    /// [`Drop::UnicastTtl`].
    UnicastTtl,
}

impl DropKind {
    /// Every kind, in check order.
    pub const ALL: [DropKind; 15] = [
        DropKind::IpHeader,
        DropKind::Family,
        DropKind::Length,
        DropKind::Ttl,
        DropKind::Version,
        DropKind::InvalidAuthType,
        DropKind::AuthTypeMismatch,
        DropKind::AuthFailure,
        DropKind::IntervalMismatch,
        DropKind::Type,
        DropKind::Checksum,
        DropKind::DestinationMode,
        DropKind::OwnerIgnoresAdverts,
        DropKind::UnknownUnicastSource,
        DropKind::UnicastTtl,
    ];

    /// The counter's name, after keepalived's stats names where it has one.
    pub const fn counter_name(self) -> &'static str {
        match self {
            DropKind::IpHeader => "ip_header_err",
            DropKind::Family => "family_err",
            DropKind::Length => "packet_len_err",
            DropKind::Ttl => "ip_ttl_err",
            DropKind::Version => "version_err",
            DropKind::InvalidAuthType => "invalid_authtype",
            DropKind::AuthTypeMismatch => "authtype_mismatch",
            DropKind::AuthFailure => "auth_failure",
            DropKind::IntervalMismatch => "advert_interval_err",
            DropKind::Type => "invalid_type_rcvd",
            DropKind::Checksum => "checksum_err",
            DropKind::DestinationMode => "destination_mode_err",
            DropKind::OwnerIgnoresAdverts => "owner_ignored",
            DropKind::UnknownUnicastSource => "unknown_unicast_src",
            DropKind::UnicastTtl => "unicast_ttl_err",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl Drop {
    /// The reason without its data.
    pub const fn kind(&self) -> DropKind {
        match self {
            Drop::IpHeader => DropKind::IpHeader,
            Drop::Family => DropKind::Family,
            Drop::Length { .. } => DropKind::Length,
            Drop::Ttl { .. } => DropKind::Ttl,
            Drop::Version { .. } => DropKind::Version,
            Drop::InvalidAuthType { .. } => DropKind::InvalidAuthType,
            Drop::AuthTypeMismatch { .. } => DropKind::AuthTypeMismatch,
            Drop::AuthFailure => DropKind::AuthFailure,
            Drop::IntervalMismatch { .. } => DropKind::IntervalMismatch,
            Drop::Type { .. } => DropKind::Type,
            Drop::Checksum => DropKind::Checksum,
            Drop::DestinationMode { .. } => DropKind::DestinationMode,
            Drop::OwnerIgnoresAdverts => DropKind::OwnerIgnoresAdverts,
            Drop::UnknownUnicastSource => DropKind::UnknownUnicastSource,
            Drop::UnicastTtl { .. } => DropKind::UnicastTtl,
        }
    }

    /// The name of the counter this reason increments.
    pub const fn counter_name(&self) -> &'static str {
        self.kind().counter_name()
    }
}

/// Dropped packets counted by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCounters {
    counts: [u64; DropKind::ALL.len()],
}

impl DropCounters {
    /// Counts one drop.
    pub fn record(&mut self, drop: &Drop) {
        let slot = &mut self.counts[drop.kind().index()];
        *slot = slot.saturating_add(1);
    }

    /// The count for one reason.
    pub fn get(&self, kind: DropKind) -> u64 {
        self.counts[kind.index()]
    }

    /// The count for the counter called `name`, if there is one.
    pub fn by_name(&self, name: &str) -> Option<u64> {
        DropKind::ALL
            .iter()
            .find(|k| k.counter_name() == name)
            .map(|k| self.get(*k))
    }

    /// Every counter with its name, in check order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropKind::ALL
            .iter()
            .map(|k| (k.counter_name(), self.get(*k)))
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// An advert that cannot be put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum EncodeError {
    /// More than 255 addresses.
    #[error("{0} addresses, at most 255 fit")]
    TooManyAddresses(usize),
    /// The source, the destination and the addresses are not all of one family.
    #[error("source, destination and addresses are not of one family")]
    FamilyMismatch,
    /// A seconds interval in a v3 advert or a centiseconds one in a v2 advert.
    #[error("the interval's unit does not match the version")]
    IntervalVersionMismatch,
    /// A v3 interval above 4095 centiseconds.
    #[error("interval {0} cs does not fit 12 bits")]
    IntervalRange(u16),
    /// Authentication on a VRRPv3 or IPv6 advert.
    #[error("authentication is only carried by VRRPv2 over IPv4")]
    AuthNotAllowed,
}

/// An instance configuration that cannot run (the fixable problems are
/// [`crate::config::Fixup`]s).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ConfigError {
    /// VRID 0.
    #[error("virtual_router_id must be 1..255")]
    Vrid,
    /// Priority 0.
    #[error("priority must be 1..255")]
    Priority,
    /// A virtual address of another family than the instance's.
    #[error("virtual address {0} is not of the instance's family")]
    AddressFamily(std::net::IpAddr),
    /// More than 255 virtual addresses in the advert.
    #[error("{0} virtual addresses, at most 255 fit in an advert")]
    TooManyAddresses(usize),
    /// No virtual address and no `no_virtual_ipaddress`.
    #[error("no virtual_ipaddress (set no_virtual_ipaddress to run without)")]
    NoVirtualAddress,
    /// Strict mode with unicast peers.
    #[error("strict mode does not allow unicast peers")]
    StrictUnicast,
    /// A tracker index that does not exist.
    #[error("tracker {0} does not exist")]
    UnknownTracker(usize),
    /// An error from the parsed configuration (`from_config`).
    #[error("{0}")]
    Config(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_by_reason() {
        let mut c = DropCounters::default();
        c.record(&Drop::Checksum);
        c.record(&Drop::Checksum);
        c.record(&Drop::Ttl { received: 1 });
        assert_eq!(c.get(DropKind::Checksum), 2);
        assert_eq!(c.by_name("ip_ttl_err"), Some(1));
        assert_eq!(c.by_name("nope"), None);
        assert_eq!(c.total(), 3);
        assert_eq!(c.iter().count(), DropKind::ALL.len());
        // Every kind has its own slot and name.
        for (i, k) in DropKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let mut names: Vec<_> = DropKind::ALL.iter().map(|k| k.counter_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropKind::ALL.len());
        assert_eq!(
            Drop::Length {
                received: 1,
                expected: 8
            }
            .counter_name(),
            "packet_len_err"
        );
    }
}
