use catalog::model::NativeSpec;

use super::NativePolicy;
use crate::error::ApiError;
use crate::sql::dialect::Dialect;

const CAP: u32 = 100;

fn default_schema(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "public",
        Dialect::Mysql => "app",
        Dialect::Sqlite => "main",
    }
}

fn spec(tables: &[&str], functions: &[&str]) -> NativeSpec {
    NativeSpec {
        tables: tables.iter().map(|t| t.to_string()).collect(),
        functions: functions.iter().map(|f| f.to_string()).collect(),
    }
}

fn policy_with(dialect: Dialect, tables: &[&str], functions: &[&str]) -> NativePolicy {
    NativePolicy::compile(&spec(tables, functions), dialect, default_schema(dialect)).expect("test policy compiles")
}

/// The policy of the corpus: tables `users` and `orders`, no extra functions.
fn policy(dialect: Dialect) -> NativePolicy {
    policy_with(dialect, &["users", "orders"], &[])
}

fn ok(dialect: Dialect, sql: &str) -> String {
    match policy(dialect).check(sql, CAP) {
        Ok(rendered) => {
            assert!(rendered.binds.is_empty());
            rendered.sql
        }
        Err(e) => panic!("{dialect:?} refused `{sql}`: {e}"),
    }
}

fn refused(dialect: Dialect, sql: &str) -> ApiError {
    match policy(dialect).check(sql, CAP) {
        Ok(rendered) => panic!("{dialect:?} accepted `{sql}` as `{}`", rendered.sql),
        Err(e) => e,
    }
}

fn ok_everywhere(sql: &str) {
    for dialect in Dialect::ALL {
        ok(dialect, sql);
    }
}

fn refused_everywhere(sql: &str) -> ApiError {
    let mut last = None;
    for dialect in Dialect::ALL {
        last = Some(refused(dialect, sql));
    }
    last.expect("three dialects")
}

fn assert_forbidden(e: &ApiError) {
    assert_eq!((e.code().as_str(), e.status()), ("Forbidden.Query", 403), "{e}");
}

fn assert_invalid(e: &ApiError) {
    assert_eq!((e.code().as_str(), e.status()), ("InvalidParameter.sql", 400), "{e}");
}

// ---- definitions -------------------------------------------------------------------------

#[test]
fn compile_refuses_more_than_five_tables() {
    let six = spec(&["a", "b", "c", "d", "e", "f"], &[]);
    let err = NativePolicy::compile(&six, Dialect::Postgres, "public").expect_err("six tables");
    assert!(err.message.contains("at most 5"), "{err}");
    let five = spec(&["a", "b", "c", "d", "e"], &[]);
    assert!(NativePolicy::compile(&five, Dialect::Postgres, "public").is_ok());
}

#[test]
fn compile_refuses_bad_names_and_empty_lists() {
    for bad in ["users;", "a.b.c", "1users", "\"users\"", ""] {
        let err = NativePolicy::compile(&spec(&[bad], &[]), Dialect::Mysql, "app");
        assert!(err.is_err(), "table `{bad}` accepted");
    }
    let err = NativePolicy::compile(&spec(&["users"], &["pg_sleep()"]), Dialect::Mysql, "app");
    assert!(err.is_err(), "function with parentheses accepted");
    let err = NativePolicy::compile(&spec(&[], &[]), Dialect::Sqlite, "main").expect_err("no tables");
    assert!(err.message.contains("at least one table"), "{err}");
}

// ---- statement shape ---------------------------------------------------------------------

#[test]
fn returns_regenerated_sql_not_the_callers_text() {
    let sql = ok(Dialect::Postgres, "select  id /* who */ from users -- trailing\n");
    assert_eq!(sql, "SELECT id FROM users LIMIT 100");
}

#[test]
fn refuses_anything_but_one_select() {
    for sql in [
        "DELETE FROM users",
        "UPDATE users SET name = 'x'",
        "INSERT INTO users (id) VALUES (1)",
        "DROP TABLE users",
        "",
        "   ",
        "SELECT",
    ] {
        assert_invalid(&refused_everywhere(sql));
    }
}

#[test]
fn refuses_stacked_statements_but_allows_a_trailing_semicolon() {
    assert_invalid(&refused_everywhere("SELECT * FROM users; SELECT * FROM orders"));
    assert_invalid(&refused_everywhere("SELECT * FROM users;;"));
    assert_invalid(&refused_everywhere("SELECT * FROM users; -- more"));
    ok_everywhere("SELECT * FROM users; \n\t");
}

#[test]
fn refuses_executable_and_hint_comments_before_parsing() {
    for sql in [
        "SELECT * FROM users /*! UNION SELECT * FROM secret */",
        "SELECT /*+ MAX_EXECUTION_TIME(1) */ * FROM users",
        "SELECT * FROM users /*M! JOIN secret */",
        // Even inside a string: the check is on the raw text, on purpose.
        "SELECT * FROM users WHERE name = '/*!'",
    ] {
        assert_invalid(&refused_everywhere(sql));
    }
}

#[test]
fn refuses_select_into() {
    assert_invalid(&refused(Dialect::Postgres, "SELECT * INTO stolen FROM users"));
    assert_invalid(&refused(Dialect::Mysql, "SELECT name INTO @x FROM users"));
}

#[test]
fn refuses_locking_clauses() {
    for sql in [
        "SELECT * FROM users FOR UPDATE",
        "SELECT * FROM users FOR SHARE",
        "SELECT * FROM (SELECT * FROM users FOR UPDATE) t",
    ] {
        assert_invalid(&refused(Dialect::Postgres, sql));
    }
    refused_everywhere("SELECT * FROM users LOCK IN SHARE MODE");
}

#[test]
fn refuses_data_modifying_ctes() {
    for sql in [
        "WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x",
        "WITH x AS (UPDATE users SET name = 'a' RETURNING id) SELECT * FROM x",
        "WITH x AS (INSERT INTO users (id) VALUES (1) RETURNING id) SELECT * FROM x",
    ] {
        assert_invalid(&refused(Dialect::Postgres, sql));
    }
}

#[test]
fn refuses_table_statement_even_for_allowed_tables() {
    refused_everywhere("TABLE secret");
    let e = refused(Dialect::Postgres, "SELECT id FROM users UNION TABLE orders");
    assert!(e.message.contains("SELECT * FROM"), "{e}");
}

#[test]
fn refuses_placeholders() {
    assert_invalid(&refused(Dialect::Postgres, "SELECT * FROM users WHERE id = $1"));
    assert_invalid(&refused(Dialect::Mysql, "SELECT * FROM users WHERE id = ?"));
    assert_invalid(&refused(Dialect::Sqlite, "SELECT * FROM users WHERE id = :id"));
    refused(Dialect::Mysql, "SELECT * FROM users WHERE id = $1");
}

#[test]
fn refuses_session_and_system_variables() {
    assert_forbidden(&refused(Dialect::Mysql, "SELECT @@version"));
    assert_forbidden(&refused(Dialect::Mysql, "SELECT * FROM users WHERE name = @x"));
    refused(Dialect::Mysql, "SELECT @@session.sql_mode");
    refused(Dialect::Sqlite, "SELECT @x");
}

#[test]
fn refuses_backslashes_in_strings_and_odd_quoted_names() {
    // MySQL reads `\'` as a quote, the others do not: a literal must mean the same everywhere.
    refused_everywhere("SELECT * FROM users WHERE name = 'a\\\\'");
    refused(Dialect::Postgres, r#"SELECT * FROM users WHERE name = 'x\'''"#);
    refused(Dialect::Postgres, r#"SELECT "a""b" FROM users"#);
    refused(Dialect::Postgres, "SELECT E'\\x41' FROM users");
    ok_everywhere("SELECT * FROM users WHERE name = 'O''Brien'");
}

#[test]
fn refuses_text_that_prints_back_differently() {
    // sqlparser prints `- -1` as `--1`, a comment in PostgreSQL and SQLite: the round trip
    // catches it rather than sending a query whose tail is commented out.
    let e = refused(Dialect::Postgres, "SELECT - -1, 'x\n* FROM secret --' FROM users");
    assert_invalid(&e);
}

// ---- tables ------------------------------------------------------------------------------

#[test]
fn refuses_tables_outside_the_allow_list() {
    for sql in [
        "SELECT * FROM secret",
        "SELECT * FROM users JOIN secret ON true",
        "SELECT * FROM users WHERE id IN (SELECT id FROM secret)",
        "SELECT id FROM users UNION SELECT id FROM secret",
        "SELECT (SELECT max(id) FROM secret) FROM users",
    ] {
        assert_forbidden(&refused_everywhere(sql));
    }
}

#[test]
fn error_names_the_table_and_what_is_allowed() {
    let e = refused(Dialect::Postgres, "SELECT * FROM secret");
    assert_eq!(e.message, "table `secret` is not allowed by this API; allowed: users, orders");
}

#[test]
fn folds_table_names_per_dialect() {
    // PostgreSQL: unquoted folds to lower case, quoted is exact.
    ok(Dialect::Postgres, "SELECT * FROM USERS");
    ok(Dialect::Postgres, r#"SELECT * FROM "users""#);
    refused(Dialect::Postgres, r#"SELECT * FROM "Users""#);
    // MySQL: exact, quoting ignored (table names are case-sensitive on Linux).
    ok(Dialect::Mysql, "SELECT * FROM `users`");
    refused(Dialect::Mysql, "SELECT * FROM Users");
    refused(Dialect::Mysql, "SELECT * FROM `USERS`");
    // SQLite: case never matters.
    ok(Dialect::Sqlite, r#"SELECT * FROM "USERS""#);
    ok(Dialect::Sqlite, "SELECT * FROM [Users]");
    // Only ASCII folds: a look-alike letter is a different name.
    refused_everywhere("SELECT * FROM ｕsers");
}

#[test]
fn schema_qualified_names_match_only_the_default_schema() {
    ok(Dialect::Postgres, "SELECT * FROM public.users");
    ok(Dialect::Postgres, r#"SELECT * FROM "public"."users""#);
    ok(Dialect::Mysql, "SELECT * FROM app.users");
    ok(Dialect::Sqlite, "SELECT * FROM main.users");
    for sql in ["SELECT * FROM other.users", "SELECT * FROM temp.users", "SELECT * FROM information_schema.tables"] {
        refused_everywhere(sql);
    }
    refused(Dialect::Postgres, "SELECT * FROM main.users");
    refused(Dialect::Mysql, "SELECT * FROM public.users");
}

#[test]
fn allowed_qualified_tables_match_their_schema_only() {
    let p = policy_with(Dialect::Postgres, &["sales.orders", "public.users"], &[]);
    assert!(p.check("SELECT * FROM sales.orders", CAP).is_ok());
    assert!(p.check("SELECT * FROM orders", CAP).is_err());
    assert!(p.check("SELECT * FROM public.orders", CAP).is_err());
    // An allowed table in the default schema may also be written unqualified.
    assert!(p.check("SELECT * FROM users", CAP).is_ok());
    assert!(p.check("SELECT * FROM public.users", CAP).is_ok());
}

#[test]
fn without_a_default_schema_only_literal_schemas_match() {
    let p = NativePolicy::compile(&spec(&["users", "shop.orders"], &[]), Dialect::Mysql, "").expect("compiles");
    assert!(p.check("SELECT * FROM users", CAP).is_ok());
    assert!(p.check("SELECT * FROM shop.orders", CAP).is_ok());
    assert!(p.check("SELECT * FROM shop.users", CAP).is_err());
    assert!(p.check("SELECT * FROM orders", CAP).is_err());
}

#[test]
fn refuses_three_part_names() {
    assert_forbidden(&refused_everywhere("SELECT * FROM db.public.users"));
}

// ---- CTEs --------------------------------------------------------------------------------

#[test]
fn allows_ctes_over_allowed_tables() {
    ok_everywhere("WITH big AS (SELECT * FROM orders WHERE amount > 10) SELECT * FROM big");
    ok_everywhere("WITH a AS (SELECT id FROM users), b AS (SELECT id FROM a) SELECT * FROM b");
}

#[test]
fn refuses_cte_shadowing_a_real_table() {
    // Inside its own non-recursive body, `secret` is the real table.
    assert_forbidden(&refused_everywhere("WITH secret AS (SELECT * FROM secret) SELECT * FROM secret"));
    assert_forbidden(&refused_everywhere("WITH users AS (SELECT * FROM secret) SELECT * FROM users"));
}

#[test]
fn a_cte_does_not_see_later_ctes() {
    assert_forbidden(&refused_everywhere(
        "WITH a AS (SELECT * FROM secret), secret AS (SELECT 1 AS id) SELECT * FROM a",
    ));
    // Not even under RECURSIVE: MySQL and SQLite would read the real table.
    refused_everywhere("WITH RECURSIVE a AS (SELECT * FROM secret), secret AS (SELECT 1 AS id) SELECT * FROM a");
}

#[test]
fn a_recursive_cte_sees_itself() {
    ok_everywhere("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n");
    refused_everywhere("WITH n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n");
}

#[test]
fn a_cte_scope_ends_with_its_query() {
    refused_everywhere("SELECT * FROM (WITH secret AS (SELECT 1 AS id) SELECT * FROM secret) t JOIN secret ON true");
    refused_everywhere(
        "SELECT * FROM users WHERE EXISTS (WITH secret AS (SELECT 1) SELECT 1) \
         AND EXISTS (SELECT 1 FROM secret)",
    );
    // A CTE defined in an outer query is visible in nested queries.
    ok_everywhere("WITH x AS (SELECT id FROM users) SELECT * FROM orders WHERE user_id IN (SELECT id FROM x)");
}

#[test]
fn qualified_names_never_refer_to_ctes() {
    refused(Dialect::Postgres, "WITH t AS (SELECT * FROM users) SELECT * FROM public.t");
    refused(Dialect::Sqlite, "WITH secret AS (SELECT * FROM users) SELECT * FROM main.secret");
}

#[test]
fn cte_names_fold_like_table_names() {
    // PostgreSQL: `Secret` folds to `secret`, which the quoted CTE "Secret" is not.
    refused(Dialect::Postgres, r#"WITH "Secret" AS (SELECT * FROM users) SELECT * FROM Secret"#);
    ok(Dialect::Postgres, r#"WITH "Secret" AS (SELECT * FROM users) SELECT * FROM "Secret""#);
    // SQLite resolves case-insensitively, so the CTE is what `secret` reads.
    ok(Dialect::Sqlite, r#"WITH "SECRET" AS (SELECT * FROM users) SELECT * FROM secret"#);
    refused(Dialect::Mysql, "WITH `SECRET` AS (SELECT * FROM users) SELECT * FROM secret");
}

// ---- functions ---------------------------------------------------------------------------

#[test]
fn refuses_functions_outside_the_safe_set() {
    for sql in [
        "SELECT pg_sleep(1)",
        "SELECT sleep(1) FROM users",
        "SELECT benchmark(1000, 1)",
        "SELECT load_file('/etc/passwd')",
        "SELECT version()",
        "SELECT count(*) FROM users WHERE name = current_setting('x')",
    ] {
        assert_forbidden(&refused_everywhere(sql));
    }
    let e = refused(Dialect::Postgres, "SELECT pg_sleep(1)");
    assert!(e.message.starts_with("function `pg_sleep` is not allowed"), "{e}");
}

#[test]
fn allows_the_safe_set_in_any_case() {
    ok_everywhere("SELECT COUNT(*), Max(age), lower(name) FROM users GROUP BY name");
    ok_everywhere("SELECT id, row_number() OVER (PARTITION BY city ORDER BY age DESC) AS rn FROM users");
}

#[test]
fn refuses_qualified_and_quoted_look_alikes() {
    refused_everywhere("SELECT pg_catalog.pg_sleep(1)");
    refused_everywhere("SELECT pg_catalog.lower(name) FROM users");
    // A quoted name is exact in PostgreSQL: "LOWER" is not lower.
    refused(Dialect::Postgres, r#"SELECT "LOWER"(name) FROM users"#);
    ok(Dialect::Postgres, r#"SELECT "lower"(name) FROM users"#);
}

#[test]
fn checks_keywords_that_are_function_calls() {
    for sql in ["SELECT current_user", "SELECT session_user"] {
        assert_forbidden(&refused_everywhere(sql));
    }
    assert_forbidden(&refused(Dialect::Postgres, "SELECT current_schema"));
    assert_forbidden(&refused(Dialect::Postgres, "SELECT user"));
    ok_everywhere("SELECT current_date, current_timestamp FROM users");
}

#[test]
fn spec_functions_extend_the_safe_set() {
    let p = policy_with(Dialect::Postgres, &["users"], &["JSON_AGG", "reporting.fiscal_year", "generate_series"]);
    assert!(p.check("SELECT json_agg(name) FROM users", CAP).is_ok());
    assert!(p.check("SELECT reporting.fiscal_year(age) FROM users", CAP).is_ok());
    assert!(p.check("SELECT fiscal_year(age) FROM users", CAP).is_err());
    assert!(p.check("SELECT * FROM generate_series(1, 3)", CAP).is_ok());
    assert!(p.check("SELECT pg_sleep(1)", CAP).is_err());
}

#[test]
fn refuses_table_functions_unless_allowed() {
    for sql in [
        "SELECT * FROM generate_series(1, 10)",
        "SELECT * FROM pg_read_file('/etc/passwd')",
        "SELECT * FROM pragma_table_info('users')",
        "SELECT * FROM unnest(ARRAY[1, 2])",
    ] {
        refused_everywhere(sql);
    }
    refused(Dialect::Mysql, "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS t");
}

#[test]
fn refuses_catalog_lookup_casts() {
    assert_forbidden(&refused(Dialect::Postgres, "SELECT 'secret'::regclass"));
    assert_forbidden(&refused(Dialect::Postgres, "SELECT CAST('x' AS regproc)"));
    ok_everywhere("SELECT CAST(age AS CHAR(10)) FROM users");
}

// ---- row cap -----------------------------------------------------------------------------

#[test]
fn caps_limit_to_row_cap() {
    let p = policy(Dialect::Postgres);
    let cap = |sql: &str| p.check(sql, 50).expect("accepted").sql;
    assert_eq!(cap("SELECT id FROM users"), "SELECT id FROM users LIMIT 50");
    assert_eq!(cap("SELECT id FROM users LIMIT 1000"), "SELECT id FROM users LIMIT 50");
    assert_eq!(cap("SELECT id FROM users LIMIT 99999999999999999999999"), "SELECT id FROM users LIMIT 50");
    assert_eq!(cap("SELECT id FROM users LIMIT 10"), "SELECT id FROM users LIMIT 10");
    assert_eq!(cap("SELECT id FROM users OFFSET 5"), "SELECT id FROM users LIMIT 50 OFFSET 5");
    assert_eq!(cap("SELECT id FROM users LIMIT ALL"), "SELECT id FROM users LIMIT 50");
    // The cap is on the whole query, not on one side of a UNION.
    assert_eq!(
        cap("SELECT id FROM users UNION SELECT id FROM orders"),
        "SELECT id FROM users UNION SELECT id FROM orders LIMIT 50"
    );
}

#[test]
fn caps_mysql_offset_comma_limit() {
    let p = policy(Dialect::Mysql);
    let sql = p.check("SELECT id FROM users LIMIT 5, 500", 50).expect("accepted").sql;
    assert_eq!(sql, "SELECT id FROM users LIMIT 5, 50");
}

#[test]
fn refuses_limits_that_are_not_numbers() {
    for sql in [
        "SELECT id FROM users LIMIT (SELECT count(*) FROM users)",
        "SELECT id FROM users LIMIT 1 + 1",
        "SELECT id FROM users LIMIT -1",
        "SELECT id FROM users LIMIT '10'",
    ] {
        assert_invalid(&refused_everywhere(sql));
    }
}

#[test]
fn caps_fetch_first() {
    let p = policy(Dialect::Postgres);
    let sql = p.check("SELECT id FROM users FETCH FIRST 500 ROWS ONLY", 50).expect("accepted").sql;
    assert_eq!(sql, "SELECT id FROM users FETCH FIRST 50 ROWS ONLY");
    assert!(p.check("SELECT id FROM users FETCH FIRST 10 PERCENT ROWS ONLY", 50).is_err());
    assert!(p.check("SELECT id FROM users ORDER BY id FETCH FIRST 5 ROWS WITH TIES", 50).is_err());
}

// ---- corpus ------------------------------------------------------------------------------

/// Corpus lines for `dialect`: `#` lines are comments, a `pg:` / `mysql:` / `sqlite:` prefix
/// limits a line to one dialect, and the two characters `\n` stand for a line break.
pub(super) fn corpus_lines(text: &str, dialect: Dialect) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (only, sql) = match line.split_once(':') {
                Some(("pg", sql)) => (Some(Dialect::Postgres), sql),
                Some(("mysql", sql)) => (Some(Dialect::Mysql), sql),
                Some(("sqlite", sql)) => (Some(Dialect::Sqlite), sql),
                _ => (None, line),
            };
            (only.is_none() || only == Some(dialect)).then(|| sql.trim().replace("\\n", "\n"))
        })
        .collect()
}

const HOSTILE: &str = include_str!("../../../tests/corpus/native_bypass.txt");
const ALLOWED: &str = include_str!("../../../tests/corpus/native_allowed.txt");

#[test]
fn every_hostile_corpus_line_is_refused_in_every_dialect() {
    let mut accepted = Vec::new();
    for dialect in Dialect::ALL {
        let p = policy(dialect);
        for sql in corpus_lines(HOSTILE, dialect) {
            if let Ok(rendered) = p.check(&sql, CAP) {
                accepted.push(format!("{dialect:?}: `{sql}` ran as `{}`", rendered.sql));
            }
        }
    }
    assert!(accepted.is_empty(), "hostile queries accepted:\n{}", accepted.join("\n"));
    assert!(corpus_lines(HOSTILE, Dialect::Postgres).len() >= 120);
}

#[test]
fn every_allowed_corpus_line_is_accepted_in_every_dialect() {
    let mut refusals = Vec::new();
    for dialect in Dialect::ALL {
        let p = policy(dialect);
        for sql in corpus_lines(ALLOWED, dialect) {
            match p.check(&sql, CAP) {
                Ok(rendered) => assert!(
                    rendered.sql.contains("LIMIT") || rendered.sql.contains("FETCH"),
                    "{dialect:?}: `{sql}` regenerated without a cap: `{}`",
                    rendered.sql
                ),
                Err(e) => refusals.push(format!("{dialect:?}: `{sql}`: {e}")),
            }
        }
    }
    assert!(refusals.is_empty(), "legitimate queries refused:\n{}", refusals.join("\n"));
}
