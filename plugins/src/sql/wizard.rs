//! Wizard mode: one table; present request parameters become WHERE terms, response fields the
//! SELECT list, sort fields ORDER BY.
//!
//! Every identifier is checked and quoted once, when the version is compiled; a call only
//! joins precomputed fragments and binds its values, so the SQL text depends on which optional
//! parameters are present (and list lengths), never on what they hold.

use catalog::model::{MaskMode, Operator, ParamType, RequestParam, ResponseField, ScalarType};

use super::dialect::{Dialect, validate_identifier};
use super::render::SqlBuilder;
use super::value::{ParamValues, Value};
use crate::error::{ApiError, DefinitionError};

/// A compiled wizard query.
#[derive(Debug, Clone)]
pub struct WizardPlan {
    /// `SELECT "c" AS "f", … FROM "t"`
    select_from: String,
    /// `SELECT COUNT(*) FROM "t"`
    count_from: String,
    /// One per request parameter, in declaration order.
    terms: Vec<Term>,
    /// ` ORDER BY …` or empty.
    order_by: String,
    /// ` FROM "t"`
    from: String,
    table: String,
}

/// `"column" OP ` for one parameter; lists close with `)`.
#[derive(Debug, Clone)]
struct Term {
    lhs: String,
    list: bool,
    like: bool,
}

impl WizardPlan {
    pub fn compile(
        dialect: Dialect,
        table: &str,
        params: &[RequestParam],
        fields: &[ResponseField],
    ) -> Result<WizardPlan, DefinitionError> {
        validate_identifier(table).map_err(|e| DefinitionError::at("table", format!("table: {e}")))?;
        if fields.is_empty() {
            return Err(DefinitionError::at("responseFields", "a wizard API needs at least one response field"));
        }
        let mut select_from = String::from("SELECT ");
        for (i, field) in fields.iter().enumerate() {
            validate_identifier(field.column_name()).map_err(|e| {
                DefinitionError::item("responseFields", &field.name, format!("response field `{}`: {e}", field.name))
            })?;
            if i > 0 {
                select_from.push_str(", ");
            }
            dialect.push_quoted(&mut select_from, field.column_name());
            select_from.push_str(" AS ");
            dialect.push_quoted(&mut select_from, &field.name);
        }
        let mut from = String::from(" FROM ");
        dialect.push_quoted(&mut from, table);
        select_from.push_str(&from);
        let count_from = format!("SELECT COUNT(*){from}");

        let terms = params
            .iter()
            .map(|p| compile_term(dialect, p).map_err(|why| DefinitionError::item("requestParams", &p.name, why)))
            .collect::<Result<Vec<_>, _>>()?;

        let mut sorted: Vec<&ResponseField> = fields.iter().filter(|f| f.sort.is_some()).collect();
        sorted.sort_by_key(|f| f.sort.map(|s| s.priority));
        let mut order_by = String::new();
        for (i, field) in sorted.iter().enumerate() {
            order_by.push_str(if i == 0 { " ORDER BY " } else { ", " });
            dialect.push_quoted(&mut order_by, field.column_name());
            if let Some(sort) = field.sort
                && sort.direction == catalog::model::SortDirection::Desc
            {
                order_by.push_str(" DESC");
            }
        }
        Ok(WizardPlan { select_from, count_from, terms, order_by, from, table: table.to_owned() })
    }

    /// The `SELECT … FROM` for a caller who may not see the fields at `hidden` (indices into
    /// `fields`, the ones the plan was compiled with), and the result positions the encoder
    /// must still hide.
    ///
    /// Hidden columns are never read: with `Mask` they are selected as `NULL` under their
    /// field name and masked while encoding; with `Omit` they are not selected at all (when
    /// every field is hidden, one `NULL` column keeps the statement valid and is left out).
    /// WHERE terms and the designer's sort fields are unchanged, so every caller pages
    /// through the same rows in the same order.
    pub fn select_hiding(
        &self,
        dialect: Dialect,
        fields: &[ResponseField],
        hidden: &[usize],
        mode: MaskMode,
    ) -> (String, Vec<usize>) {
        let mut select = String::from("SELECT ");
        let mut positions = Vec::new();
        let mut listed = 0;
        for (i, field) in fields.iter().enumerate() {
            let is_hidden = hidden.contains(&i);
            if is_hidden && mode == MaskMode::Omit {
                continue;
            }
            if listed > 0 {
                select.push_str(", ");
            }
            if is_hidden {
                select.push_str("NULL");
                positions.push(listed);
            } else {
                dialect.push_quoted(&mut select, field.column_name());
            }
            select.push_str(" AS ");
            dialect.push_quoted(&mut select, &field.name);
            listed += 1;
        }
        if listed == 0 {
            select.push_str("NULL AS ");
            dialect.push_quoted(&mut select, fields.first().map_or("_", |f| f.name.as_str()));
            positions.push(0);
        }
        select.push_str(&self.from);
        (select, positions)
    }

    /// Refuses LIKE patterns the database would reject: PostgreSQL reads `\\` as LIKE's
    /// escape and fails on a pattern that ends in a lone one.
    pub fn check_values(
        &self,
        dialect: Dialect,
        params: &[RequestParam],
        values: &ParamValues,
    ) -> Result<(), ApiError> {
        if dialect != Dialect::Postgres {
            return Ok(());
        }
        for (index, term) in self.terms.iter().enumerate() {
            if let (true, Some(Value::Text(pattern))) = (term.like, values.get(index)) {
                let trailing = pattern.chars().rev().take_while(|&c| c == '\\').count();
                if trailing % 2 == 1 {
                    return Err(ApiError::invalid_parameter_because(
                        &params[index].name,
                        "a LIKE pattern cannot end with a lone backslash; write \\\\ for a literal one",
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes the query for one call; LIMIT and OFFSET are left to the caller.
    pub fn render_select(&self, builder: &mut SqlBuilder, values: &ParamValues) {
        self.render_select_from(builder, values, &self.select_from);
    }

    /// Like [`WizardPlan::render_select`] with another `SELECT … FROM` (see
    /// [`WizardPlan::select_hiding`]).
    pub fn render_select_from(&self, builder: &mut SqlBuilder, values: &ParamValues, select_from: &str) {
        builder.push_sql(select_from);
        self.render_where(builder, values);
        builder.push_sql(&self.order_by);
    }

    /// Writes `SELECT COUNT(*)` over the same WHERE terms.
    pub fn render_count(&self, builder: &mut SqlBuilder, values: &ParamValues) {
        builder.push_sql(&self.count_from);
        self.render_where(builder, values);
    }

    fn render_where(&self, builder: &mut SqlBuilder, values: &ParamValues) {
        let mut first = true;
        for (index, term) in self.terms.iter().enumerate() {
            let Some(value) = values.get(index) else {
                continue;
            };
            builder.push_sql(if first { " WHERE " } else { " AND " });
            first = false;
            builder.push_sql(&term.lhs);
            if term.list {
                let items = match value {
                    Value::Array(items) => items.clone(),
                    scalar => vec![scalar.clone()],
                };
                builder.push_list(items).push_sql(")");
            } else {
                builder.push_bind(value.clone());
            }
        }
    }
}

fn compile_term(dialect: Dialect, param: &RequestParam) -> Result<Term, String> {
    let name = &param.name;
    let column = param
        .column
        .as_deref()
        .ok_or_else(|| format!("request parameter `{name}` needs `column`: the column it filters"))?;
    validate_identifier(column).map_err(|e| format!("request parameter `{name}`: {e}"))?;
    match (param.param_type, param.operator) {
        (ParamType::Array(_), op) if !op.takes_list() => {
            return Err(format!("request parameter `{name}` is an array; use IN or NOT IN, not {}", op.as_sql()));
        }
        (ParamType::Identifier, _) => {
            return Err(format!("request parameter `{name}`: identifier parameters are for script templates"));
        }
        (ParamType::Scalar(ScalarType::Json), _) => {
            return Err(format!("request parameter `{name}`: a json parameter cannot filter a wizard column"));
        }
        (t, Operator::Like | Operator::NotLike) if t != ParamType::STRING => {
            return Err(format!("request parameter `{name}`: LIKE needs a string parameter, not {t}"));
        }
        _ => {}
    }
    let mut lhs = String::new();
    dialect.push_quoted(&mut lhs, column);
    lhs.push(' ');
    lhs.push_str(param.operator.as_sql());
    lhs.push_str(if param.operator.takes_list() { " (" } else { " " });
    Ok(Term {
        lhs,
        list: param.operator.takes_list(),
        like: matches!(param.operator, Operator::Like | Operator::NotLike),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::model::{SecurityLevel, SortDirection, SortSpec};

    fn param(name: &str, ty: &str, column: &str, op: &str) -> RequestParam {
        RequestParam {
            column: Some(column.into()),
            operator: op.parse().unwrap(),
            ..RequestParam::new(name, ty.parse().unwrap())
        }
    }

    fn field(name: &str, column: &str, sort: Option<(SortDirection, u32)>) -> ResponseField {
        ResponseField {
            name: name.into(),
            column: Some(column.into()),
            field_type: "string".parse().unwrap(),
            sort: sort.map(|(direction, priority)| SortSpec { direction, priority }),
            required: false,
            example: None,
            description: String::new(),
            security_level: SecurityLevel::L1,
        }
    }

    fn plan(dialect: Dialect) -> WizardPlan {
        WizardPlan::compile(
            dialect,
            "users",
            &[
                param("minAge", "int", "age", ">="),
                param("ids", "array<int>", "id", "IN"),
                param("q", "string", "name", "LIKE"),
            ],
            &[
                field("id", "id", Some((SortDirection::Desc, 1))),
                field("userName", "name", Some((SortDirection::Asc, 0))),
            ],
        )
        .unwrap()
    }

    #[test]
    fn absent_optional_params_drop_out_of_where() {
        let mut b = SqlBuilder::new(Dialect::Postgres);
        plan(Dialect::Postgres)
            .render_select(&mut b, &ParamValues { values: vec![None, None, Some(Value::Text("a%".into()))] });
        let r = b.finish();
        assert_eq!(
            r.sql,
            r#"SELECT "id" AS "id", "name" AS "userName" FROM "users" WHERE "name" LIKE $1 ORDER BY "name", "id" DESC"#
        );
        assert_eq!(r.binds, vec![Value::Text("a%".into())]);
    }

    #[test]
    fn lists_expand_inside_parentheses_for_mysql() {
        let mut b = SqlBuilder::new(Dialect::Mysql);
        let values = ParamValues {
            values: vec![Some(Value::Int(18)), Some(Value::Array(vec![Value::Int(1), Value::Int(2)])), None],
        };
        plan(Dialect::Mysql).render_count(&mut b, &values);
        assert_eq!(b.finish().sql, "SELECT COUNT(*) FROM `users` WHERE `age` >= ? AND `id` IN (?, ?)");
    }

    #[test]
    fn hidden_fields_are_selected_as_null_or_not_at_all() {
        let fields = [field("id", "id", None), field("userName", "name", None), field("phone", "phone", None)];
        let plan = WizardPlan::compile(Dialect::Postgres, "users", &[], &fields).unwrap();
        let (select, positions) = plan.select_hiding(Dialect::Postgres, &fields, &[2], MaskMode::Mask);
        assert_eq!(select, r#"SELECT "id" AS "id", "name" AS "userName", NULL AS "phone" FROM "users""#);
        assert_eq!(positions, [2]);
        let (select, positions) = plan.select_hiding(Dialect::Postgres, &fields, &[0, 2], MaskMode::Omit);
        assert_eq!(select, r#"SELECT "name" AS "userName" FROM "users""#);
        assert!(positions.is_empty());
        let plan = WizardPlan::compile(Dialect::Mysql, "users", &[], &fields).unwrap();
        let (select, positions) = plan.select_hiding(Dialect::Mysql, &fields, &[0, 1, 2], MaskMode::Omit);
        assert_eq!(select, "SELECT NULL AS `id` FROM `users`");
        assert_eq!(positions, [0]);
    }

    #[test]
    fn refuses_bad_identifiers_and_operator_type_mismatches() {
        let fields = [field("id", "id", None)];
        assert!(WizardPlan::compile(Dialect::Sqlite, "users; drop", &[], &fields).is_err());
        assert!(WizardPlan::compile(Dialect::Sqlite, "users", &[param("a", "int", "age\"", "=")], &fields).is_err());
        assert!(
            WizardPlan::compile(Dialect::Sqlite, "users", &[param("a", "array<int>", "age", "=")], &fields).is_err()
        );
        assert!(WizardPlan::compile(Dialect::Sqlite, "users", &[param("a", "int", "age", "LIKE")], &fields).is_err());
        assert!(WizardPlan::compile(Dialect::Sqlite, "users", &[], &[]).is_err());
    }
}
