//! JSON, JSONCompact, XML and CSV (`docs/formats.md`) on SQLite, PostgreSQL and MariaDB: each
//! format's bytes are the same from every database, and every format says what JSON says
//! (less what each documents it cannot carry); masking hides the same fields in each.

use catalog::model::{ApiDefinition, DatasourceKind, ResultFormat, SecurityLevel};
use plugins::format::Requested;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput, PluginContext};
use serde_json::{Value as Json, json};
use sluice_tests::formats::{Table, as_xml_carries, csv_of_json, from_csv, from_json, from_xml, parse_xml};
use sluice_tests::{KINDS, datasource, texts};

const FORMATS: [Requested; 4] = [Requested::Configured, Requested::Json, Requested::Xml, Requested::Csv];

fn compile(kind: DatasourceKind, spec: &Json) -> SqlApi {
    let mut spec = spec.clone();
    spec["datasourceId"] = json!(datasource(kind).id);
    let definition: ApiDefinition = serde_json::from_value(spec).expect("test definition parses");
    SqlApi::compile(&definition, &datasource(kind)).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

/// One call's `data` bytes and the format they are in.
async fn data(
    ctx: &PluginContext,
    api: &SqlApi,
    params: &[(&str, &str)],
    format: Requested,
    clearance: Option<SecurityLevel>,
) -> (Vec<u8>, ResultFormat) {
    let call = Call {
        params: params.iter().map(|(k, v)| ((*k).to_owned(), RawParam::Text((*v).to_owned()))).collect(),
        clearance,
        format,
        ..Call::default()
    };
    match api.invoke(&ctx.pools, &call).await.expect("call succeeds") {
        CallOutput::Data { data, format, .. } => (data, format),
        other => panic!("{other:?}"),
    }
}

/// Calls `spec` in every format on every database: the bytes of each format agree across
/// databases; returns them per format (JSON configured, JSON asked, XML, CSV).
async fn every_format(spec: &Json, params: &[(&str, &str)], clearance: Option<SecurityLevel>) -> Vec<Vec<u8>> {
    let ctx = sluice_tests::context().await;
    let mut answers: Vec<Vec<u8>> = Vec::new();
    for (f, format) in FORMATS.into_iter().enumerate() {
        let mut first: Option<(DatasourceKind, Vec<u8>)> = None;
        for kind in KINDS {
            let api = compile(kind, spec);
            let (bytes, resolved) = data(&ctx, &api, params, format, clearance).await;
            assert_eq!(resolved, format.resolve(ResultFormat::Json), "{kind:?}");
            match &first {
                None => first = Some((kind, bytes)),
                Some((other, want)) => assert!(
                    &bytes == want,
                    "{format:?}: {kind:?} and {other:?} differ:\n{}\n{}",
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(want)
                ),
            }
        }
        answers.push(first.expect("a database").1);
        assert!(f < FORMATS.len());
    }
    answers
}

/// Every format of one answer read back: JSON's table, and what XML and CSV say.
fn check_formats_agree(answers: &[Vec<u8>]) -> (Json, Vec<String>) {
    let json: Json = serde_json::from_slice(&answers[0]).expect("JSON");
    assert_eq!(answers[0], answers[1], "JSON asked for by name is the configured JSON");
    let xml = from_xml(&answers[2]);
    let table = from_json(&json, Some(&xml.columns));
    assert!(!table.rows.is_empty());
    assert_eq!(xml, table.map(as_xml_carries), "XML says what JSON says");
    assert_eq!(from_csv(&answers[3]), csv_of_json(&json, Some(&xml.columns)), "CSV says what JSON says");
    (json, xml.columns)
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_values_encode_the_same_in_every_format_from_every_database() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "ids", "type": "array<int>", "column": "id", "operator": "IN"}],
        "responseFields": [
            {"name": "id", "type": "int", "sort": {"direction": "asc"}},
            {"name": "name", "type": "string"},
            {"name": "score", "type": "decimal"},
            {"name": "active", "type": "bool"},
            {"name": "born", "type": "date"},
            {"name": "createdAt", "column": "created_at", "type": "datetime"},
            {"name": "nickname", "type": "string"},
            {"name": "big", "type": "int"},
            {"name": "avatar", "type": "string"}
        ]
    });
    let answers = every_format(&spec, &[("ids", "1,2,3,4,5,6")], None).await;
    let (json, _) = check_formats_agree(&answers);
    // Spot checks of what each format writes for one typed value.
    assert_eq!(json["rows"][0]["big"], "9007199254740993");
    let xml = String::from_utf8(answers[2].clone()).expect("UTF-8");
    assert!(xml.contains("<big>9007199254740993</big>"), "{xml}");
    assert!(xml.contains("<nickname xsi:nil=\"true\"/>"), "{xml}");
    assert!(xml.contains("<score>1.25</score><active>false</active><born>1980-04-10</born>"), "{xml}");
    let csv = String::from_utf8(answers[3].clone()).expect("UTF-8");
    assert!(csv.starts_with("id,name,score,active,born,createdAt,nickname,big,avatar\r\n"), "{csv}");
    assert!(csv.contains("\r\n5,Zoë,6.25,false,1981-05-15,2024-01-01T05:00:00,,5000,BQD/\r\n"), "{csv}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_texts_floats_and_times_encode_the_same_in_every_format() {
    let spec = json!({
        "mode": "wizard", "table": "texts",
        "responseFields": [
            {"name": "id", "type": "int", "sort": {"direction": "asc"}},
            {"name": "label", "type": "string"},
            {"name": "ratio", "type": "float"},
            {"name": "at", "type": "string"}
        ]
    });
    let answers = every_format(&spec, &[], None).await;
    let (json, _) = check_formats_agree(&answers);
    let labels: Vec<Json> = texts().into_iter().map(|(_, label, _, _)| json!(label)).collect();
    let got: Vec<Json> = json["rows"].as_array().expect("rows").iter().map(|r| r["label"].clone()).collect();
    assert_eq!(got, labels, "JSON carries every text as stored");
    let xml = from_xml(&answers[2]);
    // NULL and the empty string stay apart in XML; the control characters are replaced.
    assert_eq!(xml.rows[7][1].as_deref(), Some(""));
    assert_eq!(xml.rows[8][1], None);
    assert_eq!(xml.rows[9][1].as_deref(), Some("ctl\u{FFFD}\u{FFFD}char"));
    assert_eq!(xml.rows[2][1].as_deref(), Some("line\nbreak\r\nand\ttab"), "CR survives parsing");
    let csv = from_csv(&answers[3]);
    assert_eq!(csv.rows[5][1].as_deref(), Some("'=cmd|' /C calc'!A0"), "formula guarded");
    assert_eq!(csv.rows[0][2].as_deref(), Some("0.5"));
    assert_eq!(csv.rows[1][2].as_deref(), Some("-1.25"), "numbers are never guarded");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_json_compact_in_every_format() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}, {"name": "city", "type": "string"}],
        "options": {"resultFormat": "JSONCompact", "pagination": true}
    });
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, &spec);
        let params = [("pageNum", "2"), ("pageSize", "3"), ("withTotal", "true")];
        let (compact, format) = data(&ctx, &api, &params, Requested::Json, None).await;
        assert_eq!(format, ResultFormat::JsonCompact, "application/json keeps the compact shape");
        let compact: Json = serde_json::from_slice(&compact).expect("JSON");
        let (xml, _) = data(&ctx, &api, &params, Requested::Xml, None).await;
        let wrapped = [b"<data>".as_slice(), &xml, b"</data>"].concat();
        let doc = parse_xml(&wrapped);
        let field =
            |name: &str| doc.descendants().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).map(str::to_owned);
        assert_eq!(field("pageNum").as_deref(), Some("2"), "{kind:?}");
        assert_eq!(field("pageSize").as_deref(), Some("3"));
        assert_eq!(field("totalCnt"), Some(compact["totalCnt"].to_string()));
        assert_eq!(from_xml(&xml), from_json(&compact, None), "{kind:?}");
        let (csv, _) = data(&ctx, &api, &params, Requested::Csv, None).await;
        assert_eq!(from_csv(&csv), from_json(&compact, None), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn masking_hides_the_same_fields_in_every_format() {
    let fields = json!([
        {"name": "id", "type": "int", "sort": {"direction": "asc"}},
        {"name": "name", "type": "string"},
        {"name": "phone", "type": "string", "securityLevel": "L3"},
        {"name": "salary", "type": "decimal", "securityLevel": "L4"}
    ]);
    for mode in ["mask", "omit"] {
        let spec = json!({
            "mode": "wizard", "table": "customers", "responseFields": fields,
            "requestParams": [{"name": "ids", "type": "array<int>", "column": "id", "operator": "IN"}],
            "options": {"maskMode": mode}
        });
        let answers = every_format(&spec, &[("ids", "1,2,3,5")], Some(SecurityLevel::L2)).await;
        let (json, columns) = check_formats_agree(&answers);
        let table: Table = from_json(&json, Some(&columns));
        match mode {
            "mask" => {
                assert_eq!(table.columns, ["id", "name", "phone", "salary"]);
                assert!(
                    table.rows.iter().all(|r| r[2].as_deref() == Some("******") && r[3].as_deref() == Some("******"))
                );
            }
            _ => assert_eq!(table.columns, ["id", "name"]),
        }
        for answer in &answers[2..] {
            let text = String::from_utf8_lossy(answer);
            assert!(!text.contains("+1-555"), "no phone leaks in {text}");
        }
    }
}
