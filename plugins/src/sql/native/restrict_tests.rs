//! Native queries under a restriction: where restricted columns may appear, what is hidden,
//! and what the database is sent instead. The hostile corpus
//! (`plugins/tests/corpus/native_masking_bypass.txt`) runs here without a database; the
//! `sluice-tests` crate runs it on all three databases.

use catalog::model::{MaskMode, NativeSpec, ResponseField, SecurityLevel};
use sqlparser::ast::{Expr, Ident, SelectItem, SetExpr, Statement, Value};
use sqlparser::parser::Parser;

use super::tests::corpus_lines;
use super::{NativePolicy, Restricted, parser_dialect};
use crate::error::ApiError;
use crate::sql::dialect::Dialect;
use crate::sql::mask::{Masking, ProjectionItem};

use ProjectionItem::{Hidden, Shown, Wildcard};

const CAP: u32 = 100;
const CORPUS: &str = include_str!("../../../tests/corpus/native_masking_bypass.txt");

fn field(name: &str, ty: &str, level: SecurityLevel) -> ResponseField {
    ResponseField {
        name: name.into(),
        column: None,
        field_type: ty.parse().unwrap(),
        sort: None,
        required: false,
        example: None,
        description: String::new(),
        security_level: level,
    }
}

fn default_schema(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "public",
        Dialect::Mysql => "app",
        Dialect::Sqlite => "main",
    }
}

fn policy(dialect: Dialect) -> NativePolicy {
    let spec = NativeSpec { tables: vec!["customers".into(), "orders".into(), "users".into()], functions: vec![] };
    NativePolicy::compile(&spec, dialect, default_schema(dialect)).expect("policy")
}

/// `phone` (L3) and `salary` (L4), for a caller cleared to L2.
fn restricted(dialect: Dialect) -> Restricted {
    let phone = field("phone", "string", SecurityLevel::L3);
    let salary = field("salary", "decimal", SecurityLevel::L4);
    policy(dialect).restrict(&[&phone, &salary], MaskMode::Mask)
}

fn check(dialect: Dialect, sql: &str) -> Result<(String, Option<Masking>), ApiError> {
    policy(dialect).check_restricted(sql, CAP, Some(&restricted(dialect))).map(|(s, m)| (s.sql, m))
}

fn ok(dialect: Dialect, sql: &str) -> (String, Option<Masking>) {
    check(dialect, sql).unwrap_or_else(|e| panic!("{dialect:?} refused `{sql}`: {e}"))
}

fn items(dialect: Dialect, sql: &str) -> Vec<ProjectionItem> {
    let (_, masking) = ok(dialect, sql);
    masking.and_then(|m| m.projection().map(<[_]>::to_vec)).unwrap_or_default()
}

fn refused(dialect: Dialect, sql: &str) -> ApiError {
    match check(dialect, sql) {
        Ok((rendered, _)) => panic!("{dialect:?} accepted `{sql}` as `{rendered}`"),
        Err(e) => e,
    }
}

fn refused_field(dialect: Dialect, sql: &str) -> String {
    let e = refused(dialect, sql);
    assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Field", 403), "{dialect:?} `{sql}`: {e}");
    e.message
}

fn refused_field_everywhere(sql: &str) -> String {
    Dialect::ALL.map(|d| refused_field(d, sql)).into_iter().last().unwrap_or_default()
}

#[test]
fn selected_restricted_columns_are_hidden_and_never_read() {
    let (sql, masking) = ok(Dialect::Postgres, "SELECT id, phone, salary FROM customers");
    assert_eq!(
        sql,
        r#"SELECT id, CAST(NULL AS TEXT) AS "phone", CAST(NULL AS NUMERIC) AS "salary" FROM customers LIMIT 100"#
    );
    let masking = masking.expect("masking");
    assert_eq!(masking.projection(), Some(&[Shown, Hidden, Hidden][..]));
    assert_eq!(masking.hidden_columns(&["id", "phone", "salary"]), [false, true, true]);
    let (sql, _) = ok(Dialect::Mysql, "SELECT c.phone AS p, upper(PHONE) FROM customers c");
    assert_eq!(
        sql,
        "SELECT CAST(NULL AS CHAR) AS p, upper(CAST(NULL AS CHAR)) AS `upper(PHONE)` FROM customers c LIMIT 100"
    );
    let (sql, _) = ok(Dialect::Sqlite, "SELECT PHONE FROM customers");
    assert_eq!(sql, r#"SELECT CAST(NULL AS TEXT) AS "phone" FROM customers LIMIT 100"#);
}

#[test]
fn derived_expressions_in_the_select_list_are_hidden_with_their_shape() {
    for dialect in Dialect::ALL {
        assert_eq!(
            items(
                dialect,
                "SELECT id, phone LIKE '138%' AS x, length(name), CASE WHEN salary > 1 THEN 1 END FROM customers"
            ),
            [Shown, Hidden, Shown, Hidden]
        );
        // Aggregates stay aggregates: one row, as without the restriction.
        let (sql, _) = ok(dialect, "SELECT count(phone), max(salary) FROM customers");
        assert!(sql.contains("count(CAST(NULL AS ") && sql.contains("max(CAST(NULL AS "), "{sql}");
        // An alias naming a restricted column hides its item.
        assert_eq!(items(dialect, "SELECT name AS phone, id FROM customers"), [Hidden, Shown]);
    }
}

#[test]
fn errors_and_delays_cannot_depend_on_hidden_values() {
    let (sql, _) = ok(
        Dialect::Postgres,
        "SELECT CASE WHEN phone LIKE '1%' THEN (SELECT id FROM orders) ELSE 1 END FROM customers",
    );
    assert_eq!(
        sql,
        "SELECT CASE WHEN CAST(NULL AS TEXT) LIKE '1%' THEN (SELECT id FROM orders) ELSE 1 END AS \"case\" \
         FROM customers LIMIT 100"
    );
}

#[test]
fn references_outside_the_select_list_are_refused() {
    for sql in [
        "SELECT id FROM customers WHERE phone = '1'",
        "SELECT c.id FROM customers c JOIN orders o ON o.amount = c.salary",
        "SELECT c.id FROM customers c JOIN customers d USING (phone)",
        "SELECT count(*) FROM customers GROUP BY phone",
        "SELECT city FROM customers GROUP BY city HAVING max(salary) > 1",
        "SELECT id FROM customers ORDER BY phone",
        "SELECT id, row_number() OVER (ORDER BY phone) FROM customers",
        "SELECT id, row_number() OVER w FROM customers WINDOW w AS (ORDER BY salary)",
        "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE phone > '')",
        "SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM customers WHERE salary > 1)",
        "SELECT (SELECT phone FROM customers LIMIT 1) FROM users",
        "SELECT * FROM (SELECT phone FROM customers) t",
        "WITH t AS (SELECT phone FROM customers) SELECT 1 FROM t",
        "SELECT id FROM customers UNION SELECT id FROM customers WHERE phone > ''",
        "SELECT phone FROM customers UNION SELECT name FROM customers",
    ] {
        let message = refused_field_everywhere(sql);
        assert!(message.contains("`phone`") || message.contains("`salary`"), "{sql}: {message}");
    }
    let message = refused_field(Dialect::Postgres, "SELECT id FROM customers WHERE phone = '1'");
    assert!(message.starts_with("column `phone` needs clearance L3"), "{message}");
}

#[test]
fn names_fold_across_quoting_case_and_qualification() {
    refused_field(Dialect::Postgres, r#"SELECT id FROM customers WHERE "PHONE" = '1'"#);
    refused_field(Dialect::Postgres, "SELECT id FROM customers WHERE public.customers.phone = '1'");
    refused_field(Dialect::Mysql, "SELECT id FROM customers WHERE `Phone` = '1'");
    refused_field(Dialect::Mysql, r#"SELECT id FROM customers WHERE "phone" = '1'"#);
    refused_field(Dialect::Mysql, "SELECT id FROM customers WHERE app.customers.SALARY > 1");
    refused_field(Dialect::Sqlite, "SELECT id FROM customers WHERE [phone] = '1'");
    refused_field(Dialect::Sqlite, "SELECT id FROM customers c WHERE c.\"PHONE\" = '1'");
    // MySQL folds KELVIN SIGN to `k`.
    let kind = field("kind", "string", SecurityLevel::L4);
    let r = policy(Dialect::Mysql).restrict(&[&kind], MaskMode::Omit);
    let e = policy(Dialect::Mysql)
        .check_restricted("SELECT id FROM customers WHERE \u{212A}IND = 'x'", CAP, Some(&r))
        .unwrap_err();
    assert_eq!(e.code(), "Forbidden.Field");
}

#[test]
fn aliases_of_hidden_items_are_restricted_too() {
    for sql in [
        "SELECT id, phone AS p FROM customers ORDER BY p",
        "SELECT salary AS s, count(*) FROM customers GROUP BY s",
        "SELECT upper(phone) AS name FROM customers ORDER BY name",
    ] {
        let message = refused_field_everywhere(sql);
        assert!(message.contains("names a selected column derived from a restricted column"), "{message}");
    }
    refused_field(Dialect::Sqlite, "SELECT id, phone AS p FROM customers WHERE p > ''");
}

#[test]
fn whole_rows_stand_for_every_column() {
    for sql in [
        "SELECT id FROM customers c WHERE c::text LIKE '%1%'",
        "SELECT id FROM customers c ORDER BY c",
        "SELECT id FROM customers c WHERE concat(c.*) LIKE '%1%'",
        "SELECT id FROM customers WHERE customers IS NOT NULL",
    ] {
        let message = refused_field(Dialect::Postgres, sql);
        assert!(message.contains("whole rows"), "{message}");
    }
    let (sql, masking) = ok(Dialect::Postgres, "SELECT c, concat(c.*), count(*) FROM customers c");
    assert_eq!(sql, r#"SELECT NULL AS "c", concat(NULL) AS "concat", count(*) FROM customers c LIMIT 100"#);
    assert_eq!(masking.unwrap().projection(), Some(&[Hidden, Hidden, Shown][..]));
}

#[test]
fn an_order_by_alias_is_the_output_column_not_a_whole_row() {
    for dialect in Dialect::ALL {
        let sql = "SELECT city, count(*) AS customers FROM customers GROUP BY city ORDER BY customers DESC";
        assert_eq!(check(dialect, sql).unwrap().1, None, "{dialect:?}");
        // Only as a bare ORDER BY item, and only when the alias is not a hidden item's.
        refused_field(
            dialect,
            "SELECT city, count(*) AS customers FROM customers GROUP BY city ORDER BY customers + 1",
        );
        refused_field(dialect, "SELECT city, max(salary) AS customers FROM customers GROUP BY city ORDER BY customers");
        refused_field(dialect, "SELECT city, count(*) AS customers FROM customers GROUP BY city HAVING customers > 1");
    }
}

#[test]
fn wildcards_are_hidden_by_name_and_only_at_the_top() {
    for dialect in Dialect::ALL {
        let (sql, masking) = ok(dialect, "SELECT * FROM customers ORDER BY id");
        assert_eq!(sql, "SELECT * FROM customers ORDER BY id LIMIT 100");
        let masking = masking.expect("a wildcard needs masking");
        assert_eq!(
            masking.hidden_columns(&["id", "name", "city", "PHONE", "salary"]),
            [false, false, false, true, true]
        );
        assert_eq!(items(dialect, "SELECT c.*, phone, o.* FROM customers c, orders o"), [Wildcard, Hidden, Wildcard]);
        for sql in [
            "SELECT count(*) FROM (SELECT * FROM customers) t",
            "SELECT id FROM customers WHERE EXISTS (SELECT * FROM customers)",
            "WITH t AS (SELECT * FROM customers) SELECT id FROM t",
            "SELECT id, name FROM customers UNION ALL SELECT * FROM users",
            "SELECT * FROM customers AS c(a, b, x, d, e)",
            "WITH t(a) AS (SELECT id FROM customers) SELECT a FROM t",
            "SELECT id FROM customers NATURAL JOIN users",
            "SELECT DISTINCT * FROM customers",
        ] {
            refused_field(dialect, sql);
        }
    }
}

#[test]
fn positions_are_refused_when_they_could_reach_a_hidden_column() {
    for sql in [
        "SELECT id, phone FROM customers ORDER BY 2",
        "SELECT id, phone FROM customers ORDER BY 1",
        "SELECT * FROM customers ORDER BY 4",
        "SELECT * FROM customers ORDER BY (4)",
        "SELECT salary, count(*) FROM customers GROUP BY 1",
    ] {
        let message = refused_field_everywhere(sql);
        assert!(message.contains("ordinal"), "{message}");
    }
    refused_field(Dialect::Postgres, "SELECT DISTINCT ON (1) * FROM customers");
    // Without a hidden item or `*`, ordinals are harmless.
    for dialect in Dialect::ALL {
        assert!(check(dialect, "SELECT city, count(*) FROM customers GROUP BY 1 ORDER BY 2").unwrap().1.is_none());
    }
}

#[test]
fn queries_that_do_not_touch_restricted_columns_are_unchanged() {
    for dialect in Dialect::ALL {
        for sql in [
            "SELECT id, name, city FROM customers WHERE city = 'x' ORDER BY 1",
            "SELECT c.id, sum(o.amount) FROM customers c JOIN orders o ON o.user_id = c.id GROUP BY c.id",
            "SELECT id FROM customers UNION SELECT user_id FROM orders",
            "WITH t AS (SELECT id FROM customers) SELECT id FROM t",
            "SELECT id, row_number() OVER (ORDER BY name) FROM customers",
        ] {
            let plain = policy(dialect).check(sql, CAP).expect("plain").sql;
            assert_eq!(check(dialect, sql).expect("restricted"), (plain, None), "{dialect:?} {sql}");
        }
    }
}

#[test]
fn postgres_output_names_follow_figure_colname() {
    let (sql, _) = ok(
        Dialect::Postgres,
        "SELECT phone::text, CAST(salary * 2 AS INTEGER), trim(phone), substring(phone FROM 1 FOR 2), \
         (c).phone, coalesce(phone, ''), phone || 'x', \"Phone\" FROM customers c",
    );
    for name in [
        r#"AS "phone""#,
        r#"AS "int4""#,
        r#"AS "btrim""#,
        r#"AS "substring""#,
        r#"AS "coalesce""#,
        r#"AS "?column?""#,
        r#"AS "Phone""#,
    ] {
        assert!(sql.contains(name), "{name} missing in {sql}");
    }
}

#[test]
fn typed_nulls_survive_regeneration_for_every_type_and_dialect() {
    for dialect in Dialect::ALL {
        for ty in ["string", "int", "float", "decimal", "bool", "date", "datetime", "json", "array<int>"] {
            let f = field("phone", ty, SecurityLevel::L4);
            let r = policy(dialect).restrict(&[&f], MaskMode::Mask);
            let (rendered, masking) = policy(dialect)
                .check_restricted("SELECT phone, upper(phone) FROM customers", CAP, Some(&r))
                .unwrap_or_else(|e| panic!("{dialect:?} {ty}: {e}"));
            assert!(rendered.sql.contains("CAST(NULL AS"), "{dialect:?} {ty}: {}", rendered.sql);
            assert_eq!(masking.unwrap().projection(), Some(&[Hidden, Hidden][..]));
        }
    }
}

/// For an accepted query: with the hidden items blanked out, the regenerated SQL must use no
/// restricted data at all (checked by running it through the restriction again).
fn assert_nothing_restricted_is_shown(dialect: Dialect, sql: &str, regenerated: &str, masking: Option<&Masking>) {
    let mut statements = Parser::parse_sql(parser_dialect(dialect), regenerated).expect("regenerated SQL parses");
    let Some(Statement::Query(query)) = statements.first_mut() else { panic!("not a query") };
    if let (SetExpr::Select(select), Some(items)) = (&mut *query.body, masking.and_then(|m| m.projection())) {
        assert_eq!(select.projection.len(), items.len(), "{sql}");
        for (index, (item, kind)) in select.projection.iter_mut().zip(items).enumerate() {
            if *kind == Hidden {
                *item = SelectItem::ExprWithAlias {
                    expr: Expr::value(Value::Null),
                    alias: Ident::new(format!("blank{index}")),
                };
            }
        }
    }
    let blanked = statements[0].to_string();
    match check(dialect, &blanked) {
        Ok((_, again)) => {
            let items = again.as_ref().and_then(|m| m.projection()).unwrap_or_default();
            assert!(
                !items.contains(&Hidden),
                "{dialect:?}: `{sql}` shows restricted data: `{blanked}` still has hidden items {items:?}"
            );
        }
        Err(e) => panic!("{dialect:?}: `{sql}` regenerated as `{regenerated}` uses restricted data: {e}"),
    }
}

#[test]
fn every_masking_corpus_line_is_refused_or_masked() {
    let mut accepted = 0;
    let mut refusals = 0;
    for dialect in Dialect::ALL {
        for sql in corpus_lines(CORPUS, dialect) {
            match check(dialect, &sql) {
                Ok((regenerated, masking)) => {
                    accepted += 1;
                    assert_nothing_restricted_is_shown(dialect, &sql, &regenerated, masking.as_ref());
                }
                Err(e) => {
                    refusals += 1;
                    assert!(
                        matches!(e.code().as_str(), "Forbidden.Field" | "Forbidden.Query" | "InvalidParameter.sql"),
                        "{dialect:?}: `{sql}` refused for the wrong reason: {e}"
                    );
                }
            }
        }
    }
    assert!(accepted >= 150 && refusals >= 300, "{accepted} accepted, {refusals} refused");
}
