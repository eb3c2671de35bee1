//! Who a client is, for counting: an IPv4 address, or an IPv6 /64 (the block one subscriber
//! usually holds, so rotating addresses inside it buys nothing). The write limits and the
//! per-address connection cap count the same way.

use std::net::{IpAddr, Ipv6Addr};

/// The key `address` counts under: IPv4 as is (also when mapped into IPv6), IPv6 by its /64.
pub(crate) fn per_subscriber(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            per_subscriber("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            per_subscriber("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            per_subscriber("192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
