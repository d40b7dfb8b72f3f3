//! Apps: callers' identities, a public key and a secret sealed at rest.
//!
//! The secret is generated here, returned once by [`Store::create_app`] and afterwards only
//! opened by [`Store::app_secret`] for the code that verifies calls.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, bump_revision, is_foreign_key_violation, is_unique_violation, now_millis, require_text,
};
use crate::model::App;

/// Characters in a generated app key: letters and digits only, so it is safe in URLs, headers
/// and shells. 62^20 ≈ 2^119 keys.
const APP_KEY_LEN: usize = 20;
/// Random bytes in an app secret.
const APP_SECRET_BYTES: usize = 32;

/// The columns `app_from_row` reads.
macro_rules! app_columns {
    () => {
        "id, workgroup_id, name, description, app_key, created_at"
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

fn generate_app_key() -> String {
    rand::rng().sample_iter(Alphanumeric).take(APP_KEY_LEN).map(char::from).collect()
}

fn app_from_row(row: &AnyRow) -> Result<App, StoreError> {
    Ok(App {
        id: row.try_get("id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        app_key: row.try_get("app_key")?,
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
