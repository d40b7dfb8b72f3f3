//! Apps (`store/apps.rs`): keys and sealed secrets, settings, secret rotation, app tokens, and
//! disabled apps left out of the caller directory.

use catalog::model::{App, AppToken, SecurityLevel};
use catalog::secret::SecretBox;
use catalog::store::{
    APP_TOKEN_MAX_TTL_SECS, CallerDirectory, MAX_IP_ALLOW, Store, StoreError, hash_token, token_prefix,
};

use crate::{
    TestDb, assert_conflict, assert_invalid, assert_not_found, directory_entry, directory_hashes, grant_of, new_api,
    now_ms, seeded, wizard_draft,
};

backend_tests!(
    apps_get_unique_keys_and_sealed_secrets,
    apps_update_their_settings_and_delete_with_their_tokens_and_grants,
    rotating_an_app_secret_keeps_the_old_one_only_for_the_overlap,
    app_tokens_are_hashed_at_rest_and_leave_the_directory_when_revoked_or_expired,
    disabled_apps_are_absent_from_the_caller_directory,
);

async fn apps_get_unique_keys_and_sealed_secrets(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let (mobile, secret) = store.create_app(sales.id, "mobile", "the phone app").await.unwrap();
    assert!(mobile.id > 0 && mobile.created_at > 0);
    assert_eq!(
        (mobile.workgroup_id, mobile.name.as_str(), mobile.description.as_str()),
        (sales.id, "mobile", "the phone app")
    );
    assert_eq!(mobile.app_key.len(), 20);
    assert!(mobile.app_key.chars().all(|c| c.is_ascii_alphanumeric()), "{}", mobile.app_key);
    // 32 random bytes as URL-safe base64 without padding.
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{secret}");

    // At rest the secret is sealed, not stored.
    let sealed = db.raw_text("SELECT secret_sealed FROM apps WHERE id = $1", mobile.id).await.unwrap();
    assert!(sealed.starts_with("v1:"), "{sealed}");
    assert!(!sealed.contains(&secret), "{sealed}");
    assert_eq!(db.secrets().open(&sealed).unwrap(), secret);
    assert_eq!(store.app_secret(mobile.id).await.unwrap(), secret);
    assert!(!serde_json::to_string(&store.app_by_key(&mobile.app_key).await.unwrap()).unwrap().contains(&secret));

    // Names are unique per workgroup, keys and secrets everywhere.
    assert_conflict(store.create_app(sales.id, "mobile", "").await, "mobile");
    let (ops_mobile, ops_secret) = store.create_app(ops.id, "mobile", "").await.unwrap();
    let (web, _) = store.create_app(sales.id, "web", "").await.unwrap();
    assert_ne!(ops_mobile.app_key, mobile.app_key);
    assert_ne!(web.app_key, mobile.app_key);
    assert_ne!(ops_secret, secret);
    assert_not_found(store.create_app(9_999, "lost", "").await, "workgroup");
    assert!(matches!(store.create_app(sales.id, " ", "").await, Err(StoreError::Invalid(_))));

    assert_eq!(store.apps(sales.id).await.unwrap(), vec![mobile.clone(), web.clone()]);
    assert_eq!(store.apps(ops.id).await.unwrap(), vec![ops_mobile.clone()]);
    assert_eq!(store.apps(9_999).await.unwrap(), vec![]);
    assert_eq!(store.app_by_key(&web.app_key).await.unwrap(), web);
    assert_not_found(store.app_by_key("no-such-key").await, "app");
    assert_not_found(store.app_secret(9_999).await, "app");

    // A store opened with another key cannot read the secret.
    store.close().await;
    let other_key = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open(&db.url, other_key).await.unwrap();
    assert_eq!(store.app_by_key(&mobile.app_key).await.unwrap(), mobile);
    assert!(matches!(store.app_secret(mobile.id).await, Err(StoreError::Secret(_))));
    store.close().await;
}

async fn apps_update_their_settings_and_delete_with_their_tokens_and_grants(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let (mobile, secret) = store.create_app(workgroup_id, "mobile", "the phone app").await.unwrap();
    assert_eq!(
        (mobile.ip_allow.clone(), mobile.clearance, mobile.disabled, mobile.previous_secret_expires_at),
        (vec![], SecurityLevel::L1, false, None)
    );
    assert_eq!(store.app(mobile.id).await.unwrap(), mobile);
    assert_not_found(store.app(9_999).await, "app");
    let (web, web_secret) = store.create_app(workgroup_id, "web", "").await.unwrap();

    let wanted = App {
        name: "mobile-v2".into(),
        description: "the new phone app".into(),
        ip_allow: vec!["10.0.0.0/8".into(), "2001:db8::/32".into(), "192.0.2.7".into()],
        clearance: SecurityLevel::L3,
        disabled: true,
        ..mobile.clone()
    };
    let updated = store.update_app(&wanted).await.unwrap();
    assert_eq!(updated, wanted);
    assert_eq!(store.app(mobile.id).await.unwrap(), wanted);
    assert_eq!(store.apps(workgroup_id).await.unwrap(), vec![wanted.clone(), web.clone()]);
    assert_eq!(db.raw_text("SELECT clearance FROM apps WHERE id = $1", mobile.id).await.as_deref(), Some("L3"));
    // Key, secret, workgroup, creation time and rotation state are not the update's to change.
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let sneaky = App {
        workgroup_id: ops.id,
        app_key: "chosen-by-the-caller".into(),
        created_at: 1,
        previous_secret_expires_at: Some(i64::MAX),
        ..wanted.clone()
    };
    assert_eq!(store.update_app(&sneaky).await.unwrap(), wanted);
    assert_eq!(store.app_secret(mobile.id).await.unwrap(), secret);
    assert_eq!(store.app_by_key(&mobile.app_key).await.unwrap(), wanted);
    assert_eq!(store.apps(ops.id).await.unwrap(), vec![]);

    // Refusals change nothing.
    let revision = store.revision().await.unwrap();
    assert_conflict(store.update_app(&App { name: "web".into(), ..wanted.clone() }).await, "web");
    assert_invalid(store.update_app(&App { name: "  ".into(), ..wanted.clone() }).await, "name");
    let too_many: Vec<String> = (0..=MAX_IP_ALLOW).map(|i| format!("10.0.{}.{}/32", i / 256, i % 256)).collect();
    assert_invalid(store.update_app(&App { ip_allow: too_many, ..wanted.clone() }).await, "at most");
    assert_not_found(store.update_app(&App { id: 9_999, ..wanted.clone() }).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.app(mobile.id).await.unwrap(), wanted);
    let most: Vec<String> = (0..MAX_IP_ALLOW).map(|i| format!("10.1.0.{i}/32")).collect();
    let at_limit = store.update_app(&App { ip_allow: most.clone(), ..wanted.clone() }).await.unwrap();
    assert_eq!(store.app(mobile.id).await.unwrap().ip_allow, most);
    // A name freed by an update can be taken.
    store.create_app(workgroup_id, "mobile", "").await.unwrap();

    // Deleting an app takes its tokens and grants, and only its own.
    let enabled = store.update_app(&App { disabled: false, ..at_limit }).await.unwrap();
    let (token, _) = store.issue_app_token(mobile.id, 600).await.unwrap();
    let (web_token, web_text) = store.issue_app_token(web.id, 600).await.unwrap();
    let keeper = store.create_api(&new_api(workgroup_id, "keeper", wizard_draft(datasource.id, "t"))).await.unwrap();
    for (api_id, app_id) in [(api.id, enabled.id), (keeper.id, enabled.id), (api.id, web.id)] {
        store.grant(&grant_of(api_id, app_id)).await.unwrap();
    }
    store.delete_app(mobile.id).await.unwrap();
    assert_not_found(store.app(mobile.id).await, "app");
    assert_not_found(store.app_secret(mobile.id).await, "app");
    assert_not_found(store.app_by_key(&mobile.app_key).await, "app");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", mobile.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", mobile.id).await, 0);
    assert_eq!(store.app_tokens(mobile.id).await.unwrap(), vec![]);
    assert_eq!(store.grants_of_app(mobile.id).await.unwrap(), vec![]);
    assert_not_found(store.revoke_app_token(mobile.id, token.id).await, "app token");
    let remaining: Vec<(i64, i64)> =
        store.grants_of_api(api.id).await.unwrap().iter().map(|g| (g.api_id, g.app_id)).collect();
    assert_eq!(remaining, vec![(api.id, web.id)]);
    assert_eq!(store.grants_of_api(keeper.id).await.unwrap(), vec![]);
    assert_eq!(store.app_tokens(web.id).await.unwrap(), vec![web_token]);
    let directory = store.caller_directory().await.unwrap();
    assert!(directory_entry(&directory, mobile.id).is_none());
    assert_eq!(directory_entry(&directory, web.id).unwrap().secret, web_secret);
    assert_eq!(directory_hashes(&directory), vec![hash_token(&web_text)]);
    assert_eq!(directory.grants.len(), 1);
    assert_not_found(store.delete_app(mobile.id).await, "app");
    assert_not_found(store.issue_app_token(mobile.id, 60).await, "app");
    assert_not_found(store.grant(&grant_of(api.id, mobile.id)).await, "app");
    store.close().await;
}

async fn rotating_an_app_secret_keeps_the_old_one_only_for_the_overlap(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let (app, s0) = store.create_app(workgroup.id, "mobile", "").await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.as_str(), entry.previous_secret.clone()), (s0.as_str(), None));
    assert_eq!(entry.app, app);

    let before = now_ms();
    let (rotated, s1) = store.rotate_app_secret(app.id, 3_600).await.unwrap();
    let until = rotated.previous_secret_expires_at.expect("the old secret stays for the overlap");
    assert!((before + 3_600_000..=now_ms() + 3_600_000).contains(&until), "{until}");
    assert_ne!(s1, s0);
    assert_eq!(s1.len(), 43);
    assert_eq!(rotated, App { previous_secret_expires_at: Some(until), ..app.clone() });
    assert_eq!(store.app(app.id).await.unwrap(), rotated);
    assert_eq!(store.app_secret(app.id).await.unwrap(), s1);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!(entry.secret, s1);
    assert_eq!(entry.previous_secret, Some((s0.clone(), until)));
    // Both are sealed at rest.
    let previous = db.raw_text("SELECT previous_secret_sealed FROM apps WHERE id = $1", app.id).await.unwrap();
    assert!(previous.starts_with("v1:") && !previous.contains(&s0), "{previous}");
    assert_eq!(db.secrets().open(&previous).unwrap(), s0);
    let current = db.raw_text("SELECT secret_sealed FROM apps WHERE id = $1", app.id).await.unwrap();
    assert!(!current.contains(&s1));

    // Rotating again keeps only the secret just replaced; the one before is dropped.
    let (rotated, s2) = store.rotate_app_secret(app.id, 60).await.unwrap();
    let until = rotated.previous_secret_expires_at.unwrap();
    assert!(until <= now_ms() + 60_000);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s2.clone(), Some((s1.clone(), until))));

    // Once the overlap is over, the old secret is gone from the directory and the app.
    db.raw_execute("UPDATE apps SET previous_secret_expires_at = 1000 WHERE id = $1", app.id).await;
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s2.clone(), None));
    assert_eq!(entry.app.previous_secret_expires_at, None);
    assert_eq!(store.app(app.id).await.unwrap().previous_secret_expires_at, None);
    // And for real: a one-second overlap.
    let (_, s3) = store.rotate_app_secret(app.id, 1).await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory_entry(&directory, app.id).unwrap().previous_secret.as_ref().map(|p| &p.0), Some(&s2));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s3.clone(), None));

    // No overlap: the replaced secret stops at once, and nothing of it is kept.
    store.rotate_app_secret(app.id, 3_600).await.unwrap();
    let (rotated, s5) = store.rotate_app_secret(app.id, 0).await.unwrap();
    assert_eq!(rotated.previous_secret_expires_at, None);
    assert_eq!(store.app(app.id).await.unwrap().previous_secret_expires_at, None);
    assert_eq!(db.raw_text("SELECT previous_secret_sealed FROM apps WHERE id = $1", app.id).await, None);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s5.clone(), None));

    // Refusals change nothing.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.rotate_app_secret(app.id, -1).await, "overlap");
    assert_invalid(store.rotate_app_secret(app.id, 30 * 24 * 3_600 + 1).await, "overlap");
    assert_not_found(store.rotate_app_secret(9_999, 60).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.app_secret(app.id).await.unwrap(), s5);
    let (longest, _) = store.rotate_app_secret(app.id, 30 * 24 * 3_600).await.unwrap();
    assert!(longest.previous_secret_expires_at.unwrap() >= now_ms() + 30 * 24 * 3_600_000 - 60_000);
    store.close().await;
}

async fn app_tokens_are_hashed_at_rest_and_leave_the_directory_when_revoked_or_expired(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let (app, _) = store.create_app(workgroup.id, "mobile", "").await.unwrap();
    let (other, _) = store.create_app(workgroup.id, "web", "").await.unwrap();

    let (first, text) = store.issue_app_token(app.id, 3_600).await.unwrap();
    assert!(text.starts_with("sat_") && text.len() > 40, "{text}");
    assert_eq!(first.prefix, token_prefix(&text));
    assert!(text.starts_with(&first.prefix) && first.prefix.len() < text.len() / 2);
    assert_eq!((first.app_id, first.revoked), (app.id, false));
    assert_eq!(first.expires_at - first.created_at, 3_600_000);
    // Only the hash is stored; nothing in the row gives the text back.
    let stored_hash = db.raw_text("SELECT token_hash FROM app_tokens WHERE id = $1", first.id).await.unwrap();
    assert_eq!(stored_hash, hash_token(&text));
    assert_ne!(stored_hash, text);
    let stored_prefix = db.raw_text("SELECT prefix FROM app_tokens WHERE id = $1", first.id).await.unwrap();
    assert_eq!(stored_prefix, first.prefix);
    let whole = db
        .raw_text(
            "SELECT prefix || '|' || token_hash || '|' || CAST(app_id AS TEXT) FROM app_tokens WHERE id = $1",
            first.id,
        )
        .await
        .unwrap();
    assert!(!whole.contains(&text[first.prefix.len()..]), "{whole}");
    assert!(!serde_json::to_string(&first).unwrap().contains(&text));
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![first.clone()]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory_hashes(&directory), vec![hash_token(&text)]);
    assert_eq!((directory.tokens[0].app_id, directory.tokens[0].expires_at), (app.id, first.expires_at));

    let (second, second_text) = store.issue_app_token(app.id, 60).await.unwrap();
    let (others, others_text) = store.issue_app_token(other.id, 60).await.unwrap();
    assert_ne!(second_text, text);
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![second.clone(), first.clone()], "newest first");

    // A revoked token stays listed as revoked and leaves the directory.
    store.revoke_app_token(app.id, first.id).await.unwrap();
    let listed = store.app_tokens(app.id).await.unwrap();
    assert_eq!(listed, vec![second.clone(), AppToken { revoked: true, ..first.clone() }]);
    let mut hashes = directory_hashes(&store.caller_directory().await.unwrap());
    hashes.sort();
    let mut expected = vec![hash_token(&second_text), hash_token(&others_text)];
    expected.sort();
    assert_eq!(hashes, expected);
    // Only the app's own tokens can be revoked through it.
    let revision = store.revision().await.unwrap();
    assert_not_found(store.revoke_app_token(app.id, others.id).await, "app token");
    assert_not_found(store.revoke_app_token(app.id, 9_999).await, "app token");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(!store.app_tokens(other.id).await.unwrap()[0].revoked);

    // An expired token leaves the directory and the list.
    db.raw_execute("UPDATE app_tokens SET expires_at = 1000 WHERE id = $1", second.id).await;
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![AppToken { revoked: true, ..first.clone() }]);
    assert_eq!(directory_hashes(&store.caller_directory().await.unwrap()), vec![hash_token(&others_text)]);
    let (short, short_text) = store.issue_app_token(app.id, 1).await.unwrap();
    assert!(directory_hashes(&store.caller_directory().await.unwrap()).contains(&hash_token(&short_text)));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(!directory_hashes(&store.caller_directory().await.unwrap()).contains(&hash_token(&short_text)));
    assert!(!store.app_tokens(app.id).await.unwrap().iter().any(|t| t.id == short.id));

    // Lifetimes are 1 s to 30 days.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.issue_app_token(app.id, 0).await, "seconds");
    assert_invalid(store.issue_app_token(app.id, APP_TOKEN_MAX_TTL_SECS + 1).await, "seconds");
    assert_not_found(store.issue_app_token(9_999, 60).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    let (longest, _) = store.issue_app_token(app.id, APP_TOKEN_MAX_TTL_SECS).await.unwrap();
    assert_eq!(longest.expires_at - longest.created_at, APP_TOKEN_MAX_TTL_SECS * 1000);
    store.close().await;
}

async fn disabled_apps_are_absent_from_the_caller_directory(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let (mobile, mobile_secret) = store.create_app(sales.id, "mobile", "").await.unwrap();
    let (web, web_secret) = store.create_app(sales.id, "web", "").await.unwrap();
    let (batch, batch_secret) = store.create_app(ops.id, "batch", "").await.unwrap();
    let listed = |directory: &CallerDirectory| -> Vec<(i64, String)> {
        directory.apps.iter().map(|entry| (entry.app.id, entry.secret.clone())).collect()
    };

    // Every enabled app of every workgroup, with its secret opened.
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(
        listed(&directory),
        vec![(mobile.id, mobile_secret.clone()), (web.id, web_secret.clone()), (batch.id, batch_secret.clone())]
    );
    assert_eq!(directory_entry(&directory, web.id).unwrap().app, web);

    let disabled = store.update_app(&App { disabled: true, ..web.clone() }).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.app(web.id).await.unwrap(), disabled);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(listed(&directory), vec![(mobile.id, mobile_secret.clone()), (batch.id, batch_secret.clone())]);
    // Still managed: listed, and its secret unchanged.
    assert_eq!(store.apps(sales.id).await.unwrap(), vec![mobile.clone(), disabled.clone()]);
    assert_eq!(store.app_secret(web.id).await.unwrap(), web_secret);

    // Enabled again, it is back as it was.
    store.update_app(&App { disabled: false, ..disabled }).await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(listed(&directory), vec![(mobile.id, mobile_secret), (web.id, web_secret), (batch.id, batch_secret)]);
    assert_eq!(directory_entry(&directory, web.id).unwrap().app, web);

    // A store with another key cannot build the directory.
    store.close().await;
    let other = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let wrong = Store::open(&db.url, other).await.unwrap();
    assert!(matches!(wrong.caller_directory().await, Err(StoreError::Secret(_))));
    wrong.close().await;
}
