//! Phases *authenticate*, *grant* and *limit* (and the caller's address they read): whether
//! this caller may call this route now. Each refuses with its own codes; nothing after them
//! runs for a refused caller.

use std::sync::Arc;

use catalog::model::{AuthMode, Environment, SecurityLevel};
use http::{HeaderName, HeaderValue, header};
use plugins::{ApiError, ErrorCode};

use super::record::CallFacts;
use super::route::Refused;
use super::{CallHead, Edge};
use crate::callers::{AppEntry, Credentials, SignedParts, nonce_verdict};
use crate::client_addr::client_addr;
use crate::limiter::{ThrottleScope, Throttled, shared_limits};
use crate::replay::NonceCheck;
use crate::request_headers::text as header_text;
use crate::routes::{Route, Snapshot};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

impl Edge {
    /// Phases *authenticate*, *grant* and *limit* in turn, for the route's auth mode: an API
    /// open to anyone skips the first two (its callers see L1) and is limited by its own QPS.
    pub(super) async fn admit(
        &self,
        head: &CallHead<'_>,
        snapshot: &Snapshot,
        route: &Route,
        env: Environment,
        body: &[u8],
        facts: &mut CallFacts,
    ) -> std::result::Result<Admitted, Refused> {
        let client = self.client_ip(head);
        facts.client = Some(client);
        if route.access.auth_mode == AuthMode::None {
            self.limit(route, env, 0, None).await?;
            return Ok(Admitted { clearance: SecurityLevel::L1, app: None, client });
        }
        let now = catalog::now_ms();
        let app = self.authenticate(head, snapshot, body, client, now).await?;
        facts.app_id = Some(app.id);
        let grant_qps = grant(snapshot, route, app, now)?;
        self.limit(route, env, app.id, grant_qps).await?;
        Ok(Admitted { clearance: app.clearance, app: Some(Arc::clone(app)), client })
    }

    /// Phase *authenticate*: the app behind the call's credentials (an app token, or a
    /// signature over the call, checked against replays), called from an address its IP allow
    /// list admits. Refuses 401 `Unauthorized.*` and 403 `Forbidden.IpNotAllowed`. Nonces are
    /// remembered by this node and, with Redis, by the cluster: a nonce either has seen is
    /// refused; without Redis at the moment, this node's memory alone decides.
    async fn authenticate<'s>(
        &self,
        head: &CallHead<'_>,
        snapshot: &'s Snapshot,
        body: &[u8],
        client: std::net::IpAddr,
        now: i64,
    ) -> std::result::Result<&'s Arc<AppEntry>, Refused> {
        let credentials = Credentials::from_headers(&head.headers)?;
        let signed = SignedParts { method: head.method.as_str(), path: head.path, query: head.query, body };
        let (app, nonce) = snapshot.callers.authenticate(&credentials, &signed, now)?;
        if let Some(nonce) = nonce {
            let mut check = self.nonces.first_use(app.id, nonce, now / 1000);
            if let (NonceCheck::First | NonceCheck::Full, Some(shared)) = (check, &self.settings.shared) {
                check = match shared.first_use(app.id, nonce).await {
                    Some(true) => NonceCheck::First,
                    Some(false) => NonceCheck::Replayed,
                    None => check,
                };
            }
            nonce_verdict(check)?;
        }
        if !app.allows(client) {
            return Err(ApiError::new(
                ErrorCode::ForbiddenIpNotAllowed,
                format!("calls from {client} are not in the app's IP allow list"),
            )
            .into());
        }
        Ok(app)
    }

    /// Phase *limit*: the grant's QPS, then the API's, then the platform's for the
    /// environment — in Redis when configured and reachable (one round trip for all three),
    /// by this node alone otherwise. Refuses 429 `Throttling.User`, `Throttling.Api` or
    /// `Throttling.System` with `Retry-After`.
    async fn limit(
        &self,
        route: &Route,
        env: Environment,
        app_id: i64,
        grant_qps: Option<std::num::NonZeroU32>,
    ) -> std::result::Result<(), Refused> {
        let system_qps = self.settings.system_qps[usize::from(env == Environment::Test)];
        let mut decided = None;
        if let Some(shared) = &self.settings.shared {
            let system = system_qps.map(|qps| (env.as_str(), qps));
            let limits = shared_limits(route.api_id, route.access.max_qps, app_id, grant_qps, system);
            let keys: Vec<shared::Limit> = limits.iter().map(|(_, limit)| limit.clone()).collect();
            decided = shared.limit(&keys).await.map(|refused| match refused {
                None => Ok(()),
                Some((index, retry_after)) => {
                    let scope = limits.get(index).map_or(ThrottleScope::Api, |(scope, _)| *scope);
                    Err(Throttled { scope, retry_after })
                }
            });
        }
        let decided = decided.unwrap_or_else(|| {
            self.limiters.check(route.api_id, route.access.max_qps, app_id, grant_qps)?;
            match system_qps {
                Some(qps) => self.limiters.check_system(u8::from(env == Environment::Test), qps),
                None => Ok(()),
            }
        });
        match decided {
            Ok(()) => Ok(()),
            Err(throttled) => {
                calls::metrics::metrics().limiter_refused(Some(route.api_id));
                let retry_after = throttled.retry_after_secs();
                let (code, what) = match throttled.scope {
                    ThrottleScope::User => (ErrorCode::ThrottlingUser, "this app's share of the API"),
                    ThrottleScope::Api => (ErrorCode::ThrottlingApi, "the API"),
                    ThrottleScope::System => {
                        (ErrorCode::ThrottlingSystem, "the platform (all APIs together; the operator sets the limit)")
                    }
                };
                Err(Refused {
                    error: ApiError::new(code, format!("too many calls to {what}; retry after {retry_after} s")),
                    header: Some(Box::new((header::RETRY_AFTER, HeaderValue::from(retry_after)))),
                })
            }
        }
    }

    /// The caller's address: the socket's, or the client a trusted proxy names.
    fn client_ip(&self, head: &CallHead<'_>) -> std::net::IpAddr {
        let socket = head.peer.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        // Only a trusted proxy's headers are read (client_addr decides the same; this skips
        // gathering them for every other caller).
        if !self.settings.trusted_proxies.contains(socket.to_canonical()) {
            return socket.to_canonical();
        }
        // Several X-Forwarded-For headers are one list, in order.
        let values: Vec<&str> = head.headers.all(X_FORWARDED_FOR.as_str()).filter_map(header_text).collect();
        let forwarded = match values.len() {
            0 => None,
            1 => Some(std::borrow::Cow::Borrowed(values[0])),
            _ => Some(std::borrow::Cow::Owned(values.join(","))),
        };
        client_addr(socket, forwarded.as_deref(), &self.settings.trusted_proxies)
    }
}

/// Phase *grant*: the app's clearance reaches the API's security level and the API's
/// workgroup granted it this API (unexpired); the grant's QPS limit, if any. Refuses 403
/// `Forbidden.SecurityLevel` and `Forbidden.NoGrant`.
fn grant(
    snapshot: &Snapshot,
    route: &Route,
    app: &AppEntry,
    now: i64,
) -> std::result::Result<Option<std::num::NonZeroU32>, Refused> {
    if app.clearance < route.access.security_level {
        return Err(ApiError::new(
            ErrorCode::ForbiddenSecurityLevel,
            format!(
                "the API needs clearance {}; the app has {}",
                route.access.security_level.as_str(),
                app.clearance.as_str()
            ),
        )
        .into());
    }
    match snapshot.callers.grant(route.api_id, app.id, now) {
        Some(grant) => Ok(grant.qps),
        None => Err(ApiError::new(
            ErrorCode::ForbiddenNoGrant,
            "the app has no grant for this API: ask the API's workgroup for one",
        )
        .into()),
    }
}

/// An admitted caller.
pub(super) struct Admitted {
    pub(super) clearance: SecurityLevel,
    /// `None` for a public API's anonymous caller.
    pub(super) app: Option<Arc<AppEntry>>,
    pub(super) client: std::net::IpAddr,
}

/// An address as 16 bytes (IPv4 mapped into IPv6), for hashing without allocating.
pub(super) fn address_bytes(ip: std::net::IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(v6) => v6.octets(),
    }
}
