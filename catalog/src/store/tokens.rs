//! API tokens: how users authenticate to the admin API.
//!
//! A token is `slt_` and 40 URL-safe random characters (240 bits), returned once by
//! [`Store::create_token`]. The store keeps only its SHA-256 (hex, unique), which is also how
//! [`Store::authenticate`] finds it: a fast hash is right for high-entropy random text, and the
//! lookup by hash needs no constant-time comparison. Nothing here logs or stores the text.
//!
//! The bootstrap token (`SLUICE_ADMIN_TOKEN` or the generated one) is registered for the user
//! `admin` by [`Store::ensure_bootstrap_admin`] at every start.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::{user_columns, user_from_prefixed_row};
use super::{Store, StoreError, bump_revision, flag, is_foreign_key_violation, now_millis, require_text};
use crate::model::{ApiToken, User};

/// What every generated token starts with, so a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "slt_";
/// Random bytes in a generated token: 30 bytes are 40 base64 characters.
const TOKEN_RANDOM_BYTES: usize = 30;
/// A token's `last_used_at` is written at most this often (milliseconds).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;
/// The longest token name, in characters.
const MAX_TOKEN_NAME: usize = 64;
/// The user the bootstrap token belongs to, and the name of that token.
const BOOTSTRAP_USER: &str = "admin";
const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap";

/// The columns `token_from_row` reads.
macro_rules! token_columns {
    () => {
        "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked"
    };
}

impl Store {
    /// Creates a token for the user, valid until `expires_at` (milliseconds since the Unix
    /// epoch, in the future) or forever. Returns the token and its text: the only time the text
    /// exists outside the caller.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<(ApiToken, String), StoreError> {
        require_text("token name", name)?;
        if name.chars().count() > MAX_TOKEN_NAME {
            return Err(StoreError::Invalid(format!("a token name has at most {MAX_TOKEN_NAME} characters")));
        }
        let created_at = now_millis();
        if let Some(expires_at) = expires_at
            && expires_at <= created_at
        {
            return Err(StoreError::Invalid("a token's expiry must be in the future".into()));
        }
        let text = generate_token();
        let mut tx = self.pool.begin().await?;
        let token = insert_token(&mut tx, user_id, name, &text, created_at, expires_at).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok((token, text))
    }

    pub async fn token(&self, id: i64) -> Result<ApiToken, StoreError> {
        let row = sqlx::query(concat!("SELECT ", token_columns!(), " FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("token", id))?;
        token_from_row(&row)
    }

    /// The user's tokens, revoked and expired ones included, oldest first; empty for an
    /// unknown user.
    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query(concat!("SELECT ", token_columns!(), " FROM api_tokens WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    /// Revokes a token for good and returns it. Revoking a revoked token changes nothing.
    pub async fn revoke_token(&self, id: i64) -> Result<ApiToken, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE api_tokens SET revoked = 1 WHERE id = $1 AND revoked = 0 RETURNING ",
            token_columns!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return self.token(id).await;
        };
        let token = token_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The user and token that `token_text` proves, or `None` when it is unknown, revoked or
    /// expired at `now_ms`, or its user is disabled. Records `last_used_at` at most once a
    /// minute per token, outside the revision (it changes nothing that is served).
    pub async fn authenticate(&self, token_text: &str, now_ms: i64) -> Result<Option<(User, ApiToken)>, StoreError> {
        if token_text.is_empty() {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked, \
                    u.id AS u_id, u.name AS u_name, u.display_name AS u_display_name, \
                    u.platform_admin AS u_platform_admin, u.disabled AS u_disabled, u.created_at AS u_created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(hash_token(token_text))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut token = token_from_row(&row)?;
        let user = user_from_prefixed_row(&row, "u_")?;
        if !token.is_active(now_ms) || user.disabled {
            return Ok(None);
        }
        if token.last_used_at.is_none_or(|last| now_ms - last >= LAST_USED_RESOLUTION_MS) {
            // Conditional, so several nodes seeing the same token write it once a minute.
            let written = sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 \
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(token.id)
            .bind(now_ms)
            .bind(now_ms - LAST_USED_RESOLUTION_MS)
            .execute(&self.pool)
            .await?;
            if written.rows_affected() > 0 {
                token.last_used_at = Some(now_ms);
            }
        }
        Ok(Some((user, token)))
    }

    /// Makes sure the user `admin` exists (created as an enabled platform admin) and that
    /// `token_text` is registered for it as the token `bootstrap`, without expiry. Idempotent:
    /// run at every start with the configured or generated token. Returns the admin and
    /// whether the token was registered by this call.
    ///
    /// An existing `admin` keeps its flags, and a token already stored keeps its state: a
    /// revoked bootstrap token stays revoked, and a bootstrap token that is replaced by another
    /// stays valid until it is revoked (several nodes may each have generated their own).
    pub async fn ensure_bootstrap_admin(&self, token_text: &str) -> Result<(User, bool), StoreError> {
        require_text("bootstrap token", token_text)?;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let created_user = sqlx::query(
            "INSERT INTO users (name, display_name, platform_admin, disabled, created_at) \
             VALUES ($1, 'Administrator', 1, 0, $2) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(BOOTSTRAP_USER)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE lower(name) = $1"))
            .bind(BOOTSTRAP_USER)
            .fetch_one(&mut *tx)
            .await?;
        let admin = user_from_prefixed_row(&row, "")?;
        let registered = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, NULL, 0) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(admin.id)
        .bind(BOOTSTRAP_TOKEN_NAME)
        .bind(token_prefix(token_text))
        .bind(hash_token(token_text))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if created_user || registered {
            bump_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok((admin, registered))
    }
}

/// Stores a token inside the caller's transaction; `NotFound` when the user does not exist.
async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    name: &str,
    text: &str,
    created_at: i64,
    expires_at: Option<i64>,
) -> Result<ApiToken, StoreError> {
    let prefix = token_prefix(text);
    let row = sqlx::query(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at, revoked) \
         VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(&prefix)
    .bind(hash_token(text))
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| if is_foreign_key_violation(&e) { StoreError::not_found("user", user_id) } else { e.into() })?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id,
        name: name.to_owned(),
        prefix,
        created_at,
        expires_at,
        last_used_at: None,
        revoked: false,
    })
}

/// The SHA-256 of a token's text, as lowercase hex: what the store keeps and looks up.
pub fn hash_token(token_text: &str) -> String {
    hex::encode(Sha256::digest(token_text.as_bytes()))
}

/// The part of a token shown in lists: its first 8 characters, but never more than a quarter
/// of it (a short configured bootstrap token shows little or nothing).
pub fn token_prefix(token_text: &str) -> String {
    let shown = (token_text.chars().count() / 4).min(8);
    token_text.chars().take(shown).collect()
}

fn generate_token() -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; TOKEN_RANDOM_BYTES]>()))
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: flag(row, "revoked")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_url_safe_and_differ() {
        let a = generate_token();
        let b = generate_token();
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 40, "{a}");
        assert!(a.starts_with("slt_"));
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
        assert_ne!(a, b);
        assert_eq!(token_prefix(&a), a[..8]);
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hash_token(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn prefixes_show_at_most_a_quarter() {
        assert_eq!(token_prefix("t0k"), "");
        assert_eq!(token_prefix("abcdefghijkl"), "abc");
        assert_eq!(token_prefix("slc_0123456789abcdef0123456789abcdef"), "slc_0123");
    }
}
