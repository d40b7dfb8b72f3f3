//! Workgroups: the top-level spaces that own datasources and APIs.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, bump_revision, is_unique_violation, now_millis, require_text};
use crate::model::Workgroup;

impl Store {
    /// Creates a workgroup; names are unique across the installation.
    pub async fn create_workgroup(&self, name: &str, description: &str) -> Result<Workgroup, StoreError> {
        require_text("workgroup name", name)?;
        let created_at = now_millis();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO workgroups (name, description, created_at) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a workgroup named `{name}` already exists"))
            } else {
                e.into()
            }
        })?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(Workgroup { id: row.try_get("id")?, name: name.to_owned(), description: description.to_owned(), created_at })
    }

    pub async fn workgroup_by_name(&self, name: &str) -> Result<Workgroup, StoreError> {
        let row = sqlx::query("SELECT id, name, description, created_at FROM workgroups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("workgroup", format!("`{name}`")))?;
        workgroup_from_row(&row)
    }

    /// All workgroups, oldest first.
    pub async fn list_workgroups(&self) -> Result<Vec<Workgroup>, StoreError> {
        sqlx::query("SELECT id, name, description, created_at FROM workgroups ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(workgroup_from_row)
            .collect()
    }
}

fn workgroup_from_row(row: &AnyRow) -> Result<Workgroup, StoreError> {
    Ok(Workgroup {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
    })
}
