//! The Prometheus exposition of the process (`calls::metrics`, docs/metrics.md).
//!
//! ```text
//!  /admin/v1/metrics   GET  platform administrators, or the operator's metrics token
//!  /metrics            GET  the same route, where Prometheus looks by default
//! ```
//!
//! With `[metrics] addr` the same text is also served on a listener of its own without a
//! token ([`open_router`]): the operator binds it to an interface only the scraper reaches.

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::access::{Access, Routes};

pub fn register(routes: Routes) -> Routes {
    routes.add(Method::GET, "/metrics", Access::Metrics, get(exposition)).also_at("/metrics", get(exposition))
}

/// Every metric of the process, as Prometheus's text format 0.0.4.
pub async fn exposition() -> Response {
    let mut response = calls::metrics::metrics().encode().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(calls::metrics::CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /metrics` alone, without a token: for the listener of `[metrics] addr`.
pub fn open_router() -> Router {
    Router::new().route("/metrics", get(exposition))
}
