//! Workflow APIs in files: the graph under `workflow:` reads into the mode, compiles as the edge
//! compiles it, and a problem points at the `id:` line of the node it is about; `kind: Function`
//! documents fill the workgroup's library, which workflows call by name.

use catalog::model::{ApiMode, Environment};

use super::*;

fn bundle(text: &str) -> Bundle {
    let dir = std::env::temp_dir().join(format!(
        "sluice-declarative-wf-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wf.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = load(&[path]);
    let _ = std::fs::remove_dir_all(&dir);
    loaded.unwrap_or_else(|p| panic!("{p:?}"))
}

const WORKFLOW: &str = "kind: Api
workgroup: demo
name: wf
path: /wf
mode: workflow
requestParams:
  - {name: id, type: int}
workflow:
  start: C
  nodes:
    - id: C
      kind: api
      api: customer_by_id
      next: [END]
    - id: END
      kind: end
      output:
        customer: \"${C.data}\"
";

#[test]
fn a_workflow_reads_checks_and_points_at_its_nodes() {
    let good = bundle(WORKFLOW);
    let problems = check(&good, &compile_sql);
    assert!(problems.is_empty(), "{problems:?}");
    let definition = good.apis[0].spec.definition(None).unwrap();
    let ApiMode::Workflow(spec) = &definition.mode else { panic!("{definition:?}") };
    assert_eq!((spec.start.as_str(), spec.nodes.len()), ("C", 2));

    // A reference to a node that does not exist: at the end node's `output` line.
    let bad = bundle(&WORKFLOW.replace("${C.data}", "${NOPE.data}"));
    let problems = check(&bad, &compile_sql);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, 17, "{}", problems[0]);
    assert!(problems[0].message.contains("nodes[1].output.customer"), "{}", problems[0]);

    // A datasource, or the key of another mode, is refused.
    let with_table = bundle(&WORKFLOW.replace("mode: workflow\n", "mode: workflow\ntable: t\n"));
    let problems = check(&with_table, &compile_sql);
    assert!(problems.iter().any(|p| p.message.contains("`table` belongs to wizard mode")), "{problems:?}");
}

const FUNCTION: &str = "kind: Function
workgroup: demo
name: shout
description: Upper-cases the name
source: |
  import json
  def handler(event, context):
      obj = json.loads(event)
      return {\"name\": obj.get(\"name\", \"\").upper()}
";

const CALLER: &str = "kind: Api
workgroup: demo
name: caller
path: /caller
mode: workflow
workflow:
  start: F
  nodes:
    - id: F
      kind: function
      function: shout
      next: [END]
    - id: END
      kind: end
";

fn documents(parts: &[&str]) -> String {
    parts.join("---\n")
}

#[test]
fn a_workflow_calls_functions_of_its_workgroups_library() {
    let good = bundle(&documents(&[FUNCTION, CALLER]));
    assert_eq!(good.functions.len(), 1);
    assert_eq!(good.functions[0].spec.source.lines().nth(1), Some("def handler(event, context):"));
    let problems = check(&good, &compile_sql);
    assert!(problems.is_empty(), "{problems:?}");

    // Not in the files (and `check` has no store): at the node's `function` line (line 11).
    let alone = bundle(CALLER);
    let problems = check(&alone, &compile_sql);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, 11, "{}", problems[0]);
    assert!(problems[0].message.contains("nodes[0].function") && problems[0].message.contains("`shout`"));

    // Another workgroup's function of that name does not count.
    let elsewhere = bundle(&documents(&[&FUNCTION.replace("workgroup: demo", "workgroup: other"), CALLER]));
    let problems = check(&elsewhere, &compile_sql);
    assert!(problems.iter().any(|p| p.message.contains("`shout`") && p.line == 21), "{problems:?}");

    // An inline source of the same name wins, so the library is not needed.
    let inline = CALLER.replace(
        "  start: F\n",
        "  start: F\n  functions:\n    shout: |\n      def handler(event, context):\n          return 1\n",
    );
    assert!(check(&bundle(&inline), &compile_sql).is_empty());

    // Names, twins and sources without a handler, each at its line.
    let bad = documents(&[
        &FUNCTION.replace("name: shout", "name: has space"),
        FUNCTION,
        FUNCTION,
        &FUNCTION.replace("def handler", "def other"),
    ]);
    let problems = check(&bundle(&bad), &compile_sql);
    let found: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(problems.len(), 4, "{found:?}");
    assert!(problems[0].line == 3 && problems[0].message.contains("letters, digits"), "{found:?}");
    assert!(problems[1].message.contains("defined twice") && problems[1].line == 23, "{found:?}");
    assert!(problems[2].message.contains("defined twice") && problems[2].line == 33, "{found:?}");
    assert!(problems[3].message.contains("no top-level `def handler") && problems[3].line == 35, "{found:?}");
}

#[test]
fn the_sandbox_check_points_at_the_line_of_the_source() {
    let files = bundle(&documents(&[FUNCTION, CALLER]));
    let refuse_line_3 = |_: &str, source: &str| -> Result<(), String> {
        if source.contains("upper") { Err("function does not compile: bad (line 3)".to_owned()) } else { Ok(()) }
    };
    let problems = check_functions(&files, &refuse_line_3);
    assert_eq!(problems.len(), 1, "{problems:?}");
    // `source: |` is line 5; the source's line 3 is the file's line 8.
    assert_eq!(problems[0].line, 8, "{}", problems[0]);
    assert!(problems[0].message.starts_with("function `shout`: function does not compile"), "{}", problems[0]);
    assert!(check_functions(&files, &|_, _| Ok(())).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_functions_first_and_versions_follow_the_library() {
    let store = catalog::store::Store::open(
        "sqlite::memory:",
        catalog::secret::SecretBox::from_key_text(&catalog::secret::SecretBox::generate_key_text()).unwrap(),
    )
    .await
    .unwrap();
    let data_dir = std::env::temp_dir().join(format!("sluice-declarative-wfdata-{}", std::process::id()));
    let dir = data_dir.display().to_string();
    let config =
        config::Config::from_sources(None, "tests", |key| (key == "SLUICE_DATA_DIR").then(|| dir.clone())).unwrap();
    let outbound = config::outbound::OutboundBase::from_config(&config).unwrap();
    let carried = |store: catalog::store::Store, api_id: i64, number: i64| async move {
        let version = store.version(api_id, number).await.unwrap();
        let ApiMode::Workflow(spec) = version.definition.mode else { panic!() };
        spec.functions.get("shout").cloned().unwrap_or_default()
    };

    let files = bundle(&documents(&[FUNCTION, CALLER]));
    let report = apply(&files, &store, &outbound).await.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(report.functions[0].change, Change::Created);
    assert!(report.apis[0].version_saved);
    let workgroup = store.workgroup_by_name("demo").await.unwrap();
    let api = store.list_apis(workgroup.id).await.unwrap()[0].clone();
    assert!(carried(store.clone(), api.id, 0).await.contains("upper()"));
    assert!(apply(&files, &store, &outbound).await.unwrap().is_noop(), "the same files again change nothing");

    // A changed library function: the function is updated and the workflow gets a version
    // carrying the new source; the old version keeps the old one.
    let changed = bundle(&documents(&[&FUNCTION.replace("upper()", "lower()"), CALLER]));
    let report = apply(&changed, &store, &outbound).await.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(report.functions[0].change, Change::Updated);
    assert_eq!(
        (report.apis[0].change, report.apis[0].version, report.apis[0].version_saved),
        (Change::Unchanged, 1, true)
    );
    assert_eq!(report.apis[0].published, [Environment::Prod]);
    assert!(carried(store.clone(), api.id, 1).await.contains("lower()"));
    assert!(carried(store.clone(), api.id, 0).await.contains("upper()"));

    // Files with the workflow alone find the function in the store.
    let report = apply(&bundle(CALLER), &store, &outbound).await.unwrap_or_else(|p| panic!("{p:?}"));
    assert!(report.is_noop(), "{report}");
    store.close().await;
}
