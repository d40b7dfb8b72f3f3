//! The ClickHouse sink: the same records, through ClickHouse's HTTP interface in batched
//! inserts, for several nodes or high volume.
//!
//! Plain HTTP/1.1 with hyper, one connection per request. The URL names the server and the
//! database (`http://user:password@127.0.0.1:8123/?database=default`); the user and password
//! go in `X-ClickHouse-User` / `X-ClickHouse-Key` headers and never into an error or a log.
//! The table is written for ClickHouse 18.16 on (Debian's): no `DateTime64`, the time as
//! `at_ms Int64` with `at DateTime` computed from it.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{CallRecord, CallsError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of a failed answer goes into the error.
const ANSWER_KEPT: usize = 300;

/// The table of call details. `at` is computed by the server (`MATERIALIZED`), so it needs
/// no time zone and no date formatting on our side.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS sluice_calls (
    at_ms Int64,
    at DateTime MATERIALIZED toDateTime(intDiv(at_ms, 1000)),
    request_id String,
    trace_id String,
    workgroup_id Int64,
    api_id Nullable(Int64),
    version Nullable(Int64),
    env String,
    app_id Nullable(Int64),
    client String,
    status UInt16,
    code String,
    latency_us UInt64,
    backend_us Nullable(UInt64),
    rows Nullable(UInt64),
    bytes_in UInt64,
    bytes_out UInt64,
    cache_hit Nullable(UInt8)
) ENGINE = MergeTree() PARTITION BY toYYYYMM(at) ORDER BY (workgroup_id, at)";

/// A ClickHouse server's HTTP interface. Cheap to clone.
#[derive(Clone)]
pub struct ClickHouse {
    /// `host:port`, to connect to and for the `Host` header.
    authority: String,
    /// The URL's path.
    path: String,
    /// The URL's query pairs (`database=…`), sent with every request.
    params: Vec<(String, String)>,
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("authority", &self.authority)
            // A `password` may also come as a query parameter: never shown.
            .field(
                "params",
                &self
                    .params
                    .iter()
                    .map(|(k, v)| (k.as_str(), if k == "password" { "***" } else { v.as_str() }))
                    .collect::<Vec<_>>(),
            )
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ClickHouse {
    /// A client for `url` (`http://[user[:password]@]host[:port]/[?database=…]`; port 8123
    /// when none). Only `http`.
    pub fn new(url: &str) -> Result<ClickHouse, CallsError> {
        // The URL may hold a password: no error quotes it.
        let parsed = url::Url::parse(url).map_err(|e| CallsError::ClickHouse(format!("the URL is invalid: {e}")))?;
        if parsed.scheme() != "http" {
            return Err(CallsError::ClickHouse(format!(
                "the URL's scheme is {}; only http is supported",
                parsed.scheme()
            )));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(CallsError::ClickHouse("the URL has no host".into())),
        };
        let port = parsed.port().unwrap_or(8123);
        let decode = |text: &str| {
            percent_decode(text).ok_or_else(|| CallsError::ClickHouse("the URL's user or password is not UTF-8".into()))
        };
        let user = match parsed.username() {
            "" => None,
            name => Some(decode(name)?),
        };
        let password = parsed.password().map(decode).transpose()?;
        let params = parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        Ok(ClickHouse { authority: format!("{host}:{port}"), path: parsed.path().to_string(), params, user, password })
    }

    /// Creates the `sluice_calls` table when missing.
    pub async fn ensure_tables(&self) -> Result<(), CallsError> {
        self.exchange(CREATE_TABLE, Bytes::new()).await.map(|_| ())
    }

    /// Inserts `batch` into `sluice_calls` (one request, JSONEachRow).
    pub async fn insert(&self, batch: &[CallRecord]) -> Result<(), CallsError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(batch.len() * 320);
        for record in batch {
            let row = serde_json::json!({
                "at_ms": record.at_ms,
                "request_id": record.request_id,
                "trace_id": record.trace_id,
                "workgroup_id": record.workgroup_id.unwrap_or(0),
                "api_id": record.api_id,
                "version": record.version,
                "env": record.env,
                "app_id": record.app_id,
                "client": record.client,
                "status": record.status,
                "code": record.code,
                "latency_us": record.latency_us,
                "backend_us": record.backend_us,
                "rows": record.rows,
                "bytes_in": record.bytes_in,
                "bytes_out": record.bytes_out,
                "cache_hit": record.cache_hit.map(u8::from),
            });
            serde_json::to_writer(&mut body, &row).map_err(|e| CallsError::ClickHouse(e.to_string()))?;
            body.push(b'\n');
        }
        self.exchange("INSERT INTO sluice_calls FORMAT JSONEachRow", Bytes::from(body)).await.map(|_| ())
    }

    /// Every request id in `sluice_calls` (for tests).
    pub async fn request_ids(&self) -> Result<Vec<String>, CallsError> {
        let answer = self.exchange("SELECT request_id FROM sluice_calls FORMAT JSONEachRow", Bytes::new()).await?;
        let mut ids = Vec::new();
        for line in answer.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
            let row: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| CallsError::ClickHouse(format!("an answer row: {e}")))?;
            if let Some(id) = row.get("request_id").and_then(|v| v.as_str()) {
                ids.push(id.to_string());
            }
        }
        Ok(ids)
    }

    /// POSTs `body` with `query` in the URL; the answer's body on 200.
    async fn exchange(&self, query: &str, body: Bytes) -> Result<Vec<u8>, CallsError> {
        match tokio::time::timeout(EXCHANGE_TIMEOUT, self.post(query, body)).await {
            Ok(outcome) => outcome.map_err(CallsError::ClickHouse),
            Err(_) => Err(CallsError::ClickHouse(format!("{}: no answer within {EXCHANGE_TIMEOUT:?}", self.authority))),
        }
    }

    async fn post(&self, query: &str, body: Bytes) -> Result<Vec<u8>, String> {
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.authority.as_str())).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(format!("{}: cannot connect: {e}", self.authority)),
            Err(_) => return Err(format!("{}: no connection within {CONNECT_TIMEOUT:?}", self.authority)),
        };
        let _ = tcp.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("{}: HTTP handshake failed: {e}", self.authority))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let target = {
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &self.params {
                pairs.append_pair(key, value);
            }
            pairs.append_pair("query", query);
            format!("{}?{}", if self.path.is_empty() { "/" } else { &self.path }, pairs.finish())
        };
        let mut request = http::Request::post(target)
            .header(http::header::HOST, &self.authority)
            // hyper sends no length for an empty body; ClickHouse wants one on every POST.
            .header(http::header::CONTENT_LENGTH, body.len())
            .header(http::header::CONNECTION, "close")
            .header(http::header::USER_AGENT, "Sluice-Calls/1");
        if let Some(user) = &self.user {
            request = request.header("X-ClickHouse-User", user);
        }
        if let Some(password) = &self.password {
            request = request.header("X-ClickHouse-Key", password);
        }
        // Header values that cannot be sent (a password with a newline) fail here: say so
        // without the value.
        let request = request
            .body(Full::new(body))
            .map_err(|_| "the request cannot be built (a header value is invalid)".to_string())?;
        let outcome = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("{}: the exchange failed: {e}", self.authority))?;
            let status = response.status();
            let answer = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{}: reading the answer failed: {e}", self.authority))?
                .to_bytes();
            if status.is_success() {
                Ok(answer.to_vec())
            } else {
                Err(format!("HTTP {}: {}", status.as_u16(), self.scrub(&short(&answer))))
            }
        }
        .await;
        driver.abort();
        outcome
    }

    /// `text` without the password (a server never echoes it, but be sure).
    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(password) if !password.is_empty() => text.replace(password.as_str(), "***"),
            _ => text.to_string(),
        }
    }
}

/// The start of an answer on one line, without control characters.
fn short(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.trim();
    if line.chars().count() > ANSWER_KEPT {
        format!("{}…", line.chars().take(ANSWER_KEPT).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Percent-decodes a URL's user or password.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_server_database_and_credentials() {
        let ch = ClickHouse::new("http://ana:p%40ss@127.0.0.1:8124/?database=calls").unwrap();
        assert_eq!(ch.authority, "127.0.0.1:8124");
        assert_eq!(ch.params, vec![("database".to_string(), "calls".to_string())]);
        assert_eq!(ch.user.as_deref(), Some("ana"));
        assert_eq!(ch.password.as_deref(), Some("p@ss"));
        assert!(!format!("{ch:?}").contains("p@ss"));
        let in_query = ClickHouse::new("http://127.0.0.1/?database=d&password=hidden").unwrap();
        assert!(!format!("{in_query:?}").contains("hidden"));
        let plain = ClickHouse::new("http://localhost").unwrap();
        assert_eq!(plain.authority, "localhost:8123");
        assert_eq!((plain.user, plain.password), (None, None));
    }

    #[test]
    fn only_http_urls_and_no_password_in_errors() {
        let error = ClickHouse::new("https://ana:secret@127.0.0.1/").unwrap_err().to_string();
        assert!(error.contains("only http"), "{error}");
        assert!(!error.contains("secret"));
        assert!(ClickHouse::new("not a url").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz"), None);
    }
}
