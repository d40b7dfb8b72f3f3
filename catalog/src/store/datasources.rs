//! Datasources: connection settings kept as JSON, the password sealed in its own column.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, bump_revision, from_json, is_foreign_key_violation, is_unique_violation, now_millis,
    require_text, to_json,
};
use crate::model::{Datasource, DatasourceKind};

/// The columns `datasource_from_row` reads, in one place so every query selects the same.
macro_rules! datasource_columns {
    () => {
        "id, workgroup_id, name, kind, description, settings_json, password_sealed"
    };
}

impl Store {
    /// Stores a new datasource in its workgroup and returns it, redacted, with its id.
    pub async fn create_datasource(&self, datasource: &Datasource) -> Result<Datasource, StoreError> {
        require_text("datasource name", &datasource.name)?;
        let settings_json = settings_json(datasource)?;
        let password_sealed = self.seal_password(datasource)?;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO datasources \
             (workgroup_id, name, kind, description, settings_json, password_sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(datasource.workgroup_id)
        .bind(&datasource.name)
        .bind(datasource.kind.as_str())
        .bind(&datasource.description)
        .bind(settings_json)
        .bind(password_sealed)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| write_error(e, datasource))?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        let mut created = datasource.redacted();
        created.id = row.try_get("id")?;
        Ok(created)
    }

    /// A datasource as readers see it: without its password.
    pub async fn datasource(&self, id: i64) -> Result<Datasource, StoreError> {
        let row = self.datasource_row(id).await?;
        datasource_from_row(&row)
    }

    /// A datasource with its password opened, for the engine that connects to it. Nothing
    /// that answers a user should call this.
    pub async fn datasource_with_secret(&self, id: i64) -> Result<Datasource, StoreError> {
        let row = self.datasource_row(id).await?;
        let mut datasource = datasource_from_row(&row)?;
        datasource.connection.password = self.open_password(row.try_get("password_sealed")?)?;
        Ok(datasource)
    }

    /// The workgroup's datasources, redacted, oldest first; empty for an unknown workgroup.
    pub async fn list_datasources(&self, workgroup_id: i64) -> Result<Vec<Datasource>, StoreError> {
        sqlx::query(concat!("SELECT ", datasource_columns!(), " FROM datasources WHERE workgroup_id = $1 ORDER BY id"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(datasource_from_row)
            .collect()
    }

    /// Replaces the datasource's name, kind, description and settings. A `None` password keeps
    /// the stored one; `Some` replaces it. The workgroup never changes. Returns the stored
    /// result, redacted.
    pub async fn update_datasource(&self, datasource: &Datasource) -> Result<Datasource, StoreError> {
        require_text("datasource name", &datasource.name)?;
        let settings_json = settings_json(datasource)?;
        let password_sealed = self.seal_password(datasource)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE datasources SET name = $2, kind = $3, description = $4, settings_json = $5, \
             password_sealed = COALESCE($6, password_sealed), updated_at = $7 \
             WHERE id = $1 RETURNING ",
            datasource_columns!()
        ))
        .bind(datasource.id)
        .bind(&datasource.name)
        .bind(datasource.kind.as_str())
        .bind(&datasource.description)
        .bind(settings_json)
        .bind(password_sealed)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| write_error(e, datasource))?
        .ok_or_else(|| StoreError::not_found("datasource", datasource.id))?;
        let updated = datasource_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a datasource no API draft or saved version reads from; otherwise `Conflict`
    /// naming the users.
    pub async fn delete_datasource(&self, id: i64) -> Result<(), StoreError> {
        // The foreign keys from apis and api_versions decide atomically; the lookup after a
        // refusal only explains it.
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM datasources WHERE id = $1").bind(id).execute(&mut *tx).await;
        match deleted {
            Ok(result) if result.rows_affected() == 0 => Err(StoreError::not_found("datasource", id)),
            Ok(_) => {
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(e) if is_foreign_key_violation(&e) => {
                // Give the connection back before the lookup: an in-memory store has only one.
                drop(tx);
                Err(StoreError::Conflict(format!(
                    "datasource {id} is still used by {}",
                    self.datasource_users(id).await?
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn datasource_row(&self, id: i64) -> Result<AnyRow, StoreError> {
        sqlx::query(concat!("SELECT ", datasource_columns!(), " FROM datasources WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("datasource", id))
    }

    /// Which APIs read from a datasource, as a phrase such as "API `a` (draft), API `b` (V0)".
    async fn datasource_users(&self, id: i64) -> Result<String, StoreError> {
        let rows = sqlx::query(
            "SELECT name, -1 AS number FROM apis WHERE datasource_id = $1 \
             UNION ALL \
             SELECT a.name, v.number FROM api_versions v JOIN apis a ON a.id = v.api_id \
             WHERE v.datasource_id = $1 \
             ORDER BY 1, 2",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.try_get(0)?;
            let number: i64 = row.try_get(1)?;
            users.push(if number < 0 { format!("API `{name}` (draft)") } else { format!("API `{name}` (V{number})") });
        }
        if users.is_empty() {
            // Possible only when the users went away between the refusal and this lookup.
            users.push("an API".to_owned());
        }
        Ok(users.join(", "))
    }

    /// Opens a stored password column.
    pub(super) fn open_password(&self, sealed: Option<String>) -> Result<Option<String>, StoreError> {
        Ok(match sealed {
            Some(sealed) => Some(self.secrets.open(&sealed)?),
            None => None,
        })
    }

    fn seal_password(&self, datasource: &Datasource) -> Result<Option<String>, StoreError> {
        datasource
            .connection
            .password
            .as_deref()
            .map(|plain| self.secrets.seal(plain).map_err(StoreError::Secret))
            .transpose()
    }
}

/// The connection settings as stored: everything but the password.
fn settings_json(datasource: &Datasource) -> Result<String, StoreError> {
    to_json("connection settings", &datasource.redacted().connection)
}

/// Explains a failed insert or update of `datasource`.
fn write_error(err: sqlx::Error, datasource: &Datasource) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict(format!("the workgroup already has a datasource named `{}`", datasource.name))
    } else if is_foreign_key_violation(&err) {
        StoreError::not_found("workgroup", datasource.workgroup_id)
    } else {
        err.into()
    }
}

/// Reads a datasource row, always without its password.
fn datasource_from_row(row: &AnyRow) -> Result<Datasource, StoreError> {
    datasource_from_prefixed_row(row, "")
}

/// Reads the columns of `datasource_columns!()`, each named with `prefix` in front (for joins
/// that select them under aliases), without the password.
pub(super) fn datasource_from_prefixed_row(row: &AnyRow, prefix: &str) -> Result<Datasource, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    let id: i64 = row.try_get(column("id").as_str())?;
    let kind: String = row.try_get(column("kind").as_str())?;
    let settings: String = row.try_get(column("settings_json").as_str())?;
    let mut connection: crate::model::ConnectionSettings =
        from_json(&format!("settings of datasource {id}"), &settings)?;
    connection.password = None;
    Ok(Datasource {
        id,
        workgroup_id: row.try_get(column("workgroup_id").as_str())?,
        name: row.try_get(column("name").as_str())?,
        kind: kind
            .parse::<DatasourceKind>()
            .map_err(|e| StoreError::Corrupt(format!("kind of datasource {id}: {e}")))?,
        description: row.try_get(column("description").as_str())?,
        connection,
    })
}
