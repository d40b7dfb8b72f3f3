//! Importing a third-party API's OpenAPI document as registered APIs of the workgroup
//! (`docs/import.md`), the management side of `sluice import openapi`.
//!
//! ```text
//!  /workgroups/{workgroup}/imports/openapi    POST {document | url, baseUrl?, pathPrefix?, public?, dryRun?, secrets?}
//! ```
//!
//! A document given by `url` is fetched through the network policy (`net::client`), like a
//! webhook: only hosts the policy allows, no redirects, at most [`MAX_DOCUMENT`] bytes within
//! [`FETCH_TIMEOUT`].
//!
//! The document is mapped by `declarative::openapi` and written by `declarative`'s apply, as
//! the caller: the same checks (names, paths that may not take another workgroup's, the
//! upstream under the network policy, owners) and the same rule that only a changed
//! definition saves a version. Nothing is published here: publishing goes through each API's
//! publish route, where approvals apply.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::Method;
use axum::routing::post;
use catalog::model::WorkgroupRole;
use declarative::openapi::kept;
use declarative::openapi::{ImportOptions, Secrets, import, parse_document};
use declarative::{ApplyOptions, Bundle, Change, Write};
use errors::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::reply::{AdminError, AdminResult, Reply};

/// Where problems say they are: `document#/paths/~1pets/get`.
const SOURCE: &str = "document";

/// The largest document fetched by URL.
pub const MAX_DOCUMENT: usize = 10 * 1024 * 1024;
/// How long fetching a document by URL may take, connecting included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

pub fn register(routes: Routes) -> Routes {
    routes
        .add(
            Method::POST,
            "/workgroups/{workgroup}/imports/openapi",
            Access::Workgroup(WorkgroupRole::Developer),
            post(import_openapi),
        )
        .body::<OpenApiImport>()
        .answers::<ImportReport>()
}

/// An OpenAPI 3.0 or 3.1 document to import: `document` or `url`, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenApiImport {
    /// The document: a JSON object, or its text (JSON or YAML).
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub document: Option<serde_json::Value>,
    /// Where to fetch the document (JSON or YAML) instead: `http` or `https`, a host the
    /// network policy allows; redirects are not followed.
    #[serde(default)]
    #[schema(example = "https://petstore3.swagger.io/api/v3/openapi.json")]
    pub url: Option<String>,
    /// The upstream's base URL; default: the document's first server.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Put before every operation's path on Sluice's side, such as `/petstore`.
    #[serde(default)]
    pub path_prefix: String,
    /// Anyone may call the APIs (`authMode: none`); by default callers need an app and a grant.
    #[serde(default)]
    pub public: bool,
    /// Check everything and answer what would be created, updated or left alone; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The credential of each security scheme the imported operations use, by the scheme's
    /// name (an API key, or the whole `Authorization` value for `http` schemes): it becomes the
    /// value of the constant the scheme maps to, stored sealed and never shown again. Required
    /// for every scheme used; nothing is read from the server's environment.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"api_key": "…"}))]
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Replace APIs changed by hand since they were imported; by default they are kept as
    /// they are and listed in `kept`.
    #[serde(default)]
    pub overwrite: bool,
}

/// What an import did, or with `dryRun` would do.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    /// One per imported operation.
    pub apis: Vec<ImportedApi>,
    /// Parts of the document that were not imported, and why.
    pub left_out: Vec<LeftOut>,
    /// How the import changes APIs that already exist, for their callers: changed operations
    /// and operations of the same upstream the document no longer describes.
    pub changes: Vec<OperationChange>,
    /// Existing APIs the import leaves as they are: changed by hand since they were imported
    /// (or not created by an import). `overwrite` replaces them.
    pub kept: Vec<KeptApi>,
}

/// An existing API a re-import did not touch, and why.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeptApi {
    pub name: String,
    pub reason: String,
}

/// How one existing API changes for its callers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationChange {
    pub name: String,
    /// `changed` or `removed` (a removed operation's API is left as it is).
    pub change: String,
    /// Changes that break callers of the API as it is: a removed parameter, a new required
    /// one, a narrowed type, a moved parameter, path or method.
    pub breaking: Vec<String>,
    /// Changes that do not.
    pub compatible: Vec<String>,
}

/// One API an operation became.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedApi {
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub change: String,
    /// Its latest version after the import.
    pub version: i64,
    /// Whether the import saved that version (its definition changed).
    pub version_saved: bool,
}

/// A part of the document left out, at its JSON pointer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    pub pointer: String,
    pub message: String,
}

async fn import_openapi(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<OpenApiImport>,
) -> AdminResult<ImportReport> {
    let workgroup = caller.workgroup()?;
    let doc = match (body.document, body.url) {
        (Some(_), Some(_)) => return Err(AdminError::invalid("url", "give the document or its URL, not both")),
        (None, None) => return Err(AdminError::invalid("document", "give the document, or its URL in `url`")),
        (None, Some(url)) => {
            let text = fetch_document(&state, &url).await?;
            parse_document(&text).map_err(|why| AdminError::invalid("url", format!("the fetched document: {why}")))?
        }
        (Some(serde_json::Value::String(text)), None) => {
            parse_document(&text).map_err(|why| AdminError::invalid("document", why))?
        }
        (Some(object @ serde_json::Value::Object(_)), None) => object,
        (Some(_), None) => {
            return Err(AdminError::invalid("document", "give the document as a JSON object or as its text"));
        }
    };
    let options = ImportOptions {
        workgroup: workgroup.name.clone(),
        base_url: body.base_url,
        path_prefix: body.path_prefix,
        publish: Vec::new(),
        public: body.public,
        secrets: Secrets::Given(body.secrets),
    };
    let imported = import(&doc, &options);
    if let Some(fatal) = imported.problems.iter().find(|p| p.fatal) {
        let message = format!("{} (at {})", fatal.message, fatal.pointer);
        if fatal.pointer.starts_with("/components/securitySchemes/") {
            return Err(AdminError::invalid("secrets", message));
        }
        return Err(AdminError::new(ErrorCode::InvalidRequestBody, message).in_field("document"));
    }
    let left_out: Vec<LeftOut> = (imported.problems.iter())
        .map(|p| LeftOut { pointer: p.pointer.clone(), message: p.message.clone() })
        .collect();
    let mut apis = imported.into_specs(Path::new(SOURCE)).map_err(|problems| definition_problems(&problems))?;
    if apis.is_empty() {
        let listed: Vec<String> = left_out.iter().map(|l| format!("{}: {}", l.pointer, l.message)).collect();
        let message = format!("the document describes no operation that can be imported: {}", listed.join("; "));
        return Err(AdminError::new(ErrorCode::InvalidDefinition, message).in_field("document"));
    }
    let existing = state.store.list_apis(workgroup.id).await.map_err(AdminError::internal)?;
    let reimport =
        kept::reimport(&state.store, &existing, &mut apis, body.overwrite).await.map_err(AdminError::internal)?;
    let kept_apis: Vec<KeptApi> = if reimport.overwritten {
        Vec::new()
    } else {
        reimport.edited.iter().map(|k| KeptApi { name: k.name.clone(), reason: k.reason() }).collect()
    };
    let changes: Vec<OperationChange> = (reimport.changes.into_iter())
        .map(|d| OperationChange {
            name: d.name,
            change: d.kind.as_str().to_owned(),
            breaking: d.breaking,
            compatible: d.compatible,
        })
        .collect();
    let bundle = Bundle { apis, ..Default::default() };
    let write = if body.dry_run { Write::DryRun } else { Write::Store };
    // A platform admin may learn which API of which workgroup holds a path; members may not.
    // The server's environment is never read for a caller: credentials come with the request.
    let options =
        ApplyOptions { actor: &caller.user.name, write, operator: caller.user.platform_admin, environment: false };
    let report = declarative::apply_with(&bundle, &state.store, &state.outbound, options)
        .await
        .map_err(|problems| definition_problems(&problems))?;
    let apis: Vec<ImportedApi> = (report.apis.iter())
        .map(|a| ImportedApi {
            name: a.name.clone(),
            change: a.change.as_str().to_owned(),
            version: a.version,
            version_saved: a.version_saved,
        })
        .collect();
    if !body.dry_run {
        let changed: Vec<&str> =
            (report.apis.iter()).filter(|a| a.change != Change::Unchanged).map(|a| a.name.as_str()).collect();
        let detail = serde_json::json!({"apis": apis.len(), "changed": changed});
        let target = format!("workgroup:{}", workgroup.id);
        super::datasources::record(&state, &caller, Some(workgroup.id), "import.openapi", target, detail).await;
    }
    Ok(Reply::ok(ImportReport { dry_run: body.dry_run, apis, left_out, changes, kept: kept_apis }))
}

/// The text at `url`, fetched through the network policy. Anything short of a 2xx answer
/// in UTF-8 is the caller's to fix (a 400 on `url` saying why), never a 5xx.
async fn fetch_document(state: &AdminState, url: &str) -> Result<String, AdminError> {
    let target = net::client::Target::parse(url).map_err(|why| AdminError::invalid("url", why))?;
    let outbound = state.outbound().await?;
    let accept = "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.5";
    let fetched = net::client::get(&outbound.net, &target, accept, MAX_DOCUMENT, FETCH_TIMEOUT)
        .await
        .map_err(|why| AdminError::invalid("url", format!("cannot fetch the document: {why}")))?;
    if !(200..300).contains(&fetched.status) {
        let why = format!("fetching the document answered HTTP {}; give a URL that answers it (200)", fetched.status);
        return Err(AdminError::invalid("url", why));
    }
    String::from_utf8(fetched.body.to_vec())
        .map_err(|_| AdminError::invalid("url", "the fetched document is not UTF-8 text"))
}

/// `InvalidDefinition`, listing where (the operation's pointer) and what, without the
/// generated document's line numbers, which mean nothing to the caller.
fn definition_problems(problems: &[declarative::Problem]) -> AdminError {
    let listed: Vec<String> = problems
        .iter()
        .map(|p| {
            let at = p.file.display().to_string();
            let at = at.strip_prefix(SOURCE).unwrap_or(&at).trim_start_matches('#').to_owned();
            if at.is_empty() { p.message.clone() } else { format!("{at}: {}", p.message) }
        })
        .collect();
    let count = listed.len();
    let message =
        format!("{count} problem{} with the imported APIs: {}", if count == 1 { "" } else { "s" }, listed.join("; "));
    AdminError::new(ErrorCode::InvalidDefinition, message).in_field("document")
}
