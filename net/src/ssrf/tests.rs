//! No test sends traffic. DNS is only asked about names this machine's /etc/hosts defines.

use std::net::{IpAddr, SocketAddr};

use super::*;

const CORPUS: &str = include_str!("../../tests/corpus/ssrf_targets.txt");

fn corpus_lines() -> Vec<&'static str> {
    CORPUS.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn policy(allow: &[&str]) -> SsrfPolicy {
    SsrfPolicy::new(&allow.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

/// (address, names) pairs from /etc/hosts.
fn hosts_file() -> Vec<(IpAddr, Vec<String>)> {
    let text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let addr = words.next()?.parse().ok()?;
            Some((addr, words.map(str::to_ascii_lowercase).collect()))
        })
        .collect()
}

#[tokio::test]
async fn every_corpus_line_is_refused() {
    let lines = corpus_lines();
    assert!(lines.len() >= 70, "the corpus holds only {} URLs", lines.len());
    let policy = SsrfPolicy::default();
    let mut accepted = Vec::new();
    for line in lines {
        let url = match UpstreamUrl::parse(line) {
            Err(_) => continue,
            Ok(url) => url,
        };
        // A line that would ask DNS has no place in an offline corpus.
        assert!(
            url.ip().is_some() || is_localhost_name(url.host()),
            "corpus line {line:?} parses to host {:?}, which needs DNS",
            url.host()
        );
        if let Ok(target) = policy.resolve_checked(&url).await {
            accepted.push(format!("{line:?} -> {}", target.addr));
        }
    }
    assert!(accepted.is_empty(), "hostile URLs were accepted:\n{}", accepted.join("\n"));
}

#[test]
fn whatwg_numeric_and_encoded_hosts_become_loopback() {
    for text in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://0177.0.0.01/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://0x7f.0x0.0x0.0x1/",
        "http://017700000001/",
        "http://127.0.0.1./",
        "http://%31%32%37.0.0.1/",
        "http://１２７.０.０.１/",
        "http://127。0。0。1/",
    ] {
        let url = UpstreamUrl::parse(text).unwrap();
        assert_eq!(url.ip(), Some(ip("127.0.0.1")), "{text}");
        assert_eq!(url.host(), "127.0.0.1", "{text}");
    }
    assert_eq!(UpstreamUrl::parse("http://0/").unwrap().ip(), Some(ip("0.0.0.0")));
    assert_eq!(UpstreamUrl::parse("http://2852039166/").unwrap().ip(), Some(ip("169.254.169.254")));
    assert_eq!(UpstreamUrl::parse("http://[::ffff:127.0.0.1]/").unwrap().ip(), Some(ip("::ffff:7f00:1")));
    assert_eq!(UpstreamUrl::parse("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/").unwrap().host(), "localhost");
    assert_eq!(UpstreamUrl::parse("http://LOCALHOST./").unwrap().host(), "localhost");
}

#[test]
fn parse_refuses_with_the_right_error() {
    let err = |text: &str| UpstreamUrl::parse(text).unwrap_err();
    assert_eq!(err("file:///etc/passwd"), SsrfError::Scheme("file".into()));
    assert_eq!(err("gopher://127.0.0.1:70/"), SsrfError::Scheme("gopher".into()));
    assert_eq!(err("ftp://example.com/"), SsrfError::Scheme("ftp".into()));
    for text in [
        "http://user@host/",
        "http://a@127.0.0.1/",
        "http://127.0.0.1@evil.example/",
        "http://evil.com@127.0.0.1/",
        "http://@example.com/",
        "http:@example.com/",
        "http://:@example.com/",
        "https://u:p@example.com/",
    ] {
        assert_eq!(err(text), SsrfError::Userinfo, "{text}");
    }
    for text in [
        "http://example.com/#x",
        "http://example.com/?a=1",
        "http://example.com:0/",
        "http://[fe80::1%25eth0]/",
        "not a url",
        "http://256.0.0.1/",
    ] {
        assert!(matches!(err(text), SsrfError::InvalidUrl(_)), "{text}: {:?}", err(text));
    }
    // An `@` in the path is not user info.
    assert!(UpstreamUrl::parse("http://example.com/a@b").is_ok());
}

#[test]
fn parse_keeps_scheme_host_port_and_base_path() {
    let url = UpstreamUrl::parse("HTTPS://Api.Example.COM./v1/users/").unwrap();
    assert!(url.tls());
    assert_eq!(
        (url.scheme(), url.host(), url.port(), url.base_path()),
        ("https", "api.example.com", 443, "/v1/users/")
    );
    assert_eq!(url.ip(), None);
    assert_eq!(url.to_string(), "https://api.example.com/v1/users/");

    let url = UpstreamUrl::parse("http://example.com").unwrap();
    assert_eq!((url.tls(), url.port(), url.base_path()), (false, 80, "/"));

    let url: UpstreamUrl = "http://[2606:2800:220:1:248:1893:25c8:1946]:8080/api".parse().unwrap();
    assert_eq!(url.host(), "2606:2800:220:1:248:1893:25c8:1946");
    assert_eq!(url.port(), 8080);
    assert_eq!(url.to_string(), "http://[2606:2800:220:1:248:1893:25c8:1946]:8080/api");
    assert_eq!(UpstreamUrl::parse("https://example.com:443/").unwrap().to_string(), "https://example.com/");
}

#[tokio::test]
async fn public_ip_literals_pass_without_dns() {
    let policy = SsrfPolicy::default();
    let t = policy.check("http://93.184.216.34/").await.unwrap();
    assert_eq!(
        t,
        CheckedTarget {
            addr: "93.184.216.34:80".parse().unwrap(),
            host: "93.184.216.34".into(),
            tls: false,
            host_header: "93.184.216.34".into(),
        }
    );
    assert_eq!(t.host_header, "93.184.216.34");

    let t = policy.check("https://[2606:2800:220:1:248:1893:25c8:1946]/v2/").await.unwrap();
    assert_eq!(t.addr, SocketAddr::new(ip("2606:2800:220:1:248:1893:25c8:1946"), 443));
    assert!(t.tls);
    assert_eq!(UpstreamUrl::parse("https://[2606:2800:220:1:248:1893:25c8:1946]/v2/").unwrap().base_path(), "/v2/");
    assert_eq!(t.host_header, "[2606:2800:220:1:248:1893:25c8:1946]");

    let t = policy.check("https://8.8.8.8:8443/").await.unwrap();
    assert_eq!(t.host_header, "8.8.8.8:8443");

    // Embedded public IPv4 addresses are judged by that address.
    for text in ["http://[::ffff:93.184.216.34]/", "http://[64:ff9b::808:808]/", "http://[2002:5db8:d822::1]/"] {
        assert!(policy.check(text).await.is_ok(), "{text}");
    }
}

#[tokio::test]
async fn allow_listed_address_lets_exactly_that_through() {
    let policy = policy(&["127.0.0.1/32"]);
    let t = policy.check("http://127.0.0.1:18080/mock/").await.unwrap();
    assert_eq!(t.addr, "127.0.0.1:18080".parse::<SocketAddr>().unwrap());
    assert_eq!(t.host_header, "127.0.0.1:18080");
    // The mapped form is the same address.
    assert!(policy.check("http://[::ffff:127.0.0.1]/").await.is_ok());
    for text in ["http://127.0.0.2/", "http://[::1]/", "http://localhost/", "http://10.0.0.1/", "http://0.0.0.0/"] {
        assert!(policy.check(text).await.is_err(), "{text}");
    }
}

#[tokio::test]
async fn allow_listed_name_lets_exactly_that_through() {
    let policy = policy(&["LocalHost."]);
    // Resolved through /etc/hosts, which maps localhost to loopback.
    for text in ["http://localhost:18080/", "http://LOCALHOST./"] {
        let t = policy.check(text).await.unwrap();
        assert!(t.addr.ip().is_loopback(), "{text}: {}", t.addr);
        assert_eq!(t.host, "localhost");
        assert_eq!(t.addr.port(), if text.contains("18080") { 18080 } else { 80 });
    }
    for (text, reason) in [
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://api.localhost/", "loopback"),
        ("http://10.0.0.1/", "private"),
    ] {
        assert_eq!(policy.check(text).await.unwrap_err(), SsrfError::Forbidden { reason }, "{text}");
    }
}

#[tokio::test]
async fn hosts_file_names_that_map_to_refused_addresses_are_refused() {
    let policy = SsrfPolicy::default();
    let mut checked = 0;
    for (addr, names) in hosts_file() {
        if classify(addr).is_none() {
            continue;
        }
        for name in names {
            let err = policy.check(&format!("http://{name}/")).await.unwrap_err();
            assert!(matches!(err, SsrfError::Forbidden { .. }), "{name} ({addr}): {err:?}");
            // The caller learns the reason, never the address the name resolved to.
            assert!(!err.to_string().contains(&addr.to_string()), "{err}");
            checked += 1;
        }
    }
    assert!(checked > 0, "/etc/hosts defines no loopback name");
}

#[tokio::test]
async fn error_messages_do_not_echo_resolved_addresses() {
    let err = SsrfPolicy::default().check("http://localhost/").await.unwrap_err();
    assert_eq!(err.to_string(), "upstream address is not allowed (loopback)");
    let err = SsrfPolicy::default().check("http://[fd00:ec2::254]/").await.unwrap_err();
    assert_eq!(err.to_string(), "upstream address is not allowed (cloud metadata)");
}

#[test]
fn policy_entries() {
    let p =
        policy(&["10.1.0.0/16", "::1/128", " Example.COM. ", "[fd00::1]", "192.168.1.5", "0x7f.1", "bücher.example"]);
    assert!(p.allows_ip(ip("10.1.255.255")));
    assert!(!p.allows_ip(ip("10.2.0.0")));
    assert!(p.allows_ip(ip("::1")));
    assert!(p.allows_ip(ip("fd00::1")));
    assert!(p.allows_ip(ip("192.168.1.5")));
    assert!(!p.allows_ip(ip("192.168.1.6")));
    assert!(p.allows_ip(ip("127.0.0.1")), "entries read like URL hosts");
    assert!(p.allows_name("example.com"));
    assert!(p.allows_name("EXAMPLE.com."));
    assert!(!p.allows_name("api.example.com"));
    assert!(p.allows_name("xn--bcher-kva.example"));
    assert_eq!(SsrfPolicy::new(&[]).unwrap(), SsrfPolicy::default());
    assert!(policy(&["0.0.0.0/0"]).allows_ip(ip("10.0.0.1")));
    assert!(!policy(&["0.0.0.0/0"]).allows_ip(ip("::1")));

    for bad in
        ["", "  ", "10.1.0.1/16", "10.0.0.0/33", "::1/129", "::1/x", "nope/8", "exa mple.com", "*.example.com", "a:b"]
    {
        let err = SsrfPolicy::new(&[bad.to_string()]).unwrap_err();
        assert!(err.contains(&format!("`{bad}`")), "{bad:?}: {err}");
    }
}

#[test]
fn classify_range_edges() {
    let cases: &[(&str, Option<&str>)] = &[
        ("0.0.0.0", Some("unspecified")),
        ("0.255.255.255", Some("unspecified")),
        ("1.0.0.0", None),
        ("9.255.255.255", None),
        ("10.0.0.0", Some("private")),
        ("10.255.255.255", Some("private")),
        ("11.0.0.0", None),
        ("100.63.255.255", None),
        ("100.64.0.0", Some("carrier-grade NAT")),
        ("100.100.100.199", Some("carrier-grade NAT")),
        ("100.100.100.200", Some("cloud metadata")),
        ("100.127.255.255", Some("carrier-grade NAT")),
        ("100.128.0.0", None),
        ("126.255.255.255", None),
        ("127.0.0.0", Some("loopback")),
        ("127.255.255.255", Some("loopback")),
        ("128.0.0.0", None),
        ("169.253.255.255", None),
        ("169.254.0.0", Some("link-local")),
        ("169.254.169.253", Some("link-local")),
        ("169.254.169.254", Some("cloud metadata")),
        ("169.254.255.255", Some("link-local")),
        ("169.255.0.0", None),
        ("172.15.255.255", None),
        ("172.16.0.0", Some("private")),
        ("172.31.255.255", Some("private")),
        ("172.32.0.0", None),
        ("191.255.255.255", None),
        ("192.0.0.0", Some("reserved")),
        ("192.0.0.192", Some("cloud metadata")),
        ("192.0.0.255", Some("reserved")),
        ("192.0.1.0", None),
        ("192.0.2.0", Some("documentation")),
        ("192.0.2.255", Some("documentation")),
        ("192.0.3.0", None),
        ("192.88.99.0", Some("reserved")),
        ("192.88.99.255", Some("reserved")),
        ("192.167.255.255", None),
        ("192.168.0.0", Some("private")),
        ("192.168.255.255", Some("private")),
        ("192.169.0.0", None),
        ("198.17.255.255", None),
        ("198.18.0.0", Some("benchmarking")),
        ("198.19.255.255", Some("benchmarking")),
        ("198.20.0.0", None),
        ("198.51.100.0", Some("documentation")),
        ("198.51.100.255", Some("documentation")),
        ("203.0.112.255", None),
        ("203.0.113.0", Some("documentation")),
        ("203.0.113.255", Some("documentation")),
        ("203.0.114.0", None),
        ("223.255.255.255", None),
        ("224.0.0.0", Some("multicast")),
        ("239.255.255.255", Some("multicast")),
        ("240.0.0.0", Some("reserved")),
        ("255.255.255.254", Some("reserved")),
        ("255.255.255.255", Some("broadcast")),
        ("168.63.129.16", Some("cloud metadata")),
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        // IPv6
        ("::", Some("unspecified")),
        ("::1", Some("loopback")),
        ("::2", Some("unspecified")),
        ("::808:808", None),
        ("::ffff:0.0.0.0", Some("unspecified")),
        ("::ffff:127.0.0.1", Some("loopback")),
        ("::ffff:169.254.169.254", Some("cloud metadata")),
        ("::ffff:255.255.255.255", Some("broadcast")),
        ("::ffff:8.8.8.8", None),
        ("::fffe:808:808", Some("reserved")),
        ("64:ff9b::", Some("unspecified")),
        ("64:ff9b::7f00:1", Some("loopback")),
        ("64:ff9b::808:808", None),
        ("64:ff9b::ffff:ffff", Some("broadcast")),
        ("64:ff9b:1::", Some("reserved")),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Some("reserved")),
        ("100::", Some("reserved")),
        ("100::ffff:ffff:ffff:ffff", Some("reserved")),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("reserved")),
        ("2000::", None),
        ("2001::", Some("Teredo")),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Some("Teredo")),
        ("2001:1::", None),
        ("2001:2::", Some("benchmarking")),
        ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Some("benchmarking")),
        ("2001:2:1::", None),
        ("2001:10::", Some("reserved")),
        ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", Some("reserved")),
        ("2001:30::", None),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001:db8::", Some("documentation")),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some("documentation")),
        ("2001:db9::", None),
        ("2002::", Some("unspecified")),
        ("2002:7f00:1::", Some("loopback")),
        ("2002:a9fe:a9fe::", Some("cloud metadata")),
        ("2002:808:808::", None),
        ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("broadcast")),
        ("2003::", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("3fff::", Some("documentation")),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Some("documentation")),
        ("4000::", Some("reserved")),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("reserved")),
        ("fc00::", Some("private")),
        ("fd00:ec2::253", Some("private")),
        ("fd00:ec2::254", Some("cloud metadata")),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("private")),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("reserved")),
        ("fe80::", Some("link-local")),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("link-local")),
        ("fec0::", Some("site-local")),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("site-local")),
        ("ff00::", Some("multicast")),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("multicast")),
    ];
    for (text, expected) in cases {
        assert_eq!(classify(ip(text)), *expected, "{text}");
    }
}

#[test]
fn every_table_range_is_refused_at_both_ends() {
    for (net, reason) in V4_REFUSED {
        for a in [net.network(), net.broadcast()] {
            assert!(classify(IpAddr::V4(a)).is_some(), "{a} ({reason})");
        }
    }
    for (net, rule) in V6_RULES {
        for a in [net.network(), net.broadcast()] {
            assert!(classify(IpAddr::V6(a)).is_some(), "{a} ({rule:?})");
        }
    }
}

#[tokio::test]
async fn database_hosts_are_read_like_url_hosts_and_checked_alike() {
    let strict = SsrfPolicy::default();
    for host in [
        "127.0.0.1",
        "0x7f.1",
        "2130706433",
        "localhost",
        "db.localhost",
        "::1",
        "[::1]",
        "10.0.0.7",
        "169.254.169.254",
    ] {
        let refused = strict.resolve_host_checked(host, 5432).await;
        assert!(matches!(refused, Err(SsrfError::Forbidden { .. })), "{host}: {refused:?}");
    }
    let allowed = policy(&["127.0.0.1"]);
    assert_eq!(allowed.resolve_host_checked("0x7f.0.0.1", 5432).await, Ok("127.0.0.1:5432".parse().unwrap()));
    assert_eq!(policy(&["::1"]).resolve_host_checked("[::1]", 3306).await, Ok(SocketAddr::new(ip("::1"), 3306)));
    assert_eq!(strict.resolve_host_checked("8.8.8.8", 5432).await, Ok("8.8.8.8:5432".parse().unwrap()));
    assert!(matches!(strict.resolve_host_checked("8.8.8.8", 0).await, Err(SsrfError::InvalidUrl(_))));
    assert!(matches!(strict.resolve_host_checked("a b", 5432).await, Err(SsrfError::InvalidUrl(_))));
}
