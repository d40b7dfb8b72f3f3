//! Datasources (`store/datasources.rs`): unique names, passwords sealed at rest, and no deleting
//! one that an API still reads.

use catalog::model::Datasource;
use catalog::secret::SecretBox;
use catalog::store::{Store, StoreError};

use crate::{TestDb, assert_conflict, assert_not_found, postgres_datasource, seeded, wizard_draft};

backend_tests!(
    passwords_are_sealed_at_rest_and_never_read_back,
    updating_a_datasource_keeps_or_replaces_its_password,
    another_key_cannot_open_stored_passwords,
    datasource_names_are_unique_per_workgroup,
    a_datasource_in_use_cannot_be_deleted,
);

async fn passwords_are_sealed_at_rest_and_never_read_back(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let input = postgres_datasource(workgroup.id, "warehouse", Some("s3cret-Pa55"));
    let created = store.create_datasource(&input).await.unwrap();

    assert!(created.id > 0);
    assert_eq!(created.connection.password, None);
    assert_eq!(created, Datasource { id: created.id, ..input.redacted() });
    assert_eq!(store.datasource(created.id).await.unwrap(), created);
    assert_eq!(store.list_datasources(workgroup.id).await.unwrap(), vec![created.clone()]);
    let serialized = serde_json::to_string(&store.datasource(created.id).await.unwrap()).unwrap();
    assert!(!serialized.contains("s3cret"), "{serialized}");

    let sealed = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!sealed.contains("s3cret-Pa55"), "{sealed}");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    assert_eq!(db.secrets().open(&sealed).unwrap(), "s3cret-Pa55");
    let settings = db.raw_text("SELECT settings_json FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!settings.contains("s3cret"), "{settings}");

    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret, Datasource { id: created.id, ..input });

    // No password at all is stored as NULL and read back as None.
    let open = store.create_datasource(&postgres_datasource(workgroup.id, "open", None)).await.unwrap();
    let raw = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", open.id).await;
    assert_eq!(raw, None);
    assert_eq!(store.datasource_with_secret(open.id).await.unwrap().connection.password, None);
    store.close().await;
}

async fn updating_a_datasource_keeps_or_replaces_its_password(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let created =
        store.create_datasource(&postgres_datasource(workgroup.id, "warehouse", Some("old-pw"))).await.unwrap();
    let sealed_before = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await;

    // `None` keeps the stored password; everything else is replaced.
    let mut edited = created.clone();
    edited.name = "warehouse-eu".into();
    edited.description = "moved".into();
    edited.connection.host = "eu.db.internal".into();
    let updated = store.update_datasource(&edited).await.unwrap();
    assert_eq!(updated, edited);
    assert_eq!(store.datasource(created.id).await.unwrap(), edited);
    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret.connection.password.as_deref(), Some("old-pw"));
    assert_eq!(db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await, sealed_before);

    // `Some` replaces it, and the new one is sealed too.
    edited.connection.password = Some("new-pw".into());
    let updated = store.update_datasource(&edited).await.unwrap();
    assert_eq!(updated.connection.password, None);
    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret.connection.password.as_deref(), Some("new-pw"));
    let sealed_after = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!sealed_after.contains("new-pw"));
    assert_ne!(Some(sealed_after), sealed_before);

    // The workgroup is not something an update moves.
    let mut moved = edited.clone();
    moved.workgroup_id = workgroup.id + 100;
    let updated = store.update_datasource(&moved).await.unwrap();
    assert_eq!(updated.workgroup_id, workgroup.id);

    let other = store.create_datasource(&postgres_datasource(workgroup.id, "other", None)).await.unwrap();
    let mut clash = other.clone();
    clash.name = "warehouse-eu".into();
    assert_conflict(store.update_datasource(&clash).await, "warehouse-eu");
    assert_eq!(store.datasource(other.id).await.unwrap().name, "other");

    let mut ghost = edited.clone();
    ghost.id = 9_999;
    assert_not_found(store.update_datasource(&ghost).await, "datasource");
    store.close().await;
}

async fn another_key_cannot_open_stored_passwords(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, _) = seeded(&store).await;
    store.close().await;

    let other_key = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open(&db.url, other_key).await.unwrap();
    // Redacted reads do not need the key; opening the password does, and fails cleanly.
    assert_eq!(store.datasource(datasource.id).await.unwrap(), datasource);
    match store.datasource_with_secret(datasource.id).await {
        Err(StoreError::Secret(_)) => {}
        other => panic!("expected a secret error, got {other:?}"),
    }
    store.close().await;
}

async fn datasource_names_are_unique_per_workgroup(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    store.create_datasource(&postgres_datasource(sales.id, "main", None)).await.unwrap();
    // The same name in another workgroup is fine.
    store.create_datasource(&postgres_datasource(ops.id, "main", None)).await.unwrap();
    assert_conflict(store.create_datasource(&postgres_datasource(sales.id, "main", Some("x"))).await, "main");
    assert_not_found(store.create_datasource(&postgres_datasource(9_999, "main", None)).await, "workgroup");
    assert!(matches!(
        store.create_datasource(&postgres_datasource(sales.id, "", None)).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_datasources(sales.id).await.unwrap().len(), 1);
    assert_eq!(store.list_datasources(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn a_datasource_in_use_cannot_be_deleted(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let spare = store.create_datasource(&postgres_datasource(workgroup_id, "spare", None)).await.unwrap();

    // Used by a draft.
    assert_conflict(store.delete_datasource(datasource.id).await, "`orders` (draft)");
    // No longer by the draft, but by a saved version.
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(spare.id, "orders")).await.unwrap();
    assert_conflict(store.delete_datasource(datasource.id).await, "`orders` (V0)");
    assert_eq!(store.datasource(datasource.id).await.unwrap(), datasource);

    store.delete_api(api.id).await.unwrap();
    store.delete_datasource(datasource.id).await.unwrap();
    assert_not_found(store.datasource(datasource.id).await, "datasource");
    assert_not_found(store.delete_datasource(datasource.id).await, "datasource");
    assert_eq!(store.list_datasources(workgroup_id).await.unwrap(), vec![spare]);
    store.close().await;
}
