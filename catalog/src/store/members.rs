//! Workgroup members: which users belong to a workgroup, each with one role.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, bump_revision, is_foreign_key_violation, now_millis};
use crate::model::{Member, Workgroup, WorkgroupRole};

impl Store {
    /// Makes the user a member of the workgroup with `role`, or gives an existing member that
    /// role (keeping when they were added). Giving a member the role they have changes nothing.
    pub async fn add_member(&self, workgroup_id: i64, user_id: i64, role: WorkgroupRole) -> Result<Member, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "INSERT INTO workgroup_members (workgroup_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workgroup_id, user_id) DO UPDATE SET role = excluded.role \
             WHERE workgroup_members.role <> excluded.role \
             RETURNING workgroup_id, user_id, role, added_at",
        )
        .bind(workgroup_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await;
        match changed {
            Ok(Some(row)) => {
                let member = member_from_row(&row)?;
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(member)
            }
            Ok(None) => {
                let row = sqlx::query(
                    "SELECT workgroup_id, user_id, role, added_at FROM workgroup_members \
                     WHERE workgroup_id = $1 AND user_id = $2",
                )
                .bind(workgroup_id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
                let member = member_from_row(&row)?;
                tx.commit().await?;
                Ok(member)
            }
            Err(e) if is_foreign_key_violation(&e) => {
                // Give the connection back before the lookup: an in-memory store has only one.
                drop(tx);
                Err(match self.workgroup(workgroup_id).await {
                    Ok(_) => StoreError::not_found("user", user_id),
                    Err(e) => e,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the user from the workgroup; `NotFound` when they are not a member.
    pub async fn remove_member(&self, workgroup_id: i64, user_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM workgroup_members WHERE workgroup_id = $1 AND user_id = $2")
            .bind(workgroup_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("member", format!("user {user_id} of workgroup {workgroup_id}")));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workgroup's members in the order they were added; empty for an unknown workgroup.
    pub async fn members(&self, workgroup_id: i64) -> Result<Vec<Member>, StoreError> {
        sqlx::query(
            "SELECT workgroup_id, user_id, role, added_at FROM workgroup_members \
             WHERE workgroup_id = $1 ORDER BY added_at, user_id",
        )
        .bind(workgroup_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(member_from_row)
        .collect()
    }

    /// The user's role in the workgroup, `None` when not a member (platform admins included:
    /// what they may do beyond that is the caller's decision).
    pub async fn membership(&self, workgroup_id: i64, user_id: i64) -> Result<Option<WorkgroupRole>, StoreError> {
        let row = sqlx::query("SELECT role FROM workgroup_members WHERE workgroup_id = $1 AND user_id = $2")
            .bind(workgroup_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| read_role(&row)).transpose()
    }

    /// The user names of the workgroup's members whose accounts are enabled, sorted: who may
    /// be named an API's owner. Empty for an unknown workgroup.
    pub async fn member_names(&self, workgroup_id: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT u.name FROM workgroup_members m JOIN users u ON u.id = m.user_id \
             WHERE m.workgroup_id = $1 AND u.disabled = 0 ORDER BY u.name",
        )
        .bind(workgroup_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok(row.try_get("name")?))
        .collect()
    }

    /// Whether the user named `name` is an enabled member of the workgroup (any role).
    pub async fn is_member_named(&self, workgroup_id: i64, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM workgroup_members m JOIN users u ON u.id = m.user_id \
             WHERE m.workgroup_id = $1 AND u.name = $2 AND u.disabled = 0",
        )
        .bind(workgroup_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The workgroups the user is a member of, with the role in each, oldest workgroup first.
    pub async fn workgroups_of(&self, user_id: i64) -> Result<Vec<(Workgroup, WorkgroupRole)>, StoreError> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.description, w.created_at, w.settings_json, m.role \
             FROM workgroup_members m JOIN workgroups w ON w.id = m.workgroup_id \
             WHERE m.user_id = $1 ORDER BY w.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((super::workgroups::workgroup_from_row(row)?, read_role(row)?))).collect()
    }
}

fn read_role(row: &AnyRow) -> Result<WorkgroupRole, StoreError> {
    let role: String = row.try_get("role")?;
    role.parse().map_err(StoreError::Corrupt)
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        workgroup_id: row.try_get("workgroup_id")?,
        user_id: row.try_get("user_id")?,
        role: read_role(row)?,
        added_at: row.try_get("added_at")?,
    })
}
