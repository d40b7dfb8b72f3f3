//! APIs with their editable draft, and the immutable numbered versions saved from it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, bump_revision, from_json, is_foreign_key_violation, is_unique_violation, now_millis,
    require_text, to_json,
};
use crate::model::{Api, ApiDefinition, ApiVersion};

/// HTTP methods an API may answer.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The columns `api_from_row` reads.
macro_rules! api_columns {
    () => {
        "id, workgroup_id, name, path, method, description, draft_json"
    };
}

/// The columns `version_from_row` reads.
macro_rules! version_columns {
    () => {
        "api_id, number, description, definition_json, created_at"
    };
}

impl Store {
    /// Stores a new API and returns it with its id. The method is stored upper-case; the
    /// workgroup and the draft's datasource must exist.
    pub async fn create_api(&self, api: &Api) -> Result<Api, StoreError> {
        let method = validate_api(api)?;
        let draft_json = to_json("API draft", &api.draft)?;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO apis \
             (workgroup_id, name, path, method, description, datasource_id, draft_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(api.workgroup_id)
        .bind(&api.name)
        .bind(&api.path)
        .bind(&method)
        .bind(&api.description)
        .bind(api.draft.datasource_id)
        .bind(draft_json)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an API named `{}`", api.name)));
            }
            Err(e) if is_foreign_key_violation(&e) => {
                // Give the connection back before the lookup: an in-memory store has only one.
                drop(tx);
                return Err(self.missing_reference(api.workgroup_id, &api.draft).await);
            }
            Err(e) => return Err(e.into()),
        };
        let id = row.try_get("id")?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(Api { id, method, ..api.clone() })
    }

    /// Replaces the API's name, path, method, description and draft (by `api.id`); saved
    /// versions and publications are untouched. The workgroup never changes. Returns the
    /// stored result.
    pub async fn update_api(&self, api: &Api) -> Result<Api, StoreError> {
        let method = validate_api(api)?;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(concat!(
            "UPDATE apis SET name = $2, path = $3, method = $4, description = $5, datasource_id = $6, \
             draft_json = $7, updated_at = $8 WHERE id = $1 RETURNING ",
            api_columns!()
        ))
        .bind(api.id)
        .bind(&api.name)
        .bind(&api.path)
        .bind(&method)
        .bind(&api.description)
        .bind(api.draft.datasource_id)
        .bind(to_json("API draft", &api.draft)?)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await;
        let updated = match updated {
            Ok(Some(row)) => api_from_row(&row)?,
            Ok(None) => return Err(StoreError::not_found("API", api.id)),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an API named `{}`", api.name)));
            }
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::not_found("datasource", api.draft.datasource_id));
            }
            Err(e) => return Err(e.into()),
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn api(&self, id: i64) -> Result<Api, StoreError> {
        let row = sqlx::query(concat!("SELECT ", api_columns!(), " FROM apis WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("API", id))?;
        api_from_row(&row)
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

    /// Replaces the API's draft; saved versions are untouched. Returns the updated API.
    pub async fn update_draft(&self, id: i64, draft: &ApiDefinition) -> Result<Api, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(concat!(
            "UPDATE apis SET datasource_id = $2, draft_json = $3, updated_at = $4 \
             WHERE id = $1 RETURNING ",
            api_columns!()
        ))
        .bind(id)
        .bind(draft.datasource_id)
        .bind(to_json("API draft", draft)?)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await;
        let updated = match updated {
            Ok(Some(row)) => api_from_row(&row)?,
            Ok(None) => return Err(StoreError::not_found("API", id)),
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::not_found("datasource", draft.datasource_id));
            }
            Err(e) => return Err(e.into()),
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes an API together with all its saved versions and publications: it stops being
    /// served in every environment.
    pub async fn delete_api(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM publications WHERE api_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM api_versions WHERE api_id = $1").bind(id).execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM apis WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            // Dropping `tx` rolls back; nothing was deleted anyway.
            return Err(StoreError::not_found("API", id));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves the API's current draft as its next version: V0 first, then V1, V2, … A number
    /// is never given twice, not even after its version was deleted.
    pub async fn save_version(&self, api_id: i64, description: &str) -> Result<ApiVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taking the number by updating the API row serializes concurrent saves of the same
        // API (row lock on PostgreSQL, the write lock on SQLite), so two saves cannot pick the
        // same number. RETURNING sees the row after the update.
        let api_row = sqlx::query(
            "UPDATE apis SET next_version = next_version + 1 WHERE id = $1 \
             RETURNING datasource_id, draft_json, next_version - 1 AS number",
        )
        .bind(api_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("API", api_id))?;
        let datasource_id: i64 = api_row.try_get("datasource_id")?;
        let definition_json: String = api_row.try_get("draft_json")?;
        let number: i64 = api_row.try_get("number")?;
        let definition: ApiDefinition = from_json(&format!("draft of API {api_id}"), &definition_json)?;

        let created_at = now_millis();
        sqlx::query(
            "INSERT INTO api_versions \
             (api_id, number, description, datasource_id, definition_json, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(api_id)
        .bind(number)
        .bind(description)
        .bind(datasource_id)
        .bind(definition_json)
        .bind(created_at)
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
        bump_revision(&mut tx).await?;
        tx.commit().await?;

        Ok(ApiVersion { api_id, number, description: description.to_owned(), definition, created_at })
    }

    pub async fn version(&self, api_id: i64, number: i64) -> Result<ApiVersion, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", version_columns!(), " FROM api_versions WHERE api_id = $1 AND number = $2"))
                .bind(api_id)
                .bind(number)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("version", format!("V{number} of API {api_id}")))?;
        version_from_row(&row)
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
    async fn missing_reference(&self, workgroup_id: i64, draft: &ApiDefinition) -> StoreError {
        let workgroup =
            sqlx::query("SELECT id FROM workgroups WHERE id = $1").bind(workgroup_id).fetch_optional(&self.pool).await;
        match workgroup {
            Ok(None) => StoreError::not_found("workgroup", workgroup_id),
            Ok(Some(_)) => StoreError::not_found("datasource", draft.datasource_id),
            Err(e) => e.into(),
        }
    }
}

/// Checks what the database does not: non-empty name and path, a known method. Returns the
/// method as stored (upper-case).
fn validate_api(api: &Api) -> Result<String, StoreError> {
    require_text("API name", &api.name)?;
    require_text("API path", &api.path)?;
    let method = api.method.trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(StoreError::Invalid(format!("API method `{}` is not one of {}", api.method, METHODS.join(", "))));
    }
    Ok(method)
}

pub(super) fn api_from_row(row: &AnyRow) -> Result<Api, StoreError> {
    let id: i64 = row.try_get("id")?;
    let draft_json: String = row.try_get("draft_json")?;
    Ok(Api {
        id,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        method: row.try_get("method")?,
        description: row.try_get("description")?,
        draft: from_json(&format!("draft of API {id}"), &draft_json)?,
    })
}

pub(super) fn version_from_row(row: &AnyRow) -> Result<ApiVersion, StoreError> {
    let api_id: i64 = row.try_get("api_id")?;
    let number: i64 = row.try_get("number")?;
    let definition_json: String = row.try_get("definition_json")?;
    Ok(ApiVersion {
        api_id,
        number,
        description: row.try_get("description")?,
        definition: from_json(&format!("V{number} of API {api_id}"), &definition_json)?,
        created_at: row.try_get("created_at")?,
    })
}
