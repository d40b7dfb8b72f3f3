//! Publications: which saved version of an API each environment serves, and the one read the
//! edge builds its routes from.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::apis::{api_with_draft, api_without_samples, lock_api, read_definition};
use super::datasources::datasource_from_prefixed_row;
use super::{Store, StoreError, bump_revision, claim_route, from_json, is_foreign_key_violation, now_millis};
use crate::model::{
    Api, ApiDefinition, ApiMode, ApiOptions, ApiVersion, Datasource, Environment, Publication, WizardSpec,
};
use crate::route_space::RouteClaim;

/// Everything the edge needs to serve one API in one environment.
///
/// Deliberately not `Serialize`: `datasource` carries the opened password and a registered
/// version's constants carry their opened values.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedApi {
    /// The API's identity and metadata (name, path, method). Its `draft` is whatever is being
    /// edited and plays no part in serving.
    pub api: Api,
    /// The version the environment serves; a registered version's constants have their values
    /// opened.
    pub version: ApiVersion,
    /// The datasource the version reads from, with its password opened: what the edge
    /// connects with. Never hand it to a reader. `None` for registered APIs.
    pub datasource: Option<Datasource>,
}

impl Store {
    /// Makes `env` serve version `number` of the API, replacing whatever version it served
    /// before. The version must exist (`NotFound` otherwise). Publishing the version already
    /// served changes nothing and returns the existing publication. `PathConflict` when the
    /// API's path collides with another API published in `env` (see `route_space`).
    pub async fn publish(&self, api_id: i64, env: Environment, number: i64) -> Result<Publication, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (publication, changed) = publish_in(&mut tx, api_id, env, number, true).await?;
        if changed {
            bump_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(publication)
    }

    /// Stops serving the API in `env`; `NotFound` when it was not published there.
    /// Taking an API offline from prod delists it (see `market::delist_in`).
    pub async fn unpublish(&self, api_id: i64, env: Environment) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        match lock_api(&mut tx, api_id).await {
            Err(StoreError::NotFound { .. }) => {
                return Err(StoreError::not_found("publication", format!("of API {api_id} in {env}")));
            }
            locked => locked?,
        }
        let deleted = sqlx::query("DELETE FROM publications WHERE api_id = $1 AND environment = $2")
            .bind(api_id)
            .bind(env.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("publication", format!("of API {api_id} in {env}")));
        }
        if env == Environment::Prod {
            super::market::delist_in(&mut tx, api_id, "the API was taken offline").await?;
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where the API is published, production first; empty for an unknown or unpublished API.
    pub async fn publications(&self, api_id: i64) -> Result<Vec<Publication>, StoreError> {
        let mut publications =
            sqlx::query("SELECT api_id, environment, version, published_at FROM publications WHERE api_id = $1")
                .bind(api_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(publication_from_row)
                .collect::<Result<Vec<_>, _>>()?;
        publications.sort_by_key(|p| Environment::ALL.iter().position(|e| *e == p.environment));
        Ok(publications)
    }

    /// Everything `env` serves, oldest API first, in one query: each published API with the
    /// version it serves (constants opened) and that version's datasource, password opened.
    pub async fn published(&self, env: Environment) -> Result<Vec<PublishedApi>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.workgroup_id, a.name, a.path, a.method, a.description, a.folder_id, a.draft_json, \
                    a.owner, a.tags_json, a.max_qps, a.security_level, a.visible_range, a.auth_mode, \
                    a.created_at, a.updated_at, a.created_by, a.updated_by, \
                    v.number AS v_number, v.description AS v_description, \
                    v.definition_json AS v_definition_json, v.created_at AS v_created_at, \
                    v.created_by AS v_created_by, \
                    d.id AS d_id, d.workgroup_id AS d_workgroup_id, d.name AS d_name, d.kind AS d_kind, \
                    d.description AS d_description, d.settings_json AS d_settings_json, \
                    d.password_sealed AS d_password_sealed \
             FROM publications p \
             JOIN apis a ON a.id = p.api_id \
             JOIN api_versions v ON v.api_id = p.api_id AND v.number = p.version \
             LEFT JOIN datasources d ON d.id = v.datasource_id \
             WHERE p.environment = $1 \
             ORDER BY a.id",
        )
        .bind(env.as_str())
        .fetch_all(&self.pool)
        .await?;
        // Several APIs usually share a datasource: read and open each one once.
        let mut datasources: HashMap<i64, Datasource> = HashMap::new();
        let mut published = Vec::with_capacity(rows.len());
        for row in &rows {
            let api = api_without_samples(row)?;
            let datasource_id: Option<i64> = row.try_get("d_id")?;
            let datasource = match datasource_id {
                None => None,
                Some(id) => Some(match datasources.get(&id) {
                    Some(datasource) => datasource.clone(),
                    None => {
                        let mut datasource = datasource_from_prefixed_row(row, "d_")?;
                        datasource.connection.password = self.open_password(row.try_get("d_password_sealed")?)?;
                        datasources.insert(id, datasource.clone());
                        datasource
                    }
                }),
            };
            let number: i64 = row.try_get("v_number")?;
            let definition_json: String = row.try_get("v_definition_json")?;
            let version = ApiVersion {
                api_id: api.id,
                number,
                description: row.try_get("v_description")?,
                definition: self.open_definition(&format!("V{number} of API {}", api.id), &definition_json)?,
                created_at: row.try_get("v_created_at")?,
                created_by: row.try_get("v_created_by")?,
                // What the edge serves needs none.
                samples: Default::default(),
            };
            published.push(PublishedApi { api, version, datasource });
        }
        Ok(published)
    }
}

/// [`Store::publish`] inside the caller's transaction, without bumping the revision: the
/// publication, and whether it changed. `claim` false skips the route-space check, for a
/// caller that claimed the API's route in every environment earlier in the transaction.
pub(super) async fn publish_in(
    tx: &mut sqlx::AnyConnection,
    api_id: i64,
    env: Environment,
    number: i64,
    claim: bool,
) -> Result<(Publication, bool), StoreError> {
    // The API's row first, as `delete_api` takes it: otherwise a publish holding the API's
    // key lock waits for the version row a delete holds, which waits for the API row.
    match lock_api(&mut *tx, api_id).await {
        Err(StoreError::NotFound { .. }) => {
            return Err(StoreError::not_found("version", format!("V{number} of API {api_id}")));
        }
        locked => locked?,
    }
    if claim {
        let row = sqlx::query("SELECT workgroup_id, method, path FROM apis WHERE id = $1")
            .bind(api_id)
            .fetch_one(&mut *tx)
            .await?;
        let (method, path): (String, String) = (row.try_get("method")?, row.try_get("path")?);
        let claim = RouteClaim { workgroup_id: row.try_get("workgroup_id")?, method: &method, path: &path };
        claim_route(&mut *tx, api_id, claim, Some(env)).await?;
    }
    // Inserts, or moves the publication to the new version; the WHERE makes re-publishing
    // the same version a no-op that returns no row (and leaves the revision alone).
    let changed = sqlx::query(
        "INSERT INTO publications (api_id, environment, version, published_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (api_id, environment) DO UPDATE \
         SET version = excluded.version, published_at = excluded.published_at \
         WHERE publications.version <> excluded.version \
         RETURNING api_id, environment, version, published_at",
    )
    .bind(api_id)
    .bind(env.as_str())
    .bind(number)
    .bind(now_millis())
    .fetch_optional(&mut *tx)
    .await;
    match changed {
        Ok(Some(row)) => Ok((publication_from_row(&row)?, true)),
        Ok(None) => {
            let row = sqlx::query(
                "SELECT api_id, environment, version, published_at FROM publications \
                 WHERE api_id = $1 AND environment = $2",
            )
            .bind(api_id)
            .bind(env.as_str())
            .fetch_one(&mut *tx)
            .await?;
            Ok((publication_from_row(&row)?, false))
        }
        Err(e) if is_foreign_key_violation(&e) => {
            Err(StoreError::not_found("version", format!("V{number} of API {api_id}")))
        }
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// What the caller documents describe: each API published to `env` that `keep` accepts,
    /// with the version served there, oldest API first.
    ///
    /// Unlike [`Store::published`] it opens no secret (constants come without values, no
    /// datasource is read) and leaves each API's draft empty: a wizard definition of no table
    /// and no parameters. Rows are read one at a time, and one `keep` refuses is dropped before
    /// its definition is parsed, so that what is held is what a document describes.
    pub async fn published_for_documents(
        &self,
        env: Environment,
        keep: impl Fn(&Api) -> bool,
    ) -> Result<Vec<(Api, ApiVersion)>, StoreError> {
        let mut rows = sqlx::query(
            "SELECT a.id, a.workgroup_id, a.name, a.path, a.method, a.description, a.folder_id, \
                    a.owner, a.tags_json, a.max_qps, a.security_level, a.visible_range, a.auth_mode, \
                    a.created_at, a.updated_at, a.created_by, a.updated_by, \
                    v.number AS v_number, v.description AS v_description, \
                    v.definition_json AS v_definition_json, v.created_at AS v_created_at, \
                    v.created_by AS v_created_by, v.samples_json AS v_samples_json \
             FROM publications p \
             JOIN apis a ON a.id = p.api_id \
             JOIN api_versions v ON v.api_id = p.api_id AND v.number = p.version \
             WHERE p.environment = $1 \
             ORDER BY a.id",
        )
        .bind(env.as_str())
        .fetch(&self.pool);
        let mut described = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let api = api_with_draft(&row, empty_definition())?;
            if !keep(&api) {
                continue;
            }
            let number: i64 = row.try_get("v_number")?;
            let definition_json: String = row.try_get("v_definition_json")?;
            let version = ApiVersion {
                api_id: api.id,
                number,
                description: row.try_get("v_description")?,
                definition: read_definition(&format!("V{number} of API {}", api.id), &definition_json)?,
                created_at: row.try_get("v_created_at")?,
                created_by: row.try_get("v_created_by")?,
                // Documents show them as response examples.
                samples: from_json("version samples", &row.try_get::<String, _>("v_samples_json")?)?,
            };
            described.push((api, version));
        }
        Ok(described)
    }
}

/// A definition that holds nothing (no allocation): the draft of APIs read for documents.
pub(super) fn empty_definition() -> ApiDefinition {
    ApiDefinition {
        datasource_id: None,
        mode: ApiMode::Wizard(WizardSpec { table: String::new() }),
        request_params: Vec::new(),
        response_fields: Vec::new(),
        options: ApiOptions::default(),
    }
}

pub(super) fn publication_from_row(row: &AnyRow) -> Result<Publication, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let environment: String = row.try_get("environment")?;
    Ok(Publication {
        api_id,
        environment: environment
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("publication of API {api_id}: {e}")))?,
        version: row.try_get("version")?,
        published_at: row.try_get("published_at")?,
    })
}
