//! Platform settings, for platform admins: the network allow list and SQLite dataset roots
//! (added to the configuration's), and the published APIs the edge leaves out.
//!
//! ```text
//!  /platform/settings    GET  PUT {networkAllow: [...], datasetRoots: [{path, workgroup?}]}
//!  /platform/unserved    GET  published APIs not served, with why
//! ```

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use catalog::model::PlatformSettings;
use serde_json::json;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::datasources::record;
use super::reply::{AdminError, AdminResult, Reply};
use catalog::route_space::Unserved;
use config::outbound::check_settings;

pub fn register(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/platform/settings", Access::PlatformAdmin, get(get_settings))
        .answers::<PlatformSettings>()
        .add(Method::PUT, "/platform/settings", Access::PlatformAdmin, axum::routing::put(put_settings))
        .body::<PlatformSettings>()
        .answers::<PlatformSettings>()
        .add(Method::GET, "/platform/unserved", Access::PlatformAdmin, get(unserved))
        .answers_list::<Unserved>()
}

pub async fn get_settings(State(state): State<AdminState>) -> AdminResult<PlatformSettings> {
    Ok(Reply::ok(state.store.platform_settings().await?))
}

/// Replaces the settings whole; they apply to the edge with the next snapshot (within the
/// reload interval) and to the management API at once.
pub async fn put_settings(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<PlatformSettings>,
) -> AdminResult<PlatformSettings> {
    check_settings(&body).map_err(|(field, why)| AdminError::invalid(&field, why))?;
    let before = state.store.platform_settings().await?;
    state.store.set_platform_settings(&body).await?;
    let detail = json!({"before": before, "after": body});
    record(&state, &caller, None, "platform.settings", "platform".to_owned(), detail).await;
    Ok(Reply::ok(body))
}

pub async fn unserved(State(state): State<AdminState>) -> AdminResult<Vec<Unserved>> {
    Ok(Reply::ok(state.edge.unserved()))
}
