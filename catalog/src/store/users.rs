//! Users: who manages Sluice through the admin API. They authenticate only with tokens
//! (`tokens.rs`); the store keeps no password.
//!
//! Names are letters, digits, `_`, `.` and `-`, at most 64 characters, unique whatever their
//! case. At least one enabled platform admin always remains: an update that would leave none is
//! refused.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, bump_revision, flag, is_unique_violation, now_millis};
use crate::model::{User, UserUpdate};

/// The longest user name.
const MAX_USER_NAME: usize = 64;
/// The longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 200;

/// The columns `user_from_row` reads.
macro_rules! user_columns {
    () => {
        "id, name, display_name, platform_admin, disabled, created_at"
    };
}
pub(super) use user_columns;

impl Store {
    /// Creates a user. `Conflict` when the name is taken in any case.
    pub async fn create_user(&self, name: &str, display_name: &str, platform_admin: bool) -> Result<User, StoreError> {
        validate_user_name(name)?;
        validate_display_name(display_name)?;
        let created_at = now_millis();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (name, display_name, platform_admin, disabled, created_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING id",
        )
        .bind(name)
        .bind(display_name)
        .bind(i64::from(platform_admin))
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a user named `{name}` already exists"))
            } else {
                e.into()
            }
        })?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(User {
            id: row.try_get("id")?,
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            platform_admin,
            disabled: false,
            created_at,
        })
    }

    pub async fn user(&self, id: i64) -> Result<User, StoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("user", id))?;
        user_from_row(&row)
    }

    /// The user with this name, compared without regard to case.
    pub async fn user_by_name(&self, name: &str) -> Result<User, StoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE lower(name) = lower($1)"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("user", format!("`{name}`")))?;
        user_from_row(&row)
    }

    /// All users, oldest first.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query(concat!("SELECT ", user_columns!(), " FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    /// Changes a user's display name, platform admin flag or disabled flag (each `None` keeps
    /// what is stored) and returns the result. `Conflict` when it would leave no enabled
    /// platform admin.
    pub async fn update_user(&self, id: i64, update: &UserUpdate) -> Result<User, StoreError> {
        if let Some(display_name) = &update.display_name {
            validate_display_name(display_name)?;
        }
        let may_remove_admin = update.platform_admin == Some(false) || update.disabled == Some(true);
        let mut tx = self.pool.begin().await?;
        let mut was_enabled_admin = false;
        if may_remove_admin {
            // Lock every enabled admin first, so two concurrent demotions cannot each count the
            // other as the admin that remains.
            sqlx::query("UPDATE users SET platform_admin = platform_admin WHERE platform_admin = 1 AND disabled = 0")
                .execute(&mut *tx)
                .await?;
            let before = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::not_found("user", id))?;
            let before = user_from_row(&before)?;
            was_enabled_admin = before.platform_admin && !before.disabled;
        }
        let row = sqlx::query(concat!(
            "UPDATE users SET display_name = COALESCE($2, display_name), \
             platform_admin = COALESCE($3, platform_admin), disabled = COALESCE($4, disabled) \
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(update.display_name.as_deref())
        .bind(update.platform_admin.map(i64::from))
        .bind(update.disabled.map(i64::from))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("user", id))?;
        let updated = user_from_row(&row)?;
        let still_enabled_admin = updated.platform_admin && !updated.disabled;
        if was_enabled_admin && !still_enabled_admin {
            let remaining: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE platform_admin = 1 AND disabled = 0")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if remaining == 0 {
                return Err(StoreError::Conflict(format!(
                    "`{}` is the last enabled platform admin; make another user one first",
                    updated.name
                )));
            }
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

/// Letters, digits, `_`, `.` and `-`; 1 to 64 of them.
pub(super) fn validate_user_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_USER_NAME {
        return Err(StoreError::Invalid(format!("a user name has 1 to {MAX_USER_NAME} characters")));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(StoreError::Invalid(format!(
            "user name `{name}` has `{bad}`: use letters, digits, `_`, `.` and `-`"
        )));
    }
    Ok(())
}

fn validate_display_name(display_name: &str) -> Result<(), StoreError> {
    if display_name.chars().count() > MAX_DISPLAY_NAME {
        return Err(StoreError::Invalid(format!("a display name has at most {MAX_DISPLAY_NAME} characters")));
    }
    if display_name.chars().any(char::is_control) {
        return Err(StoreError::Invalid("a display name has no control characters".into()));
    }
    Ok(())
}

/// Reads the columns of `user_columns!()`, each named with `prefix` in front.
pub(super) fn user_from_prefixed_row(row: &AnyRow, prefix: &str) -> Result<User, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    Ok(User {
        id: row.try_get(column("id").as_str())?,
        name: row.try_get(column("name").as_str())?,
        display_name: row.try_get(column("display_name").as_str())?,
        platform_admin: flag(row, &column("platform_admin"))?,
        disabled: flag(row, &column("disabled"))?,
        created_at: row.try_get(column("created_at").as_str())?,
    })
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    user_from_prefixed_row(row, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_short_plain_words() {
        for good in ["admin", "a", "jane.doe", "ci-bot_2", &"x".repeat(64)] {
            assert!(validate_user_name(good).is_ok(), "{good}");
        }
        for bad in ["", "jane doe", "jane@corp", "ünï", "a/b", &"x".repeat(65)] {
            assert!(matches!(validate_user_name(bad), Err(StoreError::Invalid(_))), "{bad}");
        }
    }
}
