//! Who manages the store: users (`store/users.rs`), their tokens (`store/tokens.rs`), workgroup
//! members (`store/members.rs`) and the audit log (`store/audit.rs`).

use catalog::model::{AuditEntry, UserUpdate, WorkgroupRole};
use catalog::store::{Store, StoreError};

use crate::{TestDb, assert_conflict, assert_invalid, assert_not_found, now_ms, seeded};

backend_tests!(
    user_names_are_unique_in_any_case_and_users_update,
    the_last_enabled_platform_admin_stays,
    tokens_are_hashed_at_rest_and_shown_once,
    tokens_stop_authenticating_when_revoked_expired_or_disabled,
    authentication_records_last_use_at_most_once_a_minute,
    bootstrap_admin_is_idempotent,
    members_have_one_role_per_workgroup,
    audit_entries_read_newest_first_in_pages,
    access_writes_bump_the_revision_and_bookkeeping_does_not,
    concurrent_tree_and_admin_changes_cannot_break_the_rules,
);

async fn user_names_are_unique_in_any_case_and_users_update(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane.doe", "Jane Doe", false).await.unwrap();
    assert!(jane.id > 0 && jane.created_at > 0);
    assert!(!jane.platform_admin && !jane.disabled);
    let ops = store.create_user("ops_bot-2", "", true).await.unwrap();
    assert!(ops.platform_admin);

    assert_conflict(store.create_user("Jane.Doe", "again", false).await, "Jane.Doe");
    for bad in ["", "jane doe", "jane@corp", &"x".repeat(65)] {
        assert!(matches!(store.create_user(bad, "", false).await, Err(StoreError::Invalid(_))), "{bad}");
    }
    assert_eq!(store.user(jane.id).await.unwrap(), jane);
    assert_eq!(store.user_by_name("JANE.DOE").await.unwrap(), jane);
    assert_not_found(store.user(9_999).await, "user");
    assert_not_found(store.user_by_name("nobody").await, "user");
    assert_eq!(store.list_users().await.unwrap(), vec![jane.clone(), ops.clone()]);

    let renamed = store
        .update_user(jane.id, &UserUpdate { display_name: Some("Jane D.".into()), ..UserUpdate::default() })
        .await
        .unwrap();
    assert_eq!(renamed, catalog::model::User { display_name: "Jane D.".into(), ..jane.clone() });
    let promoted = store
        .update_user(jane.id, &UserUpdate { platform_admin: Some(true), disabled: Some(true), display_name: None })
        .await
        .unwrap();
    assert!(promoted.platform_admin && promoted.disabled && promoted.display_name == "Jane D.");
    assert_eq!(store.user(jane.id).await.unwrap(), promoted);
    assert_not_found(store.update_user(9_999, &UserUpdate::default()).await, "user");
    // The update reads as JSON with camelCase keys, each one optional.
    let update: UserUpdate = serde_json::from_str(r#"{"disabled": false}"#).unwrap();
    assert!(!store.update_user(jane.id, &update).await.unwrap().disabled);
    let shown = serde_json::to_value(store.user(jane.id).await.unwrap()).unwrap();
    assert_eq!(shown["platformAdmin"], true);
    assert_eq!(shown["displayName"], "Jane D.");
    store.close().await;
}

async fn the_last_enabled_platform_admin_stays(db: TestDb) {
    let store = db.open().await;
    let root = store.create_user("root", "", true).await.unwrap();
    let other = store.create_user("other", "", true).await.unwrap();
    let plain = store.create_user("plain", "", false).await.unwrap();

    store.update_user(other.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    let revision = store.revision().await.unwrap();
    assert_conflict(
        store.update_user(root.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await,
        "last enabled platform admin",
    );
    assert_conflict(
        store.update_user(root.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await,
        "root",
    );
    assert_eq!(store.user(root.id).await.unwrap(), root);
    assert_eq!(store.revision().await.unwrap(), revision);
    // Users who are not the remaining admin change freely.
    store.update_user(plain.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    store.update_user(other.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await.unwrap();
    // With another enabled admin, the first may step down.
    store
        .update_user(plain.id, &UserUpdate { disabled: Some(false), platform_admin: Some(true), display_name: None })
        .await
        .unwrap();
    store.update_user(root.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await.unwrap();
    store.close().await;
}

async fn tokens_are_hashed_at_rest_and_shown_once(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "", false).await.unwrap();
    let expires = now_ms() + 3_600_000;
    let (token, text) = store.create_token(jane.id, "laptop", Some(expires)).await.unwrap();
    assert!(token.id > 0 && token.created_at > 0);
    assert_eq!((token.user_id, token.name.as_str(), token.expires_at), (jane.id, "laptop", Some(expires)));
    assert_eq!((token.last_used_at, token.revoked), (None, false));
    assert_eq!(text.len(), 44, "{text}");
    assert!(text.starts_with("slt_"), "{text}");
    assert!(text[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{text}");
    assert_eq!(token.prefix, text[..8]);

    // Only the SHA-256 is at rest; no column holds the text.
    let hash = db.raw_text("SELECT token_hash FROM api_tokens WHERE id = $1", token.id).await.unwrap();
    assert_eq!(hash, catalog::store::hash_token(&text));
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&text[4..]), "{hash}");
    for column in [
        "SELECT name FROM api_tokens WHERE id = $1",
        "SELECT prefix FROM api_tokens WHERE id = $1",
        "SELECT token_hash FROM api_tokens WHERE id = $1",
    ] {
        let value = db.raw_text(column, token.id).await.unwrap_or_default();
        assert!(!value.contains(&text), "{column}: {value}");
    }
    // Reads never show it either.
    let listed = store.list_tokens(jane.id).await.unwrap();
    assert_eq!(listed, vec![token.clone()]);
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(!shown.contains(&text) && !shown.contains(&hash), "{shown}");
    assert_eq!(store.token(token.id).await.unwrap(), token);

    // Each token is new; tokens need a known user, a name and a future expiry.
    let (_, second) = store.create_token(jane.id, "laptop", None).await.unwrap();
    assert_ne!(second, text);
    assert_eq!(store.list_tokens(jane.id).await.unwrap().len(), 2);
    assert_not_found(store.create_token(9_999, "x", None).await, "user");
    assert_invalid(store.create_token(jane.id, " ", None).await, "token name");
    assert_invalid(store.create_token(jane.id, "old", Some(now_ms() - 1)).await, "future");
    assert_not_found(store.token(9_999).await, "token");
    assert_eq!(store.list_tokens(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn tokens_stop_authenticating_when_revoked_expired_or_disabled(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "Jane", false).await.unwrap();
    let now = now_ms();
    let (token, text) = store.create_token(jane.id, "ci", Some(now + 60_000)).await.unwrap();

    let (user, seen) = store.authenticate(&text, now).await.unwrap().unwrap();
    assert_eq!(user, jane);
    assert_eq!((seen.id, seen.last_used_at), (token.id, Some(now)));
    // Unknown, altered or empty text proves nothing.
    assert_eq!(store.authenticate("slt_not-a-token", now).await.unwrap(), None);
    assert_eq!(store.authenticate(&text.to_uppercase(), now).await.unwrap(), None);
    assert_eq!(store.authenticate("", now).await.unwrap(), None);
    // Expiry is exclusive.
    assert!(store.authenticate(&text, now + 59_999).await.unwrap().is_some());
    assert_eq!(store.authenticate(&text, now + 60_000).await.unwrap(), None);

    // A disabled user's tokens prove nothing until the user is enabled again.
    let (_, forever) = store.create_token(jane.id, "forever", None).await.unwrap();
    assert!(store.authenticate(&forever, now + 10_000_000).await.unwrap().is_some());
    store.update_user(jane.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    assert_eq!(store.authenticate(&forever, now).await.unwrap(), None);
    store.update_user(jane.id, &UserUpdate { disabled: Some(false), ..UserUpdate::default() }).await.unwrap();
    assert!(store.authenticate(&forever, now).await.unwrap().is_some());

    // Revoking is for good, and revoking again changes nothing.
    let revoked = store.revoke_token(token.id).await.unwrap();
    assert!(revoked.revoked);
    assert_eq!(store.authenticate(&text, now).await.unwrap(), None);
    let revision = store.revision().await.unwrap();
    assert_eq!(store.revoke_token(token.id).await.unwrap(), revoked);
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(store.list_tokens(jane.id).await.unwrap()[0].revoked);
    assert_not_found(store.revoke_token(9_999).await, "token");
    // The other token is untouched.
    assert!(store.authenticate(&forever, now).await.unwrap().is_some());
    store.close().await;
}

async fn authentication_records_last_use_at_most_once_a_minute(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "", false).await.unwrap();
    let (token, text) = store.create_token(jane.id, "ci", None).await.unwrap();
    let t0 = now_ms();
    let last_used = |store: Store| async move { store.token(token.id).await.unwrap().last_used_at };

    store.authenticate(&text, t0).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(t0));
    let (_, seen) = store.authenticate(&text, t0 + 59_999).await.unwrap().unwrap();
    assert_eq!(seen.last_used_at, Some(t0));
    assert_eq!(last_used(store.clone()).await, Some(t0));
    store.authenticate(&text, t0 + 60_000).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(t0 + 60_000));
    // A refused authentication records nothing.
    store.revoke_token(token.id).await.unwrap();
    assert_eq!(store.authenticate(&text, t0 + 600_000).await.unwrap(), None);
    assert_eq!(last_used(store.clone()).await, Some(t0 + 60_000));
    store.close().await;
}

async fn bootstrap_admin_is_idempotent(db: TestDb) {
    let store = db.open().await;
    let bootstrap = "slc_0123456789abcdef0123456789abcdef";
    let (admin, registered) = store.ensure_bootstrap_admin(bootstrap).await.unwrap();
    assert!(registered);
    assert_eq!(admin.name, "admin");
    assert!(admin.platform_admin && !admin.disabled);
    let revision = store.revision().await.unwrap();

    // Again, and from a second process: nothing new.
    assert_eq!(store.ensure_bootstrap_admin(bootstrap).await.unwrap(), (admin.clone(), false));
    let other = db.open().await;
    assert_eq!(other.ensure_bootstrap_admin(bootstrap).await.unwrap(), (admin.clone(), false));
    other.close().await;
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.list_users().await.unwrap(), vec![admin.clone()]);
    let tokens = store.list_tokens(admin.id).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].name.as_str(), tokens[0].prefix.as_str(), tokens[0].expires_at),
        ("bootstrap", "slc_0123", None)
    );
    let hash = db.raw_text("SELECT token_hash FROM api_tokens WHERE id = $1", tokens[0].id).await.unwrap();
    assert_eq!(hash, catalog::store::hash_token(bootstrap));

    let (user, token) = store.authenticate(bootstrap, now_ms()).await.unwrap().unwrap();
    assert_eq!((user.id, token.id), (admin.id, tokens[0].id));

    // Another bootstrap token joins the first; a revoked one stays revoked.
    let (_, registered) = store.ensure_bootstrap_admin("another-configured-token").await.unwrap();
    assert!(registered);
    assert_eq!(store.list_tokens(admin.id).await.unwrap().len(), 2);
    assert!(store.authenticate(bootstrap, now_ms()).await.unwrap().is_some());
    store.revoke_token(tokens[0].id).await.unwrap();
    assert!(!store.ensure_bootstrap_admin(bootstrap).await.unwrap().1);
    assert_eq!(store.authenticate(bootstrap, now_ms()).await.unwrap(), None);
    assert!(matches!(store.ensure_bootstrap_admin("  ").await, Err(StoreError::Invalid(_))));
    // A short configured token shows little in lists.
    let short = store.list_tokens(admin.id).await.unwrap()[1].prefix.clone();
    assert_eq!(short, "anothe");
    store.close().await;
}

async fn members_have_one_role_per_workgroup(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let jane = store.create_user("jane", "", false).await.unwrap();
    let joe = store.create_user("joe", "", false).await.unwrap();

    let member = store.add_member(sales.id, jane.id, WorkgroupRole::Developer).await.unwrap();
    assert_eq!((member.workgroup_id, member.user_id, member.role), (sales.id, jane.id, WorkgroupRole::Developer));
    assert!(member.added_at > 0);
    store.add_member(sales.id, joe.id, WorkgroupRole::Viewer).await.unwrap();
    store.add_member(ops.id, jane.id, WorkgroupRole::Admin).await.unwrap();

    // Adding again changes the role and keeps when the member was added.
    let promoted = store.add_member(sales.id, jane.id, WorkgroupRole::Admin).await.unwrap();
    assert_eq!((promoted.role, promoted.added_at), (WorkgroupRole::Admin, member.added_at));
    let revision = store.revision().await.unwrap();
    assert_eq!(store.add_member(sales.id, jane.id, WorkgroupRole::Admin).await.unwrap(), promoted);
    assert_eq!(store.revision().await.unwrap(), revision);

    assert_eq!(store.membership(sales.id, jane.id).await.unwrap(), Some(WorkgroupRole::Admin));
    assert_eq!(store.membership(sales.id, joe.id).await.unwrap(), Some(WorkgroupRole::Viewer));
    assert_eq!(store.membership(ops.id, joe.id).await.unwrap(), None);
    let members = store.members(sales.id).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.user_id, m.role)).collect::<Vec<_>>(),
        vec![(jane.id, WorkgroupRole::Admin), (joe.id, WorkgroupRole::Viewer)]
    );
    let of_jane = store.workgroups_of(jane.id).await.unwrap();
    assert_eq!(of_jane, vec![(sales.clone(), WorkgroupRole::Admin), (ops.clone(), WorkgroupRole::Admin)]);
    assert_eq!(store.workgroups_of(9_999).await.unwrap(), vec![]);
    let shown = serde_json::to_value(promoted).unwrap();
    assert_eq!((shown["role"].as_str(), shown["workgroupId"].as_i64()), (Some("admin"), Some(sales.id)));

    assert_not_found(store.add_member(9_999, jane.id, WorkgroupRole::Viewer).await, "workgroup");
    assert_not_found(store.add_member(sales.id, 9_999, WorkgroupRole::Viewer).await, "user");

    store.remove_member(sales.id, joe.id).await.unwrap();
    assert_eq!(store.membership(sales.id, joe.id).await.unwrap(), None);
    assert_not_found(store.remove_member(sales.id, joe.id).await, "member");
    assert_eq!(store.members(sales.id).await.unwrap().len(), 1);
    assert_eq!(store.members(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn audit_entries_read_newest_first_in_pages(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let entry = |action: &str, workgroup_id: Option<i64>, target: &str| AuditEntry {
        id: 0,
        at: 0,
        actor: "jane".into(),
        action: action.into(),
        workgroup_id,
        target: target.into(),
        detail: serde_json::json!({"name": target}),
    };
    let revision = store.revision().await.unwrap();
    let mut appended = Vec::new();
    for (i, action) in ["api.create", "api.update", "version.publish", "user.create", "api.delete"].iter().enumerate() {
        let workgroup_id = if action.starts_with("user") { None } else { Some(sales.id) };
        appended.push(store.audit(&entry(action, workgroup_id, &format!("api:{i}"))).await.unwrap());
    }
    assert!(appended.windows(2).all(|w| w[0].id < w[1].id));
    assert!(appended[0].at > 0);
    // Bookkeeping: appending leaves the revision alone.
    assert_eq!(store.revision().await.unwrap(), revision);

    let all = store.audit_log(None, 100, None).await.unwrap();
    assert_eq!(all, appended.iter().rev().cloned().collect::<Vec<_>>());
    let of_sales = store.audit_log(Some(sales.id), 100, None).await.unwrap();
    assert_eq!(
        of_sales.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["api.delete", "version.publish", "api.update", "api.create"]
    );
    // Pages: pass the last id seen.
    let first = store.audit_log(Some(sales.id), 2, None).await.unwrap();
    assert_eq!(first, of_sales[..2]);
    let second = store.audit_log(Some(sales.id), 2, Some(first[1].id)).await.unwrap();
    assert_eq!(second, of_sales[2..]);
    assert_eq!(store.audit_log(Some(sales.id), 2, Some(second[1].id)).await.unwrap(), vec![]);
    assert_eq!(store.audit_log(Some(9_999), 10, None).await.unwrap(), vec![]);
    assert_eq!(store.audit_log(None, 0, None).await.unwrap(), vec![]);

    // A given time is kept; secrets in details are masked before they are stored.
    let secretive = AuditEntry {
        at: 1_700_000_000_000,
        detail: serde_json::json!({"connection": {"host": "db", "password": "hunter2"}, "appSecret": "s3"}),
        ..entry("datasource.update", Some(sales.id), "datasource:1")
    };
    let stored = store.audit(&secretive).await.unwrap();
    assert_eq!(stored.at, 1_700_000_000_000);
    let raw = db.raw_text("SELECT detail_json FROM audit_log WHERE id = $1", stored.id).await.unwrap();
    assert!(!raw.contains("hunter2") && !raw.contains("s3\""), "{raw}");
    assert!(raw.contains("\"host\":\"db\""), "{raw}");
    assert_eq!(store.audit_log(None, 1, None).await.unwrap(), vec![stored]);
    assert!(matches!(
        store.audit(&AuditEntry { actor: " ".into(), ..secretive.clone() }).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(store.audit(&AuditEntry { action: "".into(), ..secretive }).await, Err(StoreError::Invalid(_))));

    // Entries outlive their workgroup.
    store.delete_workgroup(sales.id).await.unwrap();
    assert_eq!(store.audit_log(Some(sales.id), 100, None).await.unwrap().len(), 5);
    store.close().await;
}

async fn access_writes_bump_the_revision_and_bookkeeping_does_not(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    let mut last = store.revision().await.unwrap();
    async fn moved(store: &Store, last: &mut i64, what: &str) {
        let now = store.revision().await.unwrap();
        assert!(now > *last, "{what} did not bump the revision ({now} after {last})");
        *last = now;
    }
    async fn still(store: &Store, last: i64, what: &str) {
        assert_eq!(store.revision().await.unwrap(), last, "{what} bumped the revision");
    }

    let jane = store.create_user("jane", "", true).await.unwrap();
    moved(&store, &mut last, "create_user").await;
    store.update_user(jane.id, &UserUpdate { display_name: Some("J".into()), ..UserUpdate::default() }).await.unwrap();
    moved(&store, &mut last, "update_user").await;
    let (token, text) = store.create_token(jane.id, "ci", None).await.unwrap();
    moved(&store, &mut last, "create_token").await;
    store.ensure_bootstrap_admin("bootstrap-token-for-the-revision-test").await.unwrap();
    moved(&store, &mut last, "ensure_bootstrap_admin").await;
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Viewer).await.unwrap();
    moved(&store, &mut last, "add_member").await;
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Developer).await.unwrap();
    moved(&store, &mut last, "add_member (new role)").await;
    store.update_workgroup(workgroup_id, Some("d"), None).await.unwrap();
    moved(&store, &mut last, "update_workgroup").await;
    let top = store.create_folder(workgroup_id, None, "top").await.unwrap();
    moved(&store, &mut last, "create_folder").await;
    let inner = store.create_folder(workgroup_id, None, "inner").await.unwrap();
    store.rename_folder(inner.id, "inner2").await.unwrap();
    moved(&store, &mut last, "rename_folder").await;
    store.move_folder(inner.id, Some(top.id)).await.unwrap();
    moved(&store, &mut last, "move_folder").await;
    store.move_api(api.id, Some(inner.id)).await.unwrap();
    moved(&store, &mut last, "move_api").await;

    // Reads and bookkeeping leave it alone.
    store.user(jane.id).await.unwrap();
    store.user_by_name("jane").await.unwrap();
    store.list_users().await.unwrap();
    store.list_tokens(jane.id).await.unwrap();
    store.token(token.id).await.unwrap();
    store.authenticate(&text, now_ms()).await.unwrap().unwrap();
    store.members(workgroup_id).await.unwrap();
    store.membership(workgroup_id, jane.id).await.unwrap();
    store.workgroups_of(jane.id).await.unwrap();
    store.workgroup(workgroup_id).await.unwrap();
    store.folders(workgroup_id).await.unwrap();
    store.folder(top.id).await.unwrap();
    store
        .audit(&AuditEntry {
            id: 0,
            at: 0,
            actor: "jane".into(),
            action: "api.move".into(),
            workgroup_id: Some(workgroup_id),
            target: format!("api:{}", api.id),
            detail: serde_json::Value::Null,
        })
        .await
        .unwrap();
    store.audit_log(None, 10, None).await.unwrap();
    still(&store, last, "a read or bookkeeping").await;

    // So do refused writes.
    assert!(store.create_user("JANE", "", false).await.is_err());
    assert!(store.create_token(9_999, "x", None).await.is_err());
    assert!(store.add_member(9_999, jane.id, WorkgroupRole::Admin).await.is_err());
    assert!(store.create_folder(workgroup_id, None, "top").await.is_err());
    assert!(store.move_folder(top.id, Some(inner.id)).await.is_err());
    assert!(store.delete_workgroup(workgroup_id).await.is_err());
    assert!(store.remove_member(workgroup_id, 9_999).await.is_err());
    still(&store, last, "a refused write").await;

    store.revoke_token(token.id).await.unwrap();
    moved(&store, &mut last, "revoke_token").await;
    store.remove_member(workgroup_id, jane.id).await.unwrap();
    moved(&store, &mut last, "remove_member").await;
    store.delete_folder(top.id).await.unwrap();
    moved(&store, &mut last, "delete_folder").await;
    let empty = store.create_workgroup("empty", "").await.unwrap();
    moved(&store, &mut last, "create_workgroup").await;
    store.delete_workgroup(empty.id).await.unwrap();
    moved(&store, &mut last, "delete_workgroup").await;
    store.close().await;
}

async fn concurrent_tree_and_admin_changes_cannot_break_the_rules(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let demote = UserUpdate { platform_admin: Some(false), ..UserUpdate::default() };
    // The admin left from the round before, demoted once the round's pair exists.
    let mut carried: Option<i64> = None;
    for round in 0..8 {
        // Each move alone is fine; both together would make a cycle.
        let a = store.create_folder(workgroup.id, None, &format!("a{round}")).await.unwrap();
        let b = store.create_folder(workgroup.id, None, &format!("b{round}")).await.unwrap();
        let (first, second) = tokio::join!(
            tokio::spawn({
                let store = store.clone();
                async move { store.move_folder(a.id, Some(b.id)).await }
            }),
            tokio::spawn({
                let store = store.clone();
                async move { store.move_folder(b.id, Some(a.id)).await }
            }),
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.is_ok() != second.is_ok(), "round {round}: {first:?} / {second:?}");
        let (a, b) = (store.folder(a.id).await.unwrap(), store.folder(b.id).await.unwrap());
        assert!(a.parent_id.is_none() || b.parent_id.is_none(), "round {round}: a cycle {a:?} {b:?}");

        // The only two enabled admins step down at once: one of them stays.
        let x = store.create_user(&format!("x{round}"), "", true).await.unwrap();
        let y = store.create_user(&format!("y{round}"), "", true).await.unwrap();
        if let Some(previous) = carried {
            store.update_user(previous, &demote).await.unwrap();
        }
        let step_down = |id: i64| {
            let (store, demote) = (store.clone(), demote.clone());
            tokio::spawn(async move { store.update_user(id, &demote).await })
        };
        let (first, second) = tokio::join!(step_down(x.id), step_down(y.id));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.is_ok() != second.is_ok(), "round {round}: {first:?} / {second:?}");
        let admins: Vec<_> =
            store.list_users().await.unwrap().into_iter().filter(|u| u.platform_admin && !u.disabled).collect();
        assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
        carried = Some(admins[0].id);
    }
    store.close().await;
}
