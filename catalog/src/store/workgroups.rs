//! Workgroups: the top-level spaces that own datasources and APIs (and apps, members and the
//! folder tree).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, bump_revision, from_json, is_foreign_key_violation, is_unique_violation, lock_workgroup,
    now_millis, require_text, to_json,
};
use crate::model::{PlatformSettings, Workgroup, WorkgroupSettings};

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
        Ok(Workgroup {
            id: row.try_get("id")?,
            name: name.to_owned(),
            description: description.to_owned(),
            created_at,
            settings: WorkgroupSettings::default(),
        })
    }

    pub async fn workgroup(&self, id: i64) -> Result<Workgroup, StoreError> {
        let row = sqlx::query("SELECT id, name, description, created_at, settings_json FROM workgroups WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("workgroup", id))?;
        workgroup_from_row(&row)
    }

    /// Changes the workgroup's description and settings, each where given (its name never
    /// changes), in one write, and returns it.
    pub async fn update_workgroup(
        &self,
        id: i64,
        description: Option<&str>,
        settings: Option<&WorkgroupSettings>,
    ) -> Result<Workgroup, StoreError> {
        let settings = settings.map(|s| to_json("workgroup settings", s)).transpose()?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE workgroups SET description = COALESCE($2, description), \
             settings_json = COALESCE($3, settings_json) WHERE id = $1 \
             RETURNING id, name, description, created_at, settings_json",
        )
        .bind(id)
        .bind(description)
        .bind(settings)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("workgroup", id))?;
        let workgroup = workgroup_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(workgroup)
    }

    /// Deletes a workgroup that has no datasources, APIs or apps left (`Conflict` naming what
    /// remains), together with its members, folders and function library. Audit entries about it stay.
    pub async fn delete_workgroup(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, id).await?;
        let remaining = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM datasources WHERE workgroup_id = $1) AS datasources,                     (SELECT COUNT(*) FROM apis WHERE workgroup_id = $1) AS apis,                     (SELECT COUNT(*) FROM apps WHERE workgroup_id = $1) AS apps",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let mut left = Vec::new();
        for what in ["datasources", "apis", "apps"] {
            let count: i64 = remaining.try_get(what)?;
            if count > 0 {
                left.push(format!("{count} {}", if what == "apis" { "APIs" } else { what }));
            }
        }
        if !left.is_empty() {
            return Err(StoreError::Conflict(format!(
                "workgroup {id} still has {}; delete them first",
                left.join(", ")
            )));
        }
        sqlx::query("DELETE FROM workgroup_members WHERE workgroup_id = $1").bind(id).execute(&mut *tx).await?;
        // Requests about its (deleted) APIs go; others' applications keep their record.
        sqlx::query("DELETE FROM approvals WHERE workgroup_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE approvals SET applicant_workgroup_id = NULL WHERE applicant_workgroup_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Its function library goes with it: nothing outside the workgroup may call it.
        sqlx::query("DELETE FROM functions WHERE workgroup_id = $1").bind(id).execute(&mut *tx).await?;
        // So do its webhook channels and their deliveries.
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE workgroup_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM webhooks WHERE workgroup_id = $1").bind(id).execute(&mut *tx).await?;
        // One statement for the whole tree: foreign keys between folders hold at its end.
        sqlx::query("DELETE FROM folders WHERE workgroup_id = $1").bind(id).execute(&mut *tx).await?;
        match sqlx::query("DELETE FROM workgroups WHERE id = $1").bind(id).execute(&mut *tx).await {
            Ok(_) => {}
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "something was added to workgroup {id} while deleting it; try again"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn workgroup_by_name(&self, name: &str) -> Result<Workgroup, StoreError> {
        let row =
            sqlx::query("SELECT id, name, description, created_at, settings_json FROM workgroups WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::not_found("workgroup", format!("`{name}`")))?;
        workgroup_from_row(&row)
    }

    /// The platform's settings (empty until a platform admin sets them).
    pub async fn platform_settings(&self) -> Result<PlatformSettings, StoreError> {
        let row = sqlx::query("SELECT settings_json FROM platform_settings WHERE id = 1").fetch_one(&self.pool).await?;
        let text: String = row.try_get("settings_json")?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("platform settings: {e}")))
    }

    /// Replaces the platform's settings; they take effect with the next revision.
    pub async fn set_platform_settings(&self, settings: &PlatformSettings) -> Result<(), StoreError> {
        let text = serde_json::to_string(settings).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE platform_settings SET settings_json = $1 WHERE id = 1")
            .bind(text)
            .execute(&mut *tx)
            .await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// All workgroups, oldest first.
    pub async fn list_workgroups(&self) -> Result<Vec<Workgroup>, StoreError> {
        sqlx::query("SELECT id, name, description, created_at, settings_json FROM workgroups ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(workgroup_from_row)
            .collect()
    }
}

pub(super) fn workgroup_from_row(row: &AnyRow) -> Result<Workgroup, StoreError> {
    Ok(Workgroup {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        settings: from_json("workgroup settings", &row.try_get::<String, _>("settings_json")?)?,
    })
}
