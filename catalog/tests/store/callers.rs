//! Grants and gray strategies (`store/callers.rs`): who may call what, gray releases, what
//! deleting an app or an API takes along, and concurrent caller writes.

use catalog::model::{
    Api, ApiSettings, App, ConstantPosition, Environment, Grant, GrayStrategy, SecurityLevel, VisibleRange,
};
use catalog::store::{ApiQuery, ApiStatus, Store, StoreError, hash_token};

use crate::{
    TestDb, api_with, assert_conflict, assert_invalid, assert_not_found, constant_values, directory_entry,
    directory_hashes, grant_of, gray, new_api, now_ms, query, registered_draft, seeded, tags, wizard_draft,
};

backend_tests!(
    grants_follow_reach_and_clearance_and_update_in_place,
    gray_strategies_need_a_saved_version_and_only_enabled_ones_are_released,
    deleting_an_app_or_an_api_takes_its_grants_tokens_and_gray_strategies,
    concurrent_caller_writes_settle_without_database_errors,
    caller_writes_bump_the_revision_and_reads_and_refusals_do_not,
);

async fn app_with(store: &Store, workgroup_id: i64, name: &str, clearance: SecurityLevel) -> App {
    let (app, _) = store.create_app(workgroup_id, name, "").await.unwrap();
    store.update_app(&App { clearance, ..app }).await.unwrap()
}

async fn grants_follow_reach_and_clearance_and_update_in_place(db: TestDb) {
    let store = db.open().await;
    let (sales, datasource, orders) = seeded(&store).await;
    let ops = store.create_workgroup("ops", "").await.unwrap().id;
    let rates = api_with(&store, sales, datasource.id, "rates", VisibleRange::Public, SecurityLevel::L2).await;
    let salaries = api_with(&store, sales, datasource.id, "salaries", VisibleRange::Private, SecurityLevel::L3).await;
    let mobile = app_with(&store, sales, "mobile", SecurityLevel::L1).await;
    let hr = app_with(&store, sales, "hr", SecurityLevel::L3).await;
    let partner = app_with(&store, ops, "partner", SecurityLevel::L1).await;
    let auditor = app_with(&store, ops, "auditor", SecurityLevel::L4).await;

    let before = now_ms();
    let granted = store.grant(&grant_of(orders.id, mobile.id)).await.unwrap();
    assert!(granted.id > 0 && granted.created_at >= before);
    assert_eq!(granted, Grant { id: granted.id, created_at: granted.created_at, ..grant_of(orders.id, mobile.id) });
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![granted.clone()]);

    // A private API only to its own workgroup's apps, whatever their clearance.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.grant(&grant_of(orders.id, partner.id)).await, "private");
    assert_invalid(store.grant(&grant_of(orders.id, auditor.id)).await, "private");
    assert_invalid(store.grant(&grant_of(salaries.id, auditor.id)).await, "private");
    // And only to apps cleared for its level, public or not.
    assert_invalid(store.grant(&grant_of(salaries.id, mobile.id)).await, "clearance");
    assert_invalid(store.grant(&grant_of(rates.id, partner.id)).await, "clearance");
    assert_invalid(store.grant(&grant_of(rates.id, mobile.id)).await, "clearance");
    assert_invalid(store.grant(&Grant { qps: Some(0), ..grant_of(orders.id, hr.id) }).await, "QPS");
    assert_not_found(store.grant(&grant_of(9_999, mobile.id)).await, "API");
    assert_not_found(store.grant(&grant_of(orders.id, 9_999)).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE id > $1", 0).await, 1);

    let hr_salaries = store.grant(&grant_of(salaries.id, hr.id)).await.unwrap();
    let auditor_rates = store.grant(&grant_of(rates.id, auditor.id)).await.unwrap();
    // Raising the clearance is what it takes.
    let partner = store.update_app(&App { clearance: SecurityLevel::L2, ..partner }).await.unwrap();
    let partner_rates = store.grant(&grant_of(rates.id, partner.id)).await.unwrap();
    // Same level, same workgroup: fine.
    let mobile_rates = store.update_app(&App { clearance: SecurityLevel::L2, ..mobile.clone() }).await.unwrap();
    let mobile_rates = store.grant(&grant_of(rates.id, mobile_rates.id)).await.unwrap();

    // Granting again updates expiry and QPS in place; who granted it and when stay.
    let until = now_ms() + 3_600_000;
    let regranted = store
        .grant(&Grant {
            expires_at: Some(until),
            qps: Some(10),
            created_by: "bob".into(),
            ..grant_of(orders.id, mobile.id)
        })
        .await
        .unwrap();
    assert_eq!(regranted, Grant { expires_at: Some(until), qps: Some(10), ..granted.clone() });
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![regranted.clone()]);
    let cleared = store.grant(&grant_of(orders.id, mobile.id)).await.unwrap();
    assert_eq!(cleared, granted);
    let largest = store.grant(&Grant { qps: Some(u32::MAX), ..grant_of(orders.id, mobile.id) }).await.unwrap();
    assert_eq!(largest.qps, Some(u32::MAX));
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![largest.clone()]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE api_id = $1", orders.id).await, 1);

    // Read by API and by app, oldest first; the directory has them all.
    assert_eq!(
        store.grants_of_api(rates.id).await.unwrap(),
        vec![auditor_rates.clone(), partner_rates.clone(), mobile_rates.clone()]
    );
    assert_eq!(store.grants_of_app(mobile.id).await.unwrap(), vec![largest.clone(), mobile_rates.clone()]);
    assert_eq!(store.grants_of_app(auditor.id).await.unwrap(), vec![auditor_rates.clone()]);
    assert_eq!(store.grants_of_app(9_999).await.unwrap(), vec![]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(
        directory.grants,
        vec![largest.clone(), hr_salaries.clone(), auditor_rates.clone(), partner_rates.clone(), mobile_rates.clone()]
    );

    // Revoking removes exactly that grant.
    store.revoke_grant(rates.id, partner.id).await.unwrap();
    assert_eq!(store.grants_of_api(rates.id).await.unwrap(), vec![auditor_rates.clone(), mobile_rates.clone()]);
    assert!(!store.caller_directory().await.unwrap().grants.contains(&partner_rates));
    let revision = store.revision().await.unwrap();
    assert_not_found(store.revoke_grant(rates.id, partner.id).await, "grant");
    assert_not_found(store.revoke_grant(orders.id, hr.id).await, "grant");
    assert_not_found(store.revoke_grant(9_999, 9_999).await, "grant");
    assert_eq!(store.revision().await.unwrap(), revision);
    // A revoked grant can be given again, as a new grant.
    let again = store.grant(&grant_of(rates.id, partner.id)).await.unwrap();
    assert!(again.id > partner_rates.id);
    store.close().await;
}

async fn gray_strategies_need_a_saved_version_and_only_enabled_ones_are_released(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, orders) = seeded(&store).await;
    let draft = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-gray-0"))]);
    let weather = store.create_api(&new_api(workgroup_id, "weather", draft.clone())).await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    let second = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-gray-1"))]);
    store.update_draft(weather.id, &second).await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    store.save_version(orders.id, "").await.unwrap();

    // The version must exist, the share be a percentage.
    let revision = store.revision().await.unwrap();
    assert_not_found(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 5, 10, true)).await, "version");
    assert_not_found(store.set_gray_strategy(&gray(weather.id, Environment::Prod, -1, 10, true)).await, "version");
    assert_not_found(store.set_gray_strategy(&gray(9_999, Environment::Prod, 0, 10, true)).await, "API");
    assert_invalid(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, 101, true)).await, "percent");
    assert_invalid(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, u8::MAX, false)).await, "percent");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![]);

    let before = now_ms();
    let test = store.set_gray_strategy(&gray(weather.id, Environment::Test, 0, 0, false)).await.unwrap();
    let prod = store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, 20, true)).await.unwrap();
    assert!(prod.updated_at >= before);
    assert_eq!(prod, GrayStrategy { updated_at: prod.updated_at, ..gray(weather.id, Environment::Prod, 1, 20, true) });
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod, test], "production first");

    // Setting again replaces the environment's strategy.
    let prod = store.set_gray_strategy(&gray(weather.id, Environment::Prod, 0, 100, true)).await.unwrap();
    assert_eq!((prod.version, prod.percent, prod.enabled), (0, 100, true));
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod, test]);
    let others = store.set_gray_strategy(&gray(orders.id, Environment::Prod, 0, 50, false)).await.unwrap();

    // Only enabled strategies are released, with their version's constants opened.
    let releases = store.gray_releases(Environment::Prod).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].strategy, prod);
    assert_eq!(releases[0].version.number, 0);
    assert_eq!(releases[0].version.definition, draft);
    assert_eq!(constant_values(&releases[0].version.definition), vec![Some("k3y-gray-0".to_owned())]);
    assert_eq!(store.gray_releases(Environment::Test).await.unwrap(), vec![]);
    let test = store.set_gray_strategy(&GrayStrategy { enabled: true, version: 1, ..test }).await.unwrap();
    let releases = store.gray_releases(Environment::Test).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!((releases[0].strategy, releases[0].version.definition.clone()), (test, second.clone()));
    let others = store.set_gray_strategy(&GrayStrategy { enabled: true, ..others }).await.unwrap();
    let released: Vec<i64> =
        store.gray_releases(Environment::Prod).await.unwrap().iter().map(|r| r.strategy.api_id).collect();
    assert_eq!(released, vec![orders.id, weather.id]);
    store.set_gray_strategy(&GrayStrategy { enabled: false, ..others }).await.unwrap();
    assert_eq!(store.gray_releases(Environment::Prod).await.unwrap().len(), 1);

    // A version a strategy uses is not deleted from under it.
    let message = assert_conflict(store.delete_version(weather.id, 0).await, "V0");
    assert!(message.contains("gray"), "{message}");
    assert_eq!(store.list_versions(weather.id).await.unwrap().len(), 2);

    // Deleting a strategy.
    store.delete_gray_strategy(weather.id, Environment::Test).await.unwrap();
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod]);
    assert_eq!(store.gray_releases(Environment::Test).await.unwrap(), vec![]);
    let revision = store.revision().await.unwrap();
    assert_not_found(store.delete_gray_strategy(weather.id, Environment::Test).await, "gray strategy");
    assert_not_found(store.delete_gray_strategy(9_999, Environment::Prod).await, "gray strategy");
    assert_eq!(store.revision().await.unwrap(), revision);
    store.delete_gray_strategy(weather.id, Environment::Prod).await.unwrap();
    store.delete_version(weather.id, 0).await.unwrap();
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![]);
    assert_eq!(store.gray_strategies(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn deleting_an_app_or_an_api_takes_its_grants_tokens_and_gray_strategies(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, a) = seeded(&store).await;
    let b = store.create_api(&new_api(workgroup_id, "b", wizard_draft(datasource.id, "t"))).await.unwrap();
    let (x, _) = store.create_app(workgroup_id, "x", "").await.unwrap();
    let (y, _) = store.create_app(workgroup_id, "y", "").await.unwrap();
    for api in [&a, &b] {
        store
            .update_api(&Api { settings: ApiSettings { tags: tags(&["t"]), ..api.settings.clone() }, ..api.clone() })
            .await
            .unwrap();
        store.save_version(api.id, "").await.unwrap();
        store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 5, true)).await.unwrap();
        store.set_gray_strategy(&gray(api.id, Environment::Test, 0, 5, false)).await.unwrap();
        for app in [&x, &y] {
            store.grant(&grant_of(api.id, app.id)).await.unwrap();
        }
    }
    let (_, x_text) = store.issue_app_token(x.id, 600).await.unwrap();
    store.issue_app_token(x.id, 600).await.unwrap();
    let (_, y_text) = store.issue_app_token(y.id, 600).await.unwrap();

    store.delete_app(x.id).await.unwrap();
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", x.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", x.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", y.id).await, 2);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", y.id).await, 1);
    let directory = store.caller_directory().await.unwrap();
    assert!(directory_entry(&directory, x.id).is_none());
    assert!(!directory_hashes(&directory).contains(&hash_token(&x_text)));
    assert_eq!(directory_hashes(&directory), vec![hash_token(&y_text)]);
    assert!(directory.grants.iter().all(|g| g.app_id == y.id));
    assert_eq!(directory.grants.len(), 2);
    // The APIs and their strategies are not the app's.
    assert_eq!(store.gray_strategies(a.id).await.unwrap().len(), 2);

    store.delete_api(a.id).await.unwrap();
    for sql in [
        "SELECT COUNT(*) FROM grants WHERE api_id = $1",
        "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_tags WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
    ] {
        assert_eq!(db.raw_count(sql, a.id).await, 0, "{sql}");
        assert!(db.raw_count(sql, b.id).await > 0, "{sql}");
    }
    assert_eq!(store.grants_of_app(y.id).await.unwrap().iter().map(|g| g.api_id).collect::<Vec<_>>(), vec![b.id]);
    let released: Vec<i64> =
        store.gray_releases(Environment::Prod).await.unwrap().iter().map(|r| r.strategy.api_id).collect();
    assert_eq!(released, vec![b.id]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory.grants.iter().map(|g| (g.api_id, g.app_id)).collect::<Vec<_>>(), vec![(b.id, y.id)]);
    // The app that is left still works.
    assert_eq!(directory_entry(&directory, y.id).unwrap().app, store.app(y.id).await.unwrap());
    store.close().await;
}

/// Grants, tokens, rotations and app changes at the same time on the same rows: each either
/// lands or is refused for its own reason, never a database error.
async fn concurrent_caller_writes_settle_without_database_errors(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let public = api_with(&store, workgroup_id, datasource.id, "public", VisibleRange::Public, SecurityLevel::L1).await;
    store.save_version(api.id, "").await.unwrap();
    let mut apps = Vec::new();
    for i in 0..6 {
        apps.push(store.create_app(workgroup_id, &format!("app{i}"), "").await.unwrap().0);
    }
    for round in 0..4 {
        let mut tasks: Vec<tokio::task::JoinHandle<Result<(), StoreError>>> = Vec::new();
        for app in &apps {
            let (s, app) = (store.clone(), app.clone());
            let (api_id, public_id) = (api.id, public.id);
            tasks.push(tokio::spawn(async move {
                s.grant(&Grant { qps: Some(round + 1), ..grant_of(api_id, app.id) }).await.map(drop)
            }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.grant(&grant_of(public_id, app.id)).await.map(drop) }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.issue_app_token(app.id, 60).await.map(drop) }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.rotate_app_secret(app.id, 60).await.map(drop) }));
            let s = store.clone();
            let level = if round % 2 == 0 { SecurityLevel::L2 } else { SecurityLevel::L1 };
            tasks.push(tokio::spawn(async move { s.update_app(&App { clearance: level, ..app }).await.map(drop) }));
        }
        let s = store.clone();
        let api_id = api.id;
        tasks.push(tokio::spawn(async move {
            s.set_gray_strategy(&gray(api_id, Environment::Prod, 0, round as u8 * 10, true)).await.map(drop)
        }));
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.caller_directory().await.map(drop) }));
        for task in tasks {
            task.await.unwrap().unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        }
    }
    assert_eq!(store.grants_of_api(api.id).await.unwrap().len(), apps.len());
    assert!(store.grants_of_api(api.id).await.unwrap().iter().all(|g| g.qps == Some(4)));

    // An app deleted while it is granted again and given a token: the delete wins or waits,
    // the others land before it or find the app gone; nothing of the app is left.
    for round in 0..12 {
        let (doomed, _) = store.create_app(workgroup_id, &format!("doomed{round}"), "").await.unwrap();
        store.grant(&grant_of(api.id, doomed.id)).await.unwrap();
        store.grant(&grant_of(public.id, doomed.id)).await.unwrap();
        let s = store.clone();
        let api_id = api.id;
        let regrant =
            tokio::spawn(async move { s.grant(&Grant { qps: Some(7), ..grant_of(api_id, doomed.id) }).await });
        let s = store.clone();
        let token = tokio::spawn(async move { s.issue_app_token(doomed.id, 60).await });
        let s = store.clone();
        let delete = tokio::spawn(async move { s.delete_app(doomed.id).await });
        let (regrant, token, delete) = (regrant.await.unwrap(), token.await.unwrap(), delete.await.unwrap());
        let outcome = format!("round {round}: grant {regrant:?}, token {token:?}, delete {delete:?}");
        assert!(delete.is_ok(), "{outcome}");
        assert!(matches!(regrant, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(token, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", doomed.id).await, 0, "{outcome}");
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", doomed.id).await, 0, "{outcome}");
    }
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory.apps.len(), apps.len());
    assert!(directory.apps.iter().all(|entry| entry.previous_secret.is_some()));
    assert_eq!(directory.tokens.len(), apps.len() * 4);
    assert_eq!(directory.grants.len(), apps.len() * 2);
    store.close().await;
}

async fn caller_writes_bump_the_revision_and_reads_and_refusals_do_not(db: TestDb) {
    let store = db.open().await;
    let mut last = store.revision().await.unwrap();
    async fn moved(store: &Store, last: &mut i64, what: &str) {
        let now = store.revision().await.unwrap();
        assert!(now > *last, "{what} did not bump the revision ({now} after {last})");
        *last = now;
    }
    async fn still(store: &Store, last: i64, what: &str) {
        assert_eq!(store.revision().await.unwrap(), last, "{what} bumped the revision");
    }

    let (workgroup_id, datasource, api) = seeded(&store).await;
    moved(&store, &mut last, "seeding").await;
    let mut tagged = api.clone();
    tagged.settings = ApiSettings { tags: tags(&["a"]), max_qps: Some(3), ..ApiSettings::default() };
    let api = store.update_api(&tagged).await.unwrap();
    moved(&store, &mut last, "update_api (settings)").await;
    store.save_checked_version(api.id, "", &api.draft).await.unwrap();
    moved(&store, &mut last, "save_checked_version").await;
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    moved(&store, &mut last, "create_app").await;
    let app = store.update_app(&App { clearance: SecurityLevel::L2, ..app }).await.unwrap();
    moved(&store, &mut last, "update_app").await;
    store.rotate_app_secret(app.id, 60).await.unwrap();
    moved(&store, &mut last, "rotate_app_secret").await;
    store.rotate_app_secret(app.id, 0).await.unwrap();
    moved(&store, &mut last, "rotate_app_secret without overlap").await;
    let (token, _) = store.issue_app_token(app.id, 60).await.unwrap();
    moved(&store, &mut last, "issue_app_token").await;
    store.revoke_app_token(app.id, token.id).await.unwrap();
    moved(&store, &mut last, "revoke_app_token").await;
    store.grant(&grant_of(api.id, app.id)).await.unwrap();
    moved(&store, &mut last, "grant").await;
    store.grant(&Grant { qps: Some(9), ..grant_of(api.id, app.id) }).await.unwrap();
    moved(&store, &mut last, "grant (update)").await;
    store.revoke_grant(api.id, app.id).await.unwrap();
    moved(&store, &mut last, "revoke_grant").await;
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 10, true)).await.unwrap();
    moved(&store, &mut last, "set_gray_strategy").await;
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 20, true)).await.unwrap();
    moved(&store, &mut last, "set_gray_strategy (replace)").await;
    store.delete_gray_strategy(api.id, Environment::Prod).await.unwrap();
    moved(&store, &mut last, "delete_gray_strategy").await;
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    moved(&store, &mut last, "publish").await;

    // Reads leave it alone.
    store.find_apis(&query(workgroup_id)).await.unwrap();
    store
        .find_apis(&ApiQuery { status: Some(ApiStatus::Draft), tag: Some("a".into()), ..query(workgroup_id) })
        .await
        .unwrap();
    store.workgroup_publications(workgroup_id).await.unwrap();
    store.app(app.id).await.unwrap();
    store.app_tokens(app.id).await.unwrap();
    store.grants_of_api(api.id).await.unwrap();
    store.grants_of_app(app.id).await.unwrap();
    store.gray_strategies(api.id).await.unwrap();
    store.gray_releases(Environment::Prod).await.unwrap();
    store.caller_directory().await.unwrap();
    still(&store, last, "a read").await;

    // So do refused writes.
    assert!(store.delete_api(api.id).await.is_err());
    store.update_draft(api.id, &wizard_draft(datasource.id, "other")).await.unwrap();
    moved(&store, &mut last, "update_draft").await;
    assert!(store.save_checked_version(api.id, "", &api.draft).await.is_err());
    assert!(
        store
            .update_api(&Api { settings: ApiSettings { max_qps: Some(0), ..api.settings.clone() }, ..api.clone() })
            .await
            .is_err()
    );
    assert!(store.update_app(&App { name: String::new(), ..app.clone() }).await.is_err());
    assert!(store.rotate_app_secret(app.id, -5).await.is_err());
    assert!(store.issue_app_token(app.id, 0).await.is_err());
    assert!(store.revoke_app_token(app.id, 9_999).await.is_err());
    let strict =
        api_with(&store, workgroup_id, datasource.id, "strict", VisibleRange::Private, SecurityLevel::L4).await;
    moved(&store, &mut last, "create_api (settings)").await;
    assert!(store.grant(&grant_of(strict.id, app.id)).await.is_err());
    assert!(store.revoke_grant(api.id, app.id).await.is_err());
    assert!(store.set_gray_strategy(&gray(api.id, Environment::Prod, 7, 10, true)).await.is_err());
    assert!(store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 101, true)).await.is_err());
    assert!(store.delete_gray_strategy(api.id, Environment::Test).await.is_err());
    assert!(store.delete_app(9_999).await.is_err());
    still(&store, last, "a refused write").await;

    store.unpublish(api.id, Environment::Prod).await.unwrap();
    moved(&store, &mut last, "unpublish").await;
    store.delete_api(api.id).await.unwrap();
    moved(&store, &mut last, "delete_api").await;
    store.delete_app(app.id).await.unwrap();
    moved(&store, &mut last, "delete_app").await;
    store.close().await;
}
