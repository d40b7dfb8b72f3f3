//! Property: the SQL text an API renders depends only on which optional parameters are
//! present (and, for lists, on the padded list length), never on the values. Values only ever
//! travel as binds, and the statement cache sees few distinct texts.

use std::collections::HashMap;

use catalog::model::{ApiDefinition, ConnectionSettings, Datasource, DatasourceKind};
use plugins::PluginContext;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput};
use proptest::prelude::*;
use serde_json::json;

fn datasource(kind: DatasourceKind) -> Datasource {
    Datasource {
        id: 1,
        workgroup_id: 1,
        name: "props".into(),
        kind,
        description: String::new(),
        // Dry runs never connect; nothing listens on port 1.
        connection: ConnectionSettings {
            host: "127.0.0.1".into(),
            port: 1,
            database: "/nonexistent.db".into(),
            ..Default::default()
        },
    }
}

fn wizard() -> ApiDefinition {
    serde_json::from_value(json!({
        "datasourceId": 1, "mode": "wizard", "table": "users",
        "requestParams": [
            {"name": "name", "type": "string", "column": "name", "operator": "LIKE"},
            {"name": "minAge", "type": "int", "column": "age", "operator": ">="},
            {"name": "cities", "type": "array<string>", "column": "city", "operator": "IN"},
            {"name": "score", "type": "decimal", "column": "score", "operator": "<"},
            {"name": "since", "type": "date", "column": "born", "operator": ">"}
        ],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "desc"}}],
        "options": {"pagination": true, "maxLimit": 100}
    }))
    .expect("wizard definition")
}

fn script() -> ApiDefinition {
    serde_json::from_value(json!({
        "datasourceId": 1, "mode": "script",
        "sql": "SELECT id FROM users <where><if test=\"name != null\">AND name = #{name}</if><if test=\"ids != null\">AND id IN (#{ids})</if></where>",
        "requestParams": [{"name": "name", "type": "string"}, {"name": "ids", "type": "array<int>"}],
        "responseFields": [{"name": "id", "type": "int"}]
    }))
    .expect("script definition")
}

/// The rendered SQL, or the error code when the values are refused before rendering.
fn render(api: &SqlApi, params: HashMap<String, RawParam>) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let ctx = PluginContext::default();
    match runtime.block_on(api.invoke(&ctx.pools, &Call { params, dry_run: true, clearance: None, ..Call::default() }))
    {
        Ok(CallOutput::DryRun { dry_run, .. }) => Ok(dry_run.sql),
        Ok(_) => panic!("a dry run touched the database"),
        Err(e) => Err(e.code()),
    }
}

/// Any string the caller might send, hostile ones included (no NUL: refused by design).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_filter("no NUL", |s| !s.contains('\0')),
        "[' \"`;%_\\\\-]{0,12}".prop_map(String::from)
    ]
}

/// Values for the wizard's five parameters, each present or not.
fn wizard_values() -> impl Strategy<Value = Vec<Option<RawParam>>> {
    (
        proptest::option::of(any_text().prop_map(RawParam::Text)),
        proptest::option::of(any::<i64>().prop_map(|n| RawParam::Text(n.to_string()))),
        proptest::option::of(proptest::collection::vec(any_text(), 1..9).prop_map(|v| RawParam::Json(json!(v)))),
        proptest::option::of(
            (-1_000_000i64..1_000_000, 0u32..4)
                .prop_map(|(m, s)| RawParam::Text(rust_decimal::Decimal::new(m, s).to_string())),
        ),
        proptest::option::of((0i64..20000).prop_map(|d| {
            RawParam::Text(
                (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date") + chrono::Days::new(d as u64)).to_string(),
            )
        })),
    )
        .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e])
}

const WIZARD_NAMES: [&str; 5] = ["name", "minAge", "cities", "score", "since"];

/// What the SQL may depend on: which parameters are present (an empty query-string value
/// counts as absent) and each list's padded length.
fn shape(values: &[Option<RawParam>]) -> Vec<Option<usize>> {
    values
        .iter()
        .map(|v| match v {
            None => None,
            Some(RawParam::Text(t)) if t.is_empty() => None,
            Some(RawParam::Json(serde_json::Value::Array(items))) => Some(items.len().next_power_of_two()),
            Some(_) => Some(0),
        })
        .collect()
}

fn to_params(values: &[Option<RawParam>], page: (u32, u32)) -> HashMap<String, RawParam> {
    let mut params: HashMap<String, RawParam> =
        WIZARD_NAMES.iter().zip(values).filter_map(|(name, v)| v.clone().map(|v| ((*name).to_owned(), v))).collect();
    params.insert("pageNum".into(), RawParam::Text(page.0.to_string()));
    params.insert("pageSize".into(), RawParam::Text(page.1.to_string()));
    params
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn wizard_sql_depends_only_on_which_params_are_present(
        a in wizard_values(),
        b in wizard_values(),
        page_a in (1u32..1000, 1u32..=100),
        page_b in (1u32..1000, 1u32..=100),
    ) {
        for kind in [DatasourceKind::Sqlite, DatasourceKind::Postgres, DatasourceKind::Mysql] {
            let api = SqlApi::compile(&wizard(), &datasource(kind)).expect("compiles");
            let (Ok(sql_a), Ok(sql_b)) = (render(&api, to_params(&a, page_a)), render(&api, to_params(&b, page_b))) else {
                // Only PostgreSQL refuses values before rendering: a LIKE pattern ending in a lone `\`.
                prop_assert_eq!(kind, DatasourceKind::Postgres);
                continue;
            };
            if shape(&a) == shape(&b) {
                prop_assert_eq!(&sql_a, &sql_b, "{:?}: same presence, different SQL", kind);
            }
            // Caller text never appears in the SQL: only placeholders do.
            for value in a.iter().flatten() {
                if let RawParam::Text(t) = value && t.len() > 3 && t.parse::<f64>().is_err() && !t.contains('-') {
                    prop_assert!(!sql_a.contains(t.as_str()), "{:?}: value {:?} reached SQL {}", kind, t, sql_a);
                }
            }
        }
    }

    #[test]
    fn script_sql_depends_only_on_which_params_are_present(
        name_a in proptest::option::of(any_text()),
        name_b in proptest::option::of(any_text()),
        ids_a in proptest::option::of(proptest::collection::vec(any::<i64>(), 1..20)),
        ids_b in proptest::option::of(proptest::collection::vec(any::<i64>(), 1..20)),
    ) {
        for kind in [DatasourceKind::Sqlite, DatasourceKind::Postgres, DatasourceKind::Mysql] {
            let api = SqlApi::compile(&script(), &datasource(kind)).expect("compiles");
            let params = |name: &Option<String>, ids: &Option<Vec<i64>>| {
                let mut p = HashMap::new();
                if let Some(n) = name { p.insert("name".to_owned(), RawParam::Text(n.clone())); }
                if let Some(i) = ids { p.insert("ids".to_owned(), RawParam::Json(json!(i))); }
                p
            };
            let sql_a = render(&api, params(&name_a, &ids_a)).expect("renders");
            let sql_b = render(&api, params(&name_b, &ids_b)).expect("renders");
            let present = |n: &Option<String>| n.as_ref().is_some_and(|n| !n.is_empty());
            let same_shape = present(&name_a) == present(&name_b)
                && ids_a.as_ref().map(|v| v.len().next_power_of_two()) == ids_b.as_ref().map(|v| v.len().next_power_of_two());
            if same_shape {
                prop_assert_eq!(&sql_a, &sql_b, "{:?}", kind);
            }
        }
    }
}
