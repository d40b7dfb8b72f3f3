//! Tests of the declarative files: problems with file and line, apply twice is a no-op, the
//! examples on the demo dataset (long because each case is a YAML document inline).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use catalog::model::{Environment, ParamPosition};
use catalog::secret::SecretBox;
use catalog::store::Store;
use plugins::PluginContext;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput};

use super::load::split_documents;
use super::*;

/// A fresh directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "sluice-declarative-{label}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/examples")
}

/// The configuration's policies with `data_dir` as the data dir.
fn outbound_in(data_dir: &Path) -> config::outbound::OutboundBase {
    let dir = data_dir.display().to_string();
    let config =
        config::Config::from_sources(None, "tests", |key| (key == "SLUICE_DATA_DIR").then(|| dir.clone())).unwrap();
    config::outbound::OutboundBase::from_config(&config).unwrap()
}

/// `apply` under the default configuration, with a data dir of this process's own.
async fn apply(bundle: &Bundle, store: &Store) -> Result<ApplyReport, Vec<Problem>> {
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-data-{}", std::process::id()));
    super::apply(bundle, store, &outbound_in(&data_dir)).await
}

async fn memory_store() -> Store {
    Store::open("sqlite::memory:", SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap()).await.unwrap()
}

/// `(file name, line)` of each problem, for comparing places.
fn places(problems: &[Problem]) -> Vec<(String, usize)> {
    problems
        .iter()
        .map(|p| (p.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), p.line))
        .collect()
}

fn listing(problems: &[Problem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

fn load_text(dir: &TempDir, name: &str, text: &str) -> Result<Bundle, Vec<Problem>> {
    load(&[dir.write(name, text)])
}

const SHOP: &str = "kind: Datasource\nworkgroup: demo\nname: shop\ntype: sqlite\ndatabase: shop.db\n";

// ---------------------------------------------------------------------------------------------
// Reading

#[test]
fn documents_remember_their_first_line() {
    let text =
        "\u{feff}# leading comment\nkind: A\n---\nkind: B\n\n--- # second\n# only a comment\n---\n\nkind: C\n...\n";
    let documents = split_documents(text);
    let starts: Vec<usize> = documents.iter().map(|(line, _)| *line).collect();
    assert_eq!(starts, vec![1, 3, 8], "{documents:?}");
    // Line k of a document's text is line start + k - 1 of the file.
    assert_eq!(documents[2].1.lines().nth(2), Some("kind: C"));
    assert!(split_documents("").is_empty());
    assert!(split_documents("---\n# nothing\n---\n").is_empty());
}

#[test]
fn keys_are_found_by_following_a_path() {
    let text = "kind: Api\nname: a\nrequestParams:\n  - name: id\n    type: int\n  - name: ids\n    colum: x\n  - {name: q, type: string}\noptions:\n  maxLimit: 3\n";
    let origin = Origin::new(Path::new("f.yaml"), 10, text);
    assert_eq!(origin.line, 10);
    assert_eq!(origin.line_of(&["name"]), 11);
    assert_eq!(origin.line_of(&["requestParams", "name: ids"]), 15);
    assert_eq!(origin.line_of(&["requestParams", "name: ids", "colum"]), 16);
    assert_eq!(origin.line_of(&["requestParams", "name: q"]), 17);
    assert_eq!(origin.line_of(&["options", "maxLimit"]), 19);
    // Missing steps stop at the deepest step found.
    assert_eq!(origin.line_of(&["requestParams", "name: nope"]), 12);
    assert_eq!(origin.line_of(&["nope"]), 10);
    // A first step prefers the top-level key over a nested one written above it.
    let params_first = Origin::new(Path::new("f.yaml"), 1, "kind: Api\nrequestParams:\n  - name: id\nname: a\n");
    assert_eq!(params_first.line_of(&["name"]), 4);
    assert_eq!(params_first.line_of(&["requestParams", "name"]), 3);
}

#[test]
fn a_directory_is_read_in_name_order_and_a_file_named_twice_once() {
    let dir = TempDir::new("order");
    let b = dir.write("b.yml", SHOP);
    dir.write("a.yaml", "kind: Api\nworkgroup: demo\nname: a\npath: /a\ndatasource: shop\nmode: native\ntables: [t]\n");
    dir.write("notes.txt", "kind: Nonsense\n");
    let bundle = load(&[dir.0.clone(), b]).unwrap();
    assert_eq!(bundle.apis.len(), 1);
    assert_eq!(bundle.datasources.len(), 1, "b.yml was read twice");
    assert!(bundle.apis[0].origin.file.ends_with("a.yaml"));
    let api = &bundle.apis[0].spec;
    // Types are read with the catalog's spellings.
    let alias = load_text(
        &dir,
        "alias.yml",
        &SHOP
            .replace("name: shop\ntype: sqlite\ndatabase: shop.db", "name: pg\ntype: PostgreSQL\nhost: h\ndatabase: d"),
    )
    .unwrap();
    assert_eq!(alias.datasources[0].spec.kind, catalog::model::DatasourceKind::Postgres);
    assert_eq!((api.method.as_str(), api.publish.clone()), ("GET", vec![Environment::Prod]));
}

#[test]
fn unreadable_paths_and_empty_input_are_problems() {
    let dir = TempDir::new("missing");
    let missing = dir.0.join("nope.yaml");
    let problems = load(std::slice::from_ref(&missing)).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 0);
    assert!(problems[0].to_string().starts_with(&format!("{}: cannot read", missing.display())), "{}", problems[0]);

    let empty = TempDir::new("empty");
    let problems = load(std::slice::from_ref(&empty.0)).unwrap_err();
    assert!(problems[0].message.contains("no .yaml or .yml files"), "{}", listing(&problems));

    let problems = load_text(&dir, "comments.yaml", "# nothing here\n---\n").unwrap_err();
    assert!(problems[0].message.contains("no documents"), "{}", listing(&problems));
    assert!(load(&[]).is_err());
}

#[test]
fn syntax_and_type_errors_point_at_their_line_in_every_document() {
    let dir = TempDir::new("syntax");
    let text = "\
kind: Datasource
workgroup: demo
name: shop
type: sqlite
database: x.db
---
kind: Api
workgroup: demo
name: a
path: /a
  method: GET
---
kind: Datasource
workgroup: demo
name: pg
type: postgres
host: h
port: abc
---
kind: Datasource
workgroup: demo
name: other
type: sqlite
databse: y.db
---
kind: Datasource
workgroup: demo
name: third
type: oracle
---
kind: Gadget
name: g
---
workgroup: demo
---
kind: Api
workgroup: demo
name: b
path: /b
datasource: shop
mode: wizard
table: t
requestParams:
  - name: id
    type: int
    colum: id
responseFields:
  - name: id
    type: int
    sort: {direction: asc, priorty: 1}
options:
  maxLimt: 5
---
kind: Api
workgroup: demo
name: c
path: /c
datasource: shop
mode: graph
";
    let problems = load_text(&dir, "mixed.yaml", text).unwrap_err();
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![11, 18, 24, 29, 31, 34, 46, 50, 52, 59], "{}", listing(&problems));
    assert!(problems[0].message.starts_with("YAML syntax: "), "{}", problems[0]);
    assert!(problems[1].message.contains("port") && problems[1].message.contains("u16"), "{}", problems[1]);
    assert!(problems[2].message.contains("unknown field `databse`"), "{}", problems[2]);
    assert!(problems[3].message.contains("unknown datasource kind `oracle`"), "{}", problems[3]);
    assert!(problems[4].message.contains("unknown kind `Gadget`"), "{}", problems[4]);
    assert!(problems[5].message.contains("missing `kind`"), "{}", problems[5]);
    assert!(problems[6].message.contains("requestParams[0] (`id`): unknown key `colum`"), "{}", problems[6]);
    assert!(problems[7].message.contains("sort: unknown key `priorty`"), "{}", problems[7]);
    assert!(problems[8].message.contains("options: unknown key `maxLimt`"), "{}", problems[8]);
    assert!(problems[9].message.contains("unknown variant `graph`"), "{}", problems[9]);
    // The library's own position is not repeated after the line.
    assert!(problems.iter().all(|p| !p.message.contains(" at line ")), "{}", listing(&problems));
    assert!(problems[1].to_string().starts_with(&format!("{}:18: ", dir.0.join("mixed.yaml").display())));
}

// ---------------------------------------------------------------------------------------------
// Checking

#[test]
fn the_examples_load_and_check_clean() {
    let bundle = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let names: Vec<&str> = bundle.apis.iter().map(|a| a.spec.name.as_str()).collect();
    assert_eq!(names, vec!["customer_by_id", "orders_search", "orders_search_post", "analytics", "customer_check"]);
    let modes: Vec<ModeName> = bundle.apis.iter().map(|a| a.spec.mode).collect();
    let expected = [ModeName::Wizard, ModeName::Script, ModeName::Script, ModeName::Native, ModeName::Workflow];
    assert_eq!(modes, expected);
    assert_eq!(bundle.datasources[0].spec.database.as_deref(), Some("shop.sqlite"));
    // Seed 001's function, in the demo workgroup's library; the workflow calls it by name.
    let functions: Vec<(&str, &str)> =
        bundle.functions.iter().map(|f| (f.spec.workgroup.as_str(), f.spec.name.as_str())).collect();
    assert_eq!(functions, [("demo", "PYTHON1")]);
    assert!(bundle.functions[0].spec.source.contains("def handler(event,context):\n    # load str to json object"));
    let workflow = bundle.apis[4].spec.workflow.as_ref().unwrap();
    assert!(workflow.functions.is_empty() && workflow.library_names() == ["PYTHON1"], "{workflow:?}");
    let problems = check(&bundle, &compile_sql);
    assert!(problems.is_empty(), "{}", listing(&problems));
}

#[test]
fn check_reports_every_problem_with_its_file_and_line() {
    let dir = TempDir::new("check");
    dir.write(
        "a.yaml",
        "\
kind: Datasource
workgroup: demo
name: shop
type: sqlite
database: shop.db
host: localhost
---
kind: Api
workgroup: demo
name: bad-name
path: customers
method: FETCH
datasource: nowhere
mode: wizard
table: customers
responseFields:
  - {name: id, type: int}
",
    );
    dir.write(
        "b.yaml",
        "\
# Two APIs on one route, and mode keys mixed up.
kind: Api
workgroup: demo
name: orders
path: /orders/{id}
datasource: shop
mode: wizard
sql: SELECT 1
responseFields:
  - {name: id, type: int}
---
kind: Api
workgroup: demo
name: orders_by_key
path: /orders/{key}
datasource: shop
mode: script
sql: |
  SELECT id FROM orders
  <where>
    <if test=\"x != null\">AND id = #{nope}</if>
  </where>
requestParams:
  - {name: key, type: int, position: path}
  - {name: x, type: int}
  - {name: stray, type: int, position: path}
responseFields:
  - {name: id, type: int}
---
kind: Datasource
workgroup: demo
name: shop
type: postgres
password: x
passwordEnv: SHOP_PASSWORD
poolSize: 0
---
kind: Api
workgroup: demo
name: orders
path: /orders-again
datasource: shop
mode: native
tables: []
table: t
publish: [prod, test, prod]
",
    );
    let bundle = load(std::slice::from_ref(&dir.0)).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let problems = check(&bundle, &compile_sql);
    let expected = [
        ("a.yaml", 6, "`host` does not apply to a sqlite datasource"),
        ("a.yaml", 10, "API name `bad-name`"),
        ("a.yaml", 11, "must start with `/`"),
        ("a.yaml", 12, "method `FETCH`"),
        ("a.yaml", 13, "datasource `nowhere` is not defined in workgroup `demo`"),
        ("b.yaml", 5, "path parameter `{id}` needs a request parameter `id`"),
        ("b.yaml", 7, "wizard mode needs `table`"),
        ("b.yaml", 8, "`sql` belongs to script mode"),
        ("b.yaml", 15, "GET /orders/{key} is also the route of API `orders`"),
        ("b.yaml", 21, "nope"),
        ("b.yaml", 26, "`stray` has `position: path` but the path has no `{stray}`"),
        ("b.yaml", 32, "datasource `demo/shop` is defined twice; the first is at"),
        ("b.yaml", 33, "a postgres datasource needs `host`"),
        ("b.yaml", 33, "a postgres datasource needs `database`"),
        ("b.yaml", 35, "either `password` or `passwordEnv`"),
        ("b.yaml", 36, "`poolSize` must be at least 1"),
        ("b.yaml", 40, "API `demo/orders` is defined twice"),
        ("b.yaml", 43, "native mode needs `tables`"),
        ("b.yaml", 45, "`table` belongs to wizard mode"),
        ("b.yaml", 46, "`publish` lists prod twice"),
    ];
    let expected_places: Vec<(String, usize)> = expected.iter().map(|(f, l, _)| ((*f).to_owned(), *l)).collect();
    assert_eq!(places(&problems), expected_places, "{}", listing(&problems));
    for (problem, (_, _, text)) in problems.iter().zip(expected) {
        assert!(problem.message.contains(text), "`{problem}` lacks `{text}`");
    }
}

#[test]
fn compile_errors_point_at_the_parameter_or_field_they_name() {
    let dir = TempDir::new("compile");
    let text = format!(
        "{SHOP}---
kind: Api
workgroup: demo
name: w
path: /w/{{id}}
datasource: shop
mode: wizard
table: t
requestParams:
  - name: id
    type: int
    position: path
  - name: pageSize
    type: int
responseFields:
  - {{name: id, type: int}}
  - {{name: \"bad name\", type: int}}
options:
  maxLimit: 0
"
    );
    let bundle = load_text(&dir, "w.yaml", &text).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let problems = check(&bundle, &compile_sql);
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
    // Compilation stops at the first problem: the reserved parameter name.
    assert_eq!(problems[0].line, 18, "{}", listing(&problems));
    assert!(problems[0].message.contains("pageSize"), "{}", problems[0]);

    // With a compile callback of one's own, an error about a key outside the file is reported
    // at the mode's key.
    let refuse = |_: &catalog::model::ApiDefinition, _: &catalog::model::Datasource| {
        Err(plugins::DefinitionError::at("options.maxLimit", "no tables today"))
    };
    let problems = check(&bundle, &refuse);
    assert_eq!(places(&problems), vec![("w.yaml".to_owned(), 13)], "{}", listing(&problems));
}

// ---------------------------------------------------------------------------------------------
// Applying

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_the_examples_twice_changes_nothing_the_second_time() {
    let store = memory_store().await;
    let bundle = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let report = apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(report.workgroups_created, vec!["demo".to_owned()]);
    assert_eq!(report.datasources.len(), 1);
    assert_eq!(report.datasources[0].change, Change::Created);
    let function = ObjectOutcome { workgroup: "demo".into(), name: "PYTHON1".into(), change: Change::Created };
    assert_eq!(report.functions, [function]);
    assert_eq!(report.apis.len(), 5);
    for api in &report.apis {
        assert_eq!((api.change, api.version, api.version_saved), (Change::Created, 0, true), "{api:?}");
        assert_eq!(api.published, vec![Environment::Prod], "{api:?}");
    }
    assert!(!report.is_noop());
    let text = report.to_string();
    assert!(text.contains("api demo/customer_by_id: created, saved V0, published V0 to prod"), "{text}");

    let prod = store.published(Environment::Prod).await.unwrap();
    let served: Vec<(&str, &str, &str)> =
        prod.iter().map(|p| (p.api.name.as_str(), p.api.method.as_str(), p.api.path.as_str())).collect();
    assert_eq!(
        served,
        vec![
            ("customer_by_id", "GET", "/customers/{id}"),
            ("orders_search", "GET", "/orders/search"),
            ("orders_search_post", "POST", "/orders/search"),
            ("analytics", "GET", "/analytics/query"),
            ("customer_check", "GET", "/wf/customer-check"),
        ]
    );
    // Every data API reads the demo dataset; the workflow reads none itself.
    for p in &prod {
        let database = p.datasource.as_ref().map(|d| d.connection.database.as_str());
        let expected = if p.api.name == "customer_check" { None } else { Some("shop.sqlite") };
        assert_eq!(database, expected, "{}", p.api.name);
    }
    assert_eq!(store.published(Environment::Test).await.unwrap(), vec![]);
    // The workflow's version carries the library function's source; its draft only the name.
    let library = &bundle.functions[0].spec.source;
    let flow = prod.iter().find(|p| p.api.name == "customer_check").unwrap();
    let catalog::model::ApiMode::Workflow(carried) = &flow.version.definition.mode else { panic!("{flow:?}") };
    assert_eq!(carried.functions.get("PYTHON1"), Some(library));
    let catalog::model::ApiMode::Workflow(draft) = &flow.api.draft.mode else { panic!("{flow:?}") };
    assert!(draft.functions.is_empty());

    let revision = store.revision().await.unwrap();
    let again = apply(&load(&[examples_dir()]).unwrap(), &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert!(again.is_noop(), "{again}");
    assert!(again.apis.iter().all(|a| a.change == Change::Unchanged && a.version == 0 && !a.version_saved));
    assert!(again.to_string().ends_with("no changes: the store already matches the files"), "{again}");
    assert_eq!(store.revision().await.unwrap(), revision, "a no-op apply wrote to the store");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_what_apply_does_and_writes_nothing() {
    let store = memory_store().await;
    let bundle = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-data-{}", std::process::id()));
    let outbound = outbound_in(&data_dir);
    let revision = store.revision().await.unwrap();
    let dry = super::ApplyOptions { actor: "tester", write: super::Write::DryRun, operator: true, environment: true };
    let planned =
        super::apply_with(&bundle, &store, &outbound, dry).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(store.revision().await.unwrap(), revision, "a dry run wrote to the store");
    assert!(store.workgroup_by_name("demo").await.is_err(), "a dry run created the workgroup");
    let applied = apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(planned, applied, "the dry run said something else than apply did");
    let again = super::apply_with(&bundle, &store, &outbound, dry).await.unwrap();
    assert!(again.is_noop(), "{again}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_definition_gets_a_new_version_and_metadata_does_not() {
    let dir = TempDir::new("versions");
    let api = |table: &str, description: &str, publish: &str| {
        format!(
            "{SHOP}---\nkind: Api\nworkgroup: demo\nname: items\ndescription: {description}\npath: /items\n\
             datasource: shop\nmode: wizard\ntable: {table}\nresponseFields:\n  - {{name: id, type: int}}\npublish: {publish}\n"
        )
    };
    let store = memory_store().await;
    let file = dir.write("items.yaml", &api("items", "first", "[prod]"));
    apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();

    // Only the description: the API is updated, the version stays.
    std::fs::write(&file, api("items", "second", "[prod]")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    let outcome = &report.apis[0];
    assert_eq!((outcome.change, outcome.version, outcome.version_saved), (Change::Updated, 0, false), "{report}");
    assert!(outcome.published.is_empty());
    assert_eq!(report.datasources[0].change, Change::Unchanged);

    // Another table: V1, published to prod in place of V0.
    std::fs::write(&file, api("items_v2", "second", "[prod]")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    let outcome = &report.apis[0];
    assert_eq!((outcome.change, outcome.version, outcome.version_saved), (Change::Updated, 1, true), "{report}");
    assert_eq!(outcome.published, vec![Environment::Prod]);
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod[0].version.number, 1);
    assert_eq!(prod[0].api.description, "second");

    // Adding an environment publishes the current version there, and only there.
    std::fs::write(&file, api("items_v2", "second", "[prod, test]")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    let outcome = &report.apis[0];
    assert_eq!((outcome.change, outcome.version_saved), (Change::Unchanged, false), "{report}");
    assert_eq!(outcome.published, vec![Environment::Test]);
    assert!(report.to_string().contains("V1 is current, published V1 to test"), "{report}");
    assert_eq!(store.published(Environment::Test).await.unwrap()[0].version.number, 1);

    // Leaving an environment out never unpublishes; an empty list publishes nowhere.
    std::fs::write(&file, api("items_v3", "second", "[]")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!((report.apis[0].version, report.apis[0].published.clone()), (2, vec![]));
    assert_eq!(store.published(Environment::Prod).await.unwrap()[0].version.number, 1);
    assert_eq!(store.published(Environment::Test).await.unwrap()[0].version.number, 1);

    // Someone edits the draft elsewhere: apply puts the file's definition back, no version.
    let stored = store.list_apis(prod[0].api.workgroup_id).await.unwrap().remove(0);
    let mut edited = stored.draft.clone();
    edited.options.max_limit = 7;
    store.update_draft(stored.id, &edited).await.unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!((report.apis[0].change, report.apis[0].version_saved), (Change::Updated, false), "{report}");
    assert_eq!(store.api(stored.id).await.unwrap().draft.options.max_limit, 1000);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_apis_are_written_a_batch_to_a_transaction_and_one_change_writes_one() {
    let dir = TempDir::new("batches");
    let count = 2 * apply::APIS_PER_TRANSACTION + 50;
    let apis = |changed: Option<usize>| {
        let mut text = SHOP.to_owned();
        for i in 0..count {
            let table = if changed == Some(i) { "items_v2" } else { "items" };
            text.push_str(&format!(
                "---\nkind: Api\nworkgroup: demo\nname: items{i}\npath: /items/n{i}\ndatasource: shop\n\
                 mode: wizard\ntable: {table}\nresponseFields:\n  - {{name: id, type: int}}\npublish: [prod]\n"
            ));
        }
        text
    };
    let store = memory_store().await;
    apply(&load(&[dir.write("shop.yaml", SHOP)]).unwrap(), &store).await.unwrap();
    let before = store.revision().await.unwrap();
    let file = dir.write("shop.yaml", &apis(None));
    let report =
        apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(report.apis.len(), count);
    assert!(
        report
            .apis
            .iter()
            .all(|a| a.change == Change::Created && a.version_saved && a.published == [Environment::Prod])
    );
    assert_eq!(report.apis[count - 1].name, format!("items{}", count - 1), "the report keeps the files' order");
    assert_eq!(store.revision().await.unwrap(), before + 3, "three batches, one transaction each");
    assert_eq!(store.published(Environment::Prod).await.unwrap().len(), count);

    // Unchanged files: compared by digests, nothing written.
    let revision = store.revision().await.unwrap();
    let again = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert!(again.is_noop(), "{again}");
    assert_eq!(store.revision().await.unwrap(), revision);

    // One definition changed: one version saved and published, in one transaction.
    std::fs::write(&file, apis(Some(301))).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    let written: Vec<&ApiOutcome> =
        report.apis.iter().filter(|a| a.change != Change::Unchanged || a.version_saved).collect();
    assert_eq!(written.len(), 1, "{report}");
    assert_eq!((written[0].name.as_str(), written[0].version, written[0].version_saved), ("items301", 1, true));
    assert_eq!(written[0].published, vec![Environment::Prod]);
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apis_may_use_datasources_that_exist_in_the_store() {
    let dir = TempDir::new("existing");
    let store = memory_store().await;
    apply(&load(&[dir.write("ds.yaml", SHOP)]).unwrap(), &store).await.unwrap();

    let api = "kind: Api\nworkgroup: demo\nname: t\npath: /t\ndatasource: shop\nmode: native\ntables: [t]\n";
    let file = dir.write("api.yaml", api);
    let bundle = load(std::slice::from_ref(&file)).unwrap();
    // `check` alone knows only the files.
    let problems = check(&bundle, &compile_sql);
    assert_eq!(places(&problems), vec![("api.yaml".to_owned(), 5)], "{}", listing(&problems));
    // `apply` also knows the store.
    let report = apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(report.apis[0].change, Change::Created);
    assert!(report.datasources.is_empty() && report.workgroups_created.is_empty());

    // Unknown in both: refused, nothing written.
    let revision = store.revision().await.unwrap();
    let other = dir
        .write("other.yaml", &api.replace("datasource: shop", "datasource: elsewhere").replace("name: t", "name: u"));
    let problems = apply(&load(&[other]).unwrap(), &store).await.unwrap_err();
    assert_eq!(places(&problems), vec![("other.yaml".to_owned(), 5)], "{}", listing(&problems));
    assert!(problems[0].message.contains("`elsewhere`"), "{}", listing(&problems));
    assert_eq!(store.revision().await.unwrap(), revision);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_come_from_the_file_or_the_environment_and_are_compared_opened() {
    let dir = TempDir::new("passwords");
    let store = memory_store().await;
    let datasource = |password: &str| {
        format!(
            "kind: Datasource\nworkgroup: fx\nname: pg\ntype: postgres\nhost: db.internal\ndatabase: sales\nusername: reader\n{password}"
        )
    };
    let variable = format!("SLUICE_TEST_PW_{:x}", rand::random::<u32>());

    // An unset variable is a problem at its key, and nothing is written.
    let file = dir.write("pg.yaml", &datasource(&format!("passwordEnv: {variable}\n")));
    let problems = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap_err();
    assert_eq!(places(&problems), vec![("pg.yaml".to_owned(), 8)], "{}", listing(&problems));
    assert!(problems[0].message.contains(&variable));
    assert_eq!(store.list_workgroups().await.unwrap(), vec![]);

    // SAFETY: the variable name is unique to this test; nothing else reads it.
    unsafe { std::env::set_var(&variable, "from-env") };
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!(report.datasources[0].change, Change::Created);
    let id = store.list_datasources(store.workgroup_by_name("fx").await.unwrap().id).await.unwrap()[0].id;
    assert_eq!(store.datasource_with_secret(id).await.unwrap().connection.password.as_deref(), Some("from-env"));

    // The same password again: unchanged. Another one: updated. None: the stored one stays.
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!(report.datasources[0].change, Change::Unchanged);
    std::fs::write(&file, datasource("password: in-file\n")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!(report.datasources[0].change, Change::Updated);
    std::fs::write(&file, datasource("")).unwrap();
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert_eq!(report.datasources[0].change, Change::Unchanged);
    assert_eq!(store.datasource_with_secret(id).await.unwrap().connection.password.as_deref(), Some("in-file"));
    unsafe { std::env::remove_var(&variable) };
    store.close().await;
}

/// The examples do what their comments say against the real demo dataset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_answer_on_the_demo_dataset() {
    use sqlx::Connection;
    let dir = TempDir::new("demo");
    let shop_sql = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/demo/shop.sql"))
        .expect("conf/demo/shop.sql, the demo dataset");
    // The example names `shop.sqlite`, read in the demo workgroup's dataset directory.
    let dataset_dir = dir.0.join("datasets").join("demo");
    std::fs::create_dir_all(&dataset_dir).unwrap();
    let dataset = dataset_dir.join("shop.sqlite");
    let mut connection =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", dataset.display())).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(shop_sql)).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();

    let bundle = load(&[examples_dir()]).unwrap();
    let store = memory_store().await;
    let outbound = outbound_in(&dir.0);
    super::apply(&bundle, &store, &outbound).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    let apis: HashMap<String, SqlApi> = store
        .published(Environment::Prod)
        .await
        .unwrap()
        .into_iter()
        // The data APIs; the workflow runs through the edge (sluice/tests/edge.rs).
        .filter_map(|p| {
            let datasource = p.datasource.as_ref()?;
            Some((p.api.name.clone(), SqlApi::compile(&p.version.definition, datasource).unwrap()))
        })
        .collect();
    let ctx = PluginContext::new(outbound.load(&store).await.unwrap().datasources);
    let text = |s: &str| RawParam::Text(s.to_owned());

    assert_eq!(apis["customer_by_id"].definition().request_params[0].position, ParamPosition::Path);
    let customer = invoke(&ctx, &apis, "customer_by_id", &[("id", text("42"))]).await;
    assert_eq!(customer["rows"][0]["id"], 42, "{customer}");
    assert_eq!(customer["rows"][0]["email"], "customer42@example.com", "{customer}");

    let search = invoke(
        &ctx,
        &apis,
        "orders_search",
        &[("status", text("pending,shipped")), ("pageSize", text("5")), ("withTotal", text("true"))],
    )
    .await;
    assert_eq!(search["rows"].as_array().map(Vec::len), Some(5), "{search}");
    assert_eq!(search["totalCnt"], 2700, "{search}");
    let march = invoke(
        &ctx,
        &apis,
        "orders_search",
        &[
            ("status", text("cancelled")),
            ("dateFrom", text("2024-03-01")),
            ("dateTo", text("2024-03-02")),
            ("withTotal", text("true")),
        ],
    )
    .await;
    let rows = march["rows"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "{march}");
    for row in &rows {
        assert_eq!(row["status"], "cancelled");
        assert!(row["createdAt"].as_str().is_some_and(|t| t.starts_with("2024-03-01")), "{row}");
    }
    let body = invoke(
        &ctx,
        &apis,
        "orders_search_post",
        &[("status", RawParam::Json(serde_json::json!(["pending"]))), ("customerId", RawParam::Json(7.into()))],
    )
    .await;
    let rows = body["rows"].as_array().cloned().unwrap_or_default();
    assert!(rows.iter().all(|r| r["status"] == "pending" && r["customerId"] == 7), "{body}");

    let cities = invoke(
        &ctx,
        &apis,
        "analytics",
        &[("sql", text("SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY city"))],
    )
    .await;
    assert_eq!(cities["rows"].as_array().map(Vec::len), Some(6), "{cities}");
    let refused = apis["analytics"]
        .invoke(
            &ctx.pools,
            &Call {
                params: [("sql".to_owned(), text("SELECT * FROM sqlite_master"))].into(),
                dry_run: false,
                clearance: None,
                ..Call::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "Forbidden.Query");
    store.close().await;
}

/// Calls a compiled API with text or JSON parameters and returns its `data`.
async fn invoke(
    ctx: &PluginContext,
    apis: &HashMap<String, SqlApi>,
    name: &str,
    params: &[(&str, RawParam)],
) -> serde_json::Value {
    let input = Call {
        params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        dry_run: false,
        clearance: None,
        ..Call::default()
    };
    match apis[name].invoke(&ctx.pools, &input).await.unwrap_or_else(|e| panic!("{name}: {e:?}")) {
        CallOutput::Data { data, .. } => serde_json::from_slice(&data).unwrap(),
        _ => panic!("{name}: not a dry run"),
    }
}

// ---------------------------------------------------------------------------------------------
// Registered APIs

/// A registered API over a public address (TEST-NET addresses are refused, so a documented
/// public one: nothing is ever sent in these tests).
const WEATHER: &str = "kind: Api
workgroup: partners
name: weather
path: /weather/{city}
mode: registered
upstream:
  baseUrl: http://93.184.215.14/v1
  path: /forecast/{town}
  timeoutMs: 3000
  constants:
    - {name: appid, position: query, valueEnv: VARIABLE}
    - {name: X-Client, position: header, value: sluice}
params:
  - {name: city, position: path, upstreamName: town, required: true}
  - {name: days, upstreamName: cnt, type: int, default: \"3\"}
errorCodes:
  - {code: \"401\", message: bad key, solution: check the key}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_apis_apply_with_sealed_constants_and_reapply_as_a_no_op() {
    let dir = TempDir::new("registered");
    let store = memory_store().await;
    let variable = format!("SLUICE_TEST_KEY_{:x}", rand::random::<u32>());
    let file = dir.write("weather.yaml", &WEATHER.replace("VARIABLE", &variable));
    let bundle = load(std::slice::from_ref(&file)).unwrap();
    assert!(check(&bundle, &compile_sql).is_empty(), "{}", listing(&check(&bundle, &compile_sql)));

    // The variable is read by apply only; unset, nothing is written.
    let problems = apply(&bundle, &store).await.unwrap_err();
    assert_eq!(places(&problems), vec![("weather.yaml".to_owned(), 11)], "{}", listing(&problems));
    assert!(problems[0].message.contains(&variable), "{}", listing(&problems));
    assert_eq!(store.revision().await.unwrap(), 0);

    // SAFETY: the variable name is unique to this test; nothing else reads it.
    unsafe { std::env::set_var(&variable, "key-one") };
    // Over the management API the server's environment is never read, set or not.
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-env-{}", std::process::id()));
    let member =
        super::ApplyOptions { actor: "member", write: super::Write::DryRun, operator: false, environment: false };
    let problems = super::apply_with(&bundle, &store, &outbound_in(&data_dir), member).await.unwrap_err();
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
    assert!(problems[0].message.contains("which only `sluice apply` reads"), "{}", listing(&problems));
    let report = apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!((report.apis[0].change, report.apis[0].version_saved), (Change::Created, true));
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod.len(), 1);
    assert!(prod[0].datasource.is_none());
    let route = plugins::registered::UpstreamRoute::compile(&prod[0].version.definition).unwrap();
    let request = route.request(&[("city".to_owned(), RawParam::Text("Oslo".into()))].into()).unwrap();
    assert_eq!(request.path_and_query, "/v1/forecast/Oslo?cnt=3&appid=key-one");
    let workgroup = store.workgroup_by_name("partners").await.unwrap();
    let shown = serde_json::to_string(&store.list_apis(workgroup.id).await.unwrap()).unwrap();
    assert!(!shown.contains("key-one") && shown.contains("appid"), "{shown}");

    // Same files, same environment: nothing written. Another value: a new version.
    let revision = store.revision().await.unwrap();
    let again = apply(&bundle, &store).await.unwrap();
    assert!(again.is_noop(), "{again}");
    assert_eq!(store.revision().await.unwrap(), revision);
    unsafe { std::env::set_var(&variable, "key-two") };
    let rotated = apply(&bundle, &store).await.unwrap();
    assert_eq!(
        (rotated.apis[0].change, rotated.apis[0].version, rotated.apis[0].version_saved),
        (Change::Updated, 1, true)
    );
    assert_eq!(rotated.apis[0].published, vec![Environment::Prod]);
    unsafe { std::env::remove_var(&variable) };
    store.close().await;
}

#[test]
fn registered_problems_point_at_their_keys() {
    let dir = TempDir::new("registered-problems");
    let text = "kind: Api
workgroup: partners
name: broken
path: /broken/{id}
method: GET
datasource: shop
mode: registered
table: t
upstream:
  baseUrl: ftp://example.com/
  constants:
    - {name: k, position: query}
    - {name: j, position: header, value: a, valueEnv: B}
params:
  - {name: id, position: path, required: true}
  - {name: note, position: body}
---
kind: Api
workgroup: partners
name: mapping
path: /mapping
mode: registered
upstream:
  baseUrl: https://example.com/v1
  path: /items/{item}
params:
  - {name: q}
---
kind: Api
workgroup: partners
name: nothing
path: /nothing
mode: registered
requestParams:
  - {name: q, type: string}
---
kind: Api
workgroup: partners
name: sqlish
path: /sqlish
mode: wizard
table: t
upstream:
  baseUrl: https://example.com/
";
    let bundle = load_text(&dir, "r.yaml", text).unwrap();
    let problems = check(&bundle, &compile_sql);
    let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.message.as_str())).collect();
    let expect = [
        (6, "reads no datasource"),
        (8, "`table` belongs to wizard mode"),
        (12, "constant `k` needs `value` or `valueEnv`"),
        (13, "either `value` or `valueEnv`"),
        (16, "parameter `note` is read from the body"),
        (25, "path placeholder `{item}`"),
        (33, "registered mode needs `upstream`"),
        (34, "`requestParams` belongs to SQL modes"),
        (41, "wizard mode needs `datasource`"),
        (43, "`upstream` belongs to registered mode"),
    ];
    for (line, phrase) in expect {
        assert!(
            got.iter().any(|(l, m)| *l == line && m.contains(phrase)),
            "no problem at line {line} saying `{phrase}`:\n{}",
            listing(&problems)
        );
    }
    // The base URL is judged once the keys around it are right.
    let fixed = text.replace("table: t\nupstream:\n  baseUrl: ftp", "upstream:\n  baseUrl: ftp").replace(
        "    - {name: k, position: query}\n    - {name: j, position: header, value: a, valueEnv: B}\n",
        "    - {name: k, position: query, value: v}\n",
    );
    let bundle = load_text(&dir, "r2.yaml", &fixed.replace("  - {name: note, position: body}\n", "")).unwrap();
    let problems = check(&bundle, &compile_sql);
    assert!(
        problems.iter().any(|p| p.line == 9 && p.message.contains("baseUrl") && p.message.contains("ftp")),
        "{}",
        listing(&problems)
    );
}

/// Every hostile URL of the SSRF corpus, as a registered API's base URL, is refused by `check`
/// (syntax) or by the SSRF check that `apply` runs, at the `baseUrl` line, and nothing is
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssrf_corpus_is_refused_as_base_urls() {
    let corpus = include_str!("../../net/tests/corpus/ssrf_targets.txt");
    let lines: Vec<&str> =
        corpus.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).collect();
    assert!(lines.len() >= 60, "only {} corpus lines", lines.len());
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        // A JSON string is a YAML double-quoted scalar: tabs, controls and `#` stay as written.
        text.push_str(&format!(
            "kind: Api\nworkgroup: hostile\nname: target_{index}\npath: /t{index}\nmode: registered\nupstream:\n  baseUrl: {}\n---\n",
            serde_json::to_string(line).unwrap()
        ));
    }
    let dir = TempDir::new("ssrf-corpus");
    let bundle = load_text(&dir, "corpus.yaml", &text).unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(bundle.apis.len(), lines.len());
    let mut problems = check(&bundle, &compile_sql);
    problems.extend(check_upstreams(&bundle, &net::ssrf::SsrfPolicy::default()).await);
    let mut accepted = Vec::new();
    for (sourced, line) in bundle.apis.iter().zip(&lines) {
        let at = sourced.origin.line + 6;
        if !problems.iter().any(|p| p.line == at && p.message.contains("baseUrl")) {
            accepted.push(format!("{line:?} (line {at})"));
        }
    }
    assert!(accepted.is_empty(), "hostile base URLs were accepted:\n{}", accepted.join("\n"));

    let store = memory_store().await;
    let refused = apply(&bundle, &store).await.unwrap_err();
    assert!(refused.len() >= lines.len(), "{} problems for {} URLs", refused.len(), lines.len());
    assert_eq!(store.revision().await.unwrap(), 0, "apply wrote despite the problems");
    store.close().await;
}

/// A workflow's API node must name an API of its own workgroup: one defined only in another
/// workgroup is refused at the node's `api` line before anything is written; one the store
/// already holds for the workgroup is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_finds_a_workflow_nodes_api_only_in_its_own_workgroup() {
    let store = memory_store().await;
    let examples = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    apply(&examples, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));

    let dir = TempDir::new("wf-apis");
    let workflow = |workgroup: &str| {
        format!(
            "kind: Api\nworkgroup: {workgroup}\nname: wf\npath: /{workgroup}/wf\nmode: workflow\n\
             requestParams:\n  - {{name: id, type: int}}\nworkflow:\n  start: C\n  nodes:\n    - id: C\n      \
             kind: api\n      api: customer_by_id\n      next: [END]\n    - id: END\n      kind: end\n"
        )
    };
    // `other` has no customer_by_id, though demo does (in the store and in the examples).
    let path = dir.write("other.yaml", &workflow("other"));
    let mut bundle = load(&[examples_dir(), path.clone()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let problems = apply(&bundle, &store).await.expect_err("another workgroup's API is not found");
    assert_eq!(places(&problems), vec![("other.yaml".to_owned(), 13)], "{}", listing(&problems));
    assert!(problems[0].message.contains("workgroup `other` does not have"), "{}", listing(&problems));
    assert!(store.workgroup_by_name("other").await.is_err(), "nothing was written");

    // In demo, the API the store holds is found without its file.
    let path = dir.write("demo.yaml", &workflow("demo"));
    bundle = load(&[path]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let report = apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert_eq!(report.apis.len(), 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_in_the_file_is_the_apis_listing_draft_and_nothing_more() {
    let dir = TempDir::new("listing");
    let api = |listing: &str| {
        format!(
            "{SHOP}---\nkind: Api\nworkgroup: demo\nname: items\npath: /items\ndatasource: shop\nmode: wizard\n\
             table: items\nvisibleRange: public\nresponseFields:\n  - {{name: id, type: int}}\n{listing}"
        )
    };
    let store = memory_store().await;
    let file = dir.write("items.yaml", &api("listing:\n  category: shop\n  tags: [b, a, b]\n  summary: Items\n"));
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert!(report.apis[0].listing_saved && report.to_string().contains("listing draft saved"), "{report}");
    let id = store.list_apis(store.workgroup_by_name("demo").await.unwrap().id).await.unwrap()[0].id;
    let stored = store.listing(id).await.unwrap().unwrap();
    let tags = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!((stored.state, stored.draft.tags.clone()), (catalog::model::ListingState::Draft, tags));
    assert!(stored.listed.is_none(), "listing it is a platform admin's decision");

    // The same listing again: nothing to do.
    let report = apply(&load(std::slice::from_ref(&file)).unwrap(), &store).await.unwrap();
    assert!(report.is_noop(), "{report}");

    // A bad listing is found by check, at its key.
    std::fs::write(&file, api("listing:\n  category: shop\n  tags: [\"a,b\"]\n")).unwrap();
    let problems = check(&load(std::slice::from_ref(&file)).unwrap(), &compile_sql);
    assert!(listing(&problems).contains("tag `a,b`"), "{}", listing(&problems));
    std::fs::write(&file, api("listing:\n  category: shop\n  color: red\n")).unwrap();
    assert!(load(std::slice::from_ref(&file)).is_err(), "unknown listing keys are refused");
    store.close().await;
}

/// An owner a file sets must be a member of the API's workgroup: refused at its `owner` line
/// before anything is written, accepted once the user is a member; an owner the store already
/// holds is kept whoever it is. `apply_as` records who applied as creator and last editor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_checks_new_owners_and_records_who_applied() {
    let store = memory_store().await;
    let examples = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let report = apply(&examples, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    let demo = store.workgroup_by_name("demo").await.unwrap();
    let first = store.list_apis(demo.id).await.unwrap().into_iter().next().unwrap();
    assert_eq!((first.details.created_by.as_str(), first.details.updated_by.as_str()), ("apply", "apply"));
    assert!(!report.apis.is_empty());

    let dir = TempDir::new("owners");
    let api = |owner: &str, description: &str| {
        format!(
            "kind: Api\nworkgroup: demo\nname: owned\npath: /owned\ndescription: {description}\nowner: {owner}\n\
             mode: native\ndatasource: shop\ntables: [products]\n"
        )
    };
    let bundle = load_text(&dir, "owned.yaml", &api("ghost", "first")).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let problems = apply(&bundle, &store).await.expect_err("ghost is no member");
    assert_eq!(places(&problems), vec![("owned.yaml".to_owned(), 6)], "{}", listing(&problems));
    assert!(problems[0].message.contains("not a member of workgroup `demo`"), "{}", listing(&problems));
    assert!(!store.has_api_named(demo.id, "owned").await.unwrap(), "nothing was written");

    let ghost = store.create_user("ghost", "", false).await.unwrap();
    store.add_member(demo.id, ghost.id, catalog::model::WorkgroupRole::Viewer).await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-data-{}", std::process::id()));
    super::apply_as(&bundle, &store, &outbound_in(&data_dir), "ops")
        .await
        .unwrap_or_else(|p| panic!("{}", listing(&p)));
    let owned = store.list_apis(demo.id).await.unwrap().into_iter().find(|a| a.name == "owned").unwrap();
    assert_eq!(owned.settings.owner, "ghost");
    assert_eq!((owned.details.created_by.as_str(), owned.details.updated_by.as_str()), ("ops", "ops"));
    assert_eq!(store.latest_version(owned.id).await.unwrap().unwrap().created_by, "ops");

    // Ghost leaves; the stored owner stays through other changes.
    store.remove_member(demo.id, ghost.id).await.unwrap();
    let bundle = load_text(&dir, "owned.yaml", &api("ghost", "second")).unwrap_or_else(|p| panic!("{}", listing(&p)));
    apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    let owned = store.api(owned.id).await.unwrap();
    assert_eq!((owned.description.as_str(), owned.details.updated_by.as_str()), ("second", "apply"));
    store.close().await;
}

/// An API `apply` creates gets its workgroup's alarm template when enabled, like one created
/// in the console; applying it again (an update) adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_apis_get_the_alarm_template_once() {
    use catalog::model::{AlarmMetric, AlarmRuleSpec, AlarmTemplate, Environment};
    let store = memory_store().await;
    let examples = load(&[examples_dir()]).unwrap_or_else(|p| panic!("{}", listing(&p)));
    apply(&examples, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    let demo = store.workgroup_by_name("demo").await.unwrap();
    let before: usize = {
        let mut n = 0;
        for api in store.list_apis(demo.id).await.unwrap() {
            n += store.alarm_rules(api.id).await.unwrap().len();
        }
        n
    };
    assert_eq!(before, 0, "no template, no rules");
    let spec = AlarmRuleSpec {
        metric: AlarmMetric::ErrorRate,
        env: Environment::Prod,
        window_secs: 300,
        threshold: 0.05,
        for_secs: 60,
    };
    let template = AlarmTemplate { enabled: true, rules: vec![spec.clone()], ..AlarmTemplate::default() };
    store.set_alarm_template(demo.id, &template, "boss").await.unwrap();

    let dir = TempDir::new("alarms");
    let text = |description: &str| {
        format!(
            "kind: Api\nworkgroup: demo\nname: watched\npath: /watched\ndescription: {description}\n\
             mode: native\ndatasource: shop\ntables: [products]\n"
        )
    };
    for description in ["first", "second"] {
        let bundle = load_text(&dir, "watched.yaml", &text(description)).unwrap_or_else(|p| panic!("{}", listing(&p)));
        apply(&bundle, &store).await.unwrap_or_else(|p| panic!("{}", listing(&p)));
    }
    let watched = store.list_apis(demo.id).await.unwrap().into_iter().find(|a| a.name == "watched").unwrap();
    let rules = store.alarm_rules(watched.id).await.unwrap();
    assert_eq!(rules.iter().map(|r| r.spec()).collect::<Vec<_>>(), vec![spec]);
    assert_eq!(rules[0].created_by, "apply");
    store.close().await;
}
