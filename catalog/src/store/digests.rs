//! Reads that tell what changed without reading definitions, and the write `apply` makes.
//!
//! Every draft and saved version carries the digest of its definition
//! ([`ApiDefinition::digest`](crate::model::ApiDefinition::digest), migration `0006_scale`):
//! `apply` compares a file's API with [`Store::api_digests`] (one light row per API) and the
//! edge finds what to compile again with [`Store::published_digests`] and
//! [`Store::datasources_with_digests`], then reads only those versions
//! ([`Store::versions_with_secrets`]). [`Store::write_apis`] writes several APIs — each
//! created or updated, its version saved and published — in one transaction.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::apis::{MissingReference, api_with_draft, validate_api};
use super::datasources::datasource_from_prefixed_row;
use super::publications::{empty_definition, publication_from_row, publish_in};
use super::{PathConflict, Store, StoreError, bump_revision};
use crate::model::{Api, ApiVersion, AuthMode, Datasource, Environment, Publication, SecurityLevel};
use crate::route_space::{RouteClaim, RouteIndex};

/// The columns `api_with_draft` reads, prefixed `a.`.
macro_rules! light_api_columns {
    () => {
        "a.id, a.workgroup_id, a.name, a.path, a.method, a.description, a.folder_id, \
         a.owner, a.tags_json, a.max_qps, a.security_level, a.visible_range, a.auth_mode, \
         a.created_at, a.updated_at, a.created_by, a.updated_by"
    };
}

/// Rows per query when versions are read by key.
const KEYS_PER_QUERY: usize = 100;

/// One API as `apply` compares it with a file: everything but the definitions, which are
/// stood for by their digests.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiDigest {
    /// The API with an empty draft (a wizard definition of no table) in place of its own.
    pub api: Api,
    /// The digest of the draft.
    pub draft_hash: String,
    /// The latest saved version: its number and the digest of its definition.
    pub latest: Option<(i64, String)>,
    /// Where the API is published, production first.
    pub publications: Vec<Publication>,
}

/// One API an environment serves, as the edge routes it, without its definition: what the
/// edge keys its compiled versions by.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedDigest {
    pub api_id: i64,
    pub workgroup_id: i64,
    pub name: String,
    pub path: String,
    pub method: String,
    pub auth_mode: AuthMode,
    pub security_level: SecurityLevel,
    pub max_qps: Option<u32>,
    /// The version served.
    pub version: i64,
    /// The digest of that version's definition.
    pub definition_hash: String,
    /// The datasource the version reads; `None` for APIs without one.
    pub datasource_id: Option<i64>,
}

/// Separates the fields of one API, and the APIs, in [`Store::published_digests`]'s one row:
/// control characters, which no name, path, method or digest may hold.
const FIELD_SEPARATOR: char = '\u{1f}';
const RECORD_SEPARATOR: char = '\u{1e}';

impl PublishedDigest {
    /// One record of [`Store::published_digests`]'s row.
    fn parse(record: &str) -> Result<PublishedDigest, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("served API digest: {what}: {record:?}"));
        let fields: Vec<&str> = record.split(FIELD_SEPARATOR).collect();
        let [id, workgroup_id, name, path, method, auth_mode, security_level, max_qps, version, hash, datasource] =
            fields[..]
        else {
            return Err(corrupt("wrong number of fields"));
        };
        let int = |text: &str, what: &str| text.parse::<i64>().map_err(|_| corrupt(what));
        let optional = |text: &str, what: &str| if text.is_empty() { Ok(None) } else { int(text, what).map(Some) };
        Ok(PublishedDigest {
            api_id: int(id, "id")?,
            workgroup_id: int(workgroup_id, "workgroup")?,
            name: name.to_owned(),
            path: path.to_owned(),
            method: method.to_owned(),
            auth_mode: if auth_mode == "none" { AuthMode::None } else { AuthMode::App },
            security_level: security_level.parse().map_err(|_| corrupt("security level"))?,
            max_qps: optional(max_qps, "maxQps")?.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
            version: int(version, "version")?,
            definition_hash: hash.to_owned(),
            datasource_id: optional(datasource, "datasource")?,
        })
    }
}

/// What `apply` writes of one API (see [`Store::write_apis`]).
#[derive(Debug, Clone, Copy)]
pub struct ApiWrite<'a> {
    /// The API as it should be: id 0 creates it.
    pub api: &'a Api,
    /// Whether to write the API itself (metadata and draft); always when it is created.
    pub update: bool,
    /// Save the draft as the next version, with this description.
    pub save_version: Option<&'a str>,
    /// The latest saved version, when none is saved now: the one `publish` makes served.
    pub latest: Option<i64>,
    /// The environments that should serve the latest version.
    pub publish: &'a [Environment],
}

/// What [`Store::write_apis`] did for one API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiWritten {
    pub api_id: i64,
    /// The version saved now, if any.
    pub saved: Option<i64>,
    /// Environments that serve the latest version now and did not before.
    pub published: Vec<Environment>,
}

impl Store {
    /// Each API of the workgroup with the digests of its draft and latest version and where
    /// it is published, oldest first; empty for an unknown workgroup. Two queries, no
    /// definition read.
    pub async fn api_digests(&self, workgroup_id: i64) -> Result<Vec<ApiDigest>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            light_api_columns!(),
            ", a.draft_hash, v.number AS v_number, v.definition_hash AS v_hash \
             FROM apis a LEFT JOIN api_versions v ON v.api_id = a.id \
              AND v.number = (SELECT MAX(l.number) FROM api_versions l WHERE l.api_id = a.id) \
             WHERE a.workgroup_id = $1 ORDER BY a.id"
        ))
        .bind(workgroup_id)
        .fetch_all(&self.pool)
        .await?;
        let mut publications = self.workgroup_publications(workgroup_id).await?;
        let mut digests = Vec::with_capacity(rows.len());
        for row in &rows {
            let api = api_with_draft(row, empty_definition())?;
            let latest = match row.try_get::<Option<i64>, _>("v_number")? {
                Some(number) => Some((number, row.try_get("v_hash")?)),
                None => None,
            };
            digests.push(ApiDigest {
                draft_hash: row.try_get("draft_hash")?,
                latest,
                publications: publications.remove(&api.id).unwrap_or_default(),
                api,
            });
        }
        Ok(digests)
    }

    /// Each API `env` serves with the version served and its definition's digest, oldest API
    /// first: what the edge routes, without definitions or datasources.
    ///
    /// Read as one row, the APIs joined into one text (`string_agg`, in SQLite and
    /// PostgreSQL alike): at 10,000 APIs, handing rows one by one through `sqlx::Any` cost more
    /// than everything else a rebuild does.
    pub async fn published_digests(&self, env: Environment) -> Result<Vec<PublishedDigest>, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, string_agg(\
                CAST(a.id AS TEXT) || '\u{1f}' || CAST(a.workgroup_id AS TEXT) || '\u{1f}' || a.name \
                || '\u{1f}' || a.path || '\u{1f}' || a.method || '\u{1f}' || a.auth_mode \
                || '\u{1f}' || a.security_level || '\u{1f}' || COALESCE(CAST(a.max_qps AS TEXT), '') \
                || '\u{1f}' || CAST(v.number AS TEXT) || '\u{1f}' || v.definition_hash \
                || '\u{1f}' || COALESCE(CAST(v.datasource_id AS TEXT), ''), '\u{1e}') AS served \
             FROM publications p \
             JOIN apis a ON a.id = p.api_id \
             JOIN api_versions v ON v.api_id = p.api_id AND v.number = p.version \
             WHERE p.environment = $1",
        )
        .bind(env.as_str())
        .fetch_one(&self.pool)
        .await?;
        let count: i64 = row.try_get("n")?;
        let served: Option<String> = row.try_get("served")?;
        let mut digests = match served.as_deref() {
            None | Some("") => Vec::new(),
            Some(text) => text.split(RECORD_SEPARATOR).map(PublishedDigest::parse).collect::<Result<Vec<_>, _>>()?,
        };
        if digests.len() as i64 != count {
            return Err(StoreError::Corrupt(format!(
                "{count} APIs are published in {} but {} were read",
                env.as_str(),
                digests.len()
            )));
        }
        digests.sort_by_key(|d| d.api_id);
        Ok(digests)
    }

    /// Every datasource with its password opened, by id, each with a digest of everything
    /// stored about it (the sealed password included): a datasource whose digest is
    /// unchanged connects as before. Never hand it to a reader.
    pub async fn datasources_with_digests(&self) -> Result<HashMap<i64, (Datasource, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, workgroup_id, name, kind, description, settings_json, password_sealed FROM datasources",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut datasources = HashMap::with_capacity(rows.len());
        for row in &rows {
            let sealed: Option<String> = row.try_get("password_sealed")?;
            let stored = (
                row.try_get::<i64, _>("id")?,
                row.try_get::<i64, _>("workgroup_id")?,
                row.try_get::<String, _>("name")?,
                row.try_get::<String, _>("kind")?,
                row.try_get::<String, _>("description")?,
                row.try_get::<String, _>("settings_json")?,
                &sealed,
            );
            // A JSON array keeps the columns apart: no two rows serialize alike.
            let digest = hex::encode(Sha256::digest(serde_json::to_vec(&stored).unwrap_or_default()));
            let mut datasource = datasource_from_prefixed_row(row, "")?;
            datasource.connection.password = self.open_password(sealed)?;
            datasources.insert(datasource.id, (datasource, digest));
        }
        Ok(datasources)
    }

    /// The versions named by `(api id, number)`, constants opened, in no particular order;
    /// keys of versions that do not exist are left out. Never hand them to a reader.
    pub async fn versions_with_secrets(&self, keys: &[(i64, i64)]) -> Result<Vec<ApiVersion>, StoreError> {
        let mut versions = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            let terms: Vec<String> =
                (0..chunk.len()).map(|i| format!("(api_id = ${} AND number = ${})", 2 * i + 1, 2 * i + 2)).collect();
            let sql = format!(
                "SELECT api_id, number, description, definition_json, created_at, created_by FROM api_versions \
                 WHERE {}",
                terms.join(" OR ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (api_id, number) in chunk {
                query = query.bind(*api_id).bind(*number);
            }
            for row in query.fetch_all(&self.pool).await? {
                let (api_id, number): (i64, i64) = (row.try_get("api_id")?, row.try_get("number")?);
                let definition_json: String = row.try_get("definition_json")?;
                versions.push(ApiVersion {
                    api_id,
                    number,
                    description: row.try_get("description")?,
                    definition: self.open_definition(&format!("V{number} of API {api_id}"), &definition_json)?,
                    created_at: row.try_get("created_at")?,
                    created_by: row.try_get("created_by")?,
                    // The edge compiles these: samples play no part.
                    samples: Default::default(),
                });
            }
        }
        Ok(versions)
    }

    /// Where each of `api_ids` is published, production first; APIs published nowhere are
    /// left out. What one page of an API list shows.
    pub async fn publications_of(&self, api_ids: &[i64]) -> Result<HashMap<i64, Vec<Publication>>, StoreError> {
        let mut by_api: HashMap<i64, Vec<Publication>> = HashMap::new();
        for chunk in api_ids.chunks(KEYS_PER_QUERY) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT api_id, environment, version, published_at FROM publications WHERE api_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let publication = publication_from_row(&row)?;
                by_api.entry(publication.api_id).or_default().push(publication);
            }
        }
        for publications in by_api.values_mut() {
            publications.sort_by_key(|p| Environment::ALL.iter().position(|e| *e == p.environment));
        }
        Ok(by_api)
    }

    /// Writes each API as [`ApiWrite`] says, all in one transaction (one commit, one
    /// revision): creates or updates it, saves its draft as the next version, and makes its
    /// `publish` environments serve the latest version. The same rules hold as for
    /// [`Store::create_api`], [`Store::update_api`], [`Store::save_version`] and
    /// [`Store::publish`], path conflicts included (an API written earlier in the batch
    /// counts). On failure nothing is written and the index of the API at fault comes back.
    /// Who writes is not known (`""`); see [`Store::write_apis_by`].
    pub async fn write_apis(&self, writes: &[ApiWrite<'_>]) -> Result<Vec<ApiWritten>, (usize, StoreError)> {
        self.write_apis_by(writes, "").await
    }

    /// What [`Store::write_apis`] would refuse of `writes` for their routes — a path that
    /// collides with another API published in any environment, or with one the batch itself
    /// publishes — and of their names, paths and methods, without writing anything: a dry
    /// run's check. The first refusal, with the index of its write.
    pub async fn check_api_writes(&self, writes: &[ApiWrite<'_>]) -> Result<(), (usize, StoreError)> {
        let mut tx = self.pool.begin().await.map_err(|e| (0, e.into()))?;
        let routes = BatchRoutes::read(&mut tx).await;
        // Nothing to keep: the lock `read` took goes with the rollback.
        tx.rollback().await.map_err(|e| (0, e.into()))?;
        let mut routes = routes.map_err(|e| (0, e))?;
        for (index, write) in writes.iter().enumerate() {
            let fail = |e: StoreError| (index, e);
            let api = write.api;
            let method = validate_api(api).map_err(fail)?;
            let claim = RouteClaim { workgroup_id: api.workgroup_id, method: &method, path: &api.path };
            // A new API stands for itself under an id no stored API has.
            let api_id = if api.id == 0 { -1 - index as i64 } else { api.id };
            if api.id == 0 || write.update {
                routes.admit(api_id, &api.name, &claim).map_err(fail)?;
            }
            for env in write.publish {
                routes.admit_publication(api_id, &api.name, &claim, *env).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// [`Store::write_apis`] by the user `actor`: the creator of the APIs created, the last
    /// editor of those updated, the creator of the versions saved. It rides on the writes the
    /// batch makes anyway: no query is added per API.
    pub async fn write_apis_by(
        &self,
        writes: &[ApiWrite<'_>],
        actor: &str,
    ) -> Result<Vec<ApiWritten>, (usize, StoreError)> {
        let mut tx = self.pool.begin().await.map_err(|e| (0, e.into()))?;
        // The route space's lock for the whole batch, and every published route, once: each
        // API's route is checked against them in memory rather than by a query per API.
        let mut routes = BatchRoutes::read(&mut tx).await.map_err(|e| (0, e))?;
        let mut written = Vec::with_capacity(writes.len());
        let mut changed = false;
        for (index, write) in writes.iter().enumerate() {
            let fail = |e: StoreError| (index, e);
            let api = write.api;
            let method = validate_api(api).map_err(fail)?;
            let claim = RouteClaim { workgroup_id: api.workgroup_id, method: &method, path: &api.path };
            let api_id = if api.id == 0 {
                routes.admit(0, &api.name, &claim).map_err(fail)?;
                match self.insert_api(&mut tx, api, true, actor).await.map_err(fail)? {
                    Ok(created) => created.id,
                    Err(MissingReference) => {
                        // Give the connection back before the lookup: an in-memory store has one.
                        drop(tx);
                        return Err((index, self.missing_reference(api.workgroup_id, &api.draft).await));
                    }
                }
            } else if write.update {
                routes.admit(api.id, &api.name, &claim).map_err(fail)?;
                self.update_api_in(&mut tx, api, true, actor).await.map_err(fail)?.id
            } else {
                api.id
            };
            changed |= api.id == 0 || write.update;
            let saved = match write.save_version {
                Some(description) => {
                    changed = true;
                    Some(self.save_version_in(&mut tx, api_id, description, None, actor).await.map_err(fail)?.number)
                }
                None => None,
            };
            let mut published = Vec::new();
            if !write.publish.is_empty() {
                let number = saved.or(write.latest).ok_or_else(|| {
                    fail(StoreError::Invalid(format!("API {api_id} has no saved version to publish")))
                })?;
                for env in write.publish {
                    if published.contains(env) {
                        continue;
                    }
                    routes.admit_publication(api_id, &api.name, &claim, *env).map_err(fail)?;
                    let (_, moved) = publish_in(&mut tx, api_id, *env, number, false).await.map_err(fail)?;
                    if moved {
                        changed = true;
                        published.push(*env);
                    }
                }
            }
            written.push(ApiWritten { api_id, saved, published });
        }
        let last = writes.len().saturating_sub(1);
        if changed {
            bump_revision(&mut tx).await.map_err(|e| (last, e))?;
        }
        tx.commit().await.map_err(|e| (last, e.into()))?;
        Ok(written)
    }
}

/// A published route as a batch holds it: the API's id and name, and the environment.
type Held = (i64, String, Environment);

/// The routes published in every environment while a batch is written, kept up to date with
/// what the batch writes (see `claim_route`, which checks one API by a query).
struct BatchRoutes {
    index: RouteIndex<Held>,
    /// The environments each API is published in.
    environments: HashMap<i64, Vec<Environment>>,
}

impl BatchRoutes {
    /// Takes the route space's lock for the rest of the transaction and reads every
    /// published route.
    async fn read(tx: &mut sqlx::AnyConnection) -> Result<BatchRoutes, StoreError> {
        sqlx::query("UPDATE route_space SET touched = touched + 1 WHERE id = 1").execute(&mut *tx).await?;
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.workgroup_id, a.method, a.path, p.environment \
             FROM publications p JOIN apis a ON a.id = p.api_id ORDER BY a.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut routes = BatchRoutes { index: RouteIndex::default(), environments: HashMap::new() };
        for row in &rows {
            let environment: String = row.try_get("environment")?;
            let env: Environment = environment.parse().map_err(StoreError::Corrupt)?;
            let (id, method, path): (i64, String, String) =
                (row.try_get("id")?, row.try_get("method")?, row.try_get("path")?);
            let claim = RouteClaim { workgroup_id: row.try_get("workgroup_id")?, method: &method, path: &path };
            routes.index.insert(claim, (id, row.try_get("name")?, env));
            routes.environments.entry(id).or_default().push(env);
        }
        Ok(routes)
    }

    /// Refuses `claim` for API `api_id` when it conflicts with another API published in `env`
    /// (every environment when `None`), naming the oldest such API.
    fn check(&self, api_id: i64, claim: &RouteClaim<'_>, env: Option<Environment>) -> Result<(), StoreError> {
        let conflicts = self.index.conflicts(claim, |(id, _, e)| *id != api_id && env.is_none_or(|env| *e == env));
        let Some(((id, name, environment), theirs, why)) = conflicts.into_iter().min_by_key(|(held, _, _)| held.0)
        else {
            return Ok(());
        };
        Err(StoreError::PathConflict(Box::new(PathConflict {
            api_id: *id,
            api_name: name.clone(),
            workgroup_id: theirs.workgroup_id,
            method: theirs.method.to_owned(),
            path: theirs.path.to_owned(),
            environment: *environment,
            why,
        })))
    }

    /// Refuses `claim` for API `api_id` when it conflicts with another API published in any
    /// environment; otherwise API `api_id` (called `name`) answers it from now on.
    fn admit(&mut self, api_id: i64, name: &str, claim: &RouteClaim<'_>) -> Result<(), StoreError> {
        self.check(api_id, claim, None)?;
        self.moved(api_id, name, claim);
        Ok(())
    }

    /// Refuses publishing API `api_id` at `claim` in `env` when another API published there
    /// conflicts; otherwise it is published there from now on.
    fn admit_publication(
        &mut self,
        api_id: i64,
        name: &str,
        claim: &RouteClaim<'_>,
        env: Environment,
    ) -> Result<(), StoreError> {
        self.check(api_id, claim, Some(env))?;
        self.published(api_id, name, claim, env);
        Ok(())
    }

    /// API `api_id` now answers `claim` (and is called `name`) wherever it is published.
    fn moved(&mut self, api_id: i64, name: &str, claim: &RouteClaim<'_>) {
        self.index.remove(|(id, _, _)| *id == api_id);
        for env in self.environments.get(&api_id).cloned().unwrap_or_default() {
            self.index.insert(*claim, (api_id, name.to_owned(), env));
        }
    }

    /// API `api_id` is published in `env` (again, or for the first time).
    fn published(&mut self, api_id: i64, name: &str, claim: &RouteClaim<'_>, env: Environment) {
        let environments = self.environments.entry(api_id).or_default();
        if !environments.contains(&env) {
            environments.push(env);
            self.index.insert(*claim, (api_id, name.to_owned(), env));
        }
    }
}
