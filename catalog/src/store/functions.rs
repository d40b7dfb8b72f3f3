//! Each workgroup's function library: Python functions (`def handler(event, context)`) that
//! workflows of the workgroup call by name (issue 17).
//!
//! The rules: names follow the node-id rule ([`check_function_name`]) and are unique in their
//! workgroup (a unique index enforces it); a name never changes. A function cannot be deleted
//! while a workflow draft of its workgroup calls it without carrying its own source (versions
//! are unaffected: saving a version copies the sources it calls into it, see
//! [`Store::save_checked_version`] and `library_sources`). Whether a source compiles is the
//! sandbox's business, checked by the management API before it gets here.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Store, StoreError, apis::read_definition, bump_revision, is_foreign_key_violation, is_unique_violation,
    lock_workgroup, now_millis, require_text,
};
use crate::model::{ApiDefinition, ApiMode, LibraryFunction, WorkflowSpec, check_function_name, source_digest};

/// The largest source kept, in bytes: the sandbox refuses larger ones.
pub const MAX_FUNCTION_SOURCE: usize = 64 * 1024;
/// The longest description, in characters.
const MAX_FUNCTION_DESCRIPTION: usize = 1024;

/// The columns `function_from_row` reads.
macro_rules! function_columns {
    () => {
        "id, workgroup_id, name, description, source, digest, created_at, updated_at"
    };
}

impl Store {
    /// Adds `function` (its id, digest and times are set here) to its workgroup's library.
    /// `Invalid` for a bad name, an empty or too large source; `Conflict` when the workgroup
    /// has a function of that name; `NotFound` for a missing workgroup.
    pub async fn create_function(&self, function: &LibraryFunction) -> Result<LibraryFunction, StoreError> {
        check_function_name(&function.name).map_err(StoreError::Invalid)?;
        check_content(&function.description, &function.source)?;
        let now = now_millis();
        let digest = source_digest(&function.source);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO functions (workgroup_id, name, description, source, digest, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(function.workgroup_id)
        .bind(&function.name)
        .bind(&function.description)
        .bind(&function.source)
        .bind(&digest)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("the workgroup already has a function named `{}`", function.name))
            } else if is_foreign_key_violation(&e) {
                StoreError::not_found("workgroup", function.workgroup_id)
            } else {
                e.into()
            }
        })?;
        let created =
            LibraryFunction { id: row.try_get("id")?, digest, created_at: now, updated_at: now, ..function.clone() };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The workgroup's function `name`; `NotFound` when it has none (whatever other
    /// workgroups have).
    pub async fn function(&self, workgroup_id: i64, name: &str) -> Result<LibraryFunction, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            function_columns!(),
            " FROM functions WHERE workgroup_id = $1 AND name = $2"
        ))
        .bind(workgroup_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("function", format!("`{name}`")))?;
        function_from_row(&row)
    }

    /// The workgroup's library, by name; empty for an unknown workgroup.
    pub async fn functions(&self, workgroup_id: i64) -> Result<Vec<LibraryFunction>, StoreError> {
        sqlx::query(concat!("SELECT ", function_columns!(), " FROM functions WHERE workgroup_id = $1 ORDER BY name"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(function_from_row)
            .collect()
    }

    /// Replaces the description and source of the workgroup's function `name`. Drafts calling
    /// it run the new source from now on; saved versions keep the one they copied.
    pub async fn update_function(
        &self,
        workgroup_id: i64,
        name: &str,
        description: &str,
        source: &str,
    ) -> Result<LibraryFunction, StoreError> {
        check_content(description, source)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE functions SET description = $3, source = $4, digest = $5, updated_at = $6 \
             WHERE workgroup_id = $1 AND name = $2 RETURNING ",
            function_columns!()
        ))
        .bind(workgroup_id)
        .bind(name)
        .bind(description)
        .bind(source)
        .bind(source_digest(source))
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("function", format!("`{name}`")))?;
        let function = function_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(function)
    }

    /// Deletes the workgroup's function `name`. `Conflict`, naming the APIs, while a workflow
    /// draft of the workgroup calls it without carrying its own source; saved versions do not
    /// count (they carry copies). The check and the delete hold the workgroup's lock.
    pub async fn delete_function(&self, workgroup_id: i64, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, workgroup_id).await?;
        let users = drafts_calling(&mut tx, workgroup_id, name).await?;
        if !users.is_empty() {
            let names: Vec<String> = users.iter().map(|n| format!("`{n}`")).collect();
            return Err(StoreError::Conflict(format!(
                "function `{name}` is called by the draft of API {}: remove those nodes, or write the source \
                 into the workflow's `functions`, first",
                names.join(", ")
            )));
        }
        let deleted = sqlx::query("DELETE FROM functions WHERE workgroup_id = $1 AND name = $2")
            .bind(workgroup_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("function", format!("`{name}`")));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The names of the workgroup's APIs whose draft calls library function `name` (without
    /// carrying its source), by name.
    pub async fn drafts_calling_function(&self, workgroup_id: i64, name: &str) -> Result<Vec<String>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        drafts_calling(&mut connection, workgroup_id, name).await
    }
}

/// Description and source within bounds.
fn check_content(description: &str, source: &str) -> Result<(), StoreError> {
    require_text("function source", source)?;
    if source.len() > MAX_FUNCTION_SOURCE {
        return Err(StoreError::Invalid(format!(
            "a function's source is at most {} KiB; this one is {} bytes",
            MAX_FUNCTION_SOURCE / 1024,
            source.len()
        )));
    }
    if description.chars().count() > MAX_FUNCTION_DESCRIPTION {
        return Err(StoreError::Invalid(format!(
            "a function's description is at most {MAX_FUNCTION_DESCRIPTION} characters"
        )));
    }
    Ok(())
}

/// See [`Store::drafts_calling_function`]; on the caller's connection.
async fn drafts_calling(
    connection: &mut sqlx::AnyConnection,
    workgroup_id: i64,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    // The pattern only narrows what is read (names hold no `%`; `_` matches more, not less);
    // the definitions decide.
    let rows =
        sqlx::query("SELECT name, draft_json FROM apis WHERE workgroup_id = $1 AND draft_json LIKE $2 ORDER BY name")
            .bind(workgroup_id)
            .bind(format!("%{name}%"))
            .fetch_all(&mut *connection)
            .await?;
    let mut users = Vec::new();
    for row in &rows {
        let api: String = row.try_get("name")?;
        let definition = read_definition(&format!("draft of API `{api}`"), &row.try_get::<String, _>("draft_json")?)?;
        if let ApiMode::Workflow(spec) = &definition.mode
            && spec.library_names().contains(&name)
        {
            users.push(api);
        }
    }
    Ok(users)
}

/// Refuses a workflow draft that calls a library function its workgroup does not have,
/// checked under the workgroup's lock: [`Store::delete_function`] takes the same lock, so a
/// function cannot be deleted between this check and the draft's write. The management API
/// checks first and names the node; this is the backstop for a delete racing the save.
pub(super) async fn require_library_functions(
    connection: &mut sqlx::AnyConnection,
    workgroup_id: i64,
    draft: &ApiDefinition,
) -> Result<(), StoreError> {
    let ApiMode::Workflow(spec) = &draft.mode else { return Ok(()) };
    if spec.library_names().is_empty() {
        return Ok(());
    }
    lock_workgroup(&mut *connection, workgroup_id).await?;
    with_library_sources(connection, workgroup_id, spec).await.map(drop)
}

/// `spec` with the source of every library function it calls filled in, read on the caller's
/// connection (inside a version's transaction, the version copies what the library holds at
/// that moment); `Invalid`, naming the node's field, for a function the library lacks.
pub(super) async fn with_library_sources(
    connection: &mut sqlx::AnyConnection,
    workgroup_id: i64,
    spec: &WorkflowSpec,
) -> Result<WorkflowSpec, StoreError> {
    let library = library_sources(connection, workgroup_id, &spec.library_names()).await?;
    spec.resolved(|name| library.get(name).cloned())
        .map_err(|missing| StoreError::Invalid(format!("draft.{}: {}", missing.field(), missing.message())))
}

/// The sources of the workgroup's library functions named, by name.
async fn library_sources(
    connection: &mut sqlx::AnyConnection,
    workgroup_id: i64,
    names: &[&str],
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut sources = BTreeMap::new();
    for name in names {
        let row = sqlx::query("SELECT source FROM functions WHERE workgroup_id = $1 AND name = $2")
            .bind(workgroup_id)
            .bind(*name)
            .fetch_optional(&mut *connection)
            .await?;
        if let Some(row) = row {
            sources.insert((*name).to_owned(), row.try_get("source")?);
        }
    }
    Ok(sources)
}

fn function_from_row(row: &AnyRow) -> Result<LibraryFunction, StoreError> {
    Ok(LibraryFunction {
        id: row.try_get("id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        digest: row.try_get("digest")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
