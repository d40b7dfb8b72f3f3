//! Grants (which app may call which API), gray release strategies, and the one read the edge
//! builds its view of callers from ([`Store::caller_directory`]).
//!
//! Grant rules are checked inside the granting transaction: a `private` API is granted only
//! to apps of its own workgroup, and only to apps whose clearance reaches the API's security
//! level.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::apis::{lock_api, version_without_samples};
use super::{Store, StoreError, bump_revision, flag, is_foreign_key_violation, now_millis};
use crate::model::{ApiVersion, App, Environment, Grant, GrayStrategy, SecurityLevel, VisibleRange};

/// The columns `grant_from_row` reads.
macro_rules! grant_columns {
    () => {
        "id, api_id, app_id, expires_at, qps, created_at, created_by, application_id"
    };
}

/// Everything the edge needs to authenticate callers and check their grants, secrets opened.
///
/// Deliberately not `Serialize`: it carries app secrets.
#[derive(Debug, Clone, Default)]
pub struct CallerDirectory {
    pub apps: Vec<AppCredentials>,
    /// Unrevoked, unexpired app tokens.
    pub tokens: Vec<AppTokenEntry>,
    /// Every grant; expiry is checked at call time.
    pub grants: Vec<Grant>,
}

/// An enabled app with its secrets.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app: App,
    pub secret: String,
    /// The rotated-out secret and when it stops working (milliseconds since the Unix epoch).
    pub previous_secret: Option<(String, i64)>,
}

/// A token as the edge checks it: by the SHA-256 of its text.
#[derive(Debug, Clone)]
pub struct AppTokenEntry {
    pub token_hash: String,
    pub app_id: i64,
    pub expires_at: i64,
}

/// A gray strategy with the version it serves, constants opened. Never hand it to a reader.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayRelease {
    pub strategy: GrayStrategy,
    pub version: ApiVersion,
}

impl Store {
    /// Lets the app call the API, or changes the existing grant's expiry and QPS. `Invalid`
    /// when the API is private to another workgroup or the app's clearance is below the API's
    /// security level; `NotFound` for an unknown API or app.
    pub async fn grant(&self, grant: &Grant) -> Result<Grant, StoreError> {
        let mut tx = self.pool.begin().await?;
        let stored = grant_in(&mut tx, grant).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Takes the app's grant on the API away; `NotFound` when there was none.
    pub async fn revoke_grant(&self, api_id: i64, app_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM grants WHERE api_id = $1 AND app_id = $2")
            .bind(api_id)
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("grant", format!("of API {api_id} to app {app_id}")));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The API's grants, oldest first.
    pub async fn grants_of_api(&self, api_id: i64) -> Result<Vec<Grant>, StoreError> {
        self.grants_where("api_id", api_id).await
    }

    /// The app's grants, oldest first.
    pub async fn grants_of_app(&self, app_id: i64) -> Result<Vec<Grant>, StoreError> {
        self.grants_where("app_id", app_id).await
    }

    async fn grants_where(&self, column: &'static str, id: i64) -> Result<Vec<Grant>, StoreError> {
        let sql = format!("SELECT {} FROM grants WHERE {column} = $1 ORDER BY id", grant_columns!());
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(&self.pool).await?.iter().map(grant_from_row).collect()
    }

    /// Creates or replaces the API's gray strategy in `strategy.environment`. The API and the
    /// version must exist (`NotFound`); the percent is 0–100 (`Invalid`).
    pub async fn set_gray_strategy(&self, strategy: &GrayStrategy) -> Result<GrayStrategy, StoreError> {
        if strategy.percent > 100 {
            return Err(StoreError::Invalid("a gray share is 0 to 100 percent".to_owned()));
        }
        let mut tx = self.pool.begin().await?;
        // The API's row first, as `delete_api` takes it, so the two queue instead of deadlocking
        // on the version row.
        lock_api(&mut tx, strategy.api_id).await?;
        let row = sqlx::query(
            "INSERT INTO gray_strategies (api_id, environment, version, percent, enabled, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (api_id, environment) DO UPDATE SET version = excluded.version, \
             percent = excluded.percent, enabled = excluded.enabled, updated_at = excluded.updated_at \
             RETURNING api_id, environment, version, percent, enabled, updated_at",
        )
        .bind(strategy.api_id)
        .bind(strategy.environment.as_str())
        .bind(strategy.version)
        .bind(i64::from(strategy.percent))
        .bind(i64::from(strategy.enabled))
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::not_found("version", format!("V{} of API {}", strategy.version, strategy.api_id))
            } else {
                e.into()
            }
        })?;
        let stored = gray_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The API's gray strategies, production first.
    pub async fn gray_strategies(&self, api_id: i64) -> Result<Vec<GrayStrategy>, StoreError> {
        let mut strategies = sqlx::query(
            "SELECT api_id, environment, version, percent, enabled, updated_at FROM gray_strategies \
             WHERE api_id = $1",
        )
        .bind(api_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(gray_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        strategies.sort_by_key(|g| Environment::ALL.iter().position(|e| *e == g.environment));
        Ok(strategies)
    }

    /// Removes the API's gray strategy in `env`; `NotFound` when it had none.
    pub async fn delete_gray_strategy(&self, api_id: i64, env: Environment) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM gray_strategies WHERE api_id = $1 AND environment = $2")
            .bind(api_id)
            .bind(env.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("gray strategy", format!("of API {api_id} in {env}")));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The enabled gray strategies of `env` with their versions, constants opened: what the
    /// edge serves next to [`Store::published`].
    pub async fn gray_releases(&self, env: Environment) -> Result<Vec<GrayRelease>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.api_id, g.environment, g.version, g.percent, g.enabled, g.updated_at, \
                    v.number, v.description, v.definition_json, v.created_at, v.created_by \
             FROM gray_strategies g JOIN api_versions v ON v.api_id = g.api_id AND v.number = g.version \
             WHERE g.environment = $1 AND g.enabled = 1 ORDER BY g.api_id",
        )
        .bind(env.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut releases = Vec::with_capacity(rows.len());
        for row in &rows {
            let strategy = gray_from_row(row)?;
            // The edge serves versions: their samples stay unread.
            let mut version = version_without_samples(row)?;
            let definition_json: String = row.try_get("definition_json")?;
            version.definition =
                self.open_definition(&format!("V{} of API {}", version.number, version.api_id), &definition_json)?;
            releases.push(GrayRelease { strategy, version });
        }
        Ok(releases)
    }

    /// Every enabled app with its secrets, the tokens that still work and every grant.
    pub async fn caller_directory(&self) -> Result<CallerDirectory, StoreError> {
        let now = now_millis();
        let rows = sqlx::query(
            "SELECT id, workgroup_id, name, description, app_key, ip_allow_json, clearance, disabled, \
                    previous_secret_expires_at, created_at, secret_sealed, previous_secret_sealed \
             FROM apps WHERE disabled = 0 ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in &rows {
            let app = super::apps::app_from_row(row)?;
            let secret = self.secrets.open(&row.try_get::<String, _>("secret_sealed")?)?;
            let previous_secret =
                match (row.try_get::<Option<String>, _>("previous_secret_sealed")?, app.previous_secret_expires_at) {
                    (Some(sealed), Some(until)) if until > now => Some((self.secrets.open(&sealed)?, until)),
                    _ => None,
                };
            apps.push(AppCredentials { app, secret, previous_secret });
        }
        let tokens =
            sqlx::query("SELECT token_hash, app_id, expires_at FROM app_tokens WHERE revoked = 0 AND expires_at > $1")
                .bind(now)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(AppTokenEntry {
                        token_hash: row.try_get("token_hash")?,
                        app_id: row.try_get("app_id")?,
                        expires_at: row.try_get("expires_at")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
        let grants = sqlx::query(concat!("SELECT ", grant_columns!(), " FROM grants ORDER BY id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CallerDirectory { apps, tokens, grants })
    }
}

/// Writes the grant inside the caller's transaction, checking the rules first (see
/// [`Store::grant`]); the caller bumps the revision.
pub(super) async fn grant_in(tx: &mut sqlx::AnyConnection, grant: &Grant) -> Result<Grant, StoreError> {
    if grant.qps == Some(0) {
        return Err(StoreError::Invalid("a grant's QPS is at least 1".to_owned()));
    }
    // Read both rows with writes that change nothing: that locks them (PostgreSQL) or takes
    // the write lock (SQLite) before the rules are checked, so a concurrent change of the
    // API's reach or level, of the app's clearance, or a delete of either waits for this
    // grant instead of slipping between the check and the insert. SQLite would otherwise
    // refuse the insert with "database is locked" whenever another writer got in between.
    // The API first, as every writer that refers to an API locks it.
    let api = sqlx::query(
        "UPDATE apis SET name = name WHERE id = $1 RETURNING name, workgroup_id, visible_range, security_level",
    )
    .bind(grant.api_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::not_found("API", grant.api_id))?;
    let app = sqlx::query("UPDATE apps SET name = name WHERE id = $1 RETURNING name, workgroup_id, clearance")
        .bind(grant.app_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("app", grant.app_id))?;
    let api_name: String = api.try_get("name")?;
    let app_name: String = app.try_get("name")?;
    let range: String = api.try_get("visible_range")?;
    if range == VisibleRange::Private.as_str()
        && api.try_get::<i64, _>("workgroup_id")? != app.try_get::<i64, _>("workgroup_id")?
    {
        return Err(StoreError::Invalid(format!(
            "API `{api_name}` is private to its workgroup: it can be granted only to that workgroup's apps"
        )));
    }
    let needed = level(&api, "security_level")?;
    let clearance = level(&app, "clearance")?;
    if clearance < needed {
        return Err(StoreError::Invalid(format!(
            "app `{app_name}` has clearance {}, API `{api_name}` needs {}",
            clearance.as_str(),
            needed.as_str()
        )));
    }
    let row = sqlx::query(concat!(
        "INSERT INTO grants (api_id, app_id, expires_at, qps, created_at, created_by, application_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (api_id, app_id) DO UPDATE SET expires_at = excluded.expires_at, qps = excluded.qps, \
         application_id = excluded.application_id \
         RETURNING ",
        grant_columns!()
    ))
    .bind(grant.api_id)
    .bind(grant.app_id)
    .bind(grant.expires_at)
    .bind(grant.qps.map(i64::from))
    .bind(now_millis())
    .bind(&grant.created_by)
    .bind(grant.application_id)
    .fetch_one(&mut *tx)
    .await?;
    grant_from_row(&row)
}

fn level(row: &AnyRow, column: &str) -> Result<SecurityLevel, StoreError> {
    row.try_get::<String, _>(column)?.parse().map_err(|e: String| StoreError::Corrupt(format!("{column}: {e}")))
}

fn grant_from_row(row: &AnyRow) -> Result<Grant, StoreError> {
    let qps: Option<i64> = row.try_get("qps")?;
    Ok(Grant {
        id: row.try_get("id")?,
        api_id: row.try_get("api_id")?,
        app_id: row.try_get("app_id")?,
        expires_at: row.try_get("expires_at")?,
        qps: qps.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        application_id: row.try_get("application_id")?,
    })
}

fn gray_from_row(row: &AnyRow) -> Result<GrayStrategy, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let environment: String = row.try_get("environment")?;
    let percent: i64 = row.try_get("percent")?;
    Ok(GrayStrategy {
        api_id,
        environment: environment
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("gray strategy of API {api_id}: {e}")))?,
        version: row.try_get("version")?,
        percent: u8::try_from(percent).unwrap_or(100).min(100),
        enabled: flag(row, "enabled")?,
        updated_at: row.try_get("updated_at")?,
    })
}
