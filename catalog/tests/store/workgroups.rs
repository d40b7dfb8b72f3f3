//! Workgroups and the platform settings (`store/workgroups.rs`).

use catalog::model::WorkgroupRole;
use catalog::store::StoreError;

use crate::{TestDb, assert_conflict, assert_not_found, seeded};

backend_tests!(
    workgroup_names_are_unique,
    workgroups_read_update_and_delete_only_when_empty,
    platform_settings_round_trip_and_bump_the_revision,
);

async fn workgroup_names_are_unique(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "the sales team").await.unwrap();
    assert!(sales.id > 0);
    assert!(sales.created_at > 0);
    let ops = store.create_workgroup("ops", "").await.unwrap();

    assert_conflict(store.create_workgroup("sales", "again").await, "sales");
    assert!(matches!(store.create_workgroup("  ", "").await, Err(StoreError::Invalid(_))));
    assert_eq!(store.workgroup_by_name("sales").await.unwrap(), sales);
    assert_not_found(store.workgroup_by_name("nobody").await, "workgroup");
    assert_eq!(store.list_workgroups().await.unwrap(), vec![sales, ops]);
    store.close().await;
}

async fn workgroups_read_update_and_delete_only_when_empty(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let workgroup = store.workgroup(workgroup_id).await.unwrap();
    assert_eq!(workgroup.name, "sales");
    assert_not_found(store.workgroup(9_999).await, "workgroup");
    let updated = store.update_workgroup(workgroup_id, Some("the sales team"), None).await.unwrap();
    assert_eq!(updated, catalog::model::Workgroup { description: "the sales team".into(), ..workgroup.clone() });
    assert_eq!(store.workgroup(workgroup_id).await.unwrap(), updated);
    assert_not_found(store.update_workgroup(9_999, Some(""), None).await, "workgroup");
    // Settings alone leave the description; each part changes only where given.
    let settings = catalog::model::WorkgroupSettings { publish_approval: true, offline_approval: false };
    let updated = store.update_workgroup(workgroup_id, None, Some(&settings)).await.unwrap();
    assert_eq!((updated.description.as_str(), updated.settings), ("the sales team", settings));
    let updated = store.update_workgroup(workgroup_id, Some("sales"), None).await.unwrap();
    assert_eq!((updated.description.as_str(), updated.settings), ("sales", settings));

    let jane = store.create_user("jane", "", false).await.unwrap();
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Admin).await.unwrap();
    let top = store.create_folder(workgroup_id, None, "top").await.unwrap();
    store.create_folder(workgroup_id, Some(top.id), "inner").await.unwrap();

    let message = assert_conflict(store.delete_workgroup(workgroup_id).await, "datasources");
    assert!(message.contains("1 APIs"), "{message}");
    store.delete_api(api.id).await.unwrap();
    assert_conflict(store.delete_workgroup(workgroup_id).await, "1 datasources");
    store.delete_datasource(datasource.id).await.unwrap();
    let (_, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    assert_conflict(store.delete_workgroup(workgroup_id).await, "apps");
    // (No store call deletes an app yet: start again with a workgroup without one.)
    let empty = store.create_workgroup("empty", "").await.unwrap();
    store.add_member(empty.id, jane.id, WorkgroupRole::Viewer).await.unwrap();
    let a = store.create_folder(empty.id, None, "a").await.unwrap();
    let b = store.create_folder(empty.id, Some(a.id), "b").await.unwrap();
    store.create_folder(empty.id, Some(b.id), "c").await.unwrap();
    store.delete_workgroup(empty.id).await.unwrap();
    assert_not_found(store.workgroup(empty.id).await, "workgroup");
    assert_eq!(store.folders(empty.id).await.unwrap(), vec![]);
    assert_eq!(store.members(empty.id).await.unwrap(), vec![]);
    assert_eq!(store.workgroups_of(jane.id).await.unwrap().len(), 1);
    assert_not_found(store.delete_workgroup(empty.id).await, "workgroup");
    // The name is free again.
    store.create_workgroup("empty", "").await.unwrap();
    store.close().await;
}

async fn platform_settings_round_trip_and_bump_the_revision(db: TestDb) {
    use catalog::model::{DatasetRootSetting, PlatformSettings};
    let store = db.open().await;
    assert_eq!(store.platform_settings().await.unwrap(), PlatformSettings::default());
    let revision = store.revision().await.unwrap();
    let settings = PlatformSettings {
        network_allow: vec!["10.1.0.0/16".into(), "db.internal".into()],
        dataset_roots: vec![DatasetRootSetting { path: "/srv/sales".into(), workgroup: Some("sales".into()) }],
    };
    store.set_platform_settings(&settings).await.unwrap();
    assert_eq!(store.platform_settings().await.unwrap(), settings);
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    // The marker that keeps a store from being anyone's datasource.
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM sluice_store WHERE id = $1", 1).await, 1);
    store.close().await;
}
