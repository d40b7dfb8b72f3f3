//! The folder tree (`store/folders.rs`): depth and name rules, moving and deleting folders, and
//! APIs placed in folders.

use catalog::model::{Api, Environment, Folder};
use catalog::store::StoreError;

use crate::{TestDb, assert_conflict, assert_invalid, assert_not_found, new_api, seeded, wizard_draft};

backend_tests!(
    folders_nest_at_most_three_levels_with_unique_sibling_names,
    moving_a_folder_moves_its_subtree_within_the_limits,
    deleting_a_folder_moves_its_contents_one_level_up,
    apis_sit_in_folders_of_their_own_workgroup,
);

/// A folder's name and parent, for comparing trees.
fn shape(folders: &[Folder]) -> Vec<(String, Option<String>)> {
    let name_of = |id: i64| folders.iter().find(|f| f.id == id).map(|f| f.name.clone()).unwrap();
    let mut shape: Vec<_> = folders.iter().map(|f| (f.name.clone(), f.parent_id.map(name_of))).collect();
    shape.sort();
    shape
}

fn pairs(items: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    let mut pairs: Vec<_> = items.iter().map(|(n, p)| ((*n).to_owned(), p.map(str::to_owned))).collect();
    pairs.sort();
    pairs
}

async fn folders_nest_at_most_three_levels_with_unique_sibling_names(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();

    let one = store.create_folder(sales.id, None, " reports ").await.unwrap();
    assert!(one.id > 0 && one.created_at > 0);
    assert_eq!((one.workgroup_id, one.parent_id, one.name.as_str()), (sales.id, None, "reports"));
    let two = store.create_folder(sales.id, Some(one.id), "daily").await.unwrap();
    let three = store.create_folder(sales.id, Some(two.id), "eu").await.unwrap();
    assert_eq!(three.parent_id, Some(two.id));
    assert_invalid(store.create_folder(sales.id, Some(three.id), "deeper").await, "folders nest at most three levels");

    // Sibling names are unique, case-sensitively; other parents and workgroups may reuse them.
    assert_conflict(store.create_folder(sales.id, None, "reports").await, "reports");
    assert_conflict(store.create_folder(sales.id, Some(one.id), "daily").await, "daily");
    store.create_folder(sales.id, None, "Reports").await.unwrap();
    store.create_folder(sales.id, Some(two.id), "daily").await.unwrap();
    store.create_folder(ops.id, None, "reports").await.unwrap();

    // The parent must exist and be the workgroup's own.
    assert_not_found(store.create_folder(sales.id, Some(9_999), "x").await, "folder");
    let ops_folder = store.folders(ops.id).await.unwrap()[0].clone();
    assert_invalid(store.create_folder(sales.id, Some(ops_folder.id), "x").await, "another workgroup");
    assert_not_found(store.create_folder(9_999, None, "x").await, "workgroup");
    for bad in ["", "  ", "a/b", &"x".repeat(65)] {
        assert!(matches!(store.create_folder(sales.id, None, bad).await, Err(StoreError::Invalid(_))), "{bad}");
    }

    let folders = store.folders(sales.id).await.unwrap();
    assert_eq!(folders[..3], [one.clone(), two.clone(), three.clone()]);
    assert_eq!(
        shape(&folders),
        pairs(&[
            ("reports", None),
            ("daily", Some("reports")),
            ("eu", Some("daily")),
            ("Reports", None),
            ("daily", Some("daily"))
        ])
    );
    assert_eq!(store.folder(two.id).await.unwrap(), two);
    assert_not_found(store.folder(9_999).await, "folder");
    assert_eq!(store.folders(9_999).await.unwrap(), vec![]);

    // Renaming keeps the place; a sibling's name is refused.
    let renamed = store.rename_folder(two.id, "weekly ").await.unwrap();
    assert_eq!(renamed, Folder { name: "weekly".into(), ..two.clone() });
    store.create_folder(sales.id, Some(one.id), "daily").await.unwrap();
    assert_conflict(store.rename_folder(renamed.id, "daily").await, "daily");
    assert_not_found(store.rename_folder(9_999, "x").await, "folder");
    assert!(matches!(store.rename_folder(one.id, "a/b").await, Err(StoreError::Invalid(_))));
    let serialized = serde_json::to_value(store.folder(three.id).await.unwrap()).unwrap();
    assert_eq!(serialized["parentId"].as_i64(), Some(two.id));
    store.close().await;
}

async fn moving_a_folder_moves_its_subtree_within_the_limits(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    // a ─ b ─ c, d ─ e, f
    let a = store.create_folder(workgroup_id, None, "a").await.unwrap();
    let b = store.create_folder(workgroup_id, Some(a.id), "b").await.unwrap();
    let c = store.create_folder(workgroup_id, Some(b.id), "c").await.unwrap();
    let d = store.create_folder(workgroup_id, None, "d").await.unwrap();
    let e = store.create_folder(workgroup_id, Some(d.id), "e").await.unwrap();
    let f = store.create_folder(workgroup_id, None, "f").await.unwrap();
    let mut in_c = new_api(workgroup_id, "in_c", wizard_draft(datasource.id, "t"));
    in_c.folder_id = Some(c.id);
    let in_c = store.create_api(&in_c).await.unwrap();

    // Into itself or under itself: refused.
    assert_invalid(store.move_folder(a.id, Some(a.id)).await, "itself");
    assert_invalid(store.move_folder(a.id, Some(c.id)).await, "itself");
    // Too deep: b (two levels) under e (level 2) would reach level 4; a under f would too.
    assert_invalid(store.move_folder(b.id, Some(e.id)).await, "folders nest at most three levels");
    assert_invalid(store.move_folder(a.id, Some(f.id)).await, "three levels");
    assert_not_found(store.move_folder(a.id, Some(9_999)).await, "folder");
    assert_not_found(store.move_folder(9_999, None).await, "folder");
    let revision = store.revision().await.unwrap();

    // b with c (and the API in c) moves under d: the whole subtree follows.
    let moved = store.move_folder(b.id, Some(d.id)).await.unwrap();
    assert_eq!(moved, Folder { parent_id: Some(d.id), ..b.clone() });
    assert!(store.revision().await.unwrap() > revision);
    assert_eq!(
        shape(&store.folders(workgroup_id).await.unwrap()),
        pairs(&[("a", None), ("b", Some("d")), ("c", Some("b")), ("d", None), ("e", Some("d")), ("f", None)])
    );
    assert_eq!(store.api(in_c.id).await.unwrap().folder_id, Some(c.id));
    // To the root, and down again.
    store.move_folder(c.id, None).await.unwrap();
    store.move_folder(c.id, Some(e.id)).await.unwrap();
    assert_eq!(store.folder(c.id).await.unwrap().parent_id, Some(e.id));
    // Moving where it already is changes nothing.
    let revision = store.revision().await.unwrap();
    assert_eq!(store.move_folder(c.id, Some(e.id)).await.unwrap().parent_id, Some(e.id));
    assert_eq!(store.revision().await.unwrap(), revision);

    // A name taken at the destination is refused, and so is another workgroup's folder.
    store.create_folder(workgroup_id, Some(a.id), "e").await.unwrap();
    assert_conflict(store.move_folder(e.id, Some(a.id)).await, "`e`");
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let foreign = store.create_folder(ops.id, None, "x").await.unwrap();
    assert_invalid(store.move_folder(f.id, Some(foreign.id)).await, "another workgroup");
    assert_eq!(store.folder(f.id).await.unwrap(), f);
    store.close().await;
}

async fn deleting_a_folder_moves_its_contents_one_level_up(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, root_api) = seeded(&store).await;
    // a ─ b ─ {c, "b"}, with APIs in a, b and c.
    let a = store.create_folder(workgroup_id, None, "a").await.unwrap();
    let b = store.create_folder(workgroup_id, Some(a.id), "b").await.unwrap();
    let c = store.create_folder(workgroup_id, Some(b.id), "c").await.unwrap();
    let b_in_b = store.create_folder(workgroup_id, Some(b.id), "b").await.unwrap();
    let mut apis = Vec::new();
    for (name, folder) in [("in_a", a.id), ("in_b", b.id), ("in_c", c.id)] {
        let mut api = new_api(workgroup_id, name, wizard_draft(datasource.id, "t"));
        api.folder_id = Some(folder);
        apis.push(store.create_api(&api).await.unwrap());
    }

    // Deleting b lifts c, the inner "b" (its own name is freed first) and the API in b into a.
    store.delete_folder(b.id).await.unwrap();
    assert_not_found(store.folder(b.id).await, "folder");
    assert_eq!(
        shape(&store.folders(workgroup_id).await.unwrap()),
        pairs(&[("a", None), ("b", Some("a")), ("c", Some("a"))])
    );
    assert_eq!(store.folder(b_in_b.id).await.unwrap().parent_id, Some(a.id));
    assert_eq!(store.api(apis[1].id).await.unwrap().folder_id, Some(a.id));
    assert_eq!(store.api(apis[2].id).await.unwrap().folder_id, Some(c.id));

    // A child whose name is taken one level up: refused, nothing changes.
    store.create_folder(workgroup_id, None, "c").await.unwrap();
    let before = store.folders(workgroup_id).await.unwrap();
    let revision = store.revision().await.unwrap();
    assert_conflict(store.delete_folder(a.id).await, "`c`");
    assert_eq!(store.folders(workgroup_id).await.unwrap(), before);
    assert_eq!(store.revision().await.unwrap(), revision);

    // Rename the clash away, then deleting a lifts everything to the root.
    store.rename_folder(c.id, "c2").await.unwrap();
    store.delete_folder(a.id).await.unwrap();
    assert_eq!(shape(&store.folders(workgroup_id).await.unwrap()), pairs(&[("b", None), ("c", None), ("c2", None)]));
    assert_eq!(store.api(apis[0].id).await.unwrap().folder_id, None);
    assert_eq!(store.api(apis[1].id).await.unwrap().folder_id, None);
    assert_eq!(store.api(apis[2].id).await.unwrap().folder_id, Some(c.id));
    assert_eq!(store.api(root_api.id).await.unwrap().folder_id, None);

    // An empty folder just goes.
    store.delete_folder(b_in_b.id).await.unwrap();
    assert_not_found(store.delete_folder(b_in_b.id).await, "folder");
    assert_eq!(store.folders(workgroup_id).await.unwrap().len(), 2);
    store.close().await;
}

async fn apis_sit_in_folders_of_their_own_workgroup(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert_eq!(api.folder_id, None);
    let reports = store.create_folder(workgroup_id, None, "reports").await.unwrap();
    let daily = store.create_folder(workgroup_id, Some(reports.id), "daily").await.unwrap();

    let moved = store.move_api(api.id, Some(daily.id)).await.unwrap();
    assert_eq!(moved.folder_id, Some(daily.id));
    assert_eq!(store.api(api.id).await.unwrap(), moved);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![moved.clone()]);
    assert_eq!(serde_json::to_value(&moved).unwrap()["folderId"].as_i64(), Some(daily.id));
    // update_api leaves the folder alone, whatever it is given.
    let updated = store.update_api(&Api { description: "x".into(), folder_id: None, ..moved.clone() }).await.unwrap();
    assert_eq!(updated.folder_id, Some(daily.id));
    // Saving, publishing and serving carry the folder along.
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    assert_eq!(store.published(Environment::Prod).await.unwrap()[0].api.folder_id, Some(daily.id));

    let back = store.move_api(api.id, None).await.unwrap();
    assert_eq!(back.folder_id, None);

    let ops = store.create_workgroup("ops", "").await.unwrap();
    let foreign = store.create_folder(ops.id, None, "x").await.unwrap();
    assert_invalid(store.move_api(api.id, Some(foreign.id)).await, "another workgroup");
    assert_not_found(store.move_api(api.id, Some(9_999)).await, "folder");
    assert_not_found(store.move_api(9_999, None).await, "API");

    // Created straight into a folder, which must be the workgroup's.
    let mut placed = new_api(workgroup_id, "placed", wizard_draft(datasource.id, "t"));
    placed.folder_id = Some(reports.id);
    let placed = store.create_api(&placed).await.unwrap();
    assert_eq!(store.api(placed.id).await.unwrap().folder_id, Some(reports.id));
    let mut astray = new_api(workgroup_id, "astray", wizard_draft(datasource.id, "t"));
    astray.folder_id = Some(foreign.id);
    assert_invalid(store.create_api(&astray).await, "another workgroup");
    astray.folder_id = Some(9_999);
    assert_not_found(store.create_api(&astray).await, "folder");
    astray.workgroup_id = 9_999;
    assert_not_found(store.create_api(&astray).await, "workgroup");
    let db_value = db.raw_count("SELECT COUNT(*) FROM apis WHERE folder_id = $1", reports.id).await;
    assert_eq!(db_value, 1);
    store.close().await;
}
