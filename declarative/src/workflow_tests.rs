//! Workflow APIs in files: the graph under `workflow:` reads into the mode, compiles as the edge
//! compiles it, and a problem points at the `id:` line of the node it is about.

use catalog::model::ApiMode;

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
