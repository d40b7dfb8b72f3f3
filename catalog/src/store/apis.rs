//! APIs with their editable draft, and the immutable numbered versions saved from it.
//!
//! A registered API's constants (upstream API keys and the like) are sealed with the
//! [`SecretBox`](crate::secret::SecretBox) inside the definition JSON: each constant is stored
//! as `{"name", "position", "sealedValue": "v1:…"}`, never with its `value`. Saving a version
//! copies the draft's JSON, sealed values included. Reads return definitions without values
//! ([`ApiDefinition::redacted`]); only [`Store::published`], [`Store::api_with_secrets`] and
//! [`Store::latest_version_with_secrets`] open them. Writing a constant without a value keeps
//! the value stored for the constant of the same name.
//!
//! One file on purpose: APIs and their versions share transactions and row locks (saving a
//! version locks the API row), so the locking is read in one place.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::folders::require_folder_in;
use super::{
    Store, StoreError, bump_revision, claim_route, from_json, is_foreign_key_violation, is_unique_violation,
    lock_workgroup, now_millis, require_text, to_json,
};
use crate::model::{Api, ApiDefinition, ApiDetails, ApiMode, ApiSamples, ApiSettings, ApiVersion};
use crate::route_space::RouteClaim;

/// An insert refused because the workgroup or the draft's datasource does not exist.
pub(super) struct MissingReference;

/// The key a constant's sealed value is stored under, inside the definition JSON.
const SEALED_VALUE: &str = "sealedValue";

/// Filters of [`Store::find_apis`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ApiQuery {
    pub workgroup_id: i64,
    /// `Some(None)`: APIs at the workgroup's root.
    pub folder: Option<Option<i64>>,
    pub tag: Option<String>,
    /// A part of the name, whatever its case.
    pub name_contains: Option<String>,
    pub status: Option<ApiStatus>,
    pub limit: u64,
    pub offset: u64,
}

/// Where an API is published, as a list filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiStatus {
    /// In at least one environment.
    Published,
    /// Nowhere.
    Draft,
    In(crate::model::Environment),
}

/// A change to an API's or a version's samples ([`Store::set_samples`]): per key, `None`
/// keeps the stored sample, `Some(None)` removes it, `Some(Some(value))` replaces it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplesEdit {
    pub success: Option<Option<serde_json::Value>>,
    pub failure: Option<Option<serde_json::Value>>,
}

impl SamplesEdit {
    /// `current` with this change made.
    pub fn applied_to(&self, current: ApiSamples) -> ApiSamples {
        ApiSamples {
            success: self.success.clone().unwrap_or(current.success),
            failure: self.failure.clone().unwrap_or(current.failure),
        }
    }
}

/// HTTP methods an API may answer.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The columns `api_from_row` reads.
macro_rules! api_columns {
    () => {
        "id, workgroup_id, name, path, method, description, folder_id, draft_json, \
         owner, tags_json, max_qps, security_level, visible_range, auth_mode, \
         created_at, updated_at, created_by, updated_by, draft_samples_json"
    };
}

/// The columns `api_without_samples` reads: `api_columns!` but the draft's samples, which can
/// be large and which no list shows.
macro_rules! listed_api_columns {
    () => {
        "id, workgroup_id, name, path, method, description, folder_id, draft_json, \
         owner, tags_json, max_qps, security_level, visible_range, auth_mode, \
         created_at, updated_at, created_by, updated_by"
    };
}

/// The columns `version_from_row` reads (`version_without_samples` all but `samples_json`).
macro_rules! version_columns {
    () => {
        "api_id, number, description, definition_json, created_at, created_by, samples_json"
    };
}

impl Store {
    /// Stores a new API and returns it with its id. The method is stored upper-case; the
    /// workgroup and the draft's datasource must exist, and the folder, if any, must be the
    /// workgroup's (`Invalid` otherwise). `PathConflict` when its path collides with an API
    /// published in any environment. The creator is not known (`""`); see
    /// [`Store::create_api_by`].
    pub async fn create_api(&self, api: &Api) -> Result<Api, StoreError> {
        self.create_api_by(api, "").await
    }

    /// [`Store::create_api`] by the user `actor`, its creator and last editor. `api.details`
    /// is ignored: the store sets it.
    pub async fn create_api_by(&self, api: &Api, actor: &str) -> Result<Api, StoreError> {
        let mut tx = self.pool.begin().await?;
        let created = match self.insert_api(&mut tx, api, false, actor).await? {
            Ok(created) => created,
            Err(MissingReference) => {
                // Give the connection back before the lookup: an in-memory store has only one.
                drop(tx);
                return Err(self.missing_reference(api.workgroup_id, &api.draft).await);
            }
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// [`Store::create_api`] inside the caller's transaction, without bumping the revision.
    /// `Ok(Err(MissingReference))` when the workgroup or the draft's datasource does not exist:
    /// the caller names which once the transaction is given back. `claimed`: the caller holds
    /// the route space's lock and checked the API's route already. `actor` is the creator.
    pub(super) async fn insert_api(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        api: &Api,
        claimed: bool,
        actor: &str,
    ) -> Result<Result<Api, MissingReference>, StoreError> {
        let method = validate_api(api)?;
        let draft_json = self.definition_json("API draft", &api.draft, None)?;
        let now = now_millis();
        if !claimed {
            let claim = RouteClaim { workgroup_id: api.workgroup_id, method: &method, path: &api.path };
            claim_route(tx, 0, claim, None).await?;
        }
        if let Some(folder_id) = api.folder_id {
            // Queue behind changes to the folder tree, so the folder stays where it was checked.
            lock_workgroup(tx, api.workgroup_id).await?;
            require_folder_in(tx, folder_id, api.workgroup_id).await?;
        }
        super::functions::require_library_functions(tx, api.workgroup_id, &api.draft).await?;
        let settings = &api.settings;
        let inserted = sqlx::query(
            "INSERT INTO apis \
             (workgroup_id, name, path, method, description, datasource_id, folder_id, draft_json, \
              created_at, updated_at, owner, tags_json, max_qps, security_level, visible_range, auth_mode, \
              draft_hash, created_by, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
             RETURNING id",
        )
        .bind(api.workgroup_id)
        .bind(&api.name)
        .bind(&api.path)
        .bind(&method)
        .bind(&api.description)
        .bind(api.draft.datasource_id)
        .bind(api.folder_id)
        .bind(draft_json)
        .bind(now)
        .bind(&settings.owner)
        .bind(to_json("API tags", &settings.tags)?)
        .bind(settings.max_qps.map(i64::from))
        .bind(settings.security_level.as_str())
        .bind(settings.visible_range.as_str())
        .bind(settings.auth_mode.as_str())
        .bind(api.draft.digest())
        .bind(actor)
        .fetch_one(&mut **tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an API named `{}`", api.name)));
            }
            Err(e) if is_foreign_key_violation(&e) => return Ok(Err(MissingReference)),
            Err(e) => return Err(e.into()),
        };
        let id = row.try_get("id")?;
        write_tags(tx, id, &api.settings.tags).await?;
        let details = ApiDetails {
            created_at: now,
            updated_at: now,
            created_by: actor.to_owned(),
            updated_by: actor.to_owned(),
            draft_samples: ApiSamples::default(),
        };
        Ok(Ok(Api { id, method, draft: api.draft.redacted(), details, ..api.clone() }))
    }

    /// Replaces the API's name, path, method, description, settings and draft (by `api.id`);
    /// saved versions and publications are untouched. The workgroup never changes, nor does the
    /// folder (see [`Store::move_api`]): `api.folder_id` is ignored. Returns the stored result.
    /// `PathConflict` when the path collides with another API published in any environment.
    /// The editor is not known (`""`); see [`Store::update_api_by`].
    pub async fn update_api(&self, api: &Api) -> Result<Api, StoreError> {
        self.update_api_by(api, "").await
    }

    /// [`Store::update_api`] by the user `actor`, who becomes the last editor. `api.details`
    /// is ignored: the draft's samples stay, the creation stays, the change is stamped.
    pub async fn update_api_by(&self, api: &Api, actor: &str) -> Result<Api, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = self.update_api_in(&mut tx, api, false, actor).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// [`Store::update_api`] inside the caller's transaction, without bumping the revision.
    /// `claimed` and `actor` as for [`Store::insert_api`].
    pub(super) async fn update_api_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        api: &Api,
        claimed: bool,
        actor: &str,
    ) -> Result<Api, StoreError> {
        let method = validate_api(api)?;
        super::functions::require_library_functions(tx, api.workgroup_id, &api.draft).await?;
        let draft_json = self.draft_json_keeping_constants(tx, api.id, &api.draft).await?;
        let updated = sqlx::query(concat!(
            "UPDATE apis SET name = $2, path = $3, method = $4, description = $5, datasource_id = $6, \
             draft_json = $7, updated_at = $8, owner = $9, tags_json = $10, max_qps = $11, \
             security_level = $12, visible_range = $13, auth_mode = $14, draft_hash = $15, updated_by = $16 \
             WHERE id = $1 RETURNING ",
            api_columns!()
        ))
        .bind(api.id)
        .bind(&api.name)
        .bind(&api.path)
        .bind(&method)
        .bind(&api.description)
        .bind(api.draft.datasource_id)
        .bind(draft_json)
        .bind(now_millis())
        .bind(&api.settings.owner)
        .bind(to_json("API tags", &api.settings.tags)?)
        .bind(api.settings.max_qps.map(i64::from))
        .bind(api.settings.security_level.as_str())
        .bind(api.settings.visible_range.as_str())
        .bind(api.settings.auth_mode.as_str())
        .bind(api.draft.digest())
        .bind(actor)
        .fetch_optional(&mut **tx)
        .await;
        let updated = match updated {
            Ok(Some(row)) => api_from_row(&row)?,
            Ok(None) => return Err(StoreError::not_found("API", api.id)),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an API named `{}`", api.name)));
            }
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::not_found("datasource", datasource_label(&api.draft)));
            }
            Err(e) => return Err(e.into()),
        };
        if !claimed {
            let claim = RouteClaim { workgroup_id: updated.workgroup_id, method: &updated.method, path: &updated.path };
            claim_route(tx, updated.id, claim, None).await?;
        }
        write_tags(tx, updated.id, &updated.settings.tags).await?;
        Ok(updated)
    }

    /// Puts the API in a folder of its workgroup (`None`: the root) and returns it. `Invalid`
    /// when the folder is another workgroup's. The editor is not known (`""`); see
    /// [`Store::move_api_by`].
    pub async fn move_api(&self, api_id: i64, folder_id: Option<i64>) -> Result<Api, StoreError> {
        self.move_api_by(api_id, folder_id, "").await
    }

    /// [`Store::move_api`] by the user `actor`, who becomes the last editor.
    pub async fn move_api_by(&self, api_id: i64, folder_id: Option<i64>, actor: &str) -> Result<Api, StoreError> {
        let workgroup_id = self.api(api_id).await?.workgroup_id;
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, workgroup_id).await?;
        if let Some(folder_id) = folder_id {
            require_folder_in(&mut tx, folder_id, workgroup_id).await?;
        }
        let row = sqlx::query(concat!(
            "UPDATE apis SET folder_id = $2, updated_at = $3, updated_by = $4 WHERE id = $1 RETURNING ",
            api_columns!()
        ))
        .bind(api_id)
        .bind(folder_id)
        .bind(now_millis())
        .bind(actor)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("API", api_id))?;
        let api = api_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(api)
    }

    pub async fn api(&self, id: i64) -> Result<Api, StoreError> {
        let row = sqlx::query(concat!("SELECT ", api_columns!(), " FROM apis WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("API", id))?;
        api_from_row(&row)
    }

    /// Whether the workgroup has an API of exactly this name (names are unique per workgroup).
    pub async fn has_api_named(&self, workgroup_id: i64, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM apis WHERE workgroup_id = $1 AND name = $2")
            .bind(workgroup_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The workgroup's APIs, oldest first; empty for an unknown workgroup.
    pub async fn list_apis(&self, workgroup_id: i64) -> Result<Vec<Api>, StoreError> {
        sqlx::query(concat!("SELECT ", api_columns!(), " FROM apis WHERE workgroup_id = $1 ORDER BY id"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(api_from_row)
            .collect()
    }

    /// One page of the workgroup's APIs that match every given filter, oldest first, and how
    /// many match in all. The draft's samples are left out (empty): a list shows none, and a
    /// page of them could be megabytes.
    pub async fn find_apis(&self, query: &ApiQuery) -> Result<(Vec<Api>, u64), StoreError> {
        // $1 is the workgroup; each filter appends its term and its text value, if any.
        let mut terms = vec!["workgroup_id = $1".to_owned()];
        let mut texts: Vec<String> = Vec::new();
        let mut placeholder = |value: String| {
            texts.push(value);
            format!("${}", texts.len() + 1)
        };
        match query.folder {
            None => {}
            Some(None) => terms.push("folder_id IS NULL".to_owned()),
            // An i64 is safe to write as text, and comparing as text would not use the index.
            Some(Some(id)) => terms.push(format!("folder_id = {id}")),
        }
        if let Some(tag) = &query.tag {
            let p = placeholder(tag.clone());
            terms.push(format!("EXISTS (SELECT 1 FROM api_tags t WHERE t.api_id = apis.id AND t.tag = {p})"));
        }
        if let Some(name) = &query.name_contains {
            let escaped = name.to_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
            let p = placeholder(format!("%{escaped}%"));
            terms.push(format!("lower(name) LIKE {p} ESCAPE '!'"));
        }
        let published = |env: Option<crate::model::Environment>| {
            let env = env.map(|e| format!(" AND p.environment = '{}'", e.as_str())).unwrap_or_default();
            format!("EXISTS (SELECT 1 FROM publications p WHERE p.api_id = apis.id{env})")
        };
        match query.status {
            None => {}
            Some(ApiStatus::Published) => terms.push(published(None)),
            Some(ApiStatus::Draft) => terms.push(format!("NOT {}", published(None))),
            Some(ApiStatus::In(env)) => terms.push(published(Some(env))),
        }
        let filter = terms.join(" AND ");
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM apis WHERE {filter}")))
            .bind(query.workgroup_id);
        for text in &texts {
            count = count.bind(text.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let page_sql = format!(
            "SELECT {} FROM apis WHERE {filter} ORDER BY id LIMIT {} OFFSET {}",
            listed_api_columns!(),
            query.limit,
            query.offset
        );
        let mut page = sqlx::query(sqlx::AssertSqlSafe(page_sql)).bind(query.workgroup_id);
        for text in &texts {
            page = page.bind(text.clone());
        }
        let apis = page.fetch_all(&self.pool).await?.iter().map(api_without_samples).collect::<Result<_, _>>()?;
        Ok((apis, u64::try_from(total).unwrap_or_default()))
    }

    /// Where each of the workgroup's APIs is published, production first.
    pub async fn workgroup_publications(
        &self,
        workgroup_id: i64,
    ) -> Result<std::collections::HashMap<i64, Vec<crate::model::Publication>>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.api_id, p.environment, p.version, p.published_at FROM publications p \
             JOIN apis a ON a.id = p.api_id WHERE a.workgroup_id = $1",
        )
        .bind(workgroup_id)
        .fetch_all(&self.pool)
        .await?;
        let mut by_api: std::collections::HashMap<i64, Vec<crate::model::Publication>> = Default::default();
        for row in &rows {
            let publication = super::publications::publication_from_row(row)?;
            by_api.entry(publication.api_id).or_default().push(publication);
        }
        for publications in by_api.values_mut() {
            publications.sort_by_key(|p| crate::model::Environment::ALL.iter().position(|e| *e == p.environment));
        }
        Ok(by_api)
    }

    /// Replaces the API's draft; saved versions are untouched. Returns the updated API. The
    /// editor is not known (`""`); see [`Store::update_draft_by`].
    pub async fn update_draft(&self, id: i64, draft: &ApiDefinition) -> Result<Api, StoreError> {
        self.update_draft_by(id, draft, "").await
    }

    /// [`Store::update_draft`] by the user `actor`, who becomes the last editor. The draft's
    /// samples stay.
    pub async fn update_draft_by(&self, id: i64, draft: &ApiDefinition, actor: &str) -> Result<Api, StoreError> {
        validate_definition(draft)?;
        let mut tx = self.pool.begin().await?;
        if matches!(&draft.mode, ApiMode::Workflow(spec) if !spec.library_names().is_empty()) {
            let row =
                sqlx::query("SELECT workgroup_id FROM apis WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            if let Some(row) = row {
                let workgroup_id: i64 = row.try_get("workgroup_id")?;
                super::functions::require_library_functions(&mut tx, workgroup_id, draft).await?;
            }
        }
        let draft_json = self.draft_json_keeping_constants(&mut tx, id, draft).await?;
        let updated = sqlx::query(concat!(
            "UPDATE apis SET datasource_id = $2, draft_json = $3, updated_at = $4, draft_hash = $5, updated_by = $6 \
             WHERE id = $1 RETURNING ",
            api_columns!()
        ))
        .bind(id)
        .bind(draft.datasource_id)
        .bind(draft_json)
        .bind(now_millis())
        .bind(draft.digest())
        .bind(actor)
        .fetch_optional(&mut *tx)
        .await;
        let updated = match updated {
            Ok(Some(row)) => api_from_row(&row)?,
            Ok(None) => return Err(StoreError::not_found("API", id)),
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::not_found("datasource", datasource_label(draft)));
            }
            Err(e) => return Err(e.into()),
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Changes the result samples of the API's draft (`version` `None`) or of its saved
    /// version `version`, by the user `actor`, who becomes the API's last editor; returns the
    /// samples now stored. `Invalid` (naming `success` or `failure`) for a sample over
    /// [`MAX_SAMPLE_BYTES`](crate::model::MAX_SAMPLE_BYTES); `NotFound` for an unknown API or
    /// version.
    pub async fn set_samples(
        &self,
        api_id: i64,
        version: Option<i64>,
        edit: &SamplesEdit,
        actor: &str,
    ) -> Result<ApiSamples, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The API row first: it stamps the change and queues concurrent sample writes of the
        // API, so neither loses the other's key.
        let row =
            sqlx::query("UPDATE apis SET updated_at = $2, updated_by = $3 WHERE id = $1 RETURNING draft_samples_json")
                .bind(api_id)
                .bind(now_millis())
                .bind(actor)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::not_found("API", api_id))?;
        let current: String = match version {
            None => row.try_get("draft_samples_json")?,
            Some(number) => sqlx::query("SELECT samples_json FROM api_versions WHERE api_id = $1 AND number = $2")
                .bind(api_id)
                .bind(number)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::not_found("version", format!("V{number} of API {api_id}")))?
                .try_get("samples_json")?,
        };
        let samples = edit.applied_to(from_json("samples", &current)?);
        samples.check().map_err(|(_, why)| StoreError::Invalid(why))?;
        let json = to_json("samples", &samples)?;
        match version {
            None => {
                sqlx::query("UPDATE apis SET draft_samples_json = $2 WHERE id = $1")
                    .bind(api_id)
                    .bind(json)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(number) => {
                sqlx::query("UPDATE api_versions SET samples_json = $3 WHERE api_id = $1 AND number = $2")
                    .bind(api_id)
                    .bind(number)
                    .bind(json)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // Documents show samples, and they are cached per revision.
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(samples)
    }

    /// Deletes an API together with all its saved versions and publications: it stops being
    /// served in every environment.
    pub async fn delete_api(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // A write first: it takes SQLite's write lock before the check below reads (a read
        // transaction that later writes fails at once with "database is locked" when another
        // writer got in between), and the API's row lock on PostgreSQL, which publishing,
        // granting and gray strategies take first too, so they queue behind this delete (or it
        // behind them) instead of deadlocking on the version and grant rows both sides touch.
        lock_api(&mut tx, id).await?;
        let environments: Vec<String> =
            sqlx::query("SELECT environment FROM publications WHERE api_id = $1 ORDER BY environment")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get("environment"))
                .collect::<Result<_, _>>()?;
        let published = |environments: &[String]| {
            let environments =
                if environments.is_empty() { "an environment".to_owned() } else { environments.join(", ") };
            StoreError::Conflict(format!("API {id} is published in {environments}; take it offline first"))
        };
        if !environments.is_empty() {
            return Err(published(&environments));
        }
        super::market::cancel_pending(&mut tx, "api_id", id, "the API was deleted").await?;
        for sql in [
            "DELETE FROM listings WHERE api_id = $1",
            "DELETE FROM gray_strategies WHERE api_id = $1",
            "DELETE FROM grants WHERE api_id = $1",
            "DELETE FROM api_tags WHERE api_id = $1",
            // Its alarm rules go with it; their history stays (`alarm_events` keeps the name).
            "DELETE FROM alarm_rules WHERE api_id = $1",
            // A publication committed since the check above still references a version: the
            // foreign key refuses this delete, and the API stays.
            "DELETE FROM api_versions WHERE api_id = $1",
        ] {
            match sqlx::query(sql).bind(id).execute(&mut *tx).await {
                Ok(_) => {}
                Err(e) if is_foreign_key_violation(&e) => return Err(published(&[])),
                Err(e) => return Err(e.into()),
            }
        }
        match sqlx::query("DELETE FROM apis WHERE id = $1").bind(id).execute(&mut *tx).await {
            Ok(_) => {}
            Err(e) if is_foreign_key_violation(&e) => return Err(published(&[])),
            Err(e) => return Err(e.into()),
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves the API's current draft as its next version: V0 first, then V1, V2, … A number
    /// is never given twice, not even after its version was deleted. A workflow's version gets
    /// the source of every library function its draft calls copied into its `functions` (an
    /// inline source wins), read in the same transaction; `Invalid` when one is in neither.
    /// Who saved it is not known (`""`); see [`Store::save_version_by`]. The draft's samples
    /// are copied to the version.
    pub async fn save_version(&self, api_id: i64, description: &str) -> Result<ApiVersion, StoreError> {
        self.save_version_of(api_id, description, None, "").await
    }

    /// [`Store::save_version`] by the user `actor`, recorded as the version's creator.
    pub async fn save_version_by(&self, api_id: i64, description: &str, actor: &str) -> Result<ApiVersion, StoreError> {
        self.save_version_of(api_id, description, None, actor).await
    }

    /// [`Store::save_version`], but only when the stored draft is still `checked` (compared
    /// without constant values): a caller that validated the draft saves exactly what it
    /// validated, or gets `Conflict` when an edit landed in between.
    pub async fn save_checked_version(
        &self,
        api_id: i64,
        description: &str,
        checked: &ApiDefinition,
    ) -> Result<ApiVersion, StoreError> {
        self.save_version_of(api_id, description, Some(checked), "").await
    }

    /// [`Store::save_checked_version`] by the user `actor`, recorded as the version's creator.
    pub async fn save_checked_version_by(
        &self,
        api_id: i64,
        description: &str,
        checked: &ApiDefinition,
        actor: &str,
    ) -> Result<ApiVersion, StoreError> {
        self.save_version_of(api_id, description, Some(checked), actor).await
    }

    async fn save_version_of(
        &self,
        api_id: i64,
        description: &str,
        checked: Option<&ApiDefinition>,
        actor: &str,
    ) -> Result<ApiVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.save_version_in(&mut tx, api_id, description, checked, actor).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Saves the draft as the next version inside the caller's transaction, without bumping
    /// the revision (see [`Store::save_checked_version`] for `checked`); `actor` saves it.
    pub(super) async fn save_version_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        api_id: i64,
        description: &str,
        checked: Option<&ApiDefinition>,
        actor: &str,
    ) -> Result<ApiVersion, StoreError> {
        // Taking the number by updating the API row serializes concurrent saves of the same
        // API (row lock on PostgreSQL, the write lock on SQLite), so two saves cannot pick the
        // same number. RETURNING sees the row after the update.
        let api_row = sqlx::query(
            "UPDATE apis SET next_version = next_version + 1 WHERE id = $1 \
             RETURNING workgroup_id, datasource_id, draft_json, draft_samples_json, next_version - 1 AS number",
        )
        .bind(api_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("API", api_id))?;
        let workgroup_id: i64 = api_row.try_get("workgroup_id")?;
        let datasource_id: Option<i64> = api_row.try_get("datasource_id")?;
        let definition_json: String = api_row.try_get("draft_json")?;
        let number: i64 = api_row.try_get("number")?;
        let samples_json: String = api_row.try_get("draft_samples_json")?;
        let samples: ApiSamples = from_json("draft samples", &samples_json)?;
        let definition = read_definition(&format!("draft of API {api_id}"), &definition_json)?;
        if checked.is_some_and(|checked| checked.redacted() != definition) {
            return Err(StoreError::Conflict(format!(
                "the draft of API {api_id} changed while it was being saved; check it and save again"
            )));
        }

        // A workflow's version carries every function it calls: the ones its draft names
        // from the workgroup's library are copied in, as the library holds them now.
        let (definition, definition_json) = match &definition.mode {
            ApiMode::Workflow(spec) if !spec.library_names().is_empty() => {
                let resolved = super::functions::with_library_sources(tx, workgroup_id, spec).await?;
                let definition = ApiDefinition { mode: ApiMode::Workflow(resolved), ..definition };
                let json = to_json("version", &definition)?;
                (definition, json)
            }
            _ => (definition, definition_json),
        };
        let created_at = now_millis();
        sqlx::query(
            "INSERT INTO api_versions \
             (api_id, number, description, datasource_id, definition_json, created_at, definition_hash, \
              created_by, samples_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(api_id)
        .bind(number)
        .bind(description)
        .bind(datasource_id)
        .bind(definition_json)
        .bind(created_at)
        .bind(definition.digest())
        .bind(actor)
        .bind(samples_json)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                // Unreachable while the lock above holds; reported rather than retried so a
                // broken assumption shows.
                StoreError::Conflict(format!("version V{number} of API {api_id} was saved concurrently; try again"))
            } else {
                e.into()
            }
        })?;
        Ok(ApiVersion {
            api_id,
            number,
            description: description.to_owned(),
            definition,
            created_at,
            created_by: actor.to_owned(),
            samples,
        })
    }

    pub async fn version(&self, api_id: i64, number: i64) -> Result<ApiVersion, StoreError> {
        version_from_row(&self.version_row(api_id, number).await?)
    }

    /// The stored row of version `number` of API `api_id`.
    async fn version_row(&self, api_id: i64, number: i64) -> Result<AnyRow, StoreError> {
        sqlx::query(concat!("SELECT ", version_columns!(), " FROM api_versions WHERE api_id = $1 AND number = $2"))
            .bind(api_id)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("version", format!("V{number} of API {api_id}")))
    }

    /// The API's most recent saved version, if it has any.
    pub async fn latest_version(&self, api_id: i64) -> Result<Option<ApiVersion>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM api_versions WHERE api_id = $1 ORDER BY number DESC LIMIT 1"
        ))
        .bind(api_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(version_from_row)
        .transpose()
    }

    /// Deletes one saved version. A version that an environment serves cannot be deleted
    /// (`Conflict` naming the environments): unpublish it or publish another version first.
    pub async fn delete_version(&self, api_id: i64, number: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM api_versions WHERE api_id = $1 AND number = $2")
            .bind(api_id)
            .bind(number)
            .execute(&mut *tx)
            .await;
        match deleted {
            Ok(result) if result.rows_affected() == 0 => {
                Err(StoreError::not_found("version", format!("V{number} of API {api_id}")))
            }
            Ok(_) => {
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(e) if is_foreign_key_violation(&e) => {
                // Give the connection back before the lookup: an in-memory store has only one.
                drop(tx);
                let environments = self
                    .publications(api_id)
                    .await?
                    .into_iter()
                    .filter(|p| p.version == number)
                    .map(|p| p.environment.as_str())
                    .collect::<Vec<_>>();
                if environments.is_empty() {
                    // Not published: a gray strategy is the other thing that keeps a version.
                    let gray = self
                        .gray_strategies(api_id)
                        .await?
                        .into_iter()
                        .filter(|g| g.version == number)
                        .map(|g| g.environment.as_str())
                        .collect::<Vec<_>>();
                    if !gray.is_empty() {
                        return Err(StoreError::Conflict(format!(
                            "V{number} of API {api_id} is the gray release in {}; remove the gray strategy first",
                            gray.join(", ")
                        )));
                    }
                }
                let environments =
                    if environments.is_empty() { "an environment".to_owned() } else { environments.join(", ") };
                Err(StoreError::Conflict(format!(
                    "V{number} of API {api_id} is published in {environments}; unpublish it first"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The API's versions, V0 first; empty for an unknown API.
    pub async fn list_versions(&self, api_id: i64) -> Result<Vec<ApiVersion>, StoreError> {
        sqlx::query(concat!("SELECT ", version_columns!(), " FROM api_versions WHERE api_id = $1 ORDER BY number"))
            .bind(api_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(version_from_row)
            .collect()
    }

    /// Names what a refused API insert referred to that does not exist.
    pub(super) async fn missing_reference(&self, workgroup_id: i64, draft: &ApiDefinition) -> StoreError {
        let workgroup =
            sqlx::query("SELECT id FROM workgroups WHERE id = $1").bind(workgroup_id).fetch_optional(&self.pool).await;
        match workgroup {
            Ok(None) => StoreError::not_found("workgroup", workgroup_id),
            Ok(Some(_)) => StoreError::not_found("datasource", datasource_label(draft)),
            Err(e) => e.into(),
        }
    }
}

/// Checks what the database does not: non-empty name and path, a known method, a definition
/// of the right shape. Returns the method as stored (upper-case).
pub(super) fn validate_api(api: &Api) -> Result<String, StoreError> {
    require_text("API name", &api.name)?;
    require_text("API path", &api.path)?;
    let method = api.method.trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(StoreError::Invalid(format!("API method `{}` is not one of {}", api.method, METHODS.join(", "))));
    }
    validate_definition(&api.draft)?;
    api.settings.check().map_err(|(_, why)| StoreError::Invalid(why))?;
    Ok(method)
}

/// SQL modes read a datasource; registered and workflow APIs have none. Constants need a name each, once.
fn validate_definition(definition: &ApiDefinition) -> Result<(), StoreError> {
    match (&definition.mode, definition.datasource_id) {
        (ApiMode::Registered(_), Some(_)) => {
            Err(StoreError::Invalid("a registered API reads no datasource: leave datasourceId out".into()))
        }
        (ApiMode::Registered(spec), None) => {
            for (index, constant) in spec.constants.iter().enumerate() {
                require_text("constant name", &constant.name)?;
                if spec.constants[..index].iter().any(|c| c.name == constant.name && c.position == constant.position) {
                    return Err(StoreError::Invalid(format!(
                        "constant `{}` ({}) is defined twice",
                        constant.name,
                        constant.position.as_str()
                    )));
                }
            }
            Ok(())
        }
        (ApiMode::Workflow(_), Some(_)) => {
            Err(StoreError::Invalid("a workflow API reads no datasource: leave datasourceId out".into()))
        }
        (ApiMode::Workflow(_), None) => Ok(()),
        (mode, None) => Err(StoreError::Invalid(format!("a {} API needs a datasourceId", mode.name()))),
        (_, Some(_)) => Ok(()),
    }
}

/// How a definition's datasource is named in a not-found error.
fn datasource_label(definition: &ApiDefinition) -> String {
    definition.datasource_id.map_or_else(|| "(none)".to_owned(), |id| id.to_string())
}

impl Store {
    /// The definition as stored: JSON with every constant's value sealed. A constant without a
    /// value takes the sealed value of the constant with the same name and position in
    /// `current` (the stored JSON it replaces); without one it is refused.
    fn definition_json(
        &self,
        what: &str,
        definition: &ApiDefinition,
        current: Option<&str>,
    ) -> Result<String, StoreError> {
        let ApiMode::Registered(spec) = &definition.mode else { return to_json(what, definition) };
        if spec.constants.is_empty() {
            return to_json(what, definition);
        }
        let stored: Vec<serde_json::Value> = match current {
            Some(text) => constants_of(&from_json::<serde_json::Value>(what, text)?),
            None => Vec::new(),
        };
        let mut json = serde_json::to_value(definition.redacted())
            .map_err(|e| StoreError::Invalid(format!("{what} cannot be written as JSON: {e}")))?;
        let Some(serde_json::Value::Array(items)) = json.get_mut("constants") else {
            return Err(StoreError::Invalid(format!("{what}: constants are not a list")));
        };
        for (item, constant) in items.iter_mut().zip(&spec.constants) {
            let sealed = match &constant.value {
                // An empty value would silently replace a stored credential: refused, and
                // leaving `value` out is how a stored one is kept.
                Some(plain) if plain.is_empty() => {
                    return Err(StoreError::Invalid(format!(
                        "constant `{}` has an empty value: leave `value` out to keep the stored one, or give one",
                        constant.name
                    )));
                }
                Some(plain) => serde_json::Value::String(self.secrets.seal(plain)?),
                None => stored
                    .iter()
                    .find(|c| {
                        c.get("name").and_then(|n| n.as_str()) == Some(constant.name.as_str())
                            && c.get("position").and_then(|p| p.as_str()) == Some(constant.position.as_str())
                    })
                    .and_then(|c| c.get(SEALED_VALUE))
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Invalid(format!("constant `{}` needs a value: none is stored yet", constant.name))
                    })?,
            };
            if let serde_json::Value::Object(map) = item {
                map.insert(SEALED_VALUE.to_owned(), sealed);
            }
        }
        to_json(what, &json)
    }

    /// The JSON to store for a new draft of API `id`, inside `tx`. Reads (and locks) the stored
    /// draft first when a constant comes without its value, to keep the stored one.
    async fn draft_json_keeping_constants(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
        draft: &ApiDefinition,
    ) -> Result<String, StoreError> {
        let keeps =
            matches!(&draft.mode, ApiMode::Registered(spec) if spec.constants.iter().any(|c| c.value.is_none()));
        if !keeps {
            return self.definition_json("API draft", draft, None);
        }
        // A write first, so concurrent updates of this API queue behind this one.
        let row = sqlx::query("UPDATE apis SET updated_at = updated_at WHERE id = $1 RETURNING draft_json")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::not_found("API", id))?;
        let current: String = row.try_get("draft_json")?;
        self.definition_json("API draft", draft, Some(&current))
    }

    /// Reads a stored definition with its constants' values opened.
    pub(super) fn open_definition(&self, what: &str, text: &str) -> Result<ApiDefinition, StoreError> {
        let mut json: serde_json::Value = from_json(what, text)?;
        if let Some(serde_json::Value::Array(items)) = json.get_mut("constants") {
            for item in items {
                if let serde_json::Value::Object(map) = item
                    && let Some(serde_json::Value::String(sealed)) = map.remove(SEALED_VALUE)
                {
                    map.insert("value".to_owned(), serde_json::Value::String(self.secrets.open(&sealed)?));
                }
            }
        }
        serde_json::from_value(json).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
    }

    /// An API with its draft's constant values opened, for comparing a desired draft with the
    /// stored one (`sluice apply`). Never hand it to a reader.
    pub async fn api_with_secrets(&self, id: i64) -> Result<Api, StoreError> {
        let row = sqlx::query(concat!("SELECT ", api_columns!(), " FROM apis WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("API", id))?;
        let mut api = api_from_row(&row)?;
        let draft_json: String = row.try_get("draft_json")?;
        api.draft = self.open_definition(&format!("draft of API {id}"), &draft_json)?;
        Ok(api)
    }

    /// [`Store::version`] with the constant values opened, for running it (the test console).
    /// Never hand it to a reader.
    pub async fn version_with_secrets(&self, api_id: i64, number: i64) -> Result<ApiVersion, StoreError> {
        self.opened_version(&self.version_row(api_id, number).await?)
    }

    /// [`Store::latest_version`] with the constant values opened. Never hand it to a reader.
    pub async fn latest_version_with_secrets(&self, api_id: i64) -> Result<Option<ApiVersion>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM api_versions WHERE api_id = $1 ORDER BY number DESC LIMIT 1"
        ))
        .bind(api_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.opened_version(&row)).transpose()
    }

    /// A version's row read with its constant values opened.
    fn opened_version(&self, row: &AnyRow) -> Result<ApiVersion, StoreError> {
        let mut version = version_from_row(row)?;
        let definition_json: String = row.try_get("definition_json")?;
        let what = format!("V{} of API {}", version.number, version.api_id);
        version.definition = self.open_definition(&what, &definition_json)?;
        Ok(version)
    }
}

/// The `constants` list of a stored definition's JSON.
fn constants_of(json: &serde_json::Value) -> Vec<serde_json::Value> {
    match json.get("constants") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Reads a stored definition as readers see it: constants without values.
pub(super) fn read_definition(what: &str, text: &str) -> Result<ApiDefinition, StoreError> {
    let mut json: serde_json::Value = from_json(what, text)?;
    if let Some(serde_json::Value::Array(items)) = json.get_mut("constants") {
        for item in items {
            if let serde_json::Value::Object(map) = item {
                map.remove(SEALED_VALUE);
                map.remove("value");
            }
        }
    }
    serde_json::from_value(json).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The API of a row of `api_columns!`, the draft's samples included.
pub(super) fn api_from_row(row: &AnyRow) -> Result<Api, StoreError> {
    let mut api = api_without_samples(row)?;
    api.details.draft_samples = from_json("draft samples", &row.try_get::<String, _>("draft_samples_json")?)?;
    Ok(api)
}

/// The API of a row that holds its columns but `draft_samples_json`, which it leaves empty.
pub(super) fn api_without_samples(row: &AnyRow) -> Result<Api, StoreError> {
    let id: i64 = row.try_get("id")?;
    let draft_json: String = row.try_get("draft_json")?;
    api_with_draft(row, read_definition(&format!("draft of API {id}"), &draft_json)?)
}

/// The API of a row that holds its columns but `draft_json` and `draft_samples_json`, with
/// `draft` as its draft and no samples.
pub(super) fn api_with_draft(row: &AnyRow, draft: ApiDefinition) -> Result<Api, StoreError> {
    Ok(Api {
        id: row.try_get("id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        method: row.try_get("method")?,
        description: row.try_get("description")?,
        folder_id: row.try_get("folder_id")?,
        settings: settings_from_row(row)?,
        draft,
        details: ApiDetails {
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            created_by: row.try_get("created_by")?,
            updated_by: row.try_get("updated_by")?,
            draft_samples: ApiSamples::default(),
        },
    })
}

fn settings_from_row(row: &AnyRow) -> Result<ApiSettings, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("API settings: {e}"));
    let max_qps: Option<i64> = row.try_get("max_qps")?;
    Ok(ApiSettings {
        tags: from_json("API tags", &row.try_get::<String, _>("tags_json")?)?,
        owner: row.try_get("owner")?,
        max_qps: max_qps.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
        security_level: row.try_get::<String, _>("security_level")?.parse().map_err(corrupt)?,
        visible_range: match row.try_get::<String, _>("visible_range")?.as_str() {
            "public" => crate::model::VisibleRange::Public,
            _ => crate::model::VisibleRange::Private,
        },
        auth_mode: match row.try_get::<String, _>("auth_mode")?.as_str() {
            "none" => crate::model::AuthMode::None,
            _ => crate::model::AuthMode::App,
        },
    })
}

/// Takes the API's row lock (SQLite: the write lock) for the rest of the transaction with a
/// write that changes nothing. Every transaction that deletes an API or adds rows referring to
/// one (publications, grants, gray strategies) starts with it, so they queue in one order.
/// `NotFound` when the API does not exist.
pub(super) async fn lock_api(connection: &mut sqlx::AnyConnection, api_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE apis SET name = name WHERE id = $1 RETURNING id")
        .bind(api_id)
        .fetch_optional(connection)
        .await?
        .ok_or_else(|| StoreError::not_found("API", api_id))?;
    Ok(())
}

/// Replaces the API's rows in the tag index, inside the caller's transaction.
async fn write_tags(connection: &mut sqlx::AnyConnection, api_id: i64, tags: &[String]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM api_tags WHERE api_id = $1").bind(api_id).execute(&mut *connection).await?;
    for tag in tags {
        sqlx::query("INSERT INTO api_tags (api_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(api_id)
            .bind(tag)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

pub(super) fn version_from_row(row: &AnyRow) -> Result<ApiVersion, StoreError> {
    let mut version = version_without_samples(row)?;
    version.samples = from_json("version samples", &row.try_get::<String, _>("samples_json")?)?;
    Ok(version)
}

/// A version of a row that holds `version_columns!` but `samples_json`: no samples.
pub(super) fn version_without_samples(row: &AnyRow) -> Result<ApiVersion, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let number: i64 = row.try_get("number")?;
    let definition_json: String = row.try_get("definition_json")?;
    Ok(ApiVersion {
        api_id,
        number,
        description: row.try_get("description")?,
        definition: read_definition(&format!("V{number} of API {api_id}"), &definition_json)?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        samples: ApiSamples::default(),
    })
}
