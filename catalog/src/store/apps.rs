//! Apps: callers' identities, a public key and a secret sealed at rest, their settings (IP
//! allow list, clearance), secret rotation and bearer app tokens.
//!
//! A secret is generated here, returned once by [`Store::create_app`] or
//! [`Store::rotate_app_secret`] and afterwards only opened by [`Store::app_secret`] and
//! [`Store::caller_directory`] for the code that verifies calls. Rotating keeps the previous
//! secret valid for an overlap window so callers can switch without downtime.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::tokens::{hash_token, token_prefix};
use super::{
    Store, StoreError, bump_revision, flag, from_json, is_foreign_key_violation, is_unique_violation, now_millis,
    require_text, to_json,
};
use crate::model::{App, AppToken, SecurityLevel};

/// Characters in a generated app key: letters and digits only, so it is safe in URLs, headers
/// and shells. 62^20 ≈ 2^119 keys.
const APP_KEY_LEN: usize = 20;
/// Random bytes in an app secret.
const APP_SECRET_BYTES: usize = 32;
/// Random bytes in an app token, after its `sat_` prefix.
const APP_TOKEN_BYTES: usize = 30;
const APP_TOKEN_PREFIX: &str = "sat_";
/// The longest an app token lives: 30 days.
pub const APP_TOKEN_MAX_TTL_SECS: i64 = 30 * 24 * 3600;
/// The most CIDRs in an app's IP allow list.
pub const MAX_IP_ALLOW: usize = 100;

/// The columns `app_from_row` reads.
macro_rules! app_columns {
    () => {
        "id, workgroup_id, name, description, app_key, ip_allow_json, clearance, disabled, \
         previous_secret_expires_at, created_at"
    };
}

impl Store {
    /// Creates an app in the workgroup with a new random key and secret. Returns the app and
    /// the secret (URL-safe base64 of 32 random bytes, no padding): the only time the secret is
    /// readable in plain text outside the engine. Names are unique per workgroup.
    pub async fn create_app(
        &self,
        workgroup_id: i64,
        name: &str,
        description: &str,
    ) -> Result<(App, String), StoreError> {
        require_text("app name", name)?;
        let app_key = generate_app_key();
        let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; APP_SECRET_BYTES]>());
        let secret_sealed = self.secrets.seal(&secret)?;
        let created_at = now_millis();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO apps (workgroup_id, name, description, app_key, secret_sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(workgroup_id)
        .bind(name)
        .bind(description)
        .bind(&app_key)
        .bind(secret_sealed)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            // A clash of two random 20-character keys is not a realistic cause.
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an app named `{name}`")));
            }
            Err(e) if is_foreign_key_violation(&e) => return Err(StoreError::not_found("workgroup", workgroup_id)),
            Err(e) => return Err(e.into()),
        };
        let app = App {
            id: row.try_get("id")?,
            workgroup_id,
            name: name.to_owned(),
            description: description.to_owned(),
            app_key,
            ip_allow: Vec::new(),
            clearance: SecurityLevel::L1,
            disabled: false,
            previous_secret_expires_at: None,
            created_at,
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok((app, secret))
    }

    /// The workgroup's apps, oldest first, without secrets; empty for an unknown workgroup.
    pub async fn apps(&self, workgroup_id: i64) -> Result<Vec<App>, StoreError> {
        sqlx::query(concat!("SELECT ", app_columns!(), " FROM apps WHERE workgroup_id = $1 ORDER BY id"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(app_from_row)
            .collect()
    }

    /// The app a caller names with its key, without its secret.
    pub async fn app_by_key(&self, app_key: &str) -> Result<App, StoreError> {
        let row = sqlx::query(concat!("SELECT ", app_columns!(), " FROM apps WHERE app_key = $1"))
            .bind(app_key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("app", format!("with key `{app_key}`")))?;
        app_from_row(&row)
    }

    /// The app's secret, opened, for the code that verifies a caller's signature. Nothing that
    /// answers a user should call this.
    pub async fn app_secret(&self, app_id: i64) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT secret_sealed FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("app", app_id))?;
        let sealed: String = row.try_get("secret_sealed")?;
        Ok(self.secrets.open(&sealed)?)
    }
}

impl Store {
    pub async fn app(&self, id: i64) -> Result<App, StoreError> {
        let row = sqlx::query(concat!("SELECT ", app_columns!(), " FROM apps WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("app", id))?;
        app_from_row(&row)
    }

    /// Replaces the app's name, description, IP allow list, clearance and disabled flag (by
    /// `app.id`); key, secrets and workgroup never change here. The allow list is stored as
    /// given: callers check CIDR syntax before.
    pub async fn update_app(&self, app: &App) -> Result<App, StoreError> {
        require_text("app name", &app.name)?;
        if app.ip_allow.len() > MAX_IP_ALLOW {
            return Err(StoreError::Invalid(format!("an app allows at most {MAX_IP_ALLOW} address ranges")));
        }
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(concat!(
            "UPDATE apps SET name = $2, description = $3, ip_allow_json = $4, clearance = $5, disabled = $6 \
             WHERE id = $1 RETURNING ",
            app_columns!()
        ))
        .bind(app.id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(to_json("app IP allow list", &app.ip_allow)?)
        .bind(app.clearance.as_str())
        .bind(i64::from(app.disabled))
        .fetch_optional(&mut *tx)
        .await;
        let app = match updated {
            Ok(Some(row)) => app_from_row(&row)?,
            Ok(None) => return Err(StoreError::not_found("app", app.id)),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("the workgroup already has an app named `{}`", app.name)));
            }
            Err(e) => return Err(e.into()),
        };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Deletes the app with its tokens and grants.
    pub async fn delete_app(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The app's row first, as `grant` locks it before writing the grant: deleting the
        // grants first would lock a grant row a concurrent re-grant waits for while holding the
        // app row this delete needs, a deadlock on PostgreSQL.
        sqlx::query("UPDATE apps SET name = name WHERE id = $1 RETURNING id")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("app", id))?;
        super::market::cancel_pending(&mut tx, "app_id", id, "the app was deleted").await?;
        sqlx::query("DELETE FROM app_tokens WHERE app_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM grants WHERE app_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM apps WHERE id = $1").bind(id).execute(&mut *tx).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives the app a new secret, returned here only. The secret it replaces keeps working
    /// for `overlap_secs` more (0: stops now); a secret older than that is dropped.
    pub async fn rotate_app_secret(&self, id: i64, overlap_secs: i64) -> Result<(App, String), StoreError> {
        if !(0..=30 * 24 * 3600).contains(&overlap_secs) {
            return Err(StoreError::Invalid("the overlap is 0 to 2592000 seconds (30 days)".to_owned()));
        }
        let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; APP_SECRET_BYTES]>());
        let sealed = self.secrets.seal(&secret)?;
        let previous_until = (overlap_secs > 0).then(|| now_millis() + overlap_secs * 1000);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE apps SET previous_secret_sealed = CASE WHEN $3 IS NULL THEN NULL ELSE secret_sealed END, \
             previous_secret_expires_at = $3, secret_sealed = $2 WHERE id = $1 RETURNING ",
            app_columns!()
        ))
        .bind(id)
        .bind(sealed)
        .bind(previous_until)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("app", id))?;
        let app = app_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok((app, secret))
    }

    /// Issues a bearer token for the app, valid for `ttl_secs` (1 s to 30 days). Returns the
    /// token and its text, which is not stored and cannot be read again.
    pub async fn issue_app_token(&self, app_id: i64, ttl_secs: i64) -> Result<(AppToken, String), StoreError> {
        if !(1..=APP_TOKEN_MAX_TTL_SECS).contains(&ttl_secs) {
            return Err(StoreError::Invalid(format!("a token lives 1 to {APP_TOKEN_MAX_TTL_SECS} seconds (30 days)")));
        }
        let text = format!("{APP_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; APP_TOKEN_BYTES]>()));
        let created_at = now_millis();
        let expires_at = created_at + ttl_secs * 1000;
        let prefix = token_prefix(&text);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO app_tokens (app_id, prefix, token_hash, created_at, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, 0) RETURNING id",
        )
        .bind(app_id)
        .bind(&prefix)
        .bind(hash_token(&text))
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_foreign_key_violation(&e) { StoreError::not_found("app", app_id) } else { e.into() })?;
        let token = AppToken { id: row.try_get("id")?, app_id, prefix, created_at, expires_at, revoked: false };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok((token, text))
    }

    /// The app's tokens that have not expired, newest first.
    pub async fn app_tokens(&self, app_id: i64) -> Result<Vec<AppToken>, StoreError> {
        sqlx::query(
            "SELECT id, app_id, prefix, created_at, expires_at, revoked FROM app_tokens \
             WHERE app_id = $1 AND expires_at > $2 ORDER BY id DESC",
        )
        .bind(app_id)
        .bind(now_millis())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(app_token_from_row)
        .collect()
    }

    /// Revokes one of the app's tokens; `NotFound` when the app has no such token.
    pub async fn revoke_app_token(&self, app_id: i64, token_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE app_tokens SET revoked = 1 WHERE id = $1 AND app_id = $2")
            .bind(token_id)
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("app token", token_id));
        }
        // Expired tokens are of no use to anyone: drop them while here.
        sqlx::query("DELETE FROM app_tokens WHERE app_id = $1 AND expires_at <= $2")
            .bind(app_id)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn app_token_from_row(row: &AnyRow) -> Result<AppToken, StoreError> {
    Ok(AppToken {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked: flag(row, "revoked")?,
    })
}

fn generate_app_key() -> String {
    rand::rng().sample_iter(Alphanumeric).take(APP_KEY_LEN).map(char::from).collect()
}

pub(super) fn app_from_row(row: &AnyRow) -> Result<App, StoreError> {
    Ok(App {
        id: row.try_get("id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        app_key: row.try_get("app_key")?,
        ip_allow: from_json("app IP allow list", &row.try_get::<String, _>("ip_allow_json")?)?,
        clearance: row
            .try_get::<String, _>("clearance")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("app clearance: {e}")))?,
        disabled: flag(row, "disabled")?,
        // Once the overlap is over the column still holds the time, but no previous secret
        // is valid any more: `None`, as `App` documents.
        previous_secret_expires_at: row
            .try_get::<Option<i64>, _>("previous_secret_expires_at")?
            .filter(|until| *until > now_millis()),
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_keys_are_twenty_url_safe_characters_and_differ() {
        let a = generate_app_key();
        let b = generate_app_key();
        assert_eq!(a.len(), APP_KEY_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
