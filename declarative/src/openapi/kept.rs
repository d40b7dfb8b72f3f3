//! What a re-import leaves alone: an existing API whose draft is no longer the last version
//! `apply` (or an import) saved of it was changed by someone since — in the console or over
//! the management API — and a re-import keeps it whole unless asked to overwrite. An API the
//! import never saved a version of (registered by hand under the same name) is kept too.
//!
//! Drafts and versions are compared as reads return them, constants without their values: a
//! credential changed by hand is not told apart (a re-import over the management API brings
//! its credentials anyway).

use catalog::model::Api;
use catalog::store::{Store, StoreError};

use super::super::apply::APPLIED_VERSION;
use super::super::{ApiSpec, Sourced};
use super::diff::{OperationDiff, diff, keep_validation_off};

/// What a re-import does to the workgroup's existing APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reimport {
    /// How the APIs it changes change for their callers (kept APIs left out).
    pub changes: Vec<OperationDiff>,
    /// APIs changed by hand since their import: kept, or replaced when `overwritten`.
    pub edited: Vec<HandEdited>,
    pub overwritten: bool,
}

/// Prepares `imported` for apply over the workgroup's `existing` APIs: validation a user
/// switched off stays off, APIs changed by hand leave the bundle unless `overwrite`, and the
/// changes the rest make are listed (compared before kept APIs leave: they are not gone from
/// the document).
pub async fn reimport(
    store: &Store,
    existing: &[Api],
    imported: &mut Vec<Sourced<ApiSpec>>,
    overwrite: bool,
) -> Result<Reimport, StoreError> {
    keep_validation_off(existing, imported);
    let edited = hand_edited(store, existing, imported).await?;
    let mut changes = diff(existing, imported);
    if !overwrite {
        imported.retain(|sourced| !edited.iter().any(|k| k.name == sourced.spec.name));
        changes.retain(|change| !edited.iter().any(|k| k.name == change.name));
    }
    Ok(Reimport { changes, edited, overwritten: overwrite })
}

/// An existing API a re-import would replace, and why it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandEdited {
    pub name: String,
    /// The last version an import saved of it; `None`: it never saved one.
    pub imported_version: Option<i64>,
}

impl HandEdited {
    /// Why the API is kept, for the report.
    pub fn reason(&self) -> String {
        match self.imported_version {
            Some(version) => format!("its draft was changed after V{version} was imported"),
            None => "it was not created by an import".to_owned(),
        }
    }
}

/// The APIs among `imported` that exist in `existing` (the workgroup's) and were changed since
/// their last import, or never imported.
async fn hand_edited(
    store: &Store,
    existing: &[Api],
    imported: &[Sourced<ApiSpec>],
) -> Result<Vec<HandEdited>, StoreError> {
    let mut kept = Vec::new();
    for sourced in imported {
        let Some(api) = existing.iter().find(|a| a.name == sourced.spec.name) else { continue };
        let versions = store.list_versions(api.id).await?;
        let last_import = versions.iter().rev().find(|v| v.description.starts_with(APPLIED_VERSION));
        match last_import {
            Some(version) if version.definition == api.draft => {}
            Some(version) => kept.push(HandEdited { name: api.name.clone(), imported_version: Some(version.number) }),
            None => kept.push(HandEdited { name: api.name.clone(), imported_version: None }),
        }
    }
    Ok(kept)
}
