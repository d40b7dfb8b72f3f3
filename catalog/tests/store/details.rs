//! API details (migration `0010_api_details`): who created and last changed an API and when,
//! who saved each version, result samples of the draft and of versions, and the members who
//! may own an API.

use catalog::model::{ApiSamples, Environment, MAX_SAMPLE_BYTES, UserUpdate, WorkgroupRole};
use catalog::store::{ApiWrite, SamplesEdit, StoreError};
use serde_json::json;

use crate::{TestDb, assert_not_found, new_api, seeded, wizard_draft};

backend_tests!(
    every_write_of_an_api_stamps_its_editor,
    apply_batches_stamp_their_actor_without_a_query_per_api,
    samples_live_on_the_draft_and_on_versions,
    samples_are_bounded_and_need_an_api_and_version,
    owners_come_from_enabled_members,
);

/// A moment later than the last stamp, so that `updated_at` visibly moves.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

async fn every_write_of_an_api_stamps_its_editor(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    let fresh = new_api(workgroup_id, "stamped", wizard_draft(datasource.id, "t"));
    let created = store.create_api_by(&fresh, "alice").await.unwrap();
    let details = &created.details;
    assert_eq!((details.created_by.as_str(), details.updated_by.as_str()), ("alice", "alice"));
    assert!(details.created_at > 0 && details.updated_at == details.created_at, "{details:?}");
    assert_eq!(store.api(created.id).await.unwrap(), created);

    tick().await;
    let edited = catalog::model::Api { description: "edited".into(), ..created.clone() };
    let updated = store.update_api_by(&edited, "bob").await.unwrap();
    assert_eq!(updated.details.created_by, "alice");
    assert_eq!(updated.details.created_at, created.details.created_at);
    assert_eq!(updated.details.updated_by, "bob");
    assert!(updated.details.updated_at > created.details.updated_at);
    assert_eq!(store.api(created.id).await.unwrap(), updated);

    tick().await;
    let drafted = store.update_draft_by(created.id, &wizard_draft(datasource.id, "t2"), "carol").await.unwrap();
    assert_eq!((drafted.details.created_by.as_str(), drafted.details.updated_by.as_str()), ("alice", "carol"));
    assert!(drafted.details.updated_at > updated.details.updated_at);

    tick().await;
    let folder = store.create_folder(workgroup_id, None, "reports").await.unwrap();
    let moved = store.move_api_by(created.id, Some(folder.id), "dave").await.unwrap();
    assert_eq!(moved.details.updated_by, "dave");
    assert!(moved.details.updated_at > drafted.details.updated_at);

    // A version is stamped with who saved it; the API's own stamps stay.
    let version = store.save_version_by(created.id, "first", "erin").await.unwrap();
    assert_eq!(version.created_by, "erin");
    assert_eq!(store.version(created.id, version.number).await.unwrap(), version);
    assert_eq!(store.list_versions(created.id).await.unwrap(), vec![version.clone()]);
    let checked = store.save_checked_version_by(created.id, "second", &moved.draft, "frank").await.unwrap();
    assert_eq!(checked.created_by, "frank");
    assert_eq!(store.api(created.id).await.unwrap().details.updated_by, "dave");

    // Lists and pages show the same details as single reads.
    let listed = store.list_apis(workgroup_id).await.unwrap();
    assert_eq!(listed.iter().find(|a| a.id == created.id), Some(&moved));
    let (page, _) = store.find_apis(&crate::query(workgroup_id)).await.unwrap();
    assert_eq!(page.iter().find(|a| a.id == created.id), Some(&moved), "no samples yet: a page leaves them out");

    // Writers that name nobody leave the names empty, as for rows from before the migration.
    let anonymous = store.create_api(&new_api(workgroup_id, "anon", wizard_draft(datasource.id, "t"))).await.unwrap();
    assert_eq!((anonymous.details.created_by.as_str(), anonymous.details.updated_by.as_str()), ("", ""));
    store.close().await;
}

async fn apply_batches_stamp_their_actor_without_a_query_per_api(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, existing) = seeded(&store).await;
    let fresh = new_api(workgroup_id, "batched", wizard_draft(datasource.id, "t"));
    let changed = catalog::model::Api { description: "from a file".into(), ..existing.clone() };
    let writes = [
        ApiWrite { api: &fresh, update: true, save_version: Some("v"), latest: None, publish: &[Environment::Prod] },
        ApiWrite { api: &changed, update: true, save_version: Some("v"), latest: None, publish: &[] },
    ];
    let written = store.write_apis_by(&writes, "ci").await.unwrap();
    let created = store.api(written[0].api_id).await.unwrap();
    assert_eq!((created.details.created_by.as_str(), created.details.updated_by.as_str()), ("ci", "ci"));
    let updated = store.api(existing.id).await.unwrap();
    assert_eq!(updated.details.created_by, existing.details.created_by);
    assert_eq!(updated.details.updated_by, "ci");
    for written in &written {
        let saved = written.saved.unwrap();
        assert_eq!(store.version(written.api_id, saved).await.unwrap().created_by, "ci");
    }
    // What the edge and apply read carries the stamps too.
    let digests = store.api_digests(workgroup_id).await.unwrap();
    let digest = digests.iter().find(|d| d.api.id == created.id).unwrap();
    assert_eq!(digest.api.details.created_by, "ci");
    let served = store.published(Environment::Prod).await.unwrap();
    assert_eq!(served[0].api.details.updated_by, "ci");
    assert_eq!(served[0].version.created_by, "ci");
    store.close().await;
}

async fn samples_live_on_the_draft_and_on_versions(db: TestDb) {
    let store = db.open().await;
    let (_, _, api) = seeded(&store).await;
    assert!(api.details.draft_samples.is_empty());
    let ok = json!({"code": "OK", "data": {"rows": [{"id": 1}]}});
    let failed = json!({"code": "MissingParameter.id", "message": "the required parameter `id` is missing"});

    let before = store.revision().await.unwrap();
    let set = SamplesEdit { success: Some(Some(ok.clone())), failure: None };
    let samples = store.set_samples(api.id, None, &set, "alice").await.unwrap();
    assert_eq!(samples, ApiSamples { success: Some(ok.clone()), failure: None });
    // Documents show samples and are cached per revision.
    assert!(store.revision().await.unwrap() > before);
    let read = store.api(api.id).await.unwrap();
    assert_eq!(read.details.draft_samples, samples);
    assert_eq!(read.details.updated_by, "alice");
    let (page, _) = store.find_apis(&crate::query(read.workgroup_id)).await.unwrap();
    let listed = page.iter().find(|a| a.id == api.id).unwrap();
    assert!(listed.details.draft_samples.is_empty(), "a page leaves the draft's samples out");
    assert_eq!(listed.details.updated_by, "alice");

    // Editing the draft keeps its samples; saving a version copies them.
    store.update_draft_by(api.id, &api.draft, "bob").await.unwrap();
    assert_eq!(store.api(api.id).await.unwrap().details.draft_samples, samples);
    let version = store.save_version_by(api.id, "with samples", "bob").await.unwrap();
    assert_eq!(version.samples, samples);
    assert_eq!(store.version(api.id, version.number).await.unwrap().samples, samples);

    // A version's samples change on their own: a key left out is kept, `null` removes one.
    let add_failure = SamplesEdit { success: None, failure: Some(Some(failed.clone())) };
    let both = store.set_samples(api.id, Some(version.number), &add_failure, "carol").await.unwrap();
    assert_eq!(both, ApiSamples { success: Some(ok.clone()), failure: Some(failed.clone()) });
    assert_eq!(store.api(api.id).await.unwrap().details.draft_samples, samples, "the draft's stay");
    let drop_success = SamplesEdit { success: Some(None), failure: None };
    let left = store.set_samples(api.id, Some(version.number), &drop_success, "carol").await.unwrap();
    assert_eq!(left, ApiSamples { success: None, failure: Some(failed.clone()) });

    // Documents read them with the served version; the edge's reads leave them out.
    store.publish(api.id, Environment::Prod, version.number).await.unwrap();
    let documented = store.published_for_documents(Environment::Prod, |_| true).await.unwrap();
    assert_eq!(documented[0].1.samples, left);
    assert_eq!(documented[0].1.created_by, "bob");
    assert!(store.published(Environment::Prod).await.unwrap()[0].version.samples.is_empty());
    store.close().await;
}

async fn samples_are_bounded_and_need_an_api_and_version(db: TestDb) {
    let store = db.open().await;
    let (_, _, api) = seeded(&store).await;
    let big = json!({"data": "x".repeat(MAX_SAMPLE_BYTES)});
    let edit = SamplesEdit { success: Some(Some(big)), failure: None };
    let before = store.revision().await.unwrap();
    match store.set_samples(api.id, None, &edit, "alice").await {
        Err(StoreError::Invalid(why)) => assert!(why.contains("64 KiB"), "{why}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(store.revision().await.unwrap(), before, "a refused write changes nothing");
    assert!(store.api(api.id).await.unwrap().details.draft_samples.is_empty());
    let small = SamplesEdit { success: Some(Some(json!({"code": "OK"}))), failure: None };
    assert_not_found(store.set_samples(api.id, Some(7), &small, "alice").await, "version");
    assert_not_found(store.set_samples(9_999, None, &small, "alice").await, "API");
    store.close().await;
}

async fn owners_come_from_enabled_members(db: TestDb) {
    let store = db.open().await;
    let team = store.create_workgroup("owners", "").await.unwrap();
    let other = store.create_workgroup("others", "").await.unwrap();
    let alice = store.create_user("alice", "", false).await.unwrap();
    let bob = store.create_user("bob", "", false).await.unwrap();
    let carol = store.create_user("carol", "", false).await.unwrap();
    store.add_member(team.id, alice.id, WorkgroupRole::Viewer).await.unwrap();
    store.add_member(team.id, bob.id, WorkgroupRole::Admin).await.unwrap();
    store.add_member(other.id, carol.id, WorkgroupRole::Admin).await.unwrap();
    assert_eq!(store.member_names(team.id).await.unwrap(), vec!["alice".to_owned(), "bob".to_owned()]);
    assert!(store.is_member_named(team.id, "alice").await.unwrap());
    assert!(!store.is_member_named(team.id, "carol").await.unwrap(), "a member of another workgroup");
    assert!(!store.is_member_named(team.id, "nobody").await.unwrap());
    let disabled = UserUpdate { disabled: Some(true), ..Default::default() };
    store.update_user(bob.id, &disabled).await.unwrap();
    assert!(!store.is_member_named(team.id, "bob").await.unwrap(), "a disabled account owns nothing new");
    assert_eq!(store.member_names(team.id).await.unwrap(), vec!["alice".to_owned()]);
    assert!(store.member_names(9_999).await.unwrap().is_empty());
    store.close().await;
}
