//! APIs (`store/apis.rs`): creating and updating them, registered APIs and their sealed
//! constants, API settings, and finding APIs.

use catalog::model::{
    Api, ApiDefinition, ApiMode, ApiSettings, AuthMode, ConstantPosition, Environment, MAX_TAG_CHARS, MAX_TAGS,
    ScriptSpec, SecurityLevel, VisibleRange,
};
use catalog::secret::SecretBox;
use catalog::store::{ApiQuery, ApiStatus, Store, StoreError};

use crate::{
    TestDb, assert_conflict, assert_invalid, assert_not_found, constant_values, names, new_api, postgres_datasource,
    query, registered_draft, seeded, tags, wizard_draft,
};

backend_tests!(
    apis_round_trip_and_validate_references,
    update_api_replaces_metadata_and_draft,
    registered_constants_are_sealed_at_rest_and_never_read_back,
    registered_constants_without_a_value_keep_the_stored_one,
    registered_apis_have_no_datasource,
    api_settings_round_trip_are_indexed_and_update,
    find_apis_filters_alone_and_combined_with_page_totals,
    name_search_takes_wildcard_characters_literally,
);

async fn apis_round_trip_and_validate_references(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert!(api.id > 0);
    assert_eq!(store.api(api.id).await.unwrap(), api);

    let mut script = new_api(
        workgroup_id,
        "by-customer",
        ApiDefinition {
            mode: ApiMode::Script(ScriptSpec { sql: "SELECT * FROM orders WHERE customer = #{customer}".into() }),
            ..wizard_draft(datasource.id, "unused")
        },
    );
    script.method = "post".into();
    let script = store.create_api(&script).await.unwrap();
    assert_eq!(script.method, "POST");
    assert_eq!(store.api(script.id).await.unwrap(), script);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![api.clone(), script.clone()]);

    assert_conflict(
        store.create_api(&new_api(workgroup_id, "orders", wizard_draft(datasource.id, "t"))).await,
        "orders",
    );
    assert_not_found(store.create_api(&new_api(workgroup_id, "lost", wizard_draft(9_999, "t"))).await, "datasource");
    assert_not_found(store.create_api(&new_api(9_999, "lost", wizard_draft(datasource.id, "t"))).await, "workgroup");
    let mut bad_method = new_api(workgroup_id, "odd", wizard_draft(datasource.id, "t"));
    bad_method.method = "FETCH".into();
    assert!(matches!(store.create_api(&bad_method).await, Err(StoreError::Invalid(_))));

    let new_draft = wizard_draft(datasource.id, "orders_archive");
    let updated = store.update_draft(api.id, &new_draft).await.unwrap();
    assert_eq!(updated.draft, new_draft);
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    assert_not_found(store.update_draft(api.id, &wizard_draft(9_999, "t")).await, "datasource");
    assert_eq!(store.api(api.id).await.unwrap().draft, new_draft);
    store.close().await;
}

async fn update_api_replaces_metadata_and_draft(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let other = store.create_api(&new_api(workgroup_id, "other", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.save_version(api.id, "").await.unwrap();

    let edited = Api {
        name: "orders_v2".into(),
        path: "/v2/orders".into(),
        method: "post".into(),
        description: "orders, again".into(),
        draft: wizard_draft(datasource.id, "orders_archive"),
        workgroup_id: workgroup_id + 100,
        ..api.clone()
    };
    let updated = store.update_api(&edited).await.unwrap();
    // The store stamps the change itself (`details.rs` checks how).
    assert!(updated.details.updated_at >= api.details.updated_at);
    let details = updated.details.clone();
    assert_eq!(updated, Api { method: "POST".into(), workgroup_id, details, ..edited.clone() });
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    // Saved versions keep what they had.
    assert_eq!(store.version(api.id, 0).await.unwrap().definition, api.draft);

    assert_conflict(store.update_api(&Api { name: "other".into(), ..updated.clone() }).await, "other");
    assert_not_found(store.update_api(&Api { draft: wizard_draft(9_999, "t"), ..updated.clone() }).await, "datasource");
    assert_not_found(store.update_api(&Api { id: 9_999, ..updated.clone() }).await, "API");
    assert!(matches!(
        store.update_api(&Api { method: "FETCH".into(), ..updated.clone() }).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    assert_eq!(store.api(other.id).await.unwrap(), other);
    store.close().await;
}

async fn registered_constants_are_sealed_at_rest_and_never_read_back(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("partners", "").await.unwrap();
    let draft = registered_draft(&[
        ("appid", ConstantPosition::Query, Some("k3y-Query-123")),
        ("X-Api-Key", ConstantPosition::Header, Some("k3y-Header-456")),
    ]);
    let api = store.create_api(&new_api(workgroup.id, "weather", draft.clone())).await.unwrap();
    assert_eq!(api.draft, draft.redacted());
    assert_eq!(constant_values(&api.draft), vec![None, None]);

    // Not in the database in plain text, draft or version; sealed with the store's key.
    let raw = db.raw_text("SELECT draft_json FROM apis WHERE id = $1", api.id).await.unwrap();
    assert!(!raw.contains("k3y-"), "{raw}");
    assert!(raw.contains("\"sealedValue\":\"v1:"), "{raw}");
    let v0 = store.save_version(api.id, "first").await.unwrap();
    let raw = db.raw_text("SELECT definition_json FROM api_versions WHERE api_id = $1", api.id).await.unwrap();
    assert!(!raw.contains("k3y-") && raw.contains("sealedValue"), "{raw}");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM apis WHERE id = $1 AND datasource_id IS NULL", api.id).await, 1);

    // No read returns them, not even sealed.
    for shown in [
        serde_json::to_string(&store.api(api.id).await.unwrap()).unwrap(),
        serde_json::to_string(&store.list_apis(workgroup.id).await.unwrap()).unwrap(),
        serde_json::to_string(&v0).unwrap(),
        serde_json::to_string(&store.version(api.id, 0).await.unwrap()).unwrap(),
        serde_json::to_string(&store.list_versions(api.id).await.unwrap()).unwrap(),
        serde_json::to_string(&store.latest_version(api.id).await.unwrap()).unwrap(),
    ] {
        assert!(!shown.contains("k3y-") && !shown.contains("sealedValue") && !shown.contains("v1:"), "{shown}");
        assert!(shown.contains("appid") && shown.contains("X-Api-Key"), "{shown}");
    }

    // What serves a call, and what apply compares with, has them opened.
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0].datasource, None);
    assert_eq!(prod[0].version.definition, draft);
    assert_eq!(store.api_with_secrets(api.id).await.unwrap().draft, draft);
    assert_eq!(store.latest_version_with_secrets(api.id).await.unwrap().unwrap().definition, draft);

    // Another key cannot open them.
    store.close().await;
    let other = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let wrong = Store::open(&db.url, other).await.unwrap();
    assert!(matches!(wrong.published(Environment::Prod).await, Err(StoreError::Secret(_))));
    assert_eq!(constant_values(&wrong.api(api.id).await.unwrap().draft), vec![None, None]);
    // What documents read opens nothing: it reads alike with any key, without the values.
    let described = wrong.published_for_documents(Environment::Prod, |_| true).await.unwrap();
    assert_eq!(constant_values(&described[0].1.definition), vec![None, None]);
    wrong.close().await;
}

async fn registered_constants_without_a_value_keep_the_stored_one(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("partners", "").await.unwrap();
    let api = store
        .create_api(&new_api(
            workgroup.id,
            "weather",
            registered_draft(&[("appid", ConstantPosition::Query, Some("first-secret"))]),
        ))
        .await
        .unwrap();

    // An edit of what a reader saw (no values) keeps the stored value…
    let mut edited = store.api(api.id).await.unwrap();
    edited.description = "edited".into();
    store.update_api(&edited).await.unwrap();
    let opened = store.api_with_secrets(api.id).await.unwrap().draft;
    assert_eq!(constant_values(&opened), vec![Some("first-secret".to_owned())]);
    store.update_draft(api.id, &edited.draft).await.unwrap();
    assert_eq!(
        constant_values(&store.api_with_secrets(api.id).await.unwrap().draft),
        vec![Some("first-secret".into())]
    );

    // …a value replaces it, and a version keeps the value it was saved with.
    store.save_version(api.id, "").await.unwrap();
    store
        .update_draft(api.id, &registered_draft(&[("appid", ConstantPosition::Query, Some("second-secret"))]))
        .await
        .unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Test, 0).await.unwrap();
    store.publish(api.id, Environment::Prod, 1).await.unwrap();
    let test = store.published(Environment::Test).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(constant_values(&test[0].version.definition), vec![Some("first-secret".to_owned())]);
    assert_eq!(constant_values(&prod[0].version.definition), vec![Some("second-secret".to_owned())]);

    // A constant that has no stored value needs one; nothing is written.
    let revision = store.revision().await.unwrap();
    let new_constant =
        registered_draft(&[("appid", ConstantPosition::Query, None), ("X-Token", ConstantPosition::Header, None)]);
    let refused = store.update_draft(api.id, &new_constant).await;
    assert!(matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("X-Token")), "{refused:?}");
    let fresh = store.create_api(&new_api(workgroup.id, "fresh", new_constant)).await;
    assert!(matches!(&fresh, Err(StoreError::Invalid(m)) if m.contains("appid")), "{fresh:?}");
    // An empty value is refused rather than replacing the stored credential with nothing.
    let emptied = store.update_draft(api.id, &registered_draft(&[("appid", ConstantPosition::Query, Some(""))])).await;
    assert!(matches!(&emptied, Err(StoreError::Invalid(m)) if m.contains("empty value")), "{emptied:?}");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(
        constant_values(&store.api_with_secrets(api.id).await.unwrap().draft),
        vec![Some("second-secret".to_owned())]
    );
    store.close().await;
}

async fn registered_apis_have_no_datasource(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let mut with_datasource = registered_draft(&[]);
    with_datasource.datasource_id = Some(datasource.id);
    assert!(matches!(
        store.create_api(&new_api(workgroup_id, "odd", with_datasource)).await,
        Err(StoreError::Invalid(m)) if m.contains("registered")
    ));
    let mut without = wizard_draft(datasource.id, "t");
    without.datasource_id = None;
    assert!(matches!(
        store.update_draft(api.id, &without).await,
        Err(StoreError::Invalid(m)) if m.contains("wizard")
    ));
    let twice =
        registered_draft(&[("k", ConstantPosition::Query, Some("a")), ("k", ConstantPosition::Query, Some("b"))]);
    assert!(matches!(store.create_api(&new_api(workgroup_id, "twice", twice)).await, Err(StoreError::Invalid(_))));

    // A SQL API can become a registered one and back; the datasource is free once nothing uses it.
    let registered = store.update_draft(api.id, &registered_draft(&[])).await.unwrap();
    assert_eq!(registered.draft.datasource_id, None);
    store.delete_datasource(datasource.id).await.unwrap();
    let v0 = store.save_version(api.id, "").await.unwrap();
    assert_eq!(v0.definition.datasource_id, None);
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!((prod.len(), prod[0].datasource.is_none()), (1, true));
    store.close().await;
}

/// The names on the page `query` finds, and the total it reports.
async fn found(store: &Store, query: ApiQuery) -> (Vec<String>, u64) {
    let (apis, total) = store.find_apis(&query).await.unwrap();
    (apis.into_iter().map(|api| api.name).collect(), total)
}

/// `names` with the total a page of all of them reports.
fn all(items: &[&str]) -> (Vec<String>, u64) {
    (names(items), items.len() as u64)
}

async fn api_settings_round_trip_are_indexed_and_update(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, plain) = seeded(&store).await;
    let defaults = ApiSettings {
        tags: vec![],
        owner: String::new(),
        max_qps: None,
        security_level: SecurityLevel::L1,
        visible_range: VisibleRange::Private,
        auth_mode: AuthMode::App,
    };
    assert_eq!(store.api(plain.id).await.unwrap().settings, defaults);

    let settings = ApiSettings {
        tags: tags(&["daily", "finance"]),
        owner: "jane.doe".into(),
        max_qps: Some(50),
        security_level: SecurityLevel::L3,
        visible_range: VisibleRange::Public,
        auth_mode: AuthMode::None,
    };
    let mut input = new_api(workgroup_id, "ledger", wizard_draft(datasource.id, "ledger"));
    input.settings = settings.clone();
    let ledger = store.create_api(&input).await.unwrap();
    assert_eq!(ledger.settings, settings);
    assert_eq!(store.api(ledger.id).await.unwrap(), ledger);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![plain.clone(), ledger.clone()]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 2);
    let level = db.raw_text("SELECT security_level FROM apis WHERE id = $1", ledger.id).await;
    assert_eq!(level.as_deref(), Some("L3"));
    assert_eq!(db.raw_text("SELECT visible_range FROM apis WHERE id = $1", ledger.id).await.as_deref(), Some("public"));
    assert_eq!(db.raw_text("SELECT auth_mode FROM apis WHERE id = $1", ledger.id).await.as_deref(), Some("none"));
    let largest = ApiSettings { max_qps: Some(u32::MAX), ..settings.clone() };
    let updated = store.update_api(&Api { settings: largest.clone(), ..ledger.clone() }).await.unwrap();
    assert_eq!(store.api(ledger.id).await.unwrap().settings, largest);
    assert_eq!(updated.settings, largest);

    // An update replaces every setting, and the tag index with them.
    let changed = ApiSettings {
        tags: tags(&["audit", "finance", "monthly"]),
        owner: "ops team".into(),
        max_qps: None,
        security_level: SecurityLevel::L2,
        visible_range: VisibleRange::Private,
        auth_mode: AuthMode::App,
    };
    let updated = store.update_api(&Api { settings: changed.clone(), ..ledger.clone() }).await.unwrap();
    assert_eq!(updated.settings, changed);
    assert_eq!(store.api(ledger.id).await.unwrap(), updated);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 3);
    assert_eq!(found(&store, ApiQuery { tag: Some("daily".into()), ..query(workgroup_id) }).await, all(&[]));
    assert_eq!(found(&store, ApiQuery { tag: Some("monthly".into()), ..query(workgroup_id) }).await, all(&["ledger"]));
    // Other updates keep the settings they are given; the draft alone leaves them as they are.
    let updated = store.update_draft(ledger.id, &wizard_draft(datasource.id, "ledger_v2")).await.unwrap();
    assert_eq!(updated.settings, changed);

    // Refused settings, on create and on update, leave everything as it was.
    let revision = store.revision().await.unwrap();
    let too_long = "x".repeat(MAX_TAG_CHARS + 1);
    let too_many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
    let refused = [
        (ApiSettings { tags: too_many, ..changed.clone() }, "tags"),
        (ApiSettings { tags: tags(&["a,b"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&[""]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&[" padded"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&["line\nbreak"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: vec![too_long], ..changed.clone() }, "tag"),
        (ApiSettings { max_qps: Some(0), ..changed.clone() }, "QPS"),
    ];
    for (settings, mentions) in refused {
        let mut input = new_api(workgroup_id, "refused", wizard_draft(datasource.id, "t"));
        input.settings = settings.clone();
        assert_invalid(store.create_api(&input).await, mentions);
        assert_invalid(store.update_api(&Api { settings, ..updated.clone() }).await, mentions);
    }
    let longest = "y".repeat(MAX_TAG_CHARS);
    let most: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.api(ledger.id).await.unwrap(), updated);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap().len(), 2);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id > $1", 0).await, 3);
    // The limits themselves are fine.
    let at_limits = ApiSettings { tags: most.clone(), ..changed.clone() };
    assert_eq!(store.update_api(&Api { settings: at_limits, ..updated.clone() }).await.unwrap().settings.tags, most);
    let one_long = ApiSettings { tags: vec![longest.clone()], ..changed.clone() };
    let updated = store.update_api(&Api { settings: one_long, ..updated.clone() }).await.unwrap();
    assert_eq!(updated.settings.tags, vec![longest]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 1);
    let untagged = store.update_api(&Api { settings: defaults.clone(), ..updated.clone() }).await.unwrap();
    assert_eq!(untagged.settings, defaults);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 0);

    // Settings go with the API wherever it is served.
    let served = store.update_api(&Api { settings: changed.clone(), ..untagged }).await.unwrap();
    store.save_version(ledger.id, "").await.unwrap();
    store.publish(ledger.id, Environment::Prod, 0).await.unwrap();
    let published = store.published(Environment::Prod).await.unwrap();
    assert_eq!(published[0].api.settings, changed);
    assert_eq!(published[0].api, served);
    let json = serde_json::to_value(&served).unwrap();
    assert_eq!(json["securityLevel"], "L2");
    assert_eq!(json["tags"], serde_json::json!(["audit", "finance", "monthly"]));
    assert_not_found(store.update_api(&Api { id: 9_999, ..served }).await, "API");
    store.close().await;
}

async fn find_apis_filters_alone_and_combined_with_page_totals(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let datasource = store.create_datasource(&postgres_datasource(workgroup.id, "w", None)).await.unwrap();
    let reports = store.create_folder(workgroup.id, None, "reports").await.unwrap();
    let daily = store.create_folder(workgroup.id, Some(reports.id), "daily").await.unwrap();
    let create = |name: &'static str, folder: Option<i64>, tag_list: &'static [&'static str]| {
        let store = store.clone();
        let mut api = new_api(workgroup.id, name, wizard_draft(datasource.id, "t"));
        api.folder_id = folder;
        api.settings.tags = tags(tag_list);
        async move { store.create_api(&api).await.unwrap() }
    };
    let orders = create("orders", None, &["daily", "sales"]).await;
    let lines = create("Order_Lines", Some(reports.id), &["sales"]).await;
    let customers = create("customers", Some(reports.id), &["crm"]).await;
    let refunds = create("refunds", None, &["crm", "sales"]).await;
    create("order-archive", Some(reports.id), &[]).await;
    let deep = create("deep", Some(daily.id), &["sales"]).await;
    for api in [&orders, &lines, &refunds, &customers] {
        store.save_version(api.id, "").await.unwrap();
    }
    store.publish(orders.id, Environment::Prod, 0).await.unwrap();
    store.publish(lines.id, Environment::Test, 0).await.unwrap();
    store.publish(refunds.id, Environment::Prod, 0).await.unwrap();
    store.publish(refunds.id, Environment::Test, 0).await.unwrap();
    // `customers` has a version but is published nowhere: a draft as far as the list goes.

    // Another workgroup's APIs never show, whatever matches.
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let ops_source = store.create_datasource(&postgres_datasource(ops.id, "w", None)).await.unwrap();
    let mut foreign = new_api(ops.id, "orders", wizard_draft(ops_source.id, "t"));
    // Its own path: another workgroup's path is never free (see the route space).
    foreign.path = "/ops/orders".into();
    foreign.settings.tags = tags(&["sales"]);
    let foreign = store.create_api(&foreign).await.unwrap();
    store.save_version(foreign.id, "").await.unwrap();
    store.publish(foreign.id, Environment::Prod, 0).await.unwrap();

    let wg = workgroup.id;
    let every = ["orders", "Order_Lines", "customers", "refunds", "order-archive", "deep"];
    assert_eq!(found(&store, query(wg)).await, all(&every));
    // Each filter alone.
    assert_eq!(found(&store, ApiQuery { folder: Some(None), ..query(wg) }).await, all(&["orders", "refunds"]));
    assert_eq!(
        found(&store, ApiQuery { folder: Some(Some(reports.id)), ..query(wg) }).await,
        all(&["Order_Lines", "customers", "order-archive"]),
        "a folder lists its own APIs, not its subfolders'"
    );
    assert_eq!(found(&store, ApiQuery { folder: Some(Some(daily.id)), ..query(wg) }).await, all(&["deep"]));
    assert_eq!(found(&store, ApiQuery { folder: Some(Some(9_999)), ..query(wg) }).await, all(&[]));
    let tagged = |tag: &str| ApiQuery { tag: Some(tag.to_owned()), ..query(wg) };
    assert_eq!(found(&store, tagged("sales")).await, all(&["orders", "Order_Lines", "refunds", "deep"]));
    assert_eq!(found(&store, tagged("crm")).await, all(&["customers", "refunds"]));
    assert_eq!(found(&store, tagged("daily")).await, all(&["orders"]), "a tag, not a folder name");
    assert_eq!(found(&store, tagged("sal")).await, all(&[]), "tags match whole");
    assert_eq!(found(&store, tagged("nope")).await, all(&[]));
    let named = |part: &str| ApiQuery { name_contains: Some(part.to_owned()), ..query(wg) };
    assert_eq!(found(&store, named("order")).await, all(&["orders", "Order_Lines", "order-archive"]));
    assert_eq!(found(&store, named("ORDER")).await, all(&["orders", "Order_Lines", "order-archive"]));
    assert_eq!(found(&store, named("r_l")).await, all(&["Order_Lines"]));
    assert_eq!(found(&store, named("LINES")).await, all(&["Order_Lines"]));
    assert_eq!(found(&store, named("zzz")).await, all(&[]));
    let with = |status: ApiStatus| ApiQuery { status: Some(status), ..query(wg) };
    assert_eq!(found(&store, with(ApiStatus::Published)).await, all(&["orders", "Order_Lines", "refunds"]));
    assert_eq!(found(&store, with(ApiStatus::Draft)).await, all(&["customers", "order-archive", "deep"]));
    assert_eq!(found(&store, with(ApiStatus::In(Environment::Prod))).await, all(&["orders", "refunds"]));
    assert_eq!(found(&store, with(ApiStatus::In(Environment::Test))).await, all(&["Order_Lines", "refunds"]));

    // Combined: every filter must match.
    let combined = ApiQuery { folder: Some(Some(reports.id)), name_contains: Some("order".into()), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&["Order_Lines", "order-archive"]));
    let combined = ApiQuery { tag: Some("sales".into()), status: Some(ApiStatus::In(Environment::Prod)), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&["orders", "refunds"]));
    let combined = ApiQuery {
        folder: Some(None),
        tag: Some("sales".into()),
        name_contains: Some("REF".into()),
        status: Some(ApiStatus::Published),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&["refunds"]));
    let combined = ApiQuery {
        folder: Some(Some(reports.id)),
        tag: Some("crm".into()),
        status: Some(ApiStatus::Draft),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&["customers"]));
    let combined = ApiQuery {
        tag: Some("crm".into()),
        name_contains: Some("cust".into()),
        status: Some(ApiStatus::In(Environment::Test)),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&[]));
    let combined = ApiQuery { folder: Some(None), status: Some(ApiStatus::Draft), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&[]));

    // Pages: oldest first, each with the total of all matches.
    let page = |limit: u64, offset: u64| ApiQuery { limit, offset, ..query(wg) };
    assert_eq!(found(&store, page(2, 0)).await, (names(&["orders", "Order_Lines"]), 6));
    assert_eq!(found(&store, page(2, 2)).await, (names(&["customers", "refunds"]), 6));
    assert_eq!(found(&store, page(2, 4)).await, (names(&["order-archive", "deep"]), 6));
    assert_eq!(found(&store, page(4, 4)).await, (names(&["order-archive", "deep"]), 6));
    assert_eq!(found(&store, page(2, 6)).await, (names(&[]), 6));
    assert_eq!(found(&store, page(2, 1_000)).await, (names(&[]), 6));
    let filtered_page = ApiQuery { limit: 2, offset: 2, ..named("order") };
    assert_eq!(found(&store, filtered_page).await, (names(&["order-archive"]), 3));
    let filtered_page = ApiQuery { limit: 1, offset: 0, ..tagged("sales") };
    assert_eq!(found(&store, filtered_page).await, (names(&["orders"]), 4));
    // Whole APIs come back, not just names.
    let (apis, _) = store.find_apis(&ApiQuery { folder: Some(Some(daily.id)), ..query(wg) }).await.unwrap();
    assert_eq!(apis, vec![store.api(deep.id).await.unwrap()]);

    // The other workgroup sees only its own, and an unknown one nothing.
    assert_eq!(found(&store, ApiQuery { tag: Some("sales".into()), ..query(ops.id) }).await, all(&["orders"]));
    assert_eq!(found(&store, query(9_999)).await, all(&[]));

    // Where each API is published, production first; drafts and other workgroups absent.
    let publications = store.workgroup_publications(wg).await.unwrap();
    let mut keys: Vec<i64> = publications.keys().copied().collect();
    keys.sort();
    assert_eq!(keys, vec![orders.id, lines.id, refunds.id]);
    assert_eq!(publications[&orders.id], store.publications(orders.id).await.unwrap());
    assert_eq!(publications[&lines.id], store.publications(lines.id).await.unwrap());
    let refund_envs: Vec<Environment> = publications[&refunds.id].iter().map(|p| p.environment).collect();
    assert_eq!(refund_envs, vec![Environment::Prod, Environment::Test]);
    assert_eq!(store.workgroup_publications(ops.id).await.unwrap().len(), 1);
    assert!(store.workgroup_publications(9_999).await.unwrap().is_empty());
    store.close().await;
}

async fn name_search_takes_wildcard_characters_literally(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    let every = ["orders", "a_b", "acb", "ab", "50%", "500", "5050", "bang!", "bang", "c\\d", "o'brien"];
    for name in &every[1..] {
        store.create_api(&new_api(workgroup_id, name, wizard_draft(datasource.id, "t"))).await.unwrap();
    }
    let named = |part: &str| ApiQuery { name_contains: Some(part.to_owned()), ..query(workgroup_id) };
    assert_eq!(found(&store, named("a_b")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("A_B")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("_")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("50%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("0%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("%%")).await, all(&[]));
    assert_eq!(found(&store, named("50")).await, all(&["50%", "500", "5050"]));
    assert_eq!(found(&store, named("!")).await, all(&["bang!"]));
    assert_eq!(found(&store, named("g!")).await, all(&["bang!"]));
    assert_eq!(found(&store, named("!%")).await, all(&[]));
    assert_eq!(found(&store, named("!_")).await, all(&[]));
    assert_eq!(found(&store, named("!!")).await, all(&[]));
    assert_eq!(found(&store, named("\\")).await, all(&["c\\d"]));
    assert_eq!(found(&store, named("c\\d")).await, all(&["c\\d"]));
    assert_eq!(found(&store, named("'")).await, all(&["o'brien"]));
    assert_eq!(found(&store, named("bang")).await, all(&["bang!", "bang"]));
    assert_eq!(found(&store, named("")).await, all(&every));
    store.close().await;
}
