//! Writing a bundle to the store: workgroups, datasources, library functions, webhook channels
//! (their stored secrets kept) and APIs matched
//! by workgroup and name, created or updated; a new version only when the definition (for a
//! workflow: with the library sources its version would carry) differs from the latest;
//! publishing; and a report of what changed.
//!
//! Everything is validated (against the store too) before the first write. An API is compared
//! with the store by digests (`Store::api_digests`: its settings and the digests of its draft
//! and latest version), so an unchanged API costs no definition read and no write. The APIs
//! that change are written in batches of [`APIS_PER_TRANSACTION`], each batch one transaction
//! (creation or update, version, publications): few commits, so few waits for the disk. The
//! writes are not one transaction: a store failure half-way leaves the batches before it
//! applied, and running `apply` again finishes the job because unchanged objects are skipped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use catalog::model::{
    Api, ApiDefinition, ApiMode, Datasource, Environment, LibraryFunction, ListingInfo, NodeKind, WebhookChannel,
    Workgroup,
};
use catalog::store::{ApiDigest, ApiWrite, Store, StoreError};

use super::check::{check_datasources, check_upstreams, check_with};
use super::{ApiSpec, Bundle, ModeName, Origin, Problem, Sourced, compile_sql};
use config::outbound::OutboundBase;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

/// A datasource's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOutcome {
    pub workgroup: String,
    pub name: String,
    pub change: Change,
}

/// An API's outcome: the API itself (metadata and draft), its version, its publications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOutcome {
    pub workgroup: String,
    pub name: String,
    pub change: Change,
    /// The latest version after apply: the one the file describes.
    pub version: i64,
    /// Whether apply saved `version` (the definition differed from the latest version).
    pub version_saved: bool,
    /// Environments that apply made serve `version` (they served another version or none).
    pub published: Vec<Environment>,
    /// Whether apply wrote the file's `listing` as the API's listing draft (it differed).
    pub listing_saved: bool,
}

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub workgroups_created: Vec<String>,
    pub datasources: Vec<ObjectOutcome>,
    /// Library functions, applied before the APIs.
    pub functions: Vec<ObjectOutcome>,
    /// Webhook channels.
    pub webhooks: Vec<ObjectOutcome>,
    pub apis: Vec<ApiOutcome>,
}

impl ApplyReport {
    /// True when the store already was as the files say: nothing was written.
    pub fn is_noop(&self) -> bool {
        self.workgroups_created.is_empty()
            && self.datasources.iter().all(|d| d.change == Change::Unchanged)
            && self.functions.iter().all(|f| f.change == Change::Unchanged)
            && self.webhooks.iter().all(|w| w.change == Change::Unchanged)
            && self.apis.iter().all(|a| {
                a.change == Change::Unchanged && !a.version_saved && a.published.is_empty() && !a.listing_saved
            })
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for name in &self.workgroups_created {
            writeln!(f, "workgroup {name}: created")?;
        }
        for d in &self.datasources {
            writeln!(f, "datasource {}/{}: {}", d.workgroup, d.name, d.change.as_str())?;
        }
        for function in &self.functions {
            writeln!(f, "function {}/{}: {}", function.workgroup, function.name, function.change.as_str())?;
        }
        for webhook in &self.webhooks {
            writeln!(f, "webhook {}/{}: {}", webhook.workgroup, webhook.name, webhook.change.as_str())?;
        }
        for a in &self.apis {
            write!(f, "api {}/{}: {}", a.workgroup, a.name, a.change.as_str())?;
            if a.version_saved {
                write!(f, ", saved V{}", a.version)?;
            } else {
                write!(f, ", V{} is current", a.version)?;
            }
            if !a.published.is_empty() {
                let envs: Vec<&str> = a.published.iter().map(|e| e.as_str()).collect();
                write!(f, ", published V{} to {}", a.version, envs.join(", "))?;
            }
            if a.listing_saved {
                write!(f, ", listing draft saved")?;
            }
            writeln!(f)?;
        }
        if self.is_noop() {
            write!(f, "no changes: the store already matches the files")
        } else {
            let count = |change: Change| {
                self.datasources.iter().filter(|d| d.change == change).count()
                    + self.functions.iter().filter(|d| d.change == change).count()
                    + self.webhooks.iter().filter(|w| w.change == change).count()
                    + self.apis.iter().filter(|a| a.change == change).count()
            };
            let versions = self.apis.iter().filter(|a| a.version_saved).count();
            let publications: usize = self.apis.iter().map(|a| a.published.len()).sum();
            write!(
                f,
                "applied: {} created, {} updated, {} unchanged; {versions} version{} saved, {publications} publication{}",
                count(Change::Created),
                count(Change::Updated),
                count(Change::Unchanged),
                if versions == 1 { "" } else { "s" },
                if publications == 1 { "" } else { "s" },
            )
        }
    }
}

/// How many changed APIs one transaction writes: enough that commits (each a wait for the
/// disk on SQLite) are few, few enough that other writers wait for the store's write lock no
/// longer than a moment.
pub const APIS_PER_TRANSACTION: usize = 200;

/// What the store holds for one workgroup the bundle names.
#[derive(Default)]
struct Existing {
    workgroup: Option<Workgroup>,
    datasources: Vec<Datasource>,
    /// The workgroup's function library.
    functions: Vec<LibraryFunction>,
    /// The workgroup's webhook channels (without secrets).
    webhooks: Vec<WebhookChannel>,
    /// The workgroup's APIs by name.
    apis: HashMap<String, ApiDigest>,
}

/// A workflow's API nodes name APIs of its own workgroup, in the store or in the files
/// applied with it (workgroups are walls: another workgroup's API of that name does not
/// count). Refused before the first write, at the node's `api` line.
fn check_workflow_apis(bundle: &Bundle, existing: &BTreeMap<&str, Existing>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for sourced in &bundle.apis {
        let spec = &sourced.spec;
        let Some(workflow) = spec.workflow.as_ref().filter(|_| spec.mode == ModeName::Workflow) else { continue };
        for node in &workflow.nodes {
            let NodeKind::Api { api } = &node.kind else { continue };
            let in_files = bundle.apis.iter().any(|a| a.spec.workgroup == spec.workgroup && a.spec.name == *api);
            let in_store = existing.get(spec.workgroup.as_str()).is_some_and(|e| e.apis.contains_key(api));
            if !in_files && !in_store {
                problems.push(sourced.origin.problem_at(
                    &["workflow", "nodes", &format!("id: {}", node.id), "api"],
                    format!(
                        "node `{}` calls API `{api}`, which workgroup `{}` does not have: define it or fix the name",
                        node.id, spec.workgroup
                    ),
                ));
            }
        }
    }
    problems
}

/// An API to write, as planned by [`plan_api`].
struct Planned {
    desired: Api,
    change: Change,
    save_version: Option<String>,
    latest: Option<i64>,
    publish: Vec<Environment>,
}

impl Planned {
    /// What the store is asked to write for it.
    fn write(&self) -> ApiWrite<'_> {
        ApiWrite {
            api: &self.desired,
            update: self.change == Change::Updated,
            save_version: self.save_version.as_deref(),
            latest: self.latest,
            publish: &self.publish,
        }
    }
}

/// Creates or updates the bundle's workgroups, datasources and APIs in `store`, saves a new
/// version of an API only when its definition differs from the latest, and makes each API's
/// `publish` environments serve that latest version. Validates everything first (an API may
/// also read from a datasource that already exists in the store; a registered API's base URL
/// and a datasource's host must pass the network policy, and a SQLite file must lie in its
/// workgroup's dataset directories, under `outbound` and the store's platform settings) and
/// writes nothing when any problem is found. Applying the same files twice changes nothing the
/// second time.
pub async fn apply(bundle: &Bundle, store: &Store, outbound: &OutboundBase) -> Result<ApplyReport, Vec<Problem>> {
    apply_as(bundle, store, outbound, DEFAULT_ACTOR).await
}

/// Who `apply` writes as when no user is named: the creator and last editor it records.
pub const DEFAULT_ACTOR: &str = "apply";

/// [`apply`] by the user `actor`, recorded as the creator of the APIs it creates, the last
/// editor of those it updates and the creator of the versions it saves.
pub async fn apply_as(
    bundle: &Bundle,
    store: &Store,
    outbound: &OutboundBase,
    actor: &str,
) -> Result<ApplyReport, Vec<Problem>> {
    let options = ApplyOptions { actor, write: Write::Store, operator: true, environment: true };
    apply_with(bundle, store, outbound, options).await
}

/// How [`apply_with`] runs.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// Recorded as creator and last editor.
    pub actor: &'a str,
    pub write: Write,
    /// Whether problems may name what lies outside the bundle's workgroups: the API of
    /// another workgroup a path collides with, a store failure's text. `sluice apply` runs as
    /// the store's operator; a workgroup member importing over the management API is told
    /// only where and why.
    pub operator: bool,
    /// Whether `valueEnv` and `passwordEnv` are read from this process's environment: only
    /// for the command line. Over the management API the server's environment (its own secret
    /// key among it) is not the caller's to read, and a bundle naming a variable is refused.
    pub environment: bool,
}

/// Whether `apply` writes, or only says what it would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Store,
    /// Everything is checked and compared with the store as for a real apply, and the report
    /// says what would be created, updated, versioned and published; nothing is written.
    DryRun,
}

/// [`apply_as`], or with [`Write::DryRun`] its report without a write.
pub async fn apply_with(
    bundle: &Bundle,
    store: &Store,
    outbound: &OutboundBase,
    options: ApplyOptions<'_>,
) -> Result<ApplyReport, Vec<Problem>> {
    let ApplyOptions { actor, write, operator, environment } = options;
    let read_env = |variable: &str| if environment { std::env::var(variable).ok() } else { None };
    let not_read = |variable: &str, of: &str| {
        if environment {
            format!("the environment variable `{variable}` ({of}) is not set")
        } else {
            format!(
                "`{of}` names an environment variable of the server, which only `sluice apply` reads: give the value"
            )
        }
    };
    let dry_run = write == Write::DryRun;
    let first_origin = bundle
        .datasources
        .first()
        .map(|d| &d.origin)
        .or(bundle.functions.first().map(|f| &f.origin))
        .or(bundle.apis.first().map(|a| &a.origin))
        .or(bundle.webhooks.first().map(|w| &w.origin));
    let store_problem = |e: StoreError| {
        let message = if operator {
            format!("cannot read the store: {e}")
        } else {
            tracing::error!("apply: cannot read the store: {e}");
            "cannot read the store; the error was logged".to_owned()
        };
        vec![Problem::new(first_origin.map_or(Path::new(""), |o| o.file.as_path()), 0, message)]
    };

    // Read what exists for every workgroup named, in order of first mention.
    let mut order: Vec<&str> = Vec::new();
    for name in bundle
        .datasources
        .iter()
        .map(|d| &d.spec.workgroup)
        .chain(bundle.functions.iter().map(|f| &f.spec.workgroup))
        .chain(bundle.apis.iter().map(|a| &a.spec.workgroup))
        .chain(bundle.webhooks.iter().map(|w| &w.spec.workgroup))
    {
        if !order.contains(&name.as_str()) {
            order.push(name);
        }
    }
    let mut existing: BTreeMap<&str, Existing> = BTreeMap::new();
    for name in &order {
        let state = match store.workgroup_by_name(name).await {
            Ok(workgroup) => Existing {
                datasources: store.list_datasources(workgroup.id).await.map_err(store_problem)?,
                functions: store.functions(workgroup.id).await.map_err(store_problem)?,
                webhooks: store.webhooks(workgroup.id).await.map_err(store_problem)?,
                apis: store
                    .api_digests(workgroup.id)
                    .await
                    .map_err(store_problem)?
                    .into_iter()
                    .map(|digest| (digest.api.name.clone(), digest))
                    .collect(),
                workgroup: Some(workgroup),
            },
            Err(StoreError::NotFound { .. }) => Existing::default(),
            Err(e) => return Err(store_problem(e)),
        };
        existing.insert(name, state);
    }

    // Validate everything before the first write.
    let known = |workgroup: &str, name: &str| {
        existing.get(workgroup).and_then(|e| e.datasources.iter().find(|d| d.name == name).cloned())
    };
    let stored_function = |workgroup: &str, name: &str| {
        existing.get(workgroup).and_then(|e| e.functions.iter().find(|f| f.name == name)).map(|f| f.source.clone())
    };
    let mut problems = check_with(bundle, &compile_sql, &known, &stored_function);
    // Workgroups not created yet get a stand-in id: dataset directories go by name.
    let workgroups: Vec<(i64, String)> = order
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = existing.get(name).and_then(|e| e.workgroup.as_ref()).map_or(-1 - i as i64, |w| w.id);
            (id, (*name).to_owned())
        })
        .collect();
    let settings = store.platform_settings().await.map_err(store_problem)?;
    let policies = outbound.with(&settings, &workgroups).await;
    problems.extend(check_upstreams(bundle, &policies.net).await);
    problems.extend(check_datasources(bundle, &policies.datasources, &workgroups));
    problems.extend(check_workflow_apis(bundle, &existing));
    problems.extend(check_owners(bundle, store, &existing).await.map_err(store_problem)?);
    // Constants whose value comes from the environment, by API and constant index.
    let mut constant_values: Vec<Vec<(usize, String)>> = Vec::with_capacity(bundle.apis.len());
    for sourced in &bundle.apis {
        let mut values = Vec::new();
        let constants = sourced.spec.upstream.iter().flat_map(|u| u.constants.iter());
        for (index, constant) in constants.enumerate() {
            let Some(variable) = constant.value_env.as_ref().filter(|_| constant.value.is_none()) else { continue };
            match read_env(variable) {
                Some(value) => values.push((index, value)),
                None => problems.push(sourced.origin.problem_at(
                    &["upstream", "constants", &format!("name: {}", constant.name)],
                    not_read(variable, &format!("valueEnv of constant `{}`", constant.name)),
                )),
            }
        }
        constant_values.push(values);
    }
    let mut passwords = Vec::with_capacity(bundle.datasources.len());
    for sourced in &bundle.datasources {
        let spec = &sourced.spec;
        let password = match (&spec.password, &spec.password_env) {
            (Some(password), _) => Some(password.clone()),
            (None, Some(variable)) => match read_env(variable) {
                Some(value) => Some(value),
                None => {
                    problems.push(sourced.origin.problem_at(&["passwordEnv"], not_read(variable, "passwordEnv")));
                    None
                }
            },
            (None, None) => None,
        };
        passwords.push(password);
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut report = ApplyReport::default();
    let mut workgroup_ids: HashMap<&str, i64> = HashMap::new();
    for (index, name) in order.iter().enumerate() {
        let id = match existing.get(name).and_then(|e| e.workgroup.as_ref()) {
            Some(workgroup) => workgroup.id,
            None if dry_run => {
                report.workgroups_created.push((*name).to_owned());
                -1 - index as i64
            }
            None => {
                let origin = first_mention(bundle, name);
                let created = store
                    .create_workgroup(name, "")
                    .await
                    .map_err(|e| write_problem(operator, origin, &format!("workgroup `{name}`"), e))?;
                report.workgroups_created.push((*name).to_owned());
                created.id
            }
        };
        workgroup_ids.insert(name, id);
    }

    // Datasource ids by (workgroup, name), from the store then from what is written now.
    let mut datasource_ids: HashMap<(String, String), i64> = HashMap::new();
    for (workgroup, state) in &existing {
        for datasource in &state.datasources {
            datasource_ids.insert(((*workgroup).to_owned(), datasource.name.clone()), datasource.id);
        }
    }
    for (sourced, password) in bundle.datasources.iter().zip(passwords) {
        let spec = &sourced.spec;
        let what = format!("datasource `{}/{}`", spec.workgroup, spec.name);
        let mut desired = spec.to_datasource();
        desired.workgroup_id = workgroup_ids.get(spec.workgroup.as_str()).copied().unwrap_or_default();
        desired.connection.password = password;
        let current =
            existing.get(spec.workgroup.as_str()).and_then(|e| e.datasources.iter().find(|d| d.name == spec.name));
        let (id, change) = match current {
            None if dry_run => (0, Change::Created),
            None => {
                let created = store
                    .create_datasource(&desired)
                    .await
                    .map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                (created.id, Change::Created)
            }
            Some(current) => {
                desired.id = current.id;
                if same_datasource(store, current, &desired).await {
                    (current.id, Change::Unchanged)
                } else if dry_run {
                    (current.id, Change::Updated)
                } else {
                    store
                        .update_datasource(&desired)
                        .await
                        .map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                    (current.id, Change::Updated)
                }
            }
        };
        datasource_ids.insert((spec.workgroup.clone(), spec.name.clone()), id);
        report.datasources.push(ObjectOutcome { workgroup: spec.workgroup.clone(), name: spec.name.clone(), change });
    }

    // Library functions before the APIs: a workflow's version copies what they hold now.
    for sourced in &bundle.functions {
        let spec = &sourced.spec;
        let what = format!("function `{}/{}`", spec.workgroup, spec.name);
        let workgroup_id = workgroup_ids.get(spec.workgroup.as_str()).copied().unwrap_or_default();
        let current =
            existing.get(spec.workgroup.as_str()).and_then(|e| e.functions.iter().find(|f| f.name == spec.name));
        let change = match current {
            None if dry_run => Change::Created,
            None => {
                let wanted = LibraryFunction {
                    id: 0,
                    workgroup_id,
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                    source: spec.source.clone(),
                    digest: String::new(),
                    created_at: 0,
                    updated_at: 0,
                };
                store.create_function(&wanted).await.map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                Change::Created
            }
            Some(current) if current.description == spec.description && current.source == spec.source => {
                Change::Unchanged
            }
            Some(_) if dry_run => Change::Updated,
            Some(_) => {
                store
                    .update_function(workgroup_id, &spec.name, &spec.description, &spec.source)
                    .await
                    .map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                Change::Updated
            }
        };
        report.functions.push(ObjectOutcome { workgroup: spec.workgroup.clone(), name: spec.name.clone(), change });
    }
    // Webhook channels: the files hold no secret, so a stored channel keeps its own.
    for sourced in &bundle.webhooks {
        let spec = &sourced.spec;
        let what = format!("webhook `{}/{}`", spec.workgroup, spec.name);
        let current =
            existing.get(spec.workgroup.as_str()).and_then(|e| e.webhooks.iter().find(|w| w.name == spec.name));
        let mut events = spec.events.clone();
        events.sort();
        events.dedup();
        let desired = WebhookChannel {
            id: current.map_or(0, |c| c.id),
            workgroup_id: workgroup_ids.get(spec.workgroup.as_str()).copied().unwrap_or_default(),
            name: spec.name.clone(),
            url: spec.url.clone(),
            secret: None,
            has_secret: current.is_some_and(|c| c.has_secret),
            template: spec.template,
            events,
            enabled: spec.enabled,
            created_at: current.map_or(0, |c| c.created_at),
            updated_at: current.map_or(0, |c| c.updated_at),
        };
        let change = match current {
            None if dry_run => Change::Created,
            None => {
                store.create_webhook(&desired).await.map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                Change::Created
            }
            Some(current) if *current == desired => Change::Unchanged,
            Some(_) if dry_run => Change::Updated,
            Some(_) => {
                store.update_webhook(&desired).await.map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
                Change::Updated
            }
        };
        report.webhooks.push(ObjectOutcome { workgroup: spec.workgroup.clone(), name: spec.name.clone(), change });
    }

    // What a workflow's version would carry: the files' functions, else the store's.
    let library = |workgroup: &str, name: &str| {
        bundle.function(workgroup, name).map(|f| f.spec.source.clone()).or_else(|| stored_function(workgroup, name))
    };
    let planning = Planning { store, operator, datasource_ids: &datasource_ids, library: &library };

    // Plan every API, then write those that change a batch at a time.
    let mut outcomes: Vec<Option<ApiOutcome>> = Vec::with_capacity(bundle.apis.len());
    let mut planned: Vec<(usize, Planned)> = Vec::new();
    // Each API's id once it exists, for its listing.
    let mut ids: Vec<Option<i64>> = Vec::with_capacity(bundle.apis.len());
    for (index, (sourced, values)) in bundle.apis.iter().zip(&constant_values).enumerate() {
        let workgroup_id = workgroup_ids.get(sourced.spec.workgroup.as_str()).copied().unwrap_or_default();
        let current = existing.get(sourced.spec.workgroup.as_str()).and_then(|e| e.apis.get(&sourced.spec.name));
        ids.push(current.map(|c| c.api.id));
        match plan_api(&planning, sourced, workgroup_id, current, values).await? {
            Ok(outcome) => outcomes.push(Some(outcome)),
            Err(plan) => {
                outcomes.push(None);
                planned.push((index, plan));
            }
        }
    }
    if dry_run {
        // What the store would refuse when writing — a path another API holds — is reported as
        // the write would report it.
        if !planned.is_empty() {
            let writes: Vec<ApiWrite<'_>> = planned.iter().map(|(_, plan)| plan.write()).collect();
            let refused = store.check_api_writes(&writes).await;
            refused.map_err(|(at, e)| api_problem(operator, bundle, &planned, at, e))?;
        }
        for (index, plan) in &planned {
            let spec = &bundle.apis[*index].spec;
            let saved = plan.save_version.as_ref().map(|_| plan.latest.map_or(0, |v| v + 1));
            outcomes[*index] = Some(ApiOutcome {
                workgroup: spec.workgroup.clone(),
                name: spec.name.clone(),
                change: plan.change,
                version: saved.or(plan.latest).unwrap_or_default(),
                version_saved: saved.is_some(),
                published: plan.publish.clone(),
                listing_saved: false,
            });
        }
        planned.clear();
    }
    for batch in planned.chunks(APIS_PER_TRANSACTION) {
        let writes: Vec<ApiWrite<'_>> = batch.iter().map(|(_, plan)| plan.write()).collect();
        let written =
            store.write_apis_by(&writes, actor).await.map_err(|(at, e)| api_problem(operator, bundle, batch, at, e))?;
        for ((index, plan), written) in batch.iter().zip(written) {
            let spec = &bundle.apis[*index].spec;
            if plan.change == Change::Created {
                // A new API gets its workgroup's alarm template when enabled, as from the console.
                store.apply_alarm_template(written.api_id, actor).await.map_err(|e| {
                    let sourced = &bundle.apis[*index];
                    write_problem(
                        operator,
                        &sourced.origin,
                        &format!("the alarm rules of API `{}/{}`", spec.workgroup, spec.name),
                        e,
                    )
                })?;
            }
            outcomes[*index] = Some(ApiOutcome {
                workgroup: spec.workgroup.clone(),
                name: spec.name.clone(),
                change: plan.change,
                version: written.saved.or(plan.latest).unwrap_or_default(),
                version_saved: written.saved.is_some(),
                published: written.published,
                listing_saved: false,
            });
            ids[*index] = Some(written.api_id);
        }
    }
    for ((sourced, id), outcome) in bundle.apis.iter().zip(&ids).zip(outcomes.iter_mut()) {
        match (&sourced.spec.listing, id, outcome) {
            (Some(listing), Some(id), Some(outcome)) => {
                outcome.listing_saved = write_listing(operator, store, sourced, *id, listing, write).await?;
            }
            // A dry run's new API: its listing would be written with it.
            (Some(_), None, Some(outcome)) if dry_run => outcome.listing_saved = true,
            _ => {}
        }
    }
    report.apis = outcomes.into_iter().flatten().collect();
    Ok(report)
}

/// Writes the file's listing as the API's listing draft when it differs from the stored one;
/// whether it wrote.
async fn write_listing(
    operator: bool,
    store: &Store,
    sourced: &Sourced<ApiSpec>,
    api_id: i64,
    listing: &ListingInfo,
    write: Write,
) -> Result<bool, Vec<Problem>> {
    let wanted = listing.clone().normalized();
    let what = format!("the listing of API `{}/{}`", sourced.spec.workgroup, sourced.spec.name);
    let stored = store.listing(api_id).await.map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
    if stored.is_some_and(|l| l.draft == wanted) {
        return Ok(false);
    }
    if write == Write::DryRun {
        return Ok(true);
    }
    store.save_listing_draft(api_id, &wanted).await.map_err(|e| write_problem(operator, &sourced.origin, &what, e))?;
    Ok(true)
}

/// An owner a file sets must be a member of the API's workgroup, as over the management API;
/// an owner the store already holds for that API is kept whoever it is (the rule holds for
/// new owners only). Members are read once per workgroup, and only when an owner changes.
async fn check_owners(
    bundle: &Bundle,
    store: &Store,
    existing: &BTreeMap<&str, Existing>,
) -> Result<Vec<Problem>, StoreError> {
    let mut members: HashMap<&str, Vec<String>> = HashMap::new();
    let mut problems = Vec::new();
    for sourced in &bundle.apis {
        let spec = &sourced.spec;
        let owner = spec.owner.as_str();
        let state = existing.get(spec.workgroup.as_str());
        let stored = state.and_then(|e| e.apis.get(&spec.name)).map(|d| d.api.settings.owner.as_str());
        if owner.is_empty() || stored == Some(owner) {
            continue;
        }
        if !members.contains_key(spec.workgroup.as_str()) {
            let names = match state.and_then(|e| e.workgroup.as_ref()) {
                Some(workgroup) => store.member_names(workgroup.id).await?,
                // A workgroup apply creates has no members yet.
                None => Vec::new(),
            };
            members.insert(spec.workgroup.as_str(), names);
        }
        let is_member = members.get(spec.workgroup.as_str()).is_some_and(|names| names.iter().any(|n| n == owner));
        if !is_member {
            let why = plugins::api_rules::owner_not_member(owner, &spec.workgroup);
            problems.push(sourced.origin.problem_at(&["owner"], why));
        }
    }
    Ok(problems)
}

/// What planning every API shares.
#[derive(Clone, Copy)]
struct Planning<'a> {
    store: &'a Store,
    operator: bool,
    datasource_ids: &'a HashMap<(String, String), i64>,
    /// What a workflow's version would carry: the files' functions, else the store's.
    library: &'a (dyn Fn(&str, &str) -> Option<String> + Sync),
}

/// Compares one API of the files with the store: `Ok(outcome)` when nothing is to be written,
/// else what to write. Digests stand for definitions, unless the definition holds constants,
/// whose values digests leave out: then the stored draft and version are read and compared
/// with their values opened.
async fn plan_api(
    planning: &Planning<'_>,
    sourced: &Sourced<ApiSpec>,
    workgroup_id: i64,
    current: Option<&ApiDigest>,
    constant_values: &[(usize, String)],
) -> Result<Result<ApiOutcome, Planned>, Vec<Problem>> {
    let Planning { store, operator, datasource_ids, library } = *planning;
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let what = format!("API `{}/{}`", spec.workgroup, spec.name);
    let fail = |e: StoreError| write_problem(operator, origin, &what, e);
    // Both are guaranteed by the checks that ran before; reported rather than assumed.
    let datasource_id = match (spec.mode, &spec.datasource) {
        (ModeName::Registered | ModeName::Workflow, _) => None,
        (_, Some(name)) => Some(
            datasource_ids
                .get(&(spec.workgroup.clone(), name.clone()))
                .copied()
                .ok_or_else(|| vec![origin.problem_at(&["datasource"], format!("datasource `{name}` is unknown"))])?,
        ),
        (_, None) => return Err(vec![origin.problem_at(&["mode"], "the API names no datasource")]),
    };
    let mut definition = spec
        .definition(datasource_id)
        .ok_or_else(|| vec![origin.problem_at(&["mode"], "the mode's own key is missing")])?;
    if let ApiMode::Registered(registered) = &mut definition.mode {
        for (index, value) in constant_values {
            if let Some(constant) = registered.constants.get_mut(*index) {
                constant.value = Some(value.clone());
            }
        }
    }
    let has_constants = definition.has_constants();
    let desired = Api {
        id: current.map_or(0, |c| c.api.id),
        workgroup_id,
        name: spec.name.clone(),
        path: spec.path.clone(),
        method: spec.method_upper(),
        description: spec.description.clone(),
        draft: definition.clone(),
        settings: spec.settings(),
        // Files do not place APIs in folders; keep where the console put it.
        folder_id: current.and_then(|c| c.api.folder_id),
        details: Default::default(),
    };
    let digest = definition.digest();
    // A workflow's version carries the library sources it calls: compare those.
    let version_digest = match &definition.mode {
        ApiMode::Workflow(workflow) => match workflow.resolved(|name| library(&spec.workgroup, name)) {
            Ok(resolved) => ApiDefinition { mode: ApiMode::Workflow(resolved), ..definition.clone() }.digest(),
            // Checked before; reported rather than assumed.
            Err(missing) => return Err(vec![origin.problem_at(&["workflow"], missing.message())]),
        },
        _ => digest.clone(),
    };

    let Some(current) = current else {
        return Ok(Err(Planned {
            desired,
            change: Change::Created,
            save_version: Some(version_description(origin)),
            latest: None,
            publish: distinct(&spec.publish),
        }));
    };
    let same_metadata = current.api.path == desired.path
        && current.api.method == desired.method
        && current.api.description == desired.description
        && current.api.settings == desired.settings;
    // Reads return constants without values: compare with the stored ones opened.
    let same_draft = if has_constants {
        store.api_with_secrets(current.api.id).await.map_err(fail)?.draft == desired.draft
    } else {
        current.draft_hash == digest
    };
    let change = if same_metadata && same_draft { Change::Unchanged } else { Change::Updated };
    let same_version = match &current.latest {
        None => false,
        Some(_) if has_constants => store
            .latest_version_with_secrets(current.api.id)
            .await
            .map_err(fail)?
            .is_some_and(|latest| latest.definition == definition),
        Some((_, hash)) => *hash == version_digest,
    };
    let latest = current.latest.as_ref().map(|(number, _)| *number);
    let save_version = (!same_version).then(|| version_description(origin));
    let publish: Vec<Environment> = distinct(&spec.publish)
        .into_iter()
        .filter(|env| {
            let serving = current.publications.iter().find(|p| p.environment == *env).map(|p| p.version);
            save_version.is_some() || serving != latest
        })
        .collect();
    if change == Change::Unchanged && save_version.is_none() && publish.is_empty() {
        return Ok(Ok(ApiOutcome {
            workgroup: spec.workgroup.clone(),
            name: spec.name.clone(),
            change,
            version: latest.unwrap_or_default(),
            version_saved: false,
            published: Vec::new(),
            listing_saved: false,
        }));
    }
    Ok(Err(Planned { desired, change, save_version, latest, publish }))
}

/// How the description of every version `apply` saves begins; the file's name follows.
pub(crate) const APPLIED_VERSION: &str = "sluice apply ";

/// The description of a version `apply` saves: which file it came from.
fn version_description(origin: &Origin) -> String {
    let file =
        origin.file.file_name().map_or_else(|| origin.file.display().to_string(), |n| n.to_string_lossy().into_owned());
    format!("{APPLIED_VERSION}{file}")
}

/// The environments, each once, in the order first named.
fn distinct(environments: &[Environment]) -> Vec<Environment> {
    let mut seen = Vec::with_capacity(environments.len());
    for env in environments {
        if !seen.contains(env) {
            seen.push(*env);
        }
    }
    seen
}

/// Whether the stored datasource already is what the file says. A file without a password
/// keeps the stored one; with one, it is compared with the stored password opened.
async fn same_datasource(store: &Store, current: &Datasource, desired: &Datasource) -> bool {
    let settings_same = current.kind == desired.kind
        && current.description == desired.description
        && current.connection == desired.redacted().connection;
    if !settings_same {
        return false;
    }
    match &desired.connection.password {
        None => true,
        Some(password) => match store.datasource_with_secret(current.id).await {
            Ok(stored) => stored.connection.password.as_deref() == Some(password.as_str()),
            // Unreadable (another key): write it again.
            Err(_) => false,
        },
    }
}

/// The document that first names a workgroup, for messages about it.
fn first_mention<'a>(bundle: &'a Bundle, workgroup: &str) -> Option<&'a Origin> {
    bundle
        .datasources
        .iter()
        .find(|d| d.spec.workgroup == workgroup)
        .map(|d| &d.origin)
        .or_else(|| bundle.functions.iter().find(|f| f.spec.workgroup == workgroup).map(|f| &f.origin))
        .or_else(|| bundle.apis.iter().find(|a| a.spec.workgroup == workgroup).map(|a| &a.origin))
        .or_else(|| bundle.webhooks.iter().find(|w| w.spec.workgroup == workgroup).map(|w| &w.origin))
}

/// The store's refusal of the `at`-th of `planned` (non-empty), as a problem at its origin.
fn api_problem(
    operator: bool,
    bundle: &Bundle,
    planned: &[(usize, Planned)],
    at: usize,
    e: StoreError,
) -> Vec<Problem> {
    let sourced = &bundle.apis[planned[at.min(planned.len() - 1)].0];
    let what = format!("API `{}/{}`", sourced.spec.workgroup, sourced.spec.name);
    write_problem(operator, &sourced.origin, &what, e)
}

fn write_problem<'a>(
    operator: bool,
    origin: impl Into<Option<&'a Origin>>,
    what: &str,
    error: StoreError,
) -> Vec<Problem> {
    const AFTER: &str = "what came before it may be applied; fix and run apply again, unchanged objects are skipped";
    let origin = origin.into();
    if !operator {
        let message = match &error {
            // Where the path is taken, not by which API of which workgroup.
            StoreError::PathConflict(conflict) => format!(
                "cannot apply {what}: its path collides with an API published in {} at {} {}: {}",
                conflict.environment.as_str(),
                conflict.method,
                conflict.path,
                conflict.why
            ),
            StoreError::Invalid(why) | StoreError::Conflict(why) => format!("cannot apply {what}: {why}"),
            other => {
                tracing::error!("apply: {what}: {other}");
                format!("cannot apply {what}: the store failed; the error was logged ({AFTER})")
            }
        };
        return match origin {
            Some(origin) if matches!(error, StoreError::PathConflict(_)) => vec![origin.problem_at(&["path"], message)],
            Some(origin) => vec![origin.problem(message)],
            None => vec![Problem::new("", 0, message)],
        };
    }
    // `apply` works on the store directly, as its operator: the API holding the path is named.
    if let StoreError::PathConflict(conflict) = &error {
        let message = format!(
            "cannot apply {what}: its path collides with API {} (id {}, workgroup {}) published in {} at {} {}: {} \
             ({AFTER})",
            conflict.api_name,
            conflict.api_id,
            conflict.workgroup_id,
            conflict.environment.as_str(),
            conflict.method,
            conflict.path,
            conflict.why
        );
        return match origin {
            Some(origin) => vec![origin.problem_at(&["path"], message)],
            None => vec![Problem::new("", 0, message)],
        };
    }
    let message = format!("cannot apply {what}: {error} ({AFTER})");
    match origin {
        Some(origin) => vec![origin.problem(message)],
        None => vec![Problem::new("", 0, message)],
    }
}
