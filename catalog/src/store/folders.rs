//! Folders: each workgroup's tree for organising APIs.
//!
//! The rules: at most [`MAX_FOLDER_DEPTH`] levels under the root (a folder directly under the
//! root is at depth 1); sibling names unique, compared case-sensitively like API and datasource
//! names (a unique index enforces it, the root counting as parent 0); a folder's parent is in
//! its own workgroup. Moving a folder moves everything under it. Deleting a folder moves its
//! child folders and APIs one level up, to its parent or the root.
//!
//! Writes that depend on the shape of the tree (create, move, delete, putting an API in a
//! folder) lock the workgroup's row first, read the tree and check it in memory, so concurrent
//! changes to one workgroup's tree queue instead of racing past each other's checks.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, bump_revision, is_unique_violation, lock_workgroup, now_millis};
use crate::model::Folder;

/// How deep folders nest under a workgroup's root.
pub const MAX_FOLDER_DEPTH: usize = 3;
/// The longest folder name, in characters.
const MAX_FOLDER_NAME: usize = 64;

/// The columns `folder_from_row` reads.
macro_rules! folder_columns {
    () => {
        "id, workgroup_id, parent_id, name, created_at"
    };
}

impl Store {
    /// Creates a folder under `parent_id` (`None`: the root). The name is stored trimmed.
    /// `Invalid` when the folder would be deeper than three levels or the parent is in another
    /// workgroup, `Conflict` when a sibling has the name, `NotFound` for a missing workgroup or
    /// parent.
    pub async fn create_folder(
        &self,
        workgroup_id: i64,
        parent_id: Option<i64>,
        name: &str,
    ) -> Result<Folder, StoreError> {
        let name = folder_name(name)?;
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, workgroup_id).await?;
        let tree = Tree::load(&mut tx, workgroup_id).await?;
        let parent_depth = match parent_id {
            None => 0,
            Some(parent) => {
                tree.require(&mut tx, parent, workgroup_id).await?;
                tree.depth(parent)
            }
        };
        if parent_depth + 1 > MAX_FOLDER_DEPTH {
            return Err(too_deep(&format!("`{name}` would be at level {}", parent_depth + 1)));
        }
        if tree.sibling_named(parent_id, &name, None).is_some() {
            return Err(name_taken(&name));
        }
        let created_at = now_millis();
        let row = sqlx::query(
            "INSERT INTO folders (workgroup_id, parent_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(workgroup_id)
        .bind(parent_id)
        .bind(&name)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { name_taken(&name) } else { e.into() })?;
        let folder = Folder { id: row.try_get("id")?, workgroup_id, parent_id, name, created_at };
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(folder)
    }

    pub async fn folder(&self, id: i64) -> Result<Folder, StoreError> {
        let row = sqlx::query(concat!("SELECT ", folder_columns!(), " FROM folders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("folder", id))?;
        folder_from_row(&row)
    }

    /// Every folder of the workgroup as a flat list with parent ids, oldest first; empty for an
    /// unknown workgroup.
    pub async fn folders(&self, workgroup_id: i64) -> Result<Vec<Folder>, StoreError> {
        sqlx::query(concat!("SELECT ", folder_columns!(), " FROM folders WHERE workgroup_id = $1 ORDER BY id"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(folder_from_row)
            .collect()
    }

    /// Renames a folder (the name stored trimmed); `Conflict` when a sibling has the name.
    pub async fn rename_folder(&self, id: i64, name: &str) -> Result<Folder, StoreError> {
        let name = folder_name(name)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!("UPDATE folders SET name = $2 WHERE id = $1 RETURNING ", folder_columns!()))
            .bind(id)
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { name_taken(&name) } else { e.into() })?
            .ok_or_else(|| StoreError::not_found("folder", id))?;
        let folder = folder_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(folder)
    }

    /// Moves a folder, with every folder and API under it, to `new_parent` (`None`: the root)
    /// in the same workgroup. `Invalid` when the new parent is the folder itself or under it,
    /// or when the deepest folder moved would be deeper than three levels; `Conflict` when a
    /// folder there has the same name. Moving to the current parent changes nothing.
    pub async fn move_folder(&self, id: i64, new_parent: Option<i64>) -> Result<Folder, StoreError> {
        let workgroup_id = self.folder(id).await?.workgroup_id;
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, workgroup_id).await?;
        let tree = Tree::load(&mut tx, workgroup_id).await?;
        let node = tree.nodes.get(&id).ok_or_else(|| StoreError::not_found("folder", id))?;
        if node.parent == new_parent {
            let row = sqlx::query(concat!("SELECT ", folder_columns!(), " FROM folders WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            // Dropping `tx` rolls back the lock's no-op write: nothing changed.
            return folder_from_row(&row);
        }
        let parent_depth = match new_parent {
            None => 0,
            Some(parent) => {
                tree.require(&mut tx, parent, workgroup_id).await?;
                if tree.is_within(parent, id) {
                    return Err(StoreError::Invalid(format!(
                        "folder `{}` cannot move into itself or a folder under it",
                        node.name
                    )));
                }
                tree.depth(parent)
            }
        };
        let deepest = parent_depth + tree.height(id);
        if deepest > MAX_FOLDER_DEPTH {
            return Err(too_deep(&format!("moving `{}` there would put a folder at level {deepest}", node.name)));
        }
        if tree.sibling_named(new_parent, &node.name, Some(id)).is_some() {
            return Err(name_taken(&node.name));
        }
        let row = sqlx::query(concat!("UPDATE folders SET parent_id = $2 WHERE id = $1 RETURNING ", folder_columns!()))
            .bind(id)
            .bind(new_parent)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { name_taken(&node.name) } else { e.into() })?;
        let folder = folder_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(folder)
    }

    /// Deletes a folder. Its child folders and APIs move one level up, to its parent or the
    /// root; `Conflict` (and nothing changes) when a child folder's name is taken there.
    pub async fn delete_folder(&self, id: i64) -> Result<(), StoreError> {
        let workgroup_id = self.folder(id).await?.workgroup_id;
        let mut tx = self.pool.begin().await?;
        lock_workgroup(&mut tx, workgroup_id).await?;
        let tree = Tree::load(&mut tx, workgroup_id).await?;
        let node = tree.nodes.get(&id).ok_or_else(|| StoreError::not_found("folder", id))?;
        let children: Vec<(i64, &Node)> = tree.children(Some(id)).collect();
        for (_, child) in &children {
            if tree.sibling_named(node.parent, &child.name, Some(id)).is_some() {
                return Err(StoreError::Conflict(format!(
                    "folder `{}` cannot be deleted: its folder `{}` would move up next to another `{}`",
                    node.name, child.name, child.name
                )));
            }
        }
        if !children.is_empty() {
            // A child may have the deleted folder's own name: free it first. Valid names never
            // contain `/`, so the placeholder clashes with nothing.
            sqlx::query("UPDATE folders SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(format!("/deleting/{id}"))
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE folders SET parent_id = $2 WHERE parent_id = $1")
                .bind(id)
                .bind(node.parent)
                .execute(&mut *tx)
                .await
                .map_err(|e| if is_unique_violation(&e) { name_taken(&node.name) } else { e.into() })?;
        }
        sqlx::query("UPDATE apis SET folder_id = $2 WHERE folder_id = $1")
            .bind(id)
            .bind(node.parent)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM folders WHERE id = $1").bind(id).execute(&mut *tx).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Checks, inside a transaction that has locked `workgroup_id`, that folder `folder_id` exists
/// in that workgroup: `NotFound` when it does not exist, `Invalid` when it is another's.
pub(super) async fn require_folder_in(
    connection: &mut sqlx::AnyConnection,
    folder_id: i64,
    workgroup_id: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT workgroup_id FROM folders WHERE id = $1")
        .bind(folder_id)
        .fetch_optional(connection)
        .await?
        .ok_or_else(|| StoreError::not_found("folder", folder_id))?;
    let owner: i64 = row.try_get("workgroup_id")?;
    if owner != workgroup_id {
        return Err(StoreError::Invalid(format!("folder {folder_id} belongs to another workgroup")));
    }
    Ok(())
}

/// A trimmed folder name: 1 to 64 characters, no `/` and no control characters.
fn folder_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_FOLDER_NAME {
        return Err(StoreError::Invalid(format!("a folder name has 1 to {MAX_FOLDER_NAME} characters")));
    }
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return Err(StoreError::Invalid(format!("folder name `{name}` has `/` or a control character")));
    }
    Ok(name.to_owned())
}

fn too_deep(what: &str) -> StoreError {
    StoreError::Invalid(format!("folders nest at most three levels: {what}"))
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("a folder named `{name}` already exists there"))
}

fn folder_from_row(row: &AnyRow) -> Result<Folder, StoreError> {
    Ok(Folder {
        id: row.try_get("id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        parent_id: row.try_get("parent_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

#[derive(Debug)]
struct Node {
    parent: Option<i64>,
    name: String,
}

/// One workgroup's folders, read inside the transaction that changes them.
#[derive(Debug, Default)]
struct Tree {
    nodes: HashMap<i64, Node>,
}

impl Tree {
    async fn load(connection: &mut sqlx::AnyConnection, workgroup_id: i64) -> Result<Tree, StoreError> {
        let rows = sqlx::query("SELECT id, parent_id, name FROM folders WHERE workgroup_id = $1")
            .bind(workgroup_id)
            .fetch_all(connection)
            .await?;
        let mut nodes = HashMap::with_capacity(rows.len());
        for row in &rows {
            nodes.insert(row.try_get("id")?, Node { parent: row.try_get("parent_id")?, name: row.try_get("name")? });
        }
        Ok(Tree { nodes })
    }

    /// `NotFound` or `Invalid` (another workgroup's) unless `id` is in this tree.
    async fn require(
        &self,
        connection: &mut sqlx::AnyConnection,
        id: i64,
        workgroup_id: i64,
    ) -> Result<(), StoreError> {
        if self.nodes.contains_key(&id) { Ok(()) } else { require_folder_in(connection, id, workgroup_id).await }
    }

    /// The folder's level: 1 directly under the root. Stops on a cycle (a corrupt tree) rather
    /// than looping.
    fn depth(&self, id: i64) -> usize {
        let mut depth = 0;
        let mut current = Some(id);
        while let Some(at) = current {
            depth += 1;
            if depth > self.nodes.len() {
                break;
            }
            current = self.nodes.get(&at).and_then(|node| node.parent);
        }
        depth
    }

    /// Levels in the subtree rooted at `id`: 1 for a folder without subfolders.
    fn height(&self, id: i64) -> usize {
        self.height_within(id, self.nodes.len())
    }

    fn height_within(&self, id: i64, budget: usize) -> usize {
        if budget == 0 {
            return 1;
        }
        1 + self.children(Some(id)).map(|(child, _)| self.height_within(child, budget - 1)).max().unwrap_or(0)
    }

    /// Whether `id` is `ancestor` or somewhere under it.
    fn is_within(&self, id: i64, ancestor: i64) -> bool {
        let mut current = Some(id);
        for _ in 0..=self.nodes.len() {
            match current {
                Some(at) if at == ancestor => return true,
                Some(at) => current = self.nodes.get(&at).and_then(|node| node.parent),
                None => return false,
            }
        }
        false
    }

    fn children(&self, parent: Option<i64>) -> impl Iterator<Item = (i64, &Node)> {
        self.nodes.iter().filter(move |(_, node)| node.parent == parent).map(|(id, node)| (*id, node))
    }

    /// A folder under `parent` named `name`, other than `except`.
    fn sibling_named(&self, parent: Option<i64>, name: &str, except: Option<i64>) -> Option<i64> {
        self.children(parent).find(|(id, node)| Some(*id) != except && node.name == name).map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 ─ 2 ─ 3, 1 ─ 4, 5 (ids; parents as drawn).
    fn tree() -> Tree {
        let mut nodes = HashMap::new();
        for (id, parent, name) in
            [(1, None, "a"), (2, Some(1), "b"), (3, Some(2), "c"), (4, Some(1), "d"), (5, None, "e")]
        {
            nodes.insert(id, Node { parent, name: name.to_owned() });
        }
        Tree { nodes }
    }

    #[test]
    fn depth_and_height_count_levels() {
        let tree = tree();
        assert_eq!([1, 2, 3, 4, 5].map(|id| tree.depth(id)), [1, 2, 3, 2, 1]);
        assert_eq!([1, 2, 3, 4, 5].map(|id| tree.height(id)), [3, 2, 1, 1, 1]);
    }

    #[test]
    fn within_means_itself_or_under_it() {
        let tree = tree();
        assert!(tree.is_within(3, 1) && tree.is_within(1, 1) && tree.is_within(4, 1));
        assert!(!tree.is_within(1, 3) && !tree.is_within(5, 1));
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let mut nodes = HashMap::new();
        nodes.insert(1, Node { parent: Some(2), name: "x".into() });
        nodes.insert(2, Node { parent: Some(1), name: "y".into() });
        let tree = Tree { nodes };
        assert!(tree.depth(1) > 0 && tree.height(1) > 0);
        assert!(!tree.is_within(1, 9));
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(folder_name("  reports ").unwrap(), "reports");
        assert_eq!(folder_name("销售 API").unwrap(), "销售 API");
        for bad in ["", "   ", "a/b", "tab\there", &"x".repeat(65)] {
            assert!(matches!(folder_name(bad), Err(StoreError::Invalid(_))), "{bad:?}");
        }
    }
}
