//! Who is calling: the edge's table of apps, app tokens and grants, built from the catalog's
//! [`CallerDirectory`] with every snapshot, and the authentication of one call against it.
//!
//! ```text
//! X-Sluice-App-Key + Authorization: Bearer sat_…           an app token (issued by the admin API)
//! X-Sluice-App-Key + X-Sluice-Timestamp + X-Sluice-Nonce
//!                  + X-Sluice-Signature                     an HMAC-SHA256 signature (signature.rs)
//! ```
//!
//! Every credential problem answers 401 `Unauthorized.InvalidCredentials` whatever part was
//! wrong (unknown key, wrong token, a token of another app, a bad signature, a disabled app),
//! so a caller learns nothing about which part was right. A stale timestamp and a replayed
//! nonce have codes of their own: neither says anything about the key or the secret.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use catalog::model::SecurityLevel;
use catalog::store::CallerDirectory;
use http::HeaderName;
use plugins::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};

use crate::client_addr::IpAllowList;
use crate::replay::NonceCheck;
use crate::request_headers::{RequestHeaders, text as header_text};
use crate::signature;

use crate::signature::TIMESTAMP_WINDOW_SECS as SIGNATURE_WINDOW_SECS;
pub use crate::signature::{APP_KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// An app as the edge checks its calls.
#[derive(Debug)]
pub struct AppEntry {
    pub id: i64,
    pub key: String,
    pub clearance: SecurityLevel,
    pub ip_allow: IpAllowList,
    secret: Vec<u8>,
    /// The rotated-out secret and when it stops working (milliseconds since the Unix epoch).
    previous_secret: Option<(Vec<u8>, i64)>,
}

/// A grant as the edge checks it.
#[derive(Debug, Clone, Copy)]
pub struct GrantEntry {
    pub expires_at: Option<i64>,
    pub qps: Option<NonZeroU32>,
}

#[derive(Debug, Clone, Copy)]
struct TokenEntry {
    app_id: i64,
    expires_at: i64,
}

/// Apps by key, app tokens by the SHA-256 of their text, and grants by API and app.
#[derive(Debug, Default)]
pub struct CallerTable {
    apps_by_key: HashMap<String, Arc<AppEntry>>,
    tokens: HashMap<[u8; 32], TokenEntry>,
    grants: HashMap<(i64, i64), GrantEntry>,
}

/// The credentials a call carries, borrowed from its headers.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    Token { app_key: &'a str, token: &'a str },
    Signature { app_key: &'a str, timestamp: &'a str, nonce: &'a str, signature: &'a str },
}

/// What a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
}

impl<'a> Credentials<'a> {
    /// Reads the credentials from the headers; 401 `Unauthorized.MissingCredentials` when
    /// there are none or only some of one kind.
    pub fn from_headers(headers: &RequestHeaders<'a>) -> Result<Credentials<'a>, ApiError> {
        let text = |name: &HeaderName| headers.get(name).and_then(header_text).map(str::trim);
        let Some(app_key) = text(&APP_KEY_HEADER).filter(|k| !k.is_empty()) else {
            return Err(missing_credentials());
        };
        let bearer = headers.get(&http::header::AUTHORIZATION).and_then(header_text).and_then(|v| {
            // `Bearer` in any case; an empty token is a wrong one, not a missing one.
            let (scheme, token) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
            scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
        });
        if let Some(token) = bearer {
            return Ok(Credentials::Token { app_key, token });
        }
        match (text(&TIMESTAMP_HEADER), text(&NONCE_HEADER), text(&SIGNATURE_HEADER)) {
            (Some(timestamp), Some(nonce), Some(signature)) => {
                Ok(Credentials::Signature { app_key, timestamp, nonce, signature })
            }
            _ => Err(missing_credentials()),
        }
    }
}

impl CallerTable {
    pub fn build(directory: CallerDirectory) -> CallerTable {
        let mut apps_by_key = HashMap::with_capacity(directory.apps.len());
        for credentials in directory.apps {
            let app = credentials.app;
            let ip_allow = match IpAllowList::parse(&app.ip_allow) {
                Ok(list) => list,
                Err(e) => {
                    // Stored lists are checked when written; refuse everything rather than
                    // let a list that cannot be read allow everyone.
                    tracing::error!(app = app.id, "the app's IP allow list cannot be read, refusing its calls: {e}");
                    IpAllowList::nobody()
                }
            };
            let entry = AppEntry {
                id: app.id,
                key: app.app_key.clone(),
                clearance: app.clearance,
                ip_allow,
                secret: credentials.secret.into_bytes(),
                previous_secret: credentials.previous_secret.map(|(secret, until)| (secret.into_bytes(), until)),
            };
            apps_by_key.insert(app.app_key, Arc::new(entry));
        }
        let tokens = directory
            .tokens
            .into_iter()
            .filter_map(|t| {
                let hash = hex_to_bytes(&t.token_hash)?;
                Some((hash, TokenEntry { app_id: t.app_id, expires_at: t.expires_at }))
            })
            .collect();
        let grants = directory
            .grants
            .into_iter()
            .map(|g| {
                ((g.api_id, g.app_id), GrantEntry { expires_at: g.expires_at, qps: g.qps.and_then(NonZeroU32::new) })
            })
            .collect();
        CallerTable { apps_by_key, tokens, grants }
    }

    /// The app the credentials prove, or why not, with the signature's nonce still to be
    /// checked against replays ([`nonce_verdict`]). `now_ms` is the edge's clock.
    pub fn authenticate<'c>(
        &self,
        credentials: &Credentials<'c>,
        signed: &SignedParts<'_>,
        now_ms: i64,
    ) -> Result<(&Arc<AppEntry>, Option<&'c str>), ApiError> {
        match *credentials {
            Credentials::Token { app_key, token } => {
                let app = self.apps_by_key.get(app_key).ok_or_else(invalid_credentials)?;
                let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                match self.tokens.get(&hash) {
                    Some(entry) if entry.app_id == app.id && entry.expires_at > now_ms => Ok((app, None)),
                    _ => Err(invalid_credentials()),
                }
            }
            Credentials::Signature { app_key, timestamp, nonce, signature } => {
                // Checked first: it says nothing about the key or the secret.
                let fresh = signature::parse_timestamp(timestamp)
                    .is_some_and(|ts| signature::timestamp_fresh(ts, now_ms / 1000, SIGNATURE_WINDOW_SECS));
                if !fresh {
                    return Err(ApiError::new(
                        ErrorCode::UnauthorizedStaleTimestamp,
                        format!(
                            "X-Sluice-Timestamp must be the current time in Unix seconds, within {SIGNATURE_WINDOW_SECS} \
                             seconds of the server's clock"
                        ),
                    ));
                }
                if !signature::valid_nonce(nonce) {
                    return Err(invalid_credentials());
                }
                let app = self.apps_by_key.get(app_key).ok_or_else(invalid_credentials)?;
                let text =
                    signature::string_to_sign(signed.method, signed.path, signed.query, signed.body, timestamp, nonce);
                let mut secrets: Vec<&[u8]> = vec![&app.secret];
                if let Some((previous, until)) = &app.previous_secret
                    && *until > now_ms
                {
                    secrets.push(previous);
                }
                if !signature::verify(&secrets, &text, signature) {
                    return Err(invalid_credentials());
                }
                // Only a valid signature spends a nonce: nobody can burn another app's nonces.
                Ok((app, Some(nonce)))
            }
        }
    }

    /// The app's grant on the API, if it has one that has not expired.
    pub fn grant(&self, api_id: i64, app_id: i64, now_ms: i64) -> Option<GrantEntry> {
        self.grants.get(&(api_id, app_id)).copied().filter(|g| g.expires_at.is_none_or(|until| until > now_ms))
    }
}

impl AppEntry {
    /// Whether a call from `client` may use this app.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.ip_allow.allows(client)
    }
}

/// Whether a signed call may go on, given what the nonce caches found.
pub fn nonce_verdict(check: NonceCheck) -> Result<(), ApiError> {
    match check {
        NonceCheck::First => Ok(()),
        NonceCheck::Replayed => Err(ApiError::new(
            ErrorCode::UnauthorizedReplayedNonce,
            "this X-Sluice-Nonce was already used: send a new random nonce with every call",
        )),
        NonceCheck::Full => Err(ApiError::new(
            ErrorCode::ServiceUnavailableSignatures,
            "too many signed calls to check for replays right now: retry shortly, or use an app token",
        )),
    }
}

pub fn missing_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::UnauthorizedMissingCredentials,
        "this API needs an app: send X-Sluice-App-Key with `Authorization: Bearer <app token>`, or with \
         X-Sluice-Timestamp, X-Sluice-Nonce and X-Sluice-Signature",
    )
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::UnauthorizedInvalidCredentials, "the app key and token or signature were not accepted")
}

fn hex_to_bytes(text: &str) -> Option<[u8; 32]> {
    <[u8; 32] as hex::FromHex>::from_hex(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_read_back_as_the_digest() {
        let hex = catalog::store::hash_token("sat_abc");
        let digest: [u8; 32] = Sha256::digest(b"sat_abc").into();
        assert_eq!(hex_to_bytes(&hex), Some(digest));
        assert_eq!(hex_to_bytes("zz"), None);
        assert_eq!(hex_to_bytes(&"g".repeat(64)), None);
    }

    #[test]
    fn credentials_need_a_key_and_a_token_or_every_signature_header() {
        let read = |headers: &http::HeaderMap| {
            Credentials::from_headers(&RequestHeaders::Map(headers)).map(|c| format!("{c:?}"))
        };
        let mut headers = http::HeaderMap::new();
        assert_eq!(read(&headers).unwrap_err().code(), "Unauthorized.MissingCredentials");
        headers.insert(APP_KEY_HEADER, "key".parse().unwrap());
        assert!(read(&headers).is_err());
        headers.insert(TIMESTAMP_HEADER, "1".parse().unwrap());
        headers.insert(NONCE_HEADER, "n".parse().unwrap());
        assert!(read(&headers).is_err(), "no signature yet");
        headers.insert(SIGNATURE_HEADER, "s".parse().unwrap());
        assert!(read(&headers).unwrap().starts_with("Signature"));
        headers.insert(http::header::AUTHORIZATION, "Bearer t".parse().unwrap());
        assert!(read(&headers).unwrap().contains("token: \"t\""));
        headers.remove(APP_KEY_HEADER);
        assert!(read(&headers).is_err(), "a token without its app key");
    }
}
