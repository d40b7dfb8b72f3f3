//! Who is calling, by address: the client's IP behind trusted reverse proxies
//! ([`client_addr`]) and the per-app IP allow-lists ([`IpAllowList`]).
//!
//! It lives apart from the edge so the rules that decide whether an address may be believed
//! are written, and tested, in one place.
//!
//! # Client address
//!
//! `X-Forwarded-For` is written by the client first and appended to by every proxy, so only
//! the entries added by proxies we trust can be believed. The rule: the socket's peer is the
//! client unless it is a trusted proxy; then read `X-Forwarded-For` from the right, skipping
//! trusted proxies, and take the first address that is not one. An entry that is not an
//! address (`unknown`, garbage, an empty item) stops the walk: nothing to its left can be
//! believed, so the answer is the last trusted hop read (or the socket's peer). A left-most
//! value the client wrote is never reached while an untrusted hop stands to its right.
//!
//! # Addresses
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack listener reports IPv4
//! peers) are treated as the IPv4 address, in lists and in lookups alike. CIDRs are written
//! `address/prefix` or as a bare address (one host); a CIDR with bits set after its prefix
//! (`10.1.2.3/8`) is refused as a likely mistake rather than silently widened.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

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

/// A set of networks, each written as a CIDR.
#[derive(Clone, Default, PartialEq, Eq)]
struct Networks(Vec<IpNet>);

impl Networks {
    fn parse<I, S>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        cidrs.into_iter().map(|cidr| parse_cidr(cidr.as_ref())).collect::<Result<_, _>>().map(Networks)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// CIDRs as written (`10.0.0.0/8`), not as the enum's debug form.
impl fmt::Debug for Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Cidr<'a>(&'a IpNet);
        impl fmt::Debug for Cidr<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self.0, f)
            }
        }
        f.debug_list().entries(self.0.iter().map(Cidr)).finish()
    }
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

/// The reverse proxies (load balancers, CDNs) whose `X-Forwarded-For` entries are believed.
/// Empty: none, so the socket's peer is always the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Networks);

impl TrustedProxies {
    /// Reads CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or a bare address); the error names the first
    /// that is wrong and why.
    pub fn parse<I, S>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Networks::parse(cidrs).map(TrustedProxies)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(ip)
    }
}

/// The client's address: `socket` (the TCP peer) unless it is a trusted proxy, else the first
/// untrusted address in `x_forwarded_for` read from the right (see the module documentation).
/// With several `X-Forwarded-For` headers, pass their values joined by `,` in order.
pub fn client_addr(socket: IpAddr, x_forwarded_for: Option<&str>, trusted: &TrustedProxies) -> IpAddr {
    let mut last_good = socket.to_canonical();
    if !trusted.contains(last_good) {
        return last_good;
    }
    let Some(header) = x_forwarded_for else {
        return last_good;
    };
    for entry in header.rsplit(',') {
        let Some(hop) = parse_hop(entry) else {
            return last_good;
        };
        if !trusted.contains(hop) {
            return hop;
        }
        last_good = hop;
    }
    last_good
}

/// One `X-Forwarded-For` item: an address, optionally with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`, `[2001:db8::1]`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else if let Ok(socket) = entry.parse::<SocketAddr>() {
        socket.ip()
    } else {
        entry.strip_prefix('[')?.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok()?.into()
    };
    Some(ip.to_canonical())
}

/// The addresses an app may call from. Empty: everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowList {
    networks: Networks,
    /// Refuse every address (a list that could not be read must not allow everyone).
    nobody: bool,
}

impl IpAllowList {
    /// Reads CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or a bare address); the error names the first
    /// that is wrong and why.
    pub fn parse<I, S>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Networks::parse(cidrs).map(|networks| IpAllowList { networks, nobody: false })
    }

    /// A list that allows no address at all: what to use when an app's list cannot be read.
    pub fn nobody() -> Self {
        IpAllowList { networks: Networks::default(), nobody: true }
    }

    /// Whether a call from `ip` is allowed: always when the list is empty, never for
    /// [`IpAllowList::nobody`].
    pub fn allows(&self, ip: IpAddr) -> bool {
        !self.nobody && (self.networks.0.is_empty() || self.networks.contains(ip))
    }

    /// Whether everyone is allowed (the list is empty).
    pub fn allows_everyone(&self) -> bool {
        !self.nobody && self.networks.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse(["10.0.0.0/8", "2001:db8:1::/48", "192.0.2.7"]).unwrap()
    }

    #[test]
    fn parse_accepts_cidrs_and_bare_addresses() {
        let list = IpAllowList::parse(["10.0.0.0/8", " 192.0.2.1 ", "2001:db8::/32", "::1", "0.0.0.0/0"]).unwrap();
        assert_eq!(
            format!("{list:?}"),
            "IpAllowList { networks: [10.0.0.0/8, 192.0.2.1/32, 2001:db8::/32, ::1/128, 0.0.0.0/0], nobody: false }"
        );
        let mapped = IpAllowList::parse(["::ffff:10.0.0.0/104", "::ffff:192.0.2.1"]).unwrap();
        assert_eq!(mapped, IpAllowList::parse(["10.0.0.0/8", "192.0.2.1/32"]).unwrap());
        assert!(IpAllowList::parse(Vec::<String>::new()).unwrap().allows_everyone());
        assert!(!list.allows_everyone());
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let cases = [
            ("10.0.0.0/33", "the prefix must be a number from 0 to 32"),
            ("2001:db8::/129", "the prefix must be a number from 0 to 128"),
            ("10.0.0.0/", "the prefix must be a number from 0 to 32"),
            ("10.0.0.0/x", "the prefix must be a number from 0 to 32"),
            ("10.0.0.0/-1", "the prefix must be a number from 0 to 32"),
            ("10.0.0/8", "`10.0.0` is not an IP address"),
            ("example.com", "expected an IP address or address/prefix, e.g. 10.0.0.0/8 or 2001:db8::/32"),
            ("", "expected an IP address or address/prefix, e.g. 10.0.0.0/8 or 2001:db8::/32"),
            ("10.1.2.3/8", "address bits are set after the prefix; did you mean `10.0.0.0/8`?"),
            ("2001:db8::1/32", "address bits are set after the prefix; did you mean `2001:db8::/32`?"),
        ];
        for (input, reason) in cases {
            let error = TrustedProxies::parse(["127.0.0.1", input]).unwrap_err();
            assert_eq!(error.input, input);
            assert_eq!(error.reason, reason, "{input}");
        }
        let error = IpAllowList::parse(["10.1.2.3/8"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid CIDR `10.1.2.3/8`: address bits are set after the prefix; did you mean `10.0.0.0/8`?"
        );
    }

    #[test]
    fn an_untrusted_socket_is_the_client_whatever_the_header_says() {
        let t = trusted();
        assert_eq!(client_addr(ip("203.0.113.9"), None, &t), ip("203.0.113.9"));
        assert_eq!(client_addr(ip("203.0.113.9"), Some("1.2.3.4"), &t), ip("203.0.113.9"));
        assert_eq!(client_addr(ip("203.0.113.9"), Some("10.0.0.1"), &t), ip("203.0.113.9"));
        // No trusted proxies at all: the header is never read.
        let none = TrustedProxies::default();
        assert_eq!(client_addr(ip("10.0.0.5"), Some("1.2.3.4"), &none), ip("10.0.0.5"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let t = trusted();
        let lb = ip("10.0.0.5");
        assert_eq!(client_addr(lb, Some("203.0.113.9"), &t), ip("203.0.113.9"));
        // Client → CDN (192.0.2.7, trusted) → LB.
        assert_eq!(client_addr(lb, Some("203.0.113.9, 192.0.2.7"), &t), ip("203.0.113.9"));
        assert_eq!(client_addr(lb, Some("203.0.113.9,10.1.1.1,10.2.2.2"), &t), ip("203.0.113.9"));
        // Several headers joined, IPv6 hops, ports.
        assert_eq!(client_addr(lb, Some("2001:db8:2::9, 2001:db8:1::1"), &t), ip("2001:db8:2::9"));
        assert_eq!(client_addr(lb, Some("[2001:db8:2::9]:5123"), &t), ip("2001:db8:2::9"));
        assert_eq!(client_addr(lb, Some("[2001:db8:2::9]"), &t), ip("2001:db8:2::9"));
        assert_eq!(client_addr(lb, Some("203.0.113.9:5123"), &t), ip("203.0.113.9"));
        // A trusted proxy with no header, or only trusted hops: the farthest trusted hop.
        assert_eq!(client_addr(lb, None, &t), lb);
        assert_eq!(client_addr(lb, Some("10.9.9.9, 10.1.1.1"), &t), ip("10.9.9.9"));
    }

    #[test]
    fn spoofed_left_most_values_are_never_believed() {
        let t = trusted();
        let lb = ip("10.0.0.5");
        // The client wrote "1.2.3.4"; the LB appended the real peer.
        assert_eq!(client_addr(lb, Some("1.2.3.4, 203.0.113.9"), &t), ip("203.0.113.9"));
        // The client wrote a trusted-looking chain to pass as an internal caller.
        assert_eq!(client_addr(lb, Some("10.0.0.1, 192.0.2.7, 203.0.113.9"), &t), ip("203.0.113.9"));
        // The client wrote garbage and an address: the real peer still wins.
        assert_eq!(client_addr(lb, Some("1.2.3.4, unknown, 203.0.113.9, 10.1.1.1"), &t), ip("203.0.113.9"));
        // A mapped trusted address in the socket is still trusted, a mapped spoof still not.
        assert_eq!(client_addr(ip("::ffff:10.0.0.5"), Some("::ffff:203.0.113.9"), &t), ip("203.0.113.9"));
    }

    #[test]
    fn malformed_entries_fall_back_to_the_last_trusted_hop() {
        let t = trusted();
        let lb = ip("10.0.0.5");
        assert_eq!(client_addr(lb, Some("unknown"), &t), lb);
        assert_eq!(client_addr(lb, Some(""), &t), lb);
        assert_eq!(client_addr(lb, Some("203.0.113.9, garbage"), &t), lb);
        assert_eq!(client_addr(lb, Some("203.0.113.9,,10.1.1.1"), &t), ip("10.1.1.1"));
        assert_eq!(client_addr(lb, Some("203.0.113.9, _hidden, 10.1.1.1"), &t), ip("10.1.1.1"));
        assert_eq!(client_addr(lb, Some("203.0.113.9 10.1.1.1"), &t), lb);
        assert_eq!(client_addr(lb, Some("[203.0.113.9]"), &t), lb);
    }

    #[test]
    fn allow_lists() {
        let everyone = IpAllowList::default();
        assert!(everyone.allows(ip("203.0.113.9")));
        assert!(everyone.allows(ip("::1")));
        let nobody = IpAllowList::nobody();
        assert!(!nobody.allows(ip("203.0.113.9")));
        assert!(!nobody.allows(ip("::1")));
        assert!(!nobody.allows_everyone());

        let list = IpAllowList::parse(["192.0.2.0/24", "2001:db8::/32"]).unwrap();
        assert!(list.allows(ip("192.0.2.1")));
        assert!(list.allows(ip("192.0.2.255")));
        assert!(!list.allows(ip("192.0.3.1")));
        assert!(list.allows(ip("2001:db8:ffff::1")));
        assert!(!list.allows(ip("2001:db9::1")));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert!(list.allows(ip("::ffff:192.0.2.10")));
        assert!(!list.allows(ip("::ffff:192.0.3.10")));
        // IPv4-compatible (deprecated) and NAT64 forms are not mapped addresses.
        assert!(!list.allows(ip("::192.0.2.10")));
        assert!(!list.allows(ip("64:ff9b::192.0.2.10")));

        let host = IpAllowList::parse(["::ffff:198.51.100.7"]).unwrap();
        assert!(host.allows(ip("198.51.100.7")));
        assert!(!host.allows(ip("198.51.100.8")));
    }
}
