//! OpenAPI documents: the management API's own, per API, per workgroup and per app, and the
//! page that renders the management document.
//!
//! - `GET /openapi.json` (public): the management API, generated from the route registry
//!   ([`management::management_document`]).
//! - `GET /docs` (public): moved; redirects to the web console's page for that document
//!   (`/console/docs`, which adds "try it").
//! - `GET /workgroups/{workgroup}/openapi.json` (viewer): everything the workgroup publishes
//!   to production, as callers see it ([`openapi::workgroup_document`]).
//! - `GET /workgroups/{workgroup}/apis/{id}/openapi.json` (viewer): one API, the version
//!   published to production or else its latest saved version ([`openapi::api_document`]).
//! - `GET /workgroups/{workgroup}/apps/{id}/openapi.json` (viewer, registered by `apps.rs`):
//!   what one app may call in production, as it sees it ([`app_document`]).
//!
//! Caller documents name the edge (`AdminState::edge_url`) as their server. Workgroup and app
//! documents can describe thousands of APIs: they are written as compact JSON and kept per
//! catalog revision ([`cache`]): built once per change of the store, by one request while
//! the others wait, a bounded number at a time. They carry an `ETag`; `If-None-Match` with it
//! answers 304.

pub mod cache;
pub mod management;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use catalog::model::{Api, ApiVersion, App, Environment, Workgroup, WorkgroupRole};
use catalog::now_ms;
use catalog::store::{Store, StoreError};

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::reply::AdminError;
use cache::{Doc, DocKey};

/// Where the management document's page was, and where it is now (the `console` crate).
pub const PAGE_PATH: &str = "/docs";
pub const CONSOLE_PAGE: &str = "/console/docs";

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    let viewer = Access::Workgroup(WorkgroupRole::Viewer);
    routes
        .add(Method::GET, "/openapi.json", Access::Public, get(management_json))
        .add(Method::GET, PAGE_PATH, Access::Public, get(|| async { Redirect::permanent(CONSOLE_PAGE) }))
        .add(Method::GET, "/workgroups/{workgroup}/openapi.json", viewer, get(workgroup_json))
        .add(Method::GET, "/workgroups/{workgroup}/apis/{id}/openapi.json", viewer, get(api_json))
}

/// The management document. The route list is complete only once every area has
/// registered, so it is built on first use from a fresh registry and kept.
async fn management_json(State(state): State<AdminState>) -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        let (_, specs) = super::routes(state);
        openapi::to_json(&management::management_document(&specs))
    });
    json_document(text.clone())
}

pub(super) fn json_document(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn workgroup_json(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let workgroup = caller.workgroup()?.clone();
    let revision = state.store.revision().await?;
    let key = DocKey::Workgroup { id: workgroup.id, name: workgroup.name.clone() };
    let (store, server) = (state.store.clone(), state.edge_url.clone());
    let doc = state
        .docs
        .get_or_build(key, revision, now_ms(), move || async move {
            let apis = published_in(&store, &workgroup).await?;
            in_background(move || Doc::write(&openapi::workgroup_document(&workgroup.name, &apis, &server), None)).await
        })
        .await?;
    Ok(cached_document(&doc, &headers))
}

/// Runs `write`, which builds a document (CPU only), off the runtime's workers.
pub(super) async fn in_background(
    write: impl FnOnce() -> std::io::Result<Doc> + Send + 'static,
) -> Result<Doc, AdminError> {
    let failed = |why: String| AdminError::internal(format_args!("cannot write an OpenAPI document: {why}"));
    match tokio::task::spawn_blocking(write).await {
        Ok(Ok(doc)) => Ok(doc),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// A kept document: 304 when the request's `If-None-Match` names its `ETag` (compared weakly,
/// as RFC 9110 says), else its bytes. Documents follow the caller's rights: caches may keep
/// them privately and must revalidate.
pub(super) fn cached_document(doc: &Arc<Doc>, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(doc.etag()).ok();
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == doc.etag());
    let mut response =
        if matches { StatusCode::NOT_MODIFIED.into_response() } else { Body::new(doc.body()).into_response() };
    let headers = response.headers_mut();
    if !matches {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    response
}

async fn api_json(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let workgroup = caller.workgroup()?;
    let id: i64 = id.parse().map_err(|_| AdminError::invalid("id", "an API id is a whole number"))?;
    let (api, version) = described_version(&state.store, workgroup, id).await?;
    Ok(json_document(openapi::to_json(&openapi::api_document(&api, &version, &state.edge_url))))
}

/// The API `id` of `workgroup` with the version its document describes: the one published to
/// production, else the latest saved one. An API of another workgroup is `NotFound`, as if it
/// did not exist; so is one with no saved version.
pub async fn described_version(store: &Store, workgroup: &Workgroup, id: i64) -> Result<(Api, ApiVersion), AdminError> {
    let hidden = || AdminError::not_found("API", id);
    let api = match store.api(id).await {
        Ok(api) if api.workgroup_id == workgroup.id => api,
        Ok(_) | Err(StoreError::NotFound { .. }) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let prod = store.publications(id).await?.into_iter().find(|p| p.environment == Environment::Prod);
    let version = match prod {
        Some(publication) => store.version(id, publication.version).await?,
        None => store.latest_version(id).await?.ok_or_else(|| AdminError::not_found("saved version of API", id))?,
    };
    Ok((api, version))
}

/// What `workgroup` publishes to production: each API with the version production serves,
/// for [`openapi::workgroup_document`]. Registered constants are not even opened: the
/// documents describe registered APIs from the caller's side only.
pub async fn published_in(store: &Store, workgroup: &Workgroup) -> Result<Vec<(Api, ApiVersion)>, StoreError> {
    store.published_for_documents(Environment::Prod, |api| api.workgroup_id == workgroup.id).await
}

/// The document of what `app` may call at `now` (milliseconds since the Unix epoch), served
/// at `server_url`, with the time from which it is stale (the next expiry of one of its
/// grants): every API published to production that the app holds an unexpired grant for,
/// whichever workgroup it belongs to, in the version production serves. APIs without
/// credentials (`authMode: none`) are in it only when granted too: the document lists what
/// the app was approved for. Parameters and fields above the app's clearance are left out
/// ([`openapi::app_document`]).
pub async fn app_document(store: &Store, app: &App, server_url: &str, now: i64) -> Result<Doc, AdminError> {
    let grants = store.grants_of_app(app.id).await?;
    let live = grants.iter().filter(|g| g.expires_at.is_none_or(|at| at > now));
    let valid_until = live.clone().filter_map(|g| g.expires_at).min();
    let granted: HashSet<i64> = live.map(|g| g.api_id).collect();
    let apis = if granted.is_empty() {
        Vec::new()
    } else {
        store.published_for_documents(Environment::Prod, |api| granted.contains(&api.id)).await?
    };
    let (name, clearance, server) = (app.name.clone(), app.clearance, server_url.to_owned());
    in_background(move || Doc::write(&openapi::app_document(&name, clearance, &apis, &server), valid_until)).await
}
