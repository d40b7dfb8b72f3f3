//! HMAC-SHA256 request signatures: how a caller proves it holds its app's secret, and how the
//! edge checks that. This module is the definition of the scheme (it is public: callers'
//! client libraries implement it from this text); it reads no headers and knows no apps — the
//! edge gathers the parts, looks up the app's secrets, and calls [`string_to_sign`],
//! [`verify`] and [`timestamp_fresh`].
//!
//! # The scheme
//!
//! A signed request carries four headers:
//!
//! | header | value |
//! | --- | --- |
//! | `X-Sluice-App-Key` | the app's key |
//! | `X-Sluice-Timestamp` | the time of signing in Unix seconds, decimal digits only |
//! | `X-Sluice-Nonce` | 8 to 64 characters of `A-Z a-z 0-9 _ -`, never reused by the app |
//! | `X-Sluice-Signature` | base64 (standard alphabet, with `=` padding) of `HMAC-SHA256(secret, string to sign)` |
//!
//! The string to sign is six lines joined by `\n` (no trailing newline), in UTF-8:
//!
//! ```text
//! METHOD
//! PATH
//! CANONICAL_QUERY
//! HEX_SHA256_OF_BODY
//! TIMESTAMP
//! NONCE
//! ```
//!
//! - `METHOD`: the request method as sent (`GET`, `POST`, …).
//! - `PATH`: the request path as sent, in its percent-encoded form, without the query
//!   (`/v1/shop%20items/%E2%82%AC`, not `/v1/shop items/€`).
//! - `CANONICAL_QUERY`: the query string, empty when there is none, made canonical:
//!   1. split at `&`, dropping empty pieces; each piece is `key=value`, or `key` alone meaning
//!      an empty value (only the first `=` separates);
//!   2. decode keys and values as HTML forms do (and as the edge reads parameters): `+` is a
//!      space, `%HH` is the byte `HH` (either case), a `%` not followed by two hex digits stands
//!      for itself;
//!   3. encode every byte again: `A-Z a-z 0-9 - . _ ~` as themselves, every other byte as `%HH`
//!      with upper-case hex (so a space is `%20`);
//!   4. sort the pairs by encoded key, then by encoded value, comparing bytes;
//!   5. write each as `key=value` (always with `=`) and join them with `&`.
//!
//!   `?status=paid&b=2&a=x+y&a=%7e1` becomes `a=x%20y&a=~1&b=2&status=paid`.
//! - `HEX_SHA256_OF_BODY`: lower-case hex SHA-256 of the body bytes as sent; for an empty body
//!   that of the empty string, `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`.
//! - `TIMESTAMP` and `NONCE`: the header values exactly as sent (without surrounding spaces).
//!
//! The edge accepts a timestamp within ±300 seconds of its own clock ([`TIMESTAMP_WINDOW_SECS`])
//! and each nonce once per app within that window ([`crate::replay`]). During a secret rotation an app
//! has a current and a previous secret, and a signature by either is accepted.
//!
//! Example (secret `app-secret-0123456789`):
//!
//! ```text
//! GET /v1/orders/42?status=paid&b=2&a=x+y&a=%7e1, empty body,
//! X-Sluice-Timestamp: 1700000000, X-Sluice-Nonce: n0nce-0001
//!
//! string to sign: "GET\n/v1/orders/42\na=x%20y&a=~1&b=2&status=paid\n
//!                  e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n
//!                  1700000000\nn0nce-0001"   (one string, wrapped here)
//! X-Sluice-Signature: 2aVe9pt+cpf+4ViPSe03roI4RZO7naLmX+3uyXsonrY=
//! ```
//!
//! In Python: `base64.b64encode(hmac.new(secret, sts.encode(), hashlib.sha256).digest())`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderName;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

// Header names are prebuilt: a lookup by `&str` parses the name on every call.
/// The app's key.
pub const APP_KEY_HEADER: HeaderName = HeaderName::from_static("x-sluice-app-key");
/// Unix seconds at signing.
pub const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("x-sluice-timestamp");
/// The single-use nonce.
pub const NONCE_HEADER: HeaderName = HeaderName::from_static("x-sluice-nonce");
/// Base64 of the HMAC-SHA256.
pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-sluice-signature");

/// How far a timestamp may be from the edge's clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// The SHA-256 of an empty body, in lower-case hex.
#[cfg(test)]
const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

/// The string to sign for a request, from its parts as the edge received them: `method` and
/// `path` (percent-encoded, without the query) as sent, `query` the raw query string after `?`
/// (`""` when there is none), `body` the body bytes, `timestamp` and `nonce` the header values.
pub fn string_to_sign(method: &str, path: &str, query: &str, body: &[u8], timestamp: &str, nonce: &str) -> String {
    let query = canonical_query(query);
    let body = body_sha256_hex(body);
    [method, path, &query, &body, timestamp, nonce].join("\n")
}

/// The canonical form of a raw query string (without the `?`): step `CANONICAL_QUERY` of the
/// scheme.
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (encode(&decode(key)), encode(&decode(value)))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Lower-case hex SHA-256 of a body: `HEX_SHA256_OF_BODY`.
fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The `X-Sluice-Signature` value for `string_to_sign` under `secret`: base64 (standard, padded)
/// of the HMAC-SHA256.
pub fn sign(secret: &[u8], string_to_sign: &str) -> String {
    // HMAC takes keys of any length, so `keyed` never fails; if it did, the empty string
    // verifies nothing.
    keyed(secret)
        .map(|mac| STANDARD.encode(mac.chain_update(string_to_sign.as_bytes()).finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature_b64` is the signature of `string_to_sign` under any of `secrets` (the
/// app's current secret and, during a rotation, its previous one). Compares in constant time and
/// tries every secret whatever the outcome of the others.
pub fn verify(secrets: &[&[u8]], string_to_sign: &str, signature_b64: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature_b64) else {
        return false;
    };
    secrets.iter().fold(false, |matched, secret| {
        let this = keyed(secret)
            .is_some_and(|mac| mac.chain_update(string_to_sign.as_bytes()).verify_slice(&signature).is_ok());
        matched | this
    })
}

/// Whether a request's timestamp `ts` is within `window_secs` of `now` (both Unix seconds),
/// either way; the edge uses [`TIMESTAMP_WINDOW_SECS`].
pub fn timestamp_fresh(ts: i64, now: i64, window_secs: i64) -> bool {
    window_secs >= 0 && ts.abs_diff(now) <= window_secs.unsigned_abs()
}

/// Reads an `X-Sluice-Timestamp` value: decimal digits only (no sign, no spaces), at most 18.
pub fn parse_timestamp(value: &str) -> Option<i64> {
    if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Whether an `X-Sluice-Nonce` value is well formed: 8 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn valid_nonce(nonce: &str) -> bool {
    (8..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn keyed(secret: &[u8]) -> Option<HmacSha256> {
    HmacSha256::new_from_slice(secret).ok()
}

/// What step 3 of `CANONICAL_QUERY` encodes: every byte but RFC 3986's unreserved
/// `A-Z a-z 0-9 - . _ ~` (bytes outside ASCII always are).
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Form decoding to bytes: `+` is a space, `%HH` a byte, any other `%` itself.
fn decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    // `+` is no hex digit, so no `%HH` spans two pieces.
    for (i, piece) in text.split('+').enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(percent_decode_str(piece));
    }
    out
}

/// RFC 3986 encoding: unreserved bytes as themselves, every other one as `%HH` (upper case).
fn encode(bytes: &[u8]) -> String {
    percent_encode(bytes, ENCODED).to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECRET: &[u8] = b"app-secret-0123456789";

    /// The parts of the example request in the module documentation.
    struct Parts {
        method: &'static str,
        path: &'static str,
        query: &'static str,
        body: &'static [u8],
        timestamp: &'static str,
        nonce: &'static str,
    }

    fn example() -> Parts {
        Parts {
            method: "GET",
            path: "/v1/orders/42",
            query: "status=paid&b=2&a=x+y&a=%7e1",
            body: b"",
            timestamp: "1700000000",
            nonce: "n0nce-0001",
        }
    }

    fn text_of(p: &Parts) -> String {
        string_to_sign(p.method, p.path, p.query, p.body, p.timestamp, p.nonce)
    }

    /// Checked by hand with Python:
    /// ```text
    /// import hmac, hashlib, base64
    /// sts = "GET\n/v1/orders/42\na=x%20y&a=~1&b=2&status=paid\n" + hashlib.sha256(b"").hexdigest() \
    ///       + "\n1700000000\nn0nce-0001"
    /// base64.b64encode(hmac.new(b"app-secret-0123456789", sts.encode(), hashlib.sha256).digest())
    /// # b'2aVe9pt+cpf+4ViPSe03roI4RZO7naLmX+3uyXsonrY='
    /// ```
    #[test]
    fn get_vector() {
        let sts = text_of(&example());
        assert_eq!(
            sts,
            "GET\n/v1/orders/42\na=x%20y&a=~1&b=2&status=paid\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1700000000\nn0nce-0001"
        );
        assert_eq!(sign(SECRET, &sts), "2aVe9pt+cpf+4ViPSe03roI4RZO7naLmX+3uyXsonrY=");
        assert!(verify(&[SECRET], &sts, "2aVe9pt+cpf+4ViPSe03roI4RZO7naLmX+3uyXsonrY="));
    }

    /// ```text
    /// body = b'{"ids":[1,2]}'
    /// hashlib.sha256(body).hexdigest()
    /// # 'eff9df2013c08a13cdd7ffabfcf9514b6f6411e2a0b52c5948c7036d3d442253'
    /// sts = "POST\n/v1/shop%20items/%E2%82%AC\n\n" + hashlib.sha256(body).hexdigest() \
    ///       + "\n1700000300\nAbc_def-123"
    /// base64.b64encode(hmac.new(b"app-secret-0123456789", sts.encode(), hashlib.sha256).digest())
    /// # b'ONprcjt5tG8wuhBoV9u1Cuxdmg07cnNzOIyNYNaOsWY='
    /// ```
    #[test]
    fn post_vector_with_body_and_no_query() {
        let digest = body_sha256_hex(br#"{"ids":[1,2]}"#);
        assert_eq!(digest, "eff9df2013c08a13cdd7ffabfcf9514b6f6411e2a0b52c5948c7036d3d442253");
        let sts = text_of(&Parts {
            method: "POST",
            path: "/v1/shop%20items/%E2%82%AC",
            query: "",
            body: br#"{"ids":[1,2]}"#,
            timestamp: "1700000300",
            nonce: "Abc_def-123",
        });
        assert_eq!(sts.lines().nth(3), Some(digest.as_str()));
        assert_eq!(sign(SECRET, &sts), "ONprcjt5tG8wuhBoV9u1Cuxdmg07cnNzOIyNYNaOsWY=");
    }

    #[test]
    fn empty_body_digest_is_that_of_the_empty_string() {
        assert_eq!(body_sha256_hex(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn verify_accepts_the_current_or_previous_secret_only() {
        let sts = text_of(&example());
        let old: &[u8] = b"old-secret";
        let new: &[u8] = b"new-secret";
        let by_old = sign(old, &sts);
        let by_new = sign(new, &sts);
        assert!(verify(&[new, old], &sts, &by_old));
        assert!(verify(&[new, old], &sts, &by_new));
        assert!(!verify(&[new], &sts, &by_old));
        assert!(!verify(&[], &sts, &by_new));
        assert!(!verify(&[b"other"], &sts, &by_new));
    }

    #[test]
    fn verify_refuses_any_change() {
        let sts = text_of(&example());
        let signature = sign(SECRET, &sts);
        let changed = [
            Parts { method: "POST", ..example() },
            Parts { path: "/v1/orders/43", ..example() },
            Parts { path: "/v1/orders/%34%32", ..example() },
            Parts { query: "status=paid&b=2&a=x+y&a=%7e2", ..example() },
            Parts { query: "", ..example() },
            Parts { body: b"{}", ..example() },
            Parts { timestamp: "1700000001", ..example() },
            Parts { nonce: "n0nce-0002", ..example() },
        ];
        for parts in changed {
            let text = text_of(&parts);
            assert!(!verify(&[SECRET], &text, &signature), "{text:?}");
        }
        // The same query written differently signs the same.
        let same = Parts { query: "a=%78%20y&status=paid&a=~1&b=2", ..example() };
        assert!(verify(&[SECRET], &text_of(&same), &signature));
        // Malformed or truncated signatures.
        let truncated = &signature[..signature.len() - 4];
        for bad in ["", "not base64!", truncated, &signature.replace('=', ""), "AAAA"] {
            assert!(!verify(&[SECRET], &sts, bad), "{bad}");
        }
        // The digest's own short form is refused as well.
        let raw = STANDARD.decode(&signature).unwrap();
        assert!(!verify(&[SECRET], &sts, &STANDARD.encode(&raw[..16])));
    }

    #[test]
    fn canonical_query_examples() {
        let cases = [
            ("", ""),
            ("&&", ""),
            ("a", "a="),
            ("a=", "a="),
            ("=x", "=x"),
            ("b=1&a=2", "a=2&b=1"),
            ("a=2&a=1&a=10", "a=1&a=10&a=2"),
            ("q=a+b%20c", "q=a%20b%20c"),
            ("q=%2b", "q=%2B"),
            ("q=%e2%82%ac", "q=%E2%82%AC"),
            ("q=€", "q=%E2%82%AC"),
            ("q=%zz&r=%4", "q=%25zz&r=%254"),
            ("q=%", "q=%25"),
            ("q=a=b", "q=a%3Db"),
            ("k%3Dx=1", "k%3Dx=1"),
            ("q=%7E%2D%2E%5F", "q=~-._"),
            ("q=%FF", "q=%FF"),
            ("q=!*'();:@$,/?", "q=%21%2A%27%28%29%3B%3A%40%24%2C%2F%3F"),
            // Sorted by encoded key: "%20" < "A" < "a".
            ("a=1&A=2&+=3", "%20=3&A=2&a=1"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_query(raw), expected, "{raw}");
        }
    }

    #[test]
    fn timestamps() {
        assert!(timestamp_fresh(1000, 1000, TIMESTAMP_WINDOW_SECS));
        assert!(timestamp_fresh(700, 1000, TIMESTAMP_WINDOW_SECS));
        assert!(timestamp_fresh(1300, 1000, TIMESTAMP_WINDOW_SECS));
        assert!(!timestamp_fresh(699, 1000, TIMESTAMP_WINDOW_SECS));
        assert!(!timestamp_fresh(1301, 1000, TIMESTAMP_WINDOW_SECS));
        assert!(!timestamp_fresh(i64::MIN, i64::MAX, TIMESTAMP_WINDOW_SECS));
        assert!(!timestamp_fresh(i64::MAX, 0, TIMESTAMP_WINDOW_SECS));
        assert!(!timestamp_fresh(0, 0, -1));

        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("0"), Some(0));
        for bad in ["", "-1", "+1", " 1", "1.5", "1e9", "0x10", "9999999999999999999"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces() {
        for good in ["abcdefgh", "A1_-A1_-", &"x".repeat(64), "n0nce-0001"] {
            assert!(valid_nonce(good), "{good}");
        }
        for bad in ["", "abcdefg", &"x".repeat(65), "abcdefg!", "abcd efgh", "abcdéfgh", "abcdefg="] {
            assert!(!valid_nonce(bad), "{bad}");
        }
    }

    /// Encodes `bytes` in one of the many ways a client may write it; `choices` picks per byte.
    fn loosely_encoded(bytes: &[u8], choices: &[u8]) -> String {
        let mut out = String::new();
        for (i, &byte) in bytes.iter().enumerate() {
            let choice = choices.get(i).copied().unwrap_or(0) % 3;
            let literal_ok = byte.is_ascii_alphanumeric() || b"-._~!$'()*,;:@/?".contains(&byte);
            match (choice, byte) {
                (0, b' ') => out.push('+'),
                (0, _) if literal_ok => out.push(char::from(byte)),
                (1, _) => out.push_str(&format!("%{byte:02x}")),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    }

    /// A query pair as bytes (key, value) and the per-byte encoding choices for each.
    type Pair = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

    fn pairs() -> impl Strategy<Value = Vec<Pair>> {
        let bytes = || prop::collection::vec(any::<u8>(), 0..8);
        prop::collection::vec((bytes(), bytes(), bytes(), bytes()), 0..8)
    }

    fn query_of(pairs: &[Pair]) -> String {
        pairs
            .iter()
            .map(|(key, value, key_choice, value_choice)| {
                format!("{}={}", loosely_encoded(key, key_choice), loosely_encoded(value, value_choice))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    proptest! {
        /// However each byte is written, and in whatever order the pairs come, the canonical
        /// query is the same.
        #[test]
        fn canonical_query_ignores_order_and_encoding_choices(
            pairs in pairs(),
            other_choices in prop::collection::vec(any::<u8>(), 0..16),
            seed in any::<u64>(),
        ) {
            let written = query_of(&pairs);
            // The same pairs, rotated and written with other choices.
            let mut moved = pairs.clone();
            if !moved.is_empty() {
                let by = (seed as usize) % moved.len();
                moved.rotate_left(by);
                if seed % 2 == 0 {
                    moved.reverse();
                }
            }
            for pair in &mut moved {
                pair.2 = other_choices.clone();
                pair.3 = other_choices.iter().rev().copied().collect();
            }
            prop_assert_eq!(canonical_query(&written), canonical_query(&query_of(&moved)));
        }

        /// Canonical text is a fixed point, uses only unreserved characters, `%HH` with
        /// upper-case hex, `=` and `&`, and decodes back to exactly the sorted pairs: no two
        /// different sets of pairs share a canonical form.
        #[test]
        fn canonical_query_is_a_fixed_point_and_keeps_every_pair(pairs in pairs()) {
            let canonical = canonical_query(&query_of(&pairs));
            prop_assert_eq!(canonical_query(&canonical), canonical.clone());
            let bytes = canonical.as_bytes();
            for (i, &byte) in bytes.iter().enumerate() {
                let ok = byte.is_ascii_alphanumeric()
                    || b"-._~=&".contains(&byte)
                    || (byte == b'%'
                        && bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
                        && bytes.get(i + 2).is_some_and(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
                prop_assert!(ok, "byte {} at {} in {}", byte, i, canonical);
            }
            let mut expected: Vec<(Vec<u8>, Vec<u8>)> =
                pairs.iter().map(|(key, value, _, _)| (key.clone(), value.clone())).collect();
            expected.sort_by_key(|(key, value)| (encode(key), encode(value)));
            let decoded: Vec<(Vec<u8>, Vec<u8>)> = canonical
                .split('&')
                .filter(|piece| !piece.is_empty())
                .map(|piece| {
                    let (key, value) = piece.split_once('=').unwrap();
                    (decode(key), decode(value))
                })
                .collect();
            prop_assert_eq!(decoded, expected);
        }

        /// A signature verifies under its own secret and not under another.
        #[test]
        fn sign_then_verify(secret in prop::collection::vec(any::<u8>(), 0..100), text in ".*") {
            let signature = sign(&secret, &text);
            prop_assert!(verify(&[&secret], &text, &signature));
            let mut other = secret.clone();
            other.push(1);
            prop_assert!(!verify(&[&other], &text, &signature));
        }
    }
}
