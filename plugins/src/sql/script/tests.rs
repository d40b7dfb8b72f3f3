use rust_decimal::Decimal;

use super::*;

fn param(name: &str, ty: &str) -> RequestParam {
    RequestParam::new(name, ty.parse().unwrap())
}

fn identifier(name: &str, allowed: &[&str]) -> RequestParam {
    let mut p = param(name, "identifier");
    p.allowed_values = allowed.iter().map(|s| s.to_string()).collect();
    p
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.into()))
}

fn int(i: i64) -> Option<Value> {
    Some(Value::Int(i))
}

fn ints(items: &[i64]) -> Option<Value> {
    Some(Value::Array(items.iter().map(|i| Value::Int(*i)).collect()))
}

fn render_in(dialect: Dialect, template: &str, params: &[RequestParam], values: Vec<Option<Value>>) -> RenderedSql {
    let compiled = ScriptTemplate::compile(template, params).unwrap();
    compiled.render(dialect, params, &ParamValues { values }).unwrap()
}

fn render(template: &str, params: &[RequestParam], values: Vec<Option<Value>>) -> RenderedSql {
    render_in(Dialect::Postgres, template, params, values)
}

fn compile_error(template: &str, params: &[RequestParam]) -> TemplateError {
    ScriptTemplate::compile(template, params).unwrap_err()
}

fn at(err: &TemplateError) -> (usize, usize) {
    (err.line, err.column)
}

#[test]
fn plain_sql_with_joins_binds_each_reference() {
    let params = [param("id", "int"), param("status", "string")];
    let r = render(
        "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE o.id = #{id} AND o.status = #{ status }",
        &params,
        vec![int(7), text("paid")],
    );
    assert_eq!(
        r.sql,
        "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE o.id = $1 AND o.status = $2"
    );
    assert_eq!(r.binds, vec![Value::Int(7), Value::Text("paid".into())]);
}

#[test]
fn select_wrapper_is_optional_and_case_insensitive() {
    let params = [param("id", "int")];
    let bare = render("SELECT * FROM t WHERE id = #{id}", &params, vec![int(1)]);
    let wrapped = render(
        "\n<SELECT id=\"byId\" resultType=\"map\">SELECT * FROM t WHERE id = #{id}</Select>\n",
        &params,
        vec![int(1)],
    );
    assert_eq!(bare, wrapped);
    let err = compile_error("SELECT 1 <select>SELECT 2</select>", &[]);
    assert_eq!(at(&err), (1, 1), "{err}");
    let err = compile_error("<select><if test=\"true\"><select>x</select></if></select>", &[]);
    assert_eq!(at(&err), (1, 25), "{err}");
}

#[test]
fn if_includes_its_body_only_when_the_test_passes() {
    let params = [param("name", "string")];
    let t = "SELECT * FROM t WHERE 1 = 1<if test=\"name != null\"> AND name = #{name}</if>";
    let present = render(t, &params, vec![text("bo")]);
    assert_eq!(present.sql, "SELECT * FROM t WHERE 1 = 1 AND name = $1");
    assert_eq!(present.binds, vec![Value::Text("bo".into())]);
    let absent = render(t, &params, vec![None]);
    assert_eq!(absent.sql, "SELECT * FROM t WHERE 1 = 1");
    assert!(absent.binds.is_empty());
}

#[test]
fn tag_boundaries_keep_tokens_apart() {
    let params = [param("a", "int")];
    let r = render("SELECT * FROM t WHERE 1=1<if test=\"a\">AND a = #{a}</if>ORDER BY a", &params, vec![int(1)]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE 1=1 AND a = $1 ORDER BY a");
}

#[test]
fn where_strips_leading_and() {
    let params = [param("a", "int"), param("b", "int")];
    let t = "SELECT * FROM t\n<where>\n  <if test=\"a != null\">AND a = #{a}</if>\n  \
             <if test=\"b != null\">AND b = #{b}</if>\n</where>\nORDER BY a";
    let r = render(t, &params, vec![None, int(2)]);
    assert_eq!(r.sql, "SELECT * FROM t\nWHERE b = $1\n\nORDER BY a");
    let r = render(t, &params, vec![int(1), int(2)]);
    assert_eq!(r.sql, "SELECT * FROM t\nWHERE a = $1\n  AND b = $2\n\nORDER BY a");
    assert_eq!(r.binds, vec![Value::Int(1), Value::Int(2)]);
}

#[test]
fn where_strips_leading_or_case_insensitively_but_not_order() {
    let params = [param("a", "int")];
    let r = render("SELECT * FROM t <where><if test=\"a\">or a = #{a}</if></where>", &params, vec![int(1)]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE a = $1");
    let r = render("SELECT * FROM t<where>ordinal = 1</where>", &params, vec![None]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE ordinal = 1");
}

#[test]
fn where_emits_nothing_when_its_content_is_blank() {
    let params = [param("a", "int")];
    let r = render(
        "SELECT * FROM t <where>\n  <if test=\"a != null\">AND a = #{a}</if>\n</where> LIMIT 5",
        &params,
        vec![None],
    );
    assert_eq!(r.sql, "SELECT * FROM t  LIMIT 5");
}

#[test]
fn choose_takes_the_first_passing_when_else_otherwise() {
    let params = [param("kind", "string")];
    let t = "SELECT * FROM t WHERE <choose>\
             <when test=\"kind == 'a'\">k = 1</when>\
             <when test=\"kind != null\">k = 2</when>\
             <otherwise>k = 3</otherwise></choose>";
    assert_eq!(render(t, &params, vec![text("a")]).sql, "SELECT * FROM t WHERE k = 1");
    assert_eq!(render(t, &params, vec![text("b")]).sql, "SELECT * FROM t WHERE k = 2");
    assert_eq!(render(t, &params, vec![None]).sql, "SELECT * FROM t WHERE k = 3");
    let no_otherwise = "SELECT 1<choose><when test=\"kind\">, 2</when></choose>";
    assert_eq!(render(no_otherwise, &params, vec![None]).sql, "SELECT 1");
}

#[test]
fn choose_accepts_only_when_and_a_final_otherwise() {
    let params = [param("k", "int")];
    let err = compile_error("<choose>\n  x <when test=\"k\">1</when></choose>", &params);
    assert_eq!(at(&err), (2, 3), "{err}");
    let err = compile_error("<choose><otherwise>1</otherwise><when test=\"k\">2</when></choose>", &params);
    assert_eq!(at(&err), (1, 9), "{err}");
    let err = compile_error(
        "<choose><when test=\"k\">1</when><otherwise>2</otherwise><when test=\"k\">3</when></choose>",
        &params,
    );
    assert_eq!(at(&err), (1, 56), "{err}");
    let err = compile_error("SELECT <when test=\"k\">1</when>", &params);
    assert_eq!(at(&err), (1, 8), "{err}");
}

#[test]
fn foreach_renders_open_separator_close_with_item_and_index() {
    let params = [param("ids", "array<int>")];
    let r = render(
        "SELECT * FROM t WHERE id IN <foreach collection=\"ids\" item=\"id\" index=\"i\" \
         open=\"(\" separator=\",\" close=\")\">#{id}</foreach> OR pos IN \
         <foreach collection=\"ids\" index=\"i\" open=\"(\" separator=\", \" close=\")\">#{i}</foreach>",
        &params,
        vec![ints(&[10, 20, 30])],
    );
    assert_eq!(r.sql, "SELECT * FROM t WHERE id IN ($1,$2,$3) OR pos IN ($4, $5, $6)");
    assert_eq!(
        r.binds,
        [10, 20, 30, 0, 1, 2].map(Value::Int).to_vec(),
        "foreach binds each item once, without padding"
    );
}

#[test]
fn foreach_over_an_absent_collection_renders_nothing() {
    let params = [param("ids", "array<int>")];
    let r = render(
        "SELECT * FROM t WHERE 1 = 1 <foreach collection=\"ids\" item=\"id\" open=\"AND id IN (\" \
         separator=\",\" close=\")\">#{id}</foreach>",
        &params,
        vec![None],
    );
    assert_eq!(r.sql, "SELECT * FROM t WHERE 1 = 1 ");
    assert!(r.binds.is_empty());
}

#[test]
fn foreach_collection_must_be_an_array_parameter() {
    let params = [param("id", "int")];
    let err = compile_error("SELECT 1 <foreach collection=\"id\" item=\"x\">#{x}</foreach>", &params);
    assert_eq!(at(&err), (1, 31), "{err}");
    assert!(err.message.contains("not an array"), "{err}");
    let err = compile_error("SELECT 1 <foreach collection=\"nope\" item=\"x\">#{x}</foreach>", &params);
    assert_eq!(at(&err), (1, 31), "{err}");
    // The loop variable is gone after the loop.
    let params = [param("ids", "array<int>")];
    let err = compile_error("SELECT <foreach collection=\"ids\" item=\"x\">#{x}</foreach> #{x}", &params);
    assert_eq!(at(&err), (1, 58), "{err}");
}

#[test]
fn if_inside_foreach_inside_where_sees_the_loop_variables() {
    let params = [param("names", "array<string>"), param("active", "bool")];
    let t = "SELECT * FROM users u JOIN teams m ON m.id = u.team_id\n<where>\n\
             <if test=\"active != null\">AND u.active = #{active}</if>\n\
             <foreach collection=\"names\" item=\"n\" index=\"i\" open=\"AND (\" separator=\" OR \" close=\")\">\
             <if test=\"i == 0 or n.length() > 2\">u.name = #{n}</if>\
             <if test=\"i gt 0 and n.length() lte 2\">u.nick = #{n}</if>\
             </foreach>\n</where>";
    let r = render(
        t,
        &params,
        vec![
            Some(Value::Array(vec![Value::Text("al".into()), Value::Text("bo".into()), Value::Text("cyd".into())])),
            None,
        ],
    );
    assert_eq!(
        r.sql,
        "SELECT * FROM users u JOIN teams m ON m.id = u.team_id\n\
         WHERE (u.name = $1 OR u.nick = $2 OR u.name = $3)\n"
    );
    assert_eq!(r.binds, vec![Value::Text("al".into()), Value::Text("bo".into()), Value::Text("cyd".into())]);
    let r = render(t, &params, vec![None, Some(Value::Bool(true))]);
    assert_eq!(r.sql, "SELECT * FROM users u JOIN teams m ON m.id = u.team_id\nWHERE u.active = $1\n\n");
}

#[test]
fn trim_applies_prefix_suffix_and_overrides() {
    let params = [param("a", "int"), param("b", "int")];
    let t = "SELECT * FROM t <trim prefix=\"WHERE (\" suffix=\")\" prefixOverrides=\"AND |OR \" \
             suffixOverrides=\",|and\"><if test=\"a\">OR a = #{a}</if> \
             <if test=\"b\">AND b = #{b} AND</if></trim> LIMIT 1";
    let r = render(t, &params, vec![int(1), int(2)]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE (a = $1 AND b = $2 ) LIMIT 1");
    assert_eq!(r.binds, vec![Value::Int(1), Value::Int(2)]);
    let r = render(t, &params, vec![None, None]);
    assert_eq!(r.sql, "SELECT * FROM t  LIMIT 1");
    let err = compile_error("SELECT <trim suffixOverrides=\",|?\">x</trim>", &[]);
    assert_eq!(at(&err), (1, 33), "{err}");
}

#[test]
fn entities_cdata_and_comments() {
    let params = [param("n", "int")];
    let r = render(
        "SELECT 'a&amp;b' AS s, &quot;x&quot; FROM t <!-- why: a <b> comment -->\
         WHERE n &lt; #{n} AND <![CDATA[ m <> 0 AND n <= #{n} & <if> ]]>\
         <if test=\"n &gt; 1 &amp;&amp; n &lt; 5\"> AND &apos;ok&apos; = 'ok'</if>",
        &params,
        vec![int(3)],
    );
    assert_eq!(r.sql, "SELECT 'a&b' AS s, \"x\" FROM t WHERE n < $1 AND  m <> 0 AND n <= $2 & <if>  AND 'ok' = 'ok'");
    assert_eq!(r.binds, vec![Value::Int(3), Value::Int(3)]);
}

#[test]
fn less_than_not_starting_a_tag_is_plain_text() {
    let params = [param("a", "int")];
    let r = render("SELECT * FROM t WHERE a < #{a} AND b<c AND d<=e AND f<>g AND x <y AND 1<2", &params, vec![int(1)]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE a < $1 AND b<c AND d<=e AND f<>g AND x <y AND 1<2");
}

#[test]
fn array_parameter_expands_to_a_padded_postgres_list() {
    let params = [param("ids", "array<int>")];
    let r = render("SELECT * FROM t WHERE id IN (#{ids})", &params, vec![ints(&[1, 2, 3])]);
    assert_eq!(r.sql, "SELECT * FROM t WHERE id IN ($1, $2, $3, $4)");
    assert_eq!(r.binds, [1, 2, 3, 3].map(Value::Int).to_vec());
}

#[test]
fn array_parameter_expands_to_mysql_question_marks() {
    let params = [param("ids", "array<int>"), param("n", "int")];
    let r = render_in(
        Dialect::Mysql,
        "SELECT * FROM t WHERE id IN (#{ids}) AND n = #{n}",
        &params,
        vec![ints(&[5, 6]), int(9)],
    );
    assert_eq!(r.sql, "SELECT * FROM t WHERE id IN (?, ?) AND n = ?");
    assert_eq!(r.binds, [5, 6, 9].map(Value::Int).to_vec());
}

#[test]
fn identifier_splice_is_quoted_per_dialect() {
    let params = [identifier("sort", &["created_at", "public.name"])];
    let t = "SELECT * FROM t ORDER BY ${sort} DESC";
    for (dialect, expected) in [
        (Dialect::Postgres, "SELECT * FROM t ORDER BY \"created_at\" DESC"),
        (Dialect::Sqlite, "SELECT * FROM t ORDER BY \"created_at\" DESC"),
        (Dialect::Mysql, "SELECT * FROM t ORDER BY `created_at` DESC"),
    ] {
        let r = render_in(dialect, t, &params, vec![text("created_at")]);
        assert_eq!(r.sql, expected);
        assert!(r.binds.is_empty());
    }
    let r = render_in(Dialect::Mysql, t, &params, vec![text("public.name")]);
    assert_eq!(r.sql, "SELECT * FROM t ORDER BY `public`.`name` DESC");
}

#[test]
fn dollar_splice_refused_for_non_identifier_param() {
    let params = [param("sort", "string"), param("ids", "array<string>")];
    let err = compile_error("SELECT * FROM t\nORDER BY ${sort}", &params);
    assert_eq!(at(&err), (2, 10));
    assert_eq!(
        err.message,
        "`${sort}` splices raw text; declare `sort` as type identifier with allowed values, or use #{sort}"
    );
    let err =
        compile_error("SELECT <foreach collection=\"ids\" item=\"c\" separator=\",\">${c}</foreach> FROM t", &params);
    assert_eq!(at(&err), (1, 57), "{err}");
}

#[test]
fn dollar_splice_refused_without_valid_allowed_values() {
    let err = compile_error("ORDER BY ${sort}", &[identifier("sort", &[])]);
    assert!(err.message.contains("allowed values"), "{err}");
    let err = compile_error("ORDER BY ${sort}", &[identifier("sort", &["name", "name; DROP TABLE x"])]);
    assert_eq!(at(&err), (1, 10));
    assert!(err.message.contains("not a valid identifier"), "{err}");
}

#[test]
fn identifier_splice_of_an_absent_or_unlisted_value_fails_at_render() {
    let params = [identifier("sort", &["name"])];
    let compiled = ScriptTemplate::compile("SELECT * FROM t ORDER BY ${sort}", &params).unwrap();
    let err = compiled.render(Dialect::Postgres, &params, &ParamValues { values: vec![None] }).unwrap_err();
    assert_eq!(err, ApiError::missing_parameter("sort"));
    // Values normally pass the allow-list at parse time; render checks again anyway.
    let err = compiled
        .render(Dialect::Postgres, &params, &ParamValues { values: vec![text("name\"; DROP TABLE x; --")] })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameter.sort");
}

#[test]
fn absent_parameters_bind_null_and_test_as_null() {
    let params = [param("a", "int"), param("ids", "array<int>")];
    let r = render(
        "SELECT #{a}, #{ids}<if test=\"a == null and ids == null and !(a != null)\">, 1</if>",
        &params,
        vec![None, None],
    );
    assert_eq!(r.sql, "SELECT $1, $2, 1");
    // Typed as declared: PostgreSQL refuses a text NULL next to an integer column.
    assert_eq!(r.binds, vec![Value::TypedNull(ScalarType::Int), Value::TypedNull(ScalarType::Int)]);
}

#[test]
fn unknown_parameter_error_has_line_and_column() {
    let params = [param("id", "int")];
    let err = compile_error("SELECT *\n  FROM t\n  WHERE id = #{idd}", &params);
    assert_eq!(at(&err), (3, 14));
    assert!(err.message.contains("`idd`"), "{err}");
    assert_eq!(err.to_string(), format!("line 3, column 14: {}", err.message));
    // Columns count characters, not bytes.
    let err = compile_error("SELECT 'é' = #{x}", &params);
    assert_eq!(at(&err), (1, 14));
}

#[test]
fn test_expression_errors_point_into_the_attribute() {
    let params = [param("id", "int")];
    let err = compile_error("SELECT 1\n<if test=\"id != null and nme == 'x'\">x</if>", &params);
    assert_eq!(at(&err), (2, 26), "{err}");
    assert!(err.message.contains("`nme`"), "{err}");
    let err = compile_error("SELECT 1 <if test=\"id &lt; = 2\">x</if>", &params);
    assert_eq!(at(&err), (1, 28), "{err}");
    let err = compile_error("SELECT 1 <if test=\"(id > 1\">x</if>", &params);
    assert_eq!(at(&err), (1, 27), "{err}");
    let err = compile_error("SELECT 1 <if test=\"id.size() > 0\">x</if>", &params);
    assert!(err.message.contains("arrays and strings"), "{err}");
    let err = compile_error("SELECT 1 <if test=\"\">x</if>", &params);
    assert_eq!(at(&err), (1, 20), "{err}");
    let err = compile_error("SELECT 1 <if>x</if>", &params);
    assert_eq!(at(&err), (1, 10), "{err}");
}

#[test]
fn unknown_and_unsupported_tags_are_errors_with_position() {
    let err = compile_error("SELECT 1\n  <delete>x</delete>", &[]);
    assert_eq!(at(&err), (2, 3));
    assert!(err.message.contains("not supported"), "{err}");
    let err = compile_error("SELECT a<b>c</b>", &[]);
    assert_eq!(at(&err), (1, 9));
    assert!(err.message.contains("unknown tag"), "{err}");
    let err = compile_error("SELECT 1 <if tset=\"true\">x</if>", &[]);
    assert_eq!(at(&err), (1, 14), "{err}");
    let err = compile_error("SELECT 1 <!DOCTYPE x>", &[]);
    assert_eq!(at(&err), (1, 10));
}

#[test]
fn mismatched_and_unclosed_tags_are_errors() {
    let params = [param("a", "int")];
    let err = compile_error("SELECT 1\n<where><if test=\"a\">x</where>", &params);
    assert_eq!(at(&err), (2, 22), "{err}");
    assert!(err.message.contains("line 2, column 8"), "{err}");
    let err = compile_error("SELECT 1 <if test=\"a\">x", &params);
    assert_eq!(at(&err), (1, 10), "{err}");
    assert!(err.message.contains("never closed"), "{err}");
    let err = compile_error("SELECT 1 </if>", &params);
    assert_eq!(at(&err), (1, 10), "{err}");
    let err = compile_error("SELECT 1 <!-- open", &params);
    assert_eq!(at(&err), (1, 10), "{err}");
    let err = compile_error("SELECT #{a", &params);
    assert_eq!(at(&err), (1, 8), "{err}");
    let err = compile_error("  \n <!-- nothing -->", &params);
    assert!(err.message.contains("no SQL"), "{err}");
}

#[test]
fn tests_compare_numbers_numerically_and_strings_lexically() {
    let params =
        [param("i", "int"), param("d", "decimal"), param("s", "string"), param("f", "float"), param("b", "bool")];
    let values = vec![
        int(10),
        Some(Value::Decimal(Decimal::new(250, 2))),
        text("m"),
        Some(Value::Float(0.5)),
        Some(Value::Bool(false)),
    ];
    let cases = [
        ("i == 10", true),
        ("i == 10.0", true),
        ("i > 9.5 && i lt 11", true),
        ("d == 2.5", true),
        ("d gte 2.51", false),
        ("f < d and -1 < f", true),
        ("s > 'l' and s < &quot;n&quot;", true),
        ("s == 'M'", false),
        ("i == '10'", false),
        ("i != '10'", true),
        ("b", false),
        ("not b", true),
        ("b == false", true),
        ("s", true),
        ("null == null", true),
        ("i != null", true),
        ("i eq 10 and (s neq 'x' or false)", true),
        ("i < null or null < i", false),
        ("s.length() == 1 and !s.isEmpty()", true),
    ];
    for (test, expected) in cases {
        let t = format!("SELECT 1<if test=\"{test}\">, 2</if>");
        let sql = render(&t, &params, values.clone()).sql;
        assert_eq!(sql == "SELECT 1, 2", expected, "{test}");
    }
}

#[test]
fn size_length_and_is_empty_work_on_arrays_and_absent_values() {
    let params = [param("ids", "array<int>"), param("name", "string")];
    let t = "SELECT 1\
             <if test=\"ids.size() >= 2\">, 'many'</if>\
             <if test=\"ids.isEmpty()\">, 'none'</if>\
             <if test=\"name.length() gt 3\">, 'long'</if>";
    assert_eq!(render(t, &params, vec![ints(&[1, 2]), text("abcd")]).sql, "SELECT 1, 'many', 'long'");
    assert_eq!(render(t, &params, vec![None, None]).sql, "SELECT 1, 'none'");
}

#[test]
fn hostile_values_only_reach_binds() {
    let params = [param("name", "string"), param("tags", "array<string>"), param("q", "string")];
    let hostile = ["' OR 1=1 --", "1; DROP TABLE x", "${name}", "#{q}</if>"];
    let template = "SELECT * FROM t <where>\
                    <if test=\"name != null\">AND name = #{name}</if>\
                    <if test=\"tags != null\">AND tag IN (#{tags})</if>\
                    <foreach collection=\"tags\" item=\"t\" open=\"AND (\" separator=\" OR \" close=\")\">\
                    note LIKE #{t}</foreach>\
                    <if test=\"q == 'x'\">AND q = #{q}</if></where>";
    for dialect in Dialect::ALL {
        let r = render_in(
            dialect,
            template,
            &params,
            vec![
                text(hostile[0]),
                Some(Value::Array(hostile[1..].iter().map(|h| Value::Text(h.to_string())).collect())),
                text(hostile[1]),
            ],
        );
        for h in hostile {
            assert!(!r.sql.contains(h), "{h} reached the SQL: {}", r.sql);
            assert!(r.binds.contains(&Value::Text(h.into())));
        }
        assert!(!r.sql.contains("DROP") && !r.sql.contains("1=1"), "{}", r.sql);
    }
}

#[test]
fn sql_text_depends_only_on_which_params_are_present() {
    let params = [param("a", "int"), param("s", "string")];
    let compiled = ScriptTemplate::compile(
        "SELECT * FROM t<where><if test=\"a != null\">a = #{a}</if>\
         <if test=\"s != null\"> AND s = #{s}</if></where>",
        &params,
    )
    .unwrap();
    let sql_of =
        |values: Vec<Option<Value>>| compiled.render(Dialect::Postgres, &params, &ParamValues { values }).unwrap().sql;
    assert_eq!(sql_of(vec![int(1), text("x")]), sql_of(vec![int(-99), text("'; --")]));
    assert_eq!(sql_of(vec![None, text("x")]), sql_of(vec![None, text("y")]));
    assert_ne!(sql_of(vec![None, text("x")]), sql_of(vec![int(1), text("x")]));
}

#[test]
fn render_refuses_parameters_that_do_not_match_the_compiled_ones() {
    let params = [param("a", "int")];
    let compiled = ScriptTemplate::compile("SELECT #{a}", &params).unwrap();
    let err = compiled.render(Dialect::Sqlite, &[], &ParamValues { values: vec![] }).unwrap_err();
    assert_eq!(err.code(), "InvalidDefinition");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let params = [param("a", "int")];
    let deep = format!("SELECT 1{}{}", "<if test=\"a\">".repeat(200), "</if>".repeat(200));
    let err = compile_error(&deep, &params);
    assert!(err.message.contains("nest"), "{err}");
    let deep_test = format!("SELECT 1<if test=\"{}a\">x</if>", "!".repeat(500));
    let err = compile_error(&deep_test, &params);
    assert!(err.message.contains("nest"), "{err}");
}

#[test]
fn mybatis_bind_options_self_closing_tags_and_crlf_are_accepted() {
    let params = [param("id", "int")];
    let r = render(
        "SELECT *\r\nFROM t\r\nWHERE id = #{id, jdbcType=INTEGER}<if test='id != null'/>",
        &params,
        vec![int(4)],
    );
    assert_eq!(r.sql, "SELECT *\r\nFROM t\r\nWHERE id = $1");
    let err = compile_error("SELECT 1\r\n<if test=\"idx\">x</if>", &params);
    assert_eq!(at(&err), (2, 11), "{err}");
}

fn references(template: &str) -> Vec<(String, String)> {
    ScriptTemplate::references(template).unwrap().into_iter().map(|r| (r.name, r.param_type.to_string())).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

#[test]
fn references_are_listed_in_order_of_first_appearance_with_the_type_their_uses_need() {
    let found = references(
        "<select>SELECT * FROM orders <where>\
           <if test=\"status != null and status != ''\">status = #{status}</if>\
           <if test=\"ids != null and ids.size() > 0\"> AND id IN \
             <foreach collection=\"ids\" item=\"id\" index=\"i\" open=\"(\" separator=\",\" close=\")\">#{id}</foreach>\
           </if>\
           <choose><when test=\"minTotal gt 0\"> AND total >= #{minTotal}</when>\
             <otherwise> AND total > 0</otherwise></choose>\
         </where> ORDER BY ${sort} LIMIT #{limit} OFFSET #{status}</select>",
    );
    assert_eq!(
        found,
        pairs(&[
            ("status", "string"),
            ("ids", "array<string>"),
            ("minTotal", "string"),
            ("sort", "identifier"),
            ("limit", "string"),
        ])
    );
    // A loop's item and index are not parameters, and a list may also be bound whole.
    assert_eq!(
        references("SELECT #{xs}<foreach collection=\"xs\" item=\"x\">#{x}</foreach>"),
        pairs(&[("xs", "array<string>")])
    );
    assert_eq!(references("SELECT 1"), pairs(&[]));
}

#[test]
fn references_of_a_broken_template_are_the_compilers_error_with_its_position() {
    for (template, position, words) in [
        ("SELECT * FROM t WHERE a = #{a", (1, 27), "#{"),
        ("SELECT 1\n<if test=\"a ==\">x</if>", (2, 15), "test"),
        ("SELECT 1 <foreach item=\"x\">#{x}</foreach>", (1, 10), "collection"),
        ("SELECT 1 <bogus>", (1, 10), "bogus"),
        ("  ", (1, 1), "no SQL"),
        ("SELECT ${c}<foreach collection=\"c\">1</foreach>", (1, 33), "both"),
    ] {
        let err = ScriptTemplate::references(template).unwrap_err();
        assert_eq!((at(&err), err.message.contains(words)), (position, true), "{template}: {err}");
    }
}

#[test]
fn references_declared_as_listed_compile() {
    let template = "SELECT * FROM t <where><if test=\"a != null\">a = #{a}</if>\
                    <foreach collection=\"ids\" item=\"i\" open=\" AND id IN (\" separator=\",\" close=\")\">#{i}</foreach></where>";
    let params: Vec<RequestParam> = ScriptTemplate::references(template)
        .unwrap()
        .into_iter()
        .map(|r| RequestParam::new(&r.name, r.param_type))
        .collect();
    assert!(ScriptTemplate::compile(template, &params).is_ok());
}
