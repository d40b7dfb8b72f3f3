//! The walk over a parsed query: every relation, function, literal and identifier is checked
//! against the API's [`Allowed`] set, with common table expressions resolved by scope.
//!
//! sqlparser's [`Visitor`] reaches every node, so nothing nested (a subquery in `HAVING`, a
//! function inside a window frame) can slip past; the hooks below only decide what each node
//! may be. Anything not recognised as safe is refused rather than passed through.

use std::ops::ControlFlow;

use sqlparser::ast::{
    DataType, Expr, Ident, ObjectName, Query, Select, SetExpr, Statement, TableFactor, Value, ValueWithSpan, Visitor,
};

use super::policy::{Allowed, plain_parts};
use crate::error::{ApiError, cut_short};

/// A refusal, boxed to keep the visitor's `ControlFlow` small.
pub(super) type Refusal = Box<ApiError>;

/// Checks one statement; `Err` is the first thing found that the API does not allow.
pub(super) fn check_statement(allowed: &Allowed, statement: &Statement) -> Result<(), Refusal> {
    use sqlparser::ast::Visit;
    let mut checker = Checker { allowed, scopes: Vec::new() };
    match statement.visit(&mut checker) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(refusal) => Err(refusal),
    }
}

/// The CTEs one `WITH` defines, and how many of them the node being visited can see.
///
/// Visibility follows what every supported database agrees on: a CTE body sees the CTEs
/// before it (and itself under `RECURSIVE`), the main body sees them all. PostgreSQL would
/// also let a `RECURSIVE` CTE see later ones, but MySQL and SQLite resolve such a name to a
/// real table, so treating it as one is the safe reading everywhere.
struct CteScope {
    /// The query that owns the `WITH`; the scope ends when its visit ends.
    owner: *const Query,
    names: Vec<String>,
    /// Each CTE's body, to tell when the visit enters and leaves it.
    bodies: Vec<*const Query>,
    recursive: bool,
    visible: usize,
}

struct Checker<'a> {
    allowed: &'a Allowed,
    scopes: Vec<CteScope>,
}

fn forbidden(why: impl std::fmt::Display) -> ControlFlow<Refusal> {
    ControlFlow::Break(Box::new(ApiError::forbidden_query(why)))
}

fn invalid(why: impl std::fmt::Display) -> ControlFlow<Refusal> {
    ControlFlow::Break(Box::new(ApiError::invalid_parameter_because("sql", why)))
}

/// A caller's text repeated in a message, cut short.
fn shown(text: impl std::fmt::Display) -> String {
    cut_short(&text.to_string())
}

impl Checker<'_> {
    /// Whether an unqualified relation name is a CTE visible here.
    fn is_cte_in_scope(&self, name: &str) -> bool {
        self.scopes.iter().rev().any(|scope| scope.names[..scope.visible].iter().any(|n| n == name))
    }

    /// Called before each query: if it is a CTE body of the innermost `WITH`, the CTEs it
    /// may see become visible.
    fn enter_cte_body(&mut self, query: *const Query) {
        if let Some(scope) = self.scopes.last_mut()
            && let Some(index) = scope.bodies.iter().position(|b| *b == query)
        {
            scope.visible = if scope.recursive { index + 1 } else { index };
        }
    }

    /// Called after each query: once a CTE body is done, the next one (or the main body)
    /// also sees it.
    fn leave_cte_body(&mut self, query: *const Query) {
        if let Some(scope) = self.scopes.last_mut()
            && let Some(index) = scope.bodies.iter().position(|b| *b == query)
        {
            scope.visible = index + 1;
        }
    }

    fn push_scope(&mut self, query: &Query) {
        if let Some(with) = &query.with {
            self.scopes.push(CteScope {
                owner: query,
                names: with.cte_tables.iter().map(|cte| self.allowed.fold_relation(&cte.alias.name)).collect(),
                bodies: with.cte_tables.iter().map(|cte| &*cte.query as *const Query).collect(),
                recursive: with.recursive,
                visible: 0,
            });
        }
    }

    /// A table in `FROM` or `JOIN`: a CTE in scope, or an allowed table.
    fn check_relation(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        let Some(parts) = plain_parts(name) else {
            return forbidden(format!(
                "table `{}` is computed from a function; name one of the allowed tables: {}",
                shown(name),
                self.allowed.tables_listed()
            ));
        };
        let ok = match parts.as_slice() {
            // Qualified names never refer to CTEs, so only a bare name is looked up in scope.
            [table] => {
                self.is_cte_in_scope(&self.allowed.fold_relation(table)) || self.allowed.allows_table(None, table)
            }
            [schema, table] => self.allowed.allows_table(Some(schema), table),
            _ => {
                return forbidden(format!(
                    "table `{}` has too many parts: write `table` or `schema.table`",
                    shown(name)
                ));
            }
        };
        if ok {
            ControlFlow::Continue(())
        } else {
            forbidden(format!(
                "table `{}` is not allowed by this API; allowed: {}",
                shown(name),
                self.allowed.tables_listed()
            ))
        }
    }

    /// A function call (also a table function in `FROM`), by its name.
    fn check_function(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        let allowed = plain_parts(name).is_some_and(|parts| self.allowed.allows_function(&parts));
        if allowed {
            ControlFlow::Continue(())
        } else {
            forbidden(format!(
                "function `{}` is not allowed by this API; use aggregates and common string, \
                 number and date functions, or ask for it to be added to the API's `functions`",
                shown(name)
            ))
        }
    }

    /// A table function known by a keyword rather than a name (`UNNEST`, `JSON_TABLE`):
    /// allowed only when the definition lists it.
    fn check_keyword_table_function(&self, keyword: &str) -> ControlFlow<Refusal> {
        self.check_function(&ObjectName::from(vec![Ident::new(keyword)]))
    }
}

/// Query-level clauses that make a query do more than read: refused wherever the query sits.
fn check_query_clauses(query: &Query) -> ControlFlow<Refusal> {
    if !query.locks.is_empty() {
        return invalid("locking clauses (FOR UPDATE, FOR SHARE) are not allowed: native queries only read");
    }
    if query.for_clause.is_some() || query.settings.is_some() || query.format_clause.is_some() {
        return invalid("FOR XML/JSON, SETTINGS and FORMAT clauses are not supported: remove them");
    }
    if !query.pipe_operators.is_empty() {
        return invalid("pipe operators (`|>`) are not supported: write a plain SELECT");
    }
    if let Some(sqlparser::ast::LimitClause::LimitOffset { limit_by, .. }) = &query.limit_clause
        && !limit_by.is_empty()
    {
        return invalid("LIMIT … BY is not supported: remove the BY part");
    }
    check_set_expr(&query.body)
}

/// The body of a query: SELECTs, VALUES and set operations over them. Nested queries are
/// checked on their own visit.
fn check_set_expr(body: &SetExpr) -> ControlFlow<Refusal> {
    match body {
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => ControlFlow::Continue(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            invalid("data-modifying statements are not allowed, also not inside WITH: send one SELECT")
        }
        // `TABLE x` carries its name as bare strings without quoting, so it cannot be folded
        // reliably; the SELECT form says the same thing.
        SetExpr::Table(table) => invalid(format!(
            "`TABLE {}` is not supported: write `SELECT * FROM {0}`",
            shown(table.table_name.as_deref().unwrap_or(""))
        )),
    }
}

/// A data type in a cast: built-in types only. Custom type names carry unquoted modifiers and
/// can be lookup types (`regclass`) that probe the catalog.
fn check_data_type(data_type: &DataType) -> ControlFlow<Refusal> {
    match data_type {
        DataType::Custom(..) | DataType::Regclass => forbidden(format!(
            "casting to `{}` is not allowed: cast to a built-in type such as TEXT, INTEGER, NUMERIC or DATE",
            shown(data_type)
        )),
        _ => ControlFlow::Continue(()),
    }
}

/// Literals: numbers, plain strings, booleans, NULL and hex. String contents must not depend
/// on a database's escaping mode, so backslashes are refused: MySQL reads `\'` as a quote
/// unless NO_BACKSLASH_ESCAPES is set, PostgreSQL and SQLite never do.
fn check_value(value: &Value) -> ControlFlow<Refusal> {
    match value {
        Value::Number(..) | Value::Boolean(_) | Value::Null => ControlFlow::Continue(()),
        Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => {
            if text.contains('\\') {
                invalid("backslashes are not accepted in string literals: databases disagree on what they mean")
            } else if text.contains('\0') {
                invalid("NUL characters are not accepted in string literals")
            } else {
                ControlFlow::Continue(())
            }
        }
        Value::HexStringLiteral(hex) if hex.chars().all(|c| c.is_ascii_hexdigit()) => ControlFlow::Continue(()),
        Value::Placeholder(p) => {
            invalid(format!("placeholders such as `{}` are not accepted: write the value into the query", shown(p)))
        }
        other => invalid(format!(
            "the literal `{}` is not accepted: use numbers and plain 'single-quoted' strings",
            shown(other)
        )),
    }
}

/// Identifiers: no session or system variables (`@x`, `@@version`, MySQL's `$1`), and quoted
/// names only with characters that quote the same way in every database.
fn check_ident(ident: &Ident) -> ControlFlow<Refusal> {
    match ident.quote_style {
        None if ident.value.starts_with(['@', '$', ':', '?']) => forbidden(format!(
            "`{}` is a variable or placeholder: native queries may only read the allowed tables",
            shown(&ident.value)
        )),
        Some(_) if ident.value.chars().any(|c| matches!(c, '"' | '`' | '\'' | '\\' | '[' | ']') || c.is_control()) => {
            invalid(format!(
                "the quoted name `{}` contains quotes, backslashes or control characters: rename or drop the quotes",
                shown(&ident.value)
            ))
        }
        _ => ControlFlow::Continue(()),
    }
}

impl Visitor for Checker<'_> {
    type Break = Refusal;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            _ => invalid("only a single SELECT is accepted"),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        self.enter_cte_body(query);
        check_query_clauses(query)?;
        self.push_scope(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        // First end this query's own WITH, then tell the enclosing WITH a body is done.
        if self.scopes.last().is_some_and(|scope| std::ptr::eq(scope.owner, query)) {
            self.scopes.pop();
        }
        self.leave_cte_body(query);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Refusal> {
        if select.into.is_some() {
            return invalid("SELECT … INTO is not allowed: native queries only read");
        }
        if !select.optimizer_hints.is_empty() {
            return invalid("optimizer hints are not accepted: remove the /*+ … */ comment");
        }
        if select.select_modifiers.is_some() {
            return invalid("MySQL SELECT modifiers (HIGH_PRIORITY, SQL_NO_CACHE, …) are not accepted: remove them");
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Refusal> {
        match factor {
            TableFactor::Table { name, args, with_hints, version, json_path, .. } => {
                if !with_hints.is_empty() || version.is_some() || json_path.is_some() {
                    return invalid(format!(
                        "table hints, time travel and JSON paths on `{}` are not supported: name the table alone",
                        shown(name)
                    ));
                }
                // `FROM f(…)` is a table function, not a table.
                if args.is_some() { self.check_function(name) } else { self.check_relation(name) }
            }
            // Subqueries and parenthesised joins are checked part by part.
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            TableFactor::Function { name, .. } => self.check_function(name),
            TableFactor::UNNEST { .. } => self.check_keyword_table_function("unnest"),
            TableFactor::JsonTable { .. } => self.check_keyword_table_function("json_table"),
            TableFactor::OpenJsonTable { .. } => self.check_keyword_table_function("openjson"),
            TableFactor::XmlTable { .. } => self.check_keyword_table_function("xmltable"),
            _ => forbidden(format!(
                "`{}` is not supported in FROM: read from the allowed tables ({})",
                shown(factor),
                self.allowed.tables_listed()
            )),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(function) => self.check_function(&function.name),
            Expr::Identifier(ident) => match self.allowed.bare_word_function(ident) {
                Some(name) => self.check_function(&ObjectName::from(vec![Ident::new(name)])),
                None => ControlFlow::Continue(()),
            },
            Expr::Cast { data_type, .. } => check_data_type(data_type),
            Expr::Convert { data_type: Some(data_type), .. } => check_data_type(data_type),
            Expr::TypedString(typed) => check_data_type(&typed.data_type),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<Refusal> {
        check_value(&value.value)
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<Refusal> {
        check_ident(ident)
    }
}
