//! Versions of an API (saved from its draft, immutable), their comparison, and publishing.

use std::sync::Arc;

use crate::body::JsonBody;
use axum::Extension;
use axum::extract::{Path, State};
use catalog::model::{
    Api, ApiDefinition, ApiSamples, ApiVersion, Environment, NotificationEvent, Publication, Workgroup,
};
use catalog::store::SamplesEdit;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use super::diff::{self, DefinitionDiff};
use super::{api_in, datasource_for, record, rules};
use crate::AdminState;
use crate::access::Caller;
use crate::approvals::{ApprovalView, RequestBody, accepted};
use crate::reply::{AdminError, AdminResult, Reply};
use catalog::now_ms;
use catalog::store::Asking;
use serde_json::json;

/// Which definition a request means: the draft or a saved version's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    Draft,
    Number(i64),
}

impl VersionRef {
    /// `3`, `V3` (any case) or `draft`.
    pub fn parse(text: &str) -> Option<VersionRef> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("draft") {
            return Some(VersionRef::Draft);
        }
        let digits = text.strip_prefix(['V', 'v']).unwrap_or(text);
        digits.parse::<i64>().ok().filter(|n| *n >= 0).map(VersionRef::Number)
    }

    /// From a JSON body: a number or a string [`VersionRef::parse`] reads.
    pub fn from_json(field: &str, value: &serde_json::Value) -> Result<VersionRef, AdminError> {
        let parsed = match value {
            serde_json::Value::Number(n) => n.as_i64().filter(|n| *n >= 0).map(VersionRef::Number),
            serde_json::Value::String(s) => VersionRef::parse(s),
            _ => None,
        };
        parsed.ok_or_else(|| AdminError::invalid(field, "a version number such as 0 or \"V0\", or \"draft\""))
    }

    fn label(self) -> String {
        match self {
            VersionRef::Draft => "draft".to_owned(),
            VersionRef::Number(n) => format!("V{n}"),
        }
    }
}

/// A number or text, so the schema is written by hand.
impl utoipa::PartialSchema for VersionRef {
    fn schema() -> RefOr<Schema> {
        let number = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
        let text =
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*([Vv]?[0-9]+|[Dd][Rr][Aa][Ff][Tt])\s*$"));
        OneOfBuilder::new()
            .item(number)
            .item(text)
            .description(Some(
                "A version: its number (`3`), its label (`\"V3\"`), or `\"draft\"` where a route reads the draft.",
            ))
            .into()
    }
}

impl ToSchema for VersionRef {}

/// A version with where it is published.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    pub api_id: i64,
    pub number: i64,
    pub label: String,
    pub description: String,
    pub created_at: i64,
    /// The user who saved it (`""` when not known).
    pub created_by: String,
    /// Its result samples.
    pub samples: ApiSamples,
    /// The environments serving this version (`prod`, `test`).
    pub published_in: Vec<Environment>,
    /// Left out of lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<ApiDefinition>,
}

fn view(version: ApiVersion, publications: &[Publication], with_definition: bool) -> VersionView {
    VersionView {
        api_id: version.api_id,
        number: version.number,
        label: version.label(),
        published_in: publications.iter().filter(|p| p.version == version.number).map(|p| p.environment).collect(),
        description: version.description,
        created_at: version.created_at,
        created_by: version.created_by,
        samples: version.samples,
        definition: with_definition.then_some(version.definition),
    }
}

/// A saved version of `api`, 404 when it has none of that number.
async fn version_of(state: &AdminState, api: &Api, text: &str) -> Result<ApiVersion, AdminError> {
    match VersionRef::parse(text) {
        Some(VersionRef::Number(n)) => Ok(state.store.version(api.id, n).await?),
        _ => Err(AdminError::not_found("version", text)),
    }
}

pub async fn list_versions(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Vec<VersionView>> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let publications = state.store.publications(api.id).await?;
    let versions = state.store.list_versions(api.id).await?;
    Ok(Reply::ok(versions.into_iter().map(|v| view(v, &publications, false)).collect()))
}

pub async fn get_version(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, number)): Path<(String, String, String)>,
) -> AdminResult<VersionView> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let version = version_of(&state, &api, &number).await?;
    let publications = state.store.publications(api.id).await?;
    Ok(Reply::ok(view(version, &publications, true)))
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveVersion {
    #[serde(default)]
    description: String,
}

/// Saves the draft as the next version (V0, V1, …) once it compiles as the edge will
/// compile it.
pub async fn save_version(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SaveVersion>,
) -> AdminResult<VersionView> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    // Registered constants must carry their values to compile.
    let draft = state.store.api_with_secrets(api.id).await?.draft;
    rules::check_path(&api.path, &draft)?;
    // A workflow is checked with the library functions the version will carry (the store
    // copies them in as it saves); every source it will run must compile.
    let resolved = crate::functions::resolve(&state, workgroup, &draft).await?;
    crate::functions::check_sources(&state, &resolved)?;
    compile(&state, workgroup, &resolved).await?;
    // Saves exactly the draft compiled above, or answers Conflict when it changed meanwhile.
    let version = state.store.save_checked_version_by(api.id, &body.description, &draft, &caller.user.name).await?;
    record(&state, &caller, "version.save", &api, serde_json::json!({"version": version.number})).await;
    Ok(Reply::created(view(version, &[], true)))
}

async fn compile(state: &AdminState, workgroup: &Workgroup, definition: &ApiDefinition) -> Result<(), AdminError> {
    let datasource = datasource_for(state, workgroup, definition).await?;
    rules::compile(definition, datasource.as_ref())?;
    workflow_apis_in(state, workgroup, definition).await
}

/// A workflow's API nodes name APIs of its own workgroup: one named that is not there (an API
/// of another workgroup, say: workgroups are walls) is refused when the version is saved,
/// naming the node's `api`. The edge finds them by name in the workgroup alone too.
async fn workflow_apis_in(
    state: &AdminState,
    workgroup: &Workgroup,
    definition: &ApiDefinition,
) -> Result<(), AdminError> {
    let catalog::model::ApiMode::Workflow(spec) = &definition.mode else { return Ok(()) };
    for (index, node) in spec.nodes.iter().enumerate() {
        let catalog::model::NodeKind::Api { api } = &node.kind else { continue };
        if !state.store.has_api_named(workgroup.id, api).await? {
            return Err(AdminError::invalid(
                &format!("draft.nodes[{index}].api"),
                format!("node `{}` calls API `{api}`, which this workgroup does not have", node.id),
            ));
        }
    }
    Ok(())
}

pub async fn delete_version(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, number)): Path<(String, String, String)>,
) -> AdminResult<serde_json::Value> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let version = version_of(&state, &api, &number).await?;
    // The store refuses (Conflict, naming the environments) while the version is served.
    state.store.delete_version(api.id, version.number).await?;
    record(&state, &caller, "version.delete", &api, serde_json::json!({"version": version.number})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

pub async fn diff_versions(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, a, b)): Path<(String, String, String, String)>,
) -> AdminResult<DefinitionDiff> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let mut sides = Vec::with_capacity(2);
    for text in [&a, &b] {
        let side = VersionRef::parse(text).ok_or_else(|| AdminError::not_found("version", text))?;
        let definition = match side {
            VersionRef::Draft => api.draft.clone(),
            VersionRef::Number(n) => state.store.version(api.id, n).await?.definition,
        };
        sides.push((side.label(), definition));
    }
    let [(from, a), (to, b)] = <[_; 2]>::try_from(sides).map_err(|_| AdminError::not_found("version", &a))?;
    Ok(Reply::ok(diff::diff(&from, &a, &to, &b)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishBody {
    /// The saved version to serve.
    #[schema(value_type = VersionRef)]
    version: serde_json::Value,
    #[schema(value_type = Environment)]
    environment: serde_json::Value,
    /// Why; kept with the request where publishing to prod needs approval.
    #[serde(default)]
    reason: Option<String>,
    /// User names to notify of the outcome.
    #[serde(default)]
    notify: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfflineBody {
    #[schema(value_type = Environment)]
    environment: serde_json::Value,
    /// Why; kept with the request.
    #[serde(default)]
    reason: Option<String>,
    /// User names to notify of the outcome.
    #[serde(default)]
    notify: Option<Vec<String>>,
    /// Prod only: when to take the API offline, in milliseconds since the Unix epoch, in the
    /// future; absent or `null`: at once (or once approved).
    #[serde(default)]
    #[schema(minimum = 0)]
    offline_at: Option<i64>,
}

/// What publishing answers: the publication (200), or the request that waits for a workgroup
/// admin's approval (202).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PublishAnswer {
    Published(Publication),
    Requested(Box<ApprovalView>),
}

/// What taking offline answers: `null` once offline (200), or the request that waits for
/// approval or for its time (202).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OfflineAnswer {
    Offline(()),
    Requested(Box<ApprovalView>),
}

fn environment(value: &serde_json::Value) -> Result<Environment, AdminError> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| AdminError::invalid("environment", "expected `prod` or `test`"))
}

/// Whether version `number` of the API can be served now: its datasource may have changed
/// since it was saved, and the edge would leave it out.
pub(crate) async fn servable(
    state: &AdminState,
    workgroup_id: i64,
    api_id: i64,
    number: i64,
) -> Result<(), AdminError> {
    let workgroup = state.store.workgroup(workgroup_id).await?;
    let version = state.store.version(api_id, number).await?;
    if version.definition.mode.is_sql() {
        compile(state, &workgroup, &version.definition).await?;
    }
    Ok(())
}

/// Makes an environment serve a saved version; the edge picks it up at its next poll of the
/// store's revision. Where the workgroup asks for approval of publishing to prod, the answer
/// is 202 with the request instead.
pub async fn publish(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PublishBody>,
) -> AdminResult<PublishAnswer> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    let env = environment(&body.environment)?;
    let number = match VersionRef::from_json("version", &body.version)? {
        VersionRef::Number(n) => n,
        VersionRef::Draft => {
            return Err(AdminError::invalid(
                "version",
                "save the draft as a version first: only versions are published",
            ));
        }
    };
    let (reason, notify) =
        RequestBody { reason: body.reason, notify: body.notify }.checked(&state, &caller, workgroup.id).await?;
    servable(&state, workgroup.id, api.id, number).await?;
    if env == Environment::Prod && workgroup.settings.publish_approval {
        let asking = Asking { by: &caller.user.name, reason: &reason, notify: &notify };
        let approval = state.store.request_publish(api.id, number, asking).await?;
        crate::announce::request_made(&state.store, &approval);
        record(&state, &caller, "version.publish.request", &api, json!({"version": number, "request": approval.id}))
            .await;
        let Reply(status, view) = accepted(&state, &caller, approval).await?;
        return Ok(Reply(status, PublishAnswer::Requested(Box::new(view))));
    }
    let publication = state.store.publish(api.id, env, number).await.map_err(|e| super::seen_by(&caller, e))?;
    if env == Environment::Prod {
        crate::announce::api_changed(
            &state.store,
            api.id,
            &api.name,
            api.workgroup_id,
            NotificationEvent::ApiPublished,
        );
    }
    record(&state, &caller, "version.publish", &api, json!({"version": number, "environment": env, "reason": reason}))
        .await;
    Ok(Reply::ok(PublishAnswer::Published(publication)))
}

/// Stops an environment serving the API. Prod can be taken offline at a set time, and where
/// the workgroup asks for approval, only once a workgroup admin approves: both answer 202
/// with the request. The test environment goes offline at once.
pub async fn offline(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<OfflineBody>,
) -> AdminResult<OfflineAnswer> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    let env = environment(&body.environment)?;
    let (reason, notify) =
        RequestBody { reason: body.reason, notify: body.notify }.checked(&state, &caller, workgroup.id).await?;
    let now = now_ms();
    if let Some(at) = body.offline_at {
        if env == Environment::Test {
            return Err(AdminError::invalid("offlineAt", "the test environment goes offline at once: leave it out"));
        }
        if at <= now {
            return Err(AdminError::invalid("offlineAt", "give a time in the future, or leave it out for at once"));
        }
    }
    let approval_needed = env == Environment::Prod && workgroup.settings.offline_approval;
    if approval_needed || body.offline_at.is_some() {
        let asking = Asking { by: &caller.user.name, reason: &reason, notify: &notify };
        let approval = state.store.request_offline(api.id, asking, body.offline_at, !approval_needed).await?;
        if approval_needed {
            crate::announce::request_made(&state.store, &approval);
        }
        let detail = json!({"environment": env, "request": approval.id, "offlineAt": body.offline_at});
        record(&state, &caller, "version.offline.request", &api, detail).await;
        let Reply(status, view) = accepted(&state, &caller, approval).await?;
        return Ok(Reply(status, OfflineAnswer::Requested(Box::new(view))));
    }
    state.store.unpublish(api.id, env).await?;
    // Published again before the edge's next rebuild, the same compiled version must not
    // answer from before.
    state.edge.purge_cache(api.id).await;
    if env == Environment::Prod {
        crate::announce::api_changed(&state.store, api.id, &api.name, api.workgroup_id, NotificationEvent::ApiOffline);
    }
    record(&state, &caller, "version.offline", &api, json!({"environment": env, "reason": reason})).await;
    Ok(Reply::ok(OfflineAnswer::Offline(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_by_number_label_or_draft() {
        assert_eq!(VersionRef::parse("3"), Some(VersionRef::Number(3)));
        assert_eq!(VersionRef::parse("v12"), Some(VersionRef::Number(12)));
        assert_eq!(VersionRef::parse("Draft"), Some(VersionRef::Draft));
        assert_eq!(VersionRef::parse("-1"), None);
        assert_eq!(VersionRef::parse("x"), None);
        assert_eq!(VersionRef::from_json("version", &serde_json::json!(0)).unwrap(), VersionRef::Number(0));
        assert_eq!(VersionRef::from_json("v", &serde_json::json!(true)).unwrap_err().field.as_deref(), Some("v"));
    }
}

/// `PUT …/versions/{version}/samples`: per key, a JSON value sets the sample, `null` removes
/// it, and a key left out keeps it. `{version}` may be `draft`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SamplesBody {
    /// The body of a successful call, e.g. `{"code": "OK", "data": …}`; at most 64 KiB of JSON.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<serde_json::Value>)]
    success: Option<Option<serde_json::Value>>,
    /// The body of a failed call, e.g. `{"code": "MissingParameter.id", "message": …}`; at
    /// most 64 KiB of JSON.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<serde_json::Value>)]
    failure: Option<Option<serde_json::Value>>,
}

/// Sets the result samples of a saved version or of the draft; answers the samples now kept.
pub async fn set_samples(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, number)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<SamplesBody>,
) -> AdminResult<ApiSamples> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let target = match VersionRef::parse(&number) {
        Some(VersionRef::Draft) => None,
        Some(VersionRef::Number(n)) => Some(n),
        None => return Err(AdminError::not_found("version", &number)),
    };
    let edit = SamplesEdit { success: body.success, failure: body.failure };
    // The size rule first, naming the key at fault; the store checks it again.
    edit.applied_to(ApiSamples::default()).check().map_err(|(key, why)| AdminError::invalid(key, why))?;
    let samples = state.store.set_samples(api.id, target, &edit, &caller.user.name).await?;
    let detail = serde_json::json!({
        "version": target.map_or_else(|| "draft".to_owned(), |n| format!("V{n}")),
        "success": samples.success.is_some(),
        "failure": samples.failure.is_some(),
    });
    record(&state, &caller, "api.samples", &api, detail).await;
    Ok(Reply::ok(samples))
}

/// Stores what the test console answered as the success or failure sample of what it ran
/// (the draft or a version): the part of the caller's body that does not change from call to
/// call (no `requestId`). Refused (400 on `saveAsSample`) when it is over the size limit.
pub async fn save_console_sample(
    state: &AdminState,
    caller: &Caller,
    api: &Api,
    target: VersionRef,
    success: bool,
    body: serde_json::Value,
) -> Result<(), AdminError> {
    let edit = if success {
        SamplesEdit { success: Some(Some(body)), failure: None }
    } else {
        SamplesEdit { success: None, failure: Some(Some(body)) }
    };
    edit.applied_to(ApiSamples::default()).check().map_err(|(_, why)| AdminError::invalid("saveAsSample", why))?;
    let version = match target {
        VersionRef::Draft => None,
        VersionRef::Number(n) => Some(n),
    };
    state.store.set_samples(api.id, version, &edit, &caller.user.name).await?;
    let kind = if success { "success" } else { "failure" };
    record(state, caller, "api.samples", api, serde_json::json!({"version": target.label(), "fromConsole": kind}))
        .await;
    Ok(())
}
