//! What a webhook URL may be: `http` or `https` with a host, no user name or password, no
//! fragment. Unlike a registered API's base URL it may carry a query (DingTalk's bots take
//! their `access_token` there), which is sent as part of the request target.
//!
//! The host is read the way [`net::UpstreamUrl`] reads it (WHATWG, so `0x7f.1` is
//! `127.0.0.1`); whether it may be reached is the network policy's decision at every send,
//! never this parse's.

use net::UpstreamUrl;
use url::Url;

/// A parsed webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Scheme, host and port, for the network policy and the connection.
    pub url: UpstreamUrl,
    /// The request target: the path and, when given, `?` and the query.
    pub path_and_query: String,
}

impl WebhookTarget {
    /// Parses `text`; the error says what to change and names nothing the user did not write.
    pub fn parse(text: &str) -> Result<WebhookTarget, String> {
        if has_userinfo(text) {
            return Err("a webhook URL must not contain a user name or password".into());
        }
        let mut url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a webhook URL is http:// or https://".into());
        }
        if url.fragment().is_some() {
            return Err("a webhook URL takes no fragment (`#…`)".into());
        }
        let query = url.query().map(str::to_owned);
        url.set_query(None);
        let base = UpstreamUrl::parse(url.as_str()).map_err(|e| match e {
            net::SsrfError::InvalidUrl(why) => why,
            net::SsrfError::Userinfo => "a webhook URL must not contain a user name or password".into(),
            net::SsrfError::Scheme(_) => "a webhook URL is http:// or https://".into(),
            other => other.to_string(),
        })?;
        let path_and_query = match query {
            Some(q) => format!("{}?{q}", base.base_path()),
            None => base.base_path().to_owned(),
        };
        Ok(WebhookTarget { url: base, path_and_query })
    }
}

/// Whether the authority as typed holds an `@` (`http://@host/` parses to an empty user name,
/// which the parsed URL no longer shows).
fn has_userinfo(text: &str) -> bool {
    let Some(start) = text.find("://") else { return false };
    let rest = &text[start + 3..];
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    rest[..end].contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_kept_and_userinfo_refused() {
        let t = WebhookTarget::parse("https://oapi.dingtalk.com/robot/send?access_token=abc").unwrap();
        assert_eq!(t.url.host(), "oapi.dingtalk.com");
        assert_eq!(t.url.port(), 443);
        assert!(t.url.tls());
        assert_eq!(t.path_and_query, "/robot/send?access_token=abc");
        let t = WebhookTarget::parse("http://0x7f.1:8080").unwrap();
        assert_eq!((t.url.host(), t.url.port(), t.path_and_query.as_str()), ("127.0.0.1", 8080, "/"));
        // `?` ends the authority: the host is a.example, the `@` is in the query.
        let t = WebhookTarget::parse("http://a.example?@127.0.0.1/").unwrap();
        assert_eq!(t.url.host(), "a.example");
        for bad in [
            "http://user:pw@example.com/",
            "http://@example.com/",
            "https://a.example/#frag",
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://",
            "not a url",
            "http://example.com:0/",
        ] {
            assert!(WebhookTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
