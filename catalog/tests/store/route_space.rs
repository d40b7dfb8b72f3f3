//! The shared route space as the store enforces it: paths of other workgroups refused at publish
//! and at save, and one winner among concurrent publishes of one path.

use catalog::model::{Api, Environment};
use catalog::store::{Store, StoreError};

use crate::{TestDb, new_api, postgres_datasource, seeded, wizard_draft};

backend_tests!(
    paths_of_other_workgroups_are_refused_at_publish_and_at_save,
    concurrent_publishes_of_one_path_let_exactly_one_win,
);

/// An API of `workgroup_id` at `method path`, with a saved V0.
async fn api_at(store: &Store, workgroup_id: i64, datasource_id: i64, name: &str, method: &str, path: &str) -> Api {
    let api = Api {
        path: path.into(),
        method: method.into(),
        ..new_api(workgroup_id, name, wizard_draft(datasource_id, "t"))
    };
    let api = store.create_api(&api).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    api
}

fn assert_path_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, with: &Api) {
    match result {
        Err(StoreError::PathConflict(conflict)) => assert_eq!(conflict.api_id, with.id, "{conflict:?}"),
        other => panic!("expected a path conflict with API {}, got {other:?}", with.id),
    }
}

async fn paths_of_other_workgroups_are_refused_at_publish_and_at_save(db: TestDb) {
    let store = db.open().await;
    let (theirs_id, datasource, _) = seeded(&store).await;
    let ours = store.create_workgroup("intruders", "").await.unwrap();
    let our_ds = store.create_datasource(&postgres_datasource(ours.id, "ds", None)).await.unwrap();
    let theirs = api_at(&store, theirs_id, datasource.id, "customer", "GET", "/b/customers/{id}").await;
    store.publish(theirs.id, Environment::Prod, 0).await.unwrap();

    // The same route under another name, or a path that only takes part of its requests:
    // refused when saved, and nothing changes.
    let squatter = api_at(&store, ours.id, our_ds.id, "squat", "GET", "/b/other/{aaa}").await;
    let revision = store.revision().await.unwrap();
    let squatter = store.update_api(&Api { path: "/b/customers/{aaa}".into(), ..squatter.clone() }).await;
    assert_path_conflict(squatter, &theirs);
    for (name, method, path) in [
        ("special", "GET", "/b/customers/special"),
        ("poster", "POST", "/b/customers/{id}"),
        ("kinds", "GET", "/b/{kind}/{id}"),
    ] {
        let api =
            Api { path: path.into(), method: method.into(), ..new_api(ours.id, name, wizard_draft(our_ds.id, "t")) };
        assert_path_conflict(store.create_api(&api).await, &theirs);
    }
    assert_eq!(store.revision().await.unwrap(), revision, "refused writes change nothing");

    // Two drafts may hold one path; the first published takes it in that environment.
    let early = api_at(&store, ours.id, our_ds.id, "early", "GET", "/c/{id}").await;
    let late = api_at(&store, theirs_id, datasource.id, "late", "GET", "/c/{key}").await;
    store.publish(late.id, Environment::Prod, 0).await.unwrap();
    assert_path_conflict(store.publish(early.id, Environment::Prod, 0).await, &late);
    assert!(store.publications(early.id).await.unwrap().is_empty());
    store.publish(early.id, Environment::Test, 0).await.unwrap();

    // Published only in test: the same path is free in prod until then.
    let tester = api_at(&store, ours.id, our_ds.id, "tester", "GET", "/t/{id}").await;
    store.publish(tester.id, Environment::Test, 0).await.unwrap();
    let prod_only = api_at(&store, theirs_id, datasource.id, "prod_only", "GET", "/p/{id}").await;
    store.publish(prod_only.id, Environment::Prod, 0).await.unwrap();
    let ours_later = api_at(&store, ours.id, our_ds.id, "later", "GET", "/q/{id}").await;
    let moved = store.update_api(&Api { path: "/p/{key}".into(), ..ours_later.clone() }).await;
    assert_path_conflict(moved, &prod_only);
    let unpublished_twin = api_at(&store, theirs_id, datasource.id, "twin", "GET", "/u/{x}").await;
    let twin = Api { path: "/t/{id}".into(), ..unpublished_twin };
    assert_path_conflict(store.update_api(&twin).await, &tester);

    // Within one workgroup a literal may stand beside a parameter, but not the same route.
    let search = api_at(&store, theirs_id, datasource.id, "search", "GET", "/b/customers/search").await;
    store.publish(search.id, Environment::Prod, 0).await.unwrap();
    let again = api_at(&store, theirs_id, datasource.id, "again", "GET", "/b/x/{y}").await;
    let again = store.update_api(&Api { path: "/b/customers/{key}".into(), ..again }).await;
    assert_path_conflict(again, &theirs);
    store.close().await;
}

async fn concurrent_publishes_of_one_path_let_exactly_one_win(db: TestDb) {
    let store = db.open().await;
    let (first_wg, first_ds, _) = seeded(&store).await;
    let second = store.create_workgroup("rivals", "").await.unwrap();
    let second_ds = store.create_datasource(&postgres_datasource(second.id, "ds", None)).await.unwrap();
    for round in 0..20 {
        let a = api_at(&store, first_wg, first_ds.id, &format!("a{round}"), "GET", &format!("/r{round}/{{id}}")).await;
        let b =
            api_at(&store, second.id, second_ds.id, &format!("b{round}"), "GET", &format!("/r{round}/{{key}}")).await;
        let publish = |id: i64| {
            let store = store.clone();
            tokio::spawn(async move { store.publish(id, Environment::Prod, 0).await })
        };
        let (one, two) = if round % 2 == 0 { (publish(a.id), publish(b.id)) } else { (publish(b.id), publish(a.id)) };
        let results = [one.await.unwrap(), two.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        let lost = results.iter().filter(|r| matches!(r, Err(StoreError::PathConflict(_)))).count();
        assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");
    }
    let served = store.published(Environment::Prod).await.unwrap();
    assert_eq!(served.len(), 20);
    store.close().await;
}
