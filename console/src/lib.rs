//! The web console: a single-page app (`web/`, TypeScript and React, built by npm through
//! `scripts/console`) embedded in the binary by `build.rs` and served at `/console/` on the
//! admin address. Nothing is loaded from elsewhere; the page talks to `/admin/v1` with the
//! user token it is given at sign-in, kept in memory only.
//!
//! - Hashed build files (`/console/assets/…`) are cached for a year; every other path that
//!   names no file answers the app's page, so deep links and reloads land in the app.
//! - A gzip twin written by the build is sent when the request accepts gzip.
//! - Every answer carries a Content-Security-Policy that allows only this server's own
//!   scripts, styles and API. The component library writes a few `<style>` elements at run
//!   time; the page gets a fresh nonce for them with each load (in a `<meta>` the app reads),
//!   so no inline style without it applies.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;

/// One embedded file.
pub(crate) struct Asset {
    /// Path under `/console/`, e.g. `assets/index-1a2b3c.js`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Where the console lives on the admin address.
pub const MOUNT: &str = "/console/";

/// Scripts, styles, fonts and API calls from this server only; no inline script, no frames,
/// no plugins, no form posts elsewhere. `{nonce}` is the page's style nonce.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// What the built page holds where the style nonce goes (`web/index.html`).
const NONCE_SLOT: &str = "__SLUICE_STYLE_NONCE__";

/// Files other than the page (scripts, styles, 404s) allow no inline style at all: nothing
/// in them is a page a style could apply to, so they need no nonce and no random bytes.
const FILE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page's policy, allowing styles that carry `nonce`.
fn policy(nonce: &str) -> HeaderValue {
    HeaderValue::from_str(&POLICY.replace("{nonce}", nonce))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// 16 random bytes, base64: a new one for every page load.
fn fresh_nonce() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>())
}

/// The console's routes, to merge beside the management API.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent(MOUNT) }))
        .route("/console/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// Whether the binary holds a built console (not the page saying how to build one).
pub fn is_built() -> bool {
    ASSETS.len() > 1
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.binary_search_by(|asset| asset.path.cmp(path)).ok().and_then(|i| ASSETS.get(i))
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let asset = match find(path) {
        Some(asset) => asset,
        // A file name that is not here is a 404; any other path is a place in the app.
        None if path.rsplit('/').next().is_some_and(|last| last.contains('.')) => {
            return with_policy((StatusCode::NOT_FOUND, "no such file in the console").into_response());
        }
        None => match find("index.html") {
            Some(page) => page,
            None => return with_policy(StatusCode::NOT_FOUND.into_response()),
        },
    };
    if asset.path == "index.html" {
        return page(asset);
    }
    let gzip = asset.gzip.filter(|_| accepts_gzip(request));
    let mut response = Response::new(Body::from(gzip.unwrap_or(asset.body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // Build files carry a content hash in their names; the page itself must be revalidated
    // so a new binary's files are found.
    let cache = if asset.path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if asset.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    with_policy(response)
}

/// The app's page with a fresh style nonce in its `<meta>` and in its policy. It is small
/// (under 1 KiB), so it is sent as is.
fn page(asset: &Asset) -> Response {
    let nonce = fresh_nonce();
    let html = String::from_utf8_lossy(asset.body).replace(NONCE_SLOT, &nonce);
    let mut response = Response::new(Body::from(html));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response = with_policy(response);
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy(&nonce));
    response
}

fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, accept_encoding: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(coding) = accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, coding);
        }
        router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn the_bare_mount_redirects_to_the_app() {
        let response = get("/console", None).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "/console/");
    }

    #[tokio::test]
    async fn the_page_carries_a_strict_policy_and_is_revalidated() {
        let response = get("/console/", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe"), "{policy}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let html = text(response).await;
        assert!(html.contains("<html"));
        // A built page carries the nonce its policy names, and a new one each time.
        if is_built() {
            let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap().to_owned();
            assert_eq!(nonce.len(), 24, "{policy}");
            assert!(html.contains(&format!("content=\"{nonce}\"")), "{html}");
            assert!(!html.contains(NONCE_SLOT));
            let again = get("/console/", None).await;
            assert!(!again.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains(&nonce));
        }
    }

    #[tokio::test]
    async fn a_deep_link_answers_the_page_and_a_missing_file_is_a_404() {
        let page = text(get("/console/", None).await).await;
        let deep = get("/console/workgroups/demo/apis/3", None).await;
        assert_eq!(deep.status(), StatusCode::OK);
        // The same page but for its nonce.
        let strip = |html: String| {
            html.split("content=\"")
                .map(|part| part.split_once('"').map_or(part, |(_, rest)| rest).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(text(deep).await), strip(page));
        let missing = get("/console/assets/nothing-here.js", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    }

    #[tokio::test]
    async fn every_build_file_is_served_with_its_type_and_gzip_when_accepted() {
        for asset in ASSETS.iter().filter(|a| a.path != "index.html") {
            let plain = get(&format!("/console/{}", asset.path), None).await;
            assert_eq!(plain.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(plain.headers()[header::CONTENT_TYPE], asset.content_type);
            assert!(!plain.headers().contains_key(header::CONTENT_ENCODING));
            // Only the page allows nonced styles; its files allow no inline style.
            let policy = plain.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(policy.contains("style-src 'self';") && !policy.contains("nonce"), "{policy}");
            let bytes = axum::body::to_bytes(plain.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&bytes[..], asset.body);
            if asset.path.starts_with("assets/") {
                let cached = get(&format!("/console/{}", asset.path), None).await;
                assert!(cached.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
            }
            if let Some(gzip) = asset.gzip {
                let packed = get(&format!("/console/{}", asset.path), Some("br, gzip;q=0.8")).await;
                assert_eq!(packed.headers()[header::CONTENT_ENCODING], "gzip");
                let bytes = axum::body::to_bytes(packed.into_body(), usize::MAX).await.unwrap();
                assert_eq!(&bytes[..], gzip);
                let refused = get(&format!("/console/{}", asset.path), Some("gzip;q=0, identity")).await;
                assert!(!refused.headers().contains_key(header::CONTENT_ENCODING));
            }
        }
    }

    #[test]
    fn accept_encoding_is_read_as_rfc_9110_says() {
        let with = |v: &'static str| HeaderMap::from_iter([(header::ACCEPT_ENCODING, HeaderValue::from_static(v))]);
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("GZIP")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
