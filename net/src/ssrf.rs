//! The SSRF check: every outbound connection Sluice makes to a host a user typed is decided
//! here, and nowhere else.
//!
//! Registered APIs forward calls to a base URL that an API developer typed; datasources name a
//! database host. Whoever can set either must not be able to make Sluice connect to itself, the
//! private network or a cloud metadata service. The rules:
//!
//! - [`UpstreamUrl::parse`] takes only `http` and `https` URLs with a host, and refuses user info
//!   (`http://evil.com@127.0.0.1/`), queries and fragments. Parsing follows WHATWG (the `url`
//!   crate), so `http://2130706433/`, `http://0x7f.1/`, `http://0177.0.0.1/`, `http://127.1/`,
//!   percent-encoded and full-width hosts are all read as `127.0.0.1` before any check — the
//!   same reading browsers and HTTP clients make, so there is no second interpretation to hide in.
//! - [`SsrfPolicy::resolve_checked`] resolves the host and refuses the target when **any**
//!   address is refused by [`classify`] (loopback, private, link-local, cloud metadata, CGNAT,
//!   multicast, reserved, documentation …; IPv6 forms that embed an IPv4 address are judged by
//!   that address), unless the operator allow-listed the host name or that address.
//!   `localhost` and `*.localhost` are refused without asking DNS (RFC 6761).
//! - The [`CheckedTarget`] it returns holds the socket address to dial. The caller connects to
//!   exactly that address and never resolves the name again, so the DNS answer cannot change
//!   between check and connect (DNS rebinding). The name is only for the `Host` header and SNI.
//!
//! Call it at registration, to refuse early, and again for every call, since DNS answers change.
//! Resolution has no time limit of its own: the caller's call timeout bounds it.
//!
//! Redirects: the edge does not follow them. A 3xx from an upstream goes back to the caller as
//! it is. Anything that ever follows one must run the `Location` through [`UpstreamUrl::parse`]
//! and [`SsrfPolicy::resolve_checked`] as a new target.
//!
//! Errors ([`SsrfError`]) are safe to show to the caller: they say what was refused and why, and
//! never name an address the caller did not write. A name that resolves to `10.0.0.7` is refused
//! as "private"; the address itself is only logged.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::{Host, Url};

#[cfg(test)]
mod tests;

/// Why an upstream target is refused. Every message can be shown to the caller as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    /// Not a usable base URL; the message says what is wrong.
    #[error("invalid upstream URL: {0}")]
    InvalidUrl(String),
    /// A scheme other than `http` or `https` (the scheme as parsed, cut short).
    #[error("upstream URL scheme `{0}` is not allowed; use http or https")]
    Scheme(String),
    #[error("an upstream URL must not contain a user name or password")]
    Userinfo,
    /// The host is or resolves to an address in a refused range.
    #[error("upstream address is not allowed ({reason})")]
    Forbidden { reason: &'static str },
    /// The host name did not resolve; carries the name as the caller wrote it (normalised).
    #[error("upstream host `{0}` could not be resolved")]
    Resolve(String),
}

/// An upstream base URL that passed the syntactic rules; not yet resolved or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    tls: bool,
    /// Lower case, no trailing dot, no brackets around IPv6.
    host: String,
    /// Set when the host is an IP literal: no DNS for it.
    ip: Option<IpAddr>,
    port: u16,
    base_path: String,
    /// `host[:port]` as sent in `Host`: computed once, not per call.
    authority: String,
}

impl UpstreamUrl {
    pub fn parse(text: &str) -> Result<UpstreamUrl, SsrfError> {
        let url = Url::parse(text).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(SsrfError::Scheme(other.chars().take(32).collect())),
        };
        // `http://@host/` parses to an empty user name, so the raw text is looked at as well.
        if !url.username().is_empty() || url.password().is_some() || raw_authority_has_at(text) {
            return Err(SsrfError::Userinfo);
        }
        if url.fragment().is_some() {
            return Err(SsrfError::InvalidUrl("a fragment (`#…`) is not allowed".into()));
        }
        // A base URL's query would be silently dropped when paths are joined; refuse instead.
        if url.query().is_some() {
            return Err(SsrfError::InvalidUrl("a base URL takes no query (`?…`)".into()));
        }
        let (host, ip) = match url.host() {
            Some(Host::Domain(name)) => {
                let name = name.strip_suffix('.').unwrap_or(name);
                if name.is_empty() || name.ends_with('.') {
                    return Err(SsrfError::InvalidUrl("empty host name".into()));
                }
                (name.to_ascii_lowercase(), None)
            }
            Some(Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
            None => return Err(SsrfError::InvalidUrl("the URL has no host".into())),
        };
        let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
        if port == 0 {
            return Err(SsrfError::InvalidUrl("port 0 is not allowed".into()));
        }
        let authority = authority(&host, port, tls);
        Ok(UpstreamUrl { tls, host, ip, port, base_path: url.path().to_owned(), authority })
    }

    pub fn tls(&self) -> bool {
        self.tls
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The host name (lower case, without a trailing dot) or the IP literal without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The address when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The explicit port, or 80 / 443.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path of the base URL, always starting with `/`, percent-encoded as the `url` crate
    /// normalises it.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }
}

impl FromStr for UpstreamUrl {
    type Err = SsrfError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        UpstreamUrl::parse(text)
    }
}

/// The normalised URL: `https://[::1]:8443/v1/`.
impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme(), self.authority, self.base_path)
    }
}

/// A target that passed every check. Connect to `addr` and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTarget {
    /// The first checked address; never resolve `host` again to connect.
    pub addr: SocketAddr,
    /// For the `Host` header and TLS SNI: a name, or an IP literal without brackets.
    pub host: String,
    pub tls: bool,
    /// The `Host` header value: the host, bracketed when IPv6, with the port unless it is the
    /// scheme's default.
    pub host_header: String,
}

/// Which upstreams may be reached although [`classify`] refuses their addresses: mock upstreams
/// on loopback in tests, an internal service an operator deliberately exposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsrfPolicy {
    /// Lower case, without a trailing dot; matched exactly.
    names: Vec<String>,
    nets: Vec<IpNet>,
}

impl SsrfPolicy {
    /// Builds the policy from allow-list entries: an IP (`127.0.0.1`, `::1`, `[::1]`), a CIDR
    /// (`10.1.0.0/16`, `::1/128`) or a host name (exact, case-insensitive, trailing dot
    /// ignored; no wildcards). The error names the first invalid entry.
    pub fn new(allow: &[String]) -> Result<SsrfPolicy, String> {
        let mut policy = SsrfPolicy::default();
        for raw in allow {
            match parse_allow_entry(raw).map_err(|why| format!("invalid SSRF allow-list entry `{raw}`: {why}"))? {
                Allow::Net(net) => policy.nets.push(net),
                Allow::Name(name) => policy.names.push(name),
            }
        }
        Ok(policy)
    }

    /// Whether the host name itself is allow-listed; `name` as [`UpstreamUrl::host`] gives it.
    pub fn allows_name(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Whether an address is allow-listed. An IPv4-mapped IPv6 address also matches its IPv4 form.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Parses `text` and resolves it: [`UpstreamUrl::parse`] then [`SsrfPolicy::resolve_checked`].
    pub async fn check(&self, text: &str) -> Result<CheckedTarget, SsrfError> {
        self.resolve_checked(&UpstreamUrl::parse(text)?).await
    }

    /// Resolves the URL's host and checks every address. IP literals need no DNS.
    pub async fn resolve_checked(&self, url: &UpstreamUrl) -> Result<CheckedTarget, SsrfError> {
        let addr = self.resolve_and_check(&url.host, url.ip, url.port).await?;
        Ok(CheckedTarget { addr, host: url.host.clone(), tls: url.tls, host_header: url.authority.clone() })
    }

    /// A database server's host (a name, or an IP literal, bracketed or not) and port, read the
    /// way URL hosts are (so `0x7f.1` is `127.0.0.1`), resolved and checked like an upstream's:
    /// the one address to connect to.
    pub async fn resolve_host_checked(&self, host: &str, port: u16) -> Result<SocketAddr, SsrfError> {
        let (name, ip) = parse_host(host)?;
        if port == 0 {
            return Err(SsrfError::InvalidUrl("port 0 is not allowed".into()));
        }
        self.resolve_and_check(&name, ip, port).await
    }

    /// What can be refused of a database host without asking DNS: a malformed host, an IP
    /// literal in a refused range, a `localhost` name — unless allowed.
    pub fn check_host_literal(&self, host: &str) -> Result<(), SsrfError> {
        let (name, ip) = parse_host(host)?;
        match ip {
            Some(ip) => match classify(ip) {
                Some(reason) if !self.allows_ip(ip) => Err(SsrfError::Forbidden { reason }),
                _ => Ok(()),
            },
            None if is_localhost_name(&name) && !self.allows_name(&name) => {
                Err(SsrfError::Forbidden { reason: LOOPBACK })
            }
            None => Ok(()),
        }
    }

    /// The first address of `host` (`ip` when it is a literal) once every address passed.
    async fn resolve_and_check(&self, host: &str, ip: Option<IpAddr>, port: u16) -> Result<SocketAddr, SsrfError> {
        let name_allowed = ip.is_none() && self.allows_name(host);
        let addrs: Vec<SocketAddr> = match ip {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => {
                // Whatever DNS says, these names mean this machine.
                if !name_allowed && is_localhost_name(host) {
                    tracing::warn!(host, "refused host: localhost name");
                    return Err(SsrfError::Forbidden { reason: LOOPBACK });
                }
                match tokio::net::lookup_host((host, port)).await {
                    Ok(found) => found.collect(),
                    Err(e) => {
                        tracing::debug!(host, error = %e, "host did not resolve");
                        return Err(SsrfError::Resolve(host.to_owned()));
                    }
                }
            }
        };
        if !name_allowed {
            for addr in &addrs {
                let ip = addr.ip();
                if let Some(reason) = classify(ip)
                    && !self.allows_ip(ip)
                {
                    tracing::warn!(host, %ip, reason, "refused address");
                    return Err(SsrfError::Forbidden { reason });
                }
            }
        }
        addrs.first().copied().ok_or_else(|| SsrfError::Resolve(host.to_owned()))
    }
}

/// A host as typed (a name, or an IP literal, bracketed or not), read the way URL hosts are:
/// the normalised name and, for a literal, its address.
fn parse_host(host: &str) -> Result<(String, Option<IpAddr>), SsrfError> {
    let host = host.trim();
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Ok((v6.to_string(), Some(IpAddr::V6(v6))));
    }
    match Host::parse(host).map_err(|e| SsrfError::InvalidUrl(format!("host `{host}`: {e}")))? {
        Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(&name).to_ascii_lowercase();
            if name.is_empty() || name.ends_with('.') {
                return Err(SsrfError::InvalidUrl("empty host name".into()));
            }
            Ok((name, None))
        }
        Host::Ipv4(a) => Ok((a.to_string(), Some(IpAddr::V4(a)))),
        Host::Ipv6(a) => Ok((a.to_string(), Some(IpAddr::V6(a)))),
    }
}

/// Why an address must not be dialled, or `None` when it is public.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_REFUSED.iter().find(|(net, _)| net.contains(&ip)).map(|(_, reason)| *reason)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = ip.to_bits();
    match V6_RULES.iter().find(|(net, _)| net.contains(&ip)) {
        Some((_, V6Rule::Refuse(reason))) => Some(reason),
        Some((_, V6Rule::Low32)) => classify_v4(Ipv4Addr::from_bits(bits as u32)),
        Some((_, V6Rule::SixToFour)) => classify_v4(Ipv4Addr::from_bits((bits >> 80) as u32)),
        // Only 2000::/3 is global unicast; everything else is unassigned or special.
        None if !GLOBAL_UNICAST.contains(&ip) => Some(RESERVED),
        None => None,
    }
}

const LOOPBACK: &str = "loopback";
const PRIVATE: &str = "private";
const LINK_LOCAL: &str = "link-local";
const METADATA: &str = "cloud metadata";
const MULTICAST: &str = "multicast";
const UNSPECIFIED: &str = "unspecified";
const RESERVED: &str = "reserved";
const BENCHMARKING: &str = "benchmarking";
const DOCUMENTATION: &str = "documentation";

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]), len)
}

/// Refused IPv4 ranges; the first match gives the reason, so single addresses come first.
const V4_REFUSED: &[(Ipv4Net, &str)] = &[
    (v4(169, 254, 169, 254, 32), METADATA), // AWS, GCP, Azure, OpenStack, …
    (v4(100, 100, 100, 200, 32), METADATA), // Alibaba Cloud
    (v4(192, 0, 0, 192, 32), METADATA),     // Oracle Cloud
    (v4(168, 63, 129, 16, 32), METADATA),   // Azure WireServer: public, but the host's own agent
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(0, 0, 0, 0, 8), UNSPECIFIED), // "this network"; Linux dials 0.0.0.0 as loopback
    (v4(10, 0, 0, 0, 8), PRIVATE),
    (v4(100, 64, 0, 0, 10), "carrier-grade NAT"),
    (v4(127, 0, 0, 0, 8), LOOPBACK),
    (v4(169, 254, 0, 0, 16), LINK_LOCAL),
    (v4(172, 16, 0, 0, 12), PRIVATE),
    (v4(192, 0, 0, 0, 24), RESERVED), // IETF protocol assignments
    (v4(192, 0, 2, 0, 24), DOCUMENTATION),
    (v4(192, 88, 99, 0, 24), RESERVED), // former 6to4 relay anycast
    (v4(192, 168, 0, 0, 16), PRIVATE),
    (v4(198, 18, 0, 0, 15), BENCHMARKING),
    (v4(198, 51, 100, 0, 24), DOCUMENTATION),
    (v4(203, 0, 113, 0, 24), DOCUMENTATION),
    (v4(224, 0, 0, 0, 4), MULTICAST),
    (v4(240, 0, 0, 0, 4), RESERVED),
];

#[derive(Debug, Clone, Copy)]
enum V6Rule {
    Refuse(&'static str),
    /// Judge the IPv4 address in the low 32 bits.
    Low32,
    /// 6to4: judge the IPv4 address in bits 16..48.
    SixToFour,
}

/// IPv6 ranges, first match wins. Addresses outside all of them and outside 2000::/3 are
/// refused as reserved.
const V6_RULES: &[(Ipv6Net, V6Rule)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), V6Rule::Refuse(UNSPECIFIED)),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), V6Rule::Refuse(LOOPBACK)),
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), V6Rule::Low32), // IPv4-mapped
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), V6Rule::Low32),      // IPv4-compatible (deprecated)
    (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), V6Rule::Low32), // NAT64
    // Local-use NAT64 (RFC 8215): where the IPv4 address sits is the operator's choice.
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), V6Rule::Refuse(RESERVED)),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), V6Rule::Refuse(RESERVED)), // discard-only
    // Teredo hides the client's IPv4 address (obfuscated); refuse it whole.
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), V6Rule::Refuse("Teredo")),
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), V6Rule::Refuse(BENCHMARKING)),
    (v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), V6Rule::Refuse(RESERVED)), // ORCHID
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), V6Rule::Refuse(RESERVED)), // ORCHIDv2
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), V6Rule::Refuse(DOCUMENTATION)),
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), V6Rule::SixToFour),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), V6Rule::Refuse(DOCUMENTATION)),
    (v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128), V6Rule::Refuse(METADATA)), // AWS IMDS over IPv6
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), V6Rule::Refuse(PRIVATE)),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), V6Rule::Refuse(LINK_LOCAL)),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), V6Rule::Refuse("site-local")),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), V6Rule::Refuse(MULTICAST)),
];

/// Global unicast, 2000::/3: IPv6 outside it and outside [`V6_RULES`] is refused.
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

enum Allow {
    Net(IpNet),
    Name(String),
}

fn parse_allow_entry(raw: &str) -> Result<Allow, String> {
    let entry = raw.trim();
    if entry.is_empty() {
        return Err("empty".into());
    }
    if let Some((addr, len)) = entry.split_once('/') {
        // Not `IpNet`'s own parser: it reads `010.0.0.0/8` as 10.0.0.0/8 where std refuses the
        // leading zero, and it would not say which half is wrong.
        let addr = parse_ip(addr).ok_or("not an IP address before `/`")?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let net = len
            .parse()
            .ok()
            .and_then(|len| IpNet::new(addr, len).ok())
            .ok_or_else(|| format!("prefix length must be 0..={max}"))?;
        // `10.1.0.1/16` most likely meant something narrower than 10.1.0.0/16; do not guess.
        if net.network() != addr {
            return Err("address has bits set beyond the prefix length".into());
        }
        return Ok(Allow::Net(net));
    }
    if let Some(ip) = parse_ip(entry) {
        return Ok(Allow::Net(IpNet::from(ip)));
    }
    if entry.contains('*') {
        return Err("wildcards are not supported; list each host name".into());
    }
    // Read like a URL host, so an entry matches exactly what `UpstreamUrl::parse` produces.
    match Host::parse(entry).map_err(|e| e.to_string())? {
        Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(&name).to_ascii_lowercase();
            if name.is_empty() || name.ends_with('.') {
                return Err("empty host name".into());
            }
            Ok(Allow::Name(name))
        }
        Host::Ipv4(a) => Ok(Allow::Net(IpNet::from(IpAddr::V4(a)))),
        Host::Ipv6(a) => Ok(Allow::Net(IpNet::from(IpAddr::V6(a)))),
    }
}

/// An IP in plain form, or an IPv6 address in brackets.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    text.parse().ok()
}

/// `localhost` and names under it (RFC 6761); `name` is lower case without a trailing dot.
fn is_localhost_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether the authority part of the raw URL text has an `@`, read the way WHATWG splits it.
/// Only called after the text parsed as http(s), so the first `:` ends the scheme.
fn raw_authority_has_at(text: &str) -> bool {
    // The URL parser drops tabs and newlines anywhere, and controls and spaces at the ends.
    let cleaned: String =
        text.trim_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let Some((_, rest)) = cleaned.split_once(':') else { return false };
    let rest = rest.trim_start_matches(['/', '\\']);
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    rest[..end].contains('@')
}

/// `host[:port]`, bracketing IPv6 and leaving out the scheme's default port.
fn authority(host: &str, port: u16, tls: bool) -> String {
    let host = if host.parse::<Ipv6Addr>().is_ok() { format!("[{host}]") } else { host.to_owned() };
    if port == if tls { 443 } else { 80 } { host } else { format!("{host}:{port}") }
}
