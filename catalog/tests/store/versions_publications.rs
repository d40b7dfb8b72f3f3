//! Saved versions (`store/apis.rs`) and publications (`store/publications.rs`): numbering,
//! checked saves, what each environment serves, and what publishing refuses to lose.

use catalog::model::{ConstantPosition, Datasource, Environment, Grant};
use catalog::store::{Store, StoreError};

use crate::{
    TestDb, assert_conflict, assert_not_found, constant_values, grant_of, gray, new_api, postgres_datasource,
    registered_draft, seeded, tags, wizard_draft,
};

backend_tests!(
    versions_are_numbered_from_v0_and_never_change,
    concurrent_saves_get_distinct_numbers,
    deleting_an_api_deletes_its_versions,
    publishing_replaces_and_unpublishing_removes,
    published_lists_what_an_environment_serves_with_opened_passwords,
    a_published_version_cannot_be_deleted,
    deleting_a_published_api_is_refused_and_keeps_everything,
    racing_publish_and_delete_never_serve_a_missing_api,
    saving_a_checked_draft_refuses_one_that_changed,
);

async fn versions_are_numbered_from_v0_and_never_change(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;

    let v0 = store.save_version(api.id, "first cut").await.unwrap();
    assert_eq!((v0.number, v0.label()), (0, "V0".to_owned()));
    assert_eq!(v0.definition, api.draft);
    assert_eq!(v0.description, "first cut");

    let second_draft = wizard_draft(datasource.id, "orders_v2");
    store.update_draft(api.id, &second_draft).await.unwrap();
    let v1 = store.save_version(api.id, "").await.unwrap();
    assert_eq!(v1.number, 1);
    assert_eq!(v1.definition, second_draft);

    let third_draft = wizard_draft(datasource.id, "orders_v3");
    store.update_draft(api.id, &third_draft).await.unwrap();
    let v2 = store.save_version(api.id, "third").await.unwrap();
    assert_eq!(v2.label(), "V2");

    // Earlier versions still hold what was saved, not the later drafts.
    assert_eq!(store.version(api.id, 0).await.unwrap(), v0);
    assert_eq!(store.version(api.id, 1).await.unwrap(), v1);
    assert_eq!(store.version(api.id, 0).await.unwrap().definition, api.draft);
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![v0, v1, v2]);
    assert_eq!(store.api(api.id).await.unwrap().draft, third_draft);
    assert_not_found(store.version(api.id, 3).await, "version");
    store.close().await;
}

async fn concurrent_saves_get_distinct_numbers(db: TestDb) {
    let store = db.open().await;
    let (_, _, api) = seeded(&store).await;
    let saves: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.save_version(api.id, &format!("save {i}")).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for save in saves {
        numbers.push(save.await.unwrap().unwrap().number);
    }
    numbers.sort();
    assert_eq!(numbers, (0..8).collect::<Vec<i64>>());
    store.close().await;
}

async fn deleting_an_api_deletes_its_versions(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let keeper = store.create_api(&new_api(workgroup_id, "keeper", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.save_version(keeper.id, "").await.unwrap();

    store.delete_api(api.id).await.unwrap();
    assert_not_found(store.api(api.id).await, "API");
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![]);
    assert_not_found(store.version(api.id, 0).await, "version");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_versions WHERE api_id = $1", api.id).await, 0);
    assert_not_found(store.delete_api(api.id).await, "API");
    // Other APIs keep theirs.
    assert_eq!(store.list_versions(keeper.id).await.unwrap().len(), 1);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![keeper]);
    // The name is free again.
    store.create_api(&new_api(workgroup_id, "orders", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.close().await;
}

async fn publishing_replaces_and_unpublishing_removes(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    assert_not_found(store.publish(api.id, Environment::Prod, 0).await, "version");
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(datasource.id, "orders_v2")).await.unwrap();
    store.save_version(api.id, "").await.unwrap();

    let prod = store.publish(api.id, Environment::Prod, 0).await.unwrap();
    assert_eq!((prod.api_id, prod.environment, prod.version), (api.id, Environment::Prod, 0));
    assert!(prod.published_at > 0);
    let test = store.publish(api.id, Environment::Test, 1).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![prod, test]);

    // Publishing another version replaces the environment's publication.
    let replaced = store.publish(api.id, Environment::Prod, 1).await.unwrap();
    assert_eq!(replaced.version, 1);
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced, test]);
    // Publishing the version already served is a no-op that returns the publication.
    let revision = store.revision().await.unwrap();
    assert_eq!(store.publish(api.id, Environment::Prod, 1).await.unwrap(), replaced);
    assert_eq!(store.revision().await.unwrap(), revision);

    assert_not_found(store.publish(api.id, Environment::Prod, 7).await, "version");
    assert_not_found(store.publish(9_999, Environment::Prod, 0).await, "version");
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced, test]);

    store.unpublish(api.id, Environment::Test).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced]);
    assert_not_found(store.unpublish(api.id, Environment::Test).await, "publication");
    assert_not_found(store.unpublish(9_999, Environment::Prod).await, "publication");

    // A published API is not deleted; once offline everywhere it is.
    assert_conflict(store.delete_api(api.id).await, "prod");
    assert_eq!(store.published(Environment::Prod).await.unwrap().len(), 1);
    store.unpublish(api.id, Environment::Prod).await.unwrap();
    store.delete_api(api.id).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![]);
    assert_eq!(store.published(Environment::Prod).await.unwrap(), vec![]);
    store.close().await;
}

async fn published_lists_what_an_environment_serves_with_opened_passwords(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, orders) = seeded(&store).await;
    let other = store.create_datasource(&postgres_datasource(workgroup_id, "other", Some("pw2"))).await.unwrap();
    let users = store.create_api(&new_api(workgroup_id, "users", wizard_draft(other.id, "users"))).await.unwrap();
    let drafty = store.create_api(&new_api(workgroup_id, "drafty", wizard_draft(other.id, "t"))).await.unwrap();
    store.save_version(drafty.id, "").await.unwrap();

    let v0 = store.save_version(orders.id, "first").await.unwrap();
    // The draft moves on (even to another datasource); what is served is the saved version.
    store.update_draft(orders.id, &wizard_draft(other.id, "orders_next")).await.unwrap();
    let v1 = store.save_version(orders.id, "second").await.unwrap();
    store.update_draft(orders.id, &wizard_draft(other.id, "orders_unsaved")).await.unwrap();
    let users_v0 = store.save_version(users.id, "").await.unwrap();
    store.publish(orders.id, Environment::Prod, 0).await.unwrap();
    store.publish(orders.id, Environment::Test, 1).await.unwrap();
    store.publish(users.id, Environment::Prod, 0).await.unwrap();

    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod.len(), 2, "{prod:?}");
    assert_eq!((prod[0].api.id, prod[0].api.name.as_str()), (orders.id, "orders"));
    assert_eq!(prod[0].version, v0);
    assert_eq!(
        prod[0].datasource,
        Some(Datasource { id: datasource.id, ..postgres_datasource(workgroup_id, "warehouse", Some("pw")) })
    );
    assert_eq!(prod[1].api.name, "users");
    assert_eq!(prod[1].version, users_v0);
    assert_eq!(prod[1].datasource.as_ref().and_then(|d| d.connection.password.as_deref()), Some("pw2"));

    let test = store.published(Environment::Test).await.unwrap();
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].version, v1);
    let served = test[0].datasource.as_ref().unwrap();
    assert_eq!(served.id, other.id);
    assert_eq!(served.connection.password.as_deref(), Some("pw2"));

    // For documents: the same APIs and versions, with empty drafts, only those `keep` accepts.
    let described = store.published_for_documents(Environment::Prod, |_| true).await.unwrap();
    assert_eq!(described.iter().map(|(a, _)| a.id).collect::<Vec<_>>(), [orders.id, users.id]);
    assert_eq!((&described[0].1, &described[1].1), (&v0, &users_v0));
    assert_eq!(described[1].0.name, "users");
    for (api, _) in &described {
        assert_eq!((api.draft.datasource_id, api.draft.request_params.len()), (None, 0), "{api:?}");
    }
    let only = store.published_for_documents(Environment::Prod, |a| a.id == users.id).await.unwrap();
    assert_eq!(only.iter().map(|(a, v)| (a.id, v.number)).collect::<Vec<_>>(), [(users.id, 0)]);
    let elsewhere = store.published_for_documents(Environment::Test, |a| a.workgroup_id != workgroup_id).await;
    assert!(elsewhere.unwrap().is_empty());
    store.close().await;
}

async fn a_published_version_cannot_be_deleted(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    for table in ["a", "b", "c"] {
        store.update_draft(api.id, &wizard_draft(datasource.id, table)).await.unwrap();
        store.save_version(api.id, table).await.unwrap();
    }
    store.publish(api.id, Environment::Prod, 1).await.unwrap();
    store.publish(api.id, Environment::Test, 1).await.unwrap();

    let message = assert_conflict(store.delete_version(api.id, 1).await, "V1");
    assert!(message.contains("prod") && message.contains("test"), "{message}");
    assert_eq!(store.version(api.id, 1).await.unwrap().description, "b");

    store.delete_version(api.id, 0).await.unwrap();
    assert_not_found(store.version(api.id, 0).await, "version");
    assert_not_found(store.delete_version(api.id, 0).await, "version");
    // Deleting the latest version does not free its number.
    store.delete_version(api.id, 2).await.unwrap();
    assert_eq!(store.save_version(api.id, "next").await.unwrap().number, 3);
    assert_eq!(store.latest_version(api.id).await.unwrap().map(|v| v.number), Some(3));

    store.unpublish(api.id, Environment::Prod).await.unwrap();
    assert_conflict(store.delete_version(api.id, 1).await, "test");
    store.unpublish(api.id, Environment::Test).await.unwrap();
    store.delete_version(api.id, 1).await.unwrap();
    let numbers: Vec<i64> = store.list_versions(api.id).await.unwrap().iter().map(|v| v.number).collect();
    assert_eq!(numbers, vec![3]);
    assert_eq!(store.latest_version(9_999).await.unwrap(), None);
    store.close().await;
}

async fn deleting_a_published_api_is_refused_and_keeps_everything(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let mut tagged = api.clone();
    tagged.settings.tags = tags(&["sales"]);
    let api = store.update_api(&tagged).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(datasource.id, "orders_v2")).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    store.publish(api.id, Environment::Test, 1).await.unwrap();
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    store.grant(&grant_of(api.id, app.id)).await.unwrap();
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 1, 10, true)).await.unwrap();

    let api = store.api(api.id).await.unwrap();
    let versions = store.list_versions(api.id).await.unwrap();
    let publications = store.publications(api.id).await.unwrap();
    let grants = store.grants_of_api(api.id).await.unwrap();
    let strategies = store.gray_strategies(api.id).await.unwrap();
    let revision = store.revision().await.unwrap();
    let keeps_everything = async |store: &Store| {
        assert_eq!(store.api(api.id).await.unwrap(), api);
        assert_eq!(store.list_versions(api.id).await.unwrap(), versions);
        assert_eq!(store.grants_of_api(api.id).await.unwrap(), grants);
        assert_eq!(store.gray_strategies(api.id).await.unwrap(), strategies);
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", api.id).await, 1);
        assert_eq!(store.revision().await.unwrap(), revision);
    };

    let message = assert_conflict(store.delete_api(api.id).await, "prod");
    assert!(message.contains("test"), "{message}");
    keeps_everything(&store).await;
    assert_eq!(store.publications(api.id).await.unwrap(), publications);
    assert_eq!(store.published(Environment::Prod).await.unwrap().len(), 1);

    // Published in one environment is enough to be refused.
    store.unpublish(api.id, Environment::Prod).await.unwrap();
    let revision = store.revision().await.unwrap();
    let message = assert_conflict(store.delete_api(api.id).await, "test");
    assert!(!message.contains("prod"), "{message}");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.api(api.id).await.unwrap(), api);
    assert_eq!(store.grants_of_api(api.id).await.unwrap(), grants);
    assert_eq!(store.publications(api.id).await.unwrap(), vec![publications[1]]);

    // Offline everywhere, it goes with everything that hangs on it.
    store.unpublish(api.id, Environment::Test).await.unwrap();
    store.delete_api(api.id).await.unwrap();
    assert_not_found(store.api(api.id).await, "API");
    assert_eq!(store.grants_of_api(api.id).await.unwrap(), vec![]);
    assert_eq!(store.grants_of_app(app.id).await.unwrap(), vec![]);
    assert_eq!(store.gray_strategies(api.id).await.unwrap(), vec![]);
    for sql in [
        "SELECT COUNT(*) FROM api_tags WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
        "SELECT COUNT(*) FROM grants WHERE api_id = $1",
        "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
        "SELECT COUNT(*) FROM publications WHERE api_id = $1",
    ] {
        assert_eq!(db.raw_count(sql, api.id).await, 0, "{sql}");
    }
    assert!(store.caller_directory().await.unwrap().grants.is_empty());
    assert_not_found(store.delete_api(api.id).await, "API");
    store.close().await;
}

/// Publishing and deleting the same API at once (with a grant and a gray strategy landing at
/// the same time): either the API is gone and nothing of it is served, or it stays and is
/// published. Never a publication of a missing API, never an error but Conflict or NotFound.
async fn racing_publish_and_delete_never_serve_a_missing_api(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    let (mut kept, mut gone) = (0, 0);
    for round in 0..40 {
        let api = store
            .create_api(&new_api(workgroup_id, &format!("race{round}"), wizard_draft(datasource.id, "t")))
            .await
            .unwrap();
        store.save_version(api.id, "").await.unwrap();
        store.grant(&grant_of(api.id, app.id)).await.unwrap();
        let publish = {
            let store = store.clone();
            async move { store.publish(api.id, Environment::Prod, 0).await }
        };
        let delete = {
            let store = store.clone();
            async move { store.delete_api(api.id).await }
        };
        let regrant = {
            let store = store.clone();
            async move { store.grant(&Grant { qps: Some(5), ..grant_of(api.id, app.id) }).await }
        };
        let gray_test = {
            let store = store.clone();
            async move { store.set_gray_strategy(&gray(api.id, Environment::Test, 0, 50, true)).await }
        };
        // Alternate which one starts first.
        let (published, deleted, regranted, grayed) = if round % 2 == 0 {
            let delete = tokio::spawn(delete);
            let publish = tokio::spawn(publish);
            let (regrant, gray_test) = (tokio::spawn(regrant), tokio::spawn(gray_test));
            (publish.await.unwrap(), delete.await.unwrap(), regrant.await.unwrap(), gray_test.await.unwrap())
        } else {
            let publish = tokio::spawn(publish);
            let gray_test = tokio::spawn(gray_test);
            let (delete, regrant) = (tokio::spawn(delete), tokio::spawn(regrant));
            (publish.await.unwrap(), delete.await.unwrap(), regrant.await.unwrap(), gray_test.await.unwrap())
        };
        let outcome =
            format!("round {round}: publish {published:?}, delete {deleted:?}, grant {regranted:?}, gray {grayed:?}");
        assert!(matches!(published, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(deleted, Ok(()) | Err(StoreError::Conflict(_))), "{outcome}");
        assert!(matches!(regranted, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(grayed, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        match store.api(api.id).await {
            Ok(_) => {
                kept += 1;
                assert!(published.is_ok() && deleted.is_err(), "{outcome}");
                let publications = store.publications(api.id).await.unwrap();
                assert_eq!(publications.len(), 1, "{outcome}");
                assert!(regranted.is_ok() && grayed.is_ok(), "{outcome}");
                assert_eq!(store.grants_of_api(api.id).await.unwrap()[0].qps, Some(5), "{outcome}");
                store.unpublish(api.id, Environment::Prod).await.unwrap();
                store.delete_api(api.id).await.unwrap();
            }
            Err(StoreError::NotFound { .. }) => {
                gone += 1;
                assert!(deleted.is_ok() && published.is_err(), "{outcome}");
            }
            Err(e) => panic!("{outcome}: reading the API failed: {e:?}"),
        }
        for sql in [
            "SELECT COUNT(*) FROM publications WHERE api_id = $1",
            "SELECT COUNT(*) FROM grants WHERE api_id = $1",
            "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
            "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
        ] {
            assert_eq!(db.raw_count(sql, api.id).await, 0, "{outcome}: {sql}");
        }
    }
    let orphans = "SELECT COUNT(*) FROM publications p WHERE p.api_id > $1 \
                   AND NOT EXISTS (SELECT 1 FROM apis a WHERE a.id = p.api_id)";
    assert_eq!(db.raw_count(orphans, 0).await, 0);
    assert!(store.published(Environment::Prod).await.unwrap().is_empty());
    assert_eq!(kept + gone, 40);
    store.close().await;
}

async fn saving_a_checked_draft_refuses_one_that_changed(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    let checked = api.draft.clone();
    let edited = wizard_draft(datasource.id, "orders_edited");
    store.update_draft(api.id, &edited).await.unwrap();

    let revision = store.revision().await.unwrap();
    assert_conflict(store.save_checked_version(api.id, "stale", &checked).await, "changed");
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![]);
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_not_found(store.save_checked_version(9_999, "", &checked).await, "API");

    // The draft as it is now saves, and takes the number the refused save did not use.
    let v0 = store.save_checked_version(api.id, "checked", &edited).await.unwrap();
    assert_eq!((v0.number, v0.description.as_str()), (0, "checked"));
    assert_eq!(v0.definition, edited);
    assert_eq!(store.version(api.id, 0).await.unwrap(), v0);
    assert!(store.revision().await.unwrap() > revision);
    assert_eq!(store.save_checked_version(api.id, "", &edited).await.unwrap().number, 1);

    // Constants are compared without their values: the stored ones are never given back.
    let workgroup_id = api.workgroup_id;
    let with_key = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-1"))]);
    let registered = store.create_api(&new_api(workgroup_id, "weather", with_key.clone())).await.unwrap();
    let v0 = store.save_checked_version(registered.id, "", &with_key).await.unwrap();
    assert_eq!(v0.definition, with_key.redacted());
    let other_value = registered_draft(&[("appid", ConstantPosition::Query, Some("something else"))]);
    assert_eq!(store.save_checked_version(registered.id, "", &other_value).await.unwrap().number, 1);
    let other_constant = registered_draft(&[("key", ConstantPosition::Query, Some("k3y-1"))]);
    assert_conflict(store.save_checked_version(registered.id, "", &other_constant).await, "changed");
    assert_eq!(store.list_versions(registered.id).await.unwrap().len(), 2);
    // What was saved carries the stored value, not the checked one.
    assert_eq!(
        constant_values(&store.latest_version_with_secrets(registered.id).await.unwrap().unwrap().definition),
        vec![Some("k3y-1".to_owned())]
    );
    store.close().await;
}
