//! The audit log: who changed what, appended by the admin layer after each change and read
//! newest first.
//!
//! Entries are bookkeeping: appending one leaves the [revision](Store::revision) alone. They
//! have no foreign keys, so they outlive what they name. Details never hold secrets: values
//! under keys that name one (`password`, `secret`, `token`, …) are masked before storing, as a
//! safety net for callers that pass a whole object along.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, from_json, now_millis, require_text, to_json};
use crate::model::AuditEntry;

/// The most entries one read returns.
pub const MAX_AUDIT_PAGE: u32 = 1000;
/// What a masked detail value becomes.
const MASKED: &str = "***";

/// The columns `entry_from_row` reads.
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, workgroup_id, target, detail_json"
    };
}

impl Store {
    /// Appends an entry (its `id` is ignored; an `at` of 0 means now) and returns it as
    /// stored, with secrets in its detail masked.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<AuditEntry, StoreError> {
        require_text("audit actor", &entry.actor)?;
        require_text("audit action", &entry.action)?;
        let at = if entry.at == 0 { now_millis() } else { entry.at };
        let mut detail = entry.detail.clone();
        mask_secrets(&mut detail);
        let row = sqlx::query(
            "INSERT INTO audit_log (at, actor, action, workgroup_id, target, detail_json) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.workgroup_id)
        .bind(&entry.target)
        .bind(to_json("audit detail", &detail)?)
        .fetch_one(&self.pool)
        .await?;
        Ok(AuditEntry { id: row.try_get("id")?, at, detail, ..entry.clone() })
    }

    /// Entries newest first: of one workgroup or of all (`None`), at most `limit` (capped at
    /// [`MAX_AUDIT_PAGE`]), and only those older than `before_id` when given — pass the last id
    /// of a page to read the next.
    pub async fn audit_log(
        &self,
        workgroup_id: Option<i64>,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::from(limit.min(MAX_AUDIT_PAGE));
        let before_id = before_id.unwrap_or(i64::MAX);
        let rows = match workgroup_id {
            Some(workgroup_id) => {
                sqlx::query(concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_log WHERE workgroup_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ))
                .bind(workgroup_id)
                .bind(before_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(before_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(entry_from_row).collect()
    }
}

/// Whether a detail key names a secret: any key mentioning a password or secret, and the keys
/// `token`, `sealedValue`, `apiKey` and `authorization` (compared without case, `_` or `-`).
/// `tokenId` or `tokenName` are not secrets and stay.
fn names_a_secret(key: &str) -> bool {
    let key: String = key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    key.contains("password")
        || key.contains("secret")
        || matches!(key.as_str(), "token" | "sealedvalue" | "apikey" | "authorization")
}

/// Replaces every value under a key that names a secret with `***`, at any depth.
fn mask_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if names_a_secret(key) && !item.is_null() {
                    *item = serde_json::Value::String(MASKED.to_owned());
                } else {
                    mask_secrets(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let id: i64 = row.try_get("id")?;
    let detail_json: String = row.try_get("detail_json")?;
    Ok(AuditEntry {
        id,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        workgroup_id: row.try_get("workgroup_id")?,
        target: row.try_get("target")?,
        detail: from_json(&format!("detail of audit entry {id}"), &detail_json)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_details_are_masked_at_any_depth() {
        let mut detail = serde_json::json!({
            "name": "warehouse",
            "connection": {"host": "db", "password": "pw", "db_password": "pw2"},
            "appSecret": "s", "token": "slt_x", "tokenName": "ci", "tokenId": 4,
            "constants": [{"name": "k", "sealedValue": "v1:abc", "API-Key": "k3y"}],
            "authorization": null
        });
        mask_secrets(&mut detail);
        let shown = detail.to_string();
        for secret in ["\"pw\"", "pw2", "\"s\"", "slt_x", "v1:abc", "k3y"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(detail["connection"]["host"], "db");
        assert_eq!(detail["tokenName"], "ci");
        assert_eq!(detail["tokenId"], 4);
        assert_eq!(detail["connection"]["password"], MASKED);
        assert_eq!(detail["authorization"], serde_json::Value::Null);
    }
}
