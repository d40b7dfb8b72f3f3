//! The marketplace: listings that a workgroup writes for its APIs, and what every signed-in
//! user browses.
//!
//! ```text
//!  /workgroups/{wg}/apis/{id}/listing          GET viewer · PUT the draft (owner or admin)
//!  /workgroups/{wg}/apis/{id}/listing/submit   POST → 202 a listing request (owner or admin)
//!  /workgroups/{wg}/apis/{id}/listing/delist   POST → 202 a delisting request (owner or admin)
//!  /marketplace/apis                           GET search listed APIs (any user)
//!  /marketplace/apis/{id}                      GET one listing's page (any user)
//!  /marketplace/openapi.json                   GET every listed API in one document (any user)
//! ```
//!
//! Listing, changing a listing and delisting are requests platform admins decide
//! (`approvals.rs`). Only `listed` listings are visible outside their workgroup; anything
//! else answers 404 there, as if it did not exist.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{get, post, put};
use catalog::model::{
    Api, Approval, ApprovalKind, ApprovalState, Environment, Listing, ListingInfo, MarketEntry, RequestParam,
    ResponseField, SecurityLevel, WorkgroupRole,
};
use catalog::store::{ApprovalQuery, ApprovalScope, MarketQuery, MarketSort, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AdminState;
use crate::access::{Access, Caller, Routes};
use crate::apis::api_in;
use crate::approvals::{ApprovalView, RequestBody};
use crate::body::JsonBody;
use crate::datasources::path_id;
use crate::docs::cache::{Doc, DocKey};
use crate::docs::{cached_document, in_background};
use crate::reply::{AdminError, AdminResult, ErrorCode, Page, Reply};
use catalog::now_ms;

/// Registers the listing and marketplace routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Developer, Viewer};
    const LISTING: &str = "/workgroups/{workgroup}/apis/{id}/listing";
    routes
        .add(Method::GET, LISTING, Access::Workgroup(Viewer), get(get_listing))
        .answers::<ListingView>()
        .add(Method::PUT, LISTING, Access::Workgroup(Developer), put(save_listing))
        .body::<ListingInfo>()
        .answers::<ListingView>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/listing/submit",
            Access::Workgroup(Developer),
            post(submit_listing),
        )
        .optional_body::<RequestBody>()
        .answers::<ApprovalView>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/listing/delist",
            Access::Workgroup(Developer),
            post(delist),
        )
        .optional_body::<RequestBody>()
        .answers::<ApprovalView>()
        .add(Method::GET, "/marketplace/apis", Access::Authenticated, get(browse))
        .answers_page::<MarketEntry>()
        .add(Method::GET, "/marketplace/apis/{id}", Access::Authenticated, get(market_page))
        .answers::<MarketPage>()
        .add(Method::GET, "/marketplace/openapi.json", Access::Authenticated, get(market_document))
}

type CallerExt = Extension<Arc<Caller>>;

/// A listing with the request about it that waits for a decision, if any.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListingView {
    #[serde(flatten)]
    pub listing: Listing,
    /// A listing or delisting request of the API that waits for a platform admin.
    pub pending_request: Option<Approval>,
}

/// Whether the caller may list or delist `api`: its workgroup's admins and its owner.
pub(crate) fn owner_or_admin(caller: &Caller, api: &Api) -> Result<(), AdminError> {
    let admin = caller.workgroup.as_ref().is_some_and(|(_, role)| *role == WorkgroupRole::Admin);
    if admin || (!api.settings.owner.is_empty() && api.settings.owner == caller.user.name) {
        return Ok(());
    }
    Err(AdminError::forbidden(format!("only the owner of API `{}` or a workgroup admin may do this", api.name)))
}

async fn listing_view(state: &AdminState, listing: Listing) -> Result<ListingView, AdminError> {
    // At most one pending request per kind and API: a listing and a delisting.
    let query = ApprovalQuery {
        scope: ApprovalScope::Provider(listing.workgroup_id),
        api_id: Some(listing.api_id),
        kind: None,
        state: Some(ApprovalState::Pending),
        limit: 10,
        offset: 0,
    };
    let (pending, _) = state.store.approvals(&query).await?;
    let pending_request =
        pending.into_iter().find(|a| matches!(a.kind, ApprovalKind::Listing | ApprovalKind::Delisting));
    Ok(ListingView { listing, pending_request })
}

async fn get_listing(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<ListingView> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let listing = state.store.listing(api.id).await?.ok_or_else(|| AdminError::not_found("listing of API", api.id))?;
    Ok(Reply::ok(listing_view(&state, listing).await?))
}

/// `PUT …/listing`: the draft the next submission sends; the marketplace shows it once a
/// platform admin approves.
async fn save_listing(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(info): JsonBody<ListingInfo>,
) -> AdminResult<ListingView> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    owner_or_admin(&caller, &api)?;
    let info = info.normalized();
    info.check().map_err(|(field, why)| AdminError::invalid(field, why))?;
    let listing = state.store.save_listing_draft(api.id, &info).await?;
    crate::apis::record(&state, &caller, "listing.save", &api, json!({"category": info.category})).await;
    Ok(Reply::ok(listing_view(&state, listing).await?))
}

async fn submit_listing(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestBody>,
) -> AdminResult<ApprovalView> {
    listing_request(&state, &caller, &id, body, ApprovalKind::Listing).await
}

async fn delist(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestBody>,
) -> AdminResult<ApprovalView> {
    listing_request(&state, &caller, &id, body, ApprovalKind::Delisting).await
}

/// Asks platform admins to list or delist the API: 202 with the request.
async fn listing_request(
    state: &AdminState,
    caller: &Caller,
    id: &str,
    body: RequestBody,
    kind: ApprovalKind,
) -> AdminResult<ApprovalView> {
    let api = api_in(state, caller.workgroup()?, id).await?;
    owner_or_admin(caller, &api)?;
    let (reason, notify) = body.checked(state, caller, api.workgroup_id).await?;
    let asking = catalog::store::Asking { by: &caller.user.name, reason: &reason, notify: &notify };
    let (approval, action) = if kind == ApprovalKind::Listing {
        (state.store.submit_listing(api.id, asking).await, "listing.submit")
    } else {
        (state.store.request_delisting(api.id, asking).await, "listing.delist")
    };
    let approval = approval.map_err(refused_request)?;
    crate::apis::record(state, caller, action, &api, json!({"request": approval.id})).await;
    crate::announce::request_made(&state.store, &approval);
    crate::approvals::accepted(state, caller, approval).await
}

/// A request the API's state does not allow is a conflict with that state, not bad input.
fn refused_request(error: StoreError) -> AdminError {
    match error {
        StoreError::Invalid(why) => AdminError::new(ErrorCode::Conflict, why),
        other => other.into(),
    }
}

/// `GET /marketplace/apis` filters; every one optional.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BrowseQuery {
    /// Words matched in name, summary and tags, whatever their case.
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    /// The offering workgroup's name.
    workgroup: Option<String>,
    /// `L1`–`L4`: APIs of exactly this security level.
    level: Option<String>,
    /// `name` (default) or `newest`.
    sort: Option<String>,
    #[serde(default = "crate::people::first_page")]
    page_num: u64,
    #[serde(default = "crate::people::default_page_size")]
    page_size: u64,
}

async fn browse(
    State(state): State<AdminState>,
    query: Result<Query<BrowseQuery>, axum::extract::rejection::QueryRejection>,
) -> AdminResult<Page<MarketEntry>> {
    let Query(query) = query.map_err(|e| AdminError::invalid("query", e.body_text()))?;
    crate::people::PageQuery { page_num: query.page_num, page_size: query.page_size }.check()?;
    let security_level = query
        .level
        .as_deref()
        .map(|l| l.parse::<SecurityLevel>().map_err(|why| AdminError::invalid("level", why)))
        .transpose()?;
    let sort = match query.sort.as_deref() {
        None | Some("name") => MarketSort::Name,
        Some("newest") => MarketSort::Newest,
        Some(_) => return Err(AdminError::invalid("sort", "sort by `name` or `newest`")),
    };
    let empty = || Page { items: Vec::new(), page_num: query.page_num, page_size: query.page_size, total: 0 };
    let workgroup_id = match &query.workgroup {
        None => None,
        Some(name) => match state.store.workgroup_by_name(name).await {
            Ok(w) => Some(w.id),
            // No such workgroup lists nothing.
            Err(StoreError::NotFound { .. }) => return Ok(Reply::ok(empty())),
            Err(e) => return Err(e.into()),
        },
    };
    let market = MarketQuery {
        text: query.q,
        category: query.category,
        tag: query.tag,
        workgroup_id,
        security_level,
        sort,
        limit: query.page_size,
        offset: (query.page_num - 1).saturating_mul(query.page_size).min(i64::MAX as u64),
    };
    let (items, total) = state.store.marketplace(&market).await?;
    Ok(Reply::ok(Page { items, page_num: query.page_num, page_size: query.page_size, total }))
}

/// `GET /marketplace/apis/{id}` options.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PageOptions {
    /// One of the caller's apps: parameters and fields are shown as its clearance sees them
    /// (without it, as clearance L1).
    app: Option<String>,
}

/// One listing's page: what the API is, how to call it as the caller's app would, and the
/// caller's applications for it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketPage {
    #[serde(flatten)]
    pub entry: MarketEntry,
    /// The clearance the parameters and fields are shown for.
    pub clearance: SecurityLevel,
    /// The version production serves.
    pub version: i64,
    pub request_params: Vec<RequestParam>,
    pub response_fields: Vec<ResponseField>,
    /// The OpenAPI 3.1 document of the API as that clearance sees it.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// Applications for this API made by the caller.
    pub my_applications: Vec<Approval>,
}

async fn market_page(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(id): Path<String>,
    options: Result<Query<PageOptions>, axum::extract::rejection::QueryRejection>,
) -> AdminResult<MarketPage> {
    let Query(options) = options.map_err(|e| AdminError::invalid("query", e.body_text()))?;
    let id = path_id("listed API", &id)?;
    let entry = state.store.market_entry(id).await?;
    let clearance = match &options.app {
        None => SecurityLevel::L1,
        Some(app) => caller_app(&state, &caller, app).await?.clearance,
    };
    let api = state.store.api(id).await?;
    let publication = state
        .store
        .publications(id)
        .await?
        .into_iter()
        .find(|p| p.environment == Environment::Prod)
        .ok_or_else(|| AdminError::not_found("listed API", id))?;
    let version = openapi::for_clearance(&state.store.version(id, publication.version).await?, clearance);
    let document = serde_json::to_value(openapi::api_document(&api, &version, &state.edge_url))
        .map_err(|e| AdminError::internal(format_args!("cannot write the API's document: {e}")))?;
    let query = ApprovalQuery {
        scope: ApprovalScope::RequestedBy(caller.user.name.clone()),
        api_id: Some(id),
        kind: Some(ApprovalKind::Application),
        state: None,
        limit: 500,
        offset: 0,
    };
    let (mine, _) = state.store.approvals(&query).await?;
    let definition = version.definition;
    Ok(Reply::ok(MarketPage {
        entry,
        clearance,
        version: version.number,
        request_params: definition.request_params,
        response_fields: definition.response_fields,
        document,
        my_applications: mine,
    }))
}

/// An app of a workgroup the caller belongs to (any app for platform admins); 404 otherwise.
async fn caller_app(state: &AdminState, caller: &Caller, app: &str) -> Result<catalog::model::App, AdminError> {
    let hidden = || AdminError::not_found("app", app).in_field("app");
    let id: i64 = app.parse().map_err(|_| hidden())?;
    let app = match state.store.app(id).await {
        Ok(app) => app,
        Err(StoreError::NotFound { .. }) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    if caller.user.platform_admin || state.store.membership(app.workgroup_id, caller.user.id).await?.is_some() {
        Ok(app)
    } else {
        Err(hidden())
    }
}

/// Every listed API in one OpenAPI 3.1 document, each in the version production serves. Kept
/// per catalog revision like the workgroup documents (listing and delisting bump it).
async fn market_document(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, AdminError> {
    let revision = state.store.revision().await?;
    let (store, server) = (state.store.clone(), state.edge_url.clone());
    let doc = state
        .docs
        .get_or_build(DocKey::Marketplace, revision, now_ms(), move || async move {
            let listed: HashSet<i64> = store.listed_api_ids().await?.into_iter().collect();
            let apis = if listed.is_empty() {
                Vec::new()
            } else {
                store.published_for_documents(Environment::Prod, |api| listed.contains(&api.id)).await?
            };
            in_background(move || Doc::write(&openapi::marketplace_document(&apis, &server), None)).await
        })
        .await?;
    Ok(cached_document(&doc, &headers))
}
