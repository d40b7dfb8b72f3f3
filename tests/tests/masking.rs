//! Security-level masking on SQLite, PostgreSQL and MariaDB: fields above the caller's
//! clearance masked or omitted in wizard, script and native mode, in JSON and JSONCompact;
//! parameters above it refused; native queries that use restricted columns other than by
//! selecting them refused; a caller without a clearance (or cleared for everything) gets
//! exactly what every caller got before levels existed.
//!
//! The fixture's `customers(id, name, city, phone, salary)` declares `city` L2, `phone` L3 and
//! `salary` L4. The hostile corpus `plugins/tests/corpus/native_masking_bypass.txt` runs
//! against two databases that differ only in phone and salary: a caller cleared to L2 must
//! get the same answer (or the same refusal) from both.

use std::collections::HashMap;

use catalog::model::{ApiDefinition, Datasource, DatasourceKind, MaskMode, ResultFormat, SecurityLevel};
use plugins::sql::SqlApi;
use plugins::sql::mask::MASK;
use plugins::sql::value::RawParam;
use plugins::{ApiError, PluginContext};
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{Customer, KINDS, customers, customers_scrambled, datasource, datasource_scrambled};

use SecurityLevel::{L1, L2, L3, L4};

const COLUMNS: [&str; 5] = ["id", "name", "city", "phone", "salary"];
const LEVELS: [SecurityLevel; 5] = [L1, L1, L2, L3, L4];
const CLEARANCES: [Option<SecurityLevel>; 5] = [None, Some(L1), Some(L2), Some(L3), Some(L4)];
const MODES: [MaskMode; 2] = [MaskMode::Mask, MaskMode::Omit];
const FORMATS: [ResultFormat; 2] = [ResultFormat::Json, ResultFormat::JsonCompact];

fn mode_name(mode: MaskMode) -> &'static str {
    match mode {
        MaskMode::Mask => "mask",
        MaskMode::Omit => "omit",
    }
}

fn format_name(format: ResultFormat) -> &'static str {
    format.as_str()
}

/// The customers' response fields, with their levels or (`leveled: false`) all at the
/// default L1, as every definition was before levels.
fn fields(leveled: bool) -> Json {
    let types = ["int", "string", "string", "string", "decimal"];
    let fields: Vec<Json> = COLUMNS
        .iter()
        .zip(types)
        .zip(LEVELS)
        .map(|((name, ty), level)| {
            let mut f = json!({"name": name, "type": ty});
            if leveled {
                f["securityLevel"] = json!(level);
            }
            if *name == "id" {
                f["sort"] = json!({"direction": "asc"});
            }
            f
        })
        .collect();
    Json::Array(fields)
}

/// Builds a definition: levels or not, mask mode, result format.
type Spec = fn(bool, MaskMode, ResultFormat) -> Json;

fn compile_on(ds: &Datasource, spec: Json) -> SqlApi {
    let mut spec = spec;
    spec["datasourceId"] = json!(ds.id);
    let definition: ApiDefinition = serde_json::from_value(spec).expect("test definition parses");
    SqlApi::compile(&definition, ds).unwrap_or_else(|e| panic!("{:?}: {e}", ds.kind))
}

fn options(mode: MaskMode, format: ResultFormat) -> Json {
    json!({"maskMode": mode_name(mode), "resultFormat": format_name(format), "maxLimit": 100})
}

fn wizard(leveled: bool, mode: MaskMode, format: ResultFormat) -> Json {
    json!({"mode": "wizard", "table": "customers", "responseFields": fields(leveled), "options": options(mode, format)})
}

fn script(leveled: bool, mode: MaskMode, format: ResultFormat) -> Json {
    json!({
        "mode": "script", "sql": "SELECT id, name, city, phone, salary FROM customers ORDER BY id",
        "responseFields": fields(leveled), "options": options(mode, format)
    })
}

fn native(leveled: bool, mode: MaskMode, format: ResultFormat) -> Json {
    json!({
        "mode": "native", "tables": ["customers", "orders", "users"],
        "responseFields": fields(leveled), "options": options(mode, format)
    })
}

fn input(params: &[(&str, &str)], clearance: Option<SecurityLevel>) -> Call {
    Call {
        params: params.iter().map(|(k, v)| (k.to_string(), RawParam::Text(v.to_string()))).collect::<HashMap<_, _>>(),
        dry_run: false,
        clearance,
        ..Call::default()
    }
}

async fn call(ctx: &PluginContext, api: &SqlApi, input: &Call) -> Result<Vec<u8>, ApiError> {
    match api.invoke(&ctx.pools, input).await? {
        CallOutput::Data { data, .. } => Ok(data),
        _ => panic!("unexpected dry run"),
    }
}

async fn dry_sql(ctx: &PluginContext, api: &SqlApi, input: &Call) -> Result<String, ApiError> {
    let mut input = input.clone();
    input.dry_run = true;
    match api.invoke(&ctx.pools, &input).await? {
        CallOutput::DryRun { dry_run, .. } => Ok(dry_run.sql),
        _ => panic!("a dry run ran"),
    }
}

fn parsed(data: &[u8]) -> Json {
    serde_json::from_slice(data).expect("data is JSON")
}

/// A DECIMAL(12,2) as the encoder writes it: a normalised string.
fn decimal(cents: i64) -> String {
    match (cents % 100, cents % 10) {
        (0, _) => format!("{}", cents / 100),
        (_, 0) => format!("{}.{}", cents / 100, cents % 100 / 10),
        _ => format!("{}.{:02}", cents / 100, cents % 100),
    }
}

fn cells(c: &Customer) -> [Json; 5] {
    [json!(c.id), json!(c.name), json!(c.city), json!(c.phone), json!(decimal(c.salary_cents))]
}

fn hidden(level: SecurityLevel, clearance: Option<SecurityLevel>) -> bool {
    clearance.is_some_and(|c| level > c)
}

/// What a caller with `clearance` must receive for `rows`, computed from the fixture.
fn expected(rows: &[Customer], clearance: Option<SecurityLevel>, mode: MaskMode, format: ResultFormat) -> Json {
    let shown = |i: usize| !(hidden(LEVELS[i], clearance) && mode == MaskMode::Omit);
    let value = |i: usize, v: Json| if hidden(LEVELS[i], clearance) { json!(MASK) } else { v };
    match format {
        ResultFormat::Json => {
            let rows: Vec<Json> = rows
                .iter()
                .map(|c| {
                    let mut object = serde_json::Map::new();
                    for (i, v) in cells(c).into_iter().enumerate() {
                        if shown(i) {
                            object.insert(COLUMNS[i].to_owned(), value(i, v));
                        }
                    }
                    Json::Object(object)
                })
                .collect();
            json!({"rows": rows})
        }
        // XML and CSV say what JSON says, masking included: tests/tests/formats.rs.
        ResultFormat::Xml | ResultFormat::Csv => panic!("the JSON formats only here"),
        ResultFormat::JsonCompact => {
            let columns: Vec<&str> = (0..5).filter(|&i| shown(i)).map(|i| COLUMNS[i]).collect();
            let rows: Vec<Json> = rows
                .iter()
                .map(|c| {
                    let row: Vec<Json> =
                        cells(c).into_iter().enumerate().filter(|(i, _)| shown(*i)).map(|(i, v)| value(i, v)).collect();
                    Json::Array(row)
                })
                .collect();
            json!({"columns": columns, "rows": rows})
        }
    }
}

/// JSON objects with their keys in order (serde_json's map sorts them).
fn keys_in_order(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let first_row = text.split("\"rows\":[{").nth(1).and_then(|rest| rest.split('}').next()).unwrap_or("");
    first_row
        .split(',')
        .filter_map(|pair| pair.split_once("\":").map(|(k, _)| k.trim_start_matches('"').to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mode_masks_or_omits_fields_above_the_clearance() {
    let ctx = sluice_tests::context().await;
    let everyone = customers();
    let queries =
        ["SELECT id, name, city, phone, salary FROM customers ORDER BY id", "SELECT * FROM customers ORDER BY id"];
    for kind in KINDS {
        let ds = datasource(kind);
        for mode in MODES {
            for format in FORMATS {
                let shapes: [(&str, Spec); 3] = [("wizard", wizard), ("script", script), ("native", native)];
                for (shape, spec) in shapes {
                    let today = compile_on(&ds, spec(false, mode, format));
                    let api = compile_on(&ds, spec(true, mode, format));
                    let sqls: &[&str] = if shape == "native" { &queries } else { &[""] };
                    for sql in sqls {
                        let params: Vec<(&str, &str)> = if shape == "native" { vec![("sql", sql)] } else { vec![] };
                        let what = format!("{kind:?} {shape} {mode:?} {format:?} {sql}");
                        let before = call(&ctx, &today, &input(&params, None)).await.expect(&what);
                        for clearance in CLEARANCES {
                            let data = call(&ctx, &api, &input(&params, clearance))
                                .await
                                .unwrap_or_else(|e| panic!("{what} {clearance:?}: {e}"));
                            assert_eq!(
                                parsed(&data),
                                expected(&everyone, clearance, mode, format),
                                "{what} clearance {clearance:?}"
                            );
                            if format == ResultFormat::Json {
                                let want: Vec<&str> = (0..5)
                                    .filter(|&i| !(hidden(LEVELS[i], clearance) && mode == MaskMode::Omit))
                                    .map(|i| COLUMNS[i])
                                    .collect();
                                assert_eq!(keys_in_order(&data), want, "{what} clearance {clearance:?}: key order");
                            }
                            // Nothing above L4 and no clearance: byte for byte what was
                            // answered before levels existed.
                            if matches!(clearance, None | Some(L4)) {
                                assert_eq!(
                                    String::from_utf8_lossy(&data),
                                    String::from_utf8_lossy(&before),
                                    "{what} clearance {clearance:?} differs from today"
                                );
                            }
                        }
                        // A definition without levels masks nothing, whatever the clearance.
                        let data = call(&ctx, &today, &input(&params, Some(L1))).await.expect(&what);
                        assert_eq!(data, before, "{what}: unleveled definition under L1");
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nulls_are_masked_like_values() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile_on(&datasource(kind), wizard(true, MaskMode::Mask, ResultFormat::Json));
        let data = parsed(&call(&ctx, &api, &input(&[], Some(L2))).await.unwrap());
        let rows = data["rows"].as_array().unwrap();
        let without_phone = customers().iter().filter(|c| c.phone.is_none()).count();
        assert!(without_phone > 0);
        assert!(rows.iter().all(|r| r["phone"] == json!(MASK)), "{kind:?}: {data}");
    }
}

fn leveled_params() -> Json {
    json!([
        {"name": "city", "type": "string", "column": "city"},
        {"name": "phone", "type": "string", "column": "phone", "securityLevel": "L3"},
        {"name": "minId", "type": "int", "column": "id", "operator": ">=", "default": "3", "securityLevel": "L4"}
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_above_the_clearance_are_refused() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let ds = datasource(kind);
        let mut spec = wizard(true, MaskMode::Omit, ResultFormat::Json);
        spec["requestParams"] = leveled_params();
        spec["options"]["pagination"] = json!(true);
        let wizard_api = compile_on(&ds, spec);
        let mut spec = script(true, MaskMode::Mask, ResultFormat::Json);
        spec["sql"] = json!(
            "SELECT id, name, city, phone, salary FROM customers <where><if test=\"city != null\">city = #{city}</if>\
             <if test=\"phone != null\">AND phone = #{phone}</if><if test=\"minId != null\">AND id &gt;= #{minId}</if>\
             </where> ORDER BY id"
        );
        spec["requestParams"] = leveled_params();
        spec["options"]["pagination"] = json!(true);
        let script_api = compile_on(&ds, spec);
        let phone = customers()[0].phone.clone().unwrap();
        for api in [&wizard_api, &script_api] {
            let what = format!("{kind:?} {}", api.definition().mode.name());
            for (params, clearance) in [
                (vec![("phone", phone.as_str())], Some(L2)),
                (vec![("phone", "")], Some(L1)),
                (vec![("city", "Beijing"), ("phone", phone.as_str())], Some(L1)),
            ] {
                let e = call(&ctx, api, &input(&params, clearance)).await.unwrap_err();
                assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Parameter.phone", 403), "{what}: {e}");
                assert!(e.message.contains("needs clearance L3"), "{e}");
                // Dry runs refuse the parameter too.
                let e = dry_sql(&ctx, api, &input(&params, clearance)).await.unwrap_err();
                assert_eq!(e.code(), "Forbidden.Parameter.phone", "{what} dry run");
            }
            let e = call(&ctx, api, &input(&[("minId", "1")], Some(L3))).await.unwrap_err();
            assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Parameter.minId", 403), "{what}");
            // Cleared callers may use them; reserved parameters are nobody's.
            let ids = |data: &[u8]| -> Vec<i64> {
                parsed(data)["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
            };
            for clearance in [None, Some(L4)] {
                let data = call(&ctx, api, &input(&[("phone", phone.as_str()), ("minId", "1")], clearance))
                    .await
                    .unwrap_or_else(|e| panic!("{what} {clearance:?}: {e}"));
                assert_eq!(ids(&data), [1], "{what}");
            }
            let data = call(&ctx, api, &input(&[("phone", phone.as_str())], Some(L3))).await.expect(&what);
            assert!(ids(&data).is_empty(), "{what}: the default minId=3 still applies");
            // An absent optional parameter keeps its designer-set default.
            let data = call(&ctx, api, &input(&[("pageNum", "1"), ("pageSize", "5")], Some(L1))).await.expect(&what);
            assert_eq!(ids(&data), [3, 4, 5, 6, 7], "{what}");
        }

        // A required parameter above the clearance is refused even when absent.
        let mut spec = wizard(true, MaskMode::Mask, ResultFormat::Json);
        spec["requestParams"] =
            json!([{"name": "code", "type": "string", "column": "phone", "required": true, "securityLevel": "L3"}]);
        let api = compile_on(&ds, spec);
        let e = call(&ctx, &api, &input(&[], Some(L2))).await.unwrap_err();
        assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Parameter.code", 403), "{kind:?}");
        let e = call(&ctx, &api, &input(&[], None)).await.unwrap_err();
        assert_eq!((e.code().as_str(), e.status()), ("MissingParameter.code", 400), "{kind:?}");
        let e = call(&ctx, &api, &input(&[], Some(L3))).await.unwrap_err();
        assert_eq!(e.code(), "MissingParameter.code", "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_ignore_the_clearance_except_for_parameters() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let ds = datasource(kind);
        for mode in MODES {
            let apis = [
                (compile_on(&ds, wizard(true, mode, ResultFormat::Json)), vec![]),
                (compile_on(&ds, script(true, mode, ResultFormat::Json)), vec![]),
                (
                    compile_on(&ds, native(true, mode, ResultFormat::Json)),
                    vec![("sql", "SELECT id, phone FROM customers WHERE salary > 1 ORDER BY 2")],
                ),
            ];
            for (api, params) in &apis {
                let plain = dry_sql(&ctx, api, &input(params, None)).await.unwrap();
                for clearance in CLEARANCES {
                    let sql = dry_sql(&ctx, api, &input(params, clearance)).await.unwrap();
                    assert_eq!(sql, plain, "{kind:?} {mode:?} {clearance:?}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn native_refusals_depend_on_the_clearance() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile_on(&datasource(kind), native(true, MaskMode::Mask, ResultFormat::Json));
        let cases: [(&str, Option<SecurityLevel>, Option<&str>); 8] = [
            ("SELECT id FROM customers WHERE phone LIKE '+86%'", None, None),
            ("SELECT id FROM customers WHERE phone LIKE '+86%'", Some(L3), None),
            ("SELECT id FROM customers WHERE phone LIKE '+86%'", Some(L2), Some("phone")),
            ("SELECT id FROM customers WHERE salary > 1", Some(L3), Some("salary")),
            ("SELECT id FROM customers ORDER BY city", Some(L1), Some("city")),
            ("SELECT id FROM customers ORDER BY city", Some(L2), None),
            ("SELECT id, salary FROM customers ORDER BY 2", Some(L3), Some("ordinal")),
            ("SELECT id, salary FROM customers ORDER BY 2", Some(L4), None),
        ];
        for (sql, clearance, refused) in cases {
            let outcome = call(&ctx, &api, &input(&[("sql", sql)], clearance)).await;
            match (outcome, refused) {
                (Ok(_), None) => {}
                (Err(e), Some(word)) => {
                    assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Field", 403), "{kind:?} {sql}");
                    assert!(e.message.contains(word), "{kind:?} {sql}: {e}");
                }
                (outcome, _) => panic!("{kind:?} {sql} {clearance:?}: {:?}", outcome.map(|d| parsed(&d))),
            }
        }
    }
}

/// The result's column names, in order (JSONCompact).
fn columns(data: &[u8]) -> Vec<String> {
    parsed(data)["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn native_hidden_items_keep_the_names_the_database_gives_them() {
    let ctx = sluice_tests::context().await;
    let queries = [
        "SELECT id, upper(phone), phone LIKE '+86%' AS x, coalesce(phone, 'none'), \
         CASE WHEN phone IS NULL THEN 0 ELSE 1 END, length(phone), (phone), c.phone, PHONE, salary * 2, \
         CAST(salary AS CHAR(20)), name FROM customers c ORDER BY id",
        "SELECT city, count(phone), max(salary), count(*) FROM customers GROUP BY city ORDER BY city",
        "SELECT c.*, upper(c.phone) AS u, o.* FROM customers c JOIN orders o ON o.user_id = c.id ORDER BY o.id",
        "SELECT *, phone FROM customers ORDER BY id",
    ];
    for kind in KINDS {
        let ds = datasource(kind);
        let masked = compile_on(&ds, native(true, MaskMode::Mask, ResultFormat::JsonCompact));
        let omitted = compile_on(&ds, native(true, MaskMode::Omit, ResultFormat::JsonCompact));
        for sql in queries {
            let what = format!("{kind:?} {sql}");
            let plain = call(&ctx, &masked, &input(&[("sql", sql)], None)).await.expect(&what);
            let data = call(&ctx, &masked, &input(&[("sql", sql)], Some(L2))).await.expect(&what);
            assert_eq!(columns(&data), columns(&plain), "{what}: masked names");
            let (plain, data) = (parsed(&plain), parsed(&data));
            let plain_rows = plain["rows"].as_array().unwrap();
            let rows = data["rows"].as_array().unwrap();
            assert_eq!(rows.len(), plain_rows.len(), "{what}: row count");
            // Each column is either masked in every row or equal to the unmasked one.
            let mut masked_columns = Vec::new();
            for i in 0..plain["columns"].as_array().unwrap().len() {
                let all_masked = rows.iter().all(|r| r[i] == json!(MASK));
                let all_equal = rows.iter().zip(plain_rows).all(|(r, p)| r[i] == p[i]);
                assert!(all_masked || all_equal, "{what}: column {i} partly masked");
                if all_masked {
                    masked_columns.push(i);
                }
            }
            assert!(!masked_columns.is_empty(), "{what}: nothing masked");
            let omitted_data = call(&ctx, &omitted, &input(&[("sql", sql)], Some(L2))).await.expect(&what);
            let want: Vec<String> = columns(&serde_json::to_vec(&plain).unwrap())
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !masked_columns.contains(i))
                .map(|(_, c)| c)
                .collect();
            assert_eq!(columns(&omitted_data), want, "{what}: omitted names");
        }
    }
}

/// The queries of the masking corpus that apply to `kind`, as in `native_corpus.rs`.
fn corpus(kind: DatasourceKind) -> Vec<String> {
    let own = match kind {
        DatasourceKind::Postgres => "pg",
        DatasourceKind::Mysql => "mysql",
        DatasourceKind::Sqlite => "sqlite",
    };
    include_str!("../../plugins/tests/corpus/native_masking_bypass.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| match l.split_once(':') {
            Some((prefix, rest)) if ["pg", "mysql", "sqlite"].contains(&prefix) => {
                (prefix == own).then(|| rest.trim().to_owned())
            }
            _ => Some(l.to_owned()),
        })
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}

/// Strings of the restricted data of `rows` that must never appear in a masked answer.
fn secrets(rows: &[Customer]) -> Vec<String> {
    rows.iter().flat_map(|c| c.phone.iter().cloned().chain([decimal(c.salary_cents)])).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_queries_cannot_tell_restricted_values_apart() {
    let ctx = sluice_tests::context().await;
    let (mut accepted, mut refused, mut failed, mut leaky_without_clearance) = (0, 0, 0, 0);
    let secrets_a = secrets(&customers());
    let secrets_b = secrets(&customers_scrambled());
    for kind in KINDS {
        let (a, b) = (datasource(kind), datasource_scrambled(kind));
        for (mode, format) in [(MaskMode::Mask, ResultFormat::Json), (MaskMode::Omit, ResultFormat::JsonCompact)] {
            let (api_a, api_b) =
                (compile_on(&a, native(true, mode, format)), compile_on(&b, native(true, mode, format)));
            for sql in corpus(kind) {
                let for_db = |ds: &Datasource| match kind {
                    DatasourceKind::Mysql => sql.replace("app.", &format!("{}.", ds.connection.database)),
                    _ => sql.clone(),
                };
                let (sql_a, sql_b) = (for_db(&a), for_db(&b));
                let answer_a = call(&ctx, &api_a, &input(&[("sql", &sql_a)], Some(L2))).await;
                let answer_b = call(&ctx, &api_b, &input(&[("sql", &sql_b)], Some(L2))).await;
                match (&answer_a, &answer_b) {
                    (Ok(data_a), Ok(data_b)) => {
                        accepted += 1;
                        let (text_a, text_b) = (String::from_utf8_lossy(data_a), String::from_utf8_lossy(data_b));
                        assert_eq!(text_a, text_b, "{kind:?} {mode:?}: `{sql}` tells the databases apart");
                        for secret in secrets_a.iter().chain(&secrets_b).filter(|s| s.len() > 4) {
                            let quoted = format!("\"{secret}\"");
                            assert!(!text_a.contains(&quoted), "{kind:?}: `{sql}` leaked {secret}: {text_a}");
                        }
                        // The same query without a clearance does see the difference (when it
                        // reads restricted data at all): the comparison above can catch leaks.
                        let plain_a = call(&ctx, &api_a, &input(&[("sql", &sql_a)], None)).await;
                        let plain_b = call(&ctx, &api_b, &input(&[("sql", &sql_b)], None)).await;
                        if let (Ok(pa), Ok(pb)) = (plain_a, plain_b)
                            && pa != pb
                        {
                            leaky_without_clearance += 1;
                        }
                    }
                    (Err(e_a), Err(e_b)) => {
                        assert_eq!(e_a, e_b, "{kind:?}: `{sql}` refused differently");
                        if e_a.code() == "InternalError.Database" {
                            failed += 1;
                            println!("{kind:?}: failed in the database: {sql}");
                        } else {
                            refused += 1;
                            assert!(
                                matches!(
                                    e_a.code().as_str(),
                                    "Forbidden.Field" | "Forbidden.Query" | "InvalidParameter.sql"
                                ),
                                "{kind:?}: `{sql}` refused for the wrong reason: {e_a}"
                            );
                        }
                    }
                    _ => panic!(
                        "{kind:?} {mode:?}: `{sql}` answered one database and not the other: {:?} / {:?}",
                        answer_a.as_ref().map(|d| String::from_utf8_lossy(d).into_owned()),
                        answer_b.as_ref().map(|d| String::from_utf8_lossy(d).into_owned())
                    ),
                }
            }
        }
    }
    println!(
        "accepted {accepted} (of which {leaky_without_clearance} differ without a clearance), refused {refused}, \
         failed in the database {failed}"
    );
    assert!(accepted >= 200, "only {accepted} corpus answers were masked");
    assert!(refused >= 500, "only {refused} corpus refusals");
    assert!(leaky_without_clearance >= 150, "only {leaky_without_clearance} would leak without masking");
    assert!(failed <= 12, "{failed} corpus queries failed in the database");
}
