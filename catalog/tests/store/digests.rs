//! Digests and the batched write (`store/digests.rs`): what `apply` and the edge read to tell
//! what changed without reading definitions, a page's publications, and `write_apis`.

use catalog::model::{AuthMode, ConstantPosition, Environment, SecurityLevel};
use catalog::store::{ApiWrite, StoreError};

use crate::{TestDb, new_api, registered_draft, seeded, wizard_draft};

backend_tests!(
    a_digest_moves_with_the_definition_and_only_with_it,
    published_digests_key_what_each_environment_serves,
    a_datasource_digest_moves_with_its_settings_and_password,
    versions_are_read_by_key_with_constants_opened,
    publications_of_a_page_are_those_of_its_apis,
    write_apis_writes_a_batch_in_one_transaction,
    a_refused_batch_writes_nothing_and_names_the_api_at_fault,
    digests_missing_from_older_rows_are_filled_when_the_store_opens,
);

async fn a_digest_moves_with_the_definition_and_only_with_it(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let digest_of = |store: catalog::store::Store| async move {
        let digests = store.api_digests(workgroup_id).await.unwrap();
        assert_eq!(digests.len(), 1);
        digests.into_iter().next().unwrap()
    };

    let first = digest_of(store.clone()).await;
    assert_eq!(first.api.id, api.id);
    assert_eq!((first.api.path.as_str(), first.api.method.as_str()), ("/orders", "GET"));
    assert_eq!(first.draft_hash, api.draft.digest());
    assert_eq!(first.latest, None);
    assert!(first.publications.is_empty());

    // The same definition written again keeps its digest; settings are not part of it.
    let mut same = api.clone();
    same.description = "described".into();
    store.update_api(&same).await.unwrap();
    store.update_draft(api.id, &api.draft).await.unwrap();
    assert_eq!(digest_of(store.clone()).await.draft_hash, first.draft_hash);

    // Another table is another definition.
    let changed = wizard_draft(datasource.id, "orders_v2");
    store.update_draft(api.id, &changed).await.unwrap();
    let second = digest_of(store.clone()).await;
    assert_ne!(second.draft_hash, first.draft_hash);
    assert_eq!(second.draft_hash, changed.digest());

    // A saved version carries its draft's digest; the latest one is reported.
    let v0 = store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &api.draft).await.unwrap();
    let v1 = store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, v0.number).await.unwrap();
    let third = digest_of(store.clone()).await;
    assert_eq!(third.latest, Some((v1.number, first.draft_hash.clone())));
    assert_eq!(third.publications.len(), 1);
    assert_eq!((third.publications[0].environment, third.publications[0].version), (Environment::Prod, 0));

    // A constant's value is no part of a digest; its name is.
    let with_key = registered_draft(&[("key", ConstantPosition::Header, Some("one"))]);
    let other_key = registered_draft(&[("key", ConstantPosition::Header, Some("two"))]);
    let renamed = registered_draft(&[("token", ConstantPosition::Header, Some("one"))]);
    assert_eq!(with_key.digest(), other_key.digest());
    assert_ne!(with_key.digest(), renamed.digest());
    assert!(with_key.has_constants() && !api.draft.has_constants());
    assert!(store.api_digests(9_999).await.unwrap().is_empty());
    store.close().await;
}

async fn published_digests_key_what_each_environment_serves(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert!(store.published_digests(Environment::Prod).await.unwrap().is_empty());
    let v0 = store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Test, v0.number).await.unwrap();
    // Settings other than the defaults, so each is seen to be read.
    let mut input = new_api(workgroup_id, "weather", registered_draft(&[]));
    input.settings.max_qps = Some(50);
    input.settings.security_level = SecurityLevel::L3;
    input.settings.auth_mode = AuthMode::None;
    let weather = store.create_api(&input).await.unwrap();
    let w0 = store.save_version(weather.id, "").await.unwrap();
    store.publish(weather.id, Environment::Test, w0.number).await.unwrap();
    store.publish(weather.id, Environment::Prod, w0.number).await.unwrap();

    let test = store.published_digests(Environment::Test).await.unwrap();
    let keys: Vec<_> = test.iter().map(|p| (p.api_id, p.version, p.datasource_id)).collect();
    assert_eq!(keys, vec![(api.id, 0, Some(datasource.id)), (weather.id, 0, None)]);
    assert_eq!(test[0].definition_hash, api.draft.digest());
    assert_eq!(test[1].path, "/weather");
    let prod = store.published_digests(Environment::Prod).await.unwrap();
    assert_eq!(prod.iter().map(|p| p.api_id).collect::<Vec<_>>(), vec![weather.id]);

    // They agree with the full read the edge used to make.
    let full = store.published(Environment::Test).await.unwrap();
    for (digest, published) in test.iter().zip(&full) {
        assert_eq!(digest.definition_hash, published.version.definition.digest());
        let api = &published.api;
        let routed = (api.id, api.workgroup_id, &api.name, &api.path, &api.method);
        assert_eq!((digest.api_id, digest.workgroup_id, &digest.name, &digest.path, &digest.method), routed);
        let settings = &api.settings;
        assert_eq!(
            (digest.auth_mode, digest.security_level, digest.max_qps),
            (settings.auth_mode, settings.security_level, settings.max_qps)
        );
    }
    store.close().await;
}

async fn a_datasource_digest_moves_with_its_settings_and_password(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, _) = seeded(&store).await;
    let digest = |store: catalog::store::Store| async move {
        let all = store.datasources_with_digests().await.unwrap();
        let (opened, digest) = all.get(&datasource.id).cloned().unwrap();
        (opened, digest)
    };
    let (opened, first) = digest(store.clone()).await;
    assert_eq!(opened.connection.password.as_deref(), Some("pw"));
    assert_eq!(digest(store.clone()).await.1, first, "a read moved the digest");

    // Written without a password: the stored one stays, and so does the digest.
    let mut unchanged = datasource.clone();
    unchanged.connection.password = None;
    store.update_datasource(&unchanged).await.unwrap();
    assert_eq!(digest(store.clone()).await.1, first);

    let mut moved = unchanged.clone();
    moved.connection.port = 5433;
    store.update_datasource(&moved).await.unwrap();
    let second = digest(store.clone()).await.1;
    assert_ne!(second, first);

    let mut repassworded = moved.clone();
    repassworded.connection.password = Some("other".into());
    store.update_datasource(&repassworded).await.unwrap();
    let (opened, third) = digest(store.clone()).await;
    assert_ne!(third, second);
    assert_eq!(opened.connection.password.as_deref(), Some("other"));
    store.close().await;
}

async fn versions_are_read_by_key_with_constants_opened(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    let draft = registered_draft(&[("key", ConstantPosition::Header, Some("s3cret"))]);
    let weather = store.create_api(&new_api(workgroup_id, "weather", draft)).await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    store.save_version(api.id, "").await.unwrap();

    // More keys than one query takes, most of them of no version.
    let mut keys: Vec<(i64, i64)> = (100..350).map(|n| (api.id, n)).collect();
    keys.extend([(weather.id, 1), (api.id, 0)]);
    let mut versions = store.versions_with_secrets(&keys).await.unwrap();
    versions.sort_by_key(|v| v.api_id);
    assert_eq!(versions.iter().map(|v| (v.api_id, v.number)).collect::<Vec<_>>(), vec![(api.id, 0), (weather.id, 1)]);
    assert_eq!(crate::constant_values(&versions[1].definition), vec![Some("s3cret".to_owned())]);
    assert!(store.versions_with_secrets(&[]).await.unwrap().is_empty());
    store.close().await;
}

async fn publications_of_a_page_are_those_of_its_apis(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, orders) = seeded(&store).await;
    let mut ids = vec![orders.id];
    for name in ["a", "b", "c"] {
        let api = store.create_api(&new_api(workgroup_id, name, wizard_draft(datasource.id, name))).await.unwrap();
        ids.push(api.id);
    }
    for id in &ids {
        store.save_version(*id, "").await.unwrap();
        store.publish(*id, Environment::Test, 0).await.unwrap();
    }
    store.publish(ids[1], Environment::Prod, 0).await.unwrap();

    let page = store.publications_of(&ids[1..3]).await.unwrap();
    assert_eq!(page.len(), 2, "{page:?}");
    let envs: Vec<Environment> = page[&ids[1]].iter().map(|p| p.environment).collect();
    assert_eq!(envs, vec![Environment::Prod, Environment::Test], "production first");
    assert_eq!(page[&ids[2]].len(), 1);
    assert!(!page.contains_key(&ids[0]) && !page.contains_key(&ids[3]));
    // The same as the whole workgroup's, for the APIs asked.
    let all = store.workgroup_publications(workgroup_id).await.unwrap();
    assert_eq!(page[&ids[1]], all[&ids[1]]);
    assert!(store.publications_of(&[]).await.unwrap().is_empty());
    store.close().await;
}

async fn write_apis_writes_a_batch_in_one_transaction(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, orders) = seeded(&store).await;
    let v0 = store.save_version(orders.id, "").await.unwrap();
    let before = store.revision().await.unwrap();

    let fresh = new_api(workgroup_id, "fresh", wizard_draft(datasource.id, "fresh"));
    let mut moved = orders.clone();
    moved.path = "/orders/all".into();
    let both = [Environment::Prod, Environment::Test, Environment::Prod];
    let writes = [
        ApiWrite { api: &fresh, update: true, save_version: Some("from a file"), latest: None, publish: &both },
        ApiWrite { api: &moved, update: true, save_version: None, latest: Some(v0.number), publish: &both[..1] },
    ];
    let written = store.write_apis(&writes).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1, "one transaction, one revision");
    assert_eq!(written[0].saved, Some(0));
    assert_eq!(written[0].published, vec![Environment::Prod, Environment::Test]);
    assert_eq!(written[1].api_id, orders.id);
    assert_eq!((written[1].saved, written[1].published.clone()), (None, vec![Environment::Prod]));
    let created = store.api(written[0].api_id).await.unwrap();
    assert_eq!(created.path, "/fresh");
    assert_eq!(store.version(created.id, 0).await.unwrap().description, "from a file");
    assert_eq!(store.api(orders.id).await.unwrap().path, "/orders/all");

    // Nothing to change: nothing written, the revision stays.
    let nothing = [ApiWrite { api: &moved, update: false, save_version: None, latest: Some(0), publish: &both[..1] }];
    let written = store.write_apis(&nothing).await.unwrap();
    assert!(written[0].published.is_empty());
    assert_eq!(store.revision().await.unwrap(), before + 1);
    store.close().await;
}

async fn a_refused_batch_writes_nothing_and_names_the_api_at_fault(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, orders) = seeded(&store).await;
    store.save_version(orders.id, "").await.unwrap();
    store.publish(orders.id, Environment::Prod, 0).await.unwrap();
    let before = store.revision().await.unwrap();

    let first = new_api(workgroup_id, "first", wizard_draft(datasource.id, "first"));
    // Another API at the published API's path and method.
    let mut clash = new_api(workgroup_id, "clash", wizard_draft(datasource.id, "clash"));
    clash.path = "/orders".into();
    let prod = [Environment::Prod];
    let writes = [
        ApiWrite { api: &first, update: true, save_version: Some(""), latest: None, publish: &prod },
        ApiWrite { api: &clash, update: true, save_version: Some(""), latest: None, publish: &prod },
    ];
    match store.write_apis(&writes).await {
        Err((1, StoreError::PathConflict(conflict))) => assert_eq!(conflict.api_id, orders.id),
        other => panic!("expected a path conflict of the second API, got {other:?}"),
    }
    assert_eq!(store.revision().await.unwrap(), before);
    let names: Vec<String> = store.list_apis(workgroup_id).await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, vec!["orders".to_owned()], "the first API was rolled back");

    // Two APIs of one batch claim one route: the second is refused.
    let mut twin = new_api(workgroup_id, "twin", wizard_draft(datasource.id, "twin"));
    twin.path = "/first".into();
    let writes = [
        ApiWrite { api: &first, update: true, save_version: Some(""), latest: None, publish: &prod },
        ApiWrite { api: &twin, update: true, save_version: Some(""), latest: None, publish: &prod },
    ];
    assert!(matches!(store.write_apis(&writes).await, Err((1, StoreError::PathConflict(_)))));
    // A datasource that does not exist is named.
    let orphan = new_api(workgroup_id, "orphan", wizard_draft(9_999, "t"));
    let writes = [ApiWrite { api: &orphan, update: true, save_version: None, latest: None, publish: &[] }];
    match store.write_apis(&writes).await {
        Err((0, StoreError::NotFound { what, .. })) => assert_eq!(what, "datasource"),
        other => panic!("expected the datasource not found, got {other:?}"),
    }
    assert_eq!(store.revision().await.unwrap(), before);
    store.close().await;
}

async fn digests_missing_from_older_rows_are_filled_when_the_store_opens(db: TestDb) {
    let store = db.open().await;
    let (_, _, api) = seeded(&store).await;
    store.save_version(api.id, "").await.unwrap();
    store.close().await;
    // As a store migrated from before digests were kept holds them.
    db.raw_execute("UPDATE apis SET draft_hash = '' WHERE id = $1", api.id).await;
    db.raw_execute("UPDATE api_versions SET definition_hash = '' WHERE api_id = $1", api.id).await;
    let revision = {
        let store = db.open().await;
        let digests = store.api_digests(api.workgroup_id).await.unwrap();
        assert_eq!(digests[0].draft_hash, api.draft.digest());
        assert_eq!(digests[0].latest, Some((0, api.draft.digest())));
        let revision = store.revision().await.unwrap();
        store.close().await;
        revision
    };
    let store = db.open().await;
    assert_eq!(store.revision().await.unwrap(), revision, "filling digests changes nothing served");
    store.close().await;
}
