//! CIDRs as people write them in allow lists and trusted proxies: `address/prefix` or a bare
//! address (one host), IPv4-mapped IPv6 read as IPv4, and a CIDR with bits set after its
//! prefix (`10.1.2.3/8`) refused as a likely mistake rather than silently widened.

use std::net::IpAddr;

use ipnet::IpNet;

/// A CIDR that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR `{input}`: {reason}")]
pub struct CidrError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads one CIDR, or a bare address as its host network, in canonical form (an IPv4-mapped
/// IPv6 network as IPv4). The one reader of allow lists and trusted proxies, at the edge and
/// in the management API.
pub fn parse_cidr(text: &str) -> Result<IpNet, CidrError> {
    let error = |reason: String| CidrError { input: text.to_owned(), reason };
    let trimmed = text.trim();
    let net = match trimmed.split_once('/') {
        None => trimmed
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| error("expected an IP address or address/prefix, e.g. 10.0.0.0/8 or 2001:db8::/32".into()))?,
        Some((address, prefix)) => {
            // Not `IpNet`'s own parser: it reads `010.0.0.0/8` as 10.0.0.0/8 where std refuses the
            // leading zero, and it would not say which half is wrong.
            let address: IpAddr = address.parse().map_err(|_| error(format!("`{address}` is not an IP address")))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let net = prefix
                .parse()
                .ok()
                .and_then(|prefix| IpNet::new(address, prefix).ok())
                .ok_or_else(|| error(format!("the prefix must be a number from 0 to {max}")))?;
            if net.addr() != net.network() {
                return Err(error(format!("address bits are set after the prefix; did you mean `{}`?", net.trunc())));
            }
            net
        }
    };
    Ok(canonical_net(net))
}

/// A network as stored and shown: a host network as its bare address, others as CIDRs.
pub fn cidr_text(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() { net.addr().to_string() } else { net.to_string() }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network it maps.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
    {
        return mapped;
    }
    net
}
