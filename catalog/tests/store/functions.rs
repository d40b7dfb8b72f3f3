//! The function library (`store/functions.rs`): names per workgroup, updates, deletes refused
//! while a draft calls the function, and versions that copy the sources they call.

use catalog::model::{Api, ApiDefinition, ApiMode, ApiOptions, LibraryFunction, WorkflowSpec, source_digest};

use crate::{TestDb, assert_conflict, assert_invalid, assert_not_found, new_api};

backend_tests!(
    functions_are_named_like_nodes_and_unique_per_workgroup,
    a_version_copies_the_library_sources_it_calls,
    a_function_a_draft_calls_cannot_be_deleted,
);

const ONE: &str = "def handler(event, context):\n    return 1\n";
const TWO: &str = "def handler(event, context):\n    return 2\n";

fn function(workgroup_id: i64, name: &str, source: &str) -> LibraryFunction {
    LibraryFunction {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        description: format!("{name} for tests"),
        source: source.to_owned(),
        digest: String::new(),
        created_at: 0,
        updated_at: 0,
    }
}

/// A workflow of one function node per name in `calls`, carrying `inline` sources.
fn workflow(calls: &[&str], inline: &[(&str, &str)]) -> ApiDefinition {
    let mut nodes: Vec<serde_json::Value> = calls
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({"id": format!("n{i}"), "kind": "function", "function": name, "next": [format!("n{}", i + 1)]}))
        .collect();
    nodes.push(serde_json::json!({"id": format!("n{}", calls.len()), "kind": "end"}));
    let functions: serde_json::Map<String, serde_json::Value> =
        inline.iter().map(|(name, source)| ((*name).to_owned(), serde_json::Value::from(*source))).collect();
    let spec: WorkflowSpec =
        serde_json::from_value(serde_json::json!({"start": "n0", "nodes": nodes, "functions": functions})).unwrap();
    ApiDefinition {
        datasource_id: None,
        mode: ApiMode::Workflow(spec),
        request_params: vec![],
        response_fields: vec![],
        options: ApiOptions::default(),
    }
}

fn functions_of(definition: &ApiDefinition) -> Vec<(String, String)> {
    match &definition.mode {
        ApiMode::Workflow(spec) => spec.functions.iter().map(|(n, s)| (n.clone(), s.clone())).collect(),
        _ => panic!("not a workflow"),
    }
}

async fn functions_are_named_like_nodes_and_unique_per_workgroup(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();

    let before = store.revision().await.unwrap();
    let created = store.create_function(&function(sales.id, "to_upper", ONE)).await.unwrap();
    assert!(created.id > 0 && created.created_at > 0 && created.updated_at == created.created_at);
    assert_eq!(created.digest, source_digest(ONE));
    assert_eq!((created.workgroup_id, created.source.as_str()), (sales.id, ONE));
    assert!(store.revision().await.unwrap() > before);
    assert_eq!(store.function(sales.id, "to_upper").await.unwrap(), created);

    // One name per workgroup; another workgroup may use it, and neither sees the other's.
    assert_conflict(store.create_function(&function(sales.id, "to_upper", TWO)).await, "to_upper");
    let theirs = store.create_function(&function(ops.id, "to_upper", TWO)).await.unwrap();
    assert_eq!(store.function(ops.id, "to_upper").await.unwrap().source, TWO);
    assert_eq!(store.function(sales.id, "to_upper").await.unwrap().source, ONE);
    assert_not_found(store.function(ops.id, "only_sales").await, "function");
    store.create_function(&function(sales.id, "a-first", ONE)).await.unwrap();
    let names: Vec<String> = store.functions(sales.id).await.unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["a-first", "to_upper"]);
    assert_eq!(store.functions(ops.id).await.unwrap(), std::slice::from_ref(&theirs));
    assert!(store.functions(9_999).await.unwrap().is_empty());

    for bad in ["", "has space", "dot.ted", "ünï", &"x".repeat(65)] {
        assert_invalid(store.create_function(&function(sales.id, bad, ONE)).await, "letters, digits");
    }
    assert_invalid(store.create_function(&function(sales.id, "blank", "  \n")).await, "must not be empty");
    let huge = format!("def handler(event, context):\n    return 1\n{}", "#".repeat(70_000));
    assert_invalid(store.create_function(&function(sales.id, "huge", &huge)).await, "at most 64 KiB");
    assert_not_found(store.create_function(&function(9_999, "lost", ONE)).await, "workgroup");

    // An update replaces description and source, and the digest follows.
    let before = store.revision().await.unwrap();
    let updated = store.update_function(sales.id, "to_upper", "now two", TWO).await.unwrap();
    assert_eq!((updated.id, updated.description.as_str(), updated.source.as_str()), (created.id, "now two", TWO));
    assert_eq!(updated.digest, source_digest(TWO));
    assert!(updated.updated_at >= created.updated_at && updated.created_at == created.created_at);
    assert!(store.revision().await.unwrap() > before);
    assert_not_found(store.update_function(sales.id, "missing", "", TWO).await, "function");
    assert_invalid(store.update_function(sales.id, "to_upper", "", "").await, "must not be empty");
    // Another workgroup's function is not reachable by name from this one.
    assert_eq!(store.function(ops.id, "to_upper").await.unwrap(), theirs);

    // A workgroup takes its library with it.
    store.delete_function(ops.id, "to_upper").await.unwrap();
    store.create_function(&function(ops.id, "left", ONE)).await.unwrap();
    store.delete_workgroup(ops.id).await.unwrap();
    assert!(store.functions(ops.id).await.unwrap().is_empty());
}

async fn a_version_copies_the_library_sources_it_calls(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    store.create_function(&function(sales.id, "lib", ONE)).await.unwrap();
    store.create_function(&function(sales.id, "unused", ONE)).await.unwrap();
    store.create_function(&function(sales.id, "shadowed", ONE)).await.unwrap();
    let api: Api = store
        .create_api(&new_api(sales.id, "flow", workflow(&["lib", "shadowed", "lib"], &[("shadowed", TWO)])))
        .await
        .unwrap();
    // The draft keeps only what it was given.
    assert_eq!(functions_of(&store.api(api.id).await.unwrap().draft), [("shadowed".to_owned(), TWO.to_owned())]);

    let v0 = store.save_version(api.id, "first").await.unwrap();
    let expected = [("lib".to_owned(), ONE.to_owned()), ("shadowed".to_owned(), TWO.to_owned())];
    assert_eq!(functions_of(&v0.definition), expected, "the inline source wins; unused ones are not copied");
    assert_eq!(store.version(api.id, 0).await.unwrap(), v0);
    assert_eq!(store.versions_with_secrets(&[(api.id, 0)]).await.unwrap()[0].definition, v0.definition);

    // Changing the library leaves the saved version as it was; the next version copies anew.
    store.update_function(sales.id, "lib", "", TWO).await.unwrap();
    assert_eq!(functions_of(&store.version(api.id, 0).await.unwrap().definition), expected);
    let draft = store.api(api.id).await.unwrap().draft;
    let v1 = store.save_checked_version(api.id, "second", &draft).await.unwrap();
    assert_eq!(functions_of(&v1.definition)[0], ("lib".to_owned(), TWO.to_owned()));
    assert_ne!(v1.definition.digest(), v0.definition.digest());

    // A function in neither the workflow nor the library: a draft calling it is refused when
    // written (under the workgroup's lock, so a delete cannot slip between check and write),
    // created or updated. Another workgroup's function of that name does not count.
    store.create_function(&function(ops.id, "theirs", ONE)).await.unwrap();
    let before = store.revision().await.unwrap();
    assert_invalid(store.create_api(&new_api(sales.id, "orphan", workflow(&["lib", "theirs"], &[]))).await, "`theirs`");
    assert_invalid(store.update_draft(api.id, &workflow(&["theirs"], &[])).await, "`theirs`");
    let mut renamed = store.api(api.id).await.unwrap();
    renamed.draft = workflow(&["lib", "theirs"], &[]);
    assert_invalid(store.update_api(&renamed).await, "`theirs`");
    assert_eq!(store.revision().await.unwrap(), before);
    assert_eq!(store.api(api.id).await.unwrap().draft, draft, "the draft is as it was");
}

async fn a_function_a_draft_calls_cannot_be_deleted(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    store.create_function(&function(sales.id, "lib", ONE)).await.unwrap();
    store.create_function(&function(sales.id, "lib_2", ONE)).await.unwrap();
    store.create_function(&function(ops.id, "lib", ONE)).await.unwrap();
    let caller = store.create_api(&new_api(sales.id, "caller", workflow(&["lib"], &[]))).await.unwrap();
    let also = store.create_api(&new_api(sales.id, "also", workflow(&["lib"], &[]))).await.unwrap();
    // Carries its own `lib_2`: does not hold the library's.
    store.create_api(&new_api(sales.id, "carrier", workflow(&["lib_2"], &[("lib_2", TWO)]))).await.unwrap();
    store.save_version(caller.id, "").await.unwrap();

    assert_eq!(store.drafts_calling_function(sales.id, "lib").await.unwrap(), ["also", "caller"]);
    let before = store.revision().await.unwrap();
    let message = assert_conflict(store.delete_function(sales.id, "lib").await, "`caller`");
    assert!(message.contains("`also`"), "{message}");
    assert_eq!(store.revision().await.unwrap(), before);
    assert!(store.function(sales.id, "lib").await.is_ok());
    // `lib_2` matches `lib` as a pattern but is not called by name: only the definition counts.
    assert!(store.drafts_calling_function(sales.id, "lib_2").await.unwrap().is_empty());
    store.delete_function(sales.id, "lib_2").await.unwrap();
    assert_not_found(store.function(sales.id, "lib_2").await, "function");
    assert_not_found(store.delete_function(sales.id, "lib_2").await, "function");

    // Another workgroup's drafts do not hold this one's function, nor the other way round.
    store.delete_function(ops.id, "lib").await.unwrap();
    assert!(store.function(sales.id, "lib").await.is_ok());

    // Once the drafts no longer call it, it goes; the saved version keeps its copy.
    store.update_draft(caller.id, &workflow(&["lib"], &[("lib", TWO)])).await.unwrap();
    store.delete_api(also.id).await.unwrap();
    store.delete_function(sales.id, "lib").await.unwrap();
    assert_eq!(functions_of(&store.version(caller.id, 0).await.unwrap().definition)[0].1, ONE);
}
