//! Marketplace listings and approvals (`store/market.rs`): what each request and decision
//! does, what taking an API offline or deleting it cancels, scheduled offline, and decisions
//! racing each other and the API's other writers.

use catalog::model::{
    Api, App, ApprovalKind, ApprovalState, Environment, ListingInfo, ListingState, SecurityLevel, VisibleRange,
};
use catalog::store::{Asking, Decision, MarketQuery, Store, StoreError};
use serde_json::json;

use crate::{TestDb, api_with, assert_conflict, assert_invalid, assert_not_found, now_ms, seeded};

backend_tests!(
    listing_goes_through_approval_and_applications_become_grants,
    taking_offline_delists_and_scheduled_offline_waits_for_its_time,
    decisions_race_deletes_delistings_and_each_other,
);

fn asking(by: &str) -> Asking<'_> {
    Asking { by, reason: "for the dashboard", notify: &[] }
}

fn approve(by: &str) -> Decision<'_> {
    Decision { approve: true, by, comment: "", qps: None, expires_at: None }
}

fn info(summary: &str, tags: &[&str]) -> ListingInfo {
    ListingInfo {
        category: "sales".into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        summary: summary.into(),
        ..ListingInfo::default()
    }
}

fn search(text: &str) -> MarketQuery {
    MarketQuery { text: Some(text.into()), limit: 50, ..MarketQuery::default() }
}

/// A public API of the workgroup published to prod with a listing draft.
async fn online(store: &Store, workgroup_id: i64, datasource_id: i64, name: &str, level: SecurityLevel) -> Api {
    let api = api_with(store, workgroup_id, datasource_id, name, VisibleRange::Public, level).await;
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    store.save_listing_draft(api.id, &info(&format!("{name} by day"), &["daily"])).await.unwrap();
    api
}

/// `online`, then listed by a platform admin.
async fn listed(store: &Store, workgroup_id: i64, datasource_id: i64, name: &str) -> Api {
    let api = online(store, workgroup_id, datasource_id, name, SecurityLevel::L1).await;
    let request = store.submit_listing(api.id, asking("owner")).await.unwrap();
    store.decide(request.id, approve("root")).await.unwrap();
    api
}

async fn app_in(store: &Store, workgroup_id: i64, name: &str, clearance: SecurityLevel) -> App {
    let (app, _) = store.create_app(workgroup_id, name, "").await.unwrap();
    store.update_app(&App { clearance, ..app }).await.unwrap()
}

async fn listing_goes_through_approval_and_applications_become_grants(db: TestDb) {
    let store = db.open().await;
    let (sales, datasource, private) = seeded(&store).await;
    let ops = store.create_workgroup("ops", "").await.unwrap().id;

    // Only a public API published to prod, with a listing, can be submitted.
    store.save_version(private.id, "").await.unwrap();
    store.publish(private.id, Environment::Prod, 0).await.unwrap();
    store.save_listing_draft(private.id, &info("private", &[])).await.unwrap();
    assert_invalid(store.submit_listing(private.id, asking("owner")).await, "private");
    let rates = api_with(&store, sales, datasource.id, "rates", VisibleRange::Public, SecurityLevel::L1).await;
    assert_invalid(store.submit_listing(rates.id, asking("owner")).await, "no listing");
    store.save_listing_draft(rates.id, &info("Exchange rates, daily", &["fx", "daily"])).await.unwrap();
    assert_invalid(store.submit_listing(rates.id, asking("owner")).await, "not published to prod");
    assert_invalid(store.save_listing_draft(rates.id, &info(&"x".repeat(501), &[])).await, "summary");
    store.save_version(rates.id, "").await.unwrap();
    store.publish(rates.id, Environment::Prod, 0).await.unwrap();

    let request = store.submit_listing(rates.id, asking("owner")).await.unwrap();
    assert_eq!(
        (request.kind, request.state, request.api_id),
        (ApprovalKind::Listing, ApprovalState::Pending, Some(rates.id))
    );
    assert_eq!(store.listing(rates.id).await.unwrap().unwrap().state, ListingState::Pending);
    assert_conflict(store.submit_listing(rates.id, asking("owner")).await, "waiting");
    assert_eq!(store.marketplace(&search("")).await.unwrap().1, 0);
    assert_not_found(store.market_entry(rates.id).await, "listed API");

    let decided = store.decide(request.id, approve("root")).await.unwrap();
    assert_eq!((decided.state, decided.decided_by.as_deref()), (ApprovalState::Approved, Some("root")));
    // The same decision again answers the request; another one is a conflict.
    assert_eq!(store.decide(request.id, approve("root")).await.unwrap(), decided);
    assert_conflict(store.decide(request.id, approve("other")).await, "already approved");
    let listing = store.listing(rates.id).await.unwrap().unwrap();
    assert_eq!(listing.state, ListingState::Listed);
    assert_eq!(listing.listed.as_ref().unwrap().summary, "Exchange rates, daily");
    for (text, found) in [("RATES", 1), ("daily", 1), ("fx", 1), ("nothing", 0), ("%", 0)] {
        assert_eq!(store.marketplace(&search(text)).await.unwrap().1, found, "search {text}");
    }
    let by_tag = MarketQuery { tag: Some("fx".into()), limit: 10, ..MarketQuery::default() };
    assert_eq!(store.marketplace(&by_tag).await.unwrap().0[0].api_id, rates.id);
    let by_level = MarketQuery { security_level: Some(SecurityLevel::L2), limit: 10, ..MarketQuery::default() };
    assert_eq!(store.marketplace(&by_level).await.unwrap().1, 0);
    let entry = store.market_entry(rates.id).await.unwrap();
    assert_eq!((entry.workgroup.as_str(), entry.listing.category.as_str()), ("sales", "sales"));

    // A change of a listed API's listing is a request too; rejected, the listing stays.
    store.save_listing_draft(rates.id, &info("changed", &[])).await.unwrap();
    let change = store.submit_listing(rates.id, asking("owner")).await.unwrap();
    assert_eq!(store.listing(rates.id).await.unwrap().unwrap().state, ListingState::Listed);
    let rejected = store
        .decide(change.id, Decision { approve: false, comment: "keep the tags", ..approve("root") })
        .await
        .unwrap();
    assert_eq!((rejected.state, rejected.comment.as_str()), (ApprovalState::Rejected, "keep the tags"));
    let listing = store.listing(rates.id).await.unwrap().unwrap();
    assert_eq!(
        (listing.state, listing.listed.unwrap().summary.as_str()),
        (ListingState::Listed, "Exchange rates, daily")
    );

    // Applications: one pending per app and API; approving writes the grant with it.
    let partner = app_in(&store, ops, "partner", SecurityLevel::L1).await;
    assert_not_found(store.apply_for_access(private.id, partner.id, asking("pat"), &json!({})).await, "listed API");
    let application = store
        .apply_for_access(rates.id, partner.id, asking("pat"), &json!({"qps": 5, "validityDays": 30}))
        .await
        .unwrap();
    assert_eq!((application.app_id, application.applicant_workgroup_id), (Some(partner.id), Some(ops)));
    assert_conflict(store.apply_for_access(rates.id, partner.id, asking("pat"), &json!({})).await, "already waiting");
    let until = now_ms() + 86_400_000;
    let revision = store.revision().await.unwrap();
    let granted = store
        .decide(application.id, Decision { qps: Some(5), expires_at: Some(until), ..approve("sam") })
        .await
        .unwrap();
    assert!(store.revision().await.unwrap() > revision, "the edge must learn of the grant");
    let grants = store.grants_of_api(rates.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].app_id, grants[0].qps, grants[0].expires_at, grants[0].application_id, Some(grants[0].id)),
        (partner.id, Some(5), Some(until), Some(application.id), granted.grant_id)
    );

    // Withdrawn while pending; then it cannot be decided.
    let second = app_in(&store, ops, "second", SecurityLevel::L1).await;
    let asked = store.apply_for_access(rates.id, second.id, asking("pat"), &json!({})).await.unwrap();
    assert_not_found(store.withdraw(asked.id, "someone else").await, "request");
    assert_eq!(store.withdraw(asked.id, "pat").await.unwrap().state, ApprovalState::Withdrawn);
    assert_conflict(store.decide(asked.id, approve("sam")).await, "already withdrawn");

    // Delisting cancels pending applications and hides the API.
    let waiting = store.apply_for_access(rates.id, second.id, asking("pat"), &json!({})).await.unwrap();
    let delisting = store.request_delisting(rates.id, asking("owner")).await.unwrap();
    store.decide(delisting.id, approve("root")).await.unwrap();
    assert_eq!(store.listing(rates.id).await.unwrap().unwrap().state, ListingState::Delisted);
    let cancelled = store.approval(waiting.id).await.unwrap();
    assert_eq!((cancelled.state, cancelled.comment.as_str()), (ApprovalState::Cancelled, "the API was delisted"));
    assert_not_found(store.apply_for_access(rates.id, second.id, asking("pat"), &json!({})).await, "listed API");
    assert_eq!(store.marketplace(&search("")).await.unwrap().1, 0);
    assert_invalid(store.request_delisting(rates.id, asking("owner")).await, "not listed");
    // The grant made by the application stays until revoked.
    assert_eq!(store.grants_of_api(rates.id).await.unwrap().len(), 1);
    store.close().await;
}

async fn taking_offline_delists_and_scheduled_offline_waits_for_its_time(db: TestDb) {
    let store = db.open().await;
    let (sales, datasource, _) = seeded(&store).await;
    let ops = store.create_workgroup("ops", "").await.unwrap().id;
    let rates = listed(&store, sales, datasource.id, "rates").await;
    let partner = app_in(&store, ops, "partner", SecurityLevel::L1).await;
    let waiting = store.apply_for_access(rates.id, partner.id, asking("pat"), &json!({})).await.unwrap();

    store.unpublish(rates.id, Environment::Test).await.unwrap_err();
    store.unpublish(rates.id, Environment::Prod).await.unwrap();
    assert_eq!(store.listing(rates.id).await.unwrap().unwrap().state, ListingState::Delisted);
    assert_eq!(store.approval(waiting.id).await.unwrap().state, ApprovalState::Cancelled);

    // A publish request publishes once approved.
    assert_not_found(store.request_publish(rates.id, 7, asking("dev")).await, "version");
    let publish = store.request_publish(rates.id, 0, asking("dev")).await.unwrap();
    assert_conflict(store.request_publish(rates.id, 0, asking("dev")).await, "waiting");
    assert!(store.publications(rates.id).await.unwrap().is_empty());
    store.decide(publish.id, approve("lead")).await.unwrap();
    assert_eq!(store.publications(rates.id).await.unwrap()[0].environment, Environment::Prod);

    // Offline at a set time, without approval: stored approved, applied when due, once.
    let later = now_ms() + 3_600_000;
    let scheduled = store.request_offline(rates.id, asking("dev"), Some(later), true).await.unwrap();
    assert_eq!(
        (scheduled.state, scheduled.effective_at, scheduled.applied_at),
        (ApprovalState::Approved, Some(later), None)
    );
    assert!(store.apply_due_offlines(now_ms()).await.unwrap().is_empty());
    assert_eq!(store.publications(rates.id).await.unwrap().len(), 1);
    let applied = store.apply_due_offlines(later + 1).await.unwrap();
    assert_eq!(applied.iter().map(|a| a.id).collect::<Vec<_>>(), vec![scheduled.id]);
    assert!(store.publications(rates.id).await.unwrap().is_empty());
    assert!(store.apply_due_offlines(later + 2).await.unwrap().is_empty());
    assert_not_found(store.request_offline(rates.id, asking("dev"), None, true).await, "publication");

    // With approval: pending until decided, then at once.
    store.publish(rates.id, Environment::Prod, 0).await.unwrap();
    let offline = store.request_offline(rates.id, asking("dev"), None, false).await.unwrap();
    assert_eq!(offline.state, ApprovalState::Pending);
    assert_eq!(store.publications(rates.id).await.unwrap().len(), 1);
    let done = store.decide(offline.id, approve("lead")).await.unwrap();
    assert!(done.applied_at.is_some());
    assert!(store.publications(rates.id).await.unwrap().is_empty());

    // Deleting the API cancels what waits for it and keeps the record.
    let again = store.request_publish(rates.id, 0, asking("dev")).await.unwrap();
    store.delete_api(rates.id).await.unwrap();
    let gone = store.approval(again.id).await.unwrap();
    assert_eq!(
        (gone.state, gone.api_id, gone.comment.as_str()),
        (ApprovalState::Cancelled, None, "the API was deleted")
    );
    assert!(store.listing(rates.id).await.unwrap().is_none());
    store.close().await;
}

async fn decisions_race_deletes_delistings_and_each_other(db: TestDb) {
    let store = db.open().await;
    let (sales, datasource, _) = seeded(&store).await;
    let ops = store.create_workgroup("ops", "").await.unwrap().id;

    // Two deciders at once: exactly one decision lands, the other is a conflict.
    let rates = listed(&store, sales, datasource.id, "rates").await;
    for round in 0..8 {
        let app = app_in(&store, ops, &format!("app{round}"), SecurityLevel::L1).await;
        let request = store.apply_for_access(rates.id, app.id, asking("pat"), &json!({})).await.unwrap();
        let (a, b) = (store.clone(), store.clone());
        let first = tokio::spawn(async move { a.decide(request.id, approve("alice")).await });
        let second = tokio::spawn(async move {
            b.decide(request.id, Decision { approve: false, comment: "no", ..approve("bob") }).await
        });
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let outcome = format!("round {round}: {first:?} / {second:?}");
        assert!(first.is_ok() != second.is_ok(), "{outcome}");
        assert!(matches!(first, Ok(_) | Err(StoreError::Conflict(_))), "{outcome}");
        assert!(matches!(second, Ok(_) | Err(StoreError::Conflict(_))), "{outcome}");
        let grants = db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", app.id).await;
        assert_eq!(grants, i64::from(first.is_ok()), "{outcome}");
    }

    // The same app applying twice at once: one request.
    let app = app_in(&store, ops, "twice", SecurityLevel::L1).await;
    let (a, b) = (store.clone(), store.clone());
    let (rates_id, app_id) = (rates.id, app.id);
    let one = tokio::spawn(async move { a.apply_for_access(rates_id, app_id, asking("pat"), &json!({})).await });
    let two = tokio::spawn(async move { b.apply_for_access(rates_id, app_id, asking("pat"), &json!({})).await });
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert!(one.is_ok() != two.is_ok(), "{one:?} / {two:?}");
    assert!(matches!(one.as_ref().err().or(two.as_ref().err()), Some(StoreError::Conflict(_))));

    // Applying while the API is delisted: either the application is refused, or it was
    // first and the delisting cancelled it; never a pending application of an unlisted API.
    for round in 0..6 {
        let api = listed(&store, sales, datasource.id, &format!("delisted{round}")).await;
        let app = app_in(&store, ops, &format!("late{round}"), SecurityLevel::L1).await;
        let delisting = store.request_delisting(api.id, asking("owner")).await.unwrap();
        let (a, b) = (store.clone(), store.clone());
        let (api_id, app_id) = (api.id, app.id);
        let apply = tokio::spawn(async move { a.apply_for_access(api_id, app_id, asking("pat"), &json!({})).await });
        let delist = tokio::spawn(async move { b.decide(delisting.id, approve("root")).await });
        let (apply, delist) = (apply.await.unwrap(), delist.await.unwrap());
        let outcome = format!("round {round}: apply {apply:?}, delist {delist:?}");
        assert!(delist.is_ok(), "{outcome}");
        assert!(matches!(apply, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        let pending =
            db.raw_count("SELECT COUNT(*) FROM approvals WHERE api_id = $1 AND state = 'pending'", api.id).await;
        assert_eq!(pending, 0, "{outcome}");
    }

    // Approving a publish request while the API is deleted: one of them wins, whole.
    for round in 0..6 {
        let api =
            api_with(&store, sales, datasource.id, &format!("doomed{round}"), VisibleRange::Public, SecurityLevel::L1)
                .await;
        store.save_version(api.id, "").await.unwrap();
        let request = store.request_publish(api.id, 0, asking("dev")).await.unwrap();
        let (a, b) = (store.clone(), store.clone());
        let api_id = api.id;
        let decide = tokio::spawn(async move { a.decide(request.id, approve("lead")).await });
        let delete = tokio::spawn(async move { b.delete_api(api_id).await });
        let (decide, delete) = (decide.await.unwrap(), delete.await.unwrap());
        let outcome = format!("round {round}: approve {decide:?}, delete {delete:?}");
        match (&decide, &delete) {
            // Published first: the delete is refused while it is.
            (Ok(_), Err(StoreError::Conflict(_))) => {
                assert_eq!(store.publications(api.id).await.unwrap().len(), 1, "{outcome}");
            }
            // Deleted first: the request was cancelled and nothing is published.
            (Err(StoreError::Conflict(_)), Ok(())) => {
                assert_eq!(store.approval(request.id).await.unwrap().state, ApprovalState::Cancelled, "{outcome}");
                assert_eq!(db.raw_count("SELECT COUNT(*) FROM publications WHERE api_id = $1", api.id).await, 0);
            }
            _ => panic!("{outcome}"),
        }
    }
    store.close().await;
}
