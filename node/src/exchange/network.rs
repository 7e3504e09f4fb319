//! Where answers may be delivered: a consumer names the reply address, so without a rule it
//! could make the node POST answers into the provider's own network (`https://10.0.0.5`,
//! `https://169.254.169.254`, `https://[::1]`). A reply address is delivered to only when every
//! address its host resolves to is public, or lies in a network the operator allowed
//! (`exchange.reply_allowed_networks`; loopback too in `dev_mode`). The check is made on the
//! resolved addresses at each attempt, and the connection goes to the address that was checked,
//! so DNS cannot swap in another one in between. Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

/// Why a network in the configuration is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a network in CIDR notation (such as 10.20.0.0/16 or fd00::/8)")]
pub struct NetworkError(pub String);

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || NetworkError(text.to_owned());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        Ok(Self { address, prefix })
    }
}

impl Network {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is a public unicast address: not unspecified, loopback, private, shared
/// (carrier-grade NAT), link-local, multicast, broadcast, documentation, benchmarking or
/// reserved, in IPv4 or IPv6 (IPv4-mapped, NAT64 and 6to4 addresses judged by the IPv4 inside).
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const NOT_PUBLIC: [(&str, u8); 15] = [
        ("0.0.0.0", 8),
        ("10.0.0.0", 8),
        ("100.64.0.0", 10),
        ("127.0.0.0", 8),
        ("169.254.0.0", 16),
        ("172.16.0.0", 12),
        ("192.0.0.0", 24),
        ("192.0.2.0", 24),
        ("192.88.99.0", 24),
        ("192.168.0.0", 16),
        ("198.18.0.0", 15),
        ("198.51.100.0", 24),
        ("203.0.113.0", 24),
        ("224.0.0.0", 4),
        ("240.0.0.0", 4),
    ];
    !NOT_PUBLIC.iter().any(|(net, prefix)| {
        Network {
            address: IpAddr::V4(net.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)),
            prefix: *prefix,
        }
        .contains(IpAddr::V4(ip))
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that decides.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(embedded(segments[1], segments[2]));
    }
    let first = segments[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || segments[..6] == [0; 6] // IPv4-compatible (deprecated), ::/96
        || first & 0xfe00 == 0xfc00 // unique local fc00::/7
        || first & 0xffc0 == 0xfe80 // link-local fe80::/10
        || first & 0xffc0 == 0xfec0 // site-local fec0::/10 (deprecated)
        || first & 0xff00 == 0xff00 // multicast
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || (first == 0x0100 && segments[1..4] == [0, 0, 0])) // discard-only 100::/64
}

/// Which resolved addresses answers may go to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyPolicy {
    allowed: Vec<Network>,
    loopback: bool,
}

impl ReplyPolicy {
    /// Public addresses only: the default.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and those in `networks`; with `loopback`, loopback addresses too.
    pub fn new(networks: &[String], loopback: bool) -> Result<Self, NetworkError> {
        Ok(Self {
            allowed: networks
                .iter()
                .map(|n| n.parse())
                .collect::<Result<_, _>>()?,
            loopback,
        })
    }

    /// Whether an answer may be delivered to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        is_public(ip)
            || (self.loopback && canonical(ip).is_loopback())
            || self.allowed.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for text in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn public_addresses_are() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "192.169.0.1",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn the_operator_allow_list_and_dev_loopback() {
        let policy = ReplyPolicy::new(&["10.20.0.0/16".into(), "fd00::/8".into()], false).unwrap();
        assert!(policy.allows(ip("10.20.3.4")));
        assert!(policy.allows(ip("::ffff:10.20.3.4")));
        assert!(!policy.allows(ip("10.21.0.1")));
        assert!(policy.allows(ip("fd12::1")));
        assert!(!policy.allows(ip("127.0.0.1")));
        let dev = ReplyPolicy::new(&[], true).unwrap();
        assert!(dev.allows(ip("127.0.0.1")) && dev.allows(ip("::1")));
        assert!(!dev.allows(ip("192.168.0.1")));
        assert!(!ReplyPolicy::public_only().allows(ip("::1")));
    }

    #[test]
    fn a_network_must_be_cidr() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "fd00::/129",
            "example.org/8",
            "10.0.0.0/x",
        ] {
            assert_eq!(
                bad.parse::<Network>(),
                Err(NetworkError(bad.to_owned())),
                "{bad}"
            );
        }
        assert!("0.0.0.0/0"
            .parse::<Network>()
            .unwrap()
            .contains(ip("8.8.8.8")));
    }
}
