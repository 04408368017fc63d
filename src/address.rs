//! Client addresses as the per-address limits see them (PROTOCOL.md §5 and
//! §7: connections per address, failed logins per address, signups per
//! address).
//!
//! An IPv4 address is one client. An IPv6 host is normally given a whole
//! /64 (SLAAC and privacy extensions pick any of its 2^64 interface ids, and
//! change them at will), so counting single IPv6 addresses would give one
//! machine billions of separate limits: every IPv6 address counts as its
//! /64. An IPv4 address seen through a dual-stack socket (`::ffff:a.b.c.d`)
//! is the IPv4 address it carries, not part of one shared /64.

use std::net::{IpAddr, Ipv6Addr};

/// The prefix length an IPv6 client is counted by (one site's subnet).
pub const IPV6_GROUP_PREFIX: u32 = 64;

/// The key of `ip` in every per-address limit: the IPv4 address itself, or
/// the IPv6 address with its interface id (the last 64 bits) zeroed.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - IPV6_GROUP_PREFIX);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(text: &str) -> String {
        address_group(text.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        assert_eq!(group("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(group("2001:db8:1:2::1"), group("2001:db8:1:2:ffff::9"));
        assert_ne!(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
        assert_eq!(group("::1"), "::");
        assert_eq!(group("fe80::1:2:3:4"), "fe80::");
    }

    #[test]
    fn ipv4_addresses_count_alone_even_when_mapped() {
        assert_eq!(group("10.0.0.7"), "10.0.0.7");
        assert_eq!(group("::ffff:10.0.0.7"), "10.0.0.7");
        assert_ne!(group("::ffff:10.0.0.7"), group("::ffff:10.0.0.8"));
    }
}
